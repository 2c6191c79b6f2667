// The extension's wiring, shared by the Node and browser entries: configuration provider, tracker, tree views, commands, status bar.
import * as vscode from 'vscode';
import { CUSTOM_REQUESTS, type EptResponseBody, type PageWalkResponseBody } from '../../debug-adapter/protocol.js';
import { openPicture, refreshPictures, type PictureKind } from './pictures/index.js';
import { resolveLaunch } from './config-resolve.js';
import { errorText, type ViewNode } from './model/node.js';
import { sourceOf, StopData, VIEW_KINDS, writeVmcsField, type ViewKind } from './session-data.js';
import { SpeedMeter, statusText } from './status.js';
import { parseSampleIndex, type SampleEntry } from './samples.js';
import { eptItems, pageWalkItems } from './translate-items.js';
import { NodeTreeProvider } from './views.js';
import { DISASM_CONTEXT, DISASM_SCHEME, disasmPath, disassemblyAround, ripOfPath } from './disasm-doc.js';
import { gotoExit, ripText, TimeTravelUnsupported } from './time-travel.js';

/** Disassembly documents' texts kept for VS Code to ask again (a few KiB each; the oldest dropped past this many). */
const DISASM_KEPT = 32;

export interface EntryOptions {
  /** How the adapter runs (inline, a process, a server); the browser entry is inline only. */
  adapterFactory: vscode.DebugAdapterDescriptorFactory;
  /** Called before a launch (the browser entry reads the image into memory here). */
  prepareLaunch?: (config: vscode.DebugConfiguration, folder: vscode.WorkspaceFolder | undefined) => Promise<void>;
}

/** Requests that set the guest running (a `continued` event is not sent for steps: DAP leaves that implied). */
const RUN_REQUESTS = new Set(['continue', 'next', 'stepIn', 'stepOut', 'stepBack', 'reverseContinue', 'goto', 'restart', CUSTOM_REQUESTS.stepToExit]);

async function exists(uri: vscode.Uri): Promise<boolean> {
  try { await vscode.workspace.fs.stat(uri); return true; } catch { return false; }
}

function pathToUri(p: string): vscode.Uri {
  return /^[a-z][a-z0-9+.-]+:/i.test(p) && !/^[a-z]:[\\/]/i.test(p) ? vscode.Uri.parse(p) : vscode.Uri.file(p);
}

