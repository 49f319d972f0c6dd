// Layer: simulator (src/hmm). Imports types of the world only.
// The placement report at the end of a run: faults by kind, bytes migrated each way, time in
// faults / copies / compute per device and per source line, thrashing pages, and the time a
// perfect placement would have taken (every kernel access local, no faults, no copies).

import { PAGE_SIZE } from './constants';
import type { Simulator } from './simulator';

export interface PlacementReport {
  readonly totalNs: number;
  readonly perfectNs: number;
  readonly cpuFaults: number;
  readonly cpuFaultsOnDevicePages: number;
  readonly devices: {
    name: string;
    faults: number;
    batches: number;
    bytesIn: number;
    bytesOut: number;
    evictions: number;
    faultNs: number;
    copyNs: number;
    computeNs: number;
    accessNs: number;
  }[];
  readonly lines: { line: number; faults: number; faultNs: number; copyNs: number; computeNs: number; bytesToDevice: number; bytesToSystem: number }[];
  readonly thrashingPages: number;
  readonly readMostlySavings: number;
}

export function placementReport(sim: Simulator): PlacementReport {
  const devices = sim.devices.map((d) => {
    const s = sim.deviceStats(d);
    const jobs = sim.gpu.jobs.filter((j) => j.device === d);
    const sum = (k: 'faultNs' | 'copyNs' | 'computeNs' | 'accessNs' | 'batches'): number => jobs.reduce((n, j) => n + j.stats[k], 0);
    return {
      name: d.name, faults: s.faults, batches: sum('batches'), bytesIn: s.pagesIn * PAGE_SIZE, bytesOut: s.pagesOut * PAGE_SIZE,
      evictions: s.evictions, faultNs: sum('faultNs'), copyNs: sum('copyNs'), computeNs: sum('computeNs'), accessNs: sum('accessNs'),
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
  for (const j of sim.gpu.jobs) {
    lost += j.stats.faultNs;
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
    lines: [...sim.gpu.lines].filter(([line]) => line > 0).map(([line, c]) => ({ line, ...c })).sort((a, b) => a.line - b.line),
    thrashingPages: thrashing,
    readMostlySavings: readMostlyRemoteReads,
  };
}

function us(ns: number): string {
  return `${(ns / 1000).toFixed(1)} µs`;
}

function mib(bytes: number): string {
  return bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(0)} KiB`;
}

export function formatPlacementReport(r: PlacementReport): string {
  const out = [
    `placement report: ${us(r.totalNs)} simulated, a perfect placement ${us(r.perfectNs)} (${r.totalNs > 0 ? ((r.perfectNs / r.totalNs) * 100).toFixed(0) : 100}%)`,
    `  CPU: ${r.cpuFaults} faults, ${r.cpuFaultsOnDevicePages} on device pages (migrate_to_ram)`,
  ];
  for (const d of r.devices) {
    out.push(`  ${d.name}: ${d.faults} device faults in ${d.batches} batches; ${mib(d.bytesIn)} in, ${mib(d.bytesOut)} out` +
      `${d.evictions ? `, ${d.evictions} pages evicted` : ''}; time: faults ${us(d.faultNs)}, copies ${us(d.copyNs)}, compute ${us(d.computeNs)}, access ${us(d.accessNs)}`);
  }
  for (const l of r.lines) {
    if (l.faults === 0 && l.copyNs === 0 && l.computeNs === 0) continue;
    out.push(`  line ${l.line}: ${l.faults} faults (${us(l.faultNs)}), copies ${us(l.copyNs)}, compute ${us(l.computeNs)}` +
      `${l.bytesToDevice ? `, ${mib(l.bytesToDevice)} to device` : ''}${l.bytesToSystem ? `, ${mib(l.bytesToSystem)} to system` : ''}`);
  }
  if (r.thrashingPages) out.push(`  thrashing: ${r.thrashingPages} page(s) bounced between CPU and device (throttled, then pinned to system memory)`);
  if (r.readMostlySavings) out.push(`  read-mostly: ${mib(r.readMostlySavings)} read over the link; a duplicating driver would have read it locally`);
  return out.join('\n');
}
