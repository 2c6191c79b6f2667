// The platform I/O bus: routes x86 port I/O (64 KiB port space) and MMIO to devices, counts unassigned accesses.

/** Access sizes of IN/OUT (SDM Vol. 2 "IN"/"OUT": byte, word, doubleword). */
export type PortSize = 1 | 2 | 4;
/**
 * Access sizes a device sees for MMIO. An 8-byte access (MOV r64, MOVQ) is split by the bus into two
 * 4-byte accesses, low half first (`IoBus.mmioRead64`/`mmioWrite64`): a JS number cannot carry 64 bits
 * and a device would otherwise need two code paths.
 */
export type MmioSize = 1 | 2 | 4;

export interface PortDevice {
  readonly name: string;
  /**
   * `port` is the absolute port number (the bus routes a 2- or 4-byte access to the device owning its
   * FIRST port, as a PC chipset decodes it; the device decides what the other bytes mean). The result is
   * masked by the bus to `size` bytes.
   */
  ioRead(port: number, size: PortSize): number;
  ioWrite(port: number, size: PortSize, value: number): void;
  /** Side-effect-free read for the debugger's views; absent when a register cannot be read without effects. */
  ioPeek?(port: number, size: PortSize): number;
  /**
   * True when no access to it can change an interrupt line or a device's next timer event (a console that only
   * prints): a hypervisor may then keep the interrupt decision of the last VM entry (IoBus.quietPort).
   */
  readonly quiet?: boolean;
}

export interface MmioDevice {
  readonly name: string;
  /** `offset` is relative to the base the device is mapped at. */
  mmioRead(offset: number, size: MmioSize): number;
  mmioWrite(offset: number, size: MmioSize, value: number): void;
  mmioPeek?(offset: number, size: MmioSize): number;
}

export interface Snapshottable {
  /** A JSON-compatible deep copy of the device's whole state. */
  saveState(): unknown;
  /** Restores a state produced by saveState; throws DeviceStateError on a malformed one (nothing changed then). */
  loadState(s: unknown): void;
}

/** A malformed snapshot handed to loadState, or a bad device configuration. */
export class DeviceStateError extends Error {
  constructor(readonly device: string, message: string) {
    super(`${device}: ${message}`);
    this.name = 'DeviceStateError';
  }
}

/** Mapping two devices onto the same port or MMIO byte. */
export class BusConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BusConflictError';
  }
}

export interface BusRange {
  kind: 'pio' | 'mmio';
  first: number;
  last: number;
  name: string;
}

interface MmioEntry {
  readonly base: number;
  readonly end: number; // exclusive
  readonly dev: MmioDevice;
}

/** What findMmio returns: the owning device and the base it is mapped at (shared object; do not keep). */
export interface MmioHit {
  readonly dev: MmioDevice;
  readonly base: number;
}

const PORT_COUNT = 0x10000;
const SIZE_MASK = [0, 0xff, 0xffff, 0, 0xffffffff] as const;
/** Largest MMIO address + 1 the bus accepts: 2^52 covers every MAXPHYADDR (SDM Vol. 3A §4.1.4). */
const MMIO_LIMIT = 2 ** 52;

export interface UnassignedPortCount {
  port: number;
  reads: number;
  writes: number;
}

/**
 * Port I/O: a 64 Ki-entry table (port -> device index), so routing is one array load. A 2- or 4-byte
 * access is routed by its first port only, like a PC chipset that positively decodes the start address;
 * the device sees the whole access. Unassigned ports read as all ones (the ISA bus floats high; QEMU's
 * unassigned_io_read returns -1) and drop writes; both are counted per port.
 *
 * MMIO: a sorted list of non-overlapping ranges, found by binary search behind a one-entry cache.
 * Unassigned MMIO reads are all ones (PCI master abort), writes are dropped; both counted.
 */
export class IoBus {
  private readonly portOwner = new Uint16Array(PORT_COUNT); // 0 = none, else index + 1 into portDevices
  /** 1 where an access cannot change interrupts or timer events: unassigned ports and quiet devices' ports. */
  private readonly portQuiet = new Uint8Array(PORT_COUNT).fill(1);
  private readonly portDevices: PortDevice[] = [];
  private readonly portRanges: BusRange[] = [];
  private mmio: MmioEntry[] = [];
  private lastMmio: MmioEntry | null = null;

  unassignedPortReads = 0;
  unassignedPortWrites = 0;
  unassignedMmioReads = 0;
  unassignedMmioWrites = 0;
  private readonly unassignedByPort = new Map<number, { reads: number; writes: number }>();

