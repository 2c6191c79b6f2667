// The processor's side of VMX non-root operation: every point where an instruction or event may cause a VM exit (SDM vol. 3C ch. 26).
import type { Cpu } from './cpu.js';
import type { Insn } from './insn.js';

/**
 * Thrown (this one object) by a hook that caused a VM exit: it unwinds the instruction like
 * a fault, and the run loop returns 'vmexit'. The hook has already saved guest state.
 */
export const VM_EXIT: { readonly vmexit: true } = Object.freeze({ vmexit: true as const });

/** Kinds of control-register access (exit qualification bits 5:4, SDM vol. 3C table 28-3). */
export const CR_MOV_TO = 0, CR_MOV_FROM = 1, CR_CLTS = 2, CR_LMSW = 3;

/**
 * Installed in Cpu.vmx while the processor is in VMX non-root operation (null otherwise).
 * Each method decides, from the VMCS controls, whether its event causes a VM exit; if so it
 * performs the exit, else it returns (possibly with a value the instruction must use instead,
 * e.g. a CR read shadow). Handlers call these after the checks that have priority over VM
 * exits (#UD, CPL, I/O permission; SDM §26.1.1).
 *
 * Two ways to leave the instruction. The hooks of the frequent exits (CPUID and the other
 * unconditional ones, HLT, IN/OUT/INS/OUTS, RDMSR/WRMSR) return true after an exit and set
 * Cpu.vmexitPending: the instruction handler returns at once and the run loop returns
 * 'vmexit' without retiring it. Unwinding by throw costs about half a microsecond in V8, the
 * largest single cost of an exit round trip before this. The other hooks, and exits from deep
 * inside an instruction (EPT violations, exceptions), throw VM_EXIT like a fault.
 */
export interface VmxHooks {
  /** Instructions that exit unconditionally: CPUID, GETSEC, INVD, XSETBV, VMCALL and the VMX instructions (SDM §26.1.2). */
  unconditional(c: Cpu, i: Insn, reason: number): boolean;
  hlt(c: Cpu, i: Insn): boolean;
  invlpg(c: Cpu, i: Insn, lin: number): void;
  rdpmc(c: Cpu, i: Insn): void;
  /** RDTSC/RDTSCP: may exit; returns the TSC offset to apply when TSC offsetting is on. */
  rdtsc(c: Cpu, i: Insn, rdtscp: boolean): number;
  wbinvd(c: Cpu, i: Insn): void;
  monitorMwait(c: Cpu, i: Insn, mwait: boolean): void;
  pause(c: Cpu, i: Insn): void;
  /** MOV to CRn (0, 3, 4, 8): may exit; returns the value to load (host-owned bits kept for CR0/CR4). */
  crWrite(c: Cpu, i: Insn, cr: number, gpr: number, value: number): number;
  /** MOV from CRn: may exit; returns the value the guest reads (read shadows for host-owned bits). */
  crRead(c: Cpu, i: Insn, cr: number, gpr: number, value: number): number;
  /** CLTS and LMSW (type CR_CLTS / CR_LMSW); returns the value to load into CR0 (LMSW source for LMSW). */
  crSpecial(c: Cpu, i: Insn, type: number, value: number): number;
  movDr(c: Cpu, i: Insn, dr: number, gpr: number, toDr: boolean): void;
  io(c: Cpu, i: Insn, port: number, size: number, input: boolean, string: boolean, rep: boolean): boolean;
  rdmsr(c: Cpu, i: Insn, msr: number): boolean;
  wrmsr(c: Cpu, i: Insn, msr: number): boolean;
  /** LGDT/LIDT/SGDT/SIDT (GDTR_IDTR) and LLDT/LTR/SLDT/STR (LDTR_TR) with descriptor-table exiting. */
  descriptorTable(c: Cpu, i: Insn, reason: number, instr: number): void;
  rdtscpAllowed(c: Cpu): boolean;

  /** An exception about to be delivered: exits if the exception bitmap selects it (SDM §26.2). */
  exception(c: Cpu, vector: number, hasError: boolean, error: number, software: boolean): void;
  /** A triple fault in non-root operation is a VM exit, not a shutdown (SDM §26.2). */
  tripleFault(c: Cpu): void;
  /** EPT violation or misconfiguration at `gpa` (SDM §29.3.3). */
  eptFault(c: Cpu, gpa: number, access: number, lin: number, linValid: boolean, pagingStructure: boolean): never;
  /** The EPT violation or misconfiguration of a data access by Cpu.softRead/softWrite: the exit is performed with vmexitPending set and -1 returned (no unwinding). */
  eptExitNoUnwind(c: Cpu, gpa: number, access: number, lin: number): number;
  /** Run-loop check at an instruction boundary when `boundaryPending` is set: windows, MTF, preemption timer, pending events. */
  boundary(c: Cpu): void;
  /** True when boundary() must run before the next instruction. */
  boundaryPending: boolean;
  /** Called after an instruction retires when the monitor trap flag is set. */
  afterInstruction(c: Cpu): void;
}
