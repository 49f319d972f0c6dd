// The structured picture of one process's address space at a stop, for the address-space map:
// its VMAs, the CPU page table and each device page table as runs over virtual pages, each run
// linked to the frames it points at (memory and frame index within that memory), the physical
// memories with capacity and use, and what is happening now (migrations in progress with their
// phase, the current statement's notifier callbacks, faulting pages, GPU jobs, fault batches and
// copy queues). Plain numbers only: the map draws it without parsing text.
//
// Bounded: runs are exact (one per stretch of equal entries whose frames are consecutive) up to
// `maxRuns` per lane; beyond that a lane is walked again in aligned buckets of `granularity`
// pages, each bucket one run with the state of most of its pages (`mixed` when others differ),
// so a million fragmented pages cost at most `maxRuns` + populated-table runs.

import { PTRS_PER_PTE } from '../constants';
import type { Device } from '../memremap';
import type { Mm } from '../mm';
import { Pte } from '../pgtable';
import type { Simulator } from '../simulator';
import {
  CPU_KEY, cpuTableRuns, DEVICE_KEY, dptPageRuns, RUN_FIELDS, runEnd, runFrom, runKey, runPfn, runStep,
} from '../tableRuns';
import type { SimEvent } from '../events';
import { VM_HUGEPAGE, VM_NOHUGEPAGE, VM_READ, VM_SHARED, VM_WRITE } from '../vma';

/** How a run's pages map onto its frames: page i → lo + i (1), hi - 1 - i (-1), one frame for all (0), or not one rule (summarised). */
export type FrameOrder = 1 | -1 | 0 | 'mixed';

/** Frames [lo, hi) of one memory (frame indices within that memory, not pfns). */
export interface FrameSpan {
  readonly memory: string;
  readonly lo: number;
  readonly hi: number;
  readonly order: FrameOrder;
}

export interface PictureCpuRun extends FrameSpan {
  /** Virtual pages [start, end). */
  readonly start: number;
  readonly end: number;
  /** The pte: present, a device-private swap entry, a device-exclusive entry, a migration entry. */
  readonly entry: 'present' | 'device-private' | 'device-exclusive' | 'migration';
  /** What the frame is: system RAM, the zero page, device-private or device-coherent memory. */
  readonly zone: 'system' | 'zero' | 'device-private' | 'device-coherent';
  readonly writable: boolean;
  /** mapcount > 1: also mapped by another process (COW after fork) or page. */
  readonly shared: boolean;
  readonly pinned: boolean;
  /** PMD-mapped THP. */
  readonly huge: boolean;
  /** The device that made a device-exclusive entry. */
  readonly exclusiveBy?: string;
  /** A summarised bucket whose pages are not all in this state. */
  readonly mixed?: boolean;
}

export interface PictureDeviceRun extends FrameSpan {
  readonly start: number;
  readonly end: number;
  readonly access: 'read' | 'write' | 'atomic';
  /** The frame is in this device's own memory (otherwise it maps a system or other device's page remotely). */
  readonly local: boolean;
  readonly mixed?: boolean;
}

export interface PictureLane<R> {
  readonly runs: R[];
  /** 1: exact runs; more: runs are buckets of this many pages. */
  readonly granularity: number;
}

export interface PictureVma {
  readonly start: number;
  readonly end: number;
  /** The mapping name the script bound. */
  readonly name: string;
  readonly prot: string;
  readonly kind: 'anon' | 'shmem' | 'file';
  readonly shared: boolean;
  /** MADV_HUGEPAGE / MADV_NOHUGEPAGE / neither. */
  readonly thp: 'huge' | 'nohuge' | 'default';
}

export interface PictureMemory {
  /** `system` or the device name. */
  readonly name: string;
  readonly kind: 'system' | 'device-private' | 'device-coherent';
  /** Frames the memory has (device capacity); for system RAM, the frames handed out so far (the model has no RAM limit). */
  readonly capacity: number;
  readonly used: number;
  readonly capacityIsLimit: boolean;
}

