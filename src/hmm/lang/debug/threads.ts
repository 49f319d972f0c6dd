// Threads and call stacks as a debugger shows them: each live process is a thread (its id is
// the process id), each running GPU job one more; a stack holds the kernel frames of the work
// in progress above the script's blocks (fn, repeat, as, fork).

import * as path from 'node:path';
import { JOB_ACTION_FRAME } from '../../gpu';
import { formatDuration } from '../../timing';
import type { ScriptController } from '../controller';

/** GPU jobs are threads too, numbered above any process id. */
export const JOB_THREAD_BASE = 100000;

export interface ThreadInfo {
  readonly id: number;
  readonly name: string;
  /** The process the thread runs in (a job's is the process that launched it). */
  readonly processId: number;
}

export interface FrameInfo {
  readonly id: number;
  readonly name: string;
  /** Line in the script; 0 for a label that is not a place in it. */
  readonly line: number;
  readonly label?: boolean;
}

export function threads(ctl: ScriptController | undefined): ThreadInfo[] {
  const mms = ctl?.sim.mms.filter((m) => m.alive) ?? [];
  const jobs = ctl?.sim.gpu.jobs.filter((j) => !j.done) ?? [];
  return [
    ...(mms.length ? mms.map((m) => ({ id: m.id, name: m.name, processId: m.id })) : [{ id: 1, name: 'main', processId: 1 }]),
    ...jobs.map((j) => ({ id: JOB_THREAD_BASE + j.id, name: `GPU ${j.name} on ${j.device.name}`, processId: j.mm.id })),
  ];
}

/** The GPU job a thread id stands for, if it is a job's. */
export function jobOfThread(threadId: number): number | undefined {
  return threadId >= JOB_THREAD_BASE ? threadId - JOB_THREAD_BASE : undefined;
}

/** The thread a stop belongs to: the GPU job whose action was running, else the process. */
export function stoppedThread(ctl: ScriptController): number {
  const job = ctl.sim.gpu.current;
  return job !== undefined ? JOB_THREAD_BASE + job.id : ctl.interp.process.id;
}

/** The call stack of a thread, innermost frame first. */
export function stackFrames(ctl: ScriptController, threadId: number): FrameInfo[] {
  const frames: FrameInfo[] = [];
  const jobId = jobOfThread(threadId);
  const job = jobId === undefined ? undefined : ctl.sim.gpu.jobs.find((j) => j.id === jobId);
  const running = ctl.sim.gpu.current;
  // A job's action runs inside a CPU statement (its `wait`, or the one whose time came): kernel
  // frames from the job's action frame up are the job's, the ones below it the CPU's.
  const ks = ctl.sim.kstack;
  let split = ks.length;
  if (running !== undefined) for (let i = ks.length - 1; i >= 0 && split === ks.length; i--) if (ks[i]!.name === JOB_ACTION_FRAME) split = i;
  if (job !== undefined) {
    const line = job.op?.pos.line ?? job.launchPos?.line ?? 1;
    if (running === job) {
      for (let i = ks.length - 1; i >= split; i--) frames.push({ id: 1000 + i, name: `${ks[i]!.name} (${ks[i]!.detail})`, line });
    }
    const op = job.op;
    const what = op === undefined ? '' : op.kind === 'compute' ? ' compute' : ` ${op.access} page ${op.start + job.cursor - op.mapStart} of ${ctl.sim.describeRange(op.start, op.end)}`;
    frames.push({ id: 900, name: `kernel ${job.kernel}${what} (t=${formatDuration(job.time)})`, line });
  } else if (threadId === ctl.interp.process.id) {
    const fr = ctl.interp.frames;
    const top = fr[fr.length - 1];
    // While a job's action runs, the simulator's location is the kernel's line: the CPU is at its statement.
    const line = (running !== undefined ? top?.body[top.pc - 1]?.loc.line : undefined) ?? ctl.displayLine() ?? ctl.sim.loc?.line ?? 1;
    // Kernel frames of the statement in progress (not a GPU job's), innermost first.
    for (let i = split - 1; i >= 0; i--) frames.push({ id: 1000 + i, name: `${ks[i]!.name} (${ks[i]!.detail})`, line });
    for (let i = fr.length - 1; i >= 0; i--) {
      const f = fr[i]!;
      const loc = i === fr.length - 1 ? line : (f.body[f.pc - 1]?.loc.line ?? f.headerLoc?.line ?? 1);
      const name = f.kind === 'script' ? path.basename(f.name) : f.kind === 'repeat' ? `${f.name} (iteration ${f.iter + 1} of ${f.count})` : f.name;
      frames.push({ id: i + 1, name, line: loc });
    }
  } else {
    frames.push({ id: 999, name: 'not running (the script runs in another process)', line: 0, label: true });
  }
  return frames;
}
