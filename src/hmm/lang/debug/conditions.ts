// The condition language of line breakpoints and logpoints: `last.rc == EFAULT`, `c >= 3`,
// `stats.gpu0.faults > 0`, `time > 1000`, and `{…}` values in log messages.

import type { Simulator } from '../../simulator';
import { ERRNO } from '../../constants';
import { compareValues, type CompareOp } from '../ast';
import type { LastResult } from '../exec/context';

/** `LEFT op RIGHT`, or a single value (true when not 0). */
const COMPARISON = /^\s*(.+?)\s*(==|!=|<=|>=|<|>)\s*(.+?)\s*$/;
const NUMBER = /^-?(0x[0-9a-fA-F]+|\d+)$/;
const NAME = /^[A-Za-z_][\w.]*$/;
const DEVICE_COUNTER = /^(?:stats\.)?([A-Za-z_]\w*)\.(faults|pages_in|pages_out|evictions)$/;

/** What names in a condition see: the innermost block's variables, `last`, the machine's statistics. */
export interface ConditionScope {
  readonly vars: ReadonlyMap<string, number> | undefined;
  readonly last: LastResult;
  readonly sim: Simulator;
}

function operands(text: string): { left: string; op: CompareOp | undefined; right: string | undefined } {
  const m = COMPARISON.exec(text);
  return m ? { left: m[1]!, op: m[2] as CompareOp /* COMPARISON matches only these */, right: m[3]! } : { left: text.trim(), op: undefined, right: undefined };
}

/** Why `text` can never be evaluated, or undefined when it can. */
export function conditionProblem(text: string): string | undefined {
  if (text.trim() === '') return 'empty condition';
  const { left, right } = operands(text);
  for (const n of right === undefined ? [left] : [left, right]) {
    if (!NUMBER.test(n) && !NAME.test(n)) return `cannot evaluate '${n}' (use numbers, loop variables, last.rc/cpages/faults, stats.DEV.faults, time)`;
  }
  return undefined;
}

export function evalCondition(scope: ConditionScope, text: string): boolean {
  const { left, op, right } = operands(text);
  const a = valueOf(scope, left);
  if (op === undefined) return Boolean(a);
  const b = valueOf(scope, right!);
  return compareValues(a, op, b);
}

/** The value of a name in conditions and logpoint `{…}`: numbers, errno names, loop variables, last.*, stats.*; NaN when unknown. */
export function valueOf(scope: ConditionScope, name: string): number {
  if (NUMBER.test(name)) return Number(name);
  if (Object.hasOwn(ERRNO, name)) return -ERRNO[name as keyof typeof ERRNO];
  const v = scope.vars?.get(name);
  if (v !== undefined) return v;
  const sim = scope.sim;
  switch (name) {
    case 'last.rc': return scope.last.rc;
    case 'last.cpages': return scope.last.cpages;
    case 'last.faults': return scope.last.faults;
    case 'time': case 'stats.time': return sim.clock.now;
    case 'cpu.faults': case 'stats.cpu.faults': return sim.stats.cpuFaults;
    default: break;
  }
  const sm = DEVICE_COUNTER.exec(name);
  if (sm) {
    const s = sim.stats.devices.get(sm[1]!);
    if (s) return { faults: s.faults, pages_in: s.pagesIn, pages_out: s.pagesOut, evictions: s.evictions }[sm[2] as 'faults'];
  }
  return NaN;
}

/** A logpoint's message with each `{name}` replaced by its value (`{name?}` when it has none). */
export function interpolate(scope: ConditionScope, message: string): string {
  return message.replace(/\{([^}]+)\}/g, (_, expr: string) => {
    const v = valueOf(scope, expr.trim());
    return Number.isNaN(v) ? `{${expr}?}` : String(v);
  });
}
