// Command-line arguments with node:util parseArgs (strict: unknown options and missing values
// are errors), its errors reworded the way the rest of hmm-sim speaks; values are then checked
// by the command (numbers, versions).

import { parseArgs } from 'node:util';

export type OptionSpec = Readonly<Record<string, { readonly type: 'string' | 'boolean'; readonly short?: string }>>;

type Values<S extends OptionSpec> = { [K in keyof S]?: S[K]['type'] extends 'string' ? string : boolean };

export interface Parsed<S extends OptionSpec> {
  readonly values: Values<S>;
  readonly positionals: string[];
}

/** The options and operands of `args`, or a one-line message saying what is wrong. */
export function parseOptions<S extends OptionSpec>(args: readonly string[], options: S, allowPositionals = true): Parsed<S> | string {
  try {
    const r = parseArgs({ args: [...args], options, allowPositionals, strict: true });
    return { values: r.values as Values<S>, positionals: r.positionals };
  } catch (e) {
    return reword(e, options);
  }
}

/** node:util's messages name options as `'-v, --verbose'`; say it as the usage does. */
function reword(e: unknown, options: OptionSpec): string {
  const err = e as { code?: string; message?: string };
  const message = err.message ?? String(e);
  const quoted = /'([^']+)'/.exec(message)?.[1] ?? '';
  const option = /--[\w-]+/.exec(quoted)?.[0] ?? quoted;
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': return `unknown option '${option}'`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL': return `unexpected argument '${quoted}'`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const name = option.replace(/^--/, '');
      if (options[name]?.type === 'boolean') return `${option} takes no value`;
      return `${option} needs a value`;
    }
    default: return message;
  }
}

/** A number above 0 and at most `max` given to `option`, or a message. */
export function positiveNumber(option: string, text: string, max: number): number | string {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0 || n > max) return `${option} must be a number above 0 and at most ${max}, found '${text}'`;
  return n;
}

/** A whole number from `min` to `max` given to `option`, or a message. */
export function wholeNumber(option: string, text: string, min: number, max: number): number | string {
  const n = Number(text);
  return /^\d+$/.test(text) && n >= min && n <= max ? n : `${option} takes a whole number from ${min} to ${max}, found '${text}'`;
}
