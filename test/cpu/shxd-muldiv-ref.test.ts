// SHLD/SHRD, one-operand MUL/IMUL and DIV/IDIV (the number paths of exec-int.ts) against a BigInt model of the SDM and the host CPU.
import { describe, expect, it } from 'vitest';
import { SnippetRunner } from '../../emulator/testing/snippet.js';
import { nativeAvailable, runNative, type HarnessInput } from '../native/harness.js';

/**
 * The reference: SDM vol. 2B SHLD/SHRD and vol. 2A MUL/IMUL/DIV/IDIV written with BigInt over the whole operand.
 * Where the SDM leaves a result undefined (16-bit SHLD/SHRD counts above 16; SF/ZF/PF/AF after MUL; all status flags
 * after DIV) the model states vmscope's documented choice (zeros shifted in; SF/ZF/PF of the low result, AF clear;
 * flags unchanged), which snapshots and the exit log depend on. The host CPU checks the defined part of the model.
 */
const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
const STATUS = CF | PF | AF | ZF | SF | OF;
const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSI = 6, RDI = 7;
const SCRATCH = BigInt(SnippetRunner.SCRATCH_ADDR);

function parity(v: bigint): number {
  let b = Number(v & 0xffn);
  b ^= b >> 4; b ^= b >> 2; b ^= b >> 1;
  return (b & 1) === 0 ? PF : 0;
}
const mask = (bits: number): bigint => (1n << BigInt(bits)) - 1n;

interface Case {
  code: Uint8Array;
  gpr: bigint[];
  rflags: bigint;
  scratch: Uint8Array | null;
  /** Expected RAX..R15, RFLAGS status bits and the first 8 scratch bytes (the model), or a fault vector. */
  want: { gpr: bigint[]; flags: number; mem: bigint; fault: number | null };
  /** Status flags the SDM defines for this case (host comparison). */
  defined: number;
  text: string;
}

/** A 64-bit random value biased to edges (0, all ones, sign bits, small numbers) so carries and overflows happen. */
function rand(rng: () => number, bits: number): bigint {
  const k = rng() % 8;
  const m = mask(bits);
  const r = ((BigInt(rng()) << 32n) | BigInt(rng())) & m;
  switch (k) {
    case 0: return 0n;
    case 1: return m;
    case 2: return 1n << BigInt(bits - 1);
    case 3: return (1n << BigInt(bits - 1)) - 1n;
    case 4: return BigInt(rng() % 7);
    case 5: return m - BigInt(rng() % 7);
    default: return r;
  }
}

function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s;
  };
}

/** Operand-size prefix and REX.W for 16/32/64-bit forms. */
function prefix(size: number): number[] {
  return size === 16 ? [0x66] : size === 64 ? [0x48] : [];
}

function setSized(old: bigint, size: number, v: bigint): bigint {
  if (size === 32) return v & mask(32); // 32-bit destinations zero-extend
  if (size === 64) return v & mask(64);
  return (old & ~mask(size)) | (v & mask(size));
}

