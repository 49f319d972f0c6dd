// The adapter as its own process: `node dist/adapter.js`
// speaks DAP on stdin/stdout (DAP tests, and editors other than VS Code).

import { Response } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { DapFraming } from './dapFraming';
import { HmmDebugSession } from './session';
import { TickBatchedWriter } from './tickBatch';

/** Largest DAP message accepted (a writeMemory of a few MiB is far below it). */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

const session = new HmmDebugSession();
process.on('SIGTERM', () => session.shutdown());
// Requests are validated and runs catch their own failures (session.ts); should a promise still
// reject, say so on stderr rather than let Node end the process and every request with it.
process.on('unhandledRejection', (e) => {
  process.stderr.write(`hmm-debug adapter: unhandled rejection: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
});
const framing = new DapFraming({
  maxBody: MAX_MESSAGE_BYTES,
  onOversized: ({ length, seq, command }) => {
    const why = `a DAP message of ${length} bytes is over the adapter's limit of ${MAX_MESSAGE_BYTES} bytes; it was skipped`;
    process.stderr.write(`hmm-debug adapter: ${why}\n`);
    if (seq !== undefined && command !== undefined) {
      const request: DebugProtocol.Request = { seq, type: 'request', command };
      session.sendResponse(new Response(request, why));
    }
  },
  onBadHeader: (reason) => process.stderr.write(`hmm-debug adapter: skipped ${reason}\n`),
});
process.stdin.pipe(framing);
session.start(framing, new TickBatchedWriter(process.stdout));
