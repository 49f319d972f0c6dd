// Page Residency nodes: process → mapping → page run → (ranges of at most 1000 pages) → page.
// Runs come from `hmm/residency`; a truncated mapping ends in a node that fetches more runs.

import * as vscode from 'vscode';
import type { ResidencyMapping, ResidencyRun } from '../adapter/protocol';
import { dap } from './dap';
import { mirrorsText, pageAddress, plural, rangeName, residencySummary, runState } from './pages';
import { residencyColorId, settings } from './settings';
import type { ProcessResidency } from './state';
import { TreeNode } from './treeNode';

/** No node has more children than this: big runs nest ranges of 1000, 1M, … pages. */
export const FANOUT = 1000;

/** What the page actions (watch, copy address, view binary data, reveal in map) work on. */
export interface PageTarget {
  readonly session: vscode.DebugSession;
  readonly process: string;
  readonly mapping: ResidencyMapping;
  /** Pages [start, end) relative to the mapping. */
  readonly start: number;
  readonly end: number;
}

export function isPageTarget(x: unknown): x is { target(): PageTarget } {
  return x instanceof MappingNode || x instanceof RunNode || x instanceof PageRangeNode || x instanceof PageNode;
}

function kindIcon(r: ResidencyRun): vscode.ThemeIcon {
  const color = new vscode.ThemeColor(residencyColorId(r.kind));
  const id = r.pinned ? 'pinned'
    : r.kind === 'exclusive' ? 'lock'
    : r.kind === 'empty' ? 'circle-outline'
    : r.kind === 'unmapped' ? 'circle-slash'
    : r.kind === 'zero' ? 'circle-small-filled'
    : 'circle-filled';
  return new vscode.ThemeIcon(id, color);
}

function runTooltip(m: ResidencyMapping, r: ResidencyRun, start: number, end: number): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, false);
  md.appendMarkdown(`**${rangeName(m.name, m.pages, start, end)}** — ${plural(end - start, 'page')}\n\n`);
  md.appendMarkdown(`- state: \`${runState(r)}\`\n`);
  md.appendMarkdown(`- address: \`${pageAddress(m, start)}\`..\`${pageAddress(m, end)}\`\n`);
  const mirrors = Object.entries(r.mirrors);
  if (mirrors.length > 0) md.appendMarkdown(`- device page tables (first page): ${mirrors.map(([d, v]) => `${d} \`${v}\``).join(', ')}\n`);
  return md;
}

export class ProcessNode extends TreeNode {
  constructor(readonly session: vscode.DebugSession, readonly process: ProcessResidency) {
    super(undefined);
  }

  get id(): string {
    return `residency/${this.process.name}`;
  }

  protected makeItem(): vscode.TreeItem {
    const p = this.process;
    const item = new vscode.TreeItem(p.name, p.current ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
    item.description = `${p.current ? 'stopped here · ' : ''}${plural(p.mappings.length, 'mapping')}`;
    item.tooltip = `process ${p.name}${p.current ? ' (the debugger is stopped in it)' : ''}`;
    item.iconPath = new vscode.ThemeIcon(p.current ? 'debug-stackframe' : 'server-process');
    item.contextValue = 'hmmProcess';
    return item;
  }

  protected override makeChildren(): TreeNode[] {
    return this.process.mappings.map((m) => new MappingNode(this, m));
  }
}

export class MappingNode extends TreeNode {
  constructor(readonly processNode: ProcessNode, readonly mapping: ResidencyMapping) {
    super(processNode);
  }

  get id(): string {
    return `${this.processNode.id}/${this.mapping.name}`;
  }

  target(): PageTarget {
    return { session: this.processNode.session, process: this.processNode.process.name, mapping: this.mapping, start: 0, end: this.mapping.pages };
  }

  protected makeItem(): vscode.TreeItem {
    const m = this.mapping;
    const item = new vscode.TreeItem(m.name, vscode.TreeItemCollapsibleState.Collapsed);
    item.description = `${residencySummary(m)} · ${plural(m.pages, 'page')} @${m.address}`;
    const md = new vscode.MarkdownString(undefined, false);
    md.appendMarkdown(`**${m.name}**: ${plural(m.pages, 'page')} at \`${m.address}\` in ${m.process}\n\n`);
    for (const r of m.runs.slice(0, 20)) md.appendMarkdown(`- \`${rangeName(m.name, m.pages, r.start, r.end)}\` ${runState(r)}\n`);
    if (m.runs.length > 20 || m.truncated) md.appendMarkdown('- …\n');
    item.tooltip = md;
    item.iconPath = new vscode.ThemeIcon('symbol-array');
    item.contextValue = 'hmmMapping';
    return item;
  }

  protected override makeChildren(): TreeNode[] {
    const runs: TreeNode[] = this.mapping.runs.map((r) => new RunNode(this, r));
    const last = this.mapping.runs[this.mapping.runs.length - 1];
    if (this.mapping.truncated && last !== undefined) runs.push(new MoreRunsNode(this, last.end));
    return runs;
  }
}

