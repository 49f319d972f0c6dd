// Live diagnostics for .hmm documents: every parse/check problem, as you type (debounced).

import * as vscode from 'vscode';
import type { Ctx } from './context';
import { loadOnDemand } from './loadOnDemand';
import { settings } from './settings';

export const HMM_LANGUAGE = 'hmm';

export function registerDiagnostics(ctx: Ctx): void {
  const collection = ctx.own(vscode.languages.createDiagnosticCollection('hmm'));
  const timers = new Map<string, ReturnType<typeof setTimeout>>();

  const check = async (doc: vscode.TextDocument): Promise<void> => {
    if (doc.languageId !== HMM_LANGUAGE) return;
    const { diagnose } = await loadOnDemand();
    if (doc.isClosed) return;
    const file = doc.uri.scheme === 'file' ? doc.uri.fsPath : doc.uri.path;
    const found = diagnose(file, doc.getText()).diagnostics;
    collection.set(doc.uri, found.map((d) => {
      const line = Math.min(Math.max(d.line - 1, 0), doc.lineCount - 1);
      const text = doc.lineAt(line).text;
      const start = Math.min(Math.max(d.col - 1, 0), text.length);
      const end = Math.max(start + 1, Math.min((d.endCol ?? d.col + 1) - 1, text.length));
      const diag = new vscode.Diagnostic(new vscode.Range(line, start, line, end), d.message,
        d.severity === 'warning' ? vscode.DiagnosticSeverity.Warning : vscode.DiagnosticSeverity.Error);
      diag.source = 'hmm';
      return diag;
    }));
  };

  const later = (doc: vscode.TextDocument): void => {
    if (doc.languageId !== HMM_LANGUAGE) return;
    const key = doc.uri.toString();
    const t = timers.get(key);
    if (t !== undefined) clearTimeout(t);
    timers.set(key, setTimeout(() => {
      timers.delete(key);
      if (!doc.isClosed) void check(doc);
    }, settings.diagnosticsDelay()));
  };

  ctx.own(
    vscode.workspace.onDidOpenTextDocument((doc) => void check(doc)),
    vscode.workspace.onDidChangeTextDocument((e) => later(e.document)),
    vscode.workspace.onDidCloseTextDocument((doc) => {
      collection.delete(doc.uri);
      const t = timers.get(doc.uri.toString());
      if (t !== undefined) clearTimeout(t);
    }),
    { dispose: () => timers.forEach((t) => clearTimeout(t)) },
  );
  // Documents already open when the extension activated (checked after activation returns).
  setTimeout(() => vscode.workspace.textDocuments.forEach((doc) => void check(doc)), 0);
}
