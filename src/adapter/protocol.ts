// Every custom DAP request and event of the hmm debugger, typed in one place and documented in
// docs/dap-extensions.md (keep the two in step: test/dap.test.ts checks the command names).

/** Bytes per page: the protocol's page numbers (`firstPage`, `vpn`) times this are its addresses. */
export { PAGE_SIZE } from '../hmm/constants';

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

/** The queries' arguments and answers: see src/hmm/lang/debug/queries.ts. */
export type {
  LineEffectsResponseBody, MigrationInfo, MigrationsResponseBody, NotifierArguments, NotifierCallback, NotifiersResponseBody,
  PageWhyArguments, PageWhyResponseBody, PictureArguments, ResidencyArguments, ResidencyMapping, ResidencyResponseBody, ResidencyRun,
} from '../hmm/lang/debug/queries';

/** The address-space picture of one process (the map): see src/hmm/lang/picture.ts. */
export type {
  FrameSpan, Picture, PictureCallback, PictureCopy, PictureCpuRun, PictureDeviceRun, PictureJob, PictureLane, PictureMemory,
  PictureMigration, PictureNow, PictureVma,
} from '../hmm/lang/picture';


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
  watchesChanged: 'hmm/watchesChanged',
} as const;

/**
 * `hmm/watchesChanged`: the REPL's `watch` / `unwatch` set or removed page watches; the client
 * shows each as a function breakpoint of that name (and removes those named in `removed`).
 */
export interface WatchesChangedEventBody {
  added: string[];
  removed: string[];
}

export interface StateChangedEventBody {
  step: number;
  reason: string;
  line?: number;
  /** The process of the stopped thread (a GPU job's is the process that launched it). */
  process: string;
  /** Every live process, by name (threads also list GPU jobs, which are not processes). */
  processes: string[];
}
