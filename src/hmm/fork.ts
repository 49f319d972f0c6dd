// kernel/fork.c dup_mmap + mm/memory.c copy_page_range / copy_present_ptes / copy_nonpresent_pte:
// what fork does to CPU pages, COW, device-private and device-exclusive entries.

import { MmuNotifyEvent, PTRS_PER_PTE } from './constants';
import { copyHugetlbPageRange } from './hugetlb';
import type { Machine } from './machine';
import { Mm } from './mm';
import { mmuNotifierInvalidate } from './mmuNotifier';
import { PG_ANON, PG_ANON_EXCLUSIVE, Zone } from './page';
import { pmdNone, Pte, PTE_DIRTY, PTE_WRITE, type PteTable, setExpected } from './pgtable';
import { pushFrame, type KernelWork } from './kernelWork';
import { getPage } from './swap';
import type { Vma } from './vma';

/** fork(): a child mm with copies of the VMAs and, where needed, of the page tables. */
export function* forkMm(sim: Machine, parent: Mm, child: Mm): KernelWork<void> {
  yield pushFrame(sim.kstack, { name: 'fork', detail: `${parent.name} → ${child.name}` });
  try {
    child.vmas = parent.vmas.clone();
    // dup_mmap links each child VMA into the rmap trees after the parent's (i_mmap: right after
    // it), one at a time: a VMA's anon_vma_fork sees what the child's VMAs before it took.
    const mms = sim.mms.filter((m) => m.alive && m !== child);
    mms.push(child);
    for (const v of child.vmas.list) {
      v.insertForked(v.iMmapOrder);
      v.forkAnonVma((id) => anonVmaReusable(mms, id));
    }
    for (const [n, vma] of parent.vmas.list.entries()) {
      if (vma.isHugetlb) {
        if (vma.anonVma) yield* copyHugetlbPageRange(sim, parent, child, vma, child.vmas.list[n]!);
        else child.vmas.list[n]!.hugetlbResv = undefined;
        continue;
      }
      // vma_needs_copy: VMAs with anonymous pages, and VM_MIXEDMAP ones (nothing to refault
      // from); other shared ones refault in the child.
      if (vma.isMixedMap && vma.isShared) {
        copyPageRange(sim, parent, child, vma);
        continue;
      }
      if ((!vma.anonVma && !vma.isMixedMap) || vma.isShared) continue;
      if (vma.isCow) {
        const range = { mm: parent, start: vma.start, end: vma.end, event: MmuNotifyEvent.PROTECTION_PAGE, owner: null, blockable: true };
        yield* mmuNotifierInvalidate(sim, range, () => {
          copyPageRange(sim, parent, child, vma);
        });
      } else {
        copyPageRange(sim, parent, child, vma);
      }
    }
    sim.emit(parent.name, 0, 0, { kind: 'process', what: 'fork', child: child.name });
  } finally {
    sim.kstack.pop();
  }
}

/**
 * anon_vma_clone's test for reusing anon_vma `id` (not a root) of a parent VMA's chain: no VMA
 * of the live processes `mms` has it as its own (num_active_vmas), and fewer than two anon_vmas
 * whose trees still hold a VMA have it as parent (num_children: unlink_anon_vmas counts one
 * off when its tree empties). The child's VMAs not linked yet still read as their parent's,
 * which changes neither count.
 */
function anonVmaReusable(mms: readonly Mm[], id: number): boolean {
  const children = new Set<number>();
  for (const m of mms) {
    for (const v of m.vmas.list) {
      if (v.anonVmaId === id) return false;
      for (const e of v.forkChain) if (e.parent === id) children.add(e.id);
    }
  }
  return children.size < 2;
}

