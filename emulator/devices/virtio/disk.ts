// Block backends for virtio-blk: the BlockBackend contract and MemoryDisk (image bytes + in-memory overlay of written 4 KiB pages).
import { asRecord, DeviceStateError } from '../bus.js';

export const SECTOR_SIZE = 512;
export const DISK_PAGE = 4096;

export interface BlockBackend {
  /** Capacity in 512-byte sectors. */
  readonly sectors: number;
  readonly readOnly: boolean;
  /** `count` sectors from `sector` (the caller checked the bounds). */
  read(sector: number, count: number): Uint8Array;
  /** Whole sectors (data.length a multiple of 512) at `sector` (the caller checked the bounds and readOnly). */
  write(sector: number, data: Uint8Array): void;
  flush(): void;
  /** Optional: the backend's volatile state for machine snapshots (JSON-compatible). */
  saveState?(): unknown;
  loadState?(s: unknown): void;
}

/** A disk access outside the disk or a write to a read-only disk: a caller's bug (the device checks first). */
export class DiskRangeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DiskRangeError';
  }
}

export interface MemoryDiskOptions {
  readOnly?: boolean;
  /** Write-through: called with the byte offset and the data of every write (e.g. to update the image file). */
  persist?: (offset: number, data: Uint8Array) => void;
  /** Called by flush() (e.g. fsync of the image file). */
  sync?: () => void;
}

/**
 * A disk made of image bytes (never modified) and an overlay of the 4 KiB pages written since, so a run never
 * changes the image unless `persist` writes through. Capacity is the image length rounded down to 512 bytes.
 * Memory grows by 4 KiB per page written, at most the image size.
 */
export class MemoryDisk implements BlockBackend {
  readonly sectors: number;
  readonly readOnly: boolean;
  private overlay = new Map<number, Uint8Array>();
  private readonly bytes: number;

  constructor(private readonly image: Uint8Array, private readonly opts: MemoryDiskOptions = {}) {
    this.sectors = Math.floor(image.length / SECTOR_SIZE);
    this.bytes = this.sectors * SECTOR_SIZE;
    this.readOnly = opts.readOnly ?? false;
  }

  /** Pages held in the overlay. */
  get dirtyPages(): number {
    return this.overlay.size;
  }

  private check(sector: number, count: number): void {
    if (!Number.isSafeInteger(sector) || !Number.isSafeInteger(count) || sector < 0 || count < 0 || sector + count > this.sectors) {
      throw new DiskRangeError(`sectors ${sector}+${count} outside a disk of ${this.sectors} sectors`);
    }
  }

  read(sector: number, count: number): Uint8Array {
    this.check(sector, count);
    const out = new Uint8Array(count * SECTOR_SIZE);
    const start = sector * SECTOR_SIZE;
    for (let pos = 0; pos < out.length;) {
      const a = start + pos;
      const pn = Math.floor(a / DISK_PAGE);
      const o = a - pn * DISK_PAGE;
      const n = Math.min(DISK_PAGE - o, out.length - pos);
      const page = this.overlay.get(pn);
      if (page !== undefined) out.set(page.subarray(o, o + n), pos);
      else out.set(this.image.subarray(a, a + n), pos);
      pos += n;
    }
    return out;
  }

  write(sector: number, data: Uint8Array): void {
    if (this.readOnly) throw new DiskRangeError('write to a read-only disk');
    if (data.length % SECTOR_SIZE !== 0) throw new DiskRangeError(`write of ${data.length} bytes: not whole sectors`);
    this.check(sector, data.length / SECTOR_SIZE);
    const start = sector * SECTOR_SIZE;
    for (let pos = 0; pos < data.length;) {
      const a = start + pos;
      const pn = Math.floor(a / DISK_PAGE);
      const o = a - pn * DISK_PAGE;
      const n = Math.min(DISK_PAGE - o, data.length - pos);
      let page = this.overlay.get(pn);
      if (page === undefined) {
        page = new Uint8Array(DISK_PAGE);
        const base = pn * DISK_PAGE;
        page.set(this.image.subarray(base, Math.min(base + DISK_PAGE, this.bytes)));
        this.overlay.set(pn, page);
      }
      page.set(data.subarray(pos, pos + n), o);
      pos += n;
    }
    this.opts.persist?.(start, data);
  }

  flush(): void {
    this.opts.sync?.();
  }

  /** The overlay, pages ascending, base64 (the image itself is configuration, not state). */
  saveState(): unknown {
    const pages = [...this.overlay.keys()].sort((a, b) => a - b);
    return { pages: pages.map((pn) => [pn, toBase64(this.overlay.get(pn)!)]) };
  }

  loadState(s: unknown): void {
    const o = asRecord('virtio-blk disk', s);
    const pages = o.pages;
    const maxPages = Math.ceil(this.bytes / DISK_PAGE);
    if (!Array.isArray(pages) || pages.length > maxPages) throw new DeviceStateError('virtio-blk disk', 'state.pages: expected an array of [page, base64]');
    const next = new Map<number, Uint8Array>();
    for (const e of pages) {
      if (!Array.isArray(e) || e.length !== 2 || !Number.isInteger(e[0]) || e[0] < 0 || e[0] >= maxPages || typeof e[1] !== 'string' || next.has(e[0])) {
        throw new DeviceStateError('virtio-blk disk', 'state.pages: expected distinct [page, base64] entries inside the disk');
      }
      const bytes = fromBase64(e[1]);
      if (bytes === null || bytes.length !== DISK_PAGE) throw new DeviceStateError('virtio-blk disk', `state.pages: page ${e[0]} is not 4096 bytes of base64`);
      next.set(e[0], bytes);
    }
    this.overlay = next;
  }
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** RFC 4648 §4 base64 with padding. */
export function toBase64(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i] << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    s += B64[n >>> 18] + B64[(n >>> 12) & 63] + (i + 1 < b.length ? B64[(n >>> 6) & 63] : '=') + (i + 2 < b.length ? B64[n & 63] : '=');
  }
  return s;
}

/** Decodes toBase64's output; null for anything else. */
export function fromBase64(s: string): Uint8Array | null {
  if (s.length % 4 !== 0) return null;
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let j = 0;
  for (let i = 0; i < s.length; i += 4) {
    let n = 0;
    for (let k = 0; k < 4; k++) {
      const c = s[i + k];
      const last = i + 4 === s.length;
      const v = c === '=' && last && k >= 4 - pad ? 0 : B64.indexOf(c);
      if (v < 0) return null;
      n = (n << 6) | v;
    }
    if (j < out.length) out[j++] = n >>> 16;
    if (j < out.length) out[j++] = (n >>> 8) & 0xff;
    if (j < out.length) out[j++] = n & 0xff;
  }
  return out;
}
