// The Node flags the adapter process is started with: by the extension (`hmm.debug.adapterProcess`)
// and by the bench, which measures the process as the extension starts it. Editors other than
// VS Code start `node <these flags> dist/adapter.js` (README).

/**
 * A young generation of 4 MiB per semi-space from the start. V8 starts it at 1 MiB and grows it
 * only as objects survive, which a debugger's per-step objects do not (DAP messages, a stop's
 * answers): at about 18 KB allocated per step, a scavenge came every 60-100 steps, 20-37 of the
 * bench's 2,200, more than the 1% of steps its p99 reads. At 4 MiB, about 10. The space's pages
 * are touched only as allocation reaches them: no cost at the first stop, about 5 MiB of peak RSS
 * once a session has stepped a while.
 */
export const ADAPTER_NODE_FLAGS: readonly string[] = ['--min-semi-space-size=4'];
