// `hmm-sim run --kernel`: translate scripts, run them all in one program on the VM (which
// boots again after a crash), and judge each against the simulator.

import { type CaseResult, judge, type ScriptJudgement } from './compare';
import { formatProgram, type Translation, translateScript } from './translate';

/** What runs a program in the VM (src/oracle/vm.ts; a fake in the unit tests). */
export type ProgramRunner = (program: string) => Promise<{ readonly cases: ReadonlyMap<string, CaseResult>; readonly boots: number; readonly ms: number }>;

export interface KernelComparison {
  readonly translations: readonly Translation[];
  readonly judgements: readonly ScriptJudgement[];
  readonly boots: number;
  readonly vmMs: number;
}

export async function compareWithKernel(scripts: readonly { file: string; text: string }[], run: ProgramRunner): Promise<KernelComparison> {
  const translations: Translation[] = [];
  let op = 1;
  scripts.forEach(({ file, text }, i) => {
    const t = translateScript(file, text, { firstOp: op, caseId: String(i) });
    op += t.ops.length;
    translations.push(t);
  });
  const runnable = translations.filter((t) => t.ops.length > 0);
  const vm = runnable.length > 0 ? await run(formatProgram(translations)) : { cases: new Map<string, CaseResult>(), boots: 0, ms: 0 };
  const judgements = translations.map((t, i) => judge(t, vm.cases.get(String(i))));
  return { translations, judgements, boots: vm.boots, vmMs: vm.ms };
}
