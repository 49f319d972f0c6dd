// The storage under struct page (page.ts): one typed-array field per struct page member, in
// chunks made on first write and shared with checkpoints until written; and the free lists of
// frame numbers, kept as runs.

/** What a field asks of the store that owns it (PageFrames) when it is about to take a chunk. */
export interface ChunkOwner {
  /** A write is about to make chunk `ci`: throws unless the store handed out frames there. */
  checkChunk(ci: number): void;
  /** Give back the chunks whose frames are all free again. */
  reclaim(): void;
}

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

/** Frames per chunk of the frame store (64 Ki: a chunk of a 4-byte field is 256 KiB). */
export const FRAME_CHUNK_SHIFT = 16;
export const FRAME_CHUNK = 1 << FRAME_CHUNK_SHIFT;
const FRAME_MASK = FRAME_CHUNK - 1;
/**
 * Bytes of emptied chunks a field keeps for reuse instead of leaving them to the garbage
 * collector: a migration of a whole buffer empties system chunks as fast as it fills device
 * ones, and garbage waiting for a collection is resident memory all the same.
 */
const SPARE_BYTES = 8 * 2 ** 20;

export type FieldArray = Uint8Array | Int32Array;

/**
 * One field of struct page for every pfn, in chunks of FRAME_CHUNK frames made on the first
 * non-zero write: every field's "nothing" is 0, so an absent chunk reads as zeros, fields that
 * stay 0 in a chunk (pincount, deviceData of system frames) cost nothing, and a chunk whose
 * frames are all free again is given back (PageFrames.reclaim). A chunk may be shared with
 * checkpoints: the first write after a save copies it.
 */
export class FrameField<T extends FieldArray> {
  protected chunks: (T | undefined)[] = [];
  /** 1 where this field owns chunk c and may write it in place; 0 where absent or shared. */
  protected owned = new Uint8Array(0);
  private readonly spare: T[] = [];

  constructor(private readonly store: ChunkOwner, private readonly make: (n: number) => T) {}

  get(pfn: number): number {
    const c = this.chunks[pfn >>> FRAME_CHUNK_SHIFT];
    return c === undefined ? 0 : c[pfn & FRAME_MASK]!;
  }

  /**
   * Chunk `ci`'s values (frames ci·FRAME_CHUNK onwards; undefined: all 0), for a reader going
   * through many frames of one chunk (tableRuns.ts). Read only: a checkpoint may share it. In a
   * SmallCountField, a byte LARGE stands for a value that get() finds in its overflow map.
   */
  chunkAt(ci: number): T | undefined {
    return this.chunks[ci];
  }

  set(pfn: number, value: number): void {
    const ci = pfn >>> FRAME_CHUNK_SHIFT;
    if (this.owned[ci] !== 1) {
      if (value === 0 && this.chunks[ci] === undefined) return;
      this.own(ci);
    }
    this.chunks[ci]![pfn & FRAME_MASK] = value;
  }

  add(pfn: number, delta: number): void {
    this.set(pfn, this.get(pfn) + delta);
  }

  /** set(p, value) for every p of [from, to), a chunk at a time. */
  fill(from: number, to: number, value: number): void {
    for (let p = from; p < to;) {
      const ci = p >>> FRAME_CHUNK_SHIFT;
      const stop = Math.min(to, (ci + 1) * FRAME_CHUNK);
      if (this.owned[ci] !== 1) {
        if (value === 0 && this.chunks[ci] === undefined) {
          p = stop;
          continue;
        }
        this.own(ci);
      }
      this.fillOwned(ci, p & FRAME_MASK, stop - p, value);
      p = stop;
    }
  }

  /** Slots [i, i + n) of owned chunk `ci` become `value`. */
  protected fillOwned(ci: number, i: number, n: number, value: number): void {
    this.chunks[ci]!.fill(value, i, i + n);
  }

  /**
   * set(pfn + k * step, value + k) for k of [0, n) (`step` 1 or -1: frames handed out in
   * descending order), all in one chunk: page->index and the pattern page of a range of pages.
   */
  setSequence(pfn: number, n: number, step: 1 | -1, value: number): void {
    const ci = pfn >>> FRAME_CHUNK_SHIFT;
    if (this.owned[ci] !== 1) {
      // A lone zero written into an absent chunk leaves it absent, as set() does.
      if (this.chunks[ci] === undefined && n === 1 && value === 0) return;
      this.own(ci);
    }
    const c = this.chunks[ci]!;
    let i = pfn & FRAME_MASK;
    for (let k = 0; k < n; k++, i += step) c[i] = value + k;
  }

