// Self-modifying code: a write to an instruction already decoded (same page, or through another mapping) is seen on its next execution.
import { describe, expect, it } from 'vitest';
import { SnippetRunner } from '../../emulator/testing/snippet.js';
import { nasmSnippet as nasm } from './snippet-nasm.js';

const zero = () => Array.from({ length: 16 }, () => 0n);

describe('self-modifying code', () => {
  const runner = new SnippetRunner();

  it('sees a patched immediate on the second pass through a loop', () => {
    const code = nasm('smc-imm', `
      mov ecx, 2
      xor edx, edx
    again:
    patch:
      mov al, 1
      movzx eax, al
      add edx, eax
      mov byte [rel patch + 1], 5
      dec ecx
      jnz again
    `);
    const r = runner.run(code, { gpr: zero(), rflags: 0n });
    expect(r.fault).toBeNull();
    expect(r.gpr[2]).toBe(6n); // 1 + 5: a stale decoded instruction would give 2
  });

  it('sees code written with REP STOSB over an already executed instruction', () => {
    const code = nasm('smc-stos', `
      xor edx, edx
      mov ecx, 2
    again:
    body:
      inc edx            ; 2 bytes (FF C2), replaced by two NOPs on the first pass
      lea rdi, [rel body]
      push rcx
      mov ecx, 2
      mov al, 0x90
      rep stosb
      pop rcx
      dec ecx
      jnz again
    `);
    const r = runner.run(code, { gpr: zero(), rflags: 0n });
    expect(r.fault).toBeNull();
    expect(r.gpr[2]).toBe(1n);
  });
});
