// The virtio ring picture: one device's queue as its descriptor table with chains as arrows, the available and used rings with their indices (virtio 1.2 §2.7); pure, no vscode.
import type { VirtioDeviceOut, VirtioQueueRingsView, VirtioView } from '../../../emulator/debug/views.js';
import type { DescriptorView } from '../../../emulator/devices/virtio/mmio.js';
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from '../../../emulator/devices/virtio/queue.js';
import { ARROW_DEFS, esc, hexNum, num, page, type PageContext } from './html.js';

export interface VirtioSelection {
  device?: number;
  queue?: number;
}

/** A row of the descriptor table as the picture knows it: from a chain still in flight (current memory) or the latest request that used it. */
export interface DescriptorRow extends DescriptorView {
  source: 'in-flight' | 'request' | 'table';
  /** The request id or the in-flight chain's available index. */
  owner: number;
  inFlight: boolean;
}

/**
 * The descriptor-table rows to draw: the table as guest memory holds it now (every entry that is not all zero),
 * each marked with the in-flight chain or the latest request that used it. An older adapter without the table
 * falls back to the descriptors of in-flight chains and recent requests. Indirect-table descriptors are not
 * main-table rows.
 */
export function descriptorRows(dev: VirtioDeviceOut, q: VirtioQueueRingsView): DescriptorRow[] {
  const rows = new Map<number, DescriptorRow>();
  const ok = (d: DescriptorView) => !d.indirect && Number.isInteger(d.index) && d.index >= 0 && d.index < q.size;
  const owners = new Map<number, { source: DescriptorRow['source']; owner: number; inFlight: boolean }>();
  for (const r of dev.requests.filter((x) => x.queue === q.index).sort((a, b) => a.id - b.id)) {
    for (const d of r.descriptors) if (ok(d)) { rows.set(d.index, { ...d, source: 'request', owner: r.id, inFlight: false }); owners.set(d.index, { source: 'request', owner: r.id, inFlight: false }); }
  }
  for (const c of q.inFlight) {
    for (const d of c.descriptors) if (ok(d)) { rows.set(d.index, { ...d, source: 'in-flight', owner: c.availIdx, inFlight: true }); owners.set(d.index, { source: 'in-flight', owner: c.availIdx, inFlight: true }); }
  }
  const table = q.descriptorTable ?? [];
  if (table.length > 0) {
    rows.clear();
    for (const t of table) {
      const used = owners.get(t.index);
      if (used === undefined && t.flags === 0 && t.len === 0 && BigInt(t.addr) === 0n) continue;
      rows.set(t.index, { index: t.index, addr: Number(BigInt(t.addr)), len: t.len, flags: t.flags, next: t.next, indirect: false, source: used?.source ?? 'table', owner: used?.owner ?? -1, inFlight: used?.inFlight ?? false });
    }
  }
  return [...rows.values()].sort((a, b) => a.index - b.index);
}

/** Lines of 16 bytes: offset, hex, ASCII (the classic dump layout). */
function hexDump(hex: string, ascii: string): string {
  const bytes = hex === '' ? [] : hex.split(' ');
  const lines: string[] = [];
  for (let o = 0; o < bytes.length; o += 16) lines.push(`${o.toString(16).padStart(4, '0')}  ${bytes.slice(o, o + 16).join(' ').padEnd(47)}  ${ascii.slice(o, o + 16)}`);
  return lines.join('\n');
}

/** The in-flight buffers' first bytes as hex and ASCII (guest-controlled: escaped). */
function previewList(q: VirtioQueueRingsView): string {
  const items = (q.previews ?? []).flatMap((c) => c.buffers.map((b) => `<li class="preview" data-head="${num(c.head)}"><span class="mono">head ${num(c.head)} · #${num(b.descriptor)} ${esc(b.addr)}+${num(b.len)} ${b.write ? 'device-writable' : 'device-readable'}${b.inRam ? '' : ' · not guest RAM'}</span>` +
    `<pre class="mono">${esc(hexDump(b.hex, b.ascii))}${b.truncated ? '\n…' : ''}</pre></li>`));
  return items.length === 0 ? '' : `<h3>Buffers in flight</h3><ul class="previews">${items.join('')}</ul>`;
}

