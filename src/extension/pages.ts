// Naming pages and runs the way the language does (`a[3]`, `a[2..6]`) and describing their state.

import { PAGE_SIZE, type ResidencyMapping, type ResidencyRun } from '../adapter/protocol';

export { PAGE_SIZE };

export { rangeName } from '../hmm/lang/ranges';

/** The hex address of a page of a mapping. */
export function pageAddress(m: Pick<ResidencyMapping, 'firstPage'>, page: number): string {
  return `0x${((m.firstPage + page) * PAGE_SIZE).toString(16)}`;
}

/** The state of a run in the words of `expect … is`: `device gpu0 rw shared pinned`. */
export function runState(r: ResidencyRun): string {
  const parts: string[] = [r.kind];
  if ((r.kind === 'device' || r.kind === 'exclusive') && r.device) parts.push(r.device);
  if ((r.kind === 'system' || r.kind === 'device') && r.writable !== undefined) parts.push(r.writable ? 'rw' : 'ro');
  if (r.shared) parts.push('shared');
  if (r.pinned) parts.push('pinned');
  if (r.huge) parts.push('huge');
  return parts.join(' ');
}

/** Device page-table entries of a run's first page, e.g. `gpu0 write · gpu1 none`; '' without devices. */
export function mirrorsText(r: ResidencyRun): string {
  return Object.entries(r.mirrors).filter(([, v]) => v !== 'none').map(([d, v]) => `${d} ${v}`).join(' · ');
}

export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/**
 * Device faults in the wording of the placement report (src/hmm/placementReport.ts faultsText;
 * test/wording.test.ts keeps the two equal): `4096 pages faulted in 16 fault batches`.
 */
export function faultsText(pages: number, batches: number): string {
  return pages === 0 ? 'no page faulted' : `${plural(pages, 'page')} faulted in ${plural(batches, 'fault batch', 'fault batches')}`;
}

/** The mapping and relative pages that absolute pages [start, end) fall in, if one holds them all. */
export function locate(mappings: readonly ResidencyMapping[], start: number, end: number): { mapping: ResidencyMapping; start: number; end: number } | undefined {
  for (const m of mappings) {
    const base = m.firstPage;
    if (start >= base && end <= base + m.pages) return { mapping: m, start: start - base, end: end - base };
  }
  return undefined;
}

/** `512 device gpu0 rw, 512 system rw` over a mapping's fetched runs, largest first. */
export function residencySummary(m: ResidencyMapping, maxParts = 3): string {
  const counts = new Map<string, number>();
  for (const r of m.runs) counts.set(runState(r), (counts.get(runState(r)) ?? 0) + r.end - r.start);
  const parts = [...counts].sort((a, b) => b[1] - a[1]).map(([s, n]) => `${n} ${s}`);
  return (parts.length > maxParts ? [...parts.slice(0, maxParts), '…'] : parts).join(', ') + (m.truncated ? ' …' : '');
}

/** One character per page state, as `hmm-sim`'s residency maps draw them. */
export function stateChar(r: ResidencyRun, devices: readonly string[]): string {
  switch (r.kind) {
    case 'unmapped': return ' ';
    case 'empty': return '.';
    case 'zero': return 'z';
    case 'exclusive': return 'X';
    case 'system': return r.pinned ? 'P' : r.writable === false ? 's' : 'S';
    case 'device': {
      const n = Math.max(0, devices.indexOf(r.device ?? ''));
      return r.writable === false ? String.fromCharCode(97 + (n % 10)) : String(n % 10);
    }
    default: return '?';
  }
}

/**
 * A mapping's residency as a short strip, `|SS00aa..|`: one character per page, or per bucket
 * of pages (the state covering most of it) when it has more pages than `width`.
 */
export function residencyStrip(m: ResidencyMapping, width = 32): string {
  const devices = Object.keys(m.runs[0]?.mirrors ?? {});
  const cells = Math.min(width, m.pages);
  const per = m.pages / cells;
  let out = '';
  let i = 0;
  for (let c = 0; c < cells; c++) {
    const s = Math.floor(c * per);
    const e = Math.max(s + 1, Math.floor((c + 1) * per));
    while (i < m.runs.length && m.runs[i]!.end <= s) i++;
    let best: ResidencyRun | undefined;
    let most = 0;
    for (let j = i; j < m.runs.length && m.runs[j]!.start < e; j++) {
      const r = m.runs[j]!;
      const n = Math.min(e, r.end) - Math.max(s, r.start);
      if (n > most) {
        best = r;
        most = n;
      }
    }
    out += best === undefined ? '?' : stateChar(best, devices);
  }
  return `|${out}|`;
}
