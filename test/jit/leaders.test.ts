// Where blocks may start (leaders) besides branch targets: after an instruction that crossed into the next page and after one the translator did not look at (a TLB flush or mode update left no current page). Before, the straight-line code after either ran interpreted until the next branch.
import { describe, expect, it } from 'vitest';
import type { StartMode } from '../../emulator/cpu/setup.js';
import { bareMode, CODE, fingerprint, nasm } from './harness.js';

/** `n` straight-line ALU instructions on 64- or 32-bit registers (`r` is 'r' or 'e'). */
function straight(n: number, r: 'r' | 'e'): string {
  return Array.from({ length: n }, (_, k) => (k % 3 === 0 ? `add ${r}ax, ${k + 1}` : k % 3 === 1 ? `xor ${r}dx, ${r}ax` : `lea ${r}bx, [${r}bx + ${r}dx + 3]`)).join('\n');
}

/**
 * Run `code` with the translator on and off in slices of varying length, comparing the stop reasons and the whole
 * state at every stop, to the end (HLT); returns how often the translator's processor fetched the instruction at
 * `watch` for the interpreter (once per iteration if no block ever ran it).
 */
function interpretedAt(code: Uint8Array, mode: StartMode, watch: number): number {
  const a = bareMode(code, true, mode, 8 << 20), b = bareMode(code, false, mode, 8 << 20);
  let fetched = 0;
  const fetch = a.cpu.fetch.bind(a.cpu);
  a.cpu.fetch = () => { if (a.cpu.rip === watch) fetched++; return fetch(); };
  for (let k = 0; k < 400; k++) {
    const slice = 50 + ((k * 37) % 300);
    const sa = a.cpu.run(slice), sb = b.cpu.run(slice);
    expect(sa, `slice ${k}`).toBe(sb);
    expect(fingerprint(a.cpu, a.mem), `slice ${k}`).toEqual(fingerprint(b.cpu, b.mem));
    if (sa !== 'budget') break;
  }
  expect(a.cpu.halted).toBe(true);
  expect(a.cpu.lo[1]).toBe(0); // ECX counted down: all 300 iterations ran
  expect(a.cpu.jitUnit.page(Math.floor(watch / 4096)).blocks[watch & 0xfff]).toBeDefined();
  return fetched;
}

describe('translated code after a page-crossing instruction', () => {
  for (const [bits, mode] of [[64, 'long'], [32, 'protected']] as const) {
    it(`${mode}: the straight-line code after the crossing MOVZX runs in a translated block, with the interpreter's results`, () => {
      const r = bits === 64 ? 'r' : 'e';
      // A loop that jumps to a tail at the end of the second code page: an ADD, a NOP, then a 4-byte MOVZX crossing
      // into the third page at 0x102000, straight-line code there and the loop branch. The padding is never executed.
      const code = nasm(`page-cross-${bits}`, `
  mov ecx, 300
  mov ${r}si, data
top:
  movzx eax, word [${r}si]
  jmp near tail
  times (0x1ffa - ($ - $$)) nop
tail:                           ; 0x101ffa
  add eax, 1                    ; 3 bytes
  nop                           ; 0x101ffd
  movzx edx, word [${r}si + 2]  ; 4 bytes from 0x101ffe: crosses into 0x102000
${straight(40, r)}
  dec ecx
  jnz top
  hlt
  align 16
data: dw 0x1234, 0x5678
`, CODE, bits);
      // The instruction after the crossing one (at 0x102002): interpreted until its block was hot, not 300 times.
      expect(interpretedAt(code, mode, CODE + 0x2002)).toBeLessThan(100);
    });
  }
});

describe('translated code after a TLB flush or a mode update', () => {
  it('long mode: the straight-line code after MOV CR3 (which flushes the TLB) runs in a translated block', () => {
    const code = nasm('after-flush', `
  mov ecx, 300
top:
  mov rbx, cr3
  mov cr3, rbx            ; flushes the TLB: no code page is current afterwards
${straight(40, 'r')}
  dec ecx
  jnz top
  hlt
`);
    // The second instruction after MOV CR3 (the first is fetched by the interpreter, which makes its page current).
    expect(interpretedAt(code, 'long', CODE + 5 + 3 + 3 + 4)).toBeLessThan(100); // mov ecx (5), mov rbx,cr3 (3), mov cr3,rbx (3), add rax,1 (4)
  });

  it('long mode: the instruction right after MOV CR0 (same value: a mode update, no TLB flush) is dispatched to its block', () => {
    const code = nasm('after-mode-update', `
  mov ecx, 300
top:
  mov rbx, cr0
  mov cr0, rbx            ; the processor re-derives its mode: no fetch page is current, the TLB stays
${straight(20, 'r')}
  dec ecx
  jnz top
  hlt
`);
    expect(interpretedAt(code, 'long', CODE + 5 + 3 + 3)).toBeLessThan(100);
  });
});
