// mm/mmu_notifier.c: interval notifiers and the collision-retry sequence protocol
// (mmu_interval_read_begin / read_retry / check_retry / set_seq).

import { EINVAL, EOVERFLOW, MMU_NOTIFY_NAMES, MmuNotifyEvent } from './constants';
import type { Device } from './memremap';
import { type KernelFrame, kernelFrame, pushFrame, type KernelWork } from './kernelWork';
import type { Clock, TimingModel } from './timing';

/** What the notifiers use of an mm_struct (mm.ts's Mm). */
export interface NotifierMm {
  readonly name: string;
  readonly alive: boolean;
  /** Interval notifiers (an interval tree in the kernel; a short list suffices here). */
  readonly notifiers: MmuIntervalNotifier[];
  /** mmu_notifier_subscriptions.invalidate_seq: even when idle, odd during an invalidation. */
  invalidateSeq: number;
  activeInvalidateRanges: number;
}

/** What an invalidation uses of the machine (machine.ts's Machine has it all). */
export interface NotifierMachine {
  readonly kstack: KernelFrame[];
  /**
   * Whether a notifier callback's frame is a pause point (it is always on the kernel stack). A
   * debugger's run pauses there; a plain run (hmm-sim run, the bench) does not need to: those
   * frames are entered per page (eviction, a CPU fault on a device page), and each pause point
   * costs a resume through every generator of the statement, which then dominated eviction.
   */
  readonly pauseInNotifiers: boolean;
  readonly clock: Clock;
  readonly timing: TimingModel;
  readonly stats: { notifierCalls: number };
  /** `a[2..6]` when the pages belong to a named mapping, else hex addresses. */
  describeRange(start: number, end: number): string;
}

/** struct mmu_notifier_range; start/end are virtual page numbers, end exclusive. */
export interface MmuNotifierRange {
  readonly mm: NotifierMm;
  readonly start: number;
  readonly end: number;
  readonly event: MmuNotifyEvent;
  /** Set by mmu_notifier_range_init_owner (MIGRATE, EXCLUSIVE); null otherwise. */
  readonly owner: Device | null;
  readonly blockable: boolean;
}

export interface MmuIntervalNotifierOps {
  /** ops->invalidate; returns false only for a non-blockable range it could not lock. */
  invalidate(sub: MmuIntervalNotifier, range: MmuNotifierRange, curSeq: number): KernelWork<boolean>;
  /**
   * The same callback for ops that never pause inside it, called as a plain function: a
   * per-page invalidation (eviction, a CPU fault on a device page) then costs no generator.
   */
  invalidateNow?(sub: MmuIntervalNotifier, range: MmuNotifierRange, curSeq: number): boolean;
  /**
   * Optional, with invalidateNow: whether invalidateClearRun can stand for this notifier's
   * callbacks over one-page MMU_NOTIFY_CLEAR ranges with no owner from `start` (the one just
   * before, [start - 1, start), having been its last callback in this statement).
   */
  continuesClearAt?(start: number): boolean;
  /**
   * invalidateNow over the one-page MMU_NOTIFY_CLEAR ranges [start + k, start + k + 1) with no
   * owner, k of [0, n), one after the other: the k-th sees sequence seq.first + k * seq.step,
   * and `beforeEach` ns (the notifier's own cost) pass before each (a batched eviction's run).
   */
  invalidateClearRun?(sub: MmuIntervalNotifier, start: number, n: number, seq: { first: number; step: number }, beforeEach: number): void;
}

/** struct mmu_interval_notifier; `M` is the mm type its users see (mm.ts's Mm). */
export class MmuIntervalNotifier<M extends NotifierMm = NotifierMm> {
  invalidateSeq = 0;
  mm: M | undefined;
  constructor(
    public start: number,
    public end: number,
    readonly ops: MmuIntervalNotifierOps,
    /** Who subscribed, for events: the mirror's device name. */
    readonly label: string,
  ) {}
}

