// Layer: simulator (src/hmm). Imports the mechanism modules; no vscode, no DAP.
// The simulated machine: physical frames, devices, processes, the reference driver, the clock
// and the event stream, with the process-level operations the interpreter drives. Each
// operation is a Step (a generator) so a debugger can pause inside it.

import { LINUX_PROFILES, type LinuxProfile } from './profile';
import { ContentStore, type PatternFn } from './content';
import {
  ADDRESS_SPACE_PAGES, EFAULT, EINVAL, MMAP_BASE_VPN, MMU_NOTIFY_NAMES, PAGE_SIZE, PTRS_PER_PTE, TASK_SIZE_VPN, VM_FAULT_ERROR,
  WORDS_PER_PAGE,
} from './constants';
import { DmirrorDriver, type Dmirror } from './dmirror';
import { EventLog, type SimEvent, type SimEventBody, type SourceLoc } from './events';
import { forkMm } from './fork';
import { GpuEngine, type GpuState } from './gpu';
import { gupFaultIn, pinUserPage, unpinUserPage } from './gup';
import { checkInvariants } from './invariants';
import { cpuAccessAllowed, doPteNone, handleMmFault, setExpected, thpEligible } from './memory';
import { Device, type DeviceMemoryType, type DeviceState } from './memremap';
import { Mm, type MmState } from './mm';
import { doMadvise, doMmap, doMprotect, doMunmap, exitMmap, type MadviseName, type ProtName } from './mmap';
import type { MigrateVma } from './migrateDevice';
import type { MmuNotifierRange } from './mmuNotifier';
import { NotifierLog, type NotifierLogState, type NotifierRecord } from './notifierLog';
import { type FramesState, PageFrames, Zone } from './page';
import { exclusiveMaker, Pte, PTE_WRITE, pteIndex } from './pgtable';
import { drain, type KernelFrame, PREEMPT, preemptAt, type Step } from './step';
import { Clock, DEFAULT_TIMING, type TimingModel } from './timing';
import { MemObject } from './vma';


export interface DeviceStats {
  /** `stats.DEV.faults` of scripts: dmirror commands count fault calls (its `cmd.faults`), kernels pages. */
  faults: number;
  pagesIn: number;
  pagesOut: number;
  evictions: number;
  /**
   * The quantities every view shows, counted the same on both paths: pages the device faulted
   * on, fault batches serviced (a dmirror_fault call or a GPU fault batch), and the time spent
   * servicing them (copies they made included).
   */
  faultPages: number;
  faultBatches: number;
  faultNs: number;
}

export type { NotifierRecord } from './notifierLog';

/** A name the script bound to addresses (`a = mmap …`). */
export interface MappingBinding {
  readonly name: string;
  readonly start: number;
  readonly pages: number;
}

/** What one page is, in the terms of `expect RANGE is STATE`. */
export interface PageState {
  kind: 'unmapped' | 'empty' | 'zero' | 'system' | 'device' | 'exclusive';
  device?: string;
  writable?: boolean;
  shared?: boolean;
  pinned?: boolean;
  pfn?: number;
  huge?: boolean;
}

export class SimError extends Error {}

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
  readonly bindings: [string, MappingBinding][];
  readonly reservations: MappingBinding[];
  readonly step: number;
  readonly loc: SourceLoc | undefined;
  readonly nextMmId: number;
  readonly pendingMigrations: number;
  readonly gpu: GpuState;
  readonly prefetcherEnabled: boolean;
}

