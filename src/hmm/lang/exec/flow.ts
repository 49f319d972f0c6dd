// Blocks and processes: fn calls, repeat loops, `as PROCESS { }`, fork (plain and with a child
// block), exit, and print.

import { renderResidency } from '../residency';
import { evalConst } from '../pattern';
import { Fail, range, requireAlive, type StatementHandlers } from './context';

export const flowStatements: StatementHandlers<'call' | 'repeat' | 'as' | 'fork' | 'forkBlock' | 'exit' | 'print'> = {
  *call(ctx, stmt, frame) {
    const fn = ctx.fns.get(stmt.name);
    if (fn === undefined) throw new Fail(stmt.nameLoc, `no fn ${stmt.name}`);
    ctx.enterBlock({ kind: 'fn', name: stmt.name, body: fn.body, process: frame.process, vars: new Map(frame.vars), headerLoc: stmt.loc, endLoc: fn.endLoc });
  },
  *repeat(ctx, stmt, frame) {
    const n = evalConst(stmt.count, frame.vars);
    if (n <= 0) return;
    const vars = new Map(frame.vars);
    if (stmt.var !== undefined) vars.set(stmt.var, 0);
    ctx.enterBlock({
      kind: 'repeat', name: stmt.var ? `repeat ${stmt.var}` : 'repeat', body: stmt.body, process: frame.process, vars,
      headerLoc: stmt.loc, endLoc: stmt.endLoc, count: n, varName: stmt.var,
    });
  },
  *as(ctx, stmt, frame) {
    const p = ctx.sim.process(stmt.process);
    if (p === undefined) throw new Fail(stmt.processLoc, `no process ${stmt.process}`);
    requireAlive(p, stmt.processLoc);
    ctx.enterBlock({ kind: 'as', name: `as ${stmt.process}`, body: stmt.body, process: p, vars: new Map(frame.vars), headerLoc: stmt.loc, endLoc: stmt.endLoc });
  },
  *fork(ctx, stmt, frame) {
    requireAlive(frame.process, stmt.loc);
    yield* ctx.sim.fork(frame.process, stmt.name);
  },
  *forkBlock(ctx, stmt, frame) {
    requireAlive(frame.process, stmt.loc);
    const name = ctx.nextChildName(frame.process);
    const child = yield* ctx.sim.fork(frame.process, name);
    ctx.enterBlock({ kind: 'fork', name: `fork ${name}`, body: stmt.body, process: child, vars: new Map(frame.vars), headerLoc: stmt.loc, endLoc: stmt.endLoc });
  },
  *exit(ctx, stmt) {
    const p = ctx.sim.process(stmt.process);
    if (p === undefined) throw new Fail(stmt.processLoc, `no process ${stmt.process}`);
    requireAlive(p, stmt.processLoc);
    yield* ctx.sim.exit(p);
  },
  *print(ctx, stmt, frame) {
    if (stmt.what.kind === 'text') ctx.print(stmt.what.text);
    else {
      const r = range(ctx, stmt.what.range, frame);
      ctx.print(renderResidency(ctx.sim, frame.process, r.start, r.end, r.text));
    }
  },
};
