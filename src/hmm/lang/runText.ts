// What a host says about a headless run, beyond the run's own output: progress, the closing
// summary, and the event streams as the Chrome trace file `hmm-sim run --trace` writes. The
// CLI and the extension's headless commands take them from here, so the extension needs no
// simulator module of its own.

import type { SimEvent } from '../events';
import { formatDuration } from '../timing';
import { toChromeTrace } from '../trace';
import type { ScriptRun } from './runner';

/** `120 statements, simulated 2.34 ms`: a run still going. */
export function progressText(statements: number, simulatedNs: number): string {
  return `${statements} statements, simulated ${formatDuration(simulatedNs)}`;
}

/** `ran to the end: 120 statements, 42 events, simulated time 2.34 ms (15 ms)`. */
export function runSummary(run: ScriptRun & { readonly cancelled: boolean }, wallMs: number): string {
  const how = run.cancelled ? 'cancelled' : run.error === undefined ? 'ran to the end' : 'stopped on a runtime error';
  return `${how}: ${run.statements} statements, ${run.events.length} events, simulated time ${formatDuration(run.sim?.clock.now ?? 0)} (${wallMs} ms)`;
}

/** The event streams of some runs as Chrome trace JSON (Perfetto, chrome://tracing). */
export function chromeTraceJson(runs: readonly { readonly file: string; readonly events: readonly SimEvent[] }[]): string {
  return JSON.stringify(toChromeTrace(runs));
}
