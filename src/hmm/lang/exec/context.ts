// What a statement needs from the interpreter while it runs (the interpreter implements it), and
// the checks every statement family shares: a range or a device named by the script, a live
// process, a device operation's result against `-> ERRNO`.

import { ERRNO, errnoName } from '../../constants';
import type { PageContents } from '../../content';
import type { GpuJob } from '../../gpu';
import type { Device } from '../../memremap';
import type { Mm } from '../../mm';
import type { Simulator } from '../../simulator';
import type { KernelWork } from '../../kernelWork';
import type { Errno, FnDecl, KernelDecl, Loc, RangeRef, Stmt } from '../ast';
import { evalConst } from '../pattern';
import { rangeName } from '../ranges';

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

/** A block a statement opens (fn call, repeat, as, fork): pushed on the interpreter's stack. */
export interface BlockSpec {
  readonly kind: FrameKind;
  readonly name: string;
  readonly body: readonly Stmt[];
  readonly process: Mm;
  readonly vars: Map<string, number>;
  readonly headerLoc: Loc | undefined;
  readonly endLoc: Loc | undefined;
  readonly count?: number;
  readonly varName?: string;
}

/** `last`: the result of the last device operation. */
export interface LastResult {
  rc: number;
  cpages: number;
  faults: number;
  data: { pages: PageContents; start: number; mapStart: number; count: number } | undefined;
  flags: { bytes: Uint8Array; start: number; mapStart: number } | undefined;
}

export interface ExecContext {
  readonly sim: Simulator;
  readonly last: LastResult;
  readonly fns: ReadonlyMap<string, FnDecl>;
  readonly kernels: ReadonlyMap<string, KernelDecl>;
  /** Named GPU jobs (`launch … as NAME`), for `wait NAME`. */
  readonly jobs: Map<string, GpuJob>;
  /** Statement number of the last statement that was not an expectation (`expect notified` looks at it). */
  readonly lastActionStatement: number;
  /** See InterpreterOptions.failedCallsContinue. */
  readonly failedCallsContinue: boolean;
  /** What the statement's system call returned, as user space sees it (see Interpreter.syscallOutcome). */
  syscallOutcome: { readonly rc: number; readonly faultVpn?: number; readonly signal?: 'SIGSEGV' | 'SIGBUS' } | undefined;
  /** The next `fork {` child's name (`main.child1`, …). */
  nextChildName(parent: Mm): string;
  enterBlock(block: BlockSpec): void;
  print(text: string): void;
}

/** How a statement of kind K runs: kernel work that may pause. */
export type StatementHandler<K extends Stmt['kind']> = (ctx: ExecContext, stmt: Extract<Stmt, { kind: K }>, frame: Frame) => KernelWork<void>;

/** Handlers for some statement kinds (one family's module exports one of these). */
export type StatementHandlers<K extends Stmt['kind'] = Stmt['kind']> = { readonly [P in K]: StatementHandler<P> };

/** A script error at a location: the interpreter turns it into a RuntimeError. */
export class Fail extends Error {
  constructor(readonly loc: Loc, message: string) {
    super(message);
  }
}

/** The return code a script's `-> ERRNO` stands for (negated, as the kernel returns it). */
export function errnoRc(e: Errno): number {
  return -ERRNO[e];
}

export function device(ctx: ExecContext, name: string, loc: Loc): Device {
  const d = ctx.sim.devices.find((x) => x.name === name);
  if (d === undefined) throw new Fail(loc, `device ${name} is not declared yet`);
  return d;
}

/** Pages [start, end) of a mapping that starts at mapStart; `text` names them as the script would. */
export interface PageRange {
  readonly start: number;
  readonly end: number;
  readonly mapStart: number;
  readonly text: string;
}

/** A RangeRef as [start, end) virtual pages, checked against the mapping's size. */
export function range(ctx: ExecContext, r: RangeRef, frame: Frame): PageRange {
  const b = ctx.sim.bindings.get(r.mapping);
  if (b === undefined) throw new Fail(r.mappingLoc, `${r.mapping} is not mapped yet`);
  const s = r.start === undefined ? 0 : evalConst(r.start, frame.vars);
  const e = r.single ? s + 1 : r.end === undefined ? b.pages : evalConst(r.end, frame.vars);
  if (s < 0 || e > b.pages || s >= e) {
    throw new Fail(r.loc, `${r.mapping}[${s}..${e}] is outside ${r.mapping} (${b.pages} pages)`);
  }
  return { start: b.start + s, end: b.start + e, mapStart: b.start, text: rangeName(r.mapping, b.pages, s, e) };
}

export function requireAlive(mm: Mm, loc: Loc): void {
  if (!mm.alive) throw new Fail(loc, `process ${mm.name} has exited`);
}

/** A system call's return code (mmap, mremap, munmap, …): recorded, and checked against `-> ERRNO`. */
export function syscallResult(ctx: ExecContext, stmt: Stmt, what: string, rc: number, why = ''): void {
  ctx.syscallOutcome = { rc };
  const want = stmt.expectErrno;
  if (rc === 0) {
    if (want !== undefined) throw new Fail(stmt.loc, `${what} succeeded, expected it to fail with ${want}`);
    return;
  }
  if (want === undefined && ctx.failedCallsContinue) return;
  if (want === undefined) throw new Fail(stmt.loc, `${what} failed with ${errnoName(rc)}${why}`);
  if (errnoRc(want) !== rc) throw new Fail(stmt.loc, `${what} failed with ${errnoName(rc)}, expected ${want}`);
}

/** Apply a device operation's result to `last`, and check it against `-> ERRNO`. True when it succeeded. */
export function deviceResult(ctx: ExecContext, stmt: Stmt, what: string, r: { rc: number; cpages: number; faults: number }): boolean {
  ctx.last.rc = r.rc;
  ctx.syscallOutcome = { rc: r.rc };
  const want = stmt.expectErrno;
  if (r.rc === 0) {
    ctx.last.cpages = r.cpages;
    ctx.last.faults = r.faults;
    if (want !== undefined) throw new Fail(stmt.loc, `${what} succeeded, expected it to fail with ${want}`);
    return true;
  }
  if (want === undefined && ctx.failedCallsContinue) return false;
  if (want === undefined) throw new Fail(stmt.loc, `${what} failed with ${errnoName(r.rc)}`);
  if (errnoRc(want) !== r.rc) throw new Fail(stmt.loc, `${what} failed with ${errnoName(r.rc)}, expected ${want}`);
  return false;
}
