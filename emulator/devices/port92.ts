// System Control Port A (port 0x92): fast A20 gate (bit 1, stored) and fast reset (bit 0 rising → reset request).
import type { PortDevice, PortSize, Snapshottable } from './bus.js';
import { asRecord, intField } from './bus.js';

export const PORT92 = 0x92;

/** The machine's side of a guest-requested reset: the run ends with status "reset" after the current instruction. */
export interface ResetControl {
  requestReset(): void;
}

/**
 * PIIX3 "Port 92h" (System Control Port A): bit 0 FAST_INIT (a 0→1 transition resets the processor),
 * bit 1 FAST_A20. The whole byte is stored and read back, as QEMU's port92 does. The processor keeps A20
 * enabled at all times (no 1 MiB wrap-around), so bit 1 is only stored; it reads 1 at reset to say so,
 * as after a BIOS has enabled A20. A reset request is recorded and passed to `control`.
 */
export class Port92 implements PortDevice, Snapshottable {
  readonly name = 'port92';
  private value = 0x02;
  resetRequests = 0;

  constructor(private readonly control: ResetControl) {}

  ioRead(port: number, size: PortSize): number {
    return this.ioPeek(port, size);
  }

  ioPeek(_port: number, size: PortSize): number {
    return size === 1 ? this.value : this.value | (size === 2 ? 0xff00 : 0xffffff00); // bytes past 0x92 are unassigned
  }

  ioWrite(_port: number, _size: PortSize, value: number): void {
    const v = value & 0xff;
    const old = this.value;
    this.value = v;
    if (v & 1 && !(old & 1)) {
      this.resetRequests++;
      this.control.requestReset();
    }
  }

  /** The A20 gate as the guest last set it (the processor does not mask A20 either way). */
  get a20(): boolean {
    return (this.value & 2) !== 0;
  }

  saveState(): unknown {
    return { value: this.value, resetRequests: this.resetRequests };
  }

  loadState(s: unknown): void {
    const o = asRecord(this.name, s);
    const value = intField(this.name, o, 'value', 0, 0xff);
    const resetRequests = intField(this.name, o, 'resetRequests', 0, Number.MAX_SAFE_INTEGER);
    this.value = value;
    this.resetRequests = resetRequests;
  }
}
