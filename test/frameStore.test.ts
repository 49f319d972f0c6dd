// Layer: tests of the simulator's frame store (src/hmm/frameStore.ts, page.ts) and of page-table
// pages cut from slabs (pgtable.ts). The chunked store (chunks made on first write, given back
// when their frames are all free, shared with checkpoints until written) must behave as the flat
// typed arrays it replaced: fast-check drives both with the same random allocations, frees, field
// writes, checkpoints and restores, across chunk boundaries, and every frame in use must read the
// same in both, and the allocators hand out the same pfns.

import * as assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { HPAGE_PMD_NR } from '../src/hmm/constants';
import { type FieldState, FRAME_CHUNK_SHIFT, FrameStack, LevelField } from '../src/hmm/frameStore';
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
    // Not one line: each chunk is made.
    for (const p of pfns) s.contentId.set(p, p % 3);
    const full = s.bytes;
    for (const p of pfns) s.freeSystemFrame(p);
    // Taking new memory (a device's frames written off one line) gives back the emptied chunks first.
    const start = s.reserve(CHUNK, HPAGE_PMD_NR);
    s.initFrame(start, 0, Zone.DEVICE_PRIVATE, 1, 0, true);
    s.initFrame(start + 2, 0, Zone.DEVICE_PRIVATE, 1, 0, true);
    s.contentId.set(start, 5);
    s.contentId.set(start + 2, 6);
    // Four chunks of contentId (the frames of the first) were given back, the device took one and three small ones.
    assert.ok(full - s.bytes >= 2 * 4 * CHUNK, `${s.bytes} bytes still held of ${full}`);
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
    // Not on the line the first write began: the chunk is made.
    s.contentId.set(pfns[9]!, 43);
    const second = s.save();
    const forms = s.save().bytes;
    // One chunk of one field was made and written: the second checkpoint holds just that (and
    // the forms, a few numbers per chunk, that any checkpoint copies).
    assert.equal(second.bytes, 4 * CHUNK + forms);
    s.load(first);
    assert.equal(s.contentId.get(pfns[5]!), 0);
    s.load(second);
    assert.equal(s.contentId.get(pfns[5]!), 42);
    assert.equal(s.contentId.get(pfns[9]!), 43);
  });

  it('refuses a write to a frame never handed out', () => {
    const s = new PageFrames();
    assert.throws(() => s.contentId.set(64 * CHUNK, 1), /never handed out/);
  });
});

/** A field's operations, on frames of chunks 0..3, mostly runs in address order (what forms take). */
type FieldOp =
  | { readonly k: 'set'; readonly at: number; readonly value: number }
  | { readonly k: 'fill'; readonly at: number; readonly n: number; readonly value: number }
  | { readonly k: 'seq'; readonly at: number; readonly n: number; readonly down: boolean; readonly value: number }
  | { readonly k: 'copy'; readonly src: number; readonly dst: number; readonly n: number; readonly srcDown: boolean; readonly dstDown: boolean }
  | { readonly k: 'next'; readonly value: number; readonly step: number }
  | { readonly k: 'punch'; readonly at: number; readonly n: number }
  | { readonly k: 'refill'; readonly at: number; readonly n: number; readonly down: boolean; readonly run: boolean }
  | { readonly k: 'save' }
  | { readonly k: 'load'; readonly which: number }
  | { readonly k: 'release'; readonly chunk: number };

const FIELD_FRAMES = 4 * CHUNK;
/** Slots near chunk edges and near each other, so that runs meet, overlap and cross chunks. */
const at = fc.oneof(fc.integer({ min: 0, max: FIELD_FRAMES - 1 }), fc.integer({ min: CHUNK - 40, max: CHUNK + 40 }), fc.integer({ min: 2 * CHUNK - 8, max: 2 * CHUNK + 8 }));
const small = fc.integer({ min: 1, max: 600 });
const fieldOp: fc.Arbitrary<FieldOp> = fc.oneof(
  fc.record({ k: fc.constant('set' as const), at, value: fc.integer({ min: -2, max: 300 }) }),
  fc.record({ k: fc.constant('fill' as const), at, n: small, value: fc.constantFrom(0, 1, 2, 255) }),
  fc.record({ k: fc.constant('seq' as const), at, n: small, down: fc.boolean(), value: fc.integer({ min: -5, max: 5 }) }),
  fc.record({ k: fc.constant('copy' as const), src: at, dst: at, n: small, srcDown: fc.boolean(), dstDown: fc.boolean() }),
  fc.record({ k: fc.constant('next' as const), value: fc.integer({ min: 0, max: 3 }), step: fc.constantFrom(-1, 0, 1) }),
  // Frames freed in the middle of what was written, then written again with what they held (eviction's hole, opened and closed).
  fc.record({ k: fc.constant('punch' as const), at, n: small }),
  fc.record({ k: fc.constant('refill' as const), at, n: small, down: fc.boolean(), run: fc.boolean() }),
  fc.constant({ k: 'save' as const }),
  fc.record({ k: fc.constant('load' as const), which: fc.nat() }),
  fc.record({ k: fc.constant('release' as const), chunk: fc.nat(3) }),
);