/** mmu_interval_notifier_insert. */
export function mmuIntervalNotifierInsert<M extends NotifierMm>(sub: MmuIntervalNotifier<M>, mm: M, start: number, length: number): number {
  if (length <= 0 || start + length < start) return -EOVERFLOW;
  if (!mm.alive) return -EINVAL;
  sub.mm = mm;
  sub.start = start;
  sub.end = start + length;
  // Odd and different from the mm's sequence: the first read_begin never collides.
  sub.invalidateSeq = mm.invalidateSeq - 1;
  mm.notifiers.push(sub);
  return 0;
}

/** mmu_interval_notifier_remove: after it returns no callback runs. */
export function mmuIntervalNotifierRemove(sub: MmuIntervalNotifier): void {
  const mm = sub.mm;
  if (mm === undefined) return;
  const i = mm.notifiers.indexOf(sub);
  if (i >= 0) mm.notifiers.splice(i, 1);
  sub.mm = undefined;
}

/** mmu_interval_read_begin. The simulator is single-threaded, so no invalidation can be running. */
export function mmuIntervalReadBegin(sub: MmuIntervalNotifier): number {
  const mm = sub.mm!;
  if (sub.invalidateSeq === mm.invalidateSeq && mm.activeInvalidateRanges > 0) {
    throw new Error('mmu_interval_read_begin while an invalidation of this notifier is running');
  }
  return sub.invalidateSeq;
}

/** mmu_interval_read_retry: under the driver lock. */
export function mmuIntervalReadRetry(sub: MmuIntervalNotifier, seq: number): boolean {
  return sub.invalidateSeq !== seq;
}

/** mmu_interval_check_retry: the same test without the lock (hmm_range_fault's early bail-out). */
export function mmuIntervalCheckRetry(sub: MmuIntervalNotifier, seq: number): boolean {
  return sub.invalidateSeq !== seq;
}

/** mmu_interval_set_seq: called by ops->invalidate under the driver lock. */
export function mmuIntervalSetSeq(sub: MmuIntervalNotifier, curSeq: number): void {
  sub.invalidateSeq = curSeq;
}

function invalidateFrame(sim: NotifierMachine, sub: MmuIntervalNotifier, range: MmuNotifierRange): KernelFrame {
  return kernelFrame('invalidate', () =>
    `${sub.label} ${MMU_NOTIFY_NAMES[range.event]} ${sim.describeRange(range.start, range.end)}` +
    (range.owner ? ` owner ${range.owner.name}` : ''));
}

function intersects(sub: MmuIntervalNotifier, range: MmuNotifierRange): boolean {
  return sub.start < range.end && sub.end > range.start;
}

/** mmu_notifier_invalidate_range_end. */
function invalidateRangeEnd(range: MmuNotifierRange): void {
  const mm = range.mm;
  mm.activeInvalidateRanges--;
  if (mm.activeInvalidateRanges === 0 && (mm.invalidateSeq & 1) === 1) mm.invalidateSeq++;
}

/**
 * Whether an invalidation of `mm` can run as a plain function (mmuNotifierInvalidateNow): no
 * callback frame is a pause point and every notifier's callback never pauses (invalidateNow).
 */
export function invalidatesNow(sim: NotifierMachine, mm: NotifierMm): boolean {
  if (sim.pauseInNotifiers) return false;
  for (let i = 0; i < mm.notifiers.length; i++) if (mm.notifiers[i]!.ops.invalidateNow === undefined) return false;
  return true;
}

/**
 * The bookkeeping of mmu_notifier_invalidate_range_start before its callbacks: one more active
 * range, the sequence made odd when some interval notifier intersects the range, and the count of
 * those (returned: the callers call each of them, with or without pause points).
 */
function invalidateRangeStartCount(sim: NotifierMachine, range: MmuNotifierRange): number {
  const mm = range.mm;
  mm.activeInvalidateRanges++;
  let hits = 0;
  for (let i = 0; i < mm.notifiers.length; i++) if (intersects(mm.notifiers[i]!, range)) hits++;
  if (hits > 0) mm.invalidateSeq |= 1;
  sim.stats.notifierCalls += hits;
  return hits;
}

