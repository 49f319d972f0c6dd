// What one page of a process is, read without changing anything (as /proc/PID/pagemap reads the
// page table, fs/proc/task_mmu.c): its residency for `expect … is STATE` and the views, and the
// contents the process would read there without faulting.

import type { Machine } from './machine';
import type { Mm } from './mm';
import { Zone } from './page';
import { PTRS_PER_PTE } from './constants';
import { exclusiveMaker, Pte, PTE_WRITE, pteIndex, type PteTable } from './pgtable';
import { rangeBatching } from './batching';
import { chunkRoom, type FieldArray, type FrameField } from './frameStore';

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

export type PagemapMachine = Pick<Machine, 'frames' | 'devices' | 'mms'>;

export function pageState(sim: PagemapMachine, mm: Mm, vpn: number): PageState {
  const vma = mm.vmas.find(vpn);
  if (vma === undefined) return { kind: 'unmapped' };
  const t = mm.pt.lookup(vpn);
  const s = pteIndex(vpn);
  // Read as the table holds them (a form's entries make no arrays here).
  const kind = t === undefined ? Pte.NONE : t.kindAt(s);
  if (kind === Pte.NONE) return { kind: 'empty' };
  const f = sim.frames;
  const pfn = t!.pfnAt(s);
  const head = f.head(pfn);
  const writable = (t!.bitsAt(s) & PTE_WRITE) !== 0;
  const shared = f.mapcount.get(t!.pmd ? head : pfn) > 1 || (vma.isShared && sim.mms.filter((m) => m.alive && m.pt.lookup(vpn)?.pfnAt(s) === pfn).length > 1);
  const pinned = f.pincount.get(f.folioHead(pfn)) > 0;
  const huge = t!.pmd;
  const zone = f.zone.get(pfn) as Zone;
  if (kind === Pte.DEVICE_EXCLUSIVE) {
    return { kind: 'exclusive', device: sim.devices[exclusiveMaker(t!.bitsAt(s))]?.name, writable, shared, pinned, pfn, huge };
  }
  if (zone === Zone.ZERO) return { kind: 'zero', writable: false, shared: true, pfn, huge };
  if (zone === Zone.DEVICE_PRIVATE || zone === Zone.DEVICE_COHERENT) {
    return { kind: 'device', device: sim.devices[f.device.get(pfn)]!.name, writable, shared, pinned, pfn, huge };
  }
  return { kind: 'system', writable, shared, pinned, pfn, huge };
}

/** Content of what the process would read at `vpn` without faulting: [id, page] or undefined. */
export function pageContent(sim: Pick<Machine, 'frames'>, mm: Mm, vpn: number): [number, number] | undefined {
  const vma = mm.vmas.find(vpn);
  if (vma === undefined) return undefined;
  const t = mm.pt.lookup(vpn);
  const s = pteIndex(vpn);
  // Read as the table holds them (a form's entries make no arrays here).
  if (t === undefined || t.kindAt(s) === Pte.NONE) {
    if (vma.object === undefined) return [0, 0];
    const idx = vma.filePage(vpn);
    const cached = vma.object.pages.get(idx);
    if (cached !== undefined) return [sim.frames.contentId.get(cached), sim.frames.contentPage.get(cached)];
    return [vma.object.initContent, idx];
  }
  const pfn = t.pfnAt(s);
  return [sim.frames.contentId.get(pfn), sim.frames.contentPage.get(pfn)];
}

/**
 * firstPlainMismatch's slots [s, e) of form table `t`, all mapped: from s, the end of the pieces
 * (frames in one chunk) whose pages all hold what is expected, read a piece at a time.
 */
function formRunEnd(ids: FrameField<FieldArray>, pages: FrameField<FieldArray>, t: PteTable, s: number, e: number, id: number, first: number, constant: boolean): number {
  const step = t.formStep;
  while (s < e) {
    const pfn0 = t.pfnAt(s);
    const n = Math.min(e - s, chunkRoom(pfn0, step));
    const last = pfn0 + (n - 1) * step;
    const lo = step === 1 ? pfn0 : last;
    const hi = lo + n;
    if (ids.levelOf(lo, hi) !== id) return s;
    const want0 = (first + s) | 0;
    const want1 = (first + s + n - 1) | 0;
    if (!constant && (want1 - want0 !== n - 1 || !pages.isLine(lo, hi) || pages.get(pfn0) !== want0 || pages.get(last) !== want1)) return s;
    s += n;
  }
  return s;
}

/**
 * The first page of [start, end) (one VMA's pages) that does not plainly hold content (id, page +
 * its distance from start) — `page` is ignored for a constant content, every page of which reads
 * alike — or `end`: a long `expect` walks the entries a PTE page at a time, and looks at a page
 * the slow way (pageContent, ContentStore.firstMismatch) only from the first one returned.
 */
export function firstPlainMismatch(sim: Pick<Machine, 'frames'>, mm: Mm, start: number, end: number, id: number, page: number, constant: boolean): number {
  const vma = mm.vmas.find(start);
  if (vma === undefined) return start;
  const stop = Math.min(end, vma.end);
  const ids = sim.frames.contentId;
  const pages = sim.frames.contentPage;
  for (let v = start; v < stop;) {
    const t = mm.pt.lookup(v);
    if (t === undefined) return v;
    const s0 = pteIndex(v);
    const n = Math.min(stop - v, PTRS_PER_PTE - s0);
    // The page expected at slot s is page + (v - start) + (s - s0).
    const first = (page + (v - start) - s0) | 0;
    // Entries read as the table holds them (a form makes no arrays); a form's slots a chunk of
    // frames at a time when their contents are one line (range batching's).
    let s = s0;
    if (t.isForm && s >= t.formLo && rangeBatching()) s = formRunEnd(ids, pages, t, s, Math.min(s0 + n, t.formHi), id, first, constant);
    for (; s < s0 + n; s++) {
      if (t.kindAt(s) === Pte.NONE) return v + (s - s0);
      const pfn = t.pfnAt(s);
      if (ids.get(pfn) !== id || (!constant && pages.get(pfn) !== ((first + s) | 0))) return v + (s - s0);
    }
    v += n;
  }
  return stop;
}
