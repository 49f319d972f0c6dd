// Differential testing: random programs in the kernel-expressible subset of the language
// (mappings of every kind, hugetlb and device-file ones included, CPU access,
// mprotect/munmap/madvise/mremap, fork/exit, long-term pins and every dmirror operation on
// private and coherent devices), run on the simulator and on the
// kernel; each kind of disagreement is shrunk to a small script. Programs come from a seed, so a
// run is reproducible; shrinking runs every candidate of a round in one VM program.

import * as fc from 'fast-check';
import { judge, type ScriptJudgement, withSimulatorStop } from './compare';
import { type ProgramRunner, runTranslations } from './kernelRun';
import { formatRegression, translateRegression } from './regression';
import type { Translation } from './translate';
import { rangeName } from '../hmm/lang/ranges';

type DeviceKind = 'private' | 'coherent';
type MapKind = 'private' | 'shared' | 'file-shared' | 'file-private' | 'huge' | 'hugetlb' | 'devfile' | 'devfile-shared';

export interface MapSpec {
  readonly kind: MapKind;
  readonly pages: number;
  readonly prot: 'r' | 'rw';
  /** devfile: which device's file (modulo the devices declared). */
  readonly d?: number;
}

/** One random operation. `p` picks the process (0: main, else a live child), `m` a mapping, `d` a device. */
export type RandomOp =
  | { readonly k: 'read' | 'write'; readonly p: number; readonly m: number; readonly s: number; readonly n: number; readonly K: number }
  | { readonly k: 'mprotect'; readonly p: number; readonly m: number; readonly s: number; readonly n: number; readonly prot: 'none' | 'r' | 'rw' }
  | { readonly k: 'munmap'; readonly p: number; readonly m: number; readonly s: number; readonly n: number }
  | { readonly k: 'madvise'; readonly p: number; readonly m: number; readonly s: number; readonly n: number; readonly advice: 'dontneed' | 'free' }
  | { readonly k: 'migDev' | 'devRead' | 'snapshot' | 'exclusive' | 'checkExclusive'; readonly p: number; readonly m: number; readonly s: number; readonly n: number; readonly d: number }
  | { readonly k: 'devWrite'; readonly p: number; readonly m: number; readonly s: number; readonly n: number; readonly d: number; readonly K: number }
  | { readonly k: 'migSys'; readonly p: number; readonly m: number; readonly s: number; readonly n: number; readonly d: number; readonly from: boolean }
  | { readonly k: 'release' | 'close'; readonly p: number; readonly d: number }
  | { readonly k: 'pin' | 'unpin'; readonly p: number; readonly m: number; readonly s: number; readonly n: number }
  | { readonly k: 'fork' | 'exit'; readonly p: number }
  /** mremap of a range of mapping m to page o of mapping t (MREMAP_FIXED), with DONTUNMAP when du. */
  | { readonly k: 'mremap'; readonly p: number; readonly m: number; readonly s: number; readonly n: number; readonly t: number; readonly o: number; readonly du: boolean }
  /** mremap of a range of mapping m to `size` pages: in place, MREMAP_MAYMOVE, or at page o of mapping t. */
  | { readonly k: 'mresize'; readonly p: number; readonly m: number; readonly s: number; readonly n: number; readonly size: number; readonly how: 'resize' | 'maymove' | 'fixed'; readonly t: number; readonly o: number };

export interface RandomProgram {
  readonly devices: readonly DeviceKind[];
  readonly maps: readonly MapSpec[];
  readonly ops: readonly RandomOp[];
}

const idx = fc.nat(1 << 16);
const konst = fc.integer({ min: 1, max: 0xffff });
const rangeOp = { p: fc.nat(2), m: fc.nat(2), s: idx, n: idx };

/**
 * The generator's weightings: `default` (what CI runs) or `mremap`, which favours moving and
 * resizing mremap (DONTUNMAP, at an address, MAYMOVE) over file, shared, hugetlb and device-file
 * mappings, for hunting in that corner. Each weighting's programs are a function of the seed.
 */
export const FOCUSES = ['default', 'mremap'] as const;
export type Focus = (typeof FOCUSES)[number];
export const isFocus = (s: string): s is Focus => (FOCUSES as readonly string[]).includes(s);

interface Weights {
  readonly ops: {
    readonly access: number; readonly mprotect: number; readonly munmap: number; readonly madvise: number; readonly device: number;
    readonly devWrite: number; readonly migSys: number; readonly release: number; readonly pin: number; readonly fork: number;
    readonly mremap: number; readonly mresize: number;
  };
  readonly maps: {
    readonly private: number; readonly shared: number; readonly file: number; readonly huge: number; readonly hugetlb: number; readonly devfile: number;
  };
}

