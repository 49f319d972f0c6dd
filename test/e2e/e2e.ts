// Layer: end-to-end test (system Node): the packaged VSIX installed into code-server, driven like a
// user would in headless Chromium with playwright-core (Debian's /usr/bin/chromium).
//
// Opens test/e2e/workspace/demo.hmm, sets a breakpoint by clicking the editor's gutter (glyph
// margin), presses F5, reads the Page Residency view's text at the stop and again after F10 (it
// must change: the pages move to gpu0), continues to the end. Screenshots of every stage land in
// artifacts/screenshots/ (kept by CI). Last line: `e2e: N passed, N failed`.
//
//   node out/test/e2e/e2e.js [--vsix hmm-debug.vsix]      (after npm run package and scripts/tools.sh)
// E2E_VERBOSE=1 prints code-server's and the page's logs.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, findTools, installVsix, isolatedEnv, ROOT, startCodeServer, writeUserSettings, type CodeServer } from '../vscode-shim/codeServer';

const SHOTS = path.join(ROOT, 'artifacts', 'screenshots');
const verbose = process.env['E2E_VERBOSE'] === '1';
const t0 = Date.now();
const stamp = (): string => `${((Date.now() - t0) / 1000).toFixed(1)}s`.padStart(6);

let passed = 0;
let failed = 0;
let page: Page | undefined;
let shotNo = 0;

