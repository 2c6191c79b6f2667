// Seeded random case generators for the native conformance groups: ALU, shift/rotate, multiply/divide, bit, string.
import { CODE_ADDR, SCRATCH_ADDR, encodeModRM, encodePlain, hex, opText, regName } from './encode.js';
import type { Imm, MemOp, ModRMInsn, RM, RegOp, Size } from './encode.js';
import { COMPARED, DF, UNDEFINED_FLAGS, doubleShiftUndefined, shiftUndefinedFlags } from './flags.js';
import type { ShiftOp } from './flags.js';

/** One snippet: code at CODE_ADDR, inputs, and what of the outcome the SDM defines. */
export interface NativeCase {
  asm: string;
  code: Uint8Array;
  gpr: bigint[];
  rflags: bigint;
  /** Initial content of the scratch window at SCRATCH_ADDR (compared after the run), or null. */
  scratch: Uint8Array | null;
  /** RFLAGS bits (within COMPARED) whose result the SDM defines for these inputs. */
  definedFlags: number;
  /** Bitmask of GPR indexes whose result the SDM leaves undefined for these inputs. */
  undefinedRegs: number;
  /** DIV/IDIV operands as generated (absent when the divisor register aliases the dividend). */
  div?: { size: number; signed: boolean; dividend: bigint; divisor: bigint };
}

/** sfc32: small, fast, seedable; every case is reproducible from (seed, index). */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.u32();
  }
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  int(n: number): number {
    return Math.floor((this.u32() / 0x1_0000_0000) * n);
  }
  bool(p = 0.5): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  private readonly q = new BigUint64Array(1);
  private readonly qw = new Uint32Array(this.q.buffer);
  /** 64 random bits as one BigInt allocation (little-endian halves through a typed-array view). */
  u64(): bigint {
    this.qw[0] = this.u32();
    this.qw[1] = this.u32();
    return this.q[0]!;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array((n + 3) & ~3);
    const w = new Uint32Array(out.buffer);
    for (let i = 0; i < w.length; i++) w[i] = this.u32();
    return out.subarray(0, n);
  }
}

const MASKS: readonly bigint[] = Array.from({ length: 129 }, (_, i) => (1n << BigInt(i)) - 1n);
const SIGNS: readonly bigint[] = Array.from({ length: 65 }, (_, i) => (i === 0 ? 0n : 1n << BigInt(i - 1)));
export const mask = (bits: number): bigint => MASKS[bits]!;
const signExtend = (v: bigint, bits: number): bigint => BigInt.asIntN(bits, v);

/** A value of `size` bits biased towards the edges: 0, 1, -1, sign boundaries, single bits, small. */
export function interesting(rng: Rng, size: number): bigint {
  const m = mask(size);
  const sign = SIGNS[size]!;
  switch (rng.int(14)) {
    case 0: return 0n;
    case 1: return 1n;
    case 2: return m;
    case 3: return sign;
    case 4: return sign - 1n;
    case 5: return sign + 1n;
    case 6: return m - 1n;
    case 7: return 2n;
    case 8: return BigInt(rng.int(256)) & m;
    case 9: return 1n << BigInt(rng.int(size));
    case 10: return m ^ (1n << BigInt(rng.int(size)));
    case 11: return (m - BigInt(rng.int(256))) & m;
    default: return rng.u64() & m;
  }
}

function randomGpr(rng: Rng): bigint {
  switch (rng.int(4)) {
    case 0: return interesting(rng, 64);
    case 1: return (rng.u64() & ~0xffffffffn) | interesting(rng, 32);
    default: return rng.u64();
  }
}

/** Random status flags (and DF when asked) as the case's input RFLAGS. */
function randomFlags(rng: Rng, withDf: boolean): bigint {
  let f = 0;
  for (const bit of [0x1, 0x4, 0x10, 0x40, 0x80, 0x800]) if (rng.bool()) f |= bit;
  if (withDf && rng.bool()) f |= DF;
  return BigInt(f | 0x2);
}

const SIZES: readonly Size[] = [8, 16, 32, 64];
const WIDE: readonly Size[] = [16, 32, 64];
const RSP = 4;

