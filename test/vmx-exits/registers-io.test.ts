// VM exits for control/debug registers, port I/O and MSRs (SDM vol. 3C §26.1.3; qualifications tables 28-3, 28-4, 28-5).
import { describe, expect, it } from 'vitest';
import { EXIT_REASON as R } from '../../emulator/vmx/exit-reasons.js';
import {
  CPU_BASED_CR3_LOAD_EXITING, CPU_BASED_CR3_STORE_EXITING, CPU_BASED_CR8_LOAD_EXITING, CPU_BASED_CR8_STORE_EXITING, CPU_BASED_MOV_DR_EXITING,
} from '../../emulator/vmx/controls.js';
import { decodeCrAccess, decodeIoInstruction } from '../../emulator/vmx/qualification.js';
import { guest, idt64, intrInfo, TYPE_HW, HOST_LAYOUT, type Guest } from './harness.js';
import type { VcpuApi, GprName } from '../../emulator/vmm/api.js';
import { GPR_NAMES } from '../../emulator/vmm/api.js';

const at = (g: Guest, label: string) => {
  const e = g.exits.find((x) => x.rip === g.asm.sym[label]);
  expect(e, label).toBeDefined();
  expect(e!.length, `${label} length`).toBe(g.icedLength(g.asm.sym[label]));
  return e!;
};
/** CR-access qualification (table 28-3): CR 3:0, type 5:4, LMSW operand 6, GPR 11:8, LMSW source 31:16. */
const crq = (cr: number, type: number, gpr: number, lmsw = 0, lmswMem = false) =>
  BigInt((cr | (type << 4) | (lmswMem ? 64 : 0) | (gpr << 8) | (lmsw << 16)) >>> 0);

