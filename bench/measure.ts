// Layer: benchmark (bench/). Measuring helpers: statistics, timed child processes with their
// peak RSS, and the report's layout (figure, value, baseline, ratio; a verdict per goal).

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The p-th percentile (0..100), nearest rank. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export function fmt(n: number, digits = 1): string {
  if (!Number.isFinite(n)) return 'n/a';
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export const MiB = 2 ** 20;

export function msSince(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** A directory for the run's scripts and the RSS probe, removed at the end. */
export class Scratch {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hmm-bench-'));
  /**
   * Preloaded into measured Node processes: prints the peak RSS (KiB) as the process exits.
   * VmHWM, not getrusage's maxRSS: Linux carries maxRSS over an exec, so a child would report
   * the bench process's own size.
   */
  readonly probe = this.file('rss-probe.cjs', [
    "process.on('exit', () => {",
    "  const fs = require('fs');",
    "  let kib = process.resourceUsage().maxRSS;",
    "  try { kib = Number(/VmHWM:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]); } catch {}",
    "  fs.writeSync(2, '\\n#bench-maxrss ' + kib + '\\n');",
    '});',
    '',
  ].join('\n'));

  file(name: string, text: string): string {
    const f = path.join(this.dir, name);
    fs.writeFileSync(f, text);
    return f;
  }

  dispose(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface ProcessRun {
  /** Wall time from spawn to exit. */
  readonly ms: number;
  /** Peak resident set of the process (bytes), from getrusage at exit. */
  readonly peakRss: number;
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run `node args...` to its end, timed from spawn to exit, with the probe preloaded. */
export function runNode(scratch: Scratch, args: readonly string[]): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, ['--require', scratch.probe, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = msSince(t0);
      const m = /#bench-maxrss (\d+)/.exec(stderr);
      resolve({ ms, peakRss: m ? Number(m[1]) * 1024 : NaN, code, stdout, stderr: stderr.replace(/\n?#bench-maxrss \d+\n/, '') });
    });
  });
}

/** Peak RSS of a running process (VmHWM), bytes; NaN where /proc is not there. */
export function peakRssOf(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

// ---- the report ----------------------------------------------------------------------------

export function heading(title: string, goal: string): void {
  console.log('');
  console.log(`== ${title}`);
  console.log(`   goal: ${goal}`);
}

/** One figure: its value, and where it has one, the baseline it is judged against and the ratio. */
export function figure(name: string, value: string, baseline = '', ratio = ''): void {
  console.log(`   ${name.padEnd(52)} ${value.padStart(14)} ${baseline.padStart(26)} ${ratio.padStart(8)}`);
}

export function note(text: string): void {
  console.log(`     ${text}`);
}

export interface Check {
  readonly ok: boolean;
  readonly what: string;
}

/** The goal's one-line verdict: met only when every check is. */
export function verdict(checks: readonly Check[]): void {
  const failed = checks.filter((c) => !c.ok);
  const unknown = checks.some((c) => c.what.includes('n/a'));
  const word = unknown ? 'NOT MEASURED' : failed.length === 0 ? 'MET' : 'NOT MET';
  const detail = failed.length === 0 ? checks.map((c) => c.what).join('; ') : failed.map((c) => c.what).join('; ');
  console.log(`   verdict: ${word} — ${detail}`);
}

export function ratio(x: number, base: number): string {
  return Number.isFinite(x / base) ? `${fmt(x / base, 2)}×` : 'n/a';
}
