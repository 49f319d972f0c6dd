// mm/memory.c and mm/huge_memory.c: the CPU fault paths (handle_mm_fault: do_anonymous_page,
// do_wp_page/wp_page_copy, do_swap_page for device-private and device-exclusive entries,
// THP faults), zapping ranges (munmap, MADV_DONTNEED/FREE, exit) and PMD splitting.

import { ZERO_CONTENT } from './content';
import {
  HPAGE_PMD_NR, MmuNotifyEvent, PTRS_PER_PTE, VM_FAULT_OK, VM_FAULT_SIGBUS, VM_FAULT_SIGSEGV,
} from './constants';
import { hugetlbNoPage, hugetlbWp } from './hugetlb';
import type { Machine } from './machine';
import type { Mm } from './mm';
import { mmuNotifierInvalidate } from './mmuNotifier';
import { HUGE_ZERO_PFN, PG_ANON, PG_ANON_EXCLUSIVE, PG_FILE, PG_LARGE_HEAD, PG_LARGE_TAIL, ZERO_PFN, Zone } from './page';
import { pmdNone, Pte, PTE_DIRTY, PTE_WRITE, pteIndex, type PteTable, setExpected } from './pgtable';
import type { KernelWork } from './kernelWork';
import { type FolioMapping, folioMappings, linearPageIndex, vmPgoffDelta } from './vmaAddress';
import { rmapWalkFolio } from './rmapWalk';
import { freeFolio, getPage, putPage } from './swap';
import { VM_HUGEPAGE, VM_NOHUGEPAGE, VM_READ, VM_SHARED, VM_WRITE, type Vma } from './vma';
import { ScratchInt32 } from './scratch';

export interface FaultFlags {
  readonly write: boolean;
  /** FAULT_FLAG_REMOTE: on behalf of a device (hmm_range_fault) or GUP. */
  readonly remote: boolean;
}

/** Whether `vpn`'s PMD-aligned 2 MiB range may hold a THP in this VMA (madvise mode). */
export function thpEligible(vma: Vma, vpn: number): boolean {
  if (!vma.isPrivateAnon || (vma.flags & VM_HUGEPAGE) === 0 || (vma.flags & VM_NOHUGEPAGE) !== 0) return false;
  const h = vpn - (vpn % HPAGE_PMD_NR);
  return h >= vma.start && h + HPAGE_PMD_NR <= vma.end;
}

/**
 * Drop one mapping of the entry at `vpn` (present, device-private or device-exclusive) and
 * clear it: page_remove_rmap + put_page.
 */
export function zapEntry(sim: Machine, mm: Mm, vpn: number): void {
  const t = mm.pt.lookup(vpn);
  if (t === undefined) return;
  const i = pteIndex(vpn);
  const kind = t.kind[i] as Pte;
  if (kind === Pte.NONE) return;
  const pfn = t.pfn[i]!;
  if (t.pmd) {
    // A PMD mapping goes as a whole; callers split first when only part of it is zapped.
    const head = pfn - i;
    for (let k = 0; k < PTRS_PER_PTE; k++) mm.pt.clear(vpn - i + k);
    t.clearPmd();
    if (sim.frames.zone.get(head) !== Zone.ZERO) {
      sim.frames.mapcount.add(head, -1);
      putPage(sim, head);
    }
    return;
  }
  mm.pt.clear(vpn);
  if (kind === Pte.MIGRATION) return;
  if (sim.frames.zone.get(pfn) === Zone.ZERO) return;
  sim.frames.mapcount.add(pfn, -1);
  putPage(sim, pfn);
}

/**
 * split_huge_pmd: 512 ptes replace the PMD mapping. The model splits the folio too; `folioToo`
 * says Linux does as well (split_folio), otherwise its pages are marked as a PTE-mapped THP.
 */
export function* splitHugePmd(sim: Machine, mm: Mm, vpn: number, folioToo = false): KernelWork<void> {
  const t = mm.pt.lookup(vpn);
  if (t === undefined) return;
  const haddr = vpn - pteIndex(vpn);
  if (!t.pmd && t.forkSplit) {
    yield* endForkSplit(sim, mm, haddr, folioToo);
    return;
  }
  if (!t.pmd) return;
  const head = t.pfn[0]!;
  if (folioToo && sim.frames.zone.get(head) !== Zone.ZERO) {
    // split_folio's rmap walk: this PMD is split where it meets mm's VMA; the VMAs it visits
    // before, which need not map the folio, are notified too.
    const maps = folioMappings(sim, head, HPAGE_PMD_NR, isPresent);
    let done = false;
    yield* splitFolioRmapWalk(sim, head, maps, function* (m) {
      if (m.mm !== mm || done) return;
      done = true;
      yield* splitPmdMapping(sim, mm, t, haddr, true);
    });
    if (!done) yield* splitPmdMapping(sim, mm, t, haddr, true);
    return;
  }
  yield* splitPmdMapping(sim, mm, t, haddr, folioToo);
}

