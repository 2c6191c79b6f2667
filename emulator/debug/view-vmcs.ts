// The VMCS view: every field of SDM vol. 3C appendix B by group, with control words, event and state fields decoded into named bits and parts.
import { VMCS_FIELDS, VMCS_GROUPS, type VmcsField, type VmcsType, type VmcsWidth } from '../vmx/fields.js';
import {
  CPU_BASED_BITS, GUEST_ACTIVITY_NAMES, GUEST_INTR_STATE_BITS, INTR_TYPE_NAMES, PIN_BASED_BITS, SECONDARY_EXEC_BITS,
  VM_ENTRY_BITS, VM_EXIT_BITS, type ControlBit,
} from '../vmx/controls.js';
import { exitReasonName } from '../vmx/exit-reasons.js';
import { decodeExitQualification } from '../vmx/qualification.js';
import { EXCEPTION_MNEMONICS } from '../cpu/regs.js';
import type { Hypervisor } from '../vmm/hypervisor.js';
import { bits, hex, vmcsPeek } from './view-format.js';

/** Field values at one stop (field name → hex value), to mark what changed at the next. */
export type VmcsSnapshot = Record<string, string>;

/**
 * One named bit (width 1) or multi-bit part of a field. `set` is the bit's value, or for a part whether it is
 * non-zero; `value` gives a part's decoded value ("3 (hardware exception)").
 */
export interface VmcsBitView {
  bit: number;
  width: number;
  name: string;
  title: string;
  set: boolean;
  value?: string;
}

export interface VmcsFieldView {
  name: string;
  title: string;
  encoding: number;
  width: VmcsWidth;
  type: VmcsType;
  /** Zero-padded to the field's width: 4, 8 or 16 hex digits. */
  value: string;
  bits?: VmcsBitView[];
  changed: boolean;
  /** The value at the previous stop, when it changed. */
  previous?: string;
}

export interface VmcsView {
  /** The processor is in VMX non-root operation: guest-state fields hold the values of the last VM exit (SDM §25.11.1). */
  guestRunning: boolean;
  groups: Array<{ name: string; fields: VmcsFieldView[] }>;
  snapshot: VmcsSnapshot;
}

const one = (bit: number, name: string, title: string, v: bigint): VmcsBitView => ({ bit, width: 1, name, title, set: bits(v, bit, 1) === 1 });
const part = (bit: number, width: number, name: string, title: string, v: bigint, text: (x: number) => string): VmcsBitView => {
  const x = bits(v, bit, width);
  return { bit, width, name, title, set: x !== 0, value: text(x) };
};

/** A control word: every named bit of its table, plus set bits the table does not name (reserved, default1). */
function controlWord(v: bigint, table: readonly ControlBit[]): VmcsBitView[] {
  const out: VmcsBitView[] = [];
  for (let b = 0; b < 32; b++) {
    const c = table.find((x) => x.bit === b);
    if (c !== undefined) out.push(one(b, c.name, c.title, v));
    else if (bits(v, b, 1) === 1) out.push(one(b, `bit ${b}`, 'reserved (default setting)', v));
  }
  return out;
}

/** Segment types (SDM vol. 3A §3.4.5.1 table 3-1 for code/data, table 3-2 for system descriptors in IA-32e mode). */
const SYSTEM_TYPES = ['reserved', '16-bit TSS (available)', 'LDT', '16-bit TSS (busy)', '16-bit call gate', 'task gate',
  '16-bit interrupt gate', '16-bit trap gate', 'reserved', 'TSS (available)', 'reserved', 'TSS (busy)', 'call gate',
  'reserved', 'interrupt gate', 'trap gate'];
function segmentType(type: number, s: boolean): string {
  if (!s) return SYSTEM_TYPES[type];
  const acc = (type & 1) !== 0 ? ', accessed' : '';
  if ((type & 8) !== 0) return `code, execute${(type & 2) !== 0 ? '/read' : '-only'}${(type & 4) !== 0 ? ', conforming' : ''}${acc}`;
  return `data, read${(type & 2) !== 0 ? '/write' : '-only'}${(type & 4) !== 0 ? ', expand-down' : ''}${acc}`;
}

/** Access rights as the VMCS holds them (SDM vol. 3C §25.4.1 table 25-2). */
function accessRights(v: bigint): VmcsBitView[] {
  const s = bits(v, 4, 1) === 1;
  return [
    part(0, 4, 'type', 'Segment type', v, (x) => `${x} (${segmentType(x, s)})`),
    one(4, 'S', 'Descriptor type (0 = system, 1 = code or data)', v),
    part(5, 2, 'DPL', 'Descriptor privilege level', v, String),
    one(7, 'P', 'Segment present', v),
    one(12, 'AVL', 'Available for use by system software', v),
    one(13, 'L', '64-bit mode active (CS only)', v),
    one(14, 'D/B', 'Default operation size (0 = 16-bit, 1 = 32-bit)', v),
    one(15, 'G', 'Granularity', v),
    one(16, 'unusable', 'Segment unusable', v),
  ];
}

