// Layer: tests of the project's language extensions beyond hmm-script.md v1 (hugetlb mappings,
// mmaps of a device's file, mremap, `-> ERRNO` on system calls): parser, checker, and the
// simulator mechanisms behind them (src/hmm/hugetlb.ts, mixedmap.ts, mremap.ts). The scripts of
// test/kernel/scripts, which `hmm-sim run --kernel` compares with Linux 6.12, must run here too.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Diagnostic, Stmt, StmtKind } from '../src/hmm/lang/ast';
import { formatDiagnostic } from '../src/hmm/lang/ast';
import { checkScript } from '../src/hmm/lang/checker';
import { parseScript } from '../src/hmm/lang/parser';
import { runScriptText } from '../src/hmm/lang/runner';
import { Interpreter } from '../src/hmm/lang/interpreter';
import { Simulator } from '../src/hmm/simulator';
import { DEFAULT_NR_HUGEPAGES } from '../src/hmm/page';
import { translateScript } from '../src/oracle/translate';

const fmt = (d: Diagnostic): string => `${d.line}:${d.col}: ${d.message}`;

function one<K extends StmtKind>(text: string, kind: K): Extract<Stmt, { kind: K }> {
  const { script, diagnostics } = parseScript('t.hmm', text);
  assert.deepEqual(diagnostics.map(fmt), []);
  const s = script.body[script.body.length - 1]!;
  assert.equal(s.kind, kind);
  return s as Extract<Stmt, { kind: K }>;
}

function checkErrors(text: string): string[] {
  const { script, diagnostics } = parseScript('t.hmm', text);
  assert.deepEqual(diagnostics.map(fmt), [], 'the script should parse');
  return checkScript(script).map(fmt);
}

/** Runs a script to its end on a fresh simulator (it must not fail) and returns both. */
function run(text: string): { sim: Simulator; interp: Interpreter } {
  const { script, diagnostics } = parseScript('t.hmm', text);
  assert.deepEqual([...diagnostics, ...checkScript(script)].map(fmt), []);
  const sim = new Simulator();
  const interp = new Interpreter(script, { sim });
  interp.run();
  assert.equal(interp.error?.formatted, undefined);
  return { sim, interp };
}

function runError(text: string): string | undefined {
  return runScriptText('t.hmm', text).error;
}

