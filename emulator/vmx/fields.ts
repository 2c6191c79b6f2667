// Every VMCS field of SDM vol. 3C appendix B in one table (name, encoding, width, type, group, storage slot) and lookups by name and encoding.

/** Field width as encoded in bits 14:13 of a field encoding (SDM vol. 3C §25.11.2, table 25-21). */
export type VmcsWidth = '16' | '32' | '64' | 'natural';
/** Field type as encoded in bits 11:10 (control, VM-exit information = read-only data, guest state, host state). */
export type VmcsType = 'control' | 'exit-info' | 'guest' | 'host';

/** The SDM's groups of VMCS data (SDM vol. 3C §25.3, §25.4-25.9), used by views. */
export const G_GUEST_REG = 'Guest-state area: registers'; // §25.4.1
export const G_GUEST_NONREG = 'Guest-state area: non-register state'; // §25.4.2
export const G_HOST = 'Host-state area'; // §25.5
export const G_EXEC = 'VM-execution control fields'; // §25.6
export const G_EXIT = 'VM-exit control fields'; // §25.7
export const G_ENTRY = 'VM-entry control fields'; // §25.8
export const G_INFO = 'VM-exit information fields'; // §25.9
export type VmcsGroup = typeof G_GUEST_REG | typeof G_GUEST_NONREG | typeof G_HOST | typeof G_EXEC | typeof G_EXIT |
  typeof G_ENTRY | typeof G_INFO;
/** The groups in the order the SDM presents them. */
export const VMCS_GROUPS: readonly VmcsGroup[] = [G_GUEST_REG, G_GUEST_NONREG, G_HOST, G_EXEC, G_EXIT, G_ENTRY, G_INFO];

/**
 * Appendix B, one row per field: [name as Linux `enum vmcs_field` spells it (our own name in the same style where
 * Linux has none), encoding of the full access, width, type, the SDM's title, group]. Rows are in the order of the
 * appendix tables B-1 ... B-15 (16-bit, 64-bit, 32-bit, natural-width; control, read-only data, guest, host), which
 * also fixes each field's storage slot. The 64-bit fields' "high" access encodings (encoding | 1) are derived.
 * Coverage: the SDM editions of 2023 (through CET, PKS, HLAT, IPI virtualization, instruction timeout);
 * FRED/LKGS-era fields are not included.
 */
