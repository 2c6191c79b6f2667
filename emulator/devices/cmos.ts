// MC146818 RTC and 128-byte CMOS RAM at 0x70/0x71: guest-time clock, BCD/binary, 12/24 h, periodic/alarm/update interrupts on IRQ 8.
import type { PortDevice, PortSize, Snapshottable } from './bus.js';
import { asRecord, boolField, byteArrayField, DeviceStateError, intField } from './bus.js';
import { mulDivFloor } from './pit8254.js';

export const CMOS_PORT = 0x70;
export const RTC_IRQ = 8;
/** 2000-01-01 00:00:00 UTC in seconds since the Unix epoch: the RTC's default base time. */
export const RTC_DEFAULT_BASE = 946684800;

/** Register indexes (MC146818A datasheet, "Address Map"; century at 0x32 as the IBM PC/AT BIOS and QEMU use). */
export const RTC_REG = {
  SECONDS: 0x00, SECONDS_ALARM: 0x01, MINUTES: 0x02, MINUTES_ALARM: 0x03, HOURS: 0x04, HOURS_ALARM: 0x05,
  DAY_OF_WEEK: 0x06, DAY_OF_MONTH: 0x07, MONTH: 0x08, YEAR: 0x09, A: 0x0a, B: 0x0b, C: 0x0c, D: 0x0d, CENTURY: 0x32,
} as const;
export const REG_A_UIP = 0x80;
export const REG_B = { SET: 0x80, PIE: 0x40, AIE: 0x20, UIE: 0x10, SQWE: 0x08, DM_BINARY: 0x04, H24: 0x02, DSE: 0x01 } as const;
export const REG_C = { IRQF: 0x80, PF: 0x40, AF: 0x20, UF: 0x10 } as const;
/** Register D bit 7 VRT: the battery is good. */
export const REG_D_VRT = 0x80;

const NS = 1e9;
/** UIP rises 244 µs before an update and stays for the update cycle, 1984 µs with a 32.768 kHz time base (datasheet "Update Cycle"). */
const UIP_BEFORE_NS = 244_000;
const UPDATE_CYCLE_NS = 1_984_000;
const DAY = 86400;

export interface CmosOptions {
  clock: () => number;
  /** IRQ 8 line (level = IRQF). */
  setIrq?: (level: boolean) => void;
  /** Guest RAM in bytes (for the memory-size bytes QEMU's BIOS interface writes). */
  memorySize: number;
  cpus?: number;
  /** RTC time at guest time 0, in seconds since 1970-01-01 UTC (default 2000-01-01 00:00:00). */
  rtcBase?: number;
}

/** Split of RAM around the PCI hole as QEMU's i440FX machine does it (hw/i386/pc_piix.c): below 4 GiB at most 3.5 GiB, 3 GiB when larger. */
export function splitRam(memorySize: number): { below4g: number; above4g: number } {
  if (memorySize < 0xe0000000) return { below4g: memorySize, above4g: 0 };
  return { below4g: 0xc0000000, above4g: memorySize - 0xc0000000 };
}

/** The CMOS bytes QEMU's pc_cmos_init writes for RAM (hw/i386/pc.c) and the CPU count (0x5F). */
export function memoryCmosBytes(memorySize: number, cpus: number): [number, number][] {
  const { below4g, above4g } = splitRam(memorySize);
  const out: [number, number][] = [[0x15, 0x80], [0x16, 0x02]]; // 640 KiB base memory
  const ext = Math.min(0xffff, Math.max(0, Math.floor(memorySize / 1024) - 1024));
  out.push([0x17, ext & 0xff], [0x18, ext >> 8], [0x30, ext & 0xff], [0x31, ext >> 8]);
  const above16 = below4g > 16 * 1024 * 1024 ? Math.min(0xffff, Math.floor((below4g - 16 * 1024 * 1024) / 65536)) : 0;
  out.push([0x34, above16 & 0xff], [0x35, above16 >> 8]);
  const high = Math.floor(above4g / 65536);
  out.push([0x5b, high & 0xff], [0x5c, (high >> 8) & 0xff], [0x5d, Math.floor(high / 65536) & 0xff]);
  out.push([0x5f, Math.max(0, cpus - 1) & 0xff]);
  return out;
}

