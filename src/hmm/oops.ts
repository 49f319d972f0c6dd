// Layer: simulator (src/hmm). Imports nothing.
// Where the real kernel crashes. The kernel is the judge of the model, crashes included: a
// statement that makes Linux oops stops the script there, naming the kernel function and why,
// instead of carrying on as if nothing happened.

export class KernelOops extends Error {
  /** `fn`: the function the oops is in (the RIP of the kernel's report). */
  constructor(readonly fn: string, why: string) {
    super(`kernel oops in ${fn}: ${why}`);
    this.name = 'KernelOops';
  }
}
