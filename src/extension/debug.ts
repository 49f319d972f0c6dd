// Layer: extension (src/extension): UI only. Imports vscode and, on the first debug session,
// the debug adapter's session class (src/adapter/session, run inline in the extension host).
// The `hmm` debugger: adapter descriptors (inline by default, a process when
// `hmm.debug.adapterProcess` is set) and launch configurations (initial, dynamic, F5 on a file).

import * as path from 'node:path';
import * as vscode from 'vscode';
import type { HmmLaunchArguments } from '../adapter/protocol';
import type { Ctx } from './context';
import { HMM_DEBUG_TYPE } from './dap';
import { HMM_LANGUAGE } from './diagnostics';
import { WorkspaceFileAccess } from './fileAccess';
import { settings } from './settings';

export type HmmDebugConfiguration = vscode.DebugConfiguration & Partial<HmmLaunchArguments>;

/** A launch configuration for one script (`${file}` or a path). */
export function launchConfig(program: string, options: { noDebug?: boolean; stopOnEntry?: boolean } = {}): HmmDebugConfiguration {
  const name = program === '${file}' ? 'Debug the current .hmm file' : `${options.noDebug ? 'Run' : 'Debug'} ${path.basename(program)}`;
  return { type: HMM_DEBUG_TYPE, request: 'launch', name, program, stopOnEntry: options.stopOnEntry ?? false, ...(options.noDebug ? { noDebug: true } : {}) };
}

function activeScript(): vscode.Uri | undefined {
  const doc = vscode.window.activeTextEditor?.document;
  return doc?.languageId === HMM_LANGUAGE ? doc.uri : undefined;
}

class AdapterFactory implements vscode.DebugAdapterDescriptorFactory {
  constructor(private readonly ctx: Ctx, private readonly files: WorkspaceFileAccess) {}

  async createDebugAdapterDescriptor(): Promise<vscode.DebugAdapterDescriptor> {
    if (settings.adapterProcess()) {
      return new vscode.DebugAdapterExecutable(process.execPath, [vscode.Uri.joinPath(this.ctx.extensionUri, 'dist', 'adapter.js').fsPath]);
    }
    // @vscode/debugadapter's session already has vscode.DebugAdapter's shape (handleMessage,
    // onDidSendMessage), so it runs in the extension host as is.
    // Loaded on first use: activation does not pay for the adapter and the simulator.
    const { HmmDebugSession } = await import('../adapter/session.js');
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

  /** After ${file} and friends are substituted: make the path absolute and read it ahead. */
  async resolveDebugConfigurationWithSubstitutedVariables(folder: vscode.WorkspaceFolder | undefined, config: vscode.DebugConfiguration): Promise<vscode.DebugConfiguration> {
    const program: unknown = config['program'];
    if (typeof program === 'string' && program !== '') {
      const base = folder?.uri.scheme === 'file' ? folder.uri.fsPath : process.cwd();
      const absolute = path.resolve(base, program);
      config['program'] = absolute;
      if (!settings.adapterProcess()) await this.files.preload(absolute);
    }
    return config;
  }
}

/** One configuration per .hmm script in the workspace (Run and Debug's dynamic list). */
class DynamicConfigurations implements vscode.DebugConfigurationProvider {
  async provideDebugConfigurations(_folder: vscode.WorkspaceFolder | undefined, token?: vscode.CancellationToken): Promise<vscode.DebugConfiguration[]> {
    const files = await vscode.workspace.findFiles('**/*.hmm', '**/node_modules/**', 50, token);
    const active = activeScript();
    const configs = files.sort((a, b) => a.fsPath.localeCompare(b.fsPath)).map((f) => launchConfig(f.fsPath));
    return active !== undefined ? [launchConfig('${file}'), ...configs] : configs;
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
export async function startScript(uri: vscode.Uri, noDebug: boolean): Promise<boolean> {
  const folder = vscode.workspace.getWorkspaceFolder(uri);
  return vscode.debug.startDebugging(folder, launchConfig(uri.fsPath, { noDebug }), { noDebug });
}