export interface PictureMigration {
  readonly start: number;
  readonly end: number;
  readonly direction: 'to-device' | 'to-system';
  readonly device: string;
  readonly phase: string;
  readonly cpages: number;
  readonly cause: string;
  /** Collected pages as runs: source frames → destination frames (destination absent before migrate_vma_pages... allocates). */
  readonly moving: { start: number; end: number; from?: FrameSpan; to?: FrameSpan }[];
  readonly skipped: { start: number; end: number; reason: string }[];
}

export interface PictureCallback {
  readonly seq: number;
  readonly event: string;
  readonly start: number;
  readonly end: number;
  readonly owner: string | null;
  readonly mirror: string;
  readonly action: string;
  readonly erased: number;
  readonly count: number;
}

export interface PictureJob {
  readonly name: string;
  readonly kernel: string;
  readonly device: string;
  readonly time: number;
  readonly done: boolean;
  readonly running: boolean;
  /** What the job does now, e.g. `read page 3 of big[0..4096)`. */
  readonly doing: string;
  /** Its fault batch being serviced, as runs of virtual pages. */
  readonly batch: { start: number; end: number }[];
}

export interface PictureCopy {
  readonly device: string;
  readonly direction: 'to-device' | 'to-system';
  readonly start: number;
  readonly end: number;
  readonly startTime: number;
  readonly endTime: number;
  readonly progress: number;
}

export interface PictureNow {
  /** Kernel frames in progress, outermost first (`migrate_vma_pages (gpu0 a[0..8))`). */
  readonly kernel: string[];
  readonly migrations: PictureMigration[];
  /** Notifier callbacks of the current statement, oldest first (at most 16). */
  readonly callbacks: PictureCallback[];
  /** The event the debugger stopped on, if any. */
  readonly stopEvent?: { kind: string; text: string; start: number; end: number; device?: string; access?: 'read' | 'write' };
  /** Pages a device is faulting on now: the stop's device fault and the jobs' fault batches. */
  readonly faulting: { device: string; start: number; end: number; access?: 'read' | 'write' }[];
  readonly jobs: PictureJob[];
  readonly copies: PictureCopy[];
}

export interface Picture {
  readonly step: number;
  /** Simulated time, ns. */
  readonly time: number;
  readonly process: string;
  readonly processes: string[];
  /** The whole user address space the placement uses, in pages: [MMAP_BASE, TASK_SIZE). */
  readonly space: { start: number; end: number };
  readonly vmas: PictureVma[];
  /** The names the script bound (`a = mmap …`) that this process maps: first page and size. */
  readonly mappings: { name: string; start: number; pages: number }[];
  readonly cpu: PictureLane<PictureCpuRun>;
  readonly devices: { name: string; lane: PictureLane<PictureDeviceRun> }[];
  readonly memories: PictureMemory[];
  readonly now: PictureNow;
}

export interface PictureOptions {
  readonly maxRuns?: number;
  readonly stopEvent?: SimEvent;
  readonly describe?: (e: SimEvent) => string;
}

/** Maps a pfn to its memory and the frame's index within it (device chunks cut holes in the system pfn range). */
class FrameMap {
  private readonly chunks: { start: number; end: number; memory: string; base: number }[] = [];
  constructor(sim: Simulator) {
    for (const d of sim.devices) {
      let base = 0;
      for (const c of d.chunks) {
        this.chunks.push({ start: c.start, end: c.start + c.pages, memory: d.name, base });
        base += c.pages;
      }
    }
    this.chunks.sort((a, b) => a.start - b.start);
  }

  /** [memory, index]. */
  locate(pfn: number): [string, number] {
    let below = 0;
    for (const c of this.chunks) {
      if (pfn < c.start) break;
      if (pfn < c.end) return [c.memory, c.base + pfn - c.start];
      below += c.end - c.start;
    }
    return ['system', pfn - below];
  }

  /** System frames handed out so far: the bump pointer less device chunks. */
  systemExtent(sim: Simulator): number {
    const next = sim.frames.frontier;
    return next - this.chunks.reduce((n, c) => n + (c.start < next ? c.end - c.start : 0), 0);
  }
}

const ZONES = ['system', 'system', 'device-private', 'device-coherent', 'zero'] as const;
const ENTRIES = ['present', 'present', 'device-private', 'device-exclusive', 'migration'] as const;
const ACCESS = ['atomic', 'atomic', 'read', 'write'] as const;

