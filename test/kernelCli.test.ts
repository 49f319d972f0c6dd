// Layer: tests of `hmm-sim kernel …` without a VM (bin/hmm-sim.js as a child process): usage,
// exit statuses and the message when the kernel is not built. The VM itself: test/kernel/.

import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin', 'hmm-sim.js');

function hmmSim(env: NodeJS.ProcessEnv, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'kernel', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30000, env: { ...process.env, ...env } });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('cli: hmm-sim kernel', function () {
  this.timeout(60000);
  let cache = '';
  before(() => {
    assert.ok(fs.existsSync(path.join(ROOT, 'dist', 'hmm-sim.js')), 'npm run build first');
    cache = fs.mkdtempSync(path.join(os.tmpdir(), 'hmm-nokernel-'));
  });
  after(() => fs.rmSync(cache, { recursive: true, force: true }));

  it('prints its usage with --help (exit 0) and rejects an unknown subcommand (exit 2)', () => {
    const h = hmmSim({}, '--help');
    assert.equal(h.status, 0);
    assert.match(h.stdout, /hmm-sim kernel selftest/);
    const u = hmmSim({}, 'frob');
    assert.equal(u.status, 2);
    assert.match(u.stderr, /unknown kernel command 'frob'/);
  });

  it('says to run npm run kernel when the kernel is not built (exit 2)', () => {
    const prog = path.join(cache, 'prog.txt');
    fs.writeFileSync(prog, 'hmm-runner-program 1\ncase a\nend\n');
    for (const args of [['selftest'], ['exec', prog]]) {
      const r = hmmSim({ HMM_KERNEL_CACHE: cache }, ...args);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /not built .*run `npm run kernel`/);
    }
  });

  it('rejects a bad exec command line (exit 2)', () => {
    assert.match(hmmSim({}, 'exec').stderr, /exec takes one PROGRAM\.txt/);
    assert.match(hmmSim({}, 'exec', 'p.txt', '--op-limit', '0').stderr, /--op-limit needs milliseconds/);
  });
});