function flagNames(f: number): string {
  const n: string[] = [];
  if ((f & VIRTQ_DESC_F_NEXT) !== 0) n.push('NEXT');
  if ((f & VIRTQ_DESC_F_WRITE) !== 0) n.push('WRITE');
  if ((f & VIRTQ_DESC_F_INDIRECT) !== 0) n.push('INDIRECT');
  const rest = f & ~(VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_INDIRECT);
  if (rest !== 0) n.push(hexNum(rest));
  return n.length === 0 ? '—' : n.join('|');
}

const ROW_H = 18, TBL_X = 8, COLS = [0, 52, 200, 282, 420, 470], TBL_W = 640;

/** The descriptor table as SVG, with an arrow from each NEXT descriptor to its `next` row. */
export function descriptorTableSvg(rows: DescriptorRow[]): string {
  const h = (rows.length + 1) * ROW_H + 12;
  const y = (i: number) => (i + 1) * ROW_H + 4;
  const header = ['idx', 'addr', 'len', 'flags', 'next', 'from'].map((t, i) => `<text class="muted" x="${TBL_X + COLS[i]}" y="${ROW_H - 4}">${t}</text>`).join('');
  const rowOf = new Map(rows.map((r, i) => [r.index, i]));
  const body = rows.map((r, i) => {
    const yy = y(i);
    return `<g class="desc${r.inFlight ? ' inflight' : ''}" data-index="${num(r.index)}" data-next="${(r.flags & VIRTQ_DESC_F_NEXT) !== 0 ? num(r.next) : ''}">` +
      `<rect class="${r.inFlight ? 'rowhot' : 'row'}" x="${TBL_X - 4}" y="${yy - 2}" width="${TBL_W}" height="${ROW_H - 2}"/>` +
      `<text x="${TBL_X + COLS[0]}" y="${yy + 11}">${num(r.index)}</text>` +
      `<text x="${TBL_X + COLS[1]}" y="${yy + 11}">${hexNum(r.addr)}</text>` +
      `<text x="${TBL_X + COLS[2]}" y="${yy + 11}">${num(r.len)}</text>` +
      `<text x="${TBL_X + COLS[3]}" y="${yy + 11}">${flagNames(r.flags)}</text>` +
      `<text x="${TBL_X + COLS[4]}" y="${yy + 11}">${(r.flags & VIRTQ_DESC_F_NEXT) !== 0 ? num(r.next) : ''}</text>` +
      `<text class="muted" x="${TBL_X + COLS[5]}" y="${yy + 11}">${r.source === 'in-flight' ? `in flight (avail ${num(r.owner)})` : r.source === 'request' ? `request #${num(r.owner)}` : ''}</text></g>`;
  }).join('\n');
  // Chain arrows on the right margin: from row i to the row of its `next`, bowing out by distance.
  const arrows = rows.filter((r) => (r.flags & VIRTQ_DESC_F_NEXT) !== 0).map((r) => {
    const from = rowOf.get(r.index)!;
    const to = rowOf.get(r.next);
    const x = TBL_X + TBL_W;
    const y1 = y(from) + 8;
    if (to === undefined) {
      return `<g class="chain-arrow dangling" data-from="${num(r.index)}" data-to="${num(r.next)}"><path class="arrow bad" d="M${x},${y1} l24,0" marker-end="url(#ahBad)"/><text class="bad" x="${x + 28}" y="${y1 + 4}">${num(r.next)} (not shown)</text></g>`;
    }
    const y2 = y(to) + 8;
    const bow = 16 + Math.min(120, Math.abs(to - from) * 6);
    return `<path class="arrow chain-arrow${r.inFlight ? ' hot' : ''}" data-from="${num(r.index)}" data-to="${num(r.next)}" d="M${x},${y1} C${x + bow},${y1} ${x + bow},${y2} ${x + 2},${y2}" marker-end="url(#ah)"/>`;
  }).join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" class="desctable" width="${TBL_W + 160}" height="${h}" viewBox="0 0 ${TBL_W + 160} ${h}">${ARROW_DEFS}${header}\n${body}\n${arrows}</svg>`;
}

