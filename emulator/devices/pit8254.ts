// Intel 8254 programmable interval timer (0x40-0x43) and the PC's port 0x61 (channel 2 gate, speaker, refresh), timed by guest ns.
import type { PortDevice, PortSize, Snapshottable } from './bus.js';
import { asRecord, boolField, DeviceStateError, intField } from './bus.js';

export const PIT_PORT = 0x40;
export const PORT61 = 0x61;
export const PIT_IRQ = 0;
/** The PC's PIT input clock: 14.31818 MHz / 12 = 1.193182 MHz (the 8254's CLK0-2). */
export const PIT_HZ = 1193182;
const NS_PER_S = 1e9;
/** BIOSes program channel 1 with 18 for DRAM refresh (15.085 µs); port 0x61 bit 4 toggles at that rate. */
const REFRESH_TICKS = 18;

/** floor(a * b / c) for non-negative integers with a * b possibly above 2^53: split a by c (all partial products stay exact). */
export function mulDivFloor(a: number, b: number, c: number): number {
  const q = Math.floor(a / c);
  const r = a - q * c;
  return q * b + divFloor(r * b, c);
}

/** floor(n / d) exactly for 0 <= n < 2^53. */
function divFloor(n: number, d: number): number {
  let q = Math.floor(n / d);
  while (q * d > n) q--;
  while ((q + 1) * d <= n) q++;
  return q;
}

/** Number of PIT input clock edges in [0, t] guest ns, exactly: floor(t * 1193182 / 1e9). No drift at any t. */
export function pitTicksAt(t: number): number {
  if (!(t > 0)) return 0;
  return mulDivFloor(Math.floor(t), PIT_HZ, NS_PER_S);
}

/** The first guest ns at which pitTicksAt reaches `k`: ceil(k * 1e9 / 1193182). */
export function pitTimeOfTick(k: number): number {
  if (k <= 0) return 0;
  const a = Math.floor(k / PIT_HZ);
  const b = k - a * PIT_HZ;
  return a * NS_PER_S + divFloor(b * NS_PER_S + PIT_HZ - 1, PIT_HZ);
}

function fromBcd(v: number): number {
  return ((v >> 12) & 0xf) * 1000 + ((v >> 8) & 0xf) * 100 + ((v >> 4) & 0xf) * 10 + (v & 0xf);
}

function toBcd(v: number): number {
  return ((Math.floor(v / 1000) % 10) << 12) | ((Math.floor(v / 100) % 10) << 8) | ((Math.floor(v / 10) % 10) << 4) | (v % 10);
}

/** Read/write state of a counter's byte toggle (8254 datasheet "Read/Write Procedure"). */
const RW_LSB = 1;
const RW_MSB = 2;
const RW_WORD0 = 3;
const RW_WORD1 = 4;

interface Channel {
  /** Control word bits 3:1 as written (6 and 7 act as modes 2 and 3, datasheet Figure 8 "M2 = X"). */
  mode: number;
  bcd: boolean;
  /** RW bits of the control word: 1 LSB, 2 MSB, 3 LSB then MSB. */
  rw: number;
  /** The count register (CR) as written, 16 bits (BCD digits when bcd). */
  count: number;
  /** True once the CR has been transferred to the counting element and counting is defined. */
  loaded: boolean;
  /** Modes 1 and 5: a gate trigger has started the count. */
  armed: boolean;
  /** Absolute PIT tick at which the counting element held the full count (d = 0). */
  loadTick: number;
  /** Counting suspended (gate low in modes 0, 2, 3, 4): the elapsed ticks d at the moment it stopped. */
  frozen: number | null;
  /** The value the counting element holds while not loaded (after a control word). */
  held: number;
  gate: boolean;
  writeState: number;
  writeLatch: number;
  readState: number;
  /** Output latch (counter latch command / read-back): value and remaining byte state (0 = not latched). */
  latched: number;
  latchState: number;
  status: number;
  statusLatched: boolean;
  nullCount: boolean;
}

function newChannel(gate: boolean): Channel {
  return {
    mode: 0, bcd: false, rw: RW_WORD0, count: 0, loaded: false, armed: false, loadTick: 0, frozen: null, held: 0, gate,
    writeState: RW_WORD0, writeLatch: 0, readState: RW_WORD0, latched: 0, latchState: 0, status: 0, statusLatched: false,
    nullCount: true,
  };
}

