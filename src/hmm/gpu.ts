// GPU work in simulated time: kernels launched on a device run as jobs beside the CPU; their
// accesses to pages the device does not map are device faults, batched per device, serviced
// with hmm_range_fault and migrate_vma under the device's policy (UVM-style hints, prefetcher,
// thrashing detection, eviction when full); prefetches are asynchronous migrations on the copy
// engines. A discrete-event loop orders everything by simulated time, then by id.
//
// Interleaving (documented contract): before each CPU statement runs at CPU time t, every job
// and asynchronous copy whose next action is due at or before t takes it, earliest first (ties:
// lower id first). A job's action is one of: a run of accesses to mapped pages, one fault batch
// (collected, serviced, and its effects applied at the batch's start time), or a compute.

import { errnoName, HPAGE_PMD_NR, PAGE_SIZE, PTRS_PER_PTE } from './constants';
import { FRAME_CHUNK_SHIFT } from './frameStore';
import type { PatternFn } from './content';
import type { DmirrorDriver } from './dmirror';
import type { SourceLoc } from './events';
import type { Device, VmFault } from './memremap';
import { type MigrateMachine, migrateDeviceRange } from './migrateDevice';
import { type Dmirror, Dpt, type DptPage } from './mirror';
import { rangeBatching } from './batching';
import type { Mm } from './mm';
import { Zone } from './page';
import { Pte, pteIndex, setExpected } from './pgtable';
import { kernelFrame, pushFrame, type KernelWork } from './kernelWork';
import { copyTimeNs, linkGBps } from './timing';
import { VM_READ, VM_WRITE } from './vma';
import {
  AdviceMap, blockOf, decideFault, prefetchExpansion, prefetchTake, PREFETCH_LEAF_PAGES, PREFETCH_THRESHOLD_PERCENT, ThrashingDetector, THRASH_THROTTLE_NS,
} from './uvm';

/** UVM services up to this many faults per batch (uvm_perf_fault_batch_count). */
export const FAULT_BATCH_PAGES = 256;

/** Prefetcher leaves in a 2 MiB block. */
const LEAVES = HPAGE_PMD_NR / PREFETCH_LEAF_PAGES;

export interface SourcePos {
  readonly line: number;
  readonly col: number;
}

/** A kernel body statement with its argument resolved to pages. */
export type KernelOp =
  | { readonly kind: 'access'; readonly access: 'read' | 'write' | 'atomic'; readonly start: number; readonly end: number; readonly mapStart: number; readonly pattern?: PatternFn; readonly pos: SourcePos }
  | { readonly kind: 'compute'; readonly ns: number; readonly pos: SourcePos };

export interface JobStats {
  faults: number;
  batches: number;
  faultNs: number;
  copyNs: number;
  computeNs: number;
  accessNs: number;
  bytesLocal: number;
  bytesRemote: number;
  /** Remote reads of read-mostly pages: what a duplicating driver would have read locally. */
  bytesRemoteReadMostly: number;
}

/**
 * A job ended by a fault the kernel refused (hmm_range_fault / make_device_exclusive failed, or
 * a batch mapped nothing): what the driver reports to the process, at the kernel statement.
 */
export class JobFault extends Error {
  constructor(readonly pos: SourcePos, message: string) {
    super(message);
  }
}

/** The kernel frame of one action of a GPU job (a run of accesses, a fault batch, a compute). */
export const JOB_ACTION_FRAME = 'gpu_job';

export class GpuJob {
  pc = 0;
  /** Why the job ended early (a refused fault, its process exited); undefined when it ran to its end. */
  failure: string | undefined;
  /** Page offset inside the current access. */
  cursor = 0;
  time: number;
  endTime: number | undefined;
  readonly stats: JobStats = { faults: 0, batches: 0, faultNs: 0, copyNs: 0, computeNs: 0, accessNs: 0, bytesLocal: 0, bytesRemote: 0, bytesRemoteReadMostly: 0 };
  /** The fault batch being serviced (for the debugger), virtual pages. */
  batch: number[] = [];
  constructor(
    readonly id: number,
    readonly name: string,
    readonly kernel: string,
    readonly device: Device,
    readonly mm: Mm,
    readonly ops: readonly KernelOp[],
    readonly launchTime: number,
    start: number,
    readonly launchPos: SourcePos | undefined,
  ) {
    this.time = start;
  }

  get done(): boolean {
    return this.endTime !== undefined;
  }

  /** The kernel statement the job is executing (or its last one when done). */
  get op(): KernelOp | undefined {
    return this.ops[Math.min(this.pc, this.ops.length - 1)];
  }
}

/** An asynchronous prefetch: pending until its copy completes. */
export interface AsyncCopy {
  readonly id: number;
  readonly mm: Mm;
  readonly start: number;
  readonly end: number;
  readonly device: Device;
  readonly toDevice: boolean;
  readonly startTime: number;
  readonly endTime: number;
  applied: boolean;
  readonly pos: SourcePos | undefined;
}

interface DeviceTimeline {
  /** Copy engines: one per direction. */
  h2dBusyUntil: number;
  d2hBusyUntil: number;
  /** 2 MiB blocks with pages on the device, oldest first (eviction order). */
  blocks: BlockQueue;
}

/**
 * 2 MiB blocks (of a process) in first-noted order, each once: a FIFO with a set beside it, so
 * noting a block and taking the oldest cost the same whatever the number of blocks (a scan
 * per note made a 20M-page streaming kernel quadratic).
 */
class BlockQueue {
  private items: { mmId: number; block: number }[] = [];
  private head = 0;
  /** The queued blocks of each process. */
  private readonly members = new Map<number, Set<number>>();

  get length(): number {
    return this.items.length - this.head;
  }

