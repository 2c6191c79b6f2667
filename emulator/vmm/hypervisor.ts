// The reference hypervisor: lays out host memory, builds EPT, fills the VMCS, runs the vCPU loop and dispatches every VM exit to a handler.
import { Cpu, type CpuBus, type CpuStop } from '../cpu/cpu.js';
import { CS, DS, ES, FS, GS, SS, RSP } from '../cpu/insn.js';
import { CR0_ET, CR0_NE, CR0_PE, CR0_PG, CR0_WP, CR4_PAE, CR4_VMXE, EFER_LMA, EFER_LME, EFER_NXE, IF } from '../cpu/regs.js';
import type { ArchState } from '../cpu/setup.js';
import { PhysicalMemory } from '../mem/physmem.js';
import { Vmx } from '../vmx/vmx.js';
import { VmcsOffset as OFF } from '../vmx/vmcs-offsets.js';
import { VMCS_REVISION_ID } from '../vmx/caps.js';
import { vmcsField, type VmcsFieldName } from '../vmx/fields.js';
import {
  CPU_BASED_ACTIVATE_SECONDARY_CONTROLS, CPU_BASED_HLT_EXITING, CPU_BASED_INTR_WINDOW_EXITING, CPU_BASED_USE_IO_BITMAPS,
  CPU_BASED_USE_MSR_BITMAPS, CPU_BASED_USE_TSC_OFFSETTING, PIN_BASED_EXT_INTR_MASK, PIN_BASED_NMI_EXITING, PIN_BASED_VMX_PREEMPTION_TIMER,
  SECONDARY_EXEC_ENABLE_EPT, SECONDARY_EXEC_ENABLE_RDTSCP, SECONDARY_EXEC_ENABLE_VPID, SECONDARY_EXEC_UNRESTRICTED_GUEST,
  VM_ENTRY_IA32E_MODE, VM_ENTRY_LOAD_IA32_EFER, VM_ENTRY_LOAD_IA32_PAT, VM_EXIT_ACK_INTR_ON_EXIT, VM_EXIT_HOST_ADDR_SPACE_SIZE,
  VM_EXIT_LOAD_IA32_EFER, VM_EXIT_LOAD_IA32_PAT, VM_EXIT_SAVE_IA32_EFER, VM_EXIT_SAVE_IA32_PAT, INTR_INFO_VALID_MASK,
  INTR_INFO_DELIVER_CODE_MASK, INTR_TYPE_EXT_INTR, INTR_TYPE_HARD_EXCEPTION,
} from '../vmx/controls.js';
import { CPU_BASED_DEFAULT1, PIN_BASED_DEFAULT1, VM_ENTRY_DEFAULT1, VM_EXIT_DEFAULT1 } from '../vmx/caps.js';
import { EXIT_REASON, EXIT_REASON_FAILED_VMENTRY, exitReasonName } from '../vmx/exit-reasons.js';
import { EPT_A, EPT_PS, EPT_R, EPT_W, EPT_X, makeEptp } from '../ept/ept.js';
import { GuestMemory } from './guest-memory.js';
import { guestLinearToPhysical } from './guest-walk.js';
import { appendNote, DeferredNote, ExitLog, type ExitOutcome, type NoteText } from './exit-log.js';
import { type ExitHandler, type ExitInfo, type RegName, type VcpuApi } from './api.js';
import { CpuidAnswers, defaultHandlers, HYPERVISOR_MSR_EXITS, inNote, inResult, isBuiltInHandler, outValue, type HandlerContext, type MsrPlatform } from './handlers.js';
import { decodeInstructionCached, type FetchedInstruction } from './mmio.js';
import { exceptionHasErrorCode } from '../cpu/regs.js';

/** The exit log's note for an interrupt injected at entry, one string per vector (made once: no formatting per injection). */
const INJECTED_NOTES: string[] = [];
function injectedNote(vector: number): string {
  return (INJECTED_NOTES[vector] ??= `→ injected vector 0x${vector.toString(16)} at entry`);
}

/** GPR save-area index of a handler register name (as GPR_NAMES.indexOf, without the search); -1 for others. */
function gprIndex(name: RegName): number {
  switch (name) {
    case 'rax': return 0; case 'rcx': return 1; case 'rdx': return 2; case 'rbx': return 3;
    case 'rsp': return 4; case 'rbp': return 5; case 'rsi': return 6; case 'rdi': return 7;
    case 'r8': return 8; case 'r9': return 9; case 'r10': return 10; case 'r11': return 11;
    case 'r12': return 12; case 'r13': return 13; case 'r14': return 14; case 'r15': return 15;
    default: return -1;
  }
}

/**
 * The exit-handler table: a Map by basic exit reason (what tests, handler modules and the debugger use) that also
 * keeps an array by reason, so the exit path finds the handler without a hash lookup, and whether it is a built-in
 * handler (those are given the reused exit object, see Hypervisor.exitScratch).
 */
export class HandlerTable extends Map<number, ExitHandler> {
  /** Handler by basic exit reason (0 … 65535 as VM_EXIT_REASON bits 15:0 allow; grown as reasons are set). */
  readonly byReason: Array<ExitHandler | undefined> = [];
  /** 1 where byReason holds a built-in handler (handlers.ts). */
  builtIn = new Uint8Array(0);

  override set(reason: number, h: ExitHandler): this {
    super.set(reason, h);
    // Map is constructed empty here: the super constructor calls no set() before the fields exist.
    if (this.byReason !== undefined && Number.isInteger(reason) && reason >= 0 && reason <= 0xffff) {
      while (this.byReason.length <= reason) this.byReason.push(undefined);
      if (this.builtIn.length <= reason) { const b = new Uint8Array(reason + 64); b.set(this.builtIn); this.builtIn = b; }
      this.byReason[reason] = h;
      this.builtIn[reason] = isBuiltInHandler(h) ? 1 : 0;
    }
    return this;
  }

  override delete(reason: number): boolean {
    if (reason >= 0 && reason < this.byReason.length) { this.byReason[reason] = undefined; this.builtIn[reason] = 0; }
    return super.delete(reason);
  }

  override clear(): void {
    this.byReason.length = 0;
    this.builtIn.fill(0);
    super.clear();
  }
}

/**
 * The exit information given to built-in handlers (which keep no reference to it past the exit): one object reused
 * for every exit, the 64-bit fields as BigInt only when read (SDM vol. 3C §28.2.1 exit-information fields, as read
 * at the exit). Everyone else (a debugger's exitBreak, user handlers, a pending exit) gets a plain ExitInfo.
 */
class ScratchExitInfo implements ExitInfo {
  reason = 0;
  name = '';
  entryFailure = false;
  instructionLength = 0;
  qLo = 0; qHi = 0; linLo = 0; linHi = 0; physLo = 0; physHi = 0;
  /** The BigInt last built per field and the words it was built from (most exits repeat the last value). */
  private readonly memo = new Float64Array([-1, -1, -1, -1, -1, -1]);
  private readonly memoBig: bigint[] = [0n, 0n, 0n];
  private big(k: number, lo: number, hi: number): bigint {
    const m = this.memo;
    if (m[2 * k] === lo && m[2 * k + 1] === hi) return this.memoBig[k];
    const b = hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
    m[2 * k] = lo; m[2 * k + 1] = hi; this.memoBig[k] = b;
    return b;
  }
  get qualification(): bigint { return this.big(0, this.qLo, this.qHi); }
  get guestLinear(): bigint { return this.big(1, this.linLo, this.linHi); }
  get guestPhysical(): bigint { return this.big(2, this.physLo, this.physHi); }
}

/**
 * Host-physical layout of the hypervisor's own structures (the first 2 MiB of host memory);
 * guest RAM follows at GUEST_RAM_HPA, so guest-physical 0 is host-physical 0x200000.
 */
export const HOST_LAYOUT = {
  vmxon: 0x1000,
  vmcs: 0x2000,
  ioBitmapA: 0x3000,
  ioBitmapB: 0x4000,
  msrBitmap: 0x5000,
  virtualApic: 0x6000,
  hostPml4: 0x7000,
  /** EPT paging structures are allocated from here upward. */
  eptBase: 0x10000,
  eptLimit: 0x200000,
  guestRam: 0x200000,
} as const;

/** Where the hypervisor's (never executed) host code and stack would be: canonical upper-half addresses as Linux uses. */
const HOST_RIP = -0x7f000000; // 0xffffffff81000000
const HOST_RSP = -0x7e000000;

export type RunEnd = { status: 'halted' | 'debug-exit' | 'triple-fault' | 'reset' | 'error'; message?: string; exitCode?: number };

/** Interrupt sources the hypervisor consults before each VM entry (the virtual PIC/LAPIC of the platform). */
export interface GuestInterrupts {
  /** A maskable interrupt is pending for the guest. */
  pending(): boolean;
  /** Take it (INTA): the vector. */
  acknowledge(): number;
  /** Guest time (TSC ticks) of the next timer event, or null. */
  nextDeadline(): number | null;
  /** Fire everything due at `now`. */
  poll(now: number): void;
}

