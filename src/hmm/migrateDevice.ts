// mm/migrate_device.c: migrate_vma_setup (collect + unmap), migrate_vma_pages,
// migrate_vma_finalize, and migrate_device_range for eviction by pfn.

import {
  EINVAL, HPAGE_PMD_NR, MIGRATE_PFN_COMPOUND, MIGRATE_PFN_MIGRATE, MIGRATE_PFN_VALID, MIGRATE_PFN_WRITE,
  MIGRATE_VMA_SELECT_COMPOUND, MIGRATE_VMA_SELECT_DEVICE_COHERENT, MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
  MIGRATE_VMA_SELECT_SYSTEM, MmuNotifyEvent, PTRS_PER_PTE,
} from './constants';
import type { SkipReason, SkipRun } from './events';
import type { Machine } from './machine';
import type { Device } from './memremap';
import { splitHugePmd } from './memory';
import type { Mm } from './mm';
import { invalidatesNow, mmuNotifierInvalidate, mmuNotifierInvalidateNow } from './mmuNotifier';
import { NO_PFN, type PageFrames, PG_ANON_EXCLUSIVE, PG_FILE, PG_HEAD, PG_LARGE_HEAD, PG_LARGE_TAIL, PG_TAIL, Zone } from './page';
import { pmdNone, Pte, PTE_DIRTY, PTE_WRITE, pteIndex, type PteTable, setExpected } from './pgtable';
import { kernelFrame, pushFrame, type KernelWork } from './kernelWork';
import { type RmapVisit, rmapWalkOrder } from './rmapWalk';
import { folioMappings, linearPageIndex } from './vmaAddress';
import { getPage, putPage, putPages } from './swap';
import { rangeBatching } from './batching';
import { VM_WRITE, type Vma } from './vma';
import { ScratchInt32 } from './scratch';
import { chunkRoom, type FieldArray, FieldRuns, FRAME_CHUNK, FRAME_CHUNK_SHIFT, type FrameField } from './frameStore';
import { evictRunAfter } from './evictRun';

/** Reusable backing stores for MigrateVma arrays (chunks are at most 512 pages). */
const bufferPool: ArrayBuffer[] = [];

/** A buffer of `bytes`, zeros from byte `zeroFrom` on (the caller fills what lies before). */
function takeBuffer(bytes: number, zeroFrom: number): ArrayBuffer {
  for (let i = bufferPool.length - 1; i >= 0; i--) {
    const b = bufferPool[i]!;
    if (b.byteLength === bytes) {
      bufferPool.splice(i, 1);
      new Uint8Array(b, zeroFrom).fill(0);
      return b;
    }
  }
  return new ArrayBuffer(bytes);
}

const SKIP_CODES: readonly SkipReason[] = [
  'hole-not-anonymous', 'not-selected', 'other-owner', 'pinned', 'file-backed', 'non-present-entry',
  'no-destination', 'already-on-device', 'not-anonymous-destination', 'still-mapped', 'pte-mapped-thp', 'extra-reference',
];

/** struct migrate_vma: src/dst pfns and MIGRATE_PFN_* flags, per page of [start, end). */
/** The machine as migrate_vma uses it: it also lists the calls between setup and finalize. */
export interface MigrateMachine extends Machine {
  /** migrate_vma calls between setup and finalize (the debugger shows them while paused inside). */
  readonly pendingMigrations: MigrateVma[];
}

/**
 * The coalescing keys of a migration's setup, pages and finalize events, made once for the
 * (cause, process, device) of a run of chunks instead of a new string per chunk and phase.
 */
class MigrationKeys {
  private cause = '';
  private mm = -1;
  private device = -1;
  setup = '';
  pages = '';
  fin = '';

  of(args: MigrateVma): this {
    if (args.cause !== this.cause || args.mm.id !== this.mm || args.pgmapOwner.index !== this.device) {
      this.cause = args.cause;
      this.mm = args.mm.id;
      this.device = args.pgmapOwner.index;
      const tail = `${args.cause}:${args.mm.id}:${args.pgmapOwner.index}`;
      this.setup = `mig-setup:${tail}`;
      this.pages = `mig-pages:${tail}`;
      this.fin = `mig-fin:${tail}`;
    }
    return this;
  }
}
const migrationKeys = new MigrationKeys();

/** Pages migrated into (`in`) or out of a device's memory, for `stats.DEV`. */
function countMigration(sim: Machine, d: Device, dir: 'in' | 'out', pages: number): void {
  const s = sim.deviceStats(d);
  if (dir === 'in') s.pagesIn += pages;
  else s.pagesOut += pages;
}

export class MigrateVma {
  readonly npages: number;
  readonly src: Int32Array;
  readonly srcFlags: Uint8Array;
  readonly dst: Int32Array;
  readonly dstFlags: Uint8Array;
  /** Why an entry is not migrating (index into SKIP_CODES, plus one; 0 = not skipped). */
  readonly skip: Uint8Array;
  /** Other mappings (process and address) of a collected page that became migration entries (rmap). */
  readonly otherMms = new Map<number, RmapVisit[]>();
  cpages = 0;
  /** Entries with a skip reason (most migrations have none, and then need no scan for them). */
  private skippedCount = 0;
  vma: Vma | undefined;
  private buffer: ArrayBuffer | undefined;

  /** Give the arrays back for reuse; the object must not be used afterwards. */
  release(): void {
    if (this.buffer !== undefined) bufferPool.push(this.buffer);
    this.buffer = undefined;
  }
  /** Where the migration is: set by each phase as it starts. */
  phase: 'setup' | 'copy' | 'pages' | 'finalize' = 'setup';
  constructor(
    readonly mm: Mm,
    readonly start: number,
    readonly end: number,
    readonly flags: number,
    readonly pgmapOwner: Device,
    /** vmf->page when called from migrate_to_ram, else NO_PFN. */
    readonly faultPage = NO_PFN,
    /** What asked for it, for the event stream: `migrate`, `migrate_to_ram`, `release`. */
    readonly cause = 'migrate',
  ) {
    const n = (this.npages = Math.max(0, end - start));
    // One backing store for all five arrays, reused across migrations: allocating buffers
    // (and the garbage collections they cause) dominated chunked migrations.
    // src and dst are filled below; the flags and skip codes start at zero.
    const buf = takeBuffer(n * 11, n * 8);
    this.buffer = buf;
    this.src = new Int32Array(buf, 0, n).fill(NO_PFN);
    this.dst = new Int32Array(buf, n * 4, n).fill(NO_PFN);
    this.srcFlags = new Uint8Array(buf, n * 8, n);
    this.dstFlags = new Uint8Array(buf, n * 9, n);
    this.skip = new Uint8Array(buf, n * 10, n);
  }

  markSkip(i: number, reason: SkipReason): void {
    if (this.skip[i] === 0) this.skippedCount++;
    this.skip[i] = SKIP_CODES.indexOf(reason) + 1;
  }

  /** Runs of skipped pages with their reason, for events and views. */
  skippedRuns(): SkipRun[] {
    const runs: SkipRun[] = [];
    if (this.skippedCount === 0) return runs;
    for (let i = 0; i < this.npages; i++) {
      const code = this.skip[i]!;
      if (code === 0) continue;
      const reason = SKIP_CODES[code - 1]!;
      const prev = runs[runs.length - 1];
      if (prev !== undefined && prev.reason === reason && prev.start + prev.count === this.start + i) prev.count++;
      else runs.push({ start: this.start + i, count: 1, reason });
    }
    return runs;
  }

