// `npm run bench`: speed and memory figures of the simulator, printed (never asserted).
// Figures: mapping 64 GiB untouched, writing / migrating 1M pages (4 GiB) to a device and back,
// a CPU touch of 64k device pages (one migrate_to_ram each), the conformance suite.

import { DebugClient } from '@vscode/debugadapter-testsupport';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ScriptController } from '../src/hmm/lang/controller';
import { Interpreter } from '../src/hmm/lang/interpreter';
import { parseScript } from '../src/hmm/lang/parser';
import { runScriptText } from '../src/hmm/lang/runner';
import { Simulator } from '../src/hmm/simulator';

interface Timed {
  ms: number;
  heapMiB: number;
}

function interp(text: string): { it: Interpreter; sim: Simulator } {
  const parsed = parseScript('bench.hmm', text);
  if (parsed.diagnostics.length > 0) throw new Error(parsed.diagnostics.map((d) => d.message).join('\n'));
  const sim = new Simulator();
  return { it: new Interpreter(parsed.script, { sim }), sim };
}

function stepTimed(it: Interpreter): Timed {
  const t0 = process.hrtime.bigint();
  const r = it.step();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.kind === 'error') throw new Error(r.error.formatted);
  return { ms, heapMiB: process.memoryUsage().heapUsed / 2 ** 20 };
}

function fmt(n: number, digits = 1): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function row(name: string, value: string, note = ''): void {
  console.log(`${name.padEnd(44)} ${value.padStart(18)}  ${note}`);
}

function main(): void {
  console.log(`hmm-sim benchmark — node ${process.version}, ${new Date().toISOString()}`);
  console.log('-'.repeat(90));

  // 1. Untouched pages cost nothing.
  {
    const { it, sim } = interp('big = mmap 64 GiB rw\n');
    const before = sim.bytesUsed;
    const t = stepTimed(it);
    row('mmap 64 GiB (16,777,216 pages)', `${fmt(t.ms, 3)} ms`, `simulator bytes added: ${sim.bytesUsed - before}`);
  }

  // 2. 1M pages: write, migrate to the device, migrate back.
  {
    const pages = 1 << 20;
    const again = 3;
    const { it, sim } = interp(`device gpu0 private memory 8 GiB\na = mmap ${pages} pages rw\nwrite a = i\n` +
      'migrate a to gpu0\nmigrate a to system\n'.repeat(1 + again) + 'expect a == i\n');
    stepTimed(it);
    stepTimed(it);
    const base = sim.bytesUsed;
    const w = stepTimed(it);
    const touched = sim.bytesUsed;
    row('CPU write 1M pages (4 GiB)', `${fmt(w.ms)} ms`, `${fmt(pages / (w.ms / 1000) / 1e6, 2)} M pages/s`);
    row('  bytes per touched page', `${fmt((touched - base) / pages)} B`, `(frames + page tables; data kept as patterns)`);
    const to = stepTimed(it);
    row('migrate 1M pages to device (migrate_vma)', `${fmt(to.ms)} ms`, `${fmt(pages / (to.ms / 1000) / 1e6, 2)} M pages/s`);
    const back = stepTimed(it);
    row('migrate 1M pages back to system', `${fmt(back.ms)} ms`, `${fmt(pages / (back.ms / 1000) / 1e6, 2)} M pages/s`);
    // The first one also makes the device's 1M struct pages (fresh memory) and warms the JIT.
    row('  round trip 1M pages (first)', `${fmt(to.ms + back.ms)} ms`, `ratio to 1 s goal: ${fmt((to.ms + back.ms) / 1000, 3)}; ${fmt((2 * pages) / ((to.ms + back.ms) / 1000) / 1e6, 2)} M pages/s`);
    // Later round trips: the median of `again`, the device's struct pages already made.
    const trips: number[] = [];
    for (let k = 0; k < again; k++) trips.push(stepTimed(it).ms + stepTimed(it).ms);
    const rt = trips.sort((x, y) => x - y)[Math.floor(again / 2)]!;
    row(`  round trip 1M pages (again, median of ${again})`, `${fmt(rt)} ms`, `ratio to 1 s goal: ${fmt(rt / 1000, 3)}; ${fmt((2 * pages) / (rt / 1000) / 1e6, 2)} M pages/s`);
    const chk = stepTimed(it);
    row('expect a == i over 1M pages', `${fmt(chk.ms)} ms`, 'symbolic compare, no word evaluated');
    row('  heap after', `${fmt(chk.heapMiB)} MiB`, `events recorded: ${sim.log.events.length}`);
  }

  // 3. Per-page CPU faults on device memory.
  {
    const pages = 65536;
    const { it } = interp(`device gpu0\na = mmap ${pages} pages rw\nwrite a = i\nmigrate a to gpu0\nread a\n`);
    for (let i = 0; i < 4; i++) stepTimed(it);
    const t = stepTimed(it);
    row('CPU read of 64k device pages (migrate_to_ram)', `${fmt(t.ms)} ms`, `${fmt(pages / (t.ms / 1000) / 1e3, 1)} k faults/s`);
  }

  // 4. A kernel touching 1M pages: simulated events per second of wall time.
  {
    const pages = 1 << 20;
    const { it, sim } = interp(`device gpu0 private memory 8 GiB\nkernel touch(x) {\n  read x\n}\na = mmap ${pages} pages rw\nwrite a = i\nlaunch touch(a) on gpu0 as j\nwait j\n`);
    for (let i = 0; i < 4; i++) stepTimed(it);
    const before = sim.log.events.length;
    const faultsBefore = sim.stats.devices.get('gpu0')!.faults;
    const t = stepTimed(it);
    const events = sim.log.events.slice(before).reduce((n, e) => n + e.count, 0);
    const faults = sim.stats.devices.get('gpu0')!.faults - faultsBefore;
    row('kernel touching 1M pages (fault-driven)', `${fmt(t.ms)} ms`, `${faults} page faults, ${fmt(events / (t.ms / 1000) / 1e3, 1)} k simulated events/s (${events} events)`);
    row('  simulated time of that kernel', `${fmt(sim.clock.now / 1e6, 2)} ms`, `ratio wall/simulated ${fmt(t.ms / (sim.clock.now / 1e6), 2)}`);
  }

  // 5. The conformance suite.
  {
    const dir = path.resolve(__dirname, '../test/conformance');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.hmm'));
    const t0 = Date.now();
    let failed = 0;
    for (const f of files) {
      const r = runScriptText(f, fs.readFileSync(path.join(dir, f), 'utf8'));
      if (r.error || r.diagnostics.length) failed++;
    }
    row(`conformance suite (${files.length} scripts)`, `${Date.now() - t0} ms`, failed ? `${failed} FAILED` : 'all passed');
  }
}

