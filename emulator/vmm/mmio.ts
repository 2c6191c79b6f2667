// MMIO emulation for EPT violations: decode the guest's faulting instruction and perform its access on a device, like KVM's x86 emulator.
import { decode } from '../cpu/decode.js';
import { Insn, MAP_0F, RAX } from '../cpu/insn.js';
import { Cpu } from '../cpu/cpu.js';
import { alu } from '../cpu/exec-int.js';
import { PhysicalMemory } from '../mem/physmem.js';
import { STATUS_FLAGS } from '../cpu/regs.js';

/**
 * A private processor used only as an ALU: read-modify-write instructions on MMIO compute their
 * result and flags with exactly the processor's semantics (then the guest's RFLAGS are updated).
 */
const aluCpu = new Cpu(new PhysicalMemory(4096), { ioRead: () => 0, ioWrite: () => { /* none */ }, findMmio: () => null });

/** ALU operation (0 ADD .. 7 CMP) on `size`-bit values; returns [result, status flags]. */
function aluOp(op: number, size: number, a: bigint, b: bigint, cfIn: boolean): [bigint, number] {
  aluCpu.setFlags(cfIn ? 3 : 2);
  const lo = alu(aluCpu, op, size, Number(a & 0xffffffffn), Number((a >> 32n) & 0xffffffffn), Number(b & 0xffffffffn), Number((b >> 32n) & 0xffffffffn));
  const hi = aluCpu.vh;
  return [(BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0), aluCpu.getFlags() & STATUS_FLAGS];
}
import type { VcpuApi, GprName } from './api.js';
import { GPR_NAMES } from './api.js';

/** How the emulator reaches devices at guest-physical addresses. */
export interface MmioBus {
  findMmio(addr: number): { dev: { mmioRead(offset: number, size: 1 | 2 | 4): number; mmioWrite(offset: number, size: 1 | 2 | 4, value: number): void }; base: number } | null;
}

export type MmioResult = { ok: true; note: string } | { ok: false; reason: string };

function reg(vcpu: VcpuApi, r: number): bigint {
  return vcpu.reg(GPR_NAMES[r] as GprName);
}

/** Byte register with the AH..BH rule: registers 4..7 without REX are AH, CH, DH, BH. */
function getReg8(vcpu: VcpuApi, r: number, rex: number): number {
  if (r < 4 || rex !== 0) return Number(reg(vcpu, r) & 0xffn);
  return Number((reg(vcpu, r - 4) >> 8n) & 0xffn);
}

function setRegSized(vcpu: VcpuApi, r: number, size: number, value: bigint, rex: number): void {
  if (size === 8) {
    if (r < 4 || rex !== 0) vcpu.setReg(GPR_NAMES[r], (reg(vcpu, r) & ~0xffn) | (value & 0xffn));
    else vcpu.setReg(GPR_NAMES[r - 4], (reg(vcpu, r - 4) & ~0xff00n) | ((value & 0xffn) << 8n));
  } else if (size === 16) vcpu.setReg(GPR_NAMES[r], (reg(vcpu, r) & ~0xffffn) | (value & 0xffffn));
  else if (size === 32) vcpu.setReg(GPR_NAMES[r], value & 0xffffffffn); // 32-bit destinations zero-extend
  else vcpu.setReg(GPR_NAMES[r], BigInt.asUintN(64, value));
}

/** The low 32 bits of a guest register as a number (no BigInt). */
function low32(vcpu: VcpuApi, r: number): number {
  return vcpu.gpr32(r) >>> 0;
}

/** A register operand of 8, 16 or 32 bits as a number (AH..BH rule for bytes without REX). */
function regOperand(vcpu: VcpuApi, r: number, size: number, rex: number): number {
  if (size === 8) return r < 4 || rex !== 0 ? low32(vcpu, r) & 0xff : (low32(vcpu, r - 4) >>> 8) & 0xff;
  return size === 16 ? low32(vcpu, r) & 0xffff : low32(vcpu, r);
}

/** setRegSized for a value of at most 32 bits given as an unsigned number (32- and 64-bit destinations zero-extend it). */
function setRegNumber(vcpu: VcpuApi, r: number, size: number, value: number, rex: number): void {
  if (size === 32 || size === 64) {
    vcpu.setGpr32(r, value >>> 0); // bits 63:32 cleared, as setReg of the zero-extended value
    return;
  }
  const target = size === 8 && r >= 4 && rex === 0 ? r - 4 : r;
  const old = vcpu.reg(GPR_NAMES[target]);
  if (old > 0xffffffffn) {
    setRegSized(vcpu, r, size, BigInt(value), rex);
    return;
  }
  const o = Number(old);
  const merged = size === 16 ? (o & ~0xffff) | (value & 0xffff) : target !== r ? (o & ~0xff00) | ((value & 0xff) << 8) : (o & ~0xff) | (value & 0xff);
  vcpu.setReg(GPR_NAMES[target], merged >>> 0);
}

