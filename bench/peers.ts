// The peers benchmark: one integer-loop multiboot kernel (bench/guests/mb-integer.asm) under vmscope, QEMU TCG, v86 and Bochs, each timed as a child process by the difference of two iteration counts.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Instructions per iteration of the loop in mb-integer.asm (add, xor, rol, sub, jnz). */
export const LOOP_INSTRUCTIONS = 5;
/** File offset of the iteration count (a dword) in mb-integer.elf. */
const COUNT_OFFSET = 0x60;
/** The loop counter is ECX (32-bit). */
const MAX_ITERATIONS = 0xffff_ffff;
/** Iterations of the short run whose time (start-up, BIOS, loader, exit) is subtracted from the long run's (the long run's count is calibrated). */
const SMALL_ITERATIONS = 100_000;
/** Loop time the long run aims at (the difference of the two wall times), ms. */
const TARGET_MS = Number(process.env.VMSCOPE_BENCH_PEER_MS ?? 2000);
/** A hung peer is killed after this and counts as absent. */
const TIMEOUT_MS = 120_000;

export type PeerName = 'vmscope' | 'qemuTcg' | 'v86' | 'bochs';
export interface PeerFigure {
  mips: number | null;
  /** What ran (version, how), or why the figure is null. */
  note: string;
}
export type PeerFigures = Record<PeerName, PeerFigure>;

type RunResult = { ok: true; ms: number } | { ok: false; reason: string };

/** One peer: how to tell whether it is installed, and how to run one kernel image to its end. */
interface Peer {
  name: PeerName;
  /** null when the peer can run; else the reason it cannot. */
  unavailable(): string | null;
  describe(): string;
  run(image: string): RunResult;
}

class PeerFailed extends Error {}

function timed(cmd: string, args: string[], check: (status: number | null, stdout: string, stderr: string) => string | null, cwd?: string): RunResult {
  const t0 = performance.now();
  const p = spawnSync(cmd, args, { encoding: 'utf8', timeout: TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 << 20, cwd });
  const ms = performance.now() - t0;
  if (p.error !== undefined) return { ok: false, reason: `${cmd}: ${p.error.message}` };
  if (p.signal !== null) return { ok: false, reason: `${cmd}: killed by ${p.signal}${ms >= TIMEOUT_MS ? ` after ${TIMEOUT_MS} ms` : ''}` };
  const bad = check(p.status, p.stdout, p.stderr);
  return bad === null ? { ok: true, ms } : { ok: false, reason: `${cmd}: ${bad}` };
}

/** The first line of a command's output, or null when it does not run. */
function probe(cmd: string, args: string[]): string | null {
  const p = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (p.error !== undefined || p.status !== 0) return null;
  return (p.stdout || p.stderr).trim().split('\n')[0] ?? '';
}

/** isa-debug-exit (QEMU, vmscope): the kernel writes 0 to port 0xF4, so the process exits with (0 << 1) | 1 = 1. */
function debugExitCheck(status: number | null, stdout: string, stderr: string): string | null {
  if (status !== 1) return `exit status ${status} (expected 1 from isa-debug-exit): ${stderr.trim().slice(-300)}`;
  if (!stdout.includes('D')) return `no 'D' on the serial port: ${stdout.slice(-200)}`;
  return null;
}

function vmscopePeer(root: string): Peer {
  const cli = join(root, 'dist', 'cli.js');
  return {
    name: 'vmscope',
    unavailable: () => (existsSync(cli) ? null : `${cli} is missing (npm run build)`),
    describe: () => `node dist/cli.js run (process start to exit)`,
    run: (image) => timed(process.execPath, [cli, 'run', image, '--format', 'multiboot', '--max-instructions', String(1e12)], debugExitCheck),
  };
}

function qemuPeer(): Peer {
  const exe = 'qemu-system-x86_64';
  let version: string | null | undefined;
  return {
    name: 'qemuTcg',
    unavailable: () => {
      version ??= probe(exe, ['--version']);
      return version === null ? `${exe} is not installed (Debian qemu-system-x86)` : null;
    },
    describe: () => `${(version ?? '').replace(/^QEMU emulator version /, 'QEMU ')}, -accel tcg -kernel`,
    run: (image) =>
      timed(exe, ['-accel', 'tcg', '-kernel', image, '-nographic', '-no-reboot', '-m', '64', '-net', 'none', '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04'], debugExitCheck),
  };
}

