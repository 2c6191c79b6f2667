// The virtio view: each virtio-mmio device's window, IRQ, status and feature bits by name, queues with their rings and chains, request history (virtio 1.2 §2, §4.2).
import type { Machine } from '../machine.js';
import {
  VIRTIO_MMIO_WINDOW, VIRTIO_PLATFORM, VIRTIO_STATUS, type InFlightChain, type VirtioEvent, type VirtioQueueView,
  type VirtioRequestRecord,
} from '../devices/virtio/index.js';
import { hex } from './view-format.js';

export interface VirtioQueueRingsView extends VirtioQueueView {
  /** avail.ring[0 … size-1] as in guest memory (virtio 1.2 §2.7.6); empty when the queue is not ready. */
  availRing: number[];
  /** used.ring[0 … size-1]: {id, len} (§2.7.8); empty when the queue is not ready. */
  usedRing: Array<{ id: number; len: number }>;
  inFlight: InFlightChain[];
  /** desc[0 … size-1] as in guest memory now (§2.7.5); empty when the queue is not ready. */
  descriptorTable: DescriptorRow[];
  /** The first bytes of every buffer of the chains in flight, by head. */
  previews: Array<{ head: number; buffers: BufferPreview[] }>;
}

/** One descriptor-table entry (virtio 1.2 §2.7.5: le64 addr, le32 len, le16 flags, le16 next). */
export interface DescriptorRow {
  index: number;
  addr: string;
  len: number;
  flags: number;
  /** NEXT, WRITE, INDIRECT (VIRTQ_DESC_F_*). */
  flagNames: string[];
  next: number;
}

/** The start of one buffer of a chain, for a hex/ASCII preview. */
export interface BufferPreview {
  descriptor: number;
  addr: string;
  len: number;
  /** Device-writable (VIRTQ_DESC_F_WRITE). */
  write: boolean;
  /** Up to VIRTIO_PREVIEW_BYTES bytes, two hex digits each, space-separated. */
  hex: string;
  /** The same bytes, printable ASCII or '.'. */
  ascii: string;
  truncated: boolean;
  /** The whole previewed range is guest RAM (else the bytes outside read as ff). */
  inRam: boolean;
}

/** Bytes shown per buffer. */
export const VIRTIO_PREVIEW_BYTES = 64;

export interface VirtioDeviceOut {
  name: string;
  deviceId: number;
  window: { base: string; size: number };
  irq: number;
  status: { value: number; bits: Array<{ bit: number; name: string; set: boolean }> };
  deviceFeatures: string;
  driverFeatures: string;
  /** Offered features by name, whether the driver accepted each; and bits the driver wrote that were not offered. */
  features: Array<{ bit: number; name: string; offered: boolean; accepted: boolean }>;
  interruptStatus: { value: number; usedBuffer: boolean; configChange: boolean };
  irqLevel: boolean;
  needsResetReason: string | null;
  configGeneration: number;
  notifications: number;
  queues: VirtioQueueRingsView[];
  requests: VirtioRequestRecord[];
  /** The device's most recent events (notifications, completions, interrupts, resets), oldest first. */
  events: VirtioEvent[];
  detail: Record<string, unknown>;
}

export interface VirtioView {
  devices: VirtioDeviceOut[];
}

/** Events kept per device in the view. */
export const VIRTIO_VIEW_EVENTS = 64;

const STATUS_BITS = (Object.entries(VIRTIO_STATUS) as Array<[string, number]>).map(([name, v]) => ({ bit: Math.log2(v), name }));

const DESC_FLAGS: Array<[number, string]> = [[1, 'NEXT'], [2, 'WRITE'], [4, 'INDIRECT']];

function preview(guest: { peek(gpa: number, len: number): Uint8Array; isRam(gpa: number, len?: number): boolean }, descriptor: number, addr: number, len: number, write: boolean): BufferPreview {
  const n = Math.min(len, VIRTIO_PREVIEW_BYTES);
  const inRam = n === 0 || (addr + n <= 2 ** 53 && guest.isRam(addr, n));
  const bytes = inRam ? guest.peek(addr, n) : new Uint8Array(n).fill(0xff);
  let hexs = '', ascii = '';
  for (const b of bytes) {
    hexs += (hexs === '' ? '' : ' ') + b.toString(16).padStart(2, '0');
    ascii += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
  }
  return { descriptor, addr: hex(addr), len, write, hex: hexs, ascii, truncated: len > n, inRam };
}

