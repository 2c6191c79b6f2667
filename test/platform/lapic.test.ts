// Local APIC and I/O APIC: registers, priorities, EOI, timer modes, x2APIC MSR rules and APIC_BASE transitions (SDM vol. 3A ch. 11), level routing.
import { describe, expect, it } from 'vitest';
import { IoApic } from '../../emulator/devices/ioapic.js';
import { Lapic, LAPIC_VERSION } from '../../emulator/devices/lapic.js';

function apic(opts: { extInt?: { intr(): boolean; acknowledge(): number } } = {}) {
  let now = 0;
  const eois: number[] = [];
  const l = new Lapic({ clock: () => now, onEoi: (v) => eois.push(v), extInt: opts.extInt });
  const rd = (off: number) => l.mmioRead(off, 4);
  const wr = (off: number, v: number) => l.mmioWrite(off, 4, v);
  const irrBit = (v: number) => (rd(0x200 + ((v >> 5) << 4)) >>> (v & 31)) & 1;
  const isrBit = (v: number) => (rd(0x100 + ((v >> 5) << 4)) >>> (v & 31)) & 1;
  return { l, rd, wr, eois, irrBit, isrBit, set: (t: number) => { now = t; }, get now() { return now; } };
}

/** Deliver a fixed edge interrupt through the self-IPI path (ICR: shorthand self, fixed). */
const selfIpi = (A: ReturnType<typeof apic>, v: number) => A.wr(0x300, 0x40000 | v);

describe('local APIC registers and priorities', () => {
  it('power-up values (SDM §11.4.7.1, Table 11-1)', () => {
    const A = apic();
    expect(A.rd(0x30)).toBe(LAPIC_VERSION);
    expect(A.rd(0x20)).toBe(0);
    expect(A.rd(0xf0)).toBe(0xff);
    expect(A.rd(0xe0)).toBe(0xffffffff);
    expect([0x320, 0x330, 0x340, 0x360, 0x370].map(A.rd)).toEqual([0x10000, 0x10000, 0x10000, 0x10000, 0x10000]);
    expect(A.rd(0x350)).toBe(0x700); // LINT0 ExtINT on the BSP (virtual wire)
    expect(A.l.readMsr(0x1b)).toEqual({ gp: false, value: 0xfee00900n });
  });

  it('software-disabled: fixed interrupts are not accepted and LVT masks cannot be cleared', () => {
    const A = apic();
    selfIpi(A, 0x40);
    expect(A.irrBit(0x40)).toBe(0);
    A.wr(0x320, 0x30);
    expect(A.rd(0x320)).toBe(0x10030);
    A.wr(0xf0, 0x1ff);
    A.wr(0x320, 0x30);
    expect(A.rd(0x320)).toBe(0x30);
    A.wr(0xf0, 0x0ff); // disabling sets every mask
    expect(A.rd(0x320) & 0x10000).toBe(0x10000);
    expect(A.l.acknowledge()).toBe(0xff); // nothing pending: the spurious vector
  });

  it('PPR = max(TPR, ISRV class); an IRR vector is deliverable only above PPR[7:4] (SDM §11.8.3)', () => {
    const A = apic();
    A.wr(0xf0, 0x1ff);
    selfIpi(A, 0x31);
    A.wr(0x80, 0x30);
    expect(A.rd(0xa0)).toBe(0x30);
    expect(A.l.hasInterrupt()).toBe(false);
    A.wr(0x80, 0x2f);
    expect(A.l.hasInterrupt()).toBe(true);
    expect(A.l.acknowledge()).toBe(0x31);
    expect(A.rd(0xa0)).toBe(0x30); // ISRV 0x31 > TPR 0x2f → PPR = 0x30
    selfIpi(A, 0x3f); // same class: blocked
    expect(A.l.hasInterrupt()).toBe(false);
    selfIpi(A, 0x41);
    expect(A.l.acknowledge()).toBe(0x41);
    expect(A.isrBit(0x31) && A.isrBit(0x41)).toBe(1);
    A.wr(0xb0, 0); // EOI clears the highest in-service vector
    expect([A.isrBit(0x41), A.isrBit(0x31)]).toEqual([0, 1]);
    A.wr(0xb0, 0);
    expect(A.l.acknowledge()).toBe(0x3f);
    expect(A.eois).toEqual([]); // edge vectors: no EOI broadcast
  });

  it('illegal vectors set ESR bits visible after an ESR write (SDM §11.5.3); LVT error delivers', () => {
    const A = apic();
    A.wr(0xf0, 0x1ff);
    A.wr(0x370, 0xe0);
    selfIpi(A, 0x05);
    expect(A.rd(0x280)).toBe(0);
    A.wr(0x280, 0);
    expect(A.rd(0x280)).toBe(0x20);
    expect(A.irrBit(0xe0)).toBe(1);
    A.wr(0x280, 0);
    expect(A.rd(0x280)).toBe(0);
  });

  it('IPIs: self, all-including-self, physical destination = own ID delivered; others ignored and counted', () => {
    const A = apic();
    A.wr(0xf0, 0x1ff);
    A.wr(0x300, 0x80000 | 0x50); // all including self
    expect(A.irrBit(0x50)).toBe(1);
    A.wr(0x310, 0 << 24);
    A.wr(0x300, 0x51); // physical, dest 0 = us
    expect(A.irrBit(0x51)).toBe(1);
    A.wr(0x310, 3 << 24);
    A.wr(0x300, 0x52); // another APIC
    A.wr(0x300, 0xc0000 | 0x53); // all excluding self
    A.wr(0x300, 0xc4500); // INIT to all others
    expect([A.irrBit(0x52), A.irrBit(0x53)]).toEqual([0, 0]);
    expect(A.l.ignoredIpis).toBe(4); // "all including self" also addressed the others
    A.wr(0x300, 0x40000 | 0x400); // NMI to self
    expect(A.l.nmiPending()).toBe(true);
  });
});

