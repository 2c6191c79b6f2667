// virtio-console (§5.3), virtio-blk (§5.2) and virtio-rng (§5.4) driven through MMIO by the mock driver.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MemoryDisk, VirtioBlk, VirtioConsole, VirtioRng, Xoshiro128 } from '../../emulator/devices/virtio/index.js';
import { F_EVENT_IDX, MockDriver, ST, TestHost } from './driver.js';

const BUF = 0x100000;

function consoleRig() {
  const host = new TestHost();
  const out: number[] = [];
  const dev = new VirtioConsole(host, { output: (b) => out.push(...b) });
  const d = new MockDriver(dev, host);
  return { host, dev, d, out };
}

const text = (s: string) => new TextEncoder().encode(s);

describe('virtio-console (§5.3)', () => {
  it('sends transmitq buffers to the output, scattered over descriptors, direct and indirect', () => {
    const { host, d, out } = consoleRig();
    const [, tx] = d.init({ queueCount: 2 });
    host.mem.poke(BUF, text('Hello, '));
    host.mem.poke(BUF + 0x100, text('virtio'));
    host.mem.poke(BUF + 0x200, text('!\n'));
    tx.add([{ addr: BUF, len: 7 }, { addr: BUF + 0x100, len: 6 }]);
    tx.add([{ addr: BUF + 0x200, len: 2 }], { indirectAt: BUF + 0x1000 });
    d.notify(1);
    expect(new TextDecoder().decode(Uint8Array.from(out))).toBe('Hello, virtio!\n');
    expect(tx.reap()).toEqual([{ id: 0, len: 0 }, { id: 2, len: 0 }]);
    expect(d.ack()).toBe(1);
    expect(host.irqLevel).toBe(false);
  });

  it('queues input until the driver posts receive buffers, then splits it over them', () => {
    const { host, dev, d } = consoleRig();
    dev.pushInput(text('early'));
    const [rx] = d.init({ queueCount: 2 });
    expect(dev.pendingInput).toBe(5); // no buffers posted yet
    rx.add([{ addr: BUF, len: 3, write: true }]);
    rx.add([{ addr: BUF + 0x100, len: 16, write: true }]);
    d.notify(0);
    expect(rx.reap()).toEqual([{ id: 0, len: 3 }, { id: 1, len: 2 }]);
    expect(new TextDecoder().decode(host.mem.peek(BUF, 3))).toBe('ear');
    expect(new TextDecoder().decode(host.mem.peek(BUF + 0x100, 2))).toBe('ly');
    rx.add([{ addr: BUF + 0x200, len: 16, write: true }]);
    d.notify(0); // buffer waits in the available ring
    expect(rx.reap()).toEqual([]);
    expect(dev.inspect().queues[0].inFlight).toHaveLength(1);
    d.ack();
    rx.setUsedEvent(2); // as a driver does after reaping with EVENT_IDX: interrupt me for the next one
    dev.pushInput(text('key'));
    expect(rx.reap()).toEqual([{ id: 2, len: 3 }]);
    expect(host.irqLevel).toBe(true);
    const rec = dev.inspect().requests.at(-1)!;
    expect(rec.notify).toBe(null); // taken by the device when input came
    expect(rec.summary).toBe('3 bytes in');
  });

  it('bounds host input and counts what it drops', () => {
    const { dev } = consoleRig();
    dev.pushInput(new Uint8Array(70000));
    expect(dev.pendingInput).toBe(65536);
    expect(dev.inputDropped).toBe(70000 - 65536);
  });

  it('outputs emergency writes (emerg_wr, 32-bit, §5.3.4) even before initialization', () => {
    const { dev, out, d } = consoleRig();
    expect((d.offered() >> 2n) & 1n).toBe(1n); // VIRTIO_CONSOLE_F_EMERG_WRITE
    dev.mmioWrite(0x100 + 8, 4, 0x41);
    dev.mmioWrite(0x100 + 8, 1, 0x42); // wrong size: ignored
    expect(out).toEqual([0x41]);
  });
});

function blkRig(image: Uint8Array, opts: { readOnly?: boolean; persist?: (o: number, d: Uint8Array) => void; sync?: () => void } = {}) {
  const host = new TestHost();
  const disk = new MemoryDisk(image, opts);
  const dev = new VirtioBlk(host, { backend: disk });
  const d = new MockDriver(dev, host);
  return { host, dev, d, disk };
}

