// emulateMmio's allocation-free paths: instruction bytes handed in by the caller, the cached exit-log notes, the reused result.
import { describe, expect, it } from 'vitest';
import { emulateMmio, type MmioBus } from '../../emulator/vmm/mmio.js';
import { GPR_NAMES, type VcpuApi } from '../../emulator/vmm/api.js';

/** One device access as the device saw it: the reference for what the exit-log note must say. */
interface Access { write: boolean; offset: number; size: number; value: number }

const BASE = 0xd0000000;
/** A device that logs every access and reads as a value chosen by the test. */
function device(readValue: () => number): { bus: MmioBus; log: Access[] } {
  const log: Access[] = [];
  const dev = {
    mmioRead(offset: number, size: 1 | 2 | 4) { const v = readValue() & (size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff); log.push({ write: false, offset, size, value: v >>> 0 }); return v; },
    mmioWrite(offset: number, size: 1 | 2 | 4, value: number) { log.push({ write: true, offset, size, value }); },
  };
  return { bus: { findMmio: (a) => (a >= BASE && a < BASE + 0x1000 ? { dev, base: BASE } : null) }, log };
}

/** A 32-bit protected-mode vCPU (flat segments, no paging) with `code` at RIP 0x1000. */
function vcpu(code: Uint8Array, gpr: bigint[]): VcpuApi & { gpr: bigint[]; rip: bigint } {
  const regs = [...gpr];
  const self = {
    gpr: regs,
    rip: 0x1000n,
    exit: { reason: 48, name: 'EPT_VIOLATION', entryFailure: false, qualification: 0n, instructionLength: 0, guestLinear: 0n, guestPhysical: 0n },
    reg(name: string): bigint {
      if (name === 'rip') return self.rip;
      if (name === 'rflags') return 2n;
      return regs[GPR_NAMES.indexOf(name as never)]!;
    },
    setReg(name: string, v: bigint | number) {
      const b = BigInt.asUintN(64, BigInt(v));
      if (name === 'rip') self.rip = b; else regs[GPR_NAMES.indexOf(name as never)] = b;
    },
    gpr32: (r: number) => Number(regs[r]! & 0xffffffffn),
    setGpr32: (r: number, v: number) => { regs[r] = BigInt(v >>> 0); },
    vmread(field: string): bigint {
      if (field === 'GUEST_RIP') return self.rip;
      if (field === 'GUEST_CS_AR_BYTES') return 0xc09bn; // 32-bit code (D/B = 1)
      if (field === 'GUEST_CR0') return 0x11n; // PE, no paging
      return 0n; // EFER, segment bases
    },
    // The number forms, defined by the BigInt ones as the handler API documents them.
    vmread32: (field: string) => Number(self.vmread(field) & 0xffffffffn),
    vmreadNumber: (field: string) => Number(BigInt.asIntN(64, self.vmread(field))),
    vmwriteNumber(field: string, v: number) {
      if (field !== 'GUEST_RIP') throw new Error(`unexpected VMWRITE ${field}`);
      self.rip = BigInt.asUintN(64, BigInt(v));
    },
    readGuestVirtual(gva: number, length: number) {
      const out = new Uint8Array(length);
      out.set(code.subarray(0, Math.min(length, code.length)));
      return gva === 0x1000 ? out : null;
    },
    translate: (gva: number) => gva,
    isRam: () => false,
    note: () => { /* unused */ },
    spend: () => { /* unused */ },
  };
  return self as unknown as VcpuApi & { gpr: bigint[]; rip: bigint };
}

