// A process's CPU page table: sparse PTE pages of 512 entries keyed by PMD index, allocated on
// first use, so untouched address space costs nothing. A PTE page flagged `pmd` stands for one
// PMD-level entry mapping a THP (its 512 slots then hold head+k for convenience).

import { rangeBatching } from './batching';
import { PTRS_PER_PTE } from './constants';

/** What a page-table entry holds (pte_none, present, or one of the swap-entry kinds). */
export const enum Pte {
  NONE = 0,
  PRESENT = 1,
  /** Non-present device-private entry (readable or writable kind). */
  DEVICE_PRIVATE = 2,
  /** Non-present device-exclusive entry (always the writable kind, newest kernels). */
  DEVICE_EXCLUSIVE = 3,
  /** Migration entry: transient, between migrate_vma_setup and migrate_vma_finalize. */
  MIGRATION = 4,
}

/** Entry bits. */
export const PTE_WRITE = 1 << 0;
export const PTE_DIRTY = 1 << 1;
/** Device-exclusive entries: which device made them, plus one, in bits 4..7 (model bookkeeping). */
const PTE_MAKER_SHIFT = 4;
export function exclusiveMakerBits(deviceIndex: number): number {
  return ((deviceIndex + 1) & 0xf) << PTE_MAKER_SHIFT;
}
export function exclusiveMaker(bits: number): number {
  return (bits >> PTE_MAKER_SHIFT) - 1;
}

/**
 * Fixed-size zeroed regions cut from shared ArrayBuffers of `count` regions. A buffer per
 * page-table page made large runs slow: V8 does work per live ArrayBuffer at every garbage
 * collection, and a run of 48M pages has ~100k page-table pages per table kind. A buffer lives
 * while any region of it is in use (its views keep it), so at most count - 1 regions are wasted
 * per buffer.
 */
export class SlabAllocator {
  private buf: ArrayBuffer | undefined;
  private used = 0;
  /** The buffer of the region handed out last. */
  lastBuffer!: ArrayBuffer;
  constructor(private readonly bytes: number, private readonly count: number) {}

  /** A new region: its byte offset in lastBuffer. */
  take(): number {
    if (this.buf === undefined || this.used === this.count) {
      this.buf = new ArrayBuffer(this.bytes * this.count);
      this.used = 0;
    }
    this.lastBuffer = this.buf;
    return this.bytes * this.used++;
  }
}

const PTE_SLAB = new SlabAllocator(PTRS_PER_PTE * 6, 64);
/** The expectations' arrays, made for a table on first need (see PteTable.expectId). */
const EXPECT_SLAB = new SlabAllocator(PTRS_PER_PTE * 8, 64);

/**
 * A page-table page's runs of entries in the same state, as the residency views read them,
 * cached on the page (built and read by tableRuns.ts): valid while the page's `changes` and
 * the frames' residencyGen are those it was built at.
 */
export interface TableRuns {
  readonly changes: number;
  readonly gen: number;
  /** The device whose page table this is (its index), -1 for a CPU page table: part of the device key. */
  readonly device: number;
  /**
   * Four numbers per run, in slot order: first slot | end slot << 16, the key, the first slot's
   * pfn, and the pfn step from one slot to the next (1, -1 or 0; 1 for a single slot).
   */
  readonly data: readonly number[];
}

export class PteTable {
  /** The entry arrays (one region of a slab), made on first use: see the form below. */
  private pfns: Int32Array | undefined = undefined;
  private kinds: Uint8Array | undefined = undefined;
  private bitss: Uint8Array | undefined = undefined;
  /**
   * While the arrays are not made, the entries are a form: slots [formLo, formHi) hold
   * formKind, pfn formPfn + (s - formLo) * formStep and formBits, the others pte_none. A write
   * over fresh memory and a migration chunk there and back each keep a table one such line, so
   * a whole GPU's tables cost no per-entry memory (the run-wise paths in migrateDevice.ts,
   * invariants.ts and pagemap.ts keep the form; any other access makes the arrays).
   */
  formLo = 0;
  formHi = 0;
  formKind: Pte = Pte.NONE;
  formPfn = 0;
  formStep = 1;
  formBits = 0;

