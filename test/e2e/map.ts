/// <reference lib="dom" />
// Layer: end-to-end test (system Node), run by test/e2e/e2e.ts after its debugging journey.
// The address-space map (media/map.js) in the workbench: the examples 01, 02, 03, 05, 06 and 10
// at chosen stops, and a million resident pages. Each stop: F5 to a breakpoint set with Ctrl+G
// and F9, the map's drawn model read from the webview's frame (window.hmmMap.model(), what
// the SVG was drawn from, and the SVG's own data attributes), a screenshot of the map alone
// into artifacts/screenshots/. Also: hover answers `why`, a step back moves the timeline, the
// export gives an SVG and a PNG, the keyboard moves and zooms, and the figures at 1M pages.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Frame, Page } from 'playwright-core';

export interface E2eContext {
  readonly page: Page;
  readonly workspace: string;
  readonly shots: string;
  stage(name: string, fn: () => Promise<void>): Promise<void>;
  until<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, ms?: number): Promise<T>;
}

/** What media/map.js reports it drew (window.hmmMap.model()). */
interface DrawnModel {
  step: number;
  process: string;
  view: { lo: number; hi: number };
  perPage: boolean;
  lanes: { key: string; segments: { a: number; b: number; kind?: string; label: string; mixed?: boolean }[] }[];
  links: { mode: 'pages' | 'runs'; count: number };
  memories: { name: string; used: number; capacity: number; flo: number; fhi: number; reached: number }[];
  now: { kernel: string[]; migrations: { phase: string; device: string; direction: string; moving: number; cpages: number }[]; callbacks: number; faulting: number; jobs: number; copies: number };
  changes: number;
  timeline: { stops: { id: number; step: number; line?: number; reason: string }[]; liveId: number; shownId: number };
  colors: { system: string; fromTheme: boolean; theme: string };
  renderMs: number;
}

/** The examples the map is checked on (e2e.ts copies examples/ and test/e2e/million.hmm into the workspace). */
export const MAP_EXAMPLES = [
  '01-shared-address-space.hmm', '02-cpu-touches-migrated-page.hmm', '03-fork-and-device-memory.hmm',
  '05-two-devices-one-buffer.hmm', '06-atomics-device-exclusive.hmm', '10-oversubscription.hmm',
];

function fail(msg: string, model?: unknown): never {
  throw new Error(`${msg}${model !== undefined ? `\n${JSON.stringify(model).slice(0, 1500)}` : ''}`);
}

/** Kinds of a lane's segments, in order, neighbours of one kind merged. */
function kinds(m: DrawnModel, lane: string): string[] {
  const l = m.lanes.find((x) => x.key === lane);
  if (l === undefined) fail(`no lane ${lane}`, m.lanes.map((x) => x.key));
  const out: string[] = [];
  for (const s of l.segments) if (out[out.length - 1] !== s.kind) out.push(s.kind ?? '');
  return out;
}

