// Script-editor decorations after each stop, from `hmm/lineEffects`: after-line text (faults,
// pages migrated each way, invalidations), one gutter icon per line (SVGs in media/), and a
// whole-line highlight for the line that stopped on an exception. Cleared when the session ends.

import * as path from 'node:path';
import * as vscode from 'vscode';
import type { DecorationSnapshot } from './api';
import type { Ctx } from './context';
import { faultsText, plural } from './pages';
import type { StateView } from './sessionWatcher';
import type { HmmState, LineEffects } from './state';

export const GUTTER_KINDS = ['error', 'fault', 'migrate', 'invalidate'] as const;
type GutterKind = (typeof GUTTER_KINDS)[number];

/** What one line caused, as after-line text: `⚡ 3 CPU faults · ⇢ 8 pages to device`. */
export function effectsText(l: LineEffects): string {
  const parts: string[] = [];
  if (l.cpuFaults) parts.push(`⚡ ${plural(l.cpuFaults, 'CPU fault')}`);
  if (l.deviceFaultPages) parts.push(`⚡ ${faultsText(l.deviceFaultPages, l.deviceFaultBatches)}`);
  if (l.pagesToDevice) parts.push(`⇢ ${plural(l.pagesToDevice, 'page')} to device`);
  if (l.pagesToSystem) parts.push(`⇠ ${plural(l.pagesToSystem, 'page')} to system`);
  if (l.invalidations) parts.push(`✂ ${plural(l.invalidations, 'invalidation')}`);
  if (l.errors) parts.push(`✖ ${plural(l.errors, 'error')}`);
  return parts.join(' · ');
}

function gutterOf(l: LineEffects): GutterKind | undefined {
  if (l.errors) return 'error';
  if (l.cpuFaults || l.deviceFaultPages) return 'fault';
  if (l.pagesToDevice || l.pagesToSystem) return 'migrate';
  if (l.invalidations) return 'invalidate';
  return undefined;
}

const samePath = (a: string, b: string): boolean =>
  process.platform === 'win32' ? path.resolve(a).toLowerCase() === path.resolve(b).toLowerCase() : path.resolve(a) === path.resolve(b);

export class ScriptDecorations implements StateView, vscode.Disposable {
  private readonly text: vscode.TextEditorDecorationType;
  private readonly highlight: vscode.TextEditorDecorationType;
  private readonly gutter: Record<GutterKind, vscode.TextEditorDecorationType>;
  private file: string | undefined;
  private lines: DecorationSnapshot[] = [];

  constructor(ctx: Ctx) {
    this.text = vscode.window.createTextEditorDecorationType({
      after: { margin: '0 0 0 2em', color: new vscode.ThemeColor('hmmDebug.lineEffectForeground'), fontStyle: 'italic' },
      rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
    });
    this.highlight = vscode.window.createTextEditorDecorationType({
      isWholeLine: true,
      backgroundColor: new vscode.ThemeColor('hmmDebug.faultLineBackground'),
      overviewRulerColor: new vscode.ThemeColor('hmmDebug.faultLineBackground'),
      overviewRulerLane: vscode.OverviewRulerLane.Full,
    });
    const gutter = {} as Record<GutterKind, vscode.TextEditorDecorationType>;
    for (const k of GUTTER_KINDS) {
      gutter[k] = vscode.window.createTextEditorDecorationType({ gutterIconPath: ctx.mediaUri(`gutter-${k}.svg`), gutterIconSize: '70%' });
    }
    this.gutter = gutter;
    ctx.own(this, vscode.window.onDidChangeVisibleTextEditors((editors) => editors.forEach((e) => this.apply(e))));
  }

  update(state: HmmState | undefined): void {
    this.file = state?.program;
    this.lines = state === undefined ? [] : snapshotLines(state);
    for (const e of vscode.window.visibleTextEditors) this.apply(e);
  }

  /** The decorations set for `file` (shown in each of its editors, now and when opened later). */
  snapshot(file: string): DecorationSnapshot[] {
    return this.file !== undefined && samePath(this.file, file) ? this.lines.map((l) => ({ ...l })) : [];
  }

  private apply(editor: vscode.TextEditor): void {
    const mine = this.file !== undefined && editor.document.uri.scheme === 'file' && samePath(editor.document.uri.fsPath, this.file);
    const lines = mine ? this.lines.filter((l) => l.line >= 1 && l.line <= editor.document.lineCount) : [];
    const at = (line: number): vscode.Range => {
      const end = editor.document.lineAt(line - 1).range.end;
      return new vscode.Range(end, end);
    };
    editor.setDecorations(this.text, lines.filter((l) => l.text !== '').map((l) => ({
      range: at(l.line),
      renderOptions: { after: { contentText: l.text } },
    })));
    for (const k of GUTTER_KINDS) editor.setDecorations(this.gutter[k], lines.filter((l) => l.gutter === k).map((l) => at(l.line)));
    editor.setDecorations(this.highlight, lines.filter((l) => l.highlighted).map((l) => ({
      range: editor.document.lineAt(l.line - 1).range,
      hoverMessage: 'stopped here on an exception',
    })));
  }

  dispose(): void {
    this.text.dispose();
    this.highlight.dispose();
    for (const k of GUTTER_KINDS) this.gutter[k].dispose();
  }
}

function snapshotLines(state: HmmState): DecorationSnapshot[] {
  const faulted = state.stop.reason === 'exception' ? state.stop.line : undefined;
  const out: DecorationSnapshot[] = [];
  for (const l of state.lineEffects) {
    const gutter = gutterOf(l);
    const text = effectsText(l);
    if (text !== '' || l.line === faulted) out.push({ line: l.line, text, ...(gutter ? { gutter } : {}), highlighted: l.line === faulted });
  }
  if (faulted !== undefined && !out.some((l) => l.line === faulted)) out.push({ line: faulted, text: '', highlighted: true });
  return out.sort((a, b) => a.line - b.line);
}
