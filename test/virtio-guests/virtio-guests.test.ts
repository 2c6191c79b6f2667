// Runs the virtio guests on vmscope (virtio-console, virtio-blk, virtio-rng over virtio-mmio) and checks output, exit status, the disk image, QueueNotify exits and interrupts.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeDiskOpener } from '../../cli/disk.js';
import { Machine, parseLaunchConfig, type RunResult } from '../../emulator/index.js';
import type { ExitEntry } from '../../emulator/vmm/exit-log.js';
import { buildVirtioGuest, canBuildC, VIRTIO_OUT, type VirtioGuestName } from './build.js';
import {
  blkReadOnlyReport, blkReport, CONSOLE_DEBUGCON, CONSOLE_TEXT, diskAfterBlkGuest, DISK_ID, exitCode, initialDisk,
  noVersionDevice, normaliseInterrupts, RNG_OUTPUT, rngBytes,
} from './expected.js';

/** The guests need well under a million instructions; a stuck driver fails fast. */
const BUDGET = 5_000_000;
const DISK_BYTES = 64 * 1024;
const PLATFORM = ['debugcon', 'debug-exit', 'uart'];
/** virtio-mmio windows of the vmscope platform (README "Virtio devices"). */
const WINDOW = { console: 0xd0000000, blk: 0xd0001000, rng: 0xd0002000 } as const;
const QUEUE_NOTIFY = 0x50; // virtio 1.2 §4.2.2

type DeviceEntry = string | Record<string, unknown>;

/** Whether the launch configuration knows the virtio devices yet (the tests skip until it does). */
const virtioConfigured = (() => {
  try {
    parseLaunchConfig({ program: 'x', devices: [...PLATFORM, 'virtio-console', { type: 'virtio-blk', image: 'disk.img' }, 'virtio-rng'] });
    return true;
  } catch {
    return false;
  }
})();

function scratchDisk(name: string, bytes: Uint8Array): string {
  const dir = join(VIRTIO_OUT, 'disks');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `vmscope-${name}-${process.pid}.img`);
  writeFileSync(path, bytes);
  return path;
}

function runGuest(name: VirtioGuestName, devices: DeviceEntry[]): { r: RunResult; exits: ExitEntry[] } {
  const b = buildVirtioGuest(name);
  // The emulator reads no files: the CLI's disk opener gives it the image (and write-through).
  const m = new Machine(b.bytes, parseLaunchConfig({ program: b.path, maxInstructions: BUDGET, devices: [...PLATFORM, ...devices] }), { openDisk: nodeDiskOpener(process.cwd()) });
  const r = m.runToEnd();
  return { r, exits: m.hv!.log.recent() };
}

/** Values the guest wrote to QueueNotify of the window at `base`, each of which must have been an EPT_VIOLATION exit. */
function queueNotifies(exits: ExitEntry[], base: number): number[] {
  const at = `0x${(base + QUEUE_NOTIFY).toString(16)}`;
  const re = new RegExp(`write ${at} = 0x([0-9a-f]+)`);
  return exits.flatMap((e) => {
    const m = e.note === undefined ? null : re.exec(e.note);
    if (m === null) return [];
    expect(e.name).toBe('EPT_VIOLATION');
    return [parseInt(m[1], 16)];
  });
}

