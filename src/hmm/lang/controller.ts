// Execution control for a debugger: line breakpoints (conditions, hit counts, logpoints), event
// breakpoints on what the simulator does (device faults, CPU faults on device pages, skipped
// migrations, notifier invalidations, failures, invariant violations), data breakpoints on page
// residency, stepping through statements and into kernel phases, pause, and reverse execution
// that really rewinds state: checkpoints of the whole machine plus deterministic replay.

import { LINUX_PROFILES, type LinuxVersion } from '../profile';
import { MMU_NOTIFY_NAMES } from '../constants';
import { JOB_ACTION_FRAME } from '../gpu';
import type { SimEvent } from '../events';
import type { Mm } from '../mm';
import { SimError, Simulator, type SimState } from '../simulator';
import { drain, PREEMPT, type Step } from '../step';
import type { Diagnostic, Script, Stmt } from './ast';
import { Budget, type Limits } from './budget';
import { type InterpreterState, Interpreter, type RuntimeError, type StatementOutcome } from './interpreter';
import { residencyRuns } from './residency';
import { watchedState } from './residency';
import { diagnose } from './runner';

export type EventFilterId = 'deviceFault' | 'cpuFaultOnDevice' | 'migrationSkip' | 'notifier' | 'failure' | 'invariant';

export const EVENT_FILTERS: readonly { id: EventFilterId; label: string; description: string; conditionDescription: string; default: boolean }[] = [
  { id: 'deviceFault', label: 'Device fault', description: 'A device touched a page its page table does not map', conditionDescription: 'e.g. gpu0 a[0..4] write', default: false },
  { id: 'cpuFaultOnDevice', label: 'CPU fault on a device page', description: 'The CPU touched a device-private page (migrate_to_ram)', conditionDescription: 'e.g. gpu0 a[3] read', default: false },
  { id: 'migrationSkip', label: 'Migration skipped a page', description: 'migrate_vma left a page behind (pinned, shared, other owner, …)', conditionDescription: 'e.g. gpu0 a', default: false },
  { id: 'notifier', label: 'Notifier invalidation', description: "A mirror's interval notifier invalidated a range", conditionDescription: 'e.g. CLEAR gpu0 a[0..8]', default: false },
  { id: 'failure', label: 'Failed operation or expectation', description: 'A runtime error: a failed device operation, expect, or SIGSEGV', conditionDescription: '', default: true },
  { id: 'invariant', label: 'Invariant violation', description: 'The simulator caught itself breaking an invariant (a bug report)', conditionDescription: '', default: true },
];

/**
 * What an event breakpoint's condition narrows to: device, page range, access, event kind. The
 * range stays text (`a[2..6]`) until an event fires: a condition may name a mapping that the
 * script makes later, or makes again with another size.
 */
export interface EventCondition {
  readonly text: string;
  device?: string;
  range?: string;
  access?: 'read' | 'write';
  event?: string;
  /** Why it can never match (a name the script does not declare, …): the filter stays on, the user is told. */
  never?: string;
}

/** A filter's label (`Device fault`), or the id when unknown. */
export function filterLabel(id: string): string {
  return EVENT_FILTERS.find((f) => f.id === id)?.label ?? id;
}

export interface LineBreakpoint {
  readonly id: number;
  /** The line asked for and the statement line it was moved to. */
  readonly requestedLine: number;
  readonly line: number;
  readonly verified: boolean;
  readonly message?: string;
  readonly condition?: string;
  readonly hitCondition?: string;
  readonly logMessage?: string;
  hits: number;
}

export interface DataWatch {
  readonly id: number;
  readonly label: string;
  readonly mmId: number;
  readonly start: number;
  readonly end: number;
  fingerprint: string;
  /** The watched pages' state as a user reads it, for `old → new` when it changes. */
  state: string;
}

export type StopReason = 'entry' | 'step' | 'breakpoint' | 'exception' | 'pause' | 'data breakpoint' | 'goto';

export interface StopInfo {
  readonly reason: StopReason;
  readonly description: string;
  readonly breakpointIds?: number[];
  /** The simulator event that stopped us (event breakpoints). */
  readonly event?: SimEvent;
  readonly filter?: EventFilterId;
  /** The pages of the occurrence that stopped (a coalesced event covers more). */
  readonly pages?: { readonly start: number; readonly end: number };
  readonly error?: RuntimeError;
}

export type RunResult =
  | { readonly kind: 'stopped'; readonly stop: StopInfo }
  | { readonly kind: 'ended'; readonly error?: RuntimeError };

/** Where execution is: statements completed, and kernel frames entered in the next one. */
export interface Position {
  readonly done: number;
  readonly phase: number;
}

type Mode =
  | { kind: 'continue' }
  /** Step one GPU job: to its next action (over) or its next kernel frame (into), or its end. */
  | { kind: 'job'; job: number; into: boolean }
  | { kind: 'over'; depth: number; kdepth: number }
  | { kind: 'in' }
  | { kind: 'out'; depth: number; kdepth: number };

interface Checkpoint {
  readonly done: number;
  readonly sim: SimState;
  readonly interp: InterpreterState;
  readonly bytes: number;
  /** How many of the debugger's memory writes the state holds. */
  readonly writes: number;
}

