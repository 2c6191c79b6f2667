// SSE/SSE2 and FXSAVE/XSAVE/x87-control tests: the host CPU as reference, gcc -O3 -msse2 string code, layouts and faults.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, machine, hasNasm, hasGcc, excVector, errorCode64, TMP, assemble } from './harness.js';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), 'src');
const GP = 13, UD = 6, NM = 7;
const native = hasNasm && hasGcc && process.arch === 'x64';

/** Deterministic bytes (xorshift32), biased towards the edge values saturating arithmetic cares about. */
function inputs(n: number): Uint8Array {
  const b = new Uint8Array(n * 32);
  let s = 0x1234567;
  const edges = [0x00, 0x01, 0x7f, 0x80, 0x81, 0xfe, 0xff];
  for (let k = 0; k < b.length; k++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    b[k] = (s & 7) < 2 ? edges[(s >>> 3) % edges.length] : (s >>> 8) & 0xff;
  }
  return b;
}

describe.skipIf(!native)('SSE/SSE2 integer instructions against the host CPU', () => {
  it('every op of sse-ops.asm gives the host CPU\'s result on 512 input pairs', () => {
    const N = 512;
    const asmSrc = readFileSync(join(SRC, 'sse-ops.asm'), 'utf8');
    const image = assemble(asmSrc);
    const nops = new DataView(image.buffer, image.byteOffset).getUint32(image.length - 4, true);
    const inFile = join(TMP, 'sse-in.bin'), outFile = join(TMP, 'sse-out.bin'), exe = join(TMP, 'sse-native');
    const data = inputs(N);
    writeFileSync(inFile, data);
    if (!existsSync(exe) || readFileSync(join(SRC, 'sse-ops.asm')).length !== Number(readFileSync(exe + '.len', 'utf8').trim() || -1)) {
      execFileSync('nasm', ['-f', 'elf64', '-DNATIVE', '-o', join(TMP, 'sse-ops.o'), join(SRC, 'sse-ops.asm')]);
      execFileSync('gcc', ['-O1', '-o', exe, join(SRC, 'sse-native.c'), join(TMP, 'sse-ops.o'), '-Wl,-z,noexecstack']);
      writeFileSync(exe + '.len', String(asmSrc.length));
    }
    execFileSync(exe, [inFile, outFile, String(nops)]);
    const want = new Uint8Array(readFileSync(outFile));
    const m = machine('long', image);
    m.mem.poke(0x200000, data);
    m.mem.write32(0x1ff000, N);
    expect(m.cpu.run(10_000_000)).toBe('halted');
    expect(m.cpu.unimplemented).toEqual([]);
    expect(excVector(m)).toBe(-1);
    const got = m.mem.peek(0x400000, want.length);
    // Report the first differing op by index for a readable failure.
    for (let k = 0; k < want.length; k += 16) {
      const a = [...got.subarray(k, k + 16)], b = [...want.subarray(k, k + 16)];
      if (a.join() !== b.join()) expect({ op: (k / 16) % nops, input: Math.floor(k / 16 / nops), got: a }).toEqual({ op: (k / 16) % nops, input: Math.floor(k / 16 / nops), got: b });
    }
  });
});

describe.skipIf(!(hasGcc && hasNasm))('gcc -O3 -msse2 string code', () => {
  it('vectorized memcpy/memset loops and a PCMPEQB/PMOVMSKB strlen give the C results', () => {
    const elf = join(TMP, 'sse-string.elf'), bin = join(TMP, 'sse-string.bin');
    execFileSync('gcc', ['-O3', '-msse2', '-mno-sse3', '-ffreestanding', '-fno-pic', '-fno-stack-protector', '-mno-red-zone',
      '-fcf-protection=none', '-nostdlib', '-static', '-no-pie', '-Wl,-Ttext=0x100000', '-Wl,--build-id=none', '-e', '_start',
      '-o', elf, join(SRC, 'sse-string.c')]);
    execFileSync('objcopy', ['-O', 'binary', elf, bin]);
    const dis = execFileSync('objdump', ['-d', elf], { encoding: 'utf8' });
    for (const mn of ['pcmpeqb', 'pmovmskb', 'movdqa', 'movups']) expect(dis).toContain(mn);
    const m = machine('long', new Uint8Array(readFileSync(bin)));
    m.cpu.rip = Number(readFileSync(elf).readBigUInt64LE(0x18)); // ELF e_entry (_start)
    expect(m.cpu.run(50_000_000)).toBe('halted');
    expect(m.cpu.unimplemented).toEqual([]);
    expect(excVector(m)).toBe(-1);
    expect(m.mem.read32(0x500c)).toBe(0x600d);
    expect(m.mem.read32(0x5004)).toBe(80 * 6 * 4);
    expect(m.mem.read32(0x5000)).toBe(0); // memcpy/memset mismatches
    expect(m.mem.read32(0x5008)).toBe(0); // strlen mismatches
  });
});

