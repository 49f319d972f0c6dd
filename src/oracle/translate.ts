// Runs a script on the simulator and, statement by statement, writes the same work as ops of
// the in-VM runner's program (docs/kernel-runner.md) together with what the simulator showed
// user space for each op. The simulator decides the addresses (mmap is MAP_FIXED_NOREPLACE in
// the VM), so both sides see the same layout; loops and calls are unrolled as they run.

import { errnoName, HMM_DMIRROR_PROT_PMD, PAGE_SIZE, WORDS_PER_PAGE } from '../hmm/constants';
import type { Mm } from '../hmm/mm';
import { LINUX_PROFILES, type LinuxVersion } from '../hmm/profile';
import { Simulator } from '../hmm/simulator';
import { drain } from '../hmm/kernelWork';
import { type Diagnostic, type Expr, type Loc, mremapTargetText, type RangeRef, type Stmt } from '../hmm/lang/ast';
import { Interpreter } from '../hmm/lang/interpreter';
import { evalConst, type Vars } from '../hmm/lang/pattern';
import { rangeName } from '../hmm/lang/ranges';
import { diagnose } from '../hmm/lang/runner';
import type { Field, Observation } from './observation';

/** Beyond these the VM (2 GiB) cannot hold the work or its results: the statement is not expressible. */
export const VM_LIMITS = {
  /** Pages one memory-touching statement may cover (64 MiB). */
  pagesPerAccess: 16384,
  /** hmm-runner's MAX_NPAGES: the new size of one mremap. */
  pagesPerMremap: 1 << 17,
  /** Ops per script. */
  opsPerScript: 20000,
  /** Processes per script (the runner's pipes are made before the case starts). */
  processesPerScript: 16,
} as const;

/** One op of the program, tied to the statement that made it and what the simulator saw. */
export interface TranslatedOp {
  readonly op: number;
  readonly loc: Loc;
  /** The statement's kind (`devRead`, `migrate`, …), for grouping disagreements. */
  readonly kind: Stmt['kind'];
  /** The statement as a user would name it: `gpu0 read a[0..8]`. */
  readonly what: string;
  readonly fields: readonly Field[];
  readonly sim: Observation;
}

export interface Translation {
  readonly file: string;
  /** Parse/check problems: nothing ran. */
  readonly diagnostics: readonly Diagnostic[];
  /** The case's program lines (`case` … `end`), empty when nothing is expressible. */
  readonly lines: readonly string[];
  readonly ops: readonly TranslatedOp[];
  /** The first statement the kernel cannot run (and that changes state): comparison stops there. */
  readonly stoppedAt: { readonly loc: Loc; readonly reason: string } | undefined;
  /** Statements only the simulator checks (expectations, print, compute, hints). */
  readonly simulatorOnly: number;
  /** The simulator's runtime error, `file:line:col: message` (a failed expectation included). */
  readonly simError: string | undefined;
  /** Places where the VM's setup differs from the script's (e.g. device sizes). */
  readonly notes: readonly string[];
  /**
   * Why the kernel is not clean after this case (the simulator's prediction: a device page
   * nobody will free outlives the case's processes), so the next case must run in a new boot.
   */
  readonly leavesKernel?: string;
}

/** State-neutral statements: the simulator checks or prints them; the kernel has nothing to do. */
const SIMULATOR_ONLY = new Set<Stmt['kind']>([
  'expectData', 'expectState', 'expectMaps', 'expectRc', 'expectCounter', 'expectLastData', 'expectLastFlags',
  'expectNotified', 'expectNotNotified', 'expectUsed', 'expectStats', 'print', 'compute', 'advise', 'fn', 'kernel',
  'call', 'repeat', 'as',
]);

class NotExpressible extends Error {}

