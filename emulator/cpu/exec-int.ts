// General-purpose integer instructions: data movement, ALU, shifts, multiply/divide, bit ops, strings, near control flow, port I/O.
import { cond } from './cond.js';
import { Cpu, LF_ADC, LF_ADD, LF_DEC, LF_INC, LF_LOGIC, LF_NONE, LF_SBB, LF_SUB, type InstructionHandler } from './cpu.js';
import { Insn, CS, DS, ES, FS, GS, SS, RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, PFX_REP, PFX_REPNE, MAP_0F, MAP_0F38 } from './insn.js';
import { AC, AF, CF, DF, EXC_BP, EXC_DE, EXC_GP, EXC_OF, EXC_UD, ID, IF, IOPL, NT, OF, PF, RF, SF, STATUS_FLAGS, TF, VM, ZF, CR0_PE } from './regs.js';

const H = Cpu.handlers;
const TWO32 = 4294967296;

function notImplemented(c: Cpu, i: Insn): void {
  const map = i.opcode >>> 8;
  const name = map === 0 ? '' : map === 1 ? '0F ' : map === 2 ? '0F 38 ' : '0F 3A ';
  c.unimplementedOp(`opcode ${name}${(i.opcode & 0xff).toString(16).toUpperCase().padStart(2, '0')}${i.hasModrm ? ` /${i.reg & 7}` : ''} not implemented`);
}
for (let k = 0; k < 0x400; k++) H[k] = notImplemented;

// ---------------------------------------------------------------- helpers

export function maskOf(size: number): number {
  return size === 8 ? 0xff : size === 16 ? 0xffff : 0xffffffff;
}

/** Operand size for a byte/full pair of opcodes: even → 8, odd → the instruction's size. */
function sz(i: Insn): number {
  return (i.opcode & 1) === 0 ? 8 : i.opSize;
}

export function readReg(c: Cpu, r: number, size: number, rex: number): number {
  return size === 8 ? c.getReg8(r, rex) : c.getReg(r, size);
}

export function writeReg(c: Cpu, r: number, size: number, v: number, vh: number, rex: number): void {
  if (size === 8) c.setReg8(r, rex, v); else c.setReg(r, size, v, vh);
}

/** Immediate as an operand of `size`: sign-extended (imm is already int32); high half in c.vh for 64. */
function immOf(c: Cpu, i: Insn, size: number): number {
  if (size === 64) { c.vh = i.imm < 0 ? 0xffffffff : 0; return i.imm >>> 0; }
  return size === 32 ? i.imm >>> 0 : i.imm & maskOf(size);
}

// ---------------------------------------------------------------- ALU core

/** Perform ALU operation `op` (0 ADD,1 OR,2 ADC,3 SBB,4 AND,5 SUB,6 XOR,7 CMP) and set lazy flags; result low half returned, high in c.vh. */
export function alu(c: Cpu, op: number, size: number, a: number, ah: number, b: number, bh: number): number {
  let r = 0, rh = 0;
  if (size === 64) {
    switch (op) {
      case 0: case 2: {
        const cin = op === 2 ? (c.cfBit() ? 1 : 0) : 0;
        const t = a + b + cin;
        r = t >>> 0; rh = (ah + bh + (t >= TWO32 ? 1 : 0)) >>> 0;
        c.lazy(op === 0 ? LF_ADD : LF_ADC, 64, a, ah, b, bh, r, rh);
        c.lcf = cin;
        break;
      }
      case 3: case 5: case 7: {
        const bin = op === 3 ? (c.cfBit() ? 1 : 0) : 0;
        const t = a - b - bin;
        r = t >>> 0; rh = (ah - bh - (t < 0 ? 1 : 0)) >>> 0;
        c.lazy(op === 3 ? LF_SBB : LF_SUB, 64, a, ah, b, bh, r, rh);
        c.lcf = bin;
        break;
      }
      case 1: r = (a | b) >>> 0; rh = (ah | bh) >>> 0; c.lazy(LF_LOGIC, 64, 0, 0, 0, 0, r, rh); break;
      case 4: r = (a & b) >>> 0; rh = (ah & bh) >>> 0; c.lazy(LF_LOGIC, 64, 0, 0, 0, 0, r, rh); break;
      default: r = (a ^ b) >>> 0; rh = (ah ^ bh) >>> 0; c.lazy(LF_LOGIC, 64, 0, 0, 0, 0, r, rh); break;
    }
    c.vh = rh;
    return r;
  }
  const m = size === 32 ? 0xffffffff : size === 16 ? 0xffff : 0xff;
  switch (op) {
    case 0: r = (a + b) & m; c.lazy(LF_ADD, size, a, 0, b, 0, r >>> 0, 0); break;
    case 2: { const cin = c.cfBit() ? 1 : 0; r = (a + b + cin) & m; c.lazy(LF_ADC, size, a, 0, b, 0, r >>> 0, 0); c.lcf = cin; break; }
    case 3: { const bin = c.cfBit() ? 1 : 0; r = (a - b - bin) & m; c.lazy(LF_SBB, size, a, 0, b, 0, r >>> 0, 0); c.lcf = bin; break; }
    case 5: case 7: r = (a - b) & m; c.lazy(LF_SUB, size, a, 0, b, 0, r >>> 0, 0); break;
    case 1: r = (a | b) & m; c.lazy(LF_LOGIC, size, 0, 0, 0, 0, r >>> 0, 0); break;
    case 4: r = (a & b) & m; c.lazy(LF_LOGIC, size, 0, 0, 0, 0, r >>> 0, 0); break;
    default: r = (a ^ b) & m; c.lazy(LF_LOGIC, size, 0, 0, 0, 0, r >>> 0, 0); break;
  }
  c.vh = 0;
  return r >>> 0;
}

/** ALU with r/m destination: `op r/m, src`. */
function aluRM(c: Cpu, i: Insn, op: number, size: number, b: number, bh: number): void {
  if (i.mod === 3) {
    const a = readReg(c, i.rm, size, i.rex), ah = c.vh;
    const r = alu(c, op, size, a, ah, b, bh);
    if (op !== 7) writeReg(c, i.rm, size, r, c.vh, i.rex);
    return;
  }
  const lin = c.memLinear(i, size, op !== 7);
  if (op !== 7 && size !== 8) c.probeWrite(lin, size >>> 3);
  const a = c.readSize(lin, size), ah = c.vh;
  const r = alu(c, op, size, a, ah, b, bh);
  if (op !== 7) c.writeSize(lin, size, r, c.vh);
}

// 00-3F: the eight ALU operations in six forms each.
for (let op = 0; op < 8; op++) {
  const base = op << 3;
  H[base + 0] = H[base + 1] = (c, i) => { const s = sz(i); const b = readReg(c, i.reg, s, i.rex); aluRM(c, i, op, s, b, c.vh); };
  H[base + 2] = H[base + 3] = (c, i) => {
    const s = sz(i);
    const b = c.readRM(i, s), bh = c.vh;
    const a = readReg(c, i.reg, s, i.rex);
    const r = alu(c, op, s, a, c.vh, b, bh);
    if (op !== 7) writeReg(c, i.reg, s, r, c.vh, i.rex);
  };
  H[base + 4] = H[base + 5] = (c, i) => {
    const s = sz(i);
    const b = immOf(c, i, s), bh = c.vh;
    const a = readReg(c, RAX, s, 0);
    const r = alu(c, op, s, a, c.vh, b, bh);
    if (op !== 7) writeReg(c, RAX, s, r, c.vh, 0);
  };
}
// 80/81/82/83: group 1.
H[0x80] = H[0x82] = (c, i) => aluRM(c, i, i.reg & 7, 8, i.imm & 0xff, 0);
H[0x81] = H[0x83] = (c, i) => { const s = i.opSize; const b = immOf(c, i, s); aluRM(c, i, i.reg & 7, s, b, c.vh); };

// TEST 84/85, A8/A9
H[0x84] = H[0x85] = (c, i) => { const s = sz(i); const b = readReg(c, i.reg, s, i.rex), bh = c.vh; const a = c.readRM(i, s); alu(c, 4, s, a, c.vh, b, bh); };
H[0xa8] = H[0xa9] = (c, i) => { const s = sz(i); const b = immOf(c, i, s), bh = c.vh; const a = readReg(c, RAX, s, 0); alu(c, 4, s, a, c.vh, b, bh); };

// INC/DEC
function incdec(c: Cpu, size: number, a: number, ah: number, dec: boolean): number {
  const cf = c.cfBit();
  let r: number, rh = 0;
  if (size === 64) {
    const t = dec ? a - 1 : a + 1;
    r = t >>> 0; rh = (ah + (dec ? (t < 0 ? -1 : 0) : (t >= TWO32 ? 1 : 0))) >>> 0;
  } else r = ((dec ? a - 1 : a + 1) & maskOf(size)) >>> 0;
  c.lazy(dec ? LF_DEC : LF_INC, size, a, ah, 1, 0, r, rh);
  c.lcf = cf;
  c.vh = rh;
  return r;
}
function incdecRM(c: Cpu, i: Insn, size: number, dec: boolean): void {
  if (i.mod === 3) { const a = readReg(c, i.rm, size, i.rex); const r = incdec(c, size, a, c.vh, dec); writeReg(c, i.rm, size, r, c.vh, i.rex); return; }
  const lin = c.memLinear(i, size, true);
  c.probeWrite(lin, size >>> 3);
  const a = c.readSize(lin, size); const r = incdec(c, size, a, c.vh, dec); c.writeSize(lin, size, r, c.vh);
}
for (let r = 0; r < 8; r++) {
  // 40-4F: INC/DEC r16/r32 (REX prefixes in 64-bit mode; the decoder never gives these there).
  H[0x40 + r] = (c, i) => { const s = i.opSize; const a = c.getReg(r, s); c.setReg(r, s, incdec(c, s, a, c.vh, false), c.vh); };
  H[0x48 + r] = (c, i) => { const s = i.opSize; const a = c.getReg(r, s); c.setReg(r, s, incdec(c, s, a, c.vh, true), c.vh); };
}

