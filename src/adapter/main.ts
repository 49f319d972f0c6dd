// Layer: debug adapter (src/adapter). The adapter as its own process: `node dist/adapter.js`
// speaks DAP on stdin/stdout (DAP tests, and editors other than VS Code).

import { HmmDebugSession } from './session';

const session = new HmmDebugSession();
process.on('SIGTERM', () => session.shutdown());
session.start(process.stdin, process.stdout);
