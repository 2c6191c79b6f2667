// A Machine under a debugger: breakpoints, VM-exit filters, data breakpoints, stepping, pause, and the guest's state (api.ts).
import type { Machine, RunResult } from '../machine.js';
import type { Hypervisor } from '../vmm/hypervisor.js';
import type { ExitInfo } from '../vmm/api.js';
import { guestLinearToPhysical, type GuestPagingState } from '../vmm/guest-walk.js';
import { LineTable, SymbolTable } from '../loader/image.js';
import { decode } from '../cpu/decode.js';
import { Insn, MAP_0F } from '../cpu/insn.js';
import { exitReasonByName } from '../vmx/exit-reasons.js';
import { decodeExitQualification } from '../vmx/qualification.js';
import { compileCondition, compileHitCondition, formatLogMessage, type EvalContext } from './expr.js';
import { exitFields } from './exit-fields.js';
import { History, type HistoryOptions } from '../history/history.js';
import { compareMoments, formatMoment, momentOf, unitsBetween, type Moment } from '../history/moment.js';
import type { CpuStop } from '../cpu/cpu.js';
import type {
  BreakpointResult, DataBreakpointSpec, Debuggee, ExitFilterSpec, ExitStop, GuestRegisterFile, HistoryView, SourceBreakpointSpec, StopInfo, TravelJob,
} from './api.js';

type Test = { test(ctx: EvalContext): boolean; check(ctx: EvalContext): { stop: boolean; error?: string } };
type HitTest = { test(hits: number): boolean };

interface InstructionBp {
  id: number;
  address: number;
  condition: Test | null;
  hit: HitTest | null;
  logMessage: string | null;
  /**
   * Times execution reached the breakpoint with its condition true, in this timeline, since
   * the breakpoint was set (`since`): a function of the moment, so going back restores it
   * (snapshot tags + counting while re-executing) and going forward again repeats the first run.
   */
  hits: number;
  since: Moment;
  /** The moment of the last reach counted (a reach is counted once, whether it stops or is executed). */
  counted: Moment | null;
  /** The spec, to keep the counts of breakpoints a new set leaves unchanged. */
  key: string;
}

/** The hit counts of the breakpoints with a hit condition at a snapshot (History.tagger). */
type HitTag = Map<InstructionBp, { hits: number; counted: Moment | null }>;

/** Re-execution between two turns of a travel job, in cost units (Machine.budgetUsed): a few ms. */
export const TRAVEL_SLICE = 200_000;
/** What one single step costs against TRAVEL_SLICE (stepping is slower per instruction than running). */
const STEP_COST = 25;



interface ExitFilter {
  id: number;
  /** Basic exit reason, or null for any exit. */
  reason: number | null;
  condition: Test | null;
  conditionText?: string;
}

const GPRS = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;
const SEGS = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'] as const;
const TWO32 = 4294967296;
const U64 = (v: number): bigint => BigInt.asUintN(64, BigInt(v));

export interface DebuggeeOptions {
  /** Stop at VM exits before the hypervisor handles them, after, or both (default before). */
  exitStage?: 'before' | 'after' | 'both';
  /** Where logpoint messages go (the adapter's output events). */
  log?: (text: string) => void;
}

export class MachineDebuggee implements Debuggee {
  readonly machine: Machine;
  readonly hv: Hypervisor | null;
  readonly symbols: SymbolTable;
  readonly lines: LineTable;
  exitStage: 'before' | 'after' | 'both';
  private readonly log: (text: string) => void;
  private nextId = 1;
  private readonly bps = new Map<number, InstructionBp>();
  private filters: ExitFilter[] = [];
  private dataBps: Array<{ id: number; spec: DataBreakpointSpec; condition: Test | null }> = [];
  private pauseRequested = false;
  private stepToExitArmed = false;
  /** A temporary stop (step over / step out): the address and the stack pointer it must be above. */
  private temp: { address: number; rspAbove: bigint } | null = null;
  private conditionError: string | undefined;
  /** RAX/RCX/RDX as they were when the current exit happened (conditions at the 'after' stage see these). */
  private exitRegs: { n: number; rax: bigint; rcx: bigint; rdx: bigint } | null = null;
  /** The run's history for time travel (enableHistory), or null. */
  recorder: History | null = null;
  /** The data breakpoints' watch ranges as given to the processor (put back after re-execution). */
  private watchRanges: Array<{ id: number; start: number; end: number; read: boolean; write: boolean }> = [];

  constructor(machine: Machine, opts: DebuggeeOptions = {}) {
    this.machine = machine;
    this.hv = machine.hv;
    this.exitStage = opts.exitStage ?? 'before';
    this.log = opts.log ?? (() => { /* nowhere */ });
    this.symbols = new SymbolTable(machine.image.symbols);
    this.lines = new LineTable(machine.image.lines);
    if (this.hv !== null) this.hv.exitBreak = (info, stage, n) => this.exitBreaks(info, stage, n);
  }

  get ended(): RunResult | null {
    return this.machine.result;
  }

  // ---------------------------------------------------------------- breakpoints

  setInstructionBreakpoints(list: SourceBreakpointSpec[]): BreakpointResult[] {
    for (const bp of this.bps.values()) this.machine.cpu.breakpoints.delete(bp.address);
    // Breakpoints the new set leaves as they were keep their hit counts (a client sends whole sets).
    const old = new Map<string, InstructionBp>();
    for (const bp of this.bps.values()) old.set(bp.key, bp);
    this.bps.clear();
    const out: BreakpointResult[] = [];
    const now = this.moment();
    for (const spec of list) {
      const key = JSON.stringify([spec.address, spec.condition ?? '', spec.hitCondition ?? '', spec.logMessage ?? '']);
      const kept = old.get(key);
      if (kept !== undefined && !this.bps.has(spec.address)) {
        old.delete(key);
        this.bps.set(spec.address, kept);
        this.machine.cpu.breakpoints.add(spec.address);
        out.push({ id: kept.id, verified: true });
        continue;
      }
      const id = this.nextId++;
      const cond = spec.condition ? compileCondition(spec.condition) : null;
      const hit = spec.hitCondition ? compileHitCondition(spec.hitCondition) : null;
      if (cond !== null && !cond.ok) { out.push({ id, verified: false, message: `condition: ${cond.error}` }); continue; }
      if (hit !== null && !hit.ok) { out.push({ id, verified: false, message: `hit condition: ${hit.error}` }); continue; }
      this.bps.set(spec.address, {
        id, address: spec.address, condition: cond?.ok ? cond : null, hit: hit?.ok ? hit : null,
        logMessage: spec.logMessage ?? null, hits: 0, since: now, counted: null, key,
      });
      this.machine.cpu.breakpoints.add(spec.address);
      out.push({ id, verified: true });
    }
    if (this.temp !== null) this.machine.cpu.breakpoints.add(this.temp.address);
    return out;
  }

