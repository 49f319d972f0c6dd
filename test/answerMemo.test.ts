// The debugger's answers kept per epoch (src/hmm/lang/debug/answerMemo.ts): asked twice at one
// stop, the same answer; after anything that may change the machine, a new one equal to what a
// fresh computation gives.

import * as assert from 'node:assert/strict';
import { ScriptController } from '../src/hmm/lang/controller';
import { picture, residency } from '../src/hmm/lang/debug/queries';
import { buildPicture } from '../src/hmm/lang/picture';
import { PAGE_SIZE } from '../src/hmm/constants';

describe('answers kept per epoch', function () {
  it('are kept at a stop and made again after a step, a step back, a memory write and a restart', async function () {
    const ctl = new ScriptController('t.hmm', 'device gpu0\na = mmap 8 pages rw\nwrite a = i\nmigrate a[..4] to gpu0\nmigrate a to system\n', { output: () => undefined });
    const kinds = (): string[] => residency(ctl, {}).mappings[0]!.runs.map((r) => r.kind);
    const check = (what: string, expected: string[]): void => {
      const first = residency(ctl, {});
      assert.equal(residency(ctl, {}), first, `${what}: kept`);
      assert.deepEqual(kinds(), expected, what);
      const p = picture(ctl, {}, undefined);
      assert.equal(picture(ctl, {}, undefined), p, `${what}: the picture kept`);
      assert.deepEqual(p, buildPicture(ctl.sim, ctl.interp.process, { describe: () => '' }), `${what}: the picture is today's`);
    };
    const before = residency(ctl, {});
    assert.equal(residency(ctl, {}), before, 'kept at entry');
    assert.deepEqual(before.mappings, []);
    // The first step stops at line 1 before it runs.
    for (let i = 0; i < 3; i++) await ctl.stepOver();
    check('after mmap', ['empty']);
    await ctl.stepOver();
    check('after write', ['system']);
    await ctl.stepOver();
    check('after migrate', ['device', 'system']);
    await ctl.stepBack();
    check('after a step back', ['system']);
    const addr = ctl.sim.bindings.get('a')!.start * PAGE_SIZE;
    const kept = residency(ctl, {});
    assert.equal(ctl.writeMemory(ctl.interp.process, addr + 7 * PAGE_SIZE, new Uint8Array([1])), 1);
    assert.notEqual(residency(ctl, {}), kept, 'a memory write makes a new answer');
    ctl.reset();
    assert.deepEqual(residency(ctl, {}).mappings, [], 'after a restart');
  });
});