/** Interruption-information format (SDM vol. 3C §25.8.3 table 25-17, §25.9.2 tables 25-19, 25-20). */
function interruptionInfo(v: bigint, nmiUnblocking: boolean): VmcsBitView[] {
  const type = bits(v, 8, 3);
  const out = [
    part(0, 8, 'vector', 'Vector of interrupt or exception', v, (x) => (type === 3 || type === 6) && x < EXCEPTION_MNEMONICS.length ? `${x} (${EXCEPTION_MNEMONICS[x]})` : String(x)),
    part(8, 3, 'type', 'Interruption type', v, (x) => `${x} (${INTR_TYPE_NAMES[x]})`),
    one(11, 'error code valid', 'Deliver error code', v),
  ];
  if (nmiUnblocking) out.push(one(12, 'NMI unblocking', 'NMI unblocking due to IRET', v));
  out.push(one(31, 'valid', 'Valid', v));
  return out;
}

const MEMORY_TYPES: Record<number, string> = { 0: 'UC', 1: 'WC', 4: 'WT', 5: 'WP', 6: 'WB' };
export const memoryTypeName = (t: number): string => MEMORY_TYPES[t] ?? `reserved (${t})`;

/** EPT pointer (SDM vol. 3C §25.6.11 table 25-9). */
function eptPointer(v: bigint): VmcsBitView[] {
  return [
    part(0, 3, 'memory type', 'EPT paging-structure memory type', v, (x) => `${x} (${memoryTypeName(x)})`),
    part(3, 3, 'page-walk length', 'EPT page-walk length minus 1', v, (x) => `${x + 1} levels`),
    one(6, 'A/D enable', 'Accessed and dirty flags for EPT', v),
    one(7, 'SSS enable', 'Supervisor shadow-stack access rights', v),
    { bit: 12, width: 40, name: 'PML4 address', title: 'Physical address of the EPT PML4 table', set: (v >> 12n) !== 0n, value: hex(v & 0xffff_ffff_f000n) },
  ];
}

/** Exit reason (SDM vol. 3C §25.9.1 table 25-18). */
function exitReason(v: bigint): VmcsBitView[] {
  return [
    part(0, 16, 'basic exit reason', 'Basic exit reason', v, (x) => `${x} (${exitReasonName(x)})`),
    one(26, 'bus lock', 'A bus lock was asserted before the VM exit', v),
    one(27, 'enclave mode', 'VM exit incident to enclave mode', v),
    one(28, 'pending MTF', 'Pending MTF VM exit', v),
    one(29, 'from VMX root', 'VM exit from VMX root operation', v),
    one(31, 'VM-entry failure', 'VM-entry failure', v),
  ];
}

const CR0_NAMES: Array<[number, string, string]> = [[0, 'PE', 'Protection enable'], [1, 'MP', 'Monitor coprocessor'], [2, 'EM', 'Emulation'],
  [3, 'TS', 'Task switched'], [4, 'ET', 'Extension type'], [5, 'NE', 'Numeric error'], [16, 'WP', 'Write protect'], [18, 'AM', 'Alignment mask'],
  [29, 'NW', 'Not write-through'], [30, 'CD', 'Cache disable'], [31, 'PG', 'Paging']];
const CR4_NAMES: Array<[number, string, string]> = [[0, 'VME', 'Virtual-8086 mode extensions'], [1, 'PVI', 'Protected-mode virtual interrupts'],
  [2, 'TSD', 'Time stamp disable'], [3, 'DE', 'Debugging extensions'], [4, 'PSE', 'Page size extensions'], [5, 'PAE', 'Physical address extension'],
  [6, 'MCE', 'Machine-check enable'], [7, 'PGE', 'Page global enable'], [8, 'PCE', 'Performance-monitoring counter enable'],
  [9, 'OSFXSR', 'OS support for FXSAVE/FXRSTOR'], [10, 'OSXMMEXCPT', 'OS support for unmasked SIMD exceptions'], [11, 'UMIP', 'User-mode instruction prevention'],
  [12, 'LA57', '57-bit linear addresses'], [13, 'VMXE', 'VMX enable'], [14, 'SMXE', 'SMX enable'], [16, 'FSGSBASE', 'RDFSBASE etc. enable'],
  [17, 'PCIDE', 'PCID enable'], [18, 'OSXSAVE', 'XSAVE enable'], [20, 'SMEP', 'Supervisor-mode execution prevention'], [21, 'SMAP', 'Supervisor-mode access prevention'],
  [22, 'PKE', 'Protection keys']];
const EFER_NAMES: Array<[number, string, string]> = [[0, 'SCE', 'SYSCALL enable'], [8, 'LME', 'IA-32e mode enable'], [10, 'LMA', 'IA-32e mode active'], [11, 'NXE', 'Execute-disable enable']];
const RFLAGS_NAMES: Array<[number, string, string]> = [[0, 'CF', 'Carry'], [2, 'PF', 'Parity'], [4, 'AF', 'Auxiliary carry'], [6, 'ZF', 'Zero'],
  [7, 'SF', 'Sign'], [8, 'TF', 'Trap'], [9, 'IF', 'Interrupt enable'], [10, 'DF', 'Direction'], [11, 'OF', 'Overflow'], [14, 'NT', 'Nested task'],
  [16, 'RF', 'Resume'], [17, 'VM', 'Virtual-8086 mode'], [18, 'AC', 'Alignment check'], [19, 'VIF', 'Virtual interrupt'], [20, 'VIP', 'Virtual interrupt pending'], [21, 'ID', 'ID']];