describe('extensions: parser', () => {
  it('mmap … hugetlb, mmap DEV SIZE, and -> ERRNO after mmap', () => {
    const h = one('h = mmap 2 MiB rw hugetlb -> ENOMEM', 'mmap');
    assert.deepEqual([h.source, h.hugetlb, h.huge, h.expectErrno], [{ kind: 'anon', pages: 512 }, true, false, 'ENOMEM']);
    const d = one('device gpu0\nm = mmap gpu0 1 page rw shared', 'mmap');
    assert.deepEqual([d.source, d.shared], [{ kind: 'deviceFile', device: 'gpu0', loc: { line: 2, col: 10 }, pages: 1 }, true]);
    const f = one('file data 4 pages\nf = mmap data r', 'mmap');
    assert.equal(f.source.kind, 'file');
  });

  it('NEW = mremap RANGE to MAPPING[PAGE] [dontunmap] [-> ERRNO]', () => {
    const m = one('a = mmap 8 pages rw\nn = mremap a[..4] to a[6] dontunmap -> EINVAL', 'mremap');
    assert.equal(m.name, 'n');
    assert.equal(m.range.mapping, 'a');
    assert.equal(m.target?.single, true);
    assert.equal(m.newPages, undefined);
    assert.equal(m.dontUnmap, true);
    assert.equal(m.expectErrno, 'EINVAL');
    assert.equal(one('a = mmap 8 pages rw\nn = mremap a to a', 'mremap').dontUnmap, false);
  });

  it('NEW = mremap RANGE to SIZE [at MAPPING[PAGE]] [maymove] [dontunmap]', () => {
    const grow = one('a = mmap 8 pages rw\nn = mremap a[..4] to 1 MiB maymove', 'mremap');
    assert.deepEqual([grow.newPages, grow.target, grow.mayMove, grow.dontUnmap], [256, undefined, true, false]);
    const shrink = one('a = mmap 8 pages rw\nn = mremap a to 2 pages', 'mremap');
    assert.deepEqual([shrink.newPages, shrink.mayMove], [2, false]);
    const at = one('a = mmap 8 pages rw\nb = mmap 8 pages rw\nn = mremap a[..4] to 6 pages at b[1] -> EINVAL', 'mremap');
    assert.deepEqual([at.newPages, at.target?.mapping, at.expectErrno], [6, 'b', 'EINVAL']);
  });

  it('-> ERRNO after munmap, mprotect and madvise', () => {
    assert.equal(one('a = mmap 8 pages rw\nmunmap a -> EINVAL', 'munmap').expectErrno, 'EINVAL');
    assert.equal(one('a = mmap 8 pages rw\nmprotect a r -> ENOMEM', 'mprotect').expectErrno, 'ENOMEM');
    assert.equal(one('a = mmap 8 pages rw\nmadvise a free -> EINVAL', 'madvise').expectErrno, 'EINVAL');
  });

  it('reports a misspelt option and a stray word after mremap', () => {
    const errs = (t: string): string[] => parseScript('t.hmm', t).diagnostics.map(fmt);
    assert.deepEqual(errs('h = mmap 2 MiB rw hugetbl'), ["1:19: expected 'shared', 'private', 'huge' or 'hugetlb', found 'hugetbl'; did you mean 'hugetlb'?"]);
    assert.deepEqual(errs('a = mmap 8 pages rw\nn = mremap a to a[2] dontunmp'), ["2:22: expected 'dontunmap' or the end of the statement, found 'dontunmp'; did you mean 'dontunmap'?"]);
    assert.deepEqual(errs('a = mmap 8 pages rw\nn = mremap a a[2]'), ["2:14: expected 'to' after the range (NEW = mremap RANGE to MAPPING[PAGE] or NEW = mremap RANGE to SIZE), found 'a'"]);
    assert.deepEqual(errs('a = mmap 8 pages rw\nn = mremap a to 4 pages maymov'), ["2:25: expected 'maymove', 'dontunmap' or the end of the statement, found 'maymov'; did you mean 'maymove'?"]);
    assert.deepEqual(errs('a = mmap 8 pages rw\nn = mremap a to a[2] maymove'), ["2:22: expected 'dontunmap' or the end of the statement, found 'maymove'"]);
    assert.deepEqual(errs('a = mmap 8 pages rw\nn = mremap a to 4 pagez'), ["2:19: expected a size unit (pages, page, B, KiB, MiB, GiB) after '4', found 'pagez'; did you mean 'pages'?"]);
  });
});

describe('extensions: checker', () => {
  it('hugetlb: whole 2 MiB pages, private anonymous memory, not with huge', () => {
    assert.deepEqual(checkErrors('h = mmap 100 pages rw hugetlb'), ['1:23: a hugetlb mapping is a whole number of 2 MiB huge pages (512 pages each), not 100 pages']);
    assert.deepEqual(checkErrors('h = mmap 2 MiB rw shared hugetlb'), ["1:26: 'hugetlb' mappings are private here (a shared one would be a hugetlbfs file, which the language does not model)"]);
    assert.deepEqual(checkErrors('h = mmap 2 MiB rw huge hugetlb'), ["1:24: 'huge' (a THP hint) and 'hugetlb' (hugetlb pages) exclude each other"]);
    assert.deepEqual(checkErrors('file f 512 pages\nh = mmap f rw hugetlb'), ["2:15: 'hugetlb' maps anonymous memory: not a file"]);
  });

  it('mmap DEV SIZE needs a device; -> ERRNO after mmap only with hugetlb', () => {
    assert.deepEqual(checkErrors('file f 4 pages\nm = mmap f 1 page rw'), ["2:10: 'f' is a file: a file mapping takes the file's size (mmap f PROT); a size after the name maps a device's file"]);
    assert.deepEqual(checkErrors('m = mmap gpu9 1 page rw'), ["1:10: 'gpu9' is not declared"]);
    assert.deepEqual(checkErrors('a = mmap 4 pages rw -> ENOMEM'), ["1:1: '-> ENOMEM' after mmap: only a hugetlb mmap can fail here (ENOMEM when the pool has too few free huge pages)"]);
  });

  it('mremap: the target is one page or a mapping; the new name is a mapping of the moved size', () => {
    assert.deepEqual(checkErrors('a = mmap 8 pages rw\nn = mremap a[..2] to a[4..6]'), ["2:22: mremap's target is an address: one page (a[N]) or a mapping's start (a), not a range"]);
    assert.deepEqual(checkErrors('a = mmap 8 pages rw\nn = mremap a[..2] to a[6]\nread n[2]'), ["3:8: page index 2 is beyond the end of 'n' (2 pages: 0 to 1)"]);
    assert.deepEqual(checkErrors('a = mmap 8 pages rw\nn = mremap a[..2] to b[6]'), ["2:22: 'b' is not declared"]);
  });

  it('mremap to a size: the new name has the new size; dontunmap needs an address, maymove none', () => {
    assert.deepEqual(checkErrors('a = mmap 8 pages rw\nn = mremap a[..2] to 12 pages maymove\nread n[11]\nread n[12]'), ["4:8: page index 12 is beyond the end of 'n' (12 pages: 0 to 11)"]);
    assert.deepEqual(checkErrors('a = mmap 8 pages rw\nn = mremap a to 8 pages dontunmap'), ["2:1: 'dontunmap' needs a new address (NEW = mremap RANGE to SIZE at MAPPING[PAGE] dontunmap): MREMAP_DONTUNMAP always moves"]);
    assert.deepEqual(checkErrors('a = mmap 8 pages rw\nn = mremap a to 8 pages at a[2] maymove'), ["2:1: 'maymove' with 'at': a new address already implies MREMAP_MAYMOVE"]);
    assert.deepEqual(checkErrors('a = mmap 8 pages rw\nn = mremap a to 8 pages at a[2..4]'), ["2:28: mremap's target is an address: one page (a[N]) or a mapping's start (a), not a range"]);
  });
});

