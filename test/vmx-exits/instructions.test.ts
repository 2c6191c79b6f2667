// VM exits caused by instructions (SDM vol. 3C §26.1.2-26.1.3, §28.2): CPUID, HLT, INVLPG, RDPMC, RDTSC(P), VMCALL, VMX instructions, PAUSE, WBINVD, XSETBV, descriptor tables, MTF, preemption timer.
import { describe, expect, it } from 'vitest';
import { EXIT_REASON as R } from '../../emulator/vmx/exit-reasons.js';
import {
  CPU_BASED_INVLPG_EXITING, CPU_BASED_MONITOR_TRAP_FLAG, CPU_BASED_PAUSE_EXITING, CPU_BASED_RDPMC_EXITING, CPU_BASED_RDTSC_EXITING,
  SECONDARY_EXEC_DESC, SECONDARY_EXEC_ENABLE_RDTSCP, SECONDARY_EXEC_WBINVD_EXITING, VM_EXIT_SAVE_VMX_PREEMPTION_TIMER,
} from '../../emulator/vmx/controls.js';
import { HV_SIGNATURE, HC_ENOSYS, HC_EPERM } from '../../emulator/vmm/handlers.js';
import { Machine, parseLaunchConfig } from '../../emulator/index.js';
import { guest, idt64, intrInfo, TYPE_HW, u64, type Guest } from './harness.js';

/** Every exit of `reason` is at the labelled instruction with iced-x86's length for it. */
function expectAt(g: Guest, reason: number, label: string): void {
  const e = g.of(reason).find((x) => x.rip === g.asm.sym[label]);
  expect(e, `exit ${reason} at ${label}`).toBeDefined();
  expect(e!.length).toBe(g.icedLength(g.asm.sym[label]));
}

describe('CPUID (10)', () => {
  it('hypervisor leaf 0x40000000 carries the signature; leaf 1 sets the hypervisor bit; other leaves match the bare processor', () => {
    const src = `
main:
  mov eax, 0x40000000
hv_leaf:
  cpuid
  mov r8d, eax
  mov r9d, ebx
  mov r10d, ecx
  mov r11d, edx
  mov eax, 1
leaf1:
  cpuid
  mov r12d, ecx
  xor eax, eax
  xor ecx, ecx
leaf0:
  cpuid
  mov r13d, ebx
  mov r14d, edx
  mov r15d, ecx
  EXIT 0x10
`;
    const g = guest('cpuid', 'long', src);
    const r = g.run();
    expect(r.status).toBe('debug-exit');
    expectAt(g, R.CPUID, 'hv_leaf');
    expectAt(g, R.CPUID, 'leaf1');
    expect(g.of(R.CPUID)).toHaveLength(3);
    expect(BigInt(r.registers.r8)).toBe(0x40000001n);
    const sig = Buffer.alloc(12);
    sig.writeUInt32LE(Number(r.registers.r9), 0); sig.writeUInt32LE(Number(r.registers.r10), 4); sig.writeUInt32LE(Number(r.registers.r11), 8);
    expect(sig.toString('latin1').replace(/\0+$/, '')).toBe(HV_SIGNATURE);
    expect(HV_SIGNATURE).toBe('vmscope');
    expect((Number(r.registers.r12) >>> 31) & 1).toBe(1);
    // Reference: the same guest on the bare processor (no hypervisor) reports the same vendor and no hypervisor bit.
    const bare = new Machine(g.asm.bytes, parseLaunchConfig({ program: 'b', format: 'flat', cpuMode: 'long' }), {}, { mode: 'bare' }).runToEnd();
    expect((Number(bare.registers.r12) >>> 31) & 1).toBe(0);
    expect([r.registers.r13, r.registers.r14, r.registers.r15]).toEqual([bare.registers.r13, bare.registers.r14, bare.registers.r15]);
  });
});

describe('HLT (12)', () => {
  it('exits with length 1; with IF = 0 the handler ends the run halted, RIP past HLT', () => {
    const g = guest('hlt', 'long', `
  cli
halt:
  hlt
after:
  EXIT 1
`);
    const r = g.run();
    expect(r.status).toBe('halted');
    expectAt(g, R.HLT, 'halt');
    expect(r.registers.rip).toBe(`0x${g.asm.sym.after.toString(16)}`);
  });
});

