// Parse, check and run one script headless: what `hmm-sim run` and the tests do per file.

import type { SimEvent } from '../events';
import { formatPlacementReport, placementReport } from '../placementReport';
import { LINUX_PROFILES, type LinuxVersion } from '../profile';
import { Simulator } from '../simulator';
import type { Diagnostic } from './ast';
import { Budget, type Limits } from './budget';
import { checkScript } from './checker';
import { Execution, inSlices } from './execution';
import { Interpreter, type StatementOutcome } from './interpreter';
import { parseScript } from './parser';
import { renderResidency } from './residency';

export interface ScriptRun {
  readonly file: string;
  /** Parse and check problems: the script did not run. */
  readonly diagnostics: Diagnostic[];
  /** `file:line:col: message` of the runtime error, if any. */
  readonly error: string | undefined;
  readonly events: readonly SimEvent[];
  readonly sim: Simulator | undefined;
  readonly statements: number;
  /** Residency maps of every mapping still bound, per live process (made when first read). */
  readonly residency: string;
  /** The placement report, when the script ran GPU work (or `report` was asked for). */
  readonly report: string | undefined;
}

export interface RunOptions {
  readonly output?: (text: string) => void;
  /** Called after each statement with a one-line summary (`--verbose`). */
  readonly onStatement?: (line: string) => void;
  /** Always produce the placement report. */
  readonly report?: boolean;
  /** The density prefetcher of fault-driven migrations (on by default). */
  readonly prefetcher?: boolean;
  /** Wall time and memory the run may use: past either, it stops with a runtime error. */
  readonly limits?: Limits;
  /** The kernel version modelled (mainline by default). */
  readonly linux?: LinuxVersion;
}

/** Parse and check: every problem, sorted by position. */
export function diagnose(file: string, text: string): { diagnostics: Diagnostic[]; script: ReturnType<typeof parseScript>['script'] } {
  const parsed = parseScript(file, text);
  const checked = checkScript(parsed.script);
  const seen = new Set<string>();
  const diagnostics = [...parsed.diagnostics, ...checked]
    .filter((d) => {
      const k = `${d.line}:${d.col}:${d.message}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    })
    .sort((a, b) => a.line - b.line || a.col - b.col);
  return { diagnostics, script: parsed.script };
}

export function runScriptText(file: string, text: string, opts: RunOptions = {}): ScriptRun {
  const g = runStatements(file, text, opts);
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}

/**
 * runScriptText for a host that must stay responsive (the extension host): runs in slices of
 * SLICE_MS, reports progress after each slice, and stops between statements when `signal` aborts
 * (the result then has `cancelled` set and the state so far).
 */
export async function runScriptTextAsync(
  file: string, text: string,
  opts: RunOptions & { readonly signal?: AbortSignal; readonly progress?: (statements: number, simulatedNs: number) => void } = {},
): Promise<ScriptRun & { readonly cancelled: boolean }> {
  const g = runStatements(file, text, opts);
  let at: { statements: number; sim: Simulator } | undefined;
  return inSlices<ScriptRun & { readonly cancelled: boolean }>(() => {
    const r = g.next();
    if (r.done) return { ...r.value, cancelled: false };
    at = r.value;
    return undefined;
  }, () => {
    if (at === undefined) return undefined;
    opts.progress?.(at.statements, at.sim.clock.now);
    if (opts.signal?.aborted !== true) return undefined;
    const run = cancelledRun(file, at.sim, at.statements);
    g.return(run);
    return { ...run, cancelled: true };
  });
}

function cancelledRun(file: string, sim: Simulator, statements: number): ScriptRun {
  return finishedRun({ file, diagnostics: [], error: `cancelled after ${statements} statements`, events: sim.log.events, sim, statements, report: undefined }, sim);
}

/** The run, one statement per step: yields the count so far and the simulator. */
function* runStatements(file: string, text: string, opts: RunOptions): Generator<{ statements: number; sim: Simulator }, ScriptRun, void> {
  const { diagnostics, script } = diagnose(file, text);
  if (diagnostics.length > 0) {
    return { file, diagnostics, error: undefined, events: [], sim: undefined, statements: 0, residency: '', report: undefined };
  }
  const sim = new Simulator();
  sim.prefetcherEnabled = opts.prefetcher ?? true;
  // No debugger pauses this run: a notifier callback need not be a point to pause at.
  sim.pauseInNotifiers = false;
  sim.profile = LINUX_PROFILES[opts.linux ?? 'mainline'];
  const interp = new Interpreter(script, { sim, output: opts.output });
  const budget = new Budget(opts.limits ?? {});
  let error: string | undefined;
  let statements = 0;
  const execution = new Execution(interp);
  for (;;) {
    // Long statements yield inside (PREEMPT), so an async run's slices and cancel act there too.
    let r: StatementOutcome;
    const why = budget.exceeded();
    if (why !== undefined && interp.nextStatement() !== undefined) r = interp.stop(why);
    else {
      execution.begin();
      let p = execution.advance();
      while (p.kind !== 'ended') {
        if (p.kind === 'preempt') yield { statements, sim };
        p = execution.advance(budget.exceeded());
      }
      r = p.outcome;
    }
    if (r.kind === 'done') break;
    if (r.kind === 'error') {
      error = r.error.formatted;
      break;
    }
    statements++;
    if (opts.onStatement) {
      const evs = sim.log.ofStep(sim.step);
      const summary = summarize(evs);
      opts.onStatement(`${file}:${r.stmt.loc.line}: ${r.stmt.kind}${summary ? ` — ${summary}` : ''}`);
    }
    yield { statements, sim };
  }
  const gpuWork = sim.gpu.jobs.length > 0 || sim.gpu.copies.length > 0;
  const report = opts.report || gpuWork ? formatPlacementReport(placementReport(sim)) : undefined;
  return finishedRun({ file, diagnostics: [], error, events: sim.log.events, sim, statements, report }, sim);
}

/**
 * The run with its residency maps made on first read: a whole-GPU run's maps scan every page
 * table, and hmm-sim prints them only with --verbose. The run is over: the state they show stays.
 */
function finishedRun(run: Omit<ScriptRun, 'residency'>, sim: Simulator): ScriptRun {
  let residency: string | undefined;
  return {
    ...run,
    get residency(): string {
      return (residency ??= residencyOf(sim));
    },
  };
}

function summarize(evs: readonly SimEvent[]): string {
  const counts = new Map<string, number>();
  for (const e of evs) {
    const k = e.kind === 'notifier' ? `notifier ${e.event}` : e.kind === 'migrate' ? `migrate ${e.phase}` : e.kind === 'cpuFault' ? `cpu fault (${e.action})` : e.kind;
    counts.set(k, (counts.get(k) ?? 0) + (e.kind === 'cpuFault' ? e.end - e.start : e.count));
  }
  return [...counts].map(([k, n]) => `${n}× ${k}`).join(', ');
}

export function residencyOf(sim: Simulator): string {
  const out: string[] = [];
  for (const mm of sim.mms) {
    if (!mm.alive) continue;
    for (const b of sim.bindings.values()) {
      if (mm.vmas.intersecting(b.start, b.start + b.pages).length === 0) continue;
      out.push(renderResidency(sim, mm, b.start, b.start + b.pages, b.name));
    }
  }
  return out.join('\n');
}
