// Layer: simulator (src/hmm). Imports sibling mechanism modules and types of the world.
// mm/mremap.c for mremap(old, len, len, MREMAP_MAYMOVE | MREMAP_FIXED [| MREMAP_DONTUNMAP], new):
// mremap_to, vma_to_resize, move_vma, copy_vma and move_page_tables (move_hugetlb_page_tables
// for hugetlb). Page-table entries move with their pages: present ptes, device-private and
// device-exclusive entries, a PMD-mapped THP (or a device-private PMD) whole when the move covers
// a PMD at PMD-aligned addresses on both sides, split first otherwise. The mapping keeps its size
// (the language has no growing or shrinking mremap). Mainline moves a range of several VMAs
// (remap_move); 6.12 only one (profile.ts: mremapMultiVma).

import { EFAULT, EINVAL, HPAGE_PMD_NR, MmuNotifyEvent, PAGE_SIZE, PTRS_PER_PTE, TASK_SIZE_VPN } from './constants';
import { hugePagesOf } from './hugetlb';
import { splitHugePmd } from './memory';
import type { Mm } from './mm';
import { doMunmap } from './mmap';
import { mmuNotifierInvalidate } from './mmuNotifier';
import { PG_ANON, Zone } from './page';
import { Pte, pteIndex } from './pgtable';
import type { Machine } from './machine';
import { pushFrame, type KernelWork } from './kernelWork';
import { Vma } from './vma';

/**
 * mremap of [old, old+pages) to `to` (MREMAP_FIXED), the new VMA named `name`: 0 or -errno, in
 * the kernel's order of checks. MREMAP_FIXED unmaps the target first, so a call that then fails
 * with -EFAULT (6.12: the old range goes past its VMA) has still unmapped the target. Mainline
 * (remap_move) moves each VMA of the range in turn, the gaps between them kept; an error part way
 * leaves the VMAs moved before it moved.
 */
export function* doMremap(sim: Machine, mm: Mm, old: number, pages: number, to: number, dontUnmap: boolean, name: string): KernelWork<number> {
  const first = mm.vmas.find(old);
  if (first === undefined) return -EFAULT; // vma_lookup(addr): no gap at the start of the range
  // A hugetlb length is aligned up to the huge page size.
  const len = first.isHugetlb ? hugePagesOf(pages) * HPAGE_PMD_NR : pages;
  if (to + len > TASK_SIZE_VPN) return -EINVAL;
  if (old + len > to && to + len > old) return -EINVAL; // the ranges overlap
  yield pushFrame(sim.kstack, { name: 'mremap', detail: `${sim.describeRange(old, old + len)} → 0x${(to * PAGE_SIZE).toString(16)}${dontUnmap ? ' DONTUNMAP' : ''}` });
  try {
    if (!sim.profile.mremapMultiVma) return yield* moveVma(sim, mm, old, len, to, to, dontUnmap, name);
    const pieces = mm.vmas.intersecting(old, old + len).map((v) => ({ start: v.start, end: v.end }));
    let target = to;
    let lastEnd = 0;
    for (const [k, v] of pieces.entries()) {
      const addr = Math.max(v.start, old);
      const n = Math.min(old + len, v.end) - addr;
      const offset = k === 0 ? 0 : v.start - lastEnd;
      lastEnd = v.end;
      const rc = yield* moveVma(sim, mm, addr, n, target + offset, to, dontUnmap, name);
      if (rc) return rc;
      target += offset + n;
    }
    return 0;
  } finally {
    sim.kstack.pop();
  }
}

/**
 * mremap_to for one VMA's [old, old+len) → `to`: the target unmapped, vma_to_resize's checks,
 * move_vma (copy_vma, move_page_tables, the old range unmapped or, with DONTUNMAP, left empty).
 * `mapStart` is where the new binding starts.
 */
