// 16550A UART (PC COM port): registers, divisor latch, 16-byte FIFOs, loopback, IIR priorities, IRQ line (NS PC16550D datasheet).
import type { PortDevice, PortSize, Snapshottable } from './bus.js';
import { asRecord, boolField, byteArrayField, DeviceStateError, intField } from './bus.js';
import type { ConsoleSink } from './sinks.js';

export const COM1_PORT = 0x3f8;
export const COM1_IRQ = 4;

/** Register offsets from the base (PC16550D Table II "Summary of Registers"). DLAB = LCR bit 7. */
export const UART_REG = {
  RBR_THR_DLL: 0, // DLAB=0: RBR (read) / THR (write); DLAB=1: divisor latch LSB
  IER_DLM: 1, // DLAB=0: IER; DLAB=1: divisor latch MSB
  IIR_FCR: 2, // IIR (read) / FCR (write)
  LCR: 3,
  MCR: 4,
  LSR: 5,
  MSR: 6,
  SCR: 7,
} as const;

/** Interrupt Enable Register bits (PC16550D §8.6). Bits 4-7 are always 0. */
export const IER = { ERBFI: 0x01, ETBEI: 0x02, ELSI: 0x04, EDSSI: 0x08 } as const;

/** Interrupt Identification Register (PC16550D Table IV): bit 0 = 1 means "none pending"; bits 6-7 set when FIFOs are enabled. */
export const IIR = {
  NO_INT: 0x01,
  RLS: 0x06, // priority 1: receiver line status (OE, PE, FE, BI) — reset by reading LSR
  RDA: 0x04, // priority 2: received data available / trigger level reached — reset by reading RBR below trigger
  CTI: 0x0c, // priority 2: character timeout (FIFO mode) — reset by reading RBR
  THRE: 0x02, // priority 3: THR empty — reset by reading IIR (if source) or writing THR
  MS: 0x00, // priority 4: modem status (CTS, DSR, RI, DCD) — reset by reading MSR
  FIFOS_ENABLED: 0xc0,
} as const;

/** FIFO Control Register bits (PC16550D §8.5). */
export const FCR = { ENABLE: 0x01, CLEAR_RX: 0x02, CLEAR_TX: 0x04, DMA_MODE: 0x08, TRIGGER: 0xc0 } as const;
/** Receiver FIFO trigger levels selected by FCR bits 7:6. */
export const RX_TRIGGER_LEVELS = [1, 4, 8, 14] as const;

export const LCR = { WORD_LENGTH: 0x03, STOP_BITS: 0x04, PARITY_ENABLE: 0x08, EVEN_PARITY: 0x10, STICK_PARITY: 0x20, BREAK: 0x40, DLAB: 0x80 } as const;
export const MCR = { DTR: 0x01, RTS: 0x02, OUT1: 0x04, OUT2: 0x08, LOOP: 0x10 } as const;
export const LSR = { DR: 0x01, OE: 0x02, PE: 0x04, FE: 0x08, BI: 0x10, THRE: 0x20, TEMT: 0x40, RX_FIFO_ERROR: 0x80 } as const;
export const MSR = { DCTS: 0x01, DDSR: 0x02, TERI: 0x04, DDCD: 0x08, CTS: 0x10, DSR: 0x20, RI: 0x40, DCD: 0x80 } as const;

/** Input clock of a PC UART (1.8432 MHz) divided by 16: baud = 115200 / divisor. */
export const UART_BAUD_BASE = 115200;
const FIFO_SIZE = 16;
/** Host-side input waiting for room in the receiver (like QEMU's chardev back-pressure); beyond this, input is dropped. */
export const UART_INPUT_LIMIT = 65536;
const LSR_ERRORS = LSR.OE | LSR.PE | LSR.FE | LSR.BI;

