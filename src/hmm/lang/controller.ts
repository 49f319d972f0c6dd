// Execution control for a debugger: runs a script to the next stop — line breakpoints, event
// breakpoints, page watches, the end of a step (over, into kernel phases, out, a GPU job's) or
// a pause — and back: reverse execution restores a checkpoint and replays deterministically.
// Breakpoints, conditions, watches and checkpoints are in ./debug; the run loop in ./execution.

import { JOB_ACTION_FRAME } from '../gpu';
import type { SimEvent } from '../events';
import type { Mm } from '../mm';
import { LINUX_PROFILES, type LinuxVersion } from '../profile';
import { Simulator } from '../simulator';
import { drain } from '../kernelWork';
import type { Diagnostic, Script, Stmt } from './ast';
import { Budget, type Limits, MemoryGauge } from './budget';
import { AnswerMemo } from './debug/answerMemo';
import type { ConditionScope } from './debug/conditions';
import { EventBreakpoints, type EventFilterId } from './debug/eventBreakpoints';
import { History } from './debug/history';
import { type LineBreakpoint, type LineBreakpointRequest, LineBreakpoints, statementAtLine } from './debug/lineBreakpoints';
import type { RunResult, StopInfo } from './debug/stop';
import { type DataWatch, type WatchResult, Watches, type WatchSource } from './debug/watches';
import { eventText } from './eventText';
import { Execution, inSlices, isBefore, type Position } from './execution';
import { Interpreter, type RuntimeError, type StatementOutcome } from './interpreter';
import { resolveRange, type ResolvedRange } from './ranges';
import { diagnose } from './runner';

type Mode =
  | { kind: 'continue' }
  /** Step one GPU job: to its next action (over) or its next kernel frame (into), or its end. */
  | { kind: 'job'; job: number; into: boolean }
  | { kind: 'over'; depth: number; kdepth: number }
  | { kind: 'in' }
  | { kind: 'out'; depth: number; kdepth: number };

export interface ControllerHost {
  /** Logpoint output and `print` text. */
  output(text: string, line: number | undefined): void;
  /** Something the user should know that is not an error: a condition that cannot match. */
  warning?(text: string): void;
  /** A watch set before its mapping existed has started. */
  watchVerified?(id: number, label: string): void;
}

const PAUSED: RunResult = { kind: 'stopped', stop: { reason: 'pause', description: 'Paused' } };

/** A stop at a kernel frame just entered (made only when the step ends there: a continue passes many). */
const entered = (name: string): RunResult => ({ kind: 'stopped', stop: { reason: 'step', description: `Entered ${name}` } });

export class ScriptController {
  sim!: Simulator;
  interp!: Interpreter;
  private execution!: Execution;
  readonly script: Script;
  readonly diagnostics: Diagnostic[];
  private nextId = 1;
  private readonly newId = (): number => this.nextId++;
  private readonly lineBps: LineBreakpoints;
  readonly events: EventBreakpoints;
  private readonly watches = new Watches(this.newId);
  private readonly timeline = new History();
  private pendingStop: StopInfo | undefined;
  private pauseRequested = false;
  /** Replaying to a position: no stops, no output, no watch checks. */
  private replaying = false;
  /** Output is swallowed while reverse-continue replays from the start. */
  private quiet = false;
  /** A stop before statement N must not fire again when resuming at N. */
  private resumeFrom: Position | undefined;
  /**
   * A stop taken after the statement that caused it (an event seen at its end, a runtime error)
   * is shown at that statement's line, not at the next one.
   */
  private stopLine: number | undefined;
  ended = false;
  endError: RuntimeError | undefined;
  /** Launch option: the density prefetcher (applied at every reset). */
  prefetcher = true;
  /** Launch options: time and memory one continue or step may use (see budget.ts). */
  limits: Limits = {};
  /** Set when the budget of the run in progress ran out: the run stops with it as a runtime error. */
  private budgetStop: string | undefined;
  /** The memory limit's readings, shared by every run of the session (each step is one). */
  private readonly memory = new MemoryGauge();
  /** Launch option: the kernel version modelled (a script's `linux` line wins). */
  linux: LinuxVersion = 'mainline';
  /** Changes whenever the machine may have: a unit run or replayed, a reset, a memory write. */
  private epochCounter = 0;
  /** The debugger's answers kept for the current epoch (queries.ts, the Variables view). */
  readonly answers = new AnswerMemo();

  constructor(readonly file: string, readonly text: string, private readonly host: ControllerHost) {
    const d = diagnose(file, text);
    this.script = d.script;
    this.diagnostics = d.diagnostics;
    this.lineBps = new LineBreakpoints(this.script, this.newId);
    this.events = new EventBreakpoints(this.script);
    this.reset();
  }

