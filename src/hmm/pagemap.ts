// What one page of a process is, read without changing anything (as /proc/PID/pagemap reads the
// page table, fs/proc/task_mmu.c): its residency for `expect … is STATE` and the views, and the
// contents the process would read there without faulting.

import type { Machine } from './machine';
import type { Mm } from './mm';
import { Zone } from './page';
import { PTRS_PER_PTE } from './constants';
import { exclusiveMaker, Pte, PTE_WRITE, pteIndex } from './pgtable';

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
  const kind = t === undefined ? Pte.NONE : (t.kind[s] as Pte);
  if (kind === Pte.NONE) return { kind: 'empty' };
  const f = sim.frames;
  const pfn = t!.pfn[s]!;
  const head = f.head(pfn);
  const writable = (t!.bits[s]! & PTE_WRITE) !== 0;
  const shared = f.mapcount.get(t!.pmd ? head : pfn) > 1 || (vma.isShared && sim.mms.filter((m) => m.alive && m.pt.lookup(vpn)?.pfn[s] === pfn).length > 1);
  const pinned = f.pincount.get(f.folioHead(pfn)) > 0;
  const huge = t!.pmd;
  const zone = f.zone.get(pfn) as Zone;
  if (kind === Pte.DEVICE_EXCLUSIVE) {
    return { kind: 'exclusive', device: sim.devices[exclusiveMaker(t!.bits[s]!)]?.name, writable, shared, pinned, pfn, huge };
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
  if (t === undefined || t.kind[s] === Pte.NONE) {
    if (vma.object === undefined) return [0, 0];
    const idx = vma.filePage(vpn);
    const cached = vma.object.pages.get(idx);
    if (cached !== undefined) return [sim.frames.contentId.get(cached), sim.frames.contentPage.get(cached)];
    return [vma.object.initContent, idx];
  }
  const pfn = t.pfn[s]!;
  return [sim.frames.contentId.get(pfn), sim.frames.contentPage.get(pfn)];
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
    // Entries read as the table holds them (a form makes no arrays).
    for (let s = s0; s < s0 + n; s++) {
      if (t.kindAt(s) === Pte.NONE) return v + (s - s0);
      const pfn = t.pfnAt(s);
      if (ids.get(pfn) !== id || (!constant && pages.get(pfn) !== ((first + s) | 0))) return v + (s - s0);
    }
    v += n;
  }
  return stop;
}