// Group 3: F6/F7 TEST NOT NEG MUL IMUL DIV IDIV
H[0xf6] = H[0xf7] = (c, i) => {
  const s = sz(i);
  switch (i.reg & 7) {
    case 0: case 1: { const b = immOf(c, i, s), bh = c.vh; const a = c.readRM(i, s); alu(c, 4, s, a, c.vh, b, bh); return; }
    case 2: { // NOT: flags unaffected
      if (i.mod === 3) { const a = readReg(c, i.rm, s, i.rex); writeReg(c, i.rm, s, (~a & maskOf(s)) >>> 0, (~c.vh) >>> 0, i.rex); return; }
      const lin = c.memLinear(i, s, true); c.probeWrite(lin, s >>> 3);
      const a = c.readSize(lin, s); c.writeSize(lin, s, (~a & maskOf(s)) >>> 0, (~c.vh) >>> 0); return;
    }
    case 3: { // NEG
      if (i.mod === 3) { const a = readReg(c, i.rm, s, i.rex); const r = alu(c, 5, s, 0, 0, a, c.vh); writeReg(c, i.rm, s, r, c.vh, i.rex); return; }
      const lin = c.memLinear(i, s, true); c.probeWrite(lin, s >>> 3);
      const a = c.readSize(lin, s); const r = alu(c, 5, s, 0, 0, a, c.vh); c.writeSize(lin, s, r, c.vh); return;
    }
    case 4: mul(c, s, c.readRM(i, s), c.vh, false); return;
    case 5: mul(c, s, c.readRM(i, s), c.vh, true); return;
    case 6: div(c, s, c.readRM(i, s), c.vh, false); return;
    default: div(c, s, c.readRM(i, s), c.vh, true); return;
  }
};

// INC/DEC r/m (FE, FF /0 /1) and FF's other members.
H[0xfe] = (c, i) => {
  const op = i.reg & 7;
  if (op === 0) incdecRM(c, i, 8, false);
  else if (op === 1) incdecRM(c, i, 8, true);
  else c.raise(EXC_UD);
};
H[0xff] = (c, i) => {
  switch (i.reg & 7) {
    case 0: incdecRM(c, i, i.opSize, false); return;
    case 1: incdecRM(c, i, i.opSize, true); return;
    case 2: { // CALL near indirect
      const s = i.opSize; const t = c.readRM(i, s); const th = c.vh;
      const target = s === 64 ? toAddr(t, th) : t;
      checkNearTarget(c, target);
      pushIp(c, s, c.nextRip);
      c.nextRip = target;
      return;
    }
    case 3: farCallOrJmp(c, i, true); return;
    case 4: {
      const s = i.opSize; const t = c.readRM(i, s);
      const target = s === 64 ? toAddr(t, c.vh) : t;
      checkNearTarget(c, target);
      c.nextRip = target;
      return;
    }
    case 5: farCallOrJmp(c, i, false); return;
    case 6: { const s = i.opSize; const v = c.readRM(i, s); c.push(s, v, c.vh); return; }
    default: c.raise(EXC_UD);
  }
};

function toAddr(lo: number, hi: number): number {
  return (hi | 0) * TWO32 + lo;
}

/** Legacy-mode near branch targets beyond the CS limit fault at the branch (SDM vol. 2A JMP). */
function checkNearTarget(c: Cpu, target: number): void {
  if (c.codeSize !== 64) {
    if ((c.cr0 & CR0_PE) !== 0 && target > c.segLimit[CS]) c.raise(EXC_GP, 0);
  } else if (!(target >= -140737488355328 && target < 140737488355328)) c.raise(EXC_GP, 0);
}

function pushIp(c: Cpu, size: number, ip: number): void {
  if (size === 64) c.push(64, ip >>> 0, Math.floor(ip / TWO32) >>> 0);
  else c.push(size, ip, 0);
}

/** Far transfers are in exec-sys.ts; hooked here. */
export let farCallOrJmp: (c: Cpu, i: Insn, call: boolean) => void = (c) => c.unimplementedOp('far CALL/JMP');
export function setFarCallOrJmp(f: (c: Cpu, i: Insn, call: boolean) => void): void { farCallOrJmp = f; }

// ---------------------------------------------------------------- multiply and divide

function setMulFlags(c: Cpu, size: number, lo: number, lohi: number, overflow: boolean): void {
  // CF = OF = overflow; SF ZF AF PF are undefined (SDM vol. 2A MUL/IMUL): we set SF/ZF/PF from the low result.
  let f = overflow ? CF | OF : 0;
  const top = size === 64 ? lohi >>> 31 : (lo >>> (size - 1)) & 1;
  if (top) f |= SF;
  if ((lo & maskOf(size)) === 0 && (size !== 64 || lohi === 0)) f |= ZF;
  f |= parity(lo);
  c.setStatusFlags(f);
}

function parity(v: number): number {
  let b = v & 0xff; b ^= b >> 4; b ^= b >> 2; b ^= b >> 1;
  return (b & 1) === 0 ? PF : 0;
}

function big(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}
function signedBig(lo: number, hi: number, size: number): bigint {
  return BigInt.asIntN(size, size === 64 ? big(lo, hi) : BigInt(lo >>> 0));
}

/** One-operand MUL/IMUL: AX/DX:AX/EDX:EAX/RDX:RAX = A * src. */
function mul(c: Cpu, size: number, b: number, bh: number, signed: boolean): void {
  if (size === 8) {
    const a = c.lo[RAX] & 0xff;
    const r = signed ? ((a << 24 >> 24) * (b << 24 >> 24)) & 0xffff : a * b;
    c.lo[RAX] = (c.lo[RAX] & 0xffff0000) | r;
    const ov = signed ? ((r << 24 >> 24) & 0xffff) !== r : (r >>> 8) !== 0;
    setMulFlags(c, 8, r, 0, ov);
    return;
  }
  if (size === 16) {
    const a = c.lo[RAX] & 0xffff;
    const r = signed ? ((a << 16 >> 16) * (b << 16 >> 16)) : a * b;
    const lo = r & 0xffff, hi = (r >> 16) & 0xffff;
    c.setReg(RAX, 16, lo, 0); c.setReg(RDX, 16, hi, 0);
    const ov = signed ? (((r << 16) >> 16) !== r) : hi !== 0;
    setMulFlags(c, 16, lo, 0, ov);
    return;
  }
  if (size === 32) {
    // EDX:EAX = EAX * src in numbers (no BigInt): the 64-bit product as two 32-bit words.
    const a = c.lo[RAX] >>> 0, ub = b >>> 0;
    const lo = Math.imul(a, ub) >>> 0;
    let hi = mulHigh32(a, ub);
    let ov: boolean;
    if (signed) {
      // Signed high word from the unsigned one: subtract the other operand for each negative factor (mod 2^32).
      if ((a | 0) < 0) hi -= ub;
      if ((ub | 0) < 0) hi -= a;
      hi >>>= 0;
      ov = hi !== ((lo | 0) < 0 ? 0xffffffff : 0); // CF = OF = the product does not fit a sign-extended EAX
    } else ov = hi !== 0;
    c.setReg(RAX, 32, lo, 0); c.setReg(RDX, 32, hi, 0);
    setMulFlags(c, 32, lo, 0, ov);
    return;
  }
  const a = big(c.lo[RAX], c.hi[RAX]);
  const p = signed ? BigInt.asIntN(64, a) * signedBig(b, bh, 64) : a * big(b, bh);
  const full = BigInt.asUintN(128, p);
  const low = BigInt.asUintN(64, full), high = full >> 64n;
  const ov = signed ? BigInt.asIntN(64, low) !== p : high !== 0n;
  c.setReg(RAX, 64, Number(low & 0xffffffffn), Number(low >> 32n));
  c.setReg(RDX, 64, Number(high & 0xffffffffn), Number(high >> 32n));
  setMulFlags(c, 64, Number(low & 0xffffffffn), Number(low >> 32n), ov);
}

/** Bits 63:32 of the unsigned product of two 32-bit numbers, exactly (each partial product stays below 2^53). */
function mulHigh32(a: number, b: number): number {
  const t1 = a * (b & 0xffff); // < 2^48
  const x = a * (b >>> 16) + Math.floor(t1 / 65536); // a*b = x * 2^16 + (t1 mod 2^16), x < 2^49
  return Math.floor(x / 65536) >>> 0;
}

/** Two- and three-operand IMUL: dst = a * b truncated, CF=OF when the signed result does not fit. */
function imul2(c: Cpu, size: number, a: number, ah: number, b: number, bh: number): number {
  if (size === 16) {
    const r = (a << 16 >> 16) * (b << 16 >> 16);
    setMulFlags(c, 16, r & 0xffff, 0, ((r << 16) >> 16) !== r);
    c.vh = 0;
    return r & 0xffff;
  }
  if (size === 32) {
    const r = Math.imul(a, b);
    setMulFlags(c, 32, r >>> 0, 0, r !== (a | 0) * (b | 0));
    c.vh = 0;
    return r >>> 0;
  }
  const p = signedBig(a, ah, 64) * signedBig(b, bh, 64);
  const low = BigInt.asUintN(64, p);
  const lo = Number(low & 0xffffffffn), hi = Number(low >> 32n);
  setMulFlags(c, 64, lo, hi, BigInt.asIntN(64, low) !== p);
  c.vh = hi;
  return lo;
}
H[MAP_0F + 0xaf] = (c, i) => { const s = i.opSize; const b = c.readRM(i, s), bh = c.vh; const a = c.getReg(i.reg, s); c.setReg(i.reg, s, imul2(c, s, a, c.vh, b, bh), c.vh); };
H[0x69] = H[0x6b] = (c, i) => { const s = i.opSize; const a = c.readRM(i, s), ah = c.vh; const b = immOf(c, i, s); c.setReg(i.reg, s, imul2(c, s, a, ah, b, c.vh), c.vh); };

