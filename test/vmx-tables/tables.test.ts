// Exit reasons, VM-instruction errors and control bits checked against Linux's published headers and the SDM.
import { describe, expect, it } from 'vitest';
import * as C from '../../emulator/vmx/controls.js';
import {
  EXIT_REASON, EXIT_REASONS, EXIT_REASON_FAILED_VMENTRY, EXIT_REASON_ENCLAVE_MODE, describeExitReason, exitReasonName,
} from '../../emulator/vmx/exit-reasons.js';
import { VM_INSTRUCTION_ERRORS, vmInstructionErrorText, vmxInstrError } from '../../emulator/vmx/errors.js';

/** arch/x86/include/uapi/asm/vmx.h EXIT_REASON_* (Linux 6.x), copied from the published header. */
const LINUX_EXIT_REASONS: Record<string, number> = {
  EXCEPTION_NMI: 0, EXTERNAL_INTERRUPT: 1, TRIPLE_FAULT: 2, INIT_SIGNAL: 3, INTERRUPT_WINDOW: 7, NMI_WINDOW: 8,
  TASK_SWITCH: 9, CPUID: 10, HLT: 12, INVD: 13, INVLPG: 14, RDPMC: 15, RDTSC: 16, VMCALL: 18, VMCLEAR: 19,
  VMLAUNCH: 20, VMPTRLD: 21, VMPTRST: 22, VMREAD: 23, VMRESUME: 24, VMWRITE: 25, VMOFF: 26, VMON: 27, CR_ACCESS: 28,
  DR_ACCESS: 29, IO_INSTRUCTION: 30, MSR_READ: 31, MSR_WRITE: 32, INVALID_STATE: 33, MSR_LOAD_FAIL: 34,
  MWAIT_INSTRUCTION: 36, MONITOR_TRAP_FLAG: 37, MONITOR_INSTRUCTION: 39, PAUSE_INSTRUCTION: 40,
  MCE_DURING_VMENTRY: 41, TPR_BELOW_THRESHOLD: 43, APIC_ACCESS: 44, EOI_INDUCED: 45, GDTR_IDTR: 46, LDTR_TR: 47,
  EPT_VIOLATION: 48, EPT_MISCONFIG: 49, INVEPT: 50, RDTSCP: 51, PREEMPTION_TIMER: 52, INVVPID: 53, WBINVD: 54,
  XSETBV: 55, APIC_WRITE: 56, RDRAND: 57, INVPCID: 58, VMFUNC: 59, ENCLS: 60, RDSEED: 61, PML_FULL: 62, XSAVES: 63,
  XRSTORS: 64, UMWAIT: 67, TPAUSE: 68, BUS_LOCK: 74, NOTIFY: 75, SEAMCALL: 76, TDCALL: 77, MSR_READ_IMM: 84,
  MSR_WRITE_IMM: 85,
};

/** arch/x86/include/asm/vmx.h `enum vm_instruction_error_number` (without VMXERR_). */
const LINUX_VMXERR: Record<number, string> = {
  1: 'VMCALL_IN_VMX_ROOT_OPERATION', 2: 'VMCLEAR_INVALID_ADDRESS', 3: 'VMCLEAR_VMXON_POINTER',
  4: 'VMLAUNCH_NONCLEAR_VMCS', 5: 'VMRESUME_NONLAUNCHED_VMCS', 6: 'VMRESUME_AFTER_VMXOFF',
  7: 'ENTRY_INVALID_CONTROL_FIELD', 8: 'ENTRY_INVALID_HOST_STATE_FIELD', 9: 'VMPTRLD_INVALID_ADDRESS',
  10: 'VMPTRLD_VMXON_POINTER', 11: 'VMPTRLD_INCORRECT_VMCS_REVISION_ID', 12: 'UNSUPPORTED_VMCS_COMPONENT',
  13: 'VMWRITE_READ_ONLY_VMCS_COMPONENT', 15: 'VMXON_IN_VMX_ROOT_OPERATION',
  16: 'ENTRY_INVALID_EXECUTIVE_VMCS_POINTER', 17: 'ENTRY_NONLAUNCHED_EXECUTIVE_VMCS',
  18: 'ENTRY_EXECUTIVE_VMCS_POINTER_NOT_VMXON_POINTER', 19: 'VMCALL_NONCLEAR_VMCS',
  20: 'VMCALL_INVALID_VM_EXIT_CONTROL_FIELDS', 22: 'VMCALL_INCORRECT_MSEG_REVISION_ID',
  23: 'VMXOFF_UNDER_DUAL_MONITOR_TREATMENT_OF_SMIS_AND_SMM', 24: 'VMCALL_INVALID_SMM_MONITOR_FEATURES',
  25: 'ENTRY_INVALID_VM_EXECUTION_CONTROL_FIELDS_IN_EXECUTIVE_VMCS', 26: 'ENTRY_EVENTS_BLOCKED_BY_MOV_SS',
  28: 'INVALID_OPERAND_TO_INVEPT_INVVPID',
};

