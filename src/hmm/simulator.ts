// The simulated machine, assembled from the mechanisms: physical frames, devices, processes,
// the reference driver, GPU work, the clock and the event stream; the process-level operations
// the interpreter drives, each KernelWork (a generator) so a debugger can pause inside it; read-only
// inspection; checkpoints. The mechanisms see it through machine.ts's Machine (and the
// extensions their files declare), never this class.

import { type MappingBinding, MappingNames, type MappingNamesState } from './bindings';
import { LINUX_PROFILES, type LinuxProfile } from './profile';
import { ContentStore, type PatternFn } from './content';
import { PTRS_PER_PTE } from './constants';
import { DmirrorDriver } from './dmirror';
import { EventLog, type SimEvent, type SimEventBody, type SourceLoc } from './events';
import { cpuAccess } from './fault';
import { forkMm } from './fork';
import { GpuEngine, type GpuMachine, type GpuState } from './gpu';
import { pinUserPages, unpinUserPages } from './gup';
import { checkInvariants } from './invariants';
import { type DeviceStats, type KernelStats, SimError } from './machine';
import { Device, type DeviceMemoryType, type DeviceState } from './memremap';
import { Mm, type MmState } from './mm';
import { doMadvise, doMmap, doMprotect, doMunmap, exitMmap, getUnmappedArea, type MadviseName, type ProtName } from './mmap';
import type { MigrateVma } from './migrateDevice';
import type { Dmirror } from './mirror';
import type { NotifierLogState, NotifierRecord as LoggedCallback } from './notifierLog';
import { type FramesState, PageFrames } from './page';
import { firstPlainMismatch, pageContent, pageState, type PageState } from './pagemap';
import { accessRemoteVmWrite, readBytes } from './procMem';
import { drain, type KernelFrame, type KernelWork } from './kernelWork';
import { Clock, DEFAULT_TIMING, type TimingModel } from './timing';
import { hugePagesOf, hugetlbReservePages } from './hugetlb';
import { dmirrorFopsMmap } from './mixedmap';
import { doMremap, type MremapRequest } from './mremap';
import { type HugetlbResv, MemObject, type Vma } from './vma';

export type { MappingBinding };
export { type DeviceStats, SimError } from './machine';
export type { PageState } from './pagemap';
/** A notifier callback of a mirror, as `expect notified` sees it. */
export type NotifierRecord = LoggedCallback<Dmirror>;

/** What an mmap maps: anonymous memory (optionally hugetlb), a declared file, or a device's file. */
export type MmapSource =
  | { readonly pages: number; readonly hugetlb?: true }
  | { readonly file: string }
  | { readonly device: string; readonly pages: number };

export interface SimState {
  readonly frames: FramesState;
  readonly contents: number;
  readonly log: { length: number; lastStep: number };
  readonly now: number;
  readonly devices: DeviceState[];
  readonly mms: { mm: Mm; state: MmState }[];
  readonly files: { name: string; obj: MemObject; pages: Map<number, number> }[];
  readonly driver: ReturnType<DmirrorDriver['save']>;
  readonly stats: { cpuFaults: number; notifierCalls: number; hmmRetries: number; devices: [string, DeviceStats][] };
  readonly notifierRecords: NotifierLogState;
  readonly names: MappingNamesState;
  readonly step: number;
  readonly loc: SourceLoc | undefined;
  readonly nextMmId: number;
  readonly pendingMigrations: number;
  readonly gpu: GpuState;
  readonly prefetcherEnabled: boolean;
}

