// Page references (get_page / put_page; __folio_put in mm/swap.c): the last reference frees the
// folio, to the system free list or, for device memory, through the pagemap's page_free
// (free_zone_device_folio, mm/memremap.c). A folio's references are counted on folioHead: a
// PTE-mapped large folio is freed whole with its last one, not page by page as its pages are
// unmapped (Linux queues it for a deferred split, which only memory pressure runs).

import { type Machine, SimError } from './machine';
import { forEachFrameRun, PG_HUGETLB, PG_LARGE_HEAD, PG_LARGE_TAIL, PG_TAIL, Zone } from './page';
import { ScratchInt32 } from './scratch';
import { chunkRoom, FieldRuns } from './frameStore';

/** What taking and dropping a page reference uses of the machine. */
export type PageRefMachine = Pick<Machine, 'frames' | 'deviceOfPfn'>;

/** get_page: one more reference on the folio (the shared zero pages are not counted). */
export function getPage(sim: PageRefMachine, pfn: number): void {
  const f = sim.frames;
  const head = f.folioHead(pfn);
  const zone = f.zone.get(head) as Zone;
  if (zone === Zone.ZERO) return;
  if (zone === Zone.FREE) throw new SimError(`get_page on a free frame ${head}`);
  f.refcount.add(head, 1);
}

/** put_page: the last reference frees the folio (page_free for device pages). */
export function putPage(sim: PageRefMachine, pfn: number): void {
  const f = sim.frames;
  const head = f.folioHead(pfn);
  const zone = f.zone.get(head) as Zone;
  if (zone === Zone.ZERO) return;
  if (zone === Zone.FREE) throw new SimError(`put_page on a free frame ${head}`);
  f.refcount.add(head, -1);
  if (f.refcount.get(head) > 0) return;
  freeFolio(sim, head);
}

/** __folio_put: a folio (first frame `head`) whose last reference went is freed, whole. */
export function freeFolio(sim: PageRefMachine, head: number): void {
  const f = sim.frames;
  if ((f.flags.get(head) & PG_LARGE_HEAD) !== 0) f.rejoinLargeFolio(head);
  if (f.zone.get(head) === Zone.SYSTEM) f.freeSystemFrame(head);
  else sim.deviceOfPfn(head).free(f, head);
}

/**
 * putPage(pfns[k]) for k of [0, n), in that order. Base pages dropping their last reference
 * are freed a run at a time (system pages, or one device's); any other page goes through putPage.
 */
/** putPages' run of frames to free. */
const putRun = new ScratchInt32();

/** putPages' dropped references, written a run of frames at a time. */
const putRefs = new FieldRuns();

/** Frames a run must hold for putPages to read it a run at a time. */
const PUT_RUN_MIN = 8;

/** How many of pfns[k], pfns[k + 1], … (below n) are frames one after the other, up or down, in one chunk. */
function frameRunLength(pfns: Int32Array, k: number, n: number): number {
  if (k + 1 >= n) return 1;
  const a = pfns[k]!;
  const step = pfns[k + 1]! - a;
  if (step !== 1 && step !== -1) return 1;
  // Bounded once by a's chunk.
  const limit = Math.min(n, k + chunkRoom(a, step));
  let j = k + 1;
  for (let want = a + step; j < limit && pfns[j] === want; want += step) j++;
  return j - k;
}

export function putPages(sim: PageRefMachine, pfns: Int32Array, n: number): void {
  const f = sim.frames;
  const run = putRun.get(n);
  const refs = putRefs.begin(f.refcount);
  let m = 0;
  /** The zone and device of the frames in `run`. */
  let runZone = Zone.FREE;
  let runDevice = -1;
  const flush = (): void => {
    refs.flush();
    if (m === 0) return;
    if (runZone === Zone.SYSTEM) {
      forEachFrameRun(run, m, undefined, (_k, len, _a, _step, lo) => f.freeFrames(lo, len));
      f.systemInUse -= m;
      f.pushFreeSystem(run, m);
    } else {
      sim.deviceOfPfn(run[0]!).freeBaseRun(f, run, m);
    }
    m = 0;
  };
  for (let k = 0; k < n; k++) {
    const p = pfns[k]!;
    // Frames one after the other in one chunk, each a base page with its last reference: what
    // the test below finds of each page, read a run at a time (the fields' levels).
    const len = frameRunLength(pfns, k, n);
    if (len >= PUT_RUN_MIN) {
      const lo = pfns[k + len - 1]! < p ? pfns[k + len - 1]! : p;
      const hi = lo + len;
      // A page put earlier in this call reads its reference gone.
      refs.flush();
      const zone = f.zone.levelOf(lo, hi);
      const flags = f.flags.levelOf(lo, hi);
      if (zone !== undefined && zone !== Zone.FREE && zone !== Zone.ZERO && f.refcount.levelOf(lo, hi) === 1 && f.order.levelOf(lo, hi) === 0 &&
        flags !== undefined && (flags & (PG_TAIL | PG_HUGETLB | PG_LARGE_HEAD | PG_LARGE_TAIL)) === 0) {
        const device = zone === Zone.SYSTEM ? -1 : f.device.levelOf(lo, hi);
        if (device !== undefined) {
          if (m > 0 && (zone !== runZone || device !== runDevice)) flush();
          runZone = zone;
          runDevice = device;
          f.refcount.fill(lo, hi, 0);
          run.set(pfns.subarray(k, k + len), m);
          m += len;
          k += len - 1;
          continue;
        }
      }
    }
    // The same page put twice: its reference went already (read it so).
    if (refs.holds(p)) refs.flush();
    const zone = f.zone.get(p) as Zone;
    const base = zone !== Zone.FREE && zone !== Zone.ZERO && f.refcount.get(p) === 1 && f.order.get(p) === 0 &&
      (f.flags.get(p) & (PG_TAIL | PG_HUGETLB | PG_LARGE_HEAD | PG_LARGE_TAIL)) === 0;
    if (!base) {
      flush();
      putPage(sim, p);
      continue;
    }
    const device = zone === Zone.SYSTEM ? -1 : f.device.get(p);
    if (m > 0 && (zone !== runZone || device !== runDevice)) flush();
    runZone = zone;
    runDevice = device;
    // The reference goes now, so the same page put twice fails as putPage would, not freed twice.
    refs.put(p, 0);
    run[m++] = p;
  }
  flush();
}
