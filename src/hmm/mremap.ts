// Layer: simulator (src/hmm). Imports sibling mechanism modules and types of the world.
// mm/mremap.c for mremap(old, old_len, new_len, flags, new): a move to a fixed address
// (MREMAP_MAYMOVE | MREMAP_FIXED [| MREMAP_DONTUNMAP]), resized or not, and a resize where the
// mapping is (shrink: the tail unmapped; grow: vma_expandable + vma_merge_extend in place, or
// with MREMAP_MAYMOVE moved where get_unmapped_area finds room, else -ENOMEM). The checks run in
// each kernel's order: 6.12's sys_mremap / mremap_to / vma_to_resize, mainline's do_mremap
// (v6.17: check_mremap_params and check_prep_vma before anything is unmapped, remap_move for a
// move-only call over several VMAs); profile.ts: mremapMultiVma. Page-table entries move with
// their pages (move_page_tables): present ptes, device-private and device-exclusive entries, a
// PMD-mapped THP (or a device-private PMD) whole when the move covers a PMD at PMD-aligned
// addresses on both sides, split first otherwise.

import { EFAULT, EINVAL, ENOMEM, HPAGE_PMD_NR, MmuNotifyEvent, PAGE_SIZE, PTRS_PER_PTE, TASK_SIZE_VPN } from './constants';
import { hugePagesOf } from './hugetlb';
import { splitHugePmd } from './memory';
import type { Mm } from './mm';
import { doMunmap } from './mmap';
import { mmuNotifierInvalidate } from './mmuNotifier';
import { pmdNone, Pte, pteIndex } from './pgtable';
import type { Machine } from './machine';
import { pushFrame, type KernelWork } from './kernelWork';
import { Vma } from './vma';

/** One mremap call, in pages. */
export interface MremapRequest {
  readonly old: number;
  readonly oldPages: number;
  readonly newPages: number;
  /** MREMAP_FIXED's new address (implies MREMAP_MAYMOVE), or undefined for a resize in place. */
  readonly fixedTo?: number;
  /** MREMAP_MAYMOVE without MREMAP_FIXED: a grow that cannot happen in place may move. */
  readonly mayMove: boolean;
  readonly dontUnmap: boolean;
  /** get_unmapped_area(file, 0, len, …): where a MREMAP_MAYMOVE grow goes (the caller's allocator). */
  readonly unmappedArea: (pages: number, vma: Vma) => number;
}

/** 0 or -errno, and where the mapping now starts (the fixed or chosen address after a move). */
export interface MremapResult {
  readonly rc: number;
  readonly addr: number;
}

/**
 * mremap in the kernel's order of checks. MREMAP_FIXED unmaps the target first, so on 6.12 a
 * call that then fails (-EFAULT: the old range goes past its VMA) has still unmapped it; mainline
 * checks the VMA first. Mainline moves a move-only range of several VMAs (remap_move), the gaps
 * between them kept; an error part way leaves the VMAs moved before it moved.
 */
export function* doMremap(sim: Machine, mm: Mm, req: MremapRequest, name: string): KernelWork<MremapResult> {
  const fail = (rc: number): MremapResult => ({ rc, addr: req.old });
  // sys_mremap / check_mremap_params: DONTUNMAP is always a move, never a resize.
  if (req.dontUnmap && req.oldPages !== req.newPages) return fail(-EINVAL);
  const target = req.fixedTo === undefined ? '' : ` → 0x${(req.fixedTo * PAGE_SIZE).toString(16)}`;
  const size = req.oldPages === req.newPages ? '' : ` ${req.oldPages} → ${req.newPages} pages`;
  yield pushFrame(sim.kstack, {
    name: 'mremap',
    detail: `${sim.describeRange(req.old, req.old + req.oldPages)}${target}${size}${req.mayMove && req.fixedTo === undefined ? ' MAYMOVE' : ''}${req.dontUnmap ? ' DONTUNMAP' : ''}`,
  });
  try {
    return sim.profile.mremapMultiVma ? yield* mainlineMremap(sim, mm, req, name) : yield* mremap612(sim, mm, req, name);
  } finally {
    sim.kstack.pop();
  }
}

