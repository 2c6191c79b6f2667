// Dual 8259A programmable interrupt controller (master 0x20/0x21, slave 0xA0/0xA1 on IRQ2) and the PIIX ELCR (0x4D0/0x4D1).
import type { PortDevice, PortSize, Snapshottable } from './bus.js';
import { asRecord, boolField, DeviceStateError, intField } from './bus.js';

export const PIC_MASTER_PORT = 0x20;
export const PIC_SLAVE_PORT = 0xa0;
export const ELCR_PORT = 0x4d0;
/** The master input the slave's INT output drives (PC/AT cascade). */
export const PIC_CASCADE_IRQ = 2;
/**
 * ELCR bits that can be set (PIIX3 datasheet §2.4 ELCR1/ELCR2): IRQ 0, 1, 2, 8 and 13 are edge-only.
 * QEMU uses the same masks (elcr_mask 0xF8 / 0xDE).
 */
export const ELCR_MASK = [0xf8, 0xde] as const;

/** One 8259A (Intel 8259A datasheet, "Programming the 8259A"; numbering of state as in the datasheet's Figure 6 flow). */
interface Chip {
  irr: number;
  isr: number;
  imr: number;
  /** Input levels seen last (edge detector, datasheet "Edge Triggered Mode": a low-to-high transition sets IRR). */
  lastLevel: number;
  elcr: number;
  /** Rotation: the IR line with the highest priority is `priorityAdd` (0 = IR0 highest, the fully nested default). */
  priorityAdd: number;
  irqBase: number;
  /** 0 ready (OCW), 1 expects ICW2, 2 expects ICW3, 3 expects ICW4. */
  initState: number;
  icw4Needed: boolean;
  single: boolean;
  icw3: number;
  autoEoi: boolean;
  rotateOnAutoEoi: boolean;
  specialFullyNested: boolean;
  /** OCW3 RR/RIS: false reads IRR, true reads ISR. */
  readIsr: boolean;
  poll: boolean;
  specialMask: boolean;
}

function newChip(): Chip {
  return {
    irr: 0, isr: 0, imr: 0, lastLevel: 0, elcr: 0, priorityAdd: 0, irqBase: 0, initState: 0, icw4Needed: false,
    single: false, icw3: 0, autoEoi: false, rotateOnAutoEoi: false, specialFullyNested: false, readIsr: false,
    poll: false, specialMask: false,
  };
}

/** ICW1 reset (8259A datasheet "Initialization Command Words": IMR cleared, IR7 lowest, special mask off, status read = IRR, ICW4 functions 0). */
function initReset(c: Chip): void {
  c.lastLevel = 0;
  c.irr &= c.elcr; // level-triggered requests stay asserted (as QEMU's pic_reset_common)
  c.imr = 0;
  c.isr = 0;
  c.priorityAdd = 0;
  c.irqBase = 0;
  c.readIsr = false;
  c.poll = false;
  c.specialMask = false;
  c.initState = 0;
  c.autoEoi = false;
  c.rotateOnAutoEoi = false;
  c.specialFullyNested = false;
  c.icw4Needed = false;
  c.single = false;
  c.icw3 = 0;
}

/** Priority level (0 = highest) of the highest-priority bit of `mask` under the current rotation; 8 if none. */
function priorityOf(c: Chip, mask: number): number {
  if (mask === 0) return 8;
  let p = 0;
  while ((mask & (1 << ((p + c.priorityAdd) & 7))) === 0) p++;
  return p;
}

/**
 * The IR line this chip would present on INT, or -1: the highest-priority unmasked request that outranks
 * every in-service level (datasheet "Priority Resolver"). Special mask mode ignores masked in-service
 * levels; special fully nested mode on the master lets the slave's line interrupt its own in-service level.
 */
function pendingLine(c: Chip, isMaster: boolean): number {
  const p = priorityOf(c, c.irr & ~c.imr);
  if (p === 8) return -1;
  let inService = c.isr;
  if (c.specialMask) inService &= ~c.imr;
  if (c.specialFullyNested && isMaster) inService &= ~(1 << PIC_CASCADE_IRQ);
  return p < priorityOf(c, inService) ? (p + c.priorityAdd) & 7 : -1;
}

export interface PicSnapshotChip {
  irr: number; isr: number; imr: number; elcr: number; irqBase: number; priorityAdd: number;
}