describe.skipIf(!canBuildC || !virtioConfigured)('virtio guests on vmscope', () => {
  it('console input reaches the guest through the receiveq and comes back; completions are injected interrupts', () => {
    const b = buildVirtioGuest('console', { ECHO: '1' });
    const m = new Machine(b.bytes, parseLaunchConfig({ program: b.path, maxInstructions: BUDGET, devices: [...PLATFORM, 'virtio-console'] }));
    expect(m.pushConsoleInput(new TextEncoder().encode('hi there\n'))).toBe(true);
    const r = m.runToEnd();
    expect(r.output).toContain('echo: hi there\n');
    expect(r.status).toBe('debug-exit');
    // The device's interrupt reached the guest as an external interrupt injected at VM entry (IRQ 5 → vector 0x25).
    const injected = m.hv!.log.recent().filter((e) => e.note?.includes('injected vector 0x25'));
    expect(injected.length).toBeGreaterThan(0);
    expect(m.hv!.injected.get(0x25)).toBe(injected.length);
  });

  it('console guest: its lines come out through virtio-console; five QueueNotify exits; interrupts taken', () => {
    const { r, exits } = runGuest('console', ['virtio-console']);
    const n = normaliseInterrupts(r.output);
    expect({ status: r.status, exitCode: r.exitCode, output: n.text, message: r.message }).toEqual({
      status: 'debug-exit', exitCode: exitCode(0), output: CONSOLE_TEXT + CONSOLE_DEBUGCON, message: r.message,
    });
    // The guest's IRQ 5 handler (vector 0x25) runs only for an injected external interrupt: it never executes INT n.
    expect(n.counts[0]).toBeGreaterThan(0);
    // receiveq once (its buffer), then transmitq for: hello, the chain, the batch of five, goodbye.
    expect(queueNotifies(exits, WINDOW.console)).toEqual([0, 1, 1, 1, 1]);
  });

  it('block guest with writeThrough: PASS lines, exit status 0, the pattern in sectors 0-15 of the image file', () => {
    const initial = initialDisk(DISK_BYTES);
    const image = scratchDisk('wt', initial);
    const { r, exits } = runGuest('blk', [{ type: 'virtio-blk', image, writeThrough: true }]);
    const n = normaliseInterrupts(r.output);
    expect({ status: r.status, exitCode: r.exitCode, output: n.text, message: r.message }).toEqual({
      status: 'debug-exit', exitCode: exitCode(0), output: blkReport(DISK_BYTES / 512, DISK_ID), message: r.message,
    });
    expect(n.counts[0]).toBeGreaterThan(0);
    // GET_ID, write, flush, the four reads (one notification), the read past the end.
    expect(queueNotifies(exits, WINDOW.blk)).toEqual([0, 0, 0, 0, 0]);
    expect(Buffer.compare(readFileSync(image), Buffer.from(diskAfterBlkGuest(initial)))).toBe(0);
  });

  it('block guest without writeThrough: the guest reads its own writes, the image file is unchanged', () => {
    const initial = initialDisk(DISK_BYTES, 3);
    const image = scratchDisk('mem', initial);
    const { r } = runGuest('blk', [{ type: 'virtio-blk', image }]);
    expect({ exitCode: r.exitCode, output: normaliseInterrupts(r.output).text }).toEqual({ exitCode: exitCode(0), output: blkReport(DISK_BYTES / 512, DISK_ID) });
    expect(Buffer.compare(readFileSync(image), Buffer.from(initial))).toBe(0);
  });

  it('block guest on a read-only disk: the write gets IOERR and the guest reports two failures', () => {
    const initial = initialDisk(DISK_BYTES, 7);
    const image = scratchDisk('ro', initial);
    const { r } = runGuest('blk', [{ type: 'virtio-blk', image, readOnly: true }]);
    expect({ exitCode: r.exitCode, output: normaliseInterrupts(r.output).text }).toEqual({
      exitCode: exitCode(2), output: blkReadOnlyReport(DISK_BYTES / 512, DISK_ID),
    });
    expect(Buffer.compare(readFileSync(image), Buffer.from(initial))).toBe(0);
  });

  it('rng guest: 64 bytes; the same seed gives the same bytes, another seed others', () => {
    const a = runGuest('rng', [{ type: 'virtio-rng', seed: 1 }]);
    const b = runGuest('rng', [{ type: 'virtio-rng', seed: 1 }]);
    const c = runGuest('rng', [{ type: 'virtio-rng', seed: 2 }]);
    const d = runGuest('rng', ['virtio-rng']);
    for (const { r } of [a, b, c, d]) {
      expect(r.output).toMatch(RNG_OUTPUT);
      expect(r.exitCode).toBe(exitCode(0));
    }
    expect(b.r.output).toBe(a.r.output);
    expect(b.r.instructions).toBe(a.r.instructions);
    expect(rngBytes(c.r.output)).not.toEqual(rngBytes(a.r.output));
    expect(new Set(rngBytes(d.r.output)).size).toBeGreaterThan(16); // not a constant or short cycle
    expect(queueNotifies(a.exits, WINDOW.rng).length).toBeGreaterThan(0);
  });

  it('feature negotiation guest: every device refuses a driver without VERSION_1, then accepts one with it', () => {
    const image = scratchDisk('nov', initialDisk(DISK_BYTES));
    const { r } = runGuest('noversion', ['virtio-console', { type: 'virtio-blk', image }, 'virtio-rng']);
    expect({ status: r.status, exitCode: r.exitCode, output: r.output }).toEqual({
      status: 'debug-exit',
      exitCode: exitCode(0),
      output:
        noVersionDevice('virtio-console', WINDOW.console, false) + noVersionDevice('virtio-blk', WINDOW.blk, false) +
        noVersionDevice('virtio-rng', WINDOW.rng, false) + 'devices 3, FEATURES_OK kept without VERSION_1 by 0\n',
    });
  });

  it('absent devices leave their windows unassigned: the probe reads all ones and finds nothing', () => {
    const { r, exits } = runGuest('noversion', []);
    expect({ exitCode: r.exitCode, output: r.output }).toEqual({ exitCode: exitCode(2), output: 'devices 0, FEATURES_OK kept without VERSION_1 by 0\n' });
    expect(exits.some((e) => e.name === 'EPT_VIOLATION' && /unassigned 0xd0000000/.test(e.note ?? ''))).toBe(true);
  });
});