/** __split_huge_pmd of the THP mapped at `haddr` (CLEAR over the PMD range), and split_folio with `folioToo`. */
function* splitPmdMapping(sim: Machine, mm: Mm, t: PteTable, haddr: number, folioToo: boolean): KernelWork<void> {
  const range = { mm, start: haddr, end: haddr + HPAGE_PMD_NR, event: MmuNotifyEvent.CLEAR, owner: null, blockable: true };
  yield* mmuNotifierInvalidate(sim, range, () => {
    const head = t.pfn[0]!;
    t.setPmd(false);
    mm.pt.markDirty(haddr);
    if (sim.frames.zone.get(head) === Zone.ZERO) {
      // The huge zero page splits into 512 mappings of the small zero page.
      for (let k = 0; k < PTRS_PER_PTE; k++) t.pfn[k] = ZERO_PFN;
      return;
    }
    sim.frames.splitFolio(head, !folioToo);
    if (folioToo) remapZeroSubpages(sim, mm, haddr, haddr + HPAGE_PMD_NR, haddr, head);
    sim.emit(mm.name, haddr, haddr + HPAGE_PMD_NR, { kind: 'pte', what: 'split-pmd' });
  });
}

/**
 * split_folio's unmap_folio for the large folio at frame `head`: try_to_migrate (TTU_SPLIT_HUGE_PMD)
 * walks its rmap (rmapWalk.ts: every VMA of its anon_vma over its offsets, in any process, until
 * no pte maps it) and try_to_migrate_one raises MMU_NOTIFY_CLEAR in each VMA it visits, whether
 * the VMA maps the folio or not: split_huge_pmd_address's __split_huge_pmd over the 2 MiB block
 * at vma_address (where a PMD table is: the model raises it where a PTE page is), then over
 * [vma_address, vma_address_end). `unmapOne` does what a VMA that maps the folio (`maps`) gets.
 */
function* splitFolioRmapWalk(sim: Machine, head: number, maps: readonly FolioMapping[], unmapOne: (m: FolioMapping) => KernelWork<void>): KernelWork<void> {
  if (maps.length === 0) return;
  const left = new Set(maps);
  const visits = rmapWalkFolio(sim, head, HPAGE_PMD_NR, { mm: maps[0]!.mm, vpn: maps[0]!.start }, maps.slice(1).map((m) => ({ mm: m.mm, vpn: m.start })));
  for (const visit of visits) {
    if (left.size === 0) break; // folio_not_mapped
    const m = maps.find((x) => x.mm === visit.mm && x.vma === visit.vma);
    if (m !== undefined) {
      left.delete(m);
      yield* unmapOne(m);
      continue;
    }
    yield* splitHugePmdAddressNotify(sim, visit.mm, visit.start);
    yield* mmuNotifierInvalidate(sim, { mm: visit.mm, start: visit.start, end: visit.end, event: MmuNotifyEvent.CLEAR, owner: null, blockable: true }, () => undefined);
  }
  for (const m of left) yield* unmapOne(m);
}

/** split_huge_pmd_address where no THP of the folio is PMD-mapped: __split_huge_pmd's CLEAR over the block alone. */
function* splitHugePmdAddressNotify(sim: Machine, mm: Mm, vpn: number): KernelWork<void> {
  if (mm.pt.lookup(vpn) === undefined) return;
  const lo = vpn - pteIndex(vpn);
  yield* mmuNotifierInvalidate(sim, { mm, start: lo, end: lo + HPAGE_PMD_NR, event: MmuNotifyEvent.CLEAR, owner: null, blockable: true }, () => undefined);
}

/**
 * A THP fork shared, which the model PTE-maps but Linux still maps by a PMD in `mm` (forkSplit):
 * Linux splits that PMD now (CLEAR over it; the folio stays large), or with `folioToo` the
 * folio itself (split_folio: base pages in every process, zero subpages to the zero page).
 */
function* endForkSplit(sim: Machine, mm: Mm, haddr: number, folioToo: boolean): KernelWork<void> {
  const t = mm.pt.lookup(haddr)!;
  t.forkSplit = false;
  const first = Array.from({ length: PTRS_PER_PTE }, (_, k) => k).find((k) => t.kind[k] === Pte.PRESENT);
  const pfn = first === undefined ? -1 : t.pfn[first]!;
  const large = pfn >= 0 && (sim.frames.flags.get(pfn) & (PG_LARGE_HEAD | PG_LARGE_TAIL)) !== 0;
  const head = pfn - (pfn % HPAGE_PMD_NR);
  // split_folio fails on a folio with references beyond its mappings, a pin's (can_split_folio):
  // only the PMD goes.
  if (folioToo && large && sim.frames.largeFolioExtraRefs(head) === 0) {
    for (const other of sim.mms) {
      const o = other.pt.lookup(haddr);
      if (o !== undefined) o.forkSplit = false;
    }
    yield* splitPteMappedFolio(sim, mm, head);
    return;
  }
  const range = { mm, start: haddr, end: haddr + HPAGE_PMD_NR, event: MmuNotifyEvent.CLEAR, owner: null, blockable: true };
  yield* mmuNotifierInvalidate(sim, range, () => mm.pt.markDirty(haddr));
}

/**
 * __split_huge_page's remap with RMP_USE_SHARED_ZEROPAGE (since 6.12): after a real split of an
 * anonymous THP, a subpage that holds only zeros is mapped to the shared zero page (read-only)
 * and freed. Done for [start, end) of `mm`, where the folio's page k is at `at` + k, for the
 * subpages mapped there (`shared`: whoever else maps them; else only those this mm alone maps).
 */
