// Layer: the .hmm language (src/hmm/lang). Imports the simulator.
// A residency map for the terminal: a bar of up to 64 cells over the range and the runs of
// pages in the same state (`print RANGE`, `hmm-sim --verbose`).

import type { Mm } from '../mm';
import type { PageState, Simulator } from '../simulator';

const BAR_CELLS = 64;

function cell(st: PageState, sim: Simulator): string {
  switch (st.kind) {
    case 'unmapped': return ' ';
    case 'empty': return '.';
    case 'zero': return 'z';
    case 'system': return st.pinned ? 'P' : st.writable ? 'S' : 's';
    case 'exclusive': return 'X';
    case 'device': {
      const i = sim.devices.findIndex((d) => d.name === st.device);
      return String.fromCharCode((st.writable ? 0x30 : 0x61) + Math.max(0, i)); // 0-9 rw, a-j ro
    }
  }
}

function runText(st: PageState): string {
  if (st.kind === 'unmapped' || st.kind === 'empty' || st.kind === 'zero') return st.kind + (st.huge ? ' (huge)' : '');
  const parts: string[] = [st.kind];
  if (st.device) parts.push(st.device);
  if (st.kind !== 'exclusive') parts.push(st.writable ? 'rw' : 'ro');
  if (st.shared) parts.push('shared');
  if (st.pinned) parts.push('pinned');
  if (st.huge) parts.push('(huge)');
  return parts.join(' ');
}

/** Render [start, end) of `mm` named `label`. Runs are capped so a fragmented range stays readable. */
export function renderResidency(sim: Simulator, mm: Mm, start: number, end: number, label: string, maxRuns = 16): string {
  const n = end - start;
  const cells = Math.min(BAR_CELLS, n);
  let bar = '';
  for (let c = 0; c < cells; c++) bar += cell(sim.pageState(mm, start + Math.floor((c * n) / cells)), sim);
  const lines = [`${label} (${n} page${n === 1 ? '' : 's'}, ${mm.name}) |${bar}|`];
  let runStart = start;
  let prev = runText(sim.pageState(mm, start));
  let runs = 0;
  const flush = (to: number): void => {
    runs++;
    if (runs <= maxRuns) lines.push(`  [${runStart - start}..${to - start}) ${prev}`);
  };
  for (let v = start + 1; v <= end; v++) {
    const t = v < end ? runText(sim.pageState(mm, v)) : '';
    if (v === end || t !== prev) {
      flush(v);
      runStart = v;
      prev = t;
    }
  }
  if (runs > maxRuns) lines.push(`  … ${runs - maxRuns} more runs`);
  return lines.join('\n');
}

export const RESIDENCY_LEGEND = "legend: ' ' unmapped  . empty  z zero  S/s system rw/ro  P pinned  0-9/a-j device N rw/ro  X exclusive";
