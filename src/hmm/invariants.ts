// The simulator's own checks after every statement, over the page tables that changed:
//  - a device never keeps a mapping the CPU revoked (each dpt entry matches the CPU entry);
//  - every page lives in exactly one place (entry kinds agree with the frame's zone, no entry
//    points at a free frame, no migration entry survives a statement);
//  - data survives every migration (each page holds what the process last wrote);
//  - every anonymous or file page is mapped where its VMA's offset puts its index (vmaAddress.ts:
//    the rmap walks find it there), and an anonymous one only in VMAs whose anon_vma_chain holds
//    its anon_vma (the walk over that anon_vma visits every VMA that maps it);
//  - a PTE-mapped large folio is held whole: its references on its first page, none freed
//    while any page is mapped.

import { HPAGE_PMD_NR, PTRS_PER_PTE } from './constants';
import { FRAME_CHUNK, FRAME_CHUNK_SHIFT } from './frameStore';
import type { Dmirror } from './mirror';
import type { Machine } from './machine';
import { indexOffsetOf, PG_ANON, PG_FILE, PG_HUGETLB, PG_LARGE_HEAD, PG_LARGE_TAIL, Zone } from './page';
import { Pte, PTE_WRITE, type PteTable } from './pgtable';
import type { Vma } from './vma';
import { linearPageIndex } from './vmaAddress';

/** Whether a frame in `zone` may sit behind an entry of `kind`. */
function zoneFits(kind: Pte, zone: Zone): boolean {
  switch (kind) {
    case Pte.PRESENT: return zone === Zone.SYSTEM || zone === Zone.ZERO || zone === Zone.DEVICE_COHERENT;
    case Pte.DEVICE_PRIVATE: return zone === Zone.DEVICE_PRIVATE;
    // make_device_exclusive takes any anonymous folio, a device-coherent one included.
    case Pte.DEVICE_EXCLUSIVE: return zone === Zone.SYSTEM || zone === Zone.DEVICE_COHERENT;
    default: return false;
  }
}
const ZONE_NAME = ['free', 'system', 'device-private', 'device-coherent', 'zero'];
const ENTRY_NAME = ['none', 'present', 'device-private', 'device-exclusive', 'migration'];

/** `owner:page` for a problem at slot s of PTE page idx (built only when there is a problem). */
function where(sim: Machine, owner: string, idx: number, s: number): string {
  const vpn = idx * PTRS_PER_PTE + s;
  return `${owner}:${sim.describeRange(vpn, vpn + 1)}`;
}

/**
 * Slots from `s` of PTE page `t` (PMD index idx) whose entries are of one kind and map frames one
 * after the other (up or down) in one chunk, where every field the checks read is one line over
 * those frames (FrameField.isLine) and so is what the process expects there: each check holds
 * for all the run when it holds at both ends. Returns the run's end when it holds, else minus its
 * end (the slots are then checked one at a time, which also names any problem exactly).
 */
