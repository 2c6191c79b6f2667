// VM exits for events (SDM vol. 3C §26.2, §28.2.2): EXCEPTION_NMI (0), EXTERNAL_INTERRUPT (1), TRIPLE_FAULT (2), INTERRUPT_WINDOW (7).
import { describe, expect, it } from 'vitest';
import { EXIT_REASON as R } from '../../emulator/vmx/exit-reasons.js';
import { CPU_BASED_INTR_WINDOW_EXITING, VM_EXIT_ACK_INTR_ON_EXIT } from '../../emulator/vmx/controls.js';
import type { GuestInterrupts } from '../../emulator/vmm/hypervisor.js';
import { guest, idt64, intrInfo, TYPE_EXT, TYPE_HW, TYPE_SW_EXC, u64 } from './harness.js';

describe('EXCEPTION_NMI (0)', () => {
  it('exits for the exception-bitmap vectors only (#DE, #GP with its error code) and reflects them into the guest IDT', () => {
    const g = guest('exc-bitmap', 'long', `
${idt64({ 0: 'de_handler', 13: 'gp_handler', 6: 'ud_handler' })}
main:
  xor ecx, ecx
  mov eax, 7
div_insn:
  div ecx                 ; #DE: bitmap bit 0 set -> exit, reflected
  mov ax, 0x33
load_ds:
  mov ds, ax              ; #GP(0x30): selector 0x30 is beyond the GDT limit
ud_insn:
  ud2                     ; #UD: bitmap bit 6 clear -> delivered directly, no exit
  EXIT 0x11
de_handler:
  PUTC 'D'
  add qword [rsp], 2      ; skip DIV ECX (2 bytes)
  iretq
gp_handler:
  PUTC 'G'
  pop r12                 ; error code
  add qword [rsp], 2      ; skip MOV DS, AX
  iretq
ud_handler:
  PUTC 'U'
  add qword [rsp], 2
  iretq
`);
    g.hv.vmwrite('EXCEPTION_BITMAP', (1 << 0) | (1 << 13));
    const r = g.run();
    expect(r.output).toBe('DGU');
    expect(r.status).toBe('debug-exit');
    expect(r.exitCode).toBe((0x11 << 1) | 1);
    const ex = g.of(R.EXCEPTION_NMI);
    expect(ex.map((e) => e.intrInfo)).toEqual([intrInfo(0, TYPE_HW), intrInfo(13, TYPE_HW, true)]);
    expect(ex[0].rip).toBe(g.asm.sym.div_insn);
    expect(ex[0].qualification).toBe(0n);
    expect(ex[1].rip).toBe(g.asm.sym.load_ds);
    // #GP error code: the selector index with TI = 0, EXT = 0 (SDM vol. 3A §6.13).
    expect(ex[1].intrError).toBe(0x30);
    expect(BigInt(r.registers.r12)).toBe(0x30n);
    // Hardware exceptions are not vectored through the IDT at the exit: no IDT-vectoring information.
    expect(ex.every((e) => e.idtVectoring === 0)).toBe(true);
  });

  /** A guest that takes a read #PF then a write #PF at the same unmapped 2 MiB page; its #PF handler maps it and counts. */
  const pfGuest = (name: string) => guest(name, 'long', `
${idt64({ 14: 'pf_handler' })}
PDE equ 0xC000 + 100*8    ; PD entry for linear 0x0C800000
main:
  xor r15d, r15d
  mov qword [PDE], 0
  invlpg [0x0C800000]
read_insn:
  mov rax, [0x0C800010]   ; read of a not-present page: error code 0
  mov qword [PDE], 0
  invlpg [0x0C800000]
write_insn:
  mov [0x0C800020], rax   ; write: error code 2
  EXIT 0x22
pf_handler:
  mov rax, cr2
  mov [cr2_log + r15*8], rax
  inc r15
  mov qword [PDE], 0x0C800083
  add rsp, 8              ; error code
  iretq
align 8
cr2_log: dq 0, 0
`);

  it('#PF with bitmap bit 14 = 1 exits when (error code AND mask) == match: write faults only', () => {
    const g = pfGuest('pf-match');
    g.hv.vmwrite('EXCEPTION_BITMAP', 1 << 14);
    g.hv.vmwrite('PAGE_FAULT_ERROR_CODE_MASK', 2);
    g.hv.vmwrite('PAGE_FAULT_ERROR_CODE_MATCH', 2);
    const r = g.run();
    expect(r.status).toBe('debug-exit');
    expect(r.exitCode).toBe((0x22 << 1) | 1);
    const ex = g.of(R.EXCEPTION_NMI);
    expect(ex).toHaveLength(1);
    expect(ex[0].intrInfo).toBe(intrInfo(14, TYPE_HW, true));
    expect(ex[0].intrError).toBe(2);
    // The qualification of a #PF exit is the faulting linear address (SDM §28.2.1); RIP is the faulting instruction.
    expect(ex[0].qualification).toBe(0x0c800020n);
    expect(ex[0].rip).toBe(g.asm.sym.write_insn);
    // Both faults reached the guest's handler (one directly, one reflected) with CR2 set by the hypervisor.
    expect(BigInt(r.registers.r15)).toBe(2n);
    const log = g.peek(g.asm.sym.cr2_log, 16);
    const dv = new DataView(log.buffer, log.byteOffset);
    expect([dv.getUint32(0, true), dv.getUint32(8, true)]).toEqual([0x0c800010, 0x0c800020]);
  });

  it('#PF with bitmap bit 14 = 0 exits when (error code AND mask) != match: read faults only', () => {
    const g = pfGuest('pf-mismatch');
    g.hv.vmwrite('EXCEPTION_BITMAP', 0);
    g.hv.vmwrite('PAGE_FAULT_ERROR_CODE_MASK', 2);
    g.hv.vmwrite('PAGE_FAULT_ERROR_CODE_MATCH', 2);
    const r = g.run();
    expect(r.status).toBe('debug-exit');
    const ex = g.of(R.EXCEPTION_NMI);
    expect(ex).toHaveLength(1);
    expect(ex[0].intrError).toBe(0);
    expect(ex[0].qualification).toBe(0x0c800010n);
    expect(ex[0].rip).toBe(g.asm.sym.read_insn);
    expect(BigInt(r.registers.r15)).toBe(2n);
  });

  it('#PF with mask = match = 0 and bit 14 = 0 never exits', () => {
    const g = pfGuest('pf-never');
    g.hv.vmwrite('EXCEPTION_BITMAP', 0);
    const r = g.run();
    expect(r.status).toBe('debug-exit');
    expect(g.of(R.EXCEPTION_NMI)).toHaveLength(0);
    expect(BigInt(r.registers.r15)).toBe(2n);
  });

  it('#UD selected by the bitmap is reflected by the default handler: the guest IDT handler runs', () => {
    const g = guest('exc-ud', 'long', `
${idt64({ 6: 'ud_handler' })}
main:
  mov rbx, 0x1234
ud_insn:
  ud2
  EXIT 0x33
ud_handler:
  mov rdx, [rsp]          ; return RIP: the faulting UD2
  PUTC 'U'
  add qword [rsp], 2
  iretq
`);
    g.hv.vmwrite('EXCEPTION_BITMAP', 1 << 6);
    const r = g.run();
    expect(r.output).toBe('U');
    expect(r.status).toBe('debug-exit');
    const [e] = g.of(R.EXCEPTION_NMI);
    expect(e.intrInfo).toBe(intrInfo(6, TYPE_HW));
    expect(e.rip).toBe(g.asm.sym.ud_insn);
    expect(BigInt(r.registers.rdx)).toBe(BigInt(g.asm.sym.ud_insn));
    expect(g.hv.log.recent().find((x) => x.reason === 0)?.outcome).toBe('injected');
  });

  // KNOWN BUG (emulator/cpu/exec-int.ts softInt): INT3/INTO deliver through Cpu.deliver without asking the VMX unit,
  // so the exception bitmap never sees them (SDM vol. 3C §26.2: INT3 and INTO exit as software exceptions, type 6,
  // with VM_EXIT_INSTRUCTION_LEN). Remove `.fails` when fixed.
  it('INT3 with bitmap bit 3 exits as a software exception (type 6) with its instruction length', () => {
    const g = guest('exc-int3', 'long', `
${idt64({ 3: 'bp_handler' })}
main:
int3_insn:
  int3
after:
  EXIT 0x44
bp_handler:
  mov rdx, [rsp]          ; return RIP: after INT3 (a trap)
  PUTC 'B'
  iretq
`);
    g.hv.vmwrite('EXCEPTION_BITMAP', 1 << 3);
    const r = g.run();
    const ex = g.of(R.EXCEPTION_NMI);
    expect(ex).toHaveLength(1);
    expect(ex[0].intrInfo).toBe(intrInfo(3, TYPE_SW_EXC));
    expect(ex[0].rip).toBe(g.asm.sym.int3_insn);
    expect(ex[0].length).toBe(g.icedLength(g.asm.sym.int3_insn));
    // Reflected as a software exception, the guest's handler sees the return address after INT3.
    expect(r.output).toBe('B');
    expect(BigInt(r.registers.rdx)).toBe(BigInt(g.asm.sym.after));
  });
});

