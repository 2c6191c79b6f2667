// Guest-physical memory as the hypervisor lays it out in host-physical memory: RAM ranges at an offset, holes for MMIO.
import type { PhysicalMemory } from '../mem/physmem.js';

/** One stretch of guest RAM: guest-physical [gpa, gpa+size) lives at host-physical hpa. */
export interface RamRange {
  gpa: number;
  hpa: number;
  size: number;
}

/** Guest-physical addresses from here to 4 GiB are the PCI/MMIO hole (LAPIC, I/O APIC, future virtio). */
export const MMIO_HOLE_START = 0xc0000000;
const FOUR_GIB = 0x100000000;

/**
 * The guest's physical address space. RAM below 3 GiB is one range; RAM beyond that continues
 * above 4 GiB, as on a PC. Everything else is unassigned or MMIO: EPT does not map it, so a
 * guest access to it exits to the hypervisor (EPT_VIOLATION).
 */
export class GuestMemory {
  readonly ranges: RamRange[];
  readonly ramSize: number;

  constructor(readonly host: PhysicalMemory, readonly hostBase: number, ramSize: number) {
    this.ramSize = ramSize;
    const low = Math.min(ramSize, MMIO_HOLE_START);
    this.ranges = [{ gpa: 0, hpa: hostBase, size: low }];
    if (ramSize > low) this.ranges.push({ gpa: FOUR_GIB, hpa: hostBase + low, size: ramSize - low });
  }

  /** Host-physical address of a guest-physical RAM byte, or -1 outside RAM. */
  toHost(gpa: number): number {
    // An indexed loop: for-of makes an iterator per call, and MMIO exits ask this a few times each.
    const ranges = this.ranges;
    for (let k = 0; k < ranges.length; k++) { const r = ranges[k]; if (gpa >= r.gpa && gpa < r.gpa + r.size) return r.hpa + (gpa - r.gpa); }
    return -1;
  }

  isRam(gpa: number, len = 1): boolean {
    const h = this.toHost(gpa);
    return h >= 0 && this.toHost(gpa + len - 1) === h + len - 1;
  }

  /** Bytes of RAM below the MMIO hole: where images may be loaded (the loader's notion of memory size). */
  get size(): number {
    return this.ranges[0].size;
  }

  /** Highest guest-physical address + 1 of RAM. */
  get top(): number {
    const r = this.ranges[this.ranges.length - 1];
    return r.gpa + r.size;
  }

  read8(gpa: number): number {
    const h = this.toHost(gpa);
    return h < 0 ? 0xff : this.host.read8(h);
  }

  read32(gpa: number): number {
    const h = this.toHost(gpa);
    if (h >= 0 && this.isRam(gpa, 4)) return this.host.read32(h);
    return (this.read8(gpa) | (this.read8(gpa + 1) << 8) | (this.read8(gpa + 2) << 16) | (this.read8(gpa + 3) << 24)) >>> 0;
  }

  write8(gpa: number, v: number): void {
    const h = this.toHost(gpa);
    if (h >= 0) this.host.write8(h, v);
  }

  write32(gpa: number, v: number): void {
    const h = this.toHost(gpa);
    if (h >= 0 && this.isRam(gpa, 4)) { this.host.write32(h, v); return; }
    for (let k = 0; k < 4; k++) this.write8(gpa + k, v >>> (8 * k));
  }

  /** Copy bytes in (loader); bytes outside RAM are refused. */
  poke(gpa: number, data: Uint8Array): void {
    let i = 0;
    while (i < data.length) {
      const h = this.toHost(gpa + i);
      if (h < 0) throw new RangeError(`guest-physical 0x${(gpa + i).toString(16)} is not RAM`);
      const r = this.ranges.find((x) => gpa + i >= x.gpa && gpa + i < x.gpa + x.size)!;
      const n = Math.min(data.length - i, r.gpa + r.size - (gpa + i));
      this.host.poke(h, data.subarray(i, i + n));
      i += n;
    }
  }

  /** Side-effect-free copy out; bytes outside RAM read as 0xFF. */
  peek(gpa: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    this.peekInto(gpa, out, 0, len);
    return out;
  }

  /** peek() into `out[at …]` (no allocation): RAM a range at a time, 0xFF outside RAM. */
  peekInto(gpa: number, out: Uint8Array, at: number, len: number): void {
    for (let i = 0; i < len;) {
      const h = this.toHost(gpa + i);
      if (h < 0) { out[at + i] = 0xff; i++; continue; }
      const r = this.ranges.find((x) => gpa + i >= x.gpa && gpa + i < x.gpa + x.size)!;
      const n = Math.min(len - i, r.gpa + r.size - (gpa + i));
      this.host.peekInto(h, out, at + i, n);
      i += n;
    }
  }

  fill0(gpa: number, len: number): void {
    const h = this.toHost(gpa);
    if (h >= 0 && this.isRam(gpa, len)) this.host.fill0(h, len);
  }
}
