// The x86 instruction decoder: prefixes, opcode maps, ModRM/SIB/displacement and immediates into an Insn (SDM vol. 2A ch. 2).

import {
  Insn, DecodeFault, DS, SS, FS, GS, RBX, RBP, RSI, RDI,
  PFX_LOCK, PFX_REP, PFX_REPNE, PFX_OPSIZE, PFX_ADSIZE, MAP_0F, MAP_0F38, MAP_0F3A,
} from './insn.js';
import {
  OPC, SSE_COLS, GRP_MEM, GRP_REG, GRP_LOCK, MOD3_INDEX, MOD3_VALID, groupIndex, mod3Index,
  M, IMM_MASK, IB, IW, IZ, IV, MOFFS, ENTER, FAR, GRP3, IBIB, D64, F64, I64, LK, FIXED, SSE, O66, GRP, VALID,
  UD, MODREG, MEMO, REGO, PLUSR, ESC, OP32,
} from './opcodes.js';

/** SDM vol. 2A §2.3.11: an instruction longer than 15 bytes raises #GP(0). */
const MAX_LENGTH = 15;

// Decoder state for the call in progress (module-level so that decode() allocates nothing).
let fetchByte: (offset: number) => number = () => 0;
let pos = 0;
let overLong = false;

/** Next instruction byte; past byte 15 nothing more is fetched (the instruction is TooLong). */
function next(): number {
  if (pos >= MAX_LENGTH) { overLong = true; pos++; return 0; }
  return fetchByte(pos++) & 0xff;
}
function next16(): number { const lo = next(); return lo | (next() << 8); }
function next32(): number { const a = next16(); return (a | (next16() << 16)) | 0; }

/** Legacy prefix classes (SDM vol. 2A §2.1.1): 1=66 2=67 3=F0 4=F3 5=F2 6=ES/CS/SS/DS 7=FS/GS, 0=not a prefix. */
const PREFIX_KIND = new Uint8Array(256);
PREFIX_KIND[0x66] = 1; PREFIX_KIND[0x67] = 2; PREFIX_KIND[0xf0] = 3; PREFIX_KIND[0xf3] = 4; PREFIX_KIND[0xf2] = 5;
PREFIX_KIND[0x26] = 6; PREFIX_KIND[0x2e] = 6; PREFIX_KIND[0x36] = 6; PREFIX_KIND[0x3e] = 6;
PREFIX_KIND[0x64] = 7; PREFIX_KIND[0x65] = 7;

/** 16-bit ModRM memory forms, SDM vol. 2A table 2-1. */
const BASE16 = Int8Array.of(RBX, RBX, RBP, RBP, RSI, RDI, RBP, RBX);
const INDEX16 = Int8Array.of(RSI, RDI, RSI, RDI, -1, -1, -1, -1);

/** Reads SIB/displacement for a memory ModRM (mod != 3) and fills base/index/scale/disp/ripRel/seg. */
function decodeMemory(insn: Insn, mod: number, rm: number, rex: number, addrSize: number): void {
  let base = -1, index = -1, scale = 0, disp = 0;
  if (addrSize === 16) {
    // SDM vol. 2A table 2-1
    if (mod === 0 && rm === 6) disp = (next16() << 16) >> 16;
    else {
      base = BASE16[rm]; index = INDEX16[rm];
      if (mod === 1) disp = (next() << 24) >> 24;
      else if (mod === 2) disp = (next16() << 16) >> 16;
    }
  } else {
    // SDM vol. 2A tables 2-2 and 2-3, §2.2.1.3 (SIB with REX.X/REX.B), §2.2.1.6 (RIP-relative)
    if (rm === 4) {
      const sib = next();
      scale = sib >> 6;
      const idx = ((sib >> 3) & 7) | ((rex & 2) << 2);
      index = idx === 4 ? -1 : idx;
      const b = sib & 7;
      if (b === 5 && mod === 0) disp = next32();
      else base = b | ((rex & 1) << 3);
    } else if (rm === 5 && mod === 0) {
      disp = next32();
      insn.ripRel = insn.mode === 64;
    } else {
      base = rm | ((rex & 1) << 3);
    }
    if (mod === 1) disp = (next() << 24) >> 24;
    else if (mod === 2) disp = next32();
  }
  insn.base = base; insn.index = index; insn.scale = scale; insn.disp = disp;
  insn.dispHi = disp >> 31;
  // SDM vol. 1 §3.7.4.1: SS is the default for (E/R)SP and (E/R)BP bases (BP forms in 16-bit addressing)
  if (insn.segOverride < 0) insn.seg = base === 4 || base === 5 ? SS : DS;
}