  /** Add the block at the end unless it is queued already. */
  note(mmId: number, block: number): void {
    let set = this.members.get(mmId);
    if (set === undefined) this.members.set(mmId, (set = new Set()));
    if (set.has(block)) return;
    set.add(block);
    this.items.push({ mmId, block });
  }

  /** The oldest block, taken out. */
  shift(): { mmId: number; block: number } | undefined {
    if (this.head === this.items.length) return undefined;
    const b = this.items[this.head++]!;
    this.members.get(b.mmId)!.delete(b.block);
    // Drop the taken prefix once it is half the array, so the array stays bounded.
    if (this.head > 1024 && 2 * this.head > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return b;
  }

  clone(): BlockQueue {
    const c = new BlockQueue();
    for (let i = this.head; i < this.items.length; i++) c.note(this.items[i]!.mmId, this.items[i]!.block);
    return c;
  }
}

export interface LineCost {
  faults: number;
  faultNs: number;
  copyNs: number;
  computeNs: number;
  bytesToDevice: number;
  bytesToSystem: number;
}

/** The machine as GPU work uses it: besides the kernel's, the script position and the running job. */
export interface GpuMachine extends MigrateMachine {
  /** Where events say they come from: a job's action sets its kernel's line while it runs. */
  loc: SourceLoc | undefined;
  /** The job whose action is running, if any (events name it). */
  currentJob: string | undefined;
  /** The density prefetcher of fault-driven migrations (UVM's perf_prefetch). */
  readonly prefetcherEnabled: boolean;
}

export class GpuEngine {
  readonly jobs: GpuJob[] = [];
  readonly copies: AsyncCopy[] = [];
  readonly advice = new Map<number, AdviceMap>();
  readonly thrashing = new ThrashingDetector();
  private readonly timelines = new Map<number, DeviceTimeline>();
  /** Costs per kernel/script line for the placement report. */
  readonly lines = new Map<number, LineCost>();
  /** The job whose action is running (the debugger's current thread). */
  current: GpuJob | undefined;
  private nextId = 1;
  /** localPages' answer, and expandWithPrefetcher's pages of a block (reused: one per fault batch). */
  private readonly residentPages = new Uint8Array(HPAGE_PMD_NR);
  /** residentPages four to a word (pickSubtrees' leaf sums). */
  private readonly residentWords = new Uint32Array(this.residentPages.buffer);
  private readonly pickedPages = new Uint8Array(HPAGE_PMD_NR);
  /** pickSubtrees' pages resident before each leaf of a block. */
  private readonly leafPrefix = new Int32Array(LEAVES + 1);
  /** pickSubtrees' leaves already taken by a subtree. */
  private readonly leavesTaken = new Uint8Array(LEAVES);

  constructor(
    private readonly sim: GpuMachine,
    /** The driver servicing the devices' faults (dmirror's mirrors and commands). */
    private readonly driver: DmirrorDriver,
  ) {}

  adviceOf(mm: Mm): AdviceMap {
    let a = this.advice.get(mm.id);
    if (a === undefined) {
      a = new AdviceMap();
      this.advice.set(mm.id, a);
    }
    return a;
  }

  private timeline(d: Device): DeviceTimeline {
    let t = this.timelines.get(d.index);
    if (t === undefined) {
      t = { h2dBusyUntil: 0, d2hBusyUntil: 0, blocks: new BlockQueue() };
      this.timelines.set(d.index, t);
    }
    return t;
  }

  lineCost(line: number): LineCost {
    let c = this.lines.get(line);
    if (c === undefined) {
      c = { faults: 0, faultNs: 0, copyNs: 0, computeNs: 0, bytesToDevice: 0, bytesToSystem: 0 };
      this.lines.set(line, c);
    }
    return c;
  }

  /**
   * The CPU faulted on a device page (migrate_to_ram, before the page moves): a page bouncing
   * between CPU and device is what thrashing detection looks for.
   */
  cpuFaultOnDevicePage(vmf: VmFault): void {
    const sim = this.sim;
    const mm = sim.mms.find((x) => x.id === vmf.mmId)!;
    const verdict = this.thrashing.record(mm.id, vmf.vpn, sim.clock.now);
    if (verdict !== 'none') {
      sim.emit(mm.name, vmf.vpn, vmf.vpn + 1, { kind: 'thrashing', verdict, device: sim.deviceOfPfn(vmf.pfn).name }, mm.key(`thrash-${verdict}`));
    }
  }

  // ---- launching ---------------------------------------------------------------------------

  /**
   * Launch a kernel. Jobs on one device run in launch order, each after the prefetches issued
   * to that device before it (one stream per device); the CPU goes on at once.
   */
  launch(name: string | undefined, kernel: string, device: Device, mm: Mm, ops: readonly KernelOp[], pos: SourcePos | undefined): GpuJob {
    const now = this.sim.clock.now;
    const id = this.nextId++;
    const job = new GpuJob(id, name ?? `${kernel}#${id}`, kernel, device, mm, ops, now, now, pos);
    this.jobs.push(job);
    this.sim.emit(mm.name, 0, 0, { kind: 'job', what: 'launch', job: job.name, device: device.name });
    return job;
  }

  /** cudaMemPrefetchAsync: a copy on the device's copy engine, applied when it completes. */
  prefetch(mm: Mm, start: number, end: number, device: Device, toDevice: boolean, pos: SourcePos | undefined): AsyncCopy {
    const now = this.sim.clock.now;
    const tl = this.timeline(device);
    const dir = toDevice ? 'h2d' : 'd2h';
    const ready = Math.max(now, toDevice ? tl.h2dBusyUntil : tl.d2hBusyUntil);
    const dur = this.sim.timing.dmaSetupNs + copyTimeNs((end - start) * PAGE_SIZE, linkGBps(device.link, dir));
    const copy: AsyncCopy = { id: this.nextId++, mm, start, end, device, toDevice, startTime: ready, endTime: ready + dur, applied: false, pos };
    if (toDevice) tl.h2dBusyUntil = copy.endTime;
    else tl.d2hBusyUntil = copy.endTime;
    this.copies.push(copy);
    this.sim.emit(mm.name, start, end, { kind: 'job', what: 'prefetch', job: `prefetch#${copy.id}`, device: device.name });
    return copy;
  }

