// Layer: benchmark (bench/). Reverse debugging deep into a run: a step back at several places
// of a 1M-statement run against the same at 100k statements, and the memory the checkpoints hold.

import { ScriptController } from '../src/hmm/lang/controller';
import { type Check, figure, fmt, heading, median, MiB, msSince, note, ratio, verdict } from './measure';

/** Places a step back is measured at, as fractions of the run. */
const PLACES = [1, 0.9, 0.5, 0.25, 0.02];

interface Travel {
  readonly forwardMs: number;
  /** Median and slowest over PLACES of the step back taken after arriving there. */
  readonly backMs: number;
  readonly worstMs: number;
  readonly each: number[];
  readonly checkpointBytes: number;
  readonly checkpoints: number;
}

async function travel(statements: number): Promise<Travel> {
  const text = `device gpu0\na = mmap 16 pages rw\nrepeat ${statements} as k {\n  write a[3] = i + k\n}\nprint "end"\n`;
  const ctl = new ScriptController('reverse.hmm', text, { output: () => undefined });
  ctl.setLineBreakpoints([{ line: 6 }]);
  const t0 = process.hrtime.bigint();
  await ctl.continue();
  const forwardMs = msSince(t0);
  const end = ctl.position.done;
  // What the run left in checkpoints (going back drops the ones after where it lands).
  const h = ctl.history;
  const each: number[] = [];
  for (const f of PLACES) {
    if (f < 1) await ctl.goTo({ done: Math.max(1, Math.floor(end * f)), phase: 0 });
    const t = process.hrtime.bigint();
    await ctl.stepBack();
    each.push(msSince(t));
  }
  return { forwardMs, backMs: median(each), worstMs: Math.max(...each), each, checkpointBytes: h.bytes, checkpoints: h.checkpoints };
}

export async function timeTravel(): Promise<void> {
  heading('Time travel at scale', 'a step back anywhere in a 1M-statement run within 5× of the same at 100k statements, checkpoint memory bounded');
  const small = await travel(100_000);
  const big = await travel(1_000_000);
  figure('forward run, 100k statements (with checkpoints)', `${fmt(small.forwardMs, 0)} ms`, '', '');
  figure('forward run, 1M statements (with checkpoints)', `${fmt(big.forwardMs, 0)} ms`, '', '');
  figure(`step back, median of ${PLACES.length} places, 1M run`, `${fmt(big.backMs)} ms`, `100k run: ${fmt(small.backMs)} ms`, ratio(big.backMs, small.backMs));
  figure('step back, slowest of those places, 1M run', `${fmt(big.worstMs)} ms`, `100k run: ${fmt(small.worstMs)} ms`, ratio(big.worstMs, small.worstMs));
  note(`places (end, 90%, 50%, 25%, 2%): 1M ${big.each.map((x) => fmt(x, 0)).join(', ')} ms; 100k ${small.each.map((x) => fmt(x, 0)).join(', ')} ms`);
  figure('checkpoints at the end of the 1M run', `${fmt(big.checkpointBytes / MiB)} MiB`, `100k run: ${fmt(small.checkpointBytes / MiB)} MiB`, '');
  note(`${big.checkpoints} checkpoints at 1M, ${small.checkpoints} at 100k; the budget: 512 MiB and 64 checkpoints, thinned to every other one past either`);
  const checks: Check[] = [
    { ok: big.backMs <= 5 * small.backMs, what: `step back at 1M ${ratio(big.backMs, small.backMs)} the one at 100k, median (≤ 5×)` },
    { ok: big.worstMs <= 5 * small.worstMs, what: `slowest ${ratio(big.worstMs, small.worstMs)} (≤ 5×)` },
    { ok: big.checkpointBytes <= 512 * MiB, what: `checkpoints hold ${fmt(big.checkpointBytes / MiB)} MiB (budget 512 MiB)` },
  ];
  verdict(checks);
}
