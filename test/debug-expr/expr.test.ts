// Expression language through a fake debuggee: literals, names, registers and flags (host CPU flags as reference), memory, errors with columns, conditions, hit conditions, log messages and fuzz.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  compileCondition, compileHitCondition, evaluate, evaluateText, formatLogMessage, formatValue, parseExpression, withFields,
  MAX_EXPRESSION_LENGTH, type EvalContext, type Value,
} from '../../emulator/debug/expr.js';

const TMP = join(__dirname, '..', '.tmp', 'debug-expr');
const GPR = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];

/** A fake debuggee: registers, symbols, and two little-endian memories (virtual and physical) with holes. */
function fake(regs: Record<string, bigint>, opts: { symbols?: Record<string, number>; virt?: Uint8Array; phys?: Uint8Array } = {}): EvalContext & { reads: string[] } {
  const reads: string[] = [];
  const read = (mem: Uint8Array | undefined, a: bigint, size: number): bigint | undefined => {
    if (mem === undefined || a + BigInt(size) > BigInt(mem.length)) return undefined;
    const dv = new DataView(mem.buffer, mem.byteOffset + Number(a));
    return size === 1 ? BigInt(dv.getUint8(0)) : size === 2 ? BigInt(dv.getUint16(0, true)) : size === 4 ? BigInt(dv.getUint32(0, true)) : dv.getBigUint64(0, true);
  };
  return {
    reads,
    reg: (n) => regs[n],
    symbol: (n) => opts.symbols?.[n],
    readMemory(a, size, physical) { reads.push(`${physical ? 'p' : 'v'}${size}@${a.toString(16)}`); return read(physical ? opts.phys : opts.virt, a, size); },
  };
}
const ev = (src: string, ctx: EvalContext): Value => {
  const r = evaluateText(src, ctx);
  if (!r.ok) throw new Error(`${src}: ${r.error}`);
  return r.value;
};
const err = (src: string, ctx: EvalContext = fake({})): string => {
  const r = evaluateText(src, ctx);
  if (r.ok) throw new Error(`${src} evaluated to ${formatValue(r.value)}`);
  return r.error;
};
const col = (error: string): number => Number(/at column (\d+)$/.exec(error)?.[1] ?? NaN);

