// The built extension: scripts/build-extension.mjs bundles, `vsce package --no-dependencies` makes a .vsix with no node_modules, and both bundles activate and run a guest with a stand-in `vscode`.
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fakeVscode, loadWithVscode, type Recorded } from './fake-vscode.js';
import { InlineClient, type InlineAdapter } from './inline-client.js';

const ROOT = resolve(__dirname, '..', '..');
const EXT = join(ROOT, 'extension');
const TMP = join(ROOT, 'test', '.tmp', 'extension');
const VSIX = join(TMP, 'vmscope.vsix');
const HELLO = join(ROOT, 'samples', 'hello', 'hello.elf');
const manifest = JSON.parse(readFileSync(join(EXT, 'package.json'), 'utf8'));

beforeAll(() => {
  mkdirSync(TMP, { recursive: true });
  execFileSync('node', ['scripts/build-extension.mjs'], { cwd: ROOT, stdio: 'pipe' });
  execFileSync(join(ROOT, 'node_modules', '.bin', 'vsce'), ['package', '--no-dependencies', '-o', VSIX], { cwd: EXT, stdio: 'pipe' });
}, 120_000);

describe('the .vsix', () => {
  it('holds the bundles, the wasm next to the Node bundle, the manifest and the samples, and no node_modules or sources', () => {
    const list = execFileSync('unzip', ['-Z1', VSIX], { encoding: 'utf8' }).split('\n').filter((l) => l !== '');
    for (const f of ['extension/package.json', 'extension/dist/extension.js', 'extension/dist/iced_x86_bg.wasm', 'extension/dist/web.js', 'extension/dist/adapter.js', 'extension/samples/index.json']) expect(list, f).toContain(f);
    expect(list.filter((f) => f.includes('node_modules'))).toEqual([]);
    expect(list.filter((f) => f.startsWith('extension/src/') || f.endsWith('.map'))).toEqual([]);
    // Each sample with a launch.json (the samples' own convention) is carried with it.
    const index = JSON.parse(readFileSync(join(EXT, 'samples', 'index.json'), 'utf8')) as Array<{ name: string }>;
    expect(index.length).toBeGreaterThan(0);
    for (const s of index) {
      expect(existsSync(join(ROOT, 'samples', s.name, '.vscode', 'launch.json'))).toBe(true);
      expect(list).toContain(`extension/samples/${s.name}/.vscode/launch.json`);
    }
    const packed = JSON.parse(execFileSync('unzip', ['-p', VSIX, 'extension/package.json'], { encoding: 'utf8' }));
    expect(packed.contributes.debuggers[0].type).toBe('vmscope');
  });
});

async function activatedWithApi(bundle: string): Promise<{ rec: Recorded; api: any }> {
  const { api, rec } = fakeVscode();
  loadWithVscode(join(EXT, 'dist', bundle), api).activate({ subscriptions: [] as unknown[], extensionUri: api.Uri.file(EXT) });
  return { rec, api };
}

async function activated(bundle: string): Promise<{ rec: Recorded; ctx: { subscriptions: unknown[]; extensionUri: unknown } }> {
  const { api, rec } = fakeVscode();
  const mod = loadWithVscode(join(EXT, 'dist', bundle), api);
  const ctx = { subscriptions: [] as unknown[], extensionUri: api.Uri.file(EXT) };
  mod.activate(ctx);
  return { rec, ctx };
}

