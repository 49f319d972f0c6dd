// Layer: tests of the adapter's DAP framing (src/adapter/dapFraming.ts) in process, and of
// the adapter process refusing a message over its limit (dist/adapter.js), answering the
// request it could name and the next one.

import * as assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { DapFraming, type OversizedFrame } from '../src/adapter/dapFraming';

const ROOT = path.resolve(__dirname, '../..');
const ADAPTER = path.join(ROOT, 'dist', 'adapter.js');

const frame = (body: string): Buffer => Buffer.from(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);

/** Feeds `chunks` through a DapFraming and returns the bodies it passed on and what it refused. */
function run(chunks: Buffer[], maxBody = 100): { out: string[]; oversized: OversizedFrame[]; bad: string[] } {
  const oversized: OversizedFrame[] = [];
  const bad: string[] = [];
  const out: string[] = [];
  const framing = new DapFraming({ maxBody, onMessage: (b) => out.push(b), onOversized: (f) => oversized.push(f), onBadHeader: (r) => bad.push(r) });
  for (const c of chunks) framing.push(c);
  return { out, oversized, bad };
}

function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let from = 0;
  for (const c of at) { parts.push(bytes.subarray(from, c)); from = c; }
  parts.push(bytes.subarray(from));
  return parts;
}

describe('DAP framing (src/adapter/dapFraming.ts)', () => {
  it('passes each body on whole, however the stream is cut', () => {
    fc.assert(fc.property(
      fc.array(fc.string({ maxLength: 60, unit: 'grapheme' }), { minLength: 1, maxLength: 6 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      (texts, cuts) => {
        const bodies = texts.map((b) => JSON.stringify({ b }));
        const { out, oversized, bad } = run(split(Buffer.concat(bodies.map(frame)), cuts), 1000);
        assert.deepEqual(out, bodies);
        assert.deepEqual([oversized, bad], [[], []]);
      }), { numRuns: 200 });
  });

  it('skips an empty body, as the library did', () => {
    const ok = '{"seq":2}';
    assert.deepEqual(run([frame(''), frame(ok)]).out, [ok]);
  });

  it('skips a frame over the limit without keeping it, names its request, and goes on', () => {
    const big = JSON.stringify({ seq: 7, type: 'request', command: 'writeMemory', arguments: { data: 'x'.repeat(500) } });
    const next = JSON.stringify({ seq: 8, type: 'request', command: 'threads' });
    const { out, oversized } = run(split(Buffer.concat([frame(big), frame(next)]), [3, 40, 300]));
    assert.deepEqual(oversized, [{ length: Buffer.byteLength(big), seq: 7, command: 'writeMemory' }]);
    assert.deepEqual(out, [next]);
  });

  it('reports a header without Content-Length and a header section that never ends', () => {
    const ok = '{"seq":1}';
    const r1 = run([Buffer.from('X-Nothing: 1\r\n\r\n'), frame(ok)]);
    assert.deepEqual([r1.bad, r1.out], [['a header without a valid Content-Length'], [ok]]);
    const r2 = run([Buffer.from('y'.repeat(5000)), Buffer.from('\r\n\r\n'), frame(ok)]);
    assert.equal(r2.bad[0], 'a header section longer than 4096 bytes');
    assert.deepEqual(r2.out, [ok]);
  });
});

describe('debug adapter: a message over its size limit (dist/adapter.js)', function () {
  this.timeout(60000);
  before(function () {
    this.timeout(120000);
    if (!fs.existsSync(ADAPTER)) execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
  });

  it('answers the request with an error, keeps nothing, and answers the next request', async () => {
    const proc = spawn(process.execPath, [ADAPTER], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    proc.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    // 65 MiB announced and sent in 1 MiB pieces: over the 64 MiB limit.
    const size = 65 * 1024 * 1024;
    const head = '{"seq":3,"type":"request","command":"evaluate","arguments":{"expression":"';
    const tail = '"}}';
    proc.stdin.write(`Content-Length: ${size}\r\n\r\n${head}`);
    const piece = Buffer.alloc(1024 * 1024, 0x61);
    let left = size - head.length - tail.length;
    while (left > 0) {
      const n = Math.min(left, piece.length);
      if (!proc.stdin.write(piece.subarray(0, n))) await new Promise((r) => proc.stdin.once('drain', r));
      left -= n;
    }
    proc.stdin.write(tail);
    proc.stdin.write(frame(JSON.stringify({ seq: 4, type: 'request', command: 'initialize', arguments: { adapterID: 'hmm', pathFormat: 'path' } })));
    const deadline = Date.now() + 30000;
    while (!out.includes('"command":"initialize"') && Date.now() < deadline && proc.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    const alive = proc.exitCode === null;
    proc.kill();
    assert.ok(alive, `the adapter exited (${String(proc.exitCode)}); stderr: ${err}`);
    assert.match(out, /"request_seq":3,"command":"evaluate","success":false,"message":"a DAP message of 68157440 bytes is over the adapter's limit/);
    assert.match(out, /"request_seq":4,"command":"initialize","success":true/);
    assert.match(err, /over the adapter's limit of 67108864 bytes; it was skipped/);
  });
});
