// Local APIC (SDM vol. 3A ch. 11): xAPIC MMIO page, x2APIC MSRs, IA32_APIC_BASE, timer (one-shot/periodic/TSC-deadline), priorities, EOI, LINT0/1.
import type { MmioDevice, MmioSize, Snapshottable } from './bus.js';
import { asRecord, boolField, DeviceStateError, intField } from './bus.js';
import type { ApicMessage } from './ioapic.js';

export const LAPIC_BASE = 0xfee00000;
export const LAPIC_SIZE = 0x1000;
export const MSR_IA32_APIC_BASE = 0x1b;
export const MSR_IA32_TSC_DEADLINE = 0x6e0;
export const MSR_X2APIC_FIRST = 0x800;
export const MSR_X2APIC_LAST = 0x8ff;
/** Version register: version 0x14 (integrated APIC), max LVT entry 5 (timer, thermal, perf, LINT0, LINT1, error); no EOI-broadcast suppression (bit 24). */
export const LAPIC_VERSION = 0x00050014;

/** IA32_APIC_BASE bits (SDM vol. 3A §11.4.4, Figure 11-5). */
export const APIC_BASE_BSP = 0x100;
export const APIC_BASE_EXTD = 0x400;
export const APIC_BASE_EN = 0x800;

/** Register offsets in the xAPIC page (SDM vol. 3A Table 11-1); the x2APIC MSR is 0x800 + offset / 16 (Table 11-6). */
export const APIC_REG = {
  ID: 0x020, VERSION: 0x030, TPR: 0x080, APR: 0x090, PPR: 0x0a0, EOI: 0x0b0, RRD: 0x0c0, LDR: 0x0d0, DFR: 0x0e0, SVR: 0x0f0,
  ISR: 0x100, TMR: 0x180, IRR: 0x200, ESR: 0x280, LVT_CMCI: 0x2f0, ICR_LOW: 0x300, ICR_HIGH: 0x310, LVT_TIMER: 0x320,
  LVT_THERMAL: 0x330, LVT_PERF: 0x340, LVT_LINT0: 0x350, LVT_LINT1: 0x360, LVT_ERROR: 0x370, TIMER_INITIAL: 0x380,
  TIMER_CURRENT: 0x390, TIMER_DIVIDE: 0x3e0, SELF_IPI: 0x3f0,
} as const;

/** LVT indexes in this model, in register order. */
const LVT_TIMER = 0;
const LVT_LINT0 = 3;
const LVT_LINT1 = 4;
const LVT_ERROR = 5;
const LVT_COUNT = 6;
export const LVT_MASKED = 0x10000;
/** Writable bits per LVT (SDM vol. 3A Figure 11-8): timer, thermal, perf, LINT0, LINT1, error. */
const LVT_WRITABLE = [0x000700ff, 0x000107ff, 0x000107ff, 0x0001a7ff, 0x0001a7ff, 0x000100ff] as const;
const LVT_REMOTE_IRR = 0x4000;
const LVT_LEVEL = 0x8000;
/** LVT timer modes, bits 18:17 (SDM vol. 3A §11.5.4). */
export const TIMER_ONESHOT = 0;
export const TIMER_PERIODIC = 1;
export const TIMER_TSC_DEADLINE = 2;
/** Delivery modes (SDM vol. 3A §11.5.1, §11.6.1). */
export const DM_FIXED = 0;
export const DM_LOWEST = 1;
export const DM_SMI = 2;
export const DM_NMI = 4;
export const DM_INIT = 5;
export const DM_STARTUP = 6;
export const DM_EXTINT = 7;
/** ESR bits (SDM vol. 3A §11.5.3). */
export const ESR = { SEND_ILLEGAL_VECTOR: 0x20, RECEIVE_ILLEGAL_VECTOR: 0x40, ILLEGAL_REGISTER: 0x80 } as const;
const SVR_ENABLE = 0x100;
const SVR_WRITABLE = 0x3ff; // vector, APIC software enable, focus processor checking
const ICR_WRITABLE = 0x000ccfff;

/** What a RDMSR/WRMSR of an APIC MSR does: a value, or #GP(0) (SDM vol. 3A §11.12.1.2). */
export type MsrRead = { gp: true } | { gp: false; value: bigint };
export type MsrWrite = { gp: boolean };
const GP: { gp: true } = { gp: true };
const OK: MsrWrite = { gp: false };

/** The 8259A pair as seen through LINT0 in virtual wire mode (ExtINT). */
export interface ExtIntSource {
  intr(): boolean;
  acknowledge(): number;
}