describe('local APIC timer', () => {
  it('one-shot: current count falls at bus/divisor, one interrupt at initial*divisor ns', () => {
    const A = apic();
    A.wr(0xf0, 0x1ff);
    A.wr(0x3e0, 0x3); // divide by 16
    A.wr(0x320, 0x40);
    A.set(1000);
    A.wr(0x380, 1000);
    A.set(1000 + 16 * 250 + 15);
    expect(A.rd(0x390)).toBe(750);
    expect(A.l.nextDeadline()).toBe(1000 + 16000);
    A.set(17000);
    A.l.poll(17000);
    expect(A.irrBit(0x40)).toBe(1);
    expect(A.rd(0x390)).toBe(0);
    expect(A.l.nextDeadline()).toBeNull();
  });

  it('periodic: reloads and interrupts every initial*divisor ns; a masked expiry is not delivered later', () => {
    const A = apic();
    A.wr(0xf0, 0x1ff);
    A.wr(0x3e0, 0xb); // divide by 1
    A.wr(0x320, 0x20041);
    A.wr(0x380, 500);
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const d = A.l.nextDeadline()!;
      A.set(d);
      A.l.poll(d);
      expect(A.l.acknowledge()).toBe(0x41);
      A.wr(0xb0, 0);
      times.push(d);
    }
    expect(times).toEqual([500, 1000, 1500, 2000, 2500]);
    expect(A.rd(0x390)).toBe(500);
    A.set(2600);
    A.wr(0x320, 0x30041); // masked
    A.set(5000);
    A.wr(0x320, 0x20041); // unmasked again: the expiries while masked are gone
    expect(A.irrBit(0x41)).toBe(0);
    expect(A.l.nextDeadline()).toBe(5500);
  });

  it('TSC-deadline mode: fires when the TSC reaches IA32_TSC_DEADLINE, then the MSR reads 0; mode switches disarm', () => {
    const A = apic();
    A.wr(0xf0, 0x1ff);
    A.wr(0x380, 100);
    A.wr(0x320, 0x40000 | 0x42); // TSC-deadline: the count-down timer is disarmed
    expect(A.rd(0x380)).toBe(0);
    A.wr(0x380, 100); // ignored in this mode
    expect(A.rd(0x380)).toBe(0);
    A.set(10_000);
    expect(A.l.writeMsr(0x6e0, 25_000n)).toEqual({ gp: false });
    expect(A.l.readMsr(0x6e0)).toEqual({ gp: false, value: 25_000n });
    expect(A.l.nextDeadline()).toBe(25_000);
    A.set(24_999);
    A.l.poll(24_999);
    expect(A.irrBit(0x42)).toBe(0);
    A.set(25_000);
    A.l.poll(25_000);
    expect(A.irrBit(0x42)).toBe(1);
    expect(A.l.readMsr(0x6e0)).toEqual({ gp: false, value: 0n });
    // A deadline in the past fires at once; writing 0 disarms.
    A.l.writeMsr(0x6e0, 1n);
    expect(A.l.timerInterrupts).toBe(2);
    A.l.writeMsr(0x6e0, 90_000n);
    A.wr(0x320, 0x42); // back to one-shot: disarmed
    A.wr(0x320, 0x40000 | 0x42);
    expect(A.l.readMsr(0x6e0)).toEqual({ gp: false, value: 0n });
    expect(A.l.nextDeadline()).toBeNull();
  });
});

