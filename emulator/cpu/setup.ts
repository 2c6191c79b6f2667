// Start modes for flat images: the processor state and tables a minimal KVM host program sets up (real, protected, paged32, long).
import { Cpu } from './cpu.js';
import { CS, DS, ES, FS, GS, SS, RSP } from './insn.js';
import { AR_DB, AR_G, AR_L, AR_P, AR_S, CR0_ET, CR0_NE, CR0_PE, CR0_PG, CR0_WP, CR4_PAE, CR4_PSE, CR4_OSFXSR, CR4_OSXMMEXCPT, EFER_LMA, EFER_LME, EFER_NXE, EFER_SCE, FLAGS_FIXED1 } from './regs.js';

export type StartMode = 'real' | 'protected' | 'paged32' | 'long';

/** Fixed guest-physical layout of the structures the start modes use (documented in README). */
export const LAYOUT = {
  gdt: 0x8000,
  pageDirectory32: 0x9000,
  pml4: 0xa000,
  pdpt: 0xb000,
  pd: 0xc000, // four pages: 0xC000..0xFFFF map the first 4 GiB with 2 MiB pages
  stackTop: 0x80000,
  realStack: 0x7000,
} as const;

// GDT: 0 null, 0x08 32-bit code, 0x10 data, 0x18 64-bit code, 0x20 16-bit code, 0x28 16-bit data.
const GDT_ENTRIES: Array<[number, number]> = [
  [0x00000000, 0x00000000],
  [0x0000ffff, 0x00cf9b00], // 0x08: code, base 0, limit 4G, D=1, P, DPL0, execute/read, accessed
  [0x0000ffff, 0x00cf9300], // 0x10: data, base 0, limit 4G, B=1, read/write, accessed
  [0x0000ffff, 0x00af9b00], // 0x18: 64-bit code, L=1
  [0x0000ffff, 0x00009b00], // 0x20: 16-bit code
  [0x0000ffff, 0x00009300], // 0x28: 16-bit data
];

export const SEL_CODE32 = 0x08, SEL_DATA = 0x10, SEL_CODE64 = 0x18;

function writeGdt(c: Cpu): void {
  GDT_ENTRIES.forEach(([lo, hi], k) => { c.mem.write32(LAYOUT.gdt + k * 8, lo); c.mem.write32(LAYOUT.gdt + k * 8 + 4, hi); });
  c.gdtrBase = LAYOUT.gdt;
  c.gdtrLimit = GDT_ENTRIES.length * 8 - 1;
}

const AR_CODE32 = 0xb | AR_S | AR_P | AR_DB | AR_G;
const AR_DATA32 = 0x3 | AR_S | AR_P | AR_DB | AR_G;
const AR_CODE64 = 0xb | AR_S | AR_P | AR_L | AR_G;

function flatData(c: Cpu): void {
  for (const s of [DS, ES, SS, FS, GS]) c.setSegCache(s, SEL_DATA, 0, 0xffffffff, AR_DATA32);
}

/** Put the processor in `mode` at `entry` with the tables of LAYOUT (memory must cover 0x10000). */
export function setupStartMode(c: Cpu, mode: StartMode, entry: number): void {
  c.resetState();
  c.setFlags(FLAGS_FIXED1);
  c.idtrBase = 0;
  c.idtrLimit = 0x3ff;
  if (mode === 'real') {
    const cs = (entry >>> 4) & 0xf000;
    c.cr0 = CR0_ET | 0x60000000;
    for (const s of [CS, DS, ES, SS, FS, GS]) {
      c.setSegCache(s, cs, cs * 16, 0xffff, (s === CS ? 0xb : 0x3) | AR_S | AR_P);
    }
    c.rip = entry & 0xffff;
    c.lo[RSP] = cs === 0 ? LAYOUT.realStack : 0xfffe;
    c.updateMode();
    return;
  }
  writeGdt(c);
  c.cr0 = CR0_PE | CR0_ET | CR0_NE;
  c.cr4 = CR4_OSFXSR | CR4_OSXMMEXCPT;
  c.setSegCache(CS, SEL_CODE32, 0, 0xffffffff, AR_CODE32);
  flatData(c);
  c.idtrLimit = 0;
  c.lo[RSP] = LAYOUT.stackTop;
  c.rip = entry >>> 0;
  if (mode === 'paged32') {
    // 1024 PDEs of 4 MiB pages: identity map of 4 GiB (SDM vol. 3A §4.3, CR4.PSE).
    for (let k = 0; k < 1024; k++) c.mem.write32(LAYOUT.pageDirectory32 + k * 4, ((k << 22) | 0x83) >>> 0);
    c.cr3 = LAYOUT.pageDirectory32;
    c.cr4 |= CR4_PSE;
    c.cr0 |= CR0_PG | CR0_WP;
  } else if (mode === 'long') {
    // PML4[0] → PDPT; PDPT[0..3] → four PDs of 512 2-MiB pages (SDM vol. 3A §4.5).
    c.mem.write32(LAYOUT.pml4, LAYOUT.pdpt | 0x3);
    for (let g = 0; g < 4; g++) {
      c.mem.write32(LAYOUT.pdpt + g * 8, (LAYOUT.pd + g * 0x1000) | 0x3);
      for (let k = 0; k < 512; k++) {
        const addr = g * 0x40000000 + k * 0x200000;
        c.mem.write32(LAYOUT.pd + g * 0x1000 + k * 8, (addr | 0x83) >>> 0);
        c.mem.write32(LAYOUT.pd + g * 0x1000 + k * 8 + 4, 0);
      }
    }
    c.cr3 = LAYOUT.pml4;
    c.cr4 |= CR4_PAE;
    c.efer = EFER_LME | EFER_LMA | EFER_NXE | EFER_SCE;
    c.cr0 |= CR0_PG | CR0_WP;
    c.setSegCache(CS, SEL_CODE64, 0, 0xffffffff, AR_CODE64);
  }
  c.updateMode();
}

/** Multiboot 1 machine state (spec §3.2): 32-bit protected mode, flat segments, paging off, EAX magic, EBX info. */
export function setupMultiboot(c: Cpu, entry: number, infoAddress: number): void {
  setupStartMode(c, 'protected', entry);
  c.lo[0] = 0x2badb002;
  c.lo[3] = infoAddress >>> 0;
}
