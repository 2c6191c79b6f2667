// Named bits of the VMX control words, interruption information, activity/interruptibility state, EPTP and access rights (SDM vol. 3C ch. 25).

/** One named control bit: constant name (Linux style), bit number, SDM title. */
export interface ControlBit {
  readonly name: string;
  readonly bit: number;
  readonly title: string;
}

function bits(rows: ReadonlyArray<readonly [string, number, string]>): readonly ControlBit[] {
  return rows.map(([name, bit, title]) => ({ name, bit, title }));
}

// Pin-based VM-execution controls (SDM vol. 3C §25.6.1, table 25-5).
export const PIN_BASED_EXT_INTR_MASK = 1 << 0;
export const PIN_BASED_NMI_EXITING = 1 << 3;
export const PIN_BASED_VIRTUAL_NMIS = 1 << 5;
export const PIN_BASED_VMX_PREEMPTION_TIMER = 1 << 6;
export const PIN_BASED_POSTED_INTR = 1 << 7;
export const PIN_BASED_BITS = bits([
  ['PIN_BASED_EXT_INTR_MASK', 0, 'External-interrupt exiting'],
  ['PIN_BASED_NMI_EXITING', 3, 'NMI exiting'],
  ['PIN_BASED_VIRTUAL_NMIS', 5, 'Virtual NMIs'],
  ['PIN_BASED_VMX_PREEMPTION_TIMER', 6, 'Activate VMX-preemption timer'],
  ['PIN_BASED_POSTED_INTR', 7, 'Process posted interrupts'],
]);

// Primary processor-based VM-execution controls (SDM vol. 3C §25.6.2, table 25-6).
export const CPU_BASED_INTR_WINDOW_EXITING = 1 << 2;
export const CPU_BASED_USE_TSC_OFFSETTING = 1 << 3;
export const CPU_BASED_HLT_EXITING = 1 << 7;
export const CPU_BASED_INVLPG_EXITING = 1 << 9;
export const CPU_BASED_MWAIT_EXITING = 1 << 10;
export const CPU_BASED_RDPMC_EXITING = 1 << 11;
export const CPU_BASED_RDTSC_EXITING = 1 << 12;
export const CPU_BASED_CR3_LOAD_EXITING = 1 << 15;
export const CPU_BASED_CR3_STORE_EXITING = 1 << 16;
export const CPU_BASED_ACTIVATE_TERTIARY_CONTROLS = 1 << 17;
export const CPU_BASED_CR8_LOAD_EXITING = 1 << 19;
export const CPU_BASED_CR8_STORE_EXITING = 1 << 20;
export const CPU_BASED_TPR_SHADOW = 1 << 21;
export const CPU_BASED_NMI_WINDOW_EXITING = 1 << 22;
export const CPU_BASED_MOV_DR_EXITING = 1 << 23;
export const CPU_BASED_UNCOND_IO_EXITING = 1 << 24;
export const CPU_BASED_USE_IO_BITMAPS = 1 << 25;
export const CPU_BASED_MONITOR_TRAP_FLAG = 1 << 27;
export const CPU_BASED_USE_MSR_BITMAPS = 1 << 28;
export const CPU_BASED_MONITOR_EXITING = 1 << 29;
export const CPU_BASED_PAUSE_EXITING = 1 << 30;
export const CPU_BASED_ACTIVATE_SECONDARY_CONTROLS = 1 << 31; // note: negative as an int32; compare with `!== 0`
export const CPU_BASED_BITS = bits([
  ['CPU_BASED_INTR_WINDOW_EXITING', 2, 'Interrupt-window exiting'],
  ['CPU_BASED_USE_TSC_OFFSETTING', 3, 'Use TSC offsetting'],
  ['CPU_BASED_HLT_EXITING', 7, 'HLT exiting'],
  ['CPU_BASED_INVLPG_EXITING', 9, 'INVLPG exiting'],
  ['CPU_BASED_MWAIT_EXITING', 10, 'MWAIT exiting'],
  ['CPU_BASED_RDPMC_EXITING', 11, 'RDPMC exiting'],
  ['CPU_BASED_RDTSC_EXITING', 12, 'RDTSC exiting'],
  ['CPU_BASED_CR3_LOAD_EXITING', 15, 'CR3-load exiting'],
  ['CPU_BASED_CR3_STORE_EXITING', 16, 'CR3-store exiting'],
  ['CPU_BASED_ACTIVATE_TERTIARY_CONTROLS', 17, 'Activate tertiary controls'],
  ['CPU_BASED_CR8_LOAD_EXITING', 19, 'CR8-load exiting'],
  ['CPU_BASED_CR8_STORE_EXITING', 20, 'CR8-store exiting'],
  ['CPU_BASED_TPR_SHADOW', 21, 'Use TPR shadow'],
  ['CPU_BASED_NMI_WINDOW_EXITING', 22, 'NMI-window exiting'],
  ['CPU_BASED_MOV_DR_EXITING', 23, 'MOV-DR exiting'],
  ['CPU_BASED_UNCOND_IO_EXITING', 24, 'Unconditional I/O exiting'],
  ['CPU_BASED_USE_IO_BITMAPS', 25, 'Use I/O bitmaps'],
  ['CPU_BASED_MONITOR_TRAP_FLAG', 27, 'Monitor trap flag'],
  ['CPU_BASED_USE_MSR_BITMAPS', 28, 'Use MSR bitmaps'],
  ['CPU_BASED_MONITOR_EXITING', 29, 'MONITOR exiting'],
  ['CPU_BASED_PAUSE_EXITING', 30, 'PAUSE exiting'],
  ['CPU_BASED_ACTIVATE_SECONDARY_CONTROLS', 31, 'Activate secondary controls'],
]);

