// lib/test_hmm.c: the reference driver. One mirror per (process, device), opened on first use
// (mirror.ts: its device page table and interval notifier); the HMM_DMIRROR_* commands that
// fault, migrate, snapshot and make exclusive through it; migrate_to_ram and page_free.

import {
  ADDRESS_SPACE_PAGES, EBUSY, EFAULT, EINVAL, ENOENT, EPERM, HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL,
  HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE, HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL, HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE,
  HMM_DMIRROR_PROT_ERROR, HMM_DMIRROR_PROT_NONE, HMM_DMIRROR_PROT_PMD, HMM_DMIRROR_PROT_READ, HMM_DMIRROR_PROT_WRITE,
  HMM_DMIRROR_PROT_ZERO, HMM_PFN_ERROR, HMM_PFN_REQ_FAULT, HMM_PFN_REQ_WRITE, HMM_PFN_VALID, HMM_PFN_WRITE,
  HPAGE_PMD_NR, HPAGE_PMD_ORDER, MIGRATE_PFN_COMPOUND, MIGRATE_PFN_VALID, MIGRATE_PFN_WRITE,
  MIGRATE_VMA_SELECT_COMPOUND, MIGRATE_VMA_SELECT_DEVICE_COHERENT, MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
  MIGRATE_VMA_SELECT_SYSTEM, PAGE_SIZE, PTRS_PER_PTE, VM_FAULT_OK, VM_FAULT_OOM, VM_FAULT_SIGBUS,
} from './constants';
import { PageContents } from './content';
import { HmmRange, hmmRangeFault } from './hmm';
import type { Device, VmFault } from './memremap';
import {
  type MigrateMachine, MigrateVma, migrateDeviceRange, migrateVmaFinalize, migrateVmaPages, migrateVmaSetup, migrateVmaSplitCompound,
  levelOfRun, sourceRun,
} from './migrateDevice';
import type { Mm } from './mm';
import {
  MmuIntervalNotifier, type MmuNotifierRange, mmuIntervalNotifierInsert,
  mmuIntervalNotifierRemove, mmuIntervalReadBegin, mmuIntervalReadRetry, mmuIntervalSetSeq,
} from './mmuNotifier';
import { NotifierLog } from './notifierLog';
import { forEachFrameRun, NO_PFN, PG_ANON, PG_ANON_EXCLUSIVE, PG_FILE, PG_HUGETLB, PG_LARGE_HEAD, PG_LARGE_TAIL, PG_TAIL, Zone, ZERO_PFN } from './page';
import { rangeBatching } from './batching';
import { Pte, pteIndex, setExpected } from './pgtable';
import { KernelHang, KernelOops } from './oops';
import { gupFaultIn } from './gup';
import { Dmirror, type DmirrorState, Dpt, type DptPage } from './mirror';
import { folioMakeDeviceExclusive, makeDeviceExclusive } from './rmap';
import { kernelFrame, pushFrame, type KernelWork } from './kernelWork';
import { copyTimeNs, linkGBps } from './timing';
import { VM_READ, VM_WRITE } from './vma';
import { ScratchInt32, ScratchUint8 } from './scratch';
import { chunkRoom, FieldRuns } from './frameStore';

/** mapBaseRun's tags. */
const mapTags = new ScratchUint8();

/** copyRunToDevice's and copyRunToSystem's new frames (neither calls the other). */
const runDst = new ScratchInt32();
/** copyRunToDevice's flags of the new pages, written a run of frames at a time. */
const newFlags = new FieldRuns();

/** dmirror's 1000 ms deadline, counted in hmm_range_fault attempts. */
const MAX_RANGE_FAULT_ATTEMPTS = 1000;

/** Result of one HMM_DMIRROR_* command, as struct hmm_dmirror_cmd comes back. */
export interface DmirrorResult {
  rc: number;
  cpages: number;
  faults: number;
  data?: PageContents;
  flags?: Uint8Array;
}

function errorResult(rc: number): DmirrorResult {
  return { rc, cpages: 0, faults: 0 };
}

/** Device pages a MIGRATE_TO_SYS chunk moves (cpages counts sources, not holes). */
function migratedDevicePages(args: MigrateVma): number {
  let n = 0;
  for (let i = 0; i < args.npages; i++) {
    if (args.migrating(i) && (args.srcFlags[i]! & MIGRATE_PFN_VALID)) n += (args.srcFlags[i]! & MIGRATE_PFN_COMPOUND) ? HPAGE_PMD_NR : 1;
  }
  return n;
}

/** 6.12's dmirror_exclusive: make_device_exclusive_range over 64 pages at a time. */
const EXCLUSIVE_CHUNK = 64;

/** One mirror per (process, device), created on first use (open of /dev/hmm_dmirrorN). */
export class DmirrorDriver {
  readonly mirrors: Dmirror[] = [];
  /** Every notifier callback of every mirror, per statement (`expect notified`). */
  readonly notifierRecords = new NotifierLog<Dmirror>();
  private nextId = 1;
  private readonly dptPagePool: DptPage[] = [];
  constructor(private readonly sim: MigrateMachine) {}

  save(): { mirrors: DmirrorState[]; nextId: number } {
    return { mirrors: this.mirrors.map((m) => m.save()), nextId: this.nextId };
  }

  load(s: { mirrors: DmirrorState[]; nextId: number }): void {
    this.mirrors.length = 0;
    for (const ms of s.mirrors) {
      ms.mirror.load(ms);
      this.mirrors.push(ms.mirror);
    }
    this.nextId = s.nextId;
  }

  mirrorOf(mm: Mm, device: Device): Dmirror | undefined {
    return this.mirrors.find((m) => m.mm === mm && m.device === device);
  }

  /** dmirror_fops_open: a device page table and an interval notifier on the opener's mm. */
  open(mm: Mm, device: Device): Dmirror {
    const existing = this.mirrorOf(mm, device);
    if (existing) return existing;
    const m = new Dmirror(this.sim, this.nextId++, device, mm, this.dptPagePool, this.notifierRecords);
    mmuIntervalNotifierInsert(m.notifier, mm, 0, ADDRESS_SPACE_PAGES);
    this.mirrors.push(m);
    return m;
  }