describe('the Node bundle (dist/extension.js)', () => {
  it('registers every manifest command, the four views, the provider, the factory and the tracker for "vmscope"', async () => {
    const { rec } = await activated('extension.js');
    expect([...rec.commands.keys()].sort()).toEqual(manifest.contributes.commands.map((c: { command: string }) => c.command).sort());
    expect([...rec.treeViews.keys()]).toEqual(manifest.contributes.views.debug.map((v: { id: string }) => v.id));
    for (const m of [rec.factories, rec.providers, rec.trackers]) expect([...m.keys()]).toEqual(['vmscope']);
  });

  it('runs hello.elf inline, disassembles with the bundled iced-x86, and fills the VMCS view at a stop through the tracker', async () => {
    const { rec } = await activated('extension.js');
    const d = rec.factories.get('vmscope')!.createDebugAdapterDescriptor();
    const c = new InlineClient(d.implementation as InlineAdapter);
    const stop = await c.start({ program: HELLO, stopOnEntry: true });
    expect(stop.event).toBe('stopped');
    const dis = await c.customRequest('disassemble', { memoryReference: '0x100000', instructionCount: 1 });
    // The image's first instruction as objdump decodes it.
    const objdump = execFileSync('objdump', ['-d', '-M', 'intel', '--start-address=0x100000', '--stop-address=0x100002', HELLO], { encoding: 'utf8' });
    const mnemonic = /^\s*100000:\t[0-9a-f ]+\t(\w+)/m.exec(objdump)![1];
    expect(dis.instructions[0].instruction.toLowerCase()).toContain(mnemonic);
    // The glue: session start, a stopped event through the tracker, then the views ask the session.
    const session = { id: 's1', type: 'vmscope', name: 'hello', customRequest: (cmd: string, a?: unknown) => c.customRequest(cmd, a) };
    for (const f of rec.listeners.get('start') ?? []) f(session);
    const tracker = rec.trackers.get('vmscope')!.createDebugAdapterTracker(session);
    tracker.onDidSendMessage({ type: 'event', event: 'stopped', body: { reason: 'entry' } });
    await new Promise((r) => setTimeout(r, 50));
    const vmcsRoots = await rec.treeViews.get('vmscope.vmcs')!.getChildren();
    expect(vmcsRoots.map((n: { label: string }) => n.label)).toContain('Guest-state area: registers');
    const item = rec.treeViews.get('vmscope.vmcs')!.getTreeItem(vmcsRoots[vmcsRoots.length - 1]);
    expect(item.id).toBe(vmcsRoots[vmcsRoots.length - 1].id);
    // Running: the views say so; ended: a message, no popup for a clean end.
    tracker.onWillReceiveMessage({ type: 'request', command: 'continue' });
    expect((await rec.treeViews.get('vmscope.exits')!.getChildren())[0].label).toMatch(/running/);
    const ended = c.next('exited');
    await c.customRequest('continue', { threadId: 1 });
    await ended;
    tracker.onDidSendMessage({ type: 'event', event: 'exited', body: { exitCode: 0 } });
    tracker.onExit(0, undefined);
    expect((await rec.treeViews.get('vmscope.ept')!.getChildren())[0].label).toMatch(/exited with code 0/);
    expect(rec.messages).toEqual([]);
    expect(c.output).toBe('Hello, world!\n');
  });

  it('an adapter that dies is reported once and the views are cleared', async () => {
    const { rec } = await activated('extension.js');
    const session = { id: 's2', type: 'vmscope', name: 'x', customRequest: () => Promise.reject(new Error('gone')) };
    for (const f of rec.listeners.get('start') ?? []) f(session);
    const tracker = rec.trackers.get('vmscope')!.createDebugAdapterTracker(session);
    tracker.onExit(1, undefined);
    tracker.onError(new Error('write EPIPE'));
    for (const f of rec.listeners.get('terminate') ?? []) f(session);
    expect(rec.messages.filter((m) => m.startsWith('error:'))).toHaveLength(1);
    expect(rec.messages[0]).toMatch(/stopped unexpectedly \(exit code 1\)/);
    expect((await rec.treeViews.get('vmscope.vmcs')!.getChildren())[0].label).toMatch(/unexpectedly/);
  });

  it('process and server modes hand VS Code the bundled adapter or a socket; a bad setting falls back to inline with a warning', async () => {
    const { rec } = await activated('extension.js');
    rec.settings['vmscope.adapter.mode'] = 'process';
    const p = rec.factories.get('vmscope')!.createDebugAdapterDescriptor();
    expect(p.args).toEqual([join(EXT, 'dist', 'adapter.js')]);
    expect(existsSync(p.args[0])).toBe(true);
    rec.settings['vmscope.adapter.mode'] = 'server';
    rec.settings['vmscope.adapter.port'] = 4999;
    expect(rec.factories.get('vmscope')!.createDebugAdapterDescriptor()).toMatchObject({ port: 4999, host: '127.0.0.1' });
    rec.settings['vmscope.adapter.mode'] = 'pipe';
    expect(rec.factories.get('vmscope')!.createDebugAdapterDescriptor().implementation).toBeDefined();
    expect(rec.messages.some((m) => m.startsWith('warning:') && m.includes('pipe'))).toBe(true);
  });

  it('the bundled adapter program speaks DAP over stdio', async () => {
    const out = execFileSync('node', [join(EXT, 'dist', 'adapter.js')], {
      input: (() => { const j = JSON.stringify({ seq: 1, type: 'request', command: 'initialize', arguments: { adapterID: 'vmscope' } }); return `Content-Length: ${Buffer.byteLength(j)}\r\n\r\n${j}`; })(),
      encoding: 'utf8', timeout: 20_000,
    });
    expect(out).toMatch(/"command":"initialize","success":true/);
  });
});