const ROWS = [
  // Table B-1. 16-bit control fields (0000_00xx_xxxx_xxx0B)
  ['VIRTUAL_PROCESSOR_ID', 0x0000, '16', 'control', 'Virtual-processor identifier (VPID)', G_EXEC],
  ['POSTED_INTR_NV', 0x0002, '16', 'control', 'Posted-interrupt notification vector', G_EXEC],
  ['EPTP_INDEX', 0x0004, '16', 'control', 'EPTP index', G_EXEC],
  ['HLAT_PREFIX_SIZE', 0x0006, '16', 'control', 'HLAT prefix size', G_EXEC],
  ['LAST_PID_POINTER_INDEX', 0x0008, '16', 'control', 'Last PID-pointer index', G_EXEC],
  // Table B-2. 16-bit guest-state fields (0000_10xx_xxxx_xxx0B)
  ['GUEST_ES_SELECTOR', 0x0800, '16', 'guest', 'Guest ES selector', G_GUEST_REG],
  ['GUEST_CS_SELECTOR', 0x0802, '16', 'guest', 'Guest CS selector', G_GUEST_REG],
  ['GUEST_SS_SELECTOR', 0x0804, '16', 'guest', 'Guest SS selector', G_GUEST_REG],
  ['GUEST_DS_SELECTOR', 0x0806, '16', 'guest', 'Guest DS selector', G_GUEST_REG],
  ['GUEST_FS_SELECTOR', 0x0808, '16', 'guest', 'Guest FS selector', G_GUEST_REG],
  ['GUEST_GS_SELECTOR', 0x080a, '16', 'guest', 'Guest GS selector', G_GUEST_REG],
  ['GUEST_LDTR_SELECTOR', 0x080c, '16', 'guest', 'Guest LDTR selector', G_GUEST_REG],
  ['GUEST_TR_SELECTOR', 0x080e, '16', 'guest', 'Guest TR selector', G_GUEST_REG],
  ['GUEST_INTR_STATUS', 0x0810, '16', 'guest', 'Guest interrupt status', G_GUEST_NONREG],
  ['GUEST_PML_INDEX', 0x0812, '16', 'guest', 'PML index', G_GUEST_NONREG],
  ['GUEST_UINV', 0x0814, '16', 'guest', 'Guest UINV', G_GUEST_NONREG],
  // Table B-3. 16-bit host-state fields (0000_11xx_xxxx_xxx0B)
  ['HOST_ES_SELECTOR', 0x0c00, '16', 'host', 'Host ES selector', G_HOST],
  ['HOST_CS_SELECTOR', 0x0c02, '16', 'host', 'Host CS selector', G_HOST],
  ['HOST_SS_SELECTOR', 0x0c04, '16', 'host', 'Host SS selector', G_HOST],
  ['HOST_DS_SELECTOR', 0x0c06, '16', 'host', 'Host DS selector', G_HOST],
  ['HOST_FS_SELECTOR', 0x0c08, '16', 'host', 'Host FS selector', G_HOST],
  ['HOST_GS_SELECTOR', 0x0c0a, '16', 'host', 'Host GS selector', G_HOST],
  ['HOST_TR_SELECTOR', 0x0c0c, '16', 'host', 'Host TR selector', G_HOST],
  // Table B-4. 64-bit control fields (0010_00xx_xxxx_xxxAB)
  ['IO_BITMAP_A', 0x2000, '64', 'control', 'Address of I/O bitmap A', G_EXEC],
  ['IO_BITMAP_B', 0x2002, '64', 'control', 'Address of I/O bitmap B', G_EXEC],
  ['MSR_BITMAP', 0x2004, '64', 'control', 'Address of MSR bitmaps', G_EXEC],
  ['VM_EXIT_MSR_STORE_ADDR', 0x2006, '64', 'control', 'VM-exit MSR-store address', G_EXIT],
  ['VM_EXIT_MSR_LOAD_ADDR', 0x2008, '64', 'control', 'VM-exit MSR-load address', G_EXIT],
  ['VM_ENTRY_MSR_LOAD_ADDR', 0x200a, '64', 'control', 'VM-entry MSR-load address', G_ENTRY],
  ['EXECUTIVE_VMCS_POINTER', 0x200c, '64', 'control', 'Executive-VMCS pointer', G_EXEC],
  ['PML_ADDRESS', 0x200e, '64', 'control', 'PML address', G_EXEC],
  ['TSC_OFFSET', 0x2010, '64', 'control', 'TSC offset', G_EXEC],
  ['VIRTUAL_APIC_PAGE_ADDR', 0x2012, '64', 'control', 'Virtual-APIC address', G_EXEC],
  ['APIC_ACCESS_ADDR', 0x2014, '64', 'control', 'APIC-access address', G_EXEC],
  ['POSTED_INTR_DESC_ADDR', 0x2016, '64', 'control', 'Posted-interrupt descriptor address', G_EXEC],
  ['VM_FUNCTION_CONTROL', 0x2018, '64', 'control', 'VM-function controls', G_EXEC],
  ['EPT_POINTER', 0x201a, '64', 'control', 'EPT pointer (EPTP)', G_EXEC],
  ['EOI_EXIT_BITMAP0', 0x201c, '64', 'control', 'EOI-exit bitmap 0', G_EXEC],
  ['EOI_EXIT_BITMAP1', 0x201e, '64', 'control', 'EOI-exit bitmap 1', G_EXEC],
  ['EOI_EXIT_BITMAP2', 0x2020, '64', 'control', 'EOI-exit bitmap 2', G_EXEC],
  ['EOI_EXIT_BITMAP3', 0x2022, '64', 'control', 'EOI-exit bitmap 3', G_EXEC],
  ['EPTP_LIST_ADDRESS', 0x2024, '64', 'control', 'EPTP-list address', G_EXEC],
  ['VMREAD_BITMAP', 0x2026, '64', 'control', 'VMREAD-bitmap address', G_EXEC],
  ['VMWRITE_BITMAP', 0x2028, '64', 'control', 'VMWRITE-bitmap address', G_EXEC],
  ['VE_INFORMATION_ADDRESS', 0x202a, '64', 'control', 'Virtualization-exception information address', G_EXEC],
  ['XSS_EXIT_BITMAP', 0x202c, '64', 'control', 'XSS-exiting bitmap', G_EXEC],
  ['ENCLS_EXITING_BITMAP', 0x202e, '64', 'control', 'ENCLS-exiting bitmap', G_EXEC],
  ['SPPT_POINTER', 0x2030, '64', 'control', 'Sub-page-permission-table pointer (SPPTP)', G_EXEC],
  ['TSC_MULTIPLIER', 0x2032, '64', 'control', 'TSC multiplier', G_EXEC],
  ['TERTIARY_VM_EXEC_CONTROL', 0x2034, '64', 'control', 'Tertiary processor-based VM-execution controls', G_EXEC],
  ['ENCLV_EXITING_BITMAP', 0x2036, '64', 'control', 'ENCLV-exiting bitmap', G_EXEC],
  ['LOW_PASID_DIRECTORY', 0x2038, '64', 'control', 'Low PASID directory address', G_EXEC],
  ['HIGH_PASID_DIRECTORY', 0x203a, '64', 'control', 'High PASID directory address', G_EXEC],
  ['SHARED_EPT_POINTER', 0x203c, '64', 'control', 'Shared EPT pointer', G_EXEC],
  ['PCONFIG_EXITING_BITMAP', 0x203e, '64', 'control', 'PCONFIG-exiting bitmap', G_EXEC],
  ['HLAT_POINTER', 0x2040, '64', 'control', 'Hypervisor-managed linear-address translation pointer (HLATP)', G_EXEC],
  ['PID_POINTER_TABLE', 0x2042, '64', 'control', 'PID-pointer table address', G_EXEC],
  ['SECONDARY_VM_EXIT_CONTROLS', 0x2044, '64', 'control', 'Secondary VM-exit controls', G_EXIT],
  ['IA32_SPEC_CTRL_MASK', 0x204a, '64', 'control', 'IA32_SPEC_CTRL mask', G_EXEC],
  ['IA32_SPEC_CTRL_SHADOW', 0x204c, '64', 'control', 'IA32_SPEC_CTRL shadow', G_EXEC],
  // Table B-5. 64-bit read-only data field (0010_01xx_xxxx_xxxAB)
  ['GUEST_PHYSICAL_ADDRESS', 0x2400, '64', 'exit-info', 'Guest-physical address', G_INFO],
  // Table B-6. 64-bit guest-state fields (0010_10xx_xxxx_xxxAB)
  ['VMCS_LINK_POINTER', 0x2800, '64', 'guest', 'VMCS link pointer', G_GUEST_NONREG],
  ['GUEST_IA32_DEBUGCTL', 0x2802, '64', 'guest', 'Guest IA32_DEBUGCTL', G_GUEST_REG],
  ['GUEST_IA32_PAT', 0x2804, '64', 'guest', 'Guest IA32_PAT', G_GUEST_REG],
  ['GUEST_IA32_EFER', 0x2806, '64', 'guest', 'Guest IA32_EFER', G_GUEST_REG],
  ['GUEST_IA32_PERF_GLOBAL_CTRL', 0x2808, '64', 'guest', 'Guest IA32_PERF_GLOBAL_CTRL', G_GUEST_REG],
  ['GUEST_PDPTR0', 0x280a, '64', 'guest', 'Guest PDPTE0', G_GUEST_NONREG],
  ['GUEST_PDPTR1', 0x280c, '64', 'guest', 'Guest PDPTE1', G_GUEST_NONREG],
  ['GUEST_PDPTR2', 0x280e, '64', 'guest', 'Guest PDPTE2', G_GUEST_NONREG],
  ['GUEST_PDPTR3', 0x2810, '64', 'guest', 'Guest PDPTE3', G_GUEST_NONREG],
  ['GUEST_BNDCFGS', 0x2812, '64', 'guest', 'Guest IA32_BNDCFGS', G_GUEST_REG],
  ['GUEST_IA32_RTIT_CTL', 0x2814, '64', 'guest', 'Guest IA32_RTIT_CTL', G_GUEST_REG],
  ['GUEST_IA32_LBR_CTL', 0x2816, '64', 'guest', 'Guest IA32_LBR_CTL', G_GUEST_REG],
  ['GUEST_IA32_PKRS', 0x2818, '64', 'guest', 'Guest IA32_PKRS', G_GUEST_REG],
  // Table B-7. 64-bit host-state fields (0010_11xx_xxxx_xxxAB)
  ['HOST_IA32_PAT', 0x2c00, '64', 'host', 'Host IA32_PAT', G_HOST],
  ['HOST_IA32_EFER', 0x2c02, '64', 'host', 'Host IA32_EFER', G_HOST],
  ['HOST_IA32_PERF_GLOBAL_CTRL', 0x2c04, '64', 'host', 'Host IA32_PERF_GLOBAL_CTRL', G_HOST],
  ['HOST_IA32_PKRS', 0x2c06, '64', 'host', 'Host IA32_PKRS', G_HOST],
  // Table B-8. 32-bit control fields (0100_00xx_xxxx_xxx0B)
  ['PIN_BASED_VM_EXEC_CONTROL', 0x4000, '32', 'control', 'Pin-based VM-execution controls', G_EXEC],
  ['CPU_BASED_VM_EXEC_CONTROL', 0x4002, '32', 'control', 'Primary processor-based VM-execution controls', G_EXEC],
  ['EXCEPTION_BITMAP', 0x4004, '32', 'control', 'Exception bitmap', G_EXEC],
  ['PAGE_FAULT_ERROR_CODE_MASK', 0x4006, '32', 'control', 'Page-fault error-code mask', G_EXEC],
  ['PAGE_FAULT_ERROR_CODE_MATCH', 0x4008, '32', 'control', 'Page-fault error-code match', G_EXEC],
  ['CR3_TARGET_COUNT', 0x400a, '32', 'control', 'CR3-target count', G_EXEC],
  ['VM_EXIT_CONTROLS', 0x400c, '32', 'control', 'Primary VM-exit controls', G_EXIT],
  ['VM_EXIT_MSR_STORE_COUNT', 0x400e, '32', 'control', 'VM-exit MSR-store count', G_EXIT],
  ['VM_EXIT_MSR_LOAD_COUNT', 0x4010, '32', 'control', 'VM-exit MSR-load count', G_EXIT],
  ['VM_ENTRY_CONTROLS', 0x4012, '32', 'control', 'VM-entry controls', G_ENTRY],
  ['VM_ENTRY_MSR_LOAD_COUNT', 0x4014, '32', 'control', 'VM-entry MSR-load count', G_ENTRY],
  ['VM_ENTRY_INTR_INFO_FIELD', 0x4016, '32', 'control', 'VM-entry interruption-information field', G_ENTRY],
  ['VM_ENTRY_EXCEPTION_ERROR_CODE', 0x4018, '32', 'control', 'VM-entry exception error code', G_ENTRY],
  ['VM_ENTRY_INSTRUCTION_LEN', 0x401a, '32', 'control', 'VM-entry instruction length', G_ENTRY],
  ['TPR_THRESHOLD', 0x401c, '32', 'control', 'TPR threshold', G_EXEC],
  ['SECONDARY_VM_EXEC_CONTROL', 0x401e, '32', 'control', 'Secondary processor-based VM-execution controls', G_EXEC],
  ['PLE_GAP', 0x4020, '32', 'control', 'PLE_Gap', G_EXEC],
  ['PLE_WINDOW', 0x4022, '32', 'control', 'PLE_Window', G_EXEC],
  ['NOTIFY_WINDOW', 0x4024, '32', 'control', 'Instruction-timeout control', G_EXEC],
  // Table B-9. 32-bit read-only data fields (0100_01xx_xxxx_xxx0B)
  ['VM_INSTRUCTION_ERROR', 0x4400, '32', 'exit-info', 'VM-instruction error', G_INFO],
  ['VM_EXIT_REASON', 0x4402, '32', 'exit-info', 'Exit reason', G_INFO],
  ['VM_EXIT_INTR_INFO', 0x4404, '32', 'exit-info', 'VM-exit interruption information', G_INFO],
  ['VM_EXIT_INTR_ERROR_CODE', 0x4406, '32', 'exit-info', 'VM-exit interruption error code', G_INFO],
  ['IDT_VECTORING_INFO_FIELD', 0x4408, '32', 'exit-info', 'IDT-vectoring information field', G_INFO],
  ['IDT_VECTORING_ERROR_CODE', 0x440a, '32', 'exit-info', 'IDT-vectoring error code', G_INFO],
  ['VM_EXIT_INSTRUCTION_LEN', 0x440c, '32', 'exit-info', 'VM-exit instruction length', G_INFO],
  ['VMX_INSTRUCTION_INFO', 0x440e, '32', 'exit-info', 'VM-exit instruction information', G_INFO],
  // Table B-10. 32-bit guest-state fields (0100_10xx_xxxx_xxx0B)
  ['GUEST_ES_LIMIT', 0x4800, '32', 'guest', 'Guest ES limit', G_GUEST_REG],
  ['GUEST_CS_LIMIT', 0x4802, '32', 'guest', 'Guest CS limit', G_GUEST_REG],
  ['GUEST_SS_LIMIT', 0x4804, '32', 'guest', 'Guest SS limit', G_GUEST_REG],
  ['GUEST_DS_LIMIT', 0x4806, '32', 'guest', 'Guest DS limit', G_GUEST_REG],
  ['GUEST_FS_LIMIT', 0x4808, '32', 'guest', 'Guest FS limit', G_GUEST_REG],
  ['GUEST_GS_LIMIT', 0x480a, '32', 'guest', 'Guest GS limit', G_GUEST_REG],
  ['GUEST_LDTR_LIMIT', 0x480c, '32', 'guest', 'Guest LDTR limit', G_GUEST_REG],
  ['GUEST_TR_LIMIT', 0x480e, '32', 'guest', 'Guest TR limit', G_GUEST_REG],
  ['GUEST_GDTR_LIMIT', 0x4810, '32', 'guest', 'Guest GDTR limit', G_GUEST_REG],
  ['GUEST_IDTR_LIMIT', 0x4812, '32', 'guest', 'Guest IDTR limit', G_GUEST_REG],
  ['GUEST_ES_AR_BYTES', 0x4814, '32', 'guest', 'Guest ES access rights', G_GUEST_REG],
  ['GUEST_CS_AR_BYTES', 0x4816, '32', 'guest', 'Guest CS access rights', G_GUEST_REG],
  ['GUEST_SS_AR_BYTES', 0x4818, '32', 'guest', 'Guest SS access rights', G_GUEST_REG],
  ['GUEST_DS_AR_BYTES', 0x481a, '32', 'guest', 'Guest DS access rights', G_GUEST_REG],
  ['GUEST_FS_AR_BYTES', 0x481c, '32', 'guest', 'Guest FS access rights', G_GUEST_REG],
  ['GUEST_GS_AR_BYTES', 0x481e, '32', 'guest', 'Guest GS access rights', G_GUEST_REG],
  ['GUEST_LDTR_AR_BYTES', 0x4820, '32', 'guest', 'Guest LDTR access rights', G_GUEST_REG],
  ['GUEST_TR_AR_BYTES', 0x4822, '32', 'guest', 'Guest TR access rights', G_GUEST_REG],
  ['GUEST_INTERRUPTIBILITY_INFO', 0x4824, '32', 'guest', 'Guest interruptibility state', G_GUEST_NONREG],
  ['GUEST_ACTIVITY_STATE', 0x4826, '32', 'guest', 'Guest activity state', G_GUEST_NONREG],
  ['GUEST_SMBASE', 0x4828, '32', 'guest', 'Guest SMBASE', G_GUEST_REG],
  ['GUEST_SYSENTER_CS', 0x482a, '32', 'guest', 'Guest IA32_SYSENTER_CS', G_GUEST_REG],
  ['VMX_PREEMPTION_TIMER_VALUE', 0x482e, '32', 'guest', 'VMX-preemption timer value', G_GUEST_NONREG],
  // Table B-11. 32-bit host-state field (0100_11xx_xxxx_xxx0B)
  ['HOST_IA32_SYSENTER_CS', 0x4c00, '32', 'host', 'Host IA32_SYSENTER_CS', G_HOST],
  // Table B-12. Natural-width control fields (0110_00xx_xxxx_xxx0B)
  ['CR0_GUEST_HOST_MASK', 0x6000, 'natural', 'control', 'CR0 guest/host mask', G_EXEC],
  ['CR4_GUEST_HOST_MASK', 0x6002, 'natural', 'control', 'CR4 guest/host mask', G_EXEC],
  ['CR0_READ_SHADOW', 0x6004, 'natural', 'control', 'CR0 read shadow', G_EXEC],
  ['CR4_READ_SHADOW', 0x6006, 'natural', 'control', 'CR4 read shadow', G_EXEC],
  ['CR3_TARGET_VALUE0', 0x6008, 'natural', 'control', 'CR3-target value 0', G_EXEC],
  ['CR3_TARGET_VALUE1', 0x600a, 'natural', 'control', 'CR3-target value 1', G_EXEC],
  ['CR3_TARGET_VALUE2', 0x600c, 'natural', 'control', 'CR3-target value 2', G_EXEC],
  ['CR3_TARGET_VALUE3', 0x600e, 'natural', 'control', 'CR3-target value 3', G_EXEC],
  // Table B-13. Natural-width read-only data fields (0110_01xx_xxxx_xxx0B)
  ['EXIT_QUALIFICATION', 0x6400, 'natural', 'exit-info', 'Exit qualification', G_INFO],
  ['IO_RCX', 0x6402, 'natural', 'exit-info', 'I/O RCX', G_INFO],
  ['IO_RSI', 0x6404, 'natural', 'exit-info', 'I/O RSI', G_INFO],
  ['IO_RDI', 0x6406, 'natural', 'exit-info', 'I/O RDI', G_INFO],
  ['IO_RIP', 0x6408, 'natural', 'exit-info', 'I/O RIP', G_INFO],
  ['GUEST_LINEAR_ADDRESS', 0x640a, 'natural', 'exit-info', 'Guest-linear address', G_INFO],
  // Table B-14. Natural-width guest-state fields (0110_10xx_xxxx_xxx0B)
  ['GUEST_CR0', 0x6800, 'natural', 'guest', 'Guest CR0', G_GUEST_REG],
  ['GUEST_CR3', 0x6802, 'natural', 'guest', 'Guest CR3', G_GUEST_REG],
  ['GUEST_CR4', 0x6804, 'natural', 'guest', 'Guest CR4', G_GUEST_REG],
  ['GUEST_ES_BASE', 0x6806, 'natural', 'guest', 'Guest ES base', G_GUEST_REG],
  ['GUEST_CS_BASE', 0x6808, 'natural', 'guest', 'Guest CS base', G_GUEST_REG],
  ['GUEST_SS_BASE', 0x680a, 'natural', 'guest', 'Guest SS base', G_GUEST_REG],
  ['GUEST_DS_BASE', 0x680c, 'natural', 'guest', 'Guest DS base', G_GUEST_REG],
  ['GUEST_FS_BASE', 0x680e, 'natural', 'guest', 'Guest FS base', G_GUEST_REG],
  ['GUEST_GS_BASE', 0x6810, 'natural', 'guest', 'Guest GS base', G_GUEST_REG],
  ['GUEST_LDTR_BASE', 0x6812, 'natural', 'guest', 'Guest LDTR base', G_GUEST_REG],
  ['GUEST_TR_BASE', 0x6814, 'natural', 'guest', 'Guest TR base', G_GUEST_REG],
  ['GUEST_GDTR_BASE', 0x6816, 'natural', 'guest', 'Guest GDTR base', G_GUEST_REG],
  ['GUEST_IDTR_BASE', 0x6818, 'natural', 'guest', 'Guest IDTR base', G_GUEST_REG],
  ['GUEST_DR7', 0x681a, 'natural', 'guest', 'Guest DR7', G_GUEST_REG],
  ['GUEST_RSP', 0x681c, 'natural', 'guest', 'Guest RSP', G_GUEST_REG],
  ['GUEST_RIP', 0x681e, 'natural', 'guest', 'Guest RIP', G_GUEST_REG],
  ['GUEST_RFLAGS', 0x6820, 'natural', 'guest', 'Guest RFLAGS', G_GUEST_REG],
  ['GUEST_PENDING_DBG_EXCEPTIONS', 0x6822, 'natural', 'guest', 'Guest pending debug exceptions', G_GUEST_NONREG],
  ['GUEST_SYSENTER_ESP', 0x6824, 'natural', 'guest', 'Guest IA32_SYSENTER_ESP', G_GUEST_REG],
  ['GUEST_SYSENTER_EIP', 0x6826, 'natural', 'guest', 'Guest IA32_SYSENTER_EIP', G_GUEST_REG],
  ['GUEST_S_CET', 0x6828, 'natural', 'guest', 'Guest IA32_S_CET', G_GUEST_REG],
  ['GUEST_SSP', 0x682a, 'natural', 'guest', 'Guest SSP', G_GUEST_REG],
  ['GUEST_INTR_SSP_TABLE', 0x682c, 'natural', 'guest', 'Guest IA32_INTERRUPT_SSP_TABLE_ADDR', G_GUEST_REG],
  // Table B-15. Natural-width host-state fields (0110_11xx_xxxx_xxx0B)
  ['HOST_CR0', 0x6c00, 'natural', 'host', 'Host CR0', G_HOST],
  ['HOST_CR3', 0x6c02, 'natural', 'host', 'Host CR3', G_HOST],
  ['HOST_CR4', 0x6c04, 'natural', 'host', 'Host CR4', G_HOST],
  ['HOST_FS_BASE', 0x6c06, 'natural', 'host', 'Host FS base', G_HOST],
  ['HOST_GS_BASE', 0x6c08, 'natural', 'host', 'Host GS base', G_HOST],
  ['HOST_TR_BASE', 0x6c0a, 'natural', 'host', 'Host TR base', G_HOST],
  ['HOST_GDTR_BASE', 0x6c0c, 'natural', 'host', 'Host GDTR base', G_HOST],
  ['HOST_IDTR_BASE', 0x6c0e, 'natural', 'host', 'Host IDTR base', G_HOST],
  ['HOST_IA32_SYSENTER_ESP', 0x6c10, 'natural', 'host', 'Host IA32_SYSENTER_ESP', G_HOST],
  ['HOST_IA32_SYSENTER_EIP', 0x6c12, 'natural', 'host', 'Host IA32_SYSENTER_EIP', G_HOST],
  ['HOST_RSP', 0x6c14, 'natural', 'host', 'Host RSP', G_HOST],
  ['HOST_RIP', 0x6c16, 'natural', 'host', 'Host RIP', G_HOST],
  ['HOST_S_CET', 0x6c18, 'natural', 'host', 'Host IA32_S_CET', G_HOST],
  ['HOST_SSP', 0x6c1a, 'natural', 'host', 'Host SSP', G_HOST],
  ['HOST_INTR_SSP_TABLE', 0x6c1c, 'natural', 'host', 'Host IA32_INTERRUPT_SSP_TABLE_ADDR', G_HOST],
] as const;

