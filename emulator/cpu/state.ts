// Processor snapshots: every architectural field of a Cpu copied out and back (reverse debugging stands on this).
import type { Cpu } from './cpu.js';

/** Scalar fields of Cpu that make up its architectural state. */
const SCALARS = [
  'rip', 'flagsRaw', 'lop', 'lsize', 'lres', 'lresh', 'la', 'lah', 'lb', 'lbh', 'lcf',
  'ldtrSel', 'ldtrBase', 'ldtrLimit', 'ldtrAr', 'trSel', 'trBase', 'trLimit', 'trAr',
  'gdtrBase', 'gdtrLimit', 'idtrBase', 'idtrLimit', 'cr0', 'cr2', 'cr3', 'cr4', 'cr8', 'efer', 'xcr0',
  'kernelGsBase', 'star', 'lstar', 'cstar', 'fmask', 'sysenterCs', 'sysenterEsp', 'sysenterEip', 'tscAux', 'pat',
  'apicBase', 'tscOffset', 'mxcsr', 'fcw', 'fsw', 'ftw', 'icount', 'idleTicks', 'halted', 'shutdownReason', 'shadow', 'nmiPending', 'pfLinear',
] as const;

/** Typed-array fields copied element by element. */
const ARRAYS = ['lo', 'hi', 'sel', 'segBase', 'segLimit', 'segAr', 'dr', 'xmm', 'st'] as const;

type Scalar = number | bigint | boolean | string;
export interface CpuSnapshot {
  scalars: Record<string, Scalar>;
  arrays: Record<string, number[]>;
  msr: Array<[number, bigint]>;
}

export function snapshotCpu(c: Cpu): CpuSnapshot {
  const scalars: Record<string, Scalar> = {};
  const rec = c as unknown as Record<string, Scalar | ArrayLike<number>>;
  for (const k of SCALARS) scalars[k] = rec[k] as Scalar;
  const arrays: Record<string, number[]> = {};
  for (const k of ARRAYS) arrays[k] = Array.from(rec[k] as ArrayLike<number>);
  return { scalars, arrays, msr: [...c.msr.entries()] };
}

export function restoreCpu(c: Cpu, s: CpuSnapshot): void {
  const rec = c as unknown as Record<string, unknown>;
  for (const k of SCALARS) rec[k] = s.scalars[k];
  for (const k of ARRAYS) (rec[k] as { set(a: number[]): void }).set(s.arrays[k]);
  c.msr.clear();
  for (const [k, v] of s.msr) c.msr.set(k, v);
  c.stopRequested = false;
  c.vmexitPending = false;
  c.flushCodeCache();
  c.flushTlb();
  c.updateMode();
}
