// MMIO emulation for EPT violations: decode the guest's faulting instruction and perform its access on a device, like KVM's x86 emulator.
import { decode } from '../cpu/decode.js';
import { Insn, MAP_0F, RAX } from '../cpu/insn.js';
import type { VcpuApi, GprName } from './api.js';
import { GPR_NAMES } from './api.js';

/** How the emulator reaches devices at guest-physical addresses. */
export interface MmioBus {
  findMmio(addr: number): { dev: { mmioRead(offset: number, size: 1 | 2 | 4): number; mmioWrite(offset: number, size: 1 | 2 | 4, value: number): void }; base: number } | null;
}

export type MmioResult = { ok: true; note: string } | { ok: false; reason: string };

const insn = new Insn();

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

function access(bus: MmioBus, vcpu: VcpuApi, gpa: number, bytes: number, write: boolean, value: bigint): { value: bigint; note: string } {
  const hit = bus.findMmio(gpa);
  const where = `0x${gpa.toString(16)}`;
  if (hit === null) {
    // Unassigned guest-physical space: reads return all ones and writes are dropped, as on a PC (master abort).
    return { value: (1n << BigInt(bytes * 8)) - 1n, note: `${write ? 'write to' : 'read of'} unassigned ${where}: ${write ? 'dropped' : 'all ones'}` };
  }
  const off = gpa - hit.base;
  if (bytes === 8) {
    // An 8-byte access is two 4-byte accesses, low half first (documented bus convention).
    if (write) {
      hit.dev.mmioWrite(off, 4, Number(value & 0xffffffffn));
      hit.dev.mmioWrite(off + 4, 4, Number((value >> 32n) & 0xffffffffn));
      return { value, note: `mmio write ${where} (8 bytes)` };
    }
    const lo = BigInt(hit.dev.mmioRead(off, 4) >>> 0), hi = BigInt(hit.dev.mmioRead(off + 4, 4) >>> 0);
    return { value: (hi << 32n) | lo, note: `mmio read ${where} (8 bytes)` };
  }
  const size = bytes as 1 | 2 | 4;
  if (write) {
    hit.dev.mmioWrite(off, size, Number(value & 0xffffffffn));
    return { value, note: `mmio write ${where} = 0x${value.toString(16)} (${bytes} bytes)` };
  }
  const v = BigInt(hit.dev.mmioRead(off, size) >>> 0) & ((1n << BigInt(bytes * 8)) - 1n);
  return { value: v, note: `mmio read ${where} = 0x${v.toString(16)} (${bytes} bytes)` };
}

/**
 * Emulate the instruction at guest RIP that touched `gpa`. Supports the moves guests and
 * drivers use for device registers: MOV to/from r/m (88/89/8A/8B), MOV imm (C6/C7), MOV
 * moffs (A0–A3), MOVZX/MOVSX (0F B6/B7/BE/BF). Anything else is reported, not guessed.
 */
export function emulateMmio(vcpu: VcpuApi, bus: MmioBus, gpa: number): MmioResult {
  const rip = Number(BigInt.asIntN(64, vcpu.reg('rip')));
  const ar = Number(vcpu.vmread('GUEST_CS_AR_BYTES'));
  const efer = Number(vcpu.vmread('GUEST_IA32_EFER'));
  const cr0 = Number(vcpu.vmread('GUEST_CR0'));
  const mode: 16 | 32 | 64 = (efer & 0x400) !== 0 && (ar & (1 << 13)) !== 0 ? 64 : (cr0 & 1) !== 0 && (ar & (1 << 14)) !== 0 ? 32 : 16;
  const csBase = mode === 64 ? 0 : Number(vcpu.vmread('GUEST_CS_BASE'));
  const bytes = vcpu.readGuestVirtual(csBase + rip, 15) ?? vcpu.readGuestVirtual(csBase + rip, 1);
  if (bytes === null) return { ok: false, reason: `cannot read the instruction at rip=0x${rip.toString(16)}` };
  try {
    decode(insn, (k) => (k < bytes.length ? bytes[k] : 0), mode);
  } catch {
    return { ok: false, reason: 'instruction decode failed' };
  }
  const i = insn;
  const op = i.opcode;
  const full = (o: number) => ((o & 1) === 0 ? 8 : i.opSize);
  let result: { value: bigint; note: string };
  switch (op) {
    case 0x88: case 0x89: { // MOV r/m, r
      const s = full(op);
      const v = s === 8 ? BigInt(getReg8(vcpu, i.reg, i.rex)) : reg(vcpu, i.reg) & ((1n << BigInt(s)) - 1n);
      result = access(bus, vcpu, gpa, s / 8, true, v);
      break;
    }
    case 0xc6: case 0xc7: { // MOV r/m, imm
      const s = full(op);
      const v = BigInt.asUintN(s, BigInt(i.imm));
      result = access(bus, vcpu, gpa, s / 8, true, v);
      break;
    }
    case 0x8a: case 0x8b: { // MOV r, r/m
      const s = full(op);
      result = access(bus, vcpu, gpa, s / 8, false, 0n);
      setRegSized(vcpu, i.reg, s, result.value, i.rex);
      break;
    }
    case 0xa0: case 0xa1: { // MOV AL/eAX, moffs
      const s = full(op);
      result = access(bus, vcpu, gpa, s / 8, false, 0n);
      setRegSized(vcpu, RAX, s, result.value, 0);
      break;
    }
    case 0xa2: case 0xa3: { // MOV moffs, AL/eAX
      const s = full(op);
      result = access(bus, vcpu, gpa, s / 8, true, reg(vcpu, RAX) & ((1n << BigInt(s)) - 1n));
      break;
    }
    case MAP_0F + 0xb6: case MAP_0F + 0xb7: case MAP_0F + 0xbe: case MAP_0F + 0xbf: { // MOVZX / MOVSX
      const src = (op & 1) === 0 ? 8 : 16;
      result = access(bus, vcpu, gpa, src / 8, false, 0n);
      const v = op >= MAP_0F + 0xbe ? BigInt.asUintN(64, BigInt.asIntN(src, result.value)) : result.value;
      setRegSized(vcpu, i.reg, i.opSize, v, i.rex);
      break;
    }
    default: {
      const hex = Array.from(bytes.subarray(0, Math.max(1, i.length)), (b) => b.toString(16).padStart(2, '0')).join(' ');
      return { ok: false, reason: `MMIO access at 0x${gpa.toString(16)} by an instruction the MMIO emulator does not handle (${hex})` };
    }
  }
  vcpu.setReg('rip', BigInt.asUintN(64, BigInt(rip + i.length)));
  return { ok: true, note: result.note };
}
