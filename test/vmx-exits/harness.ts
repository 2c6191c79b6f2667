// Test harness for VM-exit conformance: nasm guests with symbol maps, a machine under the reference hypervisor, and a recorder of every exit's VMCS fields.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Decoder, DecoderOptions } from 'iced-x86';
import { Machine, parseLaunchConfig, type RunResult } from '../../emulator/index.js';
import type { Hypervisor } from '../../emulator/vmm/hypervisor.js';
import { HOST_LAYOUT } from '../../emulator/vmm/hypervisor.js';
import type { ExitHandler, VcpuApi, GprName } from '../../emulator/vmm/api.js';
import { GPR_NAMES } from '../../emulator/vmm/api.js';
import type { VmcsFieldName } from '../../emulator/vmx/fields.js';

export const TMP = join(__dirname, '..', '.tmp', 'vmx-exits');

export type Mode = 'real' | 'protected' | 'paged32' | 'long';

export interface Assembled {
  bytes: Uint8Array;
  /** Label → address, from nasm's map file (local labels as "outer.local"). */
  sym: Record<string, number>;
  org: number;
  bits: 16 | 32 | 64;
}

const BITS: Record<Mode, 16 | 32 | 64> = { real: 16, protected: 32, paged32: 32, long: 64 };
export const ORG: Record<Mode, number> = { real: 0x7c00, protected: 0x100000, paged32: 0x100000, long: 0x100000 };

/** Assemble a guest with nasm (flat binary at the start mode's load address) and read its symbol map. */
export function assemble(name: string, mode: Mode, body: string): Assembled {
  mkdirSync(TMP, { recursive: true });
  const src = join(TMP, `${name}.asm`), out = join(TMP, `${name}.bin`), map = join(TMP, `${name}.map`);
  const org = ORG[mode], bits = BITS[mode];
  writeFileSync(src, `bits ${bits}\norg 0x${org.toString(16)}\n[map symbols ${map}]\nORG_ equ 0x${org.toString(16)}\n${PRELUDE}\n${body}\n`);
  execFileSync('nasm', ['-f', 'bin', '-o', out, src]);
  const sym: Record<string, number> = {};
  for (const line of readFileSync(map, 'utf8').split('\n')) {
    const m = /^\s*([0-9A-F]+)\s+([0-9A-F]+)\s+(\S+)\s*$/.exec(line);
    if (m) sym[m[3]] = parseInt(m[2], 16);
  }
  return { bytes: new Uint8Array(readFileSync(out)), sym, org, bits };
}

/** nasm macros shared by guests: a 64-bit IDT gate, console output and the debug-exit device. */
const PRELUDE = `
%macro GATE64 1
  dw ((%1) - $$ + ORG_) & 0xffff
  dw 0x18
  db 0, 0x8e
  dw (((%1) - $$ + ORG_) >> 16) & 0xffff
  dd 0, 0
%endmacro
%macro GATE32 1
  dw ((%1) - $$ + ORG_) & 0xffff
  dw 0x08
  db 0, 0x8e
  dw (((%1) - $$ + ORG_) >> 16) & 0xffff
%endmacro
%macro PUTC 1
  push rax
  mov al, %1
  out 0xe9, al
  pop rax
%endmacro
%macro EXIT 1
  mov al, %1
  out 0xf4, al
%endmacro
`;

/** What a recorder saw at one VM exit: the VM-exit information fields and guest state (SDM vol. 3C §25.9). */
export interface SeenExit {
  reason: number;
  rawReason: number;
  qualification: bigint;
  rip: number;
  length: number;
  intrInfo: number;
  intrError: number;
  idtVectoring: number;
  idtVectoringError: number;
  instrInfo: number;
  linear: bigint;
  physical: bigint;
  icount: number;
  regs: Record<GprName, bigint>;
}

export interface Guest {
  m: Machine;
  hv: Hypervisor;
  asm: Assembled;
  exits: SeenExit[];
  /** Exits of one reason. */
  of(reason: number): SeenExit[];
  /** Install a handler for `reason` (still recorded). `orig` is the reference hypervisor's handler, if any. */
  on(reason: number, h: (vcpu: VcpuApi, orig: ExitHandler | undefined) => ReturnType<ExitHandler>): void;
  run(): RunResult;
  /** OR bits into a 32-bit control field before the first entry. */
  setBits(field: VmcsFieldName, bits: number): void;
  clearBits(field: VmcsFieldName, bits: number): void;
  /** Length of the instruction at guest address `a` according to iced-x86. */
  icedLength(a: number): number;
  /** Guest-physical bytes. */
  peek(gpa: number, n: number): Uint8Array;
}

export interface GuestOptions {
  maxInstructions?: number;
  memoryMiB?: number;
}