const bcd = (v: number): number => ((Math.floor(v / 10) % 10) << 4) | (v % 10);
const unbcd = (v: number): number => (v >> 4) * 10 + (v & 0x0f);

/**
 * The RTC keeps time as a count of seconds advanced by update cycles of the guest-time divider chain:
 * update boundaries are at `updRef + k * 1e9` guest ns; releasing the divider from reset (register A
 * DV = 11x → 010) puts the first update half a second later (datasheet "Divider Control"). Register B
 * SET stops updates (and clears UIE); clearing it resumes them at the next boundary. The date/time
 * registers are produced from that count in the format register B selects when read, and decoded when
 * written (an impossible date is normalised, e.g. 31 February → 3 March; day of the week follows the
 * date, as in QEMU). Daylight saving (DSE) and the square-wave output are stored only.
 *
 * Flags (register C) are computed lazily: every access and `poll(now)` first processes the update,
 * alarm and periodic events since the last one; IRQ 8 follows IRQF = PF·PIE + AF·AIE + UF·UIE.
 */
export class Cmos implements PortDevice, Snapshottable {
  readonly name = 'cmos';
  private readonly clock: () => number;
  private readonly setIrqCb: ((level: boolean) => void) | null;
  private ram = new Uint8Array(128);
  private index = 0;
  private nmiDisabled = false;
  private baseSeconds: number;
  private baseEdges = 0;
  /** A guest ns at which an update boundary falls (boundaries every 1e9 ns from it, both ways). */
  private updRef = 0;
  /** Guest ns up to which events have been processed. */
  private last = 0;
  private flags = 0;
  private irqLevel = false;
  /** Day-of-week register minus the weekday of the date, mod 7: the register is its own counter on the chip. */
  private dowAdjust = 0;

  constructor(opts: CmosOptions) {
    this.clock = opts.clock;
    this.setIrqCb = opts.setIrq ?? null;
    const base = opts.rtcBase ?? RTC_DEFAULT_BASE;
    if (!Number.isSafeInteger(base) || base < 0 || base > 253402300799) throw new DeviceStateError('cmos', `rtcBase ${base}: expected seconds between 1970 and 9999`);
    this.baseSeconds = base;
    this.ram[RTC_REG.A] = 0x26; // 32.768 kHz time base, 1024 Hz periodic rate (QEMU and BIOS default)
    this.ram[RTC_REG.B] = REG_B.H24;
    this.ram[RTC_REG.D] = REG_D_VRT;
    for (const [i, v] of memoryCmosBytes(opts.memorySize, opts.cpus ?? 1)) this.ram[i] = v;
  }

  private now(): number {
    const t = this.clock();
    return Number.isFinite(t) && t > 0 ? Math.floor(t) : 0;
  }

  private chainRunning(): boolean {
    return (this.ram[RTC_REG.A] & 0x70) <= 0x20; // DV 11x (and test modes) hold the divider in reset (QEMU rtc_running)
  }

  private updating(): boolean {
    return this.chainRunning() && !(this.ram[RTC_REG.B] & REG_B.SET);
  }

  /** Update boundaries in (updRef - 1e9 * large, t]: a monotonic count, only differences matter. */
  private edges(t: number): number {
    return Math.floor((t - this.updRef) / NS);
  }

  private seconds(t: number): number {
    return this.updating() ? this.baseSeconds + (this.edges(t) - this.baseEdges) : this.baseSeconds;
  }

  /** Re-anchor the second count at `t` before a change of the settings that drive it. */
  private rebase(t: number): void {
    this.baseSeconds = this.seconds(t);
    this.baseEdges = this.edges(t);
  }

  /** Periodic rate in 32.768 kHz ticks (datasheet Table "Periodic Interrupt Rate"): RS 1, 2 act as 8, 9; 0 = none. */
  private periodTicks(): number {
    const rs = this.ram[RTC_REG.A] & 0x0f;
    if (rs === 0 || !this.chainRunning()) return 0;
    return 2 ** ((rs <= 2 ? rs + 7 : rs) - 1);
  }

