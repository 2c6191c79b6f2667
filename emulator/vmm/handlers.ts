// The reference hypervisor's VM-exit handlers, one per exit reason, written against the documented handler API (api.ts).
import { cpuidModel } from '../cpu/cpuid.js';
import { makesDoubleFault } from '../cpu/regs.js';
import { EXIT_REASON } from '../vmx/exit-reasons.js';
import { decodeInterruptionInfo } from '../vmx/controls.js';
import type { ExitHandler, VcpuApi, GprName } from './api.js';
import { GPR_NAMES } from './api.js';
import type { ExitOutcome } from './exit-log.js';
import { emulateMmio, type FetchedInstruction, type MmioBus } from './mmio.js';

/** The hypervisor's hypercall ABI (VMCALL): function number in RAX, arguments in RBX, RCX, RDX; result in RAX. */
export const HYPERCALL = {
  /** Write RCX bytes at guest-virtual RBX to the console; returns the count. */
  WRITE: 1,
  /** End the run with exit status RBX (status "debug-exit"). */
  EXIT: 2,
  /** Return guest time in TSC ticks (instructions retired + idle time). */
  TIME: 3,
} as const;
/** Returned in RAX for an unknown hypercall (KVM's -KVM_ENOSYS) and from user mode (-KVM_EPERM). */
export const HC_ENOSYS = -1000n, HC_EPERM = -1n;

/** Hypervisor CPUID leaves: 40000000H with the signature "vmscope" and 40000001H features (bit 0: hypercalls). */
export const HV_SIGNATURE = 'vmscope';
const HV_MAX_LEAF = 0x40000001;

/** MSRs the hypervisor handles itself (they exit); the rest pass through to the processor. */
export const HYPERVISOR_MSR_EXITS: readonly number[] = [
  0x10, // IA32_TIME_STAMP_COUNTER: writes become a TSC offset
  0x1b, // IA32_APIC_BASE
  0x3a, // IA32_FEATURE_CONTROL: locked, VMX off (no nested virtualization)
  0x1a0, // IA32_MISC_ENABLE
  0x6e0, // IA32_TSC_DEADLINE
  ...Array.from({ length: 0x12 }, (_, k) => 0x480 + k), // VMX capability MSRs: #GP, VMX is not offered to guests
  ...Array.from({ length: 0x100 }, (_, k) => 0x800 + k), // x2APIC registers
];

/** The platform side of MSRs the hypervisor emulates (the local APIC), when there is one. */
export interface MsrPlatform {
  read(msr: number, now: number): bigint | null;
  write(msr: number, value: bigint, now: number): boolean;
}

export interface HandlerContext {
  bus: MmioBus;
  readonly msr?: MsrPlatform | null;
  /** The platform has a local APIC (CPUID advertises APIC, x2APIC and TSC-deadline). */
  hasLapic(): boolean;
  /** Advance guest time until `t` while halted. */
  idleUntil(t: number): void;
  /** Whether an interrupt could ever wake a halted guest; the next deadline if any. */
  nextWake(): number | null | 'pending';
  /** Root-mode MOV to CR2 / XSETBV before the next entry (CR2 and XCR0 are not VMCS fields). */
  setCr2(v: number): void;
  setXcr0(v: number): void;
  guestCr4(): number;
  /** The guest's IA32_TSC_AUX (RDTSCP's RCX), which the processor keeps. */
  tscAux(): number;
  /** Guest-physical RAM (not MMIO or unassigned). */
  isRam(gpa: number): boolean;
  /** The VM-entry check that failed, for INVALID_STATE exits. */
  entryCheck(): string | undefined;
  /**
   * The bytes at the guest's CS:RIP through its page tables, as VcpuApi.readGuestVirtual gives them (15 bytes, or
   * 1 where the 15 cross into an unmapped page), into a reused buffer: null when RIP is not mapped.
   */
  fetchInstruction(): FetchedInstruction | null;
}

/** Bits 31:0 of a 64-bit value as a number (no BigInt arithmetic when the value fits 32 bits). */
function low32(v: bigint): number {
  const n = Number(v); // exact for values below 2^32
  return n >= 0 && n <= 0xffffffff ? n : Number(BigInt.asUintN(32, v));
}

