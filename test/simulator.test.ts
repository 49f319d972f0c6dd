// Layer: tests of the simulator mechanisms, driven through small inline .hmm scripts
// (runScriptText) and checked both by the scripts' own expectations and by inspecting the
// simulator the run leaves behind (page states, notifier records, events, frames, devices).

import * as assert from 'node:assert/strict';
import { ADDRESS_SPACE_PAGES, HPAGE_PMD_NR, MMAP_BASE_VPN } from '../src/hmm/constants';
import { indexOffsetOf } from '../src/hmm/page';
import { Dpt } from '../src/hmm/mirror';
import type { SimEvent } from '../src/hmm/events';
import type { Mm } from '../src/hmm/mm';
import type { NotifierRecord, Simulator } from '../src/hmm/simulator';
import { runScriptText, type ScriptRun } from '../src/hmm/lang/runner';

/** Runs a script (lines joined with newlines). */
function run(lines: readonly string[], file = 't.hmm'): ScriptRun {
  return runScriptText(file, lines.join('\n') + '\n');
}

/** Runs a script that must parse, check and run to its end; returns its simulator. */
function runOk(lines: readonly string[], file = 't.hmm'): { run: ScriptRun; sim: Simulator } {
  const r = run(lines, file);
  assert.deepEqual(r.diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`), [], 'the script should be accepted');
  assert.equal(r.error, undefined, `the script should run to its end, but: ${r.error}`);
  assert.ok(r.sim !== undefined);
  return { run: r, sim: r.sim };
}

function proc(sim: Simulator, name: string): Mm {
  const mm = sim.process(name);
  assert.ok(mm !== undefined, `no process ${name}`);
  return mm;
}

/** Virtual page number of page `k` of mapping `name`. */
function vpn(sim: Simulator, name: string, k = 0): number {
  const b = sim.bindings.get(name);
  assert.ok(b !== undefined, `no mapping ${name}`);
  return b.start + k;
}

/** The step number of the (first) statement execution at a script line, if it caused any event. */
function stepOfLine(r: ScriptRun, line: number): number | undefined {
  return r.events.find((x) => x.loc?.line === line)?.step;
}

/** Notifier callbacks raised by the statement at `line`, optionally only in process `mmName`'s mirrors. */
function notifiedAt(r: ScriptRun, sim: Simulator, line: number, mmName?: string): NotifierRecord[] {
  const step = stepOfLine(r, line);
  if (step === undefined) return [];
  return sim.notifierRecordsOf(step).filter((n) => mmName === undefined || n.mirror.mm.name === mmName);
}

function eventsAt(r: ScriptRun, line: number): SimEvent[] {
  return r.events.filter((e) => e.loc?.line === line);
}

describe('simulator: CPU faults', () => {
  it('maps the shared zero page on a read fault of an untouched anonymous page', () => {
    const { run: r, sim } = runOk([
      'a = mmap 4 pages rw',
      'read a[1]',
      'expect a[1] is zero',
      'expect a[0] is empty',
      'expect a[1] == 0',
    ]);
    const mm = proc(sim, 'main');
    const st = sim.pageState(mm, vpn(sim, 'a', 1));
    assert.equal(st.kind, 'zero');
    assert.equal(st.pfn, 0, 'the zero page is frame 0');
    assert.equal(st.writable, false);
    assert.equal(sim.pageState(mm, vpn(sim, 'a', 0)).kind, 'empty');
    assert.equal(sim.stats.cpuFaults, 1);
    const faults = eventsAt(r, 2).filter((e) => e.kind === 'cpuFault');
    assert.equal(faults.length, 1);
    assert.ok(faults[0]!.kind === 'cpuFault' && faults[0]!.action === 'map-zero-page');
    assert.deepEqual(sim.pageContent(mm, vpn(sim, 'a', 1)), [0, 0]);
  });

  it('replaces the zero page with a fresh anonymous page on the first write', () => {
    const { sim } = runOk([
      'a = mmap 2 pages rw',
      'read a',
      'write a[0] = i + 5',
      'expect a[0] is system rw',
      'expect a[1] is zero',
      'expect a[0] == i + 5',
      'expect a[1] == 0',
    ]);
    const st = sim.pageState(proc(sim, 'main'), vpn(sim, 'a', 0));
    assert.equal(st.kind, 'system');
    assert.notEqual(st.pfn, 0);
  });

  it('raises SIGSEGV as a runtime error on a write to a read-only mapping', () => {
    const r = run(['a = mmap 2 pages r', 'read a', 'write a[1] = 1']);
    assert.equal(r.error, 't.hmm:3:7: SIGSEGV: write of a[1] (the mapping is not writable)');
  });

  it('places mappings below TASK_SIZE: 1 TiB from 0x7f0000000000, then mmap fails', () => {
    const { sim, run: ok } = runOk(['a = mmap 1023 GiB rw', 'write a[0] = 1', 'write a[200000000] = 2']);
    assert.equal(sim.bindings.get('a')!.start, 0x7f0000000);
    // The residency map walks populated page tables only (this used to visit all 268M pages).
    assert.match(ok.residency, /\[0\.\.1\) system rw\n  \[1\.\.200000000\) empty\n  \[200000000\.\.200000001\) system rw\n  \[200000001\.\.268173312\) empty/);
    const r = run(['a = mmap 1023 GiB rw', 'b = mmap 2 GiB rw']);
    assert.match(r.error ?? '', /^t\.hmm:2:1: mmap of 524288 pages: no room below TASK_SIZE/);
  });
});

describe('simulator: fork and COW', () => {
  const script = [
    'device gpu0',                 // 1
    'a = mmap 4 pages rw',         // 2
    'write a = i',                 // 3
    'gpu0 read a',                 // 4  main's mirror maps a
    'fork c',                      // 5
    'as c {',                      // 6
    '  gpu0 read a',               // 7  c's mirror maps a
    '}',                           // 8
    'write a[1] = 7',              // 9  COW in main only
    'expect notified gpu0 CLEAR a[1]',
    'expect a[1] is system rw',
    'expect a[0] is system ro shared',
    'as c {',
    '  expect a == i',
    '  expect a[1] is system ro',
    '  expect gpu0 maps a as read',
    '}',
    'expect a[1] == 7',
  ];

  it('COW on a write after fork raises CLEAR on the writer\'s mm only', () => {
    const { run: r, sim } = runOk(script);
    const all = notifiedAt(r, sim, 9);
    assert.ok(all.length > 0, 'the write should notify');
    const main = proc(sim, 'main');
    const child = proc(sim, 'c');
    for (const n of all) {
      assert.equal(n.mirror.mm, main, `only main's mirror is notified, got ${n.event} on ${n.mirror.mm.name}`);
      assert.equal(n.event, 'CLEAR');
      assert.equal(n.start, vpn(sim, 'a', 1));
      assert.equal(n.end, vpn(sim, 'a', 2));
    }
    // The parent's page is a new private copy; the child keeps the old one, now mapped once.
    const pst = sim.pageState(main, vpn(sim, 'a', 1));
    const cst = sim.pageState(child, vpn(sim, 'a', 1));
    assert.notEqual(pst.pfn, cst.pfn);
    assert.equal(pst.shared, false);
    assert.equal(cst.shared, false);
    // The untouched pages stay shared by both.
    assert.equal(sim.pageState(main, vpn(sim, 'a', 0)).pfn, sim.pageState(child, vpn(sim, 'a', 0)).pfn);
    const cow = eventsAt(r, 9).filter((e) => e.kind === 'cpuFault');
    assert.ok(cow.some((e) => e.kind === 'cpuFault' && e.action === 'cow-copy' && e.mm === 'main'));
  });

  it('fork write-protects the parent with PROTECTION_PAGE over the whole vma', () => {
    const { run: r, sim } = runOk(script);
    const recs = notifiedAt(r, sim, 5);
    assert.ok(recs.some((n) => n.event === 'PROTECTION_PAGE' && n.mirror.mm.name === 'main' &&
      n.start === vpn(sim, 'a', 0) && n.end === vpn(sim, 'a', 4)));
  });
});

