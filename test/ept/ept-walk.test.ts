// EPT walker unit tests: every page size and R/W/X combination, misconfigurations, violations, A/D flags, the translation cache and peek walks, against an SDM reference model.
import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from '../../emulator/mem/physmem.js';
import { Ept, EPT_FETCH, EPT_READ, EPT_WRITE, makeEptp, type EptStep } from '../../emulator/ept/ept.js';

// ---------------------------------------------------------------- the reference: SDM vol. 3C §29.3.2-29.3.5 in BigInt

const MAXPHY = 39;
const ADDR_MASK = ((1n << BigInt(MAXPHY)) - 1n) & ~0xfffn;

type RefOutcome =
  | { kind: 'ok'; hpa: bigint; allowed: number; used: bigint[]; leaf: bigint }
  | { kind: 'violation'; allowed: number; level: number; entry: bigint }
  | { kind: 'misconfig'; level: number; entry: bigint };

/**
 * A 4-level EPT walk as the SDM describes it, written independently of emulator/ept:
 * §29.3.2 (entry formats, tables 29-1..29-6), §29.3.3.1 (misconfigurations: write-only and
 * write/execute entries, reserved bits incl. 51:MAXPHYADDR, reserved leaf memory types 2, 3, 7),
 * §29.3.3.2 (violations: not-present entry, or the access not allowed by the AND of the entries used).
 * Execute-only is supported (IA32_VMX_EPT_VPID_CAP bit 0), as are 2 MiB and 1 GiB pages (bits 16, 17).
 */
function refWalk(read64: (a: bigint) => bigint, eptp: bigint, gpa: bigint, access: number): RefOutcome {
  let table = eptp & ADDR_MASK;
  let and = 7;
  const used: bigint[] = [];
  for (let level = 4; level >= 1; level--) {
    const shift = 12n + 9n * BigInt(level - 1);
    const entry = table + ((gpa >> shift) & 511n) * 8n;
    const e = read64(entry);
    const rwx = Number(e & 7n);
    if (rwx === 0) return { kind: 'violation', allowed: 0, level, entry };
    if (rwx === 0b010 || rwx === 0b110) return { kind: 'misconfig', level, entry };
    if (((e >> BigInt(MAXPHY)) & ((1n << BigInt(52 - MAXPHY)) - 1n)) !== 0n) return { kind: 'misconfig', level, entry };
    const leaf = level === 1 || ((level === 2 || level === 3) && (e & 0x80n) !== 0n);
    if (level === 4 && (e & 0xf8n) !== 0n) return { kind: 'misconfig', level, entry }; // PML4E bits 7:3 (table 29-1)
    if (!leaf && level < 4 && (e & 0x78n) !== 0n) return { kind: 'misconfig', level, entry }; // bits 6:3 (tables 29-3, 29-5)
    if (leaf) {
      const mt = Number((e >> 3n) & 7n);
      if (mt === 2 || mt === 3 || mt === 7) return { kind: 'misconfig', level, entry };
      if (level === 3 && (e & 0x3ffff000n) !== 0n) return { kind: 'misconfig', level, entry }; // 1 GiB: bits 29:12 (table 29-2)
      if (level === 2 && (e & 0x1ff000n) !== 0n) return { kind: 'misconfig', level, entry }; // 2 MiB: bits 20:12 (table 29-4)
    }
    and &= rwx;
    used.push(entry);
    if (leaf) {
      if (((and >> access) & 1) === 0) return { kind: 'violation', allowed: and, level, entry };
      const size = 1n << shift;
      return { kind: 'ok', hpa: (e & ADDR_MASK & ~(size - 1n)) | (gpa & (size - 1n)), allowed: and, used, leaf: entry };
    }
    table = e & ADDR_MASK;
  }
  throw new Error('unreachable');
}

// ---------------------------------------------------------------- fixtures

/** Table pages: PML4 at 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000 (host-physical). */
const PML4 = 0x1000, PDPT = 0x2000, PD = 0x3000, PT = 0x4000;
const TABLE_AT = [0, PT, PD, PDPT, PML4];

