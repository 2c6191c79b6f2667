// The snippet runner: a few instructions run on a fresh long-mode processor, faults reported by vector.
import { describe, expect, it } from 'vitest';
import { SnippetRunner } from '../../emulator/testing/snippet.js';

const regs = (over: Record<number, bigint> = {}) => Array.from({ length: 16 }, (_, r) => over[r] ?? 0n);

describe('SnippetRunner', () => {
  const runner = new SnippetRunner();

  it('adds two 64-bit registers with carry out and sets CF/ZF', () => {
    // add rax, rcx
    const r = runner.run(Uint8Array.of(0x48, 0x01, 0xc8), { gpr: regs({ 0: 0xffffffffffffffffn, 1: 1n }), rflags: 0n });
    expect(r.fault).toBeNull();
    expect(r.gpr[0]).toBe(0n);
    expect(r.rflags & 0x1n).toBe(1n); // CF
    expect(r.rflags & 0x40n).toBe(0x40n); // ZF
  });

  it('reports #DE for a division by zero with registers as at the fault', () => {
    // div rcx
    const r = runner.run(Uint8Array.of(0x48, 0xf7, 0xf1), { gpr: regs({ 0: 10n, 1: 0n }), rflags: 0n });
    expect(r.fault).toBe(0);
    expect(r.gpr[0]).toBe(10n);
  });

  it('runs REP STOSB into the scratch area', () => {
    // rep stosb
    const r = runner.run(Uint8Array.of(0xf3, 0xaa), { gpr: regs({ 0: 0xabn, 1: 5n, 7: BigInt(SnippetRunner.SCRATCH_ADDR) }), rflags: 0n });
    expect(Array.from(r.scratch.subarray(0, 6))).toEqual([0xab, 0xab, 0xab, 0xab, 0xab, 0]);
    expect(r.gpr[1]).toBe(0n);
    expect(r.gpr[7]).toBe(BigInt(SnippetRunner.SCRATCH_ADDR + 5));
  });
});
