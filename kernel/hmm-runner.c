// SPDX-License-Identifier: MIT
/*
 * hmm-runner: runs a program of the kernel oracle (docs/kernel-runner.md, protocol 1) inside the
 * VM against test_hmm's /dev/hmm_dmirror* and debugfs' gup_test, and writes the result stream.
 *
 *   hmm-runner [-K] [-t OP_LIMIT_MS] PROGRAM OUTPUT
 *
 * -K: put khugepaged to sleep for good before the first case (see quiet_khugepaged; the VM runs it so).
 *
 * The whole program is parsed and checked first (a malformed program runs nothing). Then, per case,
 * this process is the coordinator: it forks the case's process 0, and every script process is a
 * real process that executes the ops the coordinator sends it over its own pipe and answers on a
 * shared pipe (only one op is ever in flight). Only the coordinator writes OUTPUT, so `at N` is on
 * the wire (out_sync) before op N starts: a kernel oops in op N leaves `at N` without `r N`.
 *
 * Exit status: 0 after `bye`; 2 on a bad command line or program; 3 after `hang N`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "lib/test_hmm_uapi.h"
#include "mm/gup_test.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define PAGE 4096UL
#define WORDS_PER_PAGE (PAGE / 4)
#define MAX_PROCS 16          /* script processes per case */
#define MAX_DEVS 4            /* hmm_dmirror0..3 */
#define MAX_NPAGES (1UL << 17) /* 512 MiB per op: more is a translator bug */
#define MAX_PATTERN 256        /* tokens */
#define MAX_RUNS 64            /* WORDS runs before falling back to a hash */
#define MAX_ID 128
#define MAX_LINE (1 << 16)
#define MAX_PROGRAM (64L << 20)
#define RESULT_MAX (1 << 20)   /* one result line: a snapshot of MAX_NPAGES alternating bytes fits */

/* ---- program ------------------------------------------------------------------------------ */

enum tok { T_I, T_LIT, T_NEG, T_ADD, T_SUB, T_MUL, T_AND, T_OR, T_XOR, T_SHL, T_SHR };
struct pattern {
	int n;
	struct { enum tok t; int32_t v; } tok[];
};

enum kind {
	K_MMAP, K_READ, K_WRITE, K_MUNMAP, K_MPROTECT, K_MADVISE, K_PIN, K_UNPIN, K_PIN_ONCE,
	K_DREAD, K_DWRITE, K_MIGRATE, K_MIGRATE_SYS, K_SNAPSHOT, K_EXCLUSIVE, K_CHECK_EXCLUSIVE,
	K_RELEASE, K_CLOSE, K_FORK, K_EXIT, K_MREMAP,
};

/* What an mremap asks for: a move to NEWADDR (optionally keeping the old range), or a resize. */
enum remap { R_FIXED, R_DONTUNMAP, R_RESIZE, R_MAYMOVE };

struct op {
	long num;
	int line;
	int proc;
	enum kind kind;
	int ndevs;
	int devs[MAX_DEVS * 4];
	uint64_t addr, npages;
	int prot;          /* PROT_* */
	int flags;         /* MAP_* for mmap */
	int file;          /* index in the case's files, -1 for anonymous */
	int mdev;          /* mmap of /dev/hmm_dmirrorD: D, else -1 */
	int huge;
	uint64_t newaddr;  /* mremap */
	uint64_t newpages;
	enum remap remap;
	int advice;
	int32_t base;
	int child;
	struct pattern *pat;
};

struct file {
	char name[65];
	uint64_t npages;
	struct pattern *pat;
};

struct kase {
	char id[MAX_ID + 1];
	struct file *files;
	int nfiles;
	struct op *ops;
	int nops;
};

static struct kase *cases;
static int ncases;

/* ---- output (coordinator only) -------------------------------------------------------------- */

static FILE *out;
static int out_is_tty;

/*
 * Flushes the output and, on a serial port, waits until the UART has sent every byte (QEMU has
 * then written them to its file): a panic would swallow what is still queued. Not tcdrain(): the
 * 8250 driver's wait sleeps in jiffies (10 ms at tinyconfig's HZ), which would dominate every op.
 * Polling the queue and the transmitter-empty bit costs microseconds; bounded at 5 s.
 */
static void out_sync(void)
{
	fflush(out);
	if (!out_is_tty)
		return;
	for (long i = 0; i < 5000000; i++) {
		int queued = 0;
		unsigned int lsr = 0;
		if (ioctl(fileno(out), TIOCOUTQ, &queued) || ioctl(fileno(out), TIOCSERGETLSR, &lsr)) {
			tcdrain(fileno(out));
			return;
		}
		if (queued == 0 && (lsr & TIOCSER_TEMT))
			return;
		if (i % 64 == 63)
			sched_yield();
	}
}

/* ---- parsing ------------------------------------------------------------------------------ */

static int parse_line_no;
static char parse_err[256];

static int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(parse_err, sizeof(parse_err), fmt, ap);
	va_end(ap);
	return -1;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	if (!*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 0);
	if (errno || *end)
		return -1;
	*v = x;
	return 0;
}

static int parse_int(const char *s, long lo, long hi, long *v)
{
	char *end;
	if (!*s)
		return -1;
	errno = 0;
	long x = strtol(s, &end, 10);
	if (errno || *end || x < lo || x > hi)
		return -1;
	*v = x;
	return 0;
}

static int valid_name(const char *s, size_t max, int allow_colon)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return 0;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.' || (allow_colon && c == ':')))
			return 0;
	}
	return 1;
}

/* PATTERN: RPN over the tokens tok[0..ntok-1]; the stack must never underflow and end with one value. */
static struct pattern *parse_pattern(char **tok, int ntok)
{
	struct pattern *p;
	int depth = 0;
	if (ntok < 1 || ntok > MAX_PATTERN) {
		fail("a PATTERN has 1..%d tokens", MAX_PATTERN);
		return NULL;
	}
	p = calloc(1, sizeof(*p) + (size_t)ntok * sizeof(p->tok[0]));
	if (!p) {
		fail("out of memory");
		return NULL;
	}
	for (int i = 0; i < ntok; i++) {
		static const struct { const char *s; enum tok t; } ops[] = {
			{ "+", T_ADD }, { "-", T_SUB }, { "*", T_MUL }, { "&", T_AND }, { "|", T_OR },
			{ "^", T_XOR }, { "<<", T_SHL }, { ">>", T_SHR },
		};
		const char *s = tok[i];
		long v;
		int found = 0;
		if (!strcmp(s, "i")) {
			p->tok[i].t = T_I;
			depth++;
			continue;
		}
		if (!strcmp(s, "neg")) {
			if (depth < 1)
				goto underflow;
			p->tok[i].t = T_NEG;
			continue;
		}
		for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
			if (!strcmp(s, ops[k].s)) {
				if (depth < 2)
					goto underflow;
				p->tok[i].t = ops[k].t;
				depth--;
				found = 1;
			}
		if (found)
			continue;
		if (parse_int(s, INT32_MIN, INT32_MAX, &v)) {
			free(p);
			fail("bad PATTERN token '%s'", s);
			return NULL;
		}
		p->tok[i].t = T_LIT;
		p->tok[i].v = (int32_t)v;
		depth++;
	}
	if (depth != 1) {
		free(p);
		fail("a PATTERN must leave exactly one value (it leaves %d)", depth);
		return NULL;
	}
	p->n = ntok;
	return p;
underflow:
	free(p);
	fail("PATTERN stack underflow");
	return NULL;
}

