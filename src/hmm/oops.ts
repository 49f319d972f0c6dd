// Where the real kernel crashes or hangs. The kernel is the judge of the model, crashes
// included: a statement that makes Linux oops (or wait forever) stops the script there, naming
// the kernel function and why, instead of carrying on as if nothing happened.

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

/**
 * The statement never returns on Linux: a task waits forever in `fn` (the process is stuck in
 * the kernel; nothing oopses). A KernelOops for everything that stops a script, with its own words.
 */
export class KernelHang extends KernelOops {
  constructor(fn: string, why: string) {
    super(fn, why);
    this.message = `kernel hang in ${fn}: ${why}`;
    this.name = 'KernelHang';
  }
}
