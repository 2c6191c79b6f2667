// The decoded-instruction record: the contract between the decoder (decode.ts) and the executor.

/** Register numbers as the SDM encodes them in ModRM/SIB/REX (vol. 2A §2.1.5, table 2-1). */
export const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;
/** Segment register numbers as the SDM encodes them (sreg field, vol. 2A §3.4.1). */
export const ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5;

/** Prefix bits recorded in Insn.prefixes. */
export const PFX_LOCK = 1, PFX_REP = 2 /* F3 */, PFX_REPNE = 4 /* F2 */, PFX_OPSIZE = 8 /* 66 */, PFX_ADSIZE = 16 /* 67 */;

/** Opcode maps, added to the opcode byte to form Insn.opcode. */
export const MAP_1 = 0x000, MAP_0F = 0x100, MAP_0F38 = 0x200, MAP_0F3A = 0x300;

/** Why a decode produced no executable instruction. */
export const enum DecodeFault {
  None = 0,
  /** #UD: the encoding is undefined in this mode (or LOCK where not allowed). */
  Invalid = 1,
  /** #GP(0): longer than 15 bytes (SDM vol. 2A §2.3.11). */
  TooLong = 2,
  /** Encoding valid on real processors but outside what vmscope implements (VEX/EVEX, most x87, ...): #UD, reported. */
  Unimplemented = 3,
}

/**
 * One decoded instruction. Filled in place by decode(); instances are pooled/cached so
 * the hot path never allocates. Field meanings:
 * - opcode: map + opcode byte (e.g. 0x1AF = 0F AF IMUL r, r/m). For opcodes 0x90..0x97 style
 *   "+r" forms the register is NOT folded out: opcode stays 0xB8..0xBF and `reg` holds the
 *   register (with REX.B applied).
 * - opSize: effective operand size in bits (8 is never used here: byte forms are told by opcode).
 * - addrSize: effective address size in bits.
 * - mod/reg/rm: ModRM fields; reg has REX.R applied; rm has REX.B applied when mod == 3.
 *   For "+r" opcodes without ModRM, reg holds the opcode's low 3 bits with REX.B applied.
 * - memory operand (mod != 3, or moffs forms A0..A3): base/index are register numbers or -1,
 *   scale is the shift (0..3), disp the sign-extended displacement (int32). In 16-bit
 *   addressing base is RBX/RBP/RSI/RDI or -1 and index RSI/RDI or -1, as the ModRM table gives.
 *   ripRel: address is next-RIP + disp (64-bit mode, mod=00 rm=101).
 *   For moffs forms (A0..A3) base = index = -1 and the absolute address is disp (low 32 bits,
 *   as uint32) and dispHi (high 32 bits, 64-bit addressing only).
 * - seg: the segment the memory operand uses: the override prefix if any, else SS when the
 *   base is RSP/RBP (or BP in 16-bit forms), else DS. For string instructions it is the source
 *   segment (DS or override); the destination is always ES.
 * - imm: the first immediate, sign-extended from its encoded size to int32 (executors mask
 *   where the SDM zero-extends: port numbers, INT n, shift counts, RET imm16, ENTER ...).
 *   immHi: high 32 bits of a 64-bit immediate (REX.W B8+r MOV r64, imm64), else the sign
 *   extension of imm. imm2: the second immediate (ENTER's imm8, the selector of a far pointer
 *   ptr16:16/32 where imm holds the offset).
 */
export class Insn {
  opcode = 0;
  length = 0;
  fault: DecodeFault = DecodeFault.None;
  /** Code size the instruction was decoded for (16, 32 or 64); part of the cache key. */
  mode = 0;
  prefixes = 0;
  /** Mandatory prefix for SSE maps: 0, 0x66, 0xF3 or 0xF2 (the last one of 66/F2/F3 that applies). */
  mandatory = 0;
  rex = 0;
  opSize = 32;
  addrSize = 32;
  seg = DS;
  /** Segment override prefix present (-1 = none). */
  segOverride = -1;
  hasModrm = false;
  modrm = 0;
  mod = 0;
  reg = 0;
  rm = 0;
  base = -1;
  index = -1;
  scale = 0;
  disp = 0;
  dispHi = 0;
  ripRel = false;
  imm = 0;
  immHi = 0;
  imm2 = 0;
  /** Size in bytes of the first immediate as encoded (0 if none). */
  immSize = 0;
  /** VEX.vvvv etc. are not decoded; VEX/EVEX/XOP instructions are Unimplemented. */
}
