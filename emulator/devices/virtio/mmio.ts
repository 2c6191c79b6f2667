// virtio-mmio version 2 transport (virtio 1.2 §4.2): registers, status state machine, feature negotiation, queues, interrupts, records, snapshots.
import type { MmioDevice, MmioSize, Snapshottable } from '../bus.js';
import { asRecord, boolField, DeviceStateError, intField } from '../bus.js';
import type { Chain, Descriptor } from './queue.js';
import { newChain, SplitQueue, VirtqueueError, walkChain } from './queue.js';
import type { VirtioEvent, VirtioHost } from './types.js';
import { featureBit, hex64, VIRTIO_F, VIRTIO_INT, VIRTIO_STATUS } from './types.js';

/** Register offsets (virtio 1.2 §4.2.2, table 4.1). */
export const VIRTIO_MMIO = {
  MAGIC_VALUE: 0x000,
  VERSION: 0x004,
  DEVICE_ID: 0x008,
  VENDOR_ID: 0x00c,
  DEVICE_FEATURES: 0x010,
  DEVICE_FEATURES_SEL: 0x014,
  DRIVER_FEATURES: 0x020,
  DRIVER_FEATURES_SEL: 0x024,
  QUEUE_SEL: 0x030,
  QUEUE_NUM_MAX: 0x034,
  QUEUE_NUM: 0x038,
  QUEUE_READY: 0x044,
  QUEUE_NOTIFY: 0x050,
  INTERRUPT_STATUS: 0x060,
  INTERRUPT_ACK: 0x064,
  STATUS: 0x070,
  QUEUE_DESC_LOW: 0x080,
  QUEUE_DESC_HIGH: 0x084,
  QUEUE_DRIVER_LOW: 0x090,
  QUEUE_DRIVER_HIGH: 0x094,
  QUEUE_DEVICE_LOW: 0x0a0,
  QUEUE_DEVICE_HIGH: 0x0a4,
  SHM_SEL: 0x0ac,
  SHM_LEN_LOW: 0x0b0,
  SHM_LEN_HIGH: 0x0b4,
  SHM_BASE_LOW: 0x0b8,
  SHM_BASE_HIGH: 0x0bc,
  QUEUE_RESET: 0x0c0,
  CONFIG_GENERATION: 0x0fc,
  CONFIG: 0x100,
} as const;

/** "virt" little-endian (§4.2.2). */
export const VIRTIO_MMIO_MAGIC = 0x74726976;
export const VIRTIO_MMIO_VERSION = 2;
/**
 * VendorID: virtio-mmio has no vendor registry (PCI's would be 0x1AF4); Linux only prints it. "vmsc" in memory
 * order (0x63736d76), as QEMU reports "QEMU" (0x554D4551).
 */
export const VIRTIO_MMIO_VENDOR = 0x63736d76;
/** One 4 KiB register window per device (virtio-platform facts). */
export const VIRTIO_MMIO_WINDOW = 0x1000;
/** QueueNumMax of every queue. */
export const VIRTIO_QUEUE_NUM_MAX = 256;
/** Request records kept for the views. */
export const VIRTIO_HISTORY = 256;
/** Descriptors listed per request record / in-flight chain in the views. */
export const VIRTIO_VIEW_DESCRIPTORS = 64;

/** Access kinds of the control registers (§4.2.2 table 4.1), by offset / 4: 0 none, then read-only, write-only, read-write. */
const RO = 1, WO = 2, RW = 3;
const REGISTER_KIND = (() => {
  const R = VIRTIO_MMIO;
  const t = new Uint8Array(VIRTIO_MMIO.CONFIG / 4);
  for (const o of [R.MAGIC_VALUE, R.VERSION, R.DEVICE_ID, R.VENDOR_ID, R.DEVICE_FEATURES, R.QUEUE_NUM_MAX, R.INTERRUPT_STATUS,
    R.SHM_LEN_LOW, R.SHM_LEN_HIGH, R.SHM_BASE_LOW, R.SHM_BASE_HIGH, R.CONFIG_GENERATION]) t[o / 4] = RO;
  for (const o of [R.DEVICE_FEATURES_SEL, R.DRIVER_FEATURES, R.DRIVER_FEATURES_SEL, R.QUEUE_SEL, R.QUEUE_NUM, R.QUEUE_NOTIFY,
    R.INTERRUPT_ACK, R.QUEUE_DESC_LOW, R.QUEUE_DESC_HIGH, R.QUEUE_DRIVER_LOW, R.QUEUE_DRIVER_HIGH, R.QUEUE_DEVICE_LOW,
    R.QUEUE_DEVICE_HIGH, R.SHM_SEL]) t[o / 4] = WO;
  for (const o of [R.QUEUE_READY, R.STATUS, R.QUEUE_RESET]) t[o / 4] = RW;
  return t;
})();

/** Features every device here offers (§6): VERSION_1 (required for version 2), INDIRECT_DESC, RING_EVENT_IDX. */
export const VIRTIO_COMMON_FEATURES = featureBit(VIRTIO_F.VERSION_1) | featureBit(VIRTIO_F.INDIRECT_DESC) | featureBit(VIRTIO_F.EVENT_IDX);

const COMMON_FEATURE_NAMES: Record<number, string> = {
  [VIRTIO_F.INDIRECT_DESC]: 'VIRTIO_F_INDIRECT_DESC',
  [VIRTIO_F.EVENT_IDX]: 'VIRTIO_F_RING_EVENT_IDX',
  [VIRTIO_F.VERSION_1]: 'VIRTIO_F_VERSION_1',
};

const STATUS_NAMES: [number, string][] = [
  [VIRTIO_STATUS.ACKNOWLEDGE, 'ACKNOWLEDGE'],
  [VIRTIO_STATUS.DRIVER, 'DRIVER'],
  [VIRTIO_STATUS.DRIVER_OK, 'DRIVER_OK'],
  [VIRTIO_STATUS.FEATURES_OK, 'FEATURES_OK'],
  [VIRTIO_STATUS.DEVICE_NEEDS_RESET, 'DEVICE_NEEDS_RESET'],
  [VIRTIO_STATUS.FAILED, 'FAILED'],
];