  /**
   * Mirrors of `device` other than `owner`: a GPU job's device (a real driver, which maps its
   * own page in place) drops its mapping of a device page that leaves, whoever migrates it.
   */
  private otherMirrors(device: Device, owner: Dmirror | undefined): Dmirror[] {
    return this.mirrors.filter((x) => x.device === device && x !== owner);
  }

  /**
   * Drop the device mappings of the n pages of migration entry i (a base page or a THP).
   * test_hmm (dmirror_devmem_fault_alloc_and_copy) erases in `owner` only, at the migrating
   * address, whatever it maps there: the page's owner for a CPU fault (the mirror that migrated
   * it, rpage->zone_device_data, though the faulting process may be another one), MIGRATE_TO_SYS's
   * own mirror otherwise. Another process's mirror loses its entry through try_to_migrate's rmap
   * walk (MMU_NOTIFY_CLEAR, migrateDevice.ts); the faulting process's own mirror of the device
   * skips the collect's MMU_NOTIFY_MIGRATE (owner match), so a device-private page that a
   * dmirror ioctl stored as it is (a raw entry, see doFault) stays there. What a GPU job mapped
   * in place (`others`, never raw) goes, as a real driver would see to.
   */
  private dropMigratedEntry(owner: Dmirror | undefined, others: readonly Dmirror[], args: MigrateVma, i: number, n: number): void {
    const idx0 = Math.floor(args.start / PTRS_PER_PTE);
    const s0 = pteIndex(args.start) + i;
    const src = args.src[i]!;
    for (let k = 0; k < n; k++) {
      const s = s0 + k;
      const idx = idx0 + Math.floor(s / PTRS_PER_PTE);
      const slot = pteIndex(s);
      owner?.eraseSlot(idx, slot, NO_PFN);
      for (let j = 0; j < others.length; j++) {
        const o = others[j]!;
        if (o.pt.get(idx)?.raw?.[slot] !== 1) o.eraseSlot(idx, slot, src + k);
      }
    }
  }

  byId(id: number): Dmirror | undefined {
    return this.mirrors.find((m) => m.id === id);
  }

  // ---- helpers ----------------------------------------------------------------------------

  /** Copy a page's contents (its bytes cost link time) from src to dst. */
  private copyPage(src: number, dst: number): void {
    const f = this.sim.frames;
    if (src === NO_PFN || f.zone.get(src) === Zone.ZERO) {
      f.contentId.set(dst, 0);
      f.contentPage.set(dst, 0);
    } else {
      f.contentId.set(dst, f.contentId.get(src));
      f.contentPage.set(dst, f.contentPage.get(src));
    }
  }

  /** Read [start, end) from the dpt without faulting (dmirror_do_read); stops at a missing entry. */
  private doRead(m: Dmirror, end: number, out: PageContents, from: number): number {
    const f = this.sim.frames;
    let v = from;
    while (v < end) {
      const p = m.pt.get(Math.floor(v / PTRS_PER_PTE));
      if (p === undefined) return v;
      // Slots of this dpt page as small integers (a vpn is beyond 2^31: no arithmetic on it per page).
      const first = pteIndex(v);
      const stop = Math.min(PTRS_PER_PTE, first + (end - v));
      let s = first;
      // A form's entries map frames one after the other: a run of them whose contents are one
      // line (one id, pages climbing slot by slot) is appended at once.
      if (p.isForm && p.raw === undefined && s >= p.formLo && s < p.formHi && rangeBatching()) s = this.readFormRun(p, s, Math.min(stop, p.formHi), out);
      for (; s < stop; s++) {
        if (p.tagAt(s) === Dpt.NONE) break;
        if (p.raw !== undefined && p.raw[s] === 1) throw this.rawEntryOops(m, v + (s - first), false);
        const pfn = p.pfnAt(s);
        out.append(f.contentId.get(pfn), f.contentPage.get(pfn));
      }
      v += s - first;
      if (s < stop) return v;
    }
    return v;
  }


  /**
   * doRead's loop over slots [s, e) of form page `p` (all mapped), a chunk of frames at a time:
   * frames whose contents read one id and pages climbing with the slots go as one run. Returns e.
   */
  private readFormRun(p: DptPage, s: number, e: number, out: PageContents): number {
    const ids = this.sim.frames.contentId;
    const pages = this.sim.frames.contentPage;
    const step = p.formStep;
    while (s < e) {
      const pfn0 = p.pfnAt(s);
      // The piece of the form's line in pfn0's chunk: frames [lo, lo + n), walked from pfn0 by step.
      const n = Math.min(e - s, chunkRoom(pfn0, step));
      const last = pfn0 + (n - 1) * step;
      const lo = step === 1 ? pfn0 : last;
      const hi = lo + n;
      const id = n > 1 ? ids.levelOf(lo, hi) : undefined;
      const page0 = pages.get(pfn0);
      if (id !== undefined && pages.isLine(lo, hi) && pages.get(last) === page0 + n - 1) {
        out.appendRun(id, page0, n);
      } else {
        for (let k = 0, pfn = pfn0; k < n; k++, pfn += step) out.append(ids.get(pfn), pages.get(pfn));
      }
      s += n;
    }
    return e;
  }

  /** dmirror_range_fault: the documented hmm_range_fault retry loop for one chunk. */
  private *rangeFault(m: Dmirror, range: HmmRange): KernelWork<number> {
    for (let attempt = 0; ; attempt++) {
      if (attempt >= MAX_RANGE_FAULT_ATTEMPTS) return -EBUSY;
      range.notifierSeq = mmuIntervalReadBegin(m.notifier);
      const rc = yield* hmmRangeFault(this.sim, range);
      if (rc === -EBUSY) {
        this.sim.stats.hmmRetries++;
        continue;
      }
      if (rc) return rc;
      // Under the driver lock: a collision since read_begin means start again.
      if (mmuIntervalReadRetry(m.notifier, range.notifierSeq)) {
        this.sim.stats.hmmRetries++;
        continue;
      }
      return 0;
    }
  }