/** All virtio devices of the machine, from each device's side-effect-free inspect() plus the rings read from guest RAM. */
export function virtioView(machine: Machine): VirtioView {
  const devices: VirtioDeviceOut[] = [];
  const guest = machine.hv?.guest ?? null;
  for (const [name, dev] of machine.virtio) {
    const d = dev.inspect();
    const place = VIRTIO_PLATFORM[name as keyof typeof VIRTIO_PLATFORM];
    const offered = BigInt(d.deviceFeatures), driver = BigInt(d.driverFeatures);
    const features: VirtioDeviceOut['features'] = d.features.map((f) => ({ bit: f.bit, name: f.name, offered: true, accepted: f.accepted }));
    for (let bit = 0; bit < 64; bit++) {
      if (((driver >> BigInt(bit)) & 1n) === 1n && ((offered >> BigInt(bit)) & 1n) === 0n) features.push({ bit, name: `bit ${bit}`, offered: false, accepted: true });
    }
    features.sort((a, b) => a.bit - b.bit);
    const queues = d.queues.map((q): VirtioQueueRingsView => {
      const availRing: number[] = [];
      const usedRing: Array<{ id: number; len: number }> = [];
      if (q.ready && guest !== null) {
        // Ring layout (§2.7.6, §2.7.8): avail {flags, idx, ring[size]}, used {flags, idx, {id, len}[size]}; peeks only.
        const a = guest.peek(q.availAddr + 4, 2 * q.size), u = guest.peek(q.usedAddr + 4, 8 * q.size);
        const av = new DataView(a.buffer, a.byteOffset, a.byteLength), uv = new DataView(u.buffer, u.byteOffset, u.byteLength);
        for (let k = 0; k < q.size; k++) availRing.push(av.getUint16(2 * k, true));
        for (let k = 0; k < q.size; k++) usedRing.push({ id: uv.getUint32(8 * k, true), len: uv.getUint32(8 * k + 4, true) });
      }
      const descriptorTable: DescriptorRow[] = [];
      const previews: VirtioQueueRingsView['previews'] = [];
      if (q.ready && guest !== null) {
        const t = guest.peek(q.descAddr, 16 * q.size);
        const tv = new DataView(t.buffer, t.byteOffset, t.byteLength);
        for (let k = 0; k < q.size; k++) {
          const flags = tv.getUint16(16 * k + 12, true);
          descriptorTable.push({
            index: k, addr: hex(tv.getBigUint64(16 * k, true)), len: tv.getUint32(16 * k + 8, true), flags,
            flagNames: DESC_FLAGS.filter(([bit]) => (flags & bit) !== 0).map(([, n]) => n), next: tv.getUint16(16 * k + 14, true),
          });
        }
        for (const c of q.inFlight) previews.push({ head: c.head, buffers: c.descriptors.map((d) => preview(guest, d.index, d.addr, d.len, (d.flags & 2) !== 0)) });
      }
      return { ...q, availRing, usedRing, descriptorTable, previews };
    });
    devices.push({
      name, deviceId: d.deviceId,
      window: { base: place !== undefined ? hex(place.base) : '', size: VIRTIO_MMIO_WINDOW },
      irq: place?.irq ?? -1,
      status: { value: d.status, bits: STATUS_BITS.map((b) => ({ bit: b.bit, name: b.name, set: ((d.status >>> b.bit) & 1) === 1 })) },
      deviceFeatures: d.deviceFeatures, driverFeatures: d.driverFeatures, features,
      interruptStatus: { value: d.interruptStatus, usedBuffer: (d.interruptStatus & 1) !== 0, configChange: (d.interruptStatus & 2) !== 0 },
      irqLevel: d.irqLevel, needsResetReason: d.needsResetReason, configGeneration: d.configGeneration, notifications: d.notifications,
      queues, requests: d.requests, events: machine.virtioEvents.filter((e) => e.device === name).slice(-VIRTIO_VIEW_EVENTS).map((e) => JSON.parse(JSON.stringify(e)) as VirtioEvent),
      detail: d.detail,
    });
  }
  return { devices };
}