describe('INVLPG (14), RDPMC (15), PAUSE (40), WBINVD (54)', () => {
  it('exit only with their controls; INVLPG reports the linear address (all 64 bits) as qualification', () => {
    const src = `
main:
  mov rax, 0x123456789000
inv1:
  invlpg [rax+0x10]
  mov ebx, 0xfee00000
inv2:
  invlpg [rbx]
rdpmc_insn:
  rdpmc
  mov r8, rax
  mov r9, rdx
pause_insn:
  pause
wbinvd_insn:
  wbinvd
  EXIT 0x20
`;
    // Without the controls: none of them exits (RDPMC with no counters raises #GP in the guest; avoid it here).
    const quiet = guest('misc-off', 'long', src.replace('rdpmc_insn:\n  rdpmc', 'rdpmc_insn:\n  nop'));
    expect(quiet.run().status).toBe('debug-exit');
    expect(quiet.exits.filter((e) => e.reason !== R.IO_INSTRUCTION)).toHaveLength(0);

    const g = guest('misc-on', 'long', src);
    g.setBits('CPU_BASED_VM_EXEC_CONTROL', CPU_BASED_INVLPG_EXITING | CPU_BASED_RDPMC_EXITING | CPU_BASED_PAUSE_EXITING);
    g.setBits('SECONDARY_VM_EXEC_CONTROL', SECONDARY_EXEC_WBINVD_EXITING);
    for (const reason of [R.INVLPG, R.PAUSE_INSTRUCTION, R.WBINVD]) g.on(reason, (vcpu) => { vcpu.advanceRip(); return 'emulated'; });
    g.on(R.RDPMC, (vcpu) => { vcpu.setReg('rax', 0x1234); vcpu.setReg('rdx', 0x5678); vcpu.advanceRip(); return 'emulated'; });
    const r = g.run();
    expect(r.status).toBe('debug-exit');
    expect(g.exits.filter((e) => e.reason !== R.IO_INSTRUCTION).map((e) => e.reason)).toEqual([R.INVLPG, R.INVLPG, R.RDPMC, R.PAUSE_INSTRUCTION, R.WBINVD]);
    expectAt(g, R.INVLPG, 'inv1'); expectAt(g, R.INVLPG, 'inv2');
    expectAt(g, R.RDPMC, 'rdpmc_insn'); expectAt(g, R.PAUSE_INSTRUCTION, 'pause_insn'); expectAt(g, R.WBINVD, 'wbinvd_insn');
    expect(g.of(R.INVLPG).map((e) => e.qualification)).toEqual([0x123456789010n, 0xfee00000n]);
    expect([r.registers.r8, r.registers.r9]).toEqual(['0x1234', '0x5678']);
  });
});