  /** Whether the entries are still a form (no arrays). */
  get isForm(): boolean {
    return this.kinds === undefined;
  }

  get pfn(): Int32Array {
    if (this.pfns === undefined) this.materialize();
    return this.pfns!;
  }

  get kind(): Uint8Array {
    if (this.kinds === undefined) this.materialize();
    return this.kinds!;
  }

  get bits(): Uint8Array {
    if (this.bitss === undefined) this.materialize();
    return this.bitss!;
  }

  /** Slot s's entry kind, pfn and bits, as the form or the arrays have them (no arrays made). */
  kindAt(s: number): Pte {
    if (this.kinds !== undefined) return this.kinds[s] as Pte;
    return s >= this.formLo && s < this.formHi ? this.formKind : Pte.NONE;
  }

  pfnAt(s: number): number {
    if (this.pfns !== undefined) return this.pfns[s]!;
    return s >= this.formLo && s < this.formHi ? this.formPfn + (s - this.formLo) * this.formStep : 0;
  }

  bitsAt(s: number): number {
    if (this.bitss !== undefined) return this.bitss[s]!;
    return s >= this.formLo && s < this.formHi ? this.formBits : 0;
  }

  /** The form's entries become `kind`, `bits`, and (pfn !== undefined) pfns from `pfn` by `step`. */
  reform(kind: Pte, bits: number, pfn?: number, step?: number): void {
    this.formKind = kind;
    this.formBits = bits;
    if (pfn !== undefined) {
      this.formPfn = pfn;
      this.formStep = step!;
    }
  }

  private materialize(): void {
    const at = PTE_SLAB.take();
    const buf = PTE_SLAB.lastBuffer;
    const pfns = new Int32Array(buf, at, PTRS_PER_PTE);
    const kinds = new Uint8Array(buf, at + PTRS_PER_PTE * 4, PTRS_PER_PTE);
    const bits = new Uint8Array(buf, at + PTRS_PER_PTE * 5, PTRS_PER_PTE);
    const lo = this.formLo;
    const hi = this.formHi;
    if (lo < hi) {
      kinds.fill(this.formKind, lo, hi);
      bits.fill(this.formBits, lo, hi);
      for (let s = lo, p = this.formPfn; s < hi; s++, p += this.formStep) pfns[s] = p;
    }
    this.pfns = pfns;
    this.kinds = kinds;
    this.bitss = bits;
    this.formLo = this.formHi = 0;
  }

  /**
   * The form takes `n` entries from slot i (pte_none before), each `kind` with `bits` and the
   * next pfn of `pfns`, when they continue it as one line (true); else nothing changes (false).
   */
  extendForm(i: number, n: number, kind: Pte, pfns: Int32Array, bits: number): boolean {
    if (this.kinds !== undefined || kind === Pte.NONE || n <= 0) return false;
    const p0 = pfns[0]!;
    const step = n > 1 ? pfns[1]! - p0 : 0;
    if (n > 1 && step !== 1 && step !== -1) return false;
    for (let k = 2; k < n; k++) if (pfns[k] !== p0 + k * step) return false;
    const lo = this.formLo;
    const hi = this.formHi;
    if (lo === hi) {
      this.formLo = i;
      this.formHi = i + n;
      this.formKind = kind;
      this.formBits = bits;
      this.formPfn = p0;
      this.formStep = step === 0 ? 1 : step;
      return true;
    }
    if (i !== hi || kind !== this.formKind || bits !== this.formBits) return false;
    // Appended: one line with what the form holds (a single slot takes the new run's step).
    const fstep = hi - lo === 1 ? (step !== 0 ? step : p0 - this.formPfn) : this.formStep;
    if ((fstep !== 1 && fstep !== -1) || (step !== 0 && step !== fstep) || p0 !== this.formPfn + (hi - lo) * fstep) return false;
    this.formStep = fstep;
    this.formHi = hi + n;
    return true;
  }
  /**
   * What the process last wrote to each page (content id and page; id -1 = not known, e.g.
   * a file page never written), which the invariant checker compares with the page's contents.
   * While slots [0, uniformEnd) expect (uniformId, uniformPage + s) and the rest (0, 0), as a new
   * table and one a write over fresh memory filled from its start do, there are no arrays:
   * expectId / expectPage make them on first use.
   */
  private ids: Int32Array | undefined = undefined;
  private pages: Int32Array | undefined = undefined;
  uniformId = 0;
  uniformPage = 0;
  /** Slots in the uniform form's written prefix; -1 once the arrays exist (the uniform fields then mean nothing). */
  uniformEnd = 0;