/** Lengths after is_vm_hugetlb_page's ALIGN to the huge page size; undefined: -EINVAL (alignment, or a grow). */
function alignHugetlb(vma: Vma, req: MremapRequest): { oldLen: number; newLen: number } | undefined {
  if (!vma.isHugetlb) return { oldLen: req.oldPages, newLen: req.newPages };
  const oldLen = hugePagesOf(req.oldPages) * HPAGE_PMD_NR;
  const newLen = hugePagesOf(req.newPages) * HPAGE_PMD_NR;
  if (req.old % HPAGE_PMD_NR !== 0 || (req.fixedTo ?? 0) % HPAGE_PMD_NR !== 0) return undefined; // addrs must be huge page aligned
  if (newLen > oldLen) return undefined; // no remap expansion of hugetlb
  return { oldLen, newLen };
}

/** The old and new ranges overlap (mremap_to / check_mremap_params: -EINVAL). */
function overlaps(old: number, oldLen: number, to: number, newLen: number): boolean {
  return old + oldLen > to && to + newLen > old;
}

/**
 * vma_to_resize (6.12) / check_prep_vma (mainline): [addr, addr+oldLen), the part that moves or
 * grows, must lie in `vma`. Hugetlb VMAs are VM_DONTEXPAND: no DONTUNMAP (a grow was refused
 * before, with the hugetlb alignment). 0 or -errno.
 */
function checkResize(vma: Vma, addr: number, oldLen: number, dontUnmap: boolean): number {
  if (dontUnmap && vma.isHugetlb) return -EINVAL;
  if (oldLen > vma.end - addr) return -EFAULT; // "We can't remap across vm area boundaries"
  return 0;
}

/** Linux 6.12's sys_mremap. */
function* mremap612(sim: Machine, mm: Mm, req: MremapRequest, name: string): KernelWork<MremapResult> {
  const fail = (rc: number): MremapResult => ({ rc, addr: req.old });
  const vma = mm.vmas.find(req.old);
  if (vma === undefined) return fail(-EFAULT); // vma_lookup(addr): no gap at the start of the range
  const lens = alignHugetlb(vma, req);
  if (lens === undefined) return fail(-EINVAL);
  const { oldLen, newLen } = lens;
  const old = req.old;
  if (req.fixedTo !== undefined) {
    // mremap_to.
    const to = req.fixedTo;
    if (to + newLen > TASK_SIZE_VPN) return fail(-EINVAL);
    if (overlaps(old, oldLen, to, newLen)) return fail(-EINVAL);
    let rc = yield* doMunmap(sim, mm, to, to + newLen);
    if (rc) return fail(rc);
    rc = yield* shrinkAndMove(sim, mm, old, oldLen, newLen, to, req.dontUnmap, name, true);
    return rc ? fail(rc) : { rc: 0, addr: to };
  }
  if (oldLen >= newLen) {
    // Always allow a shrinking remap: that just unmaps the tail (across VMAs too).
    if (oldLen === newLen) return { rc: 0, addr: old };
    const rc = yield* doMunmap(sim, mm, old + newLen, old + oldLen);
    return rc ? fail(rc) : { rc: 0, addr: old };
  }
  const rc = checkResize(vma, old, oldLen, false);
  if (rc) return fail(rc);
  return yield* growVma(sim, mm, vma, req, oldLen, newLen, name);
}

/**
 * mremap_to once the target is unmapped: a shrinking move unmaps the old range's tail first, then
 * the rest moves. `checkHere`: 6.12 runs vma_to_resize's checks only now (mainline before).
 */
function* shrinkAndMove(sim: Machine, mm: Mm, old: number, oldLen: number, newLen: number, to: number, dontUnmap: boolean, name: string,
  checkHere: boolean): KernelWork<number> {
  if (oldLen > newLen) {
    const rc = yield* doMunmap(sim, mm, old + newLen, old + oldLen);
    if (rc) return rc;
    oldLen = newLen;
  }
  const v = mm.vmas.find(old);
  if (v === undefined) return -EFAULT;
  const rc = checkHere ? checkResize(v, old, oldLen, dontUnmap) : 0;
  return rc || (yield* moveVma(sim, mm, v, old, oldLen, newLen, to, to, dontUnmap, name));
}