export interface HypervisorOptions {
  guestRamBytes: number;
  /** The platform's bus; `quietPort` (IoBus) tells ports whose devices reach no interrupt source (none: every port may). */
  bus: CpuBus & { findMmio: CpuBus['findMmio']; quietPort?(port: number): boolean };
  interrupts?: GuestInterrupts | null;
  /** The platform's MSRs (local APIC) the hypervisor emulates. */
  msr?: MsrPlatform | null;
  console?: (text: string) => void;
}

/** Why runSlice returned without the run ending. */
export type SliceStop = Exclude<CpuStop, 'halted' | 'shutdown'> | 'ended';

/**
 * VMX_PREEMPTION_TIMER_VALUE ← `ticks` clamped to its 32 bits, straight into the region's words: a per-entry field
 * the processor never holds, so the store is what VMWRITE does (no generation to move).
 */
function setTimerValue(w: Uint32Array, ticks: number): void {
  w[OFF.VMX_PREEMPTION_TIMER_VALUE >>> 2] = Math.max(0, Math.min(0xffffffff, ticks));
  w[(OFF.VMX_PREEMPTION_TIMER_VALUE >>> 2) + 1] = 0;
}

/** How the run ends when the handler of exit `name` throws `e`. */
function handlerFailed(name: string, e: unknown): RunEnd {
  return { status: 'error', message: `handler for ${name} failed: ${e instanceof Error ? e.message : String(e)}` };
}

/** A debugger's decision point at a VM exit: before the handler runs, and after it (HyperDbg's pre/post stages). */
export type ExitBreak = (info: ExitInfo, stage: 'before' | 'after', n: number) => boolean;

export class Hypervisor {
  readonly host: PhysicalMemory;
  readonly cpu: Cpu;
  readonly vmx: Vmx;
  readonly guest: GuestMemory;
  readonly log = new ExitLog();
  readonly handlers = new HandlerTable();
  readonly bus: HypervisorOptions['bus'];
  interrupts: GuestInterrupts | null;
  /** The platform's MSRs the hypervisor emulates (the local APIC), set by the machine. */
  msrPlatform: MsrPlatform | null;
  private readonly consoleOut: (text: string) => void;
  private launched = false;
  /** Set by a debugger: return true to stop at this exit ('vmexit' from runSlice). */
  exitBreak: ExitBreak | null = null;
  /** The exit the debugger stopped at, and at which stage; null while running. */
  stoppedAtExit: { info: ExitInfo; stage: 'before' | 'after'; n: number } | null = null;
  /** An exit recorded by the processor but not yet handled (stopped before its handler). */
  private pendingExit: ExitInfo | null = null;
  /** The CPU is in VMX non-root operation (between an entry and the next exit). */
  inGuest = false;
  /** Budget steps handlers charged for work done at exits (string I/O elements). */
  stepsSpent = 0;
  /** Guest instructions the hypervisor completed on the guest's behalf (the exiting instruction it skipped). */
  instructionsEmulated = 0;
  ended: RunEnd | null = null;
  private entryIcount = 0;
  private eptNext: number = HOST_LAYOUT.eptBase;
  /** Event to inject at the next entry (set by handlers through the API), interruption-information format. */
  private pendingInjection = 0;
  private pendingInjectionError = 0;
  private pendingInjectionLength = 0;
  private note: NoteText | undefined;

  constructor(opts: HypervisorOptions) {
    const ram = opts.guestRamBytes;
    if (ram <= 0 || ram % 4096 !== 0) throw new RangeError(`guest RAM must be a positive multiple of 4 KiB, got ${ram}`);
    this.host = new PhysicalMemory(HOST_LAYOUT.guestRam + ram);
    this.bus = opts.bus;
    // The processor's own bus is empty: in this machine all devices are reached through VM exits.
    this.cpu = new Cpu(this.host, { ioRead: () => 0xffffffff, ioWrite: () => { /* none */ }, findMmio: () => null });
    this.vmx = new Vmx(this.cpu);
    this.guest = new GuestMemory(this.host, HOST_LAYOUT.guestRam, ram);
    this.interrupts = opts.interrupts ?? null;
    this.consoleOut = opts.console ?? (() => { /* no console */ });
    this.msrPlatform = opts.msr ?? null;
    const hv = this;
    const ctx: HandlerContext = {
      bus: this.bus,
      get msr() { return hv.msrPlatform; },
      hasLapic: () => hv.msrPlatform !== null,
      idleUntil: (t) => this.idleUntil(t),
      nextWake: () => {
        if (this.interrupts === null) return null;
        this.interrupts.poll(this.now());
        if (this.interrupts.pending()) return 'pending';
        return this.interrupts.nextDeadline();
      },
      // CR2 and XCR0 are not VMCS fields: the hypervisor loads them in root operation before the
      // next entry (MOV to CR2, XSETBV), as KVM does for the guest's values.
      setCr2: (v) => { this.cpu.cr2 = v; },
      setXcr0: (v) => { this.cpu.xcr0 = v; },
      guestCr4: () => { this.vmx.vmcs.region = HOST_LAYOUT.vmcs; return this.vmx.guestCr4() & ~CR4_VMXE; },
      tscAux: () => this.cpu.tscAux,
      entryCheck: () => this.vmx.lastEntryCheck,
      isRam: (gpa) => this.guest.isRam(gpa),
      fetchInstruction: () => this.fetchInstruction(),
    };
    for (const [reason, h] of defaultHandlers(ctx)) this.handlers.set(reason, h);
    this.builtInCpuid = this.handlers.get(EXIT_REASON.CPUID);
    this.builtInIo = this.handlers.get(EXIT_REASON.IO_INSTRUCTION);
    this.setupVmx();
  }

  // ---------------------------------------------------------------- setup (what KVM's vmx_vcpu_setup does)

  /**
   * VMWRITE of a named field. Setup goes through the VMX instruction (with its checks); the
   * exit path uses the same storage through the VMX unit's field accessor, as a hypervisor's
   * VMREAD/VMWRITE of known-good encodings would.
   */
  private vmw(name: VmcsFieldName, value: bigint | number): void {
    if (!this.launched) {
      const r = this.vmx.vmwrite(vmcsField(name).encoding, BigInt.asUintN(64, BigInt(value)));
      if (!r.ok) throw new Error(`VMWRITE ${name} failed: ${JSON.stringify(r)}`);
      return;
    }
    this.vmx.vmcs.region = HOST_LAYOUT.vmcs;
    this.vmx.vmcs.setBig(name, BigInt(value));
  }

  /** VMWRITE a named field of the hypervisor's VMCS (tests, exercises and the debugger use this). */
  vmwrite(name: VmcsFieldName, value: bigint | number): void {
    this.vmw(name, value);
  }

  /** VMREAD a named field of the hypervisor's VMCS. */
  vmread(name: VmcsFieldName): bigint {
    return this.vmr(name);
  }

  vmr(name: VmcsFieldName): bigint {
    this.vmx.vmcs.region = HOST_LAYOUT.vmcs;
    return this.vmx.vmcs.getBig(name);
  }

