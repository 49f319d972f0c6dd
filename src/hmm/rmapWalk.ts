// mm/rmap.c: the order in which try_to_migrate's rmap walk (rmap_walk_anon / rmap_walk_file)
// visits the VMAs that may map a page. try_to_migrate_one raises MMU_NOTIFY_CLEAR over the
// page in every VMA it visits, whether that VMA maps the page or not, and the walk stops as
// soon as the folio is mapped nowhere (folio_not_mapped). So a visited process's mirror loses
// its entry there even when the page itself is not unmapped (the migrating process's own, whose
// entry collect already replaced; a child that has its own copy).

import type { Machine } from './machine';
import type { Mm } from './mm';
import { PG_FILE } from './page';
import { vmaRange, vmPgoffDelta } from './vmaAddress';

/** Whether `m` is `root` or was forked from it (directly or not). */
function descendsFrom(m: Mm, root: Mm): boolean {
  for (let p: Mm | undefined = m; p !== undefined; p = p.parent) if (p === root) return true;
  return false;
}

/** One VMA the walk visits: its process, and the page there (vma_address of the page's index). */
export interface RmapVisit {
  readonly mm: Mm;
  readonly vpn: number;
}

/**
 * The VMAs the walk visits for page `pfn`, in walk order: `self` (the process migrating it, and
 * where) and the other mappings known (`mappers`) are in the page's rmap.
 *
 * The interval trees are ordered by the VMAs' start offsets, then by insertion (Vma.rmapSeq:
 * mmap, fork and a split insert anew), so a child's VMA comes after its parent's unless a split
 * re-inserted the parent's. Each VMA over the page's index is visited where it maps that index
 * (vmaAddress.ts), which after an mremap is not where `self` maps it. An anonymous page's
 * anon_vma is its allocator's, which the model does not record: the oldest process known to
 * map it stands for it, and its descendants' VMAs that descend from the same mmap (lineage) are
 * in the tree. A file page's tree is every VMA mapping the file at that offset. (Fork puts a
 * file VMA right after its parent's, before the VMAs of earlier children; the model puts it last.)
 */
export function rmapWalkOrder(sim: Machine, pfn: number, self: RmapVisit, mappers: readonly RmapVisit[]): RmapVisit[] {
  const known = [self, ...mappers];
  let root: Mm | undefined;
  for (const m of sim.mms) {
    if (known.some((k) => k.mm === m)) {
      root = m;
      break;
    }
  }
  const ref = self.mm.vmas.find(self.vpn);
  if (root === undefined || ref === undefined) return known;
  const index = sim.frames.indexOf(pfn);
  const file = (sim.frames.flags.get(pfn) & PG_FILE) !== 0;
  const visits: { visit: RmapVisit; pgoff: number; seq: number }[] = [];
  for (const m of sim.mms) {
    if (!m.alive) continue;
    for (const v of m.vmas.list) {
      if (v.object !== ref.object) continue;
      const r = vmaRange(v, index, 1);
      if (r === undefined) continue;
      const isKnown = known.some((k) => k.mm === m && k.vpn === r.start);
      const inTree = file || (!v.isShared && v.lineage === ref.lineage && descendsFrom(m, root));
      if (inTree || isKnown) visits.push({ visit: isKnown ? known.find((k) => k.mm === m && k.vpn === r.start)! : { mm: m, vpn: r.start }, pgoff: v.start + vmPgoffDelta(v), seq: v.rmapSeq });
    }
  }
  visits.sort((a, b) => a.pgoff - b.pgoff || a.seq - b.seq);
  const out = visits.map((x) => x.visit);
  // Anything known the approximation left out is still visited (last), as the kernel would.
  for (const k of known) if (!out.includes(k)) out.push(k);
  return out;
}