export class Simulator implements GpuMachine {
  readonly frames = new PageFrames();
  readonly contents = new ContentStore();
  readonly log = new EventLog();
  readonly clock = new Clock();
  readonly timing: TimingModel;
  readonly devices: Device[] = [];
  readonly mms: Mm[] = [];
  readonly files = new Map<string, MemObject>();
  readonly driver: DmirrorDriver;
  readonly kstack: KernelFrame[] = [];
  readonly stats: KernelStats & { devices: Map<string, DeviceStats> } = { cpuFaults: 0, notifierCalls: 0, hmmRetries: 0, devices: new Map() };
  /** migrate_vma calls between setup and finalize (shown by the debugger while paused inside). */
  readonly pendingMigrations: MigrateVma[] = [];
  /** The names of mappings, and the ranges still reserved for them. */
  private readonly names = new MappingNames();
  /** Mapping names → their current addresses. */
  readonly bindings = this.names.bindings;
  /** GPU work in simulated time. */
  readonly gpu: GpuEngine;
  /** The GPU job whose action is running, if any (events name it). */
  currentJob: string | undefined;
  /** The density prefetcher of fault-driven migrations (UVM's perf_prefetch). */
  prefetcherEnabled = true;
  /** Notifier callbacks are pause points (NotifierMachine); a plain run turns this off. */
  pauseInNotifiers = true;
  /** The kernel version modelled (a run's configuration, like the prefetcher: not checkpointed). */
  profile: LinuxProfile = LINUX_PROFILES.mainline;
  /** The statement execution currently running and where it is in the script. */
  step = 0;
  loc: SourceLoc | undefined;
  private nextMmId = 1;
  readonly checkInvariantsAfterStep: boolean;

  constructor(opts: { timing?: Partial<TimingModel>; checkInvariants?: boolean } = {}) {
    this.timing = { ...DEFAULT_TIMING, ...opts.timing };
    this.driver = new DmirrorDriver(this);
    this.gpu = new GpuEngine(this, this.driver);
    this.checkInvariantsAfterStep = opts.checkInvariants ?? true;
    this.newMm('main', undefined);
  }

  // ---- the Machine the mechanisms use -----------------------------------------------------

  emit(mm: string, start: number, end: number, body: SimEventBody, coalesceKey?: string): SimEvent {
    const key = coalesceKey !== undefined && this.currentJob !== undefined ? this.jobKey(coalesceKey, this.currentJob) : coalesceKey;
    return this.log.emit({ time: this.clock.now, step: this.step, loc: this.loc, job: this.currentJob }, mm, start, end, body, key);
  }

  emitPages(mm: string, start: number, n: number, body: SimEventBody, coalesceKey: string): SimEvent {
    const key = this.currentJob !== undefined ? this.jobKey(coalesceKey, this.currentJob) : coalesceKey;
    return this.log.emitPages({ time: this.clock.now, step: this.step, loc: this.loc, job: this.currentJob }, mm, start, n, body, key);
  }

  openEventAt(coalesceKey: string, start: number): SimEvent | undefined {
    const key = this.currentJob !== undefined ? this.jobKey(coalesceKey, this.currentJob) : coalesceKey;
    return this.log.openAt(this.step, key, start);
  }

  coalesceRun(e: SimEvent, n: number, body: SimEventBody): void {
    this.log.coalesceRun(e, n, body);
  }

  /** `key@job` for the job that emitted last, made once: its per-page events would each build it. */
  private readonly jobKeys = new Map<string, string>();
  private jobKeysOf: string | undefined;
  private lastJobKey = { key: '', value: '' };
  private jobKey(key: string, job: string): string {
    if (key === this.lastJobKey.key && job === this.jobKeysOf) return this.lastJobKey.value;
    if (job !== this.jobKeysOf) {
      this.jobKeys.clear();
      this.jobKeysOf = job;
    }
    let k = this.jobKeys.get(key);
    if (k === undefined) this.jobKeys.set(key, (k = `${key}@${job}`));
    this.lastJobKey = { key, value: k };
    return k;
  }

  deviceStats(d: Device): DeviceStats {
    let s = this.stats.devices.get(d.name);
    if (s === undefined) {
      s = { faults: 0, pagesIn: 0, pagesOut: 0, evictions: 0, faultPages: 0, faultBatches: 0, faultNs: 0 };
      this.stats.devices.set(d.name, s);
    }
    return s;
  }

  contentChanged(vpn: number): void {
    for (const mm of this.mms) if (mm.alive && mm.pt.lookup(vpn) !== undefined) mm.pt.markContentDirty(vpn);
  }

  deviceOfPfn(pfn: number): Device {
    const d = this.devices[this.frames.device.get(pfn)];
    if (d === undefined) throw new SimError(`frame ${pfn} belongs to no device`);
    return d;
  }

