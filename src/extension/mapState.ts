// What the address-space map webview is sent (JSON only, media/map.js draws it), and the
// pictures of earlier stops kept so the timeline can show them again. No vscode at runtime.

import type { Picture } from '../adapter/protocol';
import type { ResidencyKind } from './settings';

/** One stop the session went through, in the order they were visited. */
export interface StopSummary {
  readonly id: number;
  /** Statements completed (goes down after a step back). */
  readonly step: number;
  readonly line?: number;
  readonly reason: string;
  /** Simulated time, ns. */
  readonly time: number;
  readonly process: string;
}

/** A process's picture, with the CPU page tables of the other live processes (fork: the frames they share). */
export interface MapPicture extends Picture {
  readonly others: { readonly process: string; readonly cpu: Picture['cpu'] }[];
}

export interface MapState {
  /** The stop whose picture this is. */
  readonly stop: StopSummary;
  /** The stop the debugger is at now (the picture shown may be an earlier one). */
  readonly liveId: number;
  readonly picture: MapPicture;
  /** The picture of the stop visited before this one (same process): changes are marked against it. */
  readonly previous?: MapPicture;
  readonly history: readonly StopSummary[];
  /** CSS colours per residency kind from the settings ('' = theme colour). */
  readonly colors: Record<ResidencyKind, string>;
  /** The script's file name, for the exported picture's title. */
  readonly program?: string;
}

/** Runs a picture holds (its size, for the history's budget). */
export function pictureRuns(p: MapPicture): number {
  return p.cpu.runs.length + p.devices.reduce((n, d) => n + d.lane.runs.length, 0) + p.vmas.length + p.others.reduce((n, o) => n + o.cpu.runs.length, 0);
}

/**
 * Pictures of the stops visited, oldest first, bounded in count and in runs (a million-page
 * stop is a few runs; a fragmented one is summarised by the adapter, so the budget holds a
 * useful number of stops either way). The oldest are dropped first.
 */
export class PictureHistory {
  private entries: { summary: StopSummary; picture: MapPicture }[] = [];
  private nextId = 1;
  private runs = 0;
  private session: string | undefined;

  constructor(private readonly maxEntries = 200, private readonly maxRuns = 2_000_000) {}

  /**
   * Records a stop's picture; a new session starts a new history. `again`: the same stop fetched
   * again (a setting changed): its picture is replaced. (Stops inside one statement can agree in
   * step, line and simulated time, so only the caller knows.) Returns its summary.
   */
  push(session: string, stop: Omit<StopSummary, 'id'>, picture: MapPicture, again = false): StopSummary {
    if (session !== this.session) this.clear(session);
    const last = this.entries[this.entries.length - 1];
    if (again && last !== undefined && last.summary.process === stop.process) {
      this.runs += pictureRuns(picture) - pictureRuns(last.picture);
      last.picture = picture;
      return last.summary;
    }
    const summary: StopSummary = { id: this.nextId++, ...stop };
    this.entries.push({ summary, picture });
    this.runs += pictureRuns(picture);
    while (this.entries.length > 1 && (this.entries.length > this.maxEntries || this.runs > this.maxRuns)) {
      this.runs -= pictureRuns(this.entries.shift()!.picture);
    }
    return summary;
  }

  clear(session?: string): void {
    this.entries = [];
    this.runs = 0;
    this.session = session;
  }

  get(id: number): { summary: StopSummary; picture: MapPicture; previous?: MapPicture } | undefined {
    const i = this.entries.findIndex((e) => e.summary.id === id);
    if (i < 0) return undefined;
    const e = this.entries[i]!;
    for (let j = i - 1; j >= 0; j--) {
      if (this.entries[j]!.summary.process === e.summary.process) return { ...e, previous: this.entries[j]!.picture };
    }
    return e;
  }

  list(): StopSummary[] {
    return this.entries.map((e) => e.summary);
  }
}
