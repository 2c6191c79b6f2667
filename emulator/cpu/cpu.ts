// The x86 processor: architectural state, lazy flags, segmentation, the linear/physical memory path, decode cache, events and the run loop.
import { decode } from './decode.js';
import { DecodeFault, Insn, CS, DS, ES, FS, GS, SS, RSP } from './insn.js';
import { ACC_FETCH, ACC_READ, ACC_WRITE, PDE_CACHE_SIZE, PG_32, PG_4LEVEL, PG_NONE, PG_PAE, TLB_DIRTY, TLB_EXEC, TLB_READ, TLB_USER, TLB_WRITE, walk } from './paging.js';
import {
  AC, AF, AR_DB, AR_G, AR_L, AR_P, AR_S, AR_UNUSABLE, CF, CR0_PE, CR0_PG, CR0_WP, CR4_PAE, DF, EFER_LMA, EXC_DB, EXC_DF,
  EXC_GP, EXC_NP, EXC_SS, EXC_TS, EXC_UD, FLAGS_FIXED1, ID, IF, IOPL, NT, OF, PF, RF, SF, STATUS_FLAGS, TF, VM, ZF,
  exceptionHasErrorCode, makesDoubleFault,
} from './regs.js';
import type { PhysicalMemory } from '../mem/physmem.js';
import { VM_EXIT, type VmxHooks } from './vmx-hooks.js';
import { BlockPage, HOT_THRESHOLD, Jit, runThreaded } from './jit/jit.js';

/** Thrown (as this one object, never allocated) to unwind an instruction that raised an exception. */
export const CPU_FAULT: { readonly fault: true } = Object.freeze({ fault: true as const });

/** How the processor reaches the platform: port I/O and MMIO (RAM is reached directly). */
export interface CpuBus {
  ioRead(port: number, size: 1 | 2 | 4): number;
  ioWrite(port: number, size: 1 | 2 | 4, value: number): void;
  findMmio(addr: number): { dev: { mmioRead(offset: number, size: 1 | 2 | 4 | 8): number; mmioWrite(offset: number, size: 1 | 2 | 4 | 8, value: number): void }; base: number } | null;
}

/** Instruction breakpoints: a Set that counts its changes, so translated blocks (which never contain one) are dropped when they change. */
export class BreakpointSet extends Set<number> {
  version = 0;
  override add(v: number): this { if (!this.has(v)) this.version++; return super.add(v); }
  override delete(v: number): boolean { const d = super.delete(v); if (d) this.version++; return d; }
  override clear(): void { if (this.size !== 0) this.version++; super.clear(); }
}

/** Why run() returned. */
export type CpuStop = 'budget' | 'halted' | 'shutdown' | 'stop' | 'breakpoint' | 'vmexit';

/** EPT as the processor uses it (implemented in ept/): translate a guest-physical address or return -1. */
export interface EptUnit {
  translate(mem: { read32(a: number): number; write32(a: number, v: number): void }, gpa: number, access: number, peek?: boolean): number;
  /** R/W/X of the last translation (bits 0..2) and bit 3 "writes need no walk". */
  readonly lastPerm: number;
  /** EPTP bit 6: accessed and dirty flags are on. */
  readonly adEnabled: boolean;
}

/** An instruction the model does not implement: reported with its bytes and address (then #UD is raised). */
export interface UnimplementedReport {
  rip: number;
  linear: number;
  bytes: number[];
  reason: string;
}

// Lazy-flag operation kinds (which instruction last set the status flags).
export const LF_NONE = 0, LF_ADD = 1, LF_ADC = 2, LF_SUB = 3, LF_SBB = 4, LF_LOGIC = 5, LF_INC = 6, LF_DEC = 7;

const TLB_SIZE = 4096;
/** What TLB read entries point at for RAM pages never written (see Cpu.noteZeroPage); never written itself. */
const ZERO_PAGE = new Uint8Array(4096);
/** Stands for "no blocks" (never translated into): pages of MMIO code, or the translator off. */
const EMPTY_BLOCK_PAGE = new BlockPage(-1);
EMPTY_BLOCK_PAGE.hits.fill(255);
const TWO32 = 4294967296;
const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let b = i, p = 1;
  while (b) { p ^= b & 1; b >>= 1; }
  PARITY[i] = p ? PF : 0;
}

/** Sign-extend a uint32 to a 64-bit value held as a number (exact for canonical addresses). */
export function toNumber64(lo: number, hi: number): number {
  return (hi | 0) * TWO32 + (lo >>> 0);
}

export type InstructionHandler = (c: Cpu, i: Insn) => void;

/** A data breakpoint: host-physical [start, end), on reads and/or writes. */
export interface WatchRange {
  id: number;
  start: number;
  end: number;
  read: boolean;
  write: boolean;
}

export class Cpu {
  readonly mem: PhysicalMemory;
  readonly bus: CpuBus;
  /** Handler table indexed by Insn.opcode; filled by exec modules. */
  static handlers: InstructionHandler[] = new Array(0x400);

  // General registers: low and high 32 bits of RAX..R15, as uint32.
  readonly lo = new Uint32Array(16);
  readonly hi = new Uint32Array(16);
  /** High half of the last 64-bit value read by a size-generic accessor. */
  vh = 0;
  /** Instruction pointer: the offset in CS (a canonical signed number in 64-bit mode). */
  rip = 0;
  /** Address of the next instruction while one executes. */
  nextRip = 0;
  /** RFLAGS except the status flags while a lazy operation is pending. */
  flagsRaw = FLAGS_FIXED1;

  // Lazy status flags.
  lop = LF_NONE;
  lsize = 32;
  lres = 0; lresh = 0; la = 0; lah = 0; lb = 0; lbh = 0;
  /** Carry in (ADC/SBB) or the preserved CF (INC/DEC). */
  lcf = 0;

  // Segment registers and their descriptor caches (access rights in VMCS layout).
  readonly sel = new Uint16Array(6);
  readonly segBase = new Float64Array(6);
  readonly segLimit = new Float64Array(6);
  readonly segAr = new Uint32Array(6);
  ldtrSel = 0; ldtrBase = 0; ldtrLimit = 0; ldtrAr = AR_UNUSABLE;
  trSel = 0; trBase = 0; trLimit = 0xffff; trAr = 0x8b | AR_P;
  gdtrBase = 0; gdtrLimit = 0xffff; idtrBase = 0; idtrLimit = 0x3ff;

  cr0 = 0x60000010; cr2 = 0; cr3 = 0; cr4 = 0; cr8 = 0; efer = 0;
  readonly dr = new Float64Array(8);
  xcr0 = 1;
  /** Model-specific registers without a dedicated field, as BigInt. */
  readonly msr = new Map<number, bigint>();
  kernelGsBase = 0;
  star = 0n; lstar = 0; cstar = 0; fmask = 0;
  sysenterCs = 0; sysenterEsp = 0; sysenterEip = 0;
  tscAux = 0;
  pat = 0x0007040600070406n;
  apicBase = 0xfee00900;
  tscOffset = 0;

  // SSE/x87 state (enough for FXSAVE/FXRSTOR and the integer SSE2 moves).
  readonly xmm = new Uint32Array(16 * 4);
  mxcsr = 0x1f80;
  fcw = 0x37f; fsw = 0; ftw = 0;
  readonly st = new Uint8Array(8 * 10);

  // Derived mode state.
  codeSize: 16 | 32 | 64 = 16;
  stackSize: 16 | 32 | 64 = 16;
  cpl = 0;
  pagingMode = PG_NONE;

  /** Instructions retired. */
  icount = 0;
  /** TSC ticks spent idle (a hypervisor advancing time while its guest halts); time = icount + idleTicks. */
  idleTicks = 0;
  halted = false;
  shutdownReason = '';
  stopRequested = false;
  /**
   * The instruction count at which the VMX-preemption timer expires in non-root operation (Infinity when it is
   * not armed): boundary() runs there even without boundaryPending, and translated blocks end before it.
   */
  timerAt = Infinity;
  /** Set by a VMX hook that performed a VM exit and returned (vmx-hooks.ts): the instruction does not retire. */
  vmexitPending = false;
  /**
   * Set by the software above VMX (the hypervisor): called in the run loop after a VM exit with the budget left. When it
   * handled the exit and entered the guest again it returns the steps that took (at least 1), and the loop goes on with
   * that much less budget; -1 leaves the exit to the caller of run(), as without it.
   */
  exitShortcut: ((left: number) => number) | null = null;
  /**
   * Set with vmexitPending when the hypervisor's exit fastpath (Vmx.fastpath) handled the exit and entered the guest
   * again inside the instruction's VMX hook: the budget steps that took; the run loop goes on as after exitShortcut.
   */
  fusedSteps = 0;
  /** Fastpath steps a translated block took and went on after (the run loop charges them to its budget when the block returns). */
  stepDebt = 0;
  /** The instruction count run() stops at (its budget's end), for the exit fastpath's budget check: steps left = stepLimit - stepDebt - icount. */
  stepLimit = 0;
  /**
   * Moves with every write of CR0, CR3, CR4 or EFER and of the CS or SS register (selector, base, limit, attributes):
   * the VMX unit compares it with the value it saw when it last noted those fields, and compares the fields themselves
   * only when it moved (Vmx.heldStateChanged). It moves in updateMode(), which follows every change of those fields,
   * and where a change is not followed by it: CLTS, setSegReal, loadSsChecked, and interrupt delivery's SS load (ahead
   * of its CS load, which may fault or exit). A writer that moved none of it would let a VM entry skip its checks of
   * the new state; with Vmx.verifyShortcuts (the tests) such a writer is an error at the next entry.
   */
  heldEpoch = 0;
  /** Interrupt shadow after STI / MOV SS (SDM vol. 3A §6.8.3). */
  shadow = 0;
  /** External interrupt controller hook: pending(), ack() → vector. */
  intr: { pending(): boolean; ack(): number } | null = null;
  nmiPending = false;

  // Exception delivery state.
  excVector = 0;
  excError = 0;
  excHasError = false;
  /** Nesting while delivering (for #DF and triple fault). */
  private delivering = -1;
  /**
   * When set, exceptions are offered here before delivery; returning true stops the run with
   * the processor state as at the fault (tests, and the debugger's "break on exception").
   */
  exceptionTrap: ((vector: number, errorCode: number) => boolean) | null = null;
  /**
   * The event being delivered, in the VMX interruption-information format (valid bit 31,
   * type 10:8, vector 7:0, error-code bit 11), 0 when none: a VM exit during delivery
   * reports it as IDT-vectoring information (SDM vol. 3C §28.2.4).
   */
  eventInfo = 0;
  eventError = 0;
  /**
   * The length of the instruction that caused the event being delivered (INT n, INT3, INTO, INT1; or the VM-entry
   * instruction length of an injected software event), 0 for other events: a VM exit during delivery reports it in
   * the VM-exit instruction-length field (SDM vol. 3C §28.2.4).
   */
  eventLength = 0;
  /** Linear address of the #PF being raised; CR2 is written when the #PF is delivered. */
  pfLinear = 0;
  /** Data breakpoints on host-physical ranges (a debugger translates guest addresses to these). */
  private watches: WatchRange[] = [];
  private readonly watchPages = new Set<number>();
  /** Page walks and instruction fetches do not trigger data breakpoints (as with debug registers). */
  suppressWatch = 0;
  /** The data breakpoint the last instruction hit (the run stopped after it), or null. */
  watchHit: { id: number; address: number; size: number; write: boolean } | null = null;
  /** VMX non-root operation: the intercept unit, or null (root operation or no VMX). */
  vmx: VmxHooks | null = null;
  /** EPT in force in non-root operation, or null (guest-physical = host-physical). */
  ept: EptUnit | null = null;
  /** The instruction being executed (for reports). */
  cur: Insn | null = null;
  /** Reports of unimplemented instructions (bounded). */
  readonly unimplemented: UnimplementedReport[] = [];

