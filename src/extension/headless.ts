// Commands that run a script to its end in the extension host, outside any debug session ("run
// headless", "export trace"), through the language's runner, as `hmm-sim run` does.

import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ScriptRun } from '../hmm/lang/runner';
import type { Ctx } from './context';
import { HMM_LANGUAGE } from './diagnostics';
import { loadOnDemand } from './loadOnDemand';

/** The script a command works on: its argument, else the active .hmm editor. */
export function scriptUri(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) return arg;
  const doc = vscode.window.activeTextEditor?.document;
  return doc?.languageId === HMM_LANGUAGE ? doc.uri : undefined;
}

/**
 * An export runs in one go, holding the extension host until it ends: a runaway script stops
 * with a runtime error after this long instead (runHeadless runs in slices and can be cancelled).
 */
const HEADLESS_LIMITS = { timeoutMs: 60_000 } as const;

/** The text to run: an open editor's (unsaved edits included), else the file's (a regular file of at most 1 MiB). */
async function scriptText(uri: vscode.Uri): Promise<string> {
  const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  if (open !== undefined) return open.getText();
  const { MAX_SCRIPT_BYTES } = await loadOnDemand();
  const st = await vscode.workspace.fs.stat(uri);
  if ((st.type & vscode.FileType.File) === 0) throw new Error(`${uri.fsPath}: cannot read: not a regular file`);
  if (st.size > MAX_SCRIPT_BYTES) throw new Error(`${uri.fsPath}: cannot read: ${st.size} bytes is larger than the ${MAX_SCRIPT_BYTES / 2 ** 20} MiB a script may be`);
  return new TextDecoder('utf-8').decode(await vscode.workspace.fs.readFile(uri));
}

const fileName = (uri: vscode.Uri): string => (uri.scheme === 'file' ? uri.fsPath : uri.path);

/**
 * Runs a script to its end and writes what happened to the HMM output channel. The run goes in
 * slices (the extension host stays responsive), with a progress notification that can cancel it.
 */
export async function runHeadless(ctx: Ctx, uri: vscode.Uri): Promise<ScriptRun & { cancelled: boolean }> {
  const out = ctx.output;
  const file = fileName(uri);
  out.show(true);
  out.appendLine(`── ${path.basename(file)} ${'─'.repeat(Math.max(0, 60 - path.basename(file).length))}`);
  const { runScriptTextAsync, formatDiagnostic, progressText, runSummary } = await loadOnDemand();
  const started = Date.now();
  const text = await scriptText(uri);
  const run = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Running ${path.basename(file)}`, cancellable: true },
    async (progress, token) => {
      const abort = new AbortController();
      const cancel = token.onCancellationRequested(() => abort.abort());
      try {
        return await runScriptTextAsync(file, text, {
          output: (t) => out.appendLine(t),
          signal: abort.signal,
          progress: (statements, ns) => progress.report({ message: progressText(statements, ns) }),
        });
      } finally {
        cancel.dispose();
      }
    },
  );
  if (run.diagnostics.length > 0) {
    for (const d of run.diagnostics) out.appendLine(formatDiagnostic(d));
    out.appendLine(`rejected: ${run.diagnostics.length} problem(s), nothing ran`);
    return run;
  }
  if (run.residency) out.appendLine(run.residency);
  if (run.report !== undefined) out.appendLine(run.report);
  if (run.error !== undefined) out.appendLine(run.error);
  out.appendLine(runSummary(run, Date.now() - started));
  return run;
}

/**
 * Runs a script and writes its event stream as Chrome trace JSON (opens in Perfetto).
 * `target`: where to write; 'nextToScript' for `<name>.trace.json` beside it; a save dialog
 * when absent. Returns the file written.
 */
export async function exportTrace(ctx: Ctx, uri: vscode.Uri, target?: vscode.Uri | 'nextToScript'): Promise<vscode.Uri | undefined> {
  const file = fileName(uri);
  const { runScriptText, chromeTraceJson } = await loadOnDemand();
  const run = runScriptText(file, await scriptText(uri), { limits: HEADLESS_LIMITS });
  if (run.diagnostics.length > 0) {
    const first = run.diagnostics[0]!;
    void vscode.window.showErrorMessage(`${path.basename(file)} does not check (${run.diagnostics.length} problem(s)); first: line ${first.line}: ${first.message}`);
    return undefined;
  }
  const beside = vscode.Uri.joinPath(uri, '..', `${path.basename(file).replace(/\.hmm$/, '')}.trace.json`);
  let dest: vscode.Uri | undefined = target === 'nextToScript' ? beside : target;
  dest ??= await vscode.window.showSaveDialog({ defaultUri: beside, filters: { 'Chrome trace (Perfetto)': ['json'] }, title: 'Export the event trace' });
  if (dest === undefined) return undefined;
  const json = chromeTraceJson([{ file, events: run.events }]);
  await vscode.workspace.fs.writeFile(dest, new TextEncoder().encode(json));
  ctx.output.appendLine(`trace of ${path.basename(file)}: ${run.events.length} events → ${fileName(dest)}${run.error ? ` (the run stopped: ${run.error})` : ''}`);
  void vscode.window.showInformationMessage(`Trace written to ${path.basename(fileName(dest))} (${run.events.length} events). Open it in Perfetto (ui.perfetto.dev) or chrome://tracing.`);
  return dest;
}
