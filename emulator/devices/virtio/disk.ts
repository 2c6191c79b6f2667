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
  /**
   * Optional: the same bytes as read() without copying them, when the backend holds them contiguously (the caller
   * checked the bounds; it only reads the view, and only until the next write); null when it cannot.
   */
  view?(sector: number, count: number): Uint8Array | null;
  /**
   * Optional: the array that holds these sectors contiguously, sector `s` at byte `s * 512` of it (e.g. the image), so
   * the caller copies from it without a view made per request; null when it cannot (some were written since). The
   * caller checked the bounds and only reads it, and only until the next write.
   */
  source?(sector: number, count: number): Uint8Array | null;
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
  /**
   * Write-through and time travel (emulator/history): the file holds the disk as of the newest
   * moment of the current timeline. `writes` counts the guest's writes in this timeline (state,
   * restored with snapshots); `persisted` how many of them the file holds. Re-executing recorded
   * history (writes <= persisted) leaves the file alone: those writes are in it already, and
   * writing them again would put older bytes over newer ones. `fileOverlay` is the overlay the
   * file matches while the disk is in the past (null when it is at the newest moment).
   */
  private writes = 0;
  private persisted = 0;
  private fileOverlay: Map<number, Uint8Array> | null = null;

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

  view(sector: number, count: number): Uint8Array | null {
    return this.source(sector, count)?.subarray(sector * SECTOR_SIZE, (sector + count) * SECTOR_SIZE) ?? null;
  }

  source(sector: number, count: number): Uint8Array | null {
    this.check(sector, count);
    const start = sector * SECTOR_SIZE, end = start + count * SECTOR_SIZE;
    if (this.overlay.size > 0) {
      for (let pn = Math.floor(start / DISK_PAGE); pn * DISK_PAGE < end; pn++) if (this.overlay.has(pn)) return null;
    }
    return this.image;
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
    // Only a write past the file's timeline reaches the file (see `writes`).
    if (++this.writes > this.persisted) {
      this.persisted = this.writes;
      this.opts.persist?.(start, data);
    }
    if (this.writes === this.persisted) this.fileOverlay = null;
  }

  flush(): void {
    if (this.writes === this.persisted) this.opts.sync?.();
  }

  /**
   * The timeline diverges here (a debugger changed the machine in the past): the recorded
   * future is gone, so the file is made to hold this moment's disk (pages that differ are
   * written through), and later writes are new.
   */
  diverge(): void {
    const file = this.fileOverlay;
    this.fileOverlay = null;
    this.persisted = this.writes;
    if (file === null || this.opts.persist === undefined) return;
    const pages = new Set<number>([...file.keys(), ...this.overlay.keys()]);
    for (const pn of [...pages].sort((a, b) => a - b)) {
      const base = pn * DISK_PAGE, end = Math.min(base + DISK_PAGE, this.bytes);
      const want = this.overlay.get(pn)?.subarray(0, end - base) ?? this.image.subarray(base, end);
      const have = file.get(pn)?.subarray(0, end - base) ?? this.image.subarray(base, end);
      let same = true;
      for (let k = 0; k < want.length && same; k++) same = want[k] === have[k];
      if (!same) this.opts.persist(base, want.slice());
    }
    this.opts.sync?.();
  }

  /** The overlay, pages ascending, base64 (the image itself is configuration, not state). */
  saveState(): unknown {
    const pages = [...this.overlay.keys()].sort((a, b) => a - b);
    return { pages: pages.map((pn) => [pn, toBase64(this.overlay.get(pn)!)]), writes: this.writes };
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
    const writes = o.writes ?? 0;
    if (typeof writes !== 'number' || !Number.isSafeInteger(writes) || writes < 0) throw new DeviceStateError('virtio-blk disk', 'state.writes: expected a count');
    // Leaving the newest moment: keep the overlay the file matches (see `writes`).
    if (this.fileOverlay === null && this.writes === this.persisted) this.fileOverlay = this.overlay;
    this.overlay = next;
    this.writes = writes;
    if (this.writes === this.persisted) this.fileOverlay = null;
    // A state from another run (no time travel): the file holds what this run wrote.
    if (this.writes > this.persisted) { this.persisted = this.writes; this.fileOverlay = null; }
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