/** Allocates registers and memory operands for one case and records their input values. */
class Builder {
  readonly gpr: bigint[];
  readonly used = new Set<number>([RSP]);
  scratch: Uint8Array | null = null;
  private ripTarget: number | null = null;
  constructor(
    readonly rng: Rng,
    /** Byte-register cases that use AH..BH: no REX, so only registers 0..7. */
    readonly noRex: boolean,
  ) {
    this.gpr = new Array<bigint>(16);
    for (let i = 0; i < 16; i++) this.gpr[i] = randomGpr(rng);
  }

  static physical(r: RegOp): number {
    return r.high ? r.reg - 4 : r.reg;
  }

  reserve(...regs: number[]): void {
    for (const r of regs) this.used.add(r);
  }

  /** A free register operand of `size` (never RSP: the harness stack). */
  reg(size: Size, allowHigh = true): RegOp {
    for (;;) {
      if (size === 8 && this.noRex && allowHigh && this.rng.bool(0.5)) {
        const r: RegOp = { kind: 'reg', reg: 4 + this.rng.int(4), high: true };
        if (!this.used.has(Builder.physical(r))) return this.take(r);
        continue;
      }
      const n = this.noRex ? this.rng.int(size === 8 ? 4 : 8) : this.rng.int(16);
      if (!this.used.has(n)) return this.take({ kind: 'reg', reg: n });
    }
  }

  private take(r: RegOp): RegOp {
    this.used.add(Builder.physical(r));
    return r;
  }

  set(r: RegOp, size: Size, v: bigint): void {
    const p = Builder.physical(r);
    if (r.high) this.gpr[p] = (this.gpr[p]! & ~0xff00n) | ((v & 0xffn) << 8n);
    else this.gpr[p] = (this.gpr[p]! & ~mask(size)) | (v & mask(size));
  }

  get(r: RegOp, size: Size): bigint {
    const p = Builder.physical(r);
    return r.high ? (this.gpr[p]! >> 8n) & 0xffn : this.gpr[p]! & mask(size);
  }

  /** A memory operand addressing SCRATCH_ADDR + offset through base (+ index*scale) + disp or RIP. */
  mem(offset: number): MemOp {
    const rng = this.rng;
    const target = SCRATCH_ADDR + offset;
    if (rng.bool(0.08)) {
      this.ripTarget = target;
      return { kind: 'mem', base: 'rip', disp: 0 };
    }
    const free = (): number => {
      for (;;) {
        const n = this.noRex ? rng.int(8) : rng.int(16);
        if (!this.used.has(n)) {
          this.used.add(n);
          return n;
        }
      }
    };
    const base = free();
    const disp = rng.pick([0, 0, rng.int(256) - 128, rng.int(0x4000) - 0x2000, -0x10000]);
    const op: MemOp = { kind: 'mem', base, disp };
    let indexPart = 0;
    if (rng.bool(0.3)) {
      const index = free();
      const scale = rng.pick([1, 2, 4, 8] as const);
      const iv = BigInt(rng.int(64));
      this.gpr[index] = iv;
      op.index = index;
      op.scale = scale;
      indexPart = Number(iv) * scale;
    }
    this.gpr[base] = BigInt(target - disp - indexPart);
    return op;
  }

  /** Random scratch window of `len` bytes with `value` (little-endian, `bytes` wide) at `offset`. */
  window(len: number, offset: number, value: bigint, bytes: number): void {
    const s = this.rng.bytes(len);
    for (let i = 0; i < bytes; i++) s[offset + i] = Number((value >> BigInt(8 * i)) & 0xffn);
    this.scratch = s;
  }

  /** Encodes, resolving a RIP-relative operand against the instruction's final length. */
  encode(insn: ModRMInsn): { code: Uint8Array; end: number } {
    let code = encodeModRM(insn);
    const rm = insn.rm;
    if (rm.kind === 'mem' && rm.base === 'rip') {
      if (this.ripTarget === null) throw new Error('RIP operand without target');
      rm.disp = this.ripTarget - (CODE_ADDR + code.length);
      code = encodeModRM(insn);
    }
    return { code, end: CODE_ADDR + code.length };
  }
}

/** An r/m operand of `size`: a register, or (probability pMem) memory in a 64-byte window holding `value`. */
function rmOperand(b: Builder, size: Size, value: bigint, pMem = 0.35): RM {
  if (b.rng.bool(pMem)) {
    const bytes = size / 8;
    const offset = b.rng.int(64 - bytes + 1);
    b.window(64, offset, value, bytes);
    return b.mem(offset);
  }
  const r = b.reg(size);
  b.set(r, size, value);
  return r;
}

