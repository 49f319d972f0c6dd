// Layer: equivalence of the range-batched kernel paths (src/hmm/batching.ts) with the per-page
// ones. fast-check generates random scripts over mappings that cross PTE pages and preemption
// points (private, shared, THP-eligible; CPU writes and reads, migrations both ways, device
// reads and writes, mprotect, dontneed, fork, a GPU kernel streaming over more than its
// device's memory) and runs each twice, batching allowed and forced off: the outcome, the event
// stream, the notifier callbacks, every page table and every frame in use must be the same.

import * as assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { PG_ANON, PG_ANON_EXCLUSIVE } from '../src/hmm/page';
import { Simulator } from '../src/hmm/simulator';
import { putPage, putPages } from '../src/hmm/swap';
import { assertBothWaysAgree, runBoth } from './reference/batchingOutcome';

interface Mapping {
  readonly name: string;
  readonly pages: number;
  readonly kind: 'private' | 'shared' | 'huge';
}

type Op =
  | { readonly k: 'write' | 'read' | 'migDev' | 'migSys' | 'devRead' | 'devWrite' | 'dontneed' | 'ro' | 'rw'; readonly m: number; readonly s: number; readonly n: number; readonly K: number }
  | { readonly k: 'fork' }
  | { readonly k: 'stream'; readonly m: number };

const mappingArb: fc.Arbitrary<Omit<Mapping, 'name'>> = fc.record({
  // Up to past one preemption point (4096 pages), crossing PTE pages (512).
  pages: fc.oneof(fc.integer({ min: 1, max: 1100 }), fc.integer({ min: 4000, max: 4700 })),
  kind: fc.constantFrom('private', 'private', 'private', 'shared', 'huge'),
});

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant('write' as const), m: fc.nat(2), s: fc.nat(5000), n: fc.nat(5000), K: fc.integer({ min: 0, max: 9 }) }) },
  {
    weight: 6,
    arbitrary: fc.record({
      k: fc.constantFrom('read' as const, 'migDev' as const, 'migSys' as const, 'devRead' as const, 'devWrite' as const, 'dontneed' as const, 'ro' as const, 'rw' as const),
      m: fc.nat(2), s: fc.nat(5000), n: fc.nat(5000), K: fc.integer({ min: 0, max: 9 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ k: 'fork' as const }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('stream' as const), m: fc.nat(2) }) },
);

interface Script {
  readonly coherent: boolean;
  readonly mappings: readonly Omit<Mapping, 'name'>[];
  readonly ops: readonly Op[];
}

const scriptArb: fc.Arbitrary<Script> = fc.record({
  coherent: fc.boolean(),
  mappings: fc.array(mappingArb, { minLength: 1, maxLength: 3 }),
  ops: fc.array(opArb, { minLength: 1, maxLength: 14 }),
});

function render(sc: Script): string {
  const maps: Mapping[] = sc.mappings.map((m, i) => ({ ...m, name: `m${i}` }));
  const total = maps.reduce((n, m) => n + m.pages, 0);
  // Device memory smaller than the mappings, so kernels evict.
  const out = [`device gpu0${sc.coherent ? ' coherent' : ''} memory ${Math.max(16, total >> 1)} pages`, 'kernel stream(x) {', '  read x', '}'];
  for (const m of maps) {
    out.push(m.kind === 'huge' ? `${m.name} = mmap ${Math.max(1, Math.ceil(m.pages / 512)) * 2} MiB rw huge` : `${m.name} = mmap ${m.pages} pages rw${m.kind === 'shared' ? ' shared' : ''}`);
  }
  let forked = false;
  let jobs = 0;
  for (const op of sc.ops) {
    if (op.k === 'fork') {
      if (forked) continue;
      forked = true;
      out.push('fork c');
      continue;
    }
    const m = maps[op.m % maps.length]!;
    const pages = m.kind === 'huge' ? Math.max(1, Math.ceil(m.pages / 512)) * 512 : m.pages;
    if (op.k === 'stream') {
      out.push(`launch stream(${m.name}) on gpu0 as j${jobs}`, `wait j${jobs}`);
      jobs++;
      continue;
    }
    const s = op.s % pages;
    const e = s + 1 + (op.n % (pages - s));
    const r = `${m.name}[${s}..${e}]`;
    switch (op.k) {
      case 'write': out.push(`write ${r} = ${op.K === 0 ? '0' : `i + ${op.K}`}`); break;
      case 'read': out.push(`read ${r}`); break;
      case 'migDev': out.push(`migrate ${r} to gpu0`); break;
      case 'migSys': out.push(`migrate ${r} to system`); break;
      case 'devRead': out.push(`gpu0 read ${r}`); break;
      case 'devWrite': out.push(`gpu0 write ${r} = i + ${op.K}`); break;
      case 'dontneed': out.push(`madvise ${r} dontneed`); break;
      case 'ro': out.push(`mprotect ${r} r`); break;
      case 'rw': out.push(`mprotect ${r} rw`); break;
    }
  }
  return out.join('\n') + '\n';
}

