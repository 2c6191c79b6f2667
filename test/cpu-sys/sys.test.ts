// System instructions run as nasm guests: CPUID model, MSRs, control registers, descriptor tables, far transfers, SYSCALL/IRETQ rings.
import { describe, expect, it } from 'vitest';
import { run, hasNasm, excVector, errorCode64, reg64, LONG_RINGS, SEL, RSP0 } from './harness.js';
import { cpuidModel, CPUID_LEAVES, CPUID_MAX_BASIC, CPUID_MAX_EXTENDED, LEAF1_EDX, LEAF1_ECX, EXT1_EDX, EXT1_ECX, LEAF7_EBX, LEAF7_ECX } from '../../emulator/cpu/cpuid.js';
import { MSR_TABLE } from '../../emulator/cpu/msr.js';
import { CR4_OSXSAVE, EFER_LMA } from '../../emulator/cpu/regs.js';

const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSI = 6, RDI = 7;
const GP = 13, UD = 6;

describe.skipIf(!hasNasm)('CPUID', () => {
  it('leaf 0 and the brand string spell the documented vendor and brand (SDM vol. 2A CPUID)', () => {
    const m = run('long', `
      xor eax, eax
      cpuid
      mov [0x2000], ebx
      mov [0x2004], edx
      mov [0x2008], ecx
      mov r8d, eax
      mov esi, 0x80000002
      mov edi, 0x2010
    .b: mov eax, esi
      cpuid
      mov [rdi], eax
      mov [rdi+4], ebx
      mov [rdi+8], ecx
      mov [rdi+12], edx
      add rdi, 16
      inc esi
      cmp esi, 0x80000005
      jne .b
      hlt`);
    const text = (a: number, n: number) => Buffer.from(m.mem.peek(a, n)).toString('latin1').replace(/\0+$/, '');
    expect(text(0x2000, 12)).toBe('GenuineIntel');
    expect(text(0x2010, 48)).toBe('vmscope virtual CPU');
    expect(m.cpu.lo[8]).toBe(0xd);
  });

  it('every leaf the guest reads equals the model, upper halves cleared; leaves above the maxima give the highest basic leaf', () => {
    const leaves = [...CPUID_LEAVES.keys(), 0xe, 0x40000000, 0x7fffffff, 0x80000009, 0xffffffff];
    for (const leaf of leaves) {
      for (const sub of [0, 1]) {
        const m = run('long', `mov rax, -1\nmov rbx, rax\nmov rdx, rax\nmov eax, ${leaf}\nmov rcx, ${sub}\ncpuid\nhlt`);
        const want = cpuidModel(m.cpu, leaf, sub);
        expect([RAX, RBX, RCX, RDX].map((r) => reg64(m.cpu, r)), `leaf ${leaf.toString(16)}.${sub}`).toEqual(want.map((v) => BigInt(v >>> 0)));
      }
    }
    const m = run('long', 'hlt');
    expect(cpuidModel(m.cpu, 0x40000000, 0)).toEqual(cpuidModel(m.cpu, CPUID_MAX_BASIC, 0));
    expect(cpuidModel(m.cpu, CPUID_MAX_EXTENDED + 1, 0)).toEqual(cpuidModel(m.cpu, CPUID_MAX_BASIC, 0));
    expect(cpuidModel(m.cpu, 0, 0)[0]).toBe(CPUID_MAX_BASIC);
    expect(cpuidModel(m.cpu, 0x80000000, 0)[0]).toBe(CPUID_MAX_EXTENDED);
  });

  it('CPUID.1:ECX.OSXSAVE mirrors CR4.OSXSAVE, hypervisor bit 31 is clear, FPU and MMX are not claimed', () => {
    const m = run('long', `
      mov eax, 1
      cpuid
      mov r8d, ecx
      mov rax, cr4
      or eax, ${CR4_OSXSAVE}
      mov cr4, rax
      mov eax, 1
      cpuid
      mov r9d, ecx
      mov r10d, edx
      hlt`);
    expect(m.cpu.lo[8] & (1 << 27)).toBe(0);
    expect(m.cpu.lo[9] & (1 << 27)).not.toBe(0);
    expect(m.cpu.lo[9] >>> 31).toBe(0);
    expect(m.cpu.lo[10] & 1).toBe(0);
    expect(m.cpu.lo[10] & (1 << 23)).toBe(0);
    // Address sizes (80000008H) and XSAVE sizes (0DH) as documented.
    expect(cpuidModel(m.cpu, 0x80000008, 0)[0]).toBe((48 << 8) | 39);
    expect(cpuidModel(m.cpu, 0xd, 0).slice(0, 3)).toEqual([3, 576, 576]);
  });
});

