// The checks VMLAUNCH/VMRESUME make before loading guest state, in the SDM's order, as one pure function (SDM vol. 3C §27.1-27.3).
import { EFER_LMA, EFER_LME, EFER_NXE, EFER_SCE, TF, IF, VM } from '../cpu/regs.js';
import {
  CR0_FIXED0, CR0_FIXED1, CR4_FIXED0, CR4_FIXED1, ENTRY_CHECK_CTLS, IA32_VMX_EPT_VPID_CAP, IA32_VMX_MISC, VMCS_REVISION_ID,
  VMX_EPT_AD_BIT, VMX_EPT_PAGE_WALK_4_BIT, VMX_EPT_PAGE_WALK_5_BIT, VMX_EPTP_UC_BIT, VMX_EPTP_WB_BIT,
  VMX_MISC_ACTIVITY_HLT, VMX_MISC_ACTIVITY_SHUTDOWN, VMX_MISC_ACTIVITY_WAIT_SIPI, VMX_MISC_CR3_TARGET_COUNT,
  ZERO_LENGTH_INJECTION, controlsAllowed,
} from './caps.js';
import {
  CPU_BASED_MONITOR_TRAP_FLAG, GUEST_ACTIVITY_ACTIVE, GUEST_ACTIVITY_HLT, GUEST_ACTIVITY_SHUTDOWN, GUEST_ACTIVITY_WAIT_SIPI,
  GUEST_INTR_STATE_MOV_SS, GUEST_INTR_STATE_NMI, GUEST_INTR_STATE_SMI, GUEST_INTR_STATE_STI, INTR_INFO_DELIVER_CODE_MASK,
  INTR_INFO_RESVD_BITS_MASK, INTR_INFO_VALID_MASK, INTR_TYPE_EXT_INTR, INTR_TYPE_HARD_EXCEPTION, INTR_TYPE_NMI_INTR,
  INTR_TYPE_OTHER_EVENT, INTR_TYPE_PRIV_SW_EXCEPTION, INTR_TYPE_SOFT_EXCEPTION, INTR_TYPE_SOFT_INTR,
  PENDING_DBG_B0_B3, PENDING_DBG_BS, PENDING_DBG_ENABLED_BP, VMX_AR_DB_MASK, VMX_AR_G_MASK, VMX_AR_L_MASK, VMX_AR_P_MASK,
  VMX_AR_S_MASK, VMX_AR_UNUSABLE_MASK, VMX_EPTP_AD_ENABLE_BIT, VMX_EPTP_MT_MASK, VMX_EPTP_MT_UC, VMX_EPTP_MT_WB,
  VMX_EPTP_PWL_MASK, VMX_EPTP_PWL_SHIFT, effectiveSecondary, enableEpt, enableVpid, entryLoadIa32Efer, entryLoadIa32Pat,
  exitLoadIa32Efer, exitLoadIa32Pat, hostAddressSpaceSize, ia32eModeGuest, loadDebugControls, nmiExiting,
  nmiWindowExiting, preemptionTimerActive, savePreemptionTimer, unrestrictedGuest, useIoBitmaps, useMsrBitmaps,
  useTprShadow, virtualNmis, SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES, SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE,
  SECONDARY_EXEC_APIC_REGISTER_VIRT, SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY, SECONDARY_EXEC_ENABLE_PML,
  SECONDARY_EXEC_MODE_BASED_EPT_EXEC, PIN_BASED_POSTED_INTR, extIntExiting,
} from './controls.js';
import {
  VMXERR_ENTRY_EVENTS_BLOCKED_BY_MOV_SS, VMXERR_ENTRY_INVALID_CONTROL_FIELD, VMXERR_ENTRY_INVALID_HOST_STATE_FIELD,
  VMXERR_VMLAUNCH_NONCLEAR_VMCS, VMXERR_VMRESUME_NONLAUNCHED_VMCS,
} from './errors.js';
import type { VmcsFieldName } from './fields.js';
import type { LaunchState } from './vmcs.js';

/** Exit qualifications of a VM-entry failure with exit reason 33 or 34 (SDM vol. 3C §27.8, §28.2.1). */
export const ENTRY_FAIL_DEFAULT = 0;
export const ENTRY_FAIL_PDPTE = 2;
export const ENTRY_FAIL_NMI = 3;
export const ENTRY_FAIL_VMCS_LINK_PTR = 4;

export type EntryCheckResult =
  | { readonly kind: 'ok' }
  /** VMfailValid: error 4/5/26 (§27.1), 7 invalid control fields (§27.2.1), 8 invalid host-state (§27.2.2-27.2.4). */
  | { readonly kind: 'vmfail'; readonly error: number; readonly check: string }
  /** VM-entry failure with exit reason 33 | bit 31 and this exit qualification (§27.3.1, §27.8). */
  | { readonly kind: 'invalid-guest'; readonly check: string; readonly qualification: number };