describe('EXTERNAL_INTERRUPT (1)', () => {
  const body = `
main:
  mov ecx, 5
cpuid_insn:
  cpuid
next:
  nop
  nop
  mov ebx, 0x77
  EXIT 0x55
`;

  it('a host interrupt raised from a handler exits at the next boundary, with the vector acknowledged on exit', () => {
    const g = guest('extint-ack', 'long', body);
    g.on(R.CPUID, (vcpu, orig) => { g.hv.vmx.raiseHostInterrupt(0x31); return orig!(vcpu); });
    const r = g.run();
    expect(r.status).toBe('debug-exit');
    expect(BigInt(r.registers.rbx)).toBe(0x77n);
    const [e] = g.of(R.EXTERNAL_INTERRUPT);
    // Exits regardless of the guest's RFLAGS.IF (0 here); RIP is the next instruction to execute (SDM §28.2.2).
    expect(e.intrInfo).toBe(intrInfo(0x31, TYPE_EXT));
    expect(e.rip).toBe(g.asm.sym.next);
    expect(e.qualification).toBe(0n);
    expect(g.exits.map((x) => x.reason).slice(0, 2)).toEqual([R.CPUID, R.EXTERNAL_INTERRUPT]);
  });

  it('without "acknowledge interrupt on exit" the interruption information is invalid', () => {
    const g = guest('extint-noack', 'long', body);
    g.clearBits('VM_EXIT_CONTROLS', VM_EXIT_ACK_INTR_ON_EXIT);
    g.on(R.CPUID, (vcpu, orig) => { g.hv.vmx.raiseHostInterrupt(0x42); return orig!(vcpu); });
    const r = g.run();
    expect(r.status).toBe('debug-exit');
    const [e] = g.of(R.EXTERNAL_INTERRUPT);
    expect(e.intrInfo & 0x80000000).toBe(0);
  });

  it('a host interrupt raised between slices exits before the next guest instruction', () => {
    const g = guest('extint-slice', 'long', `
main:
  mov ecx, 1
  mov ecx, 2
third:
  mov ecx, 3
  mov ecx, 4
  EXIT 0x55
`);
    expect(g.m.runSlice(2)).toBe('budget');
    g.hv.vmx.raiseHostInterrupt(0x20);
    const r = g.run();
    expect(r.status).toBe('debug-exit');
    const [e] = g.of(R.EXTERNAL_INTERRUPT);
    expect(e.rip).toBe(g.asm.sym.third);
    expect(e.intrInfo).toBe(intrInfo(0x20, TYPE_EXT));
    expect(e.icount).toBe(2);
  });
});

