// Kernel constants the simulator shares, with the values of the kernel headers they mirror.

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
export const WORDS_PER_PAGE = PAGE_SIZE / 4;
/** Entries per page-table page, and base pages per PMD-mapped THP (x86-64). */
export const PTRS_PER_PTE = 512;
export const HPAGE_PMD_ORDER = 9;
export const HPAGE_PMD_NR = 1 << HPAGE_PMD_ORDER;
/** PUD-sized region: mprotect raises one notifier per PUD that has page tables. */
export const PTRS_PER_PMD = 512;
/** First virtual page the deterministic mmap placement uses (0x7f00_0000_0000 >> 12). */
export const MMAP_BASE_VPN = 0x7f0000000;
/** TASK_SIZE on x86-64 with 4-level paging (47-bit user addresses), in pages. */
export const TASK_SIZE_VPN = 0x800000000;
/** The whole address space in pages: `[0, ULONG_MAX)` for MMU_NOTIFY_RELEASE. */
export const ADDRESS_SPACE_PAGES = 2 ** 52;

/** include/linux/mmu_notifier.h: enum mmu_notifier_event, in kernel order. */
export enum MmuNotifyEvent {
  UNMAP = 0,
  CLEAR = 1,
  PROTECTION_VMA = 2,
  PROTECTION_PAGE = 3,
  SOFT_DIRTY = 4,
  RELEASE = 5,
  MIGRATE = 6,
  EXCLUSIVE = 7,
}
export const MMU_NOTIFY_NAMES = ['UNMAP', 'CLEAR', 'PROTECTION_VMA', 'PROTECTION_PAGE', 'SOFT_DIRTY', 'RELEASE', 'MIGRATE', 'EXCLUSIVE'] as const;

/**
 * Errno values the simulator returns negated, as the kernel does: the one table of their names
 * (the language's `-> EBUSY` and `last.rc == EFAULT` read it too).
 */
export const ERRNO = {
  EPERM: 1, ENOENT: 2, EINTR: 4, ENOMEM: 12, EFAULT: 14, EBUSY: 16, EINVAL: 22, EOVERFLOW: 75, EOPNOTSUPP: 95,
} as const;
export type ErrnoName = keyof typeof ERRNO;
export const EPERM = ERRNO.EPERM;
export const ENOENT = ERRNO.ENOENT;
export const EINTR = ERRNO.EINTR;
export const ENOMEM = ERRNO.ENOMEM;
export const EFAULT = ERRNO.EFAULT;
export const EBUSY = ERRNO.EBUSY;
export const EINVAL = ERRNO.EINVAL;
export const EOVERFLOW = ERRNO.EOVERFLOW;
export const EOPNOTSUPP = ERRNO.EOPNOTSUPP;
const ERRNO_BY_VALUE: ReadonlyMap<number, string> = new Map(Object.entries(ERRNO).map(([name, value]) => [value, name]));
/** `EBUSY` for -16, `0` for 0, the number itself for an errno without a name here. */
export function errnoName(rc: number): string {
  return rc === 0 ? '0' : (ERRNO_BY_VALUE.get(-rc) ?? String(rc));
}

/**
 * HMM pfn flags (include/linux/hmm.h, bits 63/62/61). JavaScript numbers cannot hold bit 63, so
 * `hmm_range.hmm_pfns` is split into a pfn array and a flag byte per entry with these bits;
 * `hmmPfnToKernelValue` rebuilds the kernel's 64-bit value for display.
 */
export const HMM_PFN_VALID = 1 << 0;
export const HMM_PFN_WRITE = 1 << 1;
export const HMM_PFN_ERROR = 1 << 2;
/** Input request flags reuse the output bits, as in the kernel. */
export const HMM_PFN_REQ_FAULT = HMM_PFN_VALID;
export const HMM_PFN_REQ_WRITE = HMM_PFN_WRITE;
export const HMM_PFN_ORDER_SHIFT = 53n;

export function hmmPfnToKernelValue(pfn: number, flags: number, order: number): bigint {
  let v = BigInt(pfn);
  if (flags & HMM_PFN_VALID) v |= 1n << 63n;
  if (flags & HMM_PFN_WRITE) v |= 1n << 62n;
  if (flags & HMM_PFN_ERROR) v |= 1n << 61n;
  return v | (BigInt(order & 0x1f) << HMM_PFN_ORDER_SHIFT);
}

/** include/linux/migrate.h: enum migrate_vma_direction. */
export const MIGRATE_VMA_SELECT_SYSTEM = 1 << 0;
export const MIGRATE_VMA_SELECT_DEVICE_PRIVATE = 1 << 1;
export const MIGRATE_VMA_SELECT_DEVICE_COHERENT = 1 << 2;
export const MIGRATE_VMA_SELECT_COMPOUND = 1 << 3;

/** Migrate pfn flags (low bits of src[]/dst[]); the pfn itself is kept in a separate array. */
export const MIGRATE_PFN_VALID = 1 << 0;
export const MIGRATE_PFN_MIGRATE = 1 << 1;
export const MIGRATE_PFN_WRITE = 1 << 3;
export const MIGRATE_PFN_COMPOUND = 1 << 4;

/** lib/test_hmm_uapi.h snapshot bytes. */
export const HMM_DMIRROR_PROT_ERROR = 0xff;
export const HMM_DMIRROR_PROT_NONE = 0x00;
export const HMM_DMIRROR_PROT_READ = 0x01;
export const HMM_DMIRROR_PROT_WRITE = 0x02;
export const HMM_DMIRROR_PROT_PMD = 0x04;
export const HMM_DMIRROR_PROT_PUD = 0x08;
export const HMM_DMIRROR_PROT_ZERO = 0x10;
export const HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL = 0x20;
export const HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE = 0x30;
export const HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL = 0x40;
export const HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE = 0x50;

/** VM_FAULT_* results of handle_mm_fault that matter here. */
export const VM_FAULT_OK = 0;
export const VM_FAULT_OOM = 1 << 0;
export const VM_FAULT_SIGBUS = 1 << 1;
export const VM_FAULT_SIGSEGV = 1 << 6;
export const VM_FAULT_ERROR = VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV;
