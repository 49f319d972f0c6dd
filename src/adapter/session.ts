// The DAP session: the request table. Each request is translated to the script controller and
// the debugger's queries in src/hmm/lang (threads, stacks, the REPL, residency, …), and their
// answers and the controller's stops to DAP responses and events. It owns no simulator state.

import { isLinuxVersion, type LinuxVersion } from '../hmm/profile';
import {
  Breakpoint, BreakpointEvent, DebugSession, InitializedEvent, InvalidatedEvent, MemoryEvent, OutputEvent, Response, Source,
  StoppedEvent, TerminatedEvent, Thread, Event as DapEvent,
} from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import * as path from 'node:path';
import { PAGE_SIZE } from '../hmm/constants';
import { formatDiagnostic } from '../hmm/lang/ast';
import { ScriptController } from '../hmm/lang/controller';
import { EVENT_FILTERS, filterLabel } from '../hmm/lang/debug/eventBreakpoints';
import * as queries from '../hmm/lang/debug/queries';
import { completions, evaluate } from '../hmm/lang/debug/repl';
import { exceptionDetails, type RunResult, type StopInfo } from '../hmm/lang/debug/stop';
import { jobOfThread, stackFrames, stoppedThread, threads } from '../hmm/lang/debug/threads';
import { eventLine } from '../hmm/lang/eventText';
import { hex } from '../hmm/lang/inspect';
import { MAX_SCRIPT_BYTES } from '../hmm/lang/limits';
import { readScriptFile } from '../hmm/lang/scriptFile';
import { formatPlacementReport, placementReport } from '../hmm/placementReport';
import { formatDuration } from '../hmm/timing';
import {
  CUSTOM_EVENTS, CUSTOM_REQUESTS, type HmmLaunchArguments, type NotifierArguments, type PageWhyArguments, type PictureArguments,
  type ResidencyArguments, type StateChangedEventBody, type WatchesChangedEventBody,
} from './protocol';
import { CAPABILITIES } from './capabilities';
import { launchProblem, requestProblem } from './validate';
import { VariableStore } from './variables';

/** How the session reads scripts: injected so the extension host and tests can supply files. */
export interface FileAccess {
  readFile(file: string): string;
}

const nodeFiles: FileAccess = { readFile: readScriptFile };

const enum ErrorCode {
  BadLaunch = 2001,
  Rejected = 2002,
  NotRunning = 2003,
  BadReference = 2004,
  BadArgument = 2005,
}

/**
 * A DebugSession, not the library's LoggingDebugSession: that one JSON-encodes every message in
 * and out for its logger, which queues them all until logger.setup() is called, so a session
 * that never sets it up (an inline adapter never does) keeps every message for good.
 */
