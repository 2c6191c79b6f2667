// Every instruction form the translator inlines (8/16/32/64-bit ALU with register, memory-source and read-modify-write operands, MOV/MOVZX/MOVSX, SETcc, CMOVcc, PUSH/POP/CALL/RET with a 32-bit stack), each in a hot loop on RAM, across a page boundary and on a faulting page, translator on vs off.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DS } from '../../emulator/cpu/insn.js';
import type { InstructionHandler } from '../../emulator/cpu/cpu.js';
import { LAYOUT, type StartMode } from '../../emulator/cpu/setup.js';
import { bareMode, CODE, fingerprint, TMP, type Bare } from './harness.js';

/** Data: the RAM operand page, the page whose last bytes operands cross from, and where the faulting phase points. */
const RAM = 0x300800, EDGE = 0x301ffd, BAD = 0x400001, PTRS = 0x2ff000;

/**
 * One hot loop around `form`: each iteration draws random values (an LCG) into EBX/EDX and sets the flags from
 * them, runs the form on [rdi/edi + d], then folds the flags it left (SETcc and PUSHF) into EBP. The operand
 * pointer is RAM for the first 40 iterations, then the pointer at PTRS + 0 (a page edge) for 40, then the one
 * at PTRS + 4 (a not-present page, or beyond DS.limit without paging).
 */
function program(form: string, bits: 32 | 64): string {
  const p = bits === 64 ? 'r' : 'e';
  return `
  mov esi, 120
  mov edi, ${RAM}
  mov eax, 12345
top:
  cmp esi, 80
  jne .a
  mov edi, [${PTRS}]
.a:
  cmp esi, 40
  jne .b
  mov edi, [${PTRS + 4}]
.b:
  imul eax, eax, 0x343fd
  add eax, 0x269ec3
  mov ebx, eax
  ror ebx, 7
  mov edx, eax
  shr edx, 11
  ${bits === 64 ? 'mov r9, rbx\n  rol r9, 32\n  xor rbx, r9\n  mov r10, rdx\n  shl r10, 29\n  xor rdx, r10' : ''}
  cmp bl, dl
form:
  ${form}
  setb cl
  setle ch
  movzx ecx, cx
  add ebp, ecx
  pushf
  pop ${p}cx
  add ebp, ecx
  dec esi
  jnz top
  hlt
  ${form.includes('call') ? 'f:\n  ret' : ''}
`;
}

let seq = 0;
/** Assemble with nasm; the address of the label `form`. */
function asm(src: string, bits: 32 | 64): { code: Uint8Array; form: number } {
  mkdirSync(TMP, { recursive: true });
  const name = `forms-${process.pid}-${seq++}`;
  const a = join(TMP, `${name}.asm`), bin = join(TMP, `${name}.bin`), map = join(TMP, `${name}.map`);
  writeFileSync(a, `bits ${bits}\norg ${CODE}\n[map symbols ${map}]\n${src}\n`);
  execFileSync('nasm', ['-f', 'bin', '-o', bin, a]);
  const m = /^\s*[0-9A-F]+\s+([0-9A-F]+)\s+form\s*$/m.exec(readFileSync(map, 'utf8'));
  return { code: new Uint8Array(readFileSync(bin)), form: parseInt(m![1], 16) };
}

/** Calls of the interpreter handler of the instruction at `rip` from translated blocks of x while ESI > 80 (the RAM phase of `program`). */
function countCallsAt(x: Bare, rip: number): { n: number } {
  const count = { n: 0 };
  const jit = x.cpu.jitUnit;
  const translate = jit.translate.bind(jit);
  jit.translate = (c, page, off, r) => {
    const b = translate(c, page, off, r);
    if (b !== undefined) {
      for (let k = 0; k < b.len; k++) {
        if (b.rips[k] !== rip) continue;
        const h: InstructionHandler = b.handlers[k];
        b.handlers[k] = (cc, ii) => { if (cc.lo[6] > 80) count.n++; h(cc, ii); };
      }
    }
    return b;
  };
  return count;
}

