// `npm run package`: the production bundle (minified, no source maps) and the VSIX, offline.
// Prints the VSIX's size and file list (read from the archive itself, not from vsce's plan).
//   node scripts/package.mjs [--out FILE] [--skip-build]
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const out = resolve(root, args.includes('--out') ? args[args.indexOf('--out') + 1] : 'hmm-debug.vsix');
const run = (cmd, argv) => execFileSync(cmd, argv, { cwd: root, stdio: 'inherit', env: { ...process.env, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1' } });

const t0 = Date.now();
if (!args.includes('--skip-build')) run(process.execPath, ['scripts/build.mjs', '--production']);
// --no-dependencies: everything the extension runs is bundled into dist/ by esbuild.
// --allow-missing-repository: the project has no public repository URL to name.
// --readme-path: the VSIX's README (its marketplace page) is for users; README.md is for developers.
run(process.execPath, [join(root, 'node_modules/@vscode/vsce/vsce'), 'package', '--no-dependencies',
  '--allow-missing-repository', '--readme-path', 'docs/vsix-README.md', '--out', out]);

/** Entries of a zip archive from its central directory: name, size, compressed size. */
export function zipEntries(buf) {
  let eocd = buf.length - 22;
  while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new Error('not a zip archive');
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const entries = [];
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error('bad central directory');
    const method = buf.readUInt16LE(p + 10), csize = buf.readUInt32LE(p + 20), size = buf.readUInt32LE(p + 24);
    const nlen = buf.readUInt16LE(p + 28), xlen = buf.readUInt16LE(p + 30), clen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nlen);
    entries.push({ name, size, csize, method, local });
    p += 46 + nlen + xlen + clen;
  }
  return entries;
}
/** The content of one entry (stored or deflated). */
export function zipRead(buf, e) {
  const start = e.local + 30 + buf.readUInt16LE(e.local + 26) + buf.readUInt16LE(e.local + 28);
  const data = buf.subarray(start, start + e.csize);
  return e.method === 0 ? data : inflateRawSync(data);
}

const vsix = readFileSync(out);
const entries = zipEntries(vsix);
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`\n${relative(process.cwd(), out)}: ${kb(statSync(out).size)}, ${entries.length} files (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
for (const e of entries) console.log(`  ${kb(e.size).padStart(10)}  ${e.name}`);