  /** dmirror_fault: fault [start, end) into the dpt, chunk by chunk. */
  private *fault(m: Dmirror, start: number, end: number, write: boolean): KernelWork<number> {
    const stats = this.sim.deviceStats(m.device);
    const cost = this.sim.timing.faultBatchNs + this.sim.timing.faultPerPageNs * (end - start);
    stats.faults++;
    stats.faultBatches++;
    stats.faultPages += end - start;
    stats.faultNs += cost;
    this.sim.clock.advance(cost);
    // The fault is taken here, before it is serviced: a debugger stopping on it (at the frame
    // below) shows the pages as the device found them. Its result is filled in afterwards.
    const taken = this.sim.emit(m.mm.name, start, end, { kind: 'deviceFault', device: m.device.name, write, rc: 0, retries: 0, pages: end - start });
    let rc: number;
    yield pushFrame(this.sim.kstack, kernelFrame('dmirror_fault', () => `${m.label} ${this.sim.describeRange(start, end)}${write ? ' write' : ''}`));
    try {
      rc = yield* this.faultChunks(m, start, end, write, true);
    } finally {
      this.sim.kstack.pop();
    }
    if (taken.kind === 'deviceFault') taken.rc = rc;
    return rc;
  }

  /** `ioctl`: test_hmm's READ/WRITE commands, which crash on their own device-private pages (see doFault). */
  private *faultChunks(m: Dmirror, start: number, end: number, write: boolean, ioctl: boolean): KernelWork<number> {
    for (let addr = start; addr < end; ) {
      const next = Math.min(addr + this.sim.profile.faultChunk, end);
      const range = new HmmRange(m.notifier, addr, next, HMM_PFN_REQ_FAULT | (write ? HMM_PFN_REQ_WRITE : 0), 0, m.device);
      const rc = yield* this.rangeFault(m, range);
      if (rc) return rc;
      const rcStore = this.doFault(m, range, write, ioctl);
      if (rcStore) return rcStore;
      this.emitMappings(m, addr, next);
      addr = next;
    }
    return 0;
  }

  /**
   * dmirror_do_fault: store each page, tagged WRITE iff HMM_PFN_WRITE. test_hmm stores the struct
   * page hmm_range_fault returns as it is; for a page in this device's own private memory (the
   * owner matches, so it is not faulted back) that is the device-private page itself, where
   * migration stores the system page backing it: a `raw` entry. Nothing fails yet; the copy
   * through it (dmirror_do_read / dmirror_do_write, after every chunk is faulted) does, see
   * rawEntryOops. GPU jobs model a real driver, which maps its own page in place (`ioctl` false).
   */
  private doFault(m: Dmirror, range: HmmRange, write: boolean, ioctl: boolean): number {
    const f = this.sim.frames;
    for (let i = 0; i < range.end - range.start; i++) {
      const fl = range.flags[i]!;
      if (write && (fl & HMM_PFN_WRITE) === 0) return -EFAULT;
      const pfn = range.pfns[i]!;
      const raw = ioctl && f.zone.get(pfn) === Zone.DEVICE_PRIVATE;
      m.store(range.start + i, pfn, (fl & HMM_PFN_WRITE) !== 0 ? Dpt.WRITE : Dpt.READ, raw);
    }
    return 0;
  }

  /**
   * memcpy_from_page / memcpy_to_page through a raw entry (see doFault): a device-private page
   * has no kernel mapping, so the copy faults and Linux oopses (seen on 6.12 in the VM;
   * mainline's test_hmm.c is the same). Pages before it in the range were already copied.
   */
  private rawEntryOops(m: Dmirror, vpn: number, write: boolean): KernelOops {
    const fn = write ? 'dmirror_do_write' : 'dmirror_do_read';
    const copy = `${write ? 'memcpy_to_page' : 'memcpy_from_page'} of a page the CPU cannot address faults (BUG: unable to handle page fault)`;
    const where = this.sim.describeRange(vpn, vpn + 1);
    const t = m.mm.pt.lookup(vpn);
    const s = pteIndex(vpn);
    const d = m.pt.get(Math.floor(vpn / PTRS_PER_PTE));
    if (t === undefined || d === undefined || t.kind[s] !== Pte.DEVICE_PRIVATE || t.pfn[s] !== d.pfn[s]) {
      // The page left the device since (a CPU fault in this process migrated it back: its
      // MMU_NOTIFY_MIGRATE names the device as owner, so this mirror kept the entry).
      return new KernelOops(fn, `${m.device.name}'s mirror still holds, at ${where}, the device-private page a device fault ` +
        `stored there as it is (hmm_range_fault, owner ${m.device.name}; dmirror_do_fault), though the page has left the device since ` +
        `(a CPU fault migrated it back, and the migration's notifier spared this mirror as the device's own): ${copy}`);
    }
    return new KernelOops(fn, `${where} is in ${m.device.name}'s own private memory and ` +
      `${m.device.name}'s mirror holds the device-private page itself: a device fault after its mirror lost the page ` +
      `got it from hmm_range_fault as it is (owner ${m.device.name}), dmirror_do_fault stored it, and ${copy}. ` +
      `Migrate the range to the device again, or back to system memory, before the device touches it`);
  }

  /** One `mirror` event per run of equal tags in [start, end): what the device now maps. */
  private emitMappings(m: Dmirror, start: number, end: number): void {
    // Walk by offset from start (small integers), not by vpn.
    const idx0 = Math.floor(start / PTRS_PER_PTE);
    const s0 = pteIndex(start);
    const n = end - start;
    const one = s0 + n <= PTRS_PER_PTE ? m.pageAt(idx0) : undefined;
    if (s0 + n <= PTRS_PER_PTE && one === undefined) return; // no dpt page: nothing mapped
    let runStart = 0;
    let prev = m.tagAtSlot(idx0, s0);
    for (let j = 1; j <= n; j++) {
      const s = s0 + j;
      // Within one dpt page its tags are read directly (one lookup, not one per slot).
      const tag = j >= n ? -1 : one !== undefined ? one.tagAt(s) : m.tagAtSlot(idx0 + Math.floor(s / PTRS_PER_PTE), pteIndex(s));
      if (tag === prev) continue;
      if (prev !== Dpt.NONE) {
        const what = prev === Dpt.WRITE ? 'map-write' : prev === Dpt.ATOMIC ? 'map-atomic' : 'map-read';
        this.sim.emit(m.mm.name, start + runStart, start + j, { kind: 'mirror', device: m.device.name, what }, m.mappingKey(what));
      }
      runStart = j;
      prev = tag as Dpt;
    }
  }


  // ---- commands ---------------------------------------------------------------------------