function gpr(vcpu: VcpuApi, r: number): bigint {
  return vcpu.reg(GPR_NAMES[r] as GprName);
}

function setEdxEax(vcpu: VcpuApi, v: bigint): void {
  vcpu.setReg('rax', v & 0xffffffffn);
  vcpu.setReg('rdx', (v >> 32n) & 0xffffffffn);
}

function guestCpl(vcpu: VcpuApi): number {
  return Number((vcpu.vmread('GUEST_SS_AR_BYTES') >> 5n) & 3n);
}

/**
 * The hypervisor's CPUID answers: the processor model plus the hypervisor bit and leaves (SDM vol. 2A CPUID; Linux's
 * KVM_CPUID_SIGNATURE convention), a pure function of leaf, subleaf, guest CR4 and whether there is a local APIC. The
 * last answer is kept with what it depends on: a guest polling one leaf gets it without recomputing. Shared by the
 * CPUID handler and the hypervisor's exit fastpath (Hypervisor.fastpath), so both give the same answer.
 */
export class CpuidAnswers {
  /** EAX, EBX, ECX, EDX of the last answer. */
  readonly regs = new Uint32Array(4);
  private readonly memo = new Float64Array([-1, -1, -1, -1]);

  answer(leaf: number, sub: number, cr4: number, lapic: boolean): Uint32Array {
    const memo = this.memo, l = lapic ? 1 : 0;
    if (memo[0] === leaf && memo[1] === sub && memo[2] === cr4 && memo[3] === l) return this.regs;
    let r: [number, number, number, number];
    if (leaf >= 0x40000000 && leaf <= 0x4fffffff) {
      if (leaf === 0x40000000) {
        const sig = new TextEncoder().encode(HV_SIGNATURE.padEnd(12, '\0'));
        const w = (k: number) => sig[k] | (sig[k + 1] << 8) | (sig[k + 2] << 16) | (sig[k + 3] << 24);
        r = [HV_MAX_LEAF, w(0), w(4), w(8)];
      } else if (leaf === 0x40000001) r = [1, 0, 0, 0];
      else r = [0, 0, 0, 0];
    } else {
      const m = cpuidModel({ cr4 }, leaf, sub);
      r = [m[0], m[1], m[2], m[3]];
      if (leaf === 1) {
        r[2] = (r[2] | (1 << 31)) >>> 0; // CPUID.1:ECX.HYPERVISOR
        if (lapic) {
          // The platform's local APIC: EDX.APIC (9), ECX.x2APIC (21), ECX.TSC-Deadline (24); initial APIC ID 0 in EBX[31:24].
          r[3] = (r[3] | (1 << 9)) >>> 0;
          r[2] = (r[2] | (1 << 21) | (1 << 24)) >>> 0;
        }
      }
    }
    this.regs.set(r);
    memo[0] = leaf; memo[1] = sub; memo[2] = cr4; memo[3] = l;
    return this.regs;
  }
}

/** CPUID: CpuidAnswers for the guest's EAX, ECX and CR4. */
function cpuid(ctx: HandlerContext): ExitHandler {
  const answers = new CpuidAnswers();
  return (vcpu) => {
    const r = answers.answer(vcpu.gpr32(0), vcpu.gpr32(1), ctx.guestCr4() >>> 0, ctx.hasLapic());
    // CPUID writes EAX, EBX, ECX, EDX and clears bits 63:32 of RAX, RBX, RCX, RDX in 64-bit mode.
    vcpu.setGpr32(0, r[0]); vcpu.setGpr32(3, r[1]);
    vcpu.setGpr32(1, r[2]); vcpu.setGpr32(2, r[3]);
    vcpu.advanceRip();
    return 'emulated';
  };
}

/** OUT of `size` bytes (1, 2 or 4): the value written, the low bytes of EAX. */
export function outValue(eax: number, size: number): number {
  return size < 4 ? eax & ((1 << (size * 8)) - 1) : eax;
}

/** IN of `size` bytes (1, 2 or 4) reading `value`: EAX after it (to EAX zero-extends, to AL/AX keeps the rest). */
export function inResult(eax: number, value: number, size: number): number {
  if (size === 4) return value >>> 0;
  const mask = (1 << (size * 8)) - 1;
  return ((eax & ~mask) | (value & mask)) >>> 0;
}