  /** Whether any entry's source flags hold `bit` (a one-bit mask): read four entries a word. */
  anySrcFlag(bit: number): boolean {
    const n = this.npages;
    const flags = this.srcFlags;
    // srcFlags lies at byte n * 8 of its buffer: word-aligned.
    const words = new Uint32Array(flags.buffer, flags.byteOffset, n >> 2);
    const mask = bit * 0x01010101;
    for (let w = 0; w < words.length; w++) if ((words[w]! & mask) !== 0) return true;
    for (let i = words.length << 2; i < n; i++) if ((flags[i]! & bit) !== 0) return true;
    return false;
  }

  migrating(i: number): boolean {
    return (this.srcFlags[i]! & MIGRATE_PFN_MIGRATE) !== 0;
  }

  get direction(): 'to-device' | 'to-system' {
    return (this.flags & MIGRATE_VMA_SELECT_SYSTEM) !== 0 ? 'to-device' : 'to-system';
  }
}

function pmdAlignedWithin(args: MigrateVma, vpn: number): boolean {
  return vpn % HPAGE_PMD_NR === 0 && vpn >= args.start && vpn + HPAGE_PMD_NR <= args.end;
}

/** Whether a present or device page is selected by the migration's flags and owner. */
function selected(sim: Machine, args: MigrateVma, pfn: number, kind: Pte): SkipReason | undefined {
  const zone = sim.frames.zone.get(pfn) as Zone;
  if (kind === Pte.DEVICE_PRIVATE) {
    if ((args.flags & MIGRATE_VMA_SELECT_DEVICE_PRIVATE) === 0) return 'not-selected';
    return sim.frames.device.get(pfn) === args.pgmapOwner.index ? undefined : 'other-owner';
  }
  if (zone === Zone.DEVICE_COHERENT) {
    if ((args.flags & MIGRATE_VMA_SELECT_DEVICE_COHERENT) === 0) return 'not-selected';
    return sim.frames.device.get(pfn) === args.pgmapOwner.index ? undefined : 'other-owner';
  }
  return (args.flags & MIGRATE_VMA_SELECT_SYSTEM) !== 0 ? undefined : 'not-selected';
}

/** migrate_vma_collect_pmd for one page of a PTE-mapped range: slot `s` of PTE page `t`. */
function collectPte(sim: Machine, args: MigrateVma, vma: Vma, t: PteTable | undefined, s: number, i: number): void {
  const kind = t === undefined ? Pte.NONE : (t.kind[s] as Pte);
  const f = sim.frames;
  if (kind === Pte.NONE) {
    if (!vma.isAnonymous || vma.isShared) {
      args.markSkip(i, 'hole-not-anonymous');
      return;
    }
    args.srcFlags[i] = MIGRATE_PFN_MIGRATE;
    args.cpages++;
    return;
  }
  const tt = t!;
  const pfn = tt.pfn[s]!;
  const zone = f.zone.get(pfn);
  // The common page, a base page of system memory, unpinned, migrating to a device: the
  // checks below all pass (no folio, so no head to look up and no PTE-mapped THP).
  if (kind === Pte.PRESENT && zone === Zone.SYSTEM && (args.flags & MIGRATE_VMA_SELECT_SYSTEM) !== 0 &&
    (f.flags.get(pfn) & (PG_HEAD | PG_TAIL | PG_LARGE_HEAD | PG_LARGE_TAIL)) === 0 && f.pincount.get(pfn) === 0) {
    collectMapped(f, args, tt, s, i, pfn);
    return;
  }
  // The common page of a migration back: a device-private page of the owner, nothing ever pinned
  // (the checks below then all pass: selected, no PTE-mapped THP, no pin, not coherent).
  if (kind === Pte.DEVICE_PRIVATE && zone === Zone.DEVICE_PRIVATE && (args.flags & MIGRATE_VMA_SELECT_DEVICE_PRIVATE) !== 0 &&
    f.device.get(pfn) === args.pgmapOwner.index && !f.pincount.written) {
    collectMapped(f, args, tt, s, i, pfn);
    return;
  }
  if (kind === Pte.PRESENT && zone === Zone.ZERO) {
    if ((args.flags & MIGRATE_VMA_SELECT_SYSTEM) === 0) {
      args.markSkip(i, 'not-selected');
      return;
    }
    args.srcFlags[i] = MIGRATE_PFN_MIGRATE;
    args.cpages++;
    return;
  }
  if (kind !== Pte.PRESENT && kind !== Pte.DEVICE_PRIVATE) {
    args.markSkip(i, 'non-present-entry');
    return;
  }
  const why = selected(sim, args, pfn, kind);
  if (why !== undefined) {
    args.markSkip(i, why);
    return;
  }
  // 6.12: a page of a PTE-mapped THP is not collected (PageTransCompound: mpfn = 0).
  if (!sim.profile.deviceThp && kind === Pte.PRESENT && (f.flags.get(pfn) & (PG_LARGE_HEAD | PG_LARGE_TAIL)) !== 0) {
    args.markSkip(i, 'pte-mapped-thp');
    return;
  }
  // folio_try_share_anon_rmap_pte: an anonymous-exclusive page that may be pinned cannot be
  // shared with a migration entry. Another pinned page (a file page) is collected; its pin fails
  // migrate_vma_check_page after the unmap (restorePinned).
  if ((f.flags.get(pfn) & PG_ANON_EXCLUSIVE) !== 0 && f.pincount.get(f.folioHead(pfn)) > 0) {
    args.markSkip(i, 'pinned');
    return;
  }
  // migrate_vma_check_page: a reference beyond the mappings' (see Device.leakedRefs).
  if (f.zone.get(pfn) === Zone.DEVICE_COHERENT && sim.deviceOfPfn(pfn).leakedRefs.has(pfn)) {
    args.markSkip(i, 'extra-reference');
    return;
  }
  collectMapped(f, args, tt, s, i, pfn);
}

/**
 * The collect walk's mapcount drops, a run of frames at a time (the walk reads no mapcount of the
 * pages it collects; migrateVmaCollect flushes them before it returns).
 */
const collectMapcounts = new FieldRuns();

/** Entry i (slot `s` of `t`) maps `pfn`, collected: the pte becomes a migration entry. */
function collectMapped(f: PageFrames, args: MigrateVma, t: PteTable, s: number, i: number, pfn: number): void {
  const writable = (t.bits[s]! & PTE_WRITE) !== 0;
  args.src[i] = pfn;
  args.srcFlags[i] = MIGRATE_PFN_VALID | MIGRATE_PFN_MIGRATE | (writable ? MIGRATE_PFN_WRITE : 0);
  args.cpages++;
  // The page keeps the reference, loses the mapping.
  t.kind[s] = Pte.MIGRATION;
  t.bits[s] = writable ? PTE_WRITE : 0;
  collectMapcounts.put(pfn, f.mapcount.get(pfn) - 1);
}

/** Collect one PMD-mapped THP (or device THP) whole, as MIGRATE_PFN_COMPOUND. */
function collectPmd(sim: Machine, args: MigrateVma, haddr: number): void {
  const mm = args.mm;
  const t = mm.pt.lookup(haddr)!;
  const head = t.pfn[0]!;
  const i = haddr - args.start;
  const f = sim.frames;
  if (f.zone.get(head) === Zone.ZERO) {
    args.srcFlags[i] = MIGRATE_PFN_MIGRATE | MIGRATE_PFN_COMPOUND;
  } else {
    const writable = (t.bits[0]! & PTE_WRITE) !== 0;
    args.src[i] = head;
    args.srcFlags[i] = MIGRATE_PFN_VALID | MIGRATE_PFN_MIGRATE | MIGRATE_PFN_COMPOUND | (writable ? MIGRATE_PFN_WRITE : 0);
    for (let k = 0; k < PTRS_PER_PTE; k++) mm.pt.set(haddr + k, Pte.MIGRATION, head + k, writable ? PTE_WRITE : 0);
    f.mapcount.add(head, -1);
  }
  args.cpages += HPAGE_PMD_NR;
}

