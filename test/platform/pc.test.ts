// The wired PC platform: virtual wire and I/O APIC interrupt paths, LAPIC timer calibration against the PIT, fw_cfg, describe, determinism, snapshots.
import { describe, expect, it } from 'vitest';
import { IoBus } from '../../emulator/devices/bus.js';
import { createPcPlatform, type PcPlatform } from '../../emulator/devices/pc.js';
import { createPlatformDevices } from '../../emulator/devices/platform.js';
import { PIT_HZ } from '../../emulator/devices/pit8254.js';

const refTimeOfTick = (k: number): number => Number((BigInt(k) * 1000000000n + 1193181n) / 1193182n);
const refTicks = (t: number): number => Number((BigInt(t) * 1193182n) / 1000000000n);

function machine(memMiB = 64) {
  const bus = new IoBus();
  let now = 0;
  let resets = 0;
  const pc = createPcPlatform(bus, { clock: () => now, memorySize: memMiB << 20, control: { requestReset: () => resets++ } });
  createPlatformDevices(bus, ['debugcon', 'debug-exit', 'uart'], { console: () => {}, control: { requestExit: () => {} }, setIrq: (i, l) => pc.setIrq(i, l), clock: () => now });
  const outb = (p: number, v: number) => bus.ioWrite(p, 1, v);
  const inb = (p: number) => bus.ioRead(p, 1);
  return {
    bus, pc, outb, inb,
    get resets() { return resets; },
    get now() { return now; },
    set: (t: number) => { now = t; },
    /**
     * A halted guest with IF=1: advance to each deadline, poll, take every pending interrupt and call
     * `handler(vector)` (which must EOI), until `until`.
     */
    runHalted: (until: number, handler: (vector: number, t: number) => void) => {
      for (;;) {
        while (pc.interrupts.pending()) handler(pc.interrupts.acknowledge(), now);
        const d = pc.nextDeadline();
        if (d === null || d > until) break;
        now = Math.max(now, d);
        pc.poll(now);
      }
      now = until;
    },
  };
}

/** Linux init_8259A with vector bases 0x30/0x38 and every line but the cascade masked. */
function initPic(M: ReturnType<typeof machine>, base = 0x30, mask = 0xfb): void {
  M.outb(0x20, 0x11); M.outb(0x21, base); M.outb(0x21, 0x04); M.outb(0x21, 0x01);
  M.outb(0xa0, 0x11); M.outb(0xa1, base + 8); M.outb(0xa1, 0x02); M.outb(0xa1, 0x01);
  M.outb(0x21, mask); M.outb(0xa1, 0xff);
}
const startPit = (M: ReturnType<typeof machine>, latch: number) => { M.outb(0x43, 0x34); M.outb(0x40, latch & 0xff); M.outb(0x40, latch >> 8); };
const apicW = (M: ReturnType<typeof machine>, off: number, v: number) => M.bus.mmioWrite(0xfee00000 + off, 4, v);
const apicR = (M: ReturnType<typeof machine>, off: number) => M.bus.mmioRead(0xfee00000 + off, 4);
const ioapicW = (M: ReturnType<typeof machine>, reg: number, v: number) => { M.bus.mmioWrite(0xfec00000, 1, reg); M.bus.mmioWrite(0xfec00010, 4, v); };

