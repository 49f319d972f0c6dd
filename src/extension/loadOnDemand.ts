// Loads dist/on-demand.js (src/extension/onDemand.ts) the first time the extension needs the
// simulator, the language or the oracle: activation neither reads nor compiles them.

import * as path from 'node:path';

export type OnDemand = typeof import('./onDemand');

let loaded: OnDemand | undefined;

/** The on-demand modules; async so that a call site reads like the dynamic import it replaces. */
export function loadOnDemand(): Promise<OnDemand> {
  // The bundle beside dist/extension.js, built by scripts/build.mjs; a computed path, so that the
  // extension's bundle does not take it in.
  loaded ??= require(path.join(__dirname, 'on-demand.js')) as OnDemand;
  return Promise.resolve(loaded);
}