// Secondary processor-based VM-execution controls (SDM vol. 3C §25.6.2, table 25-7).
export const SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES = 1 << 0;
export const SECONDARY_EXEC_ENABLE_EPT = 1 << 1;
export const SECONDARY_EXEC_DESC = 1 << 2;
export const SECONDARY_EXEC_ENABLE_RDTSCP = 1 << 3;
export const SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE = 1 << 4;
export const SECONDARY_EXEC_ENABLE_VPID = 1 << 5;
export const SECONDARY_EXEC_WBINVD_EXITING = 1 << 6;
export const SECONDARY_EXEC_UNRESTRICTED_GUEST = 1 << 7;
export const SECONDARY_EXEC_APIC_REGISTER_VIRT = 1 << 8;
export const SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY = 1 << 9;
export const SECONDARY_EXEC_PAUSE_LOOP_EXITING = 1 << 10;
export const SECONDARY_EXEC_RDRAND_EXITING = 1 << 11;
export const SECONDARY_EXEC_ENABLE_INVPCID = 1 << 12;
export const SECONDARY_EXEC_ENABLE_VMFUNC = 1 << 13;
export const SECONDARY_EXEC_SHADOW_VMCS = 1 << 14;
export const SECONDARY_EXEC_ENCLS_EXITING = 1 << 15;
export const SECONDARY_EXEC_RDSEED_EXITING = 1 << 16;
export const SECONDARY_EXEC_ENABLE_PML = 1 << 17;
export const SECONDARY_EXEC_EPT_VIOLATION_VE = 1 << 18;
export const SECONDARY_EXEC_PT_CONCEAL_VMX = 1 << 19;
export const SECONDARY_EXEC_ENABLE_XSAVES = 1 << 20;
export const SECONDARY_EXEC_PASID_TRANSLATION = 1 << 21;
export const SECONDARY_EXEC_MODE_BASED_EPT_EXEC = 1 << 22;
export const SECONDARY_EXEC_SPP = 1 << 23;
export const SECONDARY_EXEC_PT_USE_GPA = 1 << 24;
export const SECONDARY_EXEC_TSC_SCALING = 1 << 25;
export const SECONDARY_EXEC_ENABLE_USR_WAIT_PAUSE = 1 << 26;
export const SECONDARY_EXEC_ENABLE_PCONFIG = 1 << 27;
export const SECONDARY_EXEC_ENCLV_EXITING = 1 << 28;
export const SECONDARY_EXEC_BUS_LOCK_DETECTION = 1 << 30;
export const SECONDARY_EXEC_NOTIFY_VM_EXITING = 1 << 31;
export const SECONDARY_EXEC_BITS = bits([
  ['SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES', 0, 'Virtualize APIC accesses'],
  ['SECONDARY_EXEC_ENABLE_EPT', 1, 'Enable EPT'],
  ['SECONDARY_EXEC_DESC', 2, 'Descriptor-table exiting'],
  ['SECONDARY_EXEC_ENABLE_RDTSCP', 3, 'Enable RDTSCP'],
  ['SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE', 4, 'Virtualize x2APIC mode'],
  ['SECONDARY_EXEC_ENABLE_VPID', 5, 'Enable VPID'],
  ['SECONDARY_EXEC_WBINVD_EXITING', 6, 'WBINVD exiting'],
  ['SECONDARY_EXEC_UNRESTRICTED_GUEST', 7, 'Unrestricted guest'],
  ['SECONDARY_EXEC_APIC_REGISTER_VIRT', 8, 'APIC-register virtualization'],
  ['SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY', 9, 'Virtual-interrupt delivery'],
  ['SECONDARY_EXEC_PAUSE_LOOP_EXITING', 10, 'PAUSE-loop exiting'],
  ['SECONDARY_EXEC_RDRAND_EXITING', 11, 'RDRAND exiting'],
  ['SECONDARY_EXEC_ENABLE_INVPCID', 12, 'Enable INVPCID'],
  ['SECONDARY_EXEC_ENABLE_VMFUNC', 13, 'Enable VM functions'],
  ['SECONDARY_EXEC_SHADOW_VMCS', 14, 'VMCS shadowing'],
  ['SECONDARY_EXEC_ENCLS_EXITING', 15, 'Enable ENCLS exiting'],
  ['SECONDARY_EXEC_RDSEED_EXITING', 16, 'RDSEED exiting'],
  ['SECONDARY_EXEC_ENABLE_PML', 17, 'Enable PML'],
  ['SECONDARY_EXEC_EPT_VIOLATION_VE', 18, 'EPT-violation #VE'],
  ['SECONDARY_EXEC_PT_CONCEAL_VMX', 19, 'Conceal VMX from PT'],
  ['SECONDARY_EXEC_ENABLE_XSAVES', 20, 'Enable XSAVES/XRSTORS'],
  ['SECONDARY_EXEC_PASID_TRANSLATION', 21, 'PASID translation'],
  ['SECONDARY_EXEC_MODE_BASED_EPT_EXEC', 22, 'Mode-based execute control for EPT'],
  ['SECONDARY_EXEC_SPP', 23, 'Sub-page write permissions for EPT'],
  ['SECONDARY_EXEC_PT_USE_GPA', 24, 'Intel PT uses guest physical addresses'],
  ['SECONDARY_EXEC_TSC_SCALING', 25, 'Use TSC scaling'],
  ['SECONDARY_EXEC_ENABLE_USR_WAIT_PAUSE', 26, 'Enable user wait and pause'],
  ['SECONDARY_EXEC_ENABLE_PCONFIG', 27, 'Enable PCONFIG'],
  ['SECONDARY_EXEC_ENCLV_EXITING', 28, 'Enable ENCLV exiting'],
  ['SECONDARY_EXEC_BUS_LOCK_DETECTION', 30, 'VMM bus-lock detection'],
  ['SECONDARY_EXEC_NOTIFY_VM_EXITING', 31, 'Instruction timeout'],
]);