static uint32_t eval_pattern(const struct pattern *p, uint32_t i)
{
	uint32_t st[MAX_PATTERN];
	int sp = 0;
	for (int k = 0; k < p->n; k++) {
		uint32_t b;
		switch (p->tok[k].t) {
		case T_I: st[sp++] = i; break;
		case T_LIT: st[sp++] = (uint32_t)p->tok[k].v; break;
		case T_NEG: st[sp - 1] = 0u - st[sp - 1]; break;
		default:
			b = st[--sp];
			switch (p->tok[k].t) {
			case T_ADD: st[sp - 1] += b; break;
			case T_SUB: st[sp - 1] -= b; break;
			case T_MUL: st[sp - 1] *= b; break;
			case T_AND: st[sp - 1] &= b; break;
			case T_OR: st[sp - 1] |= b; break;
			case T_XOR: st[sp - 1] ^= b; break;
			case T_SHL: st[sp - 1] <<= (b & 31); break;
			/* Arithmetic shift, written so as not to depend on the compiler's choice. */
			case T_SHR: {
				int32_t a = (int32_t)st[sp - 1];
				unsigned s = b & 31;
				st[sp - 1] = a < 0 ? ~(~(uint32_t)a >> s) : (uint32_t)a >> s;
				break;
			}
			default: break;
			}
		}
	}
	return st[0];
}

static int parse_prot(const char *s, int *prot)
{
	if (!strcmp(s, "none"))
		*prot = PROT_NONE;
	else if (!strcmp(s, "r"))
		*prot = PROT_READ;
	else if (!strcmp(s, "rw"))
		*prot = PROT_READ | PROT_WRITE;
	else
		return fail("PROT is none|r|rw, not '%s'", s);
	return 0;
}

static int parse_range(char **t, struct op *op)
{
	if (parse_u64(t[0], &op->addr) || (op->addr & (PAGE - 1)))
		return fail("ADDR '%s' is not a page-aligned address", t[0]);
	if (parse_u64(t[1], &op->npages) || op->npages == 0 || op->npages > MAX_NPAGES)
		return fail("NPAGES '%s' is not in 1..%lu", t[1], MAX_NPAGES);
	if (op->addr + op->npages * PAGE < op->addr)
		return fail("the range wraps around");
	return 0;
}

/* `write ADDR NPAGES BASE PATTERN…` of the CPU and of a device alike; `usage` names which. */
static int parse_write(char **a, int na, struct op *op, const char *usage)
{
	long v;

	if (na < 4)
		return fail("usage: %s", usage);
	if (parse_range(a, op))
		return -1;
	if (parse_int(a[2], INT32_MIN, INT32_MAX, &v))
		return fail("BASE '%s' is not a 32-bit integer", a[2]);
	op->base = (int32_t)v;
	op->pat = parse_pattern(a + 3, na - 3);
	return op->pat ? 0 : -1;
}

static int find_file(const struct kase *c, const char *name)
{
	for (int i = 0; i < c->nfiles; i++)
		if (!strcmp(c->files[i].name, name))
			return i;
	return -1;
}

static int want(int ntok, int n, const char *usage)
{
	return ntok == n ? 0 : fail("usage: %s", usage);
}

