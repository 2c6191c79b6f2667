// VMX capability MSRs: internal consistency (SDM appendix A) and the values our model promises.
import { describe, expect, it } from 'vitest';
import * as caps from '../../emulator/vmx/caps.js';
import { VMCS_MAX_INDEX } from '../../emulator/vmx/fields.js';

const lo = (v: bigint): number => Number(v & 0xffff_ffffn);
const hi = (v: bigint): number => Number(v >> 32n);
const msr = (n: number): bigint => {
  const v = caps.vmxCapabilityMsr(n);
  if (v === undefined) throw new Error(`no MSR ${n.toString(16)}`);
  return v;
};

describe('VMX capability MSRs', () => {
  it('IA32_VMX_BASIC: revision id, 4 KiB region, WB, INS/OUTS info, TRUE controls', () => {
    const b = msr(0x480);
    expect(lo(b) & 0x7fffffff).toBe(caps.VMCS_REVISION_ID);
    expect(lo(b) >>> 31).toBe(0);
    expect((hi(b) & 0x1fff)).toBe(4096); // bits 44:32
    expect((b >> 48n) & 1n).toBe(0n); // 64-bit physical addresses allowed
    expect(Number((b >> 50n) & 0xfn)).toBe(6); // WB
    expect((b >> 54n) & 1n).toBe(1n);
    expect((b >> 55n) & 1n).toBe(1n);
  });

  it('every control MSR has allowed-0 ⊆ allowed-1, and TRUE_* allowed-0 ⊆ the non-TRUE default1 settings', () => {
    const pairs: Array<[number, number]> = [[0x481, 0x48d], [0x482, 0x48e], [0x483, 0x48f], [0x484, 0x490]];
    for (const [plain, truer] of pairs) {
      const p = msr(plain), t = msr(truer);
      expect((lo(p) & ~hi(p)) >>> 0).toBe(0);
      expect((lo(t) & ~hi(t)) >>> 0).toBe(0);
      expect((lo(t) & ~lo(p)) >>> 0).toBe(0);
      expect(hi(t)).toBe(hi(p));
    }
    const p2 = msr(0x48b);
    expect(lo(p2)).toBe(0);
  });

  it('reports the default1 classes of appendix A (Linux *_ALWAYSON_WITHOUT_TRUE_MSR)', () => {
    expect(lo(msr(0x481))).toBe(0x00000016);
    expect(lo(msr(0x482))).toBe(0x0401e172);
    expect(lo(msr(0x483))).toBe(0x00036dff);
    expect(lo(msr(0x484))).toBe(0x000011ff);
    expect(lo(msr(0x48e))).toBe(0x04006172); // CR3-load/store exiting may be 0 with TRUE controls
  });

  it('allows exactly the controls the brief lists', () => {
    expect(hi(msr(0x481)) & ~0x16).toBe(0b1101001); // ext-int, NMI, virtual NMIs, preemption timer
    const proc = (hi(msr(0x482)) & ~0x0401e172) >>> 0;
    const procBits = [2, 3, 7, 9, 10, 11, 12, 19, 20, 21, 22, 23, 24, 25, 27, 28, 29, 30, 31]; // + 15, 16 (default1)
    expect(proc).toBe(procBits.reduce((a, b) => (a | (1 << b)) >>> 0, 0));
    expect(hi(msr(0x48b))).toBe((1 << 1) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 6) | (1 << 7));
    expect((hi(msr(0x483)) & ~0x36dff) >>> 0).toBe((1 << 9) | (1 << 15) | (1 << 18) | (1 << 19) | (1 << 20) | (1 << 21) | (1 << 22));
    expect((hi(msr(0x484)) & ~0x11ff) >>> 0).toBe((1 << 9) | (1 << 14) | (1 << 15));
  });

  it('IA32_VMX_MISC, CR fixed bits, VMCS_ENUM, EPT/VPID caps, FEATURE_CONTROL', () => {
    const misc = lo(msr(0x485));
    expect(misc & 0x1f).toBe(0); // preemption timer counts every TSC tick
    expect((misc >>> 6) & 7).toBe(1); // HLT only
    expect((misc >>> 16) & 0x1ff).toBe(4);
    expect((misc >>> 29) & 1).toBe(0);
    expect(Number(msr(0x486))).toBe(0x80000021);
    expect((Number(msr(0x486)) & ~Number(msr(0x487))) >>> 0).toBe(0);
    expect(Number(msr(0x488)) & 0x2000).toBe(0x2000);
    expect((Number(msr(0x488)) & ~Number(msr(0x489))) >>> 0).toBe(0);
    expect(Number(msr(0x48a) >> 1n) & 0x1ff).toBe(VMCS_MAX_INDEX);
    const ept = msr(0x48c);
    for (const b of [0n, 6n, 8n, 14n, 16n, 17n, 20n, 21n, 25n, 26n, 32n, 40n, 41n, 42n, 43n]) expect((ept >> b) & 1n, String(b)).toBe(1n);
    expect((ept >> 7n) & 1n).toBe(0n); // no 5-level EPT
    expect(msr(0x3a)).toBe(5n);
    expect(caps.vmxCapabilityMsr(0x491)).toBeUndefined();
    expect(caps.vmxCapabilityMsr(0x492)).toBeUndefined();
    expect(caps.vmxCapabilityMsr(0x10)).toBeUndefined();
  });

  it('controlsAllowed applies allowed-0 and allowed-1', () => {
    expect(caps.controlsAllowed(0x16, caps.PINBASED_CTLS)).toBe(true);
    expect(caps.controlsAllowed(0x06, caps.PINBASED_CTLS)).toBe(false);
    expect(caps.controlsAllowed(0x96, caps.PINBASED_CTLS)).toBe(false); // posted interrupts unsupported
  });
});
