// Layer: benchmark (bench/). The adapter-size baseline measured in the same bench run:
// vscode-mock-debug's shape (a LoggingDebugSession over @vscode/debugadapter that reads the
// program, stops on entry and steps line by line with one frame and one scope), with no
// simulator. vscode-mock-debug itself is not on the npm registry, which is where the bench may
// take packages from; this is the same library doing the same work for a small file.

import { InitializedEvent, Logger, logger, LoggingDebugSession, Scope, Source, StackFrame, StoppedEvent, TerminatedEvent, Thread } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import * as fs from 'node:fs';

class BaselineSession extends LoggingDebugSession {
  private lines: string[] = [];
  private line = 0;
  private program = '';

  protected override initializeRequest(response: DebugProtocol.InitializeResponse): void {
    response.body = { supportsConfigurationDoneRequest: true };
    this.sendResponse(response);
    this.sendEvent(new InitializedEvent());
  }

  protected override launchRequest(response: DebugProtocol.LaunchResponse, args: DebugProtocol.LaunchRequestArguments & { program?: string }): void {
    // As mock-debug does: without it the library's logger queues every message for good.
    logger.setup(Logger.LogLevel.Stop, false);
    this.program = String(args.program ?? '');
    this.lines = fs.readFileSync(this.program, 'utf8').split('\n');
    this.sendResponse(response);
    this.sendEvent(new StoppedEvent('entry', 1));
  }

  protected override threadsRequest(response: DebugProtocol.ThreadsResponse): void {
    response.body = { threads: [new Thread(1, 'main')] };
    this.sendResponse(response);
  }

  protected override stackTraceRequest(response: DebugProtocol.StackTraceResponse): void {
    response.body = { stackFrames: [new StackFrame(1, this.lines[this.line]?.trim() || 'main', new Source('program', this.program), this.line + 1)], totalFrames: 1 };
    this.sendResponse(response);
  }

  protected override scopesRequest(response: DebugProtocol.ScopesResponse): void {
    response.body = { scopes: [new Scope('Locals', 1, false)] };
    this.sendResponse(response);
  }

  protected override variablesRequest(response: DebugProtocol.VariablesResponse): void {
    response.body = { variables: [{ name: 'line', value: String(this.line + 1), variablesReference: 0 }] };
    this.sendResponse(response);
  }

  private advance(response: DebugProtocol.Response): void {
    this.sendResponse(response);
    this.line = (this.line + 1) % Math.max(1, this.lines.length);
    this.sendEvent(new StoppedEvent('step', 1));
  }

  protected override nextRequest(response: DebugProtocol.NextResponse): void {
    this.advance(response);
  }

  protected override stepInRequest(response: DebugProtocol.StepInResponse): void {
    this.advance(response);
  }

  protected override continueRequest(response: DebugProtocol.ContinueResponse): void {
    this.sendResponse(response);
    this.sendEvent(new TerminatedEvent());
  }
}

new BaselineSession().start(process.stdin, process.stdout);