function copyPageRange(sim: Machine, parent: Mm, child: Mm, vma: Vma): void {
  const f = sim.frames;
  for (const [idx, src] of parent.pt.tables) {
    const base = idx * PTRS_PER_PTE;
    if (base + PTRS_PER_PTE <= vma.start || base >= vma.end || pmdNone(src)) continue;
    if (src.pmd && f.zone.get(src.pfn[0]!) === Zone.ZERO) {
      // copy_huge_pmd: the huge zero page stays PMD-mapped, in the parent and in the child.
      const dst = child.pt.alloc(base);
      for (let k = 0; k < PTRS_PER_PTE; k++) copyOne(sim, parent, child, vma, src, dst, base + k, k);
      dst.setPmd(true);
      continue;
    }
    if (src.pmd) {
      // copy_huge_pmd keeps the THP PMD-mapped in both; the model PTE-maps it in both, as a
      // PTE-mapped large folio, and `forkSplit` says Linux still has the PMD in that process
      // (README "Where the model decides"; splitHugePmd ends it the way Linux splits the PMD).
      // A pinned THP: folio_try_dup_anon_rmap_pmd fails, Linux splits the parent's PMD and the
      // child gets copies of the pages (below): nothing is shared, no PMD is kept.
      const head = src.pfn[0]!;
      const pinned = f.pincount.get(head) > 0;
      f.splitFolio(head, true);
      src.setPmd(false);
      src.forkSplit = !pinned;
      parent.pt.markDirty(base);
      if (!pinned) child.pt.alloc(base).forkSplit = true;
    } else if (src.forkSplit) {
      child.pt.alloc(base).forkSplit = true;
    }
    // copy_pte_range allocates the child's PTE page first, even for a PTE page of none entries.
    const dst = child.pt.alloc(base);
    dst.ptePage = true;
    for (let k = Math.max(vma.start, base) - base; k < Math.min(vma.end, base + PTRS_PER_PTE) - base; k++) {
      copyOne(sim, parent, child, vma, src, dst, base + k, k);
    }
  }
}

function copyOne(sim: Machine, parent: Mm, child: Mm, vma: Vma, src: PteTable, dst: PteTable, vpn: number, k: number): void {
  const f = sim.frames;
  let kind = src.kind[k] as Pte;
  if (kind === Pte.NONE) return;
  setExpected(dst, k, src.expectId[k]!, src.expectPage[k]!);
  if (kind === Pte.DEVICE_EXCLUSIVE) {
    // The parent's original pte is restored first (restore_exclusive_pte: writable only from a
    // writable entry; 6.12 has readable ones too), then copied as a present pte.
    const writable = (vma.flags & 2) !== 0 && (!sim.profile.readableExclusive || (src.bits[k]! & PTE_WRITE) !== 0);
    parent.pt.set(vpn, Pte.PRESENT, src.pfn[k]!, writable ? PTE_WRITE | PTE_DIRTY : PTE_DIRTY);
    kind = Pte.PRESENT;
  }
  const pfn = src.pfn[k]!;
  let bits = src.bits[k]!;
  if (kind === Pte.PRESENT && f.zone.get(pfn) === Zone.ZERO) {
    child.pt.set(vpn, Pte.PRESENT, pfn, 0);
    return;
  }
  if (kind === Pte.PRESENT && (f.flags.get(pfn) & PG_ANON) !== 0 && maybeDmaPinned(sim, pfn) && vma.isCow) {
    // A page that may be pinned is copied for the child at once (copy_present_page), under
    // the child VMA's own anon_vma (folio_add_new_anon_rmap on dst_vma).
    const copy = f.allocAnonPage(f.indexOf(pfn), child.vmas.find(vpn)!.anonVmaId, pfn);
    child.pt.set(vpn, Pte.PRESENT, copy, bits);
    return;
  }
  if (vma.isCow && (bits & PTE_WRITE) !== 0) {
    // COW: write-protect in both (for device-private: the readable entry kind in both).
    bits &= ~PTE_WRITE;
    src.bits[k] = bits;
    parent.pt.markDirty(vpn);
  }
  if (kind === Pte.PRESENT || kind === Pte.DEVICE_PRIVATE) f.flags.set(pfn, f.flags.get(pfn) & ~PG_ANON_EXCLUSIVE);
  f.mapcount.add(pfn, 1);
  getPage(sim, pfn);
  child.pt.set(vpn, kind, pfn, bits);
}

/**
 * folio_maybe_dma_pinned: a pin anywhere in a large folio counts for all of it (a PTE-mapped
 * THP's pins are counted on its first page, folioHead), so fork copies every page of a pinned folio.
 */
function maybeDmaPinned(sim: Machine, pfn: number): boolean {
  const f = sim.frames;
  return f.pincount.get(f.folioHead(pfn)) > 0;
}
