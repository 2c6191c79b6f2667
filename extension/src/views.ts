// The vscode side of the tree views: turns ViewNode data into TreeItems, loads lazy children once per node, refreshes on demand.
import * as vscode from 'vscode';
import type { ViewNode } from './model/node.js';

export class NodeTreeProvider implements vscode.TreeDataProvider<ViewNode> {
  private readonly changed = new vscode.EventEmitter<ViewNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  /** Lazy children, fetched once per node object (a refresh makes new nodes). */
  private readonly loaded = new WeakMap<ViewNode, Promise<ViewNode[]>>();

  constructor(private readonly roots: () => Promise<ViewNode[]>, private readonly selectCommand?: (n: ViewNode) => vscode.Command | undefined) {}

  refresh(): void {
    this.changed.fire(undefined);
  }

  getTreeItem(n: ViewNode): vscode.TreeItem {
    const expandable = (n.children !== undefined && n.children.length > 0) || n.load !== undefined;
    const item = new vscode.TreeItem(n.label, !expandable ? vscode.TreeItemCollapsibleState.None
      : n.expanded ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
    item.id = n.id;
    if (n.description !== undefined) item.description = n.description;
    if (n.tooltip !== undefined) {
      // Not trusted, no HTML: guest-controlled text stays text.
      const md = new vscode.MarkdownString(n.tooltip, false);
      md.isTrusted = false;
      md.supportHtml = false;
      item.tooltip = md;
    }
    if (n.icon !== undefined) item.iconPath = new vscode.ThemeIcon(n.icon, n.iconColor !== undefined ? new vscode.ThemeColor(n.iconColor) : undefined);
    if (n.contextValue !== undefined) item.contextValue = n.contextValue;
    const cmd = this.selectCommand?.(n);
    if (cmd !== undefined) item.command = cmd;
    return item;
  }

  async getChildren(n?: ViewNode): Promise<ViewNode[]> {
    if (n === undefined) return this.roots();
    if (n.children !== undefined) return n.children;
    if (n.load !== undefined) {
      let p = this.loaded.get(n);
      if (p === undefined) {
        p = n.load();
        this.loaded.set(n, p);
      }
      return p;
    }
    return [];
  }
}
