// The x86 opcode table (SDM vol. 2D appendix A): one row per opcode with its encoding facts, compiled into lookup arrays for decode.ts.

import { MAP_0F, MAP_0F38, MAP_0F3A } from './insn.js';

// ---- Row attribute bits (see OPCODE_ROWS below) -------------------------------------------------

/** A ModRM byte follows the opcode. */
export const M = 1 << 0;
/** Immediate kinds (bits 1..4). SDM vol. 2D §A.2.2 operand-type codes. */
export const IMM_SHIFT = 1, IMM_MASK = 0xf << IMM_SHIFT;
export const IB = 1 << IMM_SHIFT;     // Ib / Jb: 1 byte
export const IW = 2 << IMM_SHIFT;     // Iw: 2 bytes (RET/RETF imm16)
export const IZ = 3 << IMM_SHIFT;     // Iz / Jz: 2 bytes at 16-bit operand size, else 4
export const IV = 4 << IMM_SHIFT;     // Iv (MOV r, imm): 2/4, or 8 with REX.W (io)
export const MOFFS = 5 << IMM_SHIFT;  // Ob/Ov (A0..A3): an address of address-size bytes
export const ENTER = 6 << IMM_SHIFT;  // ENTER Iw, Ib
export const FAR = 7 << IMM_SHIFT;    // Ap: ptr16:16 / ptr16:32
export const GRP3 = 8 << IMM_SHIFT;   // F6/F7: Ib/Iz only for /0 and /1 (TEST)
export const IBIB = 9 << IMM_SHIFT;   // EXTRQ/INSERTQ (66/F2 0F 78): Ib, Ib
/** d64: defaults to 64-bit operand size in 64-bit mode; 66 selects 16 (SDM vol. 2D table A-1). */
export const D64 = 1 << 5;
/** f64: operand size forced to 64 in 64-bit mode; 66 is ignored (near branches, SDM vol. 2D table A-1). */
export const F64 = 1 << 6;
/** i64: invalid in 64-bit mode. */
export const I64 = 1 << 7;
/** LOCK allowed with a memory destination (SDM vol. 2A, LOCK). For groups see GROUP_ROWS. */
export const LK = 1 << 8;
/** Operand size fixed at 32 (64 in 64-bit mode) whatever 66/REX.W say: MOV CR/DR, VMREAD/VMWRITE, INVEPT... */
export const FIXED = 1 << 9;
/** Row has per-mandatory-prefix validity (SSE-style, column string); 66 is then not an operand-size prefix. */
export const SSE = 1 << 10;
/** In an SSE-style row, 66 is an operand-size prefix, not a mandatory prefix (MOVBE/CRC32, POPCNT). */
export const O66 = 1 << 11;
/** Validity depends on ModRM.reg (and maybe mod/rm): see GROUP_ROWS / MOD3_ROWS. */
export const GRP = 1 << 12;
/** The opcode is defined (some encoding of it decodes). */
export const VALID = 1 << 13;
/** Defined, but its execution is always #UD (UD0/UD1/UD2): decoded with length, marked Invalid. */
export const UD = 1 << 14;
/** ModRM.mod is ignored and treated as 11b (MOV CR/DR, SDM vol. 2D §A.2.1 "the mod field is ignored"). */
export const MODREG = 1 << 15;
/** Mem-only / reg-only for non-SSE rows. */
export const MEMO = 1 << 16, REGO = 1 << 17;
/** +r opcode (register in the low 3 bits; REX.B extends it). */
export const PLUSR = 1 << 18;
/** Not a legacy instruction: VEX/EVEX/XOP/3DNow escape handled specially by the decoder. */
export const ESC = 1 << 19;
/** Register operand is always 32-bit (Gd), whatever 66/REX.W say. */
export const OP32 = 1 << 20;

/**
 * The opcode rows. [first, last, attributes, sseColumns?, name]
 * sseColumns (only with SSE): validity per mandatory prefix, in the order none, 66, F3, F2;
 * each char: '-' undefined, 'm' memory operand only, 'r' register operand only, 'b' both.
 */
type Row = readonly [number, number, number, string, string];
const R = (first: number, last: number, attrs: number, name: string, sse = ''): Row => [first, last, attrs | VALID | (sse ? SSE : 0), sse, name];

const ALU = (base: number, name: string, lock: number): Row[] => [
  R(base, base + 1, M | lock, `${name} Eb/Ev,Gb/Gv`),
  R(base + 2, base + 3, M, `${name} Gb/Gv,Eb/Ev`),
  R(base + 4, base + 4, IB, `${name} AL,Ib`),
  R(base + 5, base + 5, IZ, `${name} rAX,Iz`),
];

