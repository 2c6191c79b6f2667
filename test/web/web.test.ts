// The extension's browser bundle (VS Code for the Web) in headless Chromium: the emulator and adapter run inline and a sample runs to its expected output.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';

const ROOT = resolve(__dirname, '..', '..');
const OUT = join(ROOT, 'test', '.tmp', 'web');
const CHROMIUM = '/usr/bin/chromium';
let browser: Browser | null = null;
let page = '';

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) return;
  // Our own copy of the bundle, so this suite never races the extension suite over extension/dist.
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-extension.mjs'), '--web-only', `--out=${OUT}`], { cwd: ROOT, stdio: 'pipe' });
  const harness = await build({
    entryPoints: [join(__dirname, 'harness.ts')], bundle: true, write: false, format: 'iife', globalName: 'vmscopeHarness',
    platform: 'browser', target: 'es2022', external: ['node:fs', 'node:module'], logLevel: 'error',
  });
  page = `<!doctype html><meta charset="utf-8"><script>globalThis.require = () => ({});</script><script>${harness.outputFiles[0].text.replaceAll('</script', '<\\/script')}</script>`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
});
afterAll(async () => { await browser?.close(); });

async function runSample(sample: string, image: string, extraFiles: Record<string, string> = {}, extra: Record<string, unknown> = {}): Promise<{ output: string; exitCode: number | null; error?: string; pageErrors: string[] }> {
  const p = await browser!.newPage();
  const pageErrors: string[] = [];
  p.on('pageerror', (e) => pageErrors.push(e.message));
  await p.setContent(page);
  const bundle = readFileSync(join(OUT, 'web.js'), 'utf8');
  const files: Record<string, number[]> = { [`/ws/${image}`]: [...readFileSync(join(ROOT, 'samples', sample, image))] };
  for (const [name, from] of Object.entries(extraFiles)) files[`/ws/${name}`] = [...readFileSync(join(ROOT, 'samples', sample, from))];
  const r = await p.evaluate(async ({ bundle, files, config }) => {
    const bytes: Record<string, Uint8Array> = {};
    for (const [k, v] of Object.entries(files)) bytes[k] = new Uint8Array(v);
    // The page has no Node: `process`, `Buffer` and `require` (beyond the shim above) do not exist.
    const g = globalThis as unknown as { vmscopeHarness: { runInBrowser(b: string, f: Record<string, Uint8Array>, c: unknown): Promise<unknown> }; Buffer?: unknown };
    if (g.Buffer !== undefined) throw new Error('Buffer exists in the page');
    return g.vmscopeHarness.runInBrowser(bundle, bytes, config);
  }, { bundle, files, config: { type: 'vmscope', request: 'launch', name: sample, program: `/ws/${image}`, ...extra } }) as { output: string; exitCode: number | null; error?: string };
  await p.close();
  return { ...r, pageErrors };
}

describe.skipIf(!existsSync(CHROMIUM))('the browser bundle in Chromium', () => {
  it('runs sample 10-hypercalls inline to its expected output', async () => {
    const r = await runSample('10-hypercalls', '10-hypercalls.elf');
    expect(r.error).toBeUndefined();
    expect(r.pageErrors).toEqual([]);
    expect(r.output).toBe(readFileSync(join(ROOT, 'samples', '10-hypercalls', 'expected-output.txt'), 'utf8'));
    expect(r.exitCode).toBe(0);
  });

  it('runs sample 11-virtio with its disk image read through workspace.fs', async () => {
    const r = await runSample('11-virtio', '11-virtio.elf', { 'disk.img': 'disk.img' }, {
      devices: ['debugcon', 'debug-exit', 'uart', 'virtio-console', { type: 'virtio-blk', image: '/ws/disk.img', readOnly: true }],
    });
    expect(r.error).toBeUndefined();
    expect(r.output).toBe(readFileSync(join(ROOT, 'samples', '11-virtio', 'expected-output.txt'), 'utf8'));
  });
});