  describeRange(start: number, end: number): string {
    return this.names.describeRange(start, end);
  }

  // ---- setup ------------------------------------------------------------------------------

  addDevice(name: string, type: DeviceMemoryType, capacityPages: number, link: string, policy: 'migrate' | 'mirror'): Device {
    const d = new Device(this.devices.length, name, type, capacityPages, link, policy);
    const { driver, gpu } = this;
    d.ops = {
      // The device serves kernels too: GPU work watches CPU faults for thrashing.
      migrateToRam: (vmf) => {
        gpu.cpuFaultOnDevicePage(vmf);
        return driver.migrateToRam(vmf);
      },
      pageFree: (pfn) => driver.pageFree(pfn),
    };
    this.devices.push(d);
    this.deviceStats(d);
    return d;
  }

  device(name: string): Device {
    const d = this.devices.find((x) => x.name === name);
    if (d === undefined) throw new SimError(`no device ${name}`);
    return d;
  }

  addFile(name: string, pages: number, init: PatternFn | undefined): MemObject {
    const obj = new MemObject(name, 'file', pages, init === undefined ? 0 : this.contents.intern(init));
    this.files.set(name, obj);
    return obj;
  }

  private newMm(name: string, parent: Mm | undefined): Mm {
    const mm = new Mm(this.nextMmId++, name, parent);
    this.mms.push(mm);
    return mm;
  }

  process(name: string): Mm | undefined {
    for (let i = this.mms.length - 1; i >= 0; i--) if (this.mms[i]!.name === name) return this.mms[i];
    return undefined;
  }

  // ---- process-level operations -----------------------------------------------------------

  /**
   * mmap at a place the simulator chooses; the name is bound even when the call fails (a later
   * access then finds nothing mapped there). 0, or -ENOMEM when the hugetlb pool cannot reserve
   * the mapping's huge pages.
   */
  mmap(mm: Mm, name: string, source: MmapSource, prot: ProtName, shared: boolean, huge: boolean): number {
    let pages: number;
    let object: MemObject | undefined;
    if ('file' in source) {
      object = this.files.get(source.file);
      if (object === undefined) throw new SimError(`no file ${source.file}`);
      pages = object.sizePages;
    } else {
      pages = source.pages;
      if (shared && !('device' in source)) object = new MemObject(name, 'shmem', pages, 0);
    }
    const hugetlb = 'hugetlb' in source;
    const start = getUnmappedArea(this.names.reserved, pages, huge || hugetlb ? PTRS_PER_PTE : 1);
    this.names.bind({ name, start, pages });
    let hugetlbResv: HugetlbResv | undefined;
    if (hugetlb) {
      const r = hugetlbReservePages(this.frames, hugePagesOf(pages));
      if (typeof r === 'number') {
        this.emit(mm.name, start, start + pages, { kind: 'pte', what: `mmap ${prot} hugetlb: no free huge pages (ENOMEM)` });
        return r;
      }
      hugetlbResv = r;
    }
    const deviceFile = 'device' in source ? { device: this.device(source.device).index, mmId: mm.id } : undefined;
    const vma = doMmap(mm, start, pages, prot, { name, shared, huge, object, hugetlbResv, deviceFile });
    if (deviceFile !== undefined) dmirrorFopsMmap(this, mm, vma);
    const kind = hugetlb ? ' hugetlb' : 'device' in source ? ` ${source.device}'s file` : '';
    this.emit(mm.name, start, start + pages, { kind: 'pte', what: `mmap ${prot}${shared ? ' shared' : ''}${huge ? ' huge' : ''}${kind}` });
    return 0;
  }

