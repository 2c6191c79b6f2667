// Split virtqueue (virtio 1.2 §2.7) that owns no memory: available-ring popping, descriptor-chain walking with a TTL, used ring, notification suppression.
import type { DmaMemory } from './types.js';

/** Descriptor flags (§2.7.5). */
export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
/** avail.flags bit: the driver asks for no used-buffer notifications (§2.7.7; ignored with EVENT_IDX). */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
/** used.flags bit: the device asks for no available-buffer notifications (§2.7.10; never set here: work is synchronous). */
export const VIRTQ_USED_F_NO_NOTIFY = 1;
/** Bytes per descriptor (§2.7.5: le64 addr, le32 len, le16 flags, le16 next). */
export const VIRTQ_DESC_SIZE = 16;
/**
 * Largest indirect table accepted, in descriptors. §2.7.5.3.1 says a chain must not be longer than the queue size,
 * but Linux builds indirect tables of up to its scatter-gather limit even on short queues and QEMU accepts them up
 * to VIRTQUEUE_MAX_SIZE (1024); so do we.
 */
export const VIRTQ_MAX_INDIRECT = 1024;
/** Largest split queue (§2.7: Queue Size is a power of 2, at most 32768). */
export const VIRTQ_MAX_SIZE = 32768;

/**
 * Every way a driver can break a split virtqueue. The device turns each into DEVICE_NEEDS_RESET with the message
 * (§2.1.2: "the device has experienced an error from which it can't recover").
 */
export type VirtqueueErrorKind =
  /** avail.idx moved more than Queue Size entries past the device's last_avail_idx (§2.7.6: the ring holds at most Queue Size entries). */
  | 'avail-idx-jump'
  /** An available-ring entry (a chain head) is not below Queue Size (§2.7.6). */
  | 'head-out-of-range'
  /** A `next` field is not below Queue Size, or not below the entry count of the indirect table it is in (§2.7.5). */
  | 'next-out-of-range'
  /** More descriptors than the table holds: a loop, forbidden by §2.7.5.2 ("loops in the descriptor chain are forbidden"). */
  | 'chain-too-long'
  /** VIRTQ_DESC_F_INDIRECT without VIRTIO_F_INDIRECT_DESC negotiated (§2.7.5.3.1). */
  | 'indirect-not-negotiated'
  /** VIRTQ_DESC_F_INDIRECT together with VIRTQ_DESC_F_NEXT (§2.7.5.3.1). */
  | 'indirect-with-next'
  /** VIRTQ_DESC_F_INDIRECT inside an indirect table (§2.7.5.3.1: only one table per descriptor). */
  | 'nested-indirect'
  /** An indirect table whose length is 0, not a multiple of 16 (§2.7.5.3), or above VIRTQ_MAX_INDIRECT entries. */
  | 'indirect-table-size'
  /** A buffer (or indirect table) that is not wholly inside guest RAM. */
  | 'buffer-not-ram'
  /** A buffer whose addr + len passes 2^64. */
  | 'buffer-wraps'
  /** The chain's lengths add up to more than 2^32 - 1 bytes (§2.7.5.2). */
  | 'chain-length-overflow'
  /** A device-readable descriptor after a device-writable one (§2.7.4.2). */
  | 'readable-after-writable'
  /** The chain's contents do not form a request of this device (device-specific framing, e.g. §5.2.6). */
  | 'bad-request';

export class VirtqueueError extends Error {
  constructor(readonly kind: VirtqueueErrorKind, message: string) {
    super(`${kind}: ${message}`);
    this.name = 'VirtqueueError';
  }
}

/** One descriptor of a walked chain. `addr` is exact (buffers are in RAM, below 2^53). */
export interface Descriptor {
  /** Index in the table it was read from (the descriptor table or the indirect table). */
  index: number;
  addr: number;
  len: number;
  flags: number;
  next: number;
  /** Device-writable (VIRTQ_DESC_F_WRITE). */
  writable: boolean;
  /** Read from an indirect table. */
  indirect: boolean;
}

/**
 * A chain popped from the available ring, walked and validated. `descriptors[0 .. count)` are its descriptors; a
 * device reuses one Chain (and its Descriptor objects) for every request, so the array may hold more entries
 * than `count` and a Chain is valid only until the next pop into it.
 */