  // TLB: direct-mapped, 4 KiB granularity.
  // tlbTag/tlbRd/tlbWr are read by translated blocks (jit/codegen.ts) for their inline memory fast path.
  readonly tlbTag = new Float64Array(TLB_SIZE).fill(NaN);
  private readonly tlbPa = new Float64Array(TLB_SIZE);
  private readonly tlbPerm = new Uint8Array(TLB_SIZE);
  readonly tlbRd: (Uint8Array | undefined)[] = new Array(TLB_SIZE).fill(undefined);
  readonly tlbWr: (Uint8Array | undefined)[] = new Array(TLB_SIZE).fill(undefined);
  private lastUser = false; private lastWp = false;
  private needRead = TLB_READ; needWrite = TLB_WRITE | TLB_DIRTY; private needFetch = 0;
  /** Scratch for the page walker (entries to mark accessed). */
  readonly walkTouched = new Float64Array(8);
  /** The low words of the walkTouched entries as the walk read them (paging.ts sets their accessed flags from these). */
  readonly walkTouchedLo = new Float64Array(8);
  /**
   * The PDE and PDPTE caches, paging-structure caches (SDM vol. 3A §4.10.3; with EPT the combined paging-structure
   * caches of vol. 3C §29.4.2), for PAE and 4-level paging, direct-mapped: slots 0 … PDE_CACHE_SIZE-1 by linear-address
   * bits 47:21 hold the guest-physical address of the page table a walk reached through a present, non-PS PDE; the
   * next PDE_CACHE_SIZE slots, by bits 47:30, the page directory reached through a PDPTE (4-level paging); each with
   * the rights the upper entries granted (TLB_* bits). paging.ts fills an entry only after a walk that set the accessed
   * flags of those entries. Emptied whenever the TLB is (flushTlb; INVLPG flushes it, and it invalidates every
   * paging-structure-cache entry, SDM vol. 3A §4.10.4.1).
   */
  readonly pscTag = new Float64Array(2 * PDE_CACHE_SIZE).fill(NaN);
  readonly pscTable = new Float64Array(2 * PDE_CACHE_SIZE);
  readonly pscPerm = new Uint8Array(2 * PDE_CACHE_SIZE);
  /** Physical addresses below this go straight to RAM. */
  private ramTop = 0;

  // Decoded-instruction cache keyed by physical address.
  private readonly codeCache = new Map<number, (Insn | undefined)[]>();
  /** Translate hot guest code blocks into JavaScript (false: the interpreter only). */
  jit = true;
  /** The block translator's cache (emulator/cpu/jit/). */
  readonly jitUnit = new Jit(() => { this.fpBlk = EMPTY_BLOCK_PAGE; this.ccBlk = EMPTY_BLOCK_PAGE; this.ccPpn = -1; this.fpLin = NaN; });
  /** Counts writes to pages holding decoded code: a translated block stops after an instruction that changed it. */
  codeEpoch = 0;
  private jitBpVersion = 0;
  private jitWasOn = true;
  /** The instruction at RIP was reached by a control transfer or a block exit: a block may start there. */
  private jitLeader = true;
  /** Blocks of the page of the last fetch (fast path with fpLin/fpArr), and of ccPpn. */
  private fpBlk: BlockPage = EMPTY_BLOCK_PAGE;
  private ccBlk: BlockPage = EMPTY_BLOCK_PAGE;
  private ccPpn = -1;
  private ccArr: (Insn | undefined)[] = [];
  private readonly scratchInsn = new Insn();
  private fetchLin = 0;
  private fetchPa0 = 0;
  private readonly fetchFn = (off: number): number => this.fetchByte(off);

  /** Instruction breakpoints by linear... by RIP value; checked before executing. */
  readonly breakpoints = new BreakpointSet();
  private skipBreakpointOnce = false;
  /** Called for every instruction before it executes when set (tracing); slow path. */
  onInstruction: ((c: Cpu) => void) | null = null;

  constructor(mem: PhysicalMemory, bus: CpuBus) {
    this.mem = mem;
    this.bus = bus;
    this.ramTop = mem.size;
    mem.onCodeWrite = (pn) => {
      this.codeCache.delete(pn);
      this.codeEpoch++;
      this.jitUnit.dropPage(pn);
      if (pn === this.ccPpn) this.ccPpn = -1;
      this.fpLin = NaN;
    };
    this.resetState();
  }

  /** Lower the RAM fast-path limit so MMIO below the top of RAM is found (called when devices are mapped). */
  setMmioFloor(addr: number): void {
    this.ramTop = Math.min(this.mem.size, addr);
    this.flushTlb();
  }

  /** Power-on state (SDM vol. 3A §9.1.1, table 9-1), real mode at F000:FFF0. */
  resetState(): void {
    this.lo.fill(0); this.hi.fill(0);
    this.lo[2] = 0x600; // EDX: family/model/stepping
    this.flagsRaw = FLAGS_FIXED1; this.lop = LF_NONE;
    for (let s = 0; s < 6; s++) this.setSegReal(s, 0);
    this.setSegReal(CS, 0xf000);
    this.segBase[CS] = 0xffff0000;
    this.rip = 0xfff0;
    this.cr0 = 0x60000010; this.cr2 = 0; this.cr3 = 0; this.cr4 = 0; this.cr8 = 0; this.efer = 0;
    this.gdtrBase = 0; this.gdtrLimit = 0xffff; this.idtrBase = 0; this.idtrLimit = 0xffff;
    this.dr.fill(0); this.dr[6] = 0xffff0ff0; this.dr[7] = 0x400;
    this.halted = false; this.shutdownReason = ''; this.shadow = 0;
    this.updateMode();
  }

  // ---------------------------------------------------------------- registers

  /** Read an 8-bit register (AH..BH for 4..7 without REX). */
  getReg8(r: number, rex: number): number {
    if (r < 4 || rex !== 0) return this.lo[r] & 0xff;
    return (this.lo[r - 4] >>> 8) & 0xff;
  }

  setReg8(r: number, rex: number, v: number): void {
    if (r < 4 || rex !== 0) this.lo[r] = (this.lo[r] & 0xffffff00) | (v & 0xff);
    else this.lo[r - 4] = (this.lo[r - 4] & 0xffff00ff) | ((v & 0xff) << 8);
  }

  /** Read a register of 16/32/64 bits; the high half of a 64-bit value goes to this.vh. */
  getReg(r: number, size: number): number {
    if (size === 32) return this.lo[r];
    if (size === 16) return this.lo[r] & 0xffff;
    this.vh = this.hi[r];
    return this.lo[r];
  }

  /** Write a 16/32/64-bit register (32-bit writes zero the upper half, SDM vol. 1 §3.4.1.1). */
  setReg(r: number, size: number, v: number, vh: number): void {
    if (size === 32) { this.lo[r] = v; this.hi[r] = 0; }
    else if (size === 16) this.lo[r] = (this.lo[r] & 0xffff0000) | (v & 0xffff);
    else { this.lo[r] = v; this.hi[r] = vh; }
  }

  /** A register as a signed number (exact up to 2^53; used for addresses). */
  regNumber(r: number): number {
    return (this.hi[r] | 0) * TWO32 + this.lo[r];
  }

  setRegNumber(r: number, v: number): void {
    this.lo[r] = v >>> 0;
    this.hi[r] = Math.floor(v / TWO32) >>> 0;
  }

  // ---------------------------------------------------------------- flags

  /** Materialize RFLAGS. */
  getFlags(): number {
    if (this.lop === LF_NONE) return this.flagsRaw;
    const f = this.peekFlags();
    this.flagsRaw = f;
    this.lop = LF_NONE;
    return f;
  }

  /** RFLAGS as getFlags() gives it, without materializing the lazy flags (for side-effect-free readers). */
  peekFlags(): number {
    if (this.lop === LF_NONE) return this.flagsRaw;
    return (this.flagsRaw & ~STATUS_FLAGS) | this.cfBit() | this.pfBit() | this.afBit() | this.zfBit() | this.sfBit() | this.ofBit();
  }

  /** Replace RFLAGS (callers apply the writable-bit rules of POPF/IRET). */
  setFlags(f: number): void {
    this.flagsRaw = (f | FLAGS_FIXED1) & 0x3f7fd7 | FLAGS_FIXED1;
    this.lop = LF_NONE;
  }

  /** Set only the status flags from `bits` (others unchanged). */
  setStatusFlags(bits: number): void {
    const f = this.lop === LF_NONE ? this.flagsRaw : this.getFlags();
    this.flagsRaw = (f & ~STATUS_FLAGS) | (bits & STATUS_FLAGS);
  }

  private topBit(lo: number, hi: number): number {
    switch (this.lsize) {
      case 8: return (lo >>> 7) & 1;
      case 16: return (lo >>> 15) & 1;
      case 32: return lo >>> 31;
      default: return hi >>> 31;
    }
  }

  cfBit(): number {
    switch (this.lop) {
      case LF_NONE: return this.flagsRaw & CF;
      case LF_ADD: return this.ult(this.lres, this.lresh, this.la, this.lah) ? CF : 0;
      case LF_ADC: return (this.lcf ? !this.ult(this.la, this.lah, this.lres, this.lresh) : this.ult(this.lres, this.lresh, this.la, this.lah)) ? CF : 0;
      case LF_SUB: return this.ult(this.la, this.lah, this.lb, this.lbh) ? CF : 0;
      case LF_SBB: return (this.lcf ? !this.ult(this.lb, this.lbh, this.la, this.lah) : this.ult(this.la, this.lah, this.lb, this.lbh)) ? CF : 0;
      case LF_LOGIC: return 0;
      default: return this.lcf;
    }
  }

  /** Unsigned a < b over the lazy size. */
  private ult(a: number, ah: number, b: number, bh: number): boolean {
    if (this.lsize === 64) return ah !== bh ? ah < bh : a < b;
    return a < b;
  }

  zfBit(): number {
    if (this.lop === LF_NONE) return this.flagsRaw & ZF;
    return this.lres === 0 && (this.lsize !== 64 || this.lresh === 0) ? ZF : 0;
  }

  sfBit(): number {
    if (this.lop === LF_NONE) return this.flagsRaw & SF;
    return this.topBit(this.lres, this.lresh) ? SF : 0;
  }

  pfBit(): number {
    if (this.lop === LF_NONE) return this.flagsRaw & PF;
    return PARITY[this.lres & 0xff];
  }

  afBit(): number {
    switch (this.lop) {
      case LF_NONE: return this.flagsRaw & AF;
      case LF_LOGIC: return 0;
      case LF_INC: case LF_DEC: case LF_ADD: case LF_ADC: case LF_SUB: case LF_SBB:
        return (this.la ^ this.lb ^ this.lres) & AF;
    }
    return 0;
  }

  ofBit(): number {
    let x: number, xh: number;
    switch (this.lop) {
      case LF_NONE: return this.flagsRaw & OF;
      case LF_LOGIC: return 0;
      case LF_ADD: case LF_ADC: case LF_INC:
        x = (this.la ^ this.lres) & (this.lb ^ this.lres); xh = (this.lah ^ this.lresh) & (this.lbh ^ this.lresh);
        break;
      default:
        x = (this.la ^ this.lb) & (this.la ^ this.lres); xh = (this.lah ^ this.lbh) & (this.lah ^ this.lresh);
    }
    return this.topBit(x, xh) ? OF : 0;
  }