  private setupVmx(): void {
    const h = this.host;
    h.write32(HOST_LAYOUT.vmxon, VMCS_REVISION_ID);
    h.write32(HOST_LAYOUT.vmcs, VMCS_REVISION_ID);
    const ok = (r: { ok: boolean }, what: string) => { if (!r.ok) throw new Error(`${what} failed: ${JSON.stringify(r)}`); };
    ok(this.vmx.vmxon(HOST_LAYOUT.vmxon), 'VMXON');
    ok(this.vmx.vmclear(HOST_LAYOUT.vmcs), 'VMCLEAR');
    ok(this.vmx.vmptrld(HOST_LAYOUT.vmcs), 'VMPTRLD');

    // I/O bitmaps: every port exits (as KVM: all port I/O is emulated by the hypervisor).
    for (let a = 0; a < 4096; a += 4) { h.write32(HOST_LAYOUT.ioBitmapA + a, 0xffffffff); h.write32(HOST_LAYOUT.ioBitmapB + a, 0xffffffff); }
    // MSR bitmap: MSRs the processor keeps for the guest pass through; the platform's MSRs exit.
    for (let a = 0; a < 4096; a += 4) h.write32(HOST_LAYOUT.msrBitmap + a, 0);
    for (const msr of HYPERVISOR_MSR_EXITS) this.setMsrExit(msr, true, true);

    const pin = PIN_BASED_DEFAULT1 | PIN_BASED_EXT_INTR_MASK | PIN_BASED_NMI_EXITING;
    // TRUE controls allow clearing the CR3-load/store defaults; EPT makes them unnecessary (SDM §A.3.2).
    const proc = ((CPU_BASED_DEFAULT1 & ~((1 << 15) | (1 << 16))) | CPU_BASED_HLT_EXITING | CPU_BASED_USE_IO_BITMAPS |
      CPU_BASED_USE_MSR_BITMAPS | CPU_BASED_USE_TSC_OFFSETTING | CPU_BASED_ACTIVATE_SECONDARY_CONTROLS) >>> 0;
    const proc2 = SECONDARY_EXEC_ENABLE_EPT | SECONDARY_EXEC_ENABLE_VPID | SECONDARY_EXEC_UNRESTRICTED_GUEST | SECONDARY_EXEC_ENABLE_RDTSCP;
    const exit = (VM_EXIT_DEFAULT1 & ~(1 << 2)) | VM_EXIT_HOST_ADDR_SPACE_SIZE | VM_EXIT_ACK_INTR_ON_EXIT | VM_EXIT_SAVE_IA32_EFER |
      VM_EXIT_LOAD_IA32_EFER | VM_EXIT_SAVE_IA32_PAT | VM_EXIT_LOAD_IA32_PAT;
    const entry = (VM_ENTRY_DEFAULT1 & ~(1 << 2)) | VM_ENTRY_LOAD_IA32_EFER | VM_ENTRY_LOAD_IA32_PAT;
    this.vmw('PIN_BASED_VM_EXEC_CONTROL', pin);
    this.vmw('CPU_BASED_VM_EXEC_CONTROL', proc);
    this.vmw('SECONDARY_VM_EXEC_CONTROL', proc2);
    this.vmw('VM_EXIT_CONTROLS', exit);
    this.vmw('VM_ENTRY_CONTROLS', entry);
    this.vmw('EXCEPTION_BITMAP', 0);
    this.vmw('IO_BITMAP_A', HOST_LAYOUT.ioBitmapA);
    this.vmw('IO_BITMAP_B', HOST_LAYOUT.ioBitmapB);
    this.vmw('MSR_BITMAP', HOST_LAYOUT.msrBitmap);
    this.vmw('VIRTUAL_APIC_PAGE_ADDR', HOST_LAYOUT.virtualApic);
    this.vmw('TSC_OFFSET', 0);
    this.vmw('VIRTUAL_PROCESSOR_ID', 1);
    this.vmw('VMCS_LINK_POINTER', -1n);
    // CR0.NE and CR4.VMXE must be 1 in VMX operation (IA32_VMX_CR0/CR4_FIXED0): the hypervisor owns them and
    // shows the guest its own values through the read shadows.
    this.vmw(f('CR0_GUEST_HOST_MASK'), CR0_NE);
    this.vmw(f('CR4_GUEST_HOST_MASK'), CR4_VMXE);
    this.buildEpt();

    // Host state: a 64-bit host as Linux runs (its code never runs here: the hypervisor is TypeScript).
    h.write32(HOST_LAYOUT.hostPml4, 0);
    this.vmw('HOST_CR0', (CR0_PE | CR0_ET | CR0_NE | CR0_WP | CR0_PG) >>> 0);
    this.vmw('HOST_CR3', HOST_LAYOUT.hostPml4);
    this.vmw('HOST_CR4', CR4_PAE | CR4_VMXE);
    this.vmw('HOST_CS_SELECTOR', 0x10);
    this.vmw('HOST_SS_SELECTOR', 0x18);
    for (const s of ['DS', 'ES', 'FS', 'GS'] as const) this.vmw(f(`HOST_${s}_SELECTOR`), 0);
    this.vmw('HOST_TR_SELECTOR', 0x40);
    this.vmw('HOST_FS_BASE', 0); this.vmw('HOST_GS_BASE', 0); this.vmw('HOST_TR_BASE', 0);
    this.vmw('HOST_GDTR_BASE', 0); this.vmw('HOST_IDTR_BASE', 0);
    this.vmw('HOST_IA32_SYSENTER_CS', 0); this.vmw('HOST_IA32_SYSENTER_ESP', 0); this.vmw('HOST_IA32_SYSENTER_EIP', 0);
    this.vmw('HOST_IA32_EFER', EFER_LME | EFER_LMA | EFER_NXE);
    this.vmw('HOST_IA32_PAT', 0x0007040600070406n);
    this.vmw('HOST_RIP', HOST_RIP);
    this.vmw('HOST_RSP', HOST_RSP);
  }

  /** Set whether RDMSR/WRMSR of `msr` exits (SDM §25.6.9). */
  setMsrExit(msr: number, read: boolean, write: boolean): void {
    let off: number, bit: number;
    if (msr <= 0x1fff) { off = 0; bit = msr; } else if (msr >= 0xc0000000 && msr <= 0xc0001fff) { off = 1024; bit = msr - 0xc0000000; } else return;
    const set = (base: number, on: boolean) => {
      const a = HOST_LAYOUT.msrBitmap + base + (bit >>> 3);
      const v = this.host.read8(a);
      this.host.write8(a, on ? v | (1 << (bit & 7)) : v & ~(1 << (bit & 7)));
    };
    set(off, read);
    set(off + 2048, write);
  }

  private allocEptPage(): number {
    const p = this.eptNext;
    if (p >= HOST_LAYOUT.eptLimit) throw new Error('EPT tables do not fit the hypervisor area');
    this.eptNext += 4096;
    for (let a = 0; a < 4096; a += 4) this.host.write32(p + a, 0);
    return p;
  }

  /**
   * EPT identity of guest RAM onto its host range: 2 MiB pages, read/write/execute, write-back
   * (SDM vol. 3C §29.3.2); the MMIO hole and everything above RAM stay unmapped, so accesses
   * there become EPT violations the hypervisor emulates.
   */
  private buildEpt(): void {
    const pml4 = this.allocEptPage();
    const tables = new Map<string, number>();
    const entry = (table: number, index: number): number => {
      const key = `${table}:${index}`;
      let t = tables.get(key);
      if (t === undefined) {
        t = this.allocEptPage();
        tables.set(key, t);
        this.host.write32(table + index * 8, t | EPT_R | EPT_W | EPT_X);
        this.host.write32(table + index * 8 + 4, Math.floor(t / 4294967296));
      }
      return t;
    };
    const TWO_MIB = 0x200000;
    for (const r of this.guest.ranges) {
      for (let off = 0; off < r.size; off += TWO_MIB) {
        const gpa = r.gpa + off, hpa = r.hpa + off;
        const pdpt = entry(pml4, Math.floor(gpa / 2 ** 39) % 512);
        const pd = entry(pdpt, Math.floor(gpa / 2 ** 30) % 512);
        const pdeAddr = pd + (Math.floor(gpa / TWO_MIB) % 512) * 8;
        if (r.size - off >= TWO_MIB) {
          this.host.write32(pdeAddr, ((hpa % 4294967296) | EPT_R | EPT_W | EPT_X | (6 << 3) | EPT_PS) >>> 0);
          this.host.write32(pdeAddr + 4, Math.floor(hpa / 4294967296));
        } else {
          // A partial last 2 MiB: 4 KiB pages.
          const pt = entry(pd, Math.floor(gpa / TWO_MIB) % 512);
          for (let k = 0; off + k * 4096 < r.size && k < 512; k++) {
            const a = hpa + k * 4096;
            this.host.write32(pt + k * 8, ((a % 4294967296) | EPT_R | EPT_W | EPT_X | (6 << 3)) >>> 0);
            this.host.write32(pt + k * 8 + 4, Math.floor(a / 4294967296));
          }
        }
      }
    }
    void EPT_A;
    this.vmw('EPT_POINTER', makeEptp(pml4, true));
  }

  /** Put the guest in an architectural state (its tables already written to guest memory). */
  setGuestState(s: ArchState): void {
    const names = ['ES', 'CS', 'SS', 'DS', 'FS', 'GS'];
    for (const k of [ES, CS, SS, DS, FS, GS]) {
      const g = s.seg[k], n = names[k];
      this.vmw(f(`GUEST_${n}_SELECTOR`), g.selector);
      this.vmw(f(`GUEST_${n}_BASE`), g.base);
      this.vmw(f(`GUEST_${n}_LIMIT`), g.limit >>> 0);
      this.vmw(f(`GUEST_${n}_AR_BYTES`), g.ar);
    }
    this.vmw('GUEST_LDTR_SELECTOR', s.ldtr.selector); this.vmw('GUEST_LDTR_BASE', s.ldtr.base);
    this.vmw('GUEST_LDTR_LIMIT', s.ldtr.limit); this.vmw('GUEST_LDTR_AR_BYTES', s.ldtr.ar);
    this.vmw('GUEST_TR_SELECTOR', s.tr.selector); this.vmw('GUEST_TR_BASE', s.tr.base);
    this.vmw('GUEST_TR_LIMIT', s.tr.limit); this.vmw('GUEST_TR_AR_BYTES', s.tr.ar);
    this.vmw('GUEST_GDTR_BASE', s.gdtr.base); this.vmw('GUEST_GDTR_LIMIT', s.gdtr.limit);
    this.vmw('GUEST_IDTR_BASE', s.idtr.base); this.vmw('GUEST_IDTR_LIMIT', s.idtr.limit);
    this.vmw('GUEST_CR0', (s.cr0 | CR0_NE) >>> 0);
    this.vmw(f('CR0_READ_SHADOW'), s.cr0 >>> 0);
    this.vmw('GUEST_CR3', s.cr3);
    this.vmw('GUEST_CR4', (s.cr4 | CR4_VMXE) >>> 0);
    this.vmw(f('CR4_READ_SHADOW'), s.cr4 >>> 0);
    this.vmw('GUEST_DR7', 0x400);
    this.vmw('GUEST_RSP', s.gprHi[RSP] * 4294967296 + s.gprLo[RSP]);
    this.vmw('GUEST_RIP', s.rip);
    this.vmw('GUEST_RFLAGS', s.rflags | 2);
    this.vmw('GUEST_IA32_EFER', s.efer);
    this.vmw('GUEST_IA32_PAT', 0x0007040600070406n);
    this.vmw('GUEST_SYSENTER_CS', 0); this.vmw('GUEST_SYSENTER_ESP', 0); this.vmw('GUEST_SYSENTER_EIP', 0);
    this.vmw('GUEST_ACTIVITY_STATE', 0);
    this.vmw('GUEST_INTERRUPTIBILITY_INFO', 0);
    this.vmw('GUEST_PENDING_DBG_EXCEPTIONS', 0);
    const entry = Number(this.vmr('VM_ENTRY_CONTROLS'));
    this.vmw('VM_ENTRY_CONTROLS', (s.efer & EFER_LMA) !== 0 ? entry | VM_ENTRY_IA32E_MODE : entry & ~VM_ENTRY_IA32E_MODE);
    for (let r = 0; r < 16; r++) { this.vmx.gprLo[r] = s.gprLo[r] >>> 0; this.vmx.gprHi[r] = s.gprHi[r] >>> 0; }
  }