/** DIV/IDIV with #DE on divide by zero or quotient overflow (SDM vol. 2A DIV). */
function div(c: Cpu, size: number, b: number, bh: number, signed: boolean): void {
  if (size === 8) {
    const a = c.lo[RAX] & 0xffff;
    if ((b & 0xff) === 0) c.raise(EXC_DE);
    let q: number, r: number;
    if (signed) {
      const sa = a << 16 >> 16, sb = b << 24 >> 24;
      q = Math.trunc(sa / sb); r = sa - q * sb;
      if (q > 127 || q < -128) c.raise(EXC_DE);
    } else {
      q = Math.floor(a / b); r = a % b;
      if (q > 0xff) c.raise(EXC_DE);
    }
    c.lo[RAX] = (c.lo[RAX] & 0xffff0000) | ((r & 0xff) << 8) | (q & 0xff);
    return;
  }
  if (size === 16) {
    const a = ((c.lo[RDX] & 0xffff) * 65536 + (c.lo[RAX] & 0xffff));
    if ((b & 0xffff) === 0) c.raise(EXC_DE);
    let q: number, r: number;
    if (signed) {
      const sa = a | 0, sb = b << 16 >> 16;
      q = Math.trunc(sa / sb); r = sa - q * sb;
      if (q > 32767 || q < -32768) c.raise(EXC_DE);
    } else {
      q = Math.floor(a / b); r = a % b;
      if (q > 0xffff) c.raise(EXC_DE);
    }
    c.setReg(RAX, 16, q & 0xffff, 0); c.setReg(RDX, 16, r & 0xffff, 0);
    return;
  }
  if (size === 32) { div32(c, b >>> 0, signed); return; }
  const divisor = signed ? signedBig(b, bh, 64) : big(b, bh);
  if (divisor === 0n) c.raise(EXC_DE);
  const ua = (big(c.lo[RDX], c.hi[RDX]) << 64n) | big(c.lo[RAX], c.hi[RAX]);
  const dividend = signed ? BigInt.asIntN(128, ua) : ua;
  const q = dividend / divisor, r = dividend % divisor;
  if (signed ? BigInt.asIntN(64, q) !== q : q >> 64n !== 0n) c.raise(EXC_DE);
  const uq = BigInt.asUintN(64, q), ur = BigInt.asUintN(64, r);
  c.setReg(RAX, 64, Number(uq & 0xffffffffn), Number(uq >> 32n));
  c.setReg(RDX, 64, Number(ur & 0xffffffffn), Number(ur >> 32n));
}

/**
 * DIV/IDIV r/m32: EDX:EAX / src, quotient to EAX, remainder to EDX, in numbers (SDM vol. 2A DIV/IDIV). The 64-bit
 * dividend is divided in two 16-bit steps of long division (each partial dividend < 2^48, exact in a double); a
 * signed division divides the magnitudes and applies the signs (quotient truncated toward zero, remainder with the
 * dividend's sign). #DE when the divisor is 0 or the quotient does not fit 32 bits.
 */
function div32(c: Cpu, divisor: number, signed: boolean): void {
  if (divisor === 0) c.raise(EXC_DE);
  let hi = c.lo[RDX] >>> 0, lo = c.lo[RAX] >>> 0, d = divisor;
  const negDividend = signed && (hi | 0) < 0, negDivisor = signed && (d | 0) < 0;
  if (negDividend) { lo = (-lo) >>> 0; hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0; } // two's complement magnitude of EDX:EAX
  if (negDivisor) d = (-d) >>> 0; // |-2^31| is 2^31 as an unsigned number
  if (hi >= d) c.raise(EXC_DE); // the quotient needs more than 32 bits
  const c1 = hi * 65536 + (lo >>> 16);
  const q1 = Math.floor(c1 / d);
  const c2 = (c1 - q1 * d) * 65536 + (lo & 0xffff);
  const q2 = Math.floor(c2 / d);
  let q = q1 * 65536 + q2, r = c2 - q2 * d;
  if (signed) {
    const neg = negDividend !== negDivisor;
    if (q > (neg ? 0x80000000 : 0x7fffffff)) c.raise(EXC_DE);
    if (neg) q = -q;
    if (negDividend) r = -r;
  }
  c.setReg(RAX, 32, q >>> 0, 0); c.setReg(RDX, 32, r >>> 0, 0);
}

// CBW/CWDE/CDQE, CWD/CDQ/CQO
H[0x98] = (c, i) => {
  if (i.opSize === 16) c.setReg(RAX, 16, ((c.lo[RAX] << 24) >> 24) & 0xffff, 0);
  else if (i.opSize === 32) c.setReg(RAX, 32, ((c.lo[RAX] << 16) >> 16) >>> 0, 0);
  else c.setReg(RAX, 64, c.lo[RAX], (c.lo[RAX] | 0) < 0 ? 0xffffffff : 0);
};
H[0x99] = (c, i) => {
  if (i.opSize === 16) c.setReg(RDX, 16, (c.lo[RAX] & 0x8000) !== 0 ? 0xffff : 0, 0);
  else if (i.opSize === 32) c.setReg(RDX, 32, (c.lo[RAX] | 0) < 0 ? 0xffffffff : 0, 0);
  else { const s = (c.hi[RAX] | 0) < 0 ? 0xffffffff : 0; c.setReg(RDX, 64, s, s); }
};

// ---------------------------------------------------------------- shifts and rotates

/** Shift/rotate of r/m by count (group 2 C0/C1/D0-D3). Flags per SDM vol. 2B SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR. */
function shiftOp(c: Cpu, i: Insn, size: number, countRaw: number): void {
  const op = i.reg & 7;
  const count = countRaw & (size === 64 ? 0x3f : 0x1f);
  if (count === 0) {
    // No flags change. The memory operand is still accessed (faults); a 32-bit register
    // destination is still written, so its upper half is zeroed in 64-bit mode.
    const v = c.readRM(i, size);
    if (i.mod === 3 && size === 32) c.setReg(i.rm, 32, v, 0);
    return;
  }
  let lin = 0;
  let a: number, ah: number;
  if (i.mod === 3) { a = readReg(c, i.rm, size, i.rex); ah = c.vh; }
  else { lin = c.memLinear(i, size, true); c.probeWrite(lin, size >>> 3); a = c.readSize(lin, size); ah = size === 64 ? c.vh : 0; }
  const r = shiftCore(c, op, size, a, ah, count);
  const rh = c.vh;
  if (i.mod === 3) writeReg(c, i.rm, size, r, rh, i.rex); else c.writeSize(lin, size, r, rh);
}

/** Computes the shift; sets flags; returns the low half (high in c.vh). */
function shiftCore(c: Cpu, op: number, size: number, a: number, ah: number, count: number): number {
  const flags0 = c.getFlags();
  let cf = 0, of = 0, r: bigint | number, rh = 0;
  if (size === 64 || op === 2 || op === 3) {
    // Wide path with BigInt: 64-bit forms and RCL/RCR.
    const S = BigInt(size);
    const M = (1n << S) - 1n;
    const v = size === 64 ? big(a, ah) : BigInt(a >>> 0);
    const n = BigInt(count);
    let res: bigint;
    switch (op) {
      case 0: { const k = n % S; res = k === 0n ? v : ((v << k) | (v >> (S - k))) & M; cf = Number(res & 1n); of = Number(res >> (S - 1n)) ^ cf; break; }
      case 1: { const k = n % S; res = k === 0n ? v : ((v >> k) | (v << (S - k))) & M; cf = Number(res >> (S - 1n)); of = cf ^ Number((res >> (S - 2n)) & 1n); break; }
      case 2: case 3: {
        const mod = size === 8 ? 9n : size === 16 ? 17n : S + 1n;
        const k = n % mod;
        const wide = (BigInt(flags0 & CF) << S) | v; // CF:value, width size+1
        const W = (1n << (S + 1n)) - 1n;
        let rot: bigint;
        if (op === 2) rot = k === 0n ? wide : ((wide << k) | (wide >> (S + 1n - k))) & W;
        else rot = k === 0n ? wide : ((wide >> k) | (wide << (S + 1n - k))) & W;
        res = rot & M; cf = Number(rot >> S);
        if (op === 2) of = Number(res >> (S - 1n)) ^ cf;
        else of = Number(res >> (S - 1n)) ^ Number((res >> (S - 2n)) & 1n);
        break;
      }
      case 4: case 6: res = (v << n) & M; cf = Number((v >> (S - n)) & 1n); of = Number(res >> (S - 1n)) ^ cf; break;
      case 5: res = v >> n; cf = Number((v >> (n - 1n)) & 1n); of = Number(v >> (S - 1n)); break;
      default: { const sv = BigInt.asIntN(size, v); res = BigInt.asUintN(size, sv >> n); cf = Number((sv >> (n - 1n)) & 1n); of = 0; break; }
    }
    r = Number(res & 0xffffffffn); rh = size === 64 ? Number(res >> 32n) : 0;
    if (op <= 3) {
      // Rotates: only CF and OF change.
      c.setStatusFlags((flags0 & ~(CF | OF)) | (cf ? CF : 0) | (of ? OF : 0));
    } else setShiftFlags(c, size, r, rh, cf, of);
    c.vh = rh;
    return r;
  }
  const m = maskOf(size);
  switch (op) {
    case 0: { const k = count % size; r = k === 0 ? a : ((a << k) | (a >>> (size - k))) & m; r >>>= 0; cf = r & 1; of = ((r >>> (size - 1)) & 1) ^ cf;
      c.setStatusFlags((flags0 & ~(CF | OF)) | (cf ? CF : 0) | (of ? OF : 0)); c.vh = 0; return r; }
    case 1: { const k = count % size; r = k === 0 ? a : ((a >>> k) | (a << (size - k))) & m; r >>>= 0; cf = (r >>> (size - 1)) & 1; of = cf ^ ((r >>> (size - 2)) & 1);
      c.setStatusFlags((flags0 & ~(CF | OF)) | (cf ? CF : 0) | (of ? OF : 0)); c.vh = 0; return r; }
    case 4: case 6:
      if (count < 32) { r = ((a << count) & m) >>> 0; cf = count <= size ? (a >>> (size - count)) & 1 : 0; }
      else { r = 0; cf = 0; }
      of = ((r >>> (size - 1)) & 1) ^ cf;
      break;
    case 5:
      r = count < 32 ? (a >>> count) : 0; cf = (a >>> (count - 1)) & 1; of = (a >>> (size - 1)) & 1;
      if (count > size) cf = 0;
      break;
    default: {
      const sa = size === 32 ? a | 0 : size === 16 ? (a << 16) >> 16 : (a << 24) >> 24;
      const k = Math.min(count, 31);
      r = ((sa >> k) & m) >>> 0; cf = (sa >> (Math.min(count, 32) - 1)) & 1; of = 0;
      if (count >= size) cf = sa < 0 ? 1 : 0;
    }
  }
  setShiftFlags(c, size, r as number, 0, cf, of);
  c.vh = 0;
  return r as number;
}

