// The pictures in a real browser (Debian's Chromium through playwright-core): no CSP violation, hostile text stays text, the timeline zooms, hovers and takes new data by postMessage; PNG screenshots for the lead.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { build } from 'esbuild';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchTimeline, renderExitTimeline } from '../../extension/src/pictures/exits.js';
import { testPageContext } from '../../extension/src/pictures/html.js';
import { renderPageWalk } from '../../extension/src/pictures/pagewalk.js';
import { renderVirtio } from '../../extension/src/pictures/virtio.js';
import { exitsRequest, loopTarget, pagingTarget, TMP, virtioTarget, wire } from './models.js';

const CHROMIUM = '/usr/bin/chromium';
const HOSTILE = `<script>alert(1)</script>"'</svg><img src=x onerror=alert(2)><!--`;
const OUT = join(TMP, 'browser');

describe.skipIf(!existsSync(CHROMIUM))('pictures in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
  });
  afterAll(async () => { await browser?.close(); });

  /** Open a page from a file (as a webview loads its HTML), recording CSP violations, dialogs, errors and posted messages. */
  async function open(name: string, html: string, width = 1400): Promise<{ page: Page; problems: string[] }> {
    const path = join(OUT, `${name}.html`);
    writeFileSync(path, html);
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error' || /Content.Security.Policy/i.test(m.text())) problems.push(m.text()); });
    page.on('pageerror', (e) => problems.push(String(e)));
    page.on('dialog', (d) => { problems.push(`dialog: ${d.message()}`); void d.dismiss(); });
    // The VS Code webview API, recording what the page posts.
    await page.addInitScript(() => {
      const w = window as unknown as { posted: unknown[]; acquireVsCodeApi: () => unknown };
      w.posted = [];
      let state: unknown;
      w.acquireVsCodeApi = () => ({ postMessage: (m: unknown) => w.posted.push(m), getState: () => state, setState: (s: unknown) => { state = s; } });
    });
    await page.goto(pathToFileURL(path).href);
    await page.screenshot({ path: join(TMP, `${name}.png`), fullPage: true });
    return { page, problems };
  }

  it('page walk: renders without CSP violations', async () => {
    const t = pagingTarget();
    for (const [name, gva] of [['pagewalk', 0x40005008n], ['pagewalk-ept-violation', 0x40200000n]] as const) {
      const { page, problems } = await open(name, renderPageWalk(wire(t.pageWalkBody(gva)), testPageContext()));
      expect(problems).toEqual([]);
      expect(await page.locator('g.cell').count()).toBeGreaterThan(5);
      await page.close();
    }
  });

  it('virtio: hostile guest text stays text; the selector posts the device and queue', async () => {
    const t = await virtioTarget('console');
    if (t === null) return;
    const v = wire(t.virtioBody());
    v.devices[0].requests[0].summary = HOSTILE;
    v.devices[0].detail = { note: HOSTILE };
    const { page, problems } = await open('virtio', renderVirtio(v, { device: 0, queue: 1 }, testPageContext()));
    expect(problems).toEqual([]);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('script').count()).toBe(1);
    expect(await page.locator('td.summary').allTextContents()).toContain(HOSTILE);
    await page.selectOption('#sel', '0:0');
    expect(await page.evaluate(() => (window as unknown as { posted: unknown[] }).posted)).toEqual([{ type: 'select', device: 0, queue: 0 }]);
    await page.close();
  });

  it('timeline: zoom buttons, wheel, hover details, new data by postMessage, hostile summaries as text', async () => {
    const t = loopTarget(5000);
    const d = await fetchTimeline(exitsRequest(t));
    const { page, problems } = await open('exits', renderExitTimeline(d, testPageContext()));
    const win = async () => page.evaluate(() => { const s = document.querySelector('#timeline svg')!; return [Number(s.getAttribute('data-lo')), Number(s.getAttribute('data-hi'))]; });
    expect(await page.locator('#timeline rect.bucket').count()).toBeGreaterThan(0);
    expect(await page.locator('#timeline rect.exit').count()).toBe(0);
    const [lo0, hi0] = await win();
    for (let i = 0; i < 4; i++) await page.click('#zoomIn');
    const [lo1, hi1] = await win();
    expect(hi1 - lo1).toBeCloseTo((hi0 - lo0) / 16, 3);
    // Narrow enough: one tick per exit again, about a sixteenth of them.
    const ticks = await page.locator('#timeline rect.exit').count();
    expect(ticks).toBeGreaterThan(4096 / 32);
    expect(ticks).toBeLessThan(4096 / 8);
    const box = (await page.locator('#timeline').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.wheel(0, 300);
    const [lo2, hi2] = await win();
    expect(hi2 - lo2).toBeCloseTo((hi1 - lo1) * 1.25, 3);
    // The extension hears the window (debounced) to keep it for the next stop.
    await page.waitForFunction(() => (window as unknown as { posted: Array<{ type: string }> }).posted.some((m) => m.type === 'window'));
    // Hover: the info line shows the tick's exit number, reason and RIP as text.
    await page.click('#reset');
    expect(await page.locator('#timeline rect.exit').count()).toBe(0); // the whole log is density again
    for (let i = 0; i < 4; i++) await page.click('#zoomIn');
    const tick = page.locator('#timeline rect.exit').first();
    await tick.dispatchEvent('mousemove');
    const tip = await tick.getAttribute('data-tip');
    expect(await page.textContent('#info')).toBe(tip);
    expect(tip).toMatch(/^#\d+ IO_INSTRUCTION at icount [\d,]+, RIP 0x[0-9a-f]+: /);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('script').count()).toBe(1);
    // New data from the extension (a later stop): re-rendered in place.
    const fewer = { ...d, exits: d.exits.slice(0, 10), lanes: d.lanes };
    await page.evaluate((data) => window.postMessage({ type: 'data', data }, '*'), fewer);
    await page.click('#reset');
    expect(await page.locator('#timeline rect.exit').count()).toBe(10);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('timeline: a click selects an exit, "Go to" and a double-click post its number; the history span and cursor are drawn', async () => {
    const t = loopTarget(30);
    const d = await fetchTimeline(exitsRequest(t));
    d.history = { oldest: d.exits[2].icount, current: d.exits[12].icount, newest: d.exits[25].icount };
    const { page, problems } = await open('exits-goto', renderExitTimeline(d, testPageContext()));
    const posted = () => page.evaluate(() => (window as unknown as { posted: Array<{ type: string }> }).posted.filter((m) => m.type === 'gotoExit'));
    expect(await page.locator('#timeline rect.history').count()).toBe(1);
    expect(await page.locator('#timeline g.cursor').getAttribute('data-icount')).toBe(String(d.exits[12].icount));
    expect(await page.locator('#goto').isDisabled()).toBe(true);
    const n = d.exits[12].n;
    await page.locator(`#timeline rect.exit[data-n="${n}"]`).click({ force: true });
    expect(await page.locator('#timeline rect.exit.selected').getAttribute('data-n')).toBe(String(n));
    expect(await page.textContent('#goto')).toBe(`Go to exit #${n}`);
    expect(await page.textContent('#info')).toMatch(new RegExp(`^selected: #${n} IO_INSTRUCTION`));
    // Zooming keeps the selection.
    await page.click('#zoomOut');
    expect(await page.locator('#timeline rect.exit.selected').getAttribute('data-n')).toBe(String(n));
    await page.click('#goto');
    expect(await posted()).toEqual([{ type: 'gotoExit', n }]);
    const m = d.exits[4].n;
    await page.locator(`#timeline rect.exit[data-n="${m}"]`).dblclick({ force: true });
    expect((await posted()).at(-1)).toEqual({ type: 'gotoExit', n: m });
    await page.screenshot({ path: join(TMP, 'exits-goto-selected.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('examples for the lead: virtio-blk and virtio-console request queues, the virtio-blk guest\'s exits', async () => {
    for (const kind of ['blk', 'console'] as const) {
      const t = await virtioTarget(kind);
      if (t === null) return;
      const v = wire(t.virtioBody());
      const { page, problems } = await open(`virtio-${kind}`, renderVirtio(v, { device: 0, queue: 0 }, testPageContext()));
      expect(problems).toEqual([]);
      // blk requests are header → data → status chains on queue 0; console's receiveq holds one single-descriptor buffer.
      if (kind === 'blk') expect(await page.locator('.chain-arrow').count()).toBeGreaterThan(0);
      else expect(await page.locator('g.desc.inflight').count()).toBe(1);
      await page.close();
      if (kind === 'blk') {
        const d = await fetchTimeline(exitsRequest(t));
        const x = await open('exits-blk', renderExitTimeline(d, testPageContext()));
        expect(x.problems).toEqual([]);
        expect(await x.page.locator('#timeline g.lane').count()).toBe(d.lanes.length);
        await x.page.close();
      }
    }
  });

  it('timeline: the webview script still works after esbuild bundles and minifies the extension (no keepNames)', async () => {
    // The drawing and webview functions travel into the page by Function.prototype.toString; esbuild's keepNames would
    // make them call a bundle-level helper the page does not have, so the extension bundle must not set it.
    const out = join(OUT, 'exits-bundle.cjs');
    await build({ entryPoints: [join(__dirname, '../../extension/src/pictures/exits.ts')], bundle: true, platform: 'node', format: 'cjs', minify: true, outfile: out, logLevel: 'silent' });
    const bundled = createRequire(import.meta.url)(out) as typeof import('../../extension/src/pictures/exits.js');
    const d = await bundled.fetchTimeline(exitsRequest(loopTarget(30)));
    const { page, problems } = await open('exits-bundled', bundled.renderExitTimeline(d, testPageContext()));
    const before = await page.locator('#timeline rect.exit').count();
    await page.click('#zoomIn');
    await page.click('#zoomIn');
    expect(await page.locator('#timeline rect.exit').count()).toBeLessThan(before);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('timeline: a hostile summary hovered is text', async () => {
    const t = loopTarget(30);
    const d = await fetchTimeline(exitsRequest(t));
    for (const e of d.exits) e.summary = HOSTILE;
    const { page, problems } = await open('exits-hostile', renderExitTimeline(d, testPageContext()));
    await page.locator('#timeline rect.exit').nth(5).dispatchEvent('mousemove');
    expect(await page.textContent('#info')).toContain(HOSTILE);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('script').count()).toBe(1);
    expect(problems).toEqual([]);
    await page.close();
  });
});
