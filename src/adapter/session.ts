// The DAP session: translates requests to the script controller and the simulator's inspection
// API, and controller results to DAP events. It owns no simulator state.

import { isLinuxVersion, LINUX_VERSIONS, type LinuxVersion } from '../hmm/profile';
import {
  Breakpoint, InitializedEvent, InvalidatedEvent, LoggingDebugSession, MemoryEvent, OutputEvent, Response, Source,
  StoppedEvent, TerminatedEvent, Thread, Event as DapEvent,
} from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import * as path from 'node:path';
import { PAGE_SIZE } from '../hmm/constants';
import type { Mm } from '../hmm/mm';
import { formatDiagnostic } from '../hmm/lang/ast';
import { EVENT_FILTERS, filterLabel, type RunResult, ScriptController, type StopInfo } from '../hmm/lang/controller';
import { eventLine, eventsReport, hex, pageReport, whyChain, whyReport } from '../hmm/lang/inspect';
import { buildPicture, type Picture } from '../hmm/lang/picture';
import { residencyOf } from '../hmm/lang/runner';
import { renderResidency, residencyRuns } from '../hmm/lang/residency';
import { MAX_SCRIPT_BYTES } from '../hmm/lang/limits';
import { readScriptFile } from '../hmm/lang/scriptFile';
import { JOB_ACTION_FRAME } from '../hmm/gpu';
import { formatPlacementReport, placementReport } from '../hmm/placementReport';
import { formatDuration } from '../hmm/timing';
import {
  CUSTOM_EVENTS, CUSTOM_REQUESTS, type HmmLaunchArguments, type LineEffectsResponseBody, type MigrationsResponseBody,
  type NotifierArguments, type NotifiersResponseBody, type PageWhyArguments, type PageWhyResponseBody, type PictureArguments,
  type ResidencyArguments, type ResidencyResponseBody, type StateChangedEventBody,
} from './protocol';
import { requestProblem } from './validate';
import { VariableStore } from './variables';

/** How the session reads scripts: injected so the extension host and tests can supply files. */
export interface FileAccess {
  readFile(file: string): string;
}

const nodeFiles: FileAccess = { readFile: readScriptFile };

const REPL_COMMANDS = ['page', 'residency', 'events', 'why', 'watch', 'unwatch', 'report', 'help'];
/** Most events the REPL's `events N` prints. */
const MAX_EVENTS_SHOWN = 10000;
/** GPU jobs are threads too, numbered above any process id. */
const JOB_THREAD_BASE = 100000;
const REPL_HELP = [
  'page a[3]        full state and history of a page',
  'residency a      residency map of a mapping (or all mappings)',
  'events [N]       the last N events (default 30)',
  'why a[3]         the chain of events that put the page where it is',
  'watch a[3]       stop when the residency or device mapping of a page or range changes',
  'unwatch          remove every watch',
  'report           the placement report so far (faults, bytes moved, time per device and line)',
  'a, a[3], last.rc, stats.gpu0.faults, time   values',
].join('\n');

const enum ErrorCode {
  BadLaunch = 2001,
  Rejected = 2002,
  NotRunning = 2003,
  BadReference = 2004,
  BadArgument = 2005,
}

export class HmmDebugSession extends LoggingDebugSession {
  private ctl: ScriptController | undefined;
  private vars: VariableStore | undefined;
  private args: HmmLaunchArguments | undefined;
  private lastStop: StopInfo | undefined;
  private running = false;
  private configurationDone: () => void = () => undefined;
  private readonly configured = new Promise<void>((resolve) => { this.configurationDone = resolve; });
  /** Line breakpoints per source file (VS Code sends one request per file): only the script's apply. */
  private readonly bpBySource = new Map<string, DebugProtocol.SourceBreakpoint[]>();

  constructor(private readonly files: FileAccess = nodeFiles) {
    super();
    this.setDebuggerLinesStartAt1(true);
    this.setDebuggerColumnsStartAt1(true);
    // The library shuts the adapter down (exit 0, silently) on any 'error': a frame that is not
    // JSON included. Such a frame has no seq to answer: say why on stderr and keep serving.
    this.removeAllListeners('error');
    this.on('error', (e: DebugProtocol.Event) => {
      const why = String(e.body ?? 'unknown error');
      process.stderr.write(`hmm-debug adapter: ${why}\n`);
      if (!why.startsWith('Error handling data')) this.shutdown();
    });
  }

  /** Every request's arguments are checked here, before its handler runs (see validate.ts). */
  protected override dispatchRequest(request: DebugProtocol.Request): void {
    const problem = requestProblem(request.command, request.arguments);
    if (problem !== undefined) return this.fail(new Response(request), ErrorCode.BadArgument, problem);
    super.dispatchRequest(request);
  }

  // ---- the request table --------------------------------------------------------------------

  protected override initializeRequest(response: DebugProtocol.InitializeResponse): void {
    response.body = {
      supportsConfigurationDoneRequest: true, // VS Code sends breakpoints first, then configurationDone
      supportsConditionalBreakpoints: true, // `last.rc != 0`, `c >= 3` on line breakpoints
      supportsHitConditionalBreakpoints: true, // `>= 3`, `% 2`
      supportsLogPoints: true, // messages with {expressions} instead of stopping
      supportsStepBack: true, // Step Back and Reverse Continue buttons: state really rewinds
      supportsRestartRequest: true, // restart in place, keeping breakpoints
      supportsTerminateRequest: true, // Stop sends terminate before disconnect
      supportsExceptionInfoRequest: true, // the exception widget shows what the event was
      supportsExceptionFilterOptions: true, // conditions on fault / event breakpoints
      supportsDataBreakpoints: true, // "Break on Value Change" on pages and mappings
      supportsReadMemoryRequest: true, // View Binary Data on mappings and pages
      supportsWriteMemoryRequest: true, // editing bytes in the binary view
      supportsCompletionsRequest: true, // REPL completions
      supportsEvaluateForHovers: true, // hover on a mapping name shows its residency
      supportsDelayedStackTraceLoading: false,
      supportsValueFormattingOptions: false,
      supportsSetVariable: false,
      exceptionBreakpointFilters: EVENT_FILTERS.map((f) => ({
        filter: f.id, label: f.label, description: f.description, default: f.default,
        supportsCondition: f.conditionDescription !== '', conditionDescription: f.conditionDescription || undefined,
      })),
    };
    this.sendResponse(response);
  }

