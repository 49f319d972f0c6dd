// Finds the VM that kernel/build.sh built, through the manifest
// it writes outside the clone (~/.cache/hmm-debug/kernel/current.json). No vscode, no simulator.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** What kernel/build.sh built: the manifest's fields (format 1). */
export interface KernelArtifacts {
  /** The pinned Debian linux-source-6.12 version, e.g. 6.12.118-1~deb12u1. */
  readonly debianVersion: string;
  /** `uname -r` of the built kernel. */
  readonly kernelRelease: string;
  /** Hash of the fragment and the kernel recipe (names the cache directory). */
  readonly kernelKey: string;
  /** Hash of the final .config. */
  readonly configHash: string;
  /** Hash of hmm-runner.c, init and the busybox version (names the user-space directory). */
  readonly userKey: string;
  /** sha256 (12 hex digits) of kernel/hmm-runner.c then kernel/init as built. */
  readonly sourcesHash: string;
  readonly bzImage: string;
  /** The base initramfs (uncompressed newc cpio): busybox, /init, /hmm-tests, /hmm-runner. */
  readonly initramfs: string;
  readonly runner: string;
  readonly hmmTests: string;
  /** The unpacked kernel tree. */
  readonly source: string;
}

/** The kernel is not built (or its manifest points at files that are gone). */
export class KernelNotBuiltError extends Error {
  constructor(detail: string) {
    super(`the kernel oracle is not built (${detail}): run \`npm run kernel\` (or \`hmm-sim kernel build\`) first`);
    this.name = 'KernelNotBuiltError';
  }
}

/** kernel/build.sh's cache directory: $HMM_KERNEL_CACHE, else $XDG_CACHE_HOME or ~/.cache + hmm-debug/kernel. */
export function kernelCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HMM_KERNEL_CACHE) return env.HMM_KERNEL_CACHE;
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'hmm-debug', 'kernel');
}

export function manifestPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(kernelCacheDir(env), 'current.json');
}

const STRING_FIELDS = [
  'debianVersion', 'kernelRelease', 'kernelKey', 'configHash', 'userKey', 'sourcesHash',
  'bzImage', 'initramfs', 'runner', 'hmmTests', 'source',
] as const;

/** Validates a manifest's text (format 1); `where` names it in errors. */
export function parseManifest(text: string, where: string): KernelArtifacts {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new KernelNotBuiltError(`${where} is not JSON: ${(e as Error).message}`);
  }
  if (typeof j !== 'object' || j === null) throw new KernelNotBuiltError(`${where} is not an object`);
  const o = j as Record<string, unknown>;
  if (o.format !== 1) throw new KernelNotBuiltError(`${where} has format ${String(o.format)}, not 1`);
  const out: Record<string, string> = {};
  for (const k of STRING_FIELDS) {
    const v = o[k];
    if (typeof v !== 'string' || v.length === 0) throw new KernelNotBuiltError(`${where} has no ${k}`);
    out[k] = v;
  }
  return out as unknown as KernelArtifacts;
}

/** kernel/build.sh's sourcesHash of a checkout: sha256 of hmm-runner.c then init, 12 hex digits. */
export function sourcesHash(root: string): string {
  const h = createHash('sha256');
  for (const f of ['hmm-runner.c', 'init']) h.update(fs.readFileSync(path.join(root, 'kernel', f)));
  return h.digest('hex').slice(0, 12);
}

/**
 * Reads the manifest and checks that the files it names exist and, when this code runs from a
 * checkout (kernel/ beside it), that the runner and init were built from this checkout's sources:
 * the cache is shared, and another checkout may have built a different runner last.
 */
export function loadArtifacts(env: NodeJS.ProcessEnv = process.env): KernelArtifacts {
  const file = manifestPath(env);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new KernelNotBuiltError(`no ${file}`);
  }
  const a = parseManifest(text, file);
  for (const f of [a.bzImage, a.initramfs, a.runner, a.hmmTests]) {
    if (!fs.existsSync(f)) throw new KernelNotBuiltError(`${f}, named by ${file}, is missing`);
  }
  let root: string | undefined;
  try {
    root = projectRoot();
  } catch {
    root = undefined; // not a checkout: nothing to compare with
  }
  if (root !== undefined && sourcesHash(root) !== a.sourcesHash) {
    throw new KernelNotBuiltError(`${file} was built from another kernel/hmm-runner.c or kernel/init than ${root}'s`);
  }
  return a;
}

/** The project's root (where kernel/build.sh is), found upwards from this module. */
export function projectRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'kernel', 'build.sh')) && fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`kernel/build.sh not found above ${from}`);
  }
}
