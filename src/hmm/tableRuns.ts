// What the residency views read of one page-table page (a CPU PTE page or a device page-table
// page), cached on the page: its runs of entries in the same state whose frames step evenly.
// A run is built by one pass over the page's 512 slots and kept until the page is written
// (its `changes` counter, bumped by PageTable.set/clear/markDirty, the PMD flag's setter and
// the mirror's store/erase) or a mapped frame's state moves without a page-table write
// (PageFrames.residencyGen: mapcount crossing 1, pincount crossing 0, a folio split, a
// checkpoint loaded). The views (lang/residency.ts, lang/picture.ts, lang/inspect.ts) combine
// these runs, so a million resident pages in one state cost 2048 cache hits, not a million
// slot reads. A cached page holds 4 numbers per run; untouched pages hold nothing.

import { HPAGE_PMD_NR, PTRS_PER_PTE } from './constants';
import { FRAME_CHUNK, FRAME_CHUNK_SHIFT, LARGE } from './frameStore';
import type { DptPage } from './mirror';
import { type PageFrames, PG_LARGE_HEAD, PG_LARGE_TAIL, PG_TAIL, Zone } from './page';
import { Pte, PTE_WRITE, type PteTable } from './pgtable';

/** Numbers per run in TableRuns.data (pgtable.ts). */
export const RUN_FIELDS = 4;

/**
 * A CPU entry's state as one small integer: entry kind (3 bits) | zone (3) | writable | shared
 * (mapcount > 1) | pinned | PMD-mapped | device-exclusive maker + 1 (4) | device index (8).
 */
export const CPU_KEY = {
  zoneShift: 3, writable: 1 << 6, shared: 1 << 7, pinned: 1 << 8, huge: 1 << 9, makerShift: 10, deviceShift: 14,
} as const;

/** A device entry's state: tag (Dpt, 2 bits) | the frame is the device's own | the frame is the zero page. */
export const DEVICE_KEY = { local: 1 << 2, zero: 1 << 3 } as const;

/** What an absent chunk of a frame field reads as. */
const ZERO_CHUNK: Uint8Array = new Uint8Array(FRAME_CHUNK);
// A huge page's frames lie in one chunk, so a frame's head and pin holder are in its own.
if (FRAME_CHUNK % HPAGE_PMD_NR !== 0) throw new Error('a frame chunk must hold whole huge pages');
const HUGE_MASK = HPAGE_PMD_NR - 1;

/**
 * Collects a page's slots, in order, into runs: a run goes on while the key is equal and the pfn
 * steps as it began (+1, -1 or 0); `data` holds RUN_FIELDS numbers per run: [from, end) packed,
 * key, first pfn, step. (One add() per occupied slot: the scanners' frame reads are what the first
 * scan after a stop pays for; collecting in locals instead saved ~3 of ~33 ms at 1M entries.)
 */
export class SlotRuns {
  readonly data: number[] = [];
  private from = -1;
  private end = -1;
  private key = 0;
  private pfn0 = 0;
  private last = 0;
  private step = 1;

  add(s: number, key: number, pfn: number): void {
    if (s === this.end && key === this.key) {
      const d = pfn - this.last;
      const n = this.end - this.from;
      if (n === 1 ? d === 1 || d === -1 || d === 0 : d === this.step) {
        if (n === 1) this.step = d;
        this.end = s + 1;
        this.last = pfn;
        return;
      }
    }
    this.flush();
    this.from = s;
    this.end = s + 1;
    this.key = key;
    this.pfn0 = this.last = pfn;
    this.step = 1;
  }

  finish(): number[] {
    this.flush();
    return this.data;
  }

  private flush(): void {
    if (this.from >= 0) this.data.push(this.from | (this.end << 16), this.key, this.pfn0, this.step);
    this.from = -1;
  }
}

/**
 * A fresh pass over CPU PTE page `t` (what the cache must always equal): a slot's key is
 * cpuKey of test/reference/tableRuns.ts, read here from the frame fields' chunks directly.
 */
