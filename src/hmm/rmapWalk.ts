// mm/rmap.c: the order in which try_to_migrate's rmap walk (rmap_walk_anon / rmap_walk_file)
// visits the VMAs that may map a page. try_to_migrate_one raises MMU_NOTIFY_CLEAR over the
// page in every VMA it visits, whether that VMA maps the page or not, and the walk stops as
// soon as the folio is mapped nowhere (folio_not_mapped). So a visited process's mirror loses
// its entry there even when the page itself is not unmapped (the migrating process's own, whose
// entry collect already replaced; a child that has its own copy).

import type { Machine } from './machine';
import type { Mm } from './mm';
import { PG_FILE } from './page';

/** Whether `m` is `root` or was forked from it (directly or not). */
function descendsFrom(m: Mm, root: Mm): boolean {
  for (let p: Mm | undefined = m; p !== undefined; p = p.parent) if (p === root) return true;
  return false;
}

/**
 * The processes whose VMA at `vpn` the walk visits for page `pfn`, in walk order. `known` are
 * processes known to be in the page's rmap (the one migrating it, those mapping it).
 *
 * The interval trees are ordered by the VMAs' start offsets, then by insertion (Vma.rmapSeq:
 * mmap, fork and a split insert anew), so a child's VMA comes after its parent's unless a split
 * re-inserted the parent's. An anonymous page's anon_vma is its allocator's, which the model
 * does not record: the oldest known process stands for it, and its descendants whose VMA there
 * descends from the same mmap (lineage) are in the tree. A file page's tree is every VMA
 * mapping the file there. (Fork puts a file VMA right after its parent's, before the VMAs of
 * earlier children; the model puts it last.)
 */
export function rmapWalkOrder(sim: Machine, pfn: number, vpn: number, known: readonly Mm[]): Mm[] {
  let root: Mm | undefined;
  for (const m of sim.mms) {
    if (known.includes(m)) {
      root = m;
      break;
    }
  }
  const ref = root?.vmas.find(vpn);
  if (root === undefined || ref === undefined) return known.slice();
  const file = (sim.frames.flags.get(pfn) & PG_FILE) !== 0;
  const visits: { mm: Mm; pgoff: number; seq: number }[] = [];
  for (const m of sim.mms) {
    if (!m.alive) continue;
    const v = m.vmas.find(vpn);
    if (v === undefined || v.object !== ref.object) continue;
    const inTree = file ? v.pgoffDelta === ref.pgoffDelta : !v.isShared && v.lineage === ref.lineage && descendsFrom(m, root);
    if (inTree || known.includes(m)) visits.push({ mm: m, pgoff: v.start + (file ? v.pgoffDelta : v.anonPgoffDelta), seq: v.rmapSeq });
  }
  visits.sort((a, b) => a.pgoff - b.pgoff || a.seq - b.seq);
  const out = visits.map((x) => x.mm);
  // Anything known the approximation left out is still visited (last), as the kernel would.
  for (const m of known) if (!out.includes(m)) out.push(m);
  return out;
}
