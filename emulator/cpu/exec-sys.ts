// System instructions: far transfers, IRET, descriptor tables, CR/DR/MSR access, SYSCALL/SYSENTER, TSC and CPUID (SDM vol. 2, vol. 3A).
import { Cpu, toNumber64 } from './cpu.js';
import { Insn, CS, DS, ES, FS, GS, SS, RAX, RBX, RCX, RDX, RSP, MAP_0F, MAP_0F38 } from './insn.js';
import { setFarCallOrJmp, setSysGroupC7 } from './exec-int.js';
import { CR_CLTS, CR_LMSW } from './vmx-hooks.js';
import {
  AC, AF, AR_DB, AR_G, AR_L, AR_P, AR_S, AR_UNUSABLE, CF, CR0_CD, CR0_EM, CR0_ET, CR0_MP, CR0_NE, CR0_NW, CR0_PE, CR0_PG,
  CR0_TS, CR0_WP, CR0_AM, CR4_DE, CR4_OSXSAVE, CR4_PAE, CR4_PGE, CR4_PSE, CR4_SMEP, CR4_SUPPORTED, CR4_TSD, CR4_UMIP, DF,
  EFER_LMA, EFER_LME, EFER_SCE, EXC_DB, EXC_GP, EXC_NP, EXC_SS, EXC_UD, ID, IF, IOPL, NT, OF, PF, RF, SF, TF, VIF, VIP, VM, ZF,
} from './regs.js';
import { MAXPHYADDR } from './paging.js';
import { cpuidModel, XCR0_SUPPORTED } from './cpuid.js';
import { isCanonicalNum, readMsr, writeMsr } from './msr.js';

const H = Cpu.handlers;
const TWO32 = 4294967296;
const R11 = 11;

/** CR0 bits that exist (SDM vol. 3A §2.5); other bits of CR0[31:0] are ignored on write, ET is hardwired to 1. */
export const CR0_DEFINED = CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_NW | CR0_CD | CR0_PG;

// Scratch descriptor buffers (no allocation per instruction).
const csDesc = new Uint32Array(2);
const ssDesc = new Uint32Array(2);
const sysDesc = new Uint32Array(4);

// ---------------------------------------------------------------- small helpers

function protectedMode(c: Cpu): boolean {
  return (c.cr0 & CR0_PE) !== 0;
}
function longActive(c: Cpu): boolean {
  return (c.efer & EFER_LMA) !== 0;
}
/** Privileged instructions: #GP(0) unless CPL = 0 (real mode is CPL 0; virtual-8086 mode is CPL 3). */
function requireCpl0(c: Cpu): void {
  if (c.cpl !== 0) c.raise(EXC_GP, 0);
}
/** Instructions that exist only in protected mode (0F 00, LAR, LSL, ...): #UD in real and virtual-8086 mode. */
function requireProtected(c: Cpu): void {
  if (!protectedMode(c) || (c.getFlags() & VM) !== 0) c.raise(EXC_UD);
}
/** CR4.UMIP: SGDT/SIDT/SLDT/SMSW/STR at CPL > 0 are #GP(0) (SDM vol. 3A §2.5). */
function umipCheck(c: Cpu): void {
  if ((c.cr4 & CR4_UMIP) !== 0 && c.cpl > 0) c.raise(EXC_GP, 0);
}
function setZf(c: Cpu, on: boolean): void {
  const f = c.getFlags();
  c.setStatusFlags(on ? f | ZF : f & ~ZF);
}
/** Write EDX:EAX from a 64-bit unsigned bigint (upper halves of RAX/RDX cleared, as 32-bit writes do). */
function setEdxEax(c: Cpu, v: bigint): void {
  c.setReg(RAX, 32, Number(v & 0xffffffffn), 0);
  c.setReg(RDX, 32, Number((v >> 32n) & 0xffffffffn), 0);
}
export function tscValue(c: Cpu): bigint {
  return BigInt.asUintN(64, BigInt(c.icount + c.idleTicks) + BigInt(Math.trunc(c.tscOffset)));
}
/** Set RSP from a popped value of `size` bits (64: lo/hi). */
function setStackPointer(c: Cpu, size: number, lo: number, hi: number): void {
  c.setReg(RSP, size, lo, size === 64 ? hi : 0);
}
function pushIp(c: Cpu, size: number, ip: number): void {
  if (size === 64) c.push(64, ip >>> 0, Math.floor(ip / TWO32) >>> 0);
  else c.push(size, ip >>> 0, 0);
}
/** Push CS and the return offset; the stack pointer is restored if either push faults. */
function pushFarReturn(c: Cpu, size: number, ip: number): void {
  const slo = c.lo[RSP], shi = c.hi[RSP];
  try {
    c.push(size, c.sel[CS], 0);
    pushIp(c, size, ip);
  } catch (e) {
    c.lo[RSP] = slo; c.hi[RSP] = shi;
    throw e;
  }
}

// ---------------------------------------------------------------- far JMP / CALL / RET (SDM vol. 2A CALL, JMP; vol. 2B RET)

/**
 * Checks a far CALL/JMP destination selector and returns its code-segment descriptor in csDesc.
 * Call gates and task switches are reported unimplemented.
 */
function checkFarDestination(c: Cpu, sel: number): void {
  if ((sel & 0xfffc) === 0) c.raise(EXC_GP, 0);
  if (!c.readDescriptor(sel, csDesc)) c.raise(EXC_GP, sel & 0xfffc);
  const ar = Cpu.descAr(csDesc[1]);
  if ((ar & AR_S) === 0) {
    const type = ar & 0xf;
    if (type === 0x4 || type === 0xc) c.unimplementedOp('call gates');
    if (type === 0x5 || type === 0x1 || type === 0x9) c.unimplementedOp('task switches (far CALL/JMP to a TSS or task gate)');
    c.raise(EXC_GP, sel & 0xfffc);
  }
  if ((ar & 0x8) === 0) c.raise(EXC_GP, sel & 0xfffc); // data segment
  const dpl = (ar >>> 5) & 3, rpl = sel & 3;
  if ((ar & 0x4) !== 0) {
    if (dpl > c.cpl) c.raise(EXC_GP, sel & 0xfffc); // conforming: DPL <= CPL
  } else if (rpl > c.cpl || dpl !== c.cpl) c.raise(EXC_GP, sel & 0xfffc); // non-conforming: RPL <= CPL, DPL = CPL
  if ((ar & AR_P) === 0) c.raise(EXC_NP, sel & 0xfffc);
  if (longActive(c) && (ar & AR_L) !== 0 && (ar & AR_DB) !== 0) c.raise(EXC_GP, sel & 0xfffc);
}