/**
 * access() for 1, 2 or 4 bytes with number values (no BigInt): one device access, or all ones / dropped when
 * unassigned. Returns the value read (the value written for a write); the exit-log note goes to `accessNote`.
 */
function accessNumber(bus: MmioBus, gpa: number, bytes: 1 | 2 | 4, write: boolean, value: number): number {
  const v = deviceAccess(bus, gpa, bytes, write, value);
  if (v === null) {
    accessNote = accessNoteText(gpa, bytes, write, -1);
    return bytes === 4 ? 0xffffffff : bytes === 2 ? 0xffff : 0xff;
  }
  accessNote = accessNoteText(gpa, bytes, write, v);
  return v;
}
let accessNote = '';

/**
 * The exit-log note of one access (`value` -1: unassigned space), from a small cache of recent notes: a driver
 * touches the same registers with the same values over and over (QueueNotify 0, InterruptStatus 1, InterruptACK 1),
 * and building the text each time was a string allocation per exit.
 */
function accessNoteText(gpa: number, bytes: number, write: boolean, value: number): string {
  const tag = (value + 1) * 16 + bytes * 2 + (write ? 1 : 0); // exact: value < 2^32
  const k = ((gpa >>> 2) ^ (value & 0xffff) ^ (write ? 0x55 : 0)) & (NOTE_CACHE - 1);
  if (noteGpa[k] === gpa && noteTag[k] === tag) return noteText[k];
  const text = value < 0
    ? `${write ? 'write to' : 'read of'} unassigned ${hexAddress(gpa)}: ${write ? 'dropped' : 'all ones'}`
    : `mmio ${write ? 'write' : 'read'} ${hexAddress(gpa)} = ${value < 256 ? HEX_BYTE[value] : '0x' + value.toString(16)} (${bytes} bytes)`;
  noteGpa[k] = gpa; noteTag[k] = tag; noteText[k] = text;
  return text;
}
const NOTE_CACHE = 256;
const noteGpa = new Float64Array(NOTE_CACHE).fill(-1);
const noteTag = new Float64Array(NOTE_CACHE);
const noteText: string[] = new Array<string>(NOTE_CACHE).fill('');

/** "0x0" .. "0xff", and the hex text of recently accessed register addresses (formatting a number is slow next to a device access). */
const HEX_BYTE = Array.from({ length: 256 }, (_, v) => '0x' + v.toString(16));
const hexAddrKey = new Float64Array(64).fill(-1);
const hexAddrText: string[] = new Array<string>(64).fill('');
function hexAddress(a: number): string {
  const k = (a >>> 2) & 63;
  if (hexAddrKey[k] === a) return hexAddrText[k];
  hexAddrKey[k] = a;
  return (hexAddrText[k] = '0x' + a.toString(16));
}

/** A device access of 1, 2 or 4 bytes; null when no device decodes `gpa` (unassigned). */
function deviceAccess(bus: MmioBus, gpa: number, size: 1 | 2 | 4, write: boolean, value: number): number | null {
  const hit = bus.findMmio(gpa);
  if (hit === null) return null;
  if (write) { hit.dev.mmioWrite(gpa - hit.base, size, value >>> 0); return value; }
  return hit.dev.mmioRead(gpa - hit.base, size) >>> 0;
}

/**
 * An access of `bytes` (1..8) at guest-physical `gpa` outside RAM, in device-sized pieces from the lowest address
 * (an 8-byte access is two 4-byte accesses, a 3-byte one 2 + 1: the platform's bus convention). Unassigned space
 * reads as all ones and drops writes, as on a PC (master abort).
 */
