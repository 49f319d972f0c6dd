// Layer: tests of the .hmm language front end (lexer, parser, checker).
// Imports only src/hmm/lang and node/mocha.

import * as assert from 'node:assert/strict';
import type { Diagnostic, Expr, Stmt, StmtKind } from '../src/hmm/lang/ast';
import { SNAPSHOT_FLAG_VALUES } from '../src/hmm/lang/ast';
import { checkScript } from '../src/hmm/lang/checker';
import { lex } from '../src/hmm/lang/lexer';
import * as fc from 'fast-check';
import { parseScript } from '../src/hmm/lang/parser';

const fmt = (d: Diagnostic): string => `${d.line}:${d.col}: ${d.message}`;

/** Parses text that must be free of problems. */
function parseOk(text: string): Stmt[] {
  const { script, diagnostics } = parseScript('t.hmm', text);
  assert.deepEqual(diagnostics.map(fmt), []);
  return script.body;
}

/** The only statement of a one-line script, of the given kind. */
function one<K extends StmtKind>(text: string, kind: K): Extract<Stmt, { kind: K }> {
  const body = parseOk(text);
  const s = body[body.length - 1];
  assert.equal(s.kind, kind);
  return s as Extract<Stmt, { kind: K }>;
}

function parseErrors(text: string): string[] {
  return parseScript('t.hmm', text).diagnostics.map(fmt);
}

/** Checker diagnostics of a script that parses cleanly. */
function checkErrors(text: string): string[] {
  const { script, diagnostics } = parseScript('t.hmm', text);
  assert.deepEqual(diagnostics.map(fmt), [], 'the script should parse');
  return checkScript(script).map(fmt);
}

/** An expression with every binary operation parenthesised, to read precedence off. */
function show(e: Expr): string {
  switch (e.kind) {
    case 'num': return String(e.value);
    case 'wordIndex': return 'i';
    case 'var': return e.name;
    case 'neg': return `(-${show(e.operand)})`;
    case 'binary': return `(${show(e.left)} ${e.op} ${show(e.right)})`;
  }
}

const pattern = (p: string): string => show(one(`device g\na = mmap 1 page rw\nwrite a = ${p}`, 'write').pattern);

describe('lang: lexer', () => {
  it('gives 1-based line and column, skipping blank and comment lines', () => {
    const { lines, diagnostics } = lex('t.hmm', '# comment\n\n  read a[2..6]  # trailing\n');
    assert.deepEqual(diagnostics, []);
    assert.equal(lines.length, 1);
    const toks = lines[0].tokens.map((t) => `${t.kind}:${t.text}@${t.line}:${t.col}`);
    assert.deepEqual(toks, [
      'name:read@3:3', 'name:a@3:8', 'op:[@3:9', 'number:2@3:10', 'op:..@3:11', 'number:6@3:13', 'op:]@3:14', 'eol:@3:15',
    ]);
  });

  it('lexes hyphenated keywords as one word, but not a subtraction', () => {
    const words = (s: string): string[] => lex('t', s).lines[0].tokens.filter((t) => t.kind !== 'eol').map((t) => t.text);
    assert.deepEqual(words('gpu0 check-exclusive a'), ['gpu0', 'check-exclusive', 'a']);
    assert.deepEqual(words('gpu0 fail-next-alloc'), ['gpu0', 'fail-next-alloc']);
    assert.deepEqual(words('advise a accessed-by gpu0'), ['advise', 'a', 'accessed-by', 'gpu0']);
    assert.deepEqual(words('advise a read-mostly'), ['advise', 'a', 'read-mostly']);
    assert.deepEqual(words('write a = k-1'), ['write', 'a', '=', 'k', '-', '1']);
    assert.deepEqual(words('write a = read-mostlyx'), ['write', 'a', '=', 'read', '-', 'mostlyx']);
    assert.deepEqual(words('a -> EFAULT <<>>'), ['a', '->', 'EFAULT', '<<', '>>']);
  });

  it('reads decimal and hex numbers with _ separators', () => {
    const nums = lex('t', '1_024 0x1000 0xdead_BEEF 007').lines[0].tokens.flatMap((t) => (t.kind === 'number' ? [t.value] : []));
    assert.deepEqual(nums, [1024, 0x1000, 0xdeadbeef, 7]);
  });

  it('decodes strings and keeps # inside them', () => {
    const t = lex('t', 'print "a # b \\"q\\""').lines[0].tokens[1];
    assert.equal(t.kind, 'string');
    assert.equal(t.kind === 'string' ? t.value : '', 'a # b "q"');
  });

  it('reports bad characters, numbers and strings with their column', () => {
    assert.deepEqual(parseErrors('read a $\nx = 1__0\ny = 0x\nprint "open\nz = 3_'), [
      "1:8: unexpected character '$'",
      "2:5: malformed number '1__0': '_' may only stand between digits",
      "3:5: malformed number '0x': expected hex digits after '0x'",
      '4:7: unterminated string: missing closing \'"\'',
      "5:5: malformed number '3_': '_' may only stand between digits",
    ]);
  });
});