/**
 * Collects per-page (key, pfn) into runs. Exact mode: a run continues while the key is equal
 * and the pfn steps by the run's order. Bucket mode (granularity g > 1): one run per aligned
 * bucket, with the key and frames of the bucket's most common key (by first-seen tie-break).
 */
export class RunBuilder<R> {
  readonly runs: R[] = [];
  private key = -1;
  private start = 0;
  private end = 0;
  private lastPfn = 0;
  private minPfn = 0;
  private maxPfn = 0;
  private order: FrameOrder = 0;
  private count = 0;
  // bucket mode
  private bucket = -1;
  private counts = new Map<number, { n: number; min: number; max: number }>();
  overflow = false;

  constructor(
    private readonly g: number,
    private readonly max: number,
    private readonly make: (key: number, start: number, end: number, span: { minPfn: number; maxPfn: number; order: FrameOrder }, mixed: boolean) => R,
  ) {}

  add(vpn: number, key: number, pfn: number): void {
    if (this.g > 1) return this.addBucketed(vpn, key, pfn);
    if (this.count > 0 && key === this.key && vpn === this.end) {
      const step = pfn - this.lastPfn;
      if (this.count === 1 && (step === 1 || step === -1 || step === 0)) this.order = step as FrameOrder;
      if (this.count === 1 ? (step === 1 || step === -1 || step === 0) : step === this.order) {
        this.end = vpn + 1;
        this.lastPfn = pfn;
        if (pfn < this.minPfn) this.minPfn = pfn;
        if (pfn > this.maxPfn) this.maxPfn = pfn;
        this.count++;
        return;
      }
    }
    this.flush();
    this.key = key;
    this.start = vpn;
    this.end = vpn + 1;
    this.lastPfn = this.minPfn = this.maxPfn = pfn;
    this.order = 1;
    this.count = 1;
  }

  /**
   * `n` pages from `vpn` with the same key, pfns from `pfn` stepping by `step` (1, -1 or 0):
   * what `n` calls of add would do. The first three go one by one; after them the run's order
   * is `step` whatever came before, so the rest extend it at once.
   */
  addRun(vpn: number, n: number, key: number, pfn: number, step: number): void {
    if (this.g > 1) return this.addRunBucketed(vpn, n, key, pfn, step);
    const first = Math.min(n, 3);
    for (let k = 0; k < first; k++) this.add(vpn + k, key, pfn + k * step);
    if (n === first) return;
    const last = pfn + (n - 1) * step;
    this.end = vpn + n;
    this.lastPfn = last;
    if (last < this.minPfn) this.minPfn = last;
    if (last > this.maxPfn) this.maxPfn = last;
    this.count += n - first;
  }

  private addRunBucketed(vpn: number, n: number, key: number, pfn: number, step: number): void {
    let v = vpn;
    let p = pfn;
    for (let left = n; left > 0;) {
      const b = Math.floor(v / this.g);
      if (b !== this.bucket) {
        this.flushBucket();
        this.bucket = b;
      }
      const len = Math.min(left, (b + 1) * this.g - v);
      const last = p + (len - 1) * step;
      const lo = Math.min(p, last);
      const hi = Math.max(p, last);
      const c = this.counts.get(key);
      if (c === undefined) this.counts.set(key, { n: len, min: lo, max: hi });
      else {
        c.n += len;
        if (lo < c.min) c.min = lo;
        if (hi > c.max) c.max = hi;
      }
      v += len;
      p += len * step;
      left -= len;
    }
  }

  private addBucketed(vpn: number, key: number, pfn: number): void {
    const b = Math.floor(vpn / this.g);
    if (b !== this.bucket) {
      this.flushBucket();
      this.bucket = b;
    }
    const c = this.counts.get(key);
    if (c === undefined) this.counts.set(key, { n: 1, min: pfn, max: pfn });
    else {
      c.n++;
      if (pfn < c.min) c.min = pfn;
      if (pfn > c.max) c.max = pfn;
    }
  }

