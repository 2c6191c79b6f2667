// The CPUID model (SDM vol. 2A CPUID): one table of leaves whose feature bits are exactly what vmscope implements.
import type { Cpu } from './cpu.js';
import { CR4_OSXSAVE } from './regs.js';
import { MAXPHYADDR } from './paging.js';

/** Processor signature (family 6, model 0, stepping 0): CPUID.1:EAX and EDX after reset (SDM vol. 3A §9.1.4). */
export const CPU_SIGNATURE = 0x00000600;
/** Highest basic and extended leaves (CPUID.0:EAX, CPUID.80000000H:EAX). */
export const CPUID_MAX_BASIC = 0xd;
export const CPUID_MAX_EXTENDED = 0x80000008;
export const CPUID_VENDOR = 'GenuineIntel';
export const CPUID_BRAND = 'vmscope virtual CPU';
/** Linear-address width (CPUID.80000008H:EAX[15:8]). */
export const LINEAR_ADDRESS_BITS = 48;

/**
 * CPUID.1:EDX feature bits (SDM vol. 2A table 3-11) that vmscope implements.
 * FPU (bit 0) is NOT advertised: only the x87 control instructions (FNINIT, FNSTCW/FLDCW,
 * FNSTSW, FNCLEX, FNSTENV/FLDENV, FXSAVE/FXRSTOR state) exist; x87 arithmetic raises a reported
 * #UD, so a guest that checks the bit must not believe it has a working FPU.
 * MMX (bit 23) is not advertised either: MMX-register forms are reported unimplemented.
 */
export const LEAF1_EDX = {
  PSE: 1 << 3, TSC: 1 << 4, MSR: 1 << 5, PAE: 1 << 6, CX8: 1 << 8, SEP: 1 << 11, MTRR: 1 << 12,
  PGE: 1 << 13, CMOV: 1 << 15, PAT: 1 << 16, PSE36: 1 << 17, CLFSH: 1 << 19, FXSR: 1 << 24,
  SSE: 1 << 25, SSE2: 1 << 26,
} as const;
/** CPUID.1:ECX feature bits (SDM vol. 2A table 3-10). OSXSAVE (bit 27) mirrors CR4.OSXSAVE; HYPERVISOR (bit 31) is the VMM's to add. */
export const LEAF1_ECX = { CX16: 1 << 13, MOVBE: 1 << 22, POPCNT: 1 << 23, XSAVE: 1 << 26 } as const;
export const LEAF1_ECX_OSXSAVE = 1 << 27;
/** CPUID.(EAX=7,ECX=0):EBX and ECX (SDM vol. 2A table 3-8, leaf 07H). */
export const LEAF7_EBX = { FSGSBASE: 1 << 0 } as const;
export const LEAF7_ECX = { UMIP: 1 << 2 } as const;
/** CPUID.80000001H:ECX and EDX. */
export const EXT1_ECX = { LAHF_LM: 1 << 0, ABM_LZCNT: 1 << 5 } as const;
export const EXT1_EDX = { SYSCALL: 1 << 11, NX: 1 << 20, PAGE1GB: 1 << 26, RDTSCP: 1 << 27, LM: 1 << 29 } as const;
/** XSAVE-managed state components (XCR0 bits, SDM vol. 1 §13.1): x87 and SSE only. */
export const XCR0_X87 = 1, XCR0_SSE = 2, XCR0_SUPPORTED = XCR0_X87 | XCR0_SSE;
/** Size of the XSAVE area for x87|SSE: legacy region 512 + header 64 (SDM vol. 1 §13.4). */
export const XSAVE_AREA_SIZE = 512 + 64;

const or = (o: Record<string, number>): number => Object.values(o).reduce((a, b) => (a | b) >>> 0, 0);

function str4(s: string, k: number): number {
  let v = 0;
  for (let j = 0; j < 4; j++) v |= (s.charCodeAt(k + j) || 0) << (8 * j);
  return v >>> 0;
}
const BRAND48 = CPUID_BRAND.padEnd(48, '\0');
/** The feature words, or-ed once (CPUID runs at every CPUID exit). */
const F1_ECX = or(LEAF1_ECX), F1_EDX = or(LEAF1_EDX), F7_EBX = or(LEAF7_EBX), F7_ECX = or(LEAF7_ECX), FX_ECX = or(EXT1_ECX), FX_EDX = or(EXT1_EDX);
const VENDOR_WORDS = [str4(CPUID_VENDOR, 0), str4(CPUID_VENDOR, 8), str4(CPUID_VENDOR, 4)] as const;

export type CpuidResult = [eax: number, ebx: number, ecx: number, edx: number];
type LeafFn = (c: Pick<Cpu, 'cr4'>, subleaf: number) => CpuidResult;

