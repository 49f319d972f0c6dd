// Layer: test helpers (test/fuzz). Imports fast-check only.
// Script generators for the fuzz suite: random bytes, token soups, mutations of real scripts
// (examples, conformance, DAP fixtures) and grammar-valid programs with GPU work, fork, munmap,
// nesting and long loops. Every generator is deterministic for a given fast-check seed.

import * as fc from 'fast-check';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');

/** The project's own scripts: what mutations start from. */
export function corpus(): string[] {
  const dirs = ['examples', 'test/conformance', 'test/fixtures/dap'].map((d) => path.join(ROOT, d));
  const out: string[] = [];
  for (const d of dirs) {
    if (!fs.existsSync(d)) continue;
    for (const f of fs.readdirSync(d).sort()) if (f.endsWith('.hmm')) out.push(fs.readFileSync(path.join(d, f), 'utf8'));
  }
  return out;
}

const WORDS = [
  'device', 'file', 'read', 'write', 'munmap', 'mprotect', 'madvise', 'pin', 'unpin', 'compute', 'migrate', 'fork', 'as',
  'exit', 'expect', 'fn', 'call', 'repeat', 'print', 'kernel', 'launch', 'wait', 'advise', 'prefetch', 'atomic', 'mmap',
  'to', 'system', 'on', 'all', 'is', 'maps', 'notified', 'last', 'stats', 'i', 'a', 'b', 'gpu0', 'gpu1', 'k', 'x', 'child',
  'pages', 'page', 'KiB', 'MiB', 'GiB', 'rw', 'r', 'none', 'shared', 'huge', 'private', 'coherent', 'us', 'ms', 'EFAULT',
  'owner', 'zero', 'empty', 'device', 'exclusive', 'dontneed', 'preferred', 'read-mostly', 'snapshot', 'release', 'close',
];
const OPS = ['=', '==', '!=', '<', '>', '(', ')', '[', ']', '..', '.', ',', '{', '}', '+', '-', '*', '<<', '>>', '|', '&', '^', '->', '"', '#'];
const NUMBERS = ['0', '1', '3', '16', '4096', '0x10', '1023', '99999999999', '-1', '4294967296', '1e9', '007'];

/** Random bytes as text (UTF-8 decoding of anything). */
export const randomBytes = fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b).toString('utf8'));

/** Keywords, names, numbers and operators in random order and line breaks. */
export const tokenSoup = fc.array(fc.oneof(
  fc.constantFrom(...WORDS), fc.constantFrom(...OPS), fc.constantFrom(...NUMBERS), fc.constant('\n'), fc.constant('\n'), fc.constant('  '),
), { maxLength: 120 }).map((ts) => ts.join(' '));

/** A real script with a few lines deleted, duplicated, swapped or cut, or characters changed. */
export function mutation(sources: readonly string[]): fc.Arbitrary<string> {
  const edit = fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 0, max: 6 }), fc.constantFrom(...WORDS, ...OPS, ...NUMBERS));
  return fc.tuple(fc.constantFrom(...sources), fc.array(edit, { minLength: 1, maxLength: 6 })).map(([src, edits]) => {
    const lines = src.split('\n');
    for (const [p, q, kind, tok] of edits) {
      const i = p % lines.length;
      const j = q % lines.length;
      const l = lines[i]!;
      switch (kind) {
        case 0: lines.splice(i, 1); break;
        case 1: lines.splice(i, 0, l); break;
        case 2: [lines[i], lines[j]] = [lines[j]!, l]; break;
        case 3: lines[i] = l.slice(0, q % (l.length + 1)); break;
        case 4: { const c = q % (l.length + 1); lines[i] = `${l.slice(0, c)} ${tok} ${l.slice(c)}`; break; }
        case 5: lines.splice(i, 0, `${'repeat 3 {\n'.repeat(1 + (q % 4))}${l}${'\n}'.repeat(1 + (q % 4))}`); break;
        default: lines[i] = l.replace(/\d+/, String(q)); break;
      }
      if (lines.length === 0) lines.push('');
    }
    return lines.join('\n');
  });
}

// ---- grammar-valid programs -------------------------------------------------------------------

const MAPPINGS = ['a', 'b'];
const range = fc.tuple(fc.constantFrom(...MAPPINGS), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 }), fc.nat(3))
  .map(([m, s, e, form]) => (form === 0 ? m : form === 1 ? `${m}[${s}]` : form === 2 ? `${m}[..${e}]` : `${m}[${Math.min(s, e)}..${Math.max(s, e) + 1}]`));
const expr: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('i', '0', '1', '7', '0xff', 'k'),
    fc.tuple(tie('e'), fc.constantFrom('+', '-', '*', '&', '|', '^', '<<', '>>'), tie('e')).map(([l, o, r]) => `${l} ${o} ${r}`),
    tie('e').map((x) => `(${x})`), tie('e').map((x) => `-${x}`)),
})).e;
const device = fc.constantFrom('gpu0', 'gpu1');

