// VM-instruction error numbers (SDM vol. 3C §31.4, table 31-1) with their texts, and the VMfailValid result value.

/** Error numbers as Linux `enum vm_instruction_error_number` names them (without VMXERR_). */
export const VMXERR_VMCALL_IN_VMX_ROOT_OPERATION = 1;
export const VMXERR_VMCLEAR_INVALID_ADDRESS = 2;
export const VMXERR_VMCLEAR_VMXON_POINTER = 3;
export const VMXERR_VMLAUNCH_NONCLEAR_VMCS = 4;
export const VMXERR_VMRESUME_NONLAUNCHED_VMCS = 5;
export const VMXERR_VMRESUME_AFTER_VMXOFF = 6;
export const VMXERR_ENTRY_INVALID_CONTROL_FIELD = 7;
export const VMXERR_ENTRY_INVALID_HOST_STATE_FIELD = 8;
export const VMXERR_VMPTRLD_INVALID_ADDRESS = 9;
export const VMXERR_VMPTRLD_VMXON_POINTER = 10;
export const VMXERR_VMPTRLD_INCORRECT_VMCS_REVISION_ID = 11;
export const VMXERR_UNSUPPORTED_VMCS_COMPONENT = 12;
export const VMXERR_VMWRITE_READ_ONLY_VMCS_COMPONENT = 13;
export const VMXERR_VMXON_IN_VMX_ROOT_OPERATION = 15;
export const VMXERR_ENTRY_INVALID_EXECUTIVE_VMCS_POINTER = 16;
export const VMXERR_ENTRY_NONLAUNCHED_EXECUTIVE_VMCS = 17;
export const VMXERR_ENTRY_EXECUTIVE_VMCS_POINTER_NOT_VMXON_POINTER = 18;
export const VMXERR_VMCALL_NONCLEAR_VMCS = 19;
export const VMXERR_VMCALL_INVALID_VM_EXIT_CONTROL_FIELDS = 20;
export const VMXERR_VMCALL_INCORRECT_MSEG_REVISION_ID = 22;
export const VMXERR_VMXOFF_UNDER_DUAL_MONITOR_TREATMENT_OF_SMIS_AND_SMM = 23;
export const VMXERR_VMCALL_INVALID_SMM_MONITOR_FEATURES = 24;
export const VMXERR_ENTRY_INVALID_VM_EXECUTION_CONTROL_FIELDS_IN_EXECUTIVE_VMCS = 25;
export const VMXERR_ENTRY_EVENTS_BLOCKED_BY_MOV_SS = 26;
export const VMXERR_INVALID_OPERAND_TO_INVEPT_INVVPID = 28;

/** Table 31-1: error number → description (numbers 14, 21 and 27 are reserved). */
export const VM_INSTRUCTION_ERRORS: ReadonlyMap<number, string> = new Map([
  [1, 'VMCALL executed in VMX root operation'],
  [2, 'VMCLEAR with invalid physical address'],
  [3, 'VMCLEAR with VMXON pointer'],
  [4, 'VMLAUNCH with non-clear VMCS'],
  [5, 'VMRESUME with non-launched VMCS'],
  [6, 'VMRESUME after VMXOFF (VMXOFF and VMXON between VMLAUNCH and VMRESUME)'],
  [7, 'VM entry with invalid control field(s)'],
  [8, 'VM entry with invalid host-state field(s)'],
  [9, 'VMPTRLD with invalid physical address'],
  [10, 'VMPTRLD with VMXON pointer'],
  [11, 'VMPTRLD with incorrect VMCS revision identifier'],
  [12, 'VMREAD/VMWRITE from/to unsupported VMCS component'],
  [13, 'VMWRITE to read-only VMCS component'],
  [15, 'VMXON executed in VMX root operation'],
  [16, 'VM entry with invalid executive-VMCS pointer'],
  [17, 'VM entry with non-launched executive VMCS'],
  [18, 'VM entry with executive-VMCS pointer not VMXON pointer (when attempting to deactivate the dual-monitor treatment of SMIs and SMM)'],
  [19, 'VMCALL with non-clear VMCS (when attempting to activate the dual-monitor treatment of SMIs and SMM)'],
  [20, 'VMCALL with invalid VM-exit control fields'],
  [22, 'VMCALL with incorrect MSEG revision identifier (when attempting to activate the dual-monitor treatment of SMIs and SMM)'],
  [23, 'VMXOFF under dual-monitor treatment of SMIs and SMM'],
  [24, 'VMCALL with invalid SMM-monitor features (when attempting to activate the dual-monitor treatment of SMIs and SMM)'],
  [25, 'VM entry with invalid VM-execution control fields in executive VMCS (when attempting to return from SMM)'],
  [26, 'VM entry with events blocked by MOV SS'],
  [28, 'Invalid operand to INVEPT/INVVPID'],
]);

/** The text of an error number ("reserved error number N" for unknown ones). */
export function vmInstructionErrorText(n: number): string {
  return VM_INSTRUCTION_ERRORS.get(n) ?? `reserved error number ${n}`;
}

/** A VMX instruction's VMfailValid outcome: the number it stores in the VM-instruction error field (SDM vol. 3C §31.2). */
export interface VmxInstrError {
  readonly kind: 'vmx-instr-error';
  readonly error: number;
  readonly text: string;
}

const CACHE = new Map<number, VmxInstrError>();
/** The (shared, frozen) VmxInstrError for error number `n`; no allocation after the first use. */
export function vmxInstrError(n: number): VmxInstrError {
  let e = CACHE.get(n);
  if (!e) {
    e = Object.freeze({ kind: 'vmx-instr-error' as const, error: n, text: vmInstructionErrorText(n) });
    CACHE.set(n, e);
  }
  return e;
}

export function isVmxInstrError(v: unknown): v is VmxInstrError {
  return typeof v === 'object' && v !== null && (v as VmxInstrError).kind === 'vmx-instr-error';
}