const effMode = (c: Channel): number => (c.mode >= 6 ? c.mode - 4 : c.mode);
/** The initial count N as a number of clocks: 0 stands for 2^16 (binary) or 10^4 (BCD) (datasheet "Counter ... maximum initial count"). */
const period = (c: Channel): number => {
  const n = c.bcd ? fromBcd(c.count) : c.count;
  return n === 0 ? (c.bcd ? 10000 : 65536) : n;
};
/** Modes 2 and 3 with N = 1 are illegal (datasheet); treated as N = 2 so a period exists. */
const periodicN = (c: Channel): number => Math.max(2, period(c));
const modulus = (c: Channel): number => (c.bcd ? 10000 : 65536);

export interface PitOptions {
  /** Guest time in ns. */
  clock: () => number;
  /** Channel 0 OUT → IRQ 0 (the PIC's IR0 and the I/O APIC's pin 2). */
  setIrq?: (level: boolean) => void;
}

/**
 * The three counters of an 8254 (Intel 8254 datasheet, order no. 231164): all six modes, binary and BCD
 * counting, LSB/MSB/word access, the counter latch command, the read-back command with status bytes.
 *
 * Time: counts are computed from the guest clock, never stepped. The PIT clock is free-running: tick k
 * happens at guest ns ceil(k * 1e9 / 1193182), so a mode-2 channel with N = 11932 fires at exactly
 * 1193182 / 11932 Hz over any span (integer arithmetic, no drift). A count is loaded into the counting
 * element at the moment of the OUT that completes it (the datasheet's "on the next CLK pulse" delay of
 * at most 838 ns is not modelled, as in QEMU); a new count in modes 2 and 3 also takes effect at once
 * rather than at the end of the current period.
 *
 * Channel 0's OUT drives IRQ 0 edge by edge: `nextDeadline()` is the guest ns of its next rising edge and
 * `poll(now)` delivers it (low-then-high when the edge fell between two polls). Channel 1 (refresh) and
 * channel 2 (speaker, gate from port 0x61 bit 0) count but drive no interrupt.
 */
export class Pit8254 implements PortDevice, Snapshottable {
  readonly name = 'pit';
  private readonly clock: () => number;
  private readonly setIrqCb: ((level: boolean) => void) | null;
  private readonly ch: [Channel, Channel, Channel] = [newChannel(true), newChannel(true), newChannel(false)];
  /** PIT tick up to which channel 0's edges have been delivered. */
  private lastTick = 0;
  private irqLevel = false;
  /** Port 0x61 bits 3:0 as written (speaker data bit 1, channel 2 gate bit 0, parity/IOCHK enables bits 2-3). */
  private port61 = 0;
  /** Rising edges of channel 0 delivered (for views and tests). */
  irqEdges = 0;

  /** Port 0x61 ("NMI status and control", PIIX3 datasheet §4.7.1), a separate port device sharing this state. */
  readonly port61Device: PortDevice = {
    name: 'port61',
    ioRead: (_p, size) => this.read61(size),
    ioPeek: (_p, size) => this.read61(size),
    ioWrite: (_p, _size, value) => this.write61(value & 0xff),
  };

  constructor(opts: PitOptions) {
    this.clock = opts.clock;
    this.setIrqCb = opts.setIrq ?? null;
  }

  private now(): number {
    const t = this.clock();
    return Number.isFinite(t) && t > 0 ? Math.floor(t) : 0;
  }

  // ---- counting arithmetic (all from d = ticks since load) ----

  private elapsed(c: Channel, tick: number): number {
    if (c.frozen !== null) return c.frozen;
    return Math.max(0, tick - c.loadTick);
  }

  /** The counting element's value at PIT tick `tick` (what a latch captures), encoded BCD when bcd. */
  private countAt(c: Channel, tick: number): number {
    let v: number;
    const m = effMode(c);
    if (!c.loaded || ((m === 1 || m === 5) && !c.armed)) {
      v = c.held;
      return v;
    }
    const d = this.elapsed(c, tick);
    const mod = modulus(c);
    if (m === 2) {
      const n = periodicN(c);
      v = n - (d % n);
    } else if (m === 3) {
      // Datasheet mode 3: even N counts N, N-2, ... 2 in each half; odd N: N, N-1, N-3 ... 2 (high half,
      // (N+1)/2 clocks) then N, N-3, ... 2 (low half, (N-1)/2 clocks).
      const n = periodicN(c);
      const p = d % n;
      const high = Math.ceil(n / 2);
      if (n % 2 === 0) v = n - 2 * (p % (n / 2));
      else if (p < high) v = p === 0 ? n : n + 1 - 2 * p;
      else v = p === high ? n : n - 1 - 2 * (p - high);
    } else {
      v = (((period(c) - d) % mod) + mod) % mod;
    }
    v %= mod;
    return c.bcd ? toBcd(v) : v & 0xffff;
  }