/* Parses `op N P ...` (tok[0] is "op") into op; the case's files are known already. */
static int parse_op(struct kase *c, char **t, int ntok, struct op *op, int *live)
{
	long v;
	memset(op, 0, sizeof(*op));
	op->file = -1;
	op->mdev = -1;
	op->line = parse_line_no;
	if (ntok < 4)
		return fail("usage: op N P WHAT ...");
	if (parse_int(t[1], 0, 2000000000L, &op->num))
		return fail("bad op number '%s'", t[1]);
	if (parse_int(t[2], 0, MAX_PROCS - 1, &v))
		return fail("process '%s' is not in 0..%d", t[2], MAX_PROCS - 1);
	op->proc = (int)v;
	if (live[op->proc] != 1)
		return fail("process %d is not running here", op->proc);
	const char *w = t[3];
	char **a = t + 4;
	int na = ntok - 4;
	if (!strcmp(w, "mmap")) {
		op->kind = K_MMAP;
		if (want(na, 5, "op N P mmap ADDR NPAGES PROT KIND HUGE") || parse_range(a, op) ||
		    parse_prot(a[2], &op->prot))
			return -1;
		const char *k = a[3];
		if (!strcmp(k, "private"))
			op->flags = MAP_PRIVATE | MAP_ANONYMOUS;
		else if (!strcmp(k, "shared"))
			op->flags = MAP_SHARED | MAP_ANONYMOUS;
		else if (!strncmp(k, "file:", 5)) {
			char name[80];
			const char *colon = strrchr(k + 5, ':');
			if (!colon || (size_t)(colon - (k + 5)) >= sizeof(name))
				return fail("KIND file:F:private|shared, not '%s'", k);
			memcpy(name, k + 5, colon - (k + 5));
			name[colon - (k + 5)] = 0;
			if (!strcmp(colon + 1, "private"))
				op->flags = MAP_PRIVATE;
			else if (!strcmp(colon + 1, "shared"))
				op->flags = MAP_SHARED;
			else
				return fail("KIND file:F:private|shared, not '%s'", k);
			op->file = find_file(c, name);
			if (op->file < 0)
				return fail("no file '%s' in this case", name);
		} else if (!strcmp(k, "hugetlb"))
			op->flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB;
		else if (!strncmp(k, "dev:", 4)) {
			char *end;
			long d = strtol(k + 4, &end, 10);
			if (end == k + 4 || d < 0 || d >= MAX_DEVS || *end != ':')
				return fail("KIND dev:D:private|shared with D in 0..%d, not '%s'", MAX_DEVS - 1, k);
			if (!strcmp(end + 1, "private"))
				op->flags = MAP_PRIVATE;
			else if (!strcmp(end + 1, "shared"))
				op->flags = MAP_SHARED;
			else
				return fail("KIND dev:D:private|shared, not '%s'", k);
			op->mdev = (int)d;
		} else
			return fail("KIND is private|shared|hugetlb|file:F:private|file:F:shared|dev:D:private|dev:D:shared, not '%s'", k);
		if (parse_int(a[4], 0, 1, &v))
			return fail("HUGE is 0 or 1, not '%s'", a[4]);
		op->huge = (int)v;
		return 0;
	}
	if (!strcmp(w, "read") || !strcmp(w, "munmap") || !strcmp(w, "pin") || !strcmp(w, "unpin") || !strcmp(w, "pin-once")) {
		op->kind = !strcmp(w, "read") ? K_READ : !strcmp(w, "munmap") ? K_MUNMAP :
			   !strcmp(w, "pin") ? K_PIN : !strcmp(w, "unpin") ? K_UNPIN : K_PIN_ONCE;
		return want(na, 2, "op N P read|munmap|pin|unpin|pin-once ADDR NPAGES") || parse_range(a, op);
	}
	if (!strcmp(w, "mremap")) {
		static const char *const modes[] = { "fixed", "dontunmap", "resize", "maymove" };
		op->kind = K_MREMAP;
		if (want(na, 5, "op N P mremap ADDR NPAGES NEWPAGES MODE NEWADDR") || parse_range(a, op))
			return -1;
		if (parse_u64(a[2], &op->newpages) || op->newpages == 0 || op->newpages > MAX_NPAGES)
			return fail("NEWPAGES '%s' is not in 1..%lu", a[2], MAX_NPAGES);
		for (v = 0; v < 4 && strcmp(a[3], modes[v]); v++)
			;
		if (v == 4)
			return fail("MODE is fixed|dontunmap|resize|maymove, not '%s'", a[3]);
		op->remap = (enum remap)v;
		if (parse_u64(a[4], &op->newaddr) || (op->newaddr & (PAGE - 1)) || op->newaddr + op->newpages * PAGE < op->newaddr)
			return fail("NEWADDR '%s' is not a page-aligned address with room for NEWPAGES", a[4]);
		return 0;
	}
	if (!strcmp(w, "write")) {
		op->kind = K_WRITE;
		return parse_write(a, na, op, "op N P write ADDR NPAGES BASE PATTERN");
	}
	if (!strcmp(w, "mprotect")) {
		op->kind = K_MPROTECT;
		return want(na, 3, "op N P mprotect ADDR NPAGES PROT") || parse_range(a, op) ||
		       parse_prot(a[2], &op->prot);
	}
	if (!strcmp(w, "madvise")) {
		static const struct { const char *s; int a; } adv[] = {
			{ "dontneed", MADV_DONTNEED }, { "free", MADV_FREE }, { "hugepage", MADV_HUGEPAGE },
			{ "nohugepage", MADV_NOHUGEPAGE }, { "collapse", MADV_COLLAPSE },
		};
		op->kind = K_MADVISE;
		if (want(na, 3, "op N P madvise ADDR NPAGES ADVICE") || parse_range(a, op))
			return -1;
		for (size_t k = 0; k < sizeof(adv) / sizeof(adv[0]); k++)
			if (!strcmp(a[2], adv[k].s)) {
				op->advice = adv[k].a;
				return 0;
			}
		return fail("ADVICE is dontneed|free|hugepage|nohugepage|collapse, not '%s'", a[2]);
	}
	if (!strcmp(w, "fork")) {
		op->kind = K_FORK;
		if (want(na, 1, "op N P fork C"))
			return -1;
		if (parse_int(a[0], 0, MAX_PROCS - 1, &v))
			return fail("child '%s' is not in 0..%d", a[0], MAX_PROCS - 1);
		if (live[v])
			return fail("process %ld has run in this case already", v);
		op->child = (int)v;
		live[v] = 1;
		return 0;
	}
	if (!strcmp(w, "exit")) {
		op->kind = K_EXIT;
		live[op->proc] = -1;
		return want(na, 0, "op N P exit");
	}
	if (strcmp(w, "dev"))
		return fail("unknown op '%s'", w);
	/* dev D[,D2...] WHAT ... */
	if (na < 2)
		return fail("usage: op N P dev D WHAT ...");
	char devs[64];
	if (strlen(a[0]) >= sizeof(devs))
		return fail("bad device list '%s'", a[0]);
	strcpy(devs, a[0]);
	for (char *s = strtok(devs, ","); s; s = strtok(NULL, ",")) {
		if (parse_int(s, 0, MAX_DEVS - 1, &v) || op->ndevs == (int)(sizeof(op->devs) / sizeof(op->devs[0])))
			return fail("bad device list '%s' (devices are 0..%d)", a[0], MAX_DEVS - 1);
		op->devs[op->ndevs++] = (int)v;
	}
	w = a[1];
	a += 2;
	na -= 2;
	if (op->ndevs != 1 && strcmp(w, "migrate-sys"))
		return fail("only migrate-sys takes several devices");
	static const struct { const char *s; enum kind k; } dk[] = {
		{ "read", K_DREAD }, { "migrate", K_MIGRATE }, { "migrate-sys", K_MIGRATE_SYS },
		{ "snapshot", K_SNAPSHOT }, { "exclusive", K_EXCLUSIVE }, { "check-exclusive", K_CHECK_EXCLUSIVE },
	};
	for (size_t k = 0; k < sizeof(dk) / sizeof(dk[0]); k++)
		if (!strcmp(w, dk[k].s)) {
			op->kind = dk[k].k;
			return want(na, 2, "op N P dev D read|migrate|migrate-sys|snapshot|exclusive|check-exclusive ADDR NPAGES") ||
			       parse_range(a, op);
		}
	if (!strcmp(w, "write")) {
		op->kind = K_DWRITE;
		return parse_write(a, na, op, "op N P dev D write ADDR NPAGES BASE PATTERN");
	}
	if (!strcmp(w, "release") || !strcmp(w, "close")) {
		op->kind = !strcmp(w, "release") ? K_RELEASE : K_CLOSE;
		return want(na, 0, "op N P dev D release|close");
	}
	return fail("unknown device op '%s'", w);
}

static int split(char *line, char **tok, int max)
{
	int n = 0;
	for (char *s = strtok(line, " \t\r"); s; s = strtok(NULL, " \t\r")) {
		if (n == max)
			return -1;
		tok[n++] = s;
	}
	return n;
}

/* Room for element n of an array of n elements: capacity 8, then doubled at each power of two. */
static void *grow(void *p, int n, size_t size)
{
	if (n != 0 && (n < 8 || (n & (n - 1))))
		return p;
	void *q = realloc(p, (n ? 2 * (size_t)n : 8) * size);
	if (!q) {
		fprintf(stderr, "hmm-runner: out of memory\n");
		exit(2);
	}
	return q;
}

