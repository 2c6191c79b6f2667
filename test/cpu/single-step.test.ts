// Single-step traps: RFLAGS.TF raises #DB after each instruction, and a #DB that cannot be delivered does not count the instruction twice.
import { describe, expect, it } from 'vitest';
import '../../emulator/cpu/index.js';
import { Cpu } from '../../emulator/cpu/cpu.js';
import { setupStartMode } from '../../emulator/cpu/setup.js';
import { PhysicalMemory } from '../../emulator/mem/physmem.js';
import { TF } from '../../emulator/cpu/regs.js';

const bus = { ioRead: () => 0xff, ioWrite: () => { /* none */ }, findMmio: () => null };

describe('single-step trap', () => {
  it('retires exactly the budget when the #DB after each instruction escalates to a triple fault', () => {
    const mem = new PhysicalMemory(4 << 20);
    const cpu = new Cpu(mem, bus);
    setupStartMode(cpu, 'long', 0x100000); // no IDT: #DB → #GP → #DF → triple fault
    mem.poke(0x100000, Uint8Array.of(0x90, 0x90, 0x90));
    cpu.setFlags(cpu.getFlags() | TF);
    cpu.run(1);
    expect(cpu.icount).toBe(1); // the NOP retired once; the failed trap delivery adds nothing
    expect(cpu.shutdownReason).toMatch(/triple fault/);
    expect(cpu.run(5)).toBe('shutdown');
    expect(cpu.icount).toBe(1);
  });

  it('delivers #DB through the IVT after each instruction in real mode, with RIP after the instruction', () => {
    const mem = new PhysicalMemory(1 << 20);
    const cpu = new Cpu(mem, bus);
    setupStartMode(cpu, 'real', 0x7c00);
    // IVT[1] → 0000:0x8000 where an IRET clears nothing: count handler entries in BX.
    mem.poke(4, Uint8Array.of(0x00, 0x80, 0x00, 0x00));
    mem.poke(0x8000, Uint8Array.of(0x43, 0xcf)); // inc bx; iret
    mem.poke(0x7c00, Uint8Array.of(0x90, 0x90, 0xf4)); // nop; nop; hlt
    cpu.setFlags(cpu.getFlags() | TF);
    cpu.run(10);
    // The handler runs with TF clear (delivery clears it) after each of the two NOPs.
    expect(cpu.lo[3] & 0xffff).toBe(2);
  });
});