describe('range batching: the batched paths do what the per-page paths do', () => {
  it('a write over fresh memory crossing PTE pages and a preemption point (fixed case)', () => {
    const text = 'device gpu0\na = mmap 5000 pages rw\nwrite a[3..4500] = i\nread a[..5000]\nwrite a = i + 1\nexpect a == i + 1\n';
    const { batched, perPage } = runBoth(text);
    assert.deepEqual(batched, perPage);
    assert.equal((batched as { error: unknown }).error, undefined);
  });

  it('runs of pages still mapped after collect, of file pages, of chunks over two PTE pages, and of a GPU kernel over remote and local pages (fixed cases)', () => {
    for (const text of [
      // Pages the child still maps after the parent's collect (countCollected's still-mapped list).
      'device gpu0\nf = mmap 600 pages rw\nwrite f = i\nfork c\nas c {\n  migrate f[..300] to gpu0\n}\nmigrate f to gpu0\nmigrate f to system\n',
      // Shared memory is file-backed: its pages have no destination in device memory.
      'device gpu0\ns = mmap 600 pages rw shared\nwrite s = i\nmigrate s to gpu0\n',
      // Chunks that start off a PTE page's first slot, so each spans two PTE pages (finalize).
      'device gpu0\na = mmap 1500 pages rw\nwrite a = i\nmigrate a[300..1400] to gpu0\nmigrate a[250..1450] to system\nexpect a == i\n',
      'linux 6.12\ndevice gpu0\na = mmap 1500 pages rw\nwrite a[..1000] = i\nmigrate a[40..1490] to gpu0\nread a[500..520]\nmigrate a[30..1500] to system\nexpect a[..1000] == i\n',
      // A kernel faults on read-mostly pages (mapped remotely) and reads them, and pages migrated before (local).
      'device gpu0\nkernel k(x) {\n  read x\n}\na = mmap 1200 pages rw\nwrite a = i\nadvise a[..700] read-mostly\n' +
        'migrate a[700..1200] to gpu0\nlaunch k(a) on gpu0 as j\nwait j\n',
    ]) {
      const { batched, perPage } = runBoth(text);
      assert.deepEqual(batched, perPage, text);
    }
  });

  it('random scripts: the same outcome, events, callbacks, page tables and frames both ways', function () {
    this.timeout(240_000);
    assertBothWaysAgree(scriptArb, render, { numRuns: 60, seed: 20261206 });
  });
});

describe('range batching: the run helpers', () => {
  it('putPages frees as putPage does, and a page put twice fails as putPage would', () => {
    const one = new Simulator();
    const many = new Simulator();
    const a = new Int32Array(4);
    const b = new Int32Array(4);
    one.frames.allocSystemRun(4, PG_ANON, a);
    many.frames.allocSystemRun(4, PG_ANON, b);
    assert.deepEqual([...a], [...b]);
    for (const p of [a[2]!, a[0]!, a[1]!]) putPage(one, p);
    putPages(many, Int32Array.of(b[2]!, b[0]!, b[1]!), 3);
    assert.deepEqual(many.frames.save().freeSystem, one.frames.save().freeSystem);
    assert.equal(many.frames.systemInUse, one.frames.systemInUse);
    for (let k = 0; k < 4; k++) assert.equal(many.frames.zone.get(b[k]!), one.frames.zone.get(a[k]!));
    assert.throws(() => putPages(many, Int32Array.of(b[3]!, b[3]!), 2), /put_page on a free frame/);
  });

  it('putPages over runs of frames one after the other (read a run at a time) frees as putPage does', () => {
    const one = new Simulator();
    const many = new Simulator();
    const a = new Int32Array(64);
    const b = new Int32Array(64);
    one.frames.allocSystemRun(64, PG_ANON, a);
    many.frames.allocSystemRun(64, PG_ANON, b);
    assert.deepEqual([...a], [...b]);
    // A page with a second reference inside a run, one with other flags inside another.
    for (const sim of [one, many]) {
      sim.frames.refcount.set(a[20]!, 2);
      sim.frames.flags.set(a[45]!, PG_ANON | PG_ANON_EXCLUSIVE);
    }
    // Up, then down, then single pages, then a run with a page put earlier in the same call.
    const order = [...Array.from({ length: 30 }, (_, k) => k), ...Array.from({ length: 20 }, (_, k) => 59 - k), 30, 35, 31];
    for (const k of order) putPage(one, a[k]!);
    putPages(many, Int32Array.from(order, (k) => b[k]!), order.length);
    assert.deepEqual(many.frames.save().freeSystem, one.frames.save().freeSystem);
    assert.equal(many.frames.systemInUse, one.frames.systemInUse);
    for (let k = 0; k < 64; k++) {
      assert.equal(many.frames.zone.get(b[k]!), one.frames.zone.get(a[k]!), `zone of ${k}`);
      assert.equal(many.frames.refcount.get(b[k]!), one.frames.refcount.get(a[k]!), `refcount of ${k}`);
    }
    // A run holding a page this call put already fails as putPage would, on that page.
    const again = Int32Array.from([32, ...Array.from({ length: 10 }, (_, k) => 32 + k)], (k) => b[k]!);
    assert.throws(() => putPages(many, again, again.length), /put_page on a free frame/);
  });
});
