// Layer: test helpers (test/fuzz). Imports the language runner (in process), and runs
// dist/hmm-sim.js and dist/adapter.js as child processes.
// What the fuzz suite asserts of one script or one DAP session: a clear answer every time, in
// bounded time and memory — diagnostics and runtime errors as `file:line:col: message`, never
// a JavaScript error, an internal error or an invariant violation; every request answered.

import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import * as fc from 'fast-check';
import { runScriptText } from '../../src/hmm/lang/runner';

const ROOT = path.resolve(__dirname, '../../..');
export const ADAPTER = path.join(ROOT, 'dist', 'adapter.js');
const CLI = path.join(ROOT, 'dist', 'hmm-sim.js');

/** Per script in process: the budget the runner enforces (so "bounded" is the tool's doing). */
export const SCRIPT_LIMITS = { timeoutMs: 2000, maxMemoryBytes: 1536 * 2 ** 20 };

export interface ScriptCounts { scripts: number; statements: number; rejected: number; runtimeErrors: number; stopped: number }

export const newScriptCounts = (): ScriptCounts => ({ scripts: 0, statements: 0, rejected: 0, runtimeErrors: 0, stopped: 0 });

const POSITIONED = /^f\.hmm:\d+:\d+: \S/;

/** Parse, check and run one script in process; throws (an assertion) on anything unclear. */
export function checkScript(text: string, counts: ScriptCounts): void {
  const run = runScriptText('f.hmm', text, { limits: SCRIPT_LIMITS });
  counts.scripts++;
  counts.statements += run.statements;
  for (const d of run.diagnostics) {
    assert.ok(d.line >= 1 && d.col >= 1 && d.message.length > 0, `diagnostic without a position: ${JSON.stringify(d)}`);
  }
  if (run.diagnostics.length > 0) {
    counts.rejected++;
    return;
  }
  if (run.error === undefined) return;
  counts.runtimeErrors++;
  if (/: stopped: /.test(run.error)) counts.stopped++;
  assert.match(run.error, POSITIONED, 'runtime error without file:line:col');
  assert.doesNotMatch(run.error, /internal error|invariant violated/, 'the tools broke, not the script');
}

/** The CLI on one script: exit 0, 1 or 2 and only `file:line:col:` lines on stderr. */
export function checkCli(file: string, text: string): void {
  fs.writeFileSync(file, text);
  const r = spawnSync(process.execPath, [CLI, 'run', '--timeout', '3', '--max-memory', '1536', file], { encoding: 'utf8', timeout: 30000 });
  assert.ok(r.error === undefined, `hmm-sim did not end: ${String(r.error)}`);
  assert.ok(r.status === 0 || r.status === 1 || r.status === 2, `hmm-sim exit ${String(r.status)} (${String(r.signal)}): ${r.stderr.slice(0, 400)}`);
  const base = path.basename(file).replace(/\./g, '\\.');
  for (const line of r.stderr.split('\n').filter((l) => l !== '')) {
    assert.match(line, new RegExp(`${base}:\\d+:\\d+: |${base}: cannot read`), `stderr line without a position: ${line}`);
    assert.doesNotMatch(line, /internal error|invariant violated/, line);
  }
}

// ---- DAP ----------------------------------------------------------------------------------------

/** A request to send: its command and arguments (valid, invalid or nonsense). */
export interface DapStep { command: string; args: unknown; pauseAfterMs?: number }

const hostileValue = fc.oneof(fc.constant(null), fc.constant(-50000000), fc.constant(50000000), fc.constant(1.5), fc.string({ maxLength: 20 }),
  fc.constant({}), fc.constant([]), fc.boolean(), fc.constant('x'.repeat(20000)));