/**
 * Both 8259As of a PC/AT. `setIrq(line 0..15, level)` drives the inputs (edge or level per the ELCR);
 * `intr()` is the master's INT output; `acknowledge()` is the two-pulse INTA sequence returning the
 * vector (datasheet "Interrupt Sequence"), including the spurious IR7 (master) / IR15 (slave) vector when
 * the request went away before INTA: the vector of IR7 is returned and no ISR bit is set.
 *
 * ICW1 LTIM (level mode for all inputs) is ignored as on the PIIX, where the ELCR decides per line.
 * Buffered mode / master-slave ICW4 bits and ICW3 are stored only: the cascade is wired as on the PC.
 * Ports: byte accesses; a 2- or 4-byte access is split into bytes at consecutive ports, and bytes past
 * the chip's two ports read 0xFF (an unassigned ISA port), as QEMU's memory core does.
 */
export class DualPic implements PortDevice, Snapshottable {
  readonly name = 'pic';
  private readonly chips: [Chip, Chip] = [newChip(), newChip()];
  /** Line levels as driven by devices (bit n = IRQ n), kept for the debugger. */
  private levels = 0;
  private intOut = false;
  /** Called when INTR changes (the CPU or LAPIC LINT0 wiring). */
  onIntr: ((level: boolean) => void) | null = null;

  /** The ELCR is a separate port device (0x4D0-0x4D1) sharing this state. */
  readonly elcrDevice: PortDevice & { readonly name: string } = {
    name: 'elcr',
    ioRead: (port, size) => this.splitRead(port, size, ELCR_PORT, (p) => this.chips[p - ELCR_PORT].elcr),
    ioPeek: (port, size) => this.splitRead(port, size, ELCR_PORT, (p) => this.chips[p - ELCR_PORT].elcr),
    ioWrite: (port, size, value) =>
      this.splitWrite(port, size, value, ELCR_PORT, (p, v) => {
        const i = p - ELCR_PORT;
        this.chips[i].elcr = v & ELCR_MASK[i];
      }),
  };

  /**
   * Drive IRQ line 0..15 (8..15 are the slave's IR0..IR7). Master IR2 is the cascade input: a device on
   * ISA IRQ 2 reaches the slave's IR1 (IRQ 9), as the PC/AT bus routes it.
   */
  setIrq(line: number, level: boolean): void {
    if (!Number.isInteger(line) || line < 0 || line > 15) return;
    if (line === PIC_CASCADE_IRQ) line = 9;
    if (level) this.levels |= 1 << line;
    else this.levels &= ~(1 << line);
    if (line >= 8) {
      this.input(this.chips[1], line - 8, level);
      this.updateSlave();
    } else {
      this.input(this.chips[0], line, level);
      this.updateMaster();
    }
  }

  /** The master's INT output (the CPU's INTR pin, or LINT0 in virtual wire mode). */
  intr(): boolean {
    return this.intOut;
  }

  /** INTA cycle: the vector the 8259A pair puts on the bus; sets ISR (unless AEOI) and clears edge requests. */
  acknowledge(): number {
    const m = this.chips[0];
    const s = this.chips[1];
    let line = pendingLine(m, true);
    let vector: number;
    if (line >= 0) {
      if (line === PIC_CASCADE_IRQ && !m.single) {
        let l2 = pendingLine(s, false);
        if (l2 >= 0) this.intack(s, l2);
        else l2 = 7; // spurious IR15: the slave answers with its IR7 vector, no ISR bit
        vector = (s.irqBase + l2) & 0xff;
        this.updateSlaveLine();
      } else {
        vector = (m.irqBase + line) & 0xff;
      }
      this.intack(m, line);
    } else {
      line = 7; // spurious IR7 (datasheet: "IR7 default vector" when the request is removed before INTA)
      vector = (m.irqBase + 7) & 0xff;
    }
    this.updateMaster();
    return vector;
  }

  /** The vector an INTA would return now, without acknowledging (debugger). */
  peekVector(): number | null {
    const m = this.chips[0];
    const line = pendingLine(m, true);
    if (line < 0) return null;
    if (line === PIC_CASCADE_IRQ && !m.single) {
      const l2 = pendingLine(this.chips[1], false);
      return (this.chips[1].irqBase + (l2 < 0 ? 7 : l2)) & 0xff;
    }
    return (m.irqBase + line) & 0xff;
  }

  /** Register view for the debugger. */
  registers(): { master: PicSnapshotChip; slave: PicSnapshotChip; levels: number } {
    const v = (c: Chip): PicSnapshotChip => ({ irr: c.irr, isr: c.isr, imr: c.imr, elcr: c.elcr, irqBase: c.irqBase, priorityAdd: c.priorityAdd });
    return { master: v(this.chips[0]), slave: v(this.chips[1]), levels: this.levels };
  }