  /**
   * A process exits: its device files close, and the driver tears down the work still queued
   * for it (jobs end where they are, prefetches are dropped) before the mm goes away.
   */
  endWorkOf(mm: Mm): void {
    for (const j of this.jobs) {
      if (j.mm !== mm || j.done) continue;
      j.failure = `ended: process ${mm.name} exited`;
      this.finish(j);
    }
    for (const c of this.copies) if (c.mm === mm && !c.applied) c.applied = true;
  }

  pendingCopies(): AsyncCopy[] {
    return this.copies.filter((c) => !c.applied);
  }

  // ---- the event loop ----------------------------------------------------------------------

  private nextActor(): { job?: GpuJob; copy?: AsyncCopy; time: number } | undefined {
    let best: { job?: GpuJob; copy?: AsyncCopy; time: number; id: number } | undefined;
    for (const j of this.jobs) {
      if (j.done) continue;
      const t = this.jobReadyTime(j);
      if (best === undefined || t < best.time || (t === best.time && j.id < best.id)) best = { job: j, time: t, id: j.id };
    }
    for (const c of this.copies) {
      if (c.applied) continue;
      if (best === undefined || c.endTime < best.time || (c.endTime === best.time && c.id < best.id)) best = { copy: c, time: c.endTime, id: c.id };
    }
    return best;
  }

  /** A job starts after the work queued before it on its device's stream. */
  private jobReadyTime(j: GpuJob): number {
    if (j.pc === 0 && j.cursor === 0) {
      let t = j.time;
      for (const o of this.jobs) if (o.device === j.device && o.id < j.id && !o.done) return Number.POSITIVE_INFINITY;
      for (const o of this.jobs) if (o.device === j.device && o.id < j.id) t = Math.max(t, o.endTime!);
      for (const c of this.copies) if (c.device === j.device && c.id < j.id) t = Math.max(t, c.endTime);
      j.time = t;
      return t;
    }
    return j.time;
  }

  /** Run every action due at or before `until` (the CPU's clock). */
  *advanceTo(until: number): KernelWork<void> {
    for (;;) {
      const a = this.nextActor();
      if (a === undefined || a.time > until) return;
      yield* this.act(a);
    }
  }

  /** Run until `done()` holds; the CPU then waits until the latest completion. */
  *waitFor(done: () => boolean, what: string): KernelWork<void> {
    yield pushFrame(this.sim.kstack, { name: 'wait', detail: what });
    try {
      while (!done()) {
        const a = this.nextActor();
        if (a === undefined || !Number.isFinite(a.time)) break;
        yield* this.act(a);
        this.sim.clock.now = Math.max(this.sim.clock.now, a.time);
      }
    } finally {
      this.sim.kstack.pop();
    }
  }

  *waitJob(job: GpuJob): KernelWork<void> {
    yield* this.waitFor(() => job.done, job.name);
    this.sim.clock.now = Math.max(this.sim.clock.now, job.endTime ?? 0);
  }

  *waitDevice(device: Device): KernelWork<void> {
    const mine = (): boolean => this.jobs.every((j) => j.device !== device || j.done) && this.copies.every((c) => c.device !== device || c.applied);
    yield* this.waitFor(mine, device.name);
    for (const j of this.jobs) if (j.device === device) this.sim.clock.now = Math.max(this.sim.clock.now, j.endTime ?? 0);
    for (const c of this.copies) if (c.device === device) this.sim.clock.now = Math.max(this.sim.clock.now, c.endTime);
  }

  *waitAll(): KernelWork<void> {
    yield* this.waitFor(() => this.idle, 'all');
    for (const j of this.jobs) this.sim.clock.now = Math.max(this.sim.clock.now, j.endTime ?? 0);
    for (const c of this.copies) this.sim.clock.now = Math.max(this.sim.clock.now, c.endTime);
  }

  get idle(): boolean {
    return this.jobs.every((j) => j.done) && this.copies.every((c) => c.applied);
  }

  /** Run one action in its own time: the simulator's clock is the actor's while it runs. */
  private *act(a: { job?: GpuJob; copy?: AsyncCopy; time: number }): KernelWork<void> {
    const sim = this.sim;
    const cpuNow = sim.clock.now;
    const cpuLoc = sim.loc;
    sim.clock.now = a.time;
    try {
      if (a.copy !== undefined) {
        yield* this.applyCopy(a.copy);
      } else if (a.job !== undefined) {
        const job = a.job;
        this.current = job;
        sim.currentJob = job.name;
        // Each action of a job is a frame of its own: a debugger can step a job action by action.
        yield pushFrame(sim.kstack, kernelFrame(JOB_ACTION_FRAME, () => `${job.name}: ${this.describeAction(job)}`));
        try {
          yield* this.jobAction(job);
        } finally {
          sim.kstack.pop();
        }
        job.time = sim.clock.now;
      }
    } finally {
      this.current = undefined;
      sim.currentJob = undefined;
      sim.clock.now = cpuNow;
      sim.loc = cpuLoc;
    }
  }