/** Whether a PMD-mapped entry at `haddr` migrates whole, must be split first, or is skipped. */
function pmdMode(sim: Machine, args: MigrateVma, haddr: number): 'compound' | 'pte' | 'skip' | 'split' {
  const t = args.mm.pt.lookup(haddr);
  // A THP fork shared that Linux still PMD-maps here (forkSplit): 6.12 splits it as any other.
  if (t !== undefined && !t.pmd && t.forkSplit) return sim.profile.deviceThp ? 'pte' : 'split';
  if (t === undefined || !t.pmd) return 'pte';
  const head = t.pfn[0]!;
  const kind = t.kind[0] as Pte;
  // Before device THPs (6.12): every PMD-mapped THP in the range is split, selected or not
  // (split_folio; the huge zero page by split_huge_pmd), unless extra references (a pin) make
  // split_folio fail, which skips the PMD's range.
  if (!sim.profile.deviceThp) return sim.frames.zone.get(head) !== Zone.ZERO && sim.frames.pincount.get(head) > 0 ? 'skip' : 'split';
  const compoundOk = (args.flags & MIGRATE_VMA_SELECT_COMPOUND) !== 0 && pmdAlignedWithin(args, haddr);
  const isZero = sim.frames.zone.get(head) === Zone.ZERO;
  const why = isZero ? ((args.flags & MIGRATE_VMA_SELECT_SYSTEM) !== 0 ? undefined : 'not-selected') : selected(sim, args, head, kind);
  if (why !== undefined) return 'skip';
  if (compoundOk && (isZero || sim.frames.pincount.get(head) === 0)) return 'compound';
  // Older kernels, or a partial range: split the THP and migrate base pages.
  return 'split';
}

/**
 * migrate_vma_collect: walk [start, end) a PMD (one PTE page) at a time, as walk_page_range
 * does. A plain function, not a generator: V8 optimizes its loops while they run.
 */
function migrateVmaCollect(sim: Machine, args: MigrateVma, vma: Vma, modes: readonly ('compound' | 'pte' | 'skip')[], modesBase: number): void {
  const mm = args.mm;
  collectMapcounts.begin(sim.frames.mapcount);
  try {
    collectWalk(sim, args, vma, modes, modesBase);
  } finally {
    collectMapcounts.flush();
  }
  // The walk changed entries of these PTE pages (marked once, not per page).
  markRangeDirty(mm, args.start, args.end);
}

function collectWalk(sim: Machine, args: MigrateVma, vma: Vma, modes: readonly ('compound' | 'pte' | 'skip')[], modesBase: number): void {
  const mm = args.mm;
  for (let h = args.start - (args.start % HPAGE_PMD_NR); h < args.end; h += HPAGE_PMD_NR) {
    const lo = Math.max(h, args.start);
    const hi = Math.min(h + HPAGE_PMD_NR, args.end);
    const mode = modes[(h - modesBase) / HPAGE_PMD_NR];
    if (mode === 'compound') {
      collectPmd(sim, args, h);
      continue;
    }
    if (mode === 'skip') {
      for (let vpn = lo; vpn < hi; vpn++) args.markSkip(vpn - args.start, 'not-selected');
      continue;
    }
    const t = mm.pt.lookup(h);
    // A PMD-aligned hole may move as one compound entry (SELECT_COMPOUND, anonymous VMA).
    if ((args.flags & MIGRATE_VMA_SELECT_COMPOUND) !== 0 && (args.flags & MIGRATE_VMA_SELECT_SYSTEM) !== 0 &&
      pmdAlignedWithin(args, h) && vma.isPrivateAnon && pmdNone(t)) {
      args.srcFlags[h - args.start] = MIGRATE_PFN_MIGRATE | MIGRATE_PFN_COMPOUND;
      args.cpages += HPAGE_PMD_NR;
      continue;
    }
    const batched = t !== undefined && rangeBatching();
    for (let vpn = lo; vpn < hi; vpn++) {
      // Batched, a run of entries over frames one after the other goes at once (collectRun).
      const n = batched ? collectRun(sim, args, t, vpn - h, vpn - args.start, hi - vpn) : 0;
      if (n > 0) vpn += n - 1;
      else collectPte(sim, args, vma, t, vpn - h, vpn - args.start);
    }
  }
}

/** Entries a run must hold for collectRun to take it. */
const COLLECT_RUN_MIN = 8;

/**
 * collectPte of entries i, i + 1, … (slots s, s + 1, … of `t`, at most `max`) while each maps
 * the frame next to the one before's (up or down, in one chunk) with the same kind, and the
 * frames read as the common pages collectPte collects at once (a base system page, unpinned,
 * system pages selected; or a device-private page of the owner, nothing ever pinned), with one
 * mapcount: each entry becomes a migration entry, each frame loses its mapping. Returns how
 * many it took (0: none, the walk goes page by page).
 */
function collectRun(sim: Machine, args: MigrateVma, t: PteTable, s: number, i: number, max: number): number {
  if (max < COLLECT_RUN_MIN) return 0;
  const kind = t.kindAt(s);
  if (kind !== Pte.PRESENT && kind !== Pte.DEVICE_PRIVATE) return 0;
  const p0 = t.pfnAt(s);
  const step = t.pfnAt(s + 1) - p0;
  if (step !== 1 && step !== -1) return 0;
  const ci = p0 >>> FRAME_CHUNK_SHIFT;
  let n = 1;
  if (t.isForm) {
    // The form's entries from s on (s + 1 in it: the step is the form's), as far as the frames stay in p0's chunk.
    const inChunk = step === 1 ? FRAME_CHUNK - (p0 & (FRAME_CHUNK - 1)) : (p0 & (FRAME_CHUNK - 1)) + 1;
    n = Math.min(max, t.formHi - s, inChunk);
  } else {
    while (n < max && t.kind[s + n] === kind && t.pfn[s + n] === p0 + n * step && (p0 + n * step) >>> FRAME_CHUNK_SHIFT === ci) n++;
  }
  if (n < COLLECT_RUN_MIN) return 0;
  const f = sim.frames;
  const lo = step === 1 ? p0 : p0 - n + 1;
  const hi = lo + n;
  const zone = f.zone.levelOf(lo, hi);
  if (kind === Pte.PRESENT) {
    const flags = f.flags.levelOf(lo, hi);
    if (zone !== Zone.SYSTEM || (args.flags & MIGRATE_VMA_SELECT_SYSTEM) === 0 || flags === undefined ||
      (flags & (PG_HEAD | PG_TAIL | PG_LARGE_HEAD | PG_LARGE_TAIL)) !== 0 || f.pincount.levelOf(lo, hi) !== 0) return 0;
  } else if (zone !== Zone.DEVICE_PRIVATE || (args.flags & MIGRATE_VMA_SELECT_DEVICE_PRIVATE) === 0 ||
    f.device.levelOf(lo, hi) !== args.pgmapOwner.index || f.pincount.written) return 0;
  // What an earlier entry of the walk left to write is written first: the run reads the mapcounts.
  collectMapcounts.flush();
  const mapcount = f.mapcount.levelOf(lo, hi);
  if (mapcount === undefined) return 0;
  if (t.isForm && s === t.formLo && s + n === t.formHi) {
    // The whole form: its entries become migration entries, one line still.
    const writable = (t.formBits & PTE_WRITE) !== 0;
    for (let k = 0; k < n; k++) args.src[i + k] = p0 + k * step;
    args.srcFlags.fill(MIGRATE_PFN_VALID | MIGRATE_PFN_MIGRATE | (writable ? MIGRATE_PFN_WRITE : 0), i, i + n);
    t.reform(Pte.MIGRATION, writable ? PTE_WRITE : 0);
  } else {
    for (let k = 0; k < n; k++) {
      const writable = (t.bits[s + k]! & PTE_WRITE) !== 0;
      args.src[i + k] = p0 + k * step;
      args.srcFlags[i + k] = MIGRATE_PFN_VALID | MIGRATE_PFN_MIGRATE | (writable ? MIGRATE_PFN_WRITE : 0);
      t.kind[s + k] = Pte.MIGRATION;
      t.bits[s + k] = writable ? PTE_WRITE : 0;
    }
  }
  args.cpages += n;
  f.mapcount.fill(lo, hi, mapcount - 1);
  return n;
}

