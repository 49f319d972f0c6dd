// Hover on a mapping name (`a`, `a[3]`, `a[2..6]`) while an hmm session is stopped: the
// adapter's answer to a DAP `evaluate` with context 'hover', plus the mapping's residency runs.

import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Ctx } from './context';
import { activeHmmSession } from './dap';
import { HMM_LANGUAGE } from './diagnostics';
import { rangeName, runState } from './pages';
import type { SessionWatcher } from './sessionWatcher';
import { findMapping } from './state';

const NAME_WITH_INDEX = /[A-Za-z_]\w*(\[[0-9_.x]*\])?/;

export function registerHover(ctx: Ctx, watcher: SessionWatcher): void {
  ctx.own(vscode.languages.registerHoverProvider(HMM_LANGUAGE, {
    async provideHover(doc, pos, token) {
      const session = activeHmmSession();
      const state = watcher.current;
      if (session === undefined || state === undefined || state.session.id !== session.id) return undefined;
      if (state.program !== undefined && doc.uri.scheme === 'file' && path.resolve(doc.uri.fsPath) !== path.resolve(state.program)) return undefined;
      const range = doc.getWordRangeAtPosition(pos, NAME_WITH_INDEX);
      if (range === undefined) return undefined;
      const expression = doc.getText(range);
      const mapping = findMapping(state, expression.replace(/\[.*$/, ''));
      if (mapping === undefined) return undefined;
      let value: string;
      try {
        // The standard DAP request, as VS Code's own debug hover sends it (customRequest answers
        // `any`: the body of an evaluate response).
        const body = (await session.customRequest('evaluate', { expression, context: 'hover' })) as { result: string };
        value = body.result;
      } catch (e) {
        value = (e as Error).message;
      }
      if (token.isCancellationRequested) return undefined;
      const md = new vscode.MarkdownString();
      md.appendMarkdown(`**${expression}** in ${mapping.process} (step ${state.stop.step})\n\n`);
      md.appendCodeblock(value, 'text');
      const runs = mapping.runs.slice(0, 12).map((r) => `- \`${rangeName(mapping.name, mapping.pages, r.start, r.end)}\` ${runState(r)}`);
      if (runs.length > 0) md.appendMarkdown(`${runs.join('\n')}${mapping.runs.length > 12 || mapping.truncated ? '\n- …' : ''}\n`);
      return new vscode.Hover(md, range);
    },
  }));
}
