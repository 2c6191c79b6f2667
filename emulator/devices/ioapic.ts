// 82093AA-style I/O APIC at 0xFEC00000: IOREGSEL/IOWIN, ID/version/arbitration, 24 redirection entries, edge/level, remote IRR and EOI.
import type { MmioDevice, MmioSize, Snapshottable } from './bus.js';
import { asRecord, DeviceStateError, intField } from './bus.js';

export const IOAPIC_BASE = 0xfec00000;
export const IOAPIC_SIZE = 0x1000;
export const IOAPIC_PINS = 24;
/** Version register: version 0x11 (82093AA datasheet §3.2.2), maximum redirection entry 23 in bits 23:16. */
export const IOAPIC_VERSION = 0x00170011;
const IOREGSEL = 0x00;
const IOWIN = 0x10;

/** Redirection table entry bits (82093AA datasheet §3.2.4, "IOREDTBL"). */
export const REDIR = {
  VECTOR: 0xff,
  DELIVERY_MODE: 0x700, // 000 fixed, 001 lowest priority, 010 SMI, 100 NMI, 101 INIT, 111 ExtINT
  DEST_LOGICAL: 0x800,
  DELIVERY_STATUS: 0x1000, // read-only
  POLARITY_LOW: 0x2000,
  REMOTE_IRR: 0x4000, // read-only
  TRIGGER_LEVEL: 0x8000,
  MASK: 0x10000,
} as const;
const LOW_WRITABLE = REDIR.VECTOR | REDIR.DELIVERY_MODE | REDIR.DEST_LOGICAL | REDIR.POLARITY_LOW | REDIR.TRIGGER_LEVEL | REDIR.MASK;
/** Upper dword: destination in bits 63:56; bits 55:32 reserved. */
const HIGH_WRITABLE = 0xff000000;

/** An interrupt message on the APIC bus (82093AA §2.3): what a local APIC is asked to accept. */
export interface ApicMessage {
  vector: number;
  /** Delivery mode, 0..7 as in the redirection entry / ICR. */
  mode: number;
  logical: boolean;
  /** 8-bit destination (physical APIC ID or logical mask). */
  dest: number;
  level: boolean;
}

/**
 * Inputs are driven by `setIrq(pin, level)` with the wire level; an entry's polarity bit says whether
 * the wire is active low. Edge entries deliver on an asserting transition while unmasked (a masked
 * edge is lost). Level entries deliver while asserted, unmasked and remote IRR clear, and set remote IRR
 * for fixed and lowest-priority delivery; `eoi(vector)` (the local APIC's EOI broadcast) clears remote
 * IRR of the level entries with that vector and delivers again if the line is still asserted.
 * Delivery is instantaneous, so the delivery status bit always reads 0. Registers are 32 bits wide; a
 * smaller read of IOWIN returns the addressed bytes, a smaller write of IOWIN is dropped (the datasheet
 * requires dword accesses).
 */
export class IoApic implements MmioDevice, Snapshottable {
  readonly name = 'ioapic';
  private ioregsel = 0;
  private id = 0;
  private readonly redir = new Array<number>(IOAPIC_PINS).fill(REDIR.MASK);
  private readonly redirHigh = new Array<number>(IOAPIC_PINS).fill(0);
  /** Wire levels of the 24 inputs (bit n = pin n). */
  private wires = 0;
  deliveries = 0;

  constructor(private readonly deliver: (m: ApicMessage) => void) {}

  private asserted(pin: number): boolean {
    const wire = (this.wires >>> pin) & 1;
    return (wire === 1) !== ((this.redir[pin] & REDIR.POLARITY_LOW) !== 0);
  }

  setIrq(pin: number, level: boolean): void {
    if (!Number.isInteger(pin) || pin < 0 || pin >= IOAPIC_PINS) return;
    const was = this.asserted(pin);
    if (level) this.wires |= 1 << pin;
    else this.wires &= ~(1 << pin);
    const now = this.asserted(pin);
    const e = this.redir[pin];
    if (e & REDIR.TRIGGER_LEVEL) this.service(pin);
    else if (now && !was && !(e & REDIR.MASK)) this.send(pin);
  }

  /** Level entries: deliver when asserted, unmasked and not awaiting EOI. */
  private service(pin: number): void {
    const e = this.redir[pin];
    if (!(e & REDIR.TRIGGER_LEVEL) || e & REDIR.MASK || e & REDIR.REMOTE_IRR || !this.asserted(pin)) return;
    const mode = (e >> 8) & 7;
    if (mode === 0 || mode === 1) this.redir[pin] = e | REDIR.REMOTE_IRR;
    this.send(pin);
  }

