// struct page / struct folio: one slot per physical frame in chunked typed arrays (no object
// per page). System frames and ZONE_DEVICE frames share one pfn space; device frames are
// handed out by memremap.ts. Frame 0 is the shared zero page, frames 512..1023 the huge zero
// page. A THP is 512 contiguous frames starting at a 512-aligned head.

import { HPAGE_PMD_NR, MMAP_BASE_VPN } from './constants';
import {
  ByteField, type ChunkOwner, chunkRoom, type FieldArray, type FieldState, FRAME_CHUNK, FRAME_CHUNK_SHIFT, type FrameField, FrameStack, Int32Field, LevelField, SmallCountField,
} from './frameStore';
import { ScratchUint8 } from './scratch';

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
/** A hugetlb folio (folio_test_hugetlb): it returns to the hstate's pool when freed. */
export const PG_HUGETLB = 1 << 7;
/** Huge pages in the 2 MiB pool: kernel/init writes 8 to /proc/sys/vm/nr_hugepages in the VM. */
export const DEFAULT_NR_HUGEPAGES = 8;

/**
 * page->index in four bytes. Indices are of two kinds: an mmap's pages (its offset is its
 * address: every mapping lies in [MMAP_BASE, TASK_SIZE), and mremap's kept offsets come from
 * addresses there) and file offsets (a file page, an anonymous page of a private file mapping).
 * The first are kept as their distance from MMAP_BASE_VPN (so an absent chunk, all zeros, reads
 * as MMAP_BASE_VPN), the second below -2^30, apart from any such distance.
 */
const FILE_INDEX_LIMIT = 2 ** 30;
const FILE_INDEX_BIAS = 2 ** 31;

/** What indexOffset holds for page->index `index`. */
export function indexOffsetOf(index: number): number {
  // `| 0`: an int32 in range, so per-page loops box nothing (the checks keep it in range).
  if (index < FILE_INDEX_LIMIT && index >= 0) return (index - FILE_INDEX_BIAS) | 0;
  const o = index - MMAP_BASE_VPN;
  if (o < -FILE_INDEX_LIMIT || o >= FILE_INDEX_BIAS) throw new RangeError(`page index ${index} is neither a file offset nor near the mmap base`);
  return o | 0;
}

/** page->index of what indexOffset holds (indexOffsetOf's inverse). */
function indexOfOffset(o: number): number {
  return o < -FILE_INDEX_LIMIT ? o + FILE_INDEX_BIAS : o + MMAP_BASE_VPN;
}

export const ZERO_PFN = 0;
export const HUGE_ZERO_PFN = HPAGE_PMD_NR;
/** No page: used in entries without a frame. */
export const NO_PFN = -1;

export interface FramesState {
  /** Each field's chunks (shared with the live store until it writes them). */
  readonly fields: readonly FieldState[];
  /** Frames in use per chunk. */
  readonly live: Int32Array;
  readonly nextSystem: number;
  readonly freeSystem: Int32Array;
  readonly freeSystemHuge: Int32Array;
  readonly systemInUse: number;
  readonly hstate: { readonly nr: number; readonly inUse: number; readonly resv: number };
  /** Bytes of chunks this checkpoint was the first to keep (written since the one before). */
  readonly bytes: number;
}

/**
 * Calls `fn` for each run of `pfns[0..n)`: consecutive entries whose frames follow one another
 * (`step` 1, or -1 for frames handed out downwards), in one frame-store chunk, with the same
 * `fresh` mark; `k` is the run's first entry, `a` its first frame, [lo, hi) its frames.
 */
export function forEachFrameRun(pfns: Int32Array, n: number, fresh: Uint8Array | undefined,
  fn: (k: number, len: number, a: number, step: 1 | -1, lo: number, hi: number) => void): void {
  for (let k = 0; k < n;) {
    const a = pfns[k]!;
    const step = k + 1 < n && pfns[k + 1] === a - 1 ? -1 : 1;
    // Bounded once by a's chunk.
    const limit = Math.min(n, k + chunkRoom(a, step));
    let j = k + 1;
    if (fresh === undefined) {
      for (let want = a + step; j < limit && pfns[j] === want; want += step) j++;
    } else {
      const fk = fresh[k];
      for (let want = a + step; j < limit && pfns[j] === want && fresh[j] === fk; want += step) j++;
    }
    const len = j - k;
    const lo = step === 1 ? a : a - len + 1;
    fn(k, len, a, step, lo, lo + len);
    k = j;
  }
}

