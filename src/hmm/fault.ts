// The CPU touching memory (arch/x86/mm/fault.c do_user_addr_fault, then the access itself): each
// page is checked against its VMA (access_error), faulted in through handle_mm_fault when its
// entry does not allow the access, then read, or written with a pattern.

import { EFAULT, PTRS_PER_PTE, VM_FAULT_ERROR, VM_FAULT_SIGBUS } from './constants';
import type { PatternFn } from './content';
import type { Machine } from './machine';
import { anonWriteFaultMakesNewPage, doAnonymousPages, doPteNone, handleMmFault, thpEligible } from './memory';
import { rangeBatching } from './batching';
import type { Mm } from './mm';
import { Pte, PTE_WRITE, pteIndex, type PteTable, setExpected } from './pgtable';
import { PREEMPT, PREEMPT_PAGES, preemptAt, type KernelWork } from './kernelWork';
import { VM_READ, VM_WRITE, type Vma } from './vma';

/** The first page from `vpn` where cpuAccess's loop yields (preemptAt), or later. */
function nextPreempt(start: number, vpn: number): number {
  const r = vpn - start;
  const next = r - (r % PREEMPT_PAGES) + PREEMPT_PAGES - 1;
  return start + (next > r ? next : next + PREEMPT_PAGES);
}

/** Pages from `vpn`, before `stop` and in its PTE page, whose entries in `t` are pte_none. */
function freshRun(t: PteTable | undefined, vpn: number, stop: number): number {
  const s = pteIndex(vpn);
  const n = Math.min(stop - vpn, PTRS_PER_PTE - s);
  if (t === undefined) return n;
  let k = 0;
  while (k < n && t.kindAt(s + k) === Pte.NONE) k++;
  return k;
}

/** Whether the VMA lets the CPU access the page so (access_error in the arch fault handler). */
export function accessAllowed(vma: Vma | undefined, write: boolean): boolean {
  if (vma === undefined) return false;
  return write ? (vma.flags & VM_WRITE) !== 0 : (vma.flags & VM_READ) !== 0;
}

/**
 * The CPU touches every page of [start, end): a read of one word, or a write of every word.
 * Returns the first page it could not touch and -EFAULT, or undefined when all went. The
 * pattern's page index counts from `mapStart`, the start of the mapping the script named (a
 * VMA mremap put inside it has another name).
 */
export function* cpuAccess(sim: Machine, mm: Mm, start: number, end: number, write: PatternFn | undefined, mapStart: number): KernelWork<{ vpn: number; rc: number; sig: 'SIGSEGV' | 'SIGBUS' } | undefined> {
  const contentId = write === undefined ? -1 : sim.contents.intern(write);
  const f = sim.frames;
  for (let vpn = start; vpn < end; vpn++) {
    if (preemptAt(vpn - start)) yield PREEMPT;
    const vma = mm.vmas.find(vpn);
    if (!accessAllowed(vma, write !== undefined)) return { vpn, rc: -EFAULT, sig: 'SIGSEGV' };
    let t = mm.pt.lookup(vpn);
    let s = pteIndex(vpn);
    // Read as the table holds them (a form's entries make no arrays here).
    const ok = t !== undefined && t.kindAt(s) === Pte.PRESENT && (write === undefined || (t.bitsAt(s) & PTE_WRITE) !== 0);
    if (!ok && write !== undefined && (t === undefined || t.kindAt(s) === Pte.NONE) && rangeBatching() &&
      anonWriteFaultMakesNewPage(vma!) && !thpEligible(vma!, vpn)) {
      // A write over fresh anonymous memory: the pte_none run of this PTE page at once, up to
      // the next preemption point (the same yields as page by page).
      const n = freshRun(t, vpn, Math.min(end, vma!.end, nextPreempt(start, vpn)));
      // One page too: a run cut at a preemption point ends with one, and it keeps the page
      // table's expectations in their uniform form (PteTable.setExpectedRun).
      if (n > 0) {
        sim.stats.cpuFaults += n;
        // Each fault advances the clock before its event (the run's first gives the event's time).
        sim.clock.advance(sim.timing.cpuFaultNs);
        doAnonymousPages(sim, mm, vma!, vpn, n, { id: contentId, page: vpn - mapStart });
        sim.clock.advanceTimes(sim.timing.cpuFaultNs, n - 1);
        sim.contentChanged(vpn);
        vpn += n - 1;
        continue;
      }
    }
    if (!ok) {
      sim.stats.cpuFaults++;
      sim.clock.advance(sim.timing.cpuFaultNs);
      // pte_none outside THP ranges never yields: take it without a generator (hot path).
      const r = (t === undefined || t.kind[s] === Pte.NONE) && !thpEligible(vma!, vpn)
        ? doPteNone(sim, mm, vma!, vpn, write !== undefined)
        : yield* handleMmFault(sim, mm, vpn, { write: write !== undefined, remote: false });
      // mm_fault_error: VM_FAULT_SIGBUS (a hole in a device-file mapping, no free huge page) is SIGBUS.
      if (r & VM_FAULT_ERROR) return { vpn, rc: -EFAULT, sig: r & VM_FAULT_SIGBUS ? 'SIGBUS' : 'SIGSEGV' };
      t = mm.pt.lookup(vpn);
      s = pteIndex(vpn);
    }
    if (write !== undefined) {
      const pfn = t!.pfn[s]!;
      const page = vpn - mapStart;
      f.contentId.set(pfn, contentId);
      f.contentPage.set(pfn, page);
      setExpected(t!, s, vma!.isShared ? -1 : contentId, page);
      sim.contentChanged(vpn);
    }
  }
  return undefined;
}
