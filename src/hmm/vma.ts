// struct vm_area_struct and the per-mm VMA list (mm/mmap.c, mm/vma.c): sorted, non-overlapping
// ranges of virtual page numbers, split and merged by mprotect/munmap/madvise.

export const VM_READ = 1 << 0;
export const VM_WRITE = 1 << 1;
export const VM_SHARED = 1 << 2;
export const VM_HUGEPAGE = 1 << 3;
export const VM_NOHUGEPAGE = 1 << 4;
/** MAP_HUGETLB: backed by 2 MiB hugetlb pages (mm/hugetlb.c), never split. */
export const VM_HUGETLB = 1 << 5;
/** An mmap of the dmirror device file: driver pages put in with vm_insert_page (VM_MIXEDMAP). */
export const VM_MIXEDMAP = 1 << 6;
/**
 * Private writable memory charged to the commit (accountable_mapping; hugetlb accounts apart).
 * It is part of vm_flags, so VMAs that differ in it do not merge: mprotect adds it when it makes
 * a private mapping writable and drops it when it makes an anonymous one without an anon_vma
 * read-only (mprotect_fixup); mremap keeps it.
 */
export const VM_ACCOUNT = 1 << 7;

/**
 * A private hugetlb mapping's reservation map (resv_map): the huge pages reserved at mmap and
 * which of them a fault has consumed, by huge-page offset in the mapping (stable across mremap).
 * The pieces of a split VMA share it; a forked child's copy has none.
 */
export class HugetlbResv {
  readonly consumed = new Set<number>();
  constructor(readonly hugePages: number) {}
}

/** The device file an mmap of /dev/hmm_dmirrorN refers to: which device, opened by which process. */
export interface DeviceFileRef {
  readonly device: number;
  readonly mmId: number;
}

/** A file or a shmem object (MAP_SHARED|MAP_ANONYMOUS): its page cache, sparse. */
export class MemObject {
  /** Page index → pfn of the page-cache page. */
  readonly pages = new Map<number, number>();
  constructor(
    readonly name: string,
    readonly kind: 'file' | 'shmem',
    readonly sizePages: number,
    /** Content id of the initial contents (content page = file page index). */
    readonly initContent: number,
  ) {}
}

/** Where the next VMA enters the rmap interval trees (see Vma.rmapSeq). */
let nextRmapSeq = 0;
/** Vma.iMmapOrder's last element for the next VMA fork puts right after its parent's: decreasing. */
let nextInsertAfter = -1;
/** A new anon_vma's identity (Vma.lineage): negative, apart from the mmap addresses lineages start as. */
let nextAnonVma = -1;
/** The next anon_vma anon_vma_fork makes (Vma.forkedAnonVma). */
let nextForkedAnonVma = 1;
/** An anon_vma anon_vma_fork made (Vma.forkChain): its identity and its parent's (anon_vma->parent). */
export interface ForkedAnonVma {
  readonly id: number;
  readonly parent: number;
}
/** Vma.forkChain of a VMA no fork made (shared: never written). */
const NO_FORK_CHAIN: readonly ForkedAnonVma[] = [];

/**
 * anon_vma_compatible: `a`, right before `b`, could share its anon_vma: the same file, vm_flags
 * equal but for the access bits (so VM_ACCOUNT counts), offsets that continue.
 */
function anonVmaCompatible(a: Vma, b: Vma): boolean {
  if (a.end !== b.start || a.object !== b.object || a.deviceFile !== b.deviceFile) return false;
  if (((a.flags ^ b.flags) & ~(VM_READ | VM_WRITE)) !== 0) return false;
  return a.object !== undefined ? a.pgoffDelta === b.pgoffDelta : a.anonPgoffDelta === b.anonPgoffDelta;
}

