// QEMU fw_cfg, legacy I/O interface (selector 0x510, data 0x511): signature, ID, RAM size, CPU counts and a file directory.
import type { PortDevice, PortSize, Snapshottable } from './bus.js';
import { asRecord, DeviceStateError, intField } from './bus.js';

export const FW_CFG_PORT = 0x510;
/** The DMA address register (0x514-0x51B, big-endian 64-bit) is not implemented: it reads 0, writes are dropped. */
export const FW_CFG_DMA_PORT = 0x514;
/** 0x510-0x511 (selector, data) and 0x514-0x51B (DMA address) are decoded; 0x512-0x513 are not, as in QEMU. */
export const FW_CFG_RANGES: readonly (readonly [number, number])[] = [[0x510, 2], [0x514, 8]];

/** Selector keys (QEMU docs/specs/fw_cfg.txt and include/standard-headers/linux/qemu_fw_cfg.h). */
export const FW_CFG = {
  SIGNATURE: 0x00, ID: 0x01, UUID: 0x02, RAM_SIZE: 0x03, NOGRAPHIC: 0x04, NB_CPUS: 0x05, MACHINE_ID: 0x06,
  MAX_CPUS: 0x0f, FILE_DIR: 0x19, FILE_FIRST: 0x20,
} as const;
/** Selector bits: 0x8000 architecture-specific entries, 0x4000 write channel; the entry number is the low 14 bits. */
export const FW_CFG_ARCH_LOCAL = 0x8000;
const ENTRY_MASK = 0x3fff;
/** FW_CFG_ID bit 0: the traditional (port) interface; bit 1 (DMA) is left clear. */
export const FW_CFG_VERSION_TRADITIONAL = 1;
export const FW_CFG_PLATFORM_FILE = 'etc/vmscope/platform';
const FILE_NAME_LEN = 56;

export interface FwCfgOptions {
  memorySize: number;
  cpus: number;
  /** Text of the file "etc/vmscope/platform" (a short description of the platform). */
  description?: string;
  /** Further files (name ≤ 55 bytes, contents), placed after etc/vmscope/platform. */
  files?: { name: string; data: Uint8Array }[];
}

function le(value: number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let v = BigInt(Math.max(0, Math.floor(value)));
  for (let i = 0; i < bytes; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/**
 * The selector picks an entry and rewinds its offset; each data read returns the next byte, 0 past the
 * end or for an entry that does not exist (QEMU hw/nvram/fw_cfg.c fw_cfg_select / fw_cfg_data_read).
 * Port accesses follow QEMU's "comb" region at 0x510-0x511: a 16-bit write selects, a byte read at either
 * port reads data, a byte write is a data write (ignored since QEMU 2.4); other sizes are invalid
 * accesses (read 0, write dropped). The directory is big-endian: u32 count, then {u32 size, u16 select,
 * u16 reserved, char name[56]} per file.
 */
export class FwCfg implements PortDevice, Snapshottable {
  readonly name = 'fw-cfg';
  private readonly entries = new Map<number, Uint8Array>();
  private selector = 0;
  private offset = 0;
  private valid = false;

  constructor(opts: FwCfgOptions) {
    this.entries.set(FW_CFG.SIGNATURE, new TextEncoder().encode('QEMU'));
    this.entries.set(FW_CFG.ID, le(FW_CFG_VERSION_TRADITIONAL, 4));
    this.entries.set(FW_CFG.UUID, new Uint8Array(16));
    this.entries.set(FW_CFG.RAM_SIZE, le(opts.memorySize, 8));
    this.entries.set(FW_CFG.NOGRAPHIC, le(1, 2));
    this.entries.set(FW_CFG.NB_CPUS, le(opts.cpus, 2));
    this.entries.set(FW_CFG.MAX_CPUS, le(opts.cpus, 2));
    const files = [
      { name: FW_CFG_PLATFORM_FILE, data: new TextEncoder().encode(opts.description ?? 'vmscope PC platform\n') },
      ...(opts.files ?? []),
    ];
    if (files.length > ENTRY_MASK - FW_CFG.FILE_FIRST) throw new DeviceStateError(this.name, 'too many fw_cfg files');
    const dir = new Uint8Array(4 + 64 * files.length);
    const dv = new DataView(dir.buffer);
    dv.setUint32(0, files.length);
    files.forEach((f, i) => {
      const name = new TextEncoder().encode(f.name);
      if (name.length >= FILE_NAME_LEN) throw new DeviceStateError(this.name, `fw_cfg file name "${f.name}" is longer than 55 bytes`);
      const o = 4 + 64 * i;
      dv.setUint32(o, f.data.length);
      dv.setUint16(o + 4, FW_CFG.FILE_FIRST + i);
      dir.set(name, o + 8);
      this.entries.set(FW_CFG.FILE_FIRST + i, f.data);
    });
    this.entries.set(FW_CFG.FILE_DIR, dir);
  }

  private entry(): Uint8Array | undefined {
    return this.valid ? this.entries.get(this.selector) : undefined;
  }

  /** The bytes of an entry (tests, views). */
  entryData(key: number): Uint8Array | undefined {
    return this.entries.get(key);
  }

  select(key: number): void {
    this.selector = key & 0xffff;
    this.offset = 0;
    // Architecture-local entries (ACPI tables, E820, ...) are not provided: they read as 0.
    this.valid = (key & FW_CFG_ARCH_LOCAL) === 0 && this.entries.has(key & ENTRY_MASK);
    if (this.valid) this.selector = key & ENTRY_MASK;
  }

  private readData(peek: boolean): number {
    const e = this.entry();
    if (e === undefined || this.offset >= e.length) return 0;
    const v = e[this.offset];
    if (!peek) this.offset++;
    return v;
  }

  ioRead(port: number, size: PortSize): number {
    if (port >= FW_CFG_DMA_PORT || size !== 1) return 0;
    return this.readData(false);
  }

  ioPeek(port: number, size: PortSize): number {
    if (port >= FW_CFG_DMA_PORT || size !== 1) return 0;
    return this.readData(true);
  }

  ioWrite(port: number, size: PortSize, value: number): void {
    if (port >= FW_CFG_DMA_PORT) return;
    if (size === 2 && port === FW_CFG_PORT) this.select(value);
    // A word at 0x511 runs past the 2-byte region (QEMU ignores it); size 1: data write, ignored (read-only
    // entries); size 4: invalid access.
  }

  saveState(): unknown {
    return { selector: this.selector, offset: this.offset, valid: this.valid };
  }

  loadState(s: unknown): void {
    const o = asRecord(this.name, s);
    const selector = intField(this.name, o, 'selector', 0, 0xffff);
    const offset = intField(this.name, o, 'offset', 0, 0xffffffff);
    const valid = o.valid;
    if (typeof valid !== 'boolean') throw new DeviceStateError(this.name, 'state.valid: expected a boolean');
    this.selector = selector;
    this.offset = offset;
    this.valid = valid && this.entries.has(selector);
  }
}
