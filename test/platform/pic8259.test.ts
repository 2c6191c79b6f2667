// 8259A pair: INTA vectors, cascade, spurious IR7/IR15, edge vs level, priorities and rotation, as the datasheet describes.
import { describe, expect, it } from 'vitest';
import { DualPic } from '../../emulator/devices/pic8259.js';

function pic(masterBase = 0x20, slaveBase = 0x28, icw4 = 0x01) {
  const p = new DualPic();
  const intr: boolean[] = [];
  p.onIntr = (l) => intr.push(l);
  const o = (port: number, v: number) => p.ioWrite(port, 1, v);
  // SeaBIOS/Linux initialisation: ICW1 (edge, cascade, ICW4), ICW2 base, ICW3 cascade, ICW4 8086 mode.
  o(0x20, 0x11); o(0x21, masterBase); o(0x21, 0x04); o(0x21, icw4);
  o(0xa0, 0x11); o(0xa1, slaveBase); o(0xa1, 0x02); o(0xa1, icw4);
  o(0x21, 0x00); o(0xa1, 0x00);
  return { p, o, i: (port: number) => p.ioRead(port, 1), intr };
}

describe('8259A pair', () => {
  it('delivers a master line as base + IR, sets ISR, and the INT output follows', () => {
    const { p, o, i } = pic();
    expect(p.intr()).toBe(false);
    p.setIrq(1, true);
    expect(p.intr()).toBe(true);
    expect(p.acknowledge()).toBe(0x21);
    expect(p.intr()).toBe(false);
    o(0x20, 0x0b);
    expect(i(0x20)).toBe(0x02);
    o(0x20, 0x20);
    expect(i(0x20)).toBe(0);
  });

  it('cascades the slave through IR2: vector from the slave, ISR bits on both chips, EOI to both', () => {
    const { p, o, i } = pic(0x08, 0x70);
    p.setIrq(8 + 6, true); // IRQ 14
    expect(p.intr()).toBe(true);
    expect(p.acknowledge()).toBe(0x76);
    o(0x20, 0x0b); o(0xa0, 0x0b);
    expect([i(0x20), i(0xa0)]).toEqual([0x04, 0x40]);
    // While the slave's IRQ 14 is in service, IRQ 15 (lower) waits; IRQ 1 (higher on the master) does not.
    p.setIrq(15, true);
    expect(p.intr()).toBe(false);
    p.setIrq(1, true);
    expect(p.acknowledge()).toBe(0x09);
    o(0x20, 0x20); // EOI IRQ1
    o(0xa0, 0x20); o(0x20, 0x20); // EOI slave then cascade
    expect(p.acknowledge()).toBe(0x77);
  });

  it('answers a vanished request with the spurious IR7 (master) or IR15 (slave) vector and no ISR bit', () => {
    const { p, o, i } = pic(0x08, 0x70);
    p.setIrq(8 + 3, true);
    p.ioWrite(0xa1, 1, 0x08); // the slave masks IR3 after INT was raised, before INTA
    expect(p.acknowledge()).toBe(0x77); // IR15 of the slave
    o(0xa0, 0x0b);
    expect(i(0xa0)).toBe(0);
    expect(p.acknowledge()).toBe(0x0f); // nothing at all: IR7 of the master
    o(0x20, 0x0b);
    expect(i(0x20) & 0x80).toBe(0);
  });

  it('edge mode latches rising edges only; level mode (ELCR) drops the request when the line falls', () => {
    const { p, o, i } = pic();
    p.setIrq(5, true);
    p.setIrq(5, false);
    o(0x20, 0x0a);
    expect(i(0x20) & 0x20).toBe(0x20); // edge remembered after the line fell
    p.acknowledge(); o(0x20, 0x20);
    p.setIrq(5, true); // still high? no: it fell; raise again is a new edge
    p.setIrq(5, true); // holding high is not a new edge
    expect(p.acknowledge()).toBe(0x25);
    o(0x20, 0x20);
    expect(p.intr()).toBe(false);
    p.elcrDevice.ioWrite(0x4d0, 1, 0x20);
    // Level: while high the request re-asserts after EOI.
    expect(p.intr()).toBe(false);
    p.setIrq(5, false); p.setIrq(5, true);
    expect(p.acknowledge()).toBe(0x25);
    o(0x20, 0x20);
    expect(p.intr()).toBe(true);
    p.setIrq(5, false);
    expect(p.intr()).toBe(false);
    o(0x20, 0x0a);
    expect(i(0x20) & 0x20).toBe(0);
  });

  it('fully nested priority, automatic rotation and special fully nested mode', () => {
    const { p, o } = pic(0x20, 0x28);
    for (const l of [3, 4, 6]) p.setIrq(l, true);
    expect(p.acknowledge()).toBe(0x23);
    o(0x20, 0xa0); // rotate on non-specific EOI: IR3 becomes lowest, IR4 highest
    expect(p.acknowledge()).toBe(0x24);
    o(0x20, 0xa0); // IR4 lowest: order 5,6,7,0,1,2,3,4
    p.setIrq(0, false); p.setIrq(0, true);
    expect(p.acknowledge()).toBe(0x26);
    o(0x20, 0x20);
    expect(p.acknowledge()).toBe(0x20);
    o(0x20, 0x20);
    // Special fully nested (ICW4 bit 4): a higher slave request is passed while another slave IRQ is in service.
    const s = pic(0x20, 0x28, 0x11);
    s.p.setIrq(12, true);
    expect(s.p.acknowledge()).toBe(0x2c);
    s.p.setIrq(9, true);
    expect(s.p.intr()).toBe(true);
    expect(s.p.acknowledge()).toBe(0x29);
    // Without SFNM the same sequence blocks IRQ 9 until the master's IR2 gets its EOI.
    const n = pic(0x20, 0x28, 0x01);
    n.p.setIrq(12, true);
    n.p.acknowledge();
    n.p.setIrq(9, true);
    expect(n.p.intr()).toBe(false);
  });

  it('auto-EOI leaves nothing in service; single mode (no ICW3) takes the ICW4 next', () => {
    const { p, o, i } = pic(0x20, 0x28, 0x03);
    p.setIrq(1, true);
    expect(p.acknowledge()).toBe(0x21);
    o(0x20, 0x0b);
    expect(i(0x20)).toBe(0);
    const q = new DualPic();
    q.ioWrite(0x20, 1, 0x13); // single, ICW4 needed
    q.ioWrite(0x21, 1, 0x40);
    q.ioWrite(0x21, 1, 0x01); // ICW4 (no ICW3 in single mode)
    q.ioWrite(0x21, 1, 0xfd); // now OCW1
    expect(q.ioRead(0x21, 1)).toBe(0xfd);
    q.setIrq(1, true);
    expect(q.acknowledge()).toBe(0x41);
  });

  it('IRQ 2 from a device is routed to IRQ 9; word accesses split into bytes; snapshots round-trip and reject garbage', () => {
    const { p } = pic(0x08, 0x70);
    p.setIrq(2, true);
    expect(p.acknowledge()).toBe(0x71);
    expect(p.ioRead(0x20, 2) >> 8).toBe(p.ioRead(0x21, 1));
    expect(p.ioRead(0x21, 2) >> 8).toBe(0xff);
    const snap = JSON.parse(JSON.stringify(p.saveState()));
    const q = new DualPic();
    q.loadState(snap);
    expect(q.saveState()).toEqual(p.saveState());
    expect(() => q.loadState({ ...snap, chips: [snap.chips[0]] })).toThrow(/pic/);
    expect(() => q.loadState({ ...snap, levels: -1 })).toThrow(/pic/);
    expect(q.saveState()).toEqual(p.saveState());
  });
});