function checkRun(sim: Machine, mm: Machine['mms'][number], t: PteTable, idx: number, s: number): number {
  const kind = t.kindAt(s);
  const p0 = t.pfnAt(s);
  const step = s + 1 < PTRS_PER_PTE && t.pfnAt(s + 1) === p0 - 1 ? -1 : 1;
  // Slots as far as the frames stay in p0's chunk.
  const slot = p0 & (FRAME_CHUNK - 1);
  const limit = Math.min(PTRS_PER_PTE, s + (step === 1 ? FRAME_CHUNK - slot : slot + 1));
  let e = s + 1;
  if (t.isForm) {
    // A form's slots from s (kind and pfns one line) to its end, where the pfns step as the loop below finds.
    if (s + 1 < t.formHi && step === t.formStep) e = Math.min(limit, t.formHi);
  } else {
    const kinds = t.kind;
    const pfns = t.pfn;
    for (let want = p0 + step; e < limit && kinds[e] === kind && pfns[e] === want; want += step) e++;
  }
  const n = e - s;
  if (n < 2) return -e;
  const p1 = p0 + (n - 1) * step;
  const lo = Math.min(p0, p1);
  const hi = Math.max(p0, p1) + 1;
  const f = sim.frames;
  if (!f.zone.isLine(lo, hi) || !f.contentId.isLine(lo, hi) || !f.contentPage.isLine(lo, hi) || !f.flags.isLine(lo, hi) || !f.indexOffset.isLine(lo, hi)) return -e;
  const zone = f.zone.get(p0) as Zone;
  if (f.zone.get(p1) !== zone || !zoneFits(kind as Pte, zone)) return -e;
  // What the process last wrote, as the uniform form has it (arrays: one slot at a time).
  const uniformEnd = t.uniformEnd;
  if (uniformEnd < 0 || (s < uniformEnd && e > uniformEnd)) return -e;
  const expectId = s < uniformEnd ? t.uniformId : 0;
  const page0 = s < uniformEnd ? (t.uniformPage + s) | 0 : 0;
  const page1 = s < uniformEnd ? (t.uniformPage + e - 1) | 0 : 0;
  if (expectId >= 0 && (f.contentId.get(p0) !== expectId || f.contentId.get(p1) !== expectId ||
    f.contentPage.get(p0) !== page0 || f.contentPage.get(p1) !== page1)) return -e;
  const fl = f.flags.get(p0);
  // A PTE-mapped large folio's pages are checked against its first page one at a time.
  if (f.flags.get(p1) !== fl || (fl & (PG_LARGE_HEAD | PG_LARGE_TAIL)) !== 0) return -e;
  if ((fl & (PG_ANON | PG_FILE)) === 0 || (fl & PG_HUGETLB) !== 0 || zone === Zone.ZERO) return e;
  const vpn0 = idx * PTRS_PER_PTE + s;
  const vma = mm.vmas.find(vpn0);
  if (vma === undefined || vpn0 + n > vma.end) return -e;
  if (vma.isHugetlb || vma.isMixedMap) return e;
  const want0 = indexOffsetOf(linearPageIndex(vma, vpn0));
  const want1 = indexOffsetOf(linearPageIndex(vma, vpn0 + n - 1));
  if (want1 - want0 !== n - 1 || f.indexOffset.get(p0) !== want0 || f.indexOffset.get(p1) !== want1) return -e;
  if ((fl & PG_FILE) === 0) {
    const av = f.anonVma.get(p0);
    if (!f.anonVma.isLine(lo, hi) || f.anonVma.get(p1) !== av || !vma.chainsAnonVma(av)) return -e;
  }
  return e;
}

