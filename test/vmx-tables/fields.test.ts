// VMCS field table: encodings against Linux's enum vmcs_field and the SDM's encoding layout; lookups and storage slots.
import { describe, expect, it } from 'vitest';
import {
  VMCS_FIELDS, VMCS_GROUPS, VMCS_MAX_INDEX, isVmcsFieldName, vmcsEncoding, vmcsField, vmcsFieldByEncoding,
} from '../../emulator/vmx/fields.js';

/** arch/x86/include/asm/vmx.h `enum vmcs_field` (Linux 6.x, full-access encodings), copied from the published header. */
const LINUX_VMCS_FIELD: Record<string, number> = {
  VIRTUAL_PROCESSOR_ID: 0x00000000, POSTED_INTR_NV: 0x00000002, LAST_PID_POINTER_INDEX: 0x00000008,
  GUEST_ES_SELECTOR: 0x00000800, GUEST_CS_SELECTOR: 0x00000802, GUEST_SS_SELECTOR: 0x00000804,
  GUEST_DS_SELECTOR: 0x00000806, GUEST_FS_SELECTOR: 0x00000808, GUEST_GS_SELECTOR: 0x0000080a,
  GUEST_LDTR_SELECTOR: 0x0000080c, GUEST_TR_SELECTOR: 0x0000080e, GUEST_INTR_STATUS: 0x00000810,
  GUEST_PML_INDEX: 0x00000812, HOST_ES_SELECTOR: 0x00000c00, HOST_CS_SELECTOR: 0x00000c02,
  HOST_SS_SELECTOR: 0x00000c04, HOST_DS_SELECTOR: 0x00000c06, HOST_FS_SELECTOR: 0x00000c08,
  HOST_GS_SELECTOR: 0x00000c0a, HOST_TR_SELECTOR: 0x00000c0c, IO_BITMAP_A: 0x00002000, IO_BITMAP_B: 0x00002002,
  MSR_BITMAP: 0x00002004, VM_EXIT_MSR_STORE_ADDR: 0x00002006, VM_EXIT_MSR_LOAD_ADDR: 0x00002008,
  VM_ENTRY_MSR_LOAD_ADDR: 0x0000200a, PML_ADDRESS: 0x0000200e, TSC_OFFSET: 0x00002010,
  VIRTUAL_APIC_PAGE_ADDR: 0x00002012, APIC_ACCESS_ADDR: 0x00002014, POSTED_INTR_DESC_ADDR: 0x00002016,
  VM_FUNCTION_CONTROL: 0x00002018, EPT_POINTER: 0x0000201a, EOI_EXIT_BITMAP0: 0x0000201c,
  EOI_EXIT_BITMAP1: 0x0000201e, EOI_EXIT_BITMAP2: 0x00002020, EOI_EXIT_BITMAP3: 0x00002022,
  EPTP_LIST_ADDRESS: 0x00002024, VMREAD_BITMAP: 0x00002026, VMWRITE_BITMAP: 0x00002028,
  VE_INFORMATION_ADDRESS: 0x0000202a, XSS_EXIT_BITMAP: 0x0000202c, ENCLS_EXITING_BITMAP: 0x0000202e,
  TSC_MULTIPLIER: 0x00002032, TERTIARY_VM_EXEC_CONTROL: 0x00002034, SHARED_EPT_POINTER: 0x0000203c,
  PID_POINTER_TABLE: 0x00002042, GUEST_PHYSICAL_ADDRESS: 0x00002400, VMCS_LINK_POINTER: 0x00002800,
  GUEST_IA32_DEBUGCTL: 0x00002802, GUEST_IA32_PAT: 0x00002804, GUEST_IA32_EFER: 0x00002806,
  GUEST_IA32_PERF_GLOBAL_CTRL: 0x00002808, GUEST_PDPTR0: 0x0000280a, GUEST_PDPTR1: 0x0000280c,
  GUEST_PDPTR2: 0x0000280e, GUEST_PDPTR3: 0x00002810, GUEST_BNDCFGS: 0x00002812, GUEST_IA32_RTIT_CTL: 0x00002814,
  HOST_IA32_PAT: 0x00002c00, HOST_IA32_EFER: 0x00002c02, HOST_IA32_PERF_GLOBAL_CTRL: 0x00002c04,
  PIN_BASED_VM_EXEC_CONTROL: 0x00004000, CPU_BASED_VM_EXEC_CONTROL: 0x00004002, EXCEPTION_BITMAP: 0x00004004,
  PAGE_FAULT_ERROR_CODE_MASK: 0x00004006, PAGE_FAULT_ERROR_CODE_MATCH: 0x00004008, CR3_TARGET_COUNT: 0x0000400a,
  VM_EXIT_CONTROLS: 0x0000400c, VM_EXIT_MSR_STORE_COUNT: 0x0000400e, VM_EXIT_MSR_LOAD_COUNT: 0x00004010,
  VM_ENTRY_CONTROLS: 0x00004012, VM_ENTRY_MSR_LOAD_COUNT: 0x00004014, VM_ENTRY_INTR_INFO_FIELD: 0x00004016,
  VM_ENTRY_EXCEPTION_ERROR_CODE: 0x00004018, VM_ENTRY_INSTRUCTION_LEN: 0x0000401a, TPR_THRESHOLD: 0x0000401c,
  SECONDARY_VM_EXEC_CONTROL: 0x0000401e, PLE_GAP: 0x00004020, PLE_WINDOW: 0x00004022, NOTIFY_WINDOW: 0x00004024,
  VM_INSTRUCTION_ERROR: 0x00004400, VM_EXIT_REASON: 0x00004402, VM_EXIT_INTR_INFO: 0x00004404,
  VM_EXIT_INTR_ERROR_CODE: 0x00004406, IDT_VECTORING_INFO_FIELD: 0x00004408, IDT_VECTORING_ERROR_CODE: 0x0000440a,
  VM_EXIT_INSTRUCTION_LEN: 0x0000440c, VMX_INSTRUCTION_INFO: 0x0000440e, GUEST_ES_LIMIT: 0x00004800,
  GUEST_CS_LIMIT: 0x00004802, GUEST_SS_LIMIT: 0x00004804, GUEST_DS_LIMIT: 0x00004806, GUEST_FS_LIMIT: 0x00004808,
  GUEST_GS_LIMIT: 0x0000480a, GUEST_LDTR_LIMIT: 0x0000480c, GUEST_TR_LIMIT: 0x0000480e,
  GUEST_GDTR_LIMIT: 0x00004810, GUEST_IDTR_LIMIT: 0x00004812, GUEST_ES_AR_BYTES: 0x00004814,
  GUEST_CS_AR_BYTES: 0x00004816, GUEST_SS_AR_BYTES: 0x00004818, GUEST_DS_AR_BYTES: 0x0000481a,
  GUEST_FS_AR_BYTES: 0x0000481c, GUEST_GS_AR_BYTES: 0x0000481e, GUEST_LDTR_AR_BYTES: 0x00004820,
  GUEST_TR_AR_BYTES: 0x00004822, GUEST_INTERRUPTIBILITY_INFO: 0x00004824, GUEST_ACTIVITY_STATE: 0x00004826,
  GUEST_SYSENTER_CS: 0x0000482a, VMX_PREEMPTION_TIMER_VALUE: 0x0000482e, HOST_IA32_SYSENTER_CS: 0x00004c00,
  CR0_GUEST_HOST_MASK: 0x00006000, CR4_GUEST_HOST_MASK: 0x00006002, CR0_READ_SHADOW: 0x00006004,
  CR4_READ_SHADOW: 0x00006006, CR3_TARGET_VALUE0: 0x00006008, CR3_TARGET_VALUE1: 0x0000600a,
  CR3_TARGET_VALUE2: 0x0000600c, CR3_TARGET_VALUE3: 0x0000600e, EXIT_QUALIFICATION: 0x00006400,
  GUEST_LINEAR_ADDRESS: 0x0000640a, GUEST_CR0: 0x00006800, GUEST_CR3: 0x00006802, GUEST_CR4: 0x00006804,
  GUEST_ES_BASE: 0x00006806, GUEST_CS_BASE: 0x00006808, GUEST_SS_BASE: 0x0000680a, GUEST_DS_BASE: 0x0000680c,
  GUEST_FS_BASE: 0x0000680e, GUEST_GS_BASE: 0x00006810, GUEST_LDTR_BASE: 0x00006812, GUEST_TR_BASE: 0x00006814,
  GUEST_GDTR_BASE: 0x00006816, GUEST_IDTR_BASE: 0x00006818, GUEST_DR7: 0x0000681a, GUEST_RSP: 0x0000681c,
  GUEST_RIP: 0x0000681e, GUEST_RFLAGS: 0x00006820, GUEST_PENDING_DBG_EXCEPTIONS: 0x00006822,
  GUEST_SYSENTER_ESP: 0x00006824, GUEST_SYSENTER_EIP: 0x00006826, GUEST_S_CET: 0x00006828, GUEST_SSP: 0x0000682a,
  GUEST_INTR_SSP_TABLE: 0x0000682c, HOST_CR0: 0x00006c00, HOST_CR3: 0x00006c02, HOST_CR4: 0x00006c04,
  HOST_FS_BASE: 0x00006c06, HOST_GS_BASE: 0x00006c08, HOST_TR_BASE: 0x00006c0a, HOST_GDTR_BASE: 0x00006c0c,
  HOST_IDTR_BASE: 0x00006c0e, HOST_IA32_SYSENTER_ESP: 0x00006c10, HOST_IA32_SYSENTER_EIP: 0x00006c12,
  HOST_RSP: 0x00006c14, HOST_RIP: 0x00006c16, HOST_S_CET: 0x00006c18, HOST_SSP: 0x00006c1a,
  HOST_INTR_SSP_TABLE: 0x00006c1c,
};