export function statusNames(s: number): string[] {
  return STATUS_NAMES.filter(([b]) => (s & b) !== 0).map(([, n]) => n);
}

/** A descriptor as the views show it. */
export interface DescriptorView {
  index: number;
  addr: number;
  len: number;
  flags: number;
  next: number;
  indirect: boolean;
}

/** One request (a chain the device took), for the views. */
export interface VirtioRequestRecord {
  id: number;
  queue: number;
  head: number;
  /** The first VIRTIO_VIEW_DESCRIPTORS descriptors; descriptorCount has the total. */
  descriptors: DescriptorView[];
  descriptorCount: number;
  /** 'out' = only device-readable buffers (driver to device), 'in' = only device-writable, 'in+out' = both. */
  direction: 'in' | 'out' | 'in+out' | 'none';
  readableBytes: number;
  writableBytes: number;
  /** What the device made of it, e.g. "T_IN sector 8, 4096 bytes: OK". */
  summary: string;
  state: 'in-flight' | 'completed';
  /** Bytes the device wrote (the used element's len). */
  usedLen: number | null;
  /** The QueueNotify (seq) that submitted it, or null when the device took it on its own (console input). */
  notify: number | null;
  /** used.idx right after its completion. */
  usedIdx: number | null;
}

export interface InFlightChain {
  /** Free-running available index of the slot. */
  availIdx: number;
  head: number;
  descriptors: DescriptorView[];
  descriptorCount: number;
  error: string | null;
}

export interface VirtioQueueView {
  index: number;
  size: number;
  maxSize: number;
  ready: boolean;
  descAddr: number;
  availAddr: number;
  usedAddr: number;
  lastAvailIdx: number;
  usedIdx: number;
  eventIdx: boolean;
  indirect: boolean;
  /** As in guest memory (null when the queue is not ready: the device does not read disabled rings, §4.2.2.1). */
  availIdxInMemory: number | null;
  availFlags: number | null;
  usedIdxInMemory: number | null;
  usedFlags: number | null;
  usedEvent: number | null;
  availEvent: number | null;
  /** Chains made available and not yet taken (console receive buffers wait here). */
  inFlight: InFlightChain[];
  error: string | null;
}

export interface VirtioDeviceView {
  name: string;
  deviceId: number;
  status: number;
  statusNames: string[];
  deviceFeatures: string;
  driverFeatures: string;
  /** Names of the offered features, and whether the driver accepted each. */
  features: { bit: number; name: string; accepted: boolean }[];
  interruptStatus: number;
  irqLevel: boolean;
  needsResetReason: string | null;
  configGeneration: number;
  notifications: number;
  queues: VirtioQueueView[];
  requests: VirtioRequestRecord[];
  /** Device-specific facts (capacity, pending input, PRNG position...). */
  detail: Record<string, unknown>;
}

/**
 * A chain the device took, with its record. The transport reuses one Request, its Chain and its record slot for
 * every request: a device completes (or fails) each request before it takes the next one.
 */
export interface Request {
  chain: Chain;
  record: RequestSlot;
}

/** Builds a request's summary from four numbers when a view asks for it (so completing a request builds no string). */
export type SummaryFormat = (a: number, b: number, c: number, d: number) => string;

/**
 * One entry of the request history, reused in a ring of VIRTIO_HISTORY slots (taking a request allocates nothing
 * once the ring is full). `toRecord()` gives the view's VirtioRequestRecord.
 */
export class RequestSlot {
  id = 0;
  queue = 0;
  head = 0;
  /** descriptors[0 .. shown) are the record's first VIRTIO_VIEW_DESCRIPTORS descriptors. */
  readonly descriptors: DescriptorView[] = [];
  shown = 0;
  descriptorCount = 0;
  direction: VirtioRequestRecord['direction'] = 'none';
  readableBytes = 0;
  writableBytes = 0;
  state: VirtioRequestRecord['state'] = 'in-flight';
  usedLen: number | null = null;
  notify: number | null = null;
  usedIdx: number | null = null;
  /** The summary as text, or built by `format` from a, b, c, d. */
  private text = '';
  private format: SummaryFormat | null = null;
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;

  get summary(): string {
    return this.format !== null ? this.format(this.a, this.b, this.c, this.d) : this.text;
  }

  setSummary(text: string): void {
    this.text = text;
    this.format = null;
  }

  setSummaryFormat(format: SummaryFormat, a: number, b: number, c: number, d: number): void {
    this.format = format;
    this.a = a;
    this.b = b;
    this.c = c;
    this.d = d;
  }

  /** Fills the slot from a chain just taken. */
  fill(id: number, queue: number, chain: Chain, notify: number | null): void {
    this.id = id;
    this.queue = queue;
    this.head = chain.head;
    const shown = Math.min(chain.count, VIRTIO_VIEW_DESCRIPTORS);
    let r = false, w = false;
    for (let k = 0; k < chain.count; k++) {
      const d = chain.descriptors[k];
      if (d.writable) w = true;
      else r = true;
      if (k >= shown) continue;
      if (k === this.descriptors.length) this.descriptors.push({ index: 0, addr: 0, len: 0, flags: 0, next: 0, indirect: false });
      const v = this.descriptors[k];
      v.index = d.index; v.addr = d.addr; v.len = d.len; v.flags = d.flags; v.next = d.next; v.indirect = d.indirect;
    }
    this.shown = shown;
    this.descriptorCount = chain.count;
    this.direction = r && w ? 'in+out' : r ? 'out' : w ? 'in' : 'none';
    this.readableBytes = chain.readable;
    this.writableBytes = chain.writable;
    this.setSummary('');
    this.state = 'in-flight';
    this.usedLen = null;
    this.notify = notify;
    this.usedIdx = null;
  }

