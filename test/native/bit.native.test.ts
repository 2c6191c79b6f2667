// Native group 4: BT BTS BTR BTC (register/immediate offsets, memory bit strings), BSF BSR POPCNT LZCNT TZCNT, BSWAP, MOVBE, SETcc, CMOVcc vs the host CPU.
import { describe, expect, it } from 'vitest';
import { CF, ZF } from './flags.js';
import { genBit } from './gen.js';
import { hostFeatures, nativeAvailable } from './harness.js';
import { hostRun, loadRunner, nativeGroup } from './suite.js';

const runner = await loadRunner();
const features = nativeAvailable ? hostFeatures() : null;
const ready = features !== null && features.popcnt && features.lzcnt && features.bmi1;

const BIT_COVERAGE = [
  ...['bt', 'bts', 'btr', 'btc'].flatMap((m) => [new RegExp(`^${m} \\w+,\\w+$`), new RegExp(`^${m} \\w+ \\[.*\\],\\w+$`), new RegExp(`^${m} [^,]+,0x`)]),
  ...['bsf', 'bsr', 'popcnt', 'lzcnt', 'tzcnt', 'bswap', 'sete', 'setl', 'seta', 'cmovo', 'cmovle', 'cmovp'].map((m) => new RegExp(`^${m} `)),
  ...(features?.movbe ? [/^movbe \w+,/, /^movbe \w+ \[/] : []),
];

// LZCNT/TZCNT decode as BSR/BSF on CPUs without them, so the group needs ABM and BMI1; MOVBE is optional.
if (ready) nativeGroup({ name: 'bit', seed: 0xb175, coverage: BIT_COVERAGE, gen: (rng) => genBit(rng, { movbe: features.movbe }) }, runner);

describe.skipIf(!nativeAvailable)('native harness, bit spot checks (expected values worked out from the SDM)', () => {
  it('BT EAX,ECX takes the offset modulo 32: bit 34 of a register is bit 2', () => {
    const r = hostRun('0fa3c8', { rax: 0b100n, rcx: 34n });
    expect(Number(r.rflags) & CF).toBe(CF);
  });

  it('BT [RSI],EAX with EAX=-1 tests bit 7 of the byte below RSI (SDM vol. 2A figure 3-2)', () => {
    const scratch = new Uint8Array(128);
    scratch[63] = 0x80;
    const r = hostRun('0fa306', { rsi: 0x20000n + 64n, rax: 0xffff_ffffn }, 0x2n, scratch);
    expect(r.fault).toBeNull();
    expect(Number(r.rflags) & CF).toBe(CF);
  });

  it('BSF with a zero source sets ZF', () => {
    const r = hostRun('0fbcc1', { rcx: 0n });
    expect(Number(r.rflags) & ZF).toBe(ZF);
  });

  it('POPCNT EAX,ECX counts 16 bits of 0x00FF00FF', () => {
    const r = hostRun('f30fb8c1', { rcx: 0x00ff_00ffn });
    expect(r.reg('rax')).toBe(16n);
  });

  it('a false 32-bit CMOVE still zero-extends its destination (SDM vol. 2A CMOVcc, Operation)', () => {
    const r = hostRun('0f44c1', { rax: 0xffff_ffff_1234_5678n, rcx: 1n }, 0x2n);
    expect(r.reg('rax')).toBe(0x1234_5678n);
  });
});
