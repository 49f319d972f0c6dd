// `hmm-sim kernel build|selftest|exec`: the kernel
// oracle's VM (src/oracle). Separate from hmmSim.ts's `run`, which only dispatches here.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadArtifacts, projectRoot } from '../oracle/artifacts';
import { runTranslations } from '../oracle/kernelRun';
import { formatRegression, translateRegression } from '../oracle/regression';
import type { TapTest } from '../oracle/tap';
import { runProgram, runSelftest, type Accel } from '../oracle/vm';
import { parseOptions, wholeNumber } from './args';

export const KERNEL_USAGE = `usage: hmm-sim kernel build
       hmm-sim kernel selftest [--tcg|--kvm] [--verbose]
       hmm-sim kernel exec PROGRAM.txt [--tcg|--kvm] [--op-limit MS] [--console]
       hmm-sim kernel record SCRIPT.hmm... --out DIR

The real kernel as the judge: Linux 6.12 with test_hmm in QEMU.
  build      run kernel/build.sh (Debian packages, kernel, hmm-tests, runner; cached)
  selftest   boot the kernel's own hmm-tests and print every TEST_F result;
             exit 1 unless all 58 pass
  exec       boot with a runner program (docs/kernel-runner.md) and print its results,
             booting again after a kernel oops or hang
  record     run each script on Linux (a failing call is an observation, as in the
             differential) and write DIR/NAME.hmm: the script with the kernel's answers
             recorded, a regression test/kernelRegress.test.ts judges without a VM
  --console  also print each boot's kernel console`;

/** hmm-tests instances in Linux 6.12 (26 TEST_F × 2 variants of `hmm`, 3 × 2 of `hmm2`). */
export const EXPECTED_HMM_TESTS = 58;

export async function kernelCommand(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    switch (sub) {
      case 'build': return await build(rest);
      case 'selftest': return await selftest(rest);
      case 'exec': return await exec(rest);
      case 'record': return await record(rest);
      case undefined: case 'help': case '--help': case '-h':
        console.log(KERNEL_USAGE);
        return 0;
      default:
        console.error(`hmm-sim: unknown kernel command '${sub}'\n\n${KERNEL_USAGE}`);
        return 2;
    }
  } catch (e) {
    console.error(`hmm-sim kernel ${sub}: ${(e as Error).message}`);
    return 2;
  }
}

function build(args: readonly string[]): Promise<number> {
  if (args.length > 0) throw new Error(`unexpected argument '${args[0]}'`);
  const script = path.join(projectRoot(), 'kernel', 'build.sh');
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script], { stdio: 'inherit' });
    child.on('error', (e) => reject(new Error(`cannot run ${script}: ${e.message}`)));
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 2 : 0)));
  });
}

interface VmFlags {
  accel?: Accel;
  verbose: boolean;
  console: boolean;
  opLimitMs?: number;
  files: string[];
}

const VM_OPTIONS = {
  tcg: { type: 'boolean' },
  kvm: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  console: { type: 'boolean' },
  'op-limit': { type: 'string' },
} as const;

function flags(args: readonly string[]): VmFlags {
  const p = parseOptions(args, VM_OPTIONS);
  if (typeof p === 'string') throw new Error(p);
  const v = p.values;
  if (v.tcg && v.kvm) throw new Error('--tcg and --kvm cannot go together');
  const f: VmFlags = { verbose: v.verbose ?? false, console: v.console ?? false, files: p.positionals };
  if (v.tcg) f.accel = 'tcg';
  if (v.kvm) f.accel = 'kvm';
  if (v['op-limit'] !== undefined) {
    const n = wholeNumber('--op-limit', v['op-limit'], 1, 3_600_000);
    if (typeof n === 'string') throw new Error('--op-limit needs milliseconds (1..3600000)');
    f.opLimitMs = n;
  }
  return f;
}

const MARK: Record<TapTest['status'], string> = { pass: 'pass', fail: 'FAIL', skip: 'SKIP', xfail: 'XFAIL', xpass: 'XPASS' };