  /** HMM_DMIRROR_READ. */
  *read(m: Dmirror, start: number, npages: number): KernelWork<DmirrorResult> {
    if (npages <= 0) return errorResult(-EINVAL);
    const end = start + npages;
    const data = new PageContents();
    let faults = 0;
    let pos = start;
    for (;;) {
      pos = this.doRead(m, end, data, pos);
      if (pos >= end) break;
      const rc = yield* this.fault(m, pos, end, false);
      if (rc) return errorResult(rc);
      faults++;
    }
    return { rc: 0, cpages: npages, faults, data };
  }

  /** HMM_DMIRROR_WRITE: the device writes `pattern` through its page table. */
  *write(m: Dmirror, start: number, npages: number, contentId: number, mapStart: number): KernelWork<DmirrorResult> {
    if (npages <= 0) return errorResult(-EINVAL);
    const end = start + npages;
    let faults = 0;
    let pos = start;
    for (;;) {
      pos = this.doWrite(m, pos, end, contentId, mapStart);
      if (pos >= end) break;
      const rc = yield* this.fault(m, pos, end, true);
      if (rc) return errorResult(rc);
      faults++;
    }
    return { rc: 0, cpages: npages, faults };
  }

  /** dmirror_do_write: write through WRITE entries from `pos` on; returns where it stopped. */
  private doWrite(m: Dmirror, pos: number, end: number, contentId: number, mapStart: number): number {
    const f = this.sim.frames;
    for (; pos < end; pos++) {
      if (m.tagAt(pos) !== Dpt.WRITE) break;
      if (m.rawAt(pos)) throw this.rawEntryOops(m, pos, true);
      const pfn = m.pfnAt(pos);
      f.contentId.set(pfn, contentId);
      f.contentPage.set(pfn, pos - mapStart);
      this.noteCpuView(m.mm, pos, contentId, pos - mapStart);
      this.sim.contentChanged(pos);
    }
    return pos;
  }

  /** The process now reads what the device wrote (for the data invariant). */
  private noteCpuView(mm: Mm, vpn: number, id: number, page: number): void {
    const t = mm.pt.lookup(vpn);
    const vma = mm.vmas.find(vpn);
    if (t !== undefined) setExpected(t, pteIndex(vpn), vma?.isShared ? -1 : id, page);
  }

  /** Fault [start, end) into the device page table without counting a command's fault (kernels). */
  faultRange(m: Dmirror, start: number, end: number, write: boolean): KernelWork<number> {
    return this.faultChunks(m, start, end, write, false);
  }

  /** Migrate [start, end) to the device or back for a kernel fault or a prefetch (no dpt read). */
  *migrateRange(m: Dmirror, start: number, end: number, toDevice: boolean, cause: string): KernelWork<number> {
    return yield* this.migrateChunks(m, start, end - start, toDevice, cause);
  }

  /** Device-exclusive entries for a kernel's atomics on pages that stay in system memory. */
  *makeExclusive(m: Dmirror, start: number, end: number): KernelWork<number> {
    for (let v = start; v < end; v++) {
      const pfn = yield* makeDeviceExclusive(this.sim, m.mm, v, null, m.device);
      if (pfn < 0) return pfn;
      m.store(v, pfn, Dpt.ATOMIC);
    }
    this.emitMappings(m, start, end);
    return 0;
  }

  private *migrateChunks(m: Dmirror, start: number, npages: number, toDevice: boolean, cause?: string): KernelWork<number> {
    const mm = m.mm;
    const end = start + npages;
    let cpages = 0;
    for (let addr = start; addr < end; ) {
      const vma = mm.vmas.find(addr);
      if (vma === undefined || (vma.flags & VM_READ) === 0) return -EINVAL;
      const next = Math.min(end, addr + this.sim.profile.migrateChunk, vma.end);
      const dev = m.device;
      const select = toDevice
        ? MIGRATE_VMA_SELECT_SYSTEM
        : dev.type === 'private' ? MIGRATE_VMA_SELECT_DEVICE_PRIVATE : MIGRATE_VMA_SELECT_DEVICE_COHERENT;
      const compoundOk = this.sim.profile.deviceThp ? MIGRATE_VMA_SELECT_COMPOUND : 0;
      const args = new MigrateVma(mm, addr, next, select | compoundOk, dev, NO_PFN, cause ?? (toDevice ? 'migrate' : 'migrate-to-system'));
      const rc = yield* migrateVmaSetup(this.sim, args);
      if (rc) return rc;
      if (toDevice) this.allocAndCopyToDevice(m, args);
      else this.allocAndCopyToSystem(m, args);
      yield* migrateVmaPages(this.sim, args);
      if (toDevice) this.finalizeAndMap(m, args);
      else cpages += migratedDevicePages(args);
      yield* migrateVmaFinalize(this.sim, args);
      args.release();
      addr = next;
    }
    return toDevice ? 0 : cpages;
  }

  /** dmirror_migrate_alloc_and_copy. */
  private allocAndCopyToDevice(m: Dmirror, args: MigrateVma): void {
    const f = this.sim.frames;
    let bytes = 0;
    for (let i = 0; i < args.npages; i++) {
      if (!args.migrating(i)) continue;
      if (rangeBatching() && !m.failAlloc) {
        const n = this.systemSourceRun(args, i);
        if (n > 1 && n <= m.device.freePages) {
          this.copyRunToDevice(m, args, i, n);
          bytes += n * PAGE_SIZE;
          i += n - 1;
          continue;
        }
      }
      const src = args.src[i]!;
      if (src !== NO_PFN && (f.zone.get(src) === Zone.DEVICE_PRIVATE || f.zone.get(src) === Zone.DEVICE_COHERENT)) {
        args.markSkip(i, 'already-on-device');
        continue;
      }
      let compound = (args.srcFlags[i]! & MIGRATE_PFN_COMPOUND) !== 0;
      let dpage = this.allocDevicePage(m, compound ? 9 : 0);
      if (dpage === NO_PFN && compound) {
        // The THP allocation failed: fall back to base pages; the source folio is split.
        migrateVmaSplitCompound(this.sim, args, i);
        compound = false;
        dpage = this.allocDevicePage(m, 0);
      }
      if (dpage === NO_PFN) continue;
      const n = compound ? HPAGE_PMD_NR : 1;
      for (let k = 0; k < n; k++) this.copyPage(src === NO_PFN ? NO_PFN : src + k, dpage + k);
      f.deviceData.set(dpage, m.id);
      // Anonymous, and exclusively owned as its source was (a migrated hole or zero page is new:
      // folio_add_new_anon_rmap), so mprotect may make it writable (can_change_pte_writable).
      f.flags.set(dpage, f.flags.get(dpage) | PG_ANON | (src === NO_PFN ? PG_ANON_EXCLUSIVE : f.flags.get(src) & PG_ANON_EXCLUSIVE));
      args.dst[i] = dpage;
      // ≤ v6.18 a hole in a writable vma becomes a writable device page too.
      const holeWrite = src === NO_PFN && this.sim.profile.holeWritable && (args.vma!.flags & VM_WRITE) !== 0 ? MIGRATE_PFN_WRITE : 0;
      args.dstFlags[i] = MIGRATE_PFN_VALID | (args.srcFlags[i]! & MIGRATE_PFN_WRITE) | holeWrite | (compound ? MIGRATE_PFN_COMPOUND : 0);
      bytes += n * PAGE_SIZE;
    }
    if (bytes > 0) this.sim.emit(m.mm.name, args.start, args.end, { kind: 'alloc', device: m.device.name, pages: bytes / PAGE_SIZE, what: 'alloc' }, m.allocKey);
    this.sim.clock.advance(this.sim.timing.dmaSetupNs + copyTimeNs(bytes, linkGBps(m.device.link, 'h2d')));
  }