/** migrate_vma_setup: validate, collect (bracketed by MMU_NOTIFY_MIGRATE) and unmap. */
export function* migrateVmaSetup(sim: MigrateMachine, args: MigrateVma): KernelWork<number> {
  const frame = kernelFrame('migrate_vma_setup', () => `${sim.describeRange(args.start, args.end)} ${args.direction} ${args.pgmapOwner.name}`);
  // In progress from the moment its first frame is entered: a debugger paused here lists it.
  sim.pendingMigrations.push(args);
  yield pushFrame(sim.kstack, frame);
  try {
    const mm = args.mm;
    const vma = mm.vmas.find(args.start);
    // is_vm_hugetlb_page and VM_SPECIAL (VM_MIXEDMAP) VMAs are refused outright.
    const invalid = vma === undefined || args.npages <= 0 || args.end > vma.end || vma.isHugetlb || vma.isMixedMap ||
      (args.faultPage !== NO_PFN && sim.frames.zone.get(args.faultPage) !== Zone.DEVICE_PRIVATE);
    if (invalid) {
      sim.pendingMigrations.splice(sim.pendingMigrations.indexOf(args), 1);
      return -EINVAL;
    }
    args.vma = vma;
    // THPs that cannot move whole are split before the walk (split_huge_pmd has its own CLEAR).
    const pmdModeBase = args.start - (args.start % HPAGE_PMD_NR);
    const modes: ('compound' | 'pte' | 'skip')[] = [];
    for (let h = pmdModeBase; h < args.end; h += HPAGE_PMD_NR) {
      const mode = pmdMode(sim, args, h);
      if (mode === 'split') yield* splitHugePmd(sim, mm, h, true);
      modes.push(mode === 'split' ? 'pte' : mode);
    }
    const range = { mm, start: args.start, end: args.end, event: MmuNotifyEvent.MIGRATE, owner: args.pgmapOwner, blockable: true };
    yield* mmuNotifierInvalidate(sim, range, () => {
      migrateVmaCollect(sim, args, vma, modes, pmdModeBase);
    });
    const stillMapped = countCollected(sim, args);
    if (stillMapped.length > 0) yield* migrateVmaUnmap(sim, args, stillMapped);
    restorePinned(sim, args);
    args.phase = 'copy';
    sim.emit(mm.name, args.start, args.end, {
      kind: 'migrate', phase: 'setup', device: args.pgmapOwner.name, direction: args.direction,
      collected: args.cpages, migrated: 0, skipped: args.skippedRuns(), cause: args.cause,
    }, migrationKeys.of(args).setup);
    return 0;
  } finally {
    sim.kstack.pop();
  }
}

/** The mappings of `pfn` other than `self`'s at `vpn` (vmaAddress.ts: where each VMA maps its index). */
function otherMappers(sim: Machine, self: Mm, pfn: number, vpn: number): RmapVisit[] {
  return folioMappings(sim, pfn, 1, isPresentOrPrivate).filter((m) => m.mm !== self || m.start !== vpn).map((m) => ({ mm: m.mm, vpn: m.start }));
}

/**
 * migrate_device_unmap: a page still mapped elsewhere (a COW page shared with a forked child, a
 * file page another process maps) goes through try_to_migrate, whose rmap walk raises
 * MMU_NOTIFY_CLEAR in each VMA it visits, the migrating process's own included, until the page
 * is mapped nowhere (rmapWalk.ts). A page that then does not migrate (a file page) is restored,
 * but the mirrors the walk cleared stay cleared.
 */
function* migrateVmaUnmap(sim: Machine, args: MigrateVma, stillMapped: readonly number[]): KernelWork<void> {
  const f = sim.frames;
  for (const i of stillMapped) {
    const pfn = args.src[i]!;
    const vpn = args.start + i;
    const mappers = otherMappers(sim, args.mm, pfn, vpn);
    const unmapped: RmapVisit[] = [];
    for (const visit of rmapWalkOrder(sim, pfn, { mm: args.mm, vpn }, mappers)) {
      if (f.mapcount.get(pfn) <= 0) break;
      const { mm, vpn: at } = visit;
      const range = { mm, start: at, end: at + 1, event: MmuNotifyEvent.CLEAR, owner: null, blockable: true };
      yield* mmuNotifierInvalidate(sim, range, () => {
        if (!mappers.some((m) => m.mm === mm && m.vpn === at)) return;
        const t = mm.pt.lookup(at)!;
        const w = t.bits[pteIndex(at)]! & PTE_WRITE;
        mm.pt.set(at, Pte.MIGRATION, pfn, w);
        f.mapcount.add(pfn, -1);
        unmapped.push(visit);
      });
    }
    if (unmapped.length > 0) args.otherMms.set(i, unmapped);
  }
}

/**
 * migrate_device_unmap, after try_to_migrate: a collected page with a pin fails
 * migrate_vma_check_page (its extra references) and is restored at once (remove_migration_ptes,
 * src_pfns[i] = 0): the driver gets nothing to copy for it; the mirrors the walk cleared stay cleared.
 */
function restorePinned(sim: Machine, args: MigrateVma): void {
  const f = sim.frames;
  // Nothing was ever pinned: no page to restore.
  if (!f.pincount.written) return;
  for (let i = 0; i < args.npages; i++) {
    const pfn = args.src[i]!;
    if (pfn === NO_PFN || !args.migrating(i) || (args.srcFlags[i]! & MIGRATE_PFN_COMPOUND) !== 0 || f.pincount.get(f.folioHead(pfn)) === 0) continue;
    const vpn = args.start + i;
    removeMigrationPtes(sim, args.mm, vpn, 1, pfn, pfn, false);
    for (const { mm, vpn: at } of args.otherMms.get(i) ?? []) {
      removeMigrationPtes(sim, mm, at, 1, pfn, pfn, false);
      markRangeDirty(mm, at, at + 1);
    }
    args.otherMms.delete(i);
    args.srcFlags[i] = 0;
    args.src[i] = NO_PFN;
    args.markSkip(i, 'pinned');
    args.cpages--;
  }
}

/** Count the collected pages into cpages; returns the base-page entries still mapped elsewhere. */
/** Entries a run must hold for countCollected and the destination checks to take it at once. */
const CHECK_RUN_MIN = 8;