function memory(): PhysicalMemory {
  return new PhysicalMemory(0x10000);
}
function set64(m: PhysicalMemory, a: number, v: bigint): void {
  m.write32(a, Number(v & 0xffffffffn));
  m.write32(a + 4, Number((v >> 32n) & 0xffffffffn));
}
function get64(m: PhysicalMemory, a: number | bigint): bigint {
  const n = Number(a);
  return BigInt(m.read32(n)) | (BigInt(m.read32(n + 4)) << 32n);
}
function index(gpa: number, level: number): number {
  return Math.floor(gpa / 2 ** (12 + 9 * (level - 1))) % 512;
}
function entryAddr(gpa: number, level: number): number {
  return TABLE_AT[level] + index(gpa, level) * 8;
}

/**
 * Write a walk for `gpa` ending in a leaf at `leafLevel`: `perm[k]` are bits 2:0 of the entry at level 4-k,
 * `extra[level]` ORs arbitrary bits in; the leaf maps `frame` with memory type `leafMt` (default WB, 6).
 */
function build(m: PhysicalMemory, gpa: number, leafLevel: number, perm: number[], frame: bigint, extra: Record<number, bigint> = {}, leafMt = 6): void {
  for (let level = 4; level >= leafLevel; level--) {
    const p = BigInt(perm[4 - level]);
    let e: bigint;
    if (level === leafLevel) e = frame | p | (BigInt(leafMt) << 3n) | (level > 1 ? 0x80n : 0n);
    else e = BigInt(TABLE_AT[level - 1]) | p;
    set64(m, entryAddr(gpa, level), e | (extra[level] ?? 0n));
  }
}

const ACCESSES = [EPT_READ, EPT_WRITE, EPT_FETCH];
const ACCESS_NAME = ['read', 'write', 'fetch'];

/**
 * Run the implementation and the reference on the same memory; compare outcome, fault and A/D side effects.
 * Returns the reference outcome and a list of mismatches (empty when they agree).
 */
function compare(m: PhysicalMemory, gpa: number, access: number, ad: boolean): { ref: RefOutcome; bad: string[] } {
  const eptp = makeEptp(PML4, ad);
  const before = new Map<number, bigint>();
  for (let level = 4; level >= 1; level--) before.set(entryAddr(gpa, level), get64(m, entryAddr(gpa, level)));
  const ref = refWalk((a) => get64(m, a), BigInt(eptp), BigInt(gpa), access);
  const ept = new Ept(MAXPHY);
  ept.setEptp(eptp);
  const hpa = ept.translate(m, gpa, access);
  const bad: string[] = [];
  const what = `gpa=0x${gpa.toString(16)} ${ACCESS_NAME[access]} ad=${ad} entries=${[...before.values()].map((v) => v.toString(16)).join(',')}`;
  const check = (label: string, got: unknown, want: unknown) => { if (got !== want) bad.push(`${what}: ${label} ${String(got)} != ${String(want)}`); };
  if (ref.kind === 'ok') {
    check('hpa', hpa, Number(ref.hpa));
    check('allowed', ept.lastPerm & 7, ref.allowed);
    // A/D (SDM §29.3.5): with EPTP bit 6, A on every entry used; D on the leaf for a write; nothing else changes.
    for (const [a, old] of before) {
      let want = old;
      if (ad && ref.used.includes(BigInt(a))) want |= 1n << 8n;
      if (ad && access === EPT_WRITE && BigInt(a) === ref.leaf) want |= 1n << 9n;
      check(`entry 0x${a.toString(16)}`, get64(m, a), want);
    }
  } else {
    check('hpa', hpa, -1);
    check('kind', ept.fault.kind, ref.kind);
    check('level', ept.fault.level, ref.level);
    check('entryAddress', ept.fault.entryAddress, Number(ref.entry));
    if (ref.kind === 'violation') check('allowed', ept.fault.allowed, ref.allowed);
    // A failed access sets no dirty flag anywhere (no write happened).
    for (const [a, old] of before) check(`D of 0x${a.toString(16)}`, get64(m, a) & (1n << 9n), old & (1n << 9n));
  }
  return { ref, bad };
}

