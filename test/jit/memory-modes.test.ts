// The translator's second round at its edges: the inline TLB fast path (faults, code pages, never-written pages), traces through CALL/RET, and 32-bit protected-mode code in every start mode with segment limits; each run against the interpreter in lockstep.
import { describe, expect, it } from 'vitest';
import { CS, DS } from '../../emulator/cpu/insn.js';
import { LAYOUT } from '../../emulator/cpu/setup.js';
import { CODE, lockstep, nasm } from './harness.js';

/** Run `code` with the translator on and off in slices, comparing stop reasons, whole state and port I/O after each. */
const runBoth = lockstep;

describe('inline TLB fast path (64-bit)', () => {
  it('a page fault on a memory operand in the middle of a hot block stops with the interpreter\'s state', () => {
    // 8 MiB of RAM; the 2-MiB page at 4 MiB is made not present: the copy loop runs hot over
    // [3 MiB, 4 MiB) and faults on its first load from 4 MiB.
    const code = nasm('tlb-pf', `
      mov esi, 0x300000
      mov edi, 0x280000
    loop:
      mov rax, [rsi]
      add rax, rsi
      mov [rdi], rax
      add rsi, 8
      add rdi, 8
      cmp rdi, 0x3a0000
      jne loop
      hlt
    `);
    const { a, traps } = runBoth(code, {
      memBytes: 8 << 20, slice: 40009, trap: true,
      setup: (x) => { x.mem.write32(LAYOUT.pd + 2 * 8, 0); for (let p = 0x300000; p < 0x400000; p += 0x1000) x.mem.write32(p, p); },
    });
    expect(traps).toEqual([14]);
    expect(a.cpu.pfLinear).toBe(0x400000);
    expect(a.cpu.rip).toBe(CODE + 10); // the load
    expect(a.cpu.jitUnit.compiled).toBeGreaterThan(0);
  });

  it('stores to a page holding translated code take the slow path and invalidate it (hot store loop, then the code runs)', () => {
    // A hot loop writes "mov eax, n; ret" into a page, calls it, rewrites it and calls it again.
    const code = nasm('tlb-code', `
      mov ecx, 300
      xor ebx, ebx
    loop:
      mov byte [rel target], 0xb8        ; mov eax, imm32
      mov dword [rel target + 1], ecx
      mov byte [rel target + 5], 0xc3    ; ret
      mov rdx, [rel target]
      call target
      add ebx, eax
      dec ecx
      jnz loop
      hlt
      align 4096
    target:
      times 16 db 0x90
    `);
    const { a } = runBoth(code, { slice: 257 });
    expect(a.cpu.halted).toBe(true);
    expect(a.cpu.lo[3]).toBe((300 * 301) / 2);
    expect(a.cpu.jitUnit.compiled).toBeGreaterThan(0);
  });

  it('a store into the same page as the running block ends it before the next instruction, through the fast path\'s fallback', () => {
    const code = nasm('tlb-self', `
      mov ecx, 200
      xor ebx, ebx
    loop:
      mov [rel imm + 1], ecx
    imm:
      mov eax, 0
      add rbx, rax
      dec ecx
      jnz loop
      hlt
    `);
    const { a } = runBoth(code, { slice: 33 });
    expect(a.cpu.lo[3]).toBe((200 * 201) / 2);
  });

  it('never-written RAM reads as zeros, and as the new bytes once written (by the guest in the same block, or from outside between runs)', () => {
    const code = nasm('zero', `
      mov ecx, 400
      xor ebx, ebx
    loop:
      mov eax, [0x280000]         ; a page nobody wrote: reads 0
      add ebx, eax
      mov eax, [0x290000 + rcx*8] ; never written before this instruction
      mov [0x290004 + rcx*8], ecx ; first write allocates the page
      add eax, [0x290004 + rcx*8] ; must see ecx, not the zero page
      add ebx, eax
      dec ecx
      jnz loop
      hlt
    `);
    const { a } = runBoth(code, {
      slice: 500,
      // A device writing RAM between slices (DMA): the loop must see it from the next instruction on.
      between: (x, k) => { if (k === 3) x.mem.write32(0x280000, 7); },
    });
    expect(a.cpu.halted).toBe(true);
    expect(a.cpu.lo[3]).toBeGreaterThan((400 * 401) / 2);
    expect(a.mem.residentBytes).toBeLessThan(1 << 20);
  });

  it('RIP-relative and FS-based operands, 32-bit addresses, loads with zero extension and ALU forms with memory', () => {
    const code = nasm('forms', `
      mov ecx, 300
      mov r8, -8
    loop:
      mov eax, [rel table + 4]
      add eax, [rel table]
      sub eax, [table2 + rcx*4 - 4]
      xor edx, [table2 + rcx*4 - 4]
      cmp dword [rel table], 5
      adc r9d, 0
      movzx esi, byte [rel table + 1]
      movzx edi, word [rel table + 2]
      mov [rel table + 8], eax
      mov qword [rel table + 16], -3
      cmp [rel table + 16], r8
      setl r10b
      test [rel table + 4], ecx
      jz .s
      add r11d, 1
    .s:
      mov r12d, [fs:0]
      mov r13d, [dword 0x201000 + r8d*2]
      dec ecx
      jnz loop
      hlt
      align 16
    table: dd 7, 0x12345678, 0, 0, 0, 0
    table2: times 300 dd 0x9e3779b9
    `);
    runBoth(code, {
      slice: 77,
      setup: (x) => { x.cpu.segBase[4] = 0x201000; x.mem.write32(0x201000, 0xabcdef); },
    });
  });
});

