// The simulated clock and the cost model. Every figure is a named parameter; link presets give
// per-direction bandwidths. Sources for the defaults are listed in the README.

export interface LinkPreset {
  /** Host→device and device→host bandwidth, bytes per ns (= GB/s). */
  readonly h2dGBps: number;
  readonly d2hGBps: number;
}

export const LINK_PRESETS: Readonly<Record<string, LinkPreset>> = {
  pcie3: { h2dGBps: 12, d2hGBps: 12 },
  pcie4: { h2dGBps: 25, d2hGBps: 25 },
  pcie5: { h2dGBps: 55, d2hGBps: 55 },
  c2c: { h2dGBps: 375, d2hGBps: 297 },
};
export const DEFAULT_LINK = 'pcie4';

/** A link's bandwidth in one direction, bytes per ns; an unknown link name is the default link. */
export function linkGBps(link: string, dir: 'h2d' | 'd2h'): number {
  const l = LINK_PRESETS[link] ?? LINK_PRESETS[DEFAULT_LINK]!;
  return dir === 'h2d' ? l.h2dGBps : l.d2hGBps;
}

export interface TimingModel {
  /** CPU fault that maps the zero page or a new anonymous page. */
  cpuFaultNs: number;
  /** Extra cost of a CPU fault on a device page (before the copy). */
  cpuFaultDeviceNs: number;
  /** DMA setup per migration chunk. */
  dmaSetupNs: number;
  /** Device fault batch: fixed cost and per page. */
  faultBatchNs: number;
  faultPerPageNs: number;
  /** Device PTE update plus TLB invalidate, per invalidation. */
  devicePteUpdateNs: number;
  /** One notifier callback. */
  notifierCallbackNs: number;
  /** CPU memory bandwidth for page copies and initialisation, bytes per ns. */
  cpuCopyGBps: number;
  /** A kernel's access to its own device memory (HBM), bytes per ns. */
  deviceLocalGBps: number;
}

export const DEFAULT_TIMING: TimingModel = {
  cpuFaultNs: 1_000,
  cpuFaultDeviceNs: 10_000,
  dmaSetupNs: 2_000,
  faultBatchNs: 20_000,
  faultPerPageNs: 500,
  devicePteUpdateNs: 1_000,
  notifierCallbackNs: 200,
  cpuCopyGBps: 10,
  deviceLocalGBps: 1000,
};

export class Clock {
  /** Simulated time in ns. */
  now = 0;
  advance(ns: number): void {
    this.now += ns;
  }

  /** advance(ns) `times` times: at once where the sum is exact (integers, below 2^53), else one by one. */
  advanceTimes(ns: number, times: number): void {
    const end = this.now + ns * times;
    if (Number.isInteger(this.now) && Number.isInteger(ns) && Number.isSafeInteger(end) && times >= 0) {
      this.now = end;
      return;
    }
    for (let k = 0; k < times; k++) this.now += ns;
  }
}

/**
 * A simulated duration as every view shows it: ns below 1 µs, µs below 1 ms, then ms or s, three
 * significant digits at most (`850 ns`, `21.5 µs`, `2.34 ms`).
 */
export function formatDuration(ns: number): string {
  const fmt = (v: number, unit: string): string => `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${unit}`;
  if (ns < 1000) return `${Math.round(ns)} ns`;
  if (ns < 1e6) return fmt(ns / 1e3, 'µs');
  if (ns < 1e9) return fmt(ns / 1e6, 'ms');
  return fmt(ns / 1e9, 's');
}

/** Time to move `bytes` over a link in one direction. */
export function copyTimeNs(bytes: number, GBps: number): number {
  return Math.round(bytes / GBps);
}