/** One-byte map, SDM vol. 2D table A-2. Prefix bytes and 0F are handled by the decoder. */
const MAP1_ROWS: Row[] = [
  ...ALU(0x00, 'ADD', LK), R(0x06, 0x07, I64, 'PUSH/POP ES'),
  ...ALU(0x08, 'OR', LK), R(0x0e, 0x0e, I64, 'PUSH CS'),
  ...ALU(0x10, 'ADC', LK), R(0x16, 0x17, I64, 'PUSH/POP SS'),
  ...ALU(0x18, 'SBB', LK), R(0x1e, 0x1f, I64, 'PUSH/POP DS'),
  ...ALU(0x20, 'AND', LK), R(0x27, 0x27, I64, 'DAA'),
  ...ALU(0x28, 'SUB', LK), R(0x2f, 0x2f, I64, 'DAS'),
  ...ALU(0x30, 'XOR', LK), R(0x37, 0x37, I64, 'AAA'),
  ...ALU(0x38, 'CMP', 0), R(0x3f, 0x3f, I64, 'AAS'),
  R(0x40, 0x4f, PLUSR, 'INC/DEC Zv (REX in 64-bit mode)'),
  R(0x50, 0x5f, PLUSR | D64, 'PUSH/POP Zv'),
  R(0x60, 0x61, I64, 'PUSHA/POPA'),
  R(0x62, 0x62, M | MEMO | I64, 'BOUND Gv,Ma (EVEX escape in 64-bit mode)'),
  R(0x63, 0x63, M, 'ARPL Ew,Gw / MOVSXD Gv,Ed (64-bit mode)'),
  R(0x68, 0x68, IZ | D64, 'PUSH Iz'),
  R(0x69, 0x69, M | IZ, 'IMUL Gv,Ev,Iz'),
  R(0x6a, 0x6a, IB | D64, 'PUSH Ib'),
  R(0x6b, 0x6b, M | IB, 'IMUL Gv,Ev,Ib'),
  R(0x6c, 0x6f, 0, 'INS/OUTS'),
  R(0x70, 0x7f, IB | F64, 'Jcc Jb'),
  R(0x80, 0x80, M | IB | GRP, 'Grp1 Eb,Ib'),
  R(0x81, 0x81, M | IZ | GRP, 'Grp1 Ev,Iz'),
  R(0x82, 0x82, M | IB | GRP | I64, 'Grp1 Eb,Ib (alias)'),
  R(0x83, 0x83, M | IB | GRP, 'Grp1 Ev,Ib'),
  R(0x84, 0x85, M, 'TEST'),
  R(0x86, 0x87, M | LK, 'XCHG'),
  R(0x88, 0x8b, M, 'MOV'),
  R(0x8c, 0x8c, M | GRP, 'MOV Ev,Sw'),
  R(0x8d, 0x8d, M | MEMO, 'LEA Gv,M'),
  R(0x8e, 0x8e, M | GRP, 'MOV Sw,Ew'),
  R(0x8f, 0x8f, M | GRP | D64, 'Grp1A POP Ev (XOP escape when reg != 0)'),
  R(0x90, 0x97, PLUSR, 'XCHG rAX,Zv / NOP / PAUSE'),
  R(0x98, 0x99, 0, 'CBW/CWD'),
  R(0x9a, 0x9a, FAR | I64, 'CALL Ap'),
  R(0x9b, 0x9b, 0, 'FWAIT'),
  R(0x9c, 0x9d, D64, 'PUSHF/POPF'),
  R(0x9e, 0x9f, 0, 'SAHF/LAHF'),
  R(0xa0, 0xa3, MOFFS, 'MOV AL/rAX,Ob/Ov'),
  R(0xa4, 0xa7, 0, 'MOVS/CMPS'),
  R(0xa8, 0xa8, IB, 'TEST AL,Ib'),
  R(0xa9, 0xa9, IZ, 'TEST rAX,Iz'),
  R(0xaa, 0xaf, 0, 'STOS/LODS/SCAS'),
  R(0xb0, 0xb7, PLUSR | IB, 'MOV Zb,Ib'),
  R(0xb8, 0xbf, PLUSR | IV, 'MOV Zv,Iv'),
  R(0xc0, 0xc0, M | IB | GRP, 'Grp2 Eb,Ib'),
  R(0xc1, 0xc1, M | IB | GRP, 'Grp2 Ev,Ib'),
  R(0xc2, 0xc2, IW | F64, 'RET Iw'),
  R(0xc3, 0xc3, F64, 'RET'),
  R(0xc4, 0xc5, M | MEMO | I64, 'LES/LDS (VEX escape)'),
  R(0xc6, 0xc6, M | IB | GRP, 'Grp11 MOV Eb,Ib / XABORT'),
  R(0xc7, 0xc7, M | IZ | GRP, 'Grp11 MOV Ev,Iz / XBEGIN'),
  R(0xc8, 0xc8, ENTER | D64, 'ENTER Iw,Ib'),
  R(0xc9, 0xc9, D64, 'LEAVE'),
  R(0xca, 0xca, IW, 'RETF Iw'),
  R(0xcb, 0xcb, 0, 'RETF'),
  R(0xcc, 0xcc, 0, 'INT3'),
  R(0xcd, 0xcd, IB, 'INT Ib'),
  R(0xce, 0xce, I64, 'INTO'),
  R(0xcf, 0xcf, 0, 'IRET'),
  R(0xd0, 0xd3, M | GRP, 'Grp2 Eb/Ev,1/CL'),
  R(0xd4, 0xd5, IB | I64, 'AAM/AAD Ib'),
  R(0xd6, 0xd6, I64, 'SALC (undocumented)'),
  R(0xd7, 0xd7, 0, 'XLAT'),
  R(0xd8, 0xdf, M | GRP, 'x87 escape'),
  R(0xe0, 0xe3, IB | F64, 'LOOPNE/LOOPE/LOOP/JrCXZ Jb'),
  R(0xe4, 0xe7, IB, 'IN/OUT Ib'),
  R(0xe8, 0xe9, IZ | F64, 'CALL/JMP Jz'),
  R(0xea, 0xea, FAR | I64, 'JMP Ap'),
  R(0xeb, 0xeb, IB | F64, 'JMP Jb'),
  R(0xec, 0xef, 0, 'IN/OUT DX'),
  R(0xf1, 0xf1, 0, 'INT1'),
  R(0xf4, 0xf5, 0, 'HLT/CMC'),
  R(0xf6, 0xf6, M | GRP3 | GRP, 'Grp3 Eb'),
  R(0xf7, 0xf7, M | GRP3 | GRP, 'Grp3 Ev'),
  R(0xf8, 0xfd, 0, 'CLC/STC/CLI/STI/CLD/STD'),
  R(0xfe, 0xfe, M | GRP, 'Grp4 INC/DEC Eb'),
  R(0xff, 0xff, M | GRP, 'Grp5'),
];