  /** Entries from `i` migrating a base page of system memory (the common run of a migration to a device). */
  private systemSourceRun(args: MigrateVma, i: number): number {
    const f = this.sim.frames;
    let j = i;
    while (j < args.npages && args.migrating(j) && (args.srcFlags[j]! & MIGRATE_PFN_COMPOUND) === 0 && args.src[j] !== NO_PFN) {
      // Sources one after the other in one chunk: their zone read once for them all.
      const n = sourceRun(args, j, MIGRATE_PFN_COMPOUND);
      if (n > 1 && levelOfRun(f.zone, args.src, j, n) === Zone.SYSTEM) {
        j += n;
        continue;
      }
      // Else one at a time (every other condition holds over the n: sourceRun).
      const stop = j + n;
      while (j < stop && f.zone.get(args.src[j]!) === Zone.SYSTEM) j++;
      if (j < stop) break;
    }
    return j - i;
  }

  /**
   * What the loop of allocAndCopyToDevice does for the `n` entries from `i` (systemSourceRun),
   * with `n` device pages free: their pages allocated at once, then copied.
   */
  private copyRunToDevice(m: Dmirror, args: MigrateVma, i: number, n: number): void {
    const f = this.sim.frames;
    const dst = runDst.get(n);
    m.device.allocBaseRun(f, n, dst);
    f.copyContents(args.src, i, dst, n);
    const flags = newFlags.begin(f.flags);
    const src = args.src;
    for (let k = 0; k < n;) {
      // Sources one after the other in one chunk: their flags read once when they are level.
      const a = src[i + k]!;
      const step = k + 1 < n ? src[i + k + 1]! - a : 0;
      let len = 1;
      if (step === 1 || step === -1) {
        const limit = Math.min(n - k, chunkRoom(a, step));
        for (let want = a + step; len < limit && src[i + k + len] === want; want += step) len++;
      }
      const level = len > 1 ? f.flags.levelOf(Math.min(a, a + (len - 1) * step), Math.max(a, a + (len - 1) * step) + 1) : undefined;
      // A new device page's flags are 0 (initFrame): anonymous, exclusive as its source was.
      if (level !== undefined) for (let j = 0; j < len; j++) flags.put(dst[k + j]!, PG_ANON | (level & PG_ANON_EXCLUSIVE));
      else for (let j = 0; j < len; j++) flags.put(dst[k + j]!, PG_ANON | (f.flags.get(src[i + k + j]!) & PG_ANON_EXCLUSIVE));
      k += len;
    }
    args.dst.set(dst.subarray(0, n), i);
    for (let k = 0; k < n; k++) args.dstFlags[i + k] = MIGRATE_PFN_VALID | (args.srcFlags[i + k]! & MIGRATE_PFN_WRITE);
    flags.flush();
    forEachFrameRun(dst, n, undefined, (_k, _len, _a, _step, lo, hi) => f.deviceData.fill(lo, hi, m.id));
  }

  private allocDevicePage(m: Dmirror, order: 0 | 9): number {
    if (m.failAlloc) {
      // HMM_DMIRROR_FLAG_FAIL_ALLOC: the next allocation fails once.
      m.failAlloc = false;
      this.sim.emit(m.mm.name, 0, 0, { kind: 'alloc', device: m.device.name, pages: 1 << order, what: 'alloc-failed' });
      return NO_PFN;
    }
    const pfn = m.device.alloc(this.sim.frames, order);
    if (pfn < 0) {
      this.sim.emit(m.mm.name, 0, 0, { kind: 'alloc', device: m.device.name, pages: 1 << order, what: 'alloc-failed' }, `allocfail:${m.device.index}`);
      return NO_PFN;
    }
    return pfn;
  }

  /** dmirror_migrate_finalize_and_map: the dpt maps each migrated page, WRITE iff dst WRITE. */
  private finalizeAndMap(m: Dmirror, args: MigrateVma): void {
    const idx0 = Math.floor(args.start / PTRS_PER_PTE);
    const s0 = pteIndex(args.start);
    if (rangeBatching() && s0 + args.npages <= PTRS_PER_PTE && this.mapBaseRun(m, args, idx0, s0)) {
      this.emitMappings(m, args.start, args.end);
      return;
    }
    for (let i = 0; i < args.npages; i++) {
      if (!args.migrating(i) || args.dst[i] === NO_PFN) continue;
      const n = (args.dstFlags[i]! & MIGRATE_PFN_COMPOUND) !== 0 ? HPAGE_PMD_NR : 1;
      const tag = (args.dstFlags[i]! & MIGRATE_PFN_WRITE) !== 0 ? Dpt.WRITE : Dpt.READ;
      for (let k = 0; k < n; k++) {
        const s = s0 + i + k;
        m.storeSlot(idx0 + Math.floor(s / PTRS_PER_PTE), pteIndex(s), args.dst[i]! + k, tag);
      }
    }
    this.emitMappings(m, args.start, args.end);
  }