function remapZeroSubpages(sim: Machine, mm: Mm, start: number, end: number, at: number, head: number, shared = false): void {
  const f = sim.frames;
  for (let vpn = start; vpn < end; vpn++) {
    const t = mm.pt.lookup(vpn);
    if (t === undefined) continue;
    const s = pteIndex(vpn);
    const p = head + (vpn - at);
    // Per subpage: the folio may be only partly mapped still (a PTE-mapped THP after munmap),
    // and `shared`: each process's mapping of it is replaced in turn.
    if (t.kind[s] !== Pte.PRESENT || t.pfn[s] !== p || (f.flags.get(p) & PG_ANON) === 0 || (!shared && f.mapcount.get(p) !== 1)) continue;
    if (f.contentId.get(p) !== ZERO_CONTENT || f.pincount.get(p) > 0) continue;
    mm.pt.set(vpn, Pte.PRESENT, ZERO_PFN, 0);
    f.mapcount.add(p, -1);
    putPage(sim, p);
  }
}

const isPresent = (k: Pte): boolean => k === Pte.PRESENT;
const isDeviceExclusive = (k: Pte): boolean => k === Pte.DEVICE_EXCLUSIVE;

/**
 * split_folio of a large folio mapped by ptes (PG_LARGE_HEAD/_TAIL marks, head at `head`): it
 * becomes base pages, remapped in place (zero subpages to the shared zero page). unmap_folio's
 * rmap walk (splitFolioRmapWalk) raises MMU_NOTIFY_CLEAR in each VMA it visits: over the PMD
 * block at the folio's first address there, and over the part of the VMA the folio's offsets
 * cover (vmaAddress.ts: after an mremap, not the folio's aligned block).
 */
export function* splitPteMappedFolio(sim: Machine, mm: Mm, head: number): KernelWork<void> {
  const f = sim.frames;
  // Every process that maps the folio (fork shares it) has its mappings replaced; a process
  // where the model still PMD-maps it (not a PTE-mapped folio there) is not among them.
  const maps = folioMappings(sim, head, HPAGE_PMD_NR, isPresent).filter((m) => !m.mm.pt.lookup(m.start)!.pmd);
  // Each page keeps a reference per mapping; those no longer mapped (a partial munmap, DONTNEED
  // or mremap since the PMD split) are freed after the remap.
  const unmapped = f.splitLargeFolio(head);
  const at = f.indexOf(head);
  const ordered = [...maps.filter((x) => x.mm === mm), ...maps.filter((x) => x.mm !== mm)];
  yield* splitFolioRmapWalk(sim, head, ordered, function* (m) {
    yield* splitHugePmdAddressNotify(sim, m.mm, m.start);
    const range = { mm: m.mm, start: m.start, end: m.end, event: MmuNotifyEvent.CLEAR, owner: null, blockable: true };
    yield* mmuNotifierInvalidate(sim, range, () => {
      for (let v = m.start - pteIndex(m.start); v < m.end; v += PTRS_PER_PTE) m.mm.pt.markDirty(v);
      remapZeroSubpages(sim, m.mm, m.start, m.end, at - vmPgoffDelta(m.vma), head, true);
    });
  });
  for (const p of unmapped) freeFolio(sim, p);
}

/**
 * 6.12's can_split_folio failing on a large folio (head at `head`) whose pages a device-exclusive
 * entry holds: a reference without a mapcount (profile exclusiveKeepsMapping), seen in the VM as
 * a MADV_FREE that left the folio whole and a migration that then refused its pages.
 */
export function exclusiveEntryHoldsFolio(sim: Machine, head: number): boolean {
  if (sim.profile.exclusiveKeepsMapping) return false;
  return folioMappings(sim, head, HPAGE_PMD_NR, isDeviceExclusive).length > 0;
}

/**
 * folio_likely_mapped_shared of a PTE-mapped large folio (head at `head`): more mappings than
 * pages, or else the guess from its first page (mapped more than once).
 */
export function folioLikelyMappedShared(sim: Machine, head: number): boolean {
  const f = sim.frames;
  let total = 0;
  for (let p = head; p < head + HPAGE_PMD_NR; p++) total += f.mapcount.get(p);
  if (total <= 1) return false;
  if (total > HPAGE_PMD_NR) return true;
  return f.mapcount.get(head) > 1;
}

/**
 * The VMA cuts at `start` and `end` (__split_vma, as mprotect, munmap and madvise make them in
 * the VMAs they change, `changes`):
 * vma_adjust_trans_huge splits the PMD around an unaligned cut whose 2 MiB block lies inside the
 * VMA being cut, and __split_huge_pmd raises MMU_NOTIFY_CLEAR over that whole block whether or
 * not a THP is mapped there (seen in the VM: mirrors lose their entries of the block).
 */
