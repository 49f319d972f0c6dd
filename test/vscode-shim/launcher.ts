// Test harness (not shipped): a stand-in "VS Code executable" for @vscode/test-electron's
// runTests({ vscodeExecutablePath }) on machines without VS Code desktop (test/vscode-shim/code runs it).
//
// It takes the desktop flags runTests passes (--extensionDevelopmentPath=, --extensionTestsPath=,
// --user-data-dir=, --extensions-dir=, --disable-extensions, a folder; the others are ignored)
// and runs the tests in the Node extension host of code-server, with headless Chromium as the
// window: code-server starts with the smoke-test driver enabled, the workbench URL carries the
// `payload` the web workbench reads (development and tests paths), the workbench reports the
// tests' exit code through window.codeAutomationExit and forwards the extension host's console
// through window.codeAutomationLog. Exit status = the tests' exit code.
//
// Environment: VSCODE_SHIM_TIMEOUT_MS (default 600000), VSCODE_SHIM_VERBOSE=1 (code-server's and
// the page's logs), VSCODE_SHIM_SCREENSHOT (a PNG of the window at the end), and those of
// findTools() (CODE_SERVER_NODE, CODE_SERVER_DIR, CHROMIUM).

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { CHROMIUM_ARGS, findTools, isolatedEnv, startCodeServer, writeUserSettings, type CodeServer } from './codeServer';

interface Args {
  readonly dev: string[];
  tests?: string;
  userDataDir?: string;
  extensionsDir?: string;
  folder?: string;
  disableExtensions: boolean;
}

export function parseArgs(argv: readonly string[]): Args {
  const o: Args = { dev: [], disableExtensions: false };
  const takesValue = ['--extensionDevelopmentPath', '--extensionTestsPath', '--user-data-dir', '--extensions-dir'];
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]!;
    let v = '';
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) { v = a.slice(eq + 1); a = a.slice(0, eq); } else if (takesValue.includes(a)) v = argv[++i] ?? '';
    switch (a) {
      case '--extensionDevelopmentPath': o.dev.push(path.resolve(v)); break;
      case '--extensionTestsPath': o.tests = path.resolve(v); break;
      case '--user-data-dir': o.userDataDir = path.resolve(v); break;
      case '--extensions-dir': o.extensionsDir = path.resolve(v); break;
      case '--disable-extensions': o.disableExtensions = true; break;
      default: if (!a.startsWith('-')) o.folder = path.resolve(a);
    }
  }
  return o;
}

/**
 * The one development path the web workbench is given for `dev`. It reads its `payload` into a
 * Map, so of several `extensionDevelopmentPath` entries only the last survives; the server, though,
 * loads every extension folder inside a development path that is not itself an extension. Several
 * paths therefore become one folder of links to them, under `tmp`.
 */
export function developmentFolder(dev: readonly string[], tmp: string): string {
  if (dev.length === 1) return dev[0]!;
  const folder = path.join(tmp, 'development-extensions');
  fs.mkdirSync(folder, { recursive: true });
  dev.forEach((d, i) => {
    if (!fs.existsSync(path.join(d, 'package.json'))) throw new Error(`--extensionDevelopmentPath ${d} has no package.json`);
    fs.symlinkSync(d, path.join(folder, `${i}-${path.basename(d)}`), 'dir');
  });
  return folder;
}