const simple: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(range, expr).map(([r, e]) => `write ${r} = ${e}`),
  range.map((r) => `read ${r}`),
  fc.tuple(device, range).map(([d, r]) => `${d} read ${r}`),
  fc.tuple(device, range, expr).map(([d, r, e]) => `${d} write ${r} = ${e}`),
  fc.tuple(range, fc.constantFrom('gpu0', 'gpu1', 'system')).map(([r, t]) => `migrate ${r} to ${t}`),
  fc.tuple(device, range).map(([d, r]) => `${d} exclusive ${r}`),
  fc.tuple(device, range).map(([d, r]) => `${d} snapshot ${r}`),
  range.map((r) => `munmap ${r}`),
  fc.tuple(range, fc.constantFrom('none', 'r', 'rw')).map(([r, p]) => `mprotect ${r} ${p}`),
  fc.tuple(range, fc.constantFrom('dontneed', 'free', 'hugepage')).map(([r, a]) => `madvise ${r} ${a}`),
  range.map((r) => `pin ${r}`), range.map((r) => `unpin ${r}`),
  fc.tuple(fc.constantFrom('kr', 'kw', 'ka'), fc.constantFrom(...MAPPINGS), device).map(([k, m, d]) => `launch ${k}(${m}) on ${d}`),
  fc.constantFrom('wait all', 'wait gpu0', 'compute 5 us', 'print a', 'print "x"', 'gpu0 release', 'gpu1 close'),
  fc.tuple(range, fc.constantFrom('gpu0', 'system')).map(([r, t]) => `prefetch ${r} to ${t}`),
  fc.tuple(range, fc.constantFrom('read-mostly', 'unset', 'preferred gpu0', 'accessed-by gpu1')).map(([r, a]) => `advise ${r} ${a}`),
  fc.tuple(range, fc.constantFrom('system', 'empty', 'zero', 'device gpu0', 'unmapped')).map(([r, st]) => `expect ${r} is ${st}`),
  fc.tuple(range, expr).map(([r, e]) => `expect ${r} == ${e}`),
);

const block: fc.Arbitrary<string[]> = fc.letrec<{ b: string[] }>((tie) => ({
  b: fc.array(fc.oneof({ depthSize: 'small' },
    simple.map((s) => [s]), simple.map((s) => [s]), simple.map((s) => [s]),
    fc.tuple(fc.integer({ min: 0, max: 40 }), tie('b')).map(([n, body]) => [`repeat ${n} as k {`, ...body, '}']),
    tie('b').map((body) => ['fork {', ...body, '}']),
  ), { maxLength: 8 }).map((xs) => xs.flat()),
})).b;

/** A program the parser accepts (mostly; ranges may fall outside mappings at run time). */
export const grammarProgram = fc.tuple(
  fc.constantFrom('', ' coherent'), fc.integer({ min: 1, max: 24 }), fc.integer({ min: 1, max: 4096 }),
  fc.constantFrom('rw', 'r', 'none', 'rw shared'), fc.constantFrom('rw', 'rw huge'), block,
).map(([kind, pa, pb, prot, protB, body]) => [
  `device gpu0${kind}`, 'device gpu1 memory 64 pages', `a = mmap ${pa} pages ${prot}`, `b = mmap ${pb} pages ${protB}`,
  'kernel kr(x) {', '  read x', '}', 'kernel kw(x) {', '  write x = i', '  compute 1 us', '}', 'kernel ka(x) {', '  atomic x', '}',
  ...body,
].join('\n'));

/** Pathological shapes: deep nesting, long chains, huge mappings, long and empty loops. */
export const pathological = fc.tuple(fc.integer({ min: 1, max: 3000 }), fc.nat(7)).map(([n, kind]) => {
  switch (kind) {
    case 0: return `a = mmap 1 page rw\nwrite a = ${'('.repeat(n)}1${')'.repeat(n)}`;
    case 1: return `a = mmap 1 page rw\n${'repeat 2 {\n'.repeat(n % 200)}write a = 1\n${'}\n'.repeat(n % 200)}`;
    case 2: return `a = mmap 1 page rw\nwrite a = 1${' + 1'.repeat(n)}`;
    case 3: return `a = mmap ${n} GiB rw\nwrite a = i\nexpect a == i`;
    case 4: return `repeat ${n * 1000000} {\n  repeat ${n * 1000000} {\n  }\n}`;
    case 5: return `a = mmap 1 page rw\nrepeat ${n * 1000000} as k {\n  write a = k\n}`;
    case 6: return `device gpu0\na = mmap 16 pages rw\nkernel k(x) {\n  read x\n}\nfork {\n  launch k(a) on gpu0\n}\nmunmap a\nwait all`;
    default: return `${'fn f {\n'.repeat(n % 100)}${'}\n'.repeat(n % 100)}`;
  }
});

/** Every kind of script, weighted toward the ones that reach the simulator. */
export function anyScript(sources: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: randomBytes, weight: 1 }, { arbitrary: tokenSoup, weight: 2 }, { arbitrary: mutation(sources), weight: 3 },
    { arbitrary: grammarProgram, weight: 4 }, { arbitrary: pathological, weight: 1 },
  );
}
