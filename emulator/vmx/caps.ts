// The VMX capability MSRs vmscope's processor advertises (SDM vol. 3C appendix A) and IA32_FEATURE_CONTROL.
import { CR0_AM, CR0_CD, CR0_EM, CR0_ET, CR0_MP, CR0_NE, CR0_NW, CR0_PE, CR0_PG, CR0_TS, CR0_WP, CR4_SUPPORTED, CR4_VMXE } from '../cpu/regs.js';
import {
  CPU_BASED_ACTIVATE_SECONDARY_CONTROLS, CPU_BASED_CR3_LOAD_EXITING, CPU_BASED_CR3_STORE_EXITING, CPU_BASED_CR8_LOAD_EXITING,
  CPU_BASED_CR8_STORE_EXITING, CPU_BASED_HLT_EXITING, CPU_BASED_INTR_WINDOW_EXITING, CPU_BASED_INVLPG_EXITING,
  CPU_BASED_MONITOR_EXITING, CPU_BASED_MONITOR_TRAP_FLAG, CPU_BASED_MOV_DR_EXITING, CPU_BASED_MWAIT_EXITING,
  CPU_BASED_NMI_WINDOW_EXITING, CPU_BASED_PAUSE_EXITING, CPU_BASED_RDPMC_EXITING, CPU_BASED_RDTSC_EXITING,
  CPU_BASED_TPR_SHADOW, CPU_BASED_UNCOND_IO_EXITING, CPU_BASED_USE_IO_BITMAPS, CPU_BASED_USE_MSR_BITMAPS,
  CPU_BASED_USE_TSC_OFFSETTING, PIN_BASED_EXT_INTR_MASK, PIN_BASED_NMI_EXITING, PIN_BASED_VIRTUAL_NMIS,
  PIN_BASED_VMX_PREEMPTION_TIMER, SECONDARY_EXEC_DESC, SECONDARY_EXEC_ENABLE_EPT, SECONDARY_EXEC_ENABLE_RDTSCP,
  SECONDARY_EXEC_ENABLE_VPID, SECONDARY_EXEC_UNRESTRICTED_GUEST, SECONDARY_EXEC_WBINVD_EXITING, VM_ENTRY_IA32E_MODE,
  VM_ENTRY_LOAD_DEBUG_CONTROLS, VM_ENTRY_LOAD_IA32_EFER, VM_ENTRY_LOAD_IA32_PAT, VM_EXIT_ACK_INTR_ON_EXIT,
  VM_EXIT_HOST_ADDR_SPACE_SIZE, VM_EXIT_LOAD_IA32_EFER, VM_EXIT_LOAD_IA32_PAT, VM_EXIT_SAVE_DEBUG_CONTROLS,
  VM_EXIT_SAVE_IA32_EFER, VM_EXIT_SAVE_IA32_PAT, VM_EXIT_SAVE_VMX_PREEMPTION_TIMER,
} from './controls.js';
import { VMCS_MAX_INDEX } from './fields.js';

// MSR numbers (SDM vol. 4 table 2-2; vol. 3C appendix A).
export const MSR_IA32_FEATURE_CONTROL = 0x3a;
export const MSR_IA32_VMX_BASIC = 0x480;
export const MSR_IA32_VMX_PINBASED_CTLS = 0x481;
export const MSR_IA32_VMX_PROCBASED_CTLS = 0x482;
export const MSR_IA32_VMX_EXIT_CTLS = 0x483;
export const MSR_IA32_VMX_ENTRY_CTLS = 0x484;
export const MSR_IA32_VMX_MISC = 0x485;
export const MSR_IA32_VMX_CR0_FIXED0 = 0x486;
export const MSR_IA32_VMX_CR0_FIXED1 = 0x487;
export const MSR_IA32_VMX_CR4_FIXED0 = 0x488;
export const MSR_IA32_VMX_CR4_FIXED1 = 0x489;
export const MSR_IA32_VMX_VMCS_ENUM = 0x48a;
export const MSR_IA32_VMX_PROCBASED_CTLS2 = 0x48b;
export const MSR_IA32_VMX_EPT_VPID_CAP = 0x48c;
export const MSR_IA32_VMX_TRUE_PINBASED_CTLS = 0x48d;
export const MSR_IA32_VMX_TRUE_PROCBASED_CTLS = 0x48e;
export const MSR_IA32_VMX_TRUE_EXIT_CTLS = 0x48f;
export const MSR_IA32_VMX_TRUE_ENTRY_CTLS = 0x490;

