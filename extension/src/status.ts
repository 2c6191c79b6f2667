// The status-bar text while a vmscope session runs: exits, instructions and MIPS between stops (pure; the clock is passed in).
import type { ExitStatsView } from '../../emulator/debug/views.js';
import { historyText, type HistoryResponseBody } from './time-travel.js';

/**
 * Runs shorter than this say nothing about the guest's speed (a step of a few instructions is all request
 * latency, shown as "0.000 MIPS"): they keep the last figure.
 */
export const MIN_MEASURED_INSTRUCTIONS = 100_000;

/** Measures guest speed between stops: instructions retired while running / wall time running. */
export class SpeedMeter {
  private runningSince: number | null = null;
  private lastInstructions = 0;
  private mips: number | null = null;

  /** The guest started running (a `continued` event or a step) at `now` ms. */
  continued(now: number): void {
    if (this.runningSince === null) this.runningSince = now;
  }

  /** The guest stopped at `now` ms with `instructions` retired in all. */
  stopped(now: number, instructions: number): void {
    const ran = instructions - this.lastInstructions;
    if (this.runningSince !== null && now > this.runningSince && ran >= MIN_MEASURED_INSTRUCTIONS) this.mips = ran / ((now - this.runningSince) * 1000);
    this.lastInstructions = instructions;
    this.runningSince = null;
  }

  get lastMips(): number | null {
    return this.mips;
  }
}

const count = (n: number): string => (n >= 1e9 ? `${(n / 1e9).toFixed(2)}G` : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : String(n));

/** The item's text; `history` (vmscope/history at this stop, null without one) adds how far back reverse debugging reaches. */
export function statusText(stats: Pick<ExitStatsView, 'total' | 'instructions'> | null, mips: number | null, running: boolean, history: HistoryResponseBody | null = null): string {
  if (stats === null) return running ? '$(debug) vmscope: running…' : '$(debug) vmscope';
  const speed = mips === null ? '' : ` · ${mips >= 100 ? mips.toFixed(0) : mips >= 1 ? mips.toFixed(1) : mips.toFixed(3)} MIPS`;
  return `$(debug) vmscope: ${count(stats.total)} exits · ${count(stats.instructions)} instr${speed}${history !== null ? ` · ${historyText(history)}` : ''}${running ? ' · running' : ''}`;
}
