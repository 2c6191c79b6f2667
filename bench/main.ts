// `npm run bench`: guest MIPS for three loops, VM exits per second (CPUID, port output) on vmscope and under KVM, virtio-blk, the wall time of `vmscope run` on hello, and debug-adapter latencies (medians; a benchmark, not a test).
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Machine, parseLaunchConfig } from '../emulator/index.js';
import { buildVirtioGuest, canBuildC } from '../test/virtio-guests/build.js';
import { EXIT_REASON } from '../emulator/vmx/exit-reasons.js';
import { dapBenchmarks } from './dap.js';

/** The project root: dist/bench.mjs lives one level below it. */
const ROOT = join(dirname(process.argv[1]), '..');
const RUNS = Number(process.env.VMSCOPE_BENCH_RUNS ?? 5);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Guest MIPS of one image in long mode: a warm-up run, then RUNS timed runs. */
function mips(name: string): { mips: number; instructions: number } {
  const bytes = new Uint8Array(readFileSync(join(ROOT, 'bench', 'guests', `${name}.bin`)));
  const config = parseLaunchConfig({ program: name, format: 'flat', cpuMode: 'long' });
  const samples: number[] = [];
  let instructions = 0;
  for (let k = 0; k <= RUNS; k++) {
    const m = new Machine(bytes, config);
    const t0 = performance.now();
    const r = m.runToEnd();
    const ms = performance.now() - t0;
    if (r.status !== 'halted') throw new Error(`${name}: guest ended with ${r.status}: ${r.message ?? ''}`);
    instructions = r.instructions;
    if (k > 0) samples.push(r.instructions / ms / 1000);
  }
  return { mips: median(samples), instructions };
}

/** The exit loops (bench/guests/cpuid.asm, io.asm): their iteration count is the qword at offset 8. */
const EXIT_LOOPS = {
  cpuid: { reason: EXIT_REASON.CPUID, vmscopeIterations: Number(process.env.VMSCOPE_BENCH_EXIT_ITERATIONS ?? 50_000), kvmIterations: 200_000 },
  io: { reason: EXIT_REASON.IO_INSTRUCTION, vmscopeIterations: Number(process.env.VMSCOPE_BENCH_EXIT_ITERATIONS ?? 50_000), kvmIterations: 50_000 },
} as const;
type ExitLoop = keyof typeof EXIT_LOOPS;

function exitLoopImage(name: ExitLoop, iterations: number): Uint8Array {
  const bytes = new Uint8Array(readFileSync(join(ROOT, 'bench', 'guests', `${name}.bin`)));
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setBigUint64(8, BigInt(iterations), true);
  return bytes;
}

/** VM exits per second of one exit loop under vmscope's hypervisor: the exits of its reason counted from the exit log. */
function vmscopeExitsPerSecond(name: ExitLoop): number {
  const loop = EXIT_LOOPS[name];
  const bytes = exitLoopImage(name, loop.vmscopeIterations);
  const config = parseLaunchConfig({ program: name, format: 'flat', cpuMode: 'long' });
  const samples: number[] = [];
  for (let k = 0; k <= RUNS; k++) {
    const m = new Machine(bytes, config);
    const t0 = performance.now();
    const r = m.runToEnd();
    const ms = performance.now() - t0;
    if (r.status !== 'halted') throw new Error(`${name}: guest ended with ${r.status}: ${r.message ?? ''}`);
    const exits = m.hv!.log.byReason.get(loop.reason)?.count ?? 0;
    if (exits !== loop.vmscopeIterations) throw new Error(`${name}: ${exits} exits for ${loop.vmscopeIterations} iterations`);
    if (k > 0) samples.push((exits / ms) * 1000);
  }
  return median(samples);
}

/**
 * gcc the KVM harness (bench/kvm/kvm-exits.c) into a temp dir; null (with the reason on stderr) when /dev/kvm
 * is absent or not ours to open, or gcc is missing or fails.
 */