export interface Uart16550Options {
  base?: number;
  name?: string;
  /** The UART's interrupt output as seen by the PIC (IRQ 4 for COM1). Called only when the level changes. */
  setIrq?: (level: boolean) => void;
  /**
   * How INTR reaches the PIC. 'out2' (default): as on the PC, INTR passes through a buffer enabled by MCR
   * OUT2, and the OUT2 pin is forced inactive in loopback (PC16550D §8.7), so a driver must set OUT2.
   * 'direct': INTR drives the line as QEMU's serial.c does.
   */
  irqGate?: 'out2' | 'direct';
  /**
   * Guest time in nanoseconds (derived from the instruction count by the machine). Used only for the
   * FIFO character timeout (4 character times without RX activity, PC16550D §8.6). Without a clock the
   * timeout counts as already elapsed: data below the trigger level is reported at once as a timeout.
   */
  clock?: () => number;
}

/**
 * Transmission is immediate: a byte written to THR goes to the console sink before the OUT instruction
 * completes, so LSR.THRE and LSR.TEMT always read as 1 and the transmit FIFO is always empty. In loopback
 * the byte is received instead (PC16550D §8.7). Input bytes from the host (`pushInput`) wait in a bounded
 * host queue and enter the receiver only when it has room (16 bytes in FIFO mode, 1 otherwise), and not
 * at all in loopback (the serial input is disconnected), so host input never overruns; overruns do happen
 * in loopback (receive FIFO full: the new byte is lost, LSR.OE set; 16450 mode: RBR overwritten, OE set).
 *
 * Modem inputs: a connected terminal asserts CTS, DSR and DCD (QEMU's reset MSR, 0xB0); `setModemInputs`
 * changes them. In loopback they come from MCR (DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD) and the delta
 * bits and the modem-status interrupt work as the datasheet says (QEMU skips the deltas in loopback).
 *
 * A 2- or 4-byte access is split into byte accesses at consecutive ports, low byte first (QEMU's memory
 * core does the same for serial_io_ops' impl.max_access_size = 1); bytes past the last register read 0xFF.
 *
 * Not modelled: parity/framing errors and break (nothing can produce them), DMA mode signals, the transmit
 * shift timing. The divisor resets to 12 (9600 baud) as in QEMU; the datasheet leaves it undefined.
 */
export class Uart16550 implements PortDevice, Snapshottable {
  readonly name: string;
  readonly base: number;
  private readonly sink: ConsoleSink;
  private readonly setIrqCb: ((level: boolean) => void) | null;
  private readonly gateOut2: boolean;
  private readonly clock: (() => number) | null;

  // Registers.
  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private scr = 0;
  private dll = 0x0c;
  private dlm = 0;
  private fcr = 0; // sticky bits only: ENABLE | DMA_MODE | TRIGGER
  private lsrErrors = 0; // OE/PE/FE/BI latched until LSR is read
  private lastRbr = 0;
  /** Receiver: a ring of 16 bytes (capacity 1 when FIFOs are disabled). */
  private readonly rx = new Uint8Array(FIFO_SIZE);
  private rxHead = 0;
  private rxCount = 0;
  /** Guest time of the last receive or RBR read (character timeout reference). */
  private rxActivity = 0;
  private thrIpending = false;
  /** Modem input lines as seen by the UART (MSR bits 4-7) and the latched delta bits (MSR bits 0-3). */
  private lines = MSR.CTS | MSR.DSR | MSR.DCD;
  private deltas = 0;
  /** The lines driven by the outside world (used outside loopback). */
  private externalLines = MSR.CTS | MSR.DSR | MSR.DCD;
  private irqLevel = false;

  // Host input queue (bounded).
  private input: number[] = [];
  private inputHead = 0;
  /** Bytes dropped because the host input queue was full. */
  inputDropped = 0;
  bytesTransmitted = 0;

  constructor(sink: ConsoleSink, opts: Uart16550Options = {}) {
    this.sink = sink;
    this.base = opts.base ?? COM1_PORT;
    this.name = opts.name ?? 'uart';
    this.setIrqCb = opts.setIrq ?? null;
    this.gateOut2 = (opts.irqGate ?? 'out2') === 'out2';
    this.clock = opts.clock ?? null;
  }

  // ---- PortDevice -------------------------------------------------------------------------------

  ioRead(port: number, size: PortSize): number {
    let v = 0;
    for (let i = 0; i < size; i++) {
      const off = port + i - this.base;
      const b = off >= 0 && off < 8 ? this.readReg(off) : 0xff;
      v |= b << (8 * i);
    }
    return v >>> 0;
  }