// Primary VM-exit controls (SDM vol. 3C §25.7.1, table 25-13).
export const VM_EXIT_SAVE_DEBUG_CONTROLS = 1 << 2;
export const VM_EXIT_HOST_ADDR_SPACE_SIZE = 1 << 9;
export const VM_EXIT_LOAD_IA32_PERF_GLOBAL_CTRL = 1 << 12;
export const VM_EXIT_ACK_INTR_ON_EXIT = 1 << 15;
export const VM_EXIT_SAVE_IA32_PAT = 1 << 18;
export const VM_EXIT_LOAD_IA32_PAT = 1 << 19;
export const VM_EXIT_SAVE_IA32_EFER = 1 << 20;
export const VM_EXIT_LOAD_IA32_EFER = 1 << 21;
export const VM_EXIT_SAVE_VMX_PREEMPTION_TIMER = 1 << 22;
export const VM_EXIT_CLEAR_BNDCFGS = 1 << 23;
export const VM_EXIT_PT_CONCEAL_PIP = 1 << 24;
export const VM_EXIT_CLEAR_IA32_RTIT_CTL = 1 << 25;
export const VM_EXIT_CLEAR_IA32_LBR_CTL = 1 << 26;
export const VM_EXIT_CLEAR_UINV = 1 << 27;
export const VM_EXIT_LOAD_CET_STATE = 1 << 28;
export const VM_EXIT_LOAD_IA32_PKRS = 1 << 29;
export const VM_EXIT_SAVE_IA32_PERF_GLOBAL_CTRL = 1 << 30;
export const VM_EXIT_ACTIVATE_SECONDARY_CONTROLS = 1 << 31;
export const VM_EXIT_BITS = bits([
  ['VM_EXIT_SAVE_DEBUG_CONTROLS', 2, 'Save debug controls'],
  ['VM_EXIT_HOST_ADDR_SPACE_SIZE', 9, 'Host address-space size'],
  ['VM_EXIT_LOAD_IA32_PERF_GLOBAL_CTRL', 12, 'Load IA32_PERF_GLOBAL_CTRL'],
  ['VM_EXIT_ACK_INTR_ON_EXIT', 15, 'Acknowledge interrupt on exit'],
  ['VM_EXIT_SAVE_IA32_PAT', 18, 'Save IA32_PAT'],
  ['VM_EXIT_LOAD_IA32_PAT', 19, 'Load IA32_PAT'],
  ['VM_EXIT_SAVE_IA32_EFER', 20, 'Save IA32_EFER'],
  ['VM_EXIT_LOAD_IA32_EFER', 21, 'Load IA32_EFER'],
  ['VM_EXIT_SAVE_VMX_PREEMPTION_TIMER', 22, 'Save VMX-preemption timer value'],
  ['VM_EXIT_CLEAR_BNDCFGS', 23, 'Clear IA32_BNDCFGS'],
  ['VM_EXIT_PT_CONCEAL_PIP', 24, 'Conceal VMX from PT'],
  ['VM_EXIT_CLEAR_IA32_RTIT_CTL', 25, 'Clear IA32_RTIT_CTL'],
  ['VM_EXIT_CLEAR_IA32_LBR_CTL', 26, 'Clear IA32_LBR_CTL'],
  ['VM_EXIT_CLEAR_UINV', 27, 'Clear UINV'],
  ['VM_EXIT_LOAD_CET_STATE', 28, 'Load CET state'],
  ['VM_EXIT_LOAD_IA32_PKRS', 29, 'Load PKRS'],
  ['VM_EXIT_SAVE_IA32_PERF_GLOBAL_CTRL', 30, 'Save IA32_PERF_GLOBAL_CTL'],
  ['VM_EXIT_ACTIVATE_SECONDARY_CONTROLS', 31, 'Activate secondary controls'],
]);

