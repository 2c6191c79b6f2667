// Native group 3: MUL, IMUL (1-, 2-, 3-operand), DIV, IDIV incl. #DE, CBW/CWDE/CDQE, CWD/CDQ/CQO vs the host CPU.
import { describe, expect, it } from 'vitest';
import { CF, OF } from './flags.js';
import { genMulDiv, mask } from './gen.js';
import type { NativeCase } from './gen.js';
import { nativeAvailable } from './harness.js';
import type { HarnessOutput } from './harness.js';
import { hostRun, loadRunner, nativeGroup } from './suite.js';

const runner = await loadRunner();

/**
 * DIV/IDIV reference (SDM vol. 2A DIV/IDIV "Operation"): #DE when the divisor is 0 or the quotient
 * (truncated toward zero) does not fit the operand size; else quotient in AL/rAX, remainder in AH/rDX.
 */
function divReference(d: NonNullable<NativeCase['div']>): { fault: boolean; q: bigint; r: bigint } {
  const n = d.size;
  const dividend = d.signed ? BigInt.asIntN(2 * n, d.dividend) : d.dividend;
  const divisor = d.signed ? BigInt.asIntN(n, d.divisor) : d.divisor;
  if (divisor === 0n) return { fault: true, q: 0n, r: 0n };
  const q = dividend / divisor; // BigInt division truncates toward zero, as IDIV does
  const r = dividend % divisor;
  const fits = d.signed ? q >= -(1n << BigInt(n - 1)) && q < 1n << BigInt(n - 1) : q <= mask(n);
  return { fault: !fits, q: BigInt.asUintN(n, q), r: BigInt.asUintN(n, r) };
}

let divisions = 0;
let divideErrors = 0;

function checkDivisions(cases: readonly NativeCase[], host: readonly HarnessOutput[], first: number): string[] {
  const bad: string[] = [];
  for (let k = 0; k < cases.length; k++) {
    const c = cases[k]!;
    const h = host[k]!;
    const i = first + k;
    if (!c.div) {
      if (h.fault !== null && !/^i?div /.test(c.asm)) bad.push(`#${i} ${c.asm}: unexpected fault ${h.fault}`);
      continue;
    }
    divisions++;
    const want = divReference(c.div);
    if (want.fault) {
      divideErrors++;
      if (h.fault !== 0) bad.push(`#${i} ${c.asm}: expected #DE, host gave ${h.fault}`);
      continue;
    }
    const [q, r] = c.div.size === 8
      ? [h.gpr[0]! & 0xffn, (h.gpr[0]! >> 8n) & 0xffn]
      : [h.gpr[0]! & mask(c.div.size), h.gpr[2]! & mask(c.div.size)];
    if (h.fault !== null || q !== want.q || r !== want.r) bad.push(`#${i} ${c.asm}: host q=${q} r=${r} fault=${h.fault}, reference q=${want.q} r=${want.r}`);
  }
  return bad;
}

/** The generator must exercise both outcomes: some #DE, mostly quotients that fit. */
function checkDivideErrorShare(): string[] {
  if (divisions < 1000) return []; // too few for a share (NATIVE_CASES set low)
  const share = divideErrors / divisions;
  return share > 0.05 && share < 0.5 ? [] : [`#DE in ${divideErrors} of ${divisions} divisions: the generator is off balance`];
}

const MULDIV_COVERAGE = [
  ...['mul', 'imul', 'div', 'idiv'].map((m) => new RegExp(`^${m} [^,]+$`)),
  /^imul \w+,[^,]+$/, /^imul \w+,[^,]+,0x/, /^(div|idiv|mul) (byte|word|dword|qword) \[/, /^(div|mul) (rax|rdx|eax|edx|ax|dx|al|dl|ah|dh)$/,
  ...['cbw', 'cwde', 'cdqe', 'cwd', 'cdq', 'cqo'].map((m) => new RegExp(`^${m}$`)),
];

nativeGroup({ name: 'multiply/divide', seed: 0x3d1f, coverage: MULDIV_COVERAGE, gen: genMulDiv, hostChecks: checkDivisions, hostFinal: checkDivideErrorShare, mayFault: true }, runner);

describe.skipIf(!nativeAvailable)('native harness, multiply/divide spot checks (expected values worked out from the SDM)', () => {
  it('DIV RCX with RCX=0 raises #DE (vector 0) and leaves RAX and RDX unchanged', () => {
    const r = hostRun('48f7f1', { rax: 7n, rdx: 1n, rcx: 0n });
    expect(r.fault).toBe(0);
    expect(r.reg('rax')).toBe(7n);
    expect(r.reg('rdx')).toBe(1n);
  });

  it('DIV CL: AX=0x100 / 2 puts quotient 0x80 in AL and remainder 0 in AH', () => {
    const r = hostRun('f6f1', { rax: 0x100n, rcx: 2n });
    expect(r.fault).toBeNull();
    expect(r.reg('rax')).toBe(0x80n);
  });

  it('MUL ECX sets CF and OF exactly when EDX (the high half) is non-zero', () => {
    const big = hostRun('f7e1', { rax: 0x1_0000n, rcx: 0x1_0000n });
    expect(big.reg('rdx')).toBe(1n);
    expect(Number(big.rflags) & (CF | OF)).toBe(CF | OF);
    const small = hostRun('f7e1', { rax: 3n, rcx: 5n });
    expect(small.reg('rax')).toBe(15n);
    expect(Number(small.rflags) & (CF | OF)).toBe(0);
  });

  it('CQO copies the sign of RAX into every bit of RDX', () => {
    const r = hostRun('4899', { rax: 1n << 63n, rdx: 5n });
    expect(r.reg('rdx')).toBe(mask(64));
  });
});
