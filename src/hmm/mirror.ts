// struct dmirror (lib/test_hmm.c): one process's mirror on one device, with its device page
// table (dmirror->pt, an xarray by virtual pfn; here sparse 512-entry pages) and its interval
// notifier over the whole address space, whose callback (dmirror_interval_invalidate) erases
// what the CPU took back. The driver's commands that fill it are in dmirror.ts.

import { ADDRESS_SPACE_PAGES, MMU_NOTIFY_NAMES, MmuNotifyEvent, PTRS_PER_PTE } from './constants';
import type { KernelWork } from './kernelWork';
import type { Device } from './memremap';
import type { MigrateMachine } from './migrateDevice';
import type { Mm } from './mm';
import {
  MmuIntervalNotifier, type MmuIntervalNotifierOps, type MmuNotifierRange, mmuIntervalSetSeq,
} from './mmuNotifier';
import type { NotifierLog } from './notifierLog';
import { NO_PFN } from './page';
import { ChangedPages, pteIndex, SlabAllocator, type TableRuns } from './pgtable';
import { rangeBatching } from './batching';

/** Device page-table entry tags (DPT_XA_TAG_*): 0 = no entry. */
export const enum Dpt {
  NONE = 0,
  ATOMIC = 1,
  READ = 2,
  WRITE = 3,
}

/** Empty dpt pages the driver keeps for reuse: enough for 2M pages (10 MiB). */
const DPT_POOL_PAGES = 4096;

/** dpt pages share slabs, as the CPU's page-table pages do (see SlabAllocator). */
const DPT_SLAB = new SlabAllocator(PTRS_PER_PTE * 5, 64);

export class DptPage {
  /** The entry arrays (one region of a slab), made on first use: see the form below. */
  private pfns: Int32Array | undefined = undefined;
  private tags: Uint8Array | undefined = undefined;
  /**
   * While the arrays are not made, the entries are a form (as PteTable's): slots [formLo,
   * formHi) hold formTag and pfn formPfn + (s - formLo) * formStep, the others no entry. A
   * migration chunk's finalize-and-map fills a page as one such line, and erasing it empties it.
   */
  formLo = 0;
  formHi = 0;
  formTag: Dpt = Dpt.NONE;
  formPfn = 0;
  formStep = 1;

  get isForm(): boolean {
    return this.tags === undefined;
  }

  get pfn(): Int32Array {
    if (this.pfns === undefined) this.materialize();
    return this.pfns!;
  }

  get tag(): Uint8Array {
    if (this.tags === undefined) this.materialize();
    return this.tags!;
  }

  /** Slot s's tag and pfn, as the form or the arrays have them (no arrays made). */
  tagAt(s: number): Dpt {
    if (this.tags !== undefined) return this.tags[s] as Dpt;
    return s >= this.formLo && s < this.formHi ? this.formTag : Dpt.NONE;
  }

  pfnAt(s: number): number {
    if (this.pfns !== undefined) return this.pfns[s]!;
    return s >= this.formLo && s < this.formHi ? this.formPfn + (s - this.formLo) * this.formStep : 0;
  }

  /** The form becomes slots [lo, hi) of `tag` from `pfn` by `step` (lo === hi: no entry). */
  setForm(lo: number, hi: number, tag: Dpt, pfn: number, step: number): void {
    this.formLo = lo;
    this.formHi = hi;
    this.formTag = lo === hi ? Dpt.NONE : tag;
    this.formPfn = lo === hi ? 0 : pfn;
    this.formStep = lo === hi ? 1 : step;
  }