/** Two-byte map 0F, SDM vol. 2D table A-3. */
const MAP0F_ROWS: Row[] = [
  R(0x00, 0x00, M | GRP, 'Grp6 SLDT/STR/LLDT/LTR/VERR/VERW'),
  R(0x01, 0x01, M | GRP, 'Grp7 SGDT/SIDT/LGDT/LIDT/SMSW/LMSW/INVLPG + mod=11 forms'),
  R(0x02, 0x03, M, 'LAR/LSL'),
  R(0x05, 0x05, 0, 'SYSCALL'),
  R(0x06, 0x06, 0, 'CLTS'),
  R(0x07, 0x07, 0, 'SYSRET'),
  R(0x08, 0x09, 0, 'INVD/WBINVD'),
  R(0x0b, 0x0b, UD, 'UD2'),
  R(0x0d, 0x0d, M, 'PREFETCHW / reserved NOP'),
  R(0x0e, 0x0e, 0, 'FEMMS (3DNow!)'),
  R(0x0f, 0x0f, M | IB | ESC, '3DNow! (opcode suffix byte)'),
  R(0x10, 0x11, M, 'MOVUPS/MOVUPD/MOVSS/MOVSD', 'bbbb'),
  R(0x12, 0x12, M, 'MOVLPS/MOVHLPS/MOVLPD/MOVSLDUP/MOVDDUP', 'bmbb'),
  R(0x13, 0x13, M, 'MOVLPS/MOVLPD M,x', 'mm--'),
  R(0x14, 0x15, M, 'UNPCKLPS/UNPCKHPS', 'bb--'),
  R(0x16, 0x16, M, 'MOVHPS/MOVLHPS/MOVHPD/MOVSHDUP', 'bmb-'),
  R(0x17, 0x17, M, 'MOVHPS/MOVHPD M,x', 'mm--'),
  R(0x18, 0x1f, M, 'PREFETCHh / MPX / CET / NOP Ev / reserved NOP'),
  R(0x20, 0x23, M | MODREG | FIXED | GRP, 'MOV Rd,Cd / Rd,Dd / Cd,Rd / Dd,Rd'),
  R(0x28, 0x29, M, 'MOVAPS/MOVAPD', 'bb--'),
  R(0x2a, 0x2a, M, 'CVTPI2PS/CVTPI2PD/CVTSI2SS/CVTSI2SD', 'bbbb'),
  R(0x2b, 0x2b, M, 'MOVNTPS/MOVNTPD/MOVNTSS/MOVNTSD', 'mmmm'),
  R(0x2c, 0x2d, M, 'CVT(T)PS2PI/PD2PI/SS2SI/SD2SI', 'bbbb'),
  R(0x2e, 0x2f, M, 'UCOMISS/COMISS', 'bb--'),
  R(0x30, 0x35, 0, 'WRMSR/RDTSC/RDMSR/RDPMC/SYSENTER/SYSEXIT'),
  R(0x37, 0x37, 0, 'GETSEC', 'r---'),
  R(0x40, 0x4f, M, 'CMOVcc'),
  R(0x50, 0x50, M, 'MOVMSKPS/MOVMSKPD', 'rr--'),
  R(0x51, 0x51, M, 'SQRTPS/PD/SS/SD', 'bbbb'),
  R(0x52, 0x53, M, 'RSQRTPS/RSQRTSS/RCPPS/RCPSS', 'b-b-'),
  R(0x54, 0x57, M, 'ANDPS/ANDNPS/ORPS/XORPS', 'bb--'),
  R(0x58, 0x5a, M, 'ADD/MUL/CVTPS2PD..', 'bbbb'),
  R(0x5b, 0x5b, M, 'CVTDQ2PS/CVTPS2DQ/CVTTPS2DQ', 'bbb-'),
  R(0x5c, 0x5f, M, 'SUB/MIN/DIV/MAX', 'bbbb'),
  R(0x60, 0x6b, M, 'PUNPCK/PACK/PCMPGT', 'bb--'),
  R(0x6c, 0x6d, M, 'PUNPCKLQDQ/PUNPCKHQDQ', '-b--'),
  R(0x6e, 0x6e, M, 'MOVD/MOVQ P,Ey', 'bb--'),
  R(0x6f, 0x6f, M, 'MOVQ/MOVDQA/MOVDQU', 'bbb-'),
  R(0x70, 0x70, M | IB, 'PSHUFW/PSHUFD/PSHUFHW/PSHUFLW', 'bbbb'),
  R(0x71, 0x73, M | IB | GRP, 'Grp12/13/14 shifts by Ib', 'rr--'),
  R(0x74, 0x76, M, 'PCMPEQ', 'bb--'),
  R(0x77, 0x77, 0, 'EMMS', 'r---'),
  R(0x78, 0x78, M | FIXED | GRP, 'VMREAD Ey,Gy / EXTRQ Ib,Ib / INSERTQ Ib,Ib', 'br-r'),
  R(0x79, 0x79, M | FIXED, 'VMWRITE Gy,Ey / EXTRQ / INSERTQ', 'br-r'),
  R(0x7c, 0x7d, M, 'HADDPD/HADDPS/HSUBPD/HSUBPS', '-b-b'),
  R(0x7e, 0x7e, M, 'MOVD/MOVQ Ey,P / MOVQ V,W', 'bbb-'),
  R(0x7f, 0x7f, M, 'MOVQ/MOVDQA/MOVDQU W,V', 'bbb-'),
  R(0x80, 0x8f, IZ | F64, 'Jcc Jz'),
  R(0x90, 0x9f, M, 'SETcc Eb'),
  R(0xa0, 0xa1, D64, 'PUSH/POP FS'),
  R(0xa2, 0xa2, 0, 'CPUID'),
  R(0xa3, 0xa3, M, 'BT Ev,Gv'),
  R(0xa4, 0xa4, M | IB, 'SHLD Ev,Gv,Ib'),
  R(0xa5, 0xa5, M, 'SHLD Ev,Gv,CL'),
  R(0xa6, 0xa7, M | REGO | ESC, 'VIA PadLock (MONTMUL/XSHA/XSTORE/XCRYPT)'),
  R(0xa8, 0xa9, D64, 'PUSH/POP GS'),
  R(0xaa, 0xaa, 0, 'RSM'),
  R(0xab, 0xab, M | LK, 'BTS Ev,Gv'),
  R(0xac, 0xac, M | IB, 'SHRD Ev,Gv,Ib'),
  R(0xad, 0xad, M, 'SHRD Ev,Gv,CL'),
  R(0xae, 0xae, M | GRP, 'Grp15 FXSAVE..CLFLUSH / fences'),
  R(0xaf, 0xaf, M, 'IMUL Gv,Ev'),
  R(0xb0, 0xb1, M | LK, 'CMPXCHG'),
  R(0xb2, 0xb2, M | MEMO, 'LSS Gv,Mp'),
  R(0xb3, 0xb3, M | LK, 'BTR Ev,Gv'),
  R(0xb4, 0xb5, M | MEMO, 'LFS/LGS Gv,Mp'),
  R(0xb6, 0xb7, M, 'MOVZX'),
  R(0xb8, 0xb8, M | O66, 'POPCNT (F3)', '--b-'),
  R(0xb9, 0xb9, M | UD, 'UD1 Gv,Ev'),
  R(0xba, 0xba, M | IB | GRP, 'Grp8 BT/BTS/BTR/BTC Ev,Ib'),
  R(0xbb, 0xbb, M | LK, 'BTC Ev,Gv'),
  R(0xbc, 0xbd, M, 'BSF/BSR (TZCNT/LZCNT with F3)'),
  R(0xbe, 0xbf, M, 'MOVSX'),
  R(0xc0, 0xc1, M | LK, 'XADD'),
  R(0xc2, 0xc2, M | IB, 'CMPPS/PD/SS/SD', 'bbbb'),
  R(0xc3, 0xc3, M, 'MOVNTI My,Gy', 'm---'),
  R(0xc4, 0xc4, M | IB, 'PINSRW', 'bb--'),
  R(0xc5, 0xc5, M | IB, 'PEXTRW Gd,N/U,Ib', 'rr--'),
  R(0xc6, 0xc6, M | IB, 'SHUFPS/SHUFPD', 'bb--'),
  R(0xc7, 0xc7, M | GRP, 'Grp9 CMPXCHG8B/16B, VMPTRLD.., RDRAND/RDSEED'),
  R(0xc8, 0xcf, PLUSR, 'BSWAP'),
  R(0xd0, 0xd0, M, 'ADDSUBPD/ADDSUBPS', '-b-b'),
  R(0xd1, 0xd5, M, 'PSRL/PADDQ/PMULLW', 'bb--'),
  R(0xd6, 0xd6, M, 'MOVQ W,V / MOVQ2DQ / MOVDQ2Q', '-brr'),
  R(0xd7, 0xd7, M, 'PMOVMSKB', 'rr--'),
  R(0xd8, 0xe5, M, 'MMX/SSE2 arithmetic', 'bb--'),
  R(0xe6, 0xe6, M, 'CVTTPD2DQ/CVTDQ2PD/CVTPD2DQ', '-bbb'),
  R(0xe7, 0xe7, M, 'MOVNTQ/MOVNTDQ', 'mm--'),
  R(0xe8, 0xef, M, 'MMX/SSE2 arithmetic', 'bb--'),
  R(0xf0, 0xf0, M, 'LDDQU', '---m'),
  R(0xf1, 0xf6, M, 'MMX/SSE2 shifts/multiply', 'bb--'),
  R(0xf7, 0xf7, M, 'MASKMOVQ/MASKMOVDQU', 'rr--'),
  R(0xf8, 0xfe, M, 'MMX/SSE2 add/sub', 'bb--'),
  R(0xff, 0xff, M | UD, 'UD0 Gv,Ev'),
];

