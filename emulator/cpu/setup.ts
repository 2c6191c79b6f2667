// Start modes for flat images: the processor state and tables a minimal KVM host program sets up (real, protected, paged32, long).
import { Cpu } from './cpu.js';
import { CS, DS, ES, FS, GS, SS, RSP } from './insn.js';
import {
  AR_DB, AR_G, AR_L, AR_P, AR_S, AR_UNUSABLE, CR0_ET, CR0_NE, CR0_PE, CR0_PG, CR0_WP, CR4_OSFXSR, CR4_OSXMMEXCPT, CR4_PAE,
  CR4_PSE, EFER_LMA, EFER_LME, EFER_NXE, EFER_SCE, FLAGS_FIXED1,
} from './regs.js';

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

/** A segment register with its descriptor cache (access rights in the VMCS layout, SDM vol. 3C §25.4.1). */
export interface SegmentState {
  selector: number;
  base: number;
  limit: number;
  ar: number;
}

/**
 * The architectural state a guest starts in. Bare metal applies it to the processor
 * (applyArchState); the hypervisor writes it into the VMCS guest-state area.
 */
export interface ArchState {
  /** RAX..R15 low and high halves. */
  gprLo: number[];
  gprHi: number[];
  rip: number;
  rflags: number;
  cr0: number;
  cr3: number;
  cr4: number;
  efer: number;
  /** ES, CS, SS, DS, FS, GS. */
  seg: SegmentState[];
  ldtr: SegmentState;
  tr: SegmentState;
  gdtr: { base: number; limit: number };
  idtr: { base: number; limit: number };
}

/** Where start-state tables are written: guest-physical memory. */
export interface GuestMemoryWriter {
  write32(gpa: number, v: number): void;
}

const AR_CODE32 = 0xb | AR_S | AR_P | AR_DB | AR_G;
const AR_DATA32 = 0x3 | AR_S | AR_P | AR_DB | AR_G;
const AR_CODE64 = 0xb | AR_S | AR_P | AR_L | AR_G;
/** A busy 32/64-bit TSS (type 11), present: what VM entry requires of TR (SDM vol. 3C §27.3.1.2). */
const AR_TR = 0xb | AR_P;

function seg(selector: number, base: number, limit: number, ar: number): SegmentState {
  return { selector, base, limit, ar };
}