  setExitFilters(list: ExitFilterSpec[], stage: 'before' | 'after' | 'both'): BreakpointResult[] {
    this.exitStage = stage;
    this.filters = [];
    const out: BreakpointResult[] = [];
    for (const f of list) {
      const id = this.nextId++;
      let reason: number | null = null;
      if (f.filter !== 'vmexit') {
        const m = /^vmexit\.([A-Z_0-9]+)$/.exec(f.filter);
        const r = m === null ? undefined : exitReasonByName(m[1]);
        if (r === undefined) { out.push({ id, verified: false, message: `unknown VM-exit filter ${JSON.stringify(f.filter)}` }); continue; }
        reason = r.number;
      }
      const cond = f.condition ? compileCondition(f.condition) : null;
      if (cond !== null && !cond.ok) { out.push({ id, verified: false, message: `condition: ${cond.error}` }); continue; }
      this.filters.push({ id, reason, condition: cond?.ok ? cond : null, conditionText: f.condition });
      out.push({ id, verified: true });
    }
    return out;
  }

  setDataBreakpoints(list: DataBreakpointSpec[]): BreakpointResult[] {
    const out: BreakpointResult[] = [];
    const ranges: Array<{ id: number; start: number; end: number; read: boolean; write: boolean }> = [];
    this.dataBps = [];
    for (const spec of list) {
      const id = this.nextId++;
      const gpa = spec.physical ? spec.address : this.translate(spec.address);
      const hpa = gpa < 0 ? -1 : this.hostPhysical(gpa);
      if (hpa < 0 || spec.size <= 0 || spec.size > 4096) {
        out.push({ id, verified: false, message: gpa < 0 ? `0x${spec.address.toString(16)} is not mapped by the guest's page tables` : 'not guest RAM' });
        continue;
      }
      const cond = spec.condition ? compileCondition(spec.condition) : null;
      if (cond !== null && !cond.ok) { out.push({ id, verified: false, message: `condition: ${cond.error}` }); continue; }
      ranges.push({ id, start: hpa, end: hpa + spec.size, read: spec.access !== 'write', write: spec.access !== 'read' });
      this.dataBps.push({ id, spec, condition: cond?.ok ? cond : null });
      out.push({ id, verified: true });
    }
    this.watchRanges = ranges;
    this.machine.cpu.setWatches(ranges);
    return out;
  }

  // ---------------------------------------------------------------- run control

  resume(budget: number): StopInfo | null {
    if (this.ended !== null) return this.exitedStop(this.ended);
    let left = budget;
    const cpu = this.machine.cpu;
    // Starting at a breakpoint: execute that instruction first (counting that reach).
    if (cpu.breakpoints.has(this.rip())) { this.passing(); cpu.resumeFromBreakpoint(); }
    while (left > 0) {
      const before = this.machine.budgetUsed();
      const r = this.slice(left);
      left -= Math.max(1, this.machine.budgetUsed() - before);
      if (typeof r === 'object') return this.exitedStop(r);
      const stop = this.classify(r);
      if (stop === 'continue') { cpu.resumeFromBreakpoint(); continue; }
      if (stop !== null) return stop;
    }
    return null;
  }

  /** Decide what a stop of the machine means; 'continue' when a breakpoint's condition says go on. */
  private classify(r: string): StopInfo | 'continue' | null {
    const cpu = this.machine.cpu;
    if (r === 'vmexit') return this.exitStop();
    if (r === 'breakpoint') {
      const rip = this.rip();
      if (this.temp !== null && rip === this.temp.address) {
        if (this.registers().gpr.rsp > this.temp.rspAbove) {
          this.clearTemp();
          return { reason: 'step', description: 'step' };
        }
        if (!this.bps.has(rip)) return 'continue';
      }
      const bp = this.bps.get(rip);
      if (bp === undefined) return 'continue';
      if (!this.reach(bp)) return 'continue';
      if (bp.hit !== null && !bp.hit.test(bp.hits)) return 'continue';
      if (bp.logMessage !== null) { this.log(`${formatLogMessage(bp.logMessage, this.evalContext())}\n`); return 'continue'; }
      return { reason: 'breakpoint', description: `breakpoint at 0x${BigInt.asUintN(64, BigInt(rip)).toString(16)}`, hitBreakpointIds: [bp.id] };
    }
    if (r === 'stop') {
      const hit = cpu.watchHit;
      if (hit !== null) {
        cpu.watchHit = null;
        const d = this.dataBps.find((x) => x.id === hit.id);
        if (d?.condition && !d.condition.test(this.evalContext())) return 'continue';
        return {
          reason: 'data breakpoint', hitBreakpointIds: [hit.id],
          description: `data breakpoint: ${hit.write ? 'write' : 'read'} of ${hit.size} byte(s) at 0x${(d?.spec.address ?? hit.address).toString(16)}`,
        };
      }
      if (this.pauseRequested) { this.pauseRequested = false; return { reason: 'pause', description: 'paused' }; }
      return null;
    }
    return null; // 'budget': still running
  }

  private exitedStop(result: RunResult): StopInfo {
    return { reason: 'exited', description: `run ended: ${result.status}`, text: result.message, result };
  }

  /** The VM-exit stop the hypervisor reported. */
  private exitStop(): StopInfo {
    const s = this.hv!.stoppedAtExit!;
    const e = this.exitStopInfo(s.info, s.stage, s.n);
    const err = this.takeConditionError();
    return { reason: 'exception', description: `VM exit: ${e.name} (${e.reason})`, text: err ? `${e.summary} (condition error: ${err})` : e.summary, exit: e };
  }

  private exitStopInfo(info: ExitInfo, stage: 'before' | 'after', n: number): ExitStop {
    const hv = this.hv!;
    const decoded = decodeExitQualification(info.reason, info.qualification);
    // Fields describe the exit itself: at the 'after' stage use the registers as they were at the exit.
    if (stage === 'before' || this.exitRegs === null || this.exitRegs.n !== n) this.captureExitRegs(n);
    const at = this.exitRegs!;
    const fields = exitFields({
      reason: info.reason, qualification: info.qualification, guestLinear: info.guestLinear, guestPhysical: info.guestPhysical,
      intrInfo: Number(hv.vmread('VM_EXIT_INTR_INFO')), intrError: Number(hv.vmread('VM_EXIT_INTR_ERROR_CODE')),
      instrInfo: Number(hv.vmread('VMX_INSTRUCTION_INFO')), regs: { rax: at.rax, rcx: at.rcx, rdx: at.rdx },
      rip: hv.vmread('GUEST_RIP'), stage, check: info.reason === 33 ? hv.vmx.lastEntryCheck : undefined,
    });
    return { n, reason: info.reason, name: info.name, stage, qualification: info.qualification, summary: decoded?.summary ?? '', fields };
  }

  /** Keep RAX/RCX/RDX as they are at exit `n` (the guest's save area), for conditions and fields at either stage. */
  private captureExitRegs(n: number): void {
    const v = this.hv!.vmx;
    const gp = (k: number) => (BigInt(v.gprHi[k]) << 32n) | BigInt(v.gprLo[k]);
    this.exitRegs = { n, rax: gp(0), rcx: gp(1), rdx: gp(2) };
  }

