// Fast VMCS field access for the VMX unit's entry and exit paths: numbers, precomputed offsets, no BigInt.
import { VMCS_FIELDS, type VmcsFieldName } from './fields.js';
import { vmcsFieldOffset } from './vmcs.js';
import type { PhysicalMemory } from '../mem/physmem.js';

const OFFSET: Record<string, number> = {};
const WIDTH: Record<string, number> = {};
for (const f of VMCS_FIELDS) { OFFSET[f.name] = vmcsFieldOffset(f); WIDTH[f.name] = f.width === '16' ? 16 : f.width === '32' ? 32 : 64; }

const TWO32 = 4294967296;

/**
 * The current VMCS as the VMX unit reads and writes it on VM entry and exit. The region in
 * host-physical memory is the storage, except for the guest-state fields the processor holds
 * between an exit and their flush (see `cached`).
 * 64-bit and natural-width values are handled as numbers: addresses are exact (canonical,
 * sign-extended ones become negative numbers), other 64-bit values are given as lo/hi.
 */
/**
 * Fields that change at nearly every exit and entry (handled by the fast entry check,
 * entry-fast.ts); a change to any other field bumps `generation`, forcing full VM-entry checks.
 */
export const VOLATILE_FIELDS: readonly VmcsFieldName[] = [
  'GUEST_RIP', 'GUEST_RSP', 'GUEST_RFLAGS', 'GUEST_INTERRUPTIBILITY_INFO', 'GUEST_ACTIVITY_STATE',
  'VM_ENTRY_INTR_INFO_FIELD', 'VM_ENTRY_EXCEPTION_ERROR_CODE', 'VM_ENTRY_INSTRUCTION_LEN', 'VMX_PREEMPTION_TIMER_VALUE',
  'CPU_BASED_VM_EXEC_CONTROL', 'PIN_BASED_VM_EXEC_CONTROL',
  // VM-exit information fields are read-only data, not checked by VM entry.
  'VM_INSTRUCTION_ERROR', 'VM_EXIT_REASON', 'EXIT_QUALIFICATION', 'GUEST_LINEAR_ADDRESS', 'GUEST_PHYSICAL_ADDRESS',
  'VM_EXIT_INTR_INFO', 'VM_EXIT_INTR_ERROR_CODE', 'IDT_VECTORING_INFO_FIELD', 'IDT_VECTORING_ERROR_CODE',
  'VM_EXIT_INSTRUCTION_LEN', 'VMX_INSTRUCTION_INFO',
];
/** 1 for volatile fields, indexed by byte offset / 8. */
const VOLATILE_BY_OFF = new Uint8Array(512);
for (const n of VOLATILE_FIELDS) VOLATILE_BY_OFF[OFFSET[n] >>> 3] = 1;

/**
 * Guest-state fields a VM exit leaves in the processor instead of writing them to the region: all of the
 * guest-state area the processor loads and saves. A processor may keep VMCS data on chip (SDM vol. 3C
 * §25.11.1; software must use VMREAD/VMWRITE, §25.2). Vmx.cacheSource serves reads; the region gets the
 * values when something writes or looks at it raw (flush), or when the processor leaves the guest's context.
 * Two kinds: CPU_CACHED_FIELDS are written back (flushed) before software writes any of them;
 * CPU_PER_EXIT_FIELDS — RIP, RSP, RFLAGS, interruptibility and activity state, which a hypervisor writes at
 * nearly every exit — go to the processor when it can take the value as it is (an exit handler advancing RIP
 * sets the processor's RIP), else to the region, marked as the region's (Vmx.liveDirty) for the next entry.
 */
