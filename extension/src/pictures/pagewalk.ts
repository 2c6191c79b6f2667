// The two-dimensional page-walk picture: guest paging levels across, each entry's EPT walk down, as an SVG grid (SDM vol. 3A ch. 4, vol. 3C §29.3.2); pure, no vscode.
import type { EptTranslateStep, EptWalkView, GuestLevelView, PageWalkView } from '../../../emulator/debug/views.js';
import { ARROW_DEFS, esc, hexStr, num, page, type PageContext } from './html.js';

const COL_W = 212, BOX_W = 196, BOX_H = 74, ROW_H = 100, LEFT = 96, TOP = 34;
/** EPT rows: PML4E (level 4) at the top … PTE (level 1); then the row of guest entries / data. */
const EPT_ROWS = 4;

const on = (b: boolean | null | undefined, name: string): string => (b === null || b === undefined ? '' : b ? name : `<tspan class="muted">${name.toLowerCase()}</tspan>`);

interface Cell {
  col: number;
  row: number;
  kind: 'cr3' | 'ept' | 'guest' | 'data' | 'unreached';
  title: string;
  lines: string[];
  stop?: string;
}

const x0 = (col: number) => LEFT + col * COL_W;
const y0 = (row: number) => TOP + row * ROW_H;

function eptCell(col: number, s: EptTranslateStep): Cell {
  const d = s.decoded;
  const leaf = d.kind === 'page';
  const flags = [on(d.r, 'R'), on(d.w, 'W'), on(d.x, 'X'), on(d.accessed, 'A'), leaf ? on(d.dirty, 'D') : ''].filter((f) => f !== '').join(' ');
  const mt = leaf && d.memoryTypeName !== null ? ` ${esc(d.memoryTypeName)}${d.ignorePat === true ? ' IPAT' : ''}` : '';
  const big = leaf && d.size > 4096 ? ` ${d.size >= 1 << 30 ? '1 GiB' : '2 MiB'} page` : '';
  return {
    col, row: EPT_ROWS - s.level, kind: 'ept', title: esc(s.levelName),
    lines: [`@ ${hexStr(s.entryAddress)}`, `= ${hexStr(s.value)}`, `${flags}${mt}${big}`, `→ ${hexStr(d.target)}`],
  };
}

/** Boxes of one EPT walk (one column), with the failing step marked. */
function eptCells(col: number, walk: EptWalkView | null): Cell[] {
  if (walk === null) return [];
  const cells = walk.steps.map((s) => eptCell(col, s));
  const r = walk.result;
  if (r.kind !== 'ok') {
    const at = cells.find((c) => c.row === EPT_ROWS - r.level);
    const why = `${r.exitName} (exit ${num(r.exitReason)}): ${esc(r.reason)}`;
    if (at !== undefined) at.stop = why;
  }
  return cells;
}

function guestCell(col: number, lv: GuestLevelView, stopHere: string | undefined): Cell {
  const d = lv.decoded;
  const lines = [`@ GPA ${hexStr(lv.entryGpa)}${lv.entryHpa !== null ? ` HPA ${hexStr(lv.entryHpa)}` : ''}`];
  if (lv.value !== null) lines.push(`= ${hexStr(lv.value)}`);
  else lines.push('<tspan class="bad">not read: EPT stopped the walk</tspan>');
  if (d !== null) {
    lines.push([on(d.P, 'P'), on(d.RW, 'RW'), on(d.US, 'US'), on(d.A, 'A'), on(d.D, 'D'), on(d.PS, 'PS'), on(d.G, 'G'), on(d.NX, 'NX')].filter((f) => f !== '').join(' '));
    lines.push(`→ ${hexStr(d.address)}`);
  }
  const c: Cell = { col, row: EPT_ROWS, kind: 'guest', title: `${esc(lv.levelName)} (level ${num(lv.level)})`, lines };
  if (stopHere !== undefined) c.stop = stopHere;
  return c;
}

function box(c: Cell): string {
  const x = x0(c.col), y = y0(c.row);
  const cls = `box${c.kind === 'unreached' ? ' skipped' : ' path'}${c.stop !== undefined ? ' stop' : ''}`;
  const lines = c.lines.map((l, i) => `<text x="${x + 6}" y="${y + 30 + i * 12}">${l}</text>`).join('');
  const stop = c.stop !== undefined ? `<text class="bad" x="${x + 6}" y="${y + BOX_H + 12}">✖ ${c.stop}</text>` : '';
  return `<g class="cell" data-kind="${c.kind}" data-col="${c.col}" data-row="${c.row}"${c.stop !== undefined ? ' data-stop="1"' : ''}>` +
    `<rect class="${cls}" x="${x}" y="${y}" width="${BOX_W}" height="${BOX_H}" rx="4"/>` +
    `<text x="${x + 6}" y="${y + 15}"><tspan font-weight="bold">${c.title}</tspan></text>${lines}${stop}</g>`;
}