  protected override configurationDoneRequest(response: DebugProtocol.ConfigurationDoneResponse): void {
    this.sendResponse(response);
    this.configurationDone();
  }

  protected override async launchRequest(response: DebugProtocol.LaunchResponse, raw: DebugProtocol.LaunchRequestArguments): Promise<void> {
    const args = (raw ?? {}) as Partial<HmmLaunchArguments>;
    const problem = validateLaunch(args);
    if (problem !== undefined) return this.fail(response, ErrorCode.BadLaunch, problem);
    if (this.ctl !== undefined) return this.fail(response, ErrorCode.BadLaunch, 'launch: this session already runs a script');
    const program = path.resolve(args.program!);
    const ctl = this.load(program);
    if (typeof ctl === 'string') return this.fail(response, ctl.startsWith('cannot read') ? ErrorCode.BadLaunch : ErrorCode.Rejected, ctl);
    this.args = { ...args, program } as HmmLaunchArguments;
    ctl.prefetcher = args.prefetcher ?? true;
    ctl.limits = { timeoutMs: args.timeout === undefined ? undefined : args.timeout * 1000, maxMemoryBytes: args.maxMemory === undefined ? undefined : args.maxMemory * 2 ** 20 };
    ctl.linux = isLinuxVersion(args.linux ?? '') ? args.linux as LinuxVersion : 'mainline';
    ctl.reset();
    this.ctl = ctl;
    this.vars = new VariableStore(ctl);
    ctl.setLineBreakpoints(this.bpRequests);
    this.launchFilters = Object.entries(args.eventBreakpoints ?? {}).map(([id, condition]) => ({ id, condition }));
    this.applyFilters();
    this.sendResponse(response);
    if (this.launchFilters.length > 0) {
      // Said once, so a stop on a filter that is not ticked in the Breakpoints view is explained.
      const on = this.launchFilters.map((f) => `${filterLabel(f.id)}${f.condition ? ` (${f.condition})` : ''}`).join(', ');
      this.sendEvent(new OutputEvent(`Stopping on ${on}: from the launch configuration, besides what is ticked in Breakpoints.\n`, 'console'));
    }
    this.sendEvent(new InitializedEvent());
    await this.configured;
    if (this.args.stopOnEntry && !this.args.noDebug) this.report({ kind: 'stopped', stop: ctl.entryStop() });
    else await this.runWith(() => ctl.continue());
  }

  /** The script's line breakpoints (those of a request without a path when none name it). */
  private get bpRequests(): DebugProtocol.SourceBreakpoint[] {
    const program = this.args?.program;
    return (program !== undefined ? this.bpBySource.get(program) : undefined) ?? this.bpBySource.get('') ?? [];
  }

  protected override setBreakPointsRequest(response: DebugProtocol.SetBreakpointsResponse, args: DebugProtocol.SetBreakpointsArguments): void {
    const requested = args.breakpoints ?? (args.lines ?? []).map((line) => ({ line }));
    const file = args.source?.path === undefined ? '' : path.resolve(this.convertClientPathToDebugger(args.source.path));
    this.bpBySource.set(file, requested);
    const ctl = this.ctl;
    const program = this.args?.program;
    if (ctl === undefined || (file !== '' && file !== program)) {
      // Before launch (launch verifies them), or another file's: not breakpoints of the script.
      const message = ctl !== undefined && program !== undefined ? `not in ${path.basename(program)}, the script being debugged` : undefined;
      response.body = { breakpoints: requested.map((b) => ({ verified: false, line: b.line, ...(message !== undefined ? { message } : {}) })) };
      return this.sendResponse(response);
    }
    const set = ctl.setLineBreakpoints(requested);
    response.body = {
      breakpoints: set.map((b) => {
        const bp = new Breakpoint(b.verified, b.line) as DebugProtocol.Breakpoint;
        bp.id = b.id;
        if (b.message) bp.message = b.message;
        return bp;
      }),
    };
    this.sendResponse(response);
  }

  protected override setExceptionBreakPointsRequest(response: DebugProtocol.SetExceptionBreakpointsResponse, args: DebugProtocol.SetExceptionBreakpointsArguments): void {
    const filters = [...(args.filters ?? []).map((id) => ({ id })), ...(args.filterOptions ?? []).map((o) => ({ id: o.filterId, condition: o.condition }))];
    this.uiFilters = filters;
    if (this.ctl === undefined) {
      this.pendingFilters = filters;
      response.body = { breakpoints: filters.map(() => ({ verified: true })) };
      return this.sendResponse(response);
    }
    response.body = { breakpoints: this.applyFilters() };
    this.sendResponse(response);
  }

  private pendingFilters: { id: string; condition?: string }[] | undefined;
  /** Event filters from the Breakpoints view (setExceptionBreakpoints) and from the launch configuration. */
  private uiFilters: { id: string; condition?: string }[] = EVENT_FILTERS.filter((f) => f.default).map((f) => ({ id: f.id }));
  private launchFilters: { id: string; condition?: string }[] = [];

