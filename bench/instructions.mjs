// Host instructions per VM exit (CPUID, port-I/O or MMIO-read loop) or per virtio-blk request, counted under valgrind: a deterministic measure where wall time is noise.
// Usage (from the project root): node bench/instructions.mjs cpuid|io|mmio|blk [count]
// Builds bench/instructions-harness.ts, runs it twice under `valgrind --tool=cachegrind` (both after the same warm-up
// runs; the measured run has `count` and 3 × `count` iterations) and prints the difference divided by 2 × count:
// the marginal cost of one exit or request, without start-up, compilation and warm-up. Needs valgrind (Debian:
// `apt-get install valgrind`); takes about a minute. V8 runs single-threaded (--single-threaded) so the count does
// not depend on background compilation; two runs of the same build agree within about 1 %.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const kind = process.argv[2] ?? 'cpuid';
const count = Number(process.argv[3] ?? (kind === 'blk' ? 5000 : 50_000));
if (!['cpuid', 'io', 'mmio', 'blk'].includes(kind) || !(count > 0)) {
  console.error('usage: node bench/instructions.mjs cpuid|io|mmio|blk [count]');
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

function run(n) {
  const out = join(dir, `cg.${n}`);
  return new Promise((done, fail) => {
    const env = { ...process.env, VMSCOPE_ROOT: root, VMSCOPE_IR_KIND: kind, VMSCOPE_IR_COUNT: String(n), VMSCOPE_IR_WARM_COUNT: String(count) };
    const p = spawn('valgrind', ['--tool=cachegrind', '--cache-sim=no', '--smc-check=all', `--cachegrind-out-file=${out}`,
      process.execPath, '--single-threaded', bundle], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (code) => {
      const m = /I\s+refs:\s+([\d,]+)/.exec(err);
      if (code !== 0 || m === null) fail(new Error(`valgrind run failed (${code}):\n${err.slice(-2000)}`));
      else done(Number(m[1].replaceAll(',', '')));
    });
  });
}

try {
  const [one, three] = await Promise.all([run(count), run(3 * count)]);
  const per = (three - one) / (2 * count);
  console.log(`${kind}: ${Math.round(per)} host instructions per ${kind === 'blk' ? 'request' : 'exit'} (marginal, ${count} vs ${3 * count})`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