describe.skipIf(!hasNasm)('SSE faults', () => {
  const cases: Array<[string, string, number]> = [
    ['MOVDQA from a misaligned address', 'movdqa xmm0, [0x3008]', GP],
    ['PXOR with a misaligned m128', 'pxor xmm0, [0x3004]', GP],
    ['MOVAPS store misaligned', 'movaps [0x3001], xmm0', GP],
    ['FXSAVE misaligned', 'fxsave [0x3008]', GP],
    ['XSAVE not 64-byte aligned', 'mov rax, cr4\nbts eax, 18\nmov cr4, rax\nxsave [0x3010]', GP],
    ['LDMXCSR with reserved bit 16', 'mov dword [0x3000], 0x11f80\nldmxcsr [0x3000]', GP],
    ['XSETBV without x87', 'mov rax, cr4\nbts eax, 18\nmov cr4, rax\nxor ecx, ecx\nxor edx, edx\nmov eax, 2\nxsetbv', GP],
    ['XSETBV with AVX', 'mov rax, cr4\nbts eax, 18\nmov cr4, rax\nxor ecx, ecx\nxor edx, edx\nmov eax, 7\nxsetbv', GP],
    ['XGETBV with CR4.OSXSAVE clear', 'xor ecx, ecx\nxgetbv', UD],
    ['SSE with CR0.TS', 'mov rax, cr0\nbts eax, 3\nmov cr0, rax\npxor xmm0, xmm1', NM],
    ['SSE with CR0.EM', 'mov rax, cr0\nbts eax, 2\nmov cr0, rax\npxor xmm0, xmm1', UD],
    ['SSE with CR4.OSFXSR clear', 'mov rax, cr4\nbtr eax, 9\nmov cr4, rax\nmovdqu xmm0, xmm1', UD],
    ['x87 control with CR0.TS', 'mov rax, cr0\nbts eax, 3\nmov cr0, rax\nfninit', NM],
    ['FWAIT with CR0.MP and CR0.TS', 'mov rax, cr0\nor eax, 0xa\nmov cr0, rax\nfwait', NM],
    ['RDFSBASE without CR4.FSGSBASE', 'rdfsbase rax', UD],
    ['WRGSBASE non-canonical', 'mov rax, cr4\nbts eax, 16\nmov cr4, rax\nmov rax, 1 << 63\nwrgsbase rax', GP],
  ];
  for (const [what, code, vec] of cases) {
    it(`${what} → ${vec === GP ? '#GP(0)' : vec === UD ? '#UD' : '#NM'}`, () => {
      const m = run('long', `${code}\nmov r15d, 1\nhlt`);
      expect(excVector(m)).toBe(vec);
      expect(m.cpu.lo[15]).toBe(0);
      if (vec === GP) expect(errorCode64(m)).toBe(0);
    });
  }
});

describe.skipIf(!hasNasm)('FXSAVE / XSAVE state layout (SDM vol. 1 §10.5.1 table 10-2, §13.4)', () => {
  it('FXSAVE writes FCW/FSW/FTW/MXCSR/MXCSR_MASK/XMM0-15 at the table\'s offsets; FXRSTOR brings them back', () => {
    const m = run('long', `
      mov word [0x2000], 0x027f
      fldcw [0x2000]
      mov dword [0x2004], 0x1fa0
      ldmxcsr [0x2004]
      mov rax, 0x0123456789abcdef
      movq xmm0, rax
      pinsrw xmm0, eax, 7
      mov rax, -1
      movq xmm15, rax
      fxsave [0x3000]
      pxor xmm0, xmm0
      pxor xmm15, xmm15
      fninit
      mov dword [0x2004], 0x1f80
      ldmxcsr [0x2004]
      fxrstor [0x3000]
      fnstcw [0x2010]
      stmxcsr [0x2014]
      movq rbx, xmm0
      movq rcx, xmm15
      hlt`);
    expect(excVector(m)).toBe(-1);
    const b = m.mem.peek(0x3000, 512);
    const u16 = (o: number) => b[o] | (b[o + 1] << 8), u32 = (o: number) => (u16(o) | (u16(o + 2) << 16)) >>> 0;
    expect(u16(0)).toBe(0x027f); // FCW
    expect(u16(2)).toBe(0); // FSW
    expect(b[4]).toBe(0); // abridged FTW: all empty
    expect(u32(24)).toBe(0x1fa0); // MXCSR
    expect(u32(28)).toBe(0xffff); // MXCSR_MASK
    expect(u32(160)).toBe(0x89abcdef); expect(u32(164)).toBe(0x01234567); expect(u16(174)).toBe(0xcdef); // XMM0
    expect(u32(160 + 15 * 16)).toBe(0xffffffff); // XMM15 at 400
    expect(m.mem.read16(0x2010)).toBe(0x027f);
    expect(m.mem.read32(0x2014)).toBe(0x1fa0);
    expect(m.cpu.lo[3]).toBe(0x89abcdef);
    expect(m.cpu.lo[1]).toBe(0xffffffff);
  });
  it('XSAVE sets XSTATE_BV for the requested components; XRSTOR with XSTATE_BV[1] = 0 initializes XMM', () => {
    const m = run('long', `
      mov rax, cr4
      bts eax, 18
      mov cr4, rax
      xor ecx, ecx
      xor edx, edx
      mov eax, 3
      xsetbv
      mov rax, 0x55aa
      movq xmm3, rax
      mov edi, 0x4000
      xor eax, eax
      mov ecx, 576 / 4
      rep stosd
      mov eax, 2
      xor edx, edx
      xsave [0x4000]
      mov r8d, [0x4000 + 512]
      mov r9d, [0x4000 + 160 + 3 * 16]
      mov dword [0x4000 + 512], 1
      mov eax, 3
      xrstor [0x4000]
      movq r10, xmm3
      mov dword [0x4000 + 520], 1
      xrstor [0x4000]
      hlt`);
    expect(m.cpu.lo[8]).toBe(2);
    expect(m.cpu.lo[9]).toBe(0x55aa);
    expect(m.cpu.lo[10]).toBe(0);
    expect(excVector(m)).toBe(GP); // XCOMP_BV (header bytes 8..15) non-zero
  });
});

