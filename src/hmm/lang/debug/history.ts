// What reverse execution rewinds to: checkpoints of the whole machine (thinned as they grow) and
// the debugger's own memory writes, which are part of the run's history.

import { drain } from '../../kernelWork';
import type { Simulator, SimState } from '../../simulator';
import type { Interpreter, InterpreterState } from '../interpreter';

interface Checkpoint {
  readonly done: number;
  readonly sim: SimState;
  readonly interp: InterpreterState;
  readonly bytes: number;
  /** How many of the debugger's memory writes the state holds. */
  readonly writes: number;
}

/** Bytes written through the debugger (writeMemory) while stopped before statement `done`+1. */
interface MemoryWrite {
  readonly done: number;
  readonly mmId: number;
  readonly addr: number;
  readonly data: Uint8Array;
}

/** Past this much memory in checkpoints, they are thinned (a big machine gets fewer). */
const CHECKPOINT_BUDGET_BYTES = 512 * 2 ** 20;
/** Checkpoint spacing starts here and doubles whenever the list is thinned. */
const FIRST_CHECKPOINT_INTERVAL = 32;
const MAX_CHECKPOINTS = 64;

export class History {
  private checkpoints: Checkpoint[] = [];
  private interval = FIRST_CHECKPOINT_INTERVAL;
  /**
   * The debugger's memory writes, in position order: stepping back before one undoes it and
   * replaying past its position redoes it. They outlive a restart of the same script.
   */
  private readonly writes: MemoryWrite[] = [];
  /** How many of the writes the current state holds. */
  private applied = 0;

  /** How many checkpoints are held, and the bytes they were charged. */
  get held(): { checkpoints: number; bytes: number } {
    return { checkpoints: this.checkpoints.length, bytes: this.checkpoints.reduce((n, c) => n + c.bytes, 0) };
  }

  /** A fresh machine: no checkpoints, no writes applied. */
  reset(): void {
    this.checkpoints = [];
    this.interval = FIRST_CHECKPOINT_INTERVAL;
    this.applied = 0;
  }

  /** Before statement sim.step+1: a checkpoint when the last one is far enough behind. */
  maybeCheckpoint(sim: Simulator, interp: Interpreter, replaying: boolean): void {
    const now = sim.step;
    if (replaying && this.checkpoints.some((c) => c.done === now)) return;
    const last = this.checkpoints[this.checkpoints.length - 1];
    if (last !== undefined && now - last.done < this.interval && now !== 0) return;
    if (last !== undefined && last.done >= now) return;
    const state = sim.save();
    this.checkpoints.push({ done: now, sim: state, interp: interp.save(), bytes: stateBytes(state), writes: this.applied });
    const total = this.checkpoints.reduce((n, c) => n + c.bytes, 0);
    if (this.checkpoints.length > MAX_CHECKPOINTS || (total > CHECKPOINT_BUDGET_BYTES && this.checkpoints.length > 2)) {
      // Thin: keep the first and every other one, and space new ones twice as far apart.
      this.checkpoints = this.checkpoints.filter((_, i) => i === 0 || i % 2 === 0);
      this.interval *= 2;
    }
  }

  /**
   * The latest checkpoint at or before statement `done` (undefined: start from a fresh machine),
   * restored into `sim` and `interp`; later checkpoints are dropped (the replay makes them again).
   */
  restore(done: number, sim: Simulator, interp: Interpreter): boolean {
    let cp: Checkpoint | undefined;
    for (const c of this.checkpoints) if (c.done <= done) cp = c;
    this.checkpoints = this.checkpoints.filter((c) => c.done <= done);
    if (cp === undefined) return false;
    sim.load(cp.sim);
    interp.load(cp.interp);
    this.applied = cp.writes;
    return true;
  }

  /** Record bytes the debugger wrote at the current position (after writing them). */
  recordWrite(done: number, mmId: number, addr: number, data: Uint8Array): void {
    // Later in the list means later in the run: insert after every write at or before this position.
    let i = this.writes.length;
    while (i > 0 && this.writes[i - 1]!.done > done) i--;
    this.writes.splice(i, 0, { done, mmId, addr, data });
    this.applied = i + 1;
    // Checkpoints from here on predate the write.
    this.checkpoints = this.checkpoints.filter((c) => c.done < done);
  }

  /** Redo the recorded writes made at the current position (a replay reaching it). */
  applyWrites(sim: Simulator): void {
    for (;;) {
      const w = this.writes[this.applied];
      if (w === undefined || w.done > sim.step) return;
      const mm = sim.mms.find((m) => m.id === w.mmId);
      if (w.done === sim.step && mm !== undefined) drain(sim.writeBytes(mm, w.addr, w.data));
      this.applied++;
    }
  }
}

/** Approximate memory held by a checkpoint: frame arrays and page tables. */
function stateBytes(s: SimState): number {
  let n = s.frames.bytes;
  for (const m of s.mms) n += m.state.pt.bytes;
  return n;
}