/** Mainline's do_mremap (v6.17). */
function* mainlineMremap(sim: Machine, mm: Mm, req: MremapRequest, name: string): KernelWork<MremapResult> {
  const fail = (rc: number): MremapResult => ({ rc, addr: req.old });
  const old = req.old;
  if (req.fixedTo !== undefined) {
    // check_mremap_params, before the VMA is looked up: page lengths, not huge page ones.
    if (req.fixedTo + req.newPages > TASK_SIZE_VPN) return fail(-EINVAL);
    if (overlaps(old, req.oldPages, req.fixedTo, req.newPages)) return fail(-EINVAL);
    if (req.oldPages === req.newPages) return yield* remapMove(sim, mm, req, name);
  }
  const vma = mm.vmas.find(old);
  if (vma === undefined) return fail(-EFAULT);
  const lens = alignHugetlb(vma, req);
  if (lens === undefined) return fail(-EINVAL);
  const { oldLen, newLen } = lens;
  // check_prep_vma: only a grow or a move maps anything new; a shrink may cross VMA boundaries.
  if (newLen > oldLen || req.fixedTo !== undefined) {
    const rc = checkResize(vma, old, Math.min(oldLen, newLen), req.dontUnmap);
    if (rc) return fail(rc);
  }
  if (req.fixedTo !== undefined) {
    // mremap_to.
    const to = req.fixedTo;
    let rc = yield* doMunmap(sim, mm, to, to + newLen);
    if (rc) return fail(rc);
    if (mm.vmas.find(old) === undefined) return fail(-EFAULT);
    rc = yield* shrinkAndMove(sim, mm, old, oldLen, newLen, to, req.dontUnmap, name, false);
    return rc ? fail(rc) : { rc: 0, addr: to };
  }
  // mremap_at.
  if (oldLen === newLen) return { rc: 0, addr: old };
  if (oldLen > newLen) {
    const rc = yield* doMunmap(sim, mm, old + newLen, old + oldLen);
    return rc ? fail(rc) : { rc: 0, addr: old };
  }
  return yield* growVma(sim, mm, vma, req, oldLen, newLen, name);
}

/**
 * remap_move: each VMA of [old, old+len) moves in turn to the target plus its distance from the
 * previous one; no gap at the start. Every piece is checked (check_prep_vma) before its target
 * is unmapped.
 */
function* remapMove(sim: Machine, mm: Mm, req: MremapRequest, name: string): KernelWork<MremapResult> {
  const to = req.fixedTo!;
  const end = req.old + req.oldPages;
  const pieces = mm.vmas.intersecting(req.old, end).map((v) => ({ start: v.start, end: v.end }));
  if (pieces.length === 0 || pieces[0]!.start > req.old) return { rc: -EFAULT, addr: req.old };
  let target = to;
  let lastEnd = 0;
  for (const [k, p] of pieces.entries()) {
    const addr = Math.max(p.start, req.old);
    const n = Math.min(end, p.end) - addr;
    const offset = k === 0 ? 0 : p.start - lastEnd;
    lastEnd = p.end;
    const dest = target + offset;
    const vma = mm.vmas.find(addr);
    if (vma === undefined) return { rc: -EFAULT, addr: req.old };
    const lens = alignHugetlb(vma, { ...req, old: addr, oldPages: n, newPages: n, fixedTo: dest });
    if (lens === undefined) return { rc: -EINVAL, addr: req.old };
    let rc = checkResize(vma, addr, lens.oldLen, req.dontUnmap);
    if (rc) return { rc, addr: req.old };
    rc = yield* doMunmap(sim, mm, dest, dest + lens.newLen);
    if (rc) return { rc, addr: req.old };
    const v = mm.vmas.find(addr);
    if (v === undefined) return { rc: -EFAULT, addr: req.old };
    rc = yield* moveVma(sim, mm, v, addr, lens.oldLen, lens.newLen, dest, to, req.dontUnmap, name);
    if (rc) return { rc, addr: req.old };
    target = dest + lens.newLen;
  }
  return { rc: 0, addr: to };
}