describe('traces through CALL and RET (64-bit)', () => {
  it('a leaf called from a hot loop, a return address changed by the callee, and recursion', () => {
    const code = nasm('calls', `
      mov ecx, 500
    loop:
      mov edi, ecx
      call leaf
      add eax, edx
      test ecx, 7
      jnz .n
      call skip         ; returns one instruction later than pushed
      inc r8d           ; skipped
    .n:
      mov edi, 5
      call fact
      add r9, rax
      dec ecx
      jnz loop
      hlt
    leaf:
      push rbp
      mov rbp, rsp
      lea edx, [rdi + rdi*2]
      pop rbp
      ret
    skip:
      add qword [rsp], 3
      ret
    fact:
      mov eax, 1
      cmp edi, 1
      jbe .r
      push rdi
      dec edi
      call fact
      pop rdi
      imul eax, edi
    .r:
      ret
    `);
    const { a } = runBoth(code, { slice: 313 });
    expect(a.cpu.halted).toBe(true);
    expect(a.cpu.lo[8]).toBe(0);
    expect(a.cpu.lo[9]).toBe(500 * 120);
  });

  it('a RET whose stack page is not present faults inside the trace with the interpreter\'s state', () => {
    const code = nasm('ret-pf', `
      mov ecx, 100
    loop:
      call f
      dec ecx
      jnz loop
      hlt
    f:
      cmp ecx, 40
      jne .r
      mov rsp, 0x400008   ; the return address is now at 0x400008: not present
    .r:
      ret
    `);
    const { a, traps } = runBoth(code, { memBytes: 8 << 20, trap: true, slice: 71, setup: (x) => x.mem.write32(LAYOUT.pd + 2 * 8, 0) });
    expect(traps).toEqual([14]);
    expect(a.cpu.lo[1]).toBe(40);
  });
});

/** The same loop for 32-bit code: memory operands, stack, calls, a counter in memory; ends with OUT and HLT. */
const LOOP32 = `
  mov ecx, 600
  mov esi, 0x200000
  xor ebx, ebx
loop:
  mov eax, [esi + ecx*4]
  add eax, ecx
  mov [esi + ecx*4 + 4], eax
  push eax
  call f
  pop edx
  add ebx, edx
  inc dword [0x300000]
  lea edi, [ebx + ecx*2 + 3]
  rol edi, 5
  xor ebx, edi
  dec ecx
  jnz loop
  mov eax, [0x300000]
  out 0x80, al
  hlt
f:
  mov eax, [esp + 4]
  shr eax, 1
  ret
`;