export interface Chain {
  head: number;
  descriptors: Descriptor[];
  count: number;
  /** Total bytes of device-readable / device-writable buffers. */
  readable: number;
  writable: number;
}

/** An empty Chain to be filled by SplitQueue.popInto / readChain. */
export function newChain(): Chain {
  return { head: 0, descriptors: [], count: 0, readable: 0, writable: 0 };
}

/** What the chain walker needs of a queue. */
export interface ChainSource {
  descAddr: number;
  size: number;
  indirect: boolean;
}

function hx(v: number): string {
  return '0x' + v.toString(16);
}

/**
 * Walks one descriptor chain with a time-to-live: at most `size` descriptors from the descriptor table, and at most
 * the entry count of one indirect table after it (§2.7.5.3.2: zero or more direct descriptors followed by one
 * indirect one). `step` fills the next descriptor or returns false at the end; it throws VirtqueueError at the first
 * bad one (after handing out the good ones before it). Reads only; no side effects; no allocation.
 */
class ChainCursor {
  private dma!: DmaMemory;
  private head = 0;
  private queueSize = 0;
  private indirectOk = false;
  private table = 0;
  private count = 0;
  private idx = 0;
  private ttl = 0;
  private inIndirect = false;
  private sawWritable = false;
  private total = 0;
  /** -1: the walk is over; 0: read descriptor `idx` next; 1: follow `next` of the previous descriptor first. */
  private state = -1;
  private pendingNext = 0;
  /** The descriptor being read. */
  private readonly raw = new Uint8Array(VIRTQ_DESC_SIZE);

  begin(dma: DmaMemory, q: ChainSource, head: number): void {
    this.dma = dma;
    this.head = head;
    this.queueSize = q.size;
    this.indirectOk = q.indirect;
    this.table = q.descAddr;
    this.count = q.size;
    this.idx = head;
    this.ttl = q.size;
    this.inIndirect = false;
    this.sawWritable = false;
    this.total = 0;
    this.state = 0;
    if (head >= q.size) {
      this.state = -1;
      throw new VirtqueueError('head-out-of-range', `chain head ${head} >= queue size ${q.size}`);
    }
  }

