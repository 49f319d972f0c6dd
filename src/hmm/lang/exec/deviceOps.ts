// The reference driver's ioctls (test_hmm's dmirror): device reads and writes, migrations,
// snapshots, device-exclusive access, release, fail-next-alloc, close. Each records its result
// in `last` and is checked against `-> ERRNO`.

import type { PageContents } from '../../content';
import { compile } from '../pattern';
import { device, deviceResult, type ExecContext, Fail, type PageRange, range, requireAlive, type StatementHandlers } from './context';

const OK = { rc: 0, cpages: 0, faults: 0 };

export const deviceStatements: StatementHandlers<'devRead' | 'devWrite' | 'migrate' | 'snapshot' | 'exclusive' | 'checkExclusive' | 'release' | 'failNextAlloc' | 'close'> = {
  *devRead(ctx, stmt, frame) {
    requireAlive(frame.process, stmt.loc);
    const r = range(ctx, stmt.range, frame);
    const m = ctx.sim.openMirror(frame.process, device(ctx, stmt.device, stmt.deviceLoc));
    const res = yield* ctx.sim.driver.read(m, r.start, r.end - r.start);
    if (deviceResult(ctx, stmt, `${stmt.device} read ${r.text}`, res)) setData(ctx, res.data, r);
  },
  *devWrite(ctx, stmt, frame) {
    requireAlive(frame.process, stmt.loc);
    const r = range(ctx, stmt.range, frame);
    const m = ctx.sim.openMirror(frame.process, device(ctx, stmt.device, stmt.deviceLoc));
    const id = ctx.sim.contents.intern(compile(stmt.pattern, frame.vars));
    const res = yield* ctx.sim.driver.write(m, r.start, r.end - r.start, id, r.mapStart);
    deviceResult(ctx, stmt, `${stmt.device} write ${r.text}`, res);
  },
  *migrate(ctx, stmt, frame) {
    const mm = frame.process;
    requireAlive(mm, stmt.loc);
    const r = range(ctx, stmt.range, frame);
    if (stmt.target.kind === 'device') {
      const m = ctx.sim.openMirror(mm, device(ctx, stmt.target.name, stmt.target.loc));
      const res = yield* ctx.sim.driver.migrateToDevice(m, r.start, r.end - r.start);
      if (deviceResult(ctx, stmt, `migrate ${r.text} to ${stmt.target.name}`, res)) setData(ctx, res.data, r);
      return;
    }
    const devices = stmt.from !== undefined ? [device(ctx, stmt.from, stmt.fromLoc ?? stmt.loc)] : ctx.sim.devices;
    let cpages = 0;
    for (const d of devices) {
      const m = ctx.sim.openMirror(mm, d);
      const res = yield* ctx.sim.driver.migrateToSystem(m, r.start, r.end - r.start);
      if (res.rc) {
        deviceResult(ctx, stmt, `migrate ${r.text} to system from ${d.name}`, res);
        return;
      }
      cpages += res.cpages;
    }
    deviceResult(ctx, stmt, `migrate ${r.text} to system`, { rc: 0, cpages, faults: 0 });
  },
  *snapshot(ctx, stmt, frame) {
    requireAlive(frame.process, stmt.loc);
    const r = range(ctx, stmt.range, frame);
    const m = ctx.sim.openMirror(frame.process, device(ctx, stmt.device, stmt.deviceLoc));
    const res = yield* ctx.sim.driver.snapshot(m, r.start, r.end - r.start);
    if (deviceResult(ctx, stmt, `${stmt.device} snapshot ${r.text}`, res)) {
      ctx.last.flags = { bytes: res.flags!, start: r.start, mapStart: r.mapStart };
    }
  },
  *exclusive(ctx, stmt, frame) {
    requireAlive(frame.process, stmt.loc);
    const r = range(ctx, stmt.range, frame);
    const m = ctx.sim.openMirror(frame.process, device(ctx, stmt.device, stmt.deviceLoc));
    const res = yield* ctx.sim.driver.exclusive(m, r.start, r.end - r.start);
    if (deviceResult(ctx, stmt, `${stmt.device} exclusive ${r.text}`, res)) setData(ctx, res.data, r);
  },
  *checkExclusive(ctx, stmt, frame) {
    const r = range(ctx, stmt.range, frame);
    const m = ctx.sim.openMirror(frame.process, device(ctx, stmt.device, stmt.deviceLoc));
    deviceResult(ctx, stmt, `${stmt.device} check-exclusive ${r.text}`, ctx.sim.driver.checkExclusive(m, r.start, r.end - r.start));
  },
  *release(ctx, stmt, frame) {
    const d = device(ctx, stmt.device, stmt.deviceLoc);
    ctx.sim.openMirror(frame.process, d);
    yield* ctx.sim.driver.release(d);
    deviceResult(ctx, stmt, `${stmt.device} release`, OK);
  },
  *failNextAlloc(ctx, stmt, frame) {
    const m = ctx.sim.openMirror(frame.process, device(ctx, stmt.device, stmt.deviceLoc));
    // HMM_DMIRROR_FLAGS is newer than 6.12: the ioctl is unknown there (-EINVAL).
    if (ctx.sim.profile.dmirrorFlags) m.failAlloc = true;
    deviceResult(ctx, stmt, `${stmt.device} fail-next-alloc`, { rc: ctx.sim.profile.dmirrorFlags ? 0 : -22, cpages: 0, faults: 0 });
  },
  *close(ctx, stmt, frame) {
    const dev = device(ctx, stmt.device, stmt.deviceLoc);
    const mapped = frame.process.vmas.list.find((v) => v.deviceFile?.device === dev.index);
    if (mapped !== undefined) {
      // The mapping holds a reference to the file: Linux's close drops only the descriptor and
      // the release runs at the munmap. The model closes a handle at once.
      throw new Fail(stmt.loc, `${stmt.device} close while ${frame.process.name} maps ${stmt.device}'s file (${mapped.name}): ` +
        'the file stays open until it is unmapped, which the simulator does not model; munmap it first');
    }
    const m = ctx.sim.openMirror(frame.process, device(ctx, stmt.device, stmt.deviceLoc));
    yield* ctx.sim.driver.close(m);
    deviceResult(ctx, stmt, `${stmt.device} close`, OK);
  },
};

function setData(ctx: ExecContext, data: PageContents | undefined, r: PageRange): void {
  if (data === undefined) return;
  ctx.last.data = { pages: data, start: r.start, mapStart: r.mapStart, count: r.end - r.start };
}