function setShiftFlags(c: Cpu, size: number, r: number, rh: number, cf: number, of: number): void {
  let f = (cf ? CF : 0) | (of ? OF : 0);
  const top = size === 64 ? rh >>> 31 : (r >>> (size - 1)) & 1;
  if (top) f |= SF;
  if ((r & maskOf(size)) === 0 && rh === 0) f |= ZF;
  f |= parity(r);
  c.setStatusFlags(f);
}
H[0xc0] = H[0xc1] = (c, i) => shiftOp(c, i, sz(i), i.imm & 0xff);
H[0xd0] = H[0xd1] = (c, i) => shiftOp(c, i, sz(i), 1);
H[0xd2] = H[0xd3] = (c, i) => shiftOp(c, i, sz(i), c.lo[RCX] & 0xff);

/** SHLD/SHRD (SDM vol. 2B): count masked to 5 (6) bits; for 16-bit counts > 16 the result is undefined. */
function shxd(c: Cpu, i: Insn, right: boolean, countRaw: number): void {
  const size = i.opSize;
  const count = countRaw & (size === 64 ? 0x3f : 0x1f);
  if (count === 0) { const v = c.readRM(i, size); if (i.mod === 3 && size === 32) c.setReg(i.rm, 32, v, 0); return; }
  let lin = 0, a: number, ah: number;
  if (i.mod === 3) { a = c.getReg(i.rm, size); ah = c.vh; }
  else { lin = c.memLinear(i, size, true); c.probeWrite(lin, size >>> 3); a = c.readSize(lin, size); ah = size === 64 ? c.vh : 0; }
  const b = c.getReg(i.reg, size), bh = size === 64 ? c.vh : 0;
  let r: number, rh = 0, cf: number, of: number;
  if (size === 32) {
    // count is 1..31 here: dest:src (SHLD) or src:dest (SHRD) shifted, the result is the dest half.
    if (!right) { r = ((a << count) | (b >>> (32 - count))) >>> 0; cf = (a >>> (32 - count)) & 1; }
    else { r = ((a >>> count) | (b << (32 - count))) >>> 0; cf = (a >>> (count - 1)) & 1; }
    of = (r >>> 31) ^ (a >>> 31);
  } else if (size === 16) {
    // The 32-bit dest:src (SHLD) or src:dest (SHRD) shifted by 1..31 (counts above 16, SDM-undefined, shift in zeros).
    const a16 = a & 0xffff, b16 = b & 0xffff;
    if (!right) { const wide = (a16 << 16) | b16; r = ((wide << count) >>> 16) & 0xffff; cf = (wide >>> (32 - count)) & 1; }
    else { const wide = ((b16 << 16) | a16) >>> 0; r = (wide >>> count) & 0xffff; cf = (wide >>> (count - 1)) & 1; }
    of = (r >>> 15) ^ (a16 >>> 15);
  } else {
    // 64 bits, count 1..63: the 128-bit dest:src (SHLD) or src:dest (SHRD) as four words, least significant first.
    const w = SHXD_WORDS;
    if (!right) {
      w[0] = b; w[1] = bh; w[2] = a; w[3] = ah;
      r = wordAt(w, 64 - count); rh = wordAt(w, 96 - count); cf = bitAt(w, 128 - count);
    } else {
      w[0] = a; w[1] = ah; w[2] = b; w[3] = bh;
      r = wordAt(w, count); rh = wordAt(w, count + 32); cf = bitAt(w, count - 1);
    }
    of = (rh >>> 31) ^ (ah >>> 31);
  }
  setShiftFlags(c, size, r, rh, cf, of);
  if (i.mod === 3) c.setReg(i.rm, size, r, rh); else c.writeSize(lin, size, r, rh);
}
const SHXD_WORDS = new Uint32Array(4);
/** The 32 bits of the little-endian word array `w` starting at bit `p` (0..96). */
function wordAt(w: Uint32Array, p: number): number {
  const k = p >>> 5, s = p & 31;
  return s === 0 ? w[k] : ((w[k] >>> s) | (w[k + 1] << (32 - s))) >>> 0;
}
function bitAt(w: Uint32Array, p: number): number {
  return (w[p >>> 5] >>> (p & 31)) & 1;
}
H[MAP_0F + 0xa4] = (c, i) => shxd(c, i, false, i.imm & 0xff);
H[MAP_0F + 0xa5] = (c, i) => shxd(c, i, false, c.lo[RCX] & 0xff);
H[MAP_0F + 0xac] = (c, i) => shxd(c, i, true, i.imm & 0xff);
H[MAP_0F + 0xad] = (c, i) => shxd(c, i, true, c.lo[RCX] & 0xff);

// ---------------------------------------------------------------- data movement

H[0x88] = H[0x89] = (c, i) => { const s = sz(i); const v = readReg(c, i.reg, s, i.rex); c.writeRM(i, s, v, c.vh); };
H[0x8a] = H[0x8b] = (c, i) => { const s = sz(i); const v = c.readRM(i, s); writeReg(c, i.reg, s, v, c.vh, i.rex); };
H[0xc6] = H[0xc7] = (c, i) => {
  if ((i.reg & 7) !== 0) c.raise(EXC_UD);
  const s = sz(i); const v = immOf(c, i, s); c.writeRM(i, s, v, c.vh);
};
for (let r = 0; r < 8; r++) {
  H[0xb0 + r] = (c, i) => c.setReg8(i.reg, i.rex, i.imm & 0xff);
  H[0xb8 + r] = (c, i) => {
    if (i.opSize === 64) c.setReg(i.reg, 64, i.imm >>> 0, i.immHi >>> 0);
    else c.setReg(i.reg, i.opSize, i.imm >>> 0, 0);
  };
}
// MOV moffs
H[0xa0] = H[0xa1] = (c, i) => { const s = sz(i); const v = c.readSize(c.memLinear(i, s, false), s); writeReg(c, RAX, s, v, c.vh, 0); };
H[0xa2] = H[0xa3] = (c, i) => { const s = sz(i); const v = readReg(c, RAX, s, 0); c.writeSize(c.memLinear(i, s, true), s, v, c.vh); };
// LEA
H[0x8d] = (c, i) => {
  if (i.mod === 3) c.raise(EXC_UD);
  const ea = c.ea(i);
  const s = i.opSize;
  if (Number.isNaN(ea)) leaNonCanonical(c, i, s);
  else if (s === 64) c.setRegNumber(i.reg, ea);
  else c.setReg(i.reg, s, s === 16 ? ea & 0xffff : ea >>> 0, 0);
};
/** LEA of a non-canonical 64-bit address: recompute exactly with BigInt (rare); a smaller operand size keeps the low bits (SDM vol. 2A LEA, table 3-54). */
function leaNonCanonical(c: Cpu, i: Insn, s: number): void {
  let v = i.ripRel ? BigInt(c.nextRip) : 0n;
  if (i.base >= 0) v += big(c.lo[i.base], c.hi[i.base]);
  if (i.index >= 0) v += big(c.lo[i.index], c.hi[i.index]) << BigInt(i.scale);
  v += BigInt(i.disp);
  v = BigInt.asUintN(64, v);
  if (s === 16) c.setReg(i.reg, 16, Number(v & 0xffffn), 0);
  else c.setReg(i.reg, s, Number(v & 0xffffffffn), s === 64 ? Number(v >> 32n) : 0);
}
// MOVZX / MOVSX / MOVSXD
H[MAP_0F + 0xb6] = (c, i) => c.setReg(i.reg, i.opSize, c.readRM(i, 8), 0);
H[MAP_0F + 0xb7] = (c, i) => c.setReg(i.reg, i.opSize, c.readRM(i, 16), 0);
H[MAP_0F + 0xbe] = (c, i) => { const v = (c.readRM(i, 8) << 24) >> 24; c.setReg(i.reg, i.opSize, i.opSize === 16 ? v & 0xffff : v >>> 0, v < 0 ? 0xffffffff : 0); };
H[MAP_0F + 0xbf] = (c, i) => { const v = (c.readRM(i, 16) << 16) >> 16; c.setReg(i.reg, i.opSize, i.opSize === 16 ? v & 0xffff : v >>> 0, v < 0 ? 0xffffffff : 0); };
H[0x63] = (c, i) => {
  if (c.codeSize === 64) {
    const v = c.readRM(i, 32);
    if (i.opSize === 64) c.setReg(i.reg, 64, v, (v | 0) < 0 ? 0xffffffff : 0);
    else c.setReg(i.reg, i.opSize, i.opSize === 16 ? v & 0xffff : v, 0);
    return;
  }
  arpl(c, i);
};
/** ARPL (legacy modes): adjust RPL of a selector (SDM vol. 2A ARPL). */
function arpl(c: Cpu, i: Insn): void {
  if ((c.cr0 & CR0_PE) === 0) c.raise(EXC_UD);
  const dst = c.readRM(i, 16), src = c.getReg(i.reg, 16);
  if ((dst & 3) < (src & 3)) { c.writeRM(i, 16, (dst & ~3) | (src & 3), 0); c.setStatusFlags(c.getFlags() | ZF); }
  else c.setStatusFlags(c.getFlags() & ~ZF);
}