function seeded(x: Bare, edge: number, bad: number, mode: StartMode): void {
  let s = 0x9e3779b9;
  for (let a = 0x300000; a < 0x302000; a += 4) { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; x.mem.write32(a, s >>> 0); }
  x.mem.write32(PTRS, edge); x.mem.write32(PTRS + 4, bad);
  if (mode === 'long') x.mem.write32(LAYOUT.pd + 2 * 8, 0); // 4-6 MiB not present
  else if (mode === 'paged32') x.mem.write32(LAYOUT.pageDirectory32 + 4, 0); // 4-8 MiB not present
  else x.cpu.setSegCache(DS, 0x10, 0, 0x3fffff, x.cpu.segAr[DS]); // beyond DS.limit: #GP
}

/** Run both in slices of varying length, comparing stop reasons and the whole state at every stop; the exceptions taken. */
function runBoth(code: Uint8Array, mode: StartMode, edge: number, bad: number, formAt: number): { traps: number[]; inlineMisses: number; a: Bare } {
  const a = bareMode(code, true, mode, 8 << 20), b = bareMode(code, false, mode, 8 << 20);
  const traps: number[] = [];
  const count = countCallsAt(a, formAt);
  for (const x of [a, b]) {
    seeded(x, edge, bad, mode);
    x.cpu.exceptionTrap = (v) => { if (x === a) traps.push(v); return true; };
  }
  for (let k = 0; k < 1000; k++) {
    const slice = 7 + ((k * 53) % 197);
    const sa = a.cpu.run(slice), sb = b.cpu.run(slice);
    expect(sa, `slice ${k}`).toBe(sb);
    expect(fingerprint(a.cpu, a.mem), `slice ${k}`).toEqual(fingerprint(b.cpu, b.mem));
    if (sa !== 'budget') break;
  }
  expect(a.cpu.jitUnit.compiled).toBeGreaterThan(0);
  return { traps, inlineMisses: count.n, a };
}

