// Model-specific registers (SDM vol. 4 table 2-2): one table of the MSRs vmscope implements, with RDMSR/WRMSR semantics.
import type { Cpu } from './cpu.js';
import { FS, GS } from './insn.js';
import {
  CR0_PG, EFER_LMA, EFER_LME, EFER_NXE, EFER_SCE, MSR_IA32_APIC_BASE, MSR_IA32_CSTAR, MSR_IA32_EFER, MSR_IA32_FEATURE_CONTROL,
  MSR_IA32_FMASK, MSR_IA32_FS_BASE, MSR_IA32_GS_BASE, MSR_IA32_KERNEL_GS_BASE, MSR_IA32_LSTAR, MSR_IA32_MISC_ENABLE,
  MSR_IA32_MTRRCAP, MSR_IA32_MTRR_DEF_TYPE, MSR_IA32_PAT, MSR_IA32_STAR, MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_EIP,
  MSR_IA32_SYSENTER_ESP, MSR_IA32_TSC, MSR_IA32_TSC_AUX,
} from './regs.js';
import { MAXPHYADDR } from './paging.js';

const M64 = (1n << 64n) - 1n;
const PHYS_MASK = (1n << BigInt(MAXPHYADDR)) - 1n;

/** A 64-bit value held as a signed number (exact for canonical addresses) → unsigned bigint. */
export function numToU64(v: number): bigint {
  return BigInt.asUintN(64, BigInt(Math.trunc(v)));
}
/** Unsigned bigint → signed number (canonical addresses are exact). */
export function u64ToNum(v: bigint): number {
  return Number(BigInt.asIntN(64, v));
}
/** Canonical 48-bit address (SDM vol. 1 §3.3.7.1). */
export function isCanonical(v: bigint): boolean {
  const s = BigInt.asIntN(64, v);
  return s >= -(1n << 47n) && s < (1n << 47n);
}
export function isCanonicalNum(v: number): boolean {
  return v >= -140737488355328 && v < 140737488355328;
}

// MTRRs (SDM vol. 3A §12.11): 8 variable ranges, fixed ranges, write-combining supported.
export const MTRR_VCNT = 8;
export const MSR_MTRR_PHYSBASE0 = 0x200;
export const MTRR_FIXED = [0x250, 0x258, 0x259, 0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f] as const;
/** IA32_MTRRCAP: VCNT = 8, FIX = 1, WC = 1, SMRR = 0. */
export const MTRRCAP_VALUE = BigInt(MTRR_VCNT | (1 << 8) | (1 << 10));
/** IA32_MISC_ENABLE at reset: fast strings (bit 0), BTS and PEBS unavailable (bits 11, 12). */
export const MISC_ENABLE_RESET = 0x1801n;
/** IA32_FEATURE_CONTROL: lock bit set, VMX enables clear (the VT-x work will set bits 2 and 1). */
export const FEATURE_CONTROL_VALUE = 1n;

/** Memory types valid in PAT entries (SDM vol. 3A table 12-10) and in MTRRs (table 12-8: no 7 = UC-). */
const PAT_TYPES = new Set([0, 1, 4, 5, 6, 7]);
const MTRR_TYPES = new Set([0, 1, 4, 5, 6]);

function bytesAllValid(v: bigint, types: Set<number>): boolean {
  for (let k = 0n; k < 64n; k += 8n) if (!types.has(Number((v >> k) & 0xffn))) return false;
  return true;
}

/** How an MSR behaves: read returns the value, write returns false for #GP(0). */
export interface MsrDef {
  index: number;
  name: string;
  read(c: Cpu): bigint;
  write(c: Cpu, v: bigint): boolean;
}

/** Stored in Cpu.msr (part of snapshots), with a reset value. */
function stored(index: number, name: string, reset: bigint, valid: (c: Cpu, v: bigint) => boolean): MsrDef {
  return {
    index, name,
    read: (c) => c.msr.get(index) ?? reset,
    write: (c, v) => { if (!valid(c, v)) return false; c.msr.set(index, v); return true; },
  };
}