  /** Answers made at one epoch hold until the next (AnswerMemo). */
  get epoch(): number {
    return this.epochCounter;
  }

  /** A fresh machine at the first statement (launch and restart). */
  reset(): void {
    this.epochCounter++;
    if (this.execution !== undefined) this.abandon();
    this.sim = new Simulator();
    this.sim.prefetcherEnabled = this.prefetcher;
    this.sim.profile = LINUX_PROFILES[this.linux];
    this.interp = new Interpreter(this.script, { sim: this.sim, output: (t) => this.print(t, this.sim.loc?.line) });
    this.execution = new Execution(this.interp);
    this.sim.log.listeners.push((e, start, end) => this.onEvent(e, start, end));
    this.timeline.reset();
    this.pendingStop = undefined;
    this.resumeFrom = undefined;
    this.ended = false;
    this.endError = undefined;
    this.budgetStop = undefined;
    this.lineBps.resetHits();
    this.watches.forget();
  }

  private print(text: string, line: number | undefined): void {
    if (!this.quiet) this.host.output(text, line);
  }

  /** Drop a statement paused in a kernel frame: its frames unwind (their finally blocks emit nothing that stops). */
  private abandon(): void {
    const was = this.replaying;
    this.replaying = true;
    try {
      this.execution.abandon();
    } finally {
      this.replaying = was;
    }
  }

  get position(): Position {
    return this.execution.position;
  }

  /** Inside a statement, paused at a kernel frame. */
  get inKernel(): boolean {
    return this.execution.inStatement;
  }

  /** The statement about to run (or running, when paused in a kernel frame). */
  currentStatement(): Stmt | undefined {
    if (this.execution.inStatement) {
      const loc = this.sim.loc;
      return loc === undefined ? undefined : statementAtLine(this.script, loc.line);
    }
    return this.interp.nextStatement();
  }

  /** What names in conditions see now. */
  get scope(): ConditionScope {
    return { vars: this.interp.frames[this.interp.frames.length - 1]?.vars, last: this.interp.last, sim: this.sim };
  }

  // ---- breakpoints ------------------------------------------------------------------------

  setLineBreakpoints(reqs: readonly LineBreakpointRequest[]): LineBreakpoint[] {
    return this.lineBps.set(reqs);
  }

  /** See EventBreakpoints.set. */
  setEventFilters(filters: readonly { id: string; condition?: string }[]): { verified: boolean; message?: string }[] {
    return this.events.set(filters);
  }

  /** `a`, `a[3]`, `a[2..6]`, `a[..4]`, `a[4..]` → virtual pages, once the mapping exists. */
  resolveRangeText(text: string): ResolvedRange | string {
    return resolveRange(this.sim, this.script, text);
  }

  /** Watch a page range's residency and device mappings (the REPL's `watch`). */
  addWatch(text: string, mm: Mm = this.interp.process, source: WatchSource = 'function'): DataWatch | string {
    const r = this.resolveRangeText(text);
    return typeof r === 'string' ? r : this.watches.add(this.sim, r, mm, source);
  }

  /** See Watches.set: `texts` resolved against the machine as it is, in the stopped process. */
  setWatches(source: WatchSource, texts: readonly string[]): WatchResult[] {
    return this.watches.set(source, texts, this.sim, this.interp.process, (t) => this.resolveRangeText(t));
  }

  /** Remove every watch of `source` (the REPL's `unwatch`); returns their names. */
  clearWatches(source: WatchSource): string[] {
    return this.watches.clearNames(source);
  }

  removeWatch(id: number): boolean {
    return this.watches.remove(id);
  }

  get dataWatches(): readonly DataWatch[] {
    return this.watches.all;
  }

  // ---- events -------------------------------------------------------------------------------

  /**
   * Each occurrence of an event: a new event, or one more run of pages coalesced into it
   * ([start, end) is the occurrence's own pages, so a condition on a[3] sees a[3]'s fault).
   */
  private onEvent(e: SimEvent, start: number, end: number): void {
    if (this.replaying || this.pendingStop !== undefined) return;
    const filter = this.events.match(e, start, end, (r) => this.resolveRangeText(r), (t) => this.host.warning?.(t));
    if (filter !== undefined) {
      this.pendingStop = { reason: 'exception', description: eventText(this.sim, e, start, end), event: e, filter, pages: { start, end } };
    }
  }

  // ---- memory writes ------------------------------------------------------------------------

  /**
   * Write bytes into a process's memory as the debugger's memory view does, between statements.
   * Recorded, so Step Back undoes it and a replay past this position redoes it.
   */
  writeMemory(mm: Mm, addr: number, data: Uint8Array): number {
    if (this.execution.inStatement) throw new Error('memory cannot be written while paused inside a kernel operation');
    this.epochCounter++;
    const written = drain(this.sim.writeBytes(mm, addr, data));
    if (written > 0) this.timeline.recordWrite(this.sim.step, mm.id, addr, data.slice(0, written));
    return written;
  }

