// Blocks that run on through conditional branches (side exits): Jcc taken/not-taken mixes in 64- and 32-bit code cut by every budget, side exits to another page and past CS.limit, breakpoints on side-exit targets, single-step, self-modifying code and faults after a Jcc; each against the interpreter in lockstep.
import { describe, expect, it } from 'vitest';
import { CS } from '../../emulator/cpu/insn.js';
import type { StartMode } from '../../emulator/cpu/setup.js';
import { LAYOUT } from '../../emulator/cpu/setup.js';
import { isRelBranch, type Block } from '../../emulator/cpu/jit/block.js';
import { bareMode, CODE, fingerprint, IDT_DATA, IDT_SETUP, lockstep, nasm, type Bare, type LockstepOptions } from './harness.js';

/** Blocks the translator built, how many Jcc they have before their last instruction (side exits), how many of those they follow when taken. */
interface Built { blocks: Block[]; sideExits: number; takenFollowed: number }

/** lockstep(), recording the blocks the translator builds. */
function runBoth(code: Uint8Array, o: LockstepOptions = {}): { a: Bare; b: Bare; stops: string[]; traps: number[]; built: Built } {
  const built: Built = { blocks: [], sideExits: 0, takenFollowed: 0 };
  const spy = (x: Bare): void => {
    const unit = x.cpu.jitUnit;
    const translate = unit.translate.bind(unit);
    unit.translate = (c, page, off, rip) => {
      const blk = translate(c, page, off, rip);
      if (blk !== undefined) {
        built.blocks.push(blk);
        built.sideExits += sideExits(blk);
        for (let k = 0; k < blk.len - 1; k++) if (isJcc(blk, k) && blk.rips[k + 1] !== blk.rips[k] + blk.insns[k].length) built.takenFollowed++;
      }
      return blk;
    };
  };
  const r = lockstep(code, { ...o, setup: (x) => { if (x.cpu.jit) spy(x); o.setup?.(x); } });
  return { ...r, built };
}

const isJcc = (b: Block, k: number): boolean => isRelBranch(b.insns[k]) && ![0xe8, 0xe9, 0xeb].includes(b.insns[k].opcode);
/** Jcc instructions of a block that are not its last (the block goes on past them). */
function sideExits(b: Block): number {
  let n = 0;
  for (let k = 0; k < b.len - 1; k++) if (isJcc(b, k)) n++;
  return n;
}

/** A loop whose body has forward Jcc taken 3/8, 1/2 and 1/8 of the time (the same source assembles as 32- and 64-bit code). */
const MIX = `
  mov ecx, 48
  xor eax, eax
  xor ebx, ebx
  xor esi, esi
loop:
  mov edx, ecx
  and edx, 7
  cmp edx, 3
  jb low          ; taken 3/8
  add eax, edx
  test ecx, 16
  jnz skip        ; taken half the time
  sub ebx, ecx
  cmp edx, 6
  je skip         ; taken 1/8
  xor ebx, 0x55
  add esi, 2
skip:
  inc ebx
low:
  add ebx, eax
  rol ebx, 1
  dec ecx
  jnz loop
  hlt
`;

describe('side exits: Jcc taken/not-taken mixes, cut by every budget', () => {
  for (const mode of ['long', 'protected', 'paged32'] as const) {
    it(`${mode}: every budget from 1 to 48 and a large one`, () => {
      const code = nasm(`mix-${mode}`, MIX, CODE, mode === 'long' ? 64 : 32);
      let sides = 0, taken = 0;
      for (const slice of [...Array.from({ length: 48 }, (_, k) => k + 1), 1000]) {
        const { a, built } = runBoth(code, { mode, slice });
        expect(a.cpu.halted).toBe(true);
        sides += built.sideExits;
        taken += built.takenFollowed;
      }
      expect(sides).toBeGreaterThan(48); // the loop's blocks run on through its Jcc
      expect(taken).toBeGreaterThan(0); // some along the taken direction (the JB, taken often while interpreted)
    });
  }

  it('threaded form (no new Function): the same results', () => {
    for (const slice of [1, 5, 13, 1000]) {
      const { a, built } = runBoth(nasm('mix-threaded', MIX), { slice, threaded: true });
      expect(a.cpu.halted).toBe(true);
      expect(built.sideExits).toBeGreaterThan(0);
    }
  });
});

