// migrate_device_range's eviction a run of pages at a time (range batching, batching.ts): after
// a device-private page was evicted page by page (migrateDevice.ts), the pages that follow it in
// the pfn list and in its process's address space, each mapped once there and by no other VMA's
// offsets, are evicted together: the same frames in the same order, the same entries, counts,
// notifier sequence numbers, callbacks and events as page-by-page eviction leaves, each
// callback's record and event coalescing into the one before as they would one at a time.

import { rangeBatching } from './batching';
import { PTRS_PER_PTE } from './constants';
import { chunkRoom, FieldRuns } from './frameStore';
import type { Machine } from './machine';
import type { Device } from './memremap';
import type { Mm } from './mm';
import { invalidateRangesDone, invalidatesNow } from './mmuNotifier';
import { indexOffsetOf, PG_HEAD, PG_HUGETLB, PG_LARGE_HEAD, PG_LARGE_TAIL, PG_TAIL } from './page';
import { Pte, PTE_DIRTY, PTE_WRITE, pteIndex, type PteTable } from './pgtable';
import { ScratchInt32 } from './scratch';
import { putPages } from './swap';
import { vmaRange, vmPgoffDelta } from './vmaAddress';

const srcRun = new ScratchInt32();
const dstRun = new ScratchInt32();
const fieldRuns = new FieldRuns();
/** Pages evicted in runs since the process started (the tests check that runs are taken). */
let runPages = 0;

export function evictedInRuns(): number {
  return runPages;
}

/**
 * How many of the `max` entries from slot `s` of PTE page `t` are device-private entries of
 * pfns[at], pfns[at + 1], …, frames one after the other (up or down) in one frame chunk.
 */
function deviceEntryRun(t: PteTable, pfns: readonly number[], at: number, s: number, max: number): number {
  const p0 = pfns[at]!;
  if (p0 < 0) return 0;
  const step = max > 1 && pfns[at + 1] === p0 - 1 ? -1 : 1;
  const n = Math.min(max, chunkRoom(p0, step));
  let k = 0;
  for (let want = p0; k < n && pfns[at + k] === want && t.kind[s + k] === Pte.DEVICE_PRIVATE && t.pfn[s + k] === want; want += step) k++;
  return k;
}

/**
 * Evict pfns[from], pfns[from + 1], … as migrateDeviceRange would one at a time, when the page
 * before them was just evicted from `prevVpn` of `mm` and each is the device-private page
 * mapped at the next page of `mm`: a base page, mapped there only (its rmap walk visits that VMA
 * alone, as no other VMA of a live process covers its offset), with the same flags. What each
 * page keeps (contents, page->index, anon_vma) goes to its new page as migration moves it. Returns how
 * many it evicted, 0 when the next page is not such a page or when the run's callbacks or events
 * would not coalesce as one-page ones (the caller then goes on page by page).
 */