/** SHLD/SHRD dest, SRC(=RSI), imm8 or CL; dest is RBX or the qword at [RDI]=scratch. */
function shxdCase(rng: () => number): Case {
  const size = [16, 32, 64][rng() % 3]!;
  const right = rng() % 2 === 1;
  const byCl = rng() % 2 === 1;
  const mem = rng() % 4 === 0;
  const count = rng() % 3 === 0 ? rng() % 256 : rng() % (size === 64 ? 64 : 32);
  const gpr = Array.from({ length: 16 }, () => ((BigInt(rng()) << 32n) | BigInt(rng())));
  gpr[4] = 0n;
  const dest = rand(rng, 64), src = rand(rng, 64);
  gpr[RSI] = src;
  let scratch: Uint8Array | null = null;
  if (mem) {
    gpr[RDI] = SCRATCH;
    scratch = new Uint8Array(8);
    new DataView(scratch.buffer).setBigUint64(0, dest, true);
  } else gpr[RBX] = dest;
  if (byCl) gpr[RCX] = (gpr[RCX]! & ~0xffn) | BigInt(count);
  const modrm = mem ? 0x37 : 0xf3; // [rdi], esi / ebx, esi
  const code = Uint8Array.from([...prefix(size), 0x0f, (right ? 0xac : 0xa4) + (byCl ? 1 : 0), modrm, ...(byCl ? [] : [count])]);
  const rflags = BigInt(rng() & STATUS) | 2n;
  // The model.
  const n = count & (size === 64 ? 63 : 31);
  const S = BigInt(size), M = mask(size);
  const va = dest & M, vb = src & M;
  let res = va, flags = Number(rflags) & STATUS;
  if (n !== 0) {
    const N = BigInt(n);
    let cf: number;
    if (!right) {
      const wide = (va << S) | vb;
      res = ((wide << N) & mask(2 * size)) >> S;
      cf = Number((wide >> (2n * S - N)) & 1n);
    } else {
      const wide = (vb << S) | va;
      res = (wide >> N) & M;
      cf = Number((wide >> (N - 1n)) & 1n);
    }
    const of = Number((res >> (S - 1n)) & 1n) ^ Number((va >> (S - 1n)) & 1n);
    flags = (cf ? CF : 0) | (of ? OF : 0) | (res >> (S - 1n) ? SF : 0) | (res === 0n ? ZF : 0) | parity(res);
  }
  const want = [...gpr];
  let memOut = dest;
  // A count of 0 changes nothing, except that a 32-bit register destination is still written (upper half cleared).
  if (mem) memOut = (dest & ~M) | res; // a memory destination is written only in its operand size
  else if (n !== 0 || size === 32) want[RBX] = setSized(dest, size, res);
  // SDM: OF is defined only for 1-bit shifts; for 16-bit counts > 16 result and flags are undefined; AF undefined.
  const defined = n === 0 ? STATUS : size === 16 && n > 16 ? 0 : (CF | SF | ZF | PF | (n === 1 ? OF : 0));
  const undefinedResult = size === 16 && n > 16;
  return {
    code, gpr, rflags, scratch, defined,
    want: { gpr: want, flags: (Number(rflags) & ~STATUS & 0xffff) | flags, mem: memOut, fault: null },
    text: `${right ? 'shrd' : 'shld'}${size} ${mem ? '[rdi]' : 'rbx'},rsi,${byCl ? 'cl' : ''}${count}${undefinedResult ? ' (undefined result)' : ''}`,
  };
}

/** MUL/IMUL/DIV/IDIV r/m (RBX or [RDI]) of 32 or 64 bits. */
function mulDivCase(rng: () => number): Case {
  const size = rng() % 3 === 0 ? 64 : 32;
  const op = rng() % 4; // 0 MUL, 1 IMUL, 2 DIV, 3 IDIV
  const mem = rng() % 4 === 0;
  const gpr = Array.from({ length: 16 }, () => ((BigInt(rng()) << 32n) | BigInt(rng())));
  gpr[4] = 0n;
  const S = BigInt(size), M = mask(size);
  let src = rand(rng, size);
  gpr[RAX] = (gpr[RAX]! & ~M) | rand(rng, size);
  gpr[RDX] = (gpr[RDX]! & ~M) | rand(rng, size);
  if (op >= 2) {
    // Mostly divisions whose quotient fits: high half of the dividend below the divisor (by magnitude for IDIV).
    const k = rng() % 4;
    if (k !== 0) {
      if (src === 0n) src = BigInt(1 + (rng() % 1000));
      if (op === 2) gpr[RDX] = (gpr[RDX]! & ~M) | (rand(rng, size) % src);
      else {
        const d = BigInt.asIntN(size, src);
        const mag = d < 0n ? -d : d;
        const q = BigInt.asIntN(size - 1, rand(rng, size)) % (k === 3 ? 4n : 1n << (S - 1n));
        const rem = (rand(rng, size) % mag) * (rng() % 2 ? 1n : -1n);
        const dividend = BigInt.asUintN(2 * size, q * d + (q * d >= 0n ? (rem < 0n ? -rem : rem) : rem < 0n ? rem : -rem));
        gpr[RAX] = (gpr[RAX]! & ~M) | (dividend & M);
        gpr[RDX] = (gpr[RDX]! & ~M) | (dividend >> S);
      }
    }
  }
  return mulDivModel(size, op, mem, gpr, src, BigInt(rng() & STATUS) | 2n);
}