/** Offset check for a new CS: canonical for 64-bit code, else within the segment limit (#GP(0)). Returns the new RIP. */
function checkTarget(c: Cpu, d: Uint32Array, offset: number, size: number): number {
  const ar = Cpu.descAr(d[1]);
  if (longActive(c) && (ar & AR_L) !== 0) {
    if (!isCanonicalNum(offset)) c.raise(EXC_GP, 0);
    return offset;
  }
  const t = size === 16 ? offset & 0xffff : offset >>> 0;
  if (t > Cpu.descLimit(d[0], d[1])) c.raise(EXC_GP, 0);
  return t;
}

export function farTransfer(c: Cpu, sel: number, offset: number, size: number, call: boolean): void {
  sel &= 0xffff;
  if (!protectedMode(c)) {
    // Real-address mode: CS = selector, base = selector * 16 (SDM vol. 2A JMP "real-address mode").
    const t = size === 16 ? offset & 0xffff : offset >>> 0;
    if (t > c.segLimit[CS]) c.raise(EXC_GP, 0);
    if (call) pushFarReturn(c, size, c.nextRip);
    c.setSegReal(CS, sel);
    c.updateMode();
    c.nextRip = t;
    return;
  }
  if ((c.getFlags() & VM) !== 0) c.unimplementedOp('virtual-8086 mode far transfers');
  checkFarDestination(c, sel);
  const t = checkTarget(c, csDesc, offset, size);
  if (call) pushFarReturn(c, size, c.nextRip);
  c.loadCsFromDescriptor(sel, csDesc, c.cpl);
  c.nextRip = t;
}

/** FF /3 and FF /5: m16:16, m16:32 or m16:64 (REX.W). */
function farIndirect(c: Cpu, i: Insn, call: boolean): void {
  if (i.mod === 3) c.raise(EXC_UD);
  const size = i.opSize;
  const lin = c.memLinear(i, size + 16, false);
  const off = c.readSize(lin, size);
  const offset = size === 64 ? toNumber64(off, c.vh) : off;
  const sel = c.read16(lin + (size >>> 3));
  farTransfer(c, sel, offset, size, call);
}
setFarCallOrJmp(farIndirect);

// EA / 9A: ptr16:16 / ptr16:32 (invalid in 64-bit mode; the decoder reports #UD there).
H[0xea] = (c, i) => farTransfer(c, i.imm2, i.opSize === 16 ? i.imm & 0xffff : i.imm >>> 0, i.opSize, false);
H[0x9a] = (c, i) => farTransfer(c, i.imm2, i.opSize === 16 ? i.imm & 0xffff : i.imm >>> 0, i.opSize, true);

/**
 * Checks the SS selector popped by RET/IRET to an outer privilege level (SDM vol. 2B RET, IRET).
 * Returns false for a null SS that IA-32e mode allows (64-bit target with RPL < 3); descriptor in ssDesc.
 */
function checkReturnSs(c: Cpu, ssSel: number, rpl: number, target64: boolean): boolean {
  if ((ssSel & 0xfffc) === 0) {
    if (longActive(c) && target64 && rpl !== 3) return false;
    c.raise(EXC_GP, 0);
  }
  if (!c.readDescriptor(ssSel, ssDesc)) c.raise(EXC_GP, ssSel & 0xfffc);
  const ar = Cpu.descAr(ssDesc[1]);
  if ((ssSel & 3) !== rpl || (ar & AR_S) === 0 || (ar & 0xa) !== 0x2 || ((ar >>> 5) & 3) !== rpl) c.raise(EXC_GP, ssSel & 0xfffc);
  if ((ar & AR_P) === 0) c.raise(EXC_SS, ssSel & 0xfffc);
  return true;
}

/** Load SS from ssDesc (or a null selector in IA-32e mode), with DPL = the new CPL. */
function loadSsChecked(c: Cpu, ssSel: number, hasDesc: boolean, cpl: number): void {
  c.heldEpoch++;
  if (!hasDesc) {
    c.sel[SS] = ssSel; c.segBase[SS] = 0; c.segLimit[SS] = 0xffffffff;
    c.segAr[SS] = AR_UNUSABLE | (cpl << 5) | AR_DB | 0x3 | AR_S | AR_P;
    return;
  }
  c.setAccessed(ssSel, ssDesc);
  c.sel[SS] = ssSel;
  c.segBase[SS] = Cpu.descBase(ssDesc[0], ssDesc[1]);
  c.segLimit[SS] = Cpu.descLimit(ssDesc[0], ssDesc[1]);
  c.segAr[SS] = Cpu.descAr(ssDesc[1]) | 1;
}

/** After a return to an outer privilege level: data segments the new CPL may not use become null (SDM vol. 2B RET, IRET). */
function nullInaccessibleSegments(c: Cpu, cpl: number): void {
  for (const s of [ES, DS, FS, GS]) {
    const ar = c.segAr[s];
    if ((ar & AR_UNUSABLE) !== 0) continue;
    const dataOrNonConformingCode = (ar & 0x8) === 0 || (ar & 0x4) === 0;
    if (dataOrNonConformingCode && ((ar >>> 5) & 3) < cpl) {
      c.sel[s] = 0;
      c.segAr[s] = AR_UNUSABLE;
    }
  }
}

/** Checks the code segment a RET/IRET returns to; descriptor in csDesc (SDM vol. 2B RET "protected mode"). */
function checkReturnCs(c: Cpu, sel: number): void {
  if ((sel & 0xfffc) === 0) c.raise(EXC_GP, 0);
  if (!c.readDescriptor(sel, csDesc)) c.raise(EXC_GP, sel & 0xfffc);
  const ar = Cpu.descAr(csDesc[1]);
  if ((ar & AR_S) === 0 || (ar & 0x8) === 0) c.raise(EXC_GP, sel & 0xfffc);
  const rpl = sel & 3, dpl = (ar >>> 5) & 3;
  if (rpl < c.cpl) c.raise(EXC_GP, sel & 0xfffc);
  if ((ar & 0x4) !== 0 ? dpl > rpl : dpl !== rpl) c.raise(EXC_GP, sel & 0xfffc);
  if ((ar & AR_P) === 0) c.raise(EXC_NP, sel & 0xfffc);
  if (longActive(c) && (ar & AR_L) !== 0 && (ar & AR_DB) !== 0) c.raise(EXC_GP, sel & 0xfffc);
}