function v86Peer(root: string): Peer {
  const child = join(root, 'bench', 'v86-child.mjs');
  const lib = join(root, 'node_modules', 'v86', 'build', 'libv86.mjs');
  const bios = '/usr/share/seabios/bios.bin';
  const vgaBios = '/usr/share/seabios/vgabios-stdvga.bin';
  let version = '';
  return {
    name: 'v86',
    unavailable: () => {
      if (!existsSync(lib)) return 'npm v86 is not installed (node_modules/v86)';
      if (!existsSync(bios) || !existsSync(vgaBios)) return `SeaBIOS is not installed (${bios}, ${vgaBios}: Debian seabios)`;
      try {
        version = (JSON.parse(readFileSync(join(root, 'node_modules', 'v86', 'package.json'), 'utf8')) as { version: string }).version;
      } catch { /* left empty */ }
      return null;
    },
    describe: () => `v86 ${version} (npm, wasm JIT) + SeaBIOS, multiboot option, child node process`,
    run: (image) =>
      timed(process.execPath, [child, image, bios, vgaBios], (status, stdout, stderr) =>
        status === 0 && stdout.includes('D') ? null : `exit status ${status}: ${stderr.trim().slice(-300)}`,
      ),
  };
}

/** The first executable `name` on PATH, or null. */
function onPath(name: string): string | null {
  for (const d of (process.env.PATH ?? '').split(':')) {
    if (d !== '' && existsSync(join(d, name))) return join(d, name);
  }
  return null;
}

/**
 * Bochs (Debian bochs + bochs-term + bochsbios + vgabios): it has no multiboot loader, so the kernel goes on a
 * floppy behind bench/guests/bochs-boot.bin, a boot sector that loads it as a multiboot loader would. Debian's
 * build has the internal debugger, which stops at the first instruction: a command file says `c`. The kernel's
 * "Shutdown" on port 0x8900 ends Bochs (a PANIC made fatal by the configuration, exit status 1).
 */
function bochsPeer(root: string, dir: string): Peer {
  const bios = '/usr/share/bochs/BIOS-bochs-latest';
  const vgaBios = '/usr/share/vgabios/vgabios.bin';
  const boot = join(root, 'bench', 'guests', 'bochs-boot.bin');
  let exe: string | null = null;
  let version = '';
  const rc = join(dir, 'bochs-continue.txt');
  return {
    name: 'bochs',
    unavailable: () => {
      exe = onPath('bochs');
      if (exe === null) return 'bochs is not installed (Debian: bochs bochs-term bochsbios vgabios)';
      for (const f of [bios, vgaBios, boot]) if (!existsSync(f)) return `${f} is missing`;
      writeFileSync(rc, 'c\n');
      return null;
    },
    describe: () => `Bochs${version} (Debian, debugger build, term display), floppy boot sector loads the kernel`,
    run: (image) => {
      const floppy = `${image}.img`;
      const disk = new Uint8Array(1_474_560);
      disk.set(readFileSync(boot), 0);
      disk.set(readFileSync(image), 512);
      writeFileSync(floppy, disk);
      const cfg = `${image}.bochsrc`;
      writeFileSync(cfg, [
        'megs: 64', `romimage: file=${bios}`, `vgaromimage: file=${vgaBios}`, 'display_library: term',
        `floppya: 1_44=${floppy}, status=inserted`, 'boot: floppy', 'mouse: enabled=0', 'log: /dev/null',
        'panic: action=fatal', 'error: action=ignore', 'info: action=ignore', 'debug: action=ignore', '',
      ].join('\n'));
      return timed(exe ?? 'bochs', ['-q', '-f', cfg, '-rc', rc], (status, stdout, stderr) => {
        const out = stdout + stderr;
        const v = /Bochs x86 Emulator ([\d.]+)/.exec(out);
        if (v !== null) version = ` ${v[1]}`;
        return /Shutdown port: shutdown requested/.test(out) ? null : `exit status ${status} without the kernel's shutdown: ${out.trim().slice(-300)}`;
      });
    },
  };
}

