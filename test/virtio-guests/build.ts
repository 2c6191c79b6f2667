// Builds the virtio test guests (nasm + gcc -m32 + ld) into test/.tmp/virtio-guests/, cached by content hash; also runs them on QEMU's microvm.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canBuildC, readSymbols, tools } from '../guests/build.js';

export const VIRTIO_SRC = resolve(dirname(fileURLToPath(import.meta.url)), 'src');
export const VIRTIO_OUT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '.tmp', 'virtio-guests');
export { canBuildC, tools };

/** The guests: each is boot32.asm + the tiny kernel + the virtio-mmio driver + its own main file. */
export const VIRTIO_GUESTS = ['console', 'blk', 'rng', 'noversion', 'blkbench'] as const;
export type VirtioGuestName = (typeof VIRTIO_GUESTS)[number];

const CFLAGS = [
  '-m32', '-O2', '-std=gnu11', '-ffreestanding', '-nostdlib', '-fno-pic', '-fno-pie', '-fno-stack-protector',
  '-fno-asynchronous-unwind-tables', '-mno-sse', '-mno-mmx', '-mno-80387', '-fcf-protection=none', '-Wall', '-Wextra', '-Werror',
  '-Wno-unused-parameter',
];

export interface VirtioGuestBuild {
  name: string;
  /** The Multiboot ELF32 kernel. */
  path: string;
  bytes: Uint8Array;
  symbols: Map<string, bigint>;
}

function run(cmd: string, args: string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`virtio guest build failed: ${cmd} ${args.join(' ')}\n${r.stdout ?? ''}${r.stderr ?? ''}${r.error ?? ''}`);
}

/** Build one guest (cached). `defines` go to gcc, e.g. VIRTIO_MMIO_DEFAULTS for another machine's default windows. */
export function buildVirtioGuest(name: VirtioGuestName, defines: Record<string, string> = {}): VirtioGuestBuild {
  const sources = ['boot32.asm', 'kernel.c', 'virtio-mmio.c', `${name}.c`];
  const h = createHash('sha256').update(JSON.stringify({ name, defines, CFLAGS }));
  for (const f of readdirSync(VIRTIO_SRC).sort()) h.update(f).update(readFileSync(join(VIRTIO_SRC, f)));
  const dir = join(VIRTIO_OUT, `${name}-${h.digest('hex').slice(0, 16)}`);
  const elf = join(dir, `${name}.elf`);
  if (!existsSync(elf)) {
    const tmp = `${dir}.tmp${process.pid}`;
    mkdirSync(tmp, { recursive: true });
    const objs = sources.map((f, i) => {
      const obj = join(tmp, `${i}-${f}.o`);
      if (f.endsWith('.asm')) run('nasm', ['-f', 'elf32', '-o', obj, join(VIRTIO_SRC, f)], tmp);
      else run('gcc', [...CFLAGS, ...Object.entries(defines).map(([k, v]) => `-D${k}=${v}`), '-I', VIRTIO_SRC, '-c', '-o', obj, join(VIRTIO_SRC, f)], tmp);
      return obj;
    });
    // boot32.o first: the Multiboot header must lie in the image's first 8 KiB (Multiboot 0.6.96 §3.1.1).
    run('ld', ['-m', 'elf_i386', '-static', '-nostdlib', '--build-id=none', '-z', 'noexecstack', '-z', 'max-page-size=0x1000',
      '-e', '_start', '-Ttext', '0x100000', '-o', join(tmp, `${name}.elf`), ...objs], tmp);
    try {
      renameSync(tmp, dir);
    } catch {
      // Another worker built the same guest first: identical by construction.
    }
  }
  return { name, path: elf, bytes: new Uint8Array(readFileSync(elf)), symbols: readSymbols(elf) };
}