export interface LapicOptions {
  /** Guest ns; the timer's bus clock runs at 1 GHz (one tick per ns before the divider), as QEMU's APIC_BUS_CYCLE_NS = 1. */
  clock: () => number;
  /** The guest's TSC minus guest ns (IA32_TSC offset); TSC-deadline compares against clock() + tscOffset(). */
  tscOffset?: () => number;
  id?: number;
  bsp?: boolean;
  /** MAXPHYADDR for IA32_APIC_BASE reserved-bit checks (the processor's CPUID.80000008H:EAX[7:0]). */
  maxPhysAddr?: number;
  /** EOI broadcast of a level-triggered vector (to the I/O APIC). */
  onEoi?: (vector: number) => void;
  /** ExtINT source on LINT0 (the PIC). */
  extInt?: ExtIntSource;
}

const highestBit = (words: Uint32Array): number => {
  for (let w = 7; w >= 0; w--) {
    const v = words[w];
    if (v !== 0) return w * 32 + 31 - Math.clz32(v);
  }
  return -1;
};
const setBit = (words: Uint32Array, v: number, on: boolean): void => {
  if (on) words[v >> 5] |= 1 << (v & 31);
  else words[v >> 5] &= ~(1 << (v & 31));
};
const testBit = (words: Uint32Array, v: number): boolean => (words[v >> 5] & (1 << (v & 31))) !== 0;

/** Timer divide configuration bits 3, 1:0 → divisor (SDM vol. 3A Figure 11-10). */
export function timerDivisor(dcr: number): number {
  const idx = ((dcr & 8) >> 1) | (dcr & 3);
  return idx === 7 ? 1 : 2 << idx;
}

/**
 * One local APIC. The run loop asks `hasInterrupt()` (an IRR vector above the processor priority, or a
 * PIC interrupt through LINT0 as ExtINT) and `acknowledge()` (IRR → ISR, returns the vector; ExtINT asks
 * the PIC for its vector; nothing pending → the spurious vector, no ISR bit, SDM §11.9).
 *
 * Fidelity notes: only this processor exists, so IPIs reach it when addressed to it (self shorthand, all
 * including self, or its physical/logical destination); IPIs for other processors and INIT/SIPI/SMI are
 * counted in `ignoredIpis` and dropped. IA32_APIC_BASE may move the base, but the bus mapping stays at
 * 0xFEE00000 (the page reads all ones while the APIC is globally disabled or in x2APIC mode). At reset
 * LINT0 is ExtINT and unmasked on the BSP (virtual wire mode as QEMU and the BIOS set it up), so PIC
 * interrupts reach the processor before any guest APIC setup.
 */
export class Lapic implements MmioDevice, Snapshottable {
  readonly name = 'lapic';
  private readonly clock: () => number;
  private readonly tscOffset: () => number;
  private readonly onEoi: ((v: number) => void) | null;
  private readonly extInt: ExtIntSource | null;
  private readonly physMask: number;
  private readonly bsp: boolean;
  private readonly resetId: number;

  private apicBase: number;
  private id: number;
  private tpr = 0;
  private ldr = 0;
  private dfr = 0xffffffff;
  private svr = 0xff;
  private readonly isr = new Uint32Array(8);
  private readonly tmr = new Uint32Array(8);
  private readonly irr = new Uint32Array(8);
  /** The highest vector set in IRR, or -1 (kept with every IRR change: asked before every VM entry). */
  private irrTop = -1;
  private esr = 0;
  private esrPending = 0;
  private icrLow = 0;
  private icrHigh = 0;
  private readonly lvt = new Uint32Array(LVT_COUNT);
  private dcr = 0;
  private initialCount = 0;
  // Timer: counting ticks of (divisor) ns from timerStart; expiries at tick base + k * initialCount.
  private timerStart = 0;
  private timerBase = 0;
  private timerDiv = 2;
  private timerFired = false; // one-shot: expired already
  private tscDeadline = 0n;
  /** Guest ns up to which timer expiries have been processed. */
  private lastSync = 0;
  private lintLevel = [false, false];
  private nmi = false;
  ignoredIpis = 0;
  timerInterrupts = 0;

  constructor(opts: LapicOptions) {
    this.clock = opts.clock;
    this.tscOffset = opts.tscOffset ?? (() => 0);
    this.onEoi = opts.onEoi ?? null;
    this.extInt = opts.extInt ?? null;
    this.physMask = 2 ** (opts.maxPhysAddr ?? 39) - 1;
    this.bsp = opts.bsp ?? true;
    this.resetId = opts.id ?? 0;
    this.id = this.resetId;
    this.apicBase = LAPIC_BASE + APIC_BASE_EN + (this.bsp ? APIC_BASE_BSP : 0); // addition: the base is above 2^31
    this.resetRegisters();
  }

  /** Power-up register state (SDM vol. 3A §11.4.7.1), except IA32_APIC_BASE and the ID. */
  private resetRegisters(): void {
    this.tpr = 0;
    this.ldr = 0;
    this.dfr = 0xffffffff;
    this.svr = 0xff;
    this.isr.fill(0);
    this.tmr.fill(0);
    this.irr.fill(0);
    this.irrTop = -1;
    this.esr = this.esrPending = 0;
    this.icrLow = this.icrHigh = 0;
    this.lvt.fill(LVT_MASKED);
    if (this.bsp) this.lvt[LVT_LINT0] = DM_EXTINT << 8; // virtual wire mode (QEMU apic_reset_common; MP spec §3.6.2.2)
    this.dcr = 0;
    this.initialCount = 0;
    this.timerFired = false;
    this.tscDeadline = 0n;
    this.nmi = false;
  }

