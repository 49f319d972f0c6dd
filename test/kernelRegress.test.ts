// Layer: oracle tests. Every test/kernel-regress/*.hmm is a script with what Linux 6.12 answered
// when it ran in the VM (`#kernel` lines: written by `hmm-sim kernel record` or by
// `hmm-sim differential --out`). The simulator must agree with each, without a VM. A negative
// control proves the judgement can fail.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { judgeRegression, parseRegression } from '../src/oracle/regression';

/** Tests run from out/test; the scripts stay in the source tree. */
const DIR = path.resolve(__dirname, '../../test/kernel-regress');
const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.hmm')).sort();

describe('kernel regressions: the simulator agrees with what Linux 6.12 answered', () => {
  it('finds the regressions', () => {
    assert.ok(files.length >= 8, `only ${files.length} files in ${DIR}`);
  });

  for (const name of files) {
    it(name, () => {
      const text = fs.readFileSync(path.join(DIR, name), 'utf8');
      const j = judgeRegression(name, text);
      assert.deepEqual(j.problems, [], `${name}: the recorded answers do not fit the script`);
      assert.equal(j.verdict, 'agree', `${name}: ${j.summary}\n${j.disagreements.map((d) => d.text).join('\n')}`);
      assert.ok(j.compared > 0);
    });
  }
});

describe('kernel regressions: negative control', () => {
  const text = fs.readFileSync(path.join(DIR, 'exclusive-coherent-close-leaks.hmm'), 'utf8');

  it('a changed recorded answer disagrees at its statement', () => {
    const flipped = text.replace('#kernel r 7 rc=0 cpages=0 faults=0', '#kernel r 7 rc=0 cpages=4 faults=0');
    assert.notEqual(flipped, text);
    const j = judgeRegression('flipped.hmm', flipped);
    assert.equal(j.verdict, 'disagree');
    assert.match(j.disagreements[0]!.text, /^flipped\.hmm:\d+:1: migrate m to system: kernel: cpages=4 \/ simulator: cpages=0$/);
  });

  it('a hang the kernel did not have disagrees', () => {
    const j = judgeRegression('nohang.hmm', text.replace('#kernel hang 11', '#kernel r 11 rc=0'));
    assert.match(j.disagreements[0]!.text, /d0 release: kernel: rc=0 \/ simulator: hung \(in memunmap_pages\)$/);
  });

  it('rejects a file without recorded answers or with a malformed one', () => {
    assert.throws(() => parseRegression('device d0\n'), /no recorded kernel answers/);
    assert.throws(() => parseRegression('#kernel frob 1\n'), /line 1: .* is not a recorded kernel answer/);
    assert.throws(() => parseRegression('#kernel hang x\n'), /needs an op number/);
  });
});
