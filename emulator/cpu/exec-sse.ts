// SSE/SSE2 integer and move instructions, FXSAVE/XSAVE state, MXCSR, fences, FS/GS base access and x87 control (SDM vol. 1 ch. 10-13, vol. 2).
import { Cpu } from './cpu.js';
import { Insn, FS, GS, RAX, RDI, MAP_0F } from './insn.js';
import { CR0_EM, CR0_MP, CR0_NE, CR0_TS, CR4_FSGSBASE, CR4_OSFXSR, CR4_OSXSAVE, EXC_GP, EXC_MF, EXC_NM, EXC_UD } from './regs.js';
import { ACC_READ } from './paging.js';
import { isCanonicalNum } from './msr.js';

const H = Cpu.handlers;
const TWO32 = 4294967296;

/** MXCSR bits that exist (MXCSR_MASK reported by FXSAVE, DAZ included); setting others is #GP(0) (SDM vol. 1 §10.2.3). */
export const MXCSR_MASK = 0x0000ffff;
/** x87 FPU state after FNINIT (SDM vol. 1 §8.1.x, table 8-? "FINIT/FNINIT"). */
export const FCW_INIT = 0x037f;

// ---------------------------------------------------------------- checks

/** SSE instructions: CR0.EM or !CR4.OSFXSR → #UD; CR0.TS → #NM (SDM vol. 2A §2.5, table 2-? "SSE exception conditions"). */
function sseCheck(c: Cpu): void {
  if ((c.cr0 & CR0_EM) !== 0 || (c.cr4 & CR4_OSFXSR) === 0) c.raise(EXC_UD);
  if ((c.cr0 & CR0_TS) !== 0) c.raise(EXC_NM);
}
/** x87 instructions: CR0.EM or CR0.TS → #NM (SDM vol. 3A §2.5, table 2-2). */
function x87Check(c: Cpu): void {
  if ((c.cr0 & (CR0_EM | CR0_TS)) !== 0) c.raise(EXC_NM);
}

// ---------------------------------------------------------------- register and memory access

const X = (c: Cpu) => c.xmm;
const A = new Uint32Array(4), B = new Uint32Array(4), R = new Uint32Array(4);
const A8 = new Uint8Array(A.buffer), B8 = new Uint8Array(B.buffer), R8 = new Uint8Array(R.buffer);
const A16 = new Uint16Array(A.buffer), B16 = new Uint16Array(B.buffer), R16 = new Uint16Array(R.buffer);
const Ai8 = new Int8Array(A.buffer), Bi8 = new Int8Array(B.buffer);
const Ai16 = new Int16Array(A.buffer), Bi16 = new Int16Array(B.buffer);
const Ai32 = new Int32Array(A.buffer), Bi32 = new Int32Array(B.buffer);

function loadReg(c: Cpu, r: number, out: Uint32Array): void {
  const x = X(c), o = r * 4;
  out[0] = x[o]; out[1] = x[o + 1]; out[2] = x[o + 2]; out[3] = x[o + 3];
}
function storeReg(c: Cpu, r: number, v: Uint32Array): void {
  const x = X(c), o = r * 4;
  x[o] = v[0]; x[o + 1] = v[1]; x[o + 2] = v[2]; x[o + 3] = v[3];
}
function alignCheck(c: Cpu, lin: number, n: number): void {
  if (lin % n !== 0) c.raise(EXC_GP, 0);
}
/** Read `bytes` (4, 8 or 16) of the memory operand into out[0..]; `align` → #GP(0) unless 16-byte aligned. */
function readMem(c: Cpu, i: Insn, bytes: number, align: boolean, out: Uint32Array): void {
  const lin = c.memLinear(i, bytes * 8, false);
  if (align) alignCheck(c, lin, 16);
  for (let k = 0; k < bytes / 4; k++) out[k] = c.read32(lin + 4 * k);
}
function writeMem(c: Cpu, i: Insn, bytes: number, align: boolean, v: Uint32Array, from = 0): void {
  const lin = c.memLinear(i, bytes * 8, true);
  if (align) alignCheck(c, lin, 16);
  c.probeWrite(lin, bytes);
  for (let k = 0; k < bytes / 4; k++) c.write32(lin + 4 * k, v[from + k]);
}
/** The xmm/m128 source operand into B. Legacy SSE requires 16-byte alignment for m128 unless `unaligned`. */
function srcB(c: Cpu, i: Insn, unaligned = false): void {
  if (i.mod === 3) loadReg(c, i.rm, B);
  else readMem(c, i, 16, !unaligned, B);
}

// ---------------------------------------------------------------- reporting

const FP_NAMES: Record<number, string> = {
  0x2a: 'CVTPI2PS/CVTSI2SS', 0x2c: 'CVTTPS2PI/CVTTSS2SI', 0x2d: 'CVTPS2PI/CVTSS2SI', 0x2e: 'UCOMISS', 0x2f: 'COMISS',
  0x51: 'SQRT', 0x52: 'RSQRT', 0x53: 'RCP', 0x58: 'ADD', 0x59: 'MUL', 0x5a: 'CVTPS2PD/CVTSS2SD', 0x5b: 'CVTDQ2PS/CVTPS2DQ',
  0x5c: 'SUB', 0x5d: 'MIN', 0x5e: 'DIV', 0x5f: 'MAX', 0xc2: 'CMP', 0xe6: 'CVTDQ2PD/CVTPD2DQ', 0x7c: 'HADD', 0x7d: 'HSUB',
  0xd0: 'ADDSUB',
};
const SUFFIX: Record<number, string> = { 0: 'PS', 0x66: 'PD', 0xf3: 'SS', 0xf2: 'SD' };