  private materialize(): void {
    const at = DPT_SLAB.take();
    const buf = DPT_SLAB.lastBuffer;
    const pfns = new Int32Array(buf, at, PTRS_PER_PTE);
    const tags = new Uint8Array(buf, at + PTRS_PER_PTE * 4, PTRS_PER_PTE);
    const lo = this.formLo;
    const hi = this.formHi;
    if (lo < hi) {
      tags.fill(this.formTag, lo, hi);
      for (let s = lo, p = this.formPfn; s < hi; s++, p += this.formStep) pfns[s] = p;
    }
    this.pfns = pfns;
    this.tags = tags;
    this.setForm(0, 0, Dpt.NONE, 0, 1);
  }
  /**
   * 1 where the entry is the device-private struct page itself, as test_hmm's dmirror_do_fault
   * stores what hmm_range_fault returned for its own device's page (a migration stores the
   * system page backing it): the CPU cannot copy through such an entry. Made on first need.
   */
  raw: Uint8Array | undefined;
  used = 0;
  /** Bumped at every write, as PteTable.changes: the views' cache of its runs (tableRuns.ts). */
  changes = 0;
  runs: TableRuns | undefined = undefined;
  clone(): DptPage {
    const c = new DptPage();
    if (this.tags === undefined) c.setForm(this.formLo, this.formHi, this.formTag, this.formPfn, this.formStep);
    else {
      c.pfn.set(this.pfns!);
      c.tag.set(this.tags);
    }
    if (this.raw !== undefined) c.raw = this.raw.slice();
    c.used = this.used;
    return c;
  }
}

export interface DmirrorState {
  readonly mirror: Dmirror;
  readonly pt: Map<number, DptPage>;
  readonly failAlloc: boolean;
  readonly seq: number;
  readonly registered: boolean;
}

export class Dmirror implements MmuIntervalNotifierOps {
  readonly pt = new Map<number, DptPage>();
  /** dpt pages changed since the last invariant check. */
  readonly dirty = new ChangedPages();
  readonly notifier: MmuIntervalNotifier<Mm>;
  /** HMM_DMIRROR_FLAG_FAIL_ALLOC. */
  failAlloc = false;
  /** The dpt page looked up last (walks go a page at a time, so most lookups repeat it). */
  private cachedIdx = -1;
  private cachedPage: DptPage | undefined;
  constructor(
    readonly sim: MigrateMachine,
    readonly id: number,
    readonly device: Device,
    readonly mm: Mm,
    /** Empty dpt pages kept for reuse, shared by the driver's mirrors (a slab cache). */
    private readonly pagePool: DptPage[],
    /** The driver's record of every callback, for `expect notified`. */
    private readonly notifierLog: NotifierLog<Dmirror>,
  ) {
    this.notifier = new MmuIntervalNotifier<Mm>(0, ADDRESS_SPACE_PAGES, this, device.name);
  }

  /** The coalescing key of this mirror's allocation events (made once). */
  get allocKey(): string {
    return (this.allocKeyMade ??= `alloc:${this.id}`);
  }

  /** The coalescing key of this mirror's `what` mapping events (made once per `what`). */
  mappingKey(what: string): string {
    let k = this.mappingKeys.get(what);
    if (k === undefined) this.mappingKeys.set(what, (k = `dpt:${this.id}:${what}`));
    return k;
  }

  private allocKeyMade: string | undefined;
  private readonly mappingKeys = new Map<string, string>();

  get label(): string {
    return `${this.device.name}/${this.mm.name}`;
  }

  save(): DmirrorState {
    const pt = new Map<number, DptPage>();
    for (const [k, p] of this.pt) pt.set(k, p.clone());
    return { mirror: this, pt, failAlloc: this.failAlloc, seq: this.notifier.invalidateSeq, registered: this.notifier.mm !== undefined };
  }

  load(s: DmirrorState): void {
    this.pt.clear();
    for (const [k, p] of s.pt) this.pt.set(k, p.clone());
    this.cachedIdx = -1;
    this.cachedPage = undefined;
    this.failAlloc = s.failAlloc;
    this.notifier.invalidateSeq = s.seq;
    this.notifier.mm = s.registered ? this.mm : undefined;
  }

  private page(idx: number): DptPage | undefined {
    if (idx !== this.cachedIdx) {
      this.cachedIdx = idx;
      this.cachedPage = this.pt.get(idx);
    }
    return this.cachedPage;
  }