describe('CR_ACCESS (28)', () => {
  it('MOV to CR0 changing the host-owned NE exits (GPR in the qualification); the read shadow then shows the guest value', () => {
    const g = guest('cr0-ne', 'long', `
main:
  mov rbx, cr0
  and ebx, ~0x20
clear_ne:
  mov cr0, rbx            ; NE 1 -> 0: exits (mask NE, shadow NE = 1)
  mov rcx, cr0            ; reads NE = 0 from the shadow
  mov rdx, rcx
  or edx, 8
set_ts:
  mov cr0, rdx            ; TS changes, NE stays as shadowed: no exit
  mov r8, cr0
  EXIT 0x01
`);
    const r = g.run();
    expect(r.status).toBe('debug-exit');
    const crs = g.of(R.CR_ACCESS);
    expect(crs).toHaveLength(1);
    expect(at(g, 'clear_ne').qualification).toBe(crq(0, 0, 3));
    expect(decodeCrAccess(crs[0].qualification).summary).toBe('mov cr0 <- rbx');
    expect(Number(BigInt(r.registers.rcx)) & 0x20).toBe(0);
    expect(Number(BigInt(r.registers.r8)) & 0x28).toBe(8);
    // The real CR0 keeps NE (IA32_VMX_CR0_FIXED0); the shadow holds the guest's view.
    expect(Number(g.hv.vmread('GUEST_CR0')) & 0x20).toBe(0x20);
    expect(Number(g.hv.vmread('CR0_READ_SHADOW')) & 0x20).toBe(0);
  });

  it('CR3-load exiting exits unless the value matches a CR3-target value; CR3-store exiting reports MOV from CR3', () => {
    const g = guest('cr3', 'long', `
main:
  mov rax, cr3
same:
  mov cr3, rax            ; matches CR3_TARGET_VALUE0: no exit
  ; a copy of the PML4 at 0x20000 (same PDPT): loading it exits
  mov rsi, 0xA000
  mov rdi, 0x20000
  mov ecx, 512
  rep movsq
  mov r9, 0x20000
other:
  mov cr3, r9
store:
  mov r10, cr3
  EXIT 0x02
`);
    g.setBits('CPU_BASED_VM_EXEC_CONTROL', CPU_BASED_CR3_LOAD_EXITING | CPU_BASED_CR3_STORE_EXITING);
    g.hv.vmwrite('CR3_TARGET_COUNT', 1);
    g.hv.vmwrite('CR3_TARGET_VALUE0', 0xa000);
    g.on(R.CR_ACCESS, (vcpu) => {
      const q = Number(vcpu.exit.qualification);
      const reg = GPR_NAMES[(q >>> 8) & 15] as GprName;
      if (((q >>> 4) & 3) === 0) vcpu.vmwrite('GUEST_CR3', vcpu.reg(reg));
      else vcpu.setReg(reg, vcpu.vmread('GUEST_CR3'));
      vcpu.advanceRip();
      return 'emulated';
    });
    const r = g.run();
    expect(r.status).toBe('debug-exit');
    expect(g.of(R.CR_ACCESS).map((e) => e.rip)).toEqual([g.asm.sym.main, g.asm.sym.other, g.asm.sym.store]);
    expect(at(g, 'main').qualification).toBe(crq(3, 1, 0));
    expect(at(g, 'other').qualification).toBe(crq(3, 0, 9));
    expect(at(g, 'store').qualification).toBe(crq(3, 1, 10));
    expect(BigInt(r.registers.r10)).toBe(0x20000n);
  });

  it('CR8 load and store exiting', () => {
    const g = guest('cr8', 'long', `
main:
  mov ecx, 5
load:
  mov cr8, rcx
store:
  mov rdx, cr8
  EXIT 0x03
`);
    g.setBits('CPU_BASED_VM_EXEC_CONTROL', CPU_BASED_CR8_LOAD_EXITING | CPU_BASED_CR8_STORE_EXITING);
    let tpr = -1;
    g.on(R.CR_ACCESS, (vcpu) => {
      const q = Number(vcpu.exit.qualification);
      const reg = GPR_NAMES[(q >>> 8) & 15] as GprName;
      if (((q >>> 4) & 3) === 0) tpr = Number(vcpu.reg(reg)); else vcpu.setReg(reg, 0xa);
      vcpu.advanceRip();
      return 'emulated';
    });
    const r = g.run();
    expect(at(g, 'load').qualification).toBe(crq(8, 0, 1));
    expect(at(g, 'store').qualification).toBe(crq(8, 1, 2));
    expect(tpr).toBe(5);
    expect(r.registers.rdx).toBe('0xa');
  });

  it('CLTS and LMSW with a host-owned TS: access types 2 and 3, LMSW source data and operand type', () => {
    const g = guest('clts-lmsw', 'long', `
main:
clts1:
  clts                    ; shadow TS = 1: exits
  mov ax, 0x0009          ; PE | TS
lmsw_reg:
  lmsw ax                 ; TS differs from the shadow (now 0): exits
  mov word [rel word_op], 0x0009
lmsw_mem:
  lmsw [rel word_op]      ; TS = 1 = shadow, PE already 1: no exit
  mov word [rel word_op], 0x0003
lmsw_mem2:
  lmsw [rel word_op]      ; MP | PE, TS = 0: exits, memory operand
  EXIT 0x04
word_op: dw 0
`);
    g.hv.vmwrite('CR0_GUEST_HOST_MASK', 0x20 | 0x8);
    g.hv.vmwrite('CR0_READ_SHADOW', Number(g.hv.vmread('CR0_READ_SHADOW')) | 0x8);
    g.on(R.CR_ACCESS, (vcpu: VcpuApi) => {
      const q = Number(vcpu.exit.qualification);
      const shadow = Number(vcpu.vmread('CR0_READ_SHADOW'));
      if (((q >>> 4) & 3) === 2) vcpu.vmwrite('CR0_READ_SHADOW', shadow & ~8);
      else vcpu.vmwrite('CR0_READ_SHADOW', (shadow & ~0xe) | ((q >>> 16) & 0xe));
      vcpu.advanceRip();
      return 'emulated';
    });
    const r = g.run();
    expect(r.status).toBe('debug-exit');
    expect(g.of(R.CR_ACCESS).map((e) => e.rip)).toEqual([g.asm.sym.clts1, g.asm.sym.lmsw_reg, g.asm.sym.lmsw_mem2]);
    expect(at(g, 'clts1').qualification).toBe(crq(0, 2, 0));
    const mask = ~0xf00 >>> 0; // GPR bits are undefined for CLTS/LMSW
    expect(Number(at(g, 'lmsw_reg').qualification) & mask).toBe(Number(crq(0, 3, 0, 0x0009, false)) & mask);
    expect(Number(at(g, 'lmsw_mem2').qualification) & mask).toBe(Number(crq(0, 3, 0, 0x0003, true)) & mask);
    expect(decodeCrAccess(at(g, 'lmsw_mem2').qualification).summary).toBe('lmsw 0x0003 (memory operand)');
  });
});

