// ZONE_DEVICE memory (mm/memremap.c, struct dev_pagemap): device-private or device-coherent
// frames hot-plugged in chunks, a LIFO free list of base pages and one of PMD-sized folios,
// as lib/test_hmm.c keeps them, and the pagemap ops migrate_to_ram / page_free.

import { HPAGE_PMD_NR } from './constants';
import { FrameStack } from './frameStore';
import { forEachFrameRun, type PageFrames, Zone } from './page';
import type { KernelWork } from './kernelWork';
import { ScratchUint8 } from './scratch';

/** lib/test_hmm.c DEVMEM_CHUNK_SIZE: 256 MiB of 4 KiB pages. */
export const DEVMEM_CHUNK_PAGES = 65536;

export type DeviceMemoryType = 'private' | 'coherent';

/** What the CPU fault path needs to hand a device-private page back: struct vm_fault. */
export interface VmFault {
  readonly mmId: number;
  readonly vpn: number;
  readonly write: boolean;
  /** The faulting device page (vmf->page). */
  readonly pfn: number;
}

/** struct dev_pagemap_ops. */
export interface DevPagemapOps {
  migrateToRam(vmf: VmFault): KernelWork<number>;
  pageFree(pfn: number): void;
}

interface Chunk {
  readonly start: number;
  readonly pages: number;
  /** Never-used frames start here. */
  fresh: number;
}

export interface DeviceState {
  readonly chunks: readonly Chunk[];
  readonly freeList: Int32Array;
  readonly freeHuge: Int32Array;
  readonly used: number;
  readonly leakedRefs: readonly number[];
}

export class Device {
  readonly chunks: Chunk[] = [];
  private readonly freeList = new FrameStack();
  private readonly freeHuge = new FrameStack();
  /** Frames holding pages (allocated, not yet freed). */
  used = 0;
  /**
   * Pages that hold a reference nobody will drop (6.12's eviction of a device-exclusive coherent
   * page, profile.ts evictExclusiveLeaks): never freed, and migrate_vma_check_page refuses them.
   */
  readonly leakedRefs = new Set<number>();
  ops: DevPagemapOps | undefined;
  /** Whether the last allocation came from a chunk's never-used frames (see initFrame). */
  private tookNeverUsed = false;
  /** allocBaseRun's never-used marks. */
  private readonly freshMarks = new ScratchUint8();
  constructor(
    /** Index in the simulator's device table; also the pgmap owner identity. */
    readonly index: number,
    readonly name: string,
    readonly type: DeviceMemoryType,
    readonly capacityPages: number,
    readonly link: string,
    readonly policy: 'migrate' | 'mirror',
  ) {}

  get zone(): Zone {
    return this.type === 'private' ? Zone.DEVICE_PRIVATE : Zone.DEVICE_COHERENT;
  }

  private addChunk(frames: PageFrames): Chunk | undefined {
    const have = this.chunks.reduce((n, c) => n + c.pages, 0);
    const pages = Math.min(DEVMEM_CHUNK_PAGES, this.capacityPages - have);
    if (pages <= 0) return undefined;
    const start = frames.reserve(pages, HPAGE_PMD_NR);
    const chunk = { start, pages, fresh: start };
    this.chunks.push(chunk);
    return chunk;
  }

  /** Allocate a device page (order 0) or a PMD-sized folio (order 9); -1 when full. */
  alloc(frames: PageFrames, order: 0 | 9): number {
    this.tookNeverUsed = false;
    const pfn = order === 0 ? this.allocBase(frames) : this.allocHuge(frames);
    if (pfn < 0) return -1;
    frames.initFrame(pfn, order, this.zone, this.index, 0, this.tookNeverUsed);
    this.used += 1 << order;
    return pfn;
  }

