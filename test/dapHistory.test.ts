// Rewinding and reloading real state, over real DAP (node dist/adapter.js): Restart after the
// script was edited runs the new text; Step Back past a writeMemory restores the old bytes, and
// running forward again redoes the write at its place.

import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';

const root = path.resolve(__dirname, '../..');
const adapter = path.join(root, 'dist/adapter.js');

const SCRIPT = `a = mmap 2 pages rw
write a = i
print "one"
print "two"
print "three"
`;

describe('restart and step back rewind or reload real state (DAP)', function () {
  this.timeout(20_000);
  let dc: DebugClient;
  let dir: string;
  let program: string;
  let outputs: string[];

  before(function () {
    this.timeout(120_000);
    if (!fs.existsSync(adapter)) execFileSync('node', ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hmm-dap-history-'));
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  beforeEach(async () => {
    program = path.join(dir, `s${Date.now()}.hmm`);
    fs.writeFileSync(program, SCRIPT);
    dc = new DebugClient('node', adapter, 'hmm');
    dc.defaultTimeout = 15_000;
    outputs = [];
    dc.on('output', (e: DebugProtocol.OutputEvent) => outputs.push(e.body.output));
    await dc.start();
  });

  afterEach(async () => {
    await dc.stop();
  });

  async function launchTo(line: number): Promise<number> {
    await dc.initializeRequest();
    const initialized = dc.waitForEvent('initialized');
    await dc.launchRequest({ program } as DebugProtocol.LaunchRequestArguments);
    await initialized;
    await dc.setBreakpointsRequest({ source: { path: program }, breakpoints: [{ line }] });
    const stopped = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.configurationDoneRequest();
    return (await stopped).body.threadId!;
  }

  async function topLine(threadId: number): Promise<number> {
    return (await dc.stackTraceRequest({ threadId })).body.stackFrames[0]!.line;
  }

  async function word(offset: number): Promise<number> {
    const r = await dc.customRequest('readMemory', { memoryReference: 'a', offset, count: 4 }) as DebugProtocol.ReadMemoryResponse;
    return Buffer.from(r.body!.data!, 'base64').readInt32LE(0);
  }

  async function request(send: () => Promise<unknown>): Promise<void> {
    const stopped = dc.waitForEvent('stopped');
    await send();
    await stopped;
  }

  it('Restart after an edit runs the new text', async () => {
    const threadId = await launchTo(4);
    assert.ok(outputs.some((o) => o === 'one\n'), outputs.join(''));
    fs.writeFileSync(program, SCRIPT.replace('print "one"', 'print "edited"'));
    outputs.length = 0;
    await request(() => dc.customRequest('restart'));
    assert.equal(await topLine(threadId), 4);
    assert.ok(outputs.some((o) => o === 'edited\n'), `the new text ran: ${outputs.join('')}`);
    assert.ok(!outputs.some((o) => o === 'one\n'), 'the old text did not run');
    assert.ok(outputs.some((o) => /changed: restarting with the new text/.test(o)), outputs.join(''));
  });

  it('Restart of an edited script that no longer checks fails with the problem, and the session stays', async () => {
    const threadId = await launchTo(4);
    fs.writeFileSync(program, SCRIPT.replace('print "one"', 'prnt "one"'));
    await assert.rejects(dc.customRequest('restart'), /rejected: 1 problem\(s\), first: line 3/);
    assert.equal(await topLine(threadId), 4, 'still stopped where it was');
  });

  it('Step Back past a writeMemory restores the bytes; going forward again redoes the write', async () => {
    const threadId = await launchTo(4);
    assert.equal(await word(8), 2, 'word 2 of page 0 holds 2 (write a = i)');
    const data = Buffer.alloc(4);
    data.writeInt32LE(-7, 0);
    await dc.customRequest('writeMemory', { memoryReference: 'a', offset: 8, data: data.toString('base64') });
    assert.equal(await word(8), -7);
    await request(() => dc.nextRequest({ threadId }));
    assert.equal(await topLine(threadId), 5);
    assert.equal(await word(8), -7, 'the write stays as the run goes on');
    await request(() => dc.stepBackRequest({ threadId }));
    assert.equal(await topLine(threadId), 4);
    assert.equal(await word(8), -7, 'back at the position of the write: the state seen there had it');
    await request(() => dc.stepBackRequest({ threadId }));
    assert.equal(await topLine(threadId), 3);
    assert.equal(await word(8), 2, 'before the write: the old bytes');
    await request(() => dc.nextRequest({ threadId }));
    assert.equal(await topLine(threadId), 4);
    assert.equal(await word(8), -7, 'replayed past its position: the write is redone');
    await request(() => dc.nextRequest({ threadId }));
    await request(() => dc.reverseContinueRequest({ threadId }));
    assert.equal(await topLine(threadId), 4, 'reverse continue back to the breakpoint');
    assert.equal(await word(8), -7, 'its replay from the start redid the write');
  });
});