  /** Both sets of event filters on the controller; the Breakpoints view's results, in its order. */
  private applyFilters(): { verified: boolean; message?: string }[] {
    const results = this.ctl!.setEventFilters([...this.uiFilters, ...this.launchFilters]);
    const fromLaunch = results.slice(this.uiFilters.length);
    for (const r of fromLaunch) {
      if (r.message !== undefined) this.sendEvent(new OutputEvent(`warning: launch configuration "eventBreakpoints": ${r.message}\n`, 'console'));
    }
    return results.slice(0, this.uiFilters.length);
  }

  protected override threadsRequest(response: DebugProtocol.ThreadsResponse): void {
    const mms = this.ctl?.sim.mms.filter((m) => m.alive) ?? [];
    const jobs = this.ctl?.sim.gpu.jobs.filter((j) => !j.done) ?? [];
    response.body = {
      threads: [
        ...(mms.length ? mms.map((m) => new Thread(m.id, m.name)) : [new Thread(1, 'main')]),
        ...jobs.map((j) => new Thread(JOB_THREAD_BASE + j.id, `GPU ${j.name} on ${j.device.name}`)),
      ],
    };
    this.sendResponse(response);
  }

  /** The thread a stop belongs to: the GPU job whose action was running, else the process. */
  private stoppedThread(ctl: ScriptController): number {
    const job = ctl.sim.gpu.current;
    return job !== undefined ? JOB_THREAD_BASE + job.id : ctl.interp.process.id;
  }

  protected override stackTraceRequest(response: DebugProtocol.StackTraceResponse, args: DebugProtocol.StackTraceArguments): void {
    const ctl = this.ctl;
    if (ctl === undefined) return this.fail(response, ErrorCode.NotRunning, 'not running');
    const source = this.source();
    const frames: DebugProtocol.StackFrame[] = [];
    const job = args.threadId >= JOB_THREAD_BASE ? ctl.sim.gpu.jobs.find((j) => j.id === args.threadId - JOB_THREAD_BASE) : undefined;
    const running = ctl.sim.gpu.current;
    // A job's action runs inside a CPU statement (its `wait`, or the one whose time came): kernel
    // frames from the job's action frame up are the job's, the ones below it the CPU's.
    const ks = ctl.sim.kstack;
    let split = ks.length;
    if (running !== undefined) for (let i = ks.length - 1; i >= 0 && split === ks.length; i--) if (ks[i]!.name === JOB_ACTION_FRAME) split = i;
    if (job !== undefined) {
      const line = job.op?.pos.line ?? job.launchPos?.line ?? 1;
      if (running === job) {
        for (let i = ks.length - 1; i >= split; i--) {
          const k = ks[i]!;
          frames.push({ id: 1000 + i, name: `${k.name} (${k.detail})`, source, line, column: 1 });
        }
      }
      const op = job.op;
      const what = op === undefined ? '' : op.kind === 'compute' ? ' compute' : ` ${op.access} page ${op.start + job.cursor - op.mapStart} of ${ctl.sim.describeRange(op.start, op.end)}`;
      frames.push({ id: 900, name: `kernel ${job.kernel}${what} (t=${formatDuration(job.time)})`, source, line, column: 1 });
    } else if (args.threadId === ctl.interp.process.id) {
      const top = ctl.interp.frames[ctl.interp.frames.length - 1];
      // While a job's action runs, the simulator's location is the kernel's line: the CPU is at its statement.
      const line = (running !== undefined ? top?.body[top.pc - 1]?.loc.line : undefined) ?? ctl.displayLine() ?? ctl.sim.loc?.line ?? 1;
      // Kernel frames of the statement in progress (not a GPU job's), innermost first.
      for (let i = split - 1; i >= 0; i--) {
        const k = ks[i]!;
        frames.push({ id: 1000 + i, name: `${k.name} (${k.detail})`, source, line, column: 1 });
      }
      const fr = ctl.interp.frames;
      for (let i = fr.length - 1; i >= 0; i--) {
        const f = fr[i]!;
        const top = i === fr.length - 1;
        const loc = top ? line : (f.body[f.pc - 1]?.loc.line ?? f.headerLoc?.line ?? 1);
        frames.push({ id: i + 1, name: f.kind === 'script' ? path.basename(f.name) : f.kind === 'repeat' ? `${f.name} (iteration ${f.iter + 1} of ${f.count})` : f.name, source, line: loc, column: 1 });
      }
    } else {
      frames.push({ id: 999, name: 'not running (the script runs in another process)', line: 0, column: 0, presentationHint: 'label' });
    }
    const start = args.startFrame ?? 0;
    const levels = args.levels && args.levels > 0 ? args.levels : frames.length;
    response.body = { stackFrames: frames.slice(start, start + levels), totalFrames: frames.length };
    this.sendResponse(response);
  }

  protected override scopesRequest(response: DebugProtocol.ScopesResponse): void {
    if (this.vars === undefined) return this.fail(response, ErrorCode.NotRunning, 'not running');
    response.body = { scopes: this.vars.scopes() };
    this.sendResponse(response);
  }

  protected override variablesRequest(response: DebugProtocol.VariablesResponse, args: DebugProtocol.VariablesArguments): void {
    const v = this.vars?.variables(args.variablesReference, args.start ?? 0, args.count ?? 0);
    if (v === undefined) return this.fail(response, ErrorCode.BadReference, `unknown variables reference ${args.variablesReference}`);
    response.body = { variables: v };
    this.sendResponse(response);
  }