describe('lang: parser statements', () => {
  it('device with options in any order, and the defaults', () => {
    const d = one('device gpu1 memory 64 MiB link pcie3 policy mirror coherent', 'device');
    assert.equal(d.name, 'gpu1');
    assert.deepEqual(d.nameLoc, { line: 1, col: 8 });
    assert.equal(d.memoryKind, 'coherent');
    assert.equal(d.memoryPages, 64 * 256);
    assert.equal(d.link, 'pcie3');
    assert.deepEqual(d.linkLoc, { line: 1, col: 32 });
    assert.equal(d.policy, 'mirror');
    const plain = one('device gpu0', 'device');
    assert.equal(plain.memoryKind, 'private');
    assert.equal(plain.memoryPages, undefined);
    assert.equal(plain.policy, undefined);
    assert.equal(one('device g private policy migrate', 'device').policy, 'migrate');
  });

  it('file with and without initial contents', () => {
    const f = one('file data 16 pages = i', 'file');
    assert.equal(f.name, 'data');
    assert.equal(f.pages, 16);
    assert.equal(f.init?.kind, 'wordIndex');
    assert.equal(one('file z 8 KiB', 'file').init, undefined);
  });

  it('mmap of anonymous memory and of a file', () => {
    const a = one('a = mmap 1024 pages rw', 'mmap');
    assert.deepEqual(a, { kind: 'mmap', name: 'a', source: { kind: 'anon', pages: 1024 }, prot: 'rw', shared: false, huge: false, hugetlb: false, loc: { line: 1, col: 1 } });
    const s = one('s = mmap 16 pages rw shared', 'mmap');
    assert.equal(s.shared, true);
    const r = one('r = mmap 2 MiB r huge', 'mmap');
    assert.deepEqual([r.source, r.prot, r.huge], [{ kind: 'anon', pages: 512 }, 'r', true]);
    const f = one('file data 4 pages\nf = mmap data none huge private', 'mmap');
    assert.deepEqual(f.source, { kind: 'file', file: 'data', loc: { line: 2, col: 10 } });
    assert.deepEqual([f.prot, f.shared, f.huge], ['none', false, true]);
  });

  it('CPU statements', () => {
    assert.equal(one('read a[3]', 'read').range.single, true);
    const w = one('write a[2..] = i', 'write');
    assert.equal(w.range.start?.kind, 'num');
    assert.equal(w.range.end, undefined);
    assert.equal(w.pattern.kind, 'wordIndex');
    assert.equal(one('munmap a[1]', 'munmap').range.mapping, 'a');
    assert.equal(one('mprotect a[2..4] none', 'mprotect').prot, 'none');
    for (const adv of ['dontneed', 'free', 'hugepage', 'nohugepage', 'collapse'] as const) {
      assert.equal(one(`madvise a ${adv}`, 'madvise').advice, adv);
    }
    assert.equal(one('pin a longterm', 'pin').longterm, true);
    assert.equal(one('pin a', 'pin').longterm, false);
    assert.equal(one('unpin a', 'unpin').range.mapping, 'a');
    assert.equal(one('compute 3 us', 'compute').ns, 3000);
  });

  it('ranges: whole, single page, half-open, open ends', () => {
    const r = (s: string) => one(`read ${s}`, 'read').range;
    const whole = r('a');
    assert.deepEqual(whole, { mapping: 'a', mappingLoc: { line: 1, col: 6 }, single: false, loc: { line: 1, col: 6 } });
    const b = r('a[2..6]');
    assert.deepEqual([b.start && show(b.start), b.end && show(b.end), b.single], ['2', '6', false]);
    const c = r('a[512..]');
    assert.deepEqual([c.start && show(c.start), c.end, c.single], ['512', undefined, false]);
    const d = r('a[..4]');
    assert.deepEqual([d.start, d.end && show(d.end), d.single], [undefined, '4', false]);
    const e = r('a[k * 2 .. k*2+2]');
    assert.deepEqual([e.start && show(e.start), e.end && show(e.end)], ['(k * 2)', '((k * 2) + 2)']);
  });

  it('device operations, with and without -> ERRNO', () => {
    const rd = one('gpu0 read a', 'devRead');
    assert.deepEqual([rd.device, rd.deviceLoc, rd.range.mapping, rd.expectErrno], ['gpu0', { line: 1, col: 1 }, 'a', undefined]);
    assert.equal(one('gpu0 read a -> EFAULT', 'devRead').expectErrno, 'EFAULT');
    const wr = one('gpu0 write a = -i -> EPERM', 'devWrite');
    assert.deepEqual([show(wr.pattern), wr.expectErrno], ['(-i)', 'EPERM']);
    assert.equal(one('gpu0 snapshot p', 'snapshot').range.mapping, 'p');
    assert.equal(one('gpu0 exclusive a[0..4]', 'exclusive').device, 'gpu0');
    assert.equal(one('gpu0 check-exclusive a -> EPERM', 'checkExclusive').expectErrno, 'EPERM');
    assert.equal(one('gpu1 release', 'release').device, 'gpu1');
    assert.equal(one('gpu1 fail-next-alloc', 'failNextAlloc').device, 'gpu1');
    assert.equal(one('gpu1 close -> EBUSY', 'close').expectErrno, 'EBUSY');
  });

  it('migrate to a device and to system', () => {
    const m = one('migrate a to gpu0 -> ENOENT', 'migrate');
    assert.deepEqual([m.target, m.expectErrno], [{ kind: 'device', name: 'gpu0', loc: { line: 1, col: 14 } }, 'ENOENT']);
    const s = one('migrate a[..2] to system from gpu1', 'migrate');
    assert.deepEqual([s.target, s.from, s.fromLoc], [{ kind: 'system' }, 'gpu1', { line: 1, col: 31 }]);
    assert.equal(one('migrate a to system', 'migrate').from, undefined);
  });

  it('processes: fork NAME, fork block, as, exit', () => {
    const f = one('fork child', 'fork');
    assert.deepEqual([f.name, f.nameLoc], ['child', { line: 1, col: 6 }]);
    const fb = one('fork {\n  read a\n}', 'forkBlock');
    assert.deepEqual([fb.body.length, fb.body[0].kind, fb.endLoc], [1, 'read', { line: 3, col: 1 }]);
    const as = one('as child {\n  read a\n  write a = 1\n}', 'as');
    assert.deepEqual([as.process, as.processLoc, as.body.length], ['child', { line: 1, col: 4 }, 2]);
    assert.deepEqual(one('exit child', 'exit').processLoc, { line: 1, col: 6 });
  });

  it('expectations on memory and on the mirror', () => {
    assert.equal(show(one('expect a[2..] == i + 1', 'expectData').pattern), '(i + 1)');
    assert.deepEqual(one('expect a is unmapped', 'expectState').state, { kind: 'unmapped' });
    assert.deepEqual(one('expect a is zero', 'expectState').state, { kind: 'zero' });
    assert.deepEqual(one('expect a is system', 'expectState').state, { kind: 'system' });
    assert.deepEqual(one('expect a is system pinned ro shared', 'expectState').state, { kind: 'system', write: 'ro', shared: true, pinned: true });
    assert.deepEqual(one('expect a[1] is device gpu0 rw', 'expectState').state, { kind: 'device', device: 'gpu0', deviceLoc: { line: 1, col: 23 }, write: 'rw' });
    assert.deepEqual(one('expect a is exclusive gpu0', 'expectState').state, { kind: 'exclusive', device: 'gpu0', deviceLoc: { line: 1, col: 23 } });
    const m = one('expect gpu0 maps a[..2] as atomic', 'expectMaps');
    assert.deepEqual([m.device, m.range.mapping, m.mapping], ['gpu0', 'a', 'atomic']);
    assert.equal(one('expect gpu0 used == 4 MiB', 'expectUsed').pages, 1024);
    assert.equal(one('expect gpu0 used == 0 pages', 'expectUsed').pages, 0);
  });

  it('expectations on last', () => {
    assert.equal(one('expect last.rc == EFAULT', 'expectRc').rc, 'EFAULT');
    assert.equal(one('expect last.rc == 0', 'expectRc').rc, 0);
    const c = one('expect last.cpages == 1024', 'expectCounter');
    assert.deepEqual([c.counter, show(c.value)], ['cpages', '1024']);
    assert.equal(one('expect last.faults == 1', 'expectCounter').counter, 'faults');
    const d = one('expect last.data[..2] == 0', 'expectLastData');
    assert.deepEqual([d.index?.start, d.index?.end && show(d.index.end), d.index?.loc], [undefined, '2', { line: 1, col: 17 }]);
    assert.equal(one('expect last.data == i', 'expectLastData').index, undefined);
    const f = one('expect last.flags[5] == DEV_PRIVATE_LOCAL|WRITE', 'expectLastFlags');
    assert.equal(f.flags, SNAPSHOT_FLAG_VALUES.DEV_PRIVATE_LOCAL | SNAPSHOT_FLAG_VALUES.WRITE);
    assert.equal(f.index?.single, true);
    assert.equal(one('expect last.flags == ZERO | READ | 0x4', 'expectLastFlags').flags, 0x15);
    assert.equal(one('expect last.flags[0] == ERROR', 'expectLastFlags').flags, 0xff);
  });

  it('expectations on notifiers and stats', () => {
    const n = one('expect notified gpu0 MIGRATE owner gpu0', 'expectNotified');
    assert.deepEqual([n.event, n.range, n.owner], ['MIGRATE', undefined, { device: 'gpu0', loc: { line: 1, col: 36 } }]);
    const r = one('expect notified gpu0 UNMAP a[2..4] owner none', 'expectNotified');
    assert.deepEqual([r.range?.mapping, r.owner], ['a', null]);
    assert.equal(one('expect notified gpu0 CLEAR', 'expectNotified').owner, undefined);
    assert.equal(one('expect notified gpu0 PROTECTION_VMA a', 'expectNotified').range?.mapping, 'a');
    assert.equal(one('expect not notified gpu1', 'expectNotNotified').device, 'gpu1');
    const s = one('expect stats.gpu0.pages_out >= 1_000', 'expectStats');
    assert.deepEqual([s.counter.owner, s.counter.counter, s.op, s.value, s.valueIsDuration], ['gpu0', 'pages_out', '>=', 1000, false]);
    const c = one('expect stats.cpu.faults != 3', 'expectStats');
    assert.deepEqual([c.counter.owner, c.counter.counter, c.op], ['cpu', 'faults', '!=']);
    const t = one('expect stats.time < 2 ms', 'expectStats');
    assert.deepEqual([t.counter, t.op, t.value, t.valueIsDuration], [{ counter: 'time' }, '<', 2_000_000, true]);
    for (const op of ['==', '!=', '<', '<=', '>', '>='] as const) assert.equal(one(`expect stats.g.evictions ${op} 0`, 'expectStats').op, op);
  });

  it('structure: fn, call, repeat, print', () => {
    const f = one('fn touch {\n  read a\n}', 'fn');
    assert.deepEqual([f.name, f.nameLoc, f.body.length, f.endLoc], ['touch', { line: 1, col: 4 }, 1, { line: 3, col: 1 }]);
    assert.deepEqual(one('call touch', 'call').nameLoc, { line: 1, col: 6 });
    const r = one('repeat 4 as k {\n  write a[k] = k\n}', 'repeat');
    assert.deepEqual([show(r.count), r.var, r.varLoc, r.body.length], ['4', 'k', { line: 1, col: 13 }, 1]);
    assert.equal(one('repeat 2 {\n}', 'repeat').var, undefined);
    assert.deepEqual(one('print "hello # world"', 'print').what, { kind: 'text', text: 'hello # world' });
    assert.equal(one('print a[1]', 'print').what.kind, 'range');
  });

  it('GPU: kernel, launch, wait, advise, prefetch', () => {
    const k = one('kernel saxpy(x, y) {\n  read x\n  write y[0..4] = i * 2\n  atomic y[1]\n  compute 10 us\n}', 'kernel');
    assert.deepEqual(k.params.map((p) => p.name), ['x', 'y']);
    assert.deepEqual(k.body.map((s) => s.kind), ['kread', 'kwrite', 'katomic', 'kcompute']);
    assert.equal(k.body[3].kind === 'kcompute' ? k.body[3].ns : -1, 10_000);
    assert.equal(one('kernel nop() {\n}', 'kernel').params.length, 0);
    const l = one('launch saxpy(a, b[2..]) on gpu0 as j1', 'launch');
    assert.deepEqual([l.kernel, l.args.length, l.device, l.job, l.jobLoc], ['saxpy', 2, 'gpu0', 'j1', { line: 1, col: 36 }]);
    assert.equal(one('launch nop() on gpu0', 'launch').job, undefined);
    assert.deepEqual(one('wait all', 'wait').target, { kind: 'all' });
    assert.deepEqual(one('wait j1', 'wait').target, { kind: 'name', name: 'j1', loc: { line: 1, col: 6 } });
    assert.deepEqual(one('advise a preferred gpu0', 'advise').advice, { kind: 'preferred', target: { kind: 'device', name: 'gpu0', loc: { line: 1, col: 20 } } });
    assert.deepEqual(one('advise a preferred system', 'advise').advice, { kind: 'preferred', target: { kind: 'system' } });
    assert.deepEqual(one('advise a accessed-by gpu1', 'advise').advice, { kind: 'accessed-by', device: 'gpu1', deviceLoc: { line: 1, col: 22 } });
    assert.deepEqual(one('advise a read-mostly', 'advise').advice, { kind: 'read-mostly' });
    assert.deepEqual(one('advise a unset', 'advise').advice, { kind: 'unset' });
    assert.deepEqual(one('prefetch a[..8] to gpu0', 'prefetch').target, { kind: 'device', name: 'gpu0', loc: { line: 1, col: 20 } });
    assert.deepEqual(one('prefetch a to system', 'prefetch').target, { kind: 'system' });
  });
});