describe('32-bit protected-mode code', () => {
  for (const mode of ['protected', 'paged32'] as const) {
    it(`translates and matches the interpreter in the ${mode} start mode`, () => {
      const { a } = runBoth(nasm(`loop32-${mode}`, LOOP32, CODE, 32), { mode, slice: 97 });
      expect(a.cpu.codeSize).toBe(32);
      expect(a.cpu.halted).toBe(true);
      expect(a.io).toEqual([['out', 0x80, 600 & 0xff]]);
      expect(a.cpu.jitUnit.compiled).toBeGreaterThan(0);
    });
  }

  it('threaded form (no new Function): 32-bit blocks and traces through CALL/RET match too', () => {
    const { a } = runBoth(nasm('loop32-threaded', LOOP32, CODE, 32), { mode: 'protected', slice: 89, threaded: true });
    expect(a.cpu.halted).toBe(true);
    expect(a.cpu.jitUnit.compiled).toBeGreaterThan(0);
  });

  it('real mode is not translated and gives the same results', () => {
    const code = nasm('loop16', `
      mov cx, 500
    l: add ax, cx
      rol ax, 3
      dec cx
      jnz l
      hlt
    `, 0x1000, 16);
    const { a } = runBoth(code, { mode: 'real', at: 0x1000, slice: 61 });
    expect(a.cpu.halted).toBe(true);
    expect(a.cpu.jitUnit.compiled).toBe(0);
  });

  it('a DS limit fault inside a hot 32-bit block stops at the faulting instruction', () => {
    const code = nasm('dslimit', `
      xor ecx, ecx
    loop:
      mov eax, [ecx + 0x1000]
      add ebx, eax
      mov [ecx + 0x1f00], ebx   ; crosses the limit first: faults at ecx = 0x100
      add ecx, 4
      jmp loop
    `, CODE, 32);
    const { a, traps } = runBoth(code, {
      mode: 'protected', trap: true, slice: 53,
      setup: (x) => { x.cpu.setSegCache(DS, 0x10, 0, 0x1fff, x.cpu.segAr[DS]); },
    });
    expect(traps).toEqual([13]);
    expect(a.cpu.lo[1]).toBe(0x100);
    expect(a.cpu.jitUnit.compiled).toBeGreaterThan(0);
  });

  it('a non-zero DS base and an expand-down stack segment go through the segment checks as the interpreter', () => {
    const code = nasm('segs', `
      mov ecx, 300
    loop:
      mov eax, [ecx*4]            ; DS: base 2 MiB
      add eax, [es:ecx*4]         ; ES: base 0, the same offsets
      mov [ecx*4 + 0x1000], eax
      mov [es:ecx*4 + 0x1000], ecx
      push eax
      pop edx
      dec ecx
      jnz loop
      hlt
    `, CODE, 32);
    runBoth(code, {
      mode: 'protected', slice: 41,
      setup: (x) => {
        for (let k = 0; k < 0x500; k += 4) { x.mem.write32(0x200000 + k, k * 3 + 1); x.mem.write32(k, k ^ 0x5555); }
        x.cpu.setSegCache(DS, 0x10, 0x200000, 0xffff, x.cpu.segAr[DS]);
        // SS: expand-down (type 0111), limit 0x7fff: valid offsets 0x8000..0xFFFFFFFF.
        x.cpu.setSegCache(2, 0x10, 0, 0x7fff, (x.cpu.segAr[2] & ~0xf) | 0x7);
      },
    });
  });

  it('a CS limit inside a block: the block is not entered and the fetch faults where the interpreter\'s does', () => {
    const code = nasm('cslimit', `
      mov ecx, 100
    loop:
      add eax, ecx
      dec ecx
      jnz loop
      mov ecx, 100
      jmp loop      ; the second time round, CS.limit has been lowered below this block's end
    `, CODE, 32);
    const { a, traps } = runBoth(code, {
      mode: 'protected', trap: true, slice: 150,
      between: (x, k) => { if (k === 1) x.cpu.setSegCache(CS, 0x08, 0, CODE + 8, x.cpu.segAr[CS]); },
    });
    expect(traps).toEqual([13]);
    expect(a.cpu.rip).toBeLessThanOrEqual(CODE + 12);
  });

  it('a branch target beyond CS.limit faults at the branch', () => {
    const code = nasm('cstarget', `
      mov ecx, 100
    loop:
      add eax, ecx
      dec ecx
      jnz loop
      jmp far_away
      times 64 nop
    far_away:
      hlt
    `, CODE, 32);
    const { a, traps } = runBoth(code, { mode: 'protected', trap: true, slice: 29, setup: (x) => x.cpu.setSegCache(CS, 0x08, 0, CODE + 32, x.cpu.segAr[CS]) });
    expect(traps).toEqual([13]);
    expect(a.cpu.rip).toBe(CODE + 10); // the JMP
  });
});

describe('LEA with a non-canonical address and a 32-bit destination', () => {
  it('keeps the low 32 bits of the address sum (SDM vol. 2A LEA), translated or not', () => {
    const code = nasm('lea-nc', `
      mov rbx, 0x8000000012345678
      mov ecx, 100
    loop:
      lea eax, [rbx + rcx*2 + 16]
      add edx, eax
      dec ecx
      jnz loop
      hlt
    `);
    const { a } = runBoth(code, { slice: 37 });
    let sum = 0;
    for (let c = 100; c >= 1; c--) sum = (sum + ((0x12345678 + c * 2 + 16) >>> 0)) >>> 0;
    expect(a.cpu.lo[2]).toBe(sum);
  });
});
