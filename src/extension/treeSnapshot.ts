// Walks a TreeDataProvider the way the tree view does and records what it would show.

import * as vscode from 'vscode';
import type { TreeSnapshot } from './api';

export async function snapshotTree<T>(provider: vscode.TreeDataProvider<T>, depth: number, parent?: T): Promise<TreeSnapshot[]> {
  const children = (await provider.getChildren(parent)) ?? [];
  return Promise.all(children.map(async (child) => {
    const item = await provider.getTreeItem(child);
    const label = typeof item.label === 'string' ? item.label : item.label?.label ?? '';
    const snap: { -readonly [K in keyof TreeSnapshot]: TreeSnapshot[K] } = { label };
    if (typeof item.description === 'string' && item.description !== '') snap.description = item.description;
    if (item.tooltip !== undefined) snap.tooltip = typeof item.tooltip === 'string' ? item.tooltip : item.tooltip.value;
    if (item.contextValue !== undefined) snap.contextValue = item.contextValue;
    const expandable = item.collapsibleState !== undefined && item.collapsibleState !== vscode.TreeItemCollapsibleState.None;
    if (expandable && depth > 1) snap.children = await snapshotTree(provider, depth - 1, child);
    return snap;
  }));
}
