// Random instruction loops run by the translator and by the interpreter in lockstep: after every slice (of random length, so blocks are cut by the budget) the whole processor state and memory must be equal.
import { describe, expect, it } from 'vitest';
import { isRelBranch } from '../../emulator/cpu/jit/block.js';
import type { Jit } from '../../emulator/cpu/jit/jit.js';
import { bareLongMode, bareMode, CODE, fingerprint } from './harness.js';

/** Count, in `n.sides`, the Jcc the unit's blocks have before their last instruction (side exits). */
function countSideExits(unit: Jit, n: { sides: number }): void {
  const translate = unit.translate.bind(unit);
  unit.translate = (c, page, off, rip) => {
    const b = translate(c, page, off, rip);
    if (b !== undefined) for (let k = 0; k < b.len - 1; k++) if (isRelBranch(b.insns[k]) && ![0xe8, 0xe9, 0xeb].includes(b.insns[k].opcode)) n.sides++;
    return b;
  };
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}

/** Registers random instructions may write: not RSP (4), R14 (loop counter), R15 (data pointer). */
const DEST = [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13];
const DATA = 0x200000;

/** One random instruction (bytes), from the forms the translator inlines and the ones it calls out for. */
function randomInsn(next: () => number): number[] {
  const pick = <T>(a: T[]): T => a[next() % a.length];
  const d = pick(DEST), s = next() % 16;
  const w = next() % 3 === 0 ? 8 : 0; // REX.W
  const rex = (r: number, b: number) => 0x40 | w | ((r & 8) >> 1) | ((b & 8) >> 3);
  const modrm = (mod: number, r: number, b: number) => (mod << 6) | ((r & 7) << 3) | (b & 7);
  const imm32 = () => { const v = next(); return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24]; };
  const imm8 = () => [next() & 0xff];
  const disp8 = () => [next() & 0xf8];
  switch (next() % 31) {
    case 30: return pick([[0x0f, 0xa2], [0xe4, 0xe0], [0xe5, 0xe0], [0xe6, 0xe2], [0xe7, 0xe2]]); // CPUID; IN/OUT at unassigned ports (call-outs that may exit)
    case 22: { // 8-bit ALU/MOV/TEST register forms, without REX (AH..BH) or with one (SPL..DIL, R8B..: never SPL as destination)
      const op = pick([0x00, 0x02, 0x08, 0x0a, 0x20, 0x22, 0x28, 0x2a, 0x30, 0x32, 0x38, 0x3a, 0x84, 0x88, 0x8a]);
      if (next() % 2) return [op, modrm(3, pick([0, 1, 2, 3, 5, 6, 7]), pick([0, 1, 2, 3, 5, 6, 7]))];
      return [rex(d, s), op, op & 2 ? modrm(3, d, s) : modrm(3, s, d)];
    }
    case 23: { // 16-bit ALU/MOV/TEST register forms and imm forms
      const op = pick([0x01, 0x03, 0x09, 0x0b, 0x21, 0x23, 0x29, 0x2b, 0x31, 0x33, 0x39, 0x3b, 0x85, 0x89, 0x8b]);
      if (next() % 3 === 0) { const o = pick([0x83, 0x81]); return [0x66, 0x40 | ((d & 8) >> 3), o, modrm(3, next() % 8, d), ...(o === 0x83 ? imm8() : imm32().slice(0, 2))]; }
      return [0x66, rex(d, s) & ~8, op, op & 2 ? modrm(3, d, s) : modrm(3, s, d)];
    }
    case 24: { // byte/word/dword/qword memory forms through R15: loads, stores, ALU, RMW, TEST/CMP imm
      const pre = pick([[], [0x66], [0x48]]) as number[];
      const rx = (pre[0] === 0x48 ? 0x49 : 0x41) | ((d & 8) >> 1);
      const op = pick([0x00, 0x01, 0x02, 0x03, 0x08, 0x0b, 0x20, 0x23, 0x28, 0x29, 0x30, 0x33, 0x38, 0x39, 0x3a, 0x84, 0x85, 0x88, 0x89, 0x8a, 0x8b]);
      return [...(pre[0] === 0x66 ? [0x66] : []), rx, op, modrm(1, d, 15), ...disp8()];
    }
    case 25: { // Grp1/Grp3/Grp4-5/C6-C7 with a memory operand through R15, every size
      const pre = pick([[], [0x66], [0x48]]) as number[];
      const rx = pre[0] === 0x48 ? 0x49 : 0x41;
      const form = pick([[0x80, next() % 8, 1], [0x83, next() % 8, 1], [0x81, next() % 8, 4], [0xf6, 0, 1], [0xf7, 0, 4], [0xfe, next() % 2, 0], [0xff, next() % 2, 0], [0xc6, 0, 1], [0xc7, 0, 4]]);
      const size = form[0] === 0x81 || form[0] === 0xf7 || form[0] === 0xc7 ? (pre[0] === 0x66 ? 2 : 4) : form[2];
      const imm = imm32().slice(0, size);
      return [...(pre[0] === 0x66 ? [0x66] : []), rx, form[0], modrm(1, form[1], 15), ...disp8(), ...imm];
    }
    case 26: { // SETcc r/m8, CMOVcc r, m; MOVZX/MOVSX r, m8/m16
      const k = next() % 3;
      if (k === 0) return next() % 2 ? [0x41, 0x0f, 0x90 + (next() % 16), modrm(1, 0, 15), ...disp8()] : [rex(0, d), 0x0f, 0x90 + (next() % 16), modrm(3, 0, d)];
      if (k === 1) return [...(next() % 2 ? [0x66] : []), rex(d, 15) | 1, 0x0f, 0x40 + (next() % 16), modrm(1, d, 15), ...disp8()];
      return [...(next() % 2 ? [0x66] : []), rex(d, 15) | 1, 0x0f, pick([0xb6, 0xb7, 0xbe, 0xbf]), modrm(1, d, 15), ...disp8()];
    }
    case 27: return [0x49 | ((d & 8) >> 1), pick([0x8b, 0x89, 0x01, 0x3b]), modrm(2, d, 15), 0xfd, 0x0f, 0, 0]; // [r15 + 0xffd]: crosses a page
    case 28: return [0xe8, 2, 0, 0, 0, 0xeb, 1, 0xc3]; // CALL f; JMP over; f: RET
    case 29: return [0x66, 0x40 | ((d & 8) >> 3), 0xff, modrm(3, next() % 2, d)]; // INC/DEC r16
    case 0: case 1: case 2: { // ALU r/m, r and r, r/m (ADD OR ADC SBB AND SUB XOR CMP), TEST
      const op = pick([0x01, 0x03, 0x09, 0x0b, 0x11, 0x13, 0x19, 0x1b, 0x21, 0x23, 0x29, 0x2b, 0x31, 0x33, 0x39, 0x3b, 0x85]);
      const dst = op & 2 ? d : d; const src = s === 4 ? 0 : s;
      return op & 2 ? [rex(dst, src), op, modrm(3, dst, src)] : [rex(src, dst), op, modrm(3, src, dst)];
    }
    case 3: return [rex(0, d), 0x83, modrm(3, next() % 8, d), ...imm8()];
    case 4: return [rex(0, d), 0x81, modrm(3, next() % 8, d), ...imm32()];
    case 5: return [rex(0, d), 0xff, modrm(3, next() % 2, d)]; // INC/DEC
    case 6: return [rex(0, d), 0xc1, modrm(3, pick([0, 1, 2, 3, 4, 5, 7]), d), next() % 40]; // shifts/rotates by imm
    case 7: return [rex(0, d), pick([0xd1, 0xd3]), modrm(3, pick([0, 1, 4, 5, 7]), d)];
    case 8: { // LEA with base and index, 64- or 32-bit operand
      const base = next() % 16 === 4 ? 0 : next() % 16, index = next() % 16 === 4 ? 1 : next() % 16;
      return [0x40 | w | ((d & 8) >> 1) | ((index & 8) >> 2) | ((base & 8) >> 3), 0x8d, modrm(1, d, 4), ((next() % 4) << 6) | ((index & 7) << 3) | (base & 7), ...imm8()];
    }
    case 9: return w ? [rex(0, d), 0xb8 + (d & 7), ...imm32(), ...imm32()] : [rex(0, d), 0xb8 + (d & 7), ...imm32()];
    case 10: return [rex(d, s === 4 ? 3 : s), pick([0x89, 0x8b]), modrm(3, pick([d, s === 4 ? 3 : s]), d)];
    case 11: return [rex(d, s), 0x0f, pick([0xb6, 0xb7, 0xbe, 0xbf]), modrm(3, d, s)];
    case 12: return [0x48 | ((d & 8) >> 1) | ((s & 8) >> 3), 0x63, modrm(3, d, s)]; // MOVSXD
    case 13: return [rex(d, s), 0x0f, 0x40 + (next() % 16), modrm(3, d, s)]; // CMOVcc
    case 14: return [rex(0, d), 0x0f, 0x90 + (next() % 16), modrm(3, 0, d)]; // SETcc
    case 15: return [0x49 | ((d & 8) >> 1), pick([0x89, 0x8b, 0x01, 0x03, 0x31, 0x39]), modrm(1, d, 15), ...disp8()]; // memory through R15
    case 16: return [0x49, 0xff, modrm(1, next() % 2, 15), ...disp8()]; // INC/DEC [r15+d]
    case 17: { const r = pick(DEST); return [0x41 - ((r & 8) ? 0 : 1) + 0, 0x50 + (r & 7), 0x40 | ((r & 8) >> 3), 0x58 + (r & 7)].slice(0) as number[]; }
    case 18: return [rex(0, d), 0xf7, modrm(3, pick([2, 3, 4, 5]), d)]; // NOT NEG MUL IMUL
    case 19: return [0x48 | ((d & 8) >> 1) | ((s & 8) >> 3), 0x0f, 0xaf, modrm(3, d, s)]; // IMUL r, r/m
    case 20: return next() % 2 ? [pick([0xf8, 0xf9, 0xf5, 0x9c])] : [0xe8, 0, 0, 0, 0, 0x41, 0x58 + (next() % 6)]; // CLC STC CMC PUSHF; CALL next + POP r8..r13
    default: return [0x70 + (next() % 16), 0]; // Jcc +0 (mid-block: a side exit to the next instruction)
  }
}

