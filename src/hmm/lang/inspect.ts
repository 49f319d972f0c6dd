// Read-only questions a debugger asks about the machine: a page's full state and history, why a
// page is where it is, recent events, in plain text and plain data for the REPL and the views.

import { PAGE_SIZE } from '../constants';
import type { SimEvent } from '../events';
import type { Mm } from '../mm';
import { Zone } from '../page';
import { Pte, PTE_WRITE, pteIndex } from '../pgtable';
import type { PageState, Simulator } from '../simulator';
import { CPU_KEY } from '../tableRuns';
import { eventLine } from './eventText';
import { forEachCpuRun } from './residency';
import { foundText } from './stateText';

const ENTRY = ['none', 'present', 'device-private entry', 'device-exclusive entry', 'migration entry'];
const ZONE = ['free', 'system', 'device-private', 'device-coherent', 'zero page'];

export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** Events that concern page `vpn` of `mm` (its range covers the page). */
export function pageHistory(sim: Simulator, mm: Mm, vpn: number): SimEvent[] {
  return sim.log.events.filter((e) => e.start <= vpn && vpn < e.end && (e.mm === mm.name || e.mm === '-'));
}

export interface PageDetails {
  readonly state: PageState;
  readonly address: number;
  readonly entry: string;
  readonly entryWritable: boolean;
  readonly pfn?: number;
  readonly zone?: string;
  readonly refcount?: number;
  readonly mapcount?: number;
  readonly pincount?: number;
  readonly mirrors: { device: string; mapping: string }[];
  readonly firstWords: number[];
}

export function pageDetails(sim: Simulator, mm: Mm, vpn: number): PageDetails {
  const state = sim.pageState(mm, vpn);
  const t = mm.pt.lookup(vpn);
  const s = pteIndex(vpn);
  const kind = t === undefined ? Pte.NONE : t.kindAt(s);
  const f = sim.frames;
  const pfn = kind === Pte.NONE ? undefined : t!.pfnAt(s);
  const head = pfn === undefined ? undefined : f.head(pfn);
  const content = sim.pageContent(mm, vpn);
  const firstWords: number[] = [];
  if (content !== undefined) for (let k = 0; k < 4; k++) firstWords.push(sim.contents.word(content[0], content[1], k));
  return {
    state,
    address: vpn * PAGE_SIZE,
    entry: (t?.pmd ? 'PMD ' : '') + ENTRY[kind]!,
    entryWritable: t !== undefined && (t.bitsAt(s) & PTE_WRITE) !== 0,
    pfn,
    zone: pfn === undefined ? undefined : ZONE[f.zone.get(pfn) as Zone],
    refcount: head === undefined ? undefined : f.refcount.get(f.folioHead(pfn!)),
    mapcount: head === undefined ? undefined : f.mapcount.get(t!.pmd ? head : pfn!),
    pincount: head === undefined ? undefined : f.pincount.get(f.folioHead(pfn!)),
    mirrors: sim.devices.map((d) => ({ device: d.name, mapping: sim.mirrorMapping(mm, d, vpn) })),
    firstWords,
  };
}

/** `page a[3]`: full state and history. */
export function pageReport(sim: Simulator, mm: Mm, vpn: number): string {
  const d = pageDetails(sim, mm, vpn);
  const lines = [
    `${sim.describeRange(vpn, vpn + 1)} in ${mm.name} at ${hex(d.address)}: ${foundText(d.state)}${d.state.huge ? ' (PMD-mapped THP)' : ''}`,
    `  CPU entry: ${d.entry}${d.pfn !== undefined ? `, ${d.entryWritable ? 'writable' : 'read-only'}, pfn ${hex(d.pfn)} (${d.zone})` : ''}`,
  ];
  if (d.refcount !== undefined) lines.push(`  struct page: refcount ${d.refcount}, mapcount ${d.mapcount}, pins ${d.pincount}`);
  lines.push(`  device mappings: ${d.mirrors.length ? d.mirrors.map((m) => `${m.device} ${m.mapping}`).join(', ') : 'no devices'}`);
  if (d.firstWords.length) lines.push(`  first words: ${d.firstWords.join(', ')}`);
  const hist = pageHistory(sim, mm, vpn);
  lines.push(`  history (${hist.length} event${hist.length === 1 ? '' : 's'}):`);
  for (const e of hist.slice(-40)) lines.push(`    ${eventLine(sim, e)}`);
  if (hist.length > 40) lines.push(`    … ${hist.length - 40} earlier events (see 'events')`);
  return lines.join('\n');
}

/** Kinds of events that move a page or change its CPU entry. */
function changesResidency(e: SimEvent): boolean {
  return e.kind === 'cpuFault' || (e.kind === 'migrate' && e.phase === 'finalize' && e.migrated > 0) ||
    e.kind === 'pte' || e.kind === 'process' || (e.kind === 'notifier' && e.event === 'CLEAR');
}

/** The events that put the page where it is, newest first. */
export function whyChain(sim: Simulator, mm: Mm, vpn: number): SimEvent[] {
  return pageHistory(sim, mm, vpn).filter(changesResidency).reverse();
}

/** `why a[3]`: the chain of events that put the page where it is, newest first. */
export function whyReport(sim: Simulator, mm: Mm, vpn: number): string {
  const st = sim.pageState(mm, vpn);
  const chain = whyChain(sim, mm, vpn);
  const lines = [`${sim.describeRange(vpn, vpn + 1)} is ${foundText(st)} because:`];
  if (chain.length === 0) lines.push(st.kind === 'empty' ? '  nothing has touched it since it was mapped' : '  (no recorded event)');
  for (const e of chain.slice(0, 12)) lines.push(`  ← ${eventLine(sim, e)}`);
  if (chain.length > 12) lines.push(`  … ${chain.length - 12} earlier`);
  return lines.join('\n');
}

/** `events [N]`: the last N events. */
export function eventsReport(sim: Simulator, n = 30): string {
  const evs = sim.log.events.slice(-n);
  return evs.length === 0 ? 'no events yet' : evs.map((e) => eventLine(sim, e)).join('\n');
}

/** A one-line residency summary of [start, end): pages per state, from the cached runs of each page table. */
export function residencySummary(sim: Simulator, mm: Mm, start: number, end: number): string {
  const counts = new Map<string, number>();
  // A page's text depends on its CPU key but for sharing, pinning and THP mapping: a PageState
  // and its text are made once per distinct key, at the first page with it.
  const texts = new Map<number, string>();
  forEachCpuRun(sim, mm, start, end, (vpn, pages, key) => {
    const k = key <= 0 ? key : key & ~(CPU_KEY.shared | CPU_KEY.pinned | CPU_KEY.huge);
    let text = texts.get(k);
    if (text === undefined) {
      text = foundText(sim.pageState(mm, vpn)).replace(/ (shared|pinned)/g, '');
      texts.set(k, text);
    }
    counts.set(text, (counts.get(text) ?? 0) + pages);
  });
  return [...counts].map(([k, n]) => `${n} ${k}`).join(', ');
}
