// The syntax tree the parser builds, the checker validates and the interpreter runs.

/** 1-based line and column of a token in its file. */
export interface Loc {
  readonly line: number;
  readonly col: number;
}

// ---- expressions (patterns, indices, counts) ----------------------------------------------

export type BinaryOp = '+' | '-' | '*' | '&' | '|' | '^' | '<<' | '>>';

export type Expr =
  | { readonly kind: 'num'; readonly value: number; readonly loc: Loc }
  /** `i`: the word's index counted from the start of its mapping. */
  | { readonly kind: 'wordIndex'; readonly loc: Loc }
  /** A `repeat … as VAR` loop variable. */
  | { readonly kind: 'var'; readonly name: string; readonly loc: Loc }
  | { readonly kind: 'neg'; readonly operand: Expr; readonly loc: Loc }
  | { readonly kind: 'binary'; readonly op: BinaryOp; readonly left: Expr; readonly right: Expr; readonly loc: Loc };

// ---- ranges --------------------------------------------------------------------------------

/**
 * `a` (whole mapping), `a[3]`, `a[2..6]`, `a[512..]`, `a[..4]`. Page indices are relative to
 * the address the mapping was created at. `start`/`end` undefined mean "from the beginning" /
 * "to the end"; for `a[3]`, end is undefined and `single` is true.
 */
export interface RangeRef {
  readonly mapping: string;
  readonly mappingLoc: Loc;
  readonly start?: Expr;
  readonly end?: Expr;
  readonly single: boolean;
  readonly loc: Loc;
}

/** An index range into `last.data` / `last.flags`: `[3]`, `[2..6]`, `[..2]`, `[2..]`; absent = all. */
export interface IndexRange {
  readonly start?: Expr;
  readonly end?: Expr;
  readonly single: boolean;
  readonly loc: Loc;
}

// ---- values used by statements ------------------------------------------------------------

export type Prot = 'none' | 'r' | 'rw';
export type Errno = 'EFAULT' | 'EPERM' | 'EINVAL' | 'ENOENT' | 'ENOMEM' | 'EBUSY' | 'EOPNOTSUPP';
export const ERRNO_NAMES: readonly Errno[] = ['EFAULT', 'EPERM', 'EINVAL', 'ENOENT', 'ENOMEM', 'EBUSY', 'EOPNOTSUPP'];

export type NotifierEventName =
  | 'UNMAP' | 'CLEAR' | 'PROTECTION_VMA' | 'PROTECTION_PAGE' | 'SOFT_DIRTY' | 'RELEASE' | 'MIGRATE' | 'EXCLUSIVE';
export const NOTIFIER_EVENT_NAMES: readonly NotifierEventName[] = [
  'UNMAP', 'CLEAR', 'PROTECTION_VMA', 'PROTECTION_PAGE', 'SOFT_DIRTY', 'RELEASE', 'MIGRATE', 'EXCLUSIVE',
];

export type SnapshotFlagName =
  | 'ERROR' | 'NONE' | 'READ' | 'WRITE' | 'PMD' | 'PUD' | 'ZERO'
  | 'DEV_PRIVATE_LOCAL' | 'DEV_PRIVATE_REMOTE' | 'DEV_COHERENT_LOCAL' | 'DEV_COHERENT_REMOTE';
/** lib/test_hmm_uapi.h values. */
export const SNAPSHOT_FLAG_VALUES: Readonly<Record<SnapshotFlagName, number>> = {
  ERROR: 0xff, NONE: 0x00, READ: 0x01, WRITE: 0x02, PMD: 0x04, PUD: 0x08, ZERO: 0x10,
  DEV_PRIVATE_LOCAL: 0x20, DEV_PRIVATE_REMOTE: 0x30, DEV_COHERENT_LOCAL: 0x40, DEV_COHERENT_REMOTE: 0x50,
};

export type MadviseAdvice = 'dontneed' | 'free' | 'hugepage' | 'nohugepage' | 'collapse';
export type MirrorMapping = 'none' | 'read' | 'write' | 'atomic';
export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=';

