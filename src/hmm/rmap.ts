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
 * 6.12's folio_make_device_exclusive for the rest of a large folio whose head, at `vpn`, was
 * just made exclusive: page_make_device_exclusive_one walks the folio's ptes in address order,
 * converting each present one, and stops at the first entry of the folio that is not present
 * (a device-exclusive entry an earlier call left); the folio counts as made exclusive only when
 * none of its pages is still mapped (!folio_mapcount). The model walks this mm only.
 */
export function* makeFolioRestExclusive(sim: Machine, mm: Mm, vpn: number, head: number, madeBy: Device): KernelWork<boolean> {
  for (let k = 1; k < HPAGE_PMD_NR; k++) {
    const t = mm.pt.lookup(vpn + k);
    const s = pteIndex(vpn + k);
    if (t === undefined || t.pfn[s] !== head + k) continue;
    if (t.kind[s] === Pte.DEVICE_EXCLUSIVE) break;
    if (t.kind[s] === Pte.PRESENT) yield* makeDeviceExclusive(sim, mm, vpn + k, null, madeBy);
  }
  for (let k = 0; k < HPAGE_PMD_NR; k++) {
    const t = mm.pt.lookup(vpn + k);
    const s = pteIndex(vpn + k);
    if (t !== undefined && t.kind[s] === Pte.PRESENT && t.pfn[s] === head + k) return false;
  }
  return true;
}