export function* splitVmaEdges(sim: Machine, mm: Mm, start: number, end: number, changes: (v: Vma) => boolean = () => true): KernelWork<void> {
  for (const a of [start, end]) {
    if (a % HPAGE_PMD_NR === 0) continue;
    const v = mm.vmas.find(a);
    // A VMA the call leaves as it is is not cut.
    if (v === undefined || v.start >= a || !changes(v)) continue;
    // Cut at `start` first: the cut at `end` then happens in the VMA that starts at `start`.
    const vmaStart = a === end && v.start < start && start < v.end ? start : v.start;
    const lo = a - (a % HPAGE_PMD_NR);
    if (lo < vmaStart || lo + HPAGE_PMD_NR > v.end) continue;
    // Linux does so wherever the PUD entry is there; without a page table in the block no
    // mirror can have entries there to lose, so the model raises it only then.
    const t = mm.pt.lookup(a);
    if (t === undefined) continue;
    if (t.pmd || t.forkSplit) {
      yield* splitHugePmd(sim, mm, a);
      continue;
    }
    yield* mmuNotifierInvalidate(sim, { mm, start: lo, end: lo + HPAGE_PMD_NR, event: MmuNotifyEvent.CLEAR, owner: null, blockable: true }, () => undefined);
  }
}

/** Split the PMD mappings that straddle either end of [start, end). */
export function* splitPmdsAtEdges(sim: Machine, mm: Mm, start: number, end: number): KernelWork<void> {
  if (start % HPAGE_PMD_NR !== 0) yield* splitHugePmd(sim, mm, start);
  if (end % HPAGE_PMD_NR !== 0) yield* splitHugePmd(sim, mm, end);
}

/** The page-cache page of a file or shmem object at `vpn`, created on first use. */
function findOrCreatePageCachePage(sim: Machine, vma: Vma, vpn: number): number {
  const obj = vma.object!;
  const index = vma.filePage(vpn);
  let pfn = obj.pages.get(index);
  if (pfn === undefined) {
    pfn = sim.frames.allocSystem(0, PG_FILE);
    sim.frames.setIndex(pfn, index);
    sim.frames.contentId.set(pfn, obj.initContent);
    sim.frames.contentPage.set(pfn, index);
    obj.pages.set(index, pfn);
  }
  return pfn;
}

/** fault_around_bytes (64 KiB): pages do_fault_around maps around a read fault. */
const FAULT_AROUND_PAGES = 16;

/**
 * do_fault_around + filemap_map_pages: a read fault on a file or shmem mapping also maps the
 * page-cache pages around it that are already there (a file's pages all are: its contents were
 * written; shmem's only once touched), in the 16-page aligned window clipped to the VMA and the
 * PTE page, where nothing is mapped yet. Shared writable mappings of tmpfs/shmem need no write
 * notification, so their ptes are writable; private ones read-only (COW on write).
 */
function doFaultAround(sim: Machine, mm: Mm, vma: Vma, vpn: number): void {
  const obj = vma.object;
  if (obj === undefined) return;
  const t = mm.pt.lookup(vpn)!;
  const base = vpn - pteIndex(vpn);
  const from = Math.max(vpn - (pteIndex(vpn) % FAULT_AROUND_PAGES), vma.start, base);
  const to = Math.min(from + FAULT_AROUND_PAGES, vma.end, base + PTRS_PER_PTE);
  const writable = vma.isShared && (vma.flags & VM_WRITE) !== 0;
  let mapped = 0;
  for (let v = from; v < to; v++) {
    const s = pteIndex(v);
    if (v === vpn || t.kind[s] !== Pte.NONE) continue;
    const index = vma.filePage(v);
    if (index >= obj.sizePages) continue;
    if (obj.kind === 'shmem' && !obj.pages.has(index)) continue;
    const pfn = findOrCreatePageCachePage(sim, vma, v);
    getPage(sim, pfn);
    sim.frames.mapcount.add(pfn, 1);
    mm.pt.set(v, Pte.PRESENT, pfn, writable ? PTE_WRITE : 0);
    setExpected(t, s, -1, 0);
    mapped++;
  }
  if (mapped > 0) sim.emit(mm.name, from, to, { kind: 'pte', what: `fault-around: ${mapped} page-cache page(s) mapped` });
}

/** Content id and page a freshly faulted private page of `vma` starts with. */
function initialExpectation(vma: Vma): [number, number] {
  return vma.isPrivateAnon ? [0, 0] : [-1, 0];
}

/** Event bodies of the per-page anonymous fault paths, made once (emit copies what it keeps). */
const ZERO_PAGE_FAULT = { kind: 'cpuFault', write: false, found: 'none', action: 'map-zero-page' } as const;
const NEW_ANON_PAGE_FAULT = { kind: 'cpuFault', write: true, found: 'none', action: 'new-anon-page' } as const;

