// Layer: simulator (src/hmm). Imports sibling mechanism modules and types of the world.
// mm/hugetlb.c for private MAP_HUGETLB mappings of the default 2 MiB hstate: the pool
// (nr_hugepages) and its reservations (hugetlb_reserve_pages at mmap, consumed by faults,
// returned by hugetlb_vm_op_close), hugetlb_no_page and hugetlb_wp, copy_hugetlb_page_range at
// fork, and the alignment rules (hugetlb_vm_op_split) that munmap, mprotect and madvise meet.
// A huge page is mapped as one PMD-level entry (a PTE page flagged `pmd`) and is never split.

import { EINVAL, ENOMEM, HPAGE_PMD_NR, MmuNotifyEvent, PTRS_PER_PTE, VM_FAULT_OK, VM_FAULT_SIGBUS } from './constants';
import type { Machine } from './machine';
import type { Mm } from './mm';
import { mmuNotifierInvalidate } from './mmuNotifier';
import { type PageFrames, PG_ANON, PG_ANON_EXCLUSIVE, PG_HUGETLB } from './page';
import { Pte, PTE_DIRTY, PTE_WRITE, pteIndex, type PteTable } from './pgtable';
import type { KernelWork } from './kernelWork';
import { getPage, putPage } from './swap';
import { HugetlbResv, VM_WRITE, type Vma } from './vma';

/** Huge pages of `pages` base pages, rounded up (the kernel aligns a MAP_HUGETLB length up). */
export function hugePagesOf(pages: number): number {
  return Math.ceil(pages / HPAGE_PMD_NR);
}

/**
 * hugetlb_reserve_pages for a private mapping of `hugePages`: -ENOMEM when the pool's free pages
 * that are not reserved yet cannot cover it (no overcommit: nr_overcommit_hugepages is 0).
 */
export function hugetlbReservePages(frames: PageFrames, hugePages: number): HugetlbResv | number {
  const h = frames.hstate;
  if (h.resv + hugePages > h.nr - h.inUse) return -ENOMEM;
  h.resv += hugePages;
  return new HugetlbResv(hugePages);
}

/** Huge-page offset of `vpn` in its mapping (vma_hugecache_offset): stable across mremap. */
function hugeIndex(vma: Vma, vpn: number): number {
  return Math.floor((vpn + vma.pgoffDelta) / HPAGE_PMD_NR);
}

/**
 * hugetlb_vm_op_close for [start, end) of a VMA that goes: the reservations it still holds (huge
 * pages never faulted) return to the pool.
 */
export function hugetlbVmOpClose(sim: Machine, vma: Vma, start: number, end: number): void {
  const resv = vma.hugetlbResv;
  if (resv === undefined) return;
  for (let v = start; v < end; v += HPAGE_PMD_NR) {
    const k = hugeIndex(vma, v);
    if (resv.consumed.has(k)) continue;
    resv.consumed.add(k); // counted once even if another piece closes over it again
    sim.frames.hstate.resv--;
  }
}

/**
 * hugetlb_vm_op_split: a hugetlb VMA may be split only at a huge page boundary. The first address
 * of {start, end} that would split one elsewhere, or undefined. `changes` says whether the call
 * changes a VMA at all (mprotect and madvise leave one that keeps its flags unsplit).
 */
export function hugetlbBadSplit(mm: Mm, start: number, end: number, changes: (v: Vma) => boolean = () => true): number | undefined {
  for (const p of [start, end]) {
    const v = mm.vmas.find(p);
    if (v !== undefined && v.isHugetlb && v.start !== p && p % HPAGE_PMD_NR !== 0 && changes(v)) return p;
  }
  return undefined;
}

