// The one formatter of simulator events: what happened, in the words of the REPL's event log,
// the notifier log, a stop's description and the exception widget.

import type { SimEvent } from '../events';
import type { Simulator } from '../simulator';

/**
 * What the event did to pages [start, end) (by default all of its pages; a stop names the
 * occurrence's own pages of a coalesced event).
 */
export function eventText(sim: Simulator, e: SimEvent, start = e.start, end = e.end): string {
  const where = end > start ? ` ${sim.describeRange(start, end)}` : '';
  switch (e.kind) {
    case 'cpuFault': return `CPU ${e.write ? 'write' : 'read'} fault on ${e.found}${where}: ${e.action}`;
    case 'deviceFault': return `${e.device} device fault (${e.write ? 'write' : 'read'})${where}${e.rc ? ` → ${e.rc}` : ''}`;
    case 'notifier': return `invalidate ${e.event}${where} owner ${e.owner ?? 'none'} → ${e.mirror} mirror: ${e.action}${e.erased ? ` (${e.erased} entries)` : ''}, seq ${e.seqBefore}→${e.seqAfter}`;
    case 'migrate': {
      const skipped = e.skipped.reduce((n, r) => n + r.count, 0);
      return `migrate_vma ${e.phase} ${e.direction === 'to-device' ? `to ${e.device}` : `to system from ${e.device}`}${where}: ${e.phase === 'setup' ? `collected ${e.collected}` : `migrated ${e.migrated}`}${skipped ? `, skipped ${skipped} (${[...new Set(e.skipped.map((r) => r.reason))].join(', ')})` : ''} [${e.cause}]`;
    }
    case 'pte': return `page table: ${e.what}${where}`;
    case 'mirror': return `${e.device} mirror ${e.what}${where}`;
    case 'alloc': return `${e.device} ${e.what} ${e.pages} page(s)`;
    case 'process': return e.what === 'fork' ? `fork → ${e.child}` : `exit ${e.child}`;
    case 'invariant': return `INVARIANT VIOLATED: ${e.message}`;
    case 'print': return 'print';
    case 'job': return e.what === 'launch' ? `launch ${e.job} on ${e.device}` : e.what === 'end' ? `${e.job} finished on ${e.device}` : `prefetch to ${e.device}${where}`;
    case 'thrashing': return `thrashing${where} on ${e.device}: ${e.verdict}`;
  }
}

/** One line of the event log: `#24 line 77 [main] ×2 …` (sequence number, line, process or job, repeats). */
export function eventLine(sim: Simulator, e: SimEvent): string {
  const at = e.loc ? `line ${e.loc.line}` : 'setup';
  const times = e.count > 1 ? ` ×${e.count}` : '';
  return `#${e.seq} ${at} [${e.job ?? e.mm}]${times} ${eventText(sim, e)}`;
}