describe.skipIf(!hasNasm)('RDMSR / WRMSR', () => {
  /** Write `value` to msr then read it back; record whether each faulted. */
  function wrRd(msr: number, value: bigint): { vec: number; read: bigint } {
    const m = run('long', `
      mov ecx, ${msr}
      mov eax, ${Number(value & 0xffffffffn)}
      mov edx, ${Number(value >> 32n)}
      wrmsr
      xor eax, eax
      xor edx, edx
      rdmsr
      shl rdx, 32
      or rax, rdx
      hlt`);
    return { vec: excVector(m), read: reg64(m.cpu, RAX) };
  }
  const roundTrip: Array<[string, number, bigint]> = [
    ['IA32_SYSENTER_CS', 0x174, 0x10n], ['IA32_SYSENTER_ESP', 0x175, 0xffff800000001000n], ['IA32_SYSENTER_EIP', 0x176, 0x401000n],
    ['IA32_MISC_ENABLE', 0x1a0, 0x1801n], ['IA32_MTRR_DEF_TYPE', 0x2ff, 0xc06n], ['IA32_PAT', 0x277, 0x0007010600070106n],
    ['IA32_STAR', 0xc0000081, 0x0023001000000000n], ['IA32_LSTAR', 0xc0000082, 0xffffffff81000000n],
    ['IA32_CSTAR', 0xc0000083, 0x1234n], ['IA32_FMASK', 0xc0000084, 0x47700n], ['IA32_FS_BASE', 0xc0000100, 0x7fff12345000n],
    ['IA32_GS_BASE', 0xc0000101, 0xffff888000000000n], ['IA32_KERNEL_GS_BASE', 0xc0000102, 0x1000n], ['IA32_TSC_AUX', 0xc0000103, 7n],
    ['IA32_MTRR_PHYSBASE0', 0x200, 0x80000006n], ['IA32_MTRR_PHYSMASK7', 0x20f, 0x7f80000800n], ['IA32_MTRR_FIX64K_00000', 0x250, 0x0606060606060606n],
    ['IA32_MTRR_FIX4K_F8000', 0x26f, 0x0505050505050505n], ['IA32_APIC_BASE', 0x1b, 0xfee00900n],
    ['IA32_EFER', 0xc0000080, 0xd01n],
  ];
  for (const [name, msr, v] of roundTrip) {
    it(`${name} round-trips`, () => {
      expect(MSR_TABLE.get(msr)?.name).toBe(name);
      const r = wrRd(msr, v);
      expect(r.vec).toBe(-1);
      expect(r.read).toBe(v);
    });
  }
  const faults: Array<[string, number, bigint]> = [
    ['unknown MSR', 0x12345, 0n], ['IA32_MTRRCAP is read-only', 0xfe, 0x508n], ['IA32_FEATURE_CONTROL is locked', 0x3a, 5n],
    ['non-canonical IA32_LSTAR', 0xc0000082, 0x0000800000000000n], ['non-canonical IA32_FS_BASE', 0xc0000100, 0x8000000000000000n],
    ['PAT entry type 2', 0x277, 0x0007040600070402n], ['PAT entry type 8', 0x277, 0x0807040600070406n],
    ['EFER reserved bit 2', 0xc0000080, 0xd05n], ['EFER.LME cleared while paging', 0xc0000080, 0x801n],
    ['MTRR_DEF_TYPE reserved bit 9', 0x2ff, 0x206n], ['MTRR physbase type 2', 0x200, 0x2n], ['MTRR physmask bit 40', 0x201, 1n << 40n],
    ['FMASK high half', 0xc0000084, 1n << 32n], ['TSC_AUX high half', 0xc0000103, 1n << 32n], ['APIC_BASE x2APIC enable', 0x1b, 0xfee00d00n],
  ];
  for (const [what, msr, v] of faults) {
    it(`WRMSR #GP(0): ${what}`, () => {
      const r = wrRd(msr, v);
      expect(r.vec).toBe(GP);
    });
  }
  it('RDMSR of an unknown MSR is #GP(0), and RDMSR at CPL 3 is #GP(0)', () => {
    const m = run('long', 'mov ecx, 0x8b\nrdmsr\nhlt');
    expect(excVector(m)).toBe(GP);
    expect(errorCode64(m)).toBe(0);
  });
  it('MTRRCAP and FEATURE_CONTROL read their documented values; TSC write sets the offset', () => {
    const m = run('long', `
      mov ecx, 0xfe
      rdmsr
      mov r8d, eax
      mov ecx, 0x3a
      rdmsr
      mov r9d, eax
      mov ecx, 0x10
      xor eax, eax
      mov edx, 1
      wrmsr
      rdtsc
      mov r10d, eax
      mov r11d, edx
      hlt`);
    expect(m.cpu.lo[8]).toBe(0x508);
    expect(m.cpu.lo[9]).toBe(1);
    expect(m.cpu.lo[11]).toBe(1); // 2^32 + a few instructions
    expect(m.cpu.lo[10]).toBeGreaterThan(0);
    expect(m.cpu.lo[10]).toBeLessThan(10);
  });
});

