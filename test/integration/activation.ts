// Layer: integration tests, inside the VS Code extension host. An extension's activation as VS
// Code itself times it: the extension host's performance marks (vs/base/common/performance,
// `globalThis.MonacoPerformanceMarks` in this process), the same instants it reports to the
// workbench for Developer: Show Running Extensions. VS Code takes them with Date.now(), so each
// is whole milliseconds.

/**
 * The copies of test/fixtures/empty-extension the integration run loads beside ours (runTest.ts),
 * each named `empty-extension-<copy>`: one activated first (the first activation of a window pays
 * more), then one just before ours and one just after, whose mean is the baseline.
 */
export const EMPTY_EXTENSION_COPIES = ['warm-up', 'before', 'after'] as const;
export type EmptyCopy = (typeof EMPTY_EXTENSION_COPIES)[number];

export function emptyExtensionId(copy: EmptyCopy): string {
  return `hmm-debug-fixtures.empty-extension-${copy}`;
}

/** One mark of VS Code's performance module. */
interface PerfMark {
  readonly name: string;
  readonly startTime: number;
}

interface PerfMarks {
  getMarks(): PerfMark[];
}

export interface ActivationTimes {
  /** willLoadExtensionCode → didLoadExtensionCode: require() of the extension's main file. */
  readonly codeLoadingMs: number;
  /** willActivateExtension → didActivateExtension: activate() called and its result settled. */
  readonly activateMs: number;
  /** willLoadExtensionCode → didActivateExtension (the extension context is made meanwhile). */
  readonly totalMs: number;
}

function marks(): PerfMark[] {
  const perf = (globalThis as { MonacoPerformanceMarks?: PerfMarks }).MonacoPerformanceMarks;
  if (perf === undefined || typeof perf.getMarks !== 'function') throw new Error('VS Code\'s performance marks (globalThis.MonacoPerformanceMarks) are not in this extension host');
  return perf.getMarks();
}

/** The activation of extension `id` from the extension host's marks; it must have activated. */
export function activationTimes(id: string): ActivationTimes {
  const all = marks();
  const at = (what: string): number => {
    // The last one: an extension activates once per extension host.
    const m = all.filter((x) => x.name.toLowerCase() === `code/exthost/${what}/${id}`.toLowerCase()).pop();
    if (m === undefined) throw new Error(`no mark code/extHost/${what}/${id}: has ${id} activated in this extension host?`);
    return m.startTime;
  };
  const willLoad = at('willLoadExtensionCode');
  const didLoad = at('didLoadExtensionCode');
  const willActivate = at('willActivateExtension');
  const didActivate = at('didActivateExtension');
  return { codeLoadingMs: didLoad - willLoad, activateMs: didActivate - willActivate, totalMs: didActivate - willLoad };
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until the extension host has added no performance mark for `quietMs` (the built-in
 * extensions' start-up activations are over), at most `limitMs`: an activation measured then is
 * not interleaved with another extension's code loading. Answers whether it became quiet.
 */
export async function extensionHostQuiet(quietMs = 1000, limitMs = 20000): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  let count = marks().length;
  let since = Date.now();
  while (Date.now() < deadline) {
    await delay(100);
    const now = marks().length;
    if (now !== count) { count = now; since = Date.now(); } else if (Date.now() - since >= quietMs) return true;
  }
  return false;
}

export interface Activation {
  /** VS Code's marks. */
  readonly vscode: ActivationTimes;
  /** extension.activate() as the caller awaits it (VS Code's RPC to the workbench included), ms. */
  readonly awaitedMs: number;
}

/** Activates `ext` (not yet active) and times it. */
export async function timeActivation<T>(ext: { readonly id: string; activate(): Thenable<T> }): Promise<{ api: T; activation: Activation }> {
  const t0 = performance.now();
  const api = await ext.activate();
  const awaitedMs = performance.now() - t0;
  return { api, activation: { vscode: activationTimes(ext.id), awaitedMs } };
}
