// The residency views' cache of per-page-table runs (src/hmm/tableRuns.ts): random programs are
// stepped through (into kernel frames, over statements, and back), and at every stop each cached
// page-table page must equal a fresh pass over it, and the answers built from the cache
// (residencyRuns, residencySummary, the picture's lanes) must equal the same answers read page
// by page. RunBuilder.addRun (the picture's way of taking a cached run whole) must do what one
// add per page does.

import * as assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { PTRS_PER_PTE } from '../src/hmm/constants';
import { ScriptController } from '../src/hmm/lang/controller';
import { residencySummary } from '../src/hmm/lang/inspect';
import { buildPicture, RunBuilder } from '../src/hmm/lang/picture';
import { residencyRuns, type ResidencyRun } from '../src/hmm/lang/residency';
import type { Mm } from '../src/hmm/mm';
import { Zone } from '../src/hmm/page';
import { Pte, PTE_WRITE, pteIndex } from '../src/hmm/pgtable';
import type { Simulator } from '../src/hmm/simulator';
import { cpuTableRuns, dptPageRuns, scanCpuTable, scanDptPage } from '../src/hmm/tableRuns';
import { scanCpuTableBySlot, scanDptPageBySlot } from './reference/tableRuns';
import { summaryPageByPage } from './reference/residency';

const SEED = 20261206;

/**
 * Programs that reach the simulator (the fuzz suite's grammar programs are mostly rejected
 * for ranges beyond their mappings): three mappings — private, THP, shared — and operations
 * on ranges within them, a fork and the child's own accesses.
 */
const SIZES = { a: 40, h: 1536, s: 24 } as const;
const rangeArb = fc.tuple(fc.constantFrom('a', 'h', 's'), fc.nat(), fc.nat()).map(([m, x, y]) => {
  const n = SIZES[m as keyof typeof SIZES];
  const [lo, hi] = [x % n, y % n].sort((p, q) => p - q);
  return `${m}[${lo}..${hi! + 1}]`;
});
/** Device-exclusive entries and migrations are for private anonymous memory: a shared range makes them fail. */
const privateRangeArb = rangeArb.filter((r) => !r.startsWith('s'));
const statementArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(rangeArb, fc.nat(9)).map(([r, k]) => `write ${r} = i + ${k}`) },
  { weight: 2, arbitrary: rangeArb.map((r) => `read ${r}`) },
  { weight: 4, arbitrary: fc.tuple(privateRangeArb, fc.constantFrom('gpu0', 'gpu1', 'system')).map(([r, d]) => `migrate ${r} to ${d}`) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom('gpu0', 'gpu1'), rangeArb).map(([d, r]) => `${d} read ${r}`) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom('gpu0', 'gpu1'), privateRangeArb).map(([d, r]) => `${d} exclusive ${r}`) },
  { weight: 1, arbitrary: fc.tuple(rangeArb, fc.constantFrom('dontneed', 'hugepage', 'collapse')).map(([r, a]) => `madvise ${r} ${a}`) },
  { weight: 1, arbitrary: rangeArb.map((r) => `pin ${r}`) },
  // Read-only for a while: a CPU write there would end the program.
  { weight: 1, arbitrary: fc.tuple(rangeArb, fc.constantFrom('gpu0', 'gpu1')).map(([r, d]) => `mprotect ${r} r\nread ${r}\n${d} read ${r}\nmprotect ${r} rw`) },
  { weight: 1, arbitrary: fc.constantFrom('launch kw(a) on gpu0', 'launch kw(h) on gpu1', 'wait all') },
  { weight: 1, arbitrary: fc.tuple(rangeArb, fc.constantFrom('gpu0', 'system')).map(([r, d]) => `prefetch ${r} to ${d}`) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom('read', 'write'), rangeArb).map(([op, r]) => `as child {\n  ${op === 'read' ? `read ${r}` : `write ${r} = 5`}\n}`) },
);
const programArb = fc.tuple(fc.boolean(), fc.array(statementArb, { minLength: 3, maxLength: 14, size: 'max' }), fc.array(statementArb, { maxLength: 10, size: 'max' }))
  .map(([coherent, before, after]) => [
    `device gpu0${coherent ? ' coherent' : ''}`, 'device gpu1', `a = mmap ${SIZES.a} pages rw`, `h = mmap ${SIZES.h} pages rw huge`, `s = mmap ${SIZES.s} pages rw shared`,
    'kernel kw(x) {', '  write x = i', '}', ...before.filter((l) => !l.startsWith('as child')), 'fork child', ...after,
  ].join('\n') + '\n');

