// The debugging contract: what the debug adapter may ask of a debuggee machine (run control, breakpoints, state, views).
import type { RunResult } from '../machine.js';

/** Why the debuggee stopped, in DAP's stopped-event vocabulary. */
export type StopReason = 'entry' | 'breakpoint' | 'step' | 'pause' | 'exception' | 'data breakpoint' | 'instruction breakpoint' | 'goto' | 'exited';

/** A VM exit the debuggee stopped at (VM-exit breakpoint filters). */
export interface ExitStop {
  /** Exit number in the exit log. */
  n: number;
  reason: number;
  /** As in Linux's uapi/asm/vmx.h without EXIT_REASON_ (e.g. "IO_INSTRUCTION"). */
  name: string;
  /** Stopped before the hypervisor handled the exit, or after (the emulated result visible). */
  stage: 'before' | 'after';
  qualification: bigint;
  /** One line decoded qualification, e.g. "out 0x3f8, 1 byte". */
  summary: string;
  /** The fields conditions may name (see ConditionContext in expr.ts): port, size, in, out, leaf, msr, gpa, ... */
  fields: Record<string, number | bigint | boolean | string>;
}

export interface StopInfo {
  reason: StopReason;
  /** Short text for the stopped event, e.g. "VM exit: IO_INSTRUCTION (30)". */
  description: string;
  /** Longer text (decoded qualification, breakpoint condition, ...). */
  text?: string;
  exit?: ExitStop;
  /** Ids of the breakpoints that caused the stop. */
  hitBreakpointIds?: number[];
  /** When reason is 'exited': how the run ended. */
  result?: RunResult;
}

export interface SourceBreakpointSpec {
  /** Guest RIP (linear address in the guest; for 64-bit a signed number for upper-half addresses). */
  address: number;
  condition?: string;
  hitCondition?: string;
  logMessage?: string;
}

export interface BreakpointResult {
  id: number;
  verified: boolean;
  message?: string;
}

export interface ExitFilterSpec {
  /** 'vmexit' (any exit) or 'vmexit.<REASON>' (e.g. 'vmexit.IO_INSTRUCTION'). */
  filter: string;
  /** A condition over the exit's fields and the registers, e.g. "port == 0x3f8 && out". */
  condition?: string;
}

export interface DataBreakpointSpec {
  address: number;
  size: number;
  /** Guest-physical (true) or guest-virtual (false, through the guest's page tables at set time). */
  physical: boolean;
  access: 'read' | 'write' | 'readWrite';
  condition?: string;
}

/** Guest registers as the debugger shows them (values as bigint; segments with their hidden parts). */
export interface GuestRegisterFile {
  gpr: Record<'rax' | 'rbx' | 'rcx' | 'rdx' | 'rsi' | 'rdi' | 'rbp' | 'rsp' | 'r8' | 'r9' | 'r10' | 'r11' | 'r12' | 'r13' | 'r14' | 'r15', bigint>;
  rip: bigint;
  rflags: bigint;
  segments: Record<'cs' | 'ds' | 'es' | 'fs' | 'gs' | 'ss' | 'ldtr' | 'tr', { selector: number; base: bigint; limit: number; ar: number }>;
  cr0: bigint; cr2: bigint; cr3: bigint; cr4: bigint; cr8: bigint; efer: bigint;
  dr: bigint[];
  gdtr: { base: bigint; limit: number };
  idtr: { base: bigint; limit: number };
  /** 16, 32 or 64: the guest's current code size (for disassembly). */
  codeBits: 16 | 32 | 64;
}

/** Where the run history reaches (time travel): instruction counts of its oldest, current and newest moments. */
export interface HistoryView {
  oldestIcount: number;
  currentIcount: number;
  newestIcount: number;
  /** Bytes the history holds, and its budget (launch configuration historyMiB). */
  bytes: number;
  budgetBytes: number;
  snapshots: number;
}

/**
 * A reverse operation (step back, reverse continue, go to an exit) run in bounded pieces, so
 * the adapter can yield to its event loop between them, report progress and honour pause.
 */
export interface TravelJob {
  readonly title: string;
  /** Run one piece (a few ms of re-execution); the stop when done, else null. */
  step(): StopInfo | null;
  /** Give up at a consistent moment (each job says which) and report it: reason 'pause'. */
  pause(): StopInfo;
  /** Give up without positioning the machine (the session is ending). */
  abort(): void;
  /** Work done and (estimated) in all, in guest instructions. */
  progress(): { done: number; total: number };
}

/**
 * A machine being debugged. Run control is synchronous and bounded: resume() runs at most
 * `budget` guest instructions and returns null if nothing stopped the run (the adapter then
 * yields to its event loop and calls resume() again, so pause requests get through).
 */
export interface Debuggee {
  // -------- breakpoints
  setInstructionBreakpoints(list: SourceBreakpointSpec[]): BreakpointResult[];
  setExitFilters(list: ExitFilterSpec[], stage: 'before' | 'after' | 'both'): BreakpointResult[];
  setDataBreakpoints(list: DataBreakpointSpec[]): BreakpointResult[];
  // -------- run control
  resume(budget: number): StopInfo | null;
  stepInstruction(): StopInfo;
  stepOver(): StopInfo | null;
  stepOut(budget: number): StopInfo | null;
  /** Run to the next VM exit (stop before it is handled). */
  stepToExit(budget: number): StopInfo | null;
  /** Set the guest's RIP (DAP goto). */
  gotoAddress(rip: number): StopInfo;
  requestPause(): void;
  /** The run has ended (then resume() returns the 'exited' stop again). */
  readonly ended: RunResult | null;
  // -------- state (side-effect free reads)
  registers(): GuestRegisterFile;
  setRegister(name: string, value: bigint): void;
  /** Bytes of guest memory; unreadable bytes (unmapped, MMIO) are reported in `unreadable` and read as 0. */
  readMemory(address: number, length: number, physical: boolean): { data: Uint8Array; unreadable: number };
  writeMemory(address: number, data: Uint8Array, physical: boolean): number;
  /** Guest-virtual → guest-physical through the guest's page tables; -1 when not mapped. */
  translate(gva: number): number;
  // -------- time travel (absent or returning null history when the debuggee records none)
  /** Go back one instruction, or to the start of the previous source line ('line'). */
  stepBack?(granularity: 'instruction' | 'line'): StopInfo;
  /** Go back to the last moment a breakpoint, data breakpoint or VM-exit filter would have stopped the run. */
  reverseContinue?(): StopInfo;
  /** Go to the moment VM exit `index` (exit-log number) happened, before its handler ran. */
  gotoExit?(index: number): StopInfo;
  history?(): HistoryView | null;
  /** The same operations as jobs run piece by piece (the adapter uses these; the methods above drain them). */
  stepBackJob?(granularity: 'instruction' | 'line'): TravelJob;
  reverseContinueJob?(): TravelJob;
  /** Throws at once when `index` is not an exit of the recorded history. */
  gotoExitJob?(index: number): TravelJob;
}