function makeCase(b: Builder, asm: string, code: Uint8Array, rflags: bigint, undefinedFlags: number, undefinedRegs = 0): NativeCase {
  return {
    asm,
    code,
    gpr: b.gpr,
    rflags,
    scratch: b.scratch,
    definedFlags: COMPARED & ~undefinedFlags,
    undefinedRegs,
  };
}

function immText(v: bigint, bits: number, size: Size): string {
  return hex(signExtend(v, bits) & mask(size));
}

function immOf(v: bigint, bytes: 1 | 2 | 4): Imm {
  return { value: v, bytes };
}

// ---------------------------------------------------------------- group 1: ALU

const ALU_OPS = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'] as const;
const LOGIC = new Set(['and', 'or', 'xor', 'test']);

export function genAlu(rng: Rng): NativeCase {
  const size = rng.pick(SIZES);
  const b = new Builder(rng, size === 8 && rng.bool(0.3));
  const flags = randomFlags(rng, true);
  const w = size === 8 ? 0 : 1;
  const immBytes = (size === 8 ? 1 : size === 16 ? 2 : 4) as 1 | 2 | 4;
  const form = rng.int(10);
  const k = rng.int(8);
  const alu = ALU_OPS[k]!;
  const undef = (mn: string): number => (LOGIC.has(mn) ? UNDEFINED_FLAGS.logic : UNDEFINED_FLAGS.arith);
  const a = interesting(rng, size);
  const c = interesting(rng, size);

  if (form <= 2) {
    // r/m, reg: ALU 00..39 (even opcodes byte), TEST 84/85, XADD 0F C0/C1, CMPXCHG 0F B0/B1
    const which = form === 0 ? alu : form === 1 ? 'test' : rng.pick(['xadd', 'cmpxchg']);
    const opcode = which === 'test' ? [0x84 + w] : which === 'xadd' ? [0x0f, 0xc0 + w] : which === 'cmpxchg' ? [0x0f, 0xb0 + w] : [k * 8 + w];
    // CMPXCHG compares with the accumulator: reserve it (no memory operand based on RAX), and one
    // case in ten uses it as the destination too.
    if (which === 'cmpxchg') b.reserve(0);
    let rm: RM;
    if (which === 'cmpxchg' && rng.bool(0.1)) {
      rm = { kind: 'reg', reg: 0 };
      b.set(rm, size, a);
    } else rm = rmOperand(b, size, a);
    const reg = b.reg(size);
    b.set(reg, size, c);
    if (which === 'cmpxchg' && rng.bool(0.5)) {
      // make the comparison succeed: accumulator = destination (SDM vol. 2A CMPXCHG)
      const acc: RegOp = { kind: 'reg', reg: 0 };
      if (rm.kind === 'reg' ? Builder.physical(rm) !== 0 : true) b.set(acc, size, a);
    }
    const { code, end } = b.encode({ size, opcode, reg, rm });
    return makeCase(b, `${which} ${opText(rm, size, end)},${regName(reg, size)}`, code, flags, undef(which));
  }
  if (form === 3) {
    // reg, r/m: ALU 02/03 + k*8
    const rm = rmOperand(b, size, a);
    const reg = b.reg(size);
    b.set(reg, size, c);
    const { code, end } = b.encode({ size, opcode: [k * 8 + 2 + w], reg, rm });
    return makeCase(b, `${alu} ${regName(reg, size)},${opText(rm, size, end)}`, code, flags, undef(alu));
  }
  if (form === 4) {
    // AL/AX/EAX/RAX, imm: 04/05 + k*8, TEST A8/A9 (imm32 sign-extended for 64-bit)
    const which = rng.bool(0.85) ? alu : 'test';
    const op = which === 'test' ? 0xa8 + w : k * 8 + 4 + w;
    b.reserve(0);
    b.set({ kind: 'reg', reg: 0 }, size, a);
    const code = encodePlain(size, [], [op], { imm: immOf(c, immBytes) });
    const acc = regName({ kind: 'reg', reg: 0 }, size);
    return makeCase(b, `${which} ${acc},${immText(c, immBytes * 8, size)}`, code, flags, undef(which));
  }
  if (form <= 6) {
    // 80/81 /k ib/iw/id, 83 /k ib (sign-extended), TEST F6/F7 /0
    const use83 = form === 6 && size !== 8;
    const which = !use83 && rng.bool(0.15) ? 'test' : alu;
    const rm = rmOperand(b, size, a);
    const bytes = use83 ? 1 : immBytes;
    const opcode = which === 'test' ? [0xf6 + w] : use83 ? [0x83] : [0x80 + w];
    const digit = which === 'test' ? 0 : k;
    const { code, end } = b.encode({ size, opcode, reg: digit, rm, imm: immOf(c, bytes) });
    return makeCase(b, `${which} ${opText(rm, size, end)},${immText(c, bytes * 8, size)}`, code, flags, undef(which));
  }
  // unary: INC FE/FF /0, DEC /1, NOT F6/F7 /2, NEG /3
  const which = rng.pick(['inc', 'dec', 'not', 'neg'] as const);
  const rm = rmOperand(b, size, a);
  const opcode = which === 'inc' || which === 'dec' ? [0xfe + w] : [0xf6 + w];
  const digit = { inc: 0, dec: 1, not: 2, neg: 3 }[which];
  const { code, end } = b.encode({ size, opcode, reg: digit, rm });
  return makeCase(b, `${which} ${opText(rm, size, end)}`, code, flags, UNDEFINED_FLAGS.arith);
}