  /** Fills the slot from a (validated) record, e.g. from a snapshot. */
  assign(rec: VirtioRequestRecord): void {
    this.id = rec.id;
    this.queue = rec.queue;
    this.head = rec.head;
    this.descriptors.length = 0;
    for (const d of rec.descriptors) this.descriptors.push({ ...d });
    this.shown = rec.descriptors.length;
    this.descriptorCount = rec.descriptorCount;
    this.direction = rec.direction;
    this.readableBytes = rec.readableBytes;
    this.writableBytes = rec.writableBytes;
    this.setSummary(rec.summary);
    this.state = rec.state;
    this.usedLen = rec.usedLen;
    this.notify = rec.notify;
    this.usedIdx = rec.usedIdx;
  }

  /** A fresh copy for views and snapshots. */
  toRecord(): VirtioRequestRecord {
    const descriptors: DescriptorView[] = [];
    for (let k = 0; k < this.shown; k++) descriptors.push({ ...this.descriptors[k] });
    return {
      id: this.id, queue: this.queue, head: this.head, descriptors, descriptorCount: this.descriptorCount, direction: this.direction,
      readableBytes: this.readableBytes, writableBytes: this.writableBytes, summary: this.summary, state: this.state,
      usedLen: this.usedLen, notify: this.notify, usedIdx: this.usedIdx,
    };
  }
}

/** The last VIRTIO_HISTORY requests, oldest first, in a ring of reused slots. */
class RequestHistory {
  private readonly slots: RequestSlot[] = [];
  /** Index of the oldest slot once the ring is full. */
  private start = 0;

  get length(): number {
    return this.slots.length;
  }

  /** The slot for a new request: a new one until the ring is full, then the oldest. */
  next(): RequestSlot {
    if (this.slots.length < VIRTIO_HISTORY) {
      const s = new RequestSlot();
      this.slots.push(s);
      return s;
    }
    const s = this.slots[this.start];
    this.start = (this.start + 1) % VIRTIO_HISTORY;
    return s;
  }

  records(): VirtioRequestRecord[] {
    const out: VirtioRequestRecord[] = [];
    for (let k = 0; k < this.slots.length; k++) out.push(this.slots[(this.start + k) % this.slots.length].toRecord());
    return out;
  }

  load(records: readonly VirtioRequestRecord[]): void {
    this.slots.length = 0;
    this.start = 0;
    for (const r of records) {
      const s = new RequestSlot();
      s.assign(r);
      this.slots.push(s);
    }
  }
}

interface QueueRegs {
  descLo: number;
  descHi: number;
  drvLo: number;
  drvHi: number;
  devLo: number;
  devHi: number;
}

function toView(d: Descriptor): DescriptorView {
  return { index: d.index, addr: d.addr, len: d.len, flags: d.flags, next: d.next, indirect: d.indirect };
}

function hx(v: number): string {
  return '0x' + v.toString(16);
}

const U32 = 0xffffffff;

/**
 * A virtio device behind the virtio-mmio v2 transport. Subclasses give the device type (ID, feature bits,
 * configuration space, queue count) and process their queues; this class does everything of §2 and §4.2.
 *
 * Processing model (deterministic, synchronous): a QueueNotify write processes that queue's available chains at
 * once (at most Queue Size chains per notify: the ring never holds more, §2.7.6), puts them in the used ring, and
 * then raises the used-buffer interrupt unless the driver suppressed it (§2.7.7). Chains a device cannot complete
 * yet (console receive buffers with no input) stay in the available ring; the device takes them when input arrives.
 *
 * Violations: a protocol error (bad ring, bad chain, bad request framing, queue registers written while the queue is
 * ready, status bits cleared, DRIVER_OK without FEATURES_OK) sets DEVICE_NEEDS_RESET with a reason (§2.1.2; plus a
 * configuration-change interrupt after DRIVER_OK) and the device does nothing more until reset. A register access
 * the spec forbids but that changes nothing (wrong size, reading a write-only register, writing a read-only one,
 * undefined offsets) is ignored and logged as 'badAccess'; reads of it return 0.
 */
export abstract class VirtioMmioDevice implements MmioDevice, Snapshottable {
  abstract readonly deviceId: number;
  /** Device-specific feature bits offered (VIRTIO_COMMON_FEATURES is added). */
  protected abstract readonly deviceFeatureBits: bigint;
  /** Names of the device-specific feature bits for the views. */
  protected abstract readonly featureNames: Record<number, string>;

  protected readonly queues: SplitQueue[];
  private readonly regs: QueueRegs[];
  private status = 0;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private driverFeatures = 0n;
  /** The driver wrote non-zero DriverFeatures with DriverFeaturesSel >= 2 (bits beyond 64: never offered). */
  private driverFeaturesBeyond64 = false;
  private queueSel = 0;
  private shmSel = 0;
  private interruptStatus = 0;
  private irqLevel = false;
  protected configGeneration = 0;
  private needsResetReason: string | null = null;
  private notifyCount = 0;
  private requestCount = 0;
  private readonly history = new RequestHistory();
  /** The one Request (chain and record slot) the device is working on. */
  private readonly request: Request = { chain: newChain(), record: new RequestSlot() };
  /** Budget of chains the current queue run may still take. */
  private budget = 0;
  private runNotify: number | null = null;
  /** Request ids completed and taken in the current queue run: reused buffers, copied at their exact length into the run's events. */
  private readonly runCompleted: number[] = [];
  private readonly runTaken: number[] = [];
  private running = false;
  private readonly deferredKicks = new Set<number>();

  constructor(readonly name: string, protected readonly host: VirtioHost, queueCount: number) {
    this.queues = [];
    this.regs = [];
    for (let i = 0; i < queueCount; i++) {
      this.queues.push(new SplitQueue(i, VIRTIO_QUEUE_NUM_MAX));
      this.regs.push({ descLo: 0, descHi: 0, drvLo: 0, drvHi: 0, devLo: 0, devHi: 0 });
    }
  }

  // ---- device-type hooks ----

