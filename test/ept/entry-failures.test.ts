// VM-entry failures through the real VMLAUNCH/VMRESUME path: one deliberately wrong VMCS setting per case, each failing with the SDM's error and the check's name.
import { describe, expect, it } from 'vitest';
import { Machine, parseLaunchConfig } from '../../emulator/index.js';
import { HOST_LAYOUT, type Hypervisor } from '../../emulator/vmm/hypervisor.js';
import type { VmcsFieldName } from '../../emulator/vmx/fields.js';
import { EXIT_REASON } from '../../emulator/vmx/exit-reasons.js';
import { nasm } from './helpers.js';

/**
 * How the SDM says entry fails: VMfailValid with error 7 for the VM-execution, exit and entry control checks
 * (vol. 3C §27.2.1), error 8 for the host-state checks (§27.2.2-27.2.4), and for the guest-state checks (§27.3.1) a
 * VM exit with basic reason 33 and bit 31 set, with exit qualification 0, 2 (PDPTE) or 4 (VMCS link pointer) (§27.8).
 */
type Expect = { kind: 'vmfail'; error: 7 | 8; check: string } | { kind: 'invalid-guest'; check: string; qualification?: number };

interface Case {
  name: string;
  mode?: 'long' | 'protected';
  /** Break the VMCS (or memory it points at) before the first VM entry. */
  apply: (hv: Hypervisor) => void;
  expect: Expect;
}

/** VM-instruction error texts, SDM vol. 3C table 31-1. */
const ERROR_TEXT = { 7: 'VM entry with invalid control field(s)', 8: 'VM entry with invalid host-state field(s)' } as const;

const NONCANONICAL = 0x0000_8000_0000_0000n;
const BEYOND_MAXPHY = 1n << 39n; // MAXPHYADDR is 39 (CPUID 80000008H)

/** Read-modify-write one field. */
const upd = (field: VmcsFieldName, f: (v: bigint) => bigint) => (hv: Hypervisor) => hv.vmwrite(field, f(hv.vmread(field)));
const set = (...pairs: Array<[VmcsFieldName, bigint]>) => (hv: Hypervisor) => { for (const [k, v] of pairs) hv.vmwrite(k, v); };
const bit = (n: number): bigint => 1n << BigInt(n);
const TPR_SHADOW = bit(21);
const ctl = (check: string): Expect => ({ kind: 'vmfail', error: 7, check });
const host = (check: string): Expect => ({ kind: 'vmfail', error: 8, check });
const guest = (check: string, qualification = 0): Expect => ({ kind: 'invalid-guest', check, qualification });

