// The notifier callbacks each statement raised, for `expect notified` and the tests. A chunked
// migration or a run of per-page CPU faults raises thousands of callbacks that differ only in
// their range, one chunk after the other; they are kept as one run, so a million faults cost a
// few numbers, and expanded again when a statement's callbacks are asked for.

/** A notifier callback as `expect notified` sees it; `M` is the driver's mirror (dmirror.ts). */
export interface NotifierRecord<M = unknown> {
  readonly mirror: M;
  readonly event: string;
  readonly start: number;
  readonly end: number;
  readonly owner: string | null;
  readonly step: number;
}

/**
 * `count` callbacks of one statement with the same mirror, event and owner: callback k covers
 * [start + k * size, start + (k + 1) * size), except the last, which ends at `end`.
 */
interface RecordRun<M> {
  readonly mirror: M;
  readonly event: string;
  readonly owner: string | null;
  readonly step: number;
  readonly start: number;
  readonly size: number;
  count: number;
  end: number;
}

export interface NotifierLogState {
  readonly runs: number;
  readonly lastCount: number;
  readonly lastEnd: number;
}

export class NotifierLog<M = unknown> {
  /** In step order (steps never decrease: a restore truncates). */
  private readonly runs: RecordRun<M>[] = [];

  push(r: NotifierRecord<M>): void {
    const last = this.runs[this.runs.length - 1];
    const size = r.end - r.start;
    if (last !== undefined && last.mirror === r.mirror && last.event === r.event && last.owner === r.owner &&
      last.step === r.step && last.end === r.start && last.end - last.start === last.count * last.size && size <= last.size) {
      last.count++;
      last.end = r.end;
      return;
    }
    this.runs.push({ mirror: r.mirror, event: r.event, owner: r.owner, step: r.step, start: r.start, size, count: 1, end: r.end });
  }

  /**
   * Whether one-page callbacks of `mirror` from `start` (same event, owner and statement) would
   * each join the last run, as its next callback: it is theirs, ends at `start` and holds one-page
   * callbacks only. Then extend(n) is what `n` pushes of them do.
   */
  continuesAt(mirror: M, event: string, owner: string | null, step: number, start: number): boolean {
    const last = this.runs[this.runs.length - 1];
    return last !== undefined && last.mirror === mirror && last.event === event && last.owner === owner && last.step === step &&
      last.end === start && last.size === 1 && last.end - last.start === last.count;
  }

  /** `n` one-page callbacks continuing the last run (continuesAt holds). */
  extend(n: number): void {
    const last = this.runs[this.runs.length - 1]!;
    last.count += n;
    last.end += n;
  }

  /** The callbacks of statement execution `step`, in the order they ran. */
  ofStep(step: number): NotifierRecord<M>[] {
    const runs = this.runs;
    let lo = 0;
    let hi = runs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (runs[mid]!.step < step) lo = mid + 1;
      else hi = mid;
    }
    const out: NotifierRecord<M>[] = [];
    for (let i = lo; i < runs.length && runs[i]!.step === step; i++) {
      const r = runs[i]!;
      for (let k = 0; k < r.count; k++) {
        const start = r.start + k * r.size;
        out.push({ mirror: r.mirror, event: r.event, owner: r.owner, step: r.step, start, end: k === r.count - 1 ? r.end : start + r.size });
      }
    }
    return out;
  }

  /** Runs kept (what the log costs, whatever the number of callbacks). */
  get runCount(): number {
    return this.runs.length;
  }

  save(): NotifierLogState {
    const last = this.runs[this.runs.length - 1];
    return { runs: this.runs.length, lastCount: last?.count ?? 0, lastEnd: last?.end ?? 0 };
  }

  /** Back to a saved point of this log (a checkpoint of the same run: later runs are dropped). */
  load(s: NotifierLogState): void {
    this.runs.length = s.runs;
    const last = this.runs[s.runs - 1];
    if (last !== undefined) {
      last.count = s.lastCount;
      last.end = s.lastEnd;
    }
  }
}