/** Build the start state of `mode` at `entry`, writing its GDT and page tables into guest memory. */
export function startState(mode: StartMode, entry: number, mem: GuestMemoryWriter): ArchState {
  const s: ArchState = {
    gprLo: new Array(16).fill(0), gprHi: new Array(16).fill(0),
    rip: 0, rflags: FLAGS_FIXED1, cr0: 0, cr3: 0, cr4: 0, efer: 0,
    seg: [], ldtr: seg(0, 0, 0, AR_UNUSABLE), tr: seg(0, 0, 0xffff, AR_TR),
    gdtr: { base: 0, limit: 0xffff }, idtr: { base: 0, limit: 0x3ff },
  };
  if (mode === 'real') {
    const cs = (entry >>> 4) & 0xf000;
    s.cr0 = CR0_ET | CR0_NE;
    for (let k = 0; k < 6; k++) s.seg.push(seg(cs, cs * 16, 0xffff, (k === CS ? 0xb : 0x3) | AR_S | AR_P));
    s.rip = entry & 0xffff;
    s.gprLo[RSP] = cs === 0 ? LAYOUT.realStack : 0xfffe;
    return s;
  }
  GDT_ENTRIES.forEach(([lo, hi], k) => { mem.write32(LAYOUT.gdt + k * 8, lo); mem.write32(LAYOUT.gdt + k * 8 + 4, hi); });
  s.gdtr = { base: LAYOUT.gdt, limit: GDT_ENTRIES.length * 8 - 1 };
  s.idtr = { base: 0, limit: 0 };
  s.cr0 = CR0_PE | CR0_ET | CR0_NE;
  s.cr4 = CR4_OSFXSR | CR4_OSXMMEXCPT;
  for (let k = 0; k < 6; k++) s.seg.push(k === CS ? seg(SEL_CODE32, 0, 0xffffffff, AR_CODE32) : seg(SEL_DATA, 0, 0xffffffff, AR_DATA32));
  s.gprLo[RSP] = LAYOUT.stackTop;
  s.rip = entry >>> 0;
  if (mode === 'paged32') {
    // 1024 PDEs of 4 MiB pages: identity map of 4 GiB (SDM vol. 3A §4.3, CR4.PSE).
    for (let k = 0; k < 1024; k++) mem.write32(LAYOUT.pageDirectory32 + k * 4, ((k << 22) | 0x83) >>> 0);
    s.cr3 = LAYOUT.pageDirectory32;
    s.cr4 |= CR4_PSE;
    s.cr0 |= CR0_PG | CR0_WP;
  } else if (mode === 'long') {
    // PML4[0] → PDPT; PDPT[0..3] → four PDs of 512 2-MiB pages (SDM vol. 3A §4.5).
    mem.write32(LAYOUT.pml4, LAYOUT.pdpt | 0x3);
    mem.write32(LAYOUT.pml4 + 4, 0);
    for (let g = 0; g < 4; g++) {
      mem.write32(LAYOUT.pdpt + g * 8, (LAYOUT.pd + g * 0x1000) | 0x3);
      mem.write32(LAYOUT.pdpt + g * 8 + 4, 0);
      for (let k = 0; k < 512; k++) {
        const addr = g * 0x40000000 + k * 0x200000;
        mem.write32(LAYOUT.pd + g * 0x1000 + k * 8, (addr | 0x83) >>> 0);
        mem.write32(LAYOUT.pd + g * 0x1000 + k * 8 + 4, 0);
      }
    }
    s.cr3 = LAYOUT.pml4;
    s.cr4 |= CR4_PAE;
    s.efer = EFER_LME | EFER_LMA | EFER_NXE | EFER_SCE;
    s.cr0 |= CR0_PG | CR0_WP;
    s.seg[CS] = seg(SEL_CODE64, 0, 0xffffffff, AR_CODE64);
  }
  return s;
}

/** Multiboot 1 machine state (spec §3.2): 32-bit protected mode, flat segments, paging off, EAX magic, EBX info. */
export function multibootState(entry: number, infoAddress: number, mem: GuestMemoryWriter): ArchState {
  const s = startState('protected', entry, mem);
  s.gprLo[0] = 0x2badb002;
  s.gprLo[3] = infoAddress >>> 0;
  return s;
}

/** Load an architectural state into the processor directly (bare metal, tests). */
export function applyArchState(c: Cpu, s: ArchState): void {
  c.resetState();
  for (let r = 0; r < 16; r++) { c.lo[r] = s.gprLo[r] >>> 0; c.hi[r] = s.gprHi[r] >>> 0; }
  c.rip = s.rip;
  c.setFlags(s.rflags);
  c.cr0 = s.cr0; c.cr3 = s.cr3; c.cr4 = s.cr4; c.efer = s.efer;
  for (const k of [ES, CS, SS, DS, FS, GS]) { const g = s.seg[k]; c.setSegCache(k, g.selector, g.base, g.limit, g.ar); }
  c.ldtrSel = s.ldtr.selector; c.ldtrBase = s.ldtr.base; c.ldtrLimit = s.ldtr.limit; c.ldtrAr = s.ldtr.ar;
  c.trSel = s.tr.selector; c.trBase = s.tr.base; c.trLimit = s.tr.limit; c.trAr = s.tr.ar;
  c.gdtrBase = s.gdtr.base; c.gdtrLimit = s.gdtr.limit; c.idtrBase = s.idtr.base; c.idtrLimit = s.idtr.limit;
  c.flushTlb();
  c.updateMode();
}

/** Put the processor in `mode` at `entry` with the tables of LAYOUT (memory must cover 0x10000). */
export function setupStartMode(c: Cpu, mode: StartMode, entry: number): void {
  applyArchState(c, startState(mode, entry, c.mem));
}

export function setupMultiboot(c: Cpu, entry: number, infoAddress: number): void {
  applyArchState(c, multibootState(entry, infoAddress, c.mem));
}