describe('simulator: mprotect, munmap, madvise', () => {
  it('mprotect on a never-touched range raises no notifier; on a populated one PROTECTION_VMA', () => {
    const { run: r, sim } = runOk([
      'device gpu0',
      'a = mmap 8 pages rw',
      'b = mmap 1024 pages rw',
      'write a = i',
      'gpu0 read a',
      'mprotect b[600..700] r',     // 6: never touched, and no page table there
      'expect not notified gpu0',
      'mprotect a[2..6] r',         // 8
      'expect notified gpu0 PROTECTION_VMA a[2..6]',
      'expect a[2..6] is system ro',
      'expect a[..2] is system rw',
      'expect gpu0 maps a[..2] as write',
    ]);
    assert.deepEqual(notifiedAt(r, sim, 6), []);
    const recs = notifiedAt(r, sim, 8);
    assert.equal(recs.length, 1);
    assert.equal(recs[0]!.event, 'PROTECTION_VMA');
    assert.equal(recs[0]!.owner, null);
    assert.deepEqual([recs[0]!.start, recs[0]!.end], [vpn(sim, 'a', 2), vpn(sim, 'a', 6)]);
    // The device's mappings in the range (and, as dmirror erases inclusively, one past) are gone.
    const gpu0 = sim.device('gpu0');
    const mm = proc(sim, 'main');
    for (let k = 2; k < 7; k++) assert.equal(sim.mirrorMapping(mm, gpu0, vpn(sim, 'a', k)), 'none', `page ${k}`);
    assert.equal(sim.mirrorMapping(mm, gpu0, vpn(sim, 'a', 7)), 'write');
  });

  it('munmap raises UNMAP over the range and leaves the pages unmapped', () => {
    const { run: r, sim } = runOk([
      'device gpu0',
      'a = mmap 8 pages rw',
      'write a = i',
      'migrate a[4..] to gpu0',
      'munmap a[3..6]',             // 5
      'expect notified gpu0 UNMAP a[3..6]',
      'expect a[3..6] is unmapped',
      'expect a[..3] is system',
      'expect a[6..] is device gpu0',
      'expect gpu0 used == 2 pages',
    ]);
    const recs = notifiedAt(r, sim, 5);
    assert.ok(recs.length > 0);
    assert.ok(recs.every((n) => n.event === 'UNMAP'));
    const mm = proc(sim, 'main');
    assert.equal(sim.pageState(mm, vpn(sim, 'a', 4)).kind, 'unmapped');
    assert.equal(sim.device('gpu0').used, 2, 'the zapped device pages are freed');
  });

  it('madvise dontneed zaps with CLEAR and the pages read back as zero', () => {
    const { run: r, sim } = runOk([
      'device gpu0',
      'a = mmap 4 pages rw',
      'write a = i + 1',
      'gpu0 read a',
      'madvise a[1..3] dontneed',  // 5
      'expect notified gpu0 CLEAR',
      'expect a[1..3] is empty',
      'expect a[1..3] == 0',
      'expect a[0] == i + 1',
      'expect a[3] == i + 1',
    ]);
    assert.ok(notifiedAt(r, sim, 5).every((n) => n.event === 'CLEAR'));
  });
});

describe('simulator: hmm_range_fault through the device', () => {
  it('fails with EFAULT on a mapping without read permission', () => {
    const { sim } = runOk([
      'device gpu0',
      'a = mmap 4 pages none',
      'gpu0 read a -> EFAULT',
      'expect last.rc == EFAULT',
      'expect gpu0 maps a as none',
      'expect a is empty',
    ]);
    assert.equal(sim.mirrorMapping(proc(sim, 'main'), sim.device('gpu0'), vpn(sim, 'a', 0)), 'none');
  });

  it('fails with EPERM on a device write to a read-only mapping, writing nothing', () => {
    runOk([
      'device gpu0',
      'a = mmap 4 pages r',
      'gpu0 read a',
      'expect last.cpages == 4',
      'expect a is zero',
      'gpu0 write a = 9 -> EPERM',
      'expect last.rc == EPERM',
      'expect a == 0',
      'expect gpu0 maps a as read',
    ]);
  });

  it('an unexpected failure is a runtime error naming the errno', () => {
    const r = run(['device gpu0', 'a = mmap 4 pages none', 'gpu0 read a']);
    assert.equal(r.error, 't.hmm:3:1: gpu0 read a failed with EFAULT');
  });

  it('a device write faults the pages writable and maps them for write', () => {
    const { sim } = runOk([
      'device gpu0',
      'a = mmap 4 pages rw',
      'gpu0 write a = i * 3',
      'expect last.faults == 1',
      'expect a == i * 3',
      'expect a is system rw',
      'expect gpu0 maps a as write',
    ]);
    assert.equal(sim.deviceStats(sim.device('gpu0')).faults, 1);
  });
});

