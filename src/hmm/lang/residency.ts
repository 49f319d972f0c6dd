// A residency map for the terminal: a bar of up to 64 cells over the range and the runs of
// pages in the same state (`print RANGE`, `hmm-sim --verbose`).

import { PTRS_PER_PTE } from '../constants';
import type { Mm } from '../mm';
import { Zone } from '../page';
import { Pte } from '../pgtable';
import type { PageState, Simulator } from '../simulator';
import { CPU_KEY, cpuTableRuns, dptPageRuns, RUN_FIELDS, runEnd, runFrom, runKey } from '../tableRuns';

const BAR_CELLS = 64;
/** Above every CPU key of residencyRuns (kind << 15 is the highest field). */
const TAG_UNIT = 1 << 20;

function cell(st: PageState, sim: Simulator): string {
  switch (st.kind) {
    case 'unmapped': return ' ';
    case 'empty': return '.';
    case 'zero': return 'z';
    case 'system': return st.pinned ? 'P' : st.writable ? 'S' : 's';
    case 'exclusive': return 'X';
    case 'device': {
      const i = sim.devices.findIndex((d) => d.name === st.device);
      return String.fromCharCode((st.writable ? 0x30 : 0x61) + Math.max(0, i)); // 0-9 rw, a-j ro
    }
  }
}

function runText(st: PageState): string {
  if (st.kind === 'unmapped' || st.kind === 'empty' || st.kind === 'zero') return st.kind + (st.huge ? ' (huge)' : '');
  const parts: string[] = [st.kind];
  if (st.device) parts.push(st.device);
  if (st.kind !== 'exclusive') parts.push(st.writable ? 'rw' : 'ro');
  if (st.shared) parts.push('shared');
  if (st.pinned) parts.push('pinned');
  if (st.huge) parts.push('(huge)');
  return parts.join(' ');
}

export interface ResidencyRun {
  readonly start: number;
  end: number;
  readonly state: PageState;
}

/** Indices of PTE pages of [start, end) that hold CPU (and, `withMirrors`, device) entries, in address order. */
function populatedTables(sim: Simulator, mm: Mm, start: number, end: number, withMirrors = true): number[] {
  const first = Math.floor(start / PTRS_PER_PTE);
  const last = Math.floor((end - 1) / PTRS_PER_PTE);
  const maps: ReadonlyMap<number, unknown>[] = [mm.pt.tables];
  if (withMirrors) for (const m of sim.driver.mirrors) if (m.mm === mm) maps.push(m.pt);
  const out: number[] = [];
  // Probe each index of a short range (already in order); collect and sort the populated pages
  // of a long one (64 GiB mapped).
  if (last - first < maps.reduce((n, m) => n + m.size, 0)) {
    for (let idx = first; idx <= last; idx++) if (maps.some((m) => m.has(idx))) out.push(idx);
    return out;
  }
  for (const m of maps) for (const idx of m.keys()) if (idx >= first && idx <= last) out.push(idx);
  out.sort((a, b) => a - b);
  return out.filter((idx, i) => i === 0 || out[i - 1] !== idx);
}

/**
 * [start, end) of `mm` in address order as stretches of CPU state: `visit(vpn, pages, key)`
 * with key -1 outside every VMA, 0 for empty entries, else the CPU key (tableRuns.ts CPU_KEY).
 * Neighbouring stretches may have the same key.
 */
export function forEachCpuRun(sim: Simulator, mm: Mm, start: number, end: number, visit: (vpn: number, pages: number, key: number) => void): void {
  const f = sim.frames;
  let v = start;
  while (v < end) {
    const vma = mm.vmas.find(v);
    if (vma === undefined) {
      const stop = Math.min(end, mm.vmas.list.find((x) => x.start > v)?.start ?? end);
      visit(v, stop - v, -1);
      v = stop;
      continue;
    }
    const stop = Math.min(end, vma.end);
    for (const idx of populatedTables(sim, mm, v, stop, false)) {
      const base = idx * PTRS_PER_PTE;
      const data = cpuTableRuns(f, mm.pt.tables.get(idx)!);
      for (let r = 0; r * RUN_FIELDS < data.length; r++) {
        const a = Math.max(base + runFrom(data, r), v);
        const b = Math.min(base + runEnd(data, r), stop);
        if (a >= b) continue;
        if (a > v) visit(v, a - v, 0);
        visit(a, b - a, runKey(data, r));
        v = b;
      }
    }
    if (v < stop) visit(v, stop - v, 0);
    v = stop;
  }
}