  /** Record an arithmetic result for lazy flags. Values are masked to size, uint32 halves. */
  lazy(op: number, size: number, a: number, ah: number, b: number, bh: number, r: number, rh: number): void {
    // The new operation defines all six status flags (INC/DEC keep CF through lcf), so the
    // previous lazy state is simply replaced; flagsRaw keeps the non-status bits.
    this.lop = op; this.lsize = size;
    this.la = a; this.lah = ah; this.lb = b; this.lbh = bh; this.lres = r; this.lresh = rh;
  }

  // ---------------------------------------------------------------- modes and segments

  /** Recompute code size, CPL, paging mode and TLB permission masks after CR0/CR4/EFER/CS changes. */
  updateMode(): void {
    this.heldEpoch++;
    const pe = (this.cr0 & CR0_PE) !== 0;
    if (!pe) this.codeSize = 16;
    else if ((this.efer & EFER_LMA) !== 0 && (this.segAr[CS] & AR_L) !== 0) this.codeSize = 64;
    else this.codeSize = (this.segAr[CS] & AR_DB) !== 0 ? 32 : 16;
    this.stackSize = this.codeSize === 64 ? 64 : (this.segAr[SS] & AR_DB) !== 0 ? 32 : 16;
    if (!pe) this.cpl = 0;
    else if ((this.getFlagsRawBit(VM)) !== 0) this.cpl = 3;
    else this.cpl = (this.segAr[SS] >>> 5) & 3;
    const pg = (this.cr0 & CR0_PG) !== 0 && pe;
    const mode = !pg ? PG_NONE : (this.cr4 & CR4_PAE) === 0 ? PG_32 : (this.efer & EFER_LMA) !== 0 ? PG_4LEVEL : PG_PAE;
    if (mode !== this.pagingMode) { this.pagingMode = mode; this.flushTlb(); }
    this.recomputeNeeds();
  }

  private getFlagsRawBit(bit: number): number {
    return this.flagsRaw & bit;
  }

  private recomputeNeeds(): void {
    this.fpLin = NaN;
    const user = this.cpl === 3;
    const wp = (this.cr0 & CR0_WP) !== 0;
    // Host pages in the TLB were checked against the previous privilege and WP: drop them.
    if (user !== this.lastUser || wp !== this.lastWp) { this.tlbTag.fill(NaN); this.lastUser = user; this.lastWp = wp; }
    this.needRead = TLB_READ | (user ? TLB_USER : 0);
    this.needWrite = TLB_DIRTY | (user ? TLB_USER | TLB_WRITE : (this.cr0 & CR0_WP) !== 0 ? TLB_WRITE : 0);
    this.needFetch = TLB_EXEC | (user ? TLB_USER : 0);
  }

  /** Real-mode / virtual-8086 style segment load: base = selector << 4. */
  setSegReal(s: number, selector: number): void {
    this.heldEpoch++;
    this.sel[s] = selector;
    this.segBase[s] = selector * 16;
    if ((this.cr0 & CR0_PE) === 0) {
      // Real mode keeps the cached limit and attributes (SDM vol. 3A §20.1.1); on reset they are 64 KiB data.
      if (this.segAr[s] === 0) { this.segLimit[s] = 0xffff; this.segAr[s] = AR_P | AR_S | (s === CS ? 0xb : 0x3); }
    } else {
      this.segLimit[s] = 0xffff;
      this.segAr[s] = AR_P | AR_S | 0x3 | (3 << 5);
    }
  }

  /** Load a segment register with a fully specified cache (loaders, VM entry, tests). */
  setSegCache(s: number, selector: number, base: number, limit: number, ar: number): void {
    this.sel[s] = selector; this.segBase[s] = base; this.segLimit[s] = limit; this.segAr[s] = ar;
    if (s === CS || s === SS) this.updateMode();
  }

  /** Read a descriptor (8 bytes) for `selector` from the GDT or LDT; returns false if beyond the limit. */
  readDescriptor(selector: number, out: Uint32Array): boolean {
    const index = selector & 0xfff8;
    let base: number, limit: number;
    if ((selector & 4) !== 0) {
      if ((this.ldtrAr & AR_UNUSABLE) !== 0) return false;
      base = this.ldtrBase; limit = this.ldtrLimit;
    } else { base = this.gdtrBase; limit = this.gdtrLimit; }
    if (index + 7 > limit) return false;
    this.sysRead64(base + index, out, 0);
    return true;
  }

  /**
   * Two implicit supervisor reads of 32 bits (a descriptor or a legacy gate, SDM vol. 3A §4.6) into out[at], out[at+1].
   * At CPL 0, when the 8 bytes lie in one page the TLB holds a read page for, they are read from it: what the two
   * sysRead32 would do on that TLB hit (a CPL-0 read page needs what a supervisor read needs; this model has no SMAP).
   */
  sysRead64(lin: number, out: Uint32Array, at: number): void {
    const o = lin & 0xfff;
    if (this.cpl === 0 && o <= 0xff8) {
      const p = this.tlbReadPage(lin);
      if (p !== undefined) {
        out[at] = p[o] | (p[o + 1] << 8) | (p[o + 2] << 16) | (p[o + 3] << 24);
        out[at + 1] = p[o + 4] | (p[o + 5] << 8) | (p[o + 6] << 16) | (p[o + 7] << 24);
        return;
      }
    }
    out[at] = this.sysRead32(lin);
    out[at + 1] = this.sysRead32(lin + 4);
  }

  /**
   * The host page the TLB holds for reading the linear page of `lin`, or undefined (a miss, or an entry without a read
   * page: MMIO, a watched page). No walk, no fill, no side effect: for fast paths that fall back to the general one.
   * At CPL 0 a read page is also what an implicit supervisor read (GDT, IDT, SDM vol. 3A §4.6) would be allowed.
   */
  tlbReadPage(lin: number): Uint8Array | undefined {
    const vpn = Math.floor(lin / 4096), k = vpn & (TLB_SIZE - 1);
    return this.tlbTag[k] === vpn ? this.tlbRd[k] : undefined;
  }

  /** As tlbReadPage for writing (undefined also for a page that holds decoded code: its writes must invalidate). */
  tlbWritePage(lin: number): Uint8Array | undefined {
    const vpn = Math.floor(lin / 4096), k = vpn & (TLB_SIZE - 1);
    return this.tlbTag[k] === vpn ? this.tlbWr[k] : undefined;
  }

  /** Descriptor words → cache fields. */
  static descBase(lo: number, hi: number): number {
    return ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
  }

  static descLimit(lo: number, hi: number): number {
    const raw = (lo & 0xffff) | (hi & 0xf0000);
    return (hi & (1 << 23)) !== 0 ? raw * 4096 + 0xfff : raw;
  }

  static descAr(hi: number): number {
    return ((hi >>> 8) & 0xff) | (((hi >>> 20) & 0xf) << 12);
  }

  private readonly descBuf = new Uint32Array(2);

  /**
   * Load a data/stack segment register in protected mode with the SDM's checks
   * (MOV Sreg / POP Sreg, vol. 2B): #GP(sel), #SS(sel), #NP(sel).
   */
  loadSeg(s: number, selector: number): void {
    if ((this.cr0 & CR0_PE) === 0 || (this.flagsRaw & VM) !== 0) { this.setSegReal(s, selector); if (s === SS) this.updateMode(); return; }
    const rpl = selector & 3;
    if ((selector & 0xfffc) === 0) {
      if (s === SS && (this.codeSize !== 64 || this.cpl === 3 || rpl !== this.cpl)) this.raise(EXC_GP, 0);
      if (s === CS) this.raise(EXC_GP, 0);
      this.sel[s] = selector; this.segBase[s] = 0; this.segLimit[s] = 0; this.segAr[s] = AR_UNUSABLE;
      if (s === SS) { this.segAr[s] = AR_UNUSABLE | (this.cpl << 5) | AR_DB; this.updateMode(); }
      return;
    }
    const d = this.descBuf;
    if (!this.readDescriptor(selector, d)) this.raise(EXC_GP, selector & 0xfffc);
    const ar = Cpu.descAr(d[1]);
    const type = ar & 0xf, dpl = (ar >>> 5) & 3;
    if ((ar & AR_S) === 0) this.raise(EXC_GP, selector & 0xfffc);
    if (s === SS) {
      // Writable data segment with RPL = DPL = CPL.
      if ((type & 0xa) !== 0x2 || rpl !== this.cpl || dpl !== this.cpl) this.raise(EXC_GP, selector & 0xfffc);
      if ((ar & AR_P) === 0) this.raise(EXC_SS, selector & 0xfffc);
    } else {
      // Data or readable code; non-conforming needs max(CPL,RPL) <= DPL.
      if ((type & 0xa) === 0x8) this.raise(EXC_GP, selector & 0xfffc); // execute-only code
      const conformingCode = (type & 0xc) === 0xc;
      if (!conformingCode && (rpl > dpl || this.cpl > dpl)) this.raise(EXC_GP, selector & 0xfffc);
      if ((ar & AR_P) === 0) this.raise(EXC_NP, selector & 0xfffc);
    }
    this.setAccessed(selector, d);
    this.sel[s] = selector;
    this.segBase[s] = Cpu.descBase(d[0], d[1]);
    this.segLimit[s] = Cpu.descLimit(d[0], d[1]);
    this.segAr[s] = ar | 1;
    if (s === SS) this.updateMode();
  }

  /** Set the accessed bit of a descriptor in memory (SDM vol. 3A §3.4.5.1). */
  setAccessed(selector: number, d: Uint32Array): void {
    if ((d[1] & 0x100) !== 0) return;
    const base = (selector & 4) !== 0 ? this.ldtrBase : this.gdtrBase;
    d[1] |= 0x100;
    this.sysWrite32(base + (selector & 0xfff8) + 4, d[1]);
  }

  /** Load CS from a code-segment descriptor already checked by the caller (far JMP/CALL/RET/IRET, interrupts). */
  loadCsFromDescriptor(selector: number, d: Uint32Array, cpl: number): void {
    this.setAccessed(selector, d);
    this.sel[CS] = (selector & 0xfffc) | cpl;
    this.segBase[CS] = Cpu.descBase(d[0], d[1]);
    this.segLimit[CS] = Cpu.descLimit(d[0], d[1]);
    this.segAr[CS] = Cpu.descAr(d[1]) | 1;
    // CPL is the DPL field kept in SS's attributes by our model; set both consistently.
    this.segAr[SS] = (this.segAr[SS] & ~(3 << 5)) | (cpl << 5);
    this.updateMode();
  }

  // ---------------------------------------------------------------- exceptions

  /** Raise an exception: records it and unwinds the current instruction. */
  raise(vector: number, errorCode = 0): never {
    this.excVector = vector;
    this.excHasError = exceptionHasErrorCode(vector);
    this.excError = errorCode;
    throw CPU_FAULT;
  }

  /** #UD with a report that the model does not implement this encoding. */
  unimplementedOp(reason: string): never {
    if (this.unimplemented.length < 64) {
      const lin = this.codeSize === 64 ? this.rip : this.segBase[CS] + this.rip;
      const bytes: number[] = [];
      const len = this.cur !== null && this.cur.length > 0 ? this.cur.length : 15;
      for (let k = 0; k < len; k++) {
        const pa = this.peekTranslate(lin + k);
        if (pa < 0) break;
        bytes.push(this.physPeek8(pa));
      }
      this.unimplemented.push({ rip: this.rip, linear: lin, bytes, reason });
    }
    return this.raise(EXC_UD);
  }

