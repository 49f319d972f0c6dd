// DAP messages sent in one turn of the event loop, written to the client in one write: a step
// is the request's response and then, from the run's promise continuation, the stop's four or
// five events (stopped, invalidated, memory, hmm/stateChanged); one write wakes the client once
// instead of six times, with one system call. The write waits for the turn's check phase
// (setImmediate), after the promise continuations of the request that caused it.

import { Writable } from 'node:stream';

export class TickBatchedWriter extends Writable {
  constructor(private readonly target: Writable) {
    super({ decodeStrings: false });
    target.on('error', (e: Error) => this.destroy(e));
  }

  override write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    if (!this.writableCorked) {
      this.cork();
      setImmediate(() => this.uncork());
    }
    // Writable.write's overloads: forwarded as the caller gave them.
    return (super.write as (...a: unknown[]) => boolean)(chunk, encoding, callback);
  }

  override _write(chunk: string | Buffer, encoding: BufferEncoding, callback: (e?: Error | null) => void): void {
    this.target.write(chunk, encoding, callback);
  }

  override _writev(chunks: { chunk: string | Buffer; encoding: BufferEncoding }[], callback: (e?: Error | null) => void): void {
    this.target.write(Buffer.concat(chunks.map((c) => (typeof c.chunk === 'string' ? Buffer.from(c.chunk, c.encoding) : c.chunk))), callback);
  }

  override _final(callback: (e?: Error | null) => void): void {
    this.target.end(callback);
  }
}
