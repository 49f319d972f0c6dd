// Placement policy of a unified-memory driver on top of HMM (NVIDIA UVM's uvm_va_policy /
// perf_prefetch / perf_thrashing, AMD SVM's attributes): cudaMemAdvise-style hints per range,
// the per-fault decision (migrate here or map remotely), the tree-based density prefetcher
// inside 2 MiB blocks, and thrashing detection.

import { HPAGE_PMD_NR } from './constants';

/** Hints of one page range (cudaMemAdvise). */
export interface Advice {
  /** Preferred location: a device index, -1 for system memory, undefined when unset. */
  readonly preferred?: number;
  /** Devices that keep a mapping wherever the page lives (bit per device index). */
  readonly accessedBy: number;
  readonly readMostly: boolean;
}

export const NO_ADVICE: Advice = { accessedBy: 0, readMostly: false };

/** Advice per process as sorted, non-overlapping segments of virtual pages. */
export class AdviceMap {
  segments: { start: number; end: number; advice: Advice }[] = [];

  get(vpn: number): Advice {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.segments[mid]!;
      if (vpn < s.start) hi = mid - 1;
      else if (vpn >= s.end) lo = mid + 1;
      else return s.advice;
    }
    return NO_ADVICE;
  }

  /** Apply `change` to every page of [start, end), splitting segments as needed. */
  update(start: number, end: number, change: (a: Advice) => Advice): void {
    const out: { start: number; end: number; advice: Advice }[] = [];
    let cursor = start;
    for (const s of this.segments) {
      if (s.end <= start || s.start >= end) {
        out.push(s);
        continue;
      }
      if (s.start < start) out.push({ start: s.start, end: start, advice: s.advice });
      if (cursor < s.start) out.push({ start: cursor, end: s.start, advice: change(NO_ADVICE) });
      out.push({ start: Math.max(s.start, start), end: Math.min(s.end, end), advice: change(s.advice) });
      cursor = Math.min(s.end, end);
      if (s.end > end) out.push({ start: end, end: s.end, advice: s.advice });
    }
    if (cursor < end) out.push({ start: cursor, end, advice: change(NO_ADVICE) });
    out.sort((a, b) => a.start - b.start);
    this.segments = out.filter((s) => s.advice.preferred !== undefined || s.advice.accessedBy !== 0 || s.advice.readMostly);
  }

  clone(): AdviceMap {
    const c = new AdviceMap();
    c.segments = this.segments.slice();
    return c;
  }
}

export type FaultDecision = 'migrate' | 'remote';

/**
 * What a device fault on a page does under the `migrate` policy, in the order of the UVM
 * driver: read-mostly (HMM cannot duplicate a device-private page: reads map the system page
 * remotely), thrashing-pinned pages stay put, the preferred location, accessed-by mappings,
 * then first touch migrates to the faulting device.
 */
export function decideFault(advice: Advice, device: number, write: boolean, pinnedByThrashing: boolean): FaultDecision {
  if (advice.readMostly && !write) return 'remote';
  if (pinnedByThrashing) return 'remote';
  if (advice.preferred !== undefined) return advice.preferred === device ? 'migrate' : 'remote';
  if ((advice.accessedBy & (1 << device)) !== 0) return 'remote';
  return 'migrate';
}

/** Prefetcher parameters (UVM: 64 KiB granularity inside 2 MiB blocks, 51 % threshold). */
export const PREFETCH_LEAF_PAGES = 16;
export const PREFETCH_THRESHOLD_PERCENT = 51;

/**
 * The tree-based density prefetcher for one 2 MiB block: `resident` marks pages of the block
 * already on the device or being migrated by this batch (`faulted`). For each faulted page,
 * the largest subtree (16, 32, … 512 pages) whose occupancy exceeds the threshold is migrated
 * whole. Returns the block-relative page indices to add.
 */
/** prefetchExpansion's working arrays (it keeps nothing between calls). */
const prefetchSum = new Int32Array(HPAGE_PMD_NR + 1);
const prefetchTaken = new Uint8Array(HPAGE_PMD_NR);
const prefetchSeen = new Uint8Array(HPAGE_PMD_NR / PREFETCH_LEAF_PAGES);

export function prefetchExpansion(resident: Uint8Array, faulted: readonly number[]): number[] {
  const take = prefetchTake(resident, faulted, 0, faulted.length, 0);
  const out: number[] = [];
  for (let p = 0; p < HPAGE_PMD_NR; p++) if (take[p] && !resident[p]) out.push(p);
  return out;
}

/**
 * prefetchExpansion's subtrees for the faulted pages faulted[from..to) less `base` (block-relative
 * pages), as 1s in an array the next call reuses: the expansion is what it marks and `resident` does not.
 */
