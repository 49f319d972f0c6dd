// Judge one script: the simulator's observation of each op against the kernel's result lines
// for the same case, and format every disagreement as `file:line:col: what: kernel: … / simulator: …`.

import { oopsMatches } from '../hmm/oops';
import { compareObservations, type KernelOutcome, type Observation, parseResultLine } from './observation';
import type { TranslatedOp, Translation } from './translate';

/** What the VM returned for one case: the runner's lines, and how the boot ended if it ended inside the case. */
export interface CaseResult {
  readonly lines: readonly string[];
  readonly crash?: { readonly op: number; readonly oops: readonly string[] };
  readonly hang?: { readonly op: number };
}

export interface Disagreement {
  readonly op: TranslatedOp;
  /** What kind of disagreement, to group random programs by cause: `devRead:faults`, `crash:dmirror_do_read`, `hang:release`. */
  readonly signature: string;
  /** `file:line:col: what: kernel: … / simulator: …` */
  readonly text: string;
}

export type Verdict = 'agree' | 'disagree' | 'not expressible' | 'rejected';

export interface ScriptJudgement {
  readonly file: string;
  readonly verdict: Verdict;
  readonly compared: number;
  readonly disagreements: readonly Disagreement[];
  /** Ops the kernel never ran (after a crash or hang in the same case). */
  readonly notRun: number;
  /** Harness problems (`bad N …` lines, unparsable output): the comparison is incomplete. */
  readonly problems: readonly string[];
  /** One line for the summary: `agree: 8 ops`, `disagree: 1 of 8 ops (first at 56:1)`, … */
  readonly summary: string;
}

/** The kernel's outcome of every op of a case. */
export function kernelOutcomes(result: CaseResult): { outcomes: Map<number, KernelOutcome>; problems: string[] } {
  const outcomes = new Map<number, KernelOutcome>();
  const problems: string[] = [];
  for (const raw of result.lines) {
    const line = raw.trim();
    if (line.startsWith('r ')) {
      try {
        const { op, obs } = parseResultLine(line);
        outcomes.set(op, { kind: 'result', obs });
      } catch (e) {
        problems.push(`unreadable runner output: ${(e as Error).message}`);
      }
    } else if (line.startsWith('bad ')) {
      const m = /^bad (\d+) (.*)$/.exec(line);
      if (m) outcomes.set(Number(m[1]), { kind: 'bad', message: m[2]! });
      problems.push(`runner: ${line.slice(4)}`);
    }
  }
  if (result.crash !== undefined) outcomes.set(result.crash.op, { kind: 'crash', oops: result.crash.oops });
  if (result.hang !== undefined) outcomes.set(result.hang.op, { kind: 'hang' });
  return { outcomes, problems };
}

export function describeObservation(o: Observation): string {
  const parts = [`rc=${o.rc}`];
  if (o.cpages !== undefined) parts.push(`cpages=${o.cpages}`);
  if (o.faults !== undefined) parts.push(`faults=${o.faults}`);
  if (o.sig !== undefined) parts.push(`sig=${o.sig}`);
  if (o.crash !== undefined) return `crashed (kernel oops in ${o.crash})`;
  if (o.hang !== undefined) return `hung (in ${o.hang})`;
  return parts.join(' ');
}

/** The oops' telling lines: the BUG line and the RIP. */
export function oopsSummary(oops: readonly string[]): string {
  const bug = oops.find((l) => /BUG:|Oops|kernel BUG|general protection|WARNING:/.test(l));
  const rip = oops.find((l) => /RIP: /.test(l));
  const pick = [bug, rip].filter((x): x is string => x !== undefined).map((l) => l.replace(/^\[\s*[\d.]+\]\s*/, '').trim());
  return pick.length > 0 ? pick.join('; ') : (oops[0] ?? 'no kernel message');
}

/** The function the oops happened in (`RIP: 0010:dmirror_do_read+0x5a/0x130` → dmirror_do_read). */
export function oopsFunction(oops: readonly string[]): string {
  for (const l of oops) {
    const m = /RIP: [0-9a-f]+:([A-Za-z0-9_.]+)\+/.exec(l);
    if (m) return m[1]!;
  }
  return 'unknown';
}