/** Build a machine running the assembled guest under the hypervisor, with every exit recorded. */
export function guest(name: string, mode: Mode, body: string, opts: GuestOptions = {}): Guest {
  const a = assemble(name, mode, body);
  const m = new Machine(a.bytes, parseLaunchConfig({
    program: name, format: 'flat', cpuMode: mode, maxInstructions: opts.maxInstructions ?? 1_000_000, memoryMiB: opts.memoryMiB ?? 64,
  }));
  const hv = m.hv!;
  const exits: SeenExit[] = [];
  const record = (vcpu: VcpuApi): void => {
    const r = (f: VmcsFieldName) => vcpu.vmread(f);
    const regs = {} as Record<GprName, bigint>;
    for (const g of GPR_NAMES) regs[g] = vcpu.reg(g);
    exits.push({
      reason: vcpu.exit.reason, rawReason: Number(r('VM_EXIT_REASON')), qualification: vcpu.exit.qualification,
      rip: Number(BigInt.asIntN(64, r('GUEST_RIP'))), length: vcpu.exit.instructionLength,
      intrInfo: Number(r('VM_EXIT_INTR_INFO')), intrError: Number(r('VM_EXIT_INTR_ERROR_CODE')),
      idtVectoring: Number(r('IDT_VECTORING_INFO_FIELD')), idtVectoringError: Number(r('IDT_VECTORING_ERROR_CODE')),
      instrInfo: Number(r('VMX_INSTRUCTION_INFO')), linear: r('GUEST_LINEAR_ADDRESS'), physical: r('GUEST_PHYSICAL_ADDRESS'),
      icount: hv.cpu.icount, regs,
    });
  };
  const originals = new Map(hv.handlers);
  const wrap = (reason: number, h: ExitHandler | undefined): ExitHandler => (vcpu) => {
    record(vcpu);
    if (h === undefined) { vcpu.endRun('error', `test: no handler for exit ${reason}`); return 'ended'; }
    return h(vcpu);
  };
  for (let reason = 0; reason < 90; reason++) hv.handlers.set(reason, wrap(reason, originals.get(reason)));
  const g: Guest = {
    m, hv, asm: a, exits,
    of: (reason) => exits.filter((e) => e.reason === reason),
    on(reason, h) {
      const orig = originals.get(reason);
      hv.handlers.set(reason, wrap(reason, (vcpu) => h(vcpu, orig)));
    },
    run: () => m.runToEnd(),
    setBits(field, bits) { hv.vmwrite(field, (Number(hv.vmread(field)) | bits) >>> 0); },
    clearBits(field, bits) { hv.vmwrite(field, (Number(hv.vmread(field)) & ~bits) >>> 0); },
    icedLength(addr) {
      const off = addr - a.org;
      const d = new Decoder(a.bits, a.bytes.subarray(off, off + 15), DecoderOptions.None);
      const insn = d.decode();
      const n = insn.isInvalid ? -1 : insn.length;
      insn.free(); d.free();
      return n;
    },
    peek: (gpa, n) => hv.guest.peek(gpa, n),
  };
  return g;
}

/** Host-physical address of the EPT entry that maps `gpa` at `level` (4 = PML4E .. 2 = PDE for a 2 MiB page). */
export function eptEntryAddress(hv: Hypervisor, gpa: number, level = 2): number {
  let table = Number(hv.vmread('EPT_POINTER') & ~0xfffn);
  for (let l = 4; l >= level; l--) {
    const addr = table + (Math.floor(gpa / 2 ** (12 + 9 * (l - 1))) % 512) * 8;
    if (l === level) return addr;
    table = hv.host.read32(addr) & ~0xfff;
  }
  throw new Error('unreachable');
}

/** Rewrite the low permission/type bits of the EPT entry for `gpa` and invalidate cached translations (as INVEPT). */
export function setEptEntry(hv: Hypervisor, gpa: number, lo: number, level = 2): number {
  const addr = eptEntryAddress(hv, gpa, level);
  const old = hv.host.read32(addr);
  hv.host.write32(addr, lo >>> 0);
  hv.vmx.ept.flush();
  hv.cpu.flushTlb();
  return old;
}

export { HOST_LAYOUT };

/** Interruption-information format (SDM vol. 3C §25.9.2 table 25-19). */
export const intrInfo = (vector: number, type: number, errorCode = false): number =>
  (0x80000000 | vector | (type << 8) | (errorCode ? 0x800 : 0)) >>> 0;
export const TYPE_EXT = 0, TYPE_NMI = 2, TYPE_HW = 3, TYPE_SW_INT = 4, TYPE_PRIV_SW = 5, TYPE_SW_EXC = 6;

export const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);

/**
 * A 64-bit guest prologue: LIDT of an IDT (32 entries or up to the highest vector given) whose gates go to the labels given per vector
 * (others to `unexpected`, which ends the run with code 0x7e), then `main`.
 */
export function idt64(handlers: Record<number, string>, entries = Math.max(32, ...Object.keys(handlers).map((k) => Number(k) + 1))): string {
  const gates = Array.from({ length: entries }, (_, v) => `  GATE64 ${handlers[v] ?? 'unexpected'}`).join('\n');
  return `
start:
  lidt [rel idtr]
  jmp main
unexpected:
  EXIT 0x7e
align 16
idt:
${gates}
idt_end:
idtr:
  dw idt_end - idt - 1
  dq idt
`;
}

/** Count the processor's soft-path accesses (softRead/softWrite: MMIO from translated code without unwinding) from now on. */
export function countSoftPath(cpu: object): { n: number } {
  const count = { n: 0 };
  const c = cpu as { softRead: (...a: number[]) => number; softWrite: (...a: number[]) => boolean };
  const rd = c.softRead.bind(c), wr = c.softWrite.bind(c);
  c.softRead = (...a) => { count.n++; return rd(...a); };
  c.softWrite = (...a) => { count.n++; return wr(...a); };
  return count;
}
