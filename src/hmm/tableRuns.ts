// What the residency views read of one page-table page (a CPU PTE page or a device page-table
// page), cached on the page: its runs of entries in the same state whose frames step evenly.
// A run is built by one pass over the page's 512 slots and kept until the page is written
// (its `changes` counter, bumped by PageTable.set/clear/markDirty, the PMD flag's setter and
// the mirror's store/erase) or a mapped frame's state moves without a page-table write
// (PageFrames.residencyGen: mapcount crossing 1, pincount crossing 0, a folio split, a
// checkpoint loaded). The views (lang/residency.ts, lang/picture.ts, lang/inspect.ts) combine
// these runs, so a million resident pages in one state cost 2048 cache hits, not a million
// slot reads. A cached page holds 4 numbers per run; untouched pages hold nothing.

import { PTRS_PER_PTE } from './constants';
import type { DptPage } from './mirror';
import { type PageFrames, Zone } from './page';
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

function cpuKey(f: PageFrames, t: PteTable, s: number, kind: Pte, pfn: number): number {
  const head = f.head(pfn);
  const bits = t.bits[s]!;
  return kind | ((f.zone.get(pfn) & 7) << CPU_KEY.zoneShift) | ((bits & PTE_WRITE) !== 0 ? CPU_KEY.writable : 0) |
    (f.mapcount.get(t.pmd ? head : pfn) > 1 ? CPU_KEY.shared : 0) | (f.pincount.get(f.pinHolder(pfn)) > 0 ? CPU_KEY.pinned : 0) |
    (t.pmd ? CPU_KEY.huge : 0) | (((bits >> 4) & 0xf) << CPU_KEY.makerShift) | (f.device.get(pfn) << CPU_KEY.deviceShift);
}

function deviceKey(f: PageFrames, tag: number, pfn: number, device: number): number {
  const zone = f.zone.get(pfn);
  const local = (zone === Zone.DEVICE_PRIVATE || zone === Zone.DEVICE_COHERENT) && f.device.get(pfn) === device;
  return tag | (local ? DEVICE_KEY.local : 0) | (zone === Zone.ZERO ? DEVICE_KEY.zero : 0);
}

/** Collects slots into runs: a run goes on while the key is equal and the pfn steps as it began. */
class Runs {
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

  flush(): void {
    if (this.from >= 0) this.data.push(this.from | (this.end << 16), this.key, this.pfn0, this.step);
    this.from = -1;
  }
}

/** A fresh pass over CPU PTE page `t` (what the cache must always equal). */
export function scanCpuTable(f: PageFrames, t: PteTable): number[] {
  const r = new Runs();
  for (let s = 0; s < PTRS_PER_PTE; s++) {
    const kind = t.kind[s] as Pte;
    if (kind === Pte.NONE) continue;
    const pfn = t.pfn[s]!;
    r.add(s, cpuKey(f, t, s, kind, pfn), pfn);
  }
  r.flush();
  return r.data;
}

/** A fresh pass over device page-table page `p` of device index `device`. */
export function scanDptPage(f: PageFrames, p: DptPage, device: number): number[] {
  const r = new Runs();
  for (let s = 0; s < PTRS_PER_PTE; s++) {
    const tag = p.tag[s]!;
    if (tag === 0) continue;
    const pfn = p.pfn[s]!;
    r.add(s, deviceKey(f, tag, pfn, device), pfn);
  }
  r.flush();
  return r.data;
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
