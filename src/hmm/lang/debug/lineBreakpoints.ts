// Line breakpoints: moved to the next line that holds a statement, with conditions, hit counts
// and log messages.

import type { Script, Stmt } from '../ast';
import { type ConditionScope, conditionProblem, evalCondition, interpolate } from './conditions';

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

export interface LineBreakpointRequest {
  readonly line: number;
  readonly condition?: string;
  readonly hitCondition?: string;
  readonly logMessage?: string;
}

export class LineBreakpoints {
  private list: LineBreakpoint[] = [];

  constructor(private readonly script: Script, private readonly newId: () => number) {}

  set(reqs: readonly LineBreakpointRequest[]): LineBreakpoint[] {
    const lines = statementLines(this.script);
    this.list = reqs.map((r) => {
      const line = lines.find((l) => l >= r.line);
      const problem = r.condition !== undefined ? conditionProblem(r.condition) : undefined;
      const hitProblem = r.hitCondition !== undefined && parseHitCondition(r.hitCondition) === undefined
        ? `hit count '${r.hitCondition}' is not N, >= N, > N, == N or % N` : undefined;
      return {
        id: this.newId(), requestedLine: r.line, line: line ?? r.line, verified: line !== undefined && !problem && !hitProblem,
        message: line === undefined ? 'no statement at or after this line' : problem ?? hitProblem,
        condition: r.condition, hitCondition: r.hitCondition, logMessage: r.logMessage, hits: 0,
      };
    });
    return this.list;
  }

  resetHits(): void {
    for (const b of this.list) b.hits = 0;
  }

  /**
   * The breakpoints that stop before the statement at `line` (counting their hits); logpoints
   * there print through `log` instead (undefined while replaying: nothing is printed twice).
   */
  stopsAt(line: number, scope: ConditionScope, log: ((text: string) => void) | undefined): number[] {
    const hits: number[] = [];
    for (const b of this.list) {
      if (!b.verified || b.line !== line) continue;
      if (b.condition !== undefined && !evalCondition(scope, b.condition)) continue;
      b.hits++;
      if (b.hitCondition !== undefined && !hitConditionHolds(b.hitCondition, b.hits)) continue;
      if (b.logMessage !== undefined) {
        log?.(interpolate(scope, b.logMessage));
        continue;
      }
      hits.push(b.id);
    }
    return hits;
  }
}

/** Walk every statement, blocks included (kernel bodies are not statements). */
function walk(body: readonly Stmt[], visit: (s: Stmt) => void): void {
  for (const s of body) {
    visit(s);
    if ('body' in s && Array.isArray(s.body) && s.kind !== 'kernel') walk(s.body as Stmt[], visit);
  }
}

/** Lines that hold a statement (a `fork {` block's `}` is the child's exit), for moving breakpoints to the next one. */
function statementLines(script: Script): number[] {
  const lines = new Set<number>();
  walk(script.body, (s) => {
    if (s.kind !== 'fn' && s.kind !== 'kernel') lines.add(s.loc.line);
    if (s.kind === 'forkBlock') lines.add(s.endLoc.line);
  });
  return [...lines].sort((a, b) => a - b);
}

/** The first statement on `line`. */
export function statementAtLine(script: Script, line: number): Stmt | undefined {
  let found: Stmt | undefined;
  walk(script.body, (s) => {
    if (s.loc.line === line) found ??= s;
  });
  return found;
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
