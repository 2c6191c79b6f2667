// The custom requests (vmscope/vmcs, ept, pageWalk, exits, virtio, stepToExit), console commands and hypervisor notes, over stdio.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { HELLO, buildFlat, ensureAdapter, objdumpBytes } from './build.js';
import type { EptResponseBody, ExitsResponseBody, PageWalkResponseBody, VirtioResponseBody, VmcsResponseBody } from '../../debug-adapter/protocol.js';

let adapter = '';
let dc: DebugClient;
let consoleText = '';
beforeAll(() => { adapter = ensureAdapter(); });
afterEach(async () => { await dc?.stop().catch(() => undefined); });

async function launch(config: Record<string, unknown>): Promise<DebugProtocol.StoppedEvent | null> {
  dc = new DebugClient('node', adapter, 'vmscope');
  consoleText = '';
  dc.on('output', (e: DebugProtocol.OutputEvent) => { if (e.body.category === 'console') consoleText += e.body.output; });
  await dc.start();
  await dc.initializeRequest({ adapterID: 'vmscope' });
  const ready = dc.waitForEvent('initialized');
  await dc.launchRequest(config as DebugProtocol.LaunchRequestArguments);
  await ready;
  if (config.stopOnEntry !== true) { await dc.configurationDoneRequest(); return null; }
  const stop = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
  await dc.configurationDoneRequest();
  return stop;
}

