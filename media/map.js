// Address-space map webview (served by src/extension/mapPanel.ts with a strict CSP and a nonce).
// Draws the picture of one process's address space (hmm/picture, src/hmm/lang/picture.ts) as
// SVG: the VMAs, the CPU page table and each device page table as lanes over a zoomable window
// of virtual pages (1 TiB down to single pages), the physical memories below with capacity and
// use, links from entries to the frames they point at (per page when few are visible, as bands
// per run otherwise), what is happening now (migration phase, notifier callbacks, faults, jobs,
// copies), marks where the picture changed since the previous stop, and a timeline of the stops
// visited. Plain SVG, no library: the drawn element count is bounded by the pixel width (runs
// narrower than a pixel merge), which keeps a million pages as cheap as eight.
// It reads only the JSON state it is sent (MapState in src/extension/mapState.ts) and posts
// back ready / process / showStop / why / select / export.
// @ts-check
(function () {
  // eslint-disable-next-line no-undef
  const vscode = acquireVsCodeApi();
  // eslint-disable-next-line no-undef
  const pagesLib = /** @type {any} */ (window).hmmPages;
  if (!pagesLib) throw new Error('dist/webview/pages.js did not load'); // and the page never says ready

  const PAGE = 4096;
  const LEFT = 168;
  const RIGHT = 16;
  const MIN_SPAN = 4;
  const PHASES = [['setup', 'collect'], ['copy', 'copy'], ['pages', 'install'], ['finalize', 'finalize']];

  const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
  const scene = $('scene');
  const statusEl = $('status');
  const tooltip = $('tooltip');
  const announce = $('announce');
  const timelineEl = $('timeline');
  const processSel = /** @type {HTMLSelectElement} */ ($('process'));

  /** @type {any} MapState, or null */
  let S = null;
  const saved = vscode.getState() || {};
  /** The window of virtual pages shown: [lo, hi), fractional. */
  let view = saved.view || null;
  /** Keyboard cursor: lane index and page. */
  let cursor = saved.cursor || null;
  /** The mappings' extent the view was fitted to (a new one refits). */
  let fitKey = saved.fitKey || '';
  /** Pages marked by "Reveal in map". */
  let highlight = null;
  /** Timeline keyboard focus (a stop id). */
  let timelineFocus = 0;
  /** What the last render drew (the e2e test reads it through window.hmmMap.model()). */
  let drawn = null;
  /** Geometry of the last render, for hit testing. */
  let geo = null;
  const whyCache = new Map();
  let whyReq = 0;
  let hoverTimer = 0;
  let hover = null;
  let colors = {};

  const persist = () => vscode.setState({ view, cursor, fitKey });
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
  const hex = (n) => '0x' + Math.floor(n).toString(16);
  const fmt = (n) => Math.round(n).toLocaleString('en-US');
  const bytes = (pagesN) => {
    const b = pagesN * PAGE;
    const u = [['TiB', 2 ** 40], ['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 1024]].find(([, v]) => b >= /** @type {number} */ (v));
    return u ? `${+(b / /** @type {number} */ (u[1])).toFixed(b % /** @type {number} */ (u[1]) === 0 ? 0 : 1)} ${u[0]}` : `${b} B`;
  };
  const ns = (t) => (t >= 1e6 ? `${+(t / 1e6).toFixed(2)} ms` : t >= 1e3 ? `${+(t / 1e3).toFixed(1)} µs` : `${t} ns`);

  // ---- colours: theme variables resolved to plain colours (exported pictures keep them) ----

  function readColors() {
    const cs = getComputedStyle(document.documentElement);
    const get = (n, fb) => (cs.getPropertyValue(n).trim() || fb);
    const c = {
      system: get('--c-system', '#3d9a50'), zero: get('--c-zero', '#6b9bd1'), empty: get('--c-empty', '#808080'),
      exclusive: get('--c-exclusive', '#d08c2e'), migration: get('--c-migration', '#cca700'), fault: get('--c-fault', '#f14c4c'),
      invalidate: get('--c-invalidate', '#f14c4c'), pinned: get('--c-pinned', '#cca700'), fg: get('--c-fg', '#cccccc'),
      dim: get('--c-dim', '#9d9d9d'), bg: get('--c-bg', '#1e1e1e'), lane: get('--c-lane', '#252526'), border: get('--c-border', '#808080'),
      focus: get('--c-focus', '#007fd4'), change: get('--c-change', '#89d185'), font: get('--c-font', 'sans-serif'), mono: get('--c-mono', 'monospace'),
      devices: [get('--c-device0', '#b064d8'), get('--c-device1', '#d9559b'), get('--c-device2', '#1fa69a')],
    };
    const o = (S && S.colors) || {};
    for (const k of ['system', 'zero', 'empty', 'exclusive']) if (o[k]) c[k] = o[k];
    if (o.device) c.devices[0] = o.device;
    return c;
  }

  function memColor(name) {
    if (name === 'system') return colors.system;
    const i = S ? S.picture.memories.filter((m) => m.name !== 'system').findIndex((m) => m.name === name) : 0;
    return colors.devices[Math.max(0, i) % colors.devices.length];
  }

  /** Dark or light text, whichever reads on `color` (#rgb, #rrggbb[aa] or rgb[a]()). */
  function textOn(color) {
    let r;
    let g;
    let b;
    const hexm = /^#([0-9a-f]{3,8})$/i.exec(color.trim());
    const rgbm = /^rgba?\(\s*(\d+)[ ,]+(\d+)[ ,]+(\d+)/i.exec(color.trim());
    if (hexm) {
      const h = hexm[1].length < 6 ? hexm[1].slice(0, 3).split('').map((c) => c + c).join('') : hexm[1].slice(0, 6);
      [r, g, b] = [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16));
    } else if (rgbm) [r, g, b] = [rgbm[1], rgbm[2], rgbm[3]].map(Number);
    else return colors.fg;
    const lin = (v) => { const c = v / 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    const L = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
    return L > 0.22 ? '#111111' : '#ffffff';
  }

  // ---- names ----

  function mappingAt(p, v) {
    return p.mappings.find((m) => v >= m.start && v < m.start + m.pages);
  }
  function rangeText(p, s, e) {
    const m = mappingAt(p, s);
    if (m && e <= m.start + m.pages) return pagesLib.rangeName(m.name, m.pages, s - m.start, e - m.start);
    return `${hex(s * PAGE)}..${hex(e * PAGE)}`;
  }

  // ---- runs ----

  /** Index of the first run with end > v. */
  function firstRun(runs, v) {
    let lo = 0;
    let hi = runs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (runs[mid].end <= v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  function runAt(runs, v) {
    const i = firstRun(runs, v);
    return i < runs.length && runs[i].start <= v ? runs[i] : null;
  }
  /** Frames [lo, hi) that pages [a, b) of run r point at, and whether they run backwards. */
  function framesOf(r, a, b) {
    if (r.order === 1) return { lo: r.lo + (a - r.start), hi: r.lo + (b - r.start), rev: false };
    if (r.order === -1) return { lo: r.hi - (b - r.start), hi: r.hi - (a - r.start), rev: true };
    return { lo: r.lo, hi: r.hi, rev: false };
  }
  function frameOfPage(r, v) {
    if (r.order === 1) return r.lo + (v - r.start);
    if (r.order === -1) return r.hi - 1 - (v - r.start);
    return r.order === 0 ? r.lo : null;
  }

  /**
   * Segments of a lane in the window: one per run at least a pixel wide; runs narrower than a
   * pixel merge until the merged piece is a pixel wide, drawn as its largest run (mixed when
   * they differ). At most (lane width) segments whatever the run count.
   */
  function segments(runs, lo, hi, x0, w) {
    const k = w / (hi - lo);
    const out = [];
    let acc = null;
    const flush = () => {
      if (!acc) return;
      acc.xb = Math.max(acc.xb, acc.xa + 1);
      out.push(acc);
      acc = null;
    };
    for (let i = firstRun(runs, lo); i < runs.length && runs[i].start < hi; i++) {
      const r = runs[i];
      const a = Math.max(r.start, lo);
      const b = Math.min(r.end, hi);
      const xa = x0 + (a - lo) * k;
      const xb = x0 + (b - lo) * k;
      if (acc && (xa - acc.xb > 0.5 || xb - xa >= 1)) flush();
      if (!acc && xb - xa >= 1) {
        out.push({ xa, xb, a, b, run: r, mixed: !!r.mixed, frames: { [r.memory]: framesOf(r, a, b) } });
        continue;
      }
      if (!acc) acc = { xa, xb, a, b, run: r, mixed: !!r.mixed, best: b - a, frames: {} };
      else {
        acc.xb = xb;
        acc.b = b;
        acc.mixed = true;
        if (b - a > acc.best) { acc.best = b - a; acc.run = r; }
      }
      const f = framesOf(r, a, b);
      const have = acc.frames[r.memory];
      acc.frames[r.memory] = have ? { lo: Math.min(have.lo, f.lo), hi: Math.max(have.hi, f.hi), rev: false } : f;
      if (acc.xb - acc.xa >= 1) flush();
    }
    flush();
    return out;
  }

  // ---- what changed since the previous stop ----

  const cpuSig = (r) => r ? `${r.entry}|${r.zone}|${r.writable}|${r.shared}|${r.pinned}|${r.huge}|${r.memory}|${r.order === 1 ? r.lo - r.start : r.order === -1 ? r.hi + r.start : r.lo}` : '';
  const devSig = (r) => r ? `${r.access}|${r.local}|${r.memory}|${r.order === 1 ? r.lo - r.start : r.order === -1 ? r.hi + r.start : r.lo}` : '';

  /** Ranges where two lanes' runs differ (merge walk over both; at most 2000 ranges). */
  function diffRuns(a, b, sig) {
    const cuts = new Set();
    for (const r of a) { cuts.add(r.start); cuts.add(r.end); }
    for (const r of b) { cuts.add(r.start); cuts.add(r.end); }
    const xs = [...cuts].sort((x, y) => x - y);
    const out = [];
    let i = 0;
    let j = 0;
    for (let k = 0; k + 1 < xs.length && out.length < 2000; k++) {
      const v = xs[k];
      while (i < a.length && a[i].end <= v) i++;
      while (j < b.length && b[j].end <= v) j++;
      const ra = i < a.length && a[i].start <= v ? a[i] : null;
      const rb = j < b.length && b[j].start <= v ? b[j] : null;
      if (sig(ra) === sig(rb)) continue;
      const last = out[out.length - 1];
      if (last && last.end === v) last.end = xs[k + 1];
      else out.push({ start: v, end: xs[k + 1] });
    }
    return out;
  }

  function changes(p, prev) {
    const out = {};
    if (!prev || prev.process !== p.process) return out;
    out.cpu = diffRuns(p.cpu.runs, prev.cpu.runs, cpuSig);
    for (const o of p.others || []) {
      const old = (prev.others || []).find((x) => x.process === o.process);
      if (old) out['cpu:' + o.process] = diffRuns(o.cpu.runs, old.cpu.runs, cpuSig);
    }
    for (const d of p.devices) {
      const old = prev.devices.find((x) => x.name === d.name);
      out['dev:' + d.name] = diffRuns(d.lane.runs, old ? old.lane.runs : [], devSig);
    }
    return out;
  }

  // ---- memory strips: the frames the links reach, long stretches between them cut out ----

  /** Clusters of reached frames (gaps wider than 16 frames and an eighth of the extent cut), padded. */
  function clustersOf(spans, capacity) {
    if (!spans || !spans.length) return [{ lo: 0, hi: Math.max(1, Math.min(capacity, 16)) }];
    const sorted = [...spans].sort((a, b) => a.lo - b.lo);
    const merged = [];
    for (const sp of sorted) {
      const l = merged[merged.length - 1];
      if (l && sp.lo <= l.hi) l.hi = Math.max(l.hi, sp.hi);
      else merged.push({ lo: sp.lo, hi: sp.hi });
    }
    const extent = merged[merged.length - 1].hi - merged[0].lo;
    let out = [];
    for (const sp of merged) {
      const l = out[out.length - 1];
      if (l && sp.lo - l.hi <= Math.max(16, extent / 8)) l.hi = Math.max(l.hi, sp.hi);
      else out.push({ ...sp });
    }
    if (out.length > 6) out = [{ lo: merged[0].lo, hi: merged[merged.length - 1].hi }];
    const top = Math.max(capacity, out[out.length - 1].hi);
    const res = [];
    for (const c of out) {
      const want = Math.max(8, (c.hi - c.lo) * 1.08);
      const hi = Math.min(top, Math.ceil(Math.max(0, Math.floor((c.lo + c.hi) / 2 - want / 2)) + want));
      const lo = Math.max(0, Math.floor(hi - want));
      const l = res[res.length - 1];
      if (l && lo <= l.hi) l.hi = Math.max(l.hi, hi);
      else res.push({ lo, hi });
    }
    return res;
  }

  /** Widths of the clusters in a strip: proportional to their frames, at least 40 px each. */
  function layoutStrip(clusters, x, w, stripY, stripH) {
    const GAP = 16;
    const avail = Math.max(40, w - GAP * (clusters.length - 1));
    const total = clusters.reduce((n, c) => n + (c.hi - c.lo), 0);
    const minW = Math.min(40, avail / clusters.length);
    const small = clusters.filter((c) => (avail * (c.hi - c.lo)) / total < minW);
    const rest = total - small.reduce((n, c) => n + (c.hi - c.lo), 0);
    const restW = avail - small.length * minW;
    let cx = x;
    const out = clusters.map((c) => {
      const cw = small.includes(c) ? minW : (restW * (c.hi - c.lo)) / Math.max(1, rest);
      const r = { lo: c.lo, hi: c.hi, x: cx, w: cw };
      cx += cw + GAP;
      return r;
    });
    return { x, w, stripY, stripH, clusters: out };
  }

  // ---- the view window ----

  function fitView(p) {
    if (!p.vmas.length) return { lo: p.space.start, hi: p.space.start + 64 };
    const lo = p.vmas[0].start;
    const hi = p.vmas[p.vmas.length - 1].end;
    const pad = Math.max(0.5, (hi - lo) * 0.02);
    return { lo: lo - pad, hi: hi + pad };
  }
  function clampView(v, p) {
    const full = p.space.end - p.space.start;
    let span = Math.min(full, Math.max(MIN_SPAN, v.hi - v.lo));
    let lo = Math.max(p.space.start, Math.min(v.lo, p.space.end - span));
    return { lo, hi: lo + span };
  }
  function zoomAt(factor, centre) {
    if (!S) return;
    const span = view.hi - view.lo;
    const c = centre === undefined ? (view.lo + view.hi) / 2 : centre;
    const t = (c - view.lo) / span;
    const ns2 = span * factor;
    view = clampView({ lo: c - t * ns2, hi: c - t * ns2 + ns2 }, S.picture);
    persist();
    interacting();
    schedule();
  }

  // ---- rendering ----

  /** Zooming or panning: frames skip the links, drawn again once the view rests for SETTLE_MS. */
  let moving = false;
  let settleTimer = 0;
  const SETTLE_MS = 150;
  function interacting() {
    moving = true;
    clearTimeout(settleTimer);
    settleTimer = setTimeout(() => { moving = false; schedule(); }, SETTLE_MS);
  }

  let frame = 0;
  function schedule() {
    if (frame) return;
    frame = requestAnimationFrame(() => { frame = 0; render(); });
  }

  function laneList(p) {
    return [
      { key: 'vma', title: 'VMAs', sub: p.process },
      { key: 'cpu', title: 'CPU page table', sub: `${p.process}'s ptes` },
      ...(p.others || []).map((o) => ({ key: 'cpu:' + o.process, title: `CPU page table`, sub: `${o.process}'s ptes (another process)`, other: o })),
      ...p.devices.map((d) => ({ key: 'dev:' + d.name, title: `${d.name} page table`, sub: 'device mirror (dmirror)', device: d.name })),
    ];
  }

  function render() {
    const t0 = performance.now();
    tooltip.hidden = true;
    if (!S) {
      scene.innerHTML = '<p class="empty-note">No hmm debug session is stopped. Start debugging a .hmm script: the map follows every stop.</p>';
      statusEl.textContent = '';
      timelineEl.innerHTML = '';
      $('timeline-note').textContent = 'the stops of the next session';
      $('go-live').hidden = true;
      processSel.replaceChildren();
      drawn = null;
      return;
    }
    if (!colors.fg) colors = readColors();
    const p = S.picture;
    if (!view) view = fitView(p);
    view = clampView(view, p);
    const lanes = laneList(p);
    if (!cursor || cursor.lane >= lanes.length) cursor = { lane: 1, page: Math.floor((view.lo + view.hi) / 2) };
    const W = Math.max(560, scene.clientWidth || 1000);
    const x0 = LEFT;
    const w = W - LEFT - RIGHT;
    const span = view.hi - view.lo;
    const k = w / span;
    const perPage = span <= 64 && k >= 12;
    const parts = [];
    const C = colors;
    const text = (x, y, s, attrs = '') => `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${esc(s)}</text>`;
    const fits = (s, px) => s.length * 6.4 < px - 6;

    // title (in the exported picture too)
    let y = 18;
    const stop = S.stop;
    const title = `${S.program ? S.program + ' · ' : ''}process ${p.process} · step ${stop.step}${stop.line ? ` · line ${stop.line}` : ''} · stopped: ${stop.reason} · t = ${ns(p.time)}${stop.id !== S.liveId ? ' · (an earlier stop)' : ''}`;
    parts.push(text(8, y, title, `font-weight="600" fill="${C.fg}"`));

    // overview: the whole 1 TiB with the VMAs and the window
    y = 30;
    const full = p.space.end - p.space.start;
    const ox = (v) => x0 + ((v - p.space.start) / full) * w;
    parts.push(text(8, y + 9, '1 TiB (0x7f00…–0x8000…)', `fill="${C.dim}" font-size="10"`));
    parts.push(`<rect x="${x0}" y="${y}" width="${w}" height="10" fill="${C.lane}" stroke="${C.border}"/>`);
    for (const v of p.vmas) parts.push(`<rect x="${ox(v.start).toFixed(1)}" y="${y}" width="${Math.max(1.5, ox(v.end) - ox(v.start)).toFixed(1)}" height="10" fill="${C.dim}"/>`);
    parts.push(`<rect x="${ox(view.lo).toFixed(1)}" y="${y - 2}" width="${Math.max(2, ox(view.hi) - ox(view.lo)).toFixed(1)}" height="14" fill="none" stroke="${C.focus}" stroke-width="1.5"/>`);

    // address axis
    y = 58;
    // ticks at powers of two of pages, at least 120 px apart (a hex address is ~110 px)
    let step = 1;
    while (step * k < 120) step *= 2;
    const firstTick = Math.ceil(view.lo / step) * step;
    for (let v = firstTick; v <= view.hi; v += step) {
      const x = x0 + (v - view.lo) * k;
      parts.push(`<line x1="${x.toFixed(1)}" y1="${y + 4}" x2="${x.toFixed(1)}" y2="${y + 10}" stroke="${C.dim}"/>`);
      parts.push(text(x + 2, y + 2, hex(v * PAGE), `fill="${C.dim}" font-size="10" font-family="${esc(C.mono)}"`));
    }
    parts.push(text(8, y + 2, `${bytes(span)} shown`, `fill="${C.dim}" font-size="10"`));

    // lanes
    y = 76;
    const laneGeo = [];
    const LANE_H = { vma: 30, other: 34 };
    for (const l of lanes) {
      const h = l.key === 'vma' ? LANE_H.vma + (k >= 28 ? 10 : 0) : LANE_H.other;
      laneGeo.push({ ...l, y, h });
      y += h + 12;
    }
    const lanesBottom = y - 12;
    const memTop = lanesBottom + (perPage ? 120 : 100);
    const model = { step: stop.step, process: p.process, view: { lo: view.lo, hi: view.hi }, perPage, lanes: [], links: { mode: perPage ? 'pages' : 'runs', count: 0 }, memories: [], now: {}, changes: 0, timeline: {} };

    // segments of each page-table lane, and the frames they reach per memory
    const reach = {};
    const addReach = (mem, lo, hi) => {
      (reach[mem] = reach[mem] || []).push({ lo, hi });
    };
    const laneSegs = {};
    for (const lg of laneGeo) {
      if (lg.key === 'vma') continue;
      const runs = lg.key === 'cpu' ? p.cpu.runs : lg.other ? lg.other.cpu.runs : p.devices.find((d) => 'dev:' + d.name === lg.key).lane.runs;
      const segs = segments(runs, view.lo, view.hi, x0, w);
      laneSegs[lg.key] = segs;
      for (const s of segs) for (const m in s.frames) addReach(m, s.frames[m].lo, s.frames[m].hi);
    }
    for (const m of p.now.migrations) for (const mv of m.moving) {
      if (mv.from) addReach(mv.from.memory, mv.from.lo, mv.from.hi);
      if (mv.to) addReach(mv.to.memory, mv.to.lo, mv.to.hi);
    }

    // memories: side by side, each a strip of the frames reached (zoomed to them) and a gauge
    const mems = p.memories;
    const gap = 28;
    const mw = (W - 16 - gap * (mems.length - 1)) / mems.length;
    const memGeo = {};
    mems.forEach((m, i) => {
      memGeo[m.name] = layoutStrip(clustersOf(reach[m.name], m.capacity), 8 + i * (mw + gap), mw, memTop + 34, 26);
    });
    const fx = (mem, f) => {
      const g = memGeo[mem];
      let c = g.clusters[0];
      for (const x of g.clusters) if (f >= x.lo) c = x;
      const t = Math.max(0, Math.min(1, (f - c.lo) / Math.max(1e-9, c.hi - c.lo)));
      return c.x + t * c.w;
    };

    // links (behind the lanes): per page when few are visible, bands per segment otherwise
    const linkParts = [];
    let links = 0;
    for (const lg of moving ? [] : laneGeo) {
      const segs = laneSegs[lg.key];
      if (!segs) continue;
      const dev = lg.key !== 'cpu';
      const y0 = lg.y + lg.h;
      for (const s of segs) {
        for (const mem in s.frames) {
          const g = memGeo[mem];
          if (!g) continue;
          const col = memColor(mem);
          const y1 = g.stripY;
          const ym = (y0 + y1) / 2;
          const dash = dev ? ' stroke-dasharray="5 3"' : '';
          if (perPage && !s.mixed && s.run.order !== 'mixed') {
            for (let v = Math.floor(s.a); v < s.b; v++) {
              const f = frameOfPage(s.run, v);
              if (f === null) continue;
              const xa = x0 + (v + 0.5 - view.lo) * k;
              const xb = fx(mem, f + 0.5);
              linkParts.push(`<path d="M${xa.toFixed(1)},${y0} C${xa.toFixed(1)},${ym} ${xb.toFixed(1)},${ym} ${xb.toFixed(1)},${y1}" fill="none" stroke="${col}" stroke-width="1.6" stroke-opacity="0.85"${dash} data-link="${lg.key}" data-page="${v}" data-memory="${mem}" data-frame="${f}"/>`);
              links++;
            }
          } else {
            const fr = s.frames[mem];
            let xa1 = fx(mem, fr.lo);
            let xb1 = fx(mem, fr.hi);
            if (xb1 - xa1 < 1) xb1 = xa1 + 1;
            if (fr.rev) [xa1, xb1] = [xb1, xa1];
            linkParts.push(`<path d="M${s.xa.toFixed(1)},${y0} C${s.xa.toFixed(1)},${ym} ${xa1.toFixed(1)},${ym} ${xa1.toFixed(1)},${y1} L${xb1.toFixed(1)},${y1} C${xb1.toFixed(1)},${ym} ${s.xb.toFixed(1)},${ym} ${s.xb.toFixed(1)},${y0} Z" fill="${col}" fill-opacity="0.18" stroke="${col}" stroke-opacity="0.6"${dash} data-link="${lg.key}" data-a="${s.a}" data-b="${s.b}" data-memory="${mem}"/>`);
            links++;
          }
        }
      }
    }
    model.links.count = links;
    model.links.deferred = moving;
    parts.push(`<g class="links">${linkParts.join('')}</g>`);

    // lane bodies
    const diff = changes(p, S.previous);
    for (const lg of laneGeo) {
      const ly = lg.y;
      const lh = lg.h;
      parts.push(text(8, ly + 14, lg.title, `fill="${C.fg}" font-weight="600"`));
      parts.push(text(8, ly + 27, lg.sub, `fill="${C.dim}" font-size="10"`));
      parts.push(`<rect x="${x0}" y="${ly}" width="${w}" height="${lh}" fill="${C.lane}" stroke="${C.border}" data-lane-bg="${lg.key}"/>`);
      const laneModel = { key: lg.key, segments: [] };
      model.lanes.push(laneModel);
      if (lg.key === 'vma') {
        for (const v of p.vmas) {
          if (v.end <= view.lo || v.start >= view.hi) continue;
          const xa = x0 + (Math.max(v.start, view.lo) - view.lo) * k;
          const xb = Math.max(xa + 2, x0 + (Math.min(v.end, view.hi) - view.lo) * k);
          const label = `${v.name} · ${v.prot} ${v.kind}${v.shared ? ' shared' : ''}${v.thp === 'huge' ? ' · THP' : ''} · ${fmt(v.end - v.start)} pages`;
          parts.push(`<rect x="${xa.toFixed(1)}" y="${ly + 3}" width="${(xb - xa).toFixed(1)}" height="${lh - 6}" rx="3" fill="${C.dim}" fill-opacity="0.25" stroke="${C.dim}" data-vma="${esc(v.name)}" data-a="${v.start}" data-b="${v.end}"/>`);
          if (fits(label, xb - xa)) parts.push(text(xa + 5, ly + 19, label, `fill="${C.fg}"`));
          else if (fits(v.name, xb - xa)) parts.push(text(xa + 3, ly + 19, v.name, `fill="${C.fg}"`));
          laneModel.segments.push({ a: v.start, b: v.end, label });
        }
        if (k >= 28) for (let v = Math.ceil(view.lo); v < view.hi; v++) {
          const m = mappingAt(p, v);
          if (m && `${m.name}[${v - m.start}]`.length * 5.2 + 4 <= k) parts.push(text(x0 + (v - view.lo) * k + 3, ly + lh - 3, `${m.name}[${v - m.start}]`, `fill="${C.dim}" font-size="9"`));
        }
        continue;
      }
      const segs = laneSegs[lg.key];
      const dev = lg.device;
      for (const s of segs) {
        const r = s.run;
        const wpx = s.xb - s.xa;
        let fill;
        let label;
        let kind;
        if (!dev) {
          kind = r.entry === 'present' ? (r.zone === 'zero' ? 'zero' : 'present') : r.entry;
          fill = r.entry === 'device-exclusive' ? C.exclusive : r.entry === 'migration' ? C.migration : r.zone === 'zero' ? C.zero : memColor(r.memory);
          label = r.entry === 'present' ? (r.zone === 'zero' ? 'zero page' : `present ${r.writable ? 'rw' : 'ro'}`)
            : r.entry === 'device-private' ? `swap entry → ${r.memory}` : r.entry === 'device-exclusive' ? `exclusive (${r.exclusiveBy || 'device'})` : 'migration entry';
          if (r.shared) label += r.zone === 'zero' ? '' : ' · shared (COW)';
          if (r.pinned) label += ' · pinned';
          if (r.huge) label += ' · THP';
        } else {
          kind = r.access;
          fill = r.access === 'atomic' ? C.exclusive : r.memory === 'system' && r.order === 0 && r.hi - r.lo === 1 && r.lo === 0 ? C.zero : memColor(r.memory);
          label = `${r.access} · ${r.local ? 'local' : `remote → ${r.memory}`}`;
        }
        if (s.mixed) label += ' · mixed';
        const attrs = `data-seg="${lg.key}" data-a="${s.a}" data-b="${s.b}" data-kind="${kind}"${s.mixed ? ' data-mixed="1"' : ''}`;
        parts.push(`<rect x="${s.xa.toFixed(1)}" y="${ly + 4}" width="${wpx.toFixed(1)}" height="${lh - 8}" fill="${fill}" ${attrs}/>`);
        const nonPresent = !dev && r.entry !== 'present';
        const ro = (!dev && !r.writable && r.zone !== 'zero') || (dev && r.access === 'read');
        if (ro) parts.push(`<rect x="${s.xa.toFixed(1)}" y="${ly + 4}" width="${wpx.toFixed(1)}" height="${lh - 8}" fill="url(#hatch)"/>`);
        if (!dev && r.shared && r.zone !== 'zero') parts.push(`<rect x="${s.xa.toFixed(1)}" y="${ly + 4}" width="${wpx.toFixed(1)}" height="${lh - 8}" fill="url(#cross)"/>`);
        if (nonPresent && wpx > 3) parts.push(`<rect x="${(s.xa + 1).toFixed(1)}" y="${ly + 5}" width="${(wpx - 2).toFixed(1)}" height="${lh - 10}" fill="none" stroke="${C.bg}" stroke-width="1.5" stroke-dasharray="4 2"/>`);
        if (!dev && r.pinned) parts.push(`<rect x="${s.xa.toFixed(1)}" y="${ly + 4}" width="${wpx.toFixed(1)}" height="${lh - 8}" fill="none" stroke="${C.pinned}" stroke-width="2.5"/>`);
        if (dev && r.access === 'atomic') parts.push(`<rect x="${s.xa.toFixed(1)}" y="${ly + 4}" width="${wpx.toFixed(1)}" height="${lh - 8}" fill="none" stroke="${C.fg}" stroke-width="1.5"/>`);
        if (!dev && r.huge && wpx > 6) parts.push(`<rect x="${s.xa.toFixed(1)}" y="${ly + 1}" width="${wpx.toFixed(1)}" height="3" fill="${C.fg}"/>`);
        // a halo of the run's colour keeps the label readable over hatching
        if (fits(label, wpx)) parts.push(text(s.xa + 4, ly + lh / 2 + 4, label, `fill="${textOn(fill)}" stroke="${fill}" stroke-width="3" paint-order="stroke" font-weight="600" font-size="11"`));
        if (laneModel.segments.length < 400) laneModel.segments.push({ a: s.a, b: s.b, kind, label, mixed: s.mixed });
      }
      // page separators when pages are wide enough to tell apart
      if (k >= 5) {
        const sep = [];
        for (let v = Math.ceil(view.lo); v < view.hi; v++) {
          const x = x0 + (v - view.lo) * k;
          sep.push(`M${x.toFixed(1)},${ly + 4}v${lh - 8}`);
        }
        parts.push(`<path d="${sep.join('')}" stroke="${C.lane}" stroke-width="1"/>`);
      }
      // changed since the previous stop
      const ch = diff[lg.key] || [];
      for (const c of ch) {
        if (c.end <= view.lo || c.start >= view.hi) continue;
        const xa = x0 + (Math.max(c.start, view.lo) - view.lo) * k;
        const xb = Math.max(xa + 2, x0 + (Math.min(c.end, view.hi) - view.lo) * k);
        parts.push(`<rect x="${xa.toFixed(1)}" y="${ly + lh - 3}" width="${(xb - xa).toFixed(1)}" height="3" fill="${C.change}" data-change="${lg.key}" data-a="${c.start}" data-b="${c.end}"/>`);
        model.changes++;
      }
    }

    // now: migrations, callbacks, faults, copies over the lanes
    const laneY = (key) => laneGeo.find((l) => l.key === key);
    const over = (key, s, e, color, label, dash, where) => {
      const lg = laneY(key);
      if (!lg || e <= view.lo || s >= view.hi) return;
      const xa = x0 + (Math.max(s, view.lo) - view.lo) * k;
      const xb = Math.max(xa + 3, x0 + (Math.min(e, view.hi) - view.lo) * k);
      parts.push(`<rect x="${(xa - 1).toFixed(1)}" y="${lg.y + 1}" width="${(xb - xa + 2).toFixed(1)}" height="${lg.h - 2}" fill="none" stroke="${color}" stroke-width="2.5"${dash ? ' stroke-dasharray="6 3"' : ''} data-now="${where}" data-a="${s}" data-b="${e}"/>`);
      if (label) parts.push(`<text x="${xa.toFixed(1)}" y="${(lg.y - 3).toFixed(1)}" fill="${color}" font-size="10" font-weight="600">${esc(label)}</text>`);
    };
    const now = p.now;
    model.now = { kernel: now.kernel, migrations: now.migrations.map((m) => ({ phase: m.phase, device: m.device, direction: m.direction, moving: m.moving.length, cpages: m.cpages })), callbacks: now.callbacks.length, faulting: now.faulting.length, jobs: now.jobs.length, copies: now.copies.length };
    for (const m of now.migrations) {
      over('cpu', m.start, m.end, C.migration, `migrate_vma ${m.direction === 'to-device' ? '→ ' + m.device : '→ system'}: ${m.phase}`, true, 'migration');
      for (const sk of m.skipped) over('cpu', sk.start, sk.end, C.fault, `skipped: ${sk.reason}`, true, 'skipped');
    }
    for (const cb of now.callbacks.slice(-4)) over('dev:' + cb.mirror, cb.start, cb.end, C.invalidate, `${cb.event} → ${cb.action}`, false, 'callback');
    for (const f of now.faulting) over('dev:' + f.device, f.start, f.end, C.fault, `device fault${f.access ? ' (' + f.access + ')' : ''}`, false, 'fault');
    for (const c of now.copies) over('dev:' + c.device, c.start, c.end, C.migration, `copy ${c.direction} ${Math.round(c.progress * 100)}%`, true, 'copy');
    if (highlight) over('cpu', highlight.start, highlight.end, C.focus, 'revealed', false, 'highlight');

    // memories
    for (const m of mems) {
      const g = memGeo[m.name];
      const col = memColor(m.name);
      const kindText = m.kind === 'system' ? 'system RAM' : `${m.name} ${m.kind === 'device-private' ? 'device-private' : 'device-coherent'} memory`;
      parts.push(text(g.x, memTop + 12, kindText, `fill="${C.fg}" font-weight="600"`));
      const useText = m.capacityIsLimit ? `${fmt(m.used)} of ${fmt(m.capacity)} frames used (${bytes(m.used)} of ${bytes(m.capacity)})` : `${fmt(m.used)} frames in use (${bytes(m.used)}); no limit in the model`;
      parts.push(text(g.x, memTop + 25, useText, `fill="${C.dim}" font-size="10"`));
      // gauge
      parts.push(`<rect x="${g.x}" y="${memTop + 28}" width="${g.w.toFixed(1)}" height="4" fill="${C.lane}" stroke="${C.border}" stroke-width="0.5"/>`);
      parts.push(`<rect x="${g.x}" y="${memTop + 28}" width="${(g.w * Math.min(1, m.used / Math.max(1, m.capacity))).toFixed(1)}" height="4" fill="${col}" data-gauge="${esc(m.name)}"/>`);
      // strip of the frames reached: clusters, the frames between them cut out (⋯)
      for (const c of g.clusters) {
        parts.push(`<rect x="${c.x.toFixed(1)}" y="${g.stripY}" width="${c.w.toFixed(1)}" height="${g.stripH}" fill="${C.lane}" stroke="${col}" data-memory-strip="${esc(m.name)}" data-lo="${c.lo}" data-hi="${c.hi}"/>`);
      }
      for (let ci = 1; ci < g.clusters.length; ci++) {
        const a = g.clusters[ci - 1];
        parts.push(text(a.x + a.w + 3, g.stripY + g.stripH / 2 + 4, '⋯', `fill="${C.dim}"`));
      }
      const reached = [];
      for (const key in laneSegs) {
        for (const s of laneSegs[key]) {
          const f = s.frames[m.name];
          if (f) reached.push({ lo: f.lo, hi: f.hi, zero: s.run.zone === 'zero' || (s.run.order === 0 && s.run.memory === 'system' && s.run.lo === 0) });
        }
      }
      reached.sort((a, b) => a.lo - b.lo);
      let cur = null;
      const spans = [];
      for (const f of reached) {
        if (cur && f.lo <= cur.hi && f.zero === cur.zero) cur.hi = Math.max(cur.hi, f.hi);
        else { cur = { lo: f.lo, hi: f.hi, zero: f.zero }; spans.push(cur); }
      }
      for (const f of spans) {
        const xa = fx(m.name, f.lo);
        const xb = Math.max(xa + 1, fx(m.name, f.hi));
        parts.push(`<rect x="${xa.toFixed(1)}" y="${g.stripY + 3}" width="${(xb - xa).toFixed(1)}" height="${g.stripH - 6}" fill="${f.zero ? C.zero : col}" data-frames="${esc(m.name)}" data-a="${f.lo}" data-b="${f.hi}"/>`);
      }
      for (const c of g.clusters) {
        if (c.w / (c.hi - c.lo) >= 5) {
          const sep = [];
          for (let f = Math.ceil(c.lo); f < c.hi; f++) sep.push(`M${fx(m.name, f).toFixed(1)},${g.stripY + 3}v${g.stripH - 6}`);
          parts.push(`<path d="${sep.join('')}" stroke="${C.lane}" stroke-width="1"/>`);
        }
        const label = `frame ${fmt(c.lo)}`;
        if (label.length * 5.6 < c.w + 14) parts.push(text(c.x, g.stripY + g.stripH + 12, label, `fill="${C.dim}" font-size="10"`));
      }
      const lastC = g.clusters[g.clusters.length - 1];
      const endLabel = `${fmt(lastC.hi)}`;
      if (lastC.w > 90) parts.push(text(lastC.x + lastC.w - endLabel.length * 5.6, g.stripY + g.stripH + 12, endLabel, `fill="${C.dim}" font-size="10"`));
      model.memories.push({ name: m.name, used: m.used, capacity: m.capacity, flo: g.clusters[0].lo, fhi: lastC.hi, clusters: g.clusters.length, reached: spans.length });
    }

    // migrations in flight between memories: source frames → destination frames, as bands under the strips
    let ny = memTop + 34 + 26 + 40;
    const arcs = [];
    for (const m of now.migrations) {
      for (const mv of m.moving.slice(0, 256)) {
        for (const sp of [mv.from, mv.to]) {
          if (!sp || !memGeo[sp.memory]) continue;
          const g = memGeo[sp.memory];
          const xa = fx(sp.memory, sp.lo);
          const xb = Math.max(xa + 2, fx(sp.memory, sp.hi));
          arcs.push(`<rect x="${xa.toFixed(1)}" y="${g.stripY + 1}" width="${(xb - xa).toFixed(1)}" height="${g.stripH - 2}" fill="none" stroke="${C.migration}" stroke-width="2" stroke-dasharray="4 2" data-moving="${sp === mv.from ? 'from' : 'to'}" data-memory="${esc(sp.memory)}" data-a="${sp.lo}" data-b="${sp.hi}"/>`);
        }
        if (!mv.from || !mv.to || !memGeo[mv.from.memory] || !memGeo[mv.to.memory]) continue;
        const yb = memTop + 34 + 26;
        const a0 = fx(mv.from.memory, mv.from.lo);
        const a1 = Math.max(a0 + 1, fx(mv.from.memory, mv.from.hi));
        const b0 = fx(mv.to.memory, mv.to.lo);
        const b1 = Math.max(b0 + 1, fx(mv.to.memory, mv.to.hi));
        arcs.push(`<path d="M${a0.toFixed(1)},${yb} C${a0.toFixed(1)},${yb + 44} ${b0.toFixed(1)},${yb + 44} ${b0.toFixed(1)},${yb} L${b1.toFixed(1)},${yb} C${b1.toFixed(1)},${yb + 30} ${a1.toFixed(1)},${yb + 30} ${a1.toFixed(1)},${yb} Z" fill="${C.migration}" fill-opacity="0.35" stroke="${C.migration}" data-migration-band="${mv.start}"/>`);
        arcs.push(`<path d="M${((a0 + a1) / 2).toFixed(1)},${yb + 8} C${((a0 + a1) / 2).toFixed(1)},${yb + 40} ${((b0 + b1) / 2).toFixed(1)},${yb + 40} ${((b0 + b1) / 2).toFixed(1)},${yb + 6}" fill="none" stroke="${C.migration}" stroke-width="2" marker-end="url(#arrow)"/>`);
      }
      if (m.moving.length) {
        const mv = m.moving[0];
        const from = mv.from ? memGeo[mv.from.memory] : null;
        const to = mv.to ? memGeo[mv.to.memory] : null;
        if (from && to) parts.push(text((from.x + from.w + to.x) / 2 - 60, memTop + 34 + 26 + 46, `${m.phase === 'pages' || m.phase === 'finalize' ? 'copied' : 'copying'}: ${m.cpages} page(s)`, `fill="${C.migration}" font-size="10" font-weight="600"`));
      }
    }
    if (arcs.length) {
      parts.push(arcs.join(''));
      ny += 34;
    }

    // the "now" block: kernel frames, migration phase, callbacks, faults, jobs, copies
    const lines = [];
    if (now.kernel.length) lines.push({ t: `in the kernel: ${now.kernel.join(' → ')}`, c: C.fg });
    for (const m of now.migrations) {
      lines.push({ t: `migrate_vma ${m.direction === 'to-device' ? 'to ' + m.device : 'to system from ' + m.device} of ${rangeText(p, m.start, m.end)} (${m.cause}): ${m.cpages} page(s) collected${m.skipped.length ? `, skipped ${m.skipped.map((s) => `${rangeText(p, s.start, s.end)} (${s.reason})`).join(', ')}` : ''}`, c: C.migration, phase: m.phase });
    }
    if (now.stopEvent) lines.push({ t: `stopped on: ${now.stopEvent.text}`, c: C.fault });
    for (const cb of now.callbacks.slice(-6)) lines.push({ t: `notifier #${cb.seq} ${cb.event} ${rangeText(p, cb.start, cb.end)} owner ${cb.owner || 'none'} → ${cb.mirror} mirror: ${cb.action}${cb.erased ? ` (${cb.erased} entries)` : ''}${cb.count > 1 ? ` ×${cb.count}` : ''}`, c: C.invalidate });
    for (const f of now.faulting) lines.push({ t: `${f.device} faults on ${rangeText(p, f.start, f.end)}${f.access ? ` (${f.access})` : ''}`, c: C.fault });
    for (const j of now.jobs) lines.push({ t: `job ${j.name} (${j.kernel}) on ${j.device}: ${j.doing} · t = ${ns(j.time)}${j.running ? ' · running' : ''}${j.batch.length ? ` · fault batch ${j.batch.map((b) => rangeText(p, b.start, b.end)).join(', ')}` : ''}`, c: C.fg });
    for (const c of now.copies) lines.push({ t: `copy engine ${c.device} ${c.direction === 'to-device' ? 'H2D' : 'D2H'}: ${rangeText(p, c.start, c.end)} ${Math.round(c.progress * 100)}% (t ${ns(c.startTime)} → ${ns(c.endTime)})`, c: C.migration });
    if (!lines.length) lines.push({ t: 'now: between statements, nothing in flight', c: C.dim });
    parts.push(text(8, ny, 'What is happening now', `fill="${C.fg}" font-weight="600"`));
    ny += 16;
    for (const l of lines.slice(0, 14)) {
      let lx = 8;
      if (l.phase) {
        for (const [id, name] of PHASES) {
          const on = id === l.phase;
          const pw = name.length * 6.5 + 12;
          parts.push(`<rect x="${lx}" y="${ny - 11}" width="${pw}" height="15" rx="7" fill="${on ? C.migration : 'none'}" stroke="${C.migration}" data-phase="${id}"${on ? ' data-current="1"' : ''}/>`);
          parts.push(text(lx + 6, ny, name, `fill="${on ? C.bg : C.migration}" font-size="10" font-weight="600"`));
          lx += pw + 4;
        }
        lx += 6;
      }
      parts.push(text(lx, ny, l.t, `fill="${l.c}" font-size="11"`));
      ny += 16;
    }

    // legend
    ny += 6;
    const legend = [
      [C.system, 'system RAM page'], ...mems.filter((m) => m.name !== 'system').map((m) => [memColor(m.name), `${m.name} memory page`]),
      [C.zero, 'zero page'], [C.exclusive, 'device-exclusive / atomic'], [C.migration, 'migration entry / in flight'],
    ];
    let lx = 8;
    for (const [c, t] of legend) {
      if (lx + t.length * 5.6 + 16 > W) { lx = 8; ny += 16; }
      parts.push(`<rect x="${lx}" y="${ny - 9}" width="12" height="10" fill="${c}"/>`);
      parts.push(text(lx + 16, ny, t, `fill="${C.dim}" font-size="10"`));
      lx += t.length * 5.6 + 34;
    }
    ny += 16;
    lx = 8;
    const legend2 = [
      ['url(#hatch)', 'read-only / device read'], ['url(#cross)', 'shared (COW)'], ['dash', 'not present: swap / exclusive / migration entry'],
      ['band', 'links: CPU solid, device dashed'], ['chg', 'changed since the previous stop'],
    ];
    for (const [c, t] of legend2) {
      if (lx + t.length * 5.6 + 16 > W) { lx = 8; ny += 16; }
      if (c === 'dash') parts.push(`<rect x="${lx}" y="${ny - 9}" width="12" height="10" fill="${C.dim}" stroke="${C.bg}" stroke-dasharray="3 2"/>`);
      else if (c === 'band') parts.push(`<path d="M${lx},${ny - 9} l12,10" stroke="${C.dim}" stroke-dasharray="3 2"/>`);
      else if (c === 'chg') parts.push(`<rect x="${lx}" y="${ny - 3}" width="12" height="3" fill="${C.change}"/>`);
      else parts.push(`<rect x="${lx}" y="${ny - 9}" width="12" height="10" fill="${C.dim}"/><rect x="${lx}" y="${ny - 9}" width="12" height="10" fill="${c}"/>`);
      parts.push(text(lx + 16, ny, t, `fill="${C.dim}" font-size="10"`));
      lx += t.length * 5.6 + 34;
    }
    const H = ny + 10;

    // keyboard cursor
    const cl = laneGeo[cursor.lane];
    if (cl && cursor.page >= view.lo - 1 && cursor.page < view.hi + 1) {
      const xa = x0 + (cursor.page - view.lo) * k;
      const cw = Math.max(3, k);
      parts.push(`<rect x="${(xa - 1).toFixed(1)}" y="${cl.y - 1}" width="${(cw + 2).toFixed(1)}" height="${cl.h + 2}" fill="none" stroke="${C.focus}" stroke-width="2" data-cursor="1"/>`);
    }

    const defs = `<defs>
<pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="2" height="6" fill="${C.bg}" fill-opacity="0.55"/></pattern>
<pattern id="cross" width="7" height="7" patternUnits="userSpaceOnUse"><path d="M0,0 L7,7 M7,0 L0,7" stroke="${C.bg}" stroke-width="1.2" stroke-opacity="0.6"/></pattern>
<marker id="arrow" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${C.migration}"/></marker>
</defs>`;
    scene.innerHTML = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${esc(C.font)}" font-size="12" role="img" aria-label="${esc(title)}">${defs}<rect width="${W}" height="${H}" fill="${C.bg}"/>${parts.join('')}</svg>`;
    geo = { x0, w, k, lanes: laneGeo, W, H };

    // status, process picker, timeline
    statusEl.innerHTML = stop.id !== S.liveId
      ? `<span class="past">Showing an earlier stop (step ${stop.step}${stop.line ? `, line ${stop.line}` : ''}): Esc or “Back to the current stop” returns.</span>`
      : 'Hover a page for its state and why it is there; click selects it. Keys: arrows, + / −, F, A, Enter, [ ].';
    processSel.replaceChildren(...p.processes.map((name) => {
      const o = document.createElement('option');
      o.value = name;
      o.textContent = name;
      o.selected = name === p.process;
      return o;
    }));
    $('zoom-label').textContent = `${fmt(span)} pages · ${perPage ? 'links per page' : 'links per run'}`;
    model.timeline = renderTimeline();
    const themed = getComputedStyle(document.documentElement).getPropertyValue('--vscode-hmmDebug-residency.system').trim();
    model.colors = { system: C.system, fromTheme: themed !== '', theme: document.body.className };
    model.renderMs = performance.now() - t0;
    drawn = model;
  }

  // ---- timeline ----

  function renderTimeline() {
    const hist = S.history;
    const W = Math.max(560, scene.clientWidth || 1000);
    const H = 58;
    const x0 = 40;
    const w = W - x0 - 24;
    const maxStep = Math.max(1, ...hist.map((h) => h.step));
    const live = hist.find((h) => h.id === S.liveId);
    // Stops inside one statement (kernel phases) share its step: spread them by simulated time.
    const times = new Map();
    for (const h of hist) {
      const t = times.get(h.step) || new Set();
      t.add(h.time);
      times.set(h.step, t);
    }
    const rank = (h) => [...times.get(h.step)].sort((a, b) => a - b).indexOf(h.time);
    const X = (s, h) => Math.min(x0 + w, x0 + (s / maxStep) * w + (h ? rank(h) * 12 : 0));
    const C = colors;
    const parts = [`<rect width="${W}" height="${H}" fill="${C.bg}"/>`, `<line x1="${x0}" y1="30" x2="${x0 + w}" y2="30" stroke="${C.border}"/>`,
      `<text x="4" y="34" fill="${C.dim}" font-size="10">step</text>`];
    for (let i = 1; i < hist.length; i++) {
      const a = hist[i - 1];
      const b = hist[i];
      if (a.process !== b.process && a.step === b.step) continue;
      const back = b.step < a.step;
      const xa = X(a.step, a);
      const xb = X(b.step, b);
      const ym = back ? 52 : 8;
      parts.push(`<path d="M${xa.toFixed(1)},30 Q${((xa + xb) / 2).toFixed(1)},${ym} ${xb.toFixed(1)},30" fill="none" stroke="${back ? C.migration : C.dim}" stroke-width="1.2"${back ? ' stroke-dasharray="4 2"' : ''} data-move="${back ? 'back' : 'forward'}"/>`);
    }
    for (const h of hist) {
      const x = X(h.step, h);
      const undone = live && h.step > live.step;
      const isLive = h.id === S.liveId;
      const shown = h.id === S.stop.id;
      const focus = h.id === timelineFocus;
      parts.push(`<g class="stop" data-stop="${h.id}" data-step="${h.step}"${isLive ? ' data-live="1"' : ''}${shown ? ' data-shown="1"' : ''}${undone ? ' data-undone="1"' : ''}>` +
        `<title>${esc(`step ${h.step}${h.line ? ` · line ${h.line}` : ''} · ${h.reason} · t = ${ns(h.time)}`)}</title>` +
        `<circle cx="${x.toFixed(1)}" cy="30" r="${isLive ? 7 : 5}" fill="${shown ? C.focus : undone ? C.bg : C.dim}" stroke="${isLive ? C.fg : C.dim}" stroke-width="${isLive ? 2 : 1}"${undone ? ' stroke-dasharray="2 2"' : ''}/>` +
        (focus ? `<circle cx="${x.toFixed(1)}" cy="30" r="10" fill="none" stroke="${C.focus}" stroke-width="1.5"/>` : '') +
        (shown || isLive ? `<text x="${(x > W - 60 ? x + 8 : x - 8).toFixed(1)}" y="${isLive ? 50 : 12}"${x > W - 60 ? ' text-anchor="end"' : ''} fill="${C.fg}" font-size="9">${isLive ? 'now ' : ''}${h.line ? 'L' + h.line : 'step ' + h.step}</text>` : '') + '</g>');
    }
    timelineEl.innerHTML = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="${esc(C.font)}">${parts.join('')}</svg>`;
    $('timeline-note').textContent = `${hist.length} stop(s) visited · the ring is the current stop, the filled dot the one shown; dashed arcs are step back / reverse continue`;
    $('go-live').hidden = S.stop.id === S.liveId;
    timelineEl.setAttribute('aria-activedescendant', '');
    return { stops: hist.map((h) => ({ id: h.id, step: h.step, line: h.line, reason: h.reason })), liveId: S.liveId, shownId: S.stop.id };
  }

  function showStop(id) {
    if (!S || !S.history.some((h) => h.id === id)) return;
    timelineFocus = id;
    vscode.postMessage({ type: 'showStop', id });
  }
  function timelineMove(d) {
    if (!S) return;
    const hist = S.history;
    let i = hist.findIndex((h) => h.id === (timelineFocus || S.stop.id));
    if (i < 0) i = hist.length - 1;
    i = Math.max(0, Math.min(hist.length - 1, i + d));
    showStop(hist[i].id);
  }

  // ---- hover, click, keyboard ----

  function hitTest(ev) {
    if (!geo || !S) return null;
    const svg = scene.querySelector('svg');
    if (!svg) return null;
    const r = svg.getBoundingClientRect();
    const x = ev.clientX - r.left;
    const y = ev.clientY - r.top;
    const li = geo.lanes.findIndex((l) => y >= l.y && y < l.y + l.h);
    if (li < 0 || x < geo.x0 || x > geo.x0 + geo.w) return null;
    return { lane: li, page: Math.floor(view.lo + (x - geo.x0) / geo.k) };
  }

  /** The page's full state in every lane, as text (the hover's first part). */
  function describe(v) {
    const p = S.picture;
    const m = mappingAt(p, v);
    const vma = p.vmas.find((x) => v >= x.start && v < x.end);
    const lines = [`${m ? `${m.name}[${v - m.start}]` : 'no mapping'} · ${hex(v * PAGE)}${vma ? ` · VMA ${vma.prot} ${vma.kind}${vma.thp === 'huge' ? ' THP' : ''}` : ' · unmapped'}`];
    const r = runAt(p.cpu.runs, v);
    const frameText = (run) => {
      const f = frameOfPage(run, v);
      return run.mixed || f === null ? `frames ${fmt(run.lo)}..${fmt(run.hi)} of ${run.memory} (summarised)` : `${run.memory} frame ${fmt(f)}`;
    };
    if (!vma) lines.push('CPU: no VMA here (a fault would be SIGSEGV)');
    else if (!r) lines.push('CPU pte: none (not faulted in yet)');
    else lines.push(`CPU pte: ${r.entry}${r.entry === 'present' ? (r.writable ? ' rw' : ' ro') : ''}${r.shared ? ', shared' : ''}${r.pinned ? ', pinned' : ''}${r.huge ? ', PMD THP' : ''}${r.exclusiveBy ? ` by ${r.exclusiveBy}` : ''} → ${r.zone === 'zero' ? 'the zero page' : frameText(r)}${r.mixed ? ' · bucket of mixed pages' : ''}`);
    for (const d of p.devices) {
      const dr = runAt(d.lane.runs, v);
      lines.push(`${d.name} pte: ${dr ? `${dr.access} ${dr.local ? 'local' : 'remote'} → ${frameText(dr)}` : 'none'}`);
    }
    return lines.join('\n');
  }

  function showTooltip(ev, hit) {
    const v = hit.page;
    let txt = describe(v);
    const live = S.stop.id === S.liveId;
    const key = `${S.stop.id}:${v}`;
    if (!live) txt += '\n(an earlier stop: `why` answers for the current stop only)';
    else if (whyCache.has(key)) txt += '\n\n' + whyCache.get(key).text;
    else {
      txt += '\n\nwhy: …';
      const reqId = ++whyReq;
      hover = { reqId, key, ev: { clientX: ev.clientX, clientY: ev.clientY }, page: v };
      clearTimeout(hoverTimer);
      hoverTimer = setTimeout(() => vscode.postMessage({ type: 'why', page: v, reqId }), 120);
    }
    tooltip.textContent = txt + '\nclick: select in Page Residency and show the statement that last changed it';
    tooltip.hidden = false;
    const x = Math.min(ev.clientX + 14, window.innerWidth - tooltip.offsetWidth - 8);
    const y = Math.min(ev.clientY + 14, window.innerHeight - tooltip.offsetHeight - 8);
    tooltip.style.left = `${Math.max(0, x)}px`;
    tooltip.style.top = `${Math.max(0, y)}px`;
  }

  let drag = null;
  scene.addEventListener('mousemove', (ev) => {
    if (drag && geo) {
      const dx = ev.clientX - drag.x;
      const span = drag.view.hi - drag.view.lo;
      view = clampView({ lo: drag.view.lo - dx / geo.k, hi: drag.view.lo - dx / geo.k + span }, S.picture);
      drag.moved = drag.moved || Math.abs(dx) > 3;
      interacting();
      schedule();
      return;
    }
    const hit = hitTest(ev);
    if (!hit) { tooltip.hidden = true; return; }
    showTooltip(ev, hit);
  });
  scene.addEventListener('mouseleave', () => { tooltip.hidden = true; });
  scene.addEventListener('mousedown', (ev) => {
    if (!S || ev.button !== 0) return;
    drag = { x: ev.clientX, view: { ...view }, moved: false };
  });
  window.addEventListener('mouseup', (ev) => {
    const d = drag;
    drag = null;
    if (!d) return;
    persist();
    if (d.moved) return;
    const hit = hitTest(ev);
    if (hit) select(hit.lane, hit.page);
  });
  scene.addEventListener('wheel', (ev) => {
    if (!S || !geo) return;
    ev.preventDefault();
    const svg = scene.querySelector('svg');
    const r = svg ? svg.getBoundingClientRect() : { left: 0 };
    const c = view.lo + (ev.clientX - r.left - geo.x0) / geo.k;
    if (ev.shiftKey) {
      const span = view.hi - view.lo;
      view = clampView({ lo: view.lo + (ev.deltaY / 500) * span, hi: view.lo + (ev.deltaY / 500) * span + span }, S.picture);
      interacting();
      schedule();
    } else zoomAt(ev.deltaY > 0 ? 1.25 : 0.8, c);
  }, { passive: false });

  function select(lane, page) {
    cursor = { lane, page };
    persist();
    schedule();
    const p = S.picture;
    if (S.stop.id === S.liveId && p.vmas.some((v) => page >= v.start && page < v.end)) vscode.postMessage({ type: 'select', page });
    say();
  }

  function say() {
    if (!S || !cursor) return;
    const lane = geo ? geo.lanes[cursor.lane] : null;
    announce.textContent = `${lane ? lane.title + ': ' : ''}${describe(cursor.page).replace(/\n/g, '. ')}`;
  }

  function ensureVisible() {
    const span = view.hi - view.lo;
    if (cursor.page < view.lo || cursor.page + 1 > view.hi) {
      view = clampView({ lo: cursor.page + 0.5 - span / 2, hi: cursor.page + 0.5 + span / 2 }, S.picture);
    }
  }

  scene.addEventListener('keydown', (ev) => {
    if (!S || !geo) return;
    const lanes = geo.lanes.length;
    const stepPages = Math.max(1, Math.round((view.hi - view.lo) / 64));
    let handled = true;
    switch (ev.key) {
      case 'ArrowLeft': cursor.page -= ev.shiftKey ? stepPages * 8 : stepPages; ensureVisible(); break;
      case 'ArrowRight': cursor.page += ev.shiftKey ? stepPages * 8 : stepPages; ensureVisible(); break;
      case 'ArrowUp': cursor.lane = Math.max(0, cursor.lane - 1); break;
      case 'ArrowDown': cursor.lane = Math.min(lanes - 1, cursor.lane + 1); break;
      case 'Home': cursor.page = S.picture.vmas.length ? S.picture.vmas[0].start : cursor.page; ensureVisible(); break;
      case 'End': cursor.page = S.picture.vmas.length ? S.picture.vmas[S.picture.vmas.length - 1].end - 1 : cursor.page; ensureVisible(); break;
      case '+': case '=': zoomAt(0.5, cursor.page + 0.5); break;
      case '-': case '_': zoomAt(2, cursor.page + 0.5); break;
      case 'f': case 'F': view = fitView(S.picture); break;
      case 'a': case 'A': view = { lo: S.picture.space.start, hi: S.picture.space.end }; break;
      case 'Enter': case ' ': select(cursor.lane, cursor.page); break;
      case '[': timelineMove(-1); break;
      case ']': timelineMove(1); break;
      case 'Escape': if (S.stop.id !== S.liveId) showStop(S.liveId); else highlight = null; break;
      default: handled = false;
    }
    if (!handled) return;
    ev.preventDefault();
    cursor.page = Math.max(S.picture.space.start, Math.min(S.picture.space.end - 1, cursor.page));
    persist();
    schedule();
    say();
  });

  timelineEl.addEventListener('click', (ev) => {
    const g = /** @type {Element} */ (ev.target).closest('[data-stop]');
    if (g) showStop(Number(g.getAttribute('data-stop')));
  });
  timelineEl.addEventListener('keydown', (ev) => {
    if (!S) return;
    const hist = S.history;
    let i = hist.findIndex((h) => h.id === (timelineFocus || S.stop.id));
    if (ev.key === 'ArrowLeft' || ev.key === 'ArrowRight') {
      i = Math.max(0, Math.min(hist.length - 1, (i < 0 ? hist.length - 1 : i) + (ev.key === 'ArrowLeft' ? -1 : 1)));
      timelineFocus = hist[i].id;
      const h = hist[i];
      announce.textContent = `stop ${i + 1} of ${hist.length}: step ${h.step}${h.line ? ` line ${h.line}` : ''}, ${h.reason}. Enter shows it.`;
      renderTimeline();
    } else if (ev.key === 'Enter' || ev.key === ' ') showStop(timelineFocus || S.stop.id);
    else if (ev.key === 'Escape') showStop(S.liveId);
    else return;
    ev.preventDefault();
  });
  $('go-live').addEventListener('click', () => S && showStop(S.liveId));

  processSel.addEventListener('change', () => vscode.postMessage({ type: 'process', name: processSel.value }));
  $('zoom-in').addEventListener('click', () => zoomAt(0.5));
  $('zoom-out').addEventListener('click', () => zoomAt(2));
  $('zoom-fit').addEventListener('click', () => { if (S) { view = fitView(S.picture); persist(); schedule(); } });
  $('zoom-all').addEventListener('click', () => { if (S) { view = { lo: S.picture.space.start, hi: S.picture.space.end }; persist(); schedule(); } });

  // ---- export ----

  function svgText() {
    const svg = scene.querySelector('svg');
    return svg ? '<?xml version="1.0" encoding="UTF-8"?>\n' + svg.outerHTML : '';
  }
  function pngData() {
    return new Promise((resolve, reject) => {
      const text = svgText();
      if (!text || !geo) return reject(new Error('nothing drawn'));
      const img = new Image();
      img.onload = () => {
        const scale = 2;
        const c = document.createElement('canvas');
        c.width = geo.W * scale;
        c.height = geo.H * scale;
        const g = c.getContext('2d');
        if (!g) return reject(new Error('no canvas'));
        g.scale(scale, scale);
        g.drawImage(img, 0, 0);
        resolve(c.toDataURL('image/png'));
      };
      img.onerror = () => reject(new Error('the SVG did not load as an image'));
      img.src = 'data:image/svg+xml;base64,' + btoa(unescape(encodeURIComponent(text)));
    });
  }
  $('export-svg').addEventListener('click', () => vscode.postMessage({ type: 'export', format: 'svg', data: svgText() }));
  $('export-png').addEventListener('click', () => { pngData().then((data) => vscode.postMessage({ type: 'export', format: 'png', data }), () => undefined); });

  // ---- messages, theme, measurement ----

  const themeObserver = new MutationObserver(() => { colors = readColors(); schedule(); });
  themeObserver.observe(document.body, { attributes: true, attributeFilter: ['class'] });
  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(schedule, 100);
  });

  window.addEventListener('message', (event) => {
    const msg = event.data;
    if (msg.type === 'state') {
      const t0 = performance.now();
      const prevProcess = S ? S.picture.process : null;
      S = msg.state;
      if (S) colors = readColors();
      // a new layout (another process, a session with other mappings, mmap / munmap): fit it
      const key = S && S.picture.vmas.length ? `${S.picture.process}:${S.picture.vmas[0].start}:${S.picture.vmas[S.picture.vmas.length - 1].end}` : '';
      if (S && (key !== fitKey || (prevProcess !== null && prevProcess !== S.picture.process))) view = null;
      fitKey = key;
      if (S) timelineFocus = S.stop.id;
      render();
      const t1 = performance.now();
      if (S) {
        // After the frame is painted: the figure the issue asks for (stop data → picture on screen),
        // and the extension is told which stop is on screen (the integration run times step → drawn).
        const shown = S;
        requestAnimationFrame(() => setTimeout(() => {
          const runs = shown.picture.cpu.runs.length + shown.picture.devices.reduce((n, d) => n + d.lane.runs.length, 0);
          const resident = shown.picture.cpu.runs.reduce((n, r) => n + r.end - r.start, 0);
          lastOpen = { renderMs: t1 - t0, paintedMs: performance.now() - t0, runs, resident };
          vscode.postMessage({ type: 'drawn', id: shown.stop.id, paintedMs: lastOpen.paintedMs });
        }, 0));
      }
    } else if (msg.type === 'why') {
      if (whyCache.size > 500) whyCache.clear(); // answers are per stop and page: keep a few
      if (S) whyCache.set(`${S.stop.id}:${hover && hover.reqId === msg.reqId ? hover.page : -1}`, { text: msg.text, line: msg.line });
      if (hover && hover.reqId === msg.reqId && !tooltip.hidden) showTooltip(hover.ev, { page: hover.page });
    } else if (msg.type === 'highlight') {
      highlight = { start: msg.start, end: msg.end };
      if (S) {
        const span = Math.max(MIN_SPAN, (msg.end - msg.start) * 1.5);
        const c = (msg.start + msg.end) / 2;
        view = clampView({ lo: c - span / 2, hi: c + span / 2 }, S.picture);
        cursor = { lane: 1, page: msg.start };
      }
      schedule();
    }
  });
  let lastOpen = null;

  /**
   * Zoom in and out around the mappings' centre, one step per animation frame; the times to
   * redraw and between frames (the e2e test runs it at a million pages and logs the figures).
   */
  function bench(steps = 60) {
    return new Promise((resolve) => {
      if (!S) return resolve(null);
      const c = (fitView(S.picture).lo + fitView(S.picture).hi) / 2;
      const renders = [];
      const frames = [];
      let last = performance.now();
      let i = 0;
      const tick = () => {
        const now = performance.now();
        if (i > 0) frames.push(now - last);
        last = now;
        if (i >= steps) {
          const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
          // and the frame the view settles on: everything drawn, links included
          clearTimeout(settleTimer);
          moving = false;
          const t1 = performance.now();
          render();
          const settledMs = performance.now() - t1;
          const res = { steps, renderMedianMs: med(renders), renderMaxMs: Math.max(...renders), frameMedianMs: med(frames), frameMaxMs: Math.max(...frames), settledMs, open: lastOpen };
          return resolve(res);
        }
        const factor = i < steps / 2 ? 0.7 : 1 / 0.7;
        const span = view.hi - view.lo;
        view = clampView({ lo: c - (span * factor) / 2, hi: c + (span * factor) / 2 }, S.picture);
        interacting();
        const t0 = performance.now();
        render();
        renders.push(performance.now() - t0);
        i++;
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
  }

  /** For tests and scripts: what was drawn, the export, the benchmark. */
  // eslint-disable-next-line no-undef
  /** @type {any} */ (window).hmmMap = {
    model: () => drawn,
    exportSvg: svgText,
    exportPng: pngData,
    bench,
    lastOpen: () => lastOpen,
    zoom: (lo, hi) => { if (S) { view = clampView({ lo, hi }, S.picture); render(); } return drawn; },
    fit: () => { if (S) { view = fitView(S.picture); render(); } return drawn; },
    describe: (v) => (S ? describe(v) : ''),
  };

  render();
  vscode.postMessage({ type: 'ready' });
})();
