// The checker: rejects a parsed script before it runs (names, kinds, scopes, constant ranges, recursion).

import type { Diagnostic, Expr, IndexRange, KernelDecl, Loc, RangeRef, Script, Stmt, Target } from './ast';
import { isLinuxVersion, LINUX_VERSIONS } from '../profile';
import { suggestName } from './parser';

type SymKind = 'mapping' | 'device' | 'file' | 'fn' | 'kernel' | 'process' | 'job';

interface Sym {
  readonly kind: SymKind;
  readonly loc: Loc;
  /** Size in pages of a mapping or a file, when known. */
  readonly pages?: number;
  /** Parameter names of a kernel. */
  readonly params?: readonly string[];
}

const ARTICLE: Readonly<Record<SymKind, string>> = {
  mapping: 'a mapping', device: 'a device', file: 'a file', fn: 'a function', kernel: 'a kernel',
  process: 'a process', job: 'a job',
};

/** Where the main process is "bound": it is predefined, not written in the script. */
const PREDEFINED: Loc = { line: 0, col: 0 };

interface Ctx {
  readonly top: boolean;
  /** Loop variables in scope, with the location of their binding. */
  readonly loopVars: ReadonlyMap<string, Loc>;
  /** The fn whose body this is (for the call graph). */
  readonly fn?: string;
  readonly kernel?: KernelDecl;
}

/** What a preceding successful device operation read: bounds `last.data` / `last.flags` indices. */
interface LastOp {
  readonly mapping: string;
  readonly pages: number;
}

const before = (a: Loc, b: Loc): boolean => a.line < b.line || (a.line === b.line && a.col < b.col);

/** Folds an expression without `i` or variables, in the language's 32-bit signed arithmetic. */
function fold(e: Expr): number | undefined {
  switch (e.kind) {
    case 'num': return e.value | 0;
    case 'wordIndex': case 'var': return undefined;
    case 'neg': {
      const v = fold(e.operand);
      return v === undefined ? undefined : -v | 0;
    }
    case 'binary': {
      const l = fold(e.left);
      const r = fold(e.right);
      if (l === undefined || r === undefined) return undefined;
      switch (e.op) {
        case '+': return (l + r) | 0;
        case '-': return (l - r) | 0;
        case '*': return Math.imul(l, r);
        case '&': return l & r;
        case '|': return l | r;
        case '^': return l ^ r;
        case '<<': return l << r;
        case '>>': return l >> r;
      }
    }
  }
}

class Checker {
  readonly diagnostics: Diagnostic[] = [];
  private readonly bound = new Map<string, Sym>([['main', { kind: 'process', loc: PREDEFINED }]]);
  /** Every script-wide binding, first occurrence, found ahead of the walk (for "used before bound"). */
  private readonly everywhere = new Map<string, Loc>();
  /** Every loop variable in the script, for "only in scope inside its repeat". */
  private readonly allLoopVars = new Map<string, Loc>();
  /** Where `linux VERSION` was given (once per script). */
  private linuxAt: Loc | undefined;
  private readonly calls = new Map<string, { callee: string; loc: Loc }[]>();

  constructor(private readonly file: string) {}

  check(body: readonly Stmt[]): void {
    this.collect(body);
    this.walk(body, { top: true, loopVars: new Map() });
    this.checkRecursion();
  }

  private error(at: Loc, message: string, length = 1): void {
    this.diagnostics.push({ file: this.file, line: at.line, col: at.col, endCol: at.col + length, severity: 'error', message });
  }

  // ---- names ---------------------------------------------------------------------------------

  /** Pre-pass: where every name is bound, so a too-early use can say so. */
  private collect(body: readonly Stmt[]): void {
    const note = (name: string, loc: Loc | undefined): void => {
      if (!this.everywhere.has(name)) this.everywhere.set(name, loc ?? PREDEFINED);
    };
    for (const s of body) {
      switch (s.kind) {
        case 'device': case 'file': case 'fn': case 'kernel': case 'fork': note(s.name, s.nameLoc ?? s.loc); break;
        case 'mmap': case 'mremap': note(s.name, s.loc); break;
        case 'launch': if (s.job !== undefined) note(s.job, s.jobLoc ?? s.loc); break;
        case 'repeat': if (s.var !== undefined && !this.allLoopVars.has(s.var)) this.allLoopVars.set(s.var, s.varLoc ?? s.loc); break;
        default: break;
      }
      if ('body' in s && s.kind !== 'kernel') this.collect(s.body);
    }
  }

