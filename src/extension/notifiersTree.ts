// The Notifier Callbacks view: every invalidate callback (from `hmm/notifiers`), newest first:
// event, range, owner, mirror, seq before→after, what the driver did. New since the last stop
// ones are marked.

import * as vscode from 'vscode';
import type { NotifierCallback } from '../adapter/protocol';
import type { Ctx } from './context';
import { plural } from './pages';
import type { StateView } from './sessionWatcher';
import type { HmmState } from './state';
import { DetailNode, NodeTreeProvider, TreeNode } from './treeNode';

export const NOTIFIERS_VIEW = 'hmm.notifiers';

export class CallbackNode extends TreeNode {
  constructor(readonly callback: NotifierCallback, private readonly isNew: boolean) {
    super(undefined);
  }

  get id(): string {
    return `notifiers/${this.callback.seq}`;
  }

  protected makeItem(): vscode.TreeItem {
    const c = this.callback;
    const item = new vscode.TreeItem(`#${c.seq} ${c.event} ${c.range}`, vscode.TreeItemCollapsibleState.Collapsed);
    item.description = `${c.mirror} (${c.process}) · owner ${c.owner ?? 'none'} · seq ${c.seqBefore}→${c.seqAfter} · ${c.action}${c.count > 1 ? ` ×${c.count}` : ''}${this.isNew ? ' · new' : ''}`;
    item.tooltip = `${c.event} over ${c.range} in ${c.process}, owner ${c.owner ?? 'none'}: ${c.mirror}'s mirror ${c.action}` +
      `${c.erased ? ` (${plural(c.erased, 'entry', 'entries')} erased)` : ''}; interval seq ${c.seqBefore} → ${c.seqAfter}` +
      `${c.line !== undefined ? `; line ${c.line}` : ''}`;
    const ignored = c.action !== 'invalidated';
    item.iconPath = new vscode.ThemeIcon(this.isNew ? 'bell-dot' : 'bell', ignored ? undefined : new vscode.ThemeColor('hmmDebug.invalidation'));
    item.contextValue = 'hmmCallback';
    return item;
  }

  protected override makeChildren(): TreeNode[] {
    const c = this.callback;
    return [
      new DetailNode(this, 'event', c.event),
      new DetailNode(this, 'range', c.range),
      new DetailNode(this, 'owner', c.owner ?? 'none'),
      new DetailNode(this, 'mirror', `${c.mirror} in ${c.process}`),
      new DetailNode(this, 'seq', `${c.seqBefore} → ${c.seqAfter}`),
      new DetailNode(this, 'action', c.erased ? `${c.action}, ${plural(c.erased, 'entry', 'entries')} erased` : c.action),
      new DetailNode(this, 'calls', String(c.count)),
      ...(c.line !== undefined ? [new DetailNode(this, 'line', String(c.line))] : []),
    ];
  }
}

export class NotifiersTree implements StateView {
  readonly provider = new NodeTreeProvider();
  readonly view: vscode.TreeView<TreeNode>;

  constructor(ctx: Ctx) {
    this.view = ctx.own(vscode.window.createTreeView(NOTIFIERS_VIEW, { treeDataProvider: this.provider }));
    ctx.own(this.provider);
    this.update(undefined);
  }

  update(state: HmmState | undefined): void {
    const callbacks = state?.notifiers ?? [];
    this.view.message = state === undefined ? 'mmu interval notifier callbacks of a stopped .hmm script.'
      : callbacks.length === 0 ? 'No invalidation so far.' : undefined;
    const fresh = state === undefined ? 0 : callbacks.filter((c) => c.seq > state.newSinceSeq && state.newSinceSeq >= 0).length;
    this.view.badge = fresh > 0 ? { value: fresh, tooltip: `${plural(fresh, 'callback')} since the last stop` } : undefined;
    this.provider.setRoots(state === undefined ? [] : [...callbacks].reverse().map((c) => new CallbackNode(c, state.newSinceSeq >= 0 && c.seq > state.newSinceSeq)));
  }
}
