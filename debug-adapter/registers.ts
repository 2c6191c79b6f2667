// The Registers scope: GPRs, RIP, RFLAGS and control registers with their named bits, segments with hidden parts, DRs, GDTR/IDTR.
import type { GuestRegisterFile } from '../emulator/debug/api.js';
import { hex } from './format.js';
import type { TargetValue } from './target.js';

/** RFLAGS bits (SDM Vol. 1 §3.4.3, figure 3-8). */
const RFLAGS_BITS: [number, string][] = [[0, 'CF'], [2, 'PF'], [4, 'AF'], [6, 'ZF'], [7, 'SF'], [8, 'TF'], [9, 'IF'], [10, 'DF'], [11, 'OF'], [14, 'NT'], [16, 'RF'], [17, 'VM'], [18, 'AC'], [19, 'VIF'], [20, 'VIP'], [21, 'ID']];
/** CR0 bits (SDM Vol. 3A §2.5, figure 2-7). */
const CR0_BITS: [number, string][] = [[0, 'PE'], [1, 'MP'], [2, 'EM'], [3, 'TS'], [4, 'ET'], [5, 'NE'], [16, 'WP'], [18, 'AM'], [29, 'NW'], [30, 'CD'], [31, 'PG']];
/** CR4 bits (SDM Vol. 3A §2.5). */
const CR4_BITS: [number, string][] = [[0, 'VME'], [1, 'PVI'], [2, 'TSD'], [3, 'DE'], [4, 'PSE'], [5, 'PAE'], [6, 'MCE'], [7, 'PGE'], [8, 'PCE'], [9, 'OSFXSR'], [10, 'OSXMMEXCPT'], [11, 'UMIP'], [12, 'LA57'], [13, 'VMXE'], [14, 'SMXE'], [16, 'FSGSBASE'], [17, 'PCIDE'], [18, 'OSXSAVE'], [20, 'SMEP'], [21, 'SMAP'], [22, 'PKE'], [23, 'CET']];
/** IA32_EFER bits (SDM Vol. 3A §2.2.1, table 2-1). */
const EFER_BITS: [number, string][] = [[0, 'SCE'], [8, 'LME'], [10, 'LMA'], [11, 'NXE']];
/** Segment access rights in the VMCS format (SDM Vol. 3C §25.4.1, table 25-2). */
const AR_PARTS: [number, number, string][] = [[0, 4, 'type'], [4, 1, 'S'], [5, 2, 'DPL'], [7, 1, 'P'], [12, 1, 'AVL'], [13, 1, 'L'], [14, 1, 'D/B'], [15, 1, 'G'], [16, 1, 'unusable']];

const GPR_ORDER = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;
const SEG_ORDER = ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'ldtr', 'tr'] as const;

function flagChildren(v: bigint, table: [number, string][], reg: string): TargetValue[] {
  return table.map(([bit, name]) => ({ name, value: String((v >> BigInt(bit)) & 1n), edit: { kind: 'register' as const, name: reg, bit } }));
}

/** Names of the set bits, e.g. "[ ZF IF ]". */
function setNames(v: bigint, table: [number, string][]): string {
  const on = table.filter(([b]) => ((v >> BigInt(b)) & 1n) !== 0n).map(([, n]) => n);
  return on.length > 0 ? ` [${on.join(' ')}]` : '';
}

function addr(v: bigint): number {
  return Number(BigInt.asIntN(64, v));
}

export function registerTree(r: GuestRegisterFile): TargetValue[] {
  const w = r.codeBits === 64 ? 16 : 8;
  const out: TargetValue[] = GPR_ORDER.map((n) => ({ name: n, value: hex(r.gpr[n], w), address: addr(r.gpr[n]), edit: { kind: 'register' as const, name: n } }));
  out.push({ name: 'rip', value: hex(r.rip, w), address: addr(r.rip), edit: { kind: 'register', name: 'rip' } });
  const iopl = Number((r.rflags >> 12n) & 3n);
  out.push({
    name: 'rflags', value: `${hex(r.rflags, 8)}${setNames(r.rflags, RFLAGS_BITS)}`, edit: { kind: 'register', name: 'rflags' },
    children: [...flagChildren(r.rflags, RFLAGS_BITS, 'rflags'), { name: 'IOPL', value: String(iopl) }],
  });
  for (const s of SEG_ORDER) {
    const g = r.segments[s];
    out.push({
      name: s, value: `${hex(g.selector, 4)} base=${hex(g.base)} limit=${hex(g.limit)}`,
      children: [
        { name: 'selector', value: hex(g.selector, 4) },
        { name: 'base', value: hex(g.base, w), address: addr(g.base) },
        { name: 'limit', value: hex(g.limit, 8) },
        { name: 'attributes', value: hex(g.ar, 4), children: AR_PARTS.map(([b, width, name]) => ({ name, value: String((g.ar >>> b) & ((1 << width) - 1)) })) },
      ],
    });
  }
  out.push({ name: 'cr0', value: `${hex(r.cr0, 8)}${setNames(r.cr0, CR0_BITS)}`, children: flagChildren(r.cr0, CR0_BITS, 'cr0') });
  out.push({ name: 'cr2', value: hex(r.cr2, w), address: addr(r.cr2) });
  out.push({ name: 'cr3', value: hex(r.cr3, w), address: addr(r.cr3), children: [{ name: 'page-table base', value: hex(r.cr3 & ~0xfffn), address: addr(r.cr3 & ~0xfffn) }, { name: 'PWT', value: String((r.cr3 >> 3n) & 1n) }, { name: 'PCD', value: String((r.cr3 >> 4n) & 1n) }] });
  out.push({ name: 'cr4', value: `${hex(r.cr4, 8)}${setNames(r.cr4, CR4_BITS)}`, children: flagChildren(r.cr4, CR4_BITS, 'cr4') });
  out.push({ name: 'cr8', value: hex(r.cr8) });
  out.push({ name: 'efer', value: `${hex(r.efer, 8)}${setNames(r.efer, EFER_BITS)}`, children: flagChildren(r.efer, EFER_BITS, 'efer') });
  r.dr.forEach((v, i) => { if (i !== 4 && i !== 5) out.push({ name: `dr${i}`, value: hex(v, w) }); });
  out.push({ name: 'gdtr', value: `base=${hex(r.gdtr.base)} limit=${hex(r.gdtr.limit, 4)}`, address: addr(r.gdtr.base), children: [{ name: 'base', value: hex(r.gdtr.base, w), address: addr(r.gdtr.base) }, { name: 'limit', value: hex(r.gdtr.limit, 4) }] });
  out.push({ name: 'idtr', value: `base=${hex(r.idtr.base)} limit=${hex(r.idtr.limit, 4)}`, address: addr(r.idtr.base), children: [{ name: 'base', value: hex(r.idtr.base, w), address: addr(r.idtr.base) }, { name: 'limit', value: hex(r.idtr.limit, 4) }] });
  return out;
}

/** The new value of a register after setting one of its bits. */
export function withBit(v: bigint, bit: number, on: boolean): bigint {
  return on ? v | (1n << BigInt(bit)) : v & ~(1n << BigInt(bit));
}