/** Deterministic xorshift32. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}

// ---------------------------------------------------------------- tests

describe('makeEptp (SDM vol. 3C §25.6.11)', () => {
  it('builds a 4-level write-back EPTP with the A/D bit as asked', () => {
    // Bits 2:0 = 6 (WB), bits 5:3 = 3 (page-walk length 4 minus 1), bit 6 = A/D.
    expect(makeEptp(0x10000, true)).toBe(0x10000 | 6 | (3 << 3) | (1 << 6));
    expect(makeEptp(0x10000, false)).toBe(0x10000 | 6 | (3 << 3));
  });
});

describe('EPT translation of single walks (SDM vol. 3C §29.3.2)', () => {
  it('maps a 4 KiB, a 2 MiB and a 1 GiB page, keeping the offset bits of each size', () => {
    const m = memory();
    const gpa = 0x4_1234_5678; // bits 38:30 = 0x10, 29:21 = 0x91, 20:12 = 0x145
    build(m, gpa, 1, [7, 7, 7, 7], 0x12_3456_7000n);
    const e = new Ept();
    e.setEptp(makeEptp(PML4, false));
    expect(e.translate(m, gpa, EPT_READ)).toBe(0x12_3456_7678);
    build(m, gpa, 2, [7, 7, 7], 0x12_3440_0000n);
    e.flush();
    expect(e.translate(m, gpa, EPT_WRITE)).toBe(0x12_3440_0000 + (gpa % 0x200000));
    build(m, gpa, 3, [7, 7], 0x40_0000_0000n);
    e.flush();
    expect(e.translate(m, gpa, EPT_FETCH)).toBe(0x40_0000_0000 + (gpa % 0x40000000));
  });

  it('uses frame bits up to MAXPHYADDR-1 (bit 38) and treats bit 39 as reserved', () => {
    const m = memory();
    build(m, 0x5000, 1, [7, 7, 7, 7], 1n << 38n);
    const e = new Ept();
    e.setEptp(makeEptp(PML4, false));
    expect(e.translate(m, 0x5123, EPT_READ)).toBe(2 ** 38 + 0x123);
    build(m, 0x5000, 1, [7, 7, 7, 7], 1n << 39n);
    e.flush();
    expect(e.translate(m, 0x5123, EPT_READ)).toBe(-1);
    expect(e.fault).toMatchObject({ kind: 'misconfig', level: 1, entryAddress: entryAddr(0x5000, 1) });
  });

  it('treats execute-only as supported: fetches pass, reads and writes are violations with allowed = X', () => {
    const m = memory();
    build(m, 0x7000, 1, [7, 7, 7, 4], 0x9000n);
    const e = new Ept();
    e.setEptp(makeEptp(PML4, false));
    expect(e.translate(m, 0x7010, EPT_FETCH)).toBe(0x9010);
    expect(e.translate(m, 0x7010, EPT_READ)).toBe(-1);
    expect(e.fault).toMatchObject({ kind: 'violation', allowed: 4, level: 1 });
    expect(e.translate(m, 0x7010, EPT_WRITE)).toBe(-1);
    expect(e.fault).toMatchObject({ kind: 'violation', allowed: 4, level: 1 });
  });

  it('reports write-only and write/execute entries at any level as misconfigurations (§29.3.3.1)', () => {
    for (const bad of [0b010, 0b110]) {
      for (let lvl = 4; lvl >= 1; lvl--) {
        const m = memory();
        const perm = [7, 7, 7, 7];
        perm[4 - lvl] = bad;
        build(m, 0x3000, 1, perm, 0x8000n);
        const e = new Ept();
        e.setEptp(makeEptp(PML4, false));
        for (const acc of ACCESSES) {
          e.flush();
          expect(e.translate(m, 0x3000, acc), `rwx=${bad} at level ${lvl}`).toBe(-1);
          expect(e.fault.kind).toBe('misconfig');
          expect(e.fault.level).toBe(lvl);
        }
      }
    }
  });

  it('rejects the reserved memory types 2, 3 and 7 in a leaf and accepts UC, WC, WT, WP and WB', () => {
    for (const leafLevel of [1, 2, 3]) {
      for (let mt = 0; mt < 8; mt++) {
        const m = memory();
        build(m, 0, leafLevel, [7, 7, 7, 7].slice(0, 5 - leafLevel), 0n, {}, mt);
        const e = new Ept();
        e.setEptp(makeEptp(PML4, false));
        const h = e.translate(m, 0x10, EPT_READ);
        if (mt === 2 || mt === 3 || mt === 7) { expect(h, `mt ${mt} level ${leafLevel}`).toBe(-1); expect(e.fault.kind).toBe('misconfig'); }
        else expect(h, `mt ${mt} level ${leafLevel}`).toBe(0x10);
      }
    }
  });

  it('rejects reserved bits in the PML4E (7:3) and in non-leaf PDPTEs and PDEs (6:3)', () => {
    const cases: Array<[number, bigint]> = [[4, 1n << 3n], [4, 1n << 5n], [4, 1n << 7n], [3, 1n << 3n], [3, 1n << 6n], [2, 1n << 4n], [2, 1n << 6n]];
    for (const [lvl, bit] of cases) {
      const m = memory();
      build(m, 0x2000, 1, [7, 7, 7, 7], 0x6000n, { [lvl]: bit });
      const e = new Ept();
      e.setEptp(makeEptp(PML4, false));
      expect(e.translate(m, 0x2000, EPT_READ), `level ${lvl} bit ${bit.toString(2).length - 1}`).toBe(-1);
      expect(e.fault).toMatchObject({ kind: 'misconfig', level: lvl, entryAddress: entryAddr(0x2000, lvl) });
    }
  });

  it('rejects misaligned large-page frames: 2 MiB (bits 20:12) and 1 GiB (bits 29:12)', () => {
    const m = memory();
    const e = new Ept();
    e.setEptp(makeEptp(PML4, false));
    for (const bit of [12, 16, 20]) {
      build(m, 0x40_0000, 2, [7, 7, 7], 0x4000_0000n | (1n << BigInt(bit)));
      e.flush();
      expect(e.translate(m, 0x40_0000, EPT_READ), `2 MiB bit ${bit}`).toBe(-1);
      expect(e.fault).toMatchObject({ kind: 'misconfig', level: 2 });
    }
    for (const bit of [12, 21, 29]) {
      build(m, 0x4000_0000, 3, [7, 7], 0x8000_0000n | (1n << BigInt(bit)));
      e.flush();
      expect(e.translate(m, 0x4000_0000, EPT_READ), `1 GiB bit ${bit}`).toBe(-1);
      expect(e.fault).toMatchObject({ kind: 'misconfig', level: 3 });
    }
    // Bit 30 is a frame bit of a 1 GiB page, bit 21 of a 2 MiB page.
    build(m, 0x4000_0000, 3, [7, 7], 0x4000_0000n);
    e.flush();
    expect(e.translate(m, 0x4000_0123, EPT_READ)).toBe(0x4000_0123);
  });

  it('ignores bit 7 of an EPT PTE (table 29-6) whatever the frame', () => {
    const m = memory();
    build(m, 0x1000, 1, [7, 7, 7, 7], 0x0012_3000n, { 1: 0x80n });
    const e = new Ept();
    e.setEptp(makeEptp(PML4, false));
    expect(e.translate(m, 0x1004, EPT_READ)).toBe(0x0012_3004);
  });

  it('ignores bits 62:52 and bit 63 (no EPT-violation #VE) of every entry', () => {
    const m = memory();
    const junk = (0x7ffn << 52n) | (1n << 63n);
    build(m, 0x1000, 1, [7, 7, 7, 7], 0x0012_3000n, { 4: junk, 3: junk, 2: junk, 1: junk });
    const e = new Ept();
    e.setEptp(makeEptp(PML4, false));
    expect(e.translate(m, 0x1004, EPT_READ)).toBe(0x0012_3004);
  });

  it('ANDs R/W/X along the walk: a read-only PML4E makes a RWX leaf read-only', () => {
    const m = memory();
    build(m, 0x1000, 1, [1, 7, 7, 7], 0x8000n);
    const e = new Ept();
    e.setEptp(makeEptp(PML4, false));
    expect(e.translate(m, 0x1000, EPT_READ)).toBe(0x8000);
    expect(e.lastPerm & 7).toBe(1);
    expect(e.translate(m, 0x1000, EPT_WRITE)).toBe(-1);
    expect(e.fault).toMatchObject({ kind: 'violation', allowed: 1, level: 1, entryAddress: entryAddr(0x1000, 1) });
    expect(e.translate(m, 0x1000, EPT_FETCH)).toBe(-1);
    expect(e.fault.allowed).toBe(1);
  });

  it('reports a not-present entry at its level with allowed = 0', () => {
    for (let lvl = 4; lvl >= 1; lvl--) {
      const m = memory();
      const perm = [7, 7, 7, 7];
      perm[4 - lvl] = 0;
      build(m, 0x1000, 1, perm, 0x8000n);
      const e = new Ept();
      e.setEptp(makeEptp(PML4, true));
      expect(e.translate(m, 0x1000, EPT_READ)).toBe(-1);
      expect(e.fault).toMatchObject({ kind: 'violation', allowed: 0, level: lvl, entryAddress: entryAddr(0x1000, lvl) });
    }
  });
});

describe('EPT walks against the SDM reference model', () => {
  it('agrees for every R/W/X combination at every level, for 4 KiB, 2 MiB and 1 GiB leaves, each access, A/D on and off', () => {
    let n = 0;
    const bad: string[] = [];
    const gpa = 0x12_3456_7abc % 2 ** 39;
    for (const leafLevel of [1, 2, 3]) {
      const depth = 5 - leafLevel;
      for (let combo = 0; combo < 8 ** depth; combo++) {
        const perm = Array.from({ length: depth }, (_, k) => (combo >> (3 * k)) & 7);
        for (const access of ACCESSES) {
          for (const ad of [false, true]) {
            const m = memory();
            build(m, gpa, leafLevel, perm, 0x7_0000_0000n);
            bad.push(...compare(m, gpa, access, ad).bad);
            n++;
          }
        }
      }
    }
    expect(bad.slice(0, 5)).toEqual([]);
    expect(n).toBe((8 ** 4 + 8 ** 3 + 8 ** 2) * 6);
  });

  it('agrees on 30000 random walks (random entries with reserved bits, memory types, page sizes, permissions)', () => {
    const r = rng(0x5eed_e9f1);
    const bits = (): bigint => BigInt(r()) | (BigInt(r()) << 32n);
    const outcomes = { ok: 0, violation: 0, misconfig: 0 };
    const bad: string[] = [];
    for (let i = 0; i < 30000; i++) {
      const m = memory();
      const gpa = (r() % 2 ** 27) * 4096 + (r() & 0xfff);
      for (let level = 4; level >= 1; level--) {
        let e = BigInt(r() & 7) | (BigInt(r() & 1) << 7n) | (BigInt(r() & 7) << 3n);
        if ((r() & 7) === 0) e |= bits() & 0x0fff_ff00n;   // random low frame/ignored bits
        if ((r() & 15) === 0) e |= bits() & (0xfff_ffffn << 32n); // high bits incl. 51:39 and ignored 63:52
        if ((r() & 3) !== 0) e &= ~0x78n; // keep many non-leaf entries valid
        if ((r() & 3) !== 0 && (r() & 1) === 0) e = (e & ~7n) | 7n;
        // Non-leaf entries point at the next table (leaf-looking entries keep their frame).
        const next = level > 1 ? BigInt(TABLE_AT[level - 1]) : 0n;
        if ((e & 0x80n) === 0n || level === 4) e = (e & ~0xfffff000n) | next;
        set64(m, entryAddr(gpa, level), e);
      }
      const { ref, bad: b } = compare(m, gpa, ACCESSES[r() % 3], (r() & 1) === 1);
      bad.push(...b);
      outcomes[ref.kind]++;
    }
    expect(bad.slice(0, 5)).toEqual([]);
    // The generator reaches every outcome often.
    expect(outcomes.ok).toBeGreaterThan(1000);
    expect(outcomes.violation).toBeGreaterThan(1000);
    expect(outcomes.misconfig).toBeGreaterThan(1000);
  });
});

describe('EPT accessed and dirty flags (SDM vol. 3C §29.3.5)', () => {
  it('sets nothing when EPTP bit 6 is clear', () => {
    const m = memory();
    build(m, 0x1000, 1, [7, 7, 7, 7], 0x8000n);
    const snapshot = [4, 3, 2, 1].map((l) => get64(m, entryAddr(0x1000, l)));
    const e = new Ept();
    e.setEptp(makeEptp(PML4, false));
    for (const acc of ACCESSES) expect(e.translate(m, 0x1000, acc)).toBe(0x8000);
    expect([4, 3, 2, 1].map((l) => get64(m, entryAddr(0x1000, l)))).toEqual(snapshot);
  });

  it('sets A on every level for a read and a fetch, D only on the leaf for a write (4 KiB and 2 MiB)', () => {
    for (const leafLevel of [1, 2]) {
      const m = memory();
      build(m, 0x20_3000, leafLevel, [7, 7, 7, 7], leafLevel === 1 ? 0x8000n : 0x60_0000n);
      const e = new Ept();
      e.setEptp(makeEptp(PML4, true));
      const A = 1n << 8n, D = 1n << 9n;
      const levels = [4, 3, 2, 1].filter((l) => l >= leafLevel);
      expect(e.translate(m, 0x20_3000, EPT_FETCH)).toBeGreaterThan(0);
      for (const l of levels) expect(get64(m, entryAddr(0x20_3000, l)) & (A | D), `level ${l} after fetch`).toBe(A);
      e.flush();
      expect(e.translate(m, 0x20_3000, EPT_WRITE)).toBeGreaterThan(0);
      for (const l of levels) expect(get64(m, entryAddr(0x20_3000, l)) & (A | D), `level ${l} after write`).toBe(l === leafLevel ? A | D : A);
    }
  });

  it('sets no dirty flag for a write that is a violation', () => {
    const m = memory();
    build(m, 0x1000, 1, [7, 7, 7, 5], 0x8000n);
    const e = new Ept();
    e.setEptp(makeEptp(PML4, true));
    expect(e.translate(m, 0x1000, EPT_WRITE)).toBe(-1);
    expect(get64(m, entryAddr(0x1000, 1)) & (1n << 9n)).toBe(0n);
  });

  it('a write after a cached read still sets the dirty flag', () => {
    const m = memory();
    build(m, 0x1000, 1, [7, 7, 7, 7], 0x8000n);
    const e = new Ept();
    e.setEptp(makeEptp(PML4, true));
    expect(e.translate(m, 0x1000, EPT_READ)).toBe(0x8000);
    expect(get64(m, entryAddr(0x1000, 1)) & (1n << 9n)).toBe(0n);
    expect(e.lastPerm & 8).toBe(0); // a write to this page still needs a walk
    expect(e.translate(m, 0x1008, EPT_WRITE)).toBe(0x8008);
    expect(get64(m, entryAddr(0x1000, 1)) & (1n << 9n)).toBe(1n << 9n);
    expect(e.lastPerm & 8).toBe(8);
  });
});

describe('EPT translation cache and side-effect-free walks', () => {
  it('keeps using a cached translation after the entry changes, until flush (as a TLB without INVEPT)', () => {
    const m = memory();
    build(m, 0x1000, 1, [7, 7, 7, 7], 0x8000n);
    const e = new Ept();
    e.setEptp(makeEptp(PML4, false));
    expect(e.translate(m, 0x1000, EPT_READ)).toBe(0x8000);
    set64(m, entryAddr(0x1000, 1), get64(m, entryAddr(0x1000, 1)) & ~7n); // not present now
    expect(e.translate(m, 0x1010, EPT_READ)).toBe(0x8010); // stale, as hardware may
    e.flush();
    expect(e.translate(m, 0x1010, EPT_READ)).toBe(-1);
    expect(e.fault).toMatchObject({ kind: 'violation', level: 1 });
  });

  it('sees a permission reduction only after flush, and a new EPTP flushes too', () => {
    const m = memory();
    build(m, 0x1000, 1, [7, 7, 7, 7], 0x8000n);
    const e = new Ept();
    e.setEptp(makeEptp(PML4, false));
    expect(e.translate(m, 0x1000, EPT_WRITE)).toBe(0x8000);
    set64(m, entryAddr(0x1000, 1), (get64(m, entryAddr(0x1000, 1)) & ~7n) | 5n); // R+X: read-only
    expect(e.translate(m, 0x1000, EPT_WRITE)).toBe(0x8000);
    e.setEptp(makeEptp(PML4, false));
    expect(e.translate(m, 0x1000, EPT_WRITE)).toBe(-1);
    expect(e.fault).toMatchObject({ kind: 'violation', allowed: 5 });
    expect(e.translate(m, 0x1000, EPT_READ)).toBe(0x8000);
  });

  it('a cached page still faults for an access its cached permissions do not allow', () => {
    const m = memory();
    build(m, 0x1000, 1, [7, 7, 7, 1], 0x8000n);
    const e = new Ept();
    e.setEptp(makeEptp(PML4, false));
    expect(e.translate(m, 0x1000, EPT_READ)).toBe(0x8000);
    expect(e.translate(m, 0x1000, EPT_FETCH)).toBe(-1);
    expect(e.fault).toMatchObject({ kind: 'violation', allowed: 1 });
  });

  it('a peek walk changes no memory, fills no cache and reports the translation', () => {
    const m = memory();
    build(m, 0x1000, 1, [7, 7, 7, 7], 0x8000n);
    const before = [4, 3, 2, 1].map((l) => get64(m, entryAddr(0x1000, l)));
    const e = new Ept();
    e.setEptp(makeEptp(PML4, true));
    expect(e.translate(m, 0x1008, EPT_WRITE, true)).toBe(0x8008);
    expect([4, 3, 2, 1].map((l) => get64(m, entryAddr(0x1000, l)))).toEqual(before);
    // Not cached: a now-absent entry is seen by the next real access.
    set64(m, entryAddr(0x1000, 1), 0n);
    expect(e.translate(m, 0x1008, EPT_READ)).toBe(-1);
  });

  it('a walk with steps lists each entry read, level by level, and changes nothing', () => {
    const m = memory();
    build(m, 0x40_0000, 2, [7, 7, 7], 0x80_0000n);
    const before = [4, 3, 2].map((l) => get64(m, entryAddr(0x40_0000, l)));
    const e = new Ept();
    e.setEptp(makeEptp(PML4, true));
    const steps: EptStep[] = [];
    expect(e.translate(m, 0x40_0123, EPT_WRITE, false, steps)).toBe(0x80_0123);
    expect(steps.map((s) => [s.level, s.entryAddress])).toEqual([4, 3, 2].map((l) => [l, entryAddr(0x40_0000, l)]));
    expect(steps.map((s) => BigInt(s.lo >>> 0) | (BigInt(s.hi >>> 0) << 32n))).toEqual(before);
    expect([4, 3, 2].map((l) => get64(m, entryAddr(0x40_0000, l)))).toEqual(before);
  });
});