/** The exit-log note of an IN of `size` bytes (what the port gave, cut to the size). */
export function inNote(port: number, value: number, size: number): string {
  return `in 0x${port.toString(16)} = 0x${(size === 4 ? value >>> 0 : value & ((1 << (size * 8)) - 1)).toString(16)}`;
}

/** HLT: idle until the next interrupt can arrive (advancing virtual time), or end the run when none can. */
function hlt(ctx: HandlerContext): ExitHandler {
  return (vcpu) => {
    vcpu.advanceRip();
    const interruptsOn = (vcpu.reg('rflags') & 0x200n) !== 0n;
    if (!interruptsOn) { vcpu.endRun('halted'); return 'ended'; }
    const wake = ctx.nextWake();
    if (wake === null) {
      vcpu.endRun('halted', 'HLT with interrupts enabled but no interrupt source can fire: the run ends');
      return 'ended';
    }
    if (wake !== 'pending') { ctx.idleUntil(wake); vcpu.note(`idle until t=${wake}`); }
    return 'resumed';
  };
}

/** I/O instructions: dispatch to the platform's port devices, string and REP forms included (SDM vol. 3C table 28-5). */
function io(ctx: HandlerContext): ExitHandler {
  return (vcpu) => {
    const q = vcpu.vmread32('EXIT_QUALIFICATION'); // bits 31:0 hold all of it (SDM vol. 3C table 28-5)
    const size = ((q & 7) + 1) as 1 | 2 | 4;
    const input = (q & 8) !== 0, string = (q & 16) !== 0, rep = (q & 32) !== 0;
    const port = q >>> 16;
    if (!string) {
      // Sizes 1, 2 and 4 only: qualification bits 2:0 are 0, 1 or 3 (SDM vol. 3C table 28-5).
      if (input) {
        const eax = vcpu.gpr32(0), v = vcpu.ioRead(port, size) >>> 0;
        const after = inResult(eax, v, size);
        // IN to EAX zero-extends RAX; to AL/AX keeps the rest of RAX, bits 63:32 included.
        if (size === 4) vcpu.setGpr32(0, after); else vcpu.setReg('rax', (vcpu.reg('rax') & ~0xffffffffn) | BigInt(after));
        vcpu.note(inNote(port, v, size));
      } else vcpu.ioWrite(port, size, outValue(vcpu.gpr32(0), size));
      vcpu.advanceRip();
      return 'emulated';
    }
    return stringIo(vcpu, ctx.bus, port, size, input, rep);
  };
}

/** INS/OUTS with REP: up to 4096 elements per exit; the guest re-executes the instruction for the rest. */
function stringIo(vcpu: VcpuApi, bus: MmioBus, port: number, size: 1 | 2 | 4, input: boolean, rep: boolean): ExitOutcome {
  const info = Number(vcpu.vmread('VMX_INSTRUCTION_INFO'));
  const asize = ((info >>> 7) & 7) === 0 ? 16 : ((info >>> 7) & 7) === 1 ? 32 : 64;
  const seg = (info >>> 15) & 7;
  const segNames = ['ES', 'CS', 'SS', 'DS', 'FS', 'GS'];
  const long = (vcpu.vmread('GUEST_IA32_EFER') & 0x400n) !== 0n && (vcpu.vmread('GUEST_CS_AR_BYTES') & (1n << 13n)) !== 0n;
  const base = long && seg < 4 ? 0 : Number(vcpu.vmread(`GUEST_${input ? 'ES' : segNames[seg]}_BASE` as 'GUEST_ES_BASE'));
  const amask = asize === 64 ? (1n << 64n) - 1n : (1n << BigInt(asize)) - 1n;
  const idx = input ? 'rdi' : 'rsi';
  const down = (vcpu.reg('rflags') & 0x400n) !== 0n;
  let count = rep ? vcpu.reg('rcx') & amask : 1n;
  let done = 0;
  while (count > 0n && done < 4096) {
    const off = vcpu.reg(idx) & amask;
    const lin = base + Number(BigInt.asIntN(64, off));
    if (input) {
      if (!elementMapped(vcpu, lin, size)) { vcpu.injectException(14, 2); return 'injected'; }
      elementWrite(vcpu, bus, lin, size, vcpu.ioRead(port, size));
    } else {
      if (!elementMapped(vcpu, lin, size)) { vcpu.injectException(14, 0); return 'injected'; }
      vcpu.ioWrite(port, size, elementRead(vcpu, bus, lin, size));
    }
    const next = (off + BigInt(down ? -size : size)) & amask;
    const rv = vcpu.reg(idx);
    vcpu.setReg(idx, asize === 64 ? next : (rv & ~amask) | next);
    count--;
    done++;
    if (rep) { const rcx = vcpu.reg('rcx'); vcpu.setReg('rcx', (rcx & ~amask) | count); }
  }
  vcpu.spend(done - 1); // each element is a step of the budget (the exit itself is one)
  if (count === 0n) vcpu.advanceRip();
  vcpu.note(`${input ? 'ins' : 'outs'} ${done} element(s) of ${size} byte(s) at port 0x${port.toString(16)}`);
  return 'emulated';
}

