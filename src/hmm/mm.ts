// Layer: simulator (src/hmm). Imports ./vma, ./pgtable and types of ./mmuNotifier.
// struct mm_struct: one per simulated process.

import type { MmuIntervalNotifier } from './mmuNotifier';
import { PageTable } from './pgtable';
import { VmaList } from './vma';

export class Mm {
  vmas = new VmaList();
  pt = new PageTable();
  /** Interval notifiers (an interval tree in the kernel; a short list suffices here). */
  readonly notifiers: MmuIntervalNotifier[] = [];
  /** mmu_notifier_subscriptions.invalidate_seq: even when idle, odd during an invalidation. */
  invalidateSeq = 2;
  activeInvalidateRanges = 0;
  alive = true;
  constructor(
    readonly id: number,
    /** The process name the script uses (`main`, or the name given to fork). */
    readonly name: string,
    readonly parent: Mm | undefined,
  ) {}
}