describe('lang: sizes, durations and numbers', () => {
  const pages = (size: string): number => {
    const source = one(`a = mmap ${size} rw`, 'mmap').source;
    return source.kind === 'anon' ? source.pages : -1;
  };

  it('converts every size unit to pages', () => {
    assert.equal(pages('1024 pages'), 1024);
    assert.equal(pages('1 page'), 1);
    assert.equal(pages('4096 B'), 1);
    assert.equal(pages('8 KiB'), 2);
    assert.equal(pages('4 MiB'), 1024);
    assert.equal(pages('1 GiB'), 262_144);
    assert.equal(pages('0x10 pages'), 16);
    assert.equal(pages('1_024 pages'), 1024);
  });

  it('converts durations to ns', () => {
    const ns = (d: string): number => one(`compute ${d}`, 'compute').ns;
    assert.deepEqual([ns('7 ns'), ns('3 us'), ns('2 ms'), ns('1 s'), ns('1_500 us')], [7, 3000, 2_000_000, 1_000_000_000, 1_500_000]);
  });

  it('rejects byte sizes that are not whole pages, unknown units and zero sizes', () => {
    assert.deepEqual(parseErrors('a = mmap 5000 B rw\nb = mmap 2 KiB rw\nc = mmap 4 MB rw\nd = mmap 0 pages rw\ncompute 5 min'), [
      '1:10: size 5000 B is not a multiple of the page size (4096 bytes)',
      '2:10: size 2 KiB is not a multiple of the page size (4096 bytes)',
      "3:12: expected a size unit (pages, page, B, KiB, MiB, GiB) after '4', found 'MB'; did you mean 'B'?",
      '4:10: a size must be at least one page',
      "5:11: expected a time unit (ns, us, ms, s) after '5', found 'min'",
    ]);
  });
});

