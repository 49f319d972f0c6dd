// Reads the runner's result stream (docs/kernel-runner.md,
// protocol 1) of one boot and accounts for it: which cases finished, which one a kernel oops or
// hang ended, and which are left for the next boot.

import type { ProgramCase } from './program';

export const RESULT_HEADER = 'hmm-runner 1';

/** What one case produced. */
export interface CaseOutcome {
  readonly id: string;
  /** Its `r N …` and `bad N …` lines, in order (`at` lines left out). */
  readonly lines: readonly string[];
  /** The kernel oopsed (or panicked) in op `op`; -1: after the case's last op, while its processes exited. */
  readonly crash?: { readonly op: number; readonly oops: readonly string[] };
  /** Op `op` did not finish in time (the runner's per-op limit or the boot's wall-clock limit). */
  readonly hang?: { readonly op: number };
}

/** One case as seen in one boot's stream. */
export interface StreamCase {
  readonly id: string;
  readonly lines: string[];
  done: boolean;
  /** The op whose `at` came last without its `r`/`bad` yet. */
  pending?: number;
  hang?: number;
}

export interface ResultStream {
  readonly header: boolean;
  readonly cases: StreamCase[];
  readonly bye: boolean;
  /** Lines that belong to no case (e.g. `bad 0 line L: …` for a malformed program). */
  readonly stray: readonly string[];
}

export function parseResultStream(text: string): ResultStream {
  const cases: StreamCase[] = [];
  const stray: string[] = [];
  let header = false;
  let bye = false;
  let cur: StreamCase | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line === '' || line.startsWith('#')) continue;
    if (!header) {
      if (line === RESULT_HEADER) header = true;
      else stray.push(line);
      continue;
    }
    const [word, arg] = line.split(' ', 2);
    if (word === 'case' && arg !== undefined) {
      cur = { id: arg, lines: [], done: false };
      cases.push(cur);
    } else if (word === 'done' && cur && arg === cur.id) {
      cur.done = true;
      cur = undefined;
    } else if (word === 'bye') {
      bye = true;
    } else if (cur && word === 'at') {
      cur.pending = Number(arg);
    } else if (cur && word === 'hang') {
      cur.hang = Number(arg);
      cur.pending = undefined;
    } else if (cur && (word === 'r' || word === 'bad')) {
      cur.lines.push(line);
      if (Number(arg) === cur.pending) cur.pending = undefined;
    } else {
      stray.push(line);
    }
  }
  return { header, cases, bye, stray };
}

const OOPS_START = /BUG:|Oops:|general protection fault|kernel BUG at|Kernel panic|WARNING: CPU|watchdog: |INFO: task .* blocked/;
/** Lines of the console kept for a crash. */
export const OOPS_LINES = 40;

/** The oops' first lines from the console (ttyS0), else the console's last lines. */
export function extractOops(consoleText: string): string[] {
  const lines = consoleText.split('\n').map((l) => l.replace(/\r$/, ''));
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const i = lines.findIndex((l) => OOPS_START.test(l));
  return i >= 0 ? lines.slice(i, i + OOPS_LINES) : lines.slice(-20);
}

/** How one boot ended, as the host saw it. */
export interface BootEnd {
  readonly results: string;
  readonly console: string;
  /** The host killed QEMU at its wall-clock limit. */
  readonly timedOut: boolean;
}

export interface BootAccount {
  readonly finished: CaseOutcome[];
  /** The cases still to run (in a new boot). */
  readonly remaining: ProgramCase[];
}

/** The cases of `sent` that one boot finished or ended; an error when the boot made no progress. */
export function accountBoot(sent: readonly ProgramCase[], boot: BootEnd): BootAccount {
  const s = parseResultStream(boot.results);
  const tail = (): string => extractOops(boot.console).slice(-15).join('\n');
  if (s.stray.some((l) => l.startsWith('bad '))) {
    throw new Error(`the runner rejected the program: ${s.stray.filter((l) => l.startsWith('bad ')).join('; ')}`);
  }
  const finished: CaseOutcome[] = [];
  let k = 0;
  for (const c of s.cases) {
    const want = sent[k];
    if (want === undefined || want.id !== c.id) {
      throw new Error(`the runner ran case ${c.id} where case ${want?.id ?? '(none)'} was expected`);
    }
    k++;
    if (c.done) {
      finished.push({ id: c.id, lines: c.lines });
      continue;
    }
    // The boot ended inside this case.
    if (c.hang !== undefined) {
      finished.push({ id: c.id, lines: c.lines, hang: { op: c.hang } });
    } else if (boot.timedOut && c.pending !== undefined) {
      finished.push({ id: c.id, lines: c.lines, hang: { op: c.pending } });
    } else if (boot.timedOut) {
      throw new Error(`the VM hit its time limit in case ${c.id} between ops; console:\n${tail()}`);
    } else {
      finished.push({ id: c.id, lines: c.lines, crash: { op: c.pending ?? -1, oops: extractOops(boot.console) } });
    }
    break;
  }
  if (s.bye && k !== sent.length) throw new Error(`the runner said bye after ${k} of ${sent.length} cases`);
  if (finished.length === 0 && sent.length > 0) {
    const why = !s.header ? 'the runner never started' : 'no case finished';
    throw new Error(`${why} (${boot.timedOut ? 'time limit' : 'the VM stopped'}); console:\n${tail()}`);
  }
  return { finished, remaining: sent.slice(k) };
}