  private flushBucket(): void {
    if (this.counts.size === 0) return;
    let best: [number, { n: number; min: number; max: number }] | undefined;
    for (const e of this.counts) {
      if (best === undefined || e[1].n > best[1].n) best = e;
    }
    const [key, c] = best!;
    const mixed = this.counts.size > 1;
    const start = this.bucket * this.g;
    const end = start + this.g;
    this.push(this.make(key, start, end, { minPfn: c.min, maxPfn: c.max, order: 'mixed' }, mixed));
    this.counts.clear();
  }

  private push(r: R): void {
    if (this.runs.length >= this.max) {
      this.overflow = true;
      return;
    }
    this.runs.push(r);
  }

  private flush(): void {
    if (this.count === 0) return;
    this.push(this.make(this.key, this.start, this.end, { minPfn: this.minPfn, maxPfn: this.maxPfn, order: this.count === 1 ? 1 : this.order }, false));
    this.count = 0;
  }

  finish(): R[] {
    if (this.g > 1) this.flushBucket();
    else this.flush();
    return this.runs;
  }
}

function span(frames: FrameMap, minPfn: number, maxPfn: number, order: FrameOrder): FrameSpan {
  const [memory, lo] = frames.locate(minPfn);
  const hi = lo + (maxPfn - minPfn) + 1;
  return { memory, lo, hi, order };
}

/** Runs of a lane: exact first; bucketed when there are more than `max`. */
function laneRuns<R>(
  populated: number,
  max: number,
  walk: (b: RunBuilder<R>) => void,
  make: ConstructorParameters<typeof RunBuilder<R>>[2],
): PictureLane<R> {
  const exact = new RunBuilder<R>(1, max, make);
  walk(exact);
  const runs = exact.finish();
  if (!exact.overflow) return { runs, granularity: 1 };
  let g = 2;
  while (Math.ceil(populated / g) > max / 2) g *= 2;
  const coarse = new RunBuilder<R>(g, max * 2, make);
  walk(coarse);
  return { runs: coarse.finish(), granularity: g };
}

/** Every cached run of the page-table pages `idxs` (in address order) into `b`, each whole. */
function addPages(b: { addRun(vpn: number, n: number, key: number, pfn: number, step: number): void }, idxs: readonly number[], runsOf: (idx: number) => readonly number[]): void {
  for (const idx of idxs) {
    const data = runsOf(idx);
    const base = idx * PTRS_PER_PTE;
    for (let r = 0; r * RUN_FIELDS < data.length; r++) {
      const from = runFrom(data, r);
      b.addRun(base + from, runEnd(data, r) - from, runKey(data, r), runPfn(data, r), runStep(data, r));
    }
  }
}

function cpuLane(sim: Simulator, mm: Mm, frames: FrameMap, max: number): PictureLane<PictureCpuRun> {
  const f = sim.frames;
  const idxs = [...mm.pt.tables.keys()].sort((a, b) => a - b);
  const walk = (b: RunBuilder<PictureCpuRun>): void => addPages(b, idxs, (idx) => cpuTableRuns(f, mm.pt.tables.get(idx)!));
  return laneRuns<PictureCpuRun>(idxs.length * PTRS_PER_PTE, max, walk, (key, start, end, sp, mixed) => {
    const kind = (key & 7) as Pte;
    const zone = ZONES[(key >> CPU_KEY.zoneShift) & 7] ?? 'system';
    const maker = kind === Pte.DEVICE_EXCLUSIVE ? sim.devices[((key >> CPU_KEY.makerShift) & 0xf) - 1]?.name : undefined;
    return {
      start, end, entry: ENTRIES[kind] ?? 'present', zone, writable: (key & CPU_KEY.writable) !== 0, shared: (key & CPU_KEY.shared) !== 0,
      pinned: (key & CPU_KEY.pinned) !== 0, huge: (key & CPU_KEY.huge) !== 0,
      ...(maker !== undefined ? { exclusiveBy: maker } : {}),
      ...(mixed ? { mixed } : {}),
      ...span(frames, sp.minPfn, sp.maxPfn, zone === 'zero' ? 0 : sp.order),
    };
  });
}

