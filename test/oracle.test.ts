// Layer: tests of the kernel oracle's host side without a VM: the translator (script → runner
// program, docs/kernel-runner.md), the result parser and the judgement of each statement.

import * as assert from 'node:assert/strict';
import type { CaseResult } from '../src/oracle/compare';
import { judge } from '../src/oracle/compare';
import { compareWithKernel, type ProgramRunner } from '../src/oracle/kernelRun';
import { fnv1aWords, parseFlags, parseResultLine, parseWords } from '../src/oracle/observation';
import { formatProgram, patternRpn, translateScript } from '../src/oracle/translate';
import { parseScript } from '../src/hmm/lang/parser';

const SCRIPT = `device gpu0
a = mmap 8 pages rw
write a = i
migrate a to gpu0
read a[4]
migrate a to system
gpu0 read a
gpu0 snapshot a
munmap a[7]
`;

describe('kernel oracle: translator', () => {
  it('writes one op per kernel-visible statement, at the simulator\'s addresses', () => {
    const t = translateScript('t.hmm', SCRIPT, { caseId: '0' });
    assert.deepEqual(t.lines, [
      'case 0',
      'op 1 0 mmap 0x7f0000000000 8 rw private 0',
      'op 2 0 write 0x7f0000000000 8 0 i',
      'op 3 0 dev 0 migrate 0x7f0000000000 8',
      'op 4 0 read 0x7f0000004000 1',
      'op 5 0 dev 0 migrate-sys 0x7f0000000000 8',
      'op 6 0 dev 0 read 0x7f0000000000 8',
      'op 7 0 dev 0 snapshot 0x7f0000000000 8',
      'op 8 0 munmap 0x7f0000007000 1',
      'end',
    ]);
    assert.equal(t.stoppedAt, undefined);
    assert.equal(t.simError, undefined);
    assert.deepEqual(t.ops.map((o) => o.loc.line), [2, 3, 4, 5, 6, 7, 8, 9]);
    // The simulator's observations: migrate copies 8 pages back, the CPU read sees word 4096.
    const migrate = t.ops[2]!.sim;
    assert.equal(migrate.rc, '0');
    assert.equal(migrate.cpages, 8);
    assert.equal(migrate.data?.kind, 'words');
    const read = t.ops[3]!.sim;
    assert.deepEqual(read.words?.kind === 'words' ? [...read.words.words] : undefined, [4 * 1024]);
    assert.equal(t.ops[6]!.sim.flags?.length, 8);
    assert.equal(formatProgram([t]).split('\n')[0], 'hmm-runner-program 1');
  });

  it('unrolls loops and forks, numbering processes as they are made', () => {
    const t = translateScript('t.hmm', `device gpu0
a = mmap 2 pages rw
repeat 2 as k {
  write a[k] = k + i
}
fork child
as child {
  gpu0 read a
}
fork {
  read a
}
exit child
`, { firstOp: 10, caseId: 'c' });
    assert.deepEqual(t.lines.slice(1, -1), [
      'op 10 0 mmap 0x7f0000000000 2 rw private 0',
      'op 11 0 write 0x7f0000000000 1 0 0 i +',
      'op 12 0 write 0x7f0000001000 1 1024 1 i +',
      'op 13 0 fork 1',
      'op 14 1 dev 0 read 0x7f0000000000 2',
      'op 15 0 fork 2',
      'op 16 2 read 0x7f0000000000 2',
      'op 17 2 exit',
      'op 18 1 exit',
    ]);
  });

  it('stops at the first statement the kernel cannot run, and says why', () => {
    const t = translateScript('t.hmm', `device gpu0
a = mmap 4 pages rw
kernel k(x) {
  read x
}
write a = 1
launch k(a) on gpu0
gpu0 read a
`);
    assert.equal(t.ops.length, 2);
    assert.deepEqual(t.stoppedAt?.loc, { line: 7, col: 1 });
    assert.match(t.stoppedAt!.reason, /simulated time/);
    const f = translateScript('t.hmm', 'device gpu0\na = mmap 4 pages rw\ngpu0 fail-next-alloc\nmigrate a to gpu0\n');
    assert.match(f.stoppedAt!.reason, /HMM_DMIRROR_FLAGS/);
    const big = translateScript('t.hmm', 'a = mmap 65536 pages rw\nwrite a = i\n');
    assert.match(big.stoppedAt!.reason, /16384 pages/);
  });

  it('sends a short-term pin released by the next statement as one pin-once (coherent device); held longer, it stops there', () => {
    const t = translateScript('t.hmm', `device cxl0 coherent
a = mmap 4 pages rw
migrate a to cxl0
pin a[0]
expect a[0] is device cxl0
unpin a[0]
pin a[1..3] longterm
unpin a[1..3]
cxl0 snapshot a
`);
    assert.equal(t.stoppedAt, undefined);
    assert.deepEqual(t.lines.filter((l) => / pin|unpin/.test(l)), [
      'op 3 0 pin-once 0x7f0000000000 1', 'op 4 0 pin 0x7f0000001000 2', 'op 5 0 unpin 0x7f0000001000 2',
    ]);
    assert.deepEqual(t.ops.map((o) => [o.loc.line, o.what]).slice(2, 3), [[4, 'pin a[0]']]);
    assert.equal(t.ops[2]!.sim.rc, '0');
    const held = translateScript('t.hmm', 'device cxl0 coherent\na = mmap 4 pages rw\npin a[0]\nwrite a = 1\nunpin a[0]\n');
    assert.deepEqual(held.stoppedAt?.loc, { line: 3, col: 1 });
    assert.match(held.stoppedAt!.reason, /held across another statement/);
    assert.equal(held.ops.length, 1);
    const never = translateScript('t.hmm', 'device cxl0 coherent\na = mmap 4 pages rw\npin a[0]\n');
    assert.match(never.stoppedAt!.reason, /never released/);
  });

  it('records the failing statement and stops where the simulator stops', () => {
    const t = translateScript('t.hmm', `device gpu0
a = mmap 4 pages r
gpu0 write a = 1 -> EPERM
write a = 2
read a
`);
    assert.equal(t.ops.length, 3);
    assert.equal(t.ops[1]!.sim.rc, 'EPERM');
    assert.equal(t.ops[2]!.sim.sig, 'SIGSEGV@0');
    assert.match(t.simError!, /^t\.hmm:4:/);
  });

  it('rejected scripts translate to nothing', () => {
    const t = translateScript('t.hmm', 'a = mmap 4 pages rw\nread b\n');
    assert.ok(t.diagnostics.length > 0);
    assert.deepEqual(t.lines, []);
    assert.equal(judge(t, undefined).verdict, 'rejected');
  });

  it('patterns as reverse Polish notation, loop variables bound', () => {
    const p = parseScript('p.hmm', 'a = mmap 1 page rw\nwrite a = -(i * 3 ^ 5) << k\n').script;
    const w = p.body[1]!;
    assert.equal(w.kind, 'write');
    if (w.kind === 'write') assert.equal(patternRpn(w.pattern, new Map([['k', 2]])), 'i 3 * 5 ^ neg 2 <<');
  });
});

