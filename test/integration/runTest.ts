// Layer: integration tests, the runner (system Node): @vscode/test-electron's runTests with the
// suite in test/integration (index.ts + *.itest.ts, run inside the extension host).
//
// By default the "VS Code executable" is test/vscode-shim/code: code-server + headless Chromium
// (scripts/tools.sh installs both). With VSCODE_EXECUTABLE=/path/to/code the same suite runs in
// VS Code desktop. The fixture workspace (test/integration/workspace) is copied to
// .cache/vscode-test/workspace first, so a test never dirties the repository.
// Last line: `integration: N passed, N failed`.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { runTests } from '@vscode/test-electron';
import { EMPTY_EXTENSION_COPIES } from './activation';

const ROOT = path.resolve(__dirname, '..', '..', '..');

/** test/fixtures/empty-extension under the names `empty-extension-<copy>`, in `dir`: one folder each. */
function emptyExtensions(dir: string): string[] {
  const template = path.join(ROOT, 'test', 'fixtures', 'empty-extension');
  return EMPTY_EXTENSION_COPIES.map((copy) => {
    const folder = path.join(dir, `empty-extension-${copy}`);
    fs.cpSync(template, folder, { recursive: true });
    const manifest = JSON.parse(fs.readFileSync(path.join(folder, 'package.json'), 'utf8')) as { name: string };
    manifest.name = `empty-extension-${copy}`;
    fs.writeFileSync(path.join(folder, 'package.json'), JSON.stringify(manifest, null, 2));
    return folder;
  });
}

async function main(): Promise<number> {
  const t0 = Date.now();
  const executable = process.env['VSCODE_EXECUTABLE'] || path.join(ROOT, 'test', 'vscode-shim', 'code');
  const base = path.join(ROOT, '.cache', 'vscode-test');
  fs.rmSync(base, { recursive: true, force: true });
  const workspace = path.join(base, 'workspace');
  fs.cpSync(path.join(ROOT, 'test', 'integration', 'workspace'), workspace, { recursive: true });
  const result = path.join(base, 'result.txt');
  // The figures npm run bench reads are this run's alone.
  fs.rmSync(path.join(ROOT, 'artifacts', 'vscode-metrics.json'), { force: true });
  let code = 0;
  try {
    await runTests({
      vscodeExecutablePath: executable,
      // Ours and empty extensions, the baseline of its activation time.
      extensionDevelopmentPath: [ROOT, ...emptyExtensions(path.join(base, 'fixtures'))],
      extensionTestsPath: path.join(__dirname, 'index.js'),
      launchArgs: [workspace, '--disable-extensions', `--user-data-dir=${path.join(base, 'user-data')}`, `--extensions-dir=${path.join(base, 'extensions')}`],
      extensionTestsEnv: { HMM_ITEST_RESULT: result, HMM_ITEST_ARTIFACTS: path.join(ROOT, 'artifacts') },
    });
  } catch (e) {
    console.error(`runTests: ${e instanceof Error ? e.message : String(e)}`);
    code = 1;
  }
  const line = fs.existsSync(result) ? fs.readFileSync(result, 'utf8').trim() : '0 passed, 1 failed (the suite did not report: see above)';
  if (!fs.existsSync(result)) code = 1;
  console.log(`integration (${((Date.now() - t0) / 1000).toFixed(1)} s): ${line}`);
  return code;
}

main().then((c) => process.exit(c), (e) => { console.error(e); process.exit(1); });
