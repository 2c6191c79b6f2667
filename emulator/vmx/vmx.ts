// The VT-x unit of the processor: VMX instructions for the hypervisor, VM entry and VM exit, and the non-root hooks (SDM vol. 3C ch. 24-31).
import { Cpu, CPU_FAULT, exceptionName } from '../cpu/cpu.js';
import { VM_EXIT, CR_CLTS, CR_LMSW, type VmxHooks } from '../cpu/vmx-hooks.js';
import type { Insn } from '../cpu/insn.js';
import { CS, DS, ES, FS, GS, SS, RSP } from '../cpu/insn.js';
import { AR_UNUSABLE, EFER_LMA, EFER_LME, IF, RF } from '../cpu/regs.js';
import { MAXPHYADDR } from '../cpu/paging.js';
import { Ept, EPT_FETCH, EPT_WRITE } from '../ept/ept.js';
import {
  INTR_INFO_DELIVER_CODE_MASK, INTR_INFO_VALID_MASK, INTR_TYPE_EXT_INTR, INTR_TYPE_HARD_EXCEPTION, INTR_TYPE_NMI_INTR,
  INTR_TYPE_PRIV_SW_EXCEPTION, INTR_TYPE_SOFT_EXCEPTION, INTR_TYPE_SOFT_INTR, GUEST_ACTIVITY_HLT, GUEST_INTR_STATE_MOV_SS,
  GUEST_INTR_STATE_STI, GUEST_INTR_STATE_NMI, effectiveSecondary, ia32eModeGuest, entryLoadIa32Efer, entryLoadIa32Pat,
  exitSaveIa32Efer, exitSaveIa32Pat, exitLoadIa32Efer, exitLoadIa32Pat, hostAddressSpaceSize, savePreemptionTimer,
  ackInterruptOnExit, VM_ENTRY_LOAD_IA32_EFER, VM_ENTRY_LOAD_IA32_PAT, VM_EXIT_SAVE_IA32_EFER, VM_EXIT_SAVE_IA32_PAT,
} from './controls.js';
import { EXIT_REASON, EXIT_REASON_FAILED_VMENTRY, exitReasonName } from './exit-reasons.js';
import {
  VMXERR_VMCLEAR_INVALID_ADDRESS, VMXERR_VMCLEAR_VMXON_POINTER, VMXERR_VMLAUNCH_NONCLEAR_VMCS, VMXERR_VMPTRLD_INCORRECT_VMCS_REVISION_ID,
  VMXERR_VMPTRLD_INVALID_ADDRESS, VMXERR_VMPTRLD_VMXON_POINTER, VMXERR_VMRESUME_NONLAUNCHED_VMCS, VMXERR_VMXON_IN_VMX_ROOT_OPERATION,
  isVmxInstrError, vmInstructionErrorText,
} from './errors.js';
import { type LaunchState, vmcsClear, vmcsLaunchState, vmcsReadField, vmcsRevisionId, vmcsSetLaunchState, vmcsWriteField, vmcsGet, VMCS_REVISION_ID } from './vmcs.js';
import type { VmcsFieldName } from './fields.js';
import { VmcsAccess, CPU_CACHED_FIELDS, CPU_PER_EXIT_FIELDS, CACHED_BY_OFF, type VmcsCacheSource } from './vmcs-access.js';
import { VmcsOffset as OF } from './vmcs-offsets.js';
import { checkVmEntry } from './entry-checks.js';
import * as X from './intercept.js';
import { injectionPasses, perEntryControlsPass, volatileFieldsPass } from './entry-fast.js';

const OK_CHECK = { kind: 'ok' as const };
const ENTERED: EntryOutcome = Object.freeze({ kind: 'entered' as const });

/** Outcome of a VMX instruction (SDM vol. 3C §31.2 conventions). */
export type VmxResult =
  | { ok: true }
  | { ok: false; kind: 'VMfailInvalid' }
  | { ok: false; kind: 'VMfailValid'; error: number; message: string; check?: string };

/** What VMLAUNCH/VMRESUME led to. */
export type EntryOutcome =
  | { kind: 'entered' }
  | { kind: 'vmfail'; result: VmxResult }
  /** VM entry failed after loading guest state (reason 33 etc.) or an injected event caused an exit at once. */
  | { kind: 'exit' };

/** One VM exit, as recorded for the hypervisor's log and the views. */
export interface ExitRecord {
  /** VM_EXIT_REASON as written (bit 31 for entry failures). */
  reason: number;
  basic: number;
  name: string;
  qualification: number;
  qualificationHi: number;
  guestRip: number;
  instructionLength: number;
  /** Instruction count at the exit. */
  icount: number;
  /** Failed entry check, for INVALID_STATE exits. */
  check?: string;
}

const SEG_FIELDS: Array<[number, string]> = [[ES, 'ES'], [CS, 'CS'], [SS, 'SS'], [DS, 'DS'], [FS, 'FS'], [GS, 'GS']];
const TWO32 = 4294967296;

/** The byte offset of a field named at run time (the fixed names are OF's, numbers in the bundle: vmcs-offsets.ts). */
const O = (n: string): number => VmcsAccess.offset(n as VmcsFieldName);
const GUEST_SEG = SEG_FIELDS.map(([seg, n]) => ({ seg, sel: O(`GUEST_${n}_SELECTOR`), base: O(`GUEST_${n}_BASE`), limit: O(`GUEST_${n}_LIMIT`), ar: O(`GUEST_${n}_AR_BYTES`) }));
/** Entry and exit controls under which a held resume gives what a full load gives: EFER and PAT loaded at entry and saved at exit. */
const HELD_ENTRY = VM_ENTRY_LOAD_IA32_EFER | VM_ENTRY_LOAD_IA32_PAT, HELD_EXIT = VM_EXIT_SAVE_IA32_EFER | VM_EXIT_SAVE_IA32_PAT;
/** Values in Vmx.held: CR0, CR3, CR4, EFER, then CS and SS selector, base, limit and access rights. */
const HELD_COUNT = 12;

/**
 * The processor-held guest-state fields (vmcs-access.ts) as the processor holds them, by byte offset / 8: the
 * value as a number (32-bit fields and addresses; GUEST_IA32_PAT, a BigInt in the processor, is handled apart).
 * RFLAGS, interruptibility and activity state are what an exit saves (SDM §28.3.1, §28.3.4); the exit made the
 * processor's own state agree with them (recordExit), as a VM entry loading them back would.
 */
const CACHED_GET: Array<((c: Cpu) => number) | undefined> = new Array(512);
{
  const put = (name: string, get: (c: Cpu) => number): void => { CACHED_GET[O(name) >>> 3] = get; };
  for (const [seg, n] of SEG_FIELDS) {
    put(`GUEST_${n}_SELECTOR`, (c) => c.sel[seg]); put(`GUEST_${n}_BASE`, (c) => c.segBase[seg]);
    put(`GUEST_${n}_LIMIT`, (c) => c.segLimit[seg]); put(`GUEST_${n}_AR_BYTES`, (c) => c.segAr[seg]);
  }
  put('GUEST_LDTR_SELECTOR', (c) => c.ldtrSel); put('GUEST_LDTR_BASE', (c) => c.ldtrBase);
  put('GUEST_LDTR_LIMIT', (c) => c.ldtrLimit); put('GUEST_LDTR_AR_BYTES', (c) => c.ldtrAr);
  put('GUEST_TR_SELECTOR', (c) => c.trSel); put('GUEST_TR_BASE', (c) => c.trBase);
  put('GUEST_TR_LIMIT', (c) => c.trLimit); put('GUEST_TR_AR_BYTES', (c) => c.trAr);
  put('GUEST_GDTR_BASE', (c) => c.gdtrBase); put('GUEST_GDTR_LIMIT', (c) => c.gdtrLimit);
  put('GUEST_IDTR_BASE', (c) => c.idtrBase); put('GUEST_IDTR_LIMIT', (c) => c.idtrLimit);
  put('GUEST_SYSENTER_CS', (c) => c.sysenterCs); put('GUEST_SYSENTER_ESP', (c) => c.sysenterEsp);
  put('GUEST_SYSENTER_EIP', (c) => c.sysenterEip); put('GUEST_DR7', (c) => c.dr[7]);
  put('GUEST_CR0', (c) => c.cr0 >>> 0); put('GUEST_CR3', (c) => c.cr3); put('GUEST_CR4', (c) => c.cr4 >>> 0); put('GUEST_IA32_EFER', (c) => c.efer >>> 0);
  put('GUEST_RIP', (c) => c.rip); put('GUEST_RSP', (c) => c.regNumber(RSP)); put('GUEST_RFLAGS', (c) => c.peekFlags());
  put('GUEST_INTERRUPTIBILITY_INFO', (c) => (c.shadow !== 0 ? GUEST_INTR_STATE_STI : 0));
  put('GUEST_ACTIVITY_STATE', (c) => (c.halted ? GUEST_ACTIVITY_HLT : 0));
}
/** Byte offsets of the cached fields other than PAT and EFER (saved only under their exit controls), for the flush. */
const CACHED_OFFS = CPU_CACHED_FIELDS.filter((n) => n !== 'GUEST_IA32_PAT' && n !== 'GUEST_IA32_EFER').map((n) => O(n));
/** Byte offsets of the per-exit fields, by bit of Vmx.liveDirty. */
const PER_EXIT_OFFS = CPU_PER_EXIT_FIELDS.map((n) => O(n));
/** Every per-exit field's bit (the region's copies are the values). */
const ALL_PER_EXIT = (1 << CPU_PER_EXIT_FIELDS.length) - 1;
const DIRTY_RIP = 1, DIRTY_RSP = 2, DIRTY_RFLAGS = 4, DIRTY_INTR = 8, DIRTY_ACT = 16;
/** The 32-bit-wide held fields (selectors, limits, access rights, SYSENTER_CS, RFLAGS, interruptibility, activity): high word 0. */
const CACHED_32 = new Uint8Array(512);
for (const n of [...CPU_CACHED_FIELDS, ...CPU_PER_EXIT_FIELDS]) if (/_(SELECTOR|LIMIT|AR_BYTES)$|SYSENTER_CS|RFLAGS|INTERRUPTIBILITY|ACTIVITY|_CR0$|_CR4$|EFER/.test(n)) CACHED_32[O(n) >>> 3] = 1;
const HOST_SEG = SEG_FIELDS.map(([seg, n]) => ({ seg, sel: O(`HOST_${n}_SELECTOR`), base: seg === FS || seg === GS ? O(`HOST_${n}_BASE`) : -1 }));
const CR3_TARGET_OFF = [0, 1, 2, 3].map((k) => O(`CR3_TARGET_VALUE${k}`));