function fpArith(c: Cpu, i: Insn): never {
  sseCheck(c);
  const op = i.opcode & 0xff;
  return c.unimplementedOp(`SSE floating-point arithmetic ${FP_NAMES[op]}${op >= 0x51 && op <= 0x5f || op === 0xc2 ? SUFFIX[i.mandatory] : ''} (0F ${hex(op)}) not implemented`);
}
function mmx(c: Cpu, i: Insn): never {
  return c.unimplementedOp(`MMX instruction 0F ${hex(i.opcode & 0xff)} (no 66 prefix: MMX registers) not implemented`);
}
function hex(v: number): string {
  return v.toString(16).toUpperCase().padStart(2, '0');
}

// ---------------------------------------------------------------- moves

/** 0F 10/11 with the mandatory prefix: MOVUPS/MOVUPD/MOVSS/MOVSD (SDM vol. 2B). */
H[MAP_0F + 0x10] = (c, i) => {
  sseCheck(c);
  const p = i.mandatory;
  if (p === 0 || p === 0x66) { srcB(c, i, true); storeReg(c, i.reg, B); return; }
  const n = p === 0xf3 ? 1 : 2; // dwords
  const x = X(c), d = i.reg * 4;
  if (i.mod === 3) { for (let k = 0; k < n; k++) x[d + k] = x[i.rm * 4 + k]; return; }
  readMem(c, i, n * 4, false, B);
  for (let k = 0; k < 4; k++) x[d + k] = k < n ? B[k] : 0; // a memory source zeroes the rest
};
H[MAP_0F + 0x11] = (c, i) => {
  sseCheck(c);
  const p = i.mandatory;
  loadReg(c, i.reg, A);
  if (p === 0 || p === 0x66) {
    if (i.mod === 3) storeReg(c, i.rm, A); else writeMem(c, i, 16, false, A);
    return;
  }
  const n = p === 0xf3 ? 1 : 2;
  if (i.mod === 3) { const x = X(c); for (let k = 0; k < n; k++) x[i.rm * 4 + k] = A[k]; return; }
  writeMem(c, i, n * 4, false, A);
};
// 0F 12: MOVLPS/MOVLPD xmm, m64; MOVHLPS xmm, xmm. 0F 16: MOVHPS/MOVHPD xmm, m64; MOVLHPS xmm, xmm.
H[MAP_0F + 0x12] = (c, i) => {
  sseCheck(c);
  if (i.mandatory === 0xf3 || i.mandatory === 0xf2) c.unimplementedOp(`SSE3 ${i.mandatory === 0xf3 ? 'MOVSLDUP' : 'MOVDDUP'} not implemented`);
  const x = X(c), d = i.reg * 4;
  if (i.mod === 3) { x[d] = x[i.rm * 4 + 2]; x[d + 1] = x[i.rm * 4 + 3]; return; }
  readMem(c, i, 8, false, B); x[d] = B[0]; x[d + 1] = B[1];
};
H[MAP_0F + 0x16] = (c, i) => {
  sseCheck(c);
  if (i.mandatory === 0xf3) c.unimplementedOp('SSE3 MOVSHDUP not implemented');
  const x = X(c), d = i.reg * 4;
  if (i.mod === 3) { x[d + 2] = x[i.rm * 4]; x[d + 3] = x[i.rm * 4 + 1]; return; }
  readMem(c, i, 8, false, B); x[d + 2] = B[0]; x[d + 3] = B[1];
};
H[MAP_0F + 0x13] = (c, i) => { sseCheck(c); loadReg(c, i.reg, A); writeMem(c, i, 8, false, A, 0); };
H[MAP_0F + 0x17] = (c, i) => { sseCheck(c); loadReg(c, i.reg, A); writeMem(c, i, 8, false, A, 2); };
// UNPCKLPS/UNPCKHPS (0F 14/15), UNPCKLPD/UNPCKHPD (66): interleave dwords / qwords.
H[MAP_0F + 0x14] = H[MAP_0F + 0x15] = (c, i) => {
  sseCheck(c); srcB(c, i); loadReg(c, i.reg, A);
  const hi = (i.opcode & 1) !== 0 ? 2 : 0;
  if (i.mandatory === 0x66) { R[0] = A[hi]; R[1] = A[hi + 1]; R[2] = B[hi]; R[3] = B[hi + 1]; }
  else { R[0] = A[hi]; R[1] = B[hi]; R[2] = A[hi + 1]; R[3] = B[hi + 1]; }
  storeReg(c, i.reg, R);
};
// MOVAPS/MOVAPD (aligned).
H[MAP_0F + 0x28] = (c, i) => { sseCheck(c); srcB(c, i); storeReg(c, i.reg, B); };
H[MAP_0F + 0x29] = (c, i) => {
  sseCheck(c); loadReg(c, i.reg, A);
  if (i.mod === 3) storeReg(c, i.rm, A); else writeMem(c, i, 16, true, A);
};
// MOVNTPS/MOVNTPD (non-temporal hint; aligned store). F3/F2 forms are AMD SSE4a.
H[MAP_0F + 0x2b] = (c, i) => {
  sseCheck(c);
  if (i.mandatory === 0xf3 || i.mandatory === 0xf2) c.unimplementedOp('SSE4a MOVNTSS/MOVNTSD not implemented');
  loadReg(c, i.reg, A); writeMem(c, i, 16, true, A);
};
// MOVNTI m32/m64, r (SSE2; not an SSE register instruction: no CR0/CR4 checks).
H[MAP_0F + 0xc3] = (c, i) => { const v = c.getReg(i.reg, i.opSize); c.writeRM(i, i.opSize, v, c.vh); };
// MOVMSKPS/MOVMSKPD r32, xmm.
H[MAP_0F + 0x50] = (c, i) => {
  sseCheck(c); loadReg(c, i.rm, B);
  const v = i.mandatory === 0x66 ? (B[1] >>> 31) | ((B[3] >>> 31) << 1)
    : (B[0] >>> 31) | ((B[1] >>> 31) << 1) | ((B[2] >>> 31) << 2) | ((B[3] >>> 31) << 3);
  c.setReg(i.reg, 32, v, 0);
};
// MOVD/MOVQ xmm, r/m32/64 (66 0F 6E) and r/m32/64, xmm (66 0F 7E); MOVQ xmm, xmm/m64 (F3 0F 7E).
H[MAP_0F + 0x6e] = (c, i) => {
  if (i.mandatory !== 0x66) mmx(c, i);
  sseCheck(c);
  const v = c.readRM(i, i.opSize === 64 ? 64 : 32), vh = i.opSize === 64 ? c.vh : 0;
  R[0] = v; R[1] = vh; R[2] = 0; R[3] = 0;
  storeReg(c, i.reg, R);
};
H[MAP_0F + 0x7e] = (c, i) => {
  if (i.mandatory === 0xf3) { sseCheck(c); movqLoad(c, i); return; }
  if (i.mandatory !== 0x66) mmx(c, i);
  sseCheck(c);
  const x = X(c), s = i.reg * 4;
  if (i.opSize === 64) c.writeRM(i, 64, x[s], x[s + 1]);
  else c.writeRM(i, 32, x[s], 0);
};
function movqLoad(c: Cpu, i: Insn): void {
  if (i.mod === 3) loadReg(c, i.rm, B); else readMem(c, i, 8, false, B);
  R[0] = B[0]; R[1] = B[1]; R[2] = 0; R[3] = 0;
  storeReg(c, i.reg, R);
}
// MOVQ xmm/m64, xmm (66 0F D6): a register destination has its upper half zeroed.
H[MAP_0F + 0xd6] = (c, i) => {
  if (i.mandatory !== 0x66) mmx(c, i); // F3/F2: MOVQ2DQ / MOVDQ2Q
  sseCheck(c);
  loadReg(c, i.reg, A);
  if (i.mod === 3) { R[0] = A[0]; R[1] = A[1]; R[2] = 0; R[3] = 0; storeReg(c, i.rm, R); }
  else writeMem(c, i, 8, false, A);
};
// MOVDQA (66) / MOVDQU (F3).
H[MAP_0F + 0x6f] = (c, i) => {
  if (i.mandatory === 0) mmx(c, i);
  sseCheck(c); srcB(c, i, i.mandatory === 0xf3); storeReg(c, i.reg, B);
};
H[MAP_0F + 0x7f] = (c, i) => {
  if (i.mandatory === 0) mmx(c, i);
  sseCheck(c); loadReg(c, i.reg, A);
  if (i.mod === 3) storeReg(c, i.rm, A); else writeMem(c, i, 16, i.mandatory === 0x66, A);
};
// MOVNTDQ m128, xmm (66 0F E7).
H[MAP_0F + 0xe7] = (c, i) => {
  if (i.mandatory !== 0x66) mmx(c, i);
  sseCheck(c); loadReg(c, i.reg, A); writeMem(c, i, 16, true, A);
};
// MASKMOVDQU xmm, xmm (66 0F F7): byte-masked store to DS:rDI.
H[MAP_0F + 0xf7] = (c, i) => {
  if (i.mandatory !== 0x66) mmx(c, i);
  sseCheck(c); loadReg(c, i.reg, A); loadReg(c, i.rm, B);
  const as = i.addrSize;
  const di = as === 64 ? c.regNumber(RDI) : as === 32 ? c.lo[RDI] : c.lo[RDI] & 0xffff;
  const lin = c.segLinear(i.seg, di, 16, true);
  for (let k = 0; k < 16; k++) if ((B8[k] & 0x80) !== 0) c.write8(lin + k, A8[k]);
};

