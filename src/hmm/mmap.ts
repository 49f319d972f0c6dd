// mm/mmap.c, mm/mprotect.c, mm/madvise.c and exit_mmap: the syscalls that change VMAs, with
// the notifier events of the kernel's table (UNMAP, PROTECTION_VMA, CLEAR, RELEASE).

import {
  ADDRESS_SPACE_PAGES, EINVAL, ENOMEM, HPAGE_PMD_NR, MMAP_BASE_VPN, MmuNotifyEvent, PAGE_SIZE, PTRS_PER_PMD, PTRS_PER_PTE, TASK_SIZE_VPN,
} from './constants';
import { type Machine, SimError } from './machine';
import { hugetlbBadSplit, hugetlbDontneedRange, hugetlbVmOpClose } from './hugetlb';
import { exclusiveEntryHoldsFolio, folioLikelyMappedShared, freePgtables, splitHugePmd, splitPteMappedFolio, splitVmaEdges, zapPageRange } from './memory';
import type { Mm } from './mm';
import { mmuNotifierInvalidate } from './mmuNotifier';
import { PG_ANON, PG_ANON_EXCLUSIVE, PG_LARGE_HEAD, PG_LARGE_TAIL, Zone } from './page';
import { Pte, PTE_WRITE } from './pgtable';
import { pushFrame, type KernelWork } from './kernelWork';
import { putPage } from './swap';
import { linearPageIndex } from './vmaAddress';
import {
  type DeviceFileRef, type HugetlbResv, MemObject, VM_ACCOUNT, VM_HUGEPAGE, VM_HUGETLB, VM_MIXEDMAP, VM_NOHUGEPAGE, VM_READ, VM_SHARED,
  VM_WRITE, Vma,
} from './vma';

export type ProtName = 'none' | 'r' | 'rw';

export function protFlags(prot: ProtName): number {
  return prot === 'none' ? 0 : prot === 'r' ? VM_READ : VM_READ | VM_WRITE;
}

/**
 * get_unmapped_area as the model places mappings: first fit upward from MMAP_BASE, one guard
 * page apart from every range in `taken`, at a multiple of `align` pages (huge mappings: 2 MiB).
 * A mapping that does not fit below TASK_SIZE is a SimError (the kernel would say -ENOMEM).
 */
export function getUnmappedArea(taken: readonly { readonly start: number; readonly pages: number }[], pages: number, align: number): number {
  const sorted = [...taken].sort((a, b) => a.start - b.start);
  let cand = MMAP_BASE_VPN;
  for (;;) {
    cand = Math.ceil(cand / align) * align;
    const clash = sorted.find((r) => cand < r.start + r.pages + 1 && cand + pages + 1 > r.start);
    if (clash === undefined) {
      if (cand + pages > TASK_SIZE_VPN) {
        throw new SimError(`mmap of ${pages} pages: no room below TASK_SIZE (the address space has ${TASK_SIZE_VPN - MMAP_BASE_VPN} pages, 1 TiB, from 0x${(MMAP_BASE_VPN * PAGE_SIZE).toString(16)})`);
      }
      return cand;
    }
    cand = clash.start + clash.pages + 1;
  }
}

/** mmap at a fixed, already reserved place. */
export function doMmap(mm: Mm, start: number, pages: number, prot: ProtName, opts: {
  name: string; shared: boolean; huge: boolean; object?: MemObject; hugetlbResv?: HugetlbResv; deviceFile?: DeviceFileRef;
}): Vma {
  const hugetlb = opts.hugetlbResv !== undefined;
  const accountable = !opts.shared && !hugetlb && prot === 'rw';
  const flags = protFlags(prot) | (opts.shared ? VM_SHARED : 0) | (opts.huge ? VM_HUGEPAGE : 0) |
    (hugetlb ? VM_HUGETLB : 0) | (opts.deviceFile !== undefined ? VM_MIXEDMAP : 0) | (accountable ? VM_ACCOUNT : 0);
  const vma = new Vma(start, start + pages, flags, opts.name, start, opts.object, -start, false, opts.hugetlbResv, opts.deviceFile);
  mm.vmas.insert(vma);
  return vma;
}