/*
 * Direct stores into the VMCS region's words (VmcsAccess.words(); field at byte offset `off`, two words per
 * field). Each returns the changed bits (0 when the field kept its value), for the generation (vmcs-access.ts).
 */
type Words = Uint32Array<ArrayBufferLike>;
function st32(w: Words, off: number, v: number): number {
  const k = off >>> 2, lo = v >>> 0;
  const d = (w[k] ^ lo) | w[k + 1];
  w[k] = lo; w[k + 1] = 0;
  return d;
}
function stLoHi(w: Words, off: number, lo: number, hi: number): number {
  const k = off >>> 2;
  lo >>>= 0; hi >>>= 0;
  const d = (w[k] ^ lo) | (w[k + 1] ^ hi);
  w[k] = lo; w[k + 1] = hi;
  return d;
}
function stNum(w: Words, off: number, v: number): number {
  return stLoHi(w, off, v >>> 0, v >= 0 && v < TWO32 ? 0 : Math.floor(v / TWO32) >>> 0);
}
/** A 64-bit field as a signed number (as VmcsAccess.rNum). */
function ldNum(w: Words, off: number): number {
  const k = off >>> 2;
  return (w[k + 1] | 0) * TWO32 + w[k];
}

/** A 64-bit RIP is canonical (48-bit linear addresses) when -CANONICAL_LIMIT ≤ RIP < CANONICAL_LIMIT. */
const CANONICAL_LIMIT = 140737488355328;

/** The code size from EFER.LMA, the CS access rights (L, D/B) and CR0.PE (SDM vol. 3A §5.2.1). */
function codeBits(efer: number, csAr: number, cr0: number): 16 | 32 | 64 {
  return (efer & EFER_LMA) !== 0 && (csAr & (1 << 13)) !== 0 ? 64 : (cr0 & 1) !== 0 && (csAr & (1 << 14)) !== 0 ? 32 : 16;
}

function f(name: string): VmcsFieldName {
  return name as VmcsFieldName;
}

/** controlFacts' bits. */
const RF_TIMER = 1, RF_EPT = 2, RF_WINDOWS = 4;

export class Vmx implements VmxHooks {
  readonly cpu: Cpu;
  readonly vmcs: VmcsAccess;
  readonly ept: Ept;
  inVmxOperation = false;
  vmxonRegion = -1;
  /** Host-physical address of the current VMCS, or -1. */
  current = -1;
  nonRoot = false;
  private ctl: X.Controls = X.emptyControls();
  boundaryPending = false;
  private preemptionDeadline = 0;
  private mtfPending = false;
  private tprExitPending = false;
  /**
   * The hypervisor's save area for guest GPRs (RSP lives in the VMCS), as KVM's vcpu_run saves them. While the
   * processor holds the guest's context after an exit, the save area is the processor's registers themselves.
   */
  get gprLo(): Uint32Array { return this.guestLive ? this.cpu.lo : this.saveLo; }
  get gprHi(): Uint32Array { return this.guestLive ? this.cpu.hi : this.saveHi; }
  private readonly saveLo = new Uint32Array(16);
  private readonly saveHi = new Uint32Array(16);
  /** The most recent VM exit (built when asked for: an exit stores only numbers). */
  get lastExit(): ExitRecord | null {
    const x = this.lx;
    if (!x.valid) return null;
    return {
      reason: x.reason, basic: x.reason & 0xffff, name: exitReasonName(x.reason & 0xffff), qualification: x.qual, qualificationHi: x.qualHi,
      guestRip: x.guestRip, instructionLength: x.instrLen, icount: x.icount, check: x.check,
    };
  }
  set lastExit(e: ExitRecord | null) {
    const x = this.lx;
    x.valid = e !== null; x.reason = e?.reason ?? 0; x.qual = e?.qualification ?? 0; x.qualHi = e?.qualificationHi ?? 0;
    x.guestRip = e?.guestRip ?? 0; x.instrLen = e?.instructionLength ?? 0; x.icount = e?.icount ?? 0; x.check = e?.check;
  }
  private readonly lx = { valid: false, reason: 0, qual: 0, qualHi: 0, guestRip: 0, instrLen: 0, icount: 0, check: undefined as string | undefined };
  /** Failed check of the last entry (VMfailValid or INVALID_STATE). */
  lastEntryCheck: string | undefined;
  /** A host (physical) interrupt pending for the processor: external-interrupt exits (SDM §26.2). */
  hostInterruptVector = -1;
  private lastVpid = -1;
  private lastEptp = -1;
  /** VMCS generation and region of the last full VM-entry check that passed. */
  private checkedGeneration = -1;
  private checkedRegion = -1;
  private checkedPin = 0;
  private checkedProc = 0;
  /** Full VM-entry checks performed (the rest were fast checks). */
  fullChecks = 0;
  /** VM entries that were the mode switch alone (resumeHeld), a statistic for tests and benchmarks. */
  heldResumes = 0;
  /** VMCS generation and region the cached controls other than pin/proc/proc2 were read at (loadControls). */
  private ctlGeneration = -1;
  private ctlRegion = -1;
  /**
   * After a VM exit the processor keeps holding the guest's context (the host is TypeScript and runs no
   * instructions on it): the CPU_CACHED_FIELDS are not written to the VMCS (vmcs.cached serves them) and host
   * state is not loaded until something needs it (hostContext()). `guestLive` is true while the Cpu holds the
   * guest's context; `liveGeneration`/`liveRegion` are the VMCS generation and region it matches. When the next
   * VM entry finds both unchanged, only the per-exit fields are loaded back (loadGuestVolatile).
   */
  private guestLive = false;
  private liveGeneration = -1;
  private liveRegion = -1;
  /** Per-exit fields (bit k: CPU_PER_EXIT_FIELDS[k]) whose value is the region's copy, not the processor's. */
  private liveDirty = 0;
  /**
   * The held state a VM entry checks in full (CR0, CR3, CR4, EFER, CS and SS) as the processor had it when the region's
   * copies were last written from it or loaded into it (a flush, a full load): the region has these values until
   * software writes a field, which moves the generation. heldStateChanged compares the processor with them.
   */
  private readonly held = new Float64Array(HELD_COUNT).fill(NaN);
  /** The cache source installed in vmcs.cached while guest-state fields are held by the processor. */
  private readonly cacheSource: VmcsCacheSource = {
    lo: (off) => this.cachedWord(off, false),
    hi: (off) => this.cachedWord(off, true),
    flush: () => this.flushCached(),
    write: (k, lo, hi) => this.writeHeld(k, lo, hi),
  };
  /** The guest PAT last stored on an exit, split into words (saves BigInt work per exit). */
  private patValue = -1n;
  private patLo = 0;
  private patHi = 0;

  constructor(cpu: Cpu) {
    this.cpu = cpu;
    this.vmcs = new VmcsAccess(cpu.mem);
    this.ept = new Ept(MAXPHYADDR);
  }

  // ---------------------------------------------------------------- VMX instructions (root operation)

  private fail(error: number, check?: string): VmxResult {
    if (this.current < 0) return { ok: false, kind: 'VMfailInvalid' };
    this.vmcs.region = this.current;
    this.vmcs.set32('VM_INSTRUCTION_ERROR', error);
    return { ok: false, kind: 'VMfailValid', error, message: vmInstructionErrorText(error), check };
  }

  private validRegion(hpa: number): boolean {
    return Number.isInteger(hpa) && hpa >= 0 && hpa % 4096 === 0 && hpa + 4096 <= this.cpu.mem.size && hpa < 2 ** MAXPHYADDR;
  }

  /** VMXON: enter VMX operation with a VMXON region carrying the revision identifier (SDM vol. 3C ch. 31 VMXON). */
  vmxon(region: number): VmxResult {
    if (this.inVmxOperation) return this.fail(VMXERR_VMXON_IN_VMX_ROOT_OPERATION);
    if (!this.validRegion(region) || (this.cpu.mem.read32(region) & 0x7fffffff) !== VMCS_REVISION_ID) return { ok: false, kind: 'VMfailInvalid' };
    this.inVmxOperation = true;
    this.vmxonRegion = region;
    this.current = -1;
    return { ok: true };
  }

  vmxoff(): VmxResult {
    this.hostContext();
    this.inVmxOperation = false;
    this.current = -1;
    return { ok: true };
  }

  vmclear(region: number): VmxResult {
    if (!this.validRegion(region)) return this.fail(VMXERR_VMCLEAR_INVALID_ADDRESS);
    if (region === this.vmxonRegion) return this.fail(VMXERR_VMCLEAR_VMXON_POINTER);
    this.flushCached();
    vmcsClear(this.cpu.mem, region);
    this.vmcs.generation++;
    if (region === this.current) this.current = -1;
    return { ok: true };
  }

  vmptrld(region: number): VmxResult {
    if (!this.validRegion(region)) return this.fail(VMXERR_VMPTRLD_INVALID_ADDRESS);
    if (region === this.vmxonRegion) return this.fail(VMXERR_VMPTRLD_VMXON_POINTER);
    if (vmcsRevisionId(this.cpu.mem, region) !== VMCS_REVISION_ID) return this.fail(VMXERR_VMPTRLD_INCORRECT_VMCS_REVISION_ID);
    this.flushCached();
    this.current = region;
    this.vmcs.region = region;
    return { ok: true };
  }

  vmread(encoding: number): bigint | VmxResult {
    if (this.current < 0) return { ok: false, kind: 'VMfailInvalid' };
    this.flushCached();
    const v = vmcsReadField(this.cpu.mem, this.current, encoding);
    if (isVmxInstrError(v)) return this.fail(v.error);
    return v;
  }

  vmwrite(encoding: number, value: bigint): VmxResult {
    if (this.current < 0) return { ok: false, kind: 'VMfailInvalid' };
    this.flushCached();
    const e = vmcsWriteField(this.cpu.mem, this.current, encoding, value);
    if (e !== undefined) return this.fail(e.error);
    this.vmcs.generation++;
    return { ok: true };
  }

  vmlaunch(): EntryOutcome {
    return this.enter(true);
  }

  vmresume(): EntryOutcome {
    return this.enter(false);
  }

  /**
   * VMRESUME for the hypervisor's exit fastpath when it has no event to inject: the entry if it is resumeHeld's case
   * (the mode switch alone; what vmresume() does then, with no VM_ENTRY_INTR_INFO_FIELD event to deliver), true; else
   * false with nothing done, and the caller takes vmresume().
   */
  resumeQuiet(): boolean {
    const v = this.vmcs, region = this.current;
    if (!this.inVmxOperation || region < 0 || v.cached === null) return false;
    v.region = region;
    return (v.words()[OF.VM_ENTRY_INTR_INFO_FIELD >>> 2] & INTR_INFO_VALID_MASK) === 0 && this.resumeHeld(region);
  }

