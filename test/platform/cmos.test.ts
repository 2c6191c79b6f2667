// MC146818 RTC/CMOS: time over guest time, formats, UIP, update/alarm/periodic interrupts, memory bytes (against QEMU's formulas).
import { describe, expect, it } from 'vitest';
import { Cmos, RTC_DEFAULT_BASE } from '../../emulator/devices/cmos.js';

function rtc(base?: number, memorySize = 32 << 20) {
  let now = 0;
  const irq: [number, boolean][] = [];
  const c = new Cmos({ clock: () => now, memorySize, rtcBase: base, setIrq: (l) => irq.push([now, l]) });
  const read = (reg: number) => { c.ioWrite(0x70, 1, reg); return c.ioRead(0x71, 1); };
  const write = (reg: number, v: number) => { c.ioWrite(0x70, 1, reg); c.ioWrite(0x71, 1, v); };
  const run = (until: number) => {
    for (;;) {
      const d = c.nextDeadline();
      if (d === null || d > until) break;
      now = Math.max(now, d);
      c.poll(now);
      if (c.irqLine()) read(0x0c); // an interrupt handler acknowledges by reading register C
    }
    now = until;
    c.poll(now);
  };
  return { c, read, write, irq, run, set: (t: number) => { now = t; }, get now() { return now; } };
}

/** Expected register bytes of an instant, from the host's Date in UTC (an independent calendar). */
function fields(epochSeconds: number) {
  const d = new Date(epochSeconds * 1000);
  return { s: d.getUTCSeconds(), m: d.getUTCMinutes(), h: d.getUTCHours(), dow: d.getUTCDay() + 1, day: d.getUTCDate(), mon: d.getUTCMonth() + 1, y: d.getUTCFullYear() };
}
const bcd = (v: number) => parseInt(String(v), 16);