  // ---------------------------------------------------------------- data breakpoints

  /** Replace the data breakpoints; their pages leave the TLB fast path so every access is checked. */
  setWatches(list: WatchRange[]): void {
    this.watches = list.slice();
    this.watchPages.clear();
    for (const w of list) for (let p = Math.floor(w.start / 4096); p <= Math.floor((w.end - 1) / 4096); p++) this.watchPages.add(p);
    this.watchHit = null;
    this.flushTlb();
  }

  private checkWatch(pa: number, size: number, write: boolean): void {
    if (this.suppressWatch !== 0 || this.watchHit !== null) return;
    for (const w of this.watches) {
      if (pa < w.end && pa + size > w.start && (write ? w.write : w.read)) {
        // A data breakpoint is a trap: the access completes and the run stops after the instruction.
        this.watchHit = { id: w.id, address: pa, size, write };
        this.stopRequested = true;
        return;
      }
    }
  }

  // ---------------------------------------------------------------- physical memory

  physRead8(pa: number): number {
    if (this.watchPages.size !== 0) this.checkWatch(pa, 1, false);
    if (pa < this.ramTop) return this.mem.read8(pa);
    return this.mmioRead(pa, 1);
  }
  physRead16(pa: number): number {
    if (this.watchPages.size !== 0) this.checkWatch(pa, 2, false);
    if (pa + 1 < this.ramTop) return this.mem.read16(pa);
    return this.mmioRead(pa, 2);
  }
  physRead32(pa: number): number {
    if (this.watchPages.size !== 0) this.checkWatch(pa, 4, false);
    if (pa + 3 < this.ramTop) return this.mem.read32(pa);
    return this.mmioRead(pa, 4);
  }
  physWrite8(pa: number, v: number): void {
    if (this.watchPages.size !== 0) this.checkWatch(pa, 1, true);
    if (pa < this.ramTop) this.mem.write8(pa, v); else this.mmioWrite(pa, 1, v);
    if (this.zeroAlloc >= 0) this.checkZeroPages();
  }
  physWrite16(pa: number, v: number): void {
    if (this.watchPages.size !== 0) this.checkWatch(pa, 2, true);
    if (pa + 1 < this.ramTop) this.mem.write16(pa, v); else this.mmioWrite(pa, 2, v);
    if (this.zeroAlloc >= 0) this.checkZeroPages();
  }
  physWrite32(pa: number, v: number): void {
    if (this.watchPages.size !== 0) this.checkWatch(pa, 4, true);
    if (pa + 3 < this.ramTop) this.mem.write32(pa, v); else this.mmioWrite(pa, 4, v);
    if (this.zeroAlloc >= 0) this.checkZeroPages();
  }

  /** Accesses above the RAM fast path: MMIO devices, RAM above a hole, or unassigned (reads all ones). */
  private mmioRead(pa: number, size: 1 | 2 | 4): number {
    const m = this.bus.findMmio(pa);
    if (m !== null) { const v = m.dev.mmioRead(pa - m.base, size) >>> 0; this.checkZeroPages(); return v; } // a device may have written RAM
    if (pa + size <= this.mem.size) {
      return size === 1 ? this.mem.read8(pa) : size === 2 ? this.mem.read16(pa) : this.mem.read32(pa);
    }
    return size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
  }

  private mmioWrite(pa: number, size: 1 | 2 | 4, v: number): void {
    const m = this.bus.findMmio(pa);
    if (m !== null) { m.dev.mmioWrite(pa - m.base, size, v >>> 0); this.checkZeroPages(); return; }
    if (pa + size <= this.mem.size) {
      if (size === 1) this.mem.write8(pa, v); else if (size === 2) this.mem.write16(pa, v); else this.mem.write32(pa, v);
    }
  }

  /** Side-effect-free physical byte read for debuggers: RAM only; MMIO and unassigned read as 0xFF. */
  physPeek8(pa: number): number {
    if (pa < this.mem.size && this.bus.findMmio(pa) === null) return this.mem.read8(pa);
    return 0xff;
  }

  // ---------------------------------------------------------------- linear memory (paging, TLB)

  /**
   * Guest-physical → host-physical through EPT when it is on (SDM vol. 3C §29.3); an EPT
   * violation or misconfiguration becomes a VM exit. `lin` is the linear address being
   * translated and `pagingStructure` says whether this is a guest paging-structure access.
   */
  gpa2hpa(gpa: number, access: number, lin: number, pagingStructure: boolean): number {
    const e = this.ept;
    if (e === null) return gpa;
    // With EPT A/D flags on, accesses to guest paging structures are treated as writes (SDM vol. 3C §29.3.3.2).
    if (pagingStructure && e.adEnabled) access = ACC_WRITE;
    const h = e.translate(this.mem, gpa, access);
    if (h >= 0) return h;
    // A data access of softRead/softWrite: the exit without unwinding (-1, vmexitPending set).
    if (this.softEpt && !pagingStructure) return this.vmx!.eptExitNoUnwind(this, gpa, access, lin);
    return this.vmx!.eptFault(this, gpa, access, lin, true, pagingStructure);
  }

  /** Set while softRead/softWrite translate: an EPT violation on the data page returns -1 instead of throwing. */
  private softEpt = false;

  /** tr() with softEpt set: -1 after an EPT exit on the data page. */
  private softTr(lin: number, access: number, need: number): number {
    this.softEpt = true;
    try { return this.tr(lin, access, need); } finally { this.softEpt = false; }
  }

  /**
   * The slow path of a MOV load in translated code (jit/codegen.ts), for `size` (1, 2 or 4) bytes within one page
   * at a valid linear address: what read8/16/32 do after a TLB miss, except that an EPT violation on the data
   * page (an MMIO register, typically) is a VM exit performed without unwinding, since V8 makes a throw cost
   * microseconds: then -1 with vmexitPending set, and the instruction has had no effect. Faults still throw.
   */
  softRead(lin: number, size: number): number {
    const pa = this.softTr(lin, ACC_READ, this.needRead);
    if (pa < 0) return -1;
    return size === 4 ? this.physRead32(pa) : size === 2 ? this.physRead16(pa) : this.physRead8(pa);
  }

  /** As softRead for a MOV store of the low `size` bytes of `v`: false after such a VM exit (nothing written). */
  softWrite(lin: number, size: number, v: number): boolean {
    const pa = this.softTr(lin, ACC_WRITE, this.needWrite);
    if (pa < 0) return false;
    if (size === 4) this.physWrite32(pa, v); else if (size === 2) this.physWrite16(pa, v); else this.physWrite8(pa, v);
    return true;
  }

  /** TLB permission bits EPT allowed for the last translation (intersected into the combined TLB entry). */
  eptTlbMask(): number {
    const p = this.ept!.lastPerm;
    return TLB_USER | ((p & 1) !== 0 ? TLB_READ : 0) | ((p & 2) !== 0 ? TLB_WRITE : 0) | ((p & 4) !== 0 ? TLB_EXEC : 0) | ((p & 10) === 10 ? TLB_DIRTY : 0);
  }

  /** As gpa2hpa without side effects (debugger): -1 when EPT does not map it. */
  gpa2hpaPeek(gpa: number): number {
    const e = this.ept;
    return e === null ? gpa : e.translate(this.mem, gpa, ACC_READ, true);
  }

  /**
   * Fill a TLB entry. For RAM pages the entry also keeps the host page itself for reads and
   * (when the current privilege may write and the dirty bit is set) for writes, so the
   * common access is one array index, as a softmmu TLB keeps a host address. Pages holding
   * decoded code never get a write page: their writes go through memory, which invalidates.
   */
  tlbFill(vpn: number, ppa: number, perm: number, access = ACC_READ): void {
    const k = vpn & (TLB_SIZE - 1);
    this.tlbTag[k] = vpn; this.tlbPa[k] = ppa; this.tlbPerm[k] = perm;
    let rd: Uint8Array | undefined, wr: Uint8Array | undefined;
    if (ppa + 4096 <= this.ramTop && (this.watchPages.size === 0 || !this.watchPages.has(ppa / 4096))) {
      const ppn = ppa / 4096;
      const readable = (perm & this.needRead) === this.needRead;
      if (readable) rd = this.mem.pageOrNull(ppn);
      if (access === ACC_WRITE && (perm & this.needWrite) === this.needWrite) {
        wr = this.mem.writablePage(ppn);
        if (rd === undefined) rd = wr;
        this.checkZeroPages();
      }
      if (rd === undefined && readable && this.mem.pageOrNull(ppn) === undefined) {
        // A RAM page never written reads as zeros: the shared zero page, until any page is allocated.
        this.noteZeroPage(k);
        rd = ZERO_PAGE;
      }
    }
    this.tlbRd[k] = rd; this.tlbWr[k] = wr;
  }

  /**
   * TLB entries whose read page is ZERO_PAGE (a RAM page not allocated yet) stay valid while the
   * memory's allocation count is `zeroAlloc` (-1: there are none). Every allocation goes through
   * PhysicalMemory's write paths; the processor checks after its own slow-path writes, MMIO and
   * between instructions, and drops them all when the count moved.
   */
  private zeroAlloc = -1;
  private readonly zeroSlots = new Int32Array(64);
  private zeroCount = 0;

  private noteZeroPage(k: number): void {
    const a = this.mem.residentBytes;
    if (this.zeroAlloc !== a) { this.dropZeroPages(); this.zeroAlloc = a; }
    if (this.zeroCount < this.zeroSlots.length) this.zeroSlots[this.zeroCount] = k;
    this.zeroCount++;
  }

  /** Drop the zero-page TLB entries when a page was allocated since they were made. */
  checkZeroPages(): void {
    if (this.zeroAlloc >= 0 && this.mem.residentBytes !== this.zeroAlloc) this.dropZeroPages();
  }

  private dropZeroPages(): void {
    const rd = this.tlbRd, tag = this.tlbTag;
    if (this.zeroCount <= this.zeroSlots.length) {
      for (let j = 0; j < this.zeroCount; j++) { const k = this.zeroSlots[j]; if (rd[k] === ZERO_PAGE) { tag[k] = NaN; rd[k] = undefined; } }
    } else {
      for (let k = 0; k < TLB_SIZE; k++) if (rd[k] === ZERO_PAGE) { tag[k] = NaN; rd[k] = undefined; }
    }
    this.zeroCount = 0;
    this.zeroAlloc = -1;
  }

  /** A page became code: no TLB entry may write it directly any more. */
  private dropWritePage(page: Uint8Array | undefined): void {
    if (page === undefined) return;
    const wr = this.tlbWr;
    for (let k = 0; k < TLB_SIZE; k++) if (wr[k] === page) wr[k] = undefined;
  }

  flushTlb(): void {
    this.tlbTag.fill(NaN);
    this.pscTag.fill(NaN);
    this.fpLin = NaN;
    this.zeroCount = 0; this.zeroAlloc = -1; // no entry is valid any more, zero-page ones included
  }

  /** Drop every decoded instruction (after a snapshot restore replaced memory). */
  flushCodeCache(): void {
    this.codeCache.clear();
    this.codeEpoch++;
    this.flushBlocks();
    this.ccPpn = -1;
    this.fpLin = NaN;
  }

  /** Drop every translated block (breakpoints changed, a restore, the translator turned off or on). */
  flushBlocks(): void {
    this.jitUnit.flush();
  }

