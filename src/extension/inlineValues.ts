// Inline values while stopped: on each line up to the stop that names a mapping, that
// mapping's residency as `hmm-sim` draws it (`a |SS00aa..|`: S/s system rw/ro, 0-9/a-j device
// N rw/ro, z zero, . empty, X exclusive, P pinned; buckets of pages beyond 32 pages).

import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Ctx } from './context';
import { HMM_LANGUAGE } from './diagnostics';
import { residencyStrip } from './pages';
import type { SessionWatcher } from './sessionWatcher';

/** The code of a line without its comment (a `#` outside a string). */
export function codeOf(line: string): string {
  let inString = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"' && line[i - 1] !== '\\') inString = !inString;
    else if (c === '#' && !inString) return line.slice(0, i);
  }
  return line;
}

export function registerInlineValues(ctx: Ctx, watcher: SessionWatcher): void {
  const changed = ctx.own(new vscode.EventEmitter<void>());
  ctx.own(watcher.onDidUpdate(() => changed.fire()));
  ctx.own(vscode.languages.registerInlineValuesProvider(HMM_LANGUAGE, {
    onDidChangeInlineValues: changed.event,
    provideInlineValues(doc, viewPort, context) {
      const state = watcher.current;
      if (state === undefined) return [];
      if (state.program !== undefined && doc.uri.scheme === 'file' && path.resolve(doc.uri.fsPath) !== path.resolve(state.program)) return [];
      const mappings = state.processes.find((p) => p.current)?.mappings ?? [];
      if (mappings.length === 0) return [];
      const byName = new Map(mappings.map((m) => [m.name, m]));
      const last = Math.min(viewPort.end.line, context.stoppedLocation.end.line, doc.lineCount - 1);
      const values: vscode.InlineValue[] = [];
      for (let line = viewPort.start.line; line <= last; line++) {
        const code = codeOf(doc.lineAt(line).text).replace(/"(?:[^"\\]|\\.)*"/g, (s) => ' '.repeat(s.length));
        const seen = new Set<string>();
        for (const m of code.matchAll(/[A-Za-z_]\w*/g)) {
          const mapping = byName.get(m[0]);
          if (mapping === undefined || seen.has(m[0])) continue;
          seen.add(m[0]);
          const range = new vscode.Range(line, m.index, line, m.index + m[0].length);
          values.push(new vscode.InlineValueText(range, `${m[0]} ${residencyStrip(mapping)}`));
        }
      }
      return values;
    },
  }));
}
