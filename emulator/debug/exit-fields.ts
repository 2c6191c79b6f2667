// The fields a VM-exit condition may name, per exit reason: one table (value + doc) that computes them and documents them.
import { exitReasonName, EXIT_REASON_BASIC_MASK } from '../vmx/exit-reasons.js';
import { decodeCrAccess, decodeEptViolation, decodeIoInstruction, type Decoded } from '../vmx/qualification.js';
import { decodeInterruptionInfo, INTR_TYPE_NAMES } from '../vmx/controls.js';

export type ExitFieldValue = number | bigint | boolean | string;

export interface ExitFieldInput {
  /** Exit-reason field (basic reason in bits 15:0; the flag bits are ignored). */
  reason: number;
  qualification: bigint;
  /** GUEST_LINEAR_ADDRESS (SDM vol. 3C §28.2.1). */
  guestLinear: bigint;
  /** GUEST_PHYSICAL_ADDRESS (EPT violations and misconfigurations). */
  guestPhysical: bigint;
  /** VM-exit interruption information (§25.9.2 table 25-19). */
  intrInfo: number;
  /** VM-exit interruption error code. */
  intrError: number;
  /** VM-exit instruction information (§28.2.5). */
  instrInfo: number;
  /** Guest registers AT THE EXIT (before the hypervisor handled it, also for stage 'after'). */
  regs: { rax: bigint; rcx: bigint; rdx: bigint };
  rip: bigint;
  stage: 'before' | 'after';
  /** For INVALID_STATE: the name of the failed VM-entry check. */
  check?: string;
}

interface FieldSpec {
  readonly name: string;
  readonly doc: string;
  /** undefined: the field does not exist on this particular exit (e.g. `gva` without a valid linear address). */
  readonly get: (e: ExitFieldInput, d: Decoded | undefined) => ExitFieldValue | undefined;
}

const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const lo32 = (v: bigint): number => Number(BigInt.asUintN(32, v));
const decoded = (d: Decoded | undefined, name: string): number | boolean | string | undefined => d?.fields.find((x) => x.name === name)?.value;
const F = (name: string, doc: string, get: FieldSpec['get']): FieldSpec => ({ name, doc, get });

/** Whether the interruption information is valid (bit 31), then its parts (SDM vol. 3C §25.9.2 table 25-19). */
const intr = (e: ExitFieldInput) => { const i = decodeInterruptionInfo(e.intrInfo >>> 0); return i.valid ? i : undefined; };

// CR-access types (SDM vol. 3C table 28-3, bits 5:4) in the names conditions use.
const CR_ACCESS_NAMES: Record<string, string> = { 'MOV to CR': 'mov-to', 'MOV from CR': 'mov-from', CLTS: 'clts', LMSW: 'lmsw' };