  /** The device-specific configuration space (§4.2.2 offset 0x100), as its current bytes. */
  protected abstract configSpace(): Uint8Array;
  /** A driver write to configuration space (already checked for size and alignment). Default: ignored. */
  protected configWrite(offset: number, size: MmioSize, _value: number): void {
    this.badAccess(VIRTIO_MMIO.CONFIG + offset, size, true, 'configuration field is read-only');
  }
  /** Process queue `q`: take chains with this.take(q) and complete them with this.complete(...). */
  protected abstract processQueue(q: number): void;
  /** Device reset (§2.4): drop device-specific driver-visible state. Host-side data (disk contents, input) stays. */
  protected abstract resetDevice(): void;
  /** Called when the driver sets DRIVER_OK. */
  protected onDriverOk(): void {}
  protected abstract saveDevice(): unknown;
  /** Validate fully, then assign (DeviceStateError on a bad state, nothing changed). */
  protected abstract loadDevice(s: unknown): void;
  protected abstract detail(): Record<string, unknown>;

  // ---- MMIO ----

  mmioRead(offset: number, size: MmioSize): number {
    const bad = this.accessError(offset, size, false);
    if (bad !== null) {
      this.badAccess(offset, size, false, bad);
      return 0;
    }
    return this.mmioPeek(offset, size);
  }

  /** The register's value without side effects (no register read has one in virtio-mmio); 0 where reading is not allowed. */
  mmioPeek(offset: number, size: MmioSize): number {
    if (this.accessError(offset, size, false) !== null) return 0;
    if (offset >= VIRTIO_MMIO.CONFIG) {
      const cfg = this.configSpace();
      const o = offset - VIRTIO_MMIO.CONFIG;
      let v = 0;
      for (let i = size - 1; i >= 0; i--) v = v * 256 + (o + i < cfg.length ? cfg[o + i] : 0);
      return v >>> 0;
    }
    const R = VIRTIO_MMIO;
    const qExists = this.queueSel < this.queues.length;
    switch (offset) {
      case R.MAGIC_VALUE: return VIRTIO_MMIO_MAGIC;
      case R.VERSION: return VIRTIO_MMIO_VERSION;
      case R.DEVICE_ID: return this.deviceId;
      case R.VENDOR_ID: return VIRTIO_MMIO_VENDOR;
      case R.DEVICE_FEATURES:
        return this.deviceFeaturesSel > 1 ? 0 : Number((this.offeredFeatures() >> BigInt(32 * this.deviceFeaturesSel)) & 0xffffffffn);
      case R.QUEUE_NUM_MAX: return qExists ? this.queues[this.queueSel].maxSize : 0; // §4.2.3.2: 0 = no such queue
      case R.QUEUE_READY: return qExists && this.queues[this.queueSel].ready ? 1 : 0;
      case R.INTERRUPT_STATUS: return this.interruptStatus;
      case R.STATUS: return this.status;
      case R.SHM_LEN_LOW: case R.SHM_LEN_HIGH: case R.SHM_BASE_LOW: case R.SHM_BASE_HIGH:
        return U32; // no shared memory regions: length -1 (§4.2.2)
      case R.QUEUE_RESET: return 0; // VIRTIO_F_RING_RESET not offered
      case R.CONFIG_GENERATION: return this.configGeneration;
      default: return 0;
    }
  }

  mmioWrite(offset: number, size: MmioSize, value: number): void {
    const bad = this.accessError(offset, size, true);
    if (bad !== null) {
      this.badAccess(offset, size, true, bad);
      return;
    }
    value >>>= 0;
    if (offset >= VIRTIO_MMIO.CONFIG) {
      this.configWrite(offset - VIRTIO_MMIO.CONFIG, size, value);
      return;
    }
    const R = VIRTIO_MMIO;
    switch (offset) {
      case R.DEVICE_FEATURES_SEL: this.deviceFeaturesSel = value; return;
      case R.DRIVER_FEATURES_SEL: this.driverFeaturesSel = value; return;
      case R.DRIVER_FEATURES: this.writeDriverFeatures(value); return;
      case R.QUEUE_SEL: this.queueSel = value; return;
      case R.QUEUE_NUM: case R.QUEUE_DESC_LOW: case R.QUEUE_DESC_HIGH: case R.QUEUE_DRIVER_LOW:
      case R.QUEUE_DRIVER_HIGH: case R.QUEUE_DEVICE_LOW: case R.QUEUE_DEVICE_HIGH:
        this.writeQueueConfig(offset, value);
        return;
      case R.QUEUE_READY: this.writeQueueReady(value); return;
      case R.QUEUE_NOTIFY: this.notify(value); return;
      case R.INTERRUPT_ACK:
        this.interruptStatus &= ~value & 3;
        this.updateIrq();
        return;
      case R.STATUS: this.writeStatus(value); return;
      case R.SHM_SEL: this.shmSel = value; return;
      case R.QUEUE_RESET: this.badAccess(offset, size, true, 'QueueReset without VIRTIO_F_RING_RESET'); return;
    }
  }

  /** Why an access is not allowed (§4.2.2.2), or null. */
  private accessError(offset: number, size: MmioSize, write: boolean): string | null {
    if (offset < 0 || offset + size > VIRTIO_MMIO_WINDOW) return 'outside the register window';
    if (offset % size !== 0) return `unaligned ${size}-byte access`;
    if (offset >= VIRTIO_MMIO.CONFIG) return null; // §4.2.2.2: config space by its fields' sizes (8, 16, 32 bits)
    if (size !== 4) return `${size * 8}-bit access to a control register (only 32-bit accesses are allowed, §4.2.2.2)`;
    const kind = REGISTER_KIND[offset >>> 2];
    if (kind === RW) return null;
    if (kind === RO) return write ? 'write to a read-only register' : null;
    if (kind === WO) return write ? null : 'read of a write-only register';
    return 'no register at this offset';
  }

  protected badAccess(offset: number, size: number, write: boolean, reason: string): void {
    this.emit({ kind: 'badAccess', device: this.name, offset, size, write, reason });
  }

  protected emit(e: VirtioEvent): void {
    this.host.log(e);
  }

  // ---- features (§2.2) ----

  offeredFeatures(): bigint {
    return VIRTIO_COMMON_FEATURES | this.deviceFeatureBits;
  }