// ---------------------------------------------------------------- group 2: shift / rotate

const SHIFT_OPS: readonly (readonly [ShiftOp, number])[] = [
  ['rol', 0], ['ror', 1], ['rcl', 2], ['rcr', 3], ['shl', 4], ['shr', 5], ['sar', 7],
];

function shiftCount(rng: Rng, size: number): number {
  if (rng.bool(0.3)) return rng.int(256);
  return rng.pick([0, 1, 2, size - 1, size, size + 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 0x80, 0xff]);
}

export function genShift(rng: Rng): NativeCase {
  const double = rng.bool(0.25);
  const size = double ? rng.pick(WIDE) : rng.pick(SIZES);
  const b = new Builder(rng, size === 8 && rng.bool(0.3));
  const flags = randomFlags(rng, true);
  const w = size === 8 ? 0 : 1;
  const form = rng.pick(double ? ['cl', 'imm'] : ['1', 'cl', 'imm']);
  let count = form === '1' ? 1 : shiftCount(rng, size);
  const ecx: RegOp = { kind: 'reg', reg: 1 };
  const clShared = form === 'cl' && !double && rng.bool(0.1); // e.g. SHL CL,CL: the count is the operand itself
  if (form === 'cl' && !clShared) {
    b.reserve(1);
    b.set(ecx, 8, BigInt(count));
  }
  const rm = rmOperand(b, size, interesting(rng, size));
  if (double) {
    const src = b.reg(size);
    b.set(src, size, interesting(rng, size));
    const shld = rng.bool();
    if (form === 'cl') count = Number(b.gpr[1]! & 0xffn);
    let u = doubleShiftUndefined(size, count);
    if (u.destUndefined && rm.kind === 'mem') {
      // keep memory destinations defined (a register destination is masked instead)
      count = size;
      if (form === 'cl') b.set(ecx, 8, BigInt(count));
      if (form === 'cl') count = Number(b.gpr[1]! & 0xffn);
      u = doubleShiftUndefined(size, count);
    }
    const opcode = [0x0f, (shld ? 0xa4 : 0xac) + (form === 'cl' ? 1 : 0)];
    const imm = form === 'imm' ? immOf(BigInt(count), 1) : undefined;
    const { code, end } = b.encode({ size, opcode, reg: src, rm, imm });
    const last = form === 'cl' ? 'cl' : hex(count);
    const undefRegs = u.destUndefined && rm.kind === 'reg' ? 1 << rm.reg : 0;
    return makeCase(b, `${shld ? 'shld' : 'shrd'} ${opText(rm, size, end)},${regName(src, size)},${last}`, code, flags, u.flags, undefRegs);
  }
  const [op, digit] = rng.pick(SHIFT_OPS);
  if (form === 'cl') count = Number(b.gpr[1]! & 0xffn);
  const opcode = [(form === '1' ? 0xd0 : form === 'cl' ? 0xd2 : 0xc0) + w];
  const imm = form === 'imm' ? immOf(BigInt(count), 1) : undefined;
  const { code, end } = b.encode({ size, opcode, reg: digit, rm, imm });
  const last = form === 'cl' ? 'cl' : hex(count);
  return makeCase(b, `${op} ${opText(rm, size, end)},${last}`, code, flags, shiftUndefinedFlags(op, size, count));
}

