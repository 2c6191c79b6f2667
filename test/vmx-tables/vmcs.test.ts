// VMREAD/VMWRITE/VMCLEAR semantics over a VMCS region in memory (SDM vol. 3C ch. 31, §25.2, §25.11).
import { describe, expect, it } from 'vitest';
import { isVmxInstrError } from '../../emulator/vmx/errors.js';
import { VMCS_FIELDS, vmcsField } from '../../emulator/vmx/fields.js';
import {
  VMCS_REVISION_ID, vmcsClear, vmcsFieldOffset, vmcsGet, vmcsLaunchState, vmcsReadField, vmcsRevisionId, vmcsSet,
  vmcsSetLaunchState, vmcsWriteField, type VmcsMemory,
} from '../../emulator/vmx/vmcs.js';

function memory(): VmcsMemory & { words: Uint32Array; accesses: number[] } {
  const words = new Uint32Array(0x4000 / 4);
  const accesses: number[] = [];
  return {
    words, accesses,
    read32(hpa) { if (hpa & 3) throw new Error('unaligned'); accesses.push(hpa); return words[hpa >>> 2]; },
    write32(hpa, v) { if (hpa & 3) throw new Error('unaligned'); accesses.push(hpa); words[hpa >>> 2] = v >>> 0; },
  };
}
const R = 0x2000; // region
const read = (m: VmcsMemory, enc: number): bigint => {
  const v = vmcsReadField(m, R, enc);
  if (isVmxInstrError(v)) throw new Error(v.text);
  return v;
};

describe('VMREAD / VMWRITE', () => {
  it('round-trips a value of each width, truncating 16- and 32-bit fields', () => {
    const m = memory();
    const big = 0xfedc_ba98_7654_3210n;
    for (const f of VMCS_FIELDS) {
      if (f.type === 'exit-info') continue;
      expect(vmcsWriteField(m, R, f.encoding, big), f.name).toBeUndefined();
      const want = f.width === '16' ? 0x3210n : f.width === '32' ? 0x7654_3210n : big;
      expect(read(m, f.encoding), f.name).toBe(want);
    }
  });

  it('stores each field in its own 8 bytes at 16 + 8*slot, after the revision id, abort indicator and launch state', () => {
    const m = memory();
    m.words[R >>> 2] = VMCS_REVISION_ID;
    vmcsWriteField(m, R, 0x681e, 0x1122_3344_5566_7788n); // GUEST_RIP
    const off = vmcsFieldOffset(vmcsField('GUEST_RIP'));
    expect(off).toBe(16 + 8 * vmcsField('GUEST_RIP').slot);
    expect(m.words[(R + off) >>> 2]).toBe(0x5566_7788);
    expect(m.words[(R + off + 4) >>> 2]).toBe(0x1122_3344);
    expect(vmcsRevisionId(m, R)).toBe(VMCS_REVISION_ID);
    // Writing every field leaves the first 16 bytes alone.
    for (const f of VMCS_FIELDS) vmcsSet(m, R, f.name, -1n);
    expect([...m.words.subarray(R >>> 2, (R >>> 2) + 4)]).toEqual([VMCS_REVISION_ID, 0, 0, 0]);
  });

  it('high access reads and writes bits 63:32 of 64-bit fields', () => {
    const m = memory();
    vmcsWriteField(m, R, 0x201a, 0x0000_0001_2345_605en); // EPT_POINTER
    expect(read(m, 0x201b)).toBe(1n);
    expect(vmcsWriteField(m, R, 0x201b, 0xffff_ffff_aaaa_bbbbn)).toBeUndefined();
    expect(read(m, 0x201a)).toBe(0xaaaa_bbbb_2345_605en); // low half kept, high from source bits 31:0
    expect(read(m, 0x201b)).toBe(0xaaaa_bbbbn);
  });

  it('unsupported encodings fail with error 12, also high access of non-64-bit fields', () => {
    const m = memory();
    for (const enc of [0x681f, 0x4001, 0x0001, 0x482c, 0x6c1e, 0x2046, 0x8000, 0x1_0000_0000]) {
      const r = vmcsReadField(m, R, enc);
      expect(isVmxInstrError(r) && r.error, enc.toString(16)).toBe(12);
      const w = vmcsWriteField(m, R, enc, 0n);
      expect(w?.error, enc.toString(16)).toBe(12);
    }
    expect(m.accesses).toEqual([]); // rejected without touching memory
  });

  it('VMWRITE to an exit-information field fails with error 13 (IA32_VMX_MISC bit 29 is 0); the processor can still store it', () => {
    const m = memory();
    for (const f of VMCS_FIELDS.filter((x) => x.type === 'exit-info')) {
      expect(vmcsWriteField(m, R, f.encoding, 5n)?.error, f.name).toBe(13);
      if (f.highEncoding) expect(vmcsWriteField(m, R, f.highEncoding, 5n)?.error).toBe(13);
    }
    vmcsSet(m, R, 'VM_EXIT_REASON', 0x8000_0021);
    expect(read(m, 0x4402)).toBe(0x8000_0021n);
    vmcsSet(m, R, 'EXIT_QUALIFICATION', 0x00e9_0000n);
    expect(vmcsGet(m, R, 'EXIT_QUALIFICATION')).toBe(0xe9_0000n);
  });

  it('accepts bigint encodings and negative values (two\'s complement)', () => {
    const m = memory();
    expect(vmcsWriteField(m, R, 0x6820n, -1n)).toBeUndefined();
    expect(read(m, 0x6820)).toBe(0xffff_ffff_ffff_ffffn);
    vmcsWriteField(m, R, 0x0800, -2n);
    expect(read(m, 0x0800)).toBe(0xfffen);
  });
});

describe('launch state and VMCLEAR', () => {
  it('VMCLEAR makes the launch state clear and keeps field data', () => {
    const m = memory();
    vmcsSetLaunchState(m, R, 'launched');
    vmcsSet(m, R, 'GUEST_RSP', 0x7000n);
    expect(vmcsLaunchState(m, R)).toBe('launched');
    vmcsClear(m, R);
    expect(vmcsLaunchState(m, R)).toBe('clear');
    expect(vmcsGet(m, R, 'GUEST_RSP')).toBe(0x7000n);
  });
});
