// The entry of dist/on-demand.js: what the extension runs only when asked (a debug session, a
// check of a script, a headless run, a comparison with the kernel): the simulator, the language,
// the inline debug adapter and the oracle. A bundle of its own, loaded by loadOnDemand() on first
// use, so that activation neither reads nor compiles it (bench: extension activation).

export { HmmDebugSession } from '../adapter/session';
export { formatDiagnostic } from '../hmm/lang/ast';
export { MAX_SCRIPT_BYTES } from '../hmm/lang/limits';
export { DEVICE_OPS, STATEMENT_KEYWORDS } from '../hmm/lang/parser';
export { diagnose, runScriptText, runScriptTextAsync } from '../hmm/lang/runner';
export { chromeTraceJson, progressText, runSummary } from '../hmm/lang/runText';
export { KernelNotBuiltError, loadArtifacts } from '../oracle/artifacts';
export { compareWithKernel } from '../oracle/kernelRun';
export { runProgram } from '../oracle/vm';
