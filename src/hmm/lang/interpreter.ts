// Layer: the .hmm language (src/hmm/lang). Imports ./ast, ./pattern and the simulator.
// Runs a checked script on the simulator one statement at a time, keeping an explicit call
// stack (script, fn, repeat, as, fork blocks) so a debugger can stop anywhere, and reports
// runtime errors as `file:line:col: message`.

import { errnoName, WORDS_PER_PAGE } from '../constants';
import type { PageContents } from '../content';
import type { SourceLoc } from '../events';
import type { Device } from '../memremap';
import { type GpuJob, JobFault, type KernelOp } from '../gpu';
import type { Mm } from '../mm';
import { KernelOops } from '../oops';
import { isLinuxVersion, LINUX_PROFILES } from '../profile';
import { type Advice, NO_ADVICE } from '../uvm';
import { type PageState, SimError, Simulator } from '../simulator';
import { drain, PREEMPT, preemptAt, type Step } from '../step';
import { DEFAULT_LINK, LINK_PRESETS } from '../timing';
import type { CompareOp, Errno, IndexRange, KernelDecl, Loc, PageStatePattern, RangeRef, Script, Stmt } from './ast';
import { compile, evalConst, patternText } from './pattern';
import { renderResidency } from './residency';

/** Default device memory: 256 MiB. */
const DEFAULT_DEVICE_PAGES = 65536;

export type FrameKind = 'script' | 'fn' | 'repeat' | 'as' | 'fork';

export interface Frame {
  readonly kind: FrameKind;
  /** Display name: the file, the fn, `repeat`, `as child`, `fork child`. */
  readonly name: string;
  readonly body: readonly Stmt[];
  pc: number;
  readonly process: Mm;
  readonly vars: Map<string, number>;
  /** repeat: iteration and count. */
  iter: number;
  readonly count: number;
  readonly varName: string | undefined;
  /** Where the block started (its header line) and where its `}` is. */
  readonly headerLoc: Loc | undefined;
  readonly endLoc: Loc | undefined;
}

/** What an interpreter checkpoint holds (the simulator saves its own state). */
export interface InterpreterState {
  readonly frames: Frame[];
  readonly last: LastResult;
  readonly lastActionStep: number;
  readonly forkCount: number;
  readonly drained: boolean;
  readonly finished: boolean;
  readonly error: RuntimeError | undefined;
}

/** `last`: the result of the last device operation. */
export interface LastResult {
  rc: number;
  cpages: number;
  faults: number;
  data: { pages: PageContents; start: number; mapStart: number; count: number } | undefined;
  flags: { bytes: Uint8Array; start: number; mapStart: number } | undefined;
}