function elementMapped(vcpu: VcpuApi, lin: number, size: number): boolean {
  return vcpu.translate(lin) >= 0 && vcpu.translate(lin + size - 1) >= 0;
}

/**
 * A string-I/O element in guest memory: RAM, a device register (one access of the element's size), or
 * unassigned guest-physical space, which reads as all ones and drops writes (as the MMIO emulator does).
 */
function elementRead(vcpu: VcpuApi, bus: MmioBus, lin: number, size: 1 | 2 | 4): number {
  const gpa = vcpu.translate(lin);
  const hit = bus.findMmio(gpa);
  if (hit !== null && vcpu.translate(lin + size - 1) === gpa + size - 1) return hit.dev.mmioRead(gpa - hit.base, size) >>> 0;
  let v = 0;
  for (let k = size - 1; k >= 0; k--) v = (v << 8) | guestByte(vcpu, vcpu.translate(lin + k));
  return v >>> 0;
}

function elementWrite(vcpu: VcpuApi, bus: MmioBus, lin: number, size: 1 | 2 | 4, v: number): void {
  const gpa = vcpu.translate(lin);
  const hit = bus.findMmio(gpa);
  if (hit !== null && vcpu.translate(lin + size - 1) === gpa + size - 1) { hit.dev.mmioWrite(gpa - hit.base, size, v >>> 0); return; }
  for (let k = 0; k < size; k++) {
    const g = vcpu.translate(lin + k);
    try { vcpu.writeGuestPhysical(g, new Uint8Array([(v >>> (8 * k)) & 0xff])); } catch (e) { if (!(e instanceof RangeError)) throw e; } // not RAM: dropped
  }
}

function guestByte(vcpu: VcpuApi, gpa: number): number {
  try { return vcpu.readGuestPhysical(gpa, 1)[0]; } catch (e) { if (e instanceof RangeError) return 0xff; throw e; } // not RAM: all ones
}

/** RDMSR/WRMSR of the MSRs the hypervisor keeps (HYPERVISOR_MSR_EXITS and MSRs outside the bitmap ranges); others #GP. */
function msr(ctx: HandlerContext, write: boolean): ExitHandler {
  const miscEnable = { value: 1n }; // fast-strings enable
  return (vcpu) => {
    const index = Number(vcpu.reg('rcx') & 0xffffffffn);
    const now = vcpu.now();
    if (!write) {
      let v: bigint | null = null;
      if (index === 0x10) v = BigInt.asUintN(64, BigInt(now) + vcpu.vmread('TSC_OFFSET'));
      else if (index === 0x3a) v = 1n; // locked; VMX disabled both inside and outside SMX
      else if (index === 0x1a0) v = miscEnable.value;
      else if (ctx.msr) v = ctx.msr.read(index, now);
      if (v === null) { vcpu.injectException(13, 0); vcpu.note(`rdmsr 0x${index.toString(16)}: #GP`); return 'injected'; }
      setEdxEax(vcpu, v);
      vcpu.advanceRip();
      return 'emulated';
    }
    const value = ((vcpu.reg('rdx') & 0xffffffffn) << 32n) | (vcpu.reg('rax') & 0xffffffffn);
    let ok = false;
    if (index === 0x10) { vcpu.vmwrite('TSC_OFFSET', BigInt.asUintN(64, value - BigInt(now))); ok = true; }
    else if (index === 0x1a0) { miscEnable.value = value; ok = true; }
    else if (ctx.msr) ok = ctx.msr.write(index, value, now);
    if (!ok) { vcpu.injectException(13, 0); vcpu.note(`wrmsr 0x${index.toString(16)}: #GP`); return 'injected'; }
    vcpu.advanceRip();
    return 'emulated';
  };
}

