// I/O bus: port and MMIO routing, overlap errors, unassigned accesses (PC floating bus), 8-byte MMIO split, snapshots.
import { describe, expect, it } from 'vitest';
import { BusConflictError, IoBus, type MmioDevice, type MmioSize, type PortDevice, type PortSize } from '../../emulator/devices/bus.js';

class Recorder implements PortDevice {
  log: string[] = [];
  constructor(readonly name: string, private readonly readValue = 0x12345678) {}
  ioRead(port: number, size: PortSize): number {
    this.log.push(`r ${port.toString(16)}/${size}`);
    return this.readValue; // deliberately wider than the access: the bus must mask it
  }
  ioWrite(port: number, size: PortSize, value: number): void {
    this.log.push(`w ${port.toString(16)}/${size}=${value.toString(16)}`);
  }
}

class Ram implements MmioDevice {
  bytes = new Uint8Array(64);
  log: string[] = [];
  constructor(readonly name: string) {}
  mmioRead(off: number, size: MmioSize): number {
    this.log.push(`r ${off}/${size}`);
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.bytes[off + i] << (8 * i);
    return v >>> 0;
  }
  mmioWrite(off: number, size: MmioSize, value: number): void {
    this.log.push(`w ${off}/${size}`);
    for (let i = 0; i < size; i++) this.bytes[off + i] = (value >>> (8 * i)) & 0xff;
  }
}

describe('IoBus ports', () => {
  it('unassigned ports read all ones for the access size and drop writes; both are counted per port', () => {
    const bus = new IoBus();
    expect(bus.ioRead(0x80, 1)).toBe(0xff);
    expect(bus.ioRead(0x80, 2)).toBe(0xffff);
    expect(bus.ioRead(0x1234, 4)).toBe(0xffffffff);
    bus.ioWrite(0x80, 1, 0x55);
    expect(bus.unassignedPortReads).toBe(3);
    expect(bus.unassignedPortWrites).toBe(1);
    expect(bus.unassignedPorts()).toEqual([
      { port: 0x80, reads: 2, writes: 1 },
      { port: 0x1234, reads: 1, writes: 0 },
    ]);
  });

  it('routes a multi-byte access by its first port only, and masks values to the access size', () => {
    const bus = new IoBus();
    const a = new Recorder('a');
    const b = new Recorder('b');
    bus.mapPorts(0x100, 2, a);
    bus.mapPorts(0x102, 2, b);
    expect(bus.ioRead(0x101, 4)).toBe(0x12345678); // spans a and b: goes to a
    expect(bus.ioRead(0x101, 2)).toBe(0x5678);
    expect(bus.ioRead(0x0ff, 2)).toBe(0xffff); // first port unassigned: all ones even though 0x100 is a's
    bus.ioWrite(0x103, 2, 0xabcdef);
    expect(a.log).toEqual(['r 101/4', 'r 101/2']);
    expect(b.log).toEqual(['w 103/2=cdef']);
    expect(bus.portDevice(0x102)).toBe(b);
    expect(bus.portDevice(0x104)).toBeNull();
  });

  it('masks the port number to 16 bits as IN/OUT do', () => {
    const bus = new IoBus();
    const a = new Recorder('a');
    bus.mapPorts(0x3f8, 8, a);
    bus.ioWrite(0x103f8, 1, 1);
    expect(a.log).toEqual(['w 3f8/1=1']);
  });

  it('rejects an overlapping mapping and names both devices', () => {
    const bus = new IoBus();
    bus.mapPorts(0x3f8, 8, new Recorder('uart'));
    expect(() => bus.mapPorts(0x3fc, 1, new Recorder('dbg'))).toThrow(BusConflictError);
    expect(() => bus.mapPorts(0x3f0, 9, new Recorder('dbg'))).toThrow(/port 0x03f8: dbg .*overlaps uart/);
    expect(() => bus.mapPorts(0xffff, 2, new Recorder('x'))).toThrow(RangeError);
    // The failed mappings left nothing behind.
    expect(bus.portDevice(0x3f0)).toBeNull();
  });

  it('lists ranges for the platform description', () => {
    const bus = new IoBus();
    bus.mapPorts(0x3f8, 8, new Recorder('uart'));
    bus.mapPorts(0xe9, 1, new Recorder('debugcon'));
    bus.mapMmio(0xfee00000, 0x1000, new Ram('lapic'));
    expect(bus.ranges()).toEqual([
      { kind: 'pio', first: 0xe9, last: 0xe9, name: 'debugcon' },
      { kind: 'pio', first: 0x3f8, last: 0x3ff, name: 'uart' },
      { kind: 'mmio', first: 0xfee00000, last: 0xfee00fff, name: 'lapic' },
    ]);
  });

  it('peek uses the device peek and never its read', () => {
    const bus = new IoBus();
    const a = new Recorder('a');
    bus.mapPorts(0x60, 1, a);
    expect(bus.ioPeek(0x60, 1)).toBeNull(); // no ioPeek: cannot read without side effects
    expect(bus.ioPeek(0x61, 2)).toBe(0xffff);
    expect(a.log).toEqual([]);
    expect(bus.unassignedPortReads).toBe(0);
  });
});

