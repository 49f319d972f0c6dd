// The machine as the kernel mechanisms see it (memory.ts, migrateDevice.ts, dmirror.ts, …): the
// frames, the processes, the kernel stack, the clock and cost model, the kernel version, the
// counters, the event stream and how to name a range. src/hmm/simulator.ts implements it; a
// test can implement it with a few fields (test/machine.test.ts). Mechanisms that need more say
// so in their own file (migrateDevice.ts's MigrateMachine, gpu.ts's GpuMachine).

import type { ContentStore } from './content';
import type { SimEvent, SimEventBody } from './events';
import type { Device } from './memremap';
import type { Mm } from './mm';
import type { NotifierMachine } from './mmuNotifier';
import type { PageFrames } from './page';
import type { LinuxProfile } from './profile';

/** A simulation error a script can cause (a runtime error of the script), or a broken invariant. */
export class SimError extends Error {}

export interface DeviceStats {
  /** `stats.DEV.faults` of scripts: dmirror commands count fault calls (its `cmd.faults`), kernels pages. */
  faults: number;
  pagesIn: number;
  pagesOut: number;
  evictions: number;
  /**
   * The quantities every view shows, counted the same on both paths: pages the device faulted
   * on, fault batches serviced (a dmirror_fault call or a GPU fault batch), and the time spent
   * servicing them (copies they made included).
   */
  faultPages: number;
  faultBatches: number;
  faultNs: number;
}

export interface KernelStats {
  cpuFaults: number;
  notifierCalls: number;
  hmmRetries: number;
}

export interface Machine extends NotifierMachine {
  /** Every physical frame (struct page), system and device memory alike. */
  readonly frames: PageFrames;
  /** What pages hold: patterns and written words, by content id. */
  readonly contents: ContentStore;
  /** Device memory, indexed by Device.index. */
  readonly devices: readonly Device[];
  /** Every process, exited ones included. */
  readonly mms: readonly Mm[];
  /** The kernel version modelled. */
  readonly profile: LinuxProfile;
  readonly stats: KernelStats;
  /** The statement execution running (events and notifier records carry it). */
  readonly step: number;
  /** The device a ZONE_DEVICE frame belongs to (page->pgmap). */
  deviceOfPfn(pfn: number): Device;
  deviceStats(d: Device): DeviceStats;
  /** Append to the event stream; events with the same `coalesceKey` in one statement merge. */
  emit(mm: string, start: number, end: number, body: SimEventBody, coalesceKey?: string): SimEvent;
  /** What `n` emits of one page each do, for the pages from `start` (a batched path's events). */
  emitPages(mm: string, start: number, n: number, body: SimEventBody, coalesceKey: string): SimEvent;
  /**
   * The open event under `coalesceKey` when one-page emits from `start` would coalesce into it
   * (EventLog.openAt), else undefined; coalesceRun then adds `n` such pages at once.
   */
  openEventAt(coalesceKey: string, start: number): SimEvent | undefined;
  coalesceRun(e: SimEvent, n: number, body: SimEventBody): void;
  /** A page's bytes changed at `vpn`: every process mapping something there is checked again. */
  contentChanged(vpn: number): void;
}
