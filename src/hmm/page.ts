// Layer: simulator (src/hmm). Imports only ./constants.
// struct page / struct folio: one slot per physical frame in growable typed arrays (no object
// per page). System frames and ZONE_DEVICE frames share one pfn space; device frames are
// handed out by memremap.ts. Frame 0 is the shared zero page, frames 512..1023 the huge zero
// page. A THP is 512 contiguous frames starting at a 512-aligned head.

import { HPAGE_PMD_NR, MMAP_BASE_VPN } from './constants';

export const enum Zone {
  FREE = 0,
  SYSTEM = 1,
  DEVICE_PRIVATE = 2,
  DEVICE_COHERENT = 3,
  ZERO = 4,
}

/** Page flags (a subset of PG_* that the model needs). */
export const PG_ANON = 1 << 0;
/** A page-cache page of a file or shmem object: not migratable to device memory. */
export const PG_FILE = 1 << 1;
export const PG_HEAD = 1 << 2;
export const PG_TAIL = 1 << 3;
/** PageAnonExclusive: only one mm maps this anonymous page, so a write may reuse it. */
export const PG_ANON_EXCLUSIVE = 1 << 4;
/**
 * The head / a tail page of a THP whose PMD was split. Linux keeps such a folio large (PTE-mapped)
 * where the model splits it; 6.12 paths that refuse PTE-mapped large folios (migrate_vma's
 * PageTransCompound check, make_device_exclusive_range's PageTail) look at these marks.
 */
export const PG_LARGE_HEAD = 1 << 5;
export const PG_LARGE_TAIL = 1 << 6;

/**
 * A LIFO of frame numbers kept as runs of consecutive pfns (first, count, step ±1). Frames are
 * freed and reused in address order, so a million free frames are usually one run: freeing a
 * migrated range costs no memory, and a checkpoint of the free list is a few numbers.
 */
export class FrameStack {
  /** Triples (first, count, step); the top of the stack is the last run's last pfn. */
  private runs = new Int32Array(3 * 64);
  private nruns = 0;
  length = 0;

  push(pfn: number): void {
    const r = this.runs;
    const top = 3 * (this.nruns - 1);
    if (top >= 0) {
      const first = r[top]!;
      const count = r[top + 1]!;
      if (count === 1 && (pfn === first + 1 || pfn === first - 1)) {
        r[top + 1] = 2;
        r[top + 2] = pfn - first;
        this.length++;
        return;
      }
      if (count > 1 && pfn === first + count * r[top + 2]!) {
        r[top + 1] = count + 1;
        this.length++;
        return;
      }
    }
    if (3 * this.nruns === r.length) {
      const bigger = new Int32Array(r.length * 2);
      bigger.set(r);
      this.runs = bigger;
    }
    const at = 3 * this.nruns++;
    this.runs[at] = pfn;
    this.runs[at + 1] = 1;
    this.runs[at + 2] = 1;
    this.length++;
  }

  pop(): number | undefined {
    if (this.length === 0) return undefined;
    const r = this.runs;
    const top = 3 * (this.nruns - 1);
    const count = r[top + 1]! - 1;
    const pfn = r[top]! + count * r[top + 2]!;
    if (count === 0) this.nruns--;
    else r[top + 1] = count;
    this.length--;
    return pfn;
  }

  save(): Int32Array {
    return this.runs.slice(0, 3 * this.nruns);
  }

  load(saved: Int32Array): void {
    if (this.runs.length < saved.length) this.runs = new Int32Array(Math.max(3 * 64, saved.length * 2));
    this.runs.set(saved);
    this.nruns = saved.length / 3;
    this.length = 0;
    for (let i = 1; i < saved.length; i += 3) this.length += saved[i]!;
  }
}

export interface FramesState {
  readonly arrays: (Uint8Array | Int32Array | Float64Array)[];
  readonly nextSystem: number;
  readonly freeSystem: Int32Array;
  readonly freeSystemHuge: Int32Array;
  readonly systemInUse: number;
}

/** What indexOffset holds for page->index `vpn`: a small integer (a double here boxed per page). */
export function indexOffsetOf(vpn: number): number {
  return (vpn - MMAP_BASE_VPN) | 0;
}

export const ZERO_PFN = 0;
export const HUGE_ZERO_PFN = HPAGE_PMD_NR;
/** No page: used in entries without a frame. */
export const NO_PFN = -1;

export class PageFrames {
  zone: Uint8Array;
  /** Device index for ZONE_DEVICE frames. */
  device: Uint8Array;
  flags: Uint8Array;
  order: Uint8Array;
  refcount: Int32Array;
  mapcount: Int32Array;
  pincount: Int32Array;
  contentId: Int32Array;
  contentPage: Int32Array;
  /** zone_device_data: the id of the mirror that migrated a device page there (ids start at 1; 0 = none). */
  deviceData: Int32Array;
  /**
   * page->index, the virtual page an anonymous page is mapped at (fork keeps addresses, so one
   * suffices), as an offset from MMAP_BASE_VPN: every mapping lies below TASK_SIZE, so it fits
   * four bytes and stays a small integer in hot loops (see setIndex / indexOf).
   */
  indexOffset: Int32Array;
  private capacity: number;
  /** Bump pointer for never-used system frames (THP-aligned when needed). */
  private nextSystem = 2 * HPAGE_PMD_NR;
  private readonly freeSystem = new FrameStack();
  private readonly freeSystemHuge = new FrameStack();
  /** Frames in use per zone, for accounting and invariants. */
  systemInUse = 0;