  /** The features the driver accepted (meaningful once FEATURES_OK is set). */
  negotiated(): bigint {
    return this.driverFeatures;
  }

  protected hasFeature(bit: number): boolean {
    return (this.driverFeatures & featureBit(bit)) !== 0n;
  }

  private writeDriverFeatures(value: number): void {
    if ((this.status & VIRTIO_STATUS.FEATURES_OK) !== 0) {
      this.badAccess(VIRTIO_MMIO.DRIVER_FEATURES, 4, true, 'DriverFeatures written after FEATURES_OK (§3.1.1): ignored');
      return;
    }
    if (this.driverFeaturesSel > 1) {
      if (value !== 0) this.driverFeaturesBeyond64 = true;
      return;
    }
    const shift = BigInt(32 * this.driverFeaturesSel);
    this.driverFeatures = (this.driverFeatures & ~(0xffffffffn << shift)) | (BigInt(value) << shift);
  }

  // ---- status (§2.1, §3.1.1) ----

  private writeStatus(value: number): void {
    const old = this.status;
    value &= 0xff;
    if (value === 0) {
      this.reset();
      this.emit({ kind: 'status', device: this.name, from: old, to: 0 });
      return;
    }
    const S = VIRTIO_STATUS;
    const cleared = old & ~value & ~S.DEVICE_NEEDS_RESET;
    let next = old | (value & ~S.DEVICE_NEEDS_RESET); // DEVICE_NEEDS_RESET is the device's to set
    let violation: string | null = null;
    let rejected: string | null = null;
    if (cleared !== 0) {
      violation = `driver cleared status bits ${statusNames(cleared).join('|')} (§2.1.2: only a write of 0 resets)`;
      next = old;
    } else {
      if ((value & ~old & S.FEATURES_OK) !== 0) {
        rejected = this.featuresProblem();
        if (rejected !== null) next &= ~S.FEATURES_OK;
      }
      if ((value & ~old & S.DRIVER_OK) !== 0 && (next & S.FEATURES_OK) === 0) {
        violation = 'DRIVER_OK set without FEATURES_OK (§3.1.1 step 8 follows step 5-6)';
        next &= ~S.DRIVER_OK;
      }
    }
    this.status = next;
    this.emit({ kind: 'status', device: this.name, from: old, to: next });
    if (rejected !== null) {
      this.emit({ kind: 'featuresRejected', device: this.name, driverFeatures: hex64(this.driverFeatures), deviceFeatures: hex64(this.offeredFeatures()), reason: rejected });
    }
    if (violation !== null) this.fail(violation);
    else if ((next & ~old & S.DRIVER_OK) !== 0) this.onDriverOk();
  }

  /** Why the driver's features cannot be accepted (§2.2.1, §6.1), or null. */
  private featuresProblem(): string | null {
    const unknown = this.driverFeatures & ~this.offeredFeatures();
    if (unknown !== 0n || this.driverFeaturesBeyond64) {
      return `driver accepted features the device did not offer: ${this.driverFeaturesBeyond64 ? 'bits beyond 63' : hex64(unknown)} (§2.2.1)`;
    }
    if (!this.hasFeature(VIRTIO_F.VERSION_1)) return 'VIRTIO_F_VERSION_1 not accepted: a virtio-mmio version 2 device has no legacy interface (§6.1, §4.2.2)';
    return null;
  }

  /** Device reset (§2.4, §4.2.2.1): status, features, queues, interrupts. */
  reset(): void {
    this.status = 0;
    this.deviceFeaturesSel = this.driverFeaturesSel = 0;
    this.driverFeatures = 0n;
    this.driverFeaturesBeyond64 = false;
    this.queueSel = 0;
    this.shmSel = 0;
    this.needsResetReason = null;
    for (const q of this.queues) q.reset();
    for (const r of this.regs) r.descLo = r.descHi = r.drvLo = r.drvHi = r.devLo = r.devHi = 0;
    this.interruptStatus = 0;
    this.updateIrq();
    this.resetDevice();
  }

  /** DEVICE_NEEDS_RESET (§2.1.2): stop, tell the driver with a configuration change notification once DRIVER_OK is set. */
  protected fail(reason: string): void {
    if (this.needsResetReason !== null) return;
    this.needsResetReason = reason;
    this.status |= VIRTIO_STATUS.DEVICE_NEEDS_RESET;
    this.emit({ kind: 'needsReset', device: this.name, reason });
    if ((this.status & VIRTIO_STATUS.DRIVER_OK) !== 0) this.raise(VIRTIO_INT.CONFIG_CHANGE);
  }

  get needsReset(): string | null {
    return this.needsResetReason;
  }

  // ---- queues (§4.2.3.2) ----

  private writeQueueConfig(offset: number, value: number): void {
    const qi = this.queueSel;
    if (qi >= this.queues.length) {
      this.badAccess(offset, 4, true, `queue ${qi} does not exist (QueueNumMax is 0)`);
      return;
    }
    const q = this.queues[qi];
    if (q.ready) {
      this.fail(`queue ${qi}: register ${hx(offset)} written while QueueReady is 1 (§4.2.2.2)`);
      return;
    }
    const r = this.regs[qi];
    const R = VIRTIO_MMIO;
    switch (offset) {
      case R.QUEUE_NUM: q.size = value; break;
      case R.QUEUE_DESC_LOW: r.descLo = value; break;
      case R.QUEUE_DESC_HIGH: r.descHi = value; break;
      case R.QUEUE_DRIVER_LOW: r.drvLo = value; break;
      case R.QUEUE_DRIVER_HIGH: r.drvHi = value; break;
      case R.QUEUE_DEVICE_LOW: r.devLo = value; break;
      case R.QUEUE_DEVICE_HIGH: r.devHi = value; break;
    }
  }