// ---------------------------------------------------------------- logic (PS/PD and integer forms)

type Lanes = (c: Cpu) => void;
/** Register a 66-prefixed integer op on A (dest) and B (source) writing R; no prefix is MMX. */
function int66(op: number, f: Lanes): void {
  H[MAP_0F + op] = (c, i) => {
    if (i.mandatory !== 0x66) mmx(c, i);
    sseCheck(c); loadReg(c, i.reg, A); srcB(c, i);
    f(c);
    storeReg(c, i.reg, R);
  };
}
const and = () => { for (let k = 0; k < 4; k++) R[k] = A[k] & B[k]; };
const andn = () => { for (let k = 0; k < 4; k++) R[k] = ~A[k] & B[k]; };
const or = () => { for (let k = 0; k < 4; k++) R[k] = A[k] | B[k]; };
const xor = () => { for (let k = 0; k < 4; k++) R[k] = A[k] ^ B[k]; };
// ANDPS/ANDNPS/ORPS/XORPS (none) and ANDPD/ANDNPD/ORPD/XORPD (66): bitwise, no FP semantics.
[and, andn, or, xor].forEach((f, k) => {
  H[MAP_0F + 0x54 + k] = (c, i) => { sseCheck(c); loadReg(c, i.reg, A); srcB(c, i); f(); storeReg(c, i.reg, R); };
});
int66(0xdb, and); int66(0xdf, andn); int66(0xeb, or); int66(0xef, xor);

// ---------------------------------------------------------------- integer arithmetic and compares

function lanes8(f: (a: number, b: number, k: number) => number): Lanes { return () => { for (let k = 0; k < 16; k++) R8[k] = f(A8[k], B8[k], k); }; }
function lanes16(f: (a: number, b: number, k: number) => number): Lanes { return () => { for (let k = 0; k < 8; k++) R16[k] = f(A16[k], B16[k], k); }; }
function lanes32(f: (a: number, b: number) => number): Lanes { return () => { for (let k = 0; k < 4; k++) R[k] = f(A[k], B[k]); }; }
const sat = (v: number, lo: number, hi: number) => (v < lo ? lo : v > hi ? hi : v);