/** Forms with a memory operand: `S` is the size keyword, `R`/`Q` registers of that size, `I` an immediate. Sizes b w d q. */
const MEM_FORMS: [string, string][] = [
  ['mov R, [rdi + 1]', 'bwdq'], ['mov [rdi + 2], R', 'bwdq'], ['mov S [rdi + 3], I', 'bwdq'],
  ['add R, [rdi + 1]', 'bwdq'], ['or R, [rdi + 2]', 'bwdq'], ['and R, [rdi + 3]', 'bwdq'], ['sub R, [rdi + 1]', 'bwdq'],
  ['xor R, [rdi + 2]', 'bwdq'], ['cmp R, [rdi + 3]', 'bwdq'], ['cmp [rdi + 1], R', 'bwdq'], ['test [rdi + 2], R', 'bwdq'],
  ['cmp S [rdi + 3], 0x5a', 'bwdq'], ['cmp S [rdi + 1], -3', 'wdq'], ['cmp S [rdi + 2], 0x12345', 'dq'], ['test S [rdi + 3], I', 'bwdq'],
  ['add [rdi + 1], R', 'bwdq'], ['or [rdi + 2], R', 'bwdq'], ['and [rdi + 3], R', 'bwdq'], ['sub [rdi + 1], R', 'bwdq'], ['xor [rdi + 2], R', 'bwdq'],
  ['add S [rdi + 3], 7', 'bwdq'], ['sub S [rdi + 1], -100', 'wdq'], ['and S [rdi + 2], I', 'bwdq'], ['or S [rdi + 3], 0x40', 'bwdq'], ['xor S [rdi + 1], I', 'bwdq'],
  ['adc [rdi + 2], R', 'bwdq'], ['sbb R, [rdi + 3]', 'bwdq'],
  ['inc S [rdi + 1]', 'bwdq'], ['dec S [rdi + 2]', 'bwdq'],
  ['cmovle R, [rdi + 3]', 'wdq'], ['cmovb R, [rdi + 1]', 'wdq'], ['cmovo R, [rdi + 2]', 'wdq'], ['cmovnp R, [rdi + 1]', 'wdq'],
  ['setg byte [rdi + 1]', 'b'], ['setbe byte [rdi + 2]', 'b'], ['setns byte [rdi + 3]', 'b'],
  ['movzx ebx, byte [rdi + 1]', 'd'], ['movzx bx, byte [rdi + 2]', 'd'], ['movzx ebx, word [rdi + 3]', 'd'], ['movzx rbx, word [rdi + 1]', 'q'],
  ['movsx ebx, byte [rdi + 2]', 'd'], ['movsx bx, byte [rdi + 3]', 'd'], ['movsx ebx, word [rdi + 1]', 'd'], ['movsx rbx, word [rdi + 2]', 'q'], ['movsx rdx, byte [rdi + 3]', 'q'],
];
/** Register-only forms (no fault, no page edge). */
const REG_FORMS: [string, string][] = [
  ['add R, Q', 'bwdq'], ['sub R, Q', 'bwdq'], ['cmp R, Q', 'bwdq'], ['and Q, R', 'bwdq'], ['xor R, Q', 'bwdq'], ['or R, Q', 'bwdq'], ['test R, Q', 'bwdq'],
  ['add bh, dl', 'b'], ['cmp dh, bl', 'b'], ['sub ah, bh', 'b'], ['mov bh, dl', 'b'], ['mov bl, ah', 'b'],
  ['add al, 0x7f', 'b'], ['cmp ax, 0x8000', 'w'], ['sub R, I', 'bwdq'], ['cmp R, -2', 'wdq'], ['test al, 0x81', 'b'], ['test R, I', 'bwdq'],
  ['mov R, Q', 'bwdq'], ['mov R, I', 'bwdq'], ['mov bh, 0x9c', 'b'],
  ['inc R', 'bwdq'], ['dec R', 'bwdq'],
  ['sete bl', 'b'], ['setl bh', 'b'], ['seta dl', 'b'], ['setpe dh', 'b'],
  ['cmovg R, Q', 'wdq'], ['cmovae R, Q', 'wdq'], ['cmovs R, Q', 'wdq'],
  ['movzx ebx, dh', 'd'], ['movzx bx, dl', 'd'], ['movsx ebx, bh', 'd'], ['movsx bx, dl', 'd'], ['movsx ebx, dx', 'd'], ['movsx rbx, dx', 'q'], ['movsx rbx, bl', 'q'],
  ['nop', 'd'], ['xchg ax, ax', 'd'],
];
/** 64-bit only: REX byte registers. */
const REX_FORMS = ['mov r9b, bl', 'add bl, r9b', 'cmp r10b, [rdi + 1]', 'mov [rdi + 2], r9w', 'add r9b, r10b', 'sete r9b'];
/** 32-bit only: the stack (a 32-bit SS). */
const STACK_FORMS = ['push ebx\n  pop edx', 'push 0x12345678\n  pop ebx', 'push -5\n  pop edx', 'push esp\n  pop ebx', 'call f', 'push ebx\n  pop esp\n  mov esp, 0x80000'];

const REGS: Record<string, [string, string]> = { b: ['bl', 'dl'], w: ['bx', 'dx'], d: ['ebx', 'edx'], q: ['rbx', 'rdx'] };
const SIZE: Record<string, string> = { b: 'byte', w: 'word', d: 'dword', q: 'qword' };
const IMM: Record<string, string> = { b: '0xa5', w: '0x8421', d: '0x80000001', q: '-0x7ffffff0' };

function expand(forms: [string, string][], bits: 32 | 64): string[] {
  const out: string[] = [];
  for (const [f, sizes] of forms) {
    for (const z of sizes) {
      if (z === 'q' && bits === 32) continue;
      const form = f.replace(/\bS\b/g, SIZE[z]).replace(/\bR\b/g, REGS[z][0]).replace(/\bQ\b/g, REGS[z][1]).replace(/\bI\b/g, IMM[z]);
      out.push(bits === 32 ? form.replace(/\brdi\b/g, 'edi').replace(/\brdx\b/g, 'edx') : form);
    }
  }
  return out;
}

const NOT_INLINE = /^(adc|sbb)/;

