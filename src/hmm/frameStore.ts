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

  /** push(pfns[k]) for k of [0, n), in that order: pfns that continue the top run extend it at once. */
  pushRun(pfns: Int32Array, n: number): void {
    for (let k = 0; k < n;) {
      this.push(pfns[k++]!);
      const r = this.runs;
      const top = 3 * (this.nruns - 1);
      const count = r[top + 1]!;
      // A single pfn takes its step from the next push.
      if (count < 2) continue;
      const step = r[top + 2]!;
      let j = k;
      for (let want = r[top]! + count * step; j < n && pfns[j] === want; want += step) j++;
      r[top + 1] = count + (j - k);
      this.length += j - k;
      k = j;
    }
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

  /**
   * pop() up to `max` times while the top run lasts, into out[at], out[at + 1], …: the same pfns
   * in the same order, a run at a time. Returns how many (0: the stack is empty).
   */
  popRun(out: Int32Array, at: number, max: number): number {
    if (this.length === 0 || max <= 0) return 0;
    const r = this.runs;
    const top = 3 * (this.nruns - 1);
    const first = r[top]!;
    const count = r[top + 1]!;
    const step = r[top + 2]!;
    const k = Math.min(max, count);
    for (let j = 0; j < k; j++) out[at + j] = first + (count - 1 - j) * step;
    if (k === count) this.nruns--;
    else r[top + 1] = count - k;
    this.length -= k;
    return k;
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
 * How many frames from `pfn` (a frame, not NO_PFN) going by `step` (1 or -1) lie in its chunk,
 * `pfn` included: the bound of a run-wise loop's scan, checked once instead of per frame.
 */
export function chunkRoom(pfn: number, step: number): number {
  return step === 1 ? FRAME_CHUNK - (pfn & FRAME_MASK) : (pfn & FRAME_MASK) + 1;
}
/**
 * Bytes of emptied chunks a field keeps for reuse instead of leaving them to the garbage
 * collector: a migration of a whole buffer empties system chunks as fast as it fills device
 * ones, and garbage waiting for a collection is resident memory all the same.
 */
const SPARE_BYTES = 8 * 2 ** 20;

export type FieldArray = Uint8Array | Int32Array;

/**
 * One field of struct page for every pfn, in chunks of FRAME_CHUNK frames made on the first
 * write that their form cannot take: every field's "nothing" is 0, so an absent chunk reads as
 * zeros, fields that stay 0 in a chunk (pincount, deviceData of system frames) cost nothing, and a
 * chunk whose frames are all free again is given back (PageFrames.reclaim). A chunk may be shared
 * with checkpoints: the first write after a save copies it.
 *
 * An absent chunk may instead hold a form: slots [lo, hi) read v + (s - lo) * b (b 0, or ±1 where
 * `slopes` allows), the rest 0. Frames are handed out a run at a time, in address order up or
 * down, and written in the same order (a range written with `i + c`, its page->index, its zone
 * and counts), so the fields of a whole chunk usually stay one line: 48M pages written, migrated
 * and migrated back then cost four numbers a chunk per field instead of a byte or four a frame.
 */
export class FrameField<T extends FieldArray> {
  protected chunks: (T | undefined)[] = [];
  /** 1 where this field owns chunk c and may write it in place; 0 where absent or shared. */
  protected owned = new Uint8Array(0);
  private readonly spare: T[] = [];
  /** The forms of absent chunks: [lo, hi) (lo === hi: none), the value at lo, the slope. */
  protected formLo = new Int32Array(0);
  protected formHi = new Int32Array(0);
  protected formV = new Int32Array(0);
  protected formB = new Int8Array(0);
  /**
   * Chunks the store made room for (grow); `owned` and the forms' arrays may hold more, as they
   * grow in doubling steps (a chunk at a time, a whole GPU's frames made them over again ~1,500 times).
   */
  protected room = 0;
  /**
   * A hole in a form: slots [holeLo, holeHi), strictly inside the form's [lo, hi), read 0
   * (holeLo === holeHi: none). Frames freed in the middle of a chunk of one value and handed out
   * again (eviction's free list) then leave the chunk a form: the hole opens, then closes again.
   */
  protected holeLo = new Int32Array(0);
  protected holeHi = new Int32Array(0);
  /**
   * False while every frame has read 0 since the field was made or loaded (nothing pinned, say):
   * per-page loops that look for a non-zero value may then skip the pages (set by the first
   * non-zero write, and left set).
   */
  written = false;
  /** chunkAt's copy of a form chunk's values (read only, remade after any change). */
  private decoded: T | undefined;
  private decodedCi = -1;

  /**
   * `slopes`: forms may climb or fall by one a slot (int32 fields: content pages and indices);
   * `lowest`, `highest`: the values a form may hold (what the element type stores as it is).
   */
  constructor(private readonly store: ChunkOwner, private readonly make: (n: number) => T,
    private readonly slopes = false, private readonly lowest = 0, private readonly highest = 255) {}

  get(pfn: number): number {
    const ci = pfn >>> FRAME_CHUNK_SHIFT;
    const c = this.chunks[ci];
    return c === undefined ? this.formAt(ci, pfn & FRAME_MASK) : c[pfn & FRAME_MASK]!;
  }

  /** Slot i of absent chunk ci as its form reads (0 outside it, or with no form). */
  protected formAt(ci: number, i: number): number {
    const lo = this.formLo[ci]!;
    // Written so that a chunk beyond the arrays (undefined bounds) reads 0.
    if (!(i >= lo && i < this.formHi[ci]!) || (i >= this.holeLo[ci]! && i < this.holeHi[ci]!)) return 0;
    return this.formV[ci]! + (i - lo) * this.formB[ci]!;
  }

  /**
   * Slots [x, y) of chunk ci, absent and not owned, become vx + (s - x) * slope: taken by the form
   * when the result is still one line over one interval (true), else nothing is changed (false).
   */
  protected absorb(ci: number, x: number, y: number, vx: number, slope: number): boolean {
    // A chunk the store never made room for: own() refuses it.
    if (ci >= this.room) return false;
    if (this.holeLo[ci] !== this.holeHi[ci]) return this.absorbWithHole(ci, x, y, vx, slope);
    const lo = this.formLo[ci]!;
    const hi = this.formHi[ci]!;
    const n = y - x;
    if (n === 1 && hi - lo >= 2) {
      // A page at a time (per-page loops): a slot on the line, the next one past an end, a zero.
      const b = this.formB[ci]!;
      const on = this.formV[ci]! + (x - lo) * b;
      if (x >= lo && x < hi) {
        if (vx === on) return true;
        if (vx === 0 && x === lo) return this.setForm(ci, lo + 1, hi, on + b, b);
        if (vx === 0 && x === hi - 1) return this.setForm(ci, lo, hi - 1, this.formV[ci]!, b);
      } else if (vx === 0) {
        return true;
      } else if (vx === on && (x === hi || x === lo - 1) && (vx | 0) === vx && vx >= this.lowest && vx <= this.highest) {
        return x === hi ? this.setForm(ci, lo, hi + 1, this.formV[ci]!, b) : this.setForm(ci, x, hi, vx, b);
      }
    }
    if (n <= 0) return true;
    if (n === 1) slope = 0;
    const vEnd = vx + (n - 1) * slope;
    if (vx === 0 && vEnd === 0) {
      // Zeros: outside the form nothing changes; an end of the form may be cut off.
      if (lo === hi || y <= lo || x >= hi) return true;
      if (x <= lo && y >= hi) return this.setForm(ci, 0, 0, 0, 0);
      if (x <= lo) return this.setForm(ci, y, hi, this.formV[ci]! + (y - lo) * this.formB[ci]!, this.formB[ci]!);
      if (y >= hi) return this.setForm(ci, lo, x, this.formV[ci]!, this.formB[ci]!);
      // Inside: the form's hole.
      this.setHole(ci, x, y);
      return true;
    }
    // What the element type would not store as it is (it wraps, or a count goes to the overflow map).
    if ((vx | 0) !== vx || vx < this.lowest || vx > this.highest || vEnd < this.lowest || vEnd > this.highest) return false;
    if (lo === hi || (x <= lo && y >= hi)) return this.setForm(ci, x, y, vx, slope);
    // Apart from the form by a gap of zeros: on the form's line, the gap becomes its hole
    // (frames freed at a chunk's end and handed out again from the far end).
    if (x > hi || y < lo) {
      const ob = this.formB[ci]!;
      if (hi - lo < 2 || (n > 1 && slope !== ob) || vx !== this.formV[ci]! + (x - lo) * ob) return false;
      const nlo = Math.min(lo, x);
      const nv = this.formV[ci]! + (nlo - lo) * ob;
      const last = nv + (Math.max(hi, y) - 1 - nlo) * ob;
      if (nv < this.lowest || nv > this.highest || last < this.lowest || last > this.highest) return false;
      if (x > hi) this.setHole(ci, hi, x);
      else this.setHole(ci, y, lo);
      return this.setForm(ci, nlo, Math.max(hi, y), nv, ob);
    }
    let b = slope;
    if (n === 1) {
      if (hi - lo >= 2) b = this.formB[ci]!;
      // Two single slots side by side (x - lo is ±1): the line through both.
      else b = (vx - this.formV[ci]!) * (x - lo);
    }
    if (b !== 0 && (!this.slopes || (b !== 1 && b !== -1))) return false;
    // What the form keeps outside [x, y) must lie on the new line.
    const v = this.formV[ci]!;
    const ob = this.formB[ci]!;
    if (lo < x && v !== vx + (lo - x) * b) return false;
    if (hi > y && v + (hi - 1 - lo) * ob !== vx + (hi - 1 - x) * b) return false;
    if (lo < x && x - 1 > lo && v + (x - 1 - lo) * ob !== vx + (x - 1 - x) * b) return false;
    if (hi > y && y < hi - 1 && v + (y - lo) * ob !== vx + (y - x) * b) return false;
    const nlo = Math.min(lo, x);
    const nhi = Math.max(hi, y);
    const nv = vx + (nlo - x) * b;
    const last = nv + (nhi - 1 - nlo) * b;
    if (nv < this.lowest || nv > this.highest || last < this.lowest || last > this.highest) return false;
    return this.setForm(ci, nlo, nhi, nv, b);
  }

  /**
   * absorb for a form with a hole: zeros that meet the hole join it (a hole reaching an end of the
   * form cuts the form there) or cut an end; values on the form's line fill the hole from an end
   * or extend the form. Anything else (a second hole, a value off the line) is refused.
   */
  private absorbWithHole(ci: number, x: number, y: number, vx: number, slope: number): boolean {
    const lo = this.formLo[ci]!;
    const hi = this.formHi[ci]!;
    const hl = this.holeLo[ci]!;
    const hh = this.holeHi[ci]!;
    const v = this.formV[ci]!;
    const b = this.formB[ci]!;
    const n = y - x;
    if (n <= 0) return true;
    if (vx === 0 && (n === 1 || slope === 0)) {
      if (y <= lo || x >= hi) return true;
      if (x <= hh && y >= hl) {
        const nl = Math.min(x, hl);
        const nh = Math.max(y, hh);
        if (nl > lo && nh < hi) {
          this.setHole(ci, nl, nh);
          return true;
        }
        this.setHole(ci, 0, 0);
        if (nl <= lo && nh >= hi) return this.setForm(ci, 0, 0, 0, 0);
        return nl <= lo ? this.setForm(ci, nh, hi, v + (nh - lo) * b, b) : this.setForm(ci, lo, nl, v, b);
      }
      if (x <= lo) return this.setForm(ci, y, hi, v + (y - lo) * b, b);
      if (y >= hi) return this.setForm(ci, lo, x, v, b);
      return false;
    }
    // Values: on the form's line, meeting the form, not splitting the hole.
    if ((n > 1 && slope !== b) || vx !== v + (x - lo) * b || x > hi || y < lo || (x > hl && y < hh)) return false;
    const nlo = Math.min(lo, x);
    const nhi = Math.max(hi, y);
    const nv = v + (nlo - lo) * b;
    const last = nv + (nhi - 1 - nlo) * b;
    if ((nv | 0) !== nv || nv < this.lowest || nv > this.highest || last < this.lowest || last > this.highest) return false;
    if (x <= hl && y >= hh) this.setHole(ci, 0, 0);
    else if (x <= hl && y > hl) this.setHole(ci, y, hh);
    else if (x < hh && y >= hh) this.setHole(ci, hl, x);
    return this.setForm(ci, nlo, nhi, nv, b);
  }

  private setHole(ci: number, lo: number, hi: number): void {
    this.holeLo[ci] = lo;
    this.holeHi[ci] = hi;
    this.formChanged(ci);
  }

  private setForm(ci: number, lo: number, hi: number, v: number, b: number): true {
    if (lo !== hi) this.written = true;
    else {
      this.holeLo[ci] = 0;
      this.holeHi[ci] = 0;
    }
    this.formLo[ci] = lo;
    this.formHi[ci] = hi;
    this.formV[ci] = lo === hi ? 0 : v;
    this.formB[ci] = lo === hi ? 0 : b;
    this.formChanged(ci);
    return true;
  }

  /** Chunk ci's form changed: chunkAt's copy of it is stale. */
  protected formChanged(ci: number): void {
    if (ci === this.decodedCi) this.decodedCi = -1;
  }

  /** Slots [x, y) of chunk ci become vx + (s - x) * slope: in the form if it takes them, else in the chunk. */
  protected writeLine(ci: number, x: number, y: number, vx: number, slope: number): void {
    if (this.owned[ci] !== 1) {
      if (this.chunks[ci] === undefined && this.absorb(ci, x, y, vx, slope)) return;
      this.own(ci);
    }
    const c = this.chunks[ci]!;
    if (slope === 0) c.fill(vx, x, y);
    else for (let s = x, v = vx; s < y; s++, v += slope) c[s] = v;
  }

  /**
   * Chunk `ci`'s values (frames ci·FRAME_CHUNK onwards; undefined: all 0), for a reader going
   * through many frames of one chunk (tableRuns.ts). Read only: a checkpoint may share it, and a
   * form's values are spelt out into an array the next call may reuse (read it before any write). In a
   * SmallCountField, a byte LARGE stands for a value that get() finds in its overflow map.
   */
  chunkAt(ci: number): T | undefined {
    const c = this.chunks[ci];
    if (c !== undefined || !(this.formHi[ci]! > this.formLo[ci]!)) return c;
    // A form, spelt out into one array kept for the next call.
    if (this.decodedCi !== ci) {
      const d = (this.decoded ??= this.make(FRAME_CHUNK));
      d.fill(0);
      this.paint(ci, d);
      this.decodedCi = ci;
    }
    return this.decoded;
  }

  /**
   * Whether frames [lo, hi) (one chunk) read as one line, climbing, falling or level (inside the
   * chunk's form, or apart from it: zeros), so that two values tell them all: the invariant
   * checker then checks a run of entries at its ends. A chunk in memory is read through (frames
   * handed out in an order no form takes still hold lines a run of entries long).
   */
  isLine(lo: number, hi: number): boolean {
    const ci = lo >>> FRAME_CHUNK_SHIFT;
    const i = lo & FRAME_MASK;
    const j = i + (hi - lo);
    const c = this.chunks[ci];
    if (c !== undefined) return this.linear(c, i, j);
    if (ci >= this.room) return false;
    const fLo = this.formLo[ci]!;
    const fHi = this.formHi[ci]!;
    const hLo = this.holeLo[ci]!;
    const hHi = this.holeHi[ci]!;
    // Inside the form and apart from its hole, or zeros: outside the form, or inside the hole.
    return (i >= fLo && j <= fHi && (j <= hLo || i >= hHi)) || j <= fLo || i >= fHi || (i >= hLo && j <= hHi);
  }

  /**
   * The value every frame of [lo, hi) (one chunk) reads, or undefined when they do not all read
   * one value: a run-wise path's check that per-page reads would each find it (a form's level,
   * zeros beside it, or a chunk in memory scanned).
   */
  levelOf(lo: number, hi: number): number | undefined {
    const ci = lo >>> FRAME_CHUNK_SHIFT;
    const i = lo & FRAME_MASK;
    const j = i + (hi - lo);
    const c = this.chunks[ci];
    if (c === undefined) {
      const fLo = ci < this.room ? this.formLo[ci]! : 0;
      const fHi = ci < this.room ? this.formHi[ci]! : 0;
      if (fHi <= fLo || j <= fLo || i >= fHi) return 0;
      const hLo = this.holeLo[ci]!;
      const hHi = this.holeHi[ci]!;
      if (i < hHi && j > hLo) return i >= hLo && j <= hHi ? 0 : undefined;
      return i >= fLo && j <= fHi && (this.formB[ci] === 0 || j - i === 1) ? this.formAt(ci, i) : undefined;
    }
    const v = c[i]!;
    for (let s = i + 1; s < j; s++) if (c[s] !== v) return undefined;
    return this.exact(v);
  }

  /** Whether slots [i, j) of chunk `c` in memory climb, fall or stay level by one a slot. */
  protected linear(c: T, i: number, j: number): boolean {
    if (j - i < 2) return true;
    const d = c[i + 1]! - c[i]!;
    if (d !== 0 && d !== 1 && d !== -1) return false;
    for (let s = i + 2; s < j; s++) if (c[s]! - c[s - 1]! !== d) return false;
    return true;
  }

  /** What a chunk's stored element `v` reads as, or undefined when get() must look elsewhere. */
  protected exact(v: number): number | undefined {
    return v;
  }

  /** Chunk ci's form written into `to`. */
  private paint(ci: number, to: T): void {
    const lo = this.formLo[ci]!;
    const hi = this.formHi[ci]!;
    const v = this.formV[ci]!;
    const b = this.formB[ci]!;
    if (b === 0) to.fill(v, lo, hi);
    else for (let s = lo; s < hi; s++) to[s] = v + (s - lo) * b;
    if (this.holeLo[ci]! < this.holeHi[ci]!) to.fill(0, this.holeLo[ci], this.holeHi[ci]);
  }

  set(pfn: number, value: number): void {
    const ci = pfn >>> FRAME_CHUNK_SHIFT;
    if (this.owned[ci] !== 1) {
      const i = pfn & FRAME_MASK;
      if (this.chunks[ci] === undefined && this.absorb(ci, i, i + 1, value, 0)) return;
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
        const i = p & FRAME_MASK;
        if (this.chunks[ci] === undefined && this.absorb(ci, i, i + (stop - p), value, 0)) {
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
    if (n <= 0) return;
    const ci = pfn >>> FRAME_CHUNK_SHIFT;
    const i = pfn & FRAME_MASK;
    // Over slots ascending: from the lowest slot, climbing by `step` (one a slot, the other way down).
    if (step === 1) this.writeLine(ci, i, i + n, value, 1);
    else this.writeLine(ci, i - n + 1, i + 1, value + n - 1, -1);
  }

  /**
   * set(dst + k * dstStep, get(src + k * srcStep)) for k of [0, n) (steps 1 or -1: frames handed
   * out downwards), where the n source and the n destination frames each lie in one chunk and do
   * not overlap (a page's contents copied to its new frame).
   */
  copyRun(src: number, srcStep: 1 | -1, dst: number, dstStep: 1 | -1, n: number): void {
    if (n <= 0) return;
    const sc = src >>> FRAME_CHUNK_SHIFT;
    const from = this.chunks[sc];
    if (from === undefined) {
      // The source's form: inside it the copy is a line too, outside it zeros.
      const first = src & FRAME_MASK;
      const sLo = srcStep === 1 ? first : first - n + 1;
      const fLo = this.formLo[sc]!;
      const fHi = this.formHi[sc]!;
      const lo = dstStep === 1 ? dst : dst - n + 1;
      const hLo = this.holeLo[sc]!;
      const hHi = this.holeHi[sc]!;
      const inside = sLo >= fLo && sLo + n <= fHi && (sLo + n <= hLo || sLo >= hHi);
      const zeros = !(sLo < fHi && sLo + n > fLo) || (hLo < hHi && sLo >= hLo && sLo + n <= hHi);
      if (inside || zeros) {
        const slope = inside ? this.formB[sc]! * srcStep * dstStep : 0;
        // The value at the destination's lowest slot: that of source entry 0 or n - 1.
        const vx = inside ? this.formAt(sc, dstStep === 1 ? first : first + (n - 1) * srcStep) : 0;
        this.writeLine(dst >>> FRAME_CHUNK_SHIFT, lo & FRAME_MASK, (lo & FRAME_MASK) + n, vx, slope);
        return;
      }
      for (let k = 0; k < n; k++) this.set(dst + k * dstStep, this.get(src + k * srcStep));
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

  /**
   * The chunk holding `pfn` when it is in memory, for reading only (the slot is pfn &
   * (FRAME_CHUNK - 1)); undefined: read get() (zeros, or a form, which is not spelt out here).
   */
  peek(pfn: number): T | undefined {
    return this.chunks[pfn >>> FRAME_CHUNK_SHIFT];
  }

  /** Make chunk `ci` this field's own: new (zeros) or a copy of the shared one. */
  protected own(ci: number): void {
    this.store.checkChunk(ci);
    this.written = true;
    const shared = this.chunks[ci];
    // Memory is about to be taken: first give back chunks that emptied since the last time.
    if (shared === undefined) this.store.reclaim();
    const spare = this.spare.pop();
    const fresh = spare === undefined ? this.make(FRAME_CHUNK) : (spare.fill(0) as T);
    if (shared !== undefined) fresh.set(shared);
    else if (this.formHi[ci]! > this.formLo[ci]!) {
      this.paint(ci, fresh);
      this.setForm(ci, 0, 0, 0, 0);
    }
    this.chunks[ci] = fresh;
    this.owned[ci] = 1;
  }

  /** Drop chunk `ci` (all its frames are free). */
  release(ci: number): void {
    if (this.formHi[ci] !== this.formLo[ci]) this.setForm(ci, 0, 0, 0, 0);
    const c = this.chunks[ci];
    if (c === undefined) return;
    if (this.owned[ci] === 1 && (this.spare.length + 1) * c.byteLength <= SPARE_BYTES) this.spare.push(c);
    this.chunks[ci] = undefined;
    this.owned[ci] = 0;
  }

  /** Whether chunk ci holds anything: values in memory or a form. */
  has(ci: number): boolean {
    return this.chunks[ci] !== undefined || this.formHi[ci]! > this.formLo[ci]!;
  }

  /** Room for `n` chunks. */
  grow(n: number): void {
    while (this.chunks.length < n) this.chunks.push(undefined);
    if (n <= this.room) return;
    if (this.formLo.length < n) {
      const cap = Math.max(n, 2 * this.formLo.length);
      const grown = <A extends Int32Array | Int8Array | Uint8Array>(a: A, make: (k: number) => A): A => {
        const b = make(cap);
        b.set(a);
        return b;
      };
      this.owned = grown(this.owned, (k) => new Uint8Array(k));
      this.formLo = grown(this.formLo, (k) => new Int32Array(k));
      this.formHi = grown(this.formHi, (k) => new Int32Array(k));
      this.formV = grown(this.formV, (k) => new Int32Array(k));
      this.formB = grown(this.formB, (k) => new Int8Array(k));
      this.holeLo = grown(this.holeLo, (k) => new Int32Array(k));
      this.holeHi = grown(this.holeHi, (k) => new Int32Array(k));
    }
    this.room = n;
  }

  /** The chunks, from now on shared with the caller (a checkpoint): each is copied before its next write. */
  share(): { state: FieldState; newBytes: number } {
    let newBytes = 0;
    this.chunks.forEach((c, i) => {
      if (c !== undefined && this.owned[i] === 1) newBytes += c.byteLength;
    });
    this.owned.fill(0);
    const n = this.room;
    const forms = {
      lo: this.formLo.slice(0, n), hi: this.formHi.slice(0, n), v: this.formV.slice(0, n), b: this.formB.slice(0, n),
      holeLo: this.holeLo.slice(0, n), holeHi: this.holeHi.slice(0, n),
    };
    return { state: { chunks: this.chunks.slice(), forms }, newBytes: newBytes + 21 * n };
  }

  /** Take a checkpoint's chunks (shared: copied before the first write to each). */
  adopt(state: FieldState): void {
    this.written = state.chunks.some((c) => c !== undefined) || (state.forms?.lo.some((lo, ci) => state.forms!.hi[ci] !== lo) ?? false);
    this.chunks = state.chunks.slice() as (T | undefined)[];
    const n = Math.max(this.room, state.chunks.length);
    this.owned = new Uint8Array(0);
    this.formLo = new Int32Array(0);
    this.formHi = new Int32Array(0);
    this.formV = new Int32Array(0);
    this.formB = new Int8Array(0);
    this.holeLo = new Int32Array(0);
    this.holeHi = new Int32Array(0);
    this.room = 0;
    this.grow(n);
    if (state.forms !== undefined) {
      this.formLo.set(state.forms.lo);
      this.formHi.set(state.forms.hi);
      this.formV.set(state.forms.v);
      this.formB.set(state.forms.b);
      this.holeLo.set(state.forms.holeLo);
      this.holeHi.set(state.forms.holeHi);
    }
    this.decodedCi = -1;
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
    const ci = pfn >>> FRAME_CHUNK_SHIFT;
    const c = this.chunks[ci];
    const i = pfn & FRAME_MASK;
    if (c !== undefined) return c[i]!;
    // formAt, written out: this is the hottest read of a per-page loop.
    const lo = this.formLo[ci]!;
    return i >= lo && i < this.formHi[ci]! && !(i >= this.holeLo[ci]! && i < this.holeHi[ci]!) ? this.formV[ci]! + (i - lo) * this.formB[ci]! : 0;
  }

  override set(pfn: number, value: number): void {
    const ci = pfn >>> FRAME_CHUNK_SHIFT;
    if (this.owned[ci] !== 1) {
      const i = pfn & FRAME_MASK;
      if (this.chunks[ci] === undefined && this.absorb(ci, i, i + 1, value, 0)) return;
      this.own(ci);
    }
    this.chunks[ci]![pfn & FRAME_MASK] = value;
  }
}

export class Int32Field extends FrameField<Int32Array> {
  constructor(store: ChunkOwner) {
    super(store, (n) => new Int32Array(n), true, -(2 ** 31), 2 ** 31 - 1);
  }

  override get(pfn: number): number {
    const ci = pfn >>> FRAME_CHUNK_SHIFT;
    const c = this.chunks[ci];
    const i = pfn & FRAME_MASK;
    if (c !== undefined) return c[i]!;
    // formAt, written out: this is the hottest read of a per-page loop.
    const lo = this.formLo[ci]!;
    return i >= lo && i < this.formHi[ci]! && !(i >= this.holeLo[ci]! && i < this.holeHi[ci]!) ? this.formV[ci]! + (i - lo) * this.formB[ci]! : 0;
  }

  override set(pfn: number, value: number): void {
    const ci = pfn >>> FRAME_CHUNK_SHIFT;
    if (this.owned[ci] !== 1) {
      const i = pfn & FRAME_MASK;
      if (this.chunks[ci] === undefined && this.absorb(ci, i, i + 1, value, 0)) return;
      this.own(ci);
    }
    this.chunks[ci]![pfn & FRAME_MASK] = value;
  }
}

/**
 * An int32 field read only at frames it was written for since they were last handed out (an
 * anonymous page's anon_vma): elsewhere its value does not matter, so writes of 0 (a frame set
 * up again) change nothing, and a chunk's form, one level value, grows over the gaps between
 * the frames written with it. Frames handed out in any order (a free list that eviction
 * shuffled) then cost nothing while a chunk's pages all take one value; a chunk is made only
 * when two values meet in it.
 */
export class LevelField extends FrameField<Int32Array> {
  constructor(store: ChunkOwner) {
    super(store, (n) => new Int32Array(n), true, -(2 ** 31), 2 ** 31 - 1);
  }

  // get and set as Int32Field's, in a class of their own (see ByteField).
  override get(pfn: number): number {
    const ci = pfn >>> FRAME_CHUNK_SHIFT;
    const c = this.chunks[ci];
    const i = pfn & FRAME_MASK;
    if (c !== undefined) return c[i]!;
    const lo = this.formLo[ci]!;
    return i >= lo && i < this.formHi[ci]! && !(i >= this.holeLo[ci]! && i < this.holeHi[ci]!) ? this.formV[ci]! + (i - lo) * this.formB[ci]! : 0;
  }

  override set(pfn: number, value: number): void {
    const ci = pfn >>> FRAME_CHUNK_SHIFT;
    if (this.owned[ci] !== 1) {
      const i = pfn & FRAME_MASK;
      if (this.chunks[ci] === undefined && this.absorb(ci, i, i + 1, value, 0)) return;
      this.own(ci);
    }
    this.chunks[ci]![pfn & FRAME_MASK] = value;
  }

  protected override absorb(ci: number, x: number, y: number, vx: number, slope: number): boolean {
    if (ci >= this.room) return false;
    if (y - x > 1 && slope !== 0) {
      // Not apart from the form by a gap: the base class would keep the gap as a hole, which this
      // field's level writes (setLevel) do not know of.
      if (ci < this.room && this.formLo[ci] !== this.formHi[ci] && (x > this.formHi[ci]! || y < this.formLo[ci]!)) return false;
      return super.absorb(ci, x, y, vx, slope);
    }
    if (vx === 0) return true;
    const lo = this.formLo[ci]!;
    const hi = this.formHi[ci]!;
    if (lo === hi) return this.setLevel(ci, x, y, vx);
    if (this.formB[ci] !== 0 || this.formV[ci] !== vx) return false;
    return this.setLevel(ci, Math.min(lo, x), Math.max(hi, y), vx);
  }

  private setLevel(ci: number, lo: number, hi: number, v: number): true {
    this.formLo[ci] = lo;
    this.formHi[ci] = hi;
    this.formV[ci] = v;
    this.formB[ci] = 0;
    this.written = true;
    this.formChanged(ci);
    return true;
  }
}

/** A field's part of a checkpoint. */
export interface FieldState {
  readonly chunks: readonly (FieldArray | undefined)[];
  /** The forms of the absent chunks (FrameField). */
  readonly forms?: { readonly lo: Int32Array; readonly hi: Int32Array; readonly v: Int32Array; readonly b: Int8Array; readonly holeLo: Int32Array; readonly holeHi: Int32Array };
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
    super(store, (n) => new Uint8Array(n), false, 0, LARGE - 1);
  }

  override get(pfn: number): number {
    const ci = pfn >>> FRAME_CHUNK_SHIFT;
    const c = this.chunks[ci];
    if (c === undefined) {
      const i = pfn & FRAME_MASK;
      const lo = this.formLo[ci]!;
      return i >= lo && i < this.formHi[ci]! && !(i >= this.holeLo[ci]! && i < this.holeHi[ci]!) ? this.formV[ci]! + (i - lo) * this.formB[ci]! : 0;
    }
    const v = c[pfn & FRAME_MASK]!;
    return v === LARGE ? this.large.get(pfn)! : v;
  }

  /** The form's write, with the crossings it makes counted (a form holds one count, and zeros beside it). */
  protected override absorb(ci: number, x: number, y: number, vx: number, slope: number): boolean {
    let crossed = false;
    if (this.crossAt !== Infinity) {
      const lo = this.formLo[ci]!;
      const hi = this.formHi[ci]!;
      const after = vx > this.crossAt;
      if (x < lo || y > hi || lo === hi) crossed = (0 > this.crossAt) !== after;
      // The form's slots read its count before, its hole's 0.
      const hl = this.holeLo[ci]!;
      const hh = this.holeHi[ci]!;
      if (lo < hi && x < hi && y > lo && !(x >= hl && y <= hh)) crossed ||= (this.formV[ci]! > this.crossAt) !== after;
      if (hl < hh && x < hh && y > hl) crossed ||= (0 > this.crossAt) !== after;
    }
    if (!super.absorb(ci, x, y, vx, slope)) return false;
    if (crossed) this.crossings++;
    return true;
  }

  override set(pfn: number, value: number): void {
    const ci = pfn >>> FRAME_CHUNK_SHIFT;
    if (this.owned[ci] !== 1) {
      const i = pfn & FRAME_MASK;
      if (this.chunks[ci] === undefined && this.absorb(ci, i, i + 1, value, 0)) return;
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

  /** A byte LARGE reads from the overflow map: no line to read through. */
  protected override linear(c: Uint8Array, i: number, j: number): boolean {
    for (let s = i; s < j; s++) if (c[s] === LARGE) return false;
    return super.linear(c, i, j);
  }

  /** A byte LARGE reads from the overflow map: not one value a run-wise path may take. */
  protected override exact(v: number): number | undefined {
    return v === LARGE ? undefined : v;
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
    return { state: { ...s.state, large: new Map(this.large) }, newBytes: s.newBytes + 16 * this.large.size };
  }

  override adopt(state: FieldState): void {
    super.adopt(state);
    this.large = new Map(state.large);
  }
}

/**
 * Per-page writes to one field gathered into runs (consecutive frames of one chunk, values equal
 * or one apart from frame to frame) and written a run at a time: a per-page loop over frames
 * handed out in order then extends a chunk's form once per run, not once per page. The writes
 * wait until flush(): the caller flushes before anything reads the frames it put.
 */
export class FieldRuns {
  private field: FrameField<FieldArray> | undefined;
  private first = 0;
  private n = 0;
  private step = 1;
  private value = 0;
  private climb = 0;

  /** Start gathering writes to `field` (what was gathered before must have been flushed). */
  begin(field: FrameField<FieldArray>): this {
    this.field = field;
    this.n = 0;
    return this;
  }

  put(pfn: number, value: number): void {
    const n = this.n;
    if (n === 1) {
      const step = pfn - this.first;
      const climb = value - this.value;
      if ((step === 1 || step === -1) && (climb === 0 || climb === 1 || climb === -1) && pfn >>> FRAME_CHUNK_SHIFT === this.first >>> FRAME_CHUNK_SHIFT) {
        this.step = step;
        this.climb = climb;
        this.n = 2;
        return;
      }
    } else if (n > 1 && pfn === this.first + n * this.step && value === this.value + n * this.climb &&
      pfn >>> FRAME_CHUNK_SHIFT === this.first >>> FRAME_CHUNK_SHIFT) {
      this.n = n + 1;
      return;
    }
    if (n > 0) this.flush();
    this.first = pfn;
    this.value = value;
    this.n = 1;
  }

  /** Whether a write to `pfn` waits here. */
  holds(pfn: number): boolean {
    const n = this.n;
    if (n === 0) return false;
    const d = (pfn - this.first) * (n === 1 ? 1 : this.step);
    return d >= 0 && d < n;
  }

  flush(): void {
    const f = this.field!;
    const n = this.n;
    this.n = 0;
    if (n === 0) return;
    if (n === 1) {
      f.set(this.first, this.value);
      return;
    }
    const last = this.first + (n - 1) * this.step;
    if (this.climb === 0) f.fill(Math.min(this.first, last), Math.max(this.first, last) + 1, this.value);
    // setSequence counts up from its first frame: from whichever end holds the lower value.
    else if (this.climb === 1) f.setSequence(this.first, n, this.step as 1 | -1, this.value);
    else f.setSequence(last, n, -this.step as 1 | -1, this.value - (n - 1));
  }
}