/**
 * A CPU run's key (tableRuns.ts CPU_KEY) as the residency views tell runs apart: a code for
 * what the page is (zero, system, device, exclusive) with the device, permissions, sharing,
 * pinning, THP mapping, exclusive maker and entry kind; never 0 (unmapped) or EMPTY.
 */
function residencyKey(key: number): number {
  const kind = (key & 7) as Pte;
  const zone = ((key >> CPU_KEY.zoneShift) & 7) as Zone;
  const code = kind === Pte.DEVICE_EXCLUSIVE ? 5 : zone === Zone.ZERO ? 2 : zone === Zone.SYSTEM ? 3 : 4;
  return code | ((key >>> CPU_KEY.deviceShift) << 3) | ((key & CPU_KEY.writable) !== 0 ? 1 << 7 : 0) |
    ((key & CPU_KEY.shared) !== 0 ? 1 << 8 : 0) | ((key & CPU_KEY.pinned) !== 0 ? 1 << 9 : 0) | ((key & CPU_KEY.huge) !== 0 ? 1 << 10 : 0) |
    (((key >> CPU_KEY.makerShift) & 0xf) << 11) | (kind << 15);
}

/** A pointer into one page's cached runs, moved forward through the page's slots. */
class RunCursor {
  private data: readonly number[] = [];
  private r = 0;
  /** Where the answer of the last `at` next changes. */
  next = PTRS_PER_PTE;

  reset(data: readonly number[]): void {
    this.data = data;
    this.r = 0;
  }

  /** The key of the run covering `slot`, or -1. */
  at(slot: number): number {
    const n = this.data.length / RUN_FIELDS;
    while (this.r < n && runEnd(this.data, this.r) <= slot) this.r++;
    if (this.r === n) {
      this.next = PTRS_PER_PTE;
      return -1;
    }
    const from = runFrom(this.data, this.r);
    if (from > slot) {
      this.next = from;
      return -1;
    }
    this.next = runEnd(this.data, this.r);
    return runKey(this.data, this.r);
  }
}

const NO_RUNS: readonly number[] = [];

/**
 * Runs of equal state over [start, end), for the residency views and maps (at most `max`):
 * equal residency, permissions, sharing, pinning, THP mapping and device page-table entries.
 * Combines the cached runs of the populated page-table pages (tableRuns.ts), CPU and device,
 * so untouched address space costs nothing and a page in one state costs a cache hit; a
 * PageState is made only where a run starts.
 */
export function residencyRuns(sim: Simulator, mm: Mm, start: number, end: number, max = 4096): ResidencyRun[] {
  const runs: ResidencyRun[] = [];
  const mirrors = sim.devices.map((d) => sim.driver.mirrorOf(mm, d));
  const f = sim.frames;
  let curKey = -1;
  let cur: ResidencyRun | undefined;
  /** Extend the current run to `to`, or start one at `at` (ending at `to`); false when full. */
  const cover = (at: number, to: number, key: number): boolean => {
    if (cur !== undefined && key === curKey && cur.end === at) {
      cur.end = to;
      return true;
    }
    if (runs.length >= max) return false;
    curKey = key;
    cur = { start: at, end: to, state: sim.pageState(mm, at) };
    runs.push(cur);
    return true;
  };
  const EMPTY = 1;
  // Cursors over a page's CPU runs and each device's, made once per call.
  const cpu = new RunCursor();
  const tags = mirrors.map(() => new RunCursor());
  const shifts: number[] = mirrors.map(() => 0);
  let v = start;
  while (v < end) {
    const vma = mm.vmas.find(v);
    if (vma === undefined) {
      const next = mm.vmas.list.find((x) => x.start > v)?.start ?? end;
      const stop = Math.min(end, next);
      if (!cover(v, stop, 0)) return runs;
      v = stop;
      continue;
    }
    const stop = Math.min(end, vma.end);
    for (const idx of populatedTables(sim, mm, v, stop)) {
      const base = idx * PTRS_PER_PTE;
      if (base > v && !cover(v, base, EMPTY)) return runs;
      const t = mm.pt.tables.get(idx);
      const cpuRuns = t === undefined ? NO_RUNS : cpuTableRuns(f, t);
      let tagged = 0;
      for (let i = 0; i < mirrors.length; i++) {
        const p = mirrors[i]?.pt.get(idx);
        if (p === undefined) continue;
        tags[tagged]!.reset(dptPageRuns(f, p, sim.devices[i]!.index));
        shifts[tagged++] = 2 * i;
      }
      const lo = Math.max(v, base) - base;
      const hi = Math.min(stop, base + PTRS_PER_PTE) - base;
      if (tagged === 0) {
        // No device maps a page here: the CPU runs and the empty slots between them.
        let s = lo;
        for (let r = 0; r * RUN_FIELDS < cpuRuns.length && s < hi; r++) {
          const a = Math.max(runFrom(cpuRuns, r), s);
          const b = Math.min(runEnd(cpuRuns, r), hi);
          if (a >= b) continue;
          if (a > s && !cover(base + s, base + a, EMPTY)) return runs;
          if (!cover(base + a, base + b, residencyKey(runKey(cpuRuns, r)))) return runs;
          s = b;
        }
        if (s < hi && !cover(base + s, base + hi, EMPTY)) return runs;
        v = base + hi;
        continue;
      }
      // The key is the CPU entry's state (below TAG_UNIT; EMPTY for an empty slot, as in the
      // gaps between tables) and, apart, the device entries' tags; it changes only where one
      // of the runs begins or ends.
      cpu.reset(cpuRuns);
      for (let s = lo; s < hi;) {
        const c = cpu.at(s);
        let next = cpu.next;
        let tk = 0;
        for (let i = 0; i < tagged; i++) {
          const k = tags[i]!.at(s);
          if (k >= 0) tk |= (k & 3) << shifts[i]!;
          next = Math.min(next, tags[i]!.next);
        }
        next = Math.min(next, hi);
        if (!cover(base + s, base + next, (c < 0 ? EMPTY : residencyKey(c)) + tk * TAG_UNIT)) return runs;
        s = next;
      }
      v = base + hi;
    }
    if (v < stop && !cover(v, stop, EMPTY)) return runs;
    v = stop;
  }
  return runs;
}