function deviceLane(sim: Simulator, mm: Mm, d: Device, frames: FrameMap, max: number): PictureLane<PictureDeviceRun> {
  const m = sim.driver.mirrorOf(mm, d);
  if (m === undefined) return { runs: [], granularity: 1 };
  const f = sim.frames;
  const idxs = [...m.pt.keys()].sort((a, b) => a - b);
  const walk = (b: RunBuilder<PictureDeviceRun>): void => addPages(b, idxs, (idx) => dptPageRuns(f, m.pt.get(idx)!, d.index));
  return laneRuns<PictureDeviceRun>(idxs.length * PTRS_PER_PTE, max, walk, (key, start, end, sp, mixed) => ({
    start, end, access: ACCESS[key & 3] ?? 'read', local: (key & DEVICE_KEY.local) !== 0,
    ...(mixed ? { mixed } : {}),
    ...span(frames, sp.minPfn, sp.maxPfn, (key & DEVICE_KEY.zero) !== 0 ? 0 : sp.order),
  }));
}

function vmaOf(v: { start: number; end: number; flags: number; name: string; object: { kind: 'file' | 'shmem' } | undefined }): PictureVma {
  const prot = `${v.flags & VM_READ ? 'r' : '-'}${v.flags & VM_WRITE ? 'w' : '-'}`;
  return {
    start: v.start, end: v.end, name: v.name, prot, kind: v.object === undefined ? 'anon' : v.object.kind,
    shared: (v.flags & VM_SHARED) !== 0, thp: v.flags & VM_HUGEPAGE ? 'huge' : v.flags & VM_NOHUGEPAGE ? 'nohuge' : 'default',
  };
}

/** Consecutive virtual pages as runs. */
function pageRuns(pages: readonly number[], cap: number): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  for (const p of [...pages].sort((a, b) => a - b)) {
    const last = out[out.length - 1];
    if (last !== undefined && last.end === p) last.end++;
    else if (out.length < cap) out.push({ start: p, end: p + 1 });
  }
  return out;
}

function migrationOf(frames: FrameMap, m: Simulator['pendingMigrations'][number], cap: number): PictureMigration {
  const moving: PictureMigration['moving'] = [];
  let cur: { start: number; end: number; src: number; dst: number; srcStep: number; dstStep: number } | undefined;
  const push = (): void => {
    if (cur === undefined || moving.length >= cap) return;
    const n = cur.end - cur.start;
    const frame = (pfn: number, step: number): FrameSpan | undefined => {
      if (pfn < 0) return undefined;
      const lo = step < 0 ? pfn - (n - 1) : pfn;
      return { ...span(frames, lo, lo + n - 1, n === 1 ? 1 : (step as FrameOrder)) };
    };
    const from = frame(cur.src, cur.srcStep);
    const to = frame(cur.dst, cur.dstStep);
    moving.push({ start: cur.start, end: cur.end, ...(from ? { from } : {}), ...(to ? { to } : {}) });
  };
  for (let i = 0; i < m.npages; i++) {
    if (!m.migrating(i)) continue;
    const v = m.start + i;
    const src = m.src[i]!;
    const dst = m.dst[i]!;
    if (cur !== undefined && cur.end === v) {
      const n = v - cur.start;
      const ss = n === 1 ? src - cur.src : cur.srcStep;
      const ds = n === 1 ? dst - cur.dst : cur.dstStep;
      const okSrc = cur.src < 0 ? src < 0 : (ss === 1 || ss === -1) && src === cur.src + n * ss;
      const okDst = cur.dst < 0 ? dst < 0 : (ds === 1 || ds === -1) && dst === cur.dst + n * ds;
      if (okSrc && okDst) {
        cur.end++;
        cur.srcStep = ss;
        cur.dstStep = ds;
        continue;
      }
    }
    push();
    cur = { start: v, end: v + 1, src, dst, srcStep: 1, dstStep: 1 };
  }
  push();
  return {
    start: m.start, end: m.end, direction: m.direction, device: m.pgmapOwner.name, phase: m.phase, cpages: m.cpages, cause: m.cause, moving,
    skipped: m.skippedRuns().map((r) => ({ start: r.start, end: r.start + r.count, reason: r.reason })),
  };
}