/** munmap: MMU_NOTIFY_UNMAP over the range, zap, drop the VMAs and their page tables. */
export function* doMunmap(sim: Machine, mm: Mm, start: number, end: number): KernelWork<number> {
  if (end <= start) return -EINVAL;
  // do_vmi_munmap: no VMA in the range, nothing to do (no notifier: a mirror's entry on the page
  // after the range, which dmirror's inclusive erase would take, stays).
  if (mm.vmas.intersecting(start, end).length === 0) return 0;
  // vms_gather_munmap_vmas splits both ends first: a hugetlb VMA only at a huge page boundary
  // (hugetlb_vm_op_split). A failed split at `start` changes nothing; one at `end` fails after
  // the first VMA was cut at `start`, and that cut stays.
  const bad = hugetlbBadSplit(mm, start, end);
  if (bad === start) return -EINVAL;
  yield pushFrame(sim.kstack, { name: 'munmap', detail: sim.describeRange(start, end) });
  try {
    if (bad !== undefined) {
      const endVma = mm.vmas.find(end);
      yield* splitVmaEdges(sim, mm, start, end, (v) => v !== endVma);
      mm.vmas.splitAt(start);
      return -EINVAL;
    }
    yield* splitVmaEdges(sim, mm, start, end);
    yield* zapPageRange(sim, mm, start, end, MmuNotifyEvent.UNMAP);
    for (const v of mm.vmas.isolate(start, end)) hugetlbVmOpClose(sim, v, v.start, v.end);
    mm.vmas.remove(start, end);
    freePgtables(mm, start, end);
    return 0;
  } finally {
    sim.kstack.pop();
  }
}

/**
 * mprotect: PROTECTION_VMA, raised only where page tables exist (one per PUD-sized stretch,
 * from the first populated PMD); present ptes and device-private entries lose write permission
 * when it is removed; exclusive anonymous pages regain it when it is added.
 */
/**
 * mprotect: as do_mprotect_pkey, the VMAs from `start` are changed one after the other until a
 * hole; a hole (or `start` outside any mapping) ends the walk with -ENOMEM, and what was changed
 * before it stays changed.
 */
export function* doMprotect(sim: Machine, mm: Mm, start: number, end: number, prot: ProtName): KernelWork<number> {
  const vmas = mm.vmas.intersecting(start, end);
  if (vmas.length === 0 || vmas[0]!.start > start) return -ENOMEM;
  // A hugetlb VMA splits only at a huge page boundary: the VMAs before the bad split are changed.
  const bad = hugetlbBadSplit(mm, start, end, (v) => (v.flags & (VM_READ | VM_WRITE)) !== protFlags(prot));
  if (bad !== undefined) {
    const upTo = bad === start ? start : mm.vmas.find(bad)!.start;
    if (upTo > start) yield* doMprotect(sim, mm, start, upTo, prot);
    return -EINVAL;
  }
  let covered = vmas[0]!.end;
  for (let i = 1; i < vmas.length && vmas[i]!.start === covered; i++) covered = vmas[i]!.end;
  if (covered < end) {
    const rc = yield* doMprotect(sim, mm, start, covered, prot);
    return rc || -ENOMEM;
  }
  // mprotect_fixup leaves a VMA that already has the protection alone: no split, no notifier.
  const want = protFlags(prot);
  for (const [s, e] of changedRuns(vmas, start, end, (v) => (v.flags & (VM_READ | VM_WRITE)) !== want)) yield* mprotectRange(sim, mm, s, e, prot);
  return 0;
}

/** The runs of [start, end) over `vmas` (in address order) that `changes` accepts, adjacent ones joined. */
function changedRuns(vmas: readonly Vma[], start: number, end: number, changes: (v: Vma) => boolean): [number, number][] {
  const runs: [number, number][] = [];
  for (const v of vmas) {
    if (!changes(v)) continue;
    const s = Math.max(start, v.start);
    const e = Math.min(end, v.end);
    const last = runs[runs.length - 1];
    if (last !== undefined && last[1] === s) last[1] = e;
    else runs.push([s, e]);
  }
  return runs;
}

/**
 * mprotect_fixup's new vm_flags for `v`: making a private mapping writable charges it
 * (VM_ACCOUNT); making an anonymous one read-only uncharges it only while it has no anon_vma.
 */
function mprotectFlags(v: Vma, prot: number): number {
  let flags = (v.flags & ~(VM_READ | VM_WRITE)) | prot;
  if ((prot & VM_WRITE) !== 0) {
    if ((v.flags & (VM_ACCOUNT | VM_WRITE | VM_HUGETLB | VM_SHARED)) === 0) flags |= VM_ACCOUNT;
  } else if ((v.flags & VM_ACCOUNT) !== 0 && v.isAnonymous && !v.anonVma) {
    flags &= ~VM_ACCOUNT;
  }
  return flags;
}