export function prefetchTake(resident: Uint8Array, faulted: readonly number[], from: number, to: number, base: number): Uint8Array {
  // Prefix sums make every subtree's occupancy one subtraction.
  const sum = prefetchSum;
  for (let p = 0; p < HPAGE_PMD_NR; p++) sum[p + 1] = sum[p]! + resident[p]!;
  const take = prefetchTaken;
  take.fill(0);
  // Leaves already looked at (a faulted page's leaf decides for every page of it).
  const seen = prefetchSeen;
  seen.fill(0);
  for (let k = from; k < to; k++) {
    const f = faulted[k]! - base;
    const leaf = (f / PREFETCH_LEAF_PAGES) | 0;
    if (seen[leaf] === 1) continue;
    seen[leaf] = 1;
    let best = -1;
    let bestSize = 0;
    for (let size = PREFETCH_LEAF_PAGES; size <= HPAGE_PMD_NR; size *= 2) {
      const lo = f - (f % size);
      if ((sum[lo + size]! - sum[lo]!) * 100 > size * PREFETCH_THRESHOLD_PERCENT) {
        best = lo;
        bestSize = size;
      }
    }
    if (best >= 0) take.fill(1, best, best + bestSize);
  }
  return take;
}

/** Thrashing detection: 3 migrations of one page within 500 µs → throttle, again → pin. */
export const THRASH_COUNT = 3;
export const THRASH_WINDOW_NS = 500_000;
export const THRASH_THROTTLE_NS = 100_000;

export type ThrashVerdict = 'none' | 'throttle' | 'pin';

export class ThrashingDetector {
  /**
   * Per (process, page): the times of its recent migrations, oldest first, at most
   * THRASH_COUNT of them; entries whose newest time left the window are swept now and then,
   * so a stream of a million one-off migrations does not keep a million histories.
   */
  private readonly history = new Map<number, number[]>();
  private sweepAt = 1024;
  readonly throttled = new Set<number>();
  readonly pinned = new Set<number>();

  /** One number per (process, page): virtual pages stay below TASK_SIZE (2^35). */
  key(mmId: number, vpn: number): number {
    return mmId * 2 ** 40 + vpn;
  }

  /**
   * Record a device-side migration only for a page that bounced recently (a migration within
   * the window) or was throttled: a first-touch stream of a million pages then costs nothing.
   */
  recordIfBouncing(mmId: number, vpn: number, now: number): ThrashVerdict {
    // Nothing migrated recently nor throttled: a stream's every page (no key made per page).
    if (this.history.size === 0 && this.throttled.size === 0) return 'none';
    const k = this.key(mmId, vpn);
    const h = this.history.get(k);
    const recent = h !== undefined && h.length > 0 && now - h[h.length - 1]! <= THRASH_WINDOW_NS;
    return recent || this.throttled.has(k) ? this.record(mmId, vpn, now) : 'none';
  }

  /** Record a migration of the page at `now`; says whether it thrashes. */
  record(mmId: number, vpn: number, now: number): ThrashVerdict {
    const k = this.key(mmId, vpn);
    let h = this.history.get(k);
    if (h === undefined) {
      if (this.history.size >= this.sweepAt) this.sweep(now);
      h = [];
      this.history.set(k, h);
    }
    // Drop times that left the window (in place: no array per migration).
    let keep = 0;
    for (let i = 0; i < h.length; i++) if (now - h[i]! <= THRASH_WINDOW_NS) h[keep++] = h[i]!;
    h.length = keep;
    h.push(now);
    if (h.length < THRASH_COUNT || this.pinned.has(k)) return 'none';
    if (this.throttled.has(k)) {
      this.pinned.add(k);
      return 'pin';
    }
    this.throttled.add(k);
    h.length = 0;
    return 'throttle';
  }

  /** Forget histories whose newest migration left the window; sweep again at twice the size left. */
  private sweep(now: number): void {
    for (const [k, h] of this.history) {
      if (h.length === 0 || now - h[h.length - 1]! > THRASH_WINDOW_NS) this.history.delete(k);
    }
    this.sweepAt = Math.max(1024, 2 * this.history.size);
  }

  /** No history and nothing throttled: recordIfBouncing answers 'none' for every page and changes nothing. */
  get quiet(): boolean {
    return this.history.size === 0 && this.throttled.size === 0;
  }

  /** Whether any page is pinned (isPinned is false for every page while not). */
  get anyPinned(): boolean {
    return this.pinned.size > 0;
  }

  isPinned(mmId: number, vpn: number): boolean {
    return this.pinned.size > 0 && this.pinned.has(this.key(mmId, vpn));
  }

  save(): { history: [number, number[]][]; throttled: number[]; pinned: number[] } {
    return { history: [...this.history].map(([k, v]) => [k, v.slice()]), throttled: [...this.throttled], pinned: [...this.pinned] };
  }

  load(s: { history: [number, number[]][]; throttled: number[]; pinned: number[] }): void {
    this.history.clear();
    for (const [k, v] of s.history) this.history.set(k, v.slice());
    this.sweepAt = Math.max(1024, 2 * this.history.size);
    this.throttled.clear();
    for (const k of s.throttled) this.throttled.add(k);
    this.pinned.clear();
    for (const k of s.pinned) this.pinned.add(k);
  }
}

/** The 2 MiB block index of a page (eviction and prefetch granularity). */
export function blockOf(vpn: number): number {
  return Math.floor(vpn / HPAGE_PMD_NR);
}