describe('side exits to another page and past CS.limit', () => {
  const FAR = (bits: number): string => `
    mov ecx, 300
    xor esi, esi
  loop:
    add eax, ecx
    test ecx, 3
    jz farside        ; to the next page, 1/4 of the time
  back:
    xor eax, 0x1234
    dec ecx
    jnz loop
    hlt
    times 0x1000 - ($ - $$) db 0x90
  farside:
    add esi, ${bits}
    jmp back
  `;
  for (const mode of ['long', 'paged32', 'protected'] as const) {
    it(`${mode}: a side exit to a block on the next page`, () => {
      const bits = mode === 'long' ? 64 : 32;
      for (const slice of [1, 3, 7, 11, 1000]) {
        const { a, built } = runBoth(nasm(`far-${mode}`, FAR(bits), CODE, bits), { mode, slice });
        expect(a.cpu.halted).toBe(true);
        expect(a.cpu.lo[6]).toBe(75 * bits); // the far side ran 300 / 4 times
        if (slice === 1000) expect(built.sideExits).toBeGreaterThan(0);
      }
    });
  }

  it('a side exit target beyond CS.limit: the block is not entered, and the taken Jcc faults where the interpreter\'s does', () => {
    const code = nasm('jcc-cslimit', `
      mov ecx, 200
    loop:
      add eax, ecx
      cmp ecx, 1
      je farside      ; taken once, at the end: beyond CS.limit
      xor eax, 0x77
      dec ecx
      jmp loop
      times 64 nop
    farside:
      hlt
    `, CODE, 32);
    for (const slice of [1, 9, 1000]) {
      const { a, traps } = runBoth(code, { mode: 'protected', trap: true, slice, setup: (x) => x.cpu.setSegCache(CS, 0x08, 0, CODE + 40, x.cpu.segAr[CS]) });
      expect(traps).toEqual([13]);
      expect(a.cpu.rip).toBe(CODE + 10); // the JE
    }
  });

  it('a side exit target within CS.limit (the limit lowered later, between slices): exact either way', () => {
    const code = nasm('jcc-cslimit2', `
      mov ecx, 400
    loop:
      add eax, ecx
      test ecx, 7
      jz farside
    back:
      dec ecx
      jnz loop
      hlt
      times 64 nop
    farside:
      add esi, 1
      jmp back
    `, CODE, 32);
    const { a, traps } = runBoth(code, {
      mode: 'protected', trap: true, slice: 97,
      between: (x, k) => { if (k === 6) x.cpu.setSegCache(CS, 0x08, 0, CODE + 32, x.cpu.segAr[CS]); },
    });
    expect(traps).toEqual([13]);
    expect(a.cpu.rip).toBe(CODE + 13); // the JZ (after mov ecx 5, add 2, test ecx, imm32 6 bytes), once its target is past the limit
  });
});

describe('breakpoints, single-step and self-modifying code in blocks with side exits', () => {
  it('stops at a breakpoint on a side-exit target each time the Jcc is taken, and on the fall-through', () => {
    const code = nasm('bp-side', MIX);
    // cmp edx, 3 (83 FA 03); jb low (72 rel8): the JB's target and its fall-through.
    const at = code.findIndex((_, k) => code[k] === 0x83 && code[k + 1] === 0xfa && code[k + 2] === 0x03 && code[k + 3] === 0x72) + 3;
    expect(at).toBeGreaterThan(3);
    const fall = CODE + at + 2, target = fall + code[at + 1];
    let hot = 0;
    const { stops, built } = runBoth(code, {
      slice: 100,
      between: (x, k) => {
        // After the loop is hot and translated (with the JB mid-block): a breakpoint on its target, later on its fall-through.
        if (k === 2) { x.cpu.breakpoints.add(target); if (x.cpu.jitUnit.compiled > 0) hot++; }
        if (k === 8) { x.cpu.breakpoints.delete(target); x.cpu.breakpoints.add(fall); }
      },
    });
    expect(hot).toBe(1);
    expect(built.sideExits).toBeGreaterThan(0);
    expect(stops.filter((s) => s === 'breakpoint').length).toBeGreaterThan(8);
  });

  it('single-steps (debugger stepping) through a hot loop with side exits', () => {
    const a = bareMode(nasm('step-side', MIX), true, 'long'), b = bareMode(nasm('step-side', MIX), false, 'long');
    a.cpu.run(600); b.cpu.run(600);
    expect(a.cpu.jitUnit.compiled).toBeGreaterThan(0);
    for (let k = 0; k < 400; k++) {
      const sa = a.cpu.run(1), sb = b.cpu.run(1);
      expect(sa).toBe(sb);
      expect(fingerprint(a.cpu, a.mem), `step ${k}`).toEqual(fingerprint(b.cpu, b.mem));
    }
  });

  it('TF single-step traps after every instruction of a loop with side exits (guest #DB handler)', () => {
    // Every IDT vector goes to `handler`, which counts in R12.
    const code = nasm('tf-side', `
      ${IDT_SETUP}
      mov r13d, 2
    again:
      mov ecx, 60
    loop:
      mov edx, ecx
      and edx, 3
      jz skip
      add eax, edx
    skip:
      dec ecx
      jnz loop
      pushfq
      or qword [rsp], 0x100
      popfq
      dec r13d
      jnz again
      pushfq
      and qword [rsp], ~0x100
      popfq
      hlt
    handler:
      inc r12
      iretq
      ${IDT_DATA}
    `);
    const { a, built } = runBoth(code, { slice: 7 });
    expect(a.cpu.halted).toBe(true);
    expect(a.cpu.lo[12]).toBeGreaterThan(200);
    expect(built.sideExits).toBeGreaterThan(0);
  });

  it('a store into the block\'s own page after a not-taken Jcc leaves the block at once (the rewritten code runs)', () => {
    const code = nasm('smc-side', `
      mov ecx, 60
      xor edx, edx
    loop:
      test ecx, 1
      jnz odd           ; side exit half the time
      cmp ecx, 30
      jne skip          ; side exit most of the time
      mov byte [rel patch + 2], 9
    patch:
      add edx, 1        ; 83 C2 01: 83 C2 09 from ecx = 30 on
    skip:
      add edx, 1
    odd:
      dec ecx
      jnz loop
      hlt
    `);
    for (const slice of [1, 4, 13, 1000]) {
      const { a } = runBoth(code, { slice });
      expect(a.cpu.halted).toBe(true);
      // Even ecx 60..2: 30 passes of "add edx, 1" at skip; at ecx = 30 the patched ADD runs once (+9).
      expect(a.cpu.lo[2]).toBe(30 + 9);
    }
  });

  it('a page fault on a load after a not-taken Jcc stops with the interpreter\'s state (paged32)', () => {
    // The 4-MiB page at 0x400000 is not present (its PDE cleared); the loop walks EDI up to it.
    const code = nasm('pf-side', `
      mov edi, 0x3ff000
      mov ecx, 0x2000
    loop:
      test edi, 0x100
      jnz skip
      add eax, [edi]
    skip:
      add edi, 8
      cmp edi, 0x401000
      jne loop
      hlt
    `, CODE, 32);
    const { a, traps } = runBoth(code, {
      mode: 'paged32', trap: true, slice: 53,
      setup: (x) => x.mem.write32(LAYOUT.pageDirectory32 + 4, 0),
    });
    expect(traps).toEqual([14]);
    expect(a.cpu.pfLinear).toBe(0x400000);
    expect(a.cpu.rip).toBe(CODE + 0x12); // add eax, [edi]
  });
});

