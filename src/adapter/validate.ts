// Every DAP request's arguments checked at the boundary, before any handler sees them: types,
// integer ranges and string / list lengths. A request that fails gets an error response and
// changes nothing, so a bad request cannot leave state that breaks a later one.

import { EVENT_FILTERS } from '../hmm/lang/debug/eventBreakpoints';
import { isLinuxVersion, LINUX_VERSIONS } from '../hmm/profile';
import { CUSTOM_REQUESTS, type HmmLaunchArguments } from './protocol';

/** Checks one value; returns what is wrong with it (for `where`), or undefined. */
type Check = (v: unknown, where: string) => string | undefined;

/** Lengths that keep every handler bounded (conditions are matched with regular expressions). */
export const LIMITS = {
  /** Conditions, hit conditions, log messages, names, expressions. */
  text: 4096,
  /** Paths and memory references. */
  path: 4096,
  /** Breakpoints, filters, data breakpoints, lines per request. */
  items: 10000,
  /** Base64 of a writeMemory request (16 MiB of bytes). */
  base64: 4 * Math.ceil((16 * 2 ** 20) / 3),
} as const;

const MAX_INT = Number.MAX_SAFE_INTEGER;

const str = (max: number = LIMITS.text): Check => (v, where) =>
  typeof v !== 'string' ? `'${where}' must be a string` : v.length > max ? `'${where}' must be at most ${max} characters` : undefined;

const bool: Check = (v, where) => (typeof v === 'boolean' ? undefined : `'${where}' must be true or false`);

const int = (min: number, max: number = MAX_INT): Check => (v, where) =>
  typeof v !== 'number' || !Number.isInteger(v) ? `'${where}' must be an integer`
    : v < min || v > max ? `'${where}' must be between ${min} and ${max}` : undefined;

const num = (min: number, max: number): Check => (v, where) =>
  typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max ? `'${where}' must be a number between ${min} and ${max}` : undefined;

const oneOf = (...values: string[]): Check => (v, where) =>
  typeof v === 'string' && values.includes(v) ? undefined : `'${where}' must be one of ${values.join(', ')}`;

/** Absent is fine; anything else (null too) must pass `c`. */
const opt = (c: Check): Check & { optional: true } => Object.assign((v: unknown, where: string) => (v === undefined ? undefined : c(v, where)), { optional: true as const });

const arr = (item: Check, max: number = LIMITS.items): Check => (v, where) => {
  if (!Array.isArray(v)) return `'${where}' must be a list`;
  if (v.length > max) return `'${where}' must hold at most ${max} items`;
  for (let i = 0; i < v.length; i++) {
    const p = item(v[i], `${where}[${i}]`);
    if (p !== undefined) return p;
  }
  return undefined;
};

/** An object with these fields (others are ignored: clients add their own). */
const obj = (fields: Record<string, Check>): Check => {
  // Listed once: every request (each step too) is checked against it.
  const entries = Object.entries(fields);
  return (v, where) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return `'${where}' must be an object`;
    const o = v as Record<string, unknown>;
    for (const [k, c] of entries) {
      const p = c(o[k], where === '' ? k : `${where}.${k}`);
      if (p !== undefined) return p;
    }
    return undefined;
  };
};

/** Any JSON value: only its presence matters to us. */
const anything: Check = () => undefined;

const line = int(0, 1e9);
const threadId = { threadId: int(-MAX_INT) };
const stepping = obj({ ...threadId, singleThread: opt(bool), granularity: opt(oneOf('statement', 'line', 'instruction')) });

const source = obj({ path: opt(str(LIMITS.path)), name: opt(str(LIMITS.path)), sourceReference: opt(int(0)) });