  protected override continueRequest(response: DebugProtocol.ContinueResponse): void {
    response.body = { allThreadsContinued: true };
    this.resume(response, (c) => c.continue());
  }

  // A GPU job's thread steps that job; the process's thread steps the script.
  protected override nextRequest(response: DebugProtocol.NextResponse, args: DebugProtocol.NextArguments): void {
    const job = args.threadId >= JOB_THREAD_BASE ? args.threadId - JOB_THREAD_BASE : undefined;
    this.resume(response, (c) => (job !== undefined ? c.stepJob(job, false) : c.stepOver()));
  }

  protected override stepInRequest(response: DebugProtocol.StepInResponse, args: DebugProtocol.StepInArguments): void {
    const job = args.threadId >= JOB_THREAD_BASE ? args.threadId - JOB_THREAD_BASE : undefined;
    this.resume(response, (c) => (job !== undefined ? c.stepJob(job, true) : c.stepIn()));
  }

  protected override stepOutRequest(response: DebugProtocol.StepOutResponse): void {
    this.resume(response, (c) => c.stepOut());
  }

  protected override stepBackRequest(response: DebugProtocol.StepBackResponse): void {
    this.resume(response, (c) => c.stepBack());
  }

  protected override reverseContinueRequest(response: DebugProtocol.ReverseContinueResponse): void {
    this.resume(response, (c) => c.reverseContinue());
  }

  protected override pauseRequest(response: DebugProtocol.PauseResponse): void {
    this.ctl?.requestPause();
    this.sendResponse(response);
  }

  /** The script read and checked into a controller, or why it cannot run (problems also go to the console). */
  private load(program: string): ScriptController | string {
    let text: string;
    try {
      text = this.files.readFile(program);
    } catch (e) {
      // readScriptFile says why (not a regular file, too large); fs errors have a code.
      const why = e instanceof Error && !('code' in e) ? e.message.replace(/^cannot read: /, '') : (e as NodeJS.ErrnoException).code ?? String(e);
      return `cannot read ${program}: ${why}`;
    }
    if (text.length > MAX_SCRIPT_BYTES) return `cannot read ${program}: larger than the ${MAX_SCRIPT_BYTES / 2 ** 20} MiB a script may be`;
    let ctl: ScriptController;
    try {
      ctl = new ScriptController(program, text, {
        output: (t, line) => this.print(t, line),
        warning: (t) => this.sendEvent(new OutputEvent(`warning: ${t}\n`, 'console')),
      });
    } catch (e) {
      return `${path.basename(program)}: internal error: ${(e as Error).message}`;
    }
    if (ctl.diagnostics.length === 0) return ctl;
    for (const d of ctl.diagnostics) {
      // Relative to the script, with a link to its line (VS Code shows the source beside it).
      const e = new OutputEvent(`${formatDiagnostic({ ...d, file: path.basename(program) })}\n`, 'stderr') as DebugProtocol.OutputEvent;
      e.body.source = new Source(path.basename(program), this.convertDebuggerPathToClient(program));
      e.body.line = d.line;
      e.body.column = d.col;
      this.sendEvent(e);
    }
    const first = ctl.diagnostics[0]!;
    return `${path.basename(program)} was rejected: ${ctl.diagnostics.length} problem(s), first: line ${first.line}: ${first.message}`;
  }

  /** Restart runs the script as it is now: an edited script is read and checked again. */
  protected override async restartRequest(response: DebugProtocol.RestartResponse): Promise<void> {
    let ctl = this.ctl;
    if (ctl === undefined || this.args === undefined) return this.fail(response, ErrorCode.NotRunning, 'not running');
    if (this.running) return this.fail(response, ErrorCode.BadArgument, 'already running: pause first');
    const text = (() => { try { return this.files.readFile(this.args.program); } catch { return undefined; } })();
    if (text !== ctl.text) {
      const fresh = this.load(this.args.program);
      if (typeof fresh === 'string') return this.fail(response, fresh.startsWith('cannot read') ? ErrorCode.BadLaunch : ErrorCode.Rejected, fresh);
      const dropped = ctl.dataWatches.length;
      ctl.requestPause();
      fresh.prefetcher = ctl.prefetcher;
      fresh.limits = ctl.limits;
      fresh.linux = ctl.linux;
      fresh.reset();
      this.ctl = ctl = fresh;
      this.vars = new VariableStore(fresh);
      this.applyFilters();
      this.sendEvent(new OutputEvent(`${path.basename(this.args.program)} changed: restarting with the new text${dropped > 0 ? ` (its ${dropped} page watch(es) removed: set them again)` : ''}\n`, 'console'));
    } else {
      ctl.reset();
    }
    ctl.setLineBreakpoints(this.bpRequests);
    this.sendResponse(response);
    this.sendEvent(new InvalidatedEvent(['all']));
    if (this.args?.stopOnEntry) this.report({ kind: 'stopped', stop: ctl.entryStop() });
    else await this.runWith(() => ctl!.continue());
  }

  protected override terminateRequest(response: DebugProtocol.TerminateResponse): void {
    this.ctl?.requestPause();
    this.sendResponse(response);
    this.sendEvent(new TerminatedEvent());
  }

  protected override disconnectRequest(response: DebugProtocol.DisconnectResponse): void {
    this.ctl?.requestPause();
    this.ctl = undefined;
    this.sendResponse(response);
  }

