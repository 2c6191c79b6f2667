// virtio-mmio transport tests: registers (§4.2.2), status and feature negotiation (§2.1, §2.2, §3.1.1), queue setup, NEEDS_RESET.
import { describe, expect, it } from 'vitest';
import { VirtioRng } from '../../emulator/devices/virtio/index.js';
import { F_EVENT_IDX, F_INDIRECT_DESC, F_VERSION_1, MockDriver, REG, ST, TestHost } from './driver.js';

function rig() {
  const host = new TestHost();
  const dev = new VirtioRng(host);
  return { host, dev, d: new MockDriver(dev, host) };
}

describe('virtio-mmio registers (§4.2.2)', () => {
  it('identifies itself as a version 2 device', () => {
    const { d } = rig();
    expect(d.r(REG.MagicValue)).toBe(0x74726976); // "virt"
    expect(d.r(REG.Version)).toBe(2);
    expect(d.r(REG.DeviceID)).toBe(4); // §5: entropy source
    expect(d.r(REG.VendorID)).not.toBe(0);
  });

  it('offers VERSION_1, INDIRECT_DESC and RING_EVENT_IDX in the 64 feature bits', () => {
    const { d } = rig();
    const f = d.offered();
    expect(f & F_VERSION_1).toBe(F_VERSION_1);
    expect(f & F_INDIRECT_DESC).toBe(F_INDIRECT_DESC);
    expect(f & F_EVENT_IDX).toBe(F_EVENT_IDX);
    d.w(REG.DeviceFeaturesSel, 2);
    expect(d.r(REG.DeviceFeatures)).toBe(0); // no bits beyond 63
  });

  it('has QueueNumMax 256 for its queue and 0 for queues it does not have (§4.2.3.2)', () => {
    const { d } = rig();
    d.w(REG.QueueSel, 0);
    expect(d.r(REG.QueueNumMax)).toBe(256);
    d.w(REG.QueueSel, 1);
    expect(d.r(REG.QueueNumMax)).toBe(0);
    expect(d.r(REG.QueueReady)).toBe(0);
  });

  it('reports no shared memory regions: length -1 (§4.2.2 SHMLenLow/High)', () => {
    const { d } = rig();
    d.w(REG.SHMSel, 0);
    expect(d.r(REG.SHMLenLow)).toBe(0xffffffff);
    expect(d.r(REG.SHMLenHigh)).toBe(0xffffffff);
  });

  it('ignores and logs forbidden accesses (§4.2.2.2): 16-bit control register reads, writes to read-only registers, holes', () => {
    const { d, dev, host } = rig();
    expect(dev.mmioRead(REG.MagicValue, 2)).toBe(0);
    d.w(REG.MagicValue, 1);
    expect(d.r(REG.MagicValue)).toBe(0x74726976);
    expect(d.r(0x018)).toBe(0);
    expect(d.r(REG.QueueNum)).toBe(0); // write-only
    expect(host.ofKind('badAccess').map((e) => e.offset)).toEqual([REG.MagicValue, REG.MagicValue, 0x018, REG.QueueNum]);
    expect(d.status() & ST.DEVICE_NEEDS_RESET).toBe(0);
  });

  it('peeks registers without logging anything', () => {
    const { dev, host } = rig();
    expect(dev.mmioPeek(REG.MagicValue, 4)).toBe(0x74726976);
    expect(dev.mmioPeek(REG.QueueNum, 4)).toBe(0);
    expect(host.events).toEqual([]);
  });
});

