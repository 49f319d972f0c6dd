// Layer: CLI tests. `hmm-sim run --kernel` and `hmm-sim differential` as the CLI runs them,
// with a stand-in for the VM: exit statuses, a kernel hang both sides had, regression files.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runDifferentialCommand, runKernelCompare } from '../src/cli/kernelCompare';
import type { CaseResult } from '../src/oracle/compare';
import type { ProgramRunner } from '../src/oracle/kernelRun';
import { splitProgram } from '../src/oracle/program';
import { COVERAGE_FEATURES, featuresOf, parseWeights, programArbitrary, type RandomProgram, renderProgram, samplePrograms, WEIGHT_KEYS } from '../src/oracle/differential';
import { USAGE } from '../src/cli/usage';
import { createHash } from 'node:crypto';
import { judgeRegression, parseRegression, translateRegression } from '../src/oracle/regression';

/** A VM that answers every op with `answer(op line)`, or hangs at ops `hangAt` says. */
function fakeVm(answer: (line: string) => string, hangAt: (line: string) => boolean = () => false): ProgramRunner {
  return async (program) => {
    const cases = new Map<string, CaseResult>();
    for (const c of splitProgram(program)) {
      const lines: string[] = [];
      let hang: { op: number } | undefined;
      for (const l of c.lines.filter((x) => x.startsWith('op '))) {
        const op = Number(l.split(' ')[1]);
        if (hangAt(l)) {
          hang = { op };
          break;
        }
        lines.push(`r ${op} ${answer(l)}`);
      }
      cases.set(c.id, { lines, ...(hang ? { hang } : {}) });
    }
    return { cases, boots: 1, ms: 1 };
  };
}

const quiet = (): { log: (l: string) => void; err: (l: string) => void; text: () => string } => {
  const lines: string[] = [];
  return { log: (l) => lines.push(l), err: (l) => lines.push(l), text: () => lines.join('\n') };
};

