// VM-entry checks (SDM vol. 3C §27.1-27.3): two valid baselines pass; deliberate single faults fail with the SDM's outcome.
import { describe, expect, it } from 'vitest';
import { checkVmEntry, type EntryCheckContext, type EntryCheckResult } from '../../emulator/vmx/entry-checks.js';
import type { VmcsFieldName } from '../../emulator/vmx/fields.js';
import { makeEptp } from '../../emulator/vmx/controls.js';
import { VMCS_REVISION_ID } from '../../emulator/vmx/caps.js';

type Fields = Partial<Record<VmcsFieldName, bigint>>;
const ALL_ONES = 0xffff_ffff_ffff_ffffn;

// Values below are written from the SDM's rules (and what KVM programs for such guests), not from the implementation.
const HOST: Fields = {
  VM_EXIT_CONTROLS: 0x36dfbn | 0x200n | 0x8000n | 0x300000n, // TRUE default1 | host address-space size | ack | save/load EFER
  HOST_CR0: 0x80050033n, HOST_CR3: 0x1000n, HOST_CR4: 0x2020n, HOST_IA32_EFER: 0xd01n, HOST_IA32_PAT: 0x0007040600070406n,
  HOST_CS_SELECTOR: 0x08n, HOST_SS_SELECTOR: 0x10n, HOST_DS_SELECTOR: 0x10n, HOST_ES_SELECTOR: 0x10n,
  HOST_FS_SELECTOR: 0n, HOST_GS_SELECTOR: 0n, HOST_TR_SELECTOR: 0x18n, HOST_TR_BASE: 0xffff_8000_0000_2000n,
  HOST_GDTR_BASE: 0xffff_8000_0000_3000n, HOST_IDTR_BASE: 0xffff_8000_0000_4000n, HOST_RIP: 0xffff_ffff_8000_1000n,
  HOST_RSP: 0xffff_ffff_8000_8000n,
};
/** A 64-bit guest with EPT and VPID, HLT and I/O-bitmap exiting. */
const LONG: Fields = {
  ...HOST,
  PIN_BASED_VM_EXEC_CONTROL: 0x16n | 0x1n | 0x8n,
  CPU_BASED_VM_EXEC_CONTROL: 0x04006172n | 0x80n | (1n << 25n) | 0x80000000n,
  SECONDARY_VM_EXEC_CONTROL: 0x22n, VIRTUAL_PROCESSOR_ID: 1n, EPT_POINTER: makeEptp(0x100000),
  IO_BITMAP_A: 0x5000n, IO_BITMAP_B: 0x6000n,
  VM_ENTRY_CONTROLS: 0x11fbn | 0x200n | 0x8000n, // IA-32e mode guest, load EFER
  GUEST_CR0: 0x80050033n, GUEST_CR3: 0x2000n, GUEST_CR4: 0x2020n, GUEST_IA32_EFER: 0x500n, GUEST_DR7: 0x400n,
  GUEST_CS_SELECTOR: 0x08n, GUEST_CS_AR_BYTES: 0xa09bn, GUEST_CS_LIMIT: 0xffffffffn,
  GUEST_SS_SELECTOR: 0x10n, GUEST_SS_AR_BYTES: 0xc093n, GUEST_SS_LIMIT: 0xffffffffn,
  GUEST_DS_SELECTOR: 0x10n, GUEST_DS_AR_BYTES: 0xc093n, GUEST_DS_LIMIT: 0xffffffffn,
  GUEST_ES_SELECTOR: 0x10n, GUEST_ES_AR_BYTES: 0xc093n, GUEST_ES_LIMIT: 0xffffffffn,
  GUEST_FS_SELECTOR: 0x10n, GUEST_FS_AR_BYTES: 0xc093n, GUEST_FS_LIMIT: 0xffffffffn,
  GUEST_GS_SELECTOR: 0x10n, GUEST_GS_AR_BYTES: 0xc093n, GUEST_GS_LIMIT: 0xffffffffn, GUEST_GS_BASE: 0xffff_8000_1234_0000n,
  GUEST_LDTR_AR_BYTES: 0x10000n, GUEST_TR_SELECTOR: 0x18n, GUEST_TR_AR_BYTES: 0x8bn, GUEST_TR_LIMIT: 0x67n,
  GUEST_GDTR_LIMIT: 0x27n, GUEST_IDTR_LIMIT: 0xfffn, GUEST_RIP: 0x40_0000n, GUEST_RSP: 0x80_0000n, GUEST_RFLAGS: 0x2n,
  VMCS_LINK_POINTER: ALL_ONES,
};
/** A real-mode guest at the reset vector under "unrestricted guest" (CR0.PE = PG = 0). */
const REAL: Fields = {
  ...LONG,
  SECONDARY_VM_EXEC_CONTROL: 0x82n | 0x20n,
  VM_ENTRY_CONTROLS: 0x11fbn,
  GUEST_CR0: 0x30n, GUEST_CR4: 0x2000n, GUEST_IA32_EFER: 0n,
  GUEST_CS_SELECTOR: 0xf000n, GUEST_CS_BASE: 0xf0000n, GUEST_CS_LIMIT: 0xffffn, GUEST_CS_AR_BYTES: 0x9bn,
  ...Object.fromEntries(['SS', 'DS', 'ES', 'FS', 'GS'].flatMap((s) => [
    [`GUEST_${s}_SELECTOR`, 0n], [`GUEST_${s}_BASE`, 0n], [`GUEST_${s}_LIMIT`, 0xffffn], [`GUEST_${s}_AR_BYTES`, 0x93n]])),
  GUEST_LDTR_AR_BYTES: 0x82n, GUEST_LDTR_LIMIT: 0xffffn, GUEST_TR_SELECTOR: 0n, GUEST_TR_AR_BYTES: 0x8bn,
  GUEST_TR_LIMIT: 0xffffn, GUEST_RIP: 0xfff0n,
};
/** A 32-bit PAE-paging guest, with EPT (PDPTEs from the VMCS). */
const PAE: Fields = {
  ...LONG,
  VM_ENTRY_CONTROLS: 0x11fbn | 0x8000n, GUEST_IA32_EFER: 0n, GUEST_CS_AR_BYTES: 0xc09bn,
  GUEST_PDPTR0: 0x3001n, GUEST_PDPTR1: 0n, GUEST_PDPTR2: 0x4001n, GUEST_PDPTR3: 0n,
};
const PAE_NO_EPT: Fields = { ...PAE, SECONDARY_VM_EXEC_CONTROL: 0x20n };

