// Reusable typed arrays for the per-range temporaries of the batched paths (a PTE page's frames,
// their `fresh` marks, the references to drop): allocating a typed array costs a backing store
// and garbage-collector bookkeeping, and the batched paths need several per 512 pages. Each
// call site owns its scratch, and uses it only until it returns (none of them re-enters itself).

export class ScratchInt32 {
  private buf = new Int32Array(512);

  /** An array of at least `n` slots; what the last caller left in it is not cleared. */
  get(n: number): Int32Array {
    if (this.buf.length < n) this.buf = new Int32Array(Math.max(n, this.buf.length * 2));
    return this.buf;
  }
}

export class ScratchUint8 {
  private buf = new Uint8Array(512);

  /** An array of at least `n` slots, the first `n` zero. */
  zeroed(n: number): Uint8Array {
    if (this.buf.length < n) this.buf = new Uint8Array(Math.max(n, this.buf.length * 2));
    else this.buf.fill(0, 0, n);
    return this.buf;
  }
}