  /** The hypervisor's question at each exit: stop here? */
  private exitBreaks(info: ExitInfo, stage: 'before' | 'after', n: number): boolean {
    if (this.stepToExitArmed && stage === 'before') { this.stepToExitArmed = false; return true; }
    if (this.filters.length === 0) return false;
    if (stage === 'before') this.captureExitRegs(n);
    if (this.exitStage !== 'both' && this.exitStage !== stage) return false;
    let ctx: EvalContext | null = null;
    for (const f of this.filters) {
      if (f.reason !== null && f.reason !== info.reason) continue;
      if (f.condition === null) return true;
      if (ctx === null) {
        const e = this.exitStopInfo(info, stage, n);
        ctx = { ...this.evalContext(), field: (name) => e.fields[name] };
      }
      const outcome = f.condition.check(ctx);
      if (outcome.error !== undefined) this.conditionError = outcome.error;
      if (outcome.stop) return true;
    }
    return false;
  }

  stepInstruction(): StopInfo {
    if (this.ended !== null) return this.exitedStop(this.ended);
    const cpu = this.machine.cpu;
    if (cpu.breakpoints.has(this.rip())) { this.passing(); cpu.resumeFromBreakpoint(); }
    const r = this.slice(1);
    if (typeof r === 'object') return this.exitedStop(r);
    if (r === 'vmexit') return this.exitStop();
    // The stepped instruction hit a data breakpoint: report it now, not at the next run (nothing stays pending at a stop).
    if ((r === 'stop' || r === 'budget') && cpu.watchHit !== null) {
      cpu.stopRequested = false;
      const s = this.classify('stop');
      if (s !== null && s !== 'continue') return s;
    }
    return { reason: 'step', description: 'step' };
  }

  stepOver(): StopInfo | null {
    const i = this.currentInstruction();
    if (i === null || !isCall(i)) return this.stepInstruction();
    const regs = this.registers();
    this.setTemp(Number(BigInt.asIntN(64, regs.rip)) + i.length, regs.gpr.rsp - 1n);
    return this.resume(200_000);
  }

  stepOut(budget: number): StopInfo | null {
    // With a frame pointer chain: the return address sits above the saved RBP (bounded sanity checks).
    const regs = this.registers();
    const w = regs.codeBits === 64 ? 8 : regs.codeBits === 32 ? 4 : 2;
    const rbp = regs.gpr.rbp;
    if (rbp >= regs.gpr.rsp && rbp - regs.gpr.rsp < 0x100000n) {
      const ret = this.readWord(Number(BigInt.asIntN(64, rbp)) + w, w);
      if (ret !== null && this.isCodeAddress(ret)) {
        this.setTemp(ret, rbp);
        return this.resume(budget);
      }
    }
    // Without one: step until a return takes the stack above where it is now.
    const rsp0 = regs.gpr.rsp;
    for (let k = 0; k < Math.min(budget, 100_000); k++) {
      const ins = this.currentInstruction();
      const ret = ins !== null && (ins.opcode === 0xc3 || ins.opcode === 0xc2 || ins.opcode === 0xcb || ins.opcode === 0xca || ins.opcode === 0xcf);
      const s = this.stepInstruction();
      if (s.reason !== 'step') return s;
      if (ret && this.registers().gpr.rsp > rsp0) return s;
    }
    return null;
  }

  stepToExit(budget: number): StopInfo | null {
    this.stepToExitArmed = true;
    const s = this.resume(budget);
    if (s !== null) this.stepToExitArmed = false;
    return s;
  }

  gotoAddress(rip: number): StopInfo {
    this.setRegister('rip', U64(rip));
    return { reason: 'goto', description: `goto 0x${U64(rip).toString(16)}` };
  }

  requestPause(): void {
    this.pauseRequested = true;
    this.machine.cpu.requestStop();
  }

  private setTemp(address: number, rspAbove: bigint): void {
    this.clearTemp();
    this.temp = { address, rspAbove };
    this.machine.cpu.breakpoints.add(address);
  }

  private clearTemp(): void {
    if (this.temp !== null && !this.bps.has(this.temp.address)) this.machine.cpu.breakpoints.delete(this.temp.address);
    this.temp = null;
  }

  // ---------------------------------------------------------------- state

  /** Whether the guest's state lives in the processor (in VMX non-root operation, or bare metal). */
  private live(): boolean {
    return this.hv === null || this.hv.inGuest;
  }

  private rip(): number {
    return this.live() ? this.machine.cpu.rip : Number(BigInt.asIntN(64, this.hv!.vmread('GUEST_RIP')));
  }

  registers(): GuestRegisterFile {
    const c = this.machine.cpu;
    const gpr = {} as GuestRegisterFile['gpr'];
    const segments = {} as GuestRegisterFile['segments'];
    if (this.live()) {
      for (let r = 0; r < 16; r++) gpr[GPRS[r]] = (BigInt(c.hi[r]) << 32n) | BigInt(c.lo[r]);
      SEGS.forEach((n, k) => { segments[n] = { selector: c.sel[k], base: U64(c.segBase[k]), limit: c.segLimit[k], ar: c.segAr[k] }; });
      segments.ldtr = { selector: c.ldtrSel, base: U64(c.ldtrBase), limit: c.ldtrLimit, ar: c.ldtrAr };
      segments.tr = { selector: c.trSel, base: U64(c.trBase), limit: c.trLimit, ar: c.trAr };
      const lma = (c.efer & 0x400) !== 0;
      // In non-root operation the guest sees the read shadows for CR0/CR4 bits the hypervisor owns.
      const shadow = (cr: 0 | 4, v: number): bigint => (this.hv === null ? BigInt(v >>> 0) : this.shadowed(cr, BigInt(v >>> 0)));
      return {
        gpr, rip: U64(c.rip), rflags: BigInt(c.peekFlags()), segments,
        cr0: shadow(0, c.cr0), cr2: U64(c.cr2), cr3: U64(c.cr3), cr4: shadow(4, c.cr4), cr8: BigInt(c.cr8), efer: BigInt(c.efer >>> 0),
        dr: Array.from(c.dr, (x) => U64(x)), gdtr: { base: U64(c.gdtrBase), limit: c.gdtrLimit }, idtr: { base: U64(c.idtrBase), limit: c.idtrLimit },
        codeBits: c.codeSize, ...(lma ? {} : {}),
      };
    }
    const hv = this.hv!;
    const v = (n: string) => hv.vmread(n as 'GUEST_RIP');
    for (let r = 0; r < 16; r++) gpr[GPRS[r]] = r === 4 ? v('GUEST_RSP') : (BigInt(hv.vmx.gprHi[r]) << 32n) | BigInt(hv.vmx.gprLo[r]);
    for (const n of [...SEGS, 'ldtr', 'tr'] as const) {
      const N = n.toUpperCase();
      segments[n] = { selector: Number(v(`GUEST_${N}_SELECTOR`)), base: v(`GUEST_${N}_BASE`), limit: Number(v(`GUEST_${N}_LIMIT`)), ar: Number(v(`GUEST_${N}_AR_BYTES`)) };
    }
    const ar = segments.cs.ar;
    const efer = v('GUEST_IA32_EFER');
    const cr0 = v('GUEST_CR0');
    const bits: 16 | 32 | 64 = (efer & 0x400n) !== 0n && (ar & (1 << 13)) !== 0 ? 64 : (cr0 & 1n) !== 0n && (ar & (1 << 14)) !== 0 ? 32 : 16;
    return {
      gpr, rip: v('GUEST_RIP'), rflags: v('GUEST_RFLAGS'), segments,
      cr0: this.shadowed(0, cr0), cr2: U64(c.cr2), cr3: v('GUEST_CR3'), cr4: this.shadowed(4, v('GUEST_CR4')), cr8: BigInt(c.cr8), efer,
      dr: [...Array.from(c.dr.subarray(0, 7), (x) => U64(x)), v('GUEST_DR7')],
      gdtr: { base: v('GUEST_GDTR_BASE'), limit: Number(v('GUEST_GDTR_LIMIT')) }, idtr: { base: v('GUEST_IDTR_BASE'), limit: Number(v('GUEST_IDTR_LIMIT')) },
      codeBits: bits,
    };
  }