  // ---------------------------------------------------------------- the vCPU loop (KVM's vcpu_run)

  /** Guest time: instructions retired plus time spent idle in HLT. */
  now(): number {
    return this.cpu.icount + this.cpu.idleTicks;
  }

  /**
   * Run the guest for at most `budget` instructions, handling VM exits as they come. Returns
   * 'ended' when the run ended (see `ended`), else the processor's reason to stop.
   */
  runSlice(budget: number): SliceStop {
    // Exits in the processor's run loop are handled there (exitShortcut) unless a debugger watches exits.
    const shortcut = this.shortcutEnabled && this.exitBreak === null;
    this.cpu.exitShortcut = shortcut ? this.shortcut : null;
    this.vmx.fastpath = shortcut ? this.fastpath : null;
    this.platformEpoch++;
    try {
      return this.runGuest(budget);
    } finally {
      this.cpu.exitShortcut = null;
      this.vmx.fastpath = null;
    }
  }

  private runGuest(budget: number): SliceStop {
    // A VM exit counts as one step of the budget, so exits that retire no instruction (a handler
    // that does not advance RIP, REP string I/O in pieces) cannot loop forever.
    // Spent so far = icount + log.total + stepsSpent - start (no closure: this runs once per exit).
    const start = this.cpu.icount + this.log.total + this.stepsSpent;
    this.stoppedAtExit = null;
    for (;;) {
      if (this.ended === null && this.pendingExit !== null) {
        // Resuming from a stop before an exit's handler: handle it now (it may stop again after).
        if (this.handleExit()) return 'vmexit';
        continue;
      }
      if (this.ended === null && !this.inGuest && this.cpu.icount + this.log.total + this.stepsSpent - start >= budget) return 'budget';
      if (this.ended !== null) return 'ended';
      if (!this.inGuest) {
        const o = this.enterGuest();
        if (o === 'ended') return 'ended';
        if (o === 'exit') { if (this.handleExit()) return 'vmexit'; continue; }
      }
      const left = budget - (this.cpu.icount + this.log.total + this.stepsSpent - start);
      if (left <= 0) return 'budget';
      const stop = this.vmx.run(left);
      if (stop === 'vmexit') {
        this.inGuest = false;
        // The shortcut handled this exit already (and did not enter the guest again).
        if (this.shortcutHandled) { this.shortcutHandled = false; continue; }
        if (this.handleExit()) return 'vmexit';
        continue;
      }
      if (stop === 'halted' || stop === 'shutdown') {
        // HLT exiting is on and triple faults exit, so neither happens in non-root operation.
        this.ended = { status: 'error', message: `unexpected processor stop '${stop}' in VMX non-root operation` };
        return 'ended';
      }
      return stop;
    }
  }

  /**
   * VM entry (KVM's vcpu_enter_guest after its exit handling): prepare it, VMLAUNCH or VMRESUME. 'entered': the guest
   * runs (inGuest); 'exit': the entry itself ended in an exit (a failed guest-state check, an event whose delivery
   * exits), to be handled; 'ended': the instruction failed and the run ends.
   */
  private enterGuest(): 'entered' | 'exit' | 'ended' {
    this.prepareEntry();
    return this.enterPrepared();
  }

  /** VMLAUNCH or VMRESUME after prepareEntry (or the fastpath's part of it): enterGuest's second half. */
  private enterPrepared(): 'entered' | 'exit' | 'ended' {
    const o = this.launched ? this.vmx.vmresume() : this.vmx.vmlaunch();
    if (o.kind === 'vmfail') {
      const r = o.result;
      const detail = r.ok ? '' : r.kind === 'VMfailValid' ? `VM-instruction error ${r.error} (${r.message})${r.check ? `: ${r.check}` : ''}` : 'VMfailInvalid';
      this.ended = { status: 'error', message: `${this.launched ? 'VMRESUME' : 'VMLAUNCH'} failed: ${detail}` };
      return 'ended';
    }
    this.launched = true;
    this.entryIcount = this.cpu.icount;
    if (o.kind === 'exit') return 'exit';
    this.inGuest = true;
    return 'entered';
  }

  /** Whether exits may be handled in the processor's run loop (tests compare runs with and without). */
  shortcutEnabled = true;
  /** Exits handled and entered from by the shortcut (a statistic for tests and benchmarks). */
  shortcutExits = 0;
  /** The shortcut handled the exit the processor returned with but did not enter the guest (the run ended, or no budget left). */
  private shortcutHandled = false;

  /**
   * The exit shortcut (Cpu.exitShortcut): what runSlice does after an exit, done in the processor's run loop so the
   * guest goes on without the processor returning: handle the exit, then, with budget left for a step after it,
   * prepare the entry and VMRESUME. The same steps in the same order, so the run is the same with or without it.
   * Returns the budget steps used (the exit and what its handler spent), or -1 to leave the exit to runSlice.
   */
  private readonly shortcut = (left: number): number => {
    if (this.pendingExit !== null || this.ended !== null || this.exitBreak !== null) return -1;
    const spent0 = this.stepsSpent;
    this.inGuest = false;
    this.handleExit();
    this.shortcutHandled = true;
    const steps = 1 + this.stepsSpent - spent0;
    // runSlice would stop here ('ended', or 'budget' before the entry): so does the processor.
    if (this.ended !== null || steps >= left) return -1;
    const o = this.enterGuest();
    if (o === 'entered') { this.shortcutHandled = false; this.shortcutExits++; return steps; }
    // An exit at entry is handled by runSlice (the processor returns with it); a failed entry ended the run.
    if (o === 'exit') this.shortcutHandled = false;
    return -1;
  };

  /** The built-in CPUID and I/O handlers as made at construction: the fastpath stands in for these only. */
  private readonly builtInCpuid: ExitHandler | undefined;
  private readonly builtInIo: ExitHandler | undefined;
  /** The fastpath's CPUID answers (the same pure model as the CPUID handler's, with its own memo). */
  private readonly cpuidAnswers = new CpuidAnswers();
  /** Exits the fastpath handled (a statistic for tests and benchmarks; they count in shortcutExits too). */
  fastpathExits = 0;

