// Layer: tests (the fuzz suite's short run, part of `npm test`). Random and mutated scripts
// through the parser, checker and interpreter (in process and through hmm-sim), and random
// request sequences against the adapter process; fixed seeds, so a failure replays exactly.
// The long run is `npm run fuzz` (test/fuzz/run.ts).

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as fc from 'fast-check';
import { checkCli, checkDapSession, checkScript, dapStep, newScriptCounts } from './fuzz/check';
import { anyScript, corpus, grammarProgram, pathological } from './fuzz/scripts';

const SEED = 20261206;

describe('fuzz (short run, fixed seed)', function () {
  this.timeout(240000);
  let dir = '';
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hmm-fuzz-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('scripts of every kind get diagnostics or file:line:col runtime errors, never a crash', () => {
    const counts = newScriptCounts();
    fc.assert(fc.property(anyScript(corpus()), (text) => checkScript(text, counts)), { seed: SEED, numRuns: 200 });
  });

  it('pathological scripts (deep nesting, huge mappings, endless loops) end within their budget', () => {
    const counts = newScriptCounts();
    fc.assert(fc.property(pathological, (text) => checkScript(text, counts)), { seed: SEED, numRuns: 12 });
  });

  it('hmm-sim exits 0, 1 or 2 with positioned messages only', () => {
    const file = path.join(dir, 'f.hmm');
    fc.assert(fc.property(fc.oneof(grammarProgram, pathological), (text) => checkCli(file, text)), { seed: SEED, numRuns: 6 });
  });

  it('the adapter answers every request of random sequences (valid, invalid, out of order) and stays alive', async () => {
    const program = path.join(dir, 'dap.hmm');
    fs.writeFileSync(program, [
      'device gpu0', 'a = mmap 16 pages rw', 'b = mmap 1023 GiB rw', 'kernel k(x) {', '  write x = i', '}',
      'repeat 50 as k {', '  write a = k', '  launch k(a) on gpu0', '  wait all', '  migrate a to system', '}', 'write b = i',
    ].join('\n'));
    await fc.assert(fc.asyncProperty(fc.array(dapStep(program), { minLength: 5, maxLength: 25 }), fc.boolean(), async (steps, stopOnEntry) => {
      await checkDapSession(program, { stopOnEntry }, steps);
    }), { seed: SEED, numRuns: 6 });
  });
});