  private bind(name: string, loc: Loc, sym: Sym): void {
    const prev = this.bound.get(name);
    if (prev !== undefined) {
      const where = prev.loc === PREDEFINED ? 'the initial process' : `${ARTICLE[prev.kind]} at line ${prev.loc.line}`;
      this.error(loc, `'${name}' is already bound (${where}); a name is bound once for the whole script`, name.length);
      return;
    }
    this.bound.set(name, sym);
  }

  /** Looks a name up as one of `kinds`; reports and returns undefined when it is not one. */
  private resolve(name: string, loc: Loc, kinds: readonly SymKind[], role: string): Sym | undefined {
    const sym = this.bound.get(name);
    if (sym === undefined) {
      const later = this.everywhere.get(name);
      if (later !== undefined && !before(later, loc)) {
        this.error(loc, `'${name}' is used before it is bound (at line ${later.line})`, name.length);
      } else if (this.allLoopVars.has(name)) {
        this.error(loc, `'${name}' is a loop variable, but ${role} is expected here`, name.length);
      } else {
        const candidates = [...this.bound].filter(([, s]) => kinds.includes(s.kind)).map(([n]) => n);
        const hint = suggestName(name, candidates);
        this.error(loc, `'${name}' is not declared${hint === undefined ? '' : `; did you mean '${hint}'?`}`, name.length);
      }
      return undefined;
    }
    if (!kinds.includes(sym.kind)) {
      this.error(loc, `'${name}' is ${ARTICLE[sym.kind]}, but ${role} is expected here`, name.length);
      return undefined;
    }
    return sym;
  }

  private device(name: string, loc: Loc): void {
    this.resolve(name, loc, ['device'], 'a device');
  }

  private target(t: Target): void {
    if (t.kind === 'device') this.device(t.name, t.loc);
  }

  // ---- expressions and ranges ---------------------------------------------------------------

  /** `where` names the context for `i` ("a page index"); undefined means `i` is allowed. */
  private expr(e: Expr, ctx: Ctx, where: string | undefined): void {
    switch (e.kind) {
      case 'num': return;
      case 'wordIndex':
        if (where !== undefined) this.error(e.loc, `'i' (the word index) has no meaning in ${where}`);
        return;
      case 'var': {
        if (ctx.loopVars.has(e.name)) return;
        const len = e.name.length;
        if (ctx.kernel?.params.some((p) => p.name === e.name)) {
          this.error(e.loc, `'${e.name}' is a parameter of kernel '${ctx.kernel.name}', not a value`, len);
          return;
        }
        const sym = this.bound.get(e.name);
        const loopVar = this.allLoopVars.get(e.name);
        if (sym !== undefined) this.error(e.loc, `'${e.name}' is ${ARTICLE[sym.kind]}, not a value (a pattern uses i, numbers and loop variables)`, len);
        else if (loopVar !== undefined) this.error(e.loc, `'${e.name}' is the loop variable of the repeat at line ${loopVar.line} and is only in scope inside it`, len);
        else {
          const hint = suggestName(e.name, ctx.loopVars.keys());
          this.error(e.loc, `'${e.name}' is not declared (a pattern uses i, numbers and loop variables)${hint === undefined ? '' : `; did you mean '${hint}'?`}`, len);
        }
        return;
      }
      case 'neg': this.expr(e.operand, ctx, where); return;
      case 'binary': this.expr(e.left, ctx, where); this.expr(e.right, ctx, where); return;
    }
  }