export class Vma {
  /**
   * When this VMA was (re)inserted into the rmap interval trees (i_mmap, anon_vma): the walk
   * visits VMAs by start offset, then in insertion order. mmap, fork, a split and a merge or
   * expansion that grows it (vma_prepare/vma_complete) insert anew.
   */
  rmapSeq = nextRmapSeq++;
  /**
   * Its place in the file's i_mmap tree among VMAs of the same start offset, compared element by
   * element (a prefix first): an insert puts it after all of them (`[rmapSeq]`), but dup_mmap's
   * vma_interval_tree_insert_after puts a child's file VMA right after its parent's, before the
   * copies earlier forks put there (`[...parent's, a number below theirs]`).
   */
  iMmapOrder: readonly number[] = [this.rmapSeq];

  constructor(
    public start: number,
    public end: number,
    public flags: number,
    /** The mapping name the script bound (`a`), and the page its index 0 is at. */
    readonly name: string,
    readonly mapStart: number,
    readonly object: MemObject | undefined,
    /** File page index of `start`'s page minus `start` (vm_pgoff relative to the vpn). */
    readonly pgoffDelta: number,
    /** anon_vma prepared: an anonymous page was ever placed here (fork copies only then). */
    public anonVma = false,
    /** VM_HUGETLB private mappings: the reservation (absent in a forked child). */
    public hugetlbResv: HugetlbResv | undefined = undefined,
    /** VM_MIXEDMAP: the device file mapped. */
    readonly deviceFile: DeviceFileRef | undefined = undefined,
    /**
     * Anonymous memory's vm_pgoff as the kernel keeps it: page `vpn` is at offset vpn + this (0 for
     * an mmap, whose pgoff is its address; a faulted VMA that mremap moved keeps its old offsets).
     */
    public anonPgoffDelta = 0,
    /**
     * Which anon_vma the VMA's pages are under (split, moved and forked pieces keep it; prepareAnonVma
     * sets it): VMAs merge only with a compatible one. Before the first, the mmap's address.
     */
    public lineage = start,
  ) {}

  /**
   * The anon_vma anon_vma_fork gave a child's copy of this VMA (a new one, or one of its chain
   * anon_vma_clone reused), 0 if none: its vma->anon_vma, which the pages the child makes here
   * record (PageFrames.anonVma). Two VMAs forked apart have different anon_vmas, so they never
   * merge, and such a VMA's anon_vma_chain (its own and its parent's) is not singular, so
   * find_mergeable_anon_vma does not hand it to a neighbour.
   */
  forkedAnonVma = 0;
  /**
   * The anon_vmas anon_vma_fork made for this VMA and its forked ancestors (oldest first): with
   * the root (`lineage`), its anon_vma_chain, the anon_vmas whose interval trees hold it.
   */
  forkChain: readonly ForkedAnonVma[] = NO_FORK_CHAIN;

  /** vma->anon_vma's identity, what a new anonymous folio here records (__folio_set_anon); 0: none yet. */
  get anonVmaId(): number {
    return !this.anonVma ? 0 : this.forkedAnonVma !== 0 ? this.forkedAnonVma : this.lineage;
  }

  /** Whether anon_vma `id` is in this VMA's anon_vma_chain: rmap_walk_anon over a folio of `id` visits it. */
  chainsAnonVma(id: number): boolean {
    if (!this.anonVma || id === 0) return false;
    return id === this.lineage || this.forkChain.some((e) => e.id === id);
  }

