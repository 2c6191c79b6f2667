// virtio vocabulary shared by the transport and devices: status bits, feature bits, device IDs, DMA memory, host hooks, events.
import { PAGE_SIZE } from '../../mem/physmem.js';
import type { PhysicalMemory } from '../../mem/physmem.js';

/** Device status bits (virtio 1.2 §2.1). */
export const VIRTIO_STATUS = {
  ACKNOWLEDGE: 1,
  DRIVER: 2,
  DRIVER_OK: 4,
  FEATURES_OK: 8,
  DEVICE_NEEDS_RESET: 64,
  FAILED: 128,
} as const;

/** Reserved (device-independent) feature bits (virtio 1.2 §6). Device-specific bits are 0..23. */
export const VIRTIO_F = {
  INDIRECT_DESC: 28,
  EVENT_IDX: 29, // VIRTIO_F_RING_EVENT_IDX
  VERSION_1: 32,
  ACCESS_PLATFORM: 33,
  RING_PACKED: 34,
  IN_ORDER: 35,
  ORDER_PLATFORM: 36,
  SR_IOV: 37,
  NOTIFICATION_DATA: 38,
  NOTIF_CONFIG_DATA: 39,
  RING_RESET: 40,
} as const;

/** Device IDs (virtio 1.2 §5). */
export const VIRTIO_ID = { NET: 1, BLOCK: 2, CONSOLE: 3, ENTROPY: 4 } as const;

/** InterruptStatus / InterruptACK bits (virtio 1.2 §4.2.2, table 4.1). */
export const VIRTIO_INT = { USED_BUFFER: 1, CONFIG_CHANGE: 2 } as const;

/** A feature bit as a bigint mask. */
export function featureBit(bit: number): bigint {
  return 1n << BigInt(bit);
}

/**
 * Guest memory as devices see it for DMA (guest-physical addresses). Reads (`isRam`, `read*`) have no side
 * effects (they are plain RAM reads: no MMIO, no code-cache or A/D updates), so `inspect()` uses them as its peek.
 * A device calls read/write only for ranges it checked with isRam.
 */
export interface DmaMemory {
  isRam(gpa: number, len: number): boolean;
  read(gpa: number, len: number): Uint8Array;
  write(gpa: number, data: Uint8Array): void;
  /** Copies `dst.length` bytes at `gpa` into `dst` (no allocation). */
  readInto(gpa: number, dst: Uint8Array): void;
  /**
   * write(gpa, src.subarray(srcOffset, srcOffset + length)) without making that view where it can: one copy per host
   * page the range touches (e.g. a 4 KiB disk block straight from the disk's bytes into guest RAM).
   */
  writeFrom(gpa: number, src: Uint8Array, srcOffset: number, length: number): void;
  read16(gpa: number): number;
  read32(gpa: number): number;
  write8(gpa: number, v: number): void;
  write16(gpa: number, v: number): void;
  write32(gpa: number, v: number): void;
}

/** What a virtio device needs from the machine. */
export interface VirtioHost {
  dma: DmaMemory;
  /** The device's interrupt line (level: asserted while InterruptStatus != 0). Called only when the level changes. */
  setIrq(level: boolean): void;
  /** Every VirtioEvent, for the exit log and the views. */
  log(event: VirtioEvent): void;
}

/** Events a virtio device reports to the host (one channel, typed). `device` is the device's name. */
export type VirtioEvent =
  /** A QueueNotify that was processed: `seq` numbers notifications per device; `requests` are the chains it took. */
  | { kind: 'notify'; device: string; seq: number; queue: number; requests: number[] }
  /** A QueueNotify that did nothing, with why (before DRIVER_OK, queue not ready, NEEDS_RESET, no such queue). */
  | { kind: 'notifyIgnored'; device: string; seq: number; queue: number; reason: string }
  /** Requests put in the used ring; `usedIdx` is used.idx after them. */
  | { kind: 'complete'; device: string; queue: number; requests: number[]; usedIdx: number }
  /** The interrupt line changed level; `interruptStatus` is the register's value. */
  | { kind: 'interrupt'; device: string; level: boolean; interruptStatus: number }
  /** The device set DEVICE_NEEDS_RESET (§2.1.2) and stopped; `reason` cites the violated rule. */
  | { kind: 'needsReset'; device: string; reason: string }
  /** FEATURES_OK was written but not kept (§2.2.1, §3.1.1 step 5). Feature masks as hex strings. */
  | { kind: 'featuresRejected'; device: string; driverFeatures: string; deviceFeatures: string; reason: string }
  /** The driver wrote Status (0 = reset). */
  | { kind: 'status'; device: string; from: number; to: number }
  /** A register access the spec forbids (§4.2.2.2) that was ignored: wrong size, read-only or write-only register, hole. */
  | { kind: 'badAccess'; device: string; offset: number; size: number; write: boolean; reason: string };

