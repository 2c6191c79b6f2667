// 8254 PIT: exact guest-time arithmetic (checked against BigInt), Linux/SeaBIOS sequences, modes 0-5, latch, read-back, BCD, port 0x61.
import { describe, expect, it } from 'vitest';
import { Pit8254, pitTicksAt, pitTimeOfTick, PIT_HZ } from '../../emulator/devices/pit8254.js';

/** Reference: the 8254 input clock is 1193182 Hz; tick k occurs at ceil(k * 1e9 / f) ns (BigInt, independent of the model's split arithmetic). */
const refTicks = (t: number): number => Number((BigInt(t) * 1193182n) / 1000000000n);
const refTimeOfTick = (k: number): number => Number((BigInt(k) * 1000000000n + 1193181n) / 1193182n);

function rig(t0 = 0) {
  let now = t0;
  const edges: number[] = [];
  let level = false;
  const pit = new Pit8254({
    clock: () => now,
    setIrq: (l) => {
      if (l && !level) edges.push(now);
      level = l;
    },
  });
  const out = (port: number, v: number) => pit.ioWrite(port, 1, v);
  const inb = (port: number) => pit.ioRead(port, 1);
  const p61 = pit.port61Device;
  return {
    pit, edges, out, inb,
    set: (t: number) => { now = t; },
    get now() { return now; },
    in61: () => p61.ioRead(0x61, 1),
    out61: (v: number) => p61.ioWrite(0x61, 1, v),
    /** Run the loop the machine runs while the guest halts: jump to each deadline and poll, up to `until`. */
    runUntil: (until: number) => {
      for (;;) {
        const d = pit.nextDeadline();
        if (d === null || d > until) break;
        now = Math.max(now, d);
        pit.poll(now);
      }
      now = until;
      pit.poll(now);
    },
  };
}