  /**
   * Index checks shared by ranges and `last.data`/`last.flags`: no `i`, no negative constant,
   * no empty constant range, nothing past `size` pages when it is known.
   */
  private indices(r: { start?: Expr; end?: Expr; single: boolean; loc: Loc }, ctx: Ctx, where: string, size?: { pages: number; of: string }): void {
    if (r.start !== undefined) this.expr(r.start, ctx, where);
    if (r.end !== undefined) this.expr(r.end, ctx, where);
    const s = r.start === undefined ? undefined : fold(r.start);
    const e = r.end === undefined ? undefined : fold(r.end);
    const sLoc = r.start?.loc ?? r.loc;
    const eLoc = r.end?.loc ?? r.loc;
    if (s !== undefined && s < 0) { this.error(sLoc, `${where} ${s} is negative`); return; }
    if (e !== undefined && e < 0) { this.error(eLoc, `${where} ${e} is negative`); return; }
    if (s !== undefined && e !== undefined && s >= e) {
      this.error(sLoc, `empty range: start ${s} is not below end ${e} (ranges are half-open: [2..6] is pages 2 to 5)`);
      return;
    }
    if (size === undefined) return;
    if (s !== undefined && s >= size.pages) {
      this.error(sLoc, `${where} ${s} is beyond the end of ${size.of} (${size.pages} pages: 0 to ${size.pages - 1})`);
    } else if (e !== undefined && e > size.pages) {
      this.error(eLoc, `range end ${e} is beyond the end of ${size.of} (${size.pages} pages)`);
    }
  }

  private range(r: RangeRef, ctx: Ctx): void {
    let pages: number | undefined;
    if (ctx.kernel !== undefined) {
      const k = ctx.kernel;
      if (!k.params.some((p) => p.name === r.mapping)) {
        const hint = suggestName(r.mapping, k.params.map((p) => p.name));
        this.error(r.mappingLoc, `'${r.mapping}' is not a parameter of kernel '${k.name}' (a kernel body uses only its parameters)`
          + (hint === undefined ? '' : `; did you mean '${hint}'?`), r.mapping.length);
      }
    } else {
      pages = this.resolve(r.mapping, r.mappingLoc, ['mapping'], 'a mapping')?.pages;
    }
    this.indices(r, ctx, 'page index', pages === undefined ? undefined : { pages, of: `'${r.mapping}'` });
  }

  private lastIndex(index: IndexRange | undefined, ctx: Ctx, last: LastOp | undefined): void {
    if (index === undefined) return;
    this.indices(index, ctx, 'data index', last === undefined ? undefined : { pages: last.pages, of: `'${last.mapping}' (read by the device operation before)` });
  }

  /** Pages a range covers when its bounds are constants and its mapping's size is known. */
  private rangePages(r: RangeRef): number | undefined {
    const size = this.bound.get(r.mapping)?.pages;
    const num = (e: Expr | undefined, dflt: number | undefined): number | undefined =>
      e === undefined ? dflt : e.kind === 'num' ? e.value : undefined;
    const start = num(r.start, 0);
    if (r.single) return start === undefined ? undefined : 1;
    const end = num(r.end, size);
    return start === undefined || end === undefined ? undefined : end - start;
  }

  /** `hugetlb`: private anonymous memory in whole 2 MiB huge pages, not also `huge`. */
  private hugetlbMmap(s: Stmt & { kind: 'mmap' }, pages: number | undefined): void {
    const at = s.hugetlbLoc ?? s.loc;
    if (s.source.kind !== 'anon') {
      this.error(at, `'hugetlb' maps anonymous memory: not a ${s.source.kind === 'file' ? 'file' : "device's file"}`, 7);
    } else if (s.shared) {
      this.error(at, "'hugetlb' mappings are private here (a shared one would be a hugetlbfs file, which the language does not model)", 7);
    }
    if (s.huge) this.error(at, "'huge' (a THP hint) and 'hugetlb' (hugetlb pages) exclude each other", 7);
    if (pages !== undefined && pages % 512 !== 0) {
      this.error(at, `a hugetlb mapping is a whole number of 2 MiB huge pages (512 pages each), not ${pages} pages`, 7);
    }
  }

  // ---- statements ---------------------------------------------------------------------------

  private topLevelOnly(s: Stmt, ctx: Ctx, what: string): void {
    if (!ctx.top) this.error(s.loc, `a ${what} declaration stands at the top level only, not inside a block`, what.length);
  }

  private walk(body: readonly Stmt[], ctx: Ctx): void {
    let last: LastOp | undefined; // unknown at the start of a block: conservative
    for (const s of body) {
      last = this.stmt(s, ctx, last);
    }
  }

