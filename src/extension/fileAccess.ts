// How the inline debug adapter reads scripts: the text of an open editor first (what the user
// sees), then a copy read through vscode.workspace.fs before launch (any file system), then
// node:fs. The adapter's FileAccess is synchronous, hence the preload.

import * as path from 'node:path';
import * as vscode from 'vscode';
import type { FileAccess } from '../adapter/session';
import { MAX_SCRIPT_BYTES } from '../hmm/lang/limits';
import { readScriptFile } from '../hmm/lang/scriptFile';

export class WorkspaceFileAccess implements FileAccess {
  private readonly preloaded = new Map<string, string>();

  /** Reads `file` through the workspace file system so readFile can answer synchronously. */
  async preload(file: string): Promise<void> {
    try {
      const uri = vscode.Uri.file(file);
      // A device, a FIFO or a huge file is not read here: readScriptFile refuses it with the reason.
      const st = await vscode.workspace.fs.stat(uri);
      if ((st.type & vscode.FileType.File) === 0 || st.size > MAX_SCRIPT_BYTES) return;
      const bytes = await vscode.workspace.fs.readFile(uri);
      this.preloaded.set(path.resolve(file), new TextDecoder('utf-8').decode(bytes));
    } catch {
      // Not readable this way: readFile falls back to node:fs and reports the error itself.
    }
  }

  /** What readFile would answer, without using up the preloaded copy. */
  peek(file: string): string {
    const abs = path.resolve(file);
    const open = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'file' && path.resolve(d.uri.fsPath) === abs);
    return open?.getText() ?? this.preloaded.get(abs) ?? readScriptFile(abs);
  }

  readFile(file: string): string {
    const abs = path.resolve(file);
    const open = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'file' && path.resolve(d.uri.fsPath) === abs);
    if (open !== undefined) return open.getText();
    const pre = this.preloaded.get(abs);
    if (pre !== undefined) {
      this.preloaded.delete(abs);
      return pre;
    }
    return readScriptFile(abs);
  }
}