  private now(): number {
    const t = this.clock();
    return Number.isFinite(t) && t > 0 ? Math.floor(t) : 0;
  }

  get globallyEnabled(): boolean {
    return (this.apicBase & APIC_BASE_EN) !== 0;
  }

  get x2apic(): boolean {
    return (this.apicBase & APIC_BASE_EXTD) !== 0;
  }

  get softwareEnabled(): boolean {
    return (this.svr & SVR_ENABLE) !== 0;
  }

  // ---- priorities (SDM vol. 3A §11.8.3) ----

  private ppr(): number {
    const isrv = Math.max(0, highestBit(this.isr));
    return (this.tpr & 0xf0) >= (isrv & 0xf0) ? this.tpr & 0xff : isrv & 0xf0;
  }

  /** Arbitration priority (SDM vol. 3A §11.6.2.4, P6 family definition). */
  private apr(): number {
    const isrv = Math.max(0, highestBit(this.isr));
    const irrv = Math.max(0, this.irrTop);
    if ((this.tpr & 0xf0) >= (irrv & 0xf0) && (this.tpr & 0xf0) > (isrv & 0xf0)) return this.tpr & 0xff;
    return Math.max(this.tpr & 0xf0, isrv & 0xf0, irrv & 0xf0);
  }

  // ---- interrupt acceptance ----

  /** Fixed interrupt into the IRR (SDM vol. 3A §11.8.4): TMR records the trigger mode. */
  private accept(vector: number, level: boolean, fromErrorLvt = false): void {
    if (!this.globallyEnabled || !this.softwareEnabled) return; // a software-disabled APIC accepts no fixed interrupts (§11.4.7.2)
    if (vector < 16) {
      if (!fromErrorLvt) this.error(ESR.RECEIVE_ILLEGAL_VECTOR);
      else this.esrPending |= ESR.RECEIVE_ILLEGAL_VECTOR;
      return;
    }
    setBit(this.irr, vector, true);
    if (vector > this.irrTop) this.irrTop = vector;
    setBit(this.tmr, vector, level);
  }

  private error(bit: number): void {
    this.esrPending |= bit;
    const e = this.lvt[LVT_ERROR];
    if (!(e & LVT_MASKED)) this.accept(e & 0xff, false, true);
  }

  /** A message from the I/O APIC (or another bus agent). */
  receive(m: ApicMessage): void {
    if (!this.globallyEnabled || !this.matches(m.dest, m.logical, false)) return;
    this.deliverLocal(m.mode, m.vector, m.level);
  }

  private deliverLocal(mode: number, vector: number, level: boolean): void {
    switch (mode) {
      case DM_FIXED:
      case DM_LOWEST:
        this.accept(vector, level);
        break;
      case DM_NMI:
        this.nmi = true;
        break;
      default:
        this.ignoredIpis++; // SMI, INIT, STARTUP, ExtINT messages: no effect on this model
    }
  }

  /** Destination match (SDM vol. 3A §11.6.2): physical ID or broadcast, logical flat/cluster (xAPIC) or cluster (x2APIC). */
  private matches(dest: number, logical: boolean, x2: boolean): boolean {
    if (x2) {
      if (dest === 0xffffffff) return true;
      if (!logical) return dest === this.id;
      const ldr = this.x2Ldr();
      return dest >>> 16 === ldr >>> 16 && (dest & ldr & 0xffff) !== 0;
    }
    dest &= 0xff;
    if (dest === 0xff) return true;
    if (!logical) return dest === (this.id & 0xff);
    if (this.x2apic) {
      const ldr = this.x2Ldr();
      return (dest & ldr & 0xff) !== 0 && ldr >>> 16 === 0; // xAPIC-format logical message to an x2APIC: cluster 0
    }
    const l = this.ldr >>> 24;
    if ((this.dfr >>> 28) === 0xf) return (dest & l) !== 0; // flat model
    return dest >> 4 === l >> 4 && (dest & l & 0x0f) !== 0; // cluster model
  }

  private x2Ldr(): number {
    return (((this.id >>> 4) << 16) | (1 << (this.id & 0xf))) >>> 0; // SDM vol. 3A §11.12.10.2
  }

