// Layer: extension (src/extension): UI only. Imports protocol types, ./pages, ./state (no vscode
// at runtime). What the address-space map webview is sent: JSON only, positions in pages
// relative to each mapping (media/map.js draws it).

import type { ResidencyMapping, ResidencyRun } from '../adapter/protocol';
import { firstPage, locate, parseRange } from './pages';
import type { ResidencyKind } from './settings';
import type { HmmState } from './state';

/** A run as the map draws it: the adapter's residency run, positions relative to the mapping. */
export type MapRun = ResidencyRun;

export interface MapMapping {
  name: string;
  address: string;
  firstPage: number;
  pages: number;
  /** Runs after the last one were not fetched (more than maxCells runs). */
  truncated: boolean;
  runs: MapRun[];
}

export interface MapOverlay {
  mapping: string;
  start: number;
  end: number;
  label: string;
  /** The device table it concerns (a migration's device, the invalidated mirror). */
  device: string;
}

export interface MapState {
  step: number;
  reason: string;
  line?: number;
  process: string;
  processes: string[];
  devices: string[];
  pageSize: number;
  maxCells: number;
  mappings: MapMapping[];
  migrations: MapOverlay[];
  lastInvalidation?: MapOverlay & { seq: number; event: string; action: string };
  /** CSS colours per residency kind from the settings ('' = theme colour). */
  colors: Record<ResidencyKind, string>;
}

export function buildMapState(
  state: HmmState, process: string, mappings: readonly ResidencyMapping[], maxCells: number, colors: Record<ResidencyKind, string>,
): MapState {
  const devices = new Set<string>();
  for (const m of mappings) for (const r of m.runs) for (const d of Object.keys(r.mirrors)) devices.add(d);
  for (const m of state.migrations) devices.add(m.device);
  const migrations: MapOverlay[] = [];
  for (const m of state.migrations) {
    if (m.process !== process) continue;
    const at = locate(mappings, m.start, m.end);
    if (at === undefined) continue;
    migrations.push({
      mapping: at.mapping.name, start: at.start, end: at.end, device: m.device,
      label: `migrate_vma ${m.direction} ${m.range} (${m.device}): ${m.phase}, cpages ${m.cpages}${m.skipped.length ? `, ${m.skipped.length} skipped run(s)` : ''}`,
    });
  }
  let lastInvalidation: MapState['lastInvalidation'];
  const callbacks = state.notifiers.filter((c) => c.process === process);
  const last = callbacks.filter((c) => c.action === 'invalidated').pop() ?? callbacks.pop();
  if (last !== undefined) {
    const at = parseRange(last.range, mappings);
    if (at !== undefined) {
      lastInvalidation = {
        mapping: at.mapping.name, start: at.start, end: at.end, device: last.mirror, seq: last.seq, event: last.event, action: last.action,
        label: `#${last.seq} ${last.event} ${last.range} → ${last.mirror}: ${last.action} (owner ${last.owner ?? 'none'})`,
      };
    }
  }
  return {
    step: state.stop.step,
    reason: state.stop.reason,
    ...(state.stop.line !== undefined ? { line: state.stop.line } : {}),
    process,
    processes: state.processes.map((p) => p.name),
    devices: [...devices].sort(),
    pageSize: 4096,
    maxCells,
    mappings: mappings.map((m) => ({
      name: m.name, address: m.address, firstPage: firstPage(m), pages: m.pages, truncated: m.truncated,
      runs: m.runs.map((r) => ({ ...r, mirrors: { ...r.mirrors } })),
    })),
    migrations,
    ...(lastInvalidation !== undefined ? { lastInvalidation } : {}),
    colors,
  };
}
