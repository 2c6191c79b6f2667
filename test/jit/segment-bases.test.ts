// The translator's 32-bit memory fast path against segment bases at or above 2^31 (addresses wrap mod 2^32), large offsets, and read-only data segments; each run against the interpreter in lockstep.
import { describe, expect, it } from 'vitest';
import { DS } from '../../emulator/cpu/insn.js';
import { AR_UNUSABLE } from '../../emulator/cpu/regs.js';
import { CODE, lockstep, nasm } from './harness.js';

const SS = 2, ES = 0;

describe('32-bit segment bases and limits in translated code', () => {
  it('a DS base of 0xFFF00000 and an SS base of 0x80000000 wrap linear addresses mod 2^32 (SDM vol. 3A §3.4), with ESP above 2^31', () => {
    // DS offsets 0x300000.. are linear 0x200000..; ESP 0x80280000 with SS base 0x80000000 is linear 0x280000.
    const code = nasm('wrap', `
      mov ecx, 200
    loop:
      mov eax, [ecx*4 + 0x300000]
      add eax, [es:ecx*4 + 0x200000]
      mov [ecx*4 + 0x301000], eax
      movzx edx, word [ecx*4 + 0x300002]
      push eax
      push edx
      pop ebx
      pop esi
      add [ecx*4 + 0x301000], ebx
      dec ecx
      jnz loop
      hlt
    `, CODE, 32);
    const { a } = lockstep(code, {
      mode: 'protected', slice: 37,
      setup: (x) => {
        for (let k = 0; k < 0x1000; k += 4) x.mem.write32(0x200000 + k, (k * 0x9e3779b1) >>> 0);
        x.cpu.setSegCache(DS, 0x10, 0xfff00000, 0xffffffff, x.cpu.segAr[DS]);
        x.cpu.setSegCache(SS, 0x10, 0x80000000, 0xffffffff, x.cpu.segAr[SS]);
        x.cpu.lo[4] = 0x80280000;
      },
    });
    expect(a.cpu.halted).toBe(true);
    expect(a.cpu.jitUnit.compiled).toBeGreaterThan(0);
    expect(a.cpu.lo[4]).toBe(0x80280000);
    // The interpreter is the reference for the values; here only that the stores landed at the wrapped addresses.
    expect(a.mem.read32(0x201000 + 4)).not.toBe(0);
  });

  it('DS made read-only (type 0001) while its block is hot: loads stay on the fast path, the next store raises #GP(0) there (SDM vol. 3A §5.5)', () => {
    const code = nasm('rodata', `
      xor ecx, ecx
    loop:
      mov eax, [ecx*4 + 0x1000]
      add ebx, eax
      mov [ecx*4 + 0x2000], ebx   ; #GP once DS is read-only
      inc ecx
      cmp ecx, 1000
      jb loop
      hlt
    `, CODE, 32);
    const { a, traps } = lockstep(code, {
      mode: 'protected', trap: true, slice: 43,
      setup: (x) => { for (let k = 0; k < 0x1000; k += 4) x.mem.write32(0x1000 + k, k + 7); },
      between: (x, k) => { if (k === 6) x.cpu.setSegCache(DS, 0x10, 0, 0xfffff, (x.cpu.segAr[DS] & ~0xf) | 0x1); },
    });
    expect(traps).toEqual([13]);
    expect(a.cpu.lo[1]).toBeGreaterThan(40);
    expect(a.cpu.lo[1]).toBeLessThan(1000);
    expect(a.cpu.jitUnit.compiled).toBeGreaterThan(0);
  });

  it('an expand-down DS (type 0101, limit 0xfff) never takes the fast path: the first offset at or below the limit raises #GP(0) with its page in the TLB (SDM vol. 3A §5.3)', () => {
    const code = nasm('expdown', `
      mov ecx, 0x200
    loop:
      add eax, [ecx*4 + 0xc00]    ; offsets 0x1400, 0x13fc, ...: valid while above 0xfff
      add ebx, [es:0x200ff0]      ; keeps the page below DS offset 0x1000 in the TLB
      dec ecx
      jnz loop
      hlt
    `, CODE, 32);
    const { a, traps } = lockstep(code, {
      mode: 'protected', trap: true, slice: 37,
      setup: (x) => {
        for (let k = 0; k < 0x2000; k += 4) x.mem.write32(0x200000 + k, k * 5 + 1);
        x.cpu.setSegCache(DS, 0x10, 0x200000, 0xfff, (x.cpu.segAr[DS] & ~0xf) | 0x3 | 0x4);
      },
    });
    expect(traps).toEqual([13]);
    expect(a.cpu.lo[1]).toBe(0xff);
    expect(a.cpu.jitUnit.compiled).toBeGreaterThan(0);
  });

  it('DS made unusable (a null selector) while its block is hot: the next DS access raises #GP(0) there (SDM vol. 3A §5.4.1)', () => {
    const code = nasm('unusable', `
      xor ecx, ecx
    loop:
      add eax, [ecx*4 + 0x1000]
      inc ecx
      cmp ecx, 1000
      jb loop
      hlt
    `, CODE, 32);
    const { a, traps } = lockstep(code, {
      mode: 'protected', trap: true, slice: 29,
      setup: (x) => { for (let k = 0; k < 0x1000; k += 4) x.mem.write32(0x1000 + k, k); },
      between: (x, k) => { if (k === 5) x.cpu.setSegCache(DS, 0, 0, 0xffffffff, x.cpu.segAr[DS] | AR_UNUSABLE); },
    });
    expect(traps).toEqual([13]);
    expect(a.cpu.lo[1]).toBeGreaterThan(20);
    expect(a.cpu.jitUnit.compiled).toBeGreaterThan(0);
  });
});