describe.skipIf(!hasNasm)('MOV to/from control registers', () => {
  const cases: Array<[string, string, number]> = [
    ['CR0.PG without PE', 'mov eax, 0x80000010\nmov cr0, rax', GP],
    ['CR0.NW without CD', 'mov rax, cr0\nor eax, 1 << 29\nand eax, ~(1 << 30)\nmov cr0, rax', GP],
    ['CR0 bit 32', 'mov rax, cr0\nbts rax, 32\nmov cr0, rax', GP],
    ['clearing CR0.PG in 64-bit mode', 'mov rax, cr0\nbtr eax, 31\nmov cr0, rax', GP],
    ['clearing CR4.PAE in IA-32e mode', 'mov rax, cr4\nbtr eax, 5\nmov cr4, rax', GP],
    ['CR4 bit 12 (LA57, unsupported)', 'mov rax, cr4\nbts eax, 12\nmov cr4, rax', GP],
    ['CR4.PCIDE (unsupported)', 'mov rax, cr4\nbts eax, 17\nmov cr4, rax', GP],
    ['CR3 bit 39 (above MAXPHYADDR)', 'mov rax, cr3\nbts rax, 39\nmov cr3, rax', GP],
    ['CR8 bit 4', 'mov eax, 16\nmov cr8, rax', GP],
    ['MOV DR4 with CR4.DE', 'mov rax, cr4\nbts eax, 3\nmov cr4, rax\nmov rax, dr4', UD],
    ['MOV DR7 bits 63:32', 'mov rax, 1 << 32\nmov dr7, rax', GP],
    ['MOV DR with DR7.GD set', 'mov eax, 0x2400\nmov dr7, rax\nmov rax, dr0', 1],
  ];
  for (const [what, code, vec] of cases) {
    it(`${what} → ${vec === GP ? '#GP(0)' : vec === UD ? '#UD' : '#DB'}`, () => {
      const m = run('long', `${code}\nmov r15d, 1\nhlt`);
      expect(excVector(m)).toBe(vec);
      expect(m.cpu.lo[15]).toBe(0);
      if (vec === GP) expect(errorCode64(m)).toBe(0);
    });
  }
  it('allowed writes take effect: CR8 = TPR, CR0.TS via CLTS, DR4/DR5 alias DR6/DR7, DR6 fixed bits', () => {
    const m = run('long', `
      mov eax, 9
      mov cr8, rax
      mov rbx, cr8
      mov rax, cr0
      or eax, 8
      mov cr0, rax
      clts
      mov rcx, cr0
      mov eax, 0x0f
      mov dr6, rax
      mov rdx, dr4
      mov eax, 0x401
      mov dr5, rax
      mov rsi, dr7
      hlt`);
    expect(m.cpu.lo[RBX]).toBe(9);
    expect(m.cpu.lo[RCX] & 8).toBe(0);
    expect(m.cpu.lo[RDX]).toBe(0xffff0fff);
    expect(m.cpu.lo[RSI]).toBe(0x401);
  });
  it('protected mode: enabling paging with EFER.LME needs CR4.PAE, then sets EFER.LMA; far JMP enters 64-bit code', () => {
    // The guest builds its own 4-level tables at 0x20000 (identity, 2 MiB pages) and switches to long mode.
    const m = run('protected', `
      mov edi, 0x20000
      xor eax, eax
      mov ecx, 3 * 1024
      rep stosd
      mov dword [0x20000], 0x21003
      mov dword [0x21000], 0x22003
      mov dword [0x22000], 0x83
      mov dword [0x22008], 0x200083
      mov eax, 0x20000
      mov cr3, eax
      mov ecx, 0xc0000080
      rdmsr
      or eax, 1 << 8
      wrmsr
      ; CR0.PG with LME and no PAE → #GP: caught by checking a flag set after
      mov eax, cr4
      or eax, 1 << 5
      mov cr4, eax
      mov eax, cr0
      or eax, 1 << 31
      mov cr0, eax
      mov ecx, 0xc0000080
      rdmsr
      mov esi, eax
      jmp 0x18:long64
    [bits 64]
    long64:
      mov rdi, 0x123456789
      mov r8, cr0
      hlt`);
    expect(excVector(m)).toBe(-1);
    expect(m.cpu.lo[RSI] & EFER_LMA).not.toBe(0);
    expect(m.cpu.codeSize).toBe(64);
    expect(reg64(m.cpu, RDI)).toBe(0x123456789n);
  });
  it('protected mode: CR0.PG with EFER.LME and CR4.PAE clear is #GP(0)', () => {
    const m = run('protected', `
      mov eax, cr0
      and eax, 0x7fffffff
      mov cr0, eax
      mov ecx, 0xc0000080
      rdmsr
      or eax, 1 << 8
      wrmsr
      mov eax, cr0
      or eax, 1 << 31
      mov cr0, eax
      hlt`);
    expect(excVector(m)).toBe(GP);
  });
});