  constructor(initialCapacity = 1 << 16) {
    this.capacity = initialCapacity;
    this.zone = new Uint8Array(initialCapacity);
    this.device = new Uint8Array(initialCapacity);
    this.flags = new Uint8Array(initialCapacity);
    this.order = new Uint8Array(initialCapacity);
    this.refcount = new Int32Array(initialCapacity);
    this.mapcount = new Int32Array(initialCapacity);
    this.pincount = new Int32Array(initialCapacity);
    this.contentId = new Int32Array(initialCapacity);
    this.contentPage = new Int32Array(initialCapacity);
    this.deviceData = new Int32Array(initialCapacity);
    this.indexOffset = new Int32Array(initialCapacity);
    this.zone[ZERO_PFN] = Zone.ZERO;
    this.refcount[ZERO_PFN] = 1;
    for (let p = HUGE_ZERO_PFN; p < HUGE_ZERO_PFN + HPAGE_PMD_NR; p++) {
      this.zone[p] = Zone.ZERO;
      this.refcount[p] = 1;
      this.flags[p] = p === HUGE_ZERO_PFN ? PG_HEAD : PG_TAIL;
    }
    this.order[HUGE_ZERO_PFN] = 9;
  }

  /** Frames below this pfn were handed out at some point (system or reserved for devices). */
  get frontier(): number {
    return this.nextSystem;
  }

  /** Reserve `count` never-used frames (aligned to `align`) for a caller's own allocator. */
  reserve(count: number, align = 1): number {
    // An int32 (Math.ceil gives a double, and a double field boxes a number per allocation).
    const start = (Math.ceil(this.nextSystem / align) * align) | 0;
    this.nextSystem = start + count;
    this.ensure(this.nextSystem);
    return start;
  }

  private ensure(limit: number): void {
    if (limit <= this.capacity) return;
    // Grow eightfold: each growth copies (and first-touches) everything, which dominates
    // large runs; fresh typed arrays are zero pages until written, so spare room is cheap.
    let cap = this.capacity;
    while (cap < limit) cap *= 8;
    // Fresh arrays are zero: every field's "nothing" is 0, so only the used part is copied.
    const grow = <T extends Uint8Array | Int32Array | Float64Array>(a: T): T => {
      const b = new (a.constructor as { new (n: number): T })(cap);
      b.set(a);
      return b;
    };
    this.zone = grow(this.zone);
    this.device = grow(this.device);
    this.flags = grow(this.flags);
    this.order = grow(this.order);
    this.refcount = grow(this.refcount);
    this.mapcount = grow(this.mapcount);
    this.pincount = grow(this.pincount);
    this.contentId = grow(this.contentId);
    this.contentPage = grow(this.contentPage);
    this.deviceData = grow(this.deviceData);
    this.indexOffset = grow(this.indexOffset);
    this.capacity = cap;
  }

  /** alloc_page / folio_alloc for system memory; returns the (head) pfn. */
  allocSystem(order: 0 | 9, flags: number): number {
    let pfn: number | undefined;
    let neverUsed = false;
    if (order === 0) {
      pfn = this.freeSystem.pop();
      if (pfn === undefined) {
        const huge = this.freeSystemHuge.pop();
        if (huge !== undefined) {
          // Split a free huge block into base pages; hand out its head.
          for (let p = huge + HPAGE_PMD_NR - 1; p > huge; p--) this.freeSystem.push(p);
          pfn = huge;
        } else {
          pfn = this.reserve(1);
          neverUsed = true;
        }
      }
    } else {
      pfn = this.freeSystemHuge.pop();
      if (pfn === undefined) {
        pfn = this.reserve(HPAGE_PMD_NR, HPAGE_PMD_NR);
        neverUsed = true;
      }
    }
    this.initFrame(pfn, order, Zone.SYSTEM, 0, flags, neverUsed);
    this.systemInUse += 1 << order;
    return pfn;
  }