describe('custom requests and console commands', () => {
  it('stepToExit, VMCS, EPT, page walk, exits, virtio', async () => {
    await launch({ program: HELLO, stopOnEntry: true, devices: ['debugcon', 'virtio-rng'] });
    const ref = objdumpBytes(HELLO);
    const firstOut = [...ref.keys()].sort((a, b) => a - b).find((a) => ref.get(a)!.startsWith('e6'))!;
    const stop = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.customRequest('vmscope/stepToExit', { threadId: 1 });
    const s = await stop;
    expect(s.body.description).toBe('VM exit: IO_INSTRUCTION (30)');
    const st = await dc.stackTraceRequest({ threadId: 1 });
    expect(Number(st.body.stackFrames[1].instructionPointerReference)).toBe(firstOut);

    const vmcs = (await dc.customRequest('vmscope/vmcs', {})).body as VmcsResponseBody;
    const field = (name: string) => vmcs.groups.flatMap((g) => g.fields).find((f) => f.name === name)!;
    expect(Number(field('GUEST_RIP').value)).toBe(firstOut);
    expect(Number(field('VM_EXIT_REASON').value)).toBe(30);
    expect(field('CPU_BASED_VM_EXEC_CONTROL').bits!.find((b) => b.name.includes('HLT'))?.set).toBe(true);
    const one = (await dc.customRequest('vmscope/vmcs', { field: 'guest_rip' })).body as VmcsResponseBody;
    expect(one.groups.flatMap((g) => g.fields).map((f) => f.name)).toEqual(['GUEST_RIP']);

    // README "Host memory": guest RAM starts at host-physical 0x200000, so GPA 0x100000 is HPA 0x300000.
    const ept = (await dc.customRequest('vmscope/ept', { gpa: '0x100000' })).body as EptResponseBody;
    expect(ept.translate!.result).toMatchObject({ kind: 'ok', hpa: '0x300000' });
    const all = (await dc.customRequest('vmscope/ept', {})).body as EptResponseBody;
    expect(all.mappings!.mappings.length).toBeGreaterThan(0);
    // Down the tables by address, as the EPT view expands them: PML4 → PDPT → PD, whose entry 0 maps GPA 0 with a
    // 2 MiB page at the HPA the walk of 0x100000 went through.
    expect(all.table!.level).toBe(4);
    const pdptAt = all.table!.entries[0].target;
    const pdpt = (await dc.customRequest('vmscope/ept', { table: pdptAt })).body as EptResponseBody;
    expect(pdpt.table).toMatchObject({ level: 3, gpaBase: '0x0' });
    const pd = (await dc.customRequest('vmscope/ept', { table: pdpt.table!.entries[0].target })).body as EptResponseBody;
    expect(pd.table!.level).toBe(2);
    expect(pd.table!.entries[0]).toMatchObject({ kind: 'page', largePage: true, target: '0x200000', r: true, w: true, x: true });
    expect(pd.text).toMatch(/EPT PD at/);
    await expect(dc.customRequest('vmscope/ept', { table: '0x123' })).rejects.toThrow(/not a 4 KiB page/);
    await expect(dc.customRequest('vmscope/ept', { level: 2 })).rejects.toThrow(/'level' needs 'table'/);
    // README "Writing your own guest": long mode identity-maps the first 4 GiB.
    const walk = (await dc.customRequest('vmscope/pageWalk', { gva: `0x${firstOut.toString(16)}` })).body as PageWalkResponseBody;
    expect(walk.mode).toBe('4-level');
    expect(Number(walk.gpa)).toBe(firstOut);
    expect(Number(walk.hpa)).toBe(firstOut + 0x200000);
    const exits = (await dc.customRequest('vmscope/exits', { count: 10 })).body as ExitsResponseBody;
    expect(exits.total).toBe(0); // stopped before the first exit was handled
    expect(exits.pending).toMatchObject({ n: 1, reason: 30, name: 'IO_INSTRUCTION', rip: `0x${firstOut.toString(16)}` });
    const virtio = (await dc.customRequest('vmscope/virtio', {})).body as VirtioResponseBody;
    expect(virtio.devices.map((d) => d.name)).toEqual(['virtio-rng']);

    // The same through the debug console.
    const walkText = await dc.evaluateRequest({ expression: `walk 0x${firstOut.toString(16)}`, context: 'repl' });
    expect(walkText.body.result).toContain('4-level');
    const eptText = await dc.evaluateRequest({ expression: 'ept 0x100000', context: 'repl' });
    expect(eptText.body.result).toContain('0x300000');
    const help = await dc.evaluateRequest({ expression: 'help', context: 'repl' });
    expect(help.body.result).toMatch(/vmcs \[FIELD\]/);
    await expect(dc.evaluateRequest({ expression: 'walk', context: 'repl' })).rejects.toThrow(/give a guest-virtual address/);
    await expect(dc.customRequest('vmscope/vmcs', { field: 'NOPE' })).rejects.toThrow(/no VMCS field named "NOPE"/);
    // Change a VMCS field through setVariable: the exit's instruction length (the OUT handler skips that many bytes).
    const sc = await dc.scopesRequest({ frameId: 1 });
    const vmcsScope = sc.body.scopes.find((x) => x.name === 'VMCS')!;
    const groups = (await dc.variablesRequest({ variablesReference: vmcsScope.variablesReference })).body.variables;
    const guestRegs = groups.find((g) => g.name === 'Guest-state area: registers')!;
    const set = await dc.setVariableRequest({ variablesReference: guestRegs.variablesReference, name: 'GUEST_RSP', value: '0x7f000' });
    expect(BigInt(set.body.value)).toBe(0x7f000n);
    const rsp = await dc.evaluateRequest({ expression: 'rsp', context: 'watch' });
    expect(rsp.body.result).toBe('0x7f000');
  });

  it('reports hypervisor notes (an unassigned MMIO read) in the debug console', async () => {
    const bin = buildFlat('mmio');
    const exited = (async () => {
      await launch({ program: bin, format: 'flat', cpuMode: 'long' });
      return dc.waitForEvent('exited') as Promise<DebugProtocol.ExitedEvent>;
    })();
    expect((await exited).body.exitCode).toBe(0);
    expect(consoleText).toMatch(/\[hypervisor\] #1 EPT_VIOLATION rip=0x100005: read of unassigned .*all ones/);
  });
});