describe('x2APIC and IA32_APIC_BASE (SDM §11.12)', () => {
  it('MSR access only in x2APIC mode; register rules: RO, WO, absent registers and reserved bits raise #GP', () => {
    const A = apic();
    expect(A.l.readMsr(0x802)).toEqual({ gp: true });
    expect(A.l.writeMsr(0x1b, 0xfee00c00n)).toEqual({ gp: false }); // xAPIC → x2APIC
    expect(A.l.x2apic).toBe(true);
    expect(A.rd(0x30)).toBe(0xffffffff); // the MMIO page is gone
    expect(A.l.readMsr(0x803)).toEqual({ gp: false, value: BigInt(LAPIC_VERSION) });
    expect(A.l.readMsr(0x80d)).toEqual({ gp: false, value: 1n }); // LDR = cluster 0, bit (id & 15)
    for (const msr of [0x809, 0x80c, 0x80e, 0x831, 0x80b, 0x83f, 0x82f, 0x8ff]) expect(A.l.readMsr(msr)).toEqual({ gp: true });
    expect(A.l.writeMsr(0x80f, 0x1ffn)).toEqual({ gp: false });
    expect(A.l.writeMsr(0x80b, 1n)).toEqual({ gp: true }); // EOI must be 0
    expect(A.l.writeMsr(0x828, 1n)).toEqual({ gp: true }); // ESR must be 0
    expect(A.l.writeMsr(0x802, 5n)).toEqual({ gp: true }); // ID is read-only
    expect(A.l.writeMsr(0x808, 0x100n)).toEqual({ gp: true }); // TPR reserved bits
    expect(A.l.writeMsr(0x808, 1n << 32n)).toEqual({ gp: true });
    expect(A.l.writeMsr(0x83f, 0x45n)).toEqual({ gp: false }); // SELF IPI
    expect(A.l.hasInterrupt()).toBe(true);
    expect(A.l.acknowledge()).toBe(0x45);
    expect(A.l.writeMsr(0x80b, 0n)).toEqual({ gp: false });
    // ICR is one 64-bit MSR: destination in bits 63:32.
    expect(A.l.writeMsr(0x830, (0n << 32n) | 0x46n)).toEqual({ gp: false });
    expect(A.l.readMsr(0x830)).toEqual({ gp: false, value: 0x46n });
    expect(A.l.acknowledge()).toBe(0x46);
    expect(A.l.writeMsr(0x830, (7n << 32n) | 0x47n)).toEqual({ gp: false }); // another processor
    expect(A.l.hasInterrupt()).toBe(false);
  });

  it('APIC_BASE transitions: x2APIC→xAPIC and disabled→x2APIC are invalid; reserved bits fault; disabling resets', () => {
    const A = apic();
    expect(A.l.writeMsr(0x1b, 0xfee00400n)).toEqual({ gp: true }); // EXTD without EN
    expect(A.l.writeMsr(0x1b, 0xfee00901n)).toEqual({ gp: true }); // reserved bit 0
    expect(A.l.writeMsr(0x1b, (1n << 40n) | 0x900n)).toEqual({ gp: true }); // above MAXPHYADDR
    A.wr(0xf0, 0x1ff);
    A.wr(0x80, 0x20);
    expect(A.l.writeMsr(0x1b, 0xfee00c00n)).toEqual({ gp: false });
    expect(A.l.writeMsr(0x1b, 0xfee00800n)).toEqual({ gp: true }); // x2APIC → xAPIC
    expect(A.l.writeMsr(0x1b, 0xfee00000n)).toEqual({ gp: false }); // → disabled
    expect(A.l.readMsr(0x1b)).toEqual({ gp: false, value: 0xfee00100n });
    expect(A.l.writeMsr(0x1b, 0xfee00c00n)).toEqual({ gp: true }); // disabled → x2APIC
    expect(A.l.writeMsr(0x1b, 0xfee00800n)).toEqual({ gp: false });
    expect([A.rd(0x80), A.rd(0xf0)]).toEqual([0, 0xff]); // power-up state again
  });
});