/** Requests a client may send at any time, with arguments that are sometimes right. */
export function dapStep(program: string): fc.Arbitrary<DapStep> {
  const thread = fc.oneof(fc.constant(1), fc.integer({ min: -5, max: 200000 }), hostileValue);
  const line = fc.oneof(fc.integer({ min: 0, max: 30 }), hostileValue);
  const cond = fc.oneof(fc.constant(undefined), fc.constantFrom('k > 2', 'last.rc == EFAULT', 'a[0', '', 'gpu0 a[0..4] write'), hostileValue);
  const bp = fc.record({ line, condition: cond, hitCondition: fc.oneof(fc.constant(undefined), fc.constantFrom('2', '% 3', 'x'), hostileValue), logMessage: fc.oneof(fc.constant(undefined), fc.constant('k={k}'), hostileValue) }, { requiredKeys: ['line'] });
  const ref = fc.oneof(fc.integer({ min: 0, max: 40 }), hostileValue);
  const step = (command: string, args: fc.Arbitrary<unknown>): fc.Arbitrary<DapStep> => args.map((a) => ({ command, args: a }));
  return fc.oneof(
    step('setBreakpoints', fc.oneof(fc.record({ source: fc.constant({ path: program }), breakpoints: fc.array(bp, { maxLength: 4 }) }), fc.record({ source: hostileValue, breakpoints: hostileValue }))),
    step('setExceptionBreakpoints', fc.record({ filters: fc.oneof(fc.subarray(['failure', 'deviceFault', 'notifier', 'invariant', 'bogus']), hostileValue), filterOptions: fc.array(fc.record({ filterId: fc.oneof(fc.constantFrom('deviceFault', 'notifier', 'bogus'), hostileValue), condition: cond }), { maxLength: 2 }) })),
    step('setDataBreakpoints', fc.record({ breakpoints: fc.oneof(fc.array(fc.record({ dataId: fc.oneof(fc.constantFrom('a', 'b', 'a[3]', 'a[2..9]', 'zz'), hostileValue) }), { maxLength: 2 }), hostileValue) })),
    step('dataBreakpointInfo', fc.record({ name: fc.oneof(fc.constantFrom('a', 'b', '[3]'), hostileValue), variablesReference: ref })),
    step('continue', fc.record({ threadId: thread })), step('next', fc.record({ threadId: thread })), step('stepIn', fc.record({ threadId: thread })),
    step('stepOut', fc.record({ threadId: thread })), step('stepBack', fc.record({ threadId: thread })), step('reverseContinue', fc.record({ threadId: thread })),
    fc.record({ threadId: thread }).chain((a) => fc.integer({ min: 0, max: 50 }).map((ms) => ({ command: 'pause', args: a, pauseAfterMs: ms }))),
    step('threads', fc.constant({})),
    step('stackTrace', fc.record({ threadId: thread, startFrame: fc.oneof(fc.nat(5), hostileValue), levels: fc.oneof(fc.nat(50), hostileValue) })),
    step('scopes', fc.record({ frameId: fc.oneof(fc.nat(1100), hostileValue) })),
    step('variables', fc.record({ variablesReference: ref, start: fc.oneof(fc.nat(100), hostileValue), count: fc.oneof(fc.nat(100), hostileValue) })),
    step('evaluate', fc.record({ expression: fc.oneof(fc.constantFrom('a', 'a[3]', 'page a[1]', 'why a[0]', 'events 100000000', 'residency', 'watch a', 'unwatch', 'report', 'last.rc', 'help', 'k'), hostileValue), context: fc.constantFrom('repl', 'hover', 'watch') })),
    step('completions', fc.record({ text: fc.oneof(fc.constantFrom('pa', 'a', ''), hostileValue), column: fc.oneof(fc.integer({ min: -1, max: 5 }), hostileValue) })),
    step('readMemory', fc.record({ memoryReference: fc.oneof(fc.constantFrom('a', '0x7f0000000000', '0x0', 'b[1]'), hostileValue), offset: fc.oneof(fc.integer({ min: -8192, max: 1 << 30 }), hostileValue), count: fc.oneof(fc.nat(1 << 25), hostileValue) })),
    step('writeMemory', fc.record({ memoryReference: fc.oneof(fc.constantFrom('a', '0x7f0000000000'), hostileValue), offset: fc.oneof(fc.nat(8192), hostileValue), data: fc.oneof(fc.constantFrom('AAAA', '!!', ''), hostileValue) })),
    step('exceptionInfo', fc.record({ threadId: thread })),
    step('hmm/residency', fc.record({ mapping: fc.oneof(fc.constantFrom('a', 'b', 'zz'), hostileValue), start: fc.oneof(fc.nat(100), hostileValue), end: fc.oneof(fc.nat(100), hostileValue), maxRuns: fc.oneof(fc.nat(100), hostileValue) })),
    step('hmm/notifiers', fc.record({ since: fc.oneof(fc.integer({ min: -2, max: 100 }), hostileValue), limit: fc.oneof(fc.nat(100), hostileValue) })),
    step('hmm/migrations', fc.constant({})), step('hmm/lineEffects', fc.constant({})),
    step('restart', fc.oneof(fc.constant({}), hostileValue)),
    step('launch', fc.oneof(fc.constant({ program }), fc.record({ program: hostileValue }))),
    step('configurationDone', fc.constant({})),
    fc.string({ minLength: 1, maxLength: 8 }).chain((command) => hostileValue.map((args) => ({ command, args }))),
  );
}

/** Answers arrive within this long, whatever the request (a running replay or run included). */
export const ANSWER_MS = 5000;

async function answered(p: Promise<unknown>, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer to ${what} within ${ANSWER_MS} ms`)), ANSWER_MS); });
  try {
    await Promise.race([p.then(() => undefined, () => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One session: initialize, launch `program`, then `steps` in order, each answered (success or
 * error); at the end the adapter is alive (threads answered) and exits on disconnect.
 */
export async function checkDapSession(program: string, launchArgs: Record<string, unknown>, steps: readonly DapStep[]): Promise<number> {
  const dc = new DebugClient('node', ADAPTER, 'hmm');
  dc.defaultTimeout = ANSWER_MS;
  await dc.start();
  let requests = 0;
  const proc = (): { exitCode: number | null; kill(): void } | null | undefined => (dc as unknown as { _adapterProcess?: { exitCode: number | null; kill(): void } | null })._adapterProcess;
  try {
    await answered(dc.initializeRequest(), 'initialize');
    await answered(dc.launchRequest({ program, ...launchArgs } as DebugProtocol.LaunchRequestArguments), 'launch');
    await answered(dc.configurationDoneRequest(), 'configurationDone');
    requests += 3;
    for (const s of steps) {
      await answered(dc.customRequest(s.command, s.args), `${s.command} ${JSON.stringify(s.args)?.slice(0, 200)}`);
      requests++;
      if (s.pauseAfterMs !== undefined) await new Promise((r) => setTimeout(r, s.pauseAfterMs));
      assert.equal(proc()?.exitCode ?? null, null, `the adapter exited after ${s.command} ${JSON.stringify(s.args)?.slice(0, 200)}`);
    }
    await answered(dc.threadsRequest(), 'the closing threads request');
    requests++;
    assert.equal(proc()?.exitCode ?? null, null, 'the adapter exited');
  } finally {
    const stopped = await Promise.race([dc.stop().then(() => true, () => false), new Promise<boolean>((r) => setTimeout(() => r(false), 3000))]);
    if (!stopped) proc()?.kill();
  }
  return requests;
}