int66(0xfc, lanes8((a, b) => a + b)); int66(0xfd, lanes16((a, b) => a + b)); int66(0xfe, lanes32((a, b) => a + b));
int66(0xf8, lanes8((a, b) => a - b)); int66(0xf9, lanes16((a, b) => a - b)); int66(0xfa, lanes32((a, b) => a - b));
int66(0xd4, () => { for (let k = 0; k < 4; k += 2) { const lo = A[k] + B[k]; R[k] = lo >>> 0; R[k + 1] = (A[k + 1] + B[k + 1] + (lo >= TWO32 ? 1 : 0)) >>> 0; } }); // PADDQ
int66(0xfb, () => { for (let k = 0; k < 4; k += 2) { const lo = A[k] - B[k]; R[k] = lo >>> 0; R[k + 1] = (A[k + 1] - B[k + 1] - (lo < 0 ? 1 : 0)) >>> 0; } }); // PSUBQ
int66(0xdc, lanes8((a, b) => sat(a + b, 0, 255))); int66(0xdd, lanes16((a, b) => sat(a + b, 0, 65535))); // PADDUSB/W
int66(0xd8, lanes8((a, b) => sat(a - b, 0, 255))); int66(0xd9, lanes16((a, b) => sat(a - b, 0, 65535))); // PSUBUSB/W
int66(0xec, lanes8((_a, _b, k) => sat(Ai8[k] + Bi8[k], -128, 127))); int66(0xed, lanes16((_a, _b, k) => sat(Ai16[k] + Bi16[k], -32768, 32767))); // PADDSB/W
int66(0xe8, lanes8((_a, _b, k) => sat(Ai8[k] - Bi8[k], -128, 127))); int66(0xe9, lanes16((_a, _b, k) => sat(Ai16[k] - Bi16[k], -32768, 32767))); // PSUBSB/W
int66(0xda, lanes8((a, b) => Math.min(a, b))); int66(0xde, lanes8((a, b) => Math.max(a, b))); // PMINUB/PMAXUB
int66(0xea, lanes16((_a, _b, k) => Math.min(Ai16[k], Bi16[k]))); int66(0xee, lanes16((_a, _b, k) => Math.max(Ai16[k], Bi16[k]))); // PMINSW/PMAXSW
int66(0xe0, lanes8((a, b) => (a + b + 1) >>> 1)); int66(0xe3, lanes16((a, b) => (a + b + 1) >>> 1)); // PAVGB/PAVGW
int66(0xd5, lanes16((_a, _b, k) => Math.imul(Ai16[k], Bi16[k]))); // PMULLW
int66(0xe5, lanes16((_a, _b, k) => Math.imul(Ai16[k], Bi16[k]) >> 16)); // PMULHW
int66(0xe4, lanes16((a, b) => (a * b) >>> 16)); // PMULHUW
int66(0xf4, () => { // PMULUDQ: low dwords of each qword, 64-bit products
  for (let k = 0; k < 4; k += 2) { const p = BigInt(A[k]) * BigInt(B[k]); R[k] = Number(p & 0xffffffffn); R[k + 1] = Number(p >> 32n); }
});
int66(0xf5, () => { for (let k = 0; k < 4; k++) R[k] = (Ai16[2 * k] * Bi16[2 * k] + Ai16[2 * k + 1] * Bi16[2 * k + 1]) >>> 0; }); // PMADDWD
int66(0xf6, () => { // PSADBW
  for (let q = 0; q < 2; q++) { let s = 0; for (let k = 0; k < 8; k++) s += Math.abs(A8[q * 8 + k] - B8[q * 8 + k]); R[q * 2] = s; R[q * 2 + 1] = 0; }
});
int66(0x74, lanes8((a, b) => (a === b ? 0xff : 0))); int66(0x75, lanes16((a, b) => (a === b ? 0xffff : 0)));
int66(0x76, lanes32((a, b) => (a === b ? 0xffffffff : 0)));
int66(0x64, lanes8((_a, _b, k) => (Ai8[k] > Bi8[k] ? 0xff : 0))); int66(0x65, lanes16((_a, _b, k) => (Ai16[k] > Bi16[k] ? 0xffff : 0)));
int66(0x66, () => { for (let k = 0; k < 4; k++) R[k] = Ai32[k] > Bi32[k] ? 0xffffffff : 0; });

// Packs (SDM vol. 2B PACKSSWB/PACKUSWB/PACKSSDW): destination lanes first, then source.
int66(0x63, () => { for (let k = 0; k < 8; k++) { R8[k] = sat(Ai16[k], -128, 127); R8[k + 8] = sat(Bi16[k], -128, 127); } });
int66(0x67, () => { for (let k = 0; k < 8; k++) { R8[k] = sat(Ai16[k], 0, 255); R8[k + 8] = sat(Bi16[k], 0, 255); } });
int66(0x6b, () => { for (let k = 0; k < 4; k++) { R16[k] = sat(Ai32[k], -32768, 32767); R16[k + 4] = sat(Bi32[k], -32768, 32767); } });

// Unpacks: interleave the low (L) or high (H) halves of destination and source.
function unpack(size: number, high: boolean): Lanes {
  return () => {
    const n = 8 / size; // elements per half
    const base = high ? 8 : 0;
    for (let k = 0; k < n; k++) for (let b = 0; b < size; b++) {
      R8[2 * k * size + b] = A8[base + k * size + b];
      R8[(2 * k + 1) * size + b] = B8[base + k * size + b];
    }
  };
}
int66(0x60, unpack(1, false)); int66(0x61, unpack(2, false)); int66(0x62, unpack(4, false)); int66(0x6c, unpack(8, false));
int66(0x68, unpack(1, true)); int66(0x69, unpack(2, true)); int66(0x6a, unpack(4, true)); int66(0x6d, unpack(8, true));

// PMOVMSKB r32, xmm (66 0F D7).
H[MAP_0F + 0xd7] = (c, i) => {
  if (i.mandatory !== 0x66) mmx(c, i);
  sseCheck(c); loadReg(c, i.rm, B);
  let m = 0;
  for (let k = 0; k < 16; k++) m |= (B8[k] >>> 7) << k;
  c.setReg(i.reg, 32, m, 0);
};

// ---------------------------------------------------------------- shuffles and inserts