/**
 * Control-register access exits (SDM vol. 3C §28.2.1, Table 28-3: bits 3:0 the CR, 5:4 the access type
 * 0 MOV to CR / 1 MOV from CR / 2 CLTS / 3 LMSW, 11:8 the general register, 31:16 the LMSW source).
 * CR0/CR4 exit when a write changes a bit the hypervisor owns (guest/host mask): the read shadow takes the
 * guest's value, owned bits keep the hypervisor's, and what the processor would do follows (IA-32e activation
 * when paging turns on with EFER.LME). CR3 exits only when "CR3-load/store exiting" is on: the hypervisor
 * moves the value to/from GUEST_CR3. CR8 needs a TPR shadow or the APIC, which this hypervisor does not give
 * a CR8 exit to: it ends the run saying so.
 */
function crAccess(ctx: HandlerContext): ExitHandler {
  return (vcpu) => {
    const q = Number(vcpu.exit.qualification & 0xffffffffn);
    const cr = q & 15, type = (q >>> 4) & 3, r = (q >>> 8) & 15;
    const notEmulated = (what: string): ExitOutcome => {
      vcpu.endRun('error', `CR access exit not emulated: ${what} (qualification 0x${q.toString(16)})`);
      return 'ended';
    };
    switch (type) {
      case 0: // MOV to CR
        if (cr === 0) writeCr0(vcpu, Number(gpr(vcpu, r) & 0xffffffffn));
        else if (cr === 4) {
          const v = Number(gpr(vcpu, r) & 0xffffffffn);
          if ((v & (1 << 13)) !== 0) { vcpu.injectException(13, 0); vcpu.note('guest set CR4.VMXE: #GP (no nested VMX)'); return 'injected'; }
          vcpu.vmwrite('CR4_READ_SHADOW', v);
          vcpu.vmwrite('GUEST_CR4', (v | (1 << 13)) >>> 0);
        } else if (cr === 3) {
          // Bit 63 with CR4.PCIDE means "do not flush": not part of the value (SDM vol. 3A §4.10.4.1).
          const pcide = (ctx.guestCr4() & (1 << 17)) !== 0;
          const v = gpr(vcpu, r) & (pcide ? 0x7fffffffffffffffn : 0xffffffffffffffffn);
          vcpu.vmwrite('GUEST_CR3', isLongMode(vcpu) ? v : v & 0xffffffffn);
          vcpu.note(`guest CR3 ← 0x${v.toString(16)}`);
        } else return notEmulated(`MOV to CR${cr}`);
        break;
      case 1: // MOV from CR (only CR3 and CR8 reads can exit)
        if (cr !== 3) return notEmulated(`MOV from CR${cr}`);
        setGpr(vcpu, r, isLongMode(vcpu) ? vcpu.vmread('GUEST_CR3') : vcpu.vmread('GUEST_CR3') & 0xffffffffn);
        break;
      case 2: { // CLTS: clears CR0.TS (it exits when TS is owned and set in the shadow)
        const shadow = Number(vcpu.vmread('CR0_READ_SHADOW'));
        writeCr0(vcpu, (shadow & ~CR0_TS) >>> 0);
        break;
      }
      default: { // LMSW: loads CR0 bits 3:0 (PE, MP, EM, TS); it can set PE but never clear it (SDM vol. 2A LMSW)
        const src = (q >>> 16) & 0xf;
        const shadow = Number(vcpu.vmread('CR0_READ_SHADOW'));
        writeCr0(vcpu, ((shadow & ~0xe) | src | (shadow & 1)) >>> 0);
        break;
      }
    }
    vcpu.advanceRip();
    return 'emulated';
  };
}

const CR0_TS = 1 << 3;

