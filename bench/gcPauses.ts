// Layer: benchmark (bench/). The garbage collector's pauses in a child process, to tell them
// from the machine's own noise in a tail latency: a preloaded probe records every GC (perf_hooks)
// and prints them as the process ends; the bench keeps those inside the intervals it timed.

import { PerformanceObserver } from 'node:perf_hooks';
import type { Scratch } from './measure';

/** One GC pause: when it began (ms since the epoch, performance.timeOrigin-based) and how long. */
export interface GcPause {
  readonly at: number;
  readonly ms: number;
}

/** An interval the bench timed, on the same clock. */
export interface Timed {
  readonly at: number;
  readonly ms: number;
}

/** At most this many pauses are kept by the probe (a long session must not grow without end). */
const MAX_PAUSES = 100_000;
const MARK = '#bench-gc ';

/** The probe's file in the scratch directory: `node --require FILE`. It makes SIGTERM exit normally so that it can report. */
export function gcProbe(scratch: Scratch): string {
  return scratch.file('gc-probe.cjs', [
    "const { PerformanceObserver, performance } = require('node:perf_hooks');",
    'const pauses = [];',
    'new PerformanceObserver((list) => {',
    `  for (const e of list.getEntries()) if (pauses.length < ${MAX_PAUSES}) pauses.push([performance.timeOrigin + e.startTime, e.duration]);`,
    "}).observe({ entryTypes: ['gc'] });",
    "process.on('SIGTERM', () => process.exit(0));",
    `process.on('exit', () => require('node:fs').writeSync(2, '\\n${MARK}' + JSON.stringify(pauses) + '\\n'));`,
    '',
  ].join('\n'));
}

/**
 * This process's own GC pauses from now until `stop()`: the bench is the DAP client, so its pauses
 * fall inside the round trips it times, ours and the baseline's alike.
 */
export function ownGcPauses(): { readonly pauses: readonly GcPause[]; stop(): void } {
  const pauses: GcPause[] = [];
  const keep = (entries: readonly PerformanceEntry[]): void => {
    for (const e of entries) if (pauses.length < MAX_PAUSES) pauses.push({ at: performance.timeOrigin + e.startTime, ms: e.duration });
  };
  const observer = new PerformanceObserver((list) => keep(list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  // Entries are delivered in batches: those not yet delivered are taken as it stops.
  return { pauses, stop: () => { keep(observer.takeRecords()); observer.disconnect(); } };
}

/** The pauses a probed process printed on its stderr (none if it printed nothing). */
export function parseGcPauses(stderr: string): GcPause[] {
  const i = stderr.lastIndexOf(MARK);
  if (i < 0) return [];
  const line = stderr.slice(i + MARK.length).split('\n')[0] ?? '[]';
  const raw = JSON.parse(line) as unknown;
  if (!Array.isArray(raw)) return [];
  return raw.filter((p): p is [number, number] => Array.isArray(p) && typeof p[0] === 'number' && typeof p[1] === 'number')
    .map(([at, ms]) => ({ at, ms }));
}

export interface GcInSteps {
  /** Pauses that began inside a timed step. */
  readonly count: number;
  readonly totalMs: number;
  readonly longestMs: number;
  /** Of the steps at or over `slowMs`, how many had a pause begin inside them. */
  readonly slowWithGc: number;
  readonly slow: number;
}

/** The pauses that fell inside the timed steps, and how many of the slow steps they explain. */
export function gcInSteps(pauses: readonly GcPause[], steps: readonly Timed[], slowMs: number): GcInSteps {
  const sorted = [...pauses].sort((a, b) => a.at - b.at);
  const inside = (s: Timed): GcPause[] => {
    // Binary search for the first pause at or after the step's start.
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]!.at < s.at) lo = mid + 1;
      else hi = mid;
    }
    const out: GcPause[] = [];
    for (let i = lo; i < sorted.length && sorted[i]!.at <= s.at + s.ms; i++) out.push(sorted[i]!);
    return out;
  };
  let count = 0;
  let totalMs = 0;
  let longestMs = 0;
  let slow = 0;
  let slowWithGc = 0;
  for (const s of steps) {
    const ps = inside(s);
    count += ps.length;
    for (const p of ps) {
      totalMs += p.ms;
      longestMs = Math.max(longestMs, p.ms);
    }
    if (s.ms >= slowMs) {
      slow++;
      if (ps.length > 0) slowWithGc++;
    }
  }
  return { count, totalMs, longestMs, slowWithGc, slow };
}