/** How many entries from i (i's included) migrate, lack `without`, and have sources one after the other in one chunk. */
export function sourceRun(args: MigrateVma, i: number, without: number): number {
  const p0 = args.src[i]!;
  if (p0 === NO_PFN || i + 1 >= args.npages) return 1;
  const step = args.src[i + 1]! - p0;
  if (step !== 1 && step !== -1) return 1;
  // Bounded once by the chunk (frames on from p0 stay in it, and so at or above 0).
  const limit = Math.min(args.npages - i, chunkRoom(p0, step));
  const src = args.src;
  const flags = args.srcFlags;
  const mask = MIGRATE_PFN_MIGRATE | without;
  let n = 1;
  for (let want = p0 + step; n < limit && src[i + n] === want && (flags[i + n]! & mask) === MIGRATE_PFN_MIGRATE; want += step) n++;
  return n;
}

/**
 * How many entries from i migrate to a valid destination from a source, with the sources one
 * after the other in one chunk and the destinations too (the destination checks' common case).
 */
function destinationRun(args: MigrateVma, i: number): number {
  const n = sourceRun(args, i, 0);
  if (n < 2) return n;
  const d0 = args.dst[i]!;
  const step = args.dst[i + 1]! - d0;
  if (d0 === NO_PFN || (step !== 1 && step !== -1)) return 1;
  const limit = Math.min(n, chunkRoom(d0, step));
  const dst = args.dst;
  const flags = args.dstFlags;
  let k = 0;
  for (let want = d0; k < limit && dst[i + k] === want && (flags[i + k]! & MIGRATE_PFN_VALID) !== 0; want += step) k++;
  return k;
}

/** levelOf over the n frames pfns[i], pfns[i + 1], … (one after the other, up or down, in one chunk). */
export function levelOfRun(field: FrameField<FieldArray>, pfns: Int32Array, i: number, n: number): number | undefined {
  const a = pfns[i]!;
  const b = pfns[i + n - 1]!;
  return a < b ? field.levelOf(a, b + 1) : field.levelOf(b, a + 1);
}

function countCollected(sim: Machine, args: MigrateVma): number[] {
  const mapcount = sim.frames.mapcount;
  const stillMapped: number[] = [];
  const batched = rangeBatching();
  args.cpages = 0;
  for (let i = 0; i < args.npages; i++) {
    const flags = args.srcFlags[i]!;
    if ((flags & MIGRATE_PFN_MIGRATE) === 0) continue;
    // A run of base entries over frames one after the other that all read mapcount 0: counted at once.
    const n = batched && (flags & MIGRATE_PFN_COMPOUND) === 0 ? sourceRun(args, i, MIGRATE_PFN_COMPOUND) : 0;
    if (n >= CHECK_RUN_MIN && levelOfRun(mapcount, args.src, i, n) === 0) {
      args.cpages += n;
      i += n - 1;
      continue;
    }
    const compound = (flags & MIGRATE_PFN_COMPOUND) !== 0;
    args.cpages += compound ? HPAGE_PMD_NR : 1;
    const pfn = args.src[i]!;
    if (pfn !== NO_PFN && !compound && mapcount.get(pfn) > 0) stillMapped.push(i);
  }
  return stillMapped;
}

/** Install a new page at a hole / zero-page entry (migrate_vma_insert_page). */
function insertPage(sim: Machine, args: MigrateVma, vpn: number, dst: number, compound: boolean): boolean {
  const mm = args.mm;
  const vma = args.vma!;
  if (!vma.isPrivateAnon) return false;
  const t = mm.pt.alloc(vpn);
  const s = pteIndex(vpn);
  const n = compound ? HPAGE_PMD_NR : 1;
  for (let k = 0; k < n; k++) {
    const kind = t.kind[s + k] as Pte;
    if (kind !== Pte.NONE && !(kind === Pte.PRESENT && sim.frames.zone.get(t.pfn[s + k]!) === Zone.ZERO)) return false;
  }
  const writable = (vma.flags & VM_WRITE) !== 0;
  const isPrivate = sim.frames.zone.get(dst) === Zone.DEVICE_PRIVATE;
  t.pmd = false;
  for (let k = 0; k < n; k++) {
    mm.pt.set(vpn + k, isPrivate ? Pte.DEVICE_PRIVATE : Pte.PRESENT, dst + k, writable ? PTE_WRITE | (isPrivate ? 0 : PTE_DIRTY) : 0);
    // A new zero-filled page: what the slot held before (a page mremap moved away) is gone.
    setExpected(t, s + k, 0, 0);
  }
  if (compound) t.setPmd(true);
  // anon_vma_prepare, then folio_add_new_anon_rmap: linear_page_index and the VMA's anon_vma.
  mm.vmas.prepareAnonVma(vma);
  sim.frames.setAnon(dst, n, linearPageIndex(vma, vpn), vma.anonVmaId);
  sim.frames.mapcount.set(dst, 1);
  return true;
}

/** The per-entry checks of migrate_vma_pages; returns the first hole to fill, or -1. */
function migrateVmaCheckDestinations(sim: Machine, args: MigrateVma): number {
  const f = sim.frames;
  const batched = rangeBatching();
  let firstHole = -1;
  for (let i = 0; i < args.npages; i++) {
    if (!args.migrating(i)) continue;
    if (args.dst[i] === NO_PFN || (args.dstFlags[i]! & MIGRATE_PFN_VALID) === 0) {
      args.srcFlags[i] = args.srcFlags[i]! & ~MIGRATE_PFN_MIGRATE;
      args.markSkip(i, 'no-destination');
      continue;
    }
    if (args.src[i] === NO_PFN) {
      if (firstHole < 0) firstHole = i;
      continue;
    }
    // A run whose destinations are system frames, or whose sources are no file pages, passes
    // whole (frames one after the other on both sides, read a run at a time).
    const n = batched ? destinationRun(args, i) : 0;
    if (n >= CHECK_RUN_MIN) {
      const zone = levelOfRun(f.zone, args.dst, i, n);
      const flags = zone === Zone.SYSTEM ? 0 : levelOfRun(f.flags, args.src, i, n);
      if (zone !== undefined && flags !== undefined && (zone === Zone.SYSTEM || (flags & PG_FILE) === 0)) {
        i += n - 1;
        continue;
      }
    }
    const dstZone = f.zone.get(args.dst[i]!) as Zone;
    if ((dstZone === Zone.DEVICE_PRIVATE || dstZone === Zone.DEVICE_COHERENT) && (f.flags.get(args.src[i]!) & PG_FILE) !== 0) {
      // Only anonymous memory can live in device memory.
      args.srcFlags[i] = args.srcFlags[i]! & ~MIGRATE_PFN_MIGRATE;
      args.markSkip(i, 'file-backed');
    }
  }
  return firstHole;
}

/** Holes and zero-page entries from `firstHole` on get their new pages (migrate_vma_insert_page). */
function insertHoles(sim: Machine, args: MigrateVma, firstHole: number): void {
  for (let i = firstHole; i < args.npages; i++) {
    if (!args.migrating(i) || args.src[i] !== NO_PFN) continue;
    const compound = (args.srcFlags[i]! & MIGRATE_PFN_COMPOUND) !== 0;
    // A zero-page mapping being replaced drops nothing: the zero page is not counted.
    if (!insertPage(sim, args, args.start + i, args.dst[i]!, compound)) {
      args.srcFlags[i] = args.srcFlags[i]! & ~MIGRATE_PFN_MIGRATE;
      args.markSkip(i, 'not-anonymous-destination');
    }
  }
}

