// The debugger's read-only questions about the machine as plain data: page residency, pending
// migrations, notifier callbacks, what each line caused, why a page is where it is, the map.
// The adapter answers its custom requests (src/adapter/protocol.ts) with these; ranges are
// numbers (pages) and processes come with their ids beside their names.

import { PAGE_SIZE } from '../../constants';
import type { SimEvent } from '../../events';
import type { Mm } from '../../mm';
import { formatDuration } from '../../timing';
import type { ScriptController } from '../controller';
import { eventLine } from '../eventText';
import { hex, whyChain, whyReport } from '../inspect';
import { buildPicture, type Picture } from '../picture';
import { residencyRuns } from '../residency';

/** Residency runs of one mapping in one process. */
export interface ResidencyArguments {
  /** Process name (`main` when absent). */
  process?: string;
  /** Mapping name; all mappings when absent. */
  mapping?: string;
  /** Page range within the mapping (default all), and a cap on runs returned. */
  start?: number;
  end?: number;
  maxRuns?: number;
}

export interface ResidencyRun {
  start: number;
  end: number;
  /** `unmapped` | `empty` | `zero` | `system` | `device` | `exclusive`. */
  kind: string;
  device?: string;
  writable?: boolean;
  shared?: boolean;
  pinned?: boolean;
  huge?: boolean;
  /** Per device: `none` | `read` | `write` | `atomic` for the run's first page. */
  mirrors: Record<string, string>;
}

export interface ResidencyMapping {
  name: string;
  process: string;
  processId: number;
  /** First address (hex), first virtual page (address / 4096) and size in pages. */
  address: string;
  firstPage: number;
  pages: number;
  runs: ResidencyRun[];
  truncated: boolean;
}

export interface ResidencyResponseBody {
  step: number;
  mappings: ResidencyMapping[];
}

export interface MigrationInfo {
  process: string;
  processId: number;
  /** `a[2..6]`, for reading; start and end are the virtual pages. */
  range: string;
  start: number;
  end: number;
  direction: 'to-device' | 'to-system';
  device: string;
  phase: string;
  cpages: number;
  cause: string;
  /** Runs of pages left behind with their reason. */
  skipped: { start: number; count: number; reason: string }[];
}

export interface MigrationsResponseBody {
  step: number;
  migrations: MigrationInfo[];
}

export interface NotifierArguments {
  /** Only records after this event sequence number. */
  since?: number;
  /** At most this many (newest). */
  limit?: number;
}

export interface NotifierCallback {
  seq: number;
  line?: number;
  process: string;
  /** Undefined once the process is gone. */
  processId: number | undefined;
  event: string;
  /** `a[2..6]`, for reading; start and end are the virtual pages. */
  range: string;
  start: number;
  end: number;
  owner: string | null;
  mirror: string;
  seqBefore: number;
  seqAfter: number;
  action: string;
  erased: number;
  count: number;
}

export interface NotifiersResponseBody {
  step: number;
  callbacks: NotifierCallback[];
}

/** Per source line: what its statements caused so far (editor decorations). */
export interface LineEffectsResponseBody {
  step: number;
  lines: {
    line: number;
    cpuFaults: number;
    /** Pages devices faulted on, and the fault batches that serviced them. */
    deviceFaultPages: number;
    deviceFaultBatches: number;
    pagesToDevice: number;
    pagesToSystem: number;
    invalidations: number;
    errors: number;
  }[];
}

/** Why one page is where it is: the REPL's `why` answer, and the line of the newest event that changed it. */
export interface PageWhyArguments {
  process?: string;
  /** Virtual page number (address / 4096). */
  page: number;
}

export interface PageWhyResponseBody {
  step: number;
  text: string;
  /** Source line of the statement that last changed the page, if any. */
  line?: number;
}

export interface PictureArguments {
  /** Process name (the stopped one when absent). */
  process?: string;
  /** Runs per lane before a lane is summarised in buckets (16..200000, default 20000). */
  maxRuns?: number;
}

/** The `process` argument: a live process by name, or the stopped one. */
export function processArg(ctl: ScriptController, p: string | undefined): Mm {
  if (p === undefined) return ctl.interp.process;
  const mm = ctl.sim.process(p);
  if (mm === undefined || !mm.alive) throw new Error(`no process ${p}`);
  return mm;
}

export function residency(ctl: ScriptController, a: ResidencyArguments): ResidencyResponseBody {
  return ctl.answers.get(ctl.epoch, `residency ${JSON.stringify(a)}`, () => residencyNow(ctl, a));
}

function residencyNow(ctl: ScriptController, a: ResidencyArguments): ResidencyResponseBody {
  const sim = ctl.sim;
  const mm = a.process === undefined ? ctl.interp.process : sim.process(a.process);
  if (mm === undefined) throw new Error(`no process ${a.process}`);
  const maxRuns = Math.max(1, Math.min(a.maxRuns ?? 4096, 65536));
  const mappings = [...sim.bindings.values()].filter((b) => (a.mapping === undefined || b.name === a.mapping) && mm.vmas.intersecting(b.start, b.start + b.pages).length > 0);
  if (a.mapping !== undefined && mappings.length === 0) throw new Error(`no mapping ${a.mapping} in ${mm.name}`);
  return {
    step: sim.step,
    mappings: mappings.map((b) => {
      const s = Math.max(0, a.start ?? 0);
      const e = Math.min(b.pages, a.end ?? b.pages);
      const runs = residencyRuns(sim, mm, b.start + s, b.start + e, maxRuns);
      return {
        name: b.name, process: mm.name, processId: mm.id, address: hex(b.start * PAGE_SIZE), firstPage: b.start, pages: b.pages,
        truncated: runs.length > 0 && runs[runs.length - 1]!.end < b.start + e,
        runs: runs.map((r) => ({
          start: r.start - b.start, end: r.end - b.start, kind: r.state.kind, device: r.state.device, writable: r.state.writable,
          shared: r.state.shared, pinned: r.state.pinned, huge: r.state.huge,
          mirrors: Object.fromEntries(sim.devices.map((d) => [d.name, sim.mirrorMapping(mm, d, r.start)])),
        })),
      };
    }),
  };
}

