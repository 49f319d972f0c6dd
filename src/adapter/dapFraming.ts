// DAP's base protocol framing (`Content-Length: N\r\n\r\n` + N bytes of JSON) for the adapter
// process, in place of @vscode/debugadapter's reader, which would buffer any N a client announces
// and re-concatenate its whole buffer on every chunk (quadratic in a large message). Each whole
// body goes to `onMessage` as one string; frames over a limit are refused without keeping their
// bytes, so a hostile or broken client cannot grow the adapter without bound. A chunk that holds
// whole frames (a client writes one message at a time: every step's requests) is read where it
// lies: one string per message and no buffers, streams or copies in between.

/** A frame refused for its size; `seq` and `command` when the body's start names a request. */
export interface OversizedFrame {
  length: number;
  seq?: number;
  command?: string;
}

export interface DapFramingOptions {
  /** Largest body accepted, in bytes. */
  maxBody: number;
  /** Each whole body, decoded (UTF-8); empty bodies carry no message and are skipped. */
  onMessage: (body: string) => void;
  /** Called for each frame that is dropped: its size, or a header that is not DAP's. */
  onOversized: (frame: OversizedFrame) => void;
  onBadHeader: (reason: string) => void;
}

/** Header sections longer than this are not DAP's (one or two short lines). */
const MAX_HEADER = 4096;
/** Bytes of a refused body kept to find the request's seq and command in. */
const PEEK = 1024;
const SEPARATOR = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);

type State =
  /** `partial`: the start of a header section cut by the end of the last chunk. */
  | { kind: 'header'; partial: Buffer }
  | { kind: 'body'; length: number; remaining: number; chunks: Buffer[] }
  | { kind: 'skip'; length: number; remaining: number; peek: Buffer };

const HEADER: State = { kind: 'header', partial: EMPTY };

export class DapFraming {
  private state: State = HEADER;

  constructor(private readonly options: DapFramingOptions) {}

  /** The next bytes of the stream, cut anywhere. */
  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) at = this.consume(chunk, at);
  }

  /** Takes what the current state needs from `data` at `at`, returns where the rest starts. */
  private consume(data: Buffer, at: number): number {
    const state = this.state;
    if (state.kind === 'header') {
      if (state.partial.length > 0) return this.continueHeader(state.partial, data, at);
      const end = data.indexOf(SEPARATOR, at);
      if (end < 0) {
        this.keepPartial(data.subarray(at));
        return data.length;
      }
      return this.startBody(data.toString('latin1', at, end), end + SEPARATOR.length);
    }
    const take = Math.min(state.remaining, data.length - at);
    state.remaining -= take;
    if (state.kind === 'body') {
      if (state.remaining === 0 && state.chunks.length === 0) {
        // The whole body in this chunk: decoded where it lies.
        this.state = HEADER;
        this.options.onMessage(data.toString('utf8', at, at + take));
      } else {
        // Views of the stream's chunks (they are not reused), joined once when the body is whole.
        state.chunks.push(data.subarray(at, at + take));
        if (state.remaining === 0) {
          this.state = HEADER;
          this.options.onMessage(Buffer.concat(state.chunks, state.length).toString('utf8'));
        }
      }
    } else {
      if (state.peek.length < PEEK) state.peek = Buffer.concat([state.peek, data.subarray(at, at + Math.min(take, PEEK - state.peek.length))]);
      if (state.remaining === 0) {
        this.state = HEADER;
        this.options.onOversized({ length: state.length, ...requestOf(state.peek.toString('utf8')) });
      }
    }
    return at + take;
  }

  /** A header section cut by a chunk boundary: the rare path, joined with the next chunk. */
  private continueHeader(partial: Buffer, data: Buffer, at: number): number {
    const bytes = Buffer.concat([partial, data.subarray(at)]);
    const end = bytes.indexOf(SEPARATOR);
    if (end < 0) {
      this.keepPartial(bytes);
      return data.length;
    }
    // What follows the separator, as an offset into `data` (the separator may straddle the two).
    const next = end + SEPARATOR.length - partial.length + at;
    return this.startBody(bytes.toString('latin1', 0, end), next);
  }

  private keepPartial(bytes: Buffer): void {
    if (bytes.length > MAX_HEADER) {
      this.options.onBadHeader(`a header section longer than ${MAX_HEADER} bytes`);
      // Keep the tail: the separator may straddle this chunk and the next.
      this.state = { kind: 'header', partial: Buffer.from(bytes.subarray(bytes.length - (SEPARATOR.length - 1))) };
    } else {
      this.state = { kind: 'header', partial: Buffer.from(bytes) };
    }
  }

  /** A whole header section read; the body starts at `next` in the chunk. */
  private startBody(header: string, next: number): number {
    const length = contentLength(header);
    if (length === undefined) {
      this.options.onBadHeader('a header without a valid Content-Length');
      this.state = HEADER;
    } else if (length > this.options.maxBody) {
      this.state = { kind: 'skip', length, remaining: length, peek: EMPTY };
    } else if (length === 0) {
      // No message in it (the library's reader skipped these too).
      this.state = HEADER;
    } else {
      this.state = { kind: 'body', length, remaining: length, chunks: [] };
    }
    return next;
  }
}

function contentLength(header: string): number | undefined {
  const m = /^Content-Length: *(\d{1,15}) *$/im.exec(header);
  return m === null ? undefined : Number(m[1]);
}

/** The request a refused body starts with, as far as its first bytes tell. */
function requestOf(start: string): { seq?: number; command?: string } {
  if (!/"type"\s*:\s*"request"/.test(start)) return {};
  const seq = /"seq"\s*:\s*(\d{1,15})/.exec(start);
  const command = /"command"\s*:\s*"([A-Za-z]{1,64})"/.exec(start);
  return seq === null || command === null ? {} : { seq: Number(seq[1]), command: command[1] };
}
