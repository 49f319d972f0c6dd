// "Compare with the Linux Kernel", through the kernel oracle (src/oracle): runs the active script on the
// simulator and in a VM on Linux 6.12 with test_hmm, and shows each disagreement on its line.

import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Ctx } from './context';
import { HMM_LANGUAGE } from './diagnostics';
import { loadOnDemand } from './loadOnDemand';

let diagnostics: vscode.DiagnosticCollection | undefined;
let channel: vscode.OutputChannel | undefined;

function kernelChannel(ctx: Ctx): vscode.OutputChannel {
  channel ??= ctx.own(vscode.window.createOutputChannel('HMM: Linux Kernel'));
  return channel;
}

function kernelDiagnostics(ctx: Ctx): vscode.DiagnosticCollection {
  diagnostics ??= ctx.own(vscode.languages.createDiagnosticCollection('hmm-kernel'));
  return diagnostics;
}

/** What the command returns (the integration tests read it). */
export interface KernelCompareSummary {
  readonly verdict: string;
  readonly disagreements: number;
  readonly compared: number;
}

const lineRange = (doc: vscode.TextDocument, line: number): vscode.Range => doc.lineAt(Math.max(0, Math.min(doc.lineCount - 1, line - 1))).range;

/** Offers to build the kernel in a terminal (it takes minutes, and apt may need root). */
async function offerBuild(ctx: Ctx, why: string): Promise<void> {
  const build = 'Build the Kernel';
  const pick = await vscode.window.showWarningMessage(`Linux is not built for the comparison yet (${why}). Building takes 4–10 minutes once; later runs reuse it.`, build);
  if (pick !== build) return;
  const term = vscode.window.createTerminal({ name: 'HMM: build Linux 6.12' });
  term.show();
  term.sendText(`bash ${JSON.stringify(path.join(ctx.extensionUri.fsPath, 'kernel', 'build.sh'))}`);
}

export async function compareWithKernel(ctx: Ctx, doc: vscode.TextDocument): Promise<KernelCompareSummary | undefined> {
  if (doc.languageId !== HMM_LANGUAGE) return undefined;
  const { loadArtifacts, KernelNotBuiltError, compareWithKernel: compare, runProgram } = await loadOnDemand();
  try {
    loadArtifacts();
  } catch (e) {
    if (e instanceof KernelNotBuiltError) {
      await offerBuild(ctx, e.message);
      return undefined;
    }
    throw e;
  }
  const out = kernelChannel(ctx);
  const file = doc.uri.scheme === 'file' ? doc.uri.fsPath : doc.uri.path;
  const name = path.basename(file);
  out.appendLine(`── ${name}: simulator and Linux 6.12 (test_hmm) ${'─'.repeat(Math.max(0, 40 - name.length))}`);
  const c = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Comparing ${name} with Linux 6.12`, cancellable: false },
    async (progress) => {
      progress.report({ message: 'running the script on the simulator and in the VM (a boot takes seconds)…' });
      return compare([{ file, text: doc.getText() }], (program) => runProgram(program, {
        onBoot: (b, _finished, remaining) => {
          for (const line of b.console.split('\n')) if (line.trim() !== '') out.appendLine(`kernel: ${line}`);
          if (remaining > 0) progress.report({ message: 'the kernel crashed: booting again for the rest…' });
        },
      }));
    },
  );
  const t = c.translations[0]!;
  const j = c.judgements[0]!;
  const diags: vscode.Diagnostic[] = [];
  for (const d of j.disagreements) {
    const msg = d.text.slice(`${file}:${d.op.loc.line}:${d.op.loc.col}: `.length);
    const diag = new vscode.Diagnostic(lineRange(doc, d.op.loc.line), msg, vscode.DiagnosticSeverity.Error);
    diag.source = 'Linux 6.12';
    diags.push(diag);
    out.appendLine(d.text);
  }
  if (t.stoppedAt !== undefined) {
    const diag = new vscode.Diagnostic(lineRange(doc, t.stoppedAt.loc.line), `not compared from here: ${t.stoppedAt.reason}`, vscode.DiagnosticSeverity.Information);
    diag.source = 'Linux 6.12';
    diags.push(diag);
  }
  kernelDiagnostics(ctx).set(doc.uri, diags);
  for (const p of j.problems) out.appendLine(`problem: ${p}`);
  for (const n of t.notes) out.appendLine(`note: ${n}`);
  if (t.simError !== undefined) out.appendLine(`${t.simError} (simulator)`);
  out.appendLine(`${name}: ${j.summary} (${c.boots} boot(s), ${(c.vmMs / 1000).toFixed(1)} s in the VM)`);
  const text = j.verdict === 'agree' ? `${name}: the simulator agrees with Linux on all ${j.compared} operations.`
    : j.verdict === 'disagree' ? `${name}: ${j.disagreements.length} disagreement(s) with Linux — see the Problems view.`
      : `${name}: ${j.summary}`;
  const show = 'Show Kernel Output';
  void (j.verdict === 'disagree' ? vscode.window.showWarningMessage(text, show) : vscode.window.showInformationMessage(text, show))
    .then((p) => { if (p === show) out.show(true); });
  return { verdict: j.verdict, disagreements: j.disagreements.length, compared: j.compared };
}