/** mprotect of [start, end), every VMA of which changes protection. */
function* mprotectRange(sim: Machine, mm: Mm, start: number, end: number, prot: ProtName): KernelWork<number> {
  yield pushFrame(sim.kstack, { name: 'mprotect', detail: `${sim.describeRange(start, end)} ${prot}` });
  try {
    yield* splitVmaEdges(sim, mm, start, end);
    const newFlags = protFlags(prot);
    const pieces = mm.vmas.isolate(start, end);
    for (const v of pieces) v.flags = mprotectFlags(v, newFlags);
    const writable = (newFlags & VM_WRITE) !== 0;
    const pudPages = PTRS_PER_PTE * PTRS_PER_PMD;
    if (pieces.length > 0 && pieces.every((v) => v.isHugetlb)) {
      // hugetlb_change_protection: PROTECTION_VMA over the whole range, populated or not; a
      // private mapping's huge ptes never regain write (vm_page_prot is PAGE_COPY).
      const range = { mm, start, end, event: MmuNotifyEvent.PROTECTION_VMA, owner: null, blockable: true };
      yield* mmuNotifierInvalidate(sim, range, () => {
        if (!writable) changeProtection(sim, mm, start, end, false);
      });
      mm.vmas.mergeAdjacent(start, end, !sim.profile.mergeFaultedIntoUnfaulted);
      return 0;
    }
    for (let s = start; s < end; ) {
      const pudEnd = Math.min(end, s - (s % pudPages) + pudPages);
      const first = mm.pt.firstPopulated(s, pudEnd);
      if (first !== undefined) {
        const range = { mm, start: first, end: pudEnd, event: MmuNotifyEvent.PROTECTION_VMA, owner: null, blockable: true };
        yield* mmuNotifierInvalidate(sim, range, () => {
          changeProtection(sim, mm, first, pudEnd, writable);
        });
      }
      s = pudEnd;
    }
    mm.vmas.mergeAdjacent(start, end, !sim.profile.mergeFaultedIntoUnfaulted);
    return 0;
  } finally {
    sim.kstack.pop();
  }
}

function changeProtection(sim: Machine, mm: Mm, start: number, end: number, writable: boolean): void {
  const f = sim.frames;
  for (const [idx, t] of mm.pt.tables) {
    const base = idx * PTRS_PER_PTE;
    if (base + PTRS_PER_PTE <= start || base >= end) continue;
    for (let k = Math.max(start, base) - base; k < Math.min(end, base + PTRS_PER_PTE) - base; k++) {
      const kind = t.kind[k] as Pte;
      // change_pte_range: a writable device-private entry becomes readable whatever the new
      // protection ("a protection check is difficult so just be safe"); on 6.12 a writable
      // device-exclusive entry too (profile readableExclusive).
      if (kind === Pte.DEVICE_PRIVATE || (kind === Pte.DEVICE_EXCLUSIVE && sim.profile.readableExclusive)) {
        t.bits[k] = t.bits[k]! & ~PTE_WRITE;
      } else if (kind === Pte.PRESENT) {
        if (!writable) t.bits[k] = t.bits[k]! & ~PTE_WRITE;
        else {
          // MM_CP_TRY_CHANGE_WRITABLE: only exclusively owned anonymous pages become writable.
          const pfn = f.head(t.pfn[k]!);
          const vma = mm.vmas.find(base + k);
          if (f.zone.get(pfn) !== Zone.ZERO && (vma?.isShared || ((f.flags.get(pfn) & PG_ANON) !== 0 && (f.flags.get(pfn) & PG_ANON_EXCLUSIVE) !== 0))) {
            t.bits[k] = t.bits[k]! | PTE_WRITE;
          }
        }
      }
    }
    mm.pt.markDirty(base);
  }
}

export type MadviseName = 'dontneed' | 'free' | 'hugepage' | 'nohugepage' | 'collapse';

/** madvise(2) for the advice the language has. */
/**
 * madvise: as madvise_walk_vmas, every VMA in the range is advised in turn; an error from one
 * (MADV_FREE of memory that is not private anonymous: -EINVAL) ends the walk, and a hole
 * anywhere in the range makes the call return -ENOMEM after the rest was advised.
 */