/** do_anonymous_page / do_read_fault / do_cow_fault / do_shared_fault for a pte_none entry (never sleeps). */
export function doPteNone(sim: Machine, mm: Mm, vma: Vma, vpn: number, write: boolean): number {
  if (vma.isHugetlb) return hugetlbNoPage(sim, mm, vma, vpn, write);
  if (vma.isMixedMap) {
    // do_fault without vm_ops->fault: the driver put its pages in at mmap; a hole is SIGBUS.
    sim.emit(mm.name, vpn, vpn + 1, { kind: 'cpuFault', write, found: 'none', action: 'sigbus: no fault handler (VM_MIXEDMAP)' }, mm.key('mixedmap-sigbus'));
    return VM_FAULT_SIGBUS;
  }
  const t = mm.pt.alloc(vpn);
  const i = pteIndex(vpn);
  if (vma.object === undefined && !vma.isShared) {
    // do_anonymous_page maps the zero page before vmf_anon_prepare: a read makes no anon_vma
    // (so fork copies nothing of a VMA only ever read: vma_needs_copy).
    if (write) mm.vmas.prepareAnonVma(vma);
    if (!write) {
      mm.pt.set(vpn, Pte.PRESENT, ZERO_PFN, 0);
      sim.emit(mm.name, vpn, vpn + 1, ZERO_PAGE_FAULT, mm.key('zero'));
    } else {
      const pfn = sim.frames.allocAnonPage(linearPageIndex(vma, vpn), vma.anonVmaId);
      mm.pt.set(vpn, Pte.PRESENT, pfn, PTE_WRITE | PTE_DIRTY);
      sim.emit(mm.name, vpn, vpn + 1, NEW_ANON_PAGE_FAULT, mm.key('anon'));
    }
    setExpected(t, i, 0, 0);
    return VM_FAULT_OK;
  }
  if (vma.filePage(vpn) >= vma.object!.sizePages) {
    // filemap_fault / shmem_fault past i_size (a mapping mremap grew beyond the file's end).
    // do_read_fault calls ->map_pages before ->fault: the page-cache pages around are mapped
    // even though the fault itself ends in SIGBUS.
    if (!write) doFaultAround(sim, mm, vma, vpn);
    sim.emit(mm.name, vpn, vpn + 1, { kind: 'cpuFault', write, found: 'none', action: 'sigbus: past the end of the file (i_size)' }, mm.key('eof-sigbus'));
    return VM_FAULT_SIGBUS;
  }
  const cache = findOrCreatePageCachePage(sim, vma, vpn);
  if (vma.isShared) {
    getPage(sim, cache);
    sim.frames.mapcount.add(cache, 1);
    mm.pt.set(vpn, Pte.PRESENT, cache, (vma.flags & VM_WRITE) !== 0 ? PTE_WRITE : 0);
    sim.emit(mm.name, vpn, vpn + 1, { kind: 'cpuFault', write, found: 'none', action: 'map-page-cache' }, `shared:${mm.id}`);
    setExpected(t, i, -1, 0);
    if (!write) doFaultAround(sim, mm, vma, vpn);
    return VM_FAULT_OK;
  }
  if (!write) {
    // Private file mapping, read: map the page-cache page read-only.
    getPage(sim, cache);
    sim.frames.mapcount.add(cache, 1);
    mm.pt.set(vpn, Pte.PRESENT, cache, 0);
    sim.emit(mm.name, vpn, vpn + 1, { kind: 'cpuFault', write, found: 'none', action: 'map-page-cache' }, `file:${mm.id}`);
    setExpected(t, i, -1, 0);
    doFaultAround(sim, mm, vma, vpn);
    return VM_FAULT_OK;
  }
  // do_cow_fault: a private anonymous copy of the file page, no notifier (the pte was none).
  mm.vmas.prepareAnonVma(vma);
  const pfn = sim.frames.allocAnonPage(linearPageIndex(vma, vpn), vma.anonVmaId, cache);
  mm.pt.set(vpn, Pte.PRESENT, pfn, PTE_WRITE | PTE_DIRTY);
  setExpected(t, i, -1, 0);
  sim.emit(mm.name, vpn, vpn + 1, { kind: 'cpuFault', write, found: 'none', action: 'cow-file-page' }, `cowfile:${mm.id}`);
  return VM_FAULT_OK;
}

/** Whether a CPU write fault on a pte_none entry of `vma` is do_anonymous_page's new page (doPteNone). */
export function anonWriteFaultMakesNewPage(vma: Vma): boolean {
  return !vma.isHugetlb && !vma.isMixedMap && vma.object === undefined && !vma.isShared;
}

/**
 * doPteNone(write) for the `n` pte_none pages from `vpn`, in one PTE page of a VMA where
 * anonWriteFaultMakesNewPage, then written with content `content` (cpuAccess's write): the
 * frames, entries, expectations and events n faults and writes make, a range at a time.
 */
/** doAnonymousPages' frames. */
const anonPfns = new ScratchInt32();

export function doAnonymousPages(sim: Machine, mm: Mm, vma: Vma, vpn: number, n: number, content: { readonly id: number; readonly page: number }): void {
  mm.vmas.prepareAnonVma(vma);
  const pfns = anonPfns.get(n);
  sim.frames.allocAnonPages(linearPageIndex(vma, vpn), vma.anonVmaId, n, pfns, content);
  mm.pt.setNoneRun(vpn, n, Pte.PRESENT, pfns, PTE_WRITE | PTE_DIRTY);
  sim.emitPages(mm.name, vpn, n, NEW_ANON_PAGE_FAULT, mm.key('anon'));
  const t = mm.pt.lookup(vpn)!;
  const i = pteIndex(vpn);
  t.setExpectedRun(i, n, content.id, content.page);
}

