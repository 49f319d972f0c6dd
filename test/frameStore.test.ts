// Layer: tests of the simulator's frame store (src/hmm/frameStore.ts, page.ts) and of page-table
// pages cut from slabs (pgtable.ts). The chunked store (chunks made on first write, given back
// when their frames are all free, shared with checkpoints until written) must behave as the flat
// typed arrays it replaced: fast-check drives both with the same random allocations, frees, field
// writes, checkpoints and restores, across chunk boundaries, and every frame in use must read the
// same in both, and the allocators hand out the same pfns.

import * as assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { HPAGE_PMD_NR } from '../src/hmm/constants';
import { FRAME_CHUNK_SHIFT, FrameStack } from '../src/hmm/frameStore';
import { PageFrames, PG_ANON, PG_HEAD, PG_TAIL, Zone } from '../src/hmm/page';
import { PteTable } from '../src/hmm/pgtable';

const FIELDS = ['zone', 'device', 'flags', 'order', 'refcount', 'mapcount', 'pincount', 'contentId', 'contentPage', 'deviceData', 'indexOffset'] as const;
type Field = (typeof FIELDS)[number];
const BYTE_FIELDS: ReadonlySet<Field> = new Set(['zone', 'device', 'flags', 'order']);
const CHUNK = 1 << FRAME_CHUNK_SHIFT;

/** The store as it was before chunks: one flat array per field, copied whole by a checkpoint. */
class FlatFrames {
  readonly a = new Map<Field, Uint8Array | Int32Array>();
  private nextSystem = 2 * HPAGE_PMD_NR;
  private readonly freeSystem = new FrameStack();
  private readonly freeSystemHuge = new FrameStack();
  constructor(capacity: number) {
    for (const f of FIELDS) this.a.set(f, BYTE_FIELDS.has(f) ? new Uint8Array(capacity) : new Int32Array(capacity));
    this.f('zone')[0] = Zone.ZERO;
    this.f('refcount')[0] = 1;
    for (let p = HPAGE_PMD_NR; p < 2 * HPAGE_PMD_NR; p++) {
      this.f('zone')[p] = Zone.ZERO;
      this.f('refcount')[p] = 1;
      this.f('flags')[p] = p === HPAGE_PMD_NR ? PG_HEAD : PG_TAIL;
    }
    this.f('order')[HPAGE_PMD_NR] = 9;
  }
  f(name: Field): Uint8Array | Int32Array {
    return this.a.get(name)!;
  }
  reserve(count: number, align = 1): number {
    const start = Math.ceil(this.nextSystem / align) * align;
    this.nextSystem = start + count;
    return start;
  }
  allocSystem(order: 0 | 9, flags: number): number {
    let pfn: number | undefined;
    if (order === 0) {
      pfn = this.freeSystem.pop();
      if (pfn === undefined) {
        const huge = this.freeSystemHuge.pop();
        if (huge !== undefined) {
          for (let p = huge + HPAGE_PMD_NR - 1; p > huge; p--) this.freeSystem.push(p);
          pfn = huge;
        } else pfn = this.reserve(1);
      }
    } else {
      pfn = this.freeSystemHuge.pop() ?? this.reserve(HPAGE_PMD_NR, HPAGE_PMD_NR);
    }
    this.initFrame(pfn, order, Zone.SYSTEM, 0, flags);
    return pfn;
  }
  initFrame(pfn: number, order: 0 | 9, zone: Zone, device: number, flags: number): void {
    const n = 1 << order;
    for (let p = pfn; p < pfn + n; p++) {
      for (const f of FIELDS) this.f(f)[p] = 0;
      this.f('zone')[p] = zone;
      this.f('device')[p] = device;
      this.f('flags')[p] = order === 0 ? flags : flags | (p === pfn ? PG_HEAD : PG_TAIL);
      this.f('order')[p] = p === pfn ? order : 0;
      this.f('refcount')[p] = p === pfn ? 1 : 0;
    }
  }
  free(pfn: number, system: boolean): void {
    const order = this.f('order')[pfn]!;
    for (let p = pfn; p < pfn + (1 << order); p++) {
      this.f('zone')[p] = Zone.FREE;
      this.f('refcount')[p] = 0;
      this.f('mapcount')[p] = 0;
    }
    if (!system) return;
    if (order === 0) this.freeSystem.push(pfn);
    else this.freeSystemHuge.push(pfn);
  }
  save(): { arrays: (Uint8Array | Int32Array)[]; next: number; free: Int32Array; huge: Int32Array } {
    return { arrays: FIELDS.map((f) => this.f(f).slice()), next: this.nextSystem, free: this.freeSystem.save(), huge: this.freeSystemHuge.save() };
  }
  load(s: ReturnType<FlatFrames['save']>): void {
    FIELDS.forEach((f, i) => this.f(f).set(s.arrays[i]!));
    this.nextSystem = s.next;
    this.freeSystem.load(s.free);
    this.freeSystemHuge.load(s.huge);
  }
}