/** The picture of `mm` now. */
export function buildPicture(sim: Simulator, mm: Mm, opts: PictureOptions = {}): Picture {
  const max = Math.max(16, Math.min(opts.maxRuns ?? 20000, 200000));
  const frames = new FrameMap(sim);
  const memories: PictureMemory[] = [
    { name: 'system', kind: 'system', capacity: Math.max(1, frames.systemExtent(sim)), used: sim.frames.systemInUse, capacityIsLimit: false },
    ...sim.devices.map((d) => ({ name: d.name, kind: d.type === 'private' ? 'device-private' as const : 'device-coherent' as const, capacity: d.capacityPages, used: d.used, capacityIsLimit: true })),
  ];
  const jobs = sim.gpu.jobs.filter((j) => j.mm === mm);
  const stop = opts.stopEvent;
  const faulting: PictureNow['faulting'] = [];
  if (stop?.kind === 'deviceFault' && stop.mm === mm.name) faulting.push({ device: stop.device, start: stop.start, end: stop.end, access: stop.write ? 'write' : 'read' });
  for (const j of jobs) {
    for (const r of pageRuns(j.batch, 256)) {
      const access = j.op?.kind === 'access' ? (j.op.access === 'read' ? 'read' as const : 'write' as const) : undefined;
      faulting.push({ device: j.device.name, ...r, ...(access ? { access } : {}) });
    }
  }
  const callbacks: PictureCallback[] = [];
  for (const e of sim.log.ofStep(sim.step).reverse()) {
    if (e.kind !== 'notifier' || e.mm !== mm.name) continue;
    callbacks.push({ seq: e.seq, event: e.event, start: e.start, end: e.end, owner: e.owner, mirror: e.mirror, action: e.action, erased: e.erased, count: e.count });
  }
  const stopEvent = stop === undefined || stop.mm !== mm.name ? undefined : {
    kind: stop.kind, text: opts.describe?.(stop) ?? stop.kind, start: stop.start, end: stop.end,
    ...('device' in stop && typeof stop.device === 'string' ? { device: stop.device } : 'mirror' in stop ? { device: stop.mirror } : {}),
    ...('write' in stop ? { access: stop.write ? 'write' as const : 'read' as const } : {}),
  };
  return {
    step: sim.step,
    time: sim.clock.now,
    process: mm.name,
    processes: sim.mms.filter((m) => m.alive).map((m) => m.name),
    space: { start: 0x7f0000000, end: 0x800000000 },
    vmas: mm.vmas.list.map(vmaOf),
    mappings: [...sim.bindings.values()].filter((b) => mm.vmas.intersecting(b.start, b.start + b.pages).length > 0)
      .map((b) => ({ name: b.name, start: b.start, pages: b.pages })),
    cpu: cpuLane(sim, mm, frames, max),
    devices: sim.devices.map((d) => ({ name: d.name, lane: deviceLane(sim, mm, d, frames, max) })),
    memories,
    now: {
      kernel: sim.kstack.map((k) => `${k.name} (${k.detail})`),
      migrations: sim.pendingMigrations.filter((m) => m.mm === mm).map((m) => migrationOf(frames, m, 4096)),
      callbacks: callbacks.slice(-16),
      ...(stopEvent !== undefined ? { stopEvent } : {}),
      faulting,
      jobs: jobs.map((j) => {
        const op = j.op;
        const doing = j.done ? 'done' : op === undefined ? 'starting' : op.kind === 'compute' ? 'compute' : `${op.access} page ${op.start + j.cursor - op.mapStart} of ${sim.describeRange(op.start, op.end)}`;
        return { name: j.name, kernel: j.kernel, device: j.device.name, time: j.time, done: j.done, running: sim.gpu.current === j, doing, batch: pageRuns(j.batch, 256) };
      }),
      copies: sim.gpu.pendingCopies().filter((c) => c.mm === mm).map((c) => ({
        device: c.device.name, direction: c.toDevice ? 'to-device' as const : 'to-system' as const, start: c.start, end: c.end, startTime: c.startTime, endTime: c.endTime,
        progress: Math.min(1, Math.max(0, (sim.clock.now - c.startTime) / Math.max(1, c.endTime - c.startTime))),
      })),
    },
  };
}
