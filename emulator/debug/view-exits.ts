// The exit-log views: a window of the recorded VM exits and the per-reason statistics (as `perf kvm stat` reports them).
import type { Hypervisor } from '../vmm/hypervisor.js';
import type { ExitOutcome } from '../vmm/exit-log.js';

/** Most exits one view request returns (page through longer logs). */
export const EXITS_VIEW_MAX = 65536;
import { decodeExitQualification } from '../vmx/qualification.js';
import { hex } from './view-format.js';

export interface ExitEntryView {
  n: number;
  reason: number;
  name: string;
  qualification: string;
  summary: string;
  rip: string;
  /** The exiting instruction's bytes as hex pairs ("0f a2"); empty when the exit has no instruction. */
  bytes: string;
  bits: 16 | 32 | 64;
  icount: number;
  outcome: ExitOutcome;
  note?: string;
}

export interface ExitsView {
  /** Exits since the start (the log keeps the most recent EXIT_LOG_CAPACITY, a million). */
  total: number;
  /** Exit number of the oldest exit still kept, null when none. */
  firstKept: number | null;
  entries: ExitEntryView[];
  /**
   * The exit the run is stopped at before the hypervisor handled it (a debugger stop at stage "before"): it is
   * not in the log yet, which records an exit once it is handled. Null otherwise.
   */
  pending: PendingExitView | null;
}

/** The exit a stop sits at: what the log will record for it, less what only handling decides. */
export type PendingExitView = Pick<ExitEntryView, 'n' | 'reason' | 'name' | 'qualification' | 'summary' | 'rip'>;

export interface ExitStatsRow {
  reason: number;
  name: string;
  count: number;
  /** count / total exits (0..1). */
  share: number;
  /** Guest instructions retired in the runs that ended with this reason. */
  instructions: number;
  /** instructions / all such instructions (0..1). */
  instructionShare: number;
}

export interface ExitStatsView {
  total: number;
  instructions: number;
  rows: ExitStatsRow[];
}

/**
 * Exits numbered `start` … `start + count - 1` (exit numbers start at 1) that the log still keeps; `start` ≤ 0
 * gives the most recent `count` exits. Oldest first.
 */
export function exitsView(hv: Hypervisor, start: number, count: number): ExitsView {
  const n = Math.max(0, Math.min(EXITS_VIEW_MAX, Number.isFinite(count) ? Math.floor(count) : 0));
  const log = hv.log;
  // A window of the log: only the exits asked for become objects, so a log of a million stays cheap to page through.
  const window = n === 0 ? [] : Number.isFinite(start) && start > 0 ? log.window(start, start + n - 1) : log.window(log.total - n + 1, log.total);
  const first = log.firstKept;
  const at = hv.stoppedAtExit;
  const pending: PendingExitView | null = at !== null && at.stage === 'before' ? {
    n: at.n, reason: at.info.reason, name: at.info.name, qualification: `0x${at.info.qualification.toString(16)}`,
    summary: decodeExitQualification(at.info.reason, at.info.qualification)?.summary ?? '', rip: hex(hv.vmread('GUEST_RIP')),
  } : null;
  return {
    total: hv.log.total,
    firstKept: first,
    pending,
    entries: window.map((e) => ({
      n: e.n, reason: e.reason, name: e.name, qualification: e.qualification, summary: e.summary, rip: hex(e.rip),
      bytes: e.bytes.map((b) => b.toString(16).padStart(2, '0')).join(' '), bits: e.bits, icount: e.icount, outcome: e.outcome,
      ...(e.note !== undefined ? { note: e.note } : {}),
    })),
  };
}

/** Per-reason counts, shares and guest instructions, most frequent first (ties by reason number). */
export function statsView(hv: Hypervisor): ExitStatsView {
  const total = hv.log.total;
  const entries = [...hv.log.byReason.entries()];
  const instructions = entries.reduce((a, [, s]) => a + s.instructions, 0);
  const rows = entries.map(([reason, s]) => ({
    reason, name: s.name, count: s.count, share: total === 0 ? 0 : s.count / total,
    instructions: s.instructions, instructionShare: instructions === 0 ? 0 : s.instructions / instructions,
  }));
  rows.sort((a, b) => b.count - a.count || a.reason - b.reason);
  return { total, instructions, rows };
}
