// Every statement kind and the module that runs it. The table's type names every kind, so a
// new statement does not compile until it has a handler here.

import type { KernelWork } from '../../kernelWork';
import type { Stmt } from '../ast';
import type { ExecContext, Frame, StatementHandler, StatementHandlers } from './context';
import { cpuStatements } from './cpu';
import { deviceStatements } from './deviceOps';
import { deviceExpectations } from './expectDevice';
import { lastExpectations } from './expectLast';
import { pageExpectations } from './expectPages';
import { flowStatements } from './flow';
import { gpuStatements } from './gpuJobs';
import { setupStatements } from './setup';

const HANDLERS: StatementHandlers = {
  ...setupStatements,
  ...cpuStatements,
  ...deviceStatements,
  ...gpuStatements,
  ...flowStatements,
  ...pageExpectations,
  ...lastExpectations,
  ...deviceExpectations,
};

/** Run one statement in `frame` (kernel work that may pause). */
export function execStatement(ctx: ExecContext, stmt: Stmt, frame: Frame): KernelWork<void> {
  return (HANDLERS[stmt.kind] as StatementHandler<Stmt['kind']>)(ctx, stmt as never, frame);
}

/** Expectations and print only look: `expect notified` checks the statement before them. */
export function isExpectation(s: Stmt): boolean {
  return s.kind.startsWith('expect') || s.kind === 'print';
}
