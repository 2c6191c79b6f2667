// PCI configuration mechanism #1 (0xCF8 CONFIG_ADDRESS, 0xCFC-0xCFF data) with no devices, and the PIIX reset control register 0xCF9.
import type { PortDevice, PortSize, Snapshottable } from './bus.js';
import { asRecord, intField } from './bus.js';
import type { ResetControl } from './port92.js';

export const PCI_CONFIG_ADDRESS = 0xcf8;
export const PCI_RESET_CONTROL = 0xcf9;
export const PCI_CONFIG_DATA = 0xcfc;
export const PCI_PORT_COUNT = 8;
export const PCI_ENABLE = 0x80000000;

/**
 * PCI Local Bus spec 3.0 §3.2.2.3.2: a 32-bit access to 0xCF8 is CONFIG_ADDRESS (read back as written,
 * as QEMU's pci_host_config_read does); 0xCFC-0xCFF access the configuration space of the function
 * CONFIG_ADDRESS selects. No function exists on this platform, so every data read is all ones (a master
 * abort) whether or not the enable bit is set, and data writes are dropped. Byte and word accesses to
 * 0xCF8-0xCFB are ordinary I/O, not CONFIG_ADDRESS: they read 0xFF, except 0xCF9, the PIIX3 Reset
 * Control Register (PIIX3 datasheet, I/O register RC at 0CF9h): writing bit 2 = 1 requests a reset (bit 1 "system reset" is
 * stored), as QEMU's piix3 rcr_write and Linux's reboot=pci use it.
 */
export class PciHost implements PortDevice, Snapshottable {
  readonly name = 'pci-host';
  private configAddress = 0;
  private rcr = 0;
  resetRequests = 0;

  constructor(private readonly control?: ResetControl) {}

  ioRead(port: number, size: PortSize): number {
    return this.ioPeek(port, size);
  }

  ioPeek(port: number, size: PortSize): number {
    if (port === PCI_CONFIG_ADDRESS && size === 4) return this.configAddress >>> 0;
    if (port >= PCI_CONFIG_DATA) return size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
    let v = 0;
    for (let i = 0; i < size; i++) v |= (port + i === PCI_RESET_CONTROL ? this.rcr : 0xff) << (8 * i);
    return v >>> 0;
  }

  ioWrite(port: number, size: PortSize, value: number): void {
    if (port === PCI_CONFIG_ADDRESS && size === 4) {
      this.configAddress = value >>> 0;
      return;
    }
    if (port >= PCI_CONFIG_DATA) return; // no function answers: the write is dropped
    for (let i = 0; i < size; i++) {
      if (port + i !== PCI_RESET_CONTROL) continue;
      const v = (value >>> (8 * i)) & 0xff;
      if (v & 0x04) {
        this.resetRequests++;
        this.control?.requestReset();
      } else {
        this.rcr = v & 0x02;
      }
    }
  }

  /** CONFIG_ADDRESS as last written (views). */
  get address(): number {
    return this.configAddress >>> 0;
  }

  saveState(): unknown {
    return { configAddress: this.configAddress >>> 0, rcr: this.rcr, resetRequests: this.resetRequests };
  }

  loadState(s: unknown): void {
    const o = asRecord(this.name, s);
    const configAddress = intField(this.name, o, 'configAddress', 0, 0xffffffff);
    const rcr = intField(this.name, o, 'rcr', 0, 0x02);
    const resetRequests = intField(this.name, o, 'resetRequests', 0, Number.MAX_SAFE_INTEGER);
    this.configAddress = configAddress;
    this.rcr = rcr & 0x02;
    this.resetRequests = resetRequests;
  }
}