  /**
   * mremap, its result bound as `name`: to a fixed address, that range even if the call fails;
   * resized where it is or moved (MREMAP_MAYMOVE, to where the simulator's get_unmapped_area
   * finds room: PMD-aligned for anonymous memory of whole PMDs, as thp_get_unmapped_area), the
   * new range, or the old one if the call fails.
   */
  *mremap(mm: Mm, name: string, req: Omit<MremapRequest, 'unmappedArea'>): KernelWork<number> {
    if (req.fixedTo !== undefined) this.names.bind({ name, start: req.fixedTo, pages: req.newPages });
    const unmappedArea = (pages: number, vma: Vma): number =>
      getUnmappedArea(this.names.reserved, pages, pages % PTRS_PER_PTE === 0 && vma.object === undefined ? PTRS_PER_PTE : 1);
    const r = yield* doMremap(this, mm, { ...req, unmappedArea }, name);
    if (req.fixedTo === undefined) this.names.bind({ name, start: r.addr, pages: r.rc ? req.oldPages : req.newPages });
    this.names.releaseUnused(this.mms);
    return r.rc;
  }

  *munmap(mm: Mm, start: number, end: number): KernelWork<number> {
    const rc = yield* doMunmap(this, mm, start, end);
    this.names.releaseUnused(this.mms);
    return rc;
  }

  mprotect(mm: Mm, start: number, end: number, prot: ProtName): KernelWork<number> {
    return doMprotect(this, mm, start, end, prot);
  }

  madvise(mm: Mm, start: number, end: number, advice: MadviseName): KernelWork<number> {
    return doMadvise(this, mm, start, end, advice);
  }

  /** The CPU touches every page of [start, end): a read of one word, or a write of every word. */
  /** `mapStart`: where the pattern's `i` counts from (the start of the mapping the script named). */
  cpuAccess(mm: Mm, start: number, end: number, write: PatternFn | undefined, mapStart = start): KernelWork<{ vpn: number; rc: number; sig: 'SIGSEGV' | 'SIGBUS' } | undefined> {
    return cpuAccess(this, mm, start, end, write, mapStart);
  }

  /** Pin [start, end); on a failure the pages already pinned are released, nothing stays pinned. */
  pin(mm: Mm, start: number, end: number, longterm: boolean): KernelWork<{ vpn: number; rc: number } | undefined> {
    return pinUserPages(this, mm, start, end, longterm);
  }

  unpin(mm: Mm, start: number, end: number): { vpn: number; rc: number } | undefined {
    return unpinUserPages(this, mm, start, end);
  }

  *fork(parent: Mm, childName: string): KernelWork<Mm> {
    const child = this.newMm(childName, parent);
    yield* forkMm(this, parent, child);
    return child;
  }

  /** Process exit: mm teardown (RELEASE, UNMAP), then its device handles close. */
  *exit(mm: Mm): KernelWork<void> {
    if (!mm.alive) return;
    this.gpu.endWorkOf(mm);
    yield* exitMmap(this, mm);
    mm.alive = false;
    for (const m of this.driver.mirrors.filter((x) => x.mm === mm)) yield* this.driver.close(m);
    this.names.releaseUnused(this.mms);
    this.emit(mm.name, 0, 0, { kind: 'process', what: 'exit', child: mm.name });
  }

  /** The process's handle on `device` (dmirror_fops_open on first use; later calls return it). */
  openMirror(mm: Mm, device: Device): Dmirror {
    return this.driver.open(mm, device);
  }

  /** Write bytes as ptrace does (access_remote_vm); returns the count written. */
  writeBytes(mm: Mm, addr: number, data: Uint8Array): KernelWork<number> {
    return accessRemoteVmWrite(this, mm, addr, data);
  }

  // ---- inspection (never changes state) ---------------------------------------------------

  bindingAt(vpn: number): MappingBinding | undefined {
    return this.names.bindingAt(vpn);
  }

  /** The notifier callbacks of statement execution `step`. */
  notifierRecordsOf(step: number): NotifierRecord[] {
    return this.driver.notifierRecords.ofStep(step);
  }

  pageState(mm: Mm, vpn: number): PageState {
    return pageState(this, mm, vpn);
  }

  /** Content of what the process would read at `vpn` without faulting: [id, page] or undefined. */
  pageContent(mm: Mm, vpn: number): [number, number] | undefined {
    return pageContent(this, mm, vpn);
  }

  /** pagemap.ts firstPlainMismatch: the first page of [start, end) not plainly holding (id, page + k). */
  firstPlainMismatch(mm: Mm, start: number, end: number, id: number, page: number, constant: boolean): number {
    return firstPlainMismatch(this, mm, start, end, id, page, constant);
  }

