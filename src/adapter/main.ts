// Layer: debug adapter (src/adapter). The adapter as its own process: `node dist/adapter.js`
// speaks DAP on stdin/stdout (DAP tests, and editors other than VS Code).

import { HmmDebugSession } from './session';

const session = new HmmDebugSession();
process.on('SIGTERM', () => session.shutdown());
// Requests are validated and runs catch their own failures (session.ts); should a promise still
// reject, say so on stderr rather than let Node end the process and every request with it.
process.on('unhandledRejection', (e) => {
  process.stderr.write(`hmm-debug adapter: unhandled rejection: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
});
session.start(process.stdin, process.stdout);
