// Calls back when a setting that changes what the views show is edited.

import * as vscode from 'vscode';
import type { Ctx } from './context';

const VIEW_SETTINGS = ['hmm.views', 'hmm.map', 'hmm.colors'];

export function onSettingsChanged(ctx: Ctx, refresh: () => void): void {
  ctx.own(vscode.workspace.onDidChangeConfiguration((e) => {
    if (VIEW_SETTINGS.some((s) => e.affectsConfiguration(s))) refresh();
  }));
}
