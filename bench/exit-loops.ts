// The bench's exit loops (bench/guests/cpuid.asm, io.asm, mmio.asm) run under vmscope's hypervisor: one timed run at a time, shared by `npm run bench` and bench/instructions.mjs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Machine, parseLaunchConfig } from '../emulator/index.js';
import { EXIT_REASON } from '../emulator/vmx/exit-reasons.js';

export const EXIT_LOOPS = {
  cpuid: { reason: EXIT_REASON.CPUID, vmscopeIterations: Number(process.env.VMSCOPE_BENCH_EXIT_ITERATIONS ?? 200_000), kvmIterations: 200_000 },
  io: { reason: EXIT_REASON.IO_INSTRUCTION, vmscopeIterations: Number(process.env.VMSCOPE_BENCH_EXIT_ITERATIONS ?? 200_000), kvmIterations: 50_000 },
  /** Not in `npm run bench` (no target names it): bench:instructions counts what an MMIO exit costs with it. */
  mmio: { reason: EXIT_REASON.EPT_VIOLATION, vmscopeIterations: Number(process.env.VMSCOPE_BENCH_EXIT_ITERATIONS ?? 200_000), kvmIterations: 0 },
} as const;
export type ExitLoop = keyof typeof EXIT_LOOPS;

/** The loop's image with its iteration count (the qword at offset 8) set. */
export function exitLoopImage(root: string, name: ExitLoop, iterations: number): Uint8Array {
  const bytes = new Uint8Array(readFileSync(join(root, 'bench', 'guests', `${name}.bin`)));
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setBigUint64(8, BigInt(iterations), true);
  return bytes;
}

/** One run of the loop image `bytes` (`iterations` of it) on a new machine: exits of the loop's reason per second. */
export function timeExitLoop(name: ExitLoop, bytes: Uint8Array, iterations: number): number {
  const m = new Machine(bytes, parseLaunchConfig({ program: name, format: 'flat', cpuMode: 'long' }));
  const t0 = performance.now();
  const r = m.runToEnd();
  const ms = performance.now() - t0;
  if (r.status !== 'halted') throw new Error(`${name}: guest ended with ${r.status}: ${r.message ?? ''}`);
  const exits = m.hv!.log.byReason.get(EXIT_LOOPS[name].reason)?.count ?? 0;
  if (exits !== iterations) throw new Error(`${name}: ${exits} exits for ${iterations} iterations`);
  return (exits / ms) * 1000;
}