/* Parses the whole program. On error writes `bad N line L: ...` (N the op's number or 0). */
static int parse_program(FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	char *tok[MAX_PATTERN + 16];
	int header = 0, in_case = 0;
	int live[MAX_PROCS];
	struct kase *c = NULL;
	long total = 0;
	while ((len = getline(&line, &cap, f)) >= 0) {
		parse_line_no++;
		total += len;
		parse_err[0] = 0;
		if (len > MAX_LINE || total > MAX_PROGRAM) {
			fail("the program is too long");
			goto bad;
		}
		if (len && line[len - 1] == '\n')
			line[--len] = 0;
		if (line[0] == '#')
			continue;
		int ntok = split(line, tok, sizeof(tok) / sizeof(tok[0]));
		if (ntok < 0) {
			fail("too many tokens");
			goto bad;
		}
		if (ntok == 0)
			continue;
		if (!header) {
			if (ntok != 2 || strcmp(tok[0], "hmm-runner-program") || strcmp(tok[1], "1")) {
				fail("the program must start with 'hmm-runner-program 1'");
				goto bad;
			}
			header = 1;
			continue;
		}
		if (!strcmp(tok[0], "case")) {
			if (in_case) {
				fail("case %s before 'end'", ntok > 1 ? tok[1] : "");
				goto bad;
			}
			if (ntok != 2 || !valid_name(tok[1], MAX_ID, 1)) {
				fail("usage: case ID (ID: letters, digits, _ - . :)");
				goto bad;
			}
			cases = grow(cases, ncases, sizeof(*cases));
			c = &cases[ncases++];
			memset(c, 0, sizeof(*c));
			strcpy(c->id, tok[1]);
			memset(live, 0, sizeof(live));
			live[0] = 1;
			in_case = 1;
			continue;
		}
		if (!in_case) {
			fail("'%s' outside a case", tok[0]);
			goto bad;
		}
		if (!strcmp(tok[0], "end")) {
			if (ntok != 1) {
				fail("usage: end");
				goto bad;
			}
			in_case = 0;
			continue;
		}
		if (!strcmp(tok[0], "file")) {
			uint64_t np;
			if (ntok < 4 || !valid_name(tok[1], 64, 0) || parse_u64(tok[2], &np) || np > MAX_NPAGES) {
				fail("usage: file F NPAGES PATTERN (F: letters, digits, _ - .; NPAGES <= %lu)", MAX_NPAGES);
				goto bad;
			}
			if (find_file(c, tok[1]) >= 0 || c->nops) {
				fail("file %s: files come before the case's ops, once each", tok[1]);
				goto bad;
			}
			c->files = grow(c->files, c->nfiles, sizeof(*c->files));
			struct file *fl = &c->files[c->nfiles++];
			strcpy(fl->name, tok[1]);
			fl->npages = np;
			fl->pat = parse_pattern(tok + 3, ntok - 3);
			if (!fl->pat)
				goto bad;
			continue;
		}
		if (!strcmp(tok[0], "op")) {
			c->ops = grow(c->ops, c->nops, sizeof(*c->ops));
			struct op *op = &c->ops[c->nops++];
			if (parse_op(c, tok, ntok, op, live)) {
				fprintf(out, "bad %ld line %d: %s\n", op->num, parse_line_no, parse_err);
				goto done_bad;
			}
			continue;
		}
		fail("unknown record '%s'", tok[0]);
		goto bad;
	}
	if (!header) {
		fail("empty program");
		goto bad;
	}
	if (in_case) {
		fail("the last case has no 'end'");
		goto bad;
	}
	free(line);
	return 0;
bad:
	fprintf(out, "bad 0 line %d: %s\n", parse_line_no, parse_err);
done_bad:
	free(line);
	return -1;
}

/* ---- results -------------------------------------------------------------------------------- */

struct buf {
	char s[RESULT_MAX];
	size_t n;
	int overflow;
};

static void put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(b->s + b->n, sizeof(b->s) - b->n, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= sizeof(b->s) - b->n)
		b->overflow = 1;
	else
		b->n += (size_t)k;
}

static const char *errname(int e)
{
	static char other[16];
	switch (e) {
	case 0: return "0";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case ENXIO: return "ENXIO";
	case E2BIG: return "E2BIG";
	case EBADF: return "EBADF";
	case ECHILD: return "ECHILD";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENODEV: return "ENODEV";
	case EINVAL: return "EINVAL";
	case ENOSPC: return "ENOSPC";
	case ERANGE: return "ERANGE";
	case ENOSYS: return "ENOSYS";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EOVERFLOW: return "EOVERFLOW";
	case EHWPOISON: return "EHWPOISON";
	default:
		snprintf(other, sizeof(other), "E%d", e);
		return other;
	}
}

/* The end of the greedy arithmetic run of w[] that starts at i (a last lone word is a run of one). */
static size_t run_end(const uint32_t *w, size_t n, size_t i)
{
	size_t j = i + 1;
	if (j < n) {
		uint32_t step = w[j] - w[i];
		while (j + 1 < n && w[j + 1] - w[j] == step)
			j++;
		j++;
	}
	return j;
}

/* WORDS: greedy arithmetic runs START:COUNT:FIRST:STEP, or #COUNT:HASH beyond MAX_RUNS runs. */
static void put_words(struct buf *b, const char *key, const uint32_t *w, size_t n)
{
	size_t runs = 0, i;
	for (i = 0; i < n && runs <= MAX_RUNS; runs++)
		i = run_end(w, n, i);
	put(b, " %s=", key);
	if (runs > MAX_RUNS) {
		uint32_t h = 0x811c9dc5u;
		for (i = 0; i < n; i++)
			for (int k = 0; k < 4; k++) {
				h ^= (w[i] >> (8 * k)) & 0xff;
				h *= 0x01000193u;
			}
		put(b, "#%zu:%08x", n, h);
		return;
	}
	for (i = 0; i < n;) {
		size_t j = run_end(w, n, i);
		put(b, "%s%zu:%zu:%x:%x", i ? "," : "", i, j - i, w[i], j - i > 1 ? w[i + 1] - w[i] : 0);
		i = j;
	}
}

static void put_flags(struct buf *b, const uint8_t *f, size_t n)
{
	put(b, " flags=");
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && f[j] == f[i])
			j++;
		put(b, "%s%zu*%02x", i ? "," : "", j - i, f[i]);
		i = j;
	}
}

/* ---- a script process ------------------------------------------------------------------------ */

static int proc_index;
static int dev_fd[MAX_DEVS] = { -1, -1, -1, -1 };
static int gup_fd = -1;
static int cmd_pipe[MAX_PROCS][2];
static int res_pipe[2];

static sigjmp_buf fault_jmp;
static volatile sig_atomic_t fault_armed;
static volatile sig_atomic_t fault_sig;

static void on_fault(int sig)
{
	if (!fault_armed) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	fault_sig = sig;
	siglongjmp(fault_jmp, 1);
}