/** The case and its model outcome for MUL/IMUL/DIV/IDIV (op 0..3) of RBX or [RDI] = `src`, with RAX/RDX from `gpr`. */
function mulDivModel(size: number, op: number, mem: boolean, gpr: bigint[], src: bigint, rflags: bigint): Case {
  const S = BigInt(size), M = mask(size);
  let scratch: Uint8Array | null = null;
  if (mem) {
    gpr[RDI] = SCRATCH;
    scratch = new Uint8Array(8);
    new DataView(scratch.buffer).setBigUint64(0, src, true);
  } else gpr[RBX] = (gpr[RBX]! & ~M) | src;
  const code = Uint8Array.from([...prefix(size), 0xf7, (mem ? 0x07 : 0xc3) | ((4 + op) << 3)]);
  const a = gpr[RAX]! & M, dHi = gpr[RDX]! & M;
  const want = [...gpr];
  let flags = Number(rflags) & STATUS, fault: number | null = null, defined = 0;
  if (op < 2) {
    const p = op === 0 ? a * src : BigInt.asIntN(size, a) * BigInt.asIntN(size, src);
    const full = BigInt.asUintN(2 * size, p);
    const low = full & M, high = full >> S;
    const ov = op === 0 ? high !== 0n : BigInt.asIntN(size, low) !== p;
    want[RAX] = setSized(gpr[RAX]!, size, low);
    want[RDX] = setSized(gpr[RDX]!, size, high);
    flags = (ov ? CF | OF : 0) | (low >> (S - 1n) ? SF : 0) | (low === 0n ? ZF : 0) | parity(low);
    defined = CF | OF;
  } else {
    const signed = op === 3;
    const divisor = signed ? BigInt.asIntN(size, src) : src;
    const ua = (dHi << S) | a;
    const dividend = signed ? BigInt.asIntN(2 * size, ua) : ua;
    if (divisor === 0n) fault = 0;
    else {
      const q = dividend / divisor, r = dividend % divisor; // BigInt division truncates toward zero, as IDIV does
      if (signed ? BigInt.asIntN(size, q) !== q : q >> S !== 0n) fault = 0;
      else {
        want[RAX] = setSized(gpr[RAX]!, size, BigInt.asUintN(size, q));
        want[RDX] = setSized(gpr[RDX]!, size, BigInt.asUintN(size, r));
      }
    }
    if (fault !== null) want.splice(0, 16, ...gpr); // #DE: nothing written
  }
  return {
    code, gpr, rflags, scratch, defined,
    want: { gpr: want, flags: (Number(rflags) & ~STATUS & 0xffff) | flags, mem: src, fault },
    text: `${['mul', 'imul', 'div', 'idiv'][op]}${size} ${mem ? '[rdi]' : 'rbx'}`,
  };
}

const CASES = 30_000;
function makeCases(seed: number): Case[] {
  const rng = xorshift(seed);
  const out: Case[] = [];
  for (let k = 0; k < CASES; k++) out.push(k % 2 === 0 ? shxdCase(rng) : mulDivCase(rng));
  // The edges of 32-bit IDIV/DIV/IMUL: quotients at and just past -2^31 and 2^31 - 1, the largest DIV quotient.
  const edges: Array<[number, bigint, bigint]> = [
    [3, -(1n << 31n), 1n], [3, -(1n << 31n), -1n], [3, -(1n << 31n) - 1n, 1n], [3, 1n << 31n, 1n], [3, (1n << 31n) - 1n, 1n],
    [3, 1n << 62n, -(1n << 31n)], [3, -(1n << 62n), -(1n << 31n)], [3, -(1n << 63n), -1n], [3, -(1n << 63n), -(1n << 31n)],
    [3, -7n, 2n], [3, 7n, -2n], [3, -7n, -2n], [3, -(1n << 32n), 2n], [3, (1n << 32n) - 2n, 2n],
    [2, (0xfffffffen << 32n) | 0xffffffffn, 0xffffffffn], [2, 0xffffffffn << 32n, 0xffffffffn], [2, 1n << 32n, 1n],
    [1, -(1n << 31n), -(1n << 31n)], [1, -(1n << 31n), -1n], [1, -1n, -1n], [0, 0xffffffffn, 0xffffffffn],
  ];
  for (const [op, dividend, divisor] of edges) {
    for (const mem of [false, true]) {
      const gpr = new Array<bigint>(16).fill(0x1111111122222222n);
      gpr[4] = 0n;
      const v = BigInt.asUintN(64, dividend);
      gpr[RAX] = (gpr[RAX]! & ~mask(32)) | (v & mask(32));
      if (op >= 2) gpr[RDX] = (gpr[RDX]! & ~mask(32)) | (v >> 32n);
      out.push(mulDivModel(32, op, mem, gpr, BigInt.asUintN(32, divisor), 0x2n));
    }
  }
  return out;
}
const hex = (v: bigint) => `0x${v.toString(16)}`;
const dump = (c: Case) => `${c.text} [${Buffer.from(c.code).toString('hex')}] rax=${hex(c.gpr[RAX]!)} rdx=${hex(c.gpr[RDX]!)} rbx=${hex(c.gpr[RBX]!)} rsi=${hex(c.gpr[RSI]!)} rcx=${hex(c.gpr[RCX]!)} rflags=${hex(c.rflags)}`;

