// Limits on one run's wall time and memory: the runner and the debugger ask `exceeded()` between
// statements and at every yield inside one (long per-page loops yield every PREEMPT_PAGES pages),
// and end the run with `stopped: …` at the statement reached, before the OS or V8 would kill it.

/** Memory a run may use unless told otherwise (resident set of the whole process). */
export const DEFAULT_MAX_MEMORY_BYTES = 2 * 2 ** 30;

export interface Limits {
  /** Wall-clock milliseconds; none when absent. */
  readonly timeoutMs?: number;
  /** Resident set size in bytes; DEFAULT_MAX_MEMORY_BYTES when absent. */
  readonly maxMemoryBytes?: number;
}

/**
 * Reading the resident set costs a system call (and more on a loaded machine): look at most
 * every 10 ms while the last reading was past half the limit, every 100 ms below half and every
 * 250 ms below a quarter. The simulator grows by at most a few hundred MB a second, far less
 * than what would cross the rest of the limit between two looks.
 */
const MEMORY_CHECK_MS = 10;
function memoryCheckMs(used: number, max: number): number {
  return used < max / 4 ? 250 : used < max / 2 ? 100 : MEMORY_CHECK_MS;
}

const formatBytes = (n: number): string =>
  n >= 2 ** 30 ? `${+(n / 2 ** 30).toFixed(1)} GiB` : `${Math.round(n / 2 ** 20)} MiB`;

/**
 * The process's resident set, read no more often than memoryCheckMs allows. A debugger keeps one
 * for the whole session (ScriptController): a step is a run of its own, and reading /proc at the
 * start of each would cost more than the step (tens of µs, far more on a loaded machine).
 */
export class MemoryGauge {
  private checkedAt = -Infinity;
  private intervalMs = MEMORY_CHECK_MS;

  constructor(private readonly read: () => number = () => process.memoryUsage.rss()) {}

  /** Bytes in use when a look is due at time `t` and finds more than `max`; else undefined. */
  over(t: number, max: number): number | undefined {
    if (t - this.checkedAt < this.intervalMs) return undefined;
    this.checkedAt = t;
    const used = this.read();
    this.intervalMs = memoryCheckMs(used, max);
    return used > max ? used : undefined;
  }
}

export class Budget {
  private readonly deadline: number;
  private readonly maxMemory: number;

  constructor(
    private readonly limits: Limits,
    private readonly memory: MemoryGauge = new MemoryGauge(),
    private readonly now: () => number = Date.now,
  ) {
    this.deadline = limits.timeoutMs === undefined ? Infinity : now() + limits.timeoutMs;
    this.maxMemory = limits.maxMemoryBytes ?? DEFAULT_MAX_MEMORY_BYTES;
  }

  /** Why the run must stop now, or undefined. */
  exceeded(): string | undefined {
    const t = this.now();
    if (t > this.deadline) return `the time limit of ${this.limits.timeoutMs! / 1000} s was reached`;
    const used = this.memory.over(t, this.maxMemory);
    if (used !== undefined) return `memory use (${formatBytes(used)}) passed the limit of ${formatBytes(this.maxMemory)}`;
    return undefined;
  }
}
