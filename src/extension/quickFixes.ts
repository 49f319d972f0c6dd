// Editing help for .hmm files: a quick fix for each "did you mean 'x'?" of the checker, and
// completion of statement keywords and of the names the script declares (devices, mappings,
// files, kernels, functions, jobs, processes, loop variables).

import * as vscode from 'vscode';
import type { Ctx } from './context';
import { HMM_LANGUAGE } from './diagnostics';
import { loadOnDemand } from './loadOnDemand';

const DID_YOU_MEAN = /did you mean '([^']+)'\?/;

class DidYouMean implements vscode.CodeActionProvider {
  static readonly kinds = [vscode.CodeActionKind.QuickFix];

  provideCodeActions(doc: vscode.TextDocument, _range: vscode.Range, context: vscode.CodeActionContext): vscode.CodeAction[] {
    const fixes: vscode.CodeAction[] = [];
    for (const d of context.diagnostics) {
      const m = d.source === 'hmm' ? DID_YOU_MEAN.exec(d.message) : null;
      if (m === null) continue;
      const fix = new vscode.CodeAction(`Change to '${m[1]}'`, vscode.CodeActionKind.QuickFix);
      fix.edit = new vscode.WorkspaceEdit();
      fix.edit.replace(doc.uri, d.range, m[1]!);
      fix.diagnostics = [d];
      fix.isPreferred = true;
      fixes.push(fix);
    }
    return fixes;
  }
}

/** Names the script declares, by what they are (read from the text: cheap, and works mid-edit). */
export function declaredNames(text: string): { name: string; kind: string }[] {
  const rules: [RegExp, string][] = [
    [/^\s*device\s+([A-Za-z_]\w*)/gm, 'device'],
    [/^\s*([A-Za-z_]\w*)\s*=\s*m(?:re)?map\b/gm, 'mapping'],
    [/^\s*file\s+([A-Za-z_]\w*)/gm, 'file'],
    [/^\s*kernel\s+([A-Za-z_]\w*)/gm, 'kernel'],
    [/^\s*fn\s+([A-Za-z_]\w*)/gm, 'function'],
    [/^\s*launch\b.*\bas\s+([A-Za-z_]\w*)/gm, 'GPU job'],
    [/^\s*fork\s+([A-Za-z_]\w*)/gm, 'process'],
    [/^\s*repeat\b.*\bas\s+([A-Za-z_]\w*)/gm, 'loop variable'],
  ];
  const seen = new Set<string>();
  const out: { name: string; kind: string }[] = [];
  for (const [re, kind] of rules) {
    for (const m of text.matchAll(re)) {
      if (seen.has(m[1]!)) continue;
      seen.add(m[1]!);
      out.push({ name: m[1]!, kind });
    }
  }
  return out;
}

class Completions implements vscode.CompletionItemProvider {
  async provideCompletionItems(doc: vscode.TextDocument, pos: vscode.Position): Promise<vscode.CompletionItem[]> {
    const before = doc.lineAt(pos.line).text.slice(0, pos.character);
    if (before.includes('#')) return []; // in a comment
    const { STATEMENT_KEYWORDS, DEVICE_OPS } = await loadOnDemand();
    const atStart = /^\s*[A-Za-z_]*$/.test(before);
    const items: vscode.CompletionItem[] = [];
    for (const d of declaredNames(doc.getText())) {
      const item = new vscode.CompletionItem(d.name, d.kind === 'device' ? vscode.CompletionItemKind.Module : d.kind === 'kernel' || d.kind === 'function' ? vscode.CompletionItemKind.Function : vscode.CompletionItemKind.Variable);
      item.detail = d.kind;
      items.push(item);
    }
    const words = atStart ? STATEMENT_KEYWORDS : [...DEVICE_OPS, 'mmap', 'mremap', 'hugetlb', 'dontunmap', 'maymove', 'at', 'pages', 'to', 'system', 'is', 'device', 'maps', 'as', 'on', 'all', 'rw', 'r', 'none'];
    for (const k of new Set(words)) {
      const item = new vscode.CompletionItem(k, vscode.CompletionItemKind.Keyword);
      item.sortText = `~${k}`; // declared names first
      items.push(item);
    }
    return items;
  }
}

export function registerQuickFixes(ctx: Ctx): void {
  const selector: vscode.DocumentSelector = { language: HMM_LANGUAGE };
  ctx.own(
    vscode.languages.registerCodeActionsProvider(selector, new DidYouMean(), { providedCodeActionKinds: DidYouMean.kinds }),
    vscode.languages.registerCompletionItemProvider(selector, new Completions()),
  );
}