const SLOT_W = 30, SLOT_H = 30, PER_LINE = 32, RING_MAX = 256;

/**
 * A ring (avail or used) as a strip of slots with the driver's and the device's positions. `lo`/`hi` free-running
 * indices delimit the highlighted slots (in flight: made available, not yet taken / used, not yet seen).
 */
function ringSvg(kind: 'avail' | 'used', q: VirtioQueueRingsView, labels: Array<{ idx: number; name: string }>, hot: (slot: number) => boolean): string {
  const size = q.size;
  const entries = kind === 'avail' ? q.availRing.map((h) => num(h)) : q.usedRing.map((u) => `${num(u.id)}`);
  if (entries.length === 0) return '<p class="muted">ring not readable (queue not ready)</p>';
  // Large rings: a window around the indices.
  let first = 0, count = Math.min(size, RING_MAX);
  if (size > RING_MAX) {
    const c = labels.length > 0 ? labels[0].idx % size : 0;
    first = Math.max(0, Math.min(size - RING_MAX, c - RING_MAX / 2));
    count = RING_MAX;
  }
  const lines = Math.ceil(count / PER_LINE);
  const lineH = SLOT_H + 34;
  const w = PER_LINE * SLOT_W + 20, h = lines * lineH + 8;
  const pos = (slot: number) => {
    const k = slot - first;
    return { x: 8 + (k % PER_LINE) * SLOT_W, y: 4 + Math.floor(k / PER_LINE) * lineH };
  };
  const slots: string[] = [];
  for (let s = first; s < first + count; s++) {
    const p = pos(s);
    const tip = kind === 'avail' ? `avail.ring[${num(s)}] = head ${entries[s]}` : `used.ring[${num(s)}] = {id ${entries[s]}, len ${num(q.usedRing[s].len)}}`;
    slots.push(`<g class="slot${hot(s) ? ' inflight' : ''}" data-slot="${num(s)}"><title>${tip}</title><rect class="${hot(s) ? 'rowhot' : 'row'}" x="${p.x}" y="${p.y + 12}" width="${SLOT_W - 2}" height="${SLOT_H - 10}"/>` +
      `<text x="${p.x + 3}" y="${p.y + 26}">${entries[s]}</text><text class="muted tiny" x="${p.x + 2}" y="${p.y + 9}">${num(s)}</text></g>`);
  }
  const marks = labels.map((l, i) => {
    const slot = l.idx % size;
    if (slot < first || slot >= first + count) return '';
    const p = pos(slot);
    const yy = p.y + SLOT_H + 6 + i * 10;
    return `<g class="ringmark" data-name="${esc(l.name)}" data-idx="${num(l.idx)}"><path class="arrow" d="M${p.x + 4},${yy} L${p.x + 4},${p.y + SLOT_H + 3}" marker-end="url(#ah)"/><text class="tiny" x="${p.x + 10}" y="${yy + 3}">${esc(l.name)} = ${num(l.idx)}</text></g>`;
  }).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" class="ring ${kind}" width="${w}" height="${h + 12 * labels.length}" viewBox="0 0 ${w} ${h + 12 * labels.length}">${ARROW_DEFS}${slots.join('')}${marks}</svg>` +
    (size > RING_MAX ? `<p class="muted">slots ${num(first)} … ${num(first + count - 1)} of ${num(size)}</p>` : '');
}

/** Free-running index difference modulo 2^16 (§2.7.6: indices wrap at 65536). */
const ahead = (a: number, b: number) => (a - b) & 0xffff;