export class PageFrames implements ChunkOwner {
  readonly zone = new ByteField(this);
  /** Device index for ZONE_DEVICE frames. */
  readonly device = new ByteField(this);
  readonly flags = new ByteField(this);
  readonly order = new ByteField(this);
  readonly refcount = new SmallCountField(this);
  /** Crossings of 1 and 0 are counted: shared (mapcount > 1) and pinned (pincount > 0) show in the views. */
  readonly mapcount = new SmallCountField(this, 1);
  readonly pincount = new SmallCountField(this, 0);
  readonly contentId = new Int32Field(this);
  readonly contentPage = new Int32Field(this);
  /** zone_device_data: the id of the mirror that migrated a device page there (ids start at 1; 0 = none). */
  readonly deviceData = new SmallCountField(this);
  /**
   * page->index: an anonymous page's linear_page_index where it was first mapped, a file page's
   * file offset (vmaAddress.ts), in four bytes (indexOffsetOf / indexOf).
   */
  readonly indexOffset = new Int32Field(this);
  /**
   * folio->mapping of an anonymous page: its anon_vma (Vma.anonVmaId of the VMA it was first
   * mapped in, kept by migration), which rmap_walk_anon walks (rmapWalk.ts). Kept on every page
   * of a folio, and read only for anonymous pages (set when each is made: what a free or a
   * file frame reads is left over), so the pages of one VMA cost nothing (LevelField).
   */
  readonly anonVma = new LevelField(this);
  private readonly fields: FrameField<FieldArray>[] = [this.zone, this.device, this.flags, this.order, this.refcount,
    this.mapcount, this.pincount, this.contentId, this.contentPage, this.deviceData, this.indexOffset, this.anonVma];
  /** Chunks the store has room for (up to the frontier). */
  private chunkCount = 0;
  /** Frames in use (zone not FREE) per chunk. */
  private live = new Int32Array(0);
  /** Chunks whose last frame in use was freed: given back at the next reclaim if still empty. */
  private emptied: number[] = [];
  /** Bump pointer for never-used system frames (THP-aligned when needed). */
  private nextSystem = 2 * HPAGE_PMD_NR;
  private readonly freeSystem = new FrameStack();
  private readonly freeSystemHuge = new FrameStack();
  /** Frames in use per zone, for accounting and invariants. */
  systemInUse = 0;
  /** allocSystemRun's never-used marks. */
  private readonly freshMarks = new ScratchUint8();
  /** Folio splits and checkpoint loads: frame state the views read that changed in bulk. */
  private reshapes = 0;
  /**
   * The 2 MiB hstate's pool (mm/hugetlb.c struct hstate): nr_hugepages (kernel/init sets 8 in
   * the VM), folios in use (PG_HUGETLB ones, counted as they are allocated and freed) and pages
   * reserved for mappings but not faulted yet. hugetlb.ts allocates from it.
   */
  readonly hstate = { nr: DEFAULT_NR_HUGEPAGES, inUse: 0, resv: 0 };

