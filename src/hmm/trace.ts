// The event stream as Chrome trace JSON (the Trace Event Format Perfetto and chrome://tracing
// open): one track per process and device, instant events for faults and notifier callbacks,
// complete events for migrations. Times are the simulated clock, in microseconds.

import type { SimEvent } from './events';

interface TraceEvent {
  name: string;
  cat: string;
  ph: 'i' | 'X' | 'M';
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  s?: 't';
  args: Record<string, unknown>;
}

export function toChromeTrace(runs: readonly { file: string; events: readonly SimEvent[] }[]): { traceEvents: TraceEvent[]; displayTimeUnit: string } {
  const out: TraceEvent[] = [];
  runs.forEach((run, r) => {
    const pid = r + 1;
    const tids = new Map<string, number>();
    const tid = (track: string): number => {
      let t = tids.get(track);
      if (t === undefined) {
        t = tids.size + 1;
        tids.set(track, t);
        out.push({ name: 'thread_name', cat: '__metadata', ph: 'M', ts: 0, pid, tid: t, args: { name: track } });
      }
      return t;
    };
    out.push({ name: 'process_name', cat: '__metadata', ph: 'M', ts: 0, pid, tid: 0, args: { name: run.file } });
    const launched = new Map<string, number>();
    for (const e of run.events) {
      // Jobs and prefetches are spans on their own tracks; everything a job caused sits on its track.
      if (e.kind === 'job') {
        const ts = e.time / 1000;
        if (e.what === 'launch') launched.set(e.job, ts);
        else if (e.what === 'end') {
          const start = launched.get(e.job) ?? ts;
          out.push({ name: e.job, cat: 'job', ph: 'X', ts: start, dur: Math.max(ts - start, 0.001), pid, tid: tid(`gpu job ${e.job} (${e.device})`), args: { device: e.device } });
        } else {
          out.push({ name: `${e.job} issued`, cat: 'copy', ph: 'i', s: 't', ts, pid, tid: tid(`copy engine ${e.device}`), args: { pages: [e.start, e.end] } });
        }
        continue;
      }
      if (e.kind === 'migrate' && e.phase === 'finalize' && (e.cause === 'prefetch' || e.cause === 'gpu-fault' || e.cause === 'eviction')) {
        out.push({ name: `copy ${e.direction} (${e.cause})`, cat: 'copy', ph: 'i', s: 't', ts: e.time / 1000, pid, tid: tid(`copy engine ${e.device}`), args: { pages: [e.start, e.end], migrated: e.migrated } });
      }
      if (e.job !== undefined && e.kind !== 'migrate') {
        out.push({ name: e.kind === 'deviceFault' ? `fault batch (${e.end - e.start} pages)` : e.kind, cat: e.kind, ph: 'i', s: 't', ts: e.time / 1000, pid, tid: tid(`gpu job ${e.job}`), args: { pages: [e.start, e.end], count: e.count } });
        continue;
      }
      const ts = e.time / 1000;
      const where = e.loc ? `${e.loc.file}:${e.loc.line}` : '';
      const common = { pages: [e.start, e.end], count: e.count, line: where };
      switch (e.kind) {
        case 'cpuFault':
          out.push({ name: `cpu fault: ${e.action}`, cat: 'fault', ph: 'i', s: 't', ts, pid, tid: tid(`cpu ${e.mm}`), args: { ...common, found: e.found, write: e.write } });
          break;
        case 'deviceFault':
          out.push({ name: `device fault ${e.device}`, cat: 'fault', ph: 'i', s: 't', ts, pid, tid: tid(`device ${e.device}`), args: { ...common, rc: e.rc, write: e.write } });
          break;
        case 'notifier':
          out.push({ name: `invalidate ${e.event}`, cat: 'notifier', ph: 'i', s: 't', ts, pid, tid: tid(`notifier ${e.mirror}`), args: { ...common, owner: e.owner, action: e.action, erased: e.erased, seq: [e.seqBefore, e.seqAfter] } });
          break;
        case 'migrate':
          out.push({ name: `migrate ${e.phase} ${e.direction}`, cat: 'migrate', ph: 'X', ts, dur: 0.001, pid, tid: tid(`migrate ${e.device}`), args: { ...common, collected: e.collected, migrated: e.migrated, skipped: e.skipped, cause: e.cause } });
          break;
        default:
          out.push({ name: e.kind, cat: e.kind, ph: 'i', s: 't', ts, pid, tid: tid(`cpu ${e.mm}`), args: { ...common, ...e } });
      }
    }
  });
  return { traceEvents: out, displayTimeUnit: 'ns' };
}