export function* doMadvise(sim: Machine, mm: Mm, start: number, end: number, advice: MadviseName): KernelWork<number> {
  const vmas = mm.vmas.intersecting(start, end);
  if (vmas.length === 0) return -ENOMEM;
  let covered = start;
  let hole = false;
  for (const v of vmas) {
    if (v.start > covered) hole = true;
    covered = v.end;
  }
  if (covered < end) hole = true;
  const unmapped = hole ? -ENOMEM : 0;
  yield pushFrame(sim.kstack, { name: 'madvise', detail: `${sim.describeRange(start, end)} ${advice}` });
  try {
    switch (advice) {
      case 'dontneed':
      case 'free':
        // MADV_FREE frees lazily in the kernel; with no reclaim here it behaves like DONTNEED
        // for what a later read returns only once reclaimed, so the pages are kept but clean.
        for (const v of vmas) {
          const s = Math.max(start, v.start);
          let e = Math.min(end, v.end);
          if (v.isHugetlb) {
            // madvise_dontneed_free_valid_vma: no MADV_FREE; a huge-page aligned start, the end aligned down.
            if (advice === 'free') return -EINVAL;
            const r = hugetlbDontneedRange(s, e);
            if (typeof r === 'number') return r;
            e = r.end;
            if (e <= s) continue;
          }
          if (advice === 'dontneed') yield* zapPageRange(sim, mm, s, e, MmuNotifyEvent.CLEAR, sim.profile.ptReclaim);
          else if (!v.isAnonymous || v.isShared) return -EINVAL; // madvise_free_single_vma: !vma_is_anonymous
          else yield* madviseFree(sim, mm, s, e);
        }
        return unmapped;
      case 'hugepage':
      case 'nohugepage':
        const hint = advice === 'hugepage' ? VM_HUGEPAGE : VM_NOHUGEPAGE;
        if (hugetlbBadSplit(mm, start, end, (v) => (v.flags & (VM_HUGEPAGE | VM_NOHUGEPAGE)) !== hint) !== undefined) return -EINVAL;
        const changes = (v: Vma): boolean => (v.flags & (VM_HUGEPAGE | VM_NOHUGEPAGE)) !== hint;
        yield* splitVmaEdges(sim, mm, start, end, changes);
        // madvise_update_vma leaves a VMA that already has the hint alone: no split, no merge.
        for (const [s, e] of changedRuns(mm.vmas.intersecting(start, end), start, end, changes)) {
          for (const v of mm.vmas.isolate(s, e)) v.flags = (v.flags & ~(VM_HUGEPAGE | VM_NOHUGEPAGE)) | hint;
          mm.vmas.mergeAdjacent(s, e, !sim.profile.mergeFaultedIntoUnfaulted);
        }
        return unmapped;
      case 'collapse':
        // thp_vma_allowable_order: no THP in a hugetlb or device-file VMA.
        if (vmas.some((v) => v.isHugetlb || v.isMixedMap)) return -EINVAL;
        return yield* madviseCollapse(sim, mm, start, end);
    }
  } finally {
    sim.kstack.pop();
  }
}

/**
 * MADV_FREE: the kernel raises MMU_NOTIFY_CLEAR and marks the pages lazily freeable; without
 * memory pressure they keep their data. Device entries and THPs are split/left alone.
 */
function* madviseFree(sim: Machine, mm: Mm, start: number, end: number): KernelWork<void> {
  const f = sim.frames;
  // A THP only partly in the range is split for real, unless another process maps it
  // (madvise_free_huge_pmd, madvise_free_pte_range: split_folio); the huge zero page is left.
  for (let h = start - (start % HPAGE_PMD_NR); h < end; h += HPAGE_PMD_NR) {
    const t = mm.pt.lookup(h);
    if (t === undefined) continue;
    const whole = h >= start && h + HPAGE_PMD_NR <= end;
    if (t.pmd) {
      const head = t.pfn[0]!;
      // split_folio fails on a pinned folio (can_split_folio): the PMD stays as it is.
      if (!whole && f.zone.get(head) !== Zone.ZERO && f.mapcount.get(head) <= 1 && f.pincount.get(head) === 0) yield* splitHugePmd(sim, mm, h, true);
      continue;
    }
    // madvise_free_pte_range over this PTE page's part of the range, pte by pte: a large folio
    // (mapped by ptes: its PMD was split earlier) whose ptes from here do not map it whole, in
    // order and within the range (madvise_folio_pte_batch: folio_pte_batch up to the range's end
    // in this PMD), is split unless it cannot be (then its batch is skipped); after an mremap
    // its pages need not sit at their aligned slots, or in one PTE page.
    const e = Math.min(end, h + HPAGE_PMD_NR);
    for (let v = Math.max(start, h); v < e;) {
      const k = v - h;
      const pfn = t.pfn[k]!;
      if (t.kind[k] !== Pte.PRESENT || f.zone.get(pfn) !== Zone.SYSTEM || (f.flags.get(pfn) & (PG_LARGE_HEAD | PG_LARGE_TAIL)) === 0) {
        v++;
        continue;
      }
      const head = pfn - (pfn % HPAGE_PMD_NR);
      const maxNr = Math.min(e - v, head + HPAGE_PMD_NR - pfn);
      let nr = 1;
      while (nr < maxNr && t.kind[k + nr] === Pte.PRESENT && t.pfn[k + nr] === pfn + nr) nr++;
      if (nr < HPAGE_PMD_NR && f.largeFolioExtraRefs(head) === 0 && !folioLikelyMappedShared(sim, head) && !exclusiveEntryHoldsFolio(sim, head)) {
        yield* splitPteMappedFolio(sim, mm, head);
        continue; // this pte again, now of a base page
      }
      v += nr;
    }
  }
  const range = { mm, start, end, event: MmuNotifyEvent.CLEAR, owner: null, blockable: true };
  yield* mmuNotifierInvalidate(sim, range, () => {
    for (let v = start; v < end; v += PTRS_PER_PTE) mm.pt.markDirty(v);
  });
}

