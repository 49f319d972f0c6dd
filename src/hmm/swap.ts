// Page references (get_page / put_page; __folio_put in mm/swap.c): the last reference frees the
// frame, to the system free list or, for device memory, through the pagemap's page_free
// (free_zone_device_folio, mm/memremap.c).

import { type Machine, SimError } from './machine';
import { Zone } from './page';

/** What taking and dropping a page reference uses of the machine. */
export type PageRefMachine = Pick<Machine, 'frames' | 'deviceOfPfn'>;

/** get_page: one more reference on the folio (the shared zero pages are not counted). */
export function getPage(sim: PageRefMachine, pfn: number): void {
  const f = sim.frames;
  const head = f.head(pfn);
  if (f.zone.get(head) === Zone.ZERO) return;
  f.refcount.add(head, 1);
}

/** put_page: the last reference frees the frame (page_free for device pages). */
export function putPage(sim: PageRefMachine, pfn: number): void {
  const f = sim.frames;
  const head = f.head(pfn);
  const zone = f.zone.get(head) as Zone;
  if (zone === Zone.ZERO) return;
  if (zone === Zone.FREE) throw new SimError(`put_page on a free frame ${head}`);
  f.refcount.add(head, -1);
  if (f.refcount.get(head) > 0) return;
  if (zone === Zone.SYSTEM) f.freeSystemFrame(head);
  else sim.deviceOfPfn(head).free(f, head);
}
