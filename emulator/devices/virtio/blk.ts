// virtio-blk (virtio 1.2 §5.2): one request queue; IN, OUT, FLUSH, GET_ID; capacity, seg_max, blk_size; read-only disks.
import { asRecord, intField } from '../bus.js';
import { VirtioMmioDevice } from './mmio.js';
import type { Request } from './mmio.js';
import { gatherReadable, gatherReadableInto, scatterWritable, scatterWritableFrom, VirtqueueError, writeWritableByte } from './queue.js';
import type { BlockBackend } from './disk.js';
import { SECTOR_SIZE } from './disk.js';
import type { VirtioHost } from './types.js';
import { featureBit, VIRTIO_ID } from './types.js';

/** Block feature bits (§5.2.3). Offered: SEG_MAX, BLK_SIZE, FLUSH, and RO for a read-only disk. */
export const VIRTIO_BLK_F = {
  SIZE_MAX: 1, SEG_MAX: 2, GEOMETRY: 4, RO: 5, BLK_SIZE: 6, FLUSH: 9, TOPOLOGY: 10, CONFIG_WCE: 11, MQ: 12,
  DISCARD: 13, WRITE_ZEROES: 14, LIFETIME: 15, SECURE_ERASE: 16,
} as const;
/** Request types (§5.2.6). */
export const VIRTIO_BLK_T = { IN: 0, OUT: 1, FLUSH: 4, GET_ID: 8, GET_LIFETIME: 10, DISCARD: 11, WRITE_ZEROES: 13, SECURE_ERASE: 14 } as const;
/** Request status byte (§5.2.6). */
export const VIRTIO_BLK_S = { OK: 0, IOERR: 1, UNSUPP: 2 } as const;
/** GET_ID answer: 20 bytes, NUL-padded (§5.2.6: VIRTIO_BLK_ID_BYTES). */
export const VIRTIO_BLK_ID = 'vmscope-disk';
export const VIRTIO_BLK_ID_BYTES = 20;
/** seg_max: data segments per request; QueueNumMax (256) minus the header and status descriptors. Not enforced. */
export const VIRTIO_BLK_SEG_MAX = 254;
/** The request header: le32 type, le32 reserved, le64 sector (§5.2.6). */
const HEADER = 16;
/** Bytes moved between guest memory and the disk at a time. */
const CHUNK = 65536;
/** struct virtio_blk_config up to and including secure-erase fields (§5.2.4). */
const CONFIG_SIZE = 60;

const STATUS_NAME = ['OK', 'IOERR', 'UNSUPP'];
const TYPE_NAME: Record<number, string> = { 0: 'T_IN', 1: 'T_OUT', 4: 'T_FLUSH', 8: 'T_GET_ID', 10: 'T_GET_LIFETIME', 11: 'T_DISCARD', 13: 'T_WRITE_ZEROES', 14: 'T_SECURE_ERASE' };

/** A request's summary for the views, e.g. "T_IN sector 8, 4096 bytes: OK" (status -1: without the status). */
function summarize(type: number, sector: number, bytes: number, status: number): string {
  const what = `${TYPE_NAME[type] ?? `type ${type}`}${type === VIRTIO_BLK_T.IN || type === VIRTIO_BLK_T.OUT ? ` sector ${sector}, ${bytes} bytes` : ''}`;
  return status < 0 ? what : `${what}: ${STATUS_NAME[status]}`;
}

export interface VirtioBlkOptions {
  name?: string;
  backend: BlockBackend;
}

export class VirtioBlk extends VirtioMmioDevice {
  readonly deviceId = VIRTIO_ID.BLOCK;
  protected readonly deviceFeatureBits: bigint;
  protected readonly featureNames = {
    1: 'VIRTIO_BLK_F_SIZE_MAX', 2: 'VIRTIO_BLK_F_SEG_MAX', 4: 'VIRTIO_BLK_F_GEOMETRY', 5: 'VIRTIO_BLK_F_RO', 6: 'VIRTIO_BLK_F_BLK_SIZE',
    9: 'VIRTIO_BLK_F_FLUSH', 10: 'VIRTIO_BLK_F_TOPOLOGY', 11: 'VIRTIO_BLK_F_CONFIG_WCE',
  };
  readonly backend: BlockBackend;
  private readonly config: Uint8Array;
  /** Scratch for the request header. */
  private readonly header = new Uint8Array(HEADER);
  private readonly headerView = new DataView(this.header.buffer);
  reads = 0;
  writes = 0;
  flushes = 0;
  errors = 0;

  constructor(host: VirtioHost, opts: VirtioBlkOptions) {
    super(opts.name ?? 'virtio-blk', host, 1);
    this.backend = opts.backend;
    let f = featureBit(VIRTIO_BLK_F.SEG_MAX) | featureBit(VIRTIO_BLK_F.BLK_SIZE) | featureBit(VIRTIO_BLK_F.FLUSH);
    if (this.backend.readOnly) f |= featureBit(VIRTIO_BLK_F.RO);
    this.deviceFeatureBits = f;
    const c = new Uint8Array(CONFIG_SIZE);
    const dv = new DataView(c.buffer);
    const cap = this.backend.sectors;
    dv.setUint32(0, cap % 0x100000000, true); // capacity (le64, 512-byte sectors)
    dv.setUint32(4, Math.floor(cap / 0x100000000), true);
    dv.setUint32(12, VIRTIO_BLK_SEG_MAX, true); // seg_max
    dv.setUint32(20, SECTOR_SIZE, true); // blk_size
    this.config = c;
  }

  protected configSpace(): Uint8Array {
    return this.config;
  }