  private *applyCopy(c: AsyncCopy): KernelWork<void> {
    const sim = this.sim;
    sim.loc = c.pos === undefined ? sim.loc : { file: sim.loc?.file ?? '', line: c.pos.line, col: c.pos.col };
    const frame = kernelFrame('prefetch', () => `${sim.describeRange(c.start, c.end)} to ${c.toDevice ? c.device.name : 'system'}`);
    yield pushFrame(sim.kstack, frame);
    try {
      const m = this.driver.open(c.mm, c.device);
      if (c.toDevice) {
        yield* this.makeRoom(c.device, c.end - c.start);
        yield* this.driver.migrateRange(m, c.start, c.end, true, 'prefetch');
        this.noteBlocks(c.device, c.mm, c.start, c.end);
      } else {
        yield* this.driver.migrateRange(m, c.start, c.end, false, 'prefetch');
      }
    } finally {
      sim.kstack.pop();
    }
    c.applied = true;
    const line = this.lineCost(c.pos?.line ?? 0);
    line.copyNs += c.endTime - c.startTime;
    if (c.toDevice) line.bytesToDevice += (c.end - c.start) * PAGE_SIZE;
    else line.bytesToSystem += (c.end - c.start) * PAGE_SIZE;
  }

  // ---- a job's actions ---------------------------------------------------------------------

  private *jobAction(job: GpuJob): KernelWork<void> {
    const sim = this.sim;
    const op = job.ops[job.pc];
    if (op === undefined) {
      this.finish(job);
      return;
    }
    sim.loc = { file: sim.loc?.file ?? '', line: op.pos.line, col: op.pos.col };
    if (op.kind === 'compute') {
      sim.clock.advance(op.ns);
      job.stats.computeNs += op.ns;
      this.lineCost(op.pos.line).computeNs += op.ns;
      this.nextOp(job);
      return;
    }
    const m = this.driver.open(job.mm, job.device);
    const pages = op.end - op.start;
    // A run of pages the device maps well enough: access them at local or remote bandwidth.
    let v = op.start + job.cursor;
    let local = 0;
    let remote = 0;
    const advice = this.adviceOf(job.mm);
    // Reads, a dpt page at a time (mapped and isLocal of each page, from the page's arrays).
    if (op.access === 'read' && rangeBatching()) {
      const me = m.device.index;
      for (;;) {
        const idx = Math.floor(v / PTRS_PER_PTE);
        const page = m.pt.get(idx);
        if (v >= op.end || page === undefined) break;
        const base = idx * PTRS_PER_PTE;
        const stop = Math.min(op.end - base, PTRS_PER_PTE);
        let s = v - base;
        while (s < stop && page.tagAt(s) !== Dpt.NONE) {
          const n = this.localRun(page, s, stop, me);
          if (this.runIsLocal) local += n;
          else {
            remote += n;
            if (advice.segments.length > 0) for (let k = s; k < s + n; k++) if (advice.get(base + k).readMostly) job.stats.bytesRemoteReadMostly += PAGE_SIZE;
          }
          s += n;
        }
        v = base + s;
        if (s < stop || stop < PTRS_PER_PTE) break;
      }
    }
    while (v < op.end && this.mapped(m, v, op.access)) {
      if (this.isLocal(m, v)) local++;
      else {
        remote++;
        if (advice.get(v).readMostly) job.stats.bytesRemoteReadMostly += PAGE_SIZE;
      }
      if (op.access !== 'read') this.writeWord(m, v, op);
      v++;
    }
    if (local + remote > 0) {
      const ns = copyTimeNs(local * PAGE_SIZE, sim.timing.deviceLocalGBps) + copyTimeNs(remote * PAGE_SIZE, linkGBps(job.device.link, 'h2d'));
      sim.clock.advance(ns);
      job.stats.accessNs += ns;
      job.stats.bytesLocal += local * PAGE_SIZE;
      job.stats.bytesRemote += remote * PAGE_SIZE;
      job.cursor = v - op.start;
      if (job.cursor >= pages) this.nextOp(job);
      return;
    }
    // A fault batch: the next unmapped pages, up to the batch size.
    const batch = this.unmappedPages(m, v, op);
    job.batch = batch;
    yield* this.serviceBatch(job, m, op, batch);
    job.batch = [];
  }

  /** The job's next action, for its frame: `read x[256..512]`, `compute 50 us`, `end`. */
  private describeAction(job: GpuJob): string {
    const op = job.ops[job.pc];
    if (op === undefined) return 'end';
    if (op.kind === 'compute') return `compute ${op.ns / 1000} us`;
    // Read when a call stack is shown (the detail is lazy), so the scan costs nothing otherwise.
    const m = this.driver.open(job.mm, job.device);
    const from = op.start + job.cursor;
    let v = from;
    while (v < op.end && this.mapped(m, v, op.access)) v++;
    return v > from
      ? `${op.access} ${this.sim.describeRange(from, v)} (mapped)`
      : `${op.access} ${this.sim.describeRange(from, op.end)}: fault batch`;
  }

  private nextOp(job: GpuJob): void {
    job.pc++;
    job.cursor = 0;
    if (job.pc >= job.ops.length) this.finish(job);
  }

  /** Ends `job` on a fault at `vpn` the kernel refused; the statement running sees a JobFault. */
  private fail(job: GpuJob, op: KernelOp & { kind: 'access' }, vpn: number, why: string): never {
    const vma = job.mm.vmas.find(vpn);
    const cause = vma === undefined ? 'no mapping there'
      : op.access === 'read' ? ((vma.flags & VM_READ) === 0 ? 'the mapping is not readable' : undefined)
        : (vma.flags & VM_WRITE) === 0 ? 'the mapping is not writable' : op.access === 'atomic' && !vma.isPrivateAnon ? 'device atomics need a private anonymous mapping' : undefined;
    job.failure = `${op.access} of ${this.sim.describeRange(vpn, vpn + 1)} failed: ${why}${cause === undefined ? '' : ` (${cause})`}`;
    this.finish(job);
    throw new JobFault(op.pos, `GPU job ${job.name} on ${job.device.name}: ${job.failure}`);
  }

