// The layers of src/ (README.md, "Layout"), checked by `npm run lint:deps` (the first step of
// `npm test`): every rule is an error. Type-only imports count like any other
// (tsPreCompilationDeps), and so do dynamic imports.
//
// The simulator's own files (src/hmm/*.ts, "mechanisms") are below src/hmm/simulator.ts, the
// machine that assembles them: a mechanism sees the machine only through the small interface
// it needs (src/hmm/machine.ts), never the Simulator class.

const MECHANISM = '^src/hmm/[^/]+\\.ts$';
const MACHINE = '^src/hmm/simulator\\.ts$';
const DAP = '(^|/)node_modules/@vscode/(debugadapter|debugprotocol)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycles in src/, type-only imports included.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'simulator-imports-no-outer-layer',
      comment: 'src/hmm (simulator and language) imports nothing of the adapter, the extension, the CLI or the oracle.',
      severity: 'error',
      from: { path: '^src/hmm/' },
      to: { path: '^src/(adapter|extension|cli|oracle)/' },
    },
    {
      name: 'simulator-imports-no-package',
      comment: 'src/hmm depends on no npm package (vscode and DAP least of all).',
      severity: 'error',
      from: { path: '^src/hmm/' },
      to: { dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-bundled', 'npm-no-pkg', 'npm-unknown', 'unknown', 'undetermined'] },
    },
    {
      name: 'mechanisms-import-no-node',
      comment: 'The simulator proper is pure TypeScript: no Node built-ins (the language may read files).',
      severity: 'error',
      from: { path: MECHANISM },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'mechanisms-import-no-language',
      comment: 'src/hmm/lang may import src/hmm; src/hmm/*.ts must not import src/hmm/lang.',
      severity: 'error',
      from: { path: MECHANISM },
      to: { path: '^src/hmm/lang/' },
    },
    {
      name: 'mechanisms-import-no-machine',
      comment: 'A mechanism uses the machine through src/hmm/machine.ts, never src/hmm/simulator.ts (not even its types).',
      severity: 'error',
      from: { path: MECHANISM, pathNot: MACHINE },
      to: { path: MACHINE },
    },
    {
      name: 'oracle-imports-only-simulator-node-fast-check',
      comment: 'src/oracle imports src/hmm (simulator and language), Node built-ins and fast-check; nothing else.',
      severity: 'error',
      from: { path: '^src/oracle/' },
      to: { pathNot: ['^src/(oracle|hmm)/', '(^|/)node_modules/fast-check/'], dependencyTypesNot: ['core'] },
    },
    {
      name: 'cli-imports-only-simulator-oracle-node',
      comment: 'src/cli imports src/hmm (simulator and language), src/oracle and Node built-ins; nothing else.',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { pathNot: '^src/(cli|hmm|oracle)/', dependencyTypesNot: ['core'] },
    },
    {
      name: 'adapter-imports-only-simulator-and-dap',
      comment: 'src/adapter imports src/hmm (simulator and language), the DAP libraries and Node built-ins; nothing else.',
      severity: 'error',
      from: { path: '^src/adapter/' },
      to: { pathNot: ['^src/(adapter|hmm)/', DAP], dependencyTypesNot: ['core'] },
    },
    {
      name: 'extension-imports-no-simulator-internals',
      comment:
        'src/extension is UI: what the simulator knows reaches it through the adapter (DAP, in a session) or the ' +
        'language (src/hmm/lang: commands run outside a session), never src/hmm/*.ts directly. Besides those it ' +
        'imports vscode, @vscode/debugprotocol, src/oracle and Node built-ins; nothing else (not src/cli).',
      severity: 'error',
      from: { path: '^src/extension/' },
      to: {
        pathNot: ['^src/(extension|adapter|oracle)/', '^src/hmm/lang/', '(^|/)node_modules/(@types/vscode|@vscode/debugprotocol)/'],
        dependencyTypesNot: ['core'],
      },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(out|dist)/' },
    // TypeScript 7 has no JS API: swc parses, and type-only imports are kept.
    parser: 'swc',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