function arrow(x1: number, y1: number, x2: number, y2: number, bad = false): string {
  return `<path class="arrow${bad ? ' bad' : ''}" d="M${x1},${y1} L${x2},${y2}" marker-end="url(#${bad ? 'ahBad' : 'ah'})"/>`;
}

/** Arrows: down each EPT walk, EPT leaf → the entry it located, entry → the next column's walk (the next table's GPA). */
function arrows(cells: Cell[]): string {
  const out: string[] = [];
  const cols = [...new Set(cells.map((c) => c.col))].sort((a, b) => a - b);
  const colCells = (col: number) => cells.filter((c) => c.col === col && c.kind !== 'unreached').sort((a, b) => a.row - b.row);
  for (const col of cols) {
    const cs = colCells(col);
    for (let i = 0; i + 1 < cs.length; i++) {
      const a = cs[i], b = cs[i + 1];
      out.push(arrow(x0(col) + BOX_W / 2, y0(a.row) + BOX_H + (a.stop !== undefined ? 16 : 0), x0(col) + BOX_W / 2, y0(b.row) - 2));
    }
  }
  for (let k = 0; k + 1 < cols.length; k++) {
    const from = colCells(cols[k]).find((c) => c.row === EPT_ROWS);
    const to = colCells(cols[k + 1])[0];
    if (from === undefined || to === undefined || from.stop !== undefined) continue;
    out.push(arrow(x0(cols[k]) + BOX_W, y0(from.row) + BOX_H / 2, x0(cols[k + 1]) - 2, y0(to.row) + BOX_H / 2));
  }
  return out.join('\n');
}

const LEVEL_NAMES: Record<PageWalkView['mode'], string[]> = {
  none: [], '32-bit': ['PDE', 'PTE'], PAE: ['PDPTE', 'PDE', 'PTE'], '4-level': ['PML4E', 'PDPTE', 'PDE', 'PTE'],
};

/** The grid's cells for a page-walk model (exported for tests). */
export function pageWalkCells(v: PageWalkView): Cell[] {
  const cells: Cell[] = [];
  const stop = v.stop;
  const stopText = stop !== null ? esc(stop.detail) : undefined;
  if (v.mode !== 'none') {
    cells.push({ col: 0, row: EPT_ROWS, kind: 'cr3', title: 'CR3', lines: [`= ${hexStr(v.cr3)}`, `CR4 ${hexStr(v.cr4)}`, `EFER ${hexStr(v.efer)}`] });
  }
  let col = v.mode === 'none' ? 0 : 1;
  for (const lv of v.levels) {
    const ept = eptCells(col, lv.ept);
    cells.push(...ept);
    const guestStop = stop !== null && stop.level === lv.level && (stop.reason === 'not-present' || stop.reason === 'reserved-bit') ? stopText : undefined;
    const g = guestCell(col, lv, guestStop);
    // EPT refused the entry's GPA without a walk (beyond MAXPHYADDR): the guest cell carries the stop.
    if (stop !== null && stop.level === lv.level && (stop.reason === 'ept-violation' || stop.reason === 'ept-misconfig') && !ept.some((c) => c.stop !== undefined)) g.stop = stopText;
    cells.push(g);
    col++;
  }
  const total = LEVEL_NAMES[v.mode].length;
  const walkEnded = v.gpa !== null;
  if (!walkEnded) {
    // Columns the walk did not reach (the textbook grid keeps its shape).
    for (let k = v.levels.length; k < total; k++, col++) {
      cells.push({ col, row: EPT_ROWS, kind: 'unreached', title: esc(LEVEL_NAMES[v.mode][k]), lines: ['not reached'] });
    }
    cells.push({ col, row: EPT_ROWS, kind: 'unreached', title: 'data', lines: ['not reached'] });
    return cells;
  }
  // Skipped levels after a large page leaf are simply absent; the data column follows.
  const ept = eptCells(col, v.finalEpt);
  cells.push(...ept);
  const data: Cell = {
    col, row: EPT_ROWS, kind: 'data', title: `data (${v.pageSize === null ? 'no paging' : pageSizeName(v.pageSize)})`,
    lines: [`GPA ${hexStr(v.gpa)}`, v.hpa !== null ? `HPA ${hexStr(v.hpa)}` : '<tspan class="bad">no HPA</tspan>',
      v.permissions !== null ? `${v.permissions.writable ? 'write' : 'read-only'}, ${v.permissions.user ? 'user' : 'supervisor'}, ${v.permissions.executable ? 'exec' : 'no-exec'}` : ''],
  };
  if (stop !== null && stop.level === 0 && !ept.some((c) => c.stop !== undefined)) data.stop = stopText;
  cells.push(data);
  return cells;
}

