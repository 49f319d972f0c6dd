// Layer: tests of kernel/hmm-runner (the static binary kernel/build.sh built) run on the host,
// where there is no test_hmm: the protocol's CPU side, processes, the WORDS/flags encodings'
// CPU half, program checking and the per-op time limit. Part of `npm run test:kernel`.

import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadArtifacts } from '../../src/oracle/artifacts';
import { parseResultStream } from '../../src/oracle/results';

describe('kernel oracle: hmm-runner on the host', function () {
  this.timeout(60000);
  let runner = '';
  let dir = '';

  before(() => {
    runner = loadArtifacts().runner;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hmm-runner-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function run(program: string[], ...args: string[]): { status: number | null; out: string } {
    const prog = path.join(dir, 'prog.txt');
    const out = path.join(dir, 'out.txt');
    fs.writeFileSync(prog, program.join('\n') + '\n');
    const r = spawnSync(runner, [...args, prog, out], { encoding: 'utf8', timeout: 30000 });
    return { status: r.status, out: fs.readFileSync(out, 'utf8') };
  }

  const A = '0x300000000';

  it('runs CPU ops, files, fork and exit, and reports signals at the page', () => {
    const r = run([
      'hmm-runner-program 1',
      'case one',
      'file data 2 i 7 *',
      `op 1 0 mmap ${A} 4 rw private 0`,
      `op 2 0 write ${A} 4 0 i 3 * 5 ^`,
      `op 3 0 read ${A} 4`,
      'op 4 0 mmap 0x300200000 2 rw file:data:shared 0',
      'op 5 0 read 0x300200000 2',
      'op 6 0 fork 1',
      `op 7 1 write ${A} 1 0 9`,
      `op 8 1 read ${A} 1`,
      `op 9 0 read ${A} 1`,
      'op 10 1 exit',
      `op 11 0 mprotect ${A} 4 r`,
      `op 12 0 write 0x300002000 1 0 1`,
      `op 13 0 munmap 0x300001000 1`,
      `op 14 0 read ${A} 4`,
      `op 15 0 mmap ${A} 1 rw private 0`,
      `op 16 0 madvise ${A} 4 dontneed`,
      'end',
      'case two',
      `op 20 0 read ${A} 1`,
      'end',
    ]);
    assert.equal(r.status, 0, r.out);
    const s = parseResultStream(r.out);
    assert.ok(s.bye);
    assert.deepEqual(s.cases.map((c) => [c.id, c.done]), [['one', true], ['two', true]]);
    assert.deepEqual(s.cases[0]!.lines, [
      'r 1 rc=0',
      'r 2 rc=0',
      'r 3 rc=0 words=0:4:5:c00', // word 0 of page k: (1024k * 3) ^ 5
      'r 4 rc=0',
      'r 5 rc=0 words=0:2:0:1c00', // the file: word i = 7i
      'r 6 rc=0',
      'r 7 rc=0',
      'r 8 rc=0 words=0:1:9:0', // the child's copy
      'r 9 rc=0 words=0:1:5:0', // the parent's is unchanged
      'r 10 rc=0',
      'r 11 rc=0',
      'r 12 rc=0 sig=SIGSEGV@0', // read-only now
      'r 13 rc=0',
      'r 14 rc=0 words=0:1:5:0 sig=SIGSEGV@1', // page 1 unmapped: stops there
      'r 15 rc=EEXIST', // MAP_FIXED_NOREPLACE over a mapping
      'r 16 rc=ENOMEM', // the range has a hole at page 1
    ]);
    // A new case is a new process: case one's mapping is gone.
    assert.deepEqual(s.cases[1]!.lines, ['r 20 rc=0 sig=SIGSEGV@0']);
  });

  it('hashes WORDS beyond 64 runs (FNV-1a over the little-endian words)', () => {
    const n = 200;
    const r = run(['hmm-runner-program 1', 'case h', `op 1 0 mmap ${A} ${n} rw private 0`,
      `op 2 0 write ${A} ${n} 0 i i *`, `op 3 0 read ${A} ${n}`, 'end']);
    const words = Array.from({ length: n }, (_, k) => Math.imul(k * 1024, k * 1024) >>> 0);
    let h = 0x811c9dc5;
    for (const w of words) for (let b = 0; b < 4; b++) h = Math.imul(h ^ ((w >>> (8 * b)) & 0xff), 0x01000193) >>> 0;
    assert.equal(parseResultStream(r.out).cases[0]!.lines[2], `r 3 rc=0 words=#${n}:${h.toString(16).padStart(8, '0')}`);
  });

  it('rejects a malformed program before running anything', () => {
    const r = run(['hmm-runner-program 1', 'case a', `op 1 0 mmap ${A} 1 rw private 0`, 'op 2 3 read 0x1000 1', 'end']);
    assert.equal(r.status, 2);
    assert.equal(r.out, 'hmm-runner 1\nbad 2 line 4: process 3 is not running here\n');
    const p = run(['hmm-runner-program 1', 'case a', `op 1 0 write ${A} 1 0 i +`, 'end']);
    assert.match(p.out, /^bad 1 line 3: PATTERN stack underflow$/m);
  });

  it('an op over its time limit is `hang N`, and the runner stops there', () => {
    // 512 MiB written with a 201-token pattern: minutes of work, against a limit of one second
    // that the mmap before it stays far below.
    const slow = `i${' 1 +'.repeat(100)}`;
    const r = run(['hmm-runner-program 1', 'case slow', `op 1 0 mmap ${A} 131072 rw private 0`,
      `op 2 0 write ${A} 131072 0 ${slow}`, 'op 3 0 exit', 'end', 'case never', 'end'], '-t', '1000');
    assert.equal(r.status, 3);
    assert.match(r.out, /\nat 2\nhang 2\n$/);
  });
});
