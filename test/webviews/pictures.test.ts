// The webview pictures (page walk, virtio rings, VM-exit timeline) rendered from real models of guests run through the emulator: structure, escaping of hostile guest text, the CSP; example pages saved for screenshots.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { VIRTQ_DESC_F_NEXT } from '../../emulator/devices/virtio/queue.js';
import { drawTimeline, fetchTimeline, fullWindow, renderExitTimeline, TIMELINE_DETAIL_LIMIT, type TimelineData } from '../../extension/src/pictures/exits.js';
import { esc, noSessionPage, testPageContext, type PageContext } from '../../extension/src/pictures/html.js';
import { renderPageWalk } from '../../extension/src/pictures/pagewalk.js';
import { descriptorRows, renderVirtio } from '../../extension/src/pictures/virtio.js';
import { exitsRequest, loopTarget, NX, P, pagingTarget, RW, TMP, virtioTarget, wire } from './models.js';

mkdirSync(TMP, { recursive: true });
const save = (name: string, html: string): string => {
  const path = join(TMP, name);
  writeFileSync(path, html);
  return path;
};

const ctx: PageContext = testPageContext();
const all = (html: string, re: RegExp): RegExpExecArray[] => [...html.matchAll(new RegExp(re.source, 'g'))];
const count = (html: string, re: RegExp): number => all(html, re).length;
/** The `<g class="cell" …>` open tags of the page-walk grid with their attributes. */
/** The timeline as drawn into the page (not the drawing code embedded in its script). */
const drawn = (html: string): string => /<div id="timeline">([\s\S]*?)<\/div>/.exec(html)![1];
const cells = (html: string) => all(html, /<g class="cell" data-kind="(\w+)" data-col="(\d+)" data-row="(\d+)"( data-stop="1")?>/).map((m) => ({ kind: m[1], col: +m[2], row: +m[3], stop: m[4] !== undefined }));
const GUEST_RAM = 0x200000; // guest-physical 0 is host-physical 0x200000 (vmx-api brief, HOST_LAYOUT.guestRam)

/** Every page: a CSP meta with default-src 'none', nonce'd scripts and styles only, no inline handlers or style attributes. */
function expectStrictCsp(html: string): void {
  const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html);
  expect(meta).not.toBeNull();
  const policy = meta![1].replace(/&#39;/g, "'");
  expect(policy).toContain("default-src 'none'");
  const script = /script-src ([^;]+);/.exec(policy)![1];
  expect(script).toMatch(/^'nonce-[A-Za-z0-9+/=]{16,}'$/);
  expect(policy).not.toContain('unsafe-inline');
  expect(policy).not.toContain('unsafe-eval');
  expect(policy).toMatch(/img-src \S+ data:/);
  const nonce = /'nonce-([^']+)'/.exec(script)![1];
  for (const tag of all(html, /<(script|style)\b([^>]*)>/)) expect(tag[2]).toContain(`nonce="${nonce}"`);
  const markup = html.replace(/<script\b[^>]*>[\s\S]*?<\/script>/g, '<script></script>').replace(/="[^"]*"/g, '=""');
  expect(markup).not.toMatch(/<[^>]*\s(on[a-z]+|style)=/i); // inline handlers / style attributes would need 'unsafe-inline'
  expect(html).not.toMatch(/(src|href)="https?:/); // no remote content
}

