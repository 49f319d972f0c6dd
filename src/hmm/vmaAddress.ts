// mm/internal.h: linear_page_index and vma_address. A page keeps the offset it got when it was
// first mapped (page->index: linear_page_index of its VMA there; a file page's is its file
// offset); mremap moves a VMA's vm_pgoff with it, never the page's index. So every way from a
// page to its mappings (the rmap walks, a large folio's other pages) goes through each VMA's
// offset: the address is where that VMA maps the page's index, not the index itself.

import { PTRS_PER_PTE } from './constants';
import type { Machine } from './machine';
import type { Mm } from './mm';
import { type Pte, pteIndex } from './pgtable';
import type { Vma } from './vma';

/** vm_pgoff − vm_start, in pages: a file VMA's file offset, an anonymous VMA's kept offset. */
export function vmPgoffDelta(v: Vma): number {
  return v.object !== undefined ? v.pgoffDelta : v.anonPgoffDelta;
}

/** linear_page_index(vma, vpn): the index a page first mapped at `vpn` of `v` gets. */
export function linearPageIndex(v: Vma, vpn: number): number {
  return vpn + vmPgoffDelta(v);
}

/**
 * vma_address and vma_address_end for the pages of offsets [pgoff, pgoff + nr): the part
 * [start, end) of `v` where it would map them (`at`: where offset `pgoff` would be, perhaps
 * before v's start), or undefined when it maps none of them.
 */
export function vmaRange(v: Vma, pgoff: number, nr: number): { at: number; start: number; end: number } | undefined {
  const at = pgoff - vmPgoffDelta(v);
  const start = Math.max(at, v.start);
  const end = Math.min(at + nr, v.end);
  return start < end ? { at, start, end } : undefined;
}

/** One VMA the walk found a page of the folio in: where, and the pages it maps ([start, end) of `mm`). */
export interface FolioMapping {
  readonly mm: Mm;
  readonly vma: Vma;
  readonly start: number;
  readonly end: number;
}

/**
 * page_vma_mapped_walk over every live process's VMAs for the folio of `nr` pages from frame
 * `head` (offsets from page->index of `head`): each VMA where an entry of a kind `want` accepts
 * points at the folio's page at that offset, with the range vma_address gives (the range an rmap
 * walk's notifier covers there). VMAs of other files or anon_vmas cannot hold the frame, so a
 * frame match is enough to know the VMA is in the page's rmap. `onPage` sees each such entry.
 */
export function folioMappings(sim: Machine, head: number, nr: number, want: (k: Pte) => boolean,
  onPage?: (mm: Mm, vpn: number, k: number) => void): FolioMapping[] {
  const pgoff = sim.frames.indexOf(head);
  const out: FolioMapping[] = [];
  for (const mm of sim.mms) {
    if (!mm.alive) continue;
    for (const vma of mm.vmas.list) {
      const r = vmaRange(vma, pgoff, nr);
      if (r === undefined) continue;
      let found = false;
      for (let vpn = r.start; vpn < r.end; vpn++) {
        const t = mm.pt.lookup(vpn);
        if (t === undefined) {
          vpn += PTRS_PER_PTE - 1 - pteIndex(vpn); // no PTE page: on to the next one
          continue;
        }
        const s = pteIndex(vpn);
        const k = vpn - r.at;
        if (t.pfn[s] !== head + k || !want(t.kind[s] as Pte)) continue;
        found = true;
        onPage?.(mm, vpn, k);
      }
      if (found) out.push({ mm, vma, start: r.start, end: r.end });
    }
  }
  return out;
}