/** do_huge_pmd_anonymous_page: the huge zero page for a read, a new THP for a write. */
function doHugePmdAnonymousPage(sim: Machine, mm: Mm, vma: Vma, vpn: number, write: boolean): number {
  const haddr = vpn - pteIndex(vpn);
  const t = mm.pt.alloc(haddr);
  mm.vmas.prepareAnonVma(vma);
  let pfn: number;
  if (write) {
    pfn = sim.frames.allocSystem(9, PG_ANON | PG_ANON_EXCLUSIVE);
    sim.frames.mapcount.set(pfn, 1);
    sim.frames.setAnon(pfn, HPAGE_PMD_NR, linearPageIndex(vma, haddr), vma.anonVmaId);
  } else {
    pfn = HUGE_ZERO_PFN;
  }
  for (let k = 0; k < PTRS_PER_PTE; k++) {
    mm.pt.set(haddr + k, Pte.PRESENT, pfn + k, write ? PTE_WRITE | PTE_DIRTY : 0);
    setExpected(t, k, 0, 0);
  }
  t.setPmd(true);
  sim.emit(mm.name, haddr, haddr + HPAGE_PMD_NR, { kind: 'cpuFault', write, found: 'none', action: write ? 'new-thp' : 'map-huge-zero-page' });
  return VM_FAULT_OK;
}

/** wp_page_copy: a private copy of the page for the writer, with MMU_NOTIFY_CLEAR on that page. */
function* wpPageCopy(sim: Machine, mm: Mm, vma: Vma, vpn: number): KernelWork<number> {
  const t = mm.pt.lookup(vpn)!;
  const i = pteIndex(vpn);
  const old = t.pfn[i]!;
  const range = { mm, start: vpn, end: vpn + 1, event: MmuNotifyEvent.CLEAR, owner: null, blockable: true };
  const oldFlags = sim.frames.flags.get(old);
  const found = sim.frames.zone.get(old) === Zone.ZERO ? 'zero-page' : (oldFlags & PG_FILE) ? 'file-page'
    : (oldFlags & PG_ANON) ? 'shared-anon-page' : 'driver-page';
  yield* mmuNotifierInvalidate(sim, range, () => {
    mm.vmas.prepareAnonVma(vma);
    const pfn = sim.frames.allocAnonPage(linearPageIndex(vma, vpn), vma.anonVmaId, old);
    mm.pt.set(vpn, Pte.PRESENT, pfn, PTE_WRITE | PTE_DIRTY);
    if (sim.frames.zone.get(old) !== Zone.ZERO) {
      sim.frames.mapcount.add(old, -1);
      putPage(sim, old);
    }
  });
  sim.emit(mm.name, vpn, vpn + 1, { kind: 'cpuFault', write: true, found, action: 'cow-copy' }, `cow:${mm.id}:${found}`);
  return VM_FAULT_OK;
}

/** do_wp_page: write fault on a present read-only entry of a writable VMA. */
function* doWpPage(sim: Machine, mm: Mm, vma: Vma, vpn: number): KernelWork<number> {
  const t = mm.pt.lookup(vpn)!;
  const i = pteIndex(vpn);
  const pfn = t.pfn[i]!;
  const f = sim.frames;
  if (t.forkSplit && (vma.flags & VM_SHARED) === 0 && (f.flags.get(pfn) & (PG_LARGE_HEAD | PG_LARGE_TAIL)) !== 0) {
    // do_huge_pmd_wp_page on the PMD Linux kept for a THP fork shared: reused whole once no
    // other process maps the folio, else the PMD is split here and the page copied (below).
    const haddr = vpn - i;
    const head = pfn - (pfn % HPAGE_PMD_NR);
    let alone = true;
    for (let k = 0; k < PTRS_PER_PTE && alone; k++) {
      alone = f.mapcount.get(head + k) <= 1 && f.pincount.get(head + k) === 0 && (t.kind[k] !== Pte.PRESENT || t.pfn[k] === head + k);
    }
    if (alone) {
      // folio_move_anon_rmap: the folio is this VMA's from now on (none of its pages was
      // PageAnonExclusive: the fork cleared them all).
      if ((f.flags.get(head) & PG_ANON_EXCLUSIVE) === 0) f.moveAnonRmap(head, HPAGE_PMD_NR, vma.anonVmaId);
      for (let k = 0; k < PTRS_PER_PTE; k++) {
        if (t.kind[k] !== Pte.PRESENT) continue;
        t.bits[k] = t.bits[k]! | PTE_WRITE | PTE_DIRTY;
        f.flags.set(head + k, f.flags.get(head + k) | PG_ANON_EXCLUSIVE);
      }
      mm.pt.markDirty(haddr);
      return VM_FAULT_OK;
    }
    yield* splitHugePmd(sim, mm, vpn);
  }
  if ((vma.flags & VM_SHARED) !== 0) {
    t.bits[i] = t.bits[i]! | PTE_WRITE | PTE_DIRTY;
    mm.pt.markDirty(vpn);
    return VM_FAULT_OK;
  }
  if (f.zone.get(pfn) !== Zone.ZERO && (f.flags.get(pfn) & PG_ANON) !== 0) {
    // wp_can_reuse_anon_folio: exclusively owned (or the last user left): reuse in place. A
    // page of a PTE-mapped large folio (6.12: never) when it is mapped once and the folio has no
    // reference beyond its mappings.
    const large = (f.flags.get(pfn) & (PG_LARGE_HEAD | PG_LARGE_TAIL)) !== 0;
    const lastUser = f.mapcount.get(pfn) === 1 &&
      (!large ? f.refcount.get(pfn) === 1 : sim.profile.reuseLargeFolioPage && f.largeFolioExtraRefs(f.folioHead(pfn)) === 0);
    if ((f.flags.get(pfn) & PG_ANON_EXCLUSIVE) !== 0 || lastUser) {
      // wp_can_reuse_anon_folio's folio_move_anon_rmap: the last user's VMA takes the folio.
      if ((f.flags.get(pfn) & PG_ANON_EXCLUSIVE) === 0) {
        if (large) f.moveAnonRmap(f.folioHead(pfn), HPAGE_PMD_NR, vma.anonVmaId);
        else f.moveAnonRmap(pfn, 1, vma.anonVmaId);
      }
      f.flags.set(pfn, f.flags.get(pfn) | PG_ANON_EXCLUSIVE);
      t.bits[i] = t.bits[i]! | PTE_WRITE | PTE_DIRTY;
      mm.pt.markDirty(vpn);
      sim.emit(mm.name, vpn, vpn + 1, { kind: 'cpuFault', write: true, found: 'read-only-exclusive', action: 'reuse' }, `reuse:${mm.id}`);
      return VM_FAULT_OK;
    }
  }
  return yield* wpPageCopy(sim, mm, vma, vpn);
}

