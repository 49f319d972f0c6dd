// residencySummary (src/hmm/lang/inspect.ts), a mapping's value in the Variables view: built from
// the cached runs of each page table, it must read as the page-by-page text it replaced.

import * as assert from 'node:assert/strict';
import { residencySummary } from '../src/hmm/lang/inspect';
import { runScriptText } from '../src/hmm/lang/runner';
import { summaryPageByPage } from './reference/residency';


function summaries(text: string): [string, string][] {
  const r = runScriptText('t.hmm', text);
  assert.equal(r.error, undefined, r.error);
  const sim = r.sim!;
  const out: [string, string][] = [];
  for (const mm of sim.mms.filter((m) => m.alive)) {
    for (const b of sim.bindings.values()) {
      // One page either side: unmapped neighbours are part of what the summary can see.
      out.push([residencySummary(sim, mm, b.start - 1, b.start + b.pages + 1), summaryPageByPage(sim, mm, b.start - 1, b.start + b.pages + 1)]);
    }
  }
  return out;
}

describe('residencySummary', function () {
  it('reads as the page-by-page summary: device, system rw and ro, zero, exclusive, pinned, unmapped, COW after fork', function () {
    const all = summaries([
      'device gpu0', 'device gpu1',
      'a = mmap 16 pages rw', 'write a[..12] = i', 'read a[12..]', 'migrate a[..4] to gpu0', 'migrate a[4..6] to gpu1',
      'gpu0 exclusive a[8..10]', 'pin a[10]', 'mprotect a[6..8] r',
    ].join('\n') + '\n');
    for (const [ours, reference] of all) assert.equal(ours, reference);
    assert.equal(all[0]![0], '2 unmapped, 4 device gpu0 rw, 2 device gpu1 rw, 2 system ro, 2 exclusive gpu0, 2 system rw, 4 zero');
    const forked = summaries('device gpu0\nb = mmap 8 pages rw\nwrite b = i\nmigrate b[..3] to gpu0\nfork child\nwrite b[..2] = 7\n');
    for (const [ours, reference] of forked) assert.equal(ours, reference);
    assert.equal(forked.length, 2, 'parent and child');
  });

  it('counts every page of a large mapping exactly', function () {
    const [[ours, reference]] = summaries('device gpu0 memory 1 GiB\na = mmap 200000 pages rw\nwrite a[..150000] = i\nmigrate a[..70001] to gpu0\n');
    assert.equal(ours, reference);
    assert.equal(ours, '2 unmapped, 70001 device gpu0 rw, 79999 system rw, 50000 empty');
  });
});