/** alloc_hugetlb_folio: a zeroed 2 MiB folio, from the vma's reservation when it has one for `vpn`. */
function allocHugetlbFolio(sim: Machine, vma: Vma | undefined, vpn: number): number | undefined {
  const h = sim.frames.hstate;
  const resv = vma?.hugetlbResv;
  const k = vma === undefined ? -1 : hugeIndex(vma, vpn);
  if (resv !== undefined && !resv.consumed.has(k)) {
    resv.consumed.add(k);
    h.resv--;
  } else if (h.nr - h.inUse - h.resv <= 0) {
    return undefined; // -ENOSPC: VM_FAULT_SIGBUS
  }
  return sim.frames.allocSystem(9, PG_ANON | PG_ANON_EXCLUSIVE | PG_HUGETLB);
}

function copyHugeContents(f: PageFrames, from: number, to: number): void {
  for (let k = 0; k < PTRS_PER_PTE; k++) {
    f.contentId.set(to + k, f.contentId.get(from + k));
    f.contentPage.set(to + k, f.contentPage.get(from + k));
  }
}

function mapHuge(mm: Mm, t: PteTable, haddr: number, pfn: number, bits: number): void {
  for (let k = 0; k < PTRS_PER_PTE; k++) mm.pt.set(haddr + k, Pte.PRESENT, pfn + k, bits);
  t.setPmd(true);
}

/**
 * hugetlb_no_page for a private mapping: a new zeroed huge page, mapped read-only for a read
 * and writable for a write (the kernel maps it read-only and reuses it at once in hugetlb_wp).
 * No notifier: nothing was mapped.
 */
export function hugetlbNoPage(sim: Machine, mm: Mm, vma: Vma, vpn: number, write: boolean): number {
  const haddr = vpn - pteIndex(vpn);
  const pfn = allocHugetlbFolio(sim, vma, haddr);
  if (pfn === undefined) {
    sim.emit(mm.name, haddr, haddr + HPAGE_PMD_NR, { kind: 'cpuFault', write, found: 'none', action: 'no-free-huge-page' });
    return VM_FAULT_SIGBUS;
  }
  mm.vmas.prepareAnonVma(vma);
  sim.frames.mapcount.set(pfn, 1);
  sim.frames.setAnon(pfn, 1, haddr, vma.anonVmaId);
  const t = mm.pt.alloc(haddr);
  mapHuge(mm, t, haddr, pfn, write ? PTE_WRITE | PTE_DIRTY : 0);
  for (let k = 0; k < PTRS_PER_PTE; k++) {
    t.expectId[k] = 0;
    t.expectPage[k] = 0;
  }
  sim.emit(mm.name, haddr, haddr + HPAGE_PMD_NR, { kind: 'cpuFault', write, found: 'none', action: 'new-hugetlb-page' });
  return VM_FAULT_OK;
}

/**
 * hugetlb_wp: a write to a read-only huge pte. An anonymous huge page mapped once is reused in
 * place (no notifier); otherwise a copy replaces it, under MMU_NOTIFY_CLEAR over the huge page.
 */
