// A seeded hostile-and-plausible ring workload (fuzz.test.ts runs it too) recorded as text: per round a digest of the device's events, registers and guest RAM, and every DEVICE_NEEDS_RESET reason verbatim. The golden in golden/fuzz-trace.txt was recorded before the chain walk and DMA copies were reworked (golden.test.ts).
import type { VirtioMmioDevice } from '../../emulator/devices/virtio/index.js';
import { MemoryDisk, VirtioBlk, VirtioConsole, VirtioRng } from '../../emulator/devices/virtio/index.js';
import { MockDriver, REG, ST, TestHost } from './driver.js';
import { prng } from '../prng.js';


/** FNV-1a over a string's UTF-16 units and then over bytes. */
class Fnv {
  h = 0x811c9dc5;
  text(s: string): void { for (let i = 0; i < s.length; i++) this.h = Math.imul(this.h ^ s.charCodeAt(i), 0x01000193) >>> 0; }
  bytes(b: Uint8Array): void { for (let i = 0; i < b.length; i++) this.h = Math.imul(this.h ^ b[i], 0x01000193) >>> 0; }
}

const RAM = 1024 * 1024;

/** One round of the workload, after the driver's last access (or its feature negotiation failed: `rejected`). */
export interface FuzzRound {
  round: number;
  /** Which device (0 console, 1 blk, 2 rng). */
  which: number;
  dev: VirtioMmioDevice;
  host: TestHost;
  driver: MockDriver;
  rejected: boolean;
  /** A digest of what the driver read back this round. */
  reads: number;
}

/**
 * The seeded workload: `rounds` rounds, each on one of a console, a blk and an rng device, negotiating random feature
 * sets, then four steps of well-formed chains with random contents or of random descriptors, indirect tables, ring
 * indexes and register writes. `onRound` sees each round's end; `onConsole` the console's output.
 */
