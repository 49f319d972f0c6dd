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

/** What setting a watch answered (a breakpoint of the Breakpoints view). */
export interface WatchResult {
  readonly id: number;
  readonly verified: boolean;
  readonly label: string;
  readonly message?: string;
}

/** A watch whose mapping the script has not made yet. */
interface PendingWatch {
  readonly id: number;
  readonly source: WatchSource;
  readonly text: string;
  readonly mmId: number;
}

type Resolve = (text: string) => ResolvedRange | string;

export class Watches {
  private list: DataWatch[] = [];
  private pending: PendingWatch[] = [];

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

  /**
   * Replace the watches of one source with `texts` (in process `mm`). A text already watched
   * keeps its watch (and id); one whose mapping the script has not made yet waits for it
   * (startPending); one that can never resolve comes back with the reason.
   */
  set(source: WatchSource, texts: readonly string[], sim: Simulator, mm: Mm, resolve: Resolve): WatchResult[] {
    const kept = this.clear(source);
    this.pending = this.pending.filter((p) => p.source !== source);
    return texts.map((text) => {
      const old = kept.find((w) => w.label === text.trim());
      if (old !== undefined && !this.list.includes(old)) {
        this.list.push(old);
        return { id: old.id, verified: true, label: old.label };
      }
      const r = resolve(text);
      if (typeof r !== 'string') {
        const w = this.add(sim, r, mm, source);
        return { id: w.id, verified: true, label: w.label };
      }
      if (r.endsWith('is not mapped yet')) {
        const p: PendingWatch = { id: this.newId(), source, text: text.trim(), mmId: mm.id };
        this.pending.push(p);
        return { id: p.id, verified: false, label: p.text, message: `${r}: watched from when it is` };
      }
      return { id: this.newId(), verified: false, label: text.trim(), message: r };
    });
  }

  /** Remove every watch of `source`, waiting ones included; returns their names. */
  clearNames(source: WatchSource): string[] {
    const names = [...this.clear(source).map((w) => w.label), ...this.pending.filter((p) => p.source === source).map((p) => p.text)];
    this.pending = this.pending.filter((p) => p.source !== source);
    return names;
  }

  /** After a statement: the waiting watches whose mapping now exists start (returned). */
  startPending(sim: Simulator, resolve: Resolve): DataWatch[] {
    const started: DataWatch[] = [];
    if (this.pending.length === 0) return started;
    this.pending = this.pending.filter((p) => {
      const r = resolve(p.text);
      const mm = sim.mms.find((m) => m.id === p.mmId);
      if (typeof r === 'string' || mm === undefined) return true;
      started.push(this.add(sim, r, mm, p.source, p.id));
      return false;
    });
    return started;
  }

  remove(id: number): boolean {
    const n = this.list.length;
    this.list = this.list.filter((w) => w.id !== id);
    return this.list.length < n;
  }

  /** Remove the watches of one source (all when undefined); returns them. */
  private clear(source?: WatchSource): DataWatch[] {
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