// ---------------------------------------------------------------- group 3: multiply / divide

/** Dividend and divisor for DIV/IDIV: mostly quotients that fit, plus #DE by zero and by overflow. */
function divOperands(rng: Rng, size: number, signed: boolean): { dividend: bigint; divisor: bigint } {
  const n = BigInt(size);
  const kind = rng.int(10);
  if (kind === 0) return { dividend: rng.u64() & mask(2 * size), divisor: 0n };
  if (kind === 1) {
    // quotient overflow (IDIV: most negative / -1)
    if (signed) return { dividend: BigInt.asUintN(2 * size, -(1n << (2n * n - 1n))), divisor: mask(size) };
    const d = interesting(rng, size) | 1n;
    const hi = d + (rng.u64() & mask(size)) % (mask(size) - d + 1n); // high half >= divisor: quotient too big
    return { dividend: (hi << n) | (rng.u64() & mask(size)), divisor: d };
  }
  if (kind === 2) return { dividend: rng.u64() & mask(2 * size), divisor: interesting(rng, size) };
  let d = interesting(rng, size);
  if (d === 0n) d = 1n;
  if (!signed) {
    const q = interesting(rng, size);
    const r = (rng.u64() & mask(size)) % d;
    return { dividend: q * d + r, divisor: d };
  }
  const ds = signExtend(d, size);
  const lim = 1n << (n - 1n);
  let q = signExtend(interesting(rng, size), size);
  if (q === -lim && ds === -1n) q = 0n;
  const mag = (ds < 0n ? -ds : ds);
  let r = (rng.u64() & mask(size)) % mag;
  const prod = q * ds;
  if (prod < 0n || (prod === 0n && rng.bool())) r = -r;
  let dividend = prod + r;
  // keep within the 2n-bit signed range
  if (dividend >= 1n << (2n * n - 1n) || dividend < -(1n << (2n * n - 1n))) dividend = prod;
  return { dividend: BigInt.asUintN(2 * size, dividend), divisor: d };
}