describe('DR_ACCESS (29)', () => {
  it('MOV DR exiting: DR number, direction and GPR (table 28-4)', () => {
    const g = guest('movdr', 'long', `
main:
  mov ecx, 0x401
to_dr7:
  mov dr7, rcx
from_dr6:
  mov rax, dr6
to_dr0:
  mov dr0, r12
  EXIT 0x05
`);
    g.setBits('CPU_BASED_VM_EXEC_CONTROL', CPU_BASED_MOV_DR_EXITING);
    g.on(R.DR_ACCESS, (vcpu) => { if ((Number(vcpu.exit.qualification) & 16) !== 0) vcpu.setReg('rax', 0xffff0ff0); vcpu.advanceRip(); return 'emulated'; });
    const r = g.run();
    expect(r.status).toBe('debug-exit');
    expect(at(g, 'to_dr7').qualification).toBe(BigInt(7 | (1 << 8)));
    expect(at(g, 'from_dr6').qualification).toBe(BigInt(6 | 16 | (0 << 8)));
    expect(at(g, 'to_dr0').qualification).toBe(BigInt(0 | (12 << 8)));
  });
});

describe('IO_INSTRUCTION (30)', () => {
  it('IN/OUT with imm8 and DX, sizes 1/2/4, direction, string and REP, INS/OUTS instruction information and linear address', () => {
    const g = guest('io', 'long', `
main:
  mov al, 'A'
out_imm:
  out 0xe9, al
  mov dx, 0x3ff           ; 16550 scratch register
  mov al, 0x5a
out_dx:
  out dx, al
  xor eax, eax
in_dx:
  in al, dx
  mov r8, rax
  mov dx, 0xe9
out_w:
  out dx, ax
in_d_imm:
  in eax, 0x80
  mov r9, rax
  lea rsi, [rel msg]
  mov ecx, 5
outs_rep:
  rep outsb
  mov dx, 0x3ff
  lea rdi, [rel buf]
  mov ecx, 3
ins_rep:
  rep insb
  mov ecx, 0xc0000100     ; IA32_FS_BASE (passes through)
  mov eax, 0x100000
  xor edx, edx
  wrmsr
  mov esi, msg2 - 0x100000
  mov dx, 0xe9
outs_fs:
  fs outsb
  lea esi, [rel msg]
outs_a32:
  a32 outsb
  EXIT 0x06
msg: db "hello"
msg2: db "!"
buf: db 0, 0, 0, 0
`);
    const r = g.run();
    expect(r.status, JSON.stringify([r.message, g.exits.map((e) => [e.reason, e.rip.toString(16)])])).toBe('debug-exit');
    const q = (l: string) => Number(at(g, l).qualification);
    // Qualification: size-1 2:0, IN 3, string 4, REP 5, immediate 6, port 31:16 (table 28-5).
    expect(q('out_imm')).toBe((0 | 0x40 | (0xe9 << 16)) >>> 0);
    expect(q('out_dx')).toBe((0x3ff << 16) >>> 0);
    expect(q('in_dx')).toBe((8 | (0x3ff << 16)) >>> 0);
    expect(q('out_w')).toBe((1 | (0xe9 << 16)) >>> 0);
    expect(q('in_d_imm')).toBe((3 | 8 | 0x40 | (0x80 << 16)) >>> 0);
    expect(q('outs_rep')).toBe((0x10 | 0x20 | (0xe9 << 16)) >>> 0);
    expect(q('ins_rep')).toBe((8 | 0x10 | 0x20 | (0x3ff << 16)) >>> 0);
    expect(q('outs_fs')).toBe((0x10 | (0xe9 << 16)) >>> 0);
    expect(decodeIoInstruction(q('ins_rep')).summary).toBe('rep ins 0x3ff, 1 byte');
    // INS/OUTS: address size 9:7 and segment 17:15 (SDM §28.2.5); guest-linear address of the first element.
    const info = (l: string) => at(g, l).instrInfo & ((7 << 7) | (7 << 15));
    expect(info('outs_rep')).toBe((2 << 7) | (3 << 15));
    expect(info('ins_rep')).toBe((2 << 7) | (0 << 15));
    expect(info('outs_fs')).toBe((2 << 7) | (4 << 15));
    expect(info('outs_a32')).toBe((1 << 7) | (3 << 15));
    expect(at(g, 'outs_rep').linear).toBe(BigInt(g.asm.sym.msg));
    expect(at(g, 'ins_rep').linear).toBe(BigInt(g.asm.sym.buf));
    expect(at(g, 'outs_fs').linear).toBe(BigInt(g.asm.sym.msg2));
    // Handler effects: the scratch register round-trips, an unassigned port reads all ones, strings move.
    expect(BigInt(r.registers.r8) & 0xffn).toBe(0x5an);
    expect(BigInt(r.registers.r9)).toBe(0xffffffffn);
    expect(Array.from(g.peek(g.asm.sym.buf, 4))).toEqual([0x5a, 0x5a, 0x5a, 0]);
    expect(r.output.startsWith('A')).toBe(true);
    expect(r.output.endsWith('hello!h')).toBe(true);
  });

  it('I/O bitmap: a port whose bit is clear does not exit; an access that touches any set bit does', () => {
    const g = guest('io-bitmap', 'long', `
main:
quiet:
  out 0x80, al            ; bit clear: no exit
  mov dx, 0x9000
quiet_b:
  out dx, al              ; bitmap B, bit clear: no exit
  mov dx, 0x7f
straddle:
  out dx, ax              ; ports 0x7f (set) and 0x80 (clear): exits
  mov dx, 0x80
wide:
  out dx, ax              ; ports 0x80 (clear) and 0x81 (set): exits
  EXIT 0x07
`);
    const clearBit = (port: number) => {
      const base = port < 0x8000 ? HOST_LAYOUT.ioBitmapA : HOST_LAYOUT.ioBitmapB;
      const b = port & 0x7fff;
      g.hv.host.write8(base + (b >>> 3), g.hv.host.read8(base + (b >>> 3)) & ~(1 << (b & 7)));
    };
    clearBit(0x80); clearBit(0x9000);
    const r = g.run();
    expect(r.status).toBe('debug-exit');
    expect(g.of(R.IO_INSTRUCTION).map((e) => e.rip)).toEqual([g.asm.sym.straddle, g.asm.sym.wide, g.of(R.IO_INSTRUCTION)[2].rip]);
    expect(Number(at(g, 'straddle').qualification)).toBe((1 | (0x7f << 16)) >>> 0);
  });

  it('a tight loop of 100 000 OUTs gives exactly 100 000 exits and ends', () => {
    const g = guest('io-loop', 'long', `
main:
  mov ecx, 100000
again:
  out 0x80, al
  dec ecx
  jnz again
  EXIT 0x08
`);
    const t0 = Date.now();
    const r = g.run();
    expect(r.status).toBe('debug-exit');
    expect(r.vmExits.byReason.IO_INSTRUCTION).toBe(100_001);
    expect(r.vmExits.total).toBe(100_001);
    expect(Date.now() - t0).toBeLessThan(20_000);
  });
});