/** Reads ModRM (and its memory operand) for instructions whose validity is not checked: VEX/EVEX/XOP/3DNow!. */
function skipModrm(insn: Insn, rex: number, addrSize: number): number {
  const modrm = next();
  insn.hasModrm = true; insn.modrm = modrm; insn.mod = modrm >> 6;
  insn.reg = (modrm >> 3) & 7; insn.rm = modrm & 7;
  if (insn.mod !== 3) decodeMemory(insn, insn.mod, modrm & 7, rex, addrSize);
  return modrm;
}

/** VEX (C4/C5), EVEX (62) and XOP (8F) instructions: length only, reported Unimplemented (SDM vol. 2A §2.3, §2.7). */
function decodeVexLike(insn: Insn, escape: number, rex: number, addrSize: number): void {
  let map: number;
  if (escape === 0xc5) { next(); map = 1; }
  else if (escape === 0xc4) { map = next() & 0x1f; next(); }
  else if (escape === 0x62) { map = next() & 7; next(); next(); }
  else { map = next() & 0x1f; next(); } // XOP
  const opc = next();
  insn.opcode = (map >= 1 && map <= 3 ? map << 8 : 0) | opc;
  if (!(escape !== 0x62 && map === 1 && opc === 0x77)) skipModrm(insn, rex, addrSize); // VZEROUPPER/VZEROALL have no ModRM
  let immBytes = 0;
  if (escape === 0x8f) immBytes = map === 8 ? 1 : map === 0xa ? 4 : 0;
  else if (map === 3) immBytes = 1;
  else if (map === 1 && ((opc >= 0x70 && opc <= 0x73) || opc === 0xc2 || (opc >= 0xc4 && opc <= 0xc6))) immBytes = 1;
  if (immBytes === 1) { insn.imm = (next() << 24) >> 24; insn.immSize = 1; }
  else if (immBytes === 4) { insn.imm = next32(); insn.immSize = 4; }
  insn.immHi = insn.imm >> 31;
  insn.fault = DecodeFault.Unimplemented;
}

/**
 * Decodes the instruction whose bytes are fetch(0), fetch(1), ... for code size `mode` into `insn`.
 * fetch may throw (a page fault while fetching); the exception propagates. Never allocates.
 */
