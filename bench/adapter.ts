// Layer: benchmark (bench/). The debug adapter as its own process over DAP, against a minimal
// @vscode/debugadapter session (vscode-mock-debug's shape, bench/baselineAdapter.ts) in the same
// run: peak RSS at the first stop of a small script, step round trips (median and p99 of both,
// stepped in turns so that the machine's noise falls on both, with the GC pauses inside the timed
// steps), and the time to answer a stop and to draw the map's picture at 8 and at 1M resident pages.

import { DebugClient } from '@vscode/debugadapter-testsupport';
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { ADAPTER_NODE_FLAGS } from '../src/adapter/processFlags';
import { gcInSteps, type GcInSteps, gcProbe, ownGcPauses, parseGcPauses, type Timed } from './gcPauses';
import { parseRequestTimes, requestProbe, requestsInSteps } from './requestProbe';
import {
  type Check, figure, fmt, heading, median, MiB, msSince, note, peakRssOf, percentile, ratio, type Scratch, verdict,
} from './measure';

/** vscode-mock-debug's peak RSS at its first stop, measured by hand on these machines (issue 14). */
const MOCK_DEBUG_RSS_MIB = 55;
/** Steps timed per adapter, after WARMUP_STEPS untimed ones (the JIT warms up on both sides). */
const STEPS = 2000;
const WARMUP_STEPS = 200;
/** The two adapters take turns in blocks this long, so that a noisy spell of the machine hits both. */
const BLOCK = 50;

/** A DebugClient on an adapter process the bench spawned itself (so it knows the pid for /proc). */
class AttachedClient extends DebugClient {
  attach(readable: Readable, writable: Writable): void {
    this.connect(readable, writable);
  }
}

interface Adapter {
  readonly dc: AttachedClient;
  readonly child: ChildProcess;
  /** What the process wrote on stderr so far (the GC probe reports there). */
  stderr(): string;
}

async function startAdapter(script: string, debugType: string, nodeArgs: readonly string[] = []): Promise<Adapter> {
  const child = spawn(process.execPath, [...nodeArgs, script], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    if (err.length > 4 * MiB) err = err.slice(-2 * MiB); // only the end (the probe's report) matters
  });
  const dc = new AttachedClient('node', script, debugType);
  dc.defaultTimeout = 120_000;
  dc.attach(child.stdout!, child.stdin!);
  await dc.initializeRequest();
  return { dc, child, stderr: () => err };
}

/** Ends the adapter process and waits for it to exit (so its stderr is complete). */
async function stopAdapter(a: Adapter): Promise<void> {
  const exited = a.child.exitCode !== null ? Promise.resolve() : new Promise<void>((r) => a.child.once('exit', () => r()));
  a.child.stdin?.end();
  if (a.child.exitCode === null) a.child.kill();
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
}

/** Launch `program` and wait for its first stop (entry, or the given breakpoint line). */
async function firstStop(a: Adapter, program: string, breakLine?: number): Promise<void> {
  if (breakLine !== undefined) await a.dc.setBreakpointsRequest({ source: { path: program }, breakpoints: [{ line: breakLine }] });
  const stopped = a.dc.waitForEvent('stopped');
  await a.dc.launchRequest({ program, stopOnEntry: breakLine === undefined } as never);
  await a.dc.configurationDoneRequest();
  await stopped;
}

/** The bench's clock, the one the GC probe uses: ms since the epoch, sub-millisecond. */
const now = (): number => performance.timeOrigin + performance.now();

/** Round trips of step in → stopped → stack trace, each with its start on the shared clock. */
async function steps(a: Adapter, n: number, out: Timed[]): Promise<void> {
  for (let i = 0; i < n; i++) {
    const at = now();
    const t0 = process.hrtime.bigint();
    const stopped = a.dc.waitForEvent('stopped');
    await a.dc.stepInRequest({ threadId: 1 });
    await stopped;
    await a.dc.stackTraceRequest({ threadId: 1 });
    out.push({ at, ms: msSince(t0) });
  }
}

interface Side {
  readonly rss: number;
  /** Peak RSS after the timed steps. */
  readonly rssEnd: number;
  readonly p50: number;
  readonly p99: number;
  readonly gc: GcInSteps;
  /** The bench's own pauses (the client's) inside this side's timed steps. */
  readonly clientGc: GcInSteps;
  /** Inside the adapter process: each request of the timed steps from its bytes arriving to the reply's write. */
  readonly inside: { readonly p50: number; readonly p99: number; readonly n: number };
}

