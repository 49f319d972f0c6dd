// Layer: simulator (src/hmm). Imports sibling mechanism modules and types of the world.
// mm/gup.c: get_user_pages / pin_user_pages for one page (FOLL_WRITE, FOLL_PIN, FOLL_LONGTERM,
// FOLL_SPLIT_PMD), and unpin_user_page.

import { EFAULT, ENOMEM, VM_FAULT_ERROR, VM_FAULT_OOM } from './constants';
import { handleMmFault, splitHugePmd } from './memory';
import { migrateDeviceRange } from './migrateDevice';
import type { Mm } from './mm';
import { Zone } from './page';
import { Pte, PTE_WRITE, pteIndex } from './pgtable';
import type { Simulator } from './simulator';
import type { Step } from './step';
import { VM_READ, VM_WRITE } from './vma';

export interface GupFlags {
  readonly write: boolean;
  readonly splitPmd?: boolean;
}

/** Fault the page in as GUP does (follow_page, else handle_mm_fault) and return its pfn or -errno. */
export function* gupFaultIn(sim: Simulator, mm: Mm, vpn: number, flags: GupFlags): Step<number> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const vma = mm.vmas.find(vpn);
    if (vma === undefined || (vma.flags & VM_READ) === 0 || (flags.write && (vma.flags & VM_WRITE) === 0)) return -EFAULT;
    const t = mm.pt.lookup(vpn);
    const s = pteIndex(vpn);
    if (t !== undefined && t.kind[s] === Pte.PRESENT && (!flags.write || (t.bits[s]! & PTE_WRITE) !== 0)) {
      if (flags.splitPmd && t.pmd) {
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
export function* pinUserPage(sim: Simulator, mm: Mm, vpn: number, longterm: boolean): Step<number> {
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
  sim.getPage(head);
  return pfn;
}

/** unpin_user_page. */
export function unpinUserPage(sim: Simulator, pfn: number): void {
  const head = sim.frames.head(pfn);
  if (sim.frames.pincount.get(head) <= 0) throw new Error(`unpin of a page that is not pinned (pfn ${pfn})`);
  sim.frames.pincount.add(head, -1);
  sim.putPage(head);
}