describe('status and feature negotiation (§2.1, §2.2, §3.1.1)', () => {
  it('keeps FEATURES_OK for the offered features and goes through DRIVER_OK', () => {
    const { d } = rig();
    d.init({ queueCount: 1 });
    expect(d.status()).toBe(ST.ACKNOWLEDGE | ST.DRIVER | ST.FEATURES_OK | ST.DRIVER_OK);
  });

  it('does not keep FEATURES_OK when the driver refuses VERSION_1', () => {
    const { d, host } = rig();
    expect(d.negotiate((o) => o & ~F_VERSION_1)).toBe(false);
    expect(d.status() & ST.FEATURES_OK).toBe(0);
    const rej = host.ofKind('featuresRejected');
    expect(rej).toHaveLength(1);
    expect(rej[0].reason).toMatch(/VERSION_1/);
  });

  it('does not keep FEATURES_OK when the driver accepts a feature never offered', () => {
    const { d, host } = rig();
    expect(d.negotiate((o) => o | (1n << 34n))).toBe(false); // RING_PACKED is not offered
    expect(host.ofKind('featuresRejected')[0].reason).toMatch(/did not offer/);
    expect(d.negotiate((o) => o)).toBe(true); // a reset and a fresh negotiation work
  });

  it('refuses feature bits written beyond bit 63', () => {
    const { d } = rig();
    d.w(REG.Status, 0);
    d.w(REG.Status, ST.ACKNOWLEDGE | ST.DRIVER);
    d.w(REG.DriverFeaturesSel, 1);
    d.w(REG.DriverFeatures, 1); // VERSION_1
    d.w(REG.DriverFeaturesSel, 2);
    d.w(REG.DriverFeatures, 1);
    d.w(REG.Status, ST.ACKNOWLEDGE | ST.DRIVER | ST.FEATURES_OK);
    expect(d.status() & ST.FEATURES_OK).toBe(0);
  });

  it('resets on a write of 0: status, queues and interrupts are cleared (§4.2.2.1)', () => {
    const { d, host } = rig();
    const [q] = d.init({ queueCount: 1 });
    q.add([{ addr: 0x80000, len: 8, write: true }]);
    d.notify(0);
    expect(host.irqLevel).toBe(true);
    d.w(REG.Status, 0);
    expect(d.status()).toBe(0);
    expect(d.r(REG.InterruptStatus)).toBe(0);
    expect(host.irqLevel).toBe(false);
    d.w(REG.QueueSel, 0);
    expect(d.r(REG.QueueReady)).toBe(0);
  });

  it('ignores and logs notifications before DRIVER_OK', () => {
    const { d, host } = rig();
    d.negotiate();
    const q = d.setupQueue(0, 8, 0x10000);
    q.add([{ addr: 0x80000, len: 8, write: true }]);
    d.notify(0);
    expect(q.usedIdx()).toBe(0);
    expect(host.ofKind('notifyIgnored')[0].reason).toMatch(/DRIVER_OK/);
  });

  it('sets NEEDS_RESET when the driver clears a status bit, and raises a configuration change interrupt after DRIVER_OK (§2.1.2)', () => {
    const { d, host } = rig();
    d.init({ queueCount: 1 });
    d.w(REG.Status, ST.ACKNOWLEDGE | ST.DRIVER_OK | ST.FEATURES_OK);
    expect(d.status() & ST.DEVICE_NEEDS_RESET).toBe(ST.DEVICE_NEEDS_RESET);
    expect(d.status() & ST.DRIVER).toBe(ST.DRIVER);
    expect(d.r(REG.InterruptStatus)).toBe(2);
    expect(host.irqLevel).toBe(true);
    expect(host.ofKind('needsReset')[0].reason).toMatch(/cleared/);
  });

  it('sets NEEDS_RESET for DRIVER_OK without FEATURES_OK', () => {
    const { d, host } = rig();
    d.w(REG.Status, ST.ACKNOWLEDGE | ST.DRIVER | ST.DRIVER_OK);
    expect(d.status() & (ST.DRIVER_OK | ST.DEVICE_NEEDS_RESET)).toBe(ST.DEVICE_NEEDS_RESET);
    expect(host.ofKind('needsReset')[0].reason).toMatch(/FEATURES_OK/);
  });

  it('does not let the driver set DEVICE_NEEDS_RESET', () => {
    const { d } = rig();
    d.w(REG.Status, ST.ACKNOWLEDGE | ST.DEVICE_NEEDS_RESET);
    expect(d.status()).toBe(ST.ACKNOWLEDGE);
  });
});

