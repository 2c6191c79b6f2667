// Runs the virtio guests on QEMU's microvm (virtio-mmio transports, real virtio devices) to check the drivers and the texts in expected.ts against a reference.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildVirtioGuest, canBuildC, MICROVM_WINDOWS, runMicrovm, tools, VIRTIO_OUT } from './build.js';
import {
  blkReadOnlyReport, blkReport, CONSOLE_DEBUGCON, CONSOLE_TEXT, diskAfterBlkGuest, DISK_ID, exitCode, initialDisk,
  noVersionDevice, normaliseInterrupts, RNG_OUTPUT, rngBytes,
} from './expected.js';

const DISK_BYTES = 64 * 1024;

function scratchDisk(name: string, bytes: Uint8Array): string {
  const dir = join(VIRTIO_OUT, 'disks');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}-${process.pid}.img`);
  writeFileSync(path, bytes);
  return path;
}

describe.skipIf(!canBuildC || !tools.qemu)('virtio guests on QEMU microvm (reference devices)', () => {
  it('console guest: its lines arrive on the virtconsole, interrupts are taken, exit status 0', () => {
    const r = runMicrovm(buildVirtioGuest('console').path, { console: true });
    const n = normaliseInterrupts(r.debugcon);
    expect({ console: r.console, debugcon: n.text, exitCode: r.exitCode, timedOut: r.timedOut }).toEqual({
      console: CONSOLE_TEXT, debugcon: CONSOLE_DEBUGCON, exitCode: exitCode(0), timedOut: false,
    });
    expect(n.counts[0]).toBeGreaterThan(0);
  });

  it('block guest: PASS lines, the pattern is in sectors 0-15 of the image file and nothing else changed', () => {
    const initial = initialDisk(DISK_BYTES);
    const disk = scratchDisk('blk', initial);
    const r = runMicrovm(buildVirtioGuest('blk').path, { disk, diskSerial: DISK_ID });
    const n = normaliseInterrupts(r.debugcon);
    expect({ debugcon: n.text, exitCode: r.exitCode }).toEqual({ debugcon: blkReport(DISK_BYTES / 512, DISK_ID), exitCode: exitCode(0) });
    expect(n.counts[0]).toBeGreaterThan(0);
    expect(Buffer.compare(readFileSync(disk), Buffer.from(diskAfterBlkGuest(initial)))).toBe(0);
  });

  it('block guest on a read-only disk: VIRTIO_BLK_F_RO, the write gets IOERR, the file is unchanged', () => {
    const initial = initialDisk(DISK_BYTES, 7);
    const disk = scratchDisk('blk-ro', initial);
    const r = runMicrovm(buildVirtioGuest('blk').path, { disk, diskSerial: DISK_ID, diskReadOnly: true });
    expect({ debugcon: normaliseInterrupts(r.debugcon).text, exitCode: r.exitCode }).toEqual({
      debugcon: blkReadOnlyReport(DISK_BYTES / 512, DISK_ID), exitCode: exitCode(2),
    });
    expect(Buffer.compare(readFileSync(disk), Buffer.from(initial))).toBe(0);
  });

  it('rng guest: 64 bytes in hex; the same -seed gives the same bytes, another seed others', () => {
    const k = buildVirtioGuest('rng').path;
    const a = runMicrovm(k, { rng: true, seed: 1 }, { tag: 'rng-a' });
    const b = runMicrovm(k, { rng: true, seed: 1 }, { tag: 'rng-b' });
    const c = runMicrovm(k, { rng: true, seed: 2 }, { tag: 'rng-c' });
    for (const r of [a, b, c]) {
      expect(r.debugcon).toMatch(RNG_OUTPUT);
      expect(r.exitCode).toBe(exitCode(0));
    }
    expect(b.debugcon).toBe(a.debugcon);
    expect(rngBytes(c.debugcon)).not.toEqual(rngBytes(a.debugcon));
  });

  it('feature negotiation guest: QEMU keeps FEATURES_OK without VERSION_1 (it falls back to legacy semantics)', () => {
    // QEMU's virtio_set_status() validates features only when VERSION_1 was negotiated, so a driver without it
    // is treated as a legacy driver even on a virtio-mmio version 2 transport; vmscope's devices refuse it instead
    // (§6.1 allows both). QEMU gives the first -device the last transport (console, blk, rng → 7, 6, 5).
    const disk = scratchDisk('nov', initialDisk(DISK_BYTES));
    const r = runMicrovm(buildVirtioGuest('noversion').path, { console: true, disk, rng: true });
    const w = MICROVM_WINDOWS;
    expect({ debugcon: r.debugcon, exitCode: r.exitCode }).toEqual({
      debugcon:
        noVersionDevice('virtio-rng', w[5].base, true) + noVersionDevice('virtio-blk', w[6].base, true) +
        noVersionDevice('virtio-console', w[7].base, true) + 'devices 3, FEATURES_OK kept without VERSION_1 by 3\n',
      exitCode: exitCode(1),
    });
  });

  it('a guest finds no device in empty transports (DeviceID 0) and says so', () => {
    const r = runMicrovm(buildVirtioGuest('noversion').path, {});
    expect({ debugcon: r.debugcon, exitCode: r.exitCode }).toEqual({ debugcon: 'devices 0, FEATURES_OK kept without VERSION_1 by 0\n', exitCode: exitCode(2) });
  });
});
