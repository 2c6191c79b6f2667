// Test helper: compares one vmscope Insn with iced-x86's decoding of the same bytes (length, validity, operands).

import { Code, CodeExt, EncodingKind, Instruction, OpCodeOperandKind, OpKind, Register } from 'iced-x86';
import { Insn, DecodeFault } from '../../emulator/cpu/insn.js';

/** Operand-kind names per iced Code (OpCodeInfo is a wasm object: read once, cache the names). */
const kindCache = new Map<number, string[]>();
function operandKinds(code: Code): string[] {
  let kinds = kindCache.get(code);
  if (!kinds) {
    const info = CodeExt.opCode(code);
    kinds = [];
    for (let i = 0; i < info.opCount; i++) kinds.push(OpCodeOperandKind[info.opKind(i)]);
    info.free();
    kindCache.set(code, kinds);
  }
  return kinds;
}

/** iced register -> [class, number as encoded in ModRM/REX] (class: gpr8, gpr, seg, cr, dr, st, mm, xmm, bnd, other). */
export function regNumber(r: Register): [string, number] {
  if (r >= Register.AL && r <= Register.BH) return ['gpr8', r - Register.AL];       // AL..BH = 0..7 (no REX)
  if (r >= Register.SPL && r <= Register.DIL) return ['gpr8', r - Register.SPL + 4]; // SPL..DIL = 4..7 with REX
  if (r >= Register.R8L && r <= Register.R15L) return ['gpr8', r - Register.R8L + 8];
  if (r >= Register.AX && r <= Register.R15) return ['gpr', (r - Register.AX) & 15];
  if (r >= Register.ES && r <= Register.GS) return ['seg', r - Register.ES];
  if (r >= Register.CR0 && r <= Register.CR15) return ['cr', r - Register.CR0];
  if (r >= Register.DR0 && r <= Register.DR15) return ['dr', r - Register.DR0];
  if (r >= Register.ST0 && r <= Register.ST0 + 7) return ['st', r - Register.ST0];
  if (r >= Register.MM0 && r <= Register.MM0 + 7) return ['mm', r - Register.MM0];
  if (r >= Register.XMM0 && r <= Register.XMM31) return ['xmm', r - Register.XMM0];
  if (r >= Register.BND0 && r <= Register.BND0 + 3) return ['bnd', r - Register.BND0];
  return ['other', r];
}
function gprSize(r: Register): number {
  return r >= Register.RAX && r <= Register.R15 ? 64 : r >= Register.EAX ? 32 : r >= Register.AX ? 16 : 8;
}

const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);

/** Encodings iced reports as instructions but vmscope decodes as #UD on purpose (their execution is #UD). */
function isUdInstruction(code: Code): boolean {
  return code === Code.Ud0_r16_rm16 || code === Code.Ud0_r32_rm32 || code === Code.Ud0_r64_rm64 ||
    code === Code.Ud1_r16_rm16 || code === Code.Ud1_r32_rm32 || code === Code.Ud1_r64_rm64 || code === Code.Ud2;
}

/**
 * Compares ours with iced's. Returns null when they agree, else a description of the first disagreement.
 * `icedValid` = iced decoded a real instruction.
 */