export function judge(t: Translation, result: CaseResult | undefined): ScriptJudgement {
  const base = { file: t.file, notRun: 0, problems: [] as string[] };
  if (t.diagnostics.length > 0) return { ...base, verdict: 'rejected', compared: 0, disagreements: [], summary: 'rejected (parse or check errors)' };
  if (t.ops.length === 0) {
    const why = t.stoppedAt ? `${t.stoppedAt.loc.line}:${t.stoppedAt.loc.col}: ${t.stoppedAt.reason}` : 'no kernel operations';
    return { ...base, verdict: 'not expressible', compared: 0, disagreements: [], summary: `not expressible (${why})` };
  }
  const { outcomes, problems } = result === undefined ? { outcomes: new Map<number, KernelOutcome>(), problems: ['the VM returned nothing for this script'] } : kernelOutcomes(result);
  const disagreements: Disagreement[] = [];
  let compared = 0;
  let notRun = 0;
  let ended: string | undefined;
  for (const op of t.ops) {
    const where = `${t.file}:${op.loc.line}:${op.loc.col}: ${op.what}`;
    const k = outcomes.get(op.op) ?? (ended !== undefined ? { kind: 'notRun' as const, why: ended } : undefined);
    if (k === undefined) {
      notRun++;
      problems.push(`op ${op.op} (${where}) has no result`);
      continue;
    }
    switch (k.kind) {
      case 'result': {
        compared++;
        if (op.sim.crash !== undefined || op.sim.hang !== undefined) {
          const how = op.sim.crash !== undefined ? `simcrash:${op.kind}:${op.sim.crash}` : `simhang:${op.kind}:${op.sim.hang}`;
          disagreements.push({ op, signature: how, text: `${where}: kernel: ${describeObservation(k.obs)} / simulator: ${describeObservation(op.sim)}` });
          break;
        }
        const diffs = compareObservations(k.obs, op.sim, op.fields);
        if (diffs.length > 0) {
          disagreements.push({ op, signature: `${op.kind}:${diffs.map((d) => d.field).join(',')}`, text: `${where}: kernel: ${diffs.map((d) => d.kernel).join(' ')} / simulator: ${diffs.map((d) => d.simulator).join(' ')}` });
        }
        break;
      }
      case 'crash':
        compared++;
        ended = 'the kernel crashed earlier in this script';
        if (op.sim.crash !== undefined && oopsMatches(op.sim.crash, oopsFunction(k.oops))) break; // both crash, in the same place
        disagreements.push({ op, signature: `crash:${op.kind}:${oopsFunction(k.oops)}`, text: `${where}: kernel: crashed (${oopsSummary(k.oops)}) / simulator: ${describeObservation(op.sim)}` });
        break;
      case 'hang':
        compared++;
        ended = 'the kernel hung earlier in this script';
        if (op.sim.hang !== undefined) break; // both wait forever here (the kernel names no function)
        disagreements.push({ op, signature: `hang:${op.kind}`, text: `${where}: kernel: did not return (hang) / simulator: ${describeObservation(op.sim)}` });
        break;
      case 'bad':
        notRun++;
        break;
      case 'notRun':
        notRun++;
        break;
    }
  }
  const verdict: Verdict = disagreements.length > 0 ? 'disagree' : 'agree';
  const first = disagreements[0]?.op.loc;
  const tail = [
    notRun > 0 ? `${notRun} not run${ended ? ` (${ended})` : ''}` : '',
    t.stoppedAt ? `stops at ${t.stoppedAt.loc.line}:${t.stoppedAt.loc.col} (${t.stoppedAt.reason})` : '',
  ].filter(Boolean).join('; ');
  const summary = verdict === 'agree'
    ? `agree: ${compared} op${compared === 1 ? '' : 's'}${tail ? `; ${tail}` : ''}`
    : `disagree: ${disagreements.length} of ${compared} ops (first at ${first!.line}:${first!.col})${tail ? `; ${tail}` : ''}`;
  return { ...base, verdict, compared, disagreements, notRun, problems, summary };
}

/**
 * For a script without expectations (a random program, a kernel regression), a runtime error of
 * the simulator that is not a kernel oops or hang it predicted (those the judge compares with
 * Linux) is the simulator's own problem: an invariant it broke, an internal error. The comparison
 * stopped there while Linux had no reason to: a disagreement of its own kind, not an agreement.
 */
export function withSimulatorStop(t: Translation, j: ScriptJudgement): ScriptJudgement {
  if (j.verdict !== 'agree' || t.simError === undefined) return j;
  const last = t.ops[t.ops.length - 1];
  if (last === undefined || last.sim.crash !== undefined || last.sim.hang !== undefined) return j;
  const kind = /invariant violated/.test(t.simError) ? 'invariant' : 'error';
  const text = `${t.simError} (the simulator stopped here; Linux had no crash or hang)`;
  return { ...j, verdict: 'disagree', disagreements: [{ op: last, signature: `simulator-stop:${kind}`, text }], summary: `disagree: ${text}` };
}
