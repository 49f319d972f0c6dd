// The Debug Console's command language: `page a[3]`, `residency a`, `events 30`, `why a[3]`,
// `watch a[3]`, `unwatch`, `report`, `help`, and values (mappings, pages, devices, `last.rc`,
// `stats.gpu0.faults`, `time`). Answers are text, or what the adapter shows as a variable.

import type { MappingBinding } from '../../simulator';
import type { Mm } from '../../mm';
import { formatPlacementReport, placementReport } from '../../placementReport';
import type { ScriptController } from '../controller';
import { eventsReport, pageReport, whyReport } from '../inspect';
import { renderResidency } from '../residency';
import { residencyOf } from '../runner';
import { valueOf } from './conditions';

export const REPL_COMMANDS = ['page', 'residency', 'events', 'why', 'watch', 'unwatch', 'report', 'help'] as const;

/** Most events `events N` prints: the log of a long run holds millions. */
const MAX_EVENTS_SHOWN = 10000;

export const REPL_HELP = [
  'page a[3]        full state and history of a page',
  'residency a      residency map of a mapping (or all mappings)',
  'events [N]       the last N events (default 30)',
  'why a[3]         the chain of events that put the page where it is',
  'watch a[3]       stop when the residency or device mapping of a page or range changes',
  '                 (a breakpoint named a[3] in the Breakpoints view: remove it there or with unwatch)',
  'unwatch          remove the watches set with watch',
  'report           the placement report so far (faults, bytes moved, time per device and line)',
  'a, a[3], last.rc, stats.gpu0.faults, time   values',
].join('\n');

export type ReplAnswer =
  | { readonly kind: 'text'; readonly text: string }
  /** A watch was set (the adapter has it shown in the Breakpoints view). */
  | { readonly kind: 'watch'; readonly id: number; readonly label: string; readonly text: string }
  /** Watches removed (the adapter removes their breakpoints). */
  | { readonly kind: 'unwatch'; readonly names: readonly string[]; readonly text: string }
  | { readonly kind: 'mapping'; readonly mm: Mm; readonly binding: MappingBinding }
  | { readonly kind: 'page'; readonly mm: Mm; readonly vpn: number; readonly name: string }
  | { readonly kind: 'device'; readonly name: string }
  /** Nothing to answer with: a hover on a word that is not a value. */
  | { readonly kind: 'none' };

/** Evaluate a Debug Console line (or a hover's word); an Error says what is wrong with it. */
export function evaluate(ctl: ScriptController, expr: string, hover: boolean): ReplAnswer {
  const sim = ctl.sim;
  const mm = ctl.interp.process;
  const [cmd, ...rest] = expr.split(/\s+/);
  const arg = rest.join(' ');
  const text = (t: string): ReplAnswer => ({ kind: 'text', text: t });
  const page = (t: string): number => {
    const r = ctl.resolveRangeText(t);
    if (typeof r === 'string') throw new Error(r);
    return r.start;
  };
  switch (cmd) {
    case 'help': return text(REPL_HELP);
    case 'page': return text(pageReport(sim, mm, page(arg)));
    case 'why': return text(whyReport(sim, mm, page(arg)));
    case 'events': {
      const n = arg ? Number(arg) : 30;
      if (!Number.isInteger(n) || n < 1) throw new Error(`events N: N must be a whole number above 0, found '${arg}'`);
      return text(eventsReport(sim, Math.min(n, MAX_EVENTS_SHOWN)));
    }
    case 'residency': {
      if (!arg) return text(residencyOf(sim) || 'no mappings');
      const r = ctl.resolveRangeText(arg);
      if (typeof r === 'string') throw new Error(r);
      return text(renderResidency(sim, mm, r.start, r.end, r.label));
    }
    case 'watch': {
      const w = ctl.addWatch(arg);
      if (typeof w === 'string') throw new Error(w);
      return { kind: 'watch', id: w.id, label: w.label, text: `watching ${w.label} (now ${w.state}): execution stops when its residency or device mapping changes` };
    }
    case 'unwatch': {
      const names = ctl.clearWatches('function');
      return { kind: 'unwatch', names, text: names.length === 0 ? 'no watches' : `removed the watches of ${names.join(', ')}` };
    }
    case 'report':
      return text(formatPlacementReport(placementReport(sim)));
    default:
      break;
  }
  // A mapping or page: its variable (hover shows residency).
  const r = ctl.resolveRangeText(expr);
  if (typeof r !== 'string') {
    const b = sim.bindings.get(expr.replace(/\[.*$/, ''))!;
    if (r.end - r.start === b.pages) return { kind: 'mapping', mm, binding: b };
    if (r.end - r.start === 1) return { kind: 'page', mm, vpn: r.start, name: expr };
    return text(renderResidency(sim, mm, r.start, r.end, r.label));
  }
  if (sim.devices.some((d) => d.name === expr)) return { kind: 'device', name: expr };
  const n = valueOf(ctl.scope, expr);
  if (!Number.isNaN(n)) return text(String(n));
  if (hover) return { kind: 'none' };
  throw new Error(`cannot evaluate '${expr}': try 'help'`);
}

/** Completions for the word before `column` (1-based) of a Debug Console line. */
export function completions(ctl: ScriptController | undefined, line: string, column: number): { label: string; start: number; length: number }[] {
  const before = line.slice(0, column - 1);
  const word = /[\w.]*$/.exec(before)?.[0] ?? '';
  const names = [
    ...REPL_COMMANDS,
    ...(ctl ? [...ctl.sim.bindings.keys(), ...ctl.sim.devices.map((d) => d.name)] : []),
    'last.rc', 'last.cpages', 'last.faults', 'time',
  ];
  return names.filter((n) => n.startsWith(word) && n !== word).map((label) => ({ label, start: before.length - word.length, length: word.length }));
}
