// Address-space map webview (served by src/extension/mapPanel.ts with a strict CSP and a nonce).
// Draws, per mapping, the CPU page table and each device's page table side by side, one cell per
// page or per bucket of pages; pending migrations and the last invalidation are overlaid.
// It only reads the JSON state it is sent (MapState in src/extension/mapState.ts) and posts
// back `ready`, `reveal` (a clicked page) and `process` (the process picked).
// @ts-check
(function () {
  // eslint-disable-next-line no-undef
  const vscode = acquireVsCodeApi();
  const KINDS = ['system', 'device', 'zero', 'empty', 'exclusive', 'unmapped'];
  const MIN_CELL = 4;
  const MAX_CELL = 28;
  const MAX_ROWS = 48;
  const saved = vscode.getState() || {};
  /** Cell size in px, and per mapping name the window of pages shown ({start, end}). */
  let cellSize = typeof saved.cellSize === 'number' ? saved.cellSize : 16;
  /** @type {Record<string, {start: number, end: number}>} */
  let windows = saved.windows || {};
  /** @type {any} the MapState sent by the extension, or null */
  let state = null;
  /** @type {{mapping: string, start: number, end: number} | null} */
  let highlight = null;
  /** Per rendered mapping: its cells, for tooltips and clicks. */
  let model = [];

  const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
  const mapEl = $('map');
  const statusEl = $('status');
  const legendEl = $('legend');
  const tooltip = $('tooltip');
  const processSel = /** @type {HTMLSelectElement} */ ($('process'));

  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const hex = (n) => '0x' + n.toString(16);
  // Page names and run states as the views write them (src/extension/pages.ts, bundled as
  // dist/webview/pages.js and loaded before this script).
  // eslint-disable-next-line no-undef
  const pages = /** @type {any} */ (window).hmmPages;
  if (!pages) throw new Error('dist/webview/pages.js did not load'); // and the page never says ready
  const rangeName = (m, s, e) => pages.rangeName(m.name, m.pages, s, e);
  const runState = (r) => pages.runState(r);
  const persist = () => vscode.setState({ cellSize, windows });

  /**
   * Splits pages [start, end) into `count` cells of `per` pages and finds, for each, the run
   * covering most of it (and whether other runs share the cell). O(cells + runs).
   */
  function bucketize(runs, start, end, per, count) {
    const cells = [];
    let i = 0;
    for (let c = 0; c < count; c++) {
      const s = start + c * per;
      const e = Math.min(end, s + per);
      while (i < runs.length && runs[i].end <= s) i++;
      let best = null;
      let bestPages = 0;
      let covered = 0;
      let states = 0;
      for (let j = i; j < runs.length && runs[j].start < e; j++) {
        const n = Math.min(e, runs[j].end) - Math.max(s, runs[j].start);
        if (n <= 0) continue;
        covered += n;
        states++;
        if (n > bestPages) { best = runs[j]; bestPages = n; }
      }
      cells.push({ s, e, run: best, mixed: states > 1, unknown: e - s - covered });
    }
    return cells;
  }

  const overlaps = (o, m, s, e) => o && o.mapping === m.name && o.start < e && o.end > s;

  function cpuClasses(cell) {
    const r = cell.run;
    if (!r) return 'cell unknown';
    let c = `cell k-${KINDS.includes(r.kind) ? r.kind : 'unmapped'}`;
    if (r.writable === false) c += ' ro';
    if (r.pinned) c += ' pinned';
    if (r.shared) c += ' shared';
    if (cell.mixed) c += ' mixed';
    return c;
  }

  function deviceClasses(cell, dev) {
    const r = cell.run;
    if (!r) return 'cell unknown';
    const entry = (r.mirrors && r.mirrors[dev]) || 'none';
    let c = `cell mir-${entry}`;
    if (entry !== 'none') c += ` k-${KINDS.includes(r.kind) ? r.kind : 'unmapped'}`;
    if (r.kind === 'device' && r.device === dev) c += ' resident';
    if (cell.mixed) c += ' mixed';
    return c;
  }

  function renderLegend() {
    legendEl.replaceChildren();
    const item = (cls, text) => {
      const s = el('span', 'legend-item');
      s.append(el('span', `swatch ${cls}`), el('span', '', text));
      legendEl.append(s);
    };
    for (const k of KINDS) item(`k-${k}`, k);
    item('k-system ro', 'read-only');
    item('k-system pinned', 'pinned');
    item('k-system mixed', 'bucket of mixed pages');
    item('k-device mir-read', 'device maps read');
    item('k-system migrating', 'migration in progress');
    item('k-device invalidated', 'last invalidation');
  }

  function render() {
    tooltip.hidden = true;
    model = [];
    mapEl.replaceChildren();
    document.documentElement.style.setProperty('--cell', `${cellSize}px`);
    if (!state) {
      processSel.replaceChildren();
      statusEl.textContent = '';
      mapEl.append(el('p', 'empty-note', 'No hmm debug session is stopped. Start debugging a .hmm script: the map follows every stop.'));
      return;
    }
    for (const k of KINDS) {
      const c = state.colors && state.colors[k];
      if (c) document.documentElement.style.setProperty(`--hmm-${k}`, c);
      else document.documentElement.style.removeProperty(`--hmm-${k}`);
    }
    processSel.replaceChildren(...state.processes.map((p) => {
      const o = el('option', '', p);
      o.value = p;
      o.selected = p === state.process;
      return o;
    }));
    const status = [`process ${state.process}`, `step ${state.step}`, `stopped: ${state.reason}${state.line ? ` at line ${state.line}` : ''}`];
    if (state.migrations.length) status.push(`${state.migrations.length} migration(s) in progress`);
    if (state.lastInvalidation) status.push(`last invalidation ${state.lastInvalidation.label}`);
    statusEl.textContent = status.join(' · ');
    if (state.mappings.length === 0) {
      mapEl.append(el('p', 'empty-note', `No mapping in process ${state.process}.`));
      return;
    }
    const width = Math.max(200, document.body.clientWidth - 40);
    const tables = 1 + state.devices.length;
    state.mappings.forEach((m, mi) => mapEl.append(renderMapping(m, mi, width, tables)));
  }

  function renderMapping(m, mi, width, tables) {
    const win = windows[m.name] && windows[m.name].end <= m.pages ? windows[m.name] : { start: 0, end: m.pages };
    const n = Math.max(1, win.end - win.start);
    const perTable = (width - 90) / tables - 12;
    const fit = Math.max(1, Math.min(64, Math.floor(perTable / (cellSize + 1))));
    // At most maxCells cells, and at most MAX_ROWS rows: bigger ranges are bucketed (zoom in for detail).
    const per = Math.max(1, Math.ceil(n / Math.max(1, Math.min(state.maxCells, fit * MAX_ROWS))));
    const count = Math.ceil(n / per);
    const cols = Math.max(1, Math.min(count, fit));
    const rows = Math.ceil(count / cols);
    const cells = bucketize(m.runs, win.start, win.end, per, count);
    model[mi] = { m, cells };

    const section = el('section', 'mapping');
    const head = el('div', 'mapping-head');
    head.append(el('strong', '', m.name), el('span', 'dim', ` ${m.pages} pages @${m.address}`));
    const whole = win.start === 0 && win.end === m.pages;
    head.append(el('span', 'dim', ` · showing ${rangeName(m, win.start, win.end)}, ${per === 1 ? 'one page' : `${per} pages`} per cell${m.truncated ? ' · runs after the last fetched one are grey' : ''}`));
    if (!whole) {
      const out = el('button', 'small', 'zoom out');
      out.addEventListener('click', () => zoomOut(m));
      const all = el('button', 'small', 'whole mapping');
      all.addEventListener('click', () => { delete windows[m.name]; persist(); render(); });
      head.append(out, all);
    }
    section.append(head);

    const row = el('div', 'tables');
    const addr = el('div', 'addr');
    addr.append(el('div', 'table-title', 'address'));
    const addrGrid = el('div', 'addr-grid');
    for (let r = 0; r < rows; r++) addrGrid.append(el('div', 'addr-label', hex((m.firstPage + cells[r * cols].s) * state.pageSize)));
    addr.append(addrGrid);
    row.append(addr);

    const table = (title, classes, device) => {
      const t = el('div', 'table');
      t.append(el('div', 'table-title', title));
      const grid = el('div', 'grid');
      grid.style.setProperty('--cols', String(cols));
      grid.setAttribute('role', 'img');
      grid.setAttribute('aria-label', `${title} page table of ${m.name}`);
      cells.forEach((cell, ci) => {
        let cls = classes(cell);
        if (state.migrations.some((o) => overlaps(o, m, cell.s, cell.e) && (device === undefined || o.device === device))) cls += ' migrating';
        const inv = state.lastInvalidation;
        if (device !== undefined && inv && inv.device === device && overlaps(inv, m, cell.s, cell.e)) cls += ' invalidated';
        if (overlaps(highlight, m, cell.s, cell.e)) cls += ' highlight';
        const d = el('div', cls);
        d.dataset.m = String(mi);
        d.dataset.c = String(ci);
        if (device !== undefined) d.dataset.d = device;
        grid.append(d);
      });
      t.append(grid);
      return t;
    };
    row.append(table(`CPU (${state.process})`, cpuClasses, undefined));
    for (const dev of state.devices) row.append(table(dev, (c) => deviceClasses(c, dev), dev));
    section.append(row);
    return section;
  }

  function zoomInto(m, page) {
    const win = windows[m.name] || { start: 0, end: m.pages };
    const width = Math.max(1, Math.floor((win.end - win.start) / 4));
    if (win.end - win.start <= 1) return;
    let start = Math.max(0, page - Math.floor(width / 2));
    const end = Math.min(m.pages, start + width);
    start = Math.max(0, end - width);
    windows[m.name] = { start, end };
    persist();
    render();
  }

  function zoomOut(m) {
    const win = windows[m.name];
    if (!win) return;
    const width = Math.min(m.pages, (win.end - win.start) * 4);
    const mid = Math.floor((win.start + win.end) / 2);
    let start = Math.max(0, mid - Math.floor(width / 2));
    const end = Math.min(m.pages, start + width);
    start = Math.max(0, end - width);
    if (start === 0 && end === m.pages) delete windows[m.name];
    else windows[m.name] = { start, end };
    persist();
    render();
  }

  function cellAt(target) {
    const t = /** @type {HTMLElement} */ (target);
    if (!t.classList || !t.classList.contains('cell')) return null;
    const entry = model[Number(t.dataset.m)];
    if (!entry) return null;
    return { m: entry.m, cell: entry.cells[Number(t.dataset.c)], device: t.dataset.d };
  }

  function tooltipText(hit) {
    const { m, cell, device } = hit;
    const lines = [`${rangeName(m, cell.s, cell.e)} — ${cell.e - cell.s} page(s) at ${hex((m.firstPage + cell.s) * state.pageSize)}`];
    if (!cell.run) lines.push('not fetched');
    else {
      lines.push(`CPU: ${runState(cell.run)}${cell.mixed ? ' (most of the cell; others differ)' : ''}`);
      for (const d of state.devices) lines.push(`${d} page table: ${(cell.run.mirrors && cell.run.mirrors[d]) || 'none'}`);
    }
    for (const o of state.migrations) if (overlaps(o, m, cell.s, cell.e)) lines.push(o.label);
    const inv = state.lastInvalidation;
    if (inv && overlaps(inv, m, cell.s, cell.e) && (device === undefined || device === inv.device)) lines.push(`last invalidation: ${inv.label}`);
    lines.push('click: reveal in Page Residency · double-click: zoom in');
    return lines.join('\n');
  }

  mapEl.addEventListener('mouseover', (ev) => {
    const hit = cellAt(ev.target);
    if (!hit) { tooltip.hidden = true; return; }
    tooltip.textContent = tooltipText(hit);
    tooltip.hidden = false;
    const r = /** @type {HTMLElement} */ (ev.target).getBoundingClientRect();
    const x = Math.min(r.right + 8, window.innerWidth - tooltip.offsetWidth - 8);
    const y = Math.min(r.bottom + 8, window.innerHeight - tooltip.offsetHeight - 8);
    tooltip.style.left = `${Math.max(0, x)}px`;
    tooltip.style.top = `${Math.max(0, y)}px`;
  });
  mapEl.addEventListener('mouseleave', () => { tooltip.hidden = true; });
  mapEl.addEventListener('click', (ev) => {
    const hit = cellAt(ev.target);
    if (hit) vscode.postMessage({ type: 'reveal', process: state.process, mapping: hit.m.name, page: hit.cell.s });
  });
  mapEl.addEventListener('dblclick', (ev) => {
    const hit = cellAt(ev.target);
    if (hit) zoomInto(hit.m, hit.cell.s);
  });
  processSel.addEventListener('change', () => vscode.postMessage({ type: 'process', name: processSel.value }));
  $('zoom-in').addEventListener('click', () => { cellSize = Math.min(MAX_CELL, cellSize + 2); persist(); render(); });
  $('zoom-out').addEventListener('click', () => { cellSize = Math.max(MIN_CELL, cellSize - 2); persist(); render(); });
  $('zoom-reset').addEventListener('click', () => { cellSize = 16; windows = {}; persist(); render(); });
  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(render, 100);
  });

  window.addEventListener('message', (event) => {
    const msg = event.data;
    if (msg.type === 'state') {
      state = msg.state;
      render();
    } else if (msg.type === 'highlight') {
      highlight = { mapping: msg.mapping, start: msg.start, end: msg.end };
      const m = state && state.mappings.find((x) => x.name === msg.mapping);
      const win = m && windows[m.name];
      if (win && (msg.start < win.start || msg.end > win.end)) delete windows[m.name];
      render();
      const first = mapEl.querySelector('.cell.highlight');
      if (first) first.scrollIntoView({ block: 'center', inline: 'nearest' });
    }
  });

  renderLegend();
  render();
  vscode.postMessage({ type: 'ready' });
})();
