// The event stream: everything the simulator does, each event tagged with the statement that
// caused it. Events over adjacent pages of the same kind within one statement coalesce into one
// event with a range and a count, so a million-page operation yields a handful of events.

export interface SourceLoc {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** Why migrate_vma_setup / _pages left a page behind. */
export type SkipReason =
  | 'hole-not-anonymous'
  | 'not-selected'
  | 'other-owner'
  | 'pinned'
  | 'file-backed'
  | 'non-present-entry'
  | 'no-destination'
  | 'already-on-device'
  | 'not-anonymous-destination'
  | 'still-mapped'
  /** 6.12: a page of a THP mapped by ptes (PageTransCompound) is not collected. */
  | 'pte-mapped-thp'
  /** migrate_vma_check_page: the page holds a reference beyond its mappings' (6.12, see PG_LEAKED_REF). */
  | 'extra-reference';

export interface SkipRun {
  readonly start: number;
  count: number;
  readonly reason: SkipReason;
}

interface Base {
  /** Position in the stream. */
  seq: number;
  /** Simulated time in ns when it happened. */
  time: number;
  /** Index of the statement execution that caused it (monotonic across the run). */
  step: number;
  loc: SourceLoc | undefined;
  /** Process (mm) name. */
  mm: string;
  /** First and one-past-last virtual page number it concerns (0, 0 when not about pages). */
  start: number;
  end: number;
  /** How many occurrences coalesced into this event. */
  count: number;
  /** The GPU job whose work caused it, when not the CPU. */
  job: string | undefined;
}

export type SimEventBody =
  | { kind: 'cpuFault'; write: boolean; found: string; action: string; /** the device whose page it was (migrate_to_ram) */ device?: string }
  | { kind: 'deviceFault'; device: string; write: boolean; rc: number; retries: number; /** pages faulted (a GPU batch's range may hold mapped pages between them) */ pages: number }
  | {
      kind: 'notifier';
      event: string;
      owner: string | null;
      mirror: string;
      seqBefore: number;
      seqAfter: number;
      action: 'ignored-own-migrate' | 'invalidated' | 'seq-only';
      erased: number;
    }
  | {
      kind: 'migrate';
      phase: 'setup' | 'pages' | 'finalize';
      device: string;
      direction: 'to-device' | 'to-system';
      collected: number;
      migrated: number;
      skipped: SkipRun[];
      cause: string;
    }
  | { kind: 'pte'; what: string }
  | { kind: 'mirror'; device: string; what: 'map-read' | 'map-write' | 'map-atomic' | 'unmap' }
  | { kind: 'alloc'; device: string; pages: number; what: 'alloc' | 'free' | 'alloc-failed' }
  | { kind: 'process'; what: 'fork' | 'exit'; child: string }
  | { kind: 'invariant'; message: string }
  | { kind: 'job'; what: 'launch' | 'end' | 'prefetch'; job: string; device: string }
  | { kind: 'thrashing'; verdict: 'throttle' | 'pin'; device: string }
  | { kind: 'print'; text: string };

export type SimEvent = Base & SimEventBody;
export type SimEventKind = SimEvent['kind'];

type Context = Pick<Base, 'time' | 'step' | 'loc' | 'job'>;

/** Merge the counters of a coalesced occurrence into the event that stands for the run. */
/** The event kinds whose coalesced occurrences accumulate adds into the first. */
const ACCUMULATING: ReadonlySet<string> = new Set(['notifier', 'migrate', 'alloc', 'deviceFault']);

function accumulate(prev: SimEvent, body: SimEventBody): void {
  if (prev.kind === 'notifier' && body.kind === 'notifier') {
    prev.seqAfter = body.seqAfter;
    prev.erased += body.erased;
  } else if (prev.kind === 'migrate' && body.kind === 'migrate') {
    prev.collected += body.collected;
    prev.migrated += body.migrated;
    for (const r of body.skipped) {
      const last = prev.skipped[prev.skipped.length - 1];
      if (last !== undefined && last.reason === r.reason && last.start + last.count === r.start) last.count += r.count;
      else prev.skipped.push({ ...r });
    }
  } else if (prev.kind === 'alloc' && body.kind === 'alloc') {
    prev.pages += body.pages;
  } else if (prev.kind === 'deviceFault' && body.kind === 'deviceFault') {
    prev.retries += body.retries;
    prev.pages += body.pages;
  }
}

export class EventLog {
  readonly events: SimEvent[] = [];
  private readonly open = new Map<string, SimEvent>();
  private lastStep = -1;
  /**
   * Listeners see every occurrence: the event when first recorded, and again each time an
   * occurrence coalesces into it, with that occurrence's own pages [start, end).
   */
  readonly listeners: ((e: SimEvent, start: number, end: number) => void)[] = [];

