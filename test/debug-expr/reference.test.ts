// Expression precedence, associativity and 64-bit arithmetic checked against C++: the same random expression text is parsed by g++ (operators overloaded on a uint64_t wrapper, so C's grammar and the host CPU's arithmetic decide) and by expr.ts.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluate, parseExpression } from '../../emulator/debug/expr.js';
import { prng as rng } from '../prng.js';

const TMP = join(__dirname, '..', '.tmp', 'debug-expr');


interface Case { ours: string; cpp: string }

function generator(seed: number) {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const rand64 = (): bigint => (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32));
  const EDGE = [0n, 1n, 2n, 3n, 7n, 8n, 31n, 32n, 63n, 64n, 65n, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn,
    0xffffffffn, 0x80000000n, 0xfffffffffffffffen, 100n];
  const withSeparators = (digits: string): string => {
    if (digits.length < 2 || r() < 0.7) return digits;
    const at = 1 + Math.floor(r() * (digits.length - 1));
    return digits.slice(0, at) + '_' + digits.slice(at);
  };
  const literal = (): Case => {
    const x = r();
    const v = x < 0.45 ? pick(EDGE) : x < 0.75 ? BigInt(Math.floor(r() * 200)) : rand64();
    if (r() < 0.05) { const b = r() < 0.5; return { ours: b ? 'true' : 'false', cpp: b ? 'U{1}' : 'U{0}' }; }
    const form = pick(['dec', 'dec', 'hex', 'HEX', 'bin', 'oct']);
    const text = form === 'dec' ? withSeparators(v.toString(10))
      : form === 'hex' ? '0x' + withSeparators(v.toString(16))
      : form === 'HEX' ? '0X' + withSeparators(v.toString(16).toUpperCase())
      : form === 'bin' ? '0b' + withSeparators(v.toString(2))
      : '0o' + withSeparators(v.toString(8));
    return { ours: text, cpp: `U{0x${v.toString(16)}ULL}` };
  };
  const BIN = ['*', '/', '%', '+', '-', '<<', '>>', '<', '<=', '>', '>=', '==', '!=', '&', '^', '|', '&&', '||'];
  const gen = (depth: number): Case => {
    const x = r();
    let c: Case;
    if (depth === 0 || x < 0.2) c = literal();
    else if (x < 0.3) {
      const op = pick(['-', '~', '!', '+']);
      const a = gen(depth - 1);
      c = { ours: `${op} ${a.ours}`, cpp: `${op} ${a.cpp}` };
    } else if (x < 0.36) {
      const a = gen(depth - 1);
      const bits = pick([null, 8, 16, 32, 64]);
      c = bits === null ? { ours: `signed( ${a.ours} )`, cpp: `S( ${a.cpp} )` }
        : { ours: `signed( ${a.ours} , ${bits} )`, cpp: `S( ${a.cpp} , ${bits} )` };
    } else {
      const op = pick(BIN);
      const a = gen(depth - 1), b = gen(depth - 1);
      c = { ours: `${a.ours} ${op} ${b.ours}`, cpp: `${a.cpp} ${op} ${b.cpp}` };
    }
    if (r() < 0.2) c = { ours: `( ${c.ours} )`, cpp: `( ${c.cpp} )` };
    return c;
  };
  return gen;
}

/**
 * The reference semantics in C++ (expr.ts's header comment, written independently): uint64_t arithmetic of the host CPU,
 * int64_t for values marked signed, no undefined behaviour (shift counts >= 64 and MIN / -1 handled), errors as a flag
 * that && and || drop when they short-circuit.
 */
