// Statements that set the machine up: devices, files, mappings, and the declarations that only
// matter before the run (fn, kernel, linux).

import { DEFAULT_LINK, LINK_PRESETS } from '../../timing';
import { compile } from '../pattern';
import type { MmapSource } from '../../simulator';
import { device, Fail, requireAlive, type StatementHandlers, syscallResult } from './context';

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
    const src = stmt.source;
    let source: MmapSource;
    if (src.kind === 'anon') source = stmt.hugetlb ? { pages: src.pages, hugetlb: true } : { pages: src.pages };
    else if (src.kind === 'file') source = { file: src.file };
    else {
      // The device file is mapped through this process's handle (opened on first use).
      ctx.sim.openMirror(frame.process, device(ctx, src.device, src.loc));
      source = { device: src.device, pages: src.pages };
    }
    const rc = ctx.sim.mmap(frame.process, stmt.name, source, stmt.prot, stmt.shared, stmt.huge);
    syscallResult(ctx, stmt, `mmap of ${stmt.name}`, rc);
  },
  fn: nothing,
  kernel: nothing,
  linux: nothing,
};