export function* hugetlbWp(sim: Machine, mm: Mm, vpn: number): KernelWork<number> {
  const f = sim.frames;
  const haddr = vpn - pteIndex(vpn);
  const t = mm.pt.lookup(haddr)!;
  const old = t.pfn[0]!;
  if ((f.flags.get(old) & PG_ANON) !== 0 && f.mapcount.get(old) === 1) {
    // folio_move_anon_rmap when not PageAnonExclusive yet: the writer's VMA takes the folio.
    if ((f.flags.get(old) & PG_ANON_EXCLUSIVE) === 0) f.moveAnonRmap(old, 1, mm.vmas.find(haddr)!.anonVmaId);
    f.flags.set(old, f.flags.get(old) | PG_ANON_EXCLUSIVE);
    for (let k = 0; k < PTRS_PER_PTE; k++) t.bits[k] = t.bits[k]! | PTE_WRITE | PTE_DIRTY;
    mm.pt.markDirty(haddr);
    sim.emit(mm.name, haddr, haddr + HPAGE_PMD_NR, { kind: 'cpuFault', write: true, found: 'read-only-hugetlb-page', action: 'reuse' });
    return VM_FAULT_OK;
  }
  // Both the owner (outside_reserve) and a forked child (no reservation) take an unreserved page.
  const pfn = allocHugetlbFolio(sim, undefined, haddr);
  if (pfn === undefined) {
    sim.emit(mm.name, haddr, haddr + HPAGE_PMD_NR, { kind: 'cpuFault', write: true, found: 'shared-hugetlb-page', action: 'no-free-huge-page' });
    return VM_FAULT_SIGBUS;
  }
  const range = { mm, start: haddr, end: haddr + HPAGE_PMD_NR, event: MmuNotifyEvent.CLEAR, owner: null, blockable: true };
  yield* mmuNotifierInvalidate(sim, range, () => {
    copyHugeContents(f, old, pfn);
    f.mapcount.set(pfn, 1);
    // hugetlb_add_new_anon_rmap: the writer's VMA's anon_vma (anon_vma_prepare'd).
    const vma = mm.vmas.find(haddr)!;
    mm.vmas.prepareAnonVma(vma);
    f.setAnon(pfn, 1, haddr, vma.anonVmaId);
    mapHuge(mm, t, haddr, pfn, PTE_WRITE | PTE_DIRTY);
    f.mapcount.add(old, -1);
    putPage(sim, old);
  });
  sim.emit(mm.name, haddr, haddr + HPAGE_PMD_NR, { kind: 'cpuFault', write: true, found: 'shared-hugetlb-page', action: 'cow-copy' });
  return VM_FAULT_OK;
}

/**
 * copy_hugetlb_page_range: fork shares each huge page with the child, write-protected in both
 * (MMU_NOTIFY_CLEAR over the parent's VMA), except a page that may be pinned, which the child
 * gets a copy of at once. The child's VMA has no reservation.
 */
export function* copyHugetlbPageRange(sim: Machine, parent: Mm, child: Mm, vma: Vma, childVma: Vma): KernelWork<void> {
  childVma.hugetlbResv = undefined;
  const f = sim.frames;
  const copy = (): void => {
    for (let h = vma.start; h < vma.end; h += HPAGE_PMD_NR) {
      const src = parent.pt.lookup(h);
      if (src === undefined || !src.pmd || src.kind[0] !== Pte.PRESENT) continue;
      const head = src.pfn[0]!;
      const dst = child.pt.alloc(h);
      for (let k = 0; k < PTRS_PER_PTE; k++) {
        dst.expectId[k] = src.expectId[k]!;
        dst.expectPage[k] = src.expectPage[k]!;
      }
      if (f.pincount.get(head) > 0) {
        const pfn = allocHugetlbFolio(sim, undefined, h);
        if (pfn === undefined) continue; // the kernel fails the fork with -ENOMEM; not modelled
        copyHugeContents(f, head, pfn);
        f.mapcount.set(pfn, 1);
        f.setAnon(pfn, 1, h, childVma.anonVmaId);
        mapHuge(child, dst, h, pfn, src.bits[0]!);
        continue;
      }
      const bits = (vma.flags & VM_WRITE) !== 0 ? src.bits[0]! & ~PTE_WRITE : src.bits[0]!;
      mapHuge(parent, src, h, head, bits);
      mapHuge(child, dst, h, head, bits);
      f.flags.set(head, f.flags.get(head) & ~PG_ANON_EXCLUSIVE);
      f.mapcount.add(head, 1);
      getPage(sim, head);
    }
  };
  // is_cow_mapping: every private mapping (VM_MAYWRITE), read-only ones too.
  if (vma.isCow) {
    const range = { mm: parent, start: vma.start, end: vma.end, event: MmuNotifyEvent.CLEAR, owner: null, blockable: true };
    yield* mmuNotifierInvalidate(sim, range, copy);
  } else {
    copy();
  }
}

/** MADV_DONTNEED on a hugetlb VMA: the start must be huge-page aligned; the end is aligned down. */
export function hugetlbDontneedRange(start: number, end: number): { start: number; end: number } | number {
  if (start % HPAGE_PMD_NR !== 0) return -EINVAL;
  return { start, end: end - (end % HPAGE_PMD_NR) };
}