export class RuntimeError extends Error {
  constructor(readonly file: string, readonly loc: Loc, message: string,
    /** The kernel function Linux would oops in, when the error is a kernel crash. */
    readonly kernelOops?: string) {
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

const ERRNO_VALUES: Readonly<Record<Errno, number>> = {
  EFAULT: -14, EPERM: -1, EINVAL: -22, ENOENT: -2, ENOMEM: -12, EBUSY: -16, EOPNOTSUPP: -95,
};

class Fail extends Error {
  constructor(readonly loc: Loc, message: string) {
    super(message);
  }
}

export class Interpreter {
  readonly sim: Simulator;
  readonly frames: Frame[] = [];
  readonly last: LastResult = { rc: 0, cpages: 0, faults: 0, data: undefined, flags: undefined };
  private readonly fns = new Map<string, Stmt & { kind: 'fn' }>();
  private readonly kernels = new Map<string, KernelDecl>();
  private readonly jobs = new Map<string, GpuJob>();
  /** The script's end waits for GPU work still running (an implicit `wait all`), once. */
  private drained = false;
  private readonly output: (text: string) => void;
  /** Step number of the last statement that was not an expectation (`expect notified` looks at it). */
  private lastActionStep = -1;
  private forkCount = 0;
  private readonly failedCallsContinue: boolean;
  finished = false;
  error: RuntimeError | undefined;
  /**
   * What the last statement's system call returned, as user space would see it (the kernel
   * oracle compares it): the errno of munmap/mprotect/madvise/pin/unpin or of a device
   * operation, or the page of a CPU access that took SIGSEGV. Undefined when the statement made
   * no system call or failed before reaching the kernel (a script error).
   */
  syscallOutcome: { readonly rc: number; readonly faultVpn?: number } | undefined;

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
      lastActionStep: this.lastActionStep,
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
    this.lastActionStep = s.lastActionStep;
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

  /** Execute the next statement as a Step (pausable at kernel frames). */
  *stepStatement(): Step<StatementOutcome> {
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
      yield* this.exec(stmt, frame);
      if (!isExpectation(stmt)) this.lastActionStep = this.sim.step;
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
    if (e instanceof KernelOops) return new RuntimeError(this.file, loc, e.message, e.fn);
    if (e instanceof SimError) return new RuntimeError(this.file, loc, e.message);
    if (e instanceof JobFault) return new RuntimeError(this.file, e.pos, e.message);
    const msg = e instanceof Error ? e.message : String(e);
    return new RuntimeError(this.file, loc, `internal error: ${msg}`);
  }

  /**
   * Ends the run with `stopped: REASON` at the statement about to run (a time or memory budget
   * ran out between statements; inside one, the budget's SimError is thrown into its step).
   */
  stop(reason: string): StatementOutcome {
    const loc = this.nextStatement()?.loc ?? this.frames[0]?.body[this.frames[0].body.length - 1]?.loc ?? { line: 1, col: 1 };
    this.error = new RuntimeError(this.file, loc, `stopped: ${reason}`);
    return { kind: 'error', error: this.error };
  }

  /** Run one statement to its end. */
  step(): StatementOutcome {
    return drain(this.stepStatement());
  }

  /** Run to the end or the first runtime error. */
  run(): StatementOutcome {
    for (;;) {
      const r = this.step();
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

  // ---- helpers ----------------------------------------------------------------------------

  private vars(frame: Frame): Map<string, number> {
    return frame.vars;
  }

  private device(name: string, loc: Loc): Device {
    const d = this.sim.devices.find((x) => x.name === name);
    if (d === undefined) throw new Fail(loc, `device ${name} is not declared yet`);
    return d;
  }

  /** A RangeRef as [start, end) virtual pages, checked against the mapping's size. */
  private range(r: RangeRef, frame: Frame): { start: number; end: number; mapStart: number; text: string } {
    const b = this.sim.bindings.get(r.mapping);
    if (b === undefined) throw new Fail(r.mappingLoc, `${r.mapping} is not mapped yet`);
    const vars = this.vars(frame);
    const s = r.start === undefined ? 0 : evalConst(r.start, vars);
    const e = r.single ? s + 1 : r.end === undefined ? b.pages : evalConst(r.end, vars);
    if (s < 0 || e > b.pages || s >= e) {
      throw new Fail(r.loc, `${r.mapping}[${s}..${e}] is outside ${r.mapping} (${b.pages} pages)`);
    }
    const text = s === 0 && e === b.pages ? r.mapping : e - s === 1 ? `${r.mapping}[${s}]` : `${r.mapping}[${s}..${e}]`;
    return { start: b.start + s, end: b.start + e, mapStart: b.start, text };
  }

  private requireAlive(mm: Mm, loc: Loc): void {
    if (!mm.alive) throw new Fail(loc, `process ${mm.name} has exited`);
  }

  /** Apply a device operation's result to `last`, and check it against `-> ERRNO`. */
  private deviceResult(stmt: Stmt, what: string, r: { rc: number; cpages: number; faults: number }): boolean {
    this.last.rc = r.rc;
    this.syscallOutcome = { rc: r.rc };
    const want = stmt.expectErrno;
    if (r.rc === 0) {
      this.last.cpages = r.cpages;
      this.last.faults = r.faults;
      if (want !== undefined) throw new Fail(stmt.loc, `${what} succeeded, expected it to fail with ${want}`);
      return true;
    }
    if (want === undefined && this.failedCallsContinue) return false;
    if (want === undefined) throw new Fail(stmt.loc, `${what} failed with ${errnoName(r.rc)}`);
    if (ERRNO_VALUES[want] !== r.rc) throw new Fail(stmt.loc, `${what} failed with ${errnoName(r.rc)}, expected ${want}`);
    return false;
  }

  // ---- statements -------------------------------------------------------------------------

  private *exec(stmt: Stmt, frame: Frame): Step<void> {
    const sim = this.sim;
    const mm = frame.process;
    switch (stmt.kind) {
      case 'device': {
        const link = stmt.link ?? DEFAULT_LINK;
        if (LINK_PRESETS[link] === undefined) {
          throw new Fail(stmt.linkLoc ?? stmt.loc, `unknown link ${link} (one of ${Object.keys(LINK_PRESETS).join(', ')})`);
        }
        sim.addDevice(stmt.name, stmt.memoryKind, stmt.memoryPages ?? DEFAULT_DEVICE_PAGES, link, stmt.policy ?? 'migrate');
        return;
      }
      case 'file':
        sim.addFile(stmt.name, stmt.pages, stmt.init === undefined ? undefined : compile(stmt.init, frame.vars));
        return;
      case 'mmap':
        this.requireAlive(mm, stmt.loc);
        sim.mmap(mm, stmt.name, stmt.source.kind === 'anon' ? { pages: stmt.source.pages } : { file: stmt.source.file },
          stmt.prot, stmt.shared, stmt.huge);
        return;
      case 'fn':
      case 'kernel':
      case 'linux':
        return;
      case 'read':
      case 'write': {
        this.requireAlive(mm, stmt.loc);
        const r = this.range(stmt.range, frame);
        const pattern = stmt.kind === 'write' ? compile(stmt.pattern, frame.vars) : undefined;
        const bad = yield* sim.cpuAccess(mm, r.start, r.end, pattern);
        this.syscallOutcome = bad === undefined ? { rc: 0 } : { rc: 0, faultVpn: bad.vpn };
        if (bad !== undefined && !this.failedCallsContinue) {
          throw new Fail(stmt.range.loc, `SIGSEGV: ${stmt.kind} of ${sim.describeRange(bad.vpn, bad.vpn + 1)} ` +
            `(${describeAccessProblem(mm, bad.vpn, stmt.kind === 'write')})`);
        }
        return;
      }
      case 'munmap': {
        const r = this.range(stmt.range, frame);
        const rc = yield* sim.munmap(mm, r.start, r.end);
        this.syscallOutcome = { rc };
        if (rc && !this.failedCallsContinue) throw new Fail(stmt.loc, `munmap ${r.text} failed with ${errnoName(rc)}`);
        return;
      }
      case 'mprotect': {
        const r = this.range(stmt.range, frame);
        const rc = yield* sim.mprotect(mm, r.start, r.end, stmt.prot);
        this.syscallOutcome = { rc };
        if (rc && !this.failedCallsContinue) throw new Fail(stmt.loc, `mprotect ${r.text} failed with ${errnoName(rc)} (part of the range is not mapped)`);
        return;
      }
      case 'madvise': {
        const r = this.range(stmt.range, frame);
        const rc = yield* sim.madvise(mm, r.start, r.end, stmt.advice);
        this.syscallOutcome = { rc };
        if (rc && !this.failedCallsContinue) throw new Fail(stmt.loc, `madvise ${r.text} ${stmt.advice} failed with ${errnoName(rc)}`);
        return;
      }
      case 'pin': {
        const r = this.range(stmt.range, frame);
        const bad = yield* sim.pin(mm, r.start, r.end, stmt.longterm);
        this.syscallOutcome = { rc: bad ? bad.rc : 0 };
        if (bad && !this.failedCallsContinue) throw new Fail(stmt.range.loc, `pin of ${sim.describeRange(bad.vpn, bad.vpn + 1)} failed with ${errnoName(bad.rc)}`);
        return;
      }
      case 'unpin': {
        const r = this.range(stmt.range, frame);
        const bad = sim.unpin(mm, r.start, r.end);
        this.syscallOutcome = { rc: bad ? bad.rc : 0 };
        if (bad && !this.failedCallsContinue) throw new Fail(stmt.range.loc, `${sim.describeRange(bad.vpn, bad.vpn + 1)} is not pinned`);
        return;
      }
      case 'compute':
        sim.clock.advance(stmt.ns);
        return;
      case 'devRead': {
        this.requireAlive(mm, stmt.loc);
        const r = this.range(stmt.range, frame);
        const m = sim.openMirror(mm, this.device(stmt.device, stmt.deviceLoc));
        const res = yield* sim.driver.read(m, r.start, r.end - r.start);
        if (this.deviceResult(stmt, `${stmt.device} read ${r.text}`, res)) this.setData(res.data, r);
        return;
      }
      case 'devWrite': {
        this.requireAlive(mm, stmt.loc);
        const r = this.range(stmt.range, frame);
        const m = sim.openMirror(mm, this.device(stmt.device, stmt.deviceLoc));
        const id = sim.contents.intern(compile(stmt.pattern, frame.vars));
        const res = yield* sim.driver.write(m, r.start, r.end - r.start, id, r.mapStart);
        this.deviceResult(stmt, `${stmt.device} write ${r.text}`, res);
        return;
      }
      case 'migrate': {
        this.requireAlive(mm, stmt.loc);
        const r = this.range(stmt.range, frame);
        if (stmt.target.kind === 'device') {
          const m = sim.openMirror(mm, this.device(stmt.target.name, stmt.target.loc));
          const res = yield* sim.driver.migrateToDevice(m, r.start, r.end - r.start);
          if (this.deviceResult(stmt, `migrate ${r.text} to ${stmt.target.name}`, res)) this.setData(res.data, r);
          return;
        }
        const devices = stmt.from !== undefined ? [this.device(stmt.from, stmt.fromLoc ?? stmt.loc)] : sim.devices;
        let cpages = 0;
        for (const d of devices) {
          const m = sim.openMirror(mm, d);
          const res = yield* sim.driver.migrateToSystem(m, r.start, r.end - r.start);
          if (res.rc) {
            this.deviceResult(stmt, `migrate ${r.text} to system from ${d.name}`, res);
            return;
          }
          cpages += res.cpages;
        }
        this.deviceResult(stmt, `migrate ${r.text} to system`, { rc: 0, cpages, faults: 0 });
        return;
      }
      case 'snapshot': {
        this.requireAlive(mm, stmt.loc);
        const r = this.range(stmt.range, frame);
        const m = sim.openMirror(mm, this.device(stmt.device, stmt.deviceLoc));
        const res = yield* sim.driver.snapshot(m, r.start, r.end - r.start);
        if (this.deviceResult(stmt, `${stmt.device} snapshot ${r.text}`, res)) {
          this.last.flags = { bytes: res.flags!, start: r.start, mapStart: r.mapStart };
        }
        return;
      }
      case 'exclusive': {
        this.requireAlive(mm, stmt.loc);
        const r = this.range(stmt.range, frame);
        const m = sim.openMirror(mm, this.device(stmt.device, stmt.deviceLoc));
        const res = yield* sim.driver.exclusive(m, r.start, r.end - r.start);
        if (this.deviceResult(stmt, `${stmt.device} exclusive ${r.text}`, res)) this.setData(res.data, r);
        return;
      }
      case 'checkExclusive': {
        const r = this.range(stmt.range, frame);
        const m = sim.openMirror(mm, this.device(stmt.device, stmt.deviceLoc));
        this.deviceResult(stmt, `${stmt.device} check-exclusive ${r.text}`, sim.driver.checkExclusive(m, r.start, r.end - r.start));
        return;
      }
      case 'release': {
        const d = this.device(stmt.device, stmt.deviceLoc);
        sim.openMirror(mm, d);
        yield* sim.driver.evictDevice(d, 'release');
        this.deviceResult(stmt, `${stmt.device} release`, { rc: 0, cpages: 0, faults: 0 });
        return;
      }
      case 'failNextAlloc': {
        const m = sim.openMirror(mm, this.device(stmt.device, stmt.deviceLoc));
        // HMM_DMIRROR_FLAGS is newer than 6.12: the ioctl is unknown there (-EINVAL).
        if (sim.profile.dmirrorFlags) m.failAlloc = true;
        this.deviceResult(stmt, `${stmt.device} fail-next-alloc`, { rc: sim.profile.dmirrorFlags ? 0 : -22, cpages: 0, faults: 0 });
        return;
      }
      case 'close': {
        const m = sim.openMirror(mm, this.device(stmt.device, stmt.deviceLoc));
        yield* sim.driver.close(m);
        this.deviceResult(stmt, `${stmt.device} close`, { rc: 0, cpages: 0, faults: 0 });
        return;
      }
      case 'fork': {
        this.requireAlive(mm, stmt.loc);
        yield* sim.fork(mm, stmt.name);
        return;
      }
      case 'forkBlock': {
        this.requireAlive(mm, stmt.loc);
        const name = `${mm.name}.child${++this.forkCount}`;
        const child = yield* sim.fork(mm, name);
        this.frames.push(this.newFrame('fork', `fork ${name}`, stmt.body, child, new Map(frame.vars), stmt.loc, 1, undefined, stmt.endLoc));
        return;
      }
      case 'as': {
        const p = sim.process(stmt.process);
        if (p === undefined) throw new Fail(stmt.processLoc, `no process ${stmt.process}`);
        this.requireAlive(p, stmt.processLoc);
        this.frames.push(this.newFrame('as', `as ${stmt.process}`, stmt.body, p, new Map(frame.vars), stmt.loc, 1, undefined, stmt.endLoc));
        return;
      }
      case 'exit': {
        const p = sim.process(stmt.process);
        if (p === undefined) throw new Fail(stmt.processLoc, `no process ${stmt.process}`);
        this.requireAlive(p, stmt.processLoc);
        yield* sim.exit(p);
        return;
      }
      case 'call': {
        const fn = this.fns.get(stmt.name);
        if (fn === undefined) throw new Fail(stmt.nameLoc, `no fn ${stmt.name}`);
        this.frames.push(this.newFrame('fn', stmt.name, fn.body, mm, new Map(frame.vars), stmt.loc, 1, undefined, fn.endLoc));
        return;
      }
      case 'repeat': {
        const n = evalConst(stmt.count, frame.vars);
        if (n <= 0) return;
        const vars = new Map(frame.vars);
        if (stmt.var !== undefined) vars.set(stmt.var, 0);
        this.frames.push(this.newFrame('repeat', stmt.var ? `repeat ${stmt.var}` : 'repeat', stmt.body, mm, vars, stmt.loc, n, stmt.var, stmt.endLoc));
        return;
      }
      case 'print':
        if (stmt.what.kind === 'text') this.print(stmt.what.text);
        else {
          const r = this.range(stmt.what.range, frame);
          this.print(renderResidency(sim, mm, r.start, r.end, r.text));
        }
        return;
      case 'launch': {
        this.requireAlive(mm, stmt.loc);
        const k = this.kernels.get(stmt.kernel);
        if (k === undefined) throw new Fail(stmt.kernelLoc, `no kernel ${stmt.kernel}`);
        const dev = this.device(stmt.device, stmt.deviceLoc);
        if (stmt.args.length !== k.params.length) throw new Fail(stmt.loc, `${k.name} takes ${k.params.length} argument(s), got ${stmt.args.length}`);
        const args = new Map<string, { start: number; end: number; mapStart: number }>();
        k.params.forEach((p, i) => args.set(p.name, this.range(stmt.args[i]!, frame)));
        const ops: KernelOp[] = k.body.map((ks) => {
          const pos = { line: ks.loc.line, col: ks.loc.col };
          if (ks.kind === 'kcompute') return { kind: 'compute', ns: ks.ns, pos };
          const a = args.get(ks.range.mapping);
          if (a === undefined) throw new Fail(ks.range.mappingLoc, `${ks.range.mapping} is not a parameter of ${k.name}`);
          const n = a.end - a.start;
          const s0 = ks.range.start === undefined ? 0 : evalConst(ks.range.start, frame.vars);
          const e0 = ks.range.single ? s0 + 1 : ks.range.end === undefined ? n : evalConst(ks.range.end, frame.vars);
          if (s0 < 0 || e0 > n || s0 >= e0) throw new Fail(ks.range.loc, `${ks.range.mapping}[${s0}..${e0}] is outside the argument (${n} pages)`);
          const access = ks.kind === 'kread' ? 'read' : ks.kind === 'kwrite' ? 'write' : 'atomic';
          const pattern = ks.kind === 'kwrite' ? compile(ks.pattern, frame.vars) : undefined;
          return { kind: 'access', access, start: a.start + s0, end: a.start + e0, mapStart: a.mapStart, pattern, pos };
        });
        const job = sim.gpu.launch(stmt.job, k.name, dev, mm, ops, { line: stmt.loc.line, col: stmt.loc.col });
        if (stmt.job !== undefined) this.jobs.set(stmt.job, job);
        return;
      }
      case 'wait': {
        const t = stmt.target;
        if (t.kind === 'all') yield* sim.gpu.waitAll();
        else {
          const job = this.jobs.get(t.name);
          if (job !== undefined) yield* sim.gpu.waitJob(job);
          else yield* sim.gpu.waitDevice(this.device(t.name, t.loc));
        }
        return;
      }
      case 'advise': {
        const r = this.range(stmt.range, frame);
        const a = stmt.advice;
        const change = ((): ((x: Advice) => Advice) => {
          switch (a.kind) {
            case 'preferred': return (x) => ({ ...x, preferred: a.target.kind === 'system' ? -1 : this.device(a.target.name, a.target.loc).index });
            case 'accessed-by': return (x) => ({ ...x, accessedBy: x.accessedBy | (1 << this.device(a.device, a.deviceLoc).index) });
            case 'read-mostly': return (x) => ({ ...x, readMostly: true });
            case 'unset': return () => NO_ADVICE;
          }
        })();
        sim.gpu.adviceOf(mm).update(r.start, r.end, change);
        return;
      }
      case 'prefetch': {
        this.requireAlive(mm, stmt.loc);
        const r = this.range(stmt.range, frame);
        const pos = { line: stmt.loc.line, col: stmt.loc.col };
        if (stmt.target.kind === 'device') sim.gpu.prefetch(mm, r.start, r.end, this.device(stmt.target.name, stmt.target.loc), true, pos);
        else for (const d of sim.devices) sim.gpu.prefetch(mm, r.start, r.end, d, false, pos);
        return;
      }
      default:
        yield* this.expect(stmt, frame);
    }
  }

  private print(text: string): void {
    this.sim.emit(this.process.name, 0, 0, { kind: 'print', text });
    this.output(text);
  }

  private setData(data: PageContents | undefined, r: { start: number; end: number; mapStart: number }): void {
    if (data === undefined) return;
    this.last.data = { pages: data, start: r.start, mapStart: r.mapStart, count: r.end - r.start };
  }

  // ---- expectations -----------------------------------------------------------------------

  private *expect(stmt: Stmt, frame: Frame): Step<void> {
    const sim = this.sim;
    const mm = frame.process;
    switch (stmt.kind) {
      case 'expectData': {
        const r = this.range(stmt.range, frame);
        const p = compile(stmt.pattern, frame.vars);
        for (let v = r.start; v < r.end; v++) {
          if (preemptAt(v - r.start)) yield PREEMPT;
          const c = sim.pageContent(mm, v);
          if (c === undefined) throw new Fail(stmt.loc, `expected ${r.text} == ${patternText(stmt.pattern)}, found ${sim.describeRange(v, v + 1)} unmapped`);
          const k = sim.contents.firstMismatch(c[0], c[1], p, v - r.mapStart);
          if (k >= 0) {
            const idx = (v - r.mapStart) * WORDS_PER_PAGE + k;
            throw new Fail(stmt.loc, `expected ${r.text} == ${patternText(stmt.pattern)}, found ${sim.describeRange(v, v + 1)} ` +
              `word ${k} (i = ${idx}) = ${sim.contents.word(c[0], c[1], k)}, expected ${p.word(idx) | 0}`);
          }
        }
        return;
      }
      case 'expectState': {
        const r = this.range(stmt.range, frame);
        for (let v = r.start; v < r.end; v++) {
          if (preemptAt(v - r.start)) yield PREEMPT;
          const st = sim.pageState(mm, v);
          if (!stateMatches(st, stmt.state)) {
            throw new Fail(stmt.loc, `expected ${sim.describeRange(v, v + 1)} is ${stateText(stmt.state)}, found ${foundText(st)}`);
          }
        }
        return;
      }
      case 'expectMaps': {
        const r = this.range(stmt.range, frame);
        const d = this.device(stmt.device, stmt.deviceLoc);
        for (let v = r.start; v < r.end; v++) {
          if (preemptAt(v - r.start)) yield PREEMPT;
          const got = sim.mirrorMapping(mm, d, v);
          if (got !== stmt.mapping) {
            throw new Fail(stmt.loc, `expected ${stmt.device} maps ${sim.describeRange(v, v + 1)} as ${stmt.mapping}, found ${got}`);
          }
        }
        return;
      }
      case 'expectRc': {
        const want = stmt.rc === 0 ? 0 : ERRNO_VALUES[stmt.rc];
        if (this.last.rc !== want) throw new Fail(stmt.loc, `expected last.rc == ${stmt.rc}, found ${errnoName(this.last.rc)}`);
        return;
      }
      case 'expectCounter': {
        const want = evalConst(stmt.value, frame.vars);
        const got = this.last[stmt.counter];
        if (got !== want) throw new Fail(stmt.loc, `expected last.${stmt.counter} == ${want}, found ${got}`);
        return;
      }
      case 'expectLastData': {
        const d = this.last.data;
        if (d === undefined) throw new Fail(stmt.loc, 'expected last.data, but no device operation has read data yet');
        const [s, e] = this.indexRange(stmt.index, d.start - d.mapStart, d.count, frame, 'last.data');
        const p = compile(stmt.pattern, frame.vars);
        const off = d.start - d.mapStart;
        for (const run of d.pages.runs(s - off, e - off)) {
          for (let j = 0; j < run.count; j++) {
            if (preemptAt(j)) yield PREEMPT;
            const pi = run.index + off + j;
            const k = sim.contents.firstMismatch(run.id, run.page + j, p, pi);
            if (k >= 0) {
              const idx = pi * WORDS_PER_PAGE + k;
              throw new Fail(stmt.loc, `expected last.data == ${patternText(stmt.pattern)}, found page ${pi} word ${k} (i = ${idx}) = ` +
                `${sim.contents.word(run.id, run.page + j, k)}, expected ${p.word(idx) | 0}`);
            }
          }
        }
        return;
      }
      case 'expectLastFlags': {
        const fl = this.last.flags;
        if (fl === undefined) throw new Fail(stmt.loc, 'expected last.flags, but no snapshot has run yet');
        const off = fl.start - fl.mapStart;
        const [s, e] = this.indexRange(stmt.index, off, fl.bytes.length, frame, 'last.flags');
        for (let pi = s; pi < e; pi++) {
          if (preemptAt(pi - s)) yield PREEMPT;
          const got = fl.bytes[pi - off]!;
          if (got !== stmt.flags) {
            throw new Fail(stmt.loc, `expected last.flags[${pi}] == ${flagText(stmt.flags)}, found ${flagText(got)}`);
          }
        }
        return;
      }
      case 'expectNotified': {
        const d = this.device(stmt.device, stmt.deviceLoc);
        const recs = sim.notifierRecordsOf(this.lastActionStep).filter((n) => n.mirror.device === d && n.mirror.mm === mm);
        const r = stmt.range === undefined ? undefined : this.range(stmt.range, frame);
        const matches = recs.filter((n) => n.event === stmt.event &&
          (r === undefined || (n.start === r.start && n.end === r.end)) &&
          (stmt.owner === undefined || n.owner === (stmt.owner === null ? null : stmt.owner.device)));
        if (matches.length === 0) {
          const seen = recs.length === 0 ? 'no callback' :
            recs.slice(0, 4).map((n) => `${n.event} ${sim.describeRange(n.start, n.end)} owner ${n.owner ?? 'none'}`).join('; ') +
            (recs.length > 4 ? `; … (${recs.length} in all)` : '');
          const want = `${stmt.event}${r ? ` ${r.text}` : ''}${stmt.owner === undefined ? '' : ` owner ${stmt.owner?.device ?? 'none'}`}`;
          throw new Fail(stmt.loc, `expected ${stmt.device}'s mirror notified ${want}, found ${seen}`);
        }
        return;
      }
      case 'expectNotNotified': {
        const d = this.device(stmt.device, stmt.deviceLoc);
        const recs = sim.notifierRecordsOf(this.lastActionStep).filter((n) => n.mirror.device === d && n.mirror.mm === mm);
        if (recs.length > 0) {
          const n = recs[0]!;
          throw new Fail(stmt.loc, `expected no callback of ${stmt.device}'s mirror, found ${recs.length} (first: ${n.event} ${sim.describeRange(n.start, n.end)})`);
        }
        return;
      }
      case 'expectUsed': {
        const d = this.device(stmt.device, stmt.deviceLoc);
        if (d.used !== stmt.pages) throw new Fail(stmt.loc, `expected ${stmt.device} used == ${stmt.pages} pages, found ${d.used} pages`);
        return;
      }
      case 'expectStats': {
        const c = stmt.counter;
        let got: number;
        let name: string;
        if (c.owner === undefined) {
          got = sim.clock.now;
          name = 'time';
        } else if (c.owner === 'cpu') {
          got = sim.stats.cpuFaults;
          name = 'cpu.faults';
        } else {
          const s = sim.deviceStats(this.device(c.owner, c.ownerLoc ?? stmt.loc));
          const table: Record<string, number> = { faults: s.faults, pages_in: s.pagesIn, pages_out: s.pagesOut, evictions: s.evictions };
          const v = table[c.counter];
          if (v === undefined) throw new Fail(stmt.loc, `no counter ${c.owner}.${c.counter}`);
          got = v;
          name = `${c.owner}.${c.counter}`;
        }
        if (!compare(got, stmt.op, stmt.value)) {
          const fmt = (n: number): string => (stmt.valueIsDuration ? `${n} ns` : String(n));
          throw new Fail(stmt.loc, `expected stats.${name} ${stmt.op} ${fmt(stmt.value)}, found ${fmt(got)}`);
        }
        return;
      }
      default:
        throw new Fail(stmt.loc, `statement '${stmt.kind}' cannot run here`);
    }
  }

  /** Page indices (as for the mapping) of last.data / last.flags, checked against what was read. */
  private indexRange(ix: IndexRange | undefined, first: number, count: number, frame: Frame, what: string): [number, number] {
    if (ix === undefined) return [first, first + count];
    const s = ix.start === undefined ? first : evalConst(ix.start, frame.vars);
    const e = ix.single ? s + 1 : ix.end === undefined ? first + count : evalConst(ix.end, frame.vars);
    if (s < first || e > first + count || s >= e) {
      throw new Fail(ix.loc, `${what}[${s}..${e}] is outside the pages the last operation covered (${first}..${first + count})`);
    }
    return [s, e];
  }
}

function isExpectation(s: Stmt): boolean {
  return s.kind.startsWith('expect') || s.kind === 'print';
}

function compare(a: number, op: CompareOp, b: number): boolean {
  switch (op) {
    case '==': return a === b;
    case '!=': return a !== b;
    case '<': return a < b;
    case '<=': return a <= b;
    case '>': return a > b;
    case '>=': return a >= b;
  }
}

function stateMatches(st: PageState, want: PageStatePattern): boolean {
  if (st.kind !== want.kind) return false;
  if (want.device !== undefined && st.device !== want.device) return false;
  if (want.write !== undefined && (want.write === 'rw') !== st.writable) return false;
  if (want.shared !== undefined && want.shared !== st.shared) return false;
  if (want.pinned !== undefined && want.pinned !== st.pinned) return false;
  return true;
}

function stateText(s: PageStatePattern): string {
  return [s.kind, s.device, s.write, s.shared ? 'shared' : undefined, s.pinned ? 'pinned' : undefined].filter(Boolean).join(' ');
}

export function foundText(st: PageState): string {
  if (st.kind === 'unmapped' || st.kind === 'empty' || st.kind === 'zero') return st.kind;
  const parts: string[] = [st.kind];
  if (st.device !== undefined) parts.push(st.device);
  if (st.kind !== 'exclusive') parts.push(st.writable ? 'rw' : 'ro');
  if (st.shared) parts.push('shared');
  if (st.pinned) parts.push('pinned');
  return parts.join(' ');
}

const FLAG_NAMES: readonly [number, string][] = [
  [0x50, 'DEV_COHERENT_REMOTE'], [0x40, 'DEV_COHERENT_LOCAL'], [0x30, 'DEV_PRIVATE_REMOTE'], [0x20, 'DEV_PRIVATE_LOCAL'], [0x10, 'ZERO'],
];

export function flagText(v: number): string {
  if (v === 0xff) return 'ERROR';
  if (v === 0) return 'NONE';
  const parts: string[] = [];
  const base = v & 0xf0;
  const named = FLAG_NAMES.find(([n]) => n === base);
  if (named) parts.push(named[1]);
  if (v & 0x01) parts.push('READ');
  if (v & 0x02) parts.push('WRITE');
  if (v & 0x04) parts.push('PMD');
  if (v & 0x08) parts.push('PUD');
  return `${parts.join('|')} (0x${v.toString(16).padStart(2, '0')})`;
}

function describeAccessProblem(mm: Mm, vpn: number, write: boolean): string {
  const vma = mm.vmas.find(vpn);
  if (vma === undefined) return 'no mapping there';
  return write ? 'the mapping is not writable' : 'the mapping is not readable';
}
