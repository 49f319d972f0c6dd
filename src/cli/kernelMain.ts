// The commands that use the kernel VM (src/oracle): `hmm-sim kernel ...`, `hmm-sim differential`
// and `hmm-sim run --kernel`. Bundled apart (dist/hmm-sim-kernel.js, src/cli/loadKernel.ts) so
// that `hmm-sim run` neither reads nor compiles the oracle, fast-check and their Node modules.

import { readScriptFile, ScriptFileError } from '../hmm/lang/scriptFile';
import { loadArtifacts } from '../oracle/artifacts';
import { FOCUSES, isFocus, parseWeights } from '../oracle/differential';
import type { ProgramRunner } from '../oracle/kernelRun';
import { runProgram } from '../oracle/vm';
import { parseOptions, wholeNumber } from './args';
import { runDifferentialCommand, runKernelCompare } from './kernelCompare';
import { USAGE } from './usage';

export { kernelCommand } from './kernelCommand';

const out = { log: (l: string) => console.log(l), err: (l: string) => console.error(l) };

/** The VM runner with progress on stderr (a boot takes seconds; a crash costs one more). */
const vmRunner: ProgramRunner = (program) => runProgram(program, {
  onBoot: (b, finished, remaining) => {
    console.error(`# boot: ${(b.ms / 1000).toFixed(1)} s, ${finished.length} script(s) done${remaining > 0 ? `, ${remaining} left (the kernel crashed or hung: booting again)` : ''}`);
  },
});

/** Whether the VM is built; if not, says how to build it (`npm run kernel`). */
function kernelBuilt(): boolean {
  try {
    loadArtifacts();
    return true;
  } catch (e) {
    console.error(`hmm-sim: ${(e as Error).message}`);
    return false;
  }
}

export async function kernelMain(files: readonly string[]): Promise<number> {
  const scripts: { file: string; text: string }[] = [];
  for (const file of files) {
    try {
      scripts.push({ file, text: readScriptFile(file) });
    } catch (e) {
      if (!(e instanceof ScriptFileError)) throw e;
      console.error(`${file}: ${e.message}`);
      return 2;
    }
  }
  if (!kernelBuilt()) return 2;
  return vmFailure(runKernelCompare(scripts, vmRunner, out));
}

const DIFFERENTIAL_OPTIONS = {
  count: { type: 'string' },
  seed: { type: 'string' },
  focus: { type: 'string' },
  weight: { type: 'string' },
  shrink: { type: 'string' },
  'shrink-budget': { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function differentialMain(argv: readonly string[]): Promise<number> {
  const fail = (why: string): number => {
    console.error(`hmm-sim differential: ${why}\n\n${USAGE}`);
    return 2;
  };
  const p = parseOptions(argv, DIFFERENTIAL_OPTIONS, false);
  if (typeof p === 'string') return fail(p);
  const v = p.values;
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  const number = (option: keyof typeof DIFFERENTIAL_OPTIONS & string, fallback: number, min: number, max: number): number | string => {
    const text = v[option];
    return typeof text === 'string' ? wholeNumber(`--${option}`, text, min, max) : fallback;
  };
  const count = number('count', 1000, 1, 100_000);
  const seed = number('seed', Math.floor(Math.random() * 0x7fffffff), 0, 0x7fffffff);
  const maxShrinks = number('shrink', 8, 0, 100);
  const budgetS = number('shrink-budget', 300, 0, 24 * 3600);
  for (const r of [count, seed, maxShrinks, budgetS]) if (typeof r === 'string') return fail(r);
  const focus = v.focus ?? 'default';
  if (!isFocus(focus)) return fail(`--focus: ${JSON.stringify(focus)} is not one of ${FOCUSES.join(', ')}`);
  const weights = typeof v.weight === 'string' ? parseWeights(v.weight) : {};
  if (typeof weights === 'string') return fail(weights);
  if (!kernelBuilt()) return 2;
  const outDir = typeof v.out === 'string' ? v.out : undefined;
  return vmFailure(runDifferentialCommand({ count: count as number, seed: seed as number, focus, weights, maxShrinks: maxShrinks as number, shrinkBudgetMs: (budgetS as number) * 1000, outDir }, vmRunner, out));
}

/**
 * Exit status 3 when the VM itself failed (QEMU would not start, a boot made no progress, the
 * runner rejected a program): an infrastructure failure, never a disagreement with Linux.
 */
async function vmFailure(p: Promise<number>): Promise<number> {
  try {
    return await p;
  } catch (e) {
    console.error(`hmm-sim: the kernel VM failed (infrastructure, not a disagreement): ${(e as Error).message}`);
    return 3;
  }
}
