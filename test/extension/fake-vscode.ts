// A stand-in for the `vscode` module, enough to load the built bundles in Node and drive activate(): it records what the extension registers.
import { cpSync, readFileSync, statSync } from 'node:fs';
import Module from 'node:module';

export interface Recorded {
  commands: Map<string, (...a: any[]) => unknown>;
  treeViews: Map<string, { getChildren(n?: unknown): Promise<any[]>; getTreeItem(n: unknown): any }>;
  factories: Map<string, { createDebugAdapterDescriptor(s?: unknown): any }>;
  providers: Map<string, any>;
  trackers: Map<string, any>;
  listeners: Map<string, Array<(x: any) => void>>;
  messages: string[];
  settings: Record<string, unknown>;
  /** Commands the extension ran through vscode.commands.executeCommand, with their arguments. */
  executed: Array<[string, ...unknown[]]>;
  /** What the user picks in a quick pick (by item description), undefined to cancel. */
  pick?: string;
}

const disposable = { dispose() { /* nothing */ } };

/** Files the stand-in's workspace.fs serves (default: the host's file system through node:fs). */
export interface FakeFs {
  stat(path: string): { size: number; type: number };
  readFile(path: string): Uint8Array;
}

const nodeFs: FakeFs = {
  stat: (p) => { const s = statSync(p); return { size: s.size, type: s.isDirectory() ? 2 : 1 }; },
  readFile: (p) => new Uint8Array(readFileSync(p)),
};

export function fakeVscode(fs: FakeFs = nodeFs): { api: any; rec: Recorded } {
  const rec: Recorded = { commands: new Map(), treeViews: new Map(), factories: new Map(), providers: new Map(), trackers: new Map(), listeners: new Map(), messages: [], settings: {}, executed: [] };
  const on = (name: string) => (f: (x: any) => void) => { (rec.listeners.get(name) ?? rec.listeners.set(name, []).get(name)!).push(f); return disposable; };
  class Uri {
    constructor(readonly scheme: string, readonly path: string) {}
    get fsPath() { return this.path; }
    static file(p: string) { return new Uri('file', p); }
    static parse(s: string) { const m = /^([a-z]+):\/\/[^/]*(.*)$/.exec(s); return new Uri(m?.[1] ?? 'file', m?.[2] ?? s); }
    static joinPath(u: Uri, ...parts: string[]) { return new Uri(u.scheme, [u.path.replace(/\/$/, ''), ...parts].join('/')); }
    with(c: { path?: string }) { return new Uri(this.scheme, c.path ?? this.path); }
    toString() { return `${this.scheme}://${this.path}`; }
  }
  class EventEmitter<T> {
    private ls: Array<(x: T) => void> = [];
    event = (f: (x: T) => void) => { this.ls.push(f); return disposable; };
    fire(x: T) { for (const f of this.ls) f(x); }
    dispose() { this.ls = []; }
  }
  const statusItem = { text: '', tooltip: '', name: '', command: '', show() { /* */ }, hide() { /* */ }, dispose() { /* */ } };
  const api = {
    Uri, EventEmitter,
    TreeItem: class { id?: string; description?: string; constructor(readonly label: string, readonly collapsibleState: number) {} },
    ThemeIcon: class { constructor(readonly id: string, readonly color?: unknown) {} },
    ThemeColor: class { constructor(readonly id: string) {} },
    MarkdownString: class { isTrusted = false; supportHtml = false; constructor(readonly value: string) {} },
    Range: class { constructor(readonly a: number, readonly b: number, readonly c: number, readonly d: number) {} },
    DebugAdapterInlineImplementation: class { constructor(readonly implementation: unknown) {} },
    DebugAdapterExecutable: class { constructor(readonly command: string, readonly args: string[], readonly options?: unknown) {} },
    DebugAdapterServer: class { constructor(readonly port: number, readonly host?: string) {} },
    TreeItemCollapsibleState: { None: 0, Collapsed: 1, Expanded: 2 },
    StatusBarAlignment: { Left: 1, Right: 2 },
    ViewColumn: { Beside: -2 },
    window: {
      createStatusBarItem: () => statusItem,
      createTreeView: (id: string, o: { treeDataProvider: any }) => { rec.treeViews.set(id, o.treeDataProvider); return disposable; },
      showErrorMessage: (m: string) => { rec.messages.push(`error: ${m}`); return Promise.resolve(undefined); },
      showWarningMessage: (m: string) => { rec.messages.push(`warning: ${m}`); return Promise.resolve(undefined); },
      showInformationMessage: (m: string) => { rec.messages.push(`info: ${m}`); return Promise.resolve(undefined); },
      setStatusBarMessage: () => disposable,
      showQuickPick: async (items: Array<{ description?: string }>) => items.find((i) => i.description === rec.pick),
      activeTextEditor: undefined,
    },
    commands: {
      registerCommand: (id: string, f: (...a: any[]) => unknown) => { rec.commands.set(id, f); return disposable; },
      executeCommand: (id: string, ...args: unknown[]) => { rec.executed.push([id, ...args]); return Promise.resolve(undefined); },
    },
    debug: {
      registerDebugAdapterDescriptorFactory: (t: string, f: any) => { rec.factories.set(t, f); return disposable; },
      registerDebugConfigurationProvider: (t: string, p: any) => { rec.providers.set(t, p); return disposable; },
      registerDebugAdapterTrackerFactory: (t: string, f: any) => { rec.trackers.set(t, f); return disposable; },
      onDidStartDebugSession: on('start'), onDidTerminateDebugSession: on('terminate'), onDidChangeActiveDebugSession: on('active'),
      activeDebugSession: undefined,
    },
    workspace: {
      getConfiguration: (section: string) => ({ get: (k: string) => rec.settings[`${section}.${k}`] }),
      fs: {
        stat: async (u: Uri) => fs.stat(u.path),
        readFile: async (u: Uri) => fs.readFile(u.path),
        copy: async (from: Uri, to: Uri) => { cpSync(from.path, to.path, { recursive: true, errorOnExist: true, force: false }); },
      },
      workspaceFolders: undefined,
    },
    env: { clipboard: { writeText: async () => undefined } },
  };
  return { api, rec };
}

/** Load a CommonJS bundle with `require('vscode')` answered by `api`. */
export function loadWithVscode(path: string, api: unknown): any {
  const M = Module as unknown as { _load: (req: string, parent: unknown, isMain: boolean) => unknown };
  const original = M._load;
  M._load = function (req: string, parent: unknown, isMain: boolean) {
    return req === 'vscode' ? api : original.call(this, req, parent, isMain);
  };
  try {
    const req = Module.createRequire(path);
    delete req.cache[path];
    return req(path);
  } finally {
    M._load = original;
  }
}