/**
 * VMCS revision identifier (bits 30:0 of IA32_VMX_BASIC and of the first 4 bytes of a VMCS region). We chose
 * 0x63736d76: stored little-endian it reads "vmsc" in a memory dump. Bit 31 (shadow-VMCS indicator) is 0.
 */
export const VMCS_REVISION_ID = 0x63736d76;
/** VMCS region size reported in IA32_VMX_BASIC bits 44:32. */
export const VMCS_REGION_SIZE = 4096;

/** An allowed-0/allowed-1 pair of a control capability MSR (SDM vol. 3C §A.3): bits in allowed0 must be 1, bits outside allowed1 must be 0. */
export interface AllowedSettings {
  readonly allowed0: number;
  readonly allowed1: number;
}

// Default1 classes (SDM vol. 3C §A.2): reserved bits that a processor without TRUE MSRs reports as must-be-1.
export const PIN_BASED_DEFAULT1 = 0x00000016; // bits 1, 2, 4
export const CPU_BASED_DEFAULT1 = 0x0401e172; // bits 1, 4-6, 8, 13-16, 26
export const VM_EXIT_DEFAULT1 = 0x00036dff; // bits 0-8, 10, 11, 13, 14, 16, 17
export const VM_ENTRY_DEFAULT1 = 0x000011ff; // bits 0-8, 12

const u32 = (v: number): number => v >>> 0;

/** Pin-based controls we implement: external-interrupt exiting, NMI exiting, virtual NMIs, VMX-preemption timer. */
const PIN_FEATURES = PIN_BASED_EXT_INTR_MASK | PIN_BASED_NMI_EXITING | PIN_BASED_VIRTUAL_NMIS | PIN_BASED_VMX_PREEMPTION_TIMER;
const CPU_FEATURES = u32(CPU_BASED_INTR_WINDOW_EXITING | CPU_BASED_USE_TSC_OFFSETTING | CPU_BASED_HLT_EXITING |
  CPU_BASED_INVLPG_EXITING | CPU_BASED_MWAIT_EXITING | CPU_BASED_RDPMC_EXITING | CPU_BASED_RDTSC_EXITING |
  CPU_BASED_CR3_LOAD_EXITING | CPU_BASED_CR3_STORE_EXITING | CPU_BASED_CR8_LOAD_EXITING | CPU_BASED_CR8_STORE_EXITING |
  CPU_BASED_TPR_SHADOW | CPU_BASED_NMI_WINDOW_EXITING | CPU_BASED_MOV_DR_EXITING | CPU_BASED_UNCOND_IO_EXITING |
  CPU_BASED_USE_IO_BITMAPS | CPU_BASED_MONITOR_TRAP_FLAG | CPU_BASED_USE_MSR_BITMAPS | CPU_BASED_MONITOR_EXITING |
  CPU_BASED_PAUSE_EXITING | CPU_BASED_ACTIVATE_SECONDARY_CONTROLS);
const SEC_FEATURES = SECONDARY_EXEC_ENABLE_EPT | SECONDARY_EXEC_DESC | SECONDARY_EXEC_ENABLE_RDTSCP |
  SECONDARY_EXEC_ENABLE_VPID | SECONDARY_EXEC_UNRESTRICTED_GUEST | SECONDARY_EXEC_WBINVD_EXITING;
