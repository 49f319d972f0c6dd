// mm/hmm.c: hmm_range_fault — snapshot, and fault on request, the CPU page-table state of a
// range into one HMM pfn per page (pfn array + flag byte + map order; see constants.ts).

import {
  EBUSY, EFAULT, EPERM, HMM_PFN_ERROR, HMM_PFN_REQ_FAULT, HMM_PFN_REQ_WRITE, HMM_PFN_VALID, HMM_PFN_WRITE,
  HPAGE_PMD_ORDER, PTRS_PER_PTE, VM_FAULT_ERROR,
} from './constants';
import type { Machine } from './machine';
import type { Device } from './memremap';
import { handleMmFault } from './memory';
import type { Mm } from './mm';
import { type MmuIntervalNotifier, mmuIntervalCheckRetry } from './mmuNotifier';
import { Zone } from './page';
import { pmdNone, Pte, PTE_WRITE, pteIndex } from './pgtable';
import { kernelFrame, pushFrame, type KernelWork } from './kernelWork';
import { VM_READ, VM_WRITE } from './vma';

/** struct hmm_range. `flags` holds the request bits on input and the HMM_PFN_* bits on output. */
export class HmmRange {
  readonly pfns: Int32Array;
  readonly flags: Uint8Array;
  readonly order: Uint8Array;
  notifierSeq = 0;
  constructor(
    readonly notifier: MmuIntervalNotifier<Mm>,
    readonly start: number,
    readonly end: number,
    readonly defaultFlags: number,
    readonly pfnFlagsMask: number,
    readonly devPrivateOwner: Device | null,
  ) {
    const n = end - start;
    this.pfns = new Int32Array(n);
    this.flags = new Uint8Array(n);
    this.order = new Uint8Array(n);
  }
}

/** HMM_NEED_FAULT / HMM_NEED_WRITE_FAULT for one page (hmm_pte_need_fault). */
const NEED_FAULT = 1;
const NEED_WRITE_FAULT = 2;

function needFault(range: HmmRange, i: number, cpuFlags: number): number {
  const req = (range.flags[i]! & range.pfnFlagsMask) | range.defaultFlags;
  if ((req & HMM_PFN_REQ_FAULT) === 0) return 0;
  let need = 0;
  if ((cpuFlags & HMM_PFN_VALID) === 0) need |= NEED_FAULT;
  if ((req & HMM_PFN_REQ_WRITE) !== 0 && (cpuFlags & HMM_PFN_WRITE) === 0) need |= NEED_FAULT | NEED_WRITE_FAULT;
  return need;
}

function anyNeedFault(range: HmmRange, from: number, to: number): number {
  let need = 0;
  for (let v = from; v < to; v++) need |= needFault(range, v - range.start, 0);
  return need;
}

function fill(range: HmmRange, from: number, to: number, flags: number): void {
  for (let v = from; v < to; v++) {
    const i = v - range.start;
    range.flags[i] = flags;
    range.pfns[i] = 0;
    range.order[i] = 0;
  }
}

/** Internal -EBUSY of the walk: a fault was taken, re-walk from `last`. */
interface WalkResult {
  rc: number;
  last: number;
}

/**
 * hmm_vma_fault: fault every page of [addr, end) (FAULT_FLAG_REMOTE, plus WRITE if needed), then
 * ask the caller to re-walk from addr.
 */
function* hmmVmaFault(sim: Machine, range: HmmRange, addr: number, end: number, need: number, vmaFlags: number): KernelWork<WalkResult> {
  const write = (need & NEED_WRITE_FAULT) !== 0;
  if (write && (vmaFlags & VM_WRITE) === 0) return { rc: -EPERM, last: addr };
  const mm = range.notifier.mm!;
  for (let v = addr; v < end; v++) {
    const r = yield* handleMmFault(sim, mm, v, { write, remote: true });
    if (r & VM_FAULT_ERROR) return { rc: -EFAULT, last: addr };
  }
  return { rc: -EBUSY, last: addr };
}

