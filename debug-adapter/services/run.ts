// Run control: continue in bounded slices that yield to the event loop, pause, steps by line and instruction, goto, and the run's end.
import type { RunResult } from '../../emulator/index.js';
import type { Debuggee, StopInfo, TravelJob } from '../../emulator/debug/api.js';
import { AdapterError } from '../errors.js';
import { Reply } from './lifecycle.js';
import type { GotoExitResponseBody, HistoryResponseBody } from '../protocol.js';
import { THREAD_ID, type SessionContext } from '../context.js';
import type { Breakpoints } from './breakpoints.js';

/** Guest instructions in the first slice of a run: a few milliseconds of emulation at interpreter speed. */
export const SLICE = 200_000;
/**
 * Later slices aim at this much wall time: translated code runs hundreds of millions of instructions a second,
 * so a fixed slice would spend most of a long `continue` between slices. `pause` is still answered within about
 * one slice (SLICE_MAX_MS at worst).
 */
const SLICE_TARGET_MS = 8;
const SLICE_MAX_MS = 16;
const SLICE_MIN = 10_000;
const SLICE_MAX = 50_000_000;
/** Instructions a line step may take before it gives up and stops where it is (a line that never ends). */
const LINE_STEP_LIMIT = 5_000_000;

const turn = (): Promise<void> => new Promise((r) => (typeof setImmediate === 'function' ? setImmediate(r) : setTimeout(r, 0)));

export type StepKind = 'next' | 'stepIn';

export class RunControl {
  private pauseRequested = false;
  /** Incremented to abandon a run loop in flight (restart, terminate, disconnect). */
  private generation = 0;
  /** Budget units of the next forward slice, adapted to how long the last one took (SLICE_TARGET_MS). */
  private sliceUnits = SLICE;

  constructor(private readonly ctx: SessionContext, private readonly bps: Breakpoints) {}

  /** One forward slice of the run, timed: the next slice is sized so that it takes about SLICE_TARGET_MS. */
  private resumeSlice(): StopInfo | null {
    const d = this.ctx.requireTarget().debuggee;
    const units = this.sliceUnits;
    const t0 = performance.now();
    const s = d.resume(units);
    const ms = performance.now() - t0;
    if (s === null) {
      // The slice ran to its budget: scale towards the target, at most doubling (or halving when far too long).
      if (ms < SLICE_TARGET_MS / 2) this.sliceUnits = Math.min(SLICE_MAX, units * 2);
      else if (ms > SLICE_MAX_MS) this.sliceUnits = Math.max(SLICE_MIN, Math.floor(units / 2));
    }
    return s;
  }

  /** DAP `continue`. */
  continue(): void {
    this.launchRun(() => this.resumeSlice());
  }

  /** DAP `pause`: the run loop stops at its next turn (one slice at most). */
  pause(): void {
    this.ctx.requireTarget();
    if (this.ctx.running) this.pauseRequested = true;
  }

  /** DAP `next` / `stepIn`, by instruction or by source line. */
  step(kind: StepKind, granularity: string | undefined): void {
    const t = this.ctx.requireTarget();
    const d = t.debuggee;
    this.mustBeStopped();
    const over = kind === 'next';
    const stepOnce = (): StopInfo | null => (over ? d.stepOver() : d.stepInstruction());
    if (granularity === 'instruction' || t.lineAt(Number(d.registers().rip)) === undefined) {
      this.launchRun(stepOnce);
      return;
    }
    this.launchRun(() => null, async (gen) => this.lineStep(stepOnce, gen));
  }

  /** DAP `stepOut`: run until the current function returns. */
  stepOut(): void {
    const d = this.ctx.requireTarget().debuggee;
    this.mustBeStopped();
    this.launchRun(() => d.stepOut(SLICE));
  }

  /** Custom `vmscope/stepToExit`: run to the next VM exit and stop before the hypervisor handles it. */
  stepToExit(): void {
    const d = this.ctx.requireTarget().debuggee;
    this.mustBeStopped();
    this.launchRun(() => d.stepToExit(SLICE), undefined, () => d.stepToExit(SLICE));
  }

  /** DAP `goto`: set RIP and report a stop with reason `goto`. */
  goto(address: number): void {
    const d = this.ctx.requireTarget().debuggee;
    this.mustBeStopped();
    this.launchRun(() => d.gotoAddress(address));
  }

  // ---------------------------------------------------------------- time travel (emulator/history)

