// Native group 2: SHL SHR SAR ROL ROR RCL RCR by 1, CL and imm8, SHLD SHRD by imm8 and CL vs the host CPU.
import { describe, expect, it } from 'vitest';
import { CF, OF, ZF } from './flags.js';
import { genShift } from './gen.js';
import { nativeAvailable } from './harness.js';
import { hostRun, loadRunner, nativeGroup } from './suite.js';

const runner = await loadRunner();

const SHIFT_COVERAGE = [
  ...['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sar', 'shld', 'shrd'].map((m) => new RegExp(`^${m} `)),
  /,cl$/, /^\w+ [^,]+,0x1$/, /^\w+ [^,]+,0x0$/, /^(shl|shr) (al|[abcd]l|[abcd]h|\w+b|byte \[.*\]),0x(9|1[0-9a-f])$/, /^shld \w+,\w+,0x(1[1-9a-f])$/, /\[/,
];

nativeGroup({ name: 'shift/rotate', seed: 0x5417, coverage: SHIFT_COVERAGE, gen: genShift }, runner);

describe.skipIf(!nativeAvailable)('native harness, shift spot checks (expected values worked out from the SDM)', () => {
  it('SHL EAX,1 of 0x80000000 gives 0 with CF=1, ZF=1 and OF = MSB(result) XOR CF = 1', () => {
    const r = hostRun('d1e0', { rax: 0x8000_0000n });
    expect(r.reg('rax')).toBe(0n);
    expect(Number(r.rflags) & (CF | ZF | OF)).toBe(CF | ZF | OF);
  });

  it('ROL AL,9 rotates by 9 mod 8 = 1: 0x81 becomes 0x03 with CF=1', () => {
    const r = hostRun('c0c009', { rax: 0x81n });
    expect(r.reg('rax')).toBe(0x03n);
    expect(Number(r.rflags) & CF).toBe(CF);
  });

  it('a masked count of 0 changes neither operand nor flags (SHL EAX,CL with CL=32)', () => {
    const r = hostRun('d3e0', { rax: 0xdead_beefn, rcx: 32n }, BigInt(0x2 | CF | OF));
    expect(r.reg('rax')).toBe(0xdead_beefn);
    expect(Number(r.rflags) & (CF | OF | ZF)).toBe(CF | OF);
  });

  it('SHLD EAX,EDX,4 shifts EDX bits in from the right', () => {
    const r = hostRun('0fa4d004', { rax: 0x1234_5678n, rdx: 0x9abc_def0n });
    expect(r.reg('rax')).toBe(0x2345_6789n);
  });
});