  private finish(job: GpuJob): void {
    job.endTime = this.sim.clock.now;
    this.sim.emit(job.mm.name, 0, 0, { kind: 'job', what: 'end', job: job.name, device: job.device.name });
  }

  /**
   * The next fault batch: the pages from `v` the device does not map well enough for the access,
   * ascending, at most FAULT_BATCH_PAGES of them (reads and writes: from the dpt pages' tags).
   */
  private unmappedPages(m: Dmirror, v: number, op: KernelOp & { kind: 'access' }): number[] {
    const batch: number[] = [];
    const end = op.end;
    if (op.access === 'atomic' || !rangeBatching()) {
      for (let p = v; p < end && batch.length < FAULT_BATCH_PAGES; p++) if (!this.mapped(m, p, op.access)) batch.push(p);
      return batch;
    }
    const read = op.access === 'read';
    for (let p = v; p < end && batch.length < FAULT_BATCH_PAGES;) {
      const idx = Math.floor(p / PTRS_PER_PTE);
      const page = m.pt.get(idx);
      const base = idx * PTRS_PER_PTE;
      const stop = Math.min(end - base, PTRS_PER_PTE);
      let s = p - base;
      if (page === undefined) for (; s < stop && batch.length < FAULT_BATCH_PAGES; s++) batch.push(base + s);
      else if (read) for (; s < stop && batch.length < FAULT_BATCH_PAGES; s++) { if (page.tagAt(s) === Dpt.NONE) batch.push(base + s); }
      else for (; s < stop && batch.length < FAULT_BATCH_PAGES; s++) { if (page.tagAt(s) !== Dpt.WRITE) batch.push(base + s); }
      p = base + s;
    }
    return batch;
  }

  /** The runs (start, end, start, end, …) of the batch's pages (ascending) still not mapped well enough for the access. */
  private unmappedRuns(m: Dmirror, batch: readonly number[], access: 'read' | 'write' | 'atomic'): number[] {
    if (access === 'atomic' || !rangeBatching()) return runs(batch.filter((v) => !this.mapped(m, v, access)));
    const out: number[] = [];
    const read = access === 'read';
    // A dpt page at a time: the batch's pages in it, by slot.
    for (let k = 0; k < batch.length;) {
      const idx = Math.floor(batch[k]! / PTRS_PER_PTE);
      const base = idx * PTRS_PER_PTE;
      const page = m.pt.get(idx);
      for (; k < batch.length && batch[k]! - base < PTRS_PER_PTE; k++) {
        const v = batch[k]!;
        const tag = page === undefined ? Dpt.NONE : page.tagAt((v - base) | 0);
        if (read ? tag !== Dpt.NONE : tag === Dpt.WRITE) continue;
        const n = out.length;
        if (n > 0 && out[n - 1] === v) out[n - 1] = v + 1;
        else out.push(v, v + 1);
      }
    }
    return out;
  }

  private mapped(m: Dmirror, vpn: number, access: 'read' | 'write' | 'atomic'): boolean {
    const tag = m.tagAt(vpn);
    if (access === 'read') return tag !== Dpt.NONE;
    if (access === 'write') return tag === Dpt.WRITE;
    return tag === Dpt.ATOMIC || (tag === Dpt.WRITE && this.isLocal(m, vpn));
  }

  private isLocal(m: Dmirror, vpn: number): boolean {
    if (m.tagAt(vpn) === Dpt.NONE) return false;
    const pfn = m.pfnAt(vpn);
    return this.sim.frames.device.get(pfn) === m.device.index &&
      (this.sim.frames.zone.get(pfn) === Zone.DEVICE_PRIVATE || this.sim.frames.zone.get(pfn) === Zone.DEVICE_COHERENT);
  }

  /**
   * isLocal of each page of 2 MiB block `b` (one dpt page: PTRS_PER_PTE is HPAGE_PMD_NR), 1 or 0,
   * read slot by slot from the dpt page and the frames' chunks (an array reused by the next call).
   */
  private localPages(m: Dmirror, b: number): Uint8Array {
    const out = this.residentPages;
    out.fill(0);
    const page = m.pt.get(b);
    if (page === undefined) return out;
    const f = this.sim.frames;
    if (rangeBatching()) {
      for (let s = 0; s < PTRS_PER_PTE;) {
        if (page.tagAt(s) === Dpt.NONE) {
          s++;
          continue;
        }
        const n = this.localRun(page, s, PTRS_PER_PTE, m.device.index);
        if (this.runIsLocal) out.fill(1, s, s + n);
        s += n;
      }
      return out;
    }
    for (let s = 0; s < PTRS_PER_PTE; s++) {
      if (page.tagAt(s) === Dpt.NONE) continue;
      const pfn = page.pfnAt(s);
      const zone = f.zone.get(pfn);
      if (f.device.get(pfn) === m.device.index && (zone === Zone.DEVICE_PRIVATE || zone === Zone.DEVICE_COHERENT)) out[s] = 1;
    }
    return out;
  }

  /** localRun's answer for the run it measured. */
  private runIsLocal = false;