/** The pattern as the runner's reverse Polish notation, loop variables bound. */
export function patternRpn(e: Expr, vars: Vars): string {
  const out: string[] = [];
  // Iterative post-order walk: the parser bounds nesting, but the translator does not rely on it.
  const stack: { e: Expr; done: boolean }[] = [{ e, done: false }];
  while (stack.length > 0) {
    const top = stack.pop()!;
    const x = top.e;
    switch (x.kind) {
      case 'num': out.push(String(x.value | 0)); break;
      case 'wordIndex': out.push('i'); break;
      case 'var': out.push(String((vars.get(x.name) ?? 0) | 0)); break;
      case 'neg':
        if (top.done) out.push('neg');
        else stack.push({ e: x, done: true }, { e: x.operand, done: false });
        break;
      case 'binary':
        if (top.done) out.push(x.op);
        else stack.push({ e: x, done: true }, { e: x.right, done: false }, { e: x.left, done: false });
        break;
    }
  }
  return out.join(' ');
}

const hexAddr = (vpn: number): string => `0x${(vpn * PAGE_SIZE).toString(16)}`;

export interface TranslateOptions {
  /** First op number (op numbers are unique in a program of several scripts). */
  readonly firstOp?: number;
  readonly caseId?: string;
  /** Failing calls are observations, not runtime errors (random programs check no return values). */
  readonly failedCallsContinue?: boolean;
  /** The kernel version the simulator models: the VM's, 6.12, unless asked otherwise. */
  readonly linux?: LinuxVersion;
}

/** Translate one script; runs it on the simulator to the end (or its first runtime error). */
export function translateScript(file: string, text: string, opts: TranslateOptions = {}): Translation {
  const { diagnostics, script } = diagnose(file, text);
  if (diagnostics.length > 0) {
    return { file, diagnostics, lines: [], ops: [], stoppedAt: undefined, simulatorOnly: 0, simError: undefined, notes: [] };
  }
  const sim = new Simulator();
  sim.profile = LINUX_PROFILES[opts.linux ?? '6.12'];
  const interp = new Interpreter(script, { sim, failedCallsContinue: opts.failedCallsContinue ?? false });
  const t = new Translator(sim, interp, opts.firstOp ?? 1);
  const lines = [`case ${opts.caseId ?? file}`];
  let simError: string | undefined;
  for (;;) {
    const stmt = interp.nextStatement();
    if (stmt === undefined) break;
    const plan = t.plan(stmt);
    const r = interp.runStatement();
    t.finish(stmt, plan, r.kind === 'error');
    if (r.kind === 'error') {
      simError = r.error.formatted;
      break;
    }
    if (r.kind === 'done') break;
  }
  t.endOfScript();
  lines.push(...t.lines, 'end');
  const leavesKernel = simError === undefined ? afterCaseEnd(sim, t.processes()) : undefined;
  return {
    file, diagnostics: [], lines: t.ops.length > 0 || t.lines.length > 0 ? lines : [], ops: t.ops, stoppedAt: t.stoppedAt,
    simulatorOnly: t.simulatorOnly, simError, notes: t.notes, ...(leavesKernel !== undefined ? { leavesKernel } : {}),
  };
}

/**
 * What the case leaves in the kernel once the runner ends it (end_case: every live process exits,
 * the last made first, each closing its device handles after its memory is gone): a device page
 * that holds a reference nobody drops outlives the case, and the next case needs a new boot.
 */
function afterCaseEnd(sim: Simulator, processes: readonly Mm[]): string | undefined {
  try {
    for (const mm of [...processes].reverse()) if (mm.alive) drain(sim.exit(mm));
  } catch (e) {
    return `ending its processes stops the simulator (${(e as Error).message})`;
  }
  for (const d of sim.devices) {
    const p = d.leakedRefs.values().next().value;
    if (p !== undefined) return `${d.name} keeps a page nobody frees (pfn ${p})`;
  }
  return undefined;
}

interface Resolved {
  readonly start: number;
  readonly end: number;
  readonly mapStart: number;
  readonly text: string;
}

/** What a statement will send once it has run (addresses of a new mapping are known only then). */
type Plan =
  | { readonly kind: 'skip' }
  /** A short-term pin where a coherent device exists: sent with its unpin (Translator.shortPin). */
  | { readonly kind: 'deferPin'; readonly proc: number; readonly start: number; readonly end: number; readonly what: string }
  | { readonly kind: 'op'; readonly proc: number; readonly what: string; readonly fields: readonly Field[];
      readonly line: () => string; readonly observe: () => Observation };

