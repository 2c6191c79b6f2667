// Hostile split rings (§2.7): every broken chain ends in DEVICE_NEEDS_RESET with a message; indirect tables; reset mid-flight; snapshots.
import { describe, expect, it } from 'vitest';
import { DeviceStateError } from '../../emulator/devices/bus.js';
import { MemoryDisk, VirtioBlk, VirtioConsole, VirtioRng } from '../../emulator/devices/virtio/index.js';
import { DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_WRITE, F_INDIRECT_DESC, MockDriver, MockQueue, RAM_SIZE, REG, ST, TestHost } from './driver.js';

const BUF = 0x100000;
const TBL = 0x200000;

function rng(opts: { ram?: number; noIndirect?: boolean } = {}) {
  const host = new TestHost(opts.ram);
  const dev = new VirtioRng(host);
  const d = new MockDriver(dev, host);
  const [q] = d.init({ queueCount: 1, size: 16, accept: (o) => (opts.noIndirect ? o & ~F_INDIRECT_DESC : o) });
  return { host, dev, d, q };
}

/** Writes raw descriptors into the table of q and publishes head 0. */
function raw(q: MockQueue, descs: [number, number, number, number][], table = q.desc): void {
  descs.forEach(([addr, len, flags, next], i) => q.writeDesc(table, i, addr, len, flags, next));
}

const W = DESC_F_WRITE;
const N = DESC_F_NEXT;
const I = DESC_F_INDIRECT;

const cases: [string, (r: ReturnType<typeof rng>) => void, string, { ram?: number; noIndirect?: boolean }?][] = [
  ['avail.idx jumping by more than the queue size', (r) => r.q.setAvailIdx(17), 'avail-idx-jump'],
  ['a head out of range', (r) => r.q.publishHead(16), 'head-out-of-range'],
  ['a loop of descriptors', (r) => { raw(r.q, [[BUF, 4, W | N, 1], [BUF, 4, W | N, 0]]); r.q.publishHead(0); }, 'chain-too-long'],
  ['a self-referencing descriptor', (r) => { raw(r.q, [[BUF, 4, W | N, 0]]); r.q.publishHead(0); }, 'chain-too-long'],
  ['next out of range', (r) => { raw(r.q, [[BUF, 4, W | N, 99]]); r.q.publishHead(0); }, 'next-out-of-range'],
  ['a loop inside an indirect table', (r) => { raw(r.q, [[TBL, 64, I, 0]]); raw(r.q, [[BUF, 4, W | N, 1], [BUF, 4, W | N, 2], [BUF, 4, W | N, 3], [BUF, 4, W | N, 0]], TBL); r.q.publishHead(0); }, 'chain-too-long'],
  ['next beyond the indirect table', (r) => { raw(r.q, [[TBL, 32, I, 0]]); raw(r.q, [[BUF, 4, W | N, 2]], TBL); r.q.publishHead(0); }, 'next-out-of-range'],
  ['an indirect descriptor inside an indirect table', (r) => { raw(r.q, [[TBL, 16, I, 0]]); raw(r.q, [[TBL, 16, I, 0]], TBL); r.q.publishHead(0); }, 'nested-indirect'],
  ['INDIRECT together with NEXT', (r) => { raw(r.q, [[TBL, 16, I | N, 1], [BUF, 4, W, 0]]); raw(r.q, [[BUF, 4, W, 0]], TBL); r.q.publishHead(0); }, 'indirect-with-next'],
  ['INDIRECT without VIRTIO_F_INDIRECT_DESC', (r) => { raw(r.q, [[TBL, 16, I, 0]]); raw(r.q, [[BUF, 4, W, 0]], TBL); r.q.publishHead(0); }, 'indirect-not-negotiated', { noIndirect: true }],
  ['an empty indirect table', (r) => { raw(r.q, [[TBL, 0, I, 0]]); r.q.publishHead(0); }, 'indirect-table-size'],
  ['an indirect table of 24 bytes', (r) => { raw(r.q, [[TBL, 24, I, 0]]); r.q.publishHead(0); }, 'indirect-table-size'],
  ['an indirect table of 2^19 entries', (r) => { raw(r.q, [[0, 16 * 2 ** 19, I, 0]]); r.q.publishHead(0); }, 'indirect-table-size', { ram: 64 * 1024 * 1024 }],
  ['an indirect table outside RAM', (r) => { raw(r.q, [[RAM_SIZE - 16, 32, I, 0]]); r.q.publishHead(0); }, 'buffer-not-ram'],
  ['a buffer crossing the end of RAM', (r) => { raw(r.q, [[RAM_SIZE - 2, 4, W, 0]]); r.q.publishHead(0); }, 'buffer-not-ram'],
  ['a buffer at 1 TiB', (r) => { raw(r.q, [[2 ** 40, 4, W, 0]]); r.q.publishHead(0); }, 'buffer-not-ram'],
  ['a buffer at 2^64 - 16', (r) => { r.q.writeDesc(r.q.desc, 0, 0, 0, W, 0); r.host.mem.write32(r.q.desc, 0xfffffff0); r.host.mem.write32(r.q.desc + 4, 0xffffffff); r.host.mem.write32(r.q.desc + 8, 32); r.q.publishHead(0); }, 'buffer-wraps'],
  ['lengths adding up past 2^32 - 1', (r) => { raw(r.q, [[0, 0xc0000000, W | N, 1], [0, 0x40000000, W, 0]]); r.q.publishHead(0); }, 'chain-length-overflow', { ram: 0xc0000000 }],
  ['a readable buffer after a writable one', (r) => { raw(r.q, [[BUF, 4, W | N, 1], [BUF, 4, 0, 0]]); r.q.publishHead(0); }, 'readable-after-writable'],
];