describe('exit reasons (SDM appendix C)', () => {
  it('agrees with every Linux EXIT_REASON_* number', () => {
    for (const [name, n] of Object.entries(LINUX_EXIT_REASONS)) {
      expect((EXIT_REASON as Record<string, number>)[name], name).toBe(n);
      expect(exitReasonName(n)).toBe(name);
    }
  });

  it('has unique numbers and names and leaves the SDM gaps empty', () => {
    expect(new Set(EXIT_REASONS.map((r) => r.number)).size).toBe(EXIT_REASONS.length);
    expect(new Set(EXIT_REASONS.map((r) => r.name)).size).toBe(EXIT_REASONS.length);
    for (const gap of [35, 38, 42]) expect(exitReasonName(gap)).toBe(`UNKNOWN_${gap}`);
    expect(EXIT_REASON.SIPI_SIGNAL).toBe(4);
    expect(EXIT_REASON.GETSEC).toBe(11);
    expect(EXIT_REASON.RSM).toBe(17);
  });

  it('names a whole exit-reason field with its flag bits', () => {
    expect(EXIT_REASON_FAILED_VMENTRY).toBe(0x80000000); // VMX_EXIT_REASONS_FAILED_VMENTRY
    expect(EXIT_REASON_ENCLAVE_MODE).toBe(0x08000000); // VMX_EXIT_REASON_FROM_ENCLAVE
    expect(exitReasonName(0x80000021)).toBe('INVALID_STATE');
    expect(describeExitReason(0x80000021)).toBe('INVALID_STATE (33) | VM-entry failure');
  });
});

describe('VM-instruction errors (SDM §31.4)', () => {
  it('numbers match Linux and every number has a text', () => {
    expect([...VM_INSTRUCTION_ERRORS.keys()]).toEqual(Object.keys(LINUX_VMXERR).map(Number));
    for (const n of [14, 21, 27]) expect(vmInstructionErrorText(n)).toMatch(/reserved/);
    expect(vmInstructionErrorText(12)).toBe('VMREAD/VMWRITE from/to unsupported VMCS component');
    expect(vmxInstrError(13)).toBe(vmxInstrError(13));
    expect(vmxInstrError(13).error).toBe(13);
  });
});

