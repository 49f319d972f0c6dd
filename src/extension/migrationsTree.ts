// The Pending Migrations view: each migrate_vma in progress (from `hmm/migrations`) with its
// range, direction, phase, cpages, cause, and the runs of pages it left behind with the reason.

import * as vscode from 'vscode';
import type { MigrationInfo } from '../adapter/protocol';
import type { Ctx } from './context';
import { locate, plural, rangeName } from './pages';
import type { StateView } from './sessionWatcher';
import type { HmmState } from './state';
import { DetailNode, NodeTreeProvider, TreeNode } from './treeNode';

export const MIGRATIONS_VIEW = 'hmm.migrations';

export class MigrationNode extends TreeNode {
  constructor(private readonly state: HmmState, readonly migration: MigrationInfo, private readonly index: number) {
    super(undefined);
  }

  get id(): string {
    const m = this.migration;
    return `migrations/${this.index}/${m.process}/${m.start}-${m.end}/${m.direction}/${m.device}`;
  }

  protected makeItem(): vscode.TreeItem {
    const m = this.migration;
    const to = m.direction === 'to-device' ? m.device : `system (from ${m.device})`;
    const item = new vscode.TreeItem(`${m.range} → ${to}`, vscode.TreeItemCollapsibleState.Expanded);
    item.description = `${m.phase} · cpages ${m.cpages}${m.skipped.length ? ` · ${plural(m.skipped.reduce((n, s) => n + s.count, 0), 'page')} skipped` : ''}`;
    item.tooltip = `migrate_vma ${m.direction} of ${m.range} in ${m.process}: phase ${m.phase}, ${m.cpages} pages collected (cause: ${m.cause})`;
    item.iconPath = new vscode.ThemeIcon(m.direction === 'to-device' ? 'arrow-right' : 'arrow-left', new vscode.ThemeColor(m.direction === 'to-device' ? 'hmmDebug.residency.device' : 'hmmDebug.residency.system'));
    item.contextValue = 'hmmMigration';
    return item;
  }

  protected override makeChildren(): TreeNode[] {
    const m = this.migration;
    const mappings = this.state.processes.find((p) => p.name === m.process)?.mappings ?? [];
    const nodes: TreeNode[] = [
      new DetailNode(this, 'direction', m.direction === 'to-device' ? `to ${m.device}` : `to system from ${m.device}`),
      new DetailNode(this, 'phase', m.phase),
      new DetailNode(this, 'cpages', String(m.cpages)),
      new DetailNode(this, 'cause', m.cause),
      new DetailNode(this, 'process', m.process),
    ];
    for (const s of m.skipped) {
      const at = locate(mappings, s.start, s.start + s.count);
      const name = at ? rangeName(at.mapping.name, at.mapping.pages, at.start, at.end) : `pages ${s.start}..${s.start + s.count}`;
      nodes.push(new DetailNode(this, `skipped ${name}`, `${plural(s.count, 'page')}: ${s.reason}`, new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground'))));
    }
    return nodes;
  }
}

export class MigrationsTree implements StateView {
  readonly provider = new NodeTreeProvider();
  readonly view: vscode.TreeView<TreeNode>;

  constructor(ctx: Ctx) {
    this.view = ctx.own(vscode.window.createTreeView(MIGRATIONS_VIEW, { treeDataProvider: this.provider }));
    ctx.own(this.provider);
    this.update(undefined);
  }

  update(state: HmmState | undefined): void {
    const migrations = state?.migrations ?? [];
    this.view.message = state === undefined ? 'Migrations in progress while a .hmm script is stopped.'
      : migrations.length === 0 ? 'No migrate_vma in progress at this stop (step into a migrate to see one).' : undefined;
    this.view.badge = migrations.length > 0 ? { value: migrations.length, tooltip: `${plural(migrations.length, 'migration')} in progress` } : undefined;
    this.provider.setRoots(state === undefined ? [] : migrations.map((m, i) => new MigrationNode(state, m, i)));
  }
}