/** A loop: R14 iterations of random instructions (with a forward Jcc skip now and then), then HLT. */
function randomLoop(next: () => number, iterations: number): Uint8Array {
  const body: number[] = [];
  const count = 4 + (next() % 24);
  for (let k = 0; k < count; k++) {
    let insn = randomInsn(next);
    if (insn[0] === 0x9c) insn = [0x9c, 0x41, 0x58 + (next() % 6)]; // PUSHF; POP r8..r13 (keeps RSP balanced)
    if (next() % 10 === 0) { const skip = randomInsn(next); body.push(0x70 + (next() % 16), skip.length, ...skip); }
    body.push(...insn);
  }
  // mov r14d, n; mov r15d, DATA; body; dec r14d; jnz body (rel32); hlt
  const head = [0x41, 0xbe, iterations & 0xff, (iterations >>> 8) & 0xff, 0, 0, 0x41, 0xbf, DATA & 0xff, (DATA >>> 8) & 0xff, (DATA >>> 16) & 0xff, 0];
  const tail = [0x41, 0xff, 0xce];
  const rel = -(body.length + tail.length + 6);
  const jnz = [0x0f, 0x85, rel & 0xff, (rel >>> 8) & 0xff, (rel >>> 16) & 0xff, (rel >>> 24) & 0xff];
  return Uint8Array.from([...head, ...body, ...tail, ...jnz, 0xf4]);
}

