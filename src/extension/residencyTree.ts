// The Page Residency view (in the HMM Memory panel, beside Pending Migrations and Notifier
// Callbacks): rebuilt from the shared state at every stop; can reveal a page.

import * as vscode from 'vscode';
import type { Ctx } from './context';
import { MappingNode, MoreRunsNode, PageNode, PageRangeNode, ProcessNode, RunNode } from './residencyNodes';
import type { StateView } from './sessionWatcher';
import type { HmmState } from './state';
import { NodeTreeProvider, type TreeNode } from './treeNode';

export const RESIDENCY_VIEW = 'hmm.residency';

export class ResidencyTree implements StateView {
  readonly provider = new NodeTreeProvider();
  readonly view: vscode.TreeView<TreeNode>;

  constructor(ctx: Ctx) {
    this.view = ctx.own(vscode.window.createTreeView(RESIDENCY_VIEW, { treeDataProvider: this.provider, showCollapseAll: true }));
    ctx.own(this.provider);
    this.update(undefined);
  }

  /** Sessions whose first stop showed the HMM Memory panel. */
  private readonly shown = new Set<string>();

  update(state: HmmState | undefined): void {
    this.view.message = state === undefined ? 'Where the pages of a stopped .hmm script live: start debugging one.' : undefined;
    const roots = state === undefined ? [] : state.processes.map((p) => new ProcessNode(state.session, p));
    this.provider.setRoots(roots);
    // The first stop of a session brings the HMM Memory panel up (once: after that the user
    // chooses what the panel shows), without taking the keyboard from the editor.
    const first = roots[0];
    if (state !== undefined && first !== undefined && !this.shown.has(state.session.id)) {
      this.shown.add(state.session.id);
      if (!this.view.visible) void Promise.resolve(this.view.reveal(first, { select: false, focus: false, expand: true })).catch(() => undefined);
    }
  }

  /** Selects page `page` of `mapping` in `process` (the current process by default). */
  async reveal(mapping: string, page: number, process?: string): Promise<boolean> {
    const proc = this.provider.rootNodes.find((n): n is ProcessNode => n instanceof ProcessNode && (process === undefined ? n.process.current : n.process.name === process));
    if (proc === undefined) return false;
    const mappingNode = (await proc.children()).find((n): n is MappingNode => n instanceof MappingNode && n.mapping.name === mapping);
    if (mappingNode === undefined) return false;
    let node: TreeNode | undefined = await findRun(mappingNode, page);
    while (node !== undefined && !(node instanceof PageNode)) {
      node = (await node.children()).find((c) => (c instanceof PageRangeNode && page >= c.start && page < c.end) || (c instanceof PageNode && c.page === page));
    }
    if (node === undefined) return false;
    await this.view.reveal(node, { select: true, focus: true, expand: true });
    return true;
  }
}

async function findRun(owner: MappingNode | MoreRunsNode, page: number): Promise<RunNode | undefined> {
  for (const c of await owner.children()) {
    if (c instanceof RunNode && page >= c.run.start && page < c.run.end) return c;
    if (c instanceof MoreRunsNode && page >= c.from) return findRun(c, page);
  }
  return undefined;
}