const CASES: Case[] = [
  // ---- §27.2.1.1 VM-execution control fields (error 7)
  { name: 'pin-based default1 bit 1 cleared', apply: upd('PIN_BASED_VM_EXEC_CONTROL', (v) => v & ~bit(1)), expect: ctl('pin-based controls: reserved bits') },
  { name: 'pin-based posted interrupts (not supported)', apply: upd('PIN_BASED_VM_EXEC_CONTROL', (v) => v | bit(7)), expect: ctl('pin-based controls: reserved bits') },
  { name: 'primary controls default1 bit 1 cleared', apply: upd('CPU_BASED_VM_EXEC_CONTROL', (v) => v & ~bit(1)), expect: ctl('primary processor-based controls: reserved bits') },
  { name: 'secondary: virtualize APIC accesses (not supported)', apply: upd('SECONDARY_VM_EXEC_CONTROL', (v) => v | bit(0)), expect: ctl('secondary processor-based controls: reserved bits') },
  { name: 'CR3-target count 5 (> 4 in IA32_VMX_MISC)', apply: set(['CR3_TARGET_COUNT', 5n]), expect: ctl('CR3-target count') },
  { name: 'I/O bitmap B not page-aligned', apply: set(['IO_BITMAP_B', BigInt(HOST_LAYOUT.ioBitmapB + 0x800)]), expect: ctl('I/O bitmap addresses') },
  { name: 'MSR bitmap beyond MAXPHYADDR', apply: set(['MSR_BITMAP', BEYOND_MAXPHY]), expect: ctl('MSR-bitmap address') },
  {
    name: 'TPR shadow with a misaligned virtual-APIC address',
    apply: (hv) => { upd('CPU_BASED_VM_EXEC_CONTROL', (v) => v | TPR_SHADOW)(hv); hv.vmwrite('VIRTUAL_APIC_PAGE_ADDR', BigInt(HOST_LAYOUT.virtualApic + 0x10)); },
    expect: ctl('virtual-APIC address'),
  },
  {
    name: 'TPR threshold with bits 31:4 set',
    apply: (hv) => { upd('CPU_BASED_VM_EXEC_CONTROL', (v) => v | TPR_SHADOW)(hv); hv.vmwrite('TPR_THRESHOLD', 0x20n); },
    expect: ctl('TPR threshold: bits 31:4'),
  },
  {
    name: 'TPR threshold above VTPR[7:4] in the virtual-APIC page',
    apply: (hv) => { upd('CPU_BASED_VM_EXEC_CONTROL', (v) => v | TPR_SHADOW)(hv); hv.vmwrite('TPR_THRESHOLD', 5n); hv.host.write32(HOST_LAYOUT.virtualApic + 0x80, 0x30); },
    expect: ctl('TPR threshold above VTPR'),
  },
  { name: 'virtual NMIs without NMI exiting', apply: upd('PIN_BASED_VM_EXEC_CONTROL', (v) => (v & ~bit(3)) | bit(5)), expect: ctl('virtual NMIs without NMI exiting') },
  { name: 'NMI-window exiting without virtual NMIs', apply: upd('CPU_BASED_VM_EXEC_CONTROL', (v) => v | bit(22)), expect: ctl('NMI-window exiting without virtual NMIs') },
  { name: 'VPID 0 with enable VPID', apply: set(['VIRTUAL_PROCESSOR_ID', 0n]), expect: ctl('VPID is 0') },
  { name: 'EPTP memory type WC (only UC and WB in IA32_VMX_EPT_VPID_CAP)', apply: upd('EPT_POINTER', (v) => (v & ~7n) | 1n), expect: ctl('EPTP: memory type') },
  { name: 'EPTP page-walk length 3', apply: upd('EPT_POINTER', (v) => (v & ~0x38n) | (2n << 3n)), expect: ctl('EPTP: page-walk length') },
  { name: 'EPTP reserved bit 8', apply: upd('EPT_POINTER', (v) => v | bit(8)), expect: ctl('EPTP: reserved bits') },
  { name: 'EPTP bit 39 (beyond MAXPHYADDR)', apply: upd('EPT_POINTER', (v) => v | BEYOND_MAXPHY), expect: ctl('EPTP: reserved bits') },
  { name: 'unrestricted guest without EPT', apply: upd('SECONDARY_VM_EXEC_CONTROL', (v) => v & ~bit(1)), expect: ctl('unrestricted guest without EPT') },
  // ---- §27.2.1.2 VM-exit control fields (error 7)
  { name: 'VM-exit controls default1 bit 0 cleared', apply: upd('VM_EXIT_CONTROLS', (v) => v & ~bit(0)), expect: ctl('VM-exit controls: reserved bits') },
  { name: 'save VMX-preemption timer value without the timer', apply: upd('VM_EXIT_CONTROLS', (v) => v | bit(22)), expect: ctl('save VMX-preemption timer without the timer') },
  { name: 'VM-exit MSR-store area not 16-byte aligned', apply: set(['VM_EXIT_MSR_STORE_COUNT', 1n], ['VM_EXIT_MSR_STORE_ADDR', 0x8008n]), expect: ctl('VM-exit MSR-store address') },
  // ---- §27.2.1.3 VM-entry control fields (error 7)
  { name: 'VM-entry controls default1 bit 0 cleared', apply: upd('VM_ENTRY_CONTROLS', (v) => v & ~bit(0)), expect: ctl('VM-entry controls: reserved bits') },
  { name: 'event injection with reserved interruption type 1', apply: set(['VM_ENTRY_INTR_INFO_FIELD', 0x8000_0100n]), expect: ctl('event injection: interruption type') },
  { name: 'event injection: NMI with vector 3', apply: set(['VM_ENTRY_INTR_INFO_FIELD', 0x8000_0203n]), expect: ctl('event injection: NMI vector') },
  { name: 'event injection: #GP without deliver-error-code', apply: set(['VM_ENTRY_INTR_INFO_FIELD', 0x8000_030dn]), expect: ctl('event injection: deliver-error-code bit') },
  { name: 'event injection: #UD with deliver-error-code', apply: set(['VM_ENTRY_INTR_INFO_FIELD', 0x8000_0b06n]), expect: ctl('event injection: deliver-error-code bit') },
  { name: 'event injection: software interrupt with instruction length 0', apply: set(['VM_ENTRY_INTR_INFO_FIELD', 0x8000_0480n], ['VM_ENTRY_INSTRUCTION_LEN', 0n]), expect: ctl('event injection: instruction length') },
  { name: 'VM-entry MSR-load area crossing MAXPHYADDR', apply: set(['VM_ENTRY_MSR_LOAD_COUNT', 2n], ['VM_ENTRY_MSR_LOAD_ADDR', BEYOND_MAXPHY - 16n]), expect: ctl('VM-entry MSR-load address') },
  // ---- §27.2.2-27.2.4 host state (error 8)
  { name: 'host CR0.NE clear (IA32_VMX_CR0_FIXED0)', apply: upd('HOST_CR0', (v) => v & ~bit(5)), expect: host('host CR0: fixed bits') },
  { name: 'host CR4.VMXE clear (IA32_VMX_CR4_FIXED0)', apply: upd('HOST_CR4', (v) => v & ~bit(13)), expect: host('host CR4: fixed bits') },
  { name: 'host CR3 beyond MAXPHYADDR', apply: set(['HOST_CR3', BEYOND_MAXPHY]), expect: host('host CR3: bits beyond MAXPHYADDR') },
  { name: 'host SYSENTER_EIP not canonical', apply: set(['HOST_IA32_SYSENTER_EIP', NONCANONICAL]), expect: host('host SYSENTER_ESP/EIP canonical') },
  { name: 'host PAT with memory type 2', apply: set(['HOST_IA32_PAT', 0x0007040600070402n]), expect: host('host IA32_PAT') },
  { name: 'host EFER reserved bit 1', apply: upd('HOST_IA32_EFER', (v) => v | bit(1)), expect: host('host IA32_EFER: reserved bits') },
  { name: 'host EFER.LMA clear with a 64-bit host', apply: upd('HOST_IA32_EFER', (v) => v & ~bit(10)), expect: host('host IA32_EFER.LMA/LME vs host address-space size') },
  { name: 'host CS selector with RPL 3', apply: set(['HOST_CS_SELECTOR', 0x13n]), expect: host('host selectors: RPL and TI') },
  { name: 'host CS selector null', apply: set(['HOST_CS_SELECTOR', 0n]), expect: host('host CS selector is null') },
  { name: 'host TR selector null', apply: set(['HOST_TR_SELECTOR', 0n]), expect: host('host TR selector is null') },
  { name: 'host GDTR base not canonical', apply: set(['HOST_GDTR_BASE', NONCANONICAL]), expect: host('host bases canonical') },
  { name: '64-bit host without CR4.PAE', apply: upd('HOST_CR4', (v) => v & ~bit(5)), expect: host('64-bit host without CR4.PAE') },
  { name: 'host RIP not canonical', apply: set(['HOST_RIP', NONCANONICAL]), expect: host('host RIP canonical') },
  {
    name: '32-bit host with an IA-32e mode guest',
    apply: (hv) => { upd('VM_EXIT_CONTROLS', (v) => v & ~bit(9))(hv); upd('HOST_IA32_EFER', (v) => v & ~(bit(8) | bit(10)))(hv); },
    expect: host('IA-32e mode guest with 32-bit host'),
  },
  // ---- §27.3.1 guest state (exit reason 33 | bit 31)
  { name: 'guest CR0.NE clear', apply: upd('GUEST_CR0', (v) => v & ~bit(5)), expect: guest('guest CR0: fixed bits') },
  { name: 'guest CR0.PG without CR0.PE', apply: upd('GUEST_CR0', (v) => v & ~bit(0)), expect: guest('guest CR0.PG without CR0.PE') },
  { name: 'guest CR4.VMXE clear', apply: upd('GUEST_CR4', (v) => v & ~bit(13)), expect: guest('guest CR4: fixed bits') },
  { name: 'IA-32e mode guest without CR4.PAE', apply: upd('GUEST_CR4', (v) => v & ~bit(5)), expect: guest('IA-32e mode guest without CR0.PG and CR4.PAE') },
  { name: 'guest CR3 beyond MAXPHYADDR', apply: set(['GUEST_CR3', BEYOND_MAXPHY]), expect: guest('guest CR3: bits beyond MAXPHYADDR') },
  { name: 'guest EFER.LMA clear in an IA-32e mode guest', apply: upd('GUEST_IA32_EFER', (v) => v & ~bit(10)), expect: guest('guest IA32_EFER.LMA vs IA-32e mode guest') },
  { name: 'guest PAT with memory type 3', apply: set(['GUEST_IA32_PAT', 0x0007040600070403n]), expect: guest('guest IA32_PAT') },
  { name: 'guest SYSENTER_ESP not canonical', apply: set(['GUEST_SYSENTER_ESP', NONCANONICAL]), expect: guest('guest SYSENTER_ESP/EIP canonical') },
  { name: 'guest TR selector with TI set', apply: upd('GUEST_TR_SELECTOR', (v) => v | 4n), expect: guest('guest TR selector: TI flag') },
  { name: 'guest CS with both L and D/B', apply: upd('GUEST_CS_AR_BYTES', (v) => v | bit(14)), expect: guest('CS.L and CS.D both set') },
  { name: 'guest SS not present', apply: upd('GUEST_SS_AR_BYTES', (v) => v & ~bit(7)), expect: guest('guest SS: present') },
  { name: 'guest TR type 3 (16-bit busy TSS) in IA-32e mode', apply: upd('GUEST_TR_AR_BYTES', (v) => (v & ~0xfn) | 3n), expect: guest('guest TR: type') },
  { name: 'guest GDTR limit bits 31:16', apply: set(['GUEST_GDTR_LIMIT', 0x10000n]), expect: guest('guest GDTR/IDTR limit bits 31:16') },
  { name: 'guest RIP not canonical in 64-bit mode', apply: set(['GUEST_RIP', NONCANONICAL]), expect: guest('guest RIP canonical') },
  { name: 'guest RFLAGS bit 1 clear', apply: upd('GUEST_RFLAGS', (v) => v & ~2n), expect: guest('guest RFLAGS: reserved bits') },
  { name: 'guest activity state wait-for-SIPI (not in IA32_VMX_MISC)', apply: set(['GUEST_ACTIVITY_STATE', 3n]), expect: guest('guest activity state: unsupported') },
  { name: 'guest blocking by STI and by MOV SS together', apply: set(['GUEST_INTERRUPTIBILITY_INFO', 3n]), expect: guest('guest interruptibility: STI and MOV SS blocking both set') },
  {
    name: 'guest blocking by STI with RFLAGS.IF = 0',
    apply: (hv) => { upd('GUEST_RFLAGS', (v) => v & ~bit(9))(hv); hv.vmwrite('GUEST_INTERRUPTIBILITY_INFO', 1n); },
    expect: guest('guest interruptibility: STI blocking with RFLAGS.IF = 0'),
  },
  {
    name: 'external-interrupt injection with RFLAGS.IF = 0',
    apply: (hv) => { upd('GUEST_RFLAGS', (v) => v & ~bit(9))(hv); hv.vmwrite('VM_ENTRY_INTR_INFO_FIELD', 0x8000_0020n); },
    expect: guest('external-interrupt injection with RFLAGS.IF = 0'),
  },
  { name: 'guest pending debug exceptions reserved bit 13', apply: set(['GUEST_PENDING_DBG_EXCEPTIONS', bit(13)]), expect: guest('guest pending debug exceptions: reserved bits') },
  { name: 'VMCS link pointer to a page without the revision identifier', apply: set(['VMCS_LINK_POINTER', 0x8000n]), expect: guest('VMCS link pointer', 4) },
  { name: 'VMCS link pointer equal to the current VMCS', apply: set(['VMCS_LINK_POINTER', BigInt(HOST_LAYOUT.vmcs)]), expect: guest('VMCS link pointer', 4) },
  {
    name: 'PAE guest with a reserved bit in PDPTE 0',
    mode: 'protected',
    apply: (hv) => {
      upd('GUEST_CR0', (v) => v | bit(31))(hv);
      upd('GUEST_CR4', (v) => v | bit(5))(hv);
      hv.vmwrite('GUEST_PDPTR0', 0x1000n | 1n | bit(2)); // bits 2:1 of a present PDPTE are reserved (SDM vol. 3A §4.4.1)
    },
    expect: guest('guest PDPTEs', 2),
  },
];