  /**
   * finalizeAndMap's loop for a chunk in one dpt page (slots from s0) migrating base pages only:
   * the tags worked out first, then stored at once (Dmirror.storeRun). False (nothing done)
   * when an entry is compound.
   */
  private mapBaseRun(m: Dmirror, args: MigrateVma, idx: number, s0: number): boolean {
    const n = args.npages;
    const tags = mapTags.zeroed(n);
    for (let i = 0; i < n; i++) {
      if (!args.migrating(i) || args.dst[i] === NO_PFN) continue;
      const fl = args.dstFlags[i]!;
      if ((fl & MIGRATE_PFN_COMPOUND) !== 0) return false;
      tags[i] = (fl & MIGRATE_PFN_WRITE) !== 0 ? Dpt.WRITE : Dpt.READ;
    }
    m.storeRun(idx, s0, n, args.dst, 0, tags);
    return true;
  }

  /** dmirror_devmem_fault_alloc_and_copy / MIGRATE_TO_SYS: system pages for device sources. */
  private allocAndCopyToSystem(m: Dmirror, args: MigrateVma): void {
    const f = this.sim.frames;
    const others = this.otherMirrors(m.device, m);
    let bytes = 0;
    for (let i = 0; i < args.npages; i++) {
      if (!args.migrating(i)) continue;
      if (rangeBatching()) {
        const n = this.deviceSourceRun(args, i);
        if (n > 1) {
          this.copyRunToSystem(m, others, args, i, n);
          bytes += n * PAGE_SIZE;
          i += n - 1;
          continue;
        }
      }
      const src = args.src[i]!;
      if (src === NO_PFN || (f.zone.get(src) !== Zone.DEVICE_PRIVATE && f.zone.get(src) !== Zone.DEVICE_COHERENT)) continue;
      let compound = (args.srcFlags[i]! & MIGRATE_PFN_COMPOUND) !== 0;
      if (compound && m.failAlloc) {
        m.failAlloc = false;
        migrateVmaSplitCompound(this.sim, args, i);
        compound = false;
      }
      const dst = f.allocSystem(compound ? 9 : 0, PG_ANON | PG_ANON_EXCLUSIVE);
      const n = compound ? HPAGE_PMD_NR : 1;
      this.dropMigratedEntry(m, others, args, i, n);
      for (let k = 0; k < n; k++) this.copyPage(src + k, dst + k);
      args.dst[i] = dst;
      args.dstFlags[i] = MIGRATE_PFN_VALID | (args.srcFlags[i]! & MIGRATE_PFN_WRITE) | (compound ? MIGRATE_PFN_COMPOUND : 0);
      bytes += n * PAGE_SIZE;
    }
    this.sim.clock.advance(this.sim.timing.dmaSetupNs + copyTimeNs(bytes, linkGBps(m.device.link, 'd2h')));
  }

  /** Entries from `i` migrating a base page of device memory (the common run of a migration back). */
  private deviceSourceRun(args: MigrateVma, i: number): number {
    const f = this.sim.frames;
    let j = i;
    while (j < args.npages && args.migrating(j) && (args.srcFlags[j]! & MIGRATE_PFN_COMPOUND) === 0 && args.src[j] !== NO_PFN) {
      // Sources one after the other in one chunk: their zone read once for them all.
      const n = sourceRun(args, j, MIGRATE_PFN_COMPOUND);
      const level = n > 1 ? levelOfRun(f.zone, args.src, j, n) : undefined;
      if (level === Zone.DEVICE_PRIVATE || level === Zone.DEVICE_COHERENT) {
        j += n;
        continue;
      }
      // Else one at a time (every other condition holds over the n: sourceRun).
      const stop = j + n;
      for (; j < stop; j++) {
        const zone = f.zone.get(args.src[j]!);
        if (zone !== Zone.DEVICE_PRIVATE && zone !== Zone.DEVICE_COHERENT) break;
      }
      if (j < stop) break;
    }
    return j - i;
  }

  /** What the loop of allocAndCopyToSystem does for the `n` entries from `i` (deviceSourceRun): system pages allocated at once. */
  private copyRunToSystem(m: Dmirror, others: readonly Dmirror[], args: MigrateVma, i: number, n: number): void {
    const f = this.sim.frames;
    const dst = runDst.get(n);
    f.allocSystemRun(n, PG_ANON | PG_ANON_EXCLUSIVE, dst);
    f.copyContents(args.src, i, dst, n);
    // No other mirror of the device: the calling one's entries go a dpt page at a time (xa_erase of
    // each, as dropMigratedEntry does page by page).
    if (others.length === 0) m.erase(args.start + i, args.start + i + n);
    else for (let k = 0; k < n; k++) this.dropMigratedEntry(m, others, args, i + k, 1);
    args.dst.set(dst.subarray(0, n), i);
    for (let k = 0; k < n; k++) args.dstFlags[i + k] = MIGRATE_PFN_VALID | (args.srcFlags[i + k]! & MIGRATE_PFN_WRITE);
  }

  /** HMM_DMIRROR_MIGRATE_TO_DEV, then a dpt read of the range without faulting. */
  *migrateToDevice(m: Dmirror, start: number, npages: number): KernelWork<DmirrorResult> {
    if (npages <= 0) return errorResult(-EINVAL);
    const rc = yield* this.migrateChunks(m, start, npages, true);
    if (rc < 0) return errorResult(rc);
    const data = new PageContents();
    const pos = this.doRead(m, start + npages, data, start);
    if (pos < start + npages) return errorResult(-ENOENT);
    return { rc: 0, cpages: npages, faults: 0, data };
  }

  /** HMM_DMIRROR_MIGRATE_TO_SYS. */
  *migrateToSystem(m: Dmirror, start: number, npages: number): KernelWork<DmirrorResult> {
    if (npages <= 0) return errorResult(-EINVAL);
    const rc = yield* this.migrateChunks(m, start, npages, false);
    if (rc < 0) return errorResult(rc);
    return { rc: 0, cpages: rc, faults: 0 };
  }