/** The guest writes `v` to CR0: the shadow keeps its value, the real CR0 keeps NE (IA32_VMX_CR0_FIXED0). */
function writeCr0(vcpu: VcpuApi, v: number): void {
  const old = Number(vcpu.vmread('GUEST_CR0'));
  vcpu.vmwrite('CR0_READ_SHADOW', v);
  const nv = (v | 0x20) >>> 0;
  vcpu.vmwrite('GUEST_CR0', nv);
  const efer = vcpu.vmread('GUEST_IA32_EFER');
  const pgOn = (nv & 0x80000000) !== 0, wasOn = (old & 0x80000000) !== 0;
  if (pgOn && !wasOn && (efer & 0x100n) !== 0n) setLongMode(vcpu, true);
  if (!pgOn && wasOn && (efer & 0x400n) !== 0n) setLongMode(vcpu, false);
}

function isLongMode(vcpu: VcpuApi): boolean {
  return (vcpu.vmread('GUEST_IA32_EFER') & 0x400n) !== 0n;
}

function setGpr(vcpu: VcpuApi, r: number, v: bigint): void {
  vcpu.setReg(GPR_NAMES[r] as GprName, v);
}

/** RDTSC/RDTSCP with "RDTSC exiting": the value the processor would give (guest time + TSC offset), RCX = IA32_TSC_AUX. */
function rdtsc(ctx: HandlerContext, rdtscp: boolean): ExitHandler {
  return (vcpu) => {
    setEdxEax(vcpu, BigInt.asUintN(64, BigInt(vcpu.now()) + vcpu.vmread('TSC_OFFSET')));
    if (rdtscp) vcpu.setReg('rcx', BigInt(ctx.tscAux() >>> 0));
    vcpu.advanceRip();
    return 'emulated';
  };
}

function setLongMode(vcpu: VcpuApi, on: boolean): void {
  const efer = vcpu.vmread('GUEST_IA32_EFER');
  vcpu.vmwrite('GUEST_IA32_EFER', on ? efer | 0x400n : efer & ~0x400n);
  const entry = vcpu.vmread('VM_ENTRY_CONTROLS');
  vcpu.vmwrite('VM_ENTRY_CONTROLS', on ? entry | 0x200n : entry & ~0x200n);
}

/** Exceptions the exception bitmap selected: reflect them into the guest (CR2 first for #PF). */
function exception(ctx: HandlerContext): ExitHandler {
  return (vcpu) => {
    const info = Number(vcpu.vmread('VM_EXIT_INTR_INFO'));
    const vector = info & 0xff;
    if (vector === 14) ctx.setCr2(Number(BigInt.asIntN(64, vcpu.exit.qualification)));
    const err = (info & 0x800) !== 0 ? Number(vcpu.vmread('VM_EXIT_INTR_ERROR_CODE')) : undefined;
    const type = (info >>> 8) & 7;
    const vectoring = vcpu.vmread32('IDT_VECTORING_INFO_FIELD');
    const nested = reflection(vectoring, vector);
    if (nested === 'triple-fault') {
      // "Event injection should not be used in this case": the run ends, as at a TRIPLE_FAULT exit.
      vcpu.endRun('triple-fault', `guest triple fault: vector ${vector} while delivering a double fault, at rip=0x${vcpu.reg('rip').toString(16)}`);
      return 'ended';
    }
    if (nested === 'double-fault') {
      vcpu.injectException(8, 0);
      vcpu.note(`reflected #DF: vector ${vector}${err !== undefined ? ` error 0x${err.toString(16)}` : ''} while delivering vector ${vectoring & 0xff}`);
      return 'injected';
    }
    // INT3/INTO exit as software exceptions (type 6): re-inject with their length so the return address
    // is the next instruction, as KVM does (SDM vol. 3C §27.6.1.1).
    if (type === 6 || type === 4 || type === 5) vcpu.injectEvent(vector, type, undefined, vcpu.exit.instructionLength);
    else vcpu.injectException(vector, err);
    vcpu.note(`reflected vector ${vector}${err !== undefined ? ` error 0x${err.toString(16)}` : ''}`);
    return 'injected';
  };
}

