// Reading a script file for the front ends (hmm-sim, the debug adapter): only a regular file of
// at most MAX_SCRIPT_BYTES is read, so `/dev/zero`, a FIFO or a huge file is refused at once
// instead of being read without bound.

import * as fs from 'node:fs';
import { MAX_SCRIPT_BYTES } from './limits';

export class ScriptFileError extends Error {}

export function readScriptFile(file: string): string {
  let fd: number;
  try {
    // Non-blocking, so opening a FIFO with no writer does not wait forever.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    throw new ScriptFileError(`cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (st.isDirectory()) throw new ScriptFileError('cannot read: it is a directory');
    if (!st.isFile()) throw new ScriptFileError('cannot read: not a regular file (a device, FIFO or socket)');
    if (st.size > MAX_SCRIPT_BYTES) {
      throw new ScriptFileError(`cannot read: ${st.size} bytes is larger than the ${MAX_SCRIPT_BYTES / 2 ** 20} MiB a script may be`);
    }
    // Read at most one byte past the limit: a file that grew since fstat is still refused.
    const buf = Buffer.alloc(MAX_SCRIPT_BYTES + 1);
    let n = 0;
    for (;;) {
      const got = fs.readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > MAX_SCRIPT_BYTES) throw new ScriptFileError(`cannot read: larger than the ${MAX_SCRIPT_BYTES / 2 ** 20} MiB a script may be`);
    }
    return buf.toString('utf8', 0, n);
  } catch (e) {
    if (e instanceof ScriptFileError) throw e;
    throw new ScriptFileError(`cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  } finally {
    fs.closeSync(fd);
  }
}