describe('kernel oracle: result lines', () => {
  it('parses words, hashes, flags and signals', () => {
    const r = parseResultLine('r 5 rc=0 cpages=8 faults=1 data=0:3:0:1,3:2:ffffffff:0 flags=2*02,1*20');
    assert.equal(r.op, 5);
    assert.equal(r.obs.cpages, 8);
    assert.deepEqual(r.obs.data?.kind === 'words' ? [...r.obs.data.words] : [], [0, 1, 2, -1, -1]);
    assert.deepEqual([...r.obs.flags!], [2, 2, 0x20]);
    assert.equal(parseResultLine('r 6 rc=0 sig=SIGSEGV@3').obs.sig, 'SIGSEGV@3');
    const h = parseWords('#4:deadbeef');
    assert.deepEqual(h, { kind: 'hash', count: 4, hash: 0xdeadbeef });
    assert.throws(() => parseWords('1:2:3'), /bad word run/);
    assert.throws(() => parseFlags('3*zz'), /bad flag run/);
    assert.throws(() => parseResultLine('x 1 rc=0'), /not a result line/);
  });

  it('FNV-1a over little-endian words matches the reference values', () => {
    assert.equal(fnv1aWords(new Int32Array(0)), 0x811c9dc5);
    // FNV-1a of the bytes 61 00 00 00 ("a" and three zeros).
    let h = 0x811c9dc5;
    for (const b of [0x61, 0, 0, 0]) h = Math.imul(h ^ b, 0x01000193) >>> 0;
    assert.equal(fnv1aWords(Int32Array.of(0x61)), h);
  });
});