/** RET far (CB) and RET far imm16 (CA). The stack is read first and committed only when every check passed. */
function retFar(c: Cpu, i: Insn, release: number): void {
  const size = i.opSize, b = size >>> 3;
  const off = c.peekStack(0, size), offHi = size === 64 ? c.vh : 0;
  const sel = c.peekStack(b, size) & 0xffff;
  if (!protectedMode(c)) {
    const t = size === 16 ? off & 0xffff : off;
    if (t > c.segLimit[CS]) c.raise(EXC_GP, 0);
    c.adjustSp(2 * b + release);
    c.setSegReal(CS, sel);
    c.nextRip = t;
    return;
  }
  if ((c.getFlags() & VM) !== 0) c.unimplementedOp('virtual-8086 mode RET far');
  checkReturnCs(c, sel);
  const offset = size === 64 ? toNumber64(off, offHi) : off;
  const rpl = sel & 3;
  const t = checkTarget(c, csDesc, offset, size);
  if (rpl === c.cpl) {
    c.adjustSp(2 * b + release);
    c.loadCsFromDescriptor(sel, csDesc, c.cpl);
    c.nextRip = t;
    return;
  }
  // Return to an outer privilege level: pop SS:eSP as well (SDM vol. 2B RET, RETURN-TO-OUTER-PRIVILEGE-LEVEL).
  const sp = c.peekStack(2 * b + release, size), spHi = size === 64 ? c.vh : 0;
  const ssSel = c.peekStack(3 * b + release, size) & 0xffff;
  const target64 = longActive(c) && (Cpu.descAr(csDesc[1]) & AR_L) !== 0;
  const hasSs = checkReturnSs(c, ssSel, rpl, target64);
  loadSsChecked(c, ssSel, hasSs, rpl);
  c.loadCsFromDescriptor(sel, csDesc, rpl);
  setStackPointer(c, size, sp, spHi);
  c.adjustSp(release);
  nullInaccessibleSegments(c, rpl);
  c.nextRip = t;
}
H[0xcb] = (c, i) => retFar(c, i, 0);
H[0xca] = (c, i) => retFar(c, i, i.imm & 0xffff);

// ---------------------------------------------------------------- IRET (SDM vol. 2A IRET/IRETD/IRETQ)

H[0xcf] = (c, i) => {
  const size = i.opSize, b = size >>> 3;
  // Every path takes the six status flags from the popped image, so only the other bits are read: the lazy ones
  // need not be computed (setFlags drops them).
  const flags = c.flagsRaw;
  if (!protectedMode(c)) {
    // Real-address mode: pop IP, CS, FLAGS; VM, VIF, VIP are not changed by a 32-bit pop.
    const ip = c.peekStack(0, size);
    const cs = c.peekStack(b, size) & 0xffff;
    const f = c.peekStack(2 * b, size);
    if (ip > c.segLimit[CS]) c.raise(EXC_GP, 0);
    c.adjustSp(3 * b);
    c.setSegReal(CS, cs);
    c.setFlags(size === 32 ? (f & 0x257fd5) | (flags & 0x1a0000) : (flags & ~0xffff) | (f & 0xffff));
    c.nextRip = ip;
    return;
  }
  if ((flags & VM) !== 0) c.unimplementedOp('virtual-8086 mode IRET');
  if ((flags & NT) !== 0) {
    if (longActive(c)) c.raise(EXC_GP, 0); // IA-32e mode has no task switching
    c.unimplementedOp('task switches (IRET with NT=1)');
  }
  const ip = c.peekStack(0, size), ipHi = size === 64 ? c.vh : 0;
  const csSel = c.peekStack(b, size) & 0xffff;
  const f = c.peekStack(2 * b, size);
  if ((f & VM) !== 0 && size === 32 && c.cpl === 0 && !longActive(c)) c.unimplementedOp('IRET to virtual-8086 mode');
  checkReturnCs(c, csSel);
  const rpl = csSel & 3;
  const t = checkTarget(c, csDesc, size === 64 ? toNumber64(ip, ipHi) : ip, size);
  // Flags the return may change depend on the CPL before the return and IOPL (SDM IRET, RETURN-TO-SAME/OUTER-PRIVILEGE-LEVEL).
  let changeable = CF | PF | AF | ZF | SF | TF | DF | OF | NT;
  if (size !== 16) changeable |= RF | AC | ID;
  if (c.cpl <= ((flags & IOPL) >>> 12)) changeable |= IF;
  if (c.cpl === 0) { changeable |= IOPL; if (size !== 16) changeable |= VIF | VIP; }
  const nf = (flags & ~changeable) | (f & changeable);
  // 64-bit mode IRET always pops SS:RSP; legacy protected mode only when returning to an outer level.
  const popSs = c.codeSize === 64 || rpl > c.cpl;
  if (!popSs) {
    c.adjustSp(3 * b);
    c.loadCsFromDescriptor(csSel, csDesc, c.cpl); // updates the mode; nf keeps VM (not changeable here), so no second update
    c.setFlags(nf);
    c.nextRip = t;
    return;
  }
  const sp = c.peekStack(3 * b, size), spHi = size === 64 ? c.vh : 0;
  const ssSel = c.peekStack(4 * b, size) & 0xffff;
  const target64 = longActive(c) && (Cpu.descAr(csDesc[1]) & AR_L) !== 0;
  const hasSs = checkReturnSs(c, ssSel, rpl, target64);
  const oldCpl = c.cpl;
  loadSsChecked(c, ssSel, hasSs, rpl);
  c.loadCsFromDescriptor(csSel, csDesc, rpl);
  setStackPointer(c, size, sp, spHi);
  c.setFlags(nf);
  c.updateMode();
  if (rpl > oldCpl) nullInaccessibleSegments(c, rpl);
  c.nextRip = t;
};

// ---------------------------------------------------------------- 0F 00: SLDT, STR, LLDT, LTR, VERR, VERW

/** Store a selector: register destinations take the operand size (zero-extended), memory takes 16 bits. */
function storeSelector(c: Cpu, i: Insn, sel: number): void {
  if (i.mod === 3) c.setReg(i.rm, i.opSize, sel, 0);
  else c.writeRM(i, 16, sel, 0);
}

/**
 * Read a system descriptor from the GDT into sysDesc: 8 bytes, or 16 in IA-32e mode (SDM vol. 3A §8.2.3).
 * #GP(selector) when it lies beyond the GDT limit. Returns its base (64-bit in IA-32e mode).
 */