export function scanCpuTable(f: PageFrames, t: PteTable): number[] {
  const runs = new SlotRuns();
  // A form's entries are read as it holds them (its slots only; no arrays made).
  const formed = t.isForm;
  const kinds = formed ? undefined : t.kind;
  const pfns = formed ? undefined : t.pfn;
  const bits = formed ? undefined : t.bits;
  const pmd = t.pmd;
  const fixed = pmd ? CPU_KEY.huge : 0;
  let ci = -1;
  let zone = ZERO_CHUNK;
  let device = ZERO_CHUNK;
  let flags = ZERO_CHUNK;
  let mapcount = ZERO_CHUNK;
  let pincount = ZERO_CHUNK;
  for (let s = formed ? t.formLo : 0, end = formed ? t.formHi : PTRS_PER_PTE; s < end; s++) {
    const kind = kinds === undefined ? t.formKind : kinds[s]!;
    if (kind === Pte.NONE) continue;
    const pfn = pfns === undefined ? t.pfnAt(s) : pfns[s]!;
    if (pfn >>> FRAME_CHUNK_SHIFT !== ci) {
      ci = pfn >>> FRAME_CHUNK_SHIFT;
      zone = f.zone.chunkAt(ci) ?? ZERO_CHUNK;
      device = f.device.chunkAt(ci) ?? ZERO_CHUNK;
      flags = f.flags.chunkAt(ci) ?? ZERO_CHUNK;
      mapcount = f.mapcount.chunkAt(ci) ?? ZERO_CHUNK;
      pincount = f.pincount.chunkAt(ci) ?? ZERO_CHUNK;
    }
    const i = pfn & (FRAME_CHUNK - 1);
    const base = pfn - i;
    const fl = flags[i]!;
    // PageFrames.head and folioHead.
    const head = (fl & PG_TAIL) !== 0 ? i & ~HUGE_MASK : i;
    const holder = (fl & (PG_LARGE_HEAD | PG_LARGE_TAIL)) !== 0 ? i & ~HUGE_MASK : head;
    const m = pmd ? head : i;
    const mc = mapcount[m] === LARGE ? f.mapcount.get(base + m) : mapcount[m]!;
    const pc = pincount[holder] === LARGE ? f.pincount.get(base + holder) : pincount[holder]!;
    const b = bits === undefined ? t.formBits : bits[s]!;
    const k = kind | ((zone[i]! & 7) << CPU_KEY.zoneShift) | ((b & PTE_WRITE) !== 0 ? CPU_KEY.writable : 0) |
      (mc > 1 ? CPU_KEY.shared : 0) | (pc > 0 ? CPU_KEY.pinned : 0) | fixed | (((b >> 4) & 0xf) << CPU_KEY.makerShift) |
      (device[i]! << CPU_KEY.deviceShift);
    runs.add(s, k, pfn);
  }
  return runs.finish();
}

/** A fresh pass over device page-table page `p` of device index `device` (deviceKey of test/reference/tableRuns.ts). */
export function scanDptPage(f: PageFrames, p: DptPage, deviceIndex: number): number[] {
  const runs = new SlotRuns();
  // A form's entries are read as it holds them (its slots only; no arrays made).
  const formed = p.isForm;
  const tags = formed ? undefined : p.tag;
  const pfns = formed ? undefined : p.pfn;
  let ci = -1;
  let zone = ZERO_CHUNK;
  let device = ZERO_CHUNK;
  for (let s = formed ? p.formLo : 0, end = formed ? p.formHi : PTRS_PER_PTE; s < end; s++) {
    const tag = tags === undefined ? p.formTag : tags[s]!;
    if (tag === 0) continue;
    const pfn = pfns === undefined ? p.pfnAt(s) : pfns[s]!;
    if (pfn >>> FRAME_CHUNK_SHIFT !== ci) {
      ci = pfn >>> FRAME_CHUNK_SHIFT;
      zone = f.zone.chunkAt(ci) ?? ZERO_CHUNK;
      device = f.device.chunkAt(ci) ?? ZERO_CHUNK;
    }
    const i = pfn & (FRAME_CHUNK - 1);
    const z = zone[i]!;
    const local = (z === Zone.DEVICE_PRIVATE || z === Zone.DEVICE_COHERENT) && device[i] === deviceIndex;
    const k = tag | (local ? DEVICE_KEY.local : 0) | (z === Zone.ZERO ? DEVICE_KEY.zero : 0);
    runs.add(s, k, pfn);
  }
  return runs.finish();
}

/** The runs of CPU PTE page `t`, from its cache when neither it nor the frames' state moved. */
export function cpuTableRuns(f: PageFrames, t: PteTable): readonly number[] {
  const c = t.runs;
  const gen = f.residencyGen;
  if (c !== undefined && c.changes === t.changes && c.gen === gen) return c.data;
  const data = scanCpuTable(f, t);
  t.runs = { changes: t.changes, gen, device: -1, data };
  return data;
}

/** The runs of device page-table page `p` (device index `device`), cached like cpuTableRuns. */
export function dptPageRuns(f: PageFrames, p: DptPage, device: number): readonly number[] {
  const c = p.runs;
  const gen = f.residencyGen;
  if (c !== undefined && c.changes === p.changes && c.gen === gen && c.device === device) return c.data;
  const data = scanDptPage(f, p, device);
  p.runs = { changes: p.changes, gen, device, data };
  return data;
}

/** First slot of run `r` of `data`. */
export function runFrom(data: readonly number[], r: number): number {
  return data[r * RUN_FIELDS]! & 0xffff;
}

/** End slot (exclusive) of run `r` of `data`. */
export function runEnd(data: readonly number[], r: number): number {
  return data[r * RUN_FIELDS]! >>> 16;
}

export function runKey(data: readonly number[], r: number): number {
  return data[r * RUN_FIELDS + 1]!;
}

export function runPfn(data: readonly number[], r: number): number {
  return data[r * RUN_FIELDS + 2]!;
}

export function runStep(data: readonly number[], r: number): number {
  return data[r * RUN_FIELDS + 3]!;
}