  /** Translate with checks; raises #PF. */
  translate(lin: number, access: number, user: boolean): number {
    if (this.pagingMode === PG_NONE) {
      if (this.ept === null) return lin;
      // Under EPT the TLB caches guest-physical → host-physical as tr() fills it (EPT permissions, the dirty flag
      // only once set): descriptor, IDT and TSS accesses then walk the EPT only on a miss, like every other access.
      return this.tr(lin, access, access === ACC_READ ? TLB_READ : access === ACC_WRITE ? TLB_WRITE | TLB_DIRTY : TLB_EXEC);
    }
    const vpn = Math.floor(lin / 4096);
    const k = vpn & (TLB_SIZE - 1);
    if (this.tlbTag[k] === vpn) {
      const need = access === ACC_READ ? (user ? TLB_USER | TLB_READ : TLB_READ) : access === ACC_WRITE ? (user ? TLB_USER | TLB_WRITE | TLB_DIRTY : TLB_DIRTY | ((this.cr0 & CR0_WP) !== 0 ? TLB_WRITE : 0)) : (TLB_EXEC | (user ? TLB_USER : 0));
      if ((this.tlbPerm[k] & need) === need) return this.tlbPa[k] + (lin - vpn * 4096);
    }
    return walk(this, lin, access, user, false);
  }

  /** The host-physical address the TLB holds for `lin`, or -1 (no walk, no side effects). */
  tlbPeek(lin: number): number {
    const vpn = Math.floor(lin / 4096);
    const k = vpn & (TLB_SIZE - 1);
    return this.tlbTag[k] === vpn ? this.tlbPa[k] + (lin - vpn * 4096) : -1;
  }

  /** Translation for the debugger: no faults, no A/D updates, no TLB fill; -1 when unmapped. */
  peekTranslate(lin: number): number {
    if (this.pagingMode === PG_NONE) return lin >= 0 ? this.gpa2hpaPeek(lin) : -1;
    return walk(this, lin, ACC_READ, false, true);
  }

  private tr(lin: number, access: number, need: number): number {
    const vpn = Math.floor(lin / 4096);
    const k = vpn & (TLB_SIZE - 1);
    if (this.tlbTag[k] === vpn && (this.tlbPerm[k] & need) === need) return this.tlbPa[k] + (lin - vpn * 4096);
    if (this.pagingMode === PG_NONE) {
      const pa = this.ept === null ? lin : this.gpa2hpa(lin, access, lin, false);
      if (pa < 0) return pa; // softRead/softWrite: the exit was performed
      const page = pa - (lin - vpn * 4096);
      // With EPT the entry may only allow what EPT allowed for this access; refill on others. Without EPT all is
      // allowed, but an entry a read made lacks TLB_DIRTY, so the first write refills it with the page to write.
      this.tlbFill(vpn, page, this.ept !== null ? this.eptTlbMask() : access === ACC_WRITE ? 0xff : 0xff & ~TLB_DIRTY, access);
      return pa;
    }
    return walk(this, lin, access, this.cpl === 3, false);
  }

  read8(lin: number): number {
    const vpn = Math.floor(lin / 4096), k = vpn & (TLB_SIZE - 1);
    if (this.tlbTag[k] === vpn) { const p = this.tlbRd[k]; if (p !== undefined) return p[lin & 0xfff]; }
    return this.physRead8(this.tr(lin, ACC_READ, this.needRead));
  }

  read16(lin: number): number {
    const o = lin & 0xfff;
    if (o <= 0xffe) {
      const vpn = Math.floor(lin / 4096), k = vpn & (TLB_SIZE - 1);
      if (this.tlbTag[k] === vpn) { const p = this.tlbRd[k]; if (p !== undefined) return p[o] | (p[o + 1] << 8); }
      return this.physRead16(this.tr(lin, ACC_READ, this.needRead));
    }
    return this.read8(lin) | (this.read8(lin + 1) << 8);
  }

  read32(lin: number): number {
    const o = lin & 0xfff;
    if (o <= 0xffc) {
      const vpn = Math.floor(lin / 4096), k = vpn & (TLB_SIZE - 1);
      if (this.tlbTag[k] === vpn) { const p = this.tlbRd[k]; if (p !== undefined) return (p[o] | (p[o + 1] << 8) | (p[o + 2] << 16) | (p[o + 3] << 24)) >>> 0; }
      return this.physRead32(this.tr(lin, ACC_READ, this.needRead));
    }
    return (this.read16(lin) | (this.read16(lin + 2) << 16)) >>> 0;
  }

  /** 64-bit read: returns the low half, high half in this.vh. */
  read64(lin: number): number {
    const lo = this.read32(lin);
    this.vh = this.read32(lin + 4);
    return lo;
  }

  /** Check that a write of `size` bytes at `lin` will not fault (both pages when it crosses). */
  probeWrite(lin: number, size: number): void {
    this.tr(lin, ACC_WRITE, this.needWrite);
    // The second page is checked at its first byte: that is the address a fault reports (CR2, GUEST_LINEAR_ADDRESS).
    if ((lin & 0xfff) + size > 0x1000) this.tr(lin - (lin & 0xfff) + 0x1000, ACC_WRITE, this.needWrite);
  }

  write8(lin: number, v: number): void {
    const vpn = Math.floor(lin / 4096), k = vpn & (TLB_SIZE - 1);
    if (this.tlbTag[k] === vpn) { const p = this.tlbWr[k]; if (p !== undefined) { p[lin & 0xfff] = v; return; } }
    this.physWrite8(this.tr(lin, ACC_WRITE, this.needWrite), v);
  }

  write16(lin: number, v: number): void {
    const o = lin & 0xfff;
    if (o <= 0xffe) {
      const vpn = Math.floor(lin / 4096), k = vpn & (TLB_SIZE - 1);
      if (this.tlbTag[k] === vpn) { const p = this.tlbWr[k]; if (p !== undefined) { p[o] = v; p[o + 1] = v >>> 8; return; } }
      this.physWrite16(this.tr(lin, ACC_WRITE, this.needWrite), v);
      return;
    }
    this.probeWrite(lin, 2);
    this.write8(lin, v); this.write8(lin + 1, v >>> 8);
  }

  write32(lin: number, v: number): void {
    const o = lin & 0xfff;
    if (o <= 0xffc) {
      const vpn = Math.floor(lin / 4096), k = vpn & (TLB_SIZE - 1);
      if (this.tlbTag[k] === vpn) { const p = this.tlbWr[k]; if (p !== undefined) { p[o] = v; p[o + 1] = v >>> 8; p[o + 2] = v >>> 16; p[o + 3] = v >>> 24; return; } }
      this.physWrite32(this.tr(lin, ACC_WRITE, this.needWrite), v);
      return;
    }
    this.probeWrite(lin, 4);
    this.write16(lin, v); this.write16(lin + 2, v >>> 16);
  }

  write64(lin: number, v: number, vh: number): void {
    if ((lin & 0xfff) > 0xff8) this.probeWrite(lin, 8);
    this.write32(lin, v); this.write32(lin + 4, vh);
  }

  readSize(lin: number, size: number): number {
    switch (size) {
      case 8: return this.read8(lin);
      case 16: return this.read16(lin);
      case 32: return this.read32(lin);
      default: return this.read64(lin);
    }
  }

  writeSize(lin: number, size: number, v: number, vh: number): void {
    switch (size) {
      case 8: this.write8(lin, v); break;
      case 16: this.write16(lin, v); break;
      case 32: this.write32(lin, v); break;
      default: this.write64(lin, v, vh);
    }
  }

  /** Supervisor-mode (implicit) accesses to system structures: GDT, LDT, IDT, TSS (SDM vol. 3A §4.6). */
  sysRead32(lin: number): number {
    if ((lin & 0xfff) > 0xffc) return (this.sysRead16(lin) | (this.sysRead16(lin + 2) << 16)) >>> 0;
    return this.physRead32(this.translate(lin, ACC_READ, false));
  }
  sysRead16(lin: number): number {
    return this.physRead8(this.translate(lin, ACC_READ, false)) | (this.physRead8(this.translate(lin + 1, ACC_READ, false)) << 8);
  }
  sysWrite32(lin: number, v: number): void {
    for (let k = 0; k < 4; k++) this.physWrite8(this.translate(lin + k, ACC_WRITE, false), v >>> (8 * k));
  }

  /** Check that an implicit supervisor write of `bytes` at `lin` will not fault. */
  probeSys(lin: number, bytes: number): void {
    this.translate(lin, ACC_WRITE, false);
    if ((lin & 0xfff) + bytes > 0x1000) this.translate(lin + bytes - 1, ACC_WRITE, false);
  }

  sysWrite64(lin: number, lo: number, hi: number): void {
    this.sysWrite32(lin, lo); this.sysWrite32(lin + 4, hi);
  }

  sysWriteN(lin: number, bytes: number, v: number): void {
    for (let k = 0; k < bytes; k++) this.physWrite8(this.translate(lin + k, ACC_WRITE, false), v >>> (8 * k));
  }

  // ---------------------------------------------------------------- effective and linear addresses

  /**
   * Effective address of the memory operand of `i` (SDM vol. 1 §3.7.5): a number that is the
   * exact offset in 16/32-bit addressing, and the signed 64-bit value in 64-bit addressing
   * (NaN when it is not canonical).
   */
  ea(i: Insn): number {
    const as = i.addrSize;
    if (as === 64) {
      let lo: number, hi: number;
      if (i.ripRel) { const n = this.nextRip; lo = n >>> 0; hi = Math.floor(n / TWO32) >>> 0; }
      else if (i.base >= 0) { lo = this.lo[i.base]; hi = this.hi[i.base]; }
      else { lo = 0; hi = 0; }
      if (i.index >= 0) {
        const s = i.scale;
        const xl = this.lo[i.index], xh = this.hi[i.index];
        const sl = (xl << s) >>> 0, sh = s === 0 ? xh : ((xh << s) | (xl >>> (32 - s))) >>> 0;
        const t = lo + sl;
        hi = (hi + sh + (t >= TWO32 ? 1 : 0)) >>> 0; lo = t >>> 0;
      }
      if (i.base < 0 && i.index < 0 && !i.ripRel && (i.mod !== 0 || i.rm !== 4) && !i.hasModrm) {
        // moffs: absolute 64-bit address
        lo = i.disp >>> 0; hi = i.dispHi >>> 0;
      } else {
        const t = lo + (i.disp >>> 0);
        hi = (hi + (i.disp < 0 ? 0xffffffff : 0) + (t >= TWO32 ? 1 : 0)) >>> 0; lo = t >>> 0;
      }
      const hs = hi | 0;
      if (((hs << 16) >> 16) !== hs) return NaN;
      return hs * TWO32 + lo;
    }
    let a = i.disp;
    if (i.ripRel) a += this.nextRip;
    if (i.base >= 0) a += this.lo[i.base];
    if (i.index >= 0) a += this.lo[i.index] * (1 << i.scale);
    return as === 32 ? a >>> 0 : a & 0xffff;
  }

  /** Linear address for a data access of `bytes` at offset `off` in segment `s`, with limit and rights checks. */
  segLinear(s: number, off: number, bytes: number, write: boolean): number {
    if (this.codeSize === 64) {
      const lin = s >= FS ? this.segBase[s] + off : off;
      if (!(lin >= -140737488355328 && lin < 140737488355328)) this.raise(s === SS ? EXC_SS : EXC_GP, 0);
      return lin;
    }
    const ar = this.segAr[s];
    if ((ar & AR_UNUSABLE) !== 0 && (this.cr0 & CR0_PE) !== 0) this.raise(s === SS ? EXC_SS : EXC_GP, 0);
    const type = ar & 0xf;
    if (write ? (type & 0xa) !== 0x2 : (type & 0xa) === 0x8) {
      if ((this.cr0 & CR0_PE) !== 0) this.raise(s === SS ? EXC_SS : EXC_GP, 0);
    }
    const limit = this.segLimit[s];
    if ((type & 0xc) === 0x4) {
      // expand-down data segment: valid offsets are limit+1 .. 0xFFFF or 0xFFFFFFFF
      const top = (ar & AR_DB) !== 0 ? 0xffffffff : 0xffff;
      if (off <= limit || off + bytes - 1 > top) this.raise(s === SS ? EXC_SS : EXC_GP, 0);
    } else if (off + bytes - 1 > limit) {
      this.raise(s === SS ? EXC_SS : EXC_GP, 0);
    }
    // Modulo 2^32 (SDM vol. 3A §3.4): >>> 0 is exact for any base below 2^53 in magnitude, a negative one too (a high
    // canonical FS/GS base written by WRMSR, used in compatibility mode, where only its low 32 bits count).
    return (this.segBase[s] + off) >>> 0;
  }

