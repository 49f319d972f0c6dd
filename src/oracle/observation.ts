// What one statement showed user space, on either side: the simulator's record is built by
// translate.ts, the kernel's is parsed here from the in-VM runner's result lines
// (docs/kernel-runner.md). Both have the same shape, so compare() needs no side knowledge.

/** Words as the runner reports them: every value, or only a count and a hash when too varied. */
export type Words = { readonly kind: 'words'; readonly words: Int32Array } | { readonly kind: 'hash'; readonly count: number; readonly hash: number };

export interface Observation {
  /** `0` or an errno name. */
  readonly rc: string;
  readonly cpages?: number;
  readonly faults?: number;
  /** Device read / migrate / exclusive: every word of the range. */
  readonly data?: Words;
  /** Snapshot: one byte per page. */
  readonly flags?: Uint8Array;
  /** Simulator side: per page, the flag bits a documented model decision leaves uncompared. */
  readonly flagsIgnore?: Uint8Array;
  /** CPU read: word 0 of every page. */
  readonly words?: Words;
  /** `SIGSEGV@K`: the CPU access took that signal at page K of the range. */
  readonly sig?: string;
  /** The simulator stopped here on a kernel oops in this function (the kernel side reports crashes as outcomes). */
  readonly crash?: string;
  /** The simulator stopped here on a kernel hang in this function (the kernel side: the op never finished). */
  readonly hang?: string;
}

/** Which fields a statement's comparison looks at. */
export type Field = 'rc' | 'cpages' | 'faults' | 'data' | 'flags' | 'words' | 'sig';

/** The kernel's answer to one op: an observation, or the op never finished. */
export type KernelOutcome =
  | { readonly kind: 'result'; readonly obs: Observation }
  | { readonly kind: 'crash'; readonly oops: readonly string[] }
  | { readonly kind: 'hang' }
  | { readonly kind: 'bad'; readonly message: string }
  /** The VM ended (crash or hang) before this op. */
  | { readonly kind: 'notRun'; readonly why: string };

const MAX_RESULT_WORDS = 1 << 26;

/** FNV-1a, 32 bits, over the words' little-endian bytes (the runner's `#COUNT:HASH`). */
export function fnv1aWords(words: Int32Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    for (let b = 0; b < 32; b += 8) {
      h ^= (w >>> b) & 0xff;
      h = Math.imul(h, 0x01000193);
    }
  }
  return h >>> 0;
}

/** Parse WORDS (`START:COUNT:FIRST:STEP,…` hex values, or `#COUNT:HASH`); throws on malformed input. */
export function parseWords(text: string): Words {
  if (text.startsWith('#')) {
    const m = /^#(\d+):([0-9a-f]{1,8})$/i.exec(text);
    if (m === null) throw new Error(`bad hashed words '${text}'`);
    return { kind: 'hash', count: Number(m[1]), hash: parseInt(m[2]!, 16) >>> 0 };
  }
  if (text === '') return { kind: 'words', words: new Int32Array(0) };
  const runs = text.split(',').map((r) => {
    const m = /^(\d+):(\d+):([0-9a-f]{1,8}):([0-9a-f]{1,8})$/i.exec(r);
    if (m === null) throw new Error(`bad word run '${r}'`);
    return { start: Number(m[1]), count: Number(m[2]), first: parseInt(m[3]!, 16) | 0, step: parseInt(m[4]!, 16) | 0 };
  });
  const total = runs.reduce((n, r) => Math.max(n, r.start + r.count), 0);
  if (total > MAX_RESULT_WORDS) throw new Error(`word runs cover ${total} words, more than the runner can send`);
  const words = new Int32Array(total);
  for (const r of runs) {
    let v = r.first;
    for (let k = 0; k < r.count; k++) {
      words[r.start + k] = v;
      v = (v + r.step) | 0;
    }
  }
  return { kind: 'words', words };
}

/** Parse FLAGS (`COUNT*HH,…`). */
export function parseFlags(text: string): Uint8Array {
  const out: number[] = [];
  if (text === '') return new Uint8Array(0);
  for (const r of text.split(',')) {
    const m = /^(\d+)\*([0-9a-f]{2})$/i.exec(r);
    if (m === null) throw new Error(`bad flag run '${r}'`);
    const n = Number(m[1]);
    if (out.length + n > MAX_RESULT_WORDS) throw new Error('flag runs too long');
    const v = parseInt(m[2]!, 16);
    for (let k = 0; k < n; k++) out.push(v);
  }
  return Uint8Array.from(out);
}

