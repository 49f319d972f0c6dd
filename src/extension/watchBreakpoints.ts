// Page watches as breakpoints VS Code shows: a function breakpoint named after the pages (`a[3]`)
// is a watch to the adapter (setFunctionBreakpoints). VS Code lets an extension add function
// breakpoints but not data breakpoints, so this is how the REPL's `watch` and Page Residency's
// Watch action land in the Breakpoints view, where they are seen and removed.

import * as vscode from 'vscode';
import { CUSTOM_EVENTS, type WatchesChangedEventBody } from '../adapter/protocol';
import type { Ctx } from './context';
import { HMM_DEBUG_TYPE } from './dap';

/** Add a watch breakpoint for `name` unless one is there. */
export function addWatchBreakpoint(name: string): void {
  if (watchBreakpoints([name]).length === 0) vscode.debug.addBreakpoints([new vscode.FunctionBreakpoint(name)]);
}

function watchBreakpoints(names: readonly string[]): vscode.FunctionBreakpoint[] {
  return vscode.debug.breakpoints.filter((b): b is vscode.FunctionBreakpoint => b instanceof vscode.FunctionBreakpoint && names.includes(b.functionName));
}

export function registerWatchBreakpoints(ctx: Ctx): void {
  ctx.own(vscode.debug.onDidReceiveDebugSessionCustomEvent((e) => {
    if (e.session.type !== HMM_DEBUG_TYPE || e.event !== CUSTOM_EVENTS.watchesChanged) return;
    const body = e.body as WatchesChangedEventBody; // the adapter's event (src/adapter/protocol.ts)
    for (const name of body.added ?? []) addWatchBreakpoint(name);
    const gone = watchBreakpoints(body.removed ?? []);
    if (gone.length > 0) vscode.debug.removeBreakpoints(gone);
  }));
}