  /** Checks one statement; returns what `last` holds after it (undefined: unknown). */
  private stmt(s: Stmt, ctx: Ctx, last: LastOp | undefined): LastOp | undefined {
    const lastOf = (r: RangeRef): LastOp | undefined => {
      if (s.expectErrno !== undefined) return last; // a failed operation leaves `last` as it was
      const pages = ctx.kernel === undefined ? this.bound.get(r.mapping)?.pages : undefined;
      return pages === undefined ? undefined : { mapping: r.mapping, pages };
    };
    switch (s.kind) {
      case 'linux':
        this.topLevelOnly(s, ctx, 'linux');
        if (!isLinuxVersion(s.version)) {
          this.error(s.versionLoc, `unknown kernel version '${s.version}': one of ${LINUX_VERSIONS.join(', ')}`, s.version.length);
        }
        if (this.linuxAt !== undefined) this.error(s.loc, `the kernel version is given twice (first at line ${this.linuxAt.line})`, 5);
        this.linuxAt ??= s.loc;
        return last;
      case 'device':
        this.topLevelOnly(s, ctx, 'device');
        this.bind(s.name, s.nameLoc ?? s.loc, { kind: 'device', loc: s.nameLoc ?? s.loc });
        return last;
      case 'file':
        this.topLevelOnly(s, ctx, 'file');
        if (s.init !== undefined) this.expr(s.init, ctx, undefined);
        this.bind(s.name, s.nameLoc ?? s.loc, { kind: 'file', loc: s.nameLoc ?? s.loc, pages: s.pages });
        return last;
      case 'mmap': {
        let pages: number | undefined;
        if (s.source.kind === 'anon') pages = s.source.pages;
        else if (s.source.kind === 'file') pages = this.resolve(s.source.file, s.source.loc, ['file'], 'a file')?.pages;
        else {
          // `mmap NAME SIZE`: NAME must be a device (a file mapping takes the file's size).
          const sym = this.bound.get(s.source.device);
          if (sym?.kind === 'file') {
            this.error(s.source.loc, `'${s.source.device}' is a file: a file mapping takes the file's size (mmap ${s.source.device} PROT); a size after the name maps a device's file`, s.source.device.length);
          } else {
            this.device(s.source.device, s.source.loc);
          }
          pages = s.source.pages;
        }
        if (s.hugetlb) this.hugetlbMmap(s, pages);
        if (s.expectErrno !== undefined && !s.hugetlb) {
          this.error(s.loc, `'-> ${s.expectErrno}' after mmap: only a hugetlb mmap can fail here (ENOMEM when the pool has too few free huge pages)`, s.name.length);
        }
        this.bind(s.name, s.loc, { kind: 'mapping', loc: s.loc, ...(pages === undefined ? {} : { pages }) });
        return last;
      }
      case 'mremap': {
        this.range(s.range, ctx);
        if (s.target !== undefined) {
          this.range(s.target, ctx);
          if (s.target.end !== undefined || (s.target.start !== undefined && !s.target.single)) {
            this.error(s.target.loc, `mremap's target is an address: one page (${s.target.mapping}[N]) or a mapping's start (${s.target.mapping}), not a range`, s.target.mapping.length);
          }
        }
        if (s.dontUnmap && s.target === undefined) {
          this.error(s.loc, `'dontunmap' needs a new address (NEW = mremap RANGE to SIZE at MAPPING[PAGE] dontunmap): MREMAP_DONTUNMAP always moves`, s.name.length);
        }
        if (s.mayMove && s.target !== undefined) {
          this.error(s.loc, `'maymove' with 'at': a new address already implies MREMAP_MAYMOVE`, s.name.length);
        }
        const pages = s.newPages ?? this.rangePages(s.range);
        this.bind(s.name, s.loc, { kind: 'mapping', loc: s.loc, ...(pages === undefined ? {} : { pages }) });
        return last;
      }
      case 'fn':
        this.topLevelOnly(s, ctx, 'fn');
        this.bind(s.name, s.nameLoc ?? s.loc, { kind: 'fn', loc: s.nameLoc ?? s.loc });
        if (!this.calls.has(s.name)) this.calls.set(s.name, []);
        this.walk(s.body, { top: false, loopVars: new Map(), fn: s.name });
        return last;
      case 'kernel': {
        this.topLevelOnly(s, ctx, 'kernel');
        this.bind(s.name, s.nameLoc ?? s.loc, { kind: 'kernel', loc: s.nameLoc ?? s.loc, params: s.params.map((p) => p.name) });
        const seen = new Set<string>();
        for (const p of s.params) {
          if (seen.has(p.name)) this.error(p.loc, `parameter '${p.name}' is given twice`, p.name.length);
          seen.add(p.name);
        }
        const kctx: Ctx = { top: false, loopVars: new Map(), kernel: s };
        for (const k of s.body) {
          if (k.kind === 'kcompute') continue;
          this.range(k.range, kctx);
          if (k.kind === 'kwrite') this.expr(k.pattern, kctx, undefined);
        }
        return last;
      }
      case 'read': case 'munmap': case 'mprotect': case 'madvise': case 'pin': case 'unpin':
        this.range(s.range, ctx);
        return last;
      case 'write':
        this.range(s.range, ctx);
        this.expr(s.pattern, ctx, undefined);
        return last;
      case 'compute':
        return last;
      case 'devRead': case 'snapshot': case 'exclusive': case 'checkExclusive':
        this.device(s.device, s.deviceLoc);
        this.range(s.range, ctx);
        return lastOf(s.range);
      case 'devWrite':
        this.device(s.device, s.deviceLoc);
        this.range(s.range, ctx);
        this.expr(s.pattern, ctx, undefined);
        return lastOf(s.range);
      case 'migrate':
        this.range(s.range, ctx);
        this.target(s.target);
        if (s.from !== undefined) this.device(s.from, s.fromLoc ?? s.loc);
        return lastOf(s.range);
      case 'release': case 'failNextAlloc': case 'close':
        this.device(s.device, s.deviceLoc);
        return undefined;
      case 'fork':
        this.bind(s.name, s.nameLoc ?? s.loc, { kind: 'process', loc: s.nameLoc ?? s.loc });
        return last;
      case 'forkBlock':
        this.walk(s.body, { ...ctx, top: false });
        return undefined;
      case 'as':
        this.resolve(s.process, s.processLoc, ['process'], "a process (made by 'fork NAME', or main)");
        this.walk(s.body, { ...ctx, top: false });
        return undefined;
      case 'exit':
        this.resolve(s.process, s.processLoc, ['process'], "a process (made by 'fork NAME', or main)");
        return undefined;
      case 'expectData':
        this.range(s.range, ctx);
        this.expr(s.pattern, ctx, undefined);
        return last;
      case 'expectState':
        this.range(s.range, ctx);
        if (s.state.device !== undefined) this.device(s.state.device, s.state.deviceLoc ?? s.loc);
        return last;
      case 'expectMaps':
        this.device(s.device, s.deviceLoc);
        this.range(s.range, ctx);
        return last;
      case 'expectRc':
        return last;
      case 'expectCounter':
        this.expr(s.value, ctx, `an expected ${s.counter} count`);
        return last;
      case 'expectLastData':
        this.lastIndex(s.index, ctx, last);
        this.expr(s.pattern, ctx, undefined);
        return last;
      case 'expectLastFlags':
        this.lastIndex(s.index, ctx, last);
        return last;
      case 'expectNotified':
        this.device(s.device, s.deviceLoc);
        if (s.range !== undefined) this.range(s.range, ctx);
        if (s.owner) this.device(s.owner.device, s.owner.loc);
        return last;
      case 'expectNotNotified': case 'expectUsed':
        this.device(s.device, s.deviceLoc);
        return last;
      case 'expectStats':
        if (s.counter.owner !== undefined && s.counter.owner !== 'cpu') this.device(s.counter.owner, s.counter.ownerLoc ?? s.loc);
        return last;
      case 'call': {
        this.resolve(s.name, s.nameLoc, ['fn'], "a function (declared with 'fn')");
        if (ctx.fn !== undefined) this.calls.get(ctx.fn)?.push({ callee: s.name, loc: s.nameLoc });
        return undefined;
      }
      case 'repeat': {
        this.expr(s.count, ctx, 'a repeat count');
        const n = fold(s.count);
        if (n !== undefined && n < 0) this.error(s.count.loc, `repeat count ${n} is negative`);
        const loopVars = new Map(ctx.loopVars);
        if (s.var !== undefined) {
          const vloc = s.varLoc ?? s.loc;
          const outer = ctx.loopVars.get(s.var);
          const global = s.var === 'main' ? PREDEFINED : this.everywhere.get(s.var);
          if (outer !== undefined) {
            this.error(vloc, `'${s.var}' is already the loop variable of the enclosing repeat at line ${outer.line}`, s.var.length);
          } else if (global !== undefined) {
            const where = global === PREDEFINED ? 'the initial process' : `at line ${global.line}`;
            this.error(vloc, `'${s.var}' is already bound (${where}); a loop variable needs a name of its own`, s.var.length);
          }
          loopVars.set(s.var, vloc);
        }
        this.walk(s.body, { ...ctx, top: false, loopVars });
        return undefined;
      }
      case 'print':
        if (s.what.kind === 'range') this.range(s.what.range, ctx);
        return last;
      case 'launch': {
        const k = this.resolve(s.kernel, s.kernelLoc, ['kernel'], "a kernel (declared with 'kernel')");
        if (k?.params !== undefined && k.params.length !== s.args.length) {
          const takes = k.params.length === 1 ? '1 parameter' : `${k.params.length} parameters`;
          this.error(s.kernelLoc, `kernel '${s.kernel}' takes ${takes} (${k.params.join(', ')}), but ${s.args.length} argument${s.args.length === 1 ? ' is' : 's are'} given`, s.kernel.length);
        }
        for (const a of s.args) this.range(a, ctx);
        this.device(s.device, s.deviceLoc);
        if (s.job !== undefined) this.bind(s.job, s.jobLoc ?? s.loc, { kind: 'job', loc: s.jobLoc ?? s.loc });
        return last;
      }
      case 'wait':
        if (s.target.kind === 'name') {
          this.resolve(s.target.name, s.target.loc, ['job', 'device'], "a job (launch … as JOB) or a device, after 'wait'");
        }
        return last;
      case 'advise':
        this.range(s.range, ctx);
        if (s.advice.kind === 'preferred') this.target(s.advice.target);
        else if (s.advice.kind === 'accessed-by') this.device(s.advice.device, s.advice.deviceLoc);
        return last;
      case 'prefetch':
        this.range(s.range, ctx);
        this.target(s.target);
        return last;
    }
  }