  private writeQueueReady(value: number): void {
    const qi = this.queueSel;
    if (qi >= this.queues.length) {
      this.badAccess(VIRTIO_MMIO.QUEUE_READY, 4, true, `queue ${qi} does not exist (QueueNumMax is 0)`);
      return;
    }
    const q = this.queues[qi];
    if ((value & 1) === 0) {
      q.ready = false; // §4.2.3.2: the driver stops using the queue; indices are kept until it is enabled again
      return;
    }
    if (q.ready) return;
    if (this.needsResetReason !== null) return;
    if ((this.status & VIRTIO_STATUS.FEATURES_OK) === 0) {
      this.fail(`queue ${qi}: QueueReady set before FEATURES_OK (§3.1.1: queues are set up after feature negotiation)`);
      return;
    }
    const r = this.regs[qi];
    const addrs = [[r.descLo, r.descHi], [r.drvLo, r.drvHi], [r.devLo, r.devHi]];
    if (addrs.some(([, hi]) => hi >= 0x100000)) {
      this.fail(`queue ${qi}: ring address beyond any RAM (high dword >= 0x100000)`);
      return;
    }
    q.descAddr = r.descHi * 0x100000000 + r.descLo;
    q.availAddr = r.drvHi * 0x100000000 + r.drvLo;
    q.usedAddr = r.devHi * 0x100000000 + r.devLo;
    q.eventIdx = this.hasFeature(VIRTIO_F.EVENT_IDX);
    q.indirect = this.hasFeature(VIRTIO_F.INDIRECT_DESC);
    const err = q.layoutError(this.host.dma);
    if (err !== null) {
      this.fail(`queue ${qi}: ${err}`);
      return;
    }
    q.lastAvailIdx = 0; // a newly enabled queue starts at index 0 (§2.7.6, §2.7.8)
    q.usedIdx = 0;
    q.ready = true;
    q.publishAvailEvent(this.host.dma);
  }

  /** Why queue `qi` cannot be processed now, or null. */
  private blocked(qi: number): string | null {
    if (this.needsResetReason !== null) return 'device needs reset';
    if ((this.status & VIRTIO_STATUS.FAILED) !== 0) return 'driver set FAILED';
    if ((this.status & VIRTIO_STATUS.DRIVER_OK) === 0) return 'before DRIVER_OK (§3.1.1)';
    if (qi >= this.queues.length) return `queue ${qi} does not exist`;
    if (!this.queues[qi].ready) return `queue ${qi} is not ready`;
    return null;
  }

  /** QueueNotify (§4.2.3.3): process that queue now. */
  private notify(qi: number): void {
    const seq = ++this.notifyCount;
    const why = this.blocked(qi);
    if (why !== null) {
      this.emit({ kind: 'notifyIgnored', device: this.name, seq, queue: qi, reason: why });
      return;
    }
    const taken = this.run(qi, seq);
    this.emit({ kind: 'notify', device: this.name, seq, queue: qi, requests: taken });
  }

  /**
   * Device-initiated processing of queue `qi` (e.g. console input arrived). Returns false if the queue cannot be
   * processed now (not ready, before DRIVER_OK, NEEDS_RESET).
   */
  protected kick(qi: number): boolean {
    if (this.blocked(qi) !== null) return false;
    if (this.running) {
      this.deferredKicks.add(qi); // re-entered from a host callback (e.g. an output sink that echoes input): run after this one
      return true;
    }
    this.run(qi, null);
    return true;
  }

  private run(qi: number, seq: number | null): number[] {
    this.running = true;
    let taken: number[];
    try {
      taken = this.runOnce(qi, seq);
      for (let k = 0; k < 8 && this.deferredKicks.size > 0; k++) {
        const again = [...this.deferredKicks];
        this.deferredKicks.clear();
        for (const d of again) if (this.blocked(d) === null) this.runOnce(d, null);
      }
    } finally {
      this.running = false;
      this.deferredKicks.clear();
    }
    return taken;
  }

  private runOnce(qi: number, seq: number | null): number[] {
    const q = this.queues[qi];
    const dma = this.host.dma;
    const oldUsed = q.usedIdx;
    this.budget = q.size;
    this.runNotify = seq;
    this.runCompleted.length = 0;
    this.runTaken.length = 0;
    try {
      this.processQueue(qi);
    } catch (e) {
      if (!(e instanceof VirtqueueError)) throw e;
      this.fail(`queue ${qi}: ${e.message}`);
    }
    this.budget = 0;
    if (this.needsResetReason === null) q.publishAvailEvent(dma);
    if (this.runCompleted.length > 0) {
      this.emit({ kind: 'complete', device: this.name, queue: qi, requests: this.runCompleted.slice(), usedIdx: q.usedIdx });
      if (q.needsInterrupt(dma, oldUsed)) this.raise(VIRTIO_INT.USED_BUFFER);
    }
    return this.runTaken.slice();
  }

  /** Chains waiting in queue `qi` (throws VirtqueueError on a bad avail.idx). Only inside processQueue. */
  protected pendingChains(qi: number): number {
    return this.budget <= 0 ? 0 : Math.min(this.budget, this.queues[qi].pending(this.host.dma));
  }

  /**
   * Takes the next chain of queue `qi` (at most Queue Size per run), or null. Only inside processQueue. The Request is
   * reused: complete it before taking the next one.
   */
  protected take(qi: number): Request | null {
    if (this.budget <= 0 || this.needsResetReason !== null) return null;
    const req = this.request;
    const chain = this.queues[qi].popInto(this.host.dma, req.chain);
    if (chain === null) return null;
    this.budget--;
    const id = ++this.requestCount;
    req.record = this.history.next();
    req.record.fill(id, qi, chain, this.runNotify);
    this.runTaken.push(id);
    return req;
  }

  /** Puts a taken request in the used ring with `written` bytes (§2.7.8). */
  protected complete(qi: number, req: Request, written: number, summary: string): void {
    this.completeUsed(qi, req, written);
    req.record.setSummary(summary);
  }

  /** complete() with the summary built by `format(a, b, c, d)` only when a view shows it. */
  protected completeFormat(qi: number, req: Request, written: number, format: SummaryFormat, a: number, b: number, c: number, d: number): void {
    this.completeUsed(qi, req, written);
    req.record.setSummaryFormat(format, a, b, c, d);
  }

