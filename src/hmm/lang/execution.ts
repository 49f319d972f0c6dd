// The one run loop: a statement at a time, each advanced to its next kernel frame (where a
// debugger may pause) or preemption point, with a budget stop thrown into it. The headless
// runner and the debugger's controller both drive a script through this.

import { SimError } from '../simulator';
import { PREEMPT, type KernelFrame, type KernelWork } from '../kernelWork';
import type { Interpreter, StatementOutcome } from './interpreter';

/** What one advance got to. */
export type Progress =
  /** The statement entered a kernel frame (a place to pause). */
  | { readonly kind: 'frame'; readonly frame: KernelFrame }
  /** A long loop inside the statement let others in: not a place to pause. */
  | { readonly kind: 'preempt' }
  /** The statement ended. */
  | { readonly kind: 'ended'; readonly outcome: StatementOutcome };

/** Where execution is: statements completed, and kernel frames entered in the next one. */
export interface Position {
  readonly done: number;
  readonly phase: number;
}

const PREEMPTED: Progress = { kind: 'preempt' };

export function isBefore(a: Position, b: Position): boolean {
  return a.done < b.done || (a.done === b.done && a.phase < b.phase);
}

export class Execution {
  private work: KernelWork<StatementOutcome> | undefined;
  /** Kernel frames entered so far in the statement in progress. */
  private phase = 0;

  constructor(readonly interp: Interpreter) {}

  /** Inside a statement (paused at a kernel frame, or between two advances). */
  get inStatement(): boolean {
    return this.work !== undefined;
  }

  get position(): Position {
    const n = this.interp.sim.step;
    return this.work === undefined ? { done: n, phase: 0 } : { done: n - 1, phase: this.phase };
  }

  /** Start the next statement (the caller has checked there is one). */
  begin(): void {
    this.work = this.interp.statementWork();
    this.phase = 0;
  }

  /** Run the statement in progress to its next kernel frame, preemption point or end; `stop` ends it with `stopped: stop`. */
  advance(stop?: string): Progress {
    const r = stop === undefined ? this.work!.next() : this.work!.throw(new SimError(`stopped: ${stop}`));
    if (r.done) {
      this.work = undefined;
      this.phase = 0;
      return { kind: 'ended', outcome: r.value };
    }
    this.phase++;
    return r.value === PREEMPT ? PREEMPTED : { kind: 'frame', frame: r.value };
  }

  /** Drop the statement in progress: its kernel frames unwind (finally blocks run). */
  abandon(): void {
    const g = this.work;
    if (g === undefined) return;
    this.work = undefined;
    this.phase = 0;
    g.return({ kind: 'done' });
    this.interp.sim.kstack.length = 0;
  }
}

/** How long one slice of a run holds the event loop before letting others in. */
const SLICE_MS = 20;

/**
 * Call `unit` until it returns a result, letting the event loop in every SLICE_MS; after each
 * such break `between` may end the run (a pause, a cancel) with its own result.
 */
export async function inSlices<T>(unit: () => T | undefined, between: () => T | undefined): Promise<T> {
  for (;;) {
    const deadline = Date.now() + SLICE_MS;
    while (Date.now() < deadline) {
      const r = unit();
      if (r !== undefined) return r;
    }
    await new Promise((resolve) => setImmediate(resolve));
    const b = between();
    if (b !== undefined) return b;
  }
}