describe('page-walk picture', () => {
  const t = pagingTarget();

  it('draws the two-dimensional walk: 4 guest levels across, each entry\'s EPT walk down, the data page', () => {
    const v = wire(t.pageWalkBody(0x40005008n));
    const html = renderPageWalk(v, ctx);
    save('pagewalk.html', html);
    expectStrictCsp(html);
    const cs = cells(html);
    // The tables the test wrote: PML4E → PDPTE → PDE → PTE (SDM vol. 3A §4.5), in columns 1..4 after CR3.
    expect(cs.filter((c) => c.kind === 'guest').map((c) => c.col)).toEqual([1, 2, 3, 4]);
    expect(all(html, /data-kind="guest"[^>]*><rect[^>]*\/><text[^>]*><tspan font-weight="bold">(\w+)/).map((m) => m[1])).toEqual(['PML4E', 'PDPTE', 'PDE', 'PTE']);
    expect(cs.filter((c) => c.kind === 'cr3')).toEqual([{ kind: 'cr3', col: 0, row: 4, stop: false }]);
    expect(cs.filter((c) => c.kind === 'data')).toEqual([{ kind: 'data', col: 5, row: 4, stop: false }]);
    // One EPT box per EPT entry read: under each of the 4 guest entries and under the final GPA. The hypervisor maps guest
    // RAM with 2 MiB EPT pages, so each EPT walk is PML4E, PDPTE, PDE (rows 0..2): 5 × 3 boxes, 4 + 15 = 19 references.
    const ept = cs.filter((c) => c.kind === 'ept');
    expect(ept.length).toBe(15);
    for (let col = 1; col <= 5; col++) expect(ept.filter((c) => c.col === col).map((c) => c.row)).toEqual([0, 1, 2]);
    expect(html).toContain('19 memory references');
    expect(cs.some((c) => c.stop)).toBe(false);
    // The PTE the test wrote, its flags, and the final addresses (GPA 0x300008, HPA = GPA + guest RAM base).
    expect(html).toContain(`= 0x${(0x300000n | P | RW | NX).toString(16).padStart(16, '0')}`);
    expect(html).toContain(`HPA 0x${(0x300008 + GUEST_RAM).toString(16)}`);
    expect(html).toMatch(/GVA <span class="mono">0x40005008<\/span> → GPA <span class="mono">0x300008<\/span>/);
    // Arrows down each of the 5 columns (EPT PML4E → PDPTE → PDE → the entry or data it locates) and 5 across (CR3 → … → data).
    expect(count(html, /<path class="arrow"/)).toBe(5 * 3 + 5);
  });

  it('marks where and why each kind of walk stops, in red', () => {
    const stopCell = (gva: bigint) => {
      const v = wire(t.pageWalkBody(gva));
      const html = renderPageWalk(v, ctx);
      expectStrictCsp(html);
      const s = cells(html).filter((c) => c.stop);
      expect(s.length, `one stop cell for ${gva.toString(16)}`).toBe(1);
      return { cell: s[0], html };
    };
    // PTE 6 is zero: not present at guest level 1 (column 4); the data column is not reached.
    const np = stopCell(0x40006000n);
    expect(np.cell).toMatchObject({ kind: 'guest', col: 4, row: 4 });
    expect(np.html).toContain('data-stop-reason="not-present"');
    expect(cells(np.html).filter((c) => c.kind === 'unreached').map((c) => c.col)).toEqual([5]);
    save('pagewalk-not-present.html', np.html);
    // PTE 7 has bit 45 set, above MAXPHYADDR: reserved (SDM vol. 3A §4.5, table 4-19).
    const rs = stopCell(0x40007000n);
    expect(rs.cell).toMatchObject({ kind: 'guest', col: 4 });
    expect(rs.html).toContain('51:39');
    // The PT for 0x40200000 is at GPA 0x500000, whose EPT PDE the test cleared: an EPT violation at the EPT PDE (row 2) of column 4.
    const ev = stopCell(0x40200000n);
    expect(ev.cell).toMatchObject({ kind: 'ept', col: 4, row: 2 });
    expect(ev.html).toContain('EPT_VIOLATION (exit 48)');
    expect(ev.html).toContain('not read: EPT stopped the walk');
    save('pagewalk-ept-violation.html', ev.html);
    // A 2 MiB guest page at GPA 0x400000 (3 guest levels): the final EPT walk fails, in the data column (4).
    const fin = stopCell(0x40600010n);
    expect(fin.cell).toMatchObject({ kind: 'ept', col: 4, row: 2 });
    expect(cells(fin.html).filter((c) => c.kind === 'guest').length).toBe(3);
    // A non-canonical address is #GP before any walk: the reason, no grid.
    const nc = renderPageWalk(wire(t.pageWalkBody(0x0000900000000000n)), ctx);
    expect(nc).toContain('data-stop-reason="non-canonical"');
    expect(nc).not.toContain('<svg');
  });
});