  /** HMM_DMIRROR_SNAPSHOT: hmm_range_fault without faulting; one byte per page. */
  *snapshot(m: Dmirror, start: number, npages: number): KernelWork<DmirrorResult> {
    if (npages <= 0) return errorResult(-EINVAL);
    const out = new Uint8Array(npages);
    let cpages = 0;
    for (let addr = start; addr < start + npages; ) {
      const next = Math.min(addr + this.sim.profile.faultChunk, start + npages);
      // A temporary interval notifier over exactly the chunk, whose invalidate only bumps the seq.
      const tmp = new MmuIntervalNotifier<Mm>(addr, next, {
        *invalidate(sub: MmuIntervalNotifier, _r: MmuNotifierRange, cur: number): KernelWork<boolean> {
          mmuIntervalSetSeq(sub, cur);
          return true;
        },
      }, `${m.device.name}(snapshot)`);
      mmuIntervalNotifierInsert(tmp, m.mm, addr, next - addr);
      const range = new HmmRange(tmp, addr, next, 0, 0, m.device);
      let rc = 0;
      for (let attempt = 0; ; attempt++) {
        if (attempt >= MAX_RANGE_FAULT_ATTEMPTS) { rc = -EBUSY; break; }
        range.notifierSeq = mmuIntervalReadBegin(tmp);
        rc = yield* hmmRangeFault(this.sim, range);
        if (rc === -EBUSY) continue;
        if (rc === 0 && mmuIntervalReadRetry(tmp, range.notifierSeq)) continue;
        break;
      }
      mmuIntervalNotifierRemove(tmp);
      if (rc) return errorResult(rc);
      for (let i = 0; i < next - addr; i++) out[addr - start + i] = this.mkentry(m, range.pfns[i]!, range.flags[i]!, range.order[i]!);
      cpages += next - addr;
      addr = next;
    }
    return { rc: 0, cpages, faults: 0, flags: out };
  }

  /** dmirror_mkentry. */
  private mkentry(m: Dmirror, pfn: number, flags: number, order: number): number {
    if (flags & HMM_PFN_ERROR) return HMM_DMIRROR_PROT_ERROR;
    if ((flags & HMM_PFN_VALID) === 0) return HMM_DMIRROR_PROT_NONE;
    const f = this.sim.frames;
    let v = 0;
    const zone = f.zone.get(pfn) as Zone;
    const local = f.device.get(pfn) === m.device.index;
    if (zone === Zone.DEVICE_PRIVATE) v = local ? HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL : HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE;
    else if (zone === Zone.DEVICE_COHERENT) v = local ? HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL : HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE;
    // is_zero_pfn: only the 4 KiB zero page; the huge zero page reports no ZERO bit.
    else if (zone === Zone.ZERO && pfn === ZERO_PFN) v = HMM_DMIRROR_PROT_ZERO;
    v |= (flags & HMM_PFN_WRITE) !== 0 ? HMM_DMIRROR_PROT_WRITE : HMM_DMIRROR_PROT_READ;
    if (order === HPAGE_PMD_ORDER) v |= HMM_DMIRROR_PROT_PMD;
    return v;
  }

  /** HMM_DMIRROR_EXCLUSIVE: make_device_exclusive per page, an ATOMIC dpt entry, then a dpt read. */
  *exclusive(m: Dmirror, start: number, npages: number): KernelWork<DmirrorResult> {
    if (npages <= 0) return errorResult(-EINVAL);
    if (!this.sim.profile.exclusivePerPage) return yield* this.exclusiveRange(m, start, npages);
    for (let v = start; v < start + npages; v++) {
      const pfn = yield* makeDeviceExclusive(this.sim, m.mm, v, null, m.device);
      if (pfn < 0) return errorResult(pfn);
      m.store(v, pfn, Dpt.ATOMIC);
    }
    this.emitMappings(m, start, start + npages);
    const data = new PageContents();
    const pos = this.doRead(m, start + npages, data, start);
    if (pos < start + npages) return errorResult(-ENOENT);
    return { rc: 0, cpages: npages, faults: 0, data };
  }

  /**
   * 6.12's HMM_DMIRROR_EXCLUSIVE over make_device_exclusive_range, 64 pages at a time: GUP
   * (FOLL_WRITE | FOLL_SPLIT_PMD) gets the pages up to the first it cannot get; each anonymous
   * page that is not a THP tail goes through folio_make_device_exclusive's rmap walk (a THP
   * head's converts the ptes of its whole folio, rmap.ts); the driver maps the ones that did (ATOMIC) only when GUP got the whole
   * chunk, and answers -EBUSY unless all of them did. What was made exclusive stays so.
   */
  private *exclusiveRange(m: Dmirror, start: number, npages: number): KernelWork<DmirrorResult> {
    const f = this.sim.frames;
    const mm = m.mm;
    const end = start + npages;
    for (let addr = start; addr < end; ) {
      const next = Math.min(end, addr + EXCLUSIVE_CHUNK);
      const got: number[] = [];
      for (let v = addr; v < next; v++) {
        const hv = mm.vmas.find(v);
        if (hv !== undefined && hv.isHugetlb && (hv.flags & VM_WRITE) !== 0) {
          // GUP with FOLL_SPLIT_PMD on a hugetlb page (seen in the VM): it leaves a mapped huge
          // page as it was and one not mapped unmapped (the page it faulted in is dropped again).
          got.push(NO_PFN);
          continue;
        }
        const pfn = yield* gupFaultIn(this.sim, mm, v, { write: true, splitPmd: true });
        if (pfn < 0) break;
        got.push(pfn);
      }
      const made: boolean[] = [];
      for (let i = 0; i < got.length; i++) {
        const pfn = got[i]!;
        // A hugetlb page never becomes exclusive on 6.12 (seen in the VM: EBUSY).
        if (pfn === NO_PFN) {
          made.push(false);
          continue;
        }
        const fl = f.flags.get(pfn);
        if ((fl & (PG_LARGE_TAIL | PG_FILE | PG_HUGETLB)) !== 0 || (fl & PG_ANON) === 0) {
          made.push(false);
          continue;
        }
        // A large folio's head: the rmap walk converts the rest of the folio's ptes too.
        made.push(yield* folioMakeDeviceExclusive(this.sim, mm, addr + i, pfn, (fl & PG_LARGE_HEAD) !== 0 ? HPAGE_PMD_NR : 1, m.device));
      }
      let mapped = 0;
      if (got.length === next - addr) {
        for (let i = 0; i < got.length; i++) {
          if (!made[i]) continue;
          m.store(addr + i, got[i]!, Dpt.ATOMIC);
          mapped++;
        }
      }
      this.emitMappings(m, addr, next);
      if (addr + mapped < next) return errorResult(-EBUSY);
      addr = next;
    }
    const data = new PageContents();
    const pos = this.doRead(m, end, data, start);
    if (pos < end) return errorResult(-ENOENT);
    return { rc: 0, cpages: npages, faults: 0, data };
  }