function access(bus: MmioBus, vcpu: VcpuApi, gpa: number, bytes: number, write: boolean, value: bigint): { value: bigint; note: string } {
  const where = `0x${gpa.toString(16)}`;
  if (bus.findMmio(gpa) === null) {
    return { value: (1n << BigInt(bytes * 8)) - 1n, note: `${write ? 'write to' : 'read of'} unassigned ${where}: ${write ? 'dropped' : 'all ones'}` };
  }
  let got = 0n;
  for (let done = 0; done < bytes;) {
    const size = bytes - done >= 4 ? 4 : bytes - done >= 2 ? 2 : 1;
    const part = Number((value >> BigInt(8 * done)) & ((1n << BigInt(8 * size)) - 1n));
    const v = deviceAccess(bus, gpa + done, size, write, part);
    got |= BigInt(v ?? (2 ** (8 * size) - 1)) << BigInt(8 * done);
    done += size;
  }
  void vcpu;
  if (write) return { value, note: `mmio write ${where} = 0x${value.toString(16)} (${bytes} bytes)` };
  return { value: got, note: `mmio read ${where} = 0x${got.toString(16)} (${bytes} bytes)` };
}

/**
 * The access of `bytes` at guest-linear `lin`, which faulted at `gpa`. An access that crosses a page boundary is
 * split there, as the processor splits it: the part in guest RAM is read or written in RAM and only the other part
 * goes to the device, with its own size (what KVM's emulator does, emulator_read_write_onepage). `lin` is null when
 * the operand's address is not known; then the whole access goes to `gpa`.
 */
function spanAccess(bus: MmioBus, vcpu: VcpuApi, gpa: number, lin: number | null, bytes: number, write: boolean, value: bigint): { value: bigint; note: string } {
  const first = lin === null ? bytes : 4096 - (((lin % 4096) + 4096) % 4096);
  if (first >= bytes || lin === null) return access(bus, vcpu, gpa, bytes, write, value);
  const parts: Array<{ gpa: number; off: number; n: number }> = [
    { gpa: vcpu.translate(lin), off: 0, n: first },
    { gpa: vcpu.translate(lin + first), off: first, n: bytes - first },
  ];
  // The faulting address must be the start of one part (else the operand's address is not what faulted: no split).
  if (parts.some((p) => p.gpa < 0) || !parts.some((p) => p.gpa === gpa)) return access(bus, vcpu, gpa, bytes, write, value);
  let got = 0n;
  const notes: string[] = [];
  for (const p of parts) {
    const mask = (1n << BigInt(8 * p.n)) - 1n;
    const partValue = (value >> BigInt(8 * p.off)) & mask;
    if (vcpu.isRam(p.gpa)) {
      if (write) {
        const out = new Uint8Array(p.n);
        for (let k = 0; k < p.n; k++) out[k] = Number((partValue >> BigInt(8 * k)) & 0xffn);
        vcpu.writeGuestPhysical(p.gpa, out);
      } else {
        const ram = vcpu.readGuestPhysical(p.gpa, p.n);
        let v = 0n;
        for (let k = p.n - 1; k >= 0; k--) v = (v << 8n) | BigInt(ram[k]);
        got |= v << BigInt(8 * p.off);
      }
      notes.push(`${p.n} byte(s) ${write ? 'to' : 'from'} RAM at 0x${p.gpa.toString(16)}`);
    } else {
      const r = access(bus, vcpu, p.gpa, p.n, write, partValue);
      got |= r.value << BigInt(8 * p.off);
      notes.push(r.note);
    }
  }
  return { value: write ? value : got, note: `access split at a page boundary: ${notes.join('; ')}` };
}

/** The linear address of the instruction's memory operand (SDM vol. 1 §3.7.5) from the guest's registers; null without one. */
function operandLinear(vcpu: VcpuApi, i: Insn, mode: number, nextRip: number): number | null {
  const moffs = i.opcode >= 0xa0 && i.opcode <= 0xa3;
  if (!moffs && (!i.hasModrm || i.mod === 3)) return null;
  if (mode !== 64 && i.addrSize !== 64) {
    // 16- and 32-bit addressing in numbers: the sum is exact in a double and wraps by the address size.
    let ea = i.disp;
    if (moffs) ea = i.disp >>> 0;
    else {
      if (i.base >= 0) ea += low32(vcpu, i.base);
      if (i.index >= 0) ea += low32(vcpu, i.index) * (1 << i.scale);
    }
    ea = i.addrSize === 16 ? ea & 0xffff : ea >>> 0;
    const base = vcpu.vmread(SEG_BASE[i.seg]);
    return (ea + (base <= 0xffffffffn ? Number(base) : Number(BigInt.asUintN(32, base)))) % 4294967296;
  }
  const mask = (1n << BigInt(i.addrSize)) - 1n;
  let ea: bigint;
  if (moffs) ea = (BigInt(i.dispHi >>> 0) << 32n) | BigInt(i.disp >>> 0);
  else {
    ea = BigInt(i.disp);
    if (i.ripRel) ea += BigInt(nextRip);
    if (i.base >= 0) ea += reg(vcpu, i.base);
    if (i.index >= 0) ea += reg(vcpu, i.index) << BigInt(i.scale);
  }
  ea &= mask;
  const base = mode === 64 && i.seg < 4 ? 0n : vcpu.vmread(SEG_BASE[i.seg]);
  const lin = ea + base;
  return mode === 64 ? Number(BigInt.asIntN(64, lin)) : Number(lin & 0xffffffffn);
}
const SEG_BASE = ['GUEST_ES_BASE', 'GUEST_CS_BASE', 'GUEST_SS_BASE', 'GUEST_DS_BASE', 'GUEST_FS_BASE', 'GUEST_GS_BASE'] as const;