/** QEMU microvm's virtio-mmio transports (hw/i386/microvm.c: 8 windows of 512 bytes from 0xfeb00000, GSI 5+n with acpi=off, ioapic2=off). */
export const MICROVM_WINDOWS = Array.from({ length: 8 }, (_, n) => ({ base: 0xfeb00000 + n * 0x200, size: 0x200, irq: 5 + n }));
export const MICROVM_CMDLINE = MICROVM_WINDOWS.map((w) => `virtio_mmio.device=512@0x${w.base.toString(16)}:${w.irq}`).join(' ');

export interface MicrovmRun {
  /** Debug-console (port 0xE9) text. */
  debugcon: string;
  /** What the guest sent through virtio-console. */
  console: string;
  /** QEMU's exit status: (v<<1)|1 for isa-debug-exit, null when killed. */
  exitCode: number | null;
  timedOut: boolean;
  stderr: string;
}

export interface MicrovmDevices {
  console?: boolean;
  rng?: boolean;
  /** A raw disk image file for virtio-blk (QEMU writes to it). */
  disk?: string;
  diskSerial?: string;
  diskReadOnly?: boolean;
  /** QEMU's -seed: makes virtio-rng's builtin backend deterministic. */
  seed?: number;
}

/**
 * Run a guest on QEMU's microvm machine (virtio-mmio transports, 8259 PIC, ISA debugcon and debug-exit).
 * The command line lists microvm's windows in Linux's `virtio_mmio.device=` form: QEMU's own automatic
 * command line is not passed to a Multiboot kernel, so the test supplies it.
 */
export function runMicrovm(kernel: string, dev: MicrovmDevices, opts: { timeoutMs?: number; tag?: string } = {}): MicrovmRun {
  const dir = join(VIRTIO_OUT, 'qemu');
  mkdirSync(dir, { recursive: true });
  const tag = `${process.pid}-${opts.tag ?? createHash('sha256').update(JSON.stringify({ kernel, dev })).digest('hex').slice(0, 8)}`;
  const dbg = join(dir, `debugcon-${tag}.txt`);
  const con = join(dir, `console-${tag}.txt`);
  writeFileSync(dbg, '');
  writeFileSync(con, '');
  const args = [
    // acpi=off and ioapic2=off put the transports on GSI 5..12, which also reach the 8259 (with ACPI they are GSI 16..23).
    '-M', 'microvm,pic=on,ioapic2=off,acpi=off,rtc=off,isa-serial=off,auto-kernel-cmdline=off', '-m', '64', '-accel', 'tcg',
    '-display', 'none', '-monitor', 'none', '-serial', 'none', '-nodefaults', '-no-reboot',
    '-device', 'isa-debugcon,iobase=0xe9,chardev=dbg', '-chardev', `file,id=dbg,path=${dbg}`,
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=4',
    '-global', 'virtio-mmio.force-legacy=false',
    '-kernel', kernel, '-append', MICROVM_CMDLINE,
  ];
  if (dev.seed !== undefined) args.push('-seed', String(dev.seed));
  if (dev.console) args.push('-device', 'virtio-serial-device', '-device', 'virtconsole,chardev=con', '-chardev', `file,id=con,path=${con}`);
  if (dev.disk !== undefined) {
    args.push('-drive', `file=${dev.disk},format=raw,if=none,id=disk0,cache=writethrough${dev.diskReadOnly === true ? ',readonly=on' : ''}`,
      '-device', `virtio-blk-device,drive=disk0${dev.diskSerial !== undefined ? `,serial=${dev.diskSerial}` : ''}`);
  }
  if (dev.rng) args.push('-device', 'virtio-rng-device');
  const r = spawnSync('qemu-system-x86_64', args, { timeout: opts.timeoutMs ?? 20_000, encoding: 'utf8' });
  return {
    debugcon: readFileSync(dbg, 'latin1'),
    console: readFileSync(con, 'latin1'),
    exitCode: r.status,
    timedOut: r.error !== undefined || r.signal !== null,
    stderr: r.stderr ?? '',
  };
}