/** Registers random 32-bit instructions may write: EAX ECX EDX EBX EBP (ESI counts, EDI points at data, ESP is the stack). */
const DEST32 = [0, 1, 2, 3, 5];

/** One random 32-bit protected-mode instruction: register and memory ALU forms of 8/16/32 bits (RMW too), INC/DEC 40+r, shifts, LEA, moves, SETcc/CMOVcc, the stack, CALL/RET. */
function randomInsn32(next: () => number): number[] {
  const pick = <T>(a: T[]): T => a[next() % a.length];
  const d = pick(DEST32), s = pick([0, 1, 2, 3, 5, 6, 7]);
  const modrm = (mod: number, r: number, b: number) => (mod << 6) | ((r & 7) << 3) | (b & 7);
  const imm32 = () => { const v = next(); return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24]; };
  const disp8 = () => [next() & 0x7c];
  const anyReg = () => next() % 8; // byte registers: 4..7 are AH..BH
  switch (next() % 27) {
    case 18: return [pick([0x00, 0x02, 0x08, 0x0a, 0x20, 0x22, 0x28, 0x2a, 0x30, 0x32, 0x38, 0x3a, 0x84, 0x88, 0x8a]), modrm(3, anyReg(), anyReg())];
    case 19: { const op = pick([0x01, 0x03, 0x21, 0x29, 0x31, 0x39, 0x3b, 0x85, 0x89, 0x8b]); return [0x66, op, op & 2 ? modrm(3, d, s) : modrm(3, s, d)]; }
    case 20: return [...(next() % 2 ? [0x66] : []), pick([0x00, 0x01, 0x02, 0x03, 0x08, 0x0b, 0x20, 0x23, 0x28, 0x29, 0x30, 0x33, 0x38, 0x39, 0x3a, 0x84, 0x85, 0x88, 0x89, 0x8a]), modrm(1, d, 7), ...disp8()];
    case 21: { // Grp1/Grp3/Grp4-5/C6-C7 on [edi + d8], every size
      const o16 = next() % 2 === 0;
      const form = pick([[0x80, next() % 8, 1], [0x83, next() % 8, 1], [0x81, next() % 8, 4], [0xf6, 0, 1], [0xf7, 0, 4], [0xfe, next() % 2, 0], [0xff, next() % 2, 0], [0xc6, 0, 1], [0xc7, 0, 4]]);
      const size = form[0] === 0x81 || form[0] === 0xf7 || form[0] === 0xc7 ? (o16 ? 2 : 4) : form[2];
      return [...(o16 ? [0x66] : []), form[0], modrm(1, form[1], 7), ...disp8(), ...imm32().slice(0, size)];
    }
    case 22: { // SETcc r/m8, CMOVcc r, m, MOVZX/MOVSX r, m
      const k = next() % 3;
      if (k === 0) return next() % 2 ? [0x0f, 0x90 + (next() % 16), modrm(3, 0, anyReg())] : [0x0f, 0x90 + (next() % 16), modrm(1, 0, 7), ...disp8()];
      if (k === 1) return [...(next() % 2 ? [0x66] : []), 0x0f, 0x40 + (next() % 16), modrm(1, d, 7), ...disp8()];
      const o16 = next() % 2 ? [0x66] : [], op = pick([0xb6, 0xb7, 0xbe, 0xbf]);
      return next() % 2 ? [...o16, 0x0f, op, modrm(1, d, 7), ...disp8()] : [...o16, 0x0f, op, modrm(3, d, anyReg())];
    }
    case 23: return next() % 2 ? [0x6a, next() & 0xff, 0x58 + d] : [0x68, ...imm32(), 0x58 + d]; // PUSH imm; POP r
    case 24: return [0xe8, 2, 0, 0, 0, 0xeb, 1, 0xc3]; // CALL f; JMP over; f: RET
    case 25: return [pick([0x8b, 0x89, 0x01, 0x3b]), modrm(2, d, 7), 0xfe, 0x0f, 0, 0]; // [edi + 0xffe]: crosses a page
    case 26: return [0x66, pick([0x40, 0x48]) + d]; // INC/DEC r16
    case 0: case 1: { const op = pick([0x01, 0x03, 0x09, 0x0b, 0x11, 0x13, 0x19, 0x1b, 0x21, 0x23, 0x29, 0x2b, 0x31, 0x33, 0x39, 0x3b, 0x85]); return [op, op & 2 ? modrm(3, d, s) : modrm(3, s, d)]; }
    case 2: return [0x83, modrm(3, next() % 8, d), next() & 0xff];
    case 3: return [0x81, modrm(3, next() % 8, d), ...imm32()];
    case 4: return [pick([0x40, 0x48]) + d];
    case 5: return [0xc1, modrm(3, pick([0, 1, 4, 5, 7]), d), next() % 40];
    case 6: return [0x8d, modrm(1, d, 4), ((next() % 4) << 6) | (pick([0, 1, 2, 3, 5, 6, 7]) << 3) | pick([0, 1, 2, 3, 5, 6, 7]), next() & 0xff];
    case 7: return [0xb8 + d, ...imm32()];
    case 8: return [pick([0x89, 0x8b]), modrm(3, d, d === s ? 0 : s)];
    case 9: return [0x0f, pick([0xb6, 0xb7, 0xbe, 0xbf]), modrm(3, d, pick([0, 1, 2, 3]))];
    case 10: case 11: return [pick([0x89, 0x8b, 0x01, 0x03, 0x2b, 0x31, 0x33, 0x39, 0x3b, 0x85]), modrm(1, d, 7), ...disp8()]; // [edi + d8]
    case 12: return [0xff, modrm(1, next() % 2, 7), ...disp8()]; // INC/DEC [edi + d8]
    case 13: return [0x0f, 0xb6 + (next() % 2), modrm(1, d, 7), ...disp8()]; // MOVZX r, [edi + d8]
    case 14: return [0x50 + pick([0, 1, 2, 3, 5, 6, 7]), 0x58 + d];
    case 15: return [0x0f, 0x40 + (next() % 16), modrm(3, d, s)];
    case 16: return [0xe8, 0, 0, 0, 0, 0x58 + d]; // CALL next; POP r
    default: return [0x70 + (next() % 16), 0];
  }
}

