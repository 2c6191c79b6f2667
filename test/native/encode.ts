// Hand-written x86-64 encoder for the native conformance cases (SDM vol. 2A ch. 2: prefixes, REX, ModRM, SIB) plus their NASM-style text.
export const CODE_ADDR = 0x10000;
export const SCRATCH_ADDR = 0x20000;

export type Size = 8 | 16 | 32 | 64;

/** A general-purpose register; `high` selects AH/CH/DH/BH (reg 4..7 without REX, SDM vol. 2A §2.2.1). */
export interface RegOp {
  kind: 'reg';
  reg: number;
  high?: boolean;
}

/** A memory operand [base + index*scale + disp], or RIP-relative to an absolute target address. */
export interface MemOp {
  kind: 'mem';
  base: number | 'rip';
  index?: number;
  scale?: 1 | 2 | 4 | 8;
  disp: number;
}

export type RM = RegOp | MemOp;

export class EncodeError extends Error {}

const R64 = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const R32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
const R16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'];
const R8 = ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil'];
const R8H = ['ah', 'ch', 'dh', 'bh'];

export function regName(r: RegOp, size: Size): string {
  const n = r.reg;
  if (r.high) {
    if (size !== 8 || n < 4 || n > 7) throw new EncodeError(`no high-byte register ${n}/${size}`);
    return R8H[n - 4]!;
  }
  if (n >= 8) return size === 64 ? R64[n]! : size === 32 ? `${R64[n]}d` : size === 16 ? `${R64[n]}w` : `${R64[n]}b`;
  return (size === 64 ? R64 : size === 32 ? R32 : size === 16 ? R16 : R8)[n]!;
}

const SIZE_KW: Record<Size, string> = { 8: 'byte', 16: 'word', 32: 'dword', 64: 'qword' };

export function hex(v: bigint | number): string {
  const b = BigInt(v);
  return b < 0n ? `-0x${(-b).toString(16)}` : `0x${b.toString(16)}`;
}

/** NASM-style operand text as iced-x86's Nasm formatter prints it with the options in iced.ts. */
export function opText(op: RM, size: Size, insnEnd?: number): string {
  if (op.kind === 'reg') return regName(op, size);
  let inner: string;
  if (op.base === 'rip') {
    if (insnEnd === undefined) throw new EncodeError('RIP-relative text needs the instruction end');
    inner = `rel ${hex(insnEnd + op.disp)}`;
  } else {
    inner = R64[op.base]!;
    if (op.index !== undefined) inner += `+${R64[op.index]}*${op.scale ?? 1}`;
    if (op.disp !== 0) inner += op.disp < 0 ? `-${hex(-op.disp)}` : `+${hex(op.disp)}`;
  }
  return `${SIZE_KW[size]} [${inner}]`;
}

export interface Imm {
  value: bigint;
  bytes: 1 | 2 | 4 | 8;
}

function immBytes(imm: Imm): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(imm.bytes * 8, imm.value);
  for (let i = 0; i < imm.bytes; i++) {
    out.push(Number(v & 0xffn));
    v >>= 8n;
  }
  return out;
}

export interface ModRMInsn {
  /** Operand size: 16 adds 66h, 64 adds REX.W (SDM vol. 2A §2.2.1.2), 8 selects byte registers. */
  size: Size;
  /** Other legacy prefixes (F2/F3 as REP or mandatory prefix, 67h), placed after 66h. */
  prefixes?: number[];
  opcode: number[];
  /** ModRM.reg: a register operand (of `regSize`, default `size`) or an opcode extension /digit. */
  reg: RegOp | number;
  regSize?: Size;
  rm: RM;
  imm?: Imm;
  /** Address of the instruction's first byte (RIP-relative displacement), default CODE_ADDR. */
  at?: number;
  /** Byte size of the r/m operand when it differs from `size`. */
  rmSize?: Size;
}

function needsRex8(r: RegOp, size: Size): boolean {
  return size === 8 && !r.high && r.reg >= 4 && r.reg <= 7;
}