const WEIGHTS: Readonly<Record<Focus, Weights>> = {
  default: {
    ops: { access: 5, mprotect: 2, munmap: 1, madvise: 1, device: 8, devWrite: 2, migSys: 2, release: 1, pin: 1, fork: 1, mremap: 1, mresize: 1 },
    maps: { private: 5, shared: 1, file: 1, huge: 1, hugetlb: 1, devfile: 1 },
  },
  mremap: {
    ops: { access: 5, mprotect: 2, munmap: 1, madvise: 1, device: 8, devWrite: 2, migSys: 2, release: 1, pin: 1, fork: 1, mremap: 6, mresize: 5 },
    maps: { private: 2, shared: 2, file: 3, huge: 1, hugetlb: 2, devfile: 2 },
  },
};

function opArbOf(w: Weights['ops']): fc.Arbitrary<RandomOp> {
  return fc.oneof(
    { weight: w.access, arbitrary: fc.record({ k: fc.constantFrom('read' as const, 'write' as const), ...rangeOp, K: konst }) },
    { weight: w.mprotect, arbitrary: fc.record({ k: fc.constant('mprotect' as const), ...rangeOp, prot: fc.constantFrom('none' as const, 'r' as const, 'rw' as const) }) },
    { weight: w.munmap, arbitrary: fc.record({ k: fc.constant('munmap' as const), ...rangeOp }) },
    { weight: w.madvise, arbitrary: fc.record({ k: fc.constant('madvise' as const), ...rangeOp, advice: fc.constantFrom('dontneed' as const, 'free' as const) }) },
    { weight: w.device, arbitrary: fc.record({ k: fc.constantFrom('migDev' as const, 'devRead' as const, 'snapshot' as const, 'exclusive' as const, 'checkExclusive' as const), ...rangeOp, d: fc.nat(1) }) },
    { weight: w.devWrite, arbitrary: fc.record({ k: fc.constant('devWrite' as const), ...rangeOp, d: fc.nat(1), K: konst }) },
    { weight: w.migSys, arbitrary: fc.record({ k: fc.constant('migSys' as const), ...rangeOp, d: fc.nat(1), from: fc.boolean() }) },
    { weight: w.release, arbitrary: fc.record({ k: fc.constantFrom('release' as const, 'close' as const), p: fc.nat(2), d: fc.nat(1) }) },
    { weight: w.pin, arbitrary: fc.record({ k: fc.constantFrom('pin' as const, 'unpin' as const), ...rangeOp }) },
    { weight: w.fork, arbitrary: fc.record({ k: fc.constantFrom('fork' as const, 'exit' as const), p: fc.nat(2) }) },
    { weight: w.mremap, arbitrary: fc.record({ k: fc.constant('mremap' as const), ...rangeOp, t: fc.nat(2), o: idx, du: fc.boolean() }) },
    {
      weight: w.mresize,
      arbitrary: fc.record({
        k: fc.constant('mresize' as const), ...rangeOp, size: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 48 }) }, { weight: 1, arbitrary: fc.constantFrom(512, 1024) }),
        how: fc.constantFrom('resize' as const, 'maymove' as const, 'fixed' as const), t: fc.nat(2), o: idx,
      }),
    },
  );
}

function mapArbOf(w: Weights['maps']): fc.Arbitrary<MapSpec> {
  return fc.oneof(
    { weight: w.private, arbitrary: fc.record({ kind: fc.constant('private' as const), pages: fc.integer({ min: 1, max: 32 }), prot: fc.constantFrom('rw' as const, 'rw' as const, 'r' as const) }) },
    { weight: w.shared, arbitrary: fc.record({ kind: fc.constant('shared' as const), pages: fc.integer({ min: 1, max: 32 }), prot: fc.constant('rw' as const) }) },
    { weight: w.file, arbitrary: fc.record({ kind: fc.constantFrom('file-shared' as const, 'file-private' as const), pages: fc.integer({ min: 1, max: 32 }), prot: fc.constantFrom('rw' as const, 'r' as const) }) },
    { weight: w.huge, arbitrary: fc.record({ kind: fc.constant('huge' as const), pages: fc.constantFrom(512, 1024), prot: fc.constant('rw' as const) }) },
    // At most 3 mappings of 2 huge pages: the VM's pool of 8 always has room.
    { weight: w.hugetlb, arbitrary: fc.record({ kind: fc.constant('hugetlb' as const), pages: fc.constantFrom(512, 1024), prot: fc.constantFrom('rw' as const, 'r' as const) }) },
    { weight: w.devfile, arbitrary: fc.record({ kind: fc.constantFrom('devfile' as const, 'devfile-shared' as const), pages: fc.integer({ min: 1, max: 8 }), prot: fc.constantFrom('rw' as const, 'r' as const), d: fc.nat(1) }) },
  );
}