  // ---------------------------------------------------------------- VM entry (SDM vol. 3C ch. 27)

  private enter(launch: boolean): EntryOutcome {
    if (!this.inVmxOperation || this.current < 0) return { kind: 'vmfail', result: { ok: false, kind: 'VMfailInvalid' } };
    const mem = this.cpu.mem;
    const region = this.current;
    this.vmcs.region = region;
    // The VMCS the processor holds the guest's context of was launched (its entry did): no launch-state read needed.
    if (!launch && this.vmcs.cached !== null && this.resumeHeld(region)) return this.injectAtEntry();
    const state = vmcsLaunchState(mem, region);
    if (launch && state !== 'clear') return { kind: 'vmfail', result: this.fail(VMXERR_VMLAUNCH_NONCLEAR_VMCS) };
    if (!launch && state !== 'launched') return { kind: 'vmfail', result: this.fail(VMXERR_VMRESUME_NONLAUNCHED_VMCS) };
    const v = this.vmcs;
    // Full checks unless nothing but the per-exit fields changed since the last full check passed
    // and those pass the fast check (entry-fast.ts); outcomes are the same either way.
    let fast = false;
    if (!launch && this.checkedGeneration === v.generation && this.checkedRegion === region) {
      // The processor holds the guest's context: a change the guest made to held state outside the per-exit
      // fields counts as a change (flushed: the generation moves, full checks); else the fast check reads the
      // per-exit fields, written to the region first.
      if (v.cached !== null) { if (this.heldStateChanged()) this.flushCached(); else this.writePerExitFields(); }
      fast = this.checkedGeneration === v.generation && volatileFieldsPass(v, this.checkedPin, this.checkedProc);
    }
    if (!fast) this.flushCached();
    const check = fast ? OK_CHECK : this.fullEntryChecks(launch, state, region);
    this.lastEntryCheck = undefined;
    if (check.kind === 'vmfail') {
      this.lastEntryCheck = check.check;
      return { kind: 'vmfail', result: this.fail(check.error, check.check) };
    }
    if (check.kind === 'ok' && !fast) {
      this.checkedGeneration = v.generation; this.checkedRegion = region; this.fullChecks++;
      this.checkedPin = v.get32('PIN_BASED_VM_EXEC_CONTROL'); this.checkedProc = v.get32('CPU_BASED_VM_EXEC_CONTROL');
    }
    this.loadControls();
    if (check.kind === 'invalid-guest') {
      // VM-entry failure while checking guest state: an exit with reason 33 and bit 31 set (SDM §27.8).
      this.lastEntryCheck = check.check;
      this.recordExit(EXIT_REASON.INVALID_STATE | EXIT_REASON_FAILED_VMENTRY, check.qualification, 0, 0, check.check);
      return { kind: 'exit' };
    }
    // The processor still holds the guest's context and software changed nothing but per-exit fields: load
    // those. Only with controls under which that gives what a full load gives (EFER and PAT saved and loaded).
    const ctl = this.ctl;
    if (this.guestLive && v.generation === this.liveGeneration && region === this.liveRegion
      && (ctl.entry & HELD_ENTRY) === HELD_ENTRY && (ctl.exit & HELD_EXIT) === HELD_EXIT) {
      v.cached = null;
      this.loadGuestVolatile(this.liveDirty, false);
    } else {
      this.flushCached();
      this.loadGuestState(!this.guestLive);
    }
    this.guestLive = false;
    v.cached = null;
    if (launch) vmcsSetLaunchState(mem, region, 'launched');
    this.nonRoot = true;
    this.cpu.vmx = this;
    const facts = this.controlFacts();
    this.cpu.ept = (facts & RF_EPT) !== 0 ? this.ept : null;
    this.cpu.updateMode();
    this.setupBoundary(facts);
    return this.injectAtEntry();
  }

  /**
   * Every VM-entry check (entry-checks.ts) on the current VMCS. A method of its own: the closures it makes would
   * otherwise make each call of enter() allocate a context for the variables they capture, fast path or not.
   */
  private fullEntryChecks(launch: boolean, state: LaunchState, region: number): ReturnType<typeof checkVmEntry> {
    const v = this.vmcs, mem = this.cpu.mem;
    return checkVmEntry((name) => v.getBig(name), {
      launch, launchState: state, maxPhysAddr: MAXPHYADDR, currentVmcsHpa: region,
      readPhys32: (hpa: number) => (hpa >= 0 && hpa + 4 <= mem.size ? mem.read32(hpa) : 0xffffffff),
    });
  }

  /** Event injection, the last step of a VM entry (SDM §27.6): the event in VM_ENTRY_INTR_INFO_FIELD, if valid. */
  private injectAtEntry(): EntryOutcome {
    const info = this.vmcs.r32(OF.VM_ENTRY_INTR_INFO_FIELD);
    if ((info & INTR_INFO_VALID_MASK) !== 0) {
      this.vmcs.set32('VM_ENTRY_INTR_INFO_FIELD', info & ~INTR_INFO_VALID_MASK);
      try {
        this.inject(info);
      } catch (e) {
        if (e === VM_EXIT) return { kind: 'exit' };
        if (e !== CPU_FAULT) throw e;
        // An exception while delivering the injected event (bad IDT entry, unmapped stack) is handled as during
        // normal event delivery: delivered through the guest IDT, or a VM exit per the bitmap (SDM vol. 3C §27.6.1.1).
        try {
          this.cpu.deliverPendingException();
        } catch (e2) {
          if (e2 === VM_EXIT) return { kind: 'exit' };
          throw e2;
        }
      }
    }
    return ENTERED;
  }

  /**
   * VMRESUME when nothing a VM entry checks or loads differs from the last entry: the processor holds the
   * guest's context, software wrote no VMCS field but ones the processor took (writeHeld), the controls are
   * those of the last entry, no event to inject, and the guest left CR0/CR3/CR4/CS/SS/EFER as loaded. Every
   * check passed for these values at the last entry or holds for processor-produced state, and loading them
   * would change nothing, so the entry is the processor's mode switch alone (SDM §27.3.2-27.3.3 with the values
   * already in place). Returns false (nothing done) when any condition fails: the full path runs.
   */
  private resumeHeld(region: number): boolean {
    const v = this.vmcs, c = this.cpu, ctl = this.ctl;
    if (this.liveDirty !== 0 || !this.guestLive || region !== this.liveRegion || v.generation !== this.liveGeneration
      || v.generation !== this.checkedGeneration || region !== this.checkedRegion || v.generation !== this.ctlGeneration) return false;
    const w = v.words();
    // The controls a hypervisor flips per entry (interrupt/NMI window, timer) and an event to inject: checked here as
    // the fast check does (entry-fast.ts), with the guest state the processor holds (RFLAGS, STI blocking, HLT).
    const pin = w[OF.PIN_BASED_VM_EXEC_CONTROL >>> 2], proc = w[OF.CPU_BASED_VM_EXEC_CONTROL >>> 2], inj = w[OF.VM_ENTRY_INTR_INFO_FIELD >>> 2];
    if ((pin !== ctl.pin || proc !== ctl.proc) && !perEntryControlsPass(pin, proc, this.checkedPin, this.checkedProc, w[OF.VM_EXIT_CONTROLS >>> 2])) return false;
    if ((inj & INTR_INFO_VALID_MASK) !== 0 && !injectionPasses(inj, w[OF.VM_ENTRY_EXCEPTION_ERROR_CODE >>> 2], w[OF.VM_ENTRY_INSTRUCTION_LEN >>> 2],
      proc, w[OF.SECONDARY_VM_EXEC_CONTROL >>> 2], c.cr0, c.peekFlags(), c.shadow !== 0 ? GUEST_INTR_STATE_STI : 0, c.halted ? GUEST_ACTIVITY_HLT : 0)) return false;
    if ((ctl.entry & HELD_ENTRY) !== HELD_ENTRY || (ctl.exit & HELD_EXIT) !== HELD_EXIT || this.heldStateChanged()) return false;
    // Only those bits may differ (bit 31, activating the secondary controls, does not): ctl.proc2 stays.
    ctl.pin = pin; ctl.proc = proc;
    this.heldResumes++;
    v.cached = null;
    this.guestLive = false;
    this.lastEntryCheck = undefined;
    const facts = this.resumeFacts(region, pin, proc, w);
    if ((facts & RF_TIMER) !== 0) this.preemptionDeadline = c.icount + c.idleTicks + w[OF.VMX_PREEMPTION_TIMER_VALUE >>> 2];
    // Linear mappings: kept across entries only when tagged by a VPID (SDM §29.4.3.1).
    const vpid = this.rfVpid;
    if (vpid === 0 || vpid !== this.lastVpid) c.flushTlb();
    this.lastVpid = vpid;
    this.nonRoot = true;
    c.vmx = this;
    c.ept = (facts & RF_EPT) !== 0 ? this.ept : null;
    // No updateMode(): the processor's mode is the one it left with (held state unchanged, checked above).
    this.setupBoundary(facts);
    return true;
  }

  /**
   * What an entry derives from the current controls: RF_TIMER, the VMX-preemption timer is on; RF_EPT; RF_WINDOWS, an
   * interrupt-window, NMI-window or monitor-trap-flag control asks for a check at every instruction boundary.
   */
  private controlFacts(): number {
    const ctl = this.ctl;
    return (X.preemptionTimer(ctl) ? RF_TIMER : 0) | (X.eptEnabled(ctl) ? RF_EPT : 0)
      | (X.interruptWindow(ctl) || X.nmiWindow(ctl) || X.mtfActive(ctl) ? RF_WINDOWS : 0);
  }

  /**
   * controlFacts for resumeHeld's entry, and the VPID (rfVpid; 0 without the control). They depend only on the pin-based
   * and primary controls and on fields that move the VMCS generation (the secondary controls, the VPID), so they are
   * worked out again only when one of those differs from the last resume's; Vmx.verifyShortcuts (the tests) works them
   * out every time and fails if the kept ones differ.
   */
  private resumeFacts(region: number, pin: number, proc: number, w: Uint32Array<ArrayBufferLike>): number {
    const same = pin === this.rfPin && proc === this.rfProc && this.vmcs.generation === this.rfGeneration && region === this.rfRegion;
    if (same && !Vmx.verifyShortcuts) return this.rfFacts;
    const facts = this.controlFacts();
    const vpid = X.vpidEnabled(this.ctl) ? w[OF.VIRTUAL_PROCESSOR_ID >>> 2] : 0;
    if (same && (facts !== this.rfFacts || vpid !== this.rfVpid)) throw new Error('resume facts changed while pin, proc and the VMCS generation did not');
    this.rfPin = pin; this.rfProc = proc; this.rfGeneration = this.vmcs.generation; this.rfRegion = region;
    this.rfFacts = facts; this.rfVpid = vpid;
    return facts;
  }