describe('hostile rings end in DEVICE_NEEDS_RESET (§2.1.2)', () => {
  for (const [what, make, kind, opts] of cases) {
    it(`${what} → ${kind}`, () => {
      const r = rng(opts);
      make(r);
      const t0 = performance.now();
      r.d.notify(0);
      expect(performance.now() - t0).toBeLessThan(200);
      expect(r.d.status() & ST.DEVICE_NEEDS_RESET).toBe(ST.DEVICE_NEEDS_RESET);
      const ev = r.host.ofKind('needsReset');
      expect(ev).toHaveLength(1);
      expect(ev[0].reason).toContain(kind);
      expect(r.dev.inspect().needsResetReason).toContain(kind);
      expect(r.q.usedIdx()).toBe(0);
      expect(r.d.r(REG.InterruptStatus)).toBe(2); // configuration change notification (§2.1.2)
      r.d.init({ queueCount: 1, size: 16 }); // a reset recovers
      expect(r.d.status() & ST.DEVICE_NEEDS_RESET).toBe(0);
    });
  }
});

describe('indirect descriptors (§2.7.5.3)', () => {
  it('serves a block request entirely in an indirect table, and direct descriptors followed by an indirect one', () => {
    const host = new TestHost();
    const image = new Uint8Array(8192).map((_, i) => i & 0xff);
    const dev = new VirtioBlk(host, { backend: new MemoryDisk(image) });
    const d = new MockDriver(dev, host);
    const [q] = d.init({ queueCount: 1, size: 2 });
    const hdr = new Uint8Array(16);
    hdr[8] = 3; // sector 3
    host.mem.poke(BUF, hdr);
    q.add([{ addr: BUF, len: 16 }, { addr: BUF + 0x100, len: 512, write: true }, { addr: BUF + 0x400, len: 1, write: true }], { indirectAt: TBL });
    d.notify(0);
    expect(host.mem.read8(BUF + 0x400)).toBe(0);
    expect(host.mem.peek(BUF + 0x100, 512)).toEqual(image.subarray(1536, 2048));
    // header direct, then an indirect table holding data + status (§2.7.5.3.2)
    hdr[8] = 5;
    host.mem.poke(BUF + 0x1000, hdr);
    raw(q, [[BUF + 0x1000, 16, N, 1], [TBL + 0x100, 32, I, 0]]);
    raw(q, [[BUF + 0x1100, 512, W | N, 1], [BUF + 0x1400, 1, W, 0]], TBL + 0x100);
    q.publishHead(0);
    d.notify(0);
    expect(host.mem.read8(BUF + 0x1400)).toBe(0);
    expect(host.mem.peek(BUF + 0x1100, 512)).toEqual(image.subarray(2560, 3072));
    expect(q.reap()).toEqual([{ id: 0, len: 513 }, { id: 0, len: 513 }]);
    const rec = dev.inspect().requests[1];
    expect(rec.descriptors.map((x) => x.indirect)).toEqual([false, true, true]);
  });
});