  /** CR0/CR4 as the guest reads them: host-owned bits from the read shadows. */
  private shadowed(cr: 0 | 4, actual: bigint): bigint {
    const hv = this.hv!;
    const mask = hv.vmread(cr === 0 ? 'CR0_GUEST_HOST_MASK' : 'CR4_GUEST_HOST_MASK');
    const shadow = hv.vmread(cr === 0 ? 'CR0_READ_SHADOW' : 'CR4_READ_SHADOW');
    return (actual & ~mask) | (shadow & mask);
  }

  setRegister(name: string, value: bigint): void {
    this.setRegisterRaw(name, value);
    this.stateChanged();
  }

  private setRegisterRaw(name: string, value: bigint): void {
    const n = name.toLowerCase();
    const c = this.machine.cpu;
    const r = GPRS.indexOf(n as (typeof GPRS)[number]);
    const lo = Number(value & 0xffffffffn) >>> 0, hi = Number((value >> 32n) & 0xffffffffn) >>> 0;
    if (this.live()) {
      if (r >= 0) { c.lo[r] = lo; c.hi[r] = hi; return; }
      if (n === 'rip') { c.rip = Number(BigInt.asIntN(64, value)); return; }
      if (n === 'rflags') { c.setFlags(lo); return; }
      throw new Error(`register ${name} cannot be set while the guest runs; stop at a VM exit to change VMCS state`);
    }
    const hv = this.hv!;
    if (r === 4 || n === 'rsp') { hv.vmwrite('GUEST_RSP', value); return; }
    if (r >= 0) { hv.vmx.gprLo[r] = lo; hv.vmx.gprHi[r] = hi; return; }
    if (n === 'rip') { hv.vmwrite('GUEST_RIP', value); return; }
    if (n === 'rflags') { hv.vmwrite('GUEST_RFLAGS', value | 2n); return; }
    throw new Error(`unknown register ${name}`);
  }

  /** The guest's paging state now. */
  private paging(): GuestPagingState {
    const c = this.machine.cpu;
    if (this.live()) return { cr0: c.cr0 >>> 0, cr3: c.cr3, cr4: c.cr4 >>> 0, efer: c.efer >>> 0 };
    return this.hv!.pagingState();
  }

  translate(gva: number): number {
    if (this.hv === null) return this.machine.cpu.peekTranslate(gva);
    return guestLinearToPhysical(this.hv.guest, this.paging(), gva);
  }

  /** Host-physical address of guest-physical RAM, or -1 (MMIO, unassigned). */
  private hostPhysical(gpa: number): number {
    if (this.hv === null) return gpa < this.machine.mem.size ? gpa : -1;
    return this.hv.guest.toHost(gpa);
  }

  readMemory(address: number, length: number, physical: boolean): { data: Uint8Array; unreadable: number } {
    const data = new Uint8Array(Math.max(0, Math.min(length, 1 << 20)));
    let unreadable = 0;
    for (let k = 0; k < data.length;) {
      const a = address + k;
      const gpa = physical ? a : this.translate(a);
      const n = Math.min(data.length - k, 4096 - (a & 0xfff));
      const hpa = gpa < 0 ? -1 : this.hostPhysical(gpa);
      if (hpa < 0) unreadable += n;
      else data.set(this.machine.mem.peek(hpa, n), k);
      k += n;
    }
    return { data, unreadable };
  }

  writeMemory(address: number, data: Uint8Array, physical: boolean): number {
    let written = 0;
    for (let k = 0; k < data.length;) {
      const a = address + k;
      const gpa = physical ? a : this.translate(a);
      const n = Math.min(data.length - k, 4096 - (a & 0xfff));
      const hpa = gpa < 0 ? -1 : this.hostPhysical(gpa);
      if (hpa >= 0) { this.machine.mem.poke(hpa, data.subarray(k, k + n)); written += n; }
      k += n;
    }
    if (written > 0) this.stateChanged();
    return written;
  }

  private readWord(lin: number, bytes: number): number | null {
    const { data, unreadable } = this.readMemory(lin, bytes, false);
    if (unreadable > 0) return null;
    let v = 0n;
    for (let k = bytes - 1; k >= 0; k--) v = (v << 8n) | BigInt(data[k]);
    return Number(BigInt.asIntN(64, v));
  }

  private isCodeAddress(a: number): boolean {
    return this.translate(a) >= 0 && a !== 0;
  }

  /** The instruction at RIP (decoded from guest memory, without side effects). */
  currentInstruction(): Insn | null {
    const regs = this.registers();
    const cs = regs.codeBits === 64 ? 0n : regs.segments.cs.base;
    const lin = Number(BigInt.asIntN(64, cs + regs.rip));
    const { data, unreadable } = this.readMemory(lin, 15, false);
    if (unreadable === 15) return null;
    const i = new Insn();
    try {
      decode(i, (k) => data[k] ?? 0, regs.codeBits);
    } catch {
      return null;
    }
    return i;
  }

  /** Registers, symbols and memory for expressions and conditions. */
  evalContext(): EvalContext {
    const regs = this.registers();
    return {
      reg: (name) => registerValue(regs, name.toLowerCase()),
      symbol: (name) => this.symbols.byName(name)?.address,
      readMemory: (address, size, physical) => {
        const { data, unreadable } = this.readMemory(Number(BigInt.asIntN(64, address)), size, physical);
        if (unreadable > 0) return undefined;
        let v = 0n;
        for (let k = size - 1; k >= 0; k--) v = (v << 8n) | BigInt(data[k]);
        return v;
      },
    };
  }