/** The adapter over DAP: step round trip, answering a stop at 1M resident pages. */
async function dapFigures(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hmm-bench-'));
  const adapter = path.resolve(__dirname, 'adapter.js');
  const small = path.join(dir, 'small.hmm');
  fs.writeFileSync(small, 'device gpu0\na = mmap 64 pages rw\nrepeat 1000 {\n  write a = i\n  migrate a to gpu0\n  read a\n}\n');
  const big = path.join(dir, 'big.hmm');
  fs.writeFileSync(big, 'device gpu0 private memory 8 GiB\na = mmap 1048576 pages rw\nwrite a = i\nmigrate a[..524288] to gpu0\nprint "done"\n');

  const dc = new DebugClient('node', adapter, 'hmm');
  dc.defaultTimeout = 120_000;
  await dc.start();
  try {
    await dc.initializeRequest();
    const first = dc.waitForEvent('stopped');
    await dc.launch({ program: small, stopOnEntry: true });
    await dc.configurationDoneRequest();
    await first;
    const n = 200;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const stopped = dc.waitForEvent('stopped');
      await dc.stepInRequest({ threadId: 1 });
      await stopped;
      await dc.stackTraceRequest({ threadId: 1 });
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6 / n;
    row('DAP step round trip (stepIn + stopped + stack)', `${fmt(ms, 2)} ms`, `over ${n} steps of a small script`);
  } finally {
    await dc.stop();
  }

  const dc2 = new DebugClient('node', adapter, 'hmm');
  dc2.defaultTimeout = 120_000;
  await dc2.start();
  try {
    await dc2.initializeRequest();
    await dc2.setBreakpointsRequest({ source: { path: big }, breakpoints: [{ line: 5 }] });
    const stopped = dc2.waitForEvent('stopped');
    await dc2.launch({ program: big });
    await dc2.configurationDoneRequest();
    await stopped;
    const t0 = process.hrtime.bigint();
    const st = await dc2.stackTraceRequest({ threadId: 1 });
    const sc = await dc2.scopesRequest({ frameId: st.body.stackFrames[0]!.id });
    const vars = await dc2.variablesRequest({ variablesReference: sc.body.scopes[0]!.variablesReference });
    const mapping = vars.body.variables[0]!;
    await dc2.variablesRequest({ variablesReference: mapping.variablesReference, filter: 'indexed', start: 524000, count: 100 });
    await dc2.customRequest('hmm/residency', { maxRuns: 1000 });
    await dc2.customRequest('hmm/notifiers', { limit: 200 });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    row('answer a stop at 1M resident pages', `${fmt(ms)} ms`, 'stack + scopes + variables + 100 pages + residency + notifiers');
    const t1 = process.hrtime.bigint();
    await dc2.customRequest('hmm/picture');
    row('hmm/picture at 1M resident pages', `${fmt(Number(process.hrtime.bigint() - t1) / 1e6)} ms`, "the address-space map's data: lanes, links, memories");
  } finally {
    await dc2.stop();
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Reverse step latency deep into a run (checkpoints + replay). */
async function reverseFigures(): Promise<void> {
  const steps = 100_000;
  const text = `device gpu0\na = mmap 16 pages rw\nrepeat ${steps} as k {\n  write a[3] = i + k\n}\nprint "end"\n`;
  const ctl = new ScriptController('reverse.hmm', text, { output: () => undefined });
  ctl.setLineBreakpoints([{ line: 6 }]);
  const t0 = Date.now();
  await ctl.continue();
  const runMs = Date.now() - t0;
  const at = ctl.position.done;
  const t1 = process.hrtime.bigint();
  ctl.stepBack();
  const back1 = Number(process.hrtime.bigint() - t1) / 1e6;
  const t2 = process.hrtime.bigint();
  ctl.stepBack();
  const back2 = Number(process.hrtime.bigint() - t2) / 1e6;
  row(`forward run to statement ${at}`, `${fmt(runMs, 0)} ms`, 'with checkpoints');
  row(`reverse step at statement ${at}`, `${fmt(back1)} ms`, `then ${fmt(back2)} ms (restore + replay)`);
}

/** Figures the real-VS-Code tests recorded (the bench cannot start VS Code), and the VSIX size. */
function extensionFigures(): void {
  const root = path.resolve(__dirname, '..');
  const vsix = path.join(root, 'hmm-debug.vsix');
  if (fs.existsSync(vsix)) row('VSIX size (npm run package)', `${fmt(fs.statSync(vsix).size / 1024)} KiB`, 'hmm-debug.vsix');
  else row('VSIX size', 'n/a', 'run npm run package first');
  const metrics = path.join(root, 'artifacts/vscode-metrics.json');
  if (!fs.existsSync(metrics)) {
    row('extension activation / 1M-page refresh', 'n/a', 'run npm test (the VS Code integration suite records them)');
    return;
  }
  const m = JSON.parse(fs.readFileSync(metrics, 'utf8')) as Record<string, number>;
  const when = m['measuredAt'] ? new Date(m['measuredAt']).toISOString() : 'unknown time';
  if (m['activationMs'] !== undefined) row('extension activation (code-server)', `${m['activationMs']} ms`, `recorded by npm test at ${when}`);
  if (m['viewsRefreshedAt1MPagesMs'] !== undefined) {
    row('view refresh at a stop, 1M resident pages', `${m['viewsRefreshedAt1MPagesMs']} ms`, `step over → stopped ${m['stopAt1MPagesMs']} ms → views refreshed`);
  }
  // The address-space map in Chromium, measured with the performance API by the e2e test (test/e2e/map.ts).
  const mapFile = path.join(root, 'artifacts/map-metrics.json');
  if (!fs.existsSync(mapFile)) {
    row('address-space map at 1M resident pages', 'n/a', 'run npm test (the e2e test records it)');
    return;
  }
  const mm = JSON.parse(fs.readFileSync(mapFile, 'utf8')) as Record<string, number>;
  const at = mm['measuredAt'] ? new Date(mm['measuredAt']).toISOString() : 'unknown time';
  row('map: 1M pages drawn after the data arrived', `${fmt(mm['openPaintedMs']!)} ms`, `render ${fmt(mm['openRenderMs']!)} ms; recorded by the e2e test at ${at}`);
  row('map: zoom redraw at 1M pages (median)', `${fmt(mm['zoomRenderMedianMs']!)} ms`, `max ${fmt(mm['zoomRenderMaxMs']!)} ms; frames ${fmt(mm['frameMedianMs']!)} ms apart (${fmt(1000 / mm['frameMedianMs']!, 0)} fps); settled frame ${fmt(mm['settledMs'] ?? NaN)} ms`);
}

main();
extensionFigures();
void dapFigures().then(reverseFigures).catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