describe('simulator: migrate_vma', () => {
  it('skips a pinned page: it is not migrated and stays a pinned system page', () => {
    const { run: r, sim } = runOk([
      'device gpu0',
      'a = mmap 4 pages rw',
      'write a = i',
      'pin a[2]',
      'migrate a to gpu0 -> ENOENT',   // 5: dmirror reads back the unmigrated page: ENOENT
      'expect a[2] is system rw pinned',
      'expect a[..2] is device gpu0',
      'expect a[3] is device gpu0',
      'expect gpu0 used == 3 pages',
      'expect a == i',
      'unpin a[2]',
      'migrate a to gpu0',
      'expect last.cpages == 4',
      'expect a is device gpu0',
    ]);
    const setup = eventsAt(r, 5).find((e) => e.kind === 'migrate' && e.phase === 'setup');
    assert.ok(setup !== undefined && setup.kind === 'migrate');
    assert.deepEqual(setup.skipped.map((s) => [s.start - vpn(sim, 'a'), s.count, s.reason]), [[2, 1, 'pinned']]);
    assert.equal(setup.collected, 3);
    const fin = eventsAt(r, 5).find((e) => e.kind === 'migrate' && e.phase === 'finalize');
    assert.ok(fin !== undefined && fin.kind === 'migrate' && fin.migrated === 3);
  });

  it('does not migrate a shared mapping: ENOENT, the pages stay in system memory', () => {
    const { run: r, sim } = runOk([
      'device gpu0',
      's = mmap 4 pages rw shared',
      'write s = i',
      'migrate s to gpu0 -> ENOENT',  // 4
      'expect s is system',
      'expect gpu0 used == 0 pages',
      'expect s == i',
    ]);
    const ev = eventsAt(r, 4).filter((e) => e.kind === 'migrate');
    assert.ok(ev.length > 0);
    assert.ok(ev.every((e) => e.kind === 'migrate' && e.migrated === 0));
    assert.ok(ev.some((e) => e.kind === 'migrate' && e.skipped.some((s) => s.reason === 'file-backed' && s.count === 4)));
    assert.equal(sim.deviceStats(sim.device('gpu0')).pagesIn, 0);
  });

  it('migrates anonymous pages, with MIGRATE owned by the device, and counts them', () => {
    const { run: r, sim } = runOk([
      'device gpu0',
      'a = mmap 16 pages rw',
      'write a = i',
      'migrate a to gpu0',         // 4
      'expect last.cpages == 16',
      'expect last.data == i',
      'expect a is device gpu0 rw',
      'expect gpu0 maps a as write',
      'expect stats.gpu0.pages_in == 16',
    ]);
    const recs = notifiedAt(r, sim, 4);
    assert.ok(recs.length > 0);
    assert.ok(recs.every((n) => n.event === 'MIGRATE' && n.owner === 'gpu0'));
    const mm = proc(sim, 'main');
    for (let k = 0; k < 16; k++) {
      const st = sim.pageState(mm, vpn(sim, 'a', k));
      assert.equal(st.kind, 'device');
      assert.equal(st.device, 'gpu0');
      assert.equal(sim.frames.zone.get(st.pfn!), 2, 'a device-private frame');
    }
    assert.equal(sim.device('gpu0').used, 16);
  });

  it('migrate_to_ram on a CPU touch raises MIGRATE with the device as owner', () => {
    const { run: r, sim } = runOk([
      'device gpu0',
      'a = mmap 4 pages rw',
      'write a = i',
      'migrate a to gpu0',
      'read a[1]',                  // 5
      'expect notified gpu0 MIGRATE a[1] owner gpu0',
      'expect a[1] is system',
      'expect a[0] is device gpu0',
      'expect a == i',
      'expect stats.gpu0.pages_out == 1',
      'expect gpu0 used == 3 pages',
    ]);
    const recs = notifiedAt(r, sim, 5);
    assert.deepEqual(recs.map((n) => [n.event, n.owner, n.start - vpn(sim, 'a'), n.end - vpn(sim, 'a')]), [['MIGRATE', 'gpu0', 1, 2]]);
    const fault = eventsAt(r, 5).find((e) => e.kind === 'cpuFault');
    assert.ok(fault !== undefined && fault.kind === 'cpuFault' && fault.action === 'migrate_to_ram');
  });

  it('runs out of device memory: ENOENT and exactly the capacity in use', () => {
    const { sim } = runOk([
      'device g private memory 4 pages',
      'a = mmap 8 pages rw',
      'write a = i',
      'migrate a to g -> ENOENT',
      'expect g used == 4 pages',
      'expect a[..4] is device g',
      'expect a[4..] is system',
      'expect a == i',
    ]);
    const g = sim.device('g');
    assert.equal(g.used, 4);
    assert.equal(g.capacityPages, 4);
    assert.equal(g.freePages, 0);
  });

  it('a coherent device page is read by the CPU in place, without a notifier', () => {
    const { run: r, sim } = runOk([
      'device cxl0 coherent memory 16 pages',
      'a = mmap 4 pages rw',
      'write a = i',
      'migrate a to cxl0',
      'read a',                     // 5
      'expect not notified cxl0',
      'expect a is device cxl0 rw',
      'expect a == i',
    ]);
    assert.deepEqual(notifiedAt(r, sim, 5), []);
    const st = sim.pageState(proc(sim, 'main'), vpn(sim, 'a', 0));
    assert.equal(sim.frames.zone.get(st.pfn!), 3, 'a device-coherent frame');
  });
});

describe('simulator: device exclusive', () => {
  it('a CPU access restores an exclusive entry, raising CLEAR for that page', () => {
    const { run: r, sim } = runOk([
      'device gpu0',
      'a = mmap 4 pages rw',
      'write a = i',
      'gpu0 exclusive a',            // 4
      'expect notified gpu0 EXCLUSIVE',
      'expect a is exclusive gpu0',
      'expect gpu0 maps a as atomic',
      'read a[2]',                   // 8
      'expect notified gpu0 CLEAR a[2] owner none',
      'expect a[2] is system rw',
      'expect gpu0 maps a[2] as none',
      'expect a[..2] is exclusive gpu0',
      // dmirror erases [start, end] inclusive: the atomic mapping of a[3] goes too, while the
      // CPU entry stays device-exclusive, made through gpu0.
      'expect gpu0 maps a[3] as none',
      'expect a[3] is exclusive gpu0',
      'expect a == i',
      'gpu0 check-exclusive a -> EPERM',
      'write a[..2] = 4',
      'write a[3] = 4',
      'gpu0 check-exclusive a',
      'expect a is system rw',
    ]);
    const recs = notifiedAt(r, sim, 8);
    assert.deepEqual(recs.map((n) => [n.event, n.owner, n.start - vpn(sim, 'a'), n.end - vpn(sim, 'a')]), [['CLEAR', null, 2, 3]]);
    // The CPU entry of a[3] is still device-exclusive (restored by the write on line 18).
    assert.ok(r.events.some((e) => e.kind === 'cpuFault' && e.action === 'restore-exclusive' && e.loc?.line === 18 &&
      e.start === vpn(sim, 'a', 3)));
    const restore = eventsAt(r, 8).find((e) => e.kind === 'cpuFault');
    assert.ok(restore !== undefined && restore.kind === 'cpuFault' && restore.action === 'restore-exclusive');
  });
});

describe('simulator: fork of device-private pages', () => {
  it('both processes share the device page read-only', () => {
    const { sim } = runOk([
      'device gpu0',
      'a = mmap 4 pages rw',
      'write a = i',
      'migrate a to gpu0',
      'fork b',
      'expect notified gpu0 PROTECTION_PAGE',
      'expect a is device gpu0 ro shared',
      'as b {',
      '  expect a is device gpu0 ro shared',
      '  expect a == i',
      '}',
      'expect gpu0 used == 4 pages',
    ]);
    const pa = sim.pageState(proc(sim, 'main'), vpn(sim, 'a', 1));
    const pb = sim.pageState(proc(sim, 'b'), vpn(sim, 'a', 1));
    assert.equal(pa.pfn, pb.pfn);
    assert.equal(sim.frames.mapcount.get(pa.pfn!), 2);
    assert.equal(sim.device('gpu0').used, 4);
  });

  it('a write in the child migrates the shared device page back for both, then COWs', () => {
    // migrate_to_ram unmaps the folio through rmap, so both processes get the new system
    // page (read-only, as the device-private entries were), then the child's write COWs.
    runOk([
      'device gpu0',
      'a = mmap 4 pages rw',
      'write a = i',
      'migrate a to gpu0',
      'fork b',
      'as b {',
      '  write a[0] = 1',
      '  expect a[0] is system rw',
      '  expect a[0] == 1',
      '}',
      'expect a[0] is system ro',
      'expect a[1..] is device gpu0 ro shared',
      'expect a == i',
      'expect gpu0 used == 3 pages',
    ]);
  });
});

