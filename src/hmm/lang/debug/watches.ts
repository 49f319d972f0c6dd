// Page watches (data breakpoints): stop when the residency or the device mappings of a page
// range change, naming the old and new state.

import type { Mm } from '../../mm';
import type { Simulator } from '../../simulator';
import { residencyRuns, watchedState } from '../residency';
import type { ResolvedRange } from '../ranges';
import type { StopInfo } from './stop';

/**
 * Who set a watch: the Variables view ("Break on Value Change": a data breakpoint) or a name in
 * the Breakpoints view (a function breakpoint such as `a[3]`, which the REPL's `watch` and the
 * Page Residency action create too). Each kind is replaced as a whole by its own request.
 */
export type WatchSource = 'data' | 'function';

export interface DataWatch {
  readonly id: number;
  readonly source: WatchSource;
  readonly label: string;
  readonly mmId: number;
  readonly start: number;
  readonly end: number;
  fingerprint: string;
  /** The watched pages' state as a user reads it, for `old → new` when it changes. */
  state: string;
}

export class Watches {
  private list: DataWatch[] = [];

  constructor(private readonly newId: () => number) {}

  get all(): readonly DataWatch[] {
    return this.list;
  }

  add(sim: Simulator, r: ResolvedRange, mm: Mm, source: WatchSource = 'function', id = this.newId()): DataWatch {
    const w: DataWatch = { id, source, label: r.label, mmId: mm.id, start: r.start, end: r.end, fingerprint: '', state: '' };
    w.fingerprint = fingerprint(sim, w);
    w.state = stateOf(sim, w);
    this.list.push(w);
    return w;
  }

  /** Put back a watch taken out by clear (same id, same state). */
  restore(w: DataWatch): void {
    this.list.push(w);
  }

  remove(id: number): boolean {
    const n = this.list.length;
    this.list = this.list.filter((w) => w.id !== id);
    return this.list.length < n;
  }

  /** Remove the watches of one source (all when undefined); returns them. */
  clear(source?: WatchSource): DataWatch[] {
    const gone = this.list.filter((w) => source === undefined || w.source === source);
    this.list = this.list.filter((w) => !gone.includes(w));
    return gone;
  }

  /** A fresh machine: every watch takes its first look again. */
  forget(): void {
    for (const w of this.list) w.fingerprint = '';
  }

  /** After a statement: the first watch whose pages changed (the statement's events touched them). */
  check(sim: Simulator): StopInfo | undefined {
    if (this.list.length === 0) return undefined;
    const evs = sim.log.ofStep(sim.step);
    for (const w of this.list) {
      if (!evs.some((e) => e.end > w.start && e.start < w.end) && w.fingerprint !== '') continue;
      const fp = fingerprint(sim, w);
      if (fp === w.fingerprint) continue;
      const first = w.fingerprint === '';
      const before = w.state;
      w.fingerprint = fp;
      w.state = stateOf(sim, w);
      if (!first) return { reason: 'data breakpoint', description: `${w.label}: ${before} → ${w.state}`, breakpointIds: [w.id] };
    }
    return undefined;
  }
}

/** The watched pages' state as a user reads it (a few runs at most). */
function stateOf(sim: Simulator, w: DataWatch): string {
  const mm = sim.mms.find((m) => m.id === w.mmId);
  return mm === undefined ? 'gone (its process exited)' : watchedState(sim, mm, w.start, w.end);
}

/**
 * What a watch compares: a hash of the range's residency runs (walked a bounded batch at a
 * time over populated page tables only, so a terabyte mapping costs what its pages cost).
 */
function fingerprint(sim: Simulator, w: DataWatch): string {
  const mm = sim.mms.find((m) => m.id === w.mmId);
  if (mm === undefined) return 'gone';
  // FNV-1a over the runs' bounds and what each run reads as; two 32-bit lanes.
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  const mix = (text: string): void => {
    for (let i = 0; i < text.length; i++) {
      h1 = Math.imul(h1 ^ text.charCodeAt(i), 0x01000193);
      h2 = Math.imul(h2 ^ text.charCodeAt(i), 0x5bd1e995);
    }
  };
  let prev = '';
  for (let v = w.start; v < w.end;) {
    const runs = residencyRuns(sim, mm, v, w.end, 4096);
    if (runs.length === 0) break;
    for (const r of runs) {
      const st = r.state;
      let text = `${st.kind}${st.device ?? ''}${st.writable ? 'w' : ''}`;
      for (const d of sim.devices) text += sim.mirrorMapping(mm, d, r.start)[0];
      // Runs split finer than what a watch compares: neighbours that read the same are one.
      if (text !== prev) mix(`${r.start}:${text};`);
      prev = text;
    }
    v = runs[runs.length - 1]!.end;
  }
  mix(`${w.end}`);
  return `${(h1 >>> 0).toString(16)}${(h2 >>> 0).toString(16)}`;
}