class Translator {
  readonly lines: string[] = [];
  readonly ops: TranslatedOp[] = [];
  readonly notes: string[] = [];
  stoppedAt: { loc: Loc; reason: string } | undefined;
  simulatorOnly = 0;
  private nextOp: number;
  private readonly procs = new Map<Mm, number>();
  private readonly files = new Map<string, number>();
  /** Device name → dmirror minor (0, 1 private; 2, 3 coherent). */
  private readonly minors = new Map<string, number>();
  /** The one pinned range gup_test can hold. */
  private pinned: { proc: number; start: number; end: number } | undefined;
  /**
   * A short-term pin not sent yet: user space can hold only gup_test's FOLL_LONGTERM pin, which
   * would migrate coherent pages out, so a short-term pin is sent together with an unpin of the
   * same range right after it, as one PIN_BASIC_TEST (pin and release in one call).
   */
  private shortPin: { proc: number; start: number; end: number; what: string; loc: Loc; sim: Observation } | undefined;

  /** The script's processes in the order they were made (runner process indices). */
  processes(): Mm[] {
    return [...this.procs.keys()];
  }

  constructor(private readonly sim: Simulator, private readonly interp: Interpreter, firstOp: number) {
    this.nextOp = firstOp;
    this.procs.set(sim.process('main')!, 0);
  }

  private proc(mm: Mm): number {
    const p = this.procs.get(mm);
    if (p === undefined) throw new NotExpressible(`process ${mm.name} is unknown to the translator`);
    return p;
  }

  private vars(): Vars {
    return this.interp.frames[this.interp.frames.length - 1]?.vars ?? new Map();
  }

  private range(r: RangeRef, touches: boolean): Resolved {
    const b = this.sim.bindings.get(r.mapping);
    if (b === undefined) throw new ScriptProblem();
    const vars = this.vars();
    const s = r.start === undefined ? 0 : evalConst(r.start, vars);
    const e = r.single ? s + 1 : r.end === undefined ? b.pages : evalConst(r.end, vars);
    if (s < 0 || e > b.pages || s >= e) throw new ScriptProblem();
    if (touches && e - s > VM_LIMITS.pagesPerAccess) {
      throw new NotExpressible(`${e - s} pages in one access: the VM (2 GiB) takes at most ${VM_LIMITS.pagesPerAccess} pages (64 MiB) per statement`);
    }
    return { start: b.start + s, end: b.start + e, mapStart: b.start, text: rangeName(r.mapping, b.pages, s, e) };
  }

  private minor(device: string): number {
    const m = this.minors.get(device);
    if (m === undefined) throw new ScriptProblem();
    return m;
  }

  /** Before the statement runs: what it will send, or why it cannot. */
  plan(stmt: Stmt): Plan {
    if (this.stoppedAt !== undefined) return { kind: 'skip' };
    if (SIMULATOR_ONLY.has(stmt.kind)) {
      if (stmt.kind !== 'fn' && stmt.kind !== 'kernel' && stmt.kind !== 'call' && stmt.kind !== 'repeat' && stmt.kind !== 'as') this.simulatorOnly++;
      return { kind: 'skip' };
    }
    const pending = this.shortPin;
    try {
      if (this.ops.length >= VM_LIMITS.opsPerScript) throw new NotExpressible(`more than ${VM_LIMITS.opsPerScript} kernel operations`);
      if (pending !== undefined) return this.planAfterShortPin(stmt, pending);
      return this.planStatement(stmt);
    } catch (e) {
      if (e instanceof NotExpressible) {
        // The short-term pin not sent is where the kernel's run stops matching the simulator's.
        this.stoppedAt = pending !== undefined && this.shortPin !== undefined ? { loc: pending.loc, reason: e.message } : { loc: stmt.loc, reason: e.message };
        this.shortPin = undefined;
        return { kind: 'skip' };
      }
      if (e instanceof ScriptProblem) return { kind: 'skip' }; // the interpreter reports it
      throw e;
    }
  }

