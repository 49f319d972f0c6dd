// The lexer: turns a script into lines of tokens (1-based line/column), one statement per line.

import type { Diagnostic, Loc } from './ast';

export type OpText =
  | '=' | '==' | '!=' | '<' | '<=' | '>' | '>=' | '+' | '-' | '*' | '&' | '|' | '^' | '<<' | '>>'
  | '(' | ')' | '[' | ']' | '{' | '}' | ',' | '.' | '..' | '->';

interface TokenBase {
  readonly line: number;
  readonly col: number;
  /** Exclusive 1-based end column. */
  readonly endCol: number;
  /** The source text of the token. */
  readonly text: string;
}

export type Token =
  | (TokenBase & { readonly kind: 'name' })
  | (TokenBase & { readonly kind: 'number'; readonly value: number })
  | (TokenBase & { readonly kind: 'string'; readonly value: string })
  | (TokenBase & { readonly kind: 'op'; readonly op: OpText })
  /** Closes every line, so the parser can always point at "end of line". */
  | (TokenBase & { readonly kind: 'eol' });

/** The tokens of one non-blank line; `tokens` always ends with an `eol` token. */
export interface TokenLine {
  readonly line: number;
  readonly tokens: readonly Token[];
  /** The lexer already reported a problem on this line: the parser should not parse it. */
  readonly hasError: boolean;
}

export interface LexResult {
  readonly lines: readonly TokenLine[];
  /** Where the file ends (for blocks left open). */
  readonly eof: Loc;
  readonly diagnostics: Diagnostic[];
}

/**
 * Keywords written with a hyphen. They are lexed as one name only when written without spaces,
 * so `x-1` in a pattern still lexes as a subtraction.
 */
export const HYPHEN_WORDS: readonly string[] = ['check-exclusive', 'fail-next-alloc', 'accessed-by', 'read-mostly'];

// Longest first, so `<<` wins over `<` and `..` over `.`.
const OPS: readonly OpText[] = [
  '==', '!=', '<=', '>=', '<<', '>>', '..', '->',
  '=', '<', '>', '+', '-', '*', '&', '|', '^', '(', ')', '[', ']', '{', '}', ',', '.',
];

const isNameStart = (c: string | undefined): boolean => c !== undefined && /[A-Za-z_]/.test(c);
const isNameChar = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9_]/.test(c);
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/** Splits `text` into token lines. Problems are reported and the affected lines flagged. */
export function lex(file: string, text: string): LexResult {
  const diagnostics: Diagnostic[] = [];
  const lines: TokenLine[] = [];
  const srcLines = text.split(/\r\n|\r|\n/);

  srcLines.forEach((src, idx) => {
    const line = idx + 1;
    const tokens: Token[] = [];
    let hasError = false;
    const error = (col: number, endCol: number, message: string): void => {
      hasError = true;
      diagnostics.push({ file, line, col, endCol, severity: 'error', message });
    };

    let p = 0;
    while (p < src.length) {
      const c = src[p];
      const col = p + 1;
      if (c === ' ' || c === '\t') { p++; continue; }
      if (c === '#') break;

      if (isNameStart(c)) {
        const hyphen = HYPHEN_WORDS.find((w) => src.startsWith(w, p) && !isNameChar(src[p + w.length]));
        let end = p + 1;
        if (hyphen !== undefined) end = p + hyphen.length;
        else while (isNameChar(src[end])) end++;
        tokens.push({ kind: 'name', text: src.slice(p, end), line, col, endCol: end + 1 });
        p = end;
        continue;
      }

      if (isDigit(c)) {
        const hex = c === '0' && (src[p + 1] === 'x' || src[p + 1] === 'X');
        let end = hex ? p + 2 : p;
        const digit = hex ? (ch: string | undefined) => ch !== undefined && /[0-9A-Fa-f]/.test(ch) : isDigit;
        while (digit(src[end]) || src[end] === '_') end++;
        const raw = src.slice(p, end);
        const digits = raw.slice(hex ? 2 : 0);
        // A `_` only separates digits: not leading, trailing or doubled.
        if (digits === '' || digits.startsWith('_') || digits.endsWith('_') || digits.includes('__')) {
          error(col, end + 1, digits === ''
            ? `malformed number '${raw}': expected hex digits after '0x'`
            : `malformed number '${raw}': '_' may only stand between digits`);
        } else {
          const value = hex ? parseInt(digits.replace(/_/g, ''), 16) : Number(digits.replace(/_/g, ''));
          if (!Number.isSafeInteger(value)) error(col, end + 1, `number '${raw}' is too large`);
          tokens.push({ kind: 'number', text: raw, value, line, col, endCol: end + 1 });
        }
        p = end;
        continue;
      }

      if (c === '"') {
        let end = p + 1;
        let value = '';
        let closed = false;
        while (end < src.length) {
          const ch = src[end];
          if (ch === '"') { closed = true; end++; break; }
          if (ch === '\\') {
            const esc = src[end + 1];
            const map: Record<string, string> = { n: '\n', t: '\t', '"': '"', '\\': '\\' };
            if (esc !== undefined && map[esc] !== undefined) value += map[esc];
            else error(end + 1, end + 3, `unknown escape '\\${esc ?? ''}' in string (use \\" \\\\ \\n or \\t)`);
            end += 2;
            continue;
          }
          value += ch;
          end++;
        }
        if (!closed) error(col, src.length + 1, 'unterminated string: missing closing \'"\'');
        tokens.push({ kind: 'string', text: src.slice(p, end), value, line, col, endCol: end + 1 });
        p = end;
        continue;
      }

      const op = OPS.find((o) => src.startsWith(o, p));
      if (op !== undefined) {
        tokens.push({ kind: 'op', op, text: op, line, col, endCol: col + op.length });
        p += op.length;
        continue;
      }

      error(col, col + 1, `unexpected character '${c}'`);
      p++;
    }

    if (tokens.length === 0 && !hasError) return; // blank or comment-only line
    const eolCol = tokens.length > 0 ? tokens[tokens.length - 1].endCol : 1;
    tokens.push({ kind: 'eol', text: '', line, col: eolCol, endCol: eolCol });
    lines.push({ line, tokens, hasError });
  });

  const last = srcLines.length;
  return { lines, eof: { line: last, col: (srcLines[last - 1] ?? '').length + 1 }, diagnostics };
}

/** How a token is named in a message: `'rx'`, `end of line`, `"text"`. */
export function describeToken(t: Token): string {
  switch (t.kind) {
    case 'eol': return 'end of line';
    case 'string': return t.text;
    default: return `'${t.text}'`;
  }
}
