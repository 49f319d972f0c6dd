// The Variables view: scopes for the current process, devices, pending migrations, notifier
// callbacks and `last`, built lazily from the simulator. Mappings and per-page arrays are
// indexed variables, so VS Code pages them and a million-page mapping opens instantly.

import type { DebugProtocol } from '@vscode/debugprotocol';
import type { Dmirror } from '../hmm/mirror';
import type { ScriptController } from '../hmm/lang/controller';
import { eventLine } from '../hmm/lang/eventText';
import { hex, pageDetails, residencySummary } from '../hmm/lang/inspect';
import { flagText, foundText } from '../hmm/lang/stateText';
import type { MigrateVma } from '../hmm/migrateDevice';
import type { Mm } from '../hmm/mm';
import { PAGE_SIZE } from '../hmm/constants';
import { faultsText } from '../hmm/placementReport';
import { formatDuration } from '../hmm/timing';

/** A node with children: produces them for a window of indices (or all named ones). */
interface Container {
  readonly children: (start: number, count: number) => DebugProtocol.Variable[];
}

const NOTIFIER_LOG_LIMIT = 200;

/** Most children one `variables` request returns (VS Code asks for 100 at a time). */
export const MAX_VARIABLES_PAGE = 10000;

export class VariableStore {
  private readonly handles = new Map<number, Container>();
  /** Containers whose indexed children are pages of a mapping: ref → mapping name. */
  private readonly pageParents = new Map<number, string>();
  private next = 1;

  constructor(private readonly ctl: ScriptController) {}

  /** Handles are valid until the next stop. */
  reset(): void {
    // Map.clear allocates a fresh table even when empty, and most stops (each step) made no handle.
    if (this.handles.size > 0) this.handles.clear();
    if (this.pageParents.size > 0) this.pageParents.clear();
    this.next = 1;
  }

  private ref(c: Container): number {
    const id = this.next++;
    this.handles.set(id, c);
    return id;
  }

  /** The range text a variable stands for (`a`, `a[3]`), for data breakpoints. */
  rangeOf(parentRef: number | undefined, name: string): string | undefined {
    const m = /^\[(\d+)\]$/.exec(name);
    if (m && parentRef !== undefined) {
      const mapping = this.pageParents.get(parentRef);
      return mapping === undefined ? undefined : `${mapping}[${m[1]}]`;
    }
    return m ? undefined : name;
  }

  /**
   * A page of `ref`'s children. `count` 0 means the default page; any count is cut to
   * MAX_VARIABLES_PAGE and a start past every index gives none, so no request is unbounded.
   */
  variables(ref: number, start = 0, count = 0): DebugProtocol.Variable[] | undefined {
    const c = this.handles.get(ref);
    if (c === undefined) return undefined;
    const from = Math.max(0, Math.trunc(start) || 0);
    const n = Math.min(MAX_VARIABLES_PAGE, Math.max(0, Math.trunc(count) || 0));
    return c.children(from, n);
  }