  /** LINT0 / LINT1 input levels (LINT0: the PIC's INTR; LINT1: NMI sources). */
  setLint(pin: 0 | 1, level: boolean): void {
    const was = this.lintLevel[pin];
    this.lintLevel[pin] = level;
    const e = this.lvt[pin === 0 ? LVT_LINT0 : LVT_LINT1];
    if (e & LVT_MASKED || !this.globallyEnabled) return;
    const mode = (e >> 8) & 7;
    if (mode === DM_NMI) {
      if (level && !was) this.nmi = true;
    } else if (mode === DM_FIXED) {
      if (e & LVT_LEVEL && pin === 0) this.serviceLintLevel();
      else if (level && !was) this.accept(e & 0xff, false);
    }
    // ExtINT: sampled by hasInterrupt()/acknowledge(); SMI, INIT: not modelled.
  }

  private serviceLintLevel(): void {
    const e = this.lvt[LVT_LINT0];
    if (e & LVT_MASKED || !(e & LVT_LEVEL) || ((e >> 8) & 7) !== DM_FIXED || e & LVT_REMOTE_IRR || !this.lintLevel[0]) return;
    this.lvt[LVT_LINT0] = e | LVT_REMOTE_IRR;
    this.accept(e & 0xff, true);
  }

  private extIntPending(): boolean {
    const e = this.lvt[LVT_LINT0];
    return this.extInt !== null && !(e & LVT_MASKED) && ((e >> 8) & 7) === DM_EXTINT && this.extInt.intr();
  }

  /** Is an interrupt ready for the processor (before RFLAGS.IF)? Call poll() first so timers are current. */
  hasInterrupt(): boolean {
    if (!this.globallyEnabled) return false;
    const v = this.irrTop;
    if (v >= 0 && (v & 0xf0) > (this.ppr() & 0xf0)) return true;
    return this.extIntPending();
  }

  /** INTA: the vector to deliver. Fixed interrupts first (ExtINT ignores priority and goes to the PIC, as in QEMU's cpu_get_pic_interrupt). */
  acknowledge(): number {
    const v = this.irrTop;
    if (v >= 0 && (v & 0xf0) > (this.ppr() & 0xf0)) {
      setBit(this.irr, v, false);
      this.irrTop = highestBit(this.irr);
      setBit(this.isr, v, true);
      return v;
    }
    if (this.extIntPending() && this.extInt !== null) return this.extInt.acknowledge();
    return this.svr & 0xff; // spurious interrupt (SDM vol. 3A §11.9)
  }

  nmiPending(): boolean {
    return this.nmi;
  }

  /** The processor took the NMI. */
  acknowledgeNmi(): void {
    this.nmi = false;
  }

  /** Raise an NMI at this processor (e.g. an NMI source wired outside LINT1). */
  raiseNmi(): void {
    this.nmi = true;
  }

  private eoi(): void {
    const v = highestBit(this.isr);
    if (v < 0) return;
    setBit(this.isr, v, false);
    if (testBit(this.tmr, v)) {
      // Level-triggered: EOI message to the I/O APICs (SDM vol. 3A §11.8.5) and to a level LINT0.
      const l0 = this.lvt[LVT_LINT0];
      if (l0 & LVT_REMOTE_IRR && (l0 & 0xff) === v) {
        this.lvt[LVT_LINT0] = l0 & ~LVT_REMOTE_IRR;
        this.serviceLintLevel();
      }
      this.onEoi?.(v);
    }
  }

  // ---- timer (SDM vol. 3A §11.5.4) ----

  private timerMode(): number {
    return (this.lvt[LVT_TIMER] >> 17) & 3;
  }

  private timerTicks(t: number): number {
    return Math.floor((t - this.timerStart) / this.timerDiv);
  }

  /** Expiries with tick <= x (count-mode timer). */
  private expiriesUpTo(x: number): number {
    if (this.initialCount === 0 || x < this.timerBase) return 0;
    if (this.timerMode() === TIMER_PERIODIC) return 1 + Math.floor((x - this.timerBase) / this.initialCount);
    return 1;
  }

  private currentCount(t: number): number {
    const mode = this.timerMode();
    if (this.initialCount === 0 || mode === TIMER_TSC_DEADLINE || mode === 3) return 0;
    const x = this.timerTicks(t);
    if (x < this.timerBase) return this.timerBase - x;
    if (mode === TIMER_PERIODIC) return this.initialCount - ((x - this.timerBase) % this.initialCount);
    return 0;
  }

  /** Deliver timer expiries in (lastSync, now]. */
  private sync(now: number): void {
    if (now < this.lastSync) return;
    const last = this.lastSync;
    this.lastSync = now;
    const mode = this.timerMode();
    let fire = false;
    if (mode === TIMER_TSC_DEADLINE) {
      if (this.tscDeadline !== 0n && BigInt(now) + BigInt(Math.trunc(this.tscOffset())) >= this.tscDeadline) {
        this.tscDeadline = 0n;
        fire = true;
      }
    } else if (mode !== 3 && this.initialCount !== 0) {
      const n = this.expiriesUpTo(this.timerTicks(now)) - this.expiriesUpTo(this.timerTicks(last));
      if (mode === TIMER_ONESHOT) {
        if (n > 0 && !this.timerFired) {
          this.timerFired = true;
          fire = true;
        }
      } else if (n > 0) fire = true;
    }
    if (fire) {
      const e = this.lvt[LVT_TIMER];
      if (!(e & LVT_MASKED)) {
        this.timerInterrupts++;
        this.accept(e & 0xff, false);
      }
    }
  }

