// `hmm-sim run FILE... [--trace FILE.json] [--verbose]`: runs .hmm scripts headless and exits
// 0 when every script ran to its end, 1 on a runtime error, 2 when a script was rejected.

import * as fs from 'node:fs';
import { runScriptText, type ScriptRun } from '../hmm/lang/runner';
import { formatDiagnostic } from '../hmm/lang/ast';
import { readScriptFile, ScriptFileError } from '../hmm/lang/scriptFile';
import { RESIDENCY_LEGEND } from '../hmm/lang/residency';
import { chromeTraceJson } from '../hmm/lang/runText';
import { isLinuxVersion, LINUX_VERSIONS, type LinuxVersion } from '../hmm/profile';
import { parseOptions, positiveNumber } from './args';
import { loadKernel } from './loadKernel';
import { USAGE } from './usage';

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
  if (argv[0] === 'kernel') return loadKernel().kernelCommand(argv.slice(1));
  if (argv[0] === 'differential') return loadKernel().differentialMain(argv.slice(1));
  const o = runOptions(argv);
  if (o === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (typeof o === 'string') {
    console.error(`hmm-sim: ${o}\n\n${USAGE}`);
    return 2;
  }
  if (o.kernel) return loadKernel().kernelMain(o.files);
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