describe('simulator: process exit and device close', () => {
  it('exit raises RELEASE over the whole address space, then UNMAP', () => {
    const { run: r, sim } = runOk([
      'device gpu0',
      'a = mmap 4 pages rw',
      'write a = i',
      'fork b',
      'as b {',
      '  gpu0 read a',
      '}',
      'exit b',                      // 8
      'expect a == i',
    ]);
    const recs = notifiedAt(r, sim, 8, 'b');
    const events = recs.map((n) => n.event);
    assert.ok(events.includes('RELEASE') && events.includes('UNMAP'), `got ${events.join(', ')}`);
    assert.ok(events.indexOf('RELEASE') < events.indexOf('UNMAP'), 'RELEASE comes first');
    const rel = recs.find((n) => n.event === 'RELEASE')!;
    assert.deepEqual([rel.start, rel.end], [0, ADDRESS_SPACE_PAGES]);
    const unmap = recs.find((n) => n.event === 'UNMAP')!;
    assert.deepEqual([unmap.start, unmap.end], [vpn(sim, 'a', 0), vpn(sim, 'a', 4)]);
    const b = sim.mms.find((m) => m.name === 'b')!;
    assert.equal(b.alive, false);
    assert.equal(sim.driver.mirrors.some((m) => m.mm === b), false, 'the exiting process\'s mirrors close');
    assert.ok(r.events.some((e) => e.kind === 'process' && e.what === 'exit' && e.child === 'b'));
  });

  it('a statement in an exited process is a runtime error', () => {
    const r = run(['a = mmap 1 page rw', 'fork b', 'exit b', 'as b {', '  read a', '}']);
    assert.equal(r.error, 't.hmm:4:4: process b has exited');
  });

  it('DEV close evicts the device memory back to system memory', () => {
    const { sim } = runOk([
      'device gpu0',
      'a = mmap 8 pages rw',
      'write a = i - 3',
      'migrate a to gpu0',
      'expect gpu0 used == 8 pages',
      'gpu0 close',
      'expect a is system',
      'expect gpu0 used == 0 pages',
      'expect gpu0 maps a as none',
      'expect a == i - 3',
      'expect stats.gpu0.pages_out == 8',
    ]);
    assert.equal(sim.device('gpu0').used, 0);
    assert.equal(sim.driver.mirrors.length, 0);
    const s = sim.deviceStats(sim.device('gpu0'));
    assert.deepEqual([s.pagesIn, s.pagesOut], [8, 8]);
  });

  it('DEV release evicts with CLEAR but keeps the mirror', () => {
    const { sim } = runOk([
      'device gpu0',
      'a = mmap 4 pages rw',
      'write a = i',
      'migrate a to gpu0',
      'gpu0 release',
      'expect notified gpu0 CLEAR',
      'expect a is system',
      'expect gpu0 used == 0 pages',
    ]);
    assert.equal(sim.driver.mirrors.length, 1);
  });
});

describe('simulator: transparent huge pages', () => {
  it('the first write to a huge mapping maps a PMD THP; snapshot shows WRITE|PMD', () => {
    const { run: r, sim } = runOk([
      'device gpu0',
      'h = mmap 4 MiB rw huge',
      'write h[5] = 7',                 // 3
      'expect h[..512] is system rw',
      'expect h[512..] is empty',
      'gpu0 snapshot h[..512]',
      'expect last.cpages == 512',
      'expect last.flags == WRITE|PMD',
      'expect h[5] == 7',
      'expect h[6] == 0',
    ]);
    const mm = proc(sim, 'main');
    const head = sim.pageState(mm, vpn(sim, 'h', 0));
    assert.equal(head.huge, true);
    assert.equal(head.pfn! % HPAGE_PMD_NR, 0, 'the THP head is 2 MiB aligned');
    assert.equal(vpn(sim, 'h', 0) % HPAGE_PMD_NR, 0, 'a huge mapping is 2 MiB aligned');
    for (const k of [1, 5, 511]) {
      const st = sim.pageState(mm, vpn(sim, 'h', k));
      assert.equal(st.huge, true);
      assert.equal(st.pfn, head.pfn! + k);
    }
    assert.equal(sim.frames.order.get(head.pfn!), 9);
    const fault = eventsAt(r, 3).find((e) => e.kind === 'cpuFault');
    assert.ok(fault !== undefined && fault.kind === 'cpuFault' && fault.action === 'new-thp');
    assert.equal(fault.end - fault.start, HPAGE_PMD_NR);
  });

  it('a mapping without huge gets base pages', () => {
    runOk([
      'device gpu0',
      'a = mmap 4 MiB rw',
      'write a[5] = 7',
      'expect a[5] is system rw',
      'expect a[4] is empty',
      'gpu0 snapshot a[5]',
      'expect last.flags == WRITE',
    ]);
  });
});

describe('simulator: determinism', () => {
  it('the same script twice gives identical event streams', () => {
    const script = [
      'device gpu0',
      'device gpu1 private memory 8 pages',
      'a = mmap 32 pages rw',
      'write a = i ^ 0x55',
      'migrate a[..16] to gpu0',
      'migrate a[16..24] to gpu1',
      'fork c',
      'as c {',
      '  gpu0 write a[16..20] = i',
      '  read a[..4]',
      '}',
      'gpu0 exclusive a[24..]',
      'mprotect a[..8] r',
      'read a',
      'madvise a[8..12] dontneed',
      'exit c',
      'migrate a to system',
      'expect a[12..] == i ^ 0x55',
    ];
    const one = runOk(script).run;
    const two = runOk(script).run;
    assert.ok(one.events.length > 20);
    assert.equal(JSON.stringify(one.events), JSON.stringify(two.events));
    assert.equal(one.residency, two.residency);
    assert.equal(one.statements, two.statements);
  });
});

