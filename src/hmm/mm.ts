// struct mm_struct: one per simulated process.

import type { MmuIntervalNotifier } from './mmuNotifier';
import { PageTable } from './pgtable';
import { VmaList } from './vma';

export interface MmState {
  readonly vmas: VmaList;
  readonly pt: PageTable;
  readonly notifiers: MmuIntervalNotifier[];
  readonly invalidateSeq: number;
  readonly activeInvalidateRanges: number;
  readonly alive: boolean;
  readonly pins: ReadonlyMap<string, readonly number[]>;
}

export class Mm {
  vmas = new VmaList();
  pt = new PageTable();
  /** Interval notifiers (an interval tree in the kernel; a short list suffices here). */
  readonly notifiers: MmuIntervalNotifier[] = [];
  /** mmu_notifier_subscriptions.invalidate_seq: even when idle, odd during an invalidation. */
  invalidateSeq = 2;
  activeInvalidateRanges = 0;
  alive = true;
  /** gup_test's pins: the pages each successful `pin` of [start, end) holds (key `start:end`). */
  readonly pins = new Map<string, readonly number[]>();
  save(): MmState {
    return {
      vmas: this.vmas.clone(), pt: this.pt.clone(), notifiers: this.notifiers.slice(),
      invalidateSeq: this.invalidateSeq, activeInvalidateRanges: this.activeInvalidateRanges, alive: this.alive,
      pins: new Map(this.pins),
    };
  }

  load(s: MmState): void {
    this.vmas = s.vmas.clone();
    this.pt = s.pt.clone();
    this.notifiers.length = 0;
    this.notifiers.push(...s.notifiers);
    this.invalidateSeq = s.invalidateSeq;
    this.activeInvalidateRanges = s.activeInvalidateRanges;
    this.alive = s.alive;
    this.pins.clear();
    for (const [k, v] of s.pins) this.pins.set(k, v);
  }

  private readonly keys = new Map<string, string>();
  /** Event coalescing keys per process, built once (hot fault paths emit per page). */
  key(what: string): string {
    let k = this.keys.get(what);
    if (k === undefined) {
      k = `${what}:${this.id}`;
      this.keys.set(what, k);
    }
    return k;
  }

  constructor(
    readonly id: number,
    /** The process name the script uses (`main`, or the name given to fork). */
    readonly name: string,
    readonly parent: Mm | undefined,
  ) {}
}