/** Three-byte map 0F 38, SDM vol. 2D table A-4. */
const MAP0F38_ROWS: Row[] = [
  R(0x00, 0x0b, M, 'PSHUFB..PMULHRSW (SSSE3)', 'bb--'),
  R(0x10, 0x10, M, 'PBLENDVB', '-b--'),
  R(0x14, 0x15, M, 'BLENDVPS/BLENDVPD', '-b--'),
  R(0x17, 0x17, M, 'PTEST', '-b--'),
  R(0x1c, 0x1e, M, 'PABSB/W/D', 'bb--'),
  R(0x20, 0x25, M, 'PMOVSX', '-b--'),
  R(0x28, 0x29, M, 'PMULDQ/PCMPEQQ', '-b--'),
  R(0x2a, 0x2a, M, 'MOVNTDQA', '-m--'),
  R(0x2b, 0x2b, M, 'PACKUSDW', '-b--'),
  R(0x30, 0x35, M, 'PMOVZX', '-b--'),
  R(0x37, 0x41, M, 'PCMPGTQ..PHMINPOSUW', '-b--'),
  R(0x80, 0x82, M | FIXED, 'INVEPT/INVVPID/INVPCID Gy,M', '-m--'),
  R(0xc8, 0xcd, M, 'SHA1/SHA256', 'b---'),
  R(0xcf, 0xcf, M, 'GF2P8MULB', '-b--'),
  R(0xd8, 0xd8, M | GRP, 'AESENCWIDE128KL/AESDECWIDE128KL/AESENCWIDE256KL/AESDECWIDE256KL (Key Locker)', '--m-'),
  R(0xdb, 0xdb, M, 'AESIMC', '-b--'),
  R(0xdc, 0xdc, M, 'AESENC / AESENC128KL, LOADIWKEY (F3)', '-bb-'),
  R(0xdd, 0xdf, M, 'AESENCLAST/AESDEC/AESDECLAST / AESDEC128KL/AESENC256KL/AESDEC256KL (F3)', '-bm-'),
  R(0xf0, 0xf1, M | O66, 'MOVBE Gv,Mv / CRC32 (F2)', 'm--b'),
  R(0xf5, 0xf5, M, 'WRUSS', '-m--'),
  R(0xf6, 0xf6, M, 'WRSS / ADCX / ADOX', 'mbb-'),
  R(0xfa, 0xfb, M | OP32, 'ENCODEKEY128/ENCODEKEY256 (Key Locker)', '--r-'),
  R(0xf8, 0xf8, M, 'MOVDIR64B / ENQCMDS / ENQCMD', '-mmm'),
  R(0xf9, 0xf9, M, 'MOVDIRI', 'm---'),
  R(0xfc, 0xfc, M, 'AADD/AAND/AXOR/AOR', 'mmmm'),
];