  /** Where the guest is, as a source location when the image has line information. */
  sourceAt(rip: number): { file: string; line: number; column: number } | undefined {
    const row = this.lines.lineFor(rip);
    return row === undefined || row.line === 0 ? undefined : { file: row.file, line: row.line, column: row.column };
  }

  /** Symbol + offset of an address, e.g. "main+0x12". */
  symbolAt(address: number): string | undefined {
    const s = this.symbols.lookup(address);
    if (s === undefined) return undefined;
    return s.offset === 0 ? s.symbol.name : `${s.symbol.name}+0x${s.offset.toString(16)}`;
  }

  // ---------------------------------------------------------------- time travel (emulator/history)

  /** Record the run's history from now on (periodic copy-on-write snapshots); going back needs it. */
  enableHistory(opts: HistoryOptions = {}): void {
    this.recorder = new History(this.machine, opts);
    this.recorder.tagger = () => this.hitTag();
    this.recorder.record();
  }

  /** A forward slice of the machine, recorded in the history. */
  private slice(units: number): RunResult | CpuStop {
    const h = this.recorder;
    if (h === null) return this.machine.runSlice(units);
    const r = this.machine.runSlice(h.sliceLimit(units));
    h.afterSlice();
    return r;
  }

  /** A slice of re-execution for a travel job: also counts the work done (TRAVEL_SLICE pacing). */
  private tslice(units: number): RunResult | CpuStop {
    const before = this.machine.budgetUsed();
    const r = this.slice(units);
    this.travelWork += Math.max(1, this.machine.budgetUsed() - before) + (units === 1 ? STEP_COST : 0);
    return r;
  }

  private travelWork = 0;
  private travelYielded = 0;

  /** A turn of the job's caller when enough re-execution has been done since the last one. */
  private *tick(): Generator<void, void, void> {
    if (this.travelWork - this.travelYielded >= TRAVEL_SLICE) {
      this.travelYielded = this.travelWork;
      yield;
    }
  }

  /**
   * The debugger changed the machine (a register, memory, the VMCS): the recorded future no
   * longer follows. The adapter calls this for changes it makes itself (VMCS writes).
   */
  stateChanged(): void {
    this.recorder?.diverged();
  }

  private requireHistory(): History {
    const h = this.recorder;
    if (h === null) throw new Error('this run records no history (historyMiB is 0)');
    return h;
  }

  history(): HistoryView | null {
    const h = this.recorder;
    if (h === null) return null;
    const i = h.info();
    return { oldestIcount: i.oldest.icount, currentIcount: i.current.icount, newestIcount: i.newest.icount, bytes: i.bytes, budgetBytes: i.budgetBytes, snapshots: i.snapshots };
  }

  /** The current moment (emulator/history/moment.ts). */
  moment(): Moment {
    return momentOf(this.machine);
  }

  // -------- hit counts along the timeline

  /** Execution reaches `bp` now: false when its condition is false; else counted once per moment (after the breakpoint was set). */
  private reach(bp: InstructionBp): boolean {
    if (bp.condition !== null && !bp.condition.test(this.evalContext())) return false;
    const now = this.moment();
    if (compareMoments(now, bp.since) > 0 && (bp.counted === null || compareMoments(bp.counted, now) !== 0)) {
      bp.hits++;
      bp.counted = now;
    }
    return true;
  }

  /** Leaving a breakpoint's address by executing it (resume, step): the reach counts as in re-execution. */
  private passing(): void {
    if (!this.live()) return;
    const bp = this.bps.get(this.rip());
    if (bp !== undefined && bp.hit !== null) this.reach(bp);
  }

  /** The breakpoints whose hit count matters (a hit condition): only they are counted while re-executing. */
  private counting(): InstructionBp[] {
    const out: InstructionBp[] = [];
    for (const bp of this.bps.values()) if (bp.hit !== null) out.push(bp);
    return out;
  }

  private hitTag(): HitTag {
    const tag: HitTag = new Map();
    for (const bp of this.counting()) tag.set(bp, { hits: bp.hits, counted: bp.counted });
    return tag;
  }

  /** A snapshot can start re-execution when it knows the count of every counting breakpoint set before it. */
  private readonly tagUsable = (tag: unknown, at: Moment): boolean => {
    for (const bp of this.bps.values()) {
      if (bp.hit === null || compareMoments(bp.since, at) >= 0) continue;
      if (!(tag instanceof Map) || !tag.has(bp)) return false;
    }
    return true;
  };

  /**
   * Restore the newest usable snapshot at or before `m` (strictly before with `strict`), with
   * the hit counts of that moment, ready to re-execute. Returns its moment, or null.
   */
  private restoreAt(m: Moment, strict: boolean, accept?: (at: Moment) => boolean): Moment | null {
    const h = this.requireHistory();
    const got = h.restoreBefore(m, strict, (tag, at) => (accept === undefined || accept(at)) && this.tagUsable(tag, at));
    if (got === null) return null;
    const tag = got.tag instanceof Map ? (got.tag as HitTag) : new Map() as HitTag;
    for (const bp of this.counting()) {
      const t = tag.get(bp);
      bp.hits = t?.hits ?? 0;
      bp.counted = t?.counted ?? null;
    }
    (this.machine.cpu as unknown as { skipBreakpointOnce: boolean }).skipBreakpointOnce = false;
    return got.moment;
  }

  /**
   * Run `body` re-executing recorded history. 'silent': only the breakpoints with a hit
   * condition are armed, to count (never to stop or log); data breakpoints stay armed so the one
   * pending at the landing moment is as the first run had it (hits before it are dropped); VM
   * exits stop only where `hook` says. 'scan': the user's stop conditions are armed. Afterwards
   * the breakpoints are the debuggee's current ones (they may have changed between turns).
   */
  private *replay<T>(mode: 'silent' | 'scan', hook: ((n: number, stage: 'before' | 'after', info: ExitInfo) => boolean) | null, body: Generator<void, T, void>): Generator<void, T, void> {
    const cpu = this.machine.cpu, hv = this.hv;
    const exitBreak = hv?.exitBreak ?? null;
    this.clearTemp();
    this.stepToExitArmed = false;
    this.pauseRequested = false;
    const arm = () => {
      cpu.breakpoints.clear();
      if (mode === 'silent') { for (const bp of this.counting()) cpu.breakpoints.add(bp.address); } else for (const a of this.bps.keys()) cpu.breakpoints.add(a);
    };
    arm();
    if (hv !== null) {
      hv.exitBreak = mode === 'silent'
        ? (hook === null ? null : (info, stage, n) => hook(n, stage, info))
        : (info, stage, n) => (hook !== null && hook(n, stage, info)) || this.exitBreaks(info, stage, n);
    }
    try {
      return yield* body;
    } finally {
      cpu.breakpoints.clear();
      for (const a of this.bps.keys()) cpu.breakpoints.add(a);
      if (hv !== null) hv.exitBreak = exitBreak;
    }
  }