  /** resumeFacts' key (the controls and VMCS they were worked out for; -1: none) and its kept answer. */
  private rfPin = -1;
  private rfProc = -1;
  private rfGeneration = -1;
  private rfRegion = -1;
  private rfFacts = 0;
  private rfVpid = 0;

  private loadControls(): void {
    const v = this.vmcs, c = this.ctl, w = v.words();
    // The pin-based and primary controls are per-entry fields (VOLATILE_FIELDS): always read. Every other
    // control changes only with the VMCS generation, so those are read again only after a change.
    c.pin = w[OF.PIN_BASED_VM_EXEC_CONTROL >>> 2];
    c.proc = w[OF.CPU_BASED_VM_EXEC_CONTROL >>> 2];
    c.proc2 = effectiveSecondary(c.proc, w[OF.SECONDARY_VM_EXEC_CONTROL >>> 2]);
    if (this.ctlGeneration !== v.generation || this.ctlRegion !== v.region) {
      c.exit = w[OF.VM_EXIT_CONTROLS >>> 2];
      c.entry = w[OF.VM_ENTRY_CONTROLS >>> 2];
      c.exceptionBitmap = w[OF.EXCEPTION_BITMAP >>> 2];
      c.pfErrorCodeMask = w[OF.PAGE_FAULT_ERROR_CODE_MASK >>> 2];
      c.pfErrorCodeMatch = w[OF.PAGE_FAULT_ERROR_CODE_MATCH >>> 2];
      c.cr0Mask = w[OF.CR0_GUEST_HOST_MASK >>> 2];
      c.cr0Shadow = w[OF.CR0_READ_SHADOW >>> 2];
      c.cr4Mask = w[OF.CR4_GUEST_HOST_MASK >>> 2];
      c.cr4Shadow = w[OF.CR4_READ_SHADOW >>> 2];
      c.cr3TargetCount = w[OF.CR3_TARGET_COUNT >>> 2];
      for (let k = 0; k < 4; k++) c.cr3Targets[k] = ldNum(w, CR3_TARGET_OFF[k]);
      c.ioBitmapA = ldNum(w, OF.IO_BITMAP_A);
      c.ioBitmapB = ldNum(w, OF.IO_BITMAP_B);
      c.msrBitmap = ldNum(w, OF.MSR_BITMAP);
      c.tscOffset = ldNum(w, OF.TSC_OFFSET);
      c.virtualApic = ldNum(w, OF.VIRTUAL_APIC_PAGE_ADDR);
      c.tprThreshold = w[OF.TPR_THRESHOLD >>> 2];
      this.ctlGeneration = v.generation;
      this.ctlRegion = v.region;
    }
    if (X.eptEnabled(c)) {
      const eptp = ldNum(w, OF.EPT_POINTER);
      // Without VPID, VM entries invalidate cached mappings (SDM §29.4.3.1); with it they are tagged and kept.
      if (eptp !== this.lastEptp) { this.ept.setEptp(eptp); this.lastEptp = eptp; }
    }
  }

  private loadGuestState(gprsFromSaveArea: boolean): void {
    const v = this.vmcs, c = this.cpu, ctl = this.ctl, w = v.words();
    c.cr0 = w[OF.GUEST_CR0 >>> 2];
    c.cr4 = w[OF.GUEST_CR4 >>> 2];
    c.cr3 = ldNum(w, OF.GUEST_CR3);
    c.dr[7] = w[OF.GUEST_DR7 >>> 2];
    const ia32e = ia32eModeGuest(ctl.entry);
    for (let k = 0; k < GUEST_SEG.length; k++) {
      const g = GUEST_SEG[k], s = g.seg;
      c.sel[s] = w[g.sel >>> 2];
      const base = ldNum(w, g.base);
      c.segBase[s] = s < FS && !ia32e ? base % TWO32 : base;
      c.segLimit[s] = w[g.limit >>> 2];
      c.segAr[s] = w[g.ar >>> 2];
    }
    c.ldtrSel = w[OF.GUEST_LDTR_SELECTOR >>> 2]; c.ldtrBase = ldNum(w, OF.GUEST_LDTR_BASE);
    c.ldtrLimit = w[OF.GUEST_LDTR_LIMIT >>> 2]; c.ldtrAr = w[OF.GUEST_LDTR_AR_BYTES >>> 2];
    c.trSel = w[OF.GUEST_TR_SELECTOR >>> 2]; c.trBase = ldNum(w, OF.GUEST_TR_BASE);
    c.trLimit = w[OF.GUEST_TR_LIMIT >>> 2]; c.trAr = w[OF.GUEST_TR_AR_BYTES >>> 2];
    c.gdtrBase = ldNum(w, OF.GUEST_GDTR_BASE); c.gdtrLimit = w[OF.GUEST_GDTR_LIMIT >>> 2];
    c.idtrBase = ldNum(w, OF.GUEST_IDTR_BASE); c.idtrLimit = w[OF.GUEST_IDTR_LIMIT >>> 2];
    c.sysenterCs = w[OF.GUEST_SYSENTER_CS >>> 2];
    c.sysenterEsp = ldNum(w, OF.GUEST_SYSENTER_ESP);
    c.sysenterEip = ldNum(w, OF.GUEST_SYSENTER_EIP);
    if (entryLoadIa32Efer(ctl.entry)) c.efer = w[OF.GUEST_IA32_EFER >>> 2];
    else {
      // Without "load IA32_EFER", LMA and LME follow "IA-32e mode guest" (SDM §27.3.2.1).
      c.efer = ia32e ? c.efer | EFER_LMA | EFER_LME : c.efer & ~(EFER_LMA | EFER_LME);
    }
    if (entryLoadIa32Pat(ctl.entry)) c.pat = v.rBig(OF.GUEST_IA32_PAT);
    this.loadGuestVolatile(ALL_PER_EXIT, gprsFromSaveArea);
    this.noteHeld();
  }

  /** Inject the event of the VM-entry interruption-information field (SDM §27.6.1). */
  private inject(info: number): void {
    const c = this.cpu;
    const vector = info & 0xff;
    const type = (info >>> 8) & 7;
    const hasErr = (info & INTR_INFO_DELIVER_CODE_MASK) !== 0;
    const err = this.vmcs.get32('VM_ENTRY_EXCEPTION_ERROR_CODE');
    const soft = type === INTR_TYPE_SOFT_INTR || type === INTR_TYPE_SOFT_EXCEPTION || type === INTR_TYPE_PRIV_SW_EXCEPTION;
    const len = soft ? this.vmcs.get32('VM_ENTRY_INSTRUCTION_LEN') : 0;
    c.halted = false;
    c.deliverInjected(vector, hasErr, err, type === INTR_TYPE_SOFT_INTR || type === INTR_TYPE_SOFT_EXCEPTION, c.wrapIp(c.rip + len), type);
  }

  // ---------------------------------------------------------------- running the guest

  /**
   * Run the guest for up to `budget` instructions. Returns 'vmexit' when a VM exit happened
   * (see lastExit), or the processor's other stop reasons. A guest that executes HLT without
   * HLT exiting stays in the HLT activity state ('halted').
   */
  run(budget: number): 'vmexit' | 'budget' | 'breakpoint' | 'stop' | 'halted' | 'shutdown' {
    if (!this.nonRoot) this.hostContext();
    const stop = this.cpu.run(budget);
    if (stop === 'halted' && this.nonRoot && X.preemptionTimer(this.ctl)) {
      // A halted guest lets virtual time pass until the preemption timer expires (SDM §26.5.1).
      const t = this.cpu.icount + this.cpu.idleTicks;
      if (t < this.preemptionDeadline) this.cpu.idleTicks += this.preemptionDeadline - t;
      this.recordExit(EXIT_REASON.PREEMPTION_TIMER, 0, 0, 0);
      return 'vmexit';
    }
    return stop;
  }

  // ---------------------------------------------------------------- VM exit (SDM vol. 3C ch. 28)

  /** Record a VM exit: exit information, guest state, host state; leaves non-root operation. */
  private recordExit(reason: number, qual: number, qualHi: number, instrLen: number, check?: string, extra?: ExitExtra): void {
    const v = this.vmcs, c = this.cpu;
    v.region = this.current;
    // VM-exit information fields (SDM §28.2): per-exit fields, stored without generation tracking.
    const w = v.words();
    const vec = (reason & EXIT_REASON_FAILED_VMENTRY) === 0 ? c.eventInfo : 0;
    // An exit during delivery of a software interrupt or exception gives that instruction's length (SDM vol. 3C §28.2.4).
    const vecType = (vec >>> 8) & 7;
    if (vec !== 0 && vecType >= 4 && vecType <= 6) instrLen = c.eventLength;
    st32(w, OF.VM_EXIT_REASON, reason);
    stLoHi(w, OF.EXIT_QUALIFICATION, qual, qualHi);
    st32(w, OF.VM_EXIT_INSTRUCTION_LEN, instrLen);
    if (extra === undefined) {
      // Most exits (CPUID, HLT, RDTSC, ...) have none of these: zero both words of each.
      w[OF.VMX_INSTRUCTION_INFO >>> 2] = 0; w[(OF.VMX_INSTRUCTION_INFO >>> 2) + 1] = 0;
      w[OF.VM_EXIT_INTR_INFO >>> 2] = 0; w[(OF.VM_EXIT_INTR_INFO >>> 2) + 1] = 0;
      w[OF.VM_EXIT_INTR_ERROR_CODE >>> 2] = 0; w[(OF.VM_EXIT_INTR_ERROR_CODE >>> 2) + 1] = 0;
      w[OF.GUEST_LINEAR_ADDRESS >>> 2] = 0; w[(OF.GUEST_LINEAR_ADDRESS >>> 2) + 1] = 0;
      w[OF.GUEST_PHYSICAL_ADDRESS >>> 2] = 0; w[(OF.GUEST_PHYSICAL_ADDRESS >>> 2) + 1] = 0;
    } else {
      w[OF.VMX_INSTRUCTION_INFO >>> 2] = extra.instrInfo ?? 0; w[(OF.VMX_INSTRUCTION_INFO >>> 2) + 1] = 0;
      w[OF.VM_EXIT_INTR_INFO >>> 2] = extra.intrInfo ?? 0; w[(OF.VM_EXIT_INTR_INFO >>> 2) + 1] = 0;
      w[OF.VM_EXIT_INTR_ERROR_CODE >>> 2] = extra.intrError ?? 0; w[(OF.VM_EXIT_INTR_ERROR_CODE >>> 2) + 1] = 0;
      const lin = extra.linear ?? 0, phys = extra.physical ?? 0;
      w[OF.GUEST_LINEAR_ADDRESS >>> 2] = lin; w[(OF.GUEST_LINEAR_ADDRESS >>> 2) + 1] = lin >= 0 && lin < TWO32 ? 0 : Math.floor(lin / TWO32);
      w[OF.GUEST_PHYSICAL_ADDRESS >>> 2] = phys; w[(OF.GUEST_PHYSICAL_ADDRESS >>> 2) + 1] = phys >= 0 && phys < TWO32 ? 0 : Math.floor(phys / TWO32);
    }
    st32(w, OF.IDT_VECTORING_INFO_FIELD, vec);
    st32(w, OF.IDT_VECTORING_ERROR_CODE, c.eventError);
    c.eventInfo = 0;
    const rip = extra?.ripAfter ? c.nextRip : c.rip;
    const x = this.lx;
    x.valid = true; x.reason = reason; x.qual = qual; x.qualHi = qualHi; x.guestRip = this.nonRoot ? rip : ldNum(w, OF.GUEST_RIP);
    x.instrLen = instrLen; x.icount = c.icount; x.check = check;
    if (this.nonRoot) {
      this.saveGuest(rip);
      this.leaveGuest();
    }
  }

