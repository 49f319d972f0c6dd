// Activation: builds the context, registers every piece, returns the API. Nothing here runs
// the simulator; the debug adapter and the language front end run on demand.

import type * as vscode from 'vscode';
import type { HmmExtensionApi } from './api';
import { registerCommands } from './commands';
import { Ctx } from './context';
import { registerDebugger } from './debug';
import { ScriptDecorations } from './decorations';
import { registerDiagnostics } from './diagnostics';
import { registerHover } from './hover';
import { registerInlineValues } from './inlineValues';
import { MapPanel } from './mapPanel';
import { MigrationsTree } from './migrationsTree';
import { NotifiersTree } from './notifiersTree';
import { registerQuickFixes } from './quickFixes';
import { registerRevealStoppedThread } from './revealStoppedThread';
import { ResidencyTree } from './residencyTree';
import { SessionWatcher } from './sessionWatcher';
import { onSettingsChanged } from './settingsWatch';
import { snapshotTree } from './treeSnapshot';
import { registerWatchBreakpoints } from './watchBreakpoints';

let active: Ctx | undefined;

export function activate(context: vscode.ExtensionContext): HmmExtensionApi {
  const ctx = new Ctx(context);
  active = ctx;
  context.subscriptions.push(ctx);

  registerDebugger(ctx);
  registerDiagnostics(ctx);
  registerQuickFixes(ctx);
  registerWatchBreakpoints(ctx);
  registerRevealStoppedThread(ctx);

  const watcher = ctx.own(new SessionWatcher(ctx));
  const residency = new ResidencyTree(ctx);
  const migrations = new MigrationsTree(ctx);
  const notifiers = new NotifiersTree(ctx);
  const decorations = new ScriptDecorations(ctx);
  const map = new MapPanel(ctx, (mapping, page, process) => residency.reveal(mapping, page, process));
  for (const view of [residency, migrations, notifiers, decorations, map]) watcher.register(view);

  registerHover(ctx, watcher);
  registerInlineValues(ctx, watcher);
  registerCommands(ctx, { watcher, residency, map });
  onSettingsChanged(ctx, () => watcher.refreshNow());

  const trees = { residency, migrations, notifiers };
  return {
    snapshotTree: (view, depth = 3) => snapshotTree(trees[view].provider, depth),
    decorations: (file) => decorations.snapshot(file),
    mapPanel: () => ({
      open: map.isOpen, ready: map.pageReady, ...(map.lastState !== undefined ? { lastState: map.lastState } : {}), ...(map.drawn !== undefined ? { drawn: map.drawn } : {}),
    }),
    whenRefreshed: () => watcher.whenRefreshed(),
  };
}

export function deactivate(): void {
  active?.dispose();
  active = undefined;
}
