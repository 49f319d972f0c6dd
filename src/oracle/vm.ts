// Boots the kernel that kernel/build.sh built in QEMU and runs
// either the kernel's own hmm-tests (runSelftest) or a runner program (runProgram). A kernel oops
// or hang is a result: the boot ends, the case is reported with the oops' first lines, and the
// cases after it run in a new boot. QEMU runs as a child process; nothing here blocks.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadArtifacts, type KernelArtifacts } from './artifacts';
import { newcArchive } from './cpio';
import { joinProgram, splitProgram, type ProgramCase } from './program';
import { accountBoot, type CaseOutcome, parseResultStream } from './results';
import { parseTap, type TapReport } from './tap';

export type Accel = 'tcg' | 'kvm';

/**
 * The kernel command line. `oops=panic panic=-1` with QEMU's -no-reboot: an oops ends the VM at
 * once (otherwise it hangs with the driver's mutex held). memmap reserves 2 × 256 MiB of physical
 * memory that test_hmm turns into the coherent devices hmm_dmirror2/3 (the `$` is literal: no
 * shell sees this). norandmaps: the same mmap placement every boot.
 */
export function kernelCommandLine(mode: 'selftest' | 'runner', opLimitMs?: number): string {
  return [
    'console=ttyS0', 'oops=panic', 'panic=-1', 'norandmaps',
    'memmap=512M$0x40000000', 'test_hmm.spm_addr_dev0=0x40000000', 'test_hmm.spm_addr_dev1=0x50000000',
    `hmm.mode=${mode}`, ...(opLimitMs !== undefined ? [`hmm.op_limit_ms=${opLimitMs}`] : []),
  ].join(' ');
}

export interface QemuFiles {
  readonly bzImage: string;
  readonly initrd: string;
  /** ttyS0: kernel messages. */
  readonly consoleFile: string;
  /** ttyS1: the results channel. */
  readonly resultsFile: string;
}

export function qemuArgs(f: QemuFiles, cmdline: string, accel: Accel): string[] {
  for (const p of [f.consoleFile, f.resultsFile]) {
    // QEMU's option parser splits on commas.
    if (p.includes(',')) throw new Error(`qemu: a path with a comma cannot be a -serial file: ${p}`);
  }
  return [
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    ...(accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg', '-cpu', 'max']),
    '-smp', '2', '-m', '2G',
    '-kernel', f.bzImage, '-initrd', f.initrd, '-append', cmdline,
    '-serial', `file:${f.consoleFile}`, '-serial', `file:${f.resultsFile}`,
  ];
}

export interface BootOptions {
  /**
   * QEMU is killed when its results channel has not grown for this long (a kernel hang the
   * runner's own per-op limit cannot report); default 90 s. A long program is not a hang.
   */
  readonly stallMs?: number;
  /** Wall-clock limit of one boot whatever the progress; default 1 hour. */
  readonly timeoutMs?: number;
  readonly accel?: Accel;
  readonly artifacts?: KernelArtifacts;
  readonly qemu?: string;
}

export interface Boot {
  readonly console: string;
  readonly results: string;
  readonly timedOut: boolean;
  readonly ms: number;
  readonly accel: Accel;
}

const DEFAULT_QEMU = 'qemu-system-x86_64';
const DEFAULT_STALL_MS = 90_000;
/** kernel/init's default for hmm.op_limit_ms. */
const DEFAULT_OP_LIMIT_MS = 10_000;
const DEFAULT_BOOT_TIMEOUT_MS = 3_600_000;

/** One boot: base initramfs + `extra` (a second cpio archive, or none), results read at the end. */
async function boot(mode: 'selftest' | 'runner', extra: Buffer | undefined, accel: Accel, o: BootOptions & { opLimitMs?: number }): Promise<Boot> {
  const a = o.artifacts ?? loadArtifacts();
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'hmm-vm-'));
  try {
    const files: QemuFiles = {
      bzImage: a.bzImage,
      initrd: extra ? path.join(dir, 'initrd.cpio') : a.initramfs,
      consoleFile: path.join(dir, 'console.txt'),
      resultsFile: path.join(dir, 'results.txt'),
    };
    if (extra) {
      // The kernel unpacks concatenated archives: base image, then the program.
      await fs.promises.writeFile(files.initrd, Buffer.concat([await fs.promises.readFile(a.initramfs), extra]));
    }
    const args = qemuArgs(files, kernelCommandLine(mode, o.opLimitMs), accel);
    const t0 = Date.now();
    const timedOut = await runQemu(o.qemu ?? DEFAULT_QEMU, args, files.resultsFile,
      // Longer than the runner's own per-op limit, so that it reports a hang itself when it can.
      o.stallMs ?? Math.max(DEFAULT_STALL_MS, (o.opLimitMs ?? DEFAULT_OP_LIMIT_MS) + 30_000),
      o.timeoutMs ?? DEFAULT_BOOT_TIMEOUT_MS);
    const ms = Date.now() - t0;
    const read = (f: string): Promise<string> => fs.promises.readFile(f, 'utf8').catch(() => '');
    return { console: await read(files.consoleFile), results: await read(files.resultsFile), timedOut, ms, accel };
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

/**
 * Runs QEMU to its end; kills it when `progressFile` stops growing for `stallMs` or at
 * `timeoutMs`. Resolves true when it was killed.
 */
function runQemu(qemu: string, args: string[], progressFile: string, stallMs: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = spawn(qemu, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let killed = false;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      if (stderr.length < 8192) stderr += s;
    });
    const kill = (): void => {
      killed = true;
      child.kill('SIGKILL');
    };
    const t0 = Date.now();
    let size = -1;
    let grewAt = t0;
    const timer = setInterval(() => {
      fs.promises.stat(progressFile).then((st) => st.size, () => 0).then((n) => {
        const now = Date.now();
        if (n !== size) {
          size = n;
          grewAt = now;
        }
        if (now - grewAt > stallMs || now - t0 > timeoutMs) kill();
      }, () => undefined);
    }, 1000);
    child.on('error', (e) => {
      clearInterval(timer);
      reject(new Error(`cannot run ${qemu}: ${e.message} (kernel/build.sh installs qemu-system-x86)`));
    });
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      if (killed) resolve(true);
      else if (code === 0) resolve(false);
      else reject(new Error(`${qemu} failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`));
    });
  });
}