describe('lang: expressions', () => {
  it('follows C precedence: * over + - over << >> over & over ^ over |', () => {
    assert.equal(pattern('1 + 2 * 3'), '(1 + (2 * 3))');
    assert.equal(pattern('1 << 2 + 3'), '(1 << (2 + 3))');
    assert.equal(pattern('i & 1 << 2'), '(i & (1 << 2))');
    assert.equal(pattern('i ^ 1 & 2'), '(i ^ (1 & 2))');
    assert.equal(pattern('i | 1 ^ 2'), '(i | (1 ^ 2))');
    assert.equal(pattern('i | 1 ^ 2 & 3 << 4 + 5 * 6'), '(i | (1 ^ (2 & (3 << (4 + (5 * 6))))))');
    assert.equal(pattern('6 * 5 + 4 << 3 & 2 ^ 1 | i'), '((((((6 * 5) + 4) << 3) & 2) ^ 1) | i)');
  });

  it('is left-associative, with unary minus and parentheses', () => {
    assert.equal(pattern('1 - 2 - 3'), '((1 - 2) - 3)');
    assert.equal(pattern('i >> 2 << 1'), '((i >> 2) << 1)');
    assert.equal(pattern('-i * 2'), '((-i) * 2)');
    assert.equal(pattern('-(i + 1)'), '(-(i + 1))');
    assert.equal(pattern('(1 + 2) * 3'), '((1 + 2) * 3)');
    assert.equal(pattern('- - 1'), '(-(-1))');
    assert.equal(pattern('0xFFFF_FFFF'), String(0xffffffff));
  });

  it('reports a missing operand or parenthesis where it is', () => {
    assert.deepEqual(parseErrors('write a = (i + 1\nwrite a = i +\nwrite a = 0x1_0000_0000'), [
      "1:17: expected ')' to close the '(' at column 11, found end of line",
      "2:14: expected a value (a number, i, a loop variable or '('), found end of line",
      '3:11: number 0x1_0000_0000 does not fit in 32 bits',
    ]);
  });
});