describe('inlined forms, translator on vs off', () => {
  for (const mode of ['long', 'paged32', 'protected'] as const) {
    const bits = mode === 'long' ? 64 : 32;
    const fault = mode === 'protected' ? 13 : 14;
    it(`${mode}: memory forms on RAM (inline), across a page edge and on a faulting operand (${fault})`, () => {
      const forms = expand(MEM_FORMS, bits).concat(bits === 64 ? REX_FORMS.filter((f) => f.includes('[')) : []);
      for (const form of forms) {
        const { code, form: at } = asm(program(form, bits), bits);
        const r = runBoth(code, mode, EDGE, BAD, at);
        expect(r.traps, form).toEqual([fault]);
        // Stopped at the form (40 iterations on RAM, 40 across the edge, then the fault), with the interpreter's state (compared above).
        expect(r.a.cpu.rip, form).toBe(at);
        expect(r.a.cpu.lo[6], form).toBe(40);
        // On RAM: the form never calls its handler from translated code (where it is inlined), in every mode (without
        // paging a TLB entry a read filled lacks the dirty permission, so the first write refills it with the write page).
        if (!NOT_INLINE.test(form)) expect(r.inlineMisses, form).toBe(0);
      }
    });
    it(`${mode}: register forms of every operand size`, () => {
      const forms = expand(REG_FORMS, bits).concat(bits === 64 ? REX_FORMS.filter((f) => !f.includes('[')) : STACK_FORMS);
      for (const form of forms) {
        const { code, form: at } = asm(program(form, bits), bits);
        const r = runBoth(code, mode, RAM, RAM, at);
        expect(r.traps, form).toEqual([]);
        expect(r.a.cpu.halted, form).toBe(true);
        expect(r.inlineMisses, form).toBe(0);
      }
    });
  }

  it('32-bit stack forms: a not-present stack page faults at the PUSH/POP/CALL/RET with the interpreter\'s state', () => {
    const bodies: Record<string, string> = {
      push: 'push ebx\n  pop edx', pop: 'pop edx\n  push edx', pushImm: 'push 0x77\n  pop edx', call: 'call f', ret: 'call g',
    };
    for (const [name, body] of Object.entries(bodies)) {
      // On iteration 40 the stack pointer moves into the not-present 4 MiB page (before the form, or inside g before its RET).
      const move = `cmp esi, 40\n  jne .s\n  mov esp, ${BAD + 10}\n.s:`;
      const { code, form: at } = asm(`
  mov esi, 120
  mov ebx, 0x1234
top:
  ${name === 'ret' ? '' : move}
form:
  ${body}
  add ebx, edx
  dec esi
  jnz top
  hlt
f:
  ret
g:
  ${move.replace(/\.s/g, '.t')}
  ret
`, 32);
      const r = runBoth(code, 'paged32', RAM, RAM, at);
      expect(r.traps, name).toEqual([14]);
      expect(r.a.cpu.lo[6], name).toBe(40);
      if (name !== 'ret') expect(r.a.cpu.rip, name).toBe(at);
    }
  });

  it('self-modifying code through the new forms: a hot block\'s byte RMW, word store and SETcc patch code it then calls', () => {
    for (const [mode, bits] of [['long', 64], ['paged32', 32]] as const) {
      const { code, form: at } = asm(`
  mov esi, 60
  xor ebx, ebx
  xor edx, edx
top:
form:
  add byte [p1 + 1], 3        ; the immediate of p1's MOV
  mov [p2 + 1], si            ; a word store into p2's immediate
  cmp esi, 30
  setb byte [p3 + 2]          ; SETcc into the imm8 of p3
  call p1
  add ebx, eax
  add edx, ecx
  dec esi
  jnz top
  hlt
align 4096                    ; the patched code on its own page
p1:
  mov eax, 0x100
p2:
  mov ecx, 0x55550000
p3:
  add ecx, 0x7
  ret
`, bits);
      const r = runBoth(code, mode, RAM, RAM, at);
      expect(r.traps).toEqual([]);
      expect(r.a.cpu.halted).toBe(true);
      // EAX took 0x100 + 3k for k = 1..60; ECX the low word of ESI (60..1) over 0x55550000, plus SETcc's 0 then 1 (ESI < 30).
      let ebx = 0, edx = 0;
      for (let k = 1; k <= 60; k++) {
        ebx += 0x100 + ((3 * k) & 0xff);
        const esi = 61 - k;
        edx += 0x55550000 + esi + (esi < 30 ? 1 : 0);
      }
      expect(r.a.cpu.lo[3]).toBe(ebx >>> 0);
      expect(r.a.cpu.lo[2]).toBe(edx >>> 0);
    }
  });
});