export interface EntryCheckContext {
  /** true for VMLAUNCH, false for VMRESUME. */
  readonly launch: boolean;
  readonly launchState: LaunchState;
  /** Physical-address width (CPUID.80000008H:EAX[7:0]). */
  readonly maxPhysAddr: number;
  /** Events are blocked by MOV SS in VMX root operation at the VMLAUNCH/VMRESUME (error 26, §27.1). */
  readonly blockedByMovSs?: boolean;
  /** IA32_EFER.LMA of the processor executing the instruction; the checks of §27.2.4 that need it are skipped if absent. */
  readonly hostIa32eMode?: boolean;
  /** The current-VMCS pointer, for the VMCS-link-pointer check (§27.3.1.5); skipped if absent. */
  readonly currentVmcsHpa?: number;
  /**
   * Side-effect-free read of 4 bytes of host-physical memory, for the checks that look into memory: the VTPR
   * (§27.2.1.1), the VMCS link pointer's revision identifier (§27.3.1.5) and the PDPTEs of a PAE guest without EPT
   * (§27.3.1.6, guest-physical = host-physical there). Those checks are skipped if absent.
   */
  readonly readPhys32?: (hpa: number) => number;
}

const OK: EntryCheckResult = Object.freeze({ kind: 'ok' });
const U64 = 0xffff_ffff_ffff_ffffn;
const EFER_VALID = BigInt(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE);
/** IA32_DEBUGCTL bits we accept in the guest field: LBR (0) and BTF (1). */
const DEBUGCTL_VALID = 0x3n;
const DEBUGCTL_BTF = 0x2n;
/** Pending debug exceptions: B3-B0, enabled breakpoint, BS (RTM is not supported) (§27.3.1.5). */
const PENDING_DBG_VALID = BigInt(PENDING_DBG_B0_B3 | PENDING_DBG_ENABLED_BP | PENDING_DBG_BS);
/** Exceptions that deliver an error code, for the entry-injection consistency check (§27.2.1.3). */
const ERROR_CODE_VECTORS = new Set([8, 10, 11, 12, 13, 14, 17]);

function canonical(v: bigint): boolean {
  const top = BigInt.asUintN(64, v) >> 47n;
  return top === 0n || top === 0x1ffffn;
}

/** Each byte of a PAT value holds a valid memory type: 0 (UC), 1 (WC), 4 (WT), 5 (WP), 6 (WB), 7 (UC-) (§27.2.2). */
function validPat(pat: bigint): boolean {
  for (let i = 0n; i < 8n; i++) {
    const t = Number((pat >> (8n * i)) & 0xffn);
    if (t === 2 || t === 3 || t > 7) return false;
  }
  return true;
}

/**
 * The VM-entry checks, in the SDM's order: basic checks (§27.1), VMX controls (§27.2.1), host state (§27.2.2-27.2.4),
 * guest state (§27.3.1). Returns the first failing check. `read` gives a field's value (unused bits zero).
 */
