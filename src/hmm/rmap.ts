// mm/rmap.c: make_device_exclusive (newest single-page API) — a present anonymous pte becomes a
// device-exclusive entry so the device may do atomics while the CPU cannot touch the page.

import { EOPNOTSUPP, HPAGE_PMD_NR, MmuNotifyEvent } from './constants';
import { gupFaultIn } from './gup';
import type { Machine } from './machine';
import type { Device } from './memremap';
import type { Mm } from './mm';
import { mmuNotifierInvalidate } from './mmuNotifier';
import { PG_ANON, PG_FILE, PG_HUGETLB } from './page';
import { exclusiveMakerBits, Pte, PTE_DIRTY, PTE_WRITE, pteIndex } from './pgtable';
import { rmapWalkOrder } from './rmapWalk';
import { folioMappings, vmPgoffDelta } from './vmaAddress';
import { kernelFrame, pushFrame, type KernelWork } from './kernelWork';
import { VM_WRITE } from './vma';

/**
 * make_device_exclusive(mm, addr, owner): the page's pfn, or -errno. `madeBy` is recorded in the
 * entry (the kernel keeps no such field; the script's `is exclusive DEV` names it).
 */
export function* makeDeviceExclusive(sim: Machine, mm: Mm, vpn: number, owner: Device | null, madeBy: Device): KernelWork<number> {
  const frame = kernelFrame('make_device_exclusive', () => sim.describeRange(vpn, vpn + 1));
  yield pushFrame(sim.kstack, frame);
  try {
    // A hugetlb folio is refused; GUP's FOLL_SPLIT_PMD leaves the huge page as it found it
    // (seen on 6.12, assumed the same here).
    const hv = mm.vmas.find(vpn);
    if (hv !== undefined && hv.isHugetlb && (hv.flags & VM_WRITE) !== 0) return -EOPNOTSUPP;
    for (let attempt = 0; attempt < 8; attempt++) {
      // GUP with FOLL_WRITE | FOLL_SPLIT_PMD write-faults the page in (undoing an older exclusive entry).
      const pfn = yield* gupFaultIn(sim, mm, vpn, { write: true, splitPmd: true });
      if (pfn < 0) return pfn;
      const flags = sim.frames.flags.get(pfn);
      // make_device_exclusive: anonymous folios only, and not hugetlb ones.
      if ((flags & PG_ANON) === 0 || (flags & (PG_FILE | PG_HUGETLB)) !== 0) return -EOPNOTSUPP;
      let done = false;
      const range = { mm, start: vpn, end: vpn + 1, event: MmuNotifyEvent.EXCLUSIVE, owner, blockable: true };
      yield* mmuNotifierInvalidate(sim, range, () => {
        const t = mm.pt.lookup(vpn);
        const s = pteIndex(vpn);
        // Re-check that the same page is still mapped writable; else retry.
        if (t === undefined || t.kind[s] !== Pte.PRESENT || t.pfn[s] !== pfn || (t.bits[s]! & PTE_WRITE) === 0) return;
        mm.pt.set(vpn, Pte.DEVICE_EXCLUSIVE, pfn, PTE_WRITE | PTE_DIRTY | exclusiveMakerBits(madeBy.index));
        done = true;
      });
      if (done) {
        sim.emit(mm.name, vpn, vpn + 1, { kind: 'pte', what: 'device-exclusive' }, `excl:${mm.id}`);
        return pfn;
      }
    }
    return -EOPNOTSUPP;
  } finally {
    sim.kstack.pop();
  }
}

/**
 * 6.12's folio_make_device_exclusive walks the page's rmap (rmap_walk_anon, in rmapWalk.ts's
 * order) and page_make_device_exclusive_one raises MMU_NOTIFY_EXCLUSIVE (owner NULL: every
 * mirror drops its entries there) in each VMA it visits, whether that VMA maps the page or not.
 * This is the part before the walk reaches `mm`'s VMA at `vpn`, which maps the page (`pfn`, a
 * folio of `nr` pages): a VMA that MREMAP_DONTUNMAP left behind keeps the moved pages' offsets
 * and comes first, so it is notified where it would map them (seen in the VM: a mirror entry the
 * same call had stored there is gone, and the final read answers -ENOENT). After `mm`'s VMA the
 * page is mapped nowhere (GUP's write fault made it exclusive), and the walk ends.
 */
export function* exclusiveRmapWalkBefore(sim: Machine, mm: Mm, vpn: number, pfn: number, nr: number): KernelWork<void> {
  for (const visit of rmapWalkOrder(sim, pfn, { mm, vpn }, [])) {
    if (visit.mm === mm && visit.vpn === vpn) return;
    const v = visit.mm.vmas.find(visit.vpn)!;
    const range = { mm: visit.mm, start: visit.vpn, end: Math.min(v.end, visit.vpn + nr), event: MmuNotifyEvent.EXCLUSIVE, owner: null, blockable: true };
    yield* mmuNotifierInvalidate(sim, range, () => {});
  }
}

/**
 * 6.12's folio_make_device_exclusive for the rest of a large folio whose head, at `vpn`, was
 * just made exclusive: page_make_device_exclusive_one walks each VMA's ptes of the folio (where
 * the VMA's offset puts them: vmaAddress.ts) in address order, VMAs in the walk's order,
 * converting each present one, and the walk ends at the first entry of the folio that is not
 * present (a device-exclusive entry an earlier call left); the folio counts as made exclusive
 * only when none of its pages is still mapped (!folio_mapcount). The model walks this mm only.
 */
export function* makeFolioRestExclusive(sim: Machine, mm: Mm, vpn: number, head: number, madeBy: Device): KernelWork<boolean> {
  const maps = folioMappings(sim, head, HPAGE_PMD_NR, isPresentOrExclusive).filter((m) => m.mm === mm);
  maps.sort((a, b) => a.vma.start + vmPgoffDelta(a.vma) - (b.vma.start + vmPgoffDelta(b.vma)) || a.vma.rmapSeq - b.vma.rmapSeq);
  walk: for (const m of maps) {
    for (let v = m.start; v < m.end; v++) {
      if (v === vpn) continue; // the head, converted first
      const t = mm.pt.lookup(v);
      const s = pteIndex(v);
      if (t === undefined || t.pfn[s]! - head < 0 || t.pfn[s]! - head >= HPAGE_PMD_NR) continue;
      if (t.kind[s] === Pte.DEVICE_EXCLUSIVE) break walk;
      if (t.kind[s] === Pte.PRESENT) yield* makeDeviceExclusive(sim, mm, v, null, madeBy);
    }
  }
  return folioMappings(sim, head, HPAGE_PMD_NR, (k) => k === Pte.PRESENT).every((m) => m.mm !== mm);
}

const isPresentOrExclusive = (k: Pte): boolean => k === Pte.PRESENT || k === Pte.DEVICE_EXCLUSIVE;