  /** The debuggee's time travel, or a clear error when this run records no history. */
  private travel(what: string): Required<Pick<Debuggee, 'stepBackJob' | 'reverseContinueJob' | 'gotoExitJob' | 'history'>> {
    const d = this.ctx.requireTarget().debuggee;
    if (d.stepBackJob === undefined || d.reverseContinueJob === undefined || d.gotoExitJob === undefined || d.history === undefined || d.history() === null) {
      throw new AdapterError(`${what}: this run records no history (launch configuration historyMiB is 0)`);
    }
    return d as Required<Pick<Debuggee, 'stepBackJob' | 'reverseContinueJob' | 'gotoExitJob' | 'history'>>;
  }

  /** DAP `stepBack`: one instruction back, or to the start of the previous source line. */
  stepBack(granularity: string | undefined): void {
    const t = this.ctx.requireTarget();
    const d = this.travel('stepBack');
    this.mustBeStopped();
    const byLine = granularity !== 'instruction' && t.lineAt(Number(t.debuggee.registers().rip)) !== undefined;
    const job = d.stepBackJob(byLine ? 'line' : 'instruction');
    this.launchRun(() => null, (gen) => this.travelRun(job, gen));
  }

  /** DAP `reverseContinue`: back to the previous moment a breakpoint, data breakpoint or VM-exit filter would have stopped. */
  reverseContinue(): void {
    const d = this.travel('reverseContinue');
    this.mustBeStopped();
    const job = d.reverseContinueJob();
    this.launchRun(() => null, (gen) => this.travelRun(job, gen));
  }

