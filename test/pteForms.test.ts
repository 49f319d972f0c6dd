// Layer: page-table forms (src/hmm/pgtable.ts PteTable, src/hmm/mirror.ts DptPage). While a
// page's entries are one line (slots [lo, hi) of one kind or tag, pfns one after the other) it
// holds no arrays; every read of it must be what the arrays would hold, and the run-wise paths
// that keep a form (a write over fresh memory, migrate collect and finalize, dmirror's
// finalize-and-map and erase) must leave what the per-page paths leave (test/batching.test.ts
// compares whole runs both ways; here fixed scripts that keep forms, and the reads themselves).

import * as assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { PTRS_PER_PTE } from '../src/hmm/constants';
import { Dpt, DptPage } from '../src/hmm/mirror';
import { ChangedPages, PageTable, Pte, PteTable } from '../src/hmm/pgtable';
import { runScriptText } from '../src/hmm/lang/runner';
import { runBoth } from './reference/batchingOutcome';

/** The flat arrays a form stands for. */
function flat(lo: number, hi: number, kind: number, pfn: number, step: number, bits: number): { kind: number[]; pfn: number[]; bits: number[] } {
  const out = { kind: new Array<number>(PTRS_PER_PTE).fill(0), pfn: new Array<number>(PTRS_PER_PTE).fill(0), bits: new Array<number>(PTRS_PER_PTE).fill(0) };
  for (let s = lo; s < hi; s++) {
    out.kind[s] = kind;
    out.pfn[s] = pfn + (s - lo) * step;
    out.bits[s] = bits;
  }
  return out;
}

describe('page-table forms', () => {
  it('a PTE page extended run by run reads as the arrays would, before and after they are made, and in a clone', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: PTRS_PER_PTE - 1 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 1000, max: 100_000 }), fc.constantFrom(1, -1), fc.boolean(),
      (start, runs, pfn0, step, breakLine) => {
        const t = new PteTable();
        let at = start;
        let next = pfn0;
        let broke = false;
        for (const [r, len] of runs.entries()) {
          const n = Math.min(len, PTRS_PER_PTE - at);
          if (n <= 0) break;
          // One run may leave the line (a gap in the pfns): the form refuses it, nothing changed.
          const gap = breakLine && r === runs.length - 1 && r > 0 ? 2 : 0;
          const pfns = Int32Array.from({ length: n }, (_, k) => next + gap * step + k * step);
          const took = t.extendForm(at, n, Pte.PRESENT, pfns, 3);
          if (gap !== 0) {
            assert.equal(took, false);
            broke = true;
            break;
          }
          assert.ok(took);
          at += n;
          next += n * step;
        }
        assert.ok(t.isForm);
        const want = flat(start, at, Pte.PRESENT, pfn0, step, 3);
        const read = { kind: [] as number[], pfn: [] as number[], bits: [] as number[] };
        for (let s = 0; s < PTRS_PER_PTE; s++) {
          read.kind.push(t.kindAt(s));
          read.pfn.push(t.pfnAt(s));
          read.bits.push(t.bitsAt(s));
        }
        assert.deepEqual(read, want, `broke ${broke}`);
        const c = t.clone();
        assert.ok(c.isForm);
        assert.deepEqual({ kind: [...t.kind], pfn: [...t.pfn], bits: [...t.bits] }, want);
        assert.ok(!t.isForm);
        assert.deepEqual({ kind: [...c.kind], pfn: [...c.pfn], bits: [...c.bits] }, want);
        // Made, the arrays are the table's: a write stays in this table.
        t.pfn[start] = 7;
        assert.equal(c.pfn[start], pfn0);
      },
    ), { numRuns: 200, seed: 20261207 });
  });

  it('a form refuses what is not one line with it: another kind, other bits, a slot not after its end', () => {
    const t = new PteTable();
    assert.ok(t.extendForm(10, 4, Pte.PRESENT, Int32Array.of(100, 101, 102, 103), 1));
    assert.equal(t.extendForm(14, 1, Pte.DEVICE_PRIVATE, Int32Array.of(104), 1), false);
    assert.equal(t.extendForm(14, 1, Pte.PRESENT, Int32Array.of(104), 3), false);
    assert.equal(t.extendForm(15, 1, Pte.PRESENT, Int32Array.of(105), 1), false);
    assert.equal(t.extendForm(14, 1, Pte.PRESENT, Int32Array.of(105), 1), false);
    assert.equal(t.extendForm(14, 1, Pte.NONE, Int32Array.of(104), 1), false);
    assert.ok(t.extendForm(14, 2, Pte.PRESENT, Int32Array.of(104, 105), 1));
    assert.deepEqual([t.formLo, t.formHi, t.formPfn, t.formStep], [10, 16, 100, 1]);
    // A single slot takes the step of what follows it.
    const d = new PteTable();
    assert.ok(d.extendForm(0, 1, Pte.PRESENT, Int32Array.of(50), 0));
    assert.ok(d.extendForm(1, 2, Pte.PRESENT, Int32Array.of(49, 48), 0));
    assert.deepEqual([...d.pfn.subarray(0, 4)], [50, 49, 48, 0]);
  });

  it('a device page-table page reads as its form, and its arrays are the form spelt out', () => {
    const p = new DptPage();
    p.setForm(5, 300, Dpt.WRITE, 9000, -1);
    const tags: number[] = [];
    const pfns: number[] = [];
    for (let s = 0; s < PTRS_PER_PTE; s++) {
      tags.push(p.tagAt(s));
      pfns.push(p.pfnAt(s));
    }
    const c = p.clone();
    assert.ok(p.isForm && c.isForm);
    assert.deepEqual([...p.tag], tags);
    assert.deepEqual([...p.pfn], pfns);
    assert.deepEqual([tags[4], tags[5], tags[299], tags[300]], [Dpt.NONE, Dpt.WRITE, Dpt.WRITE, Dpt.NONE]);
    assert.deepEqual([pfns[5], pfns[299]], [9000, 9000 - 294]);
    assert.deepEqual([...c.tag], tags);
  });

  it('scripts that keep forms leave what the per-page paths leave: there and back, a sample faulted, parts migrated and erased', () => {
    for (const text of [
      'device gpu0 private memory 8 MiB\na = mmap 1536 pages rw\nwrite a = i\nmigrate a to gpu0\nread a[..16]\nmigrate a to system\nexpect a == i\n',
      // Partial ranges: a form cut at its start, at its end, in its middle, and grown again.
      'device gpu0\na = mmap 1200 pages rw\nwrite a[..700] = i + 3\nwrite a[700..] = i + 3\nmigrate a to gpu0\nmigrate a[..100] to system\n' +
        'migrate a[1100..] to system\nmigrate a[600..620] to system\nread a[590..630]\nmigrate a[..1100] to gpu0\nmigrate a to system\nmigrate a[512..1024] to gpu0\nexpect a == i + 3\n',
      // A fork shares the forms' pages; a read-only mapping's entries carry other bits.
      'device gpu0\na = mmap 1024 pages rw\nwrite a = i\nmprotect a[..512] r\nmigrate a to gpu0\nfork c\nas c {\n  read a[..8]\n}\nmigrate a to system\nexpect a == i\n',
    ]) {
      const { batched, perPage } = runBoth(text);
      assert.deepEqual(batched, perPage, text);
      assert.equal((batched as { error: unknown }).error, undefined, text);
    }
  });

  it('a whole migration there and back keeps every table a form (no per-entry arrays)', () => {
    const r = runScriptText('f.hmm', 'device gpu0 private memory 8 MiB\na = mmap 2048 pages rw\nwrite a = i\nmigrate a to gpu0\nmigrate a to system\nexpect a == i\n');
    assert.equal(r.error, undefined);
    const sim = r.sim!;
    const tables = [...sim.mms[0]!.pt.tables.values()];
    assert.equal(tables.length, 4);
    for (const t of tables) assert.ok(t.isForm && t.formHi - t.formLo === PTRS_PER_PTE && t.formKind === Pte.PRESENT);
    const mid = runScriptText('g.hmm', 'device gpu0 private memory 8 MiB\na = mmap 2048 pages rw\nwrite a = i\nmigrate a to gpu0\n');
    const dpt = [...mid.sim!.driver.mirrors[0]!.pt.values()];
    assert.equal(dpt.length, 4);
    for (const p of dpt) assert.ok(p.isForm && p.formHi - p.formLo === PTRS_PER_PTE && p.formTag === Dpt.WRITE);
    for (const t of mid.sim!.mms[0]!.pt.tables.values()) assert.ok(t.isForm && t.formKind === Pte.DEVICE_PRIVATE);
  });
});