  step(d: Descriptor): boolean {
    if (this.state < 0) return false;
    if (this.state === 1) {
      if (this.pendingNext >= this.count) {
        this.state = -1;
        throw new VirtqueueError('next-out-of-range', `${this.where()}: next ${this.pendingNext} >= ${this.inIndirect ? 'indirect table entries' : 'queue size'} ${this.count}`);
      }
      this.idx = this.pendingNext;
      this.state = 0;
    }
    const dma = this.dma;
    for (;;) {
      if (this.ttl === 0) {
        this.state = -1;
        throw new VirtqueueError('chain-too-long', `chain from head ${this.head} has more than ${this.inIndirect ? this.count + ' indirect' : this.queueSize} descriptors (a loop?)`);
      }
      this.ttl--;
      // The descriptor's 16 bytes in one read (one RAM lookup), little-endian fields (§2.7.5, §2.7.4).
      const b = this.raw;
      dma.readInto(this.table + this.idx * VIRTQ_DESC_SIZE, b);
      const lo = (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
      const hi = (b[4] | (b[5] << 8) | (b[6] << 16) | (b[7] << 24)) >>> 0;
      const len = (b[8] | (b[9] << 8) | (b[10] << 16) | (b[11] << 24)) >>> 0;
      const flags = b[12] | (b[13] << 8);
      const next = b[14] | (b[15] << 8);
      const addr = this.checkBuffer(lo, hi, len);
      if ((flags & VIRTQ_DESC_F_INDIRECT) !== 0) {
        this.state = -1;
        if (!this.indirectOk) throw new VirtqueueError('indirect-not-negotiated', `${this.where()}: INDIRECT flag without VIRTIO_F_INDIRECT_DESC`);
        if (this.inIndirect) throw new VirtqueueError('nested-indirect', `${this.where()}: INDIRECT flag inside an indirect table`);
        if ((flags & VIRTQ_DESC_F_NEXT) !== 0) throw new VirtqueueError('indirect-with-next', `${this.where()}: both INDIRECT and NEXT set`);
        if (len === 0 || len % VIRTQ_DESC_SIZE !== 0 || len / VIRTQ_DESC_SIZE > VIRTQ_MAX_INDIRECT) {
          throw new VirtqueueError('indirect-table-size', `${this.where()}: indirect table of ${len} bytes (must be a non-zero multiple of 16, at most ${VIRTQ_MAX_INDIRECT} entries)`);
        }
        this.state = 0;
        this.table = addr;
        this.count = len / VIRTQ_DESC_SIZE;
        this.ttl = this.count;
        this.idx = 0;
        this.inIndirect = true;
        continue;
      }
      const writable = (flags & VIRTQ_DESC_F_WRITE) !== 0;
      if (!writable && this.sawWritable) {
        this.state = -1;
        throw new VirtqueueError('readable-after-writable', `${this.where()}: device-readable buffer after a device-writable one`);
      }
      this.sawWritable = this.sawWritable || writable;
      this.total += len;
      if (this.total > 0xffffffff) {
        this.state = -1;
        throw new VirtqueueError('chain-length-overflow', `chain from head ${this.head} is longer than 2^32 - 1 bytes`);
      }
      d.index = this.idx;
      d.addr = addr;
      d.len = len;
      d.flags = flags;
      d.next = next;
      d.writable = writable;
      d.indirect = this.inIndirect;
      if ((flags & VIRTQ_DESC_F_NEXT) === 0) this.state = -1;
      else {
        this.state = 1;
        this.pendingNext = next;
      }
      return true;
    }
  }

  private where(): string {
    return `${this.inIndirect ? 'indirect ' : ''}descriptor ${this.idx}`;
  }

  /** addr (lo, hi halves) + len must not wrap 2^64 and must be RAM (a zero-length buffer is never accessed). */
  private checkBuffer(lo: number, hi: number, len: number): number {
    if (hi === 0xffffffff && lo + len > 0x100000000) {
      this.state = -1;
      throw new VirtqueueError('buffer-wraps', `${this.where()}: buffer 0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')} + ${len} passes 2^64`);
    }
    if (hi >= 0x100000) {
      this.state = -1;
      throw new VirtqueueError('buffer-not-ram', `${this.where()}: buffer 0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')} is beyond any RAM`);
    }
    const addr = hi * 0x100000000 + lo;
    if (len !== 0 && !this.dma.isRam(addr, len)) {
      this.state = -1;
      throw new VirtqueueError('buffer-not-ram', `${this.where()}: buffer ${hx(addr)} + ${len} is not guest RAM`);
    }
    return addr;
  }
}

function newDescriptor(): Descriptor {
  return { index: 0, addr: 0, len: 0, flags: 0, next: 0, writable: false, indirect: false };
}

/**
 * The descriptors of the chain starting at `head`, as an iterator (a fresh object per descriptor; for the views).
 * Throws VirtqueueError at the first bad descriptor. Reads only; no side effects.
 */
export function* walkChain(dma: DmaMemory, q: ChainSource, head: number): Generator<Descriptor, void, void> {
  const c = new ChainCursor();
  c.begin(dma, q, head);
  for (;;) {
    const d = newDescriptor();
    if (!c.step(d)) return;
    yield d;
  }
}

const cursor = new ChainCursor();

/** Walks a whole chain (bounded by its TTL) into `out`, reusing its Descriptor objects, and sums its parts. */
export function readChain(dma: DmaMemory, q: ChainSource, head: number, out: Chain): Chain {
  const ds = out.descriptors;
  let n = 0;
  let readable = 0;
  let writable = 0;
  out.head = head;
  out.count = 0;
  cursor.begin(dma, q, head);
  for (;;) {
    if (n === ds.length) ds.push(newDescriptor());
    const d = ds[n];
    if (!cursor.step(d)) break;
    n++;
    if (d.writable) writable += d.len;
    else readable += d.len;
  }
  out.count = n;
  out.readable = readable;
  out.writable = writable;
  return out;
}

/** Walks a whole chain (bounded by its TTL) into a new Chain. */
export function collectChain(dma: DmaMemory, q: ChainSource, head: number): Chain {
  return readChain(dma, q, head, newChain());
}

/** Layout of the split rings (§2.7, table "Virtqueue Part Alignment and Size"). */
export function ringSizes(size: number, eventIdx: boolean): { desc: number; avail: number; used: number } {
  const ev = eventIdx ? 2 : 0;
  return { desc: 16 * size, avail: 4 + 2 * size + ev, used: 4 + 8 * size + ev };
}

/**
 * One split virtqueue's device-side state: the transport's registers (size, ready, three ring addresses) and the
 * device's free-running indices. Every access to the rings is given the DmaMemory.
 */
export class SplitQueue implements ChainSource {
  /** QueueNum. */
  size = 0;
  ready = false;
  descAddr = 0;
  availAddr = 0;
  usedAddr = 0;
  /** Next available-ring slot the device will read (free-running u16, §2.7.6). */
  lastAvailIdx = 0;
  /** The device's used.idx (free-running u16, §2.7.8). */
  usedIdx = 0;
  /** VIRTIO_F_RING_EVENT_IDX negotiated (latched when the queue is enabled). */
  eventIdx = false;
  /** VIRTIO_F_INDIRECT_DESC negotiated (latched when the queue is enabled). */
  indirect = false;

