// Mechanisms tested without the Simulator: each runs against a stand-in for the small interface
// it declares (machine.ts's Machine, mmuNotifier.ts's NotifierMachine), built from a few parts.

import * as assert from 'node:assert/strict';
import { MmuNotifyEvent } from '../src/hmm/constants';
import { ContentStore } from '../src/hmm/content';
import { EventLog, type SimEvent, type SimEventBody } from '../src/hmm/events';
import type { DeviceStats, Machine } from '../src/hmm/machine';
import { handleMmFault } from '../src/hmm/memory';
import { Device } from '../src/hmm/memremap';
import { Mm } from '../src/hmm/mm';
import { doMmap, getUnmappedArea } from '../src/hmm/mmap';
import {
  MmuIntervalNotifier, mmuIntervalNotifierInsert, mmuIntervalReadBegin, mmuIntervalReadRetry, mmuIntervalSetSeq,
  mmuNotifierInvalidate, type MmuNotifierRange, type NotifierMachine, type NotifierMm,
} from '../src/hmm/mmuNotifier';
import { PageFrames, Zone, ZERO_PFN } from '../src/hmm/page';
import { pageState } from '../src/hmm/pagemap';
import { LINUX_PROFILES } from '../src/hmm/profile';
import { getPage, putPage } from '../src/hmm/swap';
import { drain, type KernelFrame, type KernelWork } from '../src/hmm/kernelWork';
import { Clock, DEFAULT_TIMING } from '../src/hmm/timing';

/** A machine with frames, processes and an event log, no devices: enough for CPU faults. */
function standInMachine(mms: Mm[]): Machine & { log: EventLog } {
  const clock = new Clock();
  const log = new EventLog();
  return {
    frames: new PageFrames(),
    contents: new ContentStore(),
    devices: [],
    mms,
    kstack: [],
    pauseInNotifiers: true,
    clock,
    timing: DEFAULT_TIMING,
    profile: LINUX_PROFILES.mainline,
    stats: { cpuFaults: 0, notifierCalls: 0, hmmRetries: 0 },
    step: 1,
    log,
    deviceOfPfn: (pfn: number) => { throw new Error(`no device has frame ${pfn}`); },
    deviceStats: (): DeviceStats => { throw new Error('no devices'); },
    emit: (mm: string, start: number, end: number, body: SimEventBody, key?: string) =>
      log.emit({ time: clock.now, step: 1, loc: undefined, job: undefined }, mm, start, end, body, key),
    emitPages: (mm: string, start: number, n: number, body: SimEventBody, key: string) =>
      log.emitPages({ time: clock.now, step: 1, loc: undefined, job: undefined }, mm, start, n, body, key),
    openEventAt: (key: string, start: number) => log.openAt(1, key, start),
    coalesceRun: (e: SimEvent, n: number, body: SimEventBody) => log.coalesceRun(e, n, body),
    describeRange: (start: number, end: number) => `[${start}, ${end})`,
    contentChanged: () => {},
  };
}

/** Runs a step, collecting the frames it enters. */
function runCollecting<T>(g: KernelWork<T>): { value: T; frames: KernelFrame[] } {
  const frames: KernelFrame[] = [];
  for (;;) {
    const r = g.next();
    if (r.done) return { value: r.value, frames };
    frames.push(r.value);
  }
}