/** Drive one field of a store and a flat array alike; every slot must read the same after each step. */
function runField(name: 'contentPage' | 'mapcount' | 'flags', ops: readonly FieldOp[]): void {
  const frames = new PageFrames();
  frames.reserve(FIELD_FRAMES);
  const field = frames[name];
  const flat = name === 'contentPage' ? new Int32Array(FIELD_FRAMES) : new Uint8Array(FIELD_FRAMES);
  // The store's own writes to the zero pages (frames 0 and 512..1023), in the flat copy too.
  for (let p = 0; p < 2 * HPAGE_PMD_NR; p++) flat[p] = field.get(p);
  // The field's own checkpoints: the store's would give back chunks with no frame in use (all here).
  const saves: { state: FieldState; flat: Int32Array | Uint8Array }[] = [];
  /** Where `next` writes: one slot after the last one it wrote, as a per-page loop does. */
  let cursor = 3 * HPAGE_PMD_NR;
  /** The values before the last punch (refill writes them back). */
  let punched = flat.slice();
  const put = (p: number, v: number): void => {
    field.set(p, v);
    flat[p] = v;
  };
  for (const o of ops) {
    if (o.k === 'set') {
      if (name === 'contentPage' || (o.value >= 0 && o.value < 255)) put(o.at, o.value);
    } else if (o.k === 'fill') {
      const end = Math.min(FIELD_FRAMES, o.at + o.n);
      field.fill(o.at, end, o.value);
      flat.fill(o.value, o.at, end);
    } else if (o.k === 'seq') {
      // setSequence stays in one chunk, climbing or falling.
      if (name !== 'contentPage') continue;
      const step = o.down ? -1 : 1;
      const first = o.at;
      const n = Math.min(o.n, o.down ? (first & (CHUNK - 1)) + 1 : CHUNK - (first & (CHUNK - 1)));
      field.setSequence(first, n, step, o.value);
      for (let k = 0; k < n; k++) flat[first + k * step] = o.value + k;
    } else if (o.k === 'copy') {
      const room = (p: number, down: boolean): number => (down ? (p & (CHUNK - 1)) + 1 : CHUNK - (p & (CHUNK - 1)));
      const n = Math.min(o.n, room(o.src, o.srcDown), room(o.dst, o.dstDown));
      const ss = o.srcDown ? -1 : 1;
      const ds = o.dstDown ? -1 : 1;
      // copyRun's contract: the two runs do not overlap.
      const sLo = o.srcDown ? o.src - n + 1 : o.src;
      const dLo = o.dstDown ? o.dst - n + 1 : o.dst;
      if (sLo < dLo + n && dLo < sLo + n) continue;
      field.copyRun(o.src, ss, o.dst, ds, n);
      const vals = Array.from({ length: n }, (_, k) => flat[o.src + k * ss]!);
      for (let k = 0; k < n; k++) flat[o.dst + k * ds] = vals[k]!;
    } else if (o.k === 'next') {
      for (let k = 0; k < 40 && cursor < FIELD_FRAMES; k++, cursor++) {
        const v = name === 'contentPage' ? o.value + k * o.step : o.value;
        put(cursor, v);
      }
    } else if (o.k === 'punch') {
      const end = Math.min(FIELD_FRAMES, o.at + o.n);
      punched = flat.slice();
      field.fill(o.at, end, 0);
      flat.fill(0, o.at, end);
    } else if (o.k === 'refill') {
      // What the frames held before the last punch, a frame at a time from either end, or a run a chunk at a time.
      const end = Math.min(FIELD_FRAMES, o.at + o.n);
      if (o.run) {
        for (let p = o.at; p < end;) {
          const stop = Math.min(end, (Math.floor(p / CHUNK) + 1) * CHUNK);
          const d = stop - p > 1 ? punched[p + 1]! - punched[p]! : 0;
          let line = true;
          for (let q = p + 1; q < stop; q++) if (punched[q]! - punched[q - 1]! !== d) line = false;
          if (line && d === 0) field.fill(p, stop, punched[p]!);
          else if (line && d === 1 && name === 'contentPage') field.setSequence(p, stop - p, 1, punched[p]!);
          else for (let q = p; q < stop; q++) field.set(q, punched[q]!);
          for (let q = p; q < stop; q++) flat[q] = punched[q]!;
          p = stop;
        }
      } else {
        for (let k = 0; k < end - o.at; k++) put(o.down ? end - 1 - k : o.at + k, punched[o.down ? end - 1 - k : o.at + k]!);
      }
    } else if (o.k === 'save') {
      saves.push({ state: field.share().state, flat: flat.slice() });
    } else if (o.k === 'load') {
      if (saves.length === 0) continue;
      const s = saves[o.which % saves.length]!;
      field.adopt(s.state);
      flat.set(s.flat);
    } else {
      // A chunk given back reads zeros (the store does it only when its frames are all free).
      if (o.chunk === 0) continue;
      field.release(o.chunk);
      flat.fill(0, o.chunk * CHUNK, (o.chunk + 1) * CHUNK);
    }
    for (let p = 0; p < FIELD_FRAMES; p++) {
      if (field.get(p) !== flat[p]) assert.fail(`${name}[${p}] after ${JSON.stringify(o)}: ${field.get(p)}, flat ${flat[p]}`);
    }
    // `written` may stay false only while every frame reads 0.
    if (!field.written) for (let p = 2 * HPAGE_PMD_NR; p < FIELD_FRAMES; p++) if (flat[p] !== 0) assert.fail(`${name}.written false with [${p}] = ${flat[p]}`);
    // levelOf (run-wise paths' check) names a value only when every frame of the range reads
    // it, and always does so for a chunk in memory whose frames read one value.
    const windows: [number, number][] = [[CHUNK - 40, CHUNK], [2 * CHUNK + 3, 2 * CHUNK + 600], [3 * CHUNK, 3 * CHUNK + 1], [3 * HPAGE_PMD_NR, cursor]];
    if (o.k === 'fill' || o.k === 'seq') windows.push([o.at, o.at + o.n]);
    if (o.k === 'punch' || o.k === 'refill') windows.push([o.at, o.at + o.n], [Math.max(0, o.at - 3), o.at + 2], [o.at + o.n - 2, o.at + o.n + 3]);
    for (const [a, b] of windows) {
      const lo = Math.min(a, FIELD_FRAMES - 1);
      const hi = Math.min(b, (lo >>> FRAME_CHUNK_SHIFT) * CHUNK + CHUNK);
      if (hi <= lo) continue;
      const level = field.levelOf(lo, hi);
      const one = flat.subarray(lo, hi).every((v) => v === flat[lo]);
      if (level !== undefined && (!one || level !== flat[lo])) assert.fail(`${name}.levelOf(${lo}, ${hi}) = ${level} after ${JSON.stringify(o)}`);
      // (A count's 255 and above are kept beside the chunk: levelOf leaves them to get().)
      const exact = name !== 'mapcount' || flat[lo]! < 255;
      if (level === undefined && one && exact && field.peek(lo) !== undefined) assert.fail(`${name}.levelOf(${lo}, ${hi}) missed ${flat[lo]} after ${JSON.stringify(o)}`);
      // isLine (the invariant checker's) only for frames that read as one line, climbing, falling or level.
      if (field.isLine(lo, hi)) {
        const d = hi - lo > 1 ? flat[lo + 1]! - flat[lo]! : 0;
        for (let p = lo + 1; p < hi; p++) if (flat[p]! - flat[p - 1]! !== d || (d !== 0 && d !== 1 && d !== -1)) assert.fail(`${name}.isLine(${lo}, ${hi}) after ${JSON.stringify(o)}`);
      }
    }
    // What chunkAt spells out for readers going chunk by chunk reads the same.
    for (let ci = 0; ci < 4; ci++) {
      const c = field.chunkAt(ci);
      for (let i = 0; i < CHUNK; i += 97) {
        if ((c === undefined ? 0 : c[i]) !== flat[ci * CHUNK + i]) assert.fail(`${name} chunkAt(${ci})[${i}] after ${JSON.stringify(o)}`);
      }
    }
  }
}

