// `npm run bench`: the performance goals of issue 14, each as figures with a baseline measured in
// the same run, their ratio and a one-line verdict (printed, never asserted: the machine is
// shared, so run it more than once and read the medians). Memory: bytes per touched page and the
// peak RSS of each whole-process scenario.
//
//   node dist/bench.js [--repeat N] [--only NAME,...] [--pages M] [--stream-pages M]
//   (--pages, --stream-pages: millions of pages of the largest runs, 48 and 20 by default)
//   names: scale, start, adapter, vscode, reverse

import * as os from 'node:os';
import { adapterLean } from './adapter';
import { Scratch } from './measure';
import { largestGpu, runOnce, startAndExit } from './scale';
import { timeTravel } from './timeTravel';
import { vscodeAtAnySize } from './vscode';

const GOALS = ['scale', 'start', 'adapter', 'vscode', 'reverse'] as const;
type Goal = (typeof GOALS)[number];

interface Options {
  repeat: number;
  only: Set<Goal>;
  gpuPages: number;
  streamPages: number;
}

function usage(problem: string): never {
  console.error(`bench: ${problem}\nusage: node dist/bench.js [--repeat N] [--only ${GOALS.join(',')}] [--pages N] [--stream-pages N]`);
  process.exit(2);
}

function wholeNumber(flag: string, text: string | undefined, min: number, max: number): number {
  const n = Number(text);
  if (text === undefined || !/^\d+$/.test(text) || n < min || n > max) usage(`${flag} takes a whole number from ${min} to ${max}, found '${text ?? ''}'`);
  return n;
}

function parse(argv: readonly string[]): Options {
  const o: Options = { repeat: 3, only: new Set(GOALS), gpuPages: 48 << 20, streamPages: 20 << 20 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--repeat') o.repeat = wholeNumber(a, argv[++i], 1, 100);
    // Multiples of 1M pages: the scripts size their devices in MiB.
    else if (a === '--pages') o.gpuPages = wholeNumber(a, argv[++i], 1, 64) << 20;
    else if (a === '--stream-pages') o.streamPages = wholeNumber(a, argv[++i], 1, 64) << 20;
    else if (a === '--only') {
      const names = (argv[++i] ?? '').split(',');
      for (const n of names) if (!(GOALS as readonly string[]).includes(n)) usage(`unknown goal '${n}'`);
      o.only = new Set(names as Goal[]);
    } else usage(`unknown option '${a}'`);
  }
  return o;
}

async function main(): Promise<void> {
  // The bench as its own child: one in-process run of a script in a fresh process (cold JIT).
  if (process.argv[2] === '--run-once') {
    console.log(`#ms ${runOnce(process.argv[3] ?? '')}`);
    return;
  }
  const o = parse(process.argv.slice(2));
  console.log(`hmm-sim benchmark — node ${process.version}, ${new Date().toISOString()}, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`each figure: value, baseline measured in this run, ratio; medians of ${o.repeat} runs (the two largest scenarios: the faster of ${Math.min(o.repeat, 2)})`);
  const scratch = new Scratch();
  try {
    if (o.only.has('start')) await startAndExit(scratch, o.repeat);
    if (o.only.has('scale')) await largestGpu(scratch, { repeat: o.repeat, gpuPages: o.gpuPages, streamPages: o.streamPages });
    if (o.only.has('adapter')) await adapterLean(scratch);
    if (o.only.has('vscode')) await vscodeAtAnySize(scratch);
    if (o.only.has('reverse')) await timeTravel();
  } finally {
    scratch.dispose();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
