// `npm start`: the examples in real VS Code in the browser.
// Builds and packages the extension (scripts/package.mjs), provisions Node 24 + code-server +
// Chromium's packages (scripts/tools.sh), installs the VSIX into a code-server with a fresh profile
// under .cache/start, starts it on 127.0.0.1 (port 8080, or a free one; PORT=… to choose) opening
// examples/, prints the URL and runs until Ctrl-C, then stops code-server's whole process group.
//   node scripts/start.mjs [--skip-build]
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const t0 = Date.now();
const say = (m) => console.log(`[start ${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}`);
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1' } });

if (!process.argv.includes('--skip-build')) run(process.execPath, ['scripts/package.mjs']);
run('bash', ['scripts/tools.sh']);
const tools = Object.fromEntries(fs.readFileSync(join(process.env.HMM_TOOLS_DIR || join(root, '.cache/tools'), 'env'), 'utf8').split('\n').filter((l) => l.includes('='))
  .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
const entry = join(tools.CODE_SERVER_DIR, 'out/node/entry.js');

// A fresh profile every start: user data, extensions, XDG folders, code-server's sockets.
const dir = join(root, '.cache/start');
fs.rmSync(dir, { recursive: true, force: true });
const userDataDir = join(dir, 'user-data');
const extensionsDir = join(dir, 'extensions');
const env = {
  ...process.env,
  XDG_CONFIG_HOME: join(dir, 'xdg/config'), XDG_DATA_HOME: join(dir, 'xdg/data'), XDG_CACHE_HOME: join(dir, 'xdg/cache'),
  TMPDIR: join(dir, 'tmp'),
  EXTENSIONS_GALLERY: '{}', // no extension gallery: no outbound requests
};
for (const d of [env.XDG_CONFIG_HOME, env.XDG_DATA_HOME, env.XDG_CACHE_HOME, env.TMPDIR, join(userDataDir, 'User'), extensionsDir]) fs.mkdirSync(d, { recursive: true });
const settings = JSON.parse(fs.readFileSync(join(root, 'scripts/code-server-settings.json'), 'utf8'));
fs.writeFileSync(join(userDataDir, 'User/settings.json'), JSON.stringify(settings, null, 2));

say('installing hmm-debug.vsix into code-server');
execFileSync(tools.NODE24, [entry, '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir, '--install-extension', join(root, 'hmm-debug.vsix')],
  { env, stdio: ['ignore', 'ignore', 'inherit'] });

const portFree = (port) => new Promise((res) => {
  const s = net.createServer();
  s.once('error', () => res(false));
  s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
});
const anyPort = () => new Promise((res) => {
  const s = net.createServer();
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
});
const wanted = Number(process.env.PORT || 8080);
const port = (await portFree(wanted)) ? wanted : await anyPort();
if (port !== wanted) say(`port ${wanted} is taken; using ${port}`);

const examples = join(root, 'examples');
const logFile = join(dir, 'code-server.log');
const log = fs.openSync(logFile, 'a');
// detached: code-server and everything it starts (extension host, pty host, …) in one process group
const server = spawn(tools.NODE24, [entry, '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none',
  '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override',
  '--ignore-last-opened', '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir, examples],
{ env, stdio: ['ignore', log, log], detached: true });

let stopping = false;
function stop(code) {
  if (stopping) return;
  stopping = true;
  try { process.kill(-server.pid, 'SIGTERM'); } catch { /* already gone */ }
  const alive = () => { try { process.kill(-server.pid, 0); return true; } catch { return false; } };
  let n = 0;
  const timer = setInterval(() => {
    if (!alive() || ++n > 50) {
      if (alive()) try { process.kill(-server.pid, 'SIGKILL'); } catch { /* gone */ }
      clearInterval(timer);
      say('code-server stopped');
      process.exit(code);
    }
  }, 100);
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { console.log(); stop(0); });
// `npm start` killed with a signal does not pass it on: stop when this process is orphaned.
const parent = process.ppid;
setInterval(() => { if (process.ppid !== parent) stop(0); }, 1000).unref();
process.on('exit', () => { try { process.kill(-server.pid, 'SIGKILL'); } catch { /* gone */ } });
server.on('exit', (code) => {
  if (stopping) return;
  console.error(`code-server exited (${code}); its log: ${logFile}\n${fs.readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n')}`);
  stop(1);
});

const healthy = () => new Promise((res) => {
  http.get(`http://127.0.0.1:${port}/healthz`, (r) => { r.resume(); res(r.statusCode === 200); }).on('error', () => res(false));
});
for (let i = 0; i < 600 && !stopping && !(await healthy()); i++) await new Promise((r) => setTimeout(r, 100));
if (!stopping) {
  const url = `http://127.0.0.1:${port}/?folder=${encodeURI(examples)}`;
  say(`code-server ${tools.CODE_SERVER_VERSION} with hmm-debug is up (log: ${logFile.slice(root.length + 1)})`);
  console.log(`\n  Open ${url}\n  (a .hmm file, F9 for a breakpoint, F5 to debug; Ctrl-C here stops it)\n`);
}
