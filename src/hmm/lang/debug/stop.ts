// What a run of the debugger ends with: a stop (and why) or the end of the script.

import type { SimEvent } from '../../events';
import type { RuntimeError } from '../interpreter';
import type { EventFilterId } from './eventBreakpoints';

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