  mapPorts(first: number, count: number, dev: PortDevice): void {
    if (!Number.isInteger(first) || !Number.isInteger(count) || count < 1 || first < 0 || first + count > PORT_COUNT) {
      throw new RangeError(`${dev.name}: port range first=${first} count=${count} is outside 0x0..0xffff`);
    }
    for (let p = first; p < first + count; p++) {
      const owner = this.portOwner[p];
      if (owner !== 0) {
        const other = this.portDevices[owner - 1];
        throw new BusConflictError(
          `port ${hex(p, 4)}: ${dev.name} (${hex(first, 4)}-${hex(first + count - 1, 4)}) overlaps ${other.name}`,
        );
      }
    }
    let idx = this.portDevices.indexOf(dev);
    if (idx < 0) {
      this.portDevices.push(dev);
      idx = this.portDevices.length - 1;
    }
    this.portOwner.fill(idx + 1, first, first + count);
    this.portQuiet.fill(dev.quiet === true ? 1 : 0, first, first + count);
    this.portRanges.push({ kind: 'pio', first, last: first + count - 1, name: dev.name });
  }

  mapMmio(base: number, size: number, dev: MmioDevice): void {
    if (!Number.isInteger(base) || !Number.isInteger(size) || base < 0 || size < 1 || base + size > MMIO_LIMIT) {
      throw new RangeError(`${dev.name}: MMIO range base=${base} size=${size} is outside physical address space`);
    }
    const end = base + size;
    for (const e of this.mmio) {
      if (base < e.end && e.base < end) {
        throw new BusConflictError(
          `MMIO ${hex(Math.max(base, e.base), 8)}: ${dev.name} (${hex(base, 8)}-${hex(end - 1, 8)}) overlaps ${e.dev.name} (${hex(e.base, 8)}-${hex(e.end - 1, 8)})`,
        );
      }
    }
    this.mmio.push({ base, end, dev });
    this.mmio.sort((a, b) => a.base - b.base);
    this.lastMmio = null;
  }

  /** The device that owns `port`, or null. */
  portDevice(port: number): PortDevice | null {
    const o = this.portOwner[port & 0xffff];
    return o === 0 ? null : this.portDevices[o - 1];
  }

  /**
   * Whether an access at `port` (any size: a wider one goes to the device owning its first port) can change no
   * interrupt line and no device's next timer event: unassigned (all ones, dropped) or a quiet device.
   */
  quietPort(port: number): boolean {
    return this.portQuiet[port & 0xffff] === 1;
  }

  ioRead(port: number, size: PortSize): number {
    port &= 0xffff;
    const o = this.portOwner[port];
    if (o === 0) {
      this.unassignedPortReads++;
      this.countUnassigned(port, 0);
      return SIZE_MASK[size];
    }
    const v = this.portDevices[o - 1].ioRead(port, size);
    return size === 4 ? v >>> 0 : v & SIZE_MASK[size];
  }

  ioWrite(port: number, size: PortSize, value: number): void {
    port &= 0xffff;
    const o = this.portOwner[port];
    if (o === 0) {
      this.unassignedPortWrites++;
      this.countUnassigned(port, 1);
      return;
    }
    this.portDevices[o - 1].ioWrite(port, size, size === 4 ? value >>> 0 : value & SIZE_MASK[size]);
  }

  /** Debugger read: no side effects; null if the device cannot be read without them. */
  ioPeek(port: number, size: PortSize): number | null {
    port &= 0xffff;
    const o = this.portOwner[port];
    if (o === 0) return SIZE_MASK[size];
    const dev = this.portDevices[o - 1];
    if (dev.ioPeek === undefined) return null;
    const v = dev.ioPeek(port, size);
    return size === 4 ? v >>> 0 : v & SIZE_MASK[size];
  }

  private countUnassigned(port: number, write: 0 | 1): void {
    let c = this.unassignedByPort.get(port);
    if (c === undefined) {
      c = { reads: 0, writes: 0 };
      this.unassignedByPort.set(port, c); // at most 65536 entries
    }
    if (write) c.writes++;
    else c.reads++;
  }

  /** Per-port counts of unassigned accesses, ascending by port. */
  unassignedPorts(): UnassignedPortCount[] {
    return [...this.unassignedByPort.entries()]
      .map(([port, c]) => ({ port, reads: c.reads, writes: c.writes }))
      .sort((a, b) => a.port - b.port);
  }