describe('MSR_READ (31) / MSR_WRITE (32)', () => {
  it('bitmap pass-through vs exit, MSRs outside the bitmap ranges always exit, unknown MSRs get #GP injected', () => {
    const g = guest('msr', 'long', `
${idt64({ 13: 'gp_handler' })}
main:
  xor r13d, r13d
  mov ecx, 0xc0000102     ; IA32_KERNEL_GS_BASE: passes through
  mov eax, 0x1234
  xor edx, edx
pass_w:
  wrmsr
  xor eax, eax
pass_r:
  rdmsr
  mov r8, rax
  mov ecx, 0x1a0          ; IA32_MISC_ENABLE: the hypervisor's
exit_r:
  rdmsr
  mov r9, rax
exit_w:
  wrmsr
  mov ecx, 0x40000000     ; outside both bitmap ranges
  lea r14, [rel after_out]
outside_r:
  rdmsr
after_out:
  lea r14, [rel after_out_w]
outside_w:
  wrmsr
after_out_w:
  mov ecx, 0xc0000102
  lea r14, [rel done]
read_exits:
  rdmsr                   ; read exiting switched on for this MSR, write not
  mov r10, rax
done:
  EXIT 0x09
gp_handler:
  pop r12                 ; error code
  inc r13
  mov [rsp], r14
  iretq
`);
    g.hv.setMsrExit(0xc0000102, true, false);
    let readExits = 0;
    g.on(R.MSR_READ, (vcpu, orig) => {
      if (Number(vcpu.reg('rcx') & 0xffffffffn) === 0xc0000102) { readExits++; vcpu.setReg('rax', 0x9999); vcpu.setReg('rdx', 0); vcpu.advanceRip(); return 'emulated'; }
      return orig!(vcpu);
    });
    // The bitmap bit is set after the pass-through accesses ran: flip it on at the first exit it should apply to.
    g.hv.setMsrExit(0xc0000102, false, false);
    g.on(R.MSR_WRITE, (vcpu, orig) => { if (Number(vcpu.reg('rcx') & 0xffffffffn) === 0x40000000) g.hv.setMsrExit(0xc0000102, true, false); return orig!(vcpu); });
    const r = g.run();
    expect(r.status).toBe('debug-exit');
    expect(g.exits.filter((e) => e.reason === R.MSR_READ || e.reason === R.MSR_WRITE).map((e) => [e.reason, e.rip])).toEqual([
      [R.MSR_READ, g.asm.sym.exit_r], [R.MSR_WRITE, g.asm.sym.exit_w], [R.MSR_READ, g.asm.sym.outside_r], [R.MSR_WRITE, g.asm.sym.outside_w],
      [R.MSR_READ, g.asm.sym.read_exits],
    ]);
    for (const l of ['exit_r', 'exit_w', 'outside_r', 'outside_w', 'read_exits']) at(g, l);
    expect(BigInt(r.registers.r8)).toBe(0x1234n);
    expect(BigInt(r.registers.r9)).toBe(1n); // MISC_ENABLE as the hypervisor keeps it (fast strings)
    expect(BigInt(r.registers.r10)).toBe(0x9999n);
    expect(readExits).toBe(1);
    // 0x40000000 is unknown: #GP(0) injected for both directions and handled by the guest.
    expect(BigInt(r.registers.r13)).toBe(2n);
    expect(BigInt(r.registers.r12)).toBe(0n);
    expect(g.hv.log.recent().filter((e) => e.note?.includes('0x40000000: #GP')).length).toBe(2);
  });
});

void intrInfo; void TYPE_HW;