/** A block request (§5.2.6): header at `at`, data buffers, status byte; returns the status address. */
function blkRequest(host: TestHost, q: import('./driver.js').MockQueue, at: number, type: number, sector: number, data: { len: number; write?: boolean }[], split = false) {
  const h = new DataView(new ArrayBuffer(16));
  h.setUint32(0, type, true);
  h.setUint32(8, sector % 0x100000000, true);
  h.setUint32(12, Math.floor(sector / 0x100000000), true);
  host.mem.poke(at, new Uint8Array(h.buffer));
  const bufs = split ? [{ addr: at, len: 5 }, { addr: at + 5, len: 11 }] : [{ addr: at, len: 16 }];
  let p = at + 0x1000;
  for (const b of data) {
    bufs.push({ addr: p, len: b.len, write: b.write } as { addr: number; len: number });
    p += Math.max(b.len, 1);
  }
  host.mem.write8(p, 0xee);
  (bufs as { addr: number; len: number; write?: boolean }[]).push({ addr: p, len: 1, write: true });
  q.add(bufs);
  return { status: () => host.mem.read8(p), dataAt: at + 0x1000 };
}

describe('virtio-blk (§5.2)', () => {
  const image = new Uint8Array(64 * 1024 + 300); // capacity rounds down to 128 sectors
  for (let i = 0; i < image.length; i++) image[i] = (i * 7 + (i >> 9)) & 0xff;

  it('reports capacity, seg_max and blk_size in configuration space and offers FLUSH (§5.2.3, §5.2.4)', () => {
    const { d } = blkRig(image);
    expect(d.configRead(0, 4)).toBe(128);
    expect(d.configRead(4, 4)).toBe(0);
    expect(d.configRead(12, 4)).toBeGreaterThan(0);
    expect(d.configRead(20, 4)).toBe(512);
    const f = d.offered();
    expect((f >> 9n) & 1n).toBe(1n);
    expect((f >> 5n) & 1n).toBe(0n);
  });

  it('reads sectors of the image and writes into an overlay; flush syncs; GET_ID answers "vmscope-disk"', () => {
    const persisted: [number, number][] = [];
    let syncs = 0;
    const copy = image.slice();
    const { host, d, disk } = blkRig(copy, { persist: (o, data) => persisted.push([o, data.length]), sync: () => syncs++ });
    const [q] = d.init({ queueCount: 1, size: 64 });
    const r1 = blkRequest(host, q, BUF, 0, 3, [{ len: 1024, write: true }]);
    d.notify(0);
    expect(r1.status()).toBe(0);
    expect(host.mem.peek(r1.dataAt, 1024)).toEqual(image.subarray(3 * 512, 5 * 512));
    expect(q.reap()).toEqual([{ id: 0, len: 1025 }]);
    const pattern = new Uint8Array(1536).map((_, i) => (i * 13) & 0xff);
    host.mem.poke(BUF + 0x11000, pattern);
    const w = blkRequest(host, q, BUF + 0x10000, 1, 7, [{ len: 1536 }]);
    d.notify(0);
    expect(w.status()).toBe(0);
    expect(Buffer.from(copy).equals(Buffer.from(image))).toBe(true); // the image bytes are never modified
    expect(persisted).toEqual([[7 * 512, 1536]]);
    expect(disk.read(7, 3)).toEqual(pattern);
    expect(disk.read(6, 1)).toEqual(image.subarray(6 * 512, 7 * 512));
    // The zero-copy view lends the image only where nothing was written over it (sectors 7-9 put 4 KiB pages 0 and 1 in the overlay).
    expect(disk.view(0, 2)).toBeNull();
    expect(disk.view(15, 2)).toBeNull();
    expect(disk.view(16, 2)).toEqual(image.subarray(16 * 512, 18 * 512));
    expect(disk.view(16, 2)!.buffer).toBe(copy.buffer);
    const r2 = blkRequest(host, q, BUF + 0x20000, 0, 6, [{ len: 512, write: true }, { len: 2048, write: true }], true); // split header
    d.notify(0);
    expect(r2.status()).toBe(0);
    const expected = image.slice(6 * 512, 11 * 512);
    expected.set(pattern, 512);
    expect(host.mem.peek(r2.dataAt, 512)).toEqual(expected.subarray(0, 512));
    expect(host.mem.peek(r2.dataAt + 512, 2048)).toEqual(expected.subarray(512));
    const fl = blkRequest(host, q, BUF + 0x30000, 4, 0, []);
    d.notify(0);
    expect(fl.status()).toBe(0);
    expect(syncs).toBe(1);
    const id = blkRequest(host, q, BUF + 0x40000, 8, 0, [{ len: 20, write: true }]);
    d.notify(0);
    expect(id.status()).toBe(0);
    const want = new Uint8Array(20);
    want.set(text('vmscope-disk'));
    expect(host.mem.peek(id.dataAt, 20)).toEqual(want);
  });

  it('answers IOERR beyond the capacity, for partial sectors, and UNSUPP for unknown types', () => {
    const { host, d } = blkRig(image);
    const [q] = d.init({ queueCount: 1, size: 64 });
    const a = blkRequest(host, q, BUF, 0, 127, [{ len: 1024, write: true }]);
    const b = blkRequest(host, q, BUF + 0x10000, 1, 128, [{ len: 512 }]);
    const c = blkRequest(host, q, BUF + 0x20000, 0, 0, [{ len: 100, write: true }]);
    const e = blkRequest(host, q, BUF + 0x30000, 0, 2 ** 40, [{ len: 512, write: true }]);
    const u = blkRequest(host, q, BUF + 0x40000, 11, 0, [{ len: 16 }]);
    const ok = blkRequest(host, q, BUF + 0x50000, 0, 127, [{ len: 512, write: true }]);
    d.notify(0);
    expect([a, b, c, e, u, ok].map((r) => r.status())).toEqual([1, 1, 1, 1, 2, 0]);
    expect(d.status() & ST.DEVICE_NEEDS_RESET).toBe(0);
  });

  it('offers RO for a read-only disk and fails writes with IOERR', () => {
    const { host, d, disk } = blkRig(image, { readOnly: true });
    expect((d.offered() >> 5n) & 1n).toBe(1n);
    const [q] = d.init({ queueCount: 1, size: 16 });
    host.mem.poke(BUF + 0x1000, new Uint8Array(512).fill(0x55));
    const w = blkRequest(host, q, BUF, 1, 0, [{ len: 512 }]);
    d.notify(0);
    expect(w.status()).toBe(1);
    expect(disk.read(0, 1)).toEqual(image.subarray(0, 512));
  });

  it('reports a failing host write-through as IOERR', () => {
    const { host, d } = blkRig(image, { persist: () => { throw new Error('EIO'); } });
    const [q] = d.init({ queueCount: 1, size: 16 });
    const w = blkRequest(host, q, BUF, 1, 0, [{ len: 512 }]);
    d.notify(0);
    expect(w.status()).toBe(1);
    expect(d.status() & ST.DEVICE_NEEDS_RESET).toBe(0);
  });

  it('keeps the last 256 requests for the views, oldest first, each with its chain and summary, across a snapshot', () => {
    const { host, dev, d } = blkRig(image);
    const [q] = d.init({ queueCount: 1, size: 16 });
    const sectorOf = (n: number) => (n * 5) % 127; // request n (from 1) reads one sector
    for (let n = 1; n <= 300; n++) {
      const r = blkRequest(host, q, BUF + (n % 4) * 0x2000, 0, sectorOf(n), [{ len: 512, write: true }]);
      d.notify(0);
      d.ack();
      expect(r.status()).toBe(0);
      expect(host.mem.peek(r.dataAt, 512)).toEqual(image.subarray(sectorOf(n) * 512, sectorOf(n) * 512 + 512));
    }
    const bad = blkRequest(host, q, BUF, 0, 127, [{ len: 1024, write: true }]); // §5.2.6.1: beyond the capacity
    d.notify(0);
    expect(bad.status()).toBe(1);
    const recs = dev.inspect().requests;
    expect(recs.map((r) => r.id)).toEqual(Array.from({ length: 256 }, (_, k) => 46 + k));
    for (const r of recs.slice(0, -1)) {
      // header (device-readable), data and status (device-writable): §5.2.6
      expect(r).toMatchObject({ direction: 'in+out', descriptorCount: 3, readableBytes: 16, writableBytes: 513, state: 'completed', usedLen: 513, notify: r.id });
      expect(r.descriptors.map((x) => [x.len, x.flags])).toEqual([[16, 1], [512, 3], [1, 2]]);
      expect(r.summary).toBe(`T_IN sector ${sectorOf(r.id)}, 512 bytes: OK`);
    }
    expect(recs[255].summary).toBe('T_IN sector 127, 1024 bytes (sectors 127+2 beyond capacity 128): IOERR');
    // Views get copies: changing one changes nothing in the device.
    recs[0].descriptors[0].len = 999;
    expect(dev.inspect().requests[0].descriptors[0].len).toBe(16);
    const saved = JSON.parse(JSON.stringify(dev.saveState()));
    const other = blkRig(image);
    other.dev.loadState(saved);
    expect(other.dev.inspect().requests).toEqual(dev.inspect().requests);
    expect(other.dev.saveState()).toEqual(saved);
  });

  it('sets NEEDS_RESET for a request without a full header or status byte', () => {
    const { host, d } = blkRig(image);
    const [q] = d.init({ queueCount: 1, size: 16 });
    q.add([{ addr: BUF, len: 8 }, { addr: BUF + 8, len: 1, write: true }]);
    d.notify(0);
    expect(d.status() & ST.DEVICE_NEEDS_RESET).toBe(ST.DEVICE_NEEDS_RESET);
    expect(host.ofKind('needsReset')[0].reason).toMatch(/bad-request.*header/);
  });
});

