// The kernel version the simulator models. Mainline (the default) is what kernel-semantics.md
// reads; `6.12` reproduces Linux 6.12 where it differs, so the model can be compared with the
// kernel the VM runs (src/oracle). Each field names the behaviour, the version that changed it,
// and where it shows.

export interface LinuxProfile {
  readonly name: LinuxVersion;
  /**
   * MIGRATE_VMA_SELECT_COMPOUND and device-private THPs (~v6.19). Without them
   * migrate_vma_collect_pmd splits every PMD-mapped THP it meets (split_folio; the huge zero
   * page with split_huge_pmd), whatever the selection flags, and migrates base pages.
   */
  readonly deviceThp: boolean;
  /** test_hmm's hmm_range_fault chunk in pages (newest 32, older 64). */
  readonly faultChunk: number;
  /** test_hmm's migrate_vma chunk in pages (newest PTRS_PER_PTE, older 64). */
  readonly migrateChunk: number;
  /** dmirror_migrate_alloc_and_copy also sets MIGRATE_PFN_WRITE for a hole in a VM_WRITE vma (≤ v6.18). */
  readonly holeWritable: boolean;
  /** HMM_DMIRROR_FLAGS (FAIL_ALLOC) exists (newest); older kernels answer -EINVAL. */
  readonly dmirrorFlags: boolean;
  /**
   * A write fault on the huge zero page allocates a THP (do_huge_zero_wp_pmd, newer than 6.12).
   * 6.12 splits the huge zero PMD and copies only the faulting page.
   */
  readonly hugeZeroWriteThp: boolean;
  /**
   * make_device_exclusive (per page, ~v6.15): an error is returned as it is. 6.12's
   * make_device_exclusive_range works in 64-page chunks and test_hmm answers -EBUSY unless every
   * page of a chunk became exclusive (a tail page of a THP never does; a failed GUP ends it).
   */
  readonly exclusivePerPage: boolean;
  /**
   * 6.12: an eviction (close, HMM_DMIRROR_RELEASE: migrate_device_range) that meets a
   * device-coherent page behind a device-exclusive entry does not migrate it, and the page keeps
   * a reference nobody drops (seen in the VM): it stays on the device for good, no migration
   * takes it again, and the device's next RELEASE waits for it forever in memunmap_pages.
   */
  readonly evictExclusiveLeaks: boolean;
  /**
   * A write fault may reuse a page of a PTE-mapped large folio that only this process maps
   * (as the model does for mainline). 6.12's wp_can_reuse_anon_folio never reuses a page of a
   * large folio unless it is PageAnonExclusive: it copies (after fork, even once the child exited).
   */
  readonly reuseLargeFolioPage: boolean;
  /**
   * 6.12 has readable device-exclusive entries: mprotect (change_pte_range) makes a writable one
   * readable, and restoring it (remove_device_exclusive_entry) maps the page read-only. Newest
   * kernels keep only the writable kind.
   */
  readonly readableExclusive: boolean;
  /**
   * Mainline's do_mremap (v6.17): a move-only mremap (MREMAP_FIXED, same size) moves every VMA of
   * the range, keeping the gaps between them (remap_move), and the checks (check_mremap_params,
   * check_prep_vma) come before anything is unmapped. 6.12 moves one VMA (a range past its end is
   * -EFAULT) and unmaps a MREMAP_FIXED target before vma_to_resize looks at the old range.
   */
  readonly mremapMultiVma: boolean;
  /**
   * MADV_DONTNEED frees the PTE pages it empties whole (PT_RECLAIM, v6.14), so a later fault
   * there may map a THP. 6.12 keeps empty PTE pages until munmap: base pages there for good.
   */
  readonly ptReclaim: boolean;
  /**
   * A device-exclusive entry counts as a mapping of its page (v6.15), so split_folio unmaps it
   * like any other. 6.12's holds a reference without a mapcount (page_make_device_exclusive_one
   * removes the rmap): can_split_folio fails on a large folio with such an entry.
   */
  readonly exclusiveKeepsMapping: boolean;
  /**
   * A VMA range with an anon_vma merges into a neighbour without one (mainline's
   * is_mergeable_anon_vma, "fix incorrectly disallowed anonymous VMA merges"). 6.12 refuses it:
   * the neighbour's empty anon_vma_chain is not list_is_singular.
   */
  readonly mergeFaultedIntoUnfaulted: boolean;
}

export type LinuxVersion = 'mainline' | '6.12';

export const LINUX_PROFILES: Readonly<Record<LinuxVersion, LinuxProfile>> = {
  mainline: {
    name: 'mainline', deviceThp: true, faultChunk: 32, migrateChunk: 512, holeWritable: false, dmirrorFlags: true,
    hugeZeroWriteThp: true, exclusivePerPage: true, evictExclusiveLeaks: false, reuseLargeFolioPage: true, readableExclusive: false, mremapMultiVma: true,
    ptReclaim: true, exclusiveKeepsMapping: true, mergeFaultedIntoUnfaulted: true,
  },
  '6.12': {
    name: '6.12', deviceThp: false, faultChunk: 64, migrateChunk: 64, holeWritable: true, dmirrorFlags: false,
    hugeZeroWriteThp: false, exclusivePerPage: false, evictExclusiveLeaks: true, reuseLargeFolioPage: false, readableExclusive: true, mremapMultiVma: false,
    ptReclaim: false, exclusiveKeepsMapping: false, mergeFaultedIntoUnfaulted: false,
  },
};

export const LINUX_VERSIONS = Object.keys(LINUX_PROFILES) as LinuxVersion[];

export function isLinuxVersion(s: string): s is LinuxVersion {
  return Object.prototype.hasOwnProperty.call(LINUX_PROFILES, s);
}