/**
 * What the guest gets for an exception that exited while the event in IDT-vectoring information `vectoring` was being
 * delivered, so that nested events work as on a processor without the VMM (SDM vol. 3C "Reflecting Exceptions to Guest
 * Software", with vol. 3A §6.15 table 6-5): the exception itself (handled serially) unless the first event was a
 * hardware exception and the two make a double fault (contributory after contributory; contributory or page fault
 * after a page fault), or the first was a double fault (a triple fault).
 */
export function reflection(vectoring: number, vector: number): 'exception' | 'double-fault' | 'triple-fault' {
  if ((vectoring & 0x80000000) === 0 || ((vectoring >>> 8) & 7) !== 3) return 'exception';
  const first = vectoring & 0xff;
  if (first === 8) return 'triple-fault';
  return makesDoubleFault(first, vector) ? 'double-fault' : 'exception';
}

/** VMCALL: the hypercall ABI (RAX = function). */
function vmcall(): ExitHandler {
  return (vcpu) => {
    vcpu.advanceRip();
    if (guestCpl(vcpu) !== 0) { vcpu.setReg('rax', HC_EPERM); return 'emulated'; }
    const fn = Number(vcpu.reg('rax') & 0xffffffffn);
    switch (fn) {
      case HYPERCALL.WRITE: {
        const ptr = Number(BigInt.asIntN(64, vcpu.reg('rbx')));
        const len = Math.min(Number(vcpu.reg('rcx') & 0xffffffffn), 1 << 20);
        const data = vcpu.readGuestVirtual(ptr, len);
        if (data === null) { vcpu.setReg('rax', -14n); return 'emulated'; } // -EFAULT
        vcpu.console(new TextDecoder('utf-8').decode(data));
        vcpu.setReg('rax', BigInt(len));
        return 'emulated';
      }
      case HYPERCALL.EXIT: {
        const code = Number(vcpu.reg('rbx') & 0xffn);
        vcpu.endRun('debug-exit', `hypercall exit with status ${code}`, code);
        return 'ended';
      }
      case HYPERCALL.TIME:
        vcpu.setReg('rax', BigInt(vcpu.now()));
        return 'emulated';
      default:
        vcpu.setReg('rax', HC_ENOSYS);
        vcpu.note(`unknown hypercall ${fn}`);
        return 'emulated';
    }
  };
}

/** EPT violation: MMIO emulation for device and unassigned guest-physical addresses. */
function eptViolation(ctx: HandlerContext): ExitHandler {
  return (vcpu) => {
    // The exit's fields as numbers (no BigInt per MMIO access): a guest-physical address is below 2^52.
    const gpa = vcpu.vmreadNumber('GUEST_PHYSICAL_ADDRESS');
    const q = vcpu.vmread32('EXIT_QUALIFICATION');
    const ram = ctx.isRam(gpa);
    if ((q & 4) !== 0) {
      vcpu.endRun('error', ram
        ? `EPT denies instruction fetch at guest-physical 0x${gpa.toString(16)} (its EPT entry lacks X)`
        : `guest fetched instructions from guest-physical 0x${gpa.toString(16)}, which is not RAM`);
      return 'ended';
    }
    if ((q & (1 << 7)) !== 0 && (q & (1 << 8)) === 0) {
      // The guest's own page walk touched a guest-physical page EPT does not map (SDM vol. 3C table 28-7 bit 8 = 0).
      vcpu.endRun('error', `EPT violation on a guest paging-structure access at guest-physical 0x${gpa.toString(16)} (guest page tables outside RAM?)`);
      return 'ended';
    }
    const vectoring = vcpu.vmread32('IDT_VECTORING_INFO_FIELD');
    if ((vectoring & 0x80000000) !== 0) {
      // The access belongs to the delivery of an event (a gate, a descriptor or the stack frame; SDM vol. 3C §28.2.4),
      // not to the instruction at RIP: there is nothing to emulate. KVM ends the run here too (KVM_INTERNAL_ERROR_DELIVERY_EV).
      const ev = decodeInterruptionInfo(vectoring);
      vcpu.endRun('error', `guest-physical 0x${gpa.toString(16)}${ram ? ' (EPT-protected RAM)' : ', which is not RAM,'} was accessed while delivering ${ev.typeName} ${ev.vector} (0x${ev.vector.toString(16)}): the IDT, a descriptor table or the stack is outside RAM`);
      return 'ended';
    }
    // Device or unassigned space: emulate the access. Guest RAM whose EPT entry denies the access
    // (a hypervisor or student restricted it) is treated like ROM: writes dropped, reads all ones.
    const fetched = ctx.fetchInstruction();
    const r = emulateMmio(vcpu, ctx.bus, gpa, fetched ?? undefined);
    if (!r.ok) { vcpu.endRun('error', r.reason); return 'ended'; }
    vcpu.note(ram ? `${r.note.replace('unassigned', 'EPT-protected RAM')} (treated like ROM)` : r.note);
    return 'emulated';
  };
}