  private input(c: Chip, irq: number, level: boolean): void {
    const bit = 1 << irq;
    if (c.elcr & bit) {
      // Level-triggered: IRR follows the line (datasheet "Level Triggered Mode").
      if (level) c.irr |= bit;
      else c.irr &= ~bit;
    } else if (level && !(c.lastLevel & bit)) {
      c.irr |= bit; // rising edge
    }
    if (level) c.lastLevel |= bit;
    else c.lastLevel &= ~bit;
  }

  private intack(c: Chip, line: number): void {
    const bit = 1 << line;
    if (c.autoEoi) {
      if (c.rotateOnAutoEoi) c.priorityAdd = (line + 1) & 7;
    } else {
      c.isr |= bit;
    }
    if (!(c.elcr & bit)) c.irr &= ~bit; // an edge request is consumed; a level request stays while the line is high
  }

  /** The slave's INT output drives master IR2 (edge-triggered on the master). */
  private updateSlaveLine(): void {
    const out = pendingLine(this.chips[1], false) >= 0;
    this.input(this.chips[0], PIC_CASCADE_IRQ, out);
  }

  private updateSlave(): void {
    this.updateSlaveLine();
    this.updateMaster();
  }

  private updateMaster(): void {
    const out = pendingLine(this.chips[0], true) >= 0;
    if (out !== this.intOut) {
      this.intOut = out;
      this.onIntr?.(out);
    }
  }

  private update(chipIndex: number): void {
    if (chipIndex === 1) this.updateSlave();
    else this.updateMaster();
  }

  // ---- port I/O ----

  ioRead(port: number, size: PortSize): number {
    const first = port >= PIC_SLAVE_PORT ? PIC_SLAVE_PORT : PIC_MASTER_PORT;
    if (size === 1 && port >= first && port < first + 2) return this.readByte(port) & 0xff; // the usual access: no closure
    return this.splitRead(port, size, first, (p) => this.readByte(p));
  }

  ioPeek(port: number, size: PortSize): number {
    return this.splitRead(port, size, port >= PIC_SLAVE_PORT ? PIC_SLAVE_PORT : PIC_MASTER_PORT, (p) => this.peekByte(p));
  }

  ioWrite(port: number, size: PortSize, value: number): void {
    const first = port >= PIC_SLAVE_PORT ? PIC_SLAVE_PORT : PIC_MASTER_PORT;
    if (size === 1 && port >= first && port < first + 2) { this.writeByte(port, value & 0xff); return; } // EOIs, masks: no closure
    this.splitWrite(port, size, value, first, (p, v) => this.writeByte(p, v));
  }

  private splitRead(port: number, size: PortSize, first: number, read: (p: number) => number): number {
    let v = 0;
    for (let i = 0; i < size; i++) {
      const p = port + i;
      const b = p >= first && p < first + 2 ? read(p) & 0xff : 0xff;
      v |= b << (8 * i);
    }
    return v >>> 0;
  }

  private splitWrite(port: number, size: PortSize, value: number, first: number, write: (p: number, v: number) => void): void {
    for (let i = 0; i < size; i++) {
      const p = port + i;
      if (p >= first && p < first + 2) write(p, (value >>> (8 * i)) & 0xff);
    }
  }

  private chipIndex(port: number): number {
    return port >= PIC_SLAVE_PORT ? 1 : 0;
  }

  private peekByte(port: number): number {
    const c = this.chips[this.chipIndex(port)];
    if (port & 1) return c.imr;
    if (c.poll) {
      const line = pendingLine(c, this.chipIndex(port) === 0);
      return line >= 0 ? 0x80 | line : 0;
    }
    return c.readIsr ? c.isr : c.irr;
  }

  private readByte(port: number): number {
    const idx = this.chipIndex(port);
    const c = this.chips[idx];
    if (c.poll) {
      // OCW3 poll (datasheet "The Poll Command"): the next read is the poll word, I (bit 7) + highest
      // request level (bits 2:0); it acts as an INTA: the level goes in service.
      c.poll = false;
      const line = pendingLine(c, idx === 0);
      if (line < 0) return 0;
      this.intack(c, line);
      if (idx === 1) this.updateSlave();
      else this.updateMaster();
      return 0x80 | line;
    }
    if (port & 1) return c.imr;
    return c.readIsr ? c.isr : c.irr;
  }