describe('literals', () => {
  it('decimal, hex, binary, octal and _ separators give the value JavaScript reads from the same digits', () => {
    const ctx = fake({});
    for (const v of [0n, 1n, 9n, 255n, 0x3f8n, 0xc0000080n, 0x7fffffffffffffffn, 0xffffffffffffffffn, 1234567890123n]) {
      expect(ev(v.toString(10), ctx)).toBe(v);
      expect(ev('0x' + v.toString(16), ctx)).toBe(BigInt('0x' + v.toString(16)));
      expect(ev('0X' + v.toString(16).toUpperCase(), ctx)).toBe(v);
      expect(ev('0b' + v.toString(2), ctx)).toBe(BigInt('0b' + v.toString(2)));
      expect(ev('0o' + v.toString(8), ctx)).toBe(BigInt('0o' + v.toString(8)));
    }
    expect(ev('0xffff_ffff_ffff_ffff', ctx)).toBe(2n ** 64n - 1n);
    expect(ev('1_000_000', ctx)).toBe(1000000n);
    expect(ev('010', ctx)).toBe(10n); // no C octal: a leading zero is decimal
    expect(ev('true', ctx)).toBe(true);
    expect(ev('FALSE', ctx)).toBe(false);
    expect(ev('"HLT"', ctx)).toBe('HLT');
    expect(ev('"a\\"b\\\\c\\n"', ctx)).toBe('a"b\\c\n');
  });

  it('out-of-range and malformed literals are errors at the literal', () => {
    expect(err('1 + 0x1_0000_0000_0000_0000')).toMatch(/does not fit in 64 bits at column 5$/);
    expect(err('18446744073709551616')).toMatch(/does not fit/);
    expect(err('0x')).toMatch(/no digits at column 1/);
    const e = err('rax == 0x3fg');
    expect(e).toMatch(/invalid digit 'g' in hex literal/);
    expect(col(e)).toBe('rax == 0x3fg'.indexOf('g') + 1);
    expect(err('1__0')).toMatch(/misplaced '_'/);
    expect(err('12_')).toMatch(/misplaced '_'/);
    expect(err('0b102')).toMatch(/invalid digit '2' in binary/);
    expect(err('"abc')).toMatch(/unterminated string at column 1|unterminated string \(missing closing "\) at column 1/);
    expect(err('"\\q"')).toMatch(/unknown escape/);
  });
});

describe('registers and flags', () => {
  it('sub-registers are the little-endian bytes of the 64-bit register (SDM vol. 1 §3.4.1.1)', () => {
    const regs: Record<string, bigint> = {};
    GPR.forEach((g, i) => { regs[g] = BigInt.asUintN(64, 0x0123456789abcdefn * BigInt(i + 3) + 0xfedcn * BigInt(i)); });
    regs.rip = 0xffffffff81000123n;
    regs.rflags = 0x0000000000250a97n;
    const ctx = fake(regs);
    const dv = (v: bigint) => { const b = new DataView(new ArrayBuffer(8)); b.setBigUint64(0, v, true); return b; };
    const legacy: Record<string, string> = { rax: 'a', rbx: 'b', rcx: 'c', rdx: 'd' };
    const idx: Record<string, string> = { rsi: 'si', rdi: 'di', rbp: 'bp', rsp: 'sp' };
    for (const g of GPR) {
      const d = dv(regs[g]);
      const [r32, r16, r8] = legacy[g] ? [`e${legacy[g]}x`, `${legacy[g]}x`, `${legacy[g]}l`]
        : idx[g] ? [`e${idx[g]}`, idx[g], `${idx[g]}l`] : [`${g}d`, `${g}w`, `${g}b`];
      expect(ev(g, ctx)).toBe(d.getBigUint64(0, true));
      expect(ev(r32, ctx), r32).toBe(BigInt(d.getUint32(0, true)));
      expect(ev(r16, ctx), r16).toBe(BigInt(d.getUint16(0, true)));
      expect(ev(r8, ctx), r8).toBe(BigInt(d.getUint8(0)));
      if (legacy[g]) expect(ev(`${legacy[g]}h`, ctx)).toBe(BigInt(d.getUint8(1)));
      expect(ev(g.toUpperCase(), ctx)).toBe(regs[g]); // case-insensitive
    }
    const rip = dv(regs.rip), fl = dv(regs.rflags);
    expect(ev('eip', ctx)).toBe(BigInt(rip.getUint32(0, true)));
    expect(ev('ip', ctx)).toBe(BigInt(rip.getUint16(0, true)));
    expect(ev('eflags', ctx)).toBe(BigInt(fl.getUint32(0, true)));
    expect(ev('rax == eax', ctx)).toBe(false);
    expect(ev('rax & 0xffffffff == eax', ctx)).toBe(0n); // C precedence: rax & (0xffffffff == eax), and eax != 0xffffffff
    expect(ev('(rax & 0xffffffff) == eax', ctx)).toBe(true);
  });

  it('cf zf sf of pf af read the host CPU\'s flags after CMP the same way the SDM conditions do (vol. 1 appendix B)', () => {
    // The host CPU computes RFLAGS for CMP a, b; the conditions below are the Jcc definitions written with the flags.
    const pairs: [bigint, bigint][] = [];
    const vals = [0n, 1n, 2n, 0x7fn, 0x80n, 0xffn, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn, 0x1234n, 0xfffffffffffffff0n];
    for (const a of vals) for (const b of vals) pairs.push([a, b]);
    mkdirSync(TMP, { recursive: true });
    const src = `#include <stdio.h>
#include <stdint.h>
static const uint64_t P[][2] = {${pairs.map(([a, b]) => `{0x${a.toString(16)}ULL,0x${b.toString(16)}ULL}`).join(',')}};
int main(void) {
  for (unsigned i = 0; i < sizeof P / sizeof P[0]; i++) {
    uint64_t f;
    __asm__ volatile("cmp %2, %1\\n\\tpushfq\\n\\tpopq %0" : "=r"(f) : "r"(P[i][0]), "r"(P[i][1]) : "cc");
    printf("%llu\\n", (unsigned long long)f);
  }
  return 0;
}
`;
    const c = join(TMP, 'flags.c'), exe = join(TMP, 'flags');
    writeFileSync(c, src);
    execFileSync('gcc', ['-O1', '-o', exe, c]);
    const flags = execFileSync(exe, { encoding: 'utf8' }).trim().split('\n').map((x) => BigInt(x));
    expect(flags).toHaveLength(pairs.length);
    pairs.forEach(([a, b], i) => {
      const ctx = fake({ rax: a, rbx: b, rflags: flags[i] });
      const t = (s: string) => ev(s, ctx);
      expect(t('zf == (rax == rbx)'), `${a} ${b}`).toBe(true);
      expect(t('cf == (rax < rbx)')).toBe(true); // JB: unsigned below
      expect(t('(sf != of) == (signed(rax) < signed(rbx))')).toBe(true); // JL: signed less
      expect(t('(cf || zf) == (rax <= rbx)')).toBe(true); // JBE
      expect(t('(zf || sf != of) == (signed(rax) <= signed(rbx))')).toBe(true); // JLE
      expect(t('sf == ((rax - rbx) >> 63)')).toBe(true);
      const low = Number(BigInt.asUintN(8, a - b));
      let ones = 0;
      for (let k = 0; k < 8; k++) ones += (low >> k) & 1;
      expect(t('pf')).toBe(ones % 2 === 0 ? 1n : 0n);
      expect(t('af == (((rax ^ rbx ^ (rax - rbx)) >> 4) & 1)')).toBe(true);
      expect(t('if')).toBe((flags[i] >> 9n) & 1n);
    });
  });

  it('other register names go to the context as lower case; a missing base register is a clear error', () => {
    const ctx = fake({ cr3: 0x1000n, efer: 0xd01n, rip: 5n });
    expect(ev('CR3 + 1', ctx)).toBe(0x1001n);
    expect(ev('efer & (1 << 10)', ctx)).toBe(0x400n);
    expect(err('eax', ctx)).toBe('register rax is not available here at column 1');
    expect(err('zf', fake({}))).toMatch(/register rflags is not available/);
  });
});

describe('names, symbols and fields', () => {
  const ctx = fake({ rax: 5n, rip: 0x401000n }, { symbols: { main: 0x401000, 'foo.bar': 0x402000, $tmp: 7, rax: 99 } });
  it('symbols resolve after registers (a symbol named like a register is shadowed)', () => {
    expect(ev('main', ctx)).toBe(0x401000n);
    expect(ev('rip - main', ctx)).toBe(0n);
    expect(ev('foo.bar + $tmp', ctx)).toBe(0x402007n);
    expect(ev('rax', ctx)).toBe(5n);
    const e = err('mian + 1', ctx);
    expect(e).toBe("unknown name 'mian' (not a register or a symbol) at column 1");
  });
  it('exit fields come from withFields(); a field of another exit reason names the problem', () => {
    const c = withFields(ctx, { reason: 'CPUID', leaf: 0x40000000, big: 0xffffffffffffffffn, out: true });
    expect(ev('leaf == 0x40000000', c)).toBe(true);
    expect(ev('big + 1', c)).toBe(0n);
    expect(ev('out && leaf', c)).toBe(true);
    expect(err('port == 0x3f8', c)).toMatch(/^'port' is not a field of this exit \(CPUID\)/);
    expect(ev('reason == "IO_INSTRUCTION" && port == 0x3f8', c)).toBe(false); // short-circuit: port never looked up
    expect(ev('reason == "CPUID" || port', c)).toBe(true);
    expect(evaluateText('x', { reg: () => undefined, field: () => 1.5 })).toEqual({ ok: false, error: 'field x has a value that is not an integer (1.5) at column 1' });
  });
  it('strings compare only for equality; mixing kinds is an error at the operator', () => {
    const c = withFields(ctx, { reason: 'HLT' });
    expect(ev('reason == "HLT"', c)).toBe(true);
    expect(ev('reason != "hlt"', c)).toBe(true);
    expect(col(err('reason == 12', c))).toBe(8);
    expect(err('reason + 1', c)).toMatch(/operator '\+' needs integers, got a string at column 8/);
    expect(err('reason && 1', c)).toMatch(/a string is not true or false/);
    expect(ev('true == 1 && false == 0 && true + true == 2', c)).toBe(true);
  });
});

describe('memory', () => {
  const virt = new Uint8Array(64).map((_, i) => (i * 37 + 11) & 0xff);
  const phys = new Uint8Array(64).map((_, i) => (i * 101 + 3) & 0xff);
  it('byte|word|dword|qword [addr] read little-endian values as DataView does; phys reads guest-physical', () => {
    const ctx = fake({ rsp: 16n, rbx: 3n }, { virt, phys, symbols: { buf: 8 } });
    const V = new DataView(virt.buffer), P = new DataView(phys.buffer);
    expect(ev('byte [rbx]', ctx)).toBe(BigInt(V.getUint8(3)));
    expect(ev('word [rsp + 2]', ctx)).toBe(BigInt(V.getUint16(18, true)));
    expect(ev('dword ptr [buf]', ctx)).toBe(BigInt(V.getUint32(8, true)));
    expect(ev('qword [rsp + 8]', ctx)).toBe(V.getBigUint64(24, true));
    expect(ev('phys dword [0x10]', ctx)).toBe(BigInt(P.getUint32(16, true)));
    expect(ev('phys qword [8 * 2]', ctx)).toBe(P.getBigUint64(16, true));
    expect(ev('DWORD [4] + 1', ctx)).toBe(BigInt(V.getUint32(4, true)) + 1n);
    expect(ev('byte [byte [0] & 7]', ctx)).toBe(BigInt(V.getUint8(V.getUint8(0) & 7)));
    expect(ctx.reads.slice(0, 2)).toEqual(['v1@3', 'v2@12']);
  });
  it('unreadable memory and missing memory access are errors naming the address; -1 wraps to the top of the address space', () => {
    const ctx = fake({}, { virt });
    expect(err('dword [62]', ctx)).toBe('cannot read 4 bytes at guest-virtual 0x3e at column 1');
    expect(err('1 + qword [-8]', ctx)).toBe('cannot read 8 bytes at guest-virtual 0xfffffffffffffff8 at column 5');
    expect(err('phys byte [0]', ctx)).toMatch(/cannot read 1 byte at guest-physical 0x0/);
    expect(err('byte [0]', { reg: () => undefined })).toBe('memory cannot be read here at column 1');
    expect(err('phys [0]', ctx)).toMatch(/say how many bytes/);
    // Without "[" a size keyword is an ordinary name (so a symbol called "word" still works).
    expect(ev('word + 1', fake({}, { symbols: { word: 41 } }))).toBe(42n);
  });
});

describe('signed()', () => {
  it('marks values signed for comparison, division and >>, optionally sign-extending from a narrower width', () => {
    const ctx = fake({ rax: 0xffffffffffffff9cn, rbx: 0xfffffff6n });
    expect(ev('rax < 0', ctx)).toBe(false);
    expect(ev('signed(rax) < 0', ctx)).toBe(true);
    expect(ev('signed(rax)', ctx)).toBe(-100n);
    expect(ev('signed(rax) / 3', ctx)).toBe(-33n);
    expect(ev('signed(ebx)', ctx)).toBe(0xfffffff6n);
    expect(ev('signed(ebx, 32)', ctx)).toBe(-10n);
    expect(ev('signed(0x80, 8)', ctx)).toBe(-128n);
    expect(ev('signed(rax) == rax', ctx)).toBe(true);
    expect(err('signed(rax, 12)', ctx)).toMatch(/must be 8, 16, 32 or 64 at column 13/);
    expect(err('unsigned(rax)', ctx)).toMatch(/unknown function 'unsigned'/);
  });
});

describe('syntax errors carry the column of the offending token', () => {
  const cases: [string, string, RegExp][] = [
    ['rax == ', '', /expected a value, found the end/],
    ['(rax + 1', '', /expected '\)' to close the '\(' at column 1/],
    ['rax + 1)', ')', /unmatched '\)'/],
    ['rax = 5', '=', /use == to compare/],
    ['rax === 5', '=', /use == to compare/],
    ['rax # 5', '#', /unexpected character '#'/],
    ['rax 5', '5', /expected an operator or the end, found the number 5/],
    ['* 3', '*', /expected a value, found '\*'/],
    ['dword [rax', '', /expected '\]' to close the '\[' at column 7/],
    ['dword ptr rax', 'rax', /expected '\[' after the size keyword/],
    ['signed(1, 8', '', /to close signed\(/],
    ['1 +\t@', '@', /unexpected character '@'/],
  ];
  for (const [src, at, msg] of cases) {
    it(JSON.stringify(src), () => {
      const p = parseExpression(src);
      expect(p.ok).toBe(false);
      if (p.ok) return;
      expect(p.error).toMatch(msg);
      expect(col(p.error)).toBe(at === '' ? src.length + 1 : src.indexOf(at, at === '=' ? 4 : 0) + 1);
    });
  }
  it('division and modulo by zero are evaluation errors at the operator', () => {
    expect(err('rax / (rbx - 2)', fake({ rax: 1n, rbx: 2n }))).toBe('division by zero at column 5');
    expect(err('7 % 0')).toBe('modulo by zero at column 3');
    expect(ev('0 && 1 / 0', fake({}))).toBe(false);
    expect(ev('1 || 1 / 0', fake({}))).toBe(true);
  });
  it('limits: length, size and nesting are refused with a message, not a stack overflow', () => {
    expect(parseExpression('1'.repeat(MAX_EXPRESSION_LENGTH + 1))).toEqual({ ok: false, error: `expression longer than ${MAX_EXPRESSION_LENGTH} characters` });
    expect(parseExpression('('.repeat(2000) + '1' + ')'.repeat(2000)).ok).toBe(false);
    expect(parseExpression('-'.repeat(4000) + '1').ok).toBe(false);
    const deep = parseExpression('('.repeat(90) + '1' + ')'.repeat(90));
    expect(deep.ok).toBe(true);
    const long = parseExpression(Array(1500).fill('1').join('+'));
    expect(long.ok ? 'ok' : long.error).toMatch(/expression too large/);
    const chain = parseExpression(Array(500).fill('rax').join('+')); // 999 nodes, a left-deep tree 500 levels deep
    expect(chain.ok).toBe(true);
    if (chain.ok) expect(evaluate(chain.expr, fake({ rax: 1n }))).toEqual({ ok: true, value: 500n });
  });
});

describe('conditions', () => {
  const ctx = fake({ rax: 5n, rcx: 0n });
  it('true/false from booleans and integers; blank means always', () => {
    const c = compileCondition('rax == 5');
    expect(c.ok && c.test(ctx)).toBe(true);
    const d = compileCondition('rax == 6');
    expect(d.ok && d.test(ctx)).toBe(false);
    const i = compileCondition('rcx');
    expect(i.ok && i.test(ctx)).toBe(false);
    const b = compileCondition('   ');
    expect(b.ok && b.test(ctx)).toBe(true);
  });
  it('a condition that fails to evaluate stops, and says why; one that fails to parse is refused', () => {
    const c = compileCondition('rax / rcx == 1');
    if (!c.ok) throw new Error(c.error);
    expect(c.test(ctx)).toBe(true);
    expect(c.check(ctx)).toEqual({ stop: true, error: "condition 'rax / rcx == 1' failed: division by zero at column 5" });
    expect(c.check(fake({ rax: 5n, rcx: 5n }))).toEqual({ stop: true });
    expect(c.check(fake({ rax: 5n, rcx: 1n }))).toEqual({ stop: false });
    const s = compileCondition('"x"');
    expect(s.ok && s.check(ctx).error).toMatch(/is a string/);
    expect(compileCondition('rax ==')).toEqual({ ok: false, error: 'expected a value, found the end of the expression at column 7' });
    // A context whose callbacks throw does not throw through the condition.
    const t = compileCondition('rax');
    expect(t.ok && t.check({ reg: () => { throw new RangeError('boom'); } })).toEqual({ stop: true, error: "condition 'rax' failed: evaluation failed: boom" });
  });
});

describe('hit conditions (VS Code JavaScript debugger syntax)', () => {
  // Reference: vscode-js-debug's hitCondition regex (>, >=, =, ==, ===, <, <=, %; bare N is == N), hits counted from 1.
  const hits = Array.from({ length: 20 }, (_, i) => i + 1);
  const stops = (src: string): number[] => { const c = compileHitCondition(src); if (!c.ok) throw new Error(c.error); return hits.filter((h) => c.test(h)); };
  it('each operator', () => {
    expect(stops('>= 3')).toEqual(hits.slice(2));
    expect(stops('>3')).toEqual(hits.slice(3));
    expect(stops('< 3')).toEqual([1, 2]);
    expect(stops('<= 3')).toEqual([1, 2, 3]);
    expect(stops('== 4')).toEqual([4]);
    expect(stops('=4')).toEqual([4]);
    expect(stops('===4')).toEqual([4]);
    expect(stops('4')).toEqual([4]);
    expect(stops(' 4 ')).toEqual([4]);
    expect(stops('% 2')).toEqual([2, 4, 6, 8, 10, 12, 14, 16, 18, 20]);
    expect(stops('%5')).toEqual([5, 10, 15, 20]);
    expect(stops('!= 1')).toEqual(hits.slice(1));
  });
  it('malformed hit conditions are refused', () => {
    for (const s of ['', '>', '=> 3', '% 0', 'rax', '3 4', '-1', '1e3', '99999999999999999999'])
      expect(compileHitCondition(s).ok, s).toBe(false);
  });
});

describe('log messages and value formatting', () => {
  const ctx = withFields(fake({ rax: 0x41n, rip: 0x1000n }, { virt: new Uint8Array([1, 2, 3, 4]) }), { reason: 'IO_INSTRUCTION', port: 0x3f8 });
  it('interpolates {expr}, {expr:d}; strings unquoted; {{ }} literal; errors inline', () => {
    expect(formatLogMessage('out {port} al={rax & 0xff:d} at {rip}', ctx)).toBe('out 0x3f8 al=65 at 0x1000');
    expect(formatLogMessage('{reason}: {reason == "IO_INSTRUCTION"}', ctx)).toBe('IO_INSTRUCTION: true');
    expect(formatLogMessage('{{literal}} {dword [0]}', ctx)).toBe('{literal} 0x4030201');
    expect(formatLogMessage('{signed(-5):d} {signed(-5)}', ctx)).toBe('-5 -0x5');
    expect(formatLogMessage('a {nope} b', ctx)).toBe("a <error: unknown name 'nope' (not a register, a field of this exit or a symbol) at column 1> b");
    expect(formatLogMessage('{1/0}', ctx)).toBe('<error: division by zero at column 2>');
    expect(formatLogMessage('{reason == "}"}!', ctx)).toBe('false!');
    expect(formatLogMessage('x {rax', ctx)).toBe("x <error: '{' at column 3 is not closed>");
    expect(formatLogMessage('no braces', ctx)).toBe('no braces');
    expect(formatLogMessage('{}', ctx)).toMatch(/^<error: expected a value/);
  });
  it('formatValue: hex integers, signed negatives, booleans, quoted strings', () => {
    expect(formatValue(0n)).toBe('0x0');
    expect(formatValue(0xffffffffffffffffn)).toBe('0xffffffffffffffff');
    expect(formatValue(-16n)).toBe('-0x10');
    expect(formatValue(true)).toBe('true');
    expect(formatValue('HLT')).toBe('"HLT"');
  });
});

describe('fuzz', () => {
  it('random text never throws, returns a typed result, and stays fast', () => {
    let seed = 12345;
    const rnd = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed / 2 ** 32; };
    const alphabet = ['rax', 'eax', 'zf', ' ', '(', ')', '[', ']', '+', '-', '*', '/', '%', '<<', '>>', '<', '>', '=', '==', '!', '~', '&', '&&', '|', '||', '^',
      '0x', '0b', '1', '9', 'f', '_', '"', '\\', 'dword', 'phys', 'byte', 'ptr', 'signed', ',', '{', '}', ':d', 'port', '.', '$', '\u00e9', '\u0000', '\n', '64', '0'];
    const ctx = withFields(fake({ rax: 3n, rflags: 0x46n }, { virt: new Uint8Array(256), symbols: { main: 16 } }), { port: 0x3f8, reason: 'IO_INSTRUCTION' });
    const t0 = Date.now();
    let parsed = 0, evaluated = 0;
    const seeds = ['port == 0x3f8 && out', 'signed(dword [rax + 8], 32) < -1', 'phys qword [main] >> 3', '(rax + 1) * 2 % 7 == zf',
      'reason == "IO_INSTRUCTION" || !(eax & 0b1_0)', '{rax:d} and {port}', '~rax ^ 0o17 | 1 << 63'];
    for (let i = 0; i < 20000; i++) {
      let s = '';
      if (i % 2 === 0) {
        const n = Math.floor(rnd() * 24);
        for (let k = 0; k < n; k++) s += rnd() < 0.1 ? String.fromCharCode(Math.floor(rnd() * 0x3000)) : alphabet[Math.floor(rnd() * alphabet.length)];
      } else {
        s = seeds[Math.floor(rnd() * seeds.length)];
        for (let m = Math.floor(rnd() * 3); m >= 0; m--) {
          const at = Math.floor(rnd() * (s.length + 1)), what = rnd();
          const piece = what < 0.5 ? alphabet[Math.floor(rnd() * alphabet.length)] : '';
          s = s.slice(0, at) + piece + s.slice(at + (what < 0.25 ? 0 : 1 + Math.floor(rnd() * 3)));
        }
      }
      const p = parseExpression(s);
      if (p.ok) {
        parsed++;
        const r = evaluate(p.expr, ctx);
        if (r.ok) evaluated++;
        else expect(r.error).toMatch(/at column \d+$/);
      } else {
        expect(typeof p.error).toBe('string');
      }
      expect(typeof formatLogMessage(s, ctx)).toBe('string');
      const c = compileCondition(s);
      if (c.ok) expect(typeof c.test(ctx)).toBe('boolean');
      compileHitCondition(s);
    }
    expect(parsed).toBeGreaterThan(2000);
    expect(evaluated).toBeGreaterThan(1000);
    expect(Date.now() - t0).toBeLessThan(15000);
  });
});
