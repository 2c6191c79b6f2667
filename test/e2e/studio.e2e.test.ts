// End-to-end: the packaged .vsix in a real VS Code (code-server 4.100.3) driven through headless Chromium as a user would — views, F5, a VM-exit filter, VMCS/Variables/step, EPT and VM exits views (disassembly of an exit without source, Go to This Exit), the page-walk picture, the Virtio view of sample 11; screenshots in test/.tmp/e2e/.
/// <reference lib="dom" />
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { installCodeServer, startCodeServer, type CodeServer } from '../../scripts/code-server.mjs';

const ROOT = resolve(import.meta.dirname, '..', '..');
const OUT = join(ROOT, 'test', '.tmp', 'e2e');
const CHROMIUM = '/usr/bin/chromium';
const SAMPLE = '01-trap-and-emulate';
const VIRTIO_SAMPLE = '11-virtio';
/** Set by test/e2e/vitest.config.ts: the root `npm test` collects this file too and must not run it. */
const ENABLED = process.env.VMSCOPE_E2E === '1';

let skipReason: string | undefined;
let server: CodeServer | undefined;
let chromiumHome: string | undefined;
let browser: Browser | undefined;
let page: Page;
let shotNo = 0;
/** RIP of the CPUID exit, read from the VMCS view. */
let exitRip = '';

async function shot(name: string, target?: Locator): Promise<string> {
  const file = join(OUT, `${String(++shotNo).padStart(2, '0')}-${name}.png`);
  // Revealing a row can scroll the workbench's own container by a few pixels; the pictures start at the top.
  await page.evaluate(() => { for (const e of [document.documentElement, document.body, document.querySelector('.monaco-workbench')]) if (e) e.scrollTop = 0; });
  if (target !== undefined) await target.screenshot({ path: file });
  else await page.screenshot({ path: file });
  return file;
}

const pane = (name: string) => page.locator(`.pane:has(> .pane-header[aria-label="${name} Section"])`);
const header = (name: string) => page.locator(`.pane-header[aria-label="${name} Section"]`);
const rows = (name: string) => pane(name).locator('.monaco-list-row');
const rowLabels = (name: string) => rows(name).evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') ?? ''));

async function setPane(name: string, expanded: boolean): Promise<void> {
  const h = header(name);
  if (((await h.getAttribute('aria-expanded')) === 'true') !== expanded) await h.click();
  await expect.poll(() => h.getAttribute('aria-expanded')).toBe(String(expanded));
}

/** Only these panes open (the side bar then gives them the room). */
async function onlyPanes(open: string[]): Promise<void> {
  for (const n of ['Variables', 'Watch', 'Call Stack', 'Breakpoints', 'VMCS', 'EPT', 'Virtio', 'VM exits']) if (!open.includes(n)) await setPane(n, false);
  for (const n of open) await setPane(n, true);
}

/** Wait until a row of a pane has an aria-label matching `re`; returns that label. */
async function waitRow(name: string, re: RegExp, timeout = 20_000): Promise<string> {
  let found = '';
  let seen: string[] = [];
  try {
    await expect.poll(async () => { seen = await rowLabels(name); found = seen.find((l) => re.test(l)) ?? ''; return found; }, { timeout }).not.toBe('');
  } catch {
    throw new Error(`no row of ${name} matches ${re}; the rows are:\n${seen.join('\n')}`);
  }
  return found;
}

/** Run a command through the command palette (F1), as a user would type it. */
async function runCommand(title: string): Promise<void> {
  const input = page.locator('.quick-input-widget input.input');
  await page.keyboard.press('F1');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(`>${title}`);
  await page.locator(`.quick-input-list .monaco-list-row[aria-label^="${title}"]`).first().waitFor({ timeout: 10_000 });
  await page.keyboard.press('Enter');
}

/** Run a command from the palette by clicking its row (Enter runs the highlighted row, which can be a recently used other command). */
async function clickCommand(title: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input.input');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(`>${title}`);
  await page.locator(`.quick-input-list .monaco-list-row[aria-label^="${title}"]`).first().click();
}