function readSystemDescriptor(c: Cpu, sel: number): number {
  const long = longActive(c);
  const index = sel & 0xfff8;
  if (index + (long ? 15 : 7) > c.gdtrLimit) c.raise(EXC_GP, sel & 0xfffc);
  for (let k = 0; k < (long ? 4 : 2); k++) sysDesc[k] = c.sysRead32(c.gdtrBase + index + 4 * k);
  const base = Cpu.descBase(sysDesc[0], sysDesc[1]);
  if (!long) return base;
  // The upper half's type field must be 0 and the base canonical (SDM vol. 2A LLDT/LTR 64-bit mode).
  if (((sysDesc[3] >>> 8) & 0x1f) !== 0) c.raise(EXC_GP, sel & 0xfffc);
  const b64 = toNumber64(base, sysDesc[2]);
  if (!isCanonicalNum(b64) || (sysDesc[2] | 0) !== Math.floor(b64 / TWO32)) c.raise(EXC_GP, sel & 0xfffc);
  return b64;
}

function lldt(c: Cpu, sel: number): void {
  if ((sel & 0xfffc) === 0) {
    c.ldtrSel = sel; c.ldtrBase = 0; c.ldtrLimit = 0; c.ldtrAr = AR_UNUSABLE;
    return;
  }
  if ((sel & 4) !== 0) c.raise(EXC_GP, sel & 0xfffc);
  const base = readSystemDescriptor(c, sel);
  const ar = Cpu.descAr(sysDesc[1]);
  if ((ar & AR_S) !== 0 || (ar & 0xf) !== 0x2) c.raise(EXC_GP, sel & 0xfffc);
  if ((ar & AR_P) === 0) c.raise(EXC_NP, sel & 0xfffc);
  c.ldtrSel = sel; c.ldtrBase = base; c.ldtrLimit = Cpu.descLimit(sysDesc[0], sysDesc[1]); c.ldtrAr = ar;
}

function ltr(c: Cpu, sel: number): void {
  if ((sel & 0xfffc) === 0) c.raise(EXC_GP, 0);
  if ((sel & 4) !== 0) c.raise(EXC_GP, sel & 0xfffc);
  const base = readSystemDescriptor(c, sel);
  const ar = Cpu.descAr(sysDesc[1]);
  const type = ar & 0xf;
  // An available TSS: 32/64-bit (9), or 16-bit (1) outside IA-32e mode.
  const ok = (ar & AR_S) === 0 && (type === 0x9 || (type === 0x1 && !longActive(c)));
  if (!ok) c.raise(EXC_GP, sel & 0xfffc);
  if ((ar & AR_P) === 0) c.raise(EXC_NP, sel & 0xfffc);
  // Mark the descriptor busy in memory (SDM vol. 2A LTR).
  c.sysWrite32(c.gdtrBase + (sel & 0xfff8) + 4, sysDesc[1] | 0x200);
  c.trSel = sel; c.trBase = base; c.trLimit = Cpu.descLimit(sysDesc[0], sysDesc[1]); c.trAr = ar | 0x2;
}

/** VERR / VERW (SDM vol. 2B): ZF = 1 when the segment is readable / writable at the current CPL and the selector's RPL. */
function verify(c: Cpu, sel: number, write: boolean): boolean {
  if ((sel & 0xfffc) === 0 || !c.readDescriptor(sel, csDesc)) return false;
  const ar = Cpu.descAr(csDesc[1]);
  if ((ar & AR_S) === 0) return false;
  const code = (ar & 0x8) !== 0, conforming = code && (ar & 0x4) !== 0;
  const dpl = (ar >>> 5) & 3;
  if (!conforming && (dpl < c.cpl || dpl < (sel & 3))) return false;
  if (write) return !code && (ar & 0x2) !== 0;
  return !code || (ar & 0x2) !== 0;
}

H[MAP_0F + 0x00] = (c, i) => {
  requireProtected(c);
  switch (i.reg & 7) {
    case 0: umipCheck(c); dtExit(c, i, 47, 0); storeSelector(c, i, c.ldtrSel); return; // SLDT
    case 1: umipCheck(c); dtExit(c, i, 47, 1); storeSelector(c, i, c.trSel); return; // STR
    case 2: requireCpl0(c); dtExit(c, i, 47, 2); lldt(c, c.readRM(i, 16)); return;
    case 3: requireCpl0(c); dtExit(c, i, 47, 3); ltr(c, c.readRM(i, 16)); return;
    case 4: setZf(c, verify(c, c.readRM(i, 16), false)); return; // VERR
    case 5: setZf(c, verify(c, c.readRM(i, 16), true)); return; // VERW
    default: c.raise(EXC_UD);
  }
};

// ---------------------------------------------------------------- LAR / LSL (0F 02 / 0F 03)

/** System descriptor types LAR and LSL accept (SDM vol. 2A LAR table 3-58, LSL table 4-?), legacy and IA-32e. */
const LAR_TYPES_LEGACY = new Set([1, 2, 3, 4, 5, 9, 0xb, 0xc]), LAR_TYPES_LONG = new Set([2, 9, 0xb, 0xc]);
const LSL_TYPES_LEGACY = new Set([1, 2, 3, 9, 0xb]), LSL_TYPES_LONG = new Set([2, 9, 0xb]);

function larLsl(c: Cpu, i: Insn, lsl: boolean): void {
  requireProtected(c);
  const sel = c.readRM(i, 16);
  let ok = false;
  if ((sel & 0xfffc) !== 0 && c.readDescriptor(sel, csDesc)) {
    const ar = Cpu.descAr(csDesc[1]);
    const dpl = (ar >>> 5) & 3;
    const privOk = dpl >= c.cpl && dpl >= (sel & 3);
    if ((ar & AR_S) !== 0) ok = (ar & 0xc) === 0xc || privOk; // conforming code skips the privilege check
    else {
      const types = longActive(c) ? (lsl ? LSL_TYPES_LONG : LAR_TYPES_LONG) : (lsl ? LSL_TYPES_LEGACY : LAR_TYPES_LEGACY);
      ok = types.has(ar & 0xf) && privOk;
    }
  }
  setZf(c, ok);
  if (!ok) return;
  const v = lsl ? Cpu.descLimit(csDesc[0], csDesc[1]) >>> 0 : (csDesc[1] & 0x00ffff00) >>> 0;
  c.setReg(i.reg, i.opSize, i.opSize === 16 ? v & 0xffff : v, 0);
}
H[MAP_0F + 0x02] = (c, i) => larLsl(c, i, false);
H[MAP_0F + 0x03] = (c, i) => larLsl(c, i, true);

// ---------------------------------------------------------------- 0F 01: descriptor tables, SMSW/LMSW, INVLPG, XGETBV ...

