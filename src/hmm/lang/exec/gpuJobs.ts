// GPU kernels as jobs in simulated time: launch, wait, memory advice and prefetch.

import type { KernelOp } from '../../gpu';
import { type Advice, NO_ADVICE } from '../../uvm';
import { compile, evalConst } from '../pattern';
import { device, Fail, type PageRange, range, requireAlive, type StatementHandlers } from './context';

export const gpuStatements: StatementHandlers<'launch' | 'wait' | 'advise' | 'prefetch'> = {
  *launch(ctx, stmt, frame) {
    const mm = frame.process;
    requireAlive(mm, stmt.loc);
    const k = ctx.kernels.get(stmt.kernel);
    if (k === undefined) throw new Fail(stmt.kernelLoc, `no kernel ${stmt.kernel}`);
    const dev = device(ctx, stmt.device, stmt.deviceLoc);
    if (stmt.args.length !== k.params.length) throw new Fail(stmt.loc, `${k.name} takes ${k.params.length} argument(s), got ${stmt.args.length}`);
    const args = new Map<string, PageRange>();
    k.params.forEach((p, i) => args.set(p.name, range(ctx, stmt.args[i]!, frame)));
    const ops: KernelOp[] = k.body.map((ks) => {
      const pos = { line: ks.loc.line, col: ks.loc.col };
      if (ks.kind === 'kcompute') return { kind: 'compute', ns: ks.ns, pos };
      const a = args.get(ks.range.mapping);
      if (a === undefined) throw new Fail(ks.range.mappingLoc, `${ks.range.mapping} is not a parameter of ${k.name}`);
      const n = a.end - a.start;
      const s0 = ks.range.start === undefined ? 0 : evalConst(ks.range.start, frame.vars);
      const e0 = ks.range.single ? s0 + 1 : ks.range.end === undefined ? n : evalConst(ks.range.end, frame.vars);
      if (s0 < 0 || e0 > n || s0 >= e0) throw new Fail(ks.range.loc, `${ks.range.mapping}[${s0}..${e0}] is outside the argument (${n} pages)`);
      const access = ks.kind === 'kread' ? 'read' : ks.kind === 'kwrite' ? 'write' : 'atomic';
      const pattern = ks.kind === 'kwrite' ? compile(ks.pattern, frame.vars) : undefined;
      return { kind: 'access', access, start: a.start + s0, end: a.start + e0, mapStart: a.mapStart, pattern, pos };
    });
    const job = ctx.sim.gpu.launch(stmt.job, k.name, dev, mm, ops, { line: stmt.loc.line, col: stmt.loc.col });
    if (stmt.job !== undefined) ctx.jobs.set(stmt.job, job);
  },
  *wait(ctx, stmt) {
    const t = stmt.target;
    if (t.kind === 'all') yield* ctx.sim.gpu.waitAll();
    else {
      const job = ctx.jobs.get(t.name);
      if (job !== undefined) yield* ctx.sim.gpu.waitJob(job);
      else yield* ctx.sim.gpu.waitDevice(device(ctx, t.name, t.loc));
    }
  },
  *advise(ctx, stmt, frame) {
    const r = range(ctx, stmt.range, frame);
    const a = stmt.advice;
    const change = ((): ((x: Advice) => Advice) => {
      switch (a.kind) {
        case 'preferred': return (x) => ({ ...x, preferred: a.target.kind === 'system' ? -1 : device(ctx, a.target.name, a.target.loc).index });
        case 'accessed-by': return (x) => ({ ...x, accessedBy: x.accessedBy | (1 << device(ctx, a.device, a.deviceLoc).index) });
        case 'read-mostly': return (x) => ({ ...x, readMostly: true });
        case 'unset': return () => NO_ADVICE;
      }
    })();
    ctx.sim.gpu.adviceOf(frame.process).update(r.start, r.end, change);
  },
  *prefetch(ctx, stmt, frame) {
    const mm = frame.process;
    requireAlive(mm, stmt.loc);
    const r = range(ctx, stmt.range, frame);
    const pos = { line: stmt.loc.line, col: stmt.loc.col };
    if (stmt.target.kind === 'device') ctx.sim.gpu.prefetch(mm, r.start, r.end, device(ctx, stmt.target.name, stmt.target.loc), true, pos);
    else for (const d of ctx.sim.devices) ctx.sim.gpu.prefetch(mm, r.start, r.end, d, false, pos);
  },
};
