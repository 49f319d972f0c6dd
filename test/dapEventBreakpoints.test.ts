// Event breakpoints as a new user meets them, over real DAP (node dist/adapter.js): conditions
// that name a mapping before the script makes it, range conditions on coalesced events, stops
// taken before the fault is serviced (dmirror and GPU paths), and event breakpoints asked for in
// the launch configuration (VS Code shows the filters only once a session has started).

import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';

const root = path.resolve(__dirname, '../..');
const adapter = path.join(root, 'dist/adapter.js');

const SCRIPTS: Record<string, string> = {
  // the walkthrough's journey: the device faults on the pages the CPU took back (only on them:
  // a fault pass over gpu0's own device pages would oops test_hmm, as on Linux)
  'journey.hmm': `device gpu0
a = mmap 8 pages rw
write a = i
migrate a to gpu0
read a[1..3]
gpu0 read a[..3]
print "end"
`,
  // one statement, eight CPU faults on device pages: one coalesced cpuFault event
  'coalesced.hmm': `device gpu0
a = mmap 8 pages rw
write a = i
migrate a to gpu0
read a
print "end"
`,
  // a kernel's fault batch (the GPU path)
  'kernel.hmm': `device gpu0
kernel touch(x) {
  read x
}
a = mmap 4 pages rw
write a = i
launch touch(a) on gpu0 as job
wait all
print "end"
`,
};

type Residency = { mappings: { name: string; runs: { start: number; end: number; kind: string; device?: string; mirrors: Record<string, string> }[] }[] };