/** ESI iterations of random 32-bit instructions (with forward Jcc skips), then HLT. */
function randomLoop32(next: () => number, iterations: number): Uint8Array {
  const body: number[] = [];
  const count = 4 + (next() % 24);
  for (let k = 0; k < count; k++) {
    const insn = randomInsn32(next);
    if (next() % 10 === 0) { const skip = randomInsn32(next); body.push(0x70 + (next() % 16), skip.length, ...skip); }
    body.push(...insn);
  }
  // mov esi, n; mov edi, DATA; body; dec esi; jnz body (rel32); hlt
  const head = [0xbe, iterations & 0xff, (iterations >>> 8) & 0xff, 0, 0, 0xbf, DATA & 0xff, (DATA >>> 8) & 0xff, (DATA >>> 16) & 0xff, 0];
  const tail = [0x4e];
  const rel = -(body.length + tail.length + 6);
  const jnz = [0x0f, 0x85, rel & 0xff, (rel >>> 8) & 0xff, (rel >>> 16) & 0xff, (rel >>> 24) & 0xff];
  return Uint8Array.from([...head, ...body, ...tail, ...jnz, 0xf4]);
}

describe('translator vs interpreter on random 32-bit protected-mode loops', () => {
  it('match after every slice (150 loops, flat and paged)', () => {
    const next = rng(0x3232);
    let blocks = 0;
    const side = { sides: 0 };
    for (let n = 0; n < 150; n++) {
      const code = randomLoop32(next, 20 + (next() % 40));
      const mode = n % 2 === 0 ? 'protected' : 'paged32';
      const a = bareMode(code, true, mode), b = bareMode(code, false, mode);
      countSideExits(a.cpu.jitUnit, side);
      for (const x of [a, b]) {
        const seed = rng(n + 7);
        for (const r of DEST32) x.cpu.lo[r] = seed();
      }
      for (let slice = 0; slice < 400; slice++) {
        const budget = 1 + (next() % 60);
        const sa = a.cpu.run(budget), sb = b.cpu.run(budget);
        expect(sa, `loop ${n} slice ${slice}`).toBe(sb);
        expect(fingerprint(a.cpu, a.mem), `loop ${n} slice ${slice}`).toEqual(fingerprint(b.cpu, b.mem));
        if (sa !== 'budget') break;
      }
      blocks += a.cpu.jitUnit.compiled;
      expect(b.cpu.jitUnit.compiled).toBe(0);
    }
    expect(blocks).toBeGreaterThan(150);
    expect(side.sides).toBeGreaterThan(150); // Jcc mid-block: side exits
  });
});

