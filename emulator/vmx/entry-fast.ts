// The fast VM-entry check: when only the per-exit fields changed since a passing full check, re-check just those (conservatively).
import { ENTRY_CHECK_CTLS, controlsAllowed } from './caps.js';
import { type VmcsAccess, CACHED_BY_OFF } from './vmcs-access.js';
import { VmcsOffset as OF } from './vmcs-offsets.js';

const RIP = OF.GUEST_RIP, RFLAGS = OF.GUEST_RFLAGS, INTR = OF.GUEST_INTERRUPTIBILITY_INFO, ACT = OF.GUEST_ACTIVITY_STATE;
const INJ = OF.VM_ENTRY_INTR_INFO_FIELD, INJ_ERR = OF.VM_ENTRY_EXCEPTION_ERROR_CODE, INJ_LEN = OF.VM_ENTRY_INSTRUCTION_LEN;
const PROC = OF.CPU_BASED_VM_EXEC_CONTROL, PIN = OF.PIN_BASED_VM_EXEC_CONTROL, ENTRY = OF.VM_ENTRY_CONTROLS;
const CR0 = OF.GUEST_CR0, CS_AR = OF.GUEST_CS_AR_BYTES, SS_AR = OF.GUEST_SS_AR_BYTES, PENDING_DBG = OF.GUEST_PENDING_DBG_EXCEPTIONS;
const PROC2 = OF.SECONDARY_VM_EXEC_CONTROL, EXIT = OF.VM_EXIT_CONTROLS;

// Guest-state fields the processor may hold after an exit (RIP, RFLAGS, interruptibility, activity, CR0, CS, SS):
// the caller writes the held values to the region first (Vmx.enter); the control fields are never held.
for (const off of [INJ, INJ_ERR, INJ_LEN, PROC, PIN, ENTRY, PENDING_DBG, PROC2, EXIT]) {
  if (CACHED_BY_OFF[off >>> 3] !== 0) throw new Error('entry-fast: a control field of the fast check is CPU-cached');
}

/** Exceptions that push an error code (SDM vol. 3C §27.2.1.3: "deliver error code" consistency). */
const ERROR_CODE_VECTORS = (1 << 8) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13) | (1 << 14) | (1 << 17); // no #CP: CET is not supported

/**
 * Given that every field outside VOLATILE_FIELDS is unchanged since a full check that passed,
 * return true only when the volatile fields also satisfy every check that involves them (SDM
 * vol. 3C §27.2.1 controls, §27.2.1.3 event injection, §27.3.1.4 RIP/RFLAGS, §27.3.1.5
 * non-register state). False means "not proven": the caller runs the full checks, which also
 * give the exact error. The VM-entry fuzz test compares this with the full checker.
 */
export function volatileFieldsPass(access: VmcsAccess, checkedPin: number, checkedProc: number): boolean {
  // The region's words are the values here: controls are never held by the processor, and the caller wrote
  // the held guest-state fields read here (Vmx.enter: writePerExitFields, or a flush).
  const w = access.words();
  const pin = w[PIN >>> 2], proc = w[PROC >>> 2];
  if (!perEntryControlsPass(pin, proc, checkedPin, checkedProc, w[EXIT >>> 2])) return false;

  const entry = w[ENTRY >>> 2];
  const ia32e = (entry & (1 << 9)) !== 0;
  const csL = (w[CS_AR >>> 2] & (1 << 13)) !== 0;
  const cr0 = w[CR0 >>> 2];
  // RIP (§27.3.1.4): bits 63:32 zero unless IA-32e mode with CS.L; then canonical (48 bits).
  const ripHi = w[(RIP + 4) >>> 2];
  if (!(ia32e && csL)) { if (ripHi !== 0) return false; }
  else { const top = ripHi >>> 15; if (top !== 0 && top !== 0x1ffff) return false; }
  // RFLAGS: reserved bits 63:22, 15, 5, 3 zero; bit 1 one; VM zero in IA-32e mode or with CR0.PE = 0.
  const fl = w[RFLAGS >>> 2], flHi = w[(RFLAGS + 4) >>> 2];
  if (flHi !== 0 || (fl & 0xffc08028) !== 0 || (fl & 2) === 0) return false;
  if ((fl & (1 << 17)) !== 0 && (ia32e || (cr0 & 1) === 0)) return false;

  // Activity state (§27.3.1.5): active or HLT only (HLT also needs SS.DPL = 0).
  const act = w[ACT >>> 2];
  if (act > 1) return false;
  if (act === 1 && ((w[SS_AR >>> 2] >>> 5) & 3) !== 0) return false;
  // Interruptibility: only STI/MOV SS/SMI/NMI bits, STI and MOV SS not both, STI needs IF = 1, no SMI blocking outside SMM.
  const intr = w[INTR >>> 2];
  if ((intr & ~0xf) !== 0 || (intr & 3) === 3 || (intr & 4) !== 0) return false;
  if ((intr & 1) !== 0 && (fl & 0x200) === 0) return false;
  // Blocking by STI or MOV SS requires the active state (§27.3.1.5).
  if ((intr & 3) !== 0 && act !== 0) return false;
  // With STI/MOV SS blocking or HLT, pending-debug BS must equal TF (and DEBUGCTL.BTF = 0): leave those to the full check.
  if (((intr & 3) !== 0 || act === 1) && ((fl & 0x100) !== 0 || (w[PENDING_DBG >>> 2] & 0x4000) !== 0)) return false;

  // Event injection (§27.2.1.3 and the guest-state checks that refer to it).
  const inj = w[INJ >>> 2];
  return (inj & 0x80000000) === 0 || injectionPasses(inj, w[INJ_ERR >>> 2], w[INJ_LEN >>> 2], proc, w[PROC2 >>> 2], cr0, fl, intr, act);
}

