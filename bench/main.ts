// `npm run bench`: guest MIPS (three loops, and one multiboot kernel beside QEMU TCG, v86 and Bochs), VM exits per second on vmscope and under KVM, virtio-blk, `vmscope run` start-up and sparse 4 GiB memory, debug-adapter latencies (medians; a benchmark, not a test).
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Machine, parseLaunchConfig } from '../emulator/index.js';
import { canBuildC } from '../test/virtio-guests/build.js';
import { runBlkbench } from './blkbench.js';
import { EXIT_LOOPS, type ExitLoop, exitLoopImage, timeExitLoop } from './exit-loops.js';
import { dapBenchmarks } from './dap.js';
import { peerBenchmarks } from './peers.js';
import { memoryBenchmarks } from './memory.js';
import { historyBenchmarks } from './history.js';
import { GROUPS, type Group, type Results, renderTable } from './report.js';
import { tuneV8 } from '../debug-adapter/v8-tuning.js';

/** The project root: dist/bench.mjs lives one level below it. */
const ROOT = join(dirname(process.argv[1]), '..');
const RUNS = Number(process.env.VMSCOPE_BENCH_RUNS ?? 5);
/** As `vmscope run` and the adapter process: the benchmarks measure the V8 settings those run with. */
const v8Flags = tuneV8();

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

/** VM exits per second of one exit loop under vmscope's hypervisor: the exits of its reason counted from the exit log. */
function vmscopeExitsPerSecond(name: ExitLoop): number {
  const iterations = EXIT_LOOPS[name].vmscopeIterations;
  const bytes = exitLoopImage(ROOT, name, iterations);
  const samples: number[] = [];
  // Untimed runs first: V8 settles the exit path over the first half million exits or so (the runs print: the first
  // two ran at 2-3 M exits/s and the third was still rising in three runs of four).
  const WARM = 3;
  const all: number[] = [];
  for (let k = 0; k < WARM + RUNS; k++) {
    const perSecond = timeExitLoop(name, bytes, iterations);
    all.push(perSecond);
    if (k >= WARM) samples.push(perSecond);
  }
  process.stderr.write(`bench:   ${name}: ${all.map((x) => (x / 1e6).toFixed(2)).join(' ')} M exits/s (the first ${WARM} untimed)\n`);
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
  writeFileSync(image, exitLoopImage(ROOT, name, loop.kvmIterations));
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

/**
 * virtio-blk through the guest driver (test/virtio-guests/src/blkbench.c): `requests` reads of `bytes`
 * each, one in flight, interrupts on, against an in-memory 16 MiB disk. Requests per second (median) over the request loop, not the guest's boot (runBlkbench).
 */
function virtioBlkRate(bytes: number, requests: number): number | null {
  if (!canBuildC) return null;
  try {
    return median(runBlkbench(requests, bytes, RUNS).perSecond);
  } catch (e) {
    process.stderr.write(`bench: virtio-blk: ${(e as Error).message}\n`);
    return null;
  }
}

/** Options: --json (the last stdout line is one JSON object), --only=group[,group] (GROUPS in bench/report.ts). VMSCOPE_BENCH_RUNS (default 5): timed runs after a warm-up. */
function parseOnly(argv: string[]): Set<Group> {
  const arg = argv.find((a) => a.startsWith('--only='));
  if (arg === undefined) return new Set(GROUPS);
  const names = arg.slice('--only='.length).split(',').map((s) => s.trim()).filter((s) => s !== '');
  const bad = names.filter((n) => !(GROUPS as readonly string[]).includes(n));
  if (bad.length > 0 || names.length === 0) {
    process.stderr.write(`bench: --only takes a comma-separated list of ${GROUPS.join(', ')}; got ${JSON.stringify(arg)}\n`);
    process.exit(2);
  }
  return new Set(names as Group[]);
}

const json = process.argv.includes('--json');
const only = parseOnly(process.argv.slice(2));
const results: Results = {};
const started = performance.now();
/**
 * Groups that run guests in this process. With other groups selected too, each runs in a child process of its own
 * (`--only=<group>`), as `vmscope run` runs one guest per process: in one shared process the guests, translated code and
 * garbage of the groups before made a figure depend on the order (virtio-blk measured 20-30 % lower after the others).
 */
const IN_PROCESS: ReadonlySet<Group> = new Set<Group>(['mips', 'exitsPerSecond', 'virtio']);

/** Runs one group when selected, with its progress on stderr. */
async function group<T>(name: Group, f: () => T | Promise<T>): Promise<T | undefined> {
  if (!only.has(name)) return undefined;
  const t0 = performance.now();
  process.stderr.write(`bench: ${name} ...\n`);
  const r = only.size > 1 && IN_PROCESS.has(name) ? inChild<T>(name) : await f();
  process.stderr.write(`bench: ${name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  return r;
}

/** The results of one group measured by `node <this script> --only=<name> --json` (its last stdout line). */
function inChild<T>(name: Group): T {
  const c = spawnSync(process.execPath, [process.argv[1], `--only=${name}`, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  const last = (c.stdout ?? '').trim().split('\n').pop() ?? '';
  if (c.status !== 0 || !last.startsWith('{')) throw new Error(`bench: the ${name} group's process ended with status ${c.status}${c.error ? ` (${c.error.message})` : ''}`);
  return (JSON.parse(last) as Record<string, unknown>)[name] as T;
}

const work = mkdtempSync(join(tmpdir(), 'vmscope-bench-'));
try {
  results.mips = await group('mips', () => ({ integer: mips('integer').mips, memcpy: mips('memcpy').mips, calls: mips('calls').mips }));
  results.exitsPerSecond = await group('exitsPerSecond', () => ({ cpuid: vmscopeExitsPerSecond('cpuid'), io: vmscopeExitsPerSecond('io') }));
  results.kvm = await group('kvm', () => {
    const exe = buildKvmHarness(work);
    const exitsPerSecond = { cpuid: kvmExitsPerSecond(exe, work, 'cpuid'), io: kvmExitsPerSecond(exe, work, 'io') };
    return { backend: exitsPerSecond.cpuid === null && exitsPerSecond.io === null ? null : kvmBackend(), exitsPerSecond };
  });
  results.peers = await group('peers', () => peerBenchmarks(ROOT, work, RUNS, median));
  results.virtio = await group('virtio', () => {
    const blk4k = virtioBlkRate(4096, 5000);
    const blk64k = virtioBlkRate(65536, 300);
    return { blk4kIops: blk4k, blk64kMiBs: blk64k === null ? null : (blk64k * 65536) / (1024 * 1024) };
  });
  results.startup = await group('startup', () => ({ helloMs: helloMs() }));
  results.dap = await group('dap', async () => {
    const d = await dapBenchmarks(ROOT, RUNS, median);
    return { stepMs: { p50: d.nextMs.median, p99: d.nextMs.p99 }, breakpointOverhead: d.breakpointRatio, ...d };
  });
  results.memory = await group('memory', () => memoryBenchmarks(ROOT, work, RUNS, median));
  results.history = await group('history', () => historyBenchmarks(ROOT, RUNS));
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.stderr.write(`bench: finished in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);

const kvmNote = results.kvm === undefined ? '' : results.kvm.backend !== null ? `; KVM backend: ${results.kvm.backend}` : '; no KVM';
const v8Note = v8Flags.length > 0 ? `; V8 ${v8Flags.join(' ')}` : '; V8 defaults';
console.log(`vmscope benchmarks (median of ${RUNS} runs after a warm-up${kvmNote}${v8Note})`);
for (const line of renderTable(results)) console.log(line);
if (json) console.log(JSON.stringify(results));
