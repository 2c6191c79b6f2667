// Basic VM-exit reasons (SDM vol. 3C appendix C, table C-1) named as Linux uapi/asm/vmx.h, and the exit-reason field's flag bits.

/**
 * [number, Linux name without EXIT_REASON_ (ours in the same style where Linux has none), SDM description].
 * Numbers 35, 38 and 42 are not used by the SDM; 71 is Linux's SGX_CONFLICT (not in the SDM, omitted).
 */
const ROWS = [
  [0, 'EXCEPTION_NMI', 'Exception or non-maskable interrupt (NMI)'],
  [1, 'EXTERNAL_INTERRUPT', 'External interrupt'],
  [2, 'TRIPLE_FAULT', 'Triple fault'],
  [3, 'INIT_SIGNAL', 'INIT signal'],
  [4, 'SIPI_SIGNAL', 'Start-up IPI (SIPI)'],
  [5, 'IO_SMI', 'I/O system-management interrupt (SMI)'],
  [6, 'OTHER_SMI', 'Other SMI'],
  [7, 'INTERRUPT_WINDOW', 'Interrupt window'],
  [8, 'NMI_WINDOW', 'NMI window'],
  [9, 'TASK_SWITCH', 'Task switch'],
  [10, 'CPUID', 'CPUID'],
  [11, 'GETSEC', 'GETSEC'],
  [12, 'HLT', 'HLT'],
  [13, 'INVD', 'INVD'],
  [14, 'INVLPG', 'INVLPG'],
  [15, 'RDPMC', 'RDPMC'],
  [16, 'RDTSC', 'RDTSC'],
  [17, 'RSM', 'RSM'],
  [18, 'VMCALL', 'VMCALL'],
  [19, 'VMCLEAR', 'VMCLEAR'],
  [20, 'VMLAUNCH', 'VMLAUNCH'],
  [21, 'VMPTRLD', 'VMPTRLD'],
  [22, 'VMPTRST', 'VMPTRST'],
  [23, 'VMREAD', 'VMREAD'],
  [24, 'VMRESUME', 'VMRESUME'],
  [25, 'VMWRITE', 'VMWRITE'],
  [26, 'VMOFF', 'VMXOFF'],
  [27, 'VMON', 'VMXON'],
  [28, 'CR_ACCESS', 'Control-register accesses'],
  [29, 'DR_ACCESS', 'MOV DR'],
  [30, 'IO_INSTRUCTION', 'I/O instruction'],
  [31, 'MSR_READ', 'RDMSR'],
  [32, 'MSR_WRITE', 'WRMSR'],
  [33, 'INVALID_STATE', 'VM-entry failure due to invalid guest state'],
  [34, 'MSR_LOAD_FAIL', 'VM-entry failure due to MSR loading'],
  [36, 'MWAIT_INSTRUCTION', 'MWAIT'],
  [37, 'MONITOR_TRAP_FLAG', 'Monitor trap flag'],
  [39, 'MONITOR_INSTRUCTION', 'MONITOR'],
  [40, 'PAUSE_INSTRUCTION', 'PAUSE'],
  [41, 'MCE_DURING_VMENTRY', 'VM-entry failure due to machine-check event'],
  [43, 'TPR_BELOW_THRESHOLD', 'TPR below threshold'],
  [44, 'APIC_ACCESS', 'APIC access'],
  [45, 'EOI_INDUCED', 'Virtualized EOI'],
  [46, 'GDTR_IDTR', 'Access to GDTR or IDTR'],
  [47, 'LDTR_TR', 'Access to LDTR or TR'],
  [48, 'EPT_VIOLATION', 'EPT violation'],
  [49, 'EPT_MISCONFIG', 'EPT misconfiguration'],
  [50, 'INVEPT', 'INVEPT'],
  [51, 'RDTSCP', 'RDTSCP'],
  [52, 'PREEMPTION_TIMER', 'VMX-preemption timer expired'],
  [53, 'INVVPID', 'INVVPID'],
  [54, 'WBINVD', 'WBINVD or WBNOINVD'],
  [55, 'XSETBV', 'XSETBV'],
  [56, 'APIC_WRITE', 'APIC write'],
  [57, 'RDRAND', 'RDRAND'],
  [58, 'INVPCID', 'INVPCID'],
  [59, 'VMFUNC', 'VMFUNC'],
  [60, 'ENCLS', 'ENCLS'],
  [61, 'RDSEED', 'RDSEED'],
  [62, 'PML_FULL', 'Page-modification log full'],
  [63, 'XSAVES', 'XSAVES'],
  [64, 'XRSTORS', 'XRSTORS'],
  [65, 'PCONFIG', 'PCONFIG'],
  [66, 'SPP_EVENT', 'SPP-related event'],
  [67, 'UMWAIT', 'UMWAIT'],
  [68, 'TPAUSE', 'TPAUSE'],
  [69, 'LOADIWKEY', 'LOADIWKEY'],
  [70, 'ENCLV', 'ENCLV'],
  [72, 'ENQCMD_PASID_FAIL', 'ENQCMD PASID translation failure'],
  [73, 'ENQCMDS_PASID_FAIL', 'ENQCMDS PASID translation failure'],
  [74, 'BUS_LOCK', 'Bus lock'],
  [75, 'NOTIFY', 'Instruction timeout'],
  [76, 'SEAMCALL', 'SEAMCALL'],
  [77, 'TDCALL', 'TDCALL'],
  [78, 'RDMSRLIST', 'RDMSRLIST'],
  [79, 'WRMSRLIST', 'WRMSRLIST'],
  [84, 'MSR_READ_IMM', 'RDMSR with immediate operand'],
  [85, 'MSR_WRITE_IMM', 'WRMSRNS with immediate operand'],
] as const;

