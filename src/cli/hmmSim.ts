// Layer: command-line front end (src/cli). Imports the simulator and the language; no vscode.
// `hmm-sim run FILE... [--trace FILE.json] [--verbose]`: runs .hmm scripts headless and exits
// 0 when every script ran to its end, 1 on a runtime error, 2 when a script was rejected.

import * as fs from 'node:fs';
import { runScriptText, type ScriptRun } from '../hmm/lang/runner';
import { formatDiagnostic } from '../hmm/lang/ast';
import { DEFAULT_MAX_MEMORY_BYTES } from '../hmm/lang/budget';
import { readScriptFile, ScriptFileError } from '../hmm/lang/scriptFile';
import { RESIDENCY_LEGEND } from '../hmm/lang/residency';
import { toChromeTrace } from '../hmm/trace';
import { kernelCommand } from './kernelCommand';

const USAGE = `usage: hmm-sim run FILE... [--trace FILE.json] [--verbose] [--report] [--no-prefetcher]
                   [--timeout SECONDS] [--max-memory MIB]

Runs .hmm scripts on the HMM simulator.
  --trace FILE.json   write the event stream (Chrome trace JSON; opens in Perfetto)
  --verbose           print each statement's events and the residency maps at the end
  --report            print the placement report (always printed when GPU work ran)
  --no-prefetcher     switch off the density prefetcher of fault-driven migrations
  --timeout SECONDS   stop a script that runs longer (a runtime error where it got to)
  --max-memory MIB    stop a script once the process uses more memory (default ${DEFAULT_MAX_MEMORY_BYTES / 2 ** 20})
Exit status: 0 all scripts ran to the end, 1 a runtime error or failed expectation,
2 a script was rejected before running (parse or check errors, unreadable file).

hmm-sim kernel build|selftest|exec ...: the real kernel in a VM (hmm-sim kernel --help).`;

interface Options {
  files: string[];
  trace?: string;
  verbose: boolean;
  report: boolean;
  prefetcher: boolean;
  timeoutMs?: number;
  maxMemoryBytes?: number;
}

/** A positive number (at most `max`) given to `option`, or a message. */
function positive(option: string, text: string | undefined, max: number): number | string {
  if (text === undefined) return `${option} needs a number`;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0 || n > max) return `${option} must be a number above 0 and at most ${max}, found '${text}'`;
  return n;
}

function parseArgs(argv: string[]): Options | string {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') return 'help';
  if (cmd !== 'run') return `unknown command '${cmd}'`;
  const o: Options = { files: [], verbose: false, report: false, prefetcher: true };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--verbose' || a === '-v') o.verbose = true;
    else if (a === '--report') o.report = true;
    else if (a === '--no-prefetcher') o.prefetcher = false;
    else if (a === '--timeout' || a.startsWith('--timeout=')) {
      const n = positive('--timeout', a.includes('=') ? a.slice(a.indexOf('=') + 1) : rest[++i], 7 * 24 * 3600);
      if (typeof n === 'string') return n;
      o.timeoutMs = n * 1000;
    } else if (a === '--max-memory' || a.startsWith('--max-memory=')) {
      const n = positive('--max-memory', a.includes('=') ? a.slice(a.indexOf('=') + 1) : rest[++i], 2 ** 20);
      if (typeof n === 'string') return n;
      o.maxMemoryBytes = n * 2 ** 20;
    } else if (a === '--trace') {
      const f = rest[++i];
      if (f === undefined) return '--trace needs a file name';
      o.trace = f;
    } else if (a.startsWith('--trace=')) o.trace = a.slice('--trace='.length);
    else if (a === '--help' || a === '-h') return 'help';
    else if (a.startsWith('-')) return `unknown option '${a}'`;
    else o.files.push(a);
  }
  if (o.files.length === 0) return 'no script given';
  return o;
}

function main(argv: string[]): number {
  const o = parseArgs(argv);
  if (o === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (typeof o === 'string') {
    console.error(`hmm-sim: ${o}\n\n${USAGE}`);
    return 2;
  }
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
      fs.writeFileSync(o.trace, JSON.stringify(toChromeTrace(runs.map((r) => ({ file: r.file, events: r.events })))));
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

if (process.argv[2] === 'kernel') {
  void kernelCommand(process.argv.slice(3)).then((code) => { process.exitCode = code; });
} else {
  process.exitCode = main(process.argv.slice(2));
}