const PRELUDE = String.raw`
#include <cstdint>
#include <cstdio>
struct U { uint64_t v; bool s = false; bool err = false; };
static U E() { U r{0}; r.err = true; return r; }
static U mk(uint64_t v, bool s) { U r{v}; r.s = s; return r; }
static bool T(U a) { return a.v != 0; }
static U operator-(U a) { return a.err ? E() : mk(0 - a.v, a.s); }
static U operator+(U a) { return a; }
static U operator~(U a) { return a.err ? E() : mk(~a.v, a.s); }
static U operator!(U a) { return a.err ? E() : mk(!T(a), false); }
#define ARITH(OP) static U operator OP(U a, U b) { if (a.err || b.err) return E(); return mk(a.v OP b.v, a.s || b.s); }
ARITH(+) ARITH(-) ARITH(*) ARITH(&) ARITH(|) ARITH(^)
#define CMP(OP) static U operator OP(U a, U b) { if (a.err || b.err) return E(); \
  bool r = (a.s || b.s) ? ((int64_t)a.v OP (int64_t)b.v) : (a.v OP b.v); return mk(r, false); }
CMP(<) CMP(<=) CMP(>) CMP(>=) CMP(==) CMP(!=)
static U operator/(U a, U b) {
  if (a.err || b.err || b.v == 0) return E();
  if (!(a.s || b.s)) return mk(a.v / b.v, false);
  int64_t x = (int64_t)a.v, y = (int64_t)b.v;
  if (x == INT64_MIN && y == -1) return mk(a.v, true);
  return mk((uint64_t)(x / y), true);
}
static U operator%(U a, U b) {
  if (a.err || b.err || b.v == 0) return E();
  if (!(a.s || b.s)) return mk(a.v % b.v, false);
  int64_t x = (int64_t)a.v, y = (int64_t)b.v;
  if (x == INT64_MIN && y == -1) return mk(0, true);
  return mk((uint64_t)(x % y), true);
}
static U operator<<(U a, U b) { if (a.err || b.err) return E(); return mk(b.v >= 64 ? 0 : a.v << b.v, a.s); }
static U operator>>(U a, U b) {
  if (a.err || b.err) return E();
  if (a.s) return mk((uint64_t)((int64_t)a.v >> (b.v >= 64 ? 63 : b.v)), true);
  return mk(b.v >= 64 ? 0 : a.v >> b.v, false);
}
static U operator&&(U a, U b) { if (a.err) return E(); if (!T(a)) return mk(0, false); if (b.err) return E(); return mk(T(b), false); }
static U operator||(U a, U b) { if (a.err) return E(); if (T(a)) return mk(1, false); if (b.err) return E(); return mk(T(b), false); }
static U S(U a, int bits = 64) {
  if (a.err) return E();
  int64_t v = bits == 8 ? (int8_t)a.v : bits == 16 ? (int16_t)a.v : bits == 32 ? (int32_t)a.v : (int64_t)a.v;
  return mk((uint64_t)v, true);
}
static void P(U a) { if (a.err) puts("E"); else if (a.s) printf("%lld\n", (long long)a.v); else printf("%llu\n", (unsigned long long)a.v); }
`;

function runCpp(cases: Case[]): string[] {
  mkdirSync(TMP, { recursive: true });
  // Cases in functions of 25: one huge main() takes g++ over a minute to compile at -O0, small functions seconds.
  const chunks: string[] = [];
  for (let i = 0; i < cases.length; i += 25) {
    chunks.push(`static void f${i}() {\n${cases.slice(i, i + 25).map((c) => `  P(${c.cpp});\n`).join('')}}\n`);
  }
  const src = PRELUDE + chunks.join('') + 'int main() {\n' + chunks.map((_, k) => `  f${k * 25}();\n`).join('') + '  return 0;\n}\n';
  const hash = createHash('sha256').update(src).digest('hex').slice(0, 16);
  const out = join(TMP, `ref-${hash}.txt`);
  if (!existsSync(out)) {
    const cpp = join(TMP, `ref-${hash}.cpp`), exe = join(TMP, `ref-${hash}`);
    writeFileSync(cpp, src);
    execFileSync('g++', ['-O0', '-std=c++17', '-w', '-o', exe, cpp]);
    writeFileSync(out, execFileSync(exe, { maxBuffer: 1 << 26 }));
  }
  return readFileSync(out, 'utf8').trimEnd().split('\n');
}

function ours(text: string): string {
  const p = parseExpression(text);
  if (!p.ok) throw new Error(`did not parse: ${text}: ${p.error}`);
  const r = evaluate(p.expr, { reg: () => undefined });
  if (!r.ok) return 'E';
  if (typeof r.value === 'boolean') return r.value ? '1' : '0';
  if (typeof r.value === 'string') throw new Error('string result');
  return r.value.toString(10);
}

describe('expressions against C++ (grammar of C, arithmetic of the host CPU)', () => {
  it('2500 random expressions of every operator, literal form and signed() agree with g++', () => {
    const gen = generator(20240611);
    const cases: Case[] = [];
    for (let i = 0; i < 2500; i++) cases.push(gen(1 + (i % 6)));
    const ref = runCpp(cases);
    expect(ref).toHaveLength(cases.length);
    const bad: string[] = [];
    cases.forEach((c, i) => { const o = ours(c.ours); if (o !== ref[i]) bad.push(`${c.ours}  =>  ours ${o}, g++ ${ref[i]}`); });
    expect(bad.slice(0, 10)).toEqual([]);
    // The corpus is not degenerate: it has errors, signed results, booleans and large values.
    expect(ref.filter((x) => x === 'E').length).toBeGreaterThan(20);
    expect(ref.filter((x) => x.startsWith('-')).length).toBeGreaterThan(20);
    expect(ref.filter((x) => x !== 'E' && BigInt(x) > 0xffffffffn).length).toBeGreaterThan(100);
  });

  it('hand-picked precedence traps read as C reads them', () => {
    const list = [
      '1 + 2 * 3', '10 - 4 - 3', '100 / 10 / 5', '2 << 1 + 1', '1 < 2 == 1', '6 & 3 == 3', '1 | 2 ^ 3 & 4', '1 || 0 && 0',
      '- 1 >> 60', '~ 0 * 2', '! 0 + 1', '7 % 4 * 3', '1 - - 1', '1 << 63 >> 63', '3 > 2 > 1', '0 == 0 != 0',
    ];
    const cases = list.map((t) => ({ ours: t, cpp: t.replace(/\b(\d+)\b/g, 'U{$1ULL}') }));
    const ref = runCpp(cases);
    expect(list.map(ours)).toEqual(ref);
  });
});
