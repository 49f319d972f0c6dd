// `npm start` and `npm test` on a fresh clone: runs `npm install` first when a package the
// project declares is not in node_modules (npm's prestart and pretest hooks call this), so the
// README's quick start needs no separate install step. Installed trees are left alone: this
// only reads each declared package's package.json, and never removes anything.
//   node scripts/deps.mjs
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const declared = Object.keys({ ...manifest.dependencies, ...manifest.devDependencies });
const missing = declared.filter((name) => !existsSync(join(root, 'node_modules', name, 'package.json')));

if (missing.length > 0) {
  console.log(`[deps] ${missing.length} of ${declared.length} packages not installed (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''}): npm install`);
  // npm_execpath is the npm that runs this hook; outside npm, the npm on PATH.
  const npm = process.env.npm_execpath;
  const [cmd, args] = npm ? [process.execPath, [npm]] : ['npm', []];
  execFileSync(cmd, [...args, 'install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
}