  /**
   * The exit fastpath (KVM's vmx_exit_handlers_fastpath, which handles a few exits before the generic exit path):
   * CPUID, and IN/OUT (not string), when the built-in handler has the reason, the last entry injected nothing and
   * found nothing pending, no exit since reached an interrupt source and no device deadline is due (the quiet case of
   * prepareEntry). It does, in the same order, what handleExit and enterGuest do for such an exit: the instruction's
   * bytes for the log, the handler's work (CpuidAnswers; the port's device), RIP advanced, the log entry, the entry's
   * preparation (only the preemption timer's value after CPUID or a quiet port; after a port whose device may reach
   * an interrupt source, such as the PIC's EOI, the full evaluation, which may inject), VMRESUME; it leaves out what
   * cannot apply (a debugger, user handlers, the exit object). Returns the budget steps used (1), or 0 when it does
   * not apply (nothing done).
   * The exit-shortcut test runs guests with and without it and compares every exit, stop and state.
   */
  private readonly fastpath = (left: number): number => {
    // As the shortcut: not with a debugger or a pending exit, and only with budget left for a step after the exit.
    if (left <= 1 || this.pendingExit !== null || this.ended !== null || this.exitBreak !== null) return 0;
    const v = this.vmx.vmcs;
    v.region = HOST_LAYOUT.vmcs;
    // Exit-information and control fields are never held by the processor: the region's words are their values.
    const w = v.words();
    const reason = w[OFF.VM_EXIT_REASON >>> 2], qLo = w[OFF.EXIT_QUALIFICATION >>> 2];
    // CPUID, or IN/OUT (not string), handled by the built-in handler.
    const table = this.handlers;
    if (reason === EXIT_REASON.CPUID) { if (table.byReason[reason] !== this.builtInCpuid) return 0; }
    else if (reason !== EXIT_REASON.IO_INSTRUCTION || (qLo & 16) !== 0 || table.byReason[reason] !== this.builtInIo) return 0;
    if (this.quietEpoch !== this.platformEpoch || this.pendingInjection !== 0
      || w[OFF.CPU_BASED_VM_EXEC_CONTROL >>> 2] !== this.quietProc || w[OFF.PIN_BASED_VM_EXEC_CONTROL >>> 2] !== this.quietPin) return 0;
    const deadline = this.quietDeadline;
    if (deadline !== Infinity && deadline <= this.now()) return 0;
    // handleExit: the instruction's bytes, the handler, the log entry.
    const instrLen = w[OFF.VM_EXIT_INSTRUCTION_LEN >>> 2], rip = this.vmx.guestRip(), bits = this.vmx.guestCodeBits();
    this.fetchedAt = -1;
    const byteCount = this.fastInstructionBytes(instrLen, rip, bits);
    this.note = undefined;
    const lo = this.vmx.gprLo, hi = this.vmx.gprHi;
    let outcome: ExitOutcome = 'emulated';
    if (reason === EXIT_REASON.CPUID) {
      const r = this.cpuidAnswers.answer(lo[0], lo[1], (this.vmx.guestCr4() & ~CR4_VMXE) >>> 0, this.msrPlatform !== null);
      lo[0] = r[0]; lo[3] = r[1]; lo[1] = r[2]; lo[2] = r[3];
      hi[0] = 0; hi[3] = 0; hi[1] = 0; hi[2] = 0;
    } else {
      const size = ((qLo & 7) + 1) as 1 | 2 | 4, port = qLo >>> 16;
      // A port whose device may reach an interrupt source (the PIC's EOI, a UART, a timer): as in handleExit, the
      // platform may have changed, and the entry below evaluates interrupts in full (it may inject: the guest then goes
      // on at the handler, and the processor's block leaves; see Vmx.fastpath). Tested in line (quietReason's ports).
      if (this.bus.quietPort?.(port) !== true) this.platformEpoch++;
      try {
        if ((qLo & 8) === 0) this.bus.ioWrite(port, size, outValue(lo[0], size));
        else {
          const value = this.bus.ioRead(port, size) >>> 0;
          lo[0] = inResult(lo[0], value, size);
          if (size === 4) hi[0] = 0;
          this.note = appendNote(this.note, inNote(port, value, size));
        }
      } catch (e) {
        // As handleExit for a handler that throws (the debug console's host output, say): the run ends and says why.
        outcome = 'ended';
        this.ended = handlerFailed('IO_INSTRUCTION', e);
      }
    }
    if (outcome === 'emulated') {
      this.instructionsEmulated++;
      this.vmx.advanceGuestRip(instrLen, bits);
    }
    const icount = this.cpu.icount;
    // As handleExit: an exit whose device ended the run (isa-debug-exit) is logged as ended.
    this.log.record(reason, qLo, w[(OFF.EXIT_QUALIFICATION >>> 2) + 1], rip,
      this.fastBytes, byteCount, this.fastBytesKey, bits, icount, this.ended !== null ? 'ended' : outcome, this.note, icount - this.entryIcount);
    if (this.ended !== null) { this.inGuest = false; this.shortcutHandled = true; return -1; }
    this.inGuest = false;
    // enterGuest. In the quiet case (CPUID, a quiet port) prepareEntry's whole work is the timer's value for the same
    // deadline (not due: checked above; the handler spent no time), done here; the entry is then the mode switch alone
    // when it is resumeHeld's case (Vmx.resumeQuiet), else VMRESUME's general path. After a port that is not quiet,
    // prepareEntry in full (it evaluates interrupts and may inject).
    const quiet = this.quietEpoch === this.platformEpoch && this.launched;
    if (!quiet) this.prepareEntry();
    else if (deadline !== Infinity) { v.region = HOST_LAYOUT.vmcs; setTimerValue(v.words(), deadline - this.now()); }
    let o: 'entered' | 'exit' | 'ended';
    if (quiet && this.vmx.resumeQuiet()) { this.entryIcount = icount; this.inGuest = true; o = 'entered'; }
    else o = this.enterPrepared();
    if (o !== 'entered') {
      // An exit at entry (the delivery of an event injected after a port that is not quiet may exit) or, not expected
      // (the state the last entry passed with is unchanged but for RIP and registers), a failed entry: runSlice goes
      // on as after the shortcut's failed entry (ended) or an exit at entry (to handle).
      this.shortcutHandled = o === 'ended';
      return -1;
    }
    this.shortcutExits++;
    this.fastpathExits++;
    return 1;
  };

  /** The fastpath's instruction bytes (its own buffer: they stay for the next exit at the same place). */
  private readonly fastBytes = new Uint8Array(16);
  /** Where fastBytes were read: the host-physical address, the processor's code epoch, the count (-1: none). */
  private fastBytesHpa = -1;
  private fastBytesEpoch = -1;
  private fastBytesCount = 0;
  /** Names fastBytes' content for the exit log (ExitLog.record's bytesKey): a new number at every read into it. */
  private fastBytesKey = 1;

  /**
   * exitInstructionBytes for the fastpath's exits (VM_EXIT_INSTRUCTION_LEN is defined for them) into fastBytes: read
   * again only when CS:RIP maps to another host-physical address than last time or the guest's code changed since
   * (Cpu.codeEpoch moves with every write to a page that holds decoded code), else they are the bytes read then.
   */
  private fastInstructionBytes(instrLen: number, rip: number, bits: 16 | 32 | 64): number {
    const len = instrLen < 15 ? instrLen : 15, lin = (bits === 64 ? 0 : this.vmx.guestCsBase()) + rip;
    const hpa = (lin & 0xfff) + len <= 0x1000 ? this.cpu.tlbPeek(lin) : -1;
    if (hpa >= 0 && hpa === this.fastBytesHpa && this.cpu.codeEpoch === this.fastBytesEpoch && len === this.fastBytesCount) return len;
    return this.readFastBytes(lin, len, hpa);
  }

  /** fastInstructionBytes when the bytes are not those read last: read them (a method of its own, to keep that one small). */
  private readFastBytes(lin: number, len: number, hpa: number): number {
    this.fastBytesKey++;
    const n = len > 0 && this.readCode(lin, this.fastBytes, len) === len ? len : 0;
    this.fastBytesHpa = n > 0 ? hpa : -1; this.fastBytesEpoch = this.cpu.codeEpoch; this.fastBytesCount = n;
    return n;
  }

  /**
   * Before VM entry: inject a pending interrupt when the guest can take one, else ask for an
   * interrupt-window exit; arm the VMX-preemption timer for the next device deadline (KVM's
   * inject_pending_event and its hrtimer, made deterministic).
   */
  private prepareEntry(): void {
    const v = this.vmx.vmcs;
    v.region = HOST_LAYOUT.vmcs;
    // Control fields are never held by the processor: the region's words are their values (read once, written on change).
    const w = v.words();
    const proc0 = w[OFF.CPU_BASED_VM_EXEC_CONTROL >>> 2], pin0 = w[OFF.PIN_BASED_VM_EXEC_CONTROL >>> 2];
    const ints = this.interrupts;
    if (this.quietEpoch === this.platformEpoch && this.pendingInjection === 0 && proc0 === this.quietProc && pin0 === this.quietPin) {
      // Nothing was pending at the last entry, no exit since reached an interrupt source (platformEpoch) and no deadline
      // is due: the decision below comes out the same (no injection, no window, the same controls); only the timer's
      // value is written again, for the same deadline.
      const deadline = this.quietDeadline, now = this.now();
      if (deadline === Infinity) return;
      if (deadline > now) { setTimerValue(w, deadline - now); return; }
    }
    this.quietEpoch = -1;
    let proc = proc0, pin = pin0, quiet = false;
    // The next device deadline: asked once, and again only after a poll or an acknowledge changed the platform.
    let deadline = ints !== null ? ints.nextDeadline() : null;
    if (this.pendingInjection !== 0) {
      // The handler's event goes first; the platform's interrupts wait for a later entry.
      v.w32(OFF.VM_ENTRY_INTR_INFO_FIELD, this.pendingInjection);
      v.w32(OFF.VM_ENTRY_EXCEPTION_ERROR_CODE, this.pendingInjectionError);
      v.w32(OFF.VM_ENTRY_INSTRUCTION_LEN, this.pendingInjectionLength);
      this.pendingInjection = 0;
      this.pendingInjectionLength = 0;
    } else if (ints !== null) {
      let changed = false;
      if (deadline !== null && deadline <= this.now()) { ints.poll(this.now()); changed = true; }
      if (ints.pending()) {
        const flags = v.r32(OFF.GUEST_RFLAGS);
        const blocked = (v.r32(OFF.GUEST_INTERRUPTIBILITY_INFO) & 3) !== 0 || v.r32(OFF.GUEST_ACTIVITY_STATE) !== 0;
        if ((flags & IF) !== 0 && !blocked) {
          const vector = ints.acknowledge();
          changed = true;
          v.w32(OFF.VM_ENTRY_INTR_INFO_FIELD, (INTR_INFO_VALID_MASK | vector | (INTR_TYPE_EXT_INTR << 8)) >>> 0);
          this.injected.set(vector, (this.injected.get(vector) ?? 0) + 1);
          this.log.annotateLast(injectedNote(vector));
          proc &= ~CPU_BASED_INTR_WINDOW_EXITING;
        } else proc |= CPU_BASED_INTR_WINDOW_EXITING;
      } else {
        proc &= ~CPU_BASED_INTR_WINDOW_EXITING;
        quiet = true;
      }
      if (changed) deadline = ints.nextDeadline();
    }
    if (deadline !== null) {
      pin |= PIN_BASED_VMX_PREEMPTION_TIMER;
      setTimerValue(w, deadline - this.now());
    } else pin &= ~PIN_BASED_VMX_PREEMPTION_TIMER;
    // As the region's words hold them (unsigned: the primary controls have bit 31 set, and & and | give signed values).
    proc >>>= 0; pin >>>= 0;
    if (proc !== proc0) v.w32(OFF.CPU_BASED_VM_EXEC_CONTROL, proc);
    if (pin !== pin0) v.w32(OFF.PIN_BASED_VM_EXEC_CONTROL, pin);
    if (quiet) { this.quietEpoch = this.platformEpoch; this.quietDeadline = deadline ?? Infinity; this.quietProc = proc; this.quietPin = pin; }
  }

