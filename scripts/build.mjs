// Bundles the runnable entry points with esbuild. Type checking is `npm run typecheck`.
import { build } from 'esbuild';

const production = process.argv.includes('--production');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
};

/**
 * `vscode` as one module of the bundle that re-exports the host's API object. Left external, each
 * of the ~25 modules importing it would copy the API's ~350 properties into a namespace object of
 * its own as the bundle loads (esbuild's CommonJS interop): most of the extension's activation.
 */
const vscodeOnce = {
  name: 'vscode-once',
  setup(b) {
    b.onResolve({ filter: /^vscode$/ }, (a) => (a.namespace === 'vscode-once' ? { path: 'vscode', external: true } : { path: 'vscode', namespace: 'vscode-once' }));
    b.onLoad({ filter: /.*/, namespace: 'vscode-once' }, () => ({ contents: "export * from 'vscode';", loader: 'js' }));
  },
};

await Promise.all([
  // The CLI: `run` in one bundle; the commands that use the kernel VM (oracle, fast-check) in
  // another, required only by them (src/cli/loadKernel.ts), so that a run does not compile them.
  build({ ...common, entryPoints: ['src/cli/hmmSim.ts'], outfile: 'dist/hmm-sim.js' }),
  build({ ...common, entryPoints: ['src/cli/kernelMain.ts'], outfile: 'dist/hmm-sim-kernel.js' }),
  build({ ...common, entryPoints: ['bench/bench.ts'], outfile: 'dist/bench.js' }),
  build({ ...common, entryPoints: ['bench/baselineAdapter.ts'], outfile: 'dist/baseline-adapter.js' }),
  build({ ...common, entryPoints: ['src/adapter/main.ts'], outfile: 'dist/adapter.js' }),
  // The extension: `vscode` is provided by the host. What it runs only on demand (simulator,
  // language, inline adapter, oracle) is a bundle of its own, required on first use
  // (src/extension/loadOnDemand.ts), so that activation does not compile it.
  build({ ...common, entryPoints: ['src/extension/main.ts'], outfile: 'dist/extension.js', plugins: [vscodeOnce] }),
  build({ ...common, entryPoints: ['src/extension/onDemand.ts'], outfile: 'dist/on-demand.js', external: ['vscode'] }),
  // The page helpers the map webview shares with the views (`window.hmmPages` in media/map.js).
  build({
    ...common, entryPoints: ['src/extension/pages.ts'], outfile: 'dist/webview/pages.js',
    platform: 'browser', target: 'es2020', format: 'iife', globalName: 'hmmPages', sourcemap: false,
  }),
]);
