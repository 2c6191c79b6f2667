// Native group 1: ADD ADC SUB SBB AND OR XOR CMP TEST INC DEC NEG NOT (incl. 80/81/83 and AL/eAX forms), XADD, CMPXCHG vs the host CPU.
import { describe, expect, it } from 'vitest';
import { CF, OF, PF, SF, ZF, AF, STATUS } from './flags.js';
import { genAlu } from './gen.js';
import { nativeAvailable } from './harness.js';
import { hostRun, loadRunner, nativeGroup } from './suite.js';

const runner = await loadRunner();

const ALU_COVERAGE = [
  ...['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp', 'test', 'inc', 'dec', 'neg', 'not', 'xadd', 'cmpxchg'].map((m) => new RegExp(`^${m} `)),
  /^\w+ (al|ax|eax|rax),0x[0-9a-f]+$/, // accumulator forms
  /\b(byte|word|dword|qword) \[/, /\[rel 0x/, /\*[1248]/, /\b[abcd]h\b/, /\b(sil|dil|bpl|r\d+b)\b/, /\br\d+w\b/, /^cmpxchg (al|ax|eax|rax),/,
];

nativeGroup({ name: 'ALU', seed: 0xa1a1, coverage: ALU_COVERAGE, gen: genAlu }, runner);

describe.skipIf(!nativeAvailable)('native harness, ALU spot checks (expected values worked out from the SDM)', () => {
  it('ADD AL,0xFF with AL=1 wraps to 0 with CF ZF AF PF set and keeps RAX[63:8]', () => {
    const r = hostRun('04ff', { rax: 0x1234_0001n });
    expect(r.fault).toBeNull();
    expect(r.reg('rax')).toBe(0x1234_0000n);
    expect(Number(r.rflags) & STATUS).toBe(CF | ZF | AF | PF);
  });

  it('a 32-bit ADD zero-extends into the 64-bit register (SDM vol. 1 §3.4.1.1)', () => {
    const r = hostRun('01c8', { rax: 0xffff_ffff_ffff_ffffn, rcx: 1n });
    expect(r.reg('rax')).toBe(0n);
    expect(Number(r.rflags) & (CF | ZF)).toBe(CF | ZF);
  });

  it('SUB 0x80000000 - 1 overflows to 0x7FFFFFFF: OF set, SF clear', () => {
    const r = hostRun('83e801', { rax: 0x8000_0000n });
    expect(r.reg('rax')).toBe(0x7fff_ffffn);
    expect(Number(r.rflags) & (OF | SF | CF)).toBe(OF);
  });

  it('CMPXCHG EDX,ECX stores ECX when EAX equals EDX and sets ZF', () => {
    const r = hostRun('0fb1ca', { rax: 5n, rdx: 5n, rcx: 9n });
    expect(r.reg('rdx')).toBe(9n);
    expect(Number(r.rflags) & ZF).toBe(ZF);
  });

  it('inputs reach the CPU: RFLAGS status bits and DF round-trip through a flag-neutral NOT', () => {
    const r = hostRun('f7d0', { rax: 0n }, BigInt(0x2 | STATUS | 0x400));
    expect(r.reg('rax')).toBe(0xffff_ffffn);
    expect(Number(r.rflags) & (STATUS | 0x400)).toBe(STATUS | 0x400);
  });
});
