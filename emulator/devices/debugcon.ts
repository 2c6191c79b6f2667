// QEMU's isa-debugcon ("port E9" Bochs-style debug console): write a byte, it goes to the console sink.
import type { PortDevice, PortSize, Snapshottable } from './bus.js';
import { asRecord, intField } from './bus.js';
import type { ConsoleSink } from './sinks.js';

export const DEBUGCON_PORT = 0xe9;
/** QEMU's default `readback` property: a read returns 0xE9 so a guest can detect the device (hw/char/debugcon.c). */
export const DEBUGCON_READBACK = 0xe9;

/**
 * One byte-wide port. QEMU declares valid.max_access_size = 1; a 2- or 4-byte IN/OUT is an invalid access
 * that its memory core rejects as a whole (memory_region_access_valid -> MEMTX_DECODE_ERROR): the read
 * returns 0 and the write is dropped. Measured on QEMU 7.2 (test/devices/qemu-reference.test.ts) and done
 * the same here. Stateless apart from a counter of bytes written.
 */
export class DebugCon implements PortDevice, Snapshottable {
  readonly name = 'debugcon';
  /** Output only: no interrupt, no timer. */
  readonly quiet = true;
  bytesWritten = 0;

  constructor(
    private readonly sink: ConsoleSink,
    readonly port: number = DEBUGCON_PORT,
    private readonly readback: number = DEBUGCON_READBACK,
  ) {}

  ioRead(port: number, size: PortSize): number {
    return this.ioPeek(port, size);
  }

  ioPeek(port: number, size: PortSize): number {
    return size === 1 && port === this.port ? this.readback & 0xff : 0;
  }

  ioWrite(port: number, size: PortSize, value: number): void {
    if (size !== 1 || port !== this.port) return; // invalid access size: dropped, as in QEMU
    this.bytesWritten++;
    this.sink(value & 0xff, this.name);
  }

  saveState(): unknown {
    return { bytesWritten: this.bytesWritten };
  }

  loadState(s: unknown): void {
    this.bytesWritten = intField(this.name, asRecord(this.name, s), 'bytesWritten', 0, Number.MAX_SAFE_INTEGER);
  }
}
