// The adapter process warms its step path up on a throwaway session once the user's session has
// stopped for the first time. A fresh process runs a step's code (DAP framing and JSON, the
// session, the controller, the simulator's fault and migration paths) in V8's lower tiers, and
// each function reaches the optimizer somewhere in the user's first hundreds of steps: on a
// 2-core machine each of those compilations shows as a slow step. Here a session of its own,
// on a built-in script, answers what VS Code asks at every stop (a step, threads, the stack,
// scopes, variables) through the same code: framed bytes in, framed bytes out; then a controller
// alone steps on (the simulator's paths need more runs than the DAP plumbing). One round trip or
// step per turn of the event loop, so the user's requests are answered in between; it ends by
// itself (0.2-0.5 s of CPU with the compiler's threads) and leaves nothing behind.

import type { DebugProtocol } from '@vscode/debugprotocol';
import { Readable, Writable } from 'node:stream';
import { ScriptController } from '../hmm/lang/controller';
import { DapFraming } from './dapFraming';
import { HmmDebugSession } from './session';
import { TickBatchedWriter } from './tickBatch';

/** What the throwaway session runs: the usual cycle (write, migrate there, CPU faults back, a device fault, migrate back). */
export const WARM_UP_SCRIPT = [
  'device gpu0',
  'a = mmap 64 pages rw',
  'repeat 100000 {',
  '  write a = i',
  '  migrate a to gpu0',
  '  read a[..8]',
  '  gpu0 read a[..8]',
  '  migrate a to system',
  '}',
  '',
].join('\n');

/** The line of WARM_UP_SCRIPT's `repeat`. */
const LOOP_LINE = 3;

/**
 * Steps the throwaway session takes through DAP (into kernel frames, and every fourth over a
 * statement of the loop's body: over the loop itself would run it all), answering VS Code's
 * requests at each stop.
 */
export const WARM_UP_STEPS = 150;
/** Then steps of a controller alone (the simulator's paths, which need more runs to be optimized than the DAP plumbing). */
export const WARM_UP_CONTROLLER_STEPS = 1500;

/** Bodies the warm-up's client reads are small; anything larger is a fault of the warm-up itself. */
const MAX_BODY = 1 << 20;

type Message = DebugProtocol.Response | DebugProtocol.Event;

/** A DAP client inside the process, speaking to `session` through framed bytes both ways. */
class LocalClient {
  private seq = 1;
  private readonly pending = new Map<number, (r: DebugProtocol.Response) => void>();
  private readonly waiting = new Map<string, (e: DebugProtocol.Event) => void>();
  /** The session's input, as main.ts feeds the real one: frames through DapFraming, then JSON. */
  private readonly input: DapFraming;

  constructor(session: HmmDebugSession) {
    const problem = (what: string) => (): void => { throw new Error(`warm-up: ${what}`); };
    this.input = new DapFraming({
      maxBody: MAX_BODY,
      onMessage: (body) => session.handleMessage(JSON.parse(body) as DebugProtocol.ProtocolMessage),
      onOversized: problem('a request over the limit'),
      onBadHeader: problem('a bad header'),
    });
    const output = new DapFraming({
      maxBody: MAX_BODY,
      onMessage: (body) => this.received(JSON.parse(body) as Message),
      onOversized: problem('an answer over the limit'),
      onBadHeader: problem('a bad header in an answer'),
    });
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done): void {
        output.push(chunk);
        done();
      },
    });
    // Never ends (its end would end the session, and the library would exit the process).
    session.start(new Readable({ read: () => undefined }), new TickBatchedWriter(sink));
  }

  request(command: string, args?: object): Promise<DebugProtocol.Response> {
    const seq = this.seq++;
    const json = JSON.stringify({ seq, type: 'request', command, ...(args !== undefined ? { arguments: args } : {}) });
    return new Promise((resolve) => {
      this.pending.set(seq, resolve);
      this.input.push(Buffer.from(`Content-Length: ${Buffer.byteLength(json, 'utf8')}\r\n\r\n${json}`, 'utf8'));
    });
  }

  /** The next `stopped` (its reason) or `terminated` event. */
  nextStop(): Promise<string> {
    return new Promise((resolve) => {
      const done = (e: DebugProtocol.Event): void => {
        this.waiting.clear();
        resolve(e.event === 'stopped' ? String((e as DebugProtocol.StoppedEvent).body.reason) : e.event);
      };
      this.waiting.set('stopped', done);
      this.waiting.set('terminated', done);
    });
  }

  private received(m: Message): void {
    if (m.type === 'response') {
      const r = m as DebugProtocol.Response;
      const resolve = this.pending.get(r.request_seq);
      this.pending.delete(r.request_seq);
      resolve?.(r);
    } else {
      const e = m as DebugProtocol.Event;
      this.waiting.get(e.event)?.(e);
    }
  }
}

async function ok(r: Promise<DebugProtocol.Response>): Promise<DebugProtocol.Response> {
  const response = await r;
  if (!response.success) throw new Error(`warm-up: ${response.command} failed: ${response.message ?? ''}`);
  return response;
}

/**
 * Runs the throwaway session for `steps` steps, then a controller alone for `controllerSteps`;
 * the steps each took (fewer only if the script stopped on an error and ended, a fault of the
 * warm-up: test/warmUp.test.ts).
 */
export async function warmUp(steps = WARM_UP_STEPS, controllerSteps = WARM_UP_CONTROLLER_STEPS): Promise<{ session: number; controller: number }> {
  const session = await warmUpSession(steps);
  const ctl = new ScriptController('/hmm-debug-warm-up.hmm', WARM_UP_SCRIPT, { output: () => undefined });
  ctl.reset();
  let controller = 0;
  for (; controller < controllerSteps; controller++) {
    const r = await ctl.stepIn();
    if (r.kind !== 'stopped' || r.stop.reason === 'exception') break;
    // A turn of the event loop between steps: the user's requests come first.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { session, controller };
}

/** Runs the throwaway session for `steps` steps; how many it took (fewer if its script ended). */
async function warmUpSession(steps: number): Promise<number> {
  const session = new HmmDebugSession({ readFile: () => WARM_UP_SCRIPT });
  // A server-mode session never exits the process (the library's shutdown() would otherwise).
  session.setRunAsServer(true);
  const client = new LocalClient(session);
  await ok(client.request('initialize', { adapterID: 'hmm', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' }));
  const first = client.nextStop();
  await ok(client.request('launch', { program: '/hmm-debug-warm-up.hmm', stopOnEntry: true }));
  await ok(client.request('configurationDone'));
  if (await first !== 'entry') return 0;
  let taken = 0;
  let line = 0;
  for (; taken < steps; taken++) {
    const stop = client.nextStop();
    await ok(client.request(taken % 4 === 3 && line > LOOP_LINE ? 'next' : 'stepIn', { threadId: 1 }));
    if (await stop !== 'step') break;
    await ok(client.request('threads'));
    const st = await ok(client.request('stackTrace', { threadId: 1, startFrame: 0, levels: 20 })) as DebugProtocol.StackTraceResponse;
    const frame = st.body.stackFrames[0];
    if (frame === undefined) continue;
    line = frame.line;
    const scopes = await ok(client.request('scopes', { frameId: frame.id })) as DebugProtocol.ScopesResponse;
    const scope = scopes.body.scopes[0];
    if (scope !== undefined) await ok(client.request('variables', { variablesReference: scope.variablesReference }));
  }
  return taken;
}