  get pages(): number {
    return this.end - this.start;
  }
  /** vma_is_anonymous(): hugetlb and device-file VMAs have vm_ops, so they are not. */
  get isAnonymous(): boolean {
    return this.object === undefined && (this.flags & (VM_HUGETLB | VM_MIXEDMAP)) === 0;
  }
  get isHugetlb(): boolean {
    return (this.flags & VM_HUGETLB) !== 0;
  }
  get isMixedMap(): boolean {
    return (this.flags & VM_MIXEDMAP) !== 0;
  }
  get isShared(): boolean {
    return (this.flags & VM_SHARED) !== 0;
  }
  /**
   * A mapping fork makes copy-on-write. is_cow_mapping: private and VM_MAYWRITE, which every private mapping has (mmap sets it
   * whatever the protection), so a read-only private mapping is COW too.
   */
  get isCow(): boolean {
    return !this.isShared;
  }
  /** vma_is_anonymous() and private: only such memory may move to device memory. */
  get isPrivateAnon(): boolean {
    return this.isAnonymous && !this.isShared;
  }
  /** File page index of virtual page `vpn`. */
  filePage(vpn: number): number {
    return vpn + this.pgoffDelta;
  }
  clone(): Vma {
    const c = new Vma(this.start, this.end, this.flags, this.name, this.mapStart, this.object, this.pgoffDelta, this.anonVma,
      this.hugetlbResv, this.deviceFile, this.anonPgoffDelta, this.lineage);
    c.rmapSeq = this.rmapSeq;
    c.iMmapOrder = this.iMmapOrder;
    c.forkedAnonVma = this.forkedAnonVma;
    c.forkChain = this.forkChain;
    return c;
  }
  /** Inserted into the rmap trees again (after every VMA there now). */
  reinsert(): void {
    this.rmapSeq = nextRmapSeq++;
    this.iMmapOrder = [this.rmapSeq];
  }
  /** dup_mmap: a child's copy, in the anon_vma trees last, in i_mmap right after its parent's. */
  insertForked(parentIMmapOrder: readonly number[]): void {
    this.reinsert();
    this.iMmapOrder = [...parentIMmapOrder, nextInsertAfter--];
  }
  /**
   * vma_merge's test for `this` directly followed by `o` (is_mergeable_vma, is_mergeable_anon_vma
   * and contiguous vm_pgoff): the same flags and file, file offsets or anonymous offsets that
   * continue, and anon_vmas that are compatible (one not prepared yet, or both from one mmap).
   * Hugetlb (VM_DONTEXPAND) and device-file (VM_MIXEDMAP) VMAs are VM_SPECIAL: they never merge
   * (vma_merge_existing_range, vma_merge_new_range).
   */
  /**
   * Whether `this`, the range being merged (vma_merge_struct's anon_vma), may join neighbour `o`.
   * With `strictAnon` (6.12's is_mergeable_anon_vma: a neighbour without an anon_vma has an empty
   * anon_vma_chain, which is not list_is_singular) a range with an anon_vma never joins a
   * neighbour without one; mainline allows it ("fix incorrectly disallowed anonymous VMA merges").
   * On both, a range without an anon_vma joins a neighbour with one only when that one's
   * anon_vma_chain is singular: never a VMA fork made (anon_vma_fork links it to its parent's
   * anon_vma too; mainline's vma_had_uncowed_parents).
   */
  mergesInto(o: Vma, strictAnon: boolean): boolean {
    if (strictAnon && this.anonVma && !o.anonVma) return false;
    if (!this.anonVma && o.anonVma && o.forkedAnonVma !== 0) return false;
    return this.sameAttributes(o);
  }

  sameAttributes(o: Vma): boolean {
    if (this.flags !== o.flags || this.object !== o.object || this.deviceFile !== o.deviceFile) return false;
    if (this.isHugetlb || this.isMixedMap) return false;
    if (this.object !== undefined ? this.pgoffDelta !== o.pgoffDelta : this.anonPgoffDelta !== o.anonPgoffDelta) return false;
    // is_mergeable_anon_vma holds for file VMAs too: a private one has an anon_vma for its COW copies.
    return !this.anonVma || !o.anonVma || (this.lineage === o.lineage && this.forkedAnonVma === o.forkedAnonVma);
  }

  /**
   * anon_vma_fork for the child's copy of a VMA (still the parent's chain): anon_vma_clone links
   * it to every anon_vma of the parent's chain, oldest first, and reuses the first that is not
   * the root and that `reusable` says no VMA has as its own and fewer than two anon_vmas in use
   * have as parent (num_active_vmas 0, num_children < 2: a forked process that exited left
   * it); otherwise the child gets an anon_vma of its own, the parent VMA's as its parent.
   */
  forkAnonVma(reusable: (id: number) => boolean): void {
    if (!this.anonVma) return;
    const reused = this.forkChain.find((e) => reusable(e.id));
    if (reused !== undefined) {
      this.forkedAnonVma = reused.id;
      return;
    }
    const own = nextForkedAnonVma++;
    this.forkChain = [...this.forkChain, { id: own, parent: this.anonVmaId }];
    this.forkedAnonVma = own;
  }

