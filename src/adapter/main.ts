// The adapter as its own process: `node dist/adapter.js`
// speaks DAP on stdin/stdout (DAP tests, and editors other than VS Code).

import { Response } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { Readable } from 'node:stream';
import { DapFraming } from './dapFraming';
import { HmmDebugSession } from './session';
import { TickBatchedWriter } from './tickBatch';
import { warmUp } from './warmUp';

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
  onMessage: (body) => {
    // As the library's own reader: a frame that is not a message is logged and skipped.
    try {
      session.handleMessage(JSON.parse(body) as DebugProtocol.ProtocolMessage);
    } catch (e) {
      process.stderr.write(`hmm-debug adapter: Error handling data: ${e instanceof Error ? e.message : String(e)}\n`);
    }
  },
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
process.stdin.on('data', (chunk: Buffer) => framing.push(chunk));
// The library's start() reads requests from the stream it is given; here they come through the
// framing above, so it is given one that carries only stdin's end (its 'close' ends the session)
// and errors.
const input = new Readable({ read: () => undefined });
process.stdin.on('end', () => input.push(null));
process.stdin.on('error', (e) => input.destroy(e));
session.start(input, new TickBatchedWriter(process.stdout));
// While the user reads the first stop, the step path is warmed up on a throwaway session
// (warmUp.ts); HMM_ADAPTER_WARM_UP=0 leaves it out (to measure without it).
if (process.env['HMM_ADAPTER_WARM_UP'] !== '0') {
  void session.firstStop.then(() => warmUp()).catch((e: unknown) => {
    process.stderr.write(`hmm-debug adapter: warm-up: ${e instanceof Error ? e.message : String(e)}\n`);
  });
}
