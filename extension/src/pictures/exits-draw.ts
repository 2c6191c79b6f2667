// The VM-exit timeline's SVG drawing: one lane per exit reason over the instruction count, exits as ticks or density buckets; self-contained so the same function also runs inside the webview.

/** One exit as the timeline needs it (from ExitEntryView). */
export interface TimelineExit {
  n: number;
  reason: number;
  name: string;
  summary: string;
  rip: string;
  icount: number;
  outcome: string;
}

/** A lane: one exit reason, with its total count from the statistics (including exits the log no longer keeps). */
export interface TimelineLane {
  reason: number;
  name: string;
  count: number;
  share: number;
}

/** Everything the timeline draws; JSON-compatible (it is posted to the webview). */
export interface TimelineData {
  /** Exits since the start. */
  total: number;
  /** Oldest exit number the log still keeps (null: none). */
  firstKept: number | null;
  lanes: TimelineLane[];
  /** The kept exits fetched, oldest first. */
  exits: TimelineExit[];
  /** The fetch stopped at its limit: older kept exits are not shown. */
  truncated: boolean;
  /** Reverse debugging's recorded span and the current moment (vmscope/history), null or absent without one. */
  history?: TimelineHistory | null;
}

/** Instruction counts of the recorded history: the span that can be gone back to, and where the machine is now. */
export interface TimelineHistory {
  oldest: number;
  current: number;
  newest: number;
}

/** The visible instruction-count window [lo, hi]. */
export interface TimelineWindow {
  lo: number;
  hi: number;
}

/** Above this many visible exits the timeline draws density buckets instead of one tick per exit. */
export const TIMELINE_DETAIL_LIMIT = 3000;

/**
 * Draw the timeline for a window, `width` pixels wide. Returns SVG markup. Every text from the model is escaped
 * here (summaries and names can carry guest bytes). Self-contained: no imports, no outer references (it is
 * serialised with Function.prototype.toString into the webview's script). `selected`: the exit number drawn as
 * selected. The recorded history (d.history) is a shaded span, the current moment a cursor line.
 */