/** Bytes written through the debugger (writeMemory) while stopped before statement `done`+1. */
interface MemoryWrite {
  readonly done: number;
  readonly mmId: number;
  readonly addr: number;
  readonly data: Uint8Array;
}

/** Past this much memory in checkpoints, they are thinned (a big machine gets fewer). */
const CHECKPOINT_BUDGET_BYTES = 512 * 2 ** 20;

/** Checkpoint spacing starts here and doubles whenever the list is thinned. */
const FIRST_CHECKPOINT_INTERVAL = 32;
const MAX_CHECKPOINTS = 64;
/** How long one slice of a run holds the event loop before letting requests (pause) in. */
const SLICE_MS = 20;

export interface ControllerHost {
  /** Logpoint output and `print` text. */
  output(text: string, line: number | undefined): void;
  /** Something the user should know that is not an error: a condition that cannot match. */
  warning?(text: string): void;
}

export class ScriptController {
  sim!: Simulator;
  interp!: Interpreter;
  readonly script: Script;
  readonly diagnostics: Diagnostic[];
  private current: Step<StatementOutcome> | undefined;
  private phase = 0;
  private lineBps: LineBreakpoint[] = [];
  /** Each filter that is on, with its conditions: it stops when any matches (none: always). */
  private filters = new Map<EventFilterId, EventCondition[]>();
  /** Conditions already warned about at run time (a range outside its mapping), once each. */
  private readonly warned = new Set<string>();
  private watches: DataWatch[] = [];
  private nextId = 1;
  private checkpoints: Checkpoint[] = [];
  /**
   * The debugger's memory writes, in position order: part of the history, so stepping back
   * before one undoes it and replaying past its position redoes it.
   */
  private memoryWrites: MemoryWrite[] = [];
  /** How many of memoryWrites the current state holds. */
  private writesApplied = 0;
  private checkpointInterval = FIRST_CHECKPOINT_INTERVAL;
  private pendingStop: StopInfo | undefined;
  private pauseRequested = false;
  private replaying = false;
  /** A stop before statement N must not fire again when resuming at N. */
  private resumeFrom: Position | undefined;
  ended = false;
  endError: RuntimeError | undefined;
  /** Launch option: the density prefetcher (applied at every reset). */
  prefetcher = true;
  /** Launch options: time and memory one continue or step may use (see budget.ts). */
  limits: Limits = {};
  /** Set when the budget of the run in progress ran out: the run stops with it as a runtime error. */
  private budgetStop: string | undefined;
  /** Launch option: the kernel version modelled (a script's `linux` line wins). */
  linux: LinuxVersion = 'mainline';

  constructor(readonly file: string, readonly text: string, private readonly host: ControllerHost) {
    const d = diagnose(file, text);
    this.script = d.script;
    this.diagnostics = d.diagnostics;
    for (const f of EVENT_FILTERS) if (f.default) this.filters.set(f.id, [{ text: '' }]);
    this.reset();
  }

  /** Drop a statement paused in a kernel frame: its frames unwind (finally blocks run). */
  private abandonCurrent(): void {
    if (this.current === undefined) return;
    const g = this.current;
    this.current = undefined;
    this.replaying = true;
    try {
      g.return({ kind: 'done' });
    } finally {
      this.replaying = false;
    }
    this.sim.kstack.length = 0;
  }

  /** A fresh machine at the first statement (launch and restart). */
  reset(): void {
    if (this.sim !== undefined) this.abandonCurrent();
    this.sim = new Simulator();
    this.sim.prefetcherEnabled = this.prefetcher;
    this.sim.profile = LINUX_PROFILES[this.linux];
    this.interp = new Interpreter(this.script, { sim: this.sim, output: (t) => this.host.output(t, this.sim.loc?.line) });
    this.sim.log.listeners.push((e, start, end) => this.onEvent(e, start, end));
    this.current = undefined;
    this.phase = 0;
    this.checkpoints = [];
    this.checkpointInterval = FIRST_CHECKPOINT_INTERVAL;
    this.writesApplied = 0;
    this.pendingStop = undefined;
    this.resumeFrom = undefined;
    this.ended = false;
    this.endError = undefined;
    this.budgetStop = undefined;
    for (const b of this.lineBps) b.hits = 0;
    for (const w of this.watches) w.fingerprint = '';
  }

  get position(): Position {
    return this.current === undefined ? { done: this.sim.step, phase: 0 } : { done: this.sim.step - 1, phase: this.phase };
  }

  /** Inside a statement, paused at a kernel frame. */
  get inKernel(): boolean {
    return this.current !== undefined;
  }

  /** The statement about to run (or running, when paused in a kernel frame). */
  currentStatement(): Stmt | undefined {
    if (this.current !== undefined) {
      const loc = this.sim.loc;
      return loc === undefined ? undefined : this.statementAtLine(loc.line);
    }
    return this.interp.nextStatement();
  }

  // ---- breakpoints ------------------------------------------------------------------------

  /** Lines that hold a statement, for moving breakpoints to the next one. */
  private statementLines(): number[] {
    const lines = new Set<number>();
    const walk = (body: readonly Stmt[]): void => {
      for (const s of body) {
        if (s.kind !== 'fn' && s.kind !== 'kernel') lines.add(s.loc.line);
        if ('body' in s && Array.isArray(s.body) && s.kind !== 'kernel') {
          walk(s.body as Stmt[]);
          if ((s.kind === 'forkBlock') && 'endLoc' in s) lines.add(s.endLoc.line);
        }
      }
    };
    walk(this.script.body);
    return [...lines].sort((a, b) => a - b);
  }