export async function mapStages(ctx: E2eContext): Promise<void> {
  const p = ctx.page;
  const { stage, until } = ctx;
  const editor = p.locator('.editor-instance .monaco-editor').first();
  let shotNo = 0;

  const command = async (title: string): Promise<void> => {
    await p.keyboard.press('F1');
    const input = p.locator('.quick-input-widget input');
    await input.waitFor({ timeout: 10000 });
    await input.fill(`>${title}`);
    // Enter takes the focused row: wait until the filtered list focuses the one asked for
    await p.locator('.quick-input-widget .monaco-list-row.focused', { hasText: title }).first().waitFor({ timeout: 10000 });
    await p.keyboard.press('Enter');
  };

  const openFile = async (name: string): Promise<void> => {
    await p.keyboard.press('Control+P');
    const input = p.locator('.quick-input-widget input');
    await input.waitFor({ timeout: 10000 });
    await input.fill(name);
    await p.locator('.quick-input-widget .monaco-list-row.focused', { hasText: name }).first().waitFor({ timeout: 10000 });
    await p.keyboard.press('Enter');
    await p.locator('.tab.active', { hasText: name }).first().waitFor({ timeout: 10000 });
  };

  const lineOf = (name: string, text: string): number => {
    const i = fs.readFileSync(path.join(ctx.workspace, name), 'utf8').split('\n').findIndex((l) => l.startsWith(text));
    if (i < 0) throw new Error(`no line starting with ${text} in ${name}`);
    return i + 1;
  };

  /** The line of the one breakpoint set (in the active editor), if any. */
  let breakLine: number | undefined;
  /** Puts a breakpoint on `line` of the file in the active editor (Ctrl+G, F9). */
  const breakAt = async (line: number): Promise<void> => {
    breakLine = line;
    await editor.locator('.view-lines').click();
    await p.keyboard.press('Control+G');
    await p.locator('.quick-input-widget input').waitFor({ timeout: 10000 });
    await p.keyboard.type(String(line));
    await p.keyboard.press('Enter');
    await p.keyboard.press('F9');
    await editor.locator('.codicon-debug-breakpoint').first().waitFor({ timeout: 10000 });
  };

  /** The webview frame that runs media/map.js. */
  const mapFrame = async (): Promise<Frame> => until('the map webview frame', async () => {
    for (const f of p.frames()) {
      if (await f.evaluate(() => typeof (window as unknown as { hmmMap?: unknown }).hmmMap === 'object').catch(() => false)) return f;
    }
    return undefined;
  }, (f) => f !== undefined, 30000) as Promise<Frame>;

  const model = async (): Promise<DrawnModel | null> => (await mapFrame()).evaluate(() => (window as unknown as { hmmMap: { model(): unknown } }).hmmMap.model() as never);

  /** The map's model once it shows the given step (or any step when undefined) and `ok` holds. */
  const modelWhen = (what: string, ok: (m: DrawnModel) => boolean, ms = 30000): Promise<DrawnModel> =>
    until(`the map to show ${what}`, model, (m) => m !== null && ok(m), ms) as Promise<DrawnModel>;

  /** A screenshot of the map panel alone (the webview's iframe). */
  const shotMap = async (name: string): Promise<string> => {
    const file = path.join(ctx.shots, `map-${String(++shotNo).padStart(2, '0')}-${name}.png`);
    const frames = p.locator('iframe.webview.ready');
    const n = await frames.count();
    let done = false;
    for (let i = n - 1; i >= 0 && !done; i--) {
      const f = frames.nth(i);
      if (await f.isVisible()) {
        await f.screenshot({ path: file });
        done = true;
      }
    }
    if (!done) await p.screenshot({ path: file });
    return file;
  };

  const startAt = async (file: string, line: number): Promise<void> => {
    await openFile(file);
    await breakAt(line);
    await p.keyboard.press('F5');
    await p.locator('.monaco-editor .codicon-debug-stackframe').first().waitFor({ timeout: 60000 });
    await p.locator('.debug-toolbar').waitFor({ timeout: 10000 });
  };

  /** Ends the session and takes the breakpoint away again (F9 on its line). */
  const stopSession = async (): Promise<void> => {
    await p.keyboard.press('Shift+F5');
    await p.locator('.debug-toolbar').waitFor({ state: 'hidden', timeout: 30000 });
    if (breakLine !== undefined) {
      await editor.locator('.view-lines').click();
      await p.keyboard.press('Control+G');
      await p.locator('.quick-input-widget input').waitFor({ timeout: 10000 });
      await p.keyboard.type(String(breakLine));
      await p.keyboard.press('Enter');
      await p.keyboard.press('F9');
      await until('no breakpoint glyph', () => editor.locator('.codicon-debug-breakpoint').count(), (n) => n === 0, 10000);
      breakLine = undefined;
    }
  };

  await stage('the map journey starts from a clean slate: Device fault unticked, no breakpoints, room for the map', async () => {
    const row = p.locator('.split-view-view .pane', { has: p.locator('.pane-header', { hasText: 'Breakpoints' }) }).locator('.monaco-list-row', { hasText: 'Device fault' });
    await row.waitFor({ timeout: 10000 });
    const box = row.locator('[role=checkbox], input[type=checkbox]').first();
    const checked = async (): Promise<boolean> => (await box.getAttribute('aria-checked')) === 'true' || await box.isChecked().catch(() => false);
    if (await checked()) await box.click();
    await until('Device fault unticked', checked, (v) => !v, 5000);
    if (await editor.locator('.codicon-debug-breakpoint').count() > 0) throw new Error('a breakpoint is set before the map journey');
    // the bottom panel (Debug Console) away: the map gets the height
    if (await p.locator('.part.panel').isVisible()) await p.keyboard.press('Control+J');
    await p.setViewportSize({ width: 2000, height: 1150 });
  });

  await stage('01: the map opens at the device read; CPU ptes (present, zero page) and gpu0 ptes (write, read) link to system frames page by page', async () => {
    const f = MAP_EXAMPLES[0]!;
    const line = lineOf(f, 'print "2. device read');
    await startAt(f, line);
    await command('HMM: Open Address-Space Map');
    const m = await modelWhen(`${f} at line ${line}`, (x) => x.timeline.stops.some((s) => s.line === line));
    if (kinds(m, 'cpu').join() !== 'present,zero') fail('CPU lane', m.lanes);
    if (kinds(m, 'dev:gpu0').join() !== 'write,read') fail('gpu0 lane', m.lanes);
    if (m.links.mode !== 'pages' || m.links.count !== 32) fail('16 CPU and 16 device links, one per page', m.links);
    // through the SVG itself: each page of the CPU lane links to a frame of system memory
    const frames = await (await mapFrame()).evaluate(() => [...document.querySelectorAll('path[data-link="cpu"]')].map((e) => `${e.getAttribute('data-memory')}:${e.getAttribute('data-frame')}`));
    if (frames.length !== 16 || !frames.every((x) => x.startsWith('system:'))) fail('CPU links', frames);
    if (new Set(frames.slice(8)).size !== 1) fail('the eight zero-page entries share one frame', frames);
    if (!m.colors.fromTheme) fail('the residency colours come from the theme (hmmDebug.residency.*)', m.colors);
    await shotMap('01-shared-address-space');
    await p.screenshot({ path: path.join(ctx.shots, 'map-00-workbench.png') });
  });

  await stage('hover on a page answers `why`, as the REPL does; a click shows the statement that last changed it', async () => {
    const fr = await mapFrame();
    // drawn elements take no pointer events (map.js hit-tests by coordinates): hover the SVG at the segment's middle
    const at = await fr.locator('rect[data-seg="cpu"]').first().evaluate((e) => ({
      x: Number(e.getAttribute('x')) + Number(e.getAttribute('width')) / 2, y: Number(e.getAttribute('y')) + Number(e.getAttribute('height')) / 2,
    }));
    await fr.locator('#scene svg').hover({ position: at });
    const tip = await until('the tooltip with the why answer', () => fr.locator('#tooltip').innerText(), (t) => /because/.test(t), 15000);
    if (!/CPU pte: present/.test(tip) || !/gpu0 pte:/.test(tip)) fail('tooltip', tip);
    console.log(`         hover: ${tip.split('\n').slice(0, 4).join(' | ')}`);
    // a click selects the page: the script shows the statement that last changed it
    await fr.locator('#scene svg').click({ position: at });
    const changed = lineOf(MAP_EXAMPLES[0]!, 'write buf[..8] = i');
    await until(`the cursor on line ${changed}`, () => editor.locator('.line-numbers.active-line-number').first().innerText(), (t) => t.trim() === String(changed), 15000);
  });

  await stage('the keyboard moves the cursor between lanes and pages and zooms', async () => {
    const fr = await mapFrame();
    const before = await modelWhen('a model', () => true);
    await fr.locator('#scene').focus();
    await p.keyboard.press('ArrowDown');
    await p.keyboard.press('ArrowRight');
    await p.keyboard.press('+');
    const after = await modelWhen('a zoomed view', (x) => x.view.hi - x.view.lo < before.view.hi - before.view.lo);
    const said = await fr.locator('#announce').innerText();
    if (!/pte/.test(said)) fail('the screen-reader announcement', said);
    await p.keyboard.press('f');
    await modelWhen('the fitted view again', (x) => Math.abs((x.view.hi - x.view.lo) - (before.view.hi - before.view.lo)) < 1e-6);
    console.log(`         zoom: ${(before.view.hi - before.view.lo).toFixed(1)} → ${(after.view.hi - after.view.lo).toFixed(1)} pages; announced "${said.slice(0, 80)}"`);
  });

  await stage('export: the SVG and PNG of the picture', async () => {
    const fr = await mapFrame();
    const svg = await fr.evaluate(() => (window as unknown as { hmmMap: { exportSvg(): string } }).hmmMap.exportSvg());
    if (!svg.startsWith('<?xml') || !/data-seg="cpu"/.test(svg) || /var\(--/.test(svg)) fail('a standalone SVG with plain colours', svg.slice(0, 300));
    fs.writeFileSync(path.join(ctx.shots, 'map-01-shared-address-space.svg'), svg);
    const png = await fr.evaluate(() => (window as unknown as { hmmMap: { exportPng(): Promise<string> } }).hmmMap.exportPng());
    if (!png.startsWith('data:image/png;base64,')) fail('a PNG data URL', png.slice(0, 80));
    const bytes = Buffer.from(png.slice(png.indexOf(',') + 1), 'base64');
    fs.writeFileSync(path.join(ctx.shots, 'map-01-exported.png'), bytes);
    console.log(`         exported SVG ${svg.length} chars, PNG ${bytes.length} bytes`);
    await stopSession();
  });

  await stage('02: stepping into migrate_vma_pages shows the migration in flight: migration entries, source and destination frames, the phase', async () => {
    const f = MAP_EXAMPLES[1]!;
    const line = lineOf(f, 'migrate a to gpu0');
    await startAt(f, line);
    await modelWhen(`${f} at line ${line}`, (x) => x.timeline.stops.some((s) => s.line === line));
    let m: DrawnModel | undefined;
    for (let i = 0; i < 8; i++) {
      await p.keyboard.press('F11');
      m = await modelWhen(`step ${i + 1} into the migration`, (x) => x.timeline.stops.length >= i + 2);
      if (m.now.migrations[0]?.phase === 'pages') break;
    }
    if (m === undefined || m.now.migrations[0]?.phase !== 'pages') fail('no migrate_vma_pages stop', m?.now);
    if (!m.now.kernel.some((k) => k.startsWith('migrate_vma_pages'))) fail('kernel frames', m.now.kernel);
    if (kinds(m, 'cpu').join() !== 'migration') fail('CPU ptes are migration entries', m.lanes);
    const moving = await (await mapFrame()).evaluate(() => [...document.querySelectorAll('[data-moving]')].map((e) => `${e.getAttribute('data-moving')}:${e.getAttribute('data-memory')}`));
    if (!moving.includes('from:system') || !moving.includes('to:gpu0')) fail('source and destination frames', moving);
    const current = await (await mapFrame()).evaluate(() => document.querySelector('[data-phase][data-current]')?.getAttribute('data-phase'));
    if (current !== 'pages') fail('the phase pill', current);
    await shotMap('02-migrate-vma-pages');
  });

  await stage('02: a step back moves the timeline back, and a past stop can be shown again', async () => {
    /** A key that makes the debugger stop again; resolves with the model of that new stop. */
    const press = async (key: string, what: string): Promise<DrawnModel> => {
      const before = (await modelWhen('a model', () => true)).timeline.stops.length;
      await p.keyboard.press(key);
      return modelWhen(what, (x) => x.timeline.stops.length > before);
    };
    let out: DrawnModel | undefined;
    for (let i = 0; i < 8; i++) {
      out = await press('F10', `the stop after step over ${i + 1}`);
      if (out.now.migrations.length === 0 && kinds(out, 'cpu').join() === 'device-private') break;
    }
    if (out === undefined || kinds(out, 'cpu').join() !== 'device-private') fail('the migration did not finish', out?.lanes);
    const maxStep = Math.max(...out.timeline.stops.map((s) => s.step));
    await editor.locator('.view-lines').click();
    const back = await press('Alt+F10', 'the stop after a step back (HMM: Step Back)');
    const live = back.timeline.stops.find((s) => s.id === back.timeline.liveId)!;
    if (!(live.step < maxStep)) fail('the live stop is earlier than the latest one', back.timeline);
    const backs = await (await mapFrame()).evaluate(() => document.querySelectorAll('#timeline [data-move="back"]').length);
    if (backs < 1) fail('a step-back arc in the timeline');
    await shotMap('02-timeline-after-step-back');
    // scrub: show the stop after the migration again (undone by the step back, still in the timeline)
    const undone = [...back.timeline.stops].reverse().find((s) => s.step > live.step)!;
    await (await mapFrame()).locator(`#timeline [data-stop="${undone.id}"] circle`).first().click();
    const shown = await modelWhen('the earlier stop shown', (x) => x.timeline.shownId === undone.id);
    if (kinds(shown, 'cpu').join() !== 'device-private') fail('the picture as it was after the migration', shown.lanes);
    console.log(`         timeline: steps ${back.timeline.stops.map((s) => s.step).join(' → ')}; showing step ${shown.step} while the debugger is at step ${live.step}`);
    await shotMap('02-scrubbed-to-an-earlier-stop');
    await stopSession();
  });

  await stage('03: after fork, the parent\'s and the child\'s CPU page tables share read-only (COW) device-private entries', async () => {
    const f = MAP_EXAMPLES[2]!;
    const line = lineOf(f, 'print "2. after fork');
    await startAt(f, line);
    const m = await modelWhen(`${f} at line ${line} with the child's lane`, (x) => x.timeline.stops.some((s) => s.line === line) && x.lanes.some((l) => l.key === 'cpu:child'));
    if (kinds(m, 'cpu').join() !== 'device-private' || kinds(m, 'cpu:child').join() !== 'device-private') fail('both lanes hold device-private entries', m.lanes);
    if (!m.lanes.find((l) => l.key === 'cpu')!.segments.every((s) => /shared \(COW\)/.test(s.label))) fail('shared', m.lanes);
    const fr = await mapFrame();
    const frames = (lane: string): Promise<string[]> => fr.evaluate((l) => [...document.querySelectorAll(`path[data-link="${l}"]`)].map((e) => `${e.getAttribute('data-memory')}:${e.getAttribute('data-frame')}`), lane);
    const parent = await frames('cpu');
    const child = await frames('cpu:child');
    if (parent.length !== 4 || parent.join() !== child.join()) fail('the same four gpu0 frames', { parent, child });
    await shotMap('03-fork-cow');
    await stopSession();
  });

  await stage('05: two devices: gpu1 holds a[0..4) locally, gpu0\'s mirror of it is gone, both map the rest remotely', async () => {
    const f = MAP_EXAMPLES[3]!;
    const line = lineOf(f, 'print "2. gpu1 migrated');
    await startAt(f, line);
    const m = await modelWhen(`${f} at line ${line}`, (x) => x.timeline.stops.some((s) => s.line === line));
    if (kinds(m, 'dev:gpu1').join() !== 'write') fail('gpu1 lane', m.lanes);
    const gpu1 = m.lanes.find((l) => l.key === 'dev:gpu1')!.segments;
    if (!/local/.test(gpu1[0]!.label) || !/remote → system/.test(gpu1[gpu1.length - 1]!.label)) fail('gpu1 local then remote', gpu1);
    const gpu0 = m.lanes.find((l) => l.key === 'dev:gpu0')!.segments;
    if (gpu0.length !== 1 || gpu0[0]!.b - gpu0[0]!.a !== 3) fail('gpu0 maps a[5..8) only', gpu0);
    if (m.memories.find((x) => x.name === 'gpu1')?.used !== 4) fail('gpu1 memory use', m.memories);
    await shotMap('05-two-devices');
    await stopSession();
  });

  await stage('06: device-exclusive entries in the CPU page table, atomic entries in gpu0\'s, the data in system frames', async () => {
    const f = MAP_EXAMPLES[4]!;
    const line = lineOf(f, 'print "1. all four ptes');
    await startAt(f, line);
    const m = await modelWhen(`${f} at line ${line}`, (x) => x.timeline.stops.some((s) => s.line === line));
    if (kinds(m, 'cpu').join() !== 'device-exclusive' || kinds(m, 'dev:gpu0').join() !== 'atomic') fail('lanes', m.lanes);
    const mems = await (await mapFrame()).evaluate(() => [...new Set([...document.querySelectorAll('path[data-link]')].map((e) => e.getAttribute('data-memory')))]);
    if (mems.join() !== 'system') fail('every link to system memory', mems);
    await shotMap('06-exclusive');
    await stopSession();
  });

  await stage('10: oversubscription: gpu0 full (2048 of 2048 frames), half of big on the device, links summarised as runs', async () => {
    const f = MAP_EXAMPLES[5]!;
    const line = lineOf(f, 'expect gpu0 used');
    await startAt(f, line);
    const m = await modelWhen(`${f} at line ${line}`, (x) => x.timeline.stops.some((s) => s.line === line));
    const gpu0 = m.memories.find((x) => x.name === 'gpu0')!;
    if (gpu0.used !== 2048 || gpu0.capacity !== 2048) fail('gpu0 full', m.memories);
    if (m.links.mode !== 'runs') fail('links as runs', m.links);
    if (!kinds(m, 'cpu').includes('device-private') || !kinds(m, 'cpu').includes('present')) fail('CPU lane', m.lanes);
    if (m.now.jobs !== 1) fail('the job', m.now);
    await shotMap('10-oversubscription');
    await stopSession();
  });

  await stage('a million resident pages: drawn as a handful of runs; the figures measured in Chromium', async () => {
    const f = 'million.hmm';
    const line = lineOf(f, 'print');
    await startAt(f, line);
    const m = await modelWhen(`${f} at line ${line}`, (x) => x.timeline.stops.some((s) => s.line === line), 60000);
    const resident = m.lanes.find((l) => l.key === 'cpu')!.segments.reduce((n, s) => n + s.b - s.a, 0);
    if (resident !== 1 << 20) fail(`1M resident pages drawn, got ${resident}`, m.lanes);
    if (m.links.mode !== 'runs' || m.links.count > 64) fail('links summarised as runs', m.links);
    await shotMap('million-pages');
    const fr = await mapFrame();
    const open = await fr.evaluate(() => (window as unknown as { hmmMap: { lastOpen(): { renderMs: number; paintedMs: number; runs: number; resident: number } | null } }).hmmMap.lastOpen());
    const bench = await fr.evaluate(() => (window as unknown as { hmmMap: { bench(): Promise<{ renderMedianMs: number; renderMaxMs: number; frameMedianMs: number; frameMaxMs: number; settledMs: number }> } }).hmmMap.bench());
    if (open === null) fail('no open figure');
    console.log(`         1M pages (${open.resident} resident, ${open.runs} runs): picture rendered ${open.renderMs.toFixed(1)} ms and painted ${open.paintedMs.toFixed(1)} ms after the stop data arrived`);
    fs.mkdirSync(path.join(ctx.shots, '..'), { recursive: true });
    fs.writeFileSync(path.join(ctx.shots, '..', 'map-metrics.json'), JSON.stringify({
      measuredAt: Date.now(), resident: open.resident, runs: open.runs, openRenderMs: open.renderMs, openPaintedMs: open.paintedMs,
      zoomRenderMedianMs: bench.renderMedianMs, zoomRenderMaxMs: bench.renderMaxMs, frameMedianMs: bench.frameMedianMs, frameMaxMs: bench.frameMaxMs, settledMs: bench.settledMs,
    }, null, 2));
    console.log(`         zoom 60 steps (1M pages → a few pages → back): redraw median ${bench.renderMedianMs.toFixed(1)} ms, max ${bench.renderMaxMs.toFixed(1)} ms; frame interval median ${bench.frameMedianMs.toFixed(1)} ms (${(1000 / bench.frameMedianMs).toFixed(0)} fps), max ${bench.frameMaxMs.toFixed(1)} ms; the settled frame with its links ${bench.settledMs.toFixed(1)} ms`);
  });

  await stage('the picture in the light and high-contrast themes', async () => {
    /** Ctrl+K Ctrl+T: the theme picker (the palette's "Color Theme" ranks the marketplace entry first). */
    const pickTheme = async (theme: string): Promise<void> => {
      await editor.locator('.view-lines').click();
      await p.keyboard.press('Control+K');
      await p.keyboard.press('Control+T');
      const input = p.locator('.quick-input-widget input');
      await input.waitFor({ timeout: 10000 });
      await input.fill(theme);
      await p.locator('.quick-input-widget .monaco-list-row.focused', { hasText: theme }).first().waitFor({ timeout: 10000 });
      await p.keyboard.press('Enter');
    };
    for (const [theme, name, cls] of [['Light Modern', 'light', 'vscode-light'], ['Dark High Contrast', 'high-contrast', 'vscode-high-contrast'], ['Dark Modern', 'dark', 'vscode-dark']] as const) {
      await pickTheme(theme);
      const m = await modelWhen(`the ${name} theme`, (x) => x.colors.theme.split(/\s+/).includes(cls));
      console.log(`         ${name}: system RAM pages drawn ${m.colors.system}`);
      await shotMap(`million-pages-${name}`);
    }
    await stopSession();
  });
}