export function compareWithIced(ours: Insn, ins: Instruction): string | null {
  const code = ins.code;
  if (code === Code.INVALID) {
    // iced: invalid (or truncated). Ours must not claim an executable instruction.
    if (ours.fault === DecodeFault.None) return `iced: invalid, ours: valid opcode ${ours.opcode.toString(16)} len ${ours.length}`;
    return null;
  }
  if (ours.fault === DecodeFault.TooLong) return `iced: ${Code[code]} len ${ins.length}, ours: TooLong`;
  if (ours.length !== ins.length) return `length: iced ${ins.length} (${Code[code]}), ours ${ours.length}`;
  if (ours.fault === DecodeFault.Invalid && !isUdInstruction(code)) return `iced: ${Code[code]}, ours: Invalid`;
  // Unimplemented is reserved for VEX/EVEX/XOP/3DNow! (and VIA PadLock, 0F A6/A7): never a legacy instruction
  if (ours.fault === DecodeFault.Unimplemented && ins.encoding === EncodingKind.Legacy && ours.opcode !== 0x1a6 && ours.opcode !== 0x1a7)
    return `iced: legacy ${Code[code]}, ours: Unimplemented`;
  if (ours.fault !== DecodeFault.None) return null; // Unimplemented (VEX/EVEX/XOP/3DNow!) or UDn: length only

  const kinds = operandKinds(code);
  const n = ins.opCount;
  for (let i = 0; i < n; i++) {
    const k = ins.opKind(i);
    const kind = kinds[i] ?? '';
    switch (k) {
      case OpKind.Register: {
        const r = ins.opRegister(i);
        const [cls, num] = regNumber(r);
        let want: number | undefined;
        if (kind.endsWith('_reg')) want = ours.reg;
        else if (kind.endsWith('_rm') || kind.endsWith('_or_mem') || kind.endsWith('_or_mem_mpx')) want = ours.rm;
        else if (kind.endsWith('_opcode')) want = kind === 'sti_opcode' ? ours.rm & 7 : ours.reg;
        if (want === undefined) break; // implicit register (AL, CL, DX, ST0 ...)
        // MMX, x87, segment registers ignore REX; 8-bit registers 4..7 mean AH..BH without REX
        if (cls === 'mm' || cls === 'st' || cls === 'seg') want &= 7;
        if (cls === 'xmm' || cls === 'other') break; // VEX/EVEX-only classes never reach here; xmm: check below
        if (num !== want) return `op${i} ${kind}: iced ${Register[r]} (#${num}), ours ${want}`;
        // UMONITOR's register is address-sized (the executor uses addrSize), not operand-sized
        const addressSized = code === Code.Umonitor_r16 || code === Code.Umonitor_r32 || code === Code.Umonitor_r64;
        if (i === 0 && cls === 'gpr' && !addressSized && (kind.startsWith('r16') || kind.startsWith('r32') || kind.startsWith('r64'))) {
          if (gprSize(r) !== ours.opSize) return `operand size: iced ${Register[r]}, ours ${ours.opSize}`;
        }
        break;
      }
      case OpKind.Memory: {
        // implicit memory operands without ModRM (XLAT [rBX+AL]) are the executor's business
        if (!ours.hasModrm && (ours.opcode < 0xa0 || ours.opcode > 0xa3)) break;
        if (ours.hasModrm && ours.mod === 3) return `op${i}: iced memory, ours register form`;
        const base = ins.memoryBase, index = ins.memoryIndex;
        const rip = base === Register.RIP || base === Register.EIP;
        if (rip !== ours.ripRel) return `ripRel: iced ${rip}, ours ${ours.ripRel}`;
        const asz = ours.addrSize;
        if (!rip) {
          const b = base === Register.None ? -1 : regNumber(base)[1];
          if (b !== ours.base) return `base: iced ${Register[base]}, ours ${ours.base}`;
        }
        const x = index === Register.None ? -1 : regNumber(index)[1];
        if (x !== ours.index) return `index: iced ${Register[index]}, ours ${ours.index}`;
        if (x >= 0 && (1 << ours.scale) !== ins.memoryIndexScale) return `scale: iced ${ins.memoryIndexScale}, ours ${1 << ours.scale}`;
        const bits = rip ? (base === Register.RIP ? 64 : 32) : asz;
        let ourDisp: bigint;
        if (rip) ourDisp = BigInt(ours.length + ours.disp); // iced reports next-IP + disp with IP = 0
        else if (!ours.hasModrm) ourDisp = (BigInt(ours.dispHi >>> 0) << 32n) | BigInt(ours.disp >>> 0); // moffs
        else ourDisp = BigInt(ours.disp);
        if (BigInt.asUintN(bits, ourDisp) !== BigInt.asUintN(bits, ins.memoryDisplacement))
          return `disp: iced ${ins.memoryDisplacement.toString(16)}, ours ${ours.disp}/${ours.dispHi}`;
        const seg = regNumber(ins.memorySegment)[1];
        // 64-bit mode: iced still names an ES/CS/SS/DS override, which has no effect there (SDM vol. 1
        // §3.3.7.1); vmscope reports the effective default (DS/SS) as the brief asks.
        const ignoredOverride = ours.mode === 64 && seg < 4 && (ours.seg === 3 || ours.seg === 2);
        if (seg !== ours.seg && !ignoredOverride) return `seg: iced ${Register[ins.memorySegment]}, ours ${ours.seg}`;
        break;
      }
      case OpKind.Immediate8:
        if (kind === 'imm8_const_1') break; // D0-D3 shift-by-1 has no immediate byte
        if ((ours.imm & 0xff) !== ins.immediate8) return `imm8: iced ${ins.immediate8}, ours ${ours.imm}`;
        if (ours.immSize !== 1 && ours.opcode !== 0xc8) return `immSize: iced 1, ours ${ours.immSize}`;
        break;
      case OpKind.Immediate8_2nd:
        if ((ours.imm2 & 0xff) !== ins.immediate8_2nd) return `imm8_2nd: iced ${ins.immediate8_2nd}, ours ${ours.imm2}`;
        break;
      case OpKind.Immediate16:
        if ((ours.imm & 0xffff) !== ins.immediate16) return `imm16: iced ${ins.immediate16}, ours ${ours.imm}`;
        break;
      case OpKind.Immediate32:
        if (ours.imm >>> 0 !== ins.immediate32) return `imm32: iced ${ins.immediate32}, ours ${ours.imm}`;
        break;
      case OpKind.Immediate64: {
        const v = (BigInt(ours.immHi >>> 0) << 32n) | BigInt(ours.imm >>> 0);
        if (v !== ins.immediate64) return `imm64: iced ${ins.immediate64.toString(16)}, ours ${v.toString(16)}`;
        break;
      }
      case OpKind.Immediate8to16: case OpKind.Immediate8to32: case OpKind.Immediate8to64: case OpKind.Immediate32to64: {
        const size = k === OpKind.Immediate8to16 ? 16 : k === OpKind.Immediate8to32 ? 32 : 64;
        if (BigInt.asUintN(size, BigInt(ours.imm)) !== BigInt.asUintN(size, ins.immediate(i)))
          return `imm (sign-extended): iced ${ins.immediate(i).toString(16)}, ours ${ours.imm}`;
        break;
      }
      case OpKind.NearBranch16: case OpKind.NearBranch32: case OpKind.NearBranch64: {
        const size = k === OpKind.NearBranch16 ? 16 : k === OpKind.NearBranch32 ? 32 : 64;
        if (BigInt.asUintN(size, BigInt(ours.length + ours.imm)) !== U64(ins.nearBranchTarget))
          return `branch target: iced ${ins.nearBranchTarget.toString(16)}, ours rel ${ours.imm} len ${ours.length}`;
        // f64/d64 operand size of near branches
        const want = k === OpKind.NearBranch16 ? 16 : k === OpKind.NearBranch32 ? 32 : 64;
        // iced sizes XBEGIN's target by code size; its operand size only selects rel16/rel32
        if (ours.opSize !== want && ours.opcode !== 0xc7)
          return `branch operand size: iced ${want}, ours ${ours.opSize}`;
        break;
      }
      case OpKind.FarBranch16: case OpKind.FarBranch32:
        if ((ours.imm2 & 0xffff) !== ins.farBranchSelector) return `far selector: iced ${ins.farBranchSelector}, ours ${ours.imm2}`;
        if ((k === OpKind.FarBranch16 ? ours.imm & 0xffff : ours.imm >>> 0) !== (k === OpKind.FarBranch16 ? ins.farBranch16 : ins.farBranch32))
          return `far offset mismatch, ours ${ours.imm}`;
        break;
      default:
        break; // string operands (MemorySegSI ...): segment checked below
    }
  }
  // Register operands of class xmm: the decoder's reg/rm numbers with REX must match iced's XMM numbers.
  for (let i = 0; i < n; i++) {
    if (ins.opKind(i) !== OpKind.Register) continue;
    const [cls, num] = regNumber(ins.opRegister(i));
    if (cls !== 'xmm') continue;
    const kind = kinds[i] ?? '';
    const want = kind.endsWith('_reg') ? ours.reg : kind.endsWith('_rm') || kind.endsWith('_or_mem') ? ours.rm : undefined;
    if (want !== undefined && want !== num) return `op${i} ${kind}: iced XMM${num}, ours ${want}`;
  }
  return null;
}