/** migrate_vma_pages: holes get their new pages (under MMU_NOTIFY_MIGRATE); checks per page. */
export function* migrateVmaPages(sim: Machine, args: MigrateVma): KernelWork<void> {
  const frame = kernelFrame('migrate_vma_pages', () => sim.describeRange(args.start, args.end));
  args.phase = 'pages';
  yield pushFrame(sim.kstack, frame);
  try {
    const firstHole = migrateVmaCheckDestinations(sim, args);
    if (firstHole >= 0) {
      const range = { mm: args.mm, start: args.start + firstHole, end: args.end, event: MmuNotifyEvent.MIGRATE, owner: args.pgmapOwner, blockable: true };
      yield* mmuNotifierInvalidate(sim, range, () => {
        insertHoles(sim, args, firstHole);
      });
    }
    sim.emit(args.mm.name, args.start, args.end, {
      kind: 'migrate', phase: 'pages', device: args.pgmapOwner.name, direction: args.direction,
      collected: args.cpages, migrated: countMigrating(args), skipped: args.skippedRuns(), cause: args.cause,
    }, migrationKeys.of(args).pages);
  } finally {
    sim.kstack.pop();
  }
}

function countMigrating(args: MigrateVma): number {
  let n = 0;
  for (let i = 0; i < args.npages; i++) {
    if (args.migrating(i)) n += (args.srcFlags[i]! & MIGRATE_PFN_COMPOUND) !== 0 ? HPAGE_PMD_NR : 1;
  }
  return n;
}

/** Replace one process's migration entries for entry i with the new (or the original) page. */
function removeMigrationPtes(sim: Machine, mm: Mm, vpn: number, n: number, oldPfn: number, newPfn: number, compound: boolean): void {
  const f = sim.frames;
  const t = mm.pt.lookup(vpn)!;
  const s = pteIndex(vpn);
  const writable = (t.bits[s]! & PTE_WRITE) !== 0;
  const devicePrivate = f.zone.get(newPfn) === Zone.DEVICE_PRIVATE;
  const kind = devicePrivate ? Pte.DEVICE_PRIVATE : Pte.PRESENT;
  const bits = writable ? PTE_WRITE | (devicePrivate ? 0 : PTE_DIRTY) : 0;
  for (let k = 0; k < n; k++) {
    if (t.kind[s + k] !== Pte.MIGRATION || t.pfn[s + k] !== oldPfn + k) continue;
    // A migration entry is not pte_none, so `used` does not change.
    t.kind[s + k] = kind;
    t.pfn[s + k] = newPfn + k;
    t.bits[s + k] = bits;
    if (!compound) {
      f.mapcount.add(newPfn + k, 1);
      f.migrateMapping(newPfn + k, oldPfn + k, 1); // folio_migrate_mapping keeps page->index and the anon_vma
    }
  }
  if (compound) {
    f.mapcount.add(newPfn, 1);
    f.migrateMapping(newPfn, oldPfn, n);
  }
  t.setPmd(compound);
}

/** migrate_vma_finalize: migration entries point at dst (migrated) or src again; old pages go. */
export function* migrateVmaFinalize(sim: MigrateMachine, args: MigrateVma): KernelWork<void> {
  const frame = kernelFrame('migrate_vma_finalize', () => sim.describeRange(args.start, args.end));
  args.phase = 'finalize';
  yield pushFrame(sim.kstack, frame);
  try {
    finalizeEntries(sim, args);
  } finally {
    sim.kstack.pop();
  }
  const i = sim.pendingMigrations.indexOf(args);
  if (i >= 0) sim.pendingMigrations.splice(i, 1);
}

/** Mark every PTE page of [start, end) changed, for the invariant checker. */
function markRangeDirty(mm: Mm, start: number, end: number): void {
  for (let v = start - (start % PTRS_PER_PTE); v < end; v += PTRS_PER_PTE) mm.pt.markDirty(v);
}

/** finalizeBasePages' references to drop. */
const finalizePuts = new ScratchInt32();
/** finalizeBasePages' writes to the new pages' mapcount, page->index and anon_vma, a run of frames at a time. */
const finalizeMapcounts = new FieldRuns();
const finalizeIndices = new FieldRuns();
const finalizeAnonVmas = new FieldRuns();

/**
 * The common case: base pages, one process, a system source page freed as its last reference
 * goes; a PTE page at a time (a range that does not start on a PTE page's first slot spans two).
 * Returns the pages moved, or -1 when the general path is needed.
 */
function finalizeBasePages(sim: Machine, args: MigrateVma): number {
  const start = args.start;
  if (args.otherMms.size > 0) return -1;
  // Over two PTE pages only batched: page by page, such a range takes the general path, which
  // the batching tests hold this one to.
  if (!rangeBatching() && Math.floor(start / PTRS_PER_PTE) !== Math.floor((args.end - 1) / PTRS_PER_PTE)) return -1;
  if (args.anySrcFlag(MIGRATE_PFN_COMPOUND)) return -1;
  for (let v = start; v < args.end; v += PTRS_PER_PTE - pteIndex(v)) if (args.mm.pt.lookup(v) === undefined) return -1;
  const f = sim.frames;
  let moved = 0;
  // Batched, the references are dropped after the loop, in the same order (putPages): nothing
  // the loop reads changes with them (each frame is one entry's source or destination).
  const puts = rangeBatching() ? finalizePuts.get(args.npages) : undefined;
  let nputs = 0;
  const put = puts === undefined ? (pfn: number): void => putPage(sim, pfn) : (pfn: number): void => {
    puts[nputs++] = pfn;
  };
  // Unbatched, each put comes at once: the fields are written at once too.
  const mapcounts = puts === undefined ? undefined : finalizeMapcounts.begin(f.mapcount);
  const indices = puts === undefined ? undefined : finalizeIndices.begin(f.indexOffset);
  const anonVmas = puts === undefined ? undefined : finalizeAnonVmas.begin(f.anonVma);
  for (let i = 0, limit = 0, base = 0, t: PteTable | undefined; i < args.npages; i++) {
    if (i === limit) {
      // The next PTE page: entries i … limit - 1 are its slots base + i, ….
      const vpn = start + i;
      t = args.mm.pt.lookup(vpn)!;
      base = pteIndex(vpn) - i;
      limit = Math.min(args.npages, i + PTRS_PER_PTE - pteIndex(vpn));
    }
    // Batched, a run of entries whose sources and destinations are each frames one after the
    // other goes at once (finalizeRun): what the loop below does to each of them.
    if (puts !== undefined) {
      const len = finalizeRun(f, args, t!, base, i, limit, puts, nputs);
      if (len > 0) {
        moved += len;
        nputs += len;
        i += len - 1;
        continue;
      }
    }
    const src = args.src[i]!;
    const dst = args.dst[i]!;
    const migrating = (args.srcFlags[i]! & MIGRATE_PFN_MIGRATE) !== 0 && dst !== NO_PFN;
    if (migrating) moved++;
    if (src === NO_PFN) {
      if (!migrating && dst !== NO_PFN) put(dst);
      continue;
    }
    const s = base + i;
    const target = migrating ? dst : src;
    const pt = t!;
    if (pt.kind[s] === Pte.MIGRATION && pt.pfn[s] === src) {
      const devicePrivate = f.zone.get(target) === Zone.DEVICE_PRIVATE;
      pt.kind[s] = devicePrivate ? Pte.DEVICE_PRIVATE : Pte.PRESENT;
      pt.bits[s] = (pt.bits[s]! & PTE_WRITE) !== 0 ? PTE_WRITE | (devicePrivate ? 0 : PTE_DIRTY) : 0;
      pt.pfn[s] = target;
      // folio_migrate_mapping keeps page->index and the anon_vma.
      if (mapcounts === undefined || indices === undefined || anonVmas === undefined) {
        f.mapcount.add(target, 1);
        f.migrateMapping(target, src, 1);
      } else {
        mapcounts.put(target, f.mapcount.get(target) + 1);
        indices.put(target, f.indexOffset.get(src));
        anonVmas.put(target, f.anonVma.get(src));
      }
    }
    if (migrating) put(src);
    else if (dst !== NO_PFN) put(dst);
  }
  mapcounts?.flush();
  indices?.flush();
  anonVmas?.flush();
  if (puts !== undefined) putPages(sim, puts, nputs);
  // No PMD flag to clear: base pages were collected from a PTE-mapped table, and a PMD-mapped
  // THP that was skipped keeps its PMD mapping (clearing the flag there left a whole folio
  // mapped by 512 ptes, and a later split freed it while still mapped).
  return moved;
}