/**
 * A grow without MREMAP_FIXED: in place when [old, old+oldLen) reaches its VMA's end and nothing
 * is mapped after it (vma_expandable; vma_merge_extend then merges with a compatible next VMA),
 * else moved with MREMAP_MAYMOVE to where get_unmapped_area finds room, else -ENOMEM.
 */
function* growVma(sim: Machine, mm: Mm, vma: Vma, req: MremapRequest, oldLen: number, newLen: number, name: string): KernelWork<MremapResult> {
  const old = req.old;
  const delta = newLen - oldLen;
  if (old + oldLen === vma.end && vma.end + delta <= TASK_SIZE_VPN && mm.vmas.intersecting(vma.end, vma.end + delta).length === 0) {
    // vma_merge_extend (vma_merge_new_range) merges nothing VM_SPECIAL: a device file's mapping
    // cannot grow in place, and then does not move either.
    if (vma.isMixedMap) return { rc: -ENOMEM, addr: old };
    const from = vma.end;
    // vma_expand: vma_prepare/vma_complete take the VMA out of its rmap trees and put it back.
    vma.end += delta;
    vma.reinsert();
    mm.vmas.mergeNext(vma, !sim.profile.mergeFaultedIntoUnfaulted);
    sim.emit(mm.name, from, from + delta, { kind: 'pte', what: `mremap grows ${sim.describeRange(old, old + oldLen)} in place` });
    return { rc: 0, addr: old };
  }
  if (!req.mayMove) return { rc: -ENOMEM, addr: old };
  const to = req.unmappedArea(newLen, vma);
  const rc = yield* moveVma(sim, mm, vma, old, oldLen, newLen, to, to, false, name);
  return rc ? { rc, addr: old } : { rc: 0, addr: to };
}

/**
 * move_vma for [old, old+oldLen) of `vma` → [to, to+newLen): copy_vma (the new VMA, of the new
 * length), move_page_tables (the old length), then the old range unmapped or, with DONTUNMAP,
 * left empty. `mapStart` is where the new binding starts.
 */
function* moveVma(sim: Machine, mm: Mm, vma: Vma, old: number, oldLen: number, newLen: number, to: number, mapStart: number,
  dontUnmap: boolean, name: string): KernelWork<number> {
  // copy_vma: an anonymous VMA never faulted takes the new address as its offset; one faulted
  // keeps its pages' offsets. It merges with a neighbour that is compatible (vma_merge_new_range),
  // but with DONTUNMAP never with the source VMA itself, which stays (keep_source; only an
  // unfaulted one could merge with it, its offset being reset to the new address).
  const anonPgoff = vma.anonVma ? vma.anonPgoffDelta + old - to : 0;
  const moved = new Vma(to, to + newLen, vma.flags, name, mapStart, vma.object, vma.pgoffDelta + old - to, vma.anonVma,
    vma.hugetlbResv, vma.deviceFile, anonPgoff, vma.lineage);
  // anon_vma_clone: the same anon_vma and chain.
  moved.forkedAnonVma = vma.forkedAnonVma;
  moved.forkChain = vma.forkChain;
  mm.vmas.insert(moved);
  mm.vmas.mergeAround(moved, !sim.profile.mergeFaultedIntoUnfaulted, dontUnmap ? vma : undefined);
  yield* movePageTables(sim, mm, vma, old, to, oldLen);
  // clear_vma_resv_huge_pages: the reservation now belongs to the new VMA only.
  if (vma.isHugetlb) vma.hugetlbResv = undefined;
  sim.emit(mm.name, to, to + newLen, { kind: 'pte', what: `mremap from ${sim.describeRange(old, old + oldLen)}${dontUnmap ? ' (old range kept, empty)' : ''}` });
  if (dontUnmap) {
    // The old VMA stays, empty; moved whole, it drops its anon_vma (unlink_anon_vmas) and its
    // offset becomes its address, as an unfaulted VMA's is.
    if (vma.start === old && vma.end === old + oldLen) {
      vma.dropAnonVma();
      vma.anonPgoffDelta = 0;
    }
    return 0;
  }
  return yield* doMunmap(sim, mm, old, old + oldLen);
}