function rngRig(seed?: number) {
  const host = new TestHost();
  const dev = new VirtioRng(host, { seed });
  const d = new MockDriver(dev, host);
  return { host, dev, d };
}

function rngBytes(seed: number | undefined, sizes: number[]): Uint8Array {
  const { host, d } = rngRig(seed);
  const [q] = d.init({ queueCount: 1 });
  let p = BUF;
  for (const n of sizes) {
    q.add([{ addr: p, len: n, write: true }]);
    p += n;
  }
  d.notify(0);
  expect(q.reap().map((e) => e.len)).toEqual(sizes);
  return host.mem.peek(BUF, p - BUF);
}

describe('virtio-rng (§5.4)', () => {
  it('gives the same bytes for the same seed, different ones for another seed, one stream across requests', () => {
    const a = rngBytes(42, [64]);
    expect(rngBytes(42, [64])).toEqual(a);
    expect(rngBytes(42, [3, 5, 56])).toEqual(a);
    expect(rngBytes(43, [64])).not.toEqual(a);
    expect(rngBytes(undefined, [64])).toEqual(rngBytes(undefined, [64]));
    expect(new Set(a).size).toBeGreaterThan(32);
  });

  it('matches the reference xoshiro128** and splitmix64 in C', () => {
    const dir = '/work/main/test/.tmp/virtio-dev';
    mkdirSync(dir, { recursive: true });
    // Blackman & Vigna's reference code (prng.di.unimi.it), seeded as documented in rng.ts.
    writeFileSync(`${dir}/xoshiro.c`, `#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
static uint64_t x;
static uint64_t splitmix64(void) { uint64_t z = (x += 0x9e3779b97f4a7c15); z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9; z = (z ^ (z >> 27)) * 0x94d049bb133111eb; return z ^ (z >> 31); }
static inline uint32_t rotl(const uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }
static uint32_t s[4];
uint32_t next(void) { const uint32_t result = rotl(s[1] * 5, 7) * 9; const uint32_t t = s[1] << 9;
  s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 11); return result; }
int main(int argc, char **argv) { x = strtoull(argv[1], 0, 0); for (int i = 0; i < 2; i++) { uint64_t z = splitmix64(); s[2*i] = (uint32_t)z; s[2*i+1] = (uint32_t)(z >> 32); }
  for (int i = 0; i < 1000; i++) printf("%u\\n", next()); return 0; }
`);
    execFileSync('gcc', ['-O2', '-o', `${dir}/xoshiro`, `${dir}/xoshiro.c`]);
    for (const seed of [0, 1, 0x766d7363, 2 ** 53 - 1]) {
      const ref = execFileSync(`${dir}/xoshiro`, [String(seed)]).toString().trim().split('\n').map(Number);
      const g = new Xoshiro128(seed);
      expect(ref.map(() => g.nextU32())).toEqual(ref);
    }
  });
});

