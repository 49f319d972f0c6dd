// What a run of the debugger ends with: a stop (and why) or the end of the script; what the
// exception widget says about an exception stop.

import type { SimEvent } from '../../events';
import type { RuntimeError } from '../interpreter';
import { PAGE_SIZE } from '../../constants';
import type { Simulator } from '../../simulator';
import { eventLine } from '../eventText';
import { hex } from '../inspect';
import { type EventFilterId, filterLabel } from './eventBreakpoints';

export type StopReason = 'entry' | 'step' | 'breakpoint' | 'exception' | 'pause' | 'data breakpoint' | 'goto';

export interface StopInfo {
  readonly reason: StopReason;
  readonly description: string;
  readonly breakpointIds?: number[];
  /** The simulator event that stopped us (event breakpoints). */
  readonly event?: SimEvent;
  readonly filter?: EventFilterId;
  /** The pages of the occurrence that stopped (a coalesced event covers more). */
  readonly pages?: { readonly start: number; readonly end: number };
  readonly error?: RuntimeError;
}

export type RunResult =
  | { readonly kind: 'stopped'; readonly stop: StopInfo }
  | { readonly kind: 'ended'; readonly error?: RuntimeError };

/** What the exception widget shows about an exception stop: its title, kind, details, the page to evaluate. */
export function exceptionDetails(sim: Simulator, stop: StopInfo): { title: string; typeName: string; details: string | undefined; page: string | undefined } {
  const e = stop.event;
  const details: string[] = [];
  if (e !== undefined) {
    details.push(eventLine(sim, e));
    const p = stop.pages ?? e;
    if (p.end > p.start) details.push(`address ${hex(p.start * PAGE_SIZE)}..${hex(p.end * PAGE_SIZE)} (${sim.describeRange(p.start, p.end)})`);
  }
  const first = stop.pages?.start ?? e?.start;
  return {
    title: filterLabel(stop.filter ?? 'failure'),
    typeName: e?.kind ?? (stop.filter === 'invariant' ? 'invariant' : 'runtime error'),
    details: details.join('\n') || undefined,
    page: e !== undefined && e.end > e.start && first !== undefined ? sim.describeRange(first, first + 1) : undefined,
  };
}
