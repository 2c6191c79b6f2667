// Where blocks may start (leaders) besides branch targets: after an instruction that crossed into the next page and after one the translator did not look at (a TLB flush or mode update left no current page). Before, the straight-line code after either ran interpreted until the next branch.
import { describe, expect, it } from 'vitest';
import { bareMode, CODE, fingerprint, nasm } from './harness.js';

/**
 * A loop that jumps to a tail at the end of the second code page: an ADD, a NOP, then a 4-byte MOVZX crossing into the
 * third page at 0x102000, 40 straight-line ALU instructions there and the loop branch. `bits` 64 (long mode) or 32
 * (protected mode). The padding between is never executed.
 */
function program(bits: 32 | 64): Uint8Array {
  const r = bits === 64 ? 'r' : 'e';
  const straight = Array.from({ length: 40 }, (_, k) => (k % 3 === 0 ? `add ${r}ax, ${k + 1}` : k % 3 === 1 ? `xor ${r}dx, ${r}ax` : `lea ${r}bx, [${r}bx + ${r}dx + 3]`)).join('\n');
  return nasm(`page-cross-${bits}`, `
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
${straight}
  dec ecx
  jnz top
  hlt
  align 16
data: dw 0x1234, 0x5678
`, CODE, bits);
}

describe('translated code after a page-crossing instruction', () => {
  for (const [bits, mode] of [[64, 'long'], [32, 'protected']] as const) {
    it(`${mode}: the straight-line code after the crossing MOVZX runs in a translated block, with the interpreter's results`, () => {
      const code = program(bits);
      const a = bareMode(code, true, mode, 8 << 20), b = bareMode(code, false, mode, 8 << 20);
      // The instruction after the crossing one (at 0x102002) gets a block, and runs there nearly every iteration.
      const after = CODE + 0x2002;
      let fetchedAfter = 0;
      const fetch = a.cpu.fetch.bind(a.cpu);
      a.cpu.fetch = () => { if (a.cpu.rip === after) fetchedAfter++; return fetch(); };
      for (let k = 0; k < 400; k++) {
        const slice = 50 + ((k * 37) % 300);
        const sa = a.cpu.run(slice), sb = b.cpu.run(slice);
        expect(sa, `slice ${k}`).toBe(sb);
        expect(fingerprint(a.cpu, a.mem), `slice ${k}`).toEqual(fingerprint(b.cpu, b.mem));
        if (sa !== 'budget') break;
      }
      expect(a.cpu.halted).toBe(true);
      expect(a.cpu.lo[1]).toBe(0); // ECX counted down: all 3000 iterations ran
      // Interpreted only until the block was hot (a few dozen times), not on each of the 3000 iterations.
      expect(fetchedAfter).toBeLessThan(100);
      expect(a.cpu.jitUnit.page(Math.floor(after / 4096)).blocks[after & 0xfff]).toBeDefined();
    });
  }
});

describe('translated code after a TLB flush', () => {
  it('long mode: the straight-line code after MOV CR3 (which flushes the TLB) runs in a translated block, with the interpreter\'s results', () => {
    const straight = Array.from({ length: 40 }, (_, k) => (k % 2 === 0 ? `add rax, ${k + 1}` : 'xor rdx, rax')).join('\n');
    const code = nasm('after-flush', `
  mov ecx, 300
top:
  mov rbx, cr3
  mov cr3, rbx            ; flushes the TLB: no code page is current afterwards
first:
${straight}
  dec ecx
  jnz top
  hlt
`);
    const a = bareMode(code, true, 'long', 8 << 20), b = bareMode(code, false, 'long', 8 << 20);
    // The second instruction after MOV CR3 (the first is fetched by the interpreter, which makes its page current).
    const second = CODE + 5 + 3 + 3 + 4; // mov ecx (5), mov rbx,cr3 (3), mov cr3,rbx (3), add rax,1 (4)
    let fetchedSecond = 0;
    const fetch = a.cpu.fetch.bind(a.cpu);
    a.cpu.fetch = () => { if (a.cpu.rip === second) fetchedSecond++; return fetch(); };
    for (let k = 0; k < 400; k++) {
      const slice = 50 + ((k * 37) % 300);
      const sa = a.cpu.run(slice), sb = b.cpu.run(slice);
      expect(sa, `slice ${k}`).toBe(sb);
      expect(fingerprint(a.cpu, a.mem), `slice ${k}`).toEqual(fingerprint(b.cpu, b.mem));
      if (sa !== 'budget') break;
    }
    expect(a.cpu.halted).toBe(true);
    expect(a.cpu.lo[1]).toBe(0);
    expect(fetchedSecond).toBeLessThan(100);
  });
});

describe('translated code after a mode update', () => {
  it('long mode: the instruction right after MOV CR0 (same value: a mode update, no TLB flush) is dispatched to its block', () => {
    const straight = Array.from({ length: 20 }, (_, k) => (k % 2 === 0 ? `add rax, ${k + 1}` : 'xor rdx, rax')).join('\n');
    const code = nasm('after-mode-update', `
  mov ecx, 300
top:
  mov rbx, cr0
  mov cr0, rbx            ; the processor re-derives its mode: no fetch page is current, the TLB stays
first:
${straight}
  dec ecx
  jnz top
  hlt
`);
    const a = bareMode(code, true, 'long', 8 << 20), b = bareMode(code, false, 'long', 8 << 20);
    const first = CODE + 5 + 3 + 3;
    let fetchedFirst = 0;
    const fetch = a.cpu.fetch.bind(a.cpu);
    a.cpu.fetch = () => { if (a.cpu.rip === first) fetchedFirst++; return fetch(); };
    for (let k = 0; k < 400; k++) {
      const slice = 50 + ((k * 37) % 300);
      const sa = a.cpu.run(slice), sb = b.cpu.run(slice);
      expect(sa, `slice ${k}`).toBe(sb);
      expect(fingerprint(a.cpu, a.mem), `slice ${k}`).toEqual(fingerprint(b.cpu, b.mem));
      if (sa !== 'budget') break;
    }
    expect(a.cpu.halted).toBe(true);
    expect(fetchedFirst).toBeLessThan(100);
  });
});
