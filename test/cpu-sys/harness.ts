// Test harness for system instructions: nasm-assembled guests run on a bare Cpu with exception-recording IDT stubs and ring-3 tables.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PhysicalMemory } from '../../emulator/mem/physmem.js';
import { Cpu, type CpuBus } from '../../emulator/cpu/cpu.js';
import '../../emulator/cpu/exec-int.js';
import '../../emulator/cpu/exec-sys.js';
import '../../emulator/cpu/exec-sse.js';
import { setupStartMode, type StartMode } from '../../emulator/cpu/setup.js';

export const TMP = resolve(dirname(fileURLToPath(import.meta.url)), '..', '.tmp', 'cpu-sys');
export const hasNasm = spawnSync('nasm', ['-v'], { stdio: 'ignore' }).status === 0;
export const hasGcc = spawnSync('gcc', ['--version'], { stdio: 'ignore' }).status === 0;

export const ORG = 0x100000;
/** Real-mode guests run at 1000:0000 (org 0). */
export const REAL_ENTRY = 0x10000;
/** Where the exception stubs record the vector (dword) — 0xFFFFFFFF means "no exception". */
export const EXC_RECORD = 0x6f000;
export const IDT_BASE = 0x6e000;
const STUBS = 0x70000;
/** Ring-3 tables (see setupRings): GDT, TSS, ring-0 stack. */
export const GDT = 0x60000, TSS = 0x61000, RSP0 = 0x7f000;
export const SEL = { KCODE64: 0x08, KDATA: 0x10, UCODE32: 0x18, UDATA: 0x20, UCODE64: 0x28, TSS: 0x30, CODE16: 0x40, CODE32: 0x48 } as const;

/** nasm -f bin, cached by content hash under test/.tmp/cpu-sys/. */
export function assemble(src: string): Uint8Array {
  mkdirSync(TMP, { recursive: true });
  const h = createHash('sha256').update(src).digest('hex').slice(0, 16);
  const out = join(TMP, `${h}.bin`);
  if (!existsSync(out)) {
    const asm = join(TMP, `${h}.asm`);
    writeFileSync(asm, src);
    execFileSync('nasm', ['-f', 'bin', '-o', out, asm], { stdio: 'pipe' });
  }
  return new Uint8Array(readFileSync(out));
}

export const bus: CpuBus = { ioRead: () => 0xff, ioWrite() {}, findMmio: () => null };

export interface Machine { cpu: Cpu; mem: PhysicalMemory }

/** A CPU in `mode` running `code` at 0x100000, with recording IDT stubs installed (protected/long modes). */
export function machine(mode: StartMode, code: Uint8Array): Machine {
  const mem = new PhysicalMemory(16 << 20);
  const cpu = new Cpu(mem, bus);
  const at = mode === 'real' ? REAL_ENTRY : ORG;
  setupStartMode(cpu, mode, at);
  mem.poke(at, code);
  mem.write32(EXC_RECORD, 0xffffffff);
  if (mode !== 'real') installIdt(cpu, mode === 'long');
  return { cpu, mem };
}

/** Assemble `body` with a `[bits]`/org header, run until HLT (or budget), return the machine. */
export function run(mode: StartMode, body: string, budget = 100000): Machine {
  const bits = mode === 'long' ? 64 : mode === 'real' ? 16 : 32;
  const org = mode === 'real' ? 0 : ORG;
  const m = machine(mode, assemble(`[bits ${bits}]\norg 0x${org.toString(16)}\n${body}\n`));
  if (mode === 'long' && body.includes('; rings')) setupRings(m.cpu);
  m.cpu.run(budget);
  return m;
}

/**
 * IDT whose 32 exception vectors each record their number at EXC_RECORD and halt; the frame (with the
 * error code if any) stays on the stack. 64-bit: 16-byte gates to selector 0x18 (setup.ts) — setupRings
 * rewrites them to its own kernel selector.
 */
