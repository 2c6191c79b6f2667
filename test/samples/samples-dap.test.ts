// Two samples under the debug adapter (in-process, as the extension runs it): each stops at the breakpoints its README documents.
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:net';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { createSession } from '../../debug-adapter/session.js';
import { nodeHost } from '../../debug-adapter/node-host.js';

const SAMPLES = resolve(__dirname, '..', '..', 'samples');
let server: Server | null = null;
let dc: DebugClient | null = null;
afterEach(async () => {
  await dc?.stop().catch(() => undefined);
  dc = null;
  server?.close();
  server = null;
});

async function client(): Promise<DebugClient> {
  const port = await new Promise<number>((done) => {
    server = createServer((socket) => {
      const s = createSession(nodeHost());
      s.setRunAsServer(true);
      s.start(socket, socket);
    }).listen(0, '127.0.0.1', () => done((server!.address() as { port: number }).port));
  });
  const d = new DebugClient('node', '', 'vmscope');
  await d.start(port);
  return d;
}

/** The sample's first launch configuration, as VS Code would resolve it (full-line // comments, ${workspaceFolder}). */
function launchConfig(sample: string): Record<string, unknown> {
  const dir = join(SAMPLES, sample);
  const text = readFileSync(join(dir, '.vscode', 'launch.json'), 'utf8').replace(/^\s*\/\/.*$/gm, '').replaceAll('${workspaceFolder}', dir);
  const cfg = (JSON.parse(text) as { configurations: Record<string, unknown>[] }).configurations[0];
  return { ...cfg, stopOnEntry: false };
}

/** 1-based line of the first source line containing `marker`. */
function lineOf(file: string, marker: string): number {
  const i = readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(marker));
  if (i < 0) throw new Error(`${marker} not in ${file}`);
  return i + 1;
}

async function start(d: DebugClient, config: Record<string, unknown>, filterOptions: DebugProtocol.ExceptionFilterOptions[]): Promise<DebugProtocol.StoppedEvent> {
  await d.initializeRequest({ adapterID: 'vmscope', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' });
  const ready = d.waitForEvent('initialized');
  await d.launchRequest(config as DebugProtocol.LaunchRequestArguments);
  await ready;
  await d.setExceptionBreakpointsRequest({ filters: [], filterOptions });
  const stopped = d.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
  await d.configurationDoneRequest();
  return stopped;
}

async function topFrame(d: DebugClient): Promise<DebugProtocol.StackFrame[]> {
  return (await d.stackTraceRequest({ threadId: 1 })).body.stackFrames;
}

describe('samples under the debugger, at their documented breakpoints', () => {
  it('02-port-io: VM exit IO_INSTRUCTION with `port == 0x3fd && in` (the LSR poll), then the source breakpoint on `rep outsb`', async () => {
    dc = await client();
    const stop = await start(dc, launchConfig('02-port-io'), [{ filterId: 'vmexit.IO_INSTRUCTION', condition: 'port == 0x3fd && in' }]);
    expect(stop.body.reason).toBe('exception');
    expect(stop.body.description).toBe('VM exit: IO_INSTRUCTION (30)');
    expect((await dc.evaluateRequest({ expression: 'port', context: 'watch', frameId: (await topFrame(dc))[0].id })).body.result).toMatch(/^(0x3fd|1021)\b/);
    // Guest frame below the hypervisor's: the IN instruction that polls the line-status register.
    const asm = join(SAMPLES, '02-port-io', 'port-io.asm');
    const frames = await topFrame(dc);
    const guest = frames.find((f) => f.source?.path?.endsWith('port-io.asm'));
    expect(guest).toBeDefined();
    expect(readFileSync(asm, 'utf8').split('\n')[guest!.line - 1]).toMatch(/\bin\s+al,\s*dx/);

    const line = lineOf(asm, 'rep outsb');
    const set = await dc.setBreakpointsRequest({ source: { path: asm }, breakpoints: [{ line }] });
    expect(set.body.breakpoints[0].verified).toBe(true);
    await dc.setExceptionBreakpointsRequest({ filters: [] });
    const hit = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.continueRequest({ threadId: 1 });
    expect((await hit).body.reason).toBe('breakpoint');
    const at = (await topFrame(dc))[0];
    expect(at.source?.path).toBe(asm);
    expect(at.line).toBe(line);
  });

  it('10-hypercalls: VM exit VMCALL with `rax == 3` (TIME) shows GUEST_RIP at the VMCALL and VM_EXIT_INSTRUCTION_LEN 3', async () => {
    dc = await client();
    const stop = await start(dc, launchConfig('10-hypercalls'), [{ filterId: 'vmexit.VMCALL', condition: 'rax == 3' }]);
    expect(stop.body.description).toBe('VM exit: VMCALL (18)');
    const frameId = (await topFrame(dc))[0].id;
    const ev = async (e: string) => (await dc!.evaluateRequest({ expression: e, context: 'watch', frameId })).body.result;
    expect(BigInt(await ev('rax'))).toBe(3n);
    const vmcs = await dc.customRequest('vmscope/vmcs', {});
    const field = (name: string) => (vmcs.body.groups as { fields: { name: string; value: string }[] }[]).flatMap((g) => g.fields).find((f) => f.name === name)!.value;
    expect(Number(field('VM_EXIT_INSTRUCTION_LEN'))).toBe(3);
    expect(BigInt(field('GUEST_RIP'))).toBe(BigInt(await ev('rip')));
    // The bytes at GUEST_RIP are VMCALL (0F 01 C1).
    const mem = await dc.customRequest('readMemory', { memoryReference: field('GUEST_RIP'), count: 3 });
    expect(Buffer.from(mem.body!.data!, 'base64').toString('hex')).toBe('0f01c1');
  });
});
