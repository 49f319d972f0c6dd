// Expectations on devices and the machine: notifier callbacks a mirror received, device memory
// in use, statistics.

import { compareValues } from '../ast';
import { device, Fail, range, type StatementHandlers } from './context';

export const deviceExpectations: StatementHandlers<'expectNotified' | 'expectNotNotified' | 'expectUsed' | 'expectStats'> = {
  *expectNotified(ctx, stmt, frame) {
    const sim = ctx.sim;
    const d = device(ctx, stmt.device, stmt.deviceLoc);
    const recs = sim.notifierRecordsOf(ctx.lastActionStatement).filter((n) => n.mirror.device === d && n.mirror.mm === frame.process);
    const r = stmt.range === undefined ? undefined : range(ctx, stmt.range, frame);
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
  },
  *expectNotNotified(ctx, stmt, frame) {
    const d = device(ctx, stmt.device, stmt.deviceLoc);
    const recs = ctx.sim.notifierRecordsOf(ctx.lastActionStatement).filter((n) => n.mirror.device === d && n.mirror.mm === frame.process);
    if (recs.length > 0) {
      const n = recs[0]!;
      throw new Fail(stmt.loc, `expected no callback of ${stmt.device}'s mirror, found ${recs.length} (first: ${n.event} ${ctx.sim.describeRange(n.start, n.end)})`);
    }
  },
  *expectUsed(ctx, stmt) {
    const d = device(ctx, stmt.device, stmt.deviceLoc);
    if (d.used !== stmt.pages) throw new Fail(stmt.loc, `expected ${stmt.device} used == ${stmt.pages} pages, found ${d.used} pages`);
  },
  *expectStats(ctx, stmt) {
    const sim = ctx.sim;
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
      const s = sim.deviceStats(device(ctx, c.owner, c.ownerLoc ?? stmt.loc));
      const table: Record<string, number> = { faults: s.faults, pages_in: s.pagesIn, pages_out: s.pagesOut, evictions: s.evictions };
      const v = table[c.counter];
      if (v === undefined) throw new Fail(stmt.loc, `no counter ${c.owner}.${c.counter}`);
      got = v;
      name = `${c.owner}.${c.counter}`;
    }
    if (!compareValues(got, stmt.op, stmt.value)) {
      const fmt = (n: number): string => (stmt.valueIsDuration ? `${n} ns` : String(n));
      throw new Fail(stmt.loc, `expected stats.${name} ${stmt.op} ${fmt(stmt.value)}, found ${fmt(got)}`);
    }
  },
};
