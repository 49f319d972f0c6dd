// The context object that owns every disposable of the extension (rust-analyzer's `Ctx`).

import * as vscode from 'vscode';

export class Ctx implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private outputChannel: vscode.OutputChannel | undefined;

  constructor(readonly extension: vscode.ExtensionContext) {}

  get extensionUri(): vscode.Uri {
    return this.extension.extensionUri;
  }

  /** Registers a disposable (or several) for deactivation; returns the first for chaining. */
  own<T extends vscode.Disposable>(d: T, ...more: vscode.Disposable[]): T {
    this.disposables.push(d, ...more);
    return d;
  }

  /** The "HMM" output channel, created on first use (activation stays cheap). */
  get output(): vscode.OutputChannel {
    if (this.outputChannel === undefined) this.outputChannel = this.own(vscode.window.createOutputChannel('HMM'));
    return this.outputChannel;
  }

  mediaUri(...parts: string[]): vscode.Uri {
    return vscode.Uri.joinPath(this.extension.extensionUri, 'media', ...parts);
  }

  /** Scripts bundled for webviews (dist/webview). */
  webviewScriptUri(...parts: string[]): vscode.Uri {
    return vscode.Uri.joinPath(this.extension.extensionUri, 'dist', 'webview', ...parts);
  }

  dispose(): void {
    for (const d of this.disposables.splice(0).reverse()) {
      try {
        d.dispose();
      } catch {
        // Disposing the rest matters more than one failure.
      }
    }
  }
}
