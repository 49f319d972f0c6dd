// Every custom DAP request and event of the hmm debugger, typed in one place and documented in
// docs/dap-extensions.md (keep the two in step: test/dap.test.ts checks the command names).

/** Launch configuration of type `hmm`. */
export interface HmmLaunchArguments {
  /** Absolute path of the .hmm script. */
  program: string;
  /** Stop before the first statement. */
  stopOnEntry?: boolean;
  /** Run without stopping (Run Without Debugging). */
  noDebug?: boolean;
  /** Every statement's events as a collapsed output group (noisy in loops). */
  traceStatements?: boolean;
  /** The density prefetcher of fault-driven migrations (default true). */
  prefetcher?: boolean;
  /** The kernel version modelled: 'mainline' (default) or '6.12'; a script's `linux` line wins. */
  linux?: string;
  /**
   * Event breakpoints on from the start, by filter id (`deviceFault`, `cpuFaultOnDevice`, …), each
   * with a condition ('' for none). They add to what is ticked in the Breakpoints view, which
   * VS Code shows only once a session has started.
   */
  eventBreakpoints?: Record<string, string>;
  /** Seconds one continue or step may run before it stops with a runtime error (none by default). */
  timeout?: number;
  /** MiB the adapter process may use before the run stops with a runtime error (default 2048). */
  maxMemory?: number;
}

/** Residency runs of one mapping in one process. */
export interface ResidencyArguments {
  /** Process name (`main` when absent). */
  process?: string;
  /** Mapping name; all mappings when absent. */
  mapping?: string;
  /** Page range within the mapping (default all), and a cap on runs returned. */
  start?: number;
  end?: number;
  maxRuns?: number;
}

export interface ResidencyRun {
  start: number;
  end: number;
  /** `unmapped` | `empty` | `zero` | `system` | `device` | `exclusive`. */
  kind: string;
  device?: string;
  writable?: boolean;
  shared?: boolean;
  pinned?: boolean;
  huge?: boolean;
  /** Per device: `none` | `read` | `write` | `atomic` for the run's first page. */
  mirrors: Record<string, string>;
}

export interface ResidencyMapping {
  name: string;
  process: string;
  /** First address (hex) and size in pages. */
  address: string;
  pages: number;
  runs: ResidencyRun[];
  truncated: boolean;
}

export interface ResidencyResponseBody {
  step: number;
  mappings: ResidencyMapping[];
}

export interface MigrationInfo {
  process: string;
  range: string;
  start: number;
  end: number;
  direction: 'to-device' | 'to-system';
  device: string;
  phase: string;
  cpages: number;
  cause: string;
  /** Runs of pages left behind with their reason. */
  skipped: { start: number; count: number; reason: string }[];
}

export interface MigrationsResponseBody {
  step: number;
  migrations: MigrationInfo[];
}

export interface NotifierArguments {
  /** Only records after this event sequence number. */
  since?: number;
  /** At most this many (newest). */
  limit?: number;
}

export interface NotifierCallback {
  seq: number;
  line?: number;
  process: string;
  event: string;
  range: string;
  owner: string | null;
  mirror: string;
  seqBefore: number;
  seqAfter: number;
  action: string;
  erased: number;
  count: number;
}

export interface NotifiersResponseBody {
  step: number;
  callbacks: NotifierCallback[];
}

/** Per source line: what its statements caused so far (editor decorations). */
export interface LineEffectsResponseBody {
  step: number;
  lines: {
    line: number;
    cpuFaults: number;
    /** Pages devices faulted on, and the fault batches that serviced them. */
    deviceFaultPages: number;
    deviceFaultBatches: number;
    pagesToDevice: number;
    pagesToSystem: number;
    invalidations: number;
    errors: number;
  }[];
}

/** The address-space picture of one process (the map): see src/hmm/lang/picture.ts. */
export type {
  FrameSpan, Picture, PictureCallback, PictureCopy, PictureCpuRun, PictureDeviceRun, PictureJob, PictureLane, PictureMemory,
  PictureMigration, PictureNow, PictureVma,
} from '../hmm/lang/picture';

export interface PictureArguments {
  /** Process name (the stopped one when absent). */
  process?: string;
  /** Runs per lane before a lane is summarised in buckets (16..200000, default 20000). */
  maxRuns?: number;
}

/** Why one page is where it is: the REPL's `why` answer, and the line of the newest event that changed it. */
export interface PageWhyArguments {
  process?: string;
  /** Virtual page number (address / 4096). */
  page: number;
}

export interface PageWhyResponseBody {
  step: number;
  text: string;
  /** Source line of the statement that last changed the page, if any. */
  line?: number;
}

/** Custom requests: command name → arguments and response body. */
export const CUSTOM_REQUESTS = {
  residency: 'hmm/residency',
  migrations: 'hmm/migrations',
  notifiers: 'hmm/notifiers',
  lineEffects: 'hmm/lineEffects',
  picture: 'hmm/picture',
  pageWhy: 'hmm/pageWhy',
} as const;

/** Custom events. `hmm/stateChanged` is sent after every stop and rewind: views refresh. */
export const CUSTOM_EVENTS = {
  stateChanged: 'hmm/stateChanged',
} as const;

export interface StateChangedEventBody {
  step: number;
  reason: string;
  line?: number;
  /** The process of the stopped thread (a GPU job's is the process that launched it). */
  process: string;
  /** Every live process, by name (threads also list GPU jobs, which are not processes). */
  processes: string[];
}
