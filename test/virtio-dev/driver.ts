// Driver-side mock for the virtio device tests: guest RAM, a split-queue writer/reader and §3.1.1 initialization over MMIO.
import { PhysicalMemory } from '../../emulator/mem/physmem.js';
import type { MmioDevice } from '../../emulator/devices/bus.js';
import type { DmaMemory, VirtioEvent, VirtioHost } from '../../emulator/devices/virtio/index.js';
import { dmaFromRanges } from '../../emulator/devices/virtio/index.js';

// Constants written from the virtio 1.2 text, not imported from the implementation: the tests check it against the spec.
export const REG = {
  MagicValue: 0x000, Version: 0x004, DeviceID: 0x008, VendorID: 0x00c, DeviceFeatures: 0x010, DeviceFeaturesSel: 0x014,
  DriverFeatures: 0x020, DriverFeaturesSel: 0x024, QueueSel: 0x030, QueueNumMax: 0x034, QueueNum: 0x038, QueueReady: 0x044,
  QueueNotify: 0x050, InterruptStatus: 0x060, InterruptACK: 0x064, Status: 0x070, QueueDescLow: 0x080, QueueDescHigh: 0x084,
  QueueDriverLow: 0x090, QueueDriverHigh: 0x094, QueueDeviceLow: 0x0a0, QueueDeviceHigh: 0x0a4, SHMSel: 0x0ac,
  SHMLenLow: 0x0b0, SHMLenHigh: 0x0b4, SHMBaseLow: 0x0b8, SHMBaseHigh: 0x0bc, QueueReset: 0x0c0, ConfigGeneration: 0x0fc, Config: 0x100,
} as const; // §4.2.2 table 4.1
export const ST = { ACKNOWLEDGE: 1, DRIVER: 2, DRIVER_OK: 4, FEATURES_OK: 8, DEVICE_NEEDS_RESET: 64, FAILED: 128 } as const; // §2.1
export const F_INDIRECT_DESC = 1n << 28n; // §6
export const F_EVENT_IDX = 1n << 29n;
export const F_VERSION_1 = 1n << 32n;
export const DESC_F_NEXT = 1; // §2.7.5
export const DESC_F_WRITE = 2;
export const DESC_F_INDIRECT = 4;

export const RAM_SIZE = 4 * 1024 * 1024;

export class TestHost implements VirtioHost {
  readonly mem: PhysicalMemory;
  readonly dma: DmaMemory;
  irqLevel = false;
  irqEdges = 0;
  events: VirtioEvent[] = [];

  constructor(size = RAM_SIZE) {
    this.mem = new PhysicalMemory(size);
    this.dma = dmaFromRanges(this.mem, [{ gpa: 0, hpa: 0, size }]);
  }

  setIrq(level: boolean): void {
    if (level === this.irqLevel) throw new Error('setIrq called without a level change');
    this.irqLevel = level;
    if (level) this.irqEdges++;
  }

  log(e: VirtioEvent): void {
    this.events.push(e);
    if (this.events.length > 10000) this.events.splice(0, 5000);
  }

  ofKind<K extends VirtioEvent['kind']>(kind: K): Extract<VirtioEvent, { kind: K }>[] {
    return this.events.filter((e): e is Extract<VirtioEvent, { kind: K }> => e.kind === kind);
  }
}

export interface Buf {
  addr: number;
  len: number;
  write?: boolean;
}

/** The driver's view of one split queue in guest RAM (§2.7), rings at fixed places. */
export class MockQueue {
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
  availIdx = 0;
  lastUsed = 0;
  private nextDesc = 0;

  constructor(readonly mem: PhysicalMemory, readonly index: number, readonly size: number, base: number) {
    this.desc = base;
    this.avail = base + 16 * size;
    this.used = (this.avail + 6 + 2 * size + 3) & ~3;
  }

  writeDesc(table: number, i: number, addr: number, len: number, flags: number, next: number): void {
    const a = table + 16 * i;
    this.mem.write32(a, addr % 0x100000000);
    this.mem.write32(a + 4, Math.floor(addr / 0x100000000));
    this.mem.write32(a + 8, len);
    this.mem.write16(a + 12, flags);
    this.mem.write16(a + 14, next);
  }

  /** Writes a chain into the descriptor table (or an indirect table at `indirectAt`) and makes it available. */
  add(bufs: Buf[], opts: { indirectAt?: number; publish?: boolean } = {}): number {
    const head = this.nextDesc;
    if (opts.indirectAt !== undefined) {
      bufs.forEach((b, i) => {
        const last = i === bufs.length - 1;
        this.writeDesc(opts.indirectAt!, i, b.addr, b.len, (b.write ? DESC_F_WRITE : 0) | (last ? 0 : DESC_F_NEXT), last ? 0 : i + 1);
      });
      this.writeDesc(this.desc, head, opts.indirectAt, 16 * bufs.length, DESC_F_INDIRECT, 0);
      this.nextDesc = (head + 1) % this.size;
    } else {
      bufs.forEach((b, i) => {
        const idx = (head + i) % this.size;
        const last = i === bufs.length - 1;
        this.writeDesc(this.desc, idx, b.addr, b.len, (b.write ? DESC_F_WRITE : 0) | (last ? 0 : DESC_F_NEXT), last ? 0 : (idx + 1) % this.size);
      });
      this.nextDesc = (head + bufs.length) % this.size;
    }
    this.publishHead(head, opts.publish ?? true);
    return head;
  }