/** SGDT / SIDT: limit then base (4 bytes; 8 in 64-bit mode) (SDM vol. 2B SGDT). */
function storeTable(c: Cpu, i: Insn, limit: number, base: number): void {
  umipCheck(c);
  const wide = c.codeSize === 64;
  const lin = c.memLinear(i, wide ? 80 : 48, true);
  c.probeWrite(lin, wide ? 10 : 6);
  c.write16(lin, limit);
  if (wide) c.write64(lin + 2, base >>> 0, Math.floor(base / TWO32) >>> 0);
  else c.write32(lin + 2, base >>> 0);
}

/** LGDT / LIDT: returns [limit, base]; 16-bit operand size keeps 24 bits of base (SDM vol. 2A LGDT). */
function loadTable(c: Cpu, i: Insn): [number, number] {
  requireCpl0(c);
  const wide = c.codeSize === 64;
  const lin = c.memLinear(i, wide ? 80 : 48, false);
  const limit = c.read16(lin);
  let base: number;
  if (wide) { const lo = c.read32(lin + 2); base = toNumber64(lo, c.read32(lin + 6)); }
  else base = i.opSize === 16 ? c.read32(lin + 2) & 0xffffff : c.read32(lin + 2);
  return [limit, base];
}

/** SMSW reads CR0; in VMX non-root operation host-owned bits read from the CR0 read shadow (SDM vol. 3C §26.3). */
function smswValue(c: Cpu, i: Insn): number {
  return c.vmx !== null ? c.vmx.crRead(c, i, 0, 0, c.cr0 >>> 0) : c.cr0 >>> 0;
}

/**
 * Descriptor-table exiting (SDM vol. 3C §26.1.3): reason 46 GDTR_IDTR or 47 LDTR_TR with the
 * instruction-information field (table 28-10/28-11: scaling 1:0, address size 9:7, reg/mem 10,
 * segment 17:15, index 21:18 + invalid 22, base 26:23 + invalid 27, identity 29:28).
 */
function dtExit(c: Cpu, i: Insn, reason: number, identity: number): void {
  if (c.vmx === null) return;
  const as = i.addrSize === 16 ? 0 : i.addrSize === 32 ? 1 : 2;
  const mem = i.mod !== 3;
  let info = (as << 7) | (mem ? 0 : 1 << 10) | (identity << 28);
  if (mem) {
    info |= i.scale | (i.seg << 15);
    info |= i.index >= 0 ? (i.index & 15) << 18 : 1 << 22;
    info |= i.base >= 0 ? (i.base & 15) << 23 : 1 << 27;
  } else info |= (i.rm & 15) << 3;
  c.vmx.descriptorTable(c, i, reason, info >>> 0);
}

function lmsw(c: Cpu, i: Insn, v: number): void {
  requireCpl0(c);
  // Loads PE, MP, EM, TS; cannot clear PE (SDM vol. 2A LMSW). Non-root: host-owned bits kept, or a CR_ACCESS exit.
  if (c.vmx !== null) c.cr0 = c.vmx.crSpecial(c, i, CR_LMSW, v & 0xffff);
  else c.cr0 = (c.cr0 & ~0xe) | (v & 0xf) | (c.cr0 & CR0_PE);
  c.updateMode();
}

H[MAP_0F + 0x01] = (c, i) => {
  const r = i.reg & 7;
  if (i.mod !== 3) {
    switch (r) {
      case 0: umipCheck(c); dtExit(c, i, 46, 0); storeTable(c, i, c.gdtrLimit, c.gdtrBase); return; // SGDT
      case 1: umipCheck(c); dtExit(c, i, 46, 1); storeTable(c, i, c.idtrLimit, c.idtrBase); return; // SIDT
      case 2: { requireCpl0(c); dtExit(c, i, 46, 2); const [l, b] = loadTable(c, i); c.gdtrLimit = l; c.gdtrBase = b; return; } // LGDT
      case 3: { requireCpl0(c); dtExit(c, i, 46, 3); const [l, b] = loadTable(c, i); c.idtrLimit = l; c.idtrBase = b; return; } // LIDT
      case 4: umipCheck(c); c.writeRM(i, 16, smswValue(c, i) & 0xffff, 0); return; // SMSW m16
      case 6: lmsw(c, i, c.readRM(i, 16)); return; // LMSW m16
      case 7: // INVLPG: never faults on the address; non-canonical is a NOP (SDM vol. 2A INVLPG).
        requireCpl0(c);
        if (c.vmx !== null) { const ea = c.ea(i); c.vmx.invlpg(c, i, c.codeSize === 64 ? (Number.isNaN(ea) ? 0 : ea) : (c.segBase[i.seg] + ea) >>> 0); }
        // The TLB holds 4 KiB pieces of large pages, so drop everything rather than one piece.
        c.flushTlb();
        return;
      default: c.raise(EXC_UD); // /5 memory: RSTORSSP (CET) not supported
    }
  }
  if (r === 4) { // SMSW r16/r32/r64
    umipCheck(c);
    c.setReg(i.rm, i.opSize, i.opSize === 16 ? smswValue(c, i) & 0xffff : smswValue(c, i), 0);
    return;
  }
  if (r === 6) { lmsw(c, i, c.getReg(i.rm, 16)); return; }
  if (i.mandatory === 0xf3 || i.mandatory === 0xf2) c.raise(EXC_UD); // CET/UINTR/FRED forms: not supported
  switch (i.modrm) {
    // VMX instructions (VMCALL C1, VMLAUNCH C2, VMRESUME C3, VMXOFF C4, VMFUNC D4): #UD outside VMX operation.
    // The VT-x work intercepts VMCALL in VMX non-root operation (an exit, SDM vol. 3C §26.1.2) before this runs.
    case 0xc1: case 0xc2: case 0xc3: case 0xc4: {
      // In VMX non-root operation these exit unconditionally (SDM vol. 3C §26.1.2): VMCALL 18,
      // VMLAUNCH 20, VMRESUME 24, VMXOFF 26. Outside VMX operation: #UD.
      if (c.vmx !== null && c.vmx.unconditional(c, i, i.modrm === 0xc1 ? 18 : i.modrm === 0xc2 ? 20 : i.modrm === 0xc3 ? 24 : 26)) return;
      c.raise(EXC_UD);
      break;
    }
    case 0xd4: c.raise(EXC_UD); break; // VMFUNC: "enable VM functions" is not supported
    // MONITOR/MWAIT: CPUID.1:ECX.MONITOR = 0, so #UD (SDM vol. 2B MONITOR).
    case 0xc8: case 0xc9:
      // In non-root operation MONITOR/MWAIT exiting decides first (a hypervisor can offer them by emulation,
      // SDM vol. 3C §26.1.3); without the control the instruction is #UD as CPUID reports no MONITOR.
      if (c.vmx !== null) c.vmx.monitorMwait(c, i, i.modrm === 0xc9);
      c.raise(EXC_UD);
      break;
    case 0xd0: { // XGETBV (SDM vol. 2C)
      if ((c.cr4 & CR4_OSXSAVE) === 0) c.raise(EXC_UD);
      if (c.lo[RCX] !== 0) c.raise(EXC_GP, 0);
      setEdxEax(c, BigInt(c.xcr0 >>> 0));
      return;
    }
    case 0xd1: { // XSETBV (SDM vol. 2C): x87 must stay enabled; only x87|SSE are supported.
      if ((c.cr4 & CR4_OSXSAVE) === 0) c.raise(EXC_UD);
      requireCpl0(c);
      if (c.vmx !== null && c.vmx.unconditional(c, i, 55)) return;
      const v = c.lo[RAX];
      if (c.lo[RCX] !== 0 || c.lo[RDX] !== 0 || (v & 1) === 0 || (v & ~XCR0_SUPPORTED) !== 0) c.raise(EXC_GP, 0);
      c.xcr0 = v;
      return;
    }
    case 0xf8: { // SWAPGS (64-bit mode only)
      if (c.codeSize !== 64) c.raise(EXC_UD);
      requireCpl0(c);
      const t = c.segBase[GS]; c.segBase[GS] = c.kernelGsBase; c.kernelGsBase = t;
      return;
    }
    case 0xf9: { // RDTSCP
      if (c.vmx !== null && !c.vmx.rdtscpAllowed(c)) c.raise(EXC_UD); // "enable RDTSCP" is 0 (SDM vol. 3C §26.3)
      rdtscCheck(c);
      const off = c.vmx !== null ? c.vmx.rdtsc(c, i, true) : 0;
      setEdxEax(c, BigInt.asUintN(64, tscValue(c) + BigInt(off)));
      c.setReg(RCX, 32, c.tscAux >>> 0, 0);
      return;
    }
    default: c.raise(EXC_UD); // CLAC/STAC (no SMAP), XEND/XTEST (no RTM), ENCLS/ENCLU, SERIALIZE, PKU, AMD SVM ...
  }
};