describe('event breakpoints over DAP: conditions, coalesced events, stops before service, launch configuration', function () {
  this.timeout(20_000);
  let dc: DebugClient;
  let dir: string;
  let outputs: string[];

  const program = (name: string): string => path.join(dir, name);
  const lineOf = (name: string, text: string): number => SCRIPTS[name]!.split('\n').findIndex((l) => l.startsWith(text)) + 1;

  before(function () {
    this.timeout(120_000);
    if (!fs.existsSync(adapter)) execFileSync('node', ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hmm-dap-events-'));
    for (const [name, text] of Object.entries(SCRIPTS)) fs.writeFileSync(program(name), text);
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  beforeEach(async () => {
    dc = new DebugClient('node', adapter, 'hmm');
    dc.defaultTimeout = 15_000;
    outputs = [];
    dc.on('output', (e: DebugProtocol.OutputEvent) => outputs.push(e.body.output));
    await dc.start();
  });

  afterEach(async () => {
    await dc.stop();
  });

  type End = { kind: 'stopped'; body: DebugProtocol.StoppedEvent['body'] } | { kind: 'terminated' };

  function nextEnd(): Promise<End> {
    return Promise.race([
      dc.waitForEvent('stopped').then((e) => ({ kind: 'stopped' as const, body: (e as DebugProtocol.StoppedEvent).body })),
      dc.waitForEvent('terminated').then(() => ({ kind: 'terminated' as const })),
    ]);
  }

  /**
   * initialize, launch (with extra launch arguments), the filters the Breakpoints view would send
   * (none sent when undefined), configurationDone; the first stop or the end.
   */
  async function start(name: string, filters: DebugProtocol.ExceptionFilterOptions[] | undefined, launchArgs: Record<string, unknown> = {}): Promise<{ end: End; verified?: DebugProtocol.Breakpoint[] }> {
    await dc.initializeRequest();
    const initialized = dc.waitForEvent('initialized');
    await dc.launchRequest({ program: program(name), ...launchArgs } as DebugProtocol.LaunchRequestArguments);
    await initialized;
    let verified: DebugProtocol.Breakpoint[] | undefined;
    if (filters !== undefined) verified = (await dc.setExceptionBreakpointsRequest({ filters: ['failure', 'invariant'], filterOptions: filters })).body?.breakpoints;
    const end = nextEnd();
    await dc.configurationDoneRequest();
    return { end: await end, ...(verified !== undefined ? { verified } : {}) };
  }

  function stopped(e: End): DebugProtocol.StoppedEvent['body'] {
    assert.equal(e.kind, 'stopped', `expected a stop, the run ended; output:\n${outputs.join('')}`);
    if (e.kind !== 'stopped') throw new Error('unreachable');
    return e.body;
  }

  async function topLine(threadId: number): Promise<number> {
    return (await dc.stackTraceRequest({ threadId })).body.stackFrames[0]!.line;
  }

  async function residency(mapping: string): Promise<Residency['mappings'][number]['runs']> {
    const r = (await dc.customRequest('hmm/residency', { mapping })).body as Residency;
    return r.mappings[0]!.runs;
  }

  /** Residency and gpu0's mapping of page `p` of a mapping. */
  function pageState(runs: Residency['mappings'][number]['runs'], p: number): string {
    const r = runs.find((x) => x.start <= p && p < x.end);
    assert.ok(r, `page ${p} in ${JSON.stringify(runs)}`);
    return `${r.kind}${r.device ? ` ${r.device}` : ''}, gpu0 maps ${r.mirrors['gpu0']}`;
  }

  it('a condition naming a mapping the script has not made yet is accepted, and stops when the fault fires', async () => {
    const { end, verified } = await start('journey.hmm', [{ filterId: 'deviceFault', condition: 'gpu0 a[2] read' }]);
    assert.deepEqual(verified?.map((b) => b.verified), [true, true, true], JSON.stringify(verified));
    const s = stopped(end);
    assert.equal(s.reason, 'exception');
    assert.equal(await topLine(s.threadId!), lineOf('journey.hmm', 'gpu0 read a'));
    const info = await dc.exceptionInfoRequest({ threadId: s.threadId! });
    assert.equal(info.body.exceptionId, 'Device fault');
    // dmirror_fault faults from the first page the device does not map to the end of the read
    assert.match(info.body.description ?? '', /gpu0 device fault \(read\) a\[1\.\.3\]/);
  });

  it('a condition that does not match the fault (write) does not stop, and is not rejected', async () => {
    const { end, verified } = await start('journey.hmm', [{ filterId: 'deviceFault', condition: 'gpu0 a[2] write' }]);
    assert.deepEqual(verified?.map((b) => b.verified), [true, true, true]);
    assert.equal(end.kind, 'terminated');
  });

  it('a condition on pages the fault does not touch does not stop', async () => {
    // a[0] stayed mapped on gpu0: the device faults on a[1..3] only
    const miss = await start('journey.hmm', [{ filterId: 'deviceFault', condition: 'a[0]' }]);
    assert.equal(miss.end.kind, 'terminated');
  });

  it('a condition that can never match is reported on the filter and in the Debug Console; the filter stays on', async () => {
    const { end, verified } = await start('journey.hmm', [{ filterId: 'deviceFault', condition: 'b[2]' }], { eventBreakpoints: { deviceFault: 'gpu0' } });
    const bp = verified?.[2];
    assert.equal(bp?.verified, false);
    assert.match(bp?.message ?? '', /can never match: the script declares no device or mapping named b/);
    // the launch configuration's deviceFault is still on: the filter was not dropped
    const s = stopped(end);
    assert.equal(s.reason, 'exception');
    assert.ok(outputs.some((o) => /Stopping on Device fault \(gpu0\): from the launch configuration/.test(o)), outputs.join(''));
  });

  it('launch configuration eventBreakpoints stop on a device fault with nothing ticked in Breakpoints', async () => {
    const { end } = await start('journey.hmm', undefined, { eventBreakpoints: { deviceFault: 'gpu0 a[2] read' } });
    const s = stopped(end);
    assert.equal(s.reason, 'exception');
    assert.equal(await topLine(s.threadId!), lineOf('journey.hmm', 'gpu0 read a'));
  });

  it('launch configuration eventBreakpoints with an unknown filter or a non-string condition is a launch error', async () => {
    await dc.initializeRequest();
    await assert.rejects(dc.launchRequest({ program: program('journey.hmm'), eventBreakpoints: { deviceFaults: '' } } as DebugProtocol.LaunchRequestArguments),
      /'eventBreakpoints' has no filter 'deviceFaults' \(deviceFault, cpuFaultOnDevice/);
    await assert.rejects(dc.launchRequest({ program: program('journey.hmm'), eventBreakpoints: { deviceFault: true } } as DebugProtocol.LaunchRequestArguments),
      /'eventBreakpoints.deviceFault' must be a condition string/);
    await assert.rejects(dc.launchRequest({ program: program('journey.hmm'), eventBreakpoints: ['deviceFault'] } as DebugProtocol.LaunchRequestArguments),
      /'eventBreakpoints' must be an object/);
  });

  it('range conditions match every page of a coalesced event: a[3] stops at a[3], a[2..6] at a[2]', async () => {
    for (const [condition, page] of [['a[3]', 3], ['a[2..6]', 2], ['gpu0 a[7] read', 7]] as const) {
      const { end } = await start('coalesced.hmm', [{ filterId: 'cpuFaultOnDevice', condition }]);
      const s = stopped(end);
      assert.equal(s.reason, 'exception', condition);
      const info = await dc.exceptionInfoRequest({ threadId: s.threadId! });
      assert.equal(info.body.exceptionId, 'CPU fault on a device page');
      assert.match(info.body.description ?? '', new RegExp(` a\\[${page}\\]: `), `${condition}: ${info.body.description}`);
      // taken before migrate_to_ram serviced it: the page is still on the device, the ones before it are back
      const runs = await residency('a');
      assert.equal(pageState(runs, page), 'device gpu0, gpu0 maps write', condition);
      if (page > 0) assert.match(pageState(runs, page - 1), /^system/, condition);
      await dc.disconnectRequest({});
      await dc.stop();
      dc = new DebugClient('node', adapter, 'hmm');
      dc.defaultTimeout = 15_000;
      dc.on('output', (e: DebugProtocol.OutputEvent) => outputs.push(e.body.output));
      await dc.start();
    }
  });

  it('a dmirror device-fault stop comes before the fault is serviced: the device does not map the pages yet', async () => {
    const { end } = await start('journey.hmm', [{ filterId: 'deviceFault' }]);
    const s = stopped(end);
    const frames = (await dc.stackTraceRequest({ threadId: s.threadId! })).body.stackFrames;
    assert.match(frames[0]!.name, /^dmirror_fault/, frames.map((f) => f.name).join(' | '));
    assert.equal(pageState(await residency('a'), 2), 'system, gpu0 maps none');
    assert.equal(pageState(await residency('a'), 4), 'device gpu0, gpu0 maps write');
    // stepping out of the fault services it
    const next = nextEnd();
    await dc.nextRequest({ threadId: s.threadId! });
    stopped(await next);
    assert.equal(pageState(await residency('a'), 2), 'system, gpu0 maps write');
  });

  it('stepping into a migrate: at migrate_vma_setup, Pending Migrations lists the migration the stack is in', async () => {
    await dc.initializeRequest();
    const initialized = dc.waitForEvent('initialized');
    await dc.launchRequest({ program: program('journey.hmm') } as DebugProtocol.LaunchRequestArguments);
    await initialized;
    await dc.setBreakpointsRequest({ source: { path: program('journey.hmm') }, breakpoints: [{ line: lineOf('journey.hmm', 'migrate a to gpu0') }] });
    let end = nextEnd();
    await dc.configurationDoneRequest();
    const threadId = stopped(await end).threadId!;
    let names: string[] = [];
    for (let i = 0; i < 6 && !names[0]?.startsWith('migrate_vma_setup'); i++) {
      end = nextEnd();
      await dc.stepInRequest({ threadId });
      stopped(await end);
      names = (await dc.stackTraceRequest({ threadId })).body.stackFrames.map((f) => f.name);
    }
    assert.match(names[0] ?? '', /^migrate_vma_setup/, names.join(' | '));
    const body = (await dc.customRequest('hmm/migrations')).body as { migrations: { phase: string; device: string; direction: string }[] };
    assert.deepEqual(body.migrations.map((m) => [m.phase, m.device, m.direction]), [['setup', 'gpu0', 'to-device']]);
  });

  it('a watch stops with the old and the new state of the page', async () => {
    await dc.initializeRequest();
    const initialized = dc.waitForEvent('initialized');
    await dc.launchRequest({ program: program('journey.hmm') } as DebugProtocol.LaunchRequestArguments);
    await initialized;
    await dc.setBreakpointsRequest({ source: { path: program('journey.hmm') }, breakpoints: [{ line: lineOf('journey.hmm', 'migrate a to gpu0') }] });
    let end = nextEnd();
    await dc.configurationDoneRequest();
    const threadId = stopped(await end).threadId!;
    const frameId = (await dc.stackTraceRequest({ threadId })).body.stackFrames[0]!.id;
    const answer = (await dc.evaluateRequest({ expression: 'watch a[2]', context: 'repl', frameId })).body.result;
    assert.match(answer, /^watching a\[2\] \(now system rw\): execution stops/);
    end = nextEnd();
    await dc.continueRequest({ threadId });
    const s = stopped(await end);
    assert.equal(s.reason, 'data breakpoint');
    assert.equal(s.description, 'a[2]: system rw → device gpu0 rw, gpu0 write');
  });

  it('a GPU job\'s device-fault stop comes before the batch is serviced: nothing migrated yet', async () => {
    const { end } = await start('kernel.hmm', [{ filterId: 'deviceFault', condition: 'gpu0 a[1]' }]);
    const s = stopped(end);
    const frames = (await dc.stackTraceRequest({ threadId: s.threadId! })).body.stackFrames;
    assert.match(frames[0]!.name, /^service_fault_batch/, frames.map((f) => f.name).join(' | '));
    assert.equal(pageState(await residency('a'), 1), 'system, gpu0 maps none');
    const info = await dc.exceptionInfoRequest({ threadId: s.threadId! });
    assert.match(info.body.description ?? '', /gpu0 device fault \(read\) a$/);
  });
});
