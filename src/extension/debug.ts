// The `hmm` debugger: adapter descriptors (inline by default, a process when
// `hmm.debug.adapterProcess` is set) and launch configurations (initial, dynamic, F5 on a file).

import * as path from 'node:path';
import * as vscode from 'vscode';
import { ADAPTER_NODE_FLAGS } from '../adapter/processFlags';
import type { HmmLaunchArguments } from '../adapter/protocol';
import type { Ctx } from './context';
import { HMM_DEBUG_TYPE } from './dap';
import { HMM_LANGUAGE } from './diagnostics';
import { WorkspaceFileAccess } from './fileAccess';
import { loadOnDemand } from './loadOnDemand';
import { settings } from './settings';

export type HmmDebugConfiguration = vscode.DebugConfiguration & Partial<HmmLaunchArguments>;

export interface LaunchOptions {
  noDebug?: boolean;
  stopOnEntry?: boolean;
  /** Event breakpoints on from the start (filter id → condition), e.g. { deviceFault: '' }. */
  eventBreakpoints?: Record<string, string>;
}

/** The event breakpoints of "Debug and stop on device faults". */
export const DEVICE_FAULTS: Record<string, string> = { deviceFault: '' };

/** A launch configuration for one script (`${file}` or a path). */
export function launchConfig(program: string, options: LaunchOptions = {}): HmmDebugConfiguration {
  const faults = options.eventBreakpoints !== undefined && 'deviceFault' in options.eventBreakpoints;
  const name = program === '${file}'
    ? (faults ? 'Debug and stop on device faults' : 'Debug the current .hmm file')
    : `${options.noDebug ? 'Run' : 'Debug'} ${path.basename(program)}${faults ? ' and stop on device faults' : ''}`;
  return {
    type: HMM_DEBUG_TYPE, request: 'launch', name, program, stopOnEntry: options.stopOnEntry ?? false,
    ...(options.noDebug ? { noDebug: true } : {}),
    ...(options.eventBreakpoints !== undefined ? { eventBreakpoints: options.eventBreakpoints } : {}),
  };
}

function activeScript(): vscode.Uri | undefined {
  const doc = vscode.window.activeTextEditor?.document;
  return doc?.languageId === HMM_LANGUAGE ? doc.uri : undefined;
}

class AdapterFactory implements vscode.DebugAdapterDescriptorFactory {
  constructor(private readonly ctx: Ctx, private readonly files: WorkspaceFileAccess) {}

  async createDebugAdapterDescriptor(): Promise<vscode.DebugAdapterDescriptor> {
    if (settings.adapterProcess()) {
      return new vscode.DebugAdapterExecutable(process.execPath, [...ADAPTER_NODE_FLAGS, vscode.Uri.joinPath(this.ctx.extensionUri, 'dist', 'adapter.js').fsPath]);
    }
    // @vscode/debugadapter's session already has vscode.DebugAdapter's shape (handleMessage,
    // onDidSendMessage), so it runs in the extension host as is.
    // Loaded on first use: activation does not pay for the adapter and the simulator.
    const { HmmDebugSession } = await loadOnDemand();
    return new vscode.DebugAdapterInlineImplementation(new HmmDebugSession(this.files));
  }
}

class ConfigurationProvider implements vscode.DebugConfigurationProvider {
  constructor(private readonly files: WorkspaceFileAccess) {}

  provideDebugConfigurations(): vscode.DebugConfiguration[] {
    return [launchConfig('${file}')];
  }

  /**
   * F5 without a launch.json: debug the .hmm file in the active editor. (DebugConfiguration's
   * extra fields are `any` in vscode's types; they are read as unknown and checked.)
   */
  resolveDebugConfiguration(_folder: vscode.WorkspaceFolder | undefined, config: vscode.DebugConfiguration): vscode.DebugConfiguration | undefined {
    if (!config.type && !config.request && !config.name) {
      if (activeScript() === undefined) {
        void vscode.window.showInformationMessage('Open a .hmm script to debug it (or add an "hmm" configuration to launch.json).');
        return undefined;
      }
      return launchConfig('${file}');
    }
    if (config.type === HMM_DEBUG_TYPE && !config['program']) {
      if (activeScript() === undefined) {
        void vscode.window.showErrorMessage("The hmm launch configuration needs 'program': the path of a .hmm script.");
        return undefined;
      }
      config['program'] = '${file}';
    }
    config['request'] ??= 'launch';
    config['name'] ??= 'Debug .hmm script';
    return config;
  }