  /**
   * Guest-state saving at a VM exit (SDM §28.3). The processor keeps the guest's context (leaveGuest), so the
   * guest-state fields are not written here: the VMCS serves them from it (cachedWord) until a flush. What is
   * done here is what saving and loading back would change in the processor: RIP as saved, RFLAGS.RF clear,
   * blocking by STI/MOV SS as one "blocked" state, no shutdown (SDM §28.3.1, §28.3.4); the "IA-32e mode guest"
   * entry control takes EFER.LMA (IA32_VMX_MISC bit 5, §28.2); the timer value when its save control is on.
   */
  private saveGuest(rip: number): void {
    const c = this.cpu, ctl = this.ctl;
    c.rip = rip;
    if ((c.flagsRaw & RF) !== 0) c.flagsRaw &= ~RF;
    if (c.shadow > 1) c.shadow = 1;
    if (c.shutdownReason !== '') { c.halted = false; c.shutdownReason = ''; }
    const entry = (c.efer & EFER_LMA) !== 0 ? ctl.entry | (1 << 9) : ctl.entry & ~(1 << 9);
    const w = this.vmcs.words();
    if (entry !== ctl.entry) { if (st32(w, OF.VM_ENTRY_CONTROLS, entry) !== 0) this.vmcs.generation++; ctl.entry = entry; }
    if (savePreemptionTimer(ctl.exit)) st32(w, OF.VMX_PREEMPTION_TIMER_VALUE, Math.max(0, this.preemptionDeadline - c.icount - c.idleTicks));
  }

  // ---------------------------------------------------------------- guest state for the hypervisor's exit path
  // What VMREAD of the fields gives, without a field lookup while the processor holds them (the common case).

  /** Whether the processor holds the guest's held fields and per-exit field `bit` was not written since. */
  private holds(bit: number): boolean {
    return this.vmcs.cached !== null && (this.liveDirty & bit) === 0;
  }

  /** GUEST_CR4. */
  guestCr4(): number {
    return this.vmcs.cached !== null ? this.cpu.cr4 >>> 0 : this.vmcs.r32(OF.GUEST_CR4);
  }

  /** GUEST_RIP. */
  guestRip(): number {
    return this.holds(DIRTY_RIP) ? this.cpu.rip : this.vmcs.rNum(OF.GUEST_RIP);
  }

  /** The guest's code size (16, 32 or 64) from GUEST_IA32_EFER.LMA, GUEST_CS_AR_BYTES (L, D/B) and GUEST_CR0.PE. */
  guestCodeBits(): 16 | 32 | 64 {
    const c = this.cpu;
    return this.vmcs.cached !== null && exitSaveIa32Efer(this.ctl.exit) ? codeBits(c.efer, c.segAr[CS], c.cr0) : this.vmcsCodeBits();
  }

  /** guestCodeBits from the fields as VMREAD gives them (a method of its own: guestCodeBits stays small enough to inline). */
  private vmcsCodeBits(): 16 | 32 | 64 {
    const v = this.vmcs;
    return codeBits(v.r32(OF.GUEST_IA32_EFER), v.r32(OF.GUEST_CS_AR_BYTES), v.r32(OF.GUEST_CR0));
  }

  /** The linear address of CS:0 for instruction fetches: 0 in 64-bit mode, else GUEST_CS_BASE. */
  guestCsBase(): number {
    if (this.guestCodeBits() === 64) return 0;
    return this.vmcs.cached !== null ? this.cpu.segBase[CS] : this.vmcs.rNum(OF.GUEST_CS_BASE);
  }

  /**
   * Advance GUEST_RIP by `length` within the code size and clear blocking by STI and MOV SS (an exit handler
   * that emulated the instruction, like KVM's skip_emulated_instruction). `bits`: guestCodeBits(), when the caller has it.
   */
  advanceGuestRip(length: number, bits = this.guestCodeBits()): void {
    const next = this.guestRip() + length;
    const rip = bits === 64 ? next : bits === 32 ? next % TWO32 : next % 65536;
    const canonical = bits !== 64 || (rip >= -CANONICAL_LIMIT && rip < CANONICAL_LIMIT);
    // The processor holds RIP and interruptibility (the common case): as setAdvancedRip does then, in few bytes.
    if (this.vmcs.cached !== null && this.liveDirty === 0 && canonical) { this.cpu.rip = rip; this.cpu.shadow = 0; }
    else this.setAdvancedRip(rip, canonical);
  }

  /** advanceGuestRip's stores: RIP (a canonical one, when held, to the processor) and interruptibility without STI/MOV SS blocking. */
  private setAdvancedRip(rip: number, canonical: boolean): void {
    const v = this.vmcs;
    if (this.holds(DIRTY_RIP) && canonical) this.cpu.rip = rip;
    else v.wNum(OF.GUEST_RIP, rip);
    if (this.holds(DIRTY_INTR)) this.cpu.shadow = 0;
    else v.w32(OF.GUEST_INTERRUPTIBILITY_INFO, v.r32(OF.GUEST_INTERRUPTIBILITY_INFO) & ~3);
  }

  /**
   * Software writes a per-exit field while the processor holds the guest's context: RIP (a value the VM-entry
   * RIP check accepts, SDM §27.3.1.4), RSP, and interruptibility/activity 0 go to the processor; anything else
   * to the region (returns false), which the next entry loads from.
   */
  private writeHeld(k: number, lo: number, hi: number): boolean {
    const c = this.cpu, bit = 1 << k;
    if ((this.liveDirty & bit) === 0) {
      if (bit === DIRTY_RIP) {
        const long = (c.efer & EFER_LMA) !== 0 && (c.segAr[CS] & (1 << 13)) !== 0;
        if (hi === 0 || (long && (hi >>> 15 === 0 || hi >>> 15 === 0x1ffff))) { c.rip = (hi | 0) * TWO32 + lo; return true; }
      } else if (bit === DIRTY_RSP) { c.setRegNumber(RSP, (hi | 0) * TWO32 + lo); return true; }
      else if (bit === DIRTY_INTR && lo === 0 && hi === 0) { c.shadow = 0; return true; }
      else if (bit === DIRTY_ACT && lo === 0 && hi === 0) { c.halted = false; return true; }
    }
    this.liveDirty |= bit;
    return false;
  }

  /** A CPU-cached field's low or high word as the processor holds it (the cache source's read). */
  private cachedWord(off: number, high: boolean): number {
    const c = this.cpu, kind = CACHED_BY_OFF[off >>> 3];
    // A per-exit field software wrote since the exit, or EFER when exits do not save it: the region's copy.
    if ((kind >= 2 && (this.liveDirty & (1 << (kind - 2))) !== 0) || (off === OF.GUEST_IA32_EFER && !exitSaveIa32Efer(this.ctl.exit))) {
      return this.liveWords()[(off >>> 2) + (high ? 1 : 0)];
    }
    if (off === OF.GUEST_IA32_PAT) {
      if (!exitSaveIa32Pat(this.ctl.exit)) { const w = this.liveWords(); return w[(off >>> 2) + (high ? 1 : 0)]; }
      return Number((high ? c.pat >> 32n : c.pat) & 0xffffffffn);
    }
    const v = CACHED_GET[off >>> 3]!(c);
    if (!high) return v >>> 0;
    return CACHED_32[off >>> 3] !== 0 || (v >= 0 && v < TWO32) ? 0 : Math.floor(v / TWO32) >>> 0;
  }

  /** The words of the region the guest's context belongs to. */
  private liveWords(): Words {
    const v = this.vmcs, region = v.region;
    v.region = this.liveRegion;
    const w = v.words();
    v.region = region;
    return w;
  }

  /** Write the CPU-cached guest-state fields to the VMCS region (the rest of SDM §28.3 guest-state saving). */
  private flushCached(): void {
    const v = this.vmcs;
    if (v.cached === null) return;
    v.cached = null;
    this.writeGuestState(this.liveWords(), this.liveDirty);
    this.liveDirty = ALL_PER_EXIT;
    // The processor still holds the same context: it matches the region as now written.
    if (this.guestLive) this.liveGeneration = v.generation;
  }

  /** Write the processor's guest state to the region's words, but for the per-exit fields in `skip`; bump the generation on a change. */
  private writeGuestState(w: Words, skip: number): void {
    const v = this.vmcs, c = this.cpu;
    let d = 0;
    for (let k = 0; k < CACHED_OFFS.length; k++) {
      const off = CACHED_OFFS[k], x = CACHED_GET[off >>> 3]!(c);
      d |= CACHED_32[off >>> 3] !== 0 ? st32(w, off, x) : stNum(w, off, x);
    }
    if (exitSaveIa32Efer(this.ctl.exit)) d |= st32(w, OF.GUEST_IA32_EFER, c.efer);
    // The per-exit fields: volatile (no generation change); those software wrote are in the region already.
    for (let k = 0; k < PER_EXIT_OFFS.length; k++) {
      if ((skip & (1 << k)) !== 0) continue;
      const off = PER_EXIT_OFFS[k], x = CACHED_GET[off >>> 3]!(c);
      if (CACHED_32[off >>> 3] !== 0) st32(w, off, x); else stNum(w, off, x);
    }
    if (exitSaveIa32Pat(this.ctl.exit)) {
      const pat = c.pat;
      if (pat !== this.patValue) { this.patValue = pat; this.patLo = Number(pat & 0xffffffffn); this.patHi = Number((pat >> 32n) & 0xffffffffn); }
      d |= stLoHi(w, OF.GUEST_IA32_PAT, this.patLo, this.patHi);
    }
    if (d !== 0) v.generation++;
    this.noteHeld();
  }

