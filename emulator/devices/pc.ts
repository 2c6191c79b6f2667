// The PC platform: maps PIC, PIT, RTC/CMOS, fw_cfg, port 92, PCI host, I/O APIC and local APIC on the bus and wires their interrupts.
import type { IoBus, Snapshottable } from './bus.js';
import { asRecord, DeviceStateError, hex } from './bus.js';
import { Cmos, CMOS_PORT, RTC_IRQ } from './cmos.js';
import { FW_CFG_RANGES, FwCfg } from './fw-cfg.js';
import { IOAPIC_BASE, IOAPIC_PINS, IOAPIC_SIZE, IoApic } from './ioapic.js';
import { LAPIC_BASE, LAPIC_SIZE, Lapic } from './lapic.js';
import { PciHost, PCI_CONFIG_ADDRESS, PCI_PORT_COUNT } from './pci-host.js';
import { DualPic, ELCR_PORT, PIC_MASTER_PORT, PIC_SLAVE_PORT } from './pic8259.js';
import { Pit8254, PIT_IRQ, PIT_PORT, PORT61 } from './pit8254.js';
import { Port92, PORT92, type ResetControl } from './port92.js';

/** ISA IRQ → I/O APIC input: identity except IRQ 0 → pin 2 (QEMU's MADT interrupt source override, ACPI 6.4 §5.2.12.5). */
export function isaIrqToGsi(irq: number): number {
  return irq === 0 ? 2 : irq;
}

export interface PcPlatformOptions {
  /** Guest time in ns (the instruction count): every timed device derives from it. */
  clock: () => number;
  /** Guest RAM in bytes (CMOS memory bytes, fw_cfg RAM size). */
  memorySize: number;
  /** Only one processor is modelled. */
  cpus?: 1;
  /** RTC time at guest time 0, seconds since 1970-01-01 UTC (default 2000-01-01 00:00:00 UTC). */
  rtcBase?: number;
  /** Where port 0x92 bit 0 and 0xCF9 bit 2 send their reset requests (the machine ends the run as "reset"). */
  control?: ResetControl;
  /** Guest TSC minus guest ns (IA32_TSC writes), for the TSC-deadline timer. */
  tscOffset?: () => number;
  /** The processor's MAXPHYADDR (IA32_APIC_BASE reserved bits). */
  maxPhysAddr?: number;
  /** Optional console, kept for symmetry with createPlatformDevices (no device here prints). */
  console?: unknown;
}

/** What the processor (or the hypervisor's virtual-interrupt logic) asks at instruction boundaries. */
export interface PcInterrupts {
  /** A maskable interrupt is ready (the caller checks RFLAGS.IF and interrupt shadows). */
  pending(): boolean;
  /** INTA: the vector; moves it in service in the LAPIC or the PIC. */
  acknowledge(): number;
  nmiPending(): boolean;
  /** The processor delivered the NMI. */
  acknowledgeNmi(): void;
}

export interface PlatformDeviceInfo {
  name: string;
  description: string;
  ports: { first: number; last: number }[];
  mmio: { base: number; size: number } | null;
  /** ISA IRQ (PIC input) or null. */
  irq: number | null;
  /** I/O APIC input, or null. */
  gsi: number | null;
}

/** The platform as one object: devices, interrupt wiring, time. */
export class PcPlatform implements Snapshottable {
  readonly pic: DualPic;
  readonly pit: Pit8254;
  readonly cmos: Cmos;
  readonly fwCfg: FwCfg;
  readonly port92: Port92;
  readonly pciHost: PciHost;
  readonly ioapic: IoApic;
  readonly lapic: Lapic;
  readonly interrupts: PcInterrupts;
  /** Reset requests seen (port 0x92, 0xCF9) when no control was given. */
  resetRequested = false;

