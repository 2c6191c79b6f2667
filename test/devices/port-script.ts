// Test helper: a port-I/O script run two ways — on real QEMU (port-script.asm as a multiboot guest) and on our devices.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IoBus, type PortSize } from '../../emulator/devices/bus.js';
import { createPlatformDevices } from '../../emulator/devices/platform.js';

export type Op =
  | { kind: 'out'; port: number; size: PortSize; value: number }
  | { kind: 'in'; port: number; size: PortSize }
  | { kind: 'discard'; port: number };

const here = dirname(fileURLToPath(import.meta.url));
export const TMP = join(here, '..', '.tmp', 'devices');

export function encode(ops: readonly Op[]): Uint8Array {
  const out: number[] = [];
  for (const op of ops) {
    const code = op.kind === 'out' ? [0, 1, 2, 0, 3][op.size] : op.kind === 'in' ? [0, 4, 5, 0, 6][op.size] : 7;
    out.push(code, op.port & 0xff, op.port >> 8);
    if (op.kind === 'out') for (let i = 0; i < op.size; i++) out.push((op.value >>> (8 * i)) & 0xff);
  }
  out.push(0, 0, 0);
  return Uint8Array.from(out);
}

export function qemuAvailable(): boolean {
  return spawnSync('qemu-system-x86_64', ['--version']).status === 0 && spawnSync('nasm', ['-v']).status === 0;
}

/** Run the script on QEMU (TCG, pc machine, COM1 with a null backend). Returns the debugcon bytes and exit status. */
export function runOnQemu(ops: readonly Op[], tag: string): { out: Uint8Array; status: number | null } {
  mkdirSync(TMP, { recursive: true });
  const interp = join(TMP, 'port-script.bin');
  if (!existsSync(interp)) execFileSync('nasm', ['-f', 'bin', '-o', interp, join(here, 'port-script.asm')]);
  const image = join(TMP, `script-${tag}.bin`);
  const con = join(TMP, `script-${tag}.out`);
  const base = readFileSync(interp);
  writeFileSync(image, Buffer.concat([base, Buffer.from(encode(ops))]));
  writeFileSync(con, '');
  const r = spawnSync(
    'qemu-system-x86_64',
    ['-machine', 'pc', '-accel', 'tcg', '-display', 'none', '-nodefaults', '-no-reboot', '-m', '32',
      '-serial', 'null', '-debugcon', `file:${con}`, '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04', '-kernel', image],
    { timeout: 30_000 },
  );
  return { out: new Uint8Array(readFileSync(con)), status: r.status };
}

/** The same script on our bus and devices (same interpreter semantics: reads echoed low byte first). */
export function runOnModel(ops: readonly Op[]): { out: Uint8Array; exitCode: number | null; readOffsets: number[] } {
  const out: number[] = [];
  const readOffsets: number[] = [];
  let exitCode: number | null = null;
  const bus = new IoBus();
  // The UART's clock stands still: the character timeout never elapses, as in the QEMU run where the
  // divisor keeps one character time above a second.
  createPlatformDevices(bus, ['debugcon', 'debug-exit', 'uart'], {
    console: (b, src) => {
      if (src === 'debugcon') out.push(b);
    },
    control: { requestExit: (c) => { if (exitCode === null) exitCode = c; } },
    clock: () => 0,
  });
  for (const op of ops) {
    if (exitCode !== null) break;
    if (op.kind === 'out') bus.ioWrite(op.port, op.size, op.value);
    else if (op.kind === 'discard') bus.ioRead(op.port, 1);
    else {
      const v = bus.ioRead(op.port, op.size);
      readOffsets.push(out.length);
      for (let i = 0; i < op.size; i++) out.push((v >>> (8 * i)) & 0xff);
    }
  }
  return { out: Uint8Array.from(out), exitCode, readOffsets };
}