  /**
   * Whether the guest changed held state a VM entry checks in full (control registers, CS, SS, EFER) since it
   * was loaded or flushed: the region still has the values of then (`held`), as when an exit wrote them at once. The
   * other held fields (data segments, LDTR, TR, GDTR, IDTR, SYSENTER, DR7, PAT) are not compared, as before:
   * values the processor produced pass the checks; a flush compares them all. The comparison is made only when
   * Cpu.heldEpoch moved since the copies were noted (or last found equal).
   */
  private heldStateChanged(): boolean {
    const c = this.cpu;
    // Nothing wrote those fields since they were noted (Cpu.heldEpoch): unchanged, without comparing them.
    if (c.heldEpoch === this.heldEpochSeen && !Vmx.verifyShortcuts) return false;
    const h = this.held;
    const changed = c.cr0 !== h[0] || c.cr3 !== h[1] || c.cr4 !== h[2] || (exitSaveIa32Efer(this.ctl.exit) && c.efer !== h[3])
      || c.sel[CS] !== h[4] || c.segBase[CS] !== h[5] || c.segLimit[CS] !== h[6] || c.segAr[CS] !== h[7]
      || c.sel[SS] !== h[8] || c.segBase[SS] !== h[9] || c.segLimit[SS] !== h[10] || c.segAr[SS] !== h[11];
    if (changed && c.heldEpoch === this.heldEpochSeen) throw new Error('held state changed without Cpu.heldEpoch moving: a writer of CR0/CR3/CR4/EFER/CS/SS does not move it');
    // Written with the same values (a MOV to CR3 of the current value, say): the noted copies still hold.
    if (!changed) this.heldEpochSeen = c.heldEpoch;
    return changed;
  }

  /**
   * Compare the held state at every check and fail when it changed without Cpu.heldEpoch moving, and work resumeFacts
   * out at every resume and fail when the kept ones differ (the tests set it: a writer of those fields that does not move
   * the epoch, or a fact that depends on more than its key, is a bug that would let entries skip their work).
   */
  static verifyShortcuts = false;
  /** Cpu.heldEpoch when the held state was last noted or found unchanged (-1: never). */
  private heldEpochSeen = -1;

  /** The region's copies of the held state were just written from the processor or loaded into it: remember them (see `held`). */
  private noteHeld(): void {
    const c = this.cpu, h = this.held;
    h[0] = c.cr0; h[1] = c.cr3; h[2] = c.cr4; h[3] = c.efer;
    h[4] = c.sel[CS]; h[5] = c.segBase[CS]; h[6] = c.segLimit[CS]; h[7] = c.segAr[CS];
    h[8] = c.sel[SS]; h[9] = c.segBase[SS]; h[10] = c.segLimit[SS]; h[11] = c.segAr[SS];
    this.heldEpochSeen = c.heldEpoch;
  }

  /** Write the processor's per-exit fields software did not write to the region (for the fast entry check). */
  private writePerExitFields(): void {
    const c = this.cpu, w = this.liveWords(), dirty = this.liveDirty;
    if ((dirty & DIRTY_RIP) === 0) stNum(w, OF.GUEST_RIP, c.rip);
    if ((dirty & DIRTY_RSP) === 0) stNum(w, OF.GUEST_RSP, c.regNumber(RSP));
    if ((dirty & DIRTY_RFLAGS) === 0) st32(w, OF.GUEST_RFLAGS, c.peekFlags());
    if ((dirty & DIRTY_INTR) === 0) st32(w, OF.GUEST_INTERRUPTIBILITY_INFO, c.shadow !== 0 ? GUEST_INTR_STATE_STI : 0);
    if ((dirty & DIRTY_ACT) === 0) st32(w, OF.GUEST_ACTIVITY_STATE, c.halted ? GUEST_ACTIVITY_HLT : 0);
  }

  /**
   * Leave non-root operation at a VM exit. Host state (SDM §28.5) is loaded into the processor only when
   * something needs the processor in root operation (hostContext()); until then it keeps the guest's context.
   */
  private leaveGuest(): void {
    const c = this.cpu;
    this.nonRoot = false;
    c.vmx = null;
    c.ept = null;
    c.timerAt = Infinity;
    this.boundaryPending = false;
    this.guestLive = true;
    this.liveRegion = this.vmcs.region;
    this.liveGeneration = this.vmcs.generation;
    this.liveDirty = 0;
    this.vmcs.cached = this.cacheSource;
  }

  /**
   * Write every guest-state field still held by the processor to the VMCS region (as VMCLEAR does for a
   * processor's cached VMCS data, SDM §25.11.3). Raw readers of the region (snapshots) call this first.
   */
  syncVmcs(): void {
    if (this.nonRoot && this.current >= 0) {
      // The guest runs: the region's guest-state area is not read before the next exit saves it (SDM §25.11.1
      // lets a processor keep it elsewhere meanwhile); the processor's current state makes it the same whichever
      // way the run got here.
      this.vmcs.region = this.current;
      this.writeGuestState(this.vmcs.words(), 0);
      this.liveDirty = 0;
      return;
    }
    this.flushCached();
    if (!this.guestLive) return;
    // The processor's per-exit registers take the region's values too (software may have written some there):
    // after a sync both agree, whichever way the run got here (a state hash compares both).
    const c = this.cpu, w = this.liveWords();
    c.rip = ldNum(w, OF.GUEST_RIP);
    c.setRegNumber(RSP, ldNum(w, OF.GUEST_RSP));
    // The same RFLAGS leaves the processor's lazy flags as they are (a snapshot reads, it does not change the processor).
    const flags = w[OF.GUEST_RFLAGS >>> 2];
    if (c.peekFlags() !== flags) c.setFlags(flags);
    c.shadow = (w[OF.GUEST_INTERRUPTIBILITY_INFO >>> 2] & (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS)) !== 0 ? 1 : 0;
    c.halted = w[OF.GUEST_ACTIVITY_STATE >>> 2] === GUEST_ACTIVITY_HLT;
  }

  /** A CPU-cached field's value while the region's copy is stale, else undefined (for side-effect-free views). */
  peekCached(name: VmcsFieldName): bigint | undefined {
    const v = this.vmcs, off = VmcsAccess.offset(name);
    if (v.cached === null || CACHED_BY_OFF[off >>> 3] === 0) return undefined;
    return (BigInt(this.cachedWord(off, true)) << 32n) | BigInt(this.cachedWord(off, false));
  }

  /** Load host state into the processor if a VM exit left the guest's context there (SDM §28.5). */
  hostContext(): void {
    if (!this.guestLive) return;
    this.flushCached();
    this.saveLo.set(this.cpu.lo); this.saveHi.set(this.cpu.hi);
    this.guestLive = false;
    this.loadHostState();
  }

  /**
   * VM entry when the processor still holds the guest's context and the VMCS is unchanged since the exit but
   * for per-exit fields: load those (the result is what loadGuestState gives; the controls in use save and load
   * EFER and PAT, checked by the caller).
   */
  private loadGuestVolatile(fields: number, gprsFromSaveArea: boolean): void {
    const v = this.vmcs, c = this.cpu, ctl = this.ctl, w = v.words();
    // GPRs come from the hypervisor's save area (unless the processor kept them); RSP, RIP and RFLAGS from the VMCS.
    if (gprsFromSaveArea) { c.lo.set(this.saveLo); c.hi.set(this.saveHi); }
    if ((fields & DIRTY_RSP) !== 0) c.setRegNumber(RSP, ldNum(w, OF.GUEST_RSP));
    if ((fields & DIRTY_RIP) !== 0) c.rip = ldNum(w, OF.GUEST_RIP);
    if ((fields & DIRTY_RFLAGS) !== 0) c.setFlags(w[OF.GUEST_RFLAGS >>> 2]);
    if ((fields & DIRTY_INTR) !== 0) {
      const intr = w[OF.GUEST_INTERRUPTIBILITY_INFO >>> 2];
      c.shadow = (intr & (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS)) !== 0 ? 1 : 0;
    }
    if ((fields & DIRTY_ACT) !== 0) { c.halted = w[OF.GUEST_ACTIVITY_STATE >>> 2] === GUEST_ACTIVITY_HLT; c.shutdownReason = ''; }
    // Rate 0 in IA32_VMX_MISC: the timer counts down once per TSC tick, i.e. per instruction.
    if (X.preemptionTimer(ctl)) this.preemptionDeadline = c.icount + c.idleTicks + w[OF.VMX_PREEMPTION_TIMER_VALUE >>> 2];
    // Linear mappings: kept across entries only when tagged by a VPID (SDM §29.4.3.1).
    const vpid = X.vpidEnabled(ctl) ? w[OF.VIRTUAL_PROCESSOR_ID >>> 2] : 0;
    if (vpid === 0 || vpid !== this.lastVpid) c.flushTlb();
    this.lastVpid = vpid;
  }

  /** Host-state loading (SDM §28.5): the processor leaves the guest's context. */
  private loadHostState(): void {
    const v = this.vmcs, c = this.cpu, ctl = this.ctl, w = v.words();
    this.nonRoot = false;
    c.vmx = null;
    c.ept = null;
    c.halted = false;
    c.shadow = 0;
    c.cr0 = w[OF.HOST_CR0 >>> 2];
    c.cr3 = ldNum(w, OF.HOST_CR3);
    c.cr4 = w[OF.HOST_CR4 >>> 2];
    const host64 = hostAddressSpaceSize(ctl.exit);
    if (exitLoadIa32Efer(ctl.exit)) c.efer = w[OF.HOST_IA32_EFER >>> 2];
    else c.efer = host64 ? c.efer | EFER_LMA | EFER_LME : c.efer & ~(EFER_LMA | EFER_LME);
    if (exitLoadIa32Pat(ctl.exit)) c.pat = v.rBig(OF.HOST_IA32_PAT);
    // Segment caches as setSegCache would load them; the mode is recomputed once below.
    for (let k = 0; k < HOST_SEG.length; k++) {
      const h = HOST_SEG[k], s = h.seg;
      const sel = w[h.sel >>> 2];
      const unusable = sel === 0 && s !== CS;
      c.sel[s] = sel;
      c.segBase[s] = h.base >= 0 ? ldNum(w, h.base) : 0;
      c.segLimit[s] = 0xffffffff;
      c.segAr[s] = unusable ? AR_UNUSABLE : (s === CS ? (host64 ? 0xa09b : 0xc09b) : 0xc093);
    }
    c.trSel = w[OF.HOST_TR_SELECTOR >>> 2]; c.trBase = ldNum(w, OF.HOST_TR_BASE); c.trLimit = 0x67; c.trAr = 0x8b;
    c.gdtrBase = ldNum(w, OF.HOST_GDTR_BASE); c.gdtrLimit = 0xffff;
    c.idtrBase = ldNum(w, OF.HOST_IDTR_BASE); c.idtrLimit = 0xffff;
    c.ldtrSel = 0; c.ldtrAr = AR_UNUSABLE;
    c.setRegNumber(RSP, ldNum(w, OF.HOST_RSP));
    c.rip = ldNum(w, OF.HOST_RIP);
    c.setFlags(2);
    c.dr[7] = 0x400;
    this.boundaryPending = false;
    c.updateMode();
    if (!X.vpidEnabled(ctl)) c.flushTlb();
  }