describe('control bits (SDM ch. 25 tables)', () => {
  it('agree with Linux asm/vmx.h and vmxfeatures.h', () => {
    // Values as the published headers give them.
    const linux: Record<string, number> = {
      PIN_BASED_EXT_INTR_MASK: 0x1, PIN_BASED_NMI_EXITING: 0x8, PIN_BASED_VIRTUAL_NMIS: 0x20,
      PIN_BASED_VMX_PREEMPTION_TIMER: 0x40, PIN_BASED_POSTED_INTR: 0x80,
      CPU_BASED_INTR_WINDOW_EXITING: 0x4, CPU_BASED_USE_TSC_OFFSETTING: 0x8, CPU_BASED_HLT_EXITING: 0x80,
      CPU_BASED_INVLPG_EXITING: 0x200, CPU_BASED_MWAIT_EXITING: 0x400, CPU_BASED_RDPMC_EXITING: 0x800,
      CPU_BASED_RDTSC_EXITING: 0x1000, CPU_BASED_CR3_LOAD_EXITING: 0x8000, CPU_BASED_CR3_STORE_EXITING: 0x10000,
      CPU_BASED_CR8_LOAD_EXITING: 0x80000, CPU_BASED_CR8_STORE_EXITING: 0x100000, CPU_BASED_TPR_SHADOW: 0x200000,
      CPU_BASED_NMI_WINDOW_EXITING: 0x400000, CPU_BASED_MOV_DR_EXITING: 0x800000,
      CPU_BASED_UNCOND_IO_EXITING: 0x1000000, CPU_BASED_USE_IO_BITMAPS: 0x2000000,
      CPU_BASED_MONITOR_TRAP_FLAG: 0x8000000, CPU_BASED_USE_MSR_BITMAPS: 0x10000000,
      CPU_BASED_MONITOR_EXITING: 0x20000000, CPU_BASED_PAUSE_EXITING: 0x40000000,
      CPU_BASED_ACTIVATE_SECONDARY_CONTROLS: 0x80000000,
      SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES: 0x1, SECONDARY_EXEC_ENABLE_EPT: 0x2, SECONDARY_EXEC_DESC: 0x4,
      SECONDARY_EXEC_ENABLE_RDTSCP: 0x8, SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE: 0x10, SECONDARY_EXEC_ENABLE_VPID: 0x20,
      SECONDARY_EXEC_WBINVD_EXITING: 0x40, SECONDARY_EXEC_UNRESTRICTED_GUEST: 0x80, SECONDARY_EXEC_ENABLE_PML: 0x20000,
      VM_EXIT_SAVE_DEBUG_CONTROLS: 0x4, VM_EXIT_HOST_ADDR_SPACE_SIZE: 0x200, VM_EXIT_LOAD_IA32_PERF_GLOBAL_CTRL: 0x1000,
      VM_EXIT_ACK_INTR_ON_EXIT: 0x8000, VM_EXIT_SAVE_IA32_PAT: 0x40000, VM_EXIT_LOAD_IA32_PAT: 0x80000,
      VM_EXIT_SAVE_IA32_EFER: 0x100000, VM_EXIT_LOAD_IA32_EFER: 0x200000, VM_EXIT_SAVE_VMX_PREEMPTION_TIMER: 0x400000,
      VM_EXIT_CLEAR_BNDCFGS: 0x800000, VM_EXIT_PT_CONCEAL_PIP: 0x1000000, VM_EXIT_CLEAR_IA32_RTIT_CTL: 0x2000000,
      VM_ENTRY_LOAD_DEBUG_CONTROLS: 0x4, VM_ENTRY_IA32E_MODE: 0x200, VM_ENTRY_SMM: 0x400,
      VM_ENTRY_DEACT_DUAL_MONITOR: 0x800, VM_ENTRY_LOAD_IA32_PERF_GLOBAL_CTRL: 0x2000, VM_ENTRY_LOAD_IA32_PAT: 0x4000,
      VM_ENTRY_LOAD_IA32_EFER: 0x8000, VM_ENTRY_LOAD_BNDCFGS: 0x10000, VM_ENTRY_PT_CONCEAL_PIP: 0x20000,
      VM_ENTRY_LOAD_IA32_RTIT_CTL: 0x40000,
      INTR_INFO_VECTOR_MASK: 0xff, INTR_INFO_INTR_TYPE_MASK: 0x700, INTR_INFO_DELIVER_CODE_MASK: 0x800,
      INTR_INFO_UNBLOCK_NMI: 0x1000, INTR_INFO_VALID_MASK: 0x80000000, INTR_INFO_RESVD_BITS_MASK: 0x7ffff000,
      GUEST_INTR_STATE_STI: 1, GUEST_INTR_STATE_MOV_SS: 2, GUEST_INTR_STATE_SMI: 4, GUEST_INTR_STATE_NMI: 8,
      GUEST_INTR_STATE_ENCLAVE_INTR: 0x10, GUEST_ACTIVITY_ACTIVE: 0, GUEST_ACTIVITY_HLT: 1, GUEST_ACTIVITY_SHUTDOWN: 2,
      GUEST_ACTIVITY_WAIT_SIPI: 3, VMX_EPTP_MT_WB: 6, VMX_EPTP_MT_UC: 0, VMX_EPTP_PWL_MASK: 0x38,
      VMX_EPTP_AD_ENABLE_BIT: 0x40, VMX_AR_UNUSABLE_MASK: 0x10000, VMX_AR_L_MASK: 0x2000, VMX_AR_DB_MASK: 0x4000,
      VMX_AR_G_MASK: 0x8000, VMX_AR_P_MASK: 0x80, VMX_AR_S_MASK: 0x10, VMX_AR_RESERVED_MASK: 0xfffe0f00,
    };
    const mod = C as unknown as Record<string, number>;
    for (const [name, v] of Object.entries(linux)) expect(mod[name] >>> 0, name).toBe(v);
    // Interruption types (Linux INTR_TYPE_* >> 8).
    expect([C.INTR_TYPE_EXT_INTR, C.INTR_TYPE_NMI_INTR, C.INTR_TYPE_HARD_EXCEPTION, C.INTR_TYPE_SOFT_INTR,
      C.INTR_TYPE_PRIV_SW_EXCEPTION, C.INTR_TYPE_SOFT_EXCEPTION, C.INTR_TYPE_OTHER_EVENT]).toEqual([0, 2, 3, 4, 5, 6, 7]);
  });

  it('bit tables agree with the constants', () => {
    const mod = C as unknown as Record<string, number>;
    for (const t of [C.PIN_BASED_BITS, C.CPU_BASED_BITS, C.SECONDARY_EXEC_BITS, C.VM_EXIT_BITS, C.VM_ENTRY_BITS]) {
      for (const b of t) expect(mod[b.name] >>> 0, b.name).toBe((1 << b.bit) >>> 0);
    }
    expect(C.controlBitNames(0x80000080 | 0x40, C.CPU_BASED_BITS)).toEqual(['bit 6', 'CPU_BASED_HLT_EXITING', 'CPU_BASED_ACTIVATE_SECONDARY_CONTROLS']);
  });

  it('predicates read the right bits', () => {
    expect(C.hltExiting(0x80)).toBe(true);
    expect(C.hltExiting(0x7f)).toBe(false);
    expect(C.useIoBitmaps(1 << 25)).toBe(true);
    expect(C.activateSecondaryControls(0x80000000)).toBe(true);
    expect(C.effectiveSecondary(0, 0xff)).toBe(0);
    expect(C.enableEpt(C.effectiveSecondary(0x80000000 | 0, 0x2))).toBe(true);
  });

  it('interruption information, EPTP and access rights round-trip', () => {
    const v = C.makeInterruptionInfo(14, C.INTR_TYPE_HARD_EXCEPTION, true);
    expect(v).toBe(0x80000b0e); // valid | deliver code | type 3 | vector 14, as KVM builds a #PF injection
    expect(C.decodeInterruptionInfo(v)).toMatchObject({ vector: 14, type: 3, typeName: 'hardware exception', errorCodeValid: true, valid: true });
    const eptp = C.makeEptp(0x12345000, true);
    expect(eptp).toBe(0x1234505en); // WB (6) | PWL 4 (3 << 3) | A/D (1 << 6)
    expect(C.decodeEptp(eptp)).toEqual({ memoryType: 6, pageWalkLength: 4, adEnabled: true, sssEnabled: false, pml4: 0x12345000n });
    expect(C.decodeAccessRights(0xa09b)).toMatchObject({ type: 11, s: true, dpl: 0, p: true, l: true, db: false, g: true, unusable: false });
  });
});
