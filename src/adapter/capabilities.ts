// What the adapter tells the client it supports (the initialize response): each capability with
// what it gives the user.

import type { DebugProtocol } from '@vscode/debugprotocol';
import { EVENT_FILTERS } from '../hmm/lang/debug/eventBreakpoints';

export const CAPABILITIES: DebugProtocol.Capabilities = {
  supportsConfigurationDoneRequest: true, // VS Code sends breakpoints first, then configurationDone
  supportsConditionalBreakpoints: true, // `last.rc != 0`, `c >= 3` on line breakpoints
  supportsHitConditionalBreakpoints: true, // `>= 3`, `% 2`
  supportsLogPoints: true, // messages with {expressions} instead of stopping
  supportsStepBack: true, // Step Back and Reverse Continue buttons: state really rewinds
  supportsRestartRequest: true, // restart in place, keeping breakpoints
  supportsTerminateRequest: true, // Stop sends terminate before disconnect
  supportsExceptionInfoRequest: true, // the exception widget shows what the event was
  supportsExceptionFilterOptions: true, // conditions on fault / event breakpoints
  supportsDataBreakpoints: true, // "Break on Value Change" on pages and mappings
  supportsFunctionBreakpoints: true, // a page watch by name (`a[3]`) in the Breakpoints view: the REPL's `watch` too
  supportsReadMemoryRequest: true, // View Binary Data on mappings and pages
  supportsWriteMemoryRequest: true, // editing bytes in the binary view
  supportsCompletionsRequest: true, // REPL completions
  supportsEvaluateForHovers: true, // hover on a mapping name shows its residency
  supportsDelayedStackTraceLoading: false,
  supportsValueFormattingOptions: false,
  supportsSetVariable: false,
  exceptionBreakpointFilters: EVENT_FILTERS.map((f) => ({
    filter: f.id, label: f.label, description: f.description, default: f.default,
    supportsCondition: f.conditionDescription !== '', conditionDescription: f.conditionDescription || undefined,
  })),
};