/**
 * Bits 11:0 of the linear address of the instruction's memory operand (SDM vol. 1 §3.7.5), all that decides whether
 * the access crosses a page, from the registers' low words (the bits above cannot carry into them: the address is a
 * sum, wrapped at 16, 32 or 64 bits); -1 without a memory operand. operandLinear without BigInt for the fast path.
 */
function operandPageOffset(vcpu: VcpuApi, i: Insn, mode: number, nextRip: number): number {
  const moffs = i.opcode >= 0xa0 && i.opcode <= 0xa3;
  if (!moffs && (!i.hasModrm || i.mod === 3)) return -1;
  let ea = i.disp & 0xfff;
  if (!moffs) {
    if (i.ripRel) ea += nextRip & 0xfff; // & on an integer below 2^53 in magnitude: its two's-complement low bits
    if (i.base >= 0) ea += low32(vcpu, i.base) & 0xfff;
    if (i.index >= 0) ea += (low32(vcpu, i.index) & 0xfff) * (1 << i.scale);
  }
  if (mode !== 64 || i.seg >= 4) ea += vcpu.vmread32(SEG_BASE[i.seg]) & 0xfff; // 64-bit mode: only FS and GS have a base
  return ea & 0xfff;
}

/**
 * Decoded instructions by guest code bytes: a driver touches its device registers from the same few instructions,
 * so each is decoded once. An entry is used only when the bytes the decoder read for it (as fetchInsnByte gave them:
 * zeros past the fetched ones) and the code size are the same now, so it is never stale: a guest that rewrites the
 * instruction (self-modifying code), or another instruction at the same RIP, is decoded anew. Entries are placed by
 * RIP (a direct-mapped table of MEMO_SIZE); the key is the bytes. No allocation after the first decode of a slot.
 */
const MEMO_SIZE = 16;
const memoInsn: Insn[] = Array.from({ length: MEMO_SIZE }, () => new Insn());
/** Code size of the entry (0: empty). */
const memoMode = new Uint8Array(MEMO_SIZE);
/** How many bytes the decoder read for the entry, and those bytes (15 per entry). */
const memoLen = new Uint8Array(MEMO_SIZE);
const memoBytes = new Uint8Array(MEMO_SIZE * 15);
/** Decodes (or misses) since the module was loaded: for the tests. */
export const mmioDecodeStats = { decodes: 0, hits: 0 };

/** The decoded instruction in insnBytes[0 .. insnCount) for code size `mode`, from the memo or decoded now; null when decoding fails. */
function decodeMemo(rip: number, mode: 16 | 32 | 64): Insn | null {
  const slot = ((rip | 0) ^ ((rip | 0) >>> 4)) & (MEMO_SIZE - 1);
  const at = slot * 15;
  if (memoMode[slot] === mode) {
    const n = memoLen[slot];
    let k = 0;
    while (k < n && (k < insnCount ? insnBytes[k] : 0) === memoBytes[at + k]) k++;
    if (k === n) { mmioDecodeStats.hits++; return memoInsn[slot]; }
  }
  const target = memoInsn[slot];
  memoMode[slot] = 0;
  fetchedMax = 0;
  try {
    decode(target, fetchInsnByte, mode);
  } catch {
    return null;
  }
  mmioDecodeStats.decodes++;
  const n = Math.min(fetchedMax, 15);
  for (let k = 0; k < n; k++) memoBytes[at + k] = k < insnCount ? insnBytes[k] : 0;
  memoLen[slot] = n;
  memoMode[slot] = mode; // the decoder reads at most 15 bytes (SDM vol. 2A §2.1: the longest instruction), all in the key
  return target;
}

/**
 * The instruction in `bytes[0 .. count)` (at most 15 used; zeros read past them) at `rip` for code size `mode`, through
 * the same memo as emulateMmio, so that the exit log's decode of an EPT violation's instruction and the emulation's
 * share one decode. The Insn is the memo's: read it at once, never change or keep it. Null when decoding fails.
 */
