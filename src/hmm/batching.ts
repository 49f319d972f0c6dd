// Range batching: where a statement touches a range of pages in the same state (a CPU write
// over fresh anonymous memory, …), the kernel paths do the range at once over the typed
// arrays instead of page by page, with the same results, events and callbacks. The per-page
// paths stay, and the tests run random programs both ways and compare (test/batching.test.ts).

let enabled = true;

/** Whether batched paths may be taken. */
export function rangeBatching(): boolean {
  return enabled;
}

/** Force the per-page paths (false) or allow batching (true); returns the previous setting. */
export function setRangeBatching(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}