/** Every cached page-table page equals a fresh pass over it; the check itself fills the caches. */
function checkCaches(sim: Simulator, where: string): void {
  const f = sim.frames;
  for (const mm of sim.mms) {
    if (!mm.alive) continue;
    for (const [idx, t] of mm.pt.tables) {
      const reference = scanCpuTableBySlot(f, t);
      assert.deepEqual(scanCpuTable(f, t), reference, `${where}: ${mm.name} PTE page ${idx}, a fresh pass`);
      assert.deepEqual(cpuTableRuns(f, t), reference, `${where}: ${mm.name} PTE page ${idx}`);
    }
  }
  for (const m of sim.driver.mirrors) {
    for (const [idx, p] of m.pt) {
      const reference = scanDptPageBySlot(f, p, m.device.index);
      assert.deepEqual(scanDptPage(f, p, m.device.index), reference, `${where}: ${m.label} page ${idx}, a fresh pass`);
      assert.deepEqual(dptPageRuns(f, p, m.device.index), reference, `${where}: ${m.label} page ${idx}`);
    }
  }
}

/** residencyRuns as it was before the cache: a key per slot from the page tables and frames. */
function referenceRuns(sim: Simulator, mm: Mm, start: number, end: number): ResidencyRun[] {
  const runs: ResidencyRun[] = [];
  const f = sim.frames;
  const mirrors = sim.devices.map((d) => sim.driver.mirrorOf(mm, d));
  const keyAt = (v: number): number => {
    if (mm.vmas.find(v) === undefined) return 0;
    const t = mm.pt.lookup(v);
    const s = pteIndex(v);
    const kind = t === undefined ? Pte.NONE : (t.kind[s] as Pte);
    let k = 1;
    if (kind !== Pte.NONE) {
      const pfn = t!.pfn[s]!;
      const bits = t!.bits[s]!;
      const head = f.head(pfn);
      const zone = f.zone.get(pfn) as Zone;
      const code = kind === Pte.DEVICE_EXCLUSIVE ? 5 : zone === Zone.ZERO ? 2 : zone === Zone.SYSTEM ? 3 : 4;
      k = code | (f.device.get(pfn) << 3) | ((bits & PTE_WRITE) << 7) | ((f.mapcount.get(t!.pmd ? head : pfn) > 1 ? 1 : 0) << 8) |
        ((f.pincount.get(head) > 0 ? 1 : 0) << 9) | ((t!.pmd ? 1 : 0) << 10) | (((bits >> 4) & 0xf) << 11) | (kind << 15);
    }
    let tk = 0;
    mirrors.forEach((m, i) => { tk |= (m?.tagAt(v) ?? 0) << (2 * i); });
    return k + tk * (1 << 20);
  };
  let key = -1;
  for (let v = start; v < end; v++) {
    const k = keyAt(v);
    const last = runs[runs.length - 1];
    if (last !== undefined && k === key) last.end = v + 1;
    else runs.push({ start: v, end: v + 1, state: sim.pageState(mm, v) });
    key = k;
  }
  return runs;
}