describe('32-bit linear addresses in the fast path', () => {
  // The inline path forms (base + offset) mod 2^32 as (base + offset) >>> 0 for a base in [0, 2^32) (wrapping at 4 GiB);
  // any other base (a 64-bit FS/GS base as compatibility mode may have, above 4 GiB or high canonical, i.e. negative
  // here) takes the interpreter's path, where only its low 32 bits count.
  for (const base of [0x1000, 0xfffff000, 0x100001000, -(2 ** 47) + 0x1000]) {
    it(`FS base ${base < 0 ? '-' : ''}0x${Math.abs(base).toString(16)}: loads, stores and RMW through FS as the interpreter`, () => {
      const code = nasm(`fsbase-${base}`, `
        mov ecx, 40
      loop:
        mov eax, [fs:0x201000 + ecx*4]
        add [fs:0x202000 + ecx*4], eax
        mov [fs:0x203000 + ecx*4], ecx
        dec ecx
        jnz loop
        hlt
      `, CODE, 32);
      const { a, traps } = runBoth(code, {
        mode: 'protected', trap: true, slice: 17,
        setup: (x) => {
          x.cpu.setSegCache(4, 0x10, base, 0xffffffff, x.cpu.segAr[3]); // FS (4) as DS's descriptor, with this base
          for (let k = 0; k < 0x10000; k += 4) x.mem.write32(0x1f0000 + k, k * 7);
        },
      });
      expect(a.cpu.jitUnit.compiled).toBeGreaterThan(0);
      expect(traps).toEqual([]); // only the base's low 32 bits count, and every address wraps into RAM
    });
  }
});


describe('a loop entered in the middle', () => {
  it('runs in the block at its head, which loops inside itself, not in a block that wraps around to its own middle', () => {
    // Slices of 37 stop the loop in its middle again and again; the block built there must leave for the head's
    // block at the backward Jcc (a side exit) instead of following it round to its own start.
    const code = nasm('mid-entry', `
  mov ecx, 20000
top:
  add eax, 1
  xor edx, eax
  add ebx, edx
  dec ecx
  jnz top
  hlt
`);
    let entries = 0;
    const { a, built } = runBoth(code, {
      slice: 37,
      // Every slice also flushes the TLB (as a snapshot or the debugger may), so the instruction a slice resumes at
      // can start a block.
      between: (x) => { x.cpu.flushTlb(); },
      setup: (x) => {
        const unit = x.cpu.jitUnit, translate = unit.translate.bind(unit);
        unit.translate = (c, page, off, rip) => {
          const blk = translate(c, page, off, rip);
          if (blk !== undefined && blk.fn !== null) { const f = blk.fn; blk.fn = (cc, limit) => { entries++; f(cc, limit); }; }
          return blk;
        };
      },
    });
    expect(a.cpu.halted).toBe(true);
    expect(built.blocks.length).toBeGreaterThan(1); // a block was built in the loop's middle too
    // 20000 iterations in 20000 × 5 / 37 ≈ 2700 slices: about one block entry per slice, not one per iteration.
    expect(entries).toBeLessThan(8000);
  });
});