/** xorshift32 for reproducible random cases. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s;
  };
}

describe('PIT time arithmetic', () => {
  it('ticks and tick times agree with exact BigInt arithmetic over 1e6 random instants up to 2^52 ns', () => {
    const r = rng(7);
    for (let i = 0; i < 1_000_000; i++) {
      const t = (r() * 2 ** 20 + (r() & 0xfffff)) % 2 ** 52;
      const k = refTicks(t);
      if (pitTicksAt(t) !== k) throw new Error(`ticks at ${t}: ${pitTicksAt(t)} != ${k}`);
      if (i % 8 === 0) {
        const tk = refTimeOfTick(k + 1);
        if (pitTimeOfTick(k + 1) !== tk) throw new Error(`time of tick ${k + 1}: ${pitTimeOfTick(k + 1)} != ${tk}`);
        if (refTicks(tk) !== k + 1 || refTicks(tk - 1) !== k) throw new Error('reference inconsistent');
      }
    }
    expect(pitTicksAt(1e9)).toBe(PIT_HZ);
  });
});

describe('8254 as Linux drives it', () => {
  for (const hz of [100, 1000]) {
    it(`mode 2 rate generator at HZ=${hz}: IRQ 0 edges at exactly f/LATCH, no drift over 10 s`, () => {
      const latch = Math.floor((PIT_HZ + hz / 2) / hz); // Linux's PIT_LATCH
      const R = rig(12_345);
      // setup_pit_timer / init_pit_timer: outb_p(0x34, PIT_MODE); LSB; MSB.
      R.out(0x43, 0x34); R.out(0x40, latch & 0xff); R.out(0x40, latch >> 8);
      const loadTick = refTicks(12_345);
      R.runUntil(10e9);
      const expected = Math.floor((refTicks(10e9) - loadTick) / latch);
      // The control word itself raises OUT (initially high in mode 2), then one edge per period.
      expect(R.edges[0]).toBe(12_345);
      expect(R.edges.length).toBe(expected + 1);
      // Every edge at the reference time of tick load + k * latch.
      for (let k = 1; k <= expected; k += Math.max(1, Math.floor(expected / 50))) {
        expect(R.edges[k]).toBe(refTimeOfTick(loadTick + k * latch));
      }
      // One hour in one jump: the edges are counted (the PIC would see one), none lost from the count.
      R.pit.poll(3600e9);
      expect(R.pit.irqEdges).toBe(Math.floor((refTicks(3600e9) - loadTick) / latch));
    });
  }

  it('pit_calibrate_tsc: channel 2 mode 0 one-shot polled through port 0x61 bit 5', () => {
    const R = rig(1000);
    const latch = Math.floor(PIT_HZ / (1000 / 50)); // CAL_MS = 50
    R.out61((R.in61() & ~0x02) | 0x01); // gate high, speaker off
    R.out(0x43, 0xb0); R.out(0x42, latch & 0xff); R.out(0x42, latch >> 8);
    const start = R.now;
    let loops = 0;
    while ((R.in61() & 0x20) === 0) {
      R.set(R.now + 37); // a polling loop iteration of 37 guest ns
      if (++loops > 1e7) throw new Error('OUT never rose');
    }
    const expectedOut = refTimeOfTick(refTicks(start) + latch);
    expect(R.now).toBeGreaterThanOrEqual(expectedOut);
    expect(R.now - expectedOut).toBeLessThan(37);
  });

  it('mode 0 one-shot: counter latch, LSB/MSB reads, read-back status then count, IRQ at terminal count only', () => {
    const R = rig(0);
    R.out(0x43, 0x30); // channel 0, LSB then MSB, mode 0, binary
    // Status before the count is written: OUT low, null count set.
    R.out(0x43, 0xe2);
    expect(R.inb(0x40)).toBe(0x40 | 0x30);
    R.out(0x40, 0xe8); R.out(0x40, 0x03); // 1000
    R.set(refTimeOfTick(400));
    R.out(0x43, 0x00); // latch channel 0
    R.set(refTimeOfTick(500)); // the latch holds the value of tick 400
    expect(R.inb(0x40) | (R.inb(0x40) << 8)).toBe(600);
    // Read-back: count and status of channel 0 at once; status comes first.
    R.out(0x43, 0xc2);
    expect(R.inb(0x40)).toBe(0x30); // OUT low, count loaded, RW=3, mode 0, binary
    expect(R.inb(0x40) | (R.inb(0x40) << 8)).toBe(500);
    // Unlatched reads follow the counter.
    R.set(refTimeOfTick(999));
    expect(R.inb(0x40) | (R.inb(0x40) << 8)).toBe(1);
    expect(R.edges).toEqual([]);
    expect(R.pit.nextDeadline()).toBe(refTimeOfTick(1000));
    R.runUntil(5e9);
    expect(R.edges).toEqual([refTimeOfTick(1000)]);
    R.out(0x43, 0xe2);
    expect(R.inb(0x40) & 0x80).toBe(0x80); // OUT high after terminal count, and it stays high
    // After TC the counter wraps and keeps counting: at tick 1000 + 5 it reads 0x10000 - 5.
    R.set(refTimeOfTick(1005));
    expect(R.inb(0x40) | (R.inb(0x40) << 8)).toBe(0x10000 - 5);
  });

  it('mode 0: writing the first byte stops counting and drops OUT (datasheet "Mode 0")', () => {
    const R = rig(0);
    R.out(0x43, 0x30); R.out(0x40, 10); R.out(0x40, 0);
    R.runUntil(refTimeOfTick(20));
    expect(R.edges.length).toBe(1);
    R.out(0x40, 50);
    R.out(0x43, 0xe2);
    expect(R.inb(0x40) & 0x80).toBe(0); // OUT low again
    R.set(refTimeOfTick(100));
    R.out(0x40, 0); // count 50 from tick 100
    R.runUntil(refTimeOfTick(200));
    expect(R.edges).toEqual([refTimeOfTick(10), refTimeOfTick(150)]);
  });

  it('BCD counting: count 1000 in BCD reads as BCD digits', () => {
    const R = rig(0);
    R.out(0x43, 0x31); R.out(0x40, 0x00); R.out(0x40, 0x10); // BCD 1000
    R.set(refTimeOfTick(5));
    R.out(0x43, 0x00);
    expect(R.inb(0x40) | (R.inb(0x40) << 8)).toBe(0x0995);
    R.runUntil(1e9);
    expect(R.edges).toEqual([refTimeOfTick(1000)]);
    // BCD 0 = 10^4 counts.
    const t0 = 2_000_000;
    R.set(refTimeOfTick(t0));
    R.out(0x43, 0x35); R.out(0x40, 0); R.out(0x40, 0); // mode 2, BCD, 10000
    R.runUntil(refTimeOfTick(t0 + 30000));
    expect(R.edges.slice(1)).toEqual([1, 2, 3].map((k) => refTimeOfTick(t0 + k * 10000)));
  });

  it('mode 3 square wave: OUT high (N+1)/2 clocks and low (N-1)/2 for odd N; counter steps by 2', () => {
    const R = rig(0);
    R.out61(0x01); // channel 2 gate high
    R.out(0x43, 0xb6); R.out(0x42, 5); R.out(0x42, 0); // channel 2, mode 3, N = 5
    const outs: number[] = [];
    for (let k = 0; k < 10; k++) {
      R.set(refTimeOfTick(k));
      outs.push((R.in61() >> 5) & 1);
    }
    expect(outs).toEqual([1, 1, 1, 0, 0, 1, 1, 1, 0, 0]);
    // Even N = 6: three high, three low; counts 6, 4, 2 in each half.
    R.set(refTimeOfTick(100));
    R.out(0x43, 0xb6); R.out(0x42, 6); R.out(0x42, 0);
    const counts: number[] = [];
    for (let k = 0; k < 6; k++) {
      R.set(refTimeOfTick(100 + k));
      R.out(0x43, 0x80);
      counts.push(R.inb(0x42) | (R.inb(0x42) << 8));
    }
    expect(counts).toEqual([6, 4, 2, 6, 4, 2]);
  });

  it('modes 1 and 5 wait for a gate trigger; mode 4 strobes one clock after terminal count', () => {
    const R = rig(0);
    R.out61(0x00);
    R.out(0x43, 0xb2); R.out(0x42, 20); R.out(0x42, 0); // channel 2, mode 1
    R.set(refTimeOfTick(50));
    expect(R.in61() & 0x20).toBe(0x20); // OUT high until triggered
    R.out61(0x01); // rising gate: trigger
    R.set(refTimeOfTick(60));
    expect(R.in61() & 0x20).toBe(0); // one-shot pulse low
    R.set(refTimeOfTick(70));
    expect(R.in61() & 0x20).toBe(0x20);
    // Mode 4 on channel 0: OUT low for exactly the clock at count 0, so IRQ 0 rises at N + 1.
    const cw = R.now;
    R.out(0x43, 0x38); R.out(0x40, 100); R.out(0x40, 0);
    const load = refTicks(R.now);
    R.runUntil(R.now + 1e6);
    expect(R.edges).toEqual([cw, refTimeOfTick(load + 101)]); // the control word raises OUT (mode 4 starts high)
  });

  it('gate low suspends mode 0 counting on channel 2 and resumes it', () => {
    const R = rig(0);
    R.out61(0x01);
    R.out(0x43, 0xb0); R.out(0x42, 100); R.out(0x42, 0);
    R.set(refTimeOfTick(30));
    R.out61(0x00);
    R.set(refTimeOfTick(500));
    R.out(0x43, 0x80);
    expect([R.inb(0x42), R.inb(0x42)]).toEqual([70, 0]);
    R.out61(0x01);
    R.set(refTimeOfTick(560));
    R.out(0x43, 0x80);
    expect([R.inb(0x42), R.inb(0x42)]).toEqual([10, 0]);
  });

  it('port 0x61: bits 0-3 read back, refresh toggles every 15.085 µs of guest time, bits 6-7 clear', () => {
    const R = rig(0);
    R.out61(0xff);
    expect(R.in61() & 0xcf).toBe(0x0f);
    const seen = new Set<number>();
    for (let k = 0; k < 4; k++) {
      R.set(refTimeOfTick(18 * k));
      seen.add(R.in61() & 0x10);
    }
    expect([...seen].sort()).toEqual([0, 0x10]);
    R.set(refTimeOfTick(18 * 5 + 3));
    const a = R.in61() & 0x10;
    expect(R.in61() & 0x10).toBe(a); // reading does not toggle it
  });

  it('is deterministic and snapshots restore the exact schedule', () => {
    const script = (R: ReturnType<typeof rig>) => {
      R.out(0x43, 0x34); R.out(0x40, 0x9c); R.out(0x40, 0x2e);
      R.runUntil(3e7);
    };
    const a = rig(777); script(a);
    const b = rig(777); script(b);
    expect(a.edges).toEqual(b.edges);
    const snap = JSON.parse(JSON.stringify(a.pit.saveState()));
    a.runUntil(6e7);
    const c = rig(0);
    c.set(3e7);
    c.pit.loadState(snap);
    c.runUntil(6e7);
    expect(c.edges).toEqual(a.edges.slice(b.edges.length));
    expect(() => c.pit.loadState({ channels: [] })).toThrow(/pit/);
  });
});