/** The picture's CPU lane (exact runs) read page by page: each run's pages are what it says, and every entry is in one. */
function checkCpuLane(sim: Simulator, mm: Mm, where: string): void {
  const f = sim.frames;
  const lane = buildPicture(sim, mm).cpu;
  assert.equal(lane.granularity, 1, where);
  let entries = 0;
  for (const t of mm.pt.tables.values()) entries += t.used;
  let covered = 0;
  for (const r of lane.runs) {
    covered += r.end - r.start;
    const first = mm.pt.lookup(r.start)!.pfn[pteIndex(r.start)]!;
    const zone = { system: Zone.SYSTEM, zero: Zone.ZERO, 'device-private': Zone.DEVICE_PRIVATE, 'device-coherent': Zone.DEVICE_COHERENT }[r.zone];
    const entry = { present: Pte.PRESENT, 'device-private': Pte.DEVICE_PRIVATE, 'device-exclusive': Pte.DEVICE_EXCLUSIVE, migration: Pte.MIGRATION }[r.entry];
    const said = `${entry} ${zone} ${r.writable} ${r.shared} ${r.pinned} ${r.huge}`;
    for (let v = r.start; v < r.end; v++) {
      const t = mm.pt.lookup(v)!;
      const s = pteIndex(v);
      const kind = t.kind[s] as Pte;
      const pfn = t.pfn[s]!;
      const head = f.head(pfn);
      const seen = `${kind} ${f.zone.get(pfn)} ${(t.bits[s]! & PTE_WRITE) !== 0} ${f.mapcount.get(t.pmd ? head : pfn) > 1} ${f.pincount.get(head) > 0} ${t.pmd}`;
      if (seen !== said) assert.fail(`${where}: page ${v} is ${seen}, its run ${JSON.stringify(r)} says ${said}`);
      // The zero page's run says order 0 for the huge zero page's 512 frames too.
      if (r.order !== 'mixed' && r.zone !== 'zero' && pfn - first !== (v - r.start) * r.order) assert.fail(`${where}: frame of page ${v} in ${JSON.stringify(r)}`);
    }
  }
  assert.equal(covered, entries, `${where}: the CPU lane covers every entry once`);
}

/** The cache's answers against page-by-page ones, for every live process and mapping. */
function checkAnswers(sim: Simulator, where: string, full: boolean): void {
  checkCaches(sim, where);
  for (const mm of sim.mms) {
    if (!mm.alive) continue;
    for (const b of sim.bindings.values()) {
      // A page either side: unmapped neighbours are part of what the views see.
      const [s, e] = [b.start - 1, b.start + b.pages + 1];
      assert.deepEqual(residencyRuns(sim, mm, s, e, 1 << 20), referenceRuns(sim, mm, s, e), `${where}: ${mm.name} residency runs of ${b.name}`);
      if (full) assert.equal(residencySummary(sim, mm, s, e), summaryPageByPage(sim, mm, s, e), `${where}: ${mm.name} summary of ${b.name}`);
    }
    if (full) checkCpuLane(sim, mm, `${where}: ${mm.name}`);
  }
}

/** Step a program through: 0 steps back, 1 steps over, anything else steps in. */
async function stepThrough(text: string, moves: readonly number[]): Promise<number> {
  const ctl = new ScriptController('t.hmm', text, { output: () => undefined });
  if (ctl.diagnostics.some((d) => d.severity === 'error')) return 0;
  checkAnswers(ctl.sim, 'entry', true);
  let stops = 0;
  for (const move of moves) {
    const r = move === 0 ? await ctl.stepBack() : move === 1 ? await ctl.stepOver() : await ctl.stepIn();
    if (r.kind === 'ended') break;
    stops++;
    const where = `stop ${stops} (${move === 0 ? 'back' : move === 1 ? 'over' : 'in'}) at line ${ctl.displayLine()}${ctl.inKernel ? ' in a kernel frame' : ''}`;
    checkAnswers(ctl.sim, where, !ctl.inKernel || stops % 4 === 0);
  }
  return stops;
}

