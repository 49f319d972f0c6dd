// mm/gup.c: get_user_pages / pin_user_pages for one page (FOLL_WRITE, FOLL_PIN, FOLL_LONGTERM,
// FOLL_SPLIT_PMD), and unpin_user_page.

import { EBUSY, EFAULT, EINVAL, ENOMEM, VM_FAULT_ERROR, VM_FAULT_OOM } from './constants';
import type { Machine } from './machine';
import { handleMmFault, splitHugePmd } from './memory';
import { type MigrateMachine, migrateDeviceRange } from './migrateDevice';
import type { Mm } from './mm';
import { Zone } from './page';
import { pageState } from './pagemap';
import { Pte, PTE_WRITE, pteIndex } from './pgtable';
import type { KernelWork } from './kernelWork';
import { getPage, putPage } from './swap';
import { VM_READ, VM_WRITE } from './vma';

export interface GupFlags {
  readonly write: boolean;
  readonly splitPmd?: boolean;
}

/** Fault the page in as GUP does (follow_page, else handle_mm_fault) and return its pfn or -errno. */
export function* gupFaultIn(sim: Machine, mm: Mm, vpn: number, flags: GupFlags): KernelWork<number> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const vma = mm.vmas.find(vpn);
    if (vma === undefined || (vma.flags & VM_READ) === 0 || (flags.write && (vma.flags & VM_WRITE) === 0)) return -EFAULT;
    const t = mm.pt.lookup(vpn);
    const s = pteIndex(vpn);
    if (t !== undefined && t.kind[s] === Pte.PRESENT && (!flags.write || (t.bits[s]! & PTE_WRITE) !== 0)) {
      if (flags.splitPmd && (t.pmd || t.forkSplit) && !vma.isHugetlb) {
        yield* splitHugePmd(sim, mm, vpn);
        continue;
      }
      return t.pfn[s]!;
    }
    sim.stats.cpuFaults++;
    const r = yield* handleMmFault(sim, mm, vpn, { write: flags.write, remote: true });
    if (r & VM_FAULT_OOM) return -ENOMEM;
    if (r & VM_FAULT_ERROR) return -EFAULT;
  }
  return -EFAULT;
}

/**
 * pin_user_pages(FOLL_WRITE | FOLL_PIN [| FOLL_LONGTERM]) for one page. A long-term pin may not
 * hold a device-coherent page: it is migrated to system memory first.
 */
export function* pinUserPage(sim: MigrateMachine, mm: Mm, vpn: number, longterm: boolean): KernelWork<number> {
  let pfn = yield* gupFaultIn(sim, mm, vpn, { write: true });
  if (pfn < 0) return pfn;
  const f = sim.frames;
  if (longterm && f.zone.get(pfn) === Zone.DEVICE_COHERENT) {
    const dev = sim.deviceOfPfn(pfn);
    yield* migrateDeviceRange(sim, dev, [f.head(pfn)], 'longterm-pin');
    pfn = yield* gupFaultIn(sim, mm, vpn, { write: true });
    if (pfn < 0) return pfn;
    // migrate_longterm_unpinnable_folios: a page migrate_device_coherent_folio could not move
    // (an extra reference: Device.leakedRefs) fails the whole pin.
    if (f.zone.get(pfn) === Zone.DEVICE_COHERENT) return -EBUSY;
  }
  // folio->_pincount and the pin's reference belong to the folio (folioHead), which lives on
  // while pinned however much of it is unmapped.
  f.pincount.add(f.folioHead(pfn), 1);
  getPage(sim, pfn);
  return pfn;
}

/** unpin_user_page. */
export function unpinUserPage(sim: Machine, pfn: number): void {
  const f = sim.frames;
  const holder = f.folioHead(pfn);
  if (f.pincount.get(holder) <= 0) throw new Error(`unpin of a page that is not pinned (pfn ${pfn})`);
  f.pincount.add(holder, -1);
  putPage(sim, pfn);
}

/**
 * pin_user_pages over [start, end) as gup_test does it: on a failure the pages already pinned
 * are released, nothing stays pinned. Returns the page that failed and why, or undefined.
 */
export function* pinUserPages(sim: MigrateMachine, mm: Mm, start: number, end: number, longterm: boolean): KernelWork<{ vpn: number; rc: number } | undefined> {
  const pfns: number[] = [];
  for (let vpn = start; vpn < end; vpn++) {
    const rc = yield* pinUserPage(sim, mm, vpn, longterm);
    pfns.push(rc);
    if (rc < 0) {
      for (let v = start; v < vpn; v++) {
        const pfn = pageState(sim, mm, v).pfn;
        if (pfn !== undefined) unpinUserPage(sim, pfn);
      }
      return { vpn, rc };
    }
  }
  mm.pins.set(pinKey(start, end), pfns);
  return undefined;
}

const pinKey = (start: number, end: number): string => `${start}:${end}`;

/**
 * unpin_user_pages over [start, end). The pages a `pin` of the same range took are released
 * whatever is mapped there now (gup_test keeps the pages, not the addresses: a munmap in
 * between does not keep them pinned). Otherwise page by page, as mapped now: -EINVAL at the
 * first page that is not pinned.
 */
export function unpinUserPages(sim: Machine, mm: Mm, start: number, end: number): { vpn: number; rc: number } | undefined {
  const held = mm.pins.get(pinKey(start, end));
  if (held !== undefined) {
    mm.pins.delete(pinKey(start, end));
    for (const pfn of held) unpinUserPage(sim, pfn);
    return undefined;
  }
  // Released page by page: a recorded range that overlaps no longer holds all its pages.
  for (const k of [...mm.pins.keys()]) {
    const [s, e] = k.split(':').map(Number) as [number, number];
    if (s < end && e > start) mm.pins.delete(k);
  }
  for (let vpn = start; vpn < end; vpn++) {
    const st = pageState(sim, mm, vpn);
    if (st.pfn === undefined || !st.pinned) return { vpn, rc: -EINVAL };
    unpinUserPage(sim, st.pfn);
  }
  return undefined;
}