// ---------------------------------------------------------------- CLTS, INVD, WBINVD, RSM, GETSEC

H[MAP_0F + 0x06] = (c, i) => {
  requireCpl0(c);
  if (c.vmx !== null) c.cr0 = c.vmx.crSpecial(c, i, CR_CLTS, 0);
  else c.cr0 &= ~CR0_TS;
  c.heldEpoch++;
};
H[MAP_0F + 0x08] = (c, i) => { requireCpl0(c); if (c.vmx !== null && c.vmx.unconditional(c, i, 13)) return; /* INVD: caches are not modelled */ };
H[MAP_0F + 0x09] = (c, i) => { requireCpl0(c); if (c.vmx !== null) c.vmx.wbinvd(c, i); /* WBINVD */ };
H[MAP_0F + 0xaa] = (c) => c.raise(EXC_UD); // RSM outside SMM
H[MAP_0F + 0x37] = (c) => c.raise(EXC_UD); // GETSEC: CPUID.1:ECX.SMX = 0

// ---------------------------------------------------------------- SYSCALL / SYSRET (SDM vol. 2B)

const AR_FLAT_CODE = 0xb | AR_S | AR_P | AR_G;
const AR_FLAT_DATA = 0x3 | AR_S | AR_P | AR_G | AR_DB;

H[MAP_0F + 0x05] = (c) => {
  // Intel: SYSCALL is #UD outside 64-bit mode, and when IA32_EFER.SCE = 0.
  if (c.codeSize !== 64 || (c.efer & EFER_SCE) === 0) c.raise(EXC_UD);
  const flags = c.getFlags();
  c.setRegNumber(RCX, c.nextRip);
  c.setReg(R11, 64, flags, 0);
  const sel = Number((c.star >> 32n) & 0xffffn);
  c.setSegCache(SS, (sel + 8) & 0xffff, 0, 0xffffffff, AR_FLAT_DATA);
  c.setSegCache(CS, sel & 0xfffc, 0, 0xffffffff, AR_FLAT_CODE | AR_L);
  c.setFlags(flags & ~c.fmask & ~RF);
  c.updateMode();
  c.nextRip = c.lstar;
};

H[MAP_0F + 0x07] = (c, i) => {
  if (c.codeSize !== 64 || (c.efer & EFER_SCE) === 0) c.raise(EXC_UD);
  requireCpl0(c);
  const base = Number((c.star >> 48n) & 0xffffn);
  let rip: number;
  if (i.opSize === 64) {
    rip = c.regNumber(RCX);
    if (!isCanonicalNum(rip)) c.raise(EXC_GP, 0); // Intel checks RCX before changing state
    c.setSegCache(SS, ((base + 8) & 0xffff) | 3, 0, 0xffffffff, AR_FLAT_DATA | (3 << 5));
    c.setSegCache(CS, ((base + 16) & 0xffff) | 3, 0, 0xffffffff, AR_FLAT_CODE | AR_L | (3 << 5));
  } else {
    rip = c.lo[RCX];
    c.setSegCache(SS, ((base + 8) & 0xffff) | 3, 0, 0xffffffff, AR_FLAT_DATA | (3 << 5));
    c.setSegCache(CS, base | 3, 0, 0xffffffff, AR_FLAT_CODE | AR_DB | (3 << 5));
  }
  c.setFlags((c.lo[R11] & 0x3c7fd7) | 2);
  c.updateMode();
  c.nextRip = rip;
};

// ---------------------------------------------------------------- SYSENTER / SYSEXIT (SDM vol. 2B)

H[MAP_0F + 0x34] = (c) => {
  if (!protectedMode(c) || (c.sysenterCs & 0xfffc) === 0) c.raise(EXC_GP, 0);
  const long = longActive(c);
  const cs = c.sysenterCs & 0xfffc;
  c.setFlags(c.getFlags() & ~(VM | IF | RF));
  c.setSegCache(SS, (cs + 8) & 0xffff, 0, 0xffffffff, AR_FLAT_DATA);
  c.setSegCache(CS, cs, 0, 0xffffffff, AR_FLAT_CODE | (long ? AR_L : AR_DB));
  if (long) c.setRegNumber(RSP, c.sysenterEsp); else c.setReg(RSP, 32, c.sysenterEsp >>> 0, 0);
  c.updateMode();
  c.nextRip = long ? c.sysenterEip : c.sysenterEip >>> 0;
};

