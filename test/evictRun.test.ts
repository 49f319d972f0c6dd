// Layer: eviction a run at a time (src/hmm/evictRun.ts) against page-by-page eviction. fast-check
// generates scripts whose GPU kernels evict (device memory smaller than what they touch) over
// mappings that pages are missing from, written with different patterns and protections, forked,
// mremapped, mirrored by a second device, kernels that read, write or do atomics over pages with
// advice (mapped remotely beside local ones; the fault batches' run-wise paths in gpu.ts): each
// runs with range batching on and forced off, and the outcome, the event stream, the notifier
// callbacks, the page tables and the frames must be the same. The runs must have been taken (a
// counter of the pages they evicted).

import * as assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { evictedInRuns } from '../src/hmm/evictRun';
import { assertBothWaysAgree, runBoth } from './reference/batchingOutcome';

type Op =
  | { readonly k: 'write' | 'read' | 'migDev' | 'devRead' | 'dontneed' | 'ro' | 'rw' | 'stream' | 'streamWrite' | 'streamAtomic' | 'advise' | 'other'; readonly m: number; readonly s: number; readonly n: number; readonly K: number }
  | { readonly k: 'fork' | 'mremap'; readonly m: number; readonly s: number; readonly n: number; readonly K: number };

const opArb: fc.Arbitrary<Op> = fc.record({
  k: fc.constantFrom('write', 'write', 'read', 'migDev', 'devRead', 'dontneed', 'ro', 'rw', 'stream', 'stream', 'stream', 'streamWrite', 'streamAtomic', 'advise', 'other', 'fork', 'mremap'),
  m: fc.nat(2), s: fc.nat(3000), n: fc.nat(3000), K: fc.integer({ min: 0, max: 5 }),
});

interface Script {
  readonly twoDevices: boolean;
  readonly capacity: number;
  readonly pages: readonly number[];
  readonly ops: readonly Op[];
}

const scriptArb: fc.Arbitrary<Script> = fc.record({
  twoDevices: fc.boolean(),
  capacity: fc.integer({ min: 16, max: 1200 }),
  pages: fc.array(fc.integer({ min: 1, max: 2600 }), { minLength: 1, maxLength: 3 }),
  ops: fc.array(opArb, { minLength: 1, maxLength: 12 }),
});

function render(sc: Script): string {
  const out = [`device gpu0 memory ${sc.capacity} pages`];
  if (sc.twoDevices) out.push('device gpu1 memory 4096 pages');
  out.push('kernel stream(x) {', '  read x', '}', 'kernel scribble(x) {', '  write x = i + 7', '}', 'kernel count(x) {', '  atomic x', '}');
  sc.pages.forEach((p, i) => out.push(`m${i} = mmap ${p} pages rw`));
  let forked = false;
  let jobs = 0;
  let moved = 0;
  for (const op of sc.ops) {
    const mi = op.m % sc.pages.length;
    const pages = sc.pages[mi]!;
    const s = op.s % pages;
    const e = s + 1 + (op.n % (pages - s));
    const r = `m${mi}[${s}..${e}]`;
    switch (op.k) {
      case 'fork':
        if (!forked) out.push('fork c');
        forked = true;
        break;
      case 'mremap':
        // A grow that cannot stay in place moves the pages, which keep their offsets.
        out.push(`n${moved++} = mremap ${r} to ${e - s + 600} pages maymove`);
        break;
      case 'write': out.push(`write ${r} = ${op.K === 0 ? '0' : `i + ${op.K}`}`); break;
      case 'read': out.push(`read ${r}`); break;
      case 'migDev': out.push(`migrate ${r} to gpu0`); break;
      case 'devRead': out.push(`gpu0 read ${r}`); break;
      case 'other': out.push(sc.twoDevices ? `gpu1 read ${r}` : `gpu0 write ${r} = i + ${op.K}`); break;
      case 'dontneed': out.push(`madvise ${r} dontneed`); break;
      case 'ro': out.push(`mprotect ${r} r`); break;
      case 'rw': out.push(`mprotect ${r} rw`); break;
      case 'stream': out.push(`launch stream(${op.K % 2 === 0 ? `m${mi}` : r}) on gpu0 as j${jobs}`, `wait j${jobs}`); jobs++; break;
      case 'streamWrite': out.push(`launch scribble(${r}) on gpu0 as j${jobs}`, `wait j${jobs}`); jobs++; break;
      case 'streamAtomic': out.push(`launch count(${r}) on gpu0 as j${jobs}`, `wait j${jobs}`); jobs++; break;
      // Pages a kernel then maps remotely (read-mostly, accessed-by, preferred elsewhere) beside local ones.
      case 'advise': out.push(`advise ${r} ${['read-mostly', 'accessed-by gpu0', 'preferred system', 'unset', 'preferred gpu0'][op.K % 5]}`); break;
    }
  }
  return out.join('\n') + '\n';
}