describe('lang: parser diagnostics', () => {
  it('reports every problem of a file, each at its token', () => {
    const text = [
      'device gpu0 coherent memory 64 MiB polcy mirror', // 1
      'a = mmap 16 pages rx', // 2
      'gpu0 reed a', // 3
      'mprotec a r', // 4
      'read a[2..]x', // 5
      'expect a is system rw ro', // 6
      'expect a is empty shared', // 7
      'expect last.flags[0] == ZERO|READY', // 8
      'gpu0 read a -> EFOO', // 9
      'read a -> EFAULT', // 10
      'expect stats.cpu.pages_in == 3', // 11
      'wait', // 12
      'expect last.rc == 1', // 13
      'migrate a to gpu0 from gpu1', // 14
      'a == i', // 15
      'read = mmap 1 page rw', // 16
      'repeat 2 as i {', // 17
      '}', // 18
      'expect a', // 19
      'expect notified gpu0 CLEAR a owner', // 20
      'expect last.size == 3 # typo', // 21
      'madvise a sequential', // 22
      'zz', // 23
    ].join('\n');
    assert.deepEqual(parseErrors(text), [
      "1:36: expected a device option (private, coherent, memory SIZE, link NAME, policy migrate|mirror), found 'polcy'; did you mean 'policy'?",
      "1:42: expected a device option (private, coherent, memory SIZE, link NAME, policy migrate|mirror), found 'mirror'",
      "2:19: expected a protection (none, r, rw), found 'rx'; did you mean 'r'?",
      "3:6: unknown device operation 'reed' after 'gpu0' (expected read, write, snapshot, exclusive, check-exclusive, release, fail-next-alloc, close); did you mean 'read'?",
      "4:1: unknown statement 'mprotec'; did you mean 'mprotect'?",
      "5:12: unexpected 'x' at the end of the statement",
      "6:23: 'ro' and 'rw' exclude each other",
      "7:19: modifiers (ro, rw, shared, pinned) apply only to 'system' and 'device DEV', not to 'empty'",
      "8:30: expected a snapshot flag (ERROR, NONE, READ, WRITE, PMD, PUD, ZERO, DEV_PRIVATE_LOCAL, DEV_PRIVATE_REMOTE, DEV_COHERENT_LOCAL, DEV_COHERENT_REMOTE) or a number, found 'READY'; did you mean 'READ'?",
      '9:16: expected an error name (EFAULT, EPERM, EINVAL, ENOENT, ENOMEM, EBUSY, EOPNOTSUPP), found \'EFOO\'',
      "10:8: '-> ERRNO' may only end a device operation (DEV read/write/snapshot/exclusive/check-exclusive/release/fail-next-alloc/close, migrate) or a system call (mmap, mremap, munmap, mprotect, madvise)",
      "11:18: expected 'faults' after 'stats.cpu.' (the CPU counts only faults), found 'pages_in'",
      "12:5: expected a job, a device or 'all' after 'wait', found end of line",
      "13:19: expected an error name (EFAULT, EPERM, EINVAL, ENOENT, ENOMEM, EBUSY, EOPNOTSUPP) or 0, found '1'",
      "14:19: 'from DEV' only follows 'to system'",
      "15:1: unknown statement 'a': a statement starts with a keyword, a mapping name and '=', or a device name and an operation",
      "16:1: 'read' is a keyword and cannot be a mapping name",
      "17:13: 'i' is the word index in patterns and cannot be a loop variable name",
      "19:9: expected '==' or 'is' after the range, found end of line",
      "20:35: expected a device name or 'none' after 'owner', found end of line",
      "21:13: expected rc, cpages, faults, data or flags after 'last.', found 'size'",
      "22:11: expected an advice (dontneed, free, hugepage, nohugepage, collapse), found 'sequential'",
      "23:1: unknown statement 'zz': a statement starts with a keyword, a mapping name and '=', or a device name and an operation",
    ]);
  });

  it('keeps the statement of a line with a recoverable problem', () => {
    const { script, diagnostics } = parseScript('t.hmm', 'a = mmap 4 pages rx\nread a');
    assert.equal(diagnostics.length, 1);
    assert.deepEqual(script.body.map((s) => s.kind), ['mmap', 'read']);
  });

  it('reports an unclosed block at its opening line', () => {
    assert.deepEqual(parseErrors('device g\nrepeat 2 {\n  read a\n  fork {\n    read a\n  }\n'), [
      "2:10: the 'repeat' block is never closed: expected '}' alone on a line",
    ]);
    assert.deepEqual(parseErrors('fn f {\n  kernel k(p) {\n    read p\n'), [
      "1:6: the body of fn 'f' is never closed: expected '}' alone on a line",
      "2:15: the body of kernel 'k' is never closed: expected '}' alone on a line",
    ]);
  });

  it('reports a stray or crowded }, and a statement after {', () => {
    assert.deepEqual(parseErrors('read a\n}\nfork {\n  read a\n} x\nrepeat 3 { read a\n}'), [
      "2:1: unexpected '}': no block is open here",
      "5:3: '}' must stand alone on its line, found 'x' after it",
      "6:12: unexpected 'read' after '{': the block's statements start on the next line",
    ]);
  });

  it('still parses the block of a rejected header, so its } matches and its lines are checked', () => {
    assert.deepEqual(parseErrors('repeat x y {\n  read a[\n}\nkernel k(p q) {\n  atomic p\n  jump p\n}\nread a'), [
      "1:10: expected '{' or 'as VAR' after the repeat count, found 'y'",
      "2:10: expected a value (a number, i, a loop variable or '('), found end of line",
      "4:12: expected ',' or ')' after a parameter, found 'q'",
      "6:3: a kernel body holds only read, write, atomic and compute, found 'jump'",
    ]);
  });

  it('never throws, and points every diagnostic into the file (property)', () => {
    const words = ['device', 'gpu0', 'a', '=', 'mmap', '4', 'pages', 'rw', 'read', 'write', 'i', '[', ']', '..', '{', '}',
      'expect', 'last', '.', 'data', '==', 'is', 'system', '->', 'EFAULT', 'repeat', 'as', 'k', 'kernel', '(', ')', ',',
      'launch', 'on', 'fork', 'fn', 'call', '"s', '$', '0x', '-', '+', '|', 'ZERO', 'stats', 'time', 'ms', 'notified'];
    const line = fc.array(fc.constantFrom(...words), { maxLength: 8 }).map((ws) => ws.join(' '));
    fc.assert(fc.property(fc.array(line, { maxLength: 12 }), (lines) => {
      const text = lines.join('\n');
      const { script, diagnostics } = parseScript('f.hmm', text);
      const all = [...diagnostics, ...checkScript(script)];
      for (const d of all) {
        assert.ok(d.line >= 1 && d.line <= Math.max(lines.length, 1), fmt(d));
        assert.ok(d.col >= 1 && d.message.length > 0, fmt(d));
      }
    }), { numRuns: 400 });
  });

  it('rejects kernel-only and CPU-only lines in the wrong place', () => {
    assert.deepEqual(parseErrors('atomic a\nkernel k(p) {\n  munmap p\n}'), [
      "1:1: 'atomic' is only allowed in a kernel body",
      "3:3: a kernel body holds only read, write, atomic and compute, found 'munmap'",
    ]);
  });
});