  constructor(readonly bus: IoBus, private readonly opts: PcPlatformOptions) {
    if (!Number.isSafeInteger(opts.memorySize) || opts.memorySize < 0) throw new DeviceStateError('pc', `memorySize ${opts.memorySize}: expected a byte count`);
    if ((opts.cpus ?? 1) !== 1) throw new DeviceStateError('pc', 'only one processor is supported');
    const control: ResetControl = {
      requestReset: () => {
        this.resetRequested = true;
        opts.control?.requestReset();
      },
    };
    this.pic = new DualPic();
    this.ioapic = new IoApic((m) => this.lapic.receive(m));
    this.lapic = new Lapic({
      clock: opts.clock, tscOffset: opts.tscOffset, maxPhysAddr: opts.maxPhysAddr, id: 0, bsp: true,
      onEoi: (v) => this.ioapic.eoi(v), extInt: this.pic,
    });
    this.pic.onIntr = (level) => this.lapic.setLint(0, level);
    this.pit = new Pit8254({ clock: opts.clock, setIrq: (level) => this.setIrq(PIT_IRQ, level) });
    this.cmos = new Cmos({ clock: opts.clock, memorySize: opts.memorySize, cpus: 1, rtcBase: opts.rtcBase, setIrq: (level) => this.setIrq(RTC_IRQ, level) });
    this.port92 = new Port92(control);
    this.pciHost = new PciHost(control);
    // The file etc/vmscope/platform holds the platform description (describe() reads only constants).
    this.fwCfg = new FwCfg({ memorySize: opts.memorySize, cpus: 1, description: this.describeText() });

    bus.mapPorts(PIC_MASTER_PORT, 2, this.pic);
    bus.mapPorts(PIT_PORT, 4, this.pit);
    bus.mapPorts(PORT61, 1, this.pit.port61Device);
    bus.mapPorts(CMOS_PORT, 2, this.cmos);
    bus.mapPorts(PORT92, 1, this.port92);
    bus.mapPorts(PIC_SLAVE_PORT, 2, this.pic);
    bus.mapPorts(ELCR_PORT, 2, this.pic.elcrDevice);
    for (const [first, count] of FW_CFG_RANGES) bus.mapPorts(first, count, this.fwCfg);
    bus.mapPorts(PCI_CONFIG_ADDRESS, PCI_PORT_COUNT, this.pciHost);
    bus.mapMmio(IOAPIC_BASE, IOAPIC_SIZE, this.ioapic);
    bus.mapMmio(LAPIC_BASE, LAPIC_SIZE, this.lapic);

    const lapic = this.lapic;
    const pic = this.pic;
    this.interrupts = {
      // With the LAPIC globally disabled its LINT0 is the processor's INTR pin (SDM vol. 3A §11.4.3).
      pending: () => (lapic.globallyEnabled ? lapic.hasInterrupt() : pic.intr()),
      acknowledge: () => (lapic.globallyEnabled ? lapic.acknowledge() : pic.acknowledge()),
      nmiPending: () => lapic.nmiPending(),
      acknowledgeNmi: () => lapic.acknowledgeNmi(),
    };
  }

  /** An ISA/GSI interrupt line: IRQ 0-15 go to the PIC and the I/O APIC (IRQ 0 → pin 2), 16-23 to the I/O APIC only. */
  setIrq(irq: number, level: boolean): void {
    if (!Number.isInteger(irq) || irq < 0 || irq >= IOAPIC_PINS) return;
    if (irq < 16) this.pic.setIrq(irq, level);
    this.ioapic.setIrq(irq < 16 ? isaIrqToGsi(irq) : irq, level);
  }

  /** Guest ns of the earliest device event (PIT channel 0, RTC, LAPIC timer), or null. Poll when the clock reaches it. */
  nextDeadline(): number | null {
    let best = this.pit.nextDeadline();
    const c = this.cmos.nextDeadline();
    if (c !== null && (best === null || c < best)) best = c;
    const l = this.lapic.nextDeadline();
    if (l !== null && (best === null || l < best)) best = l;
    return best;
  }

  /** Fire every event due at guest ns `now`, in a fixed order (PIT, RTC, LAPIC). */
  poll(now: number): void {
    this.pit.poll(now);
    this.cmos.poll(now);
    this.lapic.poll(now);
  }