describe('SHLD/SHRD, MUL/IMUL, DIV/IDIV vs the BigInt model of the SDM', () => {
  const cases = makeCases(0x5eed1);

  it('covers every form: 16/32/64-bit SHLD/SHRD (imm, CL, register, memory, counts 0, 1, > 16, > 31) and 32/64-bit MUL/IMUL/DIV/IDIV with and without #DE', () => {
    const forms = new Set(cases.map((c) => c.text.replace(/,cl?\d+.*$/, '').replace(/ \(.*/, '')));
    for (const f of ['shld16 rbx,rsi', 'shrd64 [rdi],rsi', 'mul32 rbx', 'imul32 [rdi]', 'div32 rbx', 'idiv32 rbx', 'div64 rbx', 'idiv64 [rdi]', 'imul64 rbx']) expect(forms).toContain(f);
    expect(cases.filter((c) => c.text.includes('undefined')).length).toBeGreaterThan(100);
    expect(cases.filter((c) => c.want.fault === 0 && c.text.startsWith('idiv32')).length).toBeGreaterThan(50);
    expect(cases.filter((c) => c.want.fault === null && c.text.startsWith('idiv32')).length).toBeGreaterThan(500);
  });

  it('the emulator computes every case as the model does (registers, memory, all status flags, #DE)', () => {
    const runner = new SnippetRunner();
    const bad: string[] = [];
    for (const c of cases) {
      const got = runner.run(c.code, { gpr: c.gpr, rflags: c.rflags }, c.scratch ?? undefined);
      const problems: string[] = [];
      if (got.fault !== c.want.fault) problems.push(`fault ${got.fault} want ${c.want.fault}`);
      for (let r = 0; r < 16; r++) if (r !== 4 && got.gpr[r] !== c.want.gpr[r]) problems.push(`r${r} ${hex(got.gpr[r]!)} want ${hex(c.want.gpr[r]!)}`);
      if (c.want.fault === null && (Number(got.rflags) & STATUS) !== (c.want.flags & STATUS)) problems.push(`flags ${hex(got.rflags & BigInt(STATUS))} want ${hex(BigInt(c.want.flags & STATUS))}`);
      if (c.scratch !== null) {
        const m = new DataView(got.scratch.buffer, got.scratch.byteOffset).getBigUint64(0, true);
        if (m !== c.want.mem) problems.push(`memory ${hex(m)} want ${hex(c.want.mem)}`);
      }
      if (problems.length > 0 && bad.length < 10) bad.push(`${dump(c)}: ${problems.join(', ')}`);
    }
    expect(bad).toEqual([]);
  });

  it.skipIf(!nativeAvailable)('the model agrees with the host CPU wherever the SDM defines the outcome', () => {
    const inputs: HarnessInput[] = cases.map((c) => ({ code: c.code, gpr: c.gpr.map((v, r) => (r === 4 ? 0x80000n : v)), rflags: c.rflags, scratch: c.scratch }));
    const host = runNative(inputs);
    const bad: string[] = [];
    cases.forEach((c, k) => {
      const h = host[k]!;
      const problems: string[] = [];
      if (h.fault !== c.want.fault) problems.push(`fault ${h.fault} want ${c.want.fault}`);
      const undefinedResult = c.text.includes('undefined');
      if (c.want.fault === null && !undefinedResult) {
        for (let r = 0; r < 16; r++) if (r !== 4 && h.gpr[r] !== c.want.gpr[r]) problems.push(`r${r} ${hex(h.gpr[r]!)} want ${hex(c.want.gpr[r]!)}`);
        if ((Number(h.rflags) & c.defined) !== (c.want.flags & c.defined)) problems.push(`defined flags ${hex(h.rflags & BigInt(c.defined))} want ${hex(BigInt(c.want.flags & c.defined))}`);
        if (c.scratch !== null) {
          const m = new DataView(h.scratch.buffer, h.scratch.byteOffset).getBigUint64(0, true);
          if (m !== c.want.mem) problems.push(`memory ${hex(m)} want ${hex(c.want.mem)}`);
        }
      }
      if (problems.length > 0 && bad.length < 10) bad.push(`${dump(c)}: ${problems.join(', ')}`);
    });
    expect(bad).toEqual([]);
  });
});