  /** Guest ns of the next timer interrupt, or null. */
  nextDeadline(): number | null {
    const e = this.lvt[LVT_TIMER];
    if (e & LVT_MASKED || !this.globallyEnabled) return null;
    const mode = this.timerMode();
    if (mode === TIMER_TSC_DEADLINE) {
      if (this.tscDeadline === 0n) return null;
      const t = Number(this.tscDeadline - BigInt(Math.trunc(this.tscOffset())));
      return Math.max(this.lastSync, Math.min(t, Number.MAX_SAFE_INTEGER));
    }
    if (mode === 3 || this.initialCount === 0) return null;
    if (mode === TIMER_ONESHOT && this.timerFired) return null;
    const k = this.expiriesUpTo(this.timerTicks(this.lastSync));
    if (mode === TIMER_ONESHOT && k > 0) return this.lastSync; // due, not yet delivered
    const tick = this.timerBase + k * this.initialCount;
    return this.timerStart + tick * this.timerDiv;
  }

  poll(now: number): void {
    this.sync(Number.isFinite(now) && now > 0 ? Math.floor(now) : 0);
  }

  // ---- register file ----

  /** Read a register by xAPIC offset (no side effects; ESR/EOI etc. have none on read). Undefined for an unimplemented one. */
  private readReg(off: number, now: number): number | undefined {
    switch (off) {
      case APIC_REG.ID: return this.x2apic ? this.id >>> 0 : ((this.id & 0xff) << 24) >>> 0;
      case APIC_REG.VERSION: return LAPIC_VERSION;
      case APIC_REG.TPR: return this.tpr;
      case APIC_REG.APR: return this.apr();
      case APIC_REG.PPR: return this.ppr();
      case APIC_REG.EOI: return 0;
      case APIC_REG.RRD: return 0;
      case APIC_REG.LDR: return this.x2apic ? this.x2Ldr() : this.ldr >>> 0;
      case APIC_REG.DFR: return this.dfr >>> 0;
      case APIC_REG.SVR: return this.svr;
      case APIC_REG.ESR: return this.esr;
      case APIC_REG.ICR_LOW: return this.icrLow >>> 0;
      case APIC_REG.ICR_HIGH: return this.icrHigh >>> 0;
      case APIC_REG.TIMER_INITIAL: return this.initialCount >>> 0;
      case APIC_REG.TIMER_CURRENT: return this.currentCount(now) >>> 0;
      case APIC_REG.TIMER_DIVIDE: return this.dcr;
      default:
        if (off >= APIC_REG.ISR && off < APIC_REG.ISR + 0x80) return this.isr[(off - APIC_REG.ISR) >> 4] >>> 0;
        if (off >= APIC_REG.TMR && off < APIC_REG.TMR + 0x80) return this.tmr[(off - APIC_REG.TMR) >> 4] >>> 0;
        if (off >= APIC_REG.IRR && off < APIC_REG.IRR + 0x80) return this.irr[(off - APIC_REG.IRR) >> 4] >>> 0;
        if (off >= APIC_REG.LVT_TIMER && off <= APIC_REG.LVT_ERROR) return this.lvt[(off - APIC_REG.LVT_TIMER) >> 4] >>> 0;
        return undefined;
    }
  }

  private writeLvt(i: number, v: number, now: number): void {
    this.sync(now);
    let nv = v & LVT_WRITABLE[i];
    if (!this.softwareEnabled) nv |= LVT_MASKED; // masks stay set while software-disabled (§11.4.7.2)
    const old = this.lvt[i];
    this.lvt[i] = (nv | (old & LVT_REMOTE_IRR)) >>> 0;
    if (i === LVT_TIMER) {
      const oldMode = (old >> 17) & 3;
      const newMode = (nv >> 17) & 3;
      if (oldMode !== newMode && (oldMode === TIMER_TSC_DEADLINE || newMode === TIMER_TSC_DEADLINE)) {
        // Switching to or from TSC-deadline mode disarms the timer (SDM vol. 3A §11.5.4.1).
        this.initialCount = 0;
        this.tscDeadline = 0n;
      }
    }
    if (i === LVT_LINT0) {
      if (!(nv & LVT_LEVEL)) this.lvt[i] &= ~LVT_REMOTE_IRR;
      this.serviceLintLevel();
    }
  }

