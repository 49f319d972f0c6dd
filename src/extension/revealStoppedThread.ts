// Shows the stopped thread's frames when a session has more than one thread (a GPU job beside
// main). VS Code's Call Stack expands a stopped thread only if the view exists at the stop, and
// it opens Run and Debug by itself only for breakpoint stops: a device-fault stop inside a job
// left both threads collapsed. After the `threads` answer that follows such a stop, this opens
// the Call Stack, selects the top frame of the stopped thread and gives focus back to the editor.

import type { DebugProtocol } from '@vscode/debugprotocol';
import * as vscode from 'vscode';
import type { Ctx } from './context';
import { HMM_DEBUG_TYPE } from './dap';

export function registerRevealStoppedThread(ctx: Ctx): void {
  ctx.own(vscode.debug.registerDebugAdapterTrackerFactory(HMM_DEBUG_TYPE, {
    createDebugAdapterTracker: () => {
      let stopped = false;
      return {
        onDidSendMessage: (m: DebugProtocol.ProtocolMessage) => {
          if (m.type === 'event' && (m as DebugProtocol.Event).event === 'stopped') stopped = true;
          if (m.type !== 'response' || (m as DebugProtocol.Response).command !== 'threads' || !stopped) return;
          stopped = false;
          const threads = (m as DebugProtocol.ThreadsResponse).body?.threads ?? [];
          if (threads.length > 1 && openDebugOnStop()) setTimeout(() => void reveal(), 0);
        },
      };
    },
  }));
}

/** The user's `debug.openDebug` says whether a stop may open Run and Debug. */
function openDebugOnStop(): boolean {
  return vscode.workspace.getConfiguration('debug').get<string>('openDebug') !== 'neverOpen';
}

async function reveal(): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  await vscode.commands.executeCommand('workbench.debug.action.focusCallStackView');
  await vscode.commands.executeCommand('workbench.action.debug.callStackTop');
  if (editor !== undefined) await vscode.window.showTextDocument(editor.document, { viewColumn: editor.viewColumn, preserveFocus: false });
}
