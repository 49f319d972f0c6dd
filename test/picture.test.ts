// The address-space picture (src/hmm/lang/picture.ts): lanes, links to frames, memories, what
// is happening now, and the bounded summaries at a million pages.

import * as assert from 'node:assert/strict';
import { ScriptController } from '../src/hmm/lang/controller';
import { buildPicture, type Picture } from '../src/hmm/lang/picture';
import { runScriptText } from '../src/hmm/lang/runner';

function pictureOf(text: string, maxRuns?: number, process = 'main'): Picture {
  const r = runScriptText('t.hmm', text);
  assert.equal(r.error, undefined, r.error);
  const sim = r.sim!;
  return buildPicture(sim, sim.process(process)!, maxRuns === undefined ? {} : { maxRuns });
}

const rel = (p: Picture, r: { start: number; end: number }): [number, number] => [r.start - p.vmas[0]!.start, r.end - p.vmas[0]!.start];

describe('address-space picture', function () {
  it('links each CPU entry and device entry to its frame: a device-private swap entry, a present page, a local device mapping', function () {
    const p = pictureOf('device gpu0\na = mmap 8 pages rw\nwrite a = i\nmigrate a to gpu0\nread a[2]\n');
    assert.deepEqual(p.vmas.map((v) => [v.name, v.prot, v.kind, v.end - v.start]), [['a', 'rw', 'anon', 8]]);
    const cpu = p.cpu.runs.map((r) => [...rel(p, r), r.entry, r.zone, r.memory, r.hi - r.lo]);
    assert.deepEqual(cpu, [
      [0, 2, 'device-private', 'device-private', 'gpu0', 2],
      [2, 3, 'present', 'system', 'system', 1],
      [3, 8, 'device-private', 'device-private', 'gpu0', 5],
    ]);
    const gpu0 = p.devices.find((d) => d.name === 'gpu0')!.lane.runs.map((r) => [...rel(p, r), r.access, r.local, r.memory]);
    assert.deepEqual(gpu0, [[0, 2, 'write', true, 'gpu0'], [3, 8, 'write', true, 'gpu0']]);
    // the device lane points at the same frames as the CPU's swap entries
    assert.deepEqual(p.devices[0]!.lane.runs.map((r) => [r.lo, r.hi]), p.cpu.runs.filter((r) => r.memory === 'gpu0').map((r) => [r.lo, r.hi]));
    const mem = Object.fromEntries(p.memories.map((m) => [m.name, [m.used, m.capacity, m.capacityIsLimit]]));
    assert.deepEqual(mem['gpu0'], [7, 65536, true]);
    assert.equal(p.cpu.granularity, 1);
  });

  it('shows the zero page shared by many entries, and a device mapping a system page remotely', function () {
    const p = pictureOf('device gpu0\nbuf = mmap 16 pages rw\nwrite buf[..8] = i\ngpu0 read buf\n');
    const zero = p.cpu.runs.find((r) => r.zone === 'zero')!;
    assert.deepEqual([...rel(p, zero), zero.order, zero.hi - zero.lo, zero.writable], [8, 16, 0, 1, false]);
    const dev = p.devices[0]!.lane.runs.map((r) => [...rel(p, r), r.access, r.local, r.memory, r.order]);
    assert.deepEqual(dev, [[0, 8, 'write', false, 'system', 1], [8, 16, 'read', false, 'system', 0]]);
  });

  it('marks COW sharing after fork in both processes, and device-exclusive entries with their device', function () {
    const p = pictureOf('device gpu0\na = mmap 4 pages rw\nwrite a = i\nfork child\n');
    assert.ok(p.cpu.runs.every((r) => r.shared && !r.writable), JSON.stringify(p.cpu.runs));
    assert.deepEqual(p.processes, ['main', 'child']);
    const c = pictureOf('device gpu0\na = mmap 4 pages rw\nwrite a = i\nfork child\n', undefined, 'child');
    assert.deepEqual(c.cpu.runs.map((r) => [r.lo, r.hi]), p.cpu.runs.map((r) => [r.lo, r.hi]), 'the same frames');
    const x = pictureOf('device gpu0\na = mmap 4 pages rw\nwrite a = i\ngpu0 exclusive a\n');
    assert.deepEqual(x.cpu.runs.map((r) => [r.entry, r.exclusiveBy, r.memory]), [['device-exclusive', 'gpu0', 'system']]);
    assert.deepEqual(x.devices[0]!.lane.runs.map((r) => r.access), ['atomic']);
  });

  it('shows a migration in progress at migrate_vma_pages: collected pages from system frames to device frames', async function () {
    const ctl = new ScriptController('t.hmm', 'device gpu0\na = mmap 8 pages rw\nwrite a = i\nmigrate a to gpu0\n', { output: () => undefined });
    ctl.reset();
    let phase = '';
    for (let i = 0; i < 40 && phase !== 'pages'; i++) {
      const r = await ctl.stepIn();
      if (r.kind === 'ended') break;
      phase = ctl.sim.pendingMigrations[0]?.phase ?? '';
    }
    assert.equal(phase, 'pages', 'stepped into migrate_vma_pages');
    const p = buildPicture(ctl.sim, ctl.interp.process);
    assert.equal(p.now.migrations.length, 1);
    const m = p.now.migrations[0]!;
    assert.equal(m.direction, 'to-device');
    assert.equal(m.cpages, 8);
    assert.deepEqual(m.moving.map((x) => [x.end - x.start, x.from?.memory, x.to?.memory]), [[8, 'system', 'gpu0']]);
    assert.ok(p.now.kernel.some((k) => k.startsWith('migrate_vma_pages')), p.now.kernel.join(' | '));
    assert.ok(p.cpu.runs.every((r) => r.entry === 'migration'), 'CPU entries are migration entries meanwhile');
  });

  it('a million resident pages: a handful of exact runs; fragmented lanes are summarised in buckets within maxRuns', function () {
    const big = pictureOf('device gpu0 private memory 8 GiB\nb = mmap 4 GiB rw\nwrite b = i\nmigrate b to gpu0\n');
    assert.equal(big.cpu.granularity, 1);
    assert.ok(big.cpu.runs.length <= 64, `${big.cpu.runs.length} runs`);
    assert.equal(big.cpu.runs.reduce((n, r) => n + r.end - r.start, 0), 1 << 20);
    const frag = pictureOf('device gpu0\na = mmap 256 pages rw\nwrite a = i\nmigrate a to gpu0\nrepeat 128 as k {\n  read a[2 * k]\n}\n', 32);
    assert.ok(frag.cpu.granularity > 1, 'bucketed');
    assert.ok(frag.cpu.runs.length <= 64, `${frag.cpu.runs.length} runs`);
    assert.ok(frag.cpu.runs.some((r) => r.mixed), 'buckets of mixed pages say so');
    assert.equal(frag.cpu.runs[0]!.order, 'mixed');
  });
});
