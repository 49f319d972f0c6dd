// Reference answers computed page by page, for tests of the faster paths that replace them.

import { foundText } from '../../src/hmm/lang/stateText';
import type { Mm } from '../../src/hmm/mm';
import type { Simulator } from '../../src/hmm/simulator';

/** residencySummary page by page: a PageState and its text for every page of [start, end). */
export function summaryPageByPage(sim: Simulator, mm: Mm, start: number, end: number): string {
  const counts = new Map<string, number>();
  for (let v = start; v < end; v++) {
    const k = foundText(sim.pageState(mm, v)).replace(/ (shared|pinned)/g, '');
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${n} ${k}`).join(', ');
}