export function evictRunAfter(sim: Machine, device: Device, pfns: readonly number[], from: number,
  mm: Mm, prevVpn: number, cause: string, eventKey: string): number {
  if (!rangeBatching() || device.type !== 'private' || device.leakedRefs.size > 0 || from >= pfns.length) return 0;
  if (!invalidatesNow(sim, mm) || mm.notifiers.length > 1) return 0;
  const start = prevVpn + 1;
  const sub = mm.notifiers[0];
  if (sub !== undefined && (sub.ops.continuesClearAt === undefined || sub.ops.invalidateClearRun === undefined ||
    sub.start > start || !sub.ops.continuesClearAt(start))) return 0;
  const eMigrate = sim.openEventAt(eventKey, start);
  if (eMigrate === undefined) return 0;
  const t = mm.pt.lookup(start);
  const ref = mm.vmas.find(start);
  if (t === undefined || t.pmd || ref === undefined) return 0;
  const f = sim.frames;
  const delta = vmPgoffDelta(ref);
  const s0 = pteIndex(start);
  const limit = Math.min(pfns.length - from, PTRS_PER_PTE - s0, ref.end - start, sub === undefined ? Infinity : sub.end - start);
  const flags = f.flags.get(pfns[from]!);
  if ((flags & (PG_HEAD | PG_TAIL | PG_LARGE_HEAD | PG_LARGE_TAIL | PG_HUGETLB)) !== 0) return 0;
  const src = srcRun.get(limit);
  let n = 0;
  while (n < limit) {
    // Entries mapping the next pfns, frames one after the other in one chunk: their fields
    // checked a run at a time where each reads one value and page->index climbs page by page.
    const k = deviceEntryRun(t, pfns, from + n, s0 + n, limit - n);
    if (k > 1) {
      const p0 = pfns[from + n]!;
      const p1 = pfns[from + n + k - 1]!;
      const lo = Math.min(p0, p1);
      const hi = Math.max(p0, p1) + 1;
      if (f.zone.levelOf(lo, hi) === device.zone && f.flags.levelOf(lo, hi) === flags && f.order.levelOf(lo, hi) === 0 &&
        f.mapcount.levelOf(lo, hi) === 1 && f.indexOf(p0) === start + n + delta && f.indexOf(p1) === start + n + k - 1 + delta &&
        f.indexOffset.get(p1) - f.indexOffset.get(p0) === k - 1 && f.indexOffset.isLine(lo, hi)) {
        for (let j = 0; j < k; j++) src[n + j] = pfns[from + n + j]!;
        n += k;
        continue;
      }
    }
    // Else page by page over those entries (at least one), up to the first that does not qualify.
    const stop = n + Math.max(k, 1);
    for (; n < stop; n++) {
      const p = pfns[from + n]!;
      const s = s0 + n;
      if (t.kind[s] !== Pte.DEVICE_PRIVATE || t.pfn[s] !== p || f.zone.get(p) !== device.zone || f.flags.get(p) !== flags ||
        f.order.get(p) !== 0 || f.mapcount.get(p) !== 1 || f.indexOf(p) !== start + n + delta) break;
      src[n] = p;
    }
    if (n < stop) break;
  }
  if (n === 0) return 0;
  // Only `ref` maps the run's offsets: an rmap walk visits only VMAs that cover a page's offset
  // (whatever anon_vma tree it walks), so each page's visits `ref` alone, where the page is
  // mapped, and the look for its mappings finds that entry alone.
  for (const m of sim.mms) {
    if (!m.alive) continue;
    for (const v of m.vmas.list) if (v !== ref && vmaRange(v, start + delta, n) !== undefined) return 0;
  }

  // The destination frames, as n calls of allocSystem give them, and the contents.
  const dst = dstRun.get(n);
  f.allocSystemRun(n, flags, dst);
  f.copyContents(src, 0, dst, n);
  // Each page's MMU_NOTIFY_CLEAR over its one page, then the entry replaced under it.
  const seq = invalidateRangesDone(sim, mm, n, sub === undefined ? 0 : 1);
  if (sub !== undefined) sub.ops.invalidateClearRun!(sub, start, n, seq, sim.timing.notifierCallbackNs);
  for (let k = 0; k < n; k++) {
    const s = s0 + k;
    const w = t.bits[s]! & PTE_WRITE;
    t.kind[s] = Pte.PRESENT;
    t.pfn[s] = dst[k]!;
    t.bits[s] = w ? w | PTE_DIRTY : 0;
  }
  t.setPmd(false);
  mm.pt.markDirty(start);
  const mapcounts = fieldRuns.begin(f.mapcount);
  for (let k = 0; k < n; k++) mapcounts.put(dst[k]!, 1);
  mapcounts.flush();
  for (let k = 0; k < n; k++) mapcounts.put(src[k]!, 0);
  mapcounts.flush();
  // folio_migrate_mapping keeps page->index and the anon_vma.
  const index = fieldRuns.begin(f.indexOffset);
  for (let k = 0; k < n; k++) index.put(dst[k]!, indexOffsetOf(start + k + delta));
  index.flush();
  const anonVma = fieldRuns.begin(f.anonVma);
  for (let k = 0; k < n; k++) anonVma.put(dst[k]!, f.anonVma.get(src[k]!));
  anonVma.flush();
  putPages(sim, src, n);
  sim.deviceStats(device).pagesOut += n;
  sim.coalesceRun(eMigrate, n, {
    kind: 'migrate', phase: 'finalize', device: device.name, direction: 'to-system', collected: n, migrated: n, skipped: [], cause,
  });
  runPages += n;
  return n;
}