  private statementAtLine(line: number): Stmt | undefined {
    let found: Stmt | undefined;
    const walk = (body: readonly Stmt[]): void => {
      for (const s of body) {
        if (s.loc.line === line) found ??= s;
        if ('body' in s && Array.isArray(s.body) && s.kind !== 'kernel') walk(s.body as Stmt[]);
      }
    };
    walk(this.script.body);
    return found;
  }

  setLineBreakpoints(reqs: readonly { line: number; condition?: string; hitCondition?: string; logMessage?: string }[]): LineBreakpoint[] {
    const lines = this.statementLines();
    this.lineBps = reqs.map((r) => {
      const line = lines.find((l) => l >= r.line);
      const problem = r.condition !== undefined ? conditionProblem(r.condition) : undefined;
      const hitProblem = r.hitCondition !== undefined && parseHitCondition(r.hitCondition) === undefined
        ? `hit count '${r.hitCondition}' is not N, >= N, > N, == N or % N` : undefined;
      return {
        id: this.nextId++, requestedLine: r.line, line: line ?? r.line, verified: line !== undefined && !problem && !hitProblem,
        message: line === undefined ? 'no statement at or after this line' : problem ?? hitProblem,
        condition: r.condition, hitCondition: r.hitCondition, logMessage: r.logMessage, hits: 0,
      };
    });
    return this.lineBps;
  }

  /**
   * The filters that are on, replacing the previous set. The same filter may come more than once
   * (the Breakpoints view and the launch configuration): it then stops when any of its conditions
   * matches. A condition that can never match keeps its filter on and comes back unverified with
   * the reason, which VS Code shows on the filter.
   */
  setEventFilters(filters: readonly { id: string; condition?: string }[]): { verified: boolean; message?: string }[] {
    this.filters.clear();
    this.warned.clear();
    return filters.map((f) => {
      if (!EVENT_FILTERS.some((x) => x.id === f.id)) return { verified: false, message: `unknown filter ${f.id}` };
      const id = f.id as EventFilterId;
      const c = this.parseEventCondition(f.condition ?? '', id);
      this.filters.set(id, [...(this.filters.get(id) ?? []), c]);
      return c.never === undefined ? { verified: true } : { verified: false, message: `${filterLabel(id)} condition '${c.text}' can never match: ${c.never}` };
    });
  }