  constructor() {
    this.ensure(this.nextSystem);
    this.live[0] = 1 + HPAGE_PMD_NR;
    this.zone.set(ZERO_PFN, Zone.ZERO);
    this.refcount.set(ZERO_PFN, 1);
    for (let p = HUGE_ZERO_PFN; p < HUGE_ZERO_PFN + HPAGE_PMD_NR; p++) {
      this.zone.set(p, Zone.ZERO);
      this.refcount.set(p, 1);
      this.flags.set(p, p === HUGE_ZERO_PFN ? PG_HEAD : PG_TAIL);
    }
    this.order.set(HUGE_ZERO_PFN, 9);
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

  /** Room for frames below `limit`: a slot per chunk (the chunks come on first write). */
  private ensure(limit: number): void {
    const n = Math.ceil(limit / FRAME_CHUNK);
    if (n <= this.chunkCount) return;
    for (const f of this.fields) f.grow(n);
    const live = new Int32Array(n);
    live.set(this.live);
    this.live = live;
    this.chunkCount = n;
  }

  /** A write is about to make chunk `ci`: it must lie below the frontier. */
  checkChunk(ci: number): void {
    if (ci >= this.chunkCount) throw new Error(`frame ${ci * FRAME_CHUNK} or above was never handed out (frontier ${this.nextSystem})`);
  }

  /** Give back the chunks of every field whose frames all became free since the last call. */
  reclaim(): void {
    if (this.emptied.length === 0) return;
    const emptied = this.emptied;
    this.emptied = [];
    for (const ci of emptied) {
      if (this.live[ci] !== 0) continue;
      for (const f of this.fields) f.release(ci);
    }
  }

  /** A free base frame: the last freed, else the head of a free huge block split into base frames. */
  private takeFreeBase(): number | undefined {
    const pfn = this.freeSystem.pop();
    if (pfn !== undefined) return pfn;
    const huge = this.freeSystemHuge.pop();
    if (huge === undefined) return undefined;
    for (let p = huge + HPAGE_PMD_NR - 1; p > huge; p--) this.freeSystem.push(p);
    return huge;
  }

  /** alloc_page / folio_alloc for system memory; returns the (head) pfn. */
  allocSystem(order: 0 | 9, flags: number): number {
    let pfn: number | undefined;
    let neverUsed = false;
    if (order === 0) {
      pfn = this.takeFreeBase();
      if (pfn === undefined) {
        pfn = this.reserve(1);
        neverUsed = true;
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
    if ((flags & PG_HUGETLB) !== 0) this.hstate.inUse++;
    return pfn;
  }

  /**
   * Set up a newly allocated frame (or THP) with one reference and no mappings. A `neverUsed`
   * frame's other fields are still zero, and are left unwritten.
   */
  initFrame(pfn: number, order: 0 | 9, zone: Zone, device: number, flags: number, neverUsed = false): void {
    // Counted first: the chunk must not be given back while its fields are written.
    this.live[pfn >>> FRAME_CHUNK_SHIFT] += 1 << order;
    if (order === 0) {
      this.zone.set(pfn, zone);
      this.device.set(pfn, device);
      this.flags.set(pfn, flags);
      this.refcount.set(pfn, 1);
      if (neverUsed) return;
      this.order.set(pfn, 0);
      this.mapcount.set(pfn, 0);
      this.pincount.set(pfn, 0);
      this.contentId.set(pfn, 0);
      this.contentPage.set(pfn, 0);
      this.deviceData.set(pfn, 0);
      // Not left from the frame's last use: a chunk given back and made again reads 0 there.
      this.indexOffset.set(pfn, 0);
      return;
    }
    const n = 1 << order;
    for (let p = pfn; p < pfn + n; p++) {
      this.zone.set(p, zone);
      this.device.set(p, device);
      this.flags.set(p, flags | (p === pfn ? PG_HEAD : PG_TAIL));
      this.order.set(p, p === pfn ? order : 0);
      this.refcount.set(p, p === pfn ? 1 : 0);
      if (neverUsed) continue;
      this.mapcount.set(p, 0);
      this.pincount.set(p, 0);
      this.contentId.set(p, 0);
      this.contentPage.set(p, 0);
      this.deviceData.set(p, 0);
      this.indexOffset.set(p, 0);
    }
  }

  /**
   * Frames [pfn, pfn + n) become free (the other fields are set again when a frame is next
   * allocated, see initFrame); a chunk left with no frame in use is given back later.
   */
  freeFrames(pfn: number, n: number): void {
    this.zone.fill(pfn, pfn + n, Zone.FREE);
    this.refcount.fill(pfn, pfn + n, 0);
    this.mapcount.fill(pfn, pfn + n, 0);
    const ci = pfn >>> FRAME_CHUNK_SHIFT;
    this.live[ci] -= n;
    if (this.live[ci] === 0) this.emptied.push(ci);
  }

  /**
   * Copy the contents (content id and page) of frame src[srcAt + k] to dst[k], for k of [0, n):
   * a run of consecutive frames on both sides at a time, each side going up or down (frames
   * freed in address order are handed out again downwards).
   */
  copyContents(src: Int32Array, srcAt: number, dst: Int32Array, n: number): void {
    for (let k = 0; k < n;) {
      const a = src[srcAt + k]!;
      const b = dst[k]!;
      const sa: 1 | -1 = k + 1 < n && src[srcAt + k + 1] === a - 1 ? -1 : 1;
      const sb: 1 | -1 = k + 1 < n && dst[k + 1] === b - 1 ? -1 : 1;
      // Bounded once by both chunks.
      const limit = Math.min(n - k, chunkRoom(a, sa), chunkRoom(b, sb));
      let len = 1;
      while (len < limit && src[srcAt + k + len] === a + len * sa && dst[k + len] === b + len * sb) len++;
      this.contentId.copyRun(a, sa, b, sb, len);
      this.contentPage.copyRun(a, sa, b, sb, len);
      k += len;
    }
  }

  /** The base frames pfns[0..n), freed in that order, go on the system free list. */
  pushFreeSystem(pfns: Int32Array, n: number): void {
    this.freeSystem.pushRun(pfns, n);
  }

  /**
   * A new exclusively owned anonymous page mapped once, with page->index `index` (vmaAddress.ts
   * linearPageIndex) under anon_vma `anonVma` (Vma.anonVmaId), holding a copy of `src`'s contents
   * (zeros without `src`): do_anonymous_page, do_cow_fault, wp_page_copy, and fork's copy of a
   * maybe-pinned page all start a page so.
   */
  allocAnonPage(index: number, anonVma: number, src?: number): number {
    const pfn = this.allocSystem(0, PG_ANON | PG_ANON_EXCLUSIVE);
    if (src !== undefined) {
      this.contentId.set(pfn, this.contentId.get(src));
      this.contentPage.set(pfn, this.contentPage.get(src));
    }
    this.mapcount.set(pfn, 1);
    this.setAnon(pfn, 1, index, anonVma);
    return pfn;
  }

  /**
   * allocAnonPage (no source) for `n` pages of indices index, index + 1, …: the frames n calls hand
   * out, in that order, into `out`, each ending as that call leaves it; the fields are written a
   * run of consecutive frames at a time (do_anonymous_page over a fresh range). With `content`,
   * the pages are then written with content id `content.id`, page `content.page` onwards.
   */
  allocAnonPages(index: number, anonVma: number, n: number, out: Int32Array, content?: { readonly id: number; readonly page: number }): void {
    this.allocSystemRun(n, PG_ANON | PG_ANON_EXCLUSIVE, out);
    forEachFrameRun(out, n, undefined, (k, len, a, step, lo, hi) => {
      if (content !== undefined) {
        this.contentId.fill(lo, hi, content.id);
        this.contentPage.setSequence(a, len, step, content.page + k);
      }
      this.mapcount.fill(lo, hi, 1);
      this.indexOffset.setSequence(a, len, step, indexOffsetOf(index + k));
      this.anonVma.fill(lo, hi, anonVma);
    });
  }

  /**
   * allocSystem(0, flags) `n` times, into `out`: the frames those calls hand out, in that order,
   * set up as they leave them, a run of consecutive frames at a time.
   */
  allocSystemRun(n: number, flags: number, out: Int32Array): void {
    // Which frames, as allocSystem picks them; 1 in `fresh` for a never-used frame.
    const fresh = this.freshMarks.zeroed(n);
    for (let k = 0; k < n; k++) {
      // takeFreeBase's free list a run at a time (its top run's pfns, in pop order).
      const popped = this.freeSystem.popRun(out, k, n - k);
      if (popped > 0) {
        k += popped - 1;
        continue;
      }
      const pfn = this.takeFreeBase();
      if (pfn === undefined) {
        // Nothing free: this and the rest come from the frontier, one after the other.
        const first = this.reserve(n - k);
        for (let i = k; i < n; i++) {
          out[i] = first + (i - k);
          fresh[i] = 1;
        }
        break;
      }
      out[k] = pfn;
    }
    this.initFrames(out, n, fresh, Zone.SYSTEM, 0, flags);
    this.systemInUse += n;
  }

  /**
   * initFrame(pfns[k], 0, zone, device, flags, fresh[k] === 1) for k of [0, n), in that order:
   * the fields written a run of consecutive frames at a time.
   */
  initFrames(pfns: Int32Array, n: number, fresh: Uint8Array, zone: Zone, device: number, flags: number): void {
    for (let k = 0; k < n; k++) this.live[pfns[k]! >>> FRAME_CHUNK_SHIFT]++;
    forEachFrameRun(pfns, n, fresh, (k, _len, _a, _step, lo, hi) => {
      this.zone.fill(lo, hi, zone);
      this.device.fill(lo, hi, device);
      this.flags.fill(lo, hi, flags);
      this.refcount.fill(lo, hi, 1);
      if (fresh[k] === 1) return;
      this.order.fill(lo, hi, 0);
      this.mapcount.fill(lo, hi, 0);
      this.pincount.fill(lo, hi, 0);
      this.contentId.fill(lo, hi, 0);
      this.contentPage.fill(lo, hi, 0);
      this.deviceData.fill(lo, hi, 0);
      this.indexOffset.fill(lo, hi, 0);
    });
  }

  /** page->index = index (a page offset: vmaAddress.ts). */
  setIndex(pfn: number, index: number): void {
    this.indexOffset.set(pfn, indexOffsetOf(index));
  }

  /**
   * __folio_set_anon for the `n` pages of a folio from `pfn`: page->index index, index + 1, …
   * and anon_vma `anonVma` (Vma.anonVmaId of the VMA it is mapped in).
   */
  setAnon(pfn: number, n: number, index: number, anonVma: number): void {
    this.indexOffset.setSequence(pfn, n, 1, indexOffsetOf(index));
    this.anonVma.fill(pfn, pfn + n, anonVma);
  }

  /**
   * folio_move_anon_rmap: the `n` pages of a folio from `head`, reused in place by a write fault
   * of the VMA with anon_vma `anonVma` (its last user, the page not PageAnonExclusive yet), are
   * under that anon_vma from now on.
   */
  moveAnonRmap(head: number, n: number, anonVma: number): void {
    this.anonVma.fill(head, head + n, anonVma);
  }

  /**
   * folio_migrate_mapping: the `n` pages from `dst` take page->index and the anon_vma of the
   * `n` pages from `src`.
   */
  migrateMapping(dst: number, src: number, n: number): void {
    if (n === 1) {
      this.indexOffset.set(dst, this.indexOffset.get(src));
      this.anonVma.set(dst, this.anonVma.get(src));
      return;
    }
    this.indexOffset.copyRun(src, 1, dst, 1, n);
    this.anonVma.copyRun(src, 1, dst, 1, n);
  }

  /** page->index. */
  indexOf(pfn: number): number {
    return indexOfOffset(this.indexOffset.get(pfn));
  }

  /**
   * Changes whenever the state a residency view reads of a mapped frame may change without a
   * write to the page table that maps it: mapcount crossing 1, pincount crossing 0, a folio
   * split, a checkpoint loaded. Zone and device change only for frames no entry maps.
   */
  get residencyGen(): number {
    return this.mapcount.crossings + this.pincount.crossings + this.reshapes;
  }

  /** The folio head of a frame. */
  head(pfn: number): number {
    return this.flags.get(pfn) & PG_TAIL ? pfn - (pfn % HPAGE_PMD_NR) : pfn;
  }

  /**
   * The frame that holds a page's folio counts (folio->_refcount, folio->_pincount): the first
   * page of a PTE-mapped large folio (PG_LARGE_*), else the compound head. The model keeps such
   * a folio's pages as base pages (own mapcount, order 0) but its references and pins whole, so
   * the folio, all 512 frames, lives until its last reference goes, however few of its pages
   * are still mapped (Linux only queues a partly unmapped folio, deferred_split_folio).
   */
  folioHead(pfn: number): number {
    return this.flags.get(pfn) & (PG_TAIL | PG_LARGE_HEAD | PG_LARGE_TAIL) ? pfn - (pfn % HPAGE_PMD_NR) : pfn;
  }

  /** Sum of the page mapcounts of the PTE-mapped large folio whose first page is `head` (folio_mapcount). */
  largeFolioMapcount(head: number): number {
    let total = 0;
    for (let p = head; p < head + HPAGE_PMD_NR; p++) total += this.mapcount.get(p);
    return total;
  }

  /**
   * The references of a PTE-mapped large folio (first page `head`) beyond its mappings' (a pin,
   * a migration's): can_split_folio wants none, the caller's own aside.
   */
  largeFolioExtraRefs(head: number): number {
    return this.refcount.get(head) - this.largeFolioMapcount(head);
  }

  /**
   * __split_huge_page of a PTE-mapped large folio (first page `head`, can_split_folio true): its
   * pages become base pages, each with a reference per mapping. Returns the pages left with none
   * (unmapped since the PMD split), which the caller frees.
   */
  splitLargeFolio(head: number): number[] {
    const extra = this.largeFolioExtraRefs(head);
    if (extra !== 0) throw new Error(`split_folio of the large folio at pfn ${head} with ${extra} references beyond its mappings`);
    this.reshapes++;
    const unused: number[] = [];
    for (let p = head; p < head + HPAGE_PMD_NR; p++) {
      this.flags.set(p, this.flags.get(p) & ~(PG_LARGE_HEAD | PG_LARGE_TAIL));
      const map = this.mapcount.get(p);
      this.refcount.set(p, map);
      if (map === 0) unused.push(p);
    }
    return unused;
  }

  /**
   * A PTE-mapped large folio (first page `head`) whose last reference went is one folio again,
   * to be freed whole (free_frozen_pages of its order).
   */
  rejoinLargeFolio(head: number): void {
    this.reshapes++;
    for (let p = head; p < head + HPAGE_PMD_NR; p++) {
      this.flags.set(p, (this.flags.get(p) & ~(PG_LARGE_HEAD | PG_LARGE_TAIL)) | (p === head ? PG_HEAD : PG_TAIL));
    }
    this.order.set(head, 9);
  }

  isCompound(pfn: number): boolean {
    return (this.flags.get(pfn) & (PG_HEAD | PG_TAIL)) !== 0;
  }

  /**
   * split_folio: a THP becomes 512 independent base pages, each with the head's counts. With
   * `pmdOnly` Linux splits only the PMD mapping (__split_huge_pmd_locked): the pages become a
   * PTE-mapped large folio (PG_LARGE_HEAD / _TAIL), each page mapped where the PMD mapped the
   * folio, and each new mapping takes a reference on the folio (folio_ref_add), kept with its
   * pins on the first page (folioHead).
   */
  splitFolio(head: number, pmdOnly = false): void {
    const ref = this.refcount.get(head);
    const map = this.mapcount.get(head);
    const pin = this.pincount.get(head);
    const flags = this.flags.get(head) & ~(PG_HEAD | PG_TAIL | PG_LARGE_HEAD | PG_LARGE_TAIL);
    this.reshapes++;
    for (let p = head; p < head + HPAGE_PMD_NR; p++) {
      this.flags.set(p, flags | (pmdOnly ? (p === head ? PG_LARGE_HEAD : PG_LARGE_TAIL) : 0));
      this.order.set(p, 0);
      this.refcount.set(p, !pmdOnly ? ref : p === head ? ref + (HPAGE_PMD_NR - 1) * map : 0);
      this.mapcount.set(p, map);
      this.pincount.set(p, pmdOnly && p !== head ? 0 : pin);
    }
  }

  /** Return a system frame (or a whole THP) to the allocator. */
  freeSystemFrame(pfn: number): void {
    const order = this.order.get(pfn);
    const n = 1 << order;
    // free_huge_folio: a hugetlb folio goes back to its pool.
    if ((this.flags.get(pfn) & PG_HUGETLB) !== 0) this.hstate.inUse--;
    this.freeFrames(pfn, n);
    this.systemInUse -= n;
    if (order === 0) this.freeSystem.push(pfn);
    else this.freeSystemHuge.push(pfn);
  }

  /**
   * The frames and the allocator, for a checkpoint (reverse debugging). The chunks are shared,
   * not copied: the store copies a chunk before its next write, so a checkpoint costs the
   * chunks written since the one before.
   */
  save(): FramesState {
    let bytes = 0;
    const fields = this.fields.map((f) => {
      const s = f.share();
      bytes += s.newBytes;
      return s.state;
    });
    return {
      fields,
      live: this.live.slice(),
      nextSystem: this.nextSystem,
      freeSystem: this.freeSystem.save(),
      freeSystemHuge: this.freeSystemHuge.save(),
      systemInUse: this.systemInUse,
      hstate: { ...this.hstate },
      bytes,
    };
  }

  load(s: FramesState): void {
    this.reshapes++;
    this.fields.forEach((f, i) => f.adopt(s.fields[i]!));
    this.nextSystem = s.nextSystem;
    this.chunkCount = 0;
    this.live = new Int32Array(0);
    this.ensure(this.nextSystem);
    this.live.set(s.live.subarray(0, this.chunkCount));
    // Chunks with no frame in use that still hold memory go at the next reclaim.
    this.emptied = [];
    for (let ci = 0; ci < this.chunkCount; ci++) {
      if (this.live[ci] === 0 && this.fields.some((f) => f.has(ci))) this.emptied.push(ci);
    }
    this.freeSystem.load(s.freeSystem);
    this.freeSystemHuge.load(s.freeSystemHuge);
    this.systemInUse = s.systemInUse;
    Object.assign(this.hstate, s.hstate);
  }

  /** Bytes of the frame store's chunks (for the benchmark's bytes-per-page figure). */
  get bytes(): number {
    return this.fields.reduce((n, f) => n + f.bytes, 0);
  }
}