/** Entries a run must hold for finalizeRun to take it. */
const FINALIZE_RUN_MIN = 8;

/**
 * finalizeBasePages' loop (batched) over entries i, i + 1, … before `limit` of `args` (slots base + i, … of `t`)
 * while each migrates from a frame next to the one before's source to a frame next to the one
 * before's destination (each side up or down, in one chunk), its entry still the migration
 * entry of its source, the destinations of one zone with one mapcount: the entries become
 * their destinations', the destinations take a mapping and their sources' page->index and
 * anon_vma, and the sources go to puts[nputs], … in order. Returns how many it took (0: none,
 * the loop goes page by page).
 */
function finalizeRun(f: PageFrames, args: MigrateVma, t: PteTable, base: number, i: number, limit: number, puts: Int32Array, nputs: number): number {
  const src0 = args.src[i]!;
  const dst0 = args.dst[i]!;
  if (i + 1 >= limit || src0 === NO_PFN || dst0 === NO_PFN) return 0;
  const ss = args.src[i + 1]! - src0;
  const ds = args.dst[i + 1]! - dst0;
  if ((ss !== 1 && ss !== -1) || (ds !== 1 && ds !== -1)) return 0;
  // A form's slots from base + i hold the sources' migration entries up to its end (or one slot,
  // where its pfns step the other way): read once, not per entry.
  const formed = t.isForm;
  const s0 = base + i;
  const formRun = !formed || t.kindAt(s0) !== Pte.MIGRATION || t.pfnAt(s0) !== src0 ? 0 : s0 + 1 < t.formHi && t.formStep !== ss ? 1 : t.formHi - s0;
  const kinds = formed ? undefined : t.kind;
  const pfns = formed ? undefined : t.pfn;
  // Bounded once: by `limit`, by both chunks (frames that stay in them stay at or above 0), by the form.
  const bound = Math.min(limit - i, chunkRoom(src0, ss), chunkRoom(dst0, ds), kinds === undefined ? formRun : PTRS_PER_PTE);
  const srcs = args.src;
  const dsts = args.dst;
  const flags = args.srcFlags;
  let n = 0;
  for (let src = src0, dst = dst0; n < bound; n++, src += ss, dst += ds) {
    if (srcs[i + n] !== src || dsts[i + n] !== dst || (flags[i + n]! & MIGRATE_PFN_MIGRATE) === 0) break;
    if (kinds !== undefined && (kinds[s0 + n] !== Pte.MIGRATION || pfns![s0 + n] !== src)) break;
  }
  if (n < FINALIZE_RUN_MIN) return 0;
  const lo = ds === 1 ? dst0 : dst0 - n + 1;
  const zone = f.zone.levelOf(lo, lo + n);
  const mapcount = f.mapcount.levelOf(lo, lo + n);
  if (zone === undefined || mapcount === undefined) return 0;
  const devicePrivate = zone === Zone.DEVICE_PRIVATE;
  const kind = devicePrivate ? Pte.DEVICE_PRIVATE : Pte.PRESENT;
  const writeBits = PTE_WRITE | (devicePrivate ? 0 : PTE_DIRTY);
  if (t.isForm && base + i === t.formLo && base + i + n === t.formHi) {
    // The whole form: its entries map the destinations, one line still.
    t.reform(kind, (t.formBits & PTE_WRITE) !== 0 ? writeBits : 0, dst0, ds);
    for (let k = 0; k < n; k++) puts[nputs + k] = src0 + k * ss;
  } else {
    for (let k = 0; k < n; k++) {
      const s = base + i + k;
      t.kind[s] = kind;
      t.bits[s] = (t.bits[s]! & PTE_WRITE) !== 0 ? writeBits : 0;
      t.pfn[s] = dst0 + k * ds;
      puts[nputs + k] = src0 + k * ss;
    }
  }
  f.mapcount.fill(lo, lo + n, mapcount + 1);
  // folio_migrate_mapping keeps page->index and the anon_vma.
  f.indexOffset.copyRun(src0, ss as 1 | -1, dst0, ds as 1 | -1, n);
  f.anonVma.copyRun(src0, ss as 1 | -1, dst0, ds as 1 | -1, n);
  return n;
}

function finalizeEntries(sim: Machine, args: MigrateVma): void {
  const f = sim.frames;
  let moved = finalizeBasePages(sim, args);
  markRangeDirty(args.mm, args.start, args.end);
  if (moved >= 0) {
    finishFinalize(sim, args, moved);
    return;
  }
  moved = 0;
  for (let i = 0; i < args.npages; i++) {
    const src = args.src[i]!;
    const dst = args.dst[i]!;
    const migrating = args.migrating(i);
    const compound = (args.srcFlags[i]! & MIGRATE_PFN_COMPOUND) !== 0 && (args.dstFlags[i]! & MIGRATE_PFN_COMPOUND) !== 0;
    const n = compound ? HPAGE_PMD_NR : 1;
    if (migrating && dst !== NO_PFN) moved += n;
    if (src === NO_PFN) {
      // A hole: the new page was inserted by migrate_vma_pages, or is dropped here.
      if (!migrating && dst !== NO_PFN) putPage(sim, dst);
      continue;
    }
    const target = migrating && dst !== NO_PFN ? dst : src;
    removeMigrationPtes(sim, args.mm, args.start + i, n, src, target, compound);
    // Each migration entry held a reference on the source page; the new page's allocation
    // reference becomes its first mapping's.
    if (target === dst) putPage(sim, src);
    const others = args.otherMms.size === 0 ? undefined : args.otherMms.get(i);
    if (others !== undefined) {
      // A page that comes back mapped by several processes is COW-shared, not exclusively owned.
      f.flags.set(target, f.flags.get(target) & ~PG_ANON_EXCLUSIVE);
      for (const { mm, vpn } of others) {
        removeMigrationPtes(sim, mm, vpn, n, src, target, compound);
        markRangeDirty(mm, vpn, vpn + n);
        if (target === dst) {
          getPage(sim, dst);
          putPage(sim, src);
        }
      }
    }
    if (target === src && dst !== NO_PFN) putPage(sim, dst);
  }
  finishFinalize(sim, args, moved);
}

function finishFinalize(sim: Machine, args: MigrateVma, moved: number): void {
  if (moved > 0) countMigration(sim, args.pgmapOwner, args.direction === 'to-device' ? 'in' : 'out', moved);
  if (moved > 0 || args.npages > 0) {
    sim.emit(args.mm.name, args.start, args.end, {
      kind: 'migrate', phase: 'finalize', device: args.pgmapOwner.name, direction: args.direction,
      collected: args.cpages, migrated: moved, skipped: args.skippedRuns(), cause: args.cause,
    }, migrationKeys.of(args).fin);
  }
}

/**
 * Split a compound source entry into 512 base entries (the driver could not get a huge
 * destination page): the source folio is split, and so is its PMD mapping.
 */