  private writeByte(port: number, v: number): void {
    const idx = this.chipIndex(port);
    const c = this.chips[idx];
    if ((port & 1) === 0) {
      if (v & 0x10) {
        // ICW1: D4 = 1. D0 IC4, D1 SNGL, D3 LTIM (ignored: the ELCR decides), D2 ADI (8080 mode only).
        initReset(c);
        c.initState = 1;
        c.icw4Needed = (v & 0x01) !== 0;
        c.single = (v & 0x02) !== 0;
        this.update(idx);
      } else if (v & 0x08) {
        // OCW3: D3 = 1. D2 poll, D1 RR / D0 RIS, D6 ESMM / D5 SMM.
        if (v & 0x04) c.poll = true;
        if (v & 0x02) c.readIsr = (v & 0x01) !== 0;
        if (v & 0x40) c.specialMask = (v & 0x20) !== 0;
        this.update(idx);
      } else {
        // OCW2: D7 R, D6 SL, D5 EOI, D2-D0 level.
        const cmd = v >> 5;
        switch (cmd) {
          case 0: // rotate in automatic EOI mode (clear)
          case 4: // rotate in automatic EOI mode (set)
            c.rotateOnAutoEoi = cmd === 4;
            break;
          case 1: // non-specific EOI
          case 5: { // rotate on non-specific EOI
            const p = priorityOf(c, c.isr);
            if (p !== 8) {
              const line = (p + c.priorityAdd) & 7;
              c.isr &= ~(1 << line);
              if (cmd === 5) c.priorityAdd = (line + 1) & 7;
            }
            break;
          }
          case 3: // specific EOI
            c.isr &= ~(1 << (v & 7));
            break;
          case 6: // set priority: level L becomes the lowest
            c.priorityAdd = ((v & 7) + 1) & 7;
            break;
          case 7: // rotate on specific EOI
            c.isr &= ~(1 << (v & 7));
            c.priorityAdd = ((v & 7) + 1) & 7;
            break;
          default: // 2: no operation
            break;
        }
        this.update(idx);
      }
      return;
    }
    switch (c.initState) {
      case 0: // OCW1: the interrupt mask
        c.imr = v;
        this.update(idx);
        break;
      case 1: // ICW2: T7-T3 of the vector (x86 mode)
        c.irqBase = v & 0xf8;
        c.initState = c.single ? (c.icw4Needed ? 3 : 0) : 2;
        break;
      case 2: // ICW3: master: which IR lines have slaves; slave: its ID
        c.icw3 = v;
        c.initState = c.icw4Needed ? 3 : 0;
        break;
      default: // ICW4: D0 uPM (x86), D1 AEOI, D3/D2 buffered mode, D4 SFNM
        c.autoEoi = (v & 0x02) !== 0;
        c.specialFullyNested = (v & 0x10) !== 0;
        c.initState = 0;
        this.update(idx);
        break;
    }
  }

  // ---- snapshots ----

  saveState(): unknown {
    return {
      levels: this.levels,
      intOut: this.intOut,
      chips: this.chips.map((c) => ({ ...c })),
    };
  }

  loadState(s: unknown): void {
    const n = this.name;
    const o = asRecord(n, s);
    const levels = intField(n, o, 'levels', 0, 0xffff);
    const intOut = boolField(n, o, 'intOut');
    if (!Array.isArray(o.chips) || o.chips.length !== 2) throw new DeviceStateError(n, 'state.chips: expected two chips');
    const chips = o.chips.map((x, i): Chip => {
      const r = asRecord(n, x);
      const b = (k: string, max = 0xff) => intField(n, r, k, 0, max);
      const chip: Chip = {
        irr: b('irr'), isr: b('isr'), imr: b('imr'), lastLevel: b('lastLevel'), elcr: b('elcr'), priorityAdd: b('priorityAdd', 7),
        irqBase: b('irqBase'), initState: b('initState', 3), icw4Needed: boolField(n, r, 'icw4Needed'), single: boolField(n, r, 'single'),
        icw3: b('icw3'), autoEoi: boolField(n, r, 'autoEoi'), rotateOnAutoEoi: boolField(n, r, 'rotateOnAutoEoi'),
        specialFullyNested: boolField(n, r, 'specialFullyNested'), readIsr: boolField(n, r, 'readIsr'), poll: boolField(n, r, 'poll'),
        specialMask: boolField(n, r, 'specialMask'),
      };
      if (chip.elcr & ~ELCR_MASK[i] || chip.irqBase & 7) throw new DeviceStateError(n, `state.chips[${i}]: ELCR or vector base out of range`);
      return chip;
    });
    this.chips[0] = chips[0];
    this.chips[1] = chips[1];
    this.levels = levels;
    this.intOut = intOut;
  }
}