function programArbOf(w: Weights): fc.Arbitrary<RandomProgram> {
  return fc.record({
    devices: fc.oneof(
      fc.constant<DeviceKind[]>(['private']),
      fc.constant<DeviceKind[]>(['private', 'private']),
      fc.constant<DeviceKind[]>(['coherent']),
      fc.constant<DeviceKind[]>(['private', 'coherent']),
    ),
    maps: fc.array(mapArbOf(w.maps), { minLength: 1, maxLength: 3, size: 'max' }),
    ops: fc.array(opArbOf(w.ops), { minLength: 3, maxLength: 30, size: 'max' }),
  });
}

export const programArb: fc.Arbitrary<RandomProgram> = programArbOf(WEIGHTS.default);
const programArbs: Readonly<Record<Focus, fc.Arbitrary<RandomProgram>>> = { default: programArb, mremap: programArbOf(WEIGHTS.mremap) };

/**
 * What `--weight KIND=N,…` can weigh: each op kind, and `coherent` (device lists with a coherent
 * device). N multiplies the kind's share of the default distribution (0 leaves it out).
 */
export const WEIGHT_KEYS = [
  'read', 'write', 'mprotect', 'munmap', 'madvise', 'migDev', 'devRead', 'snapshot', 'exclusive', 'checkExclusive', 'devWrite',
  'migSys', 'release', 'close', 'pin', 'unpin', 'fork', 'exit', 'mremap', 'mresize', 'coherent',
] as const;
export type WeightKey = (typeof WEIGHT_KEYS)[number];
export type OpWeights = Readonly<Partial<Record<WeightKey, number>>>;
/** Largest factor `--weight` takes. */
export const MAX_WEIGHT = 100;

type OpKind = Exclude<WeightKey, 'coherent'>;
const OP_KINDS: readonly OpKind[] = WEIGHT_KEYS.filter((k): k is OpKind => k !== 'coherent');

/**
 * A focus's share of each op kind, times 10 (opArbOf groups some kinds in one entry: each gets
 * an equal part of it), so that every factor 1 draws the kinds as often as the focus does.
 */
function baseShare(w: Weights['ops']): Readonly<Record<OpKind, number>> {
  const part = (weight: number, of: number): number => (weight * 10) / of;
  return {
    read: part(w.access, 2), write: part(w.access, 2), mprotect: part(w.mprotect, 1), munmap: part(w.munmap, 1), madvise: part(w.madvise, 1),
    migDev: part(w.device, 5), devRead: part(w.device, 5), snapshot: part(w.device, 5), exclusive: part(w.device, 5), checkExclusive: part(w.device, 5),
    devWrite: part(w.devWrite, 1), migSys: part(w.migSys, 1), release: part(w.release, 2), close: part(w.release, 2), pin: part(w.pin, 2),
    unpin: part(w.pin, 2), fork: part(w.fork, 2), exit: part(w.fork, 2), mremap: part(w.mremap, 1), mresize: part(w.mresize, 1),
  };
}

/** The op of each kind, drawn as opArbOf draws it. */
function opOfKind(k: OpKind): fc.Arbitrary<RandomOp> {
  switch (k) {
    case 'read': case 'write': return fc.record({ k: fc.constant(k), ...rangeOp, K: konst });
    case 'mprotect': return fc.record({ k: fc.constant(k), ...rangeOp, prot: fc.constantFrom('none' as const, 'r' as const, 'rw' as const) });
    case 'munmap': return fc.record({ k: fc.constant(k), ...rangeOp });
    case 'madvise': return fc.record({ k: fc.constant(k), ...rangeOp, advice: fc.constantFrom('dontneed' as const, 'free' as const) });
    case 'migDev': case 'devRead': case 'snapshot': case 'exclusive': case 'checkExclusive':
      return fc.record({ k: fc.constant(k), ...rangeOp, d: fc.nat(1) });
    case 'devWrite': return fc.record({ k: fc.constant(k), ...rangeOp, d: fc.nat(1), K: konst });
    case 'migSys': return fc.record({ k: fc.constant(k), ...rangeOp, d: fc.nat(1), from: fc.boolean() });
    case 'release': case 'close': return fc.record({ k: fc.constant(k), p: fc.nat(2), d: fc.nat(1) });
    case 'pin': case 'unpin': return fc.record({ k: fc.constant(k), ...rangeOp });
    case 'fork': case 'exit': return fc.record({ k: fc.constant(k), p: fc.nat(2) });
    case 'mremap': return fc.record({ k: fc.constant(k), ...rangeOp, t: fc.nat(2), o: idx, du: fc.boolean() });
    case 'mresize':
      return fc.record({
        k: fc.constant(k), ...rangeOp, size: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 48 }) }, { weight: 1, arbitrary: fc.constantFrom(512, 1024) }),
        how: fc.constantFrom('resize' as const, 'maymove' as const, 'fixed' as const), t: fc.nat(2), o: idx,
      });
  }
}