describe('RDTSC (16), RDTSCP (51) and TSC offsetting', () => {
  const tscGuest = `
main:
  rdtsc
  shl rdx, 32
  or rax, rdx
  mov r8, rax
  nop
  nop
  nop
  rdtsc
  shl rdx, 32
  or rax, rdx
  mov r9, rax
  EXIT 0x30
`;
  it('TSC offsetting adds TSC_OFFSET without an exit: two guests differ by exactly the offset', () => {
    const a = guest('tsc-0', 'long', tscGuest);
    a.hv.vmwrite('TSC_OFFSET', 0);
    const b = guest('tsc-off', 'long', tscGuest);
    b.hv.vmwrite('TSC_OFFSET', 0x0000123400000000n);
    const ra = a.run(), rb = b.run();
    expect(a.of(R.RDTSC)).toHaveLength(0);
    expect(BigInt(rb.registers.r8) - BigInt(ra.registers.r8)).toBe(0x0000123400000000n);
    expect(BigInt(rb.registers.r9) - BigInt(ra.registers.r9)).toBe(0x0000123400000000n);
    // Time is the instruction count: 7 instructions retire between the two reads (SHL, OR, MOV, 3 NOP, RDTSC itself).
    expect(BigInt(ra.registers.r9) - BigInt(ra.registers.r8)).toBe(7n);
  });

  it('RDTSC exiting: reason 16 with length 2; RDTSCP exits as reason 51 with length 3', () => {
    const g = guest('rdtsc-exit', 'long', `
main:
rdtsc_insn:
  rdtsc
  mov r8d, eax
rdtscp_insn:
  rdtscp
  mov r9d, ecx
  EXIT 0x31
`);
    g.setBits('CPU_BASED_VM_EXEC_CONTROL', CPU_BASED_RDTSC_EXITING);
    g.on(R.RDTSC, (vcpu) => { vcpu.setReg('rax', 0xaaaa); vcpu.setReg('rdx', 0); vcpu.advanceRip(); return 'emulated'; });
    g.on(R.RDTSCP, (vcpu) => { vcpu.setReg('rax', 1); vcpu.setReg('rdx', 0); vcpu.setReg('rcx', 0xc0c0); vcpu.advanceRip(); return 'emulated'; });
    const r = g.run();
    expect(r.status).toBe('debug-exit');
    expectAt(g, R.RDTSC, 'rdtsc_insn');
    expectAt(g, R.RDTSCP, 'rdtscp_insn');
    expect(g.of(R.RDTSCP)[0].length).toBe(3);
    expect([r.registers.r8, r.registers.r9]).toEqual(['0xaaaa', '0xc0c0']);
  });

  it('RDTSCP is #UD in the guest when "enable RDTSCP" is 0 (exits as #UD only if the bitmap asks)', () => {
    const g = guest('rdtscp-ud', 'long', `
${idt64({ 6: 'ud_handler' })}
main:
rdtscp_insn:
  rdtscp
  EXIT 0x32
ud_handler:
  mov r11, [rsp]
  PUTC 'U'
  add qword [rsp], 3
  iretq
`);
    g.clearBits('SECONDARY_VM_EXEC_CONTROL', SECONDARY_EXEC_ENABLE_RDTSCP);
    g.setBits('CPU_BASED_VM_EXEC_CONTROL', CPU_BASED_RDTSC_EXITING);
    g.hv.vmwrite('EXCEPTION_BITMAP', 1 << 6);
    const r = g.run();
    expect(r.output).toBe('U');
    expect(g.of(R.RDTSCP)).toHaveLength(0);
    const [e] = g.of(R.EXCEPTION_NMI);
    expect(e.intrInfo).toBe(intrInfo(6, TYPE_HW));
    expect(e.rip).toBe(g.asm.sym.rdtscp_insn);
    expect(BigInt(r.registers.r11)).toBe(BigInt(g.asm.sym.rdtscp_insn));
  });
});

describe('VMCALL (18)', () => {
  it('WRITE, TIME and EXIT hypercalls, and an unknown one returning -1000', () => {
    const g = guest('vmcall', 'long', `
main:
  mov eax, 1
  lea rbx, [rel msg]
  mov ecx, msg_len
write_call:
  vmcall
  mov r8, rax
  mov eax, 99
unknown_call:
  vmcall
  mov r9, rax
  mov eax, 3
time_call:
  vmcall
  mov r10, rax
  mov eax, 2
  mov ebx, 42
exit_call:
  vmcall
  EXIT 0x7f
msg: db "hello, hypervisor", 10
msg_len equ $ - msg
`);
    const r = g.run();
    expect(r.output).toBe('hello, hypervisor\n');
    expect(r.status).toBe('debug-exit');
    expect(r.exitCode).toBe(42);
    for (const l of ['write_call', 'unknown_call', 'time_call', 'exit_call']) expectAt(g, R.VMCALL, l);
    expect(BigInt(r.registers.r8)).toBe(18n);
    expect(BigInt(r.registers.r9)).toBe(u64(HC_ENOSYS));
    expect(HC_ENOSYS).toBe(-1000n);
    // TIME = guest instructions retired before it (the exiting instruction itself does not retire).
    const t = g.of(R.VMCALL)[2];
    expect(BigInt(r.registers.r10)).toBe(BigInt(t.icount));
  });

  it('from CPL 3 every hypercall returns -1 (EPERM)', () => {
    const g = guest('vmcall-user', 'long', `
main:
  ; user-accessible mappings for the first 2 MiB, and user segments in a new GDT
  or qword [0xA000], 4
  or qword [0xB000], 4
  or qword [0xC000], 4
  mov rax, cr3
  mov cr3, rax
  lgdt [rel gdtr]
  push 0x2b               ; SS: user data, RPL 3
  push 0x70000
  push 0x3002             ; RFLAGS: IOPL 3 so user mode may use the debug ports
  push 0x33               ; CS: user 64-bit code, RPL 3
  lea rax, [rel user]
  push rax
  iretq
user:
  mov eax, 2
  mov ebx, 5
user_call:
  vmcall                  ; EXIT hypercall, refused at CPL 3
  mov r8, rax
  EXIT 0x15
align 8
gdt:
  dq 0
  dq 0x00cf9b000000ffff   ; 0x08
  dq 0x00cf93000000ffff   ; 0x10
  dq 0x00af9b000000ffff   ; 0x18 kernel 64-bit code
  dq 0
  dq 0x00cff3000000ffff   ; 0x28 user data, DPL 3
  dq 0x00affb000000ffff   ; 0x30 user 64-bit code, DPL 3
gdt_end:
gdtr:
  dw gdt_end - gdt - 1
  dq gdt
`);
    const r = g.run();
    expect(r.status).toBe('debug-exit');
    expect(r.exitCode).toBe((0x15 << 1) | 1);
    expectAt(g, R.VMCALL, 'user_call');
    expect(BigInt(r.registers.r8)).toBe(u64(HC_EPERM));
  });
});

