// DAP sessions against dist/adapter.js over stdio (DebugClient): hello.elf and a nasm guest, checked against objdump, addr2line, nm and the image bytes.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { runImage } from '../../emulator/index.js';
import { HELLO, addr2line, buildGuest, ensureAdapter, nmSymbols, objdumpBytes } from './build.js';
import { startClient, type SessionOutput } from '../dap/client.js';

let adapter = '';
let probe = '';
let dc: DebugClient;
const out: SessionOutput = { stdout: '', console: '' };

beforeAll(() => {
  adapter = ensureAdapter();
  probe = buildGuest('probe');
});

async function client(): Promise<DebugClient> {
  dc = await startClient(adapter, out);
  return dc;
}

afterEach(async () => {
  await dc?.stop().catch(() => undefined);
});

/** Launch with a configuration, set exception filters, configurationDone; resolves with the first stop. */
async function start(config: Record<string, unknown>, filterOptions: DebugProtocol.ExceptionFilterOptions[] = []): Promise<DebugProtocol.StoppedEvent> {
  const init = await dc.initializeRequest({ adapterID: 'vmscope', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' });
  expect(init.body?.supportsConfigurationDoneRequest).toBe(true);
  const initialized = dc.waitForEvent('initialized');
  await dc.launchRequest(config as DebugProtocol.LaunchRequestArguments);
  await initialized;
  if (filterOptions.length > 0) {
    const r = await dc.setExceptionBreakpointsRequest({ filters: [], filterOptions });
    expect(r.body?.breakpoints?.every((b) => b.verified)).toBe(true);
  }
  const stopped = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
  await dc.configurationDoneRequest();
  return stopped;
}

async function variables(ref: number): Promise<Map<string, DebugProtocol.Variable>> {
  const r = await dc.variablesRequest({ variablesReference: ref });
  return new Map(r.body.variables.map((v) => [v.name, v]));
}

async function scopes(frameId: number): Promise<Map<string, DebugProtocol.Scope>> {
  const r = await dc.scopesRequest({ frameId });
  return new Map(r.body.scopes.map((s) => [s.name, s]));
}

async function rip(): Promise<number> {
  const st = await dc.stackTraceRequest({ threadId: 1 });
  const guest = st.body.stackFrames.find((f) => f.instructionPointerReference !== undefined)!;
  return Number(guest.instructionPointerReference);
}

const b64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

describe('DAP over stdio: hello.elf', () => {
  it('stops on entry, at a conditional VM-exit filter, shows state, edits it, and runs to the end', async () => {
    await client();
    const ref = objdumpBytes(HELLO);
    const addrs = [...ref.keys()].sort((a, b) => a - b);
    // The first OUT after `mov al, 'l'` (b0 6c) is the exit the condition selects.
    const firstL = addrs[addrs.findIndex((a) => ref.get(a) === 'b0 6c') + 1];
    const entry = await start({ program: HELLO, stopOnEntry: true }, [{ filterId: 'vmexit.IO_INSTRUCTION', condition: 'port == 0xe9 && value == 0x6c' }]);
    expect(entry.body.reason).toBe('entry');

    let st = await dc.stackTraceRequest({ threadId: 1 });
    const [file, line] = addr2line(HELLO, addrs[0]);
    expect(st.body.stackFrames[0].source?.name).toBe(file);
    expect(st.body.stackFrames[0].line).toBe(line);
    expect(st.body.stackFrames[0].name).toBe('_start');

    const stop = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.continueRequest({ threadId: 1 });
    const s = await stop;
    expect(s.body.reason).toBe('exception');
    expect(s.body.description).toBe('VM exit: IO_INSTRUCTION (30)');
    expect(s.body.text).toMatch(/0xe9/);
    expect(out.stdout).toBe('He');

    st = await dc.stackTraceRequest({ threadId: 1 });
    expect(st.body.stackFrames[0]).toMatchObject({ name: 'hypervisor: IO_INSTRUCTION handler', presentationHint: 'subtle' });
    expect(Number(st.body.stackFrames[1].instructionPointerReference)).toBe(firstL);
    expect(st.body.stackFrames[1].line).toBe(addr2line(HELLO, firstL)[1]);

    const info = await dc.exceptionInfoRequest({ threadId: 1 });
    expect(info.body.exceptionId).toBe('vmexit.IO_INSTRUCTION');

    const sc = await scopes(st.body.stackFrames[0].id);
    expect([...sc.keys()]).toEqual(['Registers', 'VM exit', 'VMCS']);
    const regs = await variables(sc.get('Registers')!.variablesReference);
    expect(BigInt(regs.get('rax')!.value) & 0xffn).toBe(0x6cn);
    expect(Number(regs.get('rip')!.value)).toBe(firstL);
    const flags = await variables(regs.get('rflags')!.variablesReference);
    expect(flags.has('ZF') && flags.has('IF')).toBe(true);
    const exit = await variables(sc.get('VM exit')!.variablesReference);
    expect(exit.get('reason')!.value).toBe('IO_INSTRUCTION (30)');
    expect(exit.get('instruction length')!.value).toBe(String(ref.get(firstL)!.split(' ').length));
    const qual = await variables(exit.get('qualification')!.variablesReference);
    expect(Number(qual.get('port')!.value)).toBe(0xe9);
    const groups = await variables(sc.get('VMCS')!.variablesReference);
    const guestRegs = await variables(groups.get('Guest-state area: registers')!.variablesReference);
    expect(Number(guestRegs.get('GUEST_RIP')!.value)).toBe(firstL);
    const exec = await variables(groups.get('VM-execution control fields')!.variablesReference);
    const proc = await variables(exec.get('CPU_BASED_VM_EXEC_CONTROL')!.variablesReference);
    expect(proc.size).toBeGreaterThan(10); // decoded into named bits

    // Change AL before the hypervisor handles the OUT: the guest prints 'X' instead of 'l'.
    const set = await dc.setVariableRequest({ variablesReference: sc.get('Registers')!.variablesReference, name: 'rax', value: '0x58' });
    expect(BigInt(set.body.value)).toBe(0x58n);

    // Disassembly around RIP agrees with objdump; the third instruction is the one at RIP.
    const dis = await dc.disassembleRequest({ memoryReference: `0x${firstL.toString(16)}`, instructionOffset: -2, instructionCount: 5 });
    const at = addrs.indexOf(firstL);
    expect(dis.body!.instructions.map((i) => Number(i.address))).toEqual(addrs.slice(at - 2, at + 3));
    expect(dis.body!.instructions.map((i) => i.instructionBytes)).toEqual(addrs.slice(at - 2, at + 3).map((a) => ref.get(a)));
    expect(dis.body!.instructions[2].instruction).toMatch(/^out/);

    // Memory at RIP is the image's bytes (hello.bin is the same code flat at 0x100000).
    const bin = readFileSync(HELLO.replace(/\.elf$/, '.bin'));
    const mem = await dc.customRequest('readMemory', { memoryReference: `0x${firstL.toString(16)}`, count: 16 }) as DebugProtocol.ReadMemoryResponse;
    expect([...b64(mem.body!.data!)]).toEqual([...bin.subarray(firstL - 0x100000, firstL - 0x100000 + 16)]);
    // Patch the next `mov al, 'l'` immediate to 'Y'.
    const memEvent = dc.waitForEvent('memory');
    const w = await dc.customRequest('writeMemory', { memoryReference: `0x${(firstL + 3).toString(16)}`, data: Buffer.from('Y').toString('base64') }) as DebugProtocol.WriteMemoryResponse;
    expect(w.body?.bytesWritten).toBe(1);
    await memEvent;

    const ev = await dc.evaluateRequest({ expression: 'rax', context: 'watch' });
    expect(ev.body.result).toBe('0x58');
    const byte = await dc.evaluateRequest({ expression: 'byte [rip]', context: 'hover' });
    expect(Number(byte.body.result)).toBe(bin[firstL - 0x100000]);
    const vmcs = await dc.evaluateRequest({ expression: 'vmcs GUEST_RIP', context: 'repl' });
    expect(vmcs.body.result).toContain(firstL.toString(16));

    // Clear the filter and run to the end.
    await dc.setExceptionBreakpointsRequest({ filters: [] });
    const exited = dc.waitForEvent('exited') as Promise<DebugProtocol.ExitedEvent>;
    const terminated = dc.waitForEvent('terminated');
    await dc.continueRequest({ threadId: 1 });
    expect((await exited).body.exitCode).toBe(0);
    await terminated;
    expect(out.stdout).toBe('HeXYo, world!\n');
    expect(out.console).toMatch(/guest halted/);
    // The adapter still answers after the run ended.
    const threads = await dc.threadsRequest();
    expect(threads.body.threads).toEqual([{ id: 1, name: 'vCPU 0' }]);
  });

  it('steps by instruction and by line (DWARF lines from hello.asm)', async () => {
    await client();
    const ref = objdumpBytes(HELLO);
    const addrs = [...ref.keys()].sort((a, b) => a - b);
    await start({ program: HELLO, stopOnEntry: true });
    let stop = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.stepInRequest({ threadId: 1, granularity: 'instruction' });
    expect((await stop).body.reason).toBe('step');
    expect(await rip()).toBe(addrs[1]);
    // By line: from the line of addrs[1] to the next line's first address.
    const lineNow = addr2line(HELLO, addrs[1])[1];
    const nextAddr = addrs.find((a) => addr2line(HELLO, a)[1] !== lineNow && a > addrs[1])!;
    stop = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.nextRequest({ threadId: 1 });
    expect((await stop).body.reason).toBe('step');
    expect(await rip()).toBe(nextAddr);
    const st = await dc.stackTraceRequest({ threadId: 1 });
    expect(st.body.stackFrames[0].line).toBe(addr2line(HELLO, nextAddr)[1]);
    // A source breakpoint on a later line of hello.asm.
    const target = addrs[8];
    const [file, line] = addr2line(HELLO, target);
    const bp = await dc.setBreakpointsRequest({ source: { path: HELLO.replace(/hello\.elf$/, file) }, breakpoints: [{ line }] });
    expect(bp.body.breakpoints[0]).toMatchObject({ verified: true, line });
    stop = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.continueRequest({ threadId: 1 });
    const s = await stop;
    expect(s.body.reason).toBe('breakpoint');
    expect(s.body.hitBreakpointIds).toEqual([bp.body.breakpoints[0].id]);
    expect(await rip()).toBe(target);
    expect(out.stdout).toBe('Hell');
  });
});

describe('DAP over stdio: a nasm guest', () => {
  it('edits RAX after a CPUID exit, breaks on a function, unwinds RBP, steps out, pauses a tight loop, watches memory', async () => {
    await client();
    const syms = nmSymbols(probe);
    // The reference: the same guest run without a debugger prints AL of its CPUID result first.
    const plain = runImage(new Uint8Array(readFileSync(probe)), { program: probe, maxInstructions: 1000 });
    const first = await start({ program: probe, exitStage: 'after', disassemblySyntax: 'gas' }, [{ filterId: 'vmexit.CPUID' }]);
    expect(first.body.description).toBe('VM exit: CPUID (10)');
    const sc = await scopes((await dc.stackTraceRequest({ threadId: 1 })).body.stackFrames[0].id);
    const regs = await variables(sc.get('Registers')!.variablesReference);
    // Stopped after the handler: RAX holds the emulated result and RIP is past CPUID.
    expect(Number(BigInt(regs.get('rax')!.value) & 0xffn)).toBe(plain.output.charCodeAt(0));
    expect(Number(regs.get('rip')!.value)).toBe(syms.get('_start')! + 7);
    await dc.setVariableRequest({ variablesReference: sc.get('Registers')!.variablesReference, name: 'rax', value: "0x51" });
    await dc.setExceptionBreakpointsRequest({ filters: [] });

    const fb = await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'compute' }] });
    expect(fb.body.breakpoints[0].verified).toBe(true);
    let stop = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.continueRequest({ threadId: 1 });
    expect((await stop).body.reason).toBe('breakpoint');
    expect(await rip()).toBe(syms.get('compute'));
    expect(out.stdout).toBe('QA');
    // gas syntax from the launch configuration.
    const dis = await dc.disassembleRequest({ memoryReference: `0x${syms.get('compute')!.toString(16)}`, instructionCount: 2 });
    expect(dis.body!.instructions.map((i) => i.instruction)).toEqual(['push %rbp', 'mov %rsp,%rbp']);
    for (let k = 0; k < 2; k++) {
      stop = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
      await dc.stepInRequest({ threadId: 1, granularity: 'instruction' });
      await stop;
    }
    const st = await dc.stackTraceRequest({ threadId: 1 });
    const ret = syms.get('_start')! + 0x12; // after the 5-byte CALL at _start+0xd (objdump)
    expect(objdumpBytes(probe).get(ret - 5)?.startsWith('e8')).toBe(true);
    expect(st.body.stackFrames.map((f) => Number(f.instructionPointerReference))).toEqual([syms.get('compute')! + 4, ret]);
    expect(st.body.stackFrames[1].name).toBe('_start+0x12');
    await dc.setFunctionBreakpointsRequest({ breakpoints: [] });
    stop = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.stepOutRequest({ threadId: 1 });
    expect((await stop).body.reason).toBe('step');
    expect(await rip()).toBe(ret);

    // A tight loop of 8e9 instructions: pause answers quickly.
    await dc.continueRequest({ threadId: 1 });
    await new Promise((r) => setTimeout(r, 300));
    const paused = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    const t0 = performance.now();
    await dc.pauseRequest({ threadId: 1 });
    const p = await paused;
    const ms = performance.now() - t0;
    expect(p.body.reason).toBe('pause');
    expect(ms).toBeLessThan(100);
    const pc = await rip();
    expect(pc === syms.get('spin') || pc === syms.get('spin')! + 3).toBe(true);

    // Watch `counter` (a symbol through evaluate), shorten the loop, and catch the write.
    const info = await dc.dataBreakpointInfoRequest({ name: 'counter' });
    expect(info.body.dataId).toBe(`0x${syms.get('counter')!.toString(16)}/8`);
    const db = await dc.setDataBreakpointsRequest({ breakpoints: [{ dataId: info.body.dataId!, accessType: 'write' }] });
    expect(db.body.breakpoints[0].verified).toBe(true);
    const regs2 = (await scopes((await dc.stackTraceRequest({ threadId: 1 })).body.stackFrames[0].id)).get('Registers')!;
    await dc.setVariableRequest({ variablesReference: regs2.variablesReference, name: 'rcx', value: '1' });
    stop = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.continueRequest({ threadId: 1 });
    const d = await stop;
    expect(d.body.reason).toBe('data breakpoint');
    const v = await dc.evaluateRequest({ expression: 'qword [counter]', context: 'watch' });
    expect(v.body.result).toBe('0x7');

    const exited = dc.waitForEvent('exited') as Promise<DebugProtocol.ExitedEvent>;
    await dc.setDataBreakpointsRequest({ breakpoints: [] });
    await dc.continueRequest({ threadId: 1 });
    expect((await exited).body.exitCode).toBe(0);
    expect(out.stdout).toBe('QAB\nZ');
  });
});