const EXIT_FEATURES = VM_EXIT_SAVE_DEBUG_CONTROLS | VM_EXIT_HOST_ADDR_SPACE_SIZE | VM_EXIT_ACK_INTR_ON_EXIT |
  VM_EXIT_SAVE_IA32_PAT | VM_EXIT_LOAD_IA32_PAT | VM_EXIT_SAVE_IA32_EFER | VM_EXIT_LOAD_IA32_EFER |
  VM_EXIT_SAVE_VMX_PREEMPTION_TIMER;
const ENTRY_FEATURES = VM_ENTRY_LOAD_DEBUG_CONTROLS | VM_ENTRY_IA32E_MODE | VM_ENTRY_LOAD_IA32_PAT | VM_ENTRY_LOAD_IA32_EFER;

// IA32_VMX_{PINBASED,PROCBASED,EXIT,ENTRY}_CTLS: every default1 bit is reported as must-be-1 (SDM vol. 3C §A.3.1-A.5).
export const PINBASED_CTLS: AllowedSettings = { allowed0: PIN_BASED_DEFAULT1, allowed1: u32(PIN_BASED_DEFAULT1 | PIN_FEATURES) };
export const PROCBASED_CTLS: AllowedSettings = { allowed0: CPU_BASED_DEFAULT1, allowed1: u32(CPU_BASED_DEFAULT1 | CPU_FEATURES) };
export const EXIT_CTLS: AllowedSettings = { allowed0: VM_EXIT_DEFAULT1, allowed1: u32(VM_EXIT_DEFAULT1 | EXIT_FEATURES) };
export const ENTRY_CTLS: AllowedSettings = { allowed0: VM_ENTRY_DEFAULT1, allowed1: u32(VM_ENTRY_DEFAULT1 | ENTRY_FEATURES) };
// IA32_VMX_TRUE_*: default1 bits whose 0-setting we support are reported allowed-0 (values as real processors report them):
// CR3-load/CR3-store exiting may be 0; "save debug controls" and "load debug controls" may be 0.
export const TRUE_PINBASED_CTLS: AllowedSettings = PINBASED_CTLS;
export const TRUE_PROCBASED_CTLS: AllowedSettings = {
  allowed0: u32(CPU_BASED_DEFAULT1 & ~(CPU_BASED_CR3_LOAD_EXITING | CPU_BASED_CR3_STORE_EXITING)),
  allowed1: PROCBASED_CTLS.allowed1,
};
export const TRUE_EXIT_CTLS: AllowedSettings = { allowed0: u32(VM_EXIT_DEFAULT1 & ~VM_EXIT_SAVE_DEBUG_CONTROLS), allowed1: EXIT_CTLS.allowed1 };
export const TRUE_ENTRY_CTLS: AllowedSettings = { allowed0: u32(VM_ENTRY_DEFAULT1 & ~VM_ENTRY_LOAD_DEBUG_CONTROLS), allowed1: ENTRY_CTLS.allowed1 };
/** IA32_VMX_PROCBASED_CTLS2 (SDM vol. 3C §A.3.3): no default1 bits. */
export const PROCBASED_CTLS2: AllowedSettings = { allowed0: 0, allowed1: SEC_FEATURES };

// IA32_VMX_BASIC (SDM vol. 3C §A.1).
export const VMX_BASIC_MEM_TYPE_WB = 6;
export const VMX_BASIC_INOUT = 1n << 54n; // VM exits for INS/OUTS report instruction information
export const VMX_BASIC_TRUE_CTLS = 1n << 55n; // the TRUE_* MSRs exist
export const IA32_VMX_BASIC = BigInt(VMCS_REVISION_ID) | (BigInt(VMCS_REGION_SIZE) << 32n) |
  (BigInt(VMX_BASIC_MEM_TYPE_WB) << 50n) | VMX_BASIC_INOUT | VMX_BASIC_TRUE_CTLS;