let image: Uint8Array | undefined;
function machine(mode: 'long' | 'protected' = 'long'): Machine {
  image ??= nasm('entry');
  return new Machine(image, parseLaunchConfig({ program: 'entry', format: 'flat', cpuMode: mode }));
}

/** Assert the way the run ended matches the SDM outcome `e` for `op` (VMLAUNCH or VMRESUME). */
function expectFailure(m: Machine, r: ReturnType<Machine['runToEnd']>, e: Expect, op: 'VMLAUNCH' | 'VMRESUME'): void {
  const hv = m.hv!;
  expect(r.status).toBe('error');
  expect(hv.vmx.lastEntryCheck).toBe(e.check);
  if (e.kind === 'vmfail') {
    expect(r.message).toBe(`${op} failed: VM-instruction error ${e.error} (${ERROR_TEXT[e.error]}): ${e.check}`);
    expect(hv.vmread('VM_INSTRUCTION_ERROR')).toBe(BigInt(e.error));
  } else {
    expect(r.message).toBe(`VM entry failed: invalid guest state: ${e.check}`);
    expect(hv.vmread('VM_EXIT_REASON')).toBe(0x8000_0000n | BigInt(EXIT_REASON.INVALID_STATE));
    expect(hv.vmread('EXIT_QUALIFICATION')).toBe(BigInt(e.qualification ?? 0));
    expect(hv.vmx.lastExit?.check).toBe(e.check);
    const last = hv.log.recent().at(-1)!;
    expect(last.name).toBe('INVALID_STATE');
    expect(last.note).toBe(`failed check: ${e.check}`);
    expect(r.vmExits.byReason.INVALID_STATE).toBe(1);
  }
}