  entry(vpn: number): { pfn: number; tag: Dpt } {
    const p = this.page(Math.floor(vpn / PTRS_PER_PTE));
    const s = pteIndex(vpn);
    return p === undefined ? { pfn: NO_PFN, tag: Dpt.NONE } : { pfn: p.pfnAt(s), tag: p.tagAt(s) };
  }

  /** The frame an entry maps (meaningful only when tagAt(vpn) is not NONE). */
  pfnAt(vpn: number): number {
    const p = this.page(Math.floor(vpn / PTRS_PER_PTE));
    return p === undefined ? NO_PFN : p.pfnAt(pteIndex(vpn));
  }

  tagAt(vpn: number): Dpt {
    const p = this.page(Math.floor(vpn / PTRS_PER_PTE));
    return p === undefined ? Dpt.NONE : p.tagAt(pteIndex(vpn));
  }

  /** Whether the entry at vpn is a device-private struct page itself (DptPage.raw). */
  rawAt(vpn: number): boolean {
    const p = this.page(Math.floor(vpn / PTRS_PER_PTE));
    return p?.raw !== undefined && p.raw[pteIndex(vpn)] === 1;
  }

  /** xa_store at vpn; `raw`: the entry is the device-private struct page itself (DptPage.raw). */
  store(vpn: number, pfn: number, tag: Dpt, raw = false): void {
    this.storeSlot(Math.floor(vpn / PTRS_PER_PTE), pteIndex(vpn), pfn, tag, raw);
  }

  /** The tag of slot `slot` of dpt page `idx` (small integers: for per-page loops). */
  tagAtSlot(idx: number, slot: number): Dpt {
    const p = this.page(idx);
    return p === undefined ? Dpt.NONE : p.tagAt(slot);
  }

  /** xa_store into slot `slot` of dpt page `idx`. */
  storeSlot(idx: number, slot: number, pfn: number, tag: Dpt, raw = false): void {
    let p = this.page(idx);
    if (p === undefined) {
      p = this.pagePool.pop() ?? new DptPage();
      this.pt.set(idx, p);
      this.cachedPage = p;
    }
    if (p.tag[slot] === Dpt.NONE) p.used++;
    p.pfn[slot] = pfn;
    p.tag[slot] = tag;
    if (raw) (p.raw ??= new Uint8Array(PTRS_PER_PTE))[slot] = 1;
    else if (p.raw !== undefined) p.raw[slot] = 0;
    p.changes++;
    this.dirty.add(idx);
  }

  /**
   * storeSlot(idx, from + k, pfns[at + k], tags[k]) for each k of [0, n) whose tag is not NONE
   * (never raw), with one change and one dirty mark for the page: dmirror's finalize-and-map of
   * a migration chunk. [from, from + n) lies in the page.
   */
  storeRun(idx: number, from: number, n: number, pfns: Int32Array, at: number, tags: Uint8Array): void {
    let k0 = 0;
    while (k0 < n && tags[k0] === Dpt.NONE) k0++;
    if (k0 === n) return;
    let p = this.page(idx);
    if (p === undefined) {
      p = this.pagePool.pop() ?? new DptPage();
      this.pt.set(idx, p);
      this.cachedPage = p;
    }
    if (p.isForm && this.storeRunForm(p, from, n, pfns, at, tags)) {
      p.changes++;
      this.dirty.add(idx);
      return;
    }
    const raw = p.raw;
    for (let k = k0; k < n; k++) {
      const tag = tags[k]!;
      if (tag === Dpt.NONE) continue;
      const s = from + k;
      if (p.tag[s] === Dpt.NONE) p.used++;
      p.pfn[s] = pfns[at + k]!;
      p.tag[s] = tag;
      if (raw !== undefined) raw[s] = 0;
    }
    p.changes++;
    this.dirty.add(idx);
  }