/** Three-byte map 0F 3A, SDM vol. 2D table A-5 (every instruction has an Ib). */
const MAP0F3A_ROWS: Row[] = [
  R(0x08, 0x0e, M | IB, 'ROUNDPS..PBLENDW', '-b--'),
  R(0x0f, 0x0f, M | IB, 'PALIGNR', 'bb--'),
  R(0x14, 0x17, M | IB, 'PEXTRB/PEXTRW/PEXTRD/EXTRACTPS', '-b--'),
  R(0x20, 0x22, M | IB, 'PINSRB/INSERTPS/PINSRD', '-b--'),
  R(0x40, 0x42, M | IB, 'DPPS/DPPD/MPSADBW', '-b--'),
  R(0x44, 0x44, M | IB, 'PCLMULQDQ', '-b--'),
  R(0x60, 0x63, M | IB, 'PCMPESTRM..PCMPISTRI', '-b--'),
  R(0xcc, 0xcc, M | IB, 'SHA1RNDS4', 'b---'),
  R(0xce, 0xcf, M | IB, 'GF2P8AFFINEQB/GF2P8AFFINEINVQB', '-b--'),
  R(0xdf, 0xdf, M | IB, 'AESKEYGENASSIST', '-b--'),
  R(0xf0, 0xf0, M | IB | GRP, 'HRESET Ib', '--r-'),
];