/** One stretch of guest RAM: guest-physical [gpa, gpa+size) lives at host-physical hpa (the hypervisor's RamRange). */
export interface DmaRange {
  gpa: number;
  hpa: number;
  size: number;
}

/**
 * DmaMemory over host-physical memory and the guest's RAM ranges (e.g. GuestMemory.ranges of the hypervisor, or
 * `[{ gpa: 0, hpa: 0, size: mem.size }]` for a flat machine). A buffer must lie inside one range. Writes go
 * through PhysicalMemory (write*, poke), so DMA into decoded code invalidates the decoded-instruction cache.
 */
export function dmaFromRanges(host: PhysicalMemory, ranges: readonly DmaRange[]): DmaMemory {
  return new RangeDma(host, ranges);
}

/** Copies of at most this many bytes go byte by byte (making a subarray view costs more than the loop). */
const SMALL_COPY = 64;

/** dmaFromRanges' adapter: the range lookup is a loop over a few numbers, allocation-free. */
class RangeDma implements DmaMemory {
  private readonly gpa: Float64Array;
  private readonly hpa: Float64Array;
  private readonly end: Float64Array;

  constructor(private readonly host: PhysicalMemory, ranges: readonly DmaRange[]) {
    this.gpa = Float64Array.from(ranges, (r) => r.gpa);
    this.hpa = Float64Array.from(ranges, (r) => r.hpa);
    this.end = Float64Array.from(ranges, (r) => r.gpa + r.size);
  }

  /** Host-physical address of [gpa, gpa+len) when it lies in one RAM range, else -1. */
  private toHost(gpa: number, len: number): number {
    for (let i = 0; i < this.gpa.length; i++) if (gpa >= this.gpa[i] && gpa + len <= this.end[i]) return this.hpa[i] + (gpa - this.gpa[i]);
    return -1;
  }

  private must(gpa: number, len: number): number {
    const h = this.toHost(gpa, len);
    if (h < 0) throw new RangeError(`DMA of ${len} bytes at guest-physical 0x${gpa.toString(16)} is not RAM`);
    return h;
  }

  isRam(gpa: number, len: number): boolean {
    return Number.isSafeInteger(gpa) && Number.isSafeInteger(len) && gpa >= 0 && len >= 0 && this.toHost(gpa, len) >= 0;
  }

  read(gpa: number, len: number): Uint8Array {
    return this.host.peek(this.must(gpa, len), len);
  }

  readInto(gpa: number, dst: Uint8Array): void {
    const h = this.must(gpa, dst.length);
    const host = this.host;
    // Page by page from the backing store (a page never written reads as zeros); no side effects, like peek.
    for (let i = 0; i < dst.length;) {
      const a = h + i;
      const o = a & (PAGE_SIZE - 1);
      const n = Math.min(PAGE_SIZE - o, dst.length - i);
      const p = host.pageOrNull(Math.floor(a / PAGE_SIZE));
      if (p === undefined) dst.fill(0, i, i + n);
      else if (n <= SMALL_COPY) for (let k = 0; k < n; k++) dst[i + k] = p[o + k]; // a descriptor, a header: no view object
      else dst.set(p.subarray(o, o + n), i);
      i += n;
    }
  }

  write(gpa: number, data: Uint8Array): void {
    this.host.poke(this.must(gpa, data.length), data);
  }

  writeFrom(gpa: number, src: Uint8Array, srcOffset: number, length: number): void {
    if (srcOffset < 0 || length < 0 || srcOffset + length > src.length) throw new RangeError(`DMA source range ${srcOffset}+${length} outside ${src.length} bytes`);
    const h = this.must(gpa, length);
    const host = this.host;
    for (let i = 0; i < length;) {
      const a = h + i;
      const o = a & (PAGE_SIZE - 1);
      const n = Math.min(PAGE_SIZE - o, length - i);
      const from = srcOffset + i;
      // Through writablePage as poke's writes go (dirty for snapshots); a page holding decoded code goes through poke,
      // which invalidates that code (undefined here).
      const p = host.writablePage(Math.floor(a / PAGE_SIZE));
      if (p !== undefined && n <= SMALL_COPY) for (let k = 0; k < n; k++) p[o + k] = src[from + k];
      else {
        const part = from === 0 && n === src.length ? src : src.subarray(from, from + n);
        if (p !== undefined) p.set(part, o);
        else host.poke(a, part);
      }
      i += n;
    }
  }

  read16(gpa: number): number {
    return this.host.read16(this.must(gpa, 2));
  }

  read32(gpa: number): number {
    return this.host.read32(this.must(gpa, 4));
  }

  write8(gpa: number, v: number): void {
    this.host.write8(this.must(gpa, 1), v & 0xff);
  }

  write16(gpa: number, v: number): void {
    this.host.write16(this.must(gpa, 2), v & 0xffff);
  }

  write32(gpa: number, v: number): void {
    this.host.write32(this.must(gpa, 4), v >>> 0);
  }
}

export function hex64(v: bigint): string {
  return '0x' + v.toString(16).padStart(16, '0');
}
