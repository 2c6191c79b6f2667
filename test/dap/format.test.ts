// Memory references, base64 and user numbers (debug-adapter/format.ts) against Node's Buffer and BigInt.
import { describe, expect, it } from 'vitest';
import { addAddress, base64, fromBase64, memoryReference, parseReference, parseUserNumber, toAddress } from '../../debug-adapter/format.js';
import { AdapterError } from '../../debug-adapter/errors.js';

describe('format', () => {
  it('base64 round-trips and agrees with Buffer for every length 0..64', () => {
    for (let n = 0; n <= 64; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 151 + n * 7) & 0xff);
      const text = base64(bytes);
      expect(text).toBe(Buffer.from(bytes).toString('base64'));
      expect([...fromBase64(text)]).toEqual([...bytes]);
    }
    expect(() => fromBase64('a$b=')).toThrow(AdapterError);
  });

  it('memory references: hex, decimal, phys:, upper-half addresses as exact negative numbers', () => {
    expect(parseReference('0x100000')).toEqual({ address: 0x100000, physical: false });
    expect(parseReference('4096')).toEqual({ address: 4096, physical: false });
    expect(parseReference('phys:0xfee00000')).toEqual({ address: 0xfee00000, physical: true });
    const hi = parseReference('0xffffffff80000000');
    expect(hi.address).toBe(-0x80000000);
    expect(memoryReference(hi.address)).toBe('0xffffffff80000000');
    expect(memoryReference(0x1000, true)).toBe('phys:0x1000');
    expect(toAddress(BigInt.asUintN(64, -1n))).toBe(-1);
    expect(addAddress(-1, 1)).toBe(0);
    for (const bad of ['', 'main', '0x', '0x1_0', '0x10000000000000000', 'phys:']) expect(() => parseReference(bad)).toThrow(AdapterError);
    // Neither canonical-low below 2^53 nor a small negative: not an address this machine reaches.
    expect(() => parseReference('0x8000000000000000')).toThrow(/not an address/);
  });

  it('user numbers for setVariable', () => {
    expect(parseUserNumber('0x58')).toBe(0x58n);
    expect(parseUserNumber('-1')).toBe(-1n);
    expect(parseUserNumber('1_000')).toBe(1000n);
    expect(parseUserNumber('0b101')).toBe(5n);
    expect(() => parseUserNumber('rax')).toThrow(AdapterError);
  });
});
