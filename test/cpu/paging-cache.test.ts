// The processor's PDE and PDPTE caches (SDM vol. 3A §4.10.3): what INVLPG and MOV to CR3 invalidate, the upper entries' rights and accessed flags on walks that use them.
import { describe, expect, it } from 'vitest';
import { SnippetRunner } from '../../emulator/testing/snippet.js';
import { nasmSnippet as nasm } from './snippet-nasm.js';
import { LAYOUT } from '../../emulator/cpu/setup.js';

const zero = () => Array.from({ length: 16 }, () => 0n);
/** PD[1] maps linear 0x200000-0x3FFFFF; the snippets point it at one of two page tables. */
const PDE1 = LAYOUT.pd + 8;
const PT_A = 0x90000, PT_B = 0x91000;

/**
 * Page table A maps linear 0x200000 and 0x201000 to pages holding 0x11 and 0x22, page table B to pages holding 0x33
 * and 0x44. PD[1] points at A (flags `pdeFlags`), CR3 is reloaded, then `body` runs; RAX, RBX, RCX, RDX as it leaves them.
 */
function run(name: string, pdeFlags: number, body: string): { gpr: bigint[]; fault: number | null } {
  const code = nasm(name, `
    mov qword [${PT_A}], 0x100003
    mov qword [${PT_A + 8}], 0x101003
    mov qword [${PT_B}], 0x102003
    mov qword [${PT_B + 8}], 0x103003
    mov byte [0x100000], 0x11
    mov byte [0x101000], 0x22
    mov byte [0x102000], 0x33
    mov byte [0x103000], 0x44
    mov qword [${PDE1}], ${PT_A | pdeFlags}
    mov rax, cr3
    mov cr3, rax
    xor eax, eax
    ${body}
  `);
  const r = new SnippetRunner().run(code, { gpr: zero(), rflags: 0n });
  return { gpr: r.gpr, fault: r.fault };
}

describe('guest paging: the PDE cache', () => {
  it('INVLPG invalidates it: after the PDE changes, another page of the region is read through the new page table', () => {
    const r = run('pgc-invlpg', 3, `
      mov al, [0x200000]
      mov qword [${PDE1}], ${PT_B | 3}
      invlpg [0x200000]
      mov bl, [0x201000]
    `);
    expect(r.fault).toBeNull();
    expect(r.gpr[0]).toBe(0x11n);
    expect(r.gpr[3]).toBe(0x44n);
  });

  it('MOV to CR3 invalidates it', () => {
    const r = run('pgc-cr3', 3, `
      mov al, [0x200000]
      mov qword [${PDE1}], ${PT_B | 3}
      mov rcx, cr3
      mov cr3, rcx
      mov bl, [0x201000]
    `);
    expect(r.fault).toBeNull();
    expect(r.gpr[3]).toBe(0x44n);
  });

  it('without invalidation a walk may use the page table it cached, as the SDM allows (vol. 3A §4.10.4.3)', () => {
    // The first read caches PD[1]'s page table; the second page is not in the TLB, so its walk starts from the cache.
    const r = run('pgc-stale', 3, `
      mov al, [0x200000]
      mov qword [${PDE1}], ${PT_B | 3}
      mov bl, [0x201000]
    `);
    expect(r.fault).toBeNull();
    expect(r.gpr[3]).toBe(0x22n);
  });

  it('keeps the upper entries\' rights: a write under a read-only PDE faults after a read cached it', () => {
    const r = run('pgc-rw', 1, `
      mov al, [0x200000]
      mov bl, 1
      mov byte [0x201000], 0x55
      mov bl, 2
    `);
    expect(r.gpr[0]).toBe(0x11n);
    expect(r.fault).toBe(14);
    expect(r.gpr[3]).toBe(1n);
  });

  it('a walk from the cache sets the accessed flag of the PTE it reads, and dirty on a write', () => {
    const r = run('pgc-ad', 3, `
      and qword [${PT_A + 8}], ~0x60
      mov al, [0x200000]
      mov byte [0x201000], 0x66
      mov rbx, [${PT_A + 8}]
      mov rcx, [${PDE1}]
      mov dl, [0x101000]
    `);
    expect(r.fault).toBeNull();
    expect(r.gpr[3]).toBe(0x101063n);
    expect(r.gpr[1]).toBe(BigInt(PT_A | 3 | 0x20));
    expect(r.gpr[2]).toBe(0x66n);
  });
});

/** PDPT[1] maps linear 0x40000000-0x7FFFFFFF; the snippets point it at one of two page directories. */
const PDPTE1 = LAYOUT.pdpt + 8;
const PD_X = 0x92000, PD_Y = 0x93000;

/**
 * Page directory X maps linear 0x40000000 with a 2 MiB page at physical 0 (0x77 at 0x1000, 0x11 at 0x100000); page
 * directory Y maps it through page table B (0x33, then 0x44 at 0x40001000). PDPT[1] points at X, CR3 is reloaded,
 * then `body` runs.
 */
function runPdpt(name: string, pdpteFlags: number, body: string): { gpr: bigint[]; fault: number | null } {
  return run(name, 3, `
    mov qword [${PD_X}], 0x83
    mov qword [${PD_Y}], ${PT_B | 3}
    mov byte [0x1000], 0x77
    mov qword [${PDPTE1}], ${PD_X | pdpteFlags}
    mov rax, cr3
    mov cr3, rax
    mov rsi, 0x40000000
    xor eax, eax
    ${body}
  `);
}

describe('guest paging: the PDPTE cache', () => {
  it('INVLPG invalidates it: after the PDPTE changes, the region is walked through the new page directory', () => {
    const r = runPdpt('pgc-pdpt-invlpg', 3, `
      mov al, [rsi + 0x100000]
      mov qword [${PDPTE1}], ${PD_Y | 3}
      invlpg [rsi]
      mov bl, [rsi + 0x1000]
    `);
    expect(r.fault).toBeNull();
    expect(r.gpr[0]).toBe(0x11n);
    expect(r.gpr[3]).toBe(0x44n);
  });

  it('without invalidation a walk may start from the page directory it cached', () => {
    const r = runPdpt('pgc-pdpt-stale', 3, `
      mov al, [rsi + 0x100000]
      mov qword [${PDPTE1}], ${PD_Y | 3}
      mov bl, [rsi + 0x1000]
    `);
    expect(r.fault).toBeNull();
    expect(r.gpr[3]).toBe(0x77n);
  });

  it('keeps the PDPTE\'s rights: a write under a read-only PDPTE faults after a read cached it', () => {
    const r = runPdpt('pgc-pdpt-rw', 1, `
      mov al, [rsi + 0x100000]
      mov bl, 1
      mov byte [rsi + 0x1000], 0x55
      mov bl, 2
    `);
    expect(r.gpr[0]).toBe(0x11n);
    expect(r.fault).toBe(14);
    expect(r.gpr[3]).toBe(1n);
  });
});