/**
 * The generator of `focus` with `weights` applied; without any, the focus's own (so a seed gives
 * the programs it always gave). Throws on an unknown key, a factor out of 0..MAX_WEIGHT, or
 * weights that leave no op at all.
 */
export function programArbitrary(focus: Focus = 'default', weights: OpWeights = {}): fc.Arbitrary<RandomProgram> {
  const given = Object.entries(weights);
  if (given.length === 0) return programArbs[focus];
  for (const [k, n] of given) {
    if (!(WEIGHT_KEYS as readonly string[]).includes(k)) throw new Error(`unknown weight '${k}' (one of ${WEIGHT_KEYS.join(', ')})`);
    if (n === undefined || !Number.isInteger(n) || n < 0 || n > MAX_WEIGHT) throw new Error(`weight ${k} must be a whole number from 0 to ${MAX_WEIGHT}`);
  }
  const factor = (k: WeightKey): number => weights[k] ?? 1;
  const share = baseShare(WEIGHTS[focus].ops);
  const entries = OP_KINDS
    .map((k) => ({ weight: share[k] * factor(k), arbitrary: opOfKind(k) }))
    .filter((e) => e.weight > 0);
  if (entries.length === 0) throw new Error('the weights leave no op to draw');
  const c = factor('coherent');
  const devices = [
    { weight: 1, arbitrary: fc.constant<DeviceKind[]>(['private']) },
    { weight: 1, arbitrary: fc.constant<DeviceKind[]>(['private', 'private']) },
    { weight: c, arbitrary: fc.constant<DeviceKind[]>(['coherent']) },
    { weight: c, arbitrary: fc.constant<DeviceKind[]>(['private', 'coherent']) },
  ].filter((e) => e.weight > 0);
  return fc.record({
    devices: fc.oneof(...devices),
    maps: fc.array(mapArbOf(WEIGHTS[focus].maps), { minLength: 1, maxLength: 3, size: 'max' }),
    ops: fc.array(fc.oneof(...entries), { minLength: 3, maxLength: 30, size: 'max' }),
  });
}

/** `fork=4,close=2` as Weights, or a message saying what is wrong. */
export function parseWeights(text: string): OpWeights | string {
  const out: Partial<Record<WeightKey, number>> = {};
  for (const part of text.split(',')) {
    const m = /^([A-Za-z]+)=(\d+)$/.exec(part.trim());
    if (m === null) return `--weight takes KIND=N,… (N a whole number), found '${part}'`;
    const k = m[1]!;
    if (!(WEIGHT_KEYS as readonly string[]).includes(k)) return `--weight: unknown kind '${k}' (one of ${WEIGHT_KEYS.join(', ')})`;
    const n = Number(m[2]);
    if (n > MAX_WEIGHT) return `--weight: ${k}=${n} is above ${MAX_WEIGHT}`;
    out[k as WeightKey] = n;
  }
  const any = OP_KINDS.some((k) => (out[k] ?? 1) > 0);
  return any ? out : '--weight leaves no op to draw';
}

/** Weights as `--weight` spells them (empty when none). */
export function weightsText(w: OpWeights): string {
  return Object.entries(w).map(([k, n]) => `${k}=${n}`).join(',');
}

/** The programs of a seed: the same seed, count, focus and weights give the same programs. */
export function samplePrograms(seed: number, count: number, focus: Focus = 'default', weights: OpWeights = {}): RandomProgram[] {
  return fc.sample(programArbitrary(focus, weights), { seed, numRuns: count });
}

/**
 * The program as a .hmm script. Every op list renders to a valid script (ops of processes that
 * do not exist are left out, ranges are folded into their mapping, pins are kept to one range),
 * so any sub-list of ops is a valid shrink candidate.
 */
