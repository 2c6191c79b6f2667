// PUSHA/POPA and CLI inside translated blocks (they no longer end one): lockstep against the interpreter, with budget cuts and a stack fault in the middle of PUSHA.
import { describe, expect, it } from 'vitest';
import { CODE, lockstep, nasm } from './harness.js';
import { setDumpSource } from '../../emulator/cpu/jit/jit.js';

const SS = 2;

describe('PUSHA/POPA/CLI in the middle of 32-bit blocks', () => {
  it('a hot loop through PUSHAD/POPAD, PUSHAW/POPAW and CLI matches the interpreter at every budget cut', () => {
    const code = nasm('pusha', `
      mov ecx, 150
      mov ebx, 0x12345678
    loop:
      pushad
      add eax, ecx
      cli
      xor edx, eax
      popad                     ; restores eax, edx: the sums below see the old ones
      add ebx, ecx
      o16 pusha
      mov word [esp + 2], cx    ; the saved SI (pushed: AX CX DX BX SP BP SI DI)
      o16 popa
      add edi, esi
      dec ecx
      jnz loop
      hlt
    `, CODE, 32);
    const sources: string[] = [];
    setDumpSource((src) => sources.push(src));
    try {
      for (const slice of [1, 3, 7, 29, 1000]) {
        const { a } = lockstep(code, { mode: 'protected', slice });
        expect(a.cpu.halted).toBe(true);
        if (slice >= 7) expect(a.cpu.jitUnit.compiled).toBeGreaterThan(0);
      }
    } finally { setDumpSource(null); }
    // The loop's block calls PUSHAD's handler (its first instruction) and goes on: the call is not the block's end.
    expect(sources.some((s) => /H\[0\]\(c, I\[0\]\);\s*if \(c\.stopRequested/.test(s) && s.includes('H[4](c, I[4]);'))).toBe(true);
  });

  it("PUSHAD that crosses an expand-down SS limit in a hot block raises #SS with the interpreter's partial state (SDM vol. 2B PUSHA)", () => {
    // SS expand-down, limit 0x7fff: offsets 0x8000.. are valid. ESP drops 4 per iteration from 0x8400.
    const code = nasm('pushafault', `
    loop:
      pushad
      add esp, 28
      inc eax
      jmp loop
    `, CODE, 32);
    const { a, traps } = lockstep(code, {
      mode: 'protected', trap: true, slice: 31,
      setup: (x) => {
        x.cpu.setSegCache(SS, 0x10, 0, 0x7fff, (x.cpu.segAr[SS] & ~0xf) | 0x7);
        x.cpu.lo[4] = 0x8400;
      },
    });
    expect(traps).toEqual([12]);
    expect(a.cpu.jitUnit.compiled).toBeGreaterThan(0);
    expect(a.cpu.lo[0]).toBeGreaterThan(200);
  });
});
