// Parse, check and run one script headless: what `hmm-sim run` and the tests do per file.

import type { SimEvent } from '../events';
import { formatPlacementReport, placementReport } from '../placementReport';
import { LINUX_PROFILES, type LinuxVersion } from '../profile';
import { SimError, Simulator } from '../simulator';
import { PREEMPT } from '../step';
import type { Diagnostic } from './ast';
import { Budget, type Limits } from './budget';
import { checkScript } from './checker';
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
  /** Residency maps of every mapping still bound, per live process. */
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

/** How long runScriptTextAsync holds the event loop before letting others in. */
const SLICE_MS = 20;

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
  for (;;) {
    const deadline = Date.now() + SLICE_MS;
    let r = g.next();
    while (!r.done && Date.now() < deadline) r = g.next();
    if (r.done) return { ...r.value, cancelled: false };
    opts.progress?.(r.value.statements, r.value.sim.clock.now);
    await new Promise((resolve) => setImmediate(resolve));
    if (opts.signal?.aborted === true) {
      const run = cancelledRun(file, r.value.sim, r.value.statements);
      g.return(run);
      return { ...run, cancelled: true };
    }
  }
}

function cancelledRun(file: string, sim: Simulator, statements: number): ScriptRun {
  return { file, diagnostics: [], error: `cancelled after ${statements} statements`, events: sim.log.events, sim, statements, residency: residencyOf(sim), report: undefined };
}

/** The run, one statement per step: yields the count so far and the simulator. */
function* runStatements(file: string, text: string, opts: RunOptions): Generator<{ statements: number; sim: Simulator }, ScriptRun, void> {
  const { diagnostics, script } = diagnose(file, text);
  if (diagnostics.length > 0) {
    return { file, diagnostics, error: undefined, events: [], sim: undefined, statements: 0, residency: '', report: undefined };
  }
  const sim = new Simulator();
  sim.prefetcherEnabled = opts.prefetcher ?? true;
  sim.profile = LINUX_PROFILES[opts.linux ?? 'mainline'];
  const interp = new Interpreter(script, { sim, output: opts.output });
  const budget = new Budget(opts.limits ?? {});
  let error: string | undefined;
  let statements = 0;
  for (;;) {
    // Long statements yield inside (PREEMPT), so an async run's slices and cancel act there too.
    const step = stepWithin(interp, budget);
    let s = step.next();
    while (!s.done) {
      yield { statements, sim };
      s = step.next();
    }
    const r = s.value;
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
  return { file, diagnostics: [], error, events: sim.log.events, sim, statements, residency: residencyOf(sim), report };
}

/**
 * One statement, stopped where the budget runs out (between statements or at a yield inside);
 * yields at the statement's PREEMPT points.
 */
function* stepWithin(interp: Interpreter, budget: Budget): Generator<void, StatementOutcome, void> {
  const before = budget.exceeded();
  if (before !== undefined && interp.nextStatement() !== undefined) return interp.stop(before);
  const g = interp.stepStatement();
  for (let r = g.next(); ; ) {
    if (r.done) return r.value;
    if (r.value === PREEMPT) yield;
    const why = budget.exceeded();
    r = why === undefined ? g.next() : g.throw(new SimError(`stopped: ${why}`));
  }
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
