// Layer: benchmark (bench/). The debug adapter as its own process over DAP, against a minimal
// @vscode/debugadapter session (vscode-mock-debug's shape, bench/baselineAdapter.ts) in the same
// run: peak RSS at the first stop of a small script, step round trips (median and p99), and the
// time to answer a stop and to draw the map's picture at 8 and at 1M resident pages.

import { DebugClient } from '@vscode/debugadapter-testsupport';
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import {
  type Check, figure, fmt, heading, median, MiB, msSince, note, peakRssOf, percentile, ratio, type Scratch, verdict,
} from './measure';

/** vscode-mock-debug's peak RSS at its first stop, measured by hand on these machines (issue 14). */
const MOCK_DEBUG_RSS_MIB = 55;
const STEPS = 1000;

/** A DebugClient on an adapter process the bench spawned itself (so it knows the pid for /proc). */
class AttachedClient extends DebugClient {
  attach(readable: Readable, writable: Writable): void {
    this.connect(readable, writable);
  }
}

interface Adapter {
  readonly dc: AttachedClient;
  readonly child: ChildProcess;
}

async function startAdapter(script: string, debugType: string): Promise<Adapter> {
  const child = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const dc = new AttachedClient('node', script, debugType);
  dc.defaultTimeout = 120_000;
  dc.attach(child.stdout!, child.stdin!);
  await dc.initializeRequest();
  return { dc, child };
}

function stopAdapter(a: Adapter): void {
  a.child.stdin?.end();
  if (a.child.exitCode === null) a.child.kill();
}

/** Launch `program` and wait for its first stop (entry, or the given breakpoint line). */
async function firstStop(a: Adapter, program: string, breakLine?: number): Promise<void> {
  if (breakLine !== undefined) await a.dc.setBreakpointsRequest({ source: { path: program }, breakpoints: [{ line: breakLine }] });
  const stopped = a.dc.waitForEvent('stopped');
  await a.dc.launchRequest({ program, stopOnEntry: breakLine === undefined } as never);
  await a.dc.configurationDoneRequest();
  await stopped;
}

/** Round trips of step in → stopped → stack trace, ms each. */
async function steps(a: Adapter, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    const stopped = a.dc.waitForEvent('stopped');
    await a.dc.stepInRequest({ threadId: 1 });
    await stopped;
    await a.dc.stackTraceRequest({ threadId: 1 });
    out.push(msSince(t0));
  }
  return out;
}

interface Side {
  readonly rss: number;
  readonly p50: number;
  readonly p99: number;
}

async function measureSide(script: string, debugType: string, program: string): Promise<Side> {
  const a = await startAdapter(script, debugType);
  try {
    await firstStop(a, program);
    const rss = peakRssOf(a.child.pid!);
    // A first batch warms the JIT up on both sides; the figures come from the second.
    await steps(a, 100);
    const t = await steps(a, STEPS);
    return { rss, p50: median(t), p99: percentile(t, 99) };
  } finally {
    stopAdapter(a);
  }
}

export async function adapterLean(scratch: Scratch): Promise<void> {
  heading('The adapter is lean', `peak RSS at the first stop of a small script ≤ a minimal @vscode/debugadapter session's (vscode-mock-debug's shape; mock-debug itself ${MOCK_DEBUG_RSS_MIB} MiB by hand), p99 step round trip ≤ 5× the median`);
  const small = scratch.file('small.hmm', 'device gpu0\na = mmap 64 pages rw\nrepeat 100000 {\n  write a = i\n  migrate a to gpu0\n  read a\n}\n');
  const ours = await measureSide(path.resolve(__dirname, 'adapter.js'), 'hmm', small);
  const base = await measureSide(path.resolve(__dirname, 'baseline-adapter.js'), 'baseline', small);
  figure('adapter peak RSS at the first stop', `${fmt(ours.rss / MiB)} MiB`, `baseline: ${fmt(base.rss / MiB)} MiB`, ratio(ours.rss, base.rss));
  figure('', '', `mock-debug: ${MOCK_DEBUG_RSS_MIB} MiB`, ratio(ours.rss, MOCK_DEBUG_RSS_MIB * MiB));
  figure(`step round trip, median of ${STEPS}`, `${fmt(ours.p50, 2)} ms`, `baseline: ${fmt(base.p50, 2)} ms`, ratio(ours.p50, base.p50));
  figure(`step round trip, p99`, `${fmt(ours.p99, 2)} ms`, `our median: ${fmt(ours.p50, 2)} ms`, ratio(ours.p99, ours.p50));
  note(`baseline p99 ${fmt(base.p99, 2)} ms (${ratio(base.p99, base.p50)} its median)`);
  const checks: Check[] = [
    { ok: ours.rss <= Math.max(base.rss, MOCK_DEBUG_RSS_MIB * MiB), what: `peak RSS ${fmt(ours.rss / MiB, 0)} MiB (≤ ${fmt(Math.max(base.rss / MiB, MOCK_DEBUG_RSS_MIB), 0)} MiB)` },
    { ok: ours.p99 <= 5 * ours.p50, what: `p99 ${ratio(ours.p99, ours.p50)} the median (≤ 5×)` },
  ];
  verdict(checks);
}

/** Answering a stop and the map's picture, at 8 and at 1M resident pages (adapter side of "instant at any size"). */
export async function stopAnswers(scratch: Scratch, repeat: number): Promise<{ stop: [number, number]; picture: [number, number] }> {
  const measure = async (pages: number): Promise<{ stop: number; picture: number }> => {
    const program = scratch.file(`resident-${pages}.hmm`,
      `device gpu0 private memory 8 GiB\na = mmap ${pages} pages rw\nwrite a = i\nmigrate a[..${pages / 2}] to gpu0\nprint "done"\n`);
    const a = await startAdapter(path.resolve(__dirname, 'adapter.js'), 'hmm');
    try {
      await firstStop(a, program, 5);
      const stop: number[] = [];
      const picture: number[] = [];
      for (let i = 0; i < repeat; i++) {
        const t0 = process.hrtime.bigint();
        const st = await a.dc.stackTraceRequest({ threadId: 1 });
        const sc = await a.dc.scopesRequest({ frameId: st.body.stackFrames[0]!.id });
        const vars = await a.dc.variablesRequest({ variablesReference: sc.body.scopes[0]!.variablesReference });
        const mapping = vars.body.variables[0]!;
        await a.dc.variablesRequest({ variablesReference: mapping.variablesReference, filter: 'indexed', start: Math.max(0, pages / 2 - 50), count: Math.min(100, pages) });
        await a.dc.customRequest('hmm/residency', { maxRuns: 1000 });
        await a.dc.customRequest('hmm/notifiers', { limit: 200 });
        stop.push(msSince(t0));
        const t1 = process.hrtime.bigint();
        await a.dc.customRequest('hmm/picture');
        picture.push(msSince(t1));
      }
      return { stop: median(stop), picture: median(picture) };
    } finally {
      stopAdapter(a);
    }
  };
  const few = await measure(8);
  const many = await measure(1 << 20);
  return { stop: [few.stop, many.stop], picture: [few.picture, many.picture] };
}