// PSHUFD (66), PSHUFHW (F3), PSHUFLW (F2) xmm, xmm/m128, imm8.
H[MAP_0F + 0x70] = (c, i) => {
  if (i.mandatory === 0) mmx(c, i);
  sseCheck(c); srcB(c, i);
  const n = i.imm & 0xff;
  if (i.mandatory === 0x66) for (let k = 0; k < 4; k++) R[k] = B[(n >>> (2 * k)) & 3];
  else {
    R.set(B);
    const off = i.mandatory === 0xf3 ? 4 : 0;
    for (let k = 0; k < 4; k++) R16[off + k] = B16[off + ((n >>> (2 * k)) & 3)];
  }
  storeReg(c, i.reg, R);
};
// SHUFPS (none) / SHUFPD (66) xmm, xmm/m128, imm8.
H[MAP_0F + 0xc6] = (c, i) => {
  sseCheck(c); loadReg(c, i.reg, A); srcB(c, i);
  const n = i.imm & 0xff;
  if (i.mandatory === 0x66) {
    const a = (n & 1) * 2, b = ((n >>> 1) & 1) * 2;
    R[0] = A[a]; R[1] = A[a + 1]; R[2] = B[b]; R[3] = B[b + 1];
  } else {
    R[0] = A[n & 3]; R[1] = A[(n >>> 2) & 3]; R[2] = B[(n >>> 4) & 3]; R[3] = B[(n >>> 6) & 3];
  }
  storeReg(c, i.reg, R);
};
// PINSRW xmm, r32/m16, imm8 and PEXTRW r32, xmm, imm8 (66).
H[MAP_0F + 0xc4] = (c, i) => {
  if (i.mandatory !== 0x66) mmx(c, i);
  sseCheck(c);
  const v = i.mod === 3 ? c.lo[i.rm] & 0xffff : c.readRM(i, 16);
  loadReg(c, i.reg, R); R16[i.imm & 7] = v; storeReg(c, i.reg, R);
};
H[MAP_0F + 0xc5] = (c, i) => {
  if (i.mandatory !== 0x66) mmx(c, i);
  sseCheck(c); loadReg(c, i.rm, B);
  c.setReg(i.reg, 32, B16[i.imm & 7], 0);
};

// ---------------------------------------------------------------- shifts

/** Logical/arithmetic shifts of 16/32/64-bit lanes of A by `count` into R (counts beyond the width give 0 / sign). */
function shiftLanes(size: number, kind: 'l' | 'r' | 'a', count: number): void {
  if (size === 64) {
    for (let k = 0; k < 4; k += 2) {
      const v = (BigInt(A[k + 1]) << 32n) | BigInt(A[k]);
      const r = count > 63 ? 0n : kind === 'l' ? (v << BigInt(count)) & 0xffffffffffffffffn : v >> BigInt(count);
      R[k] = Number(r & 0xffffffffn); R[k + 1] = Number(r >> 32n);
    }
    return;
  }
  if (size === 32) {
    for (let k = 0; k < 4; k++) {
      if (kind === 'a') R[k] = Ai32[k] >> Math.min(count, 31);
      else R[k] = count > 31 ? 0 : kind === 'l' ? A[k] << count : A[k] >>> count;
    }
    return;
  }
  for (let k = 0; k < 8; k++) {
    if (kind === 'a') R16[k] = Ai16[k] >> Math.min(count, 15);
    else R16[k] = count > 15 ? 0 : kind === 'l' ? A16[k] << count : A16[k] >>> count;
  }
}
/** The 64-bit count of PSLL/PSRL/PSRA xmm, xmm/m128 (low qword of the source), clamped. */
function countFromB(): number {
  return B[1] !== 0 || B[0] > 255 ? 255 : B[0];
}
const SHIFT_BY_XMM: Array<[number, number, 'l' | 'r' | 'a']> = [
  [0xd1, 16, 'r'], [0xd2, 32, 'r'], [0xd3, 64, 'r'], [0xe1, 16, 'a'], [0xe2, 32, 'a'], [0xf1, 16, 'l'], [0xf2, 32, 'l'], [0xf3, 64, 'l'],
];
for (const [op, size, kind] of SHIFT_BY_XMM) int66(op, () => shiftLanes(size, kind, countFromB()));

// Groups 12/13/14 (66 0F 71/72/73 /n ib): shifts by immediate; PSRLDQ/PSLLDQ shift the whole register by bytes.
function shiftImm(size: number, table: Record<number, 'l' | 'r' | 'a' | 'rdq' | 'ldq'>): (c: Cpu, i: Insn) => void {
  return (c, i) => {
    if (i.mandatory !== 0x66) mmx(c, i);
    const kind = table[i.reg & 7];
    if (kind === undefined) c.raise(EXC_UD);
    sseCheck(c);
    loadReg(c, i.rm, A);
    const n = i.imm & 0xff;
    if (kind === 'rdq' || kind === 'ldq') {
      const s = Math.min(n, 16);
      for (let k = 0; k < 16; k++) {
        const from = kind === 'rdq' ? k + s : k - s;
        R8[k] = from >= 0 && from < 16 ? A8[from] : 0;
      }
    } else shiftLanes(size, kind, n);
    storeReg(c, i.rm, R);
  };
}
H[MAP_0F + 0x71] = shiftImm(16, { 2: 'r', 4: 'a', 6: 'l' });
H[MAP_0F + 0x72] = shiftImm(32, { 2: 'r', 4: 'a', 6: 'l' });
H[MAP_0F + 0x73] = shiftImm(64, { 2: 'r', 3: 'rdq', 6: 'l', 7: 'ldq' });

// ---------------------------------------------------------------- not implemented: FP arithmetic, SSE3+, MMX-only

for (const op of [0x2a, 0x2c, 0x2d, 0x2e, 0x2f, 0x51, 0x52, 0x53, 0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0xc2, 0xe6, 0x7c, 0x7d, 0xd0]) {
  H[MAP_0F + op] = fpArith;
}
H[MAP_0F + 0x77] = (c, i) => mmx(c, i); // EMMS
H[MAP_0F + 0xf0] = (c) => { sseCheck(c); c.unimplementedOp('SSE3 LDDQU not implemented'); };

