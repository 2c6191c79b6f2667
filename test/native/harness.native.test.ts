// The native harness itself (register/flag/scratch plumbing, fault vectors) and the comparator that masks SDM-undefined state.
import { describe, expect, it } from 'vitest';
import { diffCase } from './check.js';
import type { SnippetResult } from './check.js';
import { AF, CF, COMPARED, OF, ZF } from './flags.js';
import type { NativeCase } from './gen.js';
import { nativeAvailable } from './harness.js';
import type { HarnessOutput } from './harness.js';
import { hostRun, loadRunner } from './suite.js';

const runner = await loadRunner();

describe.skipIf(!nativeAvailable)('native harness plumbing', () => {
  it('loads and stores all 15 GPRs other than RSP unchanged through an empty snippet', () => {
    const regs: Record<string, bigint> = {};
    const names = ['rax', 'rcx', 'rdx', 'rbx', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
    names.forEach((n, i) => (regs[n] = 0x0123_4567_89ab_cdefn ^ (BigInt(i + 1) * 0x1111_1111_1111_1111n)));
    const r = hostRun('', regs);
    expect(r.fault).toBeNull();
    for (const n of names) expect(r.reg(n)).toBe(regs[n]);
  });

  it('returns the scratch window after the code changed it', () => {
    const r = hostRun('48890e', { rsi: 0x20008n, rcx: 0x1122_3344_5566_7788n }, 0x2n, new Uint8Array(16)); // mov [rsi],rcx
    expect([...r.scratch.subarray(8, 16)]).toEqual([0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
    expect(r.stray).toBe(false);
  });

  it('flags writes past the scratch window as stray', () => {
    const r = hostRun('8806', { rsi: 0x20010n, rax: 1n }, 0x2n, new Uint8Array(8)); // mov [rsi],al
    expect(r.stray).toBe(true);
  });

  it('reports #UD (6) for UD2, #GP (13) for a non-canonical address and #PF (14) for an unmapped one', () => {
    expect(hostRun('0f0b').fault).toBe(6);
    expect(hostRun('8b06', { rsi: 0x8000_0000_0000_0000n }).fault).toBe(13);
    expect(hostRun('8b06', { rsi: 0x1000n }).fault).toBe(14);
  });

  it('reports registers as they were at the fault', () => {
    const r = hostRun('48ffc10f0b', { rcx: 41n }); // inc rcx; ud2
    expect(r.fault).toBe(6);
    expect(r.reg('rcx')).toBe(42n);
  });

  it.skipIf(!runner)('the emulator raises the same vectors for UD2 and a non-canonical access', () => {
    const gpr = new Array<bigint>(16).fill(0n);
    expect(runner!.run(Uint8Array.from([0x0f, 0x0b]), { gpr, rflags: 2n }).fault).toBe(6);
    gpr[6] = 0x8000_0000_0000_0000n;
    expect(runner!.run(Uint8Array.from([0x8b, 0x06]), { gpr, rflags: 2n }).fault).toBe(13);
  });
});

describe('comparator', () => {
  const base: NativeCase = {
    asm: 'and eax,ecx',
    code: Uint8Array.from([0x21, 0xc8]),
    gpr: new Array<bigint>(16).fill(0n),
    rflags: 2n,
    scratch: Uint8Array.from([1, 2, 3]),
    definedFlags: COMPARED & ~AF,
    undefinedRegs: 1 << 3,
  };
  const host: HarnessOutput = { fault: null, stray: false, gpr: new Array<bigint>(16).fill(5n), rflags: BigInt(0x2 | ZF), scratch: Uint8Array.from([1, 2, 3]) };
  const same = (): SnippetResult => ({ fault: null, gpr: [...host.gpr], rflags: host.rflags, scratch: Uint8Array.from([1, 2, 3, 9]) });

  it('accepts equal state, differences in undefined flags, undefined registers, RSP and bytes past the window', () => {
    const got = same();
    got.rflags |= BigInt(AF);
    got.gpr[3] = 77n;
    got.gpr[4] = 99n;
    expect(diffCase(base, host, got)).toEqual([]);
  });

  it('reports a defined flag, a register, a scratch byte and a fault that differ', () => {
    const got = same();
    got.rflags |= BigInt(CF | OF);
    got.gpr[15] = 6n;
    got.scratch[1] = 0;
    got.fault = 13;
    const d = diffCase(base, host, got);
    expect(d).toHaveLength(4);
    expect(d.join('\n')).toMatch(/fault: want none got 13[\s\S]*r15: want 0x5 got 0x6[\s\S]*rflags[\s\S]*diff 0x801[\s\S]*scratch \+1/);
  });

  it('compares every flag when the host faulted (the instruction had no effect)', () => {
    const faulted = { ...host, fault: 0 };
    const got = { ...same(), fault: 0, rflags: host.rflags | BigInt(AF) };
    expect(diffCase(base, faulted, got)).toHaveLength(1);
  });
});