// VM-entry controls (SDM vol. 3C §25.8.1, table 25-15).
export const VM_ENTRY_LOAD_DEBUG_CONTROLS = 1 << 2;
export const VM_ENTRY_IA32E_MODE = 1 << 9;
export const VM_ENTRY_SMM = 1 << 10;
export const VM_ENTRY_DEACT_DUAL_MONITOR = 1 << 11;
export const VM_ENTRY_LOAD_IA32_PERF_GLOBAL_CTRL = 1 << 13;
export const VM_ENTRY_LOAD_IA32_PAT = 1 << 14;
export const VM_ENTRY_LOAD_IA32_EFER = 1 << 15;
export const VM_ENTRY_LOAD_BNDCFGS = 1 << 16;
export const VM_ENTRY_PT_CONCEAL_PIP = 1 << 17;
export const VM_ENTRY_LOAD_IA32_RTIT_CTL = 1 << 18;
export const VM_ENTRY_LOAD_UINV = 1 << 19;
export const VM_ENTRY_LOAD_CET_STATE = 1 << 20;
export const VM_ENTRY_LOAD_IA32_LBR_CTL = 1 << 21;
export const VM_ENTRY_LOAD_IA32_PKRS = 1 << 22;
export const VM_ENTRY_BITS = bits([
  ['VM_ENTRY_LOAD_DEBUG_CONTROLS', 2, 'Load debug controls'],
  ['VM_ENTRY_IA32E_MODE', 9, 'IA-32e mode guest'],
  ['VM_ENTRY_SMM', 10, 'Entry to SMM'],
  ['VM_ENTRY_DEACT_DUAL_MONITOR', 11, 'Deactivate dual-monitor treatment'],
  ['VM_ENTRY_LOAD_IA32_PERF_GLOBAL_CTRL', 13, 'Load IA32_PERF_GLOBAL_CTRL'],
  ['VM_ENTRY_LOAD_IA32_PAT', 14, 'Load IA32_PAT'],
  ['VM_ENTRY_LOAD_IA32_EFER', 15, 'Load IA32_EFER'],
  ['VM_ENTRY_LOAD_BNDCFGS', 16, 'Load IA32_BNDCFGS'],
  ['VM_ENTRY_PT_CONCEAL_PIP', 17, 'Conceal VMX from PT'],
  ['VM_ENTRY_LOAD_IA32_RTIT_CTL', 18, 'Load IA32_RTIT_CTL'],
  ['VM_ENTRY_LOAD_UINV', 19, 'Load UINV'],
  ['VM_ENTRY_LOAD_CET_STATE', 20, 'Load CET state'],
  ['VM_ENTRY_LOAD_IA32_LBR_CTL', 21, 'Load guest IA32_LBR_CTL'],
  ['VM_ENTRY_LOAD_IA32_PKRS', 22, 'Load PKRS'],
]);

