// Layer: tests of the adapter process's output stage (src/adapter/tickBatch.ts): the messages of
// one turn of the event loop reach the client in one write, in order, and nothing is lost.

import * as assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { TickBatchedWriter } from '../src/adapter/tickBatch';

/** A target that records each write it was given. */
function recorder(): { target: Writable; writes: string[] } {
  const writes: string[] = [];
  const target = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      writes.push(chunk.toString());
      callback();
    },
    writev(chunks, callback) {
      writes.push(Buffer.concat(chunks.map((c) => c.chunk as Buffer)).toString());
      callback();
    },
  });
  return { target, writes };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('TickBatchedWriter (src/adapter/tickBatch.ts)', () => {
  it('writes the messages of one turn in one write, in order', async () => {
    const { target, writes } = recorder();
    const w = new TickBatchedWriter(target);
    w.write('response;', 'utf8');
    w.write('stopped;');
    w.write(Buffer.from('invalidated;'));
    assert.deepEqual(writes, [], 'nothing is written before the turn ends');
    await turn();
    assert.deepEqual(writes, ['response;stopped;invalidated;']);
    w.write('stackTrace;');
    await turn();
    assert.deepEqual(writes, ['response;stopped;invalidated;', 'stackTrace;'], 'the next turn is a write of its own');
  });

  it("writes a response and what the request's promise continuations send after it in one write", async () => {
    const { target, writes } = recorder();
    const w = new TickBatchedWriter(target);
    w.write('response;');
    await Promise.resolve();
    w.write('stopped;');
    process.nextTick(() => w.write('memory;'));
    await turn();
    assert.deepEqual(writes, ['response;stopped;memory;']);
  });

  it('writes what is left when ended, then ends its target', async () => {
    const { target, writes } = recorder();
    const w = new TickBatchedWriter(target);
    const finished = new Promise((r) => target.on('finish', r));
    w.write('terminated;');
    w.end();
    await finished;
    assert.deepEqual(writes, ['terminated;']);
  });

  it("passes on its target's error", async () => {
    const target = new Writable({ write(_c, _e, callback) { callback(new Error('EPIPE')); } });
    target.on('error', () => undefined);
    const w = new TickBatchedWriter(target);
    const failed = new Promise<Error>((r) => w.on('error', r));
    w.write('x');
    assert.equal((await failed).message, 'EPIPE');
  });
});