/** The name of a VMCS field, e.g. 'GUEST_RIP', 'EXIT_QUALIFICATION'. */
export type VmcsFieldName = (typeof ROWS)[number][0];

export interface VmcsField {
  readonly name: VmcsFieldName;
  /** Encoding of the full access (bit 0 = 0). */
  readonly encoding: number;
  readonly width: VmcsWidth;
  readonly type: VmcsType;
  /** The field's title in appendix B. */
  readonly title: string;
  readonly group: VmcsGroup;
  /** Storage slot: the field lives in 8 bytes at offset 16 + 8 * slot of the VMCS region (see vmcs.ts). */
  readonly slot: number;
  /** Bits 9:1 of the encoding. */
  readonly index: number;
  /** Encoding of the high access (bits 63:32), for 64-bit fields only. */
  readonly highEncoding?: number;
}

/** All fields, in appendix B order; `VMCS_FIELDS[f.slot] === f`. */
export const VMCS_FIELDS: readonly VmcsField[] = ROWS.map(([name, encoding, width, type, title, group], slot) => ({
  name, encoding, width, type, title, group, slot,
  index: (encoding >>> 1) & 0x1ff,
  ...(width === '64' ? { highEncoding: encoding | 1 } : {}),
}));

const BY_NAME = new Map<string, VmcsField>(VMCS_FIELDS.map((f) => [f.name, f]));
/** Slot of the field with a given full-access encoding, -1 where none; indexed over 0..0x7FFF. */
const SLOT_BY_ENCODING = new Int16Array(0x8000).fill(-1);
for (const f of VMCS_FIELDS) SLOT_BY_ENCODING[f.encoding] = f.slot;