export function genMulDiv(rng: Rng): NativeCase {
  const kind = rng.int(10);
  const size = kind <= 5 ? rng.pick(SIZES) : rng.pick(WIDE);
  const b = new Builder(rng, size === 8 && rng.bool(0.3));
  const flags = randomFlags(rng, true);
  const w = size === 8 ? 0 : 1;
  const rax: RegOp = { kind: 'reg', reg: 0 };
  const rdx: RegOp = { kind: 'reg', reg: 2 };
  if (kind <= 5) {
    // F6/F7 /4 MUL, /5 IMUL, /6 DIV, /7 IDIV (SDM vol. 2A/2B)
    const op = kind <= 1 ? 'mul' : kind === 2 ? 'imul' : kind <= 4 ? 'div' : 'idiv';
    const digit = { mul: 4, imul: 5, div: 6, idiv: 7 }[op];
    // rAX and rDX are implicit operands: reserve them so no memory operand is based on them;
    // one case in ten uses them as the explicit operand too (MUL RAX, DIV DL, ...).
    b.reserve(0, 2);
    const implicitRm = (v: bigint): RM => {
      if (!rng.bool(0.1)) return rmOperand(b, size, v);
      const r: RegOp = size === 8 && rng.bool() ? (b.noRex ? { kind: 'reg', reg: rng.pick([4, 6]), high: true } : { kind: 'reg', reg: rng.pick([0, 2]) }) : { kind: 'reg', reg: rng.pick([0, 2]) };
      b.set(r, size, v);
      return r;
    };
    if (op === 'mul' || op === 'imul') {
      const rm = implicitRm(interesting(rng, size));
      if (!(rm.kind === 'reg' && Builder.physical(rm) === 0)) b.set(rax, size, interesting(rng, size));
      const { code, end } = b.encode({ size, opcode: [0xf6 + w], reg: digit, rm });
      return makeCase(b, `${op} ${opText(rm, size, end)}`, code, flags, UNDEFINED_FLAGS.mul);
    }
    const { dividend, divisor } = divOperands(rng, size, op === 'idiv');
    const rm = implicitRm(divisor);
    // the dividend is AX for byte operands, else rDX:rAX; an r/m that aliases them keeps its own value
    const aliasA = rm.kind === 'reg' && Builder.physical(rm) === 0;
    const aliasD = rm.kind === 'reg' && Builder.physical(rm) === 2;
    if (size === 8) {
      if (!aliasA) b.set(rax, 16, dividend);
    } else {
      if (!aliasA) b.set(rax, size, dividend & mask(size));
      if (!aliasD) b.set(rdx, size, dividend >> BigInt(size));
    }
    const { code, end } = b.encode({ size, opcode: [0xf6 + w], reg: digit, rm });
    const c = makeCase(b, `${op} ${opText(rm, size, end)}`, code, flags, UNDEFINED_FLAGS.div);
    if (!aliasA && !aliasD) c.div = { size, signed: op === 'idiv', dividend, divisor };
    return c;
  }
  if (kind <= 7) {
    // IMUL r, r/m (0F AF) and IMUL r, r/m, imm (6B ib / 69 iw/id)
    const rm = rmOperand(b, size, interesting(rng, size));
    const reg = b.reg(size);
    b.set(reg, size, interesting(rng, size));
    if (kind === 6) {
      const { code, end } = b.encode({ size, opcode: [0x0f, 0xaf], reg, rm });
      return makeCase(b, `imul ${regName(reg, size)},${opText(rm, size, end)}`, code, flags, UNDEFINED_FLAGS.mul);
    }
    const short = rng.bool();
    const bytes = short ? 1 : size === 16 ? 2 : 4;
    const imm = interesting(rng, bytes * 8);
    const { code, end } = b.encode({ size, opcode: [short ? 0x6b : 0x69], reg, rm, imm: immOf(imm, bytes) });
    return makeCase(b, `imul ${regName(reg, size)},${opText(rm, size, end)},${immText(imm, bytes * 8, size)}`, code, flags, UNDEFINED_FLAGS.mul);
  }
  // CBW/CWDE/CDQE (98) and CWD/CDQ/CQO (99)
  b.set(rax, 64, b.rng.bool(0.5) ? interesting(rng, size) | (b.gpr[0]! & ~mask(size)) : b.gpr[0]!);
  const cwd = kind === 9;
  const code = encodePlain(size, [], [cwd ? 0x99 : 0x98]);
  const mn = cwd ? { 16: 'cwd', 32: 'cdq', 64: 'cqo' }[size as 16 | 32 | 64] : { 16: 'cbw', 32: 'cwde', 64: 'cdqe' }[size as 16 | 32 | 64];
  return makeCase(b, mn, code, flags, UNDEFINED_FLAGS.none);
}

// ---------------------------------------------------------------- group 4: bit instructions, SETcc, CMOVcc

const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'] as const;
const BT_OPS = [['bt', 0xa3, 4], ['bts', 0xab, 5], ['btr', 0xb3, 6], ['btc', 0xbb, 7]] as const;

export interface BitOptions {
  movbe: boolean;
}

