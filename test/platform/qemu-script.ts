// Test helper: port-I/O scripts run on QEMU 7.2 (-machine pc, two UARTs) and on our PC platform, echoing every value read.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IoBus } from '../../emulator/devices/bus.js';
import { createPcPlatform, type PcPlatform } from '../../emulator/devices/pc.js';
import { createPlatformDevices } from '../../emulator/devices/platform.js';
import { Uart16550 } from '../../emulator/devices/uart16550.js';
import { encode, type Op } from '../devices/port-script.js';

export type { Op };
const here = dirname(fileURLToPath(import.meta.url));
export const TMP = join(here, '..', '.tmp', 'platform');
export const RTC_BASE_ISO = '2000-01-01T00:00:00';
export const RTC_BASE = 946684800;

export const out = (port: number, value: number, size: 1 | 2 | 4 = 1): Op => ({ kind: 'out', port, size, value });
export const inp = (port: number, size: 1 | 2 | 4 = 1): Op => ({ kind: 'in', port, size });

export function qemuAvailable(): boolean {
  return spawnSync('qemu-system-x86_64', ['--version']).status === 0 && spawnSync('nasm', ['-v']).status === 0;
}

/** Run on QEMU: COM1 and COM2 present (null backends), RTC from 2000-01-01, `mem` MiB of RAM. */
export function runOnQemu(ops: readonly Op[], tag: string, memMiB = 32): Uint8Array {
  mkdirSync(TMP, { recursive: true });
  const interp = join(TMP, 'port-script.bin');
  if (!existsSync(interp)) execFileSync('nasm', ['-f', 'bin', '-o', interp, join(here, '..', 'devices', 'port-script.asm')]);
  const image = join(TMP, `script-${tag}.bin`);
  const con = join(TMP, `script-${tag}.out`);
  writeFileSync(image, Buffer.concat([readFileSync(interp), Buffer.from(encode([...ops, out(0xf4, 0)]))]));
  writeFileSync(con, '');
  spawnSync(
    'qemu-system-x86_64',
    ['-machine', 'pc', '-accel', 'tcg', '-display', 'none', '-nodefaults', '-no-reboot', '-m', String(memMiB),
      '-rtc', `base=${RTC_BASE_ISO},clock=vm`, '-serial', 'null', '-serial', 'null', '-debugcon', `file:${con}`,
      '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04', '-kernel', image],
    { timeout: 30_000 },
  );
  return new Uint8Array(readFileSync(con));
}

/** Our machine's devices: debugcon, debug-exit, COM1 (IRQ 4), COM2 (IRQ 3) and the PC platform. */
export function modelMachine(memMiB = 32, clock: () => number = () => 0): { bus: IoBus; pc: PcPlatform; out: number[] } {
  const bus = new IoBus();
  const outBytes: number[] = [];
  const pc = createPcPlatform(bus, { clock, memorySize: memMiB * 1024 * 1024, rtcBase: RTC_BASE });
  createPlatformDevices(bus, ['debugcon', 'debug-exit', 'uart'], {
    console: (b, src) => { if (src === 'debugcon') outBytes.push(b); },
    control: { requestExit: () => {} },
    setIrq: (irq, level) => pc.setIrq(irq, level),
    clock,
  });
  const com2 = new Uart16550(() => {}, { base: 0x2f8, name: 'com2', setIrq: (level) => pc.setIrq(3, level), clock });
  bus.mapPorts(0x2f8, 8, com2);
  return { bus, pc, out: outBytes };
}

export function runOnModel(ops: readonly Op[], memMiB = 32): Uint8Array {
  const m = modelMachine(memMiB);
  const res: number[] = [];
  for (const op of ops) {
    if (op.kind === 'out') m.bus.ioWrite(op.port, op.size, op.value);
    else if (op.kind === 'discard') m.bus.ioRead(op.port, 1);
    else {
      const v = m.bus.ioRead(op.port, op.size);
      for (let i = 0; i < op.size; i++) res.push((v >>> (8 * i)) & 0xff);
    }
  }
  return Uint8Array.from(res);
}

/**
 * Compare the bytes read, each under its mask (bits that depend on wall time or on documented
 * differences are masked out). Returns a readable description of the first mismatch, or null.
 */
export function compareReads(ops: readonly Op[], masks: readonly number[], model: Uint8Array, qemu: Uint8Array, labels: readonly string[] = []): string | null {
  if (model.length !== qemu.length) return `length: model ${model.length}, qemu ${qemu.length}`;
  for (let i = 0; i < model.length; i++) {
    const m = masks[i] ?? 0xff;
    if ((model[i] & m) !== (qemu[i] & m)) {
      return `read #${i} (${labels[i] ?? '?'}): model 0x${model[i].toString(16)} qemu 0x${qemu[i].toString(16)} mask 0x${m.toString(16)}`;
    }
  }
  void ops;
  return null;
}

/** Build a script and its per-byte masks and labels together. */
export class Script {
  readonly ops: Op[] = [];
  readonly masks: number[] = [];
  readonly labels: string[] = [];
  w(port: number, value: number, size: 1 | 2 | 4 = 1): this {
    this.ops.push(out(port, value, size));
    return this;
  }
  r(port: number, label: string, mask = 0xff, size: 1 | 2 | 4 = 1): this {
    this.ops.push(inp(port, size));
    for (let i = 0; i < size; i++) {
      this.masks.push(mask === 0xff ? 0xff : (mask >>> (8 * i)) & 0xff);
      this.labels.push(`${label}${size > 1 ? `[${i}]` : ''}`);
    }
    return this;
  }
}