let accelChoice: Promise<Accel> | undefined;

/**
 * TCG unless the CPU has hardware virtualisation (vmx/svm in /proc/cpuinfo: /dev/kvm alone is not
 * enough, a nested software hypervisor offers it and crawls) and a probe boot under KVM works.
 * HMM_KERNEL_ACCEL=tcg|kvm forces the choice.
 */
export function chooseAccel(o: BootOptions = {}): Promise<Accel> {
  const forced = process.env.HMM_KERNEL_ACCEL;
  if (forced === 'tcg' || forced === 'kvm') return Promise.resolve(forced);
  accelChoice ??= (async (): Promise<Accel> => {
    const cpuinfo = await fs.promises.readFile('/proc/cpuinfo', 'utf8').catch(() => '');
    if (!/^flags\s*:.*\b(vmx|svm)\b/m.test(cpuinfo)) return 'tcg';
    try {
      await fs.promises.access('/dev/kvm', fs.constants.R_OK | fs.constants.W_OK);
      const b = await boot('runner', newcArchive([{ name: 'prog.txt', data: Buffer.from('hmm-runner-program 1\n') }]),
        'kvm', { ...o, stallMs: 30_000, timeoutMs: 30_000 });
      return !b.timedOut && /^bye$/m.test(b.results) ? 'kvm' : 'tcg';
    } catch {
      return 'tcg';
    }
  })();
  return accelChoice;
}

export interface SelftestResult extends TapReport {
  /** hmm-tests' exit status as init reported it, if it did. */
  readonly exitCode?: number;
  readonly console: string;
  readonly output: string;
  readonly ms: number;
  readonly accel: Accel;
}

/** Boots the kernel's own hmm-tests and parses its TAP. */
export async function runSelftest(o: BootOptions = {}): Promise<SelftestResult> {
  const accel = o.accel ?? await chooseAccel(o);
  const b = await boot('selftest', undefined, accel, o);
  if (b.timedOut) throw new Error(`hmm-tests did not finish within the time limit; console:\n${b.console.split('\n').slice(-15).join('\n')}`);
  const m = /^# hmm-init: hmm-tests exit (\d+)/m.exec(b.results);
  return {
    ...parseTap(b.results), ...(m ? { exitCode: Number(m[1]) } : {}),
    console: b.console, output: b.results, ms: b.ms, accel,
  };
}

export interface ProgramOptions extends BootOptions {
  /** The runner's limit per op (it then reports `hang N`); default 10 s. */
  readonly opLimitMs?: number;
  /** Called after each boot (progress). */
  readonly onBoot?: (boot: Boot, finished: readonly CaseOutcome[], remaining: number) => void;
}

export interface ProgramResult {
  /** Per case id, in program order. */
  readonly cases: ReadonlyMap<string, CaseOutcome>;
  readonly boots: number;
  readonly ms: number;
  readonly accel: Accel;
}

/** Runs a runner program; after an oops or hang in a case, boots again with the cases after it. */
/** Boots in a row whose runner never started before runProgram gives up (an infrastructure failure). */
export const MAX_FAILED_STARTS = 2;

export async function runProgram(programText: string, o: ProgramOptions = {}): Promise<ProgramResult> {
  let remaining: ProgramCase[] = splitProgram(programText);
  const accel = o.accel ?? await chooseAccel(o);
  const cases = new Map<string, CaseOutcome>();
  const t0 = Date.now();
  let boots = 0;
  let failedStarts = 0;
  while (remaining.length > 0) {
    const text = joinProgram(remaining);
    const b = await boot('runner', newcArchive([{ name: 'prog.txt', data: Buffer.from(text) }]), accel, o);
    boots++;
    // A boot whose runner never started (a loaded host can make a TCG guest panic in its timer
    // check) is booted again, at most MAX_FAILED_STARTS times in a row; accountBoot throws when a
    // boot makes no progress otherwise, so this loop ends.
    if (!parseResultStream(b.results).header && ++failedStarts <= MAX_FAILED_STARTS) {
      o.onBoot?.(b, [], remaining.length);
      continue;
    }
    failedStarts = 0;
    const acc = accountBoot(remaining, b);
    for (const c of acc.finished) cases.set(c.id, c);
    remaining = acc.remaining;
    o.onBoot?.(b, acc.finished, remaining.length);
  }
  return { cases, boots, ms: Date.now() - t0, accel };
}