/** `a op b`: one meaning for expectations and breakpoint conditions. */
export function compareValues(a: number, op: CompareOp, b: number): boolean {
  switch (op) {
    case '==': return a === b;
    case '!=': return a !== b;
    case '<': return a < b;
    case '<=': return a <= b;
    case '>': return a > b;
    case '>=': return a >= b;
  }
}

/** Page state named by `expect RANGE is STATE`. Modifiers not given are not checked. */
export interface PageStatePattern {
  readonly kind: 'unmapped' | 'empty' | 'zero' | 'system' | 'device' | 'exclusive';
  readonly device?: string;
  readonly deviceLoc?: Loc;
  readonly write?: 'ro' | 'rw';
  readonly shared?: boolean;
  readonly pinned?: boolean;
}

/** `DEV` or `system` as a migration target / placement. */
export type Target = { readonly kind: 'system' } | { readonly kind: 'device'; readonly name: string; readonly loc: Loc };

export type AdviceKind =
  | { readonly kind: 'preferred'; readonly target: Target }
  | { readonly kind: 'accessed-by'; readonly device: string; readonly deviceLoc: Loc }
  | { readonly kind: 'read-mostly' }
  | { readonly kind: 'unset' };

export type WaitTarget =
  | { readonly kind: 'all' }
  /** A job or a device name; the checker resolves which. */
  | { readonly kind: 'name'; readonly name: string; readonly loc: Loc };

/** Counters of `expect stats.COUNTER`: `gpu0.faults`, `cpu.faults`, `time`, … */
export interface StatsCounter {
  /** `cpu`, a device name, or undefined for `time`. */
  readonly owner?: string;
  readonly ownerLoc?: Loc;
  readonly counter: string;
}

// ---- statements ----------------------------------------------------------------------------

interface Base {
  readonly loc: Loc;
  /** Set on device operations written `… -> ERRNO`. */
  readonly expectErrno?: Errno;
}

export type DeviceMemoryKind = 'private' | 'coherent';

export interface DeviceDecl extends Base {
  readonly kind: 'device';
  readonly name: string;
  readonly nameLoc?: Loc;
  readonly memoryKind: DeviceMemoryKind;
  /** Capacity in pages (default 256 MiB). */
  readonly memoryPages?: number;
  readonly link?: string;
  readonly linkLoc?: Loc;
  readonly policy?: 'migrate' | 'mirror';
}

export interface FileDecl extends Base {
  readonly kind: 'file';
  readonly name: string;
  readonly nameLoc?: Loc;
  readonly pages: number;
  readonly init?: Expr;
}

export interface MmapStmt extends Base {
  readonly kind: 'mmap';
  readonly name: string;
  /**
   * Anonymous size in pages, a file name (`mmap f`), or a device and a size (`mmap gpu0 1 page`:
   * the device file, as dmirror's mmap; the checker tells a file from a device).
   */
  readonly source:
    | { readonly kind: 'anon'; readonly pages: number }
    | { readonly kind: 'file'; readonly file: string; readonly loc: Loc }
    | { readonly kind: 'deviceFile'; readonly device: string; readonly loc: Loc; readonly pages: number };
  readonly prot: Prot;
  readonly shared: boolean;
  readonly huge: boolean;
  /** `hugetlb`: MAP_HUGETLB, 2 MiB huge pages (project extension, not in hmm-script.md v1). */
  readonly hugetlb: boolean;
  readonly hugetlbLoc?: Loc;
}

/**
 * `NEW = mremap RANGE to MAPPING[PAGE] [dontunmap]`: mremap(MREMAP_MAYMOVE | MREMAP_FIXED
 * [| MREMAP_DONTUNMAP]) of RANGE to the address of MAPPING's page PAGE, same size.
 * `NEW = mremap RANGE to SIZE [at MAPPING[PAGE]] [maymove] [dontunmap]`: a resize to SIZE, in
 * place (no flags), wherever there is room (MREMAP_MAYMOVE) or at that page (MREMAP_MAYMOVE |
 * MREMAP_FIXED). NEW names the result (project extension, not in hmm-script.md v1).
 */