struct reply {
	long num;
	pid_t pid;   /* the new child's, for fork */
	int bad;     /* the text is a `bad` message */
	size_t len;
};

static void reply(long num, pid_t pid, int bad, const struct buf *b)
{
	struct reply r = { num, pid, bad, b->n };
	/* One writer at a time (one op in flight): header then text, each written whole. */
	if (write(res_pipe[1], &r, sizeof(r)) != (ssize_t)sizeof(r) ||
	    (b->n && write(res_pipe[1], b->s, b->n) != (ssize_t)b->n))
		_exit(4);
}

static int dev(int d, struct buf *b)
{
	if (dev_fd[d] < 0) {
		char path[32];
		snprintf(path, sizeof(path), "/dev/hmm_dmirror%d", d);
		dev_fd[d] = open(path, O_RDWR | O_CLOEXEC);
		if (dev_fd[d] < 0) {
			put(b, "cannot open %s: %s", path, errname(errno));
			return -1;
		}
	}
	return dev_fd[d];
}

static void *alloc_buffer(uint64_t bytes)
{
	void *p = mmap(NULL, bytes ? bytes : PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void fill(uint32_t *w, size_t n, int32_t base, const struct pattern *p)
{
	for (size_t k = 0; k < n; k++)
		w[k] = eval_pattern(p, (uint32_t)base + (uint32_t)k);
}

static struct buf result, problem;

/* The device op's ioctl with a fresh zeroed buffer; writes rc (and cpages, faults, data or flags). */
static void device_op(const struct op *op, int fd)
{
	static const unsigned long req[] = {
		[K_DREAD] = HMM_DMIRROR_READ, [K_DWRITE] = HMM_DMIRROR_WRITE,
		[K_MIGRATE] = HMM_DMIRROR_MIGRATE_TO_DEV, [K_SNAPSHOT] = HMM_DMIRROR_SNAPSHOT,
		[K_EXCLUSIVE] = HMM_DMIRROR_EXCLUSIVE, [K_CHECK_EXCLUSIVE] = HMM_DMIRROR_CHECK_EXCLUSIVE,
	};
	uint64_t bytes = op->npages * PAGE;
	uint64_t bufbytes = op->kind == K_SNAPSHOT ? (op->npages + PAGE - 1) / PAGE * PAGE : bytes;
	void *buffer = alloc_buffer(bufbytes);
	int rc;
	if (!buffer) {
		put(&problem, "cannot allocate a %lu-byte buffer", (unsigned long)bufbytes);
		return;
	}
	if (op->kind == K_DWRITE)
		fill(buffer, bytes / 4, op->base, op->pat);
	struct hmm_dmirror_cmd cmd = { .addr = op->addr, .ptr = (uintptr_t)buffer, .npages = op->npages };
	rc = ioctl(fd, req[op->kind], &cmd) ? errno : 0;
	put(&result, " rc=%s", errname(rc));
	if (!rc) {
		put(&result, " cpages=%llu faults=%llu", (unsigned long long)cmd.cpages, (unsigned long long)cmd.faults);
		if (op->kind == K_SNAPSHOT)
			put_flags(&result, buffer, op->npages);
		else if (op->kind == K_DREAD || op->kind == K_MIGRATE || op->kind == K_EXCLUSIVE)
			put_words(&result, "data", buffer, bytes / 4);
	}
	munmap(buffer, bufbytes);
}

/* A CPU access to every page of the range, each guarded: a signal stops it at that page. */
static void cpu_access(const struct op *op)
{
	uint32_t *volatile words = NULL;
	volatile uint64_t k = 0;
	if (op->kind == K_READ && !(words = calloc(op->npages, 4))) {
		put(&problem, "out of memory");
		return;
	}
	fault_sig = 0;
	if (sigsetjmp(fault_jmp, 1) == 0) {
		fault_armed = 1;
		for (; k < op->npages; k++) {
			volatile uint32_t *page = (volatile uint32_t *)(uintptr_t)(op->addr + k * PAGE);
			if (op->kind == K_READ)
				words[k] = page[0];
			else
				for (uint32_t j = 0; j < WORDS_PER_PAGE; j++)
					page[j] = eval_pattern(op->pat, (uint32_t)op->base + (uint32_t)k * WORDS_PER_PAGE + j);
		}
	}
	fault_armed = 0;
	put(&result, " rc=0");
	if (op->kind == K_READ && k > 0)
		put_words(&result, "words", words, k);
	if (fault_sig)
		put(&result, " sig=%s@%lu", fault_sig == SIGBUS ? "SIGBUS" : "SIGSEGV", (unsigned long)k);
	free(words);
}

/*
 * mremap: its errno, or 0 when the mapping is where the simulator put it (anywhere else is a
 * problem). `maymove` is the kernel's MREMAP_MAYMOVE path at NEWADDR, the simulator's choice of
 * address: the resize is tried in place first (no MREMAP_MAYMOVE; it fails with ENOMEM, having
 * changed nothing, when it cannot grow in place) and then moved with MREMAP_FIXED, which takes
 * the same move_vma path once NEWADDR is known to be free (MAP_FIXED_NOREPLACE probes it).
 */
static int do_mremap(const struct op *op, void *addr, size_t bytes)
{
	void *to = (void *)(uintptr_t)op->newaddr;
	size_t newbytes = op->newpages * PAGE;
	int f = op->remap == R_FIXED ? MREMAP_MAYMOVE | MREMAP_FIXED :
		op->remap == R_DONTUNMAP ? MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP : 0;
	void *want = f ? to : addr;
	void *q = mremap(addr, bytes, newbytes, f, to);

	if (q == MAP_FAILED && errno == ENOMEM && op->remap == R_MAYMOVE && to != addr) {
		void *p = mmap(to, newbytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (p != to) {
			if (p != MAP_FAILED)
				munmap(p, newbytes);
			put(&problem, "the simulator's address %p for the moved mapping is not free in the VM", to);
			return -1;
		}
		q = mremap(addr, bytes, newbytes, MREMAP_MAYMOVE | MREMAP_FIXED, to);
		want = to;
		if (q == MAP_FAILED)
			munmap(to, newbytes);
	}
	if (q == MAP_FAILED)
		return errno;
	if (q != want) {
		put(&problem, "mremap put the mapping at %p, not %p", q, want);
		return -1;
	}
	return 0;
}

/* Runs one op in this script process and replies, except for `exit` and in a forked child. */
static void run_op(const struct kase *c, const struct op *op)
{
	void *addr = (void *)(uintptr_t)op->addr;
	size_t bytes = op->npages * PAGE;
	pid_t child = 0;
	int rc = -1; /* >= 0: the op's errno, written as rc= below */
	int fd;
	result.n = problem.n = 0;
	result.overflow = problem.overflow = 0;
	put(&result, "r %ld", op->num);
	switch (op->kind) {
	case K_MMAP:
		fd = -1;
		if (op->mdev >= 0 && dev(op->mdev, &problem) < 0)
			break;
		if (op->file >= 0) {
			char path[96];
			snprintf(path, sizeof(path), "/tmp/hmm-%s", c->files[op->file].name);
			fd = open(path, O_RDWR | O_CLOEXEC);
			if (fd < 0) {
				put(&problem, "cannot open %s: %s", path, errname(errno));
				break;
			}
		}
		/* A device file is mapped through this process's handle, which stays open. */
		void *p = mmap(addr, bytes, op->prot, op->flags | MAP_FIXED_NOREPLACE, op->mdev >= 0 ? dev_fd[op->mdev] : fd, 0);
		if (fd >= 0)
			close(fd);
		if (p == MAP_FAILED)
			rc = errno;
		else if (p != addr) {
			munmap(p, bytes);
			put(&problem, "mmap placed the mapping at %p, not %p", p, addr);
		} else
			rc = op->huge && madvise(addr, bytes, MADV_HUGEPAGE) ? errno : 0;
		break;
	case K_READ:
	case K_WRITE:
		cpu_access(op);
		break;
	case K_MUNMAP:
		rc = munmap(addr, bytes) ? errno : 0;
		break;
	case K_MPROTECT:
		rc = mprotect(addr, bytes, op->prot) ? errno : 0;
		break;
	case K_MREMAP:
		rc = do_mremap(op, addr, bytes);
		break;
	case K_MADVISE:
		rc = madvise(addr, bytes, op->advice) ? errno : 0;
		break;
	case K_PIN:
	case K_UNPIN:
	case K_PIN_ONCE:
		if (gup_fd < 0 && (gup_fd = open("/sys/kernel/debug/gup_test", O_RDWR | O_CLOEXEC)) < 0) {
			put(&problem, "cannot open /sys/kernel/debug/gup_test: %s", errname(errno));
			break;
		}
		if (op->kind == K_PIN) {
			struct pin_longterm_test t = { op->addr, bytes, PIN_LONGTERM_TEST_FLAG_USE_WRITE };
			rc = ioctl(gup_fd, PIN_LONGTERM_TEST_START, &t) ? errno : 0;
		} else if (op->kind == K_PIN_ONCE) {
			/*
			 * A short-term pin released at once: PIN_BASIC_TEST (pin_user_pages with
			 * FOLL_WRITE, then unpin_user_pages). It answers how far it got (one page a
			 * call, so a partial pin shows), not why it stopped: a range not pinned whole
			 * is EFAULT here.
			 */
			struct gup_test g = { .addr = op->addr, .size = bytes, .nr_pages_per_call = 1, .gup_flags = 0x01 /* FOLL_WRITE */ };
			rc = ioctl(gup_fd, PIN_BASIC_TEST, &g) ? errno : g.size != bytes ? EFAULT : 0;
		} else
			rc = ioctl(gup_fd, PIN_LONGTERM_TEST_STOP) ? errno : 0;
		break;
	case K_DREAD:
	case K_DWRITE:
	case K_MIGRATE:
	case K_SNAPSHOT:
	case K_EXCLUSIVE:
	case K_CHECK_EXCLUSIVE:
		if ((fd = dev(op->devs[0], &problem)) >= 0)
			device_op(op, fd);
		break;
	case K_MIGRATE_SYS: {
		uint64_t cpages = 0, faults = 0;
		rc = 0;
		for (int i = 0; i < op->ndevs && !rc; i++) {
			if ((fd = dev(op->devs[i], &problem)) < 0)
				break;
			struct hmm_dmirror_cmd cmd = { .addr = op->addr, .npages = op->npages };
			rc = ioctl(fd, HMM_DMIRROR_MIGRATE_TO_SYS, &cmd) ? errno : 0;
			cpages += cmd.cpages;
			faults += cmd.faults;
		}
		if (!rc && !problem.n)
			put(&result, " rc=0 cpages=%llu faults=%llu", (unsigned long long)cpages, (unsigned long long)faults);
		else if (!problem.n)
			put(&result, " rc=%s", errname(rc));
		rc = -1;
		break;
	}
	case K_RELEASE:
		if ((fd = dev(op->devs[0], &problem)) >= 0) {
			/* The driver checks the range even here: one page at 0 passes. */
			struct hmm_dmirror_cmd cmd = { .addr = 0, .npages = 1 };
			rc = ioctl(fd, HMM_DMIRROR_RELEASE, &cmd) ? errno : 0;
		}
		break;
	case K_CLOSE:
		/* Like any operation, close opens the handle first if this process has none. */
		if ((fd = dev(op->devs[0], &problem)) >= 0) {
			rc = close(fd) ? errno : 0;
			dev_fd[op->devs[0]] = -1;
		}
		break;
	case K_FORK: {
		/*
		 * The child closes the handles it inherited before the fork answers: a later close in
		 * the parent must drop the last reference (dmirror_fops_release evicts the device then),
		 * not leave it to the child at a moment of the scheduler's choosing.
		 */
		int sync[2];
		if (pipe2(sync, O_CLOEXEC)) {
			rc = errno;
			break;
		}
		child = fork();
		if (child < 0) {
			rc = errno;
			child = 0;
			close(sync[0]);
			close(sync[1]);
			break;
		}
		if (child == 0) {
			/* The script's child starts with no device handles of its own. */
			for (int d = 0; d < MAX_DEVS; d++)
				if (dev_fd[d] >= 0) {
					close(dev_fd[d]);
					dev_fd[d] = -1;
				}
			if (gup_fd >= 0) {
				close(gup_fd);
				gup_fd = -1;
			}
			close(sync[0]);
			close(sync[1]); /* the parent's read ends */
			proc_index = op->child;
			return;
		}
		close(sync[1]);
		char ch;
		while (read(sync[0], &ch, 1) < 0 && errno == EINTR)
			;
		close(sync[0]);
		rc = 0;
		break;
	}
	case K_EXIT:
		/* The coordinator sees the exit itself (pidfd): no reply. */
		_exit(0);
	}
	if (rc >= 0)
		put(&result, " rc=%s", errname(rc));
	if (result.overflow)
		put(&problem, "the result is longer than %d bytes", RESULT_MAX);
	if (problem.n)
		reply(op->num, 0, 1, &problem);
	else
		reply(op->num, child, 0, &result);
}

/* The loop of a script process: op indices in on its pipe, replies out on the shared pipe. */
static void __attribute__((noreturn)) script_process(const struct kase *c)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fault;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	/* Children of script processes reap themselves; the coordinator watches them by pidfd. */
	signal(SIGCHLD, SIG_IGN);
	/* Only the coordinator writes ops and the output; keeping no write end lets a pipe's EOF end
	 * its process. The read ends of every pipe stay: a forked child takes over its own. */
	for (int p = 0; p < MAX_PROCS; p++)
		close(cmd_pipe[p][1]);
	close(res_pipe[0]);
	close(fileno(out));
	for (;;) {
		int idx;
		ssize_t n = read(cmd_pipe[proc_index][0], &idx, sizeof(idx));
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			_exit(0);
		if (n != (ssize_t)sizeof(idx) || idx < 0 || idx >= c->nops)
			_exit(4);
		run_op(c, &c->ops[idx]);
	}
}

/* ---- the coordinator ------------------------------------------------------------------------- */

static long op_limit_ms = 10000;
static int pidfd[MAX_PROCS];

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* ---- khugepaged ------------------------------------------------------------------------------ */

/*
 * khugepaged collapses PTE-mapped ranges of MADV_HUGEPAGE mappings into THPs in the background,
 * raising MMU_NOTIFY_CLEAR there: a mirror loses the range and the device's next access faults
 * again, at a moment that depends on how long the program has run. The simulator has no such
 * daemon. With -K (init passes it in the VM) the runner sets khugepaged's scan_sleep_millisecs to
 * UINT_MAX, so the scan khugepaged makes when the first mm registers with it (it then has work, and
 * sleeps that long after each scan) is its last; the runner makes that registration itself, from a
 * process of its own holding one PMD-mapped THP (nothing to collapse), and waits for that scan
 * before the first case. MADV_COLLAPSE (synchronous) still works.
 */
#define KHUGEPAGED "/sys/kernel/mm/transparent_hugepage/khugepaged/"

static int khugepaged_write(const char *name, const char *value)
{
	int fd = open(name, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, value, strlen(value));
	close(fd);
	return n == (ssize_t)strlen(value) ? 0 : -1;
}

static int khugepaged_read(const char *name, unsigned long *v)
{
	char text[32];
	int fd = open(name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	text[n] = 0;
	char *end;
	errno = 0;
	*v = strtoul(text, &end, 10);
	return errno || end == text ? -1 : 0;
}

/* 0 once khugepaged has made its one scan; else -1 with the reason in `why`. */
static int quiet_khugepaged(char *why, size_t whylen)
{
	unsigned long scans, now;
	if (khugepaged_write(KHUGEPAGED "scan_sleep_millisecs", "4294967295") || khugepaged_read(KHUGEPAGED "full_scans", &scans)) {
		snprintf(why, whylen, "cannot set " KHUGEPAGED "scan_sleep_millisecs: %s", strerror(errno));
		return -1;
	}
	/* Twice the PMD size: khugepaged_enter_vma takes only a VMA with an aligned 2 MiB in it. */
	size_t len = 4 << 20;
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED || madvise(p, len, MADV_HUGEPAGE))
			_exit(1);
		/* A VMA registers at its first THP fault: without an anon_vma, khugepaged_enter_vma skips it. */
		*(volatile char *)(((uintptr_t)p + (2 << 20) - 1) & ~(uintptr_t)((2 << 20) - 1)) = 1;
		for (long t0 = now_ms(); now_ms() - t0 < 20000;) {
			if (khugepaged_read(KHUGEPAGED "full_scans", &now))
				_exit(1);
			if (now > scans)
				_exit(0);
			usleep(10000);
		}
		_exit(2);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(why, whylen, "khugepaged made no scan of a registered mm within 20 s (status %d)", status);
		return -1;
	}
	return 0;
}

static int read_full(int fd, void *p, size_t n)
{
	char *s = p;
	while (n) {
		ssize_t k = read(fd, s, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		s += k;
		n -= (size_t)k;
	}
	return 0;
}

enum wait_result { W_REPLY, W_EXITED, W_TIMEOUT };

/* Waits for the reply to op `num` from process p, or for p to exit. */
static enum wait_result await(int p, int want_exit, struct reply *r, char *text)
{
	long deadline = now_ms() + op_limit_ms;
	for (;;) {
		/* Waiting for an exit, the reply pipe is not read (and must not wake us up). */
		struct pollfd fds[2] = { { pidfd[p], POLLIN, 0 }, { res_pipe[0], POLLIN, 0 } };
		long left = deadline - now_ms();
		if (left <= 0)
			return W_TIMEOUT;
		int k = poll(fds, want_exit ? 1 : 2, (int)left);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			perror("hmm-runner: poll");
			exit(2);
		}
		/* Reap exited orphans (this process is their subreaper) so they do not pile up. */
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (!want_exit && (fds[1].revents & POLLIN)) {
			if (read_full(res_pipe[0], r, sizeof(*r)) || r->len >= RESULT_MAX ||
			    read_full(res_pipe[0], text, r->len)) {
				fprintf(stderr, "hmm-runner: broken reply pipe\n");
				exit(2);
			}
			text[r->len] = 0;
			return W_REPLY;
		}
		if (fds[0].revents & POLLIN)
			return W_EXITED;
	}
}

static pid_t pids[MAX_PROCS];

static void hang(long num)
{
	fprintf(out, "hang %ld\n", num);
	out_sync();
	/* A process stuck in the kernel stays stuck (init powers the VM off after this exit); one
	 * that is merely slow must not outlive the runner. */
	for (int p = 0; p < MAX_PROCS; p++)
		if (pids[p] > 0)
			kill(pids[p], SIGKILL);
	exit(3);
}

static int start_proc(int p, pid_t pid)
{
	pids[p] = pid;
	pidfd[p] = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd[p] < 0) {
		perror("hmm-runner: pidfd_open");
		return -1;
	}
	return 0;
}