describe('eviction a run at a time (evictRun.ts) does what page-by-page eviction does', () => {
  it('a kernel streaming over twice its device memory, with a mirror (fixed case)', () => {
    const before = evictedInRuns();
    const text = [
      'device gpu0 memory 1024 pages', 'kernel stream(x) {', '  read x', '}', 'a = mmap 2600 pages rw', 'write a = i + 1',
      'gpu0 read a[..700]', 'madvise a[100..103] dontneed', 'mprotect a[600..1100] r',
      'launch stream(a) on gpu0 as j', 'wait j', 'expect a[..100] == i + 1', '',
    ].join('\n');
    const { batched, perPage } = runBoth(text);
    assert.deepEqual(batched, perPage);
    assert.equal((batched as { error: unknown }).error, undefined);
    assert.ok(evictedInRuns() - before > 1000, `${evictedInRuns() - before} pages evicted in runs`);
  });

  it('pages a forked child maps too, or whose offsets a moved range covers, go page by page (fixed cases)', () => {
    for (const text of [
      ['device gpu0 memory 700 pages', 'kernel stream(x) {', '  read x', '}', 'a = mmap 1500 pages rw', 'write a = i + 1',
        'migrate a[..600] to gpu0', 'fork c', 'write a[300..320] = 5', 'migrate a[300..320] to gpu0', 'launch stream(a) on gpu0 as j', 'wait j', ''],
      // The parent's VMAs inserted anew after the fork: the walk visits the child's first, whose mirror loses entries.
      ['device gpu0 memory 700 pages', 'kernel stream(x) {', '  read x', '}', 'a = mmap 1500 pages rw', 'write a = i + 1', 'fork c',
        'as c {', '  gpu0 read a[..600]', '}', 'mprotect a[..700] r', 'mprotect a[..700] rw', 'write a[..600] = 5', 'migrate a[..600] to gpu0',
        'launch stream(a) on gpu0 as j', 'wait j', ''],
      ['device gpu0 memory 700 pages', 'kernel stream(x) {', '  read x', '}', 'a = mmap 1500 pages rw', 'write a = i + 1',
        'migrate a[..600] to gpu0', 'n = mremap a[100..300] to 900 pages maymove', 'b = mmap 1200 pages rw', 'gpu0 read b', 'launch stream(b) on gpu0 as j', 'wait j', ''],
    ]) {
      const { batched, perPage } = runBoth(text.join('\n'));
      assert.deepEqual(batched, perPage, text.join('\n'));
      assert.equal((batched as { error: unknown }).error, undefined);
    }
  });

  it('random scripts: the same outcome, events, callbacks, page tables and frames both ways', function () {
    this.timeout(240_000);
    const before = evictedInRuns();
    assertBothWaysAgree(scriptArb, render, { numRuns: 50, seed: 20261207 });
    assert.ok(evictedInRuns() - before > 0, 'no page was evicted in a run');
  });
});
