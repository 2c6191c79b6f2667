// The workload bench/instructions.mjs counts host instructions of under valgrind: the bench's own exit-loop and virtio-blk runs, warm-up runs first, then one measured run.
// Env: VMSCOPE_IR_KIND (cpuid | io | mmio | blk), VMSCOPE_IR_COUNT (exit-loop iterations or blk requests of the measured run),
// VMSCOPE_IR_WARM_COUNT (the same for each warm-up run), VMSCOPE_IR_WARMUPS (runs before it), VMSCOPE_ROOT (checkout).
import { exitLoopImage, timeExitLoop } from './exit-loops.js';
import { runBlkbench } from './blkbench.js';
import { tuneV8 } from '../debug-adapter/v8-tuning.js';

// As `vmscope run` and the benchmarks (VMSCOPE_V8_DEFAULTS=1 counts with V8's defaults).
tuneV8();

const ROOT = process.env.VMSCOPE_ROOT ?? process.cwd();
const kind = process.env.VMSCOPE_IR_KIND ?? 'cpuid';
const count = Number(process.env.VMSCOPE_IR_COUNT ?? 50_000);
const warmCount = Number(process.env.VMSCOPE_IR_WARM_COUNT ?? count);
const warmups = Number(process.env.VMSCOPE_IR_WARMUPS ?? 3);

if (kind === 'blk') {
  runBlkbench(warmCount, 4096, 0, warmups);
  runBlkbench(count, 4096, 1, 0);
} else if (kind === 'cpuid' || kind === 'io' || kind === 'mmio') {
  const warm = exitLoopImage(ROOT, kind, warmCount), measured = exitLoopImage(ROOT, kind, count);
  for (let k = 0; k < warmups; k++) timeExitLoop(kind, warm, warmCount);
  timeExitLoop(kind, measured, count);
} else throw new Error(`VMSCOPE_IR_KIND: cpuid, io, mmio or blk, not ${kind}`);