  /** The device owning physical byte `addr`, or null. Allocation-free: returns the bus's own entry. */
  findMmio(addr: number): MmioHit | null {
    const last = this.lastMmio;
    if (last !== null && addr >= last.base && addr < last.end) return last;
    const m = this.mmio;
    let lo = 0;
    let hi = m.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const e = m[mid];
      if (addr < e.base) hi = mid - 1;
      else if (addr >= e.end) lo = mid + 1;
      else {
        this.lastMmio = e;
        return e;
      }
    }
    return null;
  }

  /** MMIO read routed by the first byte's address (like ports); unassigned: all ones, counted. */
  mmioRead(addr: number, size: MmioSize): number {
    const f = this.findMmio(addr);
    if (f === null) {
      this.unassignedMmioReads++;
      return SIZE_MASK[size];
    }
    const v = f.dev.mmioRead(addr - f.base, size);
    return size === 4 ? v >>> 0 : v & SIZE_MASK[size];
  }

  mmioWrite(addr: number, size: MmioSize, value: number): void {
    const f = this.findMmio(addr);
    if (f === null) {
      this.unassignedMmioWrites++;
      return;
    }
    f.dev.mmioWrite(addr - f.base, size, size === 4 ? value >>> 0 : value & SIZE_MASK[size]);
  }

  /** An 8-byte MMIO read as two 4-byte reads, low dword (addr) first, then addr + 4; each half routed on its own. */
  mmioRead64(addr: number): bigint {
    const lo = this.mmioRead(addr, 4);
    const hi = this.mmioRead(addr + 4, 4);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** An 8-byte MMIO write as two 4-byte writes, low dword first. */
  mmioWrite64(addr: number, value: bigint): void {
    this.mmioWrite(addr, 4, Number(value & 0xffffffffn));
    this.mmioWrite(addr + 4, 4, Number((value >> 32n) & 0xffffffffn));
  }

  /** Debugger read of MMIO: null where the device has no side-effect-free peek. */
  mmioPeek(addr: number, size: MmioSize): number | null {
    const f = this.findMmio(addr);
    if (f === null) return SIZE_MASK[size];
    if (f.dev.mmioPeek === undefined) return null;
    const v = f.dev.mmioPeek(addr - f.base, size);
    return size === 4 ? v >>> 0 : v & SIZE_MASK[size];
  }

  /** Every mapped range, port ranges first then MMIO, each ascending; for the platform description and views. */
  ranges(): BusRange[] {
    const pio = [...this.portRanges].sort((a, b) => a.first - b.first).map((r) => ({ ...r }));
    const mmio = this.mmio.map((e): BusRange => ({ kind: 'mmio', first: e.base, last: e.end - 1, name: e.dev.name }));
    return [...pio, ...mmio];
  }

  /** Counters only: the mapping is configuration, rebuilt from the launch configuration. */
  saveState(): unknown {
    return {
      unassignedPortReads: this.unassignedPortReads,
      unassignedPortWrites: this.unassignedPortWrites,
      unassignedMmioReads: this.unassignedMmioReads,
      unassignedMmioWrites: this.unassignedMmioWrites,
      byPort: this.unassignedPorts().map((c) => [c.port, c.reads, c.writes]),
    };
  }

  loadState(s: unknown): void {
    const o = asRecord('bus', s);
    const counts = ['unassignedPortReads', 'unassignedPortWrites', 'unassignedMmioReads', 'unassignedMmioWrites'] as const;
    const vals = counts.map((k) => intField('bus', o, k, 0, Number.MAX_SAFE_INTEGER));
    const byPort = o.byPort;
    if (!Array.isArray(byPort) || byPort.length > PORT_COUNT) throw new DeviceStateError('bus', 'byPort: expected an array');
    const entries: [number, { reads: number; writes: number }][] = [];
    for (const e of byPort) {
      if (!Array.isArray(e) || e.length !== 3 || !e.every((x) => Number.isSafeInteger(x) && x >= 0) || e[0] > 0xffff) {
        throw new DeviceStateError('bus', 'byPort: expected [port, reads, writes] entries');
      }
      entries.push([e[0], { reads: e[1], writes: e[2] }]);
    }
    [this.unassignedPortReads, this.unassignedPortWrites, this.unassignedMmioReads, this.unassignedMmioWrites] = vals;
    this.unassignedByPort.clear();
    for (const [p, c] of entries) this.unassignedByPort.set(p, c);
  }
}

export function hex(v: number, digits: number): string {
  return '0x' + v.toString(16).padStart(digits, '0');
}

// Helpers for devices' loadState: validate before assigning anything.

export function asRecord(device: string, s: unknown): Record<string, unknown> {
  if (typeof s !== 'object' || s === null || Array.isArray(s)) throw new DeviceStateError(device, 'state: expected an object');
  return s as Record<string, unknown>;
}

export function intField(device: string, o: Record<string, unknown>, key: string, min: number, max: number): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new DeviceStateError(device, `state.${key}: expected an integer in ${min}..${max}`);
  }
  return v;
}

export function boolField(device: string, o: Record<string, unknown>, key: string): boolean {
  const v = o[key];
  if (typeof v !== 'boolean') throw new DeviceStateError(device, `state.${key}: expected a boolean`);
  return v;
}

export function byteArrayField(device: string, o: Record<string, unknown>, key: string, maxLen: number): number[] {
  const v = o[key];
  if (!Array.isArray(v) || v.length > maxLen || !v.every((b) => Number.isInteger(b) && b >= 0 && b <= 0xff)) {
    throw new DeviceStateError(device, `state.${key}: expected at most ${maxLen} bytes`);
  }
  return [...(v as number[])];
}
