// Runs a checked script on the simulator one statement at a time, keeping an explicit call
// stack (script, fn, repeat, as, fork blocks) so a debugger can stop anywhere, and reports
// runtime errors as `file:line:col: message`. What each statement does is in ./exec.

import type { SourceLoc } from '../events';
import { type GpuJob, JobFault } from '../gpu';
import type { Mm } from '../mm';
import { KernelHang, KernelOops } from '../oops';
import { isLinuxVersion, LINUX_PROFILES } from '../profile';
import { SimError, Simulator } from '../simulator';
import { drain, type KernelWork } from '../kernelWork';
import type { FnDecl, KernelDecl, Loc, Script, Stmt } from './ast';
import { type BlockSpec, type ExecContext, Fail, type Frame, type FrameKind, type LastResult } from './exec/context';
import { execStatement, isExpectation } from './exec/statements';

export type { Frame, FrameKind, LastResult } from './exec/context';

/** What an interpreter checkpoint holds (the simulator saves its own state). */
export interface InterpreterState {
  readonly frames: Frame[];
  readonly last: LastResult;
  readonly lastActionStatement: number;
  readonly forkCount: number;
  readonly drained: boolean;
  readonly finished: boolean;
  readonly error: RuntimeError | undefined;
}

export class RuntimeError extends Error {
  constructor(readonly file: string, readonly loc: Loc, message: string,
    /** The kernel function Linux would oops in (or hang in), when the error is a kernel crash. */
    readonly kernelOops?: string,
    /** Linux would not oops there but wait forever (a hang). */
    readonly kernelHang = false) {
    super(message);
  }
  get formatted(): string {
    return `${this.file}:${this.loc.line}:${this.loc.col}: ${this.message}`;
  }
}

export type StatementOutcome =
  | { readonly kind: 'ok'; readonly stmt: Stmt }
  | { readonly kind: 'done' }
  | { readonly kind: 'error'; readonly error: RuntimeError };

export interface InterpreterOptions {
  readonly sim?: Simulator;
  /** Where `print` output goes. */
  readonly output?: (text: string) => void;
  /**
   * A failing system call (device operation, munmap, mprotect, madvise, pin, unpin) or a CPU
   * access that takes SIGSEGV is recorded (`last.rc`, `syscallOutcome`) and the script goes on,
   * as a program that checks return values would. For differential runs against the kernel.
   */
  readonly failedCallsContinue?: boolean;
}

export class Interpreter implements ExecContext {
  readonly sim: Simulator;
  readonly frames: Frame[] = [];
  readonly last: LastResult = { rc: 0, cpages: 0, faults: 0, data: undefined, flags: undefined };
  readonly fns = new Map<string, FnDecl>();
  readonly kernels = new Map<string, KernelDecl>();
  readonly jobs = new Map<string, GpuJob>();
  /** The script's end waits for GPU work still running (an implicit `wait all`), once. */
  private drained = false;
  private readonly output: (text: string) => void;
  /** Number of the last statement that was not an expectation (`expect notified` looks at it). */
  lastActionStatement = -1;
  private forkCount = 0;
  readonly failedCallsContinue: boolean;
  finished = false;
  error: RuntimeError | undefined;
  /**
   * What the last statement's system call returned, as user space would see it (the kernel
   * oracle compares it): the errno of munmap/mprotect/madvise/pin/unpin or of a device
   * operation, or the page of a CPU access that took SIGSEGV. Undefined when the statement made
   * no system call or failed before reaching the kernel (a script error).
   */
  syscallOutcome: { readonly rc: number; readonly faultVpn?: number; readonly signal?: 'SIGSEGV' | 'SIGBUS' } | undefined;

  constructor(readonly script: Script, opts: InterpreterOptions = {}) {
    this.sim = opts.sim ?? new Simulator();
    this.output = opts.output ?? (() => undefined);
    this.failedCallsContinue = opts.failedCallsContinue ?? false;
    for (const s of script.body) {
      if (s.kind === 'fn') this.fns.set(s.name, s);
      if (s.kind === 'kernel') this.kernels.set(s.name, s);
      // The script's own kernel version wins over the run's option (it is what it was written for).
      if (s.kind === 'linux' && isLinuxVersion(s.version)) this.sim.profile = LINUX_PROFILES[s.version];
    }
    this.frames.push(this.newFrame('script', script.file, script.body, this.sim.process('main')!, new Map(), undefined));
  }

  get file(): string {
    return this.script.file;
  }

  private newFrame(kind: FrameKind, name: string, body: readonly Stmt[], process: Mm, vars: Map<string, number>,
    headerLoc: Loc | undefined, count = 1, varName?: string, endLoc?: Loc): Frame {
    return { kind, name, body, pc: 0, process, vars, iter: 0, count, varName, headerLoc, endLoc };
  }

  save(): InterpreterState {
    return {
      frames: this.frames.map((f) => ({ ...f, vars: new Map(f.vars) })),
      last: { ...this.last },
      lastActionStatement: this.lastActionStatement,
      forkCount: this.forkCount,
      drained: this.drained,
      finished: this.finished,
      error: this.error,
    };
  }

  load(s: InterpreterState): void {
    this.frames.length = 0;
    for (const f of s.frames) this.frames.push({ ...f, vars: new Map(f.vars) });
    Object.assign(this.last, s.last);
    this.lastActionStatement = s.lastActionStatement;
    this.forkCount = s.forkCount;
    this.drained = s.drained;
    this.finished = s.finished;
    this.error = s.error;
  }