/** mb-integer.elf with its iteration count patched, written once per count into `dir`. */
function imageFor(dir: string, kernel: Uint8Array, iterations: number): string {
  const path = join(dir, `mb-integer-${iterations}.elf`);
  if (!existsSync(path)) {
    const b = new Uint8Array(kernel);
    new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(COUNT_OFFSET, iterations, true);
    writeFileSync(path, b);
  }
  return path;
}

/**
 * Guest MIPS of one peer: a warm-up run, a calibration that grows the count until the loop takes >= 500 ms,
 * then `runs` pairs of a short and a long run. The time of (long - short) iterations is the median of the long
 * runs' wall times minus the median of the short runs', so start-up, firmware and exit cancel out, and one slow
 * start (a loaded machine, a JIT warming up) moves neither median much.
 */
function measure(peer: Peer, dir: string, kernel: Uint8Array, runs: number, median: (xs: number[]) => number): number {
  const t = (n: number): number => {
    const r = peer.run(imageFor(dir, kernel, n));
    if (!r.ok) throw new PeerFailed(r.reason);
    return r.ms;
  };
  t(SMALL_ITERATIONS); // warm-up: page cache, wasm compile caches
  let n = 2_000_000;
  let perIterationMs: number;
  for (;;) {
    const d = t(n) - t(SMALL_ITERATIONS);
    if (d >= 500 || n === MAX_ITERATIONS) {
      perIterationMs = Math.max(d, 1) / (n - SMALL_ITERATIONS);
      break;
    }
    n = Math.min(Math.round(n * (d > 0 ? Math.min(16, Math.max(2, 800 / d)) : 8)), MAX_ITERATIONS);
  }
  const big = Math.min(MAX_ITERATIONS, SMALL_ITERATIONS + Math.max(1_000_000, Math.round(TARGET_MS / perIterationMs)));
  const small: number[] = [], long: number[] = [];
  for (let k = 0; k < Math.max(1, runs); k++) {
    // Alternate the order so that a drift in the machine's load falls on both.
    if (k % 2 === 0) { small.push(t(SMALL_ITERATIONS)); long.push(t(big)); } else { long.push(t(big)); small.push(t(SMALL_ITERATIONS)); }
  }
  const d = median(long) - median(small);
  if (!(d > 0)) throw new PeerFailed('the long run was not slower than the short one');
  const mips = (LOOP_INSTRUCTIONS * (big - SMALL_ITERATIONS)) / d / 1000;
  const ms = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' ');
  process.stderr.write(`bench:   ${peer.name}: ${SMALL_ITERATIONS} iterations in ${ms(small)} ms, ${big} in ${ms(long)} ms: ${mips.toFixed(1)} MIPS\n`);
  return mips;
}

export function peerBenchmarks(root: string, dir: string, runs: number, median: (xs: number[]) => number): PeerFigures {
  const kernel = new Uint8Array(readFileSync(join(root, 'bench', 'guests', 'mb-integer.elf')));
  const out = {} as PeerFigures;
  for (const peer of [vmscopePeer(root), qemuPeer(), v86Peer(root), bochsPeer(root, dir)]) {
    const why = peer.unavailable();
    if (why !== null) {
      process.stderr.write(`bench: peers.${peer.name}.mips is null: ${why}\n`);
      out[peer.name] = { mips: null, note: why };
      continue;
    }
    process.stderr.write(`bench: peers.${peer.name} (${peer.describe()})\n`);
    try {
      out[peer.name] = { mips: measure(peer, dir, kernel, runs, median), note: peer.describe() };
    } catch (e) {
      if (!(e instanceof PeerFailed)) throw e;
      process.stderr.write(`bench: peers.${peer.name}.mips is null: ${e.message}\n`);
      out[peer.name] = { mips: null, note: e.message };
    }
  }
  return out;
}