export const CPU_CACHED_FIELDS: readonly VmcsFieldName[] = [
  ...(['ES', 'CS', 'SS', 'DS', 'FS', 'GS', 'LDTR', 'TR'] as const).flatMap((s) => [`GUEST_${s}_SELECTOR`, `GUEST_${s}_BASE`, `GUEST_${s}_LIMIT`, `GUEST_${s}_AR_BYTES`] as VmcsFieldName[]),
  'GUEST_GDTR_BASE', 'GUEST_GDTR_LIMIT', 'GUEST_IDTR_BASE', 'GUEST_IDTR_LIMIT',
  'GUEST_SYSENTER_CS', 'GUEST_SYSENTER_ESP', 'GUEST_SYSENTER_EIP', 'GUEST_DR7', 'GUEST_IA32_PAT',
  'GUEST_CR0', 'GUEST_CR3', 'GUEST_CR4', 'GUEST_IA32_EFER',
];
/** The per-exit guest-state fields the processor holds after an exit (bit k of Vmx.liveDirty is field k). */
export const CPU_PER_EXIT_FIELDS: readonly VmcsFieldName[] = [
  'GUEST_RIP', 'GUEST_RSP', 'GUEST_RFLAGS', 'GUEST_INTERRUPTIBILITY_INFO', 'GUEST_ACTIVITY_STATE',
];
/** By byte offset / 8: 1 for CPU_CACHED_FIELDS, 2 + k for CPU_PER_EXIT_FIELDS[k], else 0. */
export const CACHED_BY_OFF = new Uint8Array(512);
for (const n of CPU_CACHED_FIELDS) CACHED_BY_OFF[OFFSET[n] >>> 3] = 1;
CPU_PER_EXIT_FIELDS.forEach((n, k) => { CACHED_BY_OFF[OFFSET[n] >>> 3] = 2 + k; });

/** Where the processor-held fields' current values come from while the region's copies are stale (the VMX unit). */
export interface VmcsCacheSource {
  /** The field's low / high 32 bits as the processor holds them (or as written since, for per-exit fields). */
  lo(off: number): number;
  hi(off: number): number;
  /** Write every held field to the region (then the region is current and `cached` is cleared). */
  flush(): void;
  /**
   * Software writes per-exit field CPU_PER_EXIT_FIELDS[k]: true when the processor took the value (it holds the
   * field still); false when the caller must store it in the region, which then has the field's value.
   */
  write(k: number, lo: number, hi: number): boolean;
}

export class VmcsAccess {
  /** Host-physical address of the VMCS region (4 KiB aligned). */
  region = -1;
  /** Bumped whenever a field outside VOLATILE_FIELDS changes value through this accessor. */
  generation = 0;
  /** BigInt values last read per field, valid while the field's two words are unchanged (checked on every read). */
  private readonly cacheLo = new Float64Array(VMCS_FIELDS.length).fill(-1);
  private readonly cacheHi = new Float64Array(VMCS_FIELDS.length).fill(-1);
  private readonly cacheBig: bigint[] = new Array(VMCS_FIELDS.length).fill(0n);
  /** A 32-bit view of the region's page in host memory (the storage itself, not a copy). */
  private view: Uint32Array<ArrayBufferLike> = new Uint32Array(1024);
  private viewRegion = -2;
  private viewEpoch = -1;
  /**
   * Set by the VMX unit between a VM exit and the next entry or flush: the processor-held fields of the
   * region are stale and this source has their values. Reads go to it; a write flushes first (a per-exit
   * field's write goes to the region and tells the source).
   */
  cached: VmcsCacheSource | null = null;
  constructor(private readonly mem: PhysicalMemory) {}

  /** Byte offset of a field in the region (for the hot paths' precomputed offsets). */
  static offset(name: VmcsFieldName): number {
    return OFFSET[name];
  }

  /** The region's words, refreshed when the region moves or memory was restored from a snapshot. */
  words(): Uint32Array<ArrayBufferLike> {
    // Small enough for V8 to inline at every exit-path caller; the refresh is a method of its own.
    return this.viewRegion === this.region && this.viewEpoch === this.mem.epoch ? this.view : this.refreshView();
  }