describe('notification suppression (§2.7.7, §2.7.10)', () => {
  it('without EVENT_IDX: VIRTQ_AVAIL_F_NO_INTERRUPT suppresses the interrupt', () => {
    const { host, d } = rngRig();
    const [q] = d.init({ queueCount: 1, accept: (o) => o & ~F_EVENT_IDX });
    q.setAvailFlags(1);
    q.add([{ addr: BUF, len: 4, write: true }]);
    d.notify(0);
    expect(q.usedIdx()).toBe(1);
    expect(host.irqLevel).toBe(false);
    q.setAvailFlags(0);
    q.add([{ addr: BUF, len: 4, write: true }]);
    d.notify(0);
    expect(host.irqLevel).toBe(true);
  });

  it('with EVENT_IDX: interrupts only when used.idx passes used_event; avail_event follows last_avail_idx', () => {
    const { host, d } = rngRig();
    const [q] = d.init({ queueCount: 1 });
    q.setAvailFlags(1); // ignored with EVENT_IDX
    q.setUsedEvent(2); // interrupt when the used index moves past 2, i.e. becomes 3
    for (let i = 0; i < 2; i++) {
      q.add([{ addr: BUF, len: 4, write: true }]);
      d.notify(0);
      expect(host.irqLevel).toBe(false);
      expect(q.availEvent()).toBe(i + 1);
    }
    q.add([{ addr: BUF, len: 4, write: true }]);
    d.notify(0);
    expect(q.usedIdx()).toBe(3);
    expect(host.irqLevel).toBe(true);
    d.ack();
    // Several completions in one notify crossing used_event: one interrupt.
    q.setUsedEvent(4);
    for (let i = 0; i < 3; i++) q.add([{ addr: BUF, len: 4, write: true }]);
    d.notify(0);
    expect(q.usedIdx()).toBe(6);
    expect(host.irqLevel).toBe(true);
    expect(q.availEvent()).toBe(6);
  });
});