function buildKvmHarness(dir: string): string | null {
  if (!existsSync('/dev/kvm')) return null;
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    console.error('bench: /dev/kvm is not accessible: KVM figures are null');
    return null;
  }
  const exe = join(dir, 'kvm-exits');
  const r = spawnSync('gcc', ['-O2', '-Wall', '-Wextra', '-o', exe, join(ROOT, 'bench', 'kvm', 'kvm-exits.c')], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`bench: building bench/kvm/kvm-exits.c failed: KVM figures are null\n${r.error?.message ?? ''}${r.stderr ?? ''}`);
    return null;
  }
  return exe;
}

/** The same loop under KVM: the harness times the run of N iterations (CPUID exits stay in the kernel, I/O exits reach user space). */
function kvmExitsPerSecond(exe: string | null, dir: string, name: ExitLoop): number | null {
  if (exe === null) return null;
  const loop = EXIT_LOOPS[name];
  const image = join(dir, `${name}.bin`);
  writeFileSync(image, exitLoopImage(name, loop.kvmIterations));
  const samples: number[] = [];
  for (let k = 0; k <= RUNS; k++) {
    const p = spawnSync(exe, [image, String(loop.kvmIterations)], { encoding: 'utf8', timeout: 120_000 });
    let out: { iterations: number; ioExits: number; ns: number } | undefined;
    try {
      out = JSON.parse(p.stdout.trim().split('\n').at(-1) ?? '') as typeof out;
    } catch { /* reported below */ }
    if (p.status !== 0 || out === undefined || !(out.ns > 0)) {
      console.error(`bench: kvm-exits ${name} failed (status ${p.status}${p.error ? `, ${p.error.message}` : ''}): ${(p.stderr ?? '').trim()}`);
      return null;
    }
    if (name === 'io' && out.ioExits !== loop.kvmIterations) {
      console.error(`bench: kvm-exits io saw ${out.ioExits} I/O exits for ${loop.kvmIterations} iterations`);
      return null;
    }
    if (k > 0) samples.push(loop.kvmIterations / (out.ns / 1e9));
  }
  return median(samples);
}

function kvmBackend(): string | null {
  for (const [mod, name] of [['kvm_intel', 'intel'], ['kvm_amd', 'amd'], ['kvm_pvm', 'pvm']] as const) if (existsSync(`/sys/module/${mod}`)) return name;
  return existsSync('/dev/kvm') ? 'unknown' : null;
}

function helloMs(): number {
  const samples: number[] = [];
  for (let k = 0; k <= RUNS; k++) {
    const t0 = performance.now();
    const p = spawnSync(process.execPath, [join(ROOT, 'dist', 'cli.js'), 'run', join(ROOT, 'samples', 'hello', 'hello.elf')], { encoding: 'utf8' });
    const ms = performance.now() - t0;
    if (p.status !== 0 || !p.stdout.includes('Hello, world!')) throw new Error(`hello run failed: status ${p.status} ${p.stderr}`);
    if (k > 0) samples.push(ms);
  }
  return median(samples);
}

const json = process.argv.includes('--json');
const kvmDir = mkdtempSync(join(tmpdir(), 'vmscope-bench-kvm-'));
let kvmExits: { cpuid: number | null; io: number | null };
try {
  const exe = buildKvmHarness(kvmDir);
  kvmExits = { cpuid: kvmExitsPerSecond(exe, kvmDir, 'cpuid'), io: kvmExitsPerSecond(exe, kvmDir, 'io') };
} finally {
  rmSync(kvmDir, { recursive: true, force: true });
}
/**
 * virtio-blk through the guest driver (test/virtio-guests/src/blkbench.c): `requests` reads of `bytes`
 * each, one in flight, interrupts on, against an in-memory 16 MiB disk. Requests per second (median).
 */