  /**
   * isLocal of the mapped slots of `page` from `s` (mapped) before `stop`, a run at a time: the
   * slots whose frames follow one another (up or down) in one frame chunk, all of one zone and
   * device, answer alike. Returns how many slots it answered for (at least one) and sets runIsLocal.
   */
  private localRun(page: DptPage, s: number, stop: number, me: number): number {
    const f = this.sim.frames;
    const p0 = page.pfnAt(s);
    let n = 1;
    let zone: number | undefined;
    let dev: number | undefined;
    if (p0 >= 0) {
      const step = s + 1 < stop && page.pfnAt(s + 1) === p0 - 1 ? -1 : 1;
      const ci = p0 >>> FRAME_CHUNK_SHIFT;
      for (let want = p0 + step; s + n < stop && page.tagAt(s + n) !== Dpt.NONE && page.pfnAt(s + n) === want && want >>> FRAME_CHUNK_SHIFT === ci; want += step) n++;
      const lo = step === 1 ? p0 : p0 - n + 1;
      zone = f.zone.levelOf(lo, lo + n);
      dev = f.device.levelOf(lo, lo + n);
    }
    if (zone === undefined || dev === undefined) {
      n = 1;
      zone = f.zone.get(p0);
      dev = f.device.get(p0);
    }
    this.runIsLocal = dev === me && (zone === Zone.DEVICE_PRIVATE || zone === Zone.DEVICE_COHERENT);
    return n;
  }

  /** A kernel write (or atomic) changes the page's words. */
  private writeWord(m: Dmirror, vpn: number, op: KernelOp & { kind: 'access' }): void {
    if (op.pattern === undefined) return;
    const sim = this.sim;
    const pfn = m.entry(vpn).pfn;
    const id = sim.contents.intern(op.pattern);
    sim.frames.contentId.set(pfn, id);
    sim.frames.contentPage.set(pfn, vpn - op.mapStart);
    const t = m.mm.pt.lookup(vpn);
    const vma = m.mm.vmas.find(vpn);
    if (t !== undefined) setExpected(t, pteIndex(vpn), vma?.isShared ? -1 : id, vpn - op.mapStart);
    sim.contentChanged(vpn);
  }

  /**
   * Service one fault batch: fixed and per-page cost, then per page the policy's decision —
   * migrate (with the prefetcher's expansion) or map remotely — and thrashing bookkeeping.
   */
  private *serviceBatch(job: GpuJob, m: Dmirror, op: KernelOp & { kind: 'access' }, batch: number[]): KernelWork<void> {
    const sim = this.sim;
    const dev = job.device;
    const write = op.access !== 'read';
    const startNs = sim.clock.now;
    const cost = sim.timing.faultBatchNs + sim.timing.faultPerPageNs * batch.length;
    sim.clock.advance(cost);
    const devStats = sim.deviceStats(dev);
    devStats.faults += batch.length;
    devStats.faultPages += batch.length;
    devStats.faultBatches++;
    job.stats.faults += batch.length;
    job.stats.batches++;
    const line = this.lineCost(op.pos.line);
    line.faults += batch.length;
    sim.emit(job.mm.name, batch[0]!, batch[batch.length - 1]! + 1, {
      kind: 'deviceFault', device: dev.name, write, rc: 0, retries: 0, pages: batch.length,
    });
    const frame = kernelFrame('service_fault_batch', () => `${dev.name} ${batch.length} page(s) ${sim.describeRange(batch[0]!, batch[batch.length - 1]! + 1)}`);
    yield pushFrame(sim.kstack, frame);
    try {
      const advice = this.adviceOf(job.mm);
      let migrate: number[] = [];
      // No advice and no page pinned by thrashing: every page of the batch migrates (decideFault;
      // nothing changes the batch, so it is used as it is).
      if (rangeBatching() && dev.policy === 'migrate' && advice.segments.length === 0 && !this.thrashing.anyPinned) migrate = batch;
      else {
        for (const v of batch) {
          const pinned = this.thrashing.isPinned(job.mm.id, v);
          if (dev.policy === 'migrate' && decideFault(advice.get(v), dev.index, write, pinned) === 'migrate') migrate.push(v);
        }
      }
      const toMigrate = this.expandWithPrefetcher(m, migrate);
      const copyBefore = sim.clock.now;
      for (let r = 0; r < toMigrate.length; r += 2) {
        const s = toMigrate[r]!;
        const e = toMigrate[r + 1]!;
        yield* this.makeRoom(dev, e - s);
        const tl = this.timeline(dev);
        sim.clock.now = Math.max(sim.clock.now, tl.h2dBusyUntil);
        yield* this.driver.migrateRange(m, s, e, true, 'gpu-fault');
        tl.h2dBusyUntil = sim.clock.now;
        this.noteBlocks(dev, job.mm, s, e);
        line.bytesToDevice += (e - s) * PAGE_SIZE;
      }
      job.stats.copyNs += sim.clock.now - copyBefore;
      line.copyNs += sim.clock.now - copyBefore;
      // Whatever is still not mapped (remote decision, or a page migration could not move)
      // is mapped where it lives: hmm_range_fault through the mirror.
      const rest = this.unmappedRuns(m, batch, op.access);
      for (let r = 0; r < rest.length; r += 2) {
        const s = rest[r]!;
        const e = rest[r + 1]!;
        const rc = op.access === 'atomic' ? yield* this.driver.makeExclusive(m, s, e) : yield* this.driver.faultRange(m, s, e, write);
        if (rc < 0) this.fail(job, op, s, `${op.access === 'atomic' ? 'make_device_exclusive' : 'hmm_range_fault'} failed with ${errnoName(rc)}`);
        // Read-mostly pages are mapped read-only, so a device write faults (and migrates).
        if (!write) for (let v = s; v < e; v++) if (advice.get(v).readMostly && m.tagAt(v) === Dpt.WRITE) m.store(v, m.entry(v).pfn, Dpt.READ);
      }
      // Thrashing bookkeeping per page; a throttled batch waits once (not once per page).
      let throttle = false;
      // A detector with no history and nothing throttled answers 'none' for every page, changing nothing.
      if (this.thrashing.quiet) migrate = [];
      for (const v of migrate) {
        const verdict = this.thrashing.recordIfBouncing(job.mm.id, v, sim.clock.now);
        if (verdict === 'throttle') throttle = true;
        if (verdict !== 'none') sim.emit(job.mm.name, v, v + 1, { kind: 'thrashing', verdict, device: dev.name }, `thrash:${verdict}`);
      }
      if (throttle) sim.clock.advance(THRASH_THROTTLE_NS);
      // Faulting the same batch again would not map it either: the job could never end.
      if (batch.every((v) => !this.mapped(m, v, op.access))) this.fail(job, op, batch[0]!, 'the fault mapped none of its pages');
    } finally {
      sim.kstack.pop();
    }
    const ns = sim.clock.now - startNs;
    job.stats.faultNs += ns;
    devStats.faultNs += ns;
    line.faultNs += ns;
  }

