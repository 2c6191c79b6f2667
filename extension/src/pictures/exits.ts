// The VM-exit timeline picture: fetches the exit log in pages (vmscope/exits) into a TimelineData, and renders the page with the zoomable timeline and the per-reason statistics; pure, no vscode.
import type { ExitsArguments, ExitsResponseBody } from '../../../debug-adapter/protocol.js';
import type { ExitStatsView } from '../../../emulator/debug/views.js';
import { drawTimeline, type TimelineData, type TimelineExit, type TimelineWindow } from './exits-draw.js';
import { timelineMain } from './exits-webview.js';
import { esc, num, page, scriptJson, type PageContext } from './html.js';

export { drawTimeline, TIMELINE_DETAIL_LIMIT, type TimelineData, type TimelineExit, type TimelineHistory, type TimelineWindow } from './exits-draw.js';

/** Exits asked for per vmscope/exits request. */
export const EXITS_PAGE = 1024;
/** Most exits the picture fetches (the newest; a page of the log at a time): the emulator's log keeps up to a million (EXIT_LOG_CAPACITY), the statistics count all. */
export const EXITS_MAX = 1 << 16;

/**
 * Fetch the kept exit log in pages, oldest first, plus the statistics. Stops at `max` exits (the newest are kept),
 * at an empty page, or when a page does not advance (a misbehaving adapter cannot make this loop forever).
 */
export async function fetchTimeline(request: (args: ExitsArguments) => PromiseLike<ExitsResponseBody>, pageSize = EXITS_PAGE, max = EXITS_MAX): Promise<TimelineData> {
  const head = await request({ start: 0, count: 1 });
  const data: TimelineData = { total: head.total, firstKept: head.firstKept, lanes: lanesOf(head.stats), exits: [], truncated: false };
  if (head.firstKept === null || head.total <= 0) return data;
  const from = Math.max(head.firstKept, head.total - max + 1);
  data.truncated = from > head.firstKept;
  let next = from;
  for (let guard = 0; next <= head.total && guard < Math.ceil(max / pageSize) + 2; guard++) {
    const r = await request({ start: next, count: pageSize });
    let advanced = false;
    for (const e of r.entries) {
      if (e.n < next) continue;
      data.exits.push(toExit(e));
      next = e.n + 1;
      advanced = true;
    }
    if (!advanced) break;
  }
  return data;
}

function toExit(e: ExitsResponseBody['entries'][number]): TimelineExit {
  return { n: e.n, reason: e.reason, name: e.name, summary: e.summary, rip: e.rip, icount: e.icount, outcome: e.outcome };
}

/** One lane per reason of the statistics, most frequent first. */
export function lanesOf(s: ExitStatsView): TimelineData['lanes'] {
  return s.rows.map((r) => ({ reason: r.reason, name: r.name, count: r.count, share: r.share }));
}

/** The window showing every fetched exit, with a small margin. */
export function fullWindow(d: TimelineData): TimelineWindow {
  if (d.exits.length === 0) return { lo: 0, hi: 1 };
  const a = d.exits[0].icount, b = d.exits[d.exits.length - 1].icount;
  const pad = Math.max(1, (b - a) * 0.02);
  return { lo: Math.max(0, a - pad), hi: b + pad };
}

const CSS = `
svg .lanebg { fill: var(--box); }
svg .axis { stroke: var(--muted); stroke-width: 1; }
svg rect.exit:hover, svg rect.bucket:hover { stroke: var(--fg); stroke-width: 1; }
#timeline { width: 100%; user-select: none; cursor: grab; }
#info { min-height: 1.4em; font-family: var(--vscode-editor-font-family, monospace); }
svg rect.history { fill: var(--path); fill-opacity: 0.12; }
svg .cursor { pointer-events: none; }
svg .cursor line { stroke: var(--hot); stroke-width: 2; }
svg .cursor text { fill: var(--hot); }
svg rect.exit { cursor: pointer; }
svg rect.exit.selected { stroke: var(--fg); stroke-width: 2; }
button:disabled { opacity: 0.5; }
`;

/** The whole page: toolbar, the timeline (drawn now, redrawn by the webview script on zoom), the statistics table. */
export function renderExitTimeline(d: TimelineData, ctx: PageContext, win?: TimelineWindow): string {
  const w = win ?? fullWindow(d);
  const kept = d.firstKept === null ? 'none kept' : `exits ${num(d.firstKept)} … ${num(d.total)} kept by the log`;
  const h = d.history ?? null;
  const history = h === null ? '<span class="muted">no recorded history (reverse debugging is off or the adapter has none)</span>'
    : `recorded history: instructions ${num(h.oldest)} … ${num(h.newest)} · now at ${num(h.current)}`;
  const rows = d.lanes.map((l) => `<tr data-reason="${num(l.reason)}"><td>${num(l.reason)}</td><td>${esc(l.name)}</td><td>${num(l.count)}</td><td>${num(l.share * 100, 1)} %</td></tr>`).join('');
  const body = `<h1>VM exits</h1>
<p>${num(d.total)} exits since the start · ${kept}${d.truncated ? ` · showing the newest ${num(d.exits.length)}` : ''}</p>
<p id="history">${history}</p>
<p><button id="zoomIn">Zoom in</button> <button id="zoomOut">Zoom out</button> <button id="reset">Whole log</button> <button id="refresh">Refresh</button>
<button id="goto" disabled>Go to selected exit</button>
<span class="muted">wheel to zoom, drag to pan, hover an exit for its details, click to select it, double-click to go there</span></p>
<div id="timeline">${drawTimeline(d, w, 1000)}</div>
<p id="info"></p>
<h2>By reason</h2>
${rows === '' ? '<p class="muted">no exits yet</p>' : `<table class="stats"><tr><th>reason</th><th>name</th><th>count</th><th>share</th></tr>${rows}</table>`}`;
  const script = `(${timelineMain.toString()})(${drawTimeline.toString()}, ${scriptJson(d)}, ${scriptJson(w)});`;
  return page(ctx, 'vmscope: VM exits', body, { css: CSS, script });
}
