// Typed access to the `hmm.*` settings (contributes.configuration in package.json).

import * as vscode from 'vscode';

/** Residency kinds that have a colour (tree icons use theme colours, the map these settings). */
export const RESIDENCY_KINDS = ['system', 'device', 'zero', 'empty', 'exclusive', 'unmapped'] as const;
export type ResidencyKind = (typeof RESIDENCY_KINDS)[number];

const section = (): vscode.WorkspaceConfiguration => vscode.workspace.getConfiguration('hmm');

function positive(key: string, fallback: number, max: number): number {
  const v = section().get<number>(key, fallback);
  return Number.isFinite(v) && v >= 1 ? Math.min(Math.floor(v), max) : fallback;
}

export const settings = {
  /** Run the adapter as `node dist/adapter.js` instead of inside the extension host. */
  adapterProcess: (): boolean => section().get<boolean>('debug.adapterProcess', false),
  /** Runs fetched per mapping at a stop before a "more runs" node. */
  maxRunsPerMapping: (): number => positive('views.maxRunsPerMapping', 1000, 65536),
  /** Newest notifier callbacks listed in the Notifier Callbacks view. */
  maxNotifierCallbacks: (): number => positive('views.maxNotifierCallbacks', 500, 10000),
  /** Runs per page-table lane the map fetches before the adapter summarises the lane in buckets. */
  mapMaxRunsPerLane: (): number => Math.max(16, positive('map.maxRunsPerLane', 20000, 200000)),
  /** Milliseconds after the last keystroke before a .hmm file is checked again. */
  diagnosticsDelay: (): number => positive('diagnostics.delay', 250, 5000),
  /** CSS colours of the map per residency kind; '' means the theme colour. */
  colors: (): Record<ResidencyKind, string> => {
    const out = {} as Record<ResidencyKind, string>;
    for (const k of RESIDENCY_KINDS) out[k] = section().get<string>(`colors.${k}`, '').trim();
    return out;
  },
};

/** The theme colour id contributed for a residency kind (package.json contributes.colors). */
export function residencyColorId(kind: string): string {
  return `hmmDebug.residency.${(RESIDENCY_KINDS as readonly string[]).includes(kind) ? kind : 'unmapped'}`;
}