// IA32_VMX_MISC (SDM vol. 3C §A.6).
/**
 * VMX-preemption timer rate X (bits 4:0): the timer counts down by 1 each time bit X of the TSC changes. We report 0:
 * it counts down once per TSC tick, and vmscope's TSC is its instruction count, so one tick per retired instruction.
 */
export const VMX_MISC_PREEMPTION_TIMER_RATE = 0;
export const VMX_MISC_SAVE_EFER_LMA = 1 << 5; // VM exits store IA32_EFER.LMA in "IA-32e mode guest"
export const VMX_MISC_ACTIVITY_HLT = 1 << 6;
export const VMX_MISC_ACTIVITY_SHUTDOWN = 1 << 7;
export const VMX_MISC_ACTIVITY_WAIT_SIPI = 1 << 8;
export const VMX_MISC_CR3_TARGET_COUNT = 4; // bits 24:16
export const VMX_MISC_VMWRITE_ANY_FIELD = 1 << 29;
export const VMX_MISC_ZERO_LEN_INS = 1 << 30;
/**
 * Our IA32_VMX_MISC: rate 0, EFER.LMA saved, activity state HLT only, 4 CR3-target values, MSR-list limit 512
 * (bits 27:25 = 0), MSEG revision 0. Bit 29 is CLEAR: VMWRITE to a VM-exit information field fails with error 13, as on
 * processors before it (the classical behaviour students read about). Bit 30 is clear: injecting a software
 * interrupt/exception needs a VM-entry instruction length of 1..15.
 */
export const IA32_VMX_MISC = BigInt(VMX_MISC_PREEMPTION_TIMER_RATE | VMX_MISC_SAVE_EFER_LMA | VMX_MISC_ACTIVITY_HLT |
  (VMX_MISC_CR3_TARGET_COUNT << 16));
export const VMWRITE_ANY_FIELD = (IA32_VMX_MISC & BigInt(VMX_MISC_VMWRITE_ANY_FIELD)) !== 0n;
export const ZERO_LENGTH_INJECTION = (IA32_VMX_MISC & BigInt(VMX_MISC_ZERO_LEN_INS)) !== 0n;

// IA32_VMX_CR0_FIXED0/1, CR4_FIXED0/1 (SDM vol. 3C §A.7, §A.8): bits set in FIXED0 must be 1; bits clear in FIXED1 must be 0.
/** CR0.PE, CR0.NE and CR0.PG must be 1 in VMX operation ("unrestricted guest" relaxes PE/PG for guests, SDM §27.3.1.1). */
export const CR0_FIXED0 = u32(CR0_PE | CR0_NE | CR0_PG);
/** The CR0 bits our processor implements (every other bit is reserved and must be 0). */
export const CR0_FIXED1 = u32(CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_NW | CR0_CD | CR0_PG);
export const CR4_FIXED0 = CR4_VMXE;
/** The CR4 bits our processor implements (from the CPU model: cpu/regs.ts CR4_SUPPORTED). */
export const CR4_FIXED1 = u32(CR4_SUPPORTED | CR4_VMXE);

/** IA32_VMX_VMCS_ENUM (SDM vol. 3C §A.9): bits 9:1 = the highest field index of our VMCS (all appendix B fields). */
export const IA32_VMX_VMCS_ENUM = BigInt(VMCS_MAX_INDEX << 1);

