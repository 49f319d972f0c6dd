// The layers of src/ (README.md, "Layout"), checked by `npm run lint:deps` (the first step of
// `npm test`): every rule is an error. Type-only imports count like any other
// (tsPreCompilationDeps), and so do dynamic imports.
//
// The simulator's own files (src/hmm/*.ts, "mechanisms") are below src/hmm/simulator.ts, the
// machine that assembles them: a mechanism sees the machine only through the small interface
// it needs (src/hmm/machine.ts), never the Simulator class.

const MECHANISM = '^src/hmm/[^/]+\\.ts$';
const MACHINE = '^src/hmm/simulator\\.ts$';
const VSCODE = '(^|/)node_modules/(@types/vscode|vscode|@vscode/)';
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
      name: 'oracle-imports-only-simulator',
      comment: 'src/oracle imports the simulator, the language, Node and fast-check; not the adapter, the extension or the CLI.',
      severity: 'error',
      from: { path: '^src/oracle/' },
      to: { path: ['^src/(adapter|extension|cli)/', VSCODE] },
    },
    {
      name: 'cli-imports-no-ui',
      comment: 'src/cli imports the simulator, the language, the oracle and Node; not the adapter, the extension or vscode.',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: ['^src/(adapter|extension)/', VSCODE] },
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
        'src/extension is UI: it knows the simulator through the adapter (DAP, in a session) or the language\'s runner ' +
        '(commands run outside a session), never src/hmm/*.ts directly.',
      severity: 'error',
      from: { path: '^src/extension/' },
      to: { path: '^src/hmm/[^/]+\\.ts$' },
    },
    {
      name: 'extension-imports-no-cli',
      comment: 'src/extension does not import the CLI.',
      severity: 'error',
      from: { path: '^src/extension/' },
      to: { path: '^src/cli/' },
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
