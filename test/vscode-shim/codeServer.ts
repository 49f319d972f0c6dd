// Test harness (not shipped): code-server, the VS Code server, and headless Chromium on this machine.
// Shared by the runTests launcher (test/vscode-shim/code) and the browser test (test/e2e/e2e.ts).
// The tools come from `scripts/tools.sh` (.cache/tools/env); the facts behind every flag are in
// README "VS Code".

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';

/** The project root (this file runs as out/test/vscode-shim/codeServer.js). */
export const ROOT = path.resolve(__dirname, '..', '..', '..');

export interface Tools {
  /** Node 24: code-server refuses any other major. */
  readonly node: string;
  /** The code-server package folder (holds out/node/entry.js). */
  readonly codeServerDir: string;
  readonly chromium: string;
}

/** The tools `scripts/tools.sh` installed (in HMM_TOOLS_DIR or .cache/tools); CODE_SERVER_NODE, CODE_SERVER_DIR, CHROMIUM override. */
export function findTools(): Tools {
  const envFile = path.join(process.env['HMM_TOOLS_DIR'] || path.join(ROOT, '.cache', 'tools'), 'env');
  const vars: Record<string, string> = {};
  if (fs.existsSync(envFile)) {
    for (const line of fs.readFileSync(envFile, 'utf8').split('\n')) {
      const m = /^(\w+)=(.*)$/.exec(line);
      if (m !== null) vars[m[1]!] = m[2]!;
    }
  }
  const tools: Tools = {
    node: process.env['CODE_SERVER_NODE'] ?? vars['NODE24'] ?? '',
    codeServerDir: process.env['CODE_SERVER_DIR'] ?? vars['CODE_SERVER_DIR'] ?? '',
    chromium: process.env['CHROMIUM'] ?? vars['CHROMIUM'] ?? '/usr/bin/chromium',
  };
  const missing = [
    [tools.node, 'Node 24 (CODE_SERVER_NODE)'],
    [path.join(tools.codeServerDir, 'out', 'node', 'entry.js'), 'code-server (CODE_SERVER_DIR)'],
    [tools.chromium, 'Chromium (CHROMIUM)'],
  ].filter(([p]) => !p || !fs.existsSync(p!)).map(([, what]) => what);
  if (missing.length > 0) throw new Error(`not installed: ${missing.join(', ')}; run scripts/tools.sh first`);
  return tools;
}

/** Chromium's flags for a headless, offline, throw-away window. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** User settings: no telemetry, updates, experiments, workspace trust or git (scripts/code-server-settings.json). */
export function writeUserSettings(userDataDir: string, extra: Record<string, unknown> = {}): void {
  const base = JSON.parse(fs.readFileSync(path.join(ROOT, 'scripts', 'code-server-settings.json'), 'utf8')) as Record<string, unknown>;
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.writeFileSync(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify({ ...base, ...extra }, null, 2));
}

/**
 * The environment of a code-server run confined to `dir`: fresh XDG folders, its IPC sockets in
 * `dir/tmp`, no extension gallery (no outbound requests).
 */
export function isolatedEnv(dir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    XDG_CONFIG_HOME: path.join(dir, 'xdg', 'config'),
    XDG_DATA_HOME: path.join(dir, 'xdg', 'data'),
    XDG_CACHE_HOME: path.join(dir, 'xdg', 'cache'),
    TMPDIR: path.join(dir, 'tmp'),
    EXTENSIONS_GALLERY: process.env['EXTENSIONS_GALLERY'] ?? '{}',
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1',
  };
  for (const k of ['XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_CACHE_HOME', 'TMPDIR']) fs.mkdirSync(env[k]!, { recursive: true });
  return env;
}

export interface Profile {
  readonly userDataDir: string;
  readonly extensionsDir: string;
  readonly env: NodeJS.ProcessEnv;
}

const entry = (tools: Tools): string => path.join(tools.codeServerDir, 'out', 'node', 'entry.js');

/** `code-server --install-extension FILE.vsix` into the profile's extensions folder. */
export function installVsix(tools: Tools, profile: Profile, vsix: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(tools.node, [entry(tools), '--user-data-dir', profile.userDataDir, '--extensions-dir', profile.extensionsDir,
      '--install-extension', vsix], { env: profile.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout!.on('data', (d: Buffer) => { out += d; });
    p.stderr!.on('data', (d: Buffer) => { out += d; });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 && /successfully installed/i.test(out) ? resolve() : reject(new Error(`--install-extension ${vsix} failed (${code}):\n${out}`))));
  });
}

/** A free TCP port on 127.0.0.1: `preferred` when it is free, else one the system picks. */
export function freePort(preferred = 0): Promise<number> {
  const tryPort = (port: number): Promise<number | undefined> => new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(undefined));
    s.listen(port, '127.0.0.1', () => {
      const got = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(got));
    });
  });
  return tryPort(preferred).then((p) => p ?? tryPort(0).then((q) => q ?? Promise.reject(new Error('no free port'))));
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, (r) => { r.resume(); resolve(r.statusCode ?? 0); });
    req.on('error', () => resolve(0));
    req.setTimeout(2000, () => { req.destroy(); resolve(0); });
  });
}

export interface CodeServer {
  readonly port: number;
  readonly url: string;
  readonly process: ChildProcess;
  /** Everything code-server printed so far. */
  log(): string;
  /** Stops code-server's whole process group (the extension host, pty host, … with it). */
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly port?: number;
  /** Extra server flags, e.g. `['--vscode-option', 'enable-smoke-test-driver']`. */
  readonly args?: readonly string[];
  /** Folder opened when the URL names none. */
  readonly folder?: string;
  /** Copy code-server's output to stderr as it comes. */
  readonly echo?: boolean;
  readonly timeoutMs?: number;
}

/** Starts code-server on 127.0.0.1 in its own process group and waits until /healthz answers. */
export async function startCodeServer(tools: Tools, profile: Profile, options: StartOptions = {}): Promise<CodeServer> {
  const port = options.port ?? await freePort();
  const args = [entry(tools), '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none',
    '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override',
    '--ignore-last-opened', '--user-data-dir', profile.userDataDir, '--extensions-dir', profile.extensionsDir,
    ...(options.args ?? []), ...(options.folder !== undefined ? [options.folder] : [])];
  // detached: a process group of its own, so that stop() reaches every process it started
  const child = spawn(tools.node, args, { env: profile.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let log = '';
  const onData = (d: Buffer): void => { log += d; if (options.echo) process.stderr.write(d); };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const alive = (): boolean => {
    try { process.kill(-child.pid!, 0); return true; } catch { return false; }
  };
  const stop = async (): Promise<void> => {
    if (child.pid === undefined) return;
    try { process.kill(-child.pid, 'SIGTERM'); } catch { return; }
    for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
    if (alive()) try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 60000);
  while (Date.now() < deadline && child.exitCode === null) {
    if (await httpStatus(`${url}/healthz`) === 200) return { port, url, process: child, log: () => log, stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`code-server did not start on ${url}:\n${log}`);
}