  /**
   * Set up a newly allocated frame (or THP) with one reference and no mappings. A `neverUsed`
   * frame's other fields are still zero, and are left unwritten: writing zeros would touch
   * fresh memory for nothing (first touches dominate the first migration into device memory).
   */
  initFrame(pfn: number, order: 0 | 9, zone: Zone, device: number, flags: number, neverUsed = false): void {
    if (order === 0) {
      this.zone[pfn] = zone;
      this.device[pfn] = device;
      this.flags[pfn] = flags;
      this.refcount[pfn] = 1;
      if (neverUsed) return;
      this.order[pfn] = 0;
      this.mapcount[pfn] = 0;
      this.pincount[pfn] = 0;
      this.contentId[pfn] = 0;
      this.contentPage[pfn] = 0;
      this.deviceData[pfn] = 0;
      return;
    }
    const n = 1 << order;
    for (let p = pfn; p < pfn + n; p++) {
      this.zone[p] = zone;
      this.device[p] = device;
      this.flags[p] = flags | (p === pfn ? PG_HEAD : PG_TAIL);
      this.order[p] = p === pfn ? order : 0;
      this.refcount[p] = p === pfn ? 1 : 0;
      if (neverUsed) continue;
      this.mapcount[p] = 0;
      this.pincount[p] = 0;
      this.contentId[p] = 0;
      this.contentPage[p] = 0;
      this.deviceData[p] = 0;
    }
  }

  /**
   * A new exclusively owned anonymous page mapped once at `vpn`, holding a copy of `src`'s
   * contents (zeros without `src`): do_anonymous_page, do_cow_fault, wp_page_copy, and fork's
   * copy of a maybe-pinned page all start a page so.
   */
  allocAnonPage(vpn: number, src?: number): number {
    const pfn = this.allocSystem(0, PG_ANON | PG_ANON_EXCLUSIVE);
    if (src !== undefined) {
      this.contentId[pfn] = this.contentId[src]!;
      this.contentPage[pfn] = this.contentPage[src]!;
    }
    this.mapcount[pfn] = 1;
    this.setIndex(pfn, vpn);
    return pfn;
  }

  /** page->index = vpn. */
  setIndex(pfn: number, vpn: number): void {
    this.indexOffset[pfn] = indexOffsetOf(vpn);
  }

  /** page->index. */
  indexOf(pfn: number): number {
    return this.indexOffset[pfn]! + MMAP_BASE_VPN;
  }

  /** The folio head of a frame. */
  head(pfn: number): number {
    return this.flags[pfn]! & PG_TAIL ? pfn - (pfn % HPAGE_PMD_NR) : pfn;
  }

  isCompound(pfn: number): boolean {
    return (this.flags[pfn]! & (PG_HEAD | PG_TAIL)) !== 0;
  }

  /** split_folio: a THP becomes 512 independent base pages, each with the head's counts. */
  /** `pmdOnly`: Linux would split only the PMD mapping (the pages keep PG_LARGE_HEAD / _TAIL). */
  splitFolio(head: number, pmdOnly = false): void {
    const ref = this.refcount[head]!;
    const map = this.mapcount[head]!;
    const pin = this.pincount[head]!;
    const flags = this.flags[head]! & ~(PG_HEAD | PG_TAIL | PG_LARGE_HEAD | PG_LARGE_TAIL);
    for (let p = head; p < head + HPAGE_PMD_NR; p++) {
      this.flags[p] = flags | (pmdOnly ? (p === head ? PG_LARGE_HEAD : PG_LARGE_TAIL) : 0);
      this.order[p] = 0;
      this.refcount[p] = ref;
      this.mapcount[p] = map;
      this.pincount[p] = pin;
    }
  }

  /** Return a system frame (or a whole THP) to the allocator. */
  freeSystemFrame(pfn: number): void {
    const order = this.order[pfn]!;
    const n = 1 << order;
    // The other fields are set again when the frame is next allocated (initFrame).
    for (let p = pfn; p < pfn + n; p++) {
      this.zone[p] = Zone.FREE;
      this.refcount[p] = 0;
      this.mapcount[p] = 0;
    }
    this.systemInUse -= n;
    if (order === 0) this.freeSystem.push(pfn);
    else this.freeSystemHuge.push(pfn);
  }

  /** A copy of every frame in use and of the allocator (checkpoints for reverse debugging). */
  save(): FramesState {
    const n = this.nextSystem;
    return {
      arrays: [this.zone, this.device, this.flags, this.order, this.refcount, this.mapcount, this.pincount,
        this.contentId, this.contentPage, this.deviceData, this.indexOffset].map((a) => a.slice(0, n)),
      nextSystem: n,
      freeSystem: this.freeSystem.save(),
      freeSystemHuge: this.freeSystemHuge.save(),
      systemInUse: this.systemInUse,
    };
  }

  load(s: FramesState): void {
    const targets = [this.zone, this.device, this.flags, this.order, this.refcount, this.mapcount, this.pincount,
      this.contentId, this.contentPage, this.deviceData, this.indexOffset];
    targets.forEach((a, i) => {
      a.set(s.arrays[i]!);
      a.fill(0, s.nextSystem, Math.max(s.nextSystem, this.nextSystem));
    });
    this.nextSystem = s.nextSystem;
    this.freeSystem.load(s.freeSystem);
    this.freeSystemHuge.load(s.freeSystemHuge);
    this.systemInUse = s.systemInUse;
  }

  /** Bytes of the page arrays in use (for the benchmark's bytes-per-page figure). */
  get bytes(): number {
    return this.nextSystem * (1 + 1 + 1 + 1 + 4 * 7);
  }
}