export function checkVmEntry(read: (field: VmcsFieldName) => bigint, ctx: EntryCheckContext): EntryCheckResult {
  const fail = (error: number, check: string): EntryCheckResult => ({ kind: 'vmfail', error, check });
  const ctl = (check: string): EntryCheckResult => fail(VMXERR_ENTRY_INVALID_CONTROL_FIELD, check);
  const host = (check: string): EntryCheckResult => fail(VMXERR_ENTRY_INVALID_HOST_STATE_FIELD, check);
  const guest = (check: string, qualification = ENTRY_FAIL_DEFAULT): EntryCheckResult =>
    ({ kind: 'invalid-guest', check, qualification });
  const n = (f: VmcsFieldName): number => Number(read(f) & 0xffff_ffffn);
  const q = (f: VmcsFieldName): bigint => read(f) & U64;
  const maxPa = Math.max(1, Math.min(52, Math.trunc(ctx.maxPhysAddr)));
  const inWidth = (addr: bigint): boolean => (addr >> BigInt(maxPa)) === 0n;
  const pageOk = (addr: bigint): boolean => (addr & 0xfffn) === 0n && inWidth(addr);

  // §27.1 Basic VM-entry checks.
  if (ctx.blockedByMovSs) return fail(VMXERR_ENTRY_EVENTS_BLOCKED_BY_MOV_SS, 'events blocked by MOV SS');
  if (ctx.launch && ctx.launchState !== 'clear') return fail(VMXERR_VMLAUNCH_NONCLEAR_VMCS, 'VMLAUNCH with non-clear VMCS');
  if (!ctx.launch && ctx.launchState !== 'launched') return fail(VMXERR_VMRESUME_NONLAUNCHED_VMCS, 'VMRESUME with non-launched VMCS');

  const pin = n('PIN_BASED_VM_EXEC_CONTROL'), proc = n('CPU_BASED_VM_EXEC_CONTROL');
  const sec = effectiveSecondary(proc, n('SECONDARY_VM_EXEC_CONTROL'));
  const exit = n('VM_EXIT_CONTROLS'), entry = n('VM_ENTRY_CONTROLS');
  const ia32e = ia32eModeGuest(entry), hostLong = hostAddressSpaceSize(exit), unrestricted = unrestrictedGuest(sec);

  // §27.2.1.1 VM-execution control fields.
  if (!controlsAllowed(pin, ENTRY_CHECK_CTLS.pin)) return ctl('pin-based controls: reserved bits');
  if (!controlsAllowed(proc, ENTRY_CHECK_CTLS.proc)) return ctl('primary processor-based controls: reserved bits');
  if (!controlsAllowed(sec, ENTRY_CHECK_CTLS.proc2)) return ctl('secondary processor-based controls: reserved bits');
  if (n('CR3_TARGET_COUNT') > VMX_MISC_CR3_TARGET_COUNT) return ctl('CR3-target count');
  if (useIoBitmaps(proc) && (!pageOk(q('IO_BITMAP_A')) || !pageOk(q('IO_BITMAP_B')))) return ctl('I/O bitmap addresses');
  if (useMsrBitmaps(proc) && !pageOk(q('MSR_BITMAP'))) return ctl('MSR-bitmap address');
  if (useTprShadow(proc)) {
    const vapic = q('VIRTUAL_APIC_PAGE_ADDR');
    if (!pageOk(vapic)) return ctl('virtual-APIC address');
    const tpr = n('TPR_THRESHOLD');
    if ((sec & SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY) === 0 && (tpr & ~0xf) !== 0) return ctl('TPR threshold: bits 31:4');
    if ((sec & (SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY | SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES)) === 0 && ctx.readPhys32) {
      const vtpr = ctx.readPhys32(Number(vapic) + 0x80) & 0xff;
      if ((tpr & 0xf) > (vtpr >>> 4)) return ctl('TPR threshold above VTPR');
    }
  } else if ((sec & (SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE | SECONDARY_EXEC_APIC_REGISTER_VIRT |
    SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY)) !== 0) {
    return ctl('APIC virtualization without TPR shadow');
  }
  if (!nmiExiting(pin) && virtualNmis(pin)) return ctl('virtual NMIs without NMI exiting');
  if (!virtualNmis(pin) && nmiWindowExiting(proc)) return ctl('NMI-window exiting without virtual NMIs');
  if ((sec & SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES) !== 0 && !pageOk(q('APIC_ACCESS_ADDR'))) return ctl('APIC-access address');
  if ((sec & SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE) !== 0 && (sec & SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES) !== 0) {
    return ctl('x2APIC mode with APIC-access virtualization');
  }
  if ((sec & SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY) !== 0 && !extIntExiting(pin)) return ctl('virtual-interrupt delivery without external-interrupt exiting');
  if ((pin & PIN_BASED_POSTED_INTR) !== 0 && ((sec & SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY) === 0)) return ctl('posted interrupts without virtual-interrupt delivery');
  if (enableVpid(sec) && (n('VIRTUAL_PROCESSOR_ID') & 0xffff) === 0) return ctl('VPID is 0');
  if (enableEpt(sec)) {
    const eptp = q('EPT_POINTER'), lo = Number(eptp & 0xfffn);
    const mt = lo & VMX_EPTP_MT_MASK;
    if (!((mt === VMX_EPTP_MT_UC && (IA32_VMX_EPT_VPID_CAP & VMX_EPTP_UC_BIT) !== 0n) ||
      (mt === VMX_EPTP_MT_WB && (IA32_VMX_EPT_VPID_CAP & VMX_EPTP_WB_BIT) !== 0n))) return ctl('EPTP: memory type');
    const pwl = ((lo & VMX_EPTP_PWL_MASK) >>> VMX_EPTP_PWL_SHIFT) + 1;
    if (!((pwl === 4 && (IA32_VMX_EPT_VPID_CAP & VMX_EPT_PAGE_WALK_4_BIT) !== 0n) ||
      (pwl === 5 && (IA32_VMX_EPT_VPID_CAP & VMX_EPT_PAGE_WALK_5_BIT) !== 0n))) return ctl('EPTP: page-walk length');
    if ((lo & VMX_EPTP_AD_ENABLE_BIT) !== 0 && (IA32_VMX_EPT_VPID_CAP & VMX_EPT_AD_BIT) === 0n) return ctl('EPTP: accessed and dirty flags');
    // Bit 7 (supervisor shadow-stack control, CET not supported), bits 11:8 and 63:MAXPHYADDR are reserved.
    if ((lo & 0xf80) !== 0 || !inWidth(eptp)) return ctl('EPTP: reserved bits');
  }
  if ((sec & SECONDARY_EXEC_ENABLE_PML) !== 0 && (!enableEpt(sec) || !pageOk(q('PML_ADDRESS')))) return ctl('PML without EPT or bad PML address');
  if (unrestricted && !enableEpt(sec)) return ctl('unrestricted guest without EPT');
  if ((sec & SECONDARY_EXEC_MODE_BASED_EPT_EXEC) !== 0 && !enableEpt(sec)) return ctl('mode-based execute control without EPT');

  // §27.2.1.2 VM-exit control fields.
  if (!controlsAllowed(exit, ENTRY_CHECK_CTLS.exit)) return ctl('VM-exit controls: reserved bits');
  if (!preemptionTimerActive(pin) && savePreemptionTimer(exit)) return ctl('save VMX-preemption timer without the timer');
  const msrArea = (count: number, addr: bigint): boolean =>
    count === 0 || ((addr & 0xfn) === 0n && inWidth(addr) && inWidth(addr + BigInt(count) * 16n - 1n));
  if (!msrArea(n('VM_EXIT_MSR_STORE_COUNT'), q('VM_EXIT_MSR_STORE_ADDR'))) return ctl('VM-exit MSR-store address');
  if (!msrArea(n('VM_EXIT_MSR_LOAD_COUNT'), q('VM_EXIT_MSR_LOAD_ADDR'))) return ctl('VM-exit MSR-load address');

  // §27.2.1.3 VM-entry control fields.
  if (!controlsAllowed(entry, ENTRY_CHECK_CTLS.entry)) return ctl('VM-entry controls: reserved bits');
  const intr = n('VM_ENTRY_INTR_INFO_FIELD');
  const injecting = (intr & INTR_INFO_VALID_MASK) !== 0;
  const injType = (intr >>> 8) & 7, injVector = intr & 0xff;
  const guestCr0 = q('GUEST_CR0');
  if (injecting) {
    if (injType === 1 || (injType === INTR_TYPE_OTHER_EVENT && (ENTRY_CHECK_CTLS.proc.allowed1 & CPU_BASED_MONITOR_TRAP_FLAG) === 0)) {
      return ctl('event injection: interruption type');
    }
    if (injType === INTR_TYPE_NMI_INTR && injVector !== 2) return ctl('event injection: NMI vector');
    if (injType === INTR_TYPE_HARD_EXCEPTION && injVector > 31) return ctl('event injection: exception vector');
    if (injType === INTR_TYPE_OTHER_EVENT && injVector !== 0) return ctl('event injection: other-event vector');
    const wantsCode = (!unrestricted || (guestCr0 & 1n) !== 0n) && injType === INTR_TYPE_HARD_EXCEPTION &&
      ERROR_CODE_VECTORS.has(injVector);
    if (((intr & INTR_INFO_DELIVER_CODE_MASK) !== 0) !== wantsCode) return ctl('event injection: deliver-error-code bit');
    if ((intr & INTR_INFO_RESVD_BITS_MASK) !== 0) return ctl('event injection: reserved bits');
    // Bits 31:16 of the error code must be 0 (bit 15 is SGX's #PF flag, SDM editions since 2021).
    if ((intr & INTR_INFO_DELIVER_CODE_MASK) !== 0 && (n('VM_ENTRY_EXCEPTION_ERROR_CODE') & 0xffff0000) !== 0) {
      return ctl('event injection: error code bits 31:16');
    }
    if (injType === INTR_TYPE_SOFT_INTR || injType === INTR_TYPE_PRIV_SW_EXCEPTION || injType === INTR_TYPE_SOFT_EXCEPTION) {
      const len = n('VM_ENTRY_INSTRUCTION_LEN');
      if (len > 15 || (len === 0 && !ZERO_LENGTH_INJECTION)) return ctl('event injection: instruction length');
    }
  }
  if (!msrArea(n('VM_ENTRY_MSR_LOAD_COUNT'), q('VM_ENTRY_MSR_LOAD_ADDR'))) return ctl('VM-entry MSR-load address');

  // §27.2.2 Host control registers and MSRs.
  const hostCr0 = q('HOST_CR0'), hostCr4 = q('HOST_CR4');
  if ((hostCr0 & BigInt(CR0_FIXED0)) !== BigInt(CR0_FIXED0) || (hostCr0 & ~BigInt(CR0_FIXED1) & U64) !== 0n) return host('host CR0: fixed bits');
  if ((hostCr4 & BigInt(CR4_FIXED0)) !== BigInt(CR4_FIXED0) || (hostCr4 & ~BigInt(CR4_FIXED1) & U64) !== 0n) return host('host CR4: fixed bits');
  if (!inWidth(q('HOST_CR3'))) return host('host CR3: bits beyond MAXPHYADDR');
  if (!canonical(q('HOST_IA32_SYSENTER_ESP')) || !canonical(q('HOST_IA32_SYSENTER_EIP'))) return host('host SYSENTER_ESP/EIP canonical');
  if (exitLoadIa32Pat(exit) && !validPat(q('HOST_IA32_PAT'))) return host('host IA32_PAT');
  if (exitLoadIa32Efer(exit)) {
    const efer = q('HOST_IA32_EFER');
    if ((efer & ~EFER_VALID & U64) !== 0n) return host('host IA32_EFER: reserved bits');
    if (((efer & BigInt(EFER_LMA)) !== 0n) !== hostLong || ((efer & BigInt(EFER_LME)) !== 0n) !== hostLong) {
      return host('host IA32_EFER.LMA/LME vs host address-space size');
    }
  }

  // §27.2.3 Host segment and descriptor-table registers.
  const hostSels: VmcsFieldName[] = ['HOST_ES_SELECTOR', 'HOST_CS_SELECTOR', 'HOST_SS_SELECTOR', 'HOST_DS_SELECTOR',
    'HOST_FS_SELECTOR', 'HOST_GS_SELECTOR', 'HOST_TR_SELECTOR'];
  for (const s of hostSels) if ((n(s) & 7) !== 0) return host('host selectors: RPL and TI');
  if (n('HOST_CS_SELECTOR') === 0) return host('host CS selector is null');
  if (n('HOST_TR_SELECTOR') === 0) return host('host TR selector is null');
  if (!hostLong && n('HOST_SS_SELECTOR') === 0) return host('host SS selector is null');
  for (const b of ['HOST_FS_BASE', 'HOST_GS_BASE', 'HOST_GDTR_BASE', 'HOST_IDTR_BASE', 'HOST_TR_BASE'] as const) {
    if (!canonical(q(b))) return host('host bases canonical');
  }

  // §27.2.4 Checks related to address-space size.
  if (ctx.hostIa32eMode === false && (ia32e || hostLong)) return host('outside IA-32e mode: IA-32e guest or 64-bit host');
  if (ctx.hostIa32eMode === true && !hostLong) return host('in IA-32e mode: host address-space size is 0');
  if (!hostLong) {
    if (ia32e) return host('IA-32e mode guest with 32-bit host');
    if ((hostCr4 & (1n << 17n)) !== 0n) return host('host CR4.PCIDE with 32-bit host');
    if ((q('HOST_RIP') >> 32n) !== 0n) return host('host RIP bits 63:32');
  } else {
    if ((hostCr4 & (1n << 5n)) === 0n) return host('64-bit host without CR4.PAE');
    if (!canonical(q('HOST_RIP'))) return host('host RIP canonical');
  }

  // §27.3.1.1 Guest control registers, debug registers and MSRs.
  const relaxed = unrestricted ? BigInt(CR0_FIXED0) & ~0x80000001n : BigInt(CR0_FIXED0);
  if ((guestCr0 & relaxed) !== relaxed || (guestCr0 & ~BigInt(CR0_FIXED1) & U64) !== 0n) return guest('guest CR0: fixed bits');
  const pe = (guestCr0 & 1n) !== 0n, pg = (guestCr0 & 0x80000000n) !== 0n;
  if (pg && !pe) return guest('guest CR0.PG without CR0.PE');
  const guestCr4 = q('GUEST_CR4');
  if ((guestCr4 & BigInt(CR4_FIXED0)) !== BigInt(CR4_FIXED0) || (guestCr4 & ~BigInt(CR4_FIXED1) & U64) !== 0n) return guest('guest CR4: fixed bits');
  const debugctl = q('GUEST_IA32_DEBUGCTL');
  if (loadDebugControls(entry) && (debugctl & ~DEBUGCTL_VALID & U64) !== 0n) return guest('guest IA32_DEBUGCTL: reserved bits');
  const pae = (guestCr4 & (1n << 5n)) !== 0n;
  if (ia32e && (!pg || !pae)) return guest('IA-32e mode guest without CR0.PG and CR4.PAE');
  if (!ia32e && (guestCr4 & (1n << 17n)) !== 0n) return guest('guest CR4.PCIDE outside IA-32e mode');
  if (!inWidth(q('GUEST_CR3'))) return guest('guest CR3: bits beyond MAXPHYADDR');
  if (loadDebugControls(entry) && (q('GUEST_DR7') >> 32n) !== 0n) return guest('guest DR7: bits 63:32');
  if (!canonical(q('GUEST_SYSENTER_ESP')) || !canonical(q('GUEST_SYSENTER_EIP'))) return guest('guest SYSENTER_ESP/EIP canonical');
  if (entryLoadIa32Pat(entry) && !validPat(q('GUEST_IA32_PAT'))) return guest('guest IA32_PAT');
  if (entryLoadIa32Efer(entry)) {
    const efer = q('GUEST_IA32_EFER');
    if ((efer & ~EFER_VALID & U64) !== 0n) return guest('guest IA32_EFER: reserved bits');
    if (((efer & BigInt(EFER_LMA)) !== 0n) !== ia32e) return guest('guest IA32_EFER.LMA vs IA-32e mode guest');
    if (pg && ((efer & BigInt(EFER_LME)) !== 0n) !== ia32e) return guest('guest IA32_EFER.LME vs IA-32e mode guest');
  }

  // §27.3.1.2 Guest segment registers.
  const rflags = q('GUEST_RFLAGS');
  const v86 = (rflags & BigInt(VM)) !== 0n;
  const sel = (s: string): number => n(`GUEST_${s}_SELECTOR` as VmcsFieldName) & 0xffff;
  const base = (s: string): bigint => q(`GUEST_${s}_BASE` as VmcsFieldName);
  const limit = (s: string): number => n(`GUEST_${s}_LIMIT` as VmcsFieldName);
  const ar = (s: string): number => n(`GUEST_${s}_AR_BYTES` as VmcsFieldName);
  const usable = (s: string): boolean => (ar(s) & VMX_AR_UNUSABLE_MASK) === 0;
  const gOk = (a: number, lim: number): boolean =>
    ((lim & 0xfff) === 0xfff || (a & VMX_AR_G_MASK) === 0) && ((lim & 0xfff00000) === 0 || (a & VMX_AR_G_MASK) !== 0);
  // Selector fields.
  if ((sel('TR') & 4) !== 0) return guest('guest TR selector: TI flag');
  if (usable('LDTR') && (sel('LDTR') & 4) !== 0) return guest('guest LDTR selector: TI flag');
  if (!v86 && !unrestricted && (sel('SS') & 3) !== (sel('CS') & 3)) return guest('guest SS.RPL differs from CS.RPL');
  // Base-address fields.
  const dataSegs = ['ES', 'CS', 'SS', 'DS', 'FS', 'GS'];
  if (v86) for (const s of dataSegs) if (base(s) !== BigInt(sel(s)) << 4n) return guest(`guest ${s} base in virtual-8086 mode`);
  if (!canonical(base('TR')) || !canonical(base('FS')) || !canonical(base('GS'))) return guest('guest TR/FS/GS base canonical');
  if (usable('LDTR') && !canonical(base('LDTR'))) return guest('guest LDTR base canonical');
  if ((base('CS') >> 32n) !== 0n) return guest('guest CS base bits 63:32');
  for (const s of ['SS', 'DS', 'ES']) if (usable(s) && (base(s) >> 32n) !== 0n) return guest(`guest ${s} base bits 63:32`);
  // Limit and access-rights fields.
  if (v86) {
    for (const s of dataSegs) if (limit(s) !== 0xffff) return guest(`guest ${s} limit in virtual-8086 mode`);
    for (const s of dataSegs) if (ar(s) !== 0xf3) return guest(`guest ${s} access rights in virtual-8086 mode`);
  } else {
    const csAr = ar('CS'), ssAr = ar('SS'), csType = csAr & 0xf;
    const ssDpl = (ssAr >>> 5) & 3;
    // Type.
    if (!([9, 11, 13, 15].includes(csType) || (unrestricted && csType === 3))) return guest('guest CS: type');
    if (usable('SS') && (ssAr & 0xf) !== 3 && (ssAr & 0xf) !== 7) return guest('guest SS: type');
    for (const s of ['DS', 'ES', 'FS', 'GS']) {
      const a = ar(s);
      if (usable(s) && ((a & 1) === 0 || ((a & 8) !== 0 && (a & 2) === 0))) return guest(`guest ${s}: type`);
    }
    // S.
    if ((csAr & VMX_AR_S_MASK) === 0) return guest('guest CS: S flag');
    for (const s of ['SS', 'DS', 'ES', 'FS', 'GS']) if (usable(s) && (ar(s) & VMX_AR_S_MASK) === 0) return guest(`guest ${s}: S flag`);
    // DPL.
    const csDpl = (csAr >>> 5) & 3;
    if (csType === 3 && csDpl !== 0) return guest('guest CS: DPL');
    if ((csType === 9 || csType === 11) && csDpl !== ssDpl) return guest('guest CS: DPL');
    if ((csType === 13 || csType === 15) && csDpl > ssDpl) return guest('guest CS: DPL');
    if (!unrestricted && ssDpl !== (sel('SS') & 3)) return guest('guest SS: DPL');
    if ((csType === 3 || !pe) && ssDpl !== 0) return guest('guest SS: DPL');
    if (!unrestricted) {
      for (const s of ['DS', 'ES', 'FS', 'GS']) {
        const a = ar(s);
        if (usable(s) && (a & 0xf) <= 11 && ((a >>> 5) & 3) < (sel(s) & 3)) return guest(`guest ${s}: DPL`);
      }
    }
    // P.
    if ((csAr & VMX_AR_P_MASK) === 0) return guest('guest CS: present');
    for (const s of ['SS', 'DS', 'ES', 'FS', 'GS']) if (usable(s) && (ar(s) & VMX_AR_P_MASK) === 0) return guest(`guest ${s}: present`);
    // Reserved bits 11:8 and 31:17.
    for (const s of dataSegs) {
      if ((s === 'CS' || usable(s)) && (ar(s) & 0xfffe0f00) !== 0) return guest(`guest ${s}: access-rights reserved bits`);
    }
    // D/B.
    if (ia32e && (csAr & VMX_AR_L_MASK) !== 0 && (csAr & VMX_AR_DB_MASK) !== 0) return guest('CS.L and CS.D both set');
    // G.
    for (const s of dataSegs) if ((s === 'CS' || usable(s)) && !gOk(ar(s), limit(s))) return guest(`guest ${s}: granularity vs limit`);
  }
  // TR.
  const trAr = ar('TR'), trType = trAr & 0xf;
  if (!(trType === 11 || (!ia32e && trType === 3))) return guest('guest TR: type');
  if ((trAr & VMX_AR_S_MASK) !== 0) return guest('guest TR: S flag');
  if ((trAr & VMX_AR_P_MASK) === 0) return guest('guest TR: present');
  if ((trAr & 0xf00) !== 0) return guest('guest TR: access-rights reserved bits');
  if (!gOk(trAr, limit('TR'))) return guest('guest TR: granularity vs limit');
  if ((trAr & VMX_AR_UNUSABLE_MASK) !== 0) return guest('guest TR: unusable');
  if ((trAr & 0xfffe0000) !== 0) return guest('guest TR: access-rights reserved bits');
  // LDTR.
  if (usable('LDTR')) {
    const a = ar('LDTR');
    if ((a & 0xf) !== 2) return guest('guest LDTR: type');
    if ((a & VMX_AR_S_MASK) !== 0) return guest('guest LDTR: S flag');
    if ((a & VMX_AR_P_MASK) === 0) return guest('guest LDTR: present');
    if ((a & 0xfffe0f00) !== 0) return guest('guest LDTR: access-rights reserved bits');
    if (!gOk(a, limit('LDTR'))) return guest('guest LDTR: granularity vs limit');
  }

  // §27.3.1.3 Guest descriptor-table registers.
  if (!canonical(q('GUEST_GDTR_BASE')) || !canonical(q('GUEST_IDTR_BASE'))) return guest('guest GDTR/IDTR base canonical');
  if ((n('GUEST_GDTR_LIMIT') >>> 16) !== 0 || (n('GUEST_IDTR_LIMIT') >>> 16) !== 0) return guest('guest GDTR/IDTR limit bits 31:16');

  // §27.3.1.4 Guest RIP and RFLAGS.
  const rip = q('GUEST_RIP');
  const long64 = ia32e && (ar('CS') & VMX_AR_L_MASK) !== 0;
  if (!long64 && (rip >> 32n) !== 0n) return guest('guest RIP bits 63:32');
  if (long64 && !canonical(rip)) return guest('guest RIP canonical');
  // Reserved: bits 63:22, 15, 5, 3 must be 0 and bit 1 must be 1.
  if ((rflags & (~0x3fffffn & U64 | 0x8028n)) !== 0n || (rflags & 2n) === 0n) return guest('guest RFLAGS: reserved bits');
  if (v86 && (ia32e || !pe)) return guest('guest RFLAGS.VM in IA-32e mode or real mode');
  if (injecting && injType === INTR_TYPE_EXT_INTR && (rflags & BigInt(IF)) === 0n) return guest('external-interrupt injection with RFLAGS.IF = 0');

  // §27.3.1.5 Guest non-register state.
  const activity = n('GUEST_ACTIVITY_STATE');
  const supported = [true, (Number(IA32_VMX_MISC) & VMX_MISC_ACTIVITY_HLT) !== 0,
    (Number(IA32_VMX_MISC) & VMX_MISC_ACTIVITY_SHUTDOWN) !== 0, (Number(IA32_VMX_MISC) & VMX_MISC_ACTIVITY_WAIT_SIPI) !== 0];
  if (activity > GUEST_ACTIVITY_WAIT_SIPI || !supported[activity]) return guest('guest activity state: unsupported');
  if (activity === GUEST_ACTIVITY_HLT && ((ar('SS') >>> 5) & 3) !== 0) return guest('guest activity state HLT with SS.DPL != 0');
  const intrState = n('GUEST_INTERRUPTIBILITY_INFO');
  const sti = (intrState & GUEST_INTR_STATE_STI) !== 0, movSs = (intrState & GUEST_INTR_STATE_MOV_SS) !== 0;
  if (activity !== GUEST_ACTIVITY_ACTIVE && (sti || movSs)) return guest('guest activity state not active with STI/MOV-SS blocking');
  if (injecting && activity !== GUEST_ACTIVITY_ACTIVE) {
    const allowed = activity === GUEST_ACTIVITY_HLT
      ? injType === INTR_TYPE_EXT_INTR || injType === INTR_TYPE_NMI_INTR ||
        (injType === INTR_TYPE_HARD_EXCEPTION && (injVector === 1 || injVector === 18)) ||
        (injType === INTR_TYPE_OTHER_EVENT && injVector === 0)
      : activity === GUEST_ACTIVITY_SHUTDOWN
        ? injType === INTR_TYPE_NMI_INTR || (injType === INTR_TYPE_HARD_EXCEPTION && injVector === 18)
        : false;
    if (!allowed) return guest('event injection blocked in the activity state');
  }
  // Interruptibility state (bit 4, enclave interruption, is reserved: no SGX).
  if ((intrState & ~0xf) !== 0) return guest('guest interruptibility state: reserved bits');
  if (sti && movSs) return guest('guest interruptibility: STI and MOV SS blocking both set');
  if (sti && (rflags & BigInt(IF)) === 0n) return guest('guest interruptibility: STI blocking with RFLAGS.IF = 0');
  if (injecting && injType === INTR_TYPE_EXT_INTR && (sti || movSs)) return guest('external-interrupt injection with STI/MOV-SS blocking');
  if (injecting && injType === INTR_TYPE_NMI_INTR && movSs) return guest('NMI injection with MOV-SS blocking');
  if ((intrState & GUEST_INTR_STATE_SMI) !== 0) return guest('guest interruptibility: SMI blocking outside SMM');
  if (injecting && injType === INTR_TYPE_NMI_INTR && virtualNmis(pin) && (intrState & GUEST_INTR_STATE_NMI) !== 0) {
    return guest('virtual-NMI injection with virtual-NMI blocking');
  }
  // Implementation-specific (the SDM lets a processor require it): no NMI injection under STI blocking; qualification 3.
  if (injecting && injType === INTR_TYPE_NMI_INTR && sti) return guest('NMI injection with STI blocking', ENTRY_FAIL_NMI);
  // Pending debug exceptions.
  const pend = q('GUEST_PENDING_DBG_EXCEPTIONS');
  if ((pend & ~PENDING_DBG_VALID & U64) !== 0n) return guest('guest pending debug exceptions: reserved bits');
  if (sti || movSs || activity === GUEST_ACTIVITY_HLT) {
    const tf = (rflags & BigInt(TF)) !== 0n, btf = (debugctl & DEBUGCTL_BTF) !== 0n;
    const bs = (pend & BigInt(PENDING_DBG_BS)) !== 0n;
    if (tf && !btf && !bs) return guest('guest pending debug exceptions: BS must be 1');
    if ((!tf || btf) && bs) return guest('guest pending debug exceptions: BS must be 0');
  }
  // VMCS link pointer (qualification 4).
  const link = q('VMCS_LINK_POINTER');
  if (link !== U64) {
    if ((link & 0xfffn) !== 0n || !inWidth(link)) return guest('VMCS link pointer', ENTRY_FAIL_VMCS_LINK_PTR);
    if (ctx.readPhys32) {
      const rev = ctx.readPhys32(Number(link)) >>> 0;
      // Bit 31 must equal "VMCS shadowing" (0: not supported).
      if ((rev & 0x7fffffff) !== VMCS_REVISION_ID || (rev & 0x80000000) !== 0) return guest('VMCS link pointer', ENTRY_FAIL_VMCS_LINK_PTR);
    }
    if (ctx.currentVmcsHpa !== undefined && BigInt(ctx.currentVmcsHpa) === link) return guest('VMCS link pointer', ENTRY_FAIL_VMCS_LINK_PTR);
  }

  // §27.3.1.6 Guest page-directory-pointer-table entries (qualification 2): PAE paging outside IA-32e mode.
  if (pg && pae && !ia32e) {
    let pdptes: bigint[] | undefined;
    if (enableEpt(sec)) {
      pdptes = [q('GUEST_PDPTR0'), q('GUEST_PDPTR1'), q('GUEST_PDPTR2'), q('GUEST_PDPTR3')];
    } else if (ctx.readPhys32) {
      const at = Number(q('GUEST_CR3') & 0xffffffe0n);
      pdptes = [0, 1, 2, 3].map((i) => BigInt(ctx.readPhys32!(at + 8 * i) >>> 0) | (BigInt(ctx.readPhys32!(at + 8 * i + 4) >>> 0) << 32n));
    }
    // Reserved bits of a present PDPTE: 2:1, 8:5 and 63:MAXPHYADDR (SDM vol. 3A §4.4.1).
    for (const e of pdptes ?? []) if ((e & 1n) !== 0n && ((e & 0x1e6n) !== 0n || !inWidth(e))) return guest('guest PDPTEs', ENTRY_FAIL_PDPTE);
  }
  return OK;
}
