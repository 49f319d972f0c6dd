// The placement report at the end of a run: faults by kind, bytes migrated each way, time in
// faults / copies / compute per device and per source line, thrashing pages, and the time a
// perfect placement would have taken (every kernel access local, no faults, no copies).

import { PAGE_SIZE } from './constants';
import type { EventLog } from './events';
import type { GpuEngine } from './gpu';
import type { Machine } from './machine';
import { formatDuration } from './timing';

export interface PlacementReport {
  readonly totalNs: number;
  readonly perfectNs: number;
  readonly cpuFaults: number;
  readonly cpuFaultsOnDevicePages: number;
  readonly devices: {
    name: string;
    /** Pages the device faulted on, and the fault batches that serviced them (both paths). */
    faultPages: number;
    faultBatches: number;
    /** Time servicing fault batches, the copies they made included. */
    faultNs: number;
    bytesIn: number;
    bytesOut: number;
    evictions: number;
    /** Of faultNs: the copies of GPU fault batches. */
    copyNs: number;
    computeNs: number;
    accessNs: number;
  }[];
  /** One per kernel launch: where the time and faults went. */
  readonly jobs: { name: string; kernel: string; device: string; line: number | undefined; faultPages: number; faultBatches: number; faultNs: number; computeNs: number; accessNs: number; totalNs: number }[];
  /** Per kernel or prefetch line; `faults` counts pages. */
  readonly lines: { line: number; faults: number; faultNs: number; copyNs: number; computeNs: number; bytesToDevice: number; bytesToSystem: number }[];
  readonly thrashingPages: number;
  readonly readMostlySavings: number;
}

/** What the report reads: the machine's counters and clock, the event stream and the GPU work. */
export interface ReportSource extends Pick<Machine, 'devices' | 'deviceStats' | 'clock' | 'timing' | 'stats'> {
  readonly log: EventLog;
  readonly gpu: GpuEngine;
}

export function placementReport(sim: ReportSource): PlacementReport {
  const devices = sim.devices.map((d) => {
    const s = sim.deviceStats(d);
    const jobs = sim.gpu.jobs.filter((j) => j.device === d);
    const sum = (k: 'copyNs' | 'computeNs' | 'accessNs'): number => jobs.reduce((n, j) => n + j.stats[k], 0);
    return {
      name: d.name, faultPages: s.faultPages, faultBatches: s.faultBatches, faultNs: s.faultNs, bytesIn: s.pagesIn * PAGE_SIZE, bytesOut: s.pagesOut * PAGE_SIZE,
      evictions: s.evictions, copyNs: sum('copyNs'), computeNs: sum('computeNs'), accessNs: sum('accessNs'),
    };
  });
  let cpuOnDevice = 0;
  let thrashing = 0;
  let readMostlyRemoteReads = 0;
  for (const e of sim.log.events) {
    if (e.kind === 'cpuFault' && e.found.startsWith('device-private')) cpuOnDevice += e.end - e.start;
  }
  thrashing = new Set([...sim.gpu.thrashing.throttled, ...sim.gpu.thrashing.pinned]).size;
  // A duplicating driver would have copied read-mostly pages once and read them locally after.
  for (const j of sim.gpu.jobs) readMostlyRemoteReads += j.stats.bytesRemoteReadMostly;
  // Perfect placement (an estimate): the run without the time spent servicing faults and
  // copying data for kernels, and without the CPU's faults on device pages, but never less
  // than the longest kernel's compute plus local accesses.
  let lost = cpuOnDevice * sim.timing.cpuFaultDeviceNs;
  let floor = 0;
  for (const d of devices) lost += d.faultNs; // fault batches of kernels and of dmirror commands alike
  for (const j of sim.gpu.jobs) {
    floor = Math.max(floor, j.stats.computeNs + Math.round((j.stats.bytesLocal + j.stats.bytesRemote) / sim.timing.deviceLocalGBps));
  }
  for (const c of sim.gpu.copies) lost += c.endTime - c.startTime;
  const perfect = Math.min(sim.clock.now, Math.max(floor, sim.clock.now - lost));
  return {
    totalNs: sim.clock.now,
    perfectNs: perfect,
    cpuFaults: sim.stats.cpuFaults,
    cpuFaultsOnDevicePages: cpuOnDevice,
    devices,
    jobs: sim.gpu.jobs.map((j) => ({
      name: j.name, kernel: j.kernel, device: j.device.name, line: j.launchPos?.line, faultPages: j.stats.faults, faultBatches: j.stats.batches,
      faultNs: j.stats.faultNs, computeNs: j.stats.computeNs, accessNs: j.stats.accessNs, totalNs: (j.endTime ?? sim.clock.now) - j.launchTime,
    })),
    lines: [...sim.gpu.lines].filter(([line]) => line > 0).map(([line, c]) => ({ line, ...c })).sort((a, b) => a.line - b.line),
    thrashingPages: thrashing,
    readMostlySavings: readMostlyRemoteReads,
  };
}

