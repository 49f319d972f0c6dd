// `hmm-sim run --kernel`: translate scripts, run them all in one program on the VM (which
// boots again after a crash), and judge each against the simulator.

import { type CaseResult, judge, type ScriptJudgement } from './compare';
import { isRegression } from './regression';
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
    // A kernel regression runs as the differential that found it ran: failing calls go on.
    const t = translateScript(file, text, { firstOp: op, caseId: String(i), failedCallsContinue: isRegression(text) });
    op += t.ops.length;
    translations.push(t);
  });
  const vm = await runTranslations(translations, run);
  const judgements = translations.map((t, i) => judge(t, vm.cases.get(String(i))));
  return { translations, judgements, boots: vm.boots, vmMs: vm.ms };
}

/**
 * Runs the translated cases on the VM, in one program (one boot, more after crashes) up to each
 * case the simulator says leaves the kernel unclean (`leavesKernel`): the cases after it start
 * in a new boot, so no case sees another's leftovers.
 */
export async function runTranslations(translations: readonly Translation[], run: ProgramRunner):
  Promise<{ cases: Map<string, CaseResult>; boots: number; ms: number }> {
  const cases = new Map<string, CaseResult>();
  let boots = 0;
  let ms = 0;
  let group: Translation[] = [];
  const flush = async (): Promise<void> => {
    const runnable = group.filter((t) => t.lines.length > 0);
    group = [];
    if (runnable.length === 0) return;
    const vm = await run(formatProgram(runnable));
    for (const [id, c] of vm.cases) cases.set(id, c);
    boots += vm.boots;
    ms += vm.ms;
  };
  for (const t of translations) {
    group.push(t);
    if (t.leavesKernel !== undefined) await flush();
  }
  await flush();
  return { cases, boots, ms };
}