/** Per-mandatory-prefix masks: one number for all columns, or [none, 66, F3, F2]. */
type Cols = number | readonly [number, number, number, number];

/**
 * Groups whose validity/lockability depends on ModRM.reg (SDM vol. 2D table A-6).
 * [opcode, valid regs with a memory operand, valid regs with mod=11, lockable regs, extra regs valid only in
 * 64-bit mode (memory), (mod=11)] as bit masks (bit n = /n), per mandatory-prefix column where it matters.
 * Opcodes listed in MOD3_ROWS refine the mod=11 case per ModRM byte.
 */
const GROUP_ROWS: readonly (readonly [number, Cols, Cols, number, Cols?, Cols?])[] = [
  [0x80, 0xff, 0xff, 0x7f], [0x81, 0xff, 0xff, 0x7f], [0x82, 0xff, 0xff, 0x7f], [0x83, 0xff, 0xff, 0x7f],
  [0x8c, 0x3f, 0x3f, 0], [0x8e, 0x3d, 0x3d, 0], // no /6 /7; MOV CS,Ew is #UD
  [0x8f, 0x01, 0x01, 0],
  [0xc0, 0xff, 0xff, 0], [0xc1, 0xff, 0xff, 0], [0xd0, 0xff, 0xff, 0], [0xd1, 0xff, 0xff, 0], [0xd2, 0xff, 0xff, 0], [0xd3, 0xff, 0xff, 0],
  [0xc6, 0x01, 0x01, 0], [0xc7, 0x01, 0x01, 0], // plus XABORT/XBEGIN (C6 F8 / C7 F8), see decode.ts
  [0xf6, 0xff, 0xff, 0x0c], [0xf7, 0xff, 0xff, 0x0c],
  [0xfe, 0x03, 0x03, 0x03],
  [0xff, 0x7f, 0x57, 0x03], // /3 and /5 (far) memory only; /7 undefined
  // x87 (SDM vol. 2D §A.4): memory forms; register forms in MOD3_ROWS
  [0xd8, 0xff, 0xff, 0], [0xd9, 0xfd, 0xff, 0], [0xda, 0xff, 0xff, 0], [0xdb, 0xaf, 0xff, 0],
  [0xdc, 0xff, 0xff, 0], [0xdd, 0xdf, 0xff, 0], [0xde, 0xff, 0xff, 0], [0xdf, 0xff, 0xff, 0],
  // Grp6: F2 /6 is LKGS (64-bit mode)
  [MAP_0F + 0x00, 0x3f, 0x3f, 0, [0, 0, 0, 0x40], [0, 0, 0, 0x40]],
  // Grp7: F3 /5 memory is RSTORSSP
  [MAP_0F + 0x01, [0xdf, 0xdf, 0xff, 0xdf], 0xff, 0],
  [MAP_0F + 0x20, 0xff, 0xff, 0], [MAP_0F + 0x21, 0xff, 0xff, 0], [MAP_0F + 0x22, 0xff, 0xff, 0], [MAP_0F + 0x23, 0xff, 0xff, 0],
  // Grp12/13/14: PSRLW/PSRAW/PSLLW ..; 66 /3 /7 are PSRLDQ/PSLLDQ
  [MAP_0F + 0x71, 0, 0x54, 0], [MAP_0F + 0x72, 0, 0x54, 0], [MAP_0F + 0x73, 0, [0x44, 0xcc, 0, 0], 0],
  // EXTRQ Ib,Ib is 66 0F 78 /0
  [MAP_0F + 0x78, 0xff, [0xff, 0x01, 0, 0xff], 0],
  // Grp15: FXSAVE..CLFLUSH / CLWB, CLFLUSHOPT / PTWRITE; fences; RDFSBASE..WRGSBASE (F3, 64-bit), PTWRITE, INCSSP,
  // UMONITOR / TPAUSE / UMWAIT
  [MAP_0F + 0xae, [0xff, 0xc0, 0x50, 0], [0xe0, 0x40, 0x70, 0x40], 0, 0, [0, 0, 0x0f, 0]],
  [MAP_0F + 0xba, 0xf0, 0xf0, 0xe0],
  // Grp9: CMPXCHG8B/16B, XRSTORS, XSAVEC, XSAVES, VMPTRLD/VMCLEAR/VMXON, VMPTRST; RDRAND, RDSEED, RDPID (F3), SENDUIPI (F3, 64-bit)
  [MAP_0F + 0xc7, [0xfa, 0x42, 0x42, 0x02], [0xc0, 0xc0, 0x80, 0], 0x02, 0, [0, 0, 0x40, 0]],
  [MAP_0F38 + 0xd8, 0x0f, 0, 0],
  // HRESET (F3 0F 3A F0 C0 Ib)
  [MAP_0F3A + 0xf0, 0, [0, 0, 0x01, 0], 0],
];

