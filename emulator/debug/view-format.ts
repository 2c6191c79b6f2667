// Shared helpers of the inspection views: hex strings for JSON, side-effect-free host-memory reads, the hypervisor's VMCS region.
import type { PhysicalMemory } from '../mem/physmem.js';
import { vmcsGet } from '../vmx/vmcs.js';
import type { VmcsFieldName } from '../vmx/fields.js';
import { HOST_LAYOUT, type Hypervisor } from '../vmm/hypervisor.js';

/** A 64-bit value as "0x…" (unsigned; numbers may be negative canonical addresses or exceed 2^32). */
export function hex(v: number | bigint, digits = 0): string {
  const b = typeof v === 'bigint' ? BigInt.asUintN(64, v) : BigInt.asUintN(64, BigInt(Number.isFinite(v) ? Math.trunc(v) : 0));
  return '0x' + b.toString(16).padStart(digits, '0');
}

/** A 64-bit little-endian value of host-physical memory; plain reads: no allocation, no code-cache or MMIO effects. */
export function peek64(host: PhysicalMemory, hpa: number): bigint {
  if (!host.contains(hpa, 8)) return 0n;
  return BigInt(host.read32(hpa) >>> 0) | (BigInt(host.read32(hpa + 4) >>> 0) << 32n);
}

/**
 * A field of the hypervisor's VMCS, read from its region in host memory (what hv.vmread returns, but without
 * touching the VMX unit's accessor: no region switch, no page allocation, no caches; SDM vol. 3C §25.2).
 */
export function vmcsPeek(hv: Hypervisor, name: VmcsFieldName): bigint {
  // Guest-state fields the processor still holds after an exit are read from it (vmcs-access.ts CPU_CACHED_FIELDS).
  return hv.vmx.peekCached(name) ?? vmcsGet(hv.host, HOST_LAYOUT.vmcs, name);
}

/** Bits [lo, lo+width) of a bigint as a number (width ≤ 52). */
export function bits(v: bigint, lo: number, width: number): number {
  return Number((v >> BigInt(lo)) & ((1n << BigInt(width)) - 1n));
}

/** A view's argument is unusable (bad address, unknown table): the adapter answers the request with this message. */
export class ViewError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ViewError';
  }
}

/** An address argument as a bigint: numbers (negative = canonical upper half), bigints, or "0x…"/decimal strings. */
export function toAddress(v: number | bigint | string, what: string): bigint {
  let b: bigint;
  if (typeof v === 'bigint') b = v;
  else if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new ViewError(`${what}: ${v} is not an integer address`);
    b = BigInt(v);
  } else {
    const s = v.trim();
    if (!/^(0x[0-9a-f]+|[0-9]+)$/i.test(s) || s.length > 20) throw new ViewError(`${what}: "${v}" is not an address (decimal or 0x-prefixed hex)`);
    b = BigInt(s);
  }
  if (b < -(1n << 63n) || b >= 1n << 64n) throw new ViewError(`${what}: ${v} does not fit in 64 bits`);
  return BigInt.asUintN(64, b);
}