const HOSTILE = `<script>alert(1)</script>"'</svg><img src=x onerror=alert(2)><!--&amp;\u2028</script`;
/** No raw markup from HOSTILE survives; its escaped form is there. */
function expectEscaped(html: string): void {
  expect(html).not.toContain('<img');
  expect(html).not.toContain('<script>alert');
  expect(html).not.toContain('onerror=alert(2)>');
  expect(count(html, /<script\b/)).toBeLessThanOrEqual(1);
  expect(count(html, /<\/script/)).toBe(count(html, /<script\b/));
  expect(html).toContain(esc('<script>alert(1)</script>"\''));
}

describe('virtio picture', () => {
  for (const kind of ['console', 'blk'] as const) {
    it(`draws the ${kind} guest's queues: descriptor table with chain arrows, avail/used rings with their indices`, async () => {
      const t = await virtioTarget(kind);
      if (t === null) return;
      const v = wire(t.virtioBody());
      const dev = v.devices[0];
      let arrows = 0;
      for (const q of dev.queues.filter((x) => x.ready)) {
        const html = renderVirtio(v, { device: 0, queue: q.index }, ctx);
        if (q.index === 0) save(`virtio-${kind}.html`, html);
        expectStrictCsp(html);
        expect(count(html, /<option /)).toBe(v.devices.reduce((n, d) => n + d.queues.length, 0));
        expect(html).toContain(`<section class="queue" data-device="${dev.name}" data-queue="${q.index}">`);
        // The chains the device walked (requests) and the ones in flight: every NEXT descriptor has one arrow to its `next`,
        // and consecutive descriptors of a chain are joined (virtio 1.2 §2.7.5: next is the following descriptor).
        const drawn = all(html, /class="arrow chain-arrow[^"]*" data-from="(\d+)" data-to="(\d+)"/).map((m) => [+m[1], +m[2]]);
        const rows = descriptorRows(dev, q);
        expect(drawn).toEqual(rows.filter((r) => (r.flags & VIRTQ_DESC_F_NEXT) !== 0).map((r) => [r.index, r.next]));
        const chains = [...dev.requests.filter((r) => r.queue === q.index).map((r) => r.descriptors), ...q.inFlight.map((c) => c.descriptors)];
        for (const ds of chains) for (let i = 0; i + 1 < ds.length; i++) expect(drawn).toContainEqual([ds[i].index, ds[i + 1].index]);
        arrows += drawn.length;
        // Rings: one slot per entry (queue size ≤ 256), the driver's avail.idx and the device's last_avail_idx marked,
        // the slots between them (made available, not yet taken) highlighted.
        expect(count(html, /<g class="slot[^"]*" data-slot=/)).toBe(2 * q.size);
        expect(html).toContain(`data-name="avail.idx (driver)" data-idx="${q.availIdxInMemory}"`);
        expect(html).toContain(`data-name="last_avail_idx (device)" data-idx="${q.lastAvailIdx}"`);
        expect(html).toContain(`data-name="used.idx" data-idx="${q.usedIdxInMemory}"`);
        const pending = (q.availIdxInMemory! - q.lastAvailIdx) & 0xffff;
        expect(count(html, /<g class="slot inflight"/)).toBe(pending);
        expect(pending).toBe(q.inFlight.length);
        expect(count(html, /<li class="chain"/)).toBe(q.inFlight.length);
        expect(count(html, /<g class="desc inflight"/)).toBe(new Set(q.inFlight.flatMap((c) => c.descriptors.filter((d) => !d.indirect).map((d) => d.index))).size);
      }
      expect(arrows, 'the guest submitted multi-descriptor chains').toBeGreaterThan(0);
    });
  }

  it('escapes hostile guest text (request summaries, device details, errors) everywhere', async () => {
    const t = await virtioTarget('console');
    if (t === null) return;
    const v = wire(t.virtioBody());
    const d = v.devices[0];
    d.requests[0].summary = HOSTILE;
    d.detail = { [HOSTILE]: HOSTILE, nested: { s: HOSTILE } };
    d.needsResetReason = HOSTILE;
    const q = d.queues.find((x) => x.index === d.requests[0].queue)!;
    q.error = HOSTILE;
    if (q.inFlight.length > 0) q.inFlight[0].error = HOSTILE;
    d.features[0].name = HOSTILE;
    const html = renderVirtio(v, { device: 0, queue: q.index }, ctx);
    save('virtio-hostile.html', html);
    expectEscaped(html);
    expectStrictCsp(html);
  });

  it('says so when there is no virtio device', () => {
    const html = renderVirtio({ devices: [] }, {}, ctx);
    expect(html).toContain('no virtio devices');
    expectStrictCsp(html);
  });
});

describe('VM-exit timeline', () => {
  it('fetches the log in pages and draws one lane per reason of the statistics, one tick per exit', async () => {
    const t = await virtioTarget('blk') ?? loopTarget(40);
    const stats = t.exitsBody(0, 1).stats;
    const requests: Array<{ start?: number; count?: number }> = [];
    const req = exitsRequest(t);
    const d = await fetchTimeline((a) => { requests.push(a); return req(a); }, 16);
    // Every kept exit once, in order, in pages of 16.
    expect(d.exits.map((e) => e.n)).toEqual(Array.from({ length: stats.total }, (_, i) => i + 1));
    expect(requests.length).toBe(1 + Math.ceil(stats.total / 16));
    const html = renderExitTimeline(d, ctx);
    save('exits.html', html);
    expectStrictCsp(html);
    const lanes = all(html, /<g class="lane" data-reason="(\d+)">/).map((m) => +m[1]);
    expect(lanes).toEqual(stats.rows.map((r) => r.reason));
    expect(lanes.length).toBeGreaterThan(1);
    const ticks = all(drawn(html), /<rect class="exit" data-n="(\d+)"/).map((m) => +m[1]);
    expect(ticks).toEqual(d.exits.map((e) => e.n));
    // A tick's colour is its reason's lane colour; its hover text names exit number, reason, RIP and summary.
    const swatch = new Map(all(html, /<g class="lane" data-reason="(\d+)"><rect[^>]*\/><rect [^>]*fill="([^"]+)"/).map((m) => [+m[1], m[2]]));
    for (const e of d.exits) {
      const tick = new RegExp(`<rect class="exit" data-n="${e.n}" data-tip="([^"]*)"[^>]*fill="([^"]+)"`).exec(html)!;
      expect(tick[2]).toBe(swatch.get(e.reason));
      expect(tick[1]).toContain(`#${e.n} ${e.name}`);
      expect(tick[1]).toContain(e.rip);
      expect(tick[1]).toContain(esc(e.summary));
    }
    // The statistics table: one row per reason.
    expect(count(html, /<tr data-reason=/)).toBe(stats.rows.length);
  });

  it('draws density buckets when more than a few thousand exits are visible', async () => {
    const t = loopTarget(5000);
    const total = t.exitsBody(0, 1).total;
    const d = await fetchTimeline(exitsRequest(t));
    expect(d.firstKept).toBe(1); // the log keeps a million (EXIT_LOG_CAPACITY): every exit of this run
    expect(d.exits.length).toBe(total);
    expect(d.exits.length).toBeGreaterThan(TIMELINE_DETAIL_LIMIT);
    const html = renderExitTimeline(d, ctx);
    save('exits-density.html', html);
    expect(count(drawn(html), /<rect class="exit"/)).toBe(0);
    const buckets = all(drawn(html), /<rect class="bucket" data-count="(\d+)"/).map((m) => +m[1]);
    expect(buckets.reduce((a, b) => a + b, 0)).toBe(total);
    // A narrow window goes back to one tick per exit.
    const w = fullWindow(d);
    const narrow = drawTimeline(d, { lo: w.lo, hi: w.lo + (w.hi - w.lo) / 8 }, 1000);
    const n = count(narrow, /<rect class="exit"/);
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThanOrEqual(TIMELINE_DETAIL_LIMIT);
  });

  it('escapes hostile summaries and names, in the drawn SVG and in the data embedded for the webview', async () => {
    const t = loopTarget(30);
    const d: TimelineData = await fetchTimeline(exitsRequest(t));
    d.exits[3].summary = HOSTILE;
    d.exits[4].name = HOSTILE;
    d.exits[5].rip = HOSTILE;
    d.lanes[0].name = HOSTILE;
    const html = renderExitTimeline(d, ctx);
    save('exits-hostile.html', html);
    expectEscaped(html);
    expectStrictCsp(html);
    const script = /<script nonce="[^"]+">([\s\S]*)<\/script>/.exec(html)![1];
    expect(script).not.toMatch(/<\/script|<!--|\u2028/i);
  });
});

