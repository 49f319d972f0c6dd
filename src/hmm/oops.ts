// Where the real kernel crashes. The kernel is the judge of the model, crashes included: a
// statement that makes Linux oops stops the script there, naming the kernel function and why,
// instead of carrying on as if nothing happened.

/**
 * Where the compiler may inline a function the model names: the RIP of a real oops can be any
 * of these (on 6.12, dmirror_write and dmirror_do_write are inlined into the ioctl handler).
 */
const INLINED_INTO: Readonly<Record<string, readonly string[]>> = {
  dmirror_do_read: ['dmirror_read', 'dmirror_fops_unlocked_ioctl'],
  dmirror_do_write: ['dmirror_write', 'dmirror_fops_unlocked_ioctl'],
};

/** Whether a kernel oops whose RIP is in `rip` is the one the model predicts in `fn`. */
export function oopsMatches(fn: string, rip: string): boolean {
  return rip === fn || (INLINED_INTO[fn]?.includes(rip) ?? false);
}

export class KernelOops extends Error {
  /** `fn`: the function the oops is in (the RIP of the kernel's report). */
  constructor(readonly fn: string, why: string) {
    super(`kernel oops in ${fn}: ${why}`);
    this.name = 'KernelOops';
  }
}
