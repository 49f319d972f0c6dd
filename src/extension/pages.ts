// Naming pages and runs the way the language does (`a[3]`, `a[2..6]`) and describing their state.

import type { ResidencyMapping, ResidencyRun } from '../adapter/protocol';

export const PAGE_SIZE = 4096;

/** The first page number (address / 4096) of a mapping. */
export function firstPage(m: Pick<ResidencyMapping, 'address'>): number {
  return Math.floor(Number.parseInt(m.address.replace(/^0x/i, ''), 16) / PAGE_SIZE);
}

/** `a`, `a[3]` or `a[2..6]` (half-open, as in the language) for pages [start, end) of a mapping. */
export function rangeName(mapping: string, pages: number, start: number, end: number): string {
  if (start === 0 && end === pages) return mapping;
  return end - start === 1 ? `${mapping}[${start}]` : `${mapping}[${start}..${end}]`;
}

/** The hex address of a page of a mapping. */
export function pageAddress(m: Pick<ResidencyMapping, 'address'>, page: number): string {
  return `0x${((firstPage(m) + page) * PAGE_SIZE).toString(16)}`;
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
    const base = firstPage(m);
    if (start >= base && end <= base + m.pages) return { mapping: m, start: start - base, end: end - base };
  }
  return undefined;
}

/** Parses a range as the simulator names it (`a`, `a[3]`, `a[2..6]`) into relative pages. */
export function parseRangeName(text: string, mappings: readonly ResidencyMapping[]): { mapping: ResidencyMapping; start: number; end: number } | undefined {
  const m = /^([A-Za-z_]\w*)(?:\[(\d+)(?:\.\.(\d+))?\])?$/.exec(text.trim());
  if (m === null) return undefined;
  const mapping = mappings.find((x) => x.name === m[1]);
  if (mapping === undefined) return undefined;
  if (m[2] === undefined) return { mapping, start: 0, end: mapping.pages };
  const start = Number(m[2]);
  return { mapping, start, end: m[3] === undefined ? start + 1 : Number(m[3]) };
}

/** `512 device gpu0 rw, 512 system rw` over a mapping's fetched runs, largest first. */
export function residencySummary(m: ResidencyMapping, maxParts = 3): string {
  const counts = new Map<string, number>();
  for (const r of m.runs) counts.set(runState(r), (counts.get(runState(r)) ?? 0) + r.end - r.start);
  const parts = [...counts].sort((a, b) => b[1] - a[1]).map(([s, n]) => `${n} ${s}`);
  return (parts.length > maxParts ? [...parts.slice(0, maxParts), '…'] : parts).join(', ') + (m.truncated ? ' …' : '');
}

/**
 * Parses a range as the simulator describes it — `a`, `a[3]`, `a[2..6]`, or
 * `[0x7f0000000000, 0x7f0000002000)` — into a mapping and relative pages.
 */
export function parseRange(text: string, mappings: readonly ResidencyMapping[]): { mapping: ResidencyMapping; start: number; end: number } | undefined {
  const hex = /^\[0x([0-9a-f]+),\s*0x([0-9a-f]+)\)$/i.exec(text.trim());
  if (hex !== null) {
    const start = Math.floor(Number.parseInt(hex[1]!, 16) / PAGE_SIZE);
    const end = Math.ceil(Number.parseInt(hex[2]!, 16) / PAGE_SIZE);
    return locate(mappings, start, end) ?? overlapping(mappings, start, end);
  }
  return parseRangeName(text, mappings);
}

/** The first mapping that pages [start, end) overlap, clipped to it. */
function overlapping(mappings: readonly ResidencyMapping[], start: number, end: number): { mapping: ResidencyMapping; start: number; end: number } | undefined {
  for (const m of mappings) {
    const base = firstPage(m);
    const s = Math.max(start, base);
    const e = Math.min(end, base + m.pages);
    if (s < e) return { mapping: m, start: s - base, end: e - base };
  }
  return undefined;
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