export class HmmDebugSession extends DebugSession {
  private ctl: ScriptController | undefined;
  private vars: VariableStore | undefined;
  private args: HmmLaunchArguments | undefined;
  private lastStop: StopInfo | undefined;
  private running = false;
  private configurationDone: () => void = () => undefined;
  private readonly configured = new Promise<void>((resolve) => { this.configurationDone = resolve; });
  /** Line breakpoints per source file (VS Code sends one request per file): only the script's apply. */
  private readonly bpBySource = new Map<string, DebugProtocol.SourceBreakpoint[]>();
  private stoppedOnce: () => void = () => undefined;
  /** Resolves once the session has reported its first stop (the adapter process then warms up: warmUp.ts). */
  readonly firstStop = new Promise<void>((resolve) => { this.stoppedOnce = resolve; });

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
    response.body = CAPABILITIES;
    this.sendResponse(response);
  }

  protected override configurationDoneRequest(response: DebugProtocol.ConfigurationDoneResponse): void {
    this.sendResponse(response);
    this.configurationDone();
  }

  protected override async launchRequest(response: DebugProtocol.LaunchResponse, raw: DebugProtocol.LaunchRequestArguments): Promise<void> {
    const args = (raw ?? {}) as Partial<HmmLaunchArguments>;
    const problem = launchProblem(args);
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
    if (this.args.stopOnEntry && !this.args.noDebug) this.sendStop({ kind: 'stopped', stop: ctl.entryStop() });
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
    response.body = { threads: threads(this.ctl).map((t) => new Thread(t.id, t.name)) };
    this.sendResponse(response);
  }

  protected override stackTraceRequest(response: DebugProtocol.StackTraceResponse, args: DebugProtocol.StackTraceArguments): void {
    const ctl = this.ctl;
    if (ctl === undefined) return this.fail(response, ErrorCode.NotRunning, 'not running');
    const source = this.source();
    const frames: DebugProtocol.StackFrame[] = stackFrames(ctl, args.threadId).map((f) => (f.label
      ? { id: f.id, name: f.name, line: 0, column: 0, presentationHint: 'label' }
      : { id: f.id, name: f.name, source, line: f.line, column: 1 }));
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
    const job = jobOfThread(args.threadId);
    this.resume(response, (c) => (job !== undefined ? c.stepJob(job, false) : c.stepOver()));
  }

  protected override stepInRequest(response: DebugProtocol.StepInResponse, args: DebugProtocol.StepInArguments): void {
    const job = jobOfThread(args.threadId);
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
        watchVerified: (id) => this.sendEvent(new BreakpointEvent('changed', { id, verified: true } as DebugProtocol.Breakpoint)),
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
      ctl.requestPause();
      fresh.prefetcher = ctl.prefetcher;
      fresh.limits = ctl.limits;
      fresh.linux = ctl.linux;
      fresh.reset();
      this.ctl = ctl = fresh;
      this.vars = new VariableStore(fresh);
      this.applyFilters();
      this.applyWatches('data');
      this.applyWatches('function');
      this.sendEvent(new OutputEvent(`${path.basename(this.args.program)} changed: restarting with the new text\n`, 'console'));
    } else {
      ctl.reset();
    }
    ctl.setLineBreakpoints(this.bpRequests);
    this.sendResponse(response);
    this.sendEvent(new InvalidatedEvent(['all']));
    if (this.args?.stopOnEntry) this.sendStop({ kind: 'stopped', stop: ctl.entryStop() });
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
    const x = exceptionDetails(this.ctl!.sim, stop);
    response.body = {
      // VS Code titles the widget "Exception has occurred: <id>": the filter's name, as the Breakpoints view shows it
      exceptionId: x.title,
      description: stop.description,
      breakMode: 'always',
      details: { message: stop.description, typeName: x.typeName, stackTrace: x.details, evaluateName: x.page },
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
    this.dataWatches = args.breakpoints.map((b) => b.dataId);
    response.body = { breakpoints: this.applyWatches('data') };
    this.sendResponse(response);
  }

  /**
   * Function breakpoints are page watches by name (`a`, `a[3]`, `a[2..6]`): what the Breakpoints
   * view shows and removes, for watches set there, by the REPL's `watch` or by Page Residency's
   * Watch action (VS Code lets an extension add function breakpoints, not data breakpoints).
   */
  protected override setFunctionBreakPointsRequest(response: DebugProtocol.SetFunctionBreakpointsResponse, args: DebugProtocol.SetFunctionBreakpointsArguments): void {
    this.functionWatches = args.breakpoints.map((b) => b.name);
    response.body = { breakpoints: this.applyWatches('function') };
    this.sendResponse(response);
  }

  /** Page watches of the Variables view (data breakpoints) and of the Breakpoints view (by name). */
  private dataWatches: string[] = [];
  private functionWatches: string[] = [];

  /** One kind of watches on the controller; unverified until launch (launch applies them). */
  private applyWatches(source: 'data' | 'function'): DebugProtocol.Breakpoint[] {
    const texts = source === 'data' ? this.dataWatches : this.functionWatches;
    const ctl = this.ctl;
    if (ctl === undefined) return texts.map(() => ({ verified: false, message: 'not running' }));
    return ctl.setWatches(source, texts).map((w) => ({ id: w.id, verified: w.verified, ...(w.message !== undefined ? { message: w.message } : {}) }));
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
      const a = evaluate(ctl, args.expression.trim(), args.context === 'hover');
      const vars = this.vars!;
      switch (a.kind) {
        case 'none': return this.fail(response, ErrorCode.BadArgument, 'no value');
        case 'text': response.body = { result: a.text, variablesReference: 0 }; break;
        case 'watch': case 'unwatch': {
          response.body = { result: a.text, variablesReference: 0 };
          // The client shows the watch as a breakpoint named after it (see setFunctionBreakPointsRequest).
          const body: WatchesChangedEventBody = a.kind === 'watch' ? { added: [a.label], removed: [] } : { added: [], removed: [...a.names] };
          if (a.kind === 'watch') this.functionWatches = [...this.functionWatches.filter((n) => n !== a.label), a.label];
          else this.functionWatches = this.functionWatches.filter((n) => !a.names.includes(n));
          this.sendEvent(new DapEvent(CUSTOM_EVENTS.watchesChanged, body));
          break;
        }
        case 'device': {
          const v = vars.deviceVar(a.name);
          response.body = { result: v.value, variablesReference: v.variablesReference };
          break;
        }
        case 'mapping': case 'page': {
          const v = a.kind === 'mapping' ? vars.mappingVar(a.mm, a.binding) : vars.pageVar(a.mm, a.vpn, a.name, a.name);
          response.body = { result: v.value, variablesReference: v.variablesReference, indexedVariables: v.indexedVariables, memoryReference: v.memoryReference };
          break;
        }
      }
      this.sendResponse(response);
    } catch (e) {
      this.fail(response, ErrorCode.BadArgument, (e as Error).message);
    }
  }

  protected override completionsRequest(response: DebugProtocol.CompletionsResponse, args: DebugProtocol.CompletionsArguments): void {
    response.body = { targets: completions(this.ctl, args.text, args.column) };
    this.sendResponse(response);
  }

  protected override customRequest(command: string, response: DebugProtocol.Response, args: unknown): void {
    const ctl = this.ctl;
    if (ctl === undefined) return this.fail(response, ErrorCode.NotRunning, 'not running');
    try {
      switch (command) {
        // Arguments are checked by validate.ts.
        case CUSTOM_REQUESTS.residency: response.body = queries.residency(ctl, (args ?? {}) as ResidencyArguments); break;
        case CUSTOM_REQUESTS.migrations: response.body = queries.migrations(ctl); break;
        case CUSTOM_REQUESTS.notifiers: response.body = queries.notifiers(ctl, (args ?? {}) as NotifierArguments); break;
        case CUSTOM_REQUESTS.lineEffects: response.body = queries.lineEffects(ctl); break;
        case CUSTOM_REQUESTS.picture: response.body = queries.picture(ctl, (args ?? {}) as PictureArguments, this.lastStop?.event); break;
        case CUSTOM_REQUESTS.pageWhy: response.body = queries.pageWhy(ctl, args as PageWhyArguments); break;
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
    this.sendStop(r);
  }

  /** A run's result to the client: a stop (and the views' refresh), or the end of the session. */
  private sendStop(r: RunResult): void {
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
    const ev = new StoppedEvent(r.stop.reason, stoppedThread(ctl), r.stop.reason === 'exception' ? r.stop.description : undefined) as DebugProtocol.StoppedEvent;
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
    this.stoppedOnce();
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

  // ---- helpers ------------------------------------------------------------------------------

  private source(): Source {
    const p = this.args?.program ?? this.ctl?.file ?? '';
    // The same for every frame of every stop: made once per script.
    if (this.sourceOf?.path !== p) this.sourceOf = { path: p, source: new Source(path.basename(p), this.convertDebuggerPathToClient(p)) };
    return this.sourceOf.source;
  }

  private sourceOf: { readonly path: string; readonly source: Source } | undefined;

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