function* moveVma(sim: Machine, mm: Mm, old: number, len: number, to: number, mapStart: number, dontUnmap: boolean, name: string): KernelWork<number> {
  const vma0 = mm.vmas.find(old)!;
  if (vma0.isHugetlb && (old % HPAGE_PMD_NR !== 0 || to % HPAGE_PMD_NR !== 0)) return -EINVAL; // addresses huge page aligned
  const rc = yield* doMunmap(sim, mm, to, to + len);
  if (rc) return rc;
  // vma_to_resize.
  const vma = mm.vmas.find(old)!;
  if (dontUnmap && vma.isHugetlb) return -EINVAL; // hugetlbfs VMAs are VM_DONTEXPAND
  if (len > vma.end - old) return -EFAULT; // "We can't remap across vm area boundaries"
  // move_vma: copy_vma, then move_page_tables.
  // copy_vma: an anonymous VMA never faulted takes the new address as its offset; one faulted
  // keeps its pages' offsets. It merges with a neighbour that is compatible (vma_merge_new_range),
  // but with DONTUNMAP never with the source VMA itself, which stays (keep_source; only an
  // unfaulted one could merge with it, its offset being reset to the new address).
  const anonPgoff = vma.anonVma ? vma.anonPgoffDelta + old - to : 0;
  const moved = new Vma(to, to + len, vma.flags, name, mapStart, vma.object, vma.pgoffDelta + old - to, vma.anonVma,
    vma.hugetlbResv, vma.deviceFile, anonPgoff, vma.lineage);
  mm.vmas.insert(moved);
  mm.vmas.mergeAround(moved, dontUnmap ? vma : undefined);
  yield* movePageTables(sim, mm, vma, old, to, len);
  // clear_vma_resv_huge_pages: the reservation now belongs to the new VMA only.
  if (vma.isHugetlb) vma.hugetlbResv = undefined;
  sim.emit(mm.name, to, to + len, { kind: 'pte', what: `mremap from ${sim.describeRange(old, old + len)}${dontUnmap ? ' (old range kept, empty)' : ''}` });
  if (dontUnmap) {
    // The old VMA stays, empty; moved whole, it drops its anon_vma (unlink_anon_vmas) and its
    // offset becomes its address, as an unfaulted VMA's is.
    if (vma.start === old && vma.end === old + len) {
      vma.anonVma = false;
      vma.anonPgoffDelta = 0;
    }
    return 0;
  }
  return yield* doMunmap(sim, mm, old, old + len);
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
      if (t !== undefined && t.pmd && !wholePmd(h)) yield* splitHugePmd(sim, mm, Math.max(h, old));
    }
  }
  const event = vma.isHugetlb ? MmuNotifyEvent.CLEAR : MmuNotifyEvent.UNMAP;
  const range = { mm, start: old, end: old + len, event, owner: null, blockable: true };
  yield* mmuNotifierInvalidate(sim, range, () => {
    for (let h = old - (old % HPAGE_PMD_NR); h < old + len; h += HPAGE_PMD_NR) {
      const t = mm.pt.lookup(h);
      if (t === undefined || t.used === 0) continue;
      if (t.pmd) {
        moveEntries(sim, mm, h, to + h - old, PTRS_PER_PTE);
        mm.pt.lookup(to + h - old)!.pmd = true;
        t.pmd = false;
        continue;
      }
      const s = Math.max(h, old);
      const e = Math.min(h + HPAGE_PMD_NR, old + len);
      moveEntries(sim, mm, s, to + s - old, e - s);
    }
  });
}

/** move_ptes for [from, from+n) → [dest, dest+n): each entry, its expectation and its page's index. */
function moveEntries(sim: Machine, mm: Mm, from: number, dest: number, n: number): void {
  const f = sim.frames;
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
    // page->index follows in the model (rmap finds a page at its index); the kernel keeps the
    // index and adjusts vm_pgoff instead. Done only for pages this process alone maps.
    const zone = f.zone.get(pfn) as Zone;
    const anonOrDevice = (f.flags.get(pfn) & PG_ANON) !== 0 || zone === Zone.DEVICE_PRIVATE || zone === Zone.DEVICE_COHERENT;
    if (anonOrDevice && f.head(pfn) === pfn && f.mapcount.get(pfn) === 1) f.setIndex(pfn, dest + k);
  }
}
