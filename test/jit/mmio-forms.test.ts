// MMIO through the translator's new soft-path forms under the hypervisor (8- and 16-bit MOV loads and stores, MOVSX, MOV imm8/imm16, MOV AL/AX moffs; the forms the hypervisor's MMIO emulator handles): each access an EPT-violation exit performed without unwinding, with the interpreter's exits, registers and state.
import { describe, expect, it } from 'vitest';
import { EXIT_REASON as R } from '../../emulator/vmx/exit-reasons.js';
import { stateHash } from '../../emulator/history/state-hash.js';
import { countSoftPath, guest, type Mode } from '../vmx-exits/harness.js';

/** MMIO accesses per iteration of `body`. */
const PER_ITERATION = 11;

/**
 * A hot loop on the local APIC (version at 0xFEE00030, TPR at 0xFEE00080) and the first virtio-mmio window
 * (MagicValue "virt" at 0xD0000000), in the forms the translator gained in this round, and the same forms on RAM.
 */
function body(n: number, long: boolean): string {
  const b = long ? 'r8' : 'ebx', v = long ? 'r9' : 'edi', q = long ? 'qword ' : '';
  return `
main:
  mov esi, ${n}
  mov ${b}, 0xfee00000
  mov ${v}, 0xd0000000
.l:
  mov cl, [${v} + 1]            ; 8A: 'i'
  mov dx, [${v} + 2]            ; 66 8B: "rt"
  movsx eax, byte [${v} + 3]    ; 0F BE
  movsx ebp, word [${b} + 0x30] ; 0F BF (LAPIC version, low word)
  add ebp, eax
  mov [${b} + 0x80], cl         ; 88: TPR, a byte
  mov [${b} + 0x80], dx         ; 66 89
  mov byte [${b} + 0x80], 0x10  ; C6
  mov word [${b} + 0x80], 0x20  ; 66 C7
  mov al, [${q}0xd0000000]      ; A0
  mov [${q}0xfee00080], ax      ; 66 A3
  mov ax, [${b} + 0x80]         ; TPR back
  mov [scratch + esi], al       ; RAM
  add [scratch + 2 * esi], ax   ; RAM, read-modify-write
  dec esi
  jnz .l
  EXIT 0x01
align 4096                      ; data off the code page
scratch: times 1024 db 0
`;
}

describe('MMIO from the translator\'s 8/16-bit and MOVSX forms', () => {
  for (const mode of ['protected', 'paged32', 'long'] as Mode[]) {
    it(`${mode}: the interpreter's exits, registers and state`, () => {
      const n = 200;
      const runs = [true, false].map((jit) => {
        const g = guest(`mmio-forms-${mode}`, mode, body(n, mode === 'long'));
        g.m.cpu.jit = jit;
        const soft = countSoftPath(g.m.cpu);
        const r = g.run();
        return { r, g, soft: soft.n, hash: stateHash(g.m).all };
      });
      const [on, off] = runs;
      expect(on.r.status).toBe('debug-exit');
      expect(on.g.of(R.EPT_VIOLATION)).toHaveLength(PER_ITERATION * n);
      // Translated, (nearly) every MMIO access took the soft path; the interpreter never does.
      expect(on.soft).toBeGreaterThan((PER_ITERATION - 1) * n);
      expect(off.soft).toBe(0);
      const strip = (e: object) => JSON.stringify(e, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v));
      expect(strip(on.g.exits)).toBe(strip(off.g.exits));
      expect(strip(on.r)).toBe(strip(off.r));
      expect(on.hash).toBe(off.hash);
    });
  }
});