/**
 * Register forms (mod=11) validity per ModRM byte for opcodes with sparse register encodings:
 * [opcode, valid ModRM bytes as hex ranges per column (none, 66, F3, F2) or for all, extra ones valid only in
 * 64-bit mode]. Everything else in C0..FF is undefined.
 */
type RangeCols = string | readonly [string, string, string, string];
const MOD3_ROWS: readonly (readonly [number, RangeCols, RangeCols?])[] = [
  // x87, SDM vol. 2D §A.4.2 tables A-8..A-22 (incl. the reserved aliases FSTP1/FXCH4/FCOMP5/FXCH7/FSTP8/FSTP9/FFREEP)
  [0xd9, 'c0-d0 d8-e1 e4-e5 e8-ee f0-ff'],
  [0xda, 'c0-df e9'],
  [0xdb, 'c0-df e0-e4 e8-f7'],
  [0xdd, 'c0-ef'],
  [0xde, 'c0-d7 d9 e0-ff'],
  [0xdf, 'c0-df e0 e8-f7'],
  // 0F 01 mod=11 (Grp7): ENCLV/VMCALL/VMLAUNCH/VMRESUME/VMXOFF/PCONFIG/WRMSRNS, MONITOR/MWAIT/CLAC/STAC/ENCLS,
  // XGETBV/XSETBV/VMFUNC/XEND/XTEST/ENCLU, SVM, SMSW, SERIALIZE/RDPKRU/WRPKRU, LMSW, SWAPGS/RDTSCP/MONITORX/
  // MWAITX/CLZERO/RDPRU/INVLPGB/TLBSYNC; with F3/F2/66: CET, TSXLDTRK, UINTR, FRED, ERETU/ERETS ...
  [MAP_0F + 0x01,
    ['c0-c6 c8-cb cf-d1 d4-e8 ee-f7 f9-ff', 'cc d8-e7 f0-f7 f9 fc', 'd8-e8 ea f0-f7 f9-fa fc', 'd8-e9 f0-f7 f9 fc ff'],
    ['c7 f8', 'cd-cf f8', 'c6 ca ec-ef f8 fd-ff', 'c6 ca f8 fe']],
];

