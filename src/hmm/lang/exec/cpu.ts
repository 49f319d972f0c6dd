// What the process itself does: CPU accesses (faults) and the memory system calls.

import { errnoName } from '../../constants';
import type { Mm } from '../../mm';
import type { KernelWork } from '../../kernelWork';
import { mremapTargetText, type Stmt } from '../ast';
import { compile } from '../pattern';
import { Pte } from '../../pgtable';
import { VM_READ, VM_WRITE } from '../../vma';
import { errnoRc, type ExecContext, Fail, type Frame, range, requireAlive, type StatementHandlers, syscallResult } from './context';

export const cpuStatements: StatementHandlers<'read' | 'write' | 'munmap' | 'mremap' | 'mprotect' | 'madvise' | 'pin' | 'unpin' | 'compute'> = {
  read: access,
  write: access,
  *munmap(ctx, stmt, frame) {
    const r = range(ctx, stmt.range, frame);
    const rc = yield* ctx.sim.munmap(frame.process, r.start, r.end);
    syscallResult(ctx, stmt, `munmap ${r.text}`, rc);
  },
  /** `NEW = mremap RANGE to …`: NEW is bound to a fixed target even when the call fails, else to the result. */
  *mremap(ctx, stmt, frame) {
    requireAlive(frame.process, stmt.loc);
    const r = range(ctx, stmt.range, frame);
    const t = stmt.target === undefined ? undefined : range(ctx, stmt.target, frame);
    const oldPages = r.end - r.start;
    const rc = yield* ctx.sim.mremap(frame.process, stmt.name, {
      old: r.start, oldPages, newPages: stmt.newPages ?? oldPages, fixedTo: t?.start, mayMove: stmt.mayMove, dontUnmap: stmt.dontUnmap,
    });
    syscallResult(ctx, stmt, `mremap ${r.text} to ${mremapTargetText(stmt, t?.text)}`, rc);
  },
  *mprotect(ctx, stmt, frame) {
    const r = range(ctx, stmt.range, frame);
    const rc = yield* ctx.sim.mprotect(frame.process, r.start, r.end, stmt.prot);
    syscallResult(ctx, stmt, `mprotect ${r.text}`, rc, rc === errnoRc('ENOMEM') ? ' (part of the range is not mapped)' : '');
  },
  *madvise(ctx, stmt, frame) {
    const r = range(ctx, stmt.range, frame);
    const rc = yield* ctx.sim.madvise(frame.process, r.start, r.end, stmt.advice);
    syscallResult(ctx, stmt, `madvise ${r.text} ${stmt.advice}`, rc);
  },
  *pin(ctx, stmt, frame) {
    const r = range(ctx, stmt.range, frame);
    const bad = yield* ctx.sim.pin(frame.process, r.start, r.end, stmt.longterm);
    ctx.syscallOutcome = { rc: bad ? bad.rc : 0 };
    if (bad && !ctx.failedCallsContinue) throw new Fail(stmt.range.loc, `pin of ${ctx.sim.describeRange(bad.vpn, bad.vpn + 1)} failed with ${errnoName(bad.rc)}`);
  },
  *unpin(ctx, stmt, frame) {
    const r = range(ctx, stmt.range, frame);
    const bad = ctx.sim.unpin(frame.process, r.start, r.end);
    ctx.syscallOutcome = { rc: bad ? bad.rc : 0 };
    if (bad && !ctx.failedCallsContinue) throw new Fail(stmt.range.loc, `${ctx.sim.describeRange(bad.vpn, bad.vpn + 1)} is not pinned`);
  },
  *compute(ctx, stmt) {
    ctx.sim.clock.advance(stmt.ns);
  },
};

/** `read a[…]` / `write a[…] = pattern`: the CPU touches each page, faulting as Linux would. */
function* access(ctx: ExecContext, stmt: Extract<Stmt, { kind: 'read' | 'write' }>, frame: Frame): KernelWork<void> {
  const mm = frame.process;
  requireAlive(mm, stmt.loc);
  const r = range(ctx, stmt.range, frame);
  const pattern = stmt.kind === 'write' ? compile(stmt.pattern, frame.vars) : undefined;
  const bad = yield* ctx.sim.cpuAccess(mm, r.start, r.end, pattern, r.mapStart);
  ctx.syscallOutcome = bad === undefined ? { rc: 0 } : { rc: 0, faultVpn: bad.vpn, signal: bad.sig };
  if (bad !== undefined && !ctx.failedCallsContinue) {
    throw new Fail(stmt.range.loc, `${bad.sig}: ${stmt.kind} of ${ctx.sim.describeRange(bad.vpn, bad.vpn + 1)} ` +
      `(${accessProblem(mm, bad.vpn, stmt.kind === 'write')})`);
  }
}

function accessProblem(mm: Mm, vpn: number, write: boolean): string {
  const vma = mm.vmas.find(vpn);
  if (vma === undefined) return 'no mapping there';
  if (vma.isMixedMap && mm.pt.kindAt(vpn) === Pte.NONE) return "a hole in a device file's mapping: it has no fault handler";
  if (vma.isHugetlb && (vma.flags & (write ? VM_WRITE : VM_READ)) !== 0) return 'no free huge page in the pool';
  if (vma.object !== undefined && vma.filePage(vpn) >= vma.object.sizePages) return `beyond the end of the ${vma.object.kind === 'file' ? 'file' : 'shared memory object'}`;
  return write ? 'the mapping is not writable' : 'the mapping is not readable';
}
