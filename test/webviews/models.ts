// Real view models for the picture tests: guests run through the emulator, response bodies from the adapter's MachineTarget, passed through JSON as DAP carries them.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeDiskOpener } from '../../cli/disk.js';
import { MachineTarget } from '../../debug-adapter/machine-target.js';
import type { ExitsArguments, ExitsResponseBody } from '../../debug-adapter/protocol.js';
import { Machine, parseLaunchConfig } from '../../emulator/index.js';
import { eptEntry, put64 } from '../debug-views/helpers.js';

export const TMP = join(__dirname, '..', '.tmp', 'webviews');
const VIEW_GUESTS = join(__dirname, '..', 'debug-views', 'guests');

/** As the DAP transport carries a body. */
export const wire = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

function nasm(name: string): Uint8Array {
  mkdirSync(TMP, { recursive: true });
  const out = join(TMP, `${name}.bin`);
  execFileSync('nasm', ['-f', 'bin', '-o', out, join(VIEW_GUESTS, `${name}.asm`)]);
  return new Uint8Array(readFileSync(out));
}

export function longMachine(name: string): Machine {
  return new Machine(nasm(name), parseLaunchConfig({ program: name, format: 'flat', cpuMode: 'long' }));
}

/** Run until `pred` holds, `step` instructions at a time. */
export function runUntil(m: Machine, pred: () => boolean, limit = 100_000, step = 1): void {
  for (let i = 0; i < limit; i += step) {
    if (pred()) return;
    const r = m.runSlice(step);
    if (typeof r !== 'string') throw new Error('the run ended before the condition held');
  }
  throw new Error('condition not reached');
}


export const P = 1n, RW = 2n, US = 4n, PS = 0x80n, NX = 1n << 63n;

/**
 * The debug-views paging guest with 4-level guest tables the test writes (as test/debug-views does):
 * 0x40005008 → 4 KiB page 0x300000 (NX); 0x40006000 not present; 0x40007000 reserved bit; 0x40200000 its PT in a GPA
 * range EPT does not map; 0x40412345 a 2 MiB page; 0x40600010 a 2 MiB page whose GPA EPT does not map.
 */
export function pagingTarget(): MachineTarget {
  const m = longMachine('paging');
  const hv = m.hv!;
  put64(hv, 0x200000, 0x201000n | P | RW | US);
  put64(hv, 0x201000, 0x202000n | P | RW | US);
  put64(hv, 0x201008, 0x204000n | P | RW | US);
  put64(hv, 0x202000, 0x0n | P | RW | PS);
  put64(hv, 0x204000, 0x203000n | P | RW | US);
  put64(hv, 0x204008, 0x500000n | P | RW | US);
  put64(hv, 0x204010, 0x600000n | P | RW | PS);
  put64(hv, 0x204018, 0x400000n | P | RW | PS);
  put64(hv, 0x203000 + 5 * 8, 0x300000n | P | RW | NX);
  put64(hv, 0x203000 + 6 * 8, 0n);
  put64(hv, 0x203000 + 7 * 8, 0x301000n | P | RW | (1n << 45n));
  const eptPde = eptEntry(hv, 0x400000, 2);
  hv.host.write32(eptPde, hv.host.read32(eptPde) & ~7);
  runUntil(m, () => hv.inGuest && hv.log.total > 0);
  return new MachineTarget(m);
}

/** The loop guest after `exits` VM exits (IO_INSTRUCTION each). */
export function loopTarget(exits: number): MachineTarget {
  const m = longMachine('loop');
  runUntil(m, () => m.hv!.log.total >= exits, exits * 10 + 1000, 100);
  return new MachineTarget(m);
}

/** vmscope/exits as the session answers it (through JSON). */
export const exitsRequest = (t: MachineTarget) => (a: ExitsArguments): Promise<ExitsResponseBody> =>
  Promise.resolve(wire(t.exitsBody(a.start ?? 0, a.count ?? 100)));

/** A virtio guest (test/virtio-guests) stopped while the driver runs and the device has completed multi-descriptor chains, or null when C guests cannot be built. */
export async function virtioTarget(kind: 'console' | 'blk'): Promise<MachineTarget | null> {
  const { buildVirtioGuest, canBuildC } = await import('../virtio-guests/build.js');
  if (!canBuildC) return null;
  const b = buildVirtioGuest(kind, kind === 'console' ? { ECHO: '1' } : {});
  const platform = ['debugcon', 'debug-exit', 'uart'];
  let devices: unknown[];
  if (kind === 'blk') {
    mkdirSync(TMP, { recursive: true });
    const image = join(TMP, 'disk.img'); // all zeros: concurrent writers write the same bytes
    writeFileSync(image, new Uint8Array(64 * 1024));
    devices = [...platform, { type: 'virtio-blk', image }];
  } else devices = [...platform, 'virtio-console'];
  const m = new Machine(b.bytes, parseLaunchConfig({ program: b.path, maxInstructions: 5_000_000, devices }), { openDisk: nodeDiskOpener(process.cwd()) });
  const dev = [...m.virtio.values()][0];
  runUntil(m, () => (dev.inspect().status & 4) !== 0 && dev.inspect().requests.some((x) => x.state === 'completed' && x.descriptorCount > 1), 5_000_000, 200);
  return new MachineTarget(m);
}