  /** Bytes the process would read at [addr, addr + count) without faulting (the readable prefix). */
  readBytes(mm: Mm, addr: number, count: number): Uint8Array {
    return readBytes(this, mm, addr, count);
  }

  /** The mirror's mapping of a page: 'none' | 'read' | 'write' | 'atomic'. */
  mirrorMapping(mm: Mm, device: Device, vpn: number): 'none' | 'read' | 'write' | 'atomic' {
    const m = this.driver.mirrorOf(mm, device);
    if (m === undefined) return 'none';
    const tag = m.tagAt(vpn);
    return tag === 1 ? 'atomic' : tag === 2 ? 'read' : tag === 3 ? 'write' : 'none';
  }

  /** Check the invariants over what changed; throws SimError naming the first violation. */
  checkInvariants(): void {
    const problems = checkInvariants(this, this.driver.mirrors);
    if (problems.length > 0) {
      for (const p of problems) this.emit('-', 0, 0, { kind: 'invariant', message: p });
      throw new SimError(`invariant violated: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`);
    }
  }

  get bytesUsed(): number {
    let pt = 0;
    for (const mm of this.mms) pt += mm.pt.bytes;
    return this.frames.bytes + pt;
  }

  // ---- checkpoints ------------------------------------------------------------------------

  /**
   * Everything the machine holds, copied (at a statement boundary): a checkpoint for reverse
   * debugging. Objects keep their identity across save/load, so references stay valid.
   */
  save(): SimState {
    if (this.kstack.length > 0) throw new SimError('checkpoint inside a statement');
    return {
      frames: this.frames.save(),
      contents: this.contents.size,
      log: this.log.save(),
      now: this.clock.now,
      devices: this.devices.map((d) => d.save()),
      mms: this.mms.map((mm) => ({ mm, state: mm.save() })),
      files: [...this.files].map(([name, obj]) => ({ name, obj, pages: new Map(obj.pages) })),
      driver: this.driver.save(),
      stats: {
        cpuFaults: this.stats.cpuFaults, notifierCalls: this.stats.notifierCalls, hmmRetries: this.stats.hmmRetries,
        devices: [...this.stats.devices].map(([k, v]) => [k, { ...v }] as [string, DeviceStats]),
      },
      notifierRecords: this.driver.notifierRecords.save(),
      names: this.names.save(),
      step: this.step,
      loc: this.loc,
      nextMmId: this.nextMmId,
      pendingMigrations: this.pendingMigrations.length,
      gpu: this.gpu.save(),
      prefetcherEnabled: this.prefetcherEnabled,
    };
  }

  load(s: SimState): void {
    this.frames.load(s.frames);
    this.contents.truncate(s.contents);
    this.log.load(s.log);
    this.clock.now = s.now;
    this.devices.length = s.devices.length;
    s.devices.forEach((d, i) => this.devices[i]!.load(d));
    this.mms.length = 0;
    for (const { mm, state } of s.mms) {
      mm.load(state);
      this.mms.push(mm);
    }
    this.files.clear();
    for (const f of s.files) {
      f.obj.pages.clear();
      for (const [k, v] of f.pages) f.obj.pages.set(k, v);
      this.files.set(f.name, f.obj);
    }
    this.driver.load(s.driver);
    this.stats.cpuFaults = s.stats.cpuFaults;
    this.stats.notifierCalls = s.stats.notifierCalls;
    this.stats.hmmRetries = s.stats.hmmRetries;
    this.stats.devices.clear();
    for (const [k, v] of s.stats.devices) this.stats.devices.set(k, { ...v });
    this.driver.notifierRecords.load(s.notifierRecords);
    this.names.load(s.names);
    this.step = s.step;
    this.loc = s.loc;
    this.nextMmId = s.nextMmId;
    this.pendingMigrations.length = s.pendingMigrations;
    this.gpu.load(s.gpu);
    this.prefetcherEnabled = s.prefetcherEnabled;
    this.currentJob = undefined;
  }

  /** Run a step to its end (no pausing). */
  run<T>(g: KernelWork<T>): T {
    return drain(g);
  }
}