export function renderProgram(prog: RandomProgram): string {
  const out: string[] = [];
  const devName = (d: number): string => `d${d % prog.devices.length}`;
  prog.devices.forEach((k, i) => out.push(`device d${i}${k === 'coherent' ? ' coherent' : ''}`));
  prog.maps.forEach((m, i) => {
    if (m.kind === 'file-shared' || m.kind === 'file-private') out.push(`file f${i} ${m.pages} pages = i + ${i + 1}`);
  });
  /** Devices whose file is mapped: closing their handle is not modelled (a runtime error). */
  const mappedFiles = new Set<string>();
  prog.maps.forEach((m, i) => {
    const devfile = m.kind === 'devfile' || m.kind === 'devfile-shared';
    if (devfile) mappedFiles.add(devName(m.d ?? 0));
    const src = m.kind === 'file-shared' || m.kind === 'file-private' ? `f${i}`
      : devfile ? `${devName(m.d ?? 0)} ${m.pages} pages` : `${m.pages} pages`;
    const extra = m.kind === 'shared' || m.kind === 'file-shared' || m.kind === 'devfile-shared' ? ' shared'
      : m.kind === 'huge' ? ' huge' : m.kind === 'hugetlb' ? ' hugetlb' : '';
    out.push(`m${i} = mmap ${src} ${m.prot}${extra}`);
  });
  let remaps = 0;
  const live: string[] = ['main'];
  let forks = 0;
  let pinned: { proc: string; range: string } | undefined;
  for (const op of prog.ops) {
    const proc = live[op.p % live.length]!;
    const wrap = (line: string): void => {
      if (proc === 'main') out.push(line);
      else out.push(`as ${proc} {`, `  ${line}`, '}');
    };
    if (op.k === 'fork') {
      if (forks >= 2) continue;
      const name = `c${++forks}`;
      wrap(`fork ${name}`);
      live.push(name);
      continue;
    }
    if (op.k === 'exit') {
      if (proc === 'main' || pinned?.proc === proc) continue;
      out.push(`exit ${proc}`);
      live.splice(live.indexOf(proc), 1);
      continue;
    }
    if (op.k === 'release' || op.k === 'close') {
      if (op.k === 'close' && mappedFiles.has(devName(op.d))) continue;
      wrap(`${devName(op.d)} ${op.k}`);
      continue;
    }
    if (!('m' in op)) continue;
    const m = prog.maps[op.m % prog.maps.length]!;
    const mi = op.m % prog.maps.length;
    const s = op.s % m.pages;
    const e = s + 1 + (op.n % (m.pages - s));
    const R = rangeName(`m${mi}`, m.pages, s, e);
    switch (op.k) {
      case 'read': wrap(`read ${R}`); break;
      case 'write': wrap(`write ${R} = i + ${op.K}`); break;
      case 'mprotect': wrap(`mprotect ${R} ${op.prot}`); break;
      case 'munmap': wrap(`munmap ${R}`); break;
      case 'madvise': wrap(`madvise ${R} ${op.advice}`); break;
      case 'migDev': wrap(`migrate ${R} to ${devName(op.d)}`); break;
      case 'migSys': wrap(`migrate ${R} to system${op.from ? ` from ${devName(op.d)}` : ''}`); break;
      case 'devRead': wrap(`${devName(op.d)} read ${R}`); break;
      case 'devWrite': wrap(`${devName(op.d)} write ${R} = i + ${op.K}`); break;
      case 'snapshot': wrap(`${devName(op.d)} snapshot ${R}`); break;
      case 'exclusive': wrap(`${devName(op.d)} exclusive ${R}`); break;
      case 'checkExclusive': wrap(`${devName(op.d)} check-exclusive ${R}`); break;
      case 'pin':
        if (pinned !== undefined) break;
        pinned = { proc, range: R };
        wrap(`pin ${R} longterm`);
        break;
      case 'mremap': {
        const ti = op.t % prog.maps.length;
        const o = op.o % prog.maps[ti]!.pages;
        wrap(`r${remaps++} = mremap ${R} to m${ti}[${o}]${op.du ? ' dontunmap' : ''}`);
        break;
      }
      case 'mresize': {
        const ti = op.t % prog.maps.length;
        const at = op.how === 'fixed' ? ` at m${ti}[${op.o % prog.maps[ti]!.pages}]` : op.how === 'maymove' ? ' maymove' : '';
        wrap(`r${remaps++} = mremap ${R} to ${op.size} pages${at}`);
        break;
      }
      case 'unpin':
        if (pinned === undefined || pinned.proc !== proc) break;
        wrap(`unpin ${pinned.range}`);
        pinned = undefined;
        break;
    }
  }
  // gup_test's pin outlives the process: release it so the next program starts clean.
  if (pinned !== undefined) {
    const line = `unpin ${pinned.range}`;
    if (pinned.proc === 'main') out.push(line);
    else out.push(`as ${pinned.proc} {`, `  ${line}`, '}');
  }
  return `${out.join('\n')}\n`;
}