describe('reset mid-flight', () => {
  it('forgets chains made available before a reset; the re-initialized queue works', () => {
    const host = new TestHost();
    const dev = new VirtioBlk(host, { backend: new MemoryDisk(new Uint8Array(4096)) });
    const d = new MockDriver(dev, host);
    const [q] = d.init({ queueCount: 1, size: 8 });
    host.mem.write8(BUF + 0x200, 0xee);
    q.add([{ addr: BUF, len: 16 }, { addr: BUF + 0x200, len: 1, write: true }]); // FLUSH-like request, not notified
    d.w(REG.Status, 0);
    expect(dev.inspect().queues[0].ready).toBe(false);
    const [q2] = d.init({ queueCount: 1, size: 8, queues: [{ index: 0, size: 8, base: 0x40000 }] });
    d.notify(0);
    expect(host.mem.read8(BUF + 0x200)).toBe(0xee); // the old ring is never read again
    expect(q2.usedIdx()).toBe(0);
    q2.add([{ addr: BUF, len: 16 }, { addr: BUF + 0x300, len: 1, write: true }]);
    d.notify(0);
    expect(q2.reap()).toHaveLength(1);
  });
});

describe('snapshots', () => {
  it('save/load mid-request: a restored console continues exactly like the original', () => {
    const mk = (host: TestHost) => {
      const out: number[] = [];
      const dev = new VirtioConsole(host, { output: (b) => out.push(...b) });
      return { dev, out };
    };
    const h1 = new TestHost();
    const a = mk(h1);
    const d1 = new MockDriver(a.dev, h1);
    const [rx, tx] = d1.init({ queueCount: 2, size: 8 });
    rx.add([{ addr: BUF, len: 4, write: true }]);
    rx.add([{ addr: BUF + 0x10, len: 4, write: true }]);
    d1.notify(0);
    a.dev.pushInput(new TextEncoder().encode('abcdef')); // 4 + 2 delivered... two chains in flight consumed
    rx.add([{ addr: BUF + 0x20, len: 4, write: true }]); // posted, not notified: in flight
    a.dev.pushInput(new TextEncoder().encode('ghijkl'));
    const state = JSON.parse(JSON.stringify(a.dev.saveState()));
    const mem = h1.mem.snapshot();
    // Restore into a fresh device on a copy of memory.
    const h2 = new TestHost();
    h2.mem.restore(mem);
    h2.irqLevel = h1.irqLevel;
    const b = mk(h2);
    b.dev.loadState(state);
    expect(b.dev.inspect()).toEqual(a.dev.inspect());
    for (const [h, x] of [[h1, a], [h2, b]] as const) {
      const d = new MockDriver(x.dev, h);
      const q = new MockQueue(h.mem, 1, 8, tx.desc);
      q.availIdx = tx.availIdx;
      h.mem.poke(BUF + 0x100, new TextEncoder().encode('out!'));
      q.add([{ addr: BUF + 0x100, len: 4 }]);
      d.notify(1);
      d.notify(0);
      x.dev.pushInput(new TextEncoder().encode('mn'));
    }
    expect(b.out).toEqual(a.out);
    expect(Buffer.from(h2.mem.peek(0, 0x120000)).equals(Buffer.from(h1.mem.peek(0, 0x120000)))).toBe(true);
    expect(b.dev.inspect()).toEqual(a.dev.inspect());
    expect(b.dev.saveState()).toEqual(a.dev.saveState());
  });

  it('keeps the disk overlay in the snapshot, and rejects malformed states without changing anything', () => {
    const host = new TestHost();
    const disk = new MemoryDisk(new Uint8Array(8192));
    const dev = new VirtioBlk(host, { backend: disk });
    disk.write(1, new Uint8Array(512).fill(7));
    const s = JSON.parse(JSON.stringify(dev.saveState()));
    disk.write(1, new Uint8Array(512).fill(9));
    disk.write(12, new Uint8Array(512).fill(9));
    dev.loadState(s);
    expect(disk.read(1, 1)).toEqual(new Uint8Array(512).fill(7));
    expect(disk.read(12, 1)).toEqual(new Uint8Array(512));
    const before = JSON.stringify(dev.saveState());
    const bad = [null, 3, {}, { ...s, status: 256 }, { ...s, queues: [] }, { ...s, device: { ...s.device, disk: { pages: [[99, 'AA==']] } } },
      { ...s, device: { ...s.device, disk: { pages: [[0, 'not base64!']] } } }, { ...s, history: [{ id: 1 }] }, { ...s, driverFeatures: 'zz' }];
    for (const x of bad) {
      expect(() => dev.loadState(x)).toThrow(DeviceStateError);
      expect(JSON.stringify(dev.saveState())).toBe(before);
    }
  });
});
