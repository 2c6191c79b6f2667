// MMIO loads and stores in translated code (the JIT's Cpu.softRead/softWrite path: EPT violations as exits without unwinding) against the interpreter: the same exits, registers and state.
import { describe, expect, it } from 'vitest';
import { EXIT_REASON as R } from '../../emulator/vmx/exit-reasons.js';
import { stateHash } from '../../emulator/history/state-hash.js';
import { countSoftPath, guest, type Mode } from './harness.js';

/**
 * A hot loop of the MOV forms the translator inlines, on the local APIC (TPR at 0xFEE00080, version at
 * 0xFEE00030) and the first virtio-mmio window (MagicValue at 0xD0000000): 32-bit load and store, a store of an
 * immediate, MOVZX byte and word loads, MOV eAX to and from an absolute address (moffs); plus loads and stores
 * of RAM on a new page each iteration (the TLB-miss path on RAM).
 */
function body(n: number, long: boolean): string {
  const b = long ? 'r8' : 'ebx', v = long ? 'r9' : 'edi', m = long ? 'r10' : 'esp', q = long ? 'qword ' : '';
  return `
main:
  mov esi, ${n}
  mov ${b}, 0xfee00000
  mov ${v}, 0xd0000000
  mov ${m}, 0x300000            ; RAM, a new page each iteration (TLB misses: the slow path on RAM)
.l:
  mov [${m} + 8], esi           ; store 32, RAM
  mov dword [${m} + 12], 0x5a5a ; store imm32, RAM
  movzx eax, word [${m} + 8]    ; MOVZX word, RAM
  add ${m}, 4096
  mov eax, [${b} + 0x30]        ; load 32 (LAPIC version)
  mov ecx, esi
  and ecx, 0xf0
  mov [${b} + 0x80], ecx        ; store 32 (TPR)
  mov dword [${b} + 0x80], 0x20 ; store imm32 (TPR)
  movzx ecx, byte [${v}]        ; MOVZX byte ('v' of "virt")
  movzx edx, word [${v} + 2]    ; MOVZX word ("rt")
  add [scratch], eax            ; RAM
  mov ebp, [${b} + 0x80]        ; load 32 (TPR back)
  mov eax, [${q}0xfee00030]      ; MOV eAX, moffs (A1)
  mov [${q}0xfee00080], eax      ; MOV moffs, eAX (A3)
  dec esi
  jnz .l
  EXIT 0x01
align 4096                      ; data off the code page (a write there would drop its translations)
scratch: dd 0
`;
}

describe('MMIO in translated code', () => {
  for (const mode of ['protected', 'paged32', 'long'] as Mode[]) {
    it(`${mode}: EPT violations from translated MOVs give the interpreter's exits, registers and state`, () => {
      const n = 300;
      const runs = [true, false].map((jit) => {
        const g = guest(`mmio-jit-${mode}`, mode, body(n, mode === 'long'));
        // The RAM the loop wrote, read back after the run.
        const ram = () => Array.from({ length: n }, (_, k) => Array.from(g.m.guest.peek(0x300000 + k * 4096 + 8, 8)).join(',')).join(';');
        g.m.cpu.jit = jit;
        const soft = countSoftPath(g.m.cpu);
        const r = g.run();
        return { r, g, soft: soft.n, hash: stateHash(g.m).all, ram: ram() };
      });
      const [on, off] = runs;
      expect(on.r.status).toBe('debug-exit');
      expect(on.g.of(R.EPT_VIOLATION)).toHaveLength(8 * n);
      // The translated loop took the soft path for (nearly) every MMIO access; the interpreter never does.
      expect(on.soft).toBeGreaterThan(7 * n);
      expect(off.soft).toBe(0);
      const strip = (e: object) => JSON.stringify(e, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v));
      expect(strip(on.g.exits)).toBe(strip(off.g.exits));
      expect(strip(on.r)).toBe(strip(off.r));
      expect(on.ram).toBe(off.ram);
      expect(on.ram).toContain('90,90,0,0');
      expect(on.hash).toBe(off.hash);
    });
  }
});