  /**
   * set(dst + k * dstStep, get(src + k * srcStep)) for k of [0, n) (steps 1 or -1: frames handed
   * out downwards), where the n source and the n destination frames each lie in one chunk and do
   * not overlap (a page's contents copied to its new frame).
   */
  copyRun(src: number, srcStep: 1 | -1, dst: number, dstStep: 1 | -1, n: number): void {
    const from = this.chunks[src >>> FRAME_CHUNK_SHIFT];
    if (from === undefined) {
      const lo = dstStep === 1 ? dst : dst - n + 1;
      this.fill(lo, lo + n, 0);
      return;
    }
    const ci = dst >>> FRAME_CHUNK_SHIFT;
    if (this.owned[ci] !== 1) this.own(ci);
    const to = this.chunks[ci]!;
    let i = src & FRAME_MASK;
    let j = dst & FRAME_MASK;
    if (srcStep === 1 && dstStep === 1 && n > 16) {
      to.set(from.subarray(i, i + n), j);
      return;
    }
    for (let k = 0; k < n; k++, i += srcStep, j += dstStep) to[j] = from[i]!;
  }

  /** The chunk holding `pfn`, for reading only (undefined: zeros there); the slot is pfn & (FRAME_CHUNK - 1). */
  peek(pfn: number): T | undefined {
    return this.chunks[pfn >>> FRAME_CHUNK_SHIFT];
  }

  /** Make chunk `ci` this field's own: new (zeros) or a copy of the shared one. */
  protected own(ci: number): void {
    this.store.checkChunk(ci);
    const shared = this.chunks[ci];
    // Memory is about to be taken: first give back chunks that emptied since the last time.
    if (shared === undefined) this.store.reclaim();
    const spare = this.spare.pop();
    const fresh = spare === undefined ? this.make(FRAME_CHUNK) : (spare.fill(0) as T);
    if (shared !== undefined) fresh.set(shared);
    this.chunks[ci] = fresh;
    this.owned[ci] = 1;
  }

  /** Drop chunk `ci` (all its frames are free). */
  release(ci: number): void {
    const c = this.chunks[ci];
    if (c === undefined) return;
    if (this.owned[ci] === 1 && (this.spare.length + 1) * c.byteLength <= SPARE_BYTES) this.spare.push(c);
    this.chunks[ci] = undefined;
    this.owned[ci] = 0;
  }

  has(ci: number): boolean {
    return this.chunks[ci] !== undefined;
  }

  /** Room for `n` chunks. */
  grow(n: number): void {
    while (this.chunks.length < n) this.chunks.push(undefined);
    if (this.owned.length < n) {
      const o = new Uint8Array(n);
      o.set(this.owned);
      this.owned = o;
    }
  }

  /** The chunks, from now on shared with the caller (a checkpoint): each is copied before its next write. */
  share(): { state: FieldState; newBytes: number } {
    let newBytes = 0;
    this.chunks.forEach((c, i) => {
      if (c !== undefined && this.owned[i] === 1) newBytes += c.byteLength;
    });
    this.owned.fill(0);
    return { state: { chunks: this.chunks.slice() }, newBytes };
  }

  /** Take a checkpoint's chunks (shared: copied before the first write to each). */
  adopt(state: FieldState): void {
    this.chunks = state.chunks.slice() as (T | undefined)[];
    this.owned = new Uint8Array(Math.max(this.owned.length, state.chunks.length));
    this.grow(this.owned.length);
  }

  get bytes(): number {
    let n = 0;
    for (const c of this.chunks) if (c !== undefined) n += c.byteLength;
    return n;
  }
}

/**
 * FrameField's reads and writes again, in a class of their own per element type: V8 keeps type
 * feedback per function, so one get() shared by byte and int32 fields reads through a
 * polymorphic access, and these are the simulator's hottest per-page calls.
 */
export class ByteField extends FrameField<Uint8Array> {
  constructor(store: ChunkOwner) {
    super(store, (n) => new Uint8Array(n));
  }

  override get(pfn: number): number {
    const c = this.chunks[pfn >>> FRAME_CHUNK_SHIFT];
    return c === undefined ? 0 : c[pfn & FRAME_MASK]!;
  }

  override set(pfn: number, value: number): void {
    const ci = pfn >>> FRAME_CHUNK_SHIFT;
    if (this.owned[ci] !== 1) {
      if (value === 0 && this.chunks[ci] === undefined) return;
      this.own(ci);
    }
    this.chunks[ci]![pfn & FRAME_MASK] = value;
  }
}

export class Int32Field extends FrameField<Int32Array> {
  constructor(store: ChunkOwner) {
    super(store, (n) => new Int32Array(n));
  }

  override get(pfn: number): number {
    const c = this.chunks[pfn >>> FRAME_CHUNK_SHIFT];
    return c === undefined ? 0 : c[pfn & FRAME_MASK]!;
  }

  override set(pfn: number, value: number): void {
    const ci = pfn >>> FRAME_CHUNK_SHIFT;
    if (this.owned[ci] !== 1) {
      if (value === 0 && this.chunks[ci] === undefined) return;
      this.own(ci);
    }
    this.chunks[ci]![pfn & FRAME_MASK] = value;
  }
}

