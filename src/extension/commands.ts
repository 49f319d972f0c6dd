// The extension's commands: one small factory per command (rust-analyzer's commands.ts).

import * as vscode from 'vscode';
import type { Ctx } from './context';
import { DEVICE_FAULTS, startScript } from './debug';
import { openExample } from './examples';
import { exportTrace, runHeadless, scriptUri } from './headless';
import { compareWithKernel } from './kernelCompare';
import type { MapPanel } from './mapPanel';
import { copyAddress, viewBinaryData, watchPages } from './pageActions';
import { isPageTarget, type PageTarget } from './residencyNodes';
import type { ResidencyTree } from './residencyTree';
import type { SessionWatcher } from './sessionWatcher';

export interface CommandDeps {
  readonly watcher: SessionWatcher;
  readonly residency: ResidencyTree;
  readonly map: MapPanel;
}

type Factory = (ctx: Ctx, deps: CommandDeps) => (...args: unknown[]) => unknown;

function needScript(arg: unknown): vscode.Uri | undefined {
  const uri = scriptUri(arg);
  if (uri === undefined) void vscode.window.showInformationMessage('Open a .hmm script first.');
  return uri;
}

/** The node a context-menu action was invoked on, or the selected Page Residency node. */
function pageTarget(deps: CommandDeps, arg: unknown): PageTarget | undefined {
  const node = arg ?? deps.residency.view.selection[0];
  if (isPageTarget(node)) return node.target();
  void vscode.window.showInformationMessage('Pick a mapping, run or page in the Page Residency view.');
  return undefined;
}

const debugFile: Factory = () => (arg) => {
  const uri = needScript(arg);
  return uri && startScript(uri);
};

const debugStopOnDeviceFaults: Factory = () => (arg) => {
  const uri = needScript(arg);
  return uri && startScript(uri, { eventBreakpoints: DEVICE_FAULTS });
};

const runFile: Factory = () => (arg) => {
  const uri = needScript(arg);
  return uri && startScript(uri, { noDebug: true });
};

/** VS Code has Step Back and Reverse Continue only as toolbar buttons: give them a command and a key. */
const stepBack: Factory = () => () => vscode.commands.executeCommand('workbench.action.debug.stepBack');
const reverseContinue: Factory = () => () => vscode.commands.executeCommand('workbench.action.debug.reverseContinue');

const runScriptHeadless: Factory = (ctx) => async (arg) => {
  const uri = needScript(arg);
  if (uri === undefined) return undefined;
  const run = await runHeadless(ctx, uri);
  return { diagnostics: run.diagnostics.length, error: run.error, statements: run.statements, events: run.events.length, cancelled: run.cancelled };
};

const exportEventTrace: Factory = (ctx) => async (arg, target) => {
  const uri = needScript(arg);
  if (uri === undefined) return undefined;
  return exportTrace(ctx, uri, target instanceof vscode.Uri || target === 'nextToScript' ? target : undefined);
};

/** The active .hmm editor's document (or the argument's), for commands that need its text. */
async function scriptDocument(arg: unknown): Promise<vscode.TextDocument | undefined> {
  const uri = needScript(arg);
  return uri === undefined ? undefined : vscode.workspace.openTextDocument(uri);
}

const compareKernel: Factory = (ctx) => async (arg) => {
  const doc = await scriptDocument(arg);
  return doc && compareWithKernel(ctx, doc);
};

const openExampleScript: Factory = (ctx) => (name) => openExample(ctx, typeof name === 'string' ? name : undefined);

const openMap: Factory = (_ctx, deps) => () => deps.map.open(deps.watcher.current);

const refreshViews: Factory = (_ctx, deps) => () => {
  deps.watcher.refreshNow();
  return deps.watcher.whenRefreshed();
};

const revealInMap: Factory = (_ctx, deps) => (arg) => {
  const t = pageTarget(deps, arg);
  return t && deps.map.highlight(t.mapping.name, t.start, t.end, t.process);
};

const watchPage: Factory = (_ctx, deps) => async (arg) => {
  const t = pageTarget(deps, arg);
  if (t === undefined) return undefined;
  try {
    return await watchPages(t);
  } catch (e) {
    void vscode.window.showErrorMessage(`watch failed: ${(e as Error).message}`);
    return undefined;
  }
};

const copyPageAddress: Factory = (_ctx, deps) => (arg) => {
  const t = pageTarget(deps, arg);
  return t && copyAddress(t);
};

const viewPageBinaryData: Factory = (_ctx, deps) => async (arg) => {
  const t = pageTarget(deps, arg);
  if (t === undefined) return undefined;
  try {
    return await viewBinaryData(t);
  } catch (e) {
    void vscode.window.showErrorMessage(`could not read the memory of ${t.mapping.name}: ${(e as Error).message}`);
    return undefined;
  }
};

/** Used by the map: select a page in Page Residency. */
const revealPage: Factory = (_ctx, deps) => (mapping, page, process) =>
  typeof mapping === 'string' && typeof page === 'number'
    ? deps.residency.reveal(mapping, page, typeof process === 'string' ? process : undefined)
    : false;

const COMMANDS: Record<string, Factory> = {
  'hmm.debugFile': debugFile,
  'hmm.debugStopOnDeviceFaults': debugStopOnDeviceFaults,
  'hmm.stepBack': stepBack,
  'hmm.reverseContinue': reverseContinue,
  'hmm.runFile': runFile,
  'hmm.runHeadless': runScriptHeadless,
  'hmm.exportTrace': exportEventTrace,
  'hmm.compareWithKernel': compareKernel,
  'hmm.openExample': openExampleScript,
  'hmm.openMap': openMap,
  'hmm.refreshViews': refreshViews,
  'hmm.revealInMap': revealInMap,
  'hmm.watchPage': watchPage,
  'hmm.copyAddress': copyPageAddress,
  'hmm.viewBinaryData': viewPageBinaryData,
  'hmm.revealPage': revealPage,
};

export function registerCommands(ctx: Ctx, deps: CommandDeps): void {
  for (const [id, factory] of Object.entries(COMMANDS)) ctx.own(vscode.commands.registerCommand(id, factory(ctx, deps)));
}
