// `npm run bench`: guest MIPS for three loops and the wall time of `vmscope run` on the hello guest (medians; a benchmark, not a test).
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Machine, parseLaunchConfig } from '../emulator/index.js';

const ROOT = join(__dirname, '..');
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
const results = {
  mips: { integer: mips('integer').mips, memcpy: mips('memcpy').mips, calls: mips('calls').mips },
  startup: { helloMs: helloMs() },
};
const rows: Array<[string, string]> = [
  ['mips.integer', results.mips.integer.toFixed(1)],
  ['mips.memcpy', results.mips.memcpy.toFixed(1)],
  ['mips.calls', results.mips.calls.toFixed(1)],
  ['startup.helloMs', results.startup.helloMs.toFixed(1)],
];
console.log(`vmscope benchmarks (median of ${RUNS} runs after a warm-up)`);
for (const [k, v] of rows) console.log(`  ${k.padEnd(20)} ${v.padStart(10)}`);
if (json) console.log(JSON.stringify(results));