  /** After the statement ran: record the op and the simulator's observation. */
  finish(stmt: Stmt, plan: Plan, failed: boolean): void {
    if (plan.kind === 'skip') return;
    if (plan.kind === 'deferPin') {
      if (failed && this.interp.syscallOutcome === undefined) return;
      // PIN_BASIC_TEST tells only whether the whole range was pinned (runner: EFAULT if not).
      const rc = this.syscallObservation().rc;
      this.shortPin = { proc: plan.proc, start: plan.start, end: plan.end, what: plan.what, loc: stmt.loc, sim: { rc: rc === '0' ? '0' : 'EFAULT' } };
      return;
    }
    // A statement that failed before reaching the kernel (a script error) sends nothing.
    const oops = failed ? this.interp.error?.kernelOops : undefined;
    if (failed && this.interp.syscallOutcome === undefined && oops === undefined) return;
    const op = this.nextOp++;
    this.lines.push(`op ${op} ${plan.proc} ${plan.line()}`);
    this.ops.push({ op, loc: stmt.loc, kind: stmt.kind, what: plan.what, fields: plan.fields, sim: oops === undefined ? plan.observe() : this.interp.error?.kernelHang ? { rc: '0', hang: oops } : { rc: '0', crash: oops } });
    if (stmt.kind === 'fork' || stmt.kind === 'forkBlock') {
      const child = stmt.kind === 'fork' ? this.sim.process(stmt.name) : this.interp.process;
      if (child !== undefined) {
        this.procs.set(child, this.procs.size);
        this.lines[this.lines.length - 1] += ` ${this.procs.get(child)}`;
      }
    }
  }

  private deviceObservation(withData: boolean, withFlags: boolean, mm: Mm, start: number): () => Observation {
    return () => {
      const last = this.interp.last;
      const rc = errnoName(last.rc);
      if (last.rc !== 0) return { rc };
      const o: { -readonly [K in keyof Observation]: Observation[K] } = { rc, cpages: last.cpages, faults: last.faults };
      if (withData && last.data !== undefined) {
        const words = new Int32Array(last.data.count * WORDS_PER_PAGE);
        for (const run of last.data.pages.runs(0, last.data.count)) {
          for (let j = 0; j < run.count; j++) this.sim.contents.fill(run.id, run.page + j, words, (run.index + j) * WORDS_PER_PAGE);
        }
        o.data = { kind: 'words', words };
      }
      if (withFlags && last.flags !== undefined) {
        o.flags = last.flags.bytes.slice();
        // A THP fork shared is PTE-mapped here, still PMD-mapped on Linux (README "Where the model decides").
        let ignore: Uint8Array | undefined;
        for (let k = 0; k < o.flags.length; k++) {
          const t = mm.pt.lookup(start + k);
          if (t?.forkSplit === true && !t.pmd) (ignore ??= new Uint8Array(o.flags.length))[k] = HMM_DMIRROR_PROT_PMD;
        }
        if (ignore !== undefined) o.flagsIgnore = ignore;
      }
      return o;
    };
  }

  private syscallObservation(): Observation {
    const s = this.interp.syscallOutcome;
    return { rc: s === undefined ? '0' : errnoName(s.rc) };
  }

  /** The script ended: a short-term pin still pending was never released, so it was never sent. */
  endOfScript(): void {
    if (this.shortPin === undefined || this.stoppedAt !== undefined) return;
    this.stoppedAt = { loc: this.shortPin.loc, reason: 'a short-term pin never released with a coherent device declared: user space can hold only FOLL_LONGTERM pins (gup_test)' };
    this.shortPin = undefined;
  }