export interface DifferentialOptions {
  readonly seed: number;
  readonly count: number;
  /** The generator's weighting (FOCUSES); `default` unless given. */
  readonly focus?: Focus;
  /** The generator's weights (programArbitrary): factors over the focus's shares. */
  readonly weights?: OpWeights;
  /** Disagreement kinds to shrink (the rest are counted). */
  readonly maxShrinks?: number;
  /** Rounds of shrinking per kind (each round is one VM program). */
  readonly maxRounds?: number;
  /** Wall-clock budget for all shrinking (a candidate that crashes the kernel costs a boot). */
  readonly shrinkBudgetMs?: number;
  readonly log?: (line: string) => void;
}

export interface ShrunkDisagreement {
  readonly signature: string;
  /** How many of the programs showed it (as their first disagreement). */
  readonly programs: number;
  readonly script: string;
  readonly disagreement: string;
  readonly ops: { readonly from: number; readonly to: number };
  /** The shrunk script with the kernel's answers recorded: add it to test/kernel-regress/. */
  readonly regression: string | undefined;
  /**
   * Whether the program disagrees when it runs alone in a boot; if not, it disagreed only after
   * what earlier programs of the same boot left in the kernel (see FoundDisagreement.index).
   */
  readonly alone: boolean;
}

/** One random program that disagreed, as generated (before shrinking). */
export interface FoundDisagreement {
  /** Its index among the seed's programs (`samplePrograms(seed, count, focus, weights)[index]`). */
  readonly index: number;
  readonly signature: string;
  readonly script: string;
  /** Its first disagreement, `random-N.hmm:line:col: …`. */
  readonly disagreement: string;
  /** The script with the kernel's answers recorded (src/oracle/regression.ts). */
  readonly regression: string | undefined;
}

export interface DifferentialResult {
  readonly seed: number;
  readonly count: number;
  readonly agreed: number;
  readonly disagreed: number;
  /** Programs with nothing the kernel could run (should be none). */
  readonly empty: number;
  readonly crashes: number;
  readonly hangs: number;
  readonly boots: number;
  readonly vmMs: number;
  readonly shrunk: readonly ShrunkDisagreement[];
  readonly found: readonly FoundDisagreement[];
  readonly bySignature: ReadonlyMap<string, number>;
  /** Per feature (COVERAGE_FEATURES), how many agreeing programs exercised it on the kernel. */
  readonly coverage: ReadonlyMap<string, number>;
}

/**
 * What the generator is meant to reach: mapping and device kinds, THP-sized buffers, and each
 * statement the kernel ran (counted from the ops compared, so a statement the kernel never got
 * to does not count), in the main process or in a forked child.
 */
export const COVERAGE_FEATURES = [
  'map:private', 'map:shared', 'map:file-shared', 'map:file-private', 'map:huge', 'map:hugetlb', 'map:devfile', 'map:devfile-shared',
  'device:private', 'device:coherent',
  'read', 'write', 'mprotect', 'munmap', 'madvise', 'fork', 'exit', 'in a child', 'pin', 'unpin',
  'migrate to device', 'migrate to system', 'device read', 'device write', 'snapshot', 'exclusive', 'check-exclusive',
  'release', 'close', 'mremap', 'mremap resize',
] as const;

const STATEMENT_FEATURE: Partial<Record<string, string>> = {
  read: 'read', write: 'write', mprotect: 'mprotect', munmap: 'munmap', madvise: 'madvise', fork: 'fork', exit: 'exit',
  pin: 'pin', unpin: 'unpin', devRead: 'device read', devWrite: 'device write', snapshot: 'snapshot', exclusive: 'exclusive',
  checkExclusive: 'check-exclusive', release: 'release', close: 'close', mremap: 'mremap',
};

