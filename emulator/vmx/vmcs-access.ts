// Fast VMCS field access for the VMX unit's entry and exit paths: numbers, precomputed offsets, no BigInt.
import { VMCS_FIELDS, type VmcsFieldName } from './fields.js';
import { vmcsFieldOffset } from './vmcs.js';
import type { PhysicalMemory } from '../mem/physmem.js';

const OFFSET: Record<string, number> = {};
for (const f of VMCS_FIELDS) OFFSET[f.name] = vmcsFieldOffset(f);

const TWO32 = 4294967296;

/**
 * The current VMCS as the VMX unit reads and writes it on VM entry and exit. The region in
 * host-physical memory is the only storage (so views read exactly what drives the CPU).
 * 64-bit and natural-width values are handled as numbers: addresses are exact (canonical,
 * sign-extended ones become negative numbers), other 64-bit values are given as lo/hi.
 */
export class VmcsAccess {
  region = -1;
  constructor(private readonly mem: PhysicalMemory) {}

  get32(name: VmcsFieldName): number {
    return this.mem.read32(this.region + OFFSET[name]);
  }

  set32(name: VmcsFieldName, v: number): void {
    const a = this.region + OFFSET[name];
    this.mem.write32(a, v >>> 0);
    this.mem.write32(a + 4, 0);
  }

  /** High 32 bits of a 64-bit / natural-width field. */
  getHi(name: VmcsFieldName): number {
    return this.mem.read32(this.region + OFFSET[name] + 4);
  }

  setLoHi(name: VmcsFieldName, lo: number, hi: number): void {
    const a = this.region + OFFSET[name];
    this.mem.write32(a, lo >>> 0);
    this.mem.write32(a + 4, hi >>> 0);
  }

  /** A 64-bit field as a signed number (exact for canonical addresses and values below 2^53). */
  getNum(name: VmcsFieldName): number {
    const a = this.region + OFFSET[name];
    return (this.mem.read32(a + 4) | 0) * TWO32 + this.mem.read32(a);
  }

  setNum(name: VmcsFieldName, v: number): void {
    const a = this.region + OFFSET[name];
    this.mem.write32(a, v >>> 0);
    this.mem.write32(a + 4, Math.floor(v / TWO32) >>> 0);
  }

  getBig(name: VmcsFieldName): bigint {
    const a = this.region + OFFSET[name];
    return (BigInt(this.mem.read32(a + 4)) << 32n) | BigInt(this.mem.read32(a));
  }
}