/** Fields of appendix B that Linux does not name, with the SDM's encodings (vol. 3C tables B-1 ... B-15). */
const SDM_ONLY: Record<string, number> = {
  EPTP_INDEX: 0x0004, HLAT_PREFIX_SIZE: 0x0006, GUEST_UINV: 0x0814, EXECUTIVE_VMCS_POINTER: 0x200c,
  SPPT_POINTER: 0x2030, ENCLV_EXITING_BITMAP: 0x2036, LOW_PASID_DIRECTORY: 0x2038, HIGH_PASID_DIRECTORY: 0x203a,
  PCONFIG_EXITING_BITMAP: 0x203e, HLAT_POINTER: 0x2040, SECONDARY_VM_EXIT_CONTROLS: 0x2044,
  IA32_SPEC_CTRL_MASK: 0x204a, IA32_SPEC_CTRL_SHADOW: 0x204c, GUEST_IA32_LBR_CTL: 0x2816, GUEST_IA32_PKRS: 0x2818,
  HOST_IA32_PKRS: 0x2c06, GUEST_SMBASE: 0x4828, IO_RCX: 0x6402, IO_RSI: 0x6404, IO_RDI: 0x6406, IO_RIP: 0x6408,
};

describe('VMCS field table', () => {
  it('agrees with every encoding of Linux enum vmcs_field', () => {
    for (const [name, enc] of Object.entries(LINUX_VMCS_FIELD)) {
      expect(isVmcsFieldName(name), name).toBe(true);
      expect(vmcsField(name as never).encoding, name).toBe(enc);
    }
  });

  it('holds exactly the Linux fields plus the SDM-only ones, each once', () => {
    const expected = new Map([...Object.entries(LINUX_VMCS_FIELD), ...Object.entries(SDM_ONLY)]);
    expect(VMCS_FIELDS.length).toBe(expected.size);
    for (const f of VMCS_FIELDS) expect(expected.get(f.name), f.name).toBe(f.encoding);
    expect(new Set(VMCS_FIELDS.map((f) => f.encoding)).size).toBe(VMCS_FIELDS.length);
  });

  it('each encoding follows the SDM layout (bits 14:13 width, 11:10 type, 9:1 index, bit 0 access, bit 12 and 31:15 zero)', () => {
    const widthCode = { '16': 0, '64': 1, '32': 2, natural: 3 } as const;
    const typeCode = { control: 0, 'exit-info': 1, guest: 2, host: 3 } as const;
    for (const f of VMCS_FIELDS) {
      expect((f.encoding >>> 13) & 3, f.name).toBe(widthCode[f.width]);
      expect((f.encoding >>> 10) & 3, f.name).toBe(typeCode[f.type]);
      expect((f.encoding >>> 1) & 0x1ff, f.name).toBe(f.index);
      expect(f.encoding & 1, f.name).toBe(0);
      expect(f.encoding & 0x1000, f.name).toBe(0);
      expect(f.encoding >>> 15, f.name).toBe(0);
    }
  });

  it('derives high-access encodings for 64-bit fields only', () => {
    expect(vmcsField('EPT_POINTER').highEncoding).toBe(0x201b); // Linux EPT_POINTER_HIGH
    expect(vmcsField('GUEST_PHYSICAL_ADDRESS').highEncoding).toBe(0x2401); // GUEST_PHYSICAL_ADDRESS_HIGH
    expect(vmcsField('VMCS_LINK_POINTER').highEncoding).toBe(0x2801);
    expect(vmcsField('GUEST_RIP').highEncoding).toBeUndefined();
    expect(vmcsFieldByEncoding(0x201b)).toEqual({ field: vmcsField('EPT_POINTER'), high: true });
    expect(vmcsFieldByEncoding(0x681f)).toBeUndefined(); // high access of a natural-width field
    expect(vmcsFieldByEncoding(0x4003)).toBeUndefined(); // high access of a 32-bit field
  });

  it('looks up by encoding and rejects unknown or malformed encodings', () => {
    expect(vmcsFieldByEncoding(0x681e)?.field.name).toBe('GUEST_RIP');
    expect(vmcsFieldByEncoding(0x681en)?.field.name).toBe('GUEST_RIP');
    for (const bad of [0x482c, 0x2046, 0x7fff, 0x8000, 0x1681e, -2, 1.5, Number.NaN, 0x1_0000_681e, 0xffff_ffff_ffff_681en]) {
      expect(vmcsFieldByEncoding(bad as number), String(bad)).toBeUndefined();
    }
    expect(vmcsEncoding('EXIT_QUALIFICATION')).toBe(0x6400);
  });

  it('gives every field its own slot and a group of the SDM', () => {
    VMCS_FIELDS.forEach((f, i) => expect(f.slot).toBe(i));
    for (const f of VMCS_FIELDS) expect(VMCS_GROUPS).toContain(f.group);
    expect(16 + 8 * VMCS_FIELDS.length).toBeLessThanOrEqual(4096);
    expect(vmcsField('GUEST_RIP').group).toBe('Guest-state area: registers');
    expect(vmcsField('GUEST_ACTIVITY_STATE').group).toBe('Guest-state area: non-register state');
    expect(vmcsField('VM_EXIT_REASON').group).toBe('VM-exit information fields');
    expect(vmcsField('VM_ENTRY_INTR_INFO_FIELD').group).toBe('VM-entry control fields');
    expect(vmcsField('VM_EXIT_MSR_LOAD_ADDR').group).toBe('VM-exit control fields');
    expect(vmcsField('EPT_POINTER').group).toBe('VM-execution control fields');
    expect(vmcsField('HOST_RIP').group).toBe('Host-state area');
  });

  it('knows the highest index for IA32_VMX_VMCS_ENUM', () => {
    expect(VMCS_MAX_INDEX).toBe(0x26); // IA32_SPEC_CTRL_SHADOW, 0x204c
  });
});