  /**
   * After ${file} and friends are substituted: make the path absolute and read it ahead. A script
   * with errors does not start: the problems go to Problems with a message that offers them
   * (the adapter's refusal would be a modal whose button opens a launch.json there may not be).
   */
  async resolveDebugConfigurationWithSubstitutedVariables(folder: vscode.WorkspaceFolder | undefined, config: vscode.DebugConfiguration): Promise<vscode.DebugConfiguration | undefined> {
    const program: unknown = config['program'];
    if (typeof program === 'string' && program !== '') {
      const base = folder?.uri.scheme === 'file' ? folder.uri.fsPath : process.cwd();
      const absolute = path.resolve(base, program);
      config['program'] = absolute;
      if (!settings.adapterProcess()) await this.files.preload(absolute);
      if (await rejectedScript(absolute, this.files)) return undefined;
    }
    return config;
  }
}

/**
 * Parse and check the script before a session starts; on errors, say so with a way to the
 * problems, and tell the caller not to start.
 */
async function rejectedScript(file: string, files: WorkspaceFileAccess): Promise<boolean> {
  let text: string;
  try {
    text = files.peek(file);
  } catch {
    return false; // unreadable: the adapter reports it with the reason
  }
  const { diagnose } = await loadOnDemand();
  const errors = diagnose(file, text).diagnostics.filter((d) => d.severity === 'error');
  const first = errors[0];
  if (first === undefined) return false;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  const show = 'Show Problems';
  void vscode.window.showErrorMessage(`${path.basename(file)} cannot run: line ${first.line}: ${first.message}${more}`, show, 'Go to Line').then(async (choice) => {
    if (choice === undefined) return;
    // Opening the script puts its problems in the Problems view (they are checked per open document).
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
    const at = new vscode.Position(Math.max(0, first.line - 1), Math.max(0, first.col - 1));
    await vscode.window.showTextDocument(doc, { selection: new vscode.Range(at, at) });
    if (choice === show) await vscode.commands.executeCommand('workbench.actions.view.problems');
  });
  return true;
}

/**
 * Run and Debug's dynamic list: for the script in the editor, a plain session and one that stops
 * on device faults (VS Code lists an adapter's event filters only once a session has started, so
 * this is how a first session asks for them); then one configuration per .hmm script.
 */
class DynamicConfigurations implements vscode.DebugConfigurationProvider {
  async provideDebugConfigurations(_folder: vscode.WorkspaceFolder | undefined, token?: vscode.CancellationToken): Promise<vscode.DebugConfiguration[]> {
    const files = await vscode.workspace.findFiles('**/*.hmm', '**/node_modules/**', 50, token);
    const active = activeScript();
    const configs = files.sort((a, b) => a.fsPath.localeCompare(b.fsPath)).map((f) => launchConfig(f.fsPath));
    return active !== undefined ? [launchConfig('${file}'), launchConfig('${file}', { eventBreakpoints: DEVICE_FAULTS }), ...configs] : configs;
  }
}

export function registerDebugger(ctx: Ctx): void {
  const files = new WorkspaceFileAccess();
  ctx.own(
    vscode.debug.registerDebugAdapterDescriptorFactory(HMM_DEBUG_TYPE, new AdapterFactory(ctx, files)),
    vscode.debug.registerDebugConfigurationProvider(HMM_DEBUG_TYPE, new ConfigurationProvider(files), vscode.DebugConfigurationProviderTriggerKind.Initial),
    vscode.debug.registerDebugConfigurationProvider(HMM_DEBUG_TYPE, new DynamicConfigurations(), vscode.DebugConfigurationProviderTriggerKind.Dynamic),
  );
}

/** Starts a debug (or run-without-debugging) session of a script. */
export async function startScript(uri: vscode.Uri, options: LaunchOptions = {}): Promise<boolean> {
  const folder = vscode.workspace.getWorkspaceFolder(uri);
  return vscode.debug.startDebugging(folder, launchConfig(uri.fsPath, options), { noDebug: options.noDebug ?? false });
}
