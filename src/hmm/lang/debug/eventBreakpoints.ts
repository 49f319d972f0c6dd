// Event breakpoints: filters on what the simulator does (device faults, CPU faults on device
// pages, skipped migrations, notifier invalidations, failures, invariant violations), each with
// conditions that narrow it to a device, pages, an access or a notifier event.

import { MMU_NOTIFY_NAMES } from '../../constants';
import type { SimEvent } from '../../events';
import type { Stmt } from '../ast';
import { declaresMapping, parseRangeText, type ResolvedRange } from '../ranges';

export type EventFilterId = 'deviceFault' | 'cpuFaultOnDevice' | 'migrationSkip' | 'notifier' | 'failure' | 'invariant';

export const EVENT_FILTERS: readonly { id: EventFilterId; label: string; description: string; conditionDescription: string; default: boolean }[] = [
  { id: 'deviceFault', label: 'Device fault', description: 'A device touched a page its page table does not map', conditionDescription: 'e.g. gpu0 a[0..4] write', default: false },
  { id: 'cpuFaultOnDevice', label: 'CPU fault on a device page', description: 'The CPU touched a device-private page (migrate_to_ram)', conditionDescription: 'e.g. gpu0 a[3] read', default: false },
  { id: 'migrationSkip', label: 'Migration skipped a page', description: 'migrate_vma left a page behind (pinned, shared, other owner, …)', conditionDescription: 'e.g. gpu0 a', default: false },
  { id: 'notifier', label: 'Notifier invalidation', description: "A mirror's interval notifier invalidated a range", conditionDescription: 'e.g. CLEAR gpu0 a[0..8]', default: false },
  { id: 'failure', label: 'Failed operation or expectation', description: 'A runtime error: a failed device operation, expect, or SIGSEGV', conditionDescription: '', default: true },
  { id: 'invariant', label: 'Invariant violation', description: 'The simulator caught itself breaking an invariant (a bug report)', conditionDescription: '', default: true },
];

/** A filter's label (`Device fault`), or the id when unknown. */
export function filterLabel(id: string): string {
  return EVENT_FILTERS.find((f) => f.id === id)?.label ?? id;
}

/**
 * What an event breakpoint's condition narrows to: device, page range, access, event kind. The
 * range stays text (`a[2..6]`) until an event fires: a condition may name a mapping that the
 * script makes later, or makes again with another size.
 */
export interface EventCondition {
  readonly text: string;
  device?: string;
  range?: string;
  access?: 'read' | 'write';
  event?: string;
  /** Why it can never match (a name the script does not declare, …): the filter stays on, the user is told. */
  never?: string;
}

/** An event occurrence as filters see it: which filter it is for, and the fields conditions test. */
interface Occurrence {
  readonly filter: EventFilterId;
  readonly device: string | undefined;
  readonly access: 'read' | 'write' | undefined;
  readonly event?: string;
}

export class EventBreakpoints {
  /** Each filter that is on, with its conditions: it stops when any matches (none: always). */
  private readonly filters = new Map<EventFilterId, EventCondition[]>();
  /** Conditions already warned about at run time (a range outside its mapping), once each. */
  private readonly warned = new Set<string>();

  constructor(private readonly script: { readonly body: readonly Stmt[] }) {
    for (const f of EVENT_FILTERS) if (f.default) this.filters.set(f.id, [{ text: '' }]);
  }

  /**
   * The filters that are on, replacing the previous set. The same filter may come more than once
   * (the Breakpoints view and the launch configuration): it then stops when any of its conditions
   * matches. A condition that can never match keeps its filter on and comes back unverified with
   * the reason, which VS Code shows on the filter.
   */
  set(filters: readonly { id: string; condition?: string }[]): { verified: boolean; message?: string }[] {
    this.filters.clear();
    this.warned.clear();
    return filters.map((f) => {
      if (!EVENT_FILTERS.some((x) => x.id === f.id)) return { verified: false, message: `unknown filter ${f.id}` };
      const id = f.id as EventFilterId;
      const c = this.parseCondition(f.condition ?? '', id);
      this.filters.set(id, [...(this.filters.get(id) ?? []), c]);
      return c.never === undefined ? { verified: true } : { verified: false, message: `${filterLabel(id)} condition '${c.text}' can never match: ${c.never}` };
    });
  }