  ioWrite(port: number, size: PortSize, value: number): void {
    for (let i = 0; i < size; i++) {
      const off = port + i - this.base;
      if (off >= 0 && off < 8) this.writeReg(off, (value >>> (8 * i)) & 0xff);
    }
  }

  /** What a read would return, without clearing anything (debugger views). */
  ioPeek(port: number, size: PortSize): number {
    let v = 0;
    for (let i = 0; i < size; i++) {
      const off = port + i - this.base;
      const b = off >= 0 && off < 8 ? this.peekReg(off) : 0xff;
      v |= b << (8 * i);
    }
    return v >>> 0;
  }

  // ---- Host side ----------------------------------------------------------------------------------

  /** Queue bytes typed by the user. Returns how many were accepted (the rest is dropped: queue full). */
  pushInput(bytes: ArrayLike<number>): number {
    this.compactInput();
    let accepted = 0;
    for (let i = 0; i < bytes.length; i++) {
      if (this.input.length - this.inputHead >= UART_INPUT_LIMIT) {
        this.inputDropped += bytes.length - i;
        break;
      }
      this.input.push(bytes[i] & 0xff);
      accepted++;
    }
    this.pumpInput();
    this.updateIrq();
    return accepted;
  }

  /** Bytes queued by the host that the receiver has not taken yet. */
  get pendingInput(): number {
    return this.input.length - this.inputHead;
  }

  /** Drive the modem input lines (MSR bits 4-7: CTS 0x10, DSR 0x20, RI 0x40, DCD 0x80). */
  setModemInputs(msrHighBits: number): void {
    this.externalLines = msrHighBits & 0xf0;
    this.updateLines();
    this.updateIrq();
  }

  /** The level of the IRQ output line. */
  get irq(): boolean {
    return this.irqLevel;
  }

  /** Current baud rate from the divisor latch (divisor 0 behaves as 65536). */
  get baudRate(): number {
    return UART_BAUD_BASE / this.divisor();
  }

  /** Guest time (ns) at which a character-timeout interrupt becomes due, or null; the machine calls poll() then. */
  nextDeadline(): number | null {
    if (this.clock === null || !(this.fcr & FCR.ENABLE) || this.rxCount === 0 || !(this.ier & IER.ERBFI)) return null;
    return this.rxActivity + 4 * this.charTimeNs();
  }

  /** Re-evaluate time-dependent conditions (character timeout) and update the IRQ line. */
  poll(): void {
    this.updateIrq();
  }

  /** Named register values for a view (side-effect free). */
  registers(): Record<string, number> {
    return {
      RBR: this.rxCount > 0 ? this.rx[this.rxHead] : this.lastRbr,
      IER: this.ier,
      IIR: this.peekReg(UART_REG.IIR_FCR),
      FCR: this.fcr,
      LCR: this.lcr,
      MCR: this.mcr,
      LSR: this.peekReg(UART_REG.LSR),
      MSR: this.lines | this.deltas,
      SCR: this.scr,
      DLL: this.dll,
      DLM: this.dlm,
      rxFifoCount: this.rxCount,
    };
  }

  // ---- Registers ----------------------------------------------------------------------------------

  private readReg(off: number): number {
    switch (off) {
      case UART_REG.RBR_THR_DLL:
        if (this.lcr & LCR.DLAB) return this.dll;
        return this.readRbr();
      case UART_REG.IER_DLM:
        return this.lcr & LCR.DLAB ? this.dlm : this.ier;
      case UART_REG.IIR_FCR: {
        const iir = this.peekReg(off);
        // THRE interrupt is reset by reading IIR when it is the source (PC16550D Table IV).
        if ((iir & 0x0f) === IIR.THRE) {
          this.thrIpending = false;
          this.updateIrq();
        }
        return iir;
      }
      case UART_REG.LSR: {
        const v = this.peekReg(off);
        if (this.lsrErrors !== 0) {
          this.lsrErrors = 0; // OE, PE, FE, BI are reset by reading LSR (§8.4)
          this.updateIrq();
        }
        return v;
      }
      case UART_REG.MSR: {
        const v = this.lines | this.deltas;
        if (this.deltas !== 0) {
          this.deltas = 0; // delta bits reset by reading MSR (§8.8)
          this.updateIrq();
        }
        return v;
      }
      default:
        return this.peekReg(off);
    }
  }

