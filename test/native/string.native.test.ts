// Native group 5: MOVS STOS LODS CMPS SCAS (b/w/d/q) with and without REP/REPE/REPNE, DF=0/1, 67h, vs the host CPU.
import { describe, expect, it } from 'vitest';
import { DF, ZF } from './flags.js';
import { genString } from './gen.js';
import { nativeAvailable } from './harness.js';
import { hostRun, loadRunner, nativeGroup } from './suite.js';

const runner = await loadRunner();

const STRING_COVERAGE = [
  ...['movs', 'cmps', 'stos', 'lods', 'scas'].flatMap((m) => ['b', 'w', 'd', 'q'].map((s) => new RegExp(`^(a32 )?(rep\\w* )?${m}${s}$`))),
  /^rep movs/, /^rep stos/, /^rep lods/, /^repe cmps/, /^repne cmps/, /^repe scas/, /^repne scas/, /^a32 /,
];

nativeGroup({ name: 'string', seed: 0x5751, coverage: STRING_COVERAGE, gen: genString }, runner);

describe.skipIf(!nativeAvailable)('native harness, string spot checks (expected values worked out from the SDM)', () => {
  it('REP STOSB with DF=1 fills downward and leaves RDI below the block, RCX=0', () => {
    const r = hostRun('f3aa', { rdi: 0x20000n + 10n, rcx: 3n, rax: 0x55n }, BigInt(0x2 | DF), new Uint8Array(16));
    expect([...r.scratch]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0x55, 0x55, 0x55, 0, 0, 0, 0, 0]);
    expect(r.reg('rdi')).toBe(0x20000n + 7n);
    expect(r.reg('rcx')).toBe(0n);
  });

  it('REPE CMPSB stops after the first unequal pair', () => {
    const s = Uint8Array.from([1, 2, 3, 4, 5, 0, 0, 0, 1, 9, 3, 4, 5]);
    const r = hostRun('f3a6', { rsi: 0x20000n, rdi: 0x20008n, rcx: 5n }, 0x2n, s);
    expect(r.reg('rcx')).toBe(3n);
    expect(r.reg('rsi')).toBe(0x20002n);
    expect(Number(r.rflags) & ZF).toBe(0);
  });

  it('REP MOVSQ with RCX=0 moves nothing and changes no register', () => {
    const r = hostRun('f348a5', { rsi: 0x20000n, rdi: 0x20010n, rcx: 0n }, 0x2n, Uint8Array.from([1, 2, 3]));
    expect([...r.scratch]).toEqual([1, 2, 3]);
    expect(r.reg('rsi')).toBe(0x20000n);
  });
});