  /**
   * For translated 32-bit code: the limit of segment `s` when an access to it needs only the limit
   * check of segLinear (usable, the right type, not expand-down), else -1 (the access takes segLinear's path).
   */
  segFastLimit(s: number, write: boolean): number {
    if (this.codeSize === 64 || (this.cr0 & CR0_PE) === 0) return -1;
    const ar = this.segAr[s];
    if ((ar & AR_UNUSABLE) !== 0) return -1;
    const type = ar & 0xf;
    if (write ? (type & 0xa) !== 0x2 : (type & 0xa) === 0x8) return -1;
    if ((type & 0xc) === 0x4) return -1;
    return this.segLimit[s];
  }

  /** Linear address of i's memory operand for an access of `size` bits. */
  memLinear(i: Insn, size: number, write: boolean): number {
    return this.segLinear(i.seg, this.ea(i), size >>> 3, write);
  }

  /** Read the r/m operand (register or memory) of `size` bits; 64-bit high half in vh. */
  readRM(i: Insn, size: number): number {
    if (i.mod === 3) return size === 8 ? this.getReg8(i.rm, i.rex) : this.getReg(i.rm, size);
    return this.readSize(this.memLinear(i, size, false), size);
  }

  writeRM(i: Insn, size: number, v: number, vh: number): void {
    if (i.mod === 3) {
      if (size === 8) this.setReg8(i.rm, i.rex, v); else this.setReg(i.rm, size, v, vh);
      return;
    }
    this.writeSize(this.memLinear(i, size, true), size, v, vh);
  }

  // ---------------------------------------------------------------- stack

  /** Stack pointer as an offset in SS. */
  private spOffset(): number {
    return this.stackSize === 64 ? this.regNumber(RSP) : this.stackSize === 32 ? this.lo[RSP] : this.lo[RSP] & 0xffff;
  }

  private setSp(off: number): void {
    if (this.stackSize === 64) this.setRegNumber(RSP, off);
    else if (this.stackSize === 32) { this.lo[RSP] = off >>> 0; this.hi[RSP] = 0; }
    else this.lo[RSP] = (this.lo[RSP] & 0xffff0000) | (off & 0xffff);
  }

  private wrapSp(off: number): number {
    return this.stackSize === 64 ? off : this.stackSize === 32 ? off >>> 0 : off & 0xffff;
  }

  /** PUSH of `size` bits (16/32/64). */
  push(size: number, v: number, vh: number): void {
    const bytes = size >>> 3;
    const off = this.wrapSp(this.spOffset() - bytes);
    const lin = this.segLinear(SS, off, bytes, true);
    this.writeSize(lin, size, v, vh);
    this.setSp(off);
  }

  /** POP of `size` bits; high half in vh. The stack pointer is updated by popCommit(). */
  pop(size: number): number {
    const bytes = size >>> 3;
    const off = this.spOffset();
    const v = this.readSize(this.segLinear(SS, off, bytes, false), size);
    this.setSp(this.wrapSp(off + bytes));
    return v;
  }

  /** Read a stack slot `depth` bytes above the stack pointer without popping. */
  peekStack(depth: number, size: number): number {
    const off = this.wrapSp(this.spOffset() + depth);
    return this.readSize(this.segLinear(SS, off, size >>> 3, false), size);
  }

  adjustSp(delta: number): void {
    this.setSp(this.wrapSp(this.spOffset() + delta));
  }

  // ---------------------------------------------------------------- fetch and decode

  private fetchByte(off: number): number {
    if (off >= 15) return 0; // the decoder stops at 15 bytes
    const lin = this.fetchLin + off;
    if (((this.fetchLin & 0xfff) + off) < 0x1000) return this.fetchRead8(this.fetchPa0 + off);
    if (this.codeSize !== 64 && (this.rip + off) > this.segLimit[CS]) this.raise(EXC_GP, 0);
    return this.fetchRead8(this.tr(lin, ACC_FETCH, this.needFetch));
  }

  /** Instruction bytes: not a data access (no data breakpoint). */
  private fetchRead8(pa: number): number {
    if (pa < this.ramTop) return this.mem.read8(pa);
    return this.mmioRead(pa, 1);
  }

  /**
   * Fast path of fetch: the linear page of the last fetch and its decoded-instruction array.
   * Valid until the TLB, the code cache or the mode changes (then fpLin = NaN).
   */
  private fpLin = NaN;
  private fpArr: (Insn | undefined)[] = [];

  /** Decode (or find in the cache) the instruction at CS:RIP. */
  fetch(): Insn {
    const rip = this.rip;
    let lin: number;
    if (this.codeSize === 64) {
      lin = rip;
      const d = lin - this.fpLin;
      if (d >= 0 && d < 4096) {
        const hit = this.fpArr[d];
        if (hit !== undefined && hit.mode === 64) return hit;
      }
      if (!(lin >= -140737488355328 && lin < 140737488355328)) this.raise(EXC_GP, 0);
    } else {
      if (rip > this.segLimit[CS]) this.raise(EXC_GP, 0);
      lin = (this.segBase[CS] + rip) >>> 0;
      const d = lin - this.fpLin;
      if (d >= 0 && d < 4096) {
        const hit = this.fpArr[d];
        if (hit !== undefined && hit.mode === this.codeSize && rip + hit.length - 1 <= this.segLimit[CS]) return hit;
      }
    }
    const pa = this.tr(lin, ACC_FETCH, this.needFetch);
    const ppn = Math.floor(pa / 4096);
    const off = pa & 0xfff;
    let arr: (Insn | undefined)[];
    if (ppn === this.ccPpn) arr = this.ccArr;
    else {
      let a = this.codeCache.get(ppn);
      if (a === undefined) {
        if (pa >= this.ramTop) return this.decodeUncached(lin, pa);
        a = new Array(4096);
        this.codeCache.set(ppn, a);
        this.mem.markCode(ppn);
        this.dropWritePage(this.mem.pageOrNull(ppn));
      }
      this.ccPpn = ppn; this.ccArr = a; arr = a;
      this.ccBlk = this.jit ? this.jitUnit.page(ppn) : EMPTY_BLOCK_PAGE;
    }
    this.fpLin = lin - off;
    this.fpArr = arr;
    this.fpBlk = this.ccBlk;
    let insn = arr[off];
    if (insn !== undefined && insn.mode === this.codeSize) return insn;
    if (off > 0x1000 - 15) return this.decodeUncached(lin, pa);
    if (insn === undefined) { insn = new Insn(); arr[off] = insn; }
    this.fetchLin = lin; this.fetchPa0 = pa;
    try {
      decode(insn, this.fetchFn, this.codeSize);
    } catch (e) {
      arr[off] = undefined;
      throw e;
    }
    insn.mode = this.codeSize;
    return insn;
  }

  /**
   * Make `lin`'s page the fetch page (fpLin/fpArr/fpBlk) without a walk or a fault: only when the TLB maps it
   * with fetch permission and the page has decoded instructions already. Returns whether it did.
   */
  private switchFetchPage(lin: number): boolean {
    const vpn = Math.floor(lin / 4096);
    const k = vpn & (TLB_SIZE - 1);
    if (this.tlbTag[k] !== vpn || (this.tlbPerm[k] & this.needFetch) !== this.needFetch) return false;
    const ppn = Math.floor(this.tlbPa[k] / 4096);
    if (ppn !== this.ccPpn) {
      const a = this.codeCache.get(ppn);
      if (a === undefined) return false;
      this.ccPpn = ppn; this.ccArr = a;
      this.ccBlk = this.jitUnit.page(ppn);
    }
    this.fpLin = vpn * 4096;
    this.fpArr = this.ccArr;
    this.fpBlk = this.ccBlk;
    return true;
  }

  private decodeUncached(lin: number, pa: number): Insn {
    this.fetchLin = lin; this.fetchPa0 = pa;
    const insn = this.scratchInsn;
    decode(insn, this.fetchFn, this.codeSize);
    insn.mode = 0; // never matches a cache check
    return insn;
  }

  // ---------------------------------------------------------------- events

  /** Deliver the exception recorded by raise(), handling #DF and triple fault (SDM vol. 3A §6.15). */
  deliverPendingException(): void {
    if (this.exceptionTrap !== null && this.exceptionTrap(this.excVector, this.excError)) {
      this.icount--;
      this.stopRequested = true;
      return;
    }
    let vector = this.excVector;
    let err = this.excError;
    let hasErr = this.excHasError;
    for (;;) {
      const prev = this.delivering;
      // Whether the exception bitmap was consulted for `vector` already.
      let checked = false;
      if (prev >= 0) {
        // A fault while delivering another exception. In VMX non-root operation the exception bitmap decides on it
        // first: such an exit happens during event delivery (the IDT-vectoring information names the first event);
        // only an exception that does not exit combines with the first one (SDM vol. 3C §28.2.3: an exit is not
        // during event delivery when "the original event results in a double-fault exception that causes the VM exit
        // directly"; KVM fixed the same order in "Morph pending exceptions to pending VM-Exits at queue time").
        if (this.vmx !== null) {
          try { this.vmx.exception(this, vector, hasErr, err, false); } catch (e) { this.delivering = -1; throw e; }
          checked = true;
        }
        if (prev === EXC_DF) {
          // A triple fault exit is not one during event delivery either (§28.2.3).
          if (this.vmx !== null) { this.delivering = -1; this.eventInfo = 0; this.vmx.tripleFault(this); }
          this.shutdown(`triple fault: ${exceptionName(vector)} while delivering #DF`);
          return;
        }
        if (makesDoubleFault(prev, vector)) {
          vector = EXC_DF; err = 0; hasErr = true;
          checked = false;
          this.eventInfo = 0; // the double fault is a new event, not one met during delivery
        }
      }
      this.delivering = vector;
      try {
        if (this.vmx !== null && !checked) this.vmx.exception(this, vector, hasErr, err, false);
        if (vector === 14) this.cr2 = this.pfLinear;
        this.deliver(vector, hasErr, err, false, this.rip);
        this.delivering = -1;
        return;
      } catch (e) {
        if (e !== CPU_FAULT) { this.delivering = -1; throw e; } // VM_EXIT included
        if (this.stopRequested && this.shutdownReason !== '') { this.delivering = -1; return; }
        vector = this.excVector; err = this.excError; hasErr = this.excHasError;
      }
    }
  }

  shutdown(reason: string): void {
    this.shutdownReason = reason;
    this.delivering = -1;
    this.halted = true;
  }