const canonicalNum = (get: (c: Cpu) => number, set: (c: Cpu, v: number) => void) => ({
  read: (c: Cpu) => numToU64(get(c)),
  write: (c: Cpu, v: bigint) => { if (!isCanonical(v)) return false; set(c, u64ToNum(v)); return true; },
});

const DEFS: MsrDef[] = [
  {
    index: MSR_IA32_TSC, name: 'IA32_TSC',
    // TSC = instruction count + offset; a write sets the offset (SDM vol. 3B §18.17).
    read: (c) => BigInt.asUintN(64, BigInt(c.icount) + BigInt(Math.trunc(c.tscOffset))),
    write: (c, v) => { c.tscOffset = Number(BigInt.asIntN(64, v - BigInt(c.icount))); return true; },
  },
  {
    index: MSR_IA32_APIC_BASE, name: 'IA32_APIC_BASE',
    // Bit 8 BSP (read-only), bit 11 enable, bits 12..MAXPHYADDR-1 base; x2APIC (bit 10) not supported (SDM vol. 3A §11.4.4).
    read: (c) => BigInt(c.apicBase),
    write: (c, v) => {
      const allowed = (1n << 8n) | (1n << 11n) | (PHYS_MASK & ~0xfffn);
      if ((v & ~allowed) !== 0n) return false;
      c.apicBase = Number((v & ~(1n << 8n)) | (BigInt(c.apicBase) & (1n << 8n)));
      return true;
    },
  },
  { index: MSR_IA32_FEATURE_CONTROL, name: 'IA32_FEATURE_CONTROL', read: () => FEATURE_CONTROL_VALUE, write: () => false },
  {
    index: MSR_IA32_SYSENTER_CS, name: 'IA32_SYSENTER_CS',
    read: (c) => BigInt(c.sysenterCs >>> 0),
    write: (c, v) => { c.sysenterCs = Number(v & 0xffffffffn); return true; },
  },
  { index: MSR_IA32_SYSENTER_ESP, name: 'IA32_SYSENTER_ESP', ...canonicalNum((c) => c.sysenterEsp, (c, v) => { c.sysenterEsp = v; }) },
  { index: MSR_IA32_SYSENTER_EIP, name: 'IA32_SYSENTER_EIP', ...canonicalNum((c) => c.sysenterEip, (c, v) => { c.sysenterEip = v; }) },
  stored(MSR_IA32_MISC_ENABLE, 'IA32_MISC_ENABLE', MISC_ENABLE_RESET, () => true),
  { index: MSR_IA32_MTRRCAP, name: 'IA32_MTRRCAP', read: () => MTRRCAP_VALUE, write: () => false },
  // IA32_MTRR_DEF_TYPE: type 7:0, FE bit 10, E bit 11; the rest reserved.
  stored(MSR_IA32_MTRR_DEF_TYPE, 'IA32_MTRR_DEF_TYPE', 0n, (_c, v) => (v & ~0xcffn) === 0n && MTRR_TYPES.has(Number(v & 0xffn))),
  {
    index: MSR_IA32_PAT, name: 'IA32_PAT',
    read: (c) => c.pat,
    write: (c, v) => { if (!bytesAllValid(v, PAT_TYPES)) return false; c.pat = v; c.flushTlb(); return true; },
  },
  {
    index: MSR_IA32_EFER, name: 'IA32_EFER',
    read: (c) => BigInt(c.efer >>> 0),
    write: (c, v) => {
      // SCE, LME, LMA (read-only: the write's bit is ignored), NXE; reserved bits #GP (SDM vol. 3A §2.2.1).
      if ((v & ~BigInt(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)) !== 0n) return false;
      const n = Number(v);
      // Changing LME while paging is enabled is #GP (SDM vol. 3A §10.8.5).
      if ((c.cr0 & CR0_PG) !== 0 && ((n ^ c.efer) & EFER_LME) !== 0) return false;
      const old = c.efer;
      c.efer = (n & ~EFER_LMA) | (c.efer & EFER_LMA);
      if (((old ^ c.efer) & EFER_NXE) !== 0) c.flushTlb();
      c.updateMode();
      return true;
    },
  },
  { index: MSR_IA32_STAR, name: 'IA32_STAR', read: (c) => c.star, write: (c, v) => { c.star = v; return true; } },
  { index: MSR_IA32_LSTAR, name: 'IA32_LSTAR', ...canonicalNum((c) => c.lstar, (c, v) => { c.lstar = v; }) },
  { index: MSR_IA32_CSTAR, name: 'IA32_CSTAR', ...canonicalNum((c) => c.cstar, (c, v) => { c.cstar = v; }) },
  {
    index: MSR_IA32_FMASK, name: 'IA32_FMASK',
    read: (c) => BigInt(c.fmask >>> 0),
    write: (c, v) => { if ((v >> 32n) !== 0n) return false; c.fmask = Number(v); return true; },
  },
  { index: MSR_IA32_FS_BASE, name: 'IA32_FS_BASE', ...canonicalNum((c) => c.segBase[FS], (c, v) => { c.segBase[FS] = v; }) },
  { index: MSR_IA32_GS_BASE, name: 'IA32_GS_BASE', ...canonicalNum((c) => c.segBase[GS], (c, v) => { c.segBase[GS] = v; }) },
  { index: MSR_IA32_KERNEL_GS_BASE, name: 'IA32_KERNEL_GS_BASE', ...canonicalNum((c) => c.kernelGsBase, (c, v) => { c.kernelGsBase = v; }) },
  {
    index: MSR_IA32_TSC_AUX, name: 'IA32_TSC_AUX',
    read: (c) => BigInt(c.tscAux >>> 0),
    write: (c, v) => { if ((v >> 32n) !== 0n) return false; c.tscAux = Number(v); return true; },
  },
];
for (let n = 0; n < MTRR_VCNT; n++) {
  // PHYSBASEn: type 7:0, base 38:12. PHYSMASKn: valid bit 11, mask 38:12 (SDM vol. 3A §12.11.2.3).
  DEFS.push(stored(MSR_MTRR_PHYSBASE0 + 2 * n, `IA32_MTRR_PHYSBASE${n}`, 0n,
    (_c, v) => (v & ~(PHYS_MASK & ~0xf00n)) === 0n && MTRR_TYPES.has(Number(v & 0xffn))));
  DEFS.push(stored(MSR_MTRR_PHYSBASE0 + 2 * n + 1, `IA32_MTRR_PHYSMASK${n}`, 0n,
    (_c, v) => (v & ~(PHYS_MASK & ~0x7ffn)) === 0n));
}
const FIXED_NAMES = ['FIX64K_00000', 'FIX16K_80000', 'FIX16K_A0000', 'FIX4K_C0000', 'FIX4K_C8000', 'FIX4K_D0000',
  'FIX4K_D8000', 'FIX4K_E0000', 'FIX4K_E8000', 'FIX4K_F0000', 'FIX4K_F8000'];
MTRR_FIXED.forEach((index, k) => DEFS.push(stored(index, `IA32_MTRR_${FIXED_NAMES[k]}`, 0n, (_c, v) => bytesAllValid(v, MTRR_TYPES))));

/** Every implemented MSR by index (for RDMSR/WRMSR, the views and the tests). */
export const MSR_TABLE: ReadonlyMap<number, MsrDef> = new Map(DEFS.map((d) => [d.index, d]));

/** RDMSR semantics: the value, or null when the MSR does not exist (the caller raises #GP(0)). */
export function readMsr(c: Cpu, index: number): bigint | null {
  const d = MSR_TABLE.get(index >>> 0);
  return d === undefined ? null : d.read(c) & M64;
}

/** WRMSR semantics: false when the MSR does not exist or the value is invalid (#GP(0)). */
export function writeMsr(c: Cpu, index: number, value: bigint): boolean {
  const d = MSR_TABLE.get(index >>> 0);
  return d !== undefined && d.write(c, value & M64);
}