  private refreshView(): Uint32Array<ArrayBufferLike> {
    const page = this.mem.writablePage(this.region / 4096);
    if (page === undefined || this.region % 4096 !== 0) throw new Error(`VMCS region 0x${this.region.toString(16)} is not a writable 4 KiB page`);
    this.view = new Uint32Array(page.buffer, page.byteOffset, 1024);
    this.viewRegion = this.region;
    this.viewEpoch = this.mem.epoch;
    return this.view;
  }

  r32(off: number): number {
    if (this.cached !== null && CACHED_BY_OFF[off >>> 3] !== 0) return this.cached.lo(off);
    return this.words()[off >>> 2];
  }

  /** High 32 bits of the field at `off`. */
  r32hi(off: number): number {
    if (this.cached !== null && CACHED_BY_OFF[off >>> 3] !== 0) return this.cached.hi(off);
    return this.words()[(off >>> 2) + 1];
  }

  w32(off: number, v: number): void {
    this.put(off, v >>> 0, 0);
  }

  /** Store a field's two words; bump the generation when a non-volatile field changes. */
  private put(off: number, lo: number, hi: number): void {
    if (this.cached !== null) {
      const kind = CACHED_BY_OFF[off >>> 3];
      if (kind === 1) this.cached.flush();
      else if (kind >= 2 && this.cached.write(kind - 2, lo, hi)) return;
    }
    const w = this.words(), k = off >>> 2;
    if (VOLATILE_BY_OFF[off >>> 3] === 0 && (w[k] !== lo || w[k + 1] !== hi)) this.generation++;
    w[k] = lo;
    w[k + 1] = hi;
  }

  rNum(off: number): number {
    return (this.r32hi(off) | 0) * TWO32 + this.r32(off);
  }

  wNum(off: number, v: number): void {
    this.put(off, v >>> 0, Math.floor(v / TWO32) >>> 0);
  }

  get32(name: VmcsFieldName): number {
    return this.r32(OFFSET[name]);
  }

  set32(name: VmcsFieldName, v: number): void {
    this.put(OFFSET[name], v >>> 0, 0);
  }

  /** High 32 bits of a 64-bit / natural-width field. */
  getHi(name: VmcsFieldName): number {
    return this.r32hi(OFFSET[name]);
  }

  setLoHi(name: VmcsFieldName, lo: number, hi: number): void {
    this.put(OFFSET[name], lo >>> 0, hi >>> 0);
  }

  /** A 64-bit field as a signed number (exact for canonical addresses and values below 2^53). */
  getNum(name: VmcsFieldName): number {
    return this.rNum(OFFSET[name]);
  }

  setNum(name: VmcsFieldName, v: number): void {
    this.put(OFFSET[name], v >>> 0, Math.floor(v / TWO32) >>> 0);
  }

  getBig(name: VmcsFieldName): bigint {
    return this.rBig(OFFSET[name]);
  }

  /** A field as a BigInt by byte offset (cached per field: no allocation while the value is unchanged). */
  rBig(off: number): bigint {
    const hi = this.r32hi(off), lo = this.r32(off);
    const slot = (off - 16) >>> 3;
    if (this.cacheLo[slot] === lo && this.cacheHi[slot] === hi) return this.cacheBig[slot];
    const v = hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
    this.cacheLo[slot] = lo; this.cacheHi[slot] = hi; this.cacheBig[slot] = v;
    return v;
  }

  /** Width-masked write of a field by name (the fast path of VMWRITE for the hypervisor's own use). */
  setBig(name: VmcsFieldName, v: bigint): void {
    const w = WIDTH[name];
    const m = w === 16 ? v & 0xffffn : w === 32 ? v & 0xffffffffn : BigInt.asUintN(64, v);
    this.put(OFFSET[name], Number(m & 0xffffffffn), Number(m >> 32n));
  }
}