  /**
   * Whether the built-in handler of exit `reason` reaches no interrupt source (prepareEntry's quiet case): CPUID, and
   * I/O at a quiet port (the port is bits 31:16 of the qualification's low word, SDM vol. 3C table 28-5).
   */
  private quietReason(reason: number, qualLo: number): boolean {
    return reason === EXIT_REASON.CPUID || (reason === EXIT_REASON.IO_INSTRUCTION && this.bus.quietPort?.(qualLo >>> 16) === true);
  }

  /**
   * Moves whenever an interrupt source may have changed: an exit handled other than by a built-in handler that reaches
   * none (CPUID, I/O to a quiet port), and every runSlice (the host may have given input, restored a snapshot, ...).
   */
  private platformEpoch = 0;
  /** platformEpoch when an entry found no interrupt pending (-1: not so), and that entry's deadline and controls. */
  private quietEpoch = -1;
  private quietDeadline = Infinity;
  private quietProc = 0;
  private quietPin = 0;

  private exitInfo(): ExitInfo {
    const v = this.vmx.vmcs;
    const raw = v.r32(OFF.VM_EXIT_REASON);
    return {
      reason: raw & 0xffff,
      name: exitReasonName(raw & 0xffff),
      entryFailure: (raw & EXIT_REASON_FAILED_VMENTRY) !== 0,
      qualification: v.rBig(OFF.EXIT_QUALIFICATION),
      instructionLength: v.r32(OFF.VM_EXIT_INSTRUCTION_LEN),
      guestLinear: v.rBig(OFF.GUEST_LINEAR_ADDRESS),
      guestPhysical: v.rBig(OFF.GUEST_PHYSICAL_ADDRESS),
    };
  }

  /** The exit object given to built-in handlers (reused: they keep no reference to it). */
  private readonly exitScratch = new ScratchExitInfo();

  /** Handle the VM exit in the VMCS (or the pending one). Returns true when a debugger asked to stop. */
  private handleExit(): boolean {
    const v = this.vmx.vmcs;
    // `info` is built (a plain ExitInfo) only for those who may keep it: a debugger, a pending exit, user handlers.
    let info: ExitInfo | null = null;
    let reason: number, qLo: number, qHi: number, instrLen: number;
    if (this.pendingExit !== null) {
      info = this.pendingExit;
      this.pendingExit = null;
      reason = info.reason;
      instrLen = info.instructionLength;
      qLo = Number(BigInt.asUintN(32, info.qualification));
      qHi = Number(BigInt.asUintN(32, info.qualification >> 32n));
    } else {
      // VM-exit information fields are never held by the processor: the region's words are their values.
      const w = v.words();
      reason = w[OFF.VM_EXIT_REASON >>> 2] & 0xffff;
      // The qualification's two words for the log (read from the VMCS with the exit information: no BigInt work).
      qLo = w[OFF.EXIT_QUALIFICATION >>> 2];
      qHi = w[(OFF.EXIT_QUALIFICATION >>> 2) + 1];
      instrLen = w[OFF.VM_EXIT_INSTRUCTION_LEN >>> 2];
      if (this.exitBreak !== null) {
        info = this.exitInfo();
        if (this.exitBreak(info, 'before', this.log.total + 1)) {
          this.pendingExit = info;
          this.stoppedAtExit = { info, stage: 'before', n: this.log.total + 1 };
          return true;
        }
      }
    }
    const name = exitReasonName(reason);
    const rip = this.vmx.guestRip();
    this.fetchedAt = -1; // bytes read for an earlier exit are not this one's (the mapping may have changed since)
    const byteCount = this.exitInstructionBytes(reason, instrLen, rip);
    this.note = reason === 33 && this.vmx.lastEntryCheck ? `failed check: ${this.vmx.lastEntryCheck}` : undefined;
    const table = this.handlers;
    const handler = reason < table.byReason.length ? table.byReason[reason] : undefined;
    if (!(table.builtIn[reason] === 1 && this.quietReason(reason, qLo))) this.platformEpoch++;
    let outcome: ExitOutcome;
    if (handler === undefined) {
      outcome = 'unhandled';
      this.ended = { status: 'error', message: `no handler for VM exit ${reason} (${name}) at rip=0x${rip.toString(16)}` };
    } else {
      if (info === null) {
        if (table.builtIn[reason] !== 0) {
          // VM-exit information fields are never held by the processor: the region's words are their values.
          const x = this.exitScratch, w = v.words();
          x.reason = reason; x.name = name; x.entryFailure = (w[OFF.VM_EXIT_REASON >>> 2] & EXIT_REASON_FAILED_VMENTRY) !== 0; x.instructionLength = instrLen;
          x.qLo = qLo; x.qHi = qHi;
          x.linLo = w[OFF.GUEST_LINEAR_ADDRESS >>> 2]; x.linHi = w[(OFF.GUEST_LINEAR_ADDRESS >>> 2) + 1];
          x.physLo = w[OFF.GUEST_PHYSICAL_ADDRESS >>> 2]; x.physHi = w[(OFF.GUEST_PHYSICAL_ADDRESS >>> 2) + 1];
          info = x;
        } else info = this.exitInfo();
      }
      try {
        outcome = handler(this.api(info)) ?? 'resumed';
      } catch (e) {
        outcome = 'ended';
        this.ended = handlerFailed(name, e);
      }
      if (this.ended === null && this.pendingInjection === 0) this.reinjectVectoring();
    }
    const bits = this.vmx.guestCodeBits();
    // The log keeps the exit in typed arrays; its entry (hex qualification, decoded summary) is built when asked for.
    this.log.record(reason, qLo, qHi, rip, this.exitBytes, byteCount, 0, bits, this.cpu.icount, this.ended !== null ? 'ended' : outcome,
      this.note, this.cpu.icount - this.entryIcount);
    if (this.exitBreak !== null && this.ended === null) {
      // A debugger may keep the exit: it gets a plain object (the one it saw before the handler, if any).
      if (info === null || info === this.exitScratch) info = this.exitInfo();
      if (this.exitBreak(info, 'after', this.log.total)) {
        this.stoppedAtExit = { info, stage: 'after', n: this.log.total };
        return true;
      }
    }
    return false;
  }

  /**
   * An exit that happened while an event was being delivered (IDT-vectoring information valid, SDM vol. 3C §28.2.3),
   * handled without an event of the handler's own (say, a user handler that mapped the page the IDT or the stack is
   * on): the event is delivered again at the next entry, with its error code and, for software interrupts and
   * exceptions, the instruction's length (KVM's vmx_complete_interrupts). Else an external interrupt or NMI would be
   * lost: the interrupt controller took it as delivered.
   */
  private reinjectVectoring(): void {
    const w = this.vmx.vmcs.words();
    const vectoring = w[OFF.IDT_VECTORING_INFO_FIELD >>> 2];
    if ((vectoring & INTR_INFO_VALID_MASK) === 0) return;
    const type = (vectoring >>> 8) & 7;
    // Bits 30:12 are reserved in the VM-entry interruption-information field (bit 12 of this one is undefined).
    this.pendingInjection = (vectoring & 0x80000fff) >>> 0;
    this.pendingInjectionError = (vectoring & INTR_INFO_DELIVER_CODE_MASK) !== 0 ? w[OFF.IDT_VECTORING_ERROR_CODE >>> 2] : 0;
    this.pendingInjectionLength = type >= 4 && type <= 6 ? w[OFF.VM_EXIT_INSTRUCTION_LEN >>> 2] : 0;
    this.note = appendNote(this.note, `re-injected vector 0x${(vectoring & 0xff).toString(16)} (type ${type}), whose delivery the exit interrupted`);
  }

  /** The exit being handled or stopped at, decoded (for the debugger's "VM exit" scope). */
  currentExitInfo(): ExitInfo {
    return this.exitInfo();
  }

  /** Scratch for the bytes of the instruction an exit happened at (copied into the exit log). */
  private readonly exitBytes = new Uint8Array(16);