  /** The expected content ids, per slot (made from the uniform form on first use). */
  get expectId(): Int32Array {
    if (this.ids === undefined) this.materializeExpect();
    return this.ids!;
  }

  /** The expected content pages, per slot (made from the uniform form on first use). */
  get expectPage(): Int32Array {
    if (this.pages === undefined) this.materializeExpect();
    return this.pages!;
  }

  private materializeExpect(): void {
    const at = EXPECT_SLAB.take();
    const ids = new Int32Array(EXPECT_SLAB.lastBuffer, at, PTRS_PER_PTE);
    const pages = new Int32Array(EXPECT_SLAB.lastBuffer, at + PTRS_PER_PTE * 4, PTRS_PER_PTE);
    const end = this.uniformEnd;
    ids.fill(this.uniformId, 0, end);
    for (let s = 0; s < end; s++) pages[s] = this.uniformPage + s;
    this.ids = ids;
    this.pages = pages;
    this.uniformEnd = -1;
  }

  /** Bytes this page holds (benchmark): the entries, the expectations once made, the object. */
  get bytes(): number {
    return (this.kinds === undefined ? 0 : PTRS_PER_PTE * 6) + (this.uniformEnd >= 0 ? 0 : PTRS_PER_PTE * 8) + 64;
  }

  /**
   * Slots [i, i + n) now expect (id, page + k), k counted from i: a write over fresh memory
   * (doAnonymousPages). The uniform form takes it when it continues the written prefix.
   */
  setExpectedRun(i: number, n: number, id: number, page: number): void {
    const end = this.uniformEnd;
    if (end >= 0 && i <= end && i + n >= end && (i === 0 || (id === this.uniformId && ((page - i) | 0) === this.uniformPage))) {
      this.uniformId = id;
      this.uniformPage = (page - i) | 0;
      this.uniformEnd = Math.max(end, i + n);
      return;
    }
    this.expectId.fill(id, i, i + n);
    const pages = this.pages!;
    for (let k = 0; k < n; k++) pages[i + k] = page + k;
  }

  /**
   * Bumped whenever an entry or the PMD flag may have changed (PageTable.set, clear, markDirty):
   * the residency views keep what they read of this table until it moves (tableRuns.ts).
   */
  changes = 0;
  /** Views' cache of this table's runs (tableRuns.ts), valid while `changes` stays. */
  runs: TableRuns | undefined = undefined;
  private isPmd = false;
  /**
   * The model PTE-maps here a THP that fork shared, which Linux keeps PMD-mapped (README "Where
   * the model decides"): a snapshot's PMD bit is not compared with the kernel's while !pmd, and
   * splitHugePmd splits "the PMD" (or the folio) as Linux would.
   */
  forkSplit = false;
  /**
   * The PMD entry points to a PTE page (not pmd_none, not a huge mapping). An emptied PTE page
   * stays (Linux frees it only with its VMAs, or on MADV_DONTNEED with mainline's PT_RECLAIM), so
   * a fault there maps a base page, never a THP: see pmdNone.
   */
  ptePage = false;
  /** Entries that are not pte_none. */
  used = 0;

