// How pages are named everywhere (the language, messages, the debugger's views): `a`, `a[3]`,
// `a[2..6]`, half-open. The one formatter; src/hmm/lang/ranges.ts has the one parser.

/** Pages [start, end) of a mapping of `pages` pages, relative to its first page. */
export function rangeName(mapping: string, pages: number, start: number, end: number): string {
  if (start === 0 && end === pages) return mapping;
  return end - start === 1 ? `${mapping}[${start}]` : `${mapping}[${start}..${end}]`;
}