describe('kernel oracle: judgement', () => {
  const t = translateScript('t.hmm', SCRIPT, { caseId: '0' });
  const ok = (op: number, rest = ''): string => `r ${op} rc=0${rest}`;
  const agreeing = (): string[] => [
    ok(1), ok(2), ok(3, ' cpages=8 faults=0 data=0:8192:0:1'), ok(4, ' words=0:1:1000:0'), ok(5, ' cpages=7 faults=0'),
    ok(6, ` cpages=${t.ops[5]!.sim.cpages} faults=${t.ops[5]!.sim.faults} data=0:8192:0:1`),
    ok(7, ` cpages=8 faults=0 flags=${[...t.ops[6]!.sim.flags!].map((b) => `1*${b.toString(16).padStart(2, '0')}`).join(',')}`), ok(8),
  ];

  it('agrees when every field matches', () => {
    const j = judge(t, { lines: agreeing() });
    assert.equal(j.verdict, 'agree', j.disagreements.map((d) => d.text).join('\n'));
    assert.equal(j.compared, 8);
  });

  it('names the statement and both sides of a difference', () => {
    const lines = agreeing();
    lines[5] = `r 6 rc=0 cpages=8 faults=9 data=0:8192:0:1`;
    lines[3] = 'r 4 rc=0 words=0:1:7:0';
    const j = judge(t, { lines });
    assert.equal(j.verdict, 'disagree');
    assert.deepEqual(j.disagreements.map((d) => d.text), [
      't.hmm:5:1: read a[4]: kernel: words[0]=0x7 / simulator: words[0]=0x1000',
      `t.hmm:7:1: gpu0 read a: kernel: faults=9 / simulator: faults=${t.ops[5]!.sim.faults}`,
    ]);
  });

  it('a crash is a disagreement at its statement; later ops are not run', () => {
    const res: CaseResult = {
      lines: agreeing().slice(0, 5),
      crash: { op: 6, oops: ['[    2.1] BUG: unable to handle page fault for address: ffffea0000000000', '[    2.1] RIP: 0010:dmirror_do_read+0x5a/0x130'] },
    };
    const j = judge(t, res);
    assert.equal(j.verdict, 'disagree');
    assert.equal(j.notRun, 2);
    assert.match(j.disagreements[0]!.text, /^t\.hmm:7:1: gpu0 read a: kernel: crashed \(BUG: unable to handle page fault .*; RIP: 0010:dmirror_do_read/);
    assert.match(j.summary, /2 not run \(the kernel crashed earlier/);
  });

  it('a kernel crash where the simulator also stops on a kernel oops in the same function agrees', () => {
    const crashing = translateScript('c.hmm', 'device gpu0\na = mmap 8 pages rw\nwrite a = i\nmigrate a to gpu0\nread a[4]\ngpu0 read a\n', { caseId: '0' });
    const last = crashing.ops[crashing.ops.length - 1]!;
    assert.equal(last.sim.crash, 'dmirror_do_read');
    const lines = ['r 1 rc=0', 'r 2 rc=0', 'r 3 rc=0 cpages=8 faults=0 data=0:8192:0:1', 'r 4 rc=0 words=0:1:1000:0'];
    const oops = ['BUG: unable to handle page fault for address: ffff888000000000', 'RIP: 0010:dmirror_do_read+0x5a/0x130'];
    assert.equal(judge(crashing, { lines, crash: { op: last.op, oops } }).verdict, 'agree');
    const other = judge(crashing, { lines, crash: { op: last.op, oops: ['RIP: 0010:dmirror_do_write+0x1/0x2'] } });
    assert.equal(other.verdict, 'disagree');
    const none = judge(crashing, { lines: [...lines, `r ${last.op} rc=0 cpages=8 faults=1 data=0:8192:0:1`] });
    assert.match(none.disagreements[0]!.text, /kernel: rc=0 cpages=8 faults=1 \/ simulator: crashed \(kernel oops in dmirror_do_read\)$/);
  });

  it('runs every script of a batch in one program and judges each', async () => {
    let seen = '';
    const fake: ProgramRunner = async (program) => {
      seen = program;
      return { cases: new Map([['0', { lines: agreeing() }]]), boots: 1, ms: 1 };
    };
    const c = await compareWithKernel([{ file: 't.hmm', text: SCRIPT }, { file: 'g.hmm', text: 'device gpu0\ngpu0 fail-next-alloc\n' }], fake);
    assert.match(seen, /^hmm-runner-program 1\ncase 0\n/);
    assert.deepEqual(c.judgements.map((j) => j.verdict), ['agree', 'not expressible']);
  });
});

describe('kernel oracle: hangs and kernels left unclean', () => {
  const script = 'device d0 coherent\nm = mmap 4 pages rw\nwrite m = i\nmigrate m to d0\nd0 exclusive m\nd0 close\nd0 release\n';

  it('a kernel hang where the simulator predicts one agrees; a hang it did not predict does not', () => {
    const t = translateScript('h.hmm', script, { caseId: '0' });
    const last = t.ops[t.ops.length - 1]!;
    assert.equal(last.sim.hang, 'memunmap_pages');
    const lines = t.ops.slice(0, -1).map((o) => `r ${o.op} rc=0${o.sim.cpages !== undefined ? ` cpages=4 faults=0 data=0:4096:0:1` : ''}`);
    assert.equal(judge(t, { lines, hang: { op: last.op } }).verdict, 'agree');
    const returned = judge(t, { lines: [...lines, `r ${last.op} rc=0`] });
    assert.match(returned.disagreements[0]!.text, /d0 release: kernel: rc=0 \/ simulator: hung \(in memunmap_pages\)$/);
    assert.match(returned.disagreements[0]!.signature, /^simhang:release:/);
  });

  it('a case that leaves a device page nobody frees ends its boot: the next case runs in a new one', async () => {
    const dirty = translateScript('d.hmm', script.replace('d0 release\n', ''), { caseId: '0' });
    assert.match(dirty.leavesKernel ?? '', /d0 keeps a page nobody frees/);
    const programs: string[] = [];
    const fake: ProgramRunner = async (program) => {
      programs.push(program);
      return { cases: new Map(), boots: 1, ms: 1 };
    };
    await compareWithKernel([{ file: 'a.hmm', text: SCRIPT }, { file: 'd.hmm', text: script.replace('d0 release\n', '') }, { file: 'b.hmm', text: SCRIPT }], fake);
    assert.deepEqual(programs.map((p) => [...p.matchAll(/^case (\S+)$/gm)].map((m) => m[1])), [['0', '1'], ['2']]);
  });
});

describe('kernel oracle: documented model decisions', () => {
  it('a THP fork shared is PTE-mapped in the model, PMD-mapped on Linux: the snapshot PMD bit is not compared there', () => {
    const t = translateScript('f.hmm', 'device d1\nm0 = mmap 1024 pages rw huge\nd1 write m0[36..747] = i + 15888\nfork c1\nd1 snapshot m0[798..800]\n', { caseId: '0' });
    const snap = t.ops[t.ops.length - 1]!;
    assert.deepEqual([...snap.sim.flags!], [0x01, 0x01]);
    assert.deepEqual([...snap.sim.flagsIgnore!], [0x04, 0x04]);
    const lines = (flags: string): string[] => t.ops.map((o) => o === snap ? `r ${o.op} rc=0 cpages=2 faults=0 flags=${flags}`
      : o.sim.data !== undefined ? `r ${o.op} rc=0 cpages=${o.sim.cpages} faults=${o.sim.faults} data=#0:0` : `r ${o.op} rc=0`);
    const pmd = judge(t, { lines: lines('2*05') });
    assert.deepEqual(pmd.disagreements.filter((d) => d.op === snap), []);
    const write = judge(t, { lines: lines('2*07') });
    assert.match(write.disagreements.find((d) => d.op === snap)?.text ?? '', /kernel: flags\[0\]=0x07 \/ simulator: flags\[0\]=0x01/);
  });
});

describe('kernel oracle: what a case leaves in the kernel after its processes exit', () => {
  it('a child that exits first closes its handle and evicts while the parent still holds a device-exclusive coherent page', () => {
    // hmm-runner's end_case ends the last-made process first; its close evicts the device.
    const script = 'device d0 coherent\nn = mmap 1 page rw\nfork c1\nas c1 {\n  d0 snapshot n\n}\nm = mmap 4 pages rw\nwrite m = i\nmigrate m to d0\nd0 exclusive m[0]\n';
    assert.match(translateScript('c.hmm', script, { caseId: '0', failedCallsContinue: true }).leavesKernel ?? '', /d0 keeps a page nobody frees/);
    // Without the child, the parent's memory goes before its handle closes: nothing leaks.
    const alone = script.replace('fork c1\nas c1 {\n  d0 snapshot n\n}\n', '');
    assert.equal(translateScript('a.hmm', alone, { caseId: '0', failedCallsContinue: true }).leavesKernel, undefined);
  });
});