  /**
   * Deliver an event injected at VM entry (SDM vol. 3C §27.6.1.1): as deliver(), and an injected hardware exception is
   * the first event for one that faults while it is delivered (#DF, triple fault: vol. 3A §6.15, table 6-5), as a
   * processor-generated one would be. A fault is left for deliverPendingException, which goes on from there.
   */
  deliverInjected(vector: number, hasErr: boolean, err: number, soft: boolean, returnRip: number, type: number): void {
    this.delivering = type === 3 ? vector : -1;
    try {
      this.deliver(vector, hasErr, err, soft, returnRip, type);
      this.delivering = -1;
    } catch (e) {
      if (e !== CPU_FAULT) this.delivering = -1;
      throw e;
    }
  }

  /**
   * Deliver an interrupt or exception through the IVT/IDT. `soft` for INT n/INT3/INTO (privilege
   * check on the gate). `type` is the event type in VMX terms (0 external interrupt, 2 NMI,
   * 3 hardware exception, 4 software interrupt, 5 privileged software exception, 6 software exception).
   */
  deliver(vector: number, hasErr: boolean, err: number, soft: boolean, returnRip: number, type = soft ? (vector === 3 || vector === 4 ? 6 : 4) : 3): void {
    this.eventInfo = (0x80000000 | vector | (type << 8) | (hasErr ? 0x800 : 0)) >>> 0;
    this.eventError = err;
    // Types 4-6 (software interrupt, privileged software exception, software exception) return past their instruction.
    let len = type >= 4 && type <= 6 ? returnRip - this.rip : 0;
    if (len < 0) len += this.codeSize === 16 ? 0x10000 : 4294967296; // the return address wrapped within the code size
    this.eventLength = len;
    deliverEvent(this, vector, hasErr, err, soft, returnRip);
    this.eventInfo = 0;
    this.jitLeader = true; // a control transfer: the handler's first instruction may start a block
  }

  // ---------------------------------------------------------------- run loop

  /** After a VM exit in run(): the steps the exit shortcut used handling it and entering again, or -1 (none, or it left the exit to the caller). */
  private shortcutSteps(end: number): number {
    const fused = this.fusedSteps;
    if (fused !== 0) { this.fusedSteps = 0; return fused; }
    return this.exitShortcut !== null ? this.exitShortcut(end - this.icount) : -1;
  }

  /**
   * Run up to `budget` instructions. Returns why it stopped. Instruction breakpoints (by RIP)
   * stop before the instruction executes; the next run starts by executing it.
   */
  run(budget: number): CpuStop {
    let end = this.icount + budget;
    this.stepLimit = end;
    const handlers = Cpu.handlers;
    const bps = this.breakpoints;
    const jit = this.jit;
    if (jit !== this.jitWasOn || bps.version !== this.jitBpVersion) {
      // Blocks never contain a breakpoint (after their first instruction): rebuild when they change.
      this.jitWasOn = jit; this.jitBpVersion = bps.version;
      this.flushBlocks();
    }
    while (this.icount < end) {
      if (this.halted) {
        if (this.shutdownReason !== '') return 'shutdown';
        if (!this.tryWake()) return 'halted';
      }
      if (this.stopRequested) { this.stopRequested = false; return 'stop'; }
      try {
        while (this.icount < end) {
          if (this.zeroAlloc >= 0 && this.mem.residentBytes !== this.zeroAlloc) this.dropZeroPages();
          if (this.vmx !== null && (this.vmx.boundaryPending || this.icount >= this.timerAt)) this.vmx.boundary(this);
          if (this.shadow !== 0) this.shadow--;
          else if (this.intr !== null && (this.flagsRaw & IF) !== 0 && this.intr.pending()) this.takeInterrupt();
          if (bps.size !== 0 && bps.has(this.rip)) {
            if (!this.skipBreakpointOnce) return 'breakpoint';
          }
          this.skipBreakpointOnce = false;
          if (this.onInstruction !== null) this.onInstruction(this);
          const tf = this.flagsRaw & TF;
          // A translated block runs only where none of the checks above (nor TF) can fire inside it:
          // the instructions that could make them fire end blocks, and call-outs leave the block
          // when stopRequested, boundaryPending or a code page changed (jit/block.ts).
          const cs = this.codeSize;
          let looked = false; // this instruction was looked up in its page's blocks (it has none: it runs interpreted)
          if (jit && tf === 0 && this.shadow === 0 && cs !== 16 && this.onInstruction === null
            && (this.intr === null || (this.flagsRaw & IF) === 0) && (this.vmx === null || !this.vmx.boundaryPending)) {
            const lin = cs === 64 ? this.rip : (this.segBase[CS] + this.rip) >>> 0;
            let d = lin - this.fpLin;
            // Control left the page of the last fetch (a call or jump to another page): switch to the new
            // page's blocks when the TLB maps it for fetching, so the block there runs (or gets counted).
            // (Also when no page is current: fpLin is NaN after a mode update or a TLB flush, and NaN fails both tests.)
            if (!(d >= 0 && d < 4096) && this.switchFetchPage(lin)) d = lin - this.fpLin;
            if (d >= 0 && d < 4096) {
              looked = true;
              const page = this.fpBlk;
              const b = page.blocks[d];
              // A block is entered in the code size it was built for, and outside 64-bit mode only when
              // every byte it fetches and every target it branches to is within CS.limit.
              if (b !== undefined && b.rip === this.rip && b.mode === cs && b.needLimit <= this.segLimit[CS]) {
                const stop = end < this.timerAt ? end : this.timerAt;
                if (this.icount + b.len <= stop) {
                  if (b.fn !== null) b.fn(this as never, stop); else runThreaded(this, b);
                  this.jitLeader = true;
                  if (this.stepDebt !== 0) { this.stepLimit = end -= this.stepDebt; this.stepDebt = 0; }
                  if (this.vmexitPending) {
                    this.vmexitPending = false;
                    const n = this.shortcutSteps(end);
                    if (n > 0) { this.stepLimit = end -= n; break; }
                    return 'vmexit';
                  }
                  if (this.halted || this.stopRequested) break;
                  continue;
                }
              } else if (this.jitLeader) {
                const h = page.hits[d];
                if (h < HOT_THRESHOLD) page.hits[d] = h + 1;
                else if (h === HOT_THRESHOLD) {
                  page.hits[d] = 255;
                  if (bps.version !== this.jitBpVersion) { this.jitBpVersion = bps.version; this.flushBlocks(); }
                  else this.jitUnit.translate(this, page, d, this.rip);
                }
              }
            }
          }
          const i = this.fetch();
          this.cur = i;
          if (i.fault !== DecodeFault.None) this.decodeFault(i);
          const seq = this.wrapIp(this.rip + i.length);
          this.nextRip = seq;
          handlers[i.opcode](this, i);
          // The next instruction may start a block after a control transfer, after an instruction that crossed into the
          // next page (no block starts at one), and after one the translator did not look at (its page was not current:
          // after a mode update or a TLB flush; an interrupt shadow; ...): else the code after it ran interpreted until
          // the next branch.
          this.jitLeader = this.nextRip !== seq || !looked || (((this.codeSize === 64 ? this.rip : this.segBase[CS] + this.rip) & 0xfff) + i.length > 0x1000);
          if (this.vmexitPending) {
            this.vmexitPending = false;
            const n = this.shortcutSteps(end);
            if (n > 0) { this.stepLimit = end -= n; break; }
            return 'vmexit';
          }
          this.rip = this.nextRip;
          this.icount++;
          if (tf !== 0) this.singleStepTrap();
          if (this.vmx !== null) this.vmx.afterInstruction(this);
          if (this.halted || this.stopRequested) break;
        }
      } catch (e) {
        // A block that went on after fastpath exits (stepDebt) can still fault or exit further on.
        if (this.stepDebt !== 0) { this.stepLimit = end -= this.stepDebt; this.stepDebt = 0; }
        if (e === VM_EXIT) {
          const n = this.shortcutSteps(end);
          if (n > 0) { this.stepLimit = end -= n; continue; }
          return 'vmexit';
        }
        if (e !== CPU_FAULT) throw e;
        this.icount++;
        this.jitLeader = true;
        try {
          this.deliverPendingException();
        } catch (e2) {
          if (e2 === VM_EXIT) return 'vmexit';
          throw e2;
        }
      }
    }
    return 'budget';
  }

  /**
   * The single-step #DB trap after an instruction retired with RFLAGS.TF (SDM vol. 3B §18.3.1.4).
   * A fault while delivering it is handled here, so the retired instruction is not counted twice.
   */
  private singleStepTrap(): void {
    this.dr[6] = this.dr[6] | 0x4000;
    try {
      this.deliver(EXC_DB, false, 0, false, this.rip);
    } catch (e) {
      if (e !== CPU_FAULT) throw e;
      this.deliverPendingException();
    }
  }

  /** Resume after a breakpoint stop: the instruction at RIP executes even though it has a breakpoint. */
  resumeFromBreakpoint(): void {
    this.skipBreakpointOnce = true;
  }

  wrapIp(v: number): number {
    return this.codeSize === 64 ? v : this.codeSize === 32 ? v >>> 0 : v & 0xffff;
  }

  private decodeFault(i: Insn): void {
    if (i.fault === DecodeFault.TooLong) this.raise(EXC_GP, 0);
    if (i.fault === DecodeFault.Unimplemented) this.unimplementedOp('encoding not implemented (VEX/EVEX/XOP/3DNow!)');
    this.raise(EXC_UD);
  }

  private tryWake(): boolean {
    if (this.intr !== null && (this.flagsRaw & IF) !== 0 && this.intr.pending()) {
      this.halted = false;
      return true;
    }
    return false;
  }

  private takeInterrupt(): void {
    const v = this.intr!.ack();
    if (v < 0) return;
    this.halted = false;
    this.deliver(v, false, 0, false, this.rip, 0);
  }

  /** Request that run() return at the next instruction boundary. */
  requestStop(): void {
    this.stopRequested = true;
  }
}

export function exceptionName(v: number): string {
  const names = ['#DE', '#DB', 'NMI', '#BP', '#OF', '#BR', '#UD', '#NM', '#DF', 'CSO', '#TS', '#NP', '#SS', '#GP', '#PF', '#15', '#MF', '#AC', '#MC', '#XM'];
  return v < names.length ? names[v] : `vector ${v}`;
}

// ---------------------------------------------------------------- event delivery (SDM vol. 3A §6.12, §6.14)

const gateBuf = new Uint32Array(4);
const csBuf = new Uint32Array(2);
const ssBuf = new Uint32Array(2);
const frameBuf = new Uint32Array(10);

