// DAP messages sent in one turn of the event loop, written to the client in one write: a step
// is the request's response and then, from the run's promise continuation, the stop's four or
// five events (stopped, invalidated, memory, hmm/stateChanged); one write wakes the client once
// instead of six times, with one system call. The write waits for the turn's check phase
// (setImmediate), after the promise continuations of the request that caused it.
//
// Not a stream.Writable: its buffering would make an object per message and, to hand the batch
// on, a Buffer per message and one more for their concatenation, every step. The messages are
// kept as the library made them (strings) and joined once; the target encodes the one string.

import { EventEmitter } from 'node:events';

type Callback = (err?: Error | null) => void;

export class TickBatchedWriter extends EventEmitter implements NodeJS.WritableStream {
  writable = true;
  private parts: (string | Uint8Array)[] = [];
  /** No Uint8Array among `parts` (the library writes strings): they are joined as text. */
  private allText = true;
  private callbacks: Callback[] = [];
  private scheduled = false;
  private readonly flushScheduled = (): void => {
    this.scheduled = false;
    this.flush();
  };

  constructor(private readonly target: NodeJS.WritableStream) {
    super();
    target.on('error', (e: Error) => {
      this.writable = false;
      this.emit('error', e);
    });
  }

  write(chunk: Uint8Array | string, encodingOrCallback?: BufferEncoding | Callback, callback?: Callback): boolean {
    const cb = typeof encodingOrCallback === 'function' ? encodingOrCallback : callback;
    const encoding = typeof encodingOrCallback === 'string' ? encodingOrCallback : 'utf8';
    if (!this.writable) {
      const e = new Error('write after end');
      if (cb !== undefined) process.nextTick(cb, e);
      return false;
    }
    const part = typeof chunk === 'string' && encoding !== 'utf8' ? Buffer.from(chunk, encoding) : chunk;
    if (typeof part !== 'string') this.allText = false;
    this.parts.push(part);
    if (cb !== undefined) this.callbacks.push(cb);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushScheduled);
    }
    return true;
  }

  end(a?: Uint8Array | string | (() => void), b?: BufferEncoding | (() => void), c?: () => void): this {
    const cb = [a, b, c].find((x): x is () => void => typeof x === 'function');
    if (a !== undefined && typeof a !== 'function') this.write(a, typeof b === 'string' ? b : 'utf8');
    this.flush();
    this.writable = false;
    this.target.end(cb);
    return this;
  }

  /** What the turn wrote, to the target in one write. */
  private flush(): void {
    const parts = this.parts;
    if (parts.length === 0) return;
    this.parts = [];
    const allText = this.allText;
    this.allText = true;
    const cbs = this.callbacks;
    this.callbacks = [];
    const data = parts.length === 1 ? parts[0]!
      : allText ? parts.join('')
        : Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
    this.target.write(data, cbs.length === 0 ? undefined : (e) => { for (const f of cbs) f(e); });
  }
}