export function decode(insn: Insn, fetch: (offset: number) => number, mode: 16 | 32 | 64): void {
  fetchByte = fetch; pos = 0; overLong = false;
  const is64 = mode === 64;
  insn.mode = mode; insn.fault = DecodeFault.None;
  insn.hasModrm = false; insn.modrm = 0; insn.mod = 3; insn.reg = 0; insn.rm = 0;
  insn.base = -1; insn.index = -1; insn.scale = 0; insn.disp = 0; insn.dispHi = 0; insn.ripRel = false;
  insn.imm = 0; insn.immHi = 0; insn.imm2 = 0; insn.immSize = 0;

  // ---- Prefixes (SDM vol. 2A §2.1.1, §2.2.1: REX must immediately precede the opcode) ----
  let prefixes = 0, rex = 0, segOverride = -1, repPrefix = 0;
  let b = 0;
  for (;;) {
    b = next();
    if (overLong) break;
    const kind = PREFIX_KIND[b];
    if (kind === 0) {
      if (is64 && (b & 0xf0) === 0x40) { rex = b; continue; }
      break;
    }
    rex = 0;
    switch (kind) {
      case 1: prefixes |= PFX_OPSIZE; break;
      case 2: prefixes |= PFX_ADSIZE; break;
      case 3: prefixes |= PFX_LOCK; break;
      // The last of F2/F3 decides REP vs REPNE and the mandatory prefix.
      case 4: prefixes = (prefixes & ~PFX_REPNE) | PFX_REP; repPrefix = 0xf3; break;
      case 5: prefixes = (prefixes & ~PFX_REP) | PFX_REPNE; repPrefix = 0xf2; break;
      // ES/CS/SS/DS (SDM vol. 1 §3.3.7.1: ignored in 64-bit mode)
      case 6: if (!is64) segOverride = (b >> 3) & 3; break;
      default: segOverride = b === 0x64 ? FS : GS; break;
    }
  }
  const has66 = (prefixes & PFX_OPSIZE) !== 0;
  insn.prefixes = prefixes; insn.rex = rex; insn.segOverride = segOverride;
  insn.seg = segOverride >= 0 ? segOverride : DS;
  insn.mandatory = repPrefix !== 0 ? repPrefix : has66 ? 0x66 : 0;
  const addrSize = is64 ? ((prefixes & PFX_ADSIZE) ? 32 : 64)
    : ((mode === 16) !== ((prefixes & PFX_ADSIZE) !== 0) ? 16 : 32);
  insn.addrSize = addrSize;
  insn.opSize = is64 ? ((rex & 8) ? 64 : has66 ? 16 : 32) : ((mode === 16) !== has66 ? 16 : 32);

  if (overLong) { finishTooLong(insn); return; }

  // ---- Opcode and escapes ----
  let op = b;
  if (b === 0x0f) {
    b = next();
    if (b === 0x38) op = MAP_0F38 | next();
    else if (b === 0x3a) op = MAP_0F3A | next();
    else op = MAP_0F | b;
  } else if (b === 0xc4 || b === 0xc5 || b === 0x62 || b === 0x8f) {
    // VEX/EVEX outside 64-bit mode need ModRM.mod = 11 (else LES/LDS/BOUND); XOP needs map_select >= 8 (else POP Ev).
    const peek = next();
    const escape = b === 0x8f ? (peek & 0x18) !== 0 : is64 || (peek >> 6) === 3;
    pos--;
    if (escape && !overLong) {
      insn.opcode = b;
      decodeVexLike(insn, b, rex, addrSize);
      finish(insn);
      return;
    }
    overLong = false;
  }
  insn.opcode = op;
  let a = OPC[op];

  // ---- ModRM ----
  let regField = 0;
  if (a & M) {
    const modrm = next();
    insn.hasModrm = true; insn.modrm = modrm;
    const mod = (a & MODREG) ? 3 : modrm >> 6;
    regField = (modrm >> 3) & 7;
    insn.mod = mod;
    insn.reg = regField | ((rex & 4) << 1);
    if (mod === 3) insn.rm = (modrm & 7) | ((rex & 1) << 3);
    else { insn.rm = modrm & 7; decodeMemory(insn, mod, modrm & 7, rex, addrSize); }
    // Grp5: near CALL/JMP are f64, PUSH is d64 (SDM vol. 2D table A-6)
    if (op === 0xff) a |= regField === 2 || regField === 4 ? F64 : regField === 6 ? D64 : 0;
  } else if (a & PLUSR) {
    insn.reg = (op & 7) | ((rex & 1) << 3);
  }

  // Mandatory-prefix column (SDM vol. 2A §2.1.2): the last F2/F3, else 66 (unless 66 is an operand-size prefix here)
  const col = repPrefix === 0xf3 ? 2 : repPrefix === 0xf2 ? 3 : has66 && !(a & O66) ? 1 : 0;

  // ---- Operand size (SDM vol. 2A §2.2.1.2 table 2-4; vol. 2D table A-1 d64/f64) ----
  const sizePrefix = has66 && (!(a & SSE) || (a & O66) !== 0);
  let opSize: number;
  if (a & OP32) {
    opSize = 32;
  } else if ((a & SSE) && !(a & O66) && !(a & FIXED) || op === (MAP_0F | 0xae) || ((op & ~1) === (MAP_0F38 | 0xf0) && repPrefix === 0xf2)) {
    // SSE-style and CRC32 register operands are Gd/Ey: 32 bits, or 64 with REX.W (SDM vol. 2D §A.2.2 "d", "y")
    opSize = rex & 8 ? 64 : 32;
  } else if (is64) {
    opSize = (a & FIXED) || (rex & 8) || (a & F64) ? 64 : sizePrefix ? 16 : (a & D64) ? 64 : 32;
  } else {
    opSize = (a & FIXED) ? 32 : (mode === 16) !== sizePrefix ? 16 : 32;
  }
  if (col === 2 && insn.mod === 3) {
    if (op === (MAP_0F | 0xc7)) opSize = is64 ? 64 : 32; // RDPID r32/r64
    else if (op === (MAP_0F | 0x1e) && regField === 1) opSize = rex & 8 ? 64 : 32; // RDSSPD/RDSSPQ
  }
  insn.opSize = opSize;

  // ---- Immediates ----
  let immKind = a & IMM_MASK;
  if (immKind === GRP3) immKind = regField < 2 ? (op === 0xf6 ? IB : IZ) : 0;
  else if (op === (MAP_0F | 0x78) && (insn.mandatory === 0x66 || insn.mandatory === 0xf2)) immKind = IBIB;
  let imm = 0, immSize = 0;
  switch (immKind) {
    case IB: imm = (next() << 24) >> 24; immSize = 1; break;
    case IW: imm = (next16() << 16) >> 16; immSize = 2; break;
    case IZ: if (opSize === 16) { imm = (next16() << 16) >> 16; immSize = 2; } else { imm = next32(); immSize = 4; } break;
    case IV:
      if (opSize === 64) { imm = next32(); insn.immHi = next32(); immSize = 8; }
      else if (opSize === 16) { imm = (next16() << 16) >> 16; immSize = 2; }
      else { imm = next32(); immSize = 4; }
      break;
    case MOFFS:
      // SDM vol. 2A MOV (A0..A3): the offset is address-size wide
      insn.mod = 0;
      if (addrSize === 16) insn.disp = next16();
      else { insn.disp = next32() >>> 0; if (addrSize === 64) insn.dispHi = next32(); }
      break;
    case ENTER: imm = (next16() << 16) >> 16; immSize = 2; insn.imm2 = next(); break;
    case FAR:
      if (opSize === 16) { imm = (next16() << 16) >> 16; immSize = 2; } else { imm = next32(); immSize = 4; }
      insn.imm2 = next16();
      break;
    case IBIB: imm = (next() << 24) >> 24; immSize = 1; insn.imm2 = next(); break;
  }
  insn.imm = imm; insn.immSize = immSize;
  if (immSize !== 8) insn.immHi = imm >> 31;

  // ---- Validity (#UD) ----
  const mod = insn.mod;
  let invalid = (a & VALID) === 0 || (a & UD) !== 0 || (is64 && (a & I64) !== 0);
  if (a & SSE) {
    if (!((SSE_COLS[op] >> (2 * col)) & (mod === 3 ? 2 : 1))) invalid = true;
  }
  if ((a & MEMO) && mod === 3) invalid = true;
  if ((a & REGO) && mod !== 3) invalid = true;
  if (a & GRP) {
    const gi = groupIndex(op, col, is64 ? 1 : 0);
    if (!(((mod === 3 ? GRP_REG[gi] : GRP_MEM[gi]) >> regField) & 1)) invalid = true;
    else if (mod === 3 && MOD3_INDEX[op] !== 0 && !(a & MODREG)) {
      if (!MOD3_VALID[mod3Index(MOD3_INDEX[op] - 1, col, is64 ? 1 : 0, insn.modrm)]) invalid = true;
    }
    // MOV CR/DR (SDM vol. 3A §2.5, MOV-to/from-CR): CR0, CR2-CR4, CR8; DR0-DR7
    if (op === (MAP_0F | 0x20) || op === (MAP_0F | 0x22)) {
      const cr = insn.reg;
      if (!(cr === 0 || cr === 2 || cr === 3 || cr === 4 || cr === 8)) invalid = true;
    } else if (op === (MAP_0F | 0x21) || op === (MAP_0F | 0x23)) {
      if (insn.reg > 7) invalid = true;
    }
  }
  if ((op === 0xc6 || op === 0xc7) && insn.modrm === 0xf8) {
    // XABORT Ib / XBEGIN Jz (RTM, SDM vol. 2B): same immediate as the MOV forms of these rows
    invalid = false;
  }
  if (op === (MAP_0F3A | 0xf0) && insn.modrm !== 0xc0) invalid = true; // HRESET Ib is F3 0F 3A F0 C0 only
  // PTWRITE, HRESET: a 66 prefix is #UD
  if (has66 && col === 2 && ((op === (MAP_0F | 0xae) && regField === 4) || op === (MAP_0F3A | 0xf0))) invalid = true;
  // SDM vol. 2A LOCK: only the listed read-modify-write instructions, and only with a memory destination
  if (prefixes & PFX_LOCK) {
    const lockable = (a & LK) !== 0 || ((a & GRP) !== 0 && ((GRP_LOCK[op] >> regField) & 1) !== 0);
    if (!lockable || mod === 3) invalid = true;
  }
  if (a & ESC) insn.fault = DecodeFault.Unimplemented; // 3DNow!
  else if (invalid) insn.fault = DecodeFault.Invalid;
  finish(insn);
}

function finish(insn: Insn): void {
  if (overLong) { finishTooLong(insn); return; }
  insn.length = pos;
}

function finishTooLong(insn: Insn): void {
  insn.fault = DecodeFault.TooLong;
  insn.length = MAX_LENGTH;
}