describe('VM-exit timeline: reverse debugging', () => {
  /** The x of an instruction count on the drawn axis, from the axis' own tick labels (two ticks give the scale). */
  const axisX = (svg: string): ((ic: number) => number) => {
    const ticks = all(svg, /<text class="muted" x="([\d.]+)" y="\d+" text-anchor="middle">([\d,]+)<\/text>/).map((m) => [Number(m[2].replace(/,/g, '')), Number(m[1])] as const);
    expect(ticks.length).toBeGreaterThan(2);
    const [[i0, x0], [i1, x1]] = [ticks[0], ticks[ticks.length - 1]];
    return (ic) => x0 + ((ic - i0) / (i1 - i0)) * (x1 - x0);
  };

  it('shades the recorded history and draws the cursor at the current instruction, on the axis\' scale; the selected exit is marked', async () => {
    const t = loopTarget(40);
    const d = await fetchTimeline(exitsRequest(t));
    const ics = d.exits.map((e) => e.icount);
    const oldest = ics[5], newest = ics[35], current = ics[20];
    d.history = { oldest, current, newest };
    const html = renderExitTimeline(d, ctx);
    save('exits-history.html', html);
    expectStrictCsp(html);
    const svg = drawn(html);
    const x = axisX(svg);
    const span = /<rect class="history" data-oldest="(\d+)" data-newest="(\d+)" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/.exec(svg)!;
    expect([+span[1], +span[2]]).toEqual([oldest, newest]);
    expect(+span[3]).toBeCloseTo(x(oldest), 0);
    expect(+span[3] + +span[4]).toBeCloseTo(x(newest), 0);
    const cursor = /<g class="cursor" data-icount="(\d+)"><line x1="([\d.]+)"/.exec(svg)!;
    expect(+cursor[1]).toBe(current);
    expect(+cursor[2]).toBeCloseTo(x(current), 0);
    // The exit at the current instruction sits on the cursor.
    const tick = new RegExp(`<rect class="exit" data-n="${d.exits[20].n}"[^>]* x="([\\d.]+)"`).exec(svg)!;
    expect(+tick[1] + 1).toBeCloseTo(+cursor[2], 0);
    expect(html).toContain(`recorded history: instructions ${oldest} … ${newest} · now at ${current}`);
    expect(html).toMatch(/<button id="goto" disabled>/);
    // A click's selection is drawn by the same function (the webview's script calls it).
    const sel = drawTimeline(d, fullWindow(d), 1000, d.exits[7].n);
    expect(all(sel, /<rect class="exit selected" data-n="(\d+)"/).map((m) => +m[1])).toEqual([d.exits[7].n]);
    // Zoomed to a window after the history: no span, no cursor.
    const after = drawTimeline(d, { lo: newest + 1, hi: newest + 1000 }, 1000);
    expect(after).not.toContain('class="history"');
    expect(after).not.toContain('class="cursor"');
  });

  it('draws neither without history, and ignores a history that is not numbers', async () => {
    const d = await fetchTimeline(exitsRequest(loopTarget(10)));
    const none = renderExitTimeline(d, ctx);
    expect(drawn(none)).not.toMatch(/class="(history|cursor)"/);
    expect(none).toContain('no recorded history');
    d.history = { oldest: HOSTILE, current: HOSTILE, newest: HOSTILE } as never;
    const html = renderExitTimeline(d, ctx);
    expect(drawn(html)).not.toMatch(/class="(history|cursor)"/);
    expect(html).toContain('recorded history: instructions ? … ? · now at ?');
    expect(html).not.toContain('alert(1)</script>');
    expect(html).not.toMatch(/<img/);
    expectStrictCsp(html);
  });
});

describe('no session', () => {
  it('says how to get a stopped session', () => {
    const html = noSessionPage(ctx, 'vmscope: Page Walk');
    expect(html).toContain('Run and Debug');
    expectStrictCsp(html);
  });
});