/** Names of the set bits of a control word, with `bit N` for bits the table does not name (for views and logs). */
export function controlBitNames(value: number, table: readonly ControlBit[]): string[] {
  const out: string[] = [];
  for (let b = 0; b < 32; b++) {
    if (((value >>> b) & 1) === 0) continue;
    out.push(table.find((c) => c.bit === b)?.name ?? `bit ${b}`);
  }
  return out;
}

// Named predicates over control words (Bochs style). `proc` = primary processor-based controls; `sec` = the
// secondary controls as they take effect, i.e. `effectiveSecondary(proc, secondaryField)`.
const on = (word: number, mask: number): boolean => (word & mask) !== 0;
export const extIntExiting = (pin: number): boolean => on(pin, PIN_BASED_EXT_INTR_MASK);
export const nmiExiting = (pin: number): boolean => on(pin, PIN_BASED_NMI_EXITING);
export const virtualNmis = (pin: number): boolean => on(pin, PIN_BASED_VIRTUAL_NMIS);
export const preemptionTimerActive = (pin: number): boolean => on(pin, PIN_BASED_VMX_PREEMPTION_TIMER);
export const interruptWindowExiting = (proc: number): boolean => on(proc, CPU_BASED_INTR_WINDOW_EXITING);
export const useTscOffsetting = (proc: number): boolean => on(proc, CPU_BASED_USE_TSC_OFFSETTING);
export const hltExiting = (proc: number): boolean => on(proc, CPU_BASED_HLT_EXITING);
export const invlpgExiting = (proc: number): boolean => on(proc, CPU_BASED_INVLPG_EXITING);
export const mwaitExiting = (proc: number): boolean => on(proc, CPU_BASED_MWAIT_EXITING);
export const rdpmcExiting = (proc: number): boolean => on(proc, CPU_BASED_RDPMC_EXITING);
export const rdtscExiting = (proc: number): boolean => on(proc, CPU_BASED_RDTSC_EXITING);
export const cr3LoadExiting = (proc: number): boolean => on(proc, CPU_BASED_CR3_LOAD_EXITING);
export const cr3StoreExiting = (proc: number): boolean => on(proc, CPU_BASED_CR3_STORE_EXITING);
export const cr8LoadExiting = (proc: number): boolean => on(proc, CPU_BASED_CR8_LOAD_EXITING);
export const cr8StoreExiting = (proc: number): boolean => on(proc, CPU_BASED_CR8_STORE_EXITING);
export const useTprShadow = (proc: number): boolean => on(proc, CPU_BASED_TPR_SHADOW);
export const nmiWindowExiting = (proc: number): boolean => on(proc, CPU_BASED_NMI_WINDOW_EXITING);
export const movDrExiting = (proc: number): boolean => on(proc, CPU_BASED_MOV_DR_EXITING);
export const unconditionalIoExiting = (proc: number): boolean => on(proc, CPU_BASED_UNCOND_IO_EXITING);
export const useIoBitmaps = (proc: number): boolean => on(proc, CPU_BASED_USE_IO_BITMAPS);
export const monitorTrapFlag = (proc: number): boolean => on(proc, CPU_BASED_MONITOR_TRAP_FLAG);
export const useMsrBitmaps = (proc: number): boolean => on(proc, CPU_BASED_USE_MSR_BITMAPS);
export const monitorExiting = (proc: number): boolean => on(proc, CPU_BASED_MONITOR_EXITING);
export const pauseExiting = (proc: number): boolean => on(proc, CPU_BASED_PAUSE_EXITING);
export const activateSecondaryControls = (proc: number): boolean => on(proc, CPU_BASED_ACTIVATE_SECONDARY_CONTROLS);
/** The secondary controls in effect: all 0 when "activate secondary controls" is 0 (SDM vol. 3C §25.6.2). */
export const effectiveSecondary = (proc: number, sec: number): number => (activateSecondaryControls(proc) ? sec >>> 0 : 0);
export const enableEpt = (sec: number): boolean => on(sec, SECONDARY_EXEC_ENABLE_EPT);
export const descriptorTableExiting = (sec: number): boolean => on(sec, SECONDARY_EXEC_DESC);
export const enableRdtscp = (sec: number): boolean => on(sec, SECONDARY_EXEC_ENABLE_RDTSCP);
export const enableVpid = (sec: number): boolean => on(sec, SECONDARY_EXEC_ENABLE_VPID);
export const wbinvdExiting = (sec: number): boolean => on(sec, SECONDARY_EXEC_WBINVD_EXITING);
export const unrestrictedGuest = (sec: number): boolean => on(sec, SECONDARY_EXEC_UNRESTRICTED_GUEST);
export const saveDebugControls = (exit: number): boolean => on(exit, VM_EXIT_SAVE_DEBUG_CONTROLS);
export const hostAddressSpaceSize = (exit: number): boolean => on(exit, VM_EXIT_HOST_ADDR_SPACE_SIZE);
export const ackInterruptOnExit = (exit: number): boolean => on(exit, VM_EXIT_ACK_INTR_ON_EXIT);
export const exitSaveIa32Pat = (exit: number): boolean => on(exit, VM_EXIT_SAVE_IA32_PAT);
export const exitLoadIa32Pat = (exit: number): boolean => on(exit, VM_EXIT_LOAD_IA32_PAT);
export const exitSaveIa32Efer = (exit: number): boolean => on(exit, VM_EXIT_SAVE_IA32_EFER);
export const exitLoadIa32Efer = (exit: number): boolean => on(exit, VM_EXIT_LOAD_IA32_EFER);
export const savePreemptionTimer = (exit: number): boolean => on(exit, VM_EXIT_SAVE_VMX_PREEMPTION_TIMER);
export const loadDebugControls = (entry: number): boolean => on(entry, VM_ENTRY_LOAD_DEBUG_CONTROLS);
export const ia32eModeGuest = (entry: number): boolean => on(entry, VM_ENTRY_IA32E_MODE);
export const entryLoadIa32Pat = (entry: number): boolean => on(entry, VM_ENTRY_LOAD_IA32_PAT);
export const entryLoadIa32Efer = (entry: number): boolean => on(entry, VM_ENTRY_LOAD_IA32_EFER);

