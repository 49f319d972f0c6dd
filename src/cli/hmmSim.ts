// `hmm-sim run FILE... [--trace FILE.json] [--verbose]`: runs .hmm scripts headless and exits
// 0 when every script ran to its end, 1 on a runtime error, 2 when a script was rejected.

import * as fs from 'node:fs';
import { runScriptText, type ScriptRun } from '../hmm/lang/runner';
import { formatDiagnostic } from '../hmm/lang/ast';
import { DEFAULT_MAX_MEMORY_BYTES } from '../hmm/lang/budget';
import { readScriptFile, ScriptFileError } from '../hmm/lang/scriptFile';
import { RESIDENCY_LEGEND } from '../hmm/lang/residency';
import { chromeTraceJson } from '../hmm/lang/runText';
import { isLinuxVersion, LINUX_VERSIONS, type LinuxVersion } from '../hmm/profile';
import { loadArtifacts } from '../oracle/artifacts';
import { FOCUSES, isFocus } from '../oracle/differential';
import type { ProgramRunner } from '../oracle/kernelRun';
import { runProgram } from '../oracle/vm';
import { parseOptions, positiveNumber, wholeNumber } from './args';
import { kernelCommand } from './kernelCommand';
import { runDifferentialCommand, runKernelCompare } from './kernelCompare';

const USAGE = `usage: hmm-sim run FILE... [--trace FILE.json] [--verbose] [--report] [--no-prefetcher]
                   [--timeout SECONDS] [--max-memory MIB]
                   [--linux mainline|6.12] [--kernel]
       hmm-sim differential [--count N] [--seed S] [--focus default|mremap] [--shrink K] [--shrink-budget SECONDS] [--out DIR]

Runs .hmm scripts on the HMM simulator.
  --trace FILE.json   write the event stream (Chrome trace JSON; opens in Perfetto)
  --verbose           print each statement's events and the residency maps at the end
  --report            print the placement report (always printed when GPU work ran)
  --no-prefetcher     switch off the density prefetcher of fault-driven migrations
  --timeout SECONDS   stop a script that runs longer (a runtime error where it got to)
  --max-memory MIB    stop a script once the process uses more memory (default ${DEFAULT_MAX_MEMORY_BYTES / 2 ** 20})
  --linux VERSION     the kernel the simulator models: mainline (default) or 6.12
                      (a script's own \`linux\` line wins)
  --kernel            also run each script on Linux 6.12 in a VM (npm run kernel builds it)
                      and print every disagreement as file:line:col: … kernel: … / simulator: …
Exit status: 0 all scripts ran to the end (with --kernel: and agree with Linux on every
observation), 1 a runtime error, failed expectation or disagreement, 2 a script was rejected
before running (parse or check errors, unreadable file).

differential: random programs in the subset the kernel runs, on the simulator and in the VM;
each kind of disagreement is shrunk to a small script. --count 1000 by default; --seed is
random unless given (printed, so a run can be repeated); --focus mremap weights the generator
toward moving and resizing mremap over file, shared, hugetlb and device-file mappings (other
programs than the default's for the same seed); --shrink kinds to shrink (8); --out DIR
writes each disagreeing program and each shrunk one there with the kernel's answers recorded
(a regression file for test/kernel-regress/). Exit status 0 all agree, 1 a disagreement.
With --kernel or differential, exit status 3: the VM itself failed (not a disagreement).

hmm-sim kernel build|selftest|exec ...: the real kernel in a VM (hmm-sim kernel --help).`;

interface Options {
  files: string[];
  trace?: string;
  verbose: boolean;
  report: boolean;
  prefetcher: boolean;
  timeoutMs?: number;
  maxMemoryBytes?: number;
  linux?: LinuxVersion;
  kernel: boolean;
}