  /**
   * `gpu0 a[0..4] write CLEAR`: any order; every term narrows. Names are checked against what the
   * script declares (devices, mappings); ranges are resolved when an event fires.
   */
  parseEventCondition(text: string, filter?: EventFilterId): EventCondition {
    const c: EventCondition = { text: text.trim() };
    const never = (why: string): EventCondition => Object.assign(c, { never: c.never ?? why });
    for (const term of c.text.split(/\s+/).filter(Boolean)) {
      if (term === 'read' || term === 'write') {
        if (filter === 'migrationSkip' || filter === 'notifier') never(`${filterLabel(filter)} has no read or write`);
        c.access = term;
      } else if (/^[A-Z_]+$/.test(term)) {
        if (!(MMU_NOTIFY_NAMES as readonly string[]).includes(term)) never(`'${term}' is not a notifier event (${MMU_NOTIFY_NAMES.join(', ')})`);
        else if (filter !== undefined && filter !== 'notifier') never(`only Notifier invalidation has an event kind such as ${term}`);
        c.event = term;
      } else if (hasDevice(this.script.body, term)) {
        c.device = term;
      } else {
        const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d*)(\.\.)?(\d*)\])?$/.exec(term);
        if (m === null) never(`'${term}' is not a device, a range (a, a[3], a[2..6]), read, write or a notifier event`);
        else if (!hasMmap(this.script.body, m[1]!)) never(`the script declares no device or mapping named ${m[1]}`);
        else if (m[2] !== undefined && m[2] !== '' && m[4] !== undefined && m[4] !== '' && Number(m[2]) >= Number(m[4])) never(`${term} is an empty range`);
        c.range = term;
      }
    }
    return c;
  }

  /** `a`, `a[3]`, `a[2..6]`, `a[..4]`, `a[4..]` → virtual pages, once the mapping exists. */
  resolveRangeText(text: string): { start: number; end: number; label: string } | string {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d*)(\.\.)?(\d*)\])?$/.exec(text.trim());
    if (!m) return 'not a range (write a, a[3] or a[2..6])';
    const name = m[1]!;
    const declared = this.script.body.some((s) => s.kind === 'mmap' && s.name === name) || hasMmap(this.script.body, name);
    const b = this.sim.bindings.get(name);
    if (b === undefined) return declared ? `${name} is not mapped yet` : `no mapping named ${name}`;
    const single = m[2] !== undefined && m[2] !== '' && m[3] === undefined;
    const s = m[2] ? Number(m[2]) : 0;
    const e = single ? s + 1 : m[4] ? Number(m[4]) : b.pages;
    if (m[1] && m[2] === undefined && m[3] === undefined) return { start: b.start, end: b.start + b.pages, label: name };
    if (s >= e || e > b.pages) return `outside ${name} (${b.pages} pages)`;
    return { start: b.start + s, end: b.start + e, label: text.trim() };
  }

  /** Watch a page range's residency and device mappings (data breakpoint). */
  addWatch(text: string, mm: Mm = this.interp.process): DataWatch | string {
    const r = this.resolveRangeText(text);
    if (typeof r === 'string') return r;
    const w: DataWatch = { id: this.nextId++, label: r.label, mmId: mm.id, start: r.start, end: r.end, fingerprint: '', state: '' };
    w.fingerprint = this.fingerprint(w);
    w.state = this.watchedStateOf(w);
    this.watches.push(w);
    return w;
  }

  setWatches(texts: readonly string[]): (DataWatch | string)[] {
    this.watches = [];
    return texts.map((t) => this.addWatch(t));
  }

  get dataWatches(): readonly DataWatch[] {
    return this.watches;
  }

  /** The watched pages' state as a user reads it (a few runs at most). */
  private watchedStateOf(w: DataWatch): string {
    const mm = this.sim.mms.find((m) => m.id === w.mmId);
    return mm === undefined ? 'gone (its process exited)' : watchedState(this.sim, mm, w.start, w.end);
  }

  /**
   * What a watch compares: a hash of the range's residency runs (walked a bounded batch at a
   * time over populated page tables only, so a terabyte mapping costs what its pages cost).
   */
  private fingerprint(w: DataWatch): string {
    const mm = this.sim.mms.find((m) => m.id === w.mmId);
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
      const runs = residencyRuns(this.sim, mm, v, w.end, 4096);
      if (runs.length === 0) break;
      for (const r of runs) {
        const st = r.state;
        let text = `${st.kind}${st.device ?? ''}${st.writable ? 'w' : ''}`;
        for (const d of this.sim.devices) text += this.sim.mirrorMapping(mm, d, r.start)[0];
        // Runs split finer than what a watch compares: neighbours that read the same are one.
        if (text !== prev) mix(`${r.start}:${text};`);
        prev = text;
      }
      v = runs[runs.length - 1]!.end;
    }
    mix(`${w.end}`);
    return `${(h1 >>> 0).toString(16)}${(h2 >>> 0).toString(16)}`;
  }

  // ---- events -------------------------------------------------------------------------------

  /**
   * Each occurrence of an event: a new event, or one more run of pages coalesced into it
   * ([start, end) is the occurrence's own pages, so a condition on a[3] sees a[3]'s fault).
   */
  private onEvent(e: SimEvent, start: number, end: number): void {
    if (this.replaying || this.pendingStop !== undefined) return;
    const hit = this.matchEvent(e, start, end);
    if (hit !== undefined) this.pendingStop = hit;
  }

  private matchEvent(e: SimEvent, start: number, end: number): StopInfo | undefined {
    const check = (id: EventFilterId, device: string | undefined, access: 'read' | 'write' | undefined, event?: string): StopInfo | undefined => {
      const conditions = this.filters.get(id);
      if (conditions === undefined) return undefined;
      const c = conditions.find((x) => this.conditionHolds(x, start, end, device, access, event));
      if (c === undefined) return undefined;
      return { reason: 'exception', description: describeEvent(this.sim, e, start, end), event: e, filter: id, pages: { start, end } };
    };
    switch (e.kind) {
      case 'deviceFault': return check('deviceFault', e.device, e.write ? 'write' : 'read');
      case 'cpuFault': return e.device !== undefined ? check('cpuFaultOnDevice', e.device, e.write ? 'write' : 'read') : undefined;
      case 'migrate': return e.phase === 'setup' && e.skipped.length > 0 ? check('migrationSkip', e.device, undefined) : undefined;
      case 'notifier': return e.action === 'invalidated' ? check('notifier', e.mirror, undefined, e.event) : undefined;
      case 'invariant': return check('invariant', undefined, undefined);
      default: return undefined;
    }
  }

  private conditionHolds(c: EventCondition, start: number, end: number, device: string | undefined, access: 'read' | 'write' | undefined, event: string | undefined): boolean {
    if (c.never !== undefined) return false;
    if (c.device !== undefined && c.device !== device) return false;
    if (c.access !== undefined && c.access !== access) return false;
    if (c.event !== undefined && c.event !== event) return false;
    if (c.range === undefined) return true;
    const r = this.resolveRangeText(c.range);
    if (typeof r === 'string') {
      // Not mapped yet (or unmapped): no match. Outside the mapping as it is now: say so once.
      if (r.startsWith('outside') && !this.warned.has(c.text)) {
        this.warned.add(c.text);
        this.host.warning?.(`condition '${c.text}': ${c.range} is ${r}; it does not match this event`);
      }
      return false;
    }
    return end > r.start && start < r.end;
  }

  // ---- running -------------------------------------------------------------------------------

  requestPause(): void {
    this.pauseRequested = true;
  }

  continue(): Promise<RunResult> {
    return this.run({ kind: 'continue' });
  }

  stepOver(): Promise<RunResult> {
    return this.run({ kind: 'over', depth: this.interp.frames.length, kdepth: this.sim.kstack.length });
  }

  stepIn(): Promise<RunResult> {
    return this.run({ kind: 'in' });
  }

  /** Step GPU job `id` (a thread of its own): its next action, or with `into` its next kernel frame. */
  stepJob(id: number, into: boolean): Promise<RunResult> {
    return this.run({ kind: 'job', job: id, into });
  }

  stepOut(): Promise<RunResult> {
    return this.run({ kind: 'out', depth: this.interp.frames.length, kdepth: this.sim.kstack.length });
  }

  /**
   * A stop taken after the statement that caused it (an event seen at its end, a runtime error)
   * is shown at that statement's line, not at the next one.
   */
  private stopLine: number | undefined;

  private noteStopLine(r: RunResult): void {
    if (r.kind !== 'stopped' || this.current !== undefined) return;
    const loc = r.stop.error?.loc ?? (r.stop.reason === 'exception' ? r.stop.event?.loc ?? this.sim.loc : undefined);
    this.stopLine = loc?.line;
  }

  /** The line to show as the current one: the running statement, or where the last stop happened. */
  displayLine(): number | undefined {
    if (this.current !== undefined) return this.sim.loc?.line;
    return this.stopLine ?? this.interp.nextStatement()?.loc.line;
  }

  /** Stop on entry: at the first statement, before it runs. */
  entryStop(): StopInfo {
    this.resumeFrom = this.position;
    return { reason: 'entry', description: 'Paused on entry' };
  }

  private async run(mode: Mode): Promise<RunResult> {
    this.pauseRequested = false;
    this.stopLine = undefined;
    const budget = new Budget(this.limits);
    this.budgetStop = undefined;
    for (;;) {
      const deadline = Date.now() + SLICE_MS;
      while (Date.now() < deadline) {
        this.budgetStop ??= budget.exceeded();
        const r = this.unit(mode);
        if (r !== undefined) {
          this.resumeFrom = this.position;
          this.noteStopLine(r);
          return r;
        }
      }
      // Let other requests (pause, disconnect) in.
      await new Promise((resolve) => setImmediate(resolve));
      if (this.pauseRequested) {
        this.pauseRequested = false;
        this.resumeFrom = this.position;
        return { kind: 'stopped', stop: { reason: 'pause', description: 'Paused' } };
      }
    }
  }

  /** One unit of progress: start a statement, or run the current one to its next kernel frame or end. */
  private unit(mode: Mode): RunResult | undefined {
    if (this.ended) return { kind: 'ended', error: this.endError };
    // Resuming after a stop on a runtime error: the script cannot go on.
    if (this.interp.error !== undefined && this.current === undefined) return this.end(this.interp.error);
    if (this.current === undefined) {
      const stmt = this.interp.nextStatement();
      if (stmt === undefined) return this.end(undefined);
      // The debugger's writes made at this position, when a replay reaches it (the stop here shows them).
      this.applyMemoryWrites();
      const pos = this.position;
      const resuming = this.resumeFrom !== undefined && this.resumeFrom.done === pos.done && this.resumeFrom.phase === 0;
      this.resumeFrom = undefined;
      if (this.budgetStop !== undefined) return this.failed(this.interp.stop(this.budgetStop));
      if (!resuming) {
        const stop = this.boundaryStop(mode, stmt);
        if (stop !== undefined) return { kind: 'stopped', stop };
      }
      this.maybeCheckpoint();
      this.current = this.interp.stepStatement();
      this.phase = 0;
    }
    const r = this.budgetStop === undefined ? this.current.next() : this.current.throw(new SimError(`stopped: ${this.budgetStop}`));
    if (!r.done) {
      this.phase++;
      if (this.pendingStop !== undefined) return this.takePending();
      // A long loop's chance to let requests in: not a frame to step to.
      if (r.value === PREEMPT) return undefined;
      const depth = this.sim.kstack.length;
      if (mode.kind === 'in') return { kind: 'stopped', stop: { reason: 'step', description: `Entered ${r.value.name}` } };
      if (mode.kind === 'job' && this.sim.gpu.current?.id === mode.job && (mode.into || r.value.name === JOB_ACTION_FRAME)) {
        return { kind: 'stopped', stop: { reason: 'step', description: 'Step' } };
      }
      if (mode.kind === 'over' && mode.kdepth > 0 && depth <= mode.kdepth) return { kind: 'stopped', stop: { reason: 'step', description: `Entered ${r.value.name}` } };
      if (mode.kind === 'out' && mode.kdepth > 1 && depth < mode.kdepth) return { kind: 'stopped', stop: { reason: 'step', description: `Entered ${r.value.name}` } };
      return undefined;
    }
    this.current = undefined;
    this.phase = 0;
    const outcome = r.value;
    if (outcome.kind === 'done') return this.end(undefined);
    if (outcome.kind === 'error') return this.failed(outcome);
    if (this.pendingStop !== undefined) return this.takePending();
    const watchStop = this.checkWatches();
    if (watchStop !== undefined) return { kind: 'stopped', stop: watchStop };
    return undefined;
  }

  /** A statement failed: a stop on the failure (or invariant) filter, else the end of the run. */
  private failed(outcome: StatementOutcome): RunResult {
    if (outcome.kind !== 'error') return this.end(undefined);
    const filter: EventFilterId = outcome.error.message.startsWith('invariant violated') ? 'invariant' : 'failure';
    this.pendingStop = undefined;
    if (this.filters.has(filter)) {
      return { kind: 'stopped', stop: { reason: 'exception', description: outcome.error.message, error: outcome.error, filter } };
    }
    return this.end(outcome.error);
  }

  private takePending(): RunResult {
    const stop = this.pendingStop!;
    this.pendingStop = undefined;
    return { kind: 'stopped', stop };
  }

  private end(error: RuntimeError | undefined): RunResult {
    this.ended = true;
    this.endError = error;
    return { kind: 'ended', error };
  }

  /** Before a statement runs: line breakpoints and the end of a step. */
  private boundaryStop(mode: Mode, stmt: Stmt): StopInfo | undefined {
    const line = stmt.loc.line;
    const hits: number[] = [];
    for (const b of this.lineBps) {
      if (!b.verified || b.line !== line) continue;
      if (b.condition !== undefined && !this.evalCondition(b.condition)) continue;
      b.hits++;
      if (b.hitCondition !== undefined && !hitConditionHolds(b.hitCondition, b.hits)) continue;
      if (b.logMessage !== undefined) {
        if (!this.replaying) this.host.output(this.interpolate(b.logMessage), line);
        continue;
      }
      hits.push(b.id);
    }
    if (hits.length > 0) return { reason: 'breakpoint', description: 'Paused on breakpoint', breakpointIds: hits };
    const depth = this.interp.frames.length;
    switch (mode.kind) {
      case 'in': return { reason: 'step', description: 'Step' };
      case 'over': return depth <= mode.depth || mode.kdepth > 0 ? { reason: 'step', description: 'Step' } : undefined;
      case 'out': return mode.kdepth > 0 || depth < mode.depth ? { reason: 'step', description: 'Step out' } : undefined;
      // The job ended (or is gone): stop at the CPU's next statement.
      case 'job': return this.sim.gpu.jobs.find((j) => j.id === mode.job)?.done !== false ? { reason: 'step', description: 'GPU job ended' } : undefined;
      default: return undefined;
    }
  }

  private checkWatches(): StopInfo | undefined {
    if (this.watches.length === 0 || this.replaying) return undefined;
    const evs = this.sim.log.ofStep(this.sim.step);
    for (const w of this.watches) {
      if (!evs.some((e) => e.end > w.start && e.start < w.end) && w.fingerprint !== '') continue;
      const fp = this.fingerprint(w);
      if (fp !== w.fingerprint) {
        const first = w.fingerprint === '';
        const before = w.state;
        w.fingerprint = fp;
        w.state = this.watchedStateOf(w);
        if (!first) return { reason: 'data breakpoint', description: `${w.label}: ${before} → ${w.state}`, breakpointIds: [w.id] };
      }
    }
    return undefined;
  }

  // ---- conditions -----------------------------------------------------------------------------

  /** `last.rc == EFAULT`, `c >= 3`, `stats.gpu0.faults > 0`, `time > 1000`. */
  evalCondition(text: string): boolean {
    const m = /^\s*(.+?)\s*(==|!=|<=|>=|<|>)\s*(.+?)\s*$/.exec(text);
    if (!m) return Boolean(this.valueOf(text.trim()));
    const a = this.valueOf(m[1]!);
    const b = this.valueOf(m[3]!);
    switch (m[2]) {
      case '==': return a === b;
      case '!=': return a !== b;
      case '<': return a < b;
      case '<=': return a <= b;
      case '>': return a > b;
      default: return a >= b;
    }
  }

  /** The value of a name in conditions and logpoint `{…}`: numbers, loop variables, last.*, stats.*. */
  valueOf(name: string): number {
    const errnos: Record<string, number> = { EFAULT: -14, EPERM: -1, EINVAL: -22, ENOENT: -2, ENOMEM: -12, EBUSY: -16, EOPNOTSUPP: -95 };
    if (/^-?(0x[0-9a-fA-F]+|\d+)$/.test(name)) return Number(name);
    if (name in errnos) return errnos[name]!;
    const frame = this.interp.frames[this.interp.frames.length - 1];
    const v = frame?.vars.get(name);
    if (v !== undefined) return v;
    if (name === 'last.rc') return this.interp.last.rc;
    if (name === 'last.cpages') return this.interp.last.cpages;
    if (name === 'last.faults') return this.interp.last.faults;
    if (name === 'time' || name === 'stats.time') return this.sim.clock.now;
    if (name === 'stats.cpu.faults' || name === 'cpu.faults') return this.sim.stats.cpuFaults;
    const sm = /^(?:stats\.)?([A-Za-z_]\w*)\.(faults|pages_in|pages_out|evictions)$/.exec(name);
    if (sm) {
      const s = this.sim.stats.devices.get(sm[1]!);
      if (s) return { faults: s.faults, pages_in: s.pagesIn, pages_out: s.pagesOut, evictions: s.evictions }[sm[2] as 'faults'];
    }
    return NaN;
  }

  interpolate(message: string): string {
    return message.replace(/\{([^}]+)\}/g, (_, expr: string) => {
      const v = this.valueOf(expr.trim());
      return Number.isNaN(v) ? `{${expr}?}` : String(v);
    });
  }

  // ---- memory writes ------------------------------------------------------------------------

  /**
   * Write bytes into a process's memory as the debugger's memory view does, between statements.
   * Recorded, so Step Back undoes it and a replay past this position redoes it.
   */
  writeMemory(mm: Mm, addr: number, data: Uint8Array): number {
    if (this.current !== undefined) throw new Error('memory cannot be written while paused inside a kernel operation');
    const written = drain(this.sim.writeBytes(mm, addr, data));
    if (written === 0) return 0;
    const done = this.sim.step;
    // Later in the list means later in the run: insert after every write at or before this position.
    let i = this.memoryWrites.length;
    while (i > 0 && this.memoryWrites[i - 1]!.done > done) i--;
    this.memoryWrites.splice(i, 0, { done, mmId: mm.id, addr, data: data.slice(0, written) });
    this.writesApplied = i + 1;
    // Checkpoints from here on predate the write.
    this.checkpoints = this.checkpoints.filter((c) => c.done < done);
    return written;
  }

  /** Redo the recorded writes made at the current position (a replay reaching it). */
  private applyMemoryWrites(): void {
    for (;;) {
      const w = this.memoryWrites[this.writesApplied];
      if (w === undefined || w.done > this.sim.step) return;
      const mm = this.sim.mms.find((m) => m.id === w.mmId);
      if (w.done === this.sim.step && mm !== undefined) drain(this.sim.writeBytes(mm, w.addr, w.data));
      this.writesApplied++;
    }
  }

  // ---- reverse execution -------------------------------------------------------------------

  /** The checkpoints held for reverse debugging: how many, and the bytes they were charged (the bench). */
  get history(): { checkpoints: number; bytes: number } {
    return { checkpoints: this.checkpoints.length, bytes: this.checkpoints.reduce((n, c) => n + c.bytes, 0) };
  }

  private maybeCheckpoint(): void {
    if (this.replaying && this.checkpoints.some((c) => c.done === this.sim.step)) return;
    const last = this.checkpoints[this.checkpoints.length - 1];
    if (last !== undefined && this.sim.step - last.done < this.checkpointInterval && this.sim.step !== 0) return;
    if (last !== undefined && last.done >= this.sim.step) return;
    const sim = this.sim.save();
    this.checkpoints.push({ done: this.sim.step, sim, interp: this.interp.save(), bytes: stateBytes(sim), writes: this.writesApplied });
    const total = this.checkpoints.reduce((n, c) => n + c.bytes, 0);
    if (this.checkpoints.length > MAX_CHECKPOINTS || (total > CHECKPOINT_BUDGET_BYTES && this.checkpoints.length > 2)) {
      // Thin: keep the first and every other one, and space new ones twice as far apart.
      this.checkpoints = this.checkpoints.filter((_, i) => i === 0 || i % 2 === 0);
      this.checkpointInterval *= 2;
    }
  }

  /**
   * Put the machine at `target` by restoring the nearest checkpoint and replaying (no stops, no
   * output). Deterministic, so the state is exactly what it was. Replay runs in slices like a
   * run, so requests are answered meanwhile; a pause stops it where it got to (false: `target`
   * was not reached).
   */
  async goTo(target: Position): Promise<boolean> {
    let cp: Checkpoint | undefined;
    for (const c of this.checkpoints) if (c.done <= target.done) cp = c;
    this.abandonCurrent();
    this.replaying = true;
    let reached = true;
    try {
      if (cp === undefined) this.reset();
      else {
        this.sim.load(cp.sim);
        this.interp.load(cp.interp);
        this.current = undefined;
        this.phase = 0;
        this.ended = false;
        this.endError = undefined;
        this.writesApplied = cp.writes;
      }
      this.checkpoints = this.checkpoints.filter((c) => c.done <= target.done);
      const before = (p: Position): boolean => p.done < target.done || (p.done === target.done && p.phase < target.phase);
      let slice = Date.now() + SLICE_MS;
      while (before(this.position)) {
        if (Date.now() > slice) {
          await new Promise((resolve) => setImmediate(resolve));
          slice = Date.now() + SLICE_MS;
          if (this.pauseRequested) {
            this.pauseRequested = false;
            reached = false;
            break;
          }
        }
        if (this.current === undefined) {
          if (this.interp.nextStatement() === undefined) break;
          this.applyMemoryWrites();
          this.maybeCheckpoint();
          this.current = this.interp.stepStatement();
          this.phase = 0;
        }
        const r = this.current.next();
        if (!r.done) {
          this.phase++;
          continue;
        }
        this.current = undefined;
        this.phase = 0;
        if (r.value.kind !== 'ok') break;
      }
      // Writes made while stopped at the target are part of the state seen there.
      if (reached && this.current === undefined && this.sim.step === target.done) this.applyMemoryWrites();
    } finally {
      this.replaying = false;
      this.pendingStop = undefined;
    }
    this.resumeFrom = this.position;
    this.stopLine = undefined;
    return reached;
  }

  private static readonly PAUSED: RunResult = { kind: 'stopped', stop: { reason: 'pause', description: 'Paused' } };

  /** One step backwards: the previous kernel frame of this statement, or the previous statement. */
  async stepBack(): Promise<RunResult> {
    this.pauseRequested = false;
    const p = this.position;
    if (p.done === 0 && p.phase === 0) return { kind: 'stopped', stop: { reason: 'entry', description: 'At the start' } };
    const reached = await this.goTo(p.phase > 0 ? { done: p.done, phase: p.phase - 1 } : { done: p.done - 1, phase: 0 });
    return reached ? { kind: 'stopped', stop: { reason: 'step', description: 'Stepped back' } } : ScriptController.PAUSED;
  }

  /**
   * Run backwards to the latest earlier position where a breakpoint (line, event or data) would
   * have stopped, or to the start. Replays from the beginning recording candidate positions, in
   * slices; a pause stops the replay where it got to.
   */
  async reverseContinue(): Promise<RunResult> {
    this.pauseRequested = false;
    const target = this.position;
    this.abandonCurrent();
    const hits: { pos: Position; stop: StopInfo }[] = [];
    this.reset();
    const savedHost = this.host.output;
    this.host.output = () => undefined;
    let paused = false;
    try {
      // Run forward from the start as `continue` would, noting every stop before the target.
      let slice = Date.now() + SLICE_MS;
      for (;;) {
        if (Date.now() > slice) {
          await new Promise((resolve) => setImmediate(resolve));
          slice = Date.now() + SLICE_MS;
          if (this.pauseRequested) {
            this.pauseRequested = false;
            paused = true;
            break;
          }
        }
        const p = this.position;
        if (p.done > target.done || (p.done === target.done && p.phase >= target.phase)) break;
        const r = this.unit({ kind: 'continue' });
        if (r === undefined) continue;
        // A runtime error ends the run there; it is not a place to go back to.
        if (r.kind !== 'stopped' || (r.stop.reason === 'exception' && r.stop.error !== undefined)) break;
        hits.push({ pos: this.position, stop: r.stop });
        // Go on past this stop, as a continue from it would.
        this.resumeFrom = this.position;
      }
    } finally {
      this.host.output = savedHost;
    }
    for (const b of this.lineBps) b.hits = 0;
    if (paused) {
      // Stay where the replay got to: an earlier position than the one reverse-continued from.
      this.pendingStop = undefined;
      this.resumeFrom = this.position;
      this.stopLine = undefined;
      return ScriptController.PAUSED;
    }
    const hit = hits.filter((h) => h.pos.done < target.done || (h.pos.done === target.done && h.pos.phase < target.phase)).pop();
    const reached = await this.goTo(hit?.pos ?? { done: 0, phase: 0 });
    if (!reached) return ScriptController.PAUSED;
    const result: RunResult = { kind: 'stopped', stop: hit?.stop ?? { reason: 'entry', description: 'Reached the start' } };
    // An event taken at the end of its statement shows that statement's line, as it did going forward.
    this.noteStopLine(result);
    return result;
  }

}