  /** Drain a job synchronously (tests, and the debuggee's own synchronous API). */
  private drain<T>(g: Generator<void, T, void>): T {
    for (;;) {
      const r = g.next();
      if (r.done) return r.value;
    }
  }

  /** The exit-stage hook that stops re-execution exactly at moment `target` (an exit before or after its handler). */
  private landingHook(target: Moment): ((n: number, stage: 'before' | 'after') => boolean) | null {
    if (target.phase === 2) return (n, stage) => stage === 'before' && n === target.exits + 1;
    if (target.phase === 0 && target.exits > 0) return (n, stage) => stage === 'after' && n === target.exits;
    return null;
  }

  /**
   * Re-execute silently from the newest usable snapshot at or before `target` up to it; lands on
   * `target` when it is a point single steps or stops reach; returns the moment reached.
   */
  private *goTo(target: Moment): Generator<void, Moment, void> {
    const h = this.requireHistory();
    if (this.restoreAt(target, false) === null) throw new Error(`${formatMoment(target)} is older than the recorded history (it starts at ${formatMoment(h.oldest!)})`);
    const cpu = this.machine.cpu;
    const hook = this.landingHook(target);
    return yield* this.replay('silent', hook, (function* (this: MachineDebuggee): Generator<void, Moment, void> {
      for (;;) {
        const now = this.moment();
        if (compareMoments(now, target) >= 0) return now;
        // A data breakpoint hit before the target is not the target's: drop it (and watch on).
        if (cpu.watchHit !== null) cpu.watchHit = null;
        const r = this.tslice(Math.max(1, unitsBetween(now, target)));
        if (typeof r === 'object') return this.moment();
        if (r === 'breakpoint') this.countHere();
        yield* this.tick();
      }
    }).call(this));
  }

  /** Re-execution stopped at a breakpoint address: count the reach, then go on. */
  private countHere(): void {
    const bp = this.bps.get(this.rip());
    if (bp !== undefined && bp.hit !== null) this.reach(bp);
    this.machine.cpu.resumeFromBreakpoint();
  }

  /** Go to a moment of the recorded history (tests, and the jobs below). */
  goToMoment(target: Moment): Moment {
    return this.drain(this.goTo(target));
  }

  /**
   * Every point a single step stops at in [newest snapshot before `end`, `end`), re-executing
   * (the last `window` units one step at a time). Points before the re-executed window are not
   * listed: `complete` says whether the list starts at the snapshot.
   */
  private *stepPoints(end: Moment, window: number): Generator<void, { points: Array<{ moment: Moment; rip: number; rsp: bigint }>; complete: boolean } | null, void> {
    if (this.restoreAt(end, true) === null) return null;
    this.machine.cpu.watchHit = null;
    // Forward single steps also stop before the handler of an exit a VM-exit filter selects: so do these.
    return yield* this.replay('silent', (n, stage, info) => stage === 'before' && this.exitBreaks(info, stage, n), (function* (this: MachineDebuggee) {
      let complete = true;
      // Fast forward to `window` units before the end (never past it: a slice stops at its budget).
      for (;;) {
        const left = unitsBetween(this.moment(), end);
        if (left <= window) break;
        complete = false;
        const r = this.tslice(left - window);
        if (typeof r === 'object') break;
        if (r === 'breakpoint') this.countHere();
        yield* this.tick();
      }
      const points: Array<{ moment: Moment; rip: number; rsp: bigint }> = [];
      for (let guard = 0; guard < 10 * window + 1000; guard++) {
        const now = this.moment();
        if (compareMoments(now, end) >= 0) break;
        points.push({ moment: now, rip: this.rip(), rsp: this.registers().gpr.rsp });
        if (this.live() && this.machine.cpu.breakpoints.has(this.rip())) this.countHere();
        const r = this.tslice(1);
        if (typeof r === 'object') break;
        yield* this.tick();
      }
      return { points, complete };
    }).call(this));
  }

  /**
   * DAP stepBack: back to the point a forward single step would have come from ('instruction'),
   * or to the start of the previous source line, stepping back over calls ('line').
   */
  stepBack(granularity: 'instruction' | 'line'): StopInfo {
    return this.runJob(this.stepBackJob(granularity));
  }

  /** Run a job to its end synchronously. */
  runJob(job: TravelJob): StopInfo {
    for (;;) {
      const s = job.step();
      if (s !== null) return s;
    }
  }

  stepBackJob(granularity: 'instruction' | 'line'): TravelJob {
    const start = this.moment();
    const at = { end: start };
    return this.job(`Step back (${granularity})`, this.stepBackGen(granularity, at), () => this.pausedBack('step back', start, at.end), () => this.scanProgress(start, at.end));
  }

  private *stepBackGen(granularity: 'instruction' | 'line', at: { end: Moment }): Generator<void, StopInfo, void> {
    const h = this.requireHistory();
    const start = this.moment();
    const oldest = h.oldest!;
    if (compareMoments(start, oldest) <= 0) return this.historyStart('step back', start);
    const startRip = this.rip();
    const startLine = granularity === 'line' ? this.lines.lineFor(startRip) : undefined;
    const startFn = this.symbols.lookup(startRip)?.symbol.name;
    const startRsp = this.registers().gpr.rsp;
    type Point = { moment: Moment; rip: number; rsp: bigint };
    // Inside a call made from here (a lower stack in another function): `next` steps over those, so stepping back does too.
    const deeper = (p: Point) => p.rsp < startRsp && this.symbols.lookup(p.rip)?.symbol.name !== startFn;
    const sameLine = (rip: number, line: ReturnType<LineTable['lineFor']>) => {
      const r = this.lines.lineFor(rip);
      return r !== undefined && line !== undefined && r.line === line.line && r.file === line.file;
    };
    // Skipped going back: deeper points, and for lines, the rest of the starting line and code without lines.
    const skip = (p: Point) => deeper(p) || (granularity === 'line' && (sameLine(p.rip, startLine) || this.lines.lineFor(p.rip) === undefined));
    let window = granularity === 'line' ? 4096 : 64;
    for (;;) {
      const scan = yield* this.stepPoints(at.end, window);
      if (scan === null) return this.historyStart('step back', start);
      const pts = scan.points;
      let k = pts.length - 1;
      while (k >= 0 && skip(pts[k])) k--;
      if (k < 0) {
        if (!scan.complete) { window *= 8; continue; }
        // Nothing to stop at since the snapshot: look before it.
        const before = h.snapshotAtOrBefore(at.end, true);
        if (before === null || compareMoments(before, oldest) <= 0) return this.historyStart('step back', start);
        at.end = before;
        continue;
      }
      let j = k;
      if (granularity === 'line') {
        // Back to where that line began (over deeper calls made from it).
        const line = this.lines.lineFor(pts[k].rip);
        while (j > 0 && (sameLine(pts[j - 1].rip, line) || deeper(pts[j - 1]))) j--;
        while (j < k && deeper(pts[j])) j++;
        if (j === 0 && !scan.complete && window < 1 << 22) { window *= 8; continue; }
      }
      yield* this.goTo(pts[j].moment);
      return this.stepStop('step back');
    }
  }

