// The translator at the edges: faults inside a block, self-modifying code, TF single-step, breakpoints in a hot loop, the run budget; each checked against the interpreter and against the expected guest-visible result.
import { describe, expect, it } from 'vitest';
import { TF } from '../../emulator/cpu/regs.js';
import { bareLongMode, CODE, fingerprint, IDT_DATA, IDT_SETUP, nasm, type Bare } from './harness.js';

/** Run both (translator on, off) to the end in slices of `slice`; returns the on-run after checking equal state at every stop. */
function runBoth(code: Uint8Array, slice = 1000, setup?: (x: Bare) => void): Bare {
  const a = bareLongMode(code, true), b = bareLongMode(code, false);
  setup?.(a); setup?.(b);
  for (let k = 0; k < 10000; k++) {
    const sa = a.cpu.run(slice), sb = b.cpu.run(slice);
    expect(sa).toBe(sb);
    expect(fingerprint(a.cpu, a.mem)).toEqual(fingerprint(b.cpu, b.mem));
    expect(a.io).toEqual(b.io);
    if (sa !== 'budget' && sa !== 'breakpoint') break;
    if (sa === 'breakpoint') { a.cpu.resumeFromBreakpoint(); b.cpu.resumeFromBreakpoint(); }
  }
  return a;
}


