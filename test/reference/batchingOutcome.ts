// The outcome of a script that range batching (src/hmm/batching.ts) must leave as the per-page
// paths do: used by test/batching.test.ts and test/evictRun.test.ts.

import * as assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { setRangeBatching } from '../../src/hmm/batching';
import { PG_ANON, Zone } from '../../src/hmm/page';
import { runScriptText, type ScriptRun } from '../../src/hmm/lang/runner';

/** Everything a run leaves that the two paths must agree on, as one comparable value. */
export function outcome(r: ScriptRun): unknown {
  const sim = r.sim!;
  const f = sim.frames;
  const tables = sim.mms.map((mm) => ({
    name: mm.name,
    alive: mm.alive,
    tables: [...mm.pt.tables].sort((a, b) => a[0] - b[0]).map(([idx, t]) => ({
      idx, used: t.used, pmd: t.pmd, kind: [...t.kind], pfn: [...t.pfn], bits: [...t.bits], expectId: [...t.expectId], expectPage: [...t.expectPage],
    })),
  }));
  // Every device page table (its entries read as arrays: a form is spelt out).
  const mirrors = sim.driver.mirrors.map((m) => ({
    label: m.label,
    pages: [...m.pt].sort((a, b) => a[0] - b[0]).map(([idx, p]) => ({ idx, used: p.used, tag: [...p.tag], pfn: [...p.pfn], raw: p.raw === undefined ? [] : [...p.raw] })),
  }));
  const frames: number[][] = [];
  // anon_vma ids count up across runs: an anonymous page's is compared as the order in which its
  // id first appears (a free or file frame's is left over, not read).
  const anonVmas = new Map<number, number>();
  const anonVmaOf = (p: number): number => {
    if ((f.flags.get(p) & PG_ANON) === 0) return 0;
    const id = f.anonVma.get(p);
    if (!anonVmas.has(id)) anonVmas.set(id, anonVmas.size + 1);
    return anonVmas.get(id)!;
  };
  for (let p = 0; p < f.frontier; p++) {
    const zone = f.zone.get(p);
    if (zone === Zone.FREE) continue;
    frames.push([p, zone, f.device.get(p), f.flags.get(p), f.order.get(p), f.refcount.get(p), f.mapcount.get(p), f.pincount.get(p),
      f.contentId.get(p), f.contentPage.get(p), f.deviceData.get(p), f.indexOffset.get(p), anonVmaOf(p)]);
  }
  const saved = f.save();
  const notified = [];
  for (let step = 0; step <= sim.step; step++) notified.push(...sim.notifierRecordsOf(step).map((n) => ({ ...n, mirror: undefined })));
  return {
    error: r.error, statements: r.statements, residency: r.residency, now: sim.clock.now, stats: sim.stats,
    events: r.events.map((e) => ({ ...e })), notified, tables, mirrors, frames,
    allocator: { next: saved.nextSystem, free: [...saved.freeSystem], freeHuge: [...saved.freeSystemHuge], inUse: saved.systemInUse },
  };
}

export function runBoth(text: string): { batched: unknown; perPage: unknown } {
  const batched = outcome(runScriptText('b.hmm', text));
  const was = setRangeBatching(false);
  try {
    return { batched, perPage: outcome(runScriptText('b.hmm', text)) };
  } finally {
    setRangeBatching(was);
  }
}

/**
 * The property both batching suites check: every script `arb` makes (as `render` writes it) leaves
 * the same outcome batched as page by page, and most run to their end (an error ends one early,
 * on both paths alike).
 */
export function assertBothWaysAgree<S>(arb: fc.Arbitrary<S>, render: (s: S) => string, params: { numRuns: number; seed: number }): void {
  let completed = 0;
  let runs = 0;
  fc.assert(
    fc.property(arb, (sc) => {
      const text = render(sc);
      const { batched, perPage } = runBoth(text);
      runs++;
      if ((batched as { error: unknown }).error === undefined) completed++;
      assert.deepEqual(batched, perPage, text);
    }),
    params,
  );
  assert.ok(completed * 2 > runs, `${completed} of ${runs} scripts ran to the end`);
}