  /**
   * Custom `vmscope/gotoExit {index}`: answer {icount, rip} of the exit, then the `stopped` event
   * (reason 'goto'). Re-executing runs in slices like the other reverse operations; paused before
   * the exit, the request fails saying so and a `stopped` event (reason 'pause') follows.
   */
  gotoExit(a: Record<string, unknown>): Promise<Reply> {
    const d = this.travel('vmscope/gotoExit');
    this.mustBeStopped();
    const index = a.index;
    if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 1) throw new AdapterError(`vmscope/gotoExit: 'index' must be an exit number (1 or more), got ${JSON.stringify(index)}`);
    let job: TravelJob;
    try {
      job = d.gotoExitJob(index);
    } catch (e) {
      throw new AdapterError(e instanceof Error ? e.message : String(e));
    }
    const gen = this.startRunning();
    return (async () => {
      let s: StopInfo | null;
      try {
        s = await this.travelRun(job, gen);
      } catch (e) {
        const err = new AdapterError(`vmscope/gotoExit: ${e instanceof Error ? e.message : String(e)}`);
        if (gen === this.generation) err.after = () => this.report({ reason: 'pause', description: 'Stopped after an internal error' });
        throw err;
      }
      if (s === null) throw new AdapterError('vmscope/gotoExit: abandoned (the session restarted or ended)');
      if (s.reason !== 'goto') {
        const err = new AdapterError(`vmscope/gotoExit: ${s.text ?? s.description}`);
        const stop = s;
        err.after = () => this.report(stop);
        throw err;
      }
      const regs = this.ctx.requireTarget().debuggee.registers();
      const body: GotoExitResponseBody = { icount: d.history()!.currentIcount, rip: Number(BigInt.asIntN(64, regs.rip)) };
      const stop = s;
      return new Reply(body, () => this.report(stop));
    })();
  }

  private progressSeq = 0;

  /**
   * Run a travel job piece by piece, yielding to the event loop between pieces (other requests
   * are answered, `pause` is honoured); a job that takes more than one piece reports DAP progress
   * when the client asked for it. Null when the run was abandoned (restart, terminate).
   */
  private async travelRun(job: TravelJob, gen: number): Promise<StopInfo | null> {
    let progressId: string | null = null;
    let shown = -1;
    try {
      for (;;) {
        const s = job.step();
        if (s !== null) return this.noted(s);
        this.ctx.flushConsole();
        if (this.ctx.progressReporting) {
          const p = job.progress();
          const pct = Math.max(0, Math.min(100, Math.floor((100 * p.done) / Math.max(1, p.total))));
          const message = `${millions(p.done)} of ${millions(p.total)} instructions of history re-executed`;
          if (progressId === null) {
            progressId = `vmscope-travel-${++this.progressSeq}`;
            this.ctx.event('progressStart', { progressId, title: job.title, cancellable: false, percentage: pct, message });
            shown = pct;
          } else if (pct !== shown) {
            this.ctx.event('progressUpdate', { progressId, percentage: pct, message });
            shown = pct;
          }
        }
        await turn();
        if (gen !== this.generation) { job.abort(); return null; }
        if (this.pauseRequested) { this.pauseRequested = false; return this.noted(job.pause()); }
      }
    } finally {
      if (progressId !== null) this.ctx.event('progressEnd', { progressId });
    }
  }

  /** Custom `vmscope/history`. */
  history(): HistoryResponseBody {
    const h = this.ctx.requireTarget().debuggee.history?.() ?? null;
    if (h === null) throw new AdapterError('vmscope/history: this run records no history (launch configuration historyMiB is 0)');
    return h;
  }

  /** A reverse operation that landed at the start of recorded history, or was paused, says where in the debug console. */
  private noted(s: StopInfo): StopInfo {
    if ((s.reason === 'entry' || s.reason === 'pause') && s.text !== undefined) this.ctx.output('console', `${s.text}\n`);
    return s;
  }

  private gotoIds = new Map<number, number>();

  /** DAP `gotoTargets`: the statement addresses of a source line. */
  gotoTargets(a: Record<string, unknown>): { targets: { id: number; label: string; line: number; instructionPointerReference: string }[] } {
    const t = this.ctx.requireStopped();
    const src = a.source;
    const path = typeof src === 'object' && src !== null && typeof (src as { path?: unknown }).path === 'string' ? (src as { path: string }).path : undefined;
    if (path === undefined) throw new AdapterError("gotoTargets: 'source.path' is required");
    const clientLine = a.line;
    if (typeof clientLine !== 'number' || !Number.isSafeInteger(clientLine)) throw new AdapterError("gotoTargets: 'line' is required and must be an integer");
    const line = this.ctx.lineIn(clientLine);
    this.gotoIds.clear();
    const targets = t.addressesForLine(path, line).map((address, i) => {
      this.gotoIds.set(i + 1, address);
      const s = t.symbolAt(address);
      return { id: i + 1, label: `${path.split(/[/\\]/).pop()}:${clientLine} at 0x${BigInt.asUintN(64, BigInt(address)).toString(16)}${s ? ` (${s.name}+0x${s.offset.toString(16)})` : ''}`, line: clientLine, instructionPointerReference: `0x${BigInt.asUintN(64, BigInt(address)).toString(16)}` };
    });
    return { targets };
  }

  /** DAP `goto` with a target id from gotoTargets. */
  gotoTarget(a: Record<string, unknown>): void {
    this.ctx.checkThread(a, 'goto');
    const id = a.targetId;
    const address = typeof id === 'number' ? this.gotoIds.get(id) : undefined;
    if (address === undefined) throw new AdapterError(`goto: unknown targetId ${JSON.stringify(id)} (ask gotoTargets first)`);
    this.goto(address);
  }

  /** Stop reporting at the entry point (stopOnEntry). */
  reportEntry(): void {
    this.report({ reason: 'entry', description: 'Paused on entry' });
  }

  /** Abandon any run in flight (restart, terminate, disconnect). */
  cancel(): void {
    this.generation++;
    this.ctx.running = false;
    this.pauseRequested = false;
  }

  private mustBeStopped(): void {
    if (this.ctx.running) throw new AdapterError('the guest is running: pause it first');
    if (this.ctx.target?.debuggee.ended) throw new AdapterError('the guest has ended: restart the session to run it again');
  }

  /**
   * Start a run after the current response: `first` is the first bounded action, then resume()
   * slices until something stops the guest; `custom` replaces the whole loop (line steps).
   */
  private launchRun(first: () => StopInfo | null, custom?: (gen: number) => Promise<StopInfo | null>, again?: () => StopInfo | null): void {
    const t = this.ctx.requireTarget();
    if (this.ctx.running) throw new AdapterError('the guest is already running');
    if (t.debuggee.ended !== null) {
      // A finished run answers resume() with its 'exited' stop again: report the end once more.
      this.ctx.running = true;
      void turn().then(() => this.report(t.debuggee.resume(1) ?? { reason: 'exited', description: 'exited', result: t.debuggee.ended! }));
      return;
    }
    const gen = this.startRunning();
    void (async () => {
      await turn(); // the response goes out first
      try {
        const s = custom !== undefined ? await custom(gen) : await this.drive(first, gen, again);
        if (s !== null && gen === this.generation) this.report(s);
      } catch (e) {
        if (gen !== this.generation) return;
        this.ctx.output('stderr', `vmscope: the run failed: ${e instanceof Error ? e.message : String(e)}\n`);
        this.report({ reason: 'pause', description: 'Stopped after an internal error' });
      }
    })();
  }

  /** The guest is running from now on (a forward run or a travel job): a new run generation. */
  private startRunning(): number {
    this.ctx.running = true;
    this.ctx.stop = null;
    this.ctx.vars.clear();
    this.pauseRequested = false;
    return ++this.generation;
  }

  /** Run `first`, then resume slices (or `again`), yielding between them; null when the run was cancelled. */
  private async drive(first: () => StopInfo | null, gen: number, again?: () => StopInfo | null): Promise<StopInfo | null> {
    let s = first();
    for (;;) {
      if (s !== null) {
        if (!this.bps.isLogpointOnly(s)) return s;
        this.bps.emitLogpoints(s);
        s = null;
      }
      this.ctx.flushConsole();
      await turn();
      if (gen !== this.generation) return null;
      if (this.pauseRequested) { this.pauseRequested = false; return { reason: 'pause', description: 'Paused' }; }
      s = again !== undefined ? again() : this.resumeSlice();
    }
  }

  /** Step instructions (over calls for `next`) until the source line changes (DWARF 5 §6.2 line table). */
  private async lineStep(stepOnce: () => StopInfo | null, gen: number): Promise<StopInfo | null> {
    const t = this.ctx.requireTarget();
    const d = t.debuggee;
    const start = t.lineAt(Number(d.registers().rip));
    let spent = 0;
    for (;;) {
      const s = await this.drive(stepOnce, gen);
      if (s === null) return null;
      if (s.reason !== 'step') return s;
      const row = t.lineAt(Number(d.registers().rip));
      if (row === undefined || start === undefined || row.line !== start.line || row.file !== start.file) return s;
      if (++spent >= LINE_STEP_LIMIT) return { ...s, text: `line step stopped after ${LINE_STEP_LIMIT} instructions` };
      if (spent % 20_000 === 0) {
        this.ctx.flushConsole();
        await turn();
        if (gen !== this.generation) return null;
        if (this.pauseRequested) { this.pauseRequested = false; return { reason: 'pause', description: 'Paused' }; }
      }
    }
  }

  /** Send the stopped event, or the end of the run. */
  report(s: StopInfo): void {
    this.ctx.running = false;
    this.ctx.flushConsole();
    this.ctx.vars.clear();
    const t = this.ctx.target;
    const ended = s.reason === 'exited' ? s.result ?? t?.debuggee.ended ?? null : null;
    if (ended !== null || s.reason === 'exited') {
      this.ctx.stop = s;
      this.finish(ended);
      return;
    }
    this.ctx.stop = s;
    const ids = this.bps.dapIds(s.hitBreakpointIds ?? []);
    this.ctx.event('stopped', {
      reason: s.reason,
      description: s.description,
      ...(s.text !== undefined ? { text: s.text } : {}),
      threadId: THREAD_ID,
      allThreadsStopped: true,
      ...(ids.length > 0 ? { hitBreakpointIds: ids } : {}),
    });
  }

  /** The run ended: say how, then `exited` and `terminated` (the session keeps answering until `disconnect`). */
  private finish(r: RunResult | null): void {
    if (this.ctx.terminated) return;
    this.ctx.terminated = true;
    if (r !== null) {
      this.ctx.output('console', `${describeEnd(r)}\n`);
      this.ctx.event('exited', { exitCode: r.exitCode });
    }
    this.ctx.event('terminated');
  }
}

const millions = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : String(n));

/** One line about how a run ended (README "How a run ends"). */
export function describeEnd(r: RunResult): string {
  const tail = `(${r.instructions} instructions, ${r.vmExits.total} VM exits, exit code ${r.exitCode})`;
  switch (r.status) {
    case 'halted': return `guest halted${r.message ? `: ${r.message}` : ''} ${tail}`;
    case 'debug-exit': return `guest exited through the debug-exit device ${tail}`;
    case 'triple-fault': return `triple fault: ${r.message ?? 'shutdown'} ${tail}`;
    case 'budget': return `${r.message ?? 'instruction budget exhausted'} ${tail}`;
    case 'reset': return `guest reset: ${r.message ?? 'system reset'} ${tail}`;
    default: return `run failed: ${r.message ?? r.status} ${tail}`;
  }
}
