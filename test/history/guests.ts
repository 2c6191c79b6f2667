// Guests for the time-travel tests: a compute loop, timer interrupts, virtio-blk, and samples with exits of many kinds.
import { readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Machine, parseLaunchConfig, type MachineHost } from '../../emulator/index.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface HistoryGuest {
  name: string;
  /** A fresh machine; `console` gets every byte given to the host. */
  make(console: (b: number) => void): Machine;
}

const sample = (dir: string, extra: Record<string, unknown> = {}, host: MachineHost = {}): HistoryGuest['make'] => (console) => {
  const bytes = new Uint8Array(readFileSync(join(ROOT, 'samples', dir, `${dir}.elf`)));
  const cfg = parseLaunchConfig({ program: `${dir}.elf`, maxInstructions: 50_000_000, ...extra });
  return new Machine(bytes, cfg, { ...host, onConsole: (b) => console(b) });
};

export const GUESTS: HistoryGuest[] = [
  {
    name: 'compute loop (bench memcpy, long mode)',
    make: (console) => {
      const bytes = new Uint8Array(readFileSync(join(ROOT, 'bench', 'guests', 'memcpy.bin')));
      return new Machine(bytes, parseLaunchConfig({ program: 'memcpy', format: 'flat', cpuMode: 'long', maxInstructions: 50_000_000 }), { onConsole: (b) => console(b) });
    },
  },
  { name: 'timer interrupts (09: PIT + PIC, HLT, interrupt windows, preemption timer)', make: sample('09-interrupts') },
  { name: 'exits of many kinds (01: CPUID, I/O, MSR, CR, HLT, ...)', make: sample('01-trap-and-emulate') },
  { name: 'MSR bitmaps (04)', make: sample('04-msr-bitmaps') },
  { name: 'EPT violations and MMIO (08)', make: sample('08-mmio') },
  {
    name: 'virtio-blk + virtio-console (11)',
    make: sample('11-virtio', {
      devices: ['debugcon', 'debug-exit', 'uart', 'virtio-console', { type: 'virtio-blk', image: 'disk.img', readOnly: true }],
    }, { openDisk: () => ({ bytes: new Uint8Array(readFileSync(join(ROOT, 'samples', '11-virtio', 'disk.img'))) }) }),
  },
];