describe('translator vs interpreter on random loops', () => {
  it('match after every slice (300 loops)', () => {
    const next = rng(0x11d);
    let blocks = 0, faults = 0;
    const side = { sides: 0 };
    for (let n = 0; n < 300; n++) {
      const code = randomLoop(next, 20 + (next() % 40));
      const a = bareLongMode(code, true, 4 * 1024 * 1024), b = bareLongMode(code, false, 4 * 1024 * 1024);
      countSideExits(a.cpu.jitUnit, side);
      for (const x of [a, b]) {
        const seed = rng(n + 1);
        for (let r = 0; r < 16; r++) if (r !== 4 && r !== 14 && r !== 15) { x.cpu.lo[r] = seed(); x.cpu.hi[r] = seed() % 3 === 0 ? seed() : 0; }
      }
      for (let slice = 0; slice < 400; slice++) {
        const budget = 1 + (next() % 60);
        const sa = a.cpu.run(budget), sb = b.cpu.run(budget);
        expect(sa, `loop ${n} slice ${slice}`).toBe(sb);
        expect(fingerprint(a.cpu, a.mem), `loop ${n} slice ${slice}`).toEqual(fingerprint(b.cpu, b.mem));
        if (sa !== 'budget') { if (sa === 'shutdown') faults++; break; }
      }
      blocks += a.cpu.jitUnit.compiled;
      expect(b.cpu.jitUnit.compiled).toBe(0);
    }
    expect(blocks).toBeGreaterThan(300);
    expect(side.sides).toBeGreaterThan(300); // Jcc mid-block: side exits
    console.log(`fuzz: ${blocks} blocks translated (${side.sides} side exits), ${faults} loops ended in a fault`);
  });
});
void CODE;
