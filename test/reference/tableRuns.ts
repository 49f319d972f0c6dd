// The per-page-table runs of src/hmm/tableRuns.ts as they were first written: each slot's key
// through PageFrames' accessors (head, folioHead, the fields' get), one call per slot. The
// scanners there read the fields' chunks directly; the tests hold them to these. (The runs are
// collected by the same SlotRuns: what differs, and is compared, is how each slot's key is read.)

import { PTRS_PER_PTE } from '../../src/hmm/constants';
import type { DptPage } from '../../src/hmm/mirror';
import { type PageFrames, Zone } from '../../src/hmm/page';
import { Pte, PTE_WRITE, type PteTable } from '../../src/hmm/pgtable';
import { CPU_KEY, DEVICE_KEY, SlotRuns } from '../../src/hmm/tableRuns';

export function cpuKey(f: PageFrames, t: PteTable, s: number, kind: Pte, pfn: number): number {
  const head = f.head(pfn);
  const bits = t.bits[s]!;
  return kind | ((f.zone.get(pfn) & 7) << CPU_KEY.zoneShift) | ((bits & PTE_WRITE) !== 0 ? CPU_KEY.writable : 0) |
    (f.mapcount.get(t.pmd ? head : pfn) > 1 ? CPU_KEY.shared : 0) | (f.pincount.get(f.folioHead(pfn)) > 0 ? CPU_KEY.pinned : 0) |
    (t.pmd ? CPU_KEY.huge : 0) | (((bits >> 4) & 0xf) << CPU_KEY.makerShift) | (f.device.get(pfn) << CPU_KEY.deviceShift);
}

export function deviceKey(f: PageFrames, tag: number, pfn: number, device: number): number {
  const zone = f.zone.get(pfn);
  const local = (zone === Zone.DEVICE_PRIVATE || zone === Zone.DEVICE_COHERENT) && f.device.get(pfn) === device;
  return tag | (local ? DEVICE_KEY.local : 0) | (zone === Zone.ZERO ? DEVICE_KEY.zero : 0);
}

/** A pass over CPU PTE page `t` slot by slot, through PageFrames' accessors. */
export function scanCpuTableBySlot(f: PageFrames, t: PteTable): number[] {
  const r = new SlotRuns();
  for (let s = 0; s < PTRS_PER_PTE; s++) {
    const kind = t.kind[s] as Pte;
    if (kind === Pte.NONE) continue;
    const pfn = t.pfn[s]!;
    r.add(s, cpuKey(f, t, s, kind, pfn), pfn);
  }
  return r.finish();
}

/** A pass over device page-table page `p` of device index `device`, slot by slot. */
export function scanDptPageBySlot(f: PageFrames, p: DptPage, device: number): number[] {
  const r = new SlotRuns();
  for (let s = 0; s < PTRS_PER_PTE; s++) {
    const tag = p.tag[s]!;
    if (tag === 0) continue;
    const pfn = p.pfn[s]!;
    r.add(s, deviceKey(f, tag, pfn, device), pfn);
  }
  return r.finish();
}
