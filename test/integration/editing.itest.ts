// Layer: integration tests, inside the VS Code extension host (see index.ts). Editing help and
// first steps as a user meets them: the checker's "did you mean" as a quick fix, completion of
// declared names and keywords, HMM: Open an Example Script, and a script with errors that does
// not start a session (no modal with a launch.json button).

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';

const EXTENSION_ID = 'hmm-debug.hmm-debug';
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function eventually<T>(what: string, probe: () => Promise<T> | T, ok: (v: T) => boolean, ms = 15000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (ok(last)) return last;
    if (Date.now() > deadline) throw new assert.AssertionError({ message: `timed out waiting for ${what}; last seen: ${JSON.stringify(last)?.slice(0, 2000)}` });
    await delay(100);
  }
}

describe('editing help and first steps', function () {
  this.timeout(60000);

  before(async () => {
    await vscode.extensions.getExtension(EXTENSION_ID)?.activate();
  });

  it('the checker\'s "did you mean" is a quick fix that applies the name', async () => {
    const doc = await vscode.workspace.openTextDocument({ language: 'hmm', content: 'device gpu0\na = mmap 4 pages rw\nmigrate a to gpu1\n' });
    await vscode.window.showTextDocument(doc);
    const diag = await eventually('the diagnostic on gpu1', () => vscode.languages.getDiagnostics(doc.uri), (d) => d.some((x) => /did you mean 'gpu0'/.test(x.message)));
    const d = diag.find((x) => /did you mean 'gpu0'/.test(x.message))!;
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', doc.uri, d.range);
    const fix = actions.find((a) => a.title === "Change to 'gpu0'");
    assert.ok(fix?.edit, `quick fixes: ${actions.map((a) => a.title).join(', ')}`);
    await vscode.workspace.applyEdit(fix.edit);
    assert.equal(doc.lineAt(2).text, 'migrate a to gpu0');
    await eventually('the problem gone', () => vscode.languages.getDiagnostics(doc.uri), (x) => x.length === 0);
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('completion offers the declared device, mapping and kernel, and statement keywords', async () => {
    // A file of its own: an untitled document could take the name (and, seen in a run, the text) of the one the test above closed.
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hmm-itest-')), 'complete.hmm');
    fs.writeFileSync(file, 'device gpu0\nkernel k(x) {\n  read x\n}\nbuf = mmap 4 pages rw\n\n');
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
    const list = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', doc.uri, new vscode.Position(5, 0));
    const labels = list.items.map((i) => (typeof i.label === 'string' ? i.label : i.label.label));
    for (const want of ['gpu0', 'buf', 'k', 'migrate', 'launch', 'expect']) assert.ok(labels.includes(want), `${want} among ${labels.join(', ')}`);
  });

  it('HMM: Open an Example Script opens a copy of a shipped example', async () => {
    const editor = await vscode.commands.executeCommand<vscode.TextEditor>('hmm.openExample', '02-cpu-touches-migrated-page.hmm');
    assert.ok(editor, 'an editor opened');
    assert.match(editor.document.getText(), /^# 02 — What happens when the CPU touches a page/);
    assert.equal(editor.document.languageId, 'hmm');
    assert.match(editor.document.uri.path, /globalStorage/, `a copy in the extension's storage, not the installed file: ${editor.document.uri.path}`);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('a script with errors does not start a session', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hmm-itest-')), 'broken.hmm');
    fs.writeFileSync(file, 'device gpu0\nmigrate b to gpu0\n');
    // (the untitled documents of the tests above must not hold the start up with a save prompt)
    await vscode.workspace.getConfiguration('debug').update('saveBeforeStart', 'none', vscode.ConfigurationTarget.Global);
    const started = await Promise.race([
      vscode.debug.startDebugging(undefined, { type: 'hmm', request: 'launch', name: 'broken', program: file }),
      delay(20000).then(() => 'no answer from startDebugging within 20 s'),
    ]);
    assert.equal(started, false, 'startDebugging reports it did not start');
    await delay(500);
    assert.equal(vscode.debug.activeDebugSession, undefined, 'no session');
  });
});
