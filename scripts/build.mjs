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

await Promise.all([
  build({ ...common, entryPoints: ['src/cli/hmmSim.ts'], outfile: 'dist/hmm-sim.js' }),
  build({ ...common, entryPoints: ['bench/bench.ts'], outfile: 'dist/bench.js' }),
  build({ ...common, entryPoints: ['bench/baselineAdapter.ts'], outfile: 'dist/baseline-adapter.js' }),
  build({ ...common, entryPoints: ['src/adapter/main.ts'], outfile: 'dist/adapter.js' }),
  // The extension: `vscode` is provided by the host.
  build({ ...common, entryPoints: ['src/extension/main.ts'], outfile: 'dist/extension.js', external: ['vscode'] }),
  // The page helpers the map webview shares with the views (`window.hmmPages` in media/map.js).
  build({
    ...common, entryPoints: ['src/extension/pages.ts'], outfile: 'dist/webview/pages.js',
    platform: 'browser', target: 'es2020', format: 'iife', globalName: 'hmmPages', sourcemap: false,
  }),
]);