export interface MremapStmt extends Base {
  readonly kind: 'mremap';
  readonly name: string;
  readonly range: RangeRef;
  /** MREMAP_FIXED's address; absent for a resize where the mapping is (or MREMAP_MAYMOVE's choice). */
  readonly target?: RangeRef;
  /** `to SIZE`: the new size in pages; absent: the range's own size. */
  readonly newPages?: number;
  /** `maymove` after a size without `at`. */
  readonly mayMove: boolean;
  readonly dontUnmap: boolean;
}

export interface FnDecl extends Base { readonly kind: 'fn'; readonly name: string; readonly nameLoc?: Loc; readonly body: Stmt[]; readonly endLoc: Loc }

export type KernelStmt =
  | { readonly kind: 'kread'; readonly range: RangeRef; readonly loc: Loc }
  | { readonly kind: 'kwrite'; readonly range: RangeRef; readonly pattern: Expr; readonly loc: Loc }
  | { readonly kind: 'katomic'; readonly range: RangeRef; readonly loc: Loc }
  | { readonly kind: 'kcompute'; readonly ns: number; readonly loc: Loc };

export interface KernelDecl extends Base {
  readonly kind: 'kernel';
  readonly name: string;
  readonly nameLoc?: Loc;
  readonly params: readonly { readonly name: string; readonly loc: Loc }[];
  readonly body: KernelStmt[];
  readonly endLoc: Loc;
}

/** `linux 6.12` / `linux mainline`: the kernel version the script is written for. */
export interface LinuxDecl extends Base {
  readonly kind: 'linux';
  readonly version: string;
  readonly versionLoc: Loc;
}