describe('inspection and events', () => {
  it('inspect() shows rings, in-flight chains (with errors) and request records without changing anything', () => {
    const { host, dev, d } = consoleRig();
    const [rx, tx] = d.init({ queueCount: 2, size: 8 });
    host.mem.poke(BUF, text('hi'));
    tx.add([{ addr: BUF, len: 2 }]);
    d.notify(1);
    rx.add([{ addr: BUF + 0x100, len: 8, write: true }, { addr: BUF + 0x200, len: 8, write: true }]);
    rx.writeDesc(rx.desc, 5, BUF, 4, 1 /* NEXT */, 5); // a self-loop, made available but not yet taken
    rx.publishHead(5);
    const mem = Buffer.from(host.mem.peek(0, 0x140000));
    const state = JSON.stringify(dev.saveState());
    const nEvents = host.events.length;
    const v = dev.inspect();
    expect(Buffer.from(host.mem.peek(0, 0x140000)).equals(mem)).toBe(true);
    expect(JSON.stringify(dev.saveState())).toBe(state);
    expect(host.events.length).toBe(nEvents);
    expect(v.statusNames).toEqual(['ACKNOWLEDGE', 'DRIVER', 'DRIVER_OK', 'FEATURES_OK']);
    expect(v.features.find((f) => f.name === 'VIRTIO_F_VERSION_1')?.accepted).toBe(true);
    const q0 = v.queues[0];
    expect([q0.size, q0.ready, q0.descAddr, q0.availAddr, q0.usedAddr]).toEqual([8, true, rx.desc, rx.avail, rx.used]);
    expect([q0.lastAvailIdx, q0.availIdxInMemory, q0.usedIdx]).toEqual([0, 2, 0]);
    expect(q0.inFlight.map((c) => [c.head, c.descriptorCount, c.error !== null])).toEqual([[0, 2, false], [5, 8, true]]); // the loop shows the queue size of descriptors, then the error
    expect(q0.inFlight[0].descriptors.map((x) => [x.addr, x.len, x.flags])).toEqual([[BUF + 0x100, 8, 3], [BUF + 0x200, 8, 2]]);
    expect(q0.inFlight[1].error).toContain('chain-too-long');
    const [rec] = v.requests;
    expect(rec).toMatchObject({ id: 1, queue: 1, head: 0, direction: 'out', readableBytes: 2, writableBytes: 0, state: 'completed', usedLen: 0, notify: 1, usedIdx: 1 });
    const notes = host.ofKind('notify');
    expect(notes.at(-1)).toMatchObject({ seq: 1, queue: 1, requests: [1] });
    expect(host.ofKind('complete').at(-1)).toMatchObject({ queue: 1, requests: [1], usedIdx: 1 });
    expect(host.ofKind('interrupt').at(-1)).toMatchObject({ level: true, interruptStatus: 1 });
  });
});

describe('re-entrancy', () => {
  it('an output sink that pushes input back (echo) does not corrupt the run', () => {
    const host = new TestHost();
    const out: number[] = [];
    const dev: VirtioConsole = new VirtioConsole(host, { output: (b) => { out.push(...b); dev.pushInput(b); } });
    const d = new MockDriver(dev, host);
    const [rx, tx] = d.init({ queueCount: 2, size: 8 });
    rx.add([{ addr: BUF + 0x100, len: 8, write: true }]);
    d.notify(0);
    host.mem.poke(BUF, text('echo'));
    tx.add([{ addr: BUF, len: 4 }]);
    d.notify(1);
    expect(tx.reap()).toEqual([{ id: 0, len: 0 }]);
    expect(rx.reap()).toEqual([{ id: 0, len: 4 }]);
    expect(new TextDecoder().decode(host.mem.peek(BUF + 0x100, 4))).toBe('echo');
    expect(dev.inspect().requests.map((r) => [r.queue, r.state])).toEqual([[1, 'completed'], [0, 'completed']]);
  });
});
