// runScriptTextAsync: the runner in slices for the extension host ("Run Script Headless"): the
// same result as runScriptText, other work gets turns while it runs, and it can be cancelled.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runScriptText, runScriptTextAsync } from '../src/hmm/lang/runner';

const root = path.resolve(__dirname, '../..');
const RUNAWAY = `a = mmap 1 page rw
repeat 100000000 {
  write a = i
}
`;

describe('runScriptTextAsync (headless runs in slices)', () => {
  it('gives the same result as runScriptText', async () => {
    const text = fs.readFileSync(path.join(root, 'examples', '08-streaming-prefetch.hmm'), 'utf8');
    const sync = runScriptText('08.hmm', text);
    const sliced = await runScriptTextAsync('08.hmm', text);
    assert.equal(sliced.cancelled, false);
    assert.equal(sliced.error, sync.error);
    assert.equal(sliced.statements, sync.statements);
    assert.equal(sliced.events.length, sync.events.length);
    assert.equal(sliced.residency, sync.residency);
    assert.equal(sliced.report, sync.report);
  });

  it('a runaway script lets other work run, reports progress, and stops when cancelled', async () => {
    const abort = new AbortController();
    let turns = 0;
    const progress: number[] = [];
    const other = setInterval(() => {
      turns++;
      if (turns === 3) abort.abort();
    }, 1);
    try {
      const run = await runScriptTextAsync('runaway.hmm', RUNAWAY, { signal: abort.signal, progress: (n) => progress.push(n) });
      assert.equal(run.cancelled, true);
      assert.ok(turns >= 3, 'the timer ran while the script did');
      assert.ok(progress.length > 0 && progress.every((n, i) => i === 0 || n >= progress[i - 1]!), `progress: ${progress.join(', ')}`);
      assert.ok(run.statements > 0 && run.statements < 100_000_000, `${run.statements} statements`);
      assert.match(run.error ?? '', /^cancelled after \d+ statements$/);
      assert.match(run.residency, /a \(1 page/);
    } finally {
      clearInterval(other);
    }
  });
});