  /**
   * alloc(frames, 0) `n` times, into `out`: the same frames in the same order, their fields
   * written a run at a time. The caller checks that `n` pages are free (freePages), so none fails.
   */
  allocBaseRun(frames: PageFrames, n: number, out: Int32Array): void {
    const fresh = this.freshMarks.zeroed(n);
    for (let k = 0; k < n;) {
      // allocBase's first two sources a run at a time: the free list's top run, then the last
      // chunk's never-used frames.
      const popped = this.freeList.popRun(out, k, n - k);
      if (popped > 0) {
        k += popped;
        continue;
      }
      const last = this.chunks[this.chunks.length - 1];
      if (last !== undefined && last.fresh < last.start + last.pages) {
        const m = Math.min(n - k, last.start + last.pages - last.fresh);
        for (let j = 0; j < m; j++) out[k + j] = last.fresh + j;
        fresh.fill(1, k, k + m);
        last.fresh += m;
        k += m;
        continue;
      }
      this.tookNeverUsed = false;
      const pfn = this.allocBase(frames);
      if (pfn < 0) throw new Error(`${this.name}: ${n} pages asked with ${this.freePages} free`);
      out[k] = pfn;
      fresh[k] = this.tookNeverUsed ? 1 : 0;
      k++;
    }
    frames.initFrames(out, n, fresh, this.zone, this.index, 0);
    this.used += n;
  }

  private allocBase(frames: PageFrames): number {
    const free = this.freeList.pop();
    if (free !== undefined) return free;
    this.tookNeverUsed = true;
    const last = this.chunks[this.chunks.length - 1];
    if (last !== undefined && last.fresh < last.start + last.pages) return last.fresh++;
    for (const c of this.chunks) if (c.fresh < c.start + c.pages) return c.fresh++;
    const c = this.addChunk(frames);
    if (c !== undefined) return c.fresh++;
    this.tookNeverUsed = false;
    const huge = this.freeHuge.pop();
    if (huge === undefined) return -1;
    for (let p = huge + HPAGE_PMD_NR - 1; p > huge; p--) this.freeList.push(p);
    return huge;
  }

  private allocHuge(frames: PageFrames): number {
    const free = this.freeHuge.pop();
    if (free !== undefined) return free;
    this.tookNeverUsed = true;
    const take = (c: Chunk): number => {
      const aligned = Math.ceil(c.fresh / HPAGE_PMD_NR) * HPAGE_PMD_NR;
      if (aligned + HPAGE_PMD_NR > c.start + c.pages) return -1;
      for (let p = c.fresh; p < aligned; p++) this.freeList.push(p);
      c.fresh = aligned + HPAGE_PMD_NR;
      return aligned;
    };
    for (const c of this.chunks) {
      const p = take(c);
      if (p >= 0) return p;
    }
    const c = this.addChunk(frames);
    return c === undefined ? -1 : take(c);
  }

  /** Called when a device frame's last reference goes: page_free, then back on a free list. */
  free(frames: PageFrames, pfn: number): void {
    const order = frames.order.get(pfn);
    const n = 1 << order;
    this.ops?.pageFree(pfn);
    frames.freeFrames(pfn, n);
    this.used -= n;
    if (order === 0) this.freeList.push(pfn);
    else this.freeHuge.push(pfn);
  }

  /** free(frames, pfns[k]) for k of [0, n), in that order, of base pages: a run of frames at a time. */
  freeBaseRun(frames: PageFrames, pfns: Int32Array, n: number): void {
    for (let k = 0; k < n; k++) this.ops?.pageFree(pfns[k]!);
    forEachFrameRun(pfns, n, undefined, (_k, len, _a, _step, lo) => frames.freeFrames(lo, len));
    this.used -= n;
    this.freeList.pushRun(pfns, n);
  }

  save(): DeviceState {
    return {
      chunks: this.chunks.map((c) => ({ ...c })), freeList: this.freeList.save(), freeHuge: this.freeHuge.save(), used: this.used,
      leakedRefs: [...this.leakedRefs],
    };
  }

  load(s: DeviceState): void {
    this.chunks.length = 0;
    this.chunks.push(...s.chunks.map((c) => ({ ...c })));
    this.freeList.load(s.freeList);
    this.freeHuge.load(s.freeHuge);
    this.used = s.used;
    this.leakedRefs.clear();
    for (const p of s.leakedRefs) this.leakedRefs.add(p);
  }

  get freePages(): number {
    return this.capacityPages - this.used;
  }
}