/** One `r N key=value…` line: the op number and its observation. */
export function parseResultLine(line: string): { op: number; obs: Observation } {
  const [tag, n, ...fields] = line.trim().split(' ');
  if (tag !== 'r' || n === undefined || !/^\d+$/.test(n)) throw new Error(`not a result line: '${line}'`);
  const o: { -readonly [K in keyof Observation]: Observation[K] } = { rc: '0' };
  for (const f of fields) {
    const eq = f.indexOf('=');
    if (eq < 0) throw new Error(`bad field '${f}' in '${line}'`);
    const k = f.slice(0, eq);
    const v = f.slice(eq + 1);
    switch (k) {
      case 'rc': o.rc = v; break;
      case 'cpages': o.cpages = Number(v); break;
      case 'faults': o.faults = Number(v); break;
      case 'data': o.data = parseWords(v); break;
      case 'words': o.words = parseWords(v); break;
      case 'flags': o.flags = parseFlags(v); break;
      case 'sig': o.sig = v; break;
      default: break; // a newer runner's field: not compared
    }
  }
  return { op: Number(n), obs: o };
}

/** One field's disagreement, as `kernel: … / simulator: …` text. */
export interface FieldDifference {
  readonly field: Field;
  readonly kernel: string;
  readonly simulator: string;
}

/** Compare the fields a statement looks at; the first difference per field. */
export function compareObservations(kernel: Observation, sim: Observation, fields: readonly Field[]): FieldDifference[] {
  const out: FieldDifference[] = [];
  for (const f of fields) {
    switch (f) {
      case 'rc':
      case 'sig':
        if ((kernel[f] ?? 'none') !== (sim[f] ?? 'none')) out.push({ field: f, kernel: `${f}=${kernel[f] ?? 'none'}`, simulator: `${f}=${sim[f] ?? 'none'}` });
        break;
      case 'cpages':
      case 'faults':
        if (kernel[f] !== sim[f]) out.push({ field: f, kernel: `${f}=${kernel[f] ?? '?'}`, simulator: `${f}=${sim[f] ?? '?'}` });
        break;
      case 'flags': {
        const d = firstByteDifference(kernel.flags, sim.flags, sim.flagsIgnore);
        if (d !== undefined) out.push({ field: f, kernel: `flags[${d.index}]=${d.a}`, simulator: `flags[${d.index}]=${d.b}` });
        break;
      }
      case 'data':
      case 'words': {
        const d = firstWordDifference(kernel[f], sim[f]);
        if (d !== undefined) out.push({ field: f, kernel: `${f}${d.where}=${d.a}`, simulator: `${f}${d.where}=${d.b}` });
        break;
      }
    }
  }
  return out;
}

const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;
const flagHex = (v: number | undefined): string => (v === undefined ? 'none' : `0x${v.toString(16).padStart(2, '0')}`);

function firstByteDifference(a: Uint8Array | undefined, b: Uint8Array | undefined, ignore?: Uint8Array): { index: number; a: string; b: string } | undefined {
  if (a === undefined && b === undefined) return undefined;
  if (a === undefined || b === undefined) return { index: 0, a: a === undefined ? 'none' : `${a.length} bytes`, b: b === undefined ? 'none' : `${b.length} bytes` };
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const keep = ~(ignore?.[i] ?? 0);
    if (a[i] === undefined || b[i] === undefined || (a[i]! & keep) !== (b[i]! & keep)) return { index: i, a: flagHex(a[i]), b: flagHex(b[i]) };
  }
  return undefined;
}

function firstWordDifference(a: Words | undefined, b: Words | undefined): { where: string; a: string; b: string } | undefined {
  if (a === undefined && b === undefined) return undefined;
  if (a === undefined || b === undefined) return { where: '', a: a === undefined ? 'none' : 'present', b: b === undefined ? 'none' : 'present' };
  if (a.kind === 'hash' || b.kind === 'hash') {
    const ha = a.kind === 'hash' ? a : { count: a.words.length, hash: fnv1aWords(a.words) };
    const hb = b.kind === 'hash' ? b : { count: b.words.length, hash: fnv1aWords(b.words) };
    if (ha.count === hb.count && ha.hash === hb.hash) return undefined;
    return { where: '', a: `#${ha.count}:${ha.hash.toString(16)}`, b: `#${hb.count}:${hb.hash.toString(16)}` };
  }
  const n = Math.max(a.words.length, b.words.length);
  for (let i = 0; i < n; i++) {
    if (a.words[i] !== b.words[i]) {
      return { where: `[${i}]`, a: a.words[i] === undefined ? 'none' : hex(a.words[i]!), b: b.words[i] === undefined ? 'none' : hex(b.words[i]!) };
    }
  }
  return undefined;
}
