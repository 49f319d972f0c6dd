// Layer: extension (src/extension): UI only. Imports vscode, ./dap and protocol types.
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

/** Fetches everything the views need at a stop. `threadId` is the stopped thread, if known. */
export async function fetchState(
  session: vscode.DebugSession, stop: StateChangedEventBody, threadId: number | undefined, previous: HmmState | undefined,
): Promise<HmmState> {
  const maxRuns = settings.maxRunsPerMapping();
  const [threads, migrations, notifiers, lineEffects, current] = await Promise.all([
    dap.threads(session).then((b) => b.threads, () => []),
    dap.migrations(session),
    dap.notifiers(session, { limit: settings.maxNotifierCallbacks() }),
    dap.lineEffects(session),
    dap.residency(session, { maxRuns }),
  ]);
  const currentName = threads.find((t) => t.id === threadId)?.name ?? current.mappings[0]?.process ?? 'main';
  const others = await Promise.all(
    threads.filter((t) => t.name !== currentName).map((t) =>
      dap.residency(session, { process: t.name, maxRuns }).then((b) => ({ name: t.name, mappings: b.mappings }), () => undefined)),
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