// XCHG
H[0x86] = H[0x87] = (c, i) => {
  const s = sz(i);
  if (i.mod === 3) {
    const a = readReg(c, i.rm, s, i.rex), ah = c.vh; const b = readReg(c, i.reg, s, i.rex), bh = c.vh;
    writeReg(c, i.rm, s, b, bh, i.rex); writeReg(c, i.reg, s, a, ah, i.rex); return;
  }
  const lin = c.memLinear(i, s, true); c.probeWrite(lin, s >>> 3);
  const a = c.readSize(lin, s), ah = c.vh; const b = readReg(c, i.reg, s, i.rex);
  c.writeSize(lin, s, b, c.vh); writeReg(c, i.reg, s, a, ah, i.rex);
};
for (let r = 1; r < 8; r++) {
  H[0x90 + r] = (c, i) => { const s = i.opSize; const a = c.getReg(RAX, s), ah = c.vh; const b = c.getReg(i.reg, s), bh = c.vh; c.setReg(i.reg, s, a, ah); c.setReg(RAX, s, b, bh); };
}
// 90: NOP, PAUSE (F3 90), or XCHG r8, rAX with REX.B.
H[0x90] = (c, i) => {
  if (i.reg === 0 && (i.prefixes & PFX_REP) !== 0 && c.vmx !== null) c.vmx.pause(c, i); // PAUSE (F3 90)
  if (i.reg !== 0) { const s = i.opSize; const a = c.getReg(RAX, s), ah = c.vh; const b = c.getReg(i.reg, s), bh = c.vh; c.setReg(i.reg, s, a, ah); c.setReg(RAX, s, b, bh); }
  else if (i.opSize === 32 && c.codeSize === 64) { /* XCHG EAX,EAX in 64-bit mode is NOP and does not zero-extend */ }
};
// NOPs: 0F 1F /0 (multi-byte NOP), 0F 18-1F hints, 0F 0D prefetch.
for (let k = 0x18; k <= 0x1f; k++) H[MAP_0F + k] = () => { /* hint NOP */ };
H[MAP_0F + 0x0d] = () => { /* PREFETCH/PREFETCHW */ };