/** The COVERAGE_FEATURES one program exercised. */
export function featuresOf(prog: RandomProgram, t: Translation): Set<string> {
  const out = new Set<string>();
  for (const m of prog.maps) out.add(`map:${m.kind}`);
  for (const d of prog.devices) out.add(`device:${d}`);
  for (const op of t.ops) {
    const f = op.kind === 'migrate' ? (/ to system/.test(op.what) ? 'migrate to system' : 'migrate to device') : STATEMENT_FEATURE[op.kind];
    if (f !== undefined) out.add(f);
    if (op.kind === 'mremap' && / to \d+ pages/.test(op.what)) out.add('mremap resize');
  }
  // `op N PROC …`: a process other than 0 is a forked child.
  if (t.lines.some((l) => /^op \d+ [1-9]/.test(l))) out.add('in a child');
  return out;
}

const FILE = (i: number): string => `random-${i}.hmm`;

interface Batch {
  readonly translations: Translation[];
  readonly judgements: ScriptJudgement[];
  /** Each script as a regression file (its kernel answers recorded), when the VM answered for it. */
  readonly regressions: (string | undefined)[];
  readonly boots: number;
  readonly ms: number;
}

async function runBatch(scripts: readonly string[], run: ProgramRunner, about: (i: number) => readonly string[]): Promise<Batch> {
  const translations: Translation[] = [];
  let op = 1;
  scripts.forEach((text, i) => {
    const t = translateRegression(FILE(i), text, op, String(i));
    op += t.ops.length;
    translations.push(t);
  });
  const vm = await runTranslations(translations, run);
  const judgements = translations.map((t, i) => withSimulatorStop(t, judge(t, vm.cases.get(String(i)))));
  const regressions = translations.map((t, i) => {
    const r = vm.cases.get(String(i));
    return r === undefined || t.ops.length === 0 ? undefined : formatRegression(scripts[i]!, r, t.ops[0]!.op, about(i));
  });
  return { translations, judgements, regressions, boots: vm.boots, ms: vm.ms };
}

/** `random-N.hmm:12:3: what: …` without its file and column, for a regression's comments. */
const aboutDisagreement = (text: string): string => text.replace(/^[^:]*\.hmm:(\d+):\d+: /, 'line $1 of the script: ');

const signatureOf = (j: ScriptJudgement): string | undefined => j.disagreements[0]?.signature;