  /** OUT of a channel at tick `tick` (datasheet "Mode Definitions"). */
  private outAt(c: Channel, tick: number): boolean {
    const m = effMode(c);
    if (!c.loaded) return m !== 0;
    const d = this.elapsed(c, tick);
    switch (m) {
      case 0: return d >= period(c);
      case 1: return !c.armed || d >= period(c);
      case 2: return !c.gate || d % periodicN(c) !== periodicN(c) - 1;
      case 3: return !c.gate || d % periodicN(c) < Math.ceil(periodicN(c) / 2);
      case 4: return d !== period(c);
      default: return !c.armed || d !== period(c); // mode 5
    }
  }

  /** The d of the first rising edge of OUT with d > from, or null (datasheet: where OUT goes low to high). */
  private nextRisingD(c: Channel, from: number): number | null {
    if (!c.loaded || c.frozen !== null) return null;
    const m = effMode(c);
    const n = period(c);
    switch (m) {
      case 0: return from < n ? n : null;
      case 1: return c.armed && from < n ? n : null;
      case 2:
      case 3: {
        const p = periodicN(c);
        return (Math.floor(from / p) + 1) * p;
      }
      case 4: return from < n + 1 ? n + 1 : null;
      default: return c.armed && from < n + 1 ? n + 1 : null;
    }
  }

  /** Rising edges of OUT with from < d <= to. */
  private risingEdges(c: Channel, from: number, to: number): number {
    if (to <= from || !c.loaded || c.frozen !== null) return 0;
    const m = effMode(c);
    if (m === 2 || m === 3) {
      const p = periodicN(c);
      return Math.floor(to / p) - Math.floor(from / p);
    }
    const e = this.nextRisingD(c, from);
    return e !== null && e <= to ? 1 : 0;
  }

  /** Deliver channel 0's edges up to guest ns `now`; call before any change of channel 0's configuration. */
  private sync(now: number): void {
    const tick = pitTicksAt(now);
    if (tick < this.lastTick) return; // time never goes back; a stale caller changes nothing
    const c = this.ch[0];
    const from = c.frozen !== null ? c.frozen : Math.max(0, this.lastTick - c.loadTick);
    const to = this.elapsed(c, tick);
    const edges = this.risingEdges(c, from, to);
    this.lastTick = tick;
    const level = this.outAt(c, tick);
    if (edges > 0) {
      this.irqEdges += edges;
      if (this.irqLevel) this.drive(false);
      this.drive(true);
    }
    this.drive(level);
  }

  private drive(level: boolean): void {
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.setIrqCb?.(level);
  }

  /** Guest ns of channel 0's next rising OUT edge not yet delivered, or null when none is scheduled. */
  nextDeadline(): number | null {
    const c = this.ch[0];
    const from = Math.max(0, this.lastTick - c.loadTick);
    const d = this.nextRisingD(c, from);
    return d === null ? null : pitTimeOfTick(c.loadTick + d);
  }

  /** Fire everything due at guest ns `now` (IRQ 0 edges). */
  poll(now: number): void {
    this.sync(Number.isFinite(now) && now > 0 ? Math.floor(now) : 0);
  }

  /** Channel 0's OUT as last driven onto IRQ 0. */
  irqLine(): boolean {
    return this.irqLevel;
  }

  // ---- port I/O ----

  ioRead(port: number, size: PortSize): number {
    let v = 0;
    for (let i = 0; i < size; i++) {
      const p = port + i;
      v |= (p >= PIT_PORT && p <= PIT_PORT + 3 ? this.readByte(p - PIT_PORT, false) : 0xff) << (8 * i);
    }
    return v >>> 0;
  }

  ioPeek(port: number, size: PortSize): number {
    let v = 0;
    for (let i = 0; i < size; i++) {
      const p = port + i;
      v |= (p >= PIT_PORT && p <= PIT_PORT + 3 ? this.readByte(p - PIT_PORT, true) : 0xff) << (8 * i);
    }
    return v >>> 0;
  }

