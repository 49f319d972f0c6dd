// Loads dist/hmm-sim-kernel.js (src/cli/kernelMain.ts) for the commands that use the kernel VM:
// `hmm-sim run` without --kernel never reads or compiles it.

import * as path from 'node:path';

export type KernelCommands = typeof import('./kernelMain');

/** The bundle beside dist/hmm-sim.js, built by scripts/build.mjs; a computed path, so that esbuild leaves it out. */
export function loadKernel(): KernelCommands {
  return require(path.join(__dirname, 'hmm-sim-kernel.js')) as KernelCommands;
}
