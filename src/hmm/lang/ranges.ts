// Page ranges as a user writes them outside a script (breakpoint conditions, watches, the REPL,
// memory references): `a`, `a[3]`, `a[2..6]`, `a[..4]`, `a[4..]`. The one parser; the one
// formatter is rangeName.

import type { Simulator } from '../simulator';
import type { Stmt } from './ast';

export { rangeName } from '../rangeName';

/** A parsed range: a mapping and pages relative to its start (undefined: from its start / to its end). */
export interface RangeText {
  readonly mapping: string;
  readonly start: number | undefined;
  readonly end: number | undefined;
  /** The whole mapping (no brackets). */
  readonly whole: boolean;
}

const RANGE = /^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d*)(\.\.)?(\d*)\])?$/;

/** The range `text` names, or undefined when it is not one (`a[]`, `a[x]`, `3`). */
export function parseRangeText(text: string): RangeText | undefined {
  const m = RANGE.exec(text.trim());
  if (m === null) return undefined;
  const [, mapping, from, dots, to] = m;
  if (m[0].endsWith(']') && dots === undefined && from === '') return undefined;
  const start = from === undefined || from === '' ? undefined : Number(from);
  const end = dots === undefined ? (start === undefined ? undefined : start + 1) : to === '' || to === undefined ? undefined : Number(to);
  return { mapping: mapping!, start, end, whole: from === undefined };
}

/** Absolute pages [start, end) and the range's name. */
export interface ResolvedRange {
  readonly start: number;
  readonly end: number;
  readonly label: string;
}

/** `text` as virtual pages once its mapping exists, or why not (not a range, not mapped yet, outside). */
export function resolveRange(sim: Simulator, script: { readonly body: readonly Stmt[] }, text: string): ResolvedRange | string {
  const r = parseRangeText(text);
  if (r === undefined) return 'not a range (write a, a[3] or a[2..6])';
  const b = sim.bindings.get(r.mapping);
  if (b === undefined) return declaresMapping(script.body, r.mapping) ? `${r.mapping} is not mapped yet` : `no mapping named ${r.mapping}`;
  if (r.whole) return { start: b.start, end: b.start + b.pages, label: r.mapping };
  const s = r.start ?? 0;
  const e = r.end ?? b.pages;
  if (s >= e || e > b.pages) return `outside ${r.mapping} (${b.pages} pages)`;
  return { start: b.start + s, end: b.start + e, label: text.trim() };
}

/** Whether the script maps `name` somewhere (at top level or in a block). */
export function declaresMapping(body: readonly Stmt[], name: string): boolean {
  return body.some((s) => ((s.kind === 'mmap' || s.kind === 'mremap') && s.name === name) || ('body' in s && Array.isArray(s.body) && s.kind !== 'kernel' && declaresMapping(s.body as Stmt[], name)));
}
