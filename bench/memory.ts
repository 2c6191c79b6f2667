// The sparse-memory benchmark: max RSS of `vmscope run` with 4 GiB of guest RAM whose guest (bench/guests/sparse.asm) touches 16 MiB, beside the same run with 64 MiB.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface MemoryFigures {
  /** Max RSS (MiB) of the child running sparse.elf with --memory 4096. */
  sparse4GiBMiB: number | null;
  /** The same run with --memory 64 (the node process and the emulator without the large RAM). */
  sparse64MiBMiB: number | null;
  /** How max RSS was read: /usr/bin/time -f %M, or process.resourceUsage() in the child. */
  method: string;
}

const TIME = '/usr/bin/time';

/** A preload for the child when /usr/bin/time is absent: prints the process's own max RSS (KiB) on stderr at exit. */
const PRELOAD = `// bench: prints this process's max RSS at exit (process.resourceUsage().maxRSS, KiB).
process.on('exit', () => { require('node:fs').writeSync(2, '\\nvmscope-bench-maxrss ' + process.resourceUsage().maxRSS + '\\n'); });
`;

/** Max RSS in KiB of one `vmscope run sparse.elf --memory <mib>`, or the reason it failed. */
function maxRssKiB(root: string, dir: string, mib: number): { kib: number } | { reason: string } {
  const cliArgs = [join(root, 'dist', 'cli.js'), 'run', join(root, 'bench', 'guests', 'sparse.elf'), '--format', 'multiboot', '--memory', String(mib)];
  let p;
  if (existsSync(TIME)) {
    p = spawnSync(TIME, ['-f', 'vmscope-bench-maxrss %M', process.execPath, ...cliArgs], { encoding: 'utf8', timeout: 120_000 });
  } else {
    const preload = join(dir, 'maxrss-preload.cjs');
    writeFileSync(preload, PRELOAD);
    p = spawnSync(process.execPath, ['--require', preload, ...cliArgs], { encoding: 'utf8', timeout: 120_000 });
  }
  const m = /vmscope-bench-maxrss (\d+)/.exec(p.stderr ?? '');
  // The guest ends by writing 0 to isa-debug-exit: the CLI's status is (0 << 1) | 1 = 1.
  if (p.error !== undefined || p.status !== 1 || m === null) {
    const err = (p.stderr ?? '').replace(/vmscope-bench-maxrss \d+/, '').trim();
    return { reason: `vmscope run --memory ${mib} ended with status ${p.status}${p.error ? ` (${p.error.message})` : ''}: ${err.slice(-400)}` };
  }
  return { kib: Number(m[1]) };
}

export function memoryBenchmarks(root: string, dir: string, runs: number, median: (xs: number[]) => number): MemoryFigures {
  const method = existsSync(TIME) ? `${TIME} -f %M` : 'process.resourceUsage().maxRSS in the child';
  const one = (mib: number, key: string): number | null => {
    const samples: number[] = [];
    for (let k = 0; k <= runs; k++) {
      const r = maxRssKiB(root, dir, mib);
      if ('reason' in r) {
        process.stderr.write(`bench: memory.${key} is null: ${r.reason}\n`);
        return null;
      }
      if (k > 0) samples.push(r.kib / 1024);
    }
    return median(samples);
  };
  return { sparse4GiBMiB: one(4096, 'sparse4GiBMiB'), sparse64MiBMiB: one(64, 'sparse64MiBMiB'), method };
}