export function migrations(ctl: ScriptController): MigrationsResponseBody {
  const sim = ctl.sim;
  return {
    step: sim.step,
    migrations: [
      ...sim.pendingMigrations.map((m) => ({
        process: m.mm.name, processId: m.mm.id, range: sim.describeRange(m.start, m.end), start: m.start, end: m.end, direction: m.direction,
        device: m.pgmapOwner.name, phase: m.phase, cpages: m.cpages, cause: m.cause,
        skipped: m.skippedRuns().map((r) => ({ start: r.start, count: r.count, reason: r.reason })),
      })),
      ...sim.gpu.pendingCopies().map((c) => ({
        process: c.mm.name, processId: c.mm.id, range: sim.describeRange(c.start, c.end), start: c.start, end: c.end,
        direction: (c.toDevice ? 'to-device' : 'to-system') as 'to-device' | 'to-system', device: c.device.name,
        phase: `copying until t=${formatDuration(c.endTime)} (${Math.round(Math.min(1, Math.max(0, (sim.clock.now - c.startTime) / Math.max(1, c.endTime - c.startTime))) * 100)}%)`,
        cpages: c.end - c.start, cause: 'prefetch', skipped: [],
      })),
    ],
  };
}

export function notifiers(ctl: ScriptController, a: NotifierArguments): NotifiersResponseBody {
  const sim = ctl.sim;
  const all = sim.log.events.filter((e) => e.kind === 'notifier' && e.seq > (a.since ?? -1));
  const limit = Math.max(1, Math.min(a.limit ?? 500, 10000));
  return {
    step: sim.step,
    callbacks: all.slice(-limit).flatMap((e) => (e.kind !== 'notifier' ? [] : [{
      seq: e.seq, line: e.loc?.line, process: e.mm, processId: sim.process(e.mm)?.id, event: e.event, range: sim.describeRange(e.start, e.end),
      start: e.start, end: e.end, owner: e.owner, mirror: e.mirror, seqBefore: e.seqBefore, seqAfter: e.seqAfter, action: e.action, erased: e.erased, count: e.count,
    }])),
  };
}

export function pageWhy(ctl: ScriptController, a: PageWhyArguments): PageWhyResponseBody {
  const mm = processArg(ctl, a.process);
  const newest = whyChain(ctl.sim, mm, a.page)[0];
  return { step: ctl.sim.step, text: whyReport(ctl.sim, mm, a.page), ...(newest?.loc !== undefined ? { line: newest.loc.line } : {}) };
}

/** The address-space picture (the map), marking the event of the stop shown, if any. */
export function picture(ctl: ScriptController, a: PictureArguments, stop: SimEvent | undefined): Picture {
  const mm = processArg(ctl, a.process);
  return ctl.answers.get(ctl.epoch, `picture ${mm.id} ${a.maxRuns} ${stop?.seq}`, () => buildPicture(ctl.sim, mm, {
    ...(a.maxRuns !== undefined ? { maxRuns: a.maxRuns } : {}),
    ...(stop !== undefined ? { stopEvent: stop } : {}),
    describe: (e) => eventLine(ctl.sim, e),
  }));
}

type LineEffects = LineEffectsResponseBody['lines'][number];

function noEffects(line: number): LineEffects {
  return { line, cpuFaults: 0, deviceFaultPages: 0, deviceFaultBatches: 0, pagesToDevice: 0, pagesToSystem: 0, invalidations: 0, errors: 0 };
}

/** Per source line: what its statements caused so far (the editor's decorations). */
export function lineEffects(ctl: ScriptController): LineEffectsResponseBody {
  const byLine = new Map<number, LineEffects>();
  for (const e of ctl.sim.log.events) {
    const line = e.loc?.line;
    if (line === undefined) continue;
    let l = byLine.get(line);
    if (l === undefined) {
      l = noEffects(line);
      byLine.set(line, l);
    }
    switch (e.kind) {
      case 'cpuFault': l.cpuFaults += e.end - e.start; break;
      case 'deviceFault': l.deviceFaultPages += e.pages; l.deviceFaultBatches += e.count; break;
      case 'migrate': if (e.phase === 'finalize') { if (e.direction === 'to-device') l.pagesToDevice += e.migrated; else l.pagesToSystem += e.migrated; } break;
      case 'notifier': if (e.action === 'invalidated') l.invalidations += e.count; break;
      case 'invariant': l.errors++; break;
      default: break;
    }
  }
  const err = ctl.interp.error ?? ctl.endError;
  if (err) {
    const l = byLine.get(err.loc.line) ?? noEffects(err.loc.line);
    l.errors++;
    byLine.set(err.loc.line, l);
  }
  return { step: ctl.sim.step, lines: [...byLine.values()].sort((x, y) => x.line - y.line) };
}