  /** The stop a step back reports (an exit stop when it lands before a VM exit's handler). */
  private stepStop(description: string): StopInfo {
    this.settle();
    const hv = this.hv;
    if (hv !== null && hv.stoppedAtExit !== null && hv.stoppedAtExit.stage === 'before') {
      const e = this.exitStop();
      return { ...e, reason: 'step', description: `${description}: ${e.description}` };
    }
    return { reason: 'step', description };
  }

  /**
   * A reverse operation stops here: like every forward stop, it leaves no data-breakpoint hit
   * pending (goToMoment keeps the moment's exact pending stop; a user stop reports or drops it).
   */
  private settle(): void {
    const cpu = this.machine.cpu;
    if (cpu.watchHit !== null) { cpu.watchHit = null; cpu.stopRequested = false; }
  }

  /** Stopped at the oldest recorded moment. */
  private historyStart(what: string, from: Moment): StopInfo {
    const oldest = this.requireHistory().oldest!;
    if (compareMoments(this.moment(), oldest) !== 0) this.goToMoment(oldest);
    this.settle();
    return {
      reason: 'entry', description: 'start of recorded history',
      text: `${what}: nothing earlier in the recorded history; stopped at its start (${formatMoment(oldest)}; was at ${formatMoment(from)})`,
    };
  }

  /**
   * A paused backward scan stops at the oldest moment it has searched back to: nothing between
   * there and where it started would have stopped it (for step back: no earlier stopping point).
   */
  private pausedBack(what: string, start: Moment, boundary: Moment): StopInfo {
    this.goToMoment(boundary);
    this.settle();
    const here = this.moment();
    return {
      reason: 'pause', description: 'paused',
      text: `${what} paused at ${formatMoment(here)}: nothing between here and ${formatMoment(start)} would have stopped it`,
    };
  }

  /** Progress of a backward scan from `start` that has searched back to `boundary` (guest instructions). */
  private scanProgress(start: Moment, boundary: Moment): { done: number; total: number } {
    const oldest = this.recorder?.oldest?.icount ?? 0;
    const now = this.moment().icount;
    const from = this.recorder?.snapshotAtOrBefore(boundary, true)?.icount ?? oldest;
    const inWindow = now >= from && now <= boundary.icount ? now - from : 0;
    return { done: Math.max(0, start.icount - boundary.icount) + inWindow, total: Math.max(1, start.icount - oldest) };
  }

  private job(title: string, g: Generator<void, StopInfo, void>, onPause: () => StopInfo, progress: () => { done: number; total: number }): TravelJob {
    let finished: StopInfo | null = null;
    return {
      title,
      step: () => {
        if (finished !== null) return finished;
        const r = g.next();
        if (r.done) finished = r.value;
        return finished;
      },
      pause: () => {
        if (finished !== null) return finished;
        g.return(undefined as never);
        finished = onPause();
        return finished;
      },
      abort: () => {
        if (finished === null) g.return(undefined as never);
        finished ??= { reason: 'pause', description: 'abandoned' };
      },
      progress,
    };
  }

  /**
   * DAP reverseContinue: back to the last moment before now at which the run would have
   * stopped going forward: an instruction breakpoint whose condition holds and whose hit
   * condition holds for the hit count of that moment (logpoints never stop, and print nothing
   * while scanning), a data breakpoint (the last access it watches) or a VM-exit filter.
   * Re-executes the recorded history window by window, newest first, with those stop
   * conditions armed; with none, stops at the start of the recorded history (reason 'entry',
   * and the text says so).
   */
  reverseContinue(): StopInfo {
    return this.runJob(this.reverseContinueJob());
  }

  reverseContinueJob(): TravelJob {
    const start = this.moment();
    const at = { end: start };
    return this.job('Reverse continue', this.reverseContinueGen(at), () => this.pausedBack('reverse continue', start, at.end), () => this.scanProgress(start, at.end));
  }

  private *reverseContinueGen(at: { end: Moment }): Generator<void, StopInfo, void> {
    const h = this.requireHistory();
    const start = at.end;
    for (;;) {
      const from = h.snapshotAtOrBefore(at.end, true, (tag, m) => this.tagUsable(tag, m));
      if (from === null) break;
      // The newest window ends before now; older ones end at (and include) the snapshot the newer window starts from.
      const inclusive = compareMoments(at.end, start) !== 0;
      const hit = yield* this.scanWindow(at.end, inclusive);
      if (hit !== null) {
        yield* this.goTo(hit.moment);
        const cpu = this.machine.cpu;
        if (hit.stop.reason === 'breakpoint') {
          // Stopped there by the breakpoint: that reach is counted, as a forward stop counts it.
          const bp = this.bps.get(this.rip());
          if (bp !== undefined) this.reach(bp);
          return hit.stop;
        }
        if (hit.stop.reason === 'data breakpoint') { cpu.watchHit = null; cpu.stopRequested = false; return hit.stop; }
        this.settle();
        return this.hv?.stoppedAtExit != null ? this.exitStop() : hit.stop;
      }
      at.end = from;
    }
    return this.historyStart('reverse continue: no breakpoint, data breakpoint or VM-exit filter would have stopped the run', start);
  }

  /**
   * Re-execute from the newest usable snapshot before `end` up to `end` with the stop conditions
   * armed; the last moment in the window where a forward run would have stopped, and that stop.
   */
  private *scanWindow(end: Moment, inclusive: boolean): Generator<void, { moment: Moment; stop: StopInfo } | null, void> {
    if (this.restoreAt(end, true) === null) return null;
    const cpu = this.machine.cpu;
    // A data breakpoint pending at the window's start belongs to the older window (it ends there, inclusive).
    cpu.watchHit = null;
    const inWindow = (m: Moment) => { const c = compareMoments(m, end); return c < 0 || (c === 0 && inclusive); };
    return yield* this.replay('scan', null, (function* (this: MachineDebuggee): Generator<void, { moment: Moment; stop: StopInfo } | null, void> {
      let last: { moment: Moment; stop: StopInfo } | null = null;
      const take = (stop: StopInfo | null) => {
        const now = this.moment();
        if (stop !== null && inWindow(now)) last = { moment: now, stop };
      };
      for (;;) {
        // A data breakpoint hit by the slice's last instruction is reported by the next slice: take it here,
        // also when the slice ended at the window's end (a snapshot the later window starts from without it).
        if (cpu.watchHit !== null) take(this.replayStop('stop'));
        const now = this.moment();
        if (compareMoments(now, end) >= 0) return last;
        const r = this.tslice(Math.max(1, unitsBetween(now, end)));
        if (typeof r === 'object') return last;
        if (r !== 'stop') take(this.replayStop(r));
        if (r === 'breakpoint') cpu.resumeFromBreakpoint();
        yield* this.tick();
      }
    }).call(this));
  }