  protected override exceptionInfoRequest(response: DebugProtocol.ExceptionInfoResponse): void {
    const stop = this.lastStop;
    if (stop === undefined || stop.reason !== 'exception') return this.fail(response, ErrorCode.BadArgument, 'not stopped on an exception');
    const e = stop.event;
    const sim = this.ctl!.sim;
    const details: string[] = [];
    if (e !== undefined) {
      details.push(eventLine(sim, e));
      const p = stop.pages ?? e;
      if (p.end > p.start) details.push(`address ${hex(p.start * PAGE_SIZE)}..${hex(p.end * PAGE_SIZE)} (${sim.describeRange(p.start, p.end)})`);
    }
    response.body = {
      // VS Code titles the widget "Exception has occurred: <id>": the filter's name, as the Breakpoints view shows it
      exceptionId: filterLabel(stop.filter ?? 'failure'),
      description: stop.description,
      breakMode: 'always',
      details: {
        message: stop.description,
        typeName: e?.kind ?? (stop.filter === 'invariant' ? 'invariant' : 'runtime error'),
        stackTrace: details.join('\n') || undefined,
        evaluateName: e !== undefined && e.end > e.start ? sim.describeRange(stop.pages?.start ?? e.start, (stop.pages?.start ?? e.start) + 1) : undefined,
      },
    };
    this.sendResponse(response);
  }

  protected override dataBreakpointInfoRequest(response: DebugProtocol.DataBreakpointInfoResponse, args: DebugProtocol.DataBreakpointInfoArguments): void {
    const ctl = this.ctl;
    const name = args.name;
    const candidate = this.vars?.rangeOf(args.variablesReference, name);
    const target = ctl !== undefined && candidate !== undefined && typeof ctl.resolveRangeText(candidate) !== 'string' ? candidate : undefined;
    response.body = target === undefined
      ? { dataId: null, description: `${name} is not a mapping or page` }
      : { dataId: target, description: `residency of ${target}`, accessTypes: ['write'], canPersist: true };
    this.sendResponse(response);
  }

  protected override setDataBreakpointsRequest(response: DebugProtocol.SetDataBreakpointsResponse, args: DebugProtocol.SetDataBreakpointsArguments): void {
    const ctl = this.ctl;
    if (ctl === undefined) {
      response.body = { breakpoints: args.breakpoints.map(() => ({ verified: false, message: 'not running' })) };
      return this.sendResponse(response);
    }
    const set = ctl.setWatches(args.breakpoints.map((b) => b.dataId));
    response.body = {
      breakpoints: set.map((w) => (typeof w === 'string' ? { verified: false, message: w } : { verified: true, id: w.id, description: w.label })),
    };
    this.sendResponse(response);
  }

  protected override readMemoryRequest(response: DebugProtocol.ReadMemoryResponse, args: DebugProtocol.ReadMemoryArguments): void {
    const ctl = this.ctl;
    const base = ctl === undefined ? undefined : this.parseMemoryReference(args.memoryReference);
    if (ctl === undefined || base === undefined) return this.fail(response, ErrorCode.BadReference, `unknown memory reference ${args.memoryReference}`);
    const addr = base + (args.offset ?? 0);
    const count = Math.max(0, Math.min(args.count, 16 * 2 ** 20));
    const bytes = ctl.sim.readBytes(ctl.interp.process, addr, count);
    response.body = { address: hex(addr), data: Buffer.from(bytes).toString('base64'), unreadableBytes: count - bytes.length };
    this.sendResponse(response);
  }

  protected override writeMemoryRequest(response: DebugProtocol.WriteMemoryResponse, args: DebugProtocol.WriteMemoryArguments): void {
    const ctl = this.ctl;
    const base = ctl === undefined ? undefined : this.parseMemoryReference(args.memoryReference);
    if (ctl === undefined || base === undefined) return this.fail(response, ErrorCode.BadReference, `unknown memory reference ${args.memoryReference}`);
    if (this.running) return this.fail(response, ErrorCode.BadArgument, 'memory cannot be written while the script runs: pause first');
    if (ctl.inKernel) return this.fail(response, ErrorCode.BadArgument, 'memory cannot be written while paused inside a kernel operation');
    const addr = base + (args.offset ?? 0);
    const data = Buffer.from(args.data, 'base64');
    const written = ctl.writeMemory(ctl.interp.process, addr, new Uint8Array(data));
    if (written === 0 && data.length > 0) return this.fail(response, ErrorCode.BadArgument, `${hex(addr)} is not writable memory of ${ctl.interp.process.name}`);
    response.body = { bytesWritten: written };
    this.sendResponse(response);
    this.sendEvent(new MemoryEvent(args.memoryReference, args.offset ?? 0, written));
    this.sendEvent(new InvalidatedEvent(['variables']));
    this.stateChanged('memory');
  }

  protected override evaluateRequest(response: DebugProtocol.EvaluateResponse, args: DebugProtocol.EvaluateArguments): void {
    const ctl = this.ctl;
    if (ctl === undefined) return this.fail(response, ErrorCode.NotRunning, 'not running');
    try {
      response.body = this.evaluate(ctl, args.expression.trim(), args.context);
      this.sendResponse(response);
    } catch (e) {
      this.fail(response, ErrorCode.BadArgument, (e as Error).message);
    }
  }

  protected override completionsRequest(response: DebugProtocol.CompletionsResponse, args: DebugProtocol.CompletionsArguments): void {
    const ctl = this.ctl;
    const before = args.text.slice(0, args.column - 1);
    const word = /[\w.]*$/.exec(before)?.[0] ?? '';
    const names = [
      ...REPL_COMMANDS,
      ...(ctl ? [...ctl.sim.bindings.keys(), ...ctl.sim.devices.map((d) => d.name)] : []),
      'last.rc', 'last.cpages', 'last.faults', 'time',
    ];
    response.body = {
      targets: names.filter((n) => n.startsWith(word) && n !== word).map((label) => ({ label, start: before.length - word.length, length: word.length })),
    };
    this.sendResponse(response);
  }