describe('LINT0 and the I/O APIC', () => {
  it('LINT0 ExtINT: the PIC supplies the vector; fixed APIC interrupts go first', () => {
    let picIntr = true;
    const A = apic({ extInt: { intr: () => picIntr, acknowledge: () => { picIntr = false; return 0x08; } } });
    expect(A.l.hasInterrupt()).toBe(true); // virtual wire works before the APIC is software-enabled
    A.wr(0xf0, 0x1ff);
    selfIpi(A, 0x90);
    expect(A.l.acknowledge()).toBe(0x90);
    expect(A.l.acknowledge()).toBe(0x08);
    expect(A.l.hasInterrupt()).toBe(false);
    picIntr = true;
    A.wr(0x350, 0x10700); // LINT0 masked
    expect(A.l.hasInterrupt()).toBe(false);
  });

  it('level-triggered I/O APIC line: remote IRR until EOI, redelivered while asserted, dropped when deasserted', () => {
    let now = 0;
    const io: { a: IoApic | null } = { a: null };
    const l = new Lapic({ clock: () => now, onEoi: (v) => io.a!.eoi(v) });
    const ioapic = new IoApic((m) => l.receive(m));
    io.a = ioapic;
    l.mmioWrite(0xf0, 4, 0x1ff);
    const sel = (i: number, v?: number) => {
      ioapic.mmioWrite(0, 1, i);
      if (v !== undefined) ioapic.mmioWrite(0x10, 4, v);
      return ioapic.mmioRead(0x10, 4);
    };
    expect(sel(0x01)).toBe(0x00170011);
    expect(sel(0x10 + 2 * 10)).toBe(0x10000); // masked at reset
    sel(0x11 + 2 * 10, 0x00000000);
    sel(0x10 + 2 * 10, 0x8000 | 0x61); // level, fixed, physical dest 0, unmasked
    ioapic.setIrq(10, true);
    expect(sel(0x10 + 2 * 10) & 0x4000).toBe(0x4000); // remote IRR
    expect(l.acknowledge()).toBe(0x61);
    expect((l.mmioRead(0x180 + 0x30, 4) >>> 1) & 1).toBe(1); // TMR bit of 0x61
    l.mmioWrite(0xb0, 4, 0); // EOI → broadcast → redelivered (line still high)
    expect(ioapic.deliveries).toBe(2);
    expect(l.acknowledge()).toBe(0x61);
    ioapic.setIrq(10, false);
    l.mmioWrite(0xb0, 4, 0);
    expect(sel(0x10 + 2 * 10) & 0x4000).toBe(0);
    expect(ioapic.deliveries).toBe(2);
    expect(l.hasInterrupt()).toBe(false);
    // Edge entry: one delivery per rising edge; masked edges are lost; active-low polarity inverts the wire.
    sel(0x10 + 2 * 4, 0x51);
    ioapic.setIrq(4, true);
    ioapic.setIrq(4, true);
    expect(ioapic.deliveries).toBe(3);
    ioapic.setIrq(4, false);
    sel(0x10 + 2 * 4, 0x10051);
    ioapic.setIrq(4, true);
    sel(0x10 + 2 * 4, 0x51);
    expect(ioapic.deliveries).toBe(3);
    sel(0x10 + 2 * 5, 0x2000 | 0x8000 | 0x52); // level, active low: idle low wire = asserted
    expect(ioapic.deliveries).toBe(4);
    // Destination mismatch: nothing reaches this APIC.
    sel(0x11 + 2 * 6, 0x05000000);
    sel(0x10 + 2 * 6, 0x53);
    ioapic.setIrq(6, true);
    expect((l.mmioRead(0x200 + 0x20, 4) >>> 0x13) & 1).toBe(0);
    expect(sel(0x11 + 2 * 6)).toBe(0x05000000);
    sel(0x11 + 2 * 6, 0xffffffff);
    expect(sel(0x11 + 2 * 6)).toBe(0xff000000); // bits 55:32 reserved
  });
});