// ---------------------------------------------------------------- FXSAVE / FXRSTOR / XSAVE / XRSTOR (SDM vol. 1 §10.5, ch. 13)

/** Full x87 tag (2 bits per physical register) from the abridged tag and register contents (SDM vol. 1 §8.1.7). */
function fullTagWord(c: Cpu): number {
  const top = (c.fsw >>> 11) & 7;
  let tw = 0;
  for (let p = 0; p < 8; p++) {
    let t = 3; // empty
    if ((c.ftw >>> p) & 1) {
      const st = (p - top + 8) & 7; // physical register p is ST(st)
      const o = st * 10;
      const exp = (c.st[o + 8] | (c.st[o + 9] << 8)) & 0x7fff;
      let mantZero = true;
      for (let k = 0; k < 8; k++) if (c.st[o + k] !== 0) mantZero = false;
      const integer = (c.st[o + 7] & 0x80) !== 0;
      if (exp === 0x7fff) t = 2;
      else if (exp === 0) t = mantZero ? 1 : 2;
      else t = integer ? 0 : 2;
    }
    tw |= t << (2 * p);
  }
  return tw;
}
function abridgedTag(full: number): number {
  let t = 0;
  for (let p = 0; p < 8; p++) if (((full >>> (2 * p)) & 3) !== 3) t |= 1 << p;
  return t;
}

/** Write the legacy-region x87 part (bytes 0..23 except MXCSR, 32..159) at lin. FOP/FIP/FDP are not tracked: stored as 0. */
function saveX87(c: Cpu, lin: number): void {
  c.write16(lin, c.fcw); c.write16(lin + 2, c.fsw); c.write8(lin + 4, c.ftw & 0xff); c.write8(lin + 5, 0);
  c.write16(lin + 6, 0); // FOP
  for (let k = 8; k < 24; k += 4) c.write32(lin + k, 0); // FIP, FCS, FDP, FDS (or 64-bit FIP/FDP)
  for (let r = 0; r < 8; r++) {
    for (let k = 0; k < 10; k++) c.write8(lin + 32 + r * 16 + k, c.st[r * 10 + k]);
    for (let k = 10; k < 16; k++) c.write8(lin + 32 + r * 16 + k, 0);
  }
}
function saveSse(c: Cpu, lin: number, withMxcsr: boolean): void {
  if (withMxcsr) { c.write32(lin + 24, c.mxcsr); c.write32(lin + 28, MXCSR_MASK); }
  const n = c.codeSize === 64 ? 16 : 8; // XMM8-15 only in 64-bit mode
  const x = X(c);
  for (let r = 0; r < n; r++) for (let k = 0; k < 4; k++) c.write32(lin + 160 + r * 16 + 4 * k, x[r * 4 + k]);
}
function loadX87(c: Cpu, lin: number): void {
  c.fcw = c.read16(lin); c.fsw = c.read16(lin + 2); c.ftw = c.read8(lin + 4);
  for (let r = 0; r < 8; r++) for (let k = 0; k < 10; k++) c.st[r * 10 + k] = c.read8(lin + 32 + r * 16 + k);
}
function loadSse(c: Cpu, lin: number): void {
  const n = c.codeSize === 64 ? 16 : 8;
  const x = X(c);
  for (let r = 0; r < n; r++) for (let k = 0; k < 4; k++) x[r * 4 + k] = c.read32(lin + 160 + r * 16 + 4 * k);
}
function initX87(c: Cpu): void {
  c.fcw = FCW_INIT; c.fsw = 0; c.ftw = 0;
}
function initSse(c: Cpu): void {
  const n = c.codeSize === 64 ? 16 : 8;
  X(c).fill(0, 0, n * 4);
}
/** Linear address of a save area of `bytes` with `align`-byte alignment (#GP(0)); checks every byte can be accessed. */
function saveArea(c: Cpu, i: Insn, bytes: number, align: number, write: boolean): number {
  const lin = c.segLinear(i.seg, c.ea(i), bytes, write);
  if (lin % align !== 0) c.raise(EXC_GP, 0);
  if (write) { c.probeWrite(lin, bytes); }
  else for (let k = 0; k < bytes; k += 4096) c.read8(lin + k);
  if (!write) c.read8(lin + bytes - 1);
  return lin;
}

function fxsave(c: Cpu, i: Insn): void {
  x87Check(c);
  const lin = saveArea(c, i, 512, 16, true);
  saveX87(c, lin);
  saveSse(c, lin, true);
}
function fxrstor(c: Cpu, i: Insn): void {
  x87Check(c);
  const lin = saveArea(c, i, 512, 16, false);
  const mx = c.read32(lin + 24);
  if ((mx & ~MXCSR_MASK) !== 0) c.raise(EXC_GP, 0);
  loadX87(c, lin);
  c.mxcsr = mx;
  loadSse(c, lin);
}

