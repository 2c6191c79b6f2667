// Runs a few bytes of 64-bit code on a fresh-state processor: the emulator side of the instruction conformance tests.
import '../cpu/index.js';
import { Cpu } from '../cpu/cpu.js';
import { applyArchState, startState, type ArchState } from '../cpu/setup.js';
import { PhysicalMemory } from '../mem/physmem.js';

export interface SnippetState {
  /** RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8..R15, each 0..2^64-1. */
  gpr: bigint[];
  rflags: bigint;
}

export interface SnippetResult {
  gpr: bigint[];
  rflags: bigint;
  /** Exception vector raised by the code (0 #DE, 6 #UD, 13 #GP, 14 #PF, ...), or null. */
  fault: number | null;
  /** Copy of the scratch area after the run. */
  scratch: Uint8Array;
}

const NULL_BUS = { ioRead: () => 0xffffffff, ioWrite: () => { /* dropped */ }, findMmio: () => null };

/** A reusable long-mode processor for running code snippets (CPL 0, identity paging, flat segments). */
export class SnippetRunner {
  static readonly CODE_ADDR = 0x10000;
  static readonly SCRATCH_ADDR = 0x20000;
  static readonly SCRATCH_SIZE = 0x10000;
  private readonly mem = new PhysicalMemory(2 * 1024 * 1024);
  private readonly cpu = new Cpu(this.mem, NULL_BUS);
  private fault: number | null = null;
  private readonly zero = new Uint8Array(SnippetRunner.SCRATCH_SIZE);

  /** The long-mode start state, built once (its tables stay in memory below the code). */
  private readonly start: ArchState;

  constructor() {
    this.cpu.exceptionTrap = (vector) => { this.fault = vector; return true; };
    this.start = startState('long', SnippetRunner.CODE_ADDR, this.mem);
  }

  run(code: Uint8Array, state: SnippetState, scratch?: Uint8Array, budget = 1_000_000): SnippetResult {
    const c = this.cpu;
    applyArchState(c, this.start);
    this.mem.poke(SnippetRunner.CODE_ADDR, code);
    this.mem.poke(SnippetRunner.SCRATCH_ADDR, this.zero);
    if (scratch) this.mem.poke(SnippetRunner.SCRATCH_ADDR, scratch);
    for (let r = 0; r < 16; r++) {
      if (r === 4) continue;
      const v = BigInt.asUintN(64, state.gpr[r]);
      c.lo[r] = Number(v & 0xffffffffn);
      c.hi[r] = Number(v >> 32n);
    }
    c.lo[4] = 0x80000; c.hi[4] = 0;
    c.setFlags(Number(state.rflags & 0x3f7fd7n) | 2);
    const end = SnippetRunner.CODE_ADDR + code.length;
    c.breakpoints.clear();
    c.breakpoints.add(end);
    this.fault = null;
    c.run(budget);
    c.stopRequested = false;
    const gpr: bigint[] = [];
    for (let r = 0; r < 16; r++) gpr.push((BigInt(c.hi[r]) << 32n) | BigInt(c.lo[r]));
    return {
      gpr,
      rflags: BigInt(c.getFlags()),
      fault: this.fault,
      scratch: this.mem.peek(SnippetRunner.SCRATCH_ADDR, SnippetRunner.SCRATCH_SIZE),
    };
  }
}
