// mm/rmap.c: make_device_exclusive (newest single-page API) — a present anonymous pte becomes a
// device-exclusive entry so the device may do atomics while the CPU cannot touch the page.

import { EOPNOTSUPP, MmuNotifyEvent, PTRS_PER_PTE } from './constants';
import { gupFaultIn } from './gup';
import type { Machine } from './machine';
import type { Device } from './memremap';
import type { Mm } from './mm';
import { mmuNotifierInvalidate } from './mmuNotifier';
import { PG_ANON, PG_FILE, PG_HUGETLB } from './page';
import { exclusiveMakerBits, Pte, PTE_DIRTY, PTE_WRITE, pteIndex } from './pgtable';
import { rmapWalkFolio } from './rmapWalk';
import { folioMappings } from './vmaAddress';
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
 * 6.12's folio_make_device_exclusive for the page GUP got at `vpn` of `mm` (`pfn`: a base page
 * or a large folio's head, `nr` pages): rmap_walk_anon (rmapWalk.ts's order) calls
 * page_make_device_exclusive_one on every VMA of the folio's anon_vma over its offsets, in any
 * process, whether that VMA maps the folio or not. Each raises MMU_NOTIFY_EXCLUSIVE (owner NULL:
 * every mirror drops its entries there) over [vma_address, min(vm_end, vma_address + folio
 * size)), then turns the folio's ptes there, in address order, into device-exclusive entries
 * (writable or readable as the pte was: nothing is faulted, whatever the VMA's protection) until
 * it meets one of its entries that is not present (a device-exclusive entry an earlier call
 * left), which ends the whole walk. Otherwise the walk ends once no pte maps the folio
 * (folio_not_mapped). Made only if the page was mapped writable at `vpn` (args.valid) and no page
 * of the folio is mapped any more (!folio_mapcount). A VMA MREMAP_DONTUNMAP left behind keeps
 * the moved pages' offsets and comes first; a child forked while the VMA had an anon_vma is in
 * the tree even when it never mapped the folio.
 */
export function* folioMakeDeviceExclusive(sim: Machine, mm: Mm, vpn: number, pfn: number, nr: number, madeBy: Device): KernelWork<boolean> {
  const frame = kernelFrame('folio_make_device_exclusive', () => sim.describeRange(vpn, vpn + 1));
  yield pushFrame(sim.kstack, frame);
  try {
    let valid = false;
    let stopped = false;
    for (const visit of rmapWalkFolio(sim, pfn, nr, { mm, vpn })) {
      const range = { mm: visit.mm, start: visit.start, end: Math.min(visit.vma.end, visit.start + nr), event: MmuNotifyEvent.EXCLUSIVE, owner: null, blockable: true };
      yield* mmuNotifierInvalidate(sim, range, () => {
        // page_vma_mapped_walk over [vma_address, vma_address_end): the ptes that map the folio.
        for (let v = visit.start; v < visit.end; v++) {
          const t = visit.mm.pt.lookup(v);
          // No PTE page, or a PMD mapping (GUP split the caller's; no other process maps a
          // folio whose page it could write without a copy): nothing to convert here.
          if (t === undefined || t.pmd) {
            v += PTRS_PER_PTE - 1 - pteIndex(v);
            continue;
          }
          const s = pteIndex(v);
          const kind = t.kind[s] as Pte;
          const k = t.pfn[s]! - pfn;
          if (kind === Pte.NONE || k < 0 || k >= nr) continue;
          if (kind !== Pte.PRESENT) {
            stopped = true;
            return;
          }
          const write = t.bits[s]! & PTE_WRITE;
          if (visit.mm === mm && v === vpn && write !== 0) valid = true;
          visit.mm.pt.set(v, Pte.DEVICE_EXCLUSIVE, pfn + k, write | PTE_DIRTY | exclusiveMakerBits(madeBy.index));
          sim.emit(visit.mm.name, v, v + 1, { kind: 'pte', what: 'device-exclusive' }, `excl:${visit.mm.id}`);
        }
      });
      if (stopped || !folioMapped(sim, pfn, nr)) break;
    }
    return valid && !folioMapped(sim, pfn, nr);
  } finally {
    sim.kstack.pop();
  }
}

/** folio_mapped: a present pte of the folio anywhere (6.12: a device-exclusive entry is no mapping). */
function folioMapped(sim: Machine, head: number, nr: number): boolean {
  return folioMappings(sim, head, nr, (k) => k === Pte.PRESENT).length > 0;
}
