// Kernel work is written as generators so the debugger can pause inside a statement: each
// kernel function that is a frame of its own (migrate_vma_setup, hmm_range_fault, a notifier's
// invalidate, …) yields once when entered. Running a statement to its end drains the generator.

export interface KernelFrame {
  /** Kernel function name, e.g. `migrate_vma_setup`. */
  readonly name: string;
  /** One line for the call stack: range, device, event. */
  readonly detail: string;
}

/**
 * Kernel work that may pause: it yields each kernel frame it enters, right after pushing it, so
 * the frame's depth is the kernel stack's length when the consumer sees it.
 */
export type KernelWork<T> = Generator<KernelFrame, T, void>;

/**
 * A frame whose detail line is formatted only when someone reads it (a call stack): kernel
 * work enters thousands of frames per statement, and most are never shown.
 */
class LazyKernelFrame implements KernelFrame {
  private text: string | undefined;
  constructor(
    readonly name: string,
    private readonly describe: () => string,
  ) {}

  get detail(): string {
    return (this.text ??= this.describe());
  }
}

export function kernelFrame(name: string, describe: () => string): KernelFrame {
  return new LazyKernelFrame(name, describe);
}

/**
 * Push `frame` and return it, for a kernel function that is a frame of its own:
 * `yield pushFrame(sim.kstack, frame); try { … } finally { sim.kstack.pop(); }`
 * (inline rather than a wrapping generator: a second generator and a closure per frame made
 * a CPU fault on a device page three times slower).
 */
export function pushFrame(stack: KernelFrame[], frame: KernelFrame): KernelFrame {
  stack.push(frame);
  return frame;
}

/** Run kernel work to its end without pausing. */
export function drain<T>(g: KernelWork<T>): T {
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}

/**
 * Not a kernel frame: long per-page loops yield this every PREEMPT_PAGES pages, so a debugger
 * can answer requests (pause) and a time or memory budget can stop the run inside one statement.
 * Consumers that show frames skip it; positions count it like any yield (replay is exact).
 */
export const PREEMPT: KernelFrame = Object.freeze({ name: 'preempt', detail: '' });
export const PREEMPT_PAGES = 4096;

/** True every PREEMPT_PAGES-th page of a loop counting `n` from 0. */
export const preemptAt = (n: number): boolean => (n & (PREEMPT_PAGES - 1)) === PREEMPT_PAGES - 1;