describe('TRIPLE_FAULT (2)', () => {
  it('#UD with an empty IDT escalates to a triple fault, which exits and ends the run', () => {
    const g = guest('triple', 'long', `
  mov rax, 1
fault:
  ud2
  EXIT 0x01
`);
    g.hv.vmwrite('GUEST_IDTR_LIMIT', 0);
    const r = g.run();
    expect(r.status).toBe('triple-fault');
    const [e] = g.of(R.TRIPLE_FAULT);
    expect(e.rawReason).toBe(2);
    expect(e.rip).toBe(g.asm.sym.fault);
    expect(r.message).toContain(`rip=0x${g.asm.sym.fault.toString(16)}`);
  });
});

describe('INTERRUPT_WINDOW (7)', () => {
  it('is requested while IF = 0; the exit comes after the instruction following STI (the STI shadow), then the vector is injected', () => {
    const g = guest('intr-window', 'long', `
${idt64({ 0x40: 'irq_handler' })}
main:
  cli
  cpuid                   ; the handler makes an interrupt pending
  nop
  sti
shadowed:
  mov ebx, 1              ; runs in the STI shadow
window:
  mov ebx, 2
  EXIT 0x66
irq_handler:
  mov r9, [rsp]           ; interrupted RIP
  PUTC 'I'
  iretq
`);
    let pending = false;
    const stub: GuestInterrupts = {
      pending: () => pending,
      acknowledge: () => { pending = false; return 0x40; },
      nextDeadline: () => null,
      poll: () => { /* nothing timed */ },
    };
    g.hv.interrupts = stub;
    let controlAtExit = 0;
    g.on(R.CPUID, (vcpu, orig) => { pending = true; return orig!(vcpu); });
    g.on(R.INTERRUPT_WINDOW, (vcpu, orig) => { controlAtExit = Number(vcpu.vmread('CPU_BASED_VM_EXEC_CONTROL')); return orig!(vcpu); });
    const r = g.run();
    expect(r.status).toBe('debug-exit');
    expect(r.output).toBe('I');
    const w = g.of(R.INTERRUPT_WINDOW);
    expect(w).toHaveLength(1);
    expect(w[0].rip).toBe(g.asm.sym.window);
    expect(w[0].length).toBe(0);
    expect(controlAtExit & CPU_BASED_INTR_WINDOW_EXITING).not.toBe(0);
    // STI, then the shadowed MOV retired before the exit.
    expect(u64(w[0].regs.rbx)).toBe(1n);
    // The injected interrupt arrived at the window: its return RIP is the instruction after the shadow.
    expect(BigInt(r.registers.r9)).toBe(BigInt(g.asm.sym.window));
    expect(g.exits.map((e) => e.reason).indexOf(R.INTERRUPT_WINDOW)).toBe(1);
  });

  it('an injected vector beyond the IDT limit becomes #GP(vector*16+2+EXT) in the guest, not a host exception', () => {
    const g = guest('inject-gp', 'long', `
${idt64({ 13: 'gp_handler' }, 32)}
main:
  cpuid
  sti
  nop
  nop
  EXIT 0x01
gp_handler:
  pop r10                 ; error code
  PUTC 'G'
  EXIT 0x02
`);
    let pending = false;
    g.hv.interrupts = { pending: () => pending, acknowledge: () => { pending = false; return 0x40; }, nextDeadline: () => null, poll: () => { /* none */ } };
    g.on(R.CPUID, (vcpu, orig) => { pending = true; return orig!(vcpu); });
    const r = g.run();
    expect(r.output).toBe('G');
    expect(r.exitCode).toBe((2 << 1) | 1);
    // IDT-referencing error code: index 0x40 << 3, IDT bit 1, EXT bit 0 for an external event (SDM vol. 3A §6.13).
    expect(BigInt(r.registers.r10)).toBe(BigInt((0x40 << 3) | 2 | 1));
  });
});