// BSWAP
for (let r = 0; r < 8; r++) {
  H[MAP_0F + 0xc8 + r] = (c, i) => {
    const bs = (v: number) => (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
    if (i.opSize === 64) { const lo = c.lo[i.reg], hi = c.hi[i.reg]; c.setReg(i.reg, 64, bs(hi), bs(lo)); }
    else if (i.opSize === 32) c.setReg(i.reg, 32, bs(c.lo[i.reg]), 0);
    else c.setReg(i.reg, 16, 0, 0); // BSWAP r16 is undefined; Intel and AMD processors give 0.
  };
}

// MOVBE (0F 38 F0/F1)
function bswapN(v: number, vh: number, size: number): [number, number] {
  const bs = (x: number) => (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
  if (size === 16) return [((v & 0xff) << 8) | ((v >>> 8) & 0xff), 0];
  if (size === 32) return [bs(v), 0];
  return [bs(vh), bs(v)];
}
H[MAP_0F38 + 0xf0] = (c, i) => { if (i.mod === 3 || (i.prefixes & PFX_REPNE) !== 0) c.raise(EXC_UD); const s = i.opSize; const v = c.readRM(i, s); const [a, b] = bswapN(v, c.vh, s); c.setReg(i.reg, s, a, b); };
H[MAP_0F38 + 0xf1] = (c, i) => { if (i.mod === 3 || (i.prefixes & PFX_REPNE) !== 0) c.raise(EXC_UD); const s = i.opSize; const v = c.getReg(i.reg, s); const [a, b] = bswapN(v, c.vh, s); c.writeRM(i, s, a, b); };

// XLAT
H[0xd7] = (c, i) => {
  const base = i.addrSize === 64 ? c.regNumber(RBX) : i.addrSize === 32 ? c.lo[RBX] : c.lo[RBX] & 0xffff;
  let off = base + (c.lo[RAX] & 0xff);
  off = i.addrSize === 64 ? off : i.addrSize === 32 ? off >>> 0 : off & 0xffff;
  c.setReg8(RAX, 0, c.read8(c.segLinear(i.seg, off, 1, false)));
};

// ---------------------------------------------------------------- conditions, SETcc, CMOVcc, Jcc

export { cond };

function relTarget(c: Cpu, i: Insn): number {
  const t = c.nextRip + i.imm;
  if (c.codeSize === 64) return t;
  return i.opSize === 16 ? t & 0xffff : t >>> 0;
}

for (let cc = 0; cc < 16; cc++) {
  const jcc: InstructionHandler = (c, i) => {
    if (cond(c, cc)) { const t = relTarget(c, i); checkNearTarget(c, t); c.nextRip = t; }
  };
  H[0x70 + cc] = jcc;
  H[MAP_0F + 0x80 + cc] = jcc;
  H[MAP_0F + 0x90 + cc] = (c, i) => c.writeRM(i, 8, cond(c, cc) ? 1 : 0, 0);
  H[MAP_0F + 0x40 + cc] = (c, i) => {
    const s = i.opSize;
    const v = c.readRM(i, s), vh = c.vh;
    if (cond(c, cc)) c.setReg(i.reg, s, v, vh);
    else if (s === 32) c.setReg(i.reg, 32, c.lo[i.reg], 0); // 32-bit CMOV zero-extends even when false
  };
}
H[0xeb] = H[0xe9] = (c, i) => { const t = relTarget(c, i); checkNearTarget(c, t); c.nextRip = t; };
H[0xe8] = (c, i) => { const t = relTarget(c, i); checkNearTarget(c, t); pushIp(c, i.opSize, c.nextRip); c.nextRip = t; };
H[0xc3] = (c, i) => { const t = popIp(c, i.opSize); checkNearTarget(c, t); c.nextRip = t; };
H[0xc2] = (c, i) => { const t = popIp(c, i.opSize); checkNearTarget(c, t); c.adjustSp(i.imm & 0xffff); c.nextRip = t; };

function popIp(c: Cpu, size: number): number {
  const v = c.pop(size);
  return size === 64 ? toAddr(v, c.vh) : v;
}

/** Count register for LOOP/JrCXZ/REP by address size. */
function getCount(c: Cpu, as: number): number {
  return as === 64 ? c.regNumber(RCX) : as === 32 ? c.lo[RCX] : c.lo[RCX] & 0xffff;
}
function setCount(c: Cpu, as: number, v: number): void {
  if (as === 64) c.setRegNumber(RCX, v);
  else if (as === 32) c.setReg(RCX, 32, v >>> 0, 0);
  else c.setReg(RCX, 16, v & 0xffff, 0);
}
function decCount(c: Cpu, as: number): boolean {
  if (as === 64) {
    let lo = c.lo[RCX], hi = c.hi[RCX];
    if (lo === 0) hi = (hi - 1) >>> 0;
    lo = (lo - 1) >>> 0;
    c.lo[RCX] = lo; c.hi[RCX] = hi;
    return lo !== 0 || hi !== 0;
  }
  const v = (getCount(c, as) - 1) & (as === 32 ? 0xffffffff : 0xffff);
  setCount(c, as, v);
  return v !== 0;
}
H[0xe2] = (c, i) => { if (decCount(c, i.addrSize)) { const t = relTarget(c, i); checkNearTarget(c, t); c.nextRip = t; } };
H[0xe1] = (c, i) => { if (decCount(c, i.addrSize) && c.zfBit() !== 0) { const t = relTarget(c, i); checkNearTarget(c, t); c.nextRip = t; } };
H[0xe0] = (c, i) => { if (decCount(c, i.addrSize) && c.zfBit() === 0) { const t = relTarget(c, i); checkNearTarget(c, t); c.nextRip = t; } };
H[0xe3] = (c, i) => {
  const zero = i.addrSize === 64 ? c.lo[RCX] === 0 && c.hi[RCX] === 0 : getCount(c, i.addrSize) === 0;
  if (zero) { const t = relTarget(c, i); checkNearTarget(c, t); c.nextRip = t; }
};

// ---------------------------------------------------------------- stack

for (let r = 0; r < 8; r++) {
  H[0x50 + r] = (c, i) => { const s = i.opSize; const v = c.getReg(i.reg, s); c.push(s, v, c.vh); };
  H[0x58 + r] = (c, i) => { const s = i.opSize; const v = c.pop(s); c.setReg(i.reg, s, v, c.vh); };
}
H[0x6a] = H[0x68] = (c, i) => { const s = i.opSize; const v = immOf(c, i, s); c.push(s, v, c.vh); };
H[0x8f] = (c, i) => {
  if ((i.reg & 7) !== 0) c.raise(EXC_UD);
  const s = i.opSize;
  if (i.mod === 3) { const v = c.pop(s); c.setReg(i.rm, s, v, c.vh); return; }
  const slo = c.lo[RSP], shi = c.hi[RSP];
  const v = c.pop(s), vh = c.vh;
  try { c.writeRM(i, s, v, vh); } catch (e) { c.lo[RSP] = slo; c.hi[RSP] = shi; throw e; }
};
// ENTER / LEAVE
H[0xc8] = (c, i) => {
  const s = i.opSize;
  const size = i.imm & 0xffff, level = i.imm2 & 0x1f;
  const bytes = s >>> 3;
  const ss = c.stackSize;
  const rd = (r: number) => ss === 64 ? c.regNumber(r) : ss === 32 ? c.lo[r] : c.lo[r] & 0xffff;
  const bp = c.getReg(RBP, s); c.push(s, bp, c.vh);
  const frameTemp = rd(RSP);
  let bpOff = rd(RBP);
  for (let k = 1; k < level; k++) {
    bpOff -= bytes;
    const off = ss === 64 ? bpOff : ss === 32 ? bpOff >>> 0 : bpOff & 0xffff;
    const v = c.readSize(c.segLinear(SS, off, bytes, false), s);
    c.push(s, v, c.vh);
  }
  if (level > 0) pushIp(c, s, frameTemp);
  if (ss === 64) c.setRegNumber(RBP, frameTemp); else c.setReg(RBP, s === 16 ? 16 : ss, frameTemp, 0);
  c.adjustSp(-size);
  // Check the new top of stack is writable (SDM: ENTER faults if the frame cannot be written).
  const top = rd(RSP);
  if (size > 0) c.segLinear(SS, top, 1, true);
};
H[0xc9] = (c, i) => {
  const ss = c.stackSize;
  if (ss === 64) c.setRegNumber(RSP, c.regNumber(RBP));
  else if (ss === 32) c.setReg(RSP, 32, c.lo[RBP], 0);
  else c.setReg(RSP, 16, c.lo[RBP] & 0xffff, 0);
  const v = c.pop(i.opSize);
  c.setReg(RBP, i.opSize, v, c.vh);
};
// PUSHA/POPA (legacy only)
H[0x60] = (c, i) => {
  const s = i.opSize;
  const sp = c.getReg(RSP, s);
  for (let r = 0; r < 8; r++) c.push(s, r === RSP ? sp : c.getReg(r, s), 0);
};
H[0x61] = (c, i) => {
  const s = i.opSize;
  for (let r = 7; r >= 0; r--) { const v = c.pop(s); if (r !== RSP) c.setReg(r, s, v, 0); }
};

// PUSHF/POPF (SDM vol. 2B POPF: which bits may change depends on mode, CPL and IOPL)
H[0x9c] = (c, i) => {
  const f = c.getFlags() & ~(VM | RF);
  if ((f & VM) !== 0 && ((f & IOPL) >>> 12) < 3) c.raise(EXC_GP, 0);
  c.push(i.opSize, i.opSize === 16 ? f & 0xffff : f, 0);
};
H[0x9d] = (c, i) => {
  const s = i.opSize;
  const v = c.pop(s);
  const old = c.getFlags();
  let changeable = STATUS_FLAGS | TF | DF | NT | AC | ID | OF;
  const iopl = (old & IOPL) >>> 12;
  if ((c.cr0 & CR0_PE) === 0 || c.cpl === 0) changeable |= IOPL | IF;
  else if (c.cpl <= iopl) changeable |= IF;
  if (s === 16) changeable &= 0xffff;
  c.setFlags((old & ~changeable) | (v & changeable));
};
H[0x9e] = (c) => { // SAHF
  const ah = (c.lo[RAX] >>> 8) & 0xff;
  c.setStatusFlags((c.getFlags() & ~(SF | ZF | AF | PF | CF)) | (ah & (SF | ZF | AF | PF | CF)) | (c.getFlags() & OF));
};
H[0x9f] = (c) => { // LAHF
  const f = c.getFlags();
  c.lo[RAX] = (c.lo[RAX] & 0xffff00ff) | (((f & 0xd5) | 2) << 8);
};
H[0xf5] = (c) => c.setStatusFlags(c.getFlags() ^ CF);
H[0xf8] = (c) => c.setStatusFlags(c.getFlags() & ~CF);
H[0xf9] = (c) => c.setStatusFlags(c.getFlags() | CF);
H[0xfc] = (c) => c.setFlags(c.getFlags() & ~DF);
H[0xfd] = (c) => c.setFlags(c.getFlags() | DF);
H[0xfa] = (c) => { // CLI
  if (!ioplOk(c)) c.raise(EXC_GP, 0);
  c.setFlags(c.getFlags() & ~IF);
};
H[0xfb] = (c) => { // STI: one-instruction interrupt shadow when IF was clear (SDM vol. 2B STI)
  if (!ioplOk(c)) c.raise(EXC_GP, 0);
  const f = c.getFlags();
  if ((f & IF) === 0) c.shadow = 1;
  c.setFlags(f | IF);
};
export function ioplOk(c: Cpu): boolean {
  if ((c.cr0 & CR0_PE) === 0) return true;
  return c.cpl <= ((c.getFlags() & IOPL) >>> 12);
}

// ---------------------------------------------------------------- string instructions

const STRING_CHUNK = 4096;

function strIndex(c: Cpu, r: number, as: number): number {
  return as === 64 ? c.regNumber(r) : as === 32 ? c.lo[r] : c.lo[r] & 0xffff;
}
function strAdvance(c: Cpu, r: number, as: number, delta: number): void {
  if (as === 64) c.setRegNumber(r, c.regNumber(r) + delta);
  else if (as === 32) c.setReg(r, 32, (c.lo[r] + delta) >>> 0, 0);
  else c.setReg(r, 16, (c.lo[r] + delta) & 0xffff, 0);
}

/**
 * Run a string instruction: `body` does one iteration and returns false to stop (REPE/REPNE).
 * REP forms run at most STRING_CHUNK iterations per step and then re-execute the instruction,
 * so interrupts and the instruction budget are honoured (SDM vol. 2B REP: interruptible).
 */
function strLoop(c: Cpu, i: Insn, body: (c: Cpu, i: Insn) => boolean, conditional: boolean): void {
  const rep = (i.prefixes & (PFX_REP | PFX_REPNE)) !== 0;
  if (!rep) { body(c, i); return; }
  const as = i.addrSize;
  for (let n = 0; n < STRING_CHUNK; n++) {
    if (as === 64 ? c.lo[RCX] === 0 && c.hi[RCX] === 0 : getCount(c, as) === 0) return;
    const go = body(c, i);
    decCount(c, as);
    if (conditional) {
      const zf = c.zfBit() !== 0;
      if ((i.prefixes & PFX_REPNE) !== 0 ? zf : !zf) return;
    }
    if (!go) return;
  }
  if (!(as === 64 ? c.lo[RCX] === 0 && c.hi[RCX] === 0 : getCount(c, as) === 0)) c.nextRip = c.rip;
}

function dfDelta(c: Cpu, bytes: number): number {
  return (c.getFlags() & DF) !== 0 ? -bytes : bytes;
}

const movsBody = (c: Cpu, i: Insn): boolean => {
  const s = sz(i), b = s >>> 3, as = i.addrSize;
  const src = c.segLinear(i.seg, strIndex(c, RSI, as), b, false);
  const v = c.readSize(src, s), vh = c.vh;
  const dst = c.segLinear(ES, strIndex(c, RDI, as), b, true);
  c.writeSize(dst, s, v, vh);
  const d = dfDelta(c, b);
  strAdvance(c, RSI, as, d); strAdvance(c, RDI, as, d);
  return true;
};
const stosBody = (c: Cpu, i: Insn): boolean => {
  const s = sz(i), b = s >>> 3, as = i.addrSize;
  const v = readReg(c, RAX, s, 0);
  c.writeSize(c.segLinear(ES, strIndex(c, RDI, as), b, true), s, v, c.vh);
  strAdvance(c, RDI, as, dfDelta(c, b));
  return true;
};
const lodsBody = (c: Cpu, i: Insn): boolean => {
  const s = sz(i), b = s >>> 3, as = i.addrSize;
  const v = c.readSize(c.segLinear(i.seg, strIndex(c, RSI, as), b, false), s);
  writeReg(c, RAX, s, v, c.vh, 0);
  strAdvance(c, RSI, as, dfDelta(c, b));
  return true;
};
const cmpsBody = (c: Cpu, i: Insn): boolean => {
  const s = sz(i), b = s >>> 3, as = i.addrSize;
  const a = c.readSize(c.segLinear(i.seg, strIndex(c, RSI, as), b, false), s), ah = c.vh;
  const v = c.readSize(c.segLinear(ES, strIndex(c, RDI, as), b, false), s), vh = c.vh;
  alu(c, 7, s, a, ah, v, vh);
  const d = dfDelta(c, b);
  strAdvance(c, RSI, as, d); strAdvance(c, RDI, as, d);
  return true;
};
const scasBody = (c: Cpu, i: Insn): boolean => {
  const s = sz(i), b = s >>> 3, as = i.addrSize;
  const a = readReg(c, RAX, s, 0), ah = c.vh;
  const v = c.readSize(c.segLinear(ES, strIndex(c, RDI, as), b, false), s), vh = c.vh;
  alu(c, 7, s, a, ah, v, vh);
  strAdvance(c, RDI, as, dfDelta(c, b));
  return true;
};
H[0xa4] = H[0xa5] = (c, i) => strLoop(c, i, movsBody, false);
H[0xaa] = H[0xab] = (c, i) => strLoop(c, i, stosBody, false);
H[0xac] = H[0xad] = (c, i) => strLoop(c, i, lodsBody, false);
H[0xa6] = H[0xa7] = (c, i) => strLoop(c, i, cmpsBody, true);
H[0xae] = H[0xaf] = (c, i) => strLoop(c, i, scasBody, true);

// ---------------------------------------------------------------- port I/O

/** I/O permission: CPL <= IOPL, else the TSS I/O bitmap (SDM vol. 1 §19.5). */
export function checkIo(c: Cpu, port: number, bytes: number): void {
  if ((c.cr0 & CR0_PE) === 0) return;
  // IOPL and VM are not status flags: flagsRaw holds them as they are (no need to materialize the lazy flags).
  if (c.cpl <= ((c.flagsRaw & IOPL) >>> 12) && (c.flagsRaw & VM) === 0) return;
  // 32/64-bit TSS: I/O map base at offset 0x66.
  if ((c.trAr & 0xf) !== 0xb && (c.trAr & 0xf) !== 0x9) c.raise(EXC_GP, 0);
  if (c.trLimit < 0x67) c.raise(EXC_GP, 0);
  const base = c.sysRead16(c.trBase + 0x66);
  const off = base + (port >>> 3);
  if (off + 1 > c.trLimit) c.raise(EXC_GP, 0);
  const bits = c.sysRead16(c.trBase + off);
  const mask = ((1 << bytes) - 1) << (port & 7);
  if ((bits & mask) !== 0) c.raise(EXC_GP, 0);
}

/** Port I/O hooks: the machine (and later VT-x) intercepts here. */
export interface IoHooks {
  in(c: Cpu, port: number, size: 1 | 2 | 4): number;
  out(c: Cpu, port: number, size: 1 | 2 | 4, value: number): void;
}
export const io: IoHooks = {
  in: (c, port, size) => c.bus.ioRead(port, size),
  out: (c, port, size, value) => c.bus.ioWrite(port, size, value),
};

function ioSize(i: Insn): 1 | 2 | 4 {
  return (i.opcode & 1) === 0 ? 1 : i.opSize === 16 ? 2 : 4;
}
function doIn(c: Cpu, i: Insn, port: number): void {
  const n = ioSize(i);
  checkIo(c, port, n);
  if (c.vmx !== null && c.vmx.io(c, i, port, n, true, false, false)) return;
  const v = io.in(c, port, n);
  if (n === 1) c.setReg8(RAX, 0, v); else c.setReg(RAX, n === 2 ? 16 : 32, v, 0);
}
function doOut(c: Cpu, i: Insn, port: number): void {
  const n = ioSize(i);
  checkIo(c, port, n);
  if (c.vmx !== null && c.vmx.io(c, i, port, n, false, false, false)) return;
  io.out(c, port, n, n === 1 ? c.lo[RAX] & 0xff : n === 2 ? c.lo[RAX] & 0xffff : c.lo[RAX]);
}
H[0xe4] = H[0xe5] = (c, i) => doIn(c, i, i.imm & 0xff);
H[0xe6] = H[0xe7] = (c, i) => doOut(c, i, i.imm & 0xff);
H[0xec] = H[0xed] = (c, i) => doIn(c, i, c.lo[RDX] & 0xffff);
H[0xee] = H[0xef] = (c, i) => doOut(c, i, c.lo[RDX] & 0xffff);
const insBody = (c: Cpu, i: Insn): boolean => {
  const n = ioSize(i), as = i.addrSize, port = c.lo[RDX] & 0xffff;
  const dst = c.segLinear(ES, strIndex(c, RDI, as), n, true);
  c.probeWrite(dst, n);
  checkIo(c, port, n);
  const v = io.in(c, port, n);
  c.writeSize(dst, n * 8, v, 0);
  strAdvance(c, RDI, as, dfDelta(c, n));
  return true;
};
const outsBody = (c: Cpu, i: Insn): boolean => {
  const n = ioSize(i), as = i.addrSize, port = c.lo[RDX] & 0xffff;
  const v = c.readSize(c.segLinear(i.seg, strIndex(c, RSI, as), n, false), n * 8);
  checkIo(c, port, n);
  io.out(c, port, n, v);
  strAdvance(c, RSI, as, dfDelta(c, n));
  return true;
};
/** INS/OUTS in non-root operation: the whole instruction exits before its first element (SDM vol. 3C §26.1.3). */
function stringIoExit(c: Cpu, i: Insn, input: boolean): boolean {
  const rep = (i.prefixes & (PFX_REP | PFX_REPNE)) !== 0;
  if (rep && (i.addrSize === 64 ? c.lo[RCX] === 0 && c.hi[RCX] === 0 : getCount(c, i.addrSize) === 0)) return false;
  const n = ioSize(i), port = c.lo[RDX] & 0xffff;
  checkIo(c, port, n);
  return c.vmx!.io(c, i, port, n, input, true, rep);
}
H[0x6c] = H[0x6d] = (c, i) => { if (c.vmx !== null && stringIoExit(c, i, true)) return; strLoop(c, i, insBody, false); };
H[0x6e] = H[0x6f] = (c, i) => { if (c.vmx !== null && stringIoExit(c, i, false)) return; strLoop(c, i, outsBody, false); };

// ---------------------------------------------------------------- bit instructions

/** BT/BTS/BTR/BTC: op 0 BT, 1 BTS, 2 BTR, 3 BTC. Register bit offsets address beyond the operand (SDM vol. 2A BT). */
function bitOp(c: Cpu, i: Insn, op: number, offLo: number, offHi: number, fromReg: boolean): void {
  const s = i.opSize;
  let lin = 0, v: number, vh: number, bit: number;
  if (i.mod === 3) {
    bit = offLo & (s - 1);
    v = c.getReg(i.rm, s); vh = s === 64 ? c.vh : 0;
  } else {
    let ea = c.ea(i);
    if (fromReg) {
      // Signed bit offset: byte displacement = floor(off / size) * (size/8).
      const off = s === 64 ? toAddr(offLo, offHi) : s === 32 ? offLo | 0 : (offLo << 16) >> 16;
      ea += Math.floor(off / s) * (s >>> 3);
      if (i.addrSize === 32) ea = ea >>> 0; else if (i.addrSize === 16) ea = ea & 0xffff;
      bit = ((off % s) + s) % s;
    } else bit = offLo & (s - 1);
    lin = c.segLinear(i.seg, ea, s >>> 3, op !== 0);
    if (op !== 0) c.probeWrite(lin, s >>> 3);
    v = c.readSize(lin, s); vh = s === 64 ? c.vh : 0;
  }
  const inHi = bit >= 32;
  const word = inHi ? vh : v;
  const m = 1 << (bit & 31);
  const was = (word & m) !== 0;
  c.setStatusFlags((c.getFlags() & ~CF) | (was ? CF : 0));
  if (op === 0) return;
  let nw = op === 1 ? word | m : op === 2 ? word & ~m : word ^ m;
  nw >>>= 0;
  if (inHi) vh = nw; else v = nw;
  if (i.mod === 3) c.setReg(i.rm, s, v, vh); else c.writeSize(lin, s, v, vh);
}
H[MAP_0F + 0xa3] = (c, i) => { const o = c.getReg(i.reg, i.opSize); bitOp(c, i, 0, o, c.vh, true); };
H[MAP_0F + 0xab] = (c, i) => { const o = c.getReg(i.reg, i.opSize); bitOp(c, i, 1, o, c.vh, true); };
H[MAP_0F + 0xb3] = (c, i) => { const o = c.getReg(i.reg, i.opSize); bitOp(c, i, 2, o, c.vh, true); };
H[MAP_0F + 0xbb] = (c, i) => { const o = c.getReg(i.reg, i.opSize); bitOp(c, i, 3, o, c.vh, true); };
H[MAP_0F + 0xba] = (c, i) => {
  const r = i.reg & 7;
  if (r < 4) c.raise(EXC_UD);
  bitOp(c, i, r - 4, i.imm & 0xff, 0, false);
};

function clz32(v: number): number { return Math.clz32(v); }
function ctz32(v: number): number { return v === 0 ? 32 : 31 - Math.clz32(v & -v); }

// BSF / TZCNT (F3), BSR / LZCNT (F3), POPCNT (F3 0F B8)
H[MAP_0F + 0xbc] = (c, i) => {
  const s = i.opSize; const v = c.readRM(i, s), vh = s === 64 ? c.vh : 0;
  const lo = s === 16 ? v & 0xffff : v;
  const zero = lo === 0 && vh === 0;
  const n = zero ? s : lo !== 0 ? ctz32(lo) : 32 + ctz32(vh);
  if (i.mandatory === 0xf3) {
    c.setStatusFlags((c.getFlags() & ~(CF | ZF)) | (zero ? CF : 0) | (n === 0 ? ZF : 0));
    c.setReg(i.reg, s, n, 0);
    return;
  }
  if (zero) { c.setStatusFlags(c.getFlags() | ZF); return; }
  c.setStatusFlags(c.getFlags() & ~ZF);
  c.setReg(i.reg, s, n, 0);
};
H[MAP_0F + 0xbd] = (c, i) => {
  const s = i.opSize; const v = c.readRM(i, s), vh = s === 64 ? c.vh : 0;
  const lo = s === 16 ? v & 0xffff : v;
  const zero = lo === 0 && vh === 0;
  let lz: number;
  if (s === 64) lz = vh !== 0 ? clz32(vh) : 32 + clz32(lo);
  else lz = clz32(lo) - (32 - s);
  if (i.mandatory === 0xf3) {
    c.setStatusFlags((c.getFlags() & ~(CF | ZF)) | (zero ? CF : 0) | (lz === 0 ? ZF : 0));
    c.setReg(i.reg, s, zero ? s : lz, 0);
    return;
  }
  if (zero) { c.setStatusFlags(c.getFlags() | ZF); return; }
  c.setStatusFlags(c.getFlags() & ~ZF);
  c.setReg(i.reg, s, s - 1 - lz, 0);
};
H[MAP_0F + 0xb8] = (c, i) => {
  if (i.mandatory !== 0xf3) c.raise(EXC_UD);
  const s = i.opSize; const v = c.readRM(i, s), vh = s === 64 ? c.vh : 0;
  const pop = (x: number) => { x = x - ((x >>> 1) & 0x55555555); x = (x & 0x33333333) + ((x >>> 2) & 0x33333333); return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24; };
  const n = pop(s === 16 ? v & 0xffff : v) + pop(vh);
  c.setStatusFlags(n === 0 ? ZF : 0);
  c.setReg(i.reg, s, n, 0);
};

// XADD, CMPXCHG, CMPXCHG8B/16B
H[MAP_0F + 0xc0] = H[MAP_0F + 0xc1] = (c, i) => {
  const s = sz(i);
  const b = readReg(c, i.reg, s, i.rex), bh = c.vh;
  if (i.mod === 3) {
    const a = readReg(c, i.rm, s, i.rex), ah = c.vh;
    const r = alu(c, 0, s, a, ah, b, bh), rh = c.vh;
    writeReg(c, i.reg, s, a, ah, i.rex); writeReg(c, i.rm, s, r, rh, i.rex);
    return;
  }
  const lin = c.memLinear(i, s, true); c.probeWrite(lin, s >>> 3);
  const a = c.readSize(lin, s), ah = c.vh;
  const r = alu(c, 0, s, a, ah, b, bh);
  c.writeSize(lin, s, r, c.vh);
  writeReg(c, i.reg, s, a, ah, i.rex);
};
H[MAP_0F + 0xb0] = H[MAP_0F + 0xb1] = (c, i) => {
  const s = sz(i);
  let lin = 0, d: number, dh: number;
  if (i.mod === 3) { d = readReg(c, i.rm, s, i.rex); dh = c.vh; }
  else { lin = c.memLinear(i, s, true); c.probeWrite(lin, s >>> 3); d = c.readSize(lin, s); dh = c.vh; }
  const a = readReg(c, RAX, s, 0), ah = c.vh;
  alu(c, 7, s, a, ah, d, dh);
  if (c.zfBit() !== 0) {
    const src = readReg(c, i.reg, s, i.rex);
    if (i.mod === 3) writeReg(c, i.rm, s, src, c.vh, i.rex); else c.writeSize(lin, s, src, c.vh);
  } else {
    // The destination is written back with its own value on failure (a locked write cycle).
    if (i.mod !== 3) c.writeSize(lin, s, d, dh);
    writeReg(c, RAX, s, d, dh, 0);
  }
};
H[MAP_0F + 0xc7] = (c, i) => {
  const r = i.reg & 7;
  if (r === 1 && i.mod !== 3) {
    const wide = i.opSize === 64; // CMPXCHG16B with REX.W
    const bytes = wide ? 16 : 8;
    let ea = c.ea(i);
    if (wide && (ea % 16) !== 0) c.raise(EXC_GP, 0);
    const lin = c.segLinear(i.seg, ea, bytes, true);
    c.probeWrite(lin, bytes);
    if (!wide) {
      const lo = c.read32(lin), hi = c.read32(lin + 4);
      if (lo === c.lo[RAX] && hi === c.lo[RDX]) {
        c.write32(lin, c.lo[RBX]); c.write32(lin + 4, c.lo[RCX]);
        c.setStatusFlags(c.getFlags() | ZF);
      } else {
        c.write32(lin, lo); c.write32(lin + 4, hi);
        c.setReg(RAX, 32, lo, 0); c.setReg(RDX, 32, hi, 0);
        c.setStatusFlags(c.getFlags() & ~ZF);
      }
    } else {
      const l0 = c.read32(lin), l1 = c.read32(lin + 4), h0 = c.read32(lin + 8), h1 = c.read32(lin + 12);
      if (l0 === c.lo[RAX] && l1 === c.hi[RAX] && h0 === c.lo[RDX] && h1 === c.hi[RDX]) {
        c.write64(lin, c.lo[RBX], c.hi[RBX]); c.write64(lin + 8, c.lo[RCX], c.hi[RCX]);
        c.setStatusFlags(c.getFlags() | ZF);
      } else {
        c.write64(lin, l0, l1); c.write64(lin + 8, h0, h1);
        c.setReg(RAX, 64, l0, l1); c.setReg(RDX, 64, h0, h1);
        c.setStatusFlags(c.getFlags() & ~ZF);
      }
    }
    void ea;
    return;
  }
  sysGroupC7(c, i);
};
/** 0F C7 other members (RDRAND/RDSEED/VMPTRLD...) live in exec-sys.ts. */
export let sysGroupC7: (c: Cpu, i: Insn) => void = (c, i) => notImplemented(c, i);
export function setSysGroupC7(f: (c: Cpu, i: Insn) => void): void { sysGroupC7 = f; }

// ---------------------------------------------------------------- BCD and misc legacy

H[0x27] = (c) => { // DAA
  const f = c.getFlags(); let al = c.lo[RAX] & 0xff; const oldAl = al, oldCf = f & CF; let nf = f & ~(CF | AF);
  if ((al & 0xf) > 9 || (f & AF)) { al = (al + 6) & 0xff; nf |= AF; }
  if (oldAl > 0x99 || oldCf) { al = (al + 0x60) & 0xff; nf |= CF; }
  c.setReg8(RAX, 0, al); c.setStatusFlags(szp(nf & ~(SF | ZF | PF | OF), al, 8));
};
H[0x2f] = (c) => { // DAS
  const f = c.getFlags(); let al = c.lo[RAX] & 0xff; const oldAl = al, oldCf = f & CF; let nf = f & ~(CF | AF);
  if ((al & 0xf) > 9 || (f & AF)) { al = (al - 6) & 0xff; nf |= AF; }
  if (oldAl > 0x99 || oldCf) { al = (al - 0x60) & 0xff; nf |= CF; }
  c.setReg8(RAX, 0, al); c.setStatusFlags(szp(nf & ~(SF | ZF | PF | OF), al, 8));
};
H[0x37] = (c) => { // AAA
  const f = c.getFlags(); let ax = c.lo[RAX] & 0xffff;
  if ((ax & 0xf) > 9 || (f & AF)) { ax = (ax + 0x106) & 0xffff; c.setStatusFlags((f & ~STATUS_FLAGS) | AF | CF); }
  else c.setStatusFlags(f & ~(AF | CF));
  c.setReg(RAX, 16, ax & 0xff0f, 0);
};
H[0x3f] = (c) => { // AAS
  const f = c.getFlags(); let ax = c.lo[RAX] & 0xffff;
  if ((ax & 0xf) > 9 || (f & AF)) { ax = ((ax - 6) & 0xff) | ((((ax >>> 8) - 1) & 0xff) << 8); c.setStatusFlags((f & ~STATUS_FLAGS) | AF | CF); }
  else c.setStatusFlags(f & ~(AF | CF));
  c.setReg(RAX, 16, ax & 0xff0f, 0);
};
H[0xd4] = (c, i) => { // AAM
  const base = i.imm & 0xff; if (base === 0) c.raise(EXC_DE);
  const al = c.lo[RAX] & 0xff; const r = al % base; c.setReg(RAX, 16, (Math.floor(al / base) << 8) | r, 0);
  c.setStatusFlags(szp(0, r, 8));
};
H[0xd5] = (c, i) => { // AAD
  const base = i.imm & 0xff; const ax = c.lo[RAX];
  const al = ((ax & 0xff) + ((ax >>> 8) & 0xff) * base) & 0xff; c.setReg(RAX, 16, al, 0);
  c.setStatusFlags(szp(0, al, 8));
};
function szp(f: number, v: number, size: number): number {
  if (((v >>> (size - 1)) & 1) !== 0) f |= SF;
  if ((v & maskOf(size)) === 0) f |= ZF;
  return f | parity(v);
}

// INT3 / INT n / INTO
H[0xcc] = (c) => softInt(c, EXC_BP, true);
H[0xcd] = (c, i) => softInt(c, i.imm & 0xff, false);
H[0xce] = (c) => { if (c.ofBit() !== 0) softInt(c, EXC_OF, true); };
/**
 * INT3 and INTO are software exceptions (they consult the VMX exception bitmap, SDM vol. 3C
 * §26.2); INT n is a software interrupt (never exits for the bitmap).
 */
function softInt(c: Cpu, vector: number, exception: boolean): void {
  if ((c.getFlags() & VM) !== 0 && ((c.getFlags() & IOPL) >>> 12) < 3) c.raise(EXC_GP, 0);
  if (exception && c.vmx !== null) c.vmx.exception(c, vector, false, 0, true);
  c.deliver(vector, false, 0, true, c.nextRip, exception ? 6 : 4);
  c.nextRip = c.rip;
}

// HLT
H[0xf4] = (c, i) => {
  if (c.cpl !== 0) c.raise(EXC_GP, 0);
  if (c.vmx !== null && c.vmx.hlt(c, i)) return;
  c.halted = true;
};

// Segment override prefixes never reach here; keep segment pushes/pops.
const SEG_PUSH: Array<[number, number]> = [[0x06, ES], [0x0e, CS], [0x16, SS], [0x1e, DS], [MAP_0F + 0xa0, FS], [MAP_0F + 0xa8, GS]];
for (const [op, s] of SEG_PUSH) H[op] = (c, i) => c.push(i.opSize, c.sel[s], 0);
const SEG_POP: Array<[number, number]> = [[0x07, ES], [0x17, SS], [0x1f, DS], [MAP_0F + 0xa1, FS], [MAP_0F + 0xa9, GS]];
for (const [op, s] of SEG_POP) H[op] = (c, i) => {
  const v = c.peekStack(0, i.opSize) & 0xffff;
  c.loadSeg(s, v);
  c.adjustSp(i.opSize >>> 3);
  if (s === SS) c.shadow = 1;
};
// MOV r/m, Sreg and MOV Sreg, r/m
H[0x8c] = (c, i) => {
  const s = i.reg & 7; if (s > 5) c.raise(EXC_UD);
  if (i.mod === 3) c.setReg(i.rm, i.opSize === 16 ? 16 : i.opSize, c.sel[s], 0);
  else c.writeRM(i, 16, c.sel[s], 0);
};
H[0x8e] = (c, i) => {
  const s = i.reg & 7; if (s > 5 || s === CS) c.raise(EXC_UD);
  c.loadSeg(s, c.readRM(i, 16));
  if (s === SS) c.shadow = 1;
};
// Far pointer loads LDS/LES (legacy), LSS/LFS/LGS
function loadFarPtr(c: Cpu, i: Insn, s: number): void {
  if (i.mod === 3) c.raise(EXC_UD);
  const os = i.opSize;
  const lin = c.memLinear(i, os + 16, false);
  const off = c.readSize(lin, os), offh = c.vh;
  const sel = c.read16(lin + (os >>> 3));
  c.loadSeg(s, sel);
  c.setReg(i.reg, os, off, offh);
}
H[0xc4] = (c, i) => loadFarPtr(c, i, ES);
H[0xc5] = (c, i) => loadFarPtr(c, i, DS);
H[MAP_0F + 0xb2] = (c, i) => loadFarPtr(c, i, SS);
H[MAP_0F + 0xb4] = (c, i) => loadFarPtr(c, i, FS);
H[MAP_0F + 0xb5] = (c, i) => loadFarPtr(c, i, GS);

// UD2, UD0, UD1
H[MAP_0F + 0x0b] = (c) => c.raise(EXC_UD);
H[MAP_0F + 0xb9] = (c) => c.raise(EXC_UD);
H[MAP_0F + 0xff] = (c) => c.raise(EXC_UD);

void [LF_NONE, RF, GS, RBX, RBP, TWO32];