export function drawTimeline(d: TimelineData, w: TimelineWindow, width: number, selected?: number): string {
  const DETAIL = 3000;
  const esc = (s: unknown): string => String(s).replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'));
  const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',') : '?');
  const plain = (n: number): string => (Number.isFinite(n) ? Math.round(n).toString() : '?');
  const hue = (reason: number): number => Math.round(((Number.isFinite(reason) ? reason : 0) * 137.508) % 360);
  const colour = (reason: number): string => `hsl(${hue(reason)}, 65%, 50%)`;
  const LABEL = 190, LANE = 22, TOP = 26, AXIS = 24;
  const plotW = Math.max(100, Math.floor((Number.isFinite(width) ? width : 900) - LABEL - 16));
  const lo = Number.isFinite(w.lo) ? w.lo : 0;
  const hi = Number.isFinite(w.hi) && w.hi > lo ? w.hi : lo + 1;
  const span = hi - lo;
  const xOf = (ic: number): number => LABEL + ((ic - lo) / span) * plotW;
  // Lanes: the statistics' reasons (most frequent first), plus any reason seen only in the log.
  const lanes = d.lanes.slice();
  for (const e of d.exits) if (!lanes.some((l) => l.reason === e.reason)) lanes.push({ reason: e.reason, name: e.name, count: 0, share: 0 });
  const laneOf = new Map<number, number>();
  lanes.forEach((l, i) => laneOf.set(l.reason, i));
  const h = TOP + lanes.length * LANE + AXIS + 8;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="${LABEL + plotW + 16}" height="${h}" viewBox="0 0 ${LABEL + plotW + 16} ${h}" data-lo="${lo}" data-hi="${hi}">`);
  lanes.forEach((l, i) => {
    const y = TOP + i * LANE;
    out.push(`<g class="lane" data-reason="${l.reason}"><rect class="lanebg" x="${LABEL}" y="${y}" width="${plotW}" height="${LANE - 4}"/>` +
      `<rect x="4" y="${y + 4}" width="10" height="10" fill="${colour(l.reason)}"/>` +
      `<text x="20" y="${y + 13}">${esc(l.name)} <tspan class="muted">${int(l.count)}</tspan></text></g>`);
  });
  // The recorded history: what reverse debugging can reach, shaded under the exits (clipped to the window).
  const hs = d.history ?? null;
  const okNum = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n);
  const lanesH = lanes.length * LANE;
  if (hs !== null && okNum(hs.oldest) && okNum(hs.newest) && hs.newest >= hs.oldest && hs.newest >= lo && hs.oldest <= hi) {
    const x1 = xOf(Math.max(lo, hs.oldest)), x2 = xOf(Math.min(hi, hs.newest));
    out.push(`<rect class="history" data-oldest="${plain(hs.oldest)}" data-newest="${plain(hs.newest)}" x="${x1.toFixed(1)}" y="${TOP - 2}" width="${Math.max(1, x2 - x1).toFixed(1)}" height="${lanesH}"><title>recorded history: instructions ${int(hs.oldest)} … ${int(hs.newest)}</title></rect>`);
  }
  const visible = d.exits.filter((e) => e.icount >= lo && e.icount <= hi);
  if (visible.length <= DETAIL) {
    for (const e of visible) {
      const x = xOf(e.icount), y = TOP + (laneOf.get(e.reason) ?? 0) * LANE;
      const tip = `#${plain(e.n)} ${esc(e.name)} at icount ${int(e.icount)}, RIP ${esc(e.rip)}: ${esc(e.summary)} (${esc(e.outcome)})`;
      out.push(`<rect class="exit${e.n === selected ? ' selected' : ''}" data-n="${plain(e.n)}" data-tip="${tip}" x="${(x - 1).toFixed(1)}" y="${y + 1}" width="3" height="${LANE - 6}" fill="${colour(e.reason)}"><title>${tip}</title></rect>`);
    }
  } else {
    // Density: 3-pixel buckets per lane; opacity grows with the log of the count.
    const B = Math.max(1, Math.floor(plotW / 3));
    const counts = new Map<number, number[]>();
    let max = 1;
    for (const e of visible) {
      const lane = laneOf.get(e.reason) ?? 0;
      let row = counts.get(lane);
      if (row === undefined) { row = new Array<number>(B).fill(0); counts.set(lane, row); }
      const b = Math.min(B - 1, Math.floor(((e.icount - lo) / span) * B));
      row[b]++;
      if (row[b] > max) max = row[b];
    }
    for (const [lane, row] of counts) {
      const y = TOP + lane * LANE, l = lanes[lane];
      for (let b = 0; b < B; b++) {
        if (row[b] === 0) continue;
        const a = lo + (b / B) * span, z = lo + ((b + 1) / B) * span;
        const tip = `${int(row[b])} ${esc(l.name)} exit(s) at icount ${int(a)} … ${int(z)}`;
        out.push(`<rect class="bucket" data-count="${row[b]}" data-tip="${tip}" x="${(LABEL + (b / B) * plotW).toFixed(1)}" y="${y + 1}" width="${(plotW / B).toFixed(2)}" height="${LANE - 6}" fill="${colour(l.reason)}" fill-opacity="${(0.25 + 0.75 * Math.log(1 + row[b]) / Math.log(1 + max)).toFixed(2)}"><title>${tip}</title></rect>`);
      }
    }
  }
  // Axis: about 8 ticks at round instruction counts.
  const ay = TOP + lanes.length * LANE + 4;
  // The current moment (where the machine is: after going back, inside the history).
  if (hs !== null && okNum(hs.current) && hs.current >= lo && hs.current <= hi) {
    const x = xOf(hs.current).toFixed(1);
    out.push(`<g class="cursor" data-icount="${plain(hs.current)}"><line x1="${x}" y1="${TOP - 6}" x2="${x}" y2="${ay}"/><text x="${x}" y="${TOP - 9}" text-anchor="middle">now ${int(hs.current)}</text><title>the machine is at instruction ${int(hs.current)}</title></g>`);
  }
  out.push(`<line class="axis" x1="${LABEL}" y1="${ay}" x2="${LABEL + plotW}" y2="${ay}"/>`);
  const raw = span / 8, mag = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1))));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? 10 * mag;
  for (let t = Math.ceil(lo / step) * step, k = 0; t <= hi && k < 50; t += step, k++) {
    const x = xOf(t);
    out.push(`<line class="axis" x1="${x.toFixed(1)}" y1="${ay}" x2="${x.toFixed(1)}" y2="${ay + 4}"/><text class="muted" x="${x.toFixed(1)}" y="${ay + 16}" text-anchor="middle">${int(t)}</text>`);
  }
  out.push(`<text class="muted" x="4" y="14">${int(visible.length)} exit(s) shown${visible.length > DETAIL ? ' as density' : ''} · instructions ${int(lo)} … ${int(hi)}</text>`);
  out.push('</svg>');
  return out.join('\n');
}
