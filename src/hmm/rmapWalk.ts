// mm/rmap.c: the order in which an rmap walk (rmap_walk_anon / rmap_walk_file) visits the VMAs
// that may map a folio. Its rmap_one raises a notifier in every VMA it visits, whether that VMA
// maps the folio or not, and the walk stops as soon as the folio is mapped nowhere
// (folio_not_mapped): try_to_migrate_one's MMU_NOTIFY_CLEAR (a migration's unmap, a folio
// split's unmap_folio), 6.12's page_make_device_exclusive_one's MMU_NOTIFY_EXCLUSIVE. So a
// visited process's mirror loses its entries there even when nothing of it is unmapped (the
// migrating process's own, whose entry collect already replaced; a child that has its own copy).

import type { Machine } from './machine';
import type { Mm } from './mm';
import { PG_FILE } from './page';
import type { Vma } from './vma';
import { vmaRange, vmPgoffDelta } from './vmaAddress';

/** One VMA the walk visits: its process, and the page there (vma_address of the page's index). */
export interface RmapVisit {
  readonly mm: Mm;
  readonly vpn: number;
}

/**
 * One VMA a walk over a folio visits: its process, the VMA, and the part of it the folio's
 * offsets cover (vmaRange: `at` is where the folio's first page would be, perhaps before the
 * VMA; [start, end) is vma_address to vma_address_end).
 */
export interface FolioVisit {
  readonly mm: Mm;
  readonly vma: Vma;
  readonly at: number;
  readonly start: number;
  readonly end: number;
}

/**
 * The VMAs rmap_walk visits for the folio of `nr` pages from frame `head`, in walk order: those
 * of its anon_vma's interval tree (or the file's i_mmap) that overlap the folio's offsets,
 * whether they map it or not. `self` (a mapping of one of its pages: the process walking, and
 * where) and the other mappings known (`mappers`) are in the folio's rmap.
 *
 * The interval trees are ordered by the VMAs' start offsets, then by insertion (Vma.rmapSeq:
 * mmap, fork, a split, a merge and an in-place grow insert anew), so a child's VMA comes after
 * its parent's unless one of those re-inserted the parent's. Each VMA is visited where it maps
 * the folio's offsets (vmaAddress.ts), which after an mremap is not where `self` maps them. An
 * anonymous folio's tree is that of the anon_vma it records (PageFrames.anonVma: its first
 * VMA's, kept by migration): every VMA, in any live process, whose anon_vma_chain holds it
 * (Vma.chainsAnonVma) — the VMA it was made in, its splits and moves, and its forked copies in
 * children and grandchildren, not a parent's VMA for a folio a child made. So a walk over a
 * folio made before a fork visits the parent's VMA even where only a child still maps it. A
 * file page's tree is every VMA mapping the file at those offsets, where fork puts a child's VMA
 * right after its parent's, before the copies of earlier forks (Vma.iMmapOrder). A known
 * mapping outside the tree (none, while the frames and the VMAs agree: invariants.ts) would
 * still be visited, last.
 */
export function rmapWalkFolio(sim: Machine, head: number, nr: number, self: RmapVisit, mappers: readonly RmapVisit[] = []): FolioVisit[] {
  const known = [self, ...mappers];
  const ref = self.mm.vmas.find(self.vpn);
  if (ref === undefined) return [];
  const index = sim.frames.indexOf(head);
  const file = (sim.frames.flags.get(head) & PG_FILE) !== 0;
  const anonVma = file ? 0 : sim.frames.anonVma.get(head);
  const visits: { visit: FolioVisit; pgoff: number; order: readonly number[] }[] = [];
  const add = (mm: Mm, v: Vma): void => {
    const r = vmaRange(v, index, nr);
    if (r !== undefined) visits.push({ visit: { mm, vma: v, ...r }, pgoff: v.start + vmPgoffDelta(v), order: file ? v.iMmapOrder : [v.rmapSeq] });
  };
  for (const m of sim.mms) {
    if (!m.alive) continue;
    for (const v of m.vmas.list) {
      const inTree = file ? v.object === ref.object : v.chainsAnonVma(anonVma);
      if (inTree || known.some((k) => k.mm === m && k.vpn >= v.start && k.vpn < v.end)) add(m, v);
    }
  }
  visits.sort((a, b) => a.pgoff - b.pgoff || compareOrder(a.order, b.order));
  const out = visits.map((x) => x.visit);
  for (const k of known) {
    if (out.some((o) => o.mm === k.mm && k.vpn >= o.start && k.vpn < o.end)) continue;
    const v = k.mm.vmas.find(k.vpn);
    if (v !== undefined) out.push({ mm: k.mm, vma: v, at: k.vpn, start: k.vpn, end: k.vpn + 1 });
  }
  return out;
}

/**
 * try_to_migrate's walk for one page `pfn` (rmapWalkFolio of a base page): where each VMA it
 * visits maps the page, the known mappings (`self`, `mappers`) as given.
 */
export function rmapWalkOrder(sim: Machine, pfn: number, self: RmapVisit, mappers: readonly RmapVisit[]): RmapVisit[] {
  const known = [self, ...mappers];
  const out = rmapWalkFolio(sim, pfn, 1, self, mappers).map((v) => known.find((k) => k.mm === v.mm && k.vpn === v.start) ?? { mm: v.mm, vpn: v.start });
  for (const k of known) if (!out.includes(k)) out.push(k);
  return out;
}

/** Tree order of two Vma.iMmapOrder-like keys: element by element, a prefix first. */
function compareOrder(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
