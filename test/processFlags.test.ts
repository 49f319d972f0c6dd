// Layer: the adapter process as the extension starts it (src/adapter/processFlags.ts): Node
// accepts the flags, and the adapter answers over DAP with them.

import * as assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ADAPTER_NODE_FLAGS } from '../src/adapter/processFlags';

const ROOT = path.resolve(__dirname, '../..');
const ADAPTER = path.join(ROOT, 'dist', 'adapter.js');

describe('the adapter process with its Node flags (src/adapter/processFlags.ts)', function () {
  this.timeout(60000);
  before(function () {
    this.timeout(120000);
    if (!fs.existsSync(ADAPTER)) execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
  });

  it('takes effect: the young generation starts at the size they ask for', () => {
    const m = /^--min-semi-space-size=(\d+)$/.exec(ADAPTER_NODE_FLAGS.find((f) => f.startsWith('--min-semi-space-size=')) ?? '');
    assert.ok(m, `no --min-semi-space-size in ${ADAPTER_NODE_FLAGS.join(' ')}`);
    const report = (flags: readonly string[]): number => Number(execFileSync(process.execPath, [...flags, '-e',
      "process.stdout.write(String(require('v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size))"]).toString());
    // new_space's size is that of one semi-space: the size asked for, more than without the flag.
    assert.equal(report(ADAPTER_NODE_FLAGS), Number(m[1]) * 2 ** 20);
    assert.ok(report([]) < report(ADAPTER_NODE_FLAGS));
  });

  it('answers initialize when started with them', async () => {
    const proc = spawn(process.execPath, [...ADAPTER_NODE_FLAGS, ADAPTER], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    proc.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const body = JSON.stringify({ seq: 1, type: 'request', command: 'initialize', arguments: { adapterID: 'hmm', pathFormat: 'path' } });
    proc.stdin.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    const deadline = Date.now() + 20000;
    while (!out.includes('"command":"initialize"') && Date.now() < deadline && proc.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    proc.kill();
    assert.match(out, /"command":"initialize","success":true/, `stderr: ${err}`);
  });
});