  protected processQueue(q: number): void {
    for (let req = this.take(q); req !== null; req = this.take(q)) this.handle(q, req);
  }

  /** One request (§5.2.6): header in the readable part, status byte = last writable byte, data in between. */
  private handle(q: number, req: Request): void {
    const c = req.chain;
    const dma = this.host.dma;
    if (c.readable < HEADER) throw new VirtqueueError('bad-request', `block request header is ${c.readable} bytes, 16 needed (§5.2.6)`);
    if (c.writable < 1) throw new VirtqueueError('bad-request', 'block request without a device-writable status byte (§5.2.6)');
    const h = this.header;
    gatherReadableInto(dma, c, 0, h);
    const type = this.headerView.getUint32(0, true);
    const sectorLo = this.headerView.getUint32(8, true);
    const sectorHi = this.headerView.getUint32(12, true);
    const sector = sectorHi < 0x200000 ? sectorHi * 0x100000000 + sectorLo : Number.MAX_SAFE_INTEGER;
    const dataIn = c.writable - 1;
    const dataOut = c.readable - HEADER;
    let status: number = VIRTIO_BLK_S.OK;
    let written = 0;
    /** Why the request failed, for its summary (built only on failure). */
    let problem: string | null = null;
    let bytes = 0;
    try {
      switch (type) {
        case VIRTIO_BLK_T.IN: {
          bytes = dataIn;
          problem = this.bounds(sector, dataIn);
          if (problem !== null) { status = VIRTIO_BLK_S.IOERR; break; }
          for (let off = 0; off < dataIn; off += CHUNK) {
            const n = Math.min(CHUNK, dataIn - off);
            const first = sector + off / SECTOR_SIZE;
            // Straight from the disk's bytes where the backend lends them (a run with nothing written over it): one copy
            // per guest page, no view made; else a copy of the sectors.
            const store = this.backend.source?.(first, n / SECTOR_SIZE) ?? null;
            if (store !== null) scatterWritableFrom(dma, c, off, store, first * SECTOR_SIZE, n);
            else scatterWritable(dma, c, off, this.backend.view?.(first, n / SECTOR_SIZE) ?? this.backend.read(first, n / SECTOR_SIZE));
          }
          written = dataIn;
          this.reads++;
          break;
        }
        case VIRTIO_BLK_T.OUT: {
          bytes = dataOut;
          problem = this.backend.readOnly ? 'read-only disk (VIRTIO_BLK_F_RO)' : this.bounds(sector, dataOut);
          if (problem !== null) { status = VIRTIO_BLK_S.IOERR; break; }
          for (let off = 0; off < dataOut; off += CHUNK) {
            const n = Math.min(CHUNK, dataOut - off);
            this.backend.write(sector + off / SECTOR_SIZE, gatherReadable(dma, c, HEADER + off, n));
          }
          this.writes++;
          break;
        }
        case VIRTIO_BLK_T.FLUSH:
          this.backend.flush();
          this.flushes++;
          break;
        case VIRTIO_BLK_T.GET_ID: {
          const id = new Uint8Array(VIRTIO_BLK_ID_BYTES);
          for (let i = 0; i < VIRTIO_BLK_ID.length; i++) id[i] = VIRTIO_BLK_ID.charCodeAt(i);
          written = scatterWritable(dma, c, 0, id.subarray(0, Math.min(VIRTIO_BLK_ID_BYTES, dataIn)));
          break;
        }
        default:
          status = VIRTIO_BLK_S.UNSUPP;
      }
    } catch (e) {
      if (e instanceof VirtqueueError) throw e;
      // The host's storage failed (e.g. write-through to a file): the guest sees an I/O error.
      status = VIRTIO_BLK_S.IOERR;
      problem = `host: ${e instanceof Error ? e.message : String(e)}`;
    }
    if (status !== VIRTIO_BLK_S.OK) this.errors++;
    writeWritableByte(dma, c, c.writable - 1, status);
    if (problem === null) this.completeFormat(q, req, written + 1, summarize, type, sector, bytes, status);
    else this.complete(q, req, written + 1, `${summarize(type, sector, bytes, -1)} (${problem}): ${STATUS_NAME[status]}`);
  }

  /** Why `bytes` at `sector` cannot be transferred, or null (§5.2.6.1). */
  private bounds(sector: number, bytes: number): string | null {
    if (bytes % SECTOR_SIZE !== 0) return `${bytes} bytes is not a multiple of 512 (§5.2.6.1)`;
    if (sector + bytes / SECTOR_SIZE > this.backend.sectors) return `sectors ${sector}+${bytes / SECTOR_SIZE} beyond capacity ${this.backend.sectors}`;
    return null;
  }

  protected resetDevice(): void {
    // The disk keeps its contents across a device reset.
  }

  protected saveDevice(): unknown {
    return {
      reads: this.reads, writes: this.writes, flushes: this.flushes, errors: this.errors,
      disk: this.backend.saveState !== undefined ? this.backend.saveState() : null,
    };
  }

  protected loadDevice(s: unknown): void {
    const o = asRecord(this.name, s);
    const counts = (['reads', 'writes', 'flushes', 'errors'] as const).map((k) => intField(this.name, o, k, 0, Number.MAX_SAFE_INTEGER));
    if (this.backend.loadState !== undefined) this.backend.loadState(o.disk);
    [this.reads, this.writes, this.flushes, this.errors] = counts;
  }

  protected detail(): Record<string, unknown> {
    return {
      capacitySectors: this.backend.sectors, readOnly: this.backend.readOnly, id: VIRTIO_BLK_ID,
      reads: this.reads, writes: this.writes, flushes: this.flushes, errors: this.errors,
    };
  }
}