  /**
   * The exit's extra information in one reused object: an object built at the throwing call site makes the
   * unwind much slower (V8 materializes it for the frame), and recordExit reads it at once.
   */
  private readonly scratchExtra: Required<ExitExtra> = { instrInfo: 0, intrInfo: 0, intrError: 0, linear: 0, physical: 0, ripAfter: false };
  private extra(instrInfo: number, intrInfo: number, intrError: number, linear: number, physical: number): ExitExtra {
    const e = this.scratchExtra;
    e.instrInfo = instrInfo; e.intrInfo = intrInfo; e.intrError = intrError; e.linear = linear; e.physical = physical; e.ripAfter = false;
    return e;
  }

  /** Perform a VM exit from inside an instruction or event and unwind it. */
  private exitNow(reason: number, qual: number, instrLen: number, extra?: ExitExtra, qualHi = 0): never {
    this.recordExit(reason, qual, qualHi, instrLen, undefined, extra);
    throw VM_EXIT;
  }

  // ---------------------------------------------------------------- non-root hooks (intercept decisions in intercept.ts)

  unconditional(c: Cpu, i: Insn, reason: number): boolean {
    this.recordExit(reason, 0, 0, i.length);
    c.vmexitPending = true;
    if (this.fastpath !== null) this.fuse(c);
    return true;
  }

  /**
   * The hypervisor's exit fastpath, installed while it runs the guest (KVM's vmx_exit_handlers_fastpath): called
   * right after the exits most frequent in tight loops (CPUID, IN/OUT), with the budget steps left, it handles the exit
   * and resumes the guest in place when only general registers, RIP and interruptibility change. Returns the budget
   * steps used (> 0), or 0 or less when the exit stays for the processor's run loop to return (Cpu.exitShortcut).
   */
  fastpath: ((left: number) => number) | null = null;

  /** After an exit the fastpath may take: the processor goes on in the guest when it did (Cpu.fusedSteps). */
  private fuse(c: Cpu): void {
    const n = this.fastpath!(c.stepLimit - c.stepDebt - c.icount);
    if (n > 0) c.fusedSteps = n;
  }

  hlt(c: Cpu, i: Insn): boolean {
    if (!X.hltExits(this.ctl)) return false;
    this.recordExit(EXIT_REASON.HLT, 0, 0, i.length);
    c.vmexitPending = true;
    return true;
  }

  invlpg(_c: Cpu, i: Insn, lin: number): void {
    if (X.invlpgExits(this.ctl)) this.exitNow(EXIT_REASON.INVLPG, lin >>> 0, i.length, undefined, Math.floor(lin / TWO32) >>> 0);
  }

  rdpmc(_c: Cpu, i: Insn): void {
    if (X.rdpmcExits(this.ctl)) this.exitNow(EXIT_REASON.RDPMC, 0, i.length);
  }

  rdtsc(_c: Cpu, i: Insn, rdtscp: boolean): number {
    if (X.rdtscExits(this.ctl)) this.exitNow(rdtscp ? EXIT_REASON.RDTSCP : EXIT_REASON.RDTSC, 0, i.length);
    return X.tscOffsetting(this.ctl) ? this.ctl.tscOffset : 0;
  }

  rdtscpAllowed(): boolean {
    return X.rdtscpAllowed(this.ctl);
  }

  wbinvd(_c: Cpu, i: Insn): void {
    if (X.wbinvdExits(this.ctl)) this.exitNow(EXIT_REASON.WBINVD, 0, i.length);
  }

  monitorMwait(_c: Cpu, i: Insn, mwait: boolean): void {
    if (mwait ? X.mwaitExits(this.ctl) : X.monitorExits(this.ctl)) {
      this.exitNow(mwait ? EXIT_REASON.MWAIT_INSTRUCTION : EXIT_REASON.MONITOR_INSTRUCTION, 0, i.length);
    }
  }

  pause(_c: Cpu, i: Insn): void {
    if (X.pauseExits(this.ctl)) this.exitNow(EXIT_REASON.PAUSE_INSTRUCTION, 0, i.length);
  }

  /** Control-register access qualification (SDM vol. 3C table 28-3). */
  private crQual(cr: number, type: number, gpr: number, lmswSource = 0, lmswMem = false): number {
    return (cr | (type << 4) | (lmswMem ? 1 << 6 : 0) | (gpr << 8) | ((lmswSource & 0xffff) << 16)) >>> 0;
  }

  crWrite(c: Cpu, i: Insn, cr: number, gpr: number, value: number): number {
    if (X.crWriteExits(this.ctl, cr, value, MAXPHYADDR)) this.exitNow(EXIT_REASON.CR_ACCESS, this.crQual(cr, 0, gpr), i.length);
    if (cr === 8 && X.tprShadow(this.ctl)) {
      // TPR virtualization (SDM vol. 3C §30.3): the write goes to VTPR bits 7:4 of the virtual-APIC
      // page (offset 80H); the real TPR is untouched. VTPR[7:4] below the TPR threshold is a
      // trap-like TPR_BELOW_THRESHOLD exit after the instruction.
      if ((value & ~0xf) === 0) {
        c.mem.write32(this.ctl.virtualApic + 0x80, (value & 0xf) << 4);
        if ((value & 0xf) < (this.ctl.tprThreshold & 0xf)) { this.tprExitPending = true; this.boundaryPending = true; }
      }
      return (value & ~0xf) === 0 ? c.cr8 : value;
    }
    return X.crWriteValue(this.ctl, cr, cr === 0 ? c.cr0 : c.cr4, value);
  }

  crRead(c: Cpu, i: Insn, cr: number, gpr: number, value: number): number {
    if (X.crReadExits(this.ctl, cr)) this.exitNow(EXIT_REASON.CR_ACCESS, this.crQual(cr, 1, gpr), i.length);
    if (cr === 8 && X.tprShadow(this.ctl)) return (c.mem.read32(this.ctl.virtualApic + 0x80) >>> 4) & 0xf;
    return X.crReadValue(this.ctl, cr, value);
  }

  /** INVEPT for the hypervisor (SDM vol. 3C ch. 31 INVEPT): single-context or all-context; drops cached EPT and combined mappings. */
  invept(): void {
    this.ept.flush();
    this.cpu.flushTlb();
  }

  /** INVVPID for the hypervisor: drops linear and combined mappings tagged with VPIDs (we flush them all). */
  invvpid(): void {
    this.cpu.flushTlb();
  }

  crSpecial(c: Cpu, i: Insn, type: number, value: number): number {
    if (type === CR_CLTS) {
      if (X.cltsExits(this.ctl)) this.exitNow(EXIT_REASON.CR_ACCESS, this.crQual(0, CR_CLTS, 0), i.length);
      // CLTS leaves a host-owned TS unmodified (SDM §26.3).
      return (this.ctl.cr0Mask & 8) !== 0 ? c.cr0 : c.cr0 & ~8;
    }
    if (X.lmswExits(this.ctl, value)) this.exitNow(EXIT_REASON.CR_ACCESS, this.crQual(0, CR_LMSW, 0, value, i.mod !== 3), i.length);
    const m = this.ctl.cr0Mask;
    // LMSW loads PE, MP, EM, TS except host-owned bits; it cannot clear PE.
    return ((c.cr0 & ~(0xe & ~m)) | (value & 0xe & ~m) | (c.cr0 & 1) | (value & 1 & ~m)) >>> 0;
  }

  movDr(_c: Cpu, i: Insn, dr: number, gpr: number, toDr: boolean): void {
    if (X.movDrExits(this.ctl)) this.exitNow(EXIT_REASON.DR_ACCESS, (dr | (toDr ? 0 : 1 << 4) | (gpr << 8)) >>> 0, i.length);
  }

  io(c: Cpu, i: Insn, port: number, size: number, input: boolean, string: boolean, rep: boolean): boolean {
    if (!this.ioExit(i, port, size, input, string, rep)) return false;
    c.vmexitPending = true;
    if (this.fastpath !== null && !string) this.fuse(c);
    return true;
  }

  /** The I/O decision, and the exit when it exits (then true). */
  private ioExit(i: Insn, port: number, size: number, input: boolean, string: boolean, rep: boolean): boolean {
    if (!X.ioExits(this.ctl, this.cpu.mem, port, size)) return false;
    // Exit qualification for I/O instructions (SDM vol. 3C table 28-5).
    const immediate = !string && (i.opcode === 0xe4 || i.opcode === 0xe5 || i.opcode === 0xe6 || i.opcode === 0xe7);
    const q = ((size - 1) | (input ? 8 : 0) | (string ? 16 : 0) | (rep ? 32 : 0) | (immediate ? 64 : 0) | (port << 16)) >>> 0;
    // INS/OUTS report the address size and segment in the instruction-information field (SDM §28.2.5).
    const info = string ? (((i.addrSize === 16 ? 0 : i.addrSize === 32 ? 1 : 2) << 7) | ((input ? ES : i.seg) << 15)) : 0;
    const linear = string ? this.stringLinear(i, input) : 0;
    this.recordExit(EXIT_REASON.IO_INSTRUCTION, q, 0, i.length, undefined, this.extra(info, 0, 0, linear, 0));
    return true;
  }

  private stringLinear(i: Insn, input: boolean): number {
    const c = this.cpu;
    const r = input ? 7 : 6;
    const off = i.addrSize === 64 ? c.regNumber(r) : i.addrSize === 32 ? c.lo[r] : c.lo[r] & 0xffff;
    const seg = input ? ES : i.seg;
    return c.codeSize === 64 && seg < FS ? off : c.segBase[seg] + off;
  }

  rdmsr(c: Cpu, i: Insn, msr: number): boolean {
    if (!X.msrExits(this.ctl, this.cpu.mem, msr, false)) return false;
    this.recordExit(EXIT_REASON.MSR_READ, 0, 0, i.length);
    c.vmexitPending = true;
    return true;
  }