/** The handlers defaultHandlers made: they keep no reference to `vcpu.exit` past their exit (the hypervisor reuses it for them). */
const BUILT_IN = new WeakSet<ExitHandler>();

/** Whether `h` is one of the built-in handlers (not a wrapper around one). */
export function isBuiltInHandler(h: ExitHandler): boolean {
  return BUILT_IN.has(h);
}

export function defaultHandlers(ctx?: HandlerContext): Map<number, ExitHandler> {
  const m = new Map<number, ExitHandler>();
  if (ctx === undefined) return m;
  const R = EXIT_REASON;
  m.set(R.CPUID, cpuid(ctx));
  m.set(R.HLT, hlt(ctx));
  m.set(R.IO_INSTRUCTION, io(ctx));
  m.set(R.MSR_READ, msr(ctx, false));
  m.set(R.MSR_WRITE, msr(ctx, true));
  m.set(R.CR_ACCESS, crAccess(ctx));
  m.set(R.RDTSC, rdtsc(ctx, false));
  m.set(R.RDTSCP, rdtsc(ctx, true));
  m.set(R.EXCEPTION_NMI, exception(ctx));
  m.set(R.EPT_VIOLATION, eptViolation(ctx));
  m.set(R.VMCALL, vmcall());
  m.set(R.EXTERNAL_INTERRUPT, () => 'resumed');
  m.set(R.INTERRUPT_WINDOW, () => 'resumed');
  m.set(R.NMI_WINDOW, () => 'resumed');
  m.set(R.PREEMPTION_TIMER, () => 'resumed');
  m.set(R.MONITOR_TRAP_FLAG, () => 'resumed');
  m.set(R.INVD, (vcpu) => { vcpu.advanceRip(); return 'emulated'; });
  m.set(R.XSETBV, (vcpu) => {
    // XCR0 is not in the VMCS: the hypervisor loads the guest's value (KVM's guest xcr0 switch).
    const v = Number(vcpu.reg('rax') & 0xffffffffn);
    if ((vcpu.reg('rcx') & 0xffffffffn) !== 0n || (v & 1) === 0 || (v & ~3) !== 0 || (vcpu.reg('rdx') & 0xffffffffn) !== 0n) {
      vcpu.injectException(13, 0);
      return 'injected';
    }
    ctx.setXcr0(v);
    vcpu.advanceRip();
    return 'emulated';
  });
  m.set(R.TRIPLE_FAULT, (vcpu) => {
    vcpu.endRun('triple-fault', `guest triple fault at rip=0x${vcpu.reg('rip').toString(16)}`);
    return 'ended';
  });
  m.set(R.INVALID_STATE, (vcpu) => {
    const check = ctx.entryCheck();
    vcpu.endRun('error', `VM entry failed: invalid guest state${check ? `: ${check}` : ''}`);
    return 'ended';
  });
  m.set(R.EPT_MISCONFIG, (vcpu) => {
    vcpu.endRun('error', `EPT misconfiguration at guest-physical 0x${vcpu.exit.guestPhysical.toString(16)} (a hypervisor bug)`);
    return 'ended';
  });
  for (const r of [R.VMCLEAR, R.VMLAUNCH, R.VMPTRLD, R.VMPTRST, R.VMREAD, R.VMRESUME, R.VMWRITE, R.VMOFF, R.VMON, R.INVEPT, R.INVVPID]) {
    m.set(r, (vcpu) => { vcpu.injectException(6); vcpu.note('VMX instructions are not available to guests (no nested virtualization)'); return 'injected'; });
  }
  for (const h of m.values()) BUILT_IN.add(h);
  return m;
}