  /** PMD-mapped THP (pmd_trans_huge or a PMD-level device-private entry). */
  get pmd(): boolean {
    return this.isPmd;
  }

  set pmd(v: boolean) {
    if (v !== this.isPmd) this.changes++;
    this.isPmd = v;
  }

  /** A huge entry installed (no PTE page under it), or split into a PTE page of 512 entries. */
  setPmd(huge: boolean): void {
    this.pmd = huge;
    this.ptePage = !huge;
  }

  /** The PMD entry cleared: zap_huge_pmd, a PTE page moved whole by mremap, or one reclaimed. */
  clearPmd(): void {
    this.pmd = false;
    this.ptePage = false;
  }

  clone(): PteTable {
    const t = new PteTable();
    if (this.kinds === undefined) {
      t.formLo = this.formLo;
      t.formHi = this.formHi;
      t.formKind = this.formKind;
      t.formPfn = this.formPfn;
      t.formStep = this.formStep;
      t.formBits = this.formBits;
    } else {
      t.kind.set(this.kinds);
      t.bits.set(this.bitss!);
      t.pfn.set(this.pfns!);
    }
    if (this.uniformEnd >= 0) {
      t.uniformId = this.uniformId;
      t.uniformPage = this.uniformPage;
      t.uniformEnd = this.uniformEnd;
    } else {
      t.expectId.set(this.expectId);
      t.expectPage.set(this.expectPage);
    }
    t.pmd = this.pmd;
    t.forkSplit = this.forkSplit;
    t.ptePage = this.ptePage;
    t.used = this.used;
    return t;
  }
}

/** pmd_none: neither a huge entry nor a PTE page (a PTE page of pte_none entries is not none). */
export function pmdNone(t: PteTable | undefined): boolean {
  return t === undefined || (!t.pmd && !t.ptePage);
}

/**
 * Record what the process expects slot `i` of `t` to hold (content id and page; -1 = not known),
 * for the data invariant (invariants.ts).
 */
export function setExpected(t: PteTable, i: number, contentId: number, contentPage: number): void {
  t.expectId[i] = contentId;
  t.expectPage[i] = contentPage;
}

/**
 * The slot of `vpn` in its PTE page, as a small integer. Virtual page numbers exceed 2^31, so
 * V8 keeps them as doubles: a slot left as a double made per-page loops box a number each
 * time, and `%` on a double is a call into the C library (floor and multiply are not).
 */
export function pteIndex(vpn: number): number {
  return (vpn - Math.floor(vpn / PTRS_PER_PTE) * PTRS_PER_PTE) | 0;
}

export function pmdIndex(vpn: number): number {
  return Math.floor(vpn / PTRS_PER_PTE);
}

/**
 * Indices of page-table pages (CPU or device) changed since the invariant checker last looked,
 * each once, in the order first added. Walks mark the same page hundreds of times in a row and
 * go up the indices a page after another, so they are kept as runs of consecutive indices (a
 * whole GPU's walk is one run, where a Set took a hash entry per page); past RUNS_MAX runs (an
 * index may recur in a later one), as a Set.
 */
export class ChangedPages implements Iterable<number> {
  private static readonly RUNS_MAX = 64;
  /** Runs [starts[r], ends[r]) in the order they began. */
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  /** Every index, once there are too many runs (then the runs are empty). */
  private set: Set<number> | undefined;
  private last = -1;

  add(idx: number): void {
    if (idx === this.last) return;
    this.last = idx;
    if (this.set !== undefined) {
      this.set.add(idx);
      return;
    }
    const r = this.starts.length - 1;
    if (r >= 0 && idx === this.ends[r]) {
      this.ends[r] = idx + 1;
      return;
    }
    if (r + 1 < ChangedPages.RUNS_MAX) {
      this.starts.push(idx);
      this.ends.push(idx + 1);
      return;
    }
    const set = new Set<number>(this);
    set.add(idx);
    this.set = set;
    this.starts.length = 0;
    this.ends.length = 0;
  }