  protected override customRequest(command: string, response: DebugProtocol.Response, args: unknown): void {
    const ctl = this.ctl;
    if (ctl === undefined) return this.fail(response, ErrorCode.NotRunning, 'not running');
    try {
      switch (command) {
        case CUSTOM_REQUESTS.residency: response.body = this.residency(ctl, (args ?? {}) as ResidencyArguments); break;
        case CUSTOM_REQUESTS.migrations: response.body = this.migrations(ctl); break;
        case CUSTOM_REQUESTS.notifiers: response.body = this.notifiers(ctl, (args ?? {}) as NotifierArguments); break;
        case CUSTOM_REQUESTS.lineEffects: response.body = this.lineEffects(ctl); break;
        case CUSTOM_REQUESTS.picture: response.body = this.picture(ctl, (args ?? {}) as PictureArguments); break; // checked by validate.ts
        case CUSTOM_REQUESTS.pageWhy: response.body = this.pageWhy(ctl, args as PageWhyArguments); break;
        default: return super.customRequest(command, response, args);
      }
      this.sendResponse(response);
    } catch (e) {
      this.fail(response, ErrorCode.BadArgument, (e as Error).message);
    }
  }

  // ---- running and stopping -----------------------------------------------------------------

  private resume(response: DebugProtocol.Response, how: (c: ScriptController) => Promise<RunResult>): void {
    const ctl = this.ctl;
    if (ctl === undefined) return this.fail(response, ErrorCode.NotRunning, 'not running');
    if (this.running) return this.fail(response, ErrorCode.BadArgument, 'already running');
    this.sendResponse(response);
    void this.runWith(() => how(ctl));
  }

  /** Runs and reports; never rejects: a failure inside ends the session with its message. */
  private async runWith(how: () => Promise<RunResult>): Promise<void> {
    try {
      await this.runAndReport(how);
    } catch (e) {
      this.running = false;
      this.sendEvent(new OutputEvent(`internal error: ${e instanceof Error ? e.message : String(e)}\n`, 'stderr'));
      this.sendEvent(new TerminatedEvent());
    }
  }

  private async runAndReport(how: () => Promise<RunResult>): Promise<void> {
    if (this.pendingFilters !== undefined && this.ctl !== undefined) {
      this.uiFilters = this.pendingFilters;
      this.applyFilters();
      this.pendingFilters = undefined;
    }
    this.running = true;
    const stepBefore = this.ctl?.sim.step ?? 0;
    let r: RunResult;
    try {
      r = await how();
    } finally {
      this.running = false;
    }
    if (this.args?.traceStatements && this.ctl) this.traceSteps(stepBefore + 1, this.ctl.sim.step);
    if (this.args?.noDebug && r.kind === 'stopped' && this.ctl) {
      // Run Without Debugging: never stop; failures end the run.
      if (r.stop.reason === 'exception' && r.stop.error) r = { kind: 'ended', error: r.stop.error };
      else return this.runAndReport(() => this.ctl!.continue());
    }
    this.report(r);
  }

  private report(r: RunResult): void {
    const ctl = this.ctl;
    if (ctl === undefined) return;
    this.vars?.reset();
    if (r.kind === 'ended') {
      if (r.error) this.sendEvent(new OutputEvent(`${r.error.formatted}\n`, 'stderr'));
      if (ctl.sim.gpu.jobs.length > 0 || ctl.sim.gpu.copies.length > 0) {
        this.sendEvent(new OutputEvent(`${formatPlacementReport(placementReport(ctl.sim))}\n`, 'console'));
      }
      this.sendEvent(new OutputEvent(`${path.basename(ctl.file)}: ${r.error ? 'stopped on a runtime error' : 'ran to the end'} after ${ctl.sim.step} statements, ${ctl.sim.log.events.length} events, simulated time ${formatDuration(ctl.sim.clock.now)}\n`, 'console'));
      this.sendEvent(new TerminatedEvent());
      return;
    }
    this.lastStop = r.stop;
    const ev = new StoppedEvent(r.stop.reason, this.stoppedThread(ctl), r.stop.reason === 'exception' ? r.stop.description : undefined) as DebugProtocol.StoppedEvent;
    // The description is the Call Stack's badge beside the thread's name: short (the filter), the
    // whole event is in `text` and the exception widget.
    ev.body.description = r.stop.reason === 'exception' ? filterLabel(r.stop.filter ?? 'failure') : r.stop.description;
    ev.body.allThreadsStopped = true;
    if (r.stop.breakpointIds) ev.body.hitBreakpointIds = r.stop.breakpointIds;
    this.sendEvent(ev);
    this.sendEvent(new InvalidatedEvent(['variables']));
    // Open binary views of the mappings re-read their bytes.
    for (const b of ctl.sim.bindings.values()) this.sendEvent(new MemoryEvent(hex(b.start * PAGE_SIZE), 0, b.pages * PAGE_SIZE));
    this.stateChanged(r.stop.reason);
  }

  private stateChanged(reason: string): void {
    const ctl = this.ctl;
    if (ctl === undefined) return;
    const body: StateChangedEventBody = {
      step: ctl.sim.step, reason, line: ctl.displayLine(),
      process: (ctl.sim.gpu.current?.mm ?? ctl.interp.process).name,
      processes: ctl.sim.mms.filter((m) => m.alive).map((m) => m.name),
    };
    this.sendEvent(new DapEvent(CUSTOM_EVENTS.stateChanged, body));
  }