  private send(pin: number): void {
    const e = this.redir[pin];
    this.deliveries++;
    this.deliver({
      vector: e & 0xff, mode: (e >> 8) & 7, logical: (e & REDIR.DEST_LOGICAL) !== 0, dest: this.redirHigh[pin] >>> 24,
      level: (e & REDIR.TRIGGER_LEVEL) !== 0,
    });
  }

  /** EOI broadcast from a local APIC (SDM vol. 3A §11.8.5) for a level-triggered vector. */
  eoi(vector: number): void {
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const e = this.redir[pin];
      if ((e & 0xff) === vector && e & REDIR.REMOTE_IRR) {
        this.redir[pin] = e & ~REDIR.REMOTE_IRR;
        this.service(pin);
      }
    }
  }

  private readRegister(index: number): number {
    if (index === 0x00) return (this.id << 24) >>> 0;
    if (index === 0x01) return IOAPIC_VERSION;
    if (index === 0x02) return (this.id << 24) >>> 0; // arbitration ID: loaded from the ID (82093AA §3.2.3)
    if (index >= 0x10 && index < 0x10 + 2 * IOAPIC_PINS) {
      const pin = (index - 0x10) >> 1;
      return (index & 1 ? this.redirHigh[pin] : this.redir[pin]) >>> 0;
    }
    return 0;
  }

  private writeRegister(index: number, v: number): void {
    if (index === 0x00) {
      this.id = (v >>> 24) & 0x0f;
      return;
    }
    if (index >= 0x10 && index < 0x10 + 2 * IOAPIC_PINS) {
      const pin = (index - 0x10) >> 1;
      if (index & 1) {
        this.redirHigh[pin] = (v & HIGH_WRITABLE) >>> 0;
      } else {
        this.redir[pin] = (this.redir[pin] & ~LOW_WRITABLE) | (v & LOW_WRITABLE);
        if (!(this.redir[pin] & REDIR.TRIGGER_LEVEL)) this.redir[pin] &= ~REDIR.REMOTE_IRR;
        this.service(pin);
      }
    }
    // ID bits other than 27:24, version, arbitration and unimplemented registers: read-only.
  }

  mmioRead(offset: number, size: MmioSize): number {
    return this.mmioPeek(offset, size);
  }

  mmioPeek(offset: number, size: MmioSize): number {
    if (offset >= IOREGSEL && offset < IOREGSEL + 4) return offset === IOREGSEL ? this.ioregsel : 0;
    if (offset >= IOWIN && offset < IOWIN + 4) {
      const v = this.readRegister(this.ioregsel) >>> (8 * (offset - IOWIN));
      return size === 4 ? v >>> 0 : v & (size === 2 ? 0xffff : 0xff);
    }
    return 0;
  }

  mmioWrite(offset: number, size: MmioSize, value: number): void {
    if (offset === IOREGSEL) this.ioregsel = value & 0xff;
    else if (offset === IOWIN && size === 4) this.writeRegister(this.ioregsel, value >>> 0);
  }

  /** Redirection table for the debugger: [low, high] per pin. */
  table(): [number, number][] {
    return this.redir.map((lo, i) => [lo >>> 0, this.redirHigh[i] >>> 0]);
  }

  saveState(): unknown {
    return { ioregsel: this.ioregsel, id: this.id, redir: [...this.redir], redirHigh: [...this.redirHigh], wires: this.wires, deliveries: this.deliveries };
  }

  loadState(s: unknown): void {
    const n = this.name;
    const o = asRecord(n, s);
    const ioregsel = intField(n, o, 'ioregsel', 0, 0xff);
    const id = intField(n, o, 'id', 0, 0x0f);
    const wires = intField(n, o, 'wires', 0, 0xffffff);
    const deliveries = intField(n, o, 'deliveries', 0, Number.MAX_SAFE_INTEGER);
    const arr = (k: string, allowed: number): number[] => {
      const v = o[k];
      if (!Array.isArray(v) || v.length !== IOAPIC_PINS || !v.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff && (x & ~allowed) === 0)) {
        throw new DeviceStateError(n, `state.${k}: expected ${IOAPIC_PINS} redirection words`);
      }
      return v as number[];
    };
    const redir = arr('redir', LOW_WRITABLE | REDIR.REMOTE_IRR);
    const redirHigh = arr('redirHigh', HIGH_WRITABLE);
    this.ioregsel = ioregsel;
    this.id = id;
    this.wires = wires;
    this.deliveries = deliveries;
    for (let i = 0; i < IOAPIC_PINS; i++) {
      this.redir[i] = redir[i];
      this.redirHigh[i] = redirHigh[i];
    }
  }
}