describe('PC platform wiring', () => {
  it('virtual wire: PIT → PIC IRQ 0 → LAPIC LINT0 (ExtINT) → vector base+0 at every PIT period', () => {
    const M = machine();
    initPic(M, 0x30, 0xfa);
    M.set(5000);
    startPit(M, 11932);
    const load = refTicks(5000);
    const got: [number, number][] = [];
    M.runHalted(0.1e9, (v, t) => { got.push([v, t]); M.outb(0x20, 0x20); });
    // The control word raises OUT at once (first request); then one per period at the 8254's exact tick times.
    expect(got[0]).toEqual([0x30, 5000]);
    expect(got.slice(1)).toEqual(Array.from({ length: Math.floor((refTicks(0.1e9) - load) / 11932) }, (_, k) => [0x30, refTimeOfTick(load + (k + 1) * 11932)]));
  });

  it('with the LAPIC globally disabled, the PIC drives the processor directly', () => {
    const M = machine();
    initPic(M, 0x30, 0xfa);
    expect(M.pc.lapic.writeMsr(0x1b, 0xfee00000n)).toEqual({ gp: false });
    startPit(M, 1000);
    let n = 0;
    M.runHalted(refTimeOfTick(5500), (v) => { expect(v).toBe(0x30); n++; M.outb(0x20, 0x20); });
    expect(n).toBe(6);
  });

  it('I/O APIC mode: PIC masked, pin 2 (ISA IRQ 0 override) routes the PIT to a vector; COM1 IRQ 4 on pin 4 (level)', () => {
    const M = machine();
    initPic(M, 0x30, 0xff);
    apicW(M, 0xf0, 0x1ff);
    apicW(M, 0x350, 0x10700); // LINT0 masked: no ExtINT
    ioapicW(M, 0x10 + 4, 0xef); // pin 2 → vector 0xEF, edge, dest 0
    ioapicW(M, 0x11 + 4, 0);
    startPit(M, 11932);
    const got: number[] = [];
    M.runHalted(0.05e9, (v) => { got.push(v); apicW(M, 0xb0, 0); });
    expect(got.length).toBe(1 + Math.floor(refTicks(0.05e9) / 11932));
    expect(new Set(got)).toEqual(new Set([0xef]));
    // COM1 THRE interrupt through pin 4 programmed level-triggered: one delivery until the EOI, again while asserted.
    ioapicW(M, 0x10 + 8, 0x8000 | 0x44);
    M.outb(0x3f8 + 4, 0x08); // OUT2
    M.outb(0x3f8 + 1, 0x02); // ETBEI: THRE interrupt asserted
    expect(M.pc.interrupts.pending()).toBe(true);
    expect(M.pc.interrupts.acknowledge()).toBe(0x44);
    expect(M.pc.interrupts.pending()).toBe(false);
    apicW(M, 0xb0, 0);
    expect(M.pc.interrupts.acknowledge()).toBe(0x44);
    M.inb(0x3f8 + 2); // reading IIR clears the THRE interrupt
    apicW(M, 0xb0, 0);
    expect(M.pc.interrupts.pending()).toBe(false);
  });

  it('LAPIC timer calibration against the PIT (Linux calibrate_APIC_clock): 1 GHz bus clock within one count', () => {
    const M = machine();
    initPic(M, 0x30, 0xfa);
    const HZ = 100;
    const latch = Math.floor((PIT_HZ + HZ / 2) / HZ);
    apicW(M, 0xf0, 0x1ff);
    apicW(M, 0x3e0, 0x3); // divide by 16
    apicW(M, 0x320, 0x10000 | 0x20000 | 0xef); // periodic, masked
    apicW(M, 0x380, 0xffffffff);
    startPit(M, latch);
    const load = refTicks(M.now);
    const samples: [number, number][] = [];
    M.runHalted(0.2e9, (_v, t) => {
      if (samples.length <= 10) samples.push([t, apicR(M, 0x390)]);
      M.outb(0x20, 0x20);
    });
    // Ticks 1..10 after the first real PIT period (sample 0 is the control-word request at t=0).
    const [t1, c1] = samples[1];
    const [t10, c10] = samples[10];
    expect(t1).toBe(refTimeOfTick(load + latch));
    expect(t10).toBe(refTimeOfTick(load + 10 * latch));
    const deltaCounts = c1 - c10;
    const expectedNs = refTimeOfTick(load + 10 * latch) - refTimeOfTick(load + latch);
    expect(Math.abs(deltaCounts * 16 - expectedNs)).toBeLessThan(16);
    const busHz = (deltaCounts * 16 * HZ) / 9;
    expect(Math.abs(busHz / (1e9 * (latch * HZ) / PIT_HZ) - 1)).toBeLessThan(1e-6);
  });

  it('the RTC reaches the processor on IRQ 8 through the slave PIC', () => {
    const M = machine();
    initPic(M, 0x30, 0xfb);
    M.outb(0xa1, 0xfe);
    M.outb(0x70, 0x0b); M.outb(0x71, 0x12); // UIE
    const got: [number, number][] = [];
    M.runHalted(3.5e9, (v, t) => {
      got.push([v, t]);
      M.outb(0x70, 0x0c); M.inb(0x71);
      M.outb(0xa0, 0x20); M.outb(0x20, 0x20);
    });
    expect(got).toEqual([[0x38, 1e9], [0x38, 2e9], [0x38, 3e9]]);
  });

  it('fw_cfg: signature, ID, RAM size, CPU counts and the file directory with etc/vmscope/platform', () => {
    const M = machine(96);
    const sel = (k: number) => M.bus.ioWrite(0x510, 2, k);
    const bytes = (n: number) => Array.from({ length: n }, () => M.inb(0x511));
    sel(0x0000);
    expect(String.fromCharCode(...bytes(4))).toBe('QEMU');
    sel(0x0001);
    expect(bytes(4)).toEqual([1, 0, 0, 0]);
    sel(0x0003);
    const ram = bytes(8).reduce((a, b, i) => a + b * 2 ** (8 * i), 0);
    expect(ram).toBe(96 << 20);
    sel(0x0005);
    expect(bytes(2)).toEqual([1, 0]);
    sel(0x0019);
    const dir = bytes(4 + 64);
    const count = (dir[0] << 24) | (dir[1] << 16) | (dir[2] << 8) | dir[3];
    expect(count).toBe(1);
    const size = (dir[4] << 24) | (dir[5] << 16) | (dir[6] << 8) | dir[7];
    const select = (dir[8] << 8) | dir[9];
    const name = String.fromCharCode(...dir.slice(12, 12 + 56)).replace(/\0+$/, '');
    expect(name).toBe('etc/vmscope/platform');
    sel(select);
    const text = String.fromCharCode(...bytes(size));
    expect(text).toMatch(/^vmscope PC platform/);
    for (const d of M.pc.describe()) expect(text).toContain(d.name);
    expect(M.inb(0x511)).toBe(0); // past the end
    expect(M.inb(0x514)).toBe(0); // no DMA interface
  });

  it('describe() matches the bus mapping; no overlap with the lead\'s devices; resets via 0x92 and 0xCF9', () => {
    const M = machine();
    const ranges = M.bus.ranges();
    for (const d of M.pc.describe()) {
      for (const p of d.ports) expect(ranges.some((r) => r.kind === 'pio' && r.first === p.first && r.last === p.last)).toBe(true);
      if (d.mmio) expect(ranges.some((r) => r.kind === 'mmio' && r.first === d.mmio!.base && r.last === d.mmio!.base + d.mmio!.size - 1)).toBe(true);
    }
    M.outb(0x92, 0x03);
    M.outb(0x92, 0x03); // no new rising edge of bit 0
    M.outb(0xcf9, 0x06);
    expect(M.resets).toBe(2);
  });

  it('is deterministic: identical guest programs give identical interrupts at identical guest times', () => {
    const run = () => {
      const M = machine();
      initPic(M, 0x20, 0xfa);
      M.outb(0xa1, 0xfe);
      M.outb(0x70, 0x0a); M.outb(0x71, 0x2a); // 64 Hz
      M.outb(0x70, 0x0b); M.outb(0x71, 0x42);
      apicW(M, 0xf0, 0x1ff);
      apicW(M, 0x3e0, 0xb);
      apicW(M, 0x320, 0x20000 | 0x80);
      apicW(M, 0x380, 3_333_333);
      startPit(M, 1193);
      const log: string[] = [];
      M.runHalted(0.25e9, (v, t) => {
        log.push(`${t}:${v}`);
        if (v === 0x80) apicW(M, 0xb0, 0);
        else {
          if (v === 0x28) { M.outb(0x70, 0x0c); M.inb(0x71); M.outb(0xa0, 0x20); }
          M.outb(0x20, 0x20);
        }
      });
      return { log, state: JSON.stringify(M.pc.saveState()) };
    };
    const a = run();
    const b = run();
    expect(a.log.length).toBeGreaterThan(300);
    expect(a.log).toEqual(b.log);
    expect(a.state).toBe(b.state);
    expect(a.log.some((s) => s.endsWith(':128'))).toBe(true);
    expect(a.log.some((s) => s.endsWith(':40'))).toBe(true);
  });

  it('snapshot/restore continues identically; a malformed snapshot changes nothing', () => {
    const setup = (M: ReturnType<typeof machine>) => { initPic(M, 0x30, 0xfa); startPit(M, 5000); };
    const A = machine();
    setup(A);
    const log = (M: ReturnType<typeof machine>, until: number) => {
      const out: number[] = [];
      M.runHalted(until, (_v, t) => { out.push(t); M.outb(0x20, 0x20); });
      return out;
    };
    log(A, 0.01e9);
    const snap = JSON.parse(JSON.stringify(A.pc.saveState()));
    const restA = log(A, 0.03e9);
    const B = machine();
    B.set(0.01e9);
    B.pc.loadState(snap);
    expect(log(B, 0.03e9)).toEqual(restA);
    const before = JSON.stringify(B.pc.saveState());
    expect(() => B.pc.loadState({ ...snap, lapic: { ...snap.lapic, tscDeadline: 'x' } })).toThrow(/lapic/);
    expect(JSON.stringify(B.pc.saveState())).toBe(before);
    expect(() => B.pc.loadState(null)).toThrow(/pc/);
  });

  it('hostile port and MMIO traffic never throws and keeps every device within its state', () => {
    const M = machine();
    let s = 0x1234567;
    const r = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
    const ports = [0x20, 0x21, 0xa0, 0xa1, 0x40, 0x41, 0x42, 0x43, 0x61, 0x70, 0x71, 0x92, 0x4d0, 0x4d1, 0x510, 0x511, 0x514, 0xcf8, 0xcf9, 0xcfc, 0xcfe];
    const sizes = [1, 2, 4] as const;
    for (let i = 0; i < 200_000; i++) {
      const p = ports[r() % ports.length];
      const size = sizes[r() % 3];
      M.set(M.now + (r() % 5000));
      if (p === 0x92 || p === 0xcf9) continue; // resets are tested elsewhere
      if (r() & 1) M.bus.ioWrite(p, size, r());
      else M.bus.ioRead(p, size);
      if ((i & 7) === 0) {
        const off = (r() % 0x1000) & ~3;
        if (r() & 1) M.bus.mmioWrite(0xfee00000 + off, 4, r());
        else M.bus.mmioRead(0xfec00000 + (r() % 0x20), 4);
        if ((i & 63) === 0) M.bus.mmioWrite(0xfec00000 + ((r() & 1) ? 0 : 0x10), 4, r());
      }
      if ((i & 15) === 0) {
        M.pc.poll(M.now);
        if (M.pc.interrupts.pending()) M.pc.interrupts.acknowledge();
      }
    }
    const st = JSON.parse(JSON.stringify(M.pc.saveState()));
    const N = machine();
    N.set(M.now);
    N.pc.loadState(st);
    expect(JSON.stringify(N.pc.saveState())).toBe(JSON.stringify(st));
    const d = M.pc.nextDeadline();
    expect(d === null || Number.isFinite(d)).toBe(true);
  });
});

export type { PcPlatform };
