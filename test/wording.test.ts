// One wording for device faults in every view: the placement report (simulator side) and the
// editor's decorations (src/extension/pages.ts, bundled for webviews, imports nothing) each have
// a copy of the formatter; they must say the same.

import * as assert from 'node:assert/strict';
import { faultsText as viewFaultsText } from '../src/extension/pages';
import { faultsText } from '../src/hmm/placementReport';
import { formatDuration } from '../src/hmm/timing';

describe('wording shared by the report, variables and decorations', () => {
  it('device faults read the same in the report and in the editor', () => {
    for (const [pages, batches] of [[0, 0], [1, 1], [6, 1], [256, 1], [4096, 16]] as const) {
      assert.equal(viewFaultsText(pages, batches), faultsText(pages, batches));
    }
    assert.equal(faultsText(4096, 16), '4096 pages faulted in 16 fault batches');
    assert.equal(faultsText(1, 1), '1 page faulted in 1 fault batch');
    assert.equal(faultsText(0, 0), 'no page faulted');
  });

  it('durations: ns, µs, ms, s with at most three significant digits', () => {
    assert.deepEqual([850, 21_500, 23_000, 706_400, 2_340_000, 12_100_000, 3e9].map(formatDuration),
      ['850 ns', '21.5 µs', '23.0 µs', '706 µs', '2.34 ms', '12.1 ms', '3.00 s']);
  });
});