  /** What a stop while re-executing with the stop conditions armed means (classify() without logging or stepping). */
  private replayStop(r: string): StopInfo | null {
    const cpu = this.machine.cpu;
    if (r === 'vmexit') return this.exitStop();
    if (r === 'breakpoint') {
      const rip = this.rip();
      const bp = this.bps.get(rip);
      if (bp === undefined || !this.reach(bp)) return null;
      if (bp.hit !== null && !bp.hit.test(bp.hits)) return null;
      if (bp.logMessage !== null) return null;
      return { reason: 'breakpoint', description: `breakpoint at 0x${BigInt.asUintN(64, BigInt(rip)).toString(16)}`, hitBreakpointIds: [bp.id] };
    }
    if (r === 'stop') {
      const hit = cpu.watchHit;
      if (hit === null) return null;
      cpu.watchHit = null;
      const d = this.dataBps.find((x) => x.id === hit.id);
      if (d?.condition && !d.condition.test(this.evalContext())) return null;
      return {
        reason: 'data breakpoint', hitBreakpointIds: [hit.id],
        description: `data breakpoint: ${hit.write ? 'write' : 'read'} of ${hit.size} byte(s) at 0x${(d?.spec.address ?? hit.address).toString(16)}`,
      };
    }
    return null;
  }

  /**
   * Go to the moment VM exit `index` (its number in the exit log) happened: before its handler
   * ran, as a forward VM-exit filter stop at the 'before' stage shows it (RIP = the exit's guest
   * RIP, the VMCS exit-information fields of that exit).
   */
  gotoExit(index: number): StopInfo {
    return this.runJob(this.gotoExitJob(index));
  }

  /** gotoExit as a job (checks its argument at once); paused, it stays where re-execution is. */
  gotoExitJob(index: number): TravelJob {
    const h = this.requireHistory();
    const hv = this.hv;
    if (hv === null) throw new Error('this run has no hypervisor, so no VM exits');
    if (!Number.isSafeInteger(index) || index < 1) throw new Error(`gotoExit: exit numbers start at 1, got ${index}`);
    const newest = h.newest, now = this.moment();
    const reached = Math.max(hv.log.total, newest.exits + (newest.phase === 2 ? 1 : 0), now.exits + (now.phase === 2 ? 1 : 0));
    if (index > reached) throw new Error(`gotoExit: exit ${index} has not happened yet (the run has reached exit ${reached})`);
    const latest: Moment = { icount: Number.MAX_SAFE_INTEGER, exits: Number.MAX_SAFE_INTEGER, phase: 2 };
    // The newest snapshot before the exit: its handler not run yet means fewer than `index` exits handled.
    const from = h.snapshotAtOrBefore(latest, false, (tag, m) => m.exits <= index - 1 && this.tagUsable(tag, m));
    if (from === null) throw new Error(`gotoExit: exit ${index} is older than the recorded history (it starts at ${formatMoment(h.oldest!)})`);
    const gen = (function* (this: MachineDebuggee): Generator<void, StopInfo, void> {
      this.restoreAt(latest, false, (m) => m.exits <= index - 1);
      this.machine.cpu.watchHit = null;
      const landed = yield* this.replay('silent', (n, stage) => stage === 'before' && n === index, (function* (this: MachineDebuggee): Generator<void, boolean, void> {
        for (;;) {
          const r = this.tslice(TRAVEL_SLICE);
          if (typeof r === 'object') return false;
          if (r === 'vmexit') return true;
          if (r === 'breakpoint') this.countHere();
          if (r === 'stop') this.machine.cpu.watchHit = null;
          if (hv.log.total >= index) return false;
          yield* this.tick();
        }
      }).call(this));
      if (!landed) throw new Error(`gotoExit: re-executing did not reach exit ${index}`);
      this.settle();
      const e = this.exitStop();
      return { ...e, reason: 'goto', description: `VM exit #${index}: ${e.exit!.name} (${e.exit!.reason})` };
    }).call(this);
    return this.job(`Go to VM exit #${index}`, gen, () => {
      const here = this.moment();
      return { reason: 'pause', description: 'paused', text: `go to VM exit #${index} paused at ${formatMoment(here)}, before that exit` };
    }, () => ({ done: Math.max(0, this.moment().icount - from.icount), total: Math.max(1, (hv.log.total >= index ? hv.log.window(index, 1)[0]?.icount ?? newest.icount : newest.icount) - from.icount) }));
  }

  /** Last condition error, for the adapter to report once. */
  takeConditionError(): string | undefined {
    const e = this.conditionError;
    this.conditionError = undefined;
    return e;
  }
}

function isCall(i: Insn): boolean {
  return i.opcode === 0xe8 || i.opcode === 0x9a || (i.opcode === 0xff && ((i.reg & 7) === 2 || (i.reg & 7) === 3));
}

/** A register by any of its names: 64/32/16/8-bit parts, rip/eip/ip, rflags and flag bits, control registers. */
export function registerValue(r: GuestRegisterFile, name: string): bigint | undefined {
  const full = r.gpr as Record<string, bigint>;
  if (name in full) return full[name];
  const legacy = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'];
  const long = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi'];
  let m = /^e(ax|cx|dx|bx|sp|bp|si|di)$/.exec(name);
  if (m) return full[long[legacy.indexOf(m[1])]] & 0xffffffffn;
  if (legacy.includes(name)) return full[long[legacy.indexOf(name)]] & 0xffffn;
  m = /^([abcd])l$/.exec(name);
  if (m) return full[`r${m[1]}x`] & 0xffn;
  m = /^([abcd])h$/.exec(name);
  if (m) return (full[`r${m[1]}x`] >> 8n) & 0xffn;
  m = /^(sp|bp|si|di)l$/.exec(name);
  if (m) return full[`r${m[1]}`] & 0xffn;
  m = /^r(\d+)(d|w|b)$/.exec(name);
  if (m && `r${m[1]}` in full) return full[`r${m[1]}`] & (m[2] === 'd' ? 0xffffffffn : m[2] === 'w' ? 0xffffn : 0xffn);
  switch (name) {
    case 'rip': return r.rip;
    case 'eip': return r.rip & 0xffffffffn;
    case 'ip': return r.rip & 0xffffn;
    case 'rflags': case 'eflags': case 'flags': return r.rflags;
    case 'cr0': return r.cr0;
    case 'cr2': return r.cr2;
    case 'cr3': return r.cr3;
    case 'cr4': return r.cr4;
    case 'cr8': return r.cr8;
    case 'efer': return r.efer;
  }
  const flagBits: Record<string, number> = { cf: 0, pf: 2, af: 4, zf: 6, sf: 7, tf: 8, if: 9, df: 10, of: 11 };
  if (name in flagBits) return (r.rflags >> BigInt(flagBits[name])) & 1n;
  if (/^dr[0-7]$/.test(name)) return r.dr[Number(name[2])];
  void TWO32;
  return undefined;
}

void MAP_0F;
