// The configuration provider's logic (no launch.json: a configuration from the active file) and the small pure parts: adapter mode, status text, sample index.
import { describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { resolveLaunch } from '../../extension/src/config-resolve.js';
import { adapterChoice } from '../../extension/src/adapter-mode.js';
import { SpeedMeter, statusText } from '../../extension/src/status.js';
import { describeReadme, parseSampleIndex } from '../../extension/src/samples.js';
import { fromBase64, hexAscii } from '../../extension/src/model/node.js';
import { InlineClient } from './inline-client.js';

const ROOT = resolve(__dirname, '..', '..');
const TMP = join(ROOT, 'test', '.tmp', 'extension', 'resolve');
const host = { exists: (p: string) => existsSync(p) };

function workspace(): string {
  mkdirSync(TMP, { recursive: true });
  for (const f of ['hello.asm', 'hello.elf']) copyFileSync(join(ROOT, 'samples', 'hello', f), join(TMP, f));
  writeFileSync(join(TMP, 'orphan.asm'), '; no image\n');
  writeFileSync(join(TMP, 'notes.txt'), 'text\n');
  return TMP;
}

describe('resolveLaunch', () => {
  it('makes a configuration from an .asm with its image next to it, and that configuration runs the guest', async () => {
    const dir = workspace();
    const r = await resolveLaunch({}, join(dir, 'hello.asm'), host);
    if (r.kind !== 'config') throw new Error(r.message);
    expect(r.filled).toBe(true);
    expect(r.config.program).toBe(join(dir, 'hello.elf'));
    const c = new InlineClient();
    const { stopOnEntry: _s, ...run } = r.config;
    const ended = c.next('exited');
    await c.start(run);
    await ended;
    expect(c.output).toBe('Hello, world!\n');
  });

  it('runs an image directly, stopping on entry', async () => {
    const dir = workspace();
    const r = await resolveLaunch({}, join(dir, 'hello.elf'), host);
    if (r.kind !== 'config') throw new Error(r.message);
    expect(r.config).toMatchObject({ type: 'vmscope', request: 'launch', program: join(dir, 'hello.elf'), cwd: dir, stopOnEntry: true });
    const c = new InlineClient();
    const ev = await c.start(r.config);
    expect(ev.event).toBe('stopped');
    expect((ev.body as { reason: string }).reason).toBe('entry');
    await c.customRequest('disconnect', {});
  });

  it('says what to do when it cannot', async () => {
    const dir = workspace();
    const none = await resolveLaunch({}, undefined, host);
    expect(none.kind === 'error' && /no open file/i.test(none.message) && /launch\.json/.test(none.message)).toBe(true);
    const orphan = await resolveLaunch({}, join(dir, 'orphan.asm'), host);
    expect(orphan.kind === 'error' && orphan.message.includes('orphan.elf') && /Build it first/.test(orphan.message)).toBe(true);
    const txt = await resolveLaunch({}, join(dir, 'notes.txt'), host);
    expect(txt.kind === 'error' && /not a guest image/.test(txt.message)).toBe(true);
    const attach = await resolveLaunch({ type: 'vmscope', request: 'attach', name: 'x', program: 'a.elf' }, undefined, host);
    expect(attach.kind).toBe('error');
    const noProgram = await resolveLaunch({ type: 'vmscope', request: 'launch', name: 'mine' }, join(dir, 'hello.elf'), host);
    expect(noProgram.kind === 'error' && /"program"/.test(noProgram.message)).toBe(true);
  });

  it('keeps a launch.json configuration as it is, completing only type/request/name', async () => {
    const r = await resolveLaunch({ program: 'guest.elf', exitStage: 'after' }, undefined, host);
    expect(r).toEqual({ kind: 'config', filled: false, config: { type: 'vmscope', request: 'launch', name: 'vmscope', program: 'guest.elf', exitStage: 'after' } });
  });
});

describe('small pure parts', () => {
  it('adapter settings: inline by default, a port for server, bad values fall back with a warning', () => {
    expect(adapterChoice(undefined, undefined)).toEqual({ choice: { mode: 'inline' } });
    expect(adapterChoice('process', 1)).toEqual({ choice: { mode: 'process' } });
    expect(adapterChoice('server', 4712)).toEqual({ choice: { mode: 'server', port: 4712 } });
    expect(adapterChoice('server', undefined).choice).toEqual({ mode: 'server', port: 4711 });
    expect(adapterChoice('server', 70000).warning).toMatch(/port/);
    expect(adapterChoice('socket', 1).warning).toMatch(/inline, process, server/);
  });

  it('MIPS is instructions retired while running over the wall time running', () => {
    const m = new SpeedMeter();
    m.continued(1000);
    m.stopped(3000, 4_000_000); // 4e6 instructions in 2 s
    expect(m.lastMips).toBeCloseTo(2, 10);
    m.continued(5000);
    m.stopped(5500, 4_500_000); // 5e5 more in 0.5 s
    expect(m.lastMips).toBeCloseTo(1, 10);
    expect(statusText({ total: 46, instructions: 4_500_000 }, m.lastMips, false)).toBe('$(debug) vmscope: 46 exits · 4.50M instr · 1.0 MIPS');
    // A step (a few instructions, mostly request latency) keeps the last figure instead of showing ~0 MIPS.
    m.continued(6000);
    m.stopped(6050, 4_500_001);
    expect(m.lastMips).toBeCloseTo(1, 10);
  });

  it('sample index: README title and first paragraph; malformed or path-like entries are dropped', () => {
    const readme = readFileSync(join(ROOT, 'samples', 'hello', 'README.md'), 'utf8');
    const d = describeReadme('hello', readme);
    expect(d.title).toBe(/^# (.*)$/m.exec(readme)![1].trim());
    expect(parseSampleIndex(JSON.stringify([d, { name: '../etc' }, { name: 'a/b' }, 7, { title: 'x' }]))).toEqual([d]);
    expect(parseSampleIndex('not json')).toEqual([]);
  });

  it('buffer previews decode base64 as Node does and show 16 bytes per row', () => {
    const bytes = Uint8Array.from({ length: 40 }, (_, i) => (i * 37 + 5) & 0xff);
    expect([...fromBase64(Buffer.from(bytes).toString('base64'))]).toEqual([...bytes]);
    const rows = hexAscii(new TextEncoder().encode('Hello, world!\n'), 0x1000);
    expect(rows).toEqual([`00001000  ${[...'Hello, world!\n'].map((c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join(' ').padEnd(47)}  Hello, world!.`]);
  });
});