  /**
   * The bytes of the instruction an exit happened at, for the log (into exitBytes; returns the count): VM_EXIT_INSTRUCTION_LEN where the
   * SDM defines it, else (EPT violations and exceptions) the length the decoder finds in the 15 bytes at CS:RIP, which
   * fetchInstruction then gives the handler without reading them again.
   */
  private exitInstructionBytes(reason: number, instructionLength: number, rip: number): number {
    const out = this.exitBytes;
    if (instructionLength > 0) {
      const len = Math.min(15, instructionLength);
      return this.readCode(this.vmx.guestCsBase() + rip, out, len) === len ? len : 0;
    }
    if (reason !== 48 && reason !== 0) return 0;
    const f = this.readInstruction();
    if (f === null) return 0;
    // The same decode as the MMIO emulation's (one memo: the handler's emulateMmio finds it there).
    const insn = decodeInstructionCached(f.bytes, f.length, rip, this.vmx.guestCodeBits());
    if (insn === null) return 0;
    const n = Math.min(f.length, insn.length);
    for (let k = 0; k < n; k++) out[k] = f.bytes[k];
    return n;
  }

  /** The guest's paging state from the VMCS (CR0/CR4 as the guest really has them, not the shadows). */
  pagingState(): { cr0: number; cr3: number; cr4: number; efer: number } {
    return this.readPagingState({ cr0: 0, cr3: 0, cr4: 0, efer: 0 });
  }

  private readPagingState<S extends { cr0: number; cr3: number; cr4: number; efer: number }>(s: S): S {
    const v = this.vmx.vmcs;
    s.cr0 = v.r32(OFF.GUEST_CR0); s.cr3 = v.rNum(OFF.GUEST_CR3); s.cr4 = v.r32(OFF.GUEST_CR4); s.efer = v.r32(OFF.GUEST_IA32_EFER);
    return s;
  }

  /** The paging state translate() walks with (reused: read at once, kept by nobody). */
  private readonly walkState = { cr0: 0, cr3: 0, cr4: 0, efer: 0 };

  translate(gva: number): number {
    return guestLinearToPhysical(this.guest, this.readPagingState(this.walkState), gva);
  }

  /** The reused buffer of readInstruction / fetchInstruction. */
  private readonly fetched: FetchedInstruction = { bytes: new Uint8Array(15), length: 0, rip: 0, mode: 64 };
  /** The linear address and code epoch `fetched` was read at (-1: not valid): kept for the handler of the same exit. */
  private fetchedAt = -1;
  private fetchedEpoch = -1;

  /** HandlerContext.fetchInstruction: 15 bytes at CS:RIP, or the first one when the 15 cross into an unmapped page. */
  private fetchInstruction(): FetchedInstruction | null {
    // Read for this exit's log already (same CS:RIP and code size, no write to code since): the same bytes, RIP and mode.
    const at = this.vmx.guestCsBase() + this.vmx.guestRip();
    if (at === this.fetchedAt && this.fetchedEpoch === this.cpu.codeEpoch && this.fetched.mode === this.vmx.guestCodeBits()) return this.fetched;
    return this.readInstruction();
  }

  /** Read the 15 bytes at CS:RIP into `fetched` (the first one only when the 15 cross into an unmapped page); null when none is mapped. */
  private readInstruction(): FetchedInstruction | null {
    const f = this.fetched;
    const rip = this.vmx.guestRip(), mode = this.vmx.guestCodeBits(), at = (mode === 64 ? 0 : this.vmx.guestCsBase()) + rip;
    this.fetchedAt = -1;
    let n = this.readCode(at, f.bytes, 15);
    if (n < 15) n = n >= 1 ? 1 : 0;
    if (n === 0) return null;
    f.length = n; f.rip = rip; f.mode = mode;
    this.fetchedAt = at; this.fetchedEpoch = this.cpu.codeEpoch;
    return f;
  }

  /**
   * `len` bytes of guest code at linear `lin` into `out`; the number read before the first unmapped page. When they
   * lie in one page the processor's TLB maps (it just fetched them; VPID-tagged entries survive the exit), straight
   * from that host RAM page (no side effects); else through a guest page walk.
   */
  private readCode(lin: number, out: Uint8Array, len: number): number {
    const hpa = (lin & 0xfff) + len <= 0x1000 ? this.cpu.tlbPeek(lin) : -1;
    const page = hpa >= 0 && hpa + len <= this.host.size ? this.host.pageOrNull(Math.floor(hpa / 4096)) : undefined;
    if (page === undefined) return this.readGuestVirtualInto(lin, out, len);
    const o = hpa & 0xfff;
    for (let k = 0; k < len; k++) out[k] = page[o + k];
    return len;
  }

  /** readGuestVirtual into `out` (no allocation): the number of bytes read before the first unmapped page. */
  private readGuestVirtualInto(gva: number, out: Uint8Array, length: number): number {
    let k = 0;
    while (k < length) {
      // One walk per guest page touched.
      const g = this.translate(gva + k);
      if (g < 0) return k;
      const n = Math.min(length - k, 4096 - ((gva + k) & 0xfff));
      this.guest.peekInto(g, out, k, n);
      k += n;
    }
    return k;
  }

  readGuestVirtual(gva: number, length: number): Uint8Array | null {
    const out = new Uint8Array(length);
    return this.readGuestVirtualInto(gva, out, length) === length ? out : null;
  }

  private apiObject: (VcpuApi & { exit: ExitInfo }) | null = null;

  /** The handler API for one exit (one object, its `exit` replaced per exit). */
  private api(info: ExitInfo): VcpuApi {
    if (this.apiObject === null) this.apiObject = this.makeApi(info);
    this.apiObject.exit = info;
    return this.apiObject;
  }

  private makeApi(info: ExitInfo): VcpuApi & { exit: ExitInfo } {
    const v = this.vmx.vmcs;
    const hv = this;
    const gpr = gprIndex;
    // The last BigInt built per GPR, reused while the register keeps its value (no allocation per read).
    const cacheLo = new Float64Array(16).fill(-1), cacheHi = new Float64Array(16).fill(-1);
    const cacheBig: bigint[] = new Array<bigint>(16).fill(0n);
    return {
      exit: info,
      reg(name) {
        if (name === 'rip') return hv.vmr('GUEST_RIP');
        if (name === 'rflags') return hv.vmr('GUEST_RFLAGS');
        if (name === 'rsp') return hv.vmr('GUEST_RSP');
        const r = gpr(name);
        const lo = hv.vmx.gprLo[r], hi = hv.vmx.gprHi[r];
        if (cacheLo[r] === lo && cacheHi[r] === hi) return cacheBig[r];
        const b = hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
        cacheLo[r] = lo; cacheHi[r] = hi; cacheBig[r] = b;
        return b;
      },
      setReg(name, value) {
        if (typeof value === 'number' && value >= 0 && value <= 0xffffffff && Number.isInteger(value)) {
          // A 32-bit value: no BigInt (same result as the general path below).
          const r = gpr(name);
          if (r >= 0 && r !== 4) { hv.vmx.gprLo[r] = value; hv.vmx.gprHi[r] = 0; return; }
        }
        const b = BigInt.asUintN(64, BigInt(value));
        if (name === 'rip') return hv.vmw('GUEST_RIP', b);
        if (name === 'rflags') return hv.vmw('GUEST_RFLAGS', b);
        if (name === 'rsp') return hv.vmw('GUEST_RSP', b);
        const r = gpr(name);
        hv.vmx.gprLo[r] = Number(b & 0xffffffffn);
        hv.vmx.gprHi[r] = Number(b >> 32n);
      },
      gpr32(index) {
        if (index === 4) return v.r32(OFF.GUEST_RSP);
        return hv.vmx.gprLo[index & 15];
      },
      setGpr32(index, value) {
        if (index === 4) { v.wNum(OFF.GUEST_RSP, value >>> 0); return; }
        hv.vmx.gprLo[index & 15] = value; hv.vmx.gprHi[index & 15] = 0;
      },
      vmread: (field) => hv.vmr(field),
      vmwrite: (field, value) => hv.vmw(field, value),
      // The number forms read and write the same storage as vmr/vmw (the processor-held fields included), without BigInt.
      vmread32: (field) => { v.region = HOST_LAYOUT.vmcs; return v.get32(field) >>> 0; },
      vmreadNumber: (field) => { v.region = HOST_LAYOUT.vmcs; return v.getNum(field); },
      vmwriteNumber(field, value) {
        if (!Number.isInteger(value) || value < -(2 ** 63) || value >= 2 ** 64) throw new RangeError(`VMWRITE ${field}: ${value} is not a 64-bit integer`);
        if (!hv.launched) { hv.vmw(field, value); return; }
        v.region = HOST_LAYOUT.vmcs;
        // RIP, which emulating handlers write at most exits: no lookup of the field by name.
        if (field === 'GUEST_RIP') { v.wNum(OFF.GUEST_RIP, value); return; }
        const width = vmcsField(field).width; // cut to the field's width as vmw's setBig does
        if (width === '16') v.set32(field, value & 0xffff);
        else if (width === '32') v.set32(field, value >>> 0);
        else v.setNum(field, value);
      },
      readGuestPhysical: (gpa, length) => hv.guest.peek(gpa, length),
      isRam: (gpa) => hv.guest.isRam(gpa),
      writeGuestPhysical: (gpa, data) => hv.guest.poke(gpa, data),
      translate: (gva) => hv.translate(gva),
      readGuestVirtual: (gva, length) => hv.readGuestVirtual(gva, length),
      advanceRip() {
        hv.instructionsEmulated++;
        // Skipping an instruction ends any STI/MOV SS blocking (as executing it would).
        hv.vmx.advanceGuestRip(v.r32(OFF.VM_EXIT_INSTRUCTION_LEN));
      },
      injectException(vector, errorCode) {
        const has = exceptionHasErrorCode(vector);
        hv.pendingInjection = (INTR_INFO_VALID_MASK | vector | (INTR_TYPE_HARD_EXCEPTION << 8) | (has ? INTR_INFO_DELIVER_CODE_MASK : 0)) >>> 0;
        hv.pendingInjectionError = has ? errorCode ?? 0 : 0;
      },
      injectInterrupt(vector) {
        hv.pendingInjection = (INTR_INFO_VALID_MASK | vector | (INTR_TYPE_EXT_INTR << 8)) >>> 0;
        hv.pendingInjectionError = 0;
      },
      injectEvent(vector, type, errorCode, instructionLength) {
        const has = type === INTR_TYPE_HARD_EXCEPTION && exceptionHasErrorCode(vector);
        hv.pendingInjection = (INTR_INFO_VALID_MASK | (vector & 0xff) | ((type & 7) << 8) | (has ? INTR_INFO_DELIVER_CODE_MASK : 0)) >>> 0;
        hv.pendingInjectionError = has ? errorCode ?? 0 : 0;
        hv.pendingInjectionLength = instructionLength ?? 0;
      },
      ioRead: (port, size) => hv.bus.ioRead(port, size),
      ioWrite: (port, size, value) => hv.bus.ioWrite(port, size, value),
      console: (text) => hv.consoleOut(text),
      note: (text) => { hv.note = appendNote(hv.note, text); },
      endRun: (status, message, exitCode) => { hv.ended = { status, message, exitCode }; },
      now: () => hv.now(),
      spend: (steps) => { if (steps > 0) hv.stepsSpent += steps; },
      eptProtect: (gpa, perms) => hv.eptProtect(gpa, perms),
      eptPermissions: (gpa) => hv.eptPermissions(gpa),
    };
  }