export function decodeInstructionCached(bytes: Uint8Array, count: number, rip: number, mode: 16 | 32 | 64): Insn | null {
  insnBytes = bytes;
  insnCount = Math.min(count, bytes.length, 15);
  return decodeMemo(rip, mode);
}

/** The bytes of the instruction at CS:RIP when the caller has already read them (e.g. for the exit log). */
export interface FetchedInstruction {
  /** At most 15 bytes from CS:RIP: fewer only where the rest is not mapped (then as many as readGuestVirtual gives). */
  bytes: Uint8Array;
  /** How many of `bytes` are valid (>= 1). */
  length: number;
  /** GUEST_RIP and the code size (16, 32 or 64) the bytes were read for, when the caller has them (else read from the VMCS). */
  rip?: number;
  mode?: 16 | 32 | 64;
}

/**
 * Emulate the instruction at guest RIP that touched `gpa`. Supports the moves guests and
 * drivers use for device registers: MOV to/from r/m (88/89/8A/8B), MOV imm (C6/C7), MOV
 * moffs (A0–A3), MOVZX/MOVSX (0F B6/B7/BE/BF). Anything else is reported, not guessed.
 * `fetched`: the instruction's bytes when the caller already has them (else they are read through the guest's
 * page tables here), with GUEST_RIP and the code size they were read for when it has those too. A successful result
 * is one reused object, valid until the next call.
 */
export function emulateMmio(vcpu: VcpuApi, bus: MmioBus, gpa: number, fetched?: FetchedInstruction): MmioResult {
  let rip: number, mode: 16 | 32 | 64;
  if (fetched?.mode !== undefined && fetched.rip !== undefined) { rip = fetched.rip; mode = fetched.mode; }
  else {
    // VMCS reads as numbers (no BigInt): RIP signed (exact for canonical addresses), the mode's three fields' low words.
    rip = vcpu.vmreadNumber('GUEST_RIP');
    const ar = vcpu.vmread32('GUEST_CS_AR_BYTES');
    const efer = vcpu.vmread32('GUEST_IA32_EFER');
    const cr0 = vcpu.vmread32('GUEST_CR0');
    mode = (efer & 0x400) !== 0 && (ar & (1 << 13)) !== 0 ? 64 : (cr0 & 1) !== 0 && (ar & (1 << 14)) !== 0 ? 32 : 16;
  }
  let bytes: Uint8Array | null;
  if (fetched !== undefined && fetched.length > 0) {
    bytes = fetched.bytes;
    insnCount = Math.min(fetched.length, bytes.length, 15);
  } else {
    const csBase = mode === 64 ? 0 : vcpu.vmreadNumber('GUEST_CS_BASE');
    bytes = vcpu.readGuestVirtual(csBase + rip, 15) ?? vcpu.readGuestVirtual(csBase + rip, 1);
    if (bytes === null) return { ok: false, reason: `cannot read the instruction at rip=0x${rip.toString(16)}` };
    insnCount = bytes.length;
  }
  insnBytes = bytes;
  const memo = decodeMemo(rip, mode);
  if (memo === null) return { ok: false, reason: 'instruction decode failed' };
  const i = memo;
  const op = i.opcode;
  const next = rip + i.length;
  // The common device-register move: only the operand's page offset is needed (does it cross a page?), in numbers.
  if (moveNumber(vcpu, bus, gpa, operandPageOffset(vcpu, i, mode, next), i)) {
    vcpu.vmwriteNumber('GUEST_RIP', next);
    return succeeded(accessNote);
  }
  const lin = operandLinear(vcpu, i, mode, next);
  const full = (o: number) => ((o & 1) === 0 ? 8 : i.opSize);
  let result: { value: bigint; note: string };
  switch (op) {
    case 0x88: case 0x89: { // MOV r/m, r
      const s = full(op);
      const v = s === 8 ? BigInt(getReg8(vcpu, i.reg, i.rex)) : reg(vcpu, i.reg) & ((1n << BigInt(s)) - 1n);
      result = spanAccess(bus, vcpu, gpa, lin, s / 8, true, v);
      break;
    }
    case 0xc6: case 0xc7: { // MOV r/m, imm
      const s = full(op);
      const v = BigInt.asUintN(s, BigInt(i.imm));
      result = spanAccess(bus, vcpu, gpa, lin, s / 8, true, v);
      break;
    }
    case 0x8a: case 0x8b: { // MOV r, r/m
      const s = full(op);
      result = spanAccess(bus, vcpu, gpa, lin, s / 8, false, 0n);
      setRegSized(vcpu, i.reg, s, result.value, i.rex);
      break;
    }
    case 0xa0: case 0xa1: { // MOV AL/eAX, moffs
      const s = full(op);
      result = spanAccess(bus, vcpu, gpa, lin, s / 8, false, 0n);
      setRegSized(vcpu, RAX, s, result.value, 0);
      break;
    }
    case 0xa2: case 0xa3: { // MOV moffs, AL/eAX
      const s = full(op);
      result = spanAccess(bus, vcpu, gpa, lin, s / 8, true, reg(vcpu, RAX) & ((1n << BigInt(s)) - 1n));
      break;
    }
    case MAP_0F + 0xb6: case MAP_0F + 0xb7: case MAP_0F + 0xbe: case MAP_0F + 0xbf: { // MOVZX / MOVSX
      const src = (op & 1) === 0 ? 8 : 16;
      result = spanAccess(bus, vcpu, gpa, lin, src / 8, false, 0n);
      const v = op >= MAP_0F + 0xbe ? BigInt.asUintN(64, BigInt.asIntN(src, result.value)) : result.value;
      setRegSized(vcpu, i.reg, i.opSize, v, i.rex);
      break;
    }
    case 0xaa: case 0xab: case 0xa4: case 0xa5: { // STOS / MOVS with MMIO on either side
      const done = emulateString(vcpu, bus, i, mode);
      if (typeof done === 'string') return { ok: false, reason: done };
      // Not finished: RIP stays, the guest re-executes the instruction and exits again.
      if (!done.finished) return succeeded(done.note);
      result = { value: 0n, note: done.note };
      break;
    }
    default: {
      const rmw = emulateAlu(vcpu, bus, gpa, lin, i);
      if (rmw !== null) { result = rmw; break; }
      const hex = Array.from(bytes.subarray(0, Math.min(insnCount, Math.max(1, i.length))), (b) => b.toString(16).padStart(2, '0')).join(' ');
      return { ok: false, reason: `MMIO access at 0x${gpa.toString(16)} by an instruction the MMIO emulator does not handle (${hex})` };
    }
  }
  vcpu.vmwriteNumber('GUEST_RIP', next);
  return succeeded(result.note);
}