/**
 * mmuNotifierInvalidate where invalidatesNow(sim, range.mm) holds: the same calls in the same
 * order, without a generator (per-page callers: eviction).
 */
export function mmuNotifierInvalidateNow<T>(sim: NotifierMachine, range: MmuNotifierRange, body: () => NotAStep<T>): T {
  const mm = range.mm;
  const hits = invalidateRangeStartCount(sim, range);
  const curSeq = mm.invalidateSeq;
  for (let i = 0; hits > 0 && i < mm.notifiers.length; i++) {
    const sub = mm.notifiers[i]!;
    if (!intersects(sub, range)) continue;
    sim.clock.advance(sim.timing.notifierCallbackNs);
    pushFrame(sim.kstack, invalidateFrame(sim, sub, range));
    try {
      sub.ops.invalidateNow!(sub, range, curSeq);
    } finally {
      sim.kstack.pop();
    }
  }
  try {
    return body();
  } finally {
    invalidateRangeEnd(range);
  }
}

/**
 * The bookkeeping of `n` invalidations of `mm` one after the other ([start + k, start + k + 1)
 * for k of [0, n)) each intersecting `hits` of its notifiers (0 or 1), as mmuNotifierInvalidateNow
 * leaves it: the active count back where it was, the sequence moved on. Returns the sequence the
 * first one's callback sees and how it moves from one to the next (a batched path calls them).
 */
export function invalidateRangesDone(sim: NotifierMachine, mm: NotifierMm, n: number, hits: 0 | 1): { first: number; step: number } {
  const idle = mm.activeInvalidateRanges === 0;
  if (hits === 0) {
    // No sequence is made odd; the first end makes an odd one (left over) even.
    if (idle && (mm.invalidateSeq & 1) === 1) mm.invalidateSeq++;
    return { first: mm.invalidateSeq, step: 0 };
  }
  sim.stats.notifierCalls += n;
  const first = mm.invalidateSeq | 1;
  // Each made odd, then even again at its end when no other range is active.
  mm.invalidateSeq = idle ? first + 2 * n - 1 : first;
  return { first, step: idle ? 2 : 0 };
}

/** A body that returns a generator would never run: the type rules it out. */
type NotAStep<T> = T extends Generator<unknown, unknown, unknown> ? never : T;

/**
 * invalidate_range_start, `body`, invalidate_range_end. The body is the page-table update
 * under the notifier and runs without pausing, so it is a plain function, not a generator.
 */
export function* mmuNotifierInvalidate<T>(sim: NotifierMachine, range: MmuNotifierRange, body: () => NotAStep<T>): KernelWork<T> {
  // mmu_notifier_invalidate_range_start (inlined: it runs at every invalidation, and a second
  // generator per call cost as much as the work): every interval notifier that intersects the
  // range is called once with the (odd) current sequence, each callback a kernel frame of its own.
  const mm = range.mm;
  const hits = invalidateRangeStartCount(sim, range);
  const curSeq = mm.invalidateSeq;
  // A notifier's callback cannot add or remove notifiers of this mm, so the list is stable here.
  for (let i = 0; hits > 0 && i < mm.notifiers.length; i++) {
    const sub = mm.notifiers[i]!;
    if (!intersects(sub, range)) continue;
    sim.clock.advance(sim.timing.notifierCallbackNs);
    const frame = pushFrame(sim.kstack, invalidateFrame(sim, sub, range));
    if (sim.pauseInNotifiers) yield frame;
    try {
      if (sub.ops.invalidateNow !== undefined) sub.ops.invalidateNow(sub, range, curSeq);
      else yield* sub.ops.invalidate(sub, range, curSeq);
    } finally {
      sim.kstack.pop();
    }
  }
  try {
    return body();
  } finally {
    invalidateRangeEnd(range);
  }
}