static void stop_proc(int p)
{
	close(pidfd[p]);
	pidfd[p] = -1;
	pids[p] = 0;
}

static int make_files(const struct kase *c)
{
	for (int i = 0; i < c->nfiles; i++) {
		const struct file *f = &c->files[i];
		char path[96];
		snprintf(path, sizeof(path), "/tmp/hmm-%s", f->name);
		uint32_t *w = malloc(PAGE);
		int fd = w ? open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
		if (fd < 0) {
			fprintf(out, "bad 0 cannot create %s: %s\n", path, errname(w ? errno : ENOMEM));
			free(w);
			return -1;
		}
		for (uint64_t pg = 0; pg < f->npages; pg++) {
			fill(w, WORDS_PER_PAGE, (int32_t)(uint32_t)(pg * WORDS_PER_PAGE), f->pat);
			if (write(fd, w, PAGE) != (ssize_t)PAGE) {
				fprintf(out, "bad 0 cannot write %s: %s\n", path, errname(errno));
				close(fd);
				free(w);
				return -1;
			}
		}
		close(fd);
		free(w);
	}
	return 0;
}

static void remove_files(const struct kase *c)
{
	for (int i = 0; i < c->nfiles; i++) {
		char path[96];
		snprintf(path, sizeof(path), "/tmp/hmm-%s", c->files[i].name);
		unlink(path);
	}
}