  /**
   * The prefetcher: grow each 2 MiB block's migration by subtree density. Returns the pages to
   * migrate, ascending, each once, as runs: start, end, start, end, … (the caller migrates a run
   * at a time).
   */
  private expandWithPrefetcher(m: Dmirror, faulted: number[]): number[] {
    if (faulted.length === 0 || !this.sim.prefetcherEnabled) return runs(faulted);
    // A batch lists its pages in ascending order: a block's pages are then consecutive.
    for (let k = 1; k < faulted.length; k++) if (faulted[k]! <= faulted[k - 1]!) return runs(this.expandUnordered(m, faulted));
    const out: number[] = [];
    const picked = this.pickedPages;
    for (let i = 0; i < faulted.length;) {
      const b = blockOf(faulted[i]!);
      const base = b * HPAGE_PMD_NR;
      const from = i;
      for (; i < faulted.length && faulted[i]! - base < HPAGE_PMD_NR; i++);
      const vma = m.mm.vmas.find(faulted[from]!);
      const resident = this.localPages(m, b);
      picked.fill(0);
      if (faulted[i - 1]! - faulted[from]! === i - 1 - from) {
        // One run of pages (a stream's batch).
        resident.fill(1, faulted[from]! - base, faulted[i - 1]! - base + 1);
        picked.fill(1, faulted[from]! - base, faulted[i - 1]! - base + 1);
      } else {
        for (let k = from; k < i; k++) {
          const r = faulted[k]! - base;
          resident[r] = 1;
          picked[r] = 1;
        }
      }
      // The expansion (taken pages not resident) stays inside the faulting page's VMA, and only a private anonymous one.
      if (vma !== undefined && vma.isPrivateAnon) {
        const lo = Math.max(0, vma.start - base);
        const hi = Math.min(HPAGE_PMD_NR, vma.end - base);
        if (rangeBatching()) this.pickSubtrees(resident, picked, faulted, from, i, base, lo, hi);
        else {
          const take = prefetchTake(resident, faulted, from, i, base);
          for (let p = lo; p < hi; p++) if (take[p] === 1 && resident[p] === 0) picked[p] = 1;
        }
      }
      appendRuns(out, picked, base);
    }
    return out;
  }

  /**
   * What prefetchTake decides, from the occupancy of each 16-page leaf (PREFETCH_LEAF_PAGES)
   * rather than of each page: every subtree it weighs is whole leaves, and the pages it takes
   * that are not resident, within [lo, hi), are marked in `picked`. The faulted pages are
   * ascending, so a leaf's pages are consecutive and its first decides for all of them.
   */
  private pickSubtrees(resident: Uint8Array, picked: Uint8Array, faulted: readonly number[], from: number, to: number, base: number, lo: number, hi: number): void {
    // Leaf sums, four pages (bytes of 0 or 1) to a word: a word's byte sum is the top byte of the word times 0x01010101.
    const words = this.residentWords;
    const leaves = this.leafPrefix;
    for (let j = 0; j < LEAVES; j++) {
      const w = 4 * j;
      leaves[j + 1] = leaves[j]! + (Math.imul(words[w]!, 0x01010101) >>> 24) + (Math.imul(words[w + 1]!, 0x01010101) >>> 24) +
        (Math.imul(words[w + 2]!, 0x01010101) >>> 24) + (Math.imul(words[w + 3]!, 0x01010101) >>> 24);
    }
    const done = this.leavesTaken;
    done.fill(0);
    let takenFrom = 0;
    let takenTo = 0;
    let lastLeaf = -1;
    for (let k = from; k < to; k++) {
      const leaf = ((faulted[k]! - base) / PREFETCH_LEAF_PAGES) | 0;
      if (leaf === lastLeaf) continue;
      lastLeaf = leaf;
      let best = 0;
      let bestLeaves = 0;
      for (let n = 1; n <= LEAVES; n *= 2) {
        const first = leaf - (leaf % n);
        if ((leaves[first + n]! - leaves[first]!) * 100 > n * PREFETCH_LEAF_PAGES * PREFETCH_THRESHOLD_PERCENT) {
          best = first;
          bestLeaves = n;
        }
      }
      // Inside the subtree taken last (consecutive leaves mostly take the same one): nothing new.
      if (best >= takenFrom && best + bestLeaves <= takenTo) continue;
      takenFrom = best;
      takenTo = best + bestLeaves;
      // The subtree's leaves not looked at yet, and of those only the ones with a page not resident.
      for (let j = best; j < best + bestLeaves; j++) {
        if (done[j] === 1) continue;
        done[j] = 1;
        if (leaves[j + 1]! - leaves[j]! === PREFETCH_LEAF_PAGES) continue;
        const end = Math.min(hi, (j + 1) * PREFETCH_LEAF_PAGES);
        for (let p = Math.max(lo, j * PREFETCH_LEAF_PAGES); p < end; p++) if (resident[p] === 0) picked[p] = 1;
      }
    }
  }

