// The base of every tree node (mcu-debug/peripheral-viewer style): a node knows its parent, makes
// its TreeItem, and computes its children once, when first expanded.

import * as vscode from 'vscode';

export abstract class TreeNode {
  private cached: Promise<TreeNode[]> | undefined;

  constructor(readonly parent: TreeNode | undefined) {}

  /** Stable across refreshes, so the tree keeps what was expanded. */
  abstract readonly id: string;

  protected abstract makeItem(): vscode.TreeItem;

  protected makeChildren(): TreeNode[] | Promise<TreeNode[]> {
    return [];
  }

  item(): vscode.TreeItem {
    const item = this.makeItem();
    item.id = this.id;
    return item;
  }

  children(): Promise<TreeNode[]> {
    this.cached ??= Promise.resolve(this.makeChildren());
    return this.cached;
  }
}

/** A leaf `name: value` line (details of a migration or callback). */
export class DetailNode extends TreeNode {
  constructor(parent: TreeNode, private readonly key: string, private readonly value: string, private readonly icon?: vscode.ThemeIcon) {
    super(parent);
  }

  get id(): string {
    return `${this.parent!.id}/${this.key}`;
  }

  protected makeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem(this.key, vscode.TreeItemCollapsibleState.None);
    item.description = this.value;
    item.tooltip = `${this.key}: ${this.value}`;
    item.contextValue = 'hmmDetail';
    if (this.icon) item.iconPath = this.icon;
    return item;
  }
}

/** A TreeDataProvider over TreeNode roots that the owner replaces on every refresh. */
export class NodeTreeProvider implements vscode.TreeDataProvider<TreeNode>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private roots: TreeNode[] = [];

  setRoots(roots: TreeNode[]): void {
    this.roots = roots;
    this.emitter.fire(undefined);
  }

  get rootNodes(): readonly TreeNode[] {
    return this.roots;
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    return node.item();
  }

  getChildren(node?: TreeNode): Promise<TreeNode[]> | TreeNode[] {
    return node === undefined ? this.roots : node.children();
  }

  getParent(node: TreeNode): TreeNode | undefined {
    return node.parent;
  }

  dispose(): void {
    this.emitter.dispose();
  }
}