  private completeUsed(qi: number, req: Request, written: number): void {
    const q = this.queues[qi];
    q.addUsed(this.host.dma, req.chain.head, written);
    req.record.state = 'completed';
    req.record.usedLen = written;
    req.record.usedIdx = q.usedIdx;
    this.runCompleted.push(req.record.id);
  }

  // ---- interrupts (§4.2.3.4) ----

  protected raise(bit: number): void {
    this.interruptStatus |= bit;
    this.updateIrq();
  }

  private updateIrq(): void {
    const level = this.interruptStatus !== 0;
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.host.setIrq(level);
    this.emit({ kind: 'interrupt', device: this.name, level, interruptStatus: this.interruptStatus });
  }

  get irq(): boolean {
    return this.irqLevel;
  }

  // ---- views (side-effect free) ----

  inspect(): VirtioDeviceView {
    const offered = this.offeredFeatures();
    const features: VirtioDeviceView['features'] = [];
    for (let bit = 0; bit < 64; bit++) {
      if ((offered & featureBit(bit)) === 0n) continue;
      features.push({ bit, name: this.featureNames[bit] ?? COMMON_FEATURE_NAMES[bit] ?? `bit ${bit}`, accepted: this.hasFeature(bit) });
    }
    return {
      name: this.name,
      deviceId: this.deviceId,
      status: this.status,
      statusNames: statusNames(this.status),
      deviceFeatures: hex64(offered),
      driverFeatures: hex64(this.driverFeatures),
      features,
      interruptStatus: this.interruptStatus,
      irqLevel: this.irqLevel,
      needsResetReason: this.needsResetReason,
      configGeneration: this.configGeneration,
      notifications: this.notifyCount,
      queues: this.queues.map((q) => this.inspectQueue(q)),
      requests: this.history.records(),
      detail: this.detail(),
    };
  }

  private inspectQueue(q: SplitQueue): VirtioQueueView {
    const dma = this.host.dma;
    const v: VirtioQueueView = {
      index: q.index, size: q.size, maxSize: q.maxSize, ready: q.ready,
      descAddr: q.descAddr, availAddr: q.availAddr, usedAddr: q.usedAddr,
      lastAvailIdx: q.lastAvailIdx, usedIdx: q.usedIdx, eventIdx: q.eventIdx, indirect: q.indirect,
      availIdxInMemory: null, availFlags: null, usedIdxInMemory: null, usedFlags: null, usedEvent: null, availEvent: null,
      inFlight: [], error: null,
    };
    if (!q.ready) return v;
    // Layout was checked when the queue was enabled: every ring read below is RAM.
    v.availFlags = dma.read16(q.availAddr);
    v.availIdxInMemory = dma.read16(q.availAddr + 2);
    v.usedFlags = dma.read16(q.usedAddr);
    v.usedIdxInMemory = dma.read16(q.usedAddr + 2);
    if (q.eventIdx) {
      v.usedEvent = dma.read16(q.availAddr + 4 + 2 * q.size);
      v.availEvent = dma.read16(q.usedAddr + 4 + 8 * q.size);
    }
    const n = (v.availIdxInMemory - q.lastAvailIdx) & 0xffff;
    if (n > q.size) {
      v.error = `avail.idx ${v.availIdxInMemory} is ${n} entries past last_avail_idx ${q.lastAvailIdx} (queue size ${q.size})`;
      return v;
    }
    for (let k = 0; k < n; k++) {
      const head = q.headAt(dma, k);
      const c: InFlightChain = { availIdx: (q.lastAvailIdx + k) & 0xffff, head, descriptors: [], descriptorCount: 0, error: null };
      try {
        for (const d of walkChain(dma, q, head)) {
          if (c.descriptors.length < VIRTIO_VIEW_DESCRIPTORS) c.descriptors.push(toView(d));
          c.descriptorCount++;
        }
      } catch (e) {
        if (!(e instanceof VirtqueueError)) throw e;
        c.error = e.message;
      }
      v.inFlight.push(c);
    }
    return v;
  }

  // ---- snapshots ----

  saveState(): unknown {
    return {
      status: this.status,
      deviceFeaturesSel: this.deviceFeaturesSel,
      driverFeaturesSel: this.driverFeaturesSel,
      driverFeatures: this.driverFeatures.toString(16),
      driverFeaturesBeyond64: this.driverFeaturesBeyond64,
      queueSel: this.queueSel,
      shmSel: this.shmSel,
      interruptStatus: this.interruptStatus,
      irqLevel: this.irqLevel,
      configGeneration: this.configGeneration,
      needsResetReason: this.needsResetReason,
      notifyCount: this.notifyCount,
      requestCount: this.requestCount,
      queues: this.queues.map((q, i) => ({
        ...this.regs[i],
        size: q.size, ready: q.ready, lastAvailIdx: q.lastAvailIdx, usedIdx: q.usedIdx, eventIdx: q.eventIdx, indirect: q.indirect,
      })),
      history: this.history.records(),
      device: this.saveDevice(),
    };
  }