  ioWrite(port: number, size: PortSize, value: number): void {
    for (let i = 0; i < size; i++) {
      const p = port + i;
      if (p >= PIT_PORT && p <= PIT_PORT + 3) this.writeByte(p - PIT_PORT, (value >>> (8 * i)) & 0xff);
    }
  }

  private readByte(reg: number, peek: boolean): number {
    if (reg === 3) return 0; // the control word register is write-only (QEMU reads 0)
    const c = this.ch[reg];
    if (c.statusLatched) {
      if (!peek) c.statusLatched = false;
      return c.status;
    }
    if (c.latchState !== 0) {
      const v = c.latchState === RW_MSB ? c.latched >> 8 : c.latched & 0xff;
      if (!peek) c.latchState = c.latchState === RW_WORD0 ? RW_MSB : 0;
      return v;
    }
    const count = this.countAt(c, pitTicksAt(this.now()));
    switch (c.readState) {
      case RW_LSB: return count & 0xff;
      case RW_MSB: return count >> 8;
      case RW_WORD0:
        if (!peek) c.readState = RW_WORD1;
        return count & 0xff;
      default:
        if (!peek) c.readState = RW_WORD0;
        return count >> 8;
    }
  }

  private latchCount(c: Channel, tick: number): void {
    if (c.latchState !== 0) return; // a second latch before the first is read is ignored (datasheet "Counter Latch Command")
    c.latched = this.countAt(c, tick);
    c.latchState = c.rw === 3 ? RW_WORD0 : c.rw;
  }

  private writeByte(reg: number, v: number): void {
    const now = this.now();
    const tick = pitTicksAt(now);
    this.sync(now);
    if (reg === 3) {
      const sc = v >> 6;
      if (sc === 3) {
        // Read-back command (datasheet Figure 10): bit 5 = 0 latch count, bit 4 = 0 latch status, bits 3:1 counters.
        for (let i = 0; i < 3; i++) {
          if (!(v & (2 << i))) continue;
          const c = this.ch[i];
          if (!(v & 0x20)) this.latchCount(c, tick);
          if (!(v & 0x10) && !c.statusLatched) {
            c.status = (this.outAt(c, tick) ? 0x80 : 0) | (c.nullCount ? 0x40 : 0) | (c.rw << 4) | (c.mode << 1) | (c.bcd ? 1 : 0);
            c.statusLatched = true;
          }
        }
        return;
      }
      const c = this.ch[sc];
      const rw = (v >> 4) & 3;
      if (rw === 0) {
        this.latchCount(c, tick);
        return;
      }
      // Control word: new mode; OUT takes its initial state and counting stops until a count is written.
      c.held = this.countAt(c, tick);
      c.rw = rw;
      c.readState = c.writeState = rw === 3 ? RW_WORD0 : rw;
      c.mode = (v >> 1) & 7;
      c.bcd = (v & 1) !== 0;
      c.loaded = false;
      c.armed = false;
      c.frozen = null;
      c.nullCount = true;
      c.latchState = 0;
      c.statusLatched = false;
    } else {
      const c = this.ch[reg];
      switch (c.writeState) {
        case RW_LSB:
          this.loadCount(c, v, tick);
          break;
        case RW_MSB:
          this.loadCount(c, v << 8, tick);
          break;
        case RW_WORD0:
          c.writeLatch = v;
          c.writeState = RW_WORD1;
          if (effMode(c) === 0 && c.loaded) {
            // Mode 0: writing the first byte stops the count and sets OUT low (datasheet "Mode 0").
            c.held = this.countAt(c, tick);
            c.loaded = false;
          }
          break;
        default:
          c.writeState = RW_WORD0;
          this.loadCount(c, c.writeLatch | (v << 8), tick);
          break;
      }
    }
    if (reg === 0 || reg === 3) this.drive(this.outAt(this.ch[0], tick));
  }

  private loadCount(c: Channel, value: number, tick: number): void {
    c.count = value & 0xffff;
    c.loaded = true;
    c.loadTick = tick;
    const m = effMode(c);
    if (m === 1 || m === 5) {
      c.armed = false; // waits for a gate trigger
      c.nullCount = true;
      c.frozen = null;
      return;
    }
    c.nullCount = false;
    c.frozen = c.gate ? null : 0;
  }

