// Host-physical memory: sparse 4 KiB pages, little-endian typed access, side-effect-free peek/poke.

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
const PAGE_MASK = PAGE_SIZE - 1;

/** A listener told when a page that holds decoded code is written (decoded-instruction cache). */
export type CodeWriteListener = (pageNumber: number) => void;

/**
 * RAM of `size` bytes, allocated 4 KiB at a time on first write. Reads of a page never
 * written return zeros and allocate nothing, so a guest given 4 GiB that touches a few MiB
 * costs a few MiB. Addresses are plain numbers (exact up to 2^53); callers keep them in
 * [0, size). Out-of-range access is the caller's bug and throws RangeError.
 */
export class PhysicalMemory {
  readonly size: number;
  readonly pageCount: number;
  private pages: (Uint8Array | undefined)[];
  /** 1 for pages that hold decoded instructions: writes to them notify `onCodeWrite`. */
  private readonly codePages: Uint8Array;
  onCodeWrite: CodeWriteListener | null = null;
  private allocated = 0;
  /**
   * Dirty-page tracking for history snapshots: 1 for each page written since the last
   * takeDirty()/restore point, listed once in `dirtyList`. Every write path marks here
   * (pageForWrite); pages handed out by writablePage() are marked when handed out, and their
   * holders must fetch them again when `epoch` changes (takeDirty bumps it), so a write through
   * a view is never missed.
   */
  private readonly dirty: Uint8Array;
  private dirtyList: number[] = [];

  constructor(size: number) {
    if (!Number.isInteger(size) || size <= 0 || size % PAGE_SIZE !== 0 || size > 2 ** 40) {
      throw new RangeError(`memory size must be a positive multiple of 4096 up to 1 TiB, got ${size}`);
    }
    this.size = size;
    this.pageCount = size / PAGE_SIZE;
    this.pages = new Array(this.pageCount);
    this.codePages = new Uint8Array(this.pageCount);
    this.dirty = new Uint8Array(this.pageCount);
  }

  /** Bytes actually backed by allocated pages. */
  get residentBytes(): number {
    return this.allocated * PAGE_SIZE;
  }

  contains(addr: number, len = 1): boolean {
    return addr >= 0 && addr + len <= this.size;
  }

  private pageForWrite(pn: number): Uint8Array {
    let p = this.pages[pn];
    if (p === undefined) {
      if (pn < 0 || pn >= this.pageCount) throw new RangeError(`physical page ${pn} outside memory`);
      p = new Uint8Array(PAGE_SIZE);
      this.pages[pn] = p;
      this.allocated++;
    }
    if (this.dirty[pn] === 0) { this.dirty[pn] = 1; this.dirtyList.push(pn); }
    if (this.codePages[pn] !== 0) {
      this.codePages[pn] = 0;
      if (this.onCodeWrite !== null) this.onCodeWrite(pn);
    }
    return p;
  }

  /** Mark a page as holding decoded code; the next write to it calls onCodeWrite. */
  markCode(pn: number): void {
    this.codePages[pn] = 1;
  }

  /**
   * The page for direct writes by the processor's TLB fast path: allocated if needed;
   * undefined for a page that holds decoded code (its writes must go through write*()).
   * The page counts as dirty from now on; holders drop it when `epoch` changes.
   */
  writablePage(pn: number): Uint8Array | undefined {
    if (this.codePages[pn] !== 0) return undefined;
    return this.pageForWrite(pn);
  }

  /** The backing page if allocated (read-only use; do not write through it). */
  pageOrNull(pn: number): Uint8Array | undefined {
    return this.pages[pn];
  }

  read8(addr: number): number {
    const p = this.pages[Math.floor(addr / PAGE_SIZE)];
    return p === undefined ? 0 : p[addr & PAGE_MASK];
  }

  read16(addr: number): number {
    const o = addr & PAGE_MASK;
    if (o <= PAGE_SIZE - 2) {
      const p = this.pages[Math.floor(addr / PAGE_SIZE)];
      return p === undefined ? 0 : p[o] | (p[o + 1] << 8);
    }
    return this.read8(addr) | (this.read8(addr + 1) << 8);
  }

  /** Unsigned 32-bit read. */
  read32(addr: number): number {
    const o = addr & PAGE_MASK;
    if (o <= PAGE_SIZE - 4) {
      const p = this.pages[Math.floor(addr / PAGE_SIZE)];
      return p === undefined ? 0 : (p[o] | (p[o + 1] << 8) | (p[o + 2] << 16) | (p[o + 3] << 24)) >>> 0;
    }
    return (this.read16(addr) | (this.read16(addr + 2) << 16)) >>> 0;
  }

  write8(addr: number, v: number): void {
    this.pageForWrite(Math.floor(addr / PAGE_SIZE))[addr & PAGE_MASK] = v;
  }

  write16(addr: number, v: number): void {
    const o = addr & PAGE_MASK;
    if (o <= PAGE_SIZE - 2) {
      const p = this.pageForWrite(Math.floor(addr / PAGE_SIZE));
      p[o] = v;
      p[o + 1] = v >>> 8;
    } else {
      this.write8(addr, v);
      this.write8(addr + 1, v >>> 8);
    }
  }