export function migrateVmaSplitCompound(sim: Machine, args: MigrateVma, i: number): void {
  const src = args.src[i]!;
  const flags = args.srcFlags[i]! & ~MIGRATE_PFN_COMPOUND;
  const vpn = args.start + i;
  const t = args.mm.pt.lookup(vpn);
  if (src !== NO_PFN) {
    // The folio's single PMD mapping becomes 512 pte mappings of base pages.
    sim.frames.splitFolio(src);
    for (let k = 0; k < HPAGE_PMD_NR; k++) sim.frames.mapcount.set(src + k, sim.frames.mapcount.get(src));
  }
  t?.setPmd(false);
  for (let k = 0; k < HPAGE_PMD_NR; k++) {
    args.src[i + k] = src === NO_PFN ? NO_PFN : src + k;
    args.srcFlags[i + k] = flags;
  }
}

/**
 * migrate_device_range + migrate_device_pages + migrate_device_finalize: evict device pages by
 * pfn, without a VMA (RELEASE, close, eviction, a long-term pin of a coherent page). Every
 * mapping is replaced through try_to_migrate's rmap walk (rmapWalk.ts), which raises
 * MMU_NOTIFY_CLEAR in each VMA it visits until the page is mapped nowhere.
 */
export function* migrateDeviceRange(sim: MigrateMachine, device: Device, pfns: readonly number[], cause: string): KernelWork<number> {
  const frame = { name: 'migrate_device_range', detail: `${device.name} ${pfns.length} pages (${cause})` };
  yield pushFrame(sim.kstack, frame);
  try {
    const f = sim.frames;
    let evicted = 0;
    const eventKey = `evict:${device.index}:${cause}`;
    for (let i = 0; i < pfns.length; i++) {
      const pfn = pfns[i]!;
      if (f.zone.get(pfn) !== device.zone || f.flags.get(pfn) & PG_TAIL /* moved with its head */) continue;
      // A page of a PTE-mapped large folio that nothing maps goes with the folio's last reference.
      if ((f.flags.get(pfn) & (PG_LARGE_HEAD | PG_LARGE_TAIL)) !== 0 && f.mapcount.get(pfn) === 0) continue;
      // A reference migrate_vma_check_page does not expect: the page stays (restored in place).
      if (device.leakedRefs.has(pfn)) continue;
      const order = f.order.get(pfn);
      const n = 1 << order;
      const index = f.indexOf(pfn);
      const anonVma = f.anonVma.get(pfn);
      const holders = sim.profile.evictExclusiveLeaks && device.type === 'coherent' ? mappedAt(sim, pfn, isExclusive) : [];
      if (holders.length > 0) {
        // 6.12 (seen in the VM; profile.ts evictExclusiveLeaks): try_to_migrate turns the
        // device-exclusive entry into a migration entry, the migration fails, and finalize maps
        // the page again in place, read-only; the page is left with one reference more than it
        // had: it never migrates or frees again, and the device's next RELEASE hangs.
        for (const { mm, vpn } of holders) {
          const range = { mm, start: vpn, end: vpn + 1, event: MmuNotifyEvent.CLEAR, owner: null, blockable: true };
          yield* mmuNotifierInvalidate(sim, range, () => mm.pt.set(vpn, Pte.PRESENT, pfn, PTE_DIRTY));
        }
        // A page mapped once comes back PageAnonExclusive (readable_exclusive migration entry),
        // so a CPU write reuses it in place despite the extra reference.
        if (holders.length === 1 && f.mapcount.get(pfn) === 1) f.flags.set(pfn, f.flags.get(pfn) | PG_ANON_EXCLUSIVE);
        device.leakedRefs.add(pfn);
        getPage(sim, pfn);
        continue;
      }
      // Newest: try_to_migrate_one handles device-exclusive entries too (a coherent page).
      const mappers = mappedAt(sim, pfn, device.type === 'private' ? isPrivateOrExclusive : isPresentOrExclusive);
      const dst = f.allocSystem(order === 9 ? 9 : 0, f.flags.get(pfn) & ~(PG_HEAD | PG_TAIL | PG_LARGE_HEAD | PG_LARGE_TAIL));
      for (let k = 0; k < n; k++) {
        f.contentId.set(dst + k, f.contentId.get(pfn + k));
        f.contentPage.set(dst + k, f.contentPage.get(pfn + k));
      }
      // The device page's driver reference (the source's "backing" mapping) goes at the end.
      // try_to_migrate's rmap walk raises MMU_NOTIFY_CLEAR in each VMA it visits, mapping the
      // page there or not, until the page is mapped nowhere (rmapWalk.ts).
      let first = true;
      let left = mappers.length;
      const walk = left === 0 ? [] : rmapWalkOrder(sim, pfn, mappers[0]!, mappers.slice(1));
      for (const { mm, vpn } of walk) {
        if (left === 0) break;
        const maps = mappers.some((m) => m.mm === mm && m.vpn === vpn);
        const range = { mm, start: vpn, end: vpn + n, event: MmuNotifyEvent.CLEAR, owner: null, blockable: true };
        const body = (): void => {
          if (!maps) return;
          left--;
          const t = mm.pt.lookup(vpn)!;
          const w = t.bits[pteIndex(vpn)]! & PTE_WRITE;
          const pmd = t.pmd;
          for (let k = 0; k < n; k++) mm.pt.set(vpn + k, Pte.PRESENT, dst + k, w ? w | PTE_DIRTY : 0);
          t.setPmd(pmd && n === HPAGE_PMD_NR);
          if (!first) getPage(sim, dst);
          first = false;
          f.mapcount.add(dst, 1);
          f.mapcount.add(pfn, -1);
          putPage(sim, pfn);
        };
        // A plain call where no callback can pause: eviction goes a page at a time.
        if (invalidatesNow(sim, mm)) mmuNotifierInvalidateNow(sim, range, body);
        else yield* mmuNotifierInvalidate(sim, range, body);
      }
      if (first) putPage(sim, dst);
      if (mappers.length > 1) f.flags.set(dst, f.flags.get(dst) & ~PG_ANON_EXCLUSIVE);
      f.setAnon(dst, n, index, anonVma); // folio_migrate_mapping keeps page->index and the anon_vma
      evicted += n;
      countMigration(sim, device, 'out', n);
      const at = mappers[0]?.vpn ?? index;
      sim.emit(mappers[0]?.mm.name ?? '-', at, at + n, {
        kind: 'migrate', phase: 'finalize', device: device.name, direction: 'to-system', collected: n, migrated: n, skipped: [], cause,
      }, eventKey);
      // The pages after it in its process, mapped alike, go a run at a time (evictRun.ts).
      if (mappers.length === 1 && n === 1) {
        const run = evictRunAfter(sim, device, pfns, i + 1, mappers[0]!.mm, mappers[0]!.vpn, cause, eventKey);
        evicted += run;
        i += run;
      }
    }
    return evicted;
  } finally {
    sim.kstack.pop();
  }
}

/** The live processes that map `pfn` (vmaAddress.ts: where each VMA maps its index), in creation order, and where. */
function mappedAt(sim: Machine, pfn: number, want: (k: Pte) => boolean): { mm: Mm; vpn: number }[] {
  return folioMappings(sim, pfn, 1, want).map((m) => ({ mm: m.mm, vpn: m.start }));
}

// The entry kinds eviction looks for (made once: it looks per page).
const isExclusive = (k: Pte): boolean => k === Pte.DEVICE_EXCLUSIVE;
const isPrivateOrExclusive = (k: Pte): boolean => k === Pte.DEVICE_PRIVATE || k === Pte.DEVICE_EXCLUSIVE;
const isPresentOrExclusive = (k: Pte): boolean => k === Pte.PRESENT || k === Pte.DEVICE_EXCLUSIVE;
const isPresentOrPrivate = (k: Pte): boolean => k === Pte.PRESENT || k === Pte.DEVICE_PRIVATE;