// Interruption-information format: VM-entry interruption information, VM-exit interruption information and
// IDT-vectoring information (SDM vol. 3C §25.8.3 table 25-17, §25.9.2 tables 25-19 and 25-20).
export const INTR_INFO_VECTOR_MASK = 0xff; // 7:0
export const INTR_INFO_INTR_TYPE_MASK = 0x700; // 10:8
export const INTR_INFO_INTR_TYPE_SHIFT = 8;
export const INTR_INFO_DELIVER_CODE_MASK = 0x800; // 11
export const INTR_INFO_UNBLOCK_NMI = 0x1000; // 12 (exit interruption information: NMI unblocking due to IRET)
export const INTR_INFO_VALID_MASK = 0x80000000; // 31
export const INTR_INFO_RESVD_BITS_MASK = 0x7ffff000; // 30:12 of the VM-entry field
export const INTR_TYPE_EXT_INTR = 0;
export const INTR_TYPE_NMI_INTR = 2;
export const INTR_TYPE_HARD_EXCEPTION = 3;
export const INTR_TYPE_SOFT_INTR = 4;
export const INTR_TYPE_PRIV_SW_EXCEPTION = 5;
export const INTR_TYPE_SOFT_EXCEPTION = 6;
export const INTR_TYPE_OTHER_EVENT = 7;
export const INTR_TYPE_NAMES: readonly string[] = [
  'external interrupt', 'reserved', 'NMI', 'hardware exception', 'software interrupt',
  'privileged software exception', 'software exception', 'other event',
];