/** One walk_page_range pass from `last` to the end of the range. */
function* walk(sim: Machine, range: HmmRange, last: number): KernelWork<WalkResult> {
  const mm = range.notifier.mm!;
  const frames = sim.frames;
  let vpn = last;
  while (vpn < range.end) {
    const vma = mm.vmas.find(vpn);
    if (vma === undefined) {
      // A hole between VMAs: -EFAULT if a fault is requested, else HMM_PFN_ERROR.
      const next = mm.vmas.list.find((v) => v.start > vpn);
      const holeEnd = Math.min(range.end, next?.start ?? range.end);
      if (anyNeedFault(range, vpn, holeEnd)) return { rc: -EFAULT, last: vpn };
      fill(range, vpn, holeEnd, HMM_PFN_ERROR);
      vpn = holeEnd;
      continue;
    }
    const vmaEnd = Math.min(vma.end, range.end);
    if ((vma.flags & VM_READ) === 0) {
      // hmm_vma_walk_test: no VM_READ.
      if (anyNeedFault(range, vpn, vmaEnd)) return { rc: -EFAULT, last: vpn };
      fill(range, vpn, vmaEnd, HMM_PFN_ERROR);
      vpn = vmaEnd;
      continue;
    }
    while (vpn < vmaEnd) {
      const pmdEnd = Math.min(vmaEnd, vpn - (vpn % PTRS_PER_PTE) + PTRS_PER_PTE);
      const t = mm.pt.lookup(vpn);
      if (t === undefined || pmdNone(t)) {
        // pmd_none: a hole in the page table.
        const need = anyNeedFault(range, vpn, pmdEnd);
        if (need) return yield* hmmVmaFault(sim, range, vpn, pmdEnd, need, vma.flags);
        fill(range, vpn, pmdEnd, 0);
        vpn = pmdEnd;
        continue;
      }
      for (; vpn < pmdEnd; vpn++) {
        const i = vpn - range.start;
        const s = pteIndex(vpn);
        const kind = t.kind[s] as Pte;
        const pfn = t.pfn[s]!;
        let cpuFlags = 0;
        if (kind === Pte.PRESENT) {
          cpuFlags = HMM_PFN_VALID | ((t.bits[s]! & PTE_WRITE) !== 0 && frames.zone.get(pfn) !== Zone.ZERO ? HMM_PFN_WRITE : 0);
        } else if (kind === Pte.DEVICE_PRIVATE && range.devPrivateOwner !== null && frames.device.get(pfn) === range.devPrivateOwner.index) {
          // Our own device-private page: reported, never faulted, even for a write request.
          range.pfns[i] = pfn;
          range.flags[i] = HMM_PFN_VALID | ((t.bits[s]! & PTE_WRITE) !== 0 ? HMM_PFN_WRITE : 0);
          range.order[i] = t.pmd ? HPAGE_PMD_ORDER : 0;
          continue;
        }
        const need = needFault(range, i, cpuFlags);
        if (need) {
          if (kind === Pte.MIGRATION) throw new Error('hmm_range_fault met a migration entry');
          // With a PMD mapping the whole PMD is faulted; else from this pte to the PMD's end.
          return yield* hmmVmaFault(sim, range, vpn, pmdEnd, need, vma.flags);
        }
        if (cpuFlags === 0) {
          // pte_none, a swap-like entry, device-exclusive or another owner's device page.
          range.flags[i] = 0;
          range.pfns[i] = 0;
          range.order[i] = 0;
          continue;
        }
        range.pfns[i] = pfn;
        range.flags[i] = cpuFlags;
        range.order[i] = t.pmd ? HPAGE_PMD_ORDER : 0;
      }
    }
  }
  return { rc: 0, last: vpn };
}

/** hmm_range_fault(range): 0 or -EFAULT / -EPERM / -EBUSY. */
export function* hmmRangeFault(sim: Machine, range: HmmRange): KernelWork<number> {
  const frame = kernelFrame('hmm_range_fault', () => `${range.notifier.label} ${sim.describeRange(range.start, range.end)}`);
  yield pushFrame(sim.kstack, frame);
  try {
    let last = range.start;
    for (;;) {
      if (mmuIntervalCheckRetry(range.notifier, range.notifierSeq)) return -EBUSY;
      const r = yield* walk(sim, range, last);
      if (r.rc !== -EBUSY) return r.rc;
      last = r.last;
    }
  } finally {
    sim.kstack.pop();
  }
}