  /** Puts `head` in the next available slot; with publish, advances avail.idx (§2.7.13). */
  publishHead(head: number, publish = true): void {
    this.mem.write16(this.avail + 4 + 2 * (this.availIdx % this.size), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    if (publish) this.mem.write16(this.avail + 2, this.availIdx);
  }

  setAvailIdx(v: number): void {
    this.mem.write16(this.avail + 2, v);
  }

  setAvailFlags(v: number): void {
    this.mem.write16(this.avail, v);
  }

  /** used_event (EVENT_IDX, §2.7.7). */
  setUsedEvent(v: number): void {
    this.mem.write16(this.avail + 4 + 2 * this.size, v);
  }

  availEvent(): number {
    return this.mem.read16(this.used + 4 + 8 * this.size);
  }

  usedIdx(): number {
    return this.mem.read16(this.used + 2);
  }

  /** Used elements published since the last call (§2.7.14). */
  reap(): { id: number; len: number }[] {
    const out: { id: number; len: number }[] = [];
    const idx = this.usedIdx();
    while (this.lastUsed !== idx) {
      const e = this.used + 4 + 8 * (this.lastUsed % this.size);
      out.push({ id: this.mem.read32(e), len: this.mem.read32(e + 4) });
      this.lastUsed = (this.lastUsed + 1) & 0xffff;
    }
    return out;
  }
}

export interface InitOptions {
  /** Which offered features to accept (default: all offered). */
  accept?: (offered: bigint) => bigint;
  queues?: { index: number; size: number; base: number }[];
}

/** MMIO as a driver does it: 32-bit accesses (§4.2.2.2). */
export class MockDriver {
  queues: MockQueue[] = [];
  constructor(readonly dev: MmioDevice, readonly host: TestHost) {}

  r(off: number): number {
    return this.dev.mmioRead(off, 4) >>> 0;
  }

  w(off: number, v: number): void {
    this.dev.mmioWrite(off, 4, v >>> 0);
  }

  status(): number {
    return this.r(REG.Status);
  }

  offered(): bigint {
    this.w(REG.DeviceFeaturesSel, 0);
    const lo = this.r(REG.DeviceFeatures);
    this.w(REG.DeviceFeaturesSel, 1);
    const hi = this.r(REG.DeviceFeatures);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** §3.1.1 steps 1-6; returns whether FEATURES_OK stuck. */
  negotiate(accept: (offered: bigint) => bigint = (o) => o): boolean {
    this.w(REG.Status, 0); // 1. reset
    this.w(REG.Status, ST.ACKNOWLEDGE); // 2.
    this.w(REG.Status, ST.ACKNOWLEDGE | ST.DRIVER); // 3.
    const f = accept(this.offered()); // 4.
    this.w(REG.DriverFeaturesSel, 0);
    this.w(REG.DriverFeatures, Number(f & 0xffffffffn));
    this.w(REG.DriverFeaturesSel, 1);
    this.w(REG.DriverFeatures, Number((f >> 32n) & 0xffffffffn));
    this.w(REG.Status, ST.ACKNOWLEDGE | ST.DRIVER | ST.FEATURES_OK); // 5.
    return (this.status() & ST.FEATURES_OK) !== 0; // 6.
  }

  /** §4.2.3.2 virtqueue configuration. */
  setupQueue(index: number, size: number, base: number): MockQueue {
    this.w(REG.QueueSel, index);
    if (this.r(REG.QueueReady) !== 0) throw new Error(`queue ${index} already ready`);
    const max = this.r(REG.QueueNumMax);
    if (max === 0 || size > max) throw new Error(`queue ${index}: QueueNumMax ${max}`);
    const q = new MockQueue(this.host.mem, index, size, base);
    this.host.mem.poke(base, new Uint8Array(q.used + 6 + 8 * size - base)); // the driver zeroes its rings
    this.w(REG.QueueNum, size);
    this.w(REG.QueueDescLow, q.desc);
    this.w(REG.QueueDescHigh, 0);
    this.w(REG.QueueDriverLow, q.avail);
    this.w(REG.QueueDriverHigh, 0);
    this.w(REG.QueueDeviceLow, q.used);
    this.w(REG.QueueDeviceHigh, 0);
    this.w(REG.QueueReady, 1);
    this.queues[index] = q;
    return q;
  }

  /** The whole §3.1.1 sequence; throws if FEATURES_OK does not stick. */
  init(opts: InitOptions & { queueCount: number; size?: number }): MockQueue[] {
    if (!this.negotiate(opts.accept)) throw new Error('FEATURES_OK not kept');
    const qs = opts.queues ?? Array.from({ length: opts.queueCount }, (_, i) => ({ index: i, size: opts.size ?? 16, base: 0x10000 + i * 0x10000 }));
    for (const q of qs) this.setupQueue(q.index, q.size, q.base); // 7.
    this.w(REG.Status, ST.ACKNOWLEDGE | ST.DRIVER | ST.FEATURES_OK | ST.DRIVER_OK); // 8.
    return this.queues;
  }

  notify(q: number): void {
    this.w(REG.QueueNotify, q);
  }

  /** Interrupt handler: read InterruptStatus, acknowledge it (§4.2.3.4). */
  ack(): number {
    const s = this.r(REG.InterruptStatus);
    this.w(REG.InterruptACK, s);
    return s;
  }

  configRead(off: number, size: 1 | 2 | 4): number {
    return this.dev.mmioRead(REG.Config + off, size) >>> 0;
  }
}