const TABLE: Record<string, readonly FieldSpec[]> = {
  '*': [
    F('reason', 'Exit reason name as in Linux uapi/asm/vmx.h without EXIT_REASON_, e.g. "IO_INSTRUCTION" (SDM vol. 3C appendix C).',
      (e) => exitReasonName(e.reason)),
    F('number', 'Basic exit reason number, bits 15:0 of the exit-reason field (SDM vol. 3C §25.9.1).', (e) => e.reason & EXIT_REASON_BASIC_MASK),
    F('rip', 'Guest RIP of the exit (the instruction that exited, or the next one to run).', (e) => u64(e.rip)),
    F('qualification', 'The raw exit qualification (SDM vol. 3C §28.2.1).', (e) => u64(e.qualification)),
    F('stage', '"before" the hypervisor handled the exit, or "after" (its result visible).', (e) => e.stage),
  ],
  EXCEPTION_NMI: [
    F('vector', 'Exception vector, interruption information bits 7:0 (e.g. 14 for #PF, 2 for NMI; SDM vol. 3C table 25-19).',
      (e) => intr(e)?.vector),
    F('type', `Interruption type, bits 10:8: ${INTR_TYPE_NAMES.map((n, i) => `${i} ${n}`).filter((_, i) => i !== 1).join(', ')}.`,
      (e) => intr(e)?.type),
    F('error', 'Exception error code, when the event delivers one (interruption information bit 11).',
      (e) => { const i = intr(e); return i?.errorCodeValid ? e.intrError >>> 0 : undefined; }),
    F('address', 'For #PF (vector 14): the faulting linear address, which is the exit qualification (SDM vol. 3C §28.2.1).',
      (e) => (intr(e)?.vector === 14 ? u64(e.qualification) : undefined)),
  ],
  EXTERNAL_INTERRUPT: [
    F('vector', 'Interrupt vector, when "acknowledge interrupt on exit" made the interruption information valid (SDM vol. 3C §28.2.2).',
      (e) => intr(e)?.vector),
  ],
  TRIPLE_FAULT: [],
  INTERRUPT_WINDOW: [],
  CPUID: [
    F('leaf', 'CPUID leaf: EAX at the exit.', (e) => lo32(e.regs.rax)),
    F('subleaf', 'CPUID sub-leaf: ECX at the exit.', (e) => lo32(e.regs.rcx)),
  ],
  HLT: [],
  VMCALL: [
    F('nr', 'Hypercall number: RAX at the exit.', (e) => u64(e.regs.rax)),
  ],
  CR_ACCESS: [
    F('cr', 'Control register number, qualification bits 3:0 (0, 3, 4 or 8; SDM vol. 3C table 28-3).', (_e, d) => decoded(d, 'controlRegister')),
    F('access', 'Access type, bits 5:4: "mov-to", "mov-from", "clts" or "lmsw".', (_e, d) => CR_ACCESS_NAMES[String(decoded(d, 'accessType'))]),
    F('write', 'The access writes the control register: MOV to CR, and also CLTS and LMSW (both write CR0).',
      (_e, d) => decoded(d, 'accessType') !== 'MOV from CR'),
    F('gpr', 'The general-purpose register of a MOV to/from CR, bits 11:8, e.g. "rax".', (_e, d) => decoded(d, 'register')),
  ],
  IO_INSTRUCTION: [
    F('port', 'Port number, qualification bits 31:16 (SDM vol. 3C table 28-5).', (_e, d) => decoded(d, 'port')),
    F('size', 'Access size in bytes (1, 2 or 4), bits 2:0 plus one.', (_e, d) => decoded(d, 'size')),
    F('in', 'IN/INS (bit 3 = 1).', (_e, d) => decoded(d, 'direction') === 'IN'),
    F('out', 'OUT/OUTS (bit 3 = 0).', (_e, d) => decoded(d, 'direction') === 'OUT'),
    F('string', 'INS/OUTS (bit 4).', (_e, d) => decoded(d, 'string')),
    F('rep', 'REP prefixed (bit 5).', (_e, d) => decoded(d, 'rep')),
    F('value', 'For OUT (not OUTS): the value written, RAX masked to the access size.', (e, d) => {
      if (decoded(d, 'direction') !== 'OUT' || decoded(d, 'string') === true) return undefined;
      const size = Number(decoded(d, 'size'));
      return BigInt.asUintN(size * 8, e.regs.rax);
    }),
  ],
  MSR_READ: [
    F('msr', 'MSR index: ECX at the exit (e.g. 0xc0000080 for IA32_EFER).', (e) => lo32(e.regs.rcx)),
  ],
  MSR_WRITE: [
    F('msr', 'MSR index: ECX at the exit (e.g. 0xc0000080 for IA32_EFER).', (e) => lo32(e.regs.rcx)),
    F('value', 'The value written: EDX:EAX at the exit.', (e) => (BigInt(lo32(e.regs.rdx)) << 32n) | BigInt(lo32(e.regs.rax))),
  ],
  INVALID_STATE: [
    F('check', 'The VM-entry check on guest state that failed (SDM vol. 3C §27.3.1), when known.', (e) => e.check),
  ],
  EPT_VIOLATION: [
    F('gpa', 'Guest-physical address of the access (SDM vol. 3C §28.2.4).', (e) => u64(e.guestPhysical)),
    F('gva', 'Guest-linear address, when qualification bit 7 says it is valid.',
      (e, d) => (decoded(d, 'linearAddressValid') === true ? u64(e.guestLinear) : undefined)),
    F('read', 'The access was a data read (qualification bit 0; SDM vol. 3C table 28-7).', (_e, d) => decoded(d, 'read')),
    F('write', 'The access was a data write (bit 1).', (_e, d) => decoded(d, 'write')),
    F('fetch', 'The access was an instruction fetch (bit 2).', (_e, d) => decoded(d, 'fetch')),
    F('r', 'The EPT entries allowed reads (bit 3).', (_e, d) => decoded(d, 'entryReadable')),
    F('w', 'The EPT entries allowed writes (bit 4).', (_e, d) => decoded(d, 'entryWritable')),
    F('x', 'The EPT entries allowed execution (bit 5).', (_e, d) => decoded(d, 'entryExecutable')),
  ],
  EPT_MISCONFIG: [
    F('gpa', 'Guest-physical address whose EPT entry is misconfigured (SDM vol. 3C §28.2.4).', (e) => u64(e.guestPhysical)),
  ],
  PREEMPTION_TIMER: [],
};

/** Per reason name (and '*' for every exit): the fields a condition may use, with one line of documentation each. */
export const EXIT_FIELD_DOCS: Record<string, Array<{ name: string; doc: string }>> = Object.fromEntries(
  Object.entries(TABLE).map(([reason, specs]) => [reason, specs.map(({ name, doc }) => ({ name, doc }))]),
);

/** The fields of one exit: the common ones plus the reason's own (absent when not applicable to this exit). */
export function exitFields(e: ExitFieldInput): Record<string, ExitFieldValue> {
  const out: Record<string, ExitFieldValue> = {};
  const basic = e.reason & EXIT_REASON_BASIC_MASK;
  const name = exitReasonName(basic);
  const specs = Object.prototype.hasOwnProperty.call(TABLE, name) ? TABLE[name] : [];
  let d: Decoded | undefined;
  if (name === 'IO_INSTRUCTION') d = decodeIoInstruction(e.qualification);
  else if (name === 'CR_ACCESS') d = decodeCrAccess(e.qualification);
  else if (name === 'EPT_VIOLATION') d = decodeEptViolation(e.qualification);
  for (const s of [...TABLE['*'], ...specs]) {
    const v = s.get(e, d);
    if (v !== undefined) out[s.name] = v;
  }
  return out;
}

/** Names of every documented field of any exit (for completion and "not a field of this exit" hints). */
export const ALL_EXIT_FIELD_NAMES: readonly string[] = [...new Set(Object.values(TABLE).flatMap((s) => s.map((f) => f.name)))];
