// What the views show at one stop, fetched once per stop through DAP and shared by every view.

import * as vscode from 'vscode';
import type {
  LineEffectsResponseBody, MigrationInfo, NotifierCallback, ResidencyMapping, StateChangedEventBody,
} from '../adapter/protocol';
import { dap } from './dap';
import { settings } from './settings';

export interface ProcessResidency {
  readonly name: string;
  /** The process the debugger is stopped in (the one `hmm/residency` answers for by default). */
  readonly current: boolean;
  readonly mappings: readonly ResidencyMapping[];
}

export type LineEffects = LineEffectsResponseBody['lines'][number];

export interface HmmState {
  readonly session: vscode.DebugSession;
  /** Absolute path of the script the session runs. */
  readonly program: string | undefined;
  readonly stop: StateChangedEventBody;
  readonly processes: readonly ProcessResidency[];
  readonly migrations: readonly MigrationInfo[];
  /** Newest last, as the adapter sends them. */
  readonly notifiers: readonly NotifierCallback[];
  /** Callbacks with a higher seq than this happened since the previous stop. */
  readonly newSinceSeq: number;
  readonly lineEffects: readonly LineEffects[];
}

/** The program path of an hmm session's launch configuration. */
export function programOf(session: vscode.DebugSession): string | undefined {
  const p: unknown = session.configuration['program'];
  return typeof p === 'string' ? p : undefined;
}

/**
 * Fetches everything the views need at a stop. The adapter names the stopped thread's process
 * and the live processes in the stop's event (a GPU job's thread is not a process).
 */
export async function fetchState(session: vscode.DebugSession, stop: StateChangedEventBody, previous: HmmState | undefined): Promise<HmmState> {
  const maxRuns = settings.maxRunsPerMapping();
  const currentName = stop.process;
  const [migrations, notifiers, lineEffects, current] = await Promise.all([
    dap.migrations(session),
    dap.notifiers(session, { limit: settings.maxNotifierCallbacks() }),
    dap.lineEffects(session),
    dap.residency(session, { process: currentName, maxRuns }),
  ]);
  const others = await Promise.all(
    stop.processes.filter((name) => name !== currentName).map((name) =>
      dap.residency(session, { process: name, maxRuns }).then((b) => ({ name, mappings: b.mappings }), () => undefined)),
  );
  const processes: ProcessResidency[] = [{ name: currentName, current: true, mappings: current.mappings }];
  for (const o of others) if (o !== undefined) processes.push({ ...o, current: false });
  const sameRun = previous !== undefined && previous.session.id === session.id && previous.stop.step < stop.step;
  return {
    session,
    program: programOf(session),
    stop,
    processes,
    migrations: migrations.migrations,
    notifiers: notifiers.callbacks,
    newSinceSeq: sameRun ? Math.max(-1, ...previous.notifiers.map((n) => n.seq)) : -1,
    lineEffects: lineEffects.lines,
  };
}

/** The mapping of `name` in the process (the current one by default). */
export function findMapping(state: HmmState, name: string, process?: string): ResidencyMapping | undefined {
  const p = process === undefined ? state.processes.find((x) => x.current) : state.processes.find((x) => x.name === process);
  return p?.mappings.find((m) => m.name === name);
}