  /** `traceStatements`: each statement's events as a collapsed group at its line. */
  private traceSteps(from: number, to: number): void {
    const sim = this.ctl!.sim;
    const source = this.source();
    for (let step = from; step <= to && step - from < 200; step++) {
      const evs = sim.log.ofStep(step);
      if (evs.length === 0) continue;
      const line = evs[0]!.loc?.line;
      const start = new OutputEvent(`line ${line}: ${evs.length} event(s)\n`, 'console') as DebugProtocol.OutputEvent;
      start.body.group = 'startCollapsed';
      start.body.source = source;
      start.body.line = line;
      this.sendEvent(start);
      for (const e of evs) this.sendEvent(new OutputEvent(`${eventLine(sim, e)}\n`, 'console'));
      const end = new OutputEvent('', 'console') as DebugProtocol.OutputEvent;
      end.body.group = 'end';
      this.sendEvent(end);
    }
  }

  private print(text: string, line: number | undefined): void {
    const e = new OutputEvent(`${text}\n`, 'stdout') as DebugProtocol.OutputEvent;
    if (line !== undefined) {
      e.body.source = this.source();
      e.body.line = line;
    }
    this.sendEvent(e);
  }

  // ---- evaluate ------------------------------------------------------------------------------

  private evaluate(ctl: ScriptController, expr: string, context: string | undefined): DebugProtocol.EvaluateResponse['body'] {
    const sim = ctl.sim;
    const mm = ctl.interp.process;
    const [cmd, ...rest] = expr.split(/\s+/);
    const arg = rest.join(' ');
    const page = (text: string): number => {
      const r = ctl.resolveRangeText(text);
      if (typeof r === 'string') throw new Error(r);
      return r.start;
    };
    switch (cmd) {
      case 'help': return { result: REPL_HELP, variablesReference: 0 };
      case 'page': return { result: pageReport(sim, mm, page(arg)), variablesReference: 0 };
      case 'why': return { result: whyReport(sim, mm, page(arg)), variablesReference: 0 };
      case 'events': {
        // At most MAX_EVENTS_SHOWN lines: the log of a long run holds millions.
        const n = arg ? Number(arg) : 30;
        if (!Number.isInteger(n) || n < 1) throw new Error(`events N: N must be a whole number above 0, found '${arg}'`);
        return { result: eventsReport(sim, Math.min(n, MAX_EVENTS_SHOWN)), variablesReference: 0 };
      }
      case 'residency': {
        if (!arg) return { result: residencyOf(sim) || 'no mappings', variablesReference: 0 };
        const r = ctl.resolveRangeText(arg);
        if (typeof r === 'string') throw new Error(r);
        return { result: renderResidency(sim, mm, r.start, r.end, r.label), variablesReference: 0 };
      }
      case 'watch': {
        const w = ctl.addWatch(arg);
        if (typeof w === 'string') throw new Error(w);
        return { result: `watching ${w.label} (now ${w.state}): execution stops when its residency or device mapping changes`, variablesReference: 0 };
      }
      case 'unwatch':
        ctl.setWatches([]);
        return { result: 'no watches', variablesReference: 0 };
      case 'report':
        return { result: formatPlacementReport(placementReport(sim)), variablesReference: 0 };
      default:
        break;
    }
    // A mapping or page: its variable (hover shows residency).
    const r = ctl.resolveRangeText(expr);
    if (typeof r !== 'string' && this.vars) {
      const b = sim.bindings.get(expr.replace(/\[.*$/, ''))!;
      const v = r.end - r.start === b.pages ? this.vars.mappingVar(mm, b) : r.end - r.start === 1
        ? this.vars.pageVar(mm, r.start, expr, expr)
        : { name: expr, value: renderResidency(sim, mm, r.start, r.end, r.label), variablesReference: 0 };
      return { result: v.value, variablesReference: v.variablesReference, indexedVariables: v.indexedVariables, memoryReference: v.memoryReference };
    }
    if (sim.devices.some((d) => d.name === expr) && this.vars) {
      const v = this.vars.deviceVar(expr);
      return { result: v.value, variablesReference: v.variablesReference };
    }
    const n = ctl.valueOf(expr);
    if (!Number.isNaN(n)) return { result: String(n), variablesReference: 0 };
    if (context === 'hover') throw new Error('no value');
    throw new Error(`cannot evaluate '${expr}': try 'help'`);
  }

  // ---- custom requests -------------------------------------------------------------------------

  private residency(ctl: ScriptController, a: ResidencyArguments): ResidencyResponseBody {
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
          name: b.name, process: mm.name, address: hex(b.start * PAGE_SIZE), pages: b.pages,
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

  private migrations(ctl: ScriptController): MigrationsResponseBody {
    const sim = ctl.sim;
    return {
      step: sim.step,
      migrations: [
        ...sim.pendingMigrations.map((m) => ({
          process: m.mm.name, range: sim.describeRange(m.start, m.end), start: m.start, end: m.end, direction: m.direction,
          device: m.pgmapOwner.name, phase: m.phase, cpages: m.cpages, cause: m.cause,
          skipped: m.skippedRuns().map((r) => ({ start: r.start, count: r.count, reason: r.reason })),
        })),
        ...sim.gpu.pendingCopies().map((c) => ({
          process: c.mm.name, range: sim.describeRange(c.start, c.end), start: c.start, end: c.end,
          direction: (c.toDevice ? 'to-device' : 'to-system') as 'to-device' | 'to-system', device: c.device.name,
          phase: `copying until t=${formatDuration(c.endTime)} (${Math.round(Math.min(1, Math.max(0, (sim.clock.now - c.startTime) / Math.max(1, c.endTime - c.startTime))) * 100)}%)`,
          cpages: c.end - c.start, cause: 'prefetch', skipped: [],
        })),
      ],
    };
  }

  private notifiers(ctl: ScriptController, a: NotifierArguments): NotifiersResponseBody {
    const sim = ctl.sim;
    const all = sim.log.events.filter((e) => e.kind === 'notifier' && e.seq > (a.since ?? -1));
    const limit = Math.max(1, Math.min(a.limit ?? 500, 10000));
    return {
      step: sim.step,
      callbacks: all.slice(-limit).map((e) => {
        if (e.kind !== 'notifier') throw new Error('unreachable');
        return {
          seq: e.seq, line: e.loc?.line, process: e.mm, event: e.event, range: sim.describeRange(e.start, e.end), owner: e.owner,
          mirror: e.mirror, seqBefore: e.seqBefore, seqAfter: e.seqAfter, action: e.action, erased: e.erased, count: e.count,
        };
      }),
    };
  }

  private picture(ctl: ScriptController, a: PictureArguments): Picture {
    const stop = this.lastStop?.event;
    return buildPicture(ctl.sim, processArg(ctl, a.process), {
      ...(a.maxRuns !== undefined ? { maxRuns: a.maxRuns } : {}),
      ...(stop !== undefined ? { stopEvent: stop } : {}),
      describe: (e) => eventLine(ctl.sim, e),
    });
  }

  private pageWhy(ctl: ScriptController, a: PageWhyArguments): PageWhyResponseBody {
    const mm = processArg(ctl, a.process);
    const newest = whyChain(ctl.sim, mm, a.page)[0];
    return { step: ctl.sim.step, text: whyReport(ctl.sim, mm, a.page), ...(newest?.loc !== undefined ? { line: newest.loc.line } : {}) };
  }

  private lineEffects(ctl: ScriptController): LineEffectsResponseBody {
    const byLine = new Map<number, LineEffectsResponseBody['lines'][number]>();
    for (const e of ctl.sim.log.events) {
      const line = e.loc?.line;
      if (line === undefined) continue;
      let l = byLine.get(line);
      if (l === undefined) {
        l = { line, cpuFaults: 0, deviceFaultPages: 0, deviceFaultBatches: 0, pagesToDevice: 0, pagesToSystem: 0, invalidations: 0, errors: 0 };
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
      const l = byLine.get(err.loc.line) ?? { line: err.loc.line, cpuFaults: 0, deviceFaultPages: 0, deviceFaultBatches: 0, pagesToDevice: 0, pagesToSystem: 0, invalidations: 0, errors: 0 };
      l.errors++;
      byLine.set(err.loc.line, l);
    }
    return { step: ctl.sim.step, lines: [...byLine.values()].sort((x, y) => x.line - y.line) };
  }

  // ---- helpers ------------------------------------------------------------------------------

  private source(): Source {
    const p = this.args?.program ?? this.ctl?.file ?? '';
    return new Source(path.basename(p), this.convertDebuggerPathToClient(p));
  }

  /** `0x7f…` addresses, or a mapping / page name. */
  private parseMemoryReference(ref: string): number | undefined {
    if (/^0x[0-9a-fA-F]+$/.test(ref)) return Number.parseInt(ref.slice(2), 16);
    const r = this.ctl?.resolveRangeText(ref);
    return r === undefined || typeof r === 'string' ? undefined : r.start * PAGE_SIZE;
  }

  private fail(response: DebugProtocol.Response, id: number, message: string): void {
    this.sendErrorResponse(response, { id, format: message.replace(/[{}]/g, ''), showUser: id === ErrorCode.BadLaunch || id === ErrorCode.Rejected });
  }
}

/** The `process` argument: a live process by name, or the stopped one. */
function processArg(ctl: ScriptController, p: string | undefined): Mm {
  if (p === undefined) return ctl.interp.process;
  const mm = ctl.sim.process(p);
  if (mm === undefined || !mm.alive) throw new Error(`no process ${p}`);
  return mm;
}

function validateLaunch(args: Partial<HmmLaunchArguments>): string | undefined {
  if (typeof args.program !== 'string' || args.program.trim() === '') return "launch: 'program' must be the path of a .hmm script";
  for (const k of ['stopOnEntry', 'noDebug', 'traceStatements', 'prefetcher'] as const) {
    if (args[k] !== undefined && typeof args[k] !== 'boolean') return `launch: '${k}' must be true or false`;
  }
  if (args.linux !== undefined && (typeof args.linux !== 'string' || !isLinuxVersion(args.linux))) {
    return `launch: 'linux' must be one of ${LINUX_VERSIONS.join(', ')}`;
  }
  const eb: unknown = args.eventBreakpoints;
  if (eb !== undefined) {
    const ids = EVENT_FILTERS.map((f) => f.id).join(', ');
    if (typeof eb !== 'object' || eb === null || Array.isArray(eb)) return `launch: 'eventBreakpoints' must be an object: filter id (${ids}) to condition ('' for none)`;
    for (const [id, condition] of Object.entries(eb)) {
      if (!EVENT_FILTERS.some((f) => f.id === id)) return `launch: 'eventBreakpoints' has no filter '${id}' (${ids})`;
      if (typeof condition !== 'string' || condition.length > 1000) return `launch: 'eventBreakpoints.${id}' must be a condition string ('' for none)`;
    }
  }
  if (args.timeout !== undefined && !(typeof args.timeout === 'number' && args.timeout > 0)) return "launch: 'timeout' must be a number of seconds above 0";
  if (args.maxMemory !== undefined && !(Number.isInteger(args.maxMemory) && args.maxMemory > 0)) return "launch: 'maxMemory' must be a whole number of MiB above 0";
  return undefined;
}