/** The field called `name` (throws on an unknown name: names are compile-time constants). */
export function vmcsField(name: VmcsFieldName): VmcsField {
  const f = BY_NAME.get(name);
  if (!f) throw new Error(`unknown VMCS field ${name}`);
  return f;
}

/** Whether a string names a VMCS field (for launch configurations and views). */
export function isVmcsFieldName(name: string): name is VmcsFieldName {
  return BY_NAME.has(name);
}

/** The field an encoding designates and whether it is the high access of a 64-bit field; undefined if unsupported. */
export function vmcsFieldByEncoding(encoding: number | bigint): { field: VmcsField; high: boolean } | undefined {
  if (typeof encoding === 'bigint') {
    if (encoding < 0n || encoding > 0x7fffn) return undefined;
    encoding = Number(encoding);
  }
  if (!Number.isInteger(encoding) || encoding < 0 || encoding > 0x7fff) return undefined;
  const high = (encoding & 1) === 1;
  const slot = SLOT_BY_ENCODING[encoding & ~1];
  if (slot < 0) return undefined;
  const field = VMCS_FIELDS[slot];
  // Access type "high" is only valid for 64-bit fields (SDM vol. 3C §25.11.2).
  if (high && field.width !== '64') return undefined;
  return { field, high };
}

/** The encoding of a field (full access). */
export function vmcsEncoding(name: VmcsFieldName): number {
  return vmcsField(name).encoding;
}

/** Highest index value used by any field encoding (reported in IA32_VMX_VMCS_ENUM bits 9:1, SDM vol. 3C §A.9). */
export const VMCS_MAX_INDEX = VMCS_FIELDS.reduce((m, f) => Math.max(m, f.index), 0);

/** Number of storage slots (fields). */
export const VMCS_SLOT_COUNT = VMCS_FIELDS.length;