/** The workbench's own log lines that reach codeAutomationLog with the extension host's console (shown with VSCODE_SHIM_VERBOSE=1). */
const WORKBENCH_NOISE = /^(Resolv(ing|ed) connection token|Creating a socket|\[(reconnection-grace-time|Service Worker|AgentHost|AccountPolicyGate)|Ignoring fetching additional builtin|Updating additional builtin|Creation of workbench contribution|Timed out waiting for authentication provider)/;

const secs = (t0: number): string => `${((Date.now() - t0) / 1000).toFixed(1)}s`;

export async function main(argv: readonly string[]): Promise<number> {
  const o = parseArgs(argv);
  if (o.tests === undefined || o.dev.length === 0) {
    console.error('usage: code --extensionDevelopmentPath=DIR --extensionTestsPath=FILE [--user-data-dir=DIR] [--extensions-dir=DIR] [--disable-extensions] [FOLDER]');
    return 2;
  }
  const verbose = process.env['VSCODE_SHIM_VERBOSE'] === '1';
  const t0 = Date.now();
  const tools = findTools();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hmm-vscode-shim-'));
  const userDataDir = o.userDataDir ?? path.join(tmp, 'user-data');
  const extensionsDir = o.extensionsDir ?? path.join(tmp, 'extensions');
  fs.mkdirSync(extensionsDir, { recursive: true });
  writeUserSettings(userDataDir, { 'workbench.startupEditor': 'none' });
  const env = isolatedEnv(tmp);
  let server: CodeServer | undefined;
  let ctx: BrowserContext | undefined;
  let code = 1;
  try {
    server = await startCodeServer(tools, { userDataDir, extensionsDir, env }, {
      args: ['--vscode-option', 'enable-smoke-test-driver', ...(o.disableExtensions ? ['--vscode-option', 'disable-extensions'] : [])],
      echo: verbose,
    });
    if (verbose) console.error(`[shim] code-server up at ${server.url} after ${secs(t0)}`);
    ctx = await chromium.launchPersistentContext(path.join(tmp, 'chromium'), {
      executablePath: tools.chromium, headless: true, args: [...CHROMIUM_ARGS], viewport: { width: 1400, height: 900 },
      // keeps Chromium's 'Crash Reports' and caches out of ~/.config
      env: { ...process.env, XDG_CONFIG_HOME: env['XDG_CONFIG_HOME']!, XDG_CACHE_HOME: env['XDG_CACHE_HOME']! },
    });
    const page = ctx.pages()[0] ?? await ctx.newPage();
    if (verbose) page.on('console', (m) => console.error('[page]', m.type(), m.text().slice(0, 500)));
    const exited = new Promise<number>((resolve) => {
      void page.exposeFunction('codeAutomationLog', (_type: string, args: unknown) => {
        const a = Array.isArray(args) ? args : [args];
        if (verbose || !WORKBENCH_NOISE.test(String(a[0]))) console.log(...a);
      });
      void page.exposeFunction('codeAutomationExit', (c: number) => resolve(c));
    });
    const remote = (p: string): string => `vscode-remote://127.0.0.1:${server!.port}${p}`;
    const payload = [['extensionDevelopmentPath', remote(developmentFolder(o.dev, tmp))], ['extensionTestsPath', remote(o.tests)], ['skipWelcome', 'true']];
    const where = o.folder !== undefined ? `folder=${encodeURIComponent(o.folder)}` : 'ew=true';
    await page.goto(`${server.url}/?${where}&payload=${encodeURIComponent(JSON.stringify(payload))}`);
    const limit = Number(process.env['VSCODE_SHIM_TIMEOUT_MS'] ?? 600000);
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([exited, new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), limit); })]);
    clearTimeout(timer);
    const shot = process.env['VSCODE_SHIM_SCREENSHOT'];
    if (result === 'timeout') {
      const file = shot ?? path.join(os.tmpdir(), `hmm-vscode-shim-timeout-${Date.now()}.png`);
      await page.screenshot({ path: file }).catch(() => undefined);
      console.error(`[shim] the tests did not finish in ${limit} ms; screenshot ${file}\n--- code-server log ---\n${server.log()}`);
    } else {
      code = result;
      if (shot !== undefined) await page.screenshot({ path: shot }).catch(() => undefined);
    }
  } catch (e) {
    console.error('[shim] error:', e instanceof Error ? e.stack : e);
    if (server !== undefined) console.error(`--- code-server log ---\n${server.log()}`);
  } finally {
    await ctx?.close().catch(() => undefined);
    await server?.stop();
    fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 5 });
    if (verbose) console.error(`[shim] exit ${code} after ${secs(t0)}`);
  }
  return code;
}
