// Layer: benchmark (bench/). "VS Code stays instant at any size": figures the VS Code
// integration run records in artifacts/vscode-metrics.json (test/integration/debug.itest.ts, each
// pair measured in the same run; the bench cannot start a workbench itself), among them the map's:
// a step to its picture drawn on screen; and the adapter's side measured here: answering a stop
// and the map's data (hmm/picture) at 8 and at 1M resident pages.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { STOPS, stopAnswers } from './adapter';
import { type Check, figure, fmt, heading, note, ratio, type Scratch, verdict } from './measure';

type Metrics = Record<string, number | undefined>;

function readMetrics(file: string): Metrics | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Metrics;
  } catch {
    return undefined;
  }
}

/** A figure against its baseline from the same integration run, and its check (within 2×). */
function pair(m: Metrics | undefined, name: string, key: string, baseName: string, baseKey: string): Check {
  const v = m?.[key];
  const b = m?.[baseKey];
  if (v === undefined || b === undefined) {
    figure(name, 'n/a', `${baseName}: n/a`, '');
    return { ok: false, what: `${name}: n/a (npm run test:vscode records it)` };
  }
  figure(name, `${fmt(v, 0)} ms`, `${baseName}: ${fmt(b, 0)} ms`, ratio(v, b));
  return { ok: v <= 2 * b, what: `${name.trim()} ${ratio(v, b)} (≤ 2×)` };
}

/**
 * Our activation against an empty extension's (copies of test/fixtures/empty-extension), all
 * development extensions of the same code-server window, activated one after the other by the
 * integration run, the baseline the mean of the copies just before and just after ours; the
 * figures are VS Code's own performance marks (test/integration/activation.ts).
 */
function activation(m: Metrics | undefined): Check {
  const ours = m?.['activationMs'];
  const empty = m?.['emptyActivationMs'];
  if (m === undefined || ours === undefined || empty === undefined) {
    figure('extension activation', 'n/a', 'empty extension: n/a', '');
    return { ok: false, what: 'activation: n/a (npm run test:vscode records it)' };
  }
  const v = (k: string): number => m[k] ?? NaN;
  figure('extension activation (VS Code\'s marks)', `${fmt(ours, 0)} ms`, `empty extension: ${fmt(empty, 0)} ms`, ratio(ours, empty));
  // What Developer: Show Running Extensions shows: code loading + activate().
  const own = v('activationCodeLoadingMs') + v('activationCallMs');
  const emptyOwn = v('emptyActivationCodeLoadingMs') + v('emptyActivationCallMs');
  note(`the empty extension: the mean of one activated just before ours (${fmt(v('emptyActivationBeforeMs'), 0)} ms) and one just after (${fmt(v('emptyActivationAfterMs'), 0)} ms)`);
  note(`of which code loading + activate() (Show Running Extensions' figure): ours ${fmt(v('activationCodeLoadingMs'), 0)} + ${fmt(v('activationCallMs'), 0)} = ${fmt(own, 0)} ms, the empty extension's ${fmt(emptyOwn, 0)} ms; the rest of each is VS Code making the extension's context`);
  note(`activate() as its caller awaits it: ours ${fmt(v('activationAwaitedMs'))} ms, the empty extension's ${fmt(v('emptyActivationAwaitedMs'))} ms${m['activationHostQuiet'] === 0 ? '; the extension host was still busy with start-up activations' : ''}`);
  return { ok: ours <= 2 * empty, what: `activation ${ratio(ours, empty)} the empty extension's (≤ 2×)` };
}

export async function vscodeAtAnySize(scratch: Scratch): Promise<void> {
  heading('VS Code stays instant at any size', 'stopped → every view refreshed at 1M resident pages within 2× of 8 pages; start to first stop at 1M pages within 2× of a 1-page script; activation within 2× of an empty extension\'s; the map\'s picture likewise');
  const root = path.resolve(__dirname, '..');
  const m = readMetrics(path.join(root, 'artifacts/vscode-metrics.json'));
  if (m === undefined) note('no artifacts/vscode-metrics.json: run npm run test:vscode (the integration run records the VS Code figures)');
  else note(`VS Code figures recorded by the integration run at ${new Date(m['measuredAt'] ?? 0).toISOString()}`);
  const checks = [
    pair(m, 'step → views refreshed, 1M resident pages', 'viewsRefreshedAt1MPagesMs', '8 pages', 'viewsRefreshedAt8PagesMs'),
    pair(m, 'start → first stop, 1M pages', 'firstStopAt1MPagesMs', '1 page', 'firstStopAt1PageMs'),
    pair(m, 'stopped → map picture painted, 1M resident pages', 'mapDrawnAt1MPagesMs', '8 pages', 'mapDrawnAt8PagesMs'),
  ];
  if (m?.['mapDrawnAt1MPagesMs'] !== undefined) {
    const v = (k: string): string => fmt(m[k] ?? NaN, 0);
    note(`the map: medians of ${m['mapDrawnSteps'] ?? '?'} steps over a 2-page migrate with the map open, from the adapter's stopped event to the map's page saying it painted that stop's picture`);
    note(`  from the step request (1M / 8 pages): stopped ${v('mapStoppedAt1MPagesMs')} / ${v('mapStoppedAt8PagesMs')} ms, the state posted to the page ${v('mapPostedAt1MPagesMs')} / ${v('mapPostedAt8PagesMs')} ms, painted ${v('mapStepDrawnAt1MPagesMs')} / ${v('mapStepDrawnAt8PagesMs')} ms; the page's own arrival → painted ${v('mapPaintedAt1MPagesMs')} / ${v('mapPaintedAt8PagesMs')} ms`);
  }
  checks.push(activation(m));
  const adapter = await stopAnswers(scratch);
  figure('adapter: answer a stop (stack, variables, views)', `${fmt(adapter.stop[1])} ms`, `8 pages: ${fmt(adapter.stop[0])} ms`, ratio(adapter.stop[1], adapter.stop[0]));
  figure('adapter: hmm/picture (the map\'s data)', `${fmt(adapter.picture[1])} ms`, `8 pages: ${fmt(adapter.picture[0])} ms`, ratio(adapter.picture[1], adapter.picture[0]));
  note(`medians of ${STOPS - 1} stops in a loop, each answer the first of its stop; the first stop after the pages were made: answers ${fmt(adapter.firstStop[1])} ms at 1M (8 pages: ${fmt(adapter.firstStop[0])} ms), picture ${fmt(adapter.firstPicture[1])} ms (8 pages: ${fmt(adapter.firstPicture[0])} ms)`);
  note('the adapter\'s figures are parts of the stop → refreshed and stop → drawn figures above, which are judged: what the user waits for');
  const map = readMetrics(path.join(root, 'artifacts/map-metrics.json'));
  if (map?.['openPaintedMs'] !== undefined) {
    note(`map in Chromium at 1M pages (e2e run): drawn ${fmt(map['openPaintedMs'])} ms after its data arrived, zoom frame ${fmt(map['zoomRenderMedianMs'] ?? NaN)} ms`);
  }
  verdict(checks);
}