describe('queue configuration (§4.2.3.2, §2.7)', () => {
  function setup(fn: (d: MockDriver) => void) {
    const r = rig();
    r.d.negotiate();
    r.d.w(REG.QueueSel, 0);
    r.d.w(REG.QueueNum, 8);
    r.d.w(REG.QueueDescLow, 0x10000);
    r.d.w(REG.QueueDriverLow, 0x10080);
    r.d.w(REG.QueueDeviceLow, 0x10100);
    fn(r.d);
    r.d.w(REG.QueueReady, 1);
    return r;
  }
  const cases: [string, (d: MockDriver) => void, RegExp][] = [
    ['a size that is not a power of 2', (d) => d.w(REG.QueueNum, 6), /power of 2/],
    ['a size above QueueNumMax', (d) => d.w(REG.QueueNum, 512), /power of 2/],
    ['size 0', (d) => d.w(REG.QueueNum, 0), /power of 2/],
    ['a descriptor table not 16-byte aligned', (d) => d.w(REG.QueueDescLow, 0x10008), /aligned/],
    ['a used ring not 4-byte aligned', (d) => d.w(REG.QueueDeviceLow, 0x10102), /aligned/],
    ['an available ring outside RAM', (d) => d.w(REG.QueueDriverLow, 0x3ffff0), /not guest RAM/],
    ['a ring above 4 GiB', (d) => d.w(REG.QueueDescHigh, 1), /not guest RAM/],
    ['a ring beyond any RAM', (d) => d.w(REG.QueueDeviceHigh, 0xffffffff), /beyond any RAM/],
  ];
  for (const [what, fn, re] of cases) {
    it(`sets NEEDS_RESET for ${what}`, () => {
      const { d, host } = setup(fn);
      expect(d.r(REG.QueueReady)).toBe(0);
      expect(d.status() & ST.DEVICE_NEEDS_RESET).toBe(ST.DEVICE_NEEDS_RESET);
      expect(host.ofKind('needsReset')[0].reason).toMatch(re);
    });
  }

  it('accepts a good layout', () => {
    const { d } = setup(() => {});
    expect(d.r(REG.QueueReady)).toBe(1);
    expect(d.status() & ST.DEVICE_NEEDS_RESET).toBe(0);
  });

  it('sets NEEDS_RESET when queue registers are written while QueueReady is 1 (§4.2.2.2)', () => {
    const { d, host } = setup(() => {});
    d.w(REG.QueueNum, 4);
    expect(host.ofKind('needsReset')[0].reason).toMatch(/QueueReady is 1/);
  });

  it('sets NEEDS_RESET when a queue is enabled before FEATURES_OK', () => {
    const { d, host } = rig();
    d.w(REG.Status, ST.ACKNOWLEDGE | ST.DRIVER);
    d.setupQueue(0, 8, 0x10000);
    expect(host.ofKind('needsReset')[0].reason).toMatch(/before FEATURES_OK/);
  });

  it('does not process queues after NEEDS_RESET until reset, then works again', () => {
    const { d, host } = rig();
    const [q] = d.init({ queueCount: 1 });
    d.w(REG.Status, ST.ACKNOWLEDGE); // clears bits: NEEDS_RESET
    q.add([{ addr: 0x80000, len: 8, write: true }]);
    d.notify(0);
    expect(q.usedIdx()).toBe(0);
    expect(host.ofKind('notifyIgnored').at(-1)!.reason).toMatch(/needs reset/);
    const [q2] = d.init({ queueCount: 1 });
    q2.add([{ addr: 0x80000, len: 8, write: true }]);
    d.notify(0);
    expect(q2.usedIdx()).toBe(1);
  });
});