  clear(): void {
    this.starts.length = 0;
    this.ends.length = 0;
    this.set = undefined;
    this.last = -1;
  }

  /** Whether `idx` was added (since the last clear). */
  has(idx: number): boolean {
    if (this.set !== undefined) return this.set.has(idx);
    for (let r = 0; r < this.starts.length; r++) if (idx >= this.starts[r]! && idx < this.ends[r]!) return true;
    return false;
  }

  *[Symbol.iterator](): Iterator<number> {
    if (this.set !== undefined) {
      yield* this.set;
      return;
    }
    const starts = this.starts;
    const ends = this.ends;
    for (let r = 0; r < starts.length; r++) {
      for (let idx = starts[r]!; idx < ends[r]!; idx++) {
        // Added before, in an earlier run: not again.
        let seen = false;
        for (let q = 0; q < r && !seen; q++) seen = idx >= starts[q]! && idx < ends[q]!;
        if (!seen) yield idx;
      }
    }
  }
}

/** PTE pages per leaf of PageTable's index by PMD index. */
const LEAF = 512;

export class PageTable {
  /** Every PTE page by PMD index, in the order made (written only here: see put and freeTable). */
  readonly tables: ReadonlyMap<number, PteTable> = new Map<number, PteTable>();
  /**
   * The same pages in leaves of LEAF PMD indices, for lookups: a walk over a whole GPU's tables
   * went to a hash map of ~100k entries once per PTE page and statement (a cache miss each).
   */
  private readonly leaves = new Map<number, (PteTable | undefined)[]>();
  private leafKey = -1;
  private leaf: (PteTable | undefined)[] | undefined;
  /** PMD indices whose entries changed since the last invariant check. */
  readonly dirty = new ChangedPages();
  /** The PTE page looked up last: page walks go a page at a time, so most lookups repeat it. */
  private cachedIdx = -1;
  private cachedTable: PteTable | undefined;

  clone(): PageTable {
    const c = new PageTable();
    for (const [idx, t] of this.tables) c.put(idx, t.clone());
    return c;
  }

  /** The leaf holding PMD index `idx` (made when `make`). */
  private leafOf(idx: number, make: boolean): (PteTable | undefined)[] | undefined {
    const key = Math.floor(idx / LEAF);
    if (key !== this.leafKey) {
      let leaf = this.leaves.get(key);
      if (leaf === undefined && make) this.leaves.set(key, (leaf = new Array<PteTable | undefined>(LEAF).fill(undefined)));
      if (leaf === undefined) return undefined;
      this.leafKey = key;
      this.leaf = leaf;
    }
    return this.leaf;
  }

  private put(idx: number, t: PteTable): void {
    (this.tables as Map<number, PteTable>).set(idx, t);
    this.leafOf(idx, true)![idx - Math.floor(idx / LEAF) * LEAF] = t;
  }

  /** The PTE page of PMD index `idx`. */
  table(idx: number): PteTable | undefined {
    if (idx !== this.cachedIdx) {
      this.cachedIdx = idx;
      this.cachedTable = this.leafOf(idx, false)?.[idx - Math.floor(idx / LEAF) * LEAF];
    }
    return this.cachedTable;
  }

  lookup(vpn: number): PteTable | undefined {
    return this.table(pmdIndex(vpn));
  }

  /** pte_alloc: the PTE page for `vpn`, created on demand. */
  alloc(vpn: number): PteTable {
    const idx = pmdIndex(vpn);
    let t = this.table(idx);
    if (t === undefined) {
      t = new PteTable();
      this.put(idx, t);
      this.cachedTable = t;
    }
    return t;
  }