/** Encodes prefixes, REX, opcode, ModRM, SIB, displacement and immediate (SDM vol. 2A §2.1, tables 2-2, 2-3). */
export function encodeModRM(i: ModRMInsn): Uint8Array {
  const bytes: number[] = [];
  if (i.size === 16) bytes.push(0x66);
  if (i.prefixes) bytes.push(...i.prefixes);
  let rex = i.size === 64 ? 0x48 : 0;
  let anyHigh = false;
  let regField: number;
  const regSize = i.regSize ?? i.size;
  const rmSize = i.rmSize ?? i.size;
  if (typeof i.reg === 'number') regField = i.reg;
  else {
    regField = i.reg.reg & 7;
    if (i.reg.reg >= 8) rex |= 0x44;
    if (needsRex8(i.reg, regSize)) rex |= 0x40;
    if (i.reg.high) anyHigh = true;
  }
  let modrm: number;
  let sib: number | null = null;
  let disp: number[] = [];
  let ripDisp = false;
  const rm = i.rm;
  if (rm.kind === 'reg') {
    modrm = 0xc0 | (regField << 3) | (rm.reg & 7);
    if (rm.reg >= 8) rex |= 0x41;
    if (needsRex8(rm, rmSize)) rex |= 0x40;
    if (rm.high) anyHigh = true;
  } else if (rm.base === 'rip') {
    modrm = (regField << 3) | 5; // mod=00 rm=101: RIP + disp32 in 64-bit mode (§2.2.1.6)
    ripDisp = true;
    disp = [0, 0, 0, 0];
  } else {
    const base = rm.base;
    if (rm.index === 4) throw new EncodeError('RSP cannot be an index register');
    if (base >= 8) rex |= 0x41;
    if (rm.index !== undefined && rm.index >= 8) rex |= 0x42;
    let mod: number;
    if (rm.disp === 0 && (base & 7) !== 5) mod = 0;
    else if (rm.disp >= -128 && rm.disp <= 127) mod = 1;
    else mod = 2;
    if (mod === 1) disp = [rm.disp & 0xff];
    if (mod === 2) disp = [rm.disp & 0xff, (rm.disp >> 8) & 0xff, (rm.disp >> 16) & 0xff, (rm.disp >>> 24) & 0xff];
    if (rm.index !== undefined || (base & 7) === 4) {
      const scaleBits = { 1: 0, 2: 1, 4: 2, 8: 3 }[rm.scale ?? 1];
      const idx = rm.index === undefined ? 4 : rm.index & 7; // index 100b = none (table 2-3)
      sib = (scaleBits << 6) | (idx << 3) | (base & 7);
      modrm = (mod << 6) | (regField << 3) | 4;
    } else modrm = (mod << 6) | (regField << 3) | (base & 7);
  }
  if (anyHigh && rex !== 0) throw new EncodeError('AH/CH/DH/BH cannot be encoded with a REX prefix');
  if (rex !== 0) bytes.push(rex);
  bytes.push(...i.opcode, modrm);
  if (sib !== null) bytes.push(sib);
  const dispAt = bytes.length;
  bytes.push(...disp);
  if (i.imm) bytes.push(...immBytes(i.imm));
  if (ripDisp && rm.kind === 'mem') {
    // disp32 is relative to the end of the instruction; rm.disp holds that relative value.
    const d = rm.disp;
    bytes[dispAt] = d & 0xff;
    bytes[dispAt + 1] = (d >> 8) & 0xff;
    bytes[dispAt + 2] = (d >> 16) & 0xff;
    bytes[dispAt + 3] = (d >>> 24) & 0xff;
  }
  return Uint8Array.from(bytes);
}

/** Length of an instruction once encoded (to aim RIP-relative displacements). */
export function encodedLength(i: ModRMInsn): number {
  return encodeModRM(i).length;
}

/** Instructions without ModRM: opcode (+ register in its low 3 bits with REX.B) and an optional immediate. */
export function encodePlain(size: Size, prefixes: number[], opcode: number[], opts: { regInOpcode?: number; imm?: Imm; noRexW?: boolean } = {}): Uint8Array {
  const bytes: number[] = [];
  if (size === 16) bytes.push(0x66);
  bytes.push(...prefixes);
  let rex = size === 64 && !opts.noRexW ? 0x48 : 0;
  const op = [...opcode];
  if (opts.regInOpcode !== undefined) {
    if (opts.regInOpcode >= 8) rex |= 0x41;
    op[op.length - 1]! |= opts.regInOpcode & 7;
  }
  if (rex) bytes.push(rex);
  bytes.push(...op);
  if (opts.imm) bytes.push(...immBytes(opts.imm));
  return Uint8Array.from(bytes);
}
