// Follows hmm debug sessions: after every `hmm/stateChanged` it fetches the state once
// (debounced, de-duplicated) and hands it to every view; when the session ends, views clear.
// A debug adapter tracker notes run requests, so `whenRefreshed()` also waits for a stop that
// has been asked for but not reported yet.

import type { DebugProtocol } from '@vscode/debugprotocol';
import * as vscode from 'vscode';
import { CUSTOM_EVENTS, type StateChangedEventBody } from '../adapter/protocol';
import type { Ctx } from './context';
import { HMM_DEBUG_TYPE } from './dap';
import { fetchState, type HmmState } from './state';

/** Something that shows the state: trees, decorations, the map. `undefined` clears it. */
export interface StateView {
  update(state: HmmState | undefined): void | Promise<void>;
  /**
   * A stop is about to be fetched: a view that needs only what the stop's event says may start
   * its own requests now, beside the shared state's, and use them in update().
   */
  prefetch?(session: vscode.DebugSession, stop: StateChangedEventBody): void;
}

/** Requests after which the adapter reports a stop (or the end of the run). */
const RUN_REQUESTS = new Set(['launch', 'attach', 'continue', 'next', 'stepIn', 'stepOut', 'stepBack', 'reverseContinue', 'restart', 'goto', 'writeMemory']);
const DEBOUNCE_MS = 30;
/** whenRefreshed() gives up waiting for a stop after this long (a run that never stops). */
const WAIT_LIMIT_MS = 30_000;

interface SessionProgress {
  /** A run request was sent and no `hmm/stateChanged` (or end) was sent back yet. */
  awaitingStop: boolean;
  /** The adapter sent `terminated`/`exited`: the session is about to end. */
  ending: boolean;
  /** `hmm/stateChanged` events the adapter sent (tracker) and the extension received. */
  sent: number;
  received: number;
}

interface Target {
  readonly session: vscode.DebugSession;
  readonly stop: StateChangedEventBody;
}

export class SessionWatcher implements vscode.Disposable {
  private readonly views: StateView[] = [];
  private readonly disposables: vscode.Disposable[] = [];
  /** Per session: what the adapter was asked and has told, to know whether a stop is still due. */
  private readonly sessions = new Map<string, SessionProgress>();
  private readonly liveSessions = new Set<string>();
  /** Sessions that ended: late tracker messages about them are ignored. */
  private readonly endedSessions = new Set<string>();
  private target: Target | undefined;
  private dirty = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private inflight: Promise<void> | undefined;
  private waiters: (() => void)[] = [];
  private readonly changed = new vscode.EventEmitter<HmmState | undefined>();
  /** Fires after the views were updated. */
  readonly onDidUpdate = this.changed.event;
  current: HmmState | undefined;

  constructor(private readonly ctx: Ctx) {
    this.disposables.push(
      this.changed,
      vscode.debug.registerDebugAdapterTrackerFactory(HMM_DEBUG_TYPE, { createDebugAdapterTracker: (s) => this.tracker(s) }),
      vscode.debug.onDidReceiveDebugSessionCustomEvent((e) => {
        if (e.session.type !== HMM_DEBUG_TYPE || e.event !== CUSTOM_EVENTS.stateChanged || this.endedSessions.has(e.session.id)) return;
        this.progress(e.session.id).received++;
        this.schedule({ session: e.session, stop: e.body as StateChangedEventBody }); // body: untyped DAP event body
      }),
      vscode.debug.onDidStartDebugSession((s) => {
        if (s.type !== HMM_DEBUG_TYPE) return;
        this.liveSessions.add(s.id);
        void this.setContext();
      }),
      vscode.debug.onDidTerminateDebugSession((s) => this.ended(s)),
    );
  }

  register(view: StateView): void {
    this.views.push(view);
  }

  /** Resolves when no stop is awaited and every view has the latest state. */
  whenRefreshed(): Promise<void> {
    if (this.settled()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.ctx.output.appendLine(`whenRefreshed: no stop reported within ${WAIT_LIMIT_MS} ms; answering with the state as it is`);
        for (const p of this.sessions.values()) {
          p.awaitingStop = false;
          p.received = p.sent;
        }
        resolve();
      }, WAIT_LIMIT_MS);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Fetch and show the state again (a setting changed, the user asked). */
  refreshNow(): void {
    if (this.target !== undefined) this.schedule(this.target);
  }