describe('changed page-table pages (ChangedPages)', () => {
  it('lists each index once, in the order first added, and answers has() as a Set would, across clears and many runs', () => {
    const op = fc.oneof(
      { weight: 8, arbitrary: fc.record({ k: fc.constant('run' as const), at: fc.nat(300), n: fc.integer({ min: 1, max: 40 }), repeat: fc.integer({ min: 1, max: 3 }) }) },
      { weight: 4, arbitrary: fc.record({ k: fc.constant('one' as const), at: fc.nat(300) }) },
      { weight: 1, arbitrary: fc.constant({ k: 'clear' as const }) },
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
      const pages = new ChangedPages();
      let model = new Set<number>();
      for (const o of ops) {
        if (o.k === 'clear') {
          pages.clear();
          model = new Set();
        } else if (o.k === 'one') {
          pages.add(o.at);
          model.add(o.at);
        } else {
          // A walk: each index marked a few times in a row, going up.
          for (let i = o.at; i < o.at + o.n; i++) {
            for (let r = 0; r < o.repeat; r++) pages.add(i);
            model.add(i);
          }
        }
        for (const probe of [o.k === 'clear' ? 0 : o.at, 150, 301]) assert.equal(pages.has(probe), model.has(probe));
      }
      assert.deepEqual([...pages], [...model]);
    }), { numRuns: 300, seed: 20261207 });
  });
});

describe('page tables by PMD index (PageTable leaves)', () => {
  it('table() finds what the map of tables holds, across leaves, frees and clones', () => {
    const idx = fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 2 ** 26 - 600, max: 2 ** 26 + 600 }));
    const op = fc.oneof(fc.record({ alloc: idx }), fc.record({ free: idx }), fc.constant({ clone: true as const }));
    fc.assert(fc.property(fc.array(op, { maxLength: 80 }), fc.array(idx, { minLength: 1, maxLength: 20 }), (ops, probes) => {
      let pt = new PageTable();
      const seen = new Set<number>();
      for (const o of ops) {
        if ('alloc' in o) {
          pt.alloc(o.alloc * PTRS_PER_PTE + 7);
          seen.add(o.alloc);
        } else if ('free' in o) {
          pt.freeTable(o.free);
        } else {
          pt = pt.clone();
        }
        for (const i of [...probes, ...seen]) assert.equal(pt.table(i), pt.tables.get(i), `index ${i}`);
      }
    }), { numRuns: 200, seed: 20261207 });
  });
});