const CTX: EntryCheckContext = { launch: true, launchState: 'clear', maxPhysAddr: 39, hostIa32eMode: true, currentVmcsHpa: 0x9000 };

function run(fields: Fields, ctx: Partial<EntryCheckContext> = {}): EntryCheckResult {
  return checkVmEntry((f) => fields[f] ?? 0n, { ...CTX, ...ctx });
}

describe('valid baselines', () => {
  it('a 64-bit guest with EPT enters', () => expect(run(LONG)).toEqual({ kind: 'ok' }));
  it('an unrestricted real-mode guest enters', () => expect(run(REAL)).toEqual({ kind: 'ok' }));
  it('a PAE guest with EPT, and without EPT with good PDPTEs in memory, enters', () => {
    expect(run(PAE)).toEqual({ kind: 'ok' });
    expect(run(PAE_NO_EPT, { readPhys32: (a) => (a === 0x2000 ? 0x3001 : 0) })).toEqual({ kind: 'ok' });
  });
  it('VMRESUME of a launched VMCS enters; secondary controls are ignored when not activated', () => {
    expect(run(LONG, { launch: false, launchState: 'launched' })).toEqual({ kind: 'ok' });
    expect(run({ ...LONG, CPU_BASED_VM_EXEC_CONTROL: 0x04006172n, SECONDARY_VM_EXEC_CONTROL: 0xffff_ffffn })).toEqual({ kind: 'ok' });
  });
  it('accepts a VMCS link pointer to a valid, different VMCS', () => {
    expect(run({ ...LONG, VMCS_LINK_POINTER: 0x7000n }, { readPhys32: (a) => (a === 0x7000 ? VMCS_REVISION_ID : 0) })).toEqual({ kind: 'ok' });
  });
});

type Expect = { kind: 'vmfail'; error: number; check: string } | { kind: 'invalid-guest'; check: string; qualification: number };
const vmfail = (error: number, check: string): Expect => ({ kind: 'vmfail', error, check });
const bad = (check: string, qualification = 0): Expect => ({ kind: 'invalid-guest', check, qualification });
const inject = (v: number): Fields => ({ VM_ENTRY_INTR_INFO_FIELD: BigInt((0x80000000 | v) >>> 0) });

