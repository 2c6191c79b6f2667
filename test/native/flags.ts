// Which RFLAGS bits each tested instruction defines: the one table of SDM-undefined flags the native suites mask.
// RFLAGS bits, SDM vol. 1 §3.4.3.1 (status flags) and §3.4.3.2 (DF).
export const CF = 0x001;
export const PF = 0x004;
export const AF = 0x010;
export const ZF = 0x040;
export const SF = 0x080;
export const DF = 0x400;
export const OF = 0x800;
export const STATUS = CF | PF | AF | ZF | SF | OF;
/** Every flag the suites compare: the six status flags and DF. */
export const COMPARED = STATUS | DF;

/**
 * Flags the SDM leaves undefined, per instruction family (SDM vol. 2, "Flags Affected" of each entry).
 * A flag that is "unaffected" is defined (it must keep its input value) and is compared.
 */
export const UNDEFINED_FLAGS = {
  /** ADD ADC SUB SBB CMP NEG INC DEC XADD CMPXCHG (vol. 2A/2B): all status flags defined. */
  arith: 0,
  /** AND OR XOR TEST (vol. 2A AND, 2B OR/TEST/XOR): "The state of the AF flag is undefined." */
  logic: AF,
  /** NOT, MOV-like, SETcc, CMOVcc, CBW..CDQE, CWD..CQO, BSWAP, MOVBE, MOVS STOS LODS: flags unaffected. */
  none: 0,
  /** MUL, IMUL (vol. 2A/2B): "The SF, ZF, AF, and PF flags are undefined." */
  mul: SF | ZF | AF | PF,
  /** DIV, IDIV (vol. 2A): "The CF, OF, SF, ZF, AF, and PF flags are undefined." */
  div: STATUS,
  /** BSF, BSR (vol. 2A): "The CF, OF, SF, AF, and PF flags are undefined." */
  bitScan: CF | OF | SF | AF | PF,
  /** BT BTS BTR BTC (vol. 2A): "The ZF flag is unaffected. The OF, SF, AF, and PF flags are undefined." */
  bitTest: OF | SF | AF | PF,
  /** POPCNT (vol. 2B): OF SF ZF AF CF PF cleared, ZF set by the result: all defined. */
  popcnt: 0,
  /** LZCNT, TZCNT (vol. 2A/2B): "The OF, SF, PF and AF flags are undefined." */
  countZeros: OF | SF | PF | AF,
  /** CMPS, SCAS (vol. 2A/2B): set as by CMP; all defined. */
  stringCompare: 0,
} as const;

export type ShiftOp = 'rol' | 'ror' | 'rcl' | 'rcr' | 'shl' | 'shr' | 'sar';

/**
 * Undefined flags of SHL/SHR/SAR/ROL/ROR/RCL/RCR for a given operand size and (unmasked) count.
 * Vol. 2B SAL/SAR/SHL/SHR: count masked to 5 bits (6 with REX.W); a masked count of 0 affects no flags;
 * otherwise AF is undefined, OF is defined only for a count of 1, and CF is undefined for SHL/SHR
 * when the count is >= the operand size.
 * Vol. 2B RCL/RCR/ROL/ROR: a masked count of 0 affects no flags; CF is set; OF is defined only for a
 * masked count of 1; SF ZF AF PF are unaffected.
 */
export function shiftUndefinedFlags(op: ShiftOp, size: number, count: number): number {
  const masked = count & (size === 64 ? 0x3f : 0x1f);
  if (masked === 0) return 0;
  let undef = masked === 1 ? 0 : OF;
  if (op === 'shl' || op === 'shr' || op === 'sar') {
    undef |= AF;
    if ((op === 'shl' || op === 'shr') && masked >= size) undef |= CF;
  }
  return undef;
}

/**
 * SHLD/SHRD (vol. 2B): count masked to 5 bits (6 with REX.W); 0 affects no flags; a count greater than
 * the operand size leaves the destination and all flags undefined; otherwise AF is undefined and OF is
 * defined only for a 1-bit shift.
 */
export function doubleShiftUndefined(size: number, count: number): { flags: number; destUndefined: boolean } {
  const masked = count & (size === 64 ? 0x3f : 0x1f);
  if (masked === 0) return { flags: 0, destUndefined: false };
  if (masked > size) return { flags: STATUS, destUndefined: true };
  return { flags: AF | (masked === 1 ? 0 : OF), destUndefined: false };
}