  private setGate(c: Channel, gate: boolean, tick: number): void {
    if (gate === c.gate) return;
    const m = effMode(c);
    if (!gate) {
      if (c.loaded && m !== 1 && m !== 5) c.frozen = this.elapsed(c, tick);
    } else if (c.loaded) {
      if (m === 0 || m === 4) {
        if (c.frozen !== null) c.loadTick = tick - c.frozen; // resume where counting stopped
        c.frozen = null;
      } else if (m === 2 || m === 3) {
        c.loadTick = tick; // rising gate reloads the count
        c.frozen = null;
      } else {
        c.armed = true; // modes 1 and 5: trigger
        c.loadTick = tick;
        c.nullCount = false;
      }
    }
    c.gate = gate;
  }

  private read61(size: PortSize): number {
    const tick = pitTicksAt(this.now());
    const c2 = this.ch[2];
    const v = (this.port61 & 0x0f) | ((Math.floor(tick / REFRESH_TICKS) & 1) << 4) | (this.outAt(c2, tick) ? 0x20 : 0);
    return size === 1 ? v : v | (size === 2 ? 0xff00 : 0xffffff00); // bytes past 0x61: unassigned port 0x62..
  }

  private write61(v: number): void {
    const tick = pitTicksAt(this.now());
    this.port61 = v & 0x0f;
    this.setGate(this.ch[2], (v & 1) !== 0, tick);
  }

  /** Channel registers for the debugger (no side effects). */
  registers(): { mode: number; bcd: boolean; rw: number; count: number; current: number; out: boolean; gate: boolean }[] {
    const tick = pitTicksAt(this.now());
    return this.ch.map((c) => ({ mode: c.mode, bcd: c.bcd, rw: c.rw, count: c.count, current: this.countAt(c, tick), out: this.outAt(c, tick), gate: c.gate }));
  }

  /** Port 0x61 bit 1 (speaker data enable) as last written. */
  speakerData(): boolean {
    return (this.port61 & 2) !== 0;
  }

  // ---- snapshots ----

  saveState(): unknown {
    return { lastTick: this.lastTick, irqLevel: this.irqLevel, port61: this.port61, irqEdges: this.irqEdges, channels: this.ch.map((c) => ({ ...c })) };
  }

  loadState(s: unknown): void {
    const n = this.name;
    const o = asRecord(n, s);
    const MAX = Number.MAX_SAFE_INTEGER;
    const lastTick = intField(n, o, 'lastTick', 0, MAX);
    const irqLevel = boolField(n, o, 'irqLevel');
    const port61 = intField(n, o, 'port61', 0, 0x0f);
    const irqEdges = intField(n, o, 'irqEdges', 0, MAX);
    if (!Array.isArray(o.channels) || o.channels.length !== 3) throw new DeviceStateError(n, 'state.channels: expected three channels');
    const chans = o.channels.map((x): Channel => {
      const r = asRecord(n, x);
      const frozen = r.frozen;
      if (frozen !== null && !(typeof frozen === 'number' && Number.isSafeInteger(frozen) && frozen >= 0)) {
        throw new DeviceStateError(n, 'state.channels[].frozen: expected null or a tick count');
      }
      return {
        mode: intField(n, r, 'mode', 0, 7), bcd: boolField(n, r, 'bcd'), rw: intField(n, r, 'rw', 1, 3), count: intField(n, r, 'count', 0, 0xffff),
        loaded: boolField(n, r, 'loaded'), armed: boolField(n, r, 'armed'), loadTick: intField(n, r, 'loadTick', 0, MAX), frozen,
        held: intField(n, r, 'held', 0, 0xffff), gate: boolField(n, r, 'gate'), writeState: intField(n, r, 'writeState', 1, 4),
        writeLatch: intField(n, r, 'writeLatch', 0, 0xff), readState: intField(n, r, 'readState', 1, 4), latched: intField(n, r, 'latched', 0, 0xffff),
        latchState: intField(n, r, 'latchState', 0, 3), status: intField(n, r, 'status', 0, 0xff), statusLatched: boolField(n, r, 'statusLatched'),
        nullCount: boolField(n, r, 'nullCount'),
      };
    });
    this.ch[0] = chans[0];
    this.ch[1] = chans[1];
    this.ch[2] = chans[2];
    this.lastTick = lastTick;
    this.irqLevel = irqLevel;
    this.port61 = port61;
    this.irqEdges = irqEdges;
  }
}
