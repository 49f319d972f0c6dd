// Context actions on mapping, run and page nodes of Page Residency: watch, copy address,
// view binary data (the hex editor on the debug memory, or a hex dump in an untitled document).

import * as vscode from 'vscode';
import { dap } from './dap';
import { PAGE_SIZE, pageAddress, rangeName } from './pages';
import type { PageTarget } from './residencyNodes';
import { addWatchBreakpoint } from './watchBreakpoints';

/** At most this many bytes go into a hex dump document. */
const DUMP_LIMIT = 64 * 1024;
const HEX_EDITOR = 'ms-vscode.hexeditor';

export function targetName(t: PageTarget): string {
  return rangeName(t.mapping.name, t.mapping.pages, t.start, t.end);
}

/**
 * Watch the pages: a breakpoint named after them (`a[3]`) in the Breakpoints view, which the
 * adapter turns into a page watch (stops when their residency or device mapping changes).
 */
export function watchPages(t: PageTarget): string {
  const name = targetName(t);
  addWatchBreakpoint(name);
  const text = `watching ${name}: a breakpoint in the Breakpoints view (remove it there)`;
  void vscode.window.setStatusBarMessage(text, 5000);
  return text;
}

export async function copyAddress(t: PageTarget): Promise<string> {
  const address = pageAddress(t.mapping, t.start);
  await vscode.env.clipboard.writeText(address);
  void vscode.window.setStatusBarMessage(`Copied ${address} (${targetName(t)})`, 3000);
  return address;
}

/** The URI VS Code's debug memory file system serves (what "View Binary Data" opens). */
function debugMemoryUri(t: PageTarget): vscode.Uri {
  const ref = pageAddress(t.mapping, t.start);
  const bytes = (t.end - t.start) * PAGE_SIZE;
  return vscode.Uri.from({
    scheme: 'vscode-debug-memory',
    authority: t.session.id,
    path: `/${encodeURIComponent(ref)}/${encodeURIComponent(targetName(t))}.bin`,
    query: `?range=0:${bytes}`,
  });
}

/** Opens the pages' bytes: in the hex editor when it is installed, else as a hex dump. */
export async function viewBinaryData(t: PageTarget): Promise<vscode.TextDocument | undefined> {
  if (vscode.extensions.getExtension(HEX_EDITOR) !== undefined) {
    try {
      await vscode.commands.executeCommand('vscode.openWith', debugMemoryUri(t), 'hexEditor.hexedit');
      return undefined;
    } catch {
      // Fall through to the dump.
    }
  }
  const count = Math.min((t.end - t.start) * PAGE_SIZE, DUMP_LIMIT);
  const body = await dap.readMemory(t.session, pageAddress(t.mapping, t.start), count);
  if (body === undefined) throw new Error('the adapter sent no bytes');
  const data = Buffer.from(body.data ?? '', 'base64');
  const header = [
    `# ${targetName(t)} in ${t.process}: ${count} bytes from ${body.address} (DAP readMemory, step at the current stop)`,
    ...(body.unreadableBytes ? [`# ${body.unreadableBytes} bytes unreadable (unmapped or no read permission): shown as ??`] : []),
    ...(count < (t.end - t.start) * PAGE_SIZE ? [`# the first ${DUMP_LIMIT} bytes only`] : []),
    '',
  ];
  const doc = await vscode.workspace.openTextDocument({ content: header.join('\n') + hexDump(Number.parseInt(body.address, 16), data, count), language: 'plaintext' });
  await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside });
  return doc;
}

/** 16 bytes a line: address, hex bytes, ASCII. Bytes past `data` (unreadable) show as `??`. */
export function hexDump(address: number, data: Uint8Array, count: number): string {
  const lines: string[] = [];
  for (let off = 0; off < count; off += 16) {
    const hex: string[] = [];
    let ascii = '';
    for (let i = off; i < Math.min(off + 16, count); i++) {
      const b = data[i];
      hex.push(b === undefined ? '??' : b.toString(16).padStart(2, '0'));
      ascii += b === undefined ? ' ' : b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
    }
    lines.push(`${(address + off).toString(16).padStart(12, '0')}  ${hex.join(' ').padEnd(47)}  |${ascii}|`);
  }
  return `${lines.join('\n')}\n`;
}
