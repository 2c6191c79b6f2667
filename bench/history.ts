// Time-travel benchmark: reverse step with a long history, reverse continue to the previous VM exit, and the cost of recording (a benchmark, not a test).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Machine, parseLaunchConfig } from '../emulator/index.js';
import { MachineDebuggee } from '../emulator/debug/debuggee.js';
import { DEFAULT_INTERVAL } from '../emulator/history/history.js';

export interface HistoryFigures {
  /** Median ms of one instruction stepBack with `historyInstructions` of history behind it. */
  reverseStepMs: number;
  /** Median ms of reverseContinue to the previous VM exit of a filter (an exit loop, after `historyInstructions`). */
  reverseContinueMs: number;
  /** ms of reverseContinue with nothing to stop at over the whole `historyInstructions` history (run as one job, drained). */
  reverseContinueNoMatchMs: number;
  /** Forward speed lost to recording: (fastest time with history) / (fastest without) - 1, e.g. 0.05 for 5 %. */
  recordingOverhead: number;
  /** Instructions of history the reverse step ran with (100 M unless VMSCOPE_BENCH_HISTORY_INSTRUCTIONS says otherwise). */
  historyInstructions: number;
  /** Snapshots and bytes the history held then. */
  snapshots: number;
  historyBytes: number;
}

const SLICE = 200_000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A flat long-mode bench guest; the exit loops' iteration count is the qword at offset 8. */
function guest(root: string, name: string, iterations?: number): Uint8Array {
  const bytes = new Uint8Array(readFileSync(join(root, 'bench', 'guests', `${name}.bin`)));
  if (iterations !== undefined) new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setBigUint64(8, BigInt(iterations), true);
  return bytes;
}

function debuggee(bytes: Uint8Array, history: boolean): MachineDebuggee {
  const m = new Machine(bytes, parseLaunchConfig({ program: 'bench', format: 'flat', cpuMode: 'long', maxInstructions: 1e12 }));
  const d = new MachineDebuggee(m);
  if (history) d.enableHistory();
  return d;
}

/** Run forward in the adapter's slices until `units` budget units are spent (the run must not end). */
function runFor(d: MachineDebuggee, units: number): void {
  const end = d.machine.budgetUsed() + units;
  while (d.machine.budgetUsed() < end) {
    const s = d.resume(Math.min(SLICE, end - d.machine.budgetUsed()));
    if (s !== null) throw new Error(`bench guest stopped: ${s.reason} ${s.description}`);
  }
}

/**
 * `root`: the project root (bench guests). The history for the reverse step is 100 M instructions of the
 * integer loop (about 5 s to build at 20 MIPS); VMSCOPE_BENCH_HISTORY_INSTRUCTIONS makes it shorter or longer.
 */
export function historyBenchmarks(root: string, runs = 5): HistoryFigures {
  const historyInstructions = Number(process.env.VMSCOPE_BENCH_HISTORY_INSTRUCTIONS ?? 100_000_000);

  // Recording overhead: the same forward run of the compute loop with and without history (alternating, medians).
  // The integer loop's count is the immediate of its first instruction (B9 imm32: mov ecx): made as long as it gets.
  const loop = guest(root, 'integer');
  if (loop[0] !== 0xb9) throw new Error('bench/guests/integer.bin: expected mov ecx, imm32 first');
  new DataView(loop.buffer, loop.byteOffset).setUint32(1, 0xffffffff, true);
  // Long enough (about 0.3 s translated) that start-up and timer noise do not swamp a few per cent.
  const forward = 200_000_000;
  const off: number[] = [], on: number[] = [];
  for (let k = 0; k <= runs; k++) {
    for (const rec of [false, true]) {
      const d = debuggee(loop, rec);
      const t0 = performance.now();
      runFor(d, forward);
      const ms = performance.now() - t0;
      if (k > 0) (rec ? on : off).push(ms);
    }
  }
  // Fastest of each (the least disturbed by other work on the host): the medians swing with machine load.
  const recordingOverhead = Math.min(...on) / Math.min(...off) - 1;

  // Reverse step with a long history behind it, from just before the next snapshot is due (the longest re-execution).
  const d = debuggee(loop, true);
  runFor(d, historyInstructions + DEFAULT_INTERVAL - 1_000);
  const steps: number[] = [];
  for (let k = 0; k < Math.max(3, runs); k++) {
    d.stepInstruction();
    d.stepInstruction();
    const t0 = performance.now();
    const s = d.stepBack('instruction');
    steps.push(performance.now() - t0);
    if (s.reason !== 'step') throw new Error(`stepBack stopped with ${s.reason}`);
  }
  const info = d.history()!;
  // Reverse continue with no stop condition: a scan of the whole history back to its start.
  const t1 = performance.now();
  const none = d.reverseContinue();
  const reverseContinueNoMatchMs = performance.now() - t1;
  if (none.reason !== 'entry') throw new Error(`reverseContinue without breakpoints stopped with ${none.reason}`);

  // Reverse continue to the previous VM exit: the port-output loop (an exit every 3 instructions) with an IO filter.
  const io = debuggee(guest(root, 'io', 1e9), true);
  runFor(io, 5_000_000);
  const rc: number[] = [];
  for (let k = 0; k < Math.max(3, runs); k++) {
    io.setExitFilters([], 'before');
    runFor(io, 1_000_003 + k);
    io.setExitFilters([{ filter: 'vmexit.IO_INSTRUCTION' }], 'before');
    const at = io.resume(SLICE);
    if (at?.exit === undefined) throw new Error('the io loop did not stop at an exit');
    const t0 = performance.now();
    const back = io.reverseContinue();
    rc.push(performance.now() - t0);
    if (back.exit?.n !== at.exit.n - 1) throw new Error(`reverseContinue went to exit ${back.exit?.n}, not ${at.exit.n - 1}`);
  }
  io.setExitFilters([], 'before');

  return {
    reverseStepMs: median(steps), reverseContinueMs: median(rc), reverseContinueNoMatchMs, recordingOverhead,
    historyInstructions, snapshots: info.snapshots, historyBytes: info.bytes,
  };
}
