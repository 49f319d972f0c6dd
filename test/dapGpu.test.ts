// GPU jobs in the debugger, over real DAP: jobs are threads, a device-fault breakpoint stops
// inside the job that faulted and shows the fault batch, prefetches are pending migrations.

import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';

const root = path.resolve(__dirname, '../..');
const adapter = path.join(root, 'dist/adapter.js');

const SCRIPT = `device gpu0
kernel fill(x) {
  compute 5us
  write x = i
}
a = mmap 600 pages rw
b = mmap 64 pages rw
write b = i
launch fill(a) on gpu0 as job
prefetch b to gpu0
compute 1us
wait all
expect a == i
`;

describe('GPU jobs over DAP', () => {
  let dc: DebugClient;
  let dir: string;
  let program: string;

  before(function () {
    this.timeout(120_000);
    if (!fs.existsSync(adapter)) execFileSync('node', ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hmm-dap-gpu-'));
    program = path.join(dir, 'gpu.hmm');
    fs.writeFileSync(program, SCRIPT);
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  beforeEach(async () => {
    dc = new DebugClient('node', adapter, 'hmm');
    dc.defaultTimeout = 15_000;
    await dc.start();
  });

  afterEach(async () => {
    await dc.stop();
  });

  async function start(filters: DebugProtocol.ExceptionFilterOptions[], lines: number[] = []): Promise<DebugProtocol.StoppedEvent> {
    await dc.initializeRequest();
    const stopped = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.launch({ program });
    await dc.setBreakpointsRequest({ source: { path: program }, breakpoints: lines.map((line) => ({ line })) });
    await dc.setExceptionBreakpointsRequest({ filters: [], filterOptions: filters });
    await dc.configurationDoneRequest();
    return stopped;
  }

  it('a device-fault breakpoint stops inside the GPU job, whose thread shows the kernel line and the fault batch', async () => {
    const stop = await start([{ filterId: 'deviceFault', condition: 'gpu0' }]);
    assert.equal(stop.body.reason, 'exception');
    // What VS Code needs to focus the stopped thread's top frame among two threads: its id, every
    // thread stopped, and no hint to keep the focus where it was.
    assert.equal(typeof stop.body.threadId, 'number');
    assert.equal(stop.body.allThreadsStopped, true);
    assert.notEqual(stop.body.preserveFocusHint, true);
    const threadId = stop.body.threadId!;
    const threads = (await dc.threadsRequest()).body.threads;
    const jobThread = threads.find((t) => t.id === threadId);
    assert.ok(jobThread, `stopped thread ${threadId} among ${JSON.stringify(threads)}`);
    assert.match(jobThread.name, /^GPU job on gpu0/);
    assert.ok(threads.some((t) => t.name === 'main'), 'the CPU thread is listed too');
    const frames = (await dc.stackTraceRequest({ threadId })).body.stackFrames;
    const kernelFrame = frames.find((f) => f.name.startsWith('kernel fill'));
    assert.ok(kernelFrame, frames.map((f) => f.name).join(' | '));
    assert.equal(kernelFrame.line, 4, 'the write statement of the kernel');
    assert.ok(frames.some((f) => f.name.startsWith('service_fault_batch')), 'paused inside the batch service');
    const scopes = (await dc.scopesRequest({ frameId: frames[0]!.id })).body.scopes;
    const batch = scopes.find((s) => s.name.startsWith('Fault batch'));
    assert.ok(batch, scopes.map((s) => s.name).join(', '));
    assert.match(batch.name, /Fault batch \(256 pages, job\)/);
    const info = await dc.exceptionInfoRequest({ threadId });
    assert.match(info.body.description ?? '', /gpu0 device fault \(write\) a\[0\.\.256\]/);
  });

  it('F10 on a GPU job\'s thread steps that job, action by action, and stays on its thread until it ends', async () => {
    const stop = await start([{ filterId: 'deviceFault', condition: 'gpu0' }]);
    const jobThread = stop.body.threadId!;
    // steps only from here: a device-fault stop at the next batch would be a breakpoint, not a step
    await dc.setExceptionBreakpointsRequest({ filters: [] });
    const seen: string[] = [];
    let ended = false;
    for (let i = 0; i < 12 && !ended; i++) {
      const next = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
      await dc.nextRequest({ threadId: jobThread });
      const s = (await next).body;
      if (s.description === 'GPU job ended') {
        ended = true;
        assert.notEqual(s.threadId, jobThread, 'after its end the CPU thread has the focus');
        break;
      }
      assert.equal(s.threadId, jobThread, `step ${i}: the stop stays on the job's thread (${s.description ?? ''})`);
      const frames = (await dc.stackTraceRequest({ threadId: jobThread })).body.stackFrames;
      assert.match(frames[0]!.name, /^gpu_job \(job: /, frames.map((f) => f.name).join(' | '));
      assert.ok(!frames.some((f) => f.name.startsWith('wait')), `the CPU's wait is not the job's frame: ${frames.map((f) => f.name).join(' | ')}`);
      seen.push(frames[0]!.name);
      if (i === 0) {
        // the CPU thread, meanwhile: inside `wait all`, at its line
        const main = (await dc.threadsRequest()).body.threads.find((t) => t.name === 'main')!;
        const cpu = (await dc.stackTraceRequest({ threadId: main.id })).body.stackFrames;
        assert.match(cpu[0]!.name, /^wait \(all\)/, cpu.map((f) => f.name).join(' | '));
        assert.equal(cpu[0]!.line, 12, 'the line of `wait all`');
      }
    }
    assert.ok(seen.length >= 3, `several actions of the job: ${seen.join(' | ')}`);
    assert.equal(new Set(seen).size, seen.length, `each step is a new action: ${seen.join(' | ')}`);
    assert.ok(seen.some((n) => /write a\[256\.\.512\] \(mapped\)/.test(n)) && seen.some((n) => /write a\[512\.\.600\]: fault batch/.test(n)), seen.join(' | '));
    assert.ok(ended, `the job ended within 12 steps: ${seen.join(' | ')}`);
  });

  it('GPU jobs scope and pending prefetch while the job runs; the report ends the session', async () => {
    const stop = await start([], [11]);
    assert.equal(stop.body.reason, 'breakpoint');
    const threadId = stop.body.threadId!;
    const frames = (await dc.stackTraceRequest({ threadId })).body.stackFrames;
    const scopes = (await dc.scopesRequest({ frameId: frames[0]!.id })).body.scopes;
    const jobs = scopes.find((s) => s.name === 'GPU jobs');
    assert.ok(jobs);
    const vars = (await dc.variablesRequest({ variablesReference: jobs.variablesReference })).body.variables;
    assert.ok(vars.some((v) => v.name === 'job' && /fill on gpu0: running/.test(v.value)), JSON.stringify(vars));
    const pending = await dc.customRequest('hmm/migrations');
    const body = pending.body as { migrations: { cause: string; device: string }[] };
    assert.ok(body.migrations.some((m) => m.cause === 'prefetch' && m.device === 'gpu0'), JSON.stringify(body));
    const report = await dc.evaluateRequest({ expression: 'report', context: 'repl' });
    assert.match(report.body.result, /placement report/);
    const outputs: string[] = [];
    dc.on('output', (e: DebugProtocol.OutputEvent) => outputs.push(e.body.output));
    const terminated = dc.waitForEvent('terminated');
    await dc.continueRequest({ threadId });
    await terminated;
    assert.ok(outputs.some((o) => /placement report: .* simulated/.test(o)), outputs.join(''));
  });
});
