// Splits a runner program (docs/kernel-runner.md, protocol 1)
// into its cases, so that after a kernel oops or hang the host can boot again with the cases after
// the one that crashed.

export const PROGRAM_HEADER = 'hmm-runner-program 1';

export interface ProgramCase {
  readonly id: string;
  /** The case's lines, from `case ID` to `end` included (comments and blank lines dropped). */
  readonly lines: readonly string[];
  /** The numbers of its ops, in order. */
  readonly ops: readonly number[];
}

/** Checks the program's frame (header, case … end, unique ids and op numbers) and splits it. */
export function splitProgram(text: string): ProgramCase[] {
  const cases: ProgramCase[] = [];
  const ids = new Set<string>();
  const ops = new Set<number>();
  let header = false;
  let cur: { id: string; lines: string[]; ops: number[] } | undefined;
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '').trim();
    const at = (msg: string): Error => new Error(`runner program line ${i + 1}: ${msg}`);
    if (line === '' || line.startsWith('#')) return;
    if (!header) {
      if (line !== PROGRAM_HEADER) throw at(`the program must start with '${PROGRAM_HEADER}'`);
      header = true;
      return;
    }
    const [word, ...rest] = line.split(/\s+/);
    if (word === 'case') {
      if (cur) throw at(`case before the 'end' of case ${cur.id}`);
      const id = rest[0];
      if (rest.length !== 1 || id === undefined || !/^[A-Za-z0-9_.:-]{1,128}$/.test(id)) throw at('usage: case ID');
      if (ids.has(id)) throw at(`case ${id} twice`);
      ids.add(id);
      cur = { id, lines: [line], ops: [] };
      return;
    }
    if (!cur) throw at(`'${word}' outside a case`);
    cur.lines.push(line);
    if (word === 'end') {
      cases.push(cur);
      cur = undefined;
    } else if (word === 'op') {
      const n = rest[0] !== undefined && /^\d+$/.test(rest[0]) ? Number(rest[0]) : NaN;
      if (!Number.isSafeInteger(n)) throw at('an op needs its number');
      if (ops.has(n)) throw at(`op ${n} twice`);
      ops.add(n);
      cur.ops.push(n);
    }
  });
  if (!header) throw new Error(`runner program: empty (no '${PROGRAM_HEADER}')`);
  if (cur) throw new Error(`runner program: case ${cur.id} has no 'end'`);
  return cases;
}

export function joinProgram(cases: readonly ProgramCase[]): string {
  return [PROGRAM_HEADER, ...cases.flatMap((c) => c.lines), ''].join('\n');
}