  private peekReg(off: number): number {
    switch (off) {
      case UART_REG.RBR_THR_DLL:
        if (this.lcr & LCR.DLAB) return this.dll;
        if (this.rxCount > 0) return this.rx[this.rxHead];
        return this.fcr & FCR.ENABLE ? 0 : this.lastRbr;
      case UART_REG.IER_DLM:
        return this.lcr & LCR.DLAB ? this.dlm : this.ier;
      case UART_REG.IIR_FCR:
        return this.interruptId() | (this.fcr & FCR.ENABLE ? IIR.FIFOS_ENABLED : 0);
      case UART_REG.LCR:
        return this.lcr;
      case UART_REG.MCR:
        return this.mcr;
      case UART_REG.LSR:
        // THRE and TEMT: transmission is immediate, so both are always set.
        return (this.rxCount > 0 ? LSR.DR : 0) | this.lsrErrors | LSR.THRE | LSR.TEMT;
      case UART_REG.MSR:
        return this.lines | this.deltas;
      default:
        return this.scr;
    }
  }

  private writeReg(off: number, v: number): void {
    switch (off) {
      case UART_REG.RBR_THR_DLL:
        if (this.lcr & LCR.DLAB) this.dll = v;
        else this.writeThr(v);
        return;
      case UART_REG.IER_DLM:
        if (this.lcr & LCR.DLAB) {
          this.dlm = v;
        } else {
          const changed = (this.ier ^ v) & 0x0f;
          this.ier = v & 0x0f;
          // Enabling ETBEI while THR is empty raises the THRE interrupt (what Linux 8250's THRE/TXEN
          // tests expect and QEMU does); disabling it drops the pending one.
          if (changed & IER.ETBEI) this.thrIpending = (this.ier & IER.ETBEI) !== 0;
          this.updateIrq();
        }
        return;
      case UART_REG.IIR_FCR:
        this.writeFcr(v);
        return;
      case UART_REG.LCR:
        this.lcr = v;
        return;
      case UART_REG.MCR: {
        const wasLoop = this.mcr & MCR.LOOP;
        this.mcr = v & 0x1f; // bits 5-7 are 0 on the 16550A
        this.updateLines();
        if (wasLoop && !(this.mcr & MCR.LOOP)) this.pumpInput();
        this.updateIrq();
        return;
      }
      case UART_REG.LSR:
      case UART_REG.MSR:
        return; // writes are for factory test only; ignored as QEMU does
      default:
        this.scr = v;
    }
  }

  private writeThr(v: number): void {
    // Writing THR resets the THRE interrupt; the byte leaves at once and THR is empty again, so the
    // interrupt is re-raised: the IRQ line drops and rises (a new edge for an edge-triggered PIC).
    this.thrIpending = false;
    this.updateIrq();
    this.bytesTransmitted++;
    if (this.mcr & MCR.LOOP) this.receive(v);
    else this.sink(v, this.name);
    this.thrIpending = true;
    this.updateIrq();
  }

  private writeFcr(v: number): void {
    // Changing FCR0 (FIFO enable) clears both FIFOs (§8.5).
    if ((v ^ this.fcr) & FCR.ENABLE) v |= FCR.CLEAR_RX | FCR.CLEAR_TX;
    if (v & FCR.CLEAR_RX) {
      this.rxCount = 0;
      this.rxHead = 0;
      this.rxActivity = this.now();
    }
    // CLEAR_TX: the transmit FIFO (always empty here) is reset, THR is empty: the THRE interrupt is
    // raised again, as QEMU does (the datasheet says THRE follows "THR empty").
    if (v & FCR.CLEAR_TX) this.thrIpending = true;
    this.fcr = v & (FCR.ENABLE | FCR.DMA_MODE | FCR.TRIGGER);
    this.pumpInput();
    this.updateIrq();
  }