  /** Restores a saveState result (validated first; nothing changes on error). Does not call setIrq: the interrupt controller restores its own state. */
  loadState(s: unknown): void {
    const n = this.name;
    const o = asRecord(n, s);
    const status = intField(n, o, 'status', 0, 0xff);
    const deviceFeaturesSel = intField(n, o, 'deviceFeaturesSel', 0, U32);
    const driverFeaturesSel = intField(n, o, 'driverFeaturesSel', 0, U32);
    if (typeof o.driverFeatures !== 'string' || !/^[0-9a-f]{1,16}$/.test(o.driverFeatures)) throw new DeviceStateError(n, 'state.driverFeatures: expected up to 16 hex digits');
    const driverFeatures = BigInt('0x' + o.driverFeatures);
    const driverFeaturesBeyond64 = boolField(n, o, 'driverFeaturesBeyond64');
    const queueSel = intField(n, o, 'queueSel', 0, U32);
    const shmSel = intField(n, o, 'shmSel', 0, U32);
    const interruptStatus = intField(n, o, 'interruptStatus', 0, 3);
    const irqLevel = boolField(n, o, 'irqLevel');
    const configGeneration = intField(n, o, 'configGeneration', 0, U32);
    const nr = o.needsResetReason;
    if (nr !== null && typeof nr !== 'string') throw new DeviceStateError(n, 'state.needsResetReason: expected a string or null');
    const notifyCount = intField(n, o, 'notifyCount', 0, Number.MAX_SAFE_INTEGER);
    const requestCount = intField(n, o, 'requestCount', 0, Number.MAX_SAFE_INTEGER);
    if (!Array.isArray(o.queues) || o.queues.length !== this.queues.length) throw new DeviceStateError(n, `state.queues: expected ${this.queues.length} queues`);
    const qs = o.queues.map((x: unknown) => {
      const qo = asRecord(n, x);
      const r: QueueRegs = {
        descLo: intField(n, qo, 'descLo', 0, U32), descHi: intField(n, qo, 'descHi', 0, U32),
        drvLo: intField(n, qo, 'drvLo', 0, U32), drvHi: intField(n, qo, 'drvHi', 0, U32),
        devLo: intField(n, qo, 'devLo', 0, U32), devHi: intField(n, qo, 'devHi', 0, U32),
      };
      const ready = boolField(n, qo, 'ready');
      if (ready && (r.descHi >= 0x100000 || r.drvHi >= 0x100000 || r.devHi >= 0x100000)) throw new DeviceStateError(n, 'state.queues: ready queue beyond RAM');
      return {
        r, ready,
        size: intField(n, qo, 'size', 0, U32),
        lastAvailIdx: intField(n, qo, 'lastAvailIdx', 0, 0xffff),
        usedIdx: intField(n, qo, 'usedIdx', 0, 0xffff),
        eventIdx: boolField(n, qo, 'eventIdx'),
        indirect: boolField(n, qo, 'indirect'),
      };
    });
    qs.forEach((x, i) => {
      if (!x.ready) return;
      const t = new SplitQueue(i, VIRTIO_QUEUE_NUM_MAX);
      t.size = x.size;
      t.eventIdx = x.eventIdx;
      t.descAddr = x.r.descHi * 0x100000000 + x.r.descLo;
      t.availAddr = x.r.drvHi * 0x100000000 + x.r.drvLo;
      t.usedAddr = x.r.devHi * 0x100000000 + x.r.devLo;
      const err = t.layoutError(this.host.dma);
      if (err !== null) throw new DeviceStateError(n, `state.queues[${i}]: ${err}`);
    });
    if (!Array.isArray(o.history) || o.history.length > VIRTIO_HISTORY) throw new DeviceStateError(n, `state.history: expected at most ${VIRTIO_HISTORY} records`);
    const history = o.history.map((x: unknown) => checkRecord(n, x));
    this.loadDevice(o.device); // validates and assigns the device part; throws before anything else is assigned
    this.status = status;
    this.deviceFeaturesSel = deviceFeaturesSel;
    this.driverFeaturesSel = driverFeaturesSel;
    this.driverFeatures = driverFeatures;
    this.driverFeaturesBeyond64 = driverFeaturesBeyond64;
    this.queueSel = queueSel;
    this.shmSel = shmSel;
    this.interruptStatus = interruptStatus;
    this.irqLevel = irqLevel;
    this.configGeneration = configGeneration;
    this.needsResetReason = nr;
    this.notifyCount = notifyCount;
    this.requestCount = requestCount;
    qs.forEach((x, i) => {
      const q = this.queues[i];
      Object.assign(this.regs[i], x.r);
      q.size = x.size;
      q.ready = x.ready;
      q.descAddr = x.r.descHi * 0x100000000 + x.r.descLo;
      q.availAddr = x.r.drvHi * 0x100000000 + x.r.drvLo;
      q.usedAddr = x.r.devHi * 0x100000000 + x.r.devLo;
      q.lastAvailIdx = x.lastAvailIdx;
      q.usedIdx = x.usedIdx;
      q.eventIdx = x.eventIdx;
      q.indirect = x.indirect;
    });
    this.history.load(history);
  }
}

function checkRecord(n: string, x: unknown): VirtioRequestRecord {
  const o = asRecord(n, x);
  const int = (k: string, max = Number.MAX_SAFE_INTEGER): number => intField(n, o, k, 0, max);
  const intOrNull = (k: string): number | null => (o[k] === null ? null : int(k));
  const dir = o.direction;
  if (dir !== 'in' && dir !== 'out' && dir !== 'in+out' && dir !== 'none') throw new DeviceStateError(n, 'state.history: bad direction');
  const st = o.state;
  if (st !== 'in-flight' && st !== 'completed') throw new DeviceStateError(n, 'state.history: bad state');
  if (typeof o.summary !== 'string') throw new DeviceStateError(n, 'state.history: bad summary');
  if (!Array.isArray(o.descriptors) || o.descriptors.length > VIRTIO_VIEW_DESCRIPTORS) throw new DeviceStateError(n, 'state.history: bad descriptors');
  const descriptors = o.descriptors.map((d: unknown): DescriptorView => {
    const dobj = asRecord(n, d);
    return {
      index: intField(n, dobj, 'index', 0, 0xffff), addr: intField(n, dobj, 'addr', 0, Number.MAX_SAFE_INTEGER),
      len: intField(n, dobj, 'len', 0, U32), flags: intField(n, dobj, 'flags', 0, 0xffff), next: intField(n, dobj, 'next', 0, 0xffff),
      indirect: boolField(n, dobj, 'indirect'),
    };
  });
  return {
    id: int('id'), queue: int('queue', 0xffff), head: int('head', 0xffff), descriptors, descriptorCount: int('descriptorCount'),
    direction: dir, readableBytes: int('readableBytes'), writableBytes: int('writableBytes'), summary: o.summary, state: st,
    usedLen: intOrNull('usedLen'), notify: intOrNull('notify'), usedIdx: intOrNull('usedIdx'),
  };
}