/* Ends every live process of the case (each exits as if by `exit`). */
static void end_case(const struct kase *c, long last_num)
{
	for (int p = MAX_PROCS - 1; p >= 0; p--) {
		if (!pids[p])
			continue;
		close(cmd_pipe[p][1]);
		cmd_pipe[p][1] = -1;
		if (await(p, 1, NULL, NULL) == W_TIMEOUT)
			hang(last_num);
		stop_proc(p);
	}
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	remove_files(c);
}

static void run_case(const struct kase *c)
{
	static char text[RESULT_MAX + 1];
	fprintf(out, "case %s\n", c->id);
	if (make_files(c)) {
		remove_files(c);
		fprintf(out, "done %s\n", c->id);
		return;
	}
	for (int p = 0; p < MAX_PROCS; p++)
		if (pipe2(cmd_pipe[p], O_CLOEXEC)) {
			perror("hmm-runner: pipe");
			exit(2);
		}
	if (pipe2(res_pipe, O_CLOEXEC)) {
		perror("hmm-runner: pipe");
		exit(2);
	}
	fflush(out);
	pid_t pid = fork();
	if (pid < 0) {
		perror("hmm-runner: fork");
		exit(2);
	}
	if (pid == 0) {
		proc_index = 0;
		script_process(c);
	}
	if (start_proc(0, pid))
		exit(2);
	long last = 0;
	int ok = 1;
	for (int i = 0; i < c->nops && ok; i++) {
		const struct op *op = &c->ops[i];
		struct reply r;
		last = op->num;
		fprintf(out, "at %ld\n", op->num);
		out_sync();
		if (write(cmd_pipe[op->proc][1], &i, sizeof(i)) != (ssize_t)sizeof(i)) {
			fprintf(out, "bad %ld cannot reach process %d\n", op->num, op->proc);
			break;
		}
		switch (await(op->proc, op->kind == K_EXIT, &r, text)) {
		case W_TIMEOUT:
			hang(op->num);
			break;
		case W_EXITED:
			if (op->kind == K_EXIT) {
				fprintf(out, "r %ld rc=0\n", op->num);
				stop_proc(op->proc);
			} else {
				fprintf(out, "bad %ld process %d died\n", op->num, op->proc);
				stop_proc(op->proc);
				ok = 0;
			}
			break;
		case W_REPLY:
			if (r.num != op->num) {
				fprintf(out, "bad %ld reply for op %ld\n", op->num, r.num);
				ok = 0;
			} else if (r.bad) {
				fprintf(out, "bad %ld %s\n", op->num, text);
				ok = 0;
			} else {
				fprintf(out, "%s\n", text);
				if (op->kind == K_FORK && r.pid > 0 && start_proc(op->child, r.pid))
					exit(2);
			}
			break;
		}
	}
	/* The processes' exits can oops too: the last reply must be out before them. */
	out_sync();
	end_case(c, last);
	for (int p = 0; p < MAX_PROCS; p++) {
		close(cmd_pipe[p][0]);
		if (cmd_pipe[p][1] >= 0)
			close(cmd_pipe[p][1]);
	}
	close(res_pipe[0]);
	close(res_pipe[1]);
	fprintf(out, "done %s\n", c->id);
}

