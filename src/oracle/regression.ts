// Layer: the kernel oracle (src/oracle). Imports ./compare and ./translate.
// A kernel regression: a script together with what Linux 6.12 answered when it ran in the VM
// (the runner's result lines, ops numbered from 1, in `#kernel` comment lines), so the simulator
// can be judged against the kernel's recorded answers without a VM (test/kernelRegress.test.ts).
// Scripts run as the differential runs them: a failing call is an observation, the script goes on.

import { type CaseResult, judge, type ScriptJudgement, withSimulatorStop } from './compare';
import { translateScript, type Translation } from './translate';

const TAG = '#kernel ';
/** At most this many recorded lines (a regression is a small, shrunk script). */
const MAX_RECORDED = 100_000;

/** Whether a script is a kernel regression (it has recorded `#kernel` answers). */
export function isRegression(text: string): boolean {
  return /^#kernel /m.test(text);
}

/** How a regression's script is translated, when recorded and when judged. */
export function translateRegression(file: string, text: string, firstOp = 1, caseId = '0'): Translation {
  return translateScript(file, text, { firstOp, caseId, failedCallsContinue: true });
}

/**
 * The regression file: `about` as comments, the kernel's answers as `#kernel` lines, then the
 * script. `firstOp` is the number the case's first op had in the program that ran it.
 */
export function formatRegression(script: string, result: CaseResult, firstOp: number, about: readonly string[]): string {
  const renumber = (op: number): number => (op < 0 ? op : op - firstOp + 1);
  const out = about.map((l) => `# ${l}`.trimEnd());
  out.push('# What Linux 6.12 answered (hmm-runner result lines; test/kernelRegress.test.ts judges the simulator against them):');
  for (const l of result.lines) {
    const m = /^(r|bad) (\d+)(.*)$/.exec(l.trim());
    if (m) out.push(`${TAG}${m[1]} ${renumber(Number(m[2]))}${m[3]}`);
  }
  if (result.crash !== undefined) {
    out.push(`${TAG}crash ${renumber(result.crash.op)}`);
    // The oops' telling lines: what went wrong and where (the RIP names the function).
    for (const l of result.crash.oops.filter((x) => /BUG:|Oops|RIP: /.test(x)).slice(0, 4)) out.push(`${TAG}oops ${l.replace(/^\[\s*[\d.]+\]\s*/, '').trim()}`);
  }
  if (result.hang !== undefined) out.push(`${TAG}hang ${renumber(result.hang.op)}`);
  return `${out.join('\n')}\n${script.endsWith('\n') ? script : `${script}\n`}`;
}

/** The kernel's recorded answers of a regression file; throws on a malformed `#kernel` line. */
export function parseRegression(text: string): CaseResult {
  const lines: string[] = [];
  let crash: { op: number; oops: string[] } | undefined;
  let hang: { op: number } | undefined;
  let n = 0;
  for (const [i, raw] of text.split('\n').entries()) {
    if (!raw.startsWith(TAG)) continue;
    if (++n > MAX_RECORDED) throw new Error(`more than ${MAX_RECORDED} recorded kernel lines`);
    const body = raw.slice(TAG.length).trim();
    const m = /^(r|bad|crash|hang|oops) (.*)$/.exec(body);
    if (m === null) throw new Error(`line ${i + 1}: '${raw}' is not a recorded kernel answer (r, bad, crash, oops, hang)`);
    const op = (): number => {
      if (!/^-?\d+$/.test(m[2]!)) throw new Error(`line ${i + 1}: '${raw}' needs an op number`);
      return Number(m[2]);
    };
    switch (m[1]) {
      case 'r': case 'bad': lines.push(body); break;
      case 'crash': crash = { op: op(), oops: [] }; break;
      case 'oops':
        if (crash === undefined) throw new Error(`line ${i + 1}: an oops line before its crash line`);
        crash.oops.push(m[2]!);
        break;
      case 'hang': hang = { op: op() }; break;
    }
  }
  if (n === 0) throw new Error('no recorded kernel answers (#kernel lines)');
  return { lines, ...(crash ? { crash } : {}), ...(hang ? { hang } : {}) };
}

/** Judge the simulator's run of a regression against the kernel's recorded answers (a stop of its own disagrees). */
export function judgeRegression(file: string, text: string): ScriptJudgement {
  const t = translateRegression(file, text);
  return withSimulatorStop(t, judge(t, parseRegression(text)));
}
