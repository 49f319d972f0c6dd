// Compile a PATTERN expression into a word function of `i` with loop variables bound, in 32-bit
// signed arithmetic, and a structural key so equal patterns compare without evaluation.

import type { PatternFn } from '../content';
import type { Expr } from './ast';

export type Vars = ReadonlyMap<string, number>;

/** Evaluate an expression that does not use `i` (indices, counts). */
export function evalConst(e: Expr, vars: Vars): number {
  return compile(e, vars).word(0);
}

function key(e: Expr, vars: Vars): string {
  switch (e.kind) {
    case 'num': return String(e.value | 0);
    case 'wordIndex': return 'i';
    case 'var': return String((vars.get(e.name) ?? 0) | 0);
    case 'neg': return `(-${key(e.operand, vars)})`;
    case 'binary': return `(${key(e.left, vars)}${e.op}${key(e.right, vars)})`;
  }
}

function usesI(e: Expr): boolean {
  switch (e.kind) {
    case 'wordIndex': return true;
    case 'neg': return usesI(e.operand);
    case 'binary': return usesI(e.left) || usesI(e.right);
    default: return false;
  }
}

function fn(e: Expr, vars: Vars): (i: number) => number {
  switch (e.kind) {
    case 'num': {
      const v = e.value | 0;
      return () => v;
    }
    case 'wordIndex': return (i) => i | 0;
    case 'var': {
      const v = (vars.get(e.name) ?? 0) | 0;
      return () => v;
    }
    case 'neg': {
      const a = fn(e.operand, vars);
      return (i) => -a(i) | 0;
    }
    case 'binary': {
      const a = fn(e.left, vars);
      const b = fn(e.right, vars);
      switch (e.op) {
        case '+': return (i) => (a(i) + b(i)) | 0;
        case '-': return (i) => (a(i) - b(i)) | 0;
        case '*': return (i) => Math.imul(a(i), b(i));
        case '&': return (i) => a(i) & b(i);
        case '|': return (i) => a(i) | b(i);
        case '^': return (i) => a(i) ^ b(i);
        case '<<': return (i) => a(i) << (b(i) & 31);
        case '>>': return (i) => a(i) >> (b(i) & 31);
      }
    }
  }
}

export function compile(e: Expr, vars: Vars): PatternFn {
  const word = fn(e, vars);
  const k = key(e, vars);
  return usesI(e) ? { key: k, word } : { key: k, word, constant: word(0) };
}

/** Source-like text of a pattern, for messages. */
export function patternText(e: Expr): string {
  switch (e.kind) {
    case 'num': return String(e.value);
    case 'wordIndex': return 'i';
    case 'var': return e.name;
    case 'neg': return `-${patternText(e.operand)}`;
    case 'binary': return `${wrap(e.left)} ${e.op} ${wrap(e.right)}`;
  }
}

function wrap(e: Expr): string {
  return e.kind === 'binary' ? `(${patternText(e)})` : patternText(e);
}