H[MAP_0F + 0x35] = (c, i) => {
  if (!protectedMode(c) || (c.sysenterCs & 0xfffc) === 0) c.raise(EXC_GP, 0);
  requireCpl0(c);
  const base = c.sysenterCs & 0xffff;
  let rip: number;
  if (i.opSize === 64) {
    rip = c.regNumber(RDX);
    if (!isCanonicalNum(rip) || !isCanonicalNum(c.regNumber(RCX))) c.raise(EXC_GP, 0);
    c.setRegNumber(RSP, c.regNumber(RCX));
    c.setSegCache(SS, ((base + 40) & 0xffff) | 3, 0, 0xffffffff, AR_FLAT_DATA | (3 << 5));
    c.setSegCache(CS, ((base + 32) & 0xffff) | 3, 0, 0xffffffff, AR_FLAT_CODE | AR_L | (3 << 5));
  } else {
    rip = c.lo[RDX];
    c.setReg(RSP, 32, c.lo[RCX], 0);
    c.setSegCache(SS, ((base + 24) & 0xffff) | 3, 0, 0xffffffff, AR_FLAT_DATA | (3 << 5));
    c.setSegCache(CS, ((base + 16) & 0xffff) | 3, 0, 0xffffffff, AR_FLAT_CODE | AR_DB | (3 << 5));
  }
  c.updateMode();
  c.nextRip = rip;
};

// ---------------------------------------------------------------- RDTSC, RDPMC, RDMSR, WRMSR, CPUID

/** CR4.TSD makes RDTSC/RDTSCP privileged (SDM vol. 2B RDTSC). */
function rdtscCheck(c: Cpu): void {
  if ((c.cr4 & CR4_TSD) !== 0 && c.cpl > 0) c.raise(EXC_GP, 0);
}
H[MAP_0F + 0x31] = (c, i) => {
  rdtscCheck(c);
  const off = c.vmx !== null ? c.vmx.rdtsc(c, i, false) : 0;
  setEdxEax(c, BigInt.asUintN(64, tscValue(c) + BigInt(off)));
};
// RDPMC: CPUID.0AH reports no counters, so every ECX names an invalid counter: #GP(0) (SDM vol. 2B RDPMC).
H[MAP_0F + 0x33] = (c, i) => {
  if ((c.cr4 & 0x100) === 0 && c.cpl > 0) c.raise(EXC_GP, 0); // CR4.PCE: the privilege check comes first
  if (c.vmx !== null) c.vmx.rdpmc(c, i);
  c.raise(EXC_GP, 0);
};
H[MAP_0F + 0x32] = (c, i) => {
  requireCpl0(c);
  if (c.vmx !== null && c.vmx.rdmsr(c, i, c.lo[RCX])) return;
  const v = readMsr(c, c.lo[RCX]);
  if (v === null) return c.raise(EXC_GP, 0);
  setEdxEax(c, v);
};
H[MAP_0F + 0x30] = (c, i) => {
  requireCpl0(c);
  if (c.vmx !== null && c.vmx.wrmsr(c, i, c.lo[RCX])) return;
  const v = (BigInt(c.lo[RDX]) << 32n) | BigInt(c.lo[RAX]);
  if (!writeMsr(c, c.lo[RCX], v)) c.raise(EXC_GP, 0);
};
H[MAP_0F + 0xa2] = (c, i) => {
  if (c.vmx !== null && c.vmx.unconditional(c, i, 10)) return; // CPUID always exits in non-root operation (SDM vol. 3C §26.1.2)
  const [a, b, cc, d] = cpuidModel(c, c.lo[RAX], c.lo[RCX]);
  c.setReg(RAX, 32, a >>> 0, 0); c.setReg(RBX, 32, b >>> 0, 0);
  c.setReg(RCX, 32, cc >>> 0, 0); c.setReg(RDX, 32, d >>> 0, 0);
};

// ---------------------------------------------------------------- MOV to/from control registers (SDM vol. 2B MOV CR, vol. 3A §2.5)

/** Write CR0 with the consistency checks; enabling paging with EFER.LME = 1 activates IA-32e mode (SDM vol. 3A §10.8.5). */
export function writeCr0(c: Cpu, lo: number, hi: number): void {
  if (hi !== 0) c.raise(EXC_GP, 0);
  const old = c.cr0;
  const n = (lo & CR0_DEFINED) | CR0_ET;
  if ((n & CR0_PG) !== 0 && (n & CR0_PE) === 0) c.raise(EXC_GP, 0);
  if ((n & CR0_NW) !== 0 && (n & CR0_CD) === 0) c.raise(EXC_GP, 0);
  let efer = c.efer;
  if ((n & CR0_PG) !== 0 && (old & CR0_PG) === 0 && (efer & EFER_LME) !== 0) {
    if ((c.cr4 & CR4_PAE) === 0 || (c.segAr[CS] & AR_L) !== 0) c.raise(EXC_GP, 0);
    efer |= EFER_LMA;
  }
  if ((n & CR0_PG) === 0 && (old & CR0_PG) !== 0 && (efer & EFER_LMA) !== 0) {
    if (c.codeSize === 64) c.raise(EXC_GP, 0); // paging cannot be disabled in 64-bit mode
    efer &= ~EFER_LMA;
  }
  c.efer = efer;
  c.cr0 = n;
  if (((old ^ n) & (CR0_PG | CR0_WP | CR0_PE)) !== 0) c.flushTlb();
  c.updateMode();
}

export function writeCr3(c: Cpu, lo: number, hi: number): void {
  if (longActive(c)) {
    // Bits 63:MAXPHYADDR are reserved (CR4.PCIDE is not supported, so bit 63 is too).
    if ((hi >>> (MAXPHYADDR - 32)) !== 0) c.raise(EXC_GP, 0);
    c.cr3 = hi * TWO32 + (lo >>> 0);
  } else c.cr3 = lo >>> 0;
  c.flushTlb();
  c.updateMode();
}

export function writeCr4(c: Cpu, lo: number, hi: number): void {
  if (hi !== 0 || (lo & ~CR4_SUPPORTED) !== 0) c.raise(EXC_GP, 0);
  if (longActive(c) && (lo & CR4_PAE) === 0) c.raise(EXC_GP, 0); // PAE cannot be cleared in IA-32e mode
  const old = c.cr4;
  c.cr4 = lo;
  if (((old ^ lo) & (CR4_PGE | CR4_PAE | CR4_PSE | CR4_SMEP)) !== 0) c.flushTlb();
  c.updateMode();
}