const RUN_OPTIONS = {
  trace: { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
  report: { type: 'boolean' },
  'no-prefetcher': { type: 'boolean' },
  timeout: { type: 'string' },
  'max-memory': { type: 'string' },
  linux: { type: 'string' },
  kernel: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function runOptions(argv: readonly string[]): Options | string {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') return 'help';
  if (cmd !== 'run') return `unknown command '${cmd}'`;
  const p = parseOptions(rest, RUN_OPTIONS);
  if (typeof p === 'string') return p;
  const v = p.values;
  if (v.help) return 'help';
  const o: Options = { files: p.positionals, verbose: v.verbose ?? false, report: v.report ?? false, prefetcher: !v['no-prefetcher'], kernel: v.kernel ?? false };
  if (v.trace !== undefined) o.trace = v.trace;
  if (v.timeout !== undefined) {
    const n = positiveNumber('--timeout', v.timeout, 7 * 24 * 3600);
    if (typeof n === 'string') return n;
    o.timeoutMs = n * 1000;
  }
  if (v['max-memory'] !== undefined) {
    const n = positiveNumber('--max-memory', v['max-memory'], 2 ** 20);
    if (typeof n === 'string') return n;
    o.maxMemoryBytes = n * 2 ** 20;
  }
  if (v.linux !== undefined) {
    if (!isLinuxVersion(v.linux)) return `--linux takes one of ${LINUX_VERSIONS.join(', ')}, found '${v.linux}'`;
    o.linux = v.linux;
  }
  if (o.files.length === 0) return 'no script given';
  if (o.kernel && o.linux === 'mainline') return '--kernel compares with Linux 6.12, the kernel the VM runs: --linux mainline cannot go with it';
  if (o.kernel && (o.trace !== undefined || o.verbose || o.report)) return '--kernel runs without --trace, --verbose or --report';
  return o;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'kernel') return kernelCommand(argv.slice(1));
  if (argv[0] === 'differential') return differentialMain(argv.slice(1));
  const o = runOptions(argv);
  if (o === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (typeof o === 'string') {
    console.error(`hmm-sim: ${o}\n\n${USAGE}`);
    return 2;
  }
  if (o.kernel) return kernelMain(o.files);
  let passed = 0;
  let failed = 0;
  let rejected = 0;
  const runs: ScriptRun[] = [];
  const t0 = Date.now();
  for (const file of o.files) {
    let text: string;
    try {
      text = readScriptFile(file);
    } catch (e) {
      if (!(e instanceof ScriptFileError)) throw e;
      console.error(`${file}: ${e.message}`);
      rejected++;
      continue;
    }
    const run = runScriptText(file, text, {
      output: (s) => console.log(s),
      onStatement: o.verbose ? (line) => console.log(line) : undefined,
      report: o.report,
      prefetcher: o.prefetcher,
      limits: { timeoutMs: o.timeoutMs, maxMemoryBytes: o.maxMemoryBytes },
      linux: o.linux,
    });
    runs.push(run);
    if (run.diagnostics.length > 0) {
      for (const d of run.diagnostics) console.error(formatDiagnostic(d));
      rejected++;
      continue;
    }
    if (o.verbose) {
      console.log(run.residency);
      console.log(RESIDENCY_LEGEND);
    }
    if (run.report !== undefined) console.log(`${file}: ${run.report}`);
    if (run.error) {
      console.error(run.error);
      failed++;
    } else passed++;
  }
  if (o.trace !== undefined) {
    try {
      fs.writeFileSync(o.trace, chromeTraceJson(runs));
    } catch (e) {
      console.error(`hmm-sim: cannot write ${o.trace}: ${(e as Error).message}`);
      return 2;
    }
  }
  const total = o.files.length;
  console.log(`${total} script${total === 1 ? '' : 's'}: ${passed} ran to the end, ${failed} stopped on a runtime error, ${rejected} rejected (${Date.now() - t0} ms)`);
  // The closing line in the plain form CI and scripts read.
  console.log(`hmm-sim: ${passed} passed, ${failed + rejected} failed`);
  return rejected > 0 ? 2 : failed > 0 ? 1 : 0;
}

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

async function kernelMain(files: readonly string[]): Promise<number> {
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
  shrink: { type: 'string' },
  'shrink-budget': { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function differentialMain(argv: readonly string[]): Promise<number> {
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
  if (!kernelBuilt()) return 2;
  const outDir = typeof v.out === 'string' ? v.out : undefined;
  return vmFailure(runDifferentialCommand({ count: count as number, seed: seed as number, focus, maxShrinks: maxShrinks as number, shrinkBudgetMs: (budgetS as number) * 1000, outDir }, vmRunner, out));
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

/**
 * Leave once stdout and stderr have taken everything written: `run` holds nothing that needs
 * closing, and letting Node take down a heap of millions of pages costs a noticeable part of a
 * large run. The other commands end the ordinary way (their children and temporary files).
 */
function exitWhenFlushed(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

const argv = process.argv.slice(2);
main(argv).then((code) => {
  process.exitCode = code;
  if (argv[0] === 'run') exitWhenFlushed(code);
}, (e: unknown) => {
  console.error(`hmm-sim: internal error: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  process.exitCode = 2;
});