// ---- Compiled lookup tables (built once at module load) ----------------------------------------

/** Attributes per opcode (map base + byte), 0 = undefined. */
export const OPC = new Uint32Array(0x400);
/** SSE column validity: bits 2c (memory ok) and 2c+1 (register ok) for column c = none, 66, F3, F2. */
export const SSE_COLS = new Uint8Array(0x400);
/**
 * Group masks, indexed by groupIndex(opcode, column, is64): GRP_MEM / GRP_REG give the valid ModRM.reg values
 * (bit n = /n) for memory / register forms. GRP_LOCK[opcode]: regs where LOCK is allowed.
 */
export const GRP_MEM = new Uint8Array(0x400 * 8), GRP_REG = new Uint8Array(0x400 * 8), GRP_LOCK = new Uint8Array(0x400);
/** mod=11 per-ModRM validity: MOD3_INDEX[opcode] = k + 1 selects row k; see mod3Index(). */
export const MOD3_INDEX = new Uint8Array(0x400);
export const MOD3_VALID = new Uint8Array(MOD3_ROWS.length * 8 * 64);
/** Column of a mandatory prefix: 0 none, 1 66, 2 F3, 3 F2. */
export function groupIndex(op: number, col: number, is64: number): number { return (op << 3) | (col << 1) | is64; }
export function mod3Index(k: number, col: number, is64: number, modrm: number): number {
  return (((k << 3) | (col << 1) | is64) << 6) | (modrm & 0x3f);
}
/** Row names, for disassembly hints and error messages. */
export const OPCODE_NAMES: string[] = new Array<string>(0x400).fill('');

function compile(rows: Row[], base: number): void {
  for (const [first, last, attrs, sse, name] of rows) {
    for (let b = first; b <= last; b++) {
      const op = base + b;
      if (OPC[op] !== 0) throw new Error(`opcode table: ${op.toString(16)} defined twice`);
      OPC[op] = attrs;
      OPCODE_NAMES[op] = name;
      if (attrs & SSE) {
        let cols = 0;
        for (let c = 0; c < 4; c++) {
          const ch = sse[c];
          cols |= (ch === 'm' ? 1 : ch === 'r' ? 2 : ch === 'b' ? 3 : 0) << (2 * c);
        }
        SSE_COLS[op] = cols;
      }
    }
  }
}
compile(MAP1_ROWS, 0);
compile(MAP0F_ROWS, MAP_0F);
compile(MAP0F38_ROWS, MAP_0F38);
compile(MAP0F3A_ROWS, MAP_0F3A);
const col = (c: Cols | undefined, i: number): number => (c === undefined ? 0 : typeof c === 'number' ? c : c[i]);
for (const [op, mem, reg, lock, mem64, reg64] of GROUP_ROWS) {
  GRP_LOCK[op] = lock;
  for (let c = 0; c < 4; c++) {
    GRP_MEM[groupIndex(op, c, 0)] = col(mem, c); GRP_MEM[groupIndex(op, c, 1)] = col(mem, c) | col(mem64, c);
    GRP_REG[groupIndex(op, c, 0)] = col(reg, c); GRP_REG[groupIndex(op, c, 1)] = col(reg, c) | col(reg64, c);
  }
}
function setRanges(k: number, c: number, is64: number, ranges: string): void {
  for (const r of ranges.split(' ')) {
    if (!r) continue;
    const [lo, hi = lo] = r.split('-').map((h) => parseInt(h, 16));
    for (let m = lo; m <= hi; m++) MOD3_VALID[mod3Index(k, c, is64, m)] = 1;
  }
}
MOD3_ROWS.forEach(([op, all, only64], k) => {
  MOD3_INDEX[op] = k + 1;
  for (let c = 0; c < 4; c++) {
    const base = typeof all === 'string' ? all : all[c];
    const extra = only64 === undefined ? '' : typeof only64 === 'string' ? only64 : only64[c];
    setRanges(k, c, 0, base);
    setRanges(k, c, 1, base + ' ' + extra);
  }
});