  /**
   * A fn may be called from many places, but never (directly or not) from itself. Depth-first
   * with an explicit stack: a chain of thousands of fns calling each other is a valid script.
   */
  private checkRecursion(): void {
    const state = new Map<string, 'active' | 'done'>();
    const path: string[] = [];
    /** Per fn on the path: its calls and how many of them were looked at. */
    const stack: { calls: readonly { callee: string; loc: Loc }[]; next: number }[] = [];
    const enter = (fn: string): void => {
      state.set(fn, 'active');
      path.push(fn);
      stack.push({ calls: this.calls.get(fn) ?? [], next: 0 });
    };
    for (const root of this.calls.keys()) {
      if (state.has(root)) continue;
      enter(root);
      while (stack.length > 0) {
        const top = stack[stack.length - 1]!;
        const call = top.calls[top.next++];
        if (call === undefined) {
          stack.pop();
          state.set(path.pop()!, 'done');
          continue;
        }
        const st = state.get(call.callee);
        if (st === 'active') {
          const names = [...path.slice(path.indexOf(call.callee)), call.callee];
          const cycle = names.length <= 8 ? names.join(' → ') : [...names.slice(0, 4), `… (${names.length - 6} more)`, ...names.slice(-2)].join(' → ');
          this.error(call.loc, `recursive call: ${cycle} (a fn may not call itself, directly or through others)`, call.callee.length);
        } else if (st === undefined && this.calls.has(call.callee)) {
          enter(call.callee);
        }
      }
    }
  }
}

/** Checks a parsed script; the diagnostics are sorted by position. */
export function checkScript(script: Script): Diagnostic[] {
  const c = new Checker(script.file);
  c.check(script.body);
  return c.diagnostics
    .map((d, n) => ({ d, n }))
    .sort((a, b) => a.d.line - b.d.line || a.d.col - b.d.col || a.n - b.n)
    .map(({ d }) => d);
}
