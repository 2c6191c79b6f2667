// Host instructions per VM exit (CPUID, port-I/O or MMIO-read loop) or per virtio-blk request, counted under valgrind: a deterministic measure where wall time is noise.
// Usage (from the project root): node bench/instructions.mjs cpuid|io|mmio|blk [count] [--functions]
// Builds bench/instructions-harness.ts, runs it twice under `valgrind --tool=cachegrind` (both after the same warm-up
// runs; the measured run has `count` and 3 × `count` iterations) and prints the difference divided by 2 × count:
// the marginal cost of one exit or request, without start-up, compilation and warm-up. Needs valgrind (Debian:
// `apt-get install valgrind`); takes about a minute. V8 runs single-threaded (--single-threaded) so the count does
// not depend on background compilation; two runs of the same build agree within about 1 %.
// --functions splits the count by function: callgrind instead of cachegrind, with V8's --perf-basic-prof map
// (/tmp/perf-PID.map) naming the JavaScript code at each address (`*name` is optimized code, `^` baseline,
// `~` interpreted), the difference of the two runs per function divided by 2 × count, largest first.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2).filter((a) => a !== '--functions');
const byFunction = args.length !== process.argv.length - 2;
const kind = args[0] ?? 'cpuid';
const count = Number(args[1] ?? (kind === 'blk' ? 5000 : 50_000));
if (!['cpuid', 'io', 'mmio', 'blk'].includes(kind) || !(count > 0)) {
  console.error('usage: node bench/instructions.mjs cpuid|io|mmio|blk [count] [--functions]');
  process.exit(2);
}
try { execFileSync('valgrind', ['--version'], { stdio: 'ignore' }); } catch {
  console.error('bench/instructions.mjs needs valgrind (Debian: apt-get install valgrind)');
  process.exit(2);
}
const root = process.cwd();
const dir = mkdtempSync(join(tmpdir(), 'vmscope-ir-'));
const bundle = join(dir, 'harness.mjs');
// As scripts/build.mjs: the virtio guests are built from the checkout (import.meta.url of test/virtio-guests/build.ts).
execFileSync('npx', ['esbuild', 'bench/instructions-harness.ts', '--bundle', '--platform=node', '--format=esm', '--log-level=error',
  '--external:iced-x86', `--outfile=${bundle}`, `--define:import.meta.url=${JSON.stringify(pathToFileURL(resolve(root, 'test/virtio-guests/build.ts')).href)}`], { stdio: 'inherit' });

/** One valgrind run of the harness with `n` measured iterations: its instruction count and its output file's path. */
function run(n) {
  const out = join(dir, `cg.${n}`);
  return new Promise((done, fail) => {
    const env = { ...process.env, VMSCOPE_ROOT: root, VMSCOPE_IR_KIND: kind, VMSCOPE_IR_COUNT: String(n), VMSCOPE_IR_WARM_COUNT: String(count) };
    const tool = byFunction ? ['--tool=callgrind', `--callgrind-out-file=${out}`] : ['--tool=cachegrind', '--cache-sim=no', `--cachegrind-out-file=${out}`];
    const node = byFunction ? ['--single-threaded', '--perf-basic-prof'] : ['--single-threaded'];
    // In the temp dir: with --perf-basic-prof V8 also leaves an isolate-*.log in its working directory.
    const p = spawn('valgrind', [...tool, '--smc-check=all', process.execPath, ...node, bundle], { env, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (code) => {
      const m = /I\s+refs:\s+([\d,]+)/.exec(err);
      if (code !== 0 || m === null) fail(new Error(`valgrind run failed (${code}):\n${err.slice(-2000)}`));
      else done({ total: Number(m[1].replaceAll(',', '')), out });
    });
  });
}

/**
 * Instructions by function of one callgrind run: callgrind_annotate's per-function totals, the unnamed ones (V8's
 * generated code, `???:0x…`) named from the run's perf map (/tmp/perf-PID.map, written by --perf-basic-prof).
 */
function byFunctionOf(out) {
  const pid = /^pid: (\d+)/m.exec(readFileSync(out, 'utf8').slice(0, 4000))?.[1];
  const mapFile = `/tmp/perf-${pid}.map`;
  const code = [];
  for (const line of readFileSync(mapFile, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
    if (m) code.push([parseInt(m[1], 16), parseInt(m[2], 16), m[3].replace(/ file:\/\/\S+?:(\d+):\d+$/, ':$1')]);
  }
  rmSync(mapFile, { force: true });
  code.sort((a, b) => a[0] - b[0]);
  const nameAt = (addr) => {
    let lo = 0, hi = code.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (code[mid][0] <= addr) lo = mid + 1; else hi = mid - 1;
    }
    const e = code[hi];
    return e !== undefined && addr < e[0] + e[1] ? e[2] : `0x${addr.toString(16)}`;
  };
  const text = execFileSync('callgrind_annotate', ['--threshold=100', out], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const totals = new Map();
  for (const line of text.split('\n')) {
    const m = /^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$/.exec(line);
    if (m === null || m[2] === 'PROGRAM TOTALS') continue;
    const at = /^\?\?\?:0x([0-9a-f]+) \[\?\?\?\]$/.exec(m[2]);
    const name = at !== null ? nameAt(parseInt(at[1], 16)) : m[2].replace(/ \[.*\]$/, '').replace(/^.*?:(?=[^:]*\()/, '');
    totals.set(name, (totals.get(name) ?? 0) + Number(m[1].replaceAll(',', '')));
  }
  return totals;
}

try {
  const [one, three] = await Promise.all([run(count), run(3 * count)]);
  const per = (three.total - one.total) / (2 * count);
  console.log(`${kind}: ${Math.round(per)} host instructions per ${kind === 'blk' ? 'request' : 'exit'} (marginal, ${count} vs ${3 * count})`);
  if (byFunction) {
    const a = byFunctionOf(one.out), b = byFunctionOf(three.out);
    const rows = [...new Set([...a.keys(), ...b.keys()])].map((k) => [k, ((b.get(k) ?? 0) - (a.get(k) ?? 0)) / (2 * count)]);
    rows.sort((x, y) => y[1] - x[1]);
    for (const [name, n] of rows.slice(0, 25)) if (Math.abs(n) >= 1) console.log(`${n.toFixed(1).padStart(10)}  ${name.slice(0, 110)}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