describe('VMX instructions in the guest (19-27, 50, 53)', () => {
  it('each exits with its reason and the hypervisor injects #UD, which the guest IDT handles', () => {
    const insns: Array<[string, number]> = [
      ['vmclear [rbx]', R.VMCLEAR], ['vmlaunch', R.VMLAUNCH], ['vmptrld [rbx]', R.VMPTRLD], ['vmptrst [rbx]', R.VMPTRST],
      ['vmread rax, rbx', R.VMREAD], ['vmresume', R.VMRESUME], ['vmwrite rax, rbx', R.VMWRITE], ['vmxoff', R.VMOFF],
      ['vmxon [rbx]', R.VMON], ['invept rax, [rbx]', R.INVEPT], ['invvpid rax, [rbx]', R.INVVPID],
    ];
    const body = insns.map(([text], k) => `  lea r14, [rel n${k}]\nv${k}:\n  ${text}\nn${k}:`).join('\n');
    const g = guest('vmx-insns', 'long', `
${idt64({ 6: 'ud_handler' })}
main:
  lea rbx, [rel scratch]
  xor r13d, r13d
${body}
  EXIT 0x40
ud_handler:
  inc r13
  mov [rsp], r14
  iretq
align 8
scratch: dq 0, 0
`);
    const r = g.run();
    expect(r.status).toBe('debug-exit');
    expect(BigInt(r.registers.r13)).toBe(BigInt(insns.length));
    const seen = g.exits.filter((e) => e.reason !== R.IO_INSTRUCTION);
    expect(seen.map((e) => e.reason)).toEqual(insns.map(([, reason]) => reason));
    insns.forEach((_, k) => expectAt(g, insns[k][1], `v${k}`));
    expect(g.hv.log.recent().filter((e) => e.reason === R.VMCLEAR).every((e) => e.outcome === 'injected')).toBe(true);
  });
});

describe('XSETBV (55)', () => {
  it('exits with length 3; the handler loads XCR0 (XGETBV reads it back) and injects #GP for an invalid value', () => {
    const g = guest('xsetbv', 'long', `
${idt64({ 13: 'gp_handler' })}
main:
  mov rax, cr4
  or eax, 1 << 18         ; CR4.OSXSAVE
  mov cr4, rax
  xor ecx, ecx
  xor edx, edx
  mov eax, 3
ok_insn:
  xsetbv
  xgetbv
  mov r8, rax
  mov eax, 2              ; x87 off: invalid
bad_insn:
  xsetbv
  EXIT 0x50
gp_handler:
  pop r10
  mov r11, [rsp]
  PUTC 'G'
  EXIT 0x51
`);
    const r = g.run();
    expect(r.output).toBe('G');
    expect(r.exitCode).toBe((0x51 << 1) | 1);
    expectAt(g, R.XSETBV, 'ok_insn');
    expectAt(g, R.XSETBV, 'bad_insn');
    expect(BigInt(r.registers.r8)).toBe(3n);
    expect(BigInt(r.registers.r11)).toBe(BigInt(g.asm.sym.bad_insn));
    expect(BigInt(r.registers.r10)).toBe(0n);
  });
});

