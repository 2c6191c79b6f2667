// Exit-qualification and instruction-information decoders on values built from the SDM's tables (vol. 3C §28.2.1, §28.2.5).
import { describe, expect, it } from 'vitest';
import {
  decodeApicAccess, decodeCrAccess, decodeDebugExceptions, decodeEptViolation, decodeExitQualification,
  decodeGdtrIdtrInfo, decodeInsOutsInfo, decodeInvInfo, decodeInvlpg, decodeIoInstruction, decodeLdtrTrInfo,
  decodeMovDr, decodeTaskSwitch, decodeVmreadVmwriteInfo,
} from '../../emulator/vmx/qualification.js';

const field = (d: { fields: { name: string; value: unknown }[] }, name: string): unknown => d.fields.find((f) => f.name === name)?.value;

describe('exit qualifications', () => {
  it('CR access: MOV to CR3 from RAX, MOV from CR8 to R9, CLTS, LMSW (table 28-3)', () => {
    expect(decodeCrAccess(0x003).summary).toBe('mov cr3 <- rax'); // CR 3, type 0, GPR 0
    const d = decodeCrAccess((9 << 8) | (1 << 4) | 8);
    expect(d.summary).toBe('mov r9 <- cr8');
    expect(field(d, 'accessType')).toBe('MOV from CR');
    expect(decodeCrAccess(2 << 4).summary).toBe('clts');
    const l = decodeCrAccess((0x000f << 16) | (1 << 6) | (3 << 4));
    expect(field(l, 'lmswSourceData')).toBe(0xf);
    expect(field(l, 'lmswOperandType')).toBe('memory');
  });

  it('I/O instruction: out 0xe9 byte, rep insw from dx=0x1f0 (table 28-5)', () => {
    expect(decodeIoInstruction((0xe9 << 16) | (1 << 6)).summary).toBe('out 0xe9, 1 byte');
    const d = decodeIoInstruction((0x1f0 << 16) | (1 << 5) | (1 << 4) | (1 << 3) | 1);
    expect(d.summary).toBe('rep ins 0x1f0, 2 bytes');
    expect(field(d, 'operandEncoding')).toBe('DX');
    expect(field(decodeIoInstruction(3 | (0x3f8 << 16)), 'size')).toBe(4);
  });

  it('EPT violation: write to a read/execute page through a linear translation (table 28-7)', () => {
    const d = decodeEptViolation(0b1_1010_1010n); // write, entry r-x, linear valid, translation
    expect(d.summary).toBe('EPT violation: write, entry r-x, linear-address translation');
    expect(field(d, 'entryWritable')).toBe(false);
    const w = decodeEptViolation((1 << 2) | (1 << 7));
    expect(w.summary).toBe('EPT violation: fetch, entry ---, paging-structure access');
    expect(decodeEptViolation(1).summary).toBe('EPT violation: read, entry ---, no linear address');
    expect(field(decodeEptViolation(1 << 12), 'nmiUnblocking')).toBe(true);
  });

  it('debug exceptions, task switch, MOV DR, INVLPG, APIC access (tables 28-1, 28-2, 28-4, 28-6)', () => {
    expect(decodeDebugExceptions((1 << 14) | 1).summary).toBe('#DB B0 BS');
    expect(decodeTaskSwitch((1 << 30) | 0x28).summary).toBe('task switch via IRET to TSS 0x0028');
    expect(decodeTaskSwitch((3 << 30) | 0x30).summary).toBe('task switch via task gate in IDT to TSS 0x0030');
    expect(decodeMovDr((3 << 8) | 7).summary).toBe('mov dr7 <- rbx');
    expect(decodeMovDr((1 << 4) | 6).summary).toBe('mov rax <- dr6');
    expect(decodeInvlpg(0xffff_8000_0000_1000n).summary).toBe('invlpg 0xffff800000001000');
    expect(decodeApicAccess((1 << 12) | 0xb0).summary).toBe('APIC linear access for a data write at offset 0x0b0');
    expect(field(decodeApicAccess(15 << 12), 'offset')).toBeUndefined();
  });

  it('dispatches by exit reason', () => {
    expect(decodeExitQualification(30, 0xe9 << 16)?.summary).toBe('out 0xe9, 1 byte');
    expect(decodeExitQualification(28, 0x4)?.summary).toBe('mov cr4 <- rax');
    expect(decodeExitQualification(12, 0)).toBeUndefined();
  });
});

describe('VM-exit instruction information', () => {
  it('INS/OUTS: 64-bit address size, DS (table 28-8)', () => {
    expect(decodeInsOutsInfo((2 << 7) | (3 << 15)).summary).toBe('64-bit address, segment ds');
  });
  it('INVEPT: type in RCX, descriptor [RAX] with no index (table 28-9)', () => {
    const info = (1 << 28) | (0 << 23) | (1 << 22) | (3 << 15) | (2 << 7);
    expect(decodeInvInfo(info).summary).toBe('type in rcx, descriptor ds:[rax+disp]');
  });
  it('LGDT [rbx+rsi*8] and LTR ax (tables 28-10, 28-11)', () => {
    const lgdt = (2 << 28) | (3 << 23) | (6 << 18) | (3 << 15) | (2 << 7) | 3;
    expect(decodeGdtrIdtrInfo(lgdt).summary).toBe('lgdt ds:[rbx+rsi*8+disp]');
    expect(decodeLdtrTrInfo((3 << 28) | (1 << 10) | (0 << 3)).summary).toBe('ltr rax');
  });
  it('VMREAD register form: field in RDX, destination R8 (table 28-14)', () => {
    const d = decodeVmreadVmwriteInfo((2 << 28) | (1 << 10) | (8 << 3));
    expect(d.summary).toBe('field encoding in rdx, value operand r8');
    expect(field(d, 'operand')).toBe('register');
  });
});