describe('extensions: simulator', () => {
  it('hugetlb: a read fault maps one zeroed huge page read-only at PMD level; a write reuses it', () => {
    const { sim } = run('h = mmap 2 MiB rw hugetlb\nread h[7]');
    const mm = sim.process('main')!;
    const start = sim.bindings.get('h')!.start;
    const st = sim.pageState(mm, start + 300);
    assert.deepEqual([st.kind, st.writable, st.huge], ['system', false, true]);
    assert.equal(sim.frames.hstate.inUse, 1);
    assert.equal(sim.frames.hstate.resv, 0);
  });

  it('hugetlb: the pool reserves at mmap (ENOMEM past it) and gets every page back at munmap and exit', () => {
    const { sim } = run([
      'h = mmap 4 MiB rw hugetlb', 'write h[..1] = 1', `g = mmap ${(DEFAULT_NR_HUGEPAGES - 1) * 2} MiB rw hugetlb -> ENOMEM`,
      `g2 = mmap ${(DEFAULT_NR_HUGEPAGES - 2) * 2} MiB rw hugetlb`,
    ].join('\n'));
    // h: 1 allocated + 1 reserved; g2: 6 reserved; the failed g reserved nothing.
    assert.equal(sim.frames.hstate.inUse, 1);
    assert.equal(sim.frames.hstate.resv, DEFAULT_NR_HUGEPAGES - 1);
    const after = run('h = mmap 4 MiB rw hugetlb\nwrite h = 1\nfork c\nas c {\n  write h[1] = 2\n}\nexit c\nmunmap h').sim;
    assert.deepEqual([after.frames.hstate.inUse, after.frames.hstate.resv], [0, 0]);
  });

  it('hugetlb: a forked child without a free huge page takes SIGBUS on its copy-on-write', () => {
    const err = runError(`h = mmap 2 MiB rw hugetlb\nwrite h = 1\ng = mmap ${(DEFAULT_NR_HUGEPAGES - 1) * 2} MiB rw hugetlb\nfork c\nas c {\n  write h[3] = 2\n}`);
    assert.equal(err, 't.hmm:6:9: SIGBUS: write of h[3] (no free huge page in the pool)');
  });

  it("the device file: zeroed driver pages, read-only when private, copied on write, SIGBUS in a hole", () => {
    const { sim } = run('device gpu0\nm = mmap gpu0 2 pages rw\nwrite m[1] = 5\nmadvise m[0] dontneed');
    const mm = sim.process('main')!;
    const start = sim.bindings.get('m')!.start;
    assert.equal(sim.pageState(mm, start).kind, 'empty');
    assert.deepEqual([sim.pageState(mm, start + 1).kind, sim.pageState(mm, start + 1).writable], ['system', true]);
    assert.equal(runError('device gpu0\nm = mmap gpu0 2 pages rw\nmadvise m dontneed\nread m'),
      "t.hmm:4:6: SIGBUS: read of m[0] (a hole in a device file's mapping: it has no fault handler)");
    assert.equal(runError('device gpu0\nm = mmap gpu0 2 pages rw\ngpu0 close'),
      "t.hmm:3:1: gpu0 close while main maps gpu0's file (m): the file stays open until it is unmapped, which the simulator does not model; munmap it first");
  });

  it('mremap moves device-private entries, the data and the binding; the old range is unmapped or, with dontunmap, empty', () => {
    const { sim } = run([
      'device gpu0', 'a = mmap 16 pages rw', 'write a = i', 'migrate a[..8] to gpu0',
      'n = mremap a[..8] to a[8]', 'expect n is device gpu0', 'expect a[..8] is unmapped',
      'b = mmap 8 pages rw', 'write b = 3', 'o = mremap b to a[0] dontunmap', 'expect b is empty', 'expect o == 3',
      'read n', 'expect n == i',
    ].join('\n'));
    assert.deepEqual(sim.bindings.get('n')!.start, sim.bindings.get('a')!.start + 8);
  });

  it('mremap: the checks in the kernel order, and MREMAP_FIXED unmapping the target first', () => {
    assert.equal(runError('a = mmap 8 pages rw\nn = mremap a[..4] to a[2]'), 't.hmm:2:1: mremap a[0..4] to a[2] failed with EINVAL');
    // 6.12: one VMA only; the target was unmapped before the range was found to span a hole.
    const { sim } = run('linux 6.12\na = mmap 8 pages rw\nmunmap a[6]\nb = mmap 8 pages rw\nwrite b = 1\nn = mremap a[4..] to b[0] -> EFAULT\nexpect b[..4] is unmapped\nexpect b[4..] == 1');
    assert.ok(sim.bindings.has('n'));
    // Mainline (remap_move): both VMAs move, the one-page gap between them kept.
    run('a = mmap 8 pages rw\nwrite a = i\nmunmap a[6]\nb = mmap 8 pages rw\nn = mremap a[4..] to b[0]\nexpect n[..2] == 4 * 1024 + i\nexpect n[2] is empty\nexpect n[3] == 7 * 1024 + i - 3 * 1024\nexpect a[4..] is unmapped');
    assert.equal(runError('h = mmap 4 MiB rw hugetlb\nn = mremap h[..512] to h[512] dontunmap'), 't.hmm:2:1: mremap h[0..512] to h[512] dontunmap failed with EINVAL');
  });

  it('mremap to a size: shrink in place, grow in place, ENOMEM or a move with maymove; the binding follows', () => {
    const { sim } = run([
      'a = mmap 8 pages rw', 'write a = i', 'n = mremap a to 3 pages', 'expect n == i', 'expect a[3..] is unmapped',
      'b = mmap 4 pages rw', 'c = mmap 4 pages rw', 'write b = 7', 'o = mremap b to 6 pages -> ENOMEM',
      'p = mremap b to 6 pages maymove', 'expect p[..4] == 7', 'expect p[4..] is empty', 'expect b is unmapped',
      'q = mremap c to 5 pages', 'expect q[4] is empty',
    ].join('\n'));
    const at = (name: string): { start: number; pages: number } => sim.bindings.get(name)!;
    assert.deepEqual([at('n').start, at('n').pages], [at('a').start, 3]);
    assert.deepEqual([at('o').start, at('o').pages], [at('b').start, 4], 'a failed resize names the old range');
    assert.notEqual(at('p').start, at('b').start);
    assert.deepEqual([at('q').start, at('q').pages], [at('c').start, 5], 'c had a free page after it: grown in place');
    const mm = sim.process('main')!;
    assert.equal(mm.vmas.find(at('q').start)!.end, at('q').start + 5);
  });

  it('mremap grows a VMA in place into a hole and merges it with the compatible VMA after it', () => {
    const { sim } = run('a = mmap 8 pages rw\nmunmap a[4..6]\nn = mremap a[..4] to 6 pages');
    const v = sim.process('main')!.vmas.find(sim.bindings.get('a')!.start)!;
    assert.equal(v.end - v.start, 8);
  });

  it('mremap to a size: EFAULT across VMAs, no hugetlb growth, SIGBUS past the end of a file', () => {
    assert.equal(runError('a = mmap 8 pages rw\nmprotect a[2..4] r\nn = mremap a[..4] to 6 pages maymove'), 't.hmm:3:1: mremap a[0..4] to 6 pages maymove failed with EFAULT');
    // A shrink only unmaps the tail, across VMAs too.
    run('a = mmap 8 pages rw\nmprotect a[2..4] r\nn = mremap a to 1 page\nexpect a[1..] is unmapped');
    assert.equal(runError('h = mmap 2 MiB rw hugetlb\nn = mremap h to 4 MiB maymove'), 't.hmm:2:1: mremap h to 1024 pages maymove failed with EINVAL');
    // Lengths align up to huge pages: 3 pages to 2 is no change; 1024 to 2 unmaps the second huge page.
    run('h = mmap 4 MiB rw hugetlb\nwrite h[1] = 3\nn = mremap h[..3] to 2 pages\nexpect h[512] is empty\no = mremap h to 2 pages\nexpect o[1] == 3\nexpect h[512] is unmapped');
    assert.equal(runError('file f 2 pages\nm = mmap f r\nn = mremap m to 3 pages maymove\nread n[1]\nread n[2]'),
      't.hmm:5:6: SIGBUS: read of n[2] (beyond the end of the file)');
  });

  it('mremap to a size at an address: 6.12 unmaps the target before the EFAULT, mainline checks first', () => {
    const text = 'a = mmap 8 pages rw\nmprotect a[2..4] r\nb = mmap 8 pages rw\nwrite b = 1\nn = mremap a[..4] to 6 pages at b[0] -> EFAULT\n';
    run(`linux 6.12\n${text}expect b[..6] is unmapped\nexpect b[6..] == 1`);
    run(`${text}expect b == 1`);
    // A shrink to an address unmaps the tail, then moves the rest.
    run('a = mmap 8 pages rw\nwrite a = i\nb = mmap 8 pages rw\nn = mremap a to 3 pages at b[2]\nexpect n == i\nexpect a is unmapped\nexpect b[..2] == 0');
  });

  it('6.12 never merges a range with an anon_vma into a neighbour without one; mainline does', () => {
    // m[..4] gets an anon_vma while m[4..] is read-only; both end up rw with VM_ACCOUNT (which
    // mprotect drops only from an anonymous range without an anon_vma), and the last mprotect
    // changes the range with the anon_vma next to the one without.
    const text = 'm = mmap 8 pages rw\nmprotect m[4..] r\nwrite m[..2] = 1\nmprotect m[..4] r\nmprotect m[4..] rw\nmprotect m[..4] rw';
    assert.equal(run(`linux 6.12\n${text}`).sim.process('main')!.vmas.list.length, 2);
    assert.equal(run(text).sim.process('main')!.vmas.list.length, 1);
  });

  it('translates the new statements into runner ops', () => {
    const t = translateScript('t.hmm', [
      'device gpu0', 'h = mmap 2 MiB rw hugetlb', 'm = mmap gpu0 1 page rw shared', 'a = mmap 8 pages rw',
      'n = mremap a[..4] to a[4] dontunmap', 'o = mremap a[4..] to 2 pages', 'p = mremap a[4..6] to 3 pages at a[0]',
      'w = mmap 4 pages rw', 'x = mmap 4 pages rw', 'q = mremap w to 6 pages maymove',
    ].join('\n'));
    assert.equal(t.simError, undefined);
    const ops = t.lines.filter((l) => l.startsWith('op ')).map((l) => l.split(' ').slice(2).join(' ').replace(/0x[0-9a-f]+/g, 'ADDR'));
    assert.deepEqual(ops, [
      '0 mmap ADDR 512 rw hugetlb 0', '0 mmap ADDR 1 rw dev:0:shared 0', '0 mmap ADDR 8 rw private 0', '0 mremap ADDR 4 4 dontunmap ADDR',
      '0 mremap ADDR 4 2 resize ADDR', '0 mremap ADDR 2 3 fixed ADDR', '0 mmap ADDR 4 rw private 0', '0 mmap ADDR 4 rw private 0',
      '0 mremap ADDR 4 6 maymove ADDR',
    ]);
    // A MREMAP_MAYMOVE move goes to the simulator's address: the binding after the statement.
    const q = t.lines.find((l) => / maymove /.test(l))!.split(' ');
    assert.notEqual(q[4], q[8]);
  });
});

describe('extensions: the kernel-checked scripts run on the simulator', () => {
  const dir = path.resolve(__dirname, '../../test/kernel/scripts');
  const scripts = fs.readdirSync(dir).filter((f) => f.endsWith('.hmm')).sort();
  it('finds them', () => assert.ok(scripts.length >= 3, `only ${scripts.length} in ${dir}`));
  for (const name of scripts) {
    it(name, () => {
      const file = path.join(dir, name);
      const r = runScriptText(file, fs.readFileSync(file, 'utf8'));
      assert.deepEqual(r.diagnostics.map(formatDiagnostic), []);
      assert.equal(r.error, undefined);
    });
  }
});