describe('frame store: a chunk written as one line is kept as its form', () => {
  for (const name of ['contentPage', 'mapcount', 'flags'] as const) {
    it(`${name}: reads as a flat array under runs, fills, sequences, copies, saves, restores and chunks given back`, function () {
      this.timeout(300_000);
      fc.assert(fc.property(fc.array(fieldOp, { minLength: 1, maxLength: 24 }), (ops) => runField(name, ops)), { numRuns: 60 });
    });
  }

  it('holes: frames freed in the middle of a chunk written as one line, and written again, read as a flat array', function () {
    this.timeout(300_000);
    // Near either end of chunk 1, so that holes meet, join, and reach the form's ends.
    const near = fc.oneof(fc.integer({ min: CHUNK - 4, max: CHUNK + 1500 }), fc.integer({ min: 2 * CHUNK - 1500, max: 2 * CHUNK + 4 }));
    const holeOp: fc.Arbitrary<FieldOp> = fc.oneof(
      fc.record({ k: fc.constant('punch' as const), at: near, n: small }),
      fc.record({ k: fc.constant('punch' as const), at: near, n: fc.constant(1) }),
      fc.record({ k: fc.constant('refill' as const), at: near, n: small, down: fc.boolean(), run: fc.boolean() }),
      fc.record({ k: fc.constant('refill' as const), at: near, n: fc.integer({ min: 1, max: 4 }), down: fc.boolean(), run: fc.boolean() }),
      fc.record({ k: fc.constant('copy' as const), src: near, dst: at, n: small, srcDown: fc.boolean(), dstDown: fc.boolean() }),
      fc.constant({ k: 'save' as const }),
      fc.record({ k: fc.constant('load' as const), which: fc.nat() }),
    );
    for (const name of ['contentPage', 'mapcount', 'flags'] as const) {
      const line: FieldOp = name === 'contentPage' ? { k: 'seq', at: CHUNK, n: CHUNK, down: false, value: 9 } : { k: 'fill', at: CHUNK, n: CHUNK, value: 2 };
      fc.assert(fc.property(fc.array(holeOp, { minLength: 1, maxLength: 30 }), (ops) => runField(name, [line, ...ops])), { numRuns: 60 });
    }
  });

  it('a range written in address order, climbing or falling, takes no chunk memory', () => {
    const s = new PageFrames();
    const start = s.reserve(3 * CHUNK);
    for (let p = start; p < start + 3 * CHUNK; p++) {
      s.contentPage.set(p, 7 + (p - start));
      s.mapcount.add(p, 1);
    }
    s.indexOffset.setSequence(start + CHUNK + 99, 100, -1, 5);
    s.indexOffset.setSequence(start + CHUNK + 100, 200, 1, 4);
    for (let p = start; p < start + CHUNK; p++) s.mapcount.add(p, -1);
    const before = s.bytes;
    assert.equal(s.contentPage.get(start + 2 * CHUNK), 7 + 2 * CHUNK);
    assert.equal(s.indexOffset.get(start + CHUNK + 150), 54);
    assert.equal(s.mapcount.get(start + CHUNK - 1), 0);
    assert.equal(s.mapcount.get(start + CHUNK), 1);
    // A page freed in the middle is the form's hole; a write off the line makes the chunk.
    s.contentPage.set(start + 5, 0);
    assert.equal(s.bytes, before);
    assert.equal(s.contentPage.get(start + 5), 0);
    assert.equal(s.contentPage.get(start + 6), 13);
    s.contentPage.set(start + 7, 99);
    assert.equal(s.bytes, before + 4 * CHUNK);
    assert.equal(s.contentPage.get(start + 5), 0);
    assert.equal(s.contentPage.get(start + 6), 13);
    assert.equal(s.contentPage.get(start + 7), 99);
  });

  it('frames freed in the middle of a chunk of one value and handed out again (eviction) take no chunk memory', () => {
    const s = new PageFrames();
    // A whole chunk of frames (chunk 1: the store hands out frames from the zero pages' end).
    const start = CHUNK;
    assert.ok(s.reserve(2 * CHUNK) <= start);
    s.mapcount.fill(start, start + CHUNK, 1);
    s.contentPage.setSequence(start, CHUNK, 1, 3);
    const before = s.bytes;
    // A block freed a page, then the rest of it, as eviction does; then handed out again downwards, in two runs.
    const b = start + 1024;
    s.mapcount.set(b, 0);
    s.mapcount.fill(b + 1, b + 512, 0);
    s.contentPage.fill(b, b + 512, 0);
    assert.equal(s.mapcount.get(b + 300), 0);
    assert.equal(s.mapcount.levelOf(b, b + 512), 0);
    assert.equal(s.mapcount.levelOf(b - 1, b + 1), undefined);
    assert.ok(s.contentPage.isLine(b, b + 512) && s.contentPage.isLine(b - 10, b) && !s.contentPage.isLine(b - 1, b + 1));
    for (let p = b + 511; p >= b + 256; p--) s.mapcount.set(p, 1);
    s.mapcount.fill(b, b + 256, 1);
    s.contentPage.setSequence(b + 256, 256, 1, 3 + 1024 + 256);
    s.contentPage.setSequence(b, 256, 1, 3 + 1024);
    assert.equal(s.bytes, before);
    assert.equal(s.mapcount.levelOf(start, start + CHUNK), 1);
    assert.equal(s.contentPage.get(b + 300), 3 + 1024 + 300);
    assert.ok(s.contentPage.isLine(start, start + CHUNK));
    // Frames handed out again off the line make the chunk, with what the hole held.
    s.contentPage.fill(b, b + 4, 0);
    s.contentPage.set(b + 1, 7);
    assert.equal(s.bytes, before + 4 * CHUNK);
    assert.deepEqual([0, 1, 2, 3, 4].map((k) => s.contentPage.get(b + k)), [0, 7, 0, 0, 3 + 1024 + 4]);
  });
});

