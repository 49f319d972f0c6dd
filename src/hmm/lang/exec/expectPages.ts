// Expectations on pages as they are now: contents, residency state, device mappings.

import { WORDS_PER_PAGE } from '../../constants';
import type { PageState } from '../../simulator';
import { PREEMPT, PREEMPT_PAGES, preemptAt } from '../../kernelWork';
import type { PageStatePattern } from '../ast';
import { compile, patternText } from '../pattern';
import { foundText } from '../stateText';
import { device, Fail, range, type StatementHandlers } from './context';

export const pageExpectations: StatementHandlers<'expectData' | 'expectState' | 'expectMaps'> = {
  *expectData(ctx, stmt, frame) {
    const sim = ctx.sim;
    const r = range(ctx, stmt.range, frame);
    const p = compile(stmt.pattern, frame.vars);
    // Pages that plainly hold the pattern's own content at their own page are skipped a PTE page
    // at a time (no page differs from them); the rest are looked at word by word.
    const id = sim.contents.idOf(p);
    let plainUntil = r.start;
    for (let v = r.start; v < r.end; v++) {
      if (preemptAt(v - r.start)) yield PREEMPT;
      if (id !== undefined && v >= plainUntil) {
        // Up to the next preemption point, where the loop yields as it would page by page.
        const room = PREEMPT_PAGES - 1 - ((v - r.start) & (PREEMPT_PAGES - 1));
        const stop = Math.min(r.end, v + (room === 0 ? PREEMPT_PAGES : room));
        plainUntil = sim.firstPlainMismatch(frame.process, v, stop, id, v - r.mapStart, p.constant !== undefined);
        if (plainUntil > v) {
          v = plainUntil - 1;
          plainUntil++;
          continue;
        }
        plainUntil = v + 1;
      }
      const c = sim.pageContent(frame.process, v);
      if (c === undefined) throw new Fail(stmt.loc, `expected ${r.text} == ${patternText(stmt.pattern)}, found ${sim.describeRange(v, v + 1)} unmapped`);
      const k = sim.contents.firstMismatch(c[0], c[1], p, v - r.mapStart);
      if (k >= 0) {
        const idx = (v - r.mapStart) * WORDS_PER_PAGE + k;
        throw new Fail(stmt.loc, `expected ${r.text} == ${patternText(stmt.pattern)}, found ${sim.describeRange(v, v + 1)} ` +
          `word ${k} (i = ${idx}) = ${sim.contents.word(c[0], c[1], k)}, expected ${p.word(idx) | 0}`);
      }
    }
  },
  *expectState(ctx, stmt, frame) {
    const r = range(ctx, stmt.range, frame);
    for (let v = r.start; v < r.end; v++) {
      if (preemptAt(v - r.start)) yield PREEMPT;
      const st = ctx.sim.pageState(frame.process, v);
      if (!stateMatches(st, stmt.state)) {
        throw new Fail(stmt.loc, `expected ${ctx.sim.describeRange(v, v + 1)} is ${stateText(stmt.state)}, found ${foundText(st)}`);
      }
    }
  },
  *expectMaps(ctx, stmt, frame) {
    const r = range(ctx, stmt.range, frame);
    const d = device(ctx, stmt.device, stmt.deviceLoc);
    for (let v = r.start; v < r.end; v++) {
      if (preemptAt(v - r.start)) yield PREEMPT;
      const got = ctx.sim.mirrorMapping(frame.process, d, v);
      if (got !== stmt.mapping) {
        throw new Fail(stmt.loc, `expected ${stmt.device} maps ${ctx.sim.describeRange(v, v + 1)} as ${stmt.mapping}, found ${got}`);
      }
    }
  },
};

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
