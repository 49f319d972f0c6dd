// Layer: tests of the kernel oracle against the real kernel (`npm run test:kernel`, needs
// `npm run kernel` first): the kernel's own hmm-tests all pass in our VM, and runner programs with
// known results — including the test_hmm oops of kernel-oracle.md — come back as they should.
// Not part of the default `mocha` run (.mocharc.json picks *.test.js; these are *.vmtest.js).

import * as assert from 'node:assert/strict';
import { loadArtifacts } from '../../src/oracle/artifacts';
import { runProgram, runSelftest } from '../../src/oracle/vm';

const EXPECTED_HMM_TESTS = 58;
const A = '0x200000000';
const PAGE4 = '0x200004000';

describe('kernel oracle: Linux 6.12 in QEMU', function () {
  before(() => {
    loadArtifacts(); // a clear "run npm run kernel first" when it is not built
  });

  it(`the kernel's own hmm-tests: all ${EXPECTED_HMM_TESTS} pass (private and coherent devices)`, async () => {
    const r = await runSelftest();
    const notPassed = r.tests.filter((t) => t.status !== 'pass').map((t) => `${t.name}: ${t.status}`);
    assert.deepEqual(notPassed, [], r.output);
    assert.equal(r.plan, EXPECTED_HMM_TESTS);
    assert.equal(r.tests.length, EXPECTED_HMM_TESTS);
    assert.equal(r.exitCode, 0);
    assert.ok(r.tests.some((t) => t.name.startsWith('hmm.hmm_device_coherent.')), 'coherent instances ran');
  });

  it('a program with known results; the test_hmm oops is a crash in its op, and the next case runs in a new boot', async () => {
    const program = [
      'hmm-runner-program 1',
      'case cpu',
      `op 1 0 mmap ${A} 8 rw private 0`,
      `op 2 0 write ${A} 8 0 i`,
      `op 3 0 read ${A} 8`,
      'end',
      'case migrate',
      `op 10 0 mmap ${A} 8 rw private 0`,
      `op 11 0 write ${A} 8 0 i 3 * 5 ^`,
      `op 12 0 dev 0 migrate ${A} 8`,
      `op 13 0 dev 0 snapshot ${A} 8`,
      `op 14 0 dev 1 snapshot ${A} 8`,
      `op 15 0 dev 0 migrate-sys ${A} 8`,
      `op 16 0 read ${A} 8`,
      `op 17 0 munmap ${A} 8`,
      `op 18 0 read ${A} 1`,
      'end',
      'case oops',
      `op 20 0 mmap ${A} 8 rw private 0`,
      `op 21 0 write ${A} 8 0 i`,
      `op 22 0 dev 0 migrate ${A} 8`,
      `op 23 0 read ${PAGE4} 1`,
      `op 24 0 dev 0 read ${A} 8`,
      'end',
      'case after',
      `op 30 0 mmap ${A} 1 rw private 0`,
      `op 31 0 read ${A} 1`,
      'end',
    ].join('\n');
    const r = await runProgram(program);
    assert.deepEqual([...r.cases.keys()], ['cpu', 'migrate', 'oops', 'after']);
    assert.deepEqual(r.cases.get('cpu')!.lines, ['r 1 rc=0', 'r 2 rc=0', 'r 3 rc=0 words=0:8:0:400']);
    // word k = (k * 3) ^ 5: 8192 words are more than 64 runs, so the data is hashed.
    const m = r.cases.get('migrate')!.lines;
    assert.equal(m.length, 9, m.join('\n'));
    assert.match(m[2]!, /^r 12 rc=0 cpages=8 faults=\d+ data=#8192:[0-9a-f]{8}$/);
    assert.match(m[3]!, /^r 13 rc=0 cpages=8 faults=\d+ flags=8\*22$/); // DEV_PRIVATE_LOCAL | WRITE
    assert.match(m[4]!, /^r 14 rc=0 cpages=8 faults=\d+ flags=8\*00$/); // another device's private pages: 0
    assert.match(m[5]!, /^r 15 rc=0 cpages=8 faults=\d+$/);
    assert.equal(m[6], 'r 16 rc=0 words=0:8:5:c00');
    assert.equal(m[8], 'r 18 rc=0 sig=SIGSEGV@0');
    const oops = r.cases.get('oops')!;
    assert.equal(oops.crash?.op, 24, JSON.stringify(oops));
    assert.ok(oops.crash.oops.some((l) => l.includes('dmirror_do_read')), oops.crash.oops.join('\n'));
    assert.deepEqual(oops.lines.slice(0, 2), ['r 20 rc=0', 'r 21 rc=0']);
    assert.match(oops.lines[2]!, /^r 22 rc=0 cpages=8 /);
    assert.equal(oops.lines[3], 'r 23 rc=0 words=0:1:1000:0');
    assert.deepEqual(r.cases.get('after'), { id: 'after', lines: ['r 30 rc=0', 'r 31 rc=0 words=0:1:0:0'] });
    assert.equal(r.boots, 2);
  });

  it('a close in the parent right after a fork releases the device: the child dropped its inherited handle first', async () => {
    // Before the runner waited for the child to close its handles, a few of these cases left the
    // release to the child, later, and the migration found the pages still on the device.
    const lines = ['hmm-runner-program 1'];
    let op = 1;
    const CASES = 40;
    for (let c = 0; c < CASES; c++) {
      lines.push(`case f${c}`, `op ${op++} 0 mmap ${A} 8 rw private 0`, `op ${op++} 0 write ${A} 8 0 i`,
        `op ${op++} 0 dev 2 migrate ${A} 8`, `op ${op++} 0 fork 1`, `op ${op++} 0 dev 2 close`,
        `op ${op++} 0 dev 2 migrate-sys ${A} 8`, 'end');
    }
    const r = await runProgram(lines.join('\n'));
    const after = [...r.cases.values()].map((c) => c.lines[5]!.replace(/^r \d+ /, ''));
    assert.equal(after.length, CASES);
    assert.deepEqual(after.filter((l) => !/^rc=0 cpages=0 /.test(l)), []);
  });

  it('khugepaged collapses nothing in the background: a mirror keeps a PTE-mapped THP over 10 s', async () => {
    // khugepaged would collapse the range (partly a THP's own pages, partly pages a fault added
    // after MADV_DONTNEED) within one of its 10 s sleeps and invalidate the mirror.
    const J = '0x300000000';
    const lines = ['hmm-runner-program 1', 'case thp', `op 1 0 mmap ${A} 512 rw private 1`, `op 2 0 write ${A} 512 0 i`,
      `op 3 0 madvise 0x200064000 10 dontneed`, `op 4 0 write 0x200064000 10 100 i`, `op 5 0 dev 0 read ${A} 512`,
      `op 6 0 mmap ${J} 16384 rw private 0`];
    let op = 7;
    // CPU reads of 64 MiB (zero pages): each takes milliseconds under TCG, so 4,000 of them take
    // about twice khugepaged's default sleep (without -K the second read faults: seen in the VM).
    for (let k = 0; k < 4000; k++) lines.push(`op ${op++} 0 read ${J} 16384`);
    lines.push(`op ${op} 0 dev 0 read ${A} 512`, 'end');
    const r = await runProgram(lines.join('\n'));
    const c = r.cases.get('thp')!.lines;
    assert.match(c[4]!, /^r 5 rc=0 cpages=512 faults=1 /);
    assert.match(c[c.length - 1]!, new RegExp(`^r ${op} rc=0 cpages=512 faults=0 `));
  });
});