/** Write fault on a PMD-mapped read-only THP or huge zero page (do_huge_pmd_wp_page). */
function* doHugePmdWpPage(sim: Machine, mm: Mm, vma: Vma, vpn: number): KernelWork<number> {
  const haddr = vpn - pteIndex(vpn);
  const t = mm.pt.lookup(vpn)!;
  const head = t.pfn[0]!;
  const f = sim.frames;
  if (f.zone.get(head) === Zone.ZERO && !sim.profile.hugeZeroWriteThp) {
    // 6.12: split the huge zero PMD and fall back to a copy of the faulting page.
    yield* splitHugePmd(sim, mm, vpn);
    return yield* doWpPage(sim, mm, vma, vpn);
  }
  if (f.zone.get(head) === Zone.ZERO) {
    // do_huge_zero_wp_pmd: a new THP replaces the huge zero page.
    const range = { mm, start: haddr, end: haddr + HPAGE_PMD_NR, event: MmuNotifyEvent.CLEAR, owner: null, blockable: true };
    yield* mmuNotifierInvalidate(sim, range, () => {
      const pfn = f.allocSystem(9, PG_ANON | PG_ANON_EXCLUSIVE);
      f.mapcount.set(pfn, 1);
      f.setAnon(pfn, HPAGE_PMD_NR, linearPageIndex(vma, haddr), vma.anonVmaId);
      for (let k = 0; k < PTRS_PER_PTE; k++) mm.pt.set(haddr + k, Pte.PRESENT, pfn + k, PTE_WRITE | PTE_DIRTY);
    });
    sim.emit(mm.name, haddr, haddr + HPAGE_PMD_NR, { kind: 'cpuFault', write: true, found: 'huge-zero-page', action: 'new-thp' });
    return VM_FAULT_OK;
  }
  if ((f.flags.get(head) & PG_ANON_EXCLUSIVE) !== 0 || (f.mapcount.get(head) === 1 && f.refcount.get(head) === 1)) {
    // folio_move_anon_rmap when the folio was not PageAnonExclusive: this VMA's from now on.
    if ((f.flags.get(head) & PG_ANON_EXCLUSIVE) === 0) f.moveAnonRmap(head, HPAGE_PMD_NR, vma.anonVmaId);
    for (let k = 0; k < PTRS_PER_PTE; k++) t.bits[k] = t.bits[k]! | PTE_WRITE | PTE_DIRTY;
    mm.pt.markDirty(haddr);
    return VM_FAULT_OK;
  }
  yield* splitHugePmd(sim, mm, vpn);
  return yield* doWpPage(sim, mm, vma, vpn);
}

/**
 * remove_device_exclusive_entry: MMU_NOTIFY_CLEAR (owner NULL) on the page, then the original
 * present pte comes back (writable if the VMA allows writes).
 */
export function* removeDeviceExclusiveEntry(sim: Machine, mm: Mm, vma: Vma, vpn: number, write: boolean): KernelWork<void> {
  const range = { mm, start: vpn, end: vpn + 1, event: MmuNotifyEvent.CLEAR, owner: null, blockable: true };
  yield* mmuNotifierInvalidate(sim, range, () => {
    const t = mm.pt.lookup(vpn)!;
    const i = pteIndex(vpn);
    // restore_exclusive_pte: writable only from a writable entry (6.12 has readable ones too).
    const writable = (vma.flags & VM_WRITE) !== 0 && (!sim.profile.readableExclusive || (t.bits[i]! & PTE_WRITE) !== 0);
    mm.pt.set(vpn, Pte.PRESENT, t.pfn[i]!, (writable ? PTE_WRITE : 0) | PTE_DIRTY);
  });
  sim.emit(mm.name, vpn, vpn + 1, { kind: 'cpuFault', write, found: 'device-exclusive', action: 'restore-exclusive' }, `restore:${mm.id}:${write}`);
}

/**
 * handle_mm_fault for one page. The caller has checked the VMA's permissions (the CPU's access
 * check or hmm_range_fault's). Returns VM_FAULT_OK or a VM_FAULT_* error.
 */