describe('lang: checker', () => {
  const HEAD = 'device gpu0\ndevice gpu1\na = mmap 8 pages rw\n'; // a is bound at 3:1

  it('accepts a well-formed script', () => {
    assert.deepEqual(checkErrors(`${HEAD}
file data 4 pages = i
f = mmap data r shared
fork child
as child {
  read a
}
as main {
  read f[3]
}
fn touch {
  write a[..4] = i
}
call touch
call touch
repeat 3 as k {
  repeat 2 as m {
    write a[k + m] = k * m
  }
}
repeat 2 as k {
  expect a[k] == k
}
kernel inc(p) {
  atomic p[0..2]
}
launch inc(a[2..]) on gpu0 as job1
wait job1
wait gpu1
wait all
gpu0 read a
expect last.data[7] == i
exit child
`), []);
  });

  it('rejects undeclared names, with a hint and at the name', () => {
    assert.deepEqual(checkErrors(`${HEAD}read b\ngpu2 read a\nmigrate a to gpu3\nexpect a is device gpux\ncall nothing\nlaunch k(a) on gpu0\nexpect notified gpu0 CLEAR owner gpu9\nexpect stats.gpu7.faults == 0`), [
      "4:6: 'b' is not declared",
      "5:1: 'gpu2' is not declared; did you mean 'gpu0'?",
      "6:14: 'gpu3' is not declared; did you mean 'gpu0'?",
      "7:20: 'gpux' is not declared; did you mean 'gpu0'?",
      "8:6: 'nothing' is not declared",
      "9:8: 'k' is not declared",
      "10:34: 'gpu9' is not declared; did you mean 'gpu0'?",
      "11:14: 'gpu7' is not declared; did you mean 'gpu0'?",
    ]);
  });

  it('rejects a name used before its binding', () => {
    assert.deepEqual(checkErrors('read b\nb = mmap 1 page rw\ncall f\nfn f {\n}'), [
      "1:6: 'b' is used before it is bound (at line 2)",
      "3:6: 'f' is used before it is bound (at line 4)",
    ]);
  });

  it('rejects a name bound twice anywhere, in one namespace', () => {
    assert.deepEqual(checkErrors(`${HEAD}fork {\n  a = mmap 1 page rw\n}\nfile gpu0 1 page\nfn a {\n}\nfork main\nrepeat 2 {\n  launch k2() on gpu0 as j\n}\nkernel k2() {\n}`), [
      "5:3: 'a' is already bound (a mapping at line 3); a name is bound once for the whole script",
      "7:6: 'gpu0' is already bound (a device at line 1); a name is bound once for the whole script",
      "8:4: 'a' is already bound (a mapping at line 3); a name is bound once for the whole script",
      "10:6: 'main' is already bound (the initial process); a name is bound once for the whole script",
      "12:10: 'k2' is used before it is bound (at line 14)",
    ]);
  });

  it('rejects names of the wrong kind', () => {
    assert.deepEqual(checkErrors(`${HEAD}fn f {\n}\nfile data 1 page\nread gpu0\ngpu0 read gpu1\na read a\ncall a\nas a {\n}\nas gpu0 {\n}\nexit f\nf2 = mmap gpu0 r\nlaunch f() on gpu0\nwait a\nwait data`), [
      "7:6: 'gpu0' is a device, but a mapping is expected here",
      "8:11: 'gpu1' is a device, but a mapping is expected here",
      "9:1: 'a' is a mapping, but a device is expected here",
      "10:6: 'a' is a mapping, but a function (declared with 'fn') is expected here",
      "11:4: 'a' is a mapping, but a process (made by 'fork NAME', or main) is expected here",
      "13:4: 'gpu0' is a device, but a process (made by 'fork NAME', or main) is expected here",
      "15:6: 'f' is a function, but a process (made by 'fork NAME', or main) is expected here",
      "16:11: 'gpu0' is a device, but a file is expected here",
      "17:8: 'f' is a function, but a kernel (declared with 'kernel') is expected here",
      "18:6: 'a' is a mapping, but a job (launch … as JOB) or a device, after 'wait' is expected here",
      "19:6: 'data' is a file, but a job (launch … as JOB) or a device, after 'wait' is expected here",
    ]);
  });

  it('keeps device, file, fn and kernel declarations at the top level', () => {
    assert.deepEqual(checkErrors('repeat 2 {\n  device g\n  file d 1 page\n  fn f {\n  }\n  kernel k() {\n  }\n  m = mmap 1 page rw\n}\nfork {\n  n = mmap 1 page rw\n}'), [
      '2:3: a device declaration stands at the top level only, not inside a block',
      '3:3: a file declaration stands at the top level only, not inside a block',
      '4:3: a fn declaration stands at the top level only, not inside a block',
      '6:3: a kernel declaration stands at the top level only, not inside a block',
    ]);
  });

  it('scopes a loop variable to its repeat', () => {
    assert.deepEqual(checkErrors(`${HEAD}repeat 2 as k {\n  write a[k] = k\n}\nwrite a = k\nread a[k]\nrepeat 2 as k {\n  repeat 2 as k {\n  }\n}\nrepeat 2 as gpu0 {\n}\nwrite a = a + nope\nfn f {\n  write a = k\n}\nread k`), [
      "7:11: 'k' is the loop variable of the repeat at line 4 and is only in scope inside it",
      "8:8: 'k' is the loop variable of the repeat at line 4 and is only in scope inside it",
      "10:15: 'k' is already the loop variable of the enclosing repeat at line 9",
      "13:13: 'gpu0' is already bound (at line 1); a loop variable needs a name of its own",
      "15:11: 'a' is a mapping, not a value (a pattern uses i, numbers and loop variables)",
      "15:15: 'nope' is not declared (a pattern uses i, numbers and loop variables)",
      "17:13: 'k' is the loop variable of the repeat at line 4 and is only in scope inside it",
      "19:6: 'k' is a loop variable, but a mapping is expected here",
    ]);
  });

  it('rejects i where it has no meaning', () => {
    assert.deepEqual(checkErrors(`${HEAD}read a[i]\nrepeat i + 1 {\n}\nexpect last.cpages == i\nexpect last.data[i..] == i`), [
      "4:8: 'i' (the word index) has no meaning in page index",
      "5:8: 'i' (the word index) has no meaning in a repeat count",
      "7:23: 'i' (the word index) has no meaning in an expected cpages count",
      "8:18: 'i' (the word index) has no meaning in data index",
    ]);
  });

  it('rejects bad constant ranges, using the mapping or file size', () => {
    assert.deepEqual(checkErrors(`${HEAD}file data 4 pages\nf = mmap data r\nread a[6..2]\nread a[3..3]\nread a[8]\nread a[2..9]\nread a[8..]\nread f[4]\nread a[1 + 1 .. 2 * 1]\nread a[-1]\nread a[2 * 4 - 1]\nrepeat 9 as k {\n  read a[k]\n}\nrepeat -1 {\n}`), [
      '6:8: empty range: start 6 is not below end 2 (ranges are half-open: [2..6] is pages 2 to 5)',
      '7:8: empty range: start 3 is not below end 3 (ranges are half-open: [2..6] is pages 2 to 5)',
      "8:8: page index 8 is beyond the end of 'a' (8 pages: 0 to 7)",
      "9:11: range end 9 is beyond the end of 'a' (8 pages)",
      "10:8: page index 8 is beyond the end of 'a' (8 pages: 0 to 7)",
      "11:8: page index 4 is beyond the end of 'f' (4 pages: 0 to 3)",
      '12:8: empty range: start 2 is not below end 2 (ranges are half-open: [2..6] is pages 2 to 5)',
      '13:8: page index -1 is negative',
      '18:8: repeat count -1 is negative',
    ]);
  });

  it('checks last.data and last.flags indices against the operation before', () => {
    assert.deepEqual(checkErrors(`${HEAD}gpu0 read a\nexpect last.data[8] == 0\nexpect last.data[2..1] == 0\ngpu0 snapshot a[..4]\nexpect last.flags[..9] == NONE\nexpect last.flags[-2] == NONE\ngpu0 read a -> EFAULT\nexpect last.flags[9] == NONE\ncall f\nexpect last.data[100] == 0\nfn f {\n}`), [
      "5:18: data index 8 is beyond the end of 'a' (read by the device operation before) (8 pages: 0 to 7)",
      '6:18: empty range: start 2 is not below end 1 (ranges are half-open: [2..6] is pages 2 to 5)',
      "8:21: range end 9 is beyond the end of 'a' (read by the device operation before) (8 pages)",
      '9:19: data index -2 is negative',
      "11:19: data index 9 is beyond the end of 'a' (read by the device operation before) (8 pages: 0 to 7)",
      "12:6: 'f' is used before it is bound (at line 14)",
    ]);
  });

  it('checks kernel bodies and launches', () => {
    assert.deepEqual(checkErrors(`${HEAD}kernel k(p, q, p) {\n  read p\n  write a = i\n  write q = p + x\n}\nlaunch k(a, a) on gpu0\nlaunch k(a, a, a, a) on a as j`), [
      "4:16: parameter 'p' is given twice",
      "6:9: 'a' is not a parameter of kernel 'k' (a kernel body uses only its parameters)",
      "7:13: 'p' is a parameter of kernel 'k', not a value",
      "7:17: 'x' is not declared (a pattern uses i, numbers and loop variables)",
      "9:8: kernel 'k' takes 3 parameters (p, q, p), but 2 arguments are given",
      "10:8: kernel 'k' takes 3 parameters (p, q, p), but 4 arguments are given",
      "10:25: 'a' is a mapping, but a device is expected here",
    ]);
  });

  it('rejects recursion but allows a fn called from several places', () => {
    assert.deepEqual(checkErrors('fn f {\n  call f\n}\nfn g {\n  call f\n}\nfn h {\n  repeat 2 {\n    call g\n    call h\n  }\n}\ncall g\ncall g\ncall h'), [
      '2:8: recursive call: f → f (a fn may not call itself, directly or through others)',
      '10:10: recursive call: h → h (a fn may not call itself, directly or through others)',
    ]);
  });
});

