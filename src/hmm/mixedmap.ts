// Layer: simulator (src/hmm). Imports sibling mechanism modules and types of the world.
// lib/test_hmm.c dmirror_fops_mmap with mm/memory.c vm_insert_page: an mmap of the dmirror
// device file puts a zeroed kernel page under every address at mmap time and marks the VMA
// VM_MIXEDMAP. The pages are neither anonymous nor page cache ("driver pages"): a private
// mapping maps them read-only (vm_page_prot of a private mapping has no write), so a write
// copies (wp_page_copy); a shared writable mapping maps them writable. The VMA has no fault
// handler: a hole (after MADV_DONTNEED) is SIGBUS. VM_MIXEDMAP is in VM_SPECIAL, so
// migrate_vma_setup refuses the VMA with -EINVAL.

import { ZERO_CONTENT } from './content';
import type { Mm } from './mm';
import { Pte, PTE_WRITE, pteIndex, setExpected } from './pgtable';
import type { Machine } from './machine';
import { VM_SHARED, VM_WRITE, type Vma } from './vma';

/** dmirror_fops_mmap: alloc_page(__GFP_ZERO) + vm_insert_page for each page of the new VMA. */
export function dmirrorFopsMmap(sim: Machine, mm: Mm, vma: Vma): void {
  const f = sim.frames;
  const writable = (vma.flags & (VM_SHARED | VM_WRITE)) === (VM_SHARED | VM_WRITE);
  for (let vpn = vma.start; vpn < vma.end; vpn++) {
    // One reference: vm_insert_page takes one for the pte, the driver drops its own (put_page).
    const pfn = f.allocSystem(0, 0);
    f.mapcount.set(pfn, 1);
    f.setIndex(pfn, vpn);
    mm.pt.set(vpn, Pte.PRESENT, pfn, writable ? PTE_WRITE : 0);
    // Zeroed pages: a private mapping's data is known (zeros) until it is written.
    setExpected(mm.pt.lookup(vpn)!, pteIndex(vpn), vma.isShared ? -1 : ZERO_CONTENT, 0);
  }
  sim.emit(mm.name, vma.start, vma.end, { kind: 'pte', what: `vm_insert_page: ${vma.end - vma.start} zeroed driver page(s)` });
}