  /** Write by xAPIC offset; `x2` enforces the x2APIC rules and reports #GP. */
  private writeReg(off: number, v: number, now: number, x2: boolean): boolean {
    switch (off) {
      case APIC_REG.ID:
        if (x2) return false;
        this.id = (v >>> 24) & 0xff;
        return true;
      case APIC_REG.TPR:
        if (x2 && v & ~0xff) return false;
        this.tpr = v & 0xff;
        return true;
      case APIC_REG.EOI:
        if (x2 && v !== 0) return false;
        this.eoi();
        return true;
      case APIC_REG.LDR:
        if (x2) return false;
        this.ldr = v & 0xff000000;
        return true;
      case APIC_REG.DFR:
        if (x2) return false;
        this.dfr = (v | 0x0fffffff) >>> 0;
        return true;
      case APIC_REG.SVR: {
        if (x2 && v & ~SVR_WRITABLE) return false;
        this.sync(now);
        this.svr = v & SVR_WRITABLE;
        if (!(this.svr & SVR_ENABLE)) for (let i = 0; i < LVT_COUNT; i++) this.lvt[i] |= LVT_MASKED;
        return true;
      }
      case APIC_REG.ESR:
        if (x2 && v !== 0) return false;
        this.esr = this.esrPending; // a write latches the errors since the last write (§11.5.3)
        this.esrPending = 0;
        return true;
      case APIC_REG.ICR_LOW:
        this.icrLow = v & ICR_WRITABLE;
        this.sendIpi(x2);
        return true;
      case APIC_REG.ICR_HIGH:
        if (x2) return false;
        this.icrHigh = v & 0xff000000;
        return true;
      case APIC_REG.TIMER_INITIAL:
        this.sync(now);
        if (this.timerMode() === TIMER_TSC_DEADLINE) return true; // ignored in TSC-deadline mode
        this.initialCount = v >>> 0;
        this.timerStart = now;
        this.timerBase = this.initialCount;
        this.timerDiv = timerDivisor(this.dcr);
        this.timerFired = false;
        return true;
      case APIC_REG.TIMER_DIVIDE: {
        if (x2 && v & ~0xb) return false;
        this.sync(now);
        const cur = this.currentCount(now);
        this.dcr = v & 0xb;
        if (cur > 0) {
          // Keep counting from the current value at the new rate.
          const elapsed = this.timerTicks(now) - this.timerBase; // < 0 before the first expiry
          this.timerStart = now;
          this.timerBase = cur;
          if (elapsed >= 0 && this.timerMode() === TIMER_PERIODIC) this.timerFired = false;
        }
        this.timerDiv = timerDivisor(this.dcr);
        return true;
      }
      case APIC_REG.SELF_IPI:
        if (!x2 || v & ~0xff) return false;
        if ((v & 0xff) < 16) this.error(ESR.SEND_ILLEGAL_VECTOR);
        else this.accept(v & 0xff, false);
        return true;
      default:
        if (off >= APIC_REG.LVT_TIMER && off <= APIC_REG.LVT_ERROR) {
          this.writeLvt((off - APIC_REG.LVT_TIMER) >> 4, v, now);
          return true;
        }
        return !x2 && this.readReg(off, now) !== undefined; // read-only registers: xAPIC ignores the write
    }
  }

  /** ICR write: SDM vol. 3A §11.6.1. Delivers to this processor when it is a destination. */
  private sendIpi(x2: boolean): void {
    const lo = this.icrLow;
    const vector = lo & 0xff;
    const mode = (lo >> 8) & 7;
    const logical = (lo & 0x800) !== 0;
    const shorthand = (lo >> 18) & 3;
    const dest = x2 ? this.icrHigh >>> 0 : this.icrHigh >>> 24;
    let self = false;
    let others = false;
    switch (shorthand) {
      case 0: {
        self = this.matches(dest, logical, x2);
        const broadcast = x2 ? dest === 0xffffffff : dest === 0xff;
        others = broadcast || !self || logical;
        break;
      }
      case 1: self = true; break;
      case 2: self = others = true; break;
      default: others = true;
    }
    if (others) this.ignoredIpis++;
    if (!self) return;
    if ((mode === DM_FIXED || mode === DM_LOWEST) && vector < 16) {
      this.error(ESR.SEND_ILLEGAL_VECTOR);
      return;
    }
    this.deliverLocal(mode === DM_LOWEST ? DM_FIXED : mode, vector, false);
  }

  // ---- xAPIC MMIO (SDM vol. 3A §11.4.1: 32-bit accesses at 16-byte aligned offsets) ----

  private mmioVisible(): boolean {
    return this.globallyEnabled && !this.x2apic;
  }

  mmioRead(offset: number, size: MmioSize): number {
    if (!this.mmioVisible()) return size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
    const now = this.now();
    this.sync(now);
    const reg = offset & 0xff0;
    const v = this.readReg(reg, now);
    if (v === undefined) {
      this.error(ESR.ILLEGAL_REGISTER);
      return 0;
    }
    return this.extract(v, offset, size);
  }

