// Layer: integration tests, run INSIDE the VS Code extension host (code-server's, or VS Code
// desktop's): @vscode/test-electron passes --extensionTestsPath=out/test/integration/index.js and
// the host calls run(). Runs every out/test/integration/*.itest.js with mocha's spec reporter,
// prints the closing line `N passed, N failed` and writes it to $HMM_ITEST_RESULT for runTest.

import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';
import * as vscode from 'vscode';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: 60000, reporter: 'spec' });
  const grep = process.env['HMM_ITEST_GREP'];
  if (grep) mocha.grep(grep);
  for (const f of fs.readdirSync(__dirname).sort()) if (f.endsWith('.itest.js')) mocha.addFile(path.join(__dirname, f));
  return new Promise((resolve, reject) => {
    try {
      const runner = mocha.run((failures) => {
        const s = runner.stats;
        const line = `${s?.passes ?? 0} passed, ${failures} failed${s?.pending ? `, ${s.pending} skipped` : ''}`;
        console.log(`vscode integration (VS Code ${vscode.version}): ${line}`);
        const out = process.env['HMM_ITEST_RESULT'];
        if (out) fs.writeFileSync(out, `${line}\n`);
        if (failures > 0) reject(new Error(`${failures} integration tests failed`));
        else resolve();
      });
    } catch (e) {
      reject(e);
    }
  });
}