  private periodicCount(t: number): number {
    // Reference one second before updRef: never after any t we are asked about.
    const ref = this.updRef - NS;
    return Math.floor(mulDivFloor(Math.max(0, t - ref), 32768, NS) / this.periodTicks());
  }

  /** Flags raised by update, alarm and periodic events in (from, to] (pure). */
  private eventsBetween(from: number, to: number): number {
    if (to <= from) return 0;
    let f = 0;
    if (this.updating()) {
      const n = this.edges(to) - this.edges(from);
      if (n > 0) {
        f |= REG_C.UF;
        if (this.alarmBetween(this.seconds(from), Math.min(n, DAY))) f |= REG_C.AF;
      }
    }
    if (this.periodTicks() > 0 && this.periodicCount(to) > this.periodicCount(from)) f |= REG_C.PF;
    return f;
  }

  /** Process the events in (last, now]. */
  private advance(now: number): void {
    if (now <= this.last) return;
    this.flags |= this.eventsBetween(this.last, now);
    this.last = now;
    this.updateIrq();
  }

  private irqf(flags: number): boolean {
    const b = this.ram[RTC_REG.B];
    return ((flags & REG_C.PF) !== 0 && (b & REG_B.PIE) !== 0) || ((flags & REG_C.AF) !== 0 && (b & REG_B.AIE) !== 0)
      || ((flags & REG_C.UF) !== 0 && (b & REG_B.UIE) !== 0);
  }

  /** Does any of the `n` seconds after `from` match the alarm bytes (0xC0-0xFF = don't care)? */
  private alarmBetween(from: number, n: number): boolean {
    const as = this.ram[RTC_REG.SECONDS_ALARM];
    const am = this.ram[RTC_REG.MINUTES_ALARM];
    const ah = this.ram[RTC_REG.HOURS_ALARM];
    const any = (v: number) => (v & 0xc0) === 0xc0;
    for (let i = 1; i <= n; i++) {
      const sod = (((from + i) % DAY) + DAY) % DAY;
      const h = Math.floor(sod / 3600);
      const m = Math.floor(sod / 60) % 60;
      const s = sod % 60;
      if ((any(as) || as === this.enc(s)) && (any(am) || am === this.enc(m)) && (any(ah) || ah === this.encHour(h))) return true;
    }
    return false;
  }

  private enc(v: number): number {
    return this.ram[RTC_REG.B] & REG_B.DM_BINARY ? v : bcd(v);
  }

  private dec(v: number): number {
    return this.ram[RTC_REG.B] & REG_B.DM_BINARY ? v : unbcd(v);
  }

  private encHour(h: number): number {
    if (this.ram[RTC_REG.B] & REG_B.H24) return this.enc(h);
    const pm = h >= 12 ? 0x80 : 0;
    return this.enc(h % 12 === 0 ? 12 : h % 12) | pm;
  }

  private decHour(v: number): number {
    if (this.ram[RTC_REG.B] & REG_B.H24) return this.dec(v);
    const h = this.dec(v & 0x7f) % 12;
    return v & 0x80 ? h + 12 : h;
  }