describe('VM-entry failures at VMLAUNCH, one wrong VMCS setting each', () => {
  it('the unmodified machine enters and runs (baseline for every case)', () => {
    for (const mode of ['long', 'protected'] as const) {
      const m = machine(mode);
      const r = m.runToEnd();
      expect(r.status, mode).toBe('debug-exit');
      expect(r.output).toBe('ok');
    }
  });

  it('the table covers controls, host state and guest state with at least 25 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(25);
    for (const k of ['vmfail-7', 'vmfail-8', 'invalid-guest']) {
      expect(CASES.filter((c) => (c.expect.kind === 'vmfail' ? `vmfail-${c.expect.error}` : c.expect.kind) === k).length, k).toBeGreaterThanOrEqual(8);
    }
  });

  for (const c of CASES) {
    it(`${c.name} → ${c.expect.kind === 'vmfail' ? `VMfailValid ${c.expect.error}` : 'exit reason 33'}: ${c.expect.check}`, () => {
      const m = machine(c.mode);
      c.apply(m.hv!);
      const r = m.runToEnd();
      expectFailure(m, r, c.expect, 'VMLAUNCH');
      // Nothing of the guest ran; a VMfail leaves the VMCS unlaunched, so no exit was recorded either.
      expect(r.instructions).toBe(0);
      expect(r.output).toBe('');
      if (c.expect.kind === 'vmfail') expect(r.vmExits.total).toBe(0);
    });
  }
});