  /** HMM_DMIRROR_CHECK_EXCLUSIVE: -EPERM while an ATOMIC entry remains. */
  checkExclusive(m: Dmirror, start: number, npages: number): DmirrorResult {
    if (npages <= 0) return errorResult(-EINVAL);
    for (let v = start; v < start + npages; v++) if (m.tagAt(v) === Dpt.ATOMIC) return errorResult(-EPERM);
    return { rc: 0, cpages: 0, faults: 0 };
  }

  /** HMM_DMIRROR_RELEASE and close: evict every page of the device to system memory. */
  *evictDevice(device: Device, cause: string): KernelWork<number> {
    const f = this.sim.frames;
    const pfns: number[] = [];
    for (const c of device.chunks) {
      for (let p = c.start; p < c.start + c.pages; p++) {
        if (f.zone.get(p) === device.zone && (f.flags.get(p) & PG_TAIL) === 0) pfns.push(p);
      }
    }
    if (pfns.length === 0) return 0;
    return yield* migrateDeviceRange(this.sim, device, pfns, cause);
  }

  /**
   * HMM_DMIRROR_RELEASE (dmirror_device_remove_chunks): evict every page, then memunmap_pages
   * waits until each page of the device's memory is free. A page the eviction could not take
   * (a device-exclusive coherent page, one with a leaked reference) is never freed: Linux waits
   * forever there.
   */
  *release(device: Device): KernelWork<number> {
    const evicted = yield* this.evictDevice(device, 'release');
    if (device.used > 0) {
      const f = this.sim.frames;
      const leaked = device.leakedRefs.values().next().value;
      let left = leaked ?? -1;
      for (const c of device.chunks) {
        for (let p = c.start; p < c.start + c.pages && left < 0; p++) if (f.zone.get(p) === device.zone) left = p;
      }
      const why = leaked !== undefined
        ? 'an eviction met it behind a device-exclusive entry and left it a reference nobody drops'
        : 'the eviction could not migrate it';
      throw new KernelHang('memunmap_pages', `RELEASE waits for ${device.name}'s ${device.used} page(s) still in use to be freed` +
        `${left >= 0 ? ` (device pfn ${left}: ${why})` : ''}; the ioctl never returns`);
    }
    return evicted;
  }

  /** Close the process's handle: remove the notifier, evict the device, drop the dpt. */
  *close(m: Dmirror): KernelWork<void> {
    mmuIntervalNotifierRemove(m.notifier);
    const i = this.mirrors.indexOf(m);
    if (i >= 0) this.mirrors.splice(i, 1);
    yield* this.evictDevice(m.device, 'close');
    m.erase(0, ADDRESS_SPACE_PAGES);
  }

  /** The pagemap's migrate_to_ram for a device page (a kernel frame of its own). */
  *migrateToRam(vmf: VmFault): KernelWork<number> {
    const device = this.sim.deviceOfPfn(vmf.pfn);
    yield pushFrame(this.sim.kstack, kernelFrame('migrate_to_ram', () => `${device.name} ${this.sim.describeRange(vmf.vpn, vmf.vpn + 1)}`));
    try {
      return yield* this.devmemFault(vmf, device);
    } finally {
      this.sim.kstack.pop();
    }
  }

  /** dmirror_devmem_fault. */
  private *devmemFault(vmf: VmFault, device: Device): KernelWork<number> {
    const sim = this.sim;
    const f = sim.frames;
    const mm = sim.mms.find((x) => x.id === vmf.mmId)!;
    const owner = this.byId(f.deviceData.get(f.head(vmf.pfn)));
    const t = mm.pt.lookup(vmf.vpn)!;
    // Newest: the whole device THP when it is PMD-mapped.
    const start = t.pmd ? vmf.vpn - (vmf.vpn % HPAGE_PMD_NR) : vmf.vpn;
    const end = t.pmd ? start + HPAGE_PMD_NR : vmf.vpn + 1;
    const select = (device.type === 'private' ? MIGRATE_VMA_SELECT_DEVICE_PRIVATE : MIGRATE_VMA_SELECT_DEVICE_COHERENT) |
      (sim.profile.deviceThp ? MIGRATE_VMA_SELECT_COMPOUND : 0);
    const args = new MigrateVma(mm, start, end, select, device, vmf.pfn, 'migrate_to_ram');
    const rc = yield* migrateVmaSetup(sim, args);
    if (rc) return VM_FAULT_SIGBUS;
    const m = owner ?? this.mirrors.find((x) => x.device === device);
    let bytes = 0;
    for (let i = 0; i < args.npages; i++) {
      if (!args.migrating(i) || args.src[i] === NO_PFN) continue;
      const src = args.src[i]!;
      const compound = (args.srcFlags[i]! & MIGRATE_PFN_COMPOUND) !== 0;
      const dst = f.allocSystem(compound ? 9 : 0, PG_ANON | PG_ANON_EXCLUSIVE);
      if (dst < 0) return VM_FAULT_OOM;
      const n = compound ? HPAGE_PMD_NR : 1;
      this.dropMigratedEntry(m, this.otherMirrors(device, m), args, i, n);
      for (let k = 0; k < n; k++) this.copyPage(src + k, dst + k);
      args.dst[i] = dst;
      args.dstFlags[i] = MIGRATE_PFN_VALID | (args.srcFlags[i]! & MIGRATE_PFN_WRITE) | (compound ? MIGRATE_PFN_COMPOUND : 0);
      bytes += n * PAGE_SIZE;
    }
    sim.clock.advance(copyTimeNs(bytes, linkGBps(device.link, 'd2h')));
    yield* migrateVmaPages(sim, args);
    yield* migrateVmaFinalize(sim, args);
    args.release();
    return VM_FAULT_OK;
  }

  /** dmirror_devmem_free: the backing page goes and the device page returns to the free list. */
  pageFree(_pfn: number): void {
    // Nothing to do beyond memremap's free-list handling: the model keeps data in the frame.
  }
}