type Op =
  | { readonly k: 'alloc'; readonly n: number; readonly huge: boolean }
  | { readonly k: 'device'; readonly n: number }
  | { readonly k: 'free'; readonly every: number; readonly from: number }
  | { readonly k: 'write'; readonly field: Field; readonly at: number; readonly value: number }
  | { readonly k: 'save' }
  | { readonly k: 'load'; readonly which: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('alloc' as const), n: fc.integer({ min: 1, max: 3 * CHUNK }), huge: fc.boolean() }),
  fc.record({ k: fc.constant('device' as const), n: fc.integer({ min: 1, max: 2 * CHUNK }) }),
  fc.record({ k: fc.constant('free' as const), every: fc.integer({ min: 1, max: 3 }), from: fc.nat(4) }),
  fc.record({ k: fc.constant('write' as const), field: fc.constantFrom(...FIELDS.filter((f) => f !== 'zone' && f !== 'order')), at: fc.nat(), value: fc.integer({ min: -1, max: 255 }) }),
  fc.constant({ k: 'save' as const }),
  fc.record({ k: fc.constant('load' as const), which: fc.nat() }),
);

/** Both stores, driven alike; frames in use are tracked to free and write them. */
function run(ops: readonly Op[]): void {
  const store = new PageFrames();
  const flat = new FlatFrames(16 * CHUNK);
  let inUse: { pfn: number; system: boolean }[] = [];
  /** The device's never-used frames, from its last reservation. */
  let dev = { next: 0, end: 0 };
  const saves: { store: ReturnType<PageFrames['save']>; flat: ReturnType<FlatFrames['save']>; inUse: typeof inUse; dev: typeof dev }[] = [];
  for (const o of ops) {
    if (o.k === 'alloc') {
      for (let i = 0; i < o.n && store.frontier < 8 * CHUNK; i += o.huge ? HPAGE_PMD_NR : 1) {
        const ord: 0 | 9 = o.huge ? 9 : 0;
        const p = store.allocSystem(ord, PG_ANON);
        assert.equal(flat.allocSystem(ord, PG_ANON), p, 'the same pfn from both allocators');
        inUse.push({ pfn: p, system: true });
      }
    } else if (o.k === 'device') {
      for (let i = 0; i < o.n && store.frontier < 8 * CHUNK; i++) {
        if (dev.next === dev.end) {
          const start = store.reserve(CHUNK, HPAGE_PMD_NR);
          assert.equal(flat.reserve(CHUNK, HPAGE_PMD_NR), start);
          dev = { next: start, end: start + CHUNK };
        }
        const p = dev.next++;
        store.initFrame(p, 0, Zone.DEVICE_PRIVATE, 1, 0, true);
        flat.initFrame(p, 0, Zone.DEVICE_PRIVATE, 1, 0);
        inUse.push({ pfn: p, system: false });
      }
    } else if (o.k === 'free') {
      const keep: typeof inUse = [];
      inUse.forEach((u, i) => {
        if (i % o.every !== o.from % o.every) return keep.push(u) as unknown as void;
        if (u.system) store.freeSystemFrame(u.pfn);
        else store.freeFrames(u.pfn, 1);
        flat.free(u.pfn, u.system);
      });
      inUse = keep;
    } else if (o.k === 'write') {
      if (inUse.length === 0) continue;
      const { pfn } = inUse[o.at % inUse.length]!;
      const v = BYTE_FIELDS.has(o.field) ? o.value & 0xff : o.value;
      store[o.field].set(pfn, v);
      flat.f(o.field)[pfn] = v;
    } else if (o.k === 'save') {
      saves.push({ store: store.save(), flat: flat.save(), inUse: inUse.slice(), dev: { ...dev } });
    } else {
      if (saves.length === 0) continue;
      const s = saves[o.which % saves.length]!;
      store.load(s.store);
      flat.load(s.flat);
      inUse = s.inUse.slice();
      dev = { ...s.dev };
    }
    // A sample after each operation (every frame would take minutes), every frame at the end.
    compare(store, flat, inUse.filter((_, i) => i % 61 === 0 || i >= inUse.length - 8), o.k);
    for (const f of FIELDS) assert.equal(store[f].get(0), flat.f(f)[0], `the zero page's ${f}`);
  }
  compare(store, flat, inUse, 'the end');
}

