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
  BreakpointResult, DataBreakpointSpec, Debuggee, ExitFilterSpec, ExitStop, GuestRegisterFile, HistoryView, SourceBreakpointSpec, StopInfo,
} from './api.js';

type Test = { test(ctx: EvalContext): boolean; check(ctx: EvalContext): { stop: boolean; error?: string } };
type HitTest = { test(hits: number): boolean };

interface InstructionBp {
  id: number;
  address: number;
  condition: Test | null;
  hit: HitTest | null;
  logMessage: string | null;
  hits: number;
}

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
    this.bps.clear();
    const out: BreakpointResult[] = [];
    for (const spec of list) {
      const id = this.nextId++;
      const cond = spec.condition ? compileCondition(spec.condition) : null;
      const hit = spec.hitCondition ? compileHitCondition(spec.hitCondition) : null;
      if (cond !== null && !cond.ok) { out.push({ id, verified: false, message: `condition: ${cond.error}` }); continue; }
      if (hit !== null && !hit.ok) { out.push({ id, verified: false, message: `hit condition: ${hit.error}` }); continue; }
      this.bps.set(spec.address, {
        id, address: spec.address, condition: cond?.ok ? cond : null, hit: hit?.ok ? hit : null,
        logMessage: spec.logMessage ?? null, hits: 0,
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
    // Starting at a breakpoint: execute that instruction first.
    if (cpu.breakpoints.has(this.rip())) cpu.resumeFromBreakpoint();
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
      const ctx = this.evalContext();
      if (bp.condition !== null && !bp.condition.test(ctx)) return 'continue';
      bp.hits++;
      if (bp.hit !== null && !bp.hit.test(bp.hits)) return 'continue';
      if (bp.logMessage !== null) { this.log(`${formatLogMessage(bp.logMessage, ctx)}\n`); return 'continue'; }
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
    if (cpu.breakpoints.has(this.rip())) cpu.resumeFromBreakpoint();
    const r = this.slice(1);
    if (typeof r === 'object') return this.exitedStop(r);
    if (r === 'vmexit') return this.exitStop();
    if (r === 'stop' && cpu.watchHit !== null) {
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
        gpr, rip: U64(c.rip), rflags: BigInt(c.getFlags()), segments,
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

  /**
   * Run `fn` re-executing recorded history: no breakpoint, data breakpoint or VM-exit filter
   * fires unless `hook` says so (VM exits) or mode 'scan' keeps the user's stop conditions armed.
   */
  private replay<T>(mode: 'silent' | 'scan', hook: ((n: number, stage: 'before' | 'after', info: ExitInfo) => boolean) | null, fn: () => T): T {
    const cpu = this.machine.cpu, hv = this.hv;
    const bps = [...cpu.breakpoints];
    const exitBreak = hv?.exitBreak ?? null;
    this.clearTemp();
    this.stepToExitArmed = false;
    this.pauseRequested = false;
    if (mode === 'silent') {
      cpu.breakpoints.clear();
      if (this.watchRanges.length > 0) cpu.setWatches([]);
      if (hv !== null) hv.exitBreak = hook === null ? null : (info, stage, n) => hook(n, stage, info);
    } else if (hv !== null) {
      hv.exitBreak = (info, stage, n) => (hook !== null && hook(n, stage, info)) || this.exitBreaks(info, stage, n);
    }
    try {
      return fn();
    } finally {
      cpu.breakpoints.clear();
      for (const a of bps) cpu.breakpoints.add(a);
      if (mode === 'silent' && this.watchRanges.length > 0) cpu.setWatches(this.watchRanges);
      cpu.watchHit = null;
      if (hv !== null) hv.exitBreak = exitBreak;
    }
  }

  /** After a restore: the processor must check a breakpoint at the first instruction again. */
  private freshStart(): void {
    (this.machine.cpu as unknown as { skipBreakpointOnce: boolean }).skipBreakpointOnce = false;
    this.machine.cpu.watchHit = null;
  }

  /**
   * Re-execute from the newest snapshot at or before `target` up to it, silently. Lands on
   * `target` when it is a point single steps or stops reach; returns the moment reached.
   */
  goToMoment(target: Moment): Moment {
    const h = this.requireHistory();
    const from = h.restoreBefore(target);
    if (from === null) throw new Error(`${formatMoment(target)} is older than the recorded history`);
    this.freshStart();
    const hook = target.phase === 2 ? (n: number, stage: 'before' | 'after') => stage === 'before' && n === target.exits + 1 : null;
    return this.replay('silent', hook, () => {
      for (;;) {
        const now = this.moment();
        if (compareMoments(now, target) >= 0) return now;
        const r = this.slice(Math.max(1, unitsBetween(now, target)));
        if (typeof r === 'object') return this.moment();
        if (r === 'breakpoint') this.machine.cpu.resumeFromBreakpoint();
      }
    });
  }

  /**
   * Every point a single step stops at in [newest snapshot before `end`, `end`), re-executing
   * (the last `window` units one step at a time). Points before the re-executed window are not
   * listed: `complete` says whether the list starts at the snapshot.
   */
  private stepPoints(end: Moment, window: number, strictBefore: Moment = end): { points: Array<{ moment: Moment; rip: number; rsp: bigint }>; complete: boolean } | null {
    const h = this.requireHistory();
    const from = h.restoreBefore(strictBefore, true);
    if (from === null) return null;
    this.freshStart();
    // Forward single steps also stop before the handler of an exit a VM-exit filter selects: so do these.
    return this.replay('silent', (n, stage, info) => stage === 'before' && this.exitBreaks(info, stage, n), () => {
      let complete = true;
      // Fast forward to `window` units before the end (never past it: a slice stops at its budget).
      for (;;) {
        const left = unitsBetween(this.moment(), end);
        if (left <= window) break;
        complete = false;
        const r = this.slice(left - window);
        if (typeof r === 'object') break;
      }
      const points: Array<{ moment: Moment; rip: number; rsp: bigint }> = [];
      for (let guard = 0; guard < 10 * window + 1000; guard++) {
        const now = this.moment();
        if (compareMoments(now, end) >= 0) break;
        points.push({ moment: now, rip: this.rip(), rsp: this.registers().gpr.rsp });
        const r = this.slice(1);
        if (typeof r === 'object') break;
      }
      return { points, complete };
    });
  }

  /**
   * DAP stepBack: back to the point a forward single step would have come from ('instruction'),
   * or to the start of the previous source line, stepping back over calls ('line').
   */
  stepBack(granularity: 'instruction' | 'line'): StopInfo {
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
    let end = start;
    for (;;) {
      const scan = this.stepPoints(end, window);
      if (scan === null) return this.historyStart('step back', start);
      const pts = scan.points;
      let k = pts.length - 1;
      while (k >= 0 && skip(pts[k])) k--;
      if (k < 0) {
        if (!scan.complete) { window *= 8; continue; }
        // Nothing to stop at since the snapshot: look before it.
        const before = h.snapshotAtOrBefore(end, true);
        if (before === null || compareMoments(before, oldest) <= 0) return this.historyStart('step back', start);
        end = before;
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
      this.goToMoment(pts[j].moment);
      return this.stepStop('step back');
    }
  }

  /** The stop a step back reports (an exit stop when it lands before a VM exit's handler). */
  private stepStop(description: string): StopInfo {
    const hv = this.hv;
    if (hv !== null && hv.stoppedAtExit !== null && hv.stoppedAtExit.stage === 'before') {
      const e = this.exitStop();
      return { ...e, reason: 'step', description: `${description}: ${e.description}` };
    }
    return { reason: 'step', description };
  }

  /** Stopped at the oldest recorded moment. */
  private historyStart(what: string, from: Moment): StopInfo {
    const oldest = this.requireHistory().oldest!;
    if (compareMoments(this.moment(), oldest) !== 0) this.goToMoment(oldest);
    return {
      reason: 'entry', description: 'start of recorded history',
      text: `${what}: nothing earlier in the recorded history; stopped at its start (${formatMoment(oldest)}; was at ${formatMoment(from)})`,
    };
  }

  /**
   * DAP reverseContinue: back to the last moment before now at which an instruction breakpoint
   * (its condition; hit counts and logpoints do not stop), a data breakpoint (the last access
   * it watches) or a VM-exit filter would have stopped the run. Re-executes the recorded
   * history window by window, newest first, with those stop conditions armed; with none, stops
   * at the start of the recorded history (reason 'entry', and the text says so).
   */
  reverseContinue(): StopInfo {
    const h = this.requireHistory();
    const start = this.moment();
    let end = start;
    for (;;) {
      const from = h.snapshotAtOrBefore(end, true);
      if (from === null) break;
      // The newest window ends before now; older ones end at (and include) the snapshot the newer window starts from.
      const inclusive = end !== start;
      const hits = this.scanStops(end, -1, inclusive);
      if (hits.count > 0) return this.scanStops(end, hits.count - 1, inclusive).stop!;
      end = from;
    }
    return this.historyStart('reverse continue: no breakpoint, data breakpoint or VM-exit filter would have stopped the run', start);
  }

  /**
   * Re-execute from the newest snapshot before `end` up to `end` with the stop conditions armed;
   * count the stops, or stop at stop number `stopAt` (0-based) and return it as a forward run would.
   */
  private scanStops(end: Moment, stopAt: number, inclusive: boolean): { count: number; stop: StopInfo | null } {
    const h = this.requireHistory();
    if (h.restoreBefore(end, true) === null) return { count: 0, stop: null };
    this.freshStart();
    const cpu = this.machine.cpu;
    const inWindow = (m: Moment) => { const c = compareMoments(m, end); return c < 0 || (c === 0 && inclusive); };
    return this.replay('scan', null, () => {
      let count = 0;
      const take = (hit: StopInfo | null): StopInfo | null => {
        if (hit === null || !inWindow(this.moment())) return null;
        if (count === stopAt) { count++; return hit; }
        count++;
        return null;
      };
      for (;;) {
        // A data breakpoint hit by the slice's last instruction is reported by the next slice: take it here,
        // also when the slice ended at the window's end (a snapshot the later window starts from without it).
        if (cpu.watchHit !== null) { const got = take(this.replayStop('stop')); if (got !== null) return { count, stop: got }; }
        const now = this.moment();
        if (compareMoments(now, end) >= 0) return { count, stop: null };
        const r = this.slice(Math.max(1, unitsBetween(now, end)));
        if (typeof r === 'object') return { count, stop: null };
        if (r === 'stop') continue;
        const got = take(this.replayStop(r));
        if (got !== null) return { count, stop: got };
        if (r === 'breakpoint') cpu.resumeFromBreakpoint();
      }
    });
  }

  /** What a stop while re-executing with the stop conditions armed means (as classify(), without hit counts and logpoints). */
  private replayStop(r: string): StopInfo | null {
    const cpu = this.machine.cpu;
    if (r === 'vmexit') return this.exitStop();
    if (r === 'breakpoint') {
      const rip = this.rip();
      const bp = this.bps.get(rip);
      if (bp === undefined || bp.logMessage !== null) return null;
      if (bp.condition !== null && !bp.condition.test(this.evalContext())) return null;
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
    const h = this.requireHistory();
    const hv = this.hv;
    if (hv === null) throw new Error('this run has no hypervisor, so no VM exits');
    if (!Number.isSafeInteger(index) || index < 1) throw new Error(`gotoExit: exit numbers start at 1, got ${index}`);
    const newest = h.newest;
    const reached = Math.max(hv.log.total, newest.exits + (newest.phase === 2 ? 1 : 0), this.moment().exits + (this.moment().phase === 2 ? 1 : 0));
    if (index > reached) throw new Error(`gotoExit: exit ${index} has not happened yet (the run has reached exit ${reached})`);
    // The newest snapshot before the exit: its handler not run yet means fewer than `index` exits handled.
    const target: Moment = { icount: Number.MAX_SAFE_INTEGER, exits: index - 1, phase: 2 };
    const snaps = h.snapshotMoments().filter((m) => m.exits <= index - 1);
    if (snaps.length === 0) throw new Error(`gotoExit: exit ${index} is older than the recorded history (it starts at ${formatMoment(h.oldest!)})`);
    const from = snaps[snaps.length - 1];
    h.restoreBefore(from);
    this.freshStart();
    void target;
    const landed = this.replay('silent', (n, stage) => stage === 'before' && n === index, () => {
      for (;;) {
        const r = this.slice(1_000_000);
        if (typeof r === 'object') return false;
        if (r === 'vmexit') return true;
        if (hv.log.total >= index) return false;
      }
    });
    if (!landed) throw new Error(`gotoExit: re-executing did not reach exit ${index}`);
    const e = this.exitStop();
    return { ...e, reason: 'goto', description: `VM exit #${index}: ${e.exit!.name} (${e.exit!.reason})` };
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