  /**
   * The statement that runs next (after popping finished blocks), or undefined at the end. At
   * the end of a `fork {` block it is the child's exit, located at the block's `}`.
   */
  nextStatement(): Stmt | undefined {
    this.settle();
    const f = this.frames[this.frames.length - 1];
    if (f === undefined) return undefined;
    if (f.kind === 'fork' && f.pc >= f.body.length) {
      const loc = f.endLoc ?? f.headerLoc ?? { line: 1, col: 1 };
      return { kind: 'exit', process: f.process.name, processLoc: loc, loc };
    }
    if (f.kind === 'script' && f.pc >= f.body.length && !this.drained && !this.sim.gpu.idle) {
      const last = f.body[f.body.length - 1];
      return { kind: 'wait', target: { kind: 'all' }, loc: last?.loc ?? { line: 1, col: 1 } };
    }
    return f.body[f.pc];
  }

  get process(): Mm {
    return this.frames[this.frames.length - 1]?.process ?? this.sim.process('main')!;
  }

  /** Pop finished blocks: repeat loops go round, fork blocks end with the child's exit. */
  private settle(): void {
    for (;;) {
      const f = this.frames[this.frames.length - 1];
      if (f === undefined) return;
      // Skip declarations that only matter before the run.
      while (f.pc < f.body.length && (f.body[f.pc]!.kind === 'fn' || f.body[f.pc]!.kind === 'kernel')) f.pc++;
      if (f.pc < f.body.length) return;
      if (f.kind === 'repeat' && f.iter + 1 < f.count) {
        // A body with nothing to run would go round here `count` times in one call: skip to its last turn.
        f.iter = f.body.every((x) => x.kind === 'fn' || x.kind === 'kernel') ? f.count - 1 : f.iter + 1;
        f.pc = 0;
        if (f.varName !== undefined) f.vars.set(f.varName, f.iter);
        continue;
      }
      // A fork block's end is a step of its own: the child's exit (see nextStatement).
      if (f.kind === 'fork' || f.kind === 'script') return;
      this.frames.pop();
    }
  }

  /** The next statement as kernel work: it pauses at each kernel frame it enters. */
  *statementWork(): KernelWork<StatementOutcome> {
    if (this.error) return { kind: 'error', error: this.error };
    const stmt = this.nextStatement();
    if (stmt === undefined) {
      this.finished = true;
      return { kind: 'done' };
    }
    const frame = this.frames[this.frames.length - 1]!;
    if (frame.kind === 'fork' && frame.pc >= frame.body.length) this.frames.pop();
    else if (frame.kind === 'script' && frame.pc >= frame.body.length) this.drained = true;
    else frame.pc++;
    this.sim.step++;
    this.sim.loc = { file: this.file, line: stmt.loc.line, col: stmt.loc.col };
    this.syscallOutcome = undefined;
    try {
      // GPU work due by now takes its turn first (see gpu.ts for the interleaving order).
      if (!this.sim.gpu.idle) yield* this.sim.gpu.advanceTo(this.sim.clock.now);
      yield* execStatement(this, stmt, frame);
      if (!isExpectation(stmt)) this.lastActionStatement = this.sim.step;
      if (this.sim.checkInvariantsAfterStep) this.sim.checkInvariants();
      return { kind: 'ok', stmt };
    } catch (e) {
      const err = this.toRuntimeError(e, stmt.loc);
      this.error = err;
      return { kind: 'error', error: err };
    }
  }

  private toRuntimeError(e: unknown, loc: Loc): RuntimeError {
    if (e instanceof Fail) return new RuntimeError(this.file, e.loc, e.message);
    if (e instanceof KernelOops) return new RuntimeError(this.file, loc, e.message, e.fn, e instanceof KernelHang);
    if (e instanceof SimError) return new RuntimeError(this.file, loc, e.message);
    if (e instanceof JobFault) return new RuntimeError(this.file, e.pos, e.message);
    const msg = e instanceof Error ? e.message : String(e);
    return new RuntimeError(this.file, loc, `internal error: ${msg}`);
  }

  /**
   * Ends the run with `stopped: REASON` at the statement about to run (a time or memory budget
   * ran out between statements; inside one, the budget's SimError is thrown into its kernel work).
   */
  stop(reason: string): StatementOutcome {
    const loc = this.nextStatement()?.loc ?? this.frames[0]?.body[this.frames[0].body.length - 1]?.loc ?? { line: 1, col: 1 };
    this.error = new RuntimeError(this.file, loc, `stopped: ${reason}`);
    return { kind: 'error', error: this.error };
  }

  /** Run one statement to its end. */
  runStatement(): StatementOutcome {
    return drain(this.statementWork());
  }

  /** Run to the end or the first runtime error. */
  run(): StatementOutcome {
    for (;;) {
      const r = this.runStatement();
      if (r.kind !== 'ok') return r;
    }
  }

  /** Source location of every frame, innermost first (for stack traces). */
  stackLocations(): { name: string; loc: SourceLoc | undefined }[] {
    const out: { name: string; loc: SourceLoc | undefined }[] = [];
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i]!;
      const s = f.body[Math.min(f.pc, f.body.length - 1)];
      const cur = i === this.frames.length - 1 ? f.body[f.pc] : f.body[f.pc - 1];
      const loc = (cur ?? s)?.loc;
      out.push({ name: f.name, loc: loc ? { file: this.file, line: loc.line, col: loc.col } : undefined });
    }
    return out;
  }

  // ---- ExecContext: what statements use --------------------------------------------------

  nextChildName(parent: Mm): string {
    return `${parent.name}.child${++this.forkCount}`;
  }

  enterBlock(b: BlockSpec): void {
    this.frames.push(this.newFrame(b.kind, b.name, b.body, b.process, b.vars, b.headerLoc, b.count, b.varName, b.endLoc));
  }

  print(text: string): void {
    this.sim.emit(this.process.name, 0, 0, { kind: 'print', text });
    this.output(text);
  }
}