describe('GDTR_IDTR (46) and LDTR_TR (47) with descriptor-table exiting', () => {
  it('report the instruction identity, operand registers, scaling, address size and segment (SDM tables 28-10, 28-11)', () => {
    const g = guest('desc-tables', 'long', `
main:
  lea rbx, [rel area]
  mov esi, 2
sgdt_insn:
  sgdt [rbx+rsi*4+0x10]
sidt_insn:
  sidt [fs:rbx]
lgdt_insn:
  lgdt [rbx]
lidt_insn:
  lidt [rsi*8+0x2000]
sldt_insn:
  sldt ax
str_insn:
  str [rbx]
lldt_insn:
  lldt cx
ltr_insn:
  ltr r9w
  EXIT 0x60
align 16
area: times 64 db 0
`);
    g.setBits('SECONDARY_VM_EXEC_CONTROL', SECONDARY_EXEC_DESC);
    for (const reason of [R.GDTR_IDTR, R.LDTR_TR]) g.on(reason, (vcpu) => { vcpu.advanceRip(); return 'emulated'; });
    const r = g.run();
    expect(r.status).toBe('debug-exit');
    const at = (l: string) => g.exits.find((e) => e.rip === g.asm.sym[l])!;
    for (const l of ['sgdt', 'sidt', 'lgdt', 'lidt']) { expect(at(`${l}_insn`).reason).toBe(R.GDTR_IDTR); expectAt(g, R.GDTR_IDTR, `${l}_insn`); }
    for (const l of ['sldt', 'str', 'lldt', 'ltr']) { expect(at(`${l}_insn`).reason).toBe(R.LDTR_TR); expectAt(g, R.LDTR_TR, `${l}_insn`); }
    // Fields: scaling 1:0, address size 9:7 (2 = 64-bit), reg/mem 10, segment 17:15, index 21:18 (+invalid 22),
    // base 26:23 (+invalid 27), instruction identity 29:28; register operand in 6:3.
    const mem = (scale: number, seg: number, index: number | null, base: number | null, id: number) =>
      (scale | (2 << 7) | (seg << 15) | (index === null ? 1 << 22 : index << 18) | (base === null ? 1 << 27 : base << 23) | (id << 28)) >>> 0;
    const reg = (r1: number, id: number) => ((2 << 7) | (1 << 10) | (r1 << 3) | (id << 28)) >>> 0;
    const info = (l: string) => at(l).instrInfo & 0x3ffffffb; // bit 2 and bits 31:30 are undefined... keep 29:28
    expect(info('sgdt_insn')).toBe(mem(2, 3, 6, 3, 0) & 0x3ffffffb);
    expect(info('sidt_insn')).toBe(mem(0, 4, null, 3, 1) & 0x3ffffffb);
    expect(info('lgdt_insn')).toBe(mem(0, 3, null, 3, 2) & 0x3ffffffb);
    expect(info('lidt_insn')).toBe(mem(3, 3, 6, null, 3) & 0x3ffffffb);
    expect(at('sgdt_insn').qualification).toBe(0x10n); // displacement (SDM §28.2.1)
    expect(at('lidt_insn').qualification).toBe(0x2000n);
    const regInfo = (l: string) => at(l).instrInfo & ((1 << 10) | (0xf << 3) | (3 << 28));
    expect(regInfo('sldt_insn')).toBe(reg(0, 0) & ((1 << 10) | (0xf << 3) | (3 << 28)));
    expect(regInfo('lldt_insn')).toBe(reg(1, 2) & ((1 << 10) | (0xf << 3) | (3 << 28)));
    expect(regInfo('ltr_insn')).toBe(reg(9, 3) & ((1 << 10) | (0xf << 3) | (3 << 28)));
    expect(at('str_insn').instrInfo & 0x3ffffffb).toBe(mem(0, 3, null, 3, 1) & 0x3ffffffb);
  });
});