describe.skipIf(!hasNasm)('descriptor tables', () => {
  it('LGDT/SGDT and LIDT/SIDT round trip in real mode (16-bit operand: 24-bit base)', () => {
    const m = run('real', `
      o32 lgdt [src]
      sgdt [dst]
      lgdt [src]
      sgdt [dst2]
      o32 lidt [src]
      sidt [dst3]
      hlt
      times 0x40 - ($ - $$) db 0
    src: dw 0x1234
         dd 0xaabbccdd
    dst: times 6 db 0
    dst2: times 6 db 0
    dst3: times 6 db 0`);
    // Real-mode guests run at 1000:0000, so DS-relative labels are at 0x10000 + offset.
    const dst = (k: number) => [...m.mem.peek(0x10040 + k, 6)];
    expect(dst(6)).toEqual([0x34, 0x12, 0xdd, 0xcc, 0xbb, 0xaa]);
    expect(dst(12)).toEqual([0x34, 0x12, 0xdd, 0xcc, 0xbb, 0x00]);
    expect(dst(18)).toEqual([0x34, 0x12, 0xdd, 0xcc, 0xbb, 0xaa]);
    expect(m.cpu.idtrBase).toBe(0xaabbccdd);
  });
  it('LGDT/SGDT round trip in protected mode and with paging', () => {
    for (const mode of ['protected', 'paged32'] as const) {
      const m = run(mode, `
        sgdt [0x3000]
        lgdt [0x3000]
        sidt [0x3010]
        mov dword [0x3020], 0x12340fff
        mov word [0x3024], 0x5678
        lidt [0x3020]
        sidt [0x3030]
        lidt [0x3010]
        hlt`);
      expect([...m.mem.peek(0x3000, 6)]).toEqual([0x2f, 0, 0, 0x80, 0, 0]);
      expect([...m.mem.peek(0x3030, 6)]).toEqual([0xff, 0x0f, 0x34, 0x12, 0x78, 0x56]);
      expect(m.cpu.idtrBase).toBe(0x6e000);
    }
  });
  it('LGDT/SGDT round trip in 64-bit mode (8-byte base)', () => {
    const m = run('long', `
      sgdt [0x3000]
      mov word [0x3010], 0x7ff
      mov rax, 0xffff800000123000
      mov [0x3012], rax
      lgdt [0x3010]
      sgdt [0x3020]
      lgdt [0x3000]
      hlt`);
    expect([...m.mem.peek(0x3020, 10)]).toEqual([0xff, 0x07, 0x00, 0x30, 0x12, 0x00, 0x00, 0x80, 0xff, 0xff]);
    expect([...m.mem.peek(0x3000, 10)]).toEqual([0x2f, 0, 0, 0x80, 0, 0, 0, 0, 0, 0]);
  });
  it('LTR marks the 64-bit TSS busy; STR/SLDT/LAR/LSL/VERR/VERW report what the GDT says', () => {
    const m = run('long', `start:
      ${LONG_RINGS}
      str r8
      sldt r9
      mov ax, 0x30
      lsl r10d, ax
      lar r11d, ax
      mov ax, 0x28 | 3
      lar r12d, ax
      verr ax
      setz bl
      verw ax
      setz bh
      mov ax, 0x20 | 3
      verw ax
      setz cl
      mov ax, 0x100
      lsl r13d, ax
      setz ch
      hlt`);
    expect(excVector(m)).toBe(-1);
    expect(m.cpu.lo[8]).toBe(0x30);
    expect(m.cpu.lo[9]).toBe(0);
    expect(m.cpu.lo[10]).toBe(0x67);
    expect(m.cpu.lo[11]).toBe(0x8b00); // busy 64-bit TSS, P, DPL 0
    expect(m.cpu.lo[12]).toBe(0x00affb00);
    expect(m.cpu.lo[RBX] & 0xffff).toBe(0x0001); // VERR code: yes (readable), VERW code: no
    expect(m.cpu.lo[RCX] & 0xffff).toBe(0x0001); // VERW user data: yes; LSL beyond GDT limit: ZF=0
    expect(m.mem.read32(0x60000 + 0x30 + 4) & 0xf00).toBe(0xb00);
    expect(m.cpu.trAr & 0xf).toBe(0xb);
  });
  it('LTR of a busy TSS is #GP(selector); LLDT of a non-LDT is #GP(selector)', () => {
    const m = run('long', `start:
      ${LONG_RINGS}
      mov ax, 0x30
      ltr ax
      hlt`);
    expect(excVector(m)).toBe(GP);
    expect(errorCode64(m)).toBe(0x30);
    const m2 = run('long', 'mov ax, 0x10\nlldt ax\nhlt');
    expect(excVector(m2)).toBe(GP);
    expect(errorCode64(m2)).toBe(0x10);
  });
  it('SMSW/LMSW: LMSW sets TS and cannot clear PE', () => {
    const m = run('protected', `
      smsw eax
      mov bx, 0x8
      lmsw bx
      smsw ecx
      mov edx, cr0
      hlt`);
    expect(m.cpu.lo[RAX] & 0xffff).toBe(0x31);
    expect(m.cpu.lo[RCX] & 0xf).toBe(0x9);
    expect(m.cpu.lo[RDX] & 1).toBe(1);
  });
});