  /** expandWithPrefetcher for pages in any order. */
  private expandUnordered(m: Dmirror, faulted: number[]): number[] {
    const out = new Set(faulted);
    const byBlock = new Map<number, number[]>();
    for (const v of faulted) {
      const b = blockOf(v);
      const list = byBlock.get(b) ?? [];
      list.push(v - b * HPAGE_PMD_NR);
      byBlock.set(b, list);
    }
    for (const [b, rel] of byBlock) {
      const base = b * HPAGE_PMD_NR;
      const vma = m.mm.vmas.find(base + rel[0]!);
      const resident = this.localPages(m, b);
      for (const r of rel) resident[r] = 1;
      for (const p of prefetchExpansion(resident, rel)) {
        const v = base + p;
        if (vma !== undefined && v >= vma.start && v < vma.end && vma.isPrivateAnon) out.add(v);
      }
    }
    return [...out].sort((a, b) => a - b);
  }

  /** Remember which 2 MiB blocks hold device pages, oldest first. */
  private noteBlocks(device: Device, mm: Mm, start: number, end: number): void {
    const tl = this.timeline(device);
    for (let b = blockOf(start); b <= blockOf(end - 1); b++) {
      tl.blocks.note(mm.id, b);
    }
  }

  /** Evict the oldest 2 MiB blocks until `pages` fit on the device. */
  *makeRoom(device: Device, pages: number): KernelWork<void> {
    const sim = this.sim;
    const tl = this.timeline(device);
    while (device.freePages < pages && tl.blocks.length > 0) {
      const victim = tl.blocks.shift()!;
      const mm = sim.mms.find((x) => x.id === victim.mmId);
      if (mm === undefined || !mm.alive) continue;
      const pfns: number[] = [];
      const base = victim.block * HPAGE_PMD_NR;
      const t = mm.pt.lookup(base);
      if (t === undefined) continue;
      for (let s = 0; s < PTRS_PER_PTE; s++) {
        const pfn = t.pfn[s]!;
        if (t.kind[s] === Pte.DEVICE_PRIVATE && sim.frames.device.get(pfn) === device.index) pfns.push(pfn);
      }
      if (pfns.length === 0) continue;
      const before = sim.clock.now;
      const tlc = this.timeline(device);
      sim.clock.now = Math.max(sim.clock.now, tlc.d2hBusyUntil);
      sim.clock.advance(sim.timing.dmaSetupNs + copyTimeNs(pfns.length * PAGE_SIZE, linkGBps(device.link, 'd2h')));
      tlc.d2hBusyUntil = sim.clock.now;
      yield* migrateDeviceRange(sim, device, pfns, 'eviction');
      sim.deviceStats(device).evictions += pfns.length;
      this.lineCost(sim.loc?.line ?? 0).bytesToSystem += pfns.length * PAGE_SIZE;
      this.lineCost(sim.loc?.line ?? 0).copyNs += sim.clock.now - before;
    }
  }

  save(): GpuState {
    return {
      jobs: this.jobs.map((j) => ({ job: j, pc: j.pc, cursor: j.cursor, time: j.time, endTime: j.endTime, stats: { ...j.stats } })),
      copies: this.copies.map((c) => ({ copy: c, applied: c.applied })),
      advice: [...this.advice].map(([k, v]) => [k, v.clone()] as [number, AdviceMap]),
      thrashing: this.thrashing.save(),
      timelines: [...this.timelines].map(([k, v]) => [k, { ...v, blocks: v.blocks.clone() }] as [number, DeviceTimeline]),
      lines: [...this.lines].map(([k, v]) => [k, { ...v }] as [number, LineCost]),
      nextId: this.nextId,
    };
  }

  load(s: GpuState): void {
    this.jobs.length = 0;
    for (const j of s.jobs) {
      j.job.pc = j.pc;
      j.job.cursor = j.cursor;
      j.job.time = j.time;
      j.job.endTime = j.endTime;
      Object.assign(j.job.stats, j.stats);
      j.job.batch = [];
      this.jobs.push(j.job);
    }
    this.copies.length = 0;
    for (const c of s.copies) {
      c.copy.applied = c.applied;
      this.copies.push(c.copy);
    }
    this.advice.clear();
    for (const [k, v] of s.advice) this.advice.set(k, v.clone());
    this.thrashing.load(s.thrashing);
    this.timelines.clear();
    for (const [k, v] of s.timelines) this.timelines.set(k, { ...v, blocks: v.blocks.clone() });
    this.lines.clear();
    for (const [k, v] of s.lines) this.lines.set(k, { ...v });
    this.nextId = s.nextId;
    this.current = undefined;
  }
}

export interface GpuState {
  readonly jobs: { job: GpuJob; pc: number; cursor: number; time: number; endTime: number | undefined; stats: JobStats }[];
  readonly copies: { copy: AsyncCopy; applied: boolean }[];
  readonly advice: [number, AdviceMap][];
  readonly thrashing: ReturnType<ThrashingDetector['save']>;
  readonly timelines: [number, DeviceTimeline][];
  readonly lines: [number, LineCost][];
  readonly nextId: number;
}

/** Sorted pages → their runs: start, end, start, end, … */
function runs(pages: readonly number[]): number[] {
  const out: number[] = [];
  for (const v of pages) {
    const n = out.length;
    if (n > 0 && out[n - 1] === v) out[n - 1] = v + 1;
    else out.push(v, v + 1);
  }
  return out;
}

/** The runs of the pages marked 1 in `picked` (a block from `base`) added to `out`, joining its last run when they follow it. */
function appendRuns(out: number[], picked: Uint8Array, base: number): void {
  for (let p = picked.indexOf(1); p >= 0; p = picked.indexOf(1, p)) {
    let q = picked.indexOf(0, p);
    if (q < 0) q = HPAGE_PMD_NR;
    const n = out.length;
    if (n > 0 && out[n - 1] === base + p) out[n - 1] = base + q;
    else out.push(base + p, base + q);
    p = q;
  }
}