const CASES: Array<[string, Fields, Partial<EntryCheckContext>, Expect]> = [
  // §27.1 basic checks
  ['VMLAUNCH of a launched VMCS', LONG, { launchState: 'launched' }, vmfail(4, 'VMLAUNCH with non-clear VMCS')],
  ['VMRESUME of a clear VMCS', LONG, { launch: false }, vmfail(5, 'VMRESUME with non-launched VMCS')],
  ['MOV-SS blocking in root operation', LONG, { blockedByMovSs: true }, vmfail(26, 'events blocked by MOV SS')],
  // §27.2.1.1 execution controls
  ['pin-based default1 bit 1 cleared', { ...LONG, PIN_BASED_VM_EXEC_CONTROL: 0x1dn }, {}, vmfail(7, 'pin-based controls: reserved bits')],
  ['posted interrupts (unsupported)', { ...LONG, PIN_BASED_VM_EXEC_CONTROL: 0x9fn }, {}, vmfail(7, 'pin-based controls: reserved bits')],
  ['tertiary controls (unsupported)', { ...LONG, CPU_BASED_VM_EXEC_CONTROL: LONG.CPU_BASED_VM_EXEC_CONTROL! | (1n << 17n) }, {}, vmfail(7, 'primary processor-based controls: reserved bits')],
  ['primary default1 bit 26 cleared', { ...LONG, CPU_BASED_VM_EXEC_CONTROL: LONG.CPU_BASED_VM_EXEC_CONTROL! & ~(1n << 26n) }, {}, vmfail(7, 'primary processor-based controls: reserved bits')],
  ['virtualize APIC accesses (unsupported)', { ...LONG, SECONDARY_VM_EXEC_CONTROL: 0x23n }, {}, vmfail(7, 'secondary processor-based controls: reserved bits')],
  ['CR3-target count 5', { ...LONG, CR3_TARGET_COUNT: 5n }, {}, vmfail(7, 'CR3-target count')],
  ['I/O bitmap A not page aligned', { ...LONG, IO_BITMAP_A: 0x5001n }, {}, vmfail(7, 'I/O bitmap addresses')],
  ['I/O bitmap B beyond MAXPHYADDR', { ...LONG, IO_BITMAP_B: 1n << 39n }, {}, vmfail(7, 'I/O bitmap addresses')],
  ['MSR bitmap not aligned', { ...LONG, CPU_BASED_VM_EXEC_CONTROL: LONG.CPU_BASED_VM_EXEC_CONTROL! | (1n << 28n), MSR_BITMAP: 0x123n }, {}, vmfail(7, 'MSR-bitmap address')],
  ['TPR shadow with an unaligned virtual-APIC page', { ...LONG, CPU_BASED_VM_EXEC_CONTROL: LONG.CPU_BASED_VM_EXEC_CONTROL! | (1n << 21n), VIRTUAL_APIC_PAGE_ADDR: 0x7010n }, {}, vmfail(7, 'virtual-APIC address')],
  ['TPR threshold bits 31:4', { ...LONG, CPU_BASED_VM_EXEC_CONTROL: LONG.CPU_BASED_VM_EXEC_CONTROL! | (1n << 21n), VIRTUAL_APIC_PAGE_ADDR: 0x7000n, TPR_THRESHOLD: 0x10n }, {}, vmfail(7, 'TPR threshold: bits 31:4')],
  ['TPR threshold above VTPR', { ...LONG, CPU_BASED_VM_EXEC_CONTROL: LONG.CPU_BASED_VM_EXEC_CONTROL! | (1n << 21n), VIRTUAL_APIC_PAGE_ADDR: 0x7000n, TPR_THRESHOLD: 5n }, { readPhys32: (a) => (a === 0x7080 ? 0x40 : 0) }, vmfail(7, 'TPR threshold above VTPR')],
  ['virtual NMIs without NMI exiting', { ...LONG, PIN_BASED_VM_EXEC_CONTROL: 0x37n }, {}, vmfail(7, 'virtual NMIs without NMI exiting')],
  ['NMI-window exiting without virtual NMIs', { ...LONG, CPU_BASED_VM_EXEC_CONTROL: LONG.CPU_BASED_VM_EXEC_CONTROL! | (1n << 22n) }, {}, vmfail(7, 'NMI-window exiting without virtual NMIs')],
  ['VPID 0', { ...LONG, VIRTUAL_PROCESSOR_ID: 0n }, {}, vmfail(7, 'VPID is 0')],
  ['EPTP memory type WC', { ...LONG, EPT_POINTER: (makeEptp(0x100000) & ~7n) | 1n }, {}, vmfail(7, 'EPTP: memory type')],
  ['EPTP 5-level walk (unsupported)', { ...LONG, EPT_POINTER: 0x100026n }, {}, vmfail(7, 'EPTP: page-walk length')],
  ['EPTP reserved bit 8', { ...LONG, EPT_POINTER: makeEptp(0x100000) | 0x100n }, {}, vmfail(7, 'EPTP: reserved bits')],
  ['EPTP beyond MAXPHYADDR', { ...LONG, EPT_POINTER: makeEptp(1n << 40n) }, {}, vmfail(7, 'EPTP: reserved bits')],
  ['unrestricted guest without EPT', { ...REAL, SECONDARY_VM_EXEC_CONTROL: 0xa0n }, {}, vmfail(7, 'unrestricted guest without EPT')],
  // §27.2.1.2 exit controls
  ['exit default1 bit 0 cleared', { ...LONG, VM_EXIT_CONTROLS: LONG.VM_EXIT_CONTROLS! & ~1n }, {}, vmfail(7, 'VM-exit controls: reserved bits')],
  ['save preemption timer without the timer', { ...LONG, VM_EXIT_CONTROLS: LONG.VM_EXIT_CONTROLS! | (1n << 22n) }, {}, vmfail(7, 'save VMX-preemption timer without the timer')],
  ['MSR-store area not 16-byte aligned', { ...LONG, VM_EXIT_MSR_STORE_COUNT: 1n, VM_EXIT_MSR_STORE_ADDR: 0x1008n }, {}, vmfail(7, 'VM-exit MSR-store address')],
  // §27.2.1.3 entry controls
  ['entry to SMM', { ...LONG, VM_ENTRY_CONTROLS: LONG.VM_ENTRY_CONTROLS! | 0x400n }, {}, vmfail(7, 'VM-entry controls: reserved bits')],
  ['MSR-load area crossing MAXPHYADDR', { ...LONG, VM_ENTRY_MSR_LOAD_COUNT: 2n, VM_ENTRY_MSR_LOAD_ADDR: (1n << 39n) - 16n }, {}, vmfail(7, 'VM-entry MSR-load address')],
  ['inject reserved type 1', { ...LONG, ...inject(0x120) }, {}, vmfail(7, 'event injection: interruption type')],
  ['inject NMI with vector 3', { ...LONG, ...inject(0x203) }, {}, vmfail(7, 'event injection: NMI vector')],
  ['inject exception vector 32', { ...LONG, ...inject(0x320) }, {}, vmfail(7, 'event injection: exception vector')],
  ['inject #GP without error code', { ...LONG, ...inject(0x30d) }, {}, vmfail(7, 'event injection: deliver-error-code bit')],
  ['inject #UD with error code', { ...LONG, ...inject(0xb06) }, {}, vmfail(7, 'event injection: deliver-error-code bit')],
  ['inject #GP with error code in real mode', { ...REAL, ...inject(0xb0d) }, {}, vmfail(7, 'event injection: deliver-error-code bit')],
  ['inject with reserved bit 12', { ...LONG, ...inject(0x1020) }, {}, vmfail(7, 'event injection: reserved bits')],
  ['inject #PF with error code bit 16', { ...LONG, ...inject(0xb0e), VM_ENTRY_EXCEPTION_ERROR_CODE: 0x10000n }, {}, vmfail(7, 'event injection: error code bits 31:16')],
  ['inject INT n with length 0', { ...LONG, ...inject(0x480) }, {}, vmfail(7, 'event injection: instruction length')],
  // §27.2.2-27.2.4 host state
  ['host CR0.PG clear', { ...LONG, HOST_CR0: 0x50033n }, {}, vmfail(8, 'host CR0: fixed bits')],
  ['host CR4.VMXE clear', { ...LONG, HOST_CR4: 0x20n }, {}, vmfail(8, 'host CR4: fixed bits')],
  ['host CR4 reserved bit 12 (LA57 unsupported)', { ...LONG, HOST_CR4: 0x3020n }, {}, vmfail(8, 'host CR4: fixed bits')],
  ['host CR3 beyond MAXPHYADDR', { ...LONG, HOST_CR3: 1n << 40n }, {}, vmfail(8, 'host CR3: bits beyond MAXPHYADDR')],
  ['host SYSENTER_EIP not canonical', { ...LONG, HOST_IA32_SYSENTER_EIP: 0x0000_8000_0000_0000n }, {}, vmfail(8, 'host SYSENTER_ESP/EIP canonical')],
  ['host PAT with reserved type 2', { ...LONG, VM_EXIT_CONTROLS: LONG.VM_EXIT_CONTROLS! | (1n << 19n), HOST_IA32_PAT: 0x0007040600070402n }, {}, vmfail(8, 'host IA32_PAT')],
  ['host EFER reserved bit 1', { ...LONG, HOST_IA32_EFER: 0xd03n }, {}, vmfail(8, 'host IA32_EFER: reserved bits')],
  ['host EFER.LMA clear with a 64-bit host', { ...LONG, HOST_IA32_EFER: 0x901n }, {}, vmfail(8, 'host IA32_EFER.LMA/LME vs host address-space size')],
  ['host CS selector RPL 3', { ...LONG, HOST_CS_SELECTOR: 0x0bn }, {}, vmfail(8, 'host selectors: RPL and TI')],
  ['host CS selector null', { ...LONG, HOST_CS_SELECTOR: 0n }, {}, vmfail(8, 'host CS selector is null')],
  ['host TR selector null', { ...LONG, HOST_TR_SELECTOR: 0n }, {}, vmfail(8, 'host TR selector is null')],
  ['host GDTR base not canonical', { ...LONG, HOST_GDTR_BASE: 0x0001_0000_0000_0000n }, {}, vmfail(8, 'host bases canonical')],
  ['IA-32e guest from outside IA-32e mode', LONG, { hostIa32eMode: false }, vmfail(8, 'outside IA-32e mode: IA-32e guest or 64-bit host')],
  ['32-bit host from IA-32e mode', { ...LONG, VM_EXIT_CONTROLS: 0x36dfbn }, {}, vmfail(8, 'in IA-32e mode: host address-space size is 0')],
  ['host RIP not canonical', { ...LONG, HOST_RIP: 0x0000_9000_0000_0000n }, {}, vmfail(8, 'host RIP canonical')],
  // §27.3.1.1 guest control registers and MSRs
  ['guest CR0.PG clear without unrestricted guest', { ...LONG, GUEST_CR0: 0x50033n }, {}, bad('guest CR0: fixed bits')],
  ['guest CR0 reserved bit 6', { ...LONG, GUEST_CR0: 0x80050073n }, {}, bad('guest CR0: fixed bits')],
  ['guest CR0.NE clear in real mode', { ...REAL, GUEST_CR0: 0x10n }, {}, bad('guest CR0: fixed bits')],
  ['guest CR0.PG without PE', { ...REAL, GUEST_CR0: 0x80000030n }, {}, bad('guest CR0.PG without CR0.PE')],
  ['guest CR4.VMXE clear', { ...LONG, GUEST_CR4: 0x20n }, {}, bad('guest CR4: fixed bits')],
  ['IA-32e guest without CR4.PAE', { ...LONG, GUEST_CR4: 0x2000n }, {}, bad('IA-32e mode guest without CR0.PG and CR4.PAE')],
  ['guest CR3 beyond MAXPHYADDR', { ...LONG, GUEST_CR3: 1n << 39n }, {}, bad('guest CR3: bits beyond MAXPHYADDR')],
  ['guest DR7 bit 32', { ...LONG, VM_ENTRY_CONTROLS: LONG.VM_ENTRY_CONTROLS! | 4n, GUEST_DR7: 0x1_0000_0400n }, {}, bad('guest DR7: bits 63:32')],
  ['guest EFER.LMA clear in an IA-32e guest', { ...LONG, GUEST_IA32_EFER: 0x100n }, {}, bad('guest IA32_EFER.LMA vs IA-32e mode guest')],
  // §27.3.1.2 segments
  ['guest TR selector TI', { ...LONG, GUEST_TR_SELECTOR: 0x1cn }, {}, bad('guest TR selector: TI flag')],
  ['guest SS.RPL != CS.RPL', { ...LONG, GUEST_SS_SELECTOR: 0x13n }, {}, bad('guest SS.RPL differs from CS.RPL')],
  ['guest FS base not canonical', { ...LONG, GUEST_FS_BASE: 0x0000_8000_0000_0000n }, {}, bad('guest TR/FS/GS base canonical')],
  ['guest CS data type without unrestricted guest', { ...LONG, GUEST_CS_AR_BYTES: 0xa093n }, {}, bad('guest CS: type')],
  ['guest DS not accessed', { ...LONG, GUEST_DS_AR_BYTES: 0xc092n }, {}, bad('guest DS: type')],
  ['guest SS not present', { ...LONG, GUEST_SS_AR_BYTES: 0xc013n }, {}, bad('guest SS: present')],
  ['guest CS byte granular with 4 GiB limit', { ...LONG, GUEST_CS_AR_BYTES: 0x209bn }, {}, bad('guest CS: granularity vs limit')],
  ['guest CS.L and CS.D', { ...LONG, GUEST_CS_AR_BYTES: 0xe09bn }, {}, bad('CS.L and CS.D both set')],
  ['guest SS.DPL 3 in real mode', { ...REAL, GUEST_SS_AR_BYTES: 0xf3n }, {}, bad('guest CS: DPL')],
  ['guest TR 16-bit busy TSS in IA-32e mode', { ...LONG, GUEST_TR_AR_BYTES: 0x83n }, {}, bad('guest TR: type')],
  ['guest TR unusable', { ...LONG, GUEST_TR_AR_BYTES: 0x1008bn }, {}, bad('guest TR: unusable')],
  ['guest LDTR usable with a data type', { ...REAL, GUEST_LDTR_AR_BYTES: 0x83n }, {}, bad('guest LDTR: type')],
  // §27.3.1.3-27.3.1.4
  ['guest GDTR limit above 0xffff', { ...LONG, GUEST_GDTR_LIMIT: 0x10000n }, {}, bad('guest GDTR/IDTR limit bits 31:16')],
  ['guest RIP not canonical in 64-bit mode', { ...LONG, GUEST_RIP: 0x0000_8000_0000_0000n }, {}, bad('guest RIP canonical')],
  ['guest RIP above 4 GiB in a 32-bit guest', { ...PAE, GUEST_RIP: 0x1_0000_0000n }, {}, bad('guest RIP bits 63:32')],
  ['guest RFLAGS bit 1 clear', { ...LONG, GUEST_RFLAGS: 0n }, {}, bad('guest RFLAGS: reserved bits')],
  ['guest RFLAGS.VM with CR0.PE clear', {
    ...REAL, GUEST_RFLAGS: 0x20002n,
    ...Object.fromEntries(['CS', 'SS', 'DS', 'ES', 'FS', 'GS'].map((s) => [`GUEST_${s}_AR_BYTES`, 0xf3n])),
  }, {}, bad('guest RFLAGS.VM in IA-32e mode or real mode')],
  ['external interrupt injected with IF = 0', { ...LONG, ...inject(0x20) }, {}, bad('external-interrupt injection with RFLAGS.IF = 0')],
  // §27.3.1.5 non-register state
  ['activity state wait-for-SIPI (unsupported)', { ...LONG, GUEST_ACTIVITY_STATE: 3n }, {}, bad('guest activity state: unsupported')],
  ['HLT with SS.DPL 3', {
    ...LONG, GUEST_ACTIVITY_STATE: 1n, GUEST_CS_SELECTOR: 0x2bn, GUEST_CS_AR_BYTES: 0xa0fbn, GUEST_SS_SELECTOR: 0x23n, GUEST_SS_AR_BYTES: 0xc0f3n,
  }, {}, bad('guest activity state HLT with SS.DPL != 0')],
  ['HLT with STI blocking', { ...LONG, GUEST_ACTIVITY_STATE: 1n, GUEST_RFLAGS: 0x202n, GUEST_INTERRUPTIBILITY_INFO: 1n }, {}, bad('guest activity state not active with STI/MOV-SS blocking')],
  ['HLT while injecting a software interrupt', { ...LONG, GUEST_ACTIVITY_STATE: 1n, ...inject(0x480), VM_ENTRY_INSTRUCTION_LEN: 2n }, {}, bad('event injection blocked in the activity state')],
  ['interruptibility enclave bit (no SGX)', { ...LONG, GUEST_INTERRUPTIBILITY_INFO: 0x10n }, {}, bad('guest interruptibility state: reserved bits')],
  ['STI and MOV-SS blocking together', { ...LONG, GUEST_RFLAGS: 0x202n, GUEST_INTERRUPTIBILITY_INFO: 3n }, {}, bad('guest interruptibility: STI and MOV SS blocking both set')],
  ['STI blocking with IF = 0', { ...LONG, GUEST_INTERRUPTIBILITY_INFO: 1n }, {}, bad('guest interruptibility: STI blocking with RFLAGS.IF = 0')],
  ['NMI injected under MOV-SS blocking', { ...LONG, ...inject(0x202), GUEST_INTERRUPTIBILITY_INFO: 2n }, {}, bad('NMI injection with MOV-SS blocking')],
  ['SMI blocking outside SMM', { ...LONG, GUEST_INTERRUPTIBILITY_INFO: 4n }, {}, bad('guest interruptibility: SMI blocking outside SMM')],
  ['NMI injected under STI blocking', { ...LONG, ...inject(0x202), GUEST_RFLAGS: 0x202n, GUEST_INTERRUPTIBILITY_INFO: 1n }, {}, bad('NMI injection with STI blocking', 3)],
  ['pending debug exceptions reserved bit 4', { ...LONG, GUEST_PENDING_DBG_EXCEPTIONS: 0x10n }, {}, bad('guest pending debug exceptions: reserved bits')],
  ['single-step pending without BS', { ...LONG, GUEST_RFLAGS: 0x302n, GUEST_INTERRUPTIBILITY_INFO: 1n }, {}, bad('guest pending debug exceptions: BS must be 1')],
  ['BS without TF', { ...LONG, GUEST_RFLAGS: 0x202n, GUEST_INTERRUPTIBILITY_INFO: 1n, GUEST_PENDING_DBG_EXCEPTIONS: 0x4000n }, {}, bad('guest pending debug exceptions: BS must be 0')],
  ['VMCS link pointer not aligned', { ...LONG, VMCS_LINK_POINTER: 0x7008n }, {}, bad('VMCS link pointer', 4)],
  ['VMCS link pointer with a wrong revision', { ...LONG, VMCS_LINK_POINTER: 0x7000n }, { readPhys32: () => 0x1234 }, bad('VMCS link pointer', 4)],
  ['VMCS link pointer = current VMCS', { ...LONG, VMCS_LINK_POINTER: 0x9000n }, {}, bad('VMCS link pointer', 4)],
  // §27.3.1.6 PDPTEs
  ['PDPTE reserved bit 1 (from the VMCS, EPT on)', { ...PAE, GUEST_PDPTR2: 0x4003n }, {}, bad('guest PDPTEs', 2)],
  ['PDPTE beyond MAXPHYADDR (from memory, EPT off)', PAE_NO_EPT, { readPhys32: (a) => (a === 0x2004 ? 0x100 : a === 0x2000 ? 1 : 0) }, bad('guest PDPTEs', 2)],
];

describe('deliberately wrong settings', () => {
  it('has at least 40 cases', () => expect(CASES.length).toBeGreaterThanOrEqual(40));
  it.each(CASES)('%s', (_name, fields, ctx, want) => {
    expect(run(fields, ctx)).toEqual(want);
  });
});

describe('order of checks', () => {
  it('a control-field fault wins over a host-state fault, which wins over a guest-state fault (SDM §27.2 before §27.3)', () => {
    const all: Fields = { ...LONG, CR3_TARGET_COUNT: 9n, HOST_CS_SELECTOR: 0n, GUEST_RFLAGS: 0n };
    expect(run(all)).toMatchObject({ kind: 'vmfail', error: 7 });
    expect(run({ ...all, CR3_TARGET_COUNT: 0n })).toMatchObject({ kind: 'vmfail', error: 8 });
    expect(run({ ...all, CR3_TARGET_COUNT: 0n, HOST_CS_SELECTOR: 8n })).toMatchObject({ kind: 'invalid-guest' });
  });
});