describe('lang: representative scripts', () => {
  const scripts: Record<string, string> = {
    // hmm-tests anon_read, as in the shared conformance set
    anon_read: `# the device reads a read-only anonymous buffer
device gpu0
a = mmap 1024 pages rw
write a[2..] = i
mprotect a r
read a[1]
expect a[0] is empty
expect a[1] is zero
gpu0 read a
expect last.cpages == 1024
expect last.faults == 1
expect last.data[..2] == 0
expect last.data[2..] == i
expect a[0] is zero
expect gpu0 maps a as read
`,
    anon_write_child: `device gpu0
a = mmap 1024 pages rw
write a = i
migrate a to gpu0
expect last.cpages == 1024
expect last.data == i
fork {
  read a
  expect a == i
  gpu0 write a = -i
  expect last.cpages == 1024
  expect last.faults == 1
  expect a == -i
}
expect a == i
`,
    snapshot: `device gpu0
device gpu1
p = mmap 7 pages none
munmap p[1]
mprotect p[2] r
read p[2]
mprotect p[3] rw
write p[3] = 3
mprotect p[3] r
mprotect p[4..] rw
write p[4] = 3
migrate p[5] to gpu0
expect last.cpages == 1
migrate p[6] to gpu1
expect last.cpages == 1
gpu0 snapshot p
expect last.cpages == 7
expect last.flags[0] == ERROR
expect last.flags[2] == ZERO|READ
expect last.flags[5] == DEV_PRIVATE_LOCAL|WRITE
expect last.flags[6] == NONE
`,
    gpu: `device gpu0 memory 64 MiB policy migrate
device gpu1 coherent memory 1 GiB link pcie3 policy mirror
file weights 2 MiB = i ^ 0x5a5a
w = mmap weights r private
x = mmap 512 pages rw huge
kernel step(in, out) {
  read in
  write out[0..256] = i * 3
  compute 40 us
}
advise w read-mostly
advise x preferred gpu0
prefetch x to gpu0
repeat 4 as it {
  launch step(w, x) on gpu0 as run
  wait run
  expect x[..256] == i * 3
}
expect stats.gpu0.faults >= 1
expect stats.time < 1 s
gpu0 exclusive x[0..4]
expect notified gpu1 EXCLUSIVE x[0..4] owner gpu0
gpu0 check-exclusive x -> EPERM
`,
  };
  for (const [name, text] of Object.entries(scripts)) {
    it(`${name} parses and checks`, () => {
      const { script, diagnostics } = parseScript(`${name}.hmm`, text);
      assert.deepEqual([...diagnostics, ...checkScript(script)].map(fmt), []);
      assert.ok(script.body.length > 3);
    });
  }
});

describe('language: the kernel version line', () => {
  it('`linux 6.12` and `linux mainline` check; other versions, repeats and blocks do not', () => {
    assert.deepEqual(checkErrors('linux 6.12\ndevice gpu0\n'), []);
    assert.deepEqual(checkErrors('linux mainline\n'), []);
    assert.deepEqual(checkErrors('linux 5.10\n'), ["1:7: unknown kernel version '5.10': one of mainline, 6.12"]);
    assert.deepEqual(checkErrors('linux 6.12\nlinux mainline\n'), ['2:1: the kernel version is given twice (first at line 1)']);
    assert.match(checkErrors('repeat 1 {\n  linux 6.12\n}\n').join('\n'), /a linux declaration stands at the top level only/);
    assert.match(parseErrors('linux\n').join('\n'), /expected a kernel version after 'linux'/);
  });
});
