// The adapter process's warm-up (src/adapter/warmUp.ts): its throwaway session and controller take
// every step asked for (its script neither ends nor stops on an error), through the same DAP code
// as a user's session, and it leaves the process running.

import * as assert from 'node:assert/strict';
import { HmmDebugSession } from '../src/adapter/session';
import { warmUp, WARM_UP_SCRIPT } from '../src/adapter/warmUp';
import { runScriptText } from '../src/hmm/lang/runner';

describe('adapter warm-up', function () {
  it('takes every step asked for, through DAP and then on a controller alone', async function () {
    this.timeout(60000);
    assert.deepEqual(await warmUp(40, 300), { session: 40, controller: 300 });
  });

  it('its script runs without an error (a few iterations of its loop)', function () {
    const r = runScriptText('warm-up.hmm', WARM_UP_SCRIPT.replace('repeat 100000', 'repeat 3'));
    assert.deepEqual(r.diagnostics, []);
    assert.equal(r.error, undefined);
  });

  it('a session says when it first stops (the process warms up after it)', async function () {
    const session = new HmmDebugSession({ readFile: () => 'a = mmap 1 pages rw\nwrite a = 1\n' });
    const events: string[] = [];
    session.onDidSendMessage((m) => { if ((m as { type: string }).type === 'event') events.push((m as { event: string }).event); });
    let stopped = false;
    void session.firstStop.then(() => { stopped = true; });
    let seq = 1;
    const request = (command: string, args?: object): void => session.handleMessage({ seq: seq++, type: 'request', command, ...(args ? { arguments: args } : {}) } as never);
    request('initialize', { adapterID: 'hmm' });
    request('launch', { program: '/first-stop.hmm', stopOnEntry: true });
    await new Promise((r) => setImmediate(r));
    assert.equal(stopped, false, 'not before configurationDone');
    request('configurationDone');
    const deadline = Date.now() + 10000;
    while (!stopped && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(stopped, true, `firstStop resolved; events: ${events.join(', ')}`);
    assert.ok(events.includes('stopped'));
  });
});
