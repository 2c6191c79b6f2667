// The picture panels (page walk, virtio rings, VM-exit timeline): one reused webview panel per kind, re-requested and re-rendered at each stop; the thin vscode glue over the pure renderers.
import * as vscode from 'vscode';
import { CUSTOM_REQUESTS, type ExitsArguments, type ExitsResponseBody, type PageWalkResponseBody, type VirtioResponseBody } from '../../../debug-adapter/protocol.js';
import { fetchTimeline, renderExitTimeline, type TimelineWindow } from './exits.js';
import { esc, makeNonce, noSessionPage, page, type PageContext } from './html.js';
import { renderPageWalk } from './pagewalk.js';
import { renderVirtio, type VirtioSelection } from './virtio.js';
import { fetchHistory } from '../time-travel.js';

/** The command the timeline's "Go to exit" runs (registered by activate.ts) with the exit number. */
export const GOTO_EXIT_COMMAND = 'vmscope.gotoExit';

export type PictureKind = 'pageWalk' | 'virtioRing' | 'exitTimeline';
export interface PictureSource { customRequest(command: string, args?: unknown): Thenable<any> }

const TITLES: Record<PictureKind, string> = { pageWalk: 'vmscope: Page Walk', virtioRing: 'vmscope: Virtio Rings', exitTimeline: 'vmscope: VM Exits' };

interface PanelState {
  panel: vscode.WebviewPanel;
  source: PictureSource | undefined;
  /** Page walk: the address; virtio: the selection; timeline: the zoom window. */
  gva?: string;
  selection: VirtioSelection;
  window?: TimelineWindow;
  /** Renders in flight are numbered: only the latest one may set the HTML. */
  generation: number;
}

const panels = new Map<PictureKind, PanelState>();

function ctxOf(p: vscode.WebviewPanel): PageContext {
  return { cspSource: p.webview.cspSource, nonce: makeNonce() };
}

function errorPage(ctx: PageContext, title: string, e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return page(ctx, title, `<h1>${esc(title)}</h1><p class="error">${esc(msg)}</p>`);
}

/** Ask the session for this panel's data and render it; the no-session page when there is none. */
async function render(kind: PictureKind, st: PanelState): Promise<void> {
  const gen = ++st.generation;
  const p = st.panel;
  const ctx = ctxOf(p);
  const set = (html: string) => { if (gen === st.generation && panels.get(kind) === st) p.webview.html = html; };
  const src = st.source;
  if (src === undefined) { set(noSessionPage(ctx, TITLES[kind])); return; }
  try {
    switch (kind) {
      case 'pageWalk': {
        if (st.gva === undefined) { set(noSessionPage(ctx, TITLES[kind], 'No address yet: run "vmscope: Show Page Walk" with a guest-virtual address.')); return; }
        const body = (await src.customRequest(CUSTOM_REQUESTS.pageWalk, { gva: st.gva })) as PageWalkResponseBody;
        set(renderPageWalk(body, ctx));
        return;
      }
      case 'virtioRing': {
        const body = (await src.customRequest(CUSTOM_REQUESTS.virtio, {})) as VirtioResponseBody;
        set(renderVirtio(body, st.selection, ctx));
        return;
      }
      case 'exitTimeline': {
        const data = await fetchTimeline((a: ExitsArguments) => src.customRequest(CUSTOM_REQUESTS.exits, a) as Thenable<ExitsResponseBody>);
        const h = await fetchHistory(src);
        data.history = h === null ? null : { oldest: h.oldestIcount, current: h.currentIcount, newest: h.newestIcount };
        set(renderExitTimeline(data, ctx, st.window));
        return;
      }
    }
  } catch (e) {
    set(errorPage(ctx, TITLES[kind], e));
  }
}

function onMessage(kind: PictureKind, st: PanelState, m: unknown): void {
  if (m === null || typeof m !== 'object') return;
  const msg = m as { type?: unknown; device?: unknown; queue?: unknown; lo?: unknown; hi?: unknown; n?: unknown };
  if (msg.type === 'refresh') void render(kind, st);
  else if (msg.type === 'gotoExit' && kind === 'exitTimeline' && Number.isSafeInteger(msg.n) && (msg.n as number) > 0) {
    void vscode.commands.executeCommand(GOTO_EXIT_COMMAND, msg.n as number);
  }
  else if (msg.type === 'select' && kind === 'virtioRing' && Number.isInteger(msg.device) && Number.isInteger(msg.queue)) {
    st.selection = { device: msg.device as number, queue: msg.queue as number };
    void render(kind, st);
  } else if (msg.type === 'window' && kind === 'exitTimeline' && typeof msg.lo === 'number' && typeof msg.hi === 'number' && Number.isFinite(msg.lo) && Number.isFinite(msg.hi) && msg.hi > msg.lo) {
    st.window = { lo: msg.lo, hi: msg.hi }; // remembered for the next stop's re-render
  }
}

/** Open (or reveal and retarget) the panel of one kind and render it from `source`. */
export async function openPicture(kind: PictureKind, source: PictureSource, extensionUri: vscode.Uri, arg?: { gva?: string; device?: number; queue?: number }): Promise<void> {
  let st = panels.get(kind);
  if (st === undefined) {
    const panel = vscode.window.createWebviewPanel(`vmscope.${kind}`, TITLES[kind], vscode.ViewColumn.Beside, {
      enableScripts: true, retainContextWhenHidden: false, localResourceRoots: [extensionUri],
    });
    const created: PanelState = { panel, source, selection: {}, generation: 0 };
    st = created;
    panels.set(kind, created);
    panel.onDidDispose(() => { if (panels.get(kind) === created) panels.delete(kind); });
    panel.webview.onDidReceiveMessage((m: unknown) => onMessage(kind, created, m));
  } else {
    st.panel.reveal(undefined, true);
  }
  st.source = source;
  if (arg?.gva !== undefined) st.gva = arg.gva;
  if (arg?.device !== undefined || arg?.queue !== undefined) st.selection = { device: arg.device, queue: arg.queue };
  await render(kind, st);
}

/** Re-request and re-render every open panel (at each stop), or show the no-session page (`undefined`: the session ended). */
export function refreshPictures(source: PictureSource | undefined): void {
  for (const [kind, st] of panels) {
    st.source = source;
    void render(kind, st);
  }
}