/** Expand the row of a pane whose aria-label matches `re` (waiting for it); returns its label. */
async function expandRow(name: string, re: RegExp): Promise<string> {
  const label = await waitRow(name, re);
  const row = rows(name).and(page.locator(`[aria-label="${label}"]`)).first();
  if ((await row.getAttribute('aria-expanded')) !== 'true') await row.locator('.monaco-tl-twistie').click();
  await expect.poll(() => row.getAttribute('aria-expanded')).toBe('true');
  return label;
}

/** The text of the webview frame whose body contains `marker`. */
async function webviewText(marker: string): Promise<string> {
  let text = '';
  await expect.poll(async () => {
    for (const f of page.frames()) {
      const t = await f.evaluate(() => document.body?.innerText ?? '').catch(() => '');
      if (t.includes(marker)) { text = t; return true; }
    }
    return false;
  }, { timeout: 20_000 }).toBe(true);
  return text;
}

/** A button of the debug toolbar (docked in the Run and Debug title by the test's settings). */
const debugButton = (label: string) => page.locator(`.part.sidebar .action-label[aria-label^="${label}"]`);
const callStackState = () => header('Call Stack').innerText();

describe.skipIf(!ENABLED)('vmscope in a real VS Code (code-server + Chromium; npm run test:e2e)', () => {
  beforeAll(async () => {
    const t0 = Date.now();
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    if (!existsSync(CHROMIUM)) { skipReason = `${CHROMIUM} is missing (apt-get install chromium)`; return; }
    try {
      installCodeServer(undefined, { log: (s) => console.log(s) });
    } catch (e) {
      skipReason = `code-server cannot be installed here: ${e instanceof Error ? e.message : String(e)}`;
      if (process.env.VMSCOPE_E2E_REQUIRED === '1') throw new Error(skipReason);
      return;
    }
    // The .vsix exactly as `npm run package` makes it, written under test/.tmp so dist/ is left alone.
    const vsix = join(OUT, 'vmscope.vsix');
    for (const [cmd, args, cwd] of [
      [process.execPath, ['scripts/build-extension.mjs', '--production'], ROOT],
      [join(ROOT, 'node_modules', '.bin', 'vsce'), ['package', '--no-dependencies', '-o', vsix], join(ROOT, 'extension')],
    ] as const) {
      const r = spawnSync(cmd, [...args], { cwd, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
    }
    // The sample folder is the workspace, so its .vscode/launch.json is the one F5 uses.
    const workspace = join(OUT, 'workspace', SAMPLE);
    cpSync(join(ROOT, 'samples', SAMPLE), workspace, { recursive: true });
    server = await startCodeServer({ workspace, vsix, log: (s) => console.log(s) });
    const home = chromiumHome = mkdtempSync(join(tmpdir(), 'vmscope-chromium-'));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      env: { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, 'config'), XDG_CACHE_HOME: join(home, 'cache') },
    });
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.setDefaultTimeout(20_000);
    await page.goto(server.url);
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    // The explorer lists the sample: the folder is open and the workbench is up.
    await page.locator('.explorer-folders-view .monaco-list-row[aria-label*="trap-and-emulate.asm"]').waitFor({ timeout: 60_000 });
    console.log(`e2e: code-server and Chromium ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }, 300_000);

  afterAll(async () => {
    try { if (browser !== undefined && page !== undefined && server !== undefined) await debugButton('Stop').click({ timeout: 2000 }).catch(() => undefined); } catch { /* no session */ }
    await browser?.close().catch(() => undefined);
    await server?.stop();
    if (chromiumHome !== undefined) rmSync(chromiumHome, { recursive: true, force: true });
  }, 60_000);

  it('shows the VMCS, EPT, Virtio and VM exits views in Run and Debug, each saying how to start a session', async (ctx) => {
    if (skipReason !== undefined) { console.warn(`e2e skipped: ${skipReason}`); ctx.skip(skipReason); }
    onTestFailed(() => shot('FAILED').then(() => undefined, () => undefined));
    await runCommand('View: Show Run and Debug');
    await header('Variables').waitFor();
    // A wider side bar, so the views' rows are readable in the screenshots.
    const sb = (await page.locator('.part.sidebar').boundingBox())!;
    await page.mouse.move(sb.x + sb.width, 450);
    await page.mouse.down();
    await page.mouse.move(sb.x + sb.width + 100, 450, { steps: 3 });
    await page.mouse.move(640, 450, { steps: 3 });
    await page.mouse.up();
    await onlyPanes(['Breakpoints', 'VMCS', 'EPT', 'VM exits']);
    for (const v of ['VMCS', 'EPT', 'Virtio', 'VM exits']) await header(v).waitFor({ state: 'visible' });
    for (const v of ['VMCS', 'EPT', 'VM exits']) {
      const w = pane(v).locator('.welcome-view-content');
      await expect.poll(() => w.innerText()).toContain('No vmscope session is running.');
      await w.getByRole('button', { name: 'Open Sample…' }).waitFor({ state: 'visible' });
    }
    await shot('no-session');
  });

  it('starts the sample\'s first launch configuration with F5, stops on entry, and offers the VM-exit filters', async (ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
    onTestFailed(() => shot('FAILED').then(() => undefined, () => undefined));
    // The first configuration of launch.json is selected; the start button is F5's action (a key press would reach
    // the browser, which reloads on F5, whenever no workbench element has the focus).
    const select = page.locator('.part.sidebar select[aria-label="Debug Launch Configurations"]');
    await expect.poll(() => select.evaluate((e: HTMLSelectElement) => e.options[e.selectedIndex]?.text ?? '')).toBe(SAMPLE);
    await onlyPanes(['Call Stack', 'Breakpoints', 'VM exits']);
    await page.locator('.part.sidebar [aria-label^="Start Debugging (F5)"]').click();
    await expect.poll(callStackState, { timeout: 30_000 }).toMatch(/Paused on entry/i);
    await waitRow('Call Stack', /^Stack Frame _start\b/);
    // The adapter's exception filters are in the Breakpoints view now.
    await waitRow('Breakpoints', /^VM exit: CPUID$/);
    expect(await rowLabels('Breakpoints')).toEqual(expect.arrayContaining(['Every VM exit', 'VM exit: IO_INSTRUCTION', 'VM exit: HLT']));
    await shot('stopped-on-entry');
  });

  it('ticks "VM exit: CPUID", continues, and stops at the CPUID exit; the VMCS view shows exit reason 10 (CPUID)', async (ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
    onTestFailed(() => shot('FAILED').then(() => undefined, () => undefined));
    await onlyPanes(['Call Stack', 'Breakpoints']);
    const box = rows('Breakpoints').and(page.locator('[aria-label="VM exit: CPUID"]')).locator('input[type=checkbox]');
    await box.check();
    await expect.poll(() => box.isChecked()).toBe(true);
    await debugButton('Continue').click();
    await expect.poll(callStackState, { timeout: 30_000 }).toMatch(/VM exit: CPUID \(10\)/);
    // The hypervisor's frame (no source) on top, the guest's CPUID instruction below it, in the sample's source.
    await waitRow('Call Stack', /^Stack Frame hypervisor: CPUID handler/);
    await waitRow('Call Stack', /^Stack Frame \S+, line \d+, trap-and-emulate\.asm$/);
    // The editor shows the exception widget at the exiting instruction.
    await expect.poll(() => page.locator('.monaco-editor .zone-widget').first().innerText().catch(() => '')).toContain('VM exit: CPUID (10)');

    await onlyPanes(['VMCS']);
    // "Changed at this stop" lists VM_EXIT_REASON = 10 (SDM vol. 3C appendix C: basic exit reason 10 is CPUID).
    const reason = await waitRow('VMCS', /^VM_EXIT_REASON 0x0000000a\b/);
    expect(reason).toMatch(/changed/);
    const rip = await waitRow('VMCS', /^GUEST_RIP 0x[0-9a-f]{16}\b/);
    exitRip = `0x${BigInt(rip.split(' ')[1]).toString(16)}`;
    // Expanded, the exit reason's basic-reason bits say CPUID by name.
    const reasonRow = rows('VMCS').and(page.locator(`[aria-label="${reason}"]`)).first();
    if ((await reasonRow.getAttribute('aria-expanded')) !== 'true') await reasonRow.locator('.monaco-tl-twistie').click();
    await waitRow('VMCS', /basic exit reason.*CPUID/);
    await shot('vmcs-at-cpuid-exit');
    await shot('vmcs-view', page.locator('.part.sidebar'));
  });

  it('shows the registers in the Variables view after selecting the top stack frame', async (ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
    onTestFailed(() => shot('FAILED').then(() => undefined, () => undefined));
    await onlyPanes(['Variables', 'Call Stack']);
    await rows('Call Stack').first().click();
    await waitRow('Call Stack', /^Stack Frame hypervisor/);
    // The Variables view gets the whole side bar, so all general registers and RIP are on screen.
    await onlyPanes(['Variables']);
    await waitRow('Variables', /^Scope Registers$/);
    // CPUID leaf 0 was asked with EAX = 0 (xor eax, eax just before it); RIP is the exiting instruction.
    expect(await waitRow('Variables', /^rax, value /)).toBe('rax, value 0x0000000000000000');
    const rip = await waitRow('Variables', /^rip, value 0x[0-9a-f]+/);
    expect(BigInt(rip.split(' ').pop()!)).toBe(BigInt(exitRip));
    await shot('variables-registers');
    await shot('variables-view', page.locator('.part.sidebar'));
  });

  it('steps over the CPUID instruction (F10): the position moves to the next line', async (ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
    onTestFailed(() => shot('FAILED').then(() => undefined, () => undefined));
    await onlyPanes(['Variables', 'Call Stack', 'VMCS']);
    const before = await waitRow('Call Stack', /trap-and-emulate\.asm$/);
    const line = Number(/line (\d+)/.exec(before)![1]);
    await debugButton('Step Over').click();
    await expect.poll(callStackState, { timeout: 30_000 }).toMatch(/\bstep\b/i);
    // The header can say "paused on step" before the rows are redrawn: wait for the frame on the next line.
    const after = await waitRow('Call Stack', new RegExp(`\\bline ${line + 1}\\b.*trap-and-emulate\\.asm$`));
    expect(after).not.toBe(before);
    // The hypervisor frame is gone (the exit was handled) and GUEST_RIP moved past the 2-byte CPUID.
    expect((await rowLabels('Call Stack')).some((l) => l.includes('hypervisor'))).toBe(false);
    await waitRow('VMCS', new RegExp(`^GUEST_RIP 0x0*${(BigInt(exitRip) + 2n).toString(16)}\\b.*changed`));
    await shot('after-step');
  });

  it('lists the exits so far in the VM exits view: one VMCALL per printed line, then the CPUID exit', async (ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
    onTestFailed(() => shot('FAILED').then(() => undefined, () => undefined));
    // print.inc flushes each line with one VMCALL: the lines the sample prints before its CPUID line (its
    // expected output) are the exits before the CPUID exit.
    const expected = readFileSync(join(ROOT, 'samples', SAMPLE, 'expected-output.txt'), 'utf8').split('\n');
    const vmcalls = expected.findIndex((l) => l.startsWith('CPUID.0'));
    expect(vmcalls).toBeGreaterThan(0);
    await onlyPanes(['VM exits']);
    const stats = await waitRow('VM exits', new RegExp(`^Statistics ${vmcalls + 1} exits, \\d+ guest instructions$`));
    // Most recent first: the CPUID exit at the RIP of the stop, then the VMCALLs.
    await waitRow('VM exits', new RegExp(`^#${vmcalls + 1} CPUID ${exitRip}$`));
    for (let n = 1; n <= vmcalls; n++) await waitRow('VM exits', new RegExp(`^#${n} VMCALL 0x[0-9a-f]+$`));
    const statsRow = rows('VM exits').and(page.locator(`[aria-label="${stats}"]`)).first();
    if ((await statsRow.getAttribute('aria-expanded')) !== 'true') await statsRow.locator('.monaco-tl-twistie').click();
    await waitRow('VM exits', /^CPUID 1 \(/);
    await waitRow('VM exits', new RegExp(`^VMCALL ${vmcalls} \\(`));
    await shot('exits-view', page.locator('.part.sidebar'));
  });

  it('EPT view: from the EPTP down the PML4 → PDPT → PD to the leaf entries, each with R/W/X, memory type and target', async (ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
    onTestFailed(() => shot('FAILED').then(() => undefined, () => undefined));
    await onlyPanes(['EPT']);
    // The EPTP (SDM vol. 3C §25.6.11: WB, 4-level walk, A/D enabled) and the coalesced mapping of guest RAM.
    const eptp = await waitRow('EPT', /^EPTP 0x[0-9a-f]+$/);
    expect((BigInt(eptp.split(' ')[1]) & 0x7n)).toBe(6n); // memory type WB
    await waitRow('EPT', /^0x0–0x[0-9a-f]+ → 0x200000 RWX WB /);
    await expandRow('EPT', /^PML4 at 0x[0-9a-f]+ paging structures$/);
    await expandRow('EPT', /^\[0\] PML4E RWX \S* → PDPT 0x[0-9a-f]+/);
    await expandRow('EPT', /^\[0\] PDPTE RWX \S* → PD 0x[0-9a-f]+/);
    // vmscope's hypervisor maps guest RAM with 2 MiB EPT pages: the PD's entries are the leaves (no EPT PT in any sample).
    const pde = await waitRow('EPT', /^\[0\] PDE RWX \S* 2 MiB page → 0x200000 WB$/);
    expect(pde).toContain('RWX');
    await waitRow('EPT', /^\[1\] PDE RWX \S* 2 MiB page → 0x400000 WB$/);
    await shot('ept-view', page.locator('.part.sidebar'));
  });

  it('VM exits view: selecting an exit without a source line opens "disasm @ RIP" (vmscope-disasm:) with its instruction selected', async (ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
    onTestFailed(() => shot('FAILED').then(() => undefined, () => undefined));
    await onlyPanes(['VM exits']);
    // print.inc's VMCALL has no DWARF line (the sample's asm source lines cover trap-and-emulate.asm only).
    const vmcall = await waitRow('VM exits', /^#1 VMCALL 0x[0-9a-f]+$/);
    const rip = vmcall.split(' ')[2];
    await rows('VM exits').and(page.locator(`[aria-label="${vmcall}"]`)).first().click();
    const tab = page.locator(`.tab[aria-label*="disasm @ ${rip}"]`);
    await tab.waitFor();
    const editor = page.locator('.part.editor .editor-instance .monaco-editor').first();
    const marked = editor.locator('.view-line', { hasText: `=> ${rip}` });
    await marked.waitFor();
    const line = (await marked.innerText()).replace(/\u00a0/g, ' ');
    expect(line).toMatch(new RegExp(`^=> ${rip}\\s+0f 01 c1\\s+vmcall$`));
    expect(await editor.innerText()).toMatch(/^flush:$/m);
    // The whole line is selected (the status bar counts the selected characters of the active editor).
    await expect.poll(() => page.locator('.statusbar-item[id="status.editor.selection"]').innerText()).toMatch(new RegExp(`\\(${line.length} selected\\)`));
    await shot('exit-disassembly');
  });

  it('VM exits view: "Go to This Exit" is on an exit\'s context menu and goes back there (or says the adapter cannot)', async (ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
    onTestFailed(() => shot('FAILED').then(() => undefined, () => undefined));
    await onlyPanes(['Call Stack', 'VM exits']);
    const third = await waitRow('VM exits', /^#3 VMCALL 0x[0-9a-f]+$/);
    await rows('VM exits').and(page.locator(`[aria-label="${third}"]`)).first().click({ button: 'right' });
    const item = page.locator('.context-view .monaco-menu .action-item', { hasText: 'Go to This Exit' });
    await item.waitFor();
    await shot('exit-context-menu');
    await item.click();
    // An adapter with time travel stops at the exit (reason "goto"); one without says so in a notification.
    let outcome = '';
    await expect.poll(async () => {
      // Back at exit #3: the stop sits at it before the hypervisor handled it, so the view lists it as pending.
      if ((await rowLabels('VM exits')).some((l) => /^#3 VMCALL rip 0x[0-9a-f]+ · stopped here, not handled yet$/.test(l))) { outcome = 'went back'; return outcome; }
      const toast = await page.locator('.notifications-toasts').innerText({ timeout: 500 }).catch(() => '');
      if (/cannot go back to a recorded VM exit/.test(toast)) { outcome = 'unsupported'; return outcome; }
      return '';
    }, { timeout: 20_000 }).not.toBe('');
    console.log(`e2e: Go to This Exit → ${outcome}`);
    if (outcome === 'went back') {
      // The status bar shows the recorded history; the exits after #3 are no longer in the log (it is the moment of exit #3).
      await expect.poll(() => page.locator('.statusbar-item', { hasText: /vmscope: .* exits/ }).innerText()).toMatch(/history: [0-9.]+ [kMG]? ?instr, [0-9.]+ MiB \/ 512 MiB/);
      expect((await rowLabels('VM exits')).some((l) => l.startsWith('#6 CPUID'))).toBe(false);
      // VS Code shows Step Back and Reverse Continue (supportsStepBack).
      await debugButton('Step Back').waitFor();
      await debugButton('Reverse').waitFor();
    }
    await shot(`goto-exit-${outcome.replace(' ', '-')}`);
    if (outcome === 'unsupported') await page.locator('.notifications-toasts .codicon-notifications-clear').first().click().catch(() => undefined);
  });

  it('opens the page-walk picture for the exit\'s RIP from the command palette', async (ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
    onTestFailed(() => shot('FAILED').then(() => undefined, () => undefined));
    await runCommand('vmscope: Show Page Walk');
    await expect.poll(() => page.locator('.quick-input-widget').innerText()).toContain('Guest-virtual address');
    await page.locator('.quick-input-widget input.input').fill(exitRip);
    await page.keyboard.press('Enter');
    await page.locator('.tab[aria-label*="vmscope: Page Walk"]').waitFor();
    // The webview's document is in nested frames: find the one that renders the walk.
    let text = '';
    await expect.poll(async () => {
      for (const f of page.frames()) {
        const t = await f.evaluate(() => document.body?.innerText ?? '').catch(() => '');
        if (t.includes('Page walk of')) { text = t; return true; }
      }
      return false;
    }, { timeout: 20_000 }).toBe(true);
    expect(text).toContain(`Page walk of ${exitRip}`);
    expect(text).toMatch(new RegExp(`GVA ${exitRip} → GPA 0x[0-9a-f]+ → HPA 0x[0-9a-f]+`));
    expect(text).toMatch(/EPT PML4E/);
    await shot('page-walk-beside');
    // The picture is wide: the whole window for it (the last step, nothing needs the side bar after it).
    await runCommand('View: Maximize Editor Group and Hide Side Bars');
    await expect.poll(() => page.locator('.part.sidebar').isVisible()).toBe(false);
    await shot('page-walk', page.locator('.part.editor'));
  });
  it('Virtio view (sample 11): a stop before the doorbell shows the queued request: device → queue → descriptor table and available ring, the buffer\'s bytes', async (ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
    onTestFailed(() => shot('FAILED').then(() => undefined, () => undefined));
    const t0 = Date.now();
    await clickCommand('Debug: Stop');
    // The session ended: the extension hides its status-bar item.
    await expect.poll(() => page.locator('.statusbar-item', { hasText: /vmscope: .* exits/ }).count(), { timeout: 20_000 }).toBe(0);
    // The virtio sample as a second workspace, opened in the same window.
    const workspace = join(OUT, 'workspace', VIRTIO_SAMPLE);
    cpSync(join(ROOT, 'samples', VIRTIO_SAMPLE), workspace, { recursive: true });
    await page.goto(server!.url.replace(/\?folder=.*$/, `?folder=${encodeURIComponent(workspace).replace(/%2F/g, '/')}`));
    await page.locator('.explorer-folders-view .monaco-list-row[aria-label*="virtio.c"]').waitFor({ timeout: 60_000 });
    // A breakpoint on the doorbell write in queue_submit: the driver has published the chain (avail idx moved), the device has not seen it.
    const src = readFileSync(join(ROOT, 'samples', VIRTIO_SAMPLE, 'virtio.c'), 'utf8').split('\n');
    const doorbell = src.findIndex((l) => l.includes('4. doorbell')) + 1;
    expect(doorbell).toBeGreaterThan(0);
    const input = page.locator('.quick-input-widget input.input');
    await page.keyboard.press('F1');
    await input.fill('virtio.c');
    await page.locator('.quick-input-list .monaco-list-row[aria-label*="virtio.c"]').first().waitFor();
    await page.keyboard.press('Enter');
    await page.locator('.tab[aria-label*="virtio.c"]').waitFor();
    // Go to Line can arrive while the editor is still opening (the cursor stays at Ln 1): asked again until it lands.
    const selection = page.locator('.statusbar-item[id="status.editor.selection"]');
    await expect.poll(async () => {
      if ((await selection.innerText()).startsWith(`Ln ${doorbell},`)) return true;
      await clickCommand('Go to Line/Column');
      await input.fill(`:${doorbell}`);
      await page.keyboard.press('Enter');
      return false;
    }, { timeout: 30_000, interval: 1000 }).toBe(true);
    await clickCommand('Debug: Toggle Breakpoint');
    await clickCommand('View: Show Run and Debug');
    await onlyPanes(['Call Stack', 'Breakpoints']);
    await waitRow('Breakpoints', new RegExp(`virtio\\.c.*\\b${doorbell}\\b`));
    const select = page.locator('.part.sidebar select[aria-label="Debug Launch Configurations"]');
    await expect.poll(() => select.evaluate((e: HTMLSelectElement) => e.options[e.selectedIndex]?.text ?? '')).toBe('11-virtio: console + block');
    await page.locator('.part.sidebar [aria-label^="Start Debugging (F5)"]').click();
    await expect.poll(callStackState, { timeout: 30_000 }).toMatch(/breakpoint/i);
    await waitRow('Call Stack', new RegExp(`virtio\\.c.*\\b${doorbell}\\b|line ${doorbell}\\b`));

    await onlyPanes(['Virtio']);
    // virtio 1.2 §5: console is device id 3; its transmitq is queue 1 (§5.3.2). The first line is queued: avail idx 1, device last seen 0.
    await expandRow('Virtio', /^virtio-console device id 3 · 0xd0000000 /);
    await waitRow('Virtio', /^Status 0x[0-9a-f]+ .*DRIVER_OK/);
    await expandRow('Virtio', /^Queue 1 size \d+ · avail 1 · used 0 · last seen 0 · 1 waiting$/);
    await expandRow('Virtio', /^Available ring idx 1 · flags \d+ · device last seen 0$/);
    await waitRow('Virtio', /^\[0\] head 0 · waiting$/);
    const hello = /hello\[\] = "([^"\\]*)/.exec(src.join('\n'))![1];
    const table = await expandRow('Virtio', /^Descriptor table 1 of \d+ in use$/);
    expect(table).toBeTruthy();
    // Descriptor 0: the line (without its NUL), device-readable; its bytes as hex and ASCII.
    const desc = new RegExp(`^desc 0 0x[0-9a-f]+ len ${hello.length + 1}\\b`);
    await expandRow('Virtio', desc);
    // (The row's accessible name may fold runs of spaces.)
    const firstRow = await waitRow('Virtio', /^[0-9a-f]{8}\s+(?:[0-9a-f]{2} ){15}[0-9a-f]{2}\s+\S/);
    const [, hex, ascii] = /^[0-9a-f]{8}\s+((?:[0-9a-f]{2} ){15}[0-9a-f]{2})\s+(.*)$/.exec(firstRow)!;
    expect(hex.split(' ').map((x) => String.fromCharCode(parseInt(x, 16))).join('')).toBe(hello.slice(0, 16));
    expect(ascii.trimEnd()).toBe(hello.slice(0, 16));
    await shot('virtio-view', page.locator('.part.sidebar'));
    await shot('virtio-stop');
    console.log(`e2e: virtio sample in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });
});