describe.skipIf(!hasNasm)('far transfers', () => {
  it('far JMP from 64-bit mode to a 16-bit code segment and back (compatibility mode), far CALL/RETF', () => {
    const m = run('long', `start:
      ${LONG_RINGS}
      jmp far [rel p16]
    p16: dq c16 - 0x100000
         dw ${SEL.CODE16}
    [bits 16]
    c16:
      mov bx, 0x1616
      o32 jmp far [cs:p64 - 0x100000]
    p64: dd c64
         dw ${SEL.KCODE64}
    [bits 64]
    c64:
      mov r8d, 64
      call dword far [rel p32]
      mov r10d, 0x99
      hlt
    p32: dd c32
         dw ${SEL.CODE32}
    [bits 32]
    c32:
      mov r9d_placeholder equ 0
      mov ecx, 0x3232
      retf
    `.replace('mov r9d_placeholder equ 0\n', ''));
    expect(excVector(m)).toBe(-1);
    expect(m.cpu.lo[RBX] & 0xffff).toBe(0x1616);
    expect(m.cpu.lo[8]).toBe(64);
    expect(m.cpu.lo[RCX]).toBe(0x3232);
    expect(m.cpu.lo[10]).toBe(0x99);
    expect(m.cpu.codeSize).toBe(64);
  });
  it('far JMP to a data segment or a DPL-3 code segment is #GP(selector); to a not-present one #NP(selector)', () => {
    for (const [sel, vec] of [[0x10, GP], [0x28 | 3, GP]] as const) {
      const m = run('long', `start:
        ${LONG_RINGS}
        jmp far [rel p]
      p: dq 0
         dw ${sel}`);
      expect(excVector(m)).toBe(vec);
      expect(errorCode64(m)).toBe(sel & 0xfffc);
    }
    const m = run('long', `start:
      ${LONG_RINGS}
      and byte [0x60000 + 0x48 + 5], 0x7f
      jmp far [rel p]
    p: dq 0
       dw 0x48`);
    expect(excVector(m)).toBe(11);
    expect(errorCode64(m)).toBe(0x48);
  });
  it('far CALL/RETF and IRET in real mode', () => {
    const m = run('real', `
      call 0x1000:sub
      mov cx, 0x77
      pushf
      push cs
      push back
      mov dx, 0x11
      iret
      hlt
    back:
      mov si, sp
      hlt
    sub:
      mov bx, sp
      retf`);
    expect(m.cpu.lo[RBX] & 0xffff).toBe(0xfffe - 4);
    expect(m.cpu.lo[RCX] & 0xffff).toBe(0x77);
    expect(m.cpu.lo[RSI] & 0xffff).toBe(0xfffe);
    expect(m.cpu.sel[1]).toBe(0x1000);
  });
  it('a call gate is reported unimplemented with its bytes', () => {
    const m = run('long', `start:
      ${LONG_RINGS}
      mov dword [0x60000 + 0x50], 0
      mov dword [0x60000 + 0x54], 0x8c00
      mov word [0x60100], 0x57
      lgdt [0x60100]
      call far [rel p]
    p: dq 0
       dw 0x50`);
    expect(excVector(m)).toBe(UD);
    expect(m.cpu.unimplemented.at(-1)?.reason).toBe('call gates');
    expect(m.cpu.unimplemented.at(-1)?.bytes.slice(0, 3)).toEqual([0x48, 0xff, 0x1d]);
  });
});