function xsaveChecks(c: Cpu): void {
  if ((c.cr4 & CR4_OSXSAVE) === 0) c.raise(EXC_UD);
  if ((c.cr0 & CR0_TS) !== 0) c.raise(EXC_NM);
}
/** XSAVE (standard form): components in RFBM = XCR0 AND EDX:EAX; XSTATE_BV bits of RFBM are set, XCOMP_BV untouched. */
function xsave(c: Cpu, i: Insn): void {
  xsaveChecks(c);
  const lin = saveArea(c, i, 576, 64, true);
  const rfbm = c.xcr0 & c.lo[RAX] & 3;
  if (rfbm & 1) saveX87(c, lin);
  if (rfbm & 2) saveSse(c, lin, true);
  const bv = c.read32(lin + 512);
  c.write32(lin + 512, ((bv & ~3) | rfbm) >>> 0);
}
function xrstor(c: Cpu, i: Insn): void {
  xsaveChecks(c);
  const lin = saveArea(c, i, 576, 64, false);
  const rfbm = c.xcr0 & c.lo[RAX] & 3;
  const bvLo = c.read32(lin + 512), bvHi = c.read32(lin + 516);
  // Header checks (SDM vol. 1 §13.8.1): XCOMP_BV[63] = 1 needs compaction support; XSTATE_BV ⊆ XCR0; bytes 23:8 zero.
  let reservedNonZero = false;
  for (let k = 520; k < 536; k += 4) if (c.read32(lin + k) !== 0) reservedNonZero = true;
  if (bvHi !== 0 || (bvLo & ~c.xcr0) !== 0 || reservedNonZero) c.raise(EXC_GP, 0);
  if (rfbm & 2) {
    const mx = c.read32(lin + 24);
    if ((mx & ~MXCSR_MASK) !== 0) c.raise(EXC_GP, 0);
    c.mxcsr = mx;
  }
  if (rfbm & 1) { if (bvLo & 1) loadX87(c, lin); else initX87(c); }
  if (rfbm & 2) { if (bvLo & 2) loadSse(c, lin); else initSse(c); }
}

// ---------------------------------------------------------------- 0F AE (group 15)

H[MAP_0F + 0xae] = (c, i) => {
  const r = i.reg & 7;
  if (i.mod === 3) {
    if (i.mandatory === 0xf3 && r <= 3) { fsgsbase(c, i, r); return; }
    if (i.mandatory === 0 && r >= 5) return; // LFENCE / MFENCE / SFENCE: ordering is trivially kept
    c.raise(EXC_UD); // INCSSP, UMONITOR/UMWAIT/TPAUSE: not enumerated
  }
  if (i.mandatory !== 0) c.raise(EXC_UD); // CLWB/CLFLUSHOPT/PTWRITE: not enumerated
  switch (r) {
    case 0: fxsave(c, i); return;
    case 1: fxrstor(c, i); return;
    case 2: { // LDMXCSR
      sseCheck(c);
      const v = c.read32(c.memLinear(i, 32, false));
      if ((v & ~MXCSR_MASK) !== 0) c.raise(EXC_GP, 0);
      c.mxcsr = v;
      return;
    }
    case 3: sseCheck(c); c.write32(c.memLinear(i, 32, true), c.mxcsr); return; // STMXCSR
    case 4: xsave(c, i); return;
    case 5: xrstor(c, i); return;
    case 6: return c.raise(EXC_UD); // XSAVEOPT: CPUID.(EAX=0DH,ECX=1):EAX[0] = 0
    default: { // CLFLUSH: the operand's segment and paging checks, then nothing (caches are not modelled)
      const lin = c.memLinear(i, 8, false);
      c.translate(lin, ACC_READ, c.cpl === 3);
    }
  }
};

/** RDFSBASE/RDGSBASE/WRFSBASE/WRGSBASE (F3 0F AE /0-/3, 64-bit mode): #UD unless CR4.FSGSBASE (SDM vol. 2C). */
function fsgsbase(c: Cpu, i: Insn, r: number): void {
  if (c.codeSize !== 64 || (c.cr4 & CR4_FSGSBASE) === 0) c.raise(EXC_UD);
  const s = (r & 1) === 0 ? FS : GS;
  if (r < 2) {
    const v = c.segBase[s];
    if (i.opSize === 64) c.setRegNumber(i.rm, v); else c.setReg(i.rm, 32, v >>> 0, 0);
    return;
  }
  const v = i.opSize === 64 ? c.regNumber(i.rm) : c.lo[i.rm];
  if (!isCanonicalNum(v)) c.raise(EXC_GP, 0);
  c.segBase[s] = v;
}

// ---------------------------------------------------------------- x87 control (SDM vol. 1 ch. 8; vol. 2 FNINIT etc.)

/** Mnemonics of x87 memory forms by opcode and ModRM.reg (SDM vol. 2D tables A-7..A-22). */
const X87_MEM: Record<number, string[]> = {
  0xd8: ['FADD m32fp', 'FMUL m32fp', 'FCOM m32fp', 'FCOMP m32fp', 'FSUB m32fp', 'FSUBR m32fp', 'FDIV m32fp', 'FDIVR m32fp'],
  0xd9: ['FLD m32fp', '', 'FST m32fp', 'FSTP m32fp', 'FLDENV', 'FLDCW', 'FNSTENV', 'FNSTCW'],
  0xda: ['FIADD m32int', 'FIMUL m32int', 'FICOM m32int', 'FICOMP m32int', 'FISUB m32int', 'FISUBR m32int', 'FIDIV m32int', 'FIDIVR m32int'],
  0xdb: ['FILD m32int', 'FISTTP m32int', 'FIST m32int', 'FISTP m32int', '', 'FLD m80fp', '', 'FSTP m80fp'],
  0xdc: ['FADD m64fp', 'FMUL m64fp', 'FCOM m64fp', 'FCOMP m64fp', 'FSUB m64fp', 'FSUBR m64fp', 'FDIV m64fp', 'FDIVR m64fp'],
  0xdd: ['FLD m64fp', 'FISTTP m64int', 'FST m64fp', 'FSTP m64fp', 'FRSTOR', '', 'FNSAVE', 'FNSTSW m16'],
  0xde: ['FIADD m16int', 'FIMUL m16int', 'FICOM m16int', 'FICOMP m16int', 'FISUB m16int', 'FISUBR m16int', 'FIDIV m16int', 'FIDIVR m16int'],
  0xdf: ['FILD m16int', 'FISTTP m16int', 'FIST m16int', 'FISTP m16int', 'FBLD m80bcd', 'FILD m64int', 'FBSTP m80bcd', 'FISTP m64int'],
};
/** Register forms by opcode and ModRM.reg (the D9/DB/DE/DF singletons are named separately). */
const X87_REG: Record<number, string[]> = {
  0xd8: ['FADD', 'FMUL', 'FCOM', 'FCOMP', 'FSUB', 'FSUBR', 'FDIV', 'FDIVR'],
  0xd9: ['FLD', 'FXCH', 'FNOP', 'FSTP1', '', '', '', ''],
  0xda: ['FCMOVB', 'FCMOVE', 'FCMOVBE', 'FCMOVU', '', 'FUCOMPP', '', ''],
  0xdb: ['FCMOVNB', 'FCMOVNE', 'FCMOVNBE', 'FCMOVNU', '', 'FUCOMI', 'FCOMI', ''],
  0xdc: ['FADD', 'FMUL', 'FCOM2', 'FCOMP3', 'FSUBR', 'FSUB', 'FDIVR', 'FDIV'],
  0xdd: ['FFREE', 'FXCH4', 'FST', 'FSTP', 'FUCOM', 'FUCOMP', '', ''],
  0xde: ['FADDP', 'FMULP', 'FCOMP5', 'FCOMPP', 'FSUBRP', 'FSUBP', 'FDIVRP', 'FDIVP'],
  0xdf: ['FFREEP', 'FXCH7', 'FSTP8', 'FSTP9', '', 'FUCOMIP', 'FCOMIP', ''],
};
const D9_SPECIAL = ['FCHS', 'FABS', '', '', 'FTST', 'FXAM', '', '', 'FLD1', 'FLDL2T', 'FLDL2E', 'FLDPI', 'FLDLG2', 'FLDLN2', 'FLDZ', '',
  'F2XM1', 'FYL2X', 'FPTAN', 'FPATAN', 'FXTRACT', 'FPREM1', 'FDECSTP', 'FINCSTP', 'FPREM', 'FYL2XP1', 'FSQRT', 'FSINCOS', 'FRNDINT',
  'FSCALE', 'FSIN', 'FCOS'];