export type ExitReasonName = (typeof ROWS)[number][1];

export interface ExitReason {
  readonly number: number;
  readonly name: ExitReasonName;
  readonly description: string;
}

export const EXIT_REASONS: readonly ExitReason[] = ROWS.map(([number, name, description]) => ({ number, name, description }));

const BY_NUMBER = new Map<number, ExitReason>(EXIT_REASONS.map((r) => [r.number, r]));
const BY_NAME = new Map<string, ExitReason>(EXIT_REASONS.map((r) => [r.name, r]));
/** Names by basic reason number, up to the highest defined (an array: looked up at every exit). */
const NAME_BY_NUMBER: string[] = [];
for (const r of EXIT_REASONS) NAME_BY_NUMBER[r.number] = r.name;
for (let k = 0; k < NAME_BY_NUMBER.length; k++) if (NAME_BY_NUMBER[k] === undefined) NAME_BY_NUMBER[k] = '';

/** Basic exit reason numbers by name, e.g. `EXIT_REASON.HLT === 12`. */
export const EXIT_REASON = Object.freeze(Object.fromEntries(EXIT_REASONS.map((r) => [r.name, r.number]))) as
  Readonly<Record<ExitReasonName, number>>;

// Exit-reason field (SDM vol. 3C §25.9.1, table 25-18 "Format of Exit Reason").
export const EXIT_REASON_BASIC_MASK = 0xffff; // bits 15:0 basic exit reason (bit 16 always 0)
export const EXIT_REASON_BUS_LOCK_PREEMPTED = 1 << 26; // a bus lock was asserted before the VM exit
export const EXIT_REASON_ENCLAVE_MODE = 1 << 27; // VM exit incident to enclave mode
export const EXIT_REASON_PENDING_MTF = 1 << 28; // pending MTF VM exit
export const EXIT_REASON_FROM_VMX_ROOT = 1 << 29; // VM exit from VMX root operation (SMM)
export const EXIT_REASON_FAILED_VMENTRY = 0x80000000; // bit 31: VM-entry failure (Linux VMX_EXIT_REASONS_FAILED_VMENTRY)

/** The basic exit reason's name, or `UNKNOWN_<n>`; accepts a whole exit-reason field (flags are ignored). */
export function exitReasonName(n: number): string {
  const basic = n & EXIT_REASON_BASIC_MASK;
  const name = basic < NAME_BY_NUMBER.length ? NAME_BY_NUMBER[basic] : '';
  return name !== '' ? name : `UNKNOWN_${basic}`;
}

export function exitReasonByNumber(n: number): ExitReason | undefined {
  return BY_NUMBER.get(n & EXIT_REASON_BASIC_MASK);
}

export function exitReasonByName(name: string): ExitReason | undefined {
  return BY_NAME.get(name);
}

/** A readable form of a whole exit-reason field, e.g. "INVALID_STATE (33) | VM-entry failure". */
export function describeExitReason(field: number): string {
  const parts = [`${exitReasonName(field)} (${field & EXIT_REASON_BASIC_MASK})`];
  if (field & EXIT_REASON_BUS_LOCK_PREEMPTED) parts.push('bus lock');
  if (field & EXIT_REASON_ENCLAVE_MODE) parts.push('enclave mode');
  if (field & EXIT_REASON_PENDING_MTF) parts.push('pending MTF');
  if (field & EXIT_REASON_FROM_VMX_ROOT) parts.push('from VMX root');
  if (field & EXIT_REASON_FAILED_VMENTRY) parts.push('VM-entry failure');
  return parts.join(' | ');
}