  /** The EPT leaf entry mapping `gpa` ({ address of the entry, level 1..3 }) or null; `split` breaks a 2 MiB leaf into 4 KiB pages. */
  private eptLeaf(gpa: number, split: boolean): { addr: number; level: number } | null {
    if (!Number.isSafeInteger(gpa) || gpa < 0 || gpa >= 2 ** 39) return null;
    const eptp = Number(this.vmr('EPT_POINTER'));
    let table = eptp - (eptp % 4096);
    for (let level = 4; level >= 1; level--) {
      const addr = table + (Math.floor(gpa / 2 ** (12 + 9 * (level - 1))) % 512) * 8;
      const lo = this.host.read32(addr), hi = this.host.read32(addr + 4);
      if ((lo & 7) === 0) return null;
      const frame = (hi & 0xfffff) * 4294967296 + ((lo & 0xfffff000) >>> 0);
      if (level === 1) return { addr, level };
      if ((lo & EPT_PS) !== 0) {
        if (!split) return { addr, level };
        if (level !== 2) return null; // 1 GiB pages are never built by this hypervisor
        // Split the 2 MiB page (SDM vol. 3C §29.3.2, tables 29-4 and 29-6): 512 PTEs with the same
        // permissions and memory type, then point the PDE at the new table.
        const base = frame - (frame % 0x200000);
        const pt = this.allocEptPage();
        const keep = lo & (EPT_R | EPT_W | EPT_X | (7 << 3) | EPT_A);
        for (let k = 0; k < 512; k++) {
          const a = base + k * 4096;
          this.host.write32(pt + k * 8, ((a % 4294967296) | keep) >>> 0);
          this.host.write32(pt + k * 8 + 4, Math.floor(a / 4294967296));
        }
        this.host.write32(addr, (pt | EPT_R | EPT_W | EPT_X) >>> 0);
        this.host.write32(addr + 4, Math.floor(pt / 4294967296));
        table = pt;
        continue;
      }
      table = frame;
    }
    return null;
  }

  /** VcpuApi.eptProtect: set R/W/X of the 4 KiB page at `gpa` (splitting a 2 MiB page), then INVEPT. */
  eptProtect(gpa: number, perms: number): void {
    if ((perms & (EPT_R | EPT_W)) === EPT_W) throw new RangeError('eptProtect: write without read is an EPT misconfiguration (SDM vol. 3C §29.3.3.1)');
    const leaf = this.eptLeaf(gpa, true);
    if (leaf === null) throw new RangeError(`eptProtect: guest-physical 0x${gpa.toString(16)} is not mapped by EPT`);
    const lo = this.host.read32(leaf.addr);
    this.host.write32(leaf.addr, ((lo & ~7) | (perms & 7)) >>> 0);
    // Cached EPT and combined translations keep the old permissions until INVEPT (SDM vol. 3C §29.4.3.1).
    this.vmx.invept();
  }

  /** VcpuApi.eptPermissions: R/W/X (AND along the walk) of `gpa`, or -1 when EPT does not map it. */
  eptPermissions(gpa: number): number {
    if (!Number.isSafeInteger(gpa) || gpa < 0 || gpa >= 2 ** 39) return -1;
    const eptp = Number(this.vmr('EPT_POINTER'));
    let table = eptp - (eptp % 4096), allowed = 7;
    for (let level = 4; level >= 1; level--) {
      const addr = table + (Math.floor(gpa / 2 ** (12 + 9 * (level - 1))) % 512) * 8;
      const lo = this.host.read32(addr), hi = this.host.read32(addr + 4);
      if ((lo & 7) === 0) return -1;
      allowed &= lo & 7;
      if (level === 1 || (lo & EPT_PS) !== 0) return allowed;
      table = (hi & 0xfffff) * 4294967296 + ((lo & 0xfffff000) >>> 0);
    }
    return -1;
  }

  /** Add a note to the VM exit being handled (devices explain what an access did). */
  addNote(text: string): void {
    this.note = appendNote(this.note, text);
  }

  /** addNote of `format(value)`, made only when the note is read (for notes of frequent exits; `value` must not change). */
  addNoteDeferred<T>(format: (v: T) => string, value: T): void {
    this.note = DeferredNote.formatted(this.note, format, value);
  }

  /** addNote of `format(value, a, b, c, d)`, made only when read: the log keeps the numbers, not an object of the caller's (DeferredNote.numbers). */
  addNoteNumbers<T>(format: (v: T, a: number, b: number, c: number, d: number) => string, value: T, a: number, b: number, c: number, d: number): void {
    this.note = DeferredNote.numbers(this.note, format, value, a, b, c, d);
  }

  /** Interrupts injected at VM entry, by vector (the platform's interrupts reaching the guest). */
  readonly injected = new Map<number, number>();

  /** Advance guest time while it waits in HLT (deterministic idle). */
  idleUntil(t: number): void {
    const now = this.now();
    if (t > now) this.cpu.idleTicks += t - now;
  }

  /** Whether an interrupt can ever wake a halted guest: something pending or a timer armed. */
  wakeupPossible(): boolean {
    if (this.interrupts === null) return false;
    this.interrupts.poll(this.now());
    return this.interrupts.pending() || this.interrupts.nextDeadline() !== null;
  }

  /** Write the guest-state fields the processor still holds to the VMCS region (before raw reads of host memory). */
  syncVmcs(): void {
    this.vmx.syncVmcs();
  }

  /** Hypervisor and VMX-unit state for machine snapshots (VMCS, EPT and guest RAM are in host memory). */
  saveState(): unknown {
    return {
      launched: this.launched, inGuest: this.inGuest, ended: this.ended, entryIcount: this.entryIcount, instructionsEmulated: this.instructionsEmulated, stepsSpent: this.stepsSpent,
      pendingInjection: this.pendingInjection, pendingInjectionError: this.pendingInjectionError, pendingInjectionLength: this.pendingInjectionLength,
      injected: [...this.injected],
      vmx: this.vmx.saveState(), log: this.log.saveState(), pendingExit: this.pendingExit,
    };
  }

  loadState(raw: unknown): void {
    const s = raw as { launched: boolean; inGuest: boolean; ended: RunEnd | null; entryIcount: number; instructionsEmulated: number; stepsSpent?: number; pendingInjection: number; pendingInjectionError: number; vmx: unknown; log: unknown };
    this.launched = s.launched; this.inGuest = s.inGuest; this.ended = s.ended; this.entryIcount = s.entryIcount;
    this.instructionsEmulated = s.instructionsEmulated;
    this.pendingExit = (raw as { pendingExit?: ExitInfo | null }).pendingExit ?? null;
    this.stoppedAtExit = null;
    this.stepsSpent = s.stepsSpent ?? 0;
    this.pendingInjection = s.pendingInjection; this.pendingInjectionError = s.pendingInjectionError;
    const more = raw as { pendingInjectionLength?: number; injected?: Array<[number, number]> };
    this.pendingInjectionLength = more.pendingInjectionLength ?? 0;
    this.injected.clear();
    for (const [vector, count] of more.injected ?? []) this.injected.set(vector, count);
    this.vmx.loadState(s.vmx);
    this.log.loadState(s.log);
  }

  /** Request that runSlice return at the next instruction boundary (debugger pause). */
  requestStop(): void {
    this.cpu.requestStop();
  }
}

function f(name: string): VmcsFieldName {
  return name as VmcsFieldName;
}

export { CR0_WP };