describe.skipIf(!hasNasm)('privilege transitions', () => {
  it('IRETQ to ring 3, INT back to ring 0 through the IDT and the TSS RSP0; SYSCALL/SYSRET round trip', () => {
    const m = run('long', `start:
      ${LONG_RINGS}
      ; IDT vector 0x80: DPL-3 interrupt gate to ring0_int
      lea rax, [rel ring0_int]
      mov word [0x6e000 + 0x80*16], ax
      mov word [0x6e000 + 0x80*16 + 2], 0x08
      mov word [0x6e000 + 0x80*16 + 4], 0xee00
      shr rax, 16
      mov word [0x6e000 + 0x80*16 + 6], ax
      mov dword [0x6e000 + 0x80*16 + 8], 0
      mov word [0x6e002 - 2 + 0], 0     ; (keep vector 0 intact)
      lidt [idtr]
      ; SYSCALL MSRs: STAR[47:32]=0x08 kernel, STAR[63:48]=0x18 user base; LSTAR; FMASK clears IF|TF|DF
      mov ecx, 0xc0000081
      xor eax, eax
      mov edx, 0x00180008
      wrmsr
      mov ecx, 0xc0000082
      lea rax, [rel ring0_syscall]
      mov rdx, rax
      shr rdx, 32
      wrmsr
      mov ecx, 0xc0000084
      mov eax, 0x700
      xor edx, edx
      wrmsr
      ; IRETQ frame: SS, RSP, RFLAGS, CS, RIP
      push 0x20 | 3
      push 0x90000
      push 0x202
      push 0x28 | 3
      lea rax, [rel ring3]
      push rax
      iretq
    idtr: dw 0x80*16 + 15
          dq 0x6e000
    ring3:
      mov r12w, cs
      mov r13w, ss
      mov r14, rsp
      int 0x80
    after_int:
      syscall
    after_syscall:
      mov [rel done - 0x100000 + 0x100000], eax
      mov ebp, 0x3333
      ; still ring 3: a privileged instruction faults (#GP) and lands in the recording stub
      hlt
    ring0_int:
      mov r8w, cs
      mov r9, rsp
      mov r10, [rsp]        ; return RIP
      mov rax, [rsp + 8]    ; return CS
      mov [0x5000], rax
      iretq
    ring0_syscall:
      mov rsi, rcx
      mov rdi, r11
      mov bx, cs
      mov dx, ss
      pushfq
      pop rax
      mov r15, rax
      o64 sysret
    done: dd 0
    `);
    const c = m.cpu;
    expect(c.lo[12] & 0xffff).toBe(0x2b);
    expect(c.lo[13] & 0xffff).toBe(0x23);
    expect(c.lo[14]).toBe(0x90000);
    expect(c.lo[8] & 0xffff).toBe(0x08);
    expect(c.lo[9]).toBe(RSP0 - 5 * 8);
    expect(m.mem.read32(0x5000)).toBe(0x2b);
    expect(c.lo[RBX] & 0xffff).toBe(0x08);
    expect(c.lo[RDX] & 0xffff).toBe(0x10);
    expect(c.lo[RDI] & 0x200).toBe(0x200); // R11 = user RFLAGS with IF
    expect(c.lo[15] & 0x200).toBe(0); // FMASK cleared IF in the kernel
    expect(c.lo[RSI]).toBe(c.lo[10] + 2); // RCX = address after SYSCALL (2 bytes after INT 0x80's return)
    expect(c.lo[5]).toBe(0x3333);
    expect(excVector(m)).toBe(GP); // HLT at CPL 3
    expect(m.mem.read32(c.lo[4] + 16)).toBe(0x2b); // ... faulted in ring 3 (frame CS)
    expect(c.sel[1]).toBe(0x08);
  });
});