export interface InterruptionInfo {
  readonly vector: number;
  readonly type: number;
  readonly typeName: string;
  readonly errorCodeValid: boolean;
  readonly nmiUnblocking: boolean;
  readonly valid: boolean;
}

export function decodeInterruptionInfo(v: number): InterruptionInfo {
  const type = (v & INTR_INFO_INTR_TYPE_MASK) >>> INTR_INFO_INTR_TYPE_SHIFT;
  return {
    vector: v & INTR_INFO_VECTOR_MASK,
    type,
    typeName: INTR_TYPE_NAMES[type],
    errorCodeValid: (v & INTR_INFO_DELIVER_CODE_MASK) !== 0,
    nmiUnblocking: (v & INTR_INFO_UNBLOCK_NMI) !== 0,
    valid: (v & INTR_INFO_VALID_MASK) !== 0,
  };
}

/** Compose a valid interruption-information value (unsigned 32-bit). */
export function makeInterruptionInfo(vector: number, type: number, errorCodeValid = false, nmiUnblocking = false): number {
  return ((INTR_INFO_VALID_MASK | (vector & 0xff) | ((type & 7) << 8) | (errorCodeValid ? INTR_INFO_DELIVER_CODE_MASK : 0) |
    (nmiUnblocking ? INTR_INFO_UNBLOCK_NMI : 0)) >>> 0);
}

// Guest activity state (SDM vol. 3C §25.4.2).
export const GUEST_ACTIVITY_ACTIVE = 0;
export const GUEST_ACTIVITY_HLT = 1;
export const GUEST_ACTIVITY_SHUTDOWN = 2;
export const GUEST_ACTIVITY_WAIT_SIPI = 3;
export const GUEST_ACTIVITY_NAMES: readonly string[] = ['active', 'HLT', 'shutdown', 'wait-for-SIPI'];

// Guest interruptibility state (SDM vol. 3C §25.4.2, table 25-3).
export const GUEST_INTR_STATE_STI = 1 << 0;
export const GUEST_INTR_STATE_MOV_SS = 1 << 1;
export const GUEST_INTR_STATE_SMI = 1 << 2;
export const GUEST_INTR_STATE_NMI = 1 << 3;
export const GUEST_INTR_STATE_ENCLAVE_INTR = 1 << 4;
export const GUEST_INTR_STATE_BITS = bits([
  ['GUEST_INTR_STATE_STI', 0, 'Blocking by STI'],
  ['GUEST_INTR_STATE_MOV_SS', 1, 'Blocking by MOV SS'],
  ['GUEST_INTR_STATE_SMI', 2, 'Blocking by SMI'],
  ['GUEST_INTR_STATE_NMI', 3, 'Blocking by NMI'],
  ['GUEST_INTR_STATE_ENCLAVE_INTR', 4, 'Enclave interruption'],
]);