export async function differential(opts: DifferentialOptions, run: ProgramRunner): Promise<DifferentialResult> {
  const log = opts.log ?? (() => undefined);
  const focus = opts.focus ?? 'default';
  const weights = opts.weights ?? {};
  const programs = samplePrograms(opts.seed, opts.count, focus, weights);
  const scripts = programs.map(renderProgram);
  const wtext = weightsText(weights);
  const command = `hmm-sim differential --seed ${opts.seed} --count ${opts.count}${focus === 'default' ? '' : ` --focus ${focus}`}${wtext === '' ? '' : ` --weight ${wtext}`}`;
  log(`differential: seed ${opts.seed}${focus === 'default' ? '' : ` (focus ${focus})`}${wtext === '' ? '' : ` (weights ${wtext})`}, ${opts.count} programs, ${scripts.reduce((n, s) => n + s.split('\n').length, 0)} lines`);
  const first = await runBatch(scripts, run, (i) => [`${command}: program ${i}.`]);
  let boots = first.boots;
  let vmMs = first.ms;
  const bySignature = new Map<string, number>();
  const examples = new Map<string, number[]>();
  const found: FoundDisagreement[] = [];
  const coverage = new Map<string, number>(COVERAGE_FEATURES.map((f) => [f, 0]));
  let agreed = 0;
  let disagreed = 0;
  let empty = 0;
  let crashes = 0;
  let hangs = 0;
  first.judgements.forEach((j, i) => {
    if (j.verdict === 'not expressible' || j.compared === 0) {
      empty++;
      return;
    }
    const sig = signatureOf(j);
    if (sig === undefined) {
      agreed++;
      for (const f of featuresOf(programs[i]!, first.translations[i]!)) coverage.set(f, (coverage.get(f) ?? 0) + 1);
      return;
    }
    disagreed++;
    if (sig.startsWith('crash:')) crashes++;
    if (sig.startsWith('hang:')) hangs++;
    bySignature.set(sig, (bySignature.get(sig) ?? 0) + 1);
    examples.set(sig, [...(examples.get(sig) ?? []), i]);
    found.push({ index: i, signature: sig, script: scripts[i]!, disagreement: j.disagreements[0]!.text, regression: first.regressions[i] });
  });
  log(`differential: ${agreed} agree, ${disagreed} disagree (${crashes} kernel crashes, ${hangs} hangs), ${empty} empty; ${boots} boot(s), ${(vmMs / 1000).toFixed(1)} s in the VM`);

  const shrunk: ShrunkDisagreement[] = [];
  const kinds = [...examples.entries()].sort((a, b) => b[1].length - a[1].length).slice(0, opts.maxShrinks ?? 8);
  const deadline = Date.now() + (opts.shrinkBudgetMs ?? 300_000);
  for (const [sig, which] of kinds) {
    if (Date.now() >= deadline) {
      log(`differential: shrink budget spent; ${sig} not shrunk`);
      continue;
    }
    // Start from the program with the fewest ops that shows it.
    const start = which.map((i) => programs[i]!).sort((a, b) => a.ops.length - b.ops.length)[0]!;
    const about = [`${command}: program ${programs.indexOf(start)}, shrunk (${sig}).`];
    const r = await shrink(start, sig, run, opts.maxRounds ?? 12, deadline, about);
    boots += r.boots;
    vmMs += r.ms;
    const regression = r.regression?.replace(/\n(?=# What Linux)/, `\n# ${aboutDisagreement(r.text)}\n`);
    shrunk.push({
      signature: sig, programs: which.length, script: renderProgram(r.program), disagreement: r.text.replace(/^random-\d+\.hmm/, 'shrunk.hmm'),
      ops: { from: start.ops.length, to: r.program.ops.length }, regression: r.alone ? regression : undefined, alone: r.alone,
    });
    log(r.alone ? `differential: shrunk ${sig} from ${start.ops.length} to ${r.program.ops.length} ops in ${r.rounds} round(s)`
      : `differential: ${sig} does not reproduce alone (it depends on what earlier programs of its boot left in the kernel)`);
  }
  return { seed: opts.seed, count: opts.count, agreed, disagreed, empty, crashes, hangs, boots, vmMs, shrunk, found, bySignature, coverage };
}

/**
 * Delta debugging, a VM program per round: every candidate that drops a chunk of ops (halves,
 * quarters, … single ops) runs in the same program, and the smallest one that still shows the
 * same kind of disagreement is kept.
 */
async function shrink(prog: RandomProgram, sig: string, run: ProgramRunner, maxRounds: number, deadline: number, about: readonly string[]):
  Promise<{ program: RandomProgram; text: string; regression: string | undefined; alone: boolean; rounds: number; boots: number; ms: number }> {
  let best = prog;
  let text = '';
  let regression: string | undefined;
  let alone = true;
  let boots = 0;
  let ms = 0;
  let rounds = 0;
  for (; rounds < maxRounds && Date.now() < deadline; rounds++) {
    const cands: RandomProgram[] = [best];
    const n = best.ops.length;
    for (let size = Math.max(1, n >> 1); ; size >>= 1) {
      for (let at = 0; at < n; at += size) cands.push({ ...best, ops: [...best.ops.slice(0, at), ...best.ops.slice(at + size)] });
      if (size === 1) break;
    }
    // Fewer mappings and devices too.
    if (best.maps.length > 1) for (let m = 0; m < best.maps.length; m++) cands.push({ ...best, maps: best.maps.filter((_, i) => i !== m) });
    // A candidate that crashes the kernel costs a boot: a round tries at most this many.
    cands.length = Math.min(cands.length, 1 + SHRINK_CANDIDATES_PER_ROUND);
    const r = await runBatch(cands.map(renderProgram), run, () => about);
    boots += r.boots;
    ms += r.ms;
    if (rounds === 0) {
      alone = signatureOf(r.judgements[0]!) === sig;
      text = r.judgements[0]!.disagreements[0]?.text ?? text;
      regression = r.regressions[0];
      // It disagreed only after the programs before it in the same boot: the kernel state they
      // left (which the simulator did not predict) is part of the cause; nothing to shrink alone.
      if (!alone) break;
    }
    let pick = -1;
    r.judgements.forEach((j, i) => {
      if (i === 0 || signatureOf(j) !== sig) return;
      if (pick < 0 || size(cands[i]!) < size(cands[pick]!)) pick = i;
    });
    if (pick < 0) {
      // Nothing smaller reproduces it (or the original stopped reproducing: keep it as it is).
      if (signatureOf(r.judgements[0]!) === sig) text = r.judgements[0]!.disagreements[0]!.text;
      break;
    }
    best = cands[pick]!;
    text = r.judgements[pick]!.disagreements[0]!.text;
    regression = r.regressions[pick];
  }
  return { program: best, text, regression, alone, rounds, boots, ms };
}

const size = (p: RandomProgram): number => renderProgram(p).length;

/** Candidates per shrinking round (the coarse cuts come first; singles follow once the program is small). */
const SHRINK_CANDIDATES_PER_ROUND = 16;