describe('translated blocks', () => {
  it('a page fault in the middle of a hot block leaves the interpreter\'s state (RIP, icount, registers, flags)', () => {
    const code = nasm('fault-mid', `
      ${IDT_SETUP}
      mov ecx, 100
      xor eax, eax
    loop:
      add eax, ecx          ; inline
      sub edx, eax          ; inline, flags pending
      mov rbx, [r8]         ; call-out: faults when r8 points nowhere
      xor edx, 0x55
      dec ecx
      jnz loop
      hlt
    handler:
      mov r9, [rsp]         ; faulting RIP pushed by the #PF delivery
      mov r8, data          ; fix the pointer and retry
      mov r10, cr2
      add rsp, 8            ; error code
      iretq
    data: dq 0x1122334455667788
      ${IDT_DATA}
    `);
    const a = runBoth(code, 37, (x) => { x.cpu.lo[8] = 0; x.cpu.hi[8] = 0x40; }); // non-canonical → #GP; then fixed
    expect(a.cpu.halted).toBe(true);
    expect(a.cpu.lo[3]).toBe(0x55667788);
    expect(a.cpu.jitUnit.compiled).toBeGreaterThan(0);
  });

  it('self-modifying code: a block rewrites a later instruction of itself and another block', () => {
    const code = nasm('smc-block', `
      mov ecx, 40
      xor edx, edx
      xor esi, esi
    loop:
      add edx, 1
    patch:
      add edx, 1            ; 83 C2 01: its immediate becomes 7 at iteration 20
      cmp ecx, 20
      jne skip
      mov byte [rel patch + 2], 7
      mov byte [rel other + 2], 3
    skip:
      call other
      dec ecx
      jnz loop
      hlt
    other:
      add esi, 1            ; 83 C6 01 → 83 C6 03
      ret
    `);
    const a = runBoth(code, 1000);
    expect(a.cpu.halted).toBe(true);
    // 20 iterations with +1+1, 20 with +1+7 (the write happens at ecx=20, before the next pass).
    expect(a.cpu.lo[2]).toBe(20 * 2 + 20 * 8 - 6);
    expect(a.cpu.lo[6]).toBe(20 * 1 + 20 * 3);
  });

  it('a store into the same block is seen by the very next instruction', () => {
    const code = nasm('smc-next', `
      mov ecx, 30
      xor eax, eax
    loop:
      mov byte [rel imm + 1], cl
    imm:
      mov al, 0
      add ebx, eax
      dec ecx
      jnz loop
      hlt
    `);
    const a = runBoth(code, 7);
    expect(a.cpu.lo[3]).toBe((30 * 31) / 2);
  });

  it('TF single-step traps after every instruction of a hot loop, as the interpreter', () => {
    const code = nasm('tf', `
      ${IDT_SETUP}
      mov ecx, 50
    warm:
      add eax, ecx
      dec ecx
      jnz warm
      pushfq
      or qword [rsp], 0x100
      popfq
      mov ecx, 20
    loop:
      add eax, ecx
      dec ecx
      jnz loop
      pushfq
      and qword [rsp], ~0x100
      popfq
      hlt
    handler:
      inc r12
      iretq
      ${IDT_DATA}
    `);
    const a = runBoth(code, 5);
    expect(a.cpu.halted).toBe(true);
    expect(a.cpu.lo[12]).toBeGreaterThan(60); // one #DB per stepped instruction
  });

  it('single-steps through a translated loop one instruction at a time (debugger stepping)', () => {
    const code = nasm('step', `
      mov ecx, 200
    loop:
      add eax, ecx
      rol eax, 3
      dec ecx
      jnz loop
      hlt
    `);
    const a = bareLongMode(code, true), b = bareLongMode(code, false);
    a.cpu.run(300); b.cpu.run(300); // hot: blocks exist now
    expect(a.cpu.jitUnit.compiled).toBeGreaterThan(0);
    for (let k = 0; k < 100; k++) {
      a.cpu.run(1); b.cpu.run(1);
      expect(a.cpu.rip).toBe(b.cpu.rip);
      expect(fingerprint(a.cpu, a.mem)).toEqual(fingerprint(b.cpu, b.mem));
    }
  });

  it('stops at a breakpoint inside a hot loop every iteration, and at one set after the loop got hot', () => {
    const code = nasm('bp', `
      mov ecx, 100
    loop:
      add eax, ecx
    mid:
      xor edx, eax
      dec ecx
      jnz loop
      hlt
    `);
    const mid = CODE + 7;
    const a = bareLongMode(code, true);
    a.cpu.run(150); // hot
    a.cpu.breakpoints.add(mid);
    let hits = 0;
    for (let k = 0; k < 1000; k++) {
      const s = a.cpu.run(100000);
      if (s === 'breakpoint') { expect(a.cpu.rip).toBe(mid); hits++; a.cpu.resumeFromBreakpoint(); continue; }
      expect(s).toBe('halted');
      break;
    }
    const b = bareLongMode(code, false);
    b.cpu.run(150);
    b.cpu.breakpoints.add(mid);
    let hitsB = 0;
    for (;;) { const s = b.cpu.run(100000); if (s !== 'breakpoint') break; hitsB++; b.cpu.resumeFromBreakpoint(); }
    expect(hits).toBe(hitsB);
    expect(hits).toBeGreaterThan(50);
    expect(fingerprint(a.cpu, a.mem)).toEqual(fingerprint(b.cpu, b.mem));
  });

  it('honours the budget exactly inside a self-looping block, and port I/O in a block', () => {
    const code = nasm('budget', `
      mov ecx, 1000
    loop:
      add eax, ecx
      xor edx, eax
      out 0x80, al
      dec ecx
      jnz loop
      hlt
    `);
    const a = runBoth(code, 97);
    expect(a.io.length).toBe(1000);
    const c = bareLongMode(code, true);
    for (let k = 0; k < 50; k++) { const before = c.cpu.icount; c.cpu.run(17); expect(c.cpu.icount - before).toBe(17); }
  });

  it('runs without new Function in threaded form with the same results', () => {
    const code = nasm('threaded', `
      mov ecx, 300
    loop:
      add eax, ecx
      lea rbx, [rax + rcx*4 + 8]
      push rbx
      pop rdx
      shl edx, 3
      dec ecx
      jnz loop
      hlt
    `);
    const a = bareLongMode(code, true), b = bareLongMode(code, false);
    a.cpu.jitUnit.generate = false;
    for (let k = 0; k < 200; k++) {
      const sa = a.cpu.run(11), sb = b.cpu.run(11);
      expect(sa).toBe(sb);
      expect(fingerprint(a.cpu, a.mem)).toEqual(fingerprint(b.cpu, b.mem));
      if (sa !== 'budget') break;
    }
    expect(a.cpu.halted).toBe(true);
    expect(a.cpu.jitUnit.compiled).toBeGreaterThan(0);
  });

  it('cpu.jit = false never translates', () => {
    const code = nasm('off', `
      mov ecx, 1000
    loop:
      dec ecx
      jnz loop
      hlt
    `);
    const b = bareLongMode(code, false);
    b.cpu.run(10000);
    expect(b.cpu.halted).toBe(true);
    expect(b.cpu.jitUnit.compiled).toBe(0);
  });
});
void TF;
