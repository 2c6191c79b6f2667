// virtio vocabulary shared by the transport and devices: status bits, feature bits, device IDs, DMA memory, host hooks, events.
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
  read16(gpa: number): number;
  read32(gpa: number): number;
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
 * through PhysicalMemory.poke, so DMA into decoded code invalidates the decoded-instruction cache.
 */
export function dmaFromRanges(host: PhysicalMemory, ranges: readonly DmaRange[]): DmaMemory {
  const rs = ranges.map((r) => ({ ...r }));
  const toHost = (gpa: number, len: number): number => {
    for (const r of rs) if (gpa >= r.gpa && gpa + len <= r.gpa + r.size) return r.hpa + (gpa - r.gpa);
    return -1;
  };
  const must = (gpa: number, len: number): number => {
    const h = toHost(gpa, len);
    if (h < 0) throw new RangeError(`DMA of ${len} bytes at guest-physical 0x${gpa.toString(16)} is not RAM`);
    return h;
  };
  return {
    isRam: (gpa, len) => Number.isSafeInteger(gpa) && Number.isSafeInteger(len) && gpa >= 0 && len >= 0 && toHost(gpa, len) >= 0,
    read: (gpa, len) => host.peek(must(gpa, len), len),
    write: (gpa, data) => host.poke(must(gpa, data.length), data),
    read16: (gpa) => host.read16(must(gpa, 2)),
    read32: (gpa) => host.read32(must(gpa, 4)),
    write16: (gpa, v) => host.write16(must(gpa, 2), v & 0xffff),
    write32: (gpa, v) => host.write32(must(gpa, 4), v >>> 0),
  };
}

export function hex64(v: bigint): string {
  return '0x' + v.toString(16).padStart(16, '0');
}