  /**
   * storeRun's entries taken by an empty page's form, when every tag is one (not NONE) and the
   * pfns one line (true); else nothing changes (false).
   */
  private storeRunForm(p: DptPage, from: number, n: number, pfns: Int32Array, at: number, tags: Uint8Array): boolean {
    if (p.formLo !== p.formHi || p.raw !== undefined || !rangeBatching()) return false;
    const tag = tags[0]!;
    const p0 = pfns[at]!;
    const step = n > 1 ? pfns[at + 1]! - p0 : 1;
    if (tag === Dpt.NONE || (step !== 1 && step !== -1)) return false;
    for (let k = 1; k < n; k++) if (tags[k] !== tag || pfns[at + k] !== p0 + k * step) return false;
    p.setForm(from, from + n, tag as Dpt, p0, step);
    p.used += n;
    return true;
  }

  /** Dpt page `idx`, for reading only (tagAt, pfnAt; undefined: no page, every tag NONE). */
  pageAt(idx: number): DptPage | undefined {
    return this.page(idx);
  }

  /**
   * xa_erase of slot `slot` of dpt page `idx` (small integers, so per-page callers do no
   * double arithmetic), only where it maps `pfn` unless that is NO_PFN. Returns whether it went.
   */
  eraseSlot(idx: number, slot: number, pfn: number): boolean {
    const p = this.page(idx);
    if (p === undefined || p.tagAt(slot) === Dpt.NONE || (pfn !== NO_PFN && p.pfnAt(slot) !== pfn)) return false;
    p.tag[slot] = Dpt.NONE;
    p.pfn[slot] = 0;
    if (p.raw !== undefined) p.raw[slot] = 0;
    p.used--;
    p.changes++;
    this.dirty.add(idx);
    if (p.used === 0) this.dropPage(idx, p);
    return true;
  }

  /** An empty dpt page goes back to the pool. */
  private dropPage(idx: number, p: DptPage): void {
    this.pt.delete(idx);
    this.cachedPage = undefined;
    if (this.pagePool.length < DPT_POOL_PAGES) this.pagePool.push(p);
  }

  /** xa_erase over [start, end); returns how many entries went. */
  erase(start: number, end: number): number {
    let erased = 0;
    const first = Math.floor(start / PTRS_PER_PTE);
    const last = Math.floor((end - 1) / PTRS_PER_PTE);
    // Walk the index range when it is short, else the populated pages (RELEASE covers everything).
    const short = last - first < this.pt.size;
    const keys = short ? undefined : [...this.pt.keys()];
    const count = short ? last - first + 1 : keys!.length;
    for (let n = 0; n < count; n++) {
      const idx = short ? first + n : keys![n]!;
      const p = this.page(idx);
      if (p === undefined) continue;
      const base = idx * PTRS_PER_PTE;
      if (base + PTRS_PER_PTE <= start || base >= end) continue;
      const lo = Math.max(start, base) - base;
      const hi = Math.min(end, base + PTRS_PER_PTE) - base;
      // A form loses the slots [lo, hi) covers at once, unless they cut it in two.
      const fLo = p.formLo;
      const fHi = p.formHi;
      if (p.isForm && (lo <= fLo || hi >= fHi)) {
        const gone = Math.max(0, Math.min(hi, fHi) - Math.max(lo, fLo));
        if (gone === fHi - fLo) p.setForm(0, 0, Dpt.NONE, 0, 1);
        else if (gone > 0 && lo <= fLo) p.setForm(hi, fHi, p.formTag, p.formPfn + (hi - fLo) * p.formStep, p.formStep);
        else if (gone > 0) p.setForm(fLo, lo, p.formTag, p.formPfn, p.formStep);
        p.used -= gone;
        erased += gone;
        p.changes++;
        this.dirty.add(idx);
        if (p.used === 0) this.dropPage(idx, p);
        continue;
      }
      for (let s = lo; s < hi; s++) {
        if (p.tag[s] !== Dpt.NONE) {
          p.tag[s] = Dpt.NONE;
          p.pfn[s] = 0;
          if (p.raw !== undefined) p.raw[s] = 0;
          p.used--;
          erased++;
        }
      }
      p.changes++;
      this.dirty.add(idx);
      if (p.used === 0) this.dropPage(idx, p);
    }
    return erased;
  }