export function x87Mnemonic(i: Insn): string {
  const op = i.opcode & 0xff, r = i.reg & 7;
  if (i.mod !== 3) return X87_MEM[op]?.[r] || 'x87';
  if (op === 0xd9 && i.modrm >= 0xe0) return D9_SPECIAL[i.modrm - 0xe0] || 'x87';
  return X87_REG[op]?.[r] || 'x87';
}

/** Recompute FSW.ES and FSW.B from the unmasked exception flags (SDM vol. 1 §8.1.3.1). */
function updateEs(c: Cpu): void {
  const pending = (c.fsw & ~c.fcw & 0x3f) !== 0;
  c.fsw = pending ? c.fsw | 0x8080 : c.fsw & ~0x8080;
}

/** FNSTENV / FLDENV environment image: 14 bytes (16-bit operand size) or 28 bytes (SDM vol. 1 §8.1.10, figs. 8-9..8-12). */
function fnstenv(c: Cpu, i: Insn): void {
  const w = i.opSize === 16 ? 2 : 4;
  const lin = c.memLinear(i, w * 7 * 8, true);
  c.probeWrite(lin, w * 7);
  const vals = [c.fcw, c.fsw, fullTagWord(c), 0, 0, 0, 0]; // FIP/FCS/FOP/FDP/FDS are not tracked
  vals.forEach((v, k) => (w === 2 ? c.write16(lin + 2 * k, v) : c.write32(lin + 4 * k, w === 4 && k < 3 ? v | 0xffff0000 : v)));
  c.fcw |= 0x3f; // FNSTENV masks all floating-point exceptions
  updateEs(c);
}
function fldenv(c: Cpu, i: Insn): void {
  const w = i.opSize === 16 ? 2 : 4;
  const lin = c.memLinear(i, w * 7 * 8, false);
  const fcw = c.read16(lin), fsw = c.read16(lin + w), ftw = c.read16(lin + 2 * w);
  c.fcw = (fcw & 0x1f3f) | 0x40; c.fsw = fsw; c.ftw = abridgedTag(ftw);
  updateEs(c);
}

function x87(c: Cpu, i: Insn): void {
  x87Check(c);
  const op = i.opcode & 0xff, r = i.reg & 7;
  if (i.mod !== 3) {
    if (op === 0xd9 && r === 7) { c.writeRM(i, 16, c.fcw, 0); return; } // FNSTCW m16
    if (op === 0xd9 && r === 5) { c.fcw = (c.readRM(i, 16) & 0x1f3f) | 0x40; updateEs(c); return; } // FLDCW m16
    if (op === 0xdd && r === 7) { c.writeRM(i, 16, c.fsw, 0); return; } // FNSTSW m16
    if (op === 0xd9 && r === 6) { fnstenv(c, i); return; }
    if (op === 0xd9 && r === 4) { fldenv(c, i); return; }
  } else {
    const m = i.modrm;
    if (op === 0xdb && m === 0xe3) { initX87(c); return; } // FNINIT
    if (op === 0xdb && m === 0xe2) { c.fsw &= 0x7f00; return; } // FNCLEX: clear exception flags, SF, ES, B
    if (op === 0xdb && (m === 0xe0 || m === 0xe1 || m === 0xe4)) return; // FNENI/FNDISI/FNSETPM: no-ops since the 80387
    if (op === 0xd9 && m === 0xd0) return; // FNOP
    if (op === 0xdf && m === 0xe0) { c.setReg(RAX, 16, c.fsw, 0); return; } // FNSTSW AX
  }
  c.unimplementedOp(`x87 arithmetic ${x87Mnemonic(i)} not implemented (only x87 control instructions are)`);
}
for (let op = 0xd8; op <= 0xdf; op++) H[op] = x87;

// FWAIT: #NM when CR0.MP and CR0.TS; #MF when an unmasked x87 exception is pending and CR0.NE (SDM vol. 2B WAIT).
H[0x9b] = (c) => {
  if ((c.cr0 & (CR0_MP | CR0_TS)) === (CR0_MP | CR0_TS)) c.raise(EXC_NM);
  if ((c.fsw & 0x80) !== 0 && (c.cr0 & CR0_NE) !== 0) c.raise(EXC_MF);
};