  write32(addr: number, v: number): void {
    const o = addr & PAGE_MASK;
    if (o <= PAGE_SIZE - 4) {
      const p = this.pageForWrite(Math.floor(addr / PAGE_SIZE));
      p[o] = v;
      p[o + 1] = v >>> 8;
      p[o + 2] = v >>> 16;
      p[o + 3] = v >>> 24;
    } else {
      this.write16(addr, v);
      this.write16(addr + 2, v >>> 16);
    }
  }

  /** Copy bytes out without side effects (debugger peek). Unbacked pages read as zero. */
  peek(addr: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    this.peekInto(addr, out, 0, len);
    return out;
  }

  /** peek() into `out[at …]`, a page at a time (no allocation). */
  peekInto(addr: number, out: Uint8Array, at: number, len: number): void {
    let i = 0;
    while (i < len) {
      const a = addr + i;
      const o = a & PAGE_MASK;
      const n = Math.min(PAGE_SIZE - o, len - i);
      const p = this.pages[Math.floor(a / PAGE_SIZE)];
      if (p === undefined) out.fill(0, at + i, at + i + n);
      else if (n > 64) out.set(p.subarray(o, o + n), at + i);
      else for (let k = 0; k < n; k++) out[at + i + k] = p[o + k]; // a few bytes (an instruction): no view object
      i += n;
    }
  }

  /** Write bytes (loader or debugger poke). Goes through the code-page listener. */
  poke(addr: number, data: Uint8Array): void {
    if (!this.contains(addr, data.length)) {
      throw new RangeError(`write of ${data.length} bytes at 0x${addr.toString(16)} outside memory of ${this.size} bytes`);
    }
    let i = 0;
    while (i < data.length) {
      const a = addr + i;
      const o = a & PAGE_MASK;
      const n = Math.min(PAGE_SIZE - o, data.length - i);
      this.pageForWrite(Math.floor(a / PAGE_SIZE)).set(data.subarray(i, i + n), o);
      i += n;
    }
  }

  /** Zero a range (loader's BSS). Does not allocate pages that are still untouched. */
  fill0(addr: number, len: number): void {
    let i = 0;
    while (i < len) {
      const a = addr + i;
      const o = a & PAGE_MASK;
      const n = Math.min(PAGE_SIZE - o, len - i);
      const pn = Math.floor(a / PAGE_SIZE);
      if (this.pages[pn] !== undefined) this.pageForWrite(pn).fill(0, o, o + n);
      i += n;
    }
  }

  /**
   * Bumped when restore() replaces the pages and when takeDirty() starts a new dirty interval:
   * holders of page views (writablePage) must fetch them again.
   */
  epoch = 0;

  /**
   * The pages written since the previous call (or since restorePages()), in first-write order,
   * and a new interval begins: the dirty marks are cleared and `epoch` is bumped. The caller
   * must also drop any other direct write views it holds (the processor's TLB: flushTlb()).
   */
  takeDirty(): number[] {
    const list = this.dirtyList;
    for (let k = 0; k < list.length; k++) this.dirty[list[k]] = 0;
    this.dirtyList = [];
    this.epoch++;
    return list;
  }

  /** Pages written since the last takeDirty()/restorePages() (no side effects). */
  dirtyPages(): readonly number[] {
    return this.dirtyList;
  }

  /** Page numbers of every allocated page, ascending. */
  allocatedPages(): number[] {
    const out: number[] = [];
    for (let pn = 0; pn < this.pageCount; pn++) if (this.pages[pn] !== undefined) out.push(pn);
    return out;
  }

  /**
   * Put pages back to earlier contents in place (history restore): each entry's data (4096
   * bytes) is copied into the live page, null zeroes it. Page identities do not change, the
   * decoded-code marks are cleared (the caller flushes the processor's code cache), the dirty
   * set is emptied (a new interval begins) and `epoch` is bumped.
   */
  restorePages(entries: Iterable<readonly [number, Uint8Array | null]>): void {
    for (const [pn, data] of entries) {
      if (pn < 0 || pn >= this.pageCount) throw new RangeError(`physical page ${pn} outside memory`);
      let p = this.pages[pn];
      if (data === null) { if (p !== undefined) p.fill(0); continue; }
      if (p === undefined) { p = new Uint8Array(PAGE_SIZE); this.pages[pn] = p; this.allocated++; }
      p.set(data);
    }
    this.codePages.fill(0);
    this.takeDirty();
  }

  /** Snapshot: copies of the allocated pages. */
  snapshot(): Map<number, Uint8Array> {
    const m = new Map<number, Uint8Array>();
    for (let pn = 0; pn < this.pageCount; pn++) {
      const p = this.pages[pn];
      if (p !== undefined) m.set(pn, p.slice());
    }
    return m;
  }

  restore(snap: Map<number, Uint8Array>): void {
    this.epoch++;
    this.pages = new Array(this.pageCount);
    this.allocated = 0;
    for (const [pn, p] of snap) {
      this.pages[pn] = p.slice();
      this.allocated++;
    }
    this.codePages.fill(0);
    // Every page is new: all of them differ from whatever a history interval began with.
    for (let k = 0; k < this.dirtyList.length; k++) this.dirty[this.dirtyList[k]] = 0;
    this.dirtyList = [];
    for (let pn = 0; pn < this.pageCount; pn++) if (this.pages[pn] !== undefined) { this.dirty[pn] = 1; this.dirtyList.push(pn); }
  }
}