  /** A merge of `o` into `this`, which takes `o`'s anon_vma if it had none (vma_merge). */
  adoptAnonVma(o: Vma): void {
    if (this.anonVma || !o.anonVma) return;
    this.anonVma = true;
    this.lineage = o.lineage;
    this.forkedAnonVma = o.forkedAnonVma;
    this.forkChain = o.forkChain;
  }

  /** unlink_anon_vmas: no anon_vma any more. */
  dropAnonVma(): void {
    this.anonVma = false;
    this.forkedAnonVma = 0;
    this.forkChain = NO_FORK_CHAIN;
  }
}

export class VmaList {
  readonly list: Vma[] = [];

  /** find_vma_intersection for one page. */
  find(vpn: number): Vma | undefined {
    let lo = 0;
    let hi = this.list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.list[mid]!;
      if (vpn < v.start) hi = mid - 1;
      else if (vpn >= v.end) lo = mid + 1;
      else return v;
    }
    return undefined;
  }

  /** VMAs intersecting [start, end), in address order. */
  intersecting(start: number, end: number): Vma[] {
    return this.list.filter((v) => v.end > start && v.start < end);
  }

  insert(v: Vma): void {
    let i = 0;
    while (i < this.list.length && this.list[i]!.start < v.start) i++;
    this.list.splice(i, 0, v);
  }

  /**
   * anon_vma_prepare for `v` (in this list): find_mergeable_anon_vma reuses the next VMA's
   * anon_vma, else the previous one's, when compatible; otherwise `v` gets an anon_vma of its
   * own, and VMAs with different anon_vmas never merge (is_mergeable_anon_vma).
   */
  prepareAnonVma(v: Vma): void {
    if (v.anonVma) return;
    v.anonVma = true;
    const i = this.list.indexOf(v);
    const next = i >= 0 ? this.list[i + 1] : undefined;
    const prev = i > 0 ? this.list[i - 1] : undefined;
    // reusable_anon_vma: only an anon_vma_chain that is singular (not a forked VMA's).
    if (next !== undefined && next.anonVma && next.forkedAnonVma === 0 && anonVmaCompatible(v, next)) v.lineage = next.lineage;
    else if (prev !== undefined && prev.anonVma && prev.forkedAnonVma === 0 && anonVmaCompatible(prev, v)) v.lineage = prev.lineage;
    else v.lineage = nextAnonVma--;
  }

  /** split_vma at `vpn` if a VMA straddles it. */
  splitAt(vpn: number): void {
    const v = this.find(vpn);
    if (v === undefined || v.start === vpn) return;
    const tail = v.clone();
    tail.start = vpn;
    v.end = vpn;
    // __split_vma: vma_complete inserts both pieces into the interval trees again.
    v.reinsert();
    tail.reinsert();
    this.insert(tail);
  }

  /** Cut [start, end) into whole VMAs and return them. */
  isolate(start: number, end: number): Vma[] {
    this.splitAt(start);
    this.splitAt(end);
    return this.intersecting(start, end);
  }

  remove(start: number, end: number): void {
    this.isolate(start, end);
    for (let i = this.list.length - 1; i >= 0; i--) {
      const v = this.list[i]!;
      if (v.start >= start && v.end <= end) this.list.splice(i, 1);
    }
  }

  /**
   * vma_merge_new_range around one VMA (copy_vma's new one): with the VMA before it and the one
   * after, but never with `keep` (copy_vma's keep_source: MREMAP_DONTUNMAP keeps the source VMA
   * apart). Each side is judged against the new VMA as it is (can_vma_merge_left/_right); with
   * both, prev and next must also suit each other (are_anon_vmas_compatible: no singular-chain
   * test), and then all three become one.
   */
  mergeAround(v: Vma, strictAnon: boolean, keep?: Vma): void {
    const i = this.list.indexOf(v);
    const prev = this.list[i - 1];
    const next = this.list[i + 1];
    const left = prev !== undefined && prev !== keep && prev.end === v.start && v.mergesInto(prev, strictAnon);
    let right = next !== undefined && next !== keep && v.end === next.start && v.mergesInto(next, strictAnon);
    if (left && right) right = !prev.anonVma || !next.anonVma || (prev.lineage === next.lineage && prev.forkedAnonVma === next.forkedAnonVma);
    if (right) this.mergeNext(v, false);
    if (left) {
      // vma_expand of prev: vma_prepare/vma_complete re-insert it into the rmap trees.
      prev.end = v.end;
      prev.reinsert();
      prev.adoptAnonVma(v);
      this.list.splice(this.list.indexOf(v), 1);
    }
  }

  /** `v` takes in the VMA right after it when they are compatible (vma_merge_extend after a grow), unless it is `keep`. */
  mergeNext(v: Vma, strictAnon: boolean, keep?: Vma): void {
    const i = this.list.indexOf(v);
    const next = this.list[i + 1];
    if (next !== undefined && next !== keep && v.end === next.start && v.mergesInto(next, strictAnon)) {
      v.end = next.end;
      v.reinsert();
      v.adoptAnonVma(next);
      this.list.splice(i + 1, 1);
    }
  }

  /**
   * vma_merge_existing_range after mprotect/madvise changed the VMAs of [start, end), each in
   * turn from the left (mprotect_fixup, madvise_update_vma): a changed VMA merges with the VMA
   * before it (already merged, if it changed too) and with the one after it when that one is
   * not still to change (it would be judged by its old flags), each side judged against the
   * changed VMA as it is (can_vma_merge_left/_right); with both, prev and next must also suit
   * each other (are_anon_vmas_compatible), and then all three become one. VMAs elsewhere stay
   * as they are, even compatible ones (copy_vma's keep_source leaves such a pair). The VMA that
   * grows is re-inserted into the rmap trees (commit_merge: vma_prepare/vma_complete).
   */
  mergeAdjacent(start: number, end: number, strictAnon: boolean): void {
    let i = this.list.findIndex((v) => v.end > start);
    while (i >= 0 && i < this.list.length && this.list[i]!.start < end) {
      const v = this.list[i]!;
      const prev = this.list[i - 1];
      const next = this.list[i + 1];
      const left = prev !== undefined && prev.end === v.start && v.mergesInto(prev, strictAnon);
      let right = next !== undefined && next.start >= end && v.end === next.start && v.mergesInto(next, strictAnon);
      if (left && right) right = !prev.anonVma || !next.anonVma || (prev.lineage === next.lineage && prev.forkedAnonVma === next.forkedAnonVma);
      if (right) {
        v.end = next.end;
        v.adoptAnonVma(next);
        this.list.splice(i + 1, 1);
        v.reinsert();
      }
      if (left) {
        prev.end = v.end;
        prev.adoptAnonVma(v);
        prev.reinsert();
        this.list.splice(i, 1);
        continue;
      }
      i++;
    }
  }

  /** A copy whose VMAs share reservation maps among themselves as the originals do, not with them. */
  clone(): VmaList {
    const c = new VmaList();
    const resv = new Map<HugetlbResv, HugetlbResv>();
    for (const v of this.list) {
      const copy = v.clone();
      if (v.hugetlbResv !== undefined) {
        let r = resv.get(v.hugetlbResv);
        if (r === undefined) {
          r = new HugetlbResv(v.hugetlbResv.hugePages);
          for (const k of v.hugetlbResv.consumed) r.consumed.add(k);
          resv.set(v.hugetlbResv, r);
        }
        copy.hugetlbResv = r;
      }
      c.list.push(copy);
    }
    return c;
  }
}