/** Arguments of every request this adapter handles; absent arguments are checked as `{}`. */
const REQUESTS: Readonly<Record<string, Check>> = {
  initialize: obj({
    clientID: opt(str()), clientName: opt(str()), adapterID: opt(str()), locale: opt(str()),
    linesStartAt1: opt(bool), columnsStartAt1: opt(bool), pathFormat: opt(str()),
  }),
  // Launch options' meaning is checked by the session (validateLaunch); here, their types.
  launch: obj({
    program: opt(str(LIMITS.path)), stopOnEntry: opt(bool), noDebug: opt(bool), traceStatements: opt(bool), prefetcher: opt(bool),
    timeout: opt(num(0.001, 7 * 24 * 3600)), maxMemory: opt(int(1, 2 ** 20)),
  }),
  attach: anything,
  configurationDone: obj({}),
  setBreakpoints: obj({
    source,
    breakpoints: opt(arr(obj({
      line, column: opt(line), condition: opt(str()), hitCondition: opt(str()), logMessage: opt(str()),
    }))),
    lines: opt(arr(line)),
    sourceModified: opt(bool),
  }),
  setExceptionBreakpoints: obj({
    filters: opt(arr(str(256))),
    filterOptions: opt(arr(obj({ filterId: str(256), condition: opt(str()) }))),
    exceptionOptions: opt(arr(anything)),
  }),
  setDataBreakpoints: obj({
    breakpoints: arr(obj({ dataId: str(), accessType: opt(str(64)), condition: opt(str()), hitCondition: opt(str()) })),
  }),
  setFunctionBreakpoints: obj({
    breakpoints: arr(obj({ name: str(), condition: opt(str()), hitCondition: opt(str()) })),
  }),
  dataBreakpointInfo: obj({ variablesReference: opt(int(0)), name: str(), frameId: opt(int(-MAX_INT)) }),
  threads: anything,
  stackTrace: obj({ ...threadId, startFrame: opt(int(0)), levels: opt(int(0)) }),
  scopes: obj({ frameId: int(-MAX_INT) }),
  variables: obj({ variablesReference: int(0), filter: opt(oneOf('indexed', 'named')), start: opt(int(0)), count: opt(int(0)) }),
  continue: stepping, next: stepping, stepIn: stepping, stepOut: stepping, stepBack: stepping, reverseContinue: stepping,
  pause: obj(threadId),
  restart: opt(obj({ arguments: opt(obj({})) })),
  terminate: opt(obj({ restart: opt(bool) })),
  disconnect: opt(obj({ restart: opt(bool), terminateDebuggee: opt(bool), suspendDebuggee: opt(bool) })),
  exceptionInfo: obj(threadId),
  readMemory: obj({ memoryReference: str(LIMITS.path), offset: opt(int(-MAX_INT)), count: int(0) }),
  writeMemory: obj({ memoryReference: str(LIMITS.path), offset: opt(int(-MAX_INT)), allowPartial: opt(bool), data: str(LIMITS.base64) }),
  evaluate: obj({ expression: str(), frameId: opt(int(-MAX_INT)), context: opt(str(64)) }),
  completions: obj({ text: str(), column: int(1, LIMITS.text + 1), line: opt(line), frameId: opt(int(-MAX_INT)) }),
  [CUSTOM_REQUESTS.residency]: opt(obj({
    process: opt(str()), mapping: opt(str()), start: opt(int(0)), end: opt(int(0)), maxRuns: opt(int(1, 65536)),
  })),
  [CUSTOM_REQUESTS.notifiers]: opt(obj({ since: opt(int(-1)), limit: opt(int(1, 10000)) })),
  [CUSTOM_REQUESTS.migrations]: anything,
  [CUSTOM_REQUESTS.lineEffects]: anything,
  [CUSTOM_REQUESTS.picture]: opt(obj({ process: opt(str()), maxRuns: opt(int(16, 200000)) })),
  // a virtual page number: below 2^36 (a 48-bit address space of 4 KiB pages)
  [CUSTOM_REQUESTS.pageWhy]: obj({ process: opt(str()), page: int(0, 2 ** 36 - 1) }),
};

/** What is wrong with a request's arguments, as one line for the error response; undefined if nothing. */
export function requestProblem(command: unknown, args: unknown): string | undefined {
  if (typeof command !== 'string') return "a request's 'command' must be a string";
  const check = REQUESTS[command];
  if (check === undefined) return undefined; // unknown requests get the library's "unrecognized request"
  const optional = (check as { optional?: true }).optional === true;
  const p = check(args === undefined && !optional ? {} : args, '');
  return p === undefined ? undefined : `${command}: ${p.replace("''", 'the arguments')}`;
}

/** What is wrong with a launch request's arguments (the ones the DAP library passes through untyped), if anything. */
export function launchProblem(args: Partial<HmmLaunchArguments>): string | undefined {
  if (typeof args.program !== 'string' || args.program.trim() === '') return "launch: 'program' must be the path of a .hmm script";
  for (const k of ['stopOnEntry', 'noDebug', 'traceStatements', 'prefetcher'] as const) {
    if (args[k] !== undefined && typeof args[k] !== 'boolean') return `launch: '${k}' must be true or false`;
  }
  if (args.linux !== undefined && (typeof args.linux !== 'string' || !isLinuxVersion(args.linux))) {
    return `launch: 'linux' must be one of ${LINUX_VERSIONS.join(', ')}`;
  }
  const eb: unknown = args.eventBreakpoints;
  if (eb !== undefined) {
    const ids = EVENT_FILTERS.map((f) => f.id).join(', ');
    if (typeof eb !== 'object' || eb === null || Array.isArray(eb)) return `launch: 'eventBreakpoints' must be an object: filter id (${ids}) to condition ('' for none)`;
    for (const [id, condition] of Object.entries(eb)) {
      if (!EVENT_FILTERS.some((f) => f.id === id)) return `launch: 'eventBreakpoints' has no filter '${id}' (${ids})`;
      if (typeof condition !== 'string' || condition.length > 1000) return `launch: 'eventBreakpoints.${id}' must be a condition string ('' for none)`;
    }
  }
  if (args.timeout !== undefined && !(typeof args.timeout === 'number' && args.timeout > 0)) return "launch: 'timeout' must be a number of seconds above 0";
  if (args.maxMemory !== undefined && !(Number.isInteger(args.maxMemory) && args.maxMemory > 0)) return "launch: 'maxMemory' must be a whole number of MiB above 0";
  return undefined;
}