/** The leaf table: every leaf up to the maxima has an entry (reserved leaves return zeros). */
export const CPUID_LEAVES: ReadonlyMap<number, { name: string; fn: LeafFn }> = new Map<number, { name: string; fn: LeafFn }>([
  [0x0, { name: 'maximum basic leaf and vendor', fn: () => [CPUID_MAX_BASIC, VENDOR_WORDS[0], VENDOR_WORDS[1], VENDOR_WORDS[2]] }],
  [0x1, {
    name: 'version and features',
    // EBX: brand index 0, CLFLUSH line 8*8 = 64 bytes, 1 logical processor, initial APIC ID 0.
    fn: (c) => [CPU_SIGNATURE, (8 << 8) | (1 << 16), (F1_ECX | ((c.cr4 & CR4_OSXSAVE) !== 0 ? LEAF1_ECX_OSXSAVE : 0)) >>> 0, F1_EDX],
  }],
  // Leaf 2: one iteration, no descriptors (AL = 1, null descriptors elsewhere).
  [0x2, { name: 'cache and TLB descriptors', fn: () => [1, 0, 0, 0] }],
  [0x3, { name: 'reserved (serial number)', fn: () => [0, 0, 0, 0] }],
  // Leaf 4: cache type 0 = no more caches.
  [0x4, { name: 'deterministic cache parameters', fn: () => [0, 0, 0, 0] }],
  [0x5, { name: 'MONITOR/MWAIT (not supported)', fn: () => [0, 0, 0, 0] }],
  [0x6, { name: 'thermal and power management', fn: () => [0, 0, 0, 0] }],
  [0x7, {
    name: 'structured extended features',
    fn: (_c, sub) => sub === 0 ? [0, F7_EBX, F7_ECX, 0] : [0, 0, 0, 0],
  }],
  [0x8, { name: 'reserved', fn: () => [0, 0, 0, 0] }],
  [0x9, { name: 'direct cache access', fn: () => [0, 0, 0, 0] }],
  // Leaf 0AH version 0: no performance-monitoring counters (RDPMC always #GP).
  [0xa, { name: 'architectural performance monitoring (none)', fn: () => [0, 0, 0, 0] }],
  [0xb, { name: 'extended topology (not enumerated)', fn: () => [0, 0, 0, 0] }],
  [0xc, { name: 'reserved', fn: () => [0, 0, 0, 0] }],
  [0xd, {
    name: 'XSAVE features',
    // Sub-leaf 0: supported XCR0 bits, size for the enabled features, maximum size (SDM vol. 1 §13.2).
    // x87 and SSE both live in the 512-byte legacy region, so both sizes are 576.
    fn: (_c, sub) => sub === 0 ? [XCR0_SUPPORTED, XSAVE_AREA_SIZE, XSAVE_AREA_SIZE, 0] : [0, 0, 0, 0],
  }],
  [0x80000000, { name: 'maximum extended leaf', fn: () => [CPUID_MAX_EXTENDED, 0, 0, 0] }],
  [0x80000001, { name: 'extended features', fn: () => [0, 0, FX_ECX, FX_EDX] }],
  [0x80000002, { name: 'brand string 1', fn: () => brand(0) }],
  [0x80000003, { name: 'brand string 2', fn: () => brand(16) }],
  [0x80000004, { name: 'brand string 3', fn: () => brand(32) }],
  [0x80000005, { name: 'reserved', fn: () => [0, 0, 0, 0] }],
  [0x80000006, { name: 'L2 cache (not enumerated)', fn: () => [0, 0, 0, 0] }],
  [0x80000007, { name: 'invariant TSC (not enumerated)', fn: () => [0, 0, 0, 0] }],
  [0x80000008, { name: 'address sizes', fn: () => [(LINEAR_ADDRESS_BITS << 8) | MAXPHYADDR, 0, 0, 0] }],
]);

function brand(off: number): CpuidResult {
  return [str4(BRAND48, off), str4(BRAND48, off + 4), str4(BRAND48, off + 8), str4(BRAND48, off + 12)];
}

/**
 * CPUID for leaf EAX / sub-leaf ECX. A leaf above the maximum basic or extended leaf returns
 * the data of the highest basic leaf (SDM vol. 2A CPUID, "If a value entered for CPUID.EAX is
 * higher than the maximum input value..."). The VMM wraps this model (hypervisor leaves, bit 31).
 */
export function cpuidModel(c: Pick<Cpu, 'cr4'>, leaf: number, subleaf: number): CpuidResult {
  leaf >>>= 0;
  const e = CPUID_LEAVES.get(leaf);
  if (e !== undefined) return e.fn(c, subleaf >>> 0);
  return CPUID_LEAVES.get(CPUID_MAX_BASIC)!.fn(c, subleaf >>> 0);
}