describe('VM-entry failures at VMRESUME after an exit handler breaks a field', () => {
  /** Run the entry guest; at its first I/O exit (the 'o'), handle it and then apply `breakIt`. */
  function breakAtFirstExit(breakIt: (hv: Hypervisor) => void) {
    const m = machine();
    const hv = m.hv!;
    const io = hv.handlers.get(EXIT_REASON.IO_INSTRUCTION)!;
    let n = 0;
    hv.handlers.set(EXIT_REASON.IO_INSTRUCTION, (vcpu) => {
      const out = io(vcpu);
      if (++n === 1) breakIt(hv);
      return out;
    });
    return { m, r: m.runToEnd() };
  }

  const resumeCases: Array<{ name: string; apply: (hv: Hypervisor) => void; expect: Expect }> = [
    { name: 'host CR4.VMXE cleared', apply: upd('HOST_CR4', (v) => v & ~bit(13)), expect: host('host CR4: fixed bits') },
    { name: 'EPTP given a reserved memory type', apply: upd('EPT_POINTER', (v) => (v & ~7n) | 2n), expect: ctl('EPTP: memory type') },
    { name: 'guest TR made a 16-bit TSS', apply: upd('GUEST_TR_AR_BYTES', (v) => (v & ~0xfn) | 3n), expect: guest('guest TR: type') },
    // Fields the fast re-entry check covers (changed at nearly every exit): they must still be caught.
    { name: 'guest RFLAGS reserved bit 3 set', apply: upd('GUEST_RFLAGS', (v) => v | bit(3)), expect: guest('guest RFLAGS: reserved bits') },
    { name: 'NMI-window exiting without virtual NMIs', apply: upd('CPU_BASED_VM_EXEC_CONTROL', (v) => v | bit(22)), expect: ctl('NMI-window exiting without virtual NMIs') },
    { name: 'STI blocking with RFLAGS.IF = 0', apply: set(['GUEST_INTERRUPTIBILITY_INFO', 1n]), expect: guest('guest interruptibility: STI blocking with RFLAGS.IF = 0') },
    { name: 'guest RIP not canonical', apply: set(['GUEST_RIP', NONCANONICAL]), expect: guest('guest RIP canonical') },
    { name: 'injected #PF without its error code', apply: set(['VM_ENTRY_INTR_INFO_FIELD', 0x8000_030en]), expect: ctl('event injection: deliver-error-code bit') },
  ];

  for (const c of resumeCases) {
    it(`${c.name} → ${c.expect.kind === 'vmfail' ? `VMfailValid ${c.expect.error}` : 'exit reason 33'}: ${c.expect.check}`, () => {
      const { m, r } = breakAtFirstExit(c.apply);
      expectFailure(m, r, c.expect, 'VMRESUME');
      // The guest ran up to its first exit and no further.
      expect(r.output).toBe('o');
      expect(r.vmExits.byReason.IO_INSTRUCTION).toBe(1);
    });
  }

  it('a field broken and repaired before VMRESUME does not fail the entry', () => {
    const { r } = breakAtFirstExit((hv) => {
      const cr4 = hv.vmread('HOST_CR4');
      hv.vmwrite('HOST_CR4', cr4 & ~bit(13));
      hv.vmwrite('HOST_CR4', cr4);
    });
    expect(r.status).toBe('debug-exit');
    expect(r.output).toBe('ok');
  });

  it('a field broken at the second exit fails the entry after it, not before', () => {
    const m = machine();
    const hv = m.hv!;
    const io = hv.handlers.get(EXIT_REASON.IO_INSTRUCTION)!;
    let n = 0;
    hv.handlers.set(EXIT_REASON.IO_INSTRUCTION, (vcpu) => {
      const out = io(vcpu);
      if (++n === 2) vcpu.vmwrite('HOST_TR_SELECTOR', 0);
      return out;
    });
    const r = m.runToEnd();
    expectFailure(m, r, host('host TR selector is null'), 'VMRESUME');
    expect(r.output).toBe('ok');
  });
});
