// Page contents without a buffer per page: a page holds (contentId, contentPage). Id 0 is all
// zeros; a pattern id gives word k of the page as fn(contentPage * 1024 + k), i.e. `i` counted
// from the start of the mapping the pattern was written through; a words id owns real bytes
// (written through the debugger's memory view). Copying a page copies two integers.

import { WORDS_PER_PAGE } from './constants';

/** A pattern compiled by the language layer: word value as a function of `i`. */
export interface PatternFn {
  /** Structural key: equal keys mean equal functions (loop variables already substituted). */
  readonly key: string;
  readonly word: (i: number) => number;
  /** Set when the pattern does not depend on `i`. */
  readonly constant?: number;
}

/**
 * A number is a pattern without `i` (every word is that value), kept as a bare small integer:
 * a loop writing its counter (`write a = k`) makes one per turn, and an object, a closure and a
 * key string each cost several times a slot of the array.
 */
type Content =
  | number
  | { readonly kind: 'zero' }
  | { readonly kind: 'pattern'; readonly fn: PatternFn }
  | { readonly kind: 'words'; readonly words: Int32Array };

export const ZERO_CONTENT = 0;

export class ContentStore {
  private readonly contents: Content[] = [{ kind: 'zero' }];
  private readonly byKey = new Map<string, number>();
  private readonly byConstant = new Map<number, number>();

  /** The id of a pattern's content; the same pattern always gets the same id. */
  intern(fn: PatternFn): number {
    if (fn.constant === 0) return ZERO_CONTENT;
    if (fn.constant !== undefined) {
      const value = fn.constant | 0;
      const have = this.byConstant.get(value);
      if (have !== undefined) return have;
      this.contents.push(value);
      this.byConstant.set(value, this.contents.length - 1);
      return this.contents.length - 1;
    }
    const known = this.byKey.get(fn.key);
    if (known !== undefined) return known;
    const id = this.contents.length;
    this.contents.push({ kind: 'pattern', fn });
    this.byKey.set(fn.key, id);
    return id;
  }

  /** The id intern(fn) would return, if the pattern has one already (nothing is added). */
  idOf(fn: PatternFn): number | undefined {
    if (fn.constant === 0) return ZERO_CONTENT;
    if (fn.constant !== undefined) return this.byConstant.get(fn.constant | 0);
    return this.byKey.get(fn.key);
  }

  /** A page with its own bytes, starting as a copy of (id, page). */
  materialize(id: number, page: number): number {
    const words = new Int32Array(WORDS_PER_PAGE);
    this.fill(id, page, words);
    const newId = this.contents.length;
    this.contents.push({ kind: 'words', words });
    return newId;
  }

  word(id: number, page: number, k: number): number {
    const c = this.contents[id];
    if (typeof c === 'number') return c;
    if (c === undefined || c.kind === 'zero') return 0;
    if (c.kind === 'words') return c.words[k] ?? 0;
    return c.fn.word(page * WORDS_PER_PAGE + k) | 0;
  }

  fill(id: number, page: number, out: Int32Array, outOffset = 0): void {
    const c = this.contents[id];
    if (typeof c === 'number') {
      out.fill(c, outOffset, outOffset + WORDS_PER_PAGE);
    } else if (c === undefined || c.kind === 'zero') {
      out.fill(0, outOffset, outOffset + WORDS_PER_PAGE);
    } else if (c.kind === 'words') {
      out.set(c.words, outOffset);
    } else {
      const base = page * WORDS_PER_PAGE;
      for (let k = 0; k < WORDS_PER_PAGE; k++) out[outOffset + k] = c.fn.word(base + k) | 0;
    }
  }