  private readRbr(): number {
    let v: number;
    if (this.rxCount > 0) {
      v = this.rx[this.rxHead];
      this.rxHead = (this.rxHead + 1) % FIFO_SIZE;
      this.rxCount--;
    } else {
      v = this.fcr & FCR.ENABLE ? 0 : this.lastRbr;
    }
    this.rxActivity = this.now();
    this.pumpInput();
    this.updateIrq();
    return v;
  }

  // ---- Receiver -----------------------------------------------------------------------------------

  private rxCapacity(): number {
    return this.fcr & FCR.ENABLE ? FIFO_SIZE : 1;
  }

  /** A character arrives at the receiver (from the host or from loopback). */
  private receive(b: number): void {
    this.rxActivity = this.now();
    // In 16450 mode RBR is a plain register: it keeps the last character, read or not (as QEMU's s->rbr).
    if (!(this.fcr & FCR.ENABLE)) this.lastRbr = b;
    if (this.rxCount < this.rxCapacity()) {
      this.rx[(this.rxHead + this.rxCount) % FIFO_SIZE] = b;
      this.rxCount++;
    } else if (this.fcr & FCR.ENABLE) {
      this.lsrErrors |= LSR.OE; // FIFO full: the character in the shift register is lost (§8.4 LSR1)
    } else {
      this.lsrErrors |= LSR.OE; // 16450 mode: the unread character is overwritten
      this.rx[this.rxHead] = b;
    }
  }

  private pumpInput(): void {
    if (this.mcr & MCR.LOOP) return;
    const cap = this.rxCapacity();
    while (this.inputHead < this.input.length && this.rxCount < cap) {
      this.receive(this.input[this.inputHead++]);
    }
    if (this.inputHead === this.input.length) {
      this.input = [];
      this.inputHead = 0;
    }
  }

  private compactInput(): void {
    if (this.inputHead > 4096 && this.inputHead * 2 > this.input.length) {
      this.input = this.input.slice(this.inputHead);
      this.inputHead = 0;
    }
  }

  // ---- Modem lines --------------------------------------------------------------------------------

  private updateLines(): void {
    let nl: number;
    if (this.mcr & MCR.LOOP) {
      // Loopback (§8.7): DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
      const m = this.mcr;
      nl = (m & MCR.RTS ? MSR.CTS : 0) | (m & MCR.DTR ? MSR.DSR : 0) | (m & MCR.OUT1 ? MSR.RI : 0) | (m & MCR.OUT2 ? MSR.DCD : 0);
    } else {
      nl = this.externalLines;
    }
    const changed = (nl ^ this.lines) >> 4;
    let d = changed & (MSR.DCTS | MSR.DDSR | MSR.DDCD);
    // TERI: RI changed from on to off (trailing edge).
    if (changed & MSR.TERI && this.lines & MSR.RI) d |= MSR.TERI;
    this.deltas |= d;
    this.lines = nl;
  }

  // ---- Interrupts ---------------------------------------------------------------------------------

  private now(): number {
    return this.clock === null ? 0 : this.clock();
  }

  private divisor(): number {
    const d = (this.dlm << 8) | this.dll;
    return d === 0 ? 0x10000 : d;
  }

  /** One character time in ns: start + data + parity + stop bits at the current baud rate. */
  private charTimeNs(): number {
    const data = 5 + (this.lcr & LCR.WORD_LENGTH);
    const stop = this.lcr & LCR.STOP_BITS ? (data === 5 ? 1.5 : 2) : 1;
    const bits = 1 + data + (this.lcr & LCR.PARITY_ENABLE ? 1 : 0) + stop;
    return (bits * this.divisor() * 1e9) / UART_BAUD_BASE;
  }

  private timeoutElapsed(): boolean {
    return this.clock === null || this.clock() >= this.rxActivity + 4 * this.charTimeNs();
  }

  /** The highest-priority pending and enabled interrupt (PC16550D Table IV). */
  private interruptId(): number {
    const ier = this.ier;
    if (ier & IER.ELSI && this.lsrErrors & LSR_ERRORS) return IIR.RLS;
    if (ier & IER.ERBFI && this.rxCount > 0) {
      if (!(this.fcr & FCR.ENABLE)) return IIR.RDA;
      if (this.rxCount >= RX_TRIGGER_LEVELS[this.fcr >> 6]) return IIR.RDA;
      if (this.timeoutElapsed()) return IIR.CTI;
    }
    if (ier & IER.ETBEI && this.thrIpending) return IIR.THRE;
    if (ier & IER.EDSSI && this.deltas !== 0) return IIR.MS;
    return IIR.NO_INT;
  }