/**
 * The pin-based and primary controls of an entry may differ from the last fully checked ones only in the bits a
 * hypervisor flips per entry (interrupt-window 2 and NMI-window 22 exiting, the preemption timer pin 6), and must be
 * allowed settings, with NMI-window exiting only under virtual NMIs and the timer's save control only with the timer
 * (§27.2.1.1, §27.2.1.2). `exitCtl`: the VM-exit controls.
 */
export function perEntryControlsPass(pin: number, proc: number, checkedPin: number, checkedProc: number, exitCtl: number): boolean {
  if (((pin ^ checkedPin) & ~(1 << 6)) !== 0 || ((proc ^ checkedProc) & ~((1 << 2) | (1 << 22))) !== 0) return false;
  if (!controlsAllowed(pin, ENTRY_CHECK_CTLS.pin) || !controlsAllowed(proc, ENTRY_CHECK_CTLS.proc)) return false;
  if ((proc & (1 << 22)) !== 0 && (pin & (1 << 5)) === 0) return false;
  return (exitCtl & (1 << 22)) === 0 || (pin & (1 << 6)) !== 0;
}

/**
 * The checks on a valid VM-entry interruption-information field `inj` (§27.2.1.3) and the guest-state checks that
 * refer to it (§27.3.1.4, §27.3.1.5), given the guest's CR0, RFLAGS, interruptibility and activity state. False means
 * "not proven" (the full checks decide).
 */
export function injectionPasses(inj: number, injErr: number, injLen: number, proc: number, proc2: number, cr0: number, fl: number, intr: number, act: number): boolean {
  if ((inj & 0x7ffff000) !== 0) return false;
  const vector = inj & 0xff, type = (inj >>> 8) & 7;
  if (type === 1 || type === 7) return false; // reserved, or MTF "other event": let the full check decide
  if (type === 2 && vector !== 2) return false;
  if (type === 3 && vector > 31) return false;
  // Deliver-error-code must be set exactly for hardware exceptions that push one, unless an
  // unrestricted guest is in real mode (§27.2.1.3).
  const deliverCode = (inj & 0x800) !== 0;
  const unrestricted = (proc & 0x80000000) !== 0 && (proc2 & (1 << 7)) !== 0;
  const wantsCode = (!unrestricted || (cr0 & 1) !== 0) && type === 3 && ((ERROR_CODE_VECTORS >>> vector) & 1) !== 0;
  if (deliverCode !== wantsCode) return false;
  if (deliverCode && (injErr & 0xffff0000) !== 0) return false;
  if ((type === 4 || type === 5 || type === 6) && (injLen < 1 || injLen > 15)) return false;
  if (type === 0 && ((fl & 0x200) === 0 || (intr & 3) !== 0)) return false;
  if (type === 2 && (intr & 3) !== 0) return false;
  return !(act === 1 && type !== 0 && type !== 2 && !(type === 3 && (vector === 1 || vector === 18)));
}
