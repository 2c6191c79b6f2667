// Exit round-trip profile helper: runs bench/guests/cpuid.bin, io.bin and mmio.bin (or the virtio-blk 4 KiB guest) and prints medians, for profilers to run it under.
// Usage (from the project root): npx esbuild bench/profile-exits.ts --bundle --platform=node --format=esm
//   --external:iced-x86 --outfile=/tmp/profile-exits.mjs && node [--cpu-prof] /tmp/profile-exits.mjs [cpuid|io|mmio|blk]
//   (for `blk` add --define:import.meta.url='"file:///work/main/test/virtio-guests/build.ts"' with your checkout's path, as scripts/build.mjs does)
// Machine-code profiles with JavaScript names that stay right when V8 moves code (Linux perf's jitdump):
//   perf record -k 1 -g -D 3000 -e cpu-clock -F 10000 node --perf-prof /tmp/profile-exits.mjs cpuid
//   perf inject --jit -i perf.data -o perf.jit.data && perf report -i perf.jit.data --no-children --sort sym
//   (-D skips start-up and warm-up; perf annotate -s <symbol> shows the hot instructions with bundle line numbers)
// `blk` runs the bench's virtio-blk guest (5000 reads of 4 KiB, needs gcc) and prints requests/s and exits per request.
// Env: VMSCOPE_BENCH_RUNS (default 5), VMSCOPE_BENCH_EXIT_ITERATIONS (default 50000), VMSCOPE_ROOT (default cwd).
// "per CPU second" divides by the process's CPU time, which is steadier than wall time on a shared machine.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Machine, parseLaunchConfig } from '../emulator/index.js';
import { EXIT_REASON } from '../emulator/vmx/exit-reasons.js';
import { runBlkbench } from './blkbench.js';
import { tuneV8 } from '../debug-adapter/v8-tuning.js';

tuneV8();

const ROOT = process.env.VMSCOPE_ROOT ?? process.cwd();
const RUNS = Number(process.env.VMSCOPE_BENCH_RUNS ?? 5);
const ITER = Number(process.env.VMSCOPE_BENCH_EXIT_ITERATIONS ?? 50_000);
const only = process.argv[2];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

for (const [name, reason] of [['cpuid', EXIT_REASON.CPUID], ['io', EXIT_REASON.IO_INSTRUCTION], ['mmio', EXIT_REASON.EPT_VIOLATION]] as const) {
  if (only !== undefined && only !== name) continue;
  const bytes = new Uint8Array(readFileSync(join(ROOT, 'bench', 'guests', `${name}.bin`)));
  new DataView(bytes.buffer).setBigUint64(8, BigInt(ITER), true);
  const config = parseLaunchConfig({ program: name, format: 'flat', cpuMode: 'long' });
  const samples: number[] = [], cpuSamples: number[] = [];
  for (let k = 0; k <= RUNS; k++) {
    const m = new Machine(bytes, config);
    const t0 = performance.now(), c0 = process.cpuUsage();
    const r = m.runToEnd();
    const ms = performance.now() - t0, c1 = process.cpuUsage(c0);
    if (k > 0) cpuSamples.push((ITER / ((c1.user + c1.system) / 1000)) * 1000);
    if (r.status !== 'halted') throw new Error(`${name}: ${r.status} ${r.message ?? ''}`);
    const exits = m.hv!.log.byReason.get(reason)?.count ?? 0;
    if (exits !== ITER) throw new Error(`${name}: ${exits} exits`);
    if (k > 0) samples.push((exits / ms) * 1000);
  }
  console.log(`${name.padEnd(6)} median ${median(samples).toFixed(0).padStart(8)} exits/s   best ${Math.max(...samples).toFixed(0)}   per CPU second ${median(cpuSamples).toFixed(0)} (best ${Math.max(...cpuSamples).toFixed(0)})`);
}

if (only === 'blk') {
  const REQUESTS = 5000;
  const { perSecond, exitsPerRequest } = runBlkbench(REQUESTS, 4096, RUNS);
  console.log(`blk4k  median ${median(perSecond).toFixed(0).padStart(8)} IOPS   best ${Math.max(...perSecond).toFixed(0)}   ${exitsPerRequest.toFixed(2)} exits/request`);
}