  private tracker(session: vscode.DebugSession): vscode.DebugAdapterTracker {
    const live = (): boolean => !this.endedSessions.has(session.id);
    return {
      onWillReceiveMessage: (m: DebugProtocol.ProtocolMessage) => {
        if (live() && m.type === 'request' && RUN_REQUESTS.has((m as DebugProtocol.Request).command)) this.progress(session.id).awaitingStop = true;
      },
      onDidSendMessage: (m: DebugProtocol.ProtocolMessage) => {
        if (!live()) return;
        const p = this.progress(session.id);
        if (m.type === 'response') {
          const r = m as DebugProtocol.Response;
          if (!r.success && RUN_REQUESTS.has(r.command)) p.awaitingStop = false;
        } else if (m.type === 'event') {
          const e = m as DebugProtocol.Event;
          if (e.event === CUSTOM_EVENTS.stateChanged) {
            p.sent++;
            p.awaitingStop = false;
          } else if (e.event === 'terminated' || e.event === 'exited') {
            p.awaitingStop = false;
            p.ending = true;
          }
        }
        this.settle();
      },
      onExit: () => {
        if (!live()) return;
        const p = this.progress(session.id);
        p.awaitingStop = false;
        p.ending = true;
        this.settle();
      },
    };
  }

  private ended(session: vscode.DebugSession): void {
    if (session.type !== HMM_DEBUG_TYPE) return;
    this.endedSessions.add(session.id);
    this.sessions.delete(session.id);
    this.liveSessions.delete(session.id);
    void this.setContext();
    if (this.target?.session.id === session.id || this.current?.session.id === session.id) {
      this.target = undefined;
      this.dirty = true;
      this.arm(0);
    }
    this.settle();
  }

  private schedule(target: Target): void {
    this.target = target;
    this.dirty = true;
    this.arm(DEBOUNCE_MS);
  }

  private arm(ms: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.refresh();
    }, ms);
  }

  /** One refresh at a time; a stop that arrives meanwhile refreshes again afterwards. */
  private async refresh(): Promise<void> {
    if (this.inflight !== undefined || !this.dirty) return;
    this.dirty = false;
    const target = this.target;
    this.inflight = this.apply(target);
    try {
      await this.inflight;
    } finally {
      this.inflight = undefined;
    }
    if (this.dirty) this.arm(0);
    this.settle();
  }

  private async apply(target: Target | undefined): Promise<void> {
    let state: HmmState | undefined;
    if (target !== undefined) {
      for (const v of this.views) v.prefetch?.(target.session, target.stop);
      try {
        state = await fetchState(target.session, target.stop, this.current);
      } catch (e) {
        // The session ended or resumed under us: the next event brings a fresh state.
        this.ctx.output.appendLine(`hmm: could not fetch the debug state: ${(e as Error).message ?? String(e)}`);
        state = undefined;
      }
    }
    this.current = state;
    void this.setContext();
    await Promise.all(this.views.map(async (v) => {
      try {
        await v.update(state);
      } catch (e) {
        this.ctx.output.appendLine(`hmm: a view failed to refresh: ${(e as Error).stack ?? String(e)}`);
      }
    }));
    this.changed.fire(state);
  }

  private progress(id: string): SessionProgress {
    let p = this.sessions.get(id);
    if (p === undefined) {
      p = { awaitingStop: false, ending: false, sent: 0, received: 0 };
      this.sessions.set(id, p);
    }
    return p;
  }

  private settled(): boolean {
    for (const p of this.sessions.values()) if (p.awaitingStop || p.ending || p.received < p.sent) return false;
    return this.timer === undefined && this.inflight === undefined && !this.dirty;
  }

  private settle(): void {
    if (!this.settled()) return;
    for (const w of this.waiters.splice(0)) w();
  }

  private async setContext(): Promise<void> {
    await vscode.commands.executeCommand('setContext', 'hmm.debugging', this.liveSessions.size > 0);
    await vscode.commands.executeCommand('setContext', 'hmm.stopped', this.current !== undefined);
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    for (const w of this.waiters.splice(0)) w();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