/** The success result, one object reused (emulateMmio's caller reads it before the next exit). */
const OK_RESULT: { ok: true; note: string } = { ok: true, note: '' };
function succeeded(note: string): MmioResult {
  OK_RESULT.note = note;
  return OK_RESULT;
}

/** The instruction bytes emulateMmio decodes (module-level so that decoding allocates no closure). */
let insnBytes: Uint8Array = new Uint8Array(0);
let insnCount = 0;
/** One past the highest offset the decoder asked for (the memo's key length). */
let fetchedMax = 0;
function fetchInsnByte(k: number): number {
  if (k >= fetchedMax) fetchedMax = k + 1;
  return k < insnCount ? insnBytes[k] : 0;
}

/**
 * The MOV forms (88/89/8A/8B, C6/C7, A0-A3, MOVZX/MOVSX) with a memory operand of 1, 2 or 4 bytes that does not
 * cross a page, in numbers: the common device-register access. Same semantics as the general cases below; false
 * when the instruction is not such a move (nothing done then). `pageOffset`: bits 11:0 of the operand's linear
 * address (operandPageOffset), -1 when not known.
 */
function moveNumber(vcpu: VcpuApi, bus: MmioBus, gpa: number, pageOffset: number, i: Insn): boolean {
  const op = i.opcode;
  let size: number;
  if (op === 0x88 || op === 0x8a || op === 0xc6 || op === 0xa0 || op === 0xa2 || op === MAP_0F + 0xb6 || op === MAP_0F + 0xbe) size = 8;
  else if (op === 0x89 || op === 0x8b || op === 0xc7 || op === 0xa1 || op === 0xa3) size = i.opSize;
  else if (op === MAP_0F + 0xb7 || op === MAP_0F + 0xbf) size = 16;
  else return false;
  if (size > 32) return false;
  const bytes = (size / 8) as 1 | 2 | 4;
  if (pageOffset >= 0 && 4096 - pageOffset < bytes) return false; // crosses a page: spanAccess splits it
  const mask = size === 32 ? 0xffffffff : (1 << size) - 1;
  switch (op) {
    case 0x88: case 0x89: // MOV r/m, r
      accessNumber(bus, gpa, bytes, true, regOperand(vcpu, i.reg, size, i.rex));
      return true;
    case 0xc6: case 0xc7: // MOV r/m, imm
      accessNumber(bus, gpa, bytes, true, (i.imm & mask) >>> 0);
      return true;
    case 0xa2: case 0xa3: // MOV moffs, AL/eAX
      accessNumber(bus, gpa, bytes, true, (low32(vcpu, RAX) & mask) >>> 0);
      return true;
    case 0x8a: case 0x8b: // MOV r, r/m
      setRegNumber(vcpu, i.reg, size, accessNumber(bus, gpa, bytes, false, 0), i.rex);
      return true;
    case 0xa0: case 0xa1: // MOV AL/eAX, moffs
      setRegNumber(vcpu, RAX, size, accessNumber(bus, gpa, bytes, false, 0), 0);
      return true;
    default: { // MOVZX / MOVSX
      const v = accessNumber(bus, gpa, bytes, false, 0);
      if (op < MAP_0F + 0xbe || (v & (1 << (size - 1))) === 0) setRegNumber(vcpu, i.reg, i.opSize, v, i.rex);
      else if (i.opSize === 64) setRegSized(vcpu, i.reg, 64, BigInt.asUintN(64, BigInt((v << (32 - size)) >> (32 - size))), i.rex);
      else setRegNumber(vcpu, i.reg, i.opSize, ((v << (32 - size)) >> (32 - size)) & (i.opSize === 16 ? 0xffff : 0xffffffff), i.rex);
      return true;
    }
  }
}