  mmioPeek(offset: number, size: MmioSize): number {
    if (!this.mmioVisible()) return size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
    const v = this.readReg(offset & 0xff0, this.now());
    return v === undefined ? 0 : this.extract(v, offset, size);
  }

  private extract(v: number, offset: number, size: MmioSize): number {
    const b = offset & 0xf;
    if (b >= 4) return 0; // bytes 4-15 of each 16-byte slot are reserved
    const r = v >>> (8 * b);
    return size === 4 ? r >>> 0 : r & (size === 2 ? 0xffff : 0xff);
  }

  mmioWrite(offset: number, size: MmioSize, value: number): void {
    if (!this.mmioVisible() || size !== 4 || offset & 0xf) return; // only aligned dword writes have a defined effect
    const now = this.now();
    this.sync(now);
    if (offset === APIC_REG.SELF_IPI || (offset !== APIC_REG.EOI && this.readReg(offset, now) === undefined)) {
      this.error(ESR.ILLEGAL_REGISTER);
      return;
    }
    this.writeReg(offset, value >>> 0, now, false);
  }

  // ---- MSRs ----

  /** RDMSR of IA32_APIC_BASE, IA32_TSC_DEADLINE or an x2APIC register; null for an MSR the APIC does not own. */
  readMsr(index: number): MsrRead | null {
    if (index === MSR_IA32_APIC_BASE) return { gp: false, value: BigInt(this.apicBase) };
    const now = this.now();
    if (index === MSR_IA32_TSC_DEADLINE) {
      this.sync(now);
      return { gp: false, value: this.timerMode() === TIMER_TSC_DEADLINE ? this.tscDeadline : 0n };
    }
    if (index < MSR_X2APIC_FIRST || index > MSR_X2APIC_LAST) return null;
    if (!this.x2apic) return GP;
    const off = (index - MSR_X2APIC_FIRST) << 4;
    // Not present in x2APIC mode, or write-only (SDM vol. 3A Table 11-6).
    if (off === APIC_REG.APR || off === APIC_REG.RRD || off === APIC_REG.DFR || off === APIC_REG.ICR_HIGH || off === APIC_REG.EOI
      || off === APIC_REG.SELF_IPI) return GP;
    this.sync(now);
    if (off === APIC_REG.ICR_LOW) return { gp: false, value: (BigInt(this.icrHigh >>> 0) << 32n) | BigInt(this.icrLow >>> 0) };
    const v = this.readReg(off, now);
    return v === undefined ? GP : { gp: false, value: BigInt(v >>> 0) };
  }

  /** WRMSR; null for an MSR the APIC does not own. */
  writeMsr(index: number, value: bigint): MsrWrite | null {
    value = BigInt.asUintN(64, value);
    const now = this.now();
    if (index === MSR_IA32_APIC_BASE) return this.writeApicBase(value) ? OK : GP;
    if (index === MSR_IA32_TSC_DEADLINE) {
      this.sync(now);
      if (this.timerMode() === TIMER_TSC_DEADLINE) this.tscDeadline = value; // ignored in other modes (§11.5.4.1)
      this.sync(now); // a deadline already passed fires at once
      return OK;
    }
    if (index < MSR_X2APIC_FIRST || index > MSR_X2APIC_LAST) return null;
    if (!this.x2apic) return GP;
    const off = (index - MSR_X2APIC_FIRST) << 4;
    this.sync(now);
    if (off === APIC_REG.ICR_LOW) {
      const lo = Number(value & 0xffffffffn);
      this.icrHigh = Number(value >> 32n);
      this.writeReg(off, lo, now, true);
      return OK;
    }
    if (value >> 32n !== 0n) return GP;
    const v = Number(value);
    if (off !== APIC_REG.SELF_IPI && off !== APIC_REG.EOI && this.readReg(off, now) === undefined) return GP;
    return this.writeReg(off, v, now, true) ? OK : GP;
  }

  /** IA32_APIC_BASE (SDM vol. 3A §11.4.4, §11.12.5: valid state transitions, Figure 11-27). */
  private writeApicBase(value: bigint): boolean {
    const reservedMask = ~(BigInt(this.physMask) & ~0xfffn) & ~BigInt(APIC_BASE_BSP | APIC_BASE_EXTD | APIC_BASE_EN) & ((1n << 64n) - 1n);
    if ((value & reservedMask) !== 0n) return false;
    const v = Number(value & 0xfffn);
    const en = (v & APIC_BASE_EN) !== 0;
    const extd = (v & APIC_BASE_EXTD) !== 0;
    if (!en && extd) return false; // invalid state
    if (this.x2apic && en && !extd) return false; // x2APIC → xAPIC directly
    if (!this.globallyEnabled && en && extd) return false; // disabled → x2APIC directly
    const now = this.now();
    this.sync(now);
    const wasEnabled = this.globallyEnabled;
    // The BSP flag is read-only (as the processor's own IA32_APIC_BASE model keeps it).
    this.apicBase = Number(value & ~0xfffn) + (v & (APIC_BASE_EN | APIC_BASE_EXTD)) + (this.bsp ? APIC_BASE_BSP : 0);
    if (wasEnabled && !en) {
      this.resetRegisters(); // disabling resets the APIC to its power-up state (§11.4.3)
      this.id = this.resetId;
    }
    return true;
  }

