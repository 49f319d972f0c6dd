// Layer: tests of the debug adapter under hostile clients and runaway scripts (issue 12), over
// real DAP traffic to `node dist/adapter.js`. Each test is one class of finding: the request is
// answered (an error response when its arguments are wrong), nothing bad is kept for later
// requests, and the adapter goes on answering.

import * as assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';

const ROOT = path.resolve(__dirname, '../..');
const ADAPTER = path.join(ROOT, 'dist', 'adapter.js');

type RunEnd = { kind: 'stopped'; body: DebugProtocol.StoppedEvent['body'] } | { kind: 'terminated' };

describe('debug adapter under hostile requests and runaway scripts (dist/adapter.js)', function () {
  this.timeout(30000);
  let dc: DebugClient;
  let dir = '';
  let stderr: DebugProtocol.OutputEvent[] = [];

  before(function () {
    this.timeout(120000);
    if (!fs.existsSync(ADAPTER)) execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hmm-dap-rel-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  beforeEach(async () => {
    dc = new DebugClient('node', ADAPTER, 'hmm');
    dc.defaultTimeout = 10000;
    stderr = [];
    await dc.start();
    dc.on('output', (e: DebugProtocol.OutputEvent) => { if (e.body.category === 'stderr') stderr.push(e); });
  });

  afterEach(async () => {
    const proc = (dc as unknown as { _adapterProcess?: ChildProcess | null })._adapterProcess;
    if (proc === null || proc === undefined || proc.exitCode !== null) return;
    const stopped = await Promise.race([dc.stop().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 3000))]);
    if (!stopped) proc.kill();
  });

  const script = (name: string, lines: readonly string[]): string => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, lines.join('\n') + '\n');
    return f;
  };

  function nextRunEnd(timeout = 15000): Promise<RunEnd> {
    return new Promise((resolve, reject) => {
      const onStopped = (e: DebugProtocol.StoppedEvent): void => { done(); resolve({ kind: 'stopped', body: e.body }); };
      const onTerminated = (): void => { done(); resolve({ kind: 'terminated' }); };
      const timer = setTimeout(() => { done(); reject(new Error(`neither stopped nor terminated within ${timeout} ms`)); }, timeout);
      const done = (): void => {
        clearTimeout(timer);
        dc.off('stopped', onStopped);
        dc.off('terminated', onTerminated);
      };
      dc.on('stopped', onStopped);
      dc.on('terminated', onTerminated);
    });
  }

  async function runTo(request: () => Promise<unknown>): Promise<RunEnd> {
    const end = nextRunEnd();
    await request();
    return end;
  }

  /** A request that must get an error response; returns its message. */
  async function refused(p: Promise<unknown>): Promise<string> {
    try {
      await p;
    } catch (e) {
      return (e as Error).message;
    }
    assert.fail('the request succeeded');
  }

  async function launch(program: string, extra: Record<string, unknown> = {}): Promise<RunEnd> {
    await dc.initializeRequest();
    const initialized = dc.waitForEvent('initialized');
    await dc.launchRequest({ program, ...extra } as DebugProtocol.LaunchRequestArguments);
    await initialized;
    return runTo(() => dc.configurationDoneRequest());
  }

  const threadId = async (): Promise<number> => (await dc.threadsRequest()).body.threads[0]!.id;

  it('refuses badly typed breakpoint and filter arguments before launch, and the launch runs clean', async () => {
    const f = script('ok.hmm', ['a = mmap 4 pages rw', 'write a = 1', 'expect a == 1']);
    await dc.initializeRequest();
    const bad: [string, unknown][] = [
      ['setBreakpoints', { source: { path: f }, breakpoints: [{ line: 2, condition: null }] }],
      ['setBreakpoints', { source: { path: f }, breakpoints: [{ line: 2, condition: 5 }] }],
      ['setBreakpoints', { source: { path: f }, breakpoints: [{ line: 2, condition: {} }] }],
      ['setBreakpoints', { source: { path: f }, breakpoints: 'str' }],
      ['setBreakpoints', { source: { path: f }, breakpoints: [{ line: 2, logMessage: 123 }] }],
      ['setBreakpoints', { source: { path: f }, breakpoints: [{ line: -1 }] }],
      ['setBreakpoints', { source: { path: f }, breakpoints: [{ line: 2, hitCondition: 'x'.repeat(100000) }] }],
      ['setBreakpoints', null],
      ['setExceptionBreakpoints', { filters: [], filterOptions: [{ filterId: 'deviceFault', condition: 7 }] }],
      ['setExceptionBreakpoints', { filters: 'failure' }],
      ['setDataBreakpoints', { breakpoints: [{ dataId: 42 }] }],
    ];
    for (const [command, args] of bad) {
      const msg = await refused(dc.customRequest(command, args));
      assert.match(msg, new RegExp(`^${command}: '`), `${command} ${JSON.stringify(args).slice(0, 80)}: ${msg}`);
    }
    const initialized = dc.waitForEvent('initialized');
    await dc.launchRequest({ program: f } as DebugProtocol.LaunchRequestArguments);
    await initialized;
    const end = await runTo(() => dc.configurationDoneRequest());
    assert.equal(end.kind, 'terminated');
    assert.deepEqual(stderr.map((e) => e.body.output), []);
  });

  it('refuses badly typed arguments of every kind of request while stopped, and goes on answering', async () => {
    const f = script('stop.hmm', ['a = mmap 16 pages rw', 'write a = 1', 'write a = 2']);
    const first = await launch(f, { stopOnEntry: true });
    assert.equal(first.kind, 'stopped');
    const bad: [string, unknown][] = [
      ['continue', { threadId: 'x' }], ['next', {}], ['stepIn', null], ['stepBack', { threadId: 1.5 }],
      ['reverseContinue', { threadId: [] }], ['pause', { threadId: null }],
      ['stackTrace', { threadId: 1, startFrame: -1 }], ['stackTrace', { threadId: 1, levels: 'all' }],
      ['scopes', { frameId: 'top' }], ['variables', { variablesReference: -1 }],
      ['variables', { variablesReference: 1, start: -50000000, count: 50000000 }],
      ['evaluate', { expression: 5 }], ['evaluate', { expression: 'a'.repeat(100000) }],
      ['completions', { text: 'pa', column: 0 }], ['readMemory', { memoryReference: 'a', count: -1 }],
      ['writeMemory', { memoryReference: 'a', data: 7 }], ['dataBreakpointInfo', { name: null }],
      ['exceptionInfo', {}], ['hmm/residency', { maxRuns: 0 }], ['hmm/notifiers', { limit: 'all' }],
      ['restart', { arguments: 'again' }], ['disconnect', { restart: 'no' }], ['launch', { program: 7 }],
    ];
    for (const [command, args] of bad) {
      const msg = await refused(dc.customRequest(command, args));
      assert.match(msg, new RegExp(`^${command}: `), `${command}: ${msg}`);
    }
    // Still there, still stopped where it was, and runs on.
    const t = await threadId();
    const st = await dc.stackTraceRequest({ threadId: t });
    assert.equal(st.body.stackFrames[0]!.line, 1);
    const end = await runTo(() => dc.continueRequest({ threadId: t }));
    assert.equal(end.kind, 'terminated');
  });

  it('variables and event paging are clamped: a huge count on a 16-page mapping gives its 16 pages', async () => {
    const f = script('pages.hmm', ['a = mmap 16 pages rw', 'write a = 1']);
    await launch(f, { stopOnEntry: true });
    await runTo(() => dc.nextRequest({ threadId: 1 }));
    const frame = (await dc.stackTraceRequest({ threadId: await threadId() })).body.stackFrames[0]!;
    const scopes = (await dc.scopesRequest({ frameId: frame.id })).body.scopes;
    let mapping: DebugProtocol.Variable | undefined;
    for (const s of scopes) {
      mapping ??= (await dc.variablesRequest({ variablesReference: s.variablesReference })).body.variables.find((v) => v.name === 'a');
    }
    assert.ok(mapping !== undefined && mapping.variablesReference > 0, 'no variable a');
    const all = (await dc.variablesRequest({ variablesReference: mapping.variablesReference, start: 0, count: 50000000 })).body.variables;
    assert.equal(all.length, 16);
    const past = (await dc.variablesRequest({ variablesReference: mapping.variablesReference, start: 50000000, count: 0 })).body.variables;
    assert.equal(past.length, 0);
    // The REPL's event list is paged the same way.
    const events = await dc.evaluateRequest({ expression: 'events 100000000', context: 'repl', frameId: frame.id });
    assert.ok(events.body.result.split('\n').length <= 10000);
    assert.match(await refused(dc.evaluateRequest({ expression: 'events -5', context: 'repl', frameId: frame.id })), /N must be a whole number above 0/);
  });

  it('a data breakpoint on a 1023 GiB mapping is set, and stops when the mapping changes', async () => {
    const f = script('huge.hmm', ['a = mmap 1023 GiB rw', 'write a[5] = 1', 'write a[7] = 2']);
    await launch(f, { stopOnEntry: true });
    await runTo(() => dc.nextRequest({ threadId: 1 }));
    const set = await dc.setDataBreakpointsRequest({ breakpoints: [{ dataId: 'a' }] });
    assert.equal(set.body.breakpoints[0]!.verified, true, set.body.breakpoints[0]!.message);
    const stop = await runTo(async () => dc.continueRequest({ threadId: await threadId() }));
    assert.equal(stop.kind, 'stopped');
    if (stop.kind === 'stopped') assert.equal(stop.body.reason, 'data breakpoint');
  });

  it('pause is answered inside one long statement (a write over 1023 GiB), and the run goes on', async () => {
    const f = script('long.hmm', ['a = mmap 1023 GiB rw', 'write a = i']);
    await launch(f, { stopOnEntry: true });
    const t = await threadId();
    const stop = nextRunEnd();
    await dc.continueRequest({ threadId: t });
    await new Promise((r) => setTimeout(r, 200));
    await dc.pauseRequest({ threadId: t });
    const end = await stop;
    assert.equal(end.kind, 'stopped');
    if (end.kind === 'stopped') assert.equal(end.body.reason, 'pause');
    assert.equal((await dc.stackTraceRequest({ threadId: t })).body.stackFrames.at(-1)!.line, 2);
    // Replay back to the start runs in slices too: pause it, and the adapter answers meanwhile.
    const back = nextRunEnd();
    await dc.reverseContinueRequest({ threadId: t });
    assert.ok((await dc.threadsRequest()).body.threads.length > 0);
    await dc.pauseRequest({ threadId: t });
    const r = await back;
    assert.equal(r.kind, 'stopped');
  });

  it('a launch timeout stops a runaway loop with a runtime error stop, and the adapter answers after', async () => {
    const f = script('loop.hmm', ['a = mmap 1 page rw', 'repeat 1000000000 as k {', '  write a = k', '}']);
    const end = await launch(f, { timeout: 0.5 });
    assert.equal(end.kind, 'stopped');
    if (end.kind === 'stopped') {
      assert.equal(end.body.reason, 'exception');
      assert.match(end.body.text ?? '', /stopped: the time limit of 0.5 s was reached/);
    }
    const info = await dc.exceptionInfoRequest({ threadId: await threadId() });
    assert.equal(info.body.details?.typeName, 'runtime error');
    const fin = await runTo(async () => dc.continueRequest({ threadId: await threadId() }));
    assert.equal(fin.kind, 'terminated');
    assert.match(stderr.map((e) => e.body.output).join(''), /loop\.hmm:3:3: stopped: the time limit/);
  });

  it('empty nested loops stay pausable', async () => {
    const f = script('empty.hmm', ['repeat 1000000000 {', '  repeat 1000000000 {', '  }', '}']);
    await launch(f, { stopOnEntry: true });
    const t = await threadId();
    const stop = nextRunEnd();
    await dc.continueRequest({ threadId: t });
    await new Promise((r) => setTimeout(r, 100));
    await dc.pauseRequest({ threadId: t });
    const end = await stop;
    assert.equal(end.kind, 'stopped');
    const back = await runTo(() => dc.stepBackRequest({ threadId: t }));
    assert.equal(back.kind, 'stopped');
  });

  it('a kernel access the kernel refuses ends the job with its error as an exception stop', async () => {
    const f = script('refused.hmm', ['device gpu0', 'a = mmap 16 pages none', 'kernel k(x) {', '  read x', '}', 'launch k(a) on gpu0', 'wait all']);
    const end = await launch(f);
    assert.equal(end.kind, 'stopped');
    if (end.kind === 'stopped') {
      assert.equal(end.body.reason, 'exception');
      assert.match(end.body.text ?? '', /GPU job k#1 on gpu0: read of a\[0\] failed: hmm_range_fault failed with EFAULT \(the mapping is not readable\)/);
    }
    const fin = await runTo(async () => dc.continueRequest({ threadId: await threadId() }));
    assert.equal(fin.kind, 'terminated');
  });

  it('a GPU job of a forked child ends when the child exits; the parent runs on', async () => {
    const f = script('fork.hmm', [
      'device gpu0', 'a = mmap 16 pages rw', 'kernel k(x) {', '  write x = 1', '  compute 10 us', '  read x', '}',
      'fork {', '  launch k(a) on gpu0', '}', 'write a = 2', 'expect a == 2', 'wait all',
    ]);
    const end = await launch(f);
    assert.equal(end.kind, 'terminated');
    assert.deepEqual(stderr.map((e) => e.body.output), []);
  });

  it('launch refuses a device file, a directory and a too-deeply nested script with a clear message', async () => {
    await dc.initializeRequest();
    assert.match(await refused(dc.launchRequest({ program: '/dev/zero' } as DebugProtocol.LaunchRequestArguments)), /not a regular file/);
    assert.match(await refused(dc.launchRequest({ program: dir } as DebugProtocol.LaunchRequestArguments)), /it is a directory/);
    const deep = script('deep.hmm', ['a = mmap 1 page rw', `write a = ${'('.repeat(3000)}1${')'.repeat(3000)}`]);
    assert.match(await refused(dc.launchRequest({ program: deep } as DebugProtocol.LaunchRequestArguments)), /rejected: 1 problem\(s\), first: line 2: expression is nested too deeply/);
    assert.match(await refused(dc.launchRequest({ program: deep, timeout: -1 } as DebugProtocol.LaunchRequestArguments)), /timeout/);
  });
});

describe('debug adapter: frames that are not JSON', function () {
  this.timeout(20000);

  it('logs why on stderr, skips the frame and answers the next request', async () => {
    const proc = spawn(process.execPath, [ADAPTER], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    proc.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const frame = (body: string): string => `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    proc.stdin.write(frame('{not json'));
    proc.stdin.write(frame('null'));
    proc.stdin.write(frame(JSON.stringify({ seq: 1, type: 'request', command: 'initialize', arguments: { adapterID: 'hmm', pathFormat: 'path' } })));
    const deadline = Date.now() + 10000;
    while (!out.includes('"command":"initialize"') && Date.now() < deadline && proc.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    const alive = proc.exitCode === null;
    proc.kill();
    assert.ok(alive, `the adapter exited (${String(proc.exitCode)}); stderr: ${err}`);
    assert.match(out, /"command":"initialize","success":true/);
    assert.match(err, /^hmm-debug adapter: Error handling data: .*JSON/m);
  });
});