describe('simulator: runtime errors', () => {
  it('a failed state expectation names what it found, as file:line:col: message', () => {
    const r = run([
      'device gpu0',
      'a = mmap 8 pages rw',
      'write a = i',
      'migrate a[..3] to gpu0',
      '  expect a[3] is device gpu0',
    ], 'dir/x.hmm');
    assert.equal(r.error, 'dir/x.hmm:5:3: expected a[3] is device gpu0, found system rw');
    assert.equal(r.statements, 4, 'the statements before it ran');
  });

  it('a failed data expectation names the word that differs', () => {
    const r = run(['a = mmap 2 pages rw', 'write a = i', 'write a[1] = 5', 'expect a == i']);
    assert.equal(r.error, 't.hmm:4:1: expected a == i, found a[1] word 0 (i = 1024) = 5, expected 1024');
  });

  it('a long data expectation finds the one page that differs, wherever it is', () => {
    // Pages holding the pattern at their own place are skipped a PTE page at a time; a page that
    // does not is looked at word by word (also at and past the loop's preemption points).
    for (const k of [0, 511, 512, 4094, 4095, 4096, 9999]) {
      const r = run(['a = mmap 10000 pages rw', 'write a = i', `write a[${k}] = 7`, 'expect a == i']);
      assert.equal(r.error, `t.hmm:4:1: expected a == i, found a[${k}] word 0 (i = ${k * 1024}) = 7, expected ${k * 1024}`);
    }
    // A page equal to the pattern but written apart (its own bytes) passes.
    assert.equal(run(['a = mmap 5000 pages rw', 'write a = i', 'write a[4500] = i', 'expect a == i', 'expect a[..4500] == i']).error, undefined);
    // Constants: every page of one constant reads alike; an unwritten page is zeros.
    assert.equal(run(['a = mmap 5000 pages rw', 'write a = 3', 'expect a == 3', 'b = mmap 600 pages rw', 'expect b == 0']).error, undefined);
    assert.equal(run(['a = mmap 5000 pages rw', 'write a = 3', 'write a[4999] = 4', 'expect a == 3']).error,
      't.hmm:4:1: expected a == 3, found a[4999] word 0 (i = 5118976) = 4, expected 3');
  });

  it('failed device-mapping, counter and notifier expectations', () => {
    assert.equal(run(['device gpu0', 'a = mmap 2 pages rw', 'gpu0 read a', 'expect gpu0 maps a as write']).error,
      't.hmm:4:1: expected gpu0 maps a[0] as write, found read');
    assert.equal(run(['device gpu0', 'a = mmap 2 pages rw', 'gpu0 read a', 'expect last.cpages == 3']).error,
      't.hmm:4:1: expected last.cpages == 3, found 2');
    assert.equal(run(['device gpu0', 'a = mmap 2 pages rw', 'gpu0 read a', 'read a', 'expect notified gpu0 CLEAR']).error,
      't.hmm:5:1: expected gpu0\'s mirror notified CLEAR, found no callback');
    assert.equal(run(['device gpu0', 'a = mmap 2 pages rw', 'gpu0 read a', 'munmap a', 'expect not notified gpu0']).error,
      't.hmm:5:1: expected no callback of gpu0\'s mirror, found 1 (first: UNMAP [0x7f0000000000, 0x7f0000002000))');
  });

  it('an expected errno that does not happen is an error', () => {
    assert.equal(run(['device gpu0', 'a = mmap 2 pages rw', 'gpu0 read a -> EFAULT']).error,
      't.hmm:3:1: gpu0 read a succeeded, expected it to fail with EFAULT');
  });

  it('a range outside its mapping is an error at the range', () => {
    // A constant range is rejected before the run; one computed from a loop variable at run time.
    assert.deepEqual(run(['a = mmap 2 pages rw', 'read a[1..3]']).diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`),
      ["2:11: range end 3 is beyond the end of 'a' (2 pages)"]);
    const r = run(['a = mmap 2 pages rw', 'repeat 3 as k {', '  read a[k]', '}']);
    assert.equal(r.error, 't.hmm:3:8: a[2..3] is outside a (2 pages)');
  });
});

describe('simulator: the invariant checker catches broken state', () => {
  it('a page whose contents changed behind the process\'s back: data lost', () => {
    const { sim } = runOk(['device gpu0', 'a = mmap 4 pages rw', 'write a = i', 'migrate a[2..] to gpu0']);
    assert.doesNotThrow(() => sim.checkInvariants(), 'a clean run passes the check');
    const mm = proc(sim, 'main');
    for (const k of [1, 3]) {
      const v = vpn(sim, 'a', k);
      const pfn = sim.pageState(mm, v).pfn!;
      const saved = sim.frames.contentId.get(pfn);
      sim.frames.contentId.set(pfn, 0); // the page now reads as zeros
      mm.pt.markDirty(v);
      assert.throws(() => sim.checkInvariants(), (e: Error) => {
        assert.equal(e.message, `invariant violated: main:a[${k}]: data lost: the page holds 0 but i was last written`);
        return true;
      });
      sim.frames.contentId.set(pfn, saved);
      mm.pt.markDirty(v);
      assert.doesNotThrow(() => sim.checkInvariants(), 'repaired');
    }
    assert.ok(sim.log.events.some((e) => e.kind === 'invariant' && e.message.includes('data lost')));
  });

  it('a run of pages checked at its two ends still catches a change anywhere in it', () => {
    // 64 pages written in order: their frames' fields are one line each (frameStore.ts forms),
    // which the checker reads at the run's ends.
    const { sim } = runOk(['a = mmap 64 pages rw', 'write a = i']);
    assert.doesNotThrow(() => sim.checkInvariants());
    const mm = proc(sim, 'main');
    const pfnOf = (k: number): number => sim.pageState(mm, vpn(sim, 'a', k)).pfn!;
    // One page in the middle.
    const mid = pfnOf(30);
    const saved = sim.frames.contentPage.get(mid);
    sim.frames.contentPage.set(mid, saved + 1);
    mm.pt.markDirty(vpn(sim, 'a', 30));
    assert.throws(() => sim.checkInvariants(), /main:a\[30\]: data lost/);
    sim.frames.contentPage.set(mid, saved);
    mm.pt.markDirty(vpn(sim, 'a', 30));
    assert.doesNotThrow(() => sim.checkInvariants(), 'repaired');
    // Every page one index off: still one line, wrong at both ends.
    for (let k = 0; k < 64; k++) sim.frames.setIndex(pfnOf(k), sim.frames.indexOf(pfnOf(k)) + 1);
    mm.pt.markDirty(vpn(sim, 'a', 0));
    assert.throws(() => sim.checkInvariants(), (e: Error) => {
      assert.match(e.message, /^invariant violated: main:a\[0\]: page->index \d+ is not where the VMA maps it .*\(and 63 more\)$/);
      return true;
    });
  });

  it('a device mapping of a page the CPU does not map: no longer maps', () => {
    const { sim } = runOk(['device gpu0', 'a = mmap 4 pages rw', 'write a = i', 'gpu0 read a[..2]']);
    const mm = proc(sim, 'main');
    const m = sim.driver.mirrorOf(mm, sim.device('gpu0'));
    assert.ok(m !== undefined);
    // The mirror claims page 3, which the CPU maps with another frame (a stale entry).
    const other = sim.pageState(mm, vpn(sim, 'a', 0)).pfn!;
    m.store(vpn(sim, 'a', 3), other, Dpt.READ);
    assert.throws(() => sim.checkInvariants(), /invariant violated: gpu0 mirror of main:a\[3\]: the device still maps a page the CPU no longer maps there/);
    // A device mapping where the CPU maps nothing at all.
    const { sim: sim2 } = runOk(['device gpu0', 'a = mmap 4 pages rw', 'gpu0 read a[0]']);
    const m2 = sim2.driver.mirrorOf(proc(sim2, 'main'), sim2.device('gpu0'))!;
    m2.store(vpn(sim2, 'a', 2), 12345, Dpt.WRITE);
    assert.throws(() => sim2.checkInvariants(), /no longer maps/);
  });

  it('a writable device mapping of a read-only CPU page is caught', () => {
    const { sim } = runOk(['device gpu0', 'a = mmap 2 pages rw', 'read a', 'gpu0 read a']);
    const mm = proc(sim, 'main');
    const m = sim.driver.mirrorOf(mm, sim.device('gpu0'))!;
    const v = vpn(sim, 'a', 1);
    m.store(v, sim.pageState(mm, v).pfn!, Dpt.WRITE);
    assert.throws(() => sim.checkInvariants(), /the device maps writable a page the CPU maps read-only/);
  });

  it('a page mapped where its VMA\'s offset does not put its index is caught (the rmap would miss it)', () => {
    // After the move the pages keep their index and the moved VMA its old offset: consistent.
    const { sim } = runOk(['device gpu0', 'a = mmap 8 pages rw', 'write a = i', 'r = mremap a[0..2] to a[5] dontunmap', 'gpu0 read a[5..7]']);
    assert.doesNotThrow(() => sim.checkInvariants(), 'a clean run passes the check');
    const mm = proc(sim, 'main');
    const v = vpn(sim, 'a', 5);
    const pfn = sim.pageState(mm, v).pfn!;
    assert.equal(sim.frames.indexOf(pfn), vpn(sim, 'a', 0), 'the moved page keeps the index of its first address');
    sim.frames.setIndex(pfn, v); // the index following the page, as the model once had it
    mm.pt.markDirty(v);
    assert.throws(() => sim.checkInvariants(), /invariant violated: main:a\[5\]: page->index \d+ is not where the VMA maps it/);
  });

  it('page->index holds file offsets and mmap addresses apart in four bytes', () => {
    // A private file mapping's written page is anonymous with the file offset as its index; a
    // page of an anonymous mmap has its address.
    const { sim } = runOk(['file f 8 pages = i', 'a = mmap f rw', 'b = mmap 4 pages rw', 'write a[6] = 1', 'write b[3] = 2']);
    const mm = proc(sim, 'main');
    assert.equal(sim.frames.indexOf(sim.pageState(mm, vpn(sim, 'a', 6)).pfn!), 6);
    assert.equal(sim.frames.indexOf(sim.pageState(mm, vpn(sim, 'b', 3)).pfn!), vpn(sim, 'b', 3));
    assert.equal(indexOffsetOf(0) === indexOffsetOf(MMAP_BASE_VPN), false, 'a file offset 0 is not the mmap base');
    assert.throws(() => indexOffsetOf(MMAP_BASE_VPN / 2), /page index \d+ is neither a file offset nor near the mmap base/);
  });

  it('a page of a PTE-mapped large folio whose folio is not held whole is caught', () => {
    // The munmap splits the THP's PMD: the rest is a PTE-mapped large folio, held by its first page.
    const { sim } = runOk(['a = mmap 512 pages rw huge', 'write a = i', 'munmap a[0..4]']);
    assert.doesNotThrow(() => sim.checkInvariants(), 'a clean run passes the check');
    const mm = proc(sim, 'main');
    const v = vpn(sim, 'a', 9);
    const head = sim.pageState(mm, v).pfn! - 9;
    const f = sim.frames;
    const refs = f.refcount.get(head);
    f.refcount.set(head, 0); // the folio's references gone while its pages are mapped
    mm.pt.markDirty(v);
    assert.throws(() => sim.checkInvariants(), /invariant violated: main:a\[4\]: a page of a PTE-mapped large folio \(pfn \d+\) whose folio is not held whole: its first page has 0 references/);
    f.refcount.set(head, refs);
    f.refcount.set(head + 9, 1); // a reference counted on the page instead of the folio
    mm.pt.markDirty(v);
    assert.throws(() => sim.checkInvariants(), /main:a\[9\]: a page of a PTE-mapped large folio .* this page 1/);
  });

  it('a present entry over a freed frame is caught', () => {
    const r = runScriptText('t.hmm', 'a = mmap 2 pages rw\nwrite a = i\nread a\n', {});
    assert.equal(r.error, undefined);
    const sim = r.sim!;
    const mm = proc(sim, 'main');
    const v = vpn(sim, 'a', 0);
    // A present entry pointing at a frame that was freed under it.
    const pfn = sim.pageState(mm, v).pfn!;
    sim.frames.zone.set(pfn, 0); // free
    mm.pt.markDirty(v);
    assert.throws(() => sim.checkInvariants(), /present entry points at a frame in zone free/);
  });
});

// Regressions: simulator bugs these tests found (since fixed); each states the behaviour the
// spec asks for.
describe('simulator: regressions', () => {
  it('a partly unmapped PTE-mapped THP stays one folio until its last reference goes, pins included, then is freed whole', () => {
    // Linux: __folio_remove_rmap queues the folio (deferred_split_folio); folio->_refcount is one
    // count, and __folio_put frees all 512 pages with the last reference (seed 90012).
    const prefix = ['a = mmap 512 pages rw huge', 'write a = i', 'munmap a[0..4]'];
    const { sim } = runOk(prefix);
    const f = sim.frames;
    const head = sim.pageState(proc(sim, 'main'), vpn(sim, 'a', 4)).pfn! - 4;
    assert.equal(head % HPAGE_PMD_NR, 0);
    assert.equal(f.zone.get(head), 1, 'the unmapped first page is not freed');
    assert.equal(f.refcount.get(head), HPAGE_PMD_NR - 4, 'a reference per mapped page, on the first page');
    assert.equal(f.mapcount.get(head), 0);
    const inUse = f.systemInUse;
    for (const [lines, held] of [[['munmap a[4..512]'], false], [['pin a[100]', 'munmap a[4..512]'], true], [['pin a[100]', 'munmap a[4..512]', 'unpin a[100]'], false]] as const) {
      const { sim: s2 } = runOk([...prefix, ...lines]);
      const g = s2.frames;
      for (let p = head; p < head + HPAGE_PMD_NR; p++) assert.equal(g.zone.get(p), held ? 1 : 0, `${lines.join('; ')}: frame ${p - head}`);
      assert.equal(g.systemInUse, held ? inUse : inUse - HPAGE_PMD_NR, lines.join('; '));
      if (held) assert.equal(g.refcount.get(head), 1, 'the pin\'s reference holds the folio');
    }
  });

  it('dmirror reading its own device-private page that its mirror no longer maps is a kernel oops, as on Linux', () => {
    // Linux 6.12 in the VM: dmirror_do_fault stores the device-private struct page that
    // hmm_range_fault returns for the device's own memory, and dmirror_do_read's copy faults.
    const r = run(['device gpu0', 'a = mmap 8 pages rw', 'write a = i', 'migrate a to gpu0', 'read a[4]', 'gpu0 read a']);
    assert.match(r.error ?? '', /:6:1: kernel oops in dmirror_do_read: a\[5\] is in gpu0's own private memory/);
    const w = run(['device gpu0', 'a = mmap 8 pages rw', 'write a = i', 'migrate a to gpu0', 'read a[4]', 'gpu0 write a = 1']);
    assert.match(w.error ?? '', /:6:1: kernel oops in dmirror_do_write/);
    // Migrating again first maps every page in the device page table: no fault, no oops.
    const ok = run(['device gpu0', 'a = mmap 8 pages rw', 'write a = i', 'migrate a to gpu0', 'read a[4]', 'migrate a to gpu0', 'gpu0 read a', 'expect last.faults == 0', 'expect last.data == i']);
    assert.equal(ok.error, undefined);
  });

  it('the oops is in the copy after every chunk is faulted: a later chunk failing answers its errno, and the stored page oopses a later copy', () => {
    // Linux 6.12 in the VM: dmirror_fault faults all remaining chunks before dmirror_do_write
    // copies; the chunk over the munmapped hole fails (EFAULT) first. The device-private pages
    // the earlier chunks stored stay in the mirror, and the next read or migrate copies from one.
    for (const linux of ['linux mainline', 'linux 6.12']) {
      const setup = [linux, 'device gpu0', 'a = mmap 200 pages rw', 'write a = i', 'munmap a[150..200]', 'migrate a[0..150] to gpu0',
        'read a[0..60]', 'gpu0 write a[40..160] = 1 -> EFAULT'];
      assert.equal(run(setup).error, undefined, linux);
      const r = run([...setup, 'gpu0 read a[100..101]']);
      assert.match(r.error ?? '', /:9:1: kernel oops in dmirror_do_read: a\[100\] is in gpu0's own private memory and gpu0's mirror holds the device-private page itself/, linux);
      const m = run([...setup, 'migrate a[100..101] to gpu0']);
      assert.match(m.error ?? '', /:9:1: kernel oops in dmirror_do_read: a\[100\]/, linux);
      // The failed chunk stored nothing: its pages still read through the migration's entries.
      const ok = run([...setup, 'gpu0 read a[140..150]', 'expect last.faults == 0', 'expect last.data == i']);
      assert.equal(ok.error, undefined, linux);
    }
  });

  it('an emptied PTE page is not pmd_none: 6.12 maps base pages under it; mainline frees it on a whole-table MADV_DONTNEED (PT_RECLAIM)', () => {
    // Seen in the VM (test/kernel-regress/dontneed-keeps-empty-pte-page.hmm): 6.12 keeps the
    // PTE page the migration allocated, so the write after DONTNEED is a base page.
    const script = (linux: string, more: string[]): string[] => [linux, 'device gpu0', 'a = mmap 512 pages rw huge', 'migrate a[0..8] to gpu0', ...more, 'write a[100] = 7', 'gpu0 snapshot a[100]'];
    assert.equal(run([...script('linux 6.12', ['madvise a dontneed']), 'expect last.flags == WRITE']).error, undefined);
    assert.equal(run([...script('linux mainline', ['madvise a dontneed']), 'expect last.flags == WRITE|PMD']).error, undefined);
    // A DONTNEED that does not cover the PTE page whole leaves it, on mainline too.
    assert.equal(run([...script('linux mainline', ['madvise a[0..511] dontneed']), 'expect last.flags == WRITE']).error, undefined);
  });

  it('a migration that skips a PMD-mapped THP leaves it PMD-mapped; a later partial migration splits it cleanly', () => {
    // Found by the kernel oracle's random programs: finalize cleared the PMD flag of a skipped
    // THP, and the next split freed the folio while 512 ptes still mapped it.
    const r = run([
      'device gpu0',
      'a = mmap 512 pages rw huge',
      'write a[510] = 1',
      'migrate a[389..460] to system',
      'gpu0 snapshot a[0..2]',
      'expect last.flags[0] == WRITE|PMD',
      'migrate a[174..388] to gpu0',
      'expect a[174..388] is device gpu0',
      'expect a[510] == 1',
    ]);
    assert.equal(r.error, undefined);
  });

  it('make_device_exclusive of a device-coherent page is accepted by the invariant checker', () => {
    // The kernel makes a device-exclusive entry over an anonymous coherent folio (GUP without
    // FOLL_LONGTERM leaves it in place); the invariant checker once accepted only system frames.
    const r = run([
      'device cxl0 coherent',
      'a = mmap 1 page rw',
      'migrate a to cxl0',
      'cxl0 exclusive a',
      'read a',
      'expect a == 0',
    ]);
    assert.equal(r.error, undefined);
  });

  it('a child\'s CPU fault on a device page the parent migrated drops the child\'s device mapping', () => {
    // The child's mirror ignores its own device's MIGRATE event, so migrate_to_ram must drop
    // every mirror's mapping of the leaving device page, not only the migrating mirror's.
    // The child's device maps the page through a GPU job (a real driver maps its own page in
    // place; test_hmm's READ would oops there, see the dmirror oops test above).
    const r = run([
      'device gpu0',
      'kernel touch(x) {',
      '  read x',
      '}',
      'a = mmap 1 page rw',
      'migrate a to gpu0',
      'fork c',
      'as c {',
      '  launch touch(a) on gpu0',
      '  wait all',
      '  expect gpu0 maps a as read',
      '  read a',
      '  expect a is system',
      '  expect gpu0 maps a as none',
      '}',
    ]);
    assert.equal(r.error, undefined);
  });

  it('MIGRATE_TO_SYS in a child erases the caller\'s dpt entry', () => {
    // dmirror_migrate_to_system passes the calling mirror to the alloc-and-copy step, which
    // xa_erases there (the simulator once erased in the page's owning mirror instead).
    const r = run([
      'device gpu0',
      'kernel touch(x) {',
      '  read x',
      '}',
      'a = mmap 1 page rw',
      'migrate a to gpu0',
      'fork c',
      'as c {',
      '  launch touch(a) on gpu0',
      '  wait all',
      '  expect gpu0 maps a as read',
      '  migrate a to system',
      '  expect a is system',
      '  expect gpu0 maps a as none',
      '}',
    ]);
    assert.equal(r.error, undefined);
  });
});

describe('simulator: kernel version profiles', () => {
  // A partly migrated THP: mainline migrates it whole to device-private memory (a device THP);
  // Linux 6.12 has no device THPs and splits it first, so the device maps base pages.
  const thp = ['device gpu0', 'a = mmap 512 pages rw huge', 'write a = i', 'migrate a to gpu0', 'gpu0 snapshot a[0..2]'];

  it('mainline migrates a THP whole; `linux 6.12` splits it, as does --linux 6.12 / RunOptions.linux', () => {
    const main = runOk(thp);
    assert.equal(main.sim.profile.name, 'mainline');
    assert.equal(main.sim.deviceStats(main.sim.devices[0]!).pagesIn, 512);
    const directive = run(['linux 6.12', ...thp, 'expect last.flags[0] == DEV_PRIVATE_LOCAL|WRITE']);
    assert.equal(directive.error, undefined);
    const mainlineFlags = run([...thp, 'expect last.flags[0] == DEV_PRIVATE_LOCAL|WRITE|PMD']);
    assert.equal(mainlineFlags.error, undefined);
    const option = runScriptText('t.hmm', [...thp, 'expect last.flags[0] == DEV_PRIVATE_LOCAL|WRITE'].join('\n'), { linux: '6.12' });
    assert.equal(option.error, undefined);
    // The script's own line wins over the option.
    const both = runScriptText('t.hmm', ['linux mainline', ...thp, 'expect last.flags[0] == DEV_PRIVATE_LOCAL|WRITE|PMD'].join('\n'), { linux: '6.12' });
    assert.equal(both.error, undefined);
  });

  it('6.12 has no HMM_DMIRROR_FLAGS (fail-next-alloc fails with EINVAL); migrated holes are writable there', () => {
    assert.equal(run(['linux 6.12', 'device gpu0', 'gpu0 fail-next-alloc -> EINVAL']).error, undefined);
    assert.equal(run(['device gpu0', 'gpu0 fail-next-alloc']).error, undefined);
    // The CPU entry of a migrated hole is writable either way (migrate_vma_insert_page looks at
    // VM_WRITE); what differs is the driver's own mapping (the dst WRITE flag).
    const hole = ['device gpu0', 'a = mmap 1 page rw', 'migrate a to gpu0', 'expect a is device gpu0 rw'];
    assert.equal(run(['linux 6.12', ...hole, 'expect gpu0 maps a as write']).error, undefined);
    assert.equal(run([...hole, 'expect gpu0 maps a as read']).error, undefined);
  });
});

describe('simulator: splitting a THP (found by the kernel oracle)', () => {
  it('a real split maps the subpages that hold only zeros to the shared zero page, as 6.12 does', () => {
    // migrate_vma_collect_pmd's split_folio on 6.12: __split_huge_page remaps with
    // RMP_USE_SHARED_ZEROPAGE, so untouched subpages snapshot as ZERO|READ afterwards.
    const r = run(['linux 6.12', 'device d0', 'm = mmap 1024 pages rw huge', 'd0 write m[711..893] = i + 7682',
      'migrate m[670..945] to system', 'd0 snapshot m[512..514]', 'expect last.flags == ZERO|READ',
      'expect m[711..893] == i + 7682', 'expect m[512] == 0']);
    assert.equal(r.error, undefined);
  });
});

describe('simulator: fault-around (found by the kernel oracle)', () => {
  it('a read fault on a file mapping maps the page-cache pages of its 16-page window, writable when shared', () => {
    const shared = run(['device d0', 'file f 31 pages = i + 1', 'm = mmap f rw shared', 'd0 read m[30]',
      'd0 snapshot m[16..31]', 'expect last.flags == WRITE', 'd0 snapshot m[15]', 'expect last.flags == NONE']);
    assert.equal(shared.error, undefined);
    const priv = run(['file f 8 pages', 'm = mmap f rw', 'read m[3]', 'expect m[..8] is system ro', 'write m[5] = 7', 'expect m[5] is system rw']);
    assert.equal(priv.error, undefined);
  });
});

describe('simulator: fork and the huge zero page (found by the kernel oracle)', () => {
  it('the huge zero page stays PMD-mapped in parent and child (READ|PMD in a snapshot); a write in the child copies', () => {
    const r = run(['device d0', 'm = mmap 1024 pages rw huge', 'read m[600]', 'fork c', 'd0 snapshot m[512..514]',
      'expect last.flags == READ|PMD', 'as c {', '  d0 snapshot m[512..514]', '  expect last.flags == READ|PMD',
      '  write m[513] = 5', '  expect m[513] == 5', '}', 'expect m[513] == 0']);
    assert.equal(r.error, undefined);
  });
});

describe('simulator: evicting a device-exclusive coherent page (found by the kernel oracle)', () => {
  const exclusiveThenClose = ['device d0 coherent', 'm = mmap 4 pages rw', 'write m = i', 'migrate m to d0', 'd0 exclusive m', 'd0 close'];

  it('6.12: close leaves the page on the device, mapped read-only, and a later RELEASE hangs in memunmap_pages', () => {
    const r = run(['linux 6.12', ...exclusiveThenClose, 'd0 snapshot m', 'expect last.flags == DEV_COHERENT_LOCAL|READ',
      'migrate m to system', 'expect last.cpages == 0', 'write m = i + 1', 'expect m is device d0 rw', 'munmap m', 'd0 release']);
    assert.match(r.error ?? '', /:15:1: kernel hang in memunmap_pages: RELEASE waits for d0's 4 page\(s\) still in use .*device-exclusive entry/);
  });

  it('6.12: a RELEASE that meets the exclusive page itself hangs there', () => {
    const r = run(['linux 6.12', ...exclusiveThenClose.slice(0, 5), 'd0 release']);
    assert.match(r.error ?? '', /:7:1: kernel hang in memunmap_pages/);
  });

  it('mainline migrates the exclusive page back to system memory on close and RELEASE', () => {
    assert.equal(run([...exclusiveThenClose, 'expect m is system rw', 'expect m == i', 'd0 release']).error, undefined);
    assert.equal(run([...exclusiveThenClose.slice(0, 5), 'd0 release', 'expect m is system rw']).error, undefined);
  });
});

describe('simulator: fork of a VMA only ever read (found by the kernel oracle)', () => {
  it('a read fault maps the zero page without an anon_vma, so the child gets no copy of the entries', () => {
    const r = run(['device d0', 'm = mmap 8 pages rw', 'read m[2..5]', 'fork c', 'as c {', '  d0 snapshot m[2..5]',
      '  expect last.flags == NONE', '}', 'd0 snapshot m[2..5]', 'expect last.flags == ZERO|READ']);
    assert.equal(r.error, undefined);
    // Once written, the VMA has an anon_vma and fork copies the zero-page entries too.
    const w = run(['device d0', 'm = mmap 8 pages rw', 'read m[2..5]', 'write m[7] = 1', 'fork c', 'as c {',
      '  d0 snapshot m[2..5]', '  expect last.flags == ZERO|READ', '}']);
    assert.equal(w.error, undefined);
  });
});

describe('simulator: fork of a read-only private mapping (found by the kernel oracle)', () => {
  it('is a COW mapping (VM_MAYWRITE): fork invalidates the mirrors, so a later migrate cannot read back pages it did not move', () => {
    const r = run(['linux 6.12', 'device d0 coherent', 'm0 = mmap 32 pages r', 'migrate m0[14..24] to d0', 'fork c1',
      'migrate m0[8..17] to d0 -> ENOENT']);
    assert.equal(r.error, undefined);
  });
});

describe('simulator: THPs split by MADV_FREE and reused after fork on 6.12 (found by the kernel oracle)', () => {
  it('MADV_FREE splits a THP it covers only partly (its pages are then exclusive-able), and leaves the huge zero page PMD-mapped', () => {
    const r = run(['linux 6.12', 'device d0 coherent', 'm0 = mmap 1024 pages rw huge', 'd0 write m0[690..849] = i + 58270',
      'read m0[367..687]', 'madvise m0[330..697] free', 'd0 snapshot m0[320..321]', 'expect last.flags == READ|PMD',
      'd0 exclusive m0[700..734]', 'expect m0[700..734] is exclusive d0']);
    assert.equal(r.error, undefined);
  });

  it('6.12 copies on a write fault to a page of a PTE-mapped large folio, even when only this process maps it', () => {
    const base = ['device d0', 'm0 = mmap 1024 pages rw huge', 'd0 exclusive m0[134..494] -> EBUSY', 'fork c1', 'exit c1'];
    assert.equal(run(['linux 6.12', ...base, 'd0 exclusive m0[16..207]', 'expect m0[16..207] is exclusive d0']).error, undefined);
    // Without the fork the pages are still the large folio's, which 6.12's exclusive refuses.
    assert.equal(run(['linux 6.12', ...base.slice(0, 3), 'd0 exclusive m0[16..207] -> EBUSY']).error, undefined);
  });
});

describe('simulator: migrated pages keep PageAnonExclusive (found by the kernel oracle)', () => {
  it('a hole migrated into a read-only mapping becomes writable when mprotect makes the mapping writable', () => {
    const r = run(['linux 6.12', 'device d0 coherent', 'm0 = mmap 8 pages r', 'migrate m0[2..8] to d0', 'mprotect m0[4..8] rw',
      'd0 snapshot m0[4..8]', 'expect last.flags == DEV_COHERENT_LOCAL|WRITE']);
    assert.equal(r.error, undefined);
  });
});