  constructor(readonly index: number, readonly maxSize: number) {}

  reset(): void {
    this.size = 0;
    this.ready = false;
    this.descAddr = this.availAddr = this.usedAddr = 0;
    this.lastAvailIdx = this.usedIdx = 0;
    this.eventIdx = this.indirect = false;
  }

  /** Why the configured rings cannot be used, or null (§2.7: sizes, alignments; all of it must be RAM). */
  layoutError(dma: DmaMemory): string | null {
    const n = this.size;
    if (n === 0 || (n & (n - 1)) !== 0 || n > this.maxSize) return `QueueNum ${n} is not a power of 2 in 1..${this.maxSize} (§2.7, §4.2.2.2)`;
    const s = ringSizes(n, this.eventIdx);
    const parts: [string, number, number, number][] = [
      ['descriptor table', this.descAddr, s.desc, 16],
      ['driver area (available ring)', this.availAddr, s.avail, 2],
      ['device area (used ring)', this.usedAddr, s.used, 4],
    ];
    for (const [name, addr, len, align] of parts) {
      if (addr % align !== 0) return `${name} at ${hx(addr)} is not ${align}-byte aligned (§2.7)`;
      if (!dma.isRam(addr, len)) return `${name} at ${hx(addr)} (${len} bytes) is not guest RAM`;
    }
    return null;
  }

  availFlags(dma: DmaMemory): number {
    return dma.read16(this.availAddr);
  }

  availIdx(dma: DmaMemory): number {
    return dma.read16(this.availAddr + 2);
  }

  /** Chains the driver made available and the device has not taken; throws 'avail-idx-jump'. */
  pending(dma: DmaMemory): number {
    const idx = this.availIdx(dma);
    const n = (idx - this.lastAvailIdx) & 0xffff;
    if (n > this.size) {
      throw new VirtqueueError('avail-idx-jump', `avail.idx ${idx} is ${n} entries past last_avail_idx ${this.lastAvailIdx} (queue size ${this.size})`);
    }
    return n;
  }

  /** The head of the k-th pending chain (k = 0 is the next one). No state change. */
  headAt(dma: DmaMemory, k: number): number {
    return dma.read16(this.availAddr + 4 + 2 * ((this.lastAvailIdx + k) % this.size));
  }

  /** Takes the next available chain (walked and validated), or null if none; last_avail_idx advances only on success. */
  pop(dma: DmaMemory): Chain | null {
    return this.popInto(dma, newChain());
  }

  /** pop() into a Chain the caller reuses (no allocation once its descriptors exist). */
  popInto(dma: DmaMemory, out: Chain): Chain | null {
    if (this.pending(dma) === 0) return null;
    readChain(dma, this, this.headAt(dma, 0), out);
    this.lastAvailIdx = (this.lastAvailIdx + 1) & 0xffff;
    return out;
  }

