// QEMU's isa-debug-exit: a guest writes v to the port and the run ends with exit code (v << 1) | 1.
import type { PortDevice, PortSize, Snapshottable } from './bus.js';
import { asRecord, boolField, intField } from './bus.js';
import type { RunControl } from './sinks.js';

/** The conventional mapping (-device isa-debug-exit,iobase=0xf4,iosize=0x04); QEMU's own default is 0x501/2. */
export const DEBUG_EXIT_PORT = 0xf4;
export const DEBUG_EXIT_IOSIZE = 4;

/**
 * Semantics of QEMU hw/misc/debugexit.c:
 * - write: qemu_system_shutdown_request_with_code((val << 1) | 1), where val is the value of the access
 *   (1, 2 or 4 bytes, any port of the range; valid.max_access_size = 4). The code is computed in 32 bits
 *   as C's int conversion does (`>>> 0` keeps it non-negative); a host process exit status is its low
 *   8 bits, exactly as QEMU's own exit status is.
 * - read: debug_exit_read returns 0.
 * The device only records the request; the machine stops after the current instruction.
 */
export class DebugExit implements PortDevice, Snapshottable {
  readonly name = 'debug-exit';
  /** The code of the first exit request, or null. */
  exitCode: number | null = null;

  constructor(
    private readonly control: RunControl,
    readonly port: number = DEBUG_EXIT_PORT,
    readonly iosize: number = DEBUG_EXIT_IOSIZE,
  ) {}

  ioRead(_port: number, _size: PortSize): number {
    return 0;
  }

  ioPeek(_port: number, _size: PortSize): number {
    return 0;
  }

  ioWrite(_port: number, size: PortSize, value: number): void {
    const v = size === 4 ? value >>> 0 : value & (size === 2 ? 0xffff : 0xff);
    const code = ((v << 1) | 1) >>> 0;
    if (this.exitCode === null) this.exitCode = code;
    this.control.requestExit(code);
  }

  saveState(): unknown {
    return { requested: this.exitCode !== null, exitCode: this.exitCode ?? 0 };
  }

  loadState(s: unknown): void {
    const o = asRecord(this.name, s);
    const requested = boolField(this.name, o, 'requested');
    const code = intField(this.name, o, 'exitCode', 0, 0xffffffff);
    this.exitCode = requested ? code : null;
  }
}