describe('cli: run --kernel and differential with a stand-in VM', () => {
  it('a kernel hang the simulator predicted agrees, and the script passes (exit 0)', async () => {
    const file = path.resolve(__dirname, '../../test/kernel-regress/exclusive-coherent-release-hangs.hmm');
    const text = fs.readFileSync(file, 'utf8');
    const recorded = parseRegression(text);
    const vm: ProgramRunner = async (program) => {
      const id = splitProgram(program)[0]!.id;
      return { cases: new Map([[id, recorded]]), boots: 1, ms: 1 };
    };
    const out = quiet();
    assert.equal(await runKernelCompare([{ file: 'r.hmm', text }], vm, out), 0, out.text());
    assert.match(out.text(), /kernel hang in memunmap_pages: .*\(simulator; Linux too\)/);
    assert.match(out.text(), /1 agree, 0 disagree/);
  });

  it('a disagreeing differential exits 1 and writes each program and the shrunk one as regression files', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hmm-diff-'));
    try {
      // Every op answers EPERM: every program disagrees at its first op.
      const out = quiet();
      const rc = await runDifferentialCommand({ count: 3, seed: 5, maxShrinks: 1, shrinkBudgetMs: 60_000, outDir: dir }, fakeVm(() => 'rc=EPERM'), out);
      assert.equal(rc, 1);
      const files = fs.readdirSync(dir).sort();
      assert.equal(files.filter((f) => f.startsWith('found-5-')).length, 3, files.join(' '));
      const shrunk = files.filter((f) => f.startsWith('shrunk-5-1-'));
      assert.equal(shrunk.length, 1, files.join(' '));
      const text = fs.readFileSync(path.join(dir, shrunk[0]!), 'utf8');
      assert.match(text, /^# hmm-sim differential --seed 5 --count 3: program \d+, shrunk/);
      assert.match(text, /^#kernel r 1 rc=EPERM$/m);
      // The regression says what Linux answered, so the simulator disagrees with it until fixed.
      assert.equal(judgeRegression('s.hmm', text).verdict, 'disagree');
      assert.match(out.text(), /hmm-sim differential: seed 5: 3 programs, 0 agree, 3 disagree/);
      assert.match(out.text(), /^coverage \(agreeing programs that ran it on Linux\): map:private 0, /m);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('differential: the generator\'s weightings', () => {
  const share = (progs: readonly RandomProgram[], op: (o: RandomProgram['ops'][number]) => boolean): number =>
    progs.reduce((n, p) => n + p.ops.filter(op).length, 0) / progs.reduce((n, p) => n + p.ops.length, 0);
  const mapShare = (progs: readonly RandomProgram[], kind: string): number =>
    progs.reduce((n, p) => n + p.maps.filter((m) => m.kind === kind).length, 0) / progs.reduce((n, p) => n + p.maps.length, 0);

  it('--focus mremap favours mremap and non-private mappings; the default is the default', () => {
    const plain = samplePrograms(7, 400);
    assert.deepEqual(samplePrograms(7, 400, 'default'), plain);
    const focused = samplePrograms(7, 400, 'mremap');
    const moves = (o: RandomProgram['ops'][number]): boolean => o.k === 'mremap' || o.k === 'mresize';
    // Weights 2 of 28 by default, 11 of 37 focused.
    assert.ok(share(plain, moves) < 0.1, `default mremap share ${share(plain, moves)}`);
    assert.ok(share(focused, moves) > 0.2, `focused mremap share ${share(focused, moves)}`);
    assert.ok(mapShare(plain, 'private') > 0.4 && mapShare(focused, 'private') < 0.25);
    for (const kind of ['hugetlb', 'file-shared', 'devfile']) assert.ok(mapShare(focused, kind) > mapShare(plain, kind), kind);
  });

  it('a focused run\'s regressions say how to reproduce it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hmm-diff-'));
    try {
      const out = quiet();
      const rc = await runDifferentialCommand({ count: 2, seed: 9, focus: 'mremap', maxShrinks: 1, shrinkBudgetMs: 60_000, outDir: dir }, fakeVm(() => 'rc=EPERM'), out);
      assert.equal(rc, 1);
      const shrunk = fs.readdirSync(dir).filter((f) => f.startsWith('shrunk-9-1-'));
      assert.equal(shrunk.length, 1);
      assert.match(fs.readFileSync(path.join(dir, shrunk[0]!), 'utf8'), /^# hmm-sim differential --seed 9 --count 2 --focus mremap: program \d+, shrunk/);
      assert.match(out.text(), /hmm-sim differential: seed 9 \(focus mremap\): 2 programs/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('differential: coverage features', () => {
  it('counts mapping and device kinds, each statement the kernel ran, and statements in a child', () => {
    const prog: RandomProgram = {
      devices: ['private', 'coherent'],
      maps: [{ kind: 'huge', pages: 512, prot: 'rw' }, { kind: 'file-shared', pages: 4, prot: 'r' }],
      ops: [
        { k: 'write', p: 0, m: 0, s: 0, n: 3, K: 1 }, { k: 'fork', p: 0 }, { k: 'migDev', p: 1, m: 0, s: 0, n: 1, d: 1 },
        { k: 'migSys', p: 0, m: 0, s: 0, n: 1, d: 1, from: true }, { k: 'release', p: 0, d: 0 },
      ],
    };
    const t = translateRegression('p.hmm', renderProgram(prog));
    assert.deepEqual([...featuresOf(prog, t)].sort(), ['device:coherent', 'device:private', 'fork', 'in a child', 'map:file-shared', 'map:huge',
      'migrate to device', 'migrate to system', 'release', 'write'].sort());
    for (const f of featuresOf(prog, t)) assert.ok((COVERAGE_FEATURES as readonly string[]).includes(f), f);
  });
});

describe('differential: the generator\'s weights', () => {
  const digest = (progs: readonly RandomProgram[]): string => createHash('sha256').update(progs.map(renderProgram).join('\n')).digest('hex');

  it('no weights draw the programs a seed always gave (the default distribution is unchanged)', () => {
    // Seed 186372439's first programs as the generator drew them before weights existed.
    const progs = samplePrograms(186372439, 20);
    assert.equal(digest(progs), 'e4ed558637551f39143a3cfc08a3e6793df3e2d760235463ebb44d2aeefea09c');
    assert.equal(digest(samplePrograms(186372439, 20, 'default', {})), digest(progs));
  });

  it('a weight changes the share of its kind; 0 leaves a kind out', () => {
    const count = (progs: readonly RandomProgram[], k: string): number => progs.reduce((n, p) => n + p.ops.filter((o) => o.k === k).length, 0);
    const plain = samplePrograms(7, 200);
    const forks = samplePrograms(7, 200, 'default', { fork: 10 });
    assert.ok(count(forks, 'fork') > 4 * count(plain, 'fork'), `${count(forks, 'fork')} vs ${count(plain, 'fork')}`);
    assert.equal(count(samplePrograms(7, 200, 'default', { pin: 0, unpin: 0 }), 'pin'), 0);
    const coherent = samplePrograms(7, 200, 'default', { coherent: 20 }).filter((p) => p.devices.includes('coherent')).length;
    assert.ok(coherent > 180, String(coherent));
  });

  it('rejects unknown kinds, factors out of range and weights that leave nothing', () => {
    assert.deepEqual(parseWeights('fork=4,close=2'), { fork: 4, close: 2 });
    assert.match(String(parseWeights('frok=4')), /unknown kind 'frok'/);
    assert.match(String(parseWeights('fork=101')), /above 100/);
    assert.match(String(parseWeights('fork=-1')), /KIND=N/);
    const none = ['read', 'write', 'mprotect', 'munmap', 'madvise', 'migDev', 'devRead', 'snapshot', 'exclusive', 'checkExclusive', 'devWrite',
      'migSys', 'release', 'close', 'pin', 'unpin', 'fork', 'exit', 'mremap', 'mresize'].map((k) => `${k}=0`).join(',');
    assert.equal(parseWeights(none), '--weight leaves no op to draw');
    assert.throws(() => programArbitrary('default', { fork: 1.5 }), /whole number/);
  });

  it('the usage names every kind --weight takes', () => {
    const listed = /\(kinds: ([^)]*)\)/.exec(USAGE.replace(/\s+/g, ' '))?.[1]?.split(', ');
    assert.deepEqual(listed, [...WEIGHT_KEYS]);
  });
});
