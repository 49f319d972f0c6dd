// Layer: benchmark (bench/). How long an adapter process itself takes over each request, to tell
// its own tail from the machine's in a round trip: a preloaded probe notes when a chunk arrives on
// stdin and when the process next writes to stdout (a step's response and events go out in one
// write), and prints them as the process ends; the bench keeps those that began inside its timed
// steps. The rest of a round trip is the pipes and the two processes waking up.

import type { Timed } from './gcPauses';
import type { Scratch } from './measure';

/** At most this many requests are kept by the probe. */
const MAX_REQUESTS = 100_000;
const MARK = '#bench-requests ';

/** The probe's file in the scratch directory: `node --require FILE` (with the GC probe, which makes SIGTERM exit normally). */
export function requestProbe(scratch: Scratch): string {
  return scratch.file('request-probe.cjs', [
    'const times = [];',
    'let t0 = 0;',
    'const emit = process.stdin.emit;',
    "process.stdin.emit = function (event, ...args) { if (event === 'data' && t0 === 0) t0 = performance.now(); return emit.call(this, event, ...args); };",
    'const write = process.stdout.write;',
    'process.stdout.write = function (...args) {',
    `  if (t0 !== 0 && times.length < ${MAX_REQUESTS}) times.push([performance.timeOrigin + t0, performance.now() - t0]);`,
    '  t0 = 0;',
    '  return write.apply(this, args);',
    '};',
    `process.on('exit', () => require('node:fs').writeSync(2, '\\n${MARK}' + JSON.stringify(times) + '\\n'));`,
    '',
  ].join('\n'));
}

/** The requests a probed process printed on its stderr: when each began (ms since the epoch) and how long it took. */
export function parseRequestTimes(stderr: string): Timed[] {
  const i = stderr.lastIndexOf(MARK);
  if (i < 0) return [];
  const raw = JSON.parse(stderr.slice(i + MARK.length).split('\n')[0] ?? '[]') as unknown;
  if (!Array.isArray(raw)) return [];
  return raw.filter((p): p is [number, number] => Array.isArray(p) && typeof p[0] === 'number' && typeof p[1] === 'number')
    .map(([at, ms]) => ({ at, ms }));
}

/** The durations of the requests that began inside one of `steps` (both sorted by start or not). */
export function requestsInSteps(requests: readonly Timed[], steps: readonly Timed[]): number[] {
  const sorted = [...steps].sort((a, b) => a.at - b.at);
  const out: number[] = [];
  for (const r of requests) {
    let lo = 0;
    let hi = sorted.length;
    // The last step that began at or before the request.
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]!.at <= r.at) lo = mid + 1;
      else hi = mid;
    }
    const s = sorted[lo - 1];
    if (s !== undefined && r.at <= s.at + s.ms) out.push(r.ms);
  }
  return out;
}
