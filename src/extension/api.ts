// What `activate()` returns: a small API the integration tests (and other extensions) use to
// look at what the user sees without scraping the UI. Keep it read-only.

/** One tree item as shown: its label, description, tooltip text and children (when expanded). */
export interface TreeSnapshot {
  readonly label: string;
  readonly description?: string;
  readonly tooltip?: string;
  readonly contextValue?: string;
  readonly children?: readonly TreeSnapshot[];
}

/** Decorations currently shown in a .hmm editor, per line (1-based). */
export interface DecorationSnapshot {
  readonly line: number;
  /** After-line text, e.g. `⇢ 512 pages to gpu0 · 2 invalidations`. */
  readonly text: string;
  /** Gutter icon kind: `fault`, `migrate`, `invalidate`, `error`, or undefined. */
  readonly gutter?: string;
  /** This line is highlighted as the one that faulted / stopped on an event. */
  readonly highlighted: boolean;
}

export interface HmmExtensionApi {
  /** The Page Residency, Pending Migrations and Notifier Callbacks trees, expanded to `depth` levels. */
  snapshotTree(view: 'residency' | 'migrations' | 'notifiers', depth?: number): Promise<TreeSnapshot[]>;
  /** Decorations of the editor showing `file` (absolute path). */
  decorations(file: string): DecorationSnapshot[];
  /**
   * Whether the address-space map panel is open, the last state it was sent (JSON-safe), and the
   * last stop the page drew: its id (the state's `stop.id`), when the page said so and when that
   * state was posted to it (performance.now() in the extension host), and the page's own time
   * from the state's arrival to the painted frame.
   */
  mapPanel(): { open: boolean; ready: boolean; lastState?: unknown; drawn?: { id: number; at: number; postedAt: number; paintedMs: number } };
  /** Resolves once every view has refreshed after the latest stop (tests await this after a step). */
  whenRefreshed(): Promise<void>;
}
