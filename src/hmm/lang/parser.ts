// The parser: recursive descent over token lines; reports every problem, recovering at the next line.

import { PAGE_SIZE } from '../constants';
import {
  ERRNO_NAMES, exprDepth, NOTIFIER_EVENT_NAMES, SNAPSHOT_FLAG_VALUES,
} from './ast';
import type {
  AdviceKind, BinaryOp, CompareOp, DeviceDecl, LinuxDecl, DeviceMemoryKind, Diagnostic, Errno, Expr, FileDecl, FnDecl,
  IndexRange, KernelDecl, KernelStmt, Loc, MadviseAdvice, MirrorMapping, MmapStmt, MremapStmt, NotifierEventName,
  PageStatePattern, Prot, RangeRef, Script, SnapshotFlagName, StatsCounter, Stmt, Target,
} from './ast';
import { describeToken, lex } from './lexer';
import type { OpText, Token, TokenLine } from './lexer';
import { MAX_BLOCK_DEPTH, MAX_EXPR_DEPTH } from './limits';

/** Words that start a statement (or a kernel body line). */
export const STATEMENT_KEYWORDS: readonly string[] = [
  'linux', 'device', 'file', 'read', 'write', 'munmap', 'mprotect', 'madvise', 'pin', 'unpin', 'compute', 'migrate',
  'fork', 'as', 'exit', 'expect', 'fn', 'call', 'repeat', 'print', 'kernel', 'launch', 'wait', 'advise',
  'prefetch', 'atomic',
];

/** What may follow a device name to make a device operation. */
export const DEVICE_OPS: readonly string[] = [
  'read', 'write', 'snapshot', 'exclusive', 'check-exclusive', 'release', 'fail-next-alloc', 'close',
];