function virtioBlkRate(bytes: number, requests: number): number | null {
  if (!canBuildC) return null;
  let image: Uint8Array;
  try {
    image = buildVirtioGuest('blkbench', { REQUESTS: String(requests), BYTES: String(bytes) }).bytes;
  } catch (e) {
    process.stderr.write(`bench: virtio-blk guest did not build: ${(e as Error).message}\n`);
    return null;
  }
  const disk = new Uint8Array(16 * 1024 * 1024);
  const config = parseLaunchConfig({ program: 'blkbench', devices: ['debugcon', 'debug-exit', 'uart', { type: 'virtio-blk', image: 'memory' }] });
  const samples: number[] = [];
  for (let k = 0; k <= RUNS; k++) {
    const m = new Machine(image, config, { openDisk: () => ({ bytes: disk }) });
    const t0 = performance.now();
    const r = m.runToEnd();
    const ms = performance.now() - t0;
    if (r.status !== 'debug-exit' || r.exitCode !== 1) throw new Error(`blkbench ended with ${r.status} ${r.exitCode}: ${r.output}${r.message ?? ''}`);
    if (k > 0) samples.push((requests / ms) * 1000);
  }
  return median(samples);
}

const blk4k = virtioBlkRate(4096, 2000);
const blk64k = virtioBlkRate(65536, 300);
const results = {
  mips: { integer: mips('integer').mips, memcpy: mips('memcpy').mips, calls: mips('calls').mips },
  exitsPerSecond: { cpuid: vmscopeExitsPerSecond('cpuid'), io: vmscopeExitsPerSecond('io') },
  kvm: { backend: kvmExits.cpuid === null && kvmExits.io === null ? null : kvmBackend(), exitsPerSecond: kvmExits },
  virtio: { blk4kIops: blk4k, blk64kMiBs: blk64k === null ? null : (blk64k * 65536) / (1024 * 1024) },
  startup: { helloMs: helloMs() },
  dap: await dapBenchmarks(ROOT, RUNS, median),
};
const ratio = (a: number, b: number | null) => (b === null ? 'n/a' : (a / b).toFixed(3));
const kvmFig = (v: number | null) => (v === null ? 'null' : v.toFixed(0));
const rows: Array<[string, string, string?]> = [
  ['mips.integer', results.mips.integer.toFixed(1)],
  ['mips.memcpy', results.mips.memcpy.toFixed(1)],
  ['mips.calls', results.mips.calls.toFixed(1)],
  ['exitsPerSecond.cpuid', results.exitsPerSecond.cpuid.toFixed(0)],
  ['exitsPerSecond.io', results.exitsPerSecond.io.toFixed(0)],
  ['kvm.exitsPerSecond.cpuid', kvmFig(kvmExits.cpuid), `vmscope/KVM ${ratio(results.exitsPerSecond.cpuid, kvmExits.cpuid)}`],
  ['kvm.exitsPerSecond.io', kvmFig(kvmExits.io), `vmscope/KVM ${ratio(results.exitsPerSecond.io, kvmExits.io)}`],
  ['virtio.blk4kIops', results.virtio.blk4kIops === null ? 'null' : results.virtio.blk4kIops.toFixed(0)],
  ['virtio.blk64kMiBs', results.virtio.blk64kMiBs === null ? 'null' : results.virtio.blk64kMiBs.toFixed(1)],
  ['startup.helloMs', results.startup.helloMs.toFixed(1)],
  ['dap.nextMs.median', results.dap.nextMs.median.toFixed(2)],
  ['dap.nextMs.p99', results.dap.nextMs.p99.toFixed(2)],
  ['dap.farExitMs.none', results.dap.farExitMs.none.toFixed(1), 'continue to a VM-exit breakpoint 1M instructions away'],
  ['dap.farExitMs.1000bps', results.dap.farExitMs.thousandBreakpoints.toFixed(1), `with 1000 instruction breakpoints: ${ratio(results.dap.farExitMs.thousandBreakpoints, results.dap.farExitMs.none)}x`],
  ['dap.vmcsVariablesMs', results.dap.vmcsVariablesMs.toFixed(1), `stackTrace+scopes+variables of ${results.dap.vmcsVariables} VMCS entries`],
];
console.log(`vmscope benchmarks (median of ${RUNS} runs after a warm-up${results.kvm.backend !== null ? `; KVM backend: ${results.kvm.backend}` : '; no KVM'})`);
for (const [k, v, note] of rows) console.log(`  ${k.padEnd(26)} ${v.padStart(10)}${note !== undefined ? `   ${note}` : ''}`);
if (json) console.log(JSON.stringify(results));
