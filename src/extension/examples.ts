// The example scripts shipped in the VSIX (examples/ of the repository): HMM: Open an Example
// copies them into the extension's storage (once; later edits are the user's) and opens one.

import * as vscode from 'vscode';
import type { Ctx } from './context';

/** The first comment line of a script, as its title (`# 02 — What happens when …`). */
function titleOf(text: string): string {
  const first = text.split('\n').find((l) => l.startsWith('#'));
  return first === undefined ? '' : first.replace(/^#\s*(\d+\s*—\s*)?/, '');
}

/** Copies the shipped examples into global storage where missing; returns that folder. */
async function examplesFolder(ctx: Ctx): Promise<vscode.Uri> {
  const shipped = vscode.Uri.joinPath(ctx.extensionUri, 'examples');
  const target = vscode.Uri.joinPath(ctx.extension.globalStorageUri, 'examples');
  await vscode.workspace.fs.createDirectory(target);
  for (const [name, type] of await vscode.workspace.fs.readDirectory(shipped)) {
    if (type !== vscode.FileType.File) continue;
    const to = vscode.Uri.joinPath(target, name);
    const exists = await vscode.workspace.fs.stat(to).then(() => true, () => false);
    if (!exists) await vscode.workspace.fs.copy(vscode.Uri.joinPath(shipped, name), to);
  }
  return target;
}

/** Pick an example (or take `name`, e.g. `02-cpu-touches-migrated-page.hmm`) and open it. */
export async function openExample(ctx: Ctx, name?: string): Promise<vscode.TextEditor | undefined> {
  const folder = await examplesFolder(ctx);
  const scripts = (await vscode.workspace.fs.readDirectory(folder)).map(([n]) => n).filter((n) => n.endsWith('.hmm')).sort();
  let chosen = name !== undefined && scripts.includes(name) ? name : undefined;
  if (chosen === undefined) {
    const items = await Promise.all(scripts.map(async (n) => ({
      label: n,
      detail: titleOf(new TextDecoder().decode(await vscode.workspace.fs.readFile(vscode.Uri.joinPath(folder, n)))),
    })));
    const pick = await vscode.window.showQuickPick(items, { title: 'Open an example .hmm script', placeHolder: '02-cpu-touches-migrated-page.hmm is a good first one', matchOnDetail: true });
    chosen = pick?.label;
  }
  if (chosen === undefined) return undefined;
  return vscode.window.showTextDocument(vscode.Uri.joinPath(folder, chosen));
}
