// The address-space map webview (media/map.js, media/map.css, and dist/webview/pages.js: the
// page helpers of ./pages bundled for the page): the picture of one process's address space at
// every stop (hmm/picture), earlier stops' pictures for the timeline, `why` answers on hover
// (hmm/pageWhy), selection in the views and the statement that last changed a page, export.
// Strict CSP with a nonce; only media/ and dist/webview/ are readable by the page; colours are
// theme variables (or the hmm.colors.* settings).

import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Picture, StateChangedEventBody } from '../adapter/protocol';
import type { Ctx } from './context';
import { dap } from './dap';
import { type MapPicture, type MapState, PictureHistory } from './mapState';
import type { StateView } from './sessionWatcher';
import { settings } from './settings';
import type { HmmState } from './state';

export const MAP_VIEW_TYPE = 'hmm.map';

/** Messages the page sends (media/map.js). Checked field by field: the page is another process. */
type FromPage =
  | { type: 'ready' }
  /** A stop's picture is on screen (posted after the frame that drew it), `paintedMs` after its message arrived. */
  | { type: 'drawn'; id: number; paintedMs: number }
  | { type: 'process'; name: string }
  | { type: 'showStop'; id: number }
  | { type: 'why'; page: number; reqId: number }
  | { type: 'select'; page: number }
  | { type: 'export'; format: 'svg' | 'png'; data: string };

/** Messages the page receives. */
type ToPage =
  | { type: 'state'; state: MapState | null }
  | { type: 'why'; reqId: number; text: string; line?: number; stale: boolean }
  | { type: 'highlight'; start: number; end: number };

export type RevealInTree = (mapping: string, page: number, process: string) => Promise<boolean>;

/** Largest exported file accepted from the page (a PNG of a big panel is a few MB). */
const MAX_EXPORT_BYTES = 64 * 1024 * 1024;

export class MapPanel implements StateView {
  private panel: vscode.WebviewPanel | undefined;
  /** The process picked in the page; the stopped one when undefined. */
  private process: string | undefined;
  private state: HmmState | undefined;
  private pendingHighlight: ToPage | undefined;
  private readonly history = new PictureHistory();
  /** The stop (the watcher's object) whose picture was last recorded. */
  private pictured: HmmState['stop'] | undefined;
  private liveId = 0;
  /** The stop shown (the live one unless the user scrubbed the timeline back). */
  private shownId = 0;
  lastState: MapState | undefined;
  /** The page's script ran to its end (it posts `ready` last): for the tests. */
  pageReady = false;
  /**
   * The last stop the page said it drew, when its message arrived and when its state was posted
   * (performance.now() of the extension host), and how long the page took from the state's
   * arrival to the painted frame: the integration run times a step to the picture on screen.
   */
  drawn: { readonly id: number; readonly at: number; readonly postedAt: number; readonly paintedMs: number } | undefined;
  /** When the state of each of the last few stops shown was posted to the page. */
  private readonly postedAt = new Map<number, number>();
  /** The pictures of the stop being fetched, asked for as its event arrived (see prefetch). */
  private early: { readonly session: vscode.DebugSession; readonly stop: StateChangedEventBody; readonly process: string; readonly maxRuns: number; readonly pictures: Promise<MapPicture> } | undefined;

  constructor(private readonly ctx: Ctx, private readonly revealInTree: RevealInTree) {
    ctx.own({ dispose: () => this.panel?.dispose() });
  }

  get isOpen(): boolean {
    return this.panel !== undefined;
  }

  /** Opens (or shows) the map and draws the current state. */
  async open(state: HmmState | undefined): Promise<void> {
    if (this.panel !== undefined) {
      this.panel.reveal(undefined, true);
      return;
    }
    const panel = vscode.window.createWebviewPanel(MAP_VIEW_TYPE, 'HMM address space', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {
      enableScripts: true,
      localResourceRoots: [this.ctx.mediaUri(), this.ctx.webviewScriptUri()],
    });
    this.panel = panel;
    panel.iconPath = this.ctx.mediaUri('map-icon.svg');
    panel.webview.html = this.html(panel.webview);
    panel.onDidDispose(() => {
      this.panel = undefined;
      this.pageReady = false;
      this.drawn = undefined;
    });
    panel.webview.onDidReceiveMessage((m: unknown) => void this.received(m).catch((e: unknown) => {
      this.ctx.output.appendLine(`hmm map: ${(e as Error).message ?? String(e)}`);
    }));
    await this.update(state);
  }

  /**
   * The stop's event names its process and the live ones, all the picture needs: with the map
   * open, its requests go out beside the shared state's instead of after them (one DAP round trip
   * through the workbench less between a stop and its picture on screen).
   */
  prefetch(session: vscode.DebugSession, stop: StateChangedEventBody): void {
    if (this.panel === undefined) return;
    const process = this.process !== undefined && stop.processes.includes(this.process) ? this.process : stop.process;
    const maxRuns = settings.mapMaxRunsPerLane();
    const pictures = this.pictures(session, process, maxRuns);
    pictures.catch(() => undefined); // update() reports a failure; a stop it never shows must not reject unhandled
    this.early = { session, stop, process, maxRuns, pictures };
  }