/** The violations over what changed since the last check (`mirrors`: every device page table). */
export function checkInvariants(sim: Machine, mirrors: readonly Dmirror[]): string[] {
  const problems: string[] = [];
  const f = sim.frames;
  for (const mm of sim.mms) {
    if (!mm.alive) {
      mm.pt.dirty.clear();
      continue;
    }
    // The frame store's chunks of the frame looked at last: entries point at runs of frames, so
    // the fields are read straight from the chunk (one not in memory through get()).
    let chunk = -1;
    let zones: Uint8Array | undefined;
    let ids: Int32Array | undefined;
    let pages: Int32Array | undefined;
    let flags: Uint8Array | undefined;
    let indices: Int32Array | undefined;
    // The VMA of the entry looked at last (entries of a PTE page mostly share one).
    let vma: Vma | undefined;
    for (const idx of mm.pt.dirty) {
      const t = mm.pt.table(idx);
      if (t === undefined) continue;
      if (t.pmd === t.ptePage && (t.pmd || t.used > 0)) {
        problems.push(`${where(sim, mm.name, idx, 0)}: the PMD entry is ${t.pmd ? 'huge and a PTE page' : 'none, but entries are mapped under it'}`);
      }
      const uniformEnd = t.uniformEnd;
      // Slots up to `runEnd` were checked as one run (checkRun).
      let runEnd = 0;
      // A form's entries are its slots (the rest pte_none), read without making the arrays.
      const formed = t.isForm;
      for (let s = formed ? t.formLo : 0, sEnd = formed ? t.formHi : PTRS_PER_PTE; s < sEnd; s++) {
        const kind = t.kindAt(s);
        if (kind === Pte.NONE) continue;
        const pfn = t.pfnAt(s);
        if (s >= runEnd && kind !== Pte.MIGRATION) {
          const end = checkRun(sim, mm, t, idx, s);
          runEnd = Math.abs(end);
          if (end > 0) {
            s = end - 1;
            continue;
          }
        }
        if (kind === Pte.MIGRATION) {
          problems.push(`${where(sim, mm.name, idx, s)}: a migration entry outlived its migration`);
          continue;
        }
        if (pfn >>> FRAME_CHUNK_SHIFT !== chunk) {
          chunk = pfn >>> FRAME_CHUNK_SHIFT;
          zones = f.zone.peek(pfn);
          ids = f.contentId.peek(pfn);
          pages = f.contentPage.peek(pfn);
          flags = f.flags.peek(pfn);
          indices = f.indexOffset.peek(pfn);
        }
        const slot = pfn & (FRAME_CHUNK - 1);
        const zone = (zones === undefined ? f.zone.get(pfn) : zones[slot]!) as Zone;
        if (!zoneFits(kind, zone)) {
          problems.push(`${where(sim, mm.name, idx, s)}: ${ENTRY_NAME[kind]} entry points at a frame in zone ${ZONE_NAME[zone] ?? zone} (pfn ${pfn})`);
          continue;
        }
        // The uniform form read as it is (expectId would make the arrays).
        const expectId = uniformEnd < 0 ? t.expectId[s]! : s < uniformEnd ? t.uniformId : 0;
        const expectPage = uniformEnd < 0 ? t.expectPage[s]! : s < uniformEnd ? (t.uniformPage + s) | 0 : 0;
        if (expectId >= 0 && (expectId !== (ids === undefined ? f.contentId.get(pfn) : ids[slot]!) ||
          expectPage !== (pages === undefined ? f.contentPage.get(pfn) : pages[slot]!)) &&
          !sim.contents.samePage(expectId, expectPage, f.contentId.get(pfn), f.contentPage.get(pfn))) {
          problems.push(`${where(sim, mm.name, idx, s)}: data lost: the page holds ${sim.contents.describe(f.contentId.get(pfn))} but ${sim.contents.describe(expectId)} was last written`);
        }
        const fl = flags === undefined ? f.flags.get(pfn) : flags[slot]!;
        if ((fl & (PG_LARGE_HEAD | PG_LARGE_TAIL)) !== 0) {
          const head = pfn - (pfn % HPAGE_PMD_NR);
          if ((f.flags.get(head) & PG_LARGE_HEAD) === 0 || f.refcount.get(head) <= 0 || f.refcount.get(pfn) !== (pfn === head ? f.refcount.get(head) : 0)) {
            problems.push(`${where(sim, mm.name, idx, s)}: a page of a PTE-mapped large folio (pfn ${pfn}) whose folio is not held whole: its first page has ${(f.flags.get(head) & PG_LARGE_HEAD) === 0 ? 'left the folio' : `${f.refcount.get(head)} references`}, this page ${f.refcount.get(pfn)}`);
          }
        }
        if ((fl & (PG_ANON | PG_FILE)) === 0 || (fl & PG_HUGETLB) !== 0 || zone === Zone.ZERO) continue;
        const vpn = idx * PTRS_PER_PTE + s;
        if (vma === undefined || vpn < vma.start || vpn >= vma.end) vma = mm.vmas.find(vpn);
        if (vma === undefined || vma.isHugetlb || vma.isMixedMap) continue;
        const index = indices === undefined ? f.indexOffset.get(pfn) : indices[slot]!;
        if (index !== indexOffsetOf(linearPageIndex(vma, vpn))) {
          problems.push(`${where(sim, mm.name, idx, s)}: page->index ${f.indexOf(pfn)} is not where the VMA maps it (linear_page_index ${linearPageIndex(vma, vpn)}): the rmap would not find it`);
        }
        if ((fl & PG_FILE) === 0 && !vma.chainsAnonVma(f.anonVma.get(pfn))) {
          problems.push(`${where(sim, mm.name, idx, s)}: the page's anon_vma (${f.anonVma.get(pfn)}) is not in its VMA's anon_vma_chain: the rmap walk would not find it`);
        }
      }
    }
  }
  for (const m of mirrors) checkMirror(sim, m, problems);
  for (const mm of sim.mms) mm.pt.dirty.clear();
  for (const d of sim.devices) {
    if (d.used < 0 || d.used > d.capacityPages) problems.push(`${d.name}: ${d.used} pages in use of ${d.capacityPages}`);
  }
  return problems;
}