  /** Every device: ports, MMIO range, IRQ, for the CLI and the views. */
  describe(): PlatformDeviceInfo[] {
    const p = (first: number, count: number) => ({ first, last: first + count - 1 });
    return [
      { name: 'pic', description: '8259A master/slave pair, cascade on IRQ 2; ELCR at 0x4D0-0x4D1', ports: [p(PIC_MASTER_PORT, 2), p(PIC_SLAVE_PORT, 2), p(ELCR_PORT, 2)], mmio: null, irq: null, gsi: null },
      { name: 'pit', description: '8254 PIT, 1.193182 MHz; port 0x61 gate/speaker/refresh', ports: [p(PIT_PORT, 4), p(PORT61, 1)], mmio: null, irq: PIT_IRQ, gsi: isaIrqToGsi(PIT_IRQ) },
      { name: 'cmos', description: 'MC146818 RTC and CMOS RAM; index bit 7 = NMI disable', ports: [p(CMOS_PORT, 2)], mmio: null, irq: RTC_IRQ, gsi: RTC_IRQ },
      { name: 'port92', description: 'System Control Port A: A20 (stored), fast reset', ports: [p(PORT92, 1)], mmio: null, irq: null, gsi: null },
      { name: 'fw-cfg', description: 'QEMU fw_cfg, traditional I/O interface (no DMA)', ports: FW_CFG_RANGES.map(([f, c]) => p(f, c)), mmio: null, irq: null, gsi: null },
      { name: 'pci-host', description: 'PCI configuration mechanism #1, no devices; reset control at 0xCF9', ports: [p(PCI_CONFIG_ADDRESS, PCI_PORT_COUNT)], mmio: null, irq: null, gsi: null },
      { name: 'ioapic', description: 'I/O APIC, 24 pins, ISA IRQ 0 on pin 2', ports: [], mmio: { base: IOAPIC_BASE, size: IOAPIC_SIZE }, irq: null, gsi: null },
      { name: 'lapic', description: 'local APIC (xAPIC page, x2APIC MSRs), 1 GHz timer clock, LINT0 = PIC (ExtINT)', ports: [], mmio: { base: LAPIC_BASE, size: LAPIC_SIZE }, irq: null, gsi: null },
    ];
  }

  private describeText(): string {
    const lines = this.describe().map((d) => {
      const ports = d.ports.map((r) => (r.first === r.last ? hex(r.first, 4) : `${hex(r.first, 4)}-${hex(r.last, 4)}`)).join(',');
      const mmio = d.mmio ? ` mmio=${hex(d.mmio.base, 8)}+${hex(d.mmio.size, 4)}` : '';
      const irq = d.irq !== null ? ` irq=${d.irq}` : '';
      return `${d.name}${ports ? ` ports=${ports}` : ''}${mmio}${irq}`;
    });
    return `vmscope PC platform, 1 CPU, ${this.opts.memorySize} bytes RAM\n${lines.join('\n')}\n`;
  }

  private devices(): [string, Snapshottable][] {
    return [['pic', this.pic], ['pit', this.pit], ['cmos', this.cmos], ['fwCfg', this.fwCfg], ['port92', this.port92], ['pciHost', this.pciHost], ['ioapic', this.ioapic], ['lapic', this.lapic]];
  }

  saveState(): unknown {
    const out: Record<string, unknown> = { resetRequested: this.resetRequested };
    for (const [k, d] of this.devices()) out[k] = d.saveState();
    return out;
  }

  /** All or nothing: a malformed part leaves every device as it was. */
  loadState(s: unknown): void {
    const o = asRecord('pc', s);
    if (typeof o.resetRequested !== 'boolean') throw new DeviceStateError('pc', 'state.resetRequested: expected a boolean');
    const before = this.saveState() as Record<string, unknown>;
    try {
      for (const [k, d] of this.devices()) d.loadState(o[k]);
    } catch (e) {
      for (const [k, d] of this.devices()) d.loadState(before[k]);
      throw e;
    }
    this.resetRequested = o.resetRequested;
  }
}

/** Create the PC platform devices and map them on `bus` (no overlap with debugcon 0xE9, debug-exit 0xF4, COM1 0x3F8). */
export function createPcPlatform(bus: IoBus, opts: PcPlatformOptions): PcPlatform {
  return new PcPlatform(bus, opts);
}