/** Architectural register bits (SDM vol. 3A §2.5 CR0/CR4, §2.2.1 EFER, §3.4.3 EFLAGS) with RFLAGS' IOPL as a part. */
function named(v: bigint, table: Array<[number, string, string]>): VmcsBitView[] {
  return table.map(([b, n, t]) => one(b, n, t, v));
}

/** The decoded bits of a field, where the view decodes it. `reason` is the current basic exit reason (for the qualification). */
function decodeField(f: VmcsField, v: bigint, reason: number): VmcsBitView[] | undefined {
  switch (f.name) {
    case 'PIN_BASED_VM_EXEC_CONTROL': return controlWord(v, PIN_BASED_BITS);
    case 'CPU_BASED_VM_EXEC_CONTROL': return controlWord(v, CPU_BASED_BITS);
    case 'SECONDARY_VM_EXEC_CONTROL': return controlWord(v, SECONDARY_EXEC_BITS);
    case 'VM_EXIT_CONTROLS': return controlWord(v, VM_EXIT_BITS);
    case 'VM_ENTRY_CONTROLS': return controlWord(v, VM_ENTRY_BITS);
    case 'GUEST_INTERRUPTIBILITY_INFO': return controlWord(v, GUEST_INTR_STATE_BITS);
    case 'GUEST_ACTIVITY_STATE': return [part(0, 32, 'activity state', 'Guest activity state', v, (x) => `${x} (${GUEST_ACTIVITY_NAMES[x] ?? 'reserved'})`)];
    case 'VM_ENTRY_INTR_INFO_FIELD': case 'IDT_VECTORING_INFO_FIELD': return interruptionInfo(v, false);
    case 'VM_EXIT_INTR_INFO': return interruptionInfo(v, true);
    case 'EPT_POINTER': return eptPointer(v);
    case 'VM_EXIT_REASON': return exitReason(v);
    case 'EXIT_QUALIFICATION': {
      const d = decodeExitQualification(reason, v);
      if (d === undefined) return undefined;
      return [{ bit: 0, width: 64, name: 'decoded', title: `Exit qualification for ${exitReasonName(reason)}`, set: v !== 0n, value: d.summary },
        ...d.fields.map((x) => ({ bit: 0, width: 64, name: x.name, title: x.name, set: x.value !== false && x.value !== 0, value: String(x.value) }))];
    }
    case 'GUEST_CR0': case 'HOST_CR0': case 'CR0_GUEST_HOST_MASK': case 'CR0_READ_SHADOW': return named(v, CR0_NAMES);
    case 'GUEST_CR4': case 'HOST_CR4': case 'CR4_GUEST_HOST_MASK': case 'CR4_READ_SHADOW': return named(v, CR4_NAMES);
    case 'GUEST_IA32_EFER': case 'HOST_IA32_EFER': return named(v, EFER_NAMES);
    case 'GUEST_RFLAGS': return [...named(v, RFLAGS_NAMES), part(12, 2, 'IOPL', 'I/O privilege level', v, String)].sort((a, b) => a.bit - b.bit);
    default:
      if (f.name.endsWith('_AR_BYTES')) return accessRights(v);
      return undefined;
  }
}

const DIGITS: Record<VmcsWidth, number> = { '16': 4, '32': 8, '64': 16, natural: 16 };

/**
 * Every VMCS field in the SDM's groups, decoded, with `changed` against `previous` (a snapshot from an earlier
 * call). Reads the VMCS region in host memory only.
 */
export function vmcsView(hv: Hypervisor, previous?: VmcsSnapshot): VmcsView {
  const snapshot: VmcsSnapshot = {};
  const reason = Number(vmcsPeek(hv, 'VM_EXIT_REASON') & 0xffffn);
  const byGroup = new Map<string, VmcsFieldView[]>(VMCS_GROUPS.map((g) => [g, []]));
  for (const f of VMCS_FIELDS) {
    const v = vmcsPeek(hv, f.name);
    const value = hex(v, DIGITS[f.width]);
    snapshot[f.name] = value;
    const before = previous?.[f.name];
    const changed = before !== undefined && before !== value;
    const view: VmcsFieldView = { name: f.name, title: f.title, encoding: f.encoding, width: f.width, type: f.type, value, changed };
    const b = decodeField(f, v, reason);
    if (b !== undefined) view.bits = b;
    if (changed) view.previous = before;
    byGroup.get(f.group)!.push(view);
  }
  return { guestRunning: hv.inGuest, groups: VMCS_GROUPS.map((name) => ({ name, fields: byGroup.get(name)! })), snapshot };
}