/** Each entry of mirror `m`'s device page table against the CPU's, over the pages that changed. */
function checkMirror(sim: Machine, m: Dmirror, problems: string[]): void {
  // The mirror's pages, then the CPU's that it did not list (each once, in that order).
  const cpu = m.mm.pt.dirty;
  for (const idx of m.dirty) checkMirrorPage(sim, m, idx, problems);
  for (const idx of cpu) if (!m.dirty.has(idx)) checkMirrorPage(sim, m, idx, problems);
  m.dirty.clear();
}

/** checkMirror's checks over dpt page `idx`. */
function checkMirrorPage(sim: Machine, m: Dmirror, idx: number, problems: string[]): void {
  const d = m.pt.get(idx);
  if (d === undefined) return;
  const t = m.mm.pt.table(idx);
  const raw = d.raw;
  // Both tables' forms read as they are (no arrays made): a form on each side that maps the
  // same frames with entries that fit every tag is checked at once.
  if (d.isForm && (t === undefined || t.isForm)) {
    if (d.formLo === d.formHi) return;
    if (t !== undefined && t.formLo <= d.formLo && t.formHi >= d.formHi && t.pfnAt(d.formLo) === d.formPfn &&
      (d.formHi - d.formLo === 1 || t.formStep === d.formStep) && (d.formTag !== 3 || (t.formBits & PTE_WRITE) !== 0) &&
      (d.formTag !== 1 || t.formKind === Pte.DEVICE_EXCLUSIVE)) return;
  }
  const formed = d.isForm;
  for (let s = formed ? d.formLo : 0, sEnd = formed ? d.formHi : PTRS_PER_PTE; s < sEnd; s++) {
    const tag = d.tagAt(s);
    if (tag === 0) continue;
    // A raw entry (the device's own private struct page, which dmirror_do_fault stored) is
    // never kept in step with the CPU: a fault that migrates the page back leaves it there
    // in the faulting process's mirror (MMU_NOTIFY_MIGRATE skipped on owner match), and any
    // use of it oopses (rawEntryOops), on Linux as in the model.
    if (raw !== undefined && raw[s] === 1) continue;
    const kind = t === undefined ? Pte.NONE : t.kindAt(s);
    if (kind === Pte.NONE || t!.pfnAt(s) !== d.pfnAt(s)) {
      problems.push(`${where(sim, `${m.device.name} mirror of ${m.mm.name}`, idx, s)}: the device still maps a page the CPU no longer maps there`);
      continue;
    }
    if (tag === 3 && (t!.bitsAt(s) & PTE_WRITE) === 0) {
      problems.push(`${where(sim, `${m.device.name} mirror of ${m.mm.name}`, idx, s)}: the device maps writable a page the CPU maps read-only`);
    }
    if (tag === 1 && kind !== Pte.DEVICE_EXCLUSIVE) {
      problems.push(`${where(sim, `${m.device.name} mirror of ${m.mm.name}`, idx, s)}: an atomic device mapping without a device-exclusive CPU entry`);
    }
  }
}
