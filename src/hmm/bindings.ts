// The names a script gives address ranges (`a = mmap …`): each name's current mapping, every
// range some process still maps (a name may have been bound again since), and ranges told by
// name (`a[2..6]`) in events, errors and kernel frames.

import { ADDRESS_SPACE_PAGES, PAGE_SIZE } from './constants';
import type { Mm } from './mm';
import { rangeName } from './rangeName';

/** A name the script bound to addresses (`a = mmap …`). */
export interface MappingBinding {
  readonly name: string;
  readonly start: number;
  readonly pages: number;
}

export interface MappingNamesState {
  readonly bindings: [string, MappingBinding][];
  readonly reservations: MappingBinding[];
}

export class MappingNames {
  /** Mapping names → their current addresses. */
  readonly bindings = new Map<string, MappingBinding>();
  /** Every live range, in mmap order. */
  private readonly reservations: MappingBinding[] = [];

  /** Ranges some process still maps (where a new mapping must not go). */
  get reserved(): readonly MappingBinding[] {
    return this.reservations;
  }

  bind(b: MappingBinding): void {
    this.reservations.push(b);
    this.bindings.set(b.name, b);
  }

  /** `a[2..6]` when the pages belong to a bound mapping, else hex addresses. */
  describeRange(start: number, end: number): string {
    if (end >= ADDRESS_SPACE_PAGES) return '[0, ULONG_MAX)';
    const b = this.reservations.find((r) => start >= r.start && start < r.start + r.pages);
    if (b !== undefined && end <= b.start + b.pages) {
      return rangeName(b.name, b.pages, start - b.start, end - b.start);
    }
    return `[0x${(start * PAGE_SIZE).toString(16)}, 0x${(end * PAGE_SIZE).toString(16)})`;
  }

  bindingAt(vpn: number): MappingBinding | undefined {
    return this.reservations.find((r) => vpn >= r.start && vpn < r.start + r.pages);
  }

  /** Drop ranges no process maps any part of (after munmap / exit). */
  releaseUnused(mms: readonly Mm[]): void {
    for (let i = this.reservations.length - 1; i >= 0; i--) {
      const r = this.reservations[i]!;
      const used = mms.some((mm) => mm.alive && mm.vmas.intersecting(r.start, r.start + r.pages).length > 0);
      if (!used) this.reservations.splice(i, 1);
    }
  }

  save(): MappingNamesState {
    return { bindings: [...this.bindings], reservations: this.reservations.slice() };
  }

  load(s: MappingNamesState): void {
    this.bindings.clear();
    for (const [k, v] of s.bindings) this.bindings.set(k, v);
    this.reservations.length = 0;
    this.reservations.push(...s.reservations);
  }
}