describe('Open Sample…', () => {
  it('copies the picked sample with its launch configuration into the workspace and opens it; an existing copy is not overwritten', async () => {
    const { rec, api } = await activatedWithApi('extension.js');
    const ws = mkdtempSync(join(tmpdir(), 'vmscope-open-sample-'));
    try {
      api.workspace.workspaceFolders = [{ uri: api.Uri.file(ws), name: 'ws', index: 0 }];
      rec.pick = '02-port-io';
      await rec.commands.get('vmscope.openSample')!();
      const dest = join(ws, '02-port-io');
      expect(readFileSync(join(dest, '.vscode', 'launch.json'), 'utf8')).toBe(readFileSync(join(ROOT, 'samples', '02-port-io', '.vscode', 'launch.json'), 'utf8'));
      expect(readFileSync(join(dest, '02-port-io.elf')).equals(readFileSync(join(ROOT, 'samples', '02-port-io', '02-port-io.elf')))).toBe(true);
      const open = rec.executed.filter((c) => c[0] === 'vscode.openFolder');
      expect(open).toHaveLength(1);
      expect((open[0][1] as { path: string }).path).toBe(dest);
      // Again: the copy exists, the user is asked, and cancelling leaves it as it is.
      writeFileSync(join(dest, 'note.txt'), 'mine');
      await rec.commands.get('vmscope.openSample')!();
      expect(rec.messages.at(-1)).toMatch(/02-port-io already exists/);
      expect(readFileSync(join(dest, 'note.txt'), 'utf8')).toBe('mine');
      expect(rec.executed.filter((c) => c[0] === 'vscode.openFolder')).toHaveLength(1);
      // Cancelling the pick does nothing.
      rec.pick = undefined;
      await rec.commands.get('vmscope.openSample')!();
      expect(rec.executed.filter((c) => c[0] === 'vscode.openFolder')).toHaveLength(1);
    } finally {
      rmSync(ws, { recursive: true, force: true });
    }
  });
});

describe('the browser bundle (dist/web.js)', () => {
  it('reads the image through workspace.fs before the launch and runs it inline', async () => {
    const { rec } = await activated('web.js');
    expect([...rec.commands.keys()].length).toBe(manifest.contributes.commands.length);
    const provider = rec.providers.get('vmscope')!;
    const config = await provider.resolveDebugConfigurationWithSubstitutedVariables(undefined, { type: 'vmscope', request: 'launch', name: 'hello', program: HELLO });
    expect(config.program).toBe(HELLO);
    const c = new InlineClient(rec.factories.get('vmscope')!.createDebugAdapterDescriptor().implementation as InlineAdapter);
    const ended = c.next('exited');
    await c.start(config);
    await ended;
    expect(c.output).toBe('Hello, world!\n');
    // A missing image is refused before the launch, with its name.
    const missing = await provider.resolveDebugConfigurationWithSubstitutedVariables(undefined, { type: 'vmscope', request: 'launch', name: 'x', program: '/nonexistent/guest.elf' });
    expect(missing).toBeUndefined();
    expect(rec.messages.at(-1)).toMatch(/cannot open image .*guest\.elf/);
  });
});