export function genBit(rng: Rng, opts: BitOptions): NativeCase {
  const kinds = ['bt-reg', 'bt-mem', 'bt-imm', 'scan', 'scan', 'bswap', 'setcc', 'cmovcc', ...(opts.movbe ? ['movbe'] : [])];
  const kind = rng.pick(kinds);
  const size = kind === 'setcc' ? 8 : kind === 'bswap' ? rng.pick([16, 32, 64, 32, 64] as const) : rng.pick(WIDE);
  const b = new Builder(rng, size === 8 && rng.bool(0.3));
  const flags = randomFlags(rng, true);
  switch (kind) {
    case 'bt-reg':
    case 'bt-mem': {
      // BT/BTS/BTR/BTC r/m, r (0F A3/AB/B3/BB): a register bit offset is signed and may leave the
      // addressed word for memory operands (SDM vol. 2A BT, "bit base" addressing, figure 3-2).
      const [mn, op] = rng.pick(BT_OPS);
      let rm: RM;
      const offReg = b.reg(size, false);
      if (kind === 'bt-mem') {
        const center = 480 + rng.int(64);
        b.window(1024, 0, 0n, 0);
        rm = b.mem(center);
        const off = BigInt(rng.int(6401) - 3200);
        // only the operand-size low bits of the offset register count; randomize the rest
        b.set(offReg, size, BigInt.asUintN(size, off));
      } else {
        rm = b.reg(size);
        b.set(rm, size, interesting(rng, size));
        b.set(offReg, size, interesting(rng, size));
      }
      const { code, end } = b.encode({ size, opcode: [0x0f, op], reg: offReg, rm });
      return makeCase(b, `${mn} ${opText(rm, size, end)},${regName(offReg, size)}`, code, flags, UNDEFINED_FLAGS.bitTest);
    }
    case 'bt-imm': {
      // 0F BA /4../7 ib: the immediate is taken modulo the operand size
      const [mn, , digit] = rng.pick(BT_OPS);
      const rm = rmOperand(b, size, interesting(rng, size));
      const imm = BigInt(rng.bool(0.7) ? rng.int(size) : rng.int(256));
      const { code, end } = b.encode({ size, opcode: [0x0f, 0xba], reg: digit, rm, imm: immOf(imm, 1) });
      return makeCase(b, `${mn} ${opText(rm, size, end)},${hex(imm)}`, code, flags, UNDEFINED_FLAGS.bitTest);
    }
    case 'scan': {
      // BSF 0F BC, BSR 0F BD, TZCNT F3 0F BC, LZCNT F3 0F BD, POPCNT F3 0F B8
      const mn = rng.pick(['bsf', 'bsr', 'tzcnt', 'lzcnt', 'popcnt'] as const);
      const src = rng.bool(0.15) ? 0n : interesting(rng, size);
      const rm = rmOperand(b, size, src);
      const reg = b.reg(size);
      const prefixes = mn === 'bsf' || mn === 'bsr' ? [] : [0xf3];
      const opcode = [0x0f, { bsf: 0xbc, bsr: 0xbd, tzcnt: 0xbc, lzcnt: 0xbd, popcnt: 0xb8 }[mn]];
      const { code, end } = b.encode({ size, prefixes, opcode, reg, rm });
      const scan = mn === 'bsf' || mn === 'bsr';
      // BSF/BSR with a zero source: "the content of the destination operand is undefined" (vol. 2A)
      const undefRegs = scan && src === 0n ? 1 << reg.reg : 0;
      const undefFlags = scan ? UNDEFINED_FLAGS.bitScan : mn === 'popcnt' ? UNDEFINED_FLAGS.popcnt : UNDEFINED_FLAGS.countZeros;
      return makeCase(b, `${mn} ${regName(reg, size)},${opText(rm, size, end)}`, code, flags, undefFlags, undefRegs);
    }
    case 'bswap': {
      // 0F C8+rd; with a 16-bit operand "the result is undefined" (vol. 2A BSWAP)
      const r = b.reg(size);
      const code = encodePlain(size, [], [0x0f, 0xc8], { regInOpcode: r.reg });
      return makeCase(b, `bswap ${regName(r, size)}`, code, flags, UNDEFINED_FLAGS.none, size === 16 ? 1 << r.reg : 0);
    }
    case 'movbe': {
      // MOVBE r, m (0F 38 F0) and MOVBE m, r (0F 38 F1); memory operands only (vol. 2B MOVBE)
      const toMem = rng.bool();
      const bytes = size / 8;
      const offset = rng.int(64 - bytes + 1);
      b.window(64, offset, interesting(rng, size), bytes);
      const m = b.mem(offset);
      const reg = b.reg(size);
      b.set(reg, size, interesting(rng, size));
      const { code, end } = b.encode({ size, opcode: [0x0f, 0x38, toMem ? 0xf1 : 0xf0], reg, rm: m });
      const asm = toMem ? `movbe ${opText(m, size, end)},${regName(reg, size)}` : `movbe ${regName(reg, size)},${opText(m, size, end)}`;
      return makeCase(b, asm, code, flags, UNDEFINED_FLAGS.none);
    }
    case 'setcc': {
      const cc = rng.int(16);
      const rm = rmOperand(b, 8, interesting(rng, 8));
      const { code, end } = b.encode({ size: 8, opcode: [0x0f, 0x90 + cc], reg: 0, rm });
      return makeCase(b, `set${CC[cc]} ${opText(rm, 8, end)}`, code, flags, UNDEFINED_FLAGS.none);
    }
    default: {
      // CMOVcc r, r/m (0F 40+cc): a 32-bit CMOV writes (zero-extends) its destination even when false
      const cc = rng.int(16);
      const rm = rmOperand(b, size, interesting(rng, size));
      const reg = b.reg(size);
      const { code, end } = b.encode({ size, opcode: [0x0f, 0x40 + cc], reg, rm });
      return makeCase(b, `cmov${CC[cc]} ${regName(reg, size)},${opText(rm, size, end)}`, code, flags, UNDEFINED_FLAGS.none);
    }
  }
}