int main(int argc, char **argv)
{
	int opt;
	long v;
	int quiet_khugepaged_first = 0;
	while ((opt = getopt(argc, argv, "Kt:")) != -1) {
		if (opt == 't' && !parse_int(optarg, 1, 3600000L, &v))
			op_limit_ms = v;
		else if (opt == 'K')
			quiet_khugepaged_first = 1;
		else
			goto usage;
	}
	if (argc - optind != 2)
		goto usage;
	FILE *prog = fopen(argv[optind], "r");
	struct stat st;
	if (!prog || fstat(fileno(prog), &st)) {
		fprintf(stderr, "hmm-runner: cannot open %s: %s\n", argv[optind], strerror(errno));
		return 2;
	}
	/* getline() would take a line of any length: the file's size bounds them all. */
	if (st.st_size > MAX_PROGRAM) {
		fprintf(stderr, "hmm-runner: %s is larger than %ld bytes\n", argv[optind], MAX_PROGRAM);
		return 2;
	}
	int ofd = open(argv[optind + 1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
	if (ofd < 0 || !(out = fdopen(ofd, "w"))) {
		fprintf(stderr, "hmm-runner: cannot open %s: %s\n", argv[optind + 1], strerror(errno));
		return 2;
	}
	out_is_tty = isatty(ofd);
	if (out_is_tty) {
		struct termios t;
		if (!tcgetattr(ofd, &t)) {
			/* QEMU paces its UART at the baud rate: the fastest standard one. */
			cfmakeraw(&t);
			cfsetspeed(&t, B115200);
			tcsetattr(ofd, TCSANOW, &t);
		}
	}
	setvbuf(out, NULL, _IOFBF, 1 << 16);
	for (int p = 0; p < MAX_PROCS; p++)
		pidfd[p] = -1;
	/* Every op is a round trip coordinator -> process -> coordinator: on one CPU it needs no
	 * cross-CPU wake-up (an IPI, slow under QEMU's TCG). Inherited by the script processes. */
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	sched_setaffinity(0, sizeof(one), &one);
	/* A dead script process's pipe must be an error here, not the end of the runner. */
	signal(SIGPIPE, SIG_IGN);
	/* Orphaned script processes (a parent exited before its child) become ours to reap. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	fprintf(out, "hmm-runner 1\n");
	if (parse_program(prog)) {
		out_sync();
		return 2;
	}
	fclose(prog);
	char why[256];
	if (quiet_khugepaged_first && quiet_khugepaged(why, sizeof(why))) {
		/* A harness problem, not a kernel result: the host stops with this message. */
		fprintf(out, "bad 0 %s\n", why);
		out_sync();
		return 2;
	}
	long t0 = now_ms(), nops = 0;
	for (int i = 0; i < ncases; i++) {
		run_case(&cases[i]);
		nops += cases[i].nops;
	}
	/* For the record (a comment to the host): the runner's own throughput. */
	unsigned long collapsed = 0;
	khugepaged_read(KHUGEPAGED "pages_collapsed", &collapsed);
	fprintf(out, "# hmm-runner: %d cases, %ld ops in %ld ms; khugepaged collapsed %lu pages\n", ncases, nops, now_ms() - t0,
		collapsed);
	fprintf(out, "bye\n");
	out_sync();
	return 0;
usage:
	fprintf(stderr, "usage: hmm-runner [-K] [-t OP_LIMIT_MS] PROGRAM OUTPUT\n");
	return 2;
}