/** Replace the status flags of the guest's RFLAGS. */
function setStatus(vcpu: VcpuApi, flags: number): void {
  const rf = vcpu.reg('rflags');
  vcpu.setReg('rflags', (rf & ~BigInt(STATUS_FLAGS)) | BigInt(flags));
}

/**
 * Arithmetic and logic on a memory operand at an MMIO address (read, compute, write back),
 * as KVM's emulator does: ALU ops with r/m destination (00–3F forms 0/1, 80/81/83), register
 * destinations reading MMIO (forms 2/3), TEST (84/85, F6/F7 /0), NOT/NEG (F6/F7 /2 /3) and
 * INC/DEC (FE/FF /0 /1). Flags come from the processor's own ALU. Null: not such an instruction.
 */
function emulateAlu(vcpu: VcpuApi, bus: MmioBus, gpa: number, lin: number | null, i: Insn): { value: bigint; note: string } | null {
  const op = i.opcode;
  if (op >= 0x100 || i.mod === 3) return null;
  const size = (op & 1) === 0 ? 8 : i.opSize;
  const bytes = size / 8;
  const regVal = (): bigint => (size === 8 ? BigInt(getReg8(vcpu, i.reg, i.rex)) : reg(vcpu, i.reg) & ((1n << BigInt(size)) - 1n));
  const imm = (): bigint => BigInt.asUintN(size, BigInt(i.imm));
  const cf = (vcpu.reg('rflags') & 1n) !== 0n;
  let aluOpNum = -1, src = 0n, writeBack = true, toReg = false;
  if (op < 0x40 && (op & 7) < 4) {
    aluOpNum = op >>> 3;
    if ((op & 2) === 0) src = regVal(); // r/m, reg: memory is the destination
    else { toReg = true; writeBack = false; }
  } else if (op === 0x80 || op === 0x81 || op === 0x83) {
    aluOpNum = i.reg & 7; src = imm();
  } else if (op === 0x84 || op === 0x85) {
    aluOpNum = 4; src = regVal(); writeBack = false;
  } else if (op === 0xf6 || op === 0xf7) {
    const r = i.reg & 7;
    if (r === 0 || r === 1) { aluOpNum = 4; src = imm(); writeBack = false; }
    else if (r === 2 || r === 3) aluOpNum = 8 + r; // 10 NOT, 11 NEG
    else return null;
  } else if (op === 0xfe || op === 0xff) {
    const r = i.reg & 7;
    if (r > 1) return null;
    aluOpNum = 16 + r; // 16 INC, 17 DEC
  } else return null;
  if (aluOpNum === 7) writeBack = false; // CMP
  const read = spanAccess(bus, vcpu, gpa, lin, bytes, false, 0n);
  let res: bigint, flags: number | null;
  if (toReg) {
    // reg = reg OP mmio
    [res, flags] = aluOp(aluOpNum, size, regVal(), read.value, cf);
    if (aluOpNum !== 7) setRegSized(vcpu, i.reg, size, res, i.rex);
    setStatus(vcpu, flags);
    return { value: read.value, note: read.note };
  }
  switch (aluOpNum) {
    case 10: res = BigInt.asUintN(size, ~read.value); flags = null; break; // NOT leaves flags alone
    case 11: [res, flags] = aluOp(5, size, 0n, read.value, false); break; // NEG = 0 - x
    case 16: case 17: {
      // INC/DEC keep CF (SDM vol. 2A INC/DEC).
      [res, flags] = aluOp(aluOpNum === 16 ? 0 : 5, size, read.value, 1n, false);
      flags = (flags & ~1) | (cf ? 1 : 0);
      break;
    }
    default: [res, flags] = aluOp(aluOpNum, size, read.value, src, cf);
  }
  if (flags !== null) setStatus(vcpu, flags);
  if (!writeBack) return read;
  const w = spanAccess(bus, vcpu, gpa, lin, bytes, true, res);
  return { value: res, note: `${read.note}; ${w.note}` };
}

