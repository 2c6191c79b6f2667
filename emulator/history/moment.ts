// Moments of a run: the position in guest time that time travel goes back to, unique even when several things happen at one instruction count.
import type { Machine } from '../machine.js';

/**
 * A point of a deterministic run. Guest time is the instruction count, but several stops can
 * share one count: the instruction boundary before an exiting instruction, the VM exit itself
 * before its handler runs, the state after the handler, and the next exit at the same count. So
 * a moment is (icount, exits, phase):
 * - `icount`: guest instructions retired by the processor (Cpu.icount);
 * - `exits`: VM exits whose handler has run (the exit log's total);
 * - `phase`: 0 = outside the guest after exit `exits` was handled (or before the first VM entry),
 *   1 = in the guest at an instruction boundary (always, for bare-metal runs),
 *   2 = exit `exits + 1` happened and its handler has not run (a stop at the 'before' stage).
 * Along a run the triple only grows (icount and exits never decrease; at one count the phases
 * come in the order 1 → 2 → 0 → 1 …, and 2 → 0 moves `exits` on), so comparing moments compares times.
 */
export interface Moment {
  icount: number;
  exits: number;
  phase: 0 | 1 | 2;
}

/** Negative, zero or positive as `a` is before, at or after `b`. */
export function compareMoments(a: Moment, b: Moment): number {
  if (a.icount !== b.icount) return a.icount - b.icount;
  if (a.exits !== b.exits) return a.exits - b.exits;
  return a.phase - b.phase;
}

export function sameMoment(a: Moment, b: Moment): boolean {
  return a.icount === b.icount && a.exits === b.exits && a.phase === b.phase;
}

/** Where the machine is now. */
export function momentOf(m: Machine): Moment {
  const hv = m.hv;
  if (hv === null) return { icount: m.cpu.icount, exits: 0, phase: 1 };
  const before = hv.stoppedAtExit !== null && hv.stoppedAtExit.stage === 'before';
  return { icount: m.cpu.icount, exits: hv.log.total, phase: before ? 2 : hv.inGuest ? 1 : 0 };
}

/**
 * A lower bound of the machine's budget units (Machine.budgetUsed: instructions + exits + handler
 * steps) between `from` and `to`: running a slice of this many units cannot pass `to`.
 */
export function unitsBetween(from: Moment, to: Moment): number {
  return Math.max(0, to.icount - from.icount) + Math.max(0, to.exits - from.exits);
}

export function formatMoment(m: Moment): string {
  return `instruction ${m.icount}, exit ${m.exits}${m.phase === 2 ? ` (at exit ${m.exits + 1}, before its handler)` : m.phase === 0 && m.exits > 0 ? ' (after its handler)' : ''}`;
}