  private updateIrq(): void {
    let level = this.interruptId() !== IIR.NO_INT;
    if (this.gateOut2 && (!(this.mcr & MCR.OUT2) || this.mcr & MCR.LOOP)) level = false;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      if (this.setIrqCb !== null) this.setIrqCb(level);
    }
  }

  // ---- Snapshots ----------------------------------------------------------------------------------

  saveState(): unknown {
    const rx: number[] = [];
    for (let i = 0; i < this.rxCount; i++) rx.push(this.rx[(this.rxHead + i) % FIFO_SIZE]);
    return {
      ier: this.ier,
      lcr: this.lcr,
      mcr: this.mcr,
      scr: this.scr,
      dll: this.dll,
      dlm: this.dlm,
      fcr: this.fcr,
      lsrErrors: this.lsrErrors,
      lastRbr: this.lastRbr,
      rx,
      rxActivity: this.rxActivity,
      thrIpending: this.thrIpending,
      lines: this.lines,
      deltas: this.deltas,
      externalLines: this.externalLines,
      irqLevel: this.irqLevel,
      input: this.input.slice(this.inputHead),
      inputDropped: this.inputDropped,
      bytesTransmitted: this.bytesTransmitted,
    };
  }

  /** Restores registers, FIFO, host queue and the IRQ level; does not call setIrq (the PIC restores its own state). */
  loadState(s: unknown): void {
    const n = this.name;
    const o = asRecord(n, s);
    const byte = (k: string) => intField(n, o, k, 0, 0xff);
    const ier = byte('ier');
    const lcr = byte('lcr');
    const mcr = byte('mcr');
    const scr = byte('scr');
    const dll = byte('dll');
    const dlm = byte('dlm');
    const fcr = byte('fcr');
    const lsrErrors = byte('lsrErrors');
    const lastRbr = byte('lastRbr');
    const rx = byteArrayField(n, o, 'rx', FIFO_SIZE);
    const rxActivity = o.rxActivity;
    if (typeof rxActivity !== 'number' || !Number.isFinite(rxActivity)) throw new DeviceStateError(n, 'state.rxActivity: expected a finite number');
    const thrIpending = boolField(n, o, 'thrIpending');
    const lines = byte('lines');
    const deltas = byte('deltas');
    const externalLines = byte('externalLines');
    const irqLevel = boolField(n, o, 'irqLevel');
    const input = byteArrayField(n, o, 'input', UART_INPUT_LIMIT);
    const inputDropped = intField(n, o, 'inputDropped', 0, Number.MAX_SAFE_INTEGER);
    const bytesTransmitted = intField(n, o, 'bytesTransmitted', 0, Number.MAX_SAFE_INTEGER);
    if (ier > 0x0f || mcr > 0x1f || fcr & ~(FCR.ENABLE | FCR.DMA_MODE | FCR.TRIGGER) || lsrErrors & ~LSR_ERRORS
      || lines & 0x0f || deltas & 0xf0 || externalLines & 0x0f || (!(fcr & FCR.ENABLE) && rx.length > 1)) {
      throw new DeviceStateError(n, 'state: register values inconsistent with a 16550A');
    }
    this.ier = ier;
    this.lcr = lcr;
    this.mcr = mcr;
    this.scr = scr;
    this.dll = dll;
    this.dlm = dlm;
    this.fcr = fcr;
    this.lsrErrors = lsrErrors;
    this.lastRbr = lastRbr;
    this.rx.set(rx);
    this.rxHead = 0;
    this.rxCount = rx.length;
    this.rxActivity = rxActivity;
    this.thrIpending = thrIpending;
    this.lines = lines;
    this.deltas = deltas;
    this.externalLines = externalLines;
    this.irqLevel = irqLevel;
    this.input = input;
    this.inputHead = 0;
    this.inputDropped = inputDropped;
    this.bytesTransmitted = bytesTransmitted;
  }
}