  /** free_pte_range: the PTE page of PMD index `idx` goes. */
  freeTable(idx: number): void {
    (this.tables as Map<number, PteTable>).delete(idx);
    const leaf = this.leafOf(idx, false);
    if (leaf !== undefined) leaf[idx - Math.floor(idx / LEAF) * LEAF] = undefined;
    if (idx === this.cachedIdx) this.cachedTable = undefined;
  }

  kindAt(vpn: number): Pte {
    const t = this.lookup(vpn);
    return t === undefined ? Pte.NONE : (t.kind[pteIndex(vpn)]! as Pte);
  }

  set(vpn: number, kind: Pte, pfn: number, bits: number): void {
    const t = this.alloc(vpn);
    const i = pteIndex(vpn);
    if (t.kind[i] === Pte.NONE && kind !== Pte.NONE) t.used++;
    else if (t.kind[i] !== Pte.NONE && kind === Pte.NONE) t.used--;
    if (kind !== Pte.NONE && !t.pmd) t.ptePage = true;
    t.kind[i] = kind;
    t.pfn[i] = pfn;
    t.bits[i] = bits;
    t.changes++;
    this.dirty.add(pmdIndex(vpn));
  }

  /**
   * set() of `n` pte_none entries of one PTE page, from `vpn`: each becomes `kind` with the
   * next pfn of `pfns` and `bits`.
   */
  setNoneRun(vpn: number, n: number, kind: Pte, pfns: Int32Array, bits: number): void {
    const t = this.alloc(vpn);
    const i = pteIndex(vpn);
    t.used += n;
    if (!t.pmd) t.ptePage = true;
    // Forms are range batching's: page by page, every table holds arrays (the reference the batching tests compare with).
    if (rangeBatching() && t.extendForm(i, n, kind, pfns, bits)) {
      this.markDirty(vpn);
      return;
    }
    t.kind.fill(kind, i, i + n);
    t.pfn.set(pfns.subarray(0, n), i);
    t.bits.fill(bits, i, i + n);
    this.markDirty(vpn);
  }

  clear(vpn: number): void {
    const t = this.lookup(vpn);
    if (t === undefined) return;
    const i = pteIndex(vpn);
    if (t.kind[i] !== Pte.NONE) t.used--;
    t.kind[i] = Pte.NONE;
    t.pfn[i] = 0;
    t.bits[i] = 0;
    t.changes++;
    this.dirty.add(pmdIndex(vpn));
  }

  /**
   * The entries of `vpn`'s PTE page changed: every direct write to a table's arrays calls this
   * in the same synchronous stretch (a stop between the two would show a stale view).
   */
  markDirty(vpn: number): void {
    const idx = pmdIndex(vpn);
    const t = this.table(idx);
    if (t !== undefined) t.changes++;
    this.dirty.add(idx);
  }

  /** What changed is a page's contents, not an entry: for the data invariant only. */
  markContentDirty(vpn: number): void {
    this.dirty.add(pmdIndex(vpn));
  }

  /** Whether any PTE page exists in [start, end): mprotect notifies only populated ranges. */
  firstPopulated(start: number, end: number): number | undefined {
    let best: number | undefined;
    if (end - start < this.tables.size * PTRS_PER_PTE) {
      for (let idx = pmdIndex(start); idx * PTRS_PER_PTE < end; idx++) {
        if (this.tables.has(idx)) return Math.max(start, idx * PTRS_PER_PTE);
      }
      return undefined;
    }
    for (const idx of this.tables.keys()) {
      const s = idx * PTRS_PER_PTE;
      if (s + PTRS_PER_PTE > start && s < end && (best === undefined || s < best)) best = s;
    }
    return best === undefined ? undefined : Math.max(start, best);
  }

  /** Bytes the page table holds (benchmark). */
  get bytes(): number {
    let n = 0;
    for (const t of this.tables.values()) n += t.bytes;
    return n;
  }
}