  async update(state: HmmState | undefined): Promise<void> {
    this.state = state;
    const early = this.early;
    this.early = undefined;
    if (state === undefined) {
      this.history.clear();
      this.lastState = undefined;
      this.post({ type: 'state', state: null });
      return;
    }
    if (this.panel === undefined) return;
    const current = state.processes.find((p) => p.current)?.name ?? 'main';
    const process = this.process !== undefined && state.processes.some((p) => p.name === this.process) ? this.process : current;
    const maxRuns = settings.mapMaxRunsPerLane();
    const asked = early !== undefined && early.session === state.session && early.stop === state.stop && early.process === process && early.maxRuns === maxRuns;
    const picture = await (asked ? early.pictures : this.pictures(state.session, process, maxRuns));
    // The watcher hands over the same stop object when it refreshes without a new stop.
    const again = state.stop === this.pictured;
    this.pictured = state.stop;
    const summary = this.history.push(state.session.id, {
      step: state.stop.step, ...(state.stop.line !== undefined ? { line: state.stop.line } : {}), reason: state.stop.reason, time: picture.time, process,
    }, picture, again);
    this.liveId = this.shownId = summary.id;
    this.show();
  }

  /** A process's picture with the other live processes' CPU page tables: after fork they point at the same (COW) frames. */
  private async pictures(session: vscode.DebugSession, process: string, maxRuns: number): Promise<MapPicture> {
    const main: Picture = await dap.picture(session, { process, maxRuns });
    const others = await Promise.all(main.processes.filter((p) => p !== process).map(async (p) => {
      const o = await dap.picture(session, { process: p, maxRuns });
      return { process: p, cpu: o.cpu };
    }));
    return { ...main, others };
  }

  /** Opens the map if needed and marks pages [start, end) of a mapping. */
  async highlight(mapping: string, start: number, end: number, process?: string): Promise<void> {
    if (process !== undefined && process !== this.lastState?.picture.process) {
      this.process = process;
      if (this.panel !== undefined) await this.update(this.state);
    }
    if (this.panel === undefined) await this.open(this.state);
    else this.panel.reveal(undefined, true);
    const m = this.lastState?.picture.mappings.find((x) => x.name === mapping);
    if (m === undefined) return;
    const msg: ToPage = { type: 'highlight', start: m.start + start, end: m.start + end };
    this.pendingHighlight = msg;
    this.post(msg);
  }

  /** Sends the shown stop's picture (with the one before it, for change marks). */
  private show(): void {
    const entry = this.history.get(this.shownId) ?? this.history.get(this.liveId);
    if (entry === undefined) return;
    const program = this.state?.program;
    this.lastState = {
      stop: entry.summary, liveId: this.liveId, picture: entry.picture, ...(entry.previous !== undefined ? { previous: entry.previous } : {}),
      history: this.history.list(), colors: settings.colors(), ...(program !== undefined ? { program: path.basename(program) } : {}),
    };
    this.postedAt.set(entry.summary.id, performance.now());
    // Only the latest few: the page acknowledges what it drew soon after.
    for (const id of this.postedAt.keys()) if (this.postedAt.size > 8) this.postedAt.delete(id);
    this.post({ type: 'state', state: this.lastState });
  }

  private async received(raw: unknown): Promise<void> {
    const m = checkMessage(raw);
    if (m === undefined) return;
    switch (m.type) {
      case 'drawn':
        this.drawn = { id: m.id, at: performance.now(), postedAt: this.postedAt.get(m.id) ?? NaN, paintedMs: m.paintedMs };
        break;
      case 'ready':
        this.pageReady = true;
        this.post({ type: 'state', state: this.lastState ?? null });
        if (this.pendingHighlight !== undefined) this.post(this.pendingHighlight);
        break;
      case 'process':
        this.process = m.name;
        await this.update(this.state);
        break;
      case 'showStop':
        if (this.history.get(m.id) === undefined) return;
        this.shownId = m.id;
        this.show();
        break;
      case 'why': {
        const st = this.state;
        if (st === undefined) return;
        const process = this.lastState?.picture.process;
        const b = await dap.pageWhy(st.session, { page: m.page, ...(process !== undefined ? { process } : {}) });
        this.post({ type: 'why', reqId: m.reqId, text: b.text, ...(b.line !== undefined ? { line: b.line } : {}), stale: this.shownId !== this.liveId });
        break;
      }
      case 'select':
        await this.select(m.page);
        break;
      case 'export':
        await this.export(m.format, m.data);
        break;
    }
  }

