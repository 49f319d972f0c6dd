// Statements that set the machine up: devices, files, mappings, and the declarations that only
// matter before the run (fn, kernel, linux).

import { DEFAULT_LINK, LINK_PRESETS } from '../../timing';
import { compile } from '../pattern';
import { Fail, requireAlive, type StatementHandlers } from './context';

/** Default device memory: 256 MiB. */
const DEFAULT_DEVICE_PAGES = 65536;

function* nothing(): Generator<never, void, void> {
  // Declarations were collected when the interpreter was made.
}

export const setupStatements: StatementHandlers<'device' | 'file' | 'mmap' | 'fn' | 'kernel' | 'linux'> = {
  *device(ctx, stmt) {
    const link = stmt.link ?? DEFAULT_LINK;
    if (LINK_PRESETS[link] === undefined) {
      throw new Fail(stmt.linkLoc ?? stmt.loc, `unknown link ${link} (one of ${Object.keys(LINK_PRESETS).join(', ')})`);
    }
    ctx.sim.addDevice(stmt.name, stmt.memoryKind, stmt.memoryPages ?? DEFAULT_DEVICE_PAGES, link, stmt.policy ?? 'migrate');
  },
  *file(ctx, stmt, frame) {
    ctx.sim.addFile(stmt.name, stmt.pages, stmt.init === undefined ? undefined : compile(stmt.init, frame.vars));
  },
  *mmap(ctx, stmt, frame) {
    requireAlive(frame.process, stmt.loc);
    ctx.sim.mmap(frame.process, stmt.name, stmt.source.kind === 'anon' ? { pages: stmt.source.pages } : { file: stmt.source.file },
      stmt.prot, stmt.shared, stmt.huge);
  },
  fn: nothing,
  kernel: nothing,
  linux: nothing,
};
