// Page states and snapshot flags as the language writes them (`device gpu0 rw shared`,
// `READ|WRITE (0x03)`): expectations' messages, the debugger's variables and inspection.

import type { PageState } from '../simulator';

export function foundText(st: PageState): string {
  if (st.kind === 'unmapped' || st.kind === 'empty' || st.kind === 'zero') return st.kind;
  const parts: string[] = [st.kind];
  if (st.device !== undefined) parts.push(st.device);
  if (st.kind !== 'exclusive') parts.push(st.writable ? 'rw' : 'ro');
  if (st.shared) parts.push('shared');
  if (st.pinned) parts.push('pinned');
  return parts.join(' ');
}

const FLAG_NAMES: readonly [number, string][] = [
  [0x50, 'DEV_COHERENT_REMOTE'], [0x40, 'DEV_COHERENT_LOCAL'], [0x30, 'DEV_PRIVATE_REMOTE'], [0x20, 'DEV_PRIVATE_LOCAL'], [0x10, 'ZERO'],
];

export function flagText(v: number): string {
  if (v === 0xff) return 'ERROR';
  if (v === 0) return 'NONE';
  const parts: string[] = [];
  const base = v & 0xf0;
  const named = FLAG_NAMES.find(([n]) => n === base);
  if (named) parts.push(named[1]);
  if (v & 0x01) parts.push('READ');
  if (v & 0x02) parts.push('WRITE');
  if (v & 0x04) parts.push('PMD');
  if (v & 0x08) parts.push('PUD');
  return `${parts.join('|')} (0x${v.toString(16).padStart(2, '0')})`;
}