  /** A page was clicked: select it in Page Residency and show the statement that last changed it. */
  private async select(page: number): Promise<void> {
    const pic = this.lastState?.picture;
    const st = this.state;
    if (pic === undefined || st === undefined) return;
    const mapping = pic.mappings.find((x) => page >= x.start && page < x.start + x.pages);
    if (mapping !== undefined) void this.revealInTree(mapping.name, page - mapping.start, pic.process);
    const why = await dap.pageWhy(st.session, { page, process: pic.process });
    if (why.line !== undefined && st.program !== undefined) {
      const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(st.program));
      const line = Math.min(Math.max(0, why.line - 1), doc.lineCount - 1);
      const range = doc.lineAt(line).range;
      await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.One, preserveFocus: true, selection: range });
    }
  }

  private async export(format: 'svg' | 'png', data: string): Promise<void> {
    const bytes = format === 'svg' ? Buffer.from(data, 'utf8') : Buffer.from(data.replace(/^data:image\/png;base64,/, ''), 'base64');
    if (bytes.length === 0 || bytes.length > MAX_EXPORT_BYTES) throw new Error(`export: ${bytes.length} bytes is not a picture`);
    const step = this.lastState?.stop.step ?? 0;
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const name = `hmm-map-step-${step}.${format}`;
    const target = await vscode.window.showSaveDialog({
      ...(folder !== undefined ? { defaultUri: vscode.Uri.joinPath(folder, name) } : {}),
      filters: format === 'svg' ? { 'SVG image': ['svg'] } : { 'PNG image': ['png'] },
      title: `Export the address-space map as ${format.toUpperCase()}`,
    });
    if (target === undefined) return;
    await vscode.workspace.fs.writeFile(target, bytes);
    void vscode.window.showInformationMessage(`Address-space map saved to ${target.fsPath}`);
  }

  private post(message: ToPage): void {
    void this.panel?.webview.postMessage(message);
  }

  private html(webview: vscode.Webview): string {
    const nonce = randomBytes(16).toString('base64');
    const css = webview.asWebviewUri(this.ctx.mediaUri('map.css'));
    const pages = webview.asWebviewUri(this.ctx.webviewScriptUri('pages.js'));
    const js = webview.asWebviewUri(this.ctx.mediaUri('map.js'));
    const csp = [
      "default-src 'none'",
      `style-src ${webview.cspSource}`,
      // data: for the PNG export (the SVG drawn into a canvas through an <img>)
      `img-src ${webview.cspSource} data:`,
      `script-src 'nonce-${nonce}'`,
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <meta http-equiv="Content-Security-Policy" content="${csp}">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
  <link rel="stylesheet" href="${css.toString()}">
  <title>HMM address space</title>
</head>
<body>
  <header id="toolbar" role="toolbar" aria-label="Map">
    <label>Process <select id="process" aria-label="Process"></select></label>
    <span class="sep"></span>
    <button id="zoom-out" title="Zoom out (−)" aria-label="Zoom out">−</button>
    <button id="zoom-in" title="Zoom in (+)" aria-label="Zoom in">+</button>
    <button id="zoom-fit" title="Fit the mappings (F)">Fit</button>
    <button id="zoom-all" title="The whole 1 TiB the mappings are placed in (A)">1 TiB</button>
    <span id="zoom-label" class="dim"></span>
    <span class="spacer"></span>
    <button id="export-svg" title="Export the picture as SVG">SVG</button>
    <button id="export-png" title="Export the picture as PNG">PNG</button>
  </header>
  <div id="status" role="status" aria-live="polite"></div>
  <div id="scene" tabindex="0" role="application" aria-roledescription="address-space map"
       aria-label="Address-space map. Arrows move between pages and lanes, plus and minus zoom, F fits, A shows 1 TiB, Enter selects, brackets move in the timeline."></div>
  <section id="timeline-box" aria-label="Timeline">
    <div class="timeline-head"><strong>Timeline</strong> <span id="timeline-note" class="dim"></span>
      <button id="go-live" class="small" hidden>Back to the current stop</button></div>
    <div id="timeline" tabindex="0" role="listbox" aria-label="Stops visited: Left and Right pick one, Enter shows it"></div>
  </section>
  <div id="announce" class="sr-only" aria-live="polite"></div>
  <div id="tooltip" role="tooltip" hidden></div>
  <script nonce="${nonce}" src="${pages.toString()}"></script>
  <script nonce="${nonce}" src="${js.toString()}"></script>
</body>
</html>`;
  }
}

/** Validates a message from the page: anything malformed is dropped. */
function checkMessage(raw: unknown): FromPage | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const m = raw as Record<string, unknown>;
  const int = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** 53;
  switch (m['type']) {
    case 'ready': return { type: 'ready' };
    case 'drawn': return int(m['id']) && typeof m['paintedMs'] === 'number' ? { type: 'drawn', id: m['id'], paintedMs: m['paintedMs'] } : undefined;
    case 'process': return typeof m['name'] === 'string' ? { type: 'process', name: m['name'] } : undefined;
    case 'showStop': return int(m['id']) ? { type: 'showStop', id: m['id'] } : undefined;
    case 'why': return int(m['page']) && int(m['reqId']) ? { type: 'why', page: m['page'], reqId: m['reqId'] } : undefined;
    case 'select': return int(m['page']) ? { type: 'select', page: m['page'] } : undefined;
    case 'export':
      return (m['format'] === 'svg' || m['format'] === 'png') && typeof m['data'] === 'string' ? { type: 'export', format: m['format'], data: m['data'] } : undefined;
    default: return undefined;
  }
}

