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
  save(): MmState {
    return {
      vmas: this.vmas.clone(), pt: this.pt.clone(), notifiers: this.notifiers.slice(),
      invalidateSeq: this.invalidateSeq, activeInvalidateRanges: this.activeInvalidateRanges, alive: this.alive,
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
