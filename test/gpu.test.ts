// GPU work in simulated time: kernels, fault batches, policies, prefetcher, prefetch, eviction,
// thrashing and read-mostly, asserted with exact (deterministic) event counts and times.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runScriptText, type ScriptRun } from '../src/hmm/lang/runner';
import { placementReport } from '../src/hmm/placementReport';
import type { Simulator } from '../src/hmm/simulator';
import { THRASH_COUNT, THRASH_WINDOW_NS, ThrashingDetector } from '../src/hmm/uvm';

const root = path.resolve(__dirname, '../..');

function run(text: string, opts: { prefetcher?: boolean } = {}): ScriptRun & { sim: Simulator } {
  const r = runScriptText('gpu.hmm', text, opts);
  assert.deepEqual(r.diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`), []);
  assert.equal(r.error, undefined, r.error);
  assert.ok(r.sim);
  return r as ScriptRun & { sim: Simulator };
}

function example(name: string): ScriptRun & { sim: Simulator } {
  return run(fs.readFileSync(path.join(root, 'examples', `${name}.hmm`), 'utf8'));
}

/** The counters scripts see (`stats.DEV.*`); fault pages and batches are checked apart. */
function stats(sim: Simulator, dev: string): { faults: number; pagesIn: number; pagesOut: number; evictions: number } {
  const { faults, pagesIn, pagesOut, evictions } = sim.stats.devices.get(dev)!;
  return { faults, pagesIn, pagesOut, evictions };
}

const STREAM = (pages: number, prefetch: boolean): string => `device gpu0
kernel stream(x) {
  read x
  compute 50us
}
a = mmap ${pages} pages rw
write a = i
${prefetch ? 'prefetch a to gpu0\n' : ''}launch stream(a) on gpu0 as j
wait j
expect a is device gpu0
`;

describe('GPU work in simulated time', () => {
  it('prefetching a streamed buffer cuts device faults by at least 10x', () => {
    const cold = run(STREAM(4096, false)).sim;
    const warm = run(STREAM(4096, true)).sim;
    const coldFaults = stats(cold, 'gpu0').faults;
    const warmFaults = stats(warm, 'gpu0').faults;
    assert.equal(coldFaults, 4096);
    assert.ok(warmFaults * 10 <= coldFaults, `prefetch: ${warmFaults} faults vs ${coldFaults}`);
    // And it is faster: the copy engine moves 16 MiB in one go instead of 16 fault batches.
    assert.ok(warm.clock.now < cold.clock.now, `${warm.clock.now} ns vs ${cold.clock.now} ns`);
  });

  it('device faults are batched (256 pages per batch) and serviced by migrate_vma', () => {
    const { sim } = run(STREAM(1000, false));
    const job = sim.gpu.jobs[0]!;
    assert.equal(job.stats.faults, 1000);
    assert.equal(job.stats.batches, 4);
    const faultEvents = sim.log.events.filter((e) => e.kind === 'deviceFault');
    assert.equal(faultEvents.length, 4);
    assert.ok(faultEvents.every((e) => e.job === 'j'), 'fault events name the job');
    assert.deepEqual(faultEvents.map((e) => e.end - e.start), [256, 256, 256, 232]);
    assert.equal(stats(sim, 'gpu0').pagesIn, 1000);
  });

  it('the same script gives the same events and the same times', () => {
    const a = example('08-streaming-prefetch').sim;
    const b = example('08-streaming-prefetch').sim;
    assert.equal(JSON.stringify(a.log.events), JSON.stringify(b.log.events));
    assert.equal(a.clock.now, b.clock.now);
  });

  it('streaming example: 4096 faults in 16 batches cold, none after prefetch; exact times', () => {
    const { sim } = example('08-streaming-prefetch');
    const [j1, j2] = sim.gpu.jobs;
    assert.deepEqual([j1!.stats.faults, j1!.stats.batches, j2!.stats.faults], [4096, 16, 0]);
    assert.equal(j1!.endTime, 11_333_072);
    assert.equal(sim.clock.now, 12_072_938);
    assert.equal(stats(sim, 'gpu0').pagesIn, 8192);
  });

  it('the density prefetcher migrates a whole 2 MiB block once most of it faulted, and can be switched off', () => {
    const text = `device gpu0
kernel touch(x) {
  read x[0..300]
}
a = mmap 512 pages rw huge
write a = i
madvise a nohugepage
launch touch(a) on gpu0 as j
wait j
`;
    const on = run(text).sim;
    const off = run(text, { prefetcher: false }).sim;
    assert.equal(stats(on, 'gpu0').pagesIn, 512, 'prefetcher on: 300 faulted pages pull in the whole block');
    assert.equal(stats(off, 'gpu0').pagesIn, 300, 'prefetcher off: only the faulted pages move');
  });

  it('the CPU runs beside a kernel and sees its effects only once their time has come', () => {
    const { sim } = run(`device gpu0
kernel slow(x) {
  compute 1ms
  write x = 7
}
a = mmap 4 pages rw
write a = 1
launch slow(a) on gpu0 as j
compute 100us
expect a == 1
expect a is system
wait j
expect a == 7
expect a is device gpu0
expect stats.time >= 1ms
`);
    assert.ok(sim.clock.now >= 1_000_000);
  });

  it('mirror policy maps system pages remotely and never migrates', () => {
    const { sim } = run(`device gpu0 policy mirror
kernel k(x) {
  write x = i
}
a = mmap 64 pages rw
launch k(a) on gpu0 as j
wait j
expect a is system rw
expect gpu0 maps a as write
expect a == i
expect stats.gpu0.pages_in == 0
`);
    assert.equal(stats(sim, 'gpu0').faults, 64);
  });

  it('advice: preferred system + accessed-by keeps a flag word in system memory', () => {
    const { sim } = example('09-stencil-flag-word');
    assert.equal(stats(sim, 'gpu0').faults, 1025, 'one fault for the flag, then never again');
    assert.equal(stats(sim, 'gpu0').pagesIn, 1024, 'only the grid migrates');
    assert.equal(sim.clock.now, 1_932_626);
  });

  it('oversubscription evicts the oldest 2 MiB blocks and keeps the data', () => {
    const { sim } = example('10-oversubscription');
    assert.deepEqual(stats(sim, 'gpu0'), { faults: 4096, pagesIn: 4096, pagesOut: 2048, evictions: 2048 });
    const s = sim.stats.devices.get('gpu0')!;
    assert.deepEqual([s.faultPages, s.faultBatches], [4096, 16], 'kernel faults: pages and 256-page batches');
    const evictions = sim.log.events.filter((e) => e.kind === 'migrate' && e.cause === 'eviction');
    assert.ok(evictions.length > 0);
    assert.equal(sim.clock.now, 9_988_216);
  });

  it('thrashing: throttled, then pinned to system memory and mapped remotely', () => {
    const { sim } = example('11-thrashing');
    const verdicts = sim.log.events.filter((e) => e.kind === 'thrashing').map((e) => (e.kind === 'thrashing' ? `${e.verdict}×${e.end - e.start}` : ''));
    assert.ok(verdicts.some((v) => v.startsWith('throttle')) && verdicts.some((v) => v.startsWith('pin')), verdicts.join(', '));
    assert.deepEqual(stats(sim, 'gpu0'), { faults: 80, pagesIn: 64, pagesOut: 64, evictions: 0 });
    // Later rounds no longer migrate: the last jobs take no fault.
    assert.deepEqual(sim.gpu.jobs.map((j) => j.stats.faults), [16, 16, 16, 16, 16, 0]);
    assert.equal(placementReport(sim).thrashingPages, 16);
  });

  it('read-mostly: two devices read the table remotely, nothing migrates; the report counts the cost', () => {
    const { sim, report } = example('12-read-mostly-two-devices');
    assert.equal(stats(sim, 'gpu0').pagesIn + stats(sim, 'gpu1').pagesIn, 0);
    assert.equal(placementReport(sim).readMostlySavings, 2 * 256 * 4096);
    assert.match(report ?? '', /read-mostly: 2\.0 MiB read over the link/);
  });

  it('a device write to a read-mostly page faults and migrates as usual', () => {
    run(`device gpu0
kernel w(x) {
  read x
  write x = 5
}
t = mmap 8 pages rw
write t = i
advise t read-mostly
launch w(t) on gpu0 as j
wait j
expect t is device gpu0 rw
expect t == 5
`);
  });

  it('the placement report names faults, bytes each way, time per device and per line', () => {
    const { report } = example('10-oversubscription');
    assert.match(report ?? '', /gpu0: 4096 pages faulted in 16 fault batches, servicing them took [\d.]+ ms \(copies included: [\d.]+ (µs|ms)\); 16\.0 MiB in, 8\.0 MiB out, 2048 pages evicted/);
    assert.match(report ?? '', /line \d+: 4096 pages faulted/);
    assert.match(report ?? '', /a perfect placement would take/);
    assert.match(report ?? '', /\(perfect placement: the same run with every page already where it is used/);
  });

  it('the placement report splits the streaming example per launch: the prefetched one took no fault', () => {
    const { report } = example('08-streaming-prefetch');
    assert.match(report ?? '', /job j1 \(stream on gpu0, launched at line \d+\): [\d.]+ ms, 4096 pages faulted in 16 fault batches/);
    assert.match(report ?? '', /job j2 \(stream on gpu0, launched at line \d+\): [\d.]+ µs, no page faulted,/);
  });

  it('dmirror faults (no kernel) are counted in pages and batches, with their time, like kernel faults', () => {
    const { report } = runScriptText('02.hmm', fs.readFileSync(path.join(root, 'examples', '02-cpu-touches-migrated-page.hmm'), 'utf8'), { report: true });
    assert.match(report ?? '', /gpu0: 2 pages faulted in 1 fault batch, servicing them took 21\.0 µs;/);
    assert.doesNotMatch(report ?? '', /in 0 batches|faults 0\.0 µs/);
  });

  it('pending work at the end of a script is waited for', () => {
    const { sim } = run(`device gpu0
kernel k(x) {
  write x = 3
}
a = mmap 4 pages rw
launch k(a) on gpu0
`);
    assert.ok(sim.gpu.idle);
    assert.equal(stats(sim, 'gpu0').faults, 4);
  });
});

describe('thrashing detector', () => {
  it('throttles then pins a page that migrates THRASH_COUNT times within the window', () => {
    const d = new ThrashingDetector();
    const verdicts: string[] = [];
    for (let k = 0; k < 2 * THRASH_COUNT; k++) verdicts.push(d.record(1, 0x7f0000000, k * 1000));
    assert.deepEqual(verdicts, ['none', 'none', 'throttle', 'none', 'none', 'pin']);
    assert.ok(d.isPinned(1, 0x7f0000000));
  });

  it('records a device migration only for a page that bounced within the window', () => {
    const d = new ThrashingDetector();
    assert.equal(d.recordIfBouncing(1, 5, 0), 'none');
    d.record(1, 5, 0);
    d.recordIfBouncing(1, 5, 1000);
    assert.equal(d.recordIfBouncing(1, 5, 2000), 'throttle');
    // Long after the window, an old history does not make a device migration count.
    d.record(1, 6, 0);
    d.recordIfBouncing(1, 6, 10 * THRASH_WINDOW_NS);
    d.recordIfBouncing(1, 6, 10 * THRASH_WINDOW_NS + 1);
    assert.equal(d.save().history.find(([k]) => k === d.key(1, 6))![1].length, 1);
  });

  it('keeps no history for a stream of one-off migrations (a million pages stay cheap)', () => {
    const d = new ThrashingDetector();
    // One migration per page, 1 µs apart: only pages inside the 500 µs window need a history.
    for (let v = 0; v < 100_000; v++) d.record(1, v, v * 1000);
    const kept = d.save().history.length;
    assert.ok(kept <= 2 * (THRASH_WINDOW_NS / 1000) + 1024, `${kept} histories kept`);
  });
});
