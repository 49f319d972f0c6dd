// mm/gup.c: get_user_pages / pin_user_pages for one page (FOLL_WRITE, FOLL_PIN, FOLL_LONGTERM,
// FOLL_SPLIT_PMD), and unpin_user_page.

import { EFAULT, EINVAL, ENOMEM, VM_FAULT_ERROR, VM_FAULT_OOM } from './constants';
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
  }
  const head = f.head(pfn);
  f.pincount.add(head, 1);
  getPage(sim, head);
  return pfn;
}

/** unpin_user_page. */
export function unpinUserPage(sim: Machine, pfn: number): void {
  const head = sim.frames.head(pfn);
  if (sim.frames.pincount.get(head) <= 0) throw new Error(`unpin of a page that is not pinned (pfn ${pfn})`);
  sim.frames.pincount.add(head, -1);
  putPage(sim, head);
}

/**
 * pin_user_pages over [start, end) as gup_test does it: on a failure the pages already pinned
 * are released, nothing stays pinned. Returns the page that failed and why, or undefined.
 */
export function* pinUserPages(sim: MigrateMachine, mm: Mm, start: number, end: number, longterm: boolean): KernelWork<{ vpn: number; rc: number } | undefined> {
  for (let vpn = start; vpn < end; vpn++) {
    const rc = yield* pinUserPage(sim, mm, vpn, longterm);
    if (rc < 0) {
      for (let v = start; v < vpn; v++) {
        const pfn = pageState(sim, mm, v).pfn;
        if (pfn !== undefined) unpinUserPage(sim, pfn);
      }
      return { vpn, rc };
    }
  }
  return undefined;
}

/** unpin_user_pages over [start, end): -EINVAL at the first page that is not pinned. */
export function unpinUserPages(sim: Machine, mm: Mm, start: number, end: number): { vpn: number; rc: number } | undefined {
  for (let vpn = start; vpn < end; vpn++) {
    const st = pageState(sim, mm, vpn);
    if (st.pfn === undefined || !st.pinned) return { vpn, rc: -EINVAL };
    unpinUserPage(sim, st.pfn);
  }
  return undefined;
}