// ---------------------------------------------------------------- group 5: string instructions

const STRING_OPS = [
  ['movs', 0xa4, false],
  ['cmps', 0xa6, true],
  ['stos', 0xaa, false],
  ['lods', 0xac, false],
  ['scas', 0xae, true],
] as const;
const SUFFIX: Record<Size, string> = { 8: 'b', 16: 'w', 32: 'd', 64: 'q' };

/**
 * MOVS CMPS STOS LODS SCAS with and without REP/REPE/REPNE, DF 0/1, 64- and 32-bit (67h) addressing.
 * Counts 0..64; pointers are placed so every element touched lies in the scratch window.
 */
export function genString(rng: Rng): NativeCase {
  const size = rng.pick(SIZES);
  const s = size / 8;
  const [mn, op, compares] = rng.pick(STRING_OPS);
  const b = new Builder(rng, false);
  b.reserve(0, 1, 6, 7);
  const flags = randomFlags(rng, true);
  const down = (flags & BigInt(DF)) !== 0n;
  const rep = rng.pick(compares ? ['', 'repe', 'repne', 'repe', 'repne'] : ['', 'rep', 'rep']);
  const a32 = rng.bool(0.15);
  const count = rng.bool(0.2) ? rng.pick([0, 1, 2, 63, 64]) : rng.int(65);
  const elems = rep ? count : 1;
  const W = 128 * s + 64;
  const data = rng.bytes(W);
  const place = (): number => {
    const span = Math.max(elems, 1) * s;
    return down ? span - s + rng.int(W - span + 1) : rng.int(W - span + 1);
  };
  const addr = (p: number, i: number): number => (down ? p - i * s : p + i * s);
  const src = place();
  const dst = place();
  const usesSrc = mn === 'movs' || mn === 'cmps' || mn === 'lods';
  const usesDst = mn !== 'lods';
  const hi = (): bigint => (a32 && rng.bool() ? rng.u64() & ~0xffffffffn : 0n);
  b.gpr[6] = usesSrc ? hi() | BigInt(SCRATCH_ADDR + src) : b.gpr[6]!;
  b.gpr[7] = usesDst ? hi() | BigInt(SCRATCH_ADDR + dst) : b.gpr[7]!;
  if (rep) b.gpr[1] = a32 ? (rng.u64() & ~0xffffffffn) | BigInt(count) : BigInt(count);
  if (mn === 'cmps' && rng.bool(0.7)) {
    // mostly-equal runs so REPE/REPNE stop somewhere inside the count
    for (let i = 0; i < elems; i++) data.copyWithin(addr(dst, i), addr(src, i), addr(src, i) + s);
    if (rng.bool(0.7) && elems > 0) data[addr(dst, rng.int(elems)) + rng.int(s)] ^= 1 << rng.int(8);
  }
  if (mn === 'scas') {
    const v = interesting(rng, size);
    b.set({ kind: 'reg', reg: 0 }, size, v);
    const put = (i: number): void => {
      for (let k = 0; k < s; k++) data[addr(dst, i) + k] = Number((v >> BigInt(8 * k)) & 0xffn);
    };
    if (rep === 'repe' && rng.bool(0.7)) {
      const stop = rng.int(elems + 1);
      for (let i = 0; i < Math.min(stop, elems); i++) put(i);
    } else if (rng.bool(0.6) && elems > 0) put(rng.int(elems));
  }
  b.scratch = data;
  const prefixes = [...(a32 ? [0x67] : []), ...(rep === '' ? [] : [rep === 'repne' ? 0xf2 : 0xf3])];
  const code = encodePlain(size, prefixes, [op + (size === 8 ? 0 : 1)]);
  const asm = `${a32 ? 'a32 ' : ''}${rep ? `${rep} ` : ''}${mn}${SUFFIX[size]}`;
  return makeCase(b, asm, code, flags, compares ? UNDEFINED_FLAGS.stringCompare : UNDEFINED_FLAGS.none);
}

/** `count` cases of one group from one seeded stream (a failure report prints the whole case). */
export function generate(gen: (rng: Rng) => NativeCase, seed: number, count: number): NativeCase[] {
  const rng = new Rng(seed);
  const out: NativeCase[] = [];
  for (let i = 0; i < count; i++) out.push(gen(rng));
  return out;
}