/** Render [start, end) of `mm` named `label`. Runs are capped so a fragmented range stays readable. */
export function renderResidency(sim: Simulator, mm: Mm, start: number, end: number, label: string, maxRuns = 16): string {
  const n = end - start;
  const cells = Math.min(BAR_CELLS, n);
  let bar = '';
  for (let c = 0; c < cells; c++) bar += cell(sim.pageState(mm, start + Math.floor((c * n) / cells)), sim);
  const lines = [`${label} (${n} page${n === 1 ? '' : 's'}, ${mm.name}) |${bar}|`];
  // The walk's runs split finer (device entries): merge neighbours that read the same.
  const merged: { start: number; end: number; text: string }[] = [];
  const walked = residencyRuns(sim, mm, start, end, RUNS_WALKED);
  for (const r of walked) {
    const text = runText(r.state);
    const prev = merged[merged.length - 1];
    if (prev !== undefined && prev.text === text && prev.end === r.start) prev.end = r.end;
    else merged.push({ start: r.start, end: r.end, text });
  }
  for (const r of merged.slice(0, maxRuns)) lines.push(`  [${r.start - start}..${r.end - start}) ${r.text}`);
  const covered = walked.length > 0 ? walked[walked.length - 1]!.end : start;
  if (merged.length > maxRuns || covered < end) {
    lines.push(`  … ${merged.length - maxRuns}${covered < end ? '+' : ''} more runs`);
  }
  return lines.join('\n');
}

/**
 * What a watch shows of [start, end): each run's residency and what each device's page table
 * maps there, `system rw, gpu0 write`; ranges as `[0..2) …; [2..3) …` (at most `maxRuns`).
 */
export function watchedState(sim: Simulator, mm: Mm, start: number, end: number, maxRuns = 3): string {
  const runs = residencyRuns(sim, mm, start, end, maxRuns + 1);
  const text = (r: ResidencyRun): string => {
    const maps = sim.devices.map((d) => `${d.name} ${sim.mirrorMapping(mm, d, r.start)}`).filter((t) => !t.endsWith(' none'));
    return [runText(r.state), ...maps].join(', ');
  };
  if (runs.length === 1 && runs[0]!.end >= end) return text(runs[0]!);
  const shown = runs.slice(0, maxRuns).map((r) => `[${r.start - start}..${r.end - start}) ${text(r)}`);
  return shown.join('; ') + (runs.length > maxRuns ? '; …' : '');
}

/** Runs walked for a printed map: enough to count what a terminal shows without walking forever. */
const RUNS_WALKED = 4096;

export const RESIDENCY_LEGEND = "legend: ' ' unmapped  . empty  z zero  S/s system rw/ro  P pinned  0-9/a-j device N rw/ro  X exclusive";
