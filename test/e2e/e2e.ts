// Layer: end-to-end test (system Node): the packaged VSIX installed into code-server, driven like a
// user would in headless Chromium with playwright-core (Debian's /usr/bin/chromium).
//
// Follows README "From install to a stop on a device fault" step by step, in a fresh profile
// with a copy of examples/ open: opens 02-cpu-touches-migrated-page.hmm with Ctrl+P, runs HMM:
// Debug and Stop on Device Faults from F1, checks the stop comes before the fault is serviced
// (exception widget, Call Stack, Page Residency), steps (F10), steps back (Alt+F10), opens each
// HMM view and the map, then ticks Device fault's checkbox in Breakpoints and stops again with F5.
// Screenshots of every stage land in artifacts/screenshots/ (kept by CI). Last line:
// `e2e: N passed, N failed`.
//
//   node out/test/e2e/e2e.js [--vsix hmm-debug.vsix]      (after npm run package and scripts/tools.sh)
// E2E_VERBOSE=1 prints code-server's and the page's logs.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { mapStages } from './map';
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

/** The rendered text of a pane's body (views whose rows are not label + description, e.g. Call Stack), expanded first. */
async function paneBody(p: Page, title: string): Promise<string> {
  const pane = paneOf(p, title);
  const header = pane.locator('.pane-header');
  await header.waitFor({ timeout: 20000 });
  if ((await header.getAttribute('aria-expanded')) === 'false') await header.click();
  return pane.locator('.pane-body').innerText();
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
  fs.cpSync(path.join(ROOT, 'examples'), workspace, { recursive: true }); // README: `npm start` opens examples/
  fs.copyFileSync(path.join(ROOT, 'test', 'e2e', 'million.hmm'), path.join(workspace, 'million.hmm')); // the map at 1M pages
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
    const SCRIPT = '02-cpu-touches-migrated-page.hmm';
    const editor = p.locator('.editor-instance .monaco-editor').first();
    const widget = p.locator('.monaco-editor .exception-widget');
    /** F1, a command's title, Enter: as the README says "F1 → HMM: …". */
    const runCommand = async (title: string): Promise<void> => {
      await p.keyboard.press('F1');
      const input = p.locator('.quick-input-widget input');
      await input.waitFor({ timeout: 10000 });
      await input.fill(`>${title}`);
      await p.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first().waitFor({ timeout: 10000 });
      await p.keyboard.press('Enter');
    };
    /** Page Residency with mapping `a` expanded into its runs. */
    const residencyRuns = async (): Promise<string> => {
      await paneText(p, 'Page Residency'); // expands the pane
      const pane = paneOf(p, 'Page Residency');
      const row = pane.locator('.monaco-list-row', { has: p.locator('.label-name', { hasText: /^a$/ }) }).first();
      await row.waitFor({ timeout: 20000 });
      if ((await row.getAttribute('aria-expanded')) === 'false') await row.click();
      return paneText(p, 'Page Residency');
    };
    const systemRunsMappedByGpu0 = (t: string): boolean[] =>
      t.split('\n').filter((l) => /^a\[[\d.]+\].*system rw/.test(l)).map((l) => /gpu0 (read|write)/.test(l));

    await stage('1. VS Code opens with examples/', async () => {
      const tNav = Date.now();
      await p.goto(`${server!.url}/?folder=${encodeURIComponent(workspace)}`);
      await p.locator('.explorer-folders-view .monaco-list-row', { hasText: SCRIPT }).waitFor({ timeout: 90000 });
      console.log(`         workbench loaded in ${((Date.now() - tNav) / 1000).toFixed(1)} s`);
    });
    await shot('workbench');

    await stage(`2. Ctrl+P opens ${SCRIPT}`, async () => {
      await p.locator('.explorer-folders-view').click();
      await p.keyboard.press('Control+P');
      const input = p.locator('.quick-input-widget input');
      await input.waitFor({ timeout: 10000 });
      await input.fill(SCRIPT);
      // the file search may take a while on a loaded machine
      await p.locator('.quick-input-widget .monaco-list-row', { hasText: SCRIPT }).first().waitFor({ timeout: 60000 });
      await p.keyboard.press('Enter');
      await editor.locator('.view-lines', { hasText: 'What happens when the CPU touches' }).waitFor({ timeout: 20000 });
      await p.locator('.statusbar-item', { hasText: 'HMM script' }).first().waitFor({ timeout: 20000 });
    });
    await shot('script-open');

    await stage('3. F1 → HMM: Debug and Stop on Device Faults starts a session (nothing ticked in Breakpoints)', async () => {
      await editor.locator('.view-lines').click();
      await runCommand('HMM: Debug and Stop on Device Faults');
      await p.locator('.debug-toolbar').waitFor({ timeout: 30000 });
    });

    await stage('4. it stops at gpu0 read a before the fault is serviced: exception widget, Call Stack, Page Residency', async () => {
      await widget.waitFor({ timeout: 30000 });
      const text = (await widget.innerText()).replace(/\s+/g, ' ');
      console.log(`         exception widget: ${text.slice(0, 200)}`);
      if (!/Exception has occurred: Device fault/.test(text)) throw new Error(`the widget does not name the filter: ${text}`);
      if (!/gpu0 device fault \(read\) a\[5\.\.7\]/.test(text)) throw new Error(`not gpu0's read fault on a[5..7]: ${text}`);
      await until('the top stack frame marked on `gpu0 read a`', async () => ({
        line: (await editor.locator('.view-lines .view-line', { hasText: 'gpu0 read a' }).boundingBox())?.y,
        marked: await editor.locator('.view-overlays .debug-top-stack-frame-line').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().top)),
      }), (v) => v.line !== undefined && v.marked.length === 1 && Math.abs(v.marked[0]! - v.line) <= 2, 10000);
      await p.keyboard.press('Control+Shift+D');
      const stack = await until('Call Stack with the kernel frame', () => paneBody(p, 'Call Stack'), (t) => /dmirror_fault/.test(t));
      console.log(`         Call Stack:\n           ${stack.split('\n').join('\n           ')}`);
      const runs = await until('Page Residency runs of a', residencyRuns, (t) => /5 device gpu0 rw, 3 system rw/.test(t) && systemRunsMappedByGpu0(t).length === 2);
      console.log(`         Page Residency at the stop:\n           ${runs.split('\n').join('\n           ')}`);
      if (systemRunsMappedByGpu0(runs).some((m) => m)) throw new Error('gpu0 already maps the system pages: the fault was serviced before the stop');
    });
    await shot('device-fault-before-service');

    let serviced = '';
    await stage('5a. F10 services the fault: gpu0 now maps a[5..7], not a[2]', async () => {
      await p.keyboard.press('F10');
      serviced = await until('gpu0 to map a[5..7]', residencyRuns, (t) => systemRunsMappedByGpu0(t).join() === 'false,true');
      console.log(`         Page Residency after F10:\n           ${serviced.split('\n').join('\n           ')}`);
    });
    await shot('after-step');

    await stage('5b. Alt+F10 (Step Back) rewinds: gpu0 no longer maps them', async () => {
      await editor.locator('.view-lines').click();
      await p.keyboard.press('Alt+F10');
      await until('the pages unmapped again', residencyRuns, (t) => systemRunsMappedByGpu0(t).length === 2 && systemRunsMappedByGpu0(t).every((m) => !m));
      await until('Call Stack after the step back', () => paneBody(p, 'Call Stack'), (t) => /Stepped back|02-cpu-touches-migrated-page\.hmm/.test(t));
    });
    await shot('after-step-back');

    await stage('5c. Pending Migrations and Notifier Callbacks open with content', async () => {
      const notifiers = await until('Notifier Callbacks rows', () => paneText(p, 'Notifier Callbacks'), (t) => /MIGRATE/.test(t));
      console.log(`         Notifier Callbacks:\n           ${notifiers.split('\n').slice(0, 6).join('\n           ')}`);
      const pending = await until('Pending Migrations body', async () => (await paneBody(p, 'Pending Migrations')).trim(), (t) => t.length > 0);
      console.log(`         Pending Migrations: ${pending.split('\n')[0]}`);
    });
    await shot('views');

    await stage('6. F1 → HMM: Open Address-Space Map opens the map', async () => {
      await runCommand('HMM: Open Address-Space Map');
      await p.locator('.tab', { hasText: 'HMM address space' }).waitFor({ timeout: 20000 });
    });
    await shot('map');

    await stage('F5 (Continue) after the step back stops on the same fault again; F5 once more runs to the end', async () => {
      await editor.locator('.view-lines').click();
      await p.keyboard.press('F5');
      await widget.waitFor({ timeout: 30000 });
      await p.keyboard.press('F5');
      await p.locator('.debug-toolbar').waitFor({ state: 'hidden', timeout: 30000 });
    });
    await shot('ended');

    await stage('7. Device fault ticked in Breakpoints (its checkbox) and F5 stops on the fault', async () => {
      const row = paneOf(p, 'Breakpoints').locator('.monaco-list-row', { hasText: 'Device fault' });
      await row.waitFor({ timeout: 10000 });
      // the checkbox, not the name: a click on the name only selects the row
      const box = row.locator('[role=checkbox], input[type=checkbox]').first();
      const checked = async (): Promise<boolean> => (await box.getAttribute('aria-checked')) === 'true' || await box.isChecked().catch(() => false);
      if (await checked()) throw new Error('Device fault is ticked before anyone ticked it');
      await box.click();
      await until('the Device fault checkbox to tick', checked, (v) => v, 5000);
      await editor.locator('.view-lines').click();
      await p.keyboard.press('F5');
      await widget.waitFor({ timeout: 30000 });
      const text = (await widget.innerText()).replace(/\s+/g, ' ');
      if (!/gpu0 device fault \(read\) a\[5\.\.7\]/.test(text)) throw new Error(`not gpu0's fault: ${text}`);
    });
    await shot('device-fault-from-breakpoints');

    await stage('F5 continues to the end; the session ends', async () => {
      await p.keyboard.press('F5');
      await p.locator('.debug-toolbar').waitFor({ state: 'hidden', timeout: 30000 });
    });
    await shot('ended');

    await mapStages({ page: p, workspace, shots: SHOTS, stage, until });
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