/**
 * Ours and the baseline, both at their first stop, then stepped in turns of BLOCK steps (after a
 * warm-up) until each has STEPS timed round trips; the GC probe in both says which pauses fell
 * inside the timed steps.
 */
async function measureSides(scratch: Scratch, program: string): Promise<{ ours: Side; base: Side }> {
  const probe = ['--require', gcProbe(scratch), '--require', requestProbe(scratch)];
  // Ours as the extension starts it (src/adapter/processFlags.ts); the baseline as mock-debug is started.
  const ours = await startAdapter(path.resolve(__dirname, 'adapter.js'), 'hmm', [...ADAPTER_NODE_FLAGS, ...probe]);
  const base = await startAdapter(path.resolve(__dirname, 'baseline-adapter.js'), 'baseline', probe);
  try {
    await firstStop(ours, program);
    await firstStop(base, program);
    const rss = [peakRssOf(ours.child.pid!), peakRssOf(base.child.pid!)];
    const timed: Timed[][] = [[], []];
    await steps(ours, WARMUP_STEPS, []);
    await steps(base, WARMUP_STEPS, []);
    const client = ownGcPauses();
    for (let done = 0; done < STEPS; done += BLOCK) {
      await steps(ours, BLOCK, timed[0]!);
      await steps(base, BLOCK, timed[1]!);
    }
    client.stop();
    const rssEnd = [peakRssOf(ours.child.pid!), peakRssOf(base.child.pid!)];
    await stopAdapter(ours);
    await stopAdapter(base);
    const side = (i: number, a: Adapter): Side => {
      const ms = timed[i]!.map((t) => t.ms);
      const p99 = percentile(ms, 99);
      const inside = requestsInSteps(parseRequestTimes(a.stderr()), timed[i]!);
      return {
        rss: rss[i]!, rssEnd: rssEnd[i]!, p50: median(ms), p99, gc: gcInSteps(parseGcPauses(a.stderr()), timed[i]!, p99), clientGc: gcInSteps(client.pauses, timed[i]!, p99),
        inside: { p50: median(inside), p99: percentile(inside, 99), n: inside.length },
      };
    };
    return { ours: side(0, ours), base: side(1, base) };
  } finally {
    await stopAdapter(ours);
    await stopAdapter(base);
  }
}

function gcNote(who: string, s: Side): void {
  note(`${who}: ${s.gc.count} GC pauses inside the timed steps (${fmt(s.gc.totalMs)} ms in all, the longest ${fmt(s.gc.longestMs)} ms); ${s.gc.slowWithGc} of the ${s.gc.slow} steps at or over p99 had one`);
  note(`  the bench's own (the client's) inside them: ${s.clientGc.count} (${fmt(s.clientGc.totalMs)} ms in all); ${s.clientGc.slowWithGc} of the steps at or over p99 had one`);
}

export async function adapterLean(scratch: Scratch): Promise<void> {
  heading('The adapter is lean', `peak RSS at the first stop of a small script ≤ a minimal @vscode/debugadapter session's (vscode-mock-debug's shape; mock-debug itself ${MOCK_DEBUG_RSS_MIB} MiB by hand), p99 step round trip ≤ 5× the median`);
  const small = scratch.file('small.hmm', 'device gpu0\na = mmap 64 pages rw\nrepeat 100000 {\n  write a = i\n  migrate a to gpu0\n  read a\n}\n');
  const { ours, base } = await measureSides(scratch, small);
  figure('adapter peak RSS at the first stop', `${fmt(ours.rss / MiB)} MiB`, `baseline: ${fmt(base.rss / MiB)} MiB`, ratio(ours.rss, base.rss));
  figure('', '', `mock-debug: ${MOCK_DEBUG_RSS_MIB} MiB`, ratio(ours.rss, MOCK_DEBUG_RSS_MIB * MiB));
  const warm = process.env['HMM_ADAPTER_WARM_UP'] === '0' ? 'without' : 'with';
  note(`peak RSS after the ${WARMUP_STEPS + STEPS} steps: ours ${fmt(ours.rssEnd / MiB)} MiB (${warm} the step path's warm-up after the first stop, src/adapter/warmUp.ts), the baseline's ${fmt(base.rssEnd / MiB)} MiB`);
  figure(`step round trip, median of ${STEPS}`, `${fmt(ours.p50, 2)} ms`, `baseline: ${fmt(base.p50, 2)} ms`, ratio(ours.p50, base.p50));
  figure('step round trip, p99', `${fmt(ours.p99, 2)} ms`, `our median: ${fmt(ours.p50, 2)} ms`, ratio(ours.p99, ours.p50));
  figure('baseline step round trip, p99', `${fmt(base.p99, 2)} ms`, `its median: ${fmt(base.p50, 2)} ms`, ratio(base.p99, base.p50));
  note(`${STEPS} timed steps each after ${WARMUP_STEPS} untimed, the two adapters in turns of ${BLOCK}`);
  gcNote('ours', ours);
  gcNote('baseline', base);
  note(`inside each adapter process, a request of the timed steps from its bytes arriving to the reply's write: ours median ${fmt(ours.inside.p50, 3)} ms, p99 ${fmt(ours.inside.p99, 3)} ms (${ours.inside.n} requests); the baseline's ${fmt(base.inside.p50, 3)} and ${fmt(base.inside.p99, 3)} ms; the rest of a round trip is the pipes and the two processes waking up`);
  const tailOk = ours.p99 <= 5 * ours.p50;
  const baseTailOk = base.p99 <= 5 * base.p50;
  const tail = `p99 ${ratio(ours.p99, ours.p50)} the median (≤ 5×)${tailOk || baseTailOk ? '' : `; the baseline misses it too (${ratio(base.p99, base.p50)}): the machine's noise`}`;
  const checks: Check[] = [
    { ok: ours.rss <= Math.max(base.rss, MOCK_DEBUG_RSS_MIB * MiB), what: `peak RSS ${fmt(ours.rss / MiB, 0)} MiB (≤ ${fmt(Math.max(base.rss / MiB, MOCK_DEBUG_RSS_MIB), 0)} MiB)` },
    { ok: tailOk, what: tail },
  ];
  verdict(checks);
}