/**
 * Names a script may not bind: statement keywords would make lines ambiguous (`read read a`),
 * and these words have a fixed meaning where names also stand (`i` in patterns, `to system`,
 * `wait all`, `stats.cpu.faults`, `stats.time`, `owner none`, `last.rc`).
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([
  ...STATEMENT_KEYWORDS, ...DEVICE_OPS, 'mmap', 'mremap', 'i', 'last', 'stats', 'system', 'all', 'cpu', 'none', 'time',
]);

const SIZE_UNITS: Readonly<Record<string, number>> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };
const DURATION_UNITS: Readonly<Record<string, number>> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9 };
const PROTS: readonly Prot[] = ['none', 'r', 'rw'];
const ADVICES: readonly MadviseAdvice[] = ['dontneed', 'free', 'hugepage', 'nohugepage', 'collapse'];
const MIRROR_MAPPINGS: readonly MirrorMapping[] = ['none', 'read', 'write', 'atomic'];
const COMPARE_OPS: readonly CompareOp[] = ['==', '!=', '<', '<=', '>', '>='];
const DEVICE_COUNTERS: readonly string[] = ['faults', 'pages_in', 'pages_out', 'evictions'];

// C precedence, loosest first; unary minus binds tighter than all of them.
const BINARY_LEVELS: readonly (readonly BinaryOp[])[] = [['|'], ['^'], ['&'], ['<<', '>>'], ['+', '-'], ['*']];

/** The closest candidate within edit distance 2, for "did you mean" hints. */
export function suggestName(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDist = 3;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    // At most half the word may differ, so 'a' does not suggest 'as'.
    if (d < bestDist && d <= Math.floor(word.length / 2)) { best = c; bestDist = d; }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

const didYouMean = (word: string, candidates: Iterable<string>): string => {
  const s = suggestName(word, candidates);
  return s === undefined ? '' : `; did you mean '${s}'?`;
};

const list = (xs: readonly string[]): string => xs.join(', ');

/** A problem that ends the current line. */
class ParseError extends Error {
  constructor(readonly at: Loc, readonly endCol: number, message: string) {
    super(message);
  }
}

const locOf = (t: Token): Loc => ({ line: t.line, col: t.col });

interface Opener {
  readonly what: string;
  readonly loc: Loc;
}

class Parser {
  readonly diagnostics: Diagnostic[] = [];
  private idx = 0;
  private toks: readonly Token[] = [];
  private pos = 0;
  /** Blocks open around the line being parsed, and parentheses / minus signs around the token. */
  private blockDepth = 0;
  private nesting = 0;

  constructor(private readonly file: string, private readonly lines: readonly TokenLine[], private readonly eof: Loc) {}

  parseTop(): Stmt[] {
    return this.body(() => this.statementLine(), undefined).body;
  }

  // ---- lines and blocks ---------------------------------------------------------------------

  /** Lines up to the `}` that closes `opener` (or the end of file at top level). */
  private body<T>(parseLine: () => T | undefined, opener: Opener | undefined): { body: T[]; endLoc: Loc } {
    if (opener === undefined) return this.lines_(parseLine, opener);
    if (this.blockDepth >= MAX_BLOCK_DEPTH) {
      this.report(opener.loc, opener.loc.col + 1, `blocks are nested too deeply: at most ${MAX_BLOCK_DEPTH} levels`);
      return { body: [], endLoc: this.skipNested() };
    }
    this.blockDepth++;
    try {
      return this.lines_(parseLine, opener);
    } finally {
      this.blockDepth--;
    }
  }

  /**
   * Skips the lines of a block refused for its depth, and every block inside it, without
   * recursing (the point is not to use the stack): returns where its `}` is, or the end of file.
   */
  private skipNested(): Loc {
    let open = 1;
    while (this.idx < this.lines.length) {
      const toks = this.lines[this.idx++].tokens;
      const first = toks[0];
      if (first.kind === 'op' && first.op === '}') {
        if (--open === 0) return locOf(first);
        continue;
      }
      const opens = toks.filter((t) => t.kind === 'op' && t.op === '{').length;
      const closes = toks.filter((t) => t.kind === 'op' && t.op === '}').length;
      if (opens > closes) open++;
    }
    return this.eof;
  }

  private lines_<T>(parseLine: () => T | undefined, opener: Opener | undefined): { body: T[]; endLoc: Loc } {
    const out: T[] = [];
    while (this.idx < this.lines.length) {
      const line = this.lines[this.idx];
      const first = line.tokens[0];
      if (first.kind === 'op' && first.op === '}') {
        this.idx++;
        const after = line.tokens[1];
        if (after.kind !== 'eol') {
          this.report(locOf(after), after.endCol, `'}' must stand alone on its line, found ${describeToken(after)} after it`);
        }
        if (opener === undefined) {
          this.report(locOf(first), first.endCol, "unexpected '}': no block is open here");
          continue;
        }
        return { body: out, endLoc: locOf(first) };
      }
      const item = parseLine();
      if (item !== undefined) out.push(item);
    }
    if (opener !== undefined) {
      this.report(opener.loc, opener.loc.col + 1, `${opener.what} is never closed: expected '}' alone on a line`);
    }
    return { body: out, endLoc: this.eof };
  }

  private statementLine(): Stmt | undefined {
    return this.line(() => this.statement());
  }

  private kernelLine(): KernelStmt | undefined {
    return this.line(() => this.kernelStatement());
  }

  /** Parses one line with `parse`; on a problem, reports it and skips the line (and its block). */
  private line<T>(parse: () => T): T | undefined {
    const line = this.lines[this.idx++];
    this.toks = line.tokens;
    this.pos = 0;
    this.nesting = 0;
    if (!line.hasError) {
      try {
        return parse();
      } catch (e) {
        if (!(e instanceof ParseError)) throw e;
        this.report(e.at, e.endCol, e.message);
      }
    }
    this.skipBlockOf(line);
    return undefined;
  }

  /** A rejected line that opens a block: parse (and drop) the block so its `}` stays matched. */
  private skipBlockOf(line: TokenLine): void {
    const opens = line.tokens.filter((t) => t.kind === 'op' && t.op === '{').length;
    const closes = line.tokens.filter((t) => t.kind === 'op' && t.op === '}').length;
    if (opens <= closes) return;
    const brace = line.tokens.find((t) => t.kind === 'op' && t.op === '{');
    const opener: Opener = { what: 'this block', loc: brace === undefined ? locOf(line.tokens[0]) : locOf(brace) };
    const first = line.tokens[0];
    if (first.kind === 'name' && first.text === 'kernel') this.body(() => this.kernelLine(), opener);
    else this.body(() => this.statementLine(), opener);
  }

  private report(at: Loc, endCol: number, message: string): void {
    this.diagnostics.push({ file: this.file, line: at.line, col: at.col, endCol, severity: 'error', message });
  }

  // ---- token helpers ------------------------------------------------------------------------

  private peek(k = 0): Token {
    return this.toks[Math.min(this.pos + k, this.toks.length - 1)];
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eol') this.pos++;
    return t;
  }

  private err(t: Token, message: string): ParseError {
    return new ParseError(locOf(t), Math.max(t.endCol, t.col + 1), message);
  }

  /** A problem that does not stop the line (the statement is still built). */
  private soft(t: Token, message: string): void {
    this.report(locOf(t), Math.max(t.endCol, t.col + 1), message);
  }

  private isOp(t: Token, op: OpText): boolean {
    return t.kind === 'op' && t.op === op;
  }

  private isWord(t: Token, word: string): boolean {
    return t.kind === 'name' && t.text === word;
  }

  private acceptOp(op: OpText): boolean {
    if (!this.isOp(this.peek(), op)) return false;
    this.pos++;
    return true;
  }

  private acceptWord(word: string): boolean {
    if (!this.isWord(this.peek(), word)) return false;
    this.pos++;
    return true;
  }

  private expectOp(op: OpText, context: string): Token {
    const t = this.next();
    if (!this.isOp(t, op)) throw this.err(t, `expected '${op}' ${context}, found ${describeToken(t)}`);
    return t;
  }

  private expectWord(word: string, context: string): Token {
    const t = this.next();
    if (!this.isWord(t, word)) throw this.err(t, `expected '${word}' ${context}, found ${describeToken(t)}`);
    return t;
  }

  private name(what: string): Token {
    const t = this.next();
    if (t.kind !== 'name') throw this.err(t, `expected ${what}, found ${describeToken(t)}`);
    return t;
  }

  /** A name the statement binds: keywords and fixed words are refused. */
  private bindingName(what: string): Token {
    const t = this.name(what);
    if (t.text === 'i') throw this.err(t, `'i' is the word index in patterns and cannot be ${what}`);
    if (RESERVED_NAMES.has(t.text)) throw this.err(t, `'${t.text}' is a keyword and cannot be ${what}`);
    return t;
  }

  /** One of `choices`, described as `what` in the message. */
  private choice<T extends string>(choices: readonly T[], what: string): { value: T; tok: Token } {
    const t = this.next();
    const found = choices.find((c) => t.kind === 'name' && t.text === c);
    if (found === undefined) {
      const hint = t.kind === 'name' ? didYouMean(t.text, choices) : '';
      throw this.err(t, `expected ${what} (${list(choices)}), found ${describeToken(t)}${hint}`);
    }
    return { value: found, tok: t };
  }

  private atStatementEnd(): boolean {
    const t = this.peek();
    return t.kind === 'eol' || this.isOp(t, '->');
  }

  /** The end of a statement, with its optional `-> ERRNO` (device operations only). */
  private end(allowErrno: boolean): Errno | undefined {
    let errno: Errno | undefined;
    const arrow = this.peek();
    if (this.isOp(arrow, '->')) {
      if (!allowErrno) {
        throw this.err(arrow, "'-> ERRNO' may only end a device operation (DEV read/write/snapshot/exclusive/check-exclusive/release/fail-next-alloc/close, migrate) or a system call (mmap, mremap, munmap, mprotect, madvise)");
      }
      this.pos++;
      errno = this.choice(ERRNO_NAMES, 'an error name').value;
    }
    const t = this.peek();
    if (t.kind !== 'eol') throw this.err(t, `unexpected ${describeToken(t)} at the end of the statement`);
    return errno;
  }

  // ---- values -------------------------------------------------------------------------------

  private number(what: string): { value: number; tok: Token } {
    const t = this.next();
    if (t.kind !== 'number') throw this.err(t, `expected ${what}, found ${describeToken(t)}`);
    return { value: t.value, tok: t };
  }

  /** SIZE: a number and a unit, in pages. */
  private size(what: string, allowZero = false): number {
    const { value, tok } = this.number(`${what} (a number followed by pages, B, KiB, MiB or GiB)`);
    const u = this.next();
    const unit = u.kind === 'name' ? u.text : '';
    let pages: number;
    if (unit === 'pages' || unit === 'page') {
      pages = value;
    } else if (SIZE_UNITS[unit] !== undefined) {
      const bytes = value * SIZE_UNITS[unit];
      pages = Math.ceil(bytes / PAGE_SIZE);
      if (bytes % PAGE_SIZE !== 0) {
        this.soft(tok, `size ${tok.text} ${unit} is not a multiple of the page size (${PAGE_SIZE} bytes)`);
      }
    } else {
      const hint = u.kind === 'name' ? didYouMean(u.text, ['pages', 'page', ...Object.keys(SIZE_UNITS)]) : '';
      throw this.err(u, `expected a size unit (pages, page, B, KiB, MiB, GiB) after '${tok.text}', found ${describeToken(u)}${hint}`);
    }
    if (!allowZero && pages === 0) this.soft(tok, 'a size must be at least one page');
    if (!Number.isSafeInteger(pages)) this.soft(tok, 'size is too large');
    return pages;
  }

  /** DURATION: a number and ns/us/ms/s, in ns. */
  private duration(what: string): number {
    const { value, tok } = this.number(`${what} (a number followed by ns, us, ms or s)`);
    const u = this.next();
    const factor = u.kind === 'name' ? DURATION_UNITS[u.text] : undefined;
    if (factor === undefined) {
      const hint = u.kind === 'name' ? didYouMean(u.text, Object.keys(DURATION_UNITS)) : '';
      throw this.err(u, `expected a time unit (ns, us, ms, s) after '${tok.text}', found ${describeToken(u)}${hint}`);
    }
    const ns = value * factor;
    if (!Number.isSafeInteger(ns)) this.soft(tok, 'duration is too large');
    return ns;
  }

  private prot(): Prot {
    return this.choice(PROTS, 'a protection').value;
  }

  /** A protection whose absence is reported but does not drop the statement (assumes rw). */
  private softProt(): Prot {
    const t = this.peek();
    const found = PROTS.find((p) => this.isWord(t, p));
    if (found !== undefined) { this.pos++; return found; }
    this.soft(t, `expected a protection (${list(PROTS)}), found ${describeToken(t)}` + (t.kind === 'name' ? didYouMean(t.text, PROTS) : ''));
    if (t.kind === 'name') this.pos++;
    return 'rw';
  }

  private target(what: string): Target {
    const t = this.name(`${what} (a device name or 'system')`);
    return t.text === 'system' ? { kind: 'system' } : { kind: 'device', name: t.text, loc: locOf(t) };
  }

  // ---- expressions --------------------------------------------------------------------------

  /**
   * A whole expression. Its tree's depth is bounded (the parser's own recursion is bounded by
   * `nesting`; an operator chain such as `1 + 1 + …` builds depth without recursing here).
   */
  private expression(): Expr {
    const start = this.peek();
    const e = this.expr();
    if (exprDepth(e) > MAX_EXPR_DEPTH) {
      throw new ParseError(locOf(start), Math.max(start.endCol, start.col + 1), `expression is nested too deeply: at most ${MAX_EXPR_DEPTH} levels of operators, parentheses and minus signs`);
    }
    return e;
  }

  /** Counts a level of parentheses or unary minus; refuses one too many before recursing. */
  private deeper(t: Token): void {
    if (++this.nesting > MAX_EXPR_DEPTH) {
      throw this.err(t, `expression is nested too deeply: at most ${MAX_EXPR_DEPTH} levels of operators, parentheses and minus signs`);
    }
  }

  private expr(level = 0): Expr {
    if (level === BINARY_LEVELS.length) return this.unary();
    let left = this.expr(level + 1);
    for (;;) {
      const t = this.peek();
      const op = t.kind === 'op' ? BINARY_LEVELS[level].find((o) => o === t.op) : undefined;
      if (op === undefined) return left;
      this.pos++;
      const right = this.expr(level + 1);
      left = { kind: 'binary', op, left, right, loc: left.loc };
    }
  }

  private unary(): Expr {
    const t = this.peek();
    if (this.isOp(t, '-')) {
      this.pos++;
      this.deeper(t);
      const operand = this.unary();
      this.nesting--;
      return { kind: 'neg', operand, loc: locOf(t) };
    }
    return this.primary();
  }

  private primary(): Expr {
    const t = this.next();
    if (t.kind === 'number') {
      if (t.value > 0xffff_ffff) this.soft(t, `number ${t.text} does not fit in 32 bits`);
      return { kind: 'num', value: t.value, loc: locOf(t) };
    }
    if (t.kind === 'name') {
      return t.text === 'i' ? { kind: 'wordIndex', loc: locOf(t) } : { kind: 'var', name: t.text, loc: locOf(t) };
    }
    if (this.isOp(t, '(')) {
      this.deeper(t);
      const e = this.expr();
      this.nesting--;
      this.expectOp(')', `to close the '(' at column ${t.col}`);
      return e;
    }
    throw this.err(t, `expected a value (a number, i, a loop variable or '('), found ${describeToken(t)}`);
  }

  // ---- ranges -------------------------------------------------------------------------------

  /** `[3]`, `[2..6]`, `[512..]`, `[..4]`; called with `[` next. */
  private bracket(): { start?: Expr; end?: Expr; single: boolean; loc: Loc } {
    const open = this.next();
    const loc = locOf(open);
    if (this.acceptOp('..')) {
      const end = this.expression();
      this.expectOp(']', `to close the '[' at column ${open.col}`);
      return { end, single: false, loc };
    }
    const start = this.expression();
    if (this.acceptOp('..')) {
      const end = this.isOp(this.peek(), ']') ? undefined : this.expression();
      this.expectOp(']', `to close the '[' at column ${open.col}`);
      return end === undefined ? { start, single: false, loc } : { start, end, single: false, loc };
    }
    this.expectOp(']', `or '..' after the index (to close the '[' at column ${open.col})`);
    return { start, single: true, loc };
  }

  private range(what = 'a range', named = 'a mapping name'): RangeRef {
    const t = this.name(`${what} (${named}, optionally with [N], [A..B], [A..] or [..B])`);
    const mappingLoc = locOf(t);
    if (!this.isOp(this.peek(), '[')) return { mapping: t.text, mappingLoc, single: false, loc: mappingLoc };
    const b = this.bracket();
    return { mapping: t.text, mappingLoc, ...optional('start', b.start), ...optional('end', b.end), single: b.single, loc: mappingLoc };
  }

  private indexRange(): IndexRange | undefined {
    return this.isOp(this.peek(), '[') ? this.bracket() : undefined;
  }

  // ---- statements ---------------------------------------------------------------------------

  private statement(): Stmt {
    const t0 = this.peek();
    const t1 = this.peek(1);
    if (t0.kind !== 'name') throw this.err(t0, `expected a statement, found ${describeToken(t0)}`);
    if (this.isOp(t1, '=')) return this.peek(2).kind === 'name' && this.peek(2).text === 'mremap' ? this.mremap() : this.mmap();
    switch (t0.text) {
      case 'linux': return this.linuxDecl();
      case 'device': return this.deviceDecl();
      case 'file': return this.fileDecl();
      case 'read': case 'unpin': {
        const kind = t0.text;
        this.pos++;
        const range = this.range();
        this.end(false);
        return { kind, range, loc: locOf(t0) };
      }
      case 'munmap': {
        this.pos++;
        const range = this.range();
        const errno = this.end(true);
        return { kind: 'munmap', range, ...optional('expectErrno', errno), loc: locOf(t0) };
      }
      case 'write': {
        this.pos++;
        const range = this.range();
        this.expectOp('=', 'after the range (write RANGE = PATTERN)');
        const pattern = this.expression();
        this.end(false);
        return { kind: 'write', range, pattern, loc: locOf(t0) };
      }
      case 'mprotect': {
        this.pos++;
        const range = this.range();
        const prot = this.prot();
        const errno = this.end(true);
        return { kind: 'mprotect', range, prot, ...optional('expectErrno', errno), loc: locOf(t0) };
      }
      case 'madvise': {
        this.pos++;
        const range = this.range();
        const advice = this.choice(ADVICES, 'an advice').value;
        const errno = this.end(true);
        return { kind: 'madvise', range, advice, ...optional('expectErrno', errno), loc: locOf(t0) };
      }
      case 'pin': {
        this.pos++;
        const range = this.range();
        const longterm = this.acceptWord('longterm');
        this.end(false);
        return { kind: 'pin', range, longterm, loc: locOf(t0) };
      }
      case 'compute': {
        this.pos++;
        const ns = this.duration('a duration');
        this.end(false);
        return { kind: 'compute', ns, loc: locOf(t0) };
      }
      case 'migrate': return this.migrate();
      case 'fork': return this.fork();
      case 'as': {
        this.pos++;
        const p = this.name('a process name after \'as\'');
        const brace = this.blockOpen(`to open the block run in process '${p.text}'`);
        const { body, endLoc } = this.body(() => this.statementLine(), { what: `the 'as ${p.text}' block`, loc: brace });
        return { kind: 'as', process: p.text, processLoc: locOf(p), body, endLoc, loc: locOf(t0) };
      }
      case 'exit': {
        this.pos++;
        const p = this.name('a process name after \'exit\'');
        this.end(false);
        return { kind: 'exit', process: p.text, processLoc: locOf(p), loc: locOf(t0) };
      }
      case 'expect': return this.expect();
      case 'fn': return this.fnDecl();
      case 'call': {
        this.pos++;
        const n = this.name('a function name after \'call\'');
        this.end(false);
        return { kind: 'call', name: n.text, nameLoc: locOf(n), loc: locOf(t0) };
      }
      case 'repeat': return this.repeat();
      case 'print': {
        this.pos++;
        const s = this.peek();
        if (s.kind === 'string') {
          this.pos++;
          this.end(false);
          return { kind: 'print', what: { kind: 'text', text: s.value }, loc: locOf(t0) };
        }
        const range = this.range('a range or "text"');
        this.end(false);
        return { kind: 'print', what: { kind: 'range', range }, loc: locOf(t0) };
      }
      case 'kernel': return this.kernelDecl();
      case 'launch': return this.launch();
      case 'wait': {
        this.pos++;
        const n = this.name('a job, a device or \'all\' after \'wait\'');
        this.end(false);
        return { kind: 'wait', target: n.text === 'all' ? { kind: 'all' } : { kind: 'name', name: n.text, loc: locOf(n) }, loc: locOf(t0) };
      }
      case 'advise': return this.advise();
      case 'prefetch': {
        this.pos++;
        const range = this.range();
        this.expectWord('to', 'after the range (prefetch RANGE to DEV|system)');
        const target = this.target('a prefetch target');
        this.end(false);
        return { kind: 'prefetch', range, target, loc: locOf(t0) };
      }
      case 'atomic':
        throw this.err(t0, "'atomic' is only allowed in a kernel body");
      default:
        break;
    }
    if (t1.kind === 'name' && DEVICE_OPS.includes(t1.text)) return this.deviceOp();
    const kwHint = suggestName(t0.text, STATEMENT_KEYWORDS);
    if (kwHint !== undefined) throw this.err(t0, `unknown statement '${t0.text}'; did you mean '${kwHint}'?`);
    if (t1.kind === 'name') {
      throw this.err(t1, `unknown device operation '${t1.text}' after '${t0.text}' (expected ${list(DEVICE_OPS)})${didYouMean(t1.text, DEVICE_OPS)}`);
    }
    throw this.err(t0, `unknown statement '${t0.text}': a statement starts with a keyword, a mapping name and '=', or a device name and an operation`);
  }

  /** `{` at the end of a header line; returns its location. */
  private blockOpen(context: string): Loc {
    const brace = this.expectOp('{', context);
    const t = this.peek();
    if (t.kind !== 'eol') throw this.err(t, `unexpected ${describeToken(t)} after '{': the block's statements start on the next line`);
    return locOf(brace);
  }

  /** `linux mainline` or `linux 6.12` (lexed as 6 . 12). */
  private linuxDecl(): LinuxDecl {
    const kw = this.next();
    const t = this.next();
    let version = t.text;
    if (t.kind === 'number' && this.isOp(this.peek(), '.') && this.peek(1).kind === 'number') {
      this.pos++;
      version = `${t.text}.${this.next().text}`;
    }
    if (t.kind === 'eol') this.soft(t, 'expected a kernel version after \'linux\' (mainline, 6.12), found end of line');
    else this.end(false);
    return { kind: 'linux', version, versionLoc: locOf(t), loc: locOf(kw) };
  }

  private deviceDecl(): DeviceDecl {
    const kw = this.next();
    const n = this.bindingName('a device name');
    let memoryKind: DeviceMemoryKind | undefined;
    let memoryPages: number | undefined;
    let link: Token | undefined;
    let policy: 'migrate' | 'mirror' | undefined;
    const seen = new Set<string>();
    while (!this.atStatementEnd()) {
      const t = this.next();
      const opt = t.kind === 'name' ? t.text : '';
      const slot = opt === 'coherent' ? 'private' : opt;
      if (seen.has(slot)) this.soft(t, slot === 'private' ? 'the memory kind (private or coherent) is given twice' : `'${opt}' is given twice`);
      seen.add(slot);
      switch (opt) {
        case 'private': case 'coherent': memoryKind = opt; break;
        case 'memory': memoryPages = this.size('a memory size after \'memory\''); break;
        case 'link': link = this.name('a link name after \'link\''); break;
        case 'policy': policy = this.choice(['migrate', 'mirror'] as const, 'a fault policy').value; break;
        default: // reported, skipped: the device stays declared
          this.soft(t, `expected a device option (private, coherent, memory SIZE, link NAME, policy migrate|mirror), found ${describeToken(t)}`
            + (t.kind === 'name' ? didYouMean(t.text, ['private', 'coherent', 'memory', 'link', 'policy']) : ''));
      }
    }
    this.end(false);
    return {
      kind: 'device', name: n.text, nameLoc: locOf(n), memoryKind: memoryKind ?? 'private',
      ...optional('memoryPages', memoryPages),
      ...(link === undefined ? {} : { link: link.text, linkLoc: locOf(link) }),
      ...optional('policy', policy),
      loc: locOf(kw),
    };
  }

  private fileDecl(): FileDecl {
    const kw = this.next();
    const n = this.bindingName('a file name');
    const pages = this.size('a file size');
    const init = this.acceptOp('=') ? this.expression() : undefined;
    this.end(false);
    return { kind: 'file', name: n.text, nameLoc: locOf(n), pages, ...optional('init', init), loc: locOf(kw) };
  }

  private mmap(): MmapStmt {
    const n = this.bindingName('a mapping name');
    this.next(); // '='
    this.expectWord('mmap', `after '${n.text} ='`);
    const s = this.peek();
    let source: MmapStmt['source'];
    if (s.kind === 'number') source = { kind: 'anon', pages: this.size('a mapping size') };
    else if (s.kind === 'name') {
      this.pos++;
      // `mmap DEV SIZE`: a size after the name makes it a mapping of a device's file.
      source = this.peek().kind === 'number'
        ? { kind: 'deviceFile', device: s.text, loc: locOf(s), pages: this.size('a mapping size') }
        : { kind: 'file', file: s.text, loc: locOf(s) };
    } else throw this.err(s, `expected a size (e.g. 16 pages), a file name or a device and a size after 'mmap', found ${describeToken(s)}`);
    // Problems after the name are reported without dropping the line, so the name stays bound
    // and later uses of it do not cascade into "not declared".
    const prot = this.softProt();
    let shared: Token | undefined;
    let priv: Token | undefined;
    let huge: Token | undefined;
    let hugetlb: Token | undefined;
    const options = ['shared', 'private', 'huge', 'hugetlb'];
    while (!this.atStatementEnd()) {
      const t = this.next();
      const word = t.kind === 'name' ? t.text : '';
      if (word === 'shared' || word === 'private') {
        if (shared !== undefined || priv !== undefined) this.soft(t, "'shared' or 'private' is given twice");
        if (word === 'shared') shared = t; else priv = t;
      } else if (word === 'huge' || word === 'hugetlb') {
        if ((word === 'huge' ? huge : hugetlb) !== undefined) this.soft(t, `'${word}' is given twice`);
        if (word === 'huge') huge = t; else hugetlb = t;
      } else {
        this.soft(t, `expected 'shared', 'private', 'huge' or 'hugetlb', found ${describeToken(t)}`
          + (t.kind === 'name' ? didYouMean(t.text, options) : ''));
      }
    }
    const errno = this.end(true);
    return {
      kind: 'mmap', name: n.text, source, prot, shared: shared !== undefined, huge: huge !== undefined,
      hugetlb: hugetlb !== undefined, ...optional('hugetlbLoc', hugetlb === undefined ? undefined : locOf(hugetlb)),
      ...optional('expectErrno', errno), loc: locOf(n),
    };
  }

  /**
   * `NEW = mremap RANGE to MAPPING[PAGE] [dontunmap]` (a move) or
   * `NEW = mremap RANGE to SIZE [at MAPPING[PAGE]] [maymove] [dontunmap]` (a resize, moved or not).
   */
  private mremap(): MremapStmt {
    const n = this.bindingName('a mapping name');
    this.next(); // '='
    this.expectWord('mremap', `after '${n.text} ='`);
    const range = this.range('the range to remap');
    this.expectWord('to', 'after the range (NEW = mremap RANGE to MAPPING[PAGE] or NEW = mremap RANGE to SIZE)');
    let target: RangeRef | undefined;
    let newPages: number | undefined;
    if (this.peek().kind === 'number') {
      newPages = this.size('the new size');
      if (this.peek().kind === 'name' && this.peek().text === 'at') {
        this.next();
        target = this.range('the new address', 'a mapping name with the page, e.g. b[640]');
      }
    } else {
      target = this.range('the new address or size', 'a mapping name with the page, e.g. b[640], or a size, e.g. 1024 pages');
    }
    const flags = newPages === undefined ? ['dontunmap'] : ['maymove', 'dontunmap'];
    let dontUnmap = false;
    let mayMove = false;
    while (!this.atStatementEnd()) {
      const t = this.next();
      const word = t.kind === 'name' ? t.text : '';
      if (!flags.includes(word)) {
        throw this.err(t, `expected ${flags.map((f) => `'${f}'`).join(', ')} or the end of the statement, found ${describeToken(t)}`
          + (t.kind === 'name' ? didYouMean(t.text, flags) : ''));
      }
      if (word === 'dontunmap' ? dontUnmap : mayMove) this.soft(t, `'${word}' is given twice`);
      if (word === 'dontunmap') dontUnmap = true; else mayMove = true;
    }
    const errno = this.end(true);
    return {
      kind: 'mremap', name: n.text, range, ...optional('target', target), ...optional('newPages', newPages), mayMove, dontUnmap,
      ...optional('expectErrno', errno), loc: locOf(n),
    };
  }

  private deviceOp(): Stmt {
    const dev = this.next();
    const op = this.next();
    const base = { device: dev.text, deviceLoc: locOf(dev), loc: locOf(dev) };
    let stmt: Stmt;
    switch (op.text) {
      case 'read': stmt = { kind: 'devRead', ...base, range: this.range() }; break;
      case 'write': {
        const range = this.range();
        this.expectOp('=', `after the range (${dev.text} write RANGE = PATTERN)`);
        stmt = { kind: 'devWrite', ...base, range, pattern: this.expression() };
        break;
      }
      case 'snapshot': stmt = { kind: 'snapshot', ...base, range: this.range() }; break;
      case 'exclusive': stmt = { kind: 'exclusive', ...base, range: this.range() }; break;
      case 'check-exclusive': stmt = { kind: 'checkExclusive', ...base, range: this.range() }; break;
      case 'release': stmt = { kind: 'release', ...base }; break;
      case 'fail-next-alloc': stmt = { kind: 'failNextAlloc', ...base }; break;
      default: stmt = { kind: 'close', ...base }; break;
    }
    const errno = this.end(true);
    return errno === undefined ? stmt : { ...stmt, expectErrno: errno };
  }

  private migrate(): Stmt {
    const kw = this.next();
    const range = this.range();
    this.expectWord('to', 'after the range (migrate RANGE to DEV|system)');
    const target = this.target('a migration target');
    let from: Token | undefined;
    const f = this.peek();
    if (this.isWord(f, 'from')) {
      if (target.kind !== 'system') throw this.err(f, "'from DEV' only follows 'to system'");
      this.pos++;
      from = this.name("a device name after 'from'");
    }
    const errno = this.end(true);
    return {
      kind: 'migrate', range, target, ...(from === undefined ? {} : { from: from.text, fromLoc: locOf(from) }),
      ...optional('expectErrno', errno), loc: locOf(kw),
    };
  }

  private fork(): Stmt {
    const kw = this.next();
    if (this.isOp(this.peek(), '{')) {
      const brace = this.blockOpen("to open the 'fork' block");
      const { body, endLoc } = this.body(() => this.statementLine(), { what: "the 'fork' block", loc: brace });
      return { kind: 'forkBlock', body, endLoc, loc: locOf(kw) };
    }
    const n = this.bindingName("a process name or '{' after 'fork'");
    this.end(false);
    return { kind: 'fork', name: n.text, nameLoc: locOf(n), loc: locOf(kw) };
  }

  private fnDecl(): FnDecl {
    const kw = this.next();
    const n = this.bindingName('a function name');
    const brace = this.blockOpen(`to open the body of fn '${n.text}'`);
    const { body, endLoc } = this.body(() => this.statementLine(), { what: `the body of fn '${n.text}'`, loc: brace });
    return { kind: 'fn', name: n.text, nameLoc: locOf(n), body, endLoc, loc: locOf(kw) };
  }

  private repeat(): Stmt {
    const kw = this.next();
    const count = this.expression();
    let v: Token | undefined;
    if (this.acceptWord('as')) v = this.bindingName('a loop variable name');
    const brace = this.blockOpen(v === undefined ? "or 'as VAR' after the repeat count" : 'to open the repeat block');
    const { body, endLoc } = this.body(() => this.statementLine(), { what: "the 'repeat' block", loc: brace });
    return {
      kind: 'repeat', count, ...(v === undefined ? {} : { var: v.text, varLoc: locOf(v) }), body, endLoc, loc: locOf(kw),
    };
  }

  private kernelDecl(): KernelDecl {
    const kw = this.next();
    const n = this.bindingName('a kernel name');
    this.expectOp('(', `after the kernel name '${n.text}' (kernel NAME(P, ...) {)`);
    const params: { name: string; loc: Loc }[] = [];
    if (!this.acceptOp(')')) {
      for (;;) {
        const p = this.bindingName('a parameter name');
        params.push({ name: p.text, loc: locOf(p) });
        if (this.acceptOp(')')) break;
        this.expectOp(',', "or ')' after a parameter");
      }
    }
    const brace = this.blockOpen(`to open the body of kernel '${n.text}'`);
    const { body, endLoc } = this.body(() => this.kernelLine(), { what: `the body of kernel '${n.text}'`, loc: brace });
    return { kind: 'kernel', name: n.text, nameLoc: locOf(n), params, body, endLoc, loc: locOf(kw) };
  }

  private kernelStatement(): KernelStmt {
    const t = this.next();
    const loc = locOf(t);
    let s: KernelStmt;
    switch (t.kind === 'name' ? t.text : '') {
      case 'read': s = { kind: 'kread', range: this.range('a parameter', 'a parameter name'), loc }; break;
      case 'atomic': s = { kind: 'katomic', range: this.range('a parameter', 'a parameter name'), loc }; break;
      case 'write': {
        const range = this.range('a parameter', 'a parameter name');
        this.expectOp('=', 'after the range (write P = PATTERN)');
        s = { kind: 'kwrite', range, pattern: this.expression(), loc };
        break;
      }
      case 'compute': s = { kind: 'kcompute', ns: this.duration('a duration'), loc }; break;
      default:
        throw this.err(t, `a kernel body holds only read, write, atomic and compute, found ${describeToken(t)}`);
    }
    this.end(false);
    return s;
  }

  private launch(): Stmt {
    const kw = this.next();
    const k = this.name("a kernel name after 'launch'");
    this.expectOp('(', `after the kernel name '${k.text}' (launch NAME(ARG, ...) on DEV)`);
    const args: RangeRef[] = [];
    if (!this.acceptOp(')')) {
      for (;;) {
        args.push(this.range('an argument'));
        if (this.acceptOp(')')) break;
        this.expectOp(',', "or ')' after an argument");
      }
    }
    this.expectWord('on', `after the arguments (launch ${k.text}(...) on DEV)`);
    const dev = this.name("a device name after 'on'");
    let job: Token | undefined;
    if (this.acceptWord('as')) job = this.bindingName('a job name');
    this.end(false);
    return {
      kind: 'launch', kernel: k.text, kernelLoc: locOf(k), args, device: dev.text, deviceLoc: locOf(dev),
      ...(job === undefined ? {} : { job: job.text, jobLoc: locOf(job) }), loc: locOf(kw),
    };
  }

  private advise(): Stmt {
    const kw = this.next();
    const range = this.range();
    const { value } = this.choice(['preferred', 'accessed-by', 'read-mostly', 'unset'] as const, 'an advice');
    let advice: AdviceKind;
    switch (value) {
      case 'preferred': advice = { kind: 'preferred', target: this.target("a placement after 'preferred'") }; break;
      case 'accessed-by': {
        const d = this.name("a device name after 'accessed-by'");
        advice = { kind: 'accessed-by', device: d.text, deviceLoc: locOf(d) };
        break;
      }
      default: advice = { kind: value }; break;
    }
    this.end(false);
    return { kind: 'advise', range, advice, loc: locOf(kw) };
  }

  // ---- expectations -------------------------------------------------------------------------

  private expect(): Stmt {
    const kw = this.next();
    const loc = locOf(kw);
    const t = this.peek();
    const t1 = this.peek(1);
    if (this.isWord(t, 'last') && this.isOp(t1, '.')) return this.expectLast(loc);
    if (this.isWord(t, 'stats') && this.isOp(t1, '.')) return this.expectStats(loc);
    if (this.isWord(t, 'notified') && t1.kind === 'name') return this.expectNotified(loc);
    if (this.isWord(t, 'not') && this.isWord(t1, 'notified')) {
      this.pos += 2;
      const d = this.name("a device name after 'not notified'");
      this.end(false);
      return { kind: 'expectNotNotified', device: d.text, deviceLoc: locOf(d), loc };
    }
    if (t.kind === 'name' && this.isWord(t1, 'maps')) {
      this.pos += 2;
      const range = this.range();
      this.expectWord('as', `after the range (expect ${t.text} maps RANGE as none|read|write|atomic)`);
      const mapping = this.choice(MIRROR_MAPPINGS, 'a mirror mapping').value;
      this.end(false);
      return { kind: 'expectMaps', device: t.text, deviceLoc: locOf(t), range, mapping, loc };
    }
    if (t.kind === 'name' && this.isWord(t1, 'used')) {
      this.pos += 2;
      this.expectOp('==', `after '${t.text} used'`);
      const pages = this.size('a size', true);
      this.end(false);
      return { kind: 'expectUsed', device: t.text, deviceLoc: locOf(t), pages, loc };
    }
    if (t.kind !== 'name') {
      throw this.err(t, `expected what to check after 'expect' (a range, last., stats., notified, not notified, DEV maps, DEV used), found ${describeToken(t)}`);
    }
    const range = this.range();
    const op = this.next();
    if (this.isOp(op, '==')) {
      const pattern = this.expression();
      this.end(false);
      return { kind: 'expectData', range, pattern, loc };
    }
    if (this.isWord(op, 'is')) {
      const state = this.pageState();
      this.end(false);
      return { kind: 'expectState', range, state, loc };
    }
    throw this.err(op, `expected '==' or 'is' after the range, found ${describeToken(op)}`);
  }

  private expectLast(loc: Loc): Stmt {
    this.pos += 2; // last .
    const f = this.name("rc, cpages, faults, data or flags after 'last.'");
    switch (f.text) {
      case 'rc': {
        this.expectOp('==', "after 'last.rc'");
        const v = this.next();
        if (v.kind === 'number' && v.value === 0) { this.end(false); return { kind: 'expectRc', rc: 0, loc }; }
        const errno = ERRNO_NAMES.find((e) => v.kind === 'name' && v.text === e);
        if (errno === undefined) {
          throw this.err(v, `expected an error name (${list(ERRNO_NAMES)}) or 0, found ${describeToken(v)}`);
        }
        this.end(false);
        return { kind: 'expectRc', rc: errno, loc };
      }
      case 'cpages': case 'faults': {
        this.expectOp('==', `after 'last.${f.text}'`);
        const value = this.expression();
        this.end(false);
        return { kind: 'expectCounter', counter: f.text, value, loc };
      }
      case 'data': {
        const index = this.indexRange();
        this.expectOp('==', index === undefined ? "or '[' after 'last.data'" : 'after the index');
        const pattern = this.expression();
        this.end(false);
        return { kind: 'expectLastData', ...optional('index', index), pattern, loc };
      }
      case 'flags': {
        const index = this.indexRange();
        this.expectOp('==', index === undefined ? "or '[' after 'last.flags'" : 'after the index');
        const flags = this.flags();
        this.end(false);
        return { kind: 'expectLastFlags', ...optional('index', index), flags, loc };
      }
      default:
        throw this.err(f, `expected rc, cpages, faults, data or flags after 'last.', found '${f.text}'`
          + didYouMean(f.text, ['rc', 'cpages', 'faults', 'data', 'flags']));
    }
  }

  /** Snapshot flag names and numbers joined with `|`. */
  private flags(): number {
    const names = Object.keys(SNAPSHOT_FLAG_VALUES) as SnapshotFlagName[];
    let value = 0;
    do {
      const t = this.next();
      if (t.kind === 'number') {
        if (t.value > 0xff) this.soft(t, `a snapshot flag byte is at most 0xFF, found ${t.text}`);
        value |= t.value;
      } else {
        const f = names.find((n) => t.kind === 'name' && t.text === n);
        if (f === undefined) {
          throw this.err(t, `expected a snapshot flag (${list(names)}) or a number, found ${describeToken(t)}`
            + (t.kind === 'name' ? didYouMean(t.text, names) : ''));
        }
        value |= SNAPSHOT_FLAG_VALUES[f];
      }
    } while (this.acceptOp('|'));
    return value;
  }

  private expectStats(loc: Loc): Stmt {
    this.pos += 2; // stats .
    const what = 'a counter (time, cpu.faults, DEV.faults, DEV.pages_in, DEV.pages_out, DEV.evictions)';
    const first = this.name(`${what} after 'stats.'`);
    let counter: StatsCounter;
    if (first.text === 'time') {
      counter = { counter: 'time' };
    } else {
      this.expectOp('.', `after 'stats.${first.text}' (stats.${first.text}.COUNTER)`);
      const c = this.next();
      if (first.text === 'cpu') {
        if (!this.isWord(c, 'faults')) throw this.err(c, `expected 'faults' after 'stats.cpu.' (the CPU counts only faults), found ${describeToken(c)}`);
      } else if (c.kind !== 'name' || !DEVICE_COUNTERS.includes(c.text)) {
        throw this.err(c, `expected a device counter (${list(DEVICE_COUNTERS)}) after 'stats.${first.text}.', found ${describeToken(c)}`
          + (c.kind === 'name' ? didYouMean(c.text, DEVICE_COUNTERS) : ''));
      }
      counter = { owner: first.text, ownerLoc: locOf(first), counter: c.text };
    }
    const opTok = this.next();
    const op = COMPARE_OPS.find((o) => opTok.kind === 'op' && opTok.op === o);
    if (op === undefined) throw this.err(opTok, `expected a comparison (${list(COMPARE_OPS)}), found ${describeToken(opTok)}`);
    const isTime = counter.counter === 'time';
    const value = isTime ? this.duration('a duration') : this.number('a number').value;
    this.end(false);
    return { kind: 'expectStats', counter, op, value, valueIsDuration: isTime, loc };
  }

  private expectNotified(loc: Loc): Stmt {
    this.pos++; // notified
    const d = this.name('a device name');
    const ev: NotifierEventName = this.choice(NOTIFIER_EVENT_NAMES, 'a notifier event').value;
    let range: RangeRef | undefined;
    const t = this.peek();
    // `owner` starts the owner clause unless indexed (`owner[2]`, a mapping that happens to be called so).
    if (t.kind === 'name' && !(t.text === 'owner' && !this.isOp(this.peek(1), '['))) range = this.range();
    let owner: { device: string; loc: Loc } | null | undefined;
    if (this.acceptWord('owner')) {
      const o = this.name("a device name or 'none' after 'owner'");
      owner = o.text === 'none' ? null : { device: o.text, loc: locOf(o) };
    }
    this.end(false);
    return {
      kind: 'expectNotified', device: d.text, deviceLoc: locOf(d), event: ev,
      ...optional('range', range), ...(owner === undefined ? {} : { owner }), loc,
    };
  }

  private pageState(): PageStatePattern {
    const { value: kind } = this.choice(['unmapped', 'empty', 'zero', 'system', 'device', 'exclusive'] as const, 'a page state');
    let device: Token | undefined;
    if (kind === 'device' || kind === 'exclusive') device = this.name(`a device name after '${kind}'`);
    let write: Token | undefined;
    let shared = false;
    let pinned = false;
    while (!this.atStatementEnd()) {
      const t = this.next();
      const m = t.kind === 'name' ? t.text : '';
      if (m !== 'ro' && m !== 'rw' && m !== 'shared' && m !== 'pinned') {
        throw this.err(t, `expected a modifier (ro, rw, shared, pinned), found ${describeToken(t)}` + (t.kind === 'name' ? didYouMean(t.text, ['ro', 'rw', 'shared', 'pinned']) : ''));
      }
      if (kind !== 'system' && kind !== 'device') {
        throw this.err(t, `modifiers (ro, rw, shared, pinned) apply only to 'system' and 'device DEV', not to '${kind}'`);
      }
      if (m === 'ro' || m === 'rw') {
        if (write !== undefined) this.soft(t, write.text === m ? `'${m}' is given twice` : "'ro' and 'rw' exclude each other");
        write = t;
      } else if (m === 'shared') {
        if (shared) this.soft(t, "'shared' is given twice");
        shared = true;
      } else {
        if (pinned) this.soft(t, "'pinned' is given twice");
        pinned = true;
      }
    }
    return {
      kind,
      ...(device === undefined ? {} : { device: device.text, deviceLoc: locOf(device) }),
      ...(write === undefined ? {} : { write: write.text === 'ro' ? 'ro' : 'rw' }),
      ...(shared ? { shared } : {}),
      ...(pinned ? { pinned } : {}),
    };
  }
}

/** `{ key: value }` when value is defined, else `{}`: keeps absent optional fields absent. */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]?: V });
}

/** Parses a whole `.hmm` file. Diagnostics are sorted by position; the script holds every line that parsed. */
export function parseScript(file: string, text: string): { script: Script; diagnostics: Diagnostic[] } {
  const lexed = lex(file, text);
  const parser = new Parser(file, lexed.lines, lexed.eof);
  const body = parser.parseTop();
  const diagnostics = [...lexed.diagnostics, ...parser.diagnostics]
    .map((d, n) => ({ d, n }))
    .sort((a, b) => a.d.line - b.d.line || a.d.col - b.d.col || a.n - b.n)
    .map(({ d }) => d);
  return { script: { file, body }, diagnostics };
}
