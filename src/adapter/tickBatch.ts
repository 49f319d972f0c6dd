// DAP messages sent in one turn of the event loop, written to the client in one write: a stop
// is five or six messages (the step's response, stopped, invalidated, memory, stateChanged),
// and one write wakes the client once instead of each time, with one system call.

import { Writable } from 'node:stream';

export class TickBatchedWriter extends Writable {
  constructor(private readonly target: Writable) {
    super({ decodeStrings: false });
    target.on('error', (e: Error) => this.destroy(e));
  }

  override write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    if (!this.writableCorked) {
      this.cork();
      process.nextTick(() => this.uncork());
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