  /**
   * Record an event. `coalesceKey`, when given, lets it merge into the previous event with the
   * same key in the same statement if that one ends where this one starts.
   */
  emit(ctx: Context, mm: string, start: number, end: number, body: SimEventBody, coalesceKey?: string): SimEvent {
    if (ctx.step !== this.lastStep) {
      this.open.clear();
      this.lastStep = ctx.step;
    }
    if (coalesceKey !== undefined) {
      const prev = this.open.get(coalesceKey);
      if (prev !== undefined && prev.end === start) {
        prev.end = end;
        prev.count++;
        accumulate(prev, body);
        for (const l of this.listeners) l(prev, start, end);
        return prev;
      }
    }
    const e = { seq: this.events.length, time: ctx.time, step: ctx.step, loc: ctx.loc, job: ctx.job, mm, start, end, count: 1, ...body } as SimEvent;
    this.events.push(e);
    if (coalesceKey !== undefined) this.open.set(coalesceKey, e);
    for (const l of this.listeners) l(e, start, end);
    return e;
  }

  /**
   * What `n` calls of emit do for the pages start, start + 1, … one at a time, with the same
   * body and key: the first is recorded, the rest coalesce into it (listeners see each).
   */
  emitPages(ctx: Context, mm: string, start: number, n: number, body: SimEventBody, coalesceKey: string): SimEvent {
    const e = this.emit(ctx, mm, start, start + 1, body, coalesceKey);
    if (this.listeners.length > 0) {
      for (let k = 1; k < n; k++) this.emit(ctx, mm, start + k, start + k + 1, body, coalesceKey);
      return e;
    }
    // `e` is the open event under the key and ends at start + 1: each next page coalesces.
    e.end = start + n;
    e.count += n - 1;
    // Only these kinds sum their occurrences (accumulate); a page fault's body adds nothing.
    if (ACCUMULATING.has(body.kind)) for (let k = 1; k < n; k++) accumulate(e, body);
    return e;
  }

  /**
   * The open event under `coalesceKey` when emits of one page each from `start` in statement
   * `step` would coalesce into it (it ends at `start`) and nothing listens, else undefined: a
   * batched path then adds the pages with coalesceRun instead of an emit per page.
   */
  openAt(step: number, coalesceKey: string, start: number): SimEvent | undefined {
    if (this.listeners.length > 0 || step !== this.lastStep) return undefined;
    const e = this.open.get(coalesceKey);
    return e !== undefined && e.end === start ? e : undefined;
  }

  /**
   * What `n` emits over the pages e.end, e.end + 1, … do to `e` (from openAt) when each
   * coalesces into it: `body` holds their counters as accumulate leaves them (the sums; the last
   * page's sequence number).
   */
  coalesceRun(e: SimEvent, n: number, body: SimEventBody): void {
    e.end += n;
    e.count += n;
    accumulate(e, body);
  }

  save(): { length: number; lastStep: number } {
    return { length: this.events.length, lastStep: this.lastStep };
  }

  load(s: { length: number; lastStep: number }): void {
    this.events.length = s.length;
    this.lastStep = s.lastStep;
    this.open.clear();
  }

  /** Events caused by one statement execution. */
  ofStep(step: number): SimEvent[] {
    const out: SimEvent[] = [];
    for (let i = this.events.length - 1; i >= 0; i--) {
      const e = this.events[i]!;
      if (e.step < step) break;
      if (e.step === step) out.push(e);
    }
    return out.reverse();
  }
}