async function shot(name: string): Promise<void> {
  if (page === undefined) return;
  const file = path.join(SHOTS, `${String(++shotNo).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file }).catch((e: unknown) => console.log(`  (screenshot ${name} failed: ${String(e)})`));
}

/** One checked stage; a failure is counted, photographed and ends the run (later stages need it). */
async function stage(name: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
    passed++;
    console.log(`[${stamp()}] ok   - ${name}`);
  } catch (e) {
    failed++;
    console.log(`[${stamp()}] FAIL - ${name}\n         ${String(e instanceof Error ? e.message : e).split('\n').slice(0, 12).join('\n         ')}`);
    await shot(`FAIL-${name.replace(/\W+/g, '-').slice(0, 40)}`);
    throw new StageFailed();
  }
}
class StageFailed extends Error {}

/** The text a pane of the Run and Debug container shows (header + rows), expanded first. */
async function paneText(p: Page, title: string): Promise<string> {
  const pane = paneOf(p, title);
  const header = pane.locator('.pane-header');
  await header.waitFor({ timeout: 20000 });
  if ((await header.getAttribute('aria-expanded')) === 'false') await header.click();
  const rows = pane.locator('.pane-body .monaco-list-row');
  await rows.first().waitFor({ timeout: 20000 });
  // one line per row: label and description apart (innerText runs them together)
  return rows.evaluateAll((els) => els.map((el) => [...el.querySelectorAll('.label-name, .label-description')]
    .map((x) => (x.textContent ?? '').trim()).filter((x) => x !== '').join('  ')).join('\n'));
}

const paneOf = (p: Page, title: string): Locator => p.locator('.split-view-view .pane', { has: p.locator('.pane-header', { hasText: title }) });

async function until<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, ms = 20000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T | undefined;
  let err: unknown;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      err = undefined;
      if (ok(last)) return last;
    } catch (e) {
      err = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}; last seen: ${err !== undefined ? String(err) : JSON.stringify(last)}`);
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const vsix = path.resolve(ROOT, args.includes('--vsix') ? args[args.indexOf('--vsix') + 1]! : 'hmm-debug.vsix');
  if (!fs.existsSync(vsix)) throw new Error(`${vsix} not found: run npm run package first`);
  const tools = findTools();
  fs.rmSync(SHOTS, { recursive: true, force: true });
  fs.mkdirSync(SHOTS, { recursive: true });
  const dir = path.join(ROOT, '.cache', 'e2e');
  fs.rmSync(dir, { recursive: true, force: true });
  const workspace = path.join(dir, 'workspace');
  fs.cpSync(path.join(ROOT, 'test', 'e2e', 'workspace'), workspace, { recursive: true });
  const profile = { userDataDir: path.join(dir, 'user-data'), extensionsDir: path.join(dir, 'extensions'), env: isolatedEnv(dir) };
  writeUserSettings(profile.userDataDir, { 'workbench.startupEditor': 'none', 'debug.saveBeforeStart': 'none' });
  await installVsix(tools, profile, vsix);
  console.log(`[${stamp()}] ${path.relative(ROOT, vsix)} installed into code-server`);

  let server: CodeServer | undefined;
  let ctx: BrowserContext | undefined;
  try {
    server = await startCodeServer(tools, profile, { echo: verbose });
    console.log(`[${stamp()}] code-server up at ${server.url}`);
    ctx = await chromium.launchPersistentContext(path.join(dir, 'chromium'), {
      executablePath: tools.chromium, headless: true, args: [...CHROMIUM_ARGS], viewport: { width: 1600, height: 1000 },
      env: { ...process.env, XDG_CONFIG_HOME: profile.env['XDG_CONFIG_HOME']!, XDG_CACHE_HOME: profile.env['XDG_CACHE_HOME']! },
    });
    const p = page = ctx.pages()[0] ?? await ctx.newPage();
    p.on('pageerror', (e) => console.log(`  pageerror: ${e.message}`));
    if (verbose) p.on('console', (m) => console.log(`  [page] ${m.type()} ${m.text().slice(0, 300)}`));
    const file = path.join(workspace, 'demo.hmm');
    const migrateLine = fs.readFileSync(file, 'utf8').split('\n').findIndex((l) => l.startsWith('migrate a to gpu0')) + 1;
    const editor = p.locator('.editor-instance .monaco-editor').first();

    await stage('the workbench loads with the fixture workspace', async () => {
      const tNav = Date.now();
      await p.goto(`${server!.url}/?folder=${encodeURIComponent(workspace)}`);
      await p.locator('.explorer-folders-view .monaco-list-row', { hasText: 'demo.hmm' }).waitFor({ timeout: 90000 });
      console.log(`         workbench loaded in ${((Date.now() - tNav) / 1000).toFixed(1)} s`);
    });
    await shot('workbench');

    await stage('demo.hmm opens in an editor with the hmm language', async () => {
      await p.locator('.explorer-folders-view .monaco-list-row', { hasText: 'demo.hmm' }).click();
      await editor.locator('.view-lines', { hasText: 'migrate a to gpu0' }).waitFor({ timeout: 20000 });
      // the status bar names the editor's language mode (the extension contributes "HMM script")
      await p.locator('.statusbar-item', { hasText: /HMM|hmm/ }).first().waitFor({ timeout: 20000 });
    });
    await shot('editor');

    await stage(`a click in the gutter of line ${migrateLine} sets a breakpoint`, async () => {
      const lineNumber = editor.locator('.margin-view-overlays .line-numbers', { hasText: new RegExp(`^${migrateLine}$`) });
      await lineNumber.waitFor({ timeout: 20000 });
      // On a loaded machine the editor may still be laying out: measure, hover, click, and try
      // again (measuring afresh) when no breakpoint glyph shows up.
      let row: { x: number; y: number; width: number; height: number } | null = null;
      let at = { x: 0, y: 0 };
      for (let attempt = 1; ; attempt++) {
        row = await lineNumber.boundingBox();
        const glyph = await editor.locator('.margin .glyph-margin').boundingBox();
        if (row === null || glyph === null) throw new Error('no line number / glyph margin box');
        at = { x: glyph.x + glyph.width / 2, y: row.y + row.height / 2 };
        await p.mouse.move(at.x, at.y);
        await p.waitForTimeout(300);
        await p.mouse.click(at.x, at.y);
        const shown = await editor.locator('.codicon-debug-breakpoint').first().waitFor({ timeout: 8000 }).then(() => true, () => false);
        if (shown) break;
        if (attempt === 4) throw new Error(`no breakpoint glyph after ${attempt} clicks in the gutter of line ${migrateLine}`);
        console.log(`         no breakpoint glyph after click ${attempt}; trying again`);
      }
      if (row === null) throw new Error('no line number box');
      const n = await editor.locator('.codicon-debug-breakpoint').count();
      if (n !== 1) throw new Error(`${n} breakpoint glyphs`);
      const box = await editor.locator('.codicon-debug-breakpoint').first().boundingBox();
      if (box === null || Math.abs(box.y + box.height / 2 - at.y) > row.height) throw new Error(`the breakpoint is not on line ${migrateLine}`);
    });
    await shot('breakpoint');

    let before = '';
    await stage('F5 starts debugging and stops at the breakpoint; Page Residency shows the system pages', async () => {
      await editor.locator('.view-lines').click();
      await p.keyboard.press('F5');
      // F5 without launch.json on a .hmm file debugs it directly; accept the debugger pick if VS Code asks
      const picked = await Promise.race([
        p.locator('.monaco-editor .codicon-debug-stackframe').first().waitFor({ timeout: 30000 }).then(() => 'stopped'),
        p.locator('.quick-input-widget .monaco-list-row', { hasText: 'HMM' }).first().waitFor({ timeout: 30000 }).then(() => 'pick'),
      ]);
      if (picked === 'pick') await p.locator('.quick-input-widget .monaco-list-row', { hasText: 'HMM' }).first().click();
      await p.locator('.monaco-editor .codicon-debug-stackframe').first().waitFor({ timeout: 30000 });
      await p.locator('.debug-toolbar').waitFor({ timeout: 10000 });
      before = await until('Page Residency rows', () => paneText(p, 'Page Residency'), (t) => /\bmain\b/.test(t) && /\ba\b/.test(t) && /system rw/.test(t));
      console.log(`         Page Residency at the breakpoint:\n           ${before.split('\n').join('\n           ')}`);
      if (/device gpu0/.test(before)) throw new Error('pages on gpu0 before the migration');
    });
    await shot('stopped-at-breakpoint');

    await stage('F10 steps over the migration; Page Residency changes to gpu0', async () => {
      await p.keyboard.press('F10');
      const after = await until('Page Residency to change', () => paneText(p, 'Page Residency'), (t) => t !== before && /device gpu0/.test(t));
      console.log(`         Page Residency after the step:\n           ${after.split('\n').join('\n           ')}`);
      if (!/16 device gpu0 rw/.test(after)) throw new Error('expected the 16 pages of a on gpu0');
    });
    await shot('after-step');

    await stage('the mapping expands into its page runs', async () => {
      const pane = paneOf(p, 'Page Residency');
      await pane.locator('.monaco-list-row', { has: p.locator('.label-name', { hasText: /^a$/ }) }).first().click();
      await p.keyboard.press('ArrowRight');
      await until('the run row', () => paneText(p, 'Page Residency'), (t) => /device gpu0 rw · 16 pages/.test(t));
    });
    await shot('runs-expanded');

    await stage('ticking "Device fault" in Breakpoints and pressing F5 stops on the device\'s fault', async () => {
      const row = paneOf(p, 'Breakpoints').locator('.monaco-list-row', { hasText: 'Device fault' });
      await row.waitFor({ timeout: 10000 });
      // VS Code draws its own checkbox (role=checkbox, aria-checked), older ones an <input>
      const box = row.locator('[role=checkbox], input[type=checkbox]').first();
      const checked = async (): Promise<boolean> => (await box.getAttribute('aria-checked')) === 'true' || await box.isChecked().catch(() => false);
      if (await checked()) throw new Error('Device fault is on before it was ticked');
      await box.click();
      await until('the Device fault checkbox to tick', checked, (v) => v, 5000);
      await p.keyboard.press('F5');
      const widget = p.locator('.monaco-editor .exception-widget');
      await widget.waitFor({ timeout: 30000 });
      const text = (await widget.innerText()).replace(/\s+/g, ' ');
      console.log(`         exception widget: ${text.slice(0, 200)}`);
      if (!/gpu0/.test(text) || !/fault/i.test(text)) throw new Error(`not a gpu0 fault: ${text}`);
      // the editor marks the top stack frame's line (an overlay row at that line's height)
      await until('the top stack frame marked on `gpu0 read a` alone', async () => ({
        line: (await editor.locator('.view-lines .view-line', { hasText: 'gpu0 read a' }).boundingBox())?.y,
        marked: await editor.locator('.view-overlays .debug-top-stack-frame-line').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().top)),
      }), (v) => v.line !== undefined && v.marked.length === 1 && Math.abs(v.marked[0]! - v.line) <= 2, 10000);
      await until('Page Residency: 4 pages back in system memory', () => paneText(p, 'Page Residency'), (t) => /4 system rw/.test(t));
    });
    await shot('device-fault');

    await stage('F5 continues to the end; the session ends', async () => {
      await p.keyboard.press('F5');
      await p.locator('.debug-toolbar').waitFor({ state: 'hidden', timeout: 30000 });
    });
    await shot('ended');
  } catch (e) {
    if (!(e instanceof StageFailed)) {
      failed++;
      console.log(`[${stamp()}] FAIL - ${e instanceof Error ? e.stack : String(e)}`);
      await shot('FAIL-error');
      if (server !== undefined) console.log(`--- code-server log ---\n${server.log()}`);
    }
  } finally {
    await ctx?.close().catch(() => undefined);
    await server?.stop();
  }
  console.log(`screenshots: ${path.relative(ROOT, SHOTS)}/ (${fs.readdirSync(SHOTS).length} files)`);
  console.log(`e2e (${((Date.now() - t0) / 1000).toFixed(1)} s): ${passed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

main().then((c) => process.exit(c), (e: unknown) => { console.error(e); console.log(`e2e: ${passed} passed, ${failed + 1} failed`); process.exit(1); });