function compare(store: PageFrames, flat: FlatFrames, frames: readonly { pfn: number }[], after: string): void {
  for (const f of FIELDS) {
    const a = flat.f(f);
    for (const { pfn } of frames) {
      if (store[f].get(pfn) !== a[pfn]) assert.fail(`${f}[${pfn}] after ${after}: ${store[f].get(pfn)}, flat ${a[pfn]}`);
    }
  }
}

describe('frame store: chunks on first write, given back when free, shared with checkpoints', () => {
  it('reads as the flat arrays it replaced, for every frame in use, under random allocation, frees, writes, saves and restores', function () {
    this.timeout(300_000);
    fc.assert(fc.property(fc.array(op, { minLength: 1, maxLength: 16 }), (ops) => run(ops)), { numRuns: 40 });
  });

  it('gives back the memory of chunks whose frames are all free, and makes it again on the next write', () => {
    const s = new PageFrames();
    const pfns: number[] = [];
    for (let i = 0; i < 4 * CHUNK; i++) pfns.push(s.allocSystem(0, PG_ANON));
    for (const p of pfns) s.contentId.set(p, 7);
    const full = s.bytes;
    for (const p of pfns) s.freeSystemFrame(p);
    // Taking new memory (a device's frames) gives back the emptied chunks first.
    const start = s.reserve(CHUNK, HPAGE_PMD_NR);
    s.initFrame(start, 0, Zone.DEVICE_PRIVATE, 1, 0, true);
    assert.ok(s.bytes < full / 2, `${s.bytes} bytes still held of ${full}`);
    // The freed frames come back from the free list reading as new frames.
    const again = s.allocSystem(0, PG_ANON);
    assert.ok(pfns.includes(again));
    assert.equal(s.contentId.get(again), 0);
    assert.equal(s.zone.get(again), Zone.SYSTEM);
  });

  it('keeps a chunk that emptied and was used again before the memory was needed', () => {
    const s = new PageFrames();
    const pfns: number[] = [];
    for (let i = 0; i < 2 * CHUNK; i++) pfns.push(s.allocSystem(0, PG_ANON));
    for (const p of pfns) s.freeSystemFrame(p);
    const again = s.allocSystem(0, PG_ANON);
    s.contentId.set(again, 9);
    const start = s.reserve(CHUNK, HPAGE_PMD_NR);
    s.initFrame(start, 0, Zone.DEVICE_PRIVATE, 1, 0, true);
    assert.equal(s.contentId.get(again), 9);
    assert.equal(s.zone.get(again), Zone.SYSTEM);
  });

  it('a checkpoint costs the chunks written since the one before, and is not changed by later writes', () => {
    const s = new PageFrames();
    const pfns: number[] = [];
    for (let i = 0; i < 3 * CHUNK; i++) pfns.push(s.allocSystem(0, PG_ANON));
    const first = s.save();
    assert.ok(first.bytes > 0);
    s.contentId.set(pfns[5]!, 42);
    const second = s.save();
    // One chunk of one field was copied and written: the second checkpoint holds just that.
    assert.equal(second.bytes, 4 * CHUNK);
    s.load(first);
    assert.equal(s.contentId.get(pfns[5]!), 0);
    s.load(second);
    assert.equal(s.contentId.get(pfns[5]!), 42);
  });

  it('refuses a write to a frame never handed out', () => {
    const s = new PageFrames();
    assert.throws(() => s.contentId.set(64 * CHUNK, 1), /never handed out/);
  });
});

describe('page-table pages cut from shared slabs', () => {
  it('each page has its own zeroed entries, across slab boundaries, and a clone is a copy', () => {
    const tables = Array.from({ length: 3 * 64 + 5 }, () => new PteTable());
    for (const t of tables) assert.ok(t.pfn.every((x) => x === 0) && t.kind.every((x) => x === 0) && t.expectPage.every((x) => x === 0));
    tables.forEach((t, n) => {
      t.pfn.fill(n);
      t.expectId.fill(-n);
      t.expectPage.fill(n + 1);
      t.kind.fill(n & 0xff);
      t.bits.fill((n + 7) & 0xff);
    });
    tables.forEach((t, n) => {
      assert.ok(t.pfn.every((x) => x === n) && t.expectId.every((x) => x === -n) && t.expectPage.every((x) => x === n + 1), `table ${n}`);
      assert.ok(t.kind.every((x) => x === (n & 0xff)) && t.bits.every((x) => x === ((n + 7) & 0xff)), `table ${n}`);
    });
    const c = tables[70]!.clone();
    c.pfn[0] = 12345;
    assert.equal(tables[70]!.pfn[0], 70);
    assert.equal(c.pfn[1], 70);
  });
});
