// DAP's base protocol framing (`Content-Length: N\r\n\r\n` +
// N bytes of JSON) in front of @vscode/debugadapter's reader, which would buffer any N a client
// announces and re-concatenate its whole buffer on every chunk (quadratic in a large message).
// This stage hands the reader one whole frame at a time and refuses frames over a limit without
// keeping their bytes, so a hostile or broken client cannot grow the adapter without bound.

import { Transform, type TransformCallback } from 'node:stream';

/** A frame refused for its size; `seq` and `command` when the body's start names a request. */
export interface OversizedFrame {
  length: number;
  seq?: number;
  command?: string;
}

export interface DapFramingOptions {
  /** Largest body accepted, in bytes. */
  maxBody: number;
  /** Called for each frame that is dropped: its size, or a header that is not DAP's. */
  onOversized: (frame: OversizedFrame) => void;
  onBadHeader: (reason: string) => void;
}

/** Header sections longer than this are not DAP's (one or two short lines). */
const MAX_HEADER = 4096;
/** Bytes of a refused body kept to find the request's seq and command in. */
const PEEK = 1024;
const SEPARATOR = Buffer.from('\r\n\r\n');

type State =
  | { kind: 'header'; bytes: Buffer }
  | { kind: 'body'; header: Buffer; remaining: number; chunks: Buffer[] }
  | { kind: 'skip'; length: number; remaining: number; peek: Buffer };

export class DapFraming extends Transform {
  private state: State = { kind: 'header', bytes: Buffer.alloc(0) };

  constructor(private readonly options: DapFramingOptions) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let data = chunk;
    while (data.length > 0) data = this.consume(data);
    callback();
  }

  /** Takes what the current state needs from `data`, returns the rest. */
  private consume(data: Buffer): Buffer {
    const state = this.state;
    if (state.kind === 'header') {
      const bytes = Buffer.concat([state.bytes, data]);
      const end = bytes.indexOf(SEPARATOR);
      if (end < 0) {
        if (bytes.length > MAX_HEADER) {
          this.options.onBadHeader(`a header section longer than ${MAX_HEADER} bytes`);
          // Keep the tail: the separator may straddle this chunk and the next.
          this.state = { kind: 'header', bytes: bytes.subarray(bytes.length - (SEPARATOR.length - 1)) };
        } else {
          this.state = { kind: 'header', bytes };
        }
        return Buffer.alloc(0);
      }
      const header = bytes.subarray(0, end + SEPARATOR.length);
      const rest = bytes.subarray(end + SEPARATOR.length);
      const length = contentLength(header.toString('latin1'));
      if (length === undefined) {
        this.options.onBadHeader('a header without a valid Content-Length');
        this.state = { kind: 'header', bytes: Buffer.alloc(0) };
      } else if (length > this.options.maxBody) {
        this.state = { kind: 'skip', length, remaining: length, peek: Buffer.alloc(0) };
      } else {
        this.state = { kind: 'body', header: Buffer.from(header), remaining: length, chunks: [] };
        if (length === 0) this.finishBody();
      }
      return rest;
    }
    const take = Math.min(state.remaining, data.length);
    const part = data.subarray(0, take);
    state.remaining -= take;
    if (state.kind === 'body') {
      state.chunks.push(Buffer.from(part));
      if (state.remaining === 0) this.finishBody();
    } else {
      if (state.peek.length < PEEK) state.peek = Buffer.concat([state.peek, part.subarray(0, PEEK - state.peek.length)]);
      if (state.remaining === 0) {
        this.options.onOversized({ length: state.length, ...requestOf(state.peek.toString('utf8')) });
        this.state = { kind: 'header', bytes: Buffer.alloc(0) };
      }
    }
    return data.subarray(take);
  }

  private finishBody(): void {
    const state = this.state;
    if (state.kind !== 'body') return;
    this.push(Buffer.concat([state.header, ...state.chunks]));
    this.state = { kind: 'header', bytes: Buffer.alloc(0) };
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