export function installIdt(cpu: Cpu, long: boolean, codeSel = long ? 0x18 : 0x08): void {
  const mem = cpu.mem;
  for (let v = 0; v < 32; v++) {
    const stub = STUBS + v * 16;
    // mov dword [EXC_RECORD], v ; hlt   (64-bit: C7 04 25 disp32 imm32; 32-bit: C7 05 disp32 imm32)
    const bytes = long ? [0xc7, 0x04, 0x25] : [0xc7, 0x05];
    bytes.forEach((b, k) => mem.write8(stub + k, b));
    mem.write32(stub + bytes.length, EXC_RECORD);
    mem.write32(stub + bytes.length + 4, v);
    mem.write8(stub + bytes.length + 8, 0xf4);
    mem.write8(stub + bytes.length + 9, 0xeb); mem.write8(stub + bytes.length + 10, 0xfd); // jmp back to hlt
    if (long) {
      const g = IDT_BASE + v * 16;
      mem.write32(g, (codeSel << 16) | (stub & 0xffff));
      mem.write32(g + 4, ((stub & 0xffff0000) | 0x8e00) >>> 0);
      mem.write32(g + 8, 0); mem.write32(g + 12, 0);
    } else {
      const g = IDT_BASE + v * 8;
      mem.write32(g, (codeSel << 16) | (stub & 0xffff));
      mem.write32(g + 4, ((stub & 0xffff0000) | 0x8e00) >>> 0);
    }
  }
  cpu.idtrBase = IDT_BASE;
  cpu.idtrLimit = long ? 32 * 16 - 1 : 32 * 8 - 1;
}

/**
 * Long-mode ring tables written into memory (not loaded): a GDT at GDT (layout SEL, with DPL-3 user segments
 * and a 64-bit TSS whose RSP0 = RSP0), and IDT gates pointing at SEL.KCODE64. Guests load them with
 * `lgdt [gdtr64]` / `ltr`; the 10-byte GDTR image is at GDT + 0x100.
 */
export function setupRings(cpu: Cpu): void {
  const mem = cpu.mem;
  const d: Array<[number, number]> = [
    [0, 0],
    [0x0000ffff, 0x00af9b00], // 0x08 kernel code 64
    [0x0000ffff, 0x00cf9300], // 0x10 kernel data
    [0x0000ffff, 0x00cffb00], // 0x18 user code 32 (DPL 3)
    [0x0000ffff, 0x00cff300], // 0x20 user data (DPL 3)
    [0x0000ffff, 0x00affb00], // 0x28 user code 64 (DPL 3)
    [((TSS & 0xffff) << 16) | 0x67, ((TSS >>> 16) & 0xff) | 0x8900 | (TSS & 0xff000000)], // 0x30 TSS (available, 64-bit)
    [0, 0], // TSS upper half
    [0x0000ffff, 0x00009b10], // 0x40 16-bit code, base 0x100000 (ORG)
    [0x0000ffff, 0x00cf9b00], // 0x48 32-bit code
  ];
  d.forEach(([lo, hi], k) => { mem.write32(GDT + k * 8, lo >>> 0); mem.write32(GDT + k * 8 + 4, hi >>> 0); });
  mem.write16(GDT + 0x100, d.length * 8 - 1);
  mem.write32(GDT + 0x102, GDT); mem.write32(GDT + 0x106, 0);
  mem.write32(TSS + 4, RSP0); mem.write32(TSS + 8, 0); // RSP0
  mem.write16(TSS + 0x66, 0x68); // no I/O bitmap
  installIdt(cpu, true, SEL.KCODE64);
  // Make setup.ts's identity map user-accessible (U/S = 1 at every level) so ring-3 code can run.
  mem.write32(0xa000, mem.read32(0xa000) | 4);
  for (let k = 0; k < 4; k++) mem.write32(0xb000 + k * 8, mem.read32(0xb000 + k * 8) | 4);
  for (let k = 0; k < 4 * 512; k++) mem.write32(0xc000 + k * 8, mem.read32(0xc000 + k * 8) | 4);
}

export function excVector(m: Machine): number {
  return m.mem.read32(EXC_RECORD) | 0;
}
/** The error code pushed for the recorded exception (64-bit frame: at RSP). */
export function errorCode64(m: Machine): number {
  return m.mem.read32(m.cpu.lo[4]);
}
export function reg64(cpu: Cpu, r: number): bigint {
  return (BigInt(cpu.hi[r]) << 32n) | BigInt(cpu.lo[r]);
}

/** Prologue for long-mode guests: load the ring GDT/TSS from setupRings, reload segments with SEL.KCODE64/KDATA. */
export const LONG_RINGS = `
  ; rings
  lgdt [0x${(GDT + 0x100).toString(16)}]
  mov ax, 0x10
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov ax, 0x30
  ltr ax
  push 0x08
  lea rax, [rel .k64]
  push rax
  retfq
.k64:
`;