  isOn(id: EventFilterId): boolean {
    return this.filters.has(id);
  }

  /**
   * `gpu0 a[0..4] write CLEAR`: any order; every term narrows. Names are checked against what the
   * script declares (devices, mappings); ranges are resolved when an event fires.
   */
  parseCondition(text: string, filter?: EventFilterId): EventCondition {
    const c: EventCondition = { text: text.trim() };
    const never = (why: string): void => {
      c.never ??= why;
    };
    for (const term of c.text.split(/\s+/).filter(Boolean)) {
      if (term === 'read' || term === 'write') {
        if (filter === 'migrationSkip' || filter === 'notifier') never(`${filterLabel(filter)} has no read or write`);
        c.access = term;
      } else if (/^[A-Z_]+$/.test(term)) {
        if (!(MMU_NOTIFY_NAMES as readonly string[]).includes(term)) never(`'${term}' is not a notifier event (${MMU_NOTIFY_NAMES.join(', ')})`);
        else if (filter !== undefined && filter !== 'notifier') never(`only Notifier invalidation has an event kind such as ${term}`);
        c.event = term;
      } else if (this.script.body.some((s) => s.kind === 'device' && s.name === term)) {
        c.device = term;
      } else {
        const r = parseRangeText(term);
        if (r === undefined) never(`'${term}' is not a device, a range (a, a[3], a[2..6]), read, write or a notifier event`);
        else if (!declaresMapping(this.script.body, r.mapping)) never(`the script declares no device or mapping named ${r.mapping}`);
        else if (r.start !== undefined && r.end !== undefined && r.start >= r.end) never(`${term} is an empty range`);
        c.range = term;
      }
    }
    return c;
  }

  /**
   * The filter that `e`'s occurrence on pages [start, end) stops on, if a condition of it matches.
   * `resolve` turns a condition's range into pages as the machine is now (or says why it cannot);
   * `warn` is told once per condition whose range is outside its mapping.
   */
  match(e: SimEvent, start: number, end: number, resolve: (range: string) => ResolvedRange | string, warn: (text: string) => void): EventFilterId | undefined {
    const o = occurrence(e);
    if (o === undefined) return undefined;
    const conditions = this.filters.get(o.filter);
    if (conditions === undefined) return undefined;
    const hit = conditions.some((c) => this.holds(c, o, start, end, resolve, warn));
    return hit ? o.filter : undefined;
  }

  private holds(c: EventCondition, o: Occurrence, start: number, end: number, resolve: (range: string) => ResolvedRange | string, warn: (text: string) => void): boolean {
    if (c.never !== undefined) return false;
    if (c.device !== undefined && c.device !== o.device) return false;
    if (c.access !== undefined && c.access !== o.access) return false;
    if (c.event !== undefined && c.event !== o.event) return false;
    if (c.range === undefined) return true;
    const r = resolve(c.range);
    if (typeof r === 'string') {
      // Not mapped yet (or unmapped): no match. Outside the mapping as it is now: say so once.
      if (r.startsWith('outside') && !this.warned.has(c.text)) {
        this.warned.add(c.text);
        warn(`condition '${c.text}': ${c.range} is ${r}; it does not match this event`);
      }
      return false;
    }
    return end > r.start && start < r.end;
  }
}

function occurrence(e: SimEvent): Occurrence | undefined {
  switch (e.kind) {
    case 'deviceFault': return { filter: 'deviceFault', device: e.device, access: e.write ? 'write' : 'read' };
    case 'cpuFault': return e.device !== undefined ? { filter: 'cpuFaultOnDevice', device: e.device, access: e.write ? 'write' : 'read' } : undefined;
    case 'migrate': return e.phase === 'setup' && e.skipped.length > 0 ? { filter: 'migrationSkip', device: e.device, access: undefined } : undefined;
    case 'notifier': return e.action === 'invalidated' ? { filter: 'notifier', device: e.mirror, access: undefined, event: e.event } : undefined;
    case 'invariant': return { filter: 'invariant', device: undefined, access: undefined };
    default: return undefined;
  }
}