  private updateIrq(): void {
    const level = this.irqf(this.flags);
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.setIrqCb?.(level);
    }
  }

  /** The time registers for epoch second `sec`, in the current format. */
  private timeRegister(reg: number, sec: number): number {
    const d = new Date(sec * 1000); // pure arithmetic on a given instant; never the host clock
    switch (reg) {
      case RTC_REG.SECONDS: return this.enc(d.getUTCSeconds());
      case RTC_REG.MINUTES: return this.enc(d.getUTCMinutes());
      case RTC_REG.HOURS: return this.encHour(d.getUTCHours());
      case RTC_REG.DAY_OF_WEEK: return this.enc(((d.getUTCDay() + this.dowAdjust) % 7) + 1); // Sunday = 1 when set from the date
      case RTC_REG.DAY_OF_MONTH: return this.enc(d.getUTCDate());
      case RTC_REG.MONTH: return this.enc(d.getUTCMonth() + 1);
      case RTC_REG.YEAR: return this.enc(d.getUTCFullYear() % 100);
      default: return this.enc(Math.floor(d.getUTCFullYear() / 100) % 100); // century
    }
  }

  private isTimeRegister(reg: number): boolean {
    return reg === 0 || reg === 2 || reg === 4 || (reg >= 6 && reg <= 9) || reg === RTC_REG.CENTURY;
  }

  private uip(now: number): boolean {
    if (!this.updating()) return false;
    const phase = (((now - this.updRef) % NS) + NS) % NS; // ns since the last boundary
    return phase >= NS - UIP_BEFORE_NS || phase < UPDATE_CYCLE_NS;
  }

  private readRegister(reg: number, now: number, peek: boolean): number {
    if (this.isTimeRegister(reg)) return this.timeRegister(reg, this.seconds(now));
    switch (reg) {
      case RTC_REG.A: return (this.ram[reg] & 0x7f) | (this.uip(now) ? REG_A_UIP : 0);
      case RTC_REG.C: {
        const v = this.flags | (this.irqLevel ? REG_C.IRQF : 0);
        if (!peek) {
          this.flags = 0; // reading C clears all flags and IRQF (datasheet "Register C")
          this.updateIrq();
        }
        return v;
      }
      case RTC_REG.D: return REG_D_VRT;
      default: return this.ram[reg];
    }
  }

  private writeRegister(reg: number, v: number, now: number): void {
    if (reg === RTC_REG.DAY_OF_WEEK) {
      // The weekday is a separate counter (1-7) that the update advances at midnight: a write sets it.
      const derived = new Date(this.seconds(now) * 1000).getUTCDay();
      this.dowAdjust = ((((this.dec(v) - 1 - derived) % 7) + 7) % 7);
      return;
    }
    if (this.isTimeRegister(reg)) {
      const sec = this.seconds(now);
      const weekday = this.dec(this.timeRegister(RTC_REG.DAY_OF_WEEK, sec));
      const get = (r: number) => (r === reg ? v : this.timeRegister(r, sec));
      const year = this.dec(get(RTC_REG.CENTURY)) * 100 + this.dec(get(RTC_REG.YEAR));
      const d = new Date(0);
      d.setUTCFullYear(year, this.dec(get(RTC_REG.MONTH)) - 1, this.dec(get(RTC_REG.DAY_OF_MONTH)));
      d.setUTCHours(this.decHour(get(RTC_REG.HOURS)), this.dec(get(RTC_REG.MINUTES)), this.dec(get(RTC_REG.SECONDS)), 0);
      const t = Math.floor(d.getTime() / 1000);
      if (Number.isSafeInteger(t) && t >= 0 && t <= 253402300799) {
        this.baseSeconds = t;
        this.baseEdges = this.edges(now);
        // Writing the date or time leaves the weekday register as it was (as on the chip and in QEMU while SET).
        this.dowAdjust = ((((weekday - 1 - d.getUTCDay()) % 7) + 7) % 7);
      }
      return;
    }
    switch (reg) {
      case RTC_REG.A: {
        const wasRunning = this.chainRunning();
        this.rebase(now);
        this.ram[reg] = v & 0x7f; // UIP is read-only
        if (!wasRunning && this.chainRunning()) {
          this.updRef = now + NS / 2; // first update 500 ms after the divider leaves reset
          this.baseEdges = this.edges(now);
        }
        break;
      }
      case RTC_REG.B: {
        this.rebase(now);
        if (v & REG_B.SET) v &= ~REG_B.UIE; // SET clears UIE (datasheet "Register B")
        this.ram[reg] = v;
        this.baseEdges = this.edges(now);
        this.updateIrq();
        break;
      }
      case RTC_REG.C:
      case RTC_REG.D:
        break; // read-only
      default:
        this.ram[reg] = v;
    }
  }

  ioRead(port: number, size: PortSize): number {
    return this.split(port, size, (p) => {
      if (p === CMOS_PORT) return 0xff; // the index register is write-only (QEMU returns 0xFF)
      const now = this.now();
      this.advance(now);
      return this.readRegister(this.index, now, false);
    });
  }

  ioPeek(port: number, size: PortSize): number {
    return this.split(port, size, (p) => (p === CMOS_PORT ? 0xff : this.peekRegister(this.index)));
  }

  /** A register's value now, without clearing flags or processing events (debugger). */
  peekRegister(reg: number): number {
    const now = this.now();
    if ((reg & 0x7f) === RTC_REG.C) {
      const f = this.flags | this.eventsBetween(this.last, now);
      return f | (this.irqf(f) ? REG_C.IRQF : 0);
    }
    return this.readRegister(reg & 0x7f, now, true);
  }

  ioWrite(port: number, size: PortSize, value: number): void {
    for (let i = 0; i < size; i++) {
      const p = port + i;
      const v = (value >>> (8 * i)) & 0xff;
      if (p === CMOS_PORT) {
        this.index = v & 0x7f;
        this.nmiDisabled = (v & 0x80) !== 0;
      } else if (p === CMOS_PORT + 1) {
        const now = this.now();
        this.advance(now);
        this.writeRegister(this.index, v, now);
      }
    }
  }

  private split(port: number, size: PortSize, read: (p: number) => number): number {
    let v = 0;
    for (let i = 0; i < size; i++) {
      const p = port + i;
      v |= (p === CMOS_PORT || p === CMOS_PORT + 1 ? read(p) & 0xff : 0xff) << (8 * i);
    }
    return v >>> 0;
  }

  /** NMI disable (port 0x70 bit 7) as last written. */
  get nmiMasked(): boolean {
    return this.nmiDisabled;
  }

  /** Current RTC time in seconds since the epoch (for views and tests). */
  time(): number {
    return this.seconds(this.now());
  }

  /** Guest ns of the next event that would raise IRQ 8, or null (none enabled, or IRQ 8 already asserted). */
  nextDeadline(): number | null {
    if (this.irqLevel) return null;
    const b = this.ram[RTC_REG.B];
    let best: number | null = null;
    if (b & REG_B.PIE && this.periodTicks() > 0) {
      const ref = this.updRef - NS;
      const p = this.periodTicks();
      const k = this.periodicCount(this.last) + 1;
      // First ns t with floor((t - ref) * 32768 / 1e9) >= k * p.
      const ticks = k * p;
      const a = Math.floor(ticks / 32768);
      const rem = ticks - a * 32768;
      best = ref + a * NS + Math.ceil((rem * NS) / 32768);
    }
    if (b & (REG_B.UIE | REG_B.AIE) && this.updating()) {
      const t = this.updRef + (this.edges(this.last) + 1) * NS;
      if (best === null || t < best) best = t;
    }
    return best;
  }

  poll(now: number): void {
    this.advance(Number.isFinite(now) && now > 0 ? Math.floor(now) : 0);
  }

  irqLine(): boolean {
    return this.irqLevel;
  }

  saveState(): unknown {
    return {
      ram: [...this.ram], index: this.index, nmiDisabled: this.nmiDisabled, baseSeconds: this.baseSeconds, baseEdges: this.baseEdges,
      updRef: this.updRef, last: this.last, flags: this.flags, irqLevel: this.irqLevel, dowAdjust: this.dowAdjust,
    };
  }

  loadState(s: unknown): void {
    const n = this.name;
    const o = asRecord(n, s);
    const ram = byteArrayField(n, o, 'ram', 128);
    if (ram.length !== 128) throw new DeviceStateError(n, 'state.ram: expected 128 bytes');
    const MAX = Number.MAX_SAFE_INTEGER;
    const index = intField(n, o, 'index', 0, 0x7f);
    const nmiDisabled = boolField(n, o, 'nmiDisabled');
    const baseSeconds = intField(n, o, 'baseSeconds', 0, 253402300799);
    const baseEdges = intField(n, o, 'baseEdges', -MAX, MAX);
    const updRef = intField(n, o, 'updRef', 0, MAX);
    const last = intField(n, o, 'last', 0, MAX);
    const flags = intField(n, o, 'flags', 0, 0x70);
    const irqLevel = boolField(n, o, 'irqLevel');
    const dowAdjust = intField(n, o, 'dowAdjust', 0, 6);
    this.dowAdjust = dowAdjust;
    this.ram = Uint8Array.from(ram);
    this.index = index;
    this.nmiDisabled = nmiDisabled;
    this.baseSeconds = baseSeconds;
    this.baseEdges = baseEdges;
    this.updRef = updRef;
    this.last = last;
    this.flags = flags & 0x70;
    this.irqLevel = irqLevel;
  }
}
