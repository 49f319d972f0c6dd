// Layer: extension (src/extension): UI only. Imports vscode, ./dap, ./mapState, ./settings.
// The address-space map webview (media/map.js, media/map.css, and dist/webview/pages.js: the
// page helpers of ./pages bundled for the page): the CPU page table and each device's page table
// side by side, refreshed at every stop. Strict CSP with a nonce; only media/ and dist/webview/
// are readable by the page; colours are theme variables (or the hmm.colors.* settings).

import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { Ctx } from './context';
import { dap } from './dap';
import { buildMapState, type MapState } from './mapState';
import type { StateView } from './sessionWatcher';
import { settings } from './settings';
import type { HmmState } from './state';

export const MAP_VIEW_TYPE = 'hmm.map';

/** Messages the page sends (media/map.js). */
type FromPage =
  | { type: 'ready' }
  | { type: 'reveal'; process: string; mapping: string; page: number }
  | { type: 'process'; name: string };

/** Messages the page receives. */
type ToPage =
  | { type: 'state'; state: MapState | null }
  | { type: 'highlight'; mapping: string; start: number; end: number };

export type RevealInTree = (mapping: string, page: number, process: string) => Promise<boolean>;

export class MapPanel implements StateView {
  private panel: vscode.WebviewPanel | undefined;
  /** The process picked in the page; the stopped one when undefined. */
  private process: string | undefined;
  private state: HmmState | undefined;
  private pendingHighlight: ToPage | undefined;
  lastState: MapState | undefined;
  /** The page's script ran to its end (it posts `ready` last): for the tests. */
  pageReady = false;

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
    });
    panel.webview.onDidReceiveMessage((m: FromPage) => void this.received(m));
    await this.update(state);
  }

  async update(state: HmmState | undefined): Promise<void> {
    this.state = state;
    if (this.panel === undefined) return;
    if (state === undefined) {
      this.lastState = undefined;
      this.post({ type: 'state', state: null });
      return;
    }
    const current = state.processes.find((p) => p.current)?.name ?? 'main';
    const process = this.process !== undefined && state.processes.some((p) => p.name === this.process) ? this.process : current;
    const maxCells = settings.maxCells();
    let mappings = state.processes.find((p) => p.name === process)?.mappings ?? [];
    if (mappings.some((m) => m.truncated)) {
      // The views fetch few runs; the map wants up to one run per cell.
      mappings = (await dap.residency(state.session, { process, maxRuns: maxCells })).mappings;
    }
    this.lastState = buildMapState(state, process, mappings, maxCells, settings.colors());
    this.post({ type: 'state', state: this.lastState });
  }

  /** Opens the map if needed and marks pages [start, end) of a mapping. */
  async highlight(mapping: string, start: number, end: number, process?: string): Promise<void> {
    if (process !== undefined && process !== this.lastState?.process) {
      this.process = process;
      if (this.panel !== undefined) await this.update(this.state);
    }
    const msg: ToPage = { type: 'highlight', mapping, start, end };
    this.pendingHighlight = msg;
    if (this.panel === undefined) await this.open(this.state);
    else this.panel.reveal(undefined, true);
    this.post(msg);
  }

  private async received(m: FromPage): Promise<void> {
    switch (m.type) {
      case 'ready':
        this.pageReady = true;
        this.post({ type: 'state', state: this.lastState ?? null });
        if (this.pendingHighlight !== undefined) this.post(this.pendingHighlight);
        break;
      case 'reveal':
        if (!(await this.revealInTree(m.mapping, m.page, m.process))) {
          void vscode.window.showInformationMessage(`${m.mapping}[${m.page}] is not in the Page Residency view (it is shown while an hmm session is stopped).`);
        }
        break;
      case 'process':
        this.process = m.name;
        await this.update(this.state);
        break;
    }
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
      `img-src ${webview.cspSource}`,
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
  <header id="toolbar">
    <label>Process <select id="process" aria-label="Process"></select></label>
    <span class="spacer"></span>
    <button id="zoom-out" title="Smaller cells">−</button>
    <button id="zoom-in" title="Bigger cells">+</button>
    <button id="zoom-reset" title="Every mapping whole, default cell size">Reset</button>
  </header>
  <div id="legend" aria-label="Legend"></div>
  <div id="status" role="status"></div>
  <main id="map"></main>
  <div id="tooltip" role="tooltip" hidden></div>
  <script nonce="${nonce}" src="${pages.toString()}"></script>
  <script nonce="${nonce}" src="${js.toString()}"></script>
</body>
</html>`;
  }
}
