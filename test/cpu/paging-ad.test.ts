// Accessed and dirty flags of the guest's paging structures (SDM vol. 3A §4.8) through a recursive mapping, where one entry serves at two levels of a walk.
import { describe, expect, it } from 'vitest';
import { SnippetRunner } from '../../emulator/testing/snippet.js';
import { nasmSnippet as nasm } from './snippet-nasm.js';
import { LAYOUT } from '../../emulator/cpu/setup.js';

const zero = () => Array.from({ length: 16 }, () => 0n);
const PML4_511 = LAYOUT.pml4 + 511 * 8;

/**
 * PML4[511] points at the PML4 itself, with its accessed flag clear, and PDPT[0] has A and D clear. The linear address
 * 0xFFFFFFFFC0000000 then walks PML4[511] (at level 4 and again at level 3), PML4[0], and PDPT[0] as its page-table
 * entry, which maps the first page directory. `access` is what the snippet does there; RCX and RDX get PML4[511] and
 * PDPT[0] afterwards.
 */
function recursive(name: string, access: string): { rcx: bigint; rdx: bigint; fault: number | null } {
  const code = nasm(name, `
    mov rax, ${LAYOUT.pml4 | 3}
    mov [${PML4_511}], rax
    and qword [${LAYOUT.pdpt}], ~0x60
    mov rax, cr3
    mov cr3, rax
    mov rbx, 0xffffffffc0000000
    ${access}
    mov rcx, [${PML4_511}]
    mov rdx, [${LAYOUT.pdpt}]
    mov qword [${PML4_511}], 0
    mov rax, cr3
    mov cr3, rax
  `);
  const r = new SnippetRunner().run(code, { gpr: zero(), rflags: 0n });
  return { rcx: r.gpr[1], rdx: r.gpr[2], fault: r.fault };
}

describe('guest paging: accessed and dirty flags through a recursive mapping', () => {
  it('a read sets A on every entry used, once on the entry used twice, and no D', () => {
    const r = recursive('pg-ad-read', 'mov rax, [rbx]');
    expect(r.fault).toBeNull();
    expect(r.rcx).toBe(BigInt(LAYOUT.pml4 | 3 | 0x20));
    expect(r.rdx).toBe(BigInt(LAYOUT.pd | 3 | 0x20));
  });

  it('a write also sets D on the entry that maps the page, and only there', () => {
    const r = recursive('pg-ad-write', 'mov rax, [rbx]\n    mov [rbx], rax');
    expect(r.fault).toBeNull();
    expect(r.rcx).toBe(BigInt(LAYOUT.pml4 | 3 | 0x20));
    expect(r.rdx).toBe(BigInt(LAYOUT.pd | 3 | 0x60));
  });
});