  /** The statement after a short-term pin: its unpin makes them one op; anything else cannot run. */
  private planAfterShortPin(stmt: Stmt, pin: NonNullable<Translator['shortPin']>): Plan {
    const mm = this.interp.process;
    if (stmt.kind === 'unpin' && this.proc(mm) === pin.proc) {
      const r = this.range(stmt.range, true);
      if (r.start === pin.start && r.end === pin.end) {
        this.shortPin = undefined;
        const op = this.nextOp++;
        this.lines.push(`op ${op} ${pin.proc} pin-once ${hexAddr(pin.start)} ${pin.end - pin.start}`);
        this.ops.push({ op, loc: pin.loc, kind: 'pin', what: pin.what, fields: ['rc'], sim: pin.sim });
        return { kind: 'skip' };
      }
    }
    throw new NotExpressible('a short-term pin held across another statement with a coherent device declared: user space can hold only FOLL_LONGTERM pins (gup_test), which migrate coherent pages out; a pin released by the next statement runs as one PIN_BASIC_TEST');
  }

  private planStatement(stmt: Stmt): Plan {
    const mm = this.interp.process;
    const P = (): number => this.proc(mm);
    const devFields: Field[] = ['rc', 'cpages', 'faults'];
    switch (stmt.kind) {
      case 'linux':
        if (stmt.version !== '6.12') throw new NotExpressible(`the script is written for Linux ${stmt.version} (its \`linux\` line); the VM runs 6.12`);
        return { kind: 'skip' };
      case 'device': {
        const kind = stmt.memoryKind;
        const used = [...this.minors.values()].filter((m) => (kind === 'private' ? m < 2 : m >= 2)).length;
        if (used >= 2) throw new NotExpressible(`a third ${kind} device: test_hmm has two of each kind`);
        this.minors.set(stmt.name, (kind === 'private' ? 0 : 2) + used);
        if (stmt.memoryPages !== undefined) {
          this.notes.push(`${stmt.name}: the script gives ${stmt.memoryPages} pages of device memory; test_hmm's ${kind} device has ` +
            (kind === 'private' ? 'as many 256 MiB chunks as it needs' : '256 MiB'));
        }
        return { kind: 'skip' };
      }
      case 'file': {
        const id = this.files.size;
        this.files.set(stmt.name, id);
        this.lines.push(`file ${id} ${stmt.pages} ${stmt.init === undefined ? '0' : patternRpn(stmt.init, this.vars())}`);
        return { kind: 'skip' };
      }
      case 'mmap': {
        const proc = P();
        return {
          kind: 'op', proc, what: `${stmt.name} = mmap`, fields: ['rc'],
          line: () => {
            const b = this.sim.bindings.get(stmt.name)!;
            const src = stmt.source;
            const share = stmt.shared ? 'shared' : 'private';
            const kind = src.kind === 'file' ? `file:${this.files.get(src.file)}:${share}`
              : src.kind === 'deviceFile' ? `dev:${this.minor(src.device)}:${share}`
              : stmt.hugetlb ? 'hugetlb' : share;
            return `mmap ${hexAddr(b.start)} ${b.pages} ${stmt.prot} ${kind} ${stmt.huge ? 1 : 0}`;
          },
          observe: () => this.syscallObservation(),
        };
      }
      case 'mremap': {
        const r = this.range(stmt.range, false);
        const t = stmt.target === undefined ? undefined : this.range(stmt.target, false);
        const newPages = stmt.newPages ?? r.end - r.start;
        if (newPages > VM_LIMITS.pagesPerMremap) {
          throw new NotExpressible(`an mremap to ${newPages} pages: the runner takes at most ${VM_LIMITS.pagesPerMremap} pages (512 MiB)`);
        }
        const mode = t !== undefined ? (stmt.dontUnmap ? 'dontunmap' : 'fixed') : stmt.mayMove ? 'maymove' : 'resize';
        return {
          kind: 'op', proc: P(), what: `${stmt.name} = mremap ${r.text} to ${mremapTargetText(stmt, t?.text)}`, fields: ['rc'],
          // A MREMAP_MAYMOVE move goes where the simulator put it (its binding once the statement ran).
          line: () => `mremap ${hexAddr(r.start)} ${r.end - r.start} ${newPages} ${mode} ${hexAddr(t?.start ?? this.sim.bindings.get(stmt.name)!.start)}`,
          observe: () => this.syscallObservation(),
        };
      }
      case 'read':
      case 'write': {
        const r = this.range(stmt.range, true);
        const base = (r.start - r.mapStart) * WORDS_PER_PAGE;
        const line = stmt.kind === 'read' ? `read ${hexAddr(r.start)} ${r.end - r.start}`
          : `write ${hexAddr(r.start)} ${r.end - r.start} ${base} ${patternRpn(stmt.pattern, this.vars())}`;
        return {
          kind: 'op', proc: P(), what: `${stmt.kind} ${r.text}`, fields: stmt.kind === 'read' ? ['sig', 'words'] : ['sig'],
          line: () => line,
          observe: () => {
            const s = this.interp.syscallOutcome;
            const sig = s?.faultVpn !== undefined ? `${s.signal ?? 'SIGSEGV'}@${s.faultVpn - r.start}` : undefined;
            if (stmt.kind === 'write') return sig === undefined ? { rc: '0' } : { rc: '0', sig };
            // A read that faults has read the pages before the faulting one.
            const end = s?.faultVpn ?? r.end;
            const words = new Int32Array(end - r.start);
            for (let v = r.start; v < end; v++) {
              const c = this.sim.pageContent(mm, v);
              words[v - r.start] = c === undefined ? 0 : this.sim.contents.word(c[0], c[1], 0);
            }
            if (sig === undefined) return { rc: '0', words: { kind: 'words', words } };
            return words.length === 0 ? { rc: '0', sig } : { rc: '0', sig, words: { kind: 'words', words } };
          },
        };
      }
      case 'munmap':
      case 'mprotect':
      case 'madvise': {
        const r = this.range(stmt.range, false);
        const arg = stmt.kind === 'mprotect' ? ` ${stmt.prot}` : stmt.kind === 'madvise' ? ` ${stmt.advice}` : '';
        const line = `${stmt.kind} ${hexAddr(r.start)} ${r.end - r.start}${arg}`;
        return { kind: 'op', proc: P(), what: `${stmt.kind} ${r.text}${arg}`, fields: ['rc'], line: () => line, observe: () => this.syscallObservation() };
      }
      case 'pin': {
        const r = this.range(stmt.range, true);
        const coherent = [...this.minors.values()].some((m) => m >= 2);
        const proc = P();
        if (!stmt.longterm && coherent) return { kind: 'deferPin', proc, start: r.start, end: r.end, what: `pin ${r.text}` };
        if (this.pinned !== undefined) throw new NotExpressible('a second pinned range: gup_test holds one at a time');
        this.pinned = { proc, start: r.start, end: r.end };
        const line = `pin ${hexAddr(r.start)} ${r.end - r.start}`;
        return { kind: 'op', proc, what: `pin ${r.text}`, fields: ['rc'], line: () => line, observe: () => this.syscallObservation() };
      }
      case 'unpin': {
        const r = this.range(stmt.range, true);
        const proc = P();
        const p = this.pinned;
        if (p === undefined || p.proc !== proc || p.start !== r.start || p.end !== r.end) {
          throw new NotExpressible('an unpin of another range than the pinned one: gup_test releases its whole pinned range at once');
        }
        this.pinned = undefined;
        const line = `unpin ${hexAddr(r.start)} ${r.end - r.start}`;
        // gup_test's STOP releases the pages it holds and answers 0 whatever happened to the
        // range since; the language's unpin looks the pages up by address (EINVAL once they are
        // unmapped or the pin failed). The op runs on both sides; its rc is not compared.
        return { kind: 'op', proc, what: `unpin ${r.text}`, fields: [], line: () => line, observe: () => this.syscallObservation() };
      }
      case 'devRead':
      case 'devWrite':
      case 'snapshot':
      case 'exclusive':
      case 'checkExclusive': {
        const r = this.range(stmt.range, true);
        const d = this.minor(stmt.device);
        const n = r.end - r.start;
        const base = (r.start - r.mapStart) * WORDS_PER_PAGE;
        const cmd = { devRead: 'read', devWrite: 'write', snapshot: 'snapshot', exclusive: 'exclusive', checkExclusive: 'check-exclusive' }[stmt.kind];
        const line = `dev ${d} ${cmd} ${hexAddr(r.start)} ${n}${stmt.kind === 'devWrite' ? ` ${base} ${patternRpn(stmt.pattern, this.vars())}` : ''}`;
        const withData = stmt.kind === 'devRead' || stmt.kind === 'exclusive';
        const fields: Field[] = stmt.kind === 'checkExclusive' ? ['rc'] : [...devFields, ...(withData ? ['data' as const] : []), ...(stmt.kind === 'snapshot' ? ['flags' as const] : [])];
        return { kind: 'op', proc: P(), what: `${stmt.device} ${cmd} ${r.text}`, fields, line: () => line, observe: this.deviceObservation(withData, stmt.kind === 'snapshot', mm, r.start) };
      }
      case 'migrate': {
        const r = this.range(stmt.range, true);
        const n = r.end - r.start;
        if (stmt.target.kind === 'device') {
          const line = `dev ${this.minor(stmt.target.name)} migrate ${hexAddr(r.start)} ${n}`;
          return {
            kind: 'op', proc: P(), what: `migrate ${r.text} to ${stmt.target.name}`, fields: [...devFields, 'data'],
            line: () => line, observe: this.deviceObservation(true, false, mm, r.start),
          };
        }
        const devices = stmt.from !== undefined ? [stmt.from] : this.sim.devices.map((x) => x.name);
        const line = `dev ${devices.map((x) => this.minor(x)).join(',')} migrate-sys ${hexAddr(r.start)} ${n}`;
        // The simulator sums cpages over the devices and reports no faults for this command.
        return {
          kind: 'op', proc: P(), what: `migrate ${r.text} to system${stmt.from ? ` from ${stmt.from}` : ''}`, fields: ['rc', 'cpages'],
          line: () => line, observe: this.deviceObservation(false, false, mm, r.start),
        };
      }
      case 'release':
      case 'close': {
        const line = `dev ${this.minor(stmt.device)} ${stmt.kind}`;
        return { kind: 'op', proc: P(), what: `${stmt.device} ${stmt.kind}`, fields: ['rc'], line: () => line, observe: () => ({ rc: errnoName(this.interp.last.rc) }) };
      }
      case 'failNextAlloc':
        throw new NotExpressible('fail-next-alloc: Linux 6.12\'s test_hmm has no HMM_DMIRROR_FLAGS (the simulator answers EINVAL, as 6.12 would)');
      case 'fork':
      case 'forkBlock':
        if (this.procs.size >= VM_LIMITS.processesPerScript) throw new NotExpressible(`more than ${VM_LIMITS.processesPerScript} processes`);
        return { kind: 'op', proc: P(), what: stmt.kind === 'fork' ? `fork ${stmt.name}` : 'fork {', fields: ['rc'], line: () => 'fork', observe: () => ({ rc: '0' }) };
      case 'exit': {
        const p = this.sim.process(stmt.process);
        if (p === undefined) throw new ScriptProblem();
        const proc = this.proc(p);
        if (this.pinned?.proc === proc) throw new NotExpressible('a process exits holding a pin: gup_test would keep its pages pinned');
        return { kind: 'op', proc, what: `exit ${stmt.process}`, fields: ['rc'], line: () => 'exit', observe: () => ({ rc: '0' }) };
      }
      case 'launch':
        throw new NotExpressible('GPU kernels run in simulated time; test_hmm has no device that executes programs');
      case 'prefetch':
        throw new NotExpressible('prefetch is an asynchronous copy in simulated time; test_hmm has none');
      case 'wait':
        if (this.sim.gpu.idle) {
          this.simulatorOnly++;
          return { kind: 'skip' };
        }
        throw new NotExpressible('waiting for GPU work');
      default:
        throw new NotExpressible(`'${stmt.kind}' has no kernel counterpart`);
    }
  }
}

/** A problem of the script itself (undeclared name, range outside): the interpreter reports it. */
class ScriptProblem extends Error {}

/** The runner's program for several translated scripts, one case each (docs/kernel-runner.md). */
export function formatProgram(translations: readonly Translation[]): string {
  const out = ['hmm-runner-program 1'];
  for (const t of translations) if (t.lines.length > 0) out.push(...t.lines);
  return `${out.join('\n')}\n`;
}