  /** IA32_APIC_BASE as a number (base | flags). */
  get baseMsr(): number {
    return this.apicBase;
  }

  /** A register view for the debugger. */
  registers(): Record<string, number> {
    const now = this.now();
    const out: Record<string, number> = {};
    for (const [k, off] of Object.entries(APIC_REG)) {
      const v = this.readReg(off, now);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }

  isrVector(): number {
    return highestBit(this.isr);
  }

  irrVector(): number {
    return this.irrTop;
  }

  // ---- snapshots ----

  saveState(): unknown {
    return {
      apicBase: this.apicBase, id: this.id, tpr: this.tpr, ldr: this.ldr >>> 0, dfr: this.dfr >>> 0, svr: this.svr,
      isr: [...this.isr], tmr: [...this.tmr], irr: [...this.irr], esr: this.esr, esrPending: this.esrPending,
      icrLow: this.icrLow >>> 0, icrHigh: this.icrHigh >>> 0, lvt: [...this.lvt], dcr: this.dcr, initialCount: this.initialCount,
      timerStart: this.timerStart, timerBase: this.timerBase, timerDiv: this.timerDiv, timerFired: this.timerFired,
      tscDeadline: this.tscDeadline.toString(), lastSync: this.lastSync, lintLevel: [...this.lintLevel], nmi: this.nmi,
      ignoredIpis: this.ignoredIpis, timerInterrupts: this.timerInterrupts,
    };
  }

  loadState(s: unknown): void {
    const n = this.name;
    const o = asRecord(n, s);
    const MAX = Number.MAX_SAFE_INTEGER;
    const u32 = (k: string) => intField(n, o, k, 0, 0xffffffff);
    const words = (k: string, len: number): number[] => {
      const v = o[k];
      if (!Array.isArray(v) || v.length !== len || !v.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff)) {
        throw new DeviceStateError(n, `state.${k}: expected ${len} 32-bit words`);
      }
      return v as number[];
    };
    const apicBase = intField(n, o, 'apicBase', 0, MAX);
    const vals = {
      id: u32('id'), tpr: intField(n, o, 'tpr', 0, 0xff), ldr: u32('ldr'), dfr: u32('dfr'), svr: intField(n, o, 'svr', 0, SVR_WRITABLE),
      esr: intField(n, o, 'esr', 0, 0xff), esrPending: intField(n, o, 'esrPending', 0, 0xff), icrLow: u32('icrLow'), icrHigh: u32('icrHigh'),
      dcr: intField(n, o, 'dcr', 0, 0xb), initialCount: u32('initialCount'), timerStart: intField(n, o, 'timerStart', 0, MAX),
      timerBase: u32('timerBase'), timerDiv: intField(n, o, 'timerDiv', 1, 128), lastSync: intField(n, o, 'lastSync', 0, MAX),
      ignoredIpis: intField(n, o, 'ignoredIpis', 0, MAX), timerInterrupts: intField(n, o, 'timerInterrupts', 0, MAX),
    };
    const isr = words('isr', 8);
    const tmr = words('tmr', 8);
    const irr = words('irr', 8);
    const lvt = words('lvt', LVT_COUNT);
    const timerFired = boolField(n, o, 'timerFired');
    const nmi = boolField(n, o, 'nmi');
    const ll = o.lintLevel;
    if (!Array.isArray(ll) || ll.length !== 2 || !ll.every((x) => typeof x === 'boolean')) throw new DeviceStateError(n, 'state.lintLevel: expected two booleans');
    let tscDeadline: bigint;
    try {
      if (typeof o.tscDeadline !== 'string' || !/^[0-9]{1,20}$/.test(o.tscDeadline)) throw new Error();
      tscDeadline = BigInt(o.tscDeadline);
      if (tscDeadline >= 1n << 64n) throw new Error();
    } catch {
      throw new DeviceStateError(n, 'state.tscDeadline: expected a decimal 64-bit integer');
    }
    if (apicBase & 0x2ff || (apicBase & APIC_BASE_EXTD && !(apicBase & APIC_BASE_EN))) throw new DeviceStateError(n, 'state.apicBase: invalid IA32_APIC_BASE');
    this.apicBase = apicBase;
    Object.assign(this, vals);
    this.isr.set(isr);
    this.tmr.set(tmr);
    this.irr.set(irr);
    this.irrTop = highestBit(this.irr);
    this.lvt.set(lvt);
    this.timerFired = timerFired;
    this.nmi = nmi;
    this.lintLevel = [ll[0] as boolean, ll[1] as boolean];
    this.tscDeadline = tscDeadline;
  }
}