// IA32_VMX_EPT_VPID_CAP (SDM vol. 3C §A.10).
export const VMX_EPT_EXECUTE_ONLY_BIT = 1n << 0n;
export const VMX_EPT_PAGE_WALK_4_BIT = 1n << 6n;
export const VMX_EPT_PAGE_WALK_5_BIT = 1n << 7n;
export const VMX_EPTP_UC_BIT = 1n << 8n;
export const VMX_EPTP_WB_BIT = 1n << 14n;
export const VMX_EPT_2MB_PAGE_BIT = 1n << 16n;
export const VMX_EPT_1GB_PAGE_BIT = 1n << 17n;
export const VMX_EPT_INVEPT_BIT = 1n << 20n;
export const VMX_EPT_AD_BIT = 1n << 21n;
export const VMX_EPT_ADVANCED_EXIT_INFO_BIT = 1n << 22n;
export const VMX_EPT_EXTENT_CONTEXT_BIT = 1n << 25n;
export const VMX_EPT_EXTENT_GLOBAL_BIT = 1n << 26n;
export const VMX_VPID_INVVPID_BIT = 1n << 32n;
export const VMX_VPID_EXTENT_INDIVIDUAL_ADDR_BIT = 1n << 40n;
export const VMX_VPID_EXTENT_SINGLE_CONTEXT_BIT = 1n << 41n;
export const VMX_VPID_EXTENT_GLOBAL_CONTEXT_BIT = 1n << 42n;
export const VMX_VPID_EXTENT_SINGLE_NON_GLOBAL_BIT = 1n << 43n;
/** Execute-only, 4-level walks, UC and WB, 2 MiB and 1 GiB pages, INVEPT single/all-context, A/D flags, INVVPID all four types. */
export const IA32_VMX_EPT_VPID_CAP = VMX_EPT_EXECUTE_ONLY_BIT | VMX_EPT_PAGE_WALK_4_BIT | VMX_EPTP_UC_BIT | VMX_EPTP_WB_BIT |
  VMX_EPT_2MB_PAGE_BIT | VMX_EPT_1GB_PAGE_BIT | VMX_EPT_INVEPT_BIT | VMX_EPT_AD_BIT | VMX_EPT_EXTENT_CONTEXT_BIT |
  VMX_EPT_EXTENT_GLOBAL_BIT | VMX_VPID_INVVPID_BIT | VMX_VPID_EXTENT_INDIVIDUAL_ADDR_BIT |
  VMX_VPID_EXTENT_SINGLE_CONTEXT_BIT | VMX_VPID_EXTENT_GLOBAL_CONTEXT_BIT | VMX_VPID_EXTENT_SINGLE_NON_GLOBAL_BIT;

// IA32_FEATURE_CONTROL (SDM vol. 3C §24.7): lock bit and "enable VMX outside SMX operation".
export const FEATURE_CONTROL_LOCKED = 1n << 0n;
export const FEATURE_CONTROL_VMXON_INSIDE_SMX = 1n << 1n;
export const FEATURE_CONTROL_VMXON_OUTSIDE_SMX = 1n << 2n;
/** Locked, VMX enabled outside SMX (the firmware's job on real machines). cpu/msr.ts should report this value. */
export const IA32_FEATURE_CONTROL = FEATURE_CONTROL_LOCKED | FEATURE_CONTROL_VMXON_OUTSIDE_SMX;

const pair = (s: AllowedSettings): bigint => BigInt(s.allowed0 >>> 0) | (BigInt(s.allowed1 >>> 0) << 32n);

