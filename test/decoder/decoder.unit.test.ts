// Decoder rules that iced-x86 cannot judge for us: the 15-byte limit, fetch discipline, prefix bookkeeping (SDM vol. 2A ch. 2).

import { describe, expect, it } from 'vitest';
import { Insn, DecodeFault, PFX_LOCK, PFX_REP, PFX_REPNE, PFX_OPSIZE, FS, SS, DS, ES } from '../../emulator/cpu/insn.js';
import { decode } from '../../emulator/cpu/decode.js';

function dec(mode: 16 | 32 | 64, ...bytes: number[]): Insn {
  const insn = new Insn();
  decode(insn, (i) => {
    if (i >= 15) throw new Error(`fetched offset ${i}: beyond the 15-byte limit`);
    return bytes[i] ?? 0x90;
  }, mode);
  return insn;
}

describe('15-byte limit (SDM vol. 2A §2.3.11)', () => {
  it('14 prefixes + NOP is a valid 15-byte instruction', () => {
    const insn = dec(64, ...new Array(14).fill(0x66), 0x90);
    expect(insn.fault).toBe(DecodeFault.None);
    expect(insn.length).toBe(15);
  });
  it('15 prefixes + NOP is TooLong and nothing past byte 15 is fetched', () => {
    const insn = dec(64, ...new Array(15).fill(0x2e), 0x90);
    expect(insn.fault).toBe(DecodeFault.TooLong);
    expect(insn.length).toBe(15);
  });
  it('an immediate that crosses byte 15 makes the instruction TooLong', () => {
    // 10 prefixes + REX.W B8 imm64 = 20 bytes
    expect(dec(64, ...new Array(10).fill(0x66), 0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8).fault).toBe(DecodeFault.TooLong);
  });
});

describe('fetch discipline', () => {
  it('a fetch exception (page fault) propagates unchanged', () => {
    class PageFault extends Error {}
    const insn = new Insn();
    expect(() => decode(insn, (i) => { if (i === 2) throw new PageFault('#PF'); return [0x48, 0xb8][i] ?? 0; }, 64)).toThrow(PageFault);
  });
  it('fetches only the bytes of the instruction', () => {
    const seen: number[] = [];
    const bytes = [0x8b, 0x44, 0x24, 0x08, 0xcc, 0xcc]; // mov eax, [rsp+8]
    decode(new Insn(), (i) => { seen.push(i); return bytes[i]; }, 64);
    expect(Math.max(...seen)).toBe(3);
  });
  it('reuses an Insn without leaking fields from the previous decode', () => {
    const insn = new Insn();
    decode(insn, (i) => [0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8][i], 64);
    expect(insn.immHi).toBe(0x08070605);
    decode(insn, (i) => [0x90][i], 64);
    expect([insn.imm, insn.immHi, insn.immSize, insn.hasModrm, insn.base]).toEqual([0, 0, 0, false, -1]);
  });
});

describe('prefix bookkeeping (SDM vol. 2A §2.1.1, §2.2.1)', () => {
  it('the last of F2/F3 wins, and is the mandatory prefix over 66', () => {
    const insn = dec(64, 0xf3, 0x66, 0xf2, 0x0f, 0x10, 0xc1); // MOVSD xmm0, xmm1
    expect(insn.prefixes & (PFX_REP | PFX_REPNE)).toBe(PFX_REPNE);
    expect(insn.prefixes & PFX_OPSIZE).toBe(PFX_OPSIZE);
    expect(insn.mandatory).toBe(0xf2);
  });
  it('a REX followed by a legacy prefix is ignored', () => {
    const insn = dec(64, 0x48, 0x66, 0x01, 0xc0); // add ax, ax (REX.W dropped)
    expect(insn.rex).toBe(0);
    expect(insn.opSize).toBe(16);
  });
  it('REX.W beats 66', () => {
    expect(dec(64, 0x66, 0x48, 0x01, 0xc0).opSize).toBe(64);
  });
  it('64-bit mode ignores ES/CS/SS/DS overrides but honours FS/GS', () => {
    expect(dec(64, 0x26, 0x8b, 0x00).seg).toBe(DS);
    expect(dec(64, 0x64, 0x26, 0x8b, 0x00).seg).toBe(FS);
    expect(dec(32, 0x26, 0x8b, 0x00).seg).toBe(ES);
    expect(dec(32, 0x8b, 0x45, 0x00).seg).toBe(SS); // [ebp+0]
  });
  it('LOCK is recorded and allowed only on lockable memory destinations', () => {
    const ok = dec(32, 0xf0, 0x01, 0x00);
    expect(ok.prefixes & PFX_LOCK).toBe(PFX_LOCK);
    expect(ok.fault).toBe(DecodeFault.None);
    expect(dec(32, 0xf0, 0x01, 0xc0).fault).toBe(DecodeFault.Invalid); // register destination
    expect(dec(32, 0xf0, 0x8b, 0x00).fault).toBe(DecodeFault.Invalid); // MOV is not lockable
  });
});

describe('mode-dependent forms', () => {
  it('d64 PUSH and f64 near branches in 64-bit mode (SDM vol. 2D table A-1)', () => {
    expect(dec(64, 0x50).opSize).toBe(64);
    expect(dec(64, 0x66, 0x50).opSize).toBe(16);
    expect(dec(64, 0x66, 0xe8, 0, 0, 0, 0).opSize).toBe(64);
    expect(dec(64, 0x66, 0xe8, 0, 0, 0, 0).length).toBe(6);
  });
  it('opcodes invalid in 64-bit mode (i64)', () => {
    for (const op of [0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x60, 0x61, 0xce, 0xd4, 0xd5, 0xd6]) {
      expect(dec(64, op, 0, 0, 0, 0, 0, 0).fault, op.toString(16)).toBe(DecodeFault.Invalid);
      expect(dec(32, op, 0, 0, 0, 0, 0, 0).fault, op.toString(16)).toBe(DecodeFault.None);
    }
    expect(dec(64, 0x9a, 0, 0, 0, 0, 0, 0).fault).toBe(DecodeFault.Invalid);
    expect(dec(64, 0x0f, 0x05).fault).toBe(DecodeFault.None); // SYSCALL
  });
  it('moffs is address-size wide, in disp/dispHi', () => {
    const a = dec(64, 0xa1, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11);
    expect([a.length, a.disp >>> 0, a.dispHi >>> 0, a.base, a.index]).toEqual([9, 0x55667788, 0x11223344, -1, -1]);
    const b = dec(16, 0xa1, 0x34, 0x12);
    expect([b.length, b.disp]).toEqual([3, 0x1234]);
  });
  it('VEX/EVEX are Unimplemented with their full length', () => {
    const v = dec(64, 0xc5, 0xf8, 0x58, 0x44, 0x24, 0x10); // vaddps xmm0, xmm0, [rsp+16]
    expect([v.fault, v.length]).toEqual([DecodeFault.Unimplemented, 6]);
    expect(dec(32, 0xc5, 0x00, 0x00).fault).toBe(DecodeFault.None); // LDS eax, [eax] outside 64-bit mode
  });
});
