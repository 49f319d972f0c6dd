// Layer: tests of the debug adapter over real DAP traffic. Spawns `node dist/adapter.js` with
// @vscode/debugadapter-testsupport's DebugClient and drives it with the fixture scripts in
// test/fixtures/dap. Imports nothing from src: the adapter is a black box speaking DAP on stdio.

import * as assert from 'node:assert/strict';
import { type ChildProcess, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';

const ROOT = path.resolve(__dirname, '../..');
const ADAPTER = path.join(ROOT, 'dist', 'adapter.js');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'dap');

const fixture = (name: string): string => path.join(FIXTURES, name);

/** The 1-based line of the first line of a fixture that contains `text`. */
function lineOf(name: string, text: string): number {
  const lines = fs.readFileSync(fixture(name), 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes(text));
  assert.ok(i >= 0, `${name} has no line containing '${text}'`);
  return i + 1;
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A request's answer, or a clear failure when none comes (a crashed adapter never answers). */
async function answered<T>(p: Promise<T>, what: string, ms = 3000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer to ${what} within ${ms} ms: the adapter crashed or hangs`)), ms); });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

interface StateChanged {
  step: number;
  reason: string;
  line?: number;
}

type RunEnd =
  | { kind: 'stopped'; body: DebugProtocol.StoppedEvent['body'] }
  | { kind: 'terminated' };

interface LaunchOptions {
  stopOnEntry?: boolean;
  breakpoints?: DebugProtocol.SourceBreakpoint[];
  /** setExceptionBreakpoints arguments; not sent when absent (the adapter's defaults apply). */
  exceptions?: DebugProtocol.SetExceptionBreakpointsArguments;
}

describe('debug adapter over DAP (dist/adapter.js)', function () {
  this.timeout(15000);

  let dc: DebugClient;
  let outputs: DebugProtocol.OutputEvent[];
  let stateChanges: StateChanged[];

  before(function () {
    this.timeout(120000);
    if (!fs.existsSync(ADAPTER)) execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
  });

  beforeEach(async () => {
    dc = new DebugClient('node', ADAPTER, 'hmm');
    dc.defaultTimeout = 8000;
    outputs = [];
    await dc.start();
    stateChanges = [];
    dc.on('output', (e: DebugProtocol.OutputEvent) => outputs.push(e));
    dc.on('hmm/stateChanged', (e: DebugProtocol.Event) => stateChanges.push(e.body as StateChanged));
  });

  afterEach(async () => {
    // An adapter that died (or hangs) never answers disconnect: do not wait for it forever.
    const proc = (dc as unknown as { _adapterProcess?: ChildProcess | null })._adapterProcess;
    if (proc !== null && proc !== undefined && proc.exitCode !== null) return;
    const stoppedInTime = await Promise.race([dc.stop().then(() => true), delay(3000).then(() => false)]);
    if (!stoppedInTime) proc?.kill();
  });

  // ---- helpers ----------------------------------------------------------------------------

  /** The next stopped or terminated event; listen before sending the request that causes it. */
  function nextRunEnd(timeout = 8000): Promise<RunEnd> {
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

  /** Sends a request and waits for the stop (or end) it leads to. */
  async function after(request: () => Promise<unknown>): Promise<RunEnd> {
    const end = nextRunEnd();
    try {
      await request();
    } catch (e) {
      end.catch(() => undefined); // the request failed: nobody waits for the stop any more
      throw e;
    }
    return end;
  }

  function stopped(r: RunEnd, reason?: string): DebugProtocol.StoppedEvent['body'] {
    assert.equal(r.kind, 'stopped', 'expected a stopped event, the run ended');
    if (r.kind !== 'stopped') throw new Error('unreachable');
    if (reason !== undefined) assert.equal(r.body.reason, reason, `stop reason (description: ${r.body.description ?? ''})`);
    return r.body;
  }

  /** initialize, launch, breakpoints, configurationDone; resolves with the first stop (or the end). */
  async function launch(name: string, opts: LaunchOptions = {}): Promise<RunEnd> {
    await dc.initializeRequest();
    const initialized = dc.waitForEvent('initialized');
    await dc.launchRequest({ program: fixture(name), stopOnEntry: opts.stopOnEntry ?? false } as DebugProtocol.LaunchRequestArguments);
    await initialized;
    if (opts.breakpoints !== undefined) {
      const r = await dc.setBreakpointsRequest({ source: { path: fixture(name) }, breakpoints: opts.breakpoints });
      for (const b of r.body.breakpoints) assert.equal(b.verified, true, `breakpoint at line ${b.line ?? '?'}: ${b.message ?? ''}`);
    }
    if (opts.exceptions !== undefined) await dc.setExceptionBreakpointsRequest(opts.exceptions);
    return after(() => dc.configurationDoneRequest());
  }

  async function topFrame(): Promise<DebugProtocol.StackFrame> {
    const st = await dc.stackTraceRequest({ threadId: await mainThread() });
    const f = st.body.stackFrames[0];
    assert.ok(f !== undefined, 'no stack frames');
    return f;
  }

  async function frames(): Promise<DebugProtocol.StackFrame[]> {
    return (await dc.stackTraceRequest({ threadId: await mainThread() })).body.stackFrames;
  }

  async function mainThread(): Promise<number> {
    const t = (await dc.threadsRequest()).body.threads.find((x) => x.name === 'main');
    assert.ok(t !== undefined, 'no thread named main');
    return t.id;
  }

  async function line(): Promise<number> {
    return (await topFrame()).line;
  }

  async function scope(prefix: string): Promise<DebugProtocol.Scope> {
    const f = await topFrame();
    const scopes = (await dc.scopesRequest({ frameId: f.id })).body.scopes;
    const s = scopes.find((x) => x.name.startsWith(prefix));
    assert.ok(s !== undefined, `no scope '${prefix}…' among ${scopes.map((x) => x.name).join(', ')}`);
    return s;
  }

  async function vars(ref: number, extra: Partial<DebugProtocol.VariablesArguments> = {}): Promise<DebugProtocol.Variable[]> {
    return (await dc.variablesRequest({ variablesReference: ref, ...extra })).body.variables;
  }

  async function variable(scopePrefix: string, name: string): Promise<DebugProtocol.Variable> {
    const s = await scope(scopePrefix);
    const v = (await vars(s.variablesReference)).find((x) => x.name === name);
    assert.ok(v !== undefined, `no variable ${name} in scope ${s.name}`);
    return v;
  }

  async function evaluate(expression: string, context = 'repl'): Promise<string> {
    const f = await topFrame();
    return (await dc.evaluateRequest({ expression, context, frameId: f.id })).body.result;
  }

  async function next(): Promise<RunEnd> {
    const threadId = await mainThread();
    return after(() => dc.nextRequest({ threadId }));
  }

  async function stepIn(): Promise<RunEnd> {
    const threadId = await mainThread();
    return after(() => dc.stepInRequest({ threadId }));
  }

  async function cont(): Promise<RunEnd> {
    const threadId = await mainThread();
    return after(() => dc.continueRequest({ threadId }));
  }

  /** A request that must fail with an error response; returns its message. */
  async function rejects(p: Promise<unknown>): Promise<string> {
    try {
      await answered(p, 'the request');
    } catch (e) {
      assert.doesNotMatch((e as Error).message, /no answer to/);
      return (e as Error).message;
    }
    assert.fail('expected an error response');
  }

  /** The first hmm/stateChanged event (received so far or within 3 s) that satisfies `match`. */
  async function stateChange(match: (b: StateChanged) => boolean): Promise<StateChanged> {
    for (let waited = 0; waited < 3000; waited += 20) {
      const found = stateChanges.find(match);
      if (found !== undefined) return found;
      await delay(20);
    }
    assert.fail(`no matching hmm/stateChanged event among ${JSON.stringify(stateChanges)}`);
  }

  /** The adapter still answers requests. */
  async function alive(): Promise<void> {
    assert.ok((await answered(dc.threadsRequest(), 'a threads request')).success);
  }

  function words(base64: string): number[] {
    const b = Buffer.from(base64, 'base64');
    const out: number[] = [];
    for (let o = 0; o + 4 <= b.length; o += 4) out.push(b.readInt32LE(o));
    return out;
  }

  // ---- initialize -------------------------------------------------------------------------

  describe('initialize', () => {
    it('announces step back, data breakpoints, memory and the six event filters', async () => {
      const r = await dc.initializeRequest();
      const caps = r.body;
      assert.ok(caps !== undefined);
      assert.equal(caps.supportsStepBack, true);
      assert.equal(caps.supportsDataBreakpoints, true);
      assert.equal(caps.supportsFunctionBreakpoints, true);
      assert.equal(caps.supportsReadMemoryRequest, true);
      assert.equal(caps.supportsWriteMemoryRequest, true);
      assert.equal(caps.supportsConfigurationDoneRequest, true);
      assert.equal(caps.supportsConditionalBreakpoints, true);
      assert.equal(caps.supportsHitConditionalBreakpoints, true);
      assert.equal(caps.supportsLogPoints, true);
      assert.equal(caps.supportsExceptionInfoRequest, true);
      assert.equal(caps.supportsExceptionFilterOptions, true);
      const filters = caps.exceptionBreakpointFilters ?? [];
      assert.deepEqual(filters.map((f) => f.filter), ['deviceFault', 'cpuFaultOnDevice', 'migrationSkip', 'notifier', 'failure', 'invariant']);
      const defaults = Object.fromEntries(filters.map((f) => [f.filter, f.default === true]));
      assert.deepEqual(defaults, { deviceFault: false, cpuFaultOnDevice: false, migrationSkip: false, notifier: false, failure: true, invariant: true });
      for (const f of filters) assert.ok(f.label.length > 0, `filter ${f.filter} has a label`);
    });
  });

  // ---- launch errors ------------------------------------------------------------------------

  describe('launch errors', () => {
    it('a missing program is an error response, and the adapter keeps answering', async () => {
      await dc.initializeRequest();
      const msg = await rejects(answered(dc.launchRequest({ stopOnEntry: true } as DebugProtocol.LaunchRequestArguments), 'launch'));
      assert.match(msg, /'program'/);
      assert.ok((await answered(dc.threadsRequest(), 'threads')).success);
    });

    it('a launch request without any arguments is an error response, not a crash', async () => {
      await dc.initializeRequest();
      // DebugClient leaves out an empty `arguments` object, so this launch has none at all.
      const msg = await rejects(answered(dc.launchRequest({} as DebugProtocol.LaunchRequestArguments), 'launch without arguments'));
      assert.match(msg, /'program'/);
      assert.ok((await answered(dc.threadsRequest(), 'threads after the failed launch')).success);
    });

    it('an unreadable file is an error response naming the file', async () => {
      await dc.initializeRequest();
      const missing = fixture('does-not-exist.hmm');
      const msg = await rejects(dc.launchRequest({ program: missing } as DebugProtocol.LaunchRequestArguments));
      assert.match(msg, /cannot read/);
      assert.ok(msg.includes('does-not-exist.hmm'), msg);
      await alive();
    });

    it('stopOnEntry of the wrong type is an error response', async () => {
      await dc.initializeRequest();
      const msg = await rejects(dc.launchRequest({ program: fixture('basic.hmm'), stopOnEntry: 'yes' } as unknown as DebugProtocol.LaunchRequestArguments));
      assert.match(msg, /stopOnEntry/);
      await alive();
    });

    it('a script with several problems: one error response and a file:line:col output per problem', async () => {
      await dc.initializeRequest();
      const msg = await rejects(dc.launchRequest({ program: fixture('broken.hmm') } as DebugProtocol.LaunchRequestArguments));
      assert.match(msg, /broken\.hmm/);
      assert.match(msg, /3 problem/);
      const stderr = outputs.filter((o) => o.body.category === 'stderr').map((o) => o.body.output);
      const problems = stderr.filter((s) => /broken\.hmm:\d+:\d+: \S/.test(s));
      assert.equal(problems.length, 3, stderr.join(''));
      assert.deepEqual(problems.map((p) => Number(/broken\.hmm:(\d+):/.exec(p)![1])), [
        lineOf('broken.hmm', 'write a = = i'), lineOf('broken.hmm', 'frobnicate'), lineOf('broken.hmm', 'migrate b'),
      ]);
      // named relative to the script, each with a link to its line
      const linked = outputs.filter((o) => o.body.category === 'stderr' && /broken\.hmm:\d+/.test(o.body.output));
      assert.ok(linked.every((o) => o.body.output.startsWith('broken.hmm:') && o.body.source?.path === fixture('broken.hmm') && o.body.line === Number(/:(\d+):/.exec(o.body.output)![1])),
        JSON.stringify(linked.map((o) => o.body)));
      // Still alive: answers requests, and a later launch of a good script works.
      await alive();
      const initialized = dc.waitForEvent('initialized');
      await dc.launchRequest({ program: fixture('basic.hmm'), stopOnEntry: true } as DebugProtocol.LaunchRequestArguments);
      await initialized;
      stopped(await after(() => dc.configurationDoneRequest()), 'entry');
    });
  });

  // ---- entry, threads, line breakpoints -------------------------------------------------------

  describe('entry and line breakpoints', () => {
    it('stopOnEntry stops with reason entry at the first statement; threads has main', async () => {
      stopped(await launch('basic.hmm', { stopOnEntry: true }), 'entry');
      const threads = (await dc.threadsRequest()).body.threads;
      assert.deepEqual(threads.map((t) => t.name), ['main']);
      const f = await topFrame();
      assert.equal(f.line, lineOf('basic.hmm', 'device gpu0'));
      assert.equal(f.source?.path, fixture('basic.hmm'));
    });

    it('hitBreakpoint: a verified breakpoint on a statement line is hit', async () => {
      const l = lineOf('basic.hmm', 'migrate a to gpu0');
      await dc.hitBreakpoint({ program: fixture('basic.hmm') }, { path: fixture('basic.hmm'), line: l });
    });

    it('a breakpoint on a comment moves to the next statement line and is hit there', async () => {
      const comment = lineOf('basic.hmm', '# a comment');
      const target = lineOf('basic.hmm', 'migrate a to gpu0');
      assert.ok(target > comment + 1, 'the fixture has a blank line between the comment and the statement');
      await dc.initializeRequest();
      const initialized = dc.waitForEvent('initialized');
      await dc.launchRequest({ program: fixture('basic.hmm') } as DebugProtocol.LaunchRequestArguments);
      await initialized;
      const r = await dc.setBreakpointsRequest({ source: { path: fixture('basic.hmm') }, breakpoints: [{ line: comment }, { line: comment + 1 }] });
      assert.deepEqual(r.body.breakpoints.map((b) => [b.verified, b.line]), [[true, target], [true, target]]);
      const s = stopped(await after(() => dc.configurationDoneRequest()), 'breakpoint');
      assert.equal(await line(), target);
      const ids = r.body.breakpoints.map((b) => b.id);
      assert.ok(s.hitBreakpointIds !== undefined && ids.every((id) => id !== undefined && s.hitBreakpointIds!.includes(id)), `hitBreakpointIds ${JSON.stringify(s.hitBreakpointIds)}`);
    });

    it('breakpoints of another file do not apply to the script (VS Code sends one request per file)', async () => {
      const target = lineOf('basic.hmm', 'migrate a to system');
      await dc.initializeRequest();
      const initialized = dc.waitForEvent('initialized');
      await dc.launchRequest({ program: fixture('basic.hmm') } as DebugProtocol.LaunchRequestArguments);
      await initialized;
      const mine = await dc.setBreakpointsRequest({ source: { path: fixture('basic.hmm') }, breakpoints: [{ line: target }] });
      assert.deepEqual(mine.body.breakpoints.map((b) => [b.verified, b.line]), [[true, target]]);
      // sent after the script's: it must not replace them
      const other = await dc.setBreakpointsRequest({ source: { path: fixture('loop.hmm') }, breakpoints: [{ line: 2 }] });
      assert.deepEqual(other.body.breakpoints.map((b) => b.verified), [false]);
      assert.match(other.body.breakpoints[0]!.message ?? '', /not in basic\.hmm/);
      stopped(await after(() => dc.configurationDoneRequest()), 'breakpoint');
      assert.equal(await line(), target);
    });

    it('a condition on a line in a repeat loop stops in the right iteration (Loop variables c = 3)', async () => {
      const l = lineOf('loop.hmm', 'write a[c]');
      stopped(await launch('loop.hmm', { breakpoints: [{ line: l, condition: 'c == 3' }] }), 'breakpoint');
      assert.equal(await line(), l);
      const c = await variable('Loop variables', 'c');
      assert.equal(c.value, '3');
      // The stack shows the loop iteration.
      const fr = await frames();
      assert.ok(fr.some((f) => /iteration 4 of 5/.test(f.name)), fr.map((f) => f.name).join(' | '));
      // No further match: the run ends.
      assert.equal((await cont()).kind, 'terminated');
    });

    it('a hit count of 2 stops on the second pass only', async () => {
      const l = lineOf('loop.hmm', 'write a[c]');
      stopped(await launch('loop.hmm', { breakpoints: [{ line: l, hitCondition: '2' }] }), 'breakpoint');
      assert.equal((await variable('Loop variables', 'c')).value, '1');
    });

    it('a logpoint interpolates {c} into an output event and does not stop', async () => {
      const l = lineOf('loop.hmm', 'read a[c]');
      const end = await launch('loop.hmm', { breakpoints: [{ line: l, logMessage: 'reading page {c}' }] });
      assert.equal(end.kind, 'terminated');
      const logged = outputs.map((o) => o.body.output).filter((s) => s.startsWith('reading page'));
      assert.deepEqual(logged, [0, 1, 2, 3, 4].map((c) => `reading page ${c}\n`));
    });

    it('an invalid condition, a bad hit count and a line past the end are unverified breakpoints', async () => {
      stopped(await launch('loop.hmm', { stopOnEntry: true }), 'entry');
      const l = lineOf('loop.hmm', 'write a[c]');
      const r = await dc.setBreakpointsRequest({
        source: { path: fixture('loop.hmm') },
        breakpoints: [{ line: l, condition: 'c ==' }, { line: l, hitCondition: 'often' }, { line: 999 }, { line: l }],
      });
      assert.deepEqual(r.body.breakpoints.map((b) => b.verified), [false, false, false, true]);
      for (const b of r.body.breakpoints.slice(0, 3)) assert.ok((b.message ?? '').length > 0, 'an unverified breakpoint says why');
    });
  });

  // ---- stepping ------------------------------------------------------------------------------

  describe('stepping', () => {
    it('step over goes statement by statement, and continue runs to the end (terminated)', async () => {
      stopped(await launch('basic.hmm', { stopOnEntry: true }), 'entry');
      stopped(await next(), 'step');
      assert.equal(await line(), lineOf('basic.hmm', 'a = mmap'));
      stopped(await next(), 'step');
      assert.equal(await line(), lineOf('basic.hmm', 'write a = i'));
      stopped(await next(), 'step');
      // Over the comment and the blank line.
      assert.equal(await line(), lineOf('basic.hmm', 'migrate a to gpu0'));
      // Step over a migrate does not stop in kernel frames.
      stopped(await next(), 'step');
      assert.equal(await line(), lineOf('basic.hmm', 'expect a[0] is device gpu0'));
      assert.equal((await frames()).length, 1);
      const terminated = dc.waitForEvent('terminated');
      await dc.continueRequest({ threadId: await mainThread() });
      await terminated;
      const summary = outputs.map((o) => o.body.output).join('');
      assert.match(summary, /ran to the end/);
    });

    it('fn calls are stack frames: step in on call stops inside with 2 frames, step out returns', async () => {
      const callLine = lineOf('fn.hmm', 'call f');
      stopped(await launch('fn.hmm', { breakpoints: [{ line: callLine }] }), 'breakpoint');
      assert.equal(await line(), callLine);
      stopped(await stepIn(), 'step');
      const inside = await frames();
      assert.deepEqual(inside.map((f) => f.name), ['f', 'fn.hmm']);
      assert.equal(inside[0]!.line, lineOf('fn.hmm', 'write a = i'));
      assert.equal(inside[1]!.line, callLine, 'the caller frame shows the call line');
      // Step over inside the function stays in it.
      stopped(await next(), 'step');
      assert.equal(await line(), lineOf('fn.hmm', 'read a[1]'));
      assert.equal((await frames()).length, 2);
      // Step out: back in the script, at the statement after the call.
      const threadId = await mainThread();
      stopped(await after(() => dc.stepOutRequest({ threadId })), 'step');
      const out = await frames();
      assert.deepEqual(out.map((f) => f.name), ['fn.hmm']);
      assert.equal(out[0]!.line, lineOf('fn.hmm', 'expect a == i'));
      assert.equal((await next()).kind, 'terminated');
    });

    it('step in on a migrate enters kernel frames: setup, pages, finalize; Pending migrations lists it', async () => {
      const l = lineOf('basic.hmm', 'migrate a to gpu0');
      stopped(await launch('basic.hmm', { breakpoints: [{ line: l }] }), 'breakpoint');
      const seen: string[] = [];
      const phases: string[] = [];
      let first: string | undefined;
      for (let i = 0; i < 60; i++) {
        stopped(await stepIn(), 'step');
        const fr = await frames();
        const top = fr[0]!;
        if (fr.length === 1) {
          // Back at a statement boundary: the migrate is done.
          assert.equal(top.line, lineOf('basic.hmm', 'expect a[0] is device gpu0'));
          break;
        }
        assert.equal(top.line, l, 'kernel frames are shown at the statement line');
        assert.equal(fr[fr.length - 1]!.name, 'basic.hmm');
        first ??= top.name;
        const name = top.name.split(' ')[0]!;
        if (seen[seen.length - 1] !== name) seen.push(name);
        if (name === 'migrate_vma_pages' || name === 'migrate_vma_finalize') {
          const pending = await scope('Pending migrations');
          assert.equal(pending.name, 'Pending migrations (1)');
          const m = await vars(pending.variablesReference);
          assert.equal(m.length, 1);
          const phase = name === 'migrate_vma_pages' ? 'pages' : 'finalize';
          assert.match(m[0]!.value, new RegExp(`phase ${phase}`));
          assert.match(m[0]!.value, /gpu0/);
          const children = await vars(m[0]!.variablesReference);
          assert.equal(children.find((c) => c.name === 'phase')?.value, phase);
          phases.push(phase);
        }
      }
      assert.ok(first !== undefined && first.startsWith('migrate_vma_setup'), `first kernel frame: ${first ?? 'none'}`);
      const order = ['migrate_vma_setup', 'migrate_vma_pages', 'migrate_vma_finalize'].map((n) => seen.indexOf(n));
      assert.ok(order.every((i) => i >= 0) && order[0]! < order[1]! && order[1]! < order[2]!, `frames entered: ${seen.join(', ')}`);
      assert.deepEqual([...new Set(phases)], ['pages', 'finalize']);
      // After the statement, nothing is pending.
      assert.equal((await scope('Pending migrations')).name, 'Pending migrations (0)');
    });

    it('step over from inside a kernel frame stays in the statement; step out leaves it', async () => {
      const l = lineOf('basic.hmm', 'migrate a to gpu0');
      stopped(await launch('basic.hmm', { breakpoints: [{ line: l }] }), 'breakpoint');
      stopped(await stepIn(), 'step');
      assert.ok((await frames()).length > 1);
      // Memory cannot be edited half-way through a kernel operation.
      const a = await variable('Process main', 'a');
      await rejects(dc.customRequest('writeMemory', { memoryReference: a.memoryReference, data: 'AQAAAA==' }));
      const threadId = await mainThread();
      // Step out of the outermost kernel frame: to the end of the statement.
      for (let i = 0; i < 10 && (await frames()).length > 1; i++) stopped(await after(() => dc.stepOutRequest({ threadId })), 'step');
      const fr = await frames();
      assert.equal(fr.length, 1);
      assert.equal(fr[0]!.line, lineOf('basic.hmm', 'expect a[0] is device gpu0'));
    });

    it('pause stops a runaway loop with reason pause', async () => {
      const end = nextRunEnd();
      await dc.initializeRequest();
      const initialized = dc.waitForEvent('initialized');
      await dc.launchRequest({ program: fixture('runaway.hmm') } as DebugProtocol.LaunchRequestArguments);
      await initialized;
      await dc.configurationDoneRequest();
      await new Promise((r) => setTimeout(r, 300));
      const threadId = await mainThread();
      await dc.pauseRequest({ threadId });
      stopped(await end, 'pause');
      const fr = await frames();
      assert.equal(fr[fr.length - 1]!.name, 'runaway.hmm');
      assert.ok(fr.some((f) => /iteration \d+ of 100000000/.test(f.name)), fr.map((f) => f.name).join(' | '));
      // And it can go on: a step stops again.
      stopped(await next(), 'step');
    });
  });

  // ---- event (exception) breakpoints --------------------------------------------------------

  describe('exception breakpoints', () => {
    it('deviceFault with condition gpu0 stops at the device read; exceptionInfo names the device', async () => {
      const s = stopped(await launch('events.hmm', { exceptions: { filters: [], filterOptions: [{ filterId: 'deviceFault', condition: 'gpu0' }] } }), 'exception');
      assert.match(s.text ?? '', /gpu0/);
      assert.equal(s.description, 'Device fault', 'the short badge beside the thread');
      assert.equal(await line(), lineOf('events.hmm', 'gpu0 read a'));
      const info = await dc.exceptionInfoRequest({ threadId: await mainThread() });
      assert.equal(info.body.exceptionId, 'Device fault');
      assert.match(info.body.description ?? '', /gpu0/);
      assert.match(`${info.body.details?.message ?? ''}\n${info.body.details?.stackTrace ?? ''}`, /gpu0/);
    });

    it('deviceFault with a condition that does not match (write faults only) does not stop', async () => {
      const r = await launch('events.hmm', { exceptions: { filters: [], filterOptions: [{ filterId: 'deviceFault', condition: 'gpu0 a[3] write' }] } });
      assert.equal(r.kind, 'terminated');
    });

    it('a condition naming something unknown is an unverified exception breakpoint', async () => {
      stopped(await launch('events.hmm', { stopOnEntry: true }), 'entry');
      const r = await dc.setExceptionBreakpointsRequest({ filters: ['failure'], filterOptions: [{ filterId: 'deviceFault', condition: 'nosuchthing' }] });
      assert.deepEqual(r.body?.breakpoints?.map((b) => b.verified), [true, false]);
    });

    it('notifier with condition CLEAR stops at the CPU write after fork', async () => {
      const s = stopped(await launch('events.hmm', { exceptions: { filters: [], filterOptions: [{ filterId: 'notifier', condition: 'CLEAR' }] } }), 'exception');
      assert.equal(await line(), lineOf('events.hmm', 'write a[0] = 7'));
      assert.match(s.text ?? '', /CLEAR/);
      // Each process is a thread: the forked child is one now.
      const threads = (await dc.threadsRequest()).body.threads.map((t) => t.name);
      assert.deepEqual(threads, ['main', 'child']);
      const info = await dc.exceptionInfoRequest({ threadId: await mainThread() });
      assert.equal(info.body.exceptionId, 'Notifier invalidation');
    });

    it('migrationSkip stops when a pinned page is skipped', async () => {
      const s = stopped(await launch('events.hmm', { exceptions: { filters: [], filterOptions: [{ filterId: 'migrationSkip' }] } }), 'exception');
      assert.equal(await line(), lineOf('events.hmm', 'migrate a to gpu0'));
      assert.match(s.text ?? '', /pinned/);
      const info = await dc.exceptionInfoRequest({ threadId: await mainThread() });
      assert.equal(info.body.exceptionId, 'Migration skipped a page');
    });

    it('failure (on by default) stops on a failed expect with expected … found …', async () => {
      const s = stopped(await launch('failure.hmm'), 'exception');
      assert.equal(await line(), lineOf('failure.hmm', 'expect a[0]'));
      assert.match(s.text ?? '', /expected a\[0\] is device gpu0, found system/);
      const info = await dc.exceptionInfoRequest({ threadId: await mainThread() });
      assert.equal(info.body.exceptionId, 'Failed operation or expectation');
      assert.match(info.body.description ?? '', /expected .* found /);
    });

    it('continue after a failure stop ends the run with the error on stderr', async () => {
      stopped(await launch('failure.hmm'), 'exception');
      const r = await cont();
      assert.equal(r.kind, 'terminated', r.kind === 'stopped' ? `stopped again: ${r.body.reason} ${r.body.description ?? ''}` : '');
      const stderr = outputs.filter((o) => o.body.category === 'stderr').map((o) => o.body.output).join('');
      assert.ok(stderr.includes(`failure.hmm:${lineOf('failure.hmm', 'expect a[0]')}:1: expected a[0] is device gpu0`), stderr);
      assert.ok(!outputs.some((o) => o.body.output.includes('not reached')));
    });

    it('with failure disabled the run ends: terminated, and stderr carries file:line:col:', async () => {
      const r = await launch('failure.hmm', { exceptions: { filters: [] } });
      assert.equal(r.kind, 'terminated');
      const stderr = outputs.filter((o) => o.body.category === 'stderr').map((o) => o.body.output).join('');
      assert.ok(stderr.includes(`failure.hmm:${lineOf('failure.hmm', 'expect a[0]')}:1: expected a[0] is device gpu0, found system`), stderr);
      assert.ok(!outputs.some((o) => o.body.output.includes('not reached')));
    });

    it('exceptionInfo when not stopped on an exception is an error response', async () => {
      stopped(await launch('basic.hmm', { stopOnEntry: true }), 'entry');
      await rejects(dc.exceptionInfoRequest({ threadId: await mainThread() }));
    });
  });

  // ---- data breakpoints ------------------------------------------------------------------------

  describe('data breakpoints', () => {
    it('dataBreakpointInfo on a mapping gives a dataId; the watch stops after the changing statement', async () => {
      stopped(await launch('watch.hmm', { breakpoints: [{ line: lineOf('watch.hmm', 'write a[0..2]') }] }), 'breakpoint');
      const proc = await scope('Process main');
      const info = await dc.dataBreakpointInfoRequest({ name: 'a', variablesReference: proc.variablesReference });
      assert.ok(typeof info.body.dataId === 'string' && info.body.dataId.length > 0, JSON.stringify(info.body));
      const set = await dc.setDataBreakpointsRequest({ breakpoints: [{ dataId: info.body.dataId }] });
      assert.equal(set.body.breakpoints[0]?.verified, true);
      const s = stopped(await cont(), 'data breakpoint');
      assert.equal(await line(), lineOf('watch.hmm', 'read a[0]'));
      assert.deepEqual(s.hitBreakpointIds, [set.body.breakpoints[0]!.id]);
      // `read a[0]` changes nothing; the migrate does.
      stopped(await cont(), 'data breakpoint');
      assert.equal(await line(), lineOf('watch.hmm', 'after migrate'));
    });

    it('"Break on Value Change" on a page node: dataBreakpointInfo for [3] under a gives a dataId that watches a[3]', async () => {
      stopped(await launch('watch.hmm', { breakpoints: [{ line: lineOf('watch.hmm', 'write a[0..2]') }] }), 'breakpoint');
      const a = await variable('Process main', 'a');
      const [p3] = await vars(a.variablesReference, { filter: 'indexed', start: 3, count: 1 });
      assert.equal(p3?.name, '[3]');
      // What VS Code sends for a child variable: its name and its container's reference.
      const info = await dc.dataBreakpointInfoRequest({ name: '[3]', variablesReference: a.variablesReference });
      assert.ok(typeof info.body.dataId === 'string' && info.body.dataId.length > 0, `no dataId for a page node: ${JSON.stringify(info.body)}`);
      const set = await dc.setDataBreakpointsRequest({ breakpoints: [{ dataId: info.body.dataId }] });
      assert.equal(set.body.breakpoints[0]?.verified, true);
      stopped(await cont(), 'data breakpoint');
      assert.equal(await line(), lineOf('watch.hmm', 'after migrate'));
    });

    it('dataBreakpointInfo for something that is not a mapping has no dataId', async () => {
      stopped(await launch('watch.hmm', { breakpoints: [{ line: lineOf('watch.hmm', 'write a[0..2]') }] }), 'breakpoint');
      const info = await dc.dataBreakpointInfoRequest({ name: 'nothing' });
      assert.equal(info.body.dataId, null);
    });

    it('the REPL `watch a[3]` stops when a[3] changes, not on other pages', async () => {
      stopped(await launch('watch.hmm', { breakpoints: [{ line: lineOf('watch.hmm', 'write a[0..2]') }] }), 'breakpoint');
      assert.match(await evaluate('watch a[3]'), /watching a\[3\]/);
      stopped(await cont(), 'data breakpoint');
      assert.equal(await line(), lineOf('watch.hmm', 'after migrate'));
      assert.match(await evaluate('a[3]'), /^device gpu0/);
      assert.equal(await evaluate('unwatch'), 'removed the watches of a[3]');
      assert.equal((await cont()).kind, 'terminated');
    });

    it('the REPL `watch` asks the client to show it as a function breakpoint; that breakpoint is the same watch (same id)', async () => {
      stopped(await launch('watch.hmm', { breakpoints: [{ line: lineOf('watch.hmm', 'write a[0..2]') }] }), 'breakpoint');
      const added = dc.waitForEvent('hmm/watchesChanged');
      assert.match(await evaluate('watch a[3]'), /watching a\[3\]/);
      assert.deepEqual((await added).body, { added: ['a[3]'], removed: [] });
      // What VS Code does next: the Breakpoints view has a function breakpoint `a[3]` and sends them all.
      const set = await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'a[3]' }] });
      assert.equal(set.body.breakpoints[0]?.verified, true);
      const s = stopped(await cont(), 'data breakpoint');
      assert.deepEqual(s.hitBreakpointIds, [set.body.breakpoints[0]!.id]);
      assert.match(s.description ?? s.text ?? '', /a\[3\]: empty → device gpu0 rw, gpu0 read/);
      const removed = dc.waitForEvent('hmm/watchesChanged');
      assert.equal(await evaluate('unwatch'), 'removed the watches of a[3]');
      assert.deepEqual((await removed).body, { added: [], removed: ['a[3]'] });
      assert.equal((await cont()).kind, 'terminated');
    });

    it('a function breakpoint named after pages not mapped yet waits for them, then says it is verified', async () => {
      await dc.initializeRequest();
      const initialized = dc.waitForEvent('initialized');
      await dc.launchRequest({ program: fixture('watch.hmm') } as DebugProtocol.LaunchRequestArguments);
      await initialized;
      const set = await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'a[3]' }, { name: 'nothing[1]' }, { name: 'a b' }] });
      const [pending, unknown, bad] = set.body.breakpoints;
      assert.equal(pending?.verified, false);
      assert.match(pending?.message ?? '', /a is not mapped yet: watched from when it is/);
      assert.equal(unknown?.verified, false);
      assert.match(unknown?.message ?? '', /no mapping named nothing/);
      assert.match(bad?.message ?? '', /not a range/);
      const verified = dc.waitForEvent('breakpoint');
      const s = stopped(await after(() => dc.configurationDoneRequest()), 'data breakpoint');
      const ev = (await verified) as DebugProtocol.BreakpointEvent;
      assert.deepEqual([ev.body.reason, ev.body.breakpoint.id, ev.body.breakpoint.verified], ['changed', pending!.id, true]);
      assert.deepEqual(s.hitBreakpointIds, [pending!.id]);
      assert.equal(await line(), lineOf('watch.hmm', 'after migrate'));
      // Removing it in the Breakpoints view removes the watch.
      await dc.setFunctionBreakpointsRequest({ breakpoints: [] });
      assert.equal((await cont()).kind, 'terminated');
    });
  });

  // ---- reverse execution -----------------------------------------------------------------------

  describe('step back and reverse continue', () => {
    it('stepBack returns to the previous line and the state really rewinds', async () => {
      const toSys = lineOf('basic.hmm', 'migrate a to system');
      stopped(await launch('basic.hmm', { breakpoints: [{ line: toSys }] }), 'breakpoint');
      assert.match(await evaluate('a[0]'), /^device gpu0/);
      stopped(await next(), 'step');
      assert.equal(await line(), lineOf('basic.hmm', 'expect a[0] is system'));
      assert.match(await evaluate('a[0]'), /^system/);
      const threadId = await mainThread();
      stopped(await after(() => dc.stepBackRequest({ threadId })));
      assert.equal(await line(), toSys);
      assert.match(await evaluate('a[0]'), /^device gpu0/, 'stepping back over migrate-to-system puts a[0] back on gpu0');
      assert.match(await evaluate('gpu0'), /4 of \d+ pages used/);
      // Two more steps back: before the migrate to gpu0, the page is in system memory again.
      stopped(await after(() => dc.stepBackRequest({ threadId })));
      stopped(await after(() => dc.stepBackRequest({ threadId })));
      assert.equal(await line(), lineOf('basic.hmm', 'migrate a to gpu0'));
      assert.match(await evaluate('a[0]'), /^system/);
      assert.match(await evaluate('gpu0'), /0 of \d+ pages used/);
      // Forward again: the same result as the first time.
      stopped(await next(), 'step');
      assert.match(await evaluate('a[0]'), /^device gpu0/);
    });

    it('stepBack at the start stays at the first statement', async () => {
      stopped(await launch('basic.hmm', { stopOnEntry: true }), 'entry');
      const threadId = await mainThread();
      stopped(await after(() => dc.stepBackRequest({ threadId })));
      assert.equal(await line(), lineOf('basic.hmm', 'device gpu0'));
      stopped(await next(), 'step');
      assert.equal(await line(), lineOf('basic.hmm', 'a = mmap'));
    });

    it('reverseContinue goes back to the previous breakpoint hit, then to the start', async () => {
      const b1 = lineOf('basic.hmm', 'write a = i');
      const b2 = lineOf('basic.hmm', 'migrate a to system');
      stopped(await launch('basic.hmm', { breakpoints: [{ line: b1 }, { line: b2 }] }), 'breakpoint');
      assert.equal(await line(), b1);
      stopped(await cont(), 'breakpoint');
      assert.equal(await line(), b2);
      stopped(await next(), 'step');
      stopped(await next(), 'step');
      assert.equal(await line(), lineOf('basic.hmm', 'read a[1]'));
      const threadId = await mainThread();
      stopped(await after(() => dc.reverseContinueRequest({ threadId })), 'breakpoint');
      assert.equal(await line(), b2);
      assert.match(await evaluate('a[0]'), /^device gpu0/);
      stopped(await after(() => dc.reverseContinueRequest({ threadId })), 'breakpoint');
      assert.equal(await line(), b1);
      assert.match(await evaluate('a[0]'), /^empty/);
      stopped(await after(() => dc.reverseContinueRequest({ threadId })), 'entry');
      assert.equal(await line(), lineOf('basic.hmm', 'device gpu0'));
      // Forward again hits the first breakpoint again.
      stopped(await cont(), 'breakpoint');
      assert.equal(await line(), b1);
    });

    it('reverseContinue goes back to event stops (device fault, notifier) with the line and stack they had', async () => {
      const exceptions = { filters: [], filterOptions: [{ filterId: 'deviceFault', condition: 'gpu0' }, { filterId: 'notifier', condition: 'CLEAR' }] };
      const first = stopped(await launch('events.hmm', { exceptions }), 'exception');
      assert.equal(await line(), lineOf('events.hmm', 'gpu0 read a'));
      const stackOf = async (): Promise<string[]> => (await dc.stackTraceRequest({ threadId: await mainThread() })).body.stackFrames.map((f) => f.name);
      const firstStack = await stackOf();
      const second = stopped(await cont(), 'exception');
      assert.equal(await line(), lineOf('events.hmm', 'write a[0] = 7'));
      const secondStack = await stackOf();
      // pin a[2] write-faults a COW-shared page: a third CLEAR.
      stopped(await cont(), 'exception');
      assert.equal(await line(), lineOf('events.hmm', 'pin a[2]'));
      const threadId = await mainThread();
      const back = stopped(await after(() => dc.reverseContinueRequest({ threadId })), 'exception');
      assert.equal(back.text, second.text);
      assert.equal(await line(), lineOf('events.hmm', 'write a[0] = 7'));
      assert.deepEqual(await stackOf(), secondStack);
      const back2 = stopped(await after(() => dc.reverseContinueRequest({ threadId })), 'exception');
      assert.equal(back2.text, first.text);
      assert.equal(await line(), lineOf('events.hmm', 'gpu0 read a'));
      assert.deepEqual(await stackOf(), firstStack);
      stopped(await after(() => dc.reverseContinueRequest({ threadId })), 'entry');
    });
  });

  // ---- variables -------------------------------------------------------------------------------

  describe('variables', () => {
    it('the scopes of a stop', async () => {
      stopped(await launch('loop.hmm', { breakpoints: [{ line: lineOf('loop.hmm', 'read a[c]') }] }), 'breakpoint');
      const f = await topFrame();
      const names = (await dc.scopesRequest({ frameId: f.id })).body.scopes.map((s) => s.name);
      assert.deepEqual(names, ['Process main', 'Devices', 'Pending migrations (0)', 'Notifier callbacks', 'last', 'Loop variables']);
    });

    it('the Process scope lists mappings as indexed variables with a memoryReference; Devices shows used pages', async () => {
      stopped(await launch('basic.hmm', { breakpoints: [{ line: lineOf('basic.hmm', 'expect a[0] is device gpu0') }] }), 'breakpoint');
      const a = await variable('Process main', 'a');
      assert.equal(a.indexedVariables, 4);
      assert.match(a.memoryReference ?? '', /^0x[0-9a-f]+$/);
      assert.ok(a.variablesReference > 0);
      const pages = await vars(a.variablesReference, { filter: 'indexed', start: 0, count: 4 });
      assert.deepEqual(pages.map((p) => p.name), ['[0]', '[1]', '[2]', '[3]']);
      for (const p of pages) assert.match(p.value, /^device gpu0/);
      const gpu0 = await variable('Devices', 'gpu0');
      assert.match(gpu0.value, /4 of \d+ pages used/);
      const details = await vars(gpu0.variablesReference);
      assert.equal(details.find((d) => d.name === 'used')?.value, '4 pages');
      const last = await scope('last');
      const lv = await vars(last.variablesReference);
      assert.equal(lv.find((v) => v.name === 'cpages')?.value, '4');
      assert.equal(lv.find((v) => v.name === 'rc')?.value, '0');
    });

    it('a window of a 1M-page mapping returns exactly the pages asked for, quickly', async () => {
      stopped(await launch('big.hmm', { breakpoints: [{ line: lineOf('big.hmm', 'print "touched"') }] }), 'breakpoint');
      const a = await variable('Process main', 'a');
      assert.equal(a.indexedVariables, 1048576);
      const t0 = Date.now();
      const w = await vars(a.variablesReference, { filter: 'indexed', start: 512, count: 10 });
      const ms = Date.now() - t0;
      assert.deepEqual(w.map((v) => v.name), Array.from({ length: 10 }, (_, k) => `[${512 + k}]`));
      assert.match(w[0]!.value, /^system rw/);
      assert.match(w[1]!.value, /^system rw/);
      assert.match(w[2]!.value, /^empty/);
      assert.ok(ms < 1000, `window took ${ms} ms`);
      const tail = await vars(a.variablesReference, { filter: 'indexed', start: 1048570, count: 6 });
      assert.equal(tail.length, 6);
      assert.equal(tail[5]!.name, '[1048575]');
      assert.match(tail[5]!.value, /^system/);
    });

    it('a page node expands to its details', async () => {
      stopped(await launch('basic.hmm', { breakpoints: [{ line: lineOf('basic.hmm', 'migrate a to gpu0') }] }), 'breakpoint');
      const a = await variable('Process main', 'a');
      const [p1] = await vars(a.variablesReference, { filter: 'indexed', start: 1, count: 1 });
      assert.ok(p1 !== undefined);
      assert.equal(p1.evaluateName, 'a[1]');
      const d = await vars(p1.variablesReference);
      assert.ok(d.some((x) => x.name === 'pfn'), d.map((x) => x.name).join(', '));
      assert.match(d.find((x) => x.name === 'first words')?.value ?? '', /^1024, 1025/);
    });
  });

  // ---- memory ---------------------------------------------------------------------------------

  describe('memory', () => {
    async function mappingRef(): Promise<string> {
      const a = await variable('Process main', 'a');
      assert.ok(a.memoryReference !== undefined);
      return a.memoryReference;
    }

    it('readMemory returns the written words (little-endian, word k of page p = p*1024+k)', async () => {
      stopped(await launch('basic.hmm', { breakpoints: [{ line: lineOf('basic.hmm', 'migrate a to gpu0') }] }), 'breakpoint');
      const ref = await mappingRef();
      const r = await dc.customRequest('readMemory', { memoryReference: ref, offset: 2 * 4096 + 8, count: 16 }) as DebugProtocol.ReadMemoryResponse;
      assert.ok(r.body !== undefined);
      assert.deepEqual(words(r.body.data ?? ''), [2050, 2051, 2052, 2053]);
      assert.equal(r.body.unreadableBytes ?? 0, 0);
      assert.equal(Number.parseInt(r.body.address, 16), Number.parseInt(ref, 16) + 2 * 4096 + 8);
      // The whole mapping.
      const all = await dc.customRequest('readMemory', { memoryReference: ref, count: 4 * 4096 }) as DebugProtocol.ReadMemoryResponse;
      const w = words(all.body?.data ?? '');
      assert.equal(w.length, 4096);
      assert.ok(w.every((v, k) => v === k), 'every word equals its index');
    });

    it('readMemory reads device-private pages too (the real bytes, wherever the page lives)', async () => {
      stopped(await launch('basic.hmm', { breakpoints: [{ line: lineOf('basic.hmm', 'expect a[0] is device gpu0') }] }), 'breakpoint');
      const ref = await mappingRef();
      const r = await dc.customRequest('readMemory', { memoryReference: ref, offset: 3 * 4096, count: 8 }) as DebugProtocol.ReadMemoryResponse;
      assert.deepEqual(words(r.body?.data ?? ''), [3072, 3073]);
      // Reading did not move anything.
      assert.match(await evaluate('a[3]'), /^device gpu0/);
    });

    it('reads past the mapping report unreadableBytes', async () => {
      stopped(await launch('basic.hmm', { breakpoints: [{ line: lineOf('basic.hmm', 'migrate a to gpu0') }] }), 'breakpoint');
      const ref = await mappingRef();
      const edge = await dc.customRequest('readMemory', { memoryReference: ref, offset: 4 * 4096 - 8, count: 16 }) as DebugProtocol.ReadMemoryResponse;
      assert.deepEqual(words(edge.body?.data ?? ''), [4094, 4095]);
      assert.equal(edge.body?.unreadableBytes, 8);
      const far = await dc.customRequest('readMemory', { memoryReference: '0x10', count: 64 }) as DebugProtocol.ReadMemoryResponse;
      assert.equal(far.body?.unreadableBytes, 64);
      assert.equal(Buffer.from(far.body?.data ?? '', 'base64').length, 0);
    });

    it('writeMemory changes bytes; a following readMemory shows them', async () => {
      stopped(await launch('basic.hmm', { breakpoints: [{ line: lineOf('basic.hmm', 'migrate a to gpu0') }] }), 'breakpoint');
      const ref = await mappingRef();
      const data = Buffer.alloc(8);
      data.writeInt32LE(0x12345678, 0);
      data.writeInt32LE(-2, 4);
      const memEvent = dc.waitForEvent('memory');
      const w = await dc.customRequest('writeMemory', { memoryReference: ref, offset: 4096, data: data.toString('base64') }) as DebugProtocol.WriteMemoryResponse;
      assert.equal(w.body?.bytesWritten, 8);
      await memEvent;
      const r = await dc.customRequest('readMemory', { memoryReference: ref, offset: 4096, count: 12 }) as DebugProtocol.ReadMemoryResponse;
      assert.deepEqual(words(r.body?.data ?? ''), [0x12345678, -2, 1026]);
    });

    it('an unknown memoryReference is an error response', async () => {
      stopped(await launch('basic.hmm', { stopOnEntry: true }), 'entry');
      await rejects(dc.customRequest('readMemory', { memoryReference: 'no-such-thing', count: 4 }));
      await rejects(dc.customRequest('writeMemory', { memoryReference: 'no-such-thing', data: 'AAAAAA==' }));
      await alive();
    });
  });

  // ---- REPL -----------------------------------------------------------------------------------

  describe('REPL evaluate and completions', () => {
    beforeEach(async () => {
      stopped(await launch('basic.hmm', { breakpoints: [{ line: lineOf('basic.hmm', 'expect a[0] is device gpu0') }] }), 'breakpoint');
    });

    it('page, residency, events, why, help', async () => {
      assert.match(await evaluate('page a[3]'), /gpu0/);
      assert.match(await evaluate('residency a'), /\S/);
      const events = await evaluate('events');
      assert.match(events, /migrat/i);
      assert.match(await evaluate('why a[3]'), /migrat/i);
      const help = await evaluate('help');
      for (const cmd of ['page', 'residency', 'events', 'why', 'watch']) assert.ok(help.includes(cmd), `help mentions ${cmd}`);
    });

    it('values: last.cpages, a mapping, a page', async () => {
      assert.equal(await evaluate('last.cpages'), '4');
      assert.equal(await evaluate('last.rc'), '0');
      assert.match(await evaluate('a[2]'), /^device gpu0/);
      const f = await topFrame();
      const whole = await dc.evaluateRequest({ expression: 'a', context: 'hover', frameId: f.id });
      assert.ok(whole.body.variablesReference > 0);
      assert.equal(whole.body.indexedVariables, 4);
    });

    it('completions for pa include page', async () => {
      const r = await dc.completionsRequest({ text: 'pa', column: 3 });
      assert.ok(r.body.targets.some((t) => t.label === 'page'), JSON.stringify(r.body.targets));
    });

    it('an unknown expression is an error response', async () => {
      const f = await topFrame();
      const msg = await rejects(dc.evaluateRequest({ expression: 'no_such_thing + 1', context: 'repl', frameId: f.id }));
      assert.ok(msg.length > 0);
      await rejects(dc.evaluateRequest({ expression: 'page zz[3]', context: 'repl', frameId: f.id }));
      await alive();
    });
  });

  // ---- custom requests and events ----------------------------------------------------------------

  describe('custom requests and events', () => {
    it('hmm/residency returns runs with kind and device', async () => {
      stopped(await launch('basic.hmm', { breakpoints: [{ line: lineOf('basic.hmm', 'expect a[0] is device gpu0') }] }), 'breakpoint');
      const r = await dc.customRequest('hmm/residency', { mapping: 'a' });
      const body = r.body as { mappings: { name: string; pages: number; runs: { start: number; end: number; kind: string; device?: string }[] }[] };
      assert.equal(body.mappings.length, 1);
      const m = body.mappings[0]!;
      assert.equal(m.name, 'a');
      assert.equal(m.pages, 4);
      assert.deepEqual(m.runs.map((x) => [x.start, x.end, x.kind, x.device]), [[0, 4, 'device', 'gpu0']]);
      await rejects(dc.customRequest('hmm/residency', { mapping: 'nope' }));
    });

    it('hmm/migrations lists the migration in progress with its phase, and none between statements', async () => {
      const l = lineOf('basic.hmm', 'migrate a to gpu0');
      stopped(await launch('basic.hmm', { breakpoints: [{ line: l }] }), 'breakpoint');
      const none = (await dc.customRequest('hmm/migrations')).body as { migrations: unknown[] };
      assert.deepEqual(none.migrations, []);
      let found: { phase: string; direction: string; device: string; process: string } | undefined;
      for (let i = 0; i < 60 && found === undefined; i++) {
        stopped(await stepIn(), 'step');
        if ((await topFrame()).name.startsWith('migrate_vma_pages')) {
          const b = (await dc.customRequest('hmm/migrations')).body as { migrations: { phase: string; direction: string; device: string; process: string }[] };
          assert.equal(b.migrations.length, 1);
          found = b.migrations[0];
        }
      }
      assert.ok(found !== undefined, 'reached migrate_vma_pages');
      assert.equal(found.phase, 'pages');
      assert.equal(found.direction, 'to-device');
      assert.equal(found.device, 'gpu0');
      assert.equal(found.process, 'main');
    });

    it('hmm/notifiers lists callbacks with their event names', async () => {
      stopped(await launch('events.hmm', { breakpoints: [{ line: lineOf('events.hmm', 'print "end"') }] }), 'breakpoint');
      const b = (await dc.customRequest('hmm/notifiers')).body as { callbacks: { event: string; mirror: string; process: string; line?: number }[] };
      assert.ok(b.callbacks.length > 0);
      const events = new Set(b.callbacks.map((c) => c.event));
      for (const e of ['CLEAR', 'MIGRATE']) assert.ok(events.has(e), `events: ${[...events].join(', ')}`);
      assert.ok(b.callbacks.every((c) => c.mirror === 'gpu0'));
      const limited = (await dc.customRequest('hmm/notifiers', { limit: 1 })).body as { callbacks: unknown[] };
      assert.equal(limited.callbacks.length, 1);
    });

    it('hmm/picture draws the address space as lanes linked to frames; hmm/pageWhy answers why, with the line; bad arguments are refused', async () => {
      stopped(await launch('basic.hmm', { breakpoints: [{ line: lineOf('basic.hmm', 'expect a[0] is device gpu0') }] }), 'breakpoint');
      const pic = (await dc.customRequest('hmm/picture')).body as {
        process: string; vmas: { start: number; end: number; name: string }[];
        cpu: { runs: { start: number; end: number; entry: string; memory: string; lo: number; hi: number }[] };
        devices: { name: string; lane: { runs: { access: string; local: boolean; memory: string; lo: number; hi: number }[] } }[];
        memories: { name: string; used: number }[];
      };
      assert.equal(pic.process, 'main');
      assert.deepEqual(pic.vmas.map((v) => [v.name, v.end - v.start]), [['a', 4]]);
      assert.deepEqual(pic.cpu.runs.map((r) => [r.end - r.start, r.entry, r.memory, r.hi - r.lo]), [[4, 'device-private', 'gpu0', 4]]);
      const gpu0 = pic.devices.find((d) => d.name === 'gpu0')!.lane.runs;
      assert.deepEqual(gpu0.map((r) => [r.access, r.local, r.memory, r.lo, r.hi]), pic.cpu.runs.map((r) => ['write', true, 'gpu0', r.lo, r.hi]));
      assert.equal(pic.memories.find((m) => m.name === 'gpu0')?.used, 4);
      const why = (await dc.customRequest('hmm/pageWhy', { page: pic.vmas[0]!.start + 1 })).body as { text: string; line?: number };
      assert.match(why.text, /^a\[1\] is device gpu0 rw because:/);
      assert.equal(why.line, lineOf('basic.hmm', 'migrate a to gpu0'));
      await rejects(dc.customRequest('hmm/pageWhy', { page: -1 }));
      await rejects(dc.customRequest('hmm/pageWhy', {}));
      await rejects(dc.customRequest('hmm/picture', { maxRuns: 3 }));
      await rejects(dc.customRequest('hmm/picture', { process: 'nobody' }));
      await rejects(dc.customRequest('hmm/picture', 'main'));
    });

    it('hmm/lineEffects counts what each line caused', async () => {
      stopped(await launch('basic.hmm', { breakpoints: [{ line: lineOf('basic.hmm', 'read a[1]') }] }), 'breakpoint');
      const b = (await dc.customRequest('hmm/lineEffects')).body as { lines: { line: number; pagesToDevice: number; pagesToSystem: number; cpuFaults: number }[] };
      const at = (l: number): { pagesToDevice: number; pagesToSystem: number; cpuFaults: number } | undefined => b.lines.find((x) => x.line === l);
      assert.equal(at(lineOf('basic.hmm', 'migrate a to gpu0'))?.pagesToDevice, 4);
      assert.equal(at(lineOf('basic.hmm', 'migrate a to system'))?.pagesToSystem, 4);
      assert.ok((at(lineOf('basic.hmm', 'write a = i'))?.cpuFaults ?? 0) > 0);
    });

    it('hmm/stateChanged follows a stop', async () => {
      stopped(await launch('basic.hmm', { stopOnEntry: true }), 'entry');
      const entry = await stateChange((b) => b.reason === 'entry');
      assert.equal(entry.step, 0);
      assert.equal(entry.line, lineOf('basic.hmm', 'device gpu0'));
      stopped(await next(), 'step');
      const body = await stateChange((b) => b.reason === 'step');
      assert.equal(body.line, lineOf('basic.hmm', 'a = mmap'));
      assert.equal(body.step, 1);
    });

    it('an unknown custom request is an error response', async () => {
      stopped(await launch('basic.hmm', { stopOnEntry: true }), 'entry');
      await rejects(dc.customRequest('hmm/noSuchThing'));
      await alive();
    });
  });

  // ---- robustness, restart, terminate ----------------------------------------------------------

  describe('bad input, restart and terminate', () => {
    it('variables with an unknown reference is an error response', async () => {
      stopped(await launch('basic.hmm', { stopOnEntry: true }), 'entry');
      await rejects(dc.variablesRequest({ variablesReference: 987654 }));
      await alive();
    });

    it('stackTrace for an unknown thread still answers', async () => {
      stopped(await launch('basic.hmm', { stopOnEntry: true }), 'entry');
      const r = await dc.stackTraceRequest({ threadId: 424242 });
      assert.ok(r.success);
      await alive();
    });

    it('requests before launch do not crash the adapter', async () => {
      await dc.initializeRequest();
      await rejects(dc.stackTraceRequest({ threadId: 1 }));
      await rejects(dc.variablesRequest({ variablesReference: 1 }));
      await rejects(dc.evaluateRequest({ expression: 'help', context: 'repl' }));
      await alive();
    });

    it('restart stops on entry again with the state reset', async () => {
      stopped(await launch('basic.hmm', { stopOnEntry: true, breakpoints: [{ line: lineOf('basic.hmm', 'expect a[0] is device gpu0') }] }), 'entry');
      stopped(await cont(), 'breakpoint');
      assert.match(await evaluate('a[0]'), /^device gpu0/);
      stopped(await after(() => dc.restartRequest({})), 'entry');
      assert.equal(await line(), lineOf('basic.hmm', 'device gpu0'));
      const res = (await dc.customRequest('hmm/residency')).body as { step: number; mappings: unknown[] };
      assert.equal(res.step, 0);
      assert.deepEqual(res.mappings, []);
      await rejects(dc.evaluateRequest({ expression: 'a[0]', context: 'repl' }));
      // Breakpoints survive the restart.
      stopped(await cont(), 'breakpoint');
      assert.equal(await line(), lineOf('basic.hmm', 'expect a[0] is device gpu0'));
      assert.match(await evaluate('a[0]'), /^device gpu0/);
    });

    it('terminate sends terminated', async () => {
      stopped(await launch('basic.hmm', { stopOnEntry: true }), 'entry');
      const terminated = dc.waitForEvent('terminated');
      await dc.terminateRequest();
      await terminated;
    });

    it('terminate while a runaway loop runs sends terminated', async () => {
      await dc.initializeRequest();
      const initialized = dc.waitForEvent('initialized');
      await dc.launchRequest({ program: fixture('runaway.hmm') } as DebugProtocol.LaunchRequestArguments);
      await initialized;
      await dc.configurationDoneRequest();
      await new Promise((r) => setTimeout(r, 100));
      const terminated = dc.waitForEvent('terminated');
      await dc.terminateRequest();
      await terminated;
    });
  });
});