/**
 * MADV_COLLAPSE: each fully covered, 2 MiB aligned range whose pages are all present system
 * pages becomes one PMD-mapped THP (copying the data), with MMU_NOTIFY_CLEAR over it.
 */
function* madviseCollapse(sim: Machine, mm: Mm, start: number, end: number): KernelWork<number> {
  const f = sim.frames;
  for (let h = Math.ceil(start / HPAGE_PMD_NR) * HPAGE_PMD_NR; h + HPAGE_PMD_NR <= end; h += HPAGE_PMD_NR) {
    const vma = mm.vmas.find(h);
    if (vma === undefined || !vma.isPrivateAnon || vma.end < h + HPAGE_PMD_NR) return -EINVAL;
    const t = mm.pt.lookup(h);
    if (t !== undefined && t.pmd) continue;
    let ok = t !== undefined;
    for (let k = 0; ok && k < PTRS_PER_PTE; k++) {
      const kind = t!.kind[k] as Pte;
      if (kind !== Pte.PRESENT && kind !== Pte.NONE) ok = false;
      else if (kind === Pte.PRESENT && f.pincount.get(f.folioHead(t!.pfn[k]!)) > 0) ok = false;
    }
    if (!ok) continue;
    const range = { mm, start: h, end: h + HPAGE_PMD_NR, event: MmuNotifyEvent.CLEAR, owner: null, blockable: true };
    yield* mmuNotifierInvalidate(sim, range, () => {
      const thp = f.allocSystem(9, PG_ANON | PG_ANON_EXCLUSIVE);
      const writable = (vma.flags & VM_WRITE) !== 0;
      for (let k = 0; k < PTRS_PER_PTE; k++) {
        const old = t!.pfn[k]!;
        const present = t!.kind[k] === Pte.PRESENT;
        f.contentId.set(thp + k, present && f.zone.get(old) !== Zone.ZERO ? f.contentId.get(old) : 0);
        f.contentPage.set(thp + k, present && f.zone.get(old) !== Zone.ZERO ? f.contentPage.get(old) : 0);
        if (present && f.zone.get(old) !== Zone.ZERO) {
          f.mapcount.add(old, -1);
          putPage(sim, old);
        }
        mm.pt.set(h + k, Pte.PRESENT, thp + k, writable ? PTE_WRITE : 0);
      }
      f.mapcount.set(thp, 1);
      f.setAnon(thp, HPAGE_PMD_NR, linearPageIndex(vma, h), vma.anonVmaId);
      t!.setPmd(true);
    });
    sim.emit(mm.name, h, h + HPAGE_PMD_NR, { kind: 'pte', what: 'collapse-thp' });
  }
  return 0;
}

/** exit_mmap: RELEASE to every interval notifier over [0, ULONG_MAX), then unmap everything. */
export function* exitMmap(sim: Machine, mm: Mm): KernelWork<void> {
  yield pushFrame(sim.kstack, { name: 'exit_mmap', detail: mm.name });
  try {
    const range = { mm, start: 0, end: ADDRESS_SPACE_PAGES, event: MmuNotifyEvent.RELEASE, owner: null, blockable: true };
    yield* mmuNotifierInvalidate(sim, range, () => {});
    for (const v of [...mm.vmas.list]) {
      yield* zapPageRange(sim, mm, v.start, v.end, MmuNotifyEvent.UNMAP);
      hugetlbVmOpClose(sim, v, v.start, v.end);
      mm.vmas.remove(v.start, v.end);
    }
    freePgtables(mm, 0, ADDRESS_SPACE_PAGES);
  } finally {
    sim.kstack.pop();
  }
}

