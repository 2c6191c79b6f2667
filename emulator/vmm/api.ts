// The handler API of the reference hypervisor: what an exit handler (built-in or a student's) may use to inspect and change the vCPU.
import type { VmcsFieldName } from '../vmx/fields.js';
import type { ExitOutcome } from './exit-log.js';

/** General registers by name, as handlers address them. */
export const GPR_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;
export type GprName = (typeof GPR_NAMES)[number];
export type RegName = GprName | 'rip' | 'rflags';

/** The VM exit being handled, decoded from the VM-exit information fields. */
export interface ExitInfo {
  /** Basic exit reason (bits 15:0 of VM_EXIT_REASON). */
  reason: number;
  /** Name as in Linux's uapi/asm/vmx.h without EXIT_REASON_ (e.g. "IO_INSTRUCTION"). */
  name: string;
  /** VM_EXIT_REASON bit 31: the exit is a VM-entry failure. */
  entryFailure: boolean;
  qualification: bigint;
  instructionLength: number;
  guestLinear: bigint;
  guestPhysical: bigint;
}

/**
 * What a handler receives. It reaches the guest only the way KVM does: VMCS fields by their
 * SDM names (vmread/vmwrite), the saved guest registers, and guest memory by guest-physical
 * or guest-virtual address. Handlers return what they did (for the exit log) or nothing.
 */
export interface VcpuApi {
  exit: ExitInfo;
  /** Guest register value (RSP, RIP and RFLAGS come from the VMCS, the rest from the save area). */
  reg(name: RegName): bigint;
  setReg(name: RegName, value: bigint | number): void;
  /**
   * Bits 31:0 of general register `index` as a number (0 = RAX, 1 = RCX, 2 = RDX, 3 = RBX, 4 = RSP … 15 = R15, the
   * SDM's register numbering): reg() without BigInt, for handlers on hot paths (the built-in CPUID and I/O handlers).
   */
  gpr32(index: number): number;
  /** Write the 32-bit `value` to general register `index`, bits 63:32 cleared (as a 32-bit MOV in 64-bit mode): setReg() without BigInt. */
  setGpr32(index: number, value: number): void;
  vmread(field: VmcsFieldName): bigint;
  vmwrite(field: VmcsFieldName, value: bigint | number): void;
  /**
   * VMREAD of bits 31:0 of a field as an unsigned number: vmread() without BigInt, for handlers on hot paths (the whole
   * value of a 16- or 32-bit field, e.g. GUEST_CS_AR_BYTES; the low half of a wider one, e.g. GUEST_CR0's bits 31:0).
   */
  vmread32(field: VmcsFieldName): number;
  /**
   * VMREAD of a 64-bit or natural-width field as a number without BigInt: bits 63:32 taken as signed, so it is exact
   * for values below 2^53 and for canonical addresses (an address with bits 63:47 set comes out negative, e.g.
   * GUEST_RIP 0xffffffff80001000 as -0x7ffff000), and rounded beyond those.
   */
  vmreadNumber(field: VmcsFieldName): number;
  /**
   * VMWRITE from an integer number without BigInt: a negative value is its 64-bit two's complement (so what
   * vmreadNumber gave writes back unchanged), cut to the field's width as vmwrite() does. A value that is not an
   * integer in [-2^63, 2^64) is a RangeError (as vmwrite's BigInt conversion would be).
   */
  vmwriteNumber(field: VmcsFieldName, value: number): void;
  readGuestPhysical(gpa: number, length: number): Uint8Array;
  /** Whether a guest-physical address is RAM (not MMIO or unassigned). */
  isRam(gpa: number): boolean;
  writeGuestPhysical(gpa: number, data: Uint8Array): void;
  /** Guest-virtual → guest-physical through the guest's page tables; -1 when not mapped. */
  translate(gva: number): number;
  readGuestVirtual(gva: number, length: number): Uint8Array | null;
  /** Skip the exiting instruction: RIP += VM_EXIT_INSTRUCTION_LEN. */
  advanceRip(): void;
  /** Inject a hardware exception at the next VM entry (with an error code where the vector has one). */
  injectException(vector: number, errorCode?: number): void;
  /** Inject an external interrupt at the next VM entry. */
  injectInterrupt(vector: number): void;
  /**
   * Inject any event type (SDM vol. 3C §25.8.3): 0 external interrupt, 2 NMI, 3 hardware exception,
   * 4 software interrupt, 5 privileged software exception, 6 software exception; software types
   * need the instruction length (the return address is RIP + length).
   */
  injectEvent(vector: number, type: number, errorCode?: number, instructionLength?: number): void;
  /** Port I/O to the platform's devices. */
  ioRead(port: number, size: 1 | 2 | 4): number;
  ioWrite(port: number, size: 1 | 2 | 4, value: number): void;
  /** Write text to the run's console. */
  console(text: string): void;
  /** Note for the exit log ("MMIO read of unassigned 0xfed00000"). */
  note(text: string): void;
  /** End the run (the next runSlice returns the result). */
  endRun(status: 'halted' | 'debug-exit' | 'triple-fault' | 'error', message?: string, exitCode?: number): void;
  /** Guest time in TSC ticks (= instructions retired + idle time). */
  now(): number;
  /** Count work a handler did for the guest (e.g. string I/O elements) against the run's instruction budget. */
  spend(steps: number): void;
  /**
   * Set the EPT permissions of the 4 KiB guest-physical page holding `gpa` (bits 0..2: R=1, W=2, X=4;
   * SDM vol. 3C §29.3.2), splitting a 2 MiB mapping into 4 KiB pages first, then INVEPT. Write without
   * read is refused (an EPT misconfiguration, §29.3.3.1), as is a page EPT does not map.
   */
  eptProtect(gpa: number, perms: number): void;
  /** The effective EPT permissions (R=1, W=2, X=4) of guest-physical `gpa`; -1 when EPT does not map it. */
  eptPermissions(gpa: number): number;
}

/**
 * An exit handler. When the exit interrupted the delivery of an event (IDT_VECTORING_INFO_FIELD valid) and the handler
 * injects nothing and does not end the run, the hypervisor delivers that event again at the next entry, as KVM does.
 */
export type ExitHandler = (vcpu: VcpuApi) => ExitOutcome | void;
