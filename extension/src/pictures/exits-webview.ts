// The VM-exit timeline's in-webview script: zoom (wheel, drag, buttons), hover details, and the postMessage protocol with the extension; serialised into the page.
/// <reference lib="dom" />
import type { TimelineData, TimelineWindow } from './exits-draw.js';

/** Messages the webview posts to the extension. */
export type TimelineToHost = { type: 'window'; lo: number; hi: number } | { type: 'refresh' } | { type: 'gotoExit'; n: number };
/** Messages the extension posts to the webview: new data after a stop (the zoom window is kept). */
export type TimelineToWebview = { type: 'data'; data: TimelineData };

/**
 * Runs in the webview. Self-contained (serialised with Function.prototype.toString): `draw` is drawTimeline,
 * `data` the initial model, `initial` the window to start with (the extension remembers the last one).
 */
export function timelineMain(draw: (d: TimelineData, w: TimelineWindow, width: number, selected?: number) => string, data: TimelineData, initial: TimelineWindow): void {
  type Api = { postMessage(m: unknown): void; getState(): unknown; setState(s: unknown): void };
  const g = globalThis as unknown as { acquireVsCodeApi?: () => Api };
  const vscode: Api = typeof g.acquireVsCodeApi === 'function' ? g.acquireVsCodeApi() : { postMessage() {}, getState() { return undefined; }, setState() {} };
  const full = (): TimelineWindow => {
    if (data.exits.length === 0) return { lo: 0, hi: 1 };
    const a = data.exits[0].icount, b = data.exits[data.exits.length - 1].icount;
    const pad = Math.max(1, (b - a) * 0.02);
    return { lo: Math.max(0, a - pad), hi: b + pad };
  };
  const saved = vscode.getState() as { win?: TimelineWindow; selected?: number } | undefined;
  let win: TimelineWindow = saved?.win ?? initial;
  /** The exit number selected by a click (kept across zooms and new data while the log still has it). */
  let selected: number | undefined = typeof saved?.selected === 'number' ? saved.selected : undefined;
  const host = document.getElementById('timeline')!;
  const info = document.getElementById('info')!;
  const gotoButton = document.getElementById('goto') as HTMLButtonElement | null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const showSelection = (): void => {
    if (gotoButton === null) return;
    gotoButton.disabled = selected === undefined;
    gotoButton.textContent = selected === undefined ? 'Go to selected exit' : `Go to exit #${selected}`;
  };
  const render = (): void => {
    if (selected !== undefined && !data.exits.some((e) => e.n === selected)) selected = undefined;
    host.innerHTML = draw(data, win, host.clientWidth > 0 ? host.clientWidth : 900, selected);
    showSelection();
    vscode.setState({ win, selected });
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => vscode.postMessage({ type: 'window', lo: win.lo, hi: win.hi }), 250);
  };
  const LABEL = 190;
  /** Instruction count under a client x coordinate. */
  const at = (clientX: number): number => {
    const svg = host.querySelector('svg');
    if (svg === null) return win.lo;
    const r = svg.getBoundingClientRect();
    const plotW = Math.max(1, r.width - LABEL - 16);
    const f = Math.min(1, Math.max(0, (clientX - r.left - LABEL) / plotW));
    return win.lo + f * (win.hi - win.lo);
  };
  const zoom = (factor: number, centre: number): void => {
    const lo = centre - (centre - win.lo) * factor, hi = centre + (win.hi - centre) * factor;
    if (hi - lo < 4) return; // at least a few instructions wide
    win = { lo: Math.max(0, lo), hi };
    render();
  };
  host.addEventListener('wheel', (e) => {
    e.preventDefault();
    zoom(e.deltaY < 0 ? 0.8 : 1.25, at(e.clientX));
  }, { passive: false });
  let drag: { x: number; win: TimelineWindow } | null = null;
  host.addEventListener('mousedown', (e) => { drag = { x: e.clientX, win }; });
  window.addEventListener('mouseup', () => { drag = null; });
  host.addEventListener('mousemove', (e) => {
    const t = e.target as Element | null;
    const tip = t?.getAttribute?.('data-tip');
    if (tip !== null && tip !== undefined) {
      // The attribute value is already decoded by the parser: textContent shows it as text, never as markup.
      info.textContent = tip;
    }
    if (drag === null) return;
    const svg = host.querySelector('svg');
    const plotW = svg !== null ? Math.max(1, svg.getBoundingClientRect().width - LABEL - 16) : 900;
    const shift = ((drag.x - e.clientX) / plotW) * (drag.win.hi - drag.win.lo);
    const lo = Math.max(0, drag.win.lo + shift);
    win = { lo, hi: lo + (drag.win.hi - drag.win.lo) };
    render();
  });
  /** The exit number of a tick under an event's target, or undefined. */
  const exitAt = (t: EventTarget | null): number | undefined => {
    const el = t as Element | null;
    if (el === null || typeof el.getAttribute !== 'function' || !el.classList?.contains('exit')) return undefined;
    const n = Number(el.getAttribute('data-n'));
    return Number.isSafeInteger(n) && n > 0 ? n : undefined;
  };
  host.addEventListener('click', (e) => {
    const n = exitAt(e.target);
    if (n === undefined) return;
    selected = n;
    const tip = (e.target as Element).getAttribute('data-tip');
    if (tip !== null) info.textContent = `selected: ${tip}`;
    // Marked in place (no redraw): the element stays, so a double-click lands on it.
    for (const el of Array.from(host.querySelectorAll('rect.exit.selected'))) el.classList.remove('selected');
    (e.target as Element).classList.add('selected');
    showSelection();
    vscode.setState({ win, selected });
  });
  host.addEventListener('dblclick', (e) => {
    const n = exitAt(e.target) ?? selected;
    if (n !== undefined) vscode.postMessage({ type: 'gotoExit', n });
  });
  const button = (id: string, f: () => void): void => { document.getElementById(id)?.addEventListener('click', f); };
  button('goto', () => { if (selected !== undefined) vscode.postMessage({ type: 'gotoExit', n: selected }); });
  button('zoomIn', () => zoom(0.5, (win.lo + win.hi) / 2));
  button('zoomOut', () => zoom(2, (win.lo + win.hi) / 2));
  button('reset', () => { win = full(); render(); });
  button('refresh', () => vscode.postMessage({ type: 'refresh' }));
  window.addEventListener('message', (e: MessageEvent) => {
    const m = e.data as TimelineToWebview;
    if (m !== null && typeof m === 'object' && m.type === 'data') { data = m.data; render(); }
  });
  window.addEventListener('resize', render);
  render();
}