function pageSizeName(n: number): string {
  return n >= 1 << 30 ? `${num(n / 2 ** 30)} GiB page` : n >= 1 << 20 ? `${num(n / 2 ** 20)} MiB page` : `${num(n / 1024)} KiB page`;
}

/** The SVG of the grid. */
export function pageWalkSvg(v: PageWalkView): string {
  const cells = pageWalkCells(v);
  const cols = cells.reduce((m, c) => Math.max(m, c.col), 0) + 1;
  const w = LEFT + cols * COL_W + 10, h = TOP + (EPT_ROWS + 1) * ROW_H + 10;
  const rowLabels = v.eptEnabled
    ? ['EPT PML4E', 'EPT PDPTE', 'EPT PDE', 'EPT PTE', 'guest'].map((l, r) => `<text class="muted" x="4" y="${y0(r) + BOX_H / 2}">${l}</text>`).join('')
    : `<text class="muted" x="4" y="${y0(EPT_ROWS) + BOX_H / 2}">guest</text><text class="muted" x="${LEFT}" y="${y0(1)}">EPT is off: guest-physical = host-physical</text>`;
  const colTitles = cells.filter((c) => c.row === EPT_ROWS).map((c) => `<text class="muted" x="${x0(c.col)}" y="16">${c.kind === 'cr3' ? 'start' : c.kind === 'data' ? 'final GPA' : `guest ${c.title}`}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" class="pagewalk" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="two-dimensional page walk">
${ARROW_DEFS}
${rowLabels}
${colTitles}
${arrows(cells)}
${cells.map(box).join('\n')}
</svg>`;
}

const reasonText: Record<string, string> = {
  'not-present': 'page fault (#PF): entry not present',
  'reserved-bit': 'page fault (#PF, RSVD): reserved bit set',
  'ept-violation': 'EPT violation (VM exit 48)',
  'ept-misconfig': 'EPT misconfiguration (VM exit 49)',
  'non-canonical': '#GP: non-canonical address',
};

/** The whole page for a vmscope/pageWalk response. */
export function renderPageWalk(v: PageWalkView, ctx: PageContext): string {
  const head = `<h1>Page walk of <span class="mono">${hexStr(v.gva)}</span></h1>
<p>Paging: <b>${esc(v.mode)}</b> (state from the ${v.source === 'cpu' ? 'processor, guest running' : 'VMCS guest-state area, at a VM exit'}) ·
CR0 <span class="mono">${hexStr(v.cr0)}</span> · CR3 <span class="mono">${hexStr(v.cr3)}</span> · CR4 <span class="mono">${hexStr(v.cr4)}</span> ·
EFER <span class="mono">${hexStr(v.efer)}</span> · EPT ${v.eptEnabled ? 'on' : 'off'}</p>`;
  const result = v.stop !== null
    ? `<p class="error" data-stop-reason="${esc(v.stop.reason)}">Stopped at ${v.stop.level === 0 ? 'the final GPA' : `level ${num(v.stop.level)}`}: ${esc(reasonText[v.stop.reason] ?? v.stop.reason)} — ${esc(v.stop.detail)}</p>`
    : '';
  const ok = v.gpa !== null
    ? `<p>GVA <span class="mono">${hexStr(v.gva)}</span> → GPA <span class="mono">${hexStr(v.gpa)}</span> → HPA <span class="mono">${v.hpa !== null ? hexStr(v.hpa) : '—'}</span>${v.pageSize !== null ? ` · ${pageSizeName(v.pageSize)}` : ''}</p>`
    : '';
  const refs = v.levels.reduce((n, l) => n + (l.ept?.steps.length ?? 0) + (l.value !== null ? 1 : 0), 0) + (v.finalEpt?.steps.length ?? 0);
  const body = v.stop?.reason === 'non-canonical'
    ? `${head}${result}`
    : `${head}${result}${ok}<p class="muted">${num(refs)} memory references (guest entries and EPT entries); flags in lower case are clear.</p>${pageWalkSvg(v)}`;
  return page(ctx, 'vmscope: page walk', body);
}
