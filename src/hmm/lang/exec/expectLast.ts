// Expectations on `last`: what the last device operation returned, counted and read.

import { errnoName, WORDS_PER_PAGE } from '../../constants';
import { PREEMPT, preemptAt } from '../../kernelWork';
import type { IndexRange } from '../ast';
import { compile, evalConst, patternText } from '../pattern';
import { flagText } from '../stateText';
import { errnoRc, Fail, type Frame, type StatementHandlers } from './context';

export const lastExpectations: StatementHandlers<'expectRc' | 'expectCounter' | 'expectLastData' | 'expectLastFlags'> = {
  *expectRc(ctx, stmt) {
    const want = stmt.rc === 0 ? 0 : errnoRc(stmt.rc);
    if (ctx.last.rc !== want) throw new Fail(stmt.loc, `expected last.rc == ${stmt.rc}, found ${errnoName(ctx.last.rc)}`);
  },
  *expectCounter(ctx, stmt, frame) {
    const want = evalConst(stmt.value, frame.vars);
    const got = ctx.last[stmt.counter];
    if (got !== want) throw new Fail(stmt.loc, `expected last.${stmt.counter} == ${want}, found ${got}`);
  },
  *expectLastData(ctx, stmt, frame) {
    const sim = ctx.sim;
    const d = ctx.last.data;
    if (d === undefined) throw new Fail(stmt.loc, 'expected last.data, but no device operation has read data yet');
    const [s, e] = indexRange(stmt.index, d.start - d.mapStart, d.count, frame, 'last.data');
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
  },
  *expectLastFlags(ctx, stmt, frame) {
    const fl = ctx.last.flags;
    if (fl === undefined) throw new Fail(stmt.loc, 'expected last.flags, but no snapshot has run yet');
    const off = fl.start - fl.mapStart;
    const [s, e] = indexRange(stmt.index, off, fl.bytes.length, frame, 'last.flags');
    for (let pi = s; pi < e; pi++) {
      if (preemptAt(pi - s)) yield PREEMPT;
      const got = fl.bytes[pi - off]!;
      if (got !== stmt.flags) {
        throw new Fail(stmt.loc, `expected last.flags[${pi}] == ${flagText(stmt.flags)}, found ${flagText(got)}`);
      }
    }
  },
};

/** Page indices (as for the mapping) of last.data / last.flags, checked against what was read. */
function indexRange(ix: IndexRange | undefined, first: number, count: number, frame: Frame, what: string): [number, number] {
  if (ix === undefined) return [first, first + count];
  const s = ix.start === undefined ? first : evalConst(ix.start, frame.vars);
  const e = ix.single ? s + 1 : ix.end === undefined ? first + count : evalConst(ix.end, frame.vars);
  if (s < first || e > first + count || s >= e) {
    throw new Fail(ix.loc, `${what}[${s}..${e}] is outside the pages the last operation covered (${first}..${first + count})`);
  }
  return [s, e];
}