export function* handleMmFault(sim: Machine, mm: Mm, vpn: number, flags: FaultFlags): KernelWork<number> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const vma = mm.vmas.find(vpn);
    if (vma === undefined || (vma.flags & VM_READ) === 0 || (flags.write && (vma.flags & VM_WRITE) === 0)) {
      return VM_FAULT_SIGSEGV;
    }
    const t = mm.pt.lookup(vpn);
    const i = pteIndex(vpn);
    const kind = t === undefined ? Pte.NONE : (t.kind[i] as Pte);
    if (kind === Pte.NONE) {
      if (thpEligible(vma, vpn) && pmdNone(t)) return doHugePmdAnonymousPage(sim, mm, vma, vpn, flags.write);
      return doPteNone(sim, mm, vma, vpn, flags.write);
    }
    const tt = t!;
    if (kind === Pte.PRESENT) {
      if (!flags.write || (tt.bits[i]! & PTE_WRITE) !== 0) return VM_FAULT_OK;
      if (vma.isHugetlb) return yield* hugetlbWp(sim, mm, vpn);
      if (tt.pmd) return yield* doHugePmdWpPage(sim, mm, vma, vpn);
      return yield* doWpPage(sim, mm, vma, vpn);
    }
    if (kind === Pte.DEVICE_PRIVATE) {
      // do_swap_page: the page's pagemap migrates it back, then the access is retried.
      const pfn = tt.pfn[i]!;
      const dev = sim.deviceOfPfn(pfn);
      sim.emit(mm.name, vpn, vpn + 1, { kind: 'cpuFault', write: flags.write, found: `device-private ${dev.name}`, action: 'migrate_to_ram', device: dev.name }, `m2r:${mm.id}:${dev.index}`);
      sim.clock.advance(sim.timing.cpuFaultDeviceNs);
      const ret = yield* dev.ops!.migrateToRam({ mmId: mm.id, vpn, write: flags.write, pfn });
      if (ret !== VM_FAULT_OK) return ret;
      continue;
    }
    if (kind === Pte.DEVICE_EXCLUSIVE) {
      yield* removeDeviceExclusiveEntry(sim, mm, vma, vpn, flags.write);
      continue;
    }
    throw new Error(`fault on a migration entry at ${sim.describeRange(vpn, vpn + 1)}: no migration may be in flight between statements`);
  }
  throw new Error(`handle_mm_fault did not settle at ${sim.describeRange(vpn, vpn + 1)}`);
}

/**
 * Zap [start, end) of `mm` (munmap, MADV_DONTNEED/FREE, exit) inside one notifier of `event`.
 * Device-private and device-exclusive entries drop their page reference like present ones.
 * `reclaimPt` (mainline's PT_RECLAIM, MADV_DONTNEED only): a PTE page the range covers whole is
 * freed once empty (zap_pte_range's try_to_free_pte), so the next fault there may map a THP.
 */
export function* zapPageRange(sim: Machine, mm: Mm, start: number, end: number, event: MmuNotifyEvent, reclaimPt = false): KernelWork<void> {
  yield* splitPmdsAtEdges(sim, mm, start, end);
  const range = { mm, start, end, event, owner: null, blockable: true };
  yield* mmuNotifierInvalidate(sim, range, () => {
    let zapped = 0;
    for (const [idx, t] of [...mm.pt.tables]) {
      const base = idx * PTRS_PER_PTE;
      if (base + PTRS_PER_PTE <= start || base >= end) continue;
      const whole = base >= start && base + PTRS_PER_PTE <= end;
      const reclaim = reclaimPt && whole && !t.pmd;
      // zap_huge_pmd on the PMD Linux kept for a THP fork shared (forkSplit): pmd_none after.
      const wholeForkPmd = whole && t.forkSplit;
      if (t.used === 0) {
        if (reclaim || wholeForkPmd) t.clearPmd();
        if (wholeForkPmd) t.forkSplit = false;
        continue;
      }
      if (t.pmd) {
        zapEntry(sim, mm, base);
        zapped += PTRS_PER_PTE;
      } else {
        const lo = Math.max(start, base) - base;
        const hi = Math.min(end, base + PTRS_PER_PTE) - base;
        for (let k = lo; k < hi; k++) {
          if (t.kind[k] !== Pte.NONE) {
            zapEntry(sim, mm, base + k);
            zapped++;
          }
        }
        if (reclaim || wholeForkPmd) t.clearPmd();
        if (wholeForkPmd) t.forkSplit = false;
      }
      // The data that reads back after a zap: zeros for anonymous memory, the file otherwise.
      for (let k = Math.max(start, base) - base; k < Math.min(end, base + PTRS_PER_PTE) - base; k++) {
        const vma = mm.vmas.find(base + k);
        const [id, page] = vma === undefined ? [0, 0] : initialExpectation(vma);
        setExpected(t, k, id, page);
      }
    }
    if (zapped > 0) sim.emit(mm.name, start, end, { kind: 'pte', what: `zap ${zapped} entries` });
  });
}

/** Free PTE pages that no VMA covers any more (free_pgtables after munmap). */
export function freePgtables(mm: Mm, start: number, end: number): void {
  for (const [idx, t] of [...mm.pt.tables]) {
    const base = idx * PTRS_PER_PTE;
    if (base + PTRS_PER_PTE <= start || base >= end || t.used !== 0) continue;
    if (mm.vmas.intersecting(base, base + PTRS_PER_PTE).length === 0) mm.pt.freeTable(idx);
  }
}