function deliverEvent(c: Cpu, vector: number, hasErr: boolean, err: number, soft: boolean, returnRip: number): void {
  const flags = c.getFlags();
  if ((c.cr0 & CR0_PE) === 0) {
    // Real mode: IVT at IDTR.base, 4-byte entries (SDM vol. 3A §20.1.4).
    if (vector * 4 + 3 > c.idtrLimit) c.raise(EXC_GP, 0);
    const off = c.read16(c.idtrBase + vector * 4);
    const seg = c.read16(c.idtrBase + vector * 4 + 2);
    c.push(16, flags & 0xffff, 0);
    c.push(16, c.sel[CS], 0);
    c.push(16, returnRip & 0xffff, 0);
    c.setSegReal(CS, seg);
    c.rip = off;
    c.flagsRaw = flags & ~(IF | TF | AC | RF);
    return;
  }
  if ((flags & VM) !== 0) c.unimplementedOp('virtual-8086 mode interrupts');
  const long = (c.efer & EFER_LMA) !== 0;
  const entrySize = long ? 16 : 8;
  const extBit = soft ? 0 : 1;
  if (vector * entrySize + entrySize - 1 > c.idtrLimit) c.raise(EXC_GP, vector * 8 + 2 + extBit);
  const gateLin = c.idtrBase + vector * entrySize;
  c.sysRead64(gateLin, gateBuf, 0);
  if (long) c.sysRead64(gateLin + 8, gateBuf, 2);
  const type = (gateBuf[1] >>> 8) & 0x1f;
  const gdpl = (gateBuf[1] >>> 13) & 3;
  const present = (gateBuf[1] & 0x8000) !== 0;
  const isInterruptGate = (type & 0xf) === 0xe || (type & 0xf) === 0x6;
  const isTrapGate = (type & 0xf) === 0xf || (type & 0xf) === 0x7;
  if (type === 0x5) c.unimplementedOp('task gates');
  const validType = long ? type === 0xe || type === 0xf : type === 0xe || type === 0xf || type === 0x6 || type === 0x7;
  if (!validType) c.raise(EXC_GP, vector * 8 + 2 + extBit);
  if (soft && gdpl < c.cpl) c.raise(EXC_GP, vector * 8 + 2);
  if (!present) c.raise(EXC_NP, vector * 8 + 2 + extBit);
  const gate32 = (type & 0x8) !== 0;
  const selector = gateBuf[0] >>> 16;
  let offset = ((gateBuf[0] & 0xffff) | (gateBuf[1] & 0xffff0000)) >>> 0;
  if (long) offset = toNumber64(offset, gateBuf[2]);
  if ((selector & 0xfffc) === 0) c.raise(EXC_GP, extBit);
  if (!c.readDescriptor(selector, csBuf)) c.raise(EXC_GP, (selector & 0xfffc) + extBit);
  const car = Cpu.descAr(csBuf[1]);
  const cdpl = (car >>> 5) & 3;
  if ((car & AR_S) === 0 || (car & 0x8) === 0 || cdpl > c.cpl) c.raise(EXC_GP, (selector & 0xfffc) + extBit);
  if ((car & AR_P) === 0) c.raise(EXC_NP, (selector & 0xfffc) + extBit);
  if (long && ((car & AR_L) === 0 || (car & AR_DB) !== 0)) c.raise(EXC_GP, (selector & 0xfffc) + extBit);
  const conforming = (car & 0x4) !== 0;
  const newCpl = conforming ? c.cpl : cdpl;
  const oldCs = c.sel[CS], oldSs = c.sel[SS];
  const oldSp = c.regNumber(RSP);
  const oldCpl = c.cpl;
  const ist = long ? gateBuf[1] & 7 : 0;
  const size = long ? 64 : gate32 ? 32 : 16;

  if (long) {
    // IA-32e: always push SS:RSP; stack from TSS (RSPn or ISTn), aligned to 16 (SDM vol. 3A §6.14.2).
    let newSp: number;
    if (ist !== 0) newSp = readTss64(c, 0x24 + (ist - 1) * 8);
    else if (newCpl !== oldCpl) newSp = readTss64(c, 4 + newCpl * 8);
    else newSp = oldSp;
    newSp -= newSp % 16 === 0 ? 0 : ((newSp % 16) + 16) % 16;
    const frame = frameBuf;
    frame[0] = oldSs; frame[1] = 0; frame[2] = oldSp >>> 0; frame[3] = Math.floor(oldSp / TWO32) >>> 0; frame[4] = flags; frame[5] = 0;
    frame[6] = oldCs; frame[7] = 0; frame[8] = returnRip >>> 0; frame[9] = Math.floor(returnRip / TWO32) >>> 0;
    let sp = newSp;
    const words = hasErr ? 6 : 5;
    // Probe the whole frame first so a fault leaves nothing half-written.
    const base = sp - words * 8;
    c.probeSys(base, words * 8);
    for (let k = 0; k < 5; k++) { sp -= 8; c.sysWrite64(sp, frame[k * 2], frame[k * 2 + 1]); }
    if (hasErr) { sp -= 8; c.sysWrite64(sp, err >>> 0, 0); }
    if (newCpl !== oldCpl) {
      c.heldEpoch++; // SS before CS: an exit or fault in between must not find the epoch unmoved
      c.sel[SS] = newCpl; c.segBase[SS] = 0; c.segLimit[SS] = 0xffffffff; c.segAr[SS] = AR_UNUSABLE | (newCpl << 5) | AR_DB | 0x3 | AR_S | AR_P;
    }
    c.loadCsFromDescriptor(selector, csBuf, newCpl);
    c.setRegNumber(RSP, sp);
    c.rip = offset;
  } else {
    let ssSel = oldSs;
    let sp = c.lo[RSP];
    if (newCpl < oldCpl) {
      // Inner-privilege stack from the 32-bit TSS (SDM vol. 3A §7.2.1): ESPn at 4+8n, SSn at 8+8n.
      if ((c.trAr & 0xf) !== 0xb && (c.trAr & 0xf) !== 0x9) c.raise(EXC_TS, c.trSel & 0xfffc);
      const tssOff = 4 + newCpl * 8;
      if (tssOff + 5 > c.trLimit) c.raise(EXC_TS, c.trSel & 0xfffc);
      sp = c.sysRead32(c.trBase + tssOff);
      ssSel = c.sysRead16(c.trBase + tssOff + 4);
      const d = ssBuf;
      if ((ssSel & 0xfffc) === 0 || !c.readDescriptor(ssSel, d)) c.raise(EXC_TS, ssSel & 0xfffc);
      const sar = Cpu.descAr(d[1]);
      if ((ssSel & 3) !== newCpl || ((sar >>> 5) & 3) !== newCpl || (sar & 0x1a) !== 0x12) c.raise(EXC_TS, ssSel & 0xfffc);
      if ((sar & AR_P) === 0) c.raise(EXC_SS, ssSel & 0xfffc);
      const sbase = Cpu.descBase(d[0], d[1]);
      const w = gate32 ? 4 : 2;
      const bytes = w * (hasErr ? 6 : 5);
      const newSize = (sar & AR_DB) !== 0 ? 32 : 16;
      const spw = newSize === 32 ? sp >>> 0 : sp & 0xffff;
      // The new stack must have room for the frame: #SS(NewSS + EXT) (SDM vol. 2A INT n, INTER-PRIVILEGE-LEVEL-INTERRUPT).
      const slimit = Cpu.descLimit(d[0], d[1]);
      for (let k = 1; k <= bytes / w; k++) if (!stackSlotFits(sar, slimit, newSize === 32 ? (spw - k * w) >>> 0 : (spw - k * w) & 0xffff, w)) c.raise(EXC_SS, (ssSel & 0xfffc) + extBit);
      if ((gate32 ? offset : offset & 0xffff) > Cpu.descLimit(csBuf[0], csBuf[1])) c.raise(EXC_GP, extBit);
      c.probeSys(sbase + spw - bytes, bytes);
      let p = spw;
      for (let k = 0; k < 5; k++) {
        const v = k === 0 ? oldSs : k === 1 ? oldSp >>> 0 : k === 2 ? flags : k === 3 ? oldCs : returnRip >>> 0;
        p -= w; c.sysWriteN(sbase + ((newSize === 32 ? p >>> 0 : p & 0xffff)), w, v);
      }
      if (hasErr) { p -= w; c.sysWriteN(sbase + p, w, err); }
      c.heldEpoch++;
      c.sel[SS] = ssSel; c.segBase[SS] = sbase; c.segLimit[SS] = Cpu.descLimit(d[0], d[1]); c.segAr[SS] = sar | 1;
      c.loadCsFromDescriptor(selector, csBuf, newCpl);
      c.setReg(RSP, newSize === 32 ? 32 : 16, p, 0);
    } else {
      // Same privilege (SDM vol. 2A INT n, INTRA-PRIVILEGE-LEVEL-INTERRUPT): the stack must have room for the whole
      // frame, #SS(EXT); the gate's offset must be within the new CS limit, #GP(EXT); then the pushes, whose page
      // faults (in push order) leave ESP as it was: it is written once the frame is.
      const w = size >>> 3, n = hasErr ? 4 : 3;
      const s32 = c.stackSize === 32;
      const sp0 = s32 ? c.lo[RSP] : c.lo[RSP] & 0xffff;
      const sar = c.segAr[SS], slimit = c.segLimit[SS], sbase = c.segBase[SS];
      for (let k = 1; k <= n; k++) if (!stackSlotFits(sar, slimit, s32 ? (sp0 - k * w) >>> 0 : (sp0 - k * w) & 0xffff, w)) c.raise(EXC_SS, extBit);
      if ((gate32 ? offset : offset & 0xffff) > Cpu.descLimit(csBuf[0], csBuf[1])) c.raise(EXC_GP, extBit);
      const low = s32 ? (sp0 - n * w) >>> 0 : (sp0 - n * w) & 0xffff;
      const lin = (sbase + low) >>> 0, o = lin & 0xfff;
      // One page the TLB holds for writing, no wrap of the offsets (a 32-bit stack): write the frame into it, as
      // the pushes would on their TLB hits. Else each slot is checked (probed), then written.
      const page = gate32 && s32 && sp0 >= n * w && o + n * w <= 0x1000 ? c.tlbWritePage(lin) : undefined;
      if (page !== undefined) {
        let q = o + n * w;
        q -= 4; put32(page, q, flags);
        q -= 4; put32(page, q, oldCs);
        q -= 4; put32(page, q, returnRip);
        if (hasErr) { q -= 4; put32(page, q, err); }
      } else {
        for (let k = 1; k <= n; k++) c.probeWrite((sbase + (s32 ? (sp0 - k * w) >>> 0 : (sp0 - k * w) & 0xffff)) >>> 0, w);
        for (let k = 1; k <= n; k++) {
          const v = k === 1 ? flags : k === 2 ? oldCs : k === 3 ? returnRip >>> 0 : err;
          c.writeSize((sbase + (s32 ? (sp0 - k * w) >>> 0 : (sp0 - k * w) & 0xffff)) >>> 0, size, v, 0);
        }
      }
      c.setReg(RSP, s32 ? 32 : 16, low, 0);
      c.loadCsFromDescriptor(selector, csBuf, newCpl);
    }
    c.rip = gate32 ? offset : offset & 0xffff;
  }
  let nf = flags & ~(TF | NT | RF | VM);
  if (isInterruptGate) nf &= ~IF;
  void isTrapGate;
  // loadCsFromDescriptor updated the mode; clearing VM (0 here: virtual-8086 delivery is not modelled) changes nothing of it.
  c.setFlags(nf);
}

/** Whether a `bytes`-wide stack slot at offset `off` passes the checks of segLinear for a write to SS (SDM vol. 3A §5.3). */
function stackSlotFits(ar: number, limit: number, off: number, bytes: number): boolean {
  if ((ar & AR_UNUSABLE) !== 0 || (ar & 0xa) !== 0x2) return false;
  if ((ar & 0xc) === 0x4) return off > limit && off + bytes - 1 <= ((ar & AR_DB) !== 0 ? 0xffffffff : 0xffff);
  return off + bytes - 1 <= limit;
}

function put32(p: Uint8Array, o: number, v: number): void {
  p[o] = v; p[o + 1] = v >>> 8; p[o + 2] = v >>> 16; p[o + 3] = v >>> 24;
}

function readTss64(c: Cpu, off: number): number {
  if (off + 7 > c.trLimit) c.raise(EXC_TS, c.trSel & 0xfffc);
  const lo = c.sysRead32(c.trBase + off), hi = c.sysRead32(c.trBase + off + 4);
  const v = toNumber64(lo, hi);
  if (!(v >= -140737488355328 && v < 140737488355328)) c.raise(EXC_SS, 0);
  return v;
}

// Silence unused-import lint for constants kept for readers of this file.
void [AR_G, DS, ES, GS, IOPL, ID, DF, EXC_DF];