export type Stmt =
  | LinuxDecl
  | DeviceDecl
  | FileDecl
  | MmapStmt
  | MremapStmt
  | FnDecl
  | KernelDecl
  // CPU
  | (Base & { readonly kind: 'read'; readonly range: RangeRef })
  | (Base & { readonly kind: 'write'; readonly range: RangeRef; readonly pattern: Expr })
  | (Base & { readonly kind: 'munmap'; readonly range: RangeRef })
  | (Base & { readonly kind: 'mprotect'; readonly range: RangeRef; readonly prot: Prot })
  | (Base & { readonly kind: 'madvise'; readonly range: RangeRef; readonly advice: MadviseAdvice })
  | (Base & { readonly kind: 'pin'; readonly range: RangeRef; readonly longterm: boolean })
  | (Base & { readonly kind: 'unpin'; readonly range: RangeRef })
  | (Base & { readonly kind: 'compute'; readonly ns: number })
  // device operations (dmirror)
  | (Base & { readonly kind: 'devRead'; readonly device: string; readonly deviceLoc: Loc; readonly range: RangeRef })
  | (Base & { readonly kind: 'devWrite'; readonly device: string; readonly deviceLoc: Loc; readonly range: RangeRef; readonly pattern: Expr })
  | (Base & { readonly kind: 'migrate'; readonly range: RangeRef; readonly target: Target; readonly from?: string; readonly fromLoc?: Loc })
  | (Base & { readonly kind: 'snapshot'; readonly device: string; readonly deviceLoc: Loc; readonly range: RangeRef })
  | (Base & { readonly kind: 'exclusive'; readonly device: string; readonly deviceLoc: Loc; readonly range: RangeRef })
  | (Base & { readonly kind: 'checkExclusive'; readonly device: string; readonly deviceLoc: Loc; readonly range: RangeRef })
  | (Base & { readonly kind: 'release'; readonly device: string; readonly deviceLoc: Loc })
  | (Base & { readonly kind: 'failNextAlloc'; readonly device: string; readonly deviceLoc: Loc })
  | (Base & { readonly kind: 'close'; readonly device: string; readonly deviceLoc: Loc })
  // processes
  | (Base & { readonly kind: 'fork'; readonly name: string; readonly nameLoc?: Loc })
  | (Base & { readonly kind: 'forkBlock'; readonly body: Stmt[]; readonly endLoc: Loc })
  | (Base & { readonly kind: 'as'; readonly process: string; readonly processLoc: Loc; readonly body: Stmt[]; readonly endLoc: Loc })
  | (Base & { readonly kind: 'exit'; readonly process: string; readonly processLoc: Loc })
  // expectations
  | (Base & { readonly kind: 'expectData'; readonly range: RangeRef; readonly pattern: Expr })
  | (Base & { readonly kind: 'expectState'; readonly range: RangeRef; readonly state: PageStatePattern })
  | (Base & { readonly kind: 'expectMaps'; readonly device: string; readonly deviceLoc: Loc; readonly range: RangeRef; readonly mapping: MirrorMapping })
  | (Base & { readonly kind: 'expectRc'; readonly rc: Errno | 0 })
  | (Base & { readonly kind: 'expectCounter'; readonly counter: 'cpages' | 'faults'; readonly value: Expr })
  | (Base & { readonly kind: 'expectLastData'; readonly index?: IndexRange; readonly pattern: Expr })
  | (Base & { readonly kind: 'expectLastFlags'; readonly index?: IndexRange; readonly flags: number })
  | (Base & {
      readonly kind: 'expectNotified';
      readonly device: string;
      readonly deviceLoc: Loc;
      readonly event: NotifierEventName;
      readonly range?: RangeRef;
      /** undefined: not checked; null: `owner none`. */
      readonly owner?: { readonly device: string; readonly loc: Loc } | null;
    })
  | (Base & { readonly kind: 'expectNotNotified'; readonly device: string; readonly deviceLoc: Loc })
  | (Base & { readonly kind: 'expectUsed'; readonly device: string; readonly deviceLoc: Loc; readonly pages: number })
  | (Base & {
      readonly kind: 'expectStats';
      readonly counter: StatsCounter;
      readonly op: CompareOp;
      /** A plain number, or for `time` a duration in ns. */
      readonly value: number;
      readonly valueIsDuration: boolean;
    })
  // structure
  | (Base & { readonly kind: 'call'; readonly name: string; readonly nameLoc: Loc })
  | (Base & { readonly kind: 'repeat'; readonly count: Expr; readonly var?: string; readonly varLoc?: Loc; readonly body: Stmt[]; readonly endLoc: Loc })
  | (Base & { readonly kind: 'print'; readonly what: { readonly kind: 'range'; readonly range: RangeRef } | { readonly kind: 'text'; readonly text: string } })
  // GPU work, placement hints and time
  | (Base & {
      readonly kind: 'launch';
      readonly kernel: string;
      readonly kernelLoc: Loc;
      readonly args: readonly RangeRef[];
      readonly device: string;
      readonly deviceLoc: Loc;
      readonly job?: string;
      readonly jobLoc?: Loc;
    })
  | (Base & { readonly kind: 'wait'; readonly target: WaitTarget })
  | (Base & { readonly kind: 'advise'; readonly range: RangeRef; readonly advice: AdviceKind })
  | (Base & { readonly kind: 'prefetch'; readonly range: RangeRef; readonly target: Target });

export type StmtKind = Stmt['kind'];

/** A parsed file. */
export interface Script {
  readonly file: string;
  readonly body: Stmt[];
}

/** A problem found in a script, reported as `file:line:col: message`. */
export interface Diagnostic {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly endCol?: number;
  readonly severity: 'error' | 'warning';
  readonly message: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.message}`;
}

/** Depth of an expression tree (a number is 1), without recursing: trees come from any input. */
export function exprDepth(e: Expr): number {
  let max = 0;
  const todo: [Expr, number][] = [[e, 1]];
  for (let item = todo.pop(); item !== undefined; item = todo.pop()) {
    const [x, d] = item;
    if (d > max) max = d;
    if (x.kind === 'neg') todo.push([x.operand, d + 1]);
    else if (x.kind === 'binary') todo.push([x.left, d + 1], [x.right, d + 1]);
  }
  return max;
}

/** What follows `to` in an mremap statement, with the target as it resolved (`a[2]`). */
export function mremapTargetText(stmt: MremapStmt, target: string | undefined): string {
  const size = stmt.newPages === undefined ? '' : `${stmt.newPages} pages`;
  const at = target === undefined ? '' : size === '' ? target : ` at ${target}`;
  return `${size}${at}${stmt.mayMove ? ' maymove' : ''}${stmt.dontUnmap ? ' dontunmap' : ''}`;
}