/** Approximate memory held by a checkpoint: frame arrays and page tables. */
function stateBytes(s: SimState): number {
  let n = s.frames.bytes;
  for (const m of s.mms) n += m.state.pt.bytes;
  return n;
}

function hasDevice(body: readonly Stmt[], name: string): boolean {
  return body.some((s) => s.kind === 'device' && s.name === name);
}

function hasMmap(body: readonly Stmt[], name: string): boolean {
  return body.some((s) => (s.kind === 'mmap' && s.name === name) || ('body' in s && Array.isArray(s.body) && s.kind !== 'kernel' && hasMmap(s.body as Stmt[], name)));
}

function parseHitCondition(text: string): { op: string; n: number } | undefined {
  const m = /^\s*(>=|>|==|%)?\s*(\d+)\s*$/.exec(text);
  return m ? { op: m[1] ?? '>=', n: Number(m[2]) } : undefined;
}

function hitConditionHolds(text: string, hits: number): boolean {
  const h = parseHitCondition(text);
  if (h === undefined) return true;
  switch (h.op) {
    case '>': return hits > h.n;
    case '==': return hits === h.n;
    case '%': return h.n > 0 && hits % h.n === 0;
    default: return hits >= h.n;
  }
}

function conditionProblem(text: string): string | undefined {
  if (text.trim() === '') return 'empty condition';
  const m = /^\s*(.+?)\s*(==|!=|<=|>=|<|>)\s*(.+?)\s*$/.exec(text);
  const names = m ? [m[1]!, m[3]!] : [text.trim()];
  for (const n of names) {
    if (!/^(-?(0x[0-9a-fA-F]+|\d+)|[A-Za-z_][\w.]*)$/.test(n)) return `cannot evaluate '${n}' (use numbers, loop variables, last.rc/cpages/faults, stats.DEV.faults, time)`;
  }
  return undefined;
}

/** One line for a stopped event: what happened, where. */
export function describeEvent(sim: Simulator, e: SimEvent, start = e.start, end = e.end): string {
  const where = end > start ? sim.describeRange(start, end) : '';
  switch (e.kind) {
    case 'deviceFault': return `Device fault: ${e.device} ${e.write ? 'write' : 'read'} of ${where}`;
    case 'cpuFault': return `CPU ${e.write ? 'write' : 'read'} fault on ${e.found} page ${where} (${e.action})`;
    case 'migrate': return `Migration to ${e.direction === 'to-device' ? e.device : 'system'} skipped ${e.skipped.reduce((n, r) => n + r.count, 0)} page(s) of ${where}: ${[...new Set(e.skipped.map((r) => r.reason))].join(', ')}`;
    case 'notifier': return `Notifier: ${e.mirror} mirror of ${e.mm} invalidated ${where} (${e.event}${e.owner ? `, owner ${e.owner}` : ''})`;
    case 'invariant': return `Invariant violated: ${e.message}`;
    default: return `${e.kind} ${where}`;
  }
}