/** Every MSR this module answers, in MSR-number order (for views). */
export const VMX_CAPABILITY_MSRS: ReadonlyArray<{ readonly msr: number; readonly name: string; readonly value: bigint }> = [
  { msr: MSR_IA32_FEATURE_CONTROL, name: 'IA32_FEATURE_CONTROL', value: IA32_FEATURE_CONTROL },
  { msr: MSR_IA32_VMX_BASIC, name: 'IA32_VMX_BASIC', value: IA32_VMX_BASIC },
  { msr: MSR_IA32_VMX_PINBASED_CTLS, name: 'IA32_VMX_PINBASED_CTLS', value: pair(PINBASED_CTLS) },
  { msr: MSR_IA32_VMX_PROCBASED_CTLS, name: 'IA32_VMX_PROCBASED_CTLS', value: pair(PROCBASED_CTLS) },
  { msr: MSR_IA32_VMX_EXIT_CTLS, name: 'IA32_VMX_EXIT_CTLS', value: pair(EXIT_CTLS) },
  { msr: MSR_IA32_VMX_ENTRY_CTLS, name: 'IA32_VMX_ENTRY_CTLS', value: pair(ENTRY_CTLS) },
  { msr: MSR_IA32_VMX_MISC, name: 'IA32_VMX_MISC', value: IA32_VMX_MISC },
  { msr: MSR_IA32_VMX_CR0_FIXED0, name: 'IA32_VMX_CR0_FIXED0', value: BigInt(CR0_FIXED0) },
  { msr: MSR_IA32_VMX_CR0_FIXED1, name: 'IA32_VMX_CR0_FIXED1', value: BigInt(CR0_FIXED1) },
  { msr: MSR_IA32_VMX_CR4_FIXED0, name: 'IA32_VMX_CR4_FIXED0', value: BigInt(CR4_FIXED0) },
  { msr: MSR_IA32_VMX_CR4_FIXED1, name: 'IA32_VMX_CR4_FIXED1', value: BigInt(CR4_FIXED1) },
  { msr: MSR_IA32_VMX_VMCS_ENUM, name: 'IA32_VMX_VMCS_ENUM', value: IA32_VMX_VMCS_ENUM },
  { msr: MSR_IA32_VMX_PROCBASED_CTLS2, name: 'IA32_VMX_PROCBASED_CTLS2', value: pair(PROCBASED_CTLS2) },
  { msr: MSR_IA32_VMX_EPT_VPID_CAP, name: 'IA32_VMX_EPT_VPID_CAP', value: IA32_VMX_EPT_VPID_CAP },
  { msr: MSR_IA32_VMX_TRUE_PINBASED_CTLS, name: 'IA32_VMX_TRUE_PINBASED_CTLS', value: pair(TRUE_PINBASED_CTLS) },
  { msr: MSR_IA32_VMX_TRUE_PROCBASED_CTLS, name: 'IA32_VMX_TRUE_PROCBASED_CTLS', value: pair(TRUE_PROCBASED_CTLS) },
  { msr: MSR_IA32_VMX_TRUE_EXIT_CTLS, name: 'IA32_VMX_TRUE_EXIT_CTLS', value: pair(TRUE_EXIT_CTLS) },
  { msr: MSR_IA32_VMX_TRUE_ENTRY_CTLS, name: 'IA32_VMX_TRUE_ENTRY_CTLS', value: pair(TRUE_ENTRY_CTLS) },
];
const BY_MSR = new Map(VMX_CAPABILITY_MSRS.map((m) => [m.msr, m.value]));

/**
 * The value RDMSR returns for a VMX capability MSR (and IA32_FEATURE_CONTROL); undefined for any other MSR, including
 * IA32_VMX_VMFUNC (0x491) and IA32_VMX_PROCBASED_CTLS3 (0x492), which we do not implement (RDMSR of them is #GP).
 */
export function vmxCapabilityMsr(msr: number): bigint | undefined {
  return BY_MSR.get(msr);
}

/** The allowed settings VM entry checks a control word against (the TRUE MSRs, since IA32_VMX_BASIC bit 55 is 1). */
export const ENTRY_CHECK_CTLS = {
  pin: TRUE_PINBASED_CTLS,
  proc: TRUE_PROCBASED_CTLS,
  proc2: PROCBASED_CTLS2,
  exit: TRUE_EXIT_CTLS,
  entry: TRUE_ENTRY_CTLS,
} as const;

/** Whether a control word respects an allowed-0/allowed-1 pair (SDM vol. 3C §A.3). */
export function controlsAllowed(value: number, s: AllowedSettings): boolean {
  const v = value >>> 0;
  return ((v & s.allowed0) >>> 0) === (s.allowed0 >>> 0) && ((v & ~s.allowed1) >>> 0) === 0;
}
