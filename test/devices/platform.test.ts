// debugcon, isa-debug-exit and the platform factory: QEMU semantics, bus placement, snapshots.
import { describe, expect, it } from 'vitest';
import { BusConflictError, IoBus } from '../../emulator/devices/bus.js';
import { DebugCon } from '../../emulator/devices/debugcon.js';
import { DebugExit } from '../../emulator/devices/debug-exit.js';
import { createPlatformDevices, DEVICE_TABLE } from '../../emulator/devices/platform.js';

function platform(names = ['debugcon', 'debug-exit', 'uart']) {
  const out: Array<[number, string]> = [];
  const exits: number[] = [];
  const irqs: Array<[number, boolean]> = [];
  const bus = new IoBus();
  const devs = createPlatformDevices(bus, names, {
    console: (b, s) => out.push([b, s]),
    control: { requestExit: (c) => exits.push(c) },
    setIrq: (n, l) => irqs.push([n, l]),
  });
  return { bus, devs, out, exits, irqs };
}

describe('debugcon (port 0xE9)', () => {
  it('sends written bytes to the console sink and reads back 0xE9', () => {
    const { bus, out } = platform();
    for (const c of 'ok\n') bus.ioWrite(0xe9, 1, c.charCodeAt(0));
    expect(out).toEqual([[0x6f, 'debugcon'], [0x6b, 'debugcon'], [0x0a, 'debugcon']]);
    expect(bus.ioRead(0xe9, 1)).toBe(0xe9);
  });

  it('treats word/dword accesses as invalid like QEMU: read 0, write dropped', () => {
    const { bus, out } = platform();
    expect(bus.ioRead(0xe9, 2)).toBe(0);
    expect(bus.ioRead(0xe9, 4)).toBe(0);
    bus.ioWrite(0xe9, 2, 0x4142);
    expect(out).toEqual([]);
  });

  it('snapshots its byte counter', () => {
    const a = new DebugCon(() => {});
    a.ioWrite(0xe9, 1, 1);
    const b = new DebugCon(() => {});
    b.loadState(JSON.parse(JSON.stringify(a.saveState())));
    expect(b.bytesWritten).toBe(1);
    expect(() => b.loadState({ bytesWritten: -1 })).toThrow(/debugcon: state.bytesWritten/);
  });
});

describe('isa-debug-exit (ports 0xF4-0xF7)', () => {
  it('requests exit code (v << 1) | 1 with v of the access width', () => {
    const cases: Array<[number, 1 | 2 | 4, number, number]> = [
      [0xf4, 1, 0x00, 1],
      [0xf4, 1, 0x10, 0x21],
      [0xf4, 1, 0x1ff, 0x1ff], // an 8-bit OUT carries only 0xFF: (0xFF << 1) | 1
      [0xf4, 2, 0x1234, 0x2469],
      [0xf4, 4, 0x7fffffff, 0xffffffff],
      [0xf4, 4, 0xffffffff, 0xffffffff], // C int conversion keeps the low 32 bits
      [0xf7, 1, 0x03, 0x07], // any port of the range
    ];
    for (const [port, size, v, code] of cases) {
      const { bus, exits } = platform();
      bus.ioWrite(port, size, v);
      expect(exits, `out ${port.toString(16)}/${size} ${v.toString(16)}`).toEqual([code]);
    }
  });

  it('reads 0 and remembers the first request', () => {
    const codes: number[] = [];
    const d = new DebugExit({ requestExit: (c) => codes.push(c) });
    expect(d.ioRead(0xf4, 4)).toBe(0);
    d.ioWrite(0xf4, 1, 2);
    d.ioWrite(0xf4, 1, 3);
    expect(codes).toEqual([5, 7]);
    expect(d.exitCode).toBe(5);
    const e = new DebugExit({ requestExit: () => {} });
    e.loadState(d.saveState());
    expect(e.exitCode).toBe(5);
    e.loadState(new DebugExit({ requestExit: () => {} }).saveState());
    expect(e.exitCode).toBeNull();
  });
});

describe('platform factory', () => {
  it('maps each device where DEVICE_TABLE says, and wires the UART IRQ as IRQ 4', () => {
    const { bus, devs, irqs } = platform();
    expect(bus.ranges()).toEqual([
      { kind: 'pio', first: 0xe9, last: 0xe9, name: 'debugcon' },
      { kind: 'pio', first: 0xf4, last: 0xf7, name: 'debug-exit' },
      { kind: 'pio', first: 0x3f8, last: 0x3ff, name: 'uart' },
    ]);
    expect(DEVICE_TABLE.uart.irq).toBe(4);
    bus.ioWrite(0x3fc, 1, 0x08);
    bus.ioWrite(0x3f9, 1, 0x02);
    expect(irqs).toEqual([[4, true]]);
    expect([...devs.all.keys()]).toEqual(['debugcon', 'debug-exit', 'uart']);
  });

  it('leaves out devices not named, and rejects a device named twice', () => {
    const { bus } = platform(['uart']);
    expect(bus.ioRead(0xe9, 1)).toBe(0xff);
    expect(() => platform(['uart', 'uart'])).toThrow(BusConflictError);
    expect(() => platform(['vga'])).toThrow(/unknown device "vga"/);
  });
});