/** Stops measured per size: each the first answer of its stop (the adapter keeps answers only within one). */
export const STOPS = 30;

/**
 * Answering a stop and the map's picture, at 8 and at 1M resident pages (adapter side of "instant
 * at any size"). The script stops STOPS times on a line inside a loop that changes nothing, and
 * each stop's requests are the first of that stop, as when VS Code refreshes its views: repeating a
 * request within one stop would time the adapter's per-stop memo, not the answer. The first stop
 * after the pages were made, which reads them all once, is reported on its own.
 */
export interface StopAnswers { stop: [number, number]; picture: [number, number]; firstStop: [number, number]; firstPicture: [number, number] }

export async function stopAnswers(scratch: Scratch): Promise<StopAnswers> {
  const measure = async (pages: number): Promise<{ stop: number[]; picture: number[] }> => {
    const program = scratch.file(`resident-${pages}.hmm`,
      `device gpu0 private memory 8 GiB\na = mmap ${pages} pages rw\nwrite a = i\nmigrate a[..${pages / 2}] to gpu0\nrepeat ${STOPS} {\n  print "stop"\n}\n`);
    const a = await startAdapter(path.resolve(__dirname, 'adapter.js'), 'hmm', ADAPTER_NODE_FLAGS);
    try {
      await firstStop(a, program, 6);
      const stop: number[] = [];
      const picture: number[] = [];
      for (let i = 0; i < STOPS; i++) {
        if (i > 0) {
          const stopped = a.dc.waitForEvent('stopped');
          await a.dc.continueRequest({ threadId: 1 });
          await stopped;
        }
        const t0 = process.hrtime.bigint();
        const st = await a.dc.stackTraceRequest({ threadId: 1 });
        const sc = await a.dc.scopesRequest({ frameId: st.body.stackFrames[0]!.id });
        const vars = await a.dc.variablesRequest({ variablesReference: sc.body.scopes[0]!.variablesReference });
        const mapping = vars.body.variables.find((v) => v.name === 'a');
        if (mapping === undefined) throw new Error(`no variable a at the stop: ${vars.body.variables.map((v) => v.name).join(', ')}`);
        await a.dc.variablesRequest({ variablesReference: mapping.variablesReference, filter: 'indexed', start: Math.max(0, pages / 2 - 50), count: Math.min(100, pages) });
        await a.dc.customRequest('hmm/residency', { maxRuns: 1000 });
        await a.dc.customRequest('hmm/notifiers', { limit: 200 });
        stop.push(msSince(t0));
        const t1 = process.hrtime.bigint();
        await a.dc.customRequest('hmm/picture');
        picture.push(msSince(t1));
      }
      return { stop, picture };
    } finally {
      await stopAdapter(a);
    }
  };
  const few = await measure(8);
  const many = await measure(1 << 20);
  const later = (xs: number[]): number => median(xs.slice(1));
  return {
    stop: [later(few.stop), later(many.stop)], picture: [later(few.picture), later(many.picture)],
    firstStop: [few.stop[0]!, many.stop[0]!], firstPicture: [few.picture[0]!, many.picture[0]!],
  };
}
