// Every request the UI makes of the adapter, typed with the adapter's protocol types.

import type { DebugProtocol } from '@vscode/debugprotocol';
import * as vscode from 'vscode';
import {
  CUSTOM_REQUESTS, type LineEffectsResponseBody, type MigrationsResponseBody, type NotifierArguments,
  type NotifiersResponseBody, type PageWhyArguments, type PageWhyResponseBody, type Picture, type PictureArguments,
  type ResidencyArguments, type ResidencyResponseBody,
} from '../adapter/protocol';

export const HMM_DEBUG_TYPE = 'hmm';

/** `customRequest` answers `any`; each wrapper below names the body the adapter sends. */
async function request<T>(session: vscode.DebugSession, command: string, args?: unknown): Promise<T> {
  return (await session.customRequest(command, args)) as T;
}

export const dap = {
  residency: (s: vscode.DebugSession, args: ResidencyArguments = {}) => request<ResidencyResponseBody>(s, CUSTOM_REQUESTS.residency, args),
  migrations: (s: vscode.DebugSession) => request<MigrationsResponseBody>(s, CUSTOM_REQUESTS.migrations),
  notifiers: (s: vscode.DebugSession, args: NotifierArguments = {}) => request<NotifiersResponseBody>(s, CUSTOM_REQUESTS.notifiers, args),
  lineEffects: (s: vscode.DebugSession) => request<LineEffectsResponseBody>(s, CUSTOM_REQUESTS.lineEffects),
  picture: (s: vscode.DebugSession, args: PictureArguments = {}) => request<Picture>(s, CUSTOM_REQUESTS.picture, args),
  pageWhy: (s: vscode.DebugSession, args: PageWhyArguments) => request<PageWhyResponseBody>(s, CUSTOM_REQUESTS.pageWhy, args),
  threads: (s: vscode.DebugSession) => request<DebugProtocol.ThreadsResponse['body']>(s, 'threads'),
  evaluate: (s: vscode.DebugSession, expression: string, context: 'hover' | 'repl' | 'watch') =>
    request<DebugProtocol.EvaluateResponse['body']>(s, 'evaluate', { expression, context } satisfies DebugProtocol.EvaluateArguments),
  readMemory: (s: vscode.DebugSession, memoryReference: string, count: number) =>
    request<DebugProtocol.ReadMemoryResponse['body']>(s, 'readMemory', { memoryReference, count } satisfies DebugProtocol.ReadMemoryArguments),
};

/** The active debug session when it is an hmm session. */
export function activeHmmSession(): vscode.DebugSession | undefined {
  const s = vscode.debug.activeDebugSession;
  return s?.type === HMM_DEBUG_TYPE ? s : undefined;
}
