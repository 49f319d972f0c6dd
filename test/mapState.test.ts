// The map's history of stops (src/extension/mapState.ts): what the timeline scrubs through.

import * as assert from 'node:assert/strict';
import type { Picture } from '../src/hmm/lang/picture';
import { type MapPicture, PictureHistory } from '../src/extension/mapState';

function picture(step: number, runs = 1): MapPicture {
  const lane = { granularity: 1, runs: Array.from({ length: runs }, (_, i) => ({ start: i, end: i + 1, access: 'write' as const, local: true, memory: 'gpu0', lo: i, hi: i + 1, order: 1 as const })) };
  const p: Picture = {
    step, time: step * 10, process: 'main', processes: ['main'], space: { start: 0, end: 1 }, vmas: [], mappings: [],
    cpu: { granularity: 1, runs: [] }, devices: [{ name: 'gpu0', lane }], memories: [],
    now: { kernel: [], migrations: [], callbacks: [], faulting: [], jobs: [], copies: [] },
  };
  return { ...p, others: [] };
}

const stop = (step: number, line = step) => ({ step, line, reason: 'step', time: step * 10, process: 'main' });

describe('map history (timeline)', function () {
  it('keeps stops in the order visited, a step back included, and gives each its previous stop', function () {
    const h = new PictureHistory();
    const a = h.push('s1', stop(1), picture(1));
    const b = h.push('s1', stop(2), picture(2));
    const back = h.push('s1', stop(1), picture(1));
    assert.deepEqual(h.list().map((s) => s.step), [1, 2, 1]);
    assert.notEqual(back.id, a.id, 'a revisited step is a stop of its own');
    assert.equal(h.get(b.id)?.previous?.step, 1);
    assert.equal(h.get(a.id)?.previous, undefined);
    assert.equal(h.get(999), undefined);
  });

  it('the same stop fetched again replaces its picture; stops alike in step, line and time stay apart; a new session starts over', function () {
    const h = new PictureHistory();
    const a = h.push('s1', stop(3), picture(3, 1));
    const again = h.push('s1', stop(3), picture(3, 2), true);
    assert.equal(again.id, a.id);
    assert.equal(h.list().length, 1);
    // two kernel phases of one statement: same step, line and simulated time, two stops
    h.push('s1', stop(4), picture(4));
    h.push('s1', stop(4), picture(4));
    assert.deepEqual(h.list().map((s) => s.step), [3, 4, 4]);
    assert.equal(h.get(a.id)?.picture.devices[0]!.lane.runs.length, 2);
    h.push('s2', stop(1), picture(1));
    assert.deepEqual(h.list().map((s) => s.step), [1]);
  });

  it('is bounded in stops and in runs, dropping the oldest', function () {
    const byCount = new PictureHistory(3, 1_000_000);
    for (let i = 1; i <= 10; i++) byCount.push('s', stop(i), picture(i));
    assert.deepEqual(byCount.list().map((s) => s.step), [8, 9, 10]);
    const byRuns = new PictureHistory(100, 250);
    for (let i = 1; i <= 10; i++) byRuns.push('s', stop(i), picture(i, 100));
    assert.deepEqual(byRuns.list().map((s) => s.step), [9, 10]);
  });
});