  /** dmirror_interval_invalidate (lib/test_hmm.c); it never pauses (invalidateNow). */
  *invalidate(sub: MmuIntervalNotifier, range: MmuNotifierRange, curSeq: number): KernelWork<boolean> {
    return this.invalidateNow(sub, range, curSeq);
  }

  invalidateNow(sub: MmuIntervalNotifier, range: MmuNotifierRange, curSeq: number): boolean {
    const before = sub.invalidateSeq;
    // Our own migrations update the device page table themselves: ignore them, no set_seq.
    if (range.event === MmuNotifyEvent.MIGRATE && range.owner === this.device) {
      this.record(range, before, before, 'ignored-own-migrate', 0);
      return true;
    }
    mmuIntervalSetSeq(sub, curSeq);
    // The kernel erases [start >> PAGE_SHIFT, end >> PAGE_SHIFT] inclusive: one page past end.
    const erased = this.erase(range.start, Math.min(range.end + 1, ADDRESS_SPACE_PAGES));
    if (erased > 0) this.sim.clock.advance(this.sim.timing.devicePteUpdateNs);
    this.record(range, before, curSeq, 'invalidated', erased);
    return true;
  }

  continuesClearAt(start: number): boolean {
    const event = MMU_NOTIFY_NAMES[MmuNotifyEvent.CLEAR];
    return this.notifierLog.continuesAt(this, event, null, this.sim.step, start) &&
      this.sim.openEventAt(this.recordKey(event, null, 'invalidated'), start) !== undefined;
  }

  invalidateClearRun(sub: MmuIntervalNotifier, start: number, n: number, seq: { first: number; step: number }, beforeEach: number): void {
    const clock = this.sim.clock;
    const pteNs = this.sim.timing.devicePteUpdateNs;
    // Callback k erases [start + k, start + k + 2) (one page past its range, see invalidateNow);
    // start + k went with callback k - 1's already.
    const end = Math.min(start + n + 1, ADDRESS_SPACE_PAGES);
    let erased = 0;
    for (let k = 0; k < n; k++) {
      clock.advance(beforeEach);
      let e = k === 0 && this.tagAt(start) !== Dpt.NONE ? 1 : 0;
      if (start + k + 1 < end && this.tagAt(start + k + 1) !== Dpt.NONE) e++;
      if (e > 0) clock.advance(pteNs);
      erased += e;
    }
    this.erase(start, end);
    const last = seq.first + (n - 1) * seq.step;
    mmuIntervalSetSeq(sub, last);
    const event = MMU_NOTIFY_NAMES[MmuNotifyEvent.CLEAR];
    this.notifierLog.extend(n);
    this.sim.coalesceRun(this.sim.openEventAt(this.recordKey(event, null, 'invalidated'), start)!, n, {
      kind: 'notifier', event, owner: null, mirror: this.device.name, seqBefore: seq.first, seqAfter: last, action: 'invalidated', erased,
    });
  }

  /** A callback, for `expect notified` and as a `notifier` event. */
  private record(range: MmuNotifierRange, seqBefore: number, seqAfter: number,
    action: 'ignored-own-migrate' | 'invalidated' | 'seq-only', erased: number): void {
    const event = MMU_NOTIFY_NAMES[range.event];
    const owner = range.owner?.name ?? null;
    this.notifierLog.push({ mirror: this, event, start: range.start, end: range.end, owner, step: this.sim.step });
    this.sim.emit(range.mm.name, range.start, range.end, {
      kind: 'notifier', event, owner, mirror: this.device.name, seqBefore, seqAfter, action, erased,
    }, this.recordKey(event, owner, action));
  }

  /** The coalescing key of a callback; the last one is kept (per-page callbacks repeat it). */
  private lastKey = { event: '', owner: null as string | null, action: '', key: '' };
  private recordKey(event: string, owner: string | null, action: string): string {
    const k = this.lastKey;
    if (k.event !== event || k.owner !== owner || k.action !== action || k.key === '') {
      this.lastKey = { event, owner, action, key: `notif:${this.id}:${event}:${owner ?? '-'}:${action}` };
    }
    return this.lastKey.key;
  }
}