describe('mechanisms on a stand-in machine', () => {
  it('mmu_notifier: an invalidation calls the intersecting notifier once, odd sequence inside, even after', () => {
    const kstack: KernelFrame[] = [];
    const sim: NotifierMachine = {
      kstack, pauseInNotifiers: true, clock: new Clock(), timing: DEFAULT_TIMING, stats: { notifierCalls: 0 },
      describeRange: (s, e) => `[${s}, ${e})`,
    };
    const mm: NotifierMm = { name: 'p', alive: true, notifiers: [], invalidateSeq: 2, activeInvalidateRanges: 0 };
    const seen: { label: string; cur: number; active: number; depth: number }[] = [];
    const subscriber = (label: string): MmuIntervalNotifier => new MmuIntervalNotifier(0, 0, {
      *invalidate(sub, _range: MmuNotifierRange, cur: number): KernelWork<boolean> {
        seen.push({ label, cur, active: mm.activeInvalidateRanges, depth: kstack.length });
        mmuIntervalSetSeq(sub, cur);
        return true;
      },
    }, label);
    const hit = subscriber('gpu0');
    const miss = subscriber('gpu1');
    assert.equal(mmuIntervalNotifierInsert(hit, mm, 10, 10), 0);
    assert.equal(mmuIntervalNotifierInsert(miss, mm, 100, 10), 0);
    const seq = mmuIntervalReadBegin(hit);

    let bodyRan = false;
    const range = { mm, start: 15, end: 30, event: MmuNotifyEvent.UNMAP, owner: null, blockable: true };
    const { value, frames } = runCollecting(mmuNotifierInvalidate(sim, range, () => {
      bodyRan = true;
      return 'done';
    }));

    assert.equal(value, 'done');
    assert.ok(bodyRan);
    assert.deepEqual(frames.map((f) => [f.name, f.detail]), [['invalidate', 'gpu0 UNMAP [15, 30)']]);
    assert.deepEqual(seen, [{ label: 'gpu0', cur: 3, active: 1, depth: 1 }]);
    assert.equal(mm.invalidateSeq, 4);
    assert.equal(mm.activeInvalidateRanges, 0);
    assert.equal(kstack.length, 0);
    assert.equal(sim.stats.notifierCalls, 1);
    assert.equal(sim.clock.now, DEFAULT_TIMING.notifierCallbackNs);
    assert.ok(mmuIntervalReadRetry(hit, seq), 'a read that began before the invalidation must retry');
    assert.ok(!mmuIntervalReadRetry(miss, mmuIntervalReadBegin(miss)));
  });

  it('mmu_notifier: a plain run does not pause in the callback (still on the stack); invalidateNow is called as a function', () => {
    const kstack: KernelFrame[] = [];
    const sim: NotifierMachine = {
      kstack, pauseInNotifiers: false, clock: new Clock(), timing: DEFAULT_TIMING, stats: { notifierCalls: 0 },
      describeRange: (s, e) => `[${s}, ${e})`,
    };
    const mm: NotifierMm = { name: 'p', alive: true, notifiers: [], invalidateSeq: 2, activeInvalidateRanges: 0 };
    const seen: { how: string; cur: number; depth: number; frame: string | undefined }[] = [];
    const sub = new MmuIntervalNotifier(0, 0, {
      *invalidate(): KernelWork<boolean> {
        throw new Error('invalidateNow is there: the generator must not run');
      },
      invalidateNow(s, _range: MmuNotifierRange, cur: number): boolean {
        seen.push({ how: 'now', cur, depth: kstack.length, frame: kstack[kstack.length - 1]?.name });
        mmuIntervalSetSeq(s, cur);
        return true;
      },
    }, 'gpu0');
    assert.equal(mmuIntervalNotifierInsert(sub, mm, 0, 100), 0);
    const range = { mm, start: 5, end: 6, event: MmuNotifyEvent.CLEAR, owner: null, blockable: true };
    const { value, frames } = runCollecting(mmuNotifierInvalidate(sim, range, () => 7));
    assert.equal(value, 7);
    assert.deepEqual(frames, [], 'no pause point');
    assert.deepEqual(seen, [{ how: 'now', cur: 3, depth: 1, frame: 'invalidate' }]);
    assert.equal(kstack.length, 0);
    assert.equal(mm.invalidateSeq, 4);
    assert.equal(sim.clock.now, DEFAULT_TIMING.notifierCallbackNs);
  });

  it('handle_mm_fault: a read maps the zero page, a write then copies it under MMU_NOTIFY_CLEAR', () => {
    const mm = new Mm(1, 'p', undefined);
    const sim = standInMachine([mm]);
    const start = 0x7f0000000;
    doMmap(mm, start, 4, 'rw', { name: 'a', shared: false, huge: false });
    const events: string[] = [];
    const watcher = new MmuIntervalNotifier(0, 0, {
      *invalidate(sub, range: MmuNotifierRange, cur: number): KernelWork<boolean> {
        events.push(`${MmuNotifyEvent[range.event]} ${range.start - start}..${range.end - start}`);
        mmuIntervalSetSeq(sub, cur);
        return true;
      },
    }, 'watcher');
    mmuIntervalNotifierInsert(watcher, mm, start, 4);

    assert.equal(drain(handleMmFault(sim, mm, start + 1, { write: false, remote: false })), 0);
    assert.equal(pageState(sim, mm, start + 1).kind, 'zero');
    assert.equal(pageState(sim, mm, start + 1).pfn, ZERO_PFN);
    assert.deepEqual(events, [], 'mapping the zero page into an empty entry notifies no one');

    assert.equal(drain(handleMmFault(sim, mm, start + 1, { write: true, remote: false })), 0);
    const st = pageState(sim, mm, start + 1);
    assert.equal(st.kind, 'system');
    assert.equal(st.writable, true);
    assert.equal(sim.frames.refcount.get(st.pfn!), 1);
    assert.deepEqual(events, ['CLEAR 1..2']);
    assert.deepEqual(sim.log.events.map((e) => e.kind === 'cpuFault' ? `${e.action} ${e.start - start}` : e.kind),
      ['map-zero-page 1', 'cow-copy 1']);
    assert.equal(pageState(sim, mm, start).kind, 'empty', 'the neighbours are untouched');
  });

  it('put_page: the last reference to a device page goes through the pagemap\'s page_free', () => {
    const frames = new PageFrames();
    const dev = new Device(0, 'gpu0', 'private', 1024, 'pcie4', 'migrate');
    const freed: number[] = [];
    dev.ops = { migrateToRam: () => { throw new Error('not faulted here'); }, pageFree: (pfn) => freed.push(pfn) };
    const sim = { frames, deviceOfPfn: () => dev };
    const pfn = dev.alloc(frames, 0);
    assert.equal(frames.zone.get(pfn), Zone.DEVICE_PRIVATE);
    assert.equal(dev.used, 1);
    getPage(sim, pfn);
    putPage(sim, pfn);
    assert.deepEqual(freed, [], 'a reference is still held');
    putPage(sim, pfn);
    assert.deepEqual(freed, [pfn]);
    assert.equal(frames.zone.get(pfn), Zone.FREE);
    assert.equal(dev.used, 0);
    assert.throws(() => putPage(sim, pfn), /put_page on a free frame/);
  });

  it('get_unmapped_area: first fit upward, a guard page apart, huge mappings 2 MiB aligned, nothing past TASK_SIZE', () => {
    const base = 0x7f0000000;
    assert.equal(getUnmappedArea([], 4, 1), base);
    const taken = [{ start: base, pages: 4 }, { start: base + 10, pages: 2 }];
    assert.equal(getUnmappedArea(taken, 4, 1), base + 5, 'fits the hole between, a guard page from each');
    assert.equal(getUnmappedArea(taken, 5, 1), base + 13, 'does not fit the hole: after the last');
    assert.equal(getUnmappedArea(taken, 1, 512), base + 512);
    assert.throws(() => getUnmappedArea([], 0x800000000 - base + 1, 1), /no room below TASK_SIZE/);
  });
});
