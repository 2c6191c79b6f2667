// virtio-console (virtio 1.2 §5.3): port 0 only (no MULTIPORT), receiveq 0 / transmitq 1, emergency write, bounded host input queue.
import type { MmioSize } from '../bus.js';
import { asRecord, byteArrayField, intField } from '../bus.js';
import { VIRTIO_MMIO, VirtioMmioDevice } from './mmio.js';
import type { Request } from './mmio.js';
import { gatherReadable, scatterWritable } from './queue.js';
import type { VirtioHost } from './types.js';
import { featureBit, VIRTIO_ID } from './types.js';

/** Console feature bits (§5.3.3). Only EMERG_WRITE is offered: no console size, no multiport. */
export const VIRTIO_CONSOLE_F = { SIZE: 0, MULTIPORT: 1, EMERG_WRITE: 2 } as const;
/** Queues of port 0 (§5.3.2). */
export const CONSOLE_RECEIVEQ = 0;
export const CONSOLE_TRANSMITQ = 1;
/** Host input waiting for receive buffers; beyond this, input is dropped (counted). */
export const VIRTIO_CONSOLE_INPUT_LIMIT = 65536;
/** Bytes copied out of guest memory at a time for one transmit chain. */
const CHUNK = 65536;
/** Configuration layout (§5.3.4): le16 cols, le16 rows, le32 max_nr_ports, le32 emerg_wr. */
const CFG_EMERG_WR = 8;
const CFG_SIZE = 12;
/** Request summaries for the views (built when shown). */
const bytesIn = (n: number): string => `${n} bytes in`;
const bytesOut = (n: number): string => `${n} bytes out`;

export interface VirtioConsoleOptions {
  name?: string;
  /** Port 0 output: every transmitted buffer's bytes, and each emergency-write byte. */
  output: (bytes: Uint8Array) => void;
}

export class VirtioConsole extends VirtioMmioDevice {
  readonly deviceId = VIRTIO_ID.CONSOLE;
  protected readonly deviceFeatureBits = featureBit(VIRTIO_CONSOLE_F.EMERG_WRITE);
  protected readonly featureNames = { 0: 'VIRTIO_CONSOLE_F_SIZE', 1: 'VIRTIO_CONSOLE_F_MULTIPORT', 2: 'VIRTIO_CONSOLE_F_EMERG_WRITE' };
  private readonly output: (bytes: Uint8Array) => void;
  private input: number[] = [];
  inputDropped = 0;
  bytesOut = 0;
  bytesIn = 0;

  constructor(host: VirtioHost, opts: VirtioConsoleOptions) {
    super(opts.name ?? 'virtio-console', host, 2);
    this.output = opts.output;
  }

  /** Host keyboard input: queued (bounded), delivered as soon as the driver has receive buffers posted. */
  pushInput(bytes: Uint8Array): void {
    const room = VIRTIO_CONSOLE_INPUT_LIMIT - this.input.length;
    const n = Math.min(room, bytes.length);
    for (let i = 0; i < n; i++) this.input.push(bytes[i]);
    this.inputDropped += bytes.length - n;
    if (this.input.length > 0) this.kick(CONSOLE_RECEIVEQ);
  }

  get pendingInput(): number {
    return this.input.length;
  }

  protected configSpace(): Uint8Array {
    const c = new Uint8Array(CFG_SIZE);
    c[4] = 1; // max_nr_ports: port 0 only (meaningful with MULTIPORT, which is not offered)
    return c;
  }

  /** emerg_wr (§5.3.4): a 32-bit write outputs its low byte at once, initialized or not (offered, so always on). */
  protected override configWrite(offset: number, size: MmioSize, value: number): void {
    if (offset === CFG_EMERG_WR && size === 4) {
      this.bytesOut++;
      this.output(Uint8Array.of(value & 0xff));
      return;
    }
    const reason = offset === CFG_EMERG_WR ? 'emerg_wr is a 32-bit field (§4.2.2.2)' : 'configuration field is read-only';
    this.badAccess(VIRTIO_MMIO.CONFIG + offset, size, true, reason);
  }

  protected processQueue(q: number): void {
    if (q === CONSOLE_TRANSMITQ) {
      for (let req = this.take(q); req !== null; req = this.take(q)) this.transmit(req);
    } else if (q === CONSOLE_RECEIVEQ) {
      while (this.input.length > 0) {
        const req = this.take(q);
        if (req === null) break;
        const n = Math.min(req.chain.writable, this.input.length);
        const bytes = Uint8Array.from(this.input.slice(0, n));
        scatterWritable(this.host.dma, req.chain, 0, bytes);
        this.input.splice(0, n);
        this.bytesIn += n;
        this.completeFormat(q, req, n, bytesIn, n, 0, 0, 0);
      }
    }
  }

  private transmit(req: Request): void {
    const total = req.chain.readable;
    for (let off = 0; off < total; off += CHUNK) {
      const bytes = gatherReadable(this.host.dma, req.chain, off, CHUNK);
      this.output(bytes);
    }
    this.bytesOut += total;
    // Device-writable buffers in a transmit chain are not written (used len 0, §2.7.8).
    this.completeFormat(CONSOLE_TRANSMITQ, req, 0, bytesOut, total, 0, 0, 0);
  }

  protected override onDriverOk(): void {
    if (this.input.length > 0) this.kick(CONSOLE_RECEIVEQ);
  }

  protected resetDevice(): void {
    // Host input stays queued across a reset: it is the terminal's, not the driver's.
  }

  protected saveDevice(): unknown {
    return { input: [...this.input], inputDropped: this.inputDropped, bytesOut: this.bytesOut, bytesIn: this.bytesIn };
  }

  protected loadDevice(s: unknown): void {
    const o = asRecord(this.name, s);
    const input = byteArrayField(this.name, o, 'input', VIRTIO_CONSOLE_INPUT_LIMIT);
    const inputDropped = intField(this.name, o, 'inputDropped', 0, Number.MAX_SAFE_INTEGER);
    const bytesOut = intField(this.name, o, 'bytesOut', 0, Number.MAX_SAFE_INTEGER);
    const bytesIn = intField(this.name, o, 'bytesIn', 0, Number.MAX_SAFE_INTEGER);
    this.input = input;
    this.inputDropped = inputDropped;
    this.bytesOut = bytesOut;
    this.bytesIn = bytesIn;
  }

  protected detail(): Record<string, unknown> {
    return { pendingInput: this.input.length, inputDropped: this.inputDropped, bytesOut: this.bytesOut, bytesIn: this.bytesIn };
  }
}