describe('IoBus MMIO', () => {
  it('finds devices by address, with offsets relative to the base, and null elsewhere', () => {
    const bus = new IoBus();
    const x = new Ram('x');
    const y = new Ram('y');
    bus.mapMmio(0xd0000000, 0x40, y);
    bus.mapMmio(0xc0000000, 0x40, x);
    expect(bus.findMmio(0xc0000000)?.dev).toBe(x);
    expect(bus.findMmio(0xc000003f)?.dev).toBe(x);
    expect(bus.findMmio(0xc0000040)).toBeNull();
    expect(bus.findMmio(0xd0000010)?.base).toBe(0xd0000000);
    expect(bus.findMmio(0xbfffffff)).toBeNull();
    bus.mmioWrite(0xd0000004, 2, 0x1beef);
    expect(y.bytes[4]).toBe(0xef);
    expect(y.bytes[5]).toBe(0xbe);
    expect(y.bytes[6]).toBe(0);
  });

  it('rejects overlapping MMIO and names both devices', () => {
    const bus = new IoBus();
    bus.mapMmio(0x1000, 0x1000, new Ram('a'));
    expect(() => bus.mapMmio(0x1fff, 2, new Ram('b'))).toThrow(/b .*overlaps a/);
    expect(() => bus.mapMmio(0x0, 0x1001, new Ram('b'))).toThrow(BusConflictError);
    bus.mapMmio(0x2000, 0x10, new Ram('c')); // adjacent is fine
  });

  it('unassigned MMIO reads all ones and drops writes, counted', () => {
    const bus = new IoBus();
    expect(bus.mmioRead(0x12345678, 4)).toBe(0xffffffff);
    expect(bus.mmioRead(0x12345678, 1)).toBe(0xff);
    bus.mmioWrite(0x12345678, 4, 0);
    expect(bus.unassignedMmioReads).toBe(2);
    expect(bus.unassignedMmioWrites).toBe(1);
  });

  it('splits an 8-byte access into two 4-byte accesses, low dword first', () => {
    const bus = new IoBus();
    const r = new Ram('r');
    bus.mapMmio(0x1000, 0x40, r);
    bus.mmioWrite64(0x1008, 0x0123456789abcdefn);
    expect(r.log).toEqual(['w 8/4', 'w 12/4']);
    expect([...r.bytes.slice(8, 16)]).toEqual([0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01]);
    expect(bus.mmioRead64(0x1008)).toBe(0x0123456789abcdefn);
    // The high half falls outside the device: it reads as unassigned all ones.
    expect(bus.mmioRead64(0x103c)).toBe(0xffffffff00000000n | BigInt(r.mmioRead(0x3c, 4)));
  });

  it('finds among many ranges quickly (binary search)', () => {
    const bus = new IoBus();
    const devs: Ram[] = [];
    for (let i = 0; i < 1000; i++) {
      const d = new Ram(`d${i}`);
      devs.push(d);
      bus.mapMmio(0x1_0000_0000 + i * 0x2000, 0x1000, d);
    }
    const t0 = performance.now();
    let hits = 0;
    let wrong = 0;
    for (let i = 0; i < 1_000_000; i++) {
      const k = (i * 7919) % 2000;
      const f = bus.findMmio(0x1_0000_0000 + k * 0x1000 + 8);
      if (f !== null) {
        hits++;
        if (f.dev !== devs[k >> 1]) wrong++;
      } else if ((k & 1) === 0) wrong++;
    }
    expect(wrong).toBe(0);
    expect(hits).toBe(500_000);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

describe('IoBus snapshots', () => {
  it('round-trips counters and rejects malformed state without changing anything', () => {
    const bus = new IoBus();
    bus.ioRead(0x80, 1);
    bus.ioWrite(0x81, 1, 0);
    bus.mmioRead(0x10, 4);
    const s = JSON.parse(JSON.stringify(bus.saveState()));
    const other = new IoBus();
    other.loadState(s);
    expect(other.saveState()).toEqual(bus.saveState());
    expect(other.unassignedPorts()).toEqual(bus.unassignedPorts());
    expect(() => other.loadState({ ...s, byPort: [[0x10000, 1, 1]] })).toThrow(/byPort/);
    expect(() => other.loadState(null)).toThrow(/expected an object/);
    expect(other.saveState()).toEqual(bus.saveState());
  });
});
