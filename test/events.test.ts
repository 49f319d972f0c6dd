// The event stream: events over adjacent pages of one statement coalesce into one event whose
// counters add up (the editor decorations and the placement report read them).

import * as assert from 'node:assert/strict';
import { runScriptText } from '../src/hmm/lang/runner';

describe('event coalescing', () => {
  const text = `device gpu0
a = mmap 1024 pages rw
write a = i
migrate a to gpu0
read a[..512]
`;

  it('per-page migrate_to_ram events of one statement become one event per phase with the total', () => {
    const r = runScriptText('c.hmm', text);
    assert.equal(r.error, undefined);
    const line5 = r.events.filter((e) => e.loc?.line === 5);
    const finalize = line5.filter((e) => e.kind === 'migrate' && e.phase === 'finalize');
    assert.equal(finalize.length, 1);
    const f = finalize[0]!;
    assert.ok(f.kind === 'migrate');
    assert.equal(f.migrated, 512, 'pages migrated add up');
    assert.equal(f.count, 512);
    assert.equal(f.end - f.start, 512);
    const faults = line5.filter((e) => e.kind === 'cpuFault');
    assert.equal(faults.reduce((n, e) => n + (e.end - e.start), 0), 512);
  });

  it('notifier callbacks coalesce with their erased entries added and the last sequence kept', () => {
    const r = runScriptText('c.hmm', `${text}gpu0 read a[..512]\nmunmap a[..8]\n`);
    assert.equal(r.error, undefined);
    const clears = r.events.filter((e) => e.kind === 'notifier' && e.loc?.line === 7);
    // Cutting the VMA at a[8] raises CLEAR over its whole 2 MiB block first (vma_adjust_trans_huge,
    // seen in the VM): one event for the 512 per-page erasures (dmirror erases one page past the
    // end: 513), then the UNMAP, with nothing left to erase.
    assert.deepEqual(clears.map((c) => c.kind === 'notifier' && [c.event, c.erased]), [['CLEAR', 513], ['UNMAP', 0]]);
  });
});