/** A LevelField's operations: a few values (0: the frame set up again), in any order. */
type LevelOp =
  | { readonly k: 'set'; readonly at: number; readonly value: number }
  | { readonly k: 'fill'; readonly at: number; readonly n: number; readonly value: number }
  | { readonly k: 'copy'; readonly src: number; readonly dst: number; readonly n: number }
  | { readonly k: 'save' }
  | { readonly k: 'load'; readonly which: number }
  | { readonly k: 'release'; readonly chunk: number };
const levelValue = fc.constantFrom(0, -3, -2, 5);
const levelOp: fc.Arbitrary<LevelOp> = fc.oneof(
  fc.record({ k: fc.constant('set' as const), at, value: levelValue }),
  fc.record({ k: fc.constant('fill' as const), at, n: small, value: levelValue }),
  fc.record({ k: fc.constant('copy' as const), src: at, dst: at, n: small }),
  fc.constant({ k: 'save' as const }),
  fc.record({ k: fc.constant('load' as const), which: fc.nat() }),
  fc.record({ k: fc.constant('release' as const), chunk: fc.nat(3) }),
);

describe('frame store: a field read only where it was written (LevelField, a page\'s anon_vma)', () => {
  it('reads at each frame the last value other than 0 written there, under sets, fills, copies, saves, restores and chunks given back', function () {
    this.timeout(300_000);
    fc.assert(fc.property(fc.array(levelOp, { minLength: 1, maxLength: 24 }), (ops) => {
      const frames = new PageFrames();
      frames.reserve(FIELD_FRAMES);
      const field = frames.anonVma;
      // What each frame must read; 0: anything (never written, or last written 0).
      const want = new Int32Array(FIELD_FRAMES);
      const saves: { state: FieldState; want: Int32Array }[] = [];
      for (const o of ops) {
        if (o.k === 'set') {
          field.set(o.at, o.value);
          want[o.at] = o.value === 0 ? 0 : o.value;
        } else if (o.k === 'fill') {
          const end = Math.min(FIELD_FRAMES, o.at + o.n);
          field.fill(o.at, end, o.value);
          want.fill(o.value, o.at, end);
        } else if (o.k === 'copy') {
          // copyRun's contract: within one chunk each, not overlapping.
          const n = Math.min(o.n, CHUNK - (o.src & (CHUNK - 1)), CHUNK - (o.dst & (CHUNK - 1)));
          if (o.src < o.dst + n && o.dst < o.src + n) continue;
          // What a copy of a frame whose value does not matter writes does not matter either.
          const vals = Array.from({ length: n }, (_, k) => (want[o.src + k] === 0 ? 0 : field.get(o.src + k)));
          field.copyRun(o.src, 1, o.dst, 1, n);
          for (let k = 0; k < n; k++) want[o.dst + k] = vals[k]!;
        } else if (o.k === 'save') {
          saves.push({ state: field.share().state, want: want.slice() });
        } else if (o.k === 'load') {
          if (saves.length === 0) continue;
          const sv = saves[o.which % saves.length]!;
          field.adopt(sv.state);
          want.set(sv.want);
        } else {
          if (o.chunk === 0) continue;
          field.release(o.chunk);
          want.fill(0, o.chunk * CHUNK, (o.chunk + 1) * CHUNK);
        }
        for (let p = 0; p < FIELD_FRAMES; p++) {
          if (want[p] !== 0 && field.get(p) !== want[p]) assert.fail(`anonVma[${p}] after ${JSON.stringify(o)}: ${field.get(p)}, want ${want[p]}`);
        }
      }
    }), { numRuns: 60 });
  });

  it('one value written in any order takes no chunk memory; a second value in a chunk makes it', () => {
    const s = new PageFrames();
    const start = s.reserve(2 * CHUNK);
    // The zero pages' chunk of the other fields.
    const base = s.bytes;
    // Frames as a shuffled free list hands them out: every third one, then the rest downwards.
    for (let p = start; p < start + 2 * CHUNK; p += 3) s.anonVma.set(p, -7);
    for (let p = start + 2 * CHUNK - 1; p >= start; p--) if ((p - start) % 3 !== 0) s.anonVma.set(p, -7);
    s.anonVma.set(start + 11, 0);
    assert.equal(s.bytes, base);
    assert.equal(s.anonVma.get(start + CHUNK + 5), -7);
    s.anonVma.fill(start + 40, start + 50, 3);
    assert.equal(s.bytes, base + 4 * CHUNK);
    assert.equal(s.anonVma.get(start + 39), -7);
    assert.equal(s.anonVma.get(start + 45), 3);
    assert.equal(s.anonVma.get(start + CHUNK + 45), -7);
    assert.ok(s.anonVma instanceof LevelField);
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

describe('FrameStack.popRun and pushRun', () => {
  it('hand out and take back the pfns pop() and push() would, in the same order, a run at a time', () => {
    fc.assert(fc.property(
      fc.array(fc.oneof(
        fc.record({ push: fc.integer({ min: 0, max: 400 }), len: fc.integer({ min: 1, max: 50 }), down: fc.boolean() }),
        fc.record({ list: fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 30 }) }),
        fc.record({ pop: fc.integer({ min: 1, max: 80 }) }),
      ), { maxLength: 40 }),
      (ops) => {
        const a = new FrameStack();
        const b = new FrameStack();
        for (const o of ops) {
          if ('push' in o || 'list' in o) {
            // A run up or down, or any pfns (runs broken anywhere).
            const pfns = 'list' in o ? o.list : Array.from({ length: o.len }, (_, k) => (o.down ? o.push + o.len - 1 - k : o.push + k));
            for (const pfn of pfns) a.push(pfn);
            b.pushRun(Int32Array.from(pfns), pfns.length);
            assert.deepEqual([...b.save()], [...a.save()]);
            assert.equal(b.length, a.length);
            continue;
          }
          const want: number[] = [];
          for (let k = 0; k < o.pop; k++) {
            const p = a.pop();
            if (p === undefined) break;
            want.push(p);
          }
          const out = new Int32Array(o.pop);
          let got = 0;
          for (let n = b.popRun(out, 0, o.pop); n > 0; n = b.popRun(out, got, o.pop - got)) got += n;
          assert.deepEqual([...out.subarray(0, got)], want);
          assert.equal(b.length, a.length);
        }
        assert.deepEqual([...b.save()], [...a.save()]);
      },
    ), { numRuns: 300, seed: 20261207 });
  });
});