// Pending debug exceptions (SDM vol. 3C §25.4.2, table 25-4).
export const PENDING_DBG_B0_B3 = 0xf; // 3:0
export const PENDING_DBG_ENABLED_BP = 1 << 12;
export const PENDING_DBG_BS = 1 << 14;
export const PENDING_DBG_RTM = 1 << 16;

// EPT pointer (SDM vol. 3C §25.6.11, table 25-9).
export const VMX_EPTP_MT_MASK = 0x7; // 2:0 memory type
export const VMX_EPTP_MT_UC = 0;
export const VMX_EPTP_MT_WB = 6;
export const VMX_EPTP_PWL_MASK = 0x38; // 5:3 page-walk length minus 1
export const VMX_EPTP_PWL_SHIFT = 3;
export const VMX_EPTP_AD_ENABLE_BIT = 1 << 6;
export const VMX_EPTP_SSS_BIT = 1 << 7; // supervisor shadow-stack control

export interface Eptp {
  readonly memoryType: number;
  readonly pageWalkLength: number;
  readonly adEnabled: boolean;
  readonly sssEnabled: boolean;
  /** Physical address of the EPT PML4 table (bits N-1:12). */
  readonly pml4: bigint;
}

export function decodeEptp(eptp: bigint): Eptp {
  const lo = Number(eptp & 0xfffn);
  return {
    memoryType: lo & VMX_EPTP_MT_MASK,
    pageWalkLength: ((lo & VMX_EPTP_PWL_MASK) >>> VMX_EPTP_PWL_SHIFT) + 1,
    adEnabled: (lo & VMX_EPTP_AD_ENABLE_BIT) !== 0,
    sssEnabled: (lo & VMX_EPTP_SSS_BIT) !== 0,
    pml4: eptp & ~0xfffn & 0xffff_ffff_ffff_ffffn,
  };
}

/** An EPTP with write-back memory type and a 4-level walk (what a hypervisor normally writes). */
export function makeEptp(pml4Hpa: number | bigint, adEnable = false): bigint {
  return (BigInt(pml4Hpa) & ~0xfffn) | BigInt(VMX_EPTP_MT_WB | (3 << VMX_EPTP_PWL_SHIFT) | (adEnable ? VMX_EPTP_AD_ENABLE_BIT : 0));
}

// Segment access rights as the VMCS holds them (SDM vol. 3C §25.4.1, table 25-2).
export const VMX_AR_TYPE_MASK = 0xf;
export const VMX_AR_S_MASK = 1 << 4;
export const VMX_AR_DPL_SHIFT = 5;
export const VMX_AR_P_MASK = 1 << 7;
export const VMX_AR_AVL_MASK = 1 << 12;
export const VMX_AR_L_MASK = 1 << 13;
export const VMX_AR_DB_MASK = 1 << 14;
export const VMX_AR_G_MASK = 1 << 15;
export const VMX_AR_UNUSABLE_MASK = 1 << 16;
export const VMX_AR_RESERVED_MASK = 0xfffe0f00; // bits 11:8 and 31:17

export interface AccessRights {
  readonly type: number;
  readonly s: boolean;
  readonly dpl: number;
  readonly p: boolean;
  readonly avl: boolean;
  readonly l: boolean;
  readonly db: boolean;
  readonly g: boolean;
  readonly unusable: boolean;
}

export function decodeAccessRights(ar: number): AccessRights {
  return {
    type: ar & VMX_AR_TYPE_MASK,
    s: (ar & VMX_AR_S_MASK) !== 0,
    dpl: (ar >>> VMX_AR_DPL_SHIFT) & 3,
    p: (ar & VMX_AR_P_MASK) !== 0,
    avl: (ar & VMX_AR_AVL_MASK) !== 0,
    l: (ar & VMX_AR_L_MASK) !== 0,
    db: (ar & VMX_AR_DB_MASK) !== 0,
    g: (ar & VMX_AR_G_MASK) !== 0,
    unusable: (ar & VMX_AR_UNUSABLE_MASK) !== 0,
  };
}