function queueSection(dev: VirtioDeviceOut, q: VirtioQueueRingsView): string {
  const rows = descriptorRows(dev, q);
  const availIdx = q.availIdxInMemory;
  const inFlightSlots = new Set<number>();
  if (availIdx !== null) for (let k = 0; k < ahead(availIdx, q.lastAvailIdx) && k < q.size; k++) inFlightSlots.add((q.lastAvailIdx + k) % q.size);
  const availLabels = availIdx !== null ? [{ idx: availIdx, name: 'avail.idx (driver)' }, { idx: q.lastAvailIdx, name: 'last_avail_idx (device)' }] : [];
  const usedLabels = q.usedIdxInMemory !== null ? [{ idx: q.usedIdxInMemory, name: 'used.idx' }] : [];
  if (q.usedIdxInMemory !== null && q.usedIdxInMemory !== q.usedIdx) usedLabels.push({ idx: q.usedIdx, name: 'device used_idx' });
  const chains = q.inFlight.map((c) => `<li class="chain" data-head="${num(c.head)}">avail ${num(c.availIdx)}: head ${num(c.head)}, ${num(c.descriptorCount)} descriptor(s): ` +
    c.descriptors.map((d) => `${d.indirect ? 'indirect ' : ''}#${num(d.index)} ${hexNum(d.addr)}+${num(d.len)} ${flagNames(d.flags)}`).join(' → ') +
    (c.error !== null ? ` <span class="error">${esc(c.error)}</span>` : '') + '</li>').join('');
  const reqs = dev.requests.filter((r) => r.queue === q.index).slice(-12).map((r) => `<tr class="request ${esc(r.state)}"><td>${num(r.id)}</td><td>${num(r.head)}</td><td>${esc(r.direction)}</td>` +
    `<td>${num(r.readableBytes)} / ${num(r.writableBytes)}</td><td>${esc(r.state)}</td><td>${r.usedLen !== null ? num(r.usedLen) : ''}</td><td class="summary">${esc(r.summary)}</td></tr>`).join('');
  return `<section class="queue" data-device="${esc(dev.name)}" data-queue="${num(q.index)}">
<h2>Queue ${num(q.index)} <span class="muted">size ${num(q.size)} (max ${num(q.maxSize)}) · ${q.ready ? 'ready' : 'not ready'}${q.eventIdx ? ' · EVENT_IDX' : ''}${q.indirect ? ' · INDIRECT_DESC' : ''}</span></h2>
<p class="mono muted">desc ${hexNum(q.descAddr)} · avail ${hexNum(q.availAddr)} · used ${hexNum(q.usedAddr)}${q.usedEvent !== null ? ` · used_event ${num(q.usedEvent)}` : ''}${q.availEvent !== null ? ` · avail_event ${num(q.availEvent)}` : ''}</p>
${q.error !== null ? `<p class="error">${esc(q.error)}</p>` : ''}
<h3>Descriptor table</h3>
${rows.length === 0 ? '<p class="muted">no descriptors seen yet</p>' : descriptorTableSvg(rows)}
<p class="muted">${(q.descriptorTable ?? []).length > 0 ? `The table as guest memory holds it now; all-zero entries are not drawn; chains in flight are highlighted.` : `Rows known from chains in flight (highlighted, read now) and from the device's recent requests (as they were then).`}</p>
<h3>Available ring <span class="muted">flags ${q.availFlags !== null ? hexNum(q.availFlags) : '—'} · idx ${availIdx !== null ? num(availIdx) : '—'} · ${num(inFlightSlots.size)} in flight</span></h3>
${ringSvg('avail', q, availLabels, (s) => inFlightSlots.has(s))}
<h3>Used ring <span class="muted">flags ${q.usedFlags !== null ? hexNum(q.usedFlags) : '—'} · idx ${q.usedIdxInMemory !== null ? num(q.usedIdxInMemory) : '—'}</span></h3>
${ringSvg('used', q, usedLabels, () => false)}
<h3>In flight</h3>
${chains === '' ? '<p class="muted">none</p>' : `<ul>${chains}</ul>`}
${previewList(q)}
<h3>Recent requests</h3>
${reqs === '' ? '<p class="muted">none</p>' : `<table><tr><th>id</th><th>head</th><th>dir</th><th>read / write bytes</th><th>state</th><th>used len</th><th>summary</th></tr>${reqs}</table>`}
</section>`;
}

function deviceHeader(d: VirtioDeviceOut): string {
  const status = d.status.bits.filter((b) => b.set).map((b) => esc(b.name)).join(' | ') || '0';
  const feats = d.features.filter((f) => f.accepted || f.offered).map((f) => `<span class="${f.accepted ? '' : 'muted'}${f.offered ? '' : ' error'}">${esc(f.name)}</span>`).join(' ');
  const detail = Object.entries(d.detail).map(([k, v]) => `<tr><td>${esc(k)}</td><td class="mono">${esc(typeof v === 'string' ? v : JSON.stringify(v) ?? '')}</td></tr>`).join('');
  return `<p>${esc(d.name)} (device id ${num(d.deviceId)}) at <span class="mono">${esc(d.window.base)}</span>, IRQ ${num(d.irq)}${d.irqLevel ? ' (asserted)' : ''} ·
status ${status} · ${num(d.notifications)} notifications</p>
${d.needsResetReason !== null ? `<p class="error">DEVICE_NEEDS_RESET: ${esc(d.needsResetReason)}</p>` : ''}
<p class="muted">features: ${feats}</p>
${detail !== '' ? `<table class="detail">${detail}</table>` : ''}`;
}

/** The selector's options, each "device:queue". */
function selector(v: VirtioView, dev: number, queue: number): string {
  const opts = v.devices.flatMap((d, di) => d.queues.map((q) => `<option value="${di}:${num(q.index)}"${di === dev && q.index === queue ? ' selected' : ''}>${esc(d.name)} · queue ${num(q.index)}</option>`));
  return `<label>Device / queue <select id="sel">${opts.join('')}</select></label>`;
}

/** Clamp a selection to what exists: the first ready queue of the device by default. */
export function resolveSelection(v: VirtioView, sel: VirtioSelection): { device: number; queue: number } | null {
  if (v.devices.length === 0) return null;
  const device = Number.isInteger(sel.device) && sel.device! >= 0 && sel.device! < v.devices.length ? sel.device! : 0;
  const qs = v.devices[device].queues;
  if (qs.length === 0) return { device, queue: -1 };
  const queue = qs.some((q) => q.index === sel.queue) ? sel.queue! : (qs.find((q) => q.ready) ?? qs[0]).index;
  return { device, queue };
}

const CSS = `
svg .row { fill: none; stroke: var(--border); stroke-width: 0.5; }
svg .rowhot { fill: var(--vscode-editor-findMatchHighlightBackground, rgba(234, 92, 0, 0.25)); stroke: var(--hot); stroke-width: 1; }
svg .chain-arrow.hot { stroke: var(--hot); stroke-width: 2; }
svg .tiny { font-size: 9px; }
h3 { font-size: 1em; margin: 0.8em 0 0.3em; }
td.summary { font-family: var(--vscode-editor-font-family, monospace); }
`;

/** The webview script: the selector posts {type: 'select', device, queue} to the extension. */
const SCRIPT = `(function () {
  const vscode = typeof acquireVsCodeApi === 'function' ? acquireVsCodeApi() : { postMessage: function () {} };
  const sel = document.getElementById('sel');
  if (sel) sel.addEventListener('change', function () {
    const p = String(sel.value).split(':');
    vscode.postMessage({ type: 'select', device: Number(p[0]), queue: Number(p[1]) });
  });
  const r = document.getElementById('refresh');
  if (r) r.addEventListener('click', function () { vscode.postMessage({ type: 'refresh' }); });
})();`;

/** The whole page for a vmscope/virtio response and a selected device/queue. */
export function renderVirtio(v: VirtioView, sel: VirtioSelection, ctx: PageContext): string {
  const at = resolveSelection(v, sel);
  if (at === null) {
    return page(ctx, 'vmscope: virtio', `<h1>Virtio rings</h1><p class="empty">This machine has no virtio devices. Add one to the launch configuration's
<span class="mono">devices</span>, e.g. <span class="mono">{ "type": "virtio-blk", "image": "disk.img" }</span> or <span class="mono">"virtio-console"</span>.</p>`);
  }
  const d = v.devices[at.device];
  const q = d.queues.find((x) => x.index === at.queue);
  const body = `<h1>Virtio rings</h1>
<p>${selector(v, at.device, at.queue)} <button id="refresh">Refresh</button></p>
${deviceHeader(d)}
${q !== undefined ? queueSection(d, q) : '<p class="muted">this device has no queues</p>'}`;
  return page(ctx, 'vmscope: virtio', body, { css: CSS, script: SCRIPT });
}