  // ---- running forwards ------------------------------------------------------------------------

  requestPause(): void {
    this.pauseRequested = true;
  }

  private takePause(): boolean {
    const p = this.pauseRequested;
    this.pauseRequested = false;
    return p;
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

  private noteStopLine(r: RunResult): void {
    if (r.kind !== 'stopped' || this.execution.inStatement) return;
    const loc = r.stop.error?.loc ?? (r.stop.reason === 'exception' ? r.stop.event?.loc ?? this.sim.loc : undefined);
    this.stopLine = loc?.line;
  }

  /** The line to show as the current one: the running statement, or where the last stop happened. */
  displayLine(): number | undefined {
    if (this.execution.inStatement) return this.sim.loc?.line;
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
    const budget = new Budget(this.limits, this.memory);
    this.budgetStop = undefined;
    const r = await inSlices(() => {
      this.budgetStop ??= budget.exceeded();
      return this.unit(mode);
    }, () => (this.takePause() ? PAUSED : undefined));
    this.resumeFrom = this.position;
    this.noteStopLine(r);
    return r;
  }

  /** One unit of progress: start a statement, or run the current one to its next kernel frame or end. */
  private unit(mode: Mode): RunResult | undefined {
    this.epochCounter++;
    if (this.ended) return { kind: 'ended', error: this.endError };
    const ex = this.execution;
    // Resuming after a stop on a runtime error: the script cannot go on.
    if (this.interp.error !== undefined && !ex.inStatement) return this.end(this.interp.error);
    if (!ex.inStatement) {
      const stmt = this.interp.nextStatement();
      if (stmt === undefined) return this.end(undefined);
      // The debugger's writes made at this position, when a replay reaches it (the stop here shows them).
      this.timeline.applyWrites(this.sim);
      // Between statements the position is (sim.step, phase 0).
      const resuming = this.resumeFrom !== undefined && this.resumeFrom.done === this.sim.step && this.resumeFrom.phase === 0;
      this.resumeFrom = undefined;
      if (this.budgetStop !== undefined) return this.failed(this.interp.stop(this.budgetStop));
      if (!resuming) {
        const stop = this.boundaryStop(mode, stmt);
        if (stop !== undefined) return { kind: 'stopped', stop };
      }
      this.timeline.maybeCheckpoint(this.sim, this.interp, this.replaying);
      ex.begin();
    }
    const p = ex.advance(this.budgetStop);
    if (p.kind !== 'ended') {
      if (this.pendingStop !== undefined) return this.takePending();
      // A long loop's chance to let requests in: not a frame to step to.
      if (p.kind === 'preempt') return undefined;
      return this.frameStop(mode, p.frame.name);
    }
    const outcome = p.outcome;
    if (outcome.kind === 'done') return this.end(undefined);
    if (outcome.kind === 'error') return this.failed(outcome);
    if (this.pendingStop !== undefined) return this.takePending();
    const watchStop = this.replaying ? undefined : this.watches.check(this.sim);
    if (!this.replaying) {
      for (const w of this.watches.startPending(this.sim, (t) => this.resolveRangeText(t))) this.host.watchVerified?.(w.id, w.label);
    }
    if (watchStop !== undefined) return { kind: 'stopped', stop: watchStop };
    return undefined;
  }

  /** Before a statement runs: line breakpoints and the end of a step. */
  private boundaryStop(mode: Mode, stmt: Stmt): StopInfo | undefined {
    const line = stmt.loc.line;
    const hits = this.lineBps.stopsAt(line, this.scope, this.replaying ? undefined : (t) => this.print(t, line));
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

  /** Inside a statement, at a kernel frame just entered: the end of a step into, over or out of kernel phases. */
  private frameStop(mode: Mode, name: string): RunResult | undefined {
    const depth = this.sim.kstack.length;
    switch (mode.kind) {
      case 'in': return entered(name);
      case 'job': return this.sim.gpu.current?.id === mode.job && (mode.into || name === JOB_ACTION_FRAME) ? { kind: 'stopped', stop: { reason: 'step', description: 'Step' } } : undefined;
      case 'over': return mode.kdepth > 0 && depth <= mode.kdepth ? entered(name) : undefined;
      case 'out': return mode.kdepth > 1 && depth < mode.kdepth ? entered(name) : undefined;
      default: return undefined;
    }
  }

  private end(error: RuntimeError | undefined): RunResult {
    this.ended = true;
    this.endError = error;
    return { kind: 'ended', error };
  }

  /** A statement failed: a stop on the failure (or invariant) filter, else the end of the run. */
  private failed(outcome: StatementOutcome): RunResult {
    if (outcome.kind !== 'error') return this.end(undefined);
    const filter: EventFilterId = outcome.error.message.startsWith('invariant violated') ? 'invariant' : 'failure';
    this.pendingStop = undefined;
    if (this.events.isOn(filter)) {
      return { kind: 'stopped', stop: { reason: 'exception', description: outcome.error.message, error: outcome.error, filter } };
    }
    return this.end(outcome.error);
  }

  private takePending(): RunResult {
    const stop = this.pendingStop!;
    this.pendingStop = undefined;
    return { kind: 'stopped', stop };
  }

  // ---- running backwards ---------------------------------------------------------------------

  /** The checkpoints held for reverse debugging: how many, and the bytes they were charged (the bench). */
  get history(): { checkpoints: number; bytes: number } {
    return this.timeline.held;
  }

  /**
   * Put the machine at `target` by restoring the nearest checkpoint and replaying (no stops, no
   * output). Deterministic, so the state is exactly what it was. Replay runs in slices like a
   * run, so requests are answered meanwhile; a pause stops it where it got to (false: `target`
   * was not reached).
   */
  async goTo(target: Position): Promise<boolean> {
    this.epochCounter++;
    this.abandon();
    this.replaying = true;
    let reached = true;
    try {
      if (!this.timeline.restore(target.done, this.sim, this.interp)) this.reset();
      this.ended = false;
      this.endError = undefined;
      const ex = this.execution;
      reached = await inSlices<boolean>(() => {
        this.epochCounter++;
        if (!isBefore(this.position, target)) return true;
        if (!ex.inStatement) {
          if (this.interp.nextStatement() === undefined) return true;
          this.timeline.applyWrites(this.sim);
          this.timeline.maybeCheckpoint(this.sim, this.interp, true);
          ex.begin();
        }
        const p = ex.advance();
        return p.kind === 'ended' && p.outcome.kind !== 'ok' ? true : undefined;
      }, () => (this.takePause() ? false : undefined));
      // Writes made while stopped at the target are part of the state seen there.
      if (reached && !ex.inStatement && this.sim.step === target.done) this.timeline.applyWrites(this.sim);
      this.epochCounter++;
    } finally {
      this.replaying = false;
      this.pendingStop = undefined;
    }
    this.resumeFrom = this.position;
    this.stopLine = undefined;
    return reached;
  }

  /** One step backwards: the previous kernel frame of this statement, or the previous statement. */
  async stepBack(): Promise<RunResult> {
    this.pauseRequested = false;
    const p = this.position;
    if (p.done === 0 && p.phase === 0) return { kind: 'stopped', stop: { reason: 'entry', description: 'At the start' } };
    const reached = await this.goTo(p.phase > 0 ? { done: p.done, phase: p.phase - 1 } : { done: p.done - 1, phase: 0 });
    return reached ? { kind: 'stopped', stop: { reason: 'step', description: 'Stepped back' } } : PAUSED;
  }

  /**
   * Run backwards to the latest earlier position where a breakpoint (line, event or data) would
   * have stopped, or to the start. Replays from the beginning recording candidate positions, in
   * slices; a pause stops the replay where it got to.
   */
  async reverseContinue(): Promise<RunResult> {
    this.pauseRequested = false;
    const target = this.position;
    const hits: { pos: Position; stop: StopInfo }[] = [];
    this.reset();
    this.quiet = true;
    let paused = false;
    try {
      // Run forward from the start as `continue` would, noting every stop before the target.
      paused = await inSlices<boolean>(() => {
        if (!isBefore(this.position, target)) return false;
        const r = this.unit({ kind: 'continue' });
        if (r === undefined) return undefined;
        // A runtime error ends the run there; it is not a place to go back to.
        if (r.kind !== 'stopped' || (r.stop.reason === 'exception' && r.stop.error !== undefined)) return false;
        hits.push({ pos: this.position, stop: r.stop });
        // Go on past this stop, as a continue from it would.
        this.resumeFrom = this.position;
        return undefined;
      }, () => (this.takePause() ? true : undefined));
    } finally {
      this.quiet = false;
    }
    this.lineBps.resetHits();
    if (paused) {
      // Stay where the replay got to: an earlier position than the one reverse-continued from.
      this.pendingStop = undefined;
      this.resumeFrom = this.position;
      this.stopLine = undefined;
      return PAUSED;
    }
    const hit = hits.filter((h) => isBefore(h.pos, target)).pop();
    const reached = await this.goTo(hit?.pos ?? { done: 0, phase: 0 });
    if (!reached) return PAUSED;
    const result: RunResult = { kind: 'stopped', stop: hit?.stop ?? { reason: 'entry', description: 'Reached the start' } };
    // An event taken at the end of its statement shows that statement's line, as it did going forward.
    this.noteStopLine(result);
    return result;
  }
}