function mib(bytes: number): string {
  return bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(0)} KiB`;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** Device faults in the one wording every view uses: `4096 pages faulted in 16 fault batches`. */
export function faultsText(pages: number, batches: number): string {
  return pages === 0 ? 'no page faulted' : `${plural(pages, 'page')} faulted in ${plural(batches, 'fault batch', 'fault batches')}`;
}

export function formatPlacementReport(r: PlacementReport): string {
  const t = formatDuration;
  const out = [
    `placement report: ${t(r.totalNs)} simulated; a perfect placement would take ${t(r.perfectNs)} (${r.totalNs > 0 ? ((r.perfectNs / r.totalNs) * 100).toFixed(0) : 100}%)`,
    '  (perfect placement: the same run with every page already where it is used: no fault batches, no copies,',
    '   no CPU faults on device pages; never less than the longest kernel\'s compute and local accesses)',
    `  CPU: ${plural(r.cpuFaults, 'page fault')}, ${r.cpuFaultsOnDevicePages} of them on device pages (migrate_to_ram)`,
  ];
  for (const d of r.devices) {
    out.push(`  ${d.name}: ${faultsText(d.faultPages, d.faultBatches)}${d.faultBatches ? `, servicing them took ${t(d.faultNs)}${d.copyNs ? ` (copies included: ${t(d.copyNs)})` : ''}` : ''}` +
      `; ${mib(d.bytesIn)} in, ${mib(d.bytesOut)} out${d.evictions ? `, ${d.evictions} pages evicted` : ''}` +
      `${d.computeNs || d.accessNs ? `; kernels: compute ${t(d.computeNs)}, accesses ${t(d.accessNs)}` : ''}`);
  }
  for (const j of r.jobs) {
    out.push(`  job ${j.name} (${j.kernel} on ${j.device}${j.line !== undefined ? `, launched at line ${j.line}` : ''}): ${t(j.totalNs)}, ${faultsText(j.faultPages, j.faultBatches)}` +
      `${j.faultBatches ? ` (${t(j.faultNs)})` : ''}, compute ${t(j.computeNs)}, accesses ${t(j.accessNs)}`);
  }
  for (const l of r.lines) {
    if (l.faults === 0 && l.copyNs === 0 && l.computeNs === 0) continue;
    const parts = [
      ...(l.faults ? [`${plural(l.faults, 'page')} faulted (${t(l.faultNs)})`] : []),
      ...(l.copyNs ? [`copies ${t(l.copyNs)}`] : []),
      ...(l.computeNs ? [`compute ${t(l.computeNs)}`] : []),
      ...(l.bytesToDevice ? [`${mib(l.bytesToDevice)} to device`] : []),
      ...(l.bytesToSystem ? [`${mib(l.bytesToSystem)} to system`] : []),
    ];
    out.push(`  line ${l.line}: ${parts.join(', ')}`);
  }
  if (r.thrashingPages) out.push(`  thrashing: ${r.thrashingPages} page(s) bounced between CPU and device (throttled, then pinned to system memory)`);
  if (r.readMostlySavings) out.push(`  read-mostly: ${mib(r.readMostlySavings)} read over the link; a duplicating driver would have read it locally`);
  return out.join('\n');
}
