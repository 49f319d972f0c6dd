// /proc/PID/mem as the debugger's memory view uses it (fs/proc/base.c mem_rw, access_remote_vm
// in mm/memory.c): a read shows what the process would read, without faulting anything in; a
// write faults each page in for writing through GUP, as ptrace does (a device-private page comes
// back to system memory), then changes its bytes.

import { PAGE_SIZE, WORDS_PER_PAGE } from './constants';
import { gupFaultIn } from './gup';
import type { Machine } from './machine';
import type { Mm } from './mm';
import { pageContent } from './pagemap';
import { pteIndex, setExpected } from './pgtable';
import type { KernelWork } from './kernelWork';

/**
 * Bytes the process would read at [addr, addr + count) without faulting. Stops at the first
 * unmapped page: the result holds the readable prefix.
 */
export function readBytes(sim: Pick<Machine, 'frames' | 'contents'>, mm: Mm, addr: number, count: number): Uint8Array {
  const out = new Uint8Array(count);
  const words = new Int32Array(WORDS_PER_PAGE);
  const bytes = new Uint8Array(words.buffer);
  let done = 0;
  while (done < count) {
    const a = addr + done;
    const vpn = Math.floor(a / PAGE_SIZE);
    const c = pageContent(sim, mm, vpn);
    if (c === undefined) return out.subarray(0, done);
    sim.contents.fill(c[0], c[1], words);
    const off = a - vpn * PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - off, count - done);
    out.set(bytes.subarray(off, off + n), done);
    done += n;
  }
  return out;
}

/**
 * access_remote_vm(FOLL_WRITE): write `data` at `addr`. Returns the count written (less than
 * asked where a page cannot be written).
 */
export function* accessRemoteVmWrite(sim: Machine, mm: Mm, addr: number, data: Uint8Array): KernelWork<number> {
  let done = 0;
  while (done < data.length) {
    const a = addr + done;
    const vpn = Math.floor(a / PAGE_SIZE);
    const pfn = yield* gupFaultIn(sim, mm, vpn, { write: true });
    if (pfn < 0) return done;
    const off = a - vpn * PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - off, data.length - done);
    const words = new Int32Array(WORDS_PER_PAGE);
    sim.contents.fill(sim.frames.contentId.get(pfn), sim.frames.contentPage.get(pfn), words);
    new Uint8Array(words.buffer).set(data.subarray(done, done + n), off);
    const id = sim.contents.withWords(0, 0, 0, words);
    sim.frames.contentId.set(pfn, id);
    sim.frames.contentPage.set(pfn, 0);
    const t = mm.pt.lookup(vpn)!;
    setExpected(t, pteIndex(vpn), mm.vmas.find(vpn)?.isShared ? -1 : id, 0);
    sim.contentChanged(vpn);
    done += n;
  }
  return done;
}