/**
 * move_page_tables: MMU_NOTIFY_UNMAP over the old range (CLEAR for hugetlb), then every entry
 * moves. A PMD-level entry moves whole when the extent is a full PMD on both sides
 * (move_huge_pmd); otherwise split_huge_pmd first (the model splits before the UNMAP notifier
 * starts rather than inside it). PMD realignment (try_realign_addr), which only widens the
 * notifier's range, is not modelled.
 */
function* movePageTables(sim: Machine, mm: Mm, vma: Vma, old: number, to: number, len: number): KernelWork<void> {
  const wholePmd = (h: number): boolean => h >= old && h + HPAGE_PMD_NR <= old + len && (to + h - old) % HPAGE_PMD_NR === 0;
  if (!vma.isHugetlb) {
    for (let h = old - (old % HPAGE_PMD_NR); h < old + len; h += HPAGE_PMD_NR) {
      const t = mm.pt.lookup(h);
      // A THP fork shared is still PMD-mapped on Linux (forkSplit): split_huge_pmd splits that
      // PMD (CLEAR; the folio stays large), so its pages no longer count as PMD-mapped later.
      if (t !== undefined && (t.pmd || t.forkSplit) && !wholePmd(h)) yield* splitHugePmd(sim, mm, Math.max(h, old));
    }
  }
  const event = vma.isHugetlb ? MmuNotifyEvent.CLEAR : MmuNotifyEvent.UNMAP;
  const range = { mm, start: old, end: old + len, event, owner: null, blockable: true };
  yield* mmuNotifierInvalidate(sim, range, () => {
    for (let h = old - (old % HPAGE_PMD_NR); h < old + len; h += HPAGE_PMD_NR) {
      const t = mm.pt.lookup(h);
      if (t === undefined || pmdNone(t)) continue; // get_old_pmd: nothing to move
      if (t.pmd) {
        moveEntries(mm, h, to + h - old, PTRS_PER_PTE);
        mm.pt.lookup(to + h - old)!.setPmd(true);
        t.clearPmd();
        continue;
      }
      if (t.forkSplit) {
        // move_huge_pmd: Linux's PMD moves whole; the model's PTE-mapped copy of it moves with
        // the mark that Linux still has a PMD there.
        moveEntries(mm, h, to + h - old, PTRS_PER_PTE);
        const dst = mm.pt.alloc(to + h - old);
        dst.setPmd(false);
        dst.forkSplit = true;
        t.clearPmd();
        t.forkSplit = false;
        continue;
      }
      const s = Math.max(h, old);
      const e = Math.min(h + HPAGE_PMD_NR, old + len);
      // pte_alloc at the destination (move_ptes), even for a PTE page of none entries, in every
      // destination PMD the extents reach (an extent ends at the next PMD boundary of either
      // side: seed 71005, a PTE page in the next block kept a later fault from mapping a THP);
      // a whole PMD extent onto a none PMD moves the PTE page itself (move_normal_pmd).
      const whole = wholePmd(h) && pmdNone(mm.pt.lookup(to + h - old));
      moveEntries(mm, s, to + s - old, e - s);
      for (let d = to + s - old; d < to + e - old; d = d - (d % HPAGE_PMD_NR) + HPAGE_PMD_NR) mm.pt.alloc(d).ptePage = true;
      if (whole) t.clearPmd();
    }
  });
}

/**
 * move_ptes for [from, from+n) → [dest, dest+n): each entry and its expectation. The pages keep
 * their index; the new VMA's offset (copy_vma) maps it at the new address (vmaAddress.ts).
 */
function moveEntries(mm: Mm, from: number, dest: number, n: number): void {
  for (let k = 0; k < n; k++) {
    const src = mm.pt.lookup(from + k);
    if (src === undefined) continue;
    const i = pteIndex(from + k);
    const kind = src.kind[i] as Pte;
    if (kind === Pte.NONE) continue;
    const pfn = src.pfn[i]!;
    const bits = src.bits[i]!;
    const id = src.expectId[i]!;
    const page = src.expectPage[i]!;
    mm.pt.clear(from + k);
    mm.pt.set(dest + k, kind, pfn, bits);
    const dst = mm.pt.lookup(dest + k)!;
    const j = pteIndex(dest + k);
    dst.expectId[j] = id;
    dst.expectPage[j] = page;
  }
}