H[MAP_0F + 0x20] = (c, i) => { // MOV r, CRn
  requireCpl0(c);
  let v: number;
  switch (i.reg) {
    case 0: v = c.cr0 >>> 0; break;
    case 2: v = c.cr2; break;
    case 3: v = c.cr3; break;
    case 4: v = c.cr4 >>> 0; break;
    case 8: v = c.cr8 & 0xf; break; // CR8 = TPR[7:4] (SDM vol. 3A §10.8.6.1)
    default: return c.raise(EXC_UD);
  }
  // Non-root: CR3/CR8-store exiting, and read shadows for host-owned CR0/CR4 bits (SDM vol. 3C §26.1.3, §26.3).
  if (c.vmx !== null && i.reg !== 2) v = c.vmx.crRead(c, i, i.reg, i.rm, v);
  if (c.codeSize === 64) c.setRegNumber(i.rm, v);
  else c.setReg(i.rm, 32, v >>> 0, 0);
};

H[MAP_0F + 0x22] = (c, i) => { // MOV CRn, r
  requireCpl0(c);
  let lo = c.lo[i.rm];
  const hi = c.codeSize === 64 ? c.hi[i.rm] : 0;
  // Non-root: CR0/CR4 guest/host masks, CR3-load and CR8-load exiting (SDM vol. 3C §26.1.3).
  if (c.vmx !== null && i.reg !== 2 && i.reg <= 8) lo = c.vmx.crWrite(c, i, i.reg, i.rm, i.reg === 3 ? c.regNumber(i.rm) : lo) >>> 0;
  switch (i.reg) {
    case 0: writeCr0(c, lo, hi); return;
    case 2: c.cr2 = c.codeSize === 64 ? c.regNumber(i.rm) : lo; return;
    case 3: writeCr3(c, lo, hi); return;
    case 4: writeCr4(c, lo, hi); return;
    case 8:
      if (hi !== 0 || (lo & ~0xf) !== 0) c.raise(EXC_GP, 0);
      c.cr8 = lo & 0xf;
      return;
    default: c.raise(EXC_UD);
  }
};

// ---------------------------------------------------------------- MOV to/from debug registers (SDM vol. 3B §18.2)

/** DR4/DR5 alias DR6/DR7 unless CR4.DE (then #UD); DR7.GD makes any access a #DB with DR6.BD set. */
function debugRegister(c: Cpu, n: number): number {
  requireCpl0(c);
  if (n === 4 || n === 5) {
    if ((c.cr4 & CR4_DE) !== 0) c.raise(EXC_UD);
    n += 2;
  }
  if ((c.dr[7] & 0x2000) !== 0) {
    c.dr[6] = (c.dr[6] | 0x2000) >>> 0; // BD
    c.dr[7] = (c.dr[7] & ~0x2000) >>> 0; // GD is cleared when #DB is delivered
    c.raise(EXC_DB);
  }
  return n;
}
H[MAP_0F + 0x21] = (c, i) => { // MOV r, DRn
  if (c.vmx !== null) { requireCpl0(c); c.vmx.movDr(c, i, i.reg, i.rm, false); }
  const n = debugRegister(c, i.reg);
  const v = c.dr[n];
  if (c.codeSize === 64) c.setRegNumber(i.rm, v); else c.setReg(i.rm, 32, v >>> 0, 0);
};
H[MAP_0F + 0x23] = (c, i) => { // MOV DRn, r (breakpoint matching on DR0-3/DR7 is not modelled: the values are stored)
  if (c.vmx !== null) { requireCpl0(c); c.vmx.movDr(c, i, i.reg, i.rm, true); }
  const n = debugRegister(c, i.reg);
  const lo = c.lo[i.rm], hi = c.codeSize === 64 ? c.hi[i.rm] : 0;
  if (n < 4) { c.dr[n] = c.codeSize === 64 ? c.regNumber(i.rm) : lo; return; }
  if (hi !== 0) c.raise(EXC_GP, 0); // DR6/DR7 bits 63:32 must be 0
  if (n === 6) c.dr[6] = ((lo & 0xe00f) | 0xffff0ff0) >>> 0;
  else c.dr[7] = ((lo & 0xffff2bff) | 0x400) >>> 0;
};

// ---------------------------------------------------------------- 0F C7 members other than CMPXCHG8B/16B

setSysGroupC7((c, i) => {
  // VMPTRLD/VMCLEAR/VMXON (/6 m64), VMPTRST (/7 m64): exit in VMX non-root operation (reasons 21, 19, 27, 22;
  // SDM vol. 3C §26.1.2); #UD outside VMX operation (the hypervisor is software and uses the Vmx API).
  if (c.vmx !== null && i.mod !== 3 && (i.reg & 7) >= 6) {
    const r = i.reg & 7;
    if (c.vmx.unconditional(c, i, r === 7 ? 22 : i.mandatory === 0x66 ? 19 : i.mandatory === 0xf3 ? 27 : 21)) return;
  }
  // RDRAND (/6), RDSEED (/7), RDPID (F3 /7): not enumerated by CPUID, so #UD.
  // XRSTORS/XSAVEC/XSAVES (/3 /4 /5): CPUID.(EAX=0DH,ECX=1) reports none of them.
  c.raise(EXC_UD);
});

// Referenced for readers: constants that describe behaviour documented above.
void [CR0_EM, CR0_MP, CR0_NE];

// VMREAD (0F 78) / VMWRITE (0F 79) and INVEPT / INVVPID (66 0F 38 80/81): VM exits in non-root operation
// (reasons 23, 25, 50, 53; SDM vol. 3C §26.1.2); #UD outside VMX operation.
H[MAP_0F + 0x78] = (c, i) => { if (c.vmx !== null && i.mandatory === 0 && c.vmx.unconditional(c, i, 23)) return; c.raise(EXC_UD); };
H[MAP_0F + 0x79] = (c, i) => { if (c.vmx !== null && i.mandatory === 0 && c.vmx.unconditional(c, i, 25)) return; c.raise(EXC_UD); };
H[MAP_0F38 + 0x80] = (c, i) => { if (c.vmx !== null && i.mandatory === 0x66 && i.mod !== 3 && c.vmx.unconditional(c, i, 50)) return; c.raise(EXC_UD); };
H[MAP_0F38 + 0x81] = (c, i) => { if (c.vmx !== null && i.mandatory === 0x66 && i.mod !== 3 && c.vmx.unconditional(c, i, 53)) return; c.raise(EXC_UD); };
