// Layer: test tools (test/fuzz). The fuzz suite's long run: `npm run fuzz [-- --minutes N --seed S]`.
// Scripts in process (every kind), a sample through hmm-sim, and DAP request sequences against
// the adapter process, until the time is up; prints the counts and every failure (with the
// fast-check seed and path that replay it) and exits 1 when anything was found.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as fc from 'fast-check';
import { checkCli, checkDapSession, checkScript, dapStep, newScriptCounts } from './check';
import { anyScript, corpus, grammarProgram, pathological } from './scripts';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

async function main(): Promise<number> {
  const minutes = option('minutes', 15);
  const seed = option('seed', Date.now() % 2 ** 31);
  const until = Date.now() + minutes * 60000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hmm-fuzz-'));
  const counts = newScriptCounts();
  let cliRuns = 0;
  let sessions = 0;
  let requests = 0;
  const failures: string[] = [];
  const sources = corpus();
  const program = path.join(dir, 'dap.hmm');
  fs.writeFileSync(program, [
    'device gpu0', 'a = mmap 16 pages rw', 'b = mmap 1023 GiB rw', 'kernel k(x) {', '  write x = i', '}',
    'repeat 50 as k {', '  write a = k', '  launch k(a) on gpu0', '  wait all', '  migrate a to system', '}', 'write b = i',
  ].join('\n'));
  /** One fast-check batch; a failure is recorded with what replays it. */
  const batch = async (what: string, run: (s: number) => Promise<void> | void, s: number): Promise<void> => {
    try {
      await run(s);
    } catch (e) {
      failures.push(`${what} (seed ${s}): ${(e as Error).message.split('\n').slice(0, 12).join('\n')}`);
    }
  };
  let round = 0;
  while (Date.now() < until) {
    const s = (seed + round++) % 2 ** 31;
    await batch('scripts', (x) => fc.assert(fc.property(anyScript(sources), (t) => checkScript(t, counts)), { seed: x, numRuns: 200 }), s);
    await batch('pathological scripts', (x) => fc.assert(fc.property(pathological, (t) => checkScript(t, counts)), { seed: x, numRuns: 4 }), s);
    await batch('hmm-sim', (x) => fc.assert(fc.property(fc.oneof(grammarProgram, pathological), (t) => { checkCli(path.join(dir, 'f.hmm'), t); cliRuns++; }), { seed: x, numRuns: 3 }), s);
    await batch('DAP', (x) => fc.assert(fc.asyncProperty(fc.array(dapStep(program), { minLength: 5, maxLength: 40 }), fc.boolean(), async (steps, stopOnEntry) => {
      requests += await checkDapSession(program, { stopOnEntry }, steps);
      sessions++;
    }), { seed: x, numRuns: 3 }), s);
    process.stdout.write(`\r${Math.round((until - Date.now()) / 1000)} s left: ${counts.scripts} scripts, ${sessions} sessions, ${failures.length} failures   `);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(`\nfuzz: ${minutes} min from seed ${seed}: ${counts.scripts} scripts (${counts.rejected} rejected, ${counts.runtimeErrors} runtime errors of which ${counts.stopped} stopped by the budget), ` +
    `${counts.statements} statements run, ${cliRuns} hmm-sim runs, ${sessions} DAP sessions with ${requests} requests; ${failures.length} failure(s)`);
  for (const f of failures) console.log(`\n${f}`);
  return failures.length > 0 ? 1 : 0;
}

main().then((code) => { process.exitCode = code; }, (e: unknown) => { console.error(e); process.exitCode = 2; });