export function activateCommon(context: vscode.ExtensionContext, opts: EntryOptions): void {
  const sub = (d: vscode.Disposable) => context.subscriptions.push(d);
  const data = new StopData(null);
  let session: vscode.DebugSession | undefined;
  const endedNotified = new Set<string>();
  /** Sessions whose adapter said exited/terminated before VS Code reported them started or active (a guest that runs to its end at once); ids only, a few bytes each. */
  const finishedEarly = new Set<string>();
  const meter = new SpeedMeter();
  const status = vscode.window.createStatusBarItem('vmscope.status', vscode.StatusBarAlignment.Left, 10);
  status.name = 'vmscope';
  status.command = 'vmscope.showExitTimeline';
  status.tooltip = 'vmscope: VM exits, guest instructions and speed at the last stop (click for the exit timeline)';
  sub(status);

  // ---- Tree views
  const providers = new Map<ViewKind, NodeTreeProvider>();
  for (const kind of VIEW_KINDS) {
    const select = kind === 'exits' ? (n: ViewNode): vscode.Command | undefined => (n.rip !== undefined ? { command: 'vmscope.revealExit', title: 'Reveal', arguments: [n] } : undefined) : undefined;
    const p = new NodeTreeProvider(() => data.roots(kind), select);
    providers.set(kind, p);
    sub(vscode.window.createTreeView(`vmscope.${kind}`, { treeDataProvider: p, showCollapseAll: true }));
  }
  const refreshViews = () => { for (const p of providers.values()) p.refresh(); };

  const updateStatus = async () => {
    if (session === undefined) { status.hide(); return; }
    if (data.phase !== 'stopped') { status.text = statusText(null, meter.lastMips, data.phase === 'running'); status.show(); return; }
    const s = session;
    const r = await data.get('exits');
    // The session may have ended (or moved on) while the request was out: a late answer must not show the item again.
    if (session !== s || data.phase !== 'stopped') return;
    const h = await data.history();
    if (session !== s || data.phase !== 'stopped') return;
    status.text = statusText(r.ok ? r.body.stats : null, meter.lastMips, false, h);
    status.show();
  };

  const onStop = async (s: vscode.DebugSession) => {
    data.stopped();
    // The VMCS is asked at every stop so "changed" means changed since the previous stop, even with the view closed.
    void data.get('vmcs');
    const ex = await data.get('exits');
    meter.stopped(Date.now(), ex.ok ? ex.body.stats.instructions : 0);
    refreshViews();
    void updateStatus();
    refreshPictures(s);
  };

  const attach = (s: vscode.DebugSession) => {
    session = s;
    data.requester = s;
    data.phase = 'running';
    meter.continued(Date.now());
    void vscode.commands.executeCommand('setContext', 'vmscope.sessionActive', true);
    refreshViews();
    void updateStatus();
  };
  const detach = (reason: string) => {
    data.ended(reason);
    data.requester = null;
    session = undefined;
    void vscode.commands.executeCommand('setContext', 'vmscope.sessionActive', false);
    refreshViews();
    status.hide();
    refreshPictures(undefined);
  };

  // ---- Adapter, configuration provider, tracker
  sub(vscode.debug.registerDebugAdapterDescriptorFactory('vmscope', opts.adapterFactory));
  sub(vscode.debug.registerDebugConfigurationProvider('vmscope', {
    async resolveDebugConfiguration(_folder, config) {
      const active = vscode.window.activeTextEditor?.document.uri;
      const r = await resolveLaunch(config as Record<string, unknown>, active?.scheme === 'file' || active?.scheme === 'vscode-vfs' ? active.fsPath : active?.toString(), { exists: (p) => exists(pathToUri(p)) });
      if (r.kind === 'error') {
        // undefined stops the launch quietly; the message says what to do instead.
        void vscode.window.showErrorMessage(r.message, 'Open Sample…', 'Add Configuration').then((a) => {
          if (a === 'Open Sample…') void vscode.commands.executeCommand('vmscope.openSample');
          else if (a === 'Add Configuration') void vscode.commands.executeCommand('debug.addConfiguration');
        });
        return undefined;
      }
      return r.config as vscode.DebugConfiguration;
    },
    async resolveDebugConfigurationWithSubstitutedVariables(folder, config) {
      if (opts.prepareLaunch !== undefined) {
        try { await opts.prepareLaunch(config, folder); } catch (e) { void vscode.window.showErrorMessage(`vmscope: ${errorText(e)}`); return undefined; }
      }
      return config;
    },
  }));
  sub(vscode.debug.registerDebugAdapterTrackerFactory('vmscope', {
    createDebugAdapterTracker(s) {
      let clean = false;
      return {
        onWillReceiveMessage(m: { type?: string; command?: string }) {
          if (m.type === 'request' && m.command !== undefined && RUN_REQUESTS.has(m.command) && s === session) {
            data.running();
            meter.continued(Date.now());
            refreshViews();
            void updateStatus();
          }
        },
        onDidSendMessage(m: { type?: string; event?: string; body?: { exitCode?: number } }) {
          if (m.type !== 'event') return;
          if (m.event === 'stopped') { if (session !== s) attach(s); void onStop(s); }
          else if (m.event === 'continued' && s === session) { data.running(); meter.continued(Date.now()); refreshViews(); void updateStatus(); }
          else if (m.event === 'exited') { clean = true; if (s === session) detach(`The guest exited with code ${m.body?.exitCode ?? '?'}.`); else finishedEarly.add(s.id); }
          else if (m.event === 'terminated') { clean = true; if (s === session) detach('The session ended.'); else finishedEarly.add(s.id); }
        },
        onError(e: Error) {
          if (s === session && !endedNotified.has(s.id)) { endedNotified.add(s.id); void vscode.window.showErrorMessage(`vmscope: the debug adapter failed: ${errorText(e)}`); }
        },
        onExit(code: number | undefined, signal: string | undefined) {
          if (clean || s !== session) return;
          const why = `The vmscope debug adapter stopped unexpectedly (${signal !== undefined ? `signal ${signal}` : `exit code ${code ?? '?'}`}).`;
          detach(why);
          if (!endedNotified.has(s.id)) { endedNotified.add(s.id); void vscode.window.showErrorMessage(why); }
        },
      };
    },
  }));
  // A session that already ended is not attached: the views would say "running" and the status bar stay up for good.
  sub(vscode.debug.onDidStartDebugSession((s) => { if (s.type === 'vmscope' && !finishedEarly.has(s.id)) attach(s); }));
  sub(vscode.debug.onDidTerminateDebugSession((s) => {
    if (s === session) detach(data.phase === 'ended' ? data.endReason : 'The session ended.');
    endedNotified.delete(s.id);
  }));
  sub(vscode.debug.onDidChangeActiveDebugSession((s) => {
    if (s !== undefined && s.type === 'vmscope' && s !== session && !finishedEarly.has(s.id)) { attach(s); data.stopped(); refreshViews(); void updateStatus(); }
  }));

  // ---- Disassembly documents (vmscope-disasm:/disasm @ 0x…): exits without a source line are shown there.
  const disasmChanged = new vscode.EventEmitter<vscode.Uri>();
  sub(disasmChanged);
  const disasmTexts = new Map<string, string>();
  sub(vscode.workspace.registerTextDocumentContentProvider(DISASM_SCHEME, {
    onDidChange: disasmChanged.event,
    async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
      const kept = disasmTexts.get(uri.toString());
      if (kept !== undefined) return kept;
      const rip = ripOfPath(uri.path);
      if (rip === null) return `; ${uri.path}: not an address vmscope can disassemble\n`;
      if (session === undefined || data.phase !== 'stopped') return `; ${rip}: no stopped vmscope session to disassemble from\n`;
      try { return (await disassemblyAround(session, rip)).text; } catch (e) { return `; ${rip}: ${errorText(e)}\n`; }
    },
  }));

  // ---- Commands
  const current = (): vscode.DebugSession | undefined => {
    const s = session ?? (vscode.debug.activeDebugSession?.type === 'vmscope' ? vscode.debug.activeDebugSession : undefined);
    if (s === undefined) void vscode.window.showInformationMessage('vmscope: no vmscope debug session is running. Press F5 on a guest image or run "vmscope: Open Sample…".');
    return s;
  };
  const guard = (f: (...a: any[]) => unknown) => async (...a: any[]) => {
    try { await f(...a); } catch (e) { void vscode.window.showErrorMessage(`vmscope: ${errorText(e)}`); }
  };
  const picture = async (kind: PictureKind, arg?: { gva?: string; device?: number; queue?: number }) => {
    const s = current();
    if (s !== undefined) await openPicture(kind, s, context.extensionUri, arg);
  };
  const askAddress = (prompt: string, placeHolder: string) => vscode.window.showInputBox({
    prompt, placeHolder, validateInput: (v) => (/^\s*(gpa:)?\s*(0x[0-9a-fA-F]{1,16}|[0-9]{1,20})\s*$/.test(v) ? undefined : 'A number: 0x… or decimal (gpa:0x… for a guest-physical address)'),
  });

  const commands: Record<string, (...a: any[]) => unknown> = {
    'vmscope.stepToExit': async () => { const s = current(); if (s !== undefined) await s.customRequest(CUSTOM_REQUESTS.stepToExit, { threadId: 1 }); },
    'vmscope.translateAddress': async () => {
      const s = current();
      if (s === undefined) return;
      const v = await askAddress('Guest address to translate: a guest-virtual address (page walk, then EPT) or gpa:0x… (EPT only)', '0x401000  or  gpa:0x1000');
      if (v === undefined) return;
      const t = v.trim();
      let items: ReturnType<typeof eptItems>;
      if (t.startsWith('gpa:')) {
        const body = (await s.customRequest(CUSTOM_REQUESTS.ept, { gpa: t.slice(4).trim() })) as EptResponseBody;
        if (body.translate === undefined) throw new Error('the adapter sent no translation');
        items = eptItems(body.translate);
      } else {
        const body = (await s.customRequest(CUSTOM_REQUESTS.pageWalk, { gva: t })) as PageWalkResponseBody;
        items = pageWalkItems(body);
      }
      const pick = vscode.window.createQuickPick();
      pick.title = `vmscope: ${t}`;
      pick.items = items;
      pick.matchOnDescription = true;
      pick.onDidHide(() => pick.dispose());
      pick.show();
    },
    'vmscope.showPageWalk': async () => {
      if (current() === undefined) return;
      const v = await askAddress('Guest-virtual address for the page-walk picture', '0x401000');
      if (v !== undefined) await picture('pageWalk', { gva: v.trim().replace(/^gpa:/, '') });
    },
    'vmscope.showExitTimeline': () => picture('exitTimeline'),
    'vmscope.showVirtioRing': (n?: ViewNode) => picture('virtioRing', n?.queue !== undefined ? { device: n.queue.device, queue: n.queue.queue } : undefined),
    'vmscope.copyValue': async (n?: ViewNode) => { if (n?.value !== undefined) await vscode.env.clipboard.writeText(n.value); },
    'vmscope.editVmcsField': async (n?: ViewNode) => {
      const s = current();
      if (s === undefined || n?.field === undefined) return;
      const v = await vscode.window.showInputBox({ prompt: `VMWRITE ${n.field}`, value: n.value, validateInput: (x) => (x.trim() === '' ? 'A value (0x…, decimal or an expression)' : undefined) });
      if (v === undefined) return;
      const written = await writeVmcsField(s, n.field, v.trim());
      data.stopped();
      refreshViews();
      void vscode.window.setStatusBarMessage(`vmscope: ${n.field} = ${written}`, 4000);
    },
    'vmscope.refreshViews': () => { if (data.phase === 'stopped') data.stopped(); refreshViews(); void updateStatus(); },
    'vmscope.revealExit': async (n?: ViewNode) => {
      const s = current();
      if (s === undefined || n?.rip === undefined) return;
      const src = await sourceOf(s, n.rip);
      if (src !== null) {
        const doc = await vscode.workspace.openTextDocument(pathToUri(src.path));
        const line = Math.max(0, src.line - 1);
        const range = new vscode.Range(line, 0, line, doc.lineAt(Math.min(line, doc.lineCount - 1)).text.length);
        await vscode.window.showTextDocument(doc, { selection: range, preserveFocus: true, preview: true });
      } else {
        // No source line: a read-only document of the instructions around the RIP, the exit's instruction selected.
        const dis = await disassemblyAround(s, n.rip, DISASM_CONTEXT, `VM exit ${n.label}`);
        const uri = vscode.Uri.from({ scheme: DISASM_SCHEME, path: disasmPath(dis.rip) });
        const key = uri.toString();
        disasmTexts.delete(key);
        disasmTexts.set(key, dis.text);
        while (disasmTexts.size > DISASM_KEPT) disasmTexts.delete(disasmTexts.keys().next().value!);
        disasmChanged.fire(uri); // an editor already showing this address takes the text of this stop
        const doc = await vscode.workspace.openTextDocument(uri);
        const line = Math.min(dis.line, Math.max(0, doc.lineCount - 1));
        const range = new vscode.Range(line, 0, line, doc.lineAt(line).text.length);
        const editor = await vscode.window.showTextDocument(doc, { selection: range, preserveFocus: true, preview: true });
        editor.revealRange(range, vscode.TextEditorRevealType.InCenter);
      }
    },
    'vmscope.gotoExit': async (arg?: ViewNode | number) => {
      const s = current();
      if (s === undefined) return;
      let index = typeof arg === 'number' ? arg : arg?.exit;
      if (index === undefined) {
        const v = await vscode.window.showInputBox({
          prompt: 'Go back to the moment of VM exit number… (the # in the VM exits view)', placeHolder: '12',
          validateInput: (x) => (/^\s*#?\s*[1-9][0-9]{0,15}\s*$/.test(x) ? undefined : 'An exit number: 1, 2, …'),
        });
        if (v === undefined) return;
        index = Number(v.trim().replace(/^#\s*/, ''));
      }
      try {
        const r = await gotoExit(s, index);
        void vscode.window.setStatusBarMessage(`vmscope: at VM exit #${index} (instruction ${r.icount}, RIP ${ripText(r.rip)})`, 5000);
      } catch (e) {
        if (e instanceof TimeTravelUnsupported) { void vscode.window.showErrorMessage(`vmscope: ${e.message}`); return; }
        void vscode.window.showErrorMessage(`vmscope: cannot go to VM exit #${index}: ${errorText(e)}`);
      }
    },
    'vmscope.loadMore': () => undefined,
    'vmscope.openSample': async () => {
      const root = vscode.Uri.joinPath(context.extensionUri, 'samples');
      let entries: SampleEntry[];
      try { entries = parseSampleIndex(new TextDecoder().decode(await vscode.workspace.fs.readFile(vscode.Uri.joinPath(root, 'index.json')))); } catch { entries = []; }
      if (entries.length === 0) { void vscode.window.showErrorMessage('vmscope: this installation carries no samples (samples/index.json is missing).'); return; }
      const pick = await vscode.window.showQuickPick(entries.map((e) => ({ label: e.title, description: e.name, detail: e.description, entry: e })), { title: 'vmscope: Open Sample', matchOnDetail: true });
      if (pick === undefined) return;
      let parent = vscode.workspace.workspaceFolders?.[0]?.uri;
      if (parent === undefined) {
        const chosen = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Copy the sample here' });
        if (chosen === undefined || chosen.length === 0) return;
        parent = chosen[0];
      }
      const dest = vscode.Uri.joinPath(parent, pick.entry.name);
      if (await exists(dest)) {
        const a = await vscode.window.showWarningMessage(`${pick.entry.name} already exists in ${parent.path}. Open it as it is?`, 'Open', 'Cancel');
        if (a !== 'Open') return;
      } else {
        await vscode.workspace.fs.copy(vscode.Uri.joinPath(root, pick.entry.name), dest, { overwrite: false });
      }
      // Its .vscode/launch.json applies when the sample folder is the workspace: open it (in this window when empty).
      const inWorkspace = vscode.workspace.workspaceFolders !== undefined && vscode.workspace.workspaceFolders.length > 0;
      await vscode.commands.executeCommand('vscode.openFolder', dest, { forceNewWindow: inWorkspace });
    },
  };
  for (const [id, f] of Object.entries(commands)) sub(vscode.commands.registerCommand(id, guard(f)));
  status.hide();
}