describe('MC146818 RTC', () => {
  it('starts at 2000-01-01 00:00:00 (a Saturday) in BCD 24-hour mode and advances one second per 1e9 guest ns', () => {
    const R = rtc();
    expect([0, 2, 4, 6, 7, 8, 9, 0x32].map(R.read)).toEqual([0, 0, 0, 7, 1, 1, 0, 0x20]);
    R.set(999_999_999);
    expect(R.read(0)).toBe(0);
    R.set(1e9);
    expect(R.read(0)).toBe(1);
    // 100 000 s later: 1 day, 3 h, 46 min, 40 s.
    R.set(100_000e9 + 5);
    const f = fields(RTC_DEFAULT_BASE + 100_000);
    expect([R.read(0), R.read(2), R.read(4), R.read(6), R.read(7)]).toEqual([bcd(f.s), bcd(f.m), bcd(f.h), f.dow, bcd(f.day)]);
  });

  it('formats: binary, 12-hour with PM bit, the register values of a chosen base time', () => {
    const base = Date.UTC(2023, 11, 31, 23, 59, 58) / 1000; // 2023-12-31 23:59:58, a Sunday
    const R = rtc(base);
    R.write(0x0b, 0x06); // binary, 24 h
    expect([0, 2, 4, 6, 7, 8, 9, 0x32].map(R.read)).toEqual([58, 59, 23, 1, 31, 12, 23, 20]);
    R.write(0x0b, 0x04); // binary, 12 h
    expect(R.read(4)).toBe(0x80 | 11);
    R.write(0x0b, 0x00); // BCD, 12 h
    expect(R.read(4)).toBe(0x80 | 0x11);
    R.set(2e9); // rolls over to 2024-01-01 00:00:00, 12 AM
    expect([R.read(0), R.read(4), R.read(7), R.read(8), R.read(9), R.read(6)]).toEqual([0, 0x12, 1, 1, 0x24, 2]);
  });

  it('SET freezes the clock and lets the guest set the time; clearing it resumes from there; SET clears UIE', () => {
    const R = rtc();
    R.write(0x0b, 0x82 | 0x10);
    expect(R.read(0x0b)).toBe(0x82);
    R.write(9, 0x38); R.write(8, 0x01); R.write(7, 0x19); R.write(4, 0x03); R.write(2, 0x14); R.write(0, 0x07);
    R.set(5e9);
    expect(R.read(0)).toBe(0x07); // frozen
    R.write(0x0b, 0x02);
    R.set(5e9 + 3e9);
    // 2038-01-19 03:14:10; the weekday register was not written: it keeps counting on its own.
    expect([R.read(0), R.read(2), R.read(4), R.read(7), R.read(8), R.read(9)]).toEqual([0x10, 0x14, 0x03, 0x19, 0x01, 0x38]);
    expect(R.c.time()).toBe(Date.UTC(2038, 0, 19, 3, 14, 10) / 1000);
  });

  it('UIP is set in the 244 µs before an update and during the 1984 µs update cycle, never otherwise', () => {
    const R = rtc();
    const uipAt = (t: number) => { R.set(t); return (R.read(0x0a) & 0x80) !== 0; };
    expect(uipAt(500_000_000)).toBe(false);
    expect(uipAt(1e9 - 244_001)).toBe(false);
    expect(uipAt(1e9 - 244_000)).toBe(true);
    expect(uipAt(1e9 + 1_983_999)).toBe(true);
    expect(uipAt(1e9 + 1_984_000)).toBe(false);
    // Linux's mc146818_get_time: wait for UIP clear, then read: the seconds are consistent.
    R.set(7e9 - 100_000);
    while (R.read(0x0a) & 0x80) R.set(R.now + 1000);
    expect(R.read(0)).toBe(7);
  });

  it('update-ended interrupts once per second on IRQ 8; register C reads and clears the flags', () => {
    const R = rtc();
    R.write(0x0a, 0x20); // no periodic rate: PF stays clear (it is set at the rate even without PIE)
    R.write(0x0b, 0x12); // UIE
    R.run(5.5e9);
    const rises = R.irq.filter(([, l]) => l).map(([t]) => t);
    expect(rises).toEqual([1e9, 2e9, 3e9, 4e9, 5e9]);
    expect(R.read(0x0c)).toBe(0);
    R.write(0x0b, 0x02);
    R.set(7e9);
    expect(R.read(0x0c)).toBe(0x10); // UF without UIE: flag only, no IRQF
    expect(R.read(0x0c)).toBe(0);
  });

  it('periodic interrupt at the rate RS selects (RS=6: 1024 Hz, RS=15: 2 Hz), exact in guest time', () => {
    const R = rtc();
    R.write(0x0a, 0x26);
    R.write(0x0b, 0x42); // PIE
    R.run(1e9);
    const rises = R.irq.filter(([, l]) => l).map(([t]) => t);
    expect(rises.length).toBe(1024);
    expect(rises[0]).toBe(Math.ceil(1e9 / 1024));
    expect(rises[511]).toBe(5e8);
    R.write(0x0a, 0x2f);
    R.irq.length = 0;
    R.run(4e9);
    expect(R.irq.filter(([, l]) => l).map(([t]) => t)).toEqual([1.5e9, 2e9, 2.5e9, 3e9, 3.5e9, 4e9]);
  });

  it('alarm interrupt with don\'t-care bytes; divider reset puts the first update 500 ms after release', () => {
    const R = rtc();
    R.write(1, 0x05); R.write(3, 0xc0); R.write(5, 0xff); // every minute at :05
    R.write(0x0b, 0x22); // AIE
    R.run(130e9);
    expect(R.irq.filter(([, l]) => l).map(([t]) => t)).toEqual([5e9, 65e9, 125e9]);
    R.write(0x0b, 0x02);
    R.write(0x0a, 0x76); // divider in reset
    const frozen = R.read(0);
    R.set(140e9);
    expect(R.read(0)).toBe(frozen);
    R.write(0x0a, 0x26);
    R.set(140e9 + 499_999_999);
    expect(R.read(0)).toBe(frozen);
    R.set(140e9 + 500_000_000);
    expect(R.read(0)).toBe(frozen + 1);
  });

  it('memory-size bytes follow QEMU pc_cmos_init for 32 MiB, 100 MiB, 4 GiB + 512 MiB; NVRAM and NMI bit', () => {
    const cases: [number, number[]][] = [
      // size, [0x15,0x16,0x17,0x18,0x30,0x31,0x34,0x35,0x5b,0x5c,0x5d]
      [32 << 20, [0x80, 0x02, 0x00, 0x7c, 0x00, 0x7c, 0x00, 0x01, 0, 0, 0]],
      [100 << 20, [0x80, 0x02, 0xff, 0xff, 0xff, 0xff, 0x40, 0x05, 0, 0, 0]],
      [4608 * 1024 * 1024, [0x80, 0x02, 0xff, 0xff, 0xff, 0xff, 0x00, 0xbf, 0x00, 0x60, 0x00]],
    ];
    for (const [size, bytes] of cases) {
      const R = rtc(undefined, size);
      expect([0x15, 0x16, 0x17, 0x18, 0x30, 0x31, 0x34, 0x35, 0x5b, 0x5c, 0x5d].map(R.read)).toEqual(bytes);
    }
    const R = rtc();
    R.c.ioWrite(0x70, 1, 0x80 | 0x50);
    expect(R.c.nmiMasked).toBe(true);
    R.c.ioWrite(0x71, 1, 0x99);
    expect(R.read(0x50)).toBe(0x99);
    expect(R.c.nmiMasked).toBe(false);
    expect(R.read(0x0d)).toBe(0x80);
    expect(R.c.ioRead(0x70, 1)).toBe(0xff);
  });

  it('peek has no side effects; snapshots round-trip; malformed ones are rejected', () => {
    const R = rtc();
    R.write(0x0a, 0x20);
    R.write(0x0b, 0x12);
    R.set(3e9);
    R.c.ioWrite(0x70, 1, 0x0c);
    expect(R.c.ioPeek(0x71, 1)).toBe(0x90);
    expect(R.c.ioPeek(0x71, 1)).toBe(0x90);
    const snap = JSON.parse(JSON.stringify(R.c.saveState()));
    const S = rtc();
    S.set(3e9);
    S.c.loadState(snap);
    expect(S.c.saveState()).toEqual(R.c.saveState());
    expect(() => S.c.loadState({ ...snap, ram: [1, 2] })).toThrow(/cmos/);
    expect(() => new Cmos({ clock: () => 0, memorySize: 0, rtcBase: -5 })).toThrow(/rtcBase/);
  });
});