function xorshift(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

/** MOV forms with a disp32 operand in 32-bit code (SDM vol. 2B MOV, MOVZX, MOVSX): bytes for device offset `off`. */
function instruction(rng: () => number, off: number): Uint8Array {
  const a = le32(BASE + off);
  const forms = [
    [0x8b, 0x05, ...a], [0x89, 0x1d, ...a], [0x8a, 0x25, ...a], [0x88, 0x3d, ...a], [0x66, 0x8b, 0x0d, ...a],
    [0xc7, 0x05, ...a, ...le32(rng())], [0xc6, 0x05, ...a, rng() & 0xff], [0xa1, ...a], [0xa3, ...a], [0xa0, ...a],
    [0x0f, 0xb6, 0x05, ...a], [0x0f, 0xbf, 0x15, ...a], [0x0f, 0xbe, 0x3d, ...a], [0x66, 0xc7, 0x05, ...a, 0x34, 0x12],
  ];
  return Uint8Array.from(forms[rng() % forms.length]!);
}

describe('emulateMmio fast paths', () => {
  it('gives the same outcome with the instruction bytes (and RIP and code size) handed in as when it reads them itself', () => {
    const rng = xorshift(0x1234);
    for (let k = 0; k < 3000; k++) {
      const off = [0x50, 0x60, 0x64, 0x70][rng() % 4]! + (rng() % 2 === 0 ? 0 : 0x100 + (rng() % 8));
      const code = instruction(rng, off);
      const gpr = Array.from({ length: 16 }, () => (BigInt(rng()) << 32n) | BigInt(rng()));
      const value = rng();
      const a = device(() => value), b = device(() => value);
      const va = vcpu(code, gpr), vb = vcpu(code, gpr);
      const ra = { ...emulateMmio(va, a.bus, BASE + off) };
      const padded = new Uint8Array(15);
      padded.set(code);
      const rb = { ...emulateMmio(vb, b.bus, BASE + off, { bytes: padded, length: 15 }) };
      expect(rb).toEqual(ra);
      expect(vb.gpr).toEqual(va.gpr);
      expect(vb.rip).toBe(va.rip);
      expect(vb.rip).toBe(0x1000n + BigInt(code.length));
      expect(b.log).toEqual(a.log);
      // As the hypervisor hands them in: GUEST_RIP and the code size with the bytes (no VMCS reads for them).
      const c = device(() => value), vc = vcpu(code, gpr);
      const rc = { ...emulateMmio(vc, c.bus, BASE + off, { bytes: padded, length: 15, rip: 0x1000, mode: 32 }) };
      expect(rc).toEqual(ra);
      expect(vc.gpr).toEqual(va.gpr);
      expect(vc.rip).toBe(va.rip);
      expect(c.log).toEqual(a.log);
    }
  });

  it('describes each access in its exit-log note, whatever was noted before (cached notes never go stale)', () => {
    const rng = xorshift(0x9876);
    // Few addresses and values: the same notes recur (cache hits) and different ones meet in the same cache slot.
    for (let k = 0; k < 5000; k++) {
      const off = [0x50, 0x60, 0x64, 0x150, 0x460][rng() % 5]!;
      const code = instruction(rng, off);
      const value = [0, 1, 2, 3, 0xff, 0x1234, 0xdeadbeef][rng() % 7]!;
      const d = device(() => value);
      const r = emulateMmio(vcpu(code, new Array<bigint>(16).fill(0x11223344n)), d.bus, BASE + off);
      expect(r.ok).toBe(true);
      if (!r.ok) continue;
      expect(d.log).toHaveLength(1);
      const acc = d.log[0]!;
      const m = /^mmio (read|write) 0x([0-9a-f]+) = 0x([0-9a-f]+) \((\d) bytes\)$/.exec(r.note);
      expect(m, r.note).not.toBeNull();
      expect(m![1]).toBe(acc.write ? 'write' : 'read');
      expect(parseInt(m![2]!, 16)).toBe(BASE + acc.offset);
      expect(parseInt(m![3]!, 16)).toBe(acc.value >>> 0);
      expect(Number(m![4])).toBe(acc.size);
    }
  });

  it('notes an access to unassigned space as all ones / dropped', () => {
    const d = device(() => 0);
    const code = Uint8Array.from([0x8b, 0x05, ...le32(0xfee0_0000)]); // mov eax, [0xfee00000]: nothing decodes it
    const v = vcpu(code, new Array<bigint>(16).fill(0n));
    const r = emulateMmio(v, d.bus, 0xfee0_0000);
    expect(r).toEqual({ ok: true, note: 'read of unassigned 0xfee00000: all ones' });
    expect(v.gpr[0]).toBe(0xffffffffn); // PC master abort: reads return all ones
    const w = emulateMmio(vcpu(Uint8Array.from([0x89, 0x05, ...le32(0xfee0_0000)]), new Array<bigint>(16).fill(5n)), d.bus, 0xfee0_0000);
    expect(w).toEqual({ ok: true, note: 'write to unassigned 0xfee00000: dropped' });
    expect(d.log).toEqual([]);
  });
});