describe('MONITOR_TRAP_FLAG (37)', () => {
  it('one exit after every instruction; RIP advances by each instruction length (iced-x86), jumps to their target', () => {
    const g = guest('mtf', 'long', `
main:
  mov eax, 1
  add rax, 0x12345678
  lea rbx, [rax+rcx*8+0x100]
  nop
  jmp short target
  nop
target:
  mov r8, 0x1122334455667788
  xor ecx, ecx
  cpuid
  EXIT 0x70
`);
    g.setBits('CPU_BASED_VM_EXEC_CONTROL', CPU_BASED_MONITOR_TRAP_FLAG);
    const r = g.run();
    expect(r.status).toBe('debug-exit');
    const mtf = g.of(R.MONITOR_TRAP_FLAG);
    // Expected RIPs from iced-x86 lengths, following the JMP.
    const want: number[] = [];
    let a = g.asm.sym.main;
    for (let k = 0; k < 7; k++) {
      a += g.icedLength(a);
      if (k === 4) a = g.asm.sym.target;
      want.push(a);
    }
    expect(mtf.slice(0, 7).map((e) => e.rip)).toEqual(want);
    expect(mtf.every((e) => e.length === 0 && e.qualification === 0n)).toBe(true);
    // Instructions that exit for their own reason (CPUID, OUT) add no MTF exit; the MOV AL after CPUID does.
    expect(g.exits.map((e) => e.reason)).toEqual([...Array(7).fill(R.MONITOR_TRAP_FLAG), R.CPUID, R.MONITOR_TRAP_FLAG, R.IO_INSTRUCTION]);
    const cpuidAt = g.of(R.CPUID)[0].rip;
    expect(mtf[7].rip).toBe(cpuidAt + 2 + g.icedLength(cpuidAt + 2));
  });
});

describe('PREEMPTION_TIMER (52)', () => {
  it('armed by the hypervisor for a device deadline: counts down one per instruction and exits at the deadline', () => {
    const g = guest('preempt', 'long', `
main:
  mov ecx, 1000
spin:
  dec ecx
  jnz spin
  EXIT 0x71
`);
    let deadline: number | null = 100;
    let polled = 0;
    g.hv.interrupts = {
      pending: () => false, acknowledge: () => 0,
      nextDeadline: () => deadline,
      poll: (now) => { if (deadline !== null && now >= deadline) { polled = now; deadline = deadline < 300 ? deadline + 100 : null; } },
    };
    const r = g.run();
    expect(r.status).toBe('debug-exit');
    const p = g.of(R.PREEMPTION_TIMER);
    expect(p.map((e) => e.icount)).toEqual([100, 200, 300]);
    expect(polled).toBe(300);
    // The loop ran translated (emulator/cpu/jit) between the deadlines, and its blocks stopped exactly at them.
    expect(g.m.cpu.jitUnit.compiled).toBeGreaterThan(0);
    // The exit comes at an instruction boundary inside the loop: RIP is one of the loop's two instructions.
    expect(p.every((e) => e.rip === g.asm.sym.spin || e.rip === g.asm.sym.spin + g.icedLength(g.asm.sym.spin))).toBe(true);
  });

  it('the saved timer value at another exit is the armed value minus the instructions retired since entry', () => {
    const g = guest('preempt-save', 'long', `
main:
  nop
  nop
  nop
  nop
  cpuid
  EXIT 0x72
`);
    g.hv.interrupts = { pending: () => false, acknowledge: () => 0, nextDeadline: () => 1000, poll: () => { /* none */ } };
    g.setBits('VM_EXIT_CONTROLS', VM_EXIT_SAVE_VMX_PREEMPTION_TIMER);
    let saved = -1;
    g.on(R.CPUID, (vcpu, orig) => { saved = Number(vcpu.vmread('VMX_PREEMPTION_TIMER_VALUE')); return orig!(vcpu); });
    g.run();
    expect(saved).toBe(1000 - 4);
  });
});
