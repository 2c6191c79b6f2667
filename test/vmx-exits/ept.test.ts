// EPT exits (SDM vol. 3C §29.3.3, table 28-7): EPT_VIOLATION (48) bits, paging-structure accesses, MMIO emulation, IDT-vectoring info; EPT_MISCONFIG (49).
import { describe, expect, it } from 'vitest';
import { EXIT_REASON as R } from '../../emulator/vmx/exit-reasons.js';
import { EPT_PS, EPT_R, EPT_W, EPT_X } from '../../emulator/ept/ept.js';
import { decodeEptViolation } from '../../emulator/vmx/qualification.js';
import { guest, idt64, intrInfo, setEptEntry, TYPE_HW } from './harness.js';

const WB = 6 << 3;
/** EPT-violation qualification: access 2:0, allowed R/W/X 5:3, linear valid 7, final translation 8. */
const evq = (access: number, allowed: number, linValid: boolean, final: boolean) =>
  BigInt((1 << access) | (allowed << 3) | (linValid ? 0x80 : 0) | (final ? 0x100 : 0));

describe('EPT_VIOLATION (48)', () => {
  it('read, write and fetch violations report the access, the entry permissions, and the addresses', () => {
    const g = guest('ept-rwx', 'long', `
main:
  mov rax, [0x400100]     ; read of a read-only page: allowed
  mov ebx, 0x77
write_insn:
  mov [0x400100], rbx     ; write: violation, entry R
  mov rcx, [0x400100]
read_insn:
  mov rdx, [0x600040]     ; entry not present
  mov byte [0x800000], 0xc3 ; RET at 0x800000 (entry RW, no X)
fetch_insn:
  call far_code
  EXIT 0x01
far_code equ 0x800000
`);
    const hpa = (gpa: number) => 0x200000 + gpa;
    setEptEntry(g.hv, 0x400000, hpa(0x400000) | EPT_R | WB | EPT_PS);
    setEptEntry(g.hv, 0x600000, 0);
    setEptEntry(g.hv, 0x800000, hpa(0x800000) | EPT_R | EPT_W | WB | EPT_PS);
    g.on(R.EPT_VIOLATION, (vcpu) => {
      // Grant everything for the faulting 2 MiB page and retry the access (no RIP change).
      const gpa = Number(vcpu.exit.guestPhysical) & ~0x1fffff;
      setEptEntry(g.hv, gpa, hpa(gpa) | EPT_R | EPT_W | EPT_X | WB | EPT_PS);
      return 'resumed';
    });
    const r = g.run();
    expect(r.status).toBe('debug-exit');
    const v = g.of(R.EPT_VIOLATION);
    expect(v.map((e) => e.rip)).toEqual([g.asm.sym.write_insn, g.asm.sym.read_insn, 0x800000]);
    expect(v.map((e) => e.qualification)).toEqual([evq(1, EPT_R, true, true), evq(0, 0, true, true), evq(2, EPT_R | EPT_W, true, true)]);
    expect(v.map((e) => e.physical)).toEqual([0x400100n, 0x600040n, 0x800000n]);
    expect(v.map((e) => e.linear)).toEqual([0x400100n, 0x600040n, 0x800000n]);
    expect(v.every((e) => e.length === 0)).toBe(true);
    expect(decodeEptViolation(v[0].qualification).summary).toBe('EPT violation: write, entry r--, linear-address translation');
    // The retried write landed in RAM.
    expect(BigInt(r.registers.rcx)).toBe(0x77n);
    expect(g.peek(0x400100, 1)[0]).toBe(0x77);
  });

  it('a guest page-table access to an unmapped GPA clears bit 8 (paging-structure access, not the final translation)', () => {
    const g = guest('ept-pagewalk', 'long', `
main:
  ; PDPT[1] (linear 1 GiB .. 2 GiB) -> a page directory at GPA 0x600000 whose entry 0 maps 2 MiB at 0x200000
  mov qword [0x600000], 0x200083
  mov qword [0xB008], 0x600003
  mov rax, cr3
  mov cr3, rax
  mov qword [0x200010], 0x1234
  mov eax, 0x99           ; hypercall the test intercepts: unmap GPA 0x600000 in EPT
  vmcall
walk_insn:
  mov rbx, [0x40000010]
  EXIT 0x02
`);
    g.on(R.VMCALL, (vcpu, orig) => {
      if (vcpu.reg('rax') === 0x99n) { setEptEntry(g.hv, 0x600000, 0); vcpu.advanceRip(); return 'emulated'; }
      return orig!(vcpu);
    });
    g.on(R.EPT_VIOLATION, () => { setEptEntry(g.hv, 0x600000, (0x200000 + 0x600000) | EPT_R | EPT_W | EPT_X | WB | EPT_PS); return 'resumed'; });
    const r = g.run();
    expect(r.status).toBe('debug-exit');
    const [e] = g.of(R.EPT_VIOLATION);
    expect(e.rip).toBe(g.asm.sym.walk_insn);
    expect(e.physical).toBe(0x600000n); // the PDE the walk reads
    expect(e.linear).toBe(0x40000010n);
    expect(Number(e.qualification) & 0x181).toBe(0x81);
    expect(e.qualification & 0x100n).toBe(0n);
    expect(BigInt(r.registers.rbx)).toBe(0x1234n);
  });

  it('MMIO: MOV/MOVZX/MOVSX to the local APIC and to unassigned space (all ones, writes dropped)', () => {
    const g = guest('ept-mmio', 'long', `
main:
  mov edi, 0xFEE00000               ; (absolute disp32 would sign-extend in 64-bit mode)
  mov ebp, 0xF0000000
  mov eax, [rdi+0x30]               ; APIC version
  mov r8, rax
  mov dword [rdi+0x80], 0xf0        ; TPR
  movzx r9d, byte [rdi+0x80]
  movsx r10, byte [rdi+0x80]
  movsx r11d, word [rdi+0x80]
  mov ebx, 0x20
  mov [rdi+0x80], ebx
  mov r12d, [rdi+0x80]
  mov r13, [rbp]                    ; unassigned: all ones
  mov dword [rbp], 0                ; dropped
  movzx r14d, word [rbp]
  mov esi, [rdi+0x20]               ; APIC ID
  EXIT 0x03
`);
    const r = g.run();
    expect(r.status).toBe('debug-exit');
    const reg = (n: string) => BigInt(r.registers[n]);
    // Version register (SDM vol. 3A §11.4.8): integrated APIC (0x1X), max LVT entry in 23:16 (at least 4 for LINT0/1, timer, error).
    expect(Number(reg('r8')) & 0xf0).toBe(0x10);
    expect((Number(reg('r8')) >>> 16) & 0xff).toBeGreaterThanOrEqual(4);
    expect(reg('r9')).toBe(0xf0n);
    expect(reg('r10')).toBe(0xfffffffffffffff0n);
    expect(reg('r11')).toBe(0xf0n);
    expect(reg('r12')).toBe(0x20n);
    expect(reg('r13')).toBe(0xffffffffffffffffn);
    expect(reg('r14')).toBe(0xffffn);
    expect(reg('rsi')).toBe(0n); // APIC ID 0, as CPUID.1:EBX[31:24]
    const v = g.of(R.EPT_VIOLATION);
    expect(v).toHaveLength(11);
    expect(v[0].qualification).toBe(evq(0, 0, true, true));
    expect(v[1].qualification).toBe(evq(1, 0, true, true));
    expect(v[0].physical).toBe(0xfee00030n);
    for (const e of v) expect(e.length).toBe(0);
  });

  it('IDT-vectoring information: an EPT violation while pushing the #UD frame onto an unmapped stack', () => {
    const g = guest('ept-vectoring', 'long', `
${idt64({ 6: 'ud_handler' })}
main:
  mov rsp, 0x600800
ud_insn:
  ud2
  EXIT 0x04
ud_handler:
  mov r9, rsp
  PUTC 'U'
  add qword [rsp], 2
  iretq
`);
    setEptEntry(g.hv, 0x600000, 0);
    // The handler maps the stack back and resumes; the hypervisor re-injects the event that was being delivered (as
    // KVM's vmx_complete_interrupts).
    g.on(R.EPT_VIOLATION, () => {
      setEptEntry(g.hv, 0x600000, (0x200000 + 0x600000) | EPT_R | EPT_W | EPT_X | WB | EPT_PS);
      return 'resumed';
    });
    const r = g.run();
    expect(r.status).toBe('debug-exit');
    expect(r.output).toBe('U');
    const [e] = g.of(R.EPT_VIOLATION);
    expect(e.idtVectoring).toBe(intrInfo(6, TYPE_HW));
    expect(e.rip).toBe(g.asm.sym.ud_insn);
    expect(e.physical >> 12n).toBe(0x600n); // in the stack page below 0x600800
    expect(Number(e.qualification) & 2).toBe(2); // a write
    expect(BigInt(r.registers.r9)).toBe(0x600800n - 40n);
  });
});

describe('EPT_MISCONFIG (49)', () => {
  it('a write-only EPT entry is a misconfiguration: the run ends with a clear message naming the GPA', () => {
    const g = guest('ept-misconfig', 'long', `
main:
bad:
  mov rax, [0x400008]
  EXIT 0x05
`);
    setEptEntry(g.hv, 0x400000, (0x200000 + 0x400000) | EPT_W | WB | EPT_PS);
    const r = g.run();
    expect(r.status).toBe('error');
    const [e] = g.of(R.EPT_MISCONFIG);
    expect(e.physical).toBe(0x400008n);
    expect(e.rip).toBe(g.asm.sym.bad);
    expect(e.qualification).toBe(0n);
    expect(r.message).toContain('EPT misconfiguration at guest-physical 0x400008');
  });
});