  /**
   * Index of the first word of page (id, page) that differs from `expected` evaluated for the
   * same words, or -1. Same pattern and same page compare without evaluating a word.
   */
  firstMismatch(id: number, page: number, expected: PatternFn, expectedPage: number): number {
    const c = this.contents[id];
    if (typeof c === 'number') {
      if (expected.constant !== undefined && (expected.constant | 0) === c) return -1;
    } else if (c !== undefined && c.kind === 'pattern' && c.fn.key === expected.key && page === expectedPage) return -1;
    if ((c === undefined || (typeof c !== 'number' && c.kind === 'zero')) && expected.constant === 0) return -1;
    const base = expectedPage * WORDS_PER_PAGE;
    for (let k = 0; k < WORDS_PER_PAGE; k++) {
      if ((this.word(id, page, k) | 0) !== (expected.word(base + k) | 0)) return k;
    }
    return -1;
  }

  /** Whether two pages hold the same words (cheap when they share a content). */
  samePage(idA: number, pageA: number, idB: number, pageB: number): boolean {
    const c = this.contents[idA];
    if (idA === idB && (pageA === pageB || typeof c === 'number' || c?.kind !== 'pattern')) return true;
    for (let k = 0; k < WORDS_PER_PAGE; k++) {
      if (this.word(idA, pageA, k) !== this.word(idB, pageB, k)) return false;
    }
    return true;
  }

  describe(id: number): string {
    const c = this.contents[id];
    if (typeof c === 'number') return String(c);
    if (c === undefined || c.kind === 'zero') return '0';
    return c.kind === 'pattern' ? c.fn.key : 'bytes';
  }

  get size(): number {
    return this.contents.length;
  }

  /** Contents are never changed once made, so a checkpoint is the count and a restore truncates. */
  truncate(size: number): void {
    for (let id = size; id < this.contents.length; id++) {
      const c = this.contents[id]!;
      if (typeof c === 'number') this.byConstant.delete(c);
      else if (c.kind === 'pattern') this.byKey.delete(c.fn.key);
    }
    this.contents.length = size;
  }

  /** A new words content: (id, page) with `words` written at word `offset` (copy on write). */
  withWords(id: number, page: number, offset: number, words: Int32Array): number {
    const newId = this.materialize(id, page);
    (this.contents[newId] as { words: Int32Array }).words.set(words, offset);
    return newId;
  }
}

/**
 * The contents of consecutive pages as a device read them, kept as runs: page j of a run holds
 * (id, page + j). Data written with one pattern and read back in order is one run, so reading
 * a million pages stores a few numbers (a snapshot, not a view: frames may change later).
 */
export class PageContents {
  /** Per run: index of its first page, content id, content page of its first page. */
  private readonly first: number[] = [];
  private readonly ids: number[] = [];
  private readonly pages: number[] = [];
  /** Pages appended so far. */
  length = 0;

  append(id: number, page: number): void {
    const r = this.ids.length - 1;
    if (r >= 0 && this.ids[r] === id && this.pages[r]! + (this.length - this.first[r]!) === page) {
      this.length++;
      return;
    }
    this.first.push(this.length);
    this.ids.push(id);
    this.pages.push(page);
    this.length++;
  }

  /** append(id, page + k) for k of [0, n). */
  appendRun(id: number, page: number, n: number): void {
    if (n <= 0) return;
    this.append(id, page);
    // Each next page continues the run append just left last.
    this.length += n - 1;
  }

  private runOf(j: number): number {
    let lo = 0;
    let hi = this.first.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.first[mid]! <= j) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  idAt(j: number): number {
    return this.ids[this.runOf(j)]!;
  }

  pageAt(j: number): number {
    const r = this.runOf(j);
    return this.pages[r]! + (j - this.first[r]!);
  }

  /** The runs that overlap pages [from, to), clipped: (index, count, id, page of index). */
  *runs(from: number, to: number): Generator<{ index: number; count: number; id: number; page: number }> {
    if (from >= to) return;
    for (let r = this.runOf(from); r < this.first.length && this.first[r]! < to; r++) {
      const start = Math.max(from, this.first[r]!);
      const end = Math.min(to, this.first[r + 1] ?? this.length);
      yield { index: start, count: end - start, id: this.ids[r]!, page: this.pages[r]! + (start - this.first[r]!) };
    }
  }
}