describe('cached page-table runs (residency views)', function () {
  this.timeout(300000);

  it('equal a fresh pass and the page-by-page answers at every stop of random programs, stepping in, over and back', async function () {
    let stops = 0;
    await fc.assert(fc.asyncProperty(programArb, fc.array(fc.nat(9), { minLength: 150, maxLength: 150 }), async (text, moves) => {
      stops += await stepThrough(text, moves);
    }), { seed: SEED, numRuns: 25 });
    assert.ok(stops > 500, `only ${stops} stops checked`);
  });

  it('catch what the generators rarely make: THP split and collapse, fork of pinned and huge pages, shared mappings in two processes', async function () {
    const scripts = [
      'device gpu0\na = mmap 1024 pages rw huge\nwrite a = i\nmigrate a[..600] to gpu0\npin a[700]\nfork child\nunpin a[700]\nmadvise a[10..20] dontneed\nmadvise a collapse\nwrite a = 1\n',
      'device gpu0\na = mmap 600 pages rw shared\nwrite a = i\nfork child\nas child {\n  read a\n  gpu0 read a[..300]\n}\nmigrate a to gpu0\nmprotect a[5..9] r\ngpu0 exclusive a[100..110]\nread a\n',
      'device gpu0 coherent\ndevice gpu1\na = mmap 2048 pages rw huge\nc = mmap 4096 pages rw huge\nread a\nwrite a[..700] = 3\nmigrate a[512..1024] to gpu0\ngpu1 exclusive a[1..2]\nmigrate a[1024..] to gpu1\nn = mremap a[..1536] to c[1024]\nread c\n',
    ];
    for (const text of scripts) {
      const ctl = new ScriptController('t.hmm', text, { output: () => undefined });
      assert.deepEqual(ctl.diagnostics.filter((d) => d.severity === 'error'), [], text);
      let stops = 0;
      for (let i = 0; i < 400; i++) {
        const r = i % 7 === 6 ? await ctl.stepBack() : await ctl.stepIn();
        if (r.kind === 'ended') {
          assert.equal(r.error, undefined, `${text}: ${r.error?.message}`);
          break;
        }
        checkAnswers(ctl.sim, `${text.split('\n')[2]}: stop ${++stops}`, true);
      }
      assert.ok(stops > 10, `${stops} stops`);
    }
  });

  it('RunBuilder.addRun does what one add per page does, exact and in buckets', function () {
    const run = fc.record({ gap: fc.nat(3), n: fc.integer({ min: 1, max: 40 }), key: fc.nat(2), pfnJump: fc.integer({ min: -3, max: 3 }), step: fc.constantFrom(1, -1, 0) });
    fc.assert(fc.property(fc.array(run, { maxLength: 30 }), fc.constantFrom(1, 2, 4, 16, 64), fc.integer({ min: 1, max: 12 }), (rs, g, max) => {
      type R = [number, number, number, number, number, string | number, boolean];
      const make = (key: number, start: number, end: number, sp: { minPfn: number; maxPfn: number; order: number | string }, mixed: boolean): R =>
        [key, start, end, sp.minPfn, sp.maxPfn, sp.order, mixed];
      const whole = new RunBuilder<R>(g, max, make);
      const pages = new RunBuilder<R>(g, max, make);
      let vpn = 1000;
      let pfn = 50;
      for (const r of rs) {
        vpn += r.gap;
        pfn += r.pfnJump;
        whole.addRun(vpn, r.n, r.key, pfn, r.step);
        for (let k = 0; k < r.n; k++) pages.add(vpn + k, r.key, pfn + k * r.step);
        vpn += r.n;
        pfn += r.n * r.step;
      }
      assert.deepEqual(whole.finish(), pages.finish());
      assert.equal(whole.overflow, pages.overflow);
    }), { seed: SEED, numRuns: 2000 });
  });

  it('a page-table page holds its runs of equal state, not a slot each', function () {
    const ctl = new ScriptController('t.hmm', `device gpu0\na = mmap ${4 * PTRS_PER_PTE} pages rw\nwrite a = i\nmigrate a[..${PTRS_PER_PTE + 7}] to gpu0\n`, { output: () => undefined });
    return ctl.continue().then(() => {
      const sim = ctl.sim;
      const runs = [...ctl.interp.process.pt.tables.values()].map((t) => cpuTableRuns(sim.frames, t).length / 4);
      assert.deepEqual(runs, [1, 2, 1, 1], 'device, device then system, system, system');
      // Every change of the PMD flag counts as a write, whoever makes it.
      const t = ctl.interp.process.pt.tables.values().next().value!;
      const before = cpuTableRuns(sim.frames, t);
      t.pmd = true;
      assert.notDeepEqual(cpuTableRuns(sim.frames, t), before);
      assert.deepEqual(cpuTableRuns(sim.frames, t), scanCpuTableBySlot(sim.frames, t));
    });
  });
});