  scopes(): DebugProtocol.Scope[] {
    const ctl = this.ctl;
    const mm = ctl.interp.process;
    const frame = ctl.interp.frames[ctl.interp.frames.length - 1];
    const scopes: DebugProtocol.Scope[] = [];
    const mappings = this.mappingsOf(mm);
    scopes.push({ name: `Process ${mm.name}`, variablesReference: this.ref({ children: () => mappings.map((b) => this.mappingVar(mm, b)) }), namedVariables: mappings.length, expensive: false });
    scopes.push({ name: 'Devices', variablesReference: this.ref({ children: () => ctl.sim.devices.map((d) => this.deviceVar(d.name)) }), namedVariables: ctl.sim.devices.length, expensive: false });
    const pending = ctl.sim.pendingMigrations;
    scopes.push({ name: `Pending migrations (${pending.length})`, variablesReference: this.ref({ children: () => pending.map((m, i) => this.migrationVar(m, i)) }), namedVariables: pending.length, expensive: false });
    const notifs = ctl.sim.log.events.filter((e) => e.kind === 'notifier');
    scopes.push({
      name: 'Notifier callbacks',
      variablesReference: this.ref({ children: () => notifs.slice(-NOTIFIER_LOG_LIMIT).reverse().map((e) => ({ name: `#${e.seq}`, value: eventLine(ctl.sim, e).replace(/^#\d+ /, ''), variablesReference: 0 })) }),
      namedVariables: Math.min(notifs.length, NOTIFIER_LOG_LIMIT), expensive: false,
    });
    scopes.push({ name: 'last', variablesReference: this.ref({ children: () => this.lastVars() }), expensive: false });
    const jobs = ctl.sim.gpu.jobs;
    if (jobs.length > 0 || ctl.sim.gpu.copies.length > 0) {
      scopes.push({ name: 'GPU jobs', variablesReference: this.ref({ children: () => this.jobVars() }), namedVariables: jobs.length, expensive: false });
    }
    const current = ctl.sim.gpu.current;
    if (current !== undefined && current.batch.length > 0) {
      const batch = current.batch;
      scopes.push({
        name: `Fault batch (${batch.length} pages, ${current.name})`,
        variablesReference: this.ref({ children: () => batch.slice(0, 1000).map((v, i) => this.pageVar(current.mm, v, `[${i}] ${ctl.sim.describeRange(v, v + 1)}`, ctl.sim.describeRange(v, v + 1))) }),
        indexedVariables: batch.length, expensive: false,
      });
    }
    if (frame !== undefined && frame.vars.size > 0) {
      scopes.push({ name: 'Loop variables', variablesReference: this.ref({ children: () => [...frame.vars].map(([k, v]) => ({ name: k, value: String(v), variablesReference: 0 })) }), expensive: false });
    }
    return scopes;
  }

  private mappingsOf(mm: Mm): { name: string; start: number; pages: number }[] {
    return [...this.ctl.sim.bindings.values()].filter((b) => mm.vmas.intersecting(b.start, b.start + b.pages).length > 0);
  }

  /** A mapping: value is its residency summary; children are its pages (indexed, paged by VS Code). */
  mappingVar(mm: Mm, b: { name: string; start: number; pages: number }): DebugProtocol.Variable {
    const sim = this.ctl.sim;
    const vma = mm.vmas.find(b.start) ?? mm.vmas.intersecting(b.start, b.start + b.pages)[0];
    const prot = vma === undefined ? '' : `${vma.flags & 1 ? 'r' : '-'}${vma.flags & 2 ? 'w' : '-'}${vma.isShared ? ' shared' : ''}`;
    const ref = this.ref({ children: (start, count) => this.pageVars(mm, b, start, count) });
    this.pageParents.set(ref, b.name);
    return {
      name: b.name,
      value: `${b.pages} pages @${hex(b.start * PAGE_SIZE)} ${prot} — ${this.ctl.answers.get(this.ctl.epoch, `summary ${mm.id} ${b.start} ${b.pages}`, () => residencySummary(sim, mm, b.start, b.start + b.pages))}`,
      type: 'mapping',
      variablesReference: ref,
      indexedVariables: b.pages,
      memoryReference: hex(b.start * PAGE_SIZE),
      evaluateName: b.name,
    };
  }

  private pageVars(mm: Mm, b: { name: string; start: number; pages: number }, start: number, count: number): DebugProtocol.Variable[] {
    const n = Math.min(count > 0 ? count : 1000, b.pages - start);
    const out: DebugProtocol.Variable[] = [];
    for (let i = start; i < start + n; i++) out.push(this.pageVar(mm, b.start + i, `[${i}]`, `${b.name}[${i}]`));
    return out;
  }

  pageVar(mm: Mm, vpn: number, name: string, evaluateName: string): DebugProtocol.Variable {
    const sim = this.ctl.sim;
    const st = sim.pageState(mm, vpn);
    return {
      name,
      value: foundText(st) + (st.huge ? ' (huge)' : ''),
      type: 'page',
      evaluateName,
      memoryReference: hex(vpn * PAGE_SIZE),
      variablesReference: this.ref({
        children: () => {
          const d = pageDetails(sim, mm, vpn);
          const v: DebugProtocol.Variable[] = [
            { name: 'address', value: hex(d.address), variablesReference: 0 },
            { name: 'CPU entry', value: `${d.entry}${d.pfn !== undefined ? (d.entryWritable ? ', writable' : ', read-only') : ''}`, variablesReference: 0 },
          ];
          if (d.pfn !== undefined) {
            v.push({ name: 'pfn', value: `${hex(d.pfn)} (${d.zone})`, variablesReference: 0 });
            v.push({ name: 'struct page', value: `refcount ${d.refcount}, mapcount ${d.mapcount}, pins ${d.pincount}`, variablesReference: 0 });
          }
          for (const m of d.mirrors) v.push({ name: `${m.device} maps`, value: m.mapping, variablesReference: 0 });
          v.push({ name: 'first words', value: d.firstWords.join(', '), variablesReference: 0 });
          return v;
        },
      }),
    };
  }

  deviceVar(name: string): DebugProtocol.Variable {
    const sim = this.ctl.sim;
    const d = sim.device(name);
    const s = sim.deviceStats(d);
    const mirrors = sim.driver.mirrors.filter((m) => m.device === d);
    return {
      name: d.name,
      value: `${d.type}, ${d.used} of ${d.capacityPages} pages used, ${d.link}`,
      type: 'device',
      variablesReference: this.ref({
        children: () => [
          { name: 'memory', value: `${d.type === 'private' ? 'device-private' : 'device-coherent'}, ${d.capacityPages} pages (${(d.capacityPages * PAGE_SIZE) / 2 ** 20} MiB)`, variablesReference: 0 },
          { name: 'used', value: `${d.used} pages`, variablesReference: 0 },
          { name: 'free', value: `${d.freePages} pages`, variablesReference: 0 },
          { name: 'link', value: d.link, variablesReference: 0 },
          { name: 'policy', value: d.policy, variablesReference: 0 },
          { name: 'stats', value: `${faultsText(s.faultPages, s.faultBatches)}, pages in ${s.pagesIn}, pages out ${s.pagesOut}, evictions ${s.evictions}`, variablesReference: 0 },
          ...mirrors.map((m) => this.mirrorVar(m)),
        ],
      }),
    };
  }

  private mirrorVar(m: Dmirror): DebugProtocol.Variable {
    let entries = 0;
    for (const p of m.pt.values()) entries += p.used;
    return {
      name: `mirror of ${m.mm.name}`,
      value: `${entries} device page-table entries, notifier seq ${m.notifier.invalidateSeq}${m.failAlloc ? ', next allocation fails' : ''}`,
      variablesReference: 0,
    };
  }

  private migrationVar(m: MigrateVma, i: number): DebugProtocol.Variable {
    const sim = this.ctl.sim;
    const range = sim.describeRange(m.start, m.end);
    const skipped = m.skippedRuns();
    return {
      name: `#${i} ${range}`,
      value: `${m.direction} ${m.pgmapOwner.name}, phase ${m.phase}, cpages ${m.cpages}${skipped.length ? `, ${skipped.reduce((n, r) => n + r.count, 0)} skipped` : ''} (${m.cause})`,
      variablesReference: this.ref({
        children: (start, count) => {
          const head: DebugProtocol.Variable[] = start === 0 && count === 0 ? [
            { name: 'phase', value: m.phase, variablesReference: 0 },
            { name: 'cpages', value: String(m.cpages), variablesReference: 0 },
            ...skipped.map((r) => ({ name: `skipped ${sim.describeRange(r.start, r.start + r.count)}`, value: r.reason, variablesReference: 0 })),
          ] : [];
          const n = Math.min(count > 0 ? count : 1000, m.npages - start);
          for (let k = start; k < start + n; k++) {
            const migrating = m.migrating(k);
            const src = m.src[k]!;
            const dst = m.dst[k]!;
            head.push({
              name: `[${k}]`,
              value: `${migrating ? 'MIGRATE' : 'skip'} src ${src < 0 ? 'none' : hex(src)} dst ${dst < 0 ? 'none' : hex(dst)}`,
              variablesReference: 0,
            });
          }
          return head;
        },
      }),
      indexedVariables: m.npages,
      namedVariables: 2 + skipped.length,
    };
  }

  private jobVars(): DebugProtocol.Variable[] {
    const sim = this.ctl.sim;
    const out: DebugProtocol.Variable[] = sim.gpu.jobs.map((j) => {
      const st = j.stats;
      const t = formatDuration;
      const state = j.done ? `done at t=${t(j.endTime ?? 0)}` : `running, t=${t(j.time)}, statement ${j.pc + 1} of ${j.ops.length}`;
      return {
        name: j.name,
        value: `${j.kernel} on ${j.device.name}: ${state}; ${faultsText(st.faults, st.batches)}`,
        variablesReference: this.ref({
          children: () => [
            { name: 'launched', value: `t=${t(j.launchTime)}`, variablesReference: 0 },
            { name: 'faults', value: `${faultsText(st.faults, st.batches)}${st.batches ? `, servicing them took ${t(st.faultNs)}` : ''}`, variablesReference: 0 },
            { name: 'copies', value: t(st.copyNs), variablesReference: 0 },
            { name: 'compute', value: t(st.computeNs), variablesReference: 0 },
            { name: 'access', value: `${t(st.accessNs)} (${st.bytesLocal} B local, ${st.bytesRemote} B remote)`, variablesReference: 0 },
          ],
        }),
      };
    });
    for (const c of sim.gpu.pendingCopies()) {
      out.push({ name: `prefetch#${c.id}`, value: `${sim.describeRange(c.start, c.end)} to ${c.toDevice ? c.device.name : 'system'}, copy t=${formatDuration(c.startTime)} to ${formatDuration(c.endTime)}`, variablesReference: 0 });
    }
    return out;
  }

  private lastVars(): DebugProtocol.Variable[] {
    const last = this.ctl.interp.last;
    const v: DebugProtocol.Variable[] = [
      { name: 'rc', value: last.rc === 0 ? '0' : String(last.rc), variablesReference: 0 },
      { name: 'cpages', value: String(last.cpages), variablesReference: 0 },
      { name: 'faults', value: String(last.faults), variablesReference: 0 },
    ];
    const data = last.data;
    if (data !== undefined) {
      const sim = this.ctl.sim;
      v.push({
        name: 'data', value: `${data.count} pages read`, indexedVariables: data.count,
        variablesReference: this.ref({
          children: (start, count) => {
            const n = Math.min(count > 0 ? count : 1000, data.count - start);
            const out: DebugProtocol.Variable[] = [];
            for (let k = start; k < start + n; k++) {
              const words: number[] = [];
              for (let w = 0; w < 4; w++) words.push(sim.contents.word(data.pages.idAt(k), data.pages.pageAt(k), w));
              out.push({ name: `[${data.start - data.mapStart + k}]`, value: `${words.join(', ')}, …`, variablesReference: 0 });
            }
            return out;
          },
        }),
      });
    }
    const flags = last.flags;
    if (flags !== undefined) {
      v.push({
        name: 'flags', value: `${flags.bytes.length} snapshot bytes`, indexedVariables: flags.bytes.length,
        variablesReference: this.ref({
          children: (start, count) => {
            const n = Math.min(count > 0 ? count : 1000, flags.bytes.length - start);
            const out: DebugProtocol.Variable[] = [];
            for (let k = start; k < start + n; k++) out.push({ name: `[${flags.start - flags.mapStart + k}]`, value: flagText(flags.bytes[k]!), variablesReference: 0 });
            return out;
          },
        }),
      });
    }
    return v;
  }
}