  wrmsr(c: Cpu, i: Insn, msr: number): boolean {
    if (!X.msrExits(this.ctl, this.cpu.mem, msr, true)) return false;
    this.recordExit(EXIT_REASON.MSR_WRITE, 0, 0, i.length);
    c.vmexitPending = true;
    return true;
  }

  descriptorTable(_c: Cpu, i: Insn, reason: number, instr: number): void {
    if (X.descriptorTableExits(this.ctl)) this.exitNow(reason, i.disp >>> 0, i.length, this.extra(instr, 0, 0, 0, 0));
  }

  exception(c: Cpu, vector: number, hasError: boolean, error: number, software: boolean): void {
    if (!X.exceptionExits(this.ctl, vector, error)) return;
    const type = software ? INTR_TYPE_SOFT_EXCEPTION : INTR_TYPE_HARD_EXCEPTION;
    const intrInfo = (INTR_INFO_VALID_MASK | vector | (type << 8) | (hasError ? INTR_INFO_DELIVER_CODE_MASK : 0)) >>> 0;
    // #PF: the qualification is the faulting linear address and CR2 is not written (SDM §28.2.1).
    const qual = vector === 14 ? c.pfLinear : vector === 1 ? c.dr[6] & 0x600f : 0;
    this.exitNow(EXIT_REASON.EXCEPTION_NMI, qual >>> 0, software ? c.cur?.length ?? 0 : 0,
      this.extra(0, intrInfo, hasError ? error : 0, 0, 0), Math.floor(qual / TWO32) >>> 0);
  }

  tripleFault(): void {
    this.exitNow(EXIT_REASON.TRIPLE_FAULT, 0, 0);
  }

  eptFault(_c: Cpu, gpa: number, access: number, lin: number, linValid: boolean, pagingStructure: boolean): never {
    this.eptExit(gpa, access, lin, linValid, pagingStructure);
    throw VM_EXIT;
  }

  /** The EPT exit of Cpu.softRead/softWrite (a data access of translated code): performed, not unwound; returns -1. */
  eptExitNoUnwind(c: Cpu, gpa: number, access: number, lin: number): number {
    this.eptExit(gpa, access, lin, true, false);
    c.vmexitPending = true;
    return -1;
  }

  /** Record the EPT exit (a method that returns, so V8 optimizes it; see ioExit). */
  private eptExit(gpa: number, access: number, lin: number, linValid: boolean, pagingStructure: boolean): void {
    const fault = this.ept.fault;
    if (fault.kind === 'misconfig') { this.recordExit(EXIT_REASON.EPT_MISCONFIG, 0, 0, 0, undefined, this.extra(0, 0, 0, 0, gpa)); return; }
    // EPT-violation qualification (SDM vol. 3C table 28-7). With EPT A/D flags on, guest paging-structure
    // accesses are treated as writes and such a violation sets bits 0 and 1 (SDM §29.3.3.2, table 28-7 note 1).
    let q = (pagingStructure && this.ept.adEnabled ? 3 : 1 << access) | ((fault.allowed & 7) << 3);
    if (linValid) q |= 1 << 7;
    if (linValid && !pagingStructure) q |= 1 << 8;
    void EPT_WRITE; void EPT_FETCH;
    this.recordExit(EXIT_REASON.EPT_VIOLATION, q, 0, 0, undefined, this.extra(0, 0, 0, linValid ? lin : 0, gpa));
  }

  /** Checks at an instruction boundary: preemption timer, MTF, interrupt and NMI windows (SDM §26.7, §27.7). */
  boundary(c: Cpu): void {
    const ctl = this.ctl;
    if (this.tprExitPending) {
      this.tprExitPending = false;
      this.exitNow(EXIT_REASON.TPR_BELOW_THRESHOLD, 0, 0);
    }
    if (this.mtfPending) {
      this.mtfPending = false;
      this.exitNow(EXIT_REASON.MONITOR_TRAP_FLAG, 0, 0);
    }
    if (X.preemptionTimer(ctl) && c.icount + c.idleTicks >= this.preemptionDeadline) {
      this.exitNow(EXIT_REASON.PREEMPTION_TIMER, 0, 0);
    }
    if (this.hostInterruptVector >= 0 && X.externalInterruptExits(ctl)) {
      const vector = this.hostInterruptVector;
      this.hostInterruptVector = -1;
      const info = ackInterruptOnExit(ctl.exit) ? (INTR_INFO_VALID_MASK | vector | (INTR_TYPE_EXT_INTR << 8)) >>> 0 : 0;
      this.exitNow(EXIT_REASON.EXTERNAL_INTERRUPT, 0, 0, this.extra(0, info, 0, 0, 0));
    }
    const canInterrupt = (c.getFlags() & IF) !== 0 && c.shadow === 0;
    if (X.interruptWindow(ctl) && canInterrupt) this.exitNow(EXIT_REASON.INTERRUPT_WINDOW, 0, 0);
    if (X.nmiWindow(ctl) && c.shadow === 0) this.exitNow(EXIT_REASON.NMI_WINDOW, 0, 0);
  }

  afterInstruction(_c: Cpu): void {
    // The monitor trap flag causes an exit after each instruction (SDM §26.5.2): at the next boundary.
    if (X.mtfActive(this.ctl)) { this.mtfPending = true; this.boundaryPending = true; }
  }

  /** The boundary checks and the timer's instruction count for an entry with `facts` (controlFacts). */
  private setupBoundary(facts: number): void {
    this.mtfPending = false;
    this.tprExitPending = false;
    // The preemption timer needs no check at every boundary: the processor compares its instruction count with
    // timerAt (virtual time spent idle does not change while the guest runs). Translated blocks end before it.
    this.boundaryPending = (facts & RF_WINDOWS) !== 0 || this.hostInterruptVector >= 0;
    this.cpu.timerAt = (facts & RF_TIMER) !== 0 ? this.preemptionDeadline - this.cpu.idleTicks : Infinity;
  }

  /** The VMX unit's state for machine snapshots (the VMCS itself lives in host memory). */
  saveState(): VmxState {
    return {
      inVmxOperation: this.inVmxOperation, vmxonRegion: this.vmxonRegion, current: this.current, nonRoot: this.nonRoot,
      ctl: { ...this.ctl, cr3Targets: this.ctl.cr3Targets.slice() }, boundaryPending: this.boundaryPending,
      preemptionDeadline: this.preemptionDeadline, mtfPending: this.mtfPending, tprExitPending: this.tprExitPending, gprLo: Array.from(this.gprLo),
      gprHi: Array.from(this.gprHi), lastExit: this.lastExit, lastEntryCheck: this.lastEntryCheck,
      hostInterruptVector: this.hostInterruptVector, lastVpid: this.lastVpid, lastEptp: this.lastEptp, eptp: this.ept.eptp,
      guestLive: this.guestLive, liveRegion: this.liveRegion, cachePending: this.vmcs.cached !== null, liveDirty: this.liveDirty,
    };
  }

  loadState(raw: unknown): void {
    const s = raw as VmxState;
    this.inVmxOperation = s.inVmxOperation; this.vmxonRegion = s.vmxonRegion; this.current = s.current; this.nonRoot = s.nonRoot;
    this.ctl = { ...s.ctl, cr3Targets: s.ctl.cr3Targets.slice() };
    this.boundaryPending = s.boundaryPending; this.preemptionDeadline = s.preemptionDeadline; this.mtfPending = s.mtfPending;
    this.tprExitPending = s.tprExitPending;
    // While the processor holds the guest's context its registers are the GPRs (restored with the processor).
    this.saveLo.set(s.gprLo); this.saveHi.set(s.gprHi);
    this.lastExit = s.lastExit; this.lastEntryCheck = s.lastEntryCheck; this.hostInterruptVector = s.hostInterruptVector;
    this.lastVpid = s.lastVpid; this.lastEptp = s.lastEptp;
    this.ept.setEptp(s.eptp);
    this.vmcs.region = this.current;
    this.vmcs.generation++; // memory may hold any VMCS contents now: check in full at the next entry
    this.held.fill(NaN);
    this.heldEpochSeen = -1;
    this.rfPin = -1;
    // The processor's context is restored too: cached fields are served from it until flushed (a full load follows).
    this.guestLive = s.guestLive ?? false; this.liveRegion = s.liveRegion ?? -1; this.liveGeneration = -1;
    this.vmcs.cached = this.guestLive && s.cachePending === true ? this.cacheSource : null;
    // Older snapshots wrote the per-exit fields at the exit: the region has them.
    this.liveDirty = s.liveDirty ?? ALL_PER_EXIT;
    this.cpu.vmx = this.nonRoot ? this : null;
    this.cpu.ept = this.nonRoot && X.eptEnabled(this.ctl) ? this.ept : null;
    this.cpu.timerAt = this.nonRoot && X.preemptionTimer(this.ctl) ? this.preemptionDeadline - this.cpu.idleTicks : Infinity;
    this.cpu.flushTlb();
  }

  /** Raise a host interrupt: with external-interrupt exiting, the guest exits at the next boundary. */
  raiseHostInterrupt(vector: number): void {
    this.hostInterruptVector = vector;
    if (this.nonRoot) this.boundaryPending = true;
  }
}

interface ExitExtra {
  instrInfo?: number;
  intrInfo?: number;
  intrError?: number;
  linear?: number;
  physical?: number;
  ripAfter?: boolean;
}

export { INTR_TYPE_NMI_INTR, INTR_TYPE_HARD_EXCEPTION, INTR_TYPE_EXT_INTR, INTR_TYPE_SOFT_INTR, GUEST_INTR_STATE_NMI, exceptionName };

/** The VMX unit's state in a machine snapshot (the VMCS itself lives in host memory). */
export interface VmxState {
  inVmxOperation: boolean;
  vmxonRegion: number;
  current: number;
  nonRoot: boolean;
  ctl: X.Controls;
  boundaryPending: boolean;
  preemptionDeadline: number;
  mtfPending: boolean;
  tprExitPending: boolean;
  gprLo: number[];
  gprHi: number[];
  lastExit: ExitRecord | null;
  lastEntryCheck: string | undefined;
  hostInterruptVector: number;
  lastVpid: number;
  lastEptp: number;
  eptp: number;
  /** The processor holds the guest's context since the last exit (optional: older snapshots lack it). */
  guestLive?: boolean;
  liveRegion?: number;
  /** CPU-cached guest-state fields not yet written to the region. */
  cachePending?: boolean;
  /** Per-exit fields whose region copy is the value (optional: older snapshots lack it). */
  liveDirty?: number;
}
