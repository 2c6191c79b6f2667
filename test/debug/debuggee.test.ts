// The debuggee: VM-exit filters with conditions (before and after the handler), breakpoints, stepping, data breakpoints, pause, memory.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Machine, parseLaunchConfig } from '../../emulator/index.js';
import { MachineDebuggee } from '../../emulator/debug/debuggee.js';

const ROOT = join(__dirname, '..', '..');
const hello = () => new Machine(new Uint8Array(readFileSync(join(ROOT, 'samples', 'hello', 'hello.elf'))), parseLaunchConfig({ program: 'hello.elf' }));
const memcpy = () => new Machine(new Uint8Array(readFileSync(join(ROOT, 'bench', 'guests', 'memcpy.bin'))), parseLaunchConfig({ program: 'memcpy', format: 'flat', cpuMode: 'long', maxInstructions: 2_000_000 }));

describe('MachineDebuggee', () => {
  it('stops at the first OUT of an "l" with a conditional VM-exit filter, before the handler, then after it', () => {
    const d = new MachineDebuggee(hello());
    const [f] = d.setExitFilters([{ filter: 'vmexit.IO_INSTRUCTION', condition: 'port == 0xe9 && value == 0x6c' }], 'before');
    expect(f.verified).toBe(true);
    const s = d.resume(1_000_000)!;
    expect(s.reason).toBe('exception');
    expect(s.description).toBe('VM exit: IO_INSTRUCTION (30)');
    expect(s.exit!.stage).toBe('before');
    expect(s.exit!.fields.port).toBe(0xe9);
    expect(s.text).toBe('out 0xe9, 1 byte');
    // Before the handler: "He" printed, the 'l' not yet.
    expect(d.machine.output()).toBe('He');
    expect(d.registers().gpr.rax & 0xffn).toBe(0x6cn);
    // After-stage stops show the handler's effect.
    d.setExitFilters([{ filter: 'vmexit.IO_INSTRUCTION' }], 'after');
    const t = d.resume(1_000_000)!;
    expect(t.exit!.stage).toBe('after');
    expect(d.machine.output()).toBe('Hel');
  });

  it('changes what the guest sees at an exit (setRegister) and runs to the end', () => {
    const d = new MachineDebuggee(hello());
    d.setExitFilters([{ filter: 'vmexit.IO_INSTRUCTION' }], 'before');
    d.resume(1_000_000);
    d.setRegister('rax', 0x4an); // 'J' instead of 'H'
    d.setExitFilters([], 'before');
    const end = d.resume(10_000_000)!;
    expect(end.reason).toBe('exited');
    expect(end.result!.output).toBe('Jello, world!\n');
  });

  it('an instruction breakpoint with a hit condition stops on the third pass; stepInstruction advances one instruction', () => {
    const m = memcpy();
    const d = new MachineDebuggee(m);
    // memcpy.bin: the loop body starts with mov rax,[rsi] at 0x100018 (see bench/guests/memcpy.asm).
    const loop = 0x100018;
    const [bp] = d.setInstructionBreakpoints([{ address: loop, hitCondition: '== 3' }]);
    expect(bp.verified).toBe(true);
    const s = d.resume(1_000_000)!;
    expect(s.reason).toBe('breakpoint');
    expect(d.registers().rip).toBe(BigInt(loop));
    expect(d.registers().gpr.rsi).toBe(0x200010n); // third iteration
    const st = d.stepInstruction();
    expect(st.reason).toBe('step');
    expect(d.registers().rip).toBe(BigInt(loop + 3)); // mov rax,[rsi] is 3 bytes
  });

  it('a write data breakpoint stops after the instruction that wrote the watched bytes', () => {
    const d = new MachineDebuggee(memcpy());
    const [w] = d.setDataBreakpoints([{ address: 0x300020, size: 8, physical: false, access: 'write' }]);
    expect(w.verified).toBe(true);
    const s = d.resume(1_000_000)!;
    expect(s.reason).toBe('data breakpoint');
    expect(d.registers().gpr.rdi).toBe(0x300020n); // mov [rdi],rax just ran; add rdi,8 not yet
    const { data } = d.readMemory(0x300020, 8, false);
    expect(data.length).toBe(8);
  });

  it('pause stops a tight loop', () => {
    const d = new MachineDebuggee(memcpy());
    expect(d.resume(10_000)).toBeNull(); // still running after a slice
    d.requestPause();
    const s = d.resume(1_000_000)!;
    expect(s.reason).toBe('pause');
  });

  it('a bad condition is refused with a message', () => {
    const d = new MachineDebuggee(hello());
    const [f] = d.setExitFilters([{ filter: 'vmexit.IO_INSTRUCTION', condition: 'port == (' }], 'before');
    expect(f.verified).toBe(false);
    expect(f.message).toMatch(/condition/);
    const [g] = d.setExitFilters([{ filter: 'vmexit.NOPE' }], 'before');
    expect(g.verified).toBe(false);
  });
});

describe('MachineDebuggee at the after stage', () => {
  it('exit fields describe the exit (leaf as requested), not the emulated result', () => {
    const cpuid = new Uint8Array([0xb8, 0x00, 0x00, 0x00, 0x40, 0x0f, 0xa2, 0xfa, 0xf4]); // mov eax,0x40000000; cpuid; cli; hlt
    const m = new Machine(cpuid, parseLaunchConfig({ program: 'cpuid', format: 'flat', cpuMode: 'long' }));
    const d = new MachineDebuggee(m);
    d.setExitFilters([{ filter: 'vmexit.CPUID', condition: 'leaf == 0x40000000' }], 'after');
    const s = d.resume(1000)!;
    expect(s.reason).toBe('exception');
    expect(s.exit!.stage).toBe('after');
    expect(s.exit!.fields.leaf).toBe(0x40000000);
    // The handler already ran: EBX:ECX:EDX hold the signature "vmscope".
    expect(d.registers().gpr.rbx).toBe(BigInt(0x6373_6d76)); // "vmsc"
  });
});