/** One element access at a guest-linear address: guest RAM directly, anything else as MMIO. */
function elementAccess(vcpu: VcpuApi, bus: MmioBus, lin: number, bytes: number, write: boolean, value: bigint): bigint | string {
  const gpa = vcpu.translate(lin);
  if (gpa < 0) return `string MMIO emulation: linear 0x${lin.toString(16)} is not mapped`;
  if (4096 - (((lin % 4096) + 4096) % 4096) < bytes) return spanAccess(bus, vcpu, gpa, lin, bytes, write, value).value;
  if (vcpu.isRam(gpa)) {
    const ram = vcpu.readGuestPhysical(gpa, bytes);
    if (!write) { let v = 0n; for (let k = bytes - 1; k >= 0; k--) v = (v << 8n) | BigInt(ram[k]); return v; }
    const out = new Uint8Array(bytes);
    for (let k = 0; k < bytes; k++) out[k] = Number((value >> BigInt(8 * k)) & 0xffn);
    vcpu.writeGuestPhysical(gpa, out);
    return value;
  }
  return access(bus, vcpu, gpa, bytes, write, value).value;
}

/**
 * STOS and MOVS (with or without REP) where the destination or source is MMIO: each element goes to
 * RAM or the device by its own address, as KVM's emulator does; at most 4096 elements per exit (the
 * guest re-executes the instruction for the rest, RCX/RSI/RDI show the progress).
 */
function emulateString(vcpu: VcpuApi, bus: MmioBus, i: Insn, mode: number): { note: string; finished: boolean } | string {
  const size = (i.opcode & 1) === 0 ? 8 : i.opSize;
  const bytes = size / 8;
  const movs = i.opcode === 0xa4 || i.opcode === 0xa5;
  const rep = (i.prefixes & 6) !== 0;
  const asz = i.addrSize;
  const amask = asz === 64 ? (1n << 64n) - 1n : (1n << BigInt(asz)) - 1n;
  const segBase = (name: string): number => (mode === 64 && name !== 'FS' && name !== 'GS' ? 0 : Number(vcpu.vmread(`GUEST_${name}_BASE` as 'GUEST_ES_BASE')));
  const srcSeg = ['ES', 'CS', 'SS', 'DS', 'FS', 'GS'][i.seg];
  const down = (vcpu.reg('rflags') & 0x400n) !== 0n;
  const step = BigInt(down ? -bytes : bytes);
  let count = rep ? vcpu.reg('rcx') & amask : 1n;
  let n = 0;
  const value = vcpu.reg('rax') & ((1n << BigInt(size)) - 1n);
  while (count > 0n && n < 4096) {
    const di = vcpu.reg('rdi') & amask;
    let v = value;
    if (movs) {
      const si = vcpu.reg('rsi') & amask;
      const got = elementAccess(vcpu, bus, segBase(srcSeg) + Number(BigInt.asIntN(64, si)), bytes, false, 0n);
      if (typeof got === 'string') return got;
      v = got;
      vcpu.setReg('rsi', (vcpu.reg('rsi') & ~amask) | ((si + step) & amask));
    }
    const put = elementAccess(vcpu, bus, segBase('ES') + Number(BigInt.asIntN(64, di)), bytes, true, v);
    if (typeof put === 'string') return put;
    vcpu.setReg('rdi', (vcpu.reg('rdi') & ~amask) | ((di + step) & amask));
    count--;
    n++;
    if (rep) vcpu.setReg('rcx', (vcpu.reg('rcx') & ~amask) | count);
  }
  vcpu.spend(n - 1);
  return { finished: count === 0n, note: `${movs ? 'movs' : 'stos'} ${n} element(s) of ${bytes} byte(s) through MMIO` };
}
