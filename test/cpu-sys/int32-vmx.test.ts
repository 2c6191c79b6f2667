// 32-bit interrupt delivery under VMX with EPT: an EPT violation while reading the gate or pushing the frame exits with the event in IDT-vectoring information (SDM vol. 3C §28.2.4) and the guest's ESP as it was.
import { describe, expect, it } from 'vitest';
import { EXIT_REASON as R } from '../../emulator/vmx/exit-reasons.js';
import { guest, intrInfo, setEptEntry, TYPE_HW, TYPE_SW_INT } from '../vmx-exits/harness.js';
import { hasNasm } from './harness.js';

/** A protected-mode guest prologue: an IDT of `n` 32-bit interrupt gates at `at` (to `unexpected` unless given), loaded. */
function idt32(at: number, handlers: Record<number, string>, n = 0x40): string {
  return `
start:
  mov edi, ${at}
  xor ecx, ecx
.g:
  mov eax, unexpected
  ${Object.entries(handlers).map(([v, l]) => `cmp ecx, ${v}\n  jne .n${v}\n  mov eax, ${l}\n.n${v}:`).join('\n  ')}
  mov [edi + ecx*8], ax
  mov word [edi + ecx*8 + 2], 0x08
  mov word [edi + ecx*8 + 4], 0x8e00
  shr eax, 16
  mov [edi + ecx*8 + 6], ax
  inc ecx
  cmp ecx, ${n}
  jne .g
  lidt [idtr]
  jmp main
unexpected:
  EXIT 0x7e
idtr:
  dw ${n * 8 - 1}
  dd ${at}
`;
}

describe.skipIf(!hasNasm)('32-bit delivery under EPT', () => {
  for (const jit of [false, true]) {
    it(`INT n whose gate is on a page EPT does not map: the exit names INT n (type 4), ESP unchanged; re-injected, it runs${jit ? ' (translator)' : ''}`, () => {
      const g = guest(`int32-idt-ept-${jit}`, 'protected', `
${idt32(0x600000, { 0x30: 'h30' })}
main:
  cpuid                ; the test unmaps the IDT's page here
  mov esp, 0x90000
int_insn:
  int 0x30
  EXIT 0x04
h30:
  mov ebx, esp
  mov al, 'I'
  out 0xe9, al
  iretd
`);
      g.m.cpu.jit = jit;
      let old = 0;
      g.on(R.CPUID, (vcpu) => { old = setEptEntry(g.hv, 0x600000, 0); vcpu.advanceRip(); return 'resumed'; });
      // The handler maps the IDT back and resumes; the hypervisor re-injects INT 0x30 as KVM's vmx_complete_interrupts
      // does, with the length the exit reports for INT n (SDM vol. 3C §28.2.4).
      g.on(R.EPT_VIOLATION, () => { setEptEntry(g.hv, 0x600000, old); return 'resumed'; });
      const r = g.run();
      expect(r.status).toBe('debug-exit');
      expect(r.output).toBe('I');
      const [e] = g.of(R.EPT_VIOLATION);
      expect(e.idtVectoring).toBe(intrInfo(0x30, TYPE_SW_INT));
      expect(e.rip).toBe(g.asm.sym.int_insn);
      expect(Number(e.regs.rsp)).toBe(0x90000);
      expect(Number(e.physical)).toBe(0x600000 + 0x30 * 8); // the gate
      expect(Number(e.qualification) & 1).toBe(1); // a read
      expect(BigInt(r.registers.rbx)).toBe(BigInt(0x90000 - 12));
    });

    // An exit during delivery of a software interrupt stores INT n's length in the VM-exit instruction-length field
    // (SDM vol. 3C §28.2.4), which a hypervisor re-injects with (as KVM does).
    it(`the EPT exit during INT n's delivery reports INT n's length in VM_EXIT_INSTRUCTION_LEN${jit ? ' (translator)' : ''}`, () => {
      const g = guest(`int32-idt-len-${jit}`, 'protected', `
${idt32(0x600000, { 0x30: 'unexpected' })}
main:
  cpuid
int_insn:
  int 0x30
  EXIT 0x04
`);
      g.m.cpu.jit = jit;
      g.on(R.CPUID, (vcpu) => { setEptEntry(g.hv, 0x600000, 0); vcpu.advanceRip(); return 'resumed'; });
      g.on(R.EPT_VIOLATION, (vcpu) => { vcpu.endRun('error', 'seen'); return 'ended'; });
      g.run();
      expect(g.of(R.EPT_VIOLATION)[0].length).toBe(g.icedLength(g.asm.sym.int_insn));
    });

    it(`a #UD frame that crosses into a page EPT does not map: the exit is at the second push with ESP as it was${jit ? ' (translator)' : ''}`, () => {
      const g = guest(`int32-stack-ept-${jit}`, 'protected', `
${idt32(0x80000, { 6: 'ud_handler' })}
main:
  mov esp, 0x600004    ; EFLAGS goes to 0x600000, CS and EIP below 0x600000 (unmapped)
ud_insn:
  ud2
  EXIT 0x04
ud_handler:
  mov ebx, esp
  mov al, 'U'
  out 0xe9, al
  add dword [esp], 2
  iretd
`);
      g.m.cpu.jit = jit;
      const old = setEptEntry(g.hv, 0x400000, 0);
      // The handler maps the page back and resumes; the hypervisor re-injects the #UD whose delivery the exit interrupted.
      g.on(R.EPT_VIOLATION, () => { setEptEntry(g.hv, 0x400000, old); return 'resumed'; });
      const r = g.run();
      expect(r.status).toBe('debug-exit');
      expect(r.output).toBe('U');
      const [e] = g.of(R.EPT_VIOLATION);
      expect(e.idtVectoring).toBe(intrInfo(6, TYPE_HW));
      expect(e.rip).toBe(g.asm.sym.ud_insn);
      expect(Number(e.regs.rsp)).toBe(0x600004);
      expect(Number(e.physical) >>> 12).toBe(0x5ff);
      expect(Number(e.qualification) & 2).toBe(2); // a write
      expect(BigInt(r.registers.rbx)).toBe(BigInt(0x600004 - 12));
    });
  }
});