export function runFuzzWorkload(rounds: number, onRound: (r: FuzzRound) => void, onConsole: (b: Uint8Array) => void): { disk: MemoryDisk; hosts: TestHost[] } {
  const rnd = prng(0x7ace);
  const int = (n: number) => Math.floor(rnd() * n);
  const hosts = [new TestHost(RAM), new TestHost(RAM), new TestHost(RAM)];
  const disk = new MemoryDisk(new Uint8Array(64 * 1024).map((_, i) => (i * 7 + (i >>> 9)) & 0xff));
  const devs: [VirtioMmioDevice, number, TestHost][] = [
    [new VirtioConsole(hosts[0], { output: onConsole }), 2, hosts[0]],
    [new VirtioBlk(hosts[1], { backend: disk }), 1, hosts[1]],
    [new VirtioRng(hosts[2], { seed: 1 }), 1, hosts[2]],
  ];
  const addr = (): [number, number] => {
    const k = rnd();
    if (k < 0.7) return [0x20000 + int(RAM - 0x21000), 0];
    if (k < 0.8) return [int(2 ** 32), 0];
    if (k < 0.9) return [int(2 ** 32), int(2 ** 32)];
    return [RAM - int(64), 0];
  };
  const len = () => (rnd() < 0.8 ? int(4096) : rnd() < 0.5 ? int(2 ** 32) : 16 * int(8));
  for (let round = 0; round < rounds; round++) {
    const which = int(devs.length);
    const [dev, queueCount, host] = devs[which];
    host.events.length = 0;
    const d = new MockDriver(dev, host);
    const size = 1 << int(9);
    const accept = (o: bigint) => (rnd() < 0.9 ? o & (rnd() < 0.5 ? ~0n : ~(1n << 28n) & ~(1n << 29n)) : BigInt(int(2 ** 32)) << BigInt(int(33)));
    if (!d.negotiate(accept)) { onRound({ round, which, dev, host, driver: d, rejected: true, reads: 0 }); continue; }
    const qs = [];
    for (let qi = 0; qi < queueCount; qi++) qs.push(d.setupQueue(qi, size, 0x10000 + qi * 0x8000));
    d.w(REG.Status, ST.ACKNOWLEDGE | ST.DRIVER | ST.FEATURES_OK | ST.DRIVER_OK);
    const plausible = rnd() < 0.5;
    const reads = new Fnv();
    for (let step = 0; step < 4; step++) {
      const q = qs[int(qs.length)];
      if (plausible) {
        const k = 1 + int(Math.min(size, 4));
        for (let c = 0; c < k && (q.availIdx - q.lastUsed) < size; c++) {
          const bufs = [];
          const nr = int(3);
          const nw = int(3);
          for (let i = 0; i < nr + nw; i++) bufs.push({ addr: 0x80000 + int(0x60000), len: i === 0 && rnd() < 0.7 ? 16 : int(2048), write: i >= nr });
          const hdr = bufs[0];
          if (nr > 0 && hdr.len >= 16) {
            host.mem.write32(hdr.addr, [0, 1, 4, 8, int(20)][int(5)]);
            host.mem.write32(hdr.addr + 8, int(100));
            host.mem.write32(hdr.addr + 12, rnd() < 0.9 ? 0 : int(2 ** 32));
          }
          if (bufs.length === 0 || bufs.length > size) continue;
          q.add(bufs, rnd() < 0.3 ? { indirectAt: 0x40000 + 0x100 * int(256) } : {});
        }
        if (dev instanceof VirtioConsole && rnd() < 0.5) dev.pushInput(new Uint8Array(int(300)).map((_, i) => i & 0xff));
        d.notify(q.index);
        reads.text(JSON.stringify(q.reap()));
        if (rnd() < 0.5) q.setUsedEvent(q.lastUsed);
        if (rnd() < 0.7) reads.text(String(d.ack()));
        continue;
      }
      const n = 1 + int(Math.min(size, 8));
      for (let i = 0; i < n; i++) {
        const [lo, hi] = addr();
        const idx = int(size);
        q.writeDesc(q.desc, idx, 0, 0, 0, 0);
        host.mem.write32(q.desc + 16 * idx, lo);
        host.mem.write32(q.desc + 16 * idx + 4, hi);
        host.mem.write32(q.desc + 16 * idx + 8, len());
        host.mem.write16(q.desc + 16 * idx + 12, rnd() < 0.9 ? int(8) : int(65536));
        host.mem.write16(q.desc + 16 * idx + 14, rnd() < 0.9 ? int(size) : int(65536));
      }
      const tbl = 0x40000 + 16 * int(0x1000);
      for (let i = 0; i < 8; i++) {
        const [lo, hi] = addr();
        host.mem.write32(tbl + 16 * i, lo);
        host.mem.write32(tbl + 16 * i + 4, hi);
        host.mem.write32(tbl + 16 * i + 8, len());
        host.mem.write32(tbl + 16 * i + 12, int(2 ** 32));
      }
      if (rnd() < 0.3) q.writeDesc(q.desc, int(size), tbl, 16 * (1 + int(8)), 4, 0);
      const k = 1 + int(size);
      for (let i = 0; i < k; i++) q.publishHead(rnd() < 0.95 ? int(size) : int(65536), false);
      q.setAvailIdx(rnd() < 0.9 ? q.availIdx : int(65536));
      if (rnd() < 0.3) q.setAvailFlags(int(4));
      if (rnd() < 0.3) q.setUsedEvent(int(65536));
      if (rnd() < 0.05) d.w(4 * int(0x40), int(2 ** 32));
      if (rnd() < 0.05) dev.mmioWrite(0x100 + int(64), ([1, 2, 4] as const)[int(3)], int(2 ** 32));
      if (dev instanceof VirtioConsole && rnd() < 0.5) dev.pushInput(new Uint8Array(int(300)).map((_, i) => (i * 3) & 0xff));
      d.notify(rnd() < 0.95 ? q.index : int(2 ** 32));
      if (rnd() < 0.5) reads.text(String(d.ack()));
      reads.text(String(dev.mmioRead(4 * int(0x400), 4)));
    }
    onRound({ round, which, dev, host, driver: d, rejected: false, reads: reads.h });
  }
  return { disk, hosts };
}

/** The workload recorded as text: per round a digest of the device's events, registers and guest RAM, and every DEVICE_NEEDS_RESET reason. */
export function fuzzTrace(rounds: number): string[] {
  const lines: string[] = [];
  const consoleOut = new Fnv();
  runFuzzWorkload(rounds, ({ round, which, dev, host, rejected, reads }) => {
    if (rejected) { lines.push(`${round} features rejected`); return; }
    const f = new Fnv();
    f.text(JSON.stringify(host.events));
    f.text(JSON.stringify(dev.inspect()));
    if (round % 50 === 49) f.bytes(host.mem.peek(0, RAM));
    lines.push(`${round} dev ${which} ${f.h.toString(16)} ${reads.toString(16)} ${consoleOut.h.toString(16)}`);
    for (const e of host.events) if (e.kind === 'needsReset') lines.push(`${round} needsReset ${e.reason}`);
  }, (b) => consoleOut.bytes(b));
  return lines;
}