async function selftest(args: readonly string[]): Promise<number> {
  const f = flags(args);
  if (f.files.length > 0) throw new Error(`unexpected argument '${f.files[0]}'`);
  const a = loadArtifacts();
  const r = await runSelftest({ artifacts: a, ...(f.accel ? { accel: f.accel } : {}) });
  if (f.verbose) console.log(r.output);
  const width = Math.max(4, ...r.tests.map((t) => t.name.length));
  console.log(`${'#'.padStart(3)}  ${'test'.padEnd(width)}  result`);
  for (const t of r.tests) {
    console.log(`${String(t.n).padStart(3)}  ${t.name.padEnd(width)}  ${MARK[t.status]}${t.reason ? `  ${t.reason}` : ''}`);
  }
  const count = (s: TapTest['status']): number => r.tests.filter((t) => t.status === s).length;
  const passed = count('pass');
  const problems: string[] = [];
  if (r.plan === undefined) problems.push('no TAP plan (hmm-tests did not start?)');
  else if (r.tests.length !== r.plan) problems.push(`${r.tests.length} results for a plan of ${r.plan}`);
  if (r.tests.length !== EXPECTED_HMM_TESTS) problems.push(`${EXPECTED_HMM_TESTS} tests expected in Linux 6.12`);
  if (r.exitCode !== 0) problems.push(`hmm-tests exit ${r.exitCode ?? '(none)'}`);
  console.log(`hmm-tests on Linux ${a.kernelRelease} (${a.debianVersion}, ${r.accel.toUpperCase()}, ${(r.ms / 1000).toFixed(1)} s): ` +
    `${passed} passed, ${count('fail')} failed, ${count('skip')} skipped, ${count('xfail') + count('xpass')} xfail/xpass` +
    `${problems.length ? ` — ${problems.join('; ')}` : ''}`);
  if (problems.length > 0 || passed !== r.tests.length) {
    if (!f.verbose) console.log(r.console.split('\n').slice(-15).join('\n'));
    return 1;
  }
  return 0;
}

async function exec(args: readonly string[]): Promise<number> {
  const f = flags(args);
  if (f.files.length !== 1) throw new Error('exec takes one PROGRAM.txt');
  const artifacts = loadArtifacts();
  let text: string;
  try {
    text = fs.readFileSync(f.files[0]!, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${f.files[0]}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  let crashes = 0;
  const r = await runProgram(text, {
    artifacts,
    ...(f.accel ? { accel: f.accel } : {}),
    ...(f.opLimitMs !== undefined ? { opLimitMs: f.opLimitMs } : {}),
    onBoot: (b, finished, remaining) => {
      if (f.console) console.log(b.console);
      // The runner's and init's own remarks (throughput, exit status).
      for (const l of b.results.split('\n')) if (l.startsWith('# ')) console.error(l.trimEnd());
      console.error(`# boot: ${(b.ms / 1000).toFixed(1)} s, ${finished.length} case(s) finished, ${remaining} left`);
    },
  });
  for (const c of r.cases.values()) {
    console.log(`case ${c.id}`);
    for (const l of c.lines) console.log(l);
    if (c.crash) {
      crashes++;
      console.log(`crash ${c.crash.op}`);
      for (const l of c.crash.oops) console.log(`  ${l}`);
    }
    if (c.hang) {
      crashes++;
      console.log(`hang ${c.hang.op}`);
    }
  }
  console.log(`# ${r.cases.size} case(s), ${crashes} ended by the kernel, ${r.boots} boot(s), ${(r.ms / 1000).toFixed(1)} s (${r.accel.toUpperCase()})`);
  return 0;
}

async function record(args: readonly string[]): Promise<number> {
  const at = args.indexOf('--out');
  const dir = at >= 0 ? args[at + 1] : undefined;
  const files = args.filter((_, i) => i !== at && i !== at + 1);
  if (dir === undefined || dir.startsWith('-')) throw new Error('record needs --out DIR');
  if (files.length === 0 || files.some((f) => f.startsWith('-'))) throw new Error('record takes .hmm scripts and --out DIR');
  const artifacts = loadArtifacts();
  const scripts = files.map((file) => {
    try {
      return { file, text: fs.readFileSync(file, 'utf8') };
    } catch (e) {
      throw new Error(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  });
  let op = 1;
  const ts = scripts.map((s, i) => {
    const t = translateRegression(s.file, s.text, op, String(i));
    op += t.ops.length;
    return t;
  });
  for (const t of ts) if (t.diagnostics.length > 0 || t.ops.length === 0) throw new Error(`${t.file}: nothing the kernel can run`);
  const vm = await runTranslations(ts, (program) => runProgram(program, { artifacts }));
  fs.mkdirSync(dir, { recursive: true });
  ts.forEach((t, i) => {
    const result = vm.cases.get(String(i));
    if (result === undefined) throw new Error(`${t.file}: the VM returned nothing`);
    const out = path.join(dir, path.basename(t.file));
    fs.writeFileSync(out, formatRegression(scripts[i]!.text, result, t.ops[0]!.op, [`Recorded by hmm-sim kernel record from ${path.basename(t.file)}.`]));
    console.log(`${out}: ${result.lines.length} answer(s)${result.crash ? ', a crash' : ''}${result.hang ? ', a hang' : ''}`);
  });
  return 0;
}