describe.skipIf(!native)('x87 control instructions against the host CPU', () => {
  it('FNINIT/FLDCW/FNSTCW/FNSTSW/FNCLEX/FNSTENV give the host\'s values', () => {
    const body = `
      fninit
      fnstcw [rdi]
      fnstsw [rdi + 2]
      mov word [rdi + 4], 0x0000
      fldcw [rdi + 4]
      fnstcw [rdi + 6]
      mov word [rdi + 8], 0xffff
      fldcw [rdi + 8]
      fnstcw [rdi + 10]
      fninit
      fnstenv [rdi + 16]
      fnstcw [rdi + 12]
      fnclex
      fnstsw ax
      mov [rdi + 14], ax
      fninit
      ret`;
    const exe = join(TMP, 'x87-native');
    writeFileSync(join(TMP, 'x87.asm'), `[bits 64]\nsection .text\nglobal x87ctl\nx87ctl:\n${body}\n`);
    execFileSync('nasm', ['-f', 'elf64', '-o', join(TMP, 'x87.o'), join(TMP, 'x87.asm')]);
    writeFileSync(join(TMP, 'x87.c'), '#include <stdio.h>\nvoid x87ctl(unsigned char*);\nint main(void){unsigned char b[64]={0};x87ctl(b);for(int i=0;i<44;i++)printf("%d ",b[i]);return 0;}\n');
    execFileSync('gcc', ['-o', exe, join(TMP, 'x87.c'), join(TMP, 'x87.o'), '-Wl,-z,noexecstack']);
    const want = execFileSync(exe, { encoding: 'utf8' }).trim().split(' ').map(Number);
    const m = run('long', `mov rdi, 0x3000\ncall f\nhlt\nf:\n${body}`);
    expect(excVector(m)).toBe(-1);
    // Bytes 16+12..16+27 of the FNSTENV image hold FIP/FCS/FOP/FDP/FDS, which depend on the host's last x87 op.
    const got = [...m.mem.peek(0x3000, 44)];
    expect(got.slice(0, 28)).toEqual(want.slice(0, 28));
  });
});

describe.skipIf(!hasNasm)('unimplemented x87 and SSE arithmetic', () => {
  const cases: Array<[string, string, number[], RegExp]> = [
    ['FADD ST0, ST1', 'fadd st0, st1', [0xd8, 0xc1], /x87 arithmetic FADD/],
    ['FLD m64fp', 'fld qword [0x3000]', [0xdd, 0x04, 0x25], /x87 arithmetic FLD m64fp/],
    ['FSIN', 'fsin', [0xd9, 0xfe], /x87 arithmetic FSIN/],
    ['ADDPS', 'addps xmm0, xmm1', [0x0f, 0x58, 0xc1], /SSE floating-point arithmetic ADDPS/],
    ['MULSD', 'mulsd xmm0, xmm1', [0xf2, 0x0f, 0x59, 0xc1], /SSE floating-point arithmetic MULSD/],
    ['CVTSI2SD', 'cvtsi2sd xmm0, eax', [0xf2, 0x0f, 0x2a, 0xc0], /CVT/],
    ['MMX PADDB', 'paddb mm0, mm1', [0x0f, 0xfc, 0xc1], /MMX/],
  ];
  for (const [what, code, bytes, reason] of cases) {
    it(`${what} is reported with its bytes and raises #UD`, () => {
      const m = run('long', `${code}\nhlt`);
      expect(excVector(m)).toBe(UD);
      const r = m.cpu.unimplemented.at(-1)!;
      expect(r.reason).toMatch(reason);
      expect(r.bytes.slice(0, bytes.length)).toEqual(bytes);
      expect(r.rip).toBe(0x100000);
    });
  }
});
