// The Registers view: the guest's registers from the VMCS guest-state area and the GPR save area at a VM exit, or from the processor while the guest runs.
import type { Machine } from '../machine.js';
import type { Cpu } from '../cpu/cpu.js';
import type { Hypervisor } from '../vmm/hypervisor.js';
import type { VmcsFieldName } from '../vmx/fields.js';
import type { GuestRegisterFile } from './api.js';
import { vmcsPeek } from './view-format.js';

type Gpr = keyof GuestRegisterFile['gpr'];
type Seg = keyof GuestRegisterFile['segments'];
/** Register numbers 0 … 15 (SDM vol. 2A §2.1.5: RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8 … R15). */
const GPRS: readonly Gpr[] = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
/** Segment registers in the processor's order ES, CS, SS, DS, FS, GS (the VMCS field names use the same). */
const SEGS: readonly Seg[] = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'];

const u64 = (v: number): bigint => BigInt.asUintN(64, BigInt(Number.isFinite(v) ? Math.trunc(v) : 0));
const u64lohi = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

/** The code size from CS's access rights, CR0.PE and EFER.LMA (SDM vol. 3A §5.2.1: L, then D). */
function codeBits(ar: number, cr0: bigint, efer: bigint): 16 | 32 | 64 {
  if ((efer & 0x400n) !== 0n && (ar & (1 << 13)) !== 0) return 64;
  if ((cr0 & 1n) !== 0n && (ar & (1 << 14)) !== 0) return 32;
  return 16;
}

/** The guest's view of CR0/CR4: bits the hypervisor owns (guest/host mask) read from the read shadow (SDM vol. 3C §25.6.6). */
function shadowed(hv: Hypervisor, real: bigint, mask: VmcsFieldName, shadow: VmcsFieldName): bigint {
  const m = vmcsPeek(hv, mask);
  return (real & ~m) | (vmcsPeek(hv, shadow) & m);
}

/** RFLAGS without materializing the processor's lazy flags in place (the read must not change its state). */
function peekFlags(c: Cpu): number {
  const lop = c.lop, raw = c.flagsRaw;
  const f = c.getFlags();
  c.lop = lop;
  c.flagsRaw = raw;
  return f >>> 0;
}

function fromCpu(c: Cpu): GuestRegisterFile {
  const gpr = {} as GuestRegisterFile['gpr'];
  GPRS.forEach((n, r) => { gpr[n] = u64lohi(c.lo[r], c.hi[r]); });
  const segments = {} as GuestRegisterFile['segments'];
  SEGS.forEach((n, s) => { segments[n] = { selector: c.sel[s], base: u64(c.segBase[s]), limit: c.segLimit[s] >>> 0, ar: c.segAr[s] >>> 0 }; });
  segments.ldtr = { selector: c.ldtrSel, base: u64(c.ldtrBase), limit: c.ldtrLimit >>> 0, ar: c.ldtrAr >>> 0 };
  segments.tr = { selector: c.trSel, base: u64(c.trBase), limit: c.trLimit >>> 0, ar: c.trAr >>> 0 };
  const cr0 = BigInt(c.cr0 >>> 0), efer = BigInt(c.efer >>> 0);
  return {
    gpr, rip: u64(c.rip), rflags: BigInt(peekFlags(c)), segments,
    cr0, cr2: u64(c.cr2), cr3: u64(c.cr3), cr4: BigInt(c.cr4 >>> 0), cr8: u64(c.cr8), efer,
    dr: Array.from(c.dr, (d) => u64(d)),
    gdtr: { base: u64(c.gdtrBase), limit: c.gdtrLimit >>> 0 }, idtr: { base: u64(c.idtrBase), limit: c.idtrLimit >>> 0 },
    codeBits: codeBits(c.segAr[1], cr0, efer),
  };
}

/**
 * The guest's registers as the debugger shows them. Outside non-root operation (at a VM exit, before the first
 * entry) they are the VMCS guest-state area, the hypervisor's GPR save area (RSP from the VMCS) and the registers
 * VMX does not switch (CR2, CR8, DR0-DR3, DR6: still the guest's in the processor). While the guest runs they are the
 * processor's. CR0/CR4 are shown as the guest reads them (the read shadows for host-owned bits). Bare machines: the processor.
 */
export function registersView(machine: Machine): GuestRegisterFile {
  const hv = machine.hv;
  const c = machine.cpu;
  if (hv === null) return fromCpu(c);
  if (hv.inGuest) {
    const r = fromCpu(c);
    r.cr0 = shadowed(hv, r.cr0, 'CR0_GUEST_HOST_MASK', 'CR0_READ_SHADOW');
    r.cr4 = shadowed(hv, r.cr4, 'CR4_GUEST_HOST_MASK', 'CR4_READ_SHADOW');
    return r;
  }
  const v = (n: VmcsFieldName) => vmcsPeek(hv, n);
  const gpr = {} as GuestRegisterFile['gpr'];
  GPRS.forEach((n, r) => { gpr[n] = r === 4 ? v('GUEST_RSP') : u64lohi(hv.vmx.gprLo[r], hv.vmx.gprHi[r]); });
  const segments = {} as GuestRegisterFile['segments'];
  for (const s of [...SEGS, 'ldtr', 'tr'] as const) {
    const S = s.toUpperCase();
    segments[s] = {
      selector: Number(v(`GUEST_${S}_SELECTOR` as VmcsFieldName)), base: v(`GUEST_${S}_BASE` as VmcsFieldName),
      limit: Number(v(`GUEST_${S}_LIMIT` as VmcsFieldName)), ar: Number(v(`GUEST_${S}_AR_BYTES` as VmcsFieldName)),
    };
  }
  const cr0 = v('GUEST_CR0'), efer = v('GUEST_IA32_EFER');
  const dr = Array.from(c.dr, (d) => u64(d));
  dr[7] = v('GUEST_DR7');
  return {
    gpr, rip: v('GUEST_RIP'), rflags: v('GUEST_RFLAGS'), segments,
    cr0: shadowed(hv, cr0, 'CR0_GUEST_HOST_MASK', 'CR0_READ_SHADOW'), cr2: u64(c.cr2), cr3: v('GUEST_CR3'),
    cr4: shadowed(hv, v('GUEST_CR4'), 'CR4_GUEST_HOST_MASK', 'CR4_READ_SHADOW'), cr8: u64(c.cr8), efer,
    dr,
    gdtr: { base: v('GUEST_GDTR_BASE'), limit: Number(v('GUEST_GDTR_LIMIT')) },
    idtr: { base: v('GUEST_IDTR_BASE'), limit: Number(v('GUEST_IDTR_LIMIT')) },
    codeBits: codeBits(Number(v('GUEST_CS_AR_BYTES')), cr0, efer),
  };
}