/** Pages [start, end) of one run, as pages or as nested ranges of at most FANOUT children. */
function pageChildren(parent: RunNode | PageRangeNode, run: RunNode, start: number, end: number): TreeNode[] {
  const n = end - start;
  const out: TreeNode[] = [];
  if (n <= FANOUT) {
    for (let p = start; p < end; p++) out.push(new PageNode(parent, run, p));
    return out;
  }
  let step = FANOUT;
  while (n / step > FANOUT) step *= FANOUT;
  for (let s = start; s < end; s += step) out.push(new PageRangeNode(parent, run, s, Math.min(end, s + step)));
  return out;
}

export class RunNode extends TreeNode {
  constructor(readonly mappingNode: MappingNode, readonly run: ResidencyRun) {
    super(mappingNode);
  }

  get id(): string {
    return `${this.mappingNode.id}/run${this.run.start}-${this.run.end}`;
  }

  get mapping(): ResidencyMapping {
    return this.mappingNode.mapping;
  }

  target(): PageTarget {
    return { ...this.mappingNode.target(), start: this.run.start, end: this.run.end };
  }

  protected makeItem(): vscode.TreeItem {
    const r = this.run;
    const m = this.mapping;
    const item = new vscode.TreeItem(rangeName(m.name, m.pages, r.start, r.end), vscode.TreeItemCollapsibleState.Collapsed);
    const mirrors = mirrorsText(r);
    item.description = `${runState(r)} · ${plural(r.end - r.start, 'page')}${mirrors ? ` · ${mirrors}` : ''}`;
    item.tooltip = runTooltip(m, r, r.start, r.end);
    item.iconPath = kindIcon(r);
    item.contextValue = 'hmmRun';
    return item;
  }

  protected override makeChildren(): TreeNode[] {
    return pageChildren(this, this, this.run.start, this.run.end);
  }
}

export class PageRangeNode extends TreeNode {
  constructor(parent: RunNode | PageRangeNode, readonly runNode: RunNode, readonly start: number, readonly end: number) {
    super(parent);
  }

  get id(): string {
    return `${this.runNode.id}/r${this.start}-${this.end}`;
  }

  target(): PageTarget {
    return { ...this.runNode.target(), start: this.start, end: this.end };
  }

  protected makeItem(): vscode.TreeItem {
    const m = this.runNode.mapping;
    const item = new vscode.TreeItem(rangeName(m.name, m.pages, this.start, this.end), vscode.TreeItemCollapsibleState.Collapsed);
    item.description = `${plural(this.end - this.start, 'page')} @${pageAddress(m, this.start)}`;
    item.tooltip = runTooltip(m, this.runNode.run, this.start, this.end);
    item.iconPath = new vscode.ThemeIcon('list-flat');
    item.contextValue = 'hmmPageRange';
    return item;
  }

  protected override makeChildren(): TreeNode[] {
    return pageChildren(this, this.runNode, this.start, this.end);
  }
}

export class PageNode extends TreeNode {
  constructor(parent: RunNode | PageRangeNode, readonly runNode: RunNode, readonly page: number) {
    super(parent);
  }

  get id(): string {
    return `${this.runNode.id}/p${this.page}`;
  }

  target(): PageTarget {
    return { ...this.runNode.target(), start: this.page, end: this.page + 1 };
  }

  protected makeItem(): vscode.TreeItem {
    const m = this.runNode.mapping;
    const r = this.runNode.run;
    const item = new vscode.TreeItem(`${m.name}[${this.page}]`, vscode.TreeItemCollapsibleState.None);
    item.description = `${runState(r)} · ${pageAddress(m, this.page)}`;
    item.tooltip = runTooltip(m, r, this.page, this.page + 1);
    item.iconPath = kindIcon(r);
    item.contextValue = 'hmmPage';
    return item;
  }
}

/** The runs after a truncated answer, fetched when expanded. */
export class MoreRunsNode extends TreeNode {
  constructor(readonly mappingNode: MappingNode, readonly from: number) {
    super(mappingNode);
  }

  get id(): string {
    return `${this.mappingNode.id}/more${this.from}`;
  }

  protected makeItem(): vscode.TreeItem {
    const m = this.mappingNode.mapping;
    const item = new vscode.TreeItem(`more runs from ${m.name}[${this.from}]…`, vscode.TreeItemCollapsibleState.Collapsed);
    item.description = `${plural(m.pages - this.from, 'page')} not listed yet`;
    item.tooltip = `Expand to fetch the next ${settings.maxRunsPerMapping()} runs (setting hmm.views.maxRunsPerMapping)`;
    item.iconPath = new vscode.ThemeIcon('ellipsis');
    item.contextValue = 'hmmMoreRuns';
    return item;
  }

  protected override async makeChildren(): Promise<TreeNode[]> {
    const owner = this.mappingNode;
    const m = owner.mapping;
    const body = await dap.residency(owner.processNode.session, {
      process: m.process, mapping: m.name, start: this.from, maxRuns: settings.maxRunsPerMapping(),
    });
    const more = body.mappings.find((x) => x.name === m.name);
    if (more === undefined) return [];
    const nodes: TreeNode[] = more.runs.map((r) => new RunNode(owner, r));
    const last = more.runs[more.runs.length - 1];
    if (more.truncated && last !== undefined) nodes.push(new MoreRunsNode(owner, last.end));
    return nodes;
  }
}