export class Simulator {
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
  readonly stats = { cpuFaults: 0, notifierCalls: 0, hmmRetries: 0, devices: new Map<string, DeviceStats>() };
  /** migrate_vma calls between setup and finalize (shown by the debugger while paused inside). */
  readonly pendingMigrations: MigrateVma[] = [];
  /** Every notifier callback, for `expect notified` (a statement looks at its own step). */
  /** Every notifier callback, per statement (`expect notified`). */
  readonly notifierRecords = new NotifierLog();
  /** Mapping names → their current addresses; `reservations` holds every live range. */
  readonly bindings = new Map<string, MappingBinding>();
  private readonly reservations: MappingBinding[] = [];
  /** GPU work in simulated time. */
  readonly gpu: GpuEngine;
  /** The GPU job whose action is running, if any (events name it). */
  currentJob: string | undefined;
  /** The density prefetcher of fault-driven migrations (UVM's perf_prefetch). */
  prefetcherEnabled = true;
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
    this.gpu = new GpuEngine(this);
    this.checkInvariantsAfterStep = opts.checkInvariants ?? true;
    this.newMm('main', undefined);
  }

  // ---- plumbing used by the mechanisms ---------------------------------------------------

  emit(mm: string, start: number, end: number, body: SimEventBody, coalesceKey?: string): SimEvent {
    const key = coalesceKey !== undefined && this.currentJob !== undefined ? `${coalesceKey}@${this.currentJob}` : coalesceKey;
    return this.log.emit({ time: this.clock.now, step: this.step, loc: this.loc, job: this.currentJob }, mm, start, end, body, key);
  }

  recordNotifier(m: Dmirror, range: MmuNotifierRange, seqBefore: number, seqAfter: number,
    action: 'ignored-own-migrate' | 'invalidated' | 'seq-only', erased: number): void {
    const event = MMU_NOTIFY_NAMES[range.event];
    this.notifierRecords.push({ mirror: m, event, start: range.start, end: range.end, owner: range.owner?.name ?? null, step: this.step });
    this.emit(range.mm.name, range.start, range.end, {
      kind: 'notifier', event, owner: range.owner?.name ?? null, mirror: m.device.name, seqBefore, seqAfter, action, erased,
    }, `notif:${m.id}:${event}:${range.owner?.name ?? '-'}:${action}`);
  }

  /** The notifier callbacks of statement execution `step`. */
  notifierRecordsOf(step: number): NotifierRecord[] {
    return this.notifierRecords.ofStep(step);
  }


  deviceStats(d: Device): DeviceStats {
    let s = this.stats.devices.get(d.name);
    if (s === undefined) {
      s = { faults: 0, pagesIn: 0, pagesOut: 0, evictions: 0, faultPages: 0, faultBatches: 0, faultNs: 0 };
      this.stats.devices.set(d.name, s);
    }
    return s;
  }

  countMigration(d: Device, dir: 'in' | 'out', pages: number): void {
    const s = this.deviceStats(d);
    if (dir === 'in') s.pagesIn += pages;
    else s.pagesOut += pages;
  }

  getPage(pfn: number): void {
    const head = this.frames.head(pfn);
    if (this.frames.zone.get(head) === Zone.ZERO) return;
    this.frames.refcount.add(head, 1);
  }

  /** put_page: the last reference frees the frame (page_free for device pages). */
  putPage(pfn: number): void {
    const f = this.frames;
    const head = f.head(pfn);
    const zone = f.zone.get(head) as Zone;
    if (zone === Zone.ZERO) return;
    if (zone === Zone.FREE) throw new SimError(`put_page on a free frame ${head}`);
    f.refcount.add(head, -1);
    if (f.refcount.get(head) > 0) return;
    if (zone === Zone.SYSTEM) f.freeSystemFrame(head);
    else this.deviceOfPfn(head).free(this, head);
  }

  /**
   * A page's bytes changed at `vpn`: every process with a page table there gets re-checked, so
   * a write that leaks into another process's page is caught by the data invariant.
   */
  contentChanged(vpn: number): void {
    for (const mm of this.mms) if (mm.alive && mm.pt.lookup(vpn) !== undefined) mm.pt.markDirty(vpn);
  }

  deviceOfPfn(pfn: number): Device {
    const d = this.devices[this.frames.device.get(pfn)];
    if (d === undefined) throw new SimError(`frame ${pfn} belongs to no device`);
    return d;
  }

  /** `a[2..6]` when the pages belong to a bound mapping, else hex addresses. */
  describeRange(start: number, end: number): string {
    if (end >= ADDRESS_SPACE_PAGES) return '[0, ULONG_MAX)';
    const b = this.reservations.find((r) => start >= r.start && start < r.start + r.pages);
    if (b !== undefined && end <= b.start + b.pages) {
      const s = start - b.start;
      const e = end - b.start;
      if (s === 0 && e === b.pages) return b.name;
      return e - s === 1 ? `${b.name}[${s}]` : `${b.name}[${s}..${e}]`;
    }
    return `[0x${(start * PAGE_SIZE).toString(16)}, 0x${(end * PAGE_SIZE).toString(16)})`;
  }

  bindingAt(vpn: number): MappingBinding | undefined {
    return this.reservations.find((r) => vpn >= r.start && vpn < r.start + r.pages);
  }

  // ---- setup ------------------------------------------------------------------------------

  addDevice(name: string, type: DeviceMemoryType, capacityPages: number, link: string, policy: 'migrate' | 'mirror'): Device {
    const d = new Device(this.devices.length, name, type, capacityPages, link, policy);
    const driver = this.driver;
    d.ops = {
      migrateToRam: (_sim, vmf) => driver.migrateToRam(vmf),
      pageFree: (_sim, pfn) => driver.pageFree(pfn),
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

  // ---- address placement ------------------------------------------------------------------

  /** First fit above MMAP_BASE, one guard page apart; huge mappings 2 MiB aligned. */
  private place(pages: number, align: number): number {
    const taken = [...this.reservations].sort((a, b) => a.start - b.start);
    let cand = MMAP_BASE_VPN;
    for (;;) {
      cand = Math.ceil(cand / align) * align;
      const clash = taken.find((r) => cand < r.start + r.pages + 1 && cand + pages + 1 > r.start);
      if (clash === undefined) {
        // get_unmapped_area: -ENOMEM when the mapping does not fit below TASK_SIZE.
        if (cand + pages > TASK_SIZE_VPN) {
          throw new SimError(`mmap of ${pages} pages: no room below TASK_SIZE (the address space has ${TASK_SIZE_VPN - MMAP_BASE_VPN} pages, 1 TiB, from 0x${(MMAP_BASE_VPN * PAGE_SIZE).toString(16)})`);
        }
        return cand;
      }
      cand = clash.start + clash.pages + 1;
    }
  }

  /** Drop reservations no process maps any part of (after munmap / exit). */
  private releaseUnusedReservations(): void {
    for (let i = this.reservations.length - 1; i >= 0; i--) {
      const r = this.reservations[i]!;
      const used = this.mms.some((mm) => mm.alive && mm.vmas.intersecting(r.start, r.start + r.pages).length > 0);
      if (!used) this.reservations.splice(i, 1);
    }
  }

  // ---- process-level operations -----------------------------------------------------------

  mmap(mm: Mm, name: string, source: { pages: number } | { file: string }, prot: ProtName, shared: boolean, huge: boolean): MappingBinding {
    let pages: number;
    let object: MemObject | undefined;
    if ('file' in source) {
      object = this.files.get(source.file);
      if (object === undefined) throw new SimError(`no file ${source.file}`);
      pages = object.sizePages;
    } else {
      pages = source.pages;
      if (shared) object = new MemObject(name, 'shmem', pages, 0);
    }
    const start = this.place(pages, huge ? PTRS_PER_PTE : 1);
    const b = { name, start, pages };
    this.reservations.push(b);
    this.bindings.set(name, b);
    doMmap(mm, start, pages, prot, { name, shared, huge, object });
    this.emit(mm.name, start, start + pages, { kind: 'pte', what: `mmap ${prot}${shared ? ' shared' : ''}${huge ? ' huge' : ''}` });
    return b;
  }

  *munmap(mm: Mm, start: number, end: number): Step<number> {
    const rc = yield* doMunmap(this, mm, start, end);
    this.releaseUnusedReservations();
    return rc;
  }

  mprotect(mm: Mm, start: number, end: number, prot: ProtName): Step<number> {
    return doMprotect(this, mm, start, end, prot);
  }

  madvise(mm: Mm, start: number, end: number, advice: MadviseName): Step<number> {
    return doMadvise(this, mm, start, end, advice);
  }

  /** The CPU touches every page of [start, end): a read of one word, or a write of every word. */
  *cpuAccess(mm: Mm, start: number, end: number, write: PatternFn | undefined): Step<{ vpn: number; rc: number } | undefined> {
    const contentId = write === undefined ? -1 : this.contents.intern(write);
    const f = this.frames;
    for (let vpn = start; vpn < end; vpn++) {
      if (preemptAt(vpn - start)) yield PREEMPT;
      const vma = mm.vmas.find(vpn);
      if (!cpuAccessAllowed(vma, write !== undefined)) return { vpn, rc: -EFAULT };
      let t = mm.pt.lookup(vpn);
      let s = pteIndex(vpn);
      const ok = t !== undefined && t.kind[s] === Pte.PRESENT && (write === undefined || (t.bits[s]! & PTE_WRITE) !== 0);
      if (!ok) {
        this.stats.cpuFaults++;
        this.clock.advance(this.timing.cpuFaultNs);
        // pte_none outside THP ranges never yields: take it without a generator (hot path).
        const r = (t === undefined || t.kind[s] === Pte.NONE) && !thpEligible(vma!, vpn)
          ? doPteNone(this, mm, vma!, vpn, write !== undefined)
          : yield* handleMmFault(this, mm, vpn, { write: write !== undefined, remote: false });
        if (r & VM_FAULT_ERROR) return { vpn, rc: -EFAULT };
        t = mm.pt.lookup(vpn);
        s = pteIndex(vpn);
      }
      if (write !== undefined) {
        const pfn = t!.pfn[s]!;
        const page = vpn - vma!.mapStart;
        f.contentId.set(pfn, contentId);
        f.contentPage.set(pfn, page);
        setExpected(t!, s, vma!.isShared ? -1 : contentId, page);
        this.contentChanged(vpn);
      }
    }
    return undefined;
  }

  /** Pin [start, end); on a failure the pages already pinned are released (as gup_test does), nothing stays pinned. */
  *pin(mm: Mm, start: number, end: number, longterm: boolean): Step<{ vpn: number; rc: number } | undefined> {
    for (let vpn = start; vpn < end; vpn++) {
      const rc = yield* pinUserPage(this, mm, vpn, longterm);
      if (rc < 0) {
        for (let v = start; v < vpn; v++) {
          const pfn = this.pageState(mm, v).pfn;
          if (pfn !== undefined) unpinUserPage(this, pfn);
        }
        return { vpn, rc };
      }
    }
    return undefined;
  }

  unpin(mm: Mm, start: number, end: number): { vpn: number; rc: number } | undefined {
    for (let vpn = start; vpn < end; vpn++) {
      const st = this.pageState(mm, vpn);
      if (st.pfn === undefined || !st.pinned) return { vpn, rc: -EINVAL };
      unpinUserPage(this, st.pfn);
    }
    return undefined;
  }

  *fork(parent: Mm, childName: string): Step<Mm> {
    const child = this.newMm(childName, parent);
    yield* forkMm(this, parent, child);
    return child;
  }

  /** Process exit: mm teardown (RELEASE, UNMAP), then its device handles close. */
  *exit(mm: Mm): Step<void> {
    if (!mm.alive) return;
    this.gpu.endWorkOf(mm);
    yield* exitMmap(this, mm);
    mm.alive = false;
    for (const m of this.driver.mirrors.filter((x) => x.mm === mm)) yield* this.driver.close(m);
    this.releaseUnusedReservations();
    this.emit(mm.name, 0, 0, { kind: 'process', what: 'exit', child: mm.name });
  }

  /** The process's handle on `device` (dmirror_fops_open on first use; later calls return it). */
  openMirror(mm: Mm, device: Device): Dmirror {
    return this.driver.open(mm, device);
  }

  // ---- inspection (never changes state) ---------------------------------------------------

  pageState(mm: Mm, vpn: number): PageState {
    const vma = mm.vmas.find(vpn);
    if (vma === undefined) return { kind: 'unmapped' };
    const t = mm.pt.lookup(vpn);
    const s = pteIndex(vpn);
    const kind = t === undefined ? Pte.NONE : (t.kind[s] as Pte);
    if (kind === Pte.NONE) return { kind: 'empty' };
    const f = this.frames;
    const pfn = t!.pfn[s]!;
    const head = f.head(pfn);
    const writable = (t!.bits[s]! & PTE_WRITE) !== 0;
    const shared = f.mapcount.get(t!.pmd ? head : pfn) > 1 || (vma.isShared && this.mms.filter((m) => m.alive && m.pt.lookup(vpn)?.pfn[s] === pfn).length > 1);
    const pinned = f.pincount.get(head) > 0;
    const huge = t!.pmd;
    const zone = f.zone.get(pfn) as Zone;
    if (kind === Pte.DEVICE_EXCLUSIVE) {
      return { kind: 'exclusive', device: this.devices[exclusiveMaker(t!.bits[s]!)]?.name, writable, shared, pinned, pfn, huge };
    }
    if (zone === Zone.ZERO) return { kind: 'zero', writable: false, shared: true, pfn, huge };
    if (zone === Zone.DEVICE_PRIVATE || zone === Zone.DEVICE_COHERENT) {
      return { kind: 'device', device: this.devices[f.device.get(pfn)]!.name, writable, shared, pinned, pfn, huge };
    }
    return { kind: 'system', writable, shared, pinned, pfn, huge };
  }

  /** Content of what the process would read at `vpn` without faulting: [id, page] or undefined. */
  pageContent(mm: Mm, vpn: number): [number, number] | undefined {
    const vma = mm.vmas.find(vpn);
    if (vma === undefined) return undefined;
    const t = mm.pt.lookup(vpn);
    const s = pteIndex(vpn);
    if (t === undefined || t.kind[s] === Pte.NONE) {
      if (vma.object === undefined) return [0, 0];
      const idx = vma.filePage(vpn);
      const cached = vma.object.pages.get(idx);
      if (cached !== undefined) return [this.frames.contentId.get(cached), this.frames.contentPage.get(cached)];
      return [vma.object.initContent, idx];
    }
    const pfn = t.pfn[s]!;
    return [this.frames.contentId.get(pfn), this.frames.contentPage.get(pfn)];
  }

  /**
   * Bytes the process would read at [addr, addr + count) without faulting (the debugger's
   * memory view). Stops at the first unmapped page: `bytes` holds the readable prefix.
   */
  readBytes(mm: Mm, addr: number, count: number): Uint8Array {
    const out = new Uint8Array(count);
    const words = new Int32Array(WORDS_PER_PAGE);
    const bytes = new Uint8Array(words.buffer);
    let done = 0;
    while (done < count) {
      const a = addr + done;
      const vpn = Math.floor(a / PAGE_SIZE);
      const c = this.pageContent(mm, vpn);
      if (c === undefined) return out.subarray(0, done);
      this.contents.fill(c[0], c[1], words);
      const off = a - vpn * PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, count - done);
      out.set(bytes.subarray(off, off + n), done);
      done += n;
    }
    return out;
  }

  /**
   * Write bytes as ptrace/`/proc/pid/mem` does: each page is faulted in for writing through GUP
   * (a device-private page comes back to system memory), then its bytes change. Returns the
   * count written (less than asked where a page cannot be written).
   */
  *writeBytes(mm: Mm, addr: number, data: Uint8Array): Step<number> {
    let done = 0;
    while (done < data.length) {
      const a = addr + done;
      const vpn = Math.floor(a / PAGE_SIZE);
      const pfn = yield* gupFaultIn(this, mm, vpn, { write: true });
      if (pfn < 0) return done;
      const off = a - vpn * PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, data.length - done);
      const words = new Int32Array(WORDS_PER_PAGE);
      this.contents.fill(this.frames.contentId.get(pfn), this.frames.contentPage.get(pfn), words);
      new Uint8Array(words.buffer).set(data.subarray(done, done + n), off);
      const id = this.contents.withWords(0, 0, 0, words);
      this.frames.contentId.set(pfn, id);
      this.frames.contentPage.set(pfn, 0);
      const t = mm.pt.lookup(vpn)!;
      setExpected(t, pteIndex(vpn), mm.vmas.find(vpn)?.isShared ? -1 : id, 0);
      this.contentChanged(vpn);
      done += n;
    }
    return done;
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
    const problems = checkInvariants(this);
    if (problems.length > 0) {
      for (const p of problems) this.emit('-', 0, 0, { kind: 'invariant', message: p });
      throw new SimError(`invariant violated: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`);
    }
  }

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
      notifierRecords: this.notifierRecords.save(),
      bindings: [...this.bindings],
      reservations: this.reservations.slice(),
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
    this.notifierRecords.load(s.notifierRecords);
    this.bindings.clear();
    for (const [k, v] of s.bindings) this.bindings.set(k, v);
    this.reservations.length = 0;
    this.reservations.push(...s.reservations);
    this.step = s.step;
    this.loc = s.loc;
    this.nextMmId = s.nextMmId;
    this.pendingMigrations.length = s.pendingMigrations;
    this.gpu.load(s.gpu);
    this.prefetcherEnabled = s.prefetcherEnabled;
    this.currentJob = undefined;
  }

  /** Run a step to its end (no pausing). */
  run<T>(g: Step<T>): T {
    return drain(g);
  }

  get bytesUsed(): number {
    let pt = 0;
    for (const mm of this.mms) pt += mm.pt.bytes;
    return this.frames.bytes + pt;
  }
}
