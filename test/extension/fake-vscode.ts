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
  /** What the user types in an input box (undefined: cancelled). */
  input?: string;
  /** Text-document content providers by scheme. */
  contentProviders: Map<string, { provideTextDocumentContent(u: unknown): Promise<string> | string; onDidChange?: (f: (u: unknown) => void) => unknown }>;
  /** Editors shown (showTextDocument): the document, the selection given and the range revealed with its type. */
  shown: Array<{ uri: string; text: string; languageId: string; selection?: { a: number; b: number; c: number; d: number }; revealed?: { range: unknown; type: number } }>;
  /** Status-bar messages (setStatusBarMessage). */
  statusMessages: string[];
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
  const rec: Recorded = { commands: new Map(), treeViews: new Map(), factories: new Map(), providers: new Map(), trackers: new Map(), listeners: new Map(), messages: [], settings: {}, executed: [], contentProviders: new Map(), shown: [], statusMessages: [] };
  const on = (name: string) => (f: (x: any) => void) => { (rec.listeners.get(name) ?? rec.listeners.set(name, []).get(name)!).push(f); return disposable; };
  class Uri {
    constructor(readonly scheme: string, readonly path: string) {}
    get fsPath() { return this.path; }
    static file(p: string) { return new Uri('file', p); }
    static from(c: { scheme: string; path?: string }) { return new Uri(c.scheme, c.path ?? ''); }
    static parse(s: string) { const m = /^([a-z]+):\/\/[^/]*(.*)$/.exec(s); return new Uri(m?.[1] ?? 'file', m?.[2] ?? s); }
    static joinPath(u: Uri, ...parts: string[]) { return new Uri(u.scheme, [u.path.replace(/\/$/, ''), ...parts].join('/')); }
    with(c: { path?: string }) { return new Uri(this.scheme, c.path ?? this.path); }
    toString() { return `${this.scheme}://${this.path}`; }
  }
  /** A text document as VS Code would make it: from a content provider for its scheme, else the file. */
  const openDoc = async (u: Uri) => {
    const p = rec.contentProviders.get(u.scheme);
    const text = p !== undefined ? await p.provideTextDocumentContent(u) : new TextDecoder().decode(fs.readFile(u.path));
    const lines = text.split('\n');
    return { uri: u, languageId: p !== undefined ? 'plaintext' : 'file', getText: () => text, lineCount: lines.length, lineAt: (i: number) => ({ text: lines[i] ?? '' }) };
  };
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
    TextEditorRevealType: { Default: 0, InCenter: 1, InCenterIfOutsideViewport: 2, AtTop: 3 },
    ViewColumn: { Beside: -2 },
    window: {
      createStatusBarItem: () => statusItem,
      createTreeView: (id: string, o: { treeDataProvider: any }) => { rec.treeViews.set(id, o.treeDataProvider); return disposable; },
      showErrorMessage: (m: string) => { rec.messages.push(`error: ${m}`); return Promise.resolve(undefined); },
      showWarningMessage: (m: string) => { rec.messages.push(`warning: ${m}`); return Promise.resolve(undefined); },
      showInformationMessage: (m: string) => { rec.messages.push(`info: ${m}`); return Promise.resolve(undefined); },
      setStatusBarMessage: (m: string) => { rec.statusMessages.push(m); return disposable; },
      showInputBox: async (o?: { validateInput?: (v: string) => string | undefined }) => {
        if (rec.input !== undefined && o?.validateInput?.(rec.input) !== undefined) throw new Error(`the input box refuses ${rec.input}`);
        return rec.input;
      },
      showTextDocument: async (doc: Awaited<ReturnType<typeof openDoc>>, o?: { selection?: { a: number; b: number; c: number; d: number } }) => {
        const entry: Recorded['shown'][number] = { uri: doc.uri.toString(), text: doc.getText(), languageId: doc.languageId, selection: o?.selection };
        rec.shown.push(entry);
        return { document: doc, revealRange: (range: unknown, type: number) => { entry.revealed = { range, type }; } };
      },
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
      registerTextDocumentContentProvider: (scheme: string, p: Recorded['contentProviders'] extends Map<string, infer P> ? P : never) => { rec.contentProviders.set(scheme, p); return disposable; },
      openTextDocument: (u: Uri) => openDoc(u),
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