  /** Puts a used element (§2.7.8.2: the element first, then used.idx). */
  addUsed(dma: DmaMemory, head: number, len: number): void {
    const slot = this.usedAddr + 4 + 8 * (this.usedIdx % this.size);
    dma.write32(slot, head);
    dma.write32(slot + 4, len);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    dma.write16(this.usedAddr + 2, this.usedIdx);
  }

  /**
   * Whether the driver wants a used-buffer notification after used.idx went from `oldUsed` to the current value
   * (§2.7.7.2): with EVENT_IDX, vring_need_event(used_event, new, old); otherwise unless VIRTQ_AVAIL_F_NO_INTERRUPT.
   */
  needsInterrupt(dma: DmaMemory, oldUsed: number): boolean {
    const now = this.usedIdx;
    if (now === oldUsed) return false;
    if (this.eventIdx) {
      const usedEvent = dma.read16(this.availAddr + 4 + 2 * this.size);
      return ((now - usedEvent - 1) & 0xffff) < ((now - oldUsed) & 0xffff);
    }
    return (this.availFlags(dma) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
  }

  /** With EVENT_IDX, asks to be notified as soon as the next chain is made available (§2.7.10: avail_event). */
  publishAvailEvent(dma: DmaMemory): void {
    if (this.eventIdx) dma.write16(this.usedAddr + 4 + 8 * this.size, this.lastAvailIdx);
  }
}

/** Copies up to `len` bytes of the chain's device-readable buffers, starting `skip` bytes into them. */
export function gatherReadable(dma: DmaMemory, chain: Chain, skip: number, len: number): Uint8Array {
  const out = new Uint8Array(Math.max(0, Math.min(len, chain.readable - skip)));
  gatherReadableInto(dma, chain, skip, out);
  return out;
}

/** Fills `out` from the chain's device-readable buffers starting `skip` bytes into them; returns the bytes copied. */
export function gatherReadableInto(dma: DmaMemory, chain: Chain, skip: number, out: Uint8Array): number {
  const n = Math.max(0, Math.min(out.length, chain.readable - skip));
  let pos = 0;
  let off = 0; // offset of the current descriptor in the readable stream
  for (let k = 0; k < chain.count; k++) {
    const d = chain.descriptors[k];
    if (d.writable || pos >= n) break;
    const start = Math.max(skip + pos - off, 0);
    if (start < d.len) {
      const take = Math.min(d.len - start, n - pos);
      dma.readInto(d.addr + start, pos === 0 && take === out.length ? out : out.subarray(pos, pos + take)); // the whole of `out`: no view
      pos += take;
    }
    off += d.len;
  }
  return pos;
}

/** Writes `data` into the chain's device-writable buffers at byte `skip` of them; returns the bytes written. */
export function scatterWritable(dma: DmaMemory, chain: Chain, skip: number, data: Uint8Array): number {
  return scatterWritableFrom(dma, chain, skip, data, 0, data.length);
}

/**
 * scatterWritable of `src[srcOffset .. srcOffset + length)` (e.g. a block straight from the disk's bytes): one copy per
 * buffer and host page, no view of `src` made for it. Returns the bytes written.
 */
export function scatterWritableFrom(dma: DmaMemory, chain: Chain, skip: number, src: Uint8Array, srcOffset: number, length: number): number {
  const n = Math.max(0, Math.min(length, chain.writable - skip));
  let pos = 0;
  let off = 0;
  for (let k = 0; k < chain.count; k++) {
    const d = chain.descriptors[k];
    if (!d.writable) continue;
    if (pos >= n) break;
    const start = Math.max(skip + pos - off, 0);
    if (start < d.len) {
      const take = Math.min(d.len - start, n - pos);
      dma.writeFrom(d.addr + start, src, srcOffset + pos, take);
      pos += take;
    }
    off += d.len;
  }
  return pos;
}

/** Writes one byte at byte `at` of the chain's device-writable buffers (e.g. a status byte); false if beyond them. */
export function writeWritableByte(dma: DmaMemory, chain: Chain, at: number, v: number): boolean {
  let off = 0;
  for (let k = 0; k < chain.count; k++) {
    const d = chain.descriptors[k];
    if (!d.writable) continue;
    if (at < off + d.len) {
      dma.write8(d.addr + (at - off), v);
      return true;
    }
    off += d.len;
  }
  return false;
}