/** A field's part of a checkpoint. */
export interface FieldState {
  readonly chunks: readonly (FieldArray | undefined)[];
  /** SmallCountField: the values that did not fit a byte. */
  readonly large?: ReadonlyMap<number, number>;
}

/** A SmallCountField byte saying "the value is in the overflow map". */
export const LARGE = 255;

/**
 * A count that is almost always small (refcount, mapcount, pincount, a mirror id): a byte per
 * frame, and any value outside 0..254 (a page mapped by hundreds of processes, a negative count
 * a bug left) kept exactly in a map beside it.
 */
export class SmallCountField extends FrameField<Uint8Array> {
  private large = new Map<number, number>();
  /**
   * Writes that took a count across `crossAt` (above it before and not after, or the reverse;
   * a fill counts one at most): what the residency views read of mapcount (> 1: shared) and
   * pincount (> 0: pinned), so their cache of a page table's runs (tableRuns.ts) knows that a
   * frame's state moved without a page-table write.
   */
  crossings = 0;

  /** `crossAt`: the threshold whose crossings are counted (none by default). */
  constructor(store: ChunkOwner, private readonly crossAt = Infinity) {
    super(store, (n) => new Uint8Array(n));
  }

  override get(pfn: number): number {
    const c = this.chunks[pfn >>> FRAME_CHUNK_SHIFT];
    if (c === undefined) return 0;
    const v = c[pfn & FRAME_MASK]!;
    return v === LARGE ? this.large.get(pfn)! : v;
  }

  override set(pfn: number, value: number): void {
    const ci = pfn >>> FRAME_CHUNK_SHIFT;
    if (this.owned[ci] !== 1) {
      if (value === 0 && this.chunks[ci] === undefined) return;
      this.own(ci);
    }
    const c = this.chunks[ci]!;
    const i = pfn & FRAME_MASK;
    const before = c[i] === LARGE ? this.large.get(pfn)! : c[i]!;
    if (before > this.crossAt !== value > this.crossAt) this.crossings++;
    if (value >= 0 && value < LARGE) {
      if (c[i] === LARGE) this.large.delete(pfn);
      c[i] = value;
    } else {
      c[i] = LARGE;
      this.large.set(pfn, value);
    }
  }

  /** set(pfn, get(pfn) + delta), in place when the chunk is owned and both counts fit a byte (per-page loops). */
  override add(pfn: number, delta: number): void {
    const ci = pfn >>> FRAME_CHUNK_SHIFT;
    if (this.owned[ci] === 1) {
      const c = this.chunks[ci]!;
      const i = pfn & FRAME_MASK;
      const before = c[i]!;
      const value = before + delta;
      if (before !== LARGE && value >= 0 && value < LARGE) {
        if (before > this.crossAt !== value > this.crossAt) this.crossings++;
        c[i] = value;
        return;
      }
    }
    this.set(pfn, this.get(pfn) + delta);
  }

  override copyRun(src: number, srcStep: 1 | -1, dst: number, dstStep: 1 | -1, n: number): void {
    for (let k = 0; k < n; k++) this.set(dst + k * dstStep, this.get(src + k * srcStep));
  }

  override setSequence(pfn: number, n: number, step: 1 | -1, value: number): void {
    for (let k = 0; k < n; k++) this.set(pfn + k * step, value + k);
  }

  protected override fillOwned(ci: number, i: number, n: number, value: number): void {
    if (value < 0 || value >= LARGE) {
      const base = ci * FRAME_CHUNK;
      for (let k = i; k < i + n; k++) this.set(base + k, value);
      return;
    }
    const c = this.chunks[ci]!;
    if (this.crossAt !== Infinity) {
      // One crossing counted is enough: the views only ask whether any happened.
      for (let k = i; k < i + n; k++) {
        const before = c[k] === LARGE ? this.large.get(ci * FRAME_CHUNK + k)! : c[k]!;
        if (before > this.crossAt !== value > this.crossAt) {
          this.crossings++;
          break;
        }
      }
    }
    if (this.large.size > 0) for (let k = i; k < i + n; k++) if (c[k] === LARGE) this.large.delete(ci * FRAME_CHUNK + k);
    c.fill(value, i, i + n);
  }

  override release(ci: number): void {
    super.release(ci);
    if (this.large.size === 0) return;
    for (const pfn of this.large.keys()) if (pfn >>> FRAME_CHUNK_SHIFT === ci) this.large.delete(pfn);
  }

  override share(): { state: FieldState; newBytes: number } {
    const s = super.share();
    return { state: { chunks: s.state.chunks, large: new Map(this.large) }, newBytes: s.newBytes + 16 * this.large.size };
  }

  override adopt(state: FieldState): void {
    super.adopt(state);
    this.large = new Map(state.large);
  }
}
