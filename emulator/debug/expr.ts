// Debugger expression language (conditions, hit conditions, logpoints, watch/hover): lexer, Pratt parser, evaluator.
import { ALL_EXIT_FIELD_NAMES } from './exit-fields.js';

/**
 * The expression language.
 *
 * Grammar (C precedence, lowest first; all binary operators left-associative):
 *   ||   &&   |   ^   &   == !=   < <= > >=   << >>   + -   * / %   unary - + ~ !   primary
 * primary:  integer (123, 0x7f, 0b101, 0o17, with `_` separators) | "string" | true | false | name
 *           | ( expr ) | [phys] byte|word|dword|qword [ptr] [ expr ] | signed(expr [, 8|16|32|64])
 * Names resolve in this order: registers (case-insensitive; sub-registers and flags are derived from
 * rax..r15, rip and rflags, SDM vol. 1 §3.4.1, §3.4.3), exit fields (VM-exit conditions), image symbols.
 *
 * Semantics (decided here, documented for the adapter's help text):
 * - C's precedence is kept with its wart: `rax & 0xff == 1` is `rax & (0xff == 1)`; write `(rax & 0xff) == 1`.
 * - Integers are 64-bit two's complement (BigInt, every result wrapped to 64 bits). Comparisons, division,
 *   modulo and >> are UNSIGNED unless an operand is marked with `signed(x)` (optionally sign-extending from
 *   8/16/32 bits first); signedness propagates through arithmetic (for shifts: from the left operand).
 *   A signed result is reported as a negative bigint; an unsigned one as 0 .. 2^64-1.
 * - Shift counts are not masked (unlike x86 SHL): a count >= 64 gives 0 (or all sign bits for signed >>).
 * - Division or modulo by zero is an evaluation error. Signed MIN / -1 wraps to MIN (remainder 0).
 * - Booleans convert to 0/1 in arithmetic (as in C); integers are true when non-zero; strings only compare
 *   with == and != (case-sensitive), anything else with a string is an error.
 * - && and || short-circuit: `reason == "IO_INSTRUCTION" && port == 0x3f8` never touches `port` on other exits.
 * - A breakpoint condition that fails to evaluate counts as TRUE (the debugger stops and shows the error),
 *   so a typo never silently skips a stop. A condition that fails to parse is rejected when set.
 * - Limits: 4096 characters, 1000 nodes, nesting depth 100; no eval, no host exceptions escape.
 */
export type Value = bigint | boolean | string;

/** What an expression may read; the adapter builds one per stop. */
export interface EvalContext {
  /** A register by lower-case name (64-bit names, rip, rflags, control registers, ...); undefined: not a register. */
  reg(name: string): bigint | undefined;
  /** Exit fields (see exit-fields.ts), exact name. */
  field?(name: string): number | bigint | boolean | string | undefined;
  /** An image symbol's address, exact name. */
  symbol?(name: string): number | undefined;
  /** Side-effect free memory read (little-endian value); undefined: unreadable. */
  readMemory?(address: bigint, size: 1 | 2 | 4 | 8, physical: boolean): bigint | undefined;
}

/** The name api.ts uses for the evaluation context of conditions. */
export type ConditionContext = EvalContext;

export type UnaryOp = '-' | '+' | '~' | '!';
export type BinaryOp = '*' | '/' | '%' | '+' | '-' | '<<' | '>>' | '<' | '<=' | '>' | '>=' | '==' | '!=' | '&' | '^' | '|' | '&&' | '||';

/** A parsed expression; `col` is the 1-based column of the node's operator or first character. */
export type Expr =
  | { kind: 'int'; col: number; value: bigint }
  | { kind: 'str'; col: number; value: string }
  | { kind: 'bool'; col: number; value: boolean }
  | { kind: 'name'; col: number; name: string }
  | { kind: 'unary'; col: number; op: UnaryOp; arg: Expr }
  | { kind: 'binary'; col: number; op: BinaryOp; left: Expr; right: Expr }
  | { kind: 'mem'; col: number; size: 1 | 2 | 4 | 8; physical: boolean; addr: Expr }
  | { kind: 'signed'; col: number; bits: 8 | 16 | 32 | 64; arg: Expr };

export const MAX_EXPRESSION_LENGTH = 4096;
export const MAX_EXPRESSION_NODES = 1000;
export const MAX_NESTING = 100;

// ------------------------------------------------------------------------------------------------ lexer

type Tok =
  | { t: 'int'; col: number; value: bigint }
  | { t: 'str'; col: number; value: string }
  | { t: 'id'; col: number; value: string }
  | { t: 'op'; col: number; value: string }
  | { t: 'end'; col: number };

class ExprError extends Error {
  constructor(readonly col: number, readonly msg: string) { super(msg); }
  get text(): string { return `${this.msg} at column ${this.col}`; }
}

const OPS2 = ['<<', '>>', '<=', '>=', '==', '!=', '&&', '||'];
const OPS1 = '+-*/%~!<>&^|()[],';
const isDigit = (c: string): boolean => c >= '0' && c <= '9';
const isIdStart = (c: string): boolean => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_' || c === '$' || c === '.';
const isIdPart = (c: string): boolean => isIdStart(c) || isDigit(c) || c === '@';
const U64 = (1n << 64n) - 1n;

function lexNumber(text: string, col: number): bigint {
  let radix = 10, digits = text, what = 'decimal';
  const p = text.slice(0, 2).toLowerCase();
  if (p === '0x') { radix = 16; digits = text.slice(2); what = 'hex'; }
  else if (p === '0b') { radix = 2; digits = text.slice(2); what = 'binary'; }
  else if (p === '0o') { radix = 8; digits = text.slice(2); what = 'octal'; }
  if (digits === '') throw new ExprError(col, `${what} literal '${text}' has no digits`);
  if (digits.startsWith('_') || digits.endsWith('_') || digits.includes('__')) {
    throw new ExprError(col, `misplaced '_' in literal '${text}' (only single separators between digits)`);
  }
  let v = 0n;
  const R = BigInt(radix);
  for (let i = 0; i < digits.length; i++) {
    const c = digits[i];
    if (c === '_') continue;
    const d = parseInt(c, 36);
    if (Number.isNaN(d) || d >= radix) {
      throw new ExprError(col + (text.length - digits.length) + i, `invalid digit '${c}' in ${what} literal '${text}'`);
    }
    v = v * R + BigInt(d);
    if (v > U64) throw new ExprError(col, `integer literal '${text}' does not fit in 64 bits`);
  }
  return v;
}

function lex(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i], col = i + 1;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') { i++; continue; }
    if (isDigit(c)) {
      let j = i;
      while (j < src.length && (isIdPart(src[j]) && src[j] !== '.' && src[j] !== '$' && src[j] !== '@')) j++;
      toks.push({ t: 'int', col, value: lexNumber(src.slice(i, j), col) });
      i = j;
      continue;
    }
    if (isIdStart(c)) {
      let j = i + 1;
      while (j < src.length && isIdPart(src[j])) j++;
      toks.push({ t: 'id', col, value: src.slice(i, j) });
      i = j;
      continue;
    }
    if (c === '"') {
      let j = i + 1, s = '';
      for (;;) {
        if (j >= src.length) throw new ExprError(col, 'unterminated string (missing closing ")');
        const d = src[j];
        if (d === '"') { j++; break; }
        if (d === '\\') {
          const e = src[j + 1];
          if (e === '"' || e === '\\') s += e;
          else if (e === 'n') s += '\n';
          else if (e === 't') s += '\t';
          else throw new ExprError(j + 1, `unknown escape '\\${e ?? ''}' in string (use \\" \\\\ \\n \\t)`);
          j += 2;
          continue;
        }
        s += d;
        j++;
      }
      toks.push({ t: 'str', col, value: s });
      i = j;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (src.startsWith('===', i)) throw new ExprError(col, "'===' is not an operator; use == to compare");
    if (OPS2.includes(two)) { toks.push({ t: 'op', col, value: two }); i += 2; continue; }
    if (c === '=') throw new ExprError(col, "'=' is not an operator (assignment is not allowed); use == to compare");
    if (OPS1.includes(c)) { toks.push({ t: 'op', col, value: c }); i++; continue; }
    const shown = JSON.stringify(c).slice(1, -1);
    throw new ExprError(col, `unexpected character '${shown}'`);
  }
  toks.push({ t: 'end', col: src.length + 1 });
  return toks;
}

// ------------------------------------------------------------------------------------------------ parser

/** Binding power of each binary operator (C precedence, higher binds tighter). */
const BP: Record<BinaryOp, number> = {
  '||': 1, '&&': 2, '|': 3, '^': 4, '&': 5, '==': 6, '!=': 6, '<': 7, '<=': 7, '>': 7, '>=': 7,
  '<<': 8, '>>': 8, '+': 9, '-': 9, '*': 10, '/': 10, '%': 10,
};
const SIZES: Record<string, 1 | 2 | 4 | 8> = { byte: 1, word: 2, dword: 4, qword: 8 };

class Parser {
  private pos = 0;
  private nodes = 0;
  private depth = 0;
  constructor(private readonly toks: Tok[]) {}

  private peek(k = 0): Tok { return this.toks[Math.min(this.pos + k, this.toks.length - 1)]; }
  private next(): Tok { const t = this.peek(); if (this.pos < this.toks.length - 1) this.pos++; return t; }
  private isOp(v: string, k = 0): boolean { const t = this.peek(k); return t.t === 'op' && t.value === v; }
  private expect(v: string, what: string): Tok {
    const t = this.peek();
    if (t.t === 'op' && t.value === v) return this.next();
    throw new ExprError(t.col, `expected '${v}' ${what}, found ${describe(t)}`);
  }
  private node<E extends Expr>(e: E): E {
    if (++this.nodes > MAX_EXPRESSION_NODES) throw new ExprError(e.col, `expression too large (more than ${MAX_EXPRESSION_NODES} terms)`);
    return e;
  }

  parseAll(): Expr {
    const e = this.expr(0);
    const t = this.peek();
    if (t.t !== 'end') {
      throw new ExprError(t.col, t.t === 'op' && t.value === ')' ? "unmatched ')'" : `expected an operator or the end, found ${describe(t)}`);
    }
    return e;
  }

  private expr(minBp: number): Expr {
    if (++this.depth > MAX_NESTING) throw new ExprError(this.peek().col, `expression nested too deeply (more than ${MAX_NESTING} levels)`);
    let left = this.prefix();
    for (;;) {
      const t = this.peek();
      if (t.t !== 'op' || !(t.value in BP)) break;
      const op = t.value as BinaryOp, bp = BP[op];
      if (bp <= minBp) break;
      this.next();
      const right = this.expr(bp); // left-associative: the right side takes only tighter operators
      left = this.node({ kind: 'binary', col: t.col, op, left, right });
    }
    this.depth--;
    return left;
  }

  private prefix(): Expr {
    const t = this.next();
    switch (t.t) {
      case 'int': return this.node({ kind: 'int', col: t.col, value: t.value });
      case 'str': return this.node({ kind: 'str', col: t.col, value: t.value });
      case 'end': throw new ExprError(t.col, 'expected a value, found the end of the expression');
      case 'op':
        if (t.value === '(') {
          const e = this.expr(0);
          this.expect(')', `to close the '(' at column ${t.col}`);
          return e;
        }
        if (t.value === '-' || t.value === '+' || t.value === '~' || t.value === '!') {
          if (++this.depth > MAX_NESTING) throw new ExprError(t.col, `expression nested too deeply (more than ${MAX_NESTING} levels)`);
          const arg = this.prefix();
          this.depth--;
          return this.node({ kind: 'unary', col: t.col, op: t.value, arg });
        }
        throw new ExprError(t.col, `expected a value, found ${describe(t)}`);
      case 'id': {
        const lower = t.value.toLowerCase();
        if (lower === 'true' || lower === 'false') return this.node({ kind: 'bool', col: t.col, value: lower === 'true' });
        if (lower === 'phys') {
          const s = this.peek();
          if (s.t === 'id' && s.value.toLowerCase() in SIZES) { this.next(); return this.memory(t.col, SIZES[s.value.toLowerCase()], true); }
          if (s.t === 'op' && s.value === '[') throw new ExprError(s.col, "say how many bytes to read: phys byte|word|dword|qword [address]");
        }
        if (lower in SIZES && (this.isOp('[') || (this.peek().t === 'id' && (this.peek() as { value: string }).value.toLowerCase() === 'ptr'))) {
          return this.memory(t.col, SIZES[lower], false);
        }
        if (lower === 'signed' && this.isOp('(')) return this.signed(t.col);
        if (this.isOp('(')) throw new ExprError(t.col, `unknown function '${t.value}' (the only function is signed(x [, bits]))`);
        return this.node({ kind: 'name', col: t.col, name: t.value });
      }
    }
  }

  private memory(col: number, size: 1 | 2 | 4 | 8, physical: boolean): Expr {
    const p = this.peek();
    if (p.t === 'id' && p.value.toLowerCase() === 'ptr') this.next();
    const open = this.expect('[', 'after the size keyword (e.g. dword [rsp + 8])');
    const addr = this.expr(0);
    this.expect(']', `to close the '[' at column ${open.col}`);
    return this.node({ kind: 'mem', col, size, physical, addr });
  }

  private signed(col: number): Expr {
    this.expect('(', 'after signed');
    const arg = this.expr(0);
    let bits: 8 | 16 | 32 | 64 = 64;
    if (this.isOp(',')) {
      this.next();
      const b = this.next();
      if (b.t !== 'int' || ![8n, 16n, 32n, 64n].includes(b.value)) throw new ExprError(b.col, 'the width of signed(x, bits) must be 8, 16, 32 or 64');
      bits = Number(b.value) as 8 | 16 | 32 | 64;
    }
    this.expect(')', `to close signed( at column ${col}`);
    return this.node({ kind: 'signed', col, bits, arg });
  }
}

function describe(t: Tok): string {
  switch (t.t) {
    case 'end': return 'the end of the expression';
    case 'int': return `the number ${t.value}`;
    case 'str': return 'a string';
    case 'id': return `'${t.value}'`;
    case 'op': return `'${t.value}'`;
  }
}

export function parseExpression(src: string): { ok: true; expr: Expr } | { ok: false; error: string } {
  if (typeof src !== 'string') return { ok: false, error: 'the expression is not text' };
  if (src.length > MAX_EXPRESSION_LENGTH) return { ok: false, error: `expression longer than ${MAX_EXPRESSION_LENGTH} characters` };
  try {
    return { ok: true, expr: new Parser(lex(src)).parseAll() };
  } catch (e) {
    if (e instanceof ExprError) return { ok: false, error: e.text };
    return { ok: false, error: `cannot parse the expression (${String(e)})` };
  }
}

// ------------------------------------------------------------------------------------------------ evaluator

/** Internal value: integers are kept as their 64-bit pattern (0 .. 2^64-1) plus a signedness mark. */
type V = { k: 'int'; v: bigint; s: boolean } | { k: 'bool'; v: boolean } | { k: 'str'; v: string };

const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const i64 = (v: bigint): bigint => BigInt.asIntN(64, v);
const int = (v: bigint, s = false): V => ({ k: 'int', v: u64(v), s });

const GPR64 = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
/** Derived registers: name → [base register, shift, width in bits] (SDM vol. 1 §3.4.1.1 figure 3-5, §3.4.3 figure 3-8). */
const DERIVED = new Map<string, [string, number, number]>();
{
  const legacy = ['ax', 'bx', 'cx', 'dx', 'si', 'di', 'bp', 'sp'];
  legacy.forEach((n, i) => {
    const base = GPR64[i];
    DERIVED.set('e' + n, [base, 0, 32]);
    DERIVED.set(n, [base, 0, 16]);
    DERIVED.set(i < 4 ? n[0] + 'l' : n + 'l', [base, 0, 8]);
    if (i < 4) DERIVED.set(n[0] + 'h', [base, 8, 8]);
  });
  for (let r = 8; r < 16; r++) {
    DERIVED.set(`r${r}d`, [`r${r}`, 0, 32]);
    DERIVED.set(`r${r}w`, [`r${r}`, 0, 16]);
    DERIVED.set(`r${r}b`, [`r${r}`, 0, 8]);
  }
  DERIVED.set('eip', ['rip', 0, 32]);
  DERIVED.set('ip', ['rip', 0, 16]);
  DERIVED.set('eflags', ['rflags', 0, 32]);
  DERIVED.set('flags', ['rflags', 0, 16]);
  // RFLAGS status and control bits (SDM vol. 1 §3.4.3, figure 3-8).
  const FLAGS: [string, number][] = [['cf', 0], ['pf', 2], ['af', 4], ['zf', 6], ['sf', 7], ['tf', 8], ['if', 9], ['df', 10], ['of', 11]];
  for (const [n, b] of FLAGS) DERIVED.set(n, ['rflags', b, 1]);
}

/** Every register name the language derives itself (for completion and hover docs). */
export const DERIVED_REGISTER_NAMES: readonly string[] = [...DERIVED.keys()];

function fromHost(x: number | bigint | boolean | string, what: string, col: number): V {
  if (typeof x === 'bigint') return int(x);
  if (typeof x === 'boolean') return { k: 'bool', v: x };
  if (typeof x === 'string') return { k: 'str', v: x };
  if (typeof x === 'number' && Number.isSafeInteger(x)) return int(BigInt(x));
  throw new ExprError(col, `${what} has a value that is not an integer (${String(x)})`);
}

function toInt(x: V, op: string, col: number): { v: bigint; s: boolean } {
  if (x.k === 'int') return x;
  if (x.k === 'bool') return { v: x.v ? 1n : 0n, s: false };
  throw new ExprError(col, `operator '${op}' needs integers, got a string`);
}

function truth(x: V, op: string, col: number): boolean {
  if (x.k === 'bool') return x.v;
  if (x.k === 'int') return x.v !== 0n;
  throw new ExprError(col, `a string is not true or false (${op}); compare it instead, e.g. reason == "HLT"`);
}

function lookup(name: string, col: number, ctx: EvalContext): V {
  const lower = name.toLowerCase();
  const d = DERIVED.get(lower);
  if (d !== undefined) {
    const base = ctx.reg(d[0]);
    if (base === undefined) throw new ExprError(col, `register ${d[0]} is not available here`);
    return int((u64(base) >> BigInt(d[1])) & ((1n << BigInt(d[2])) - 1n));
  }
  const r = ctx.reg(lower);
  if (r !== undefined) return fromHost(r, `register ${lower}`, col);
  const f = ctx.field?.(name);
  if (f !== undefined) return fromHost(f, `field ${name}`, col);
  const s = ctx.symbol?.(name);
  if (s !== undefined) return fromHost(s, `symbol ${name}`, col);
  if (ctx.field && ALL_EXIT_FIELD_NAMES.includes(name)) {
    const reason = ctx.field('reason');
    throw new ExprError(col, `'${name}' is not a field of this exit${typeof reason === 'string' ? ` (${reason})` : ''}; guard it, e.g. reason == "IO_INSTRUCTION" && ...`);
  }
  const hint = ctx.field ? ' (not a register, a field of this exit or a symbol)' : ' (not a register or a symbol)';
  throw new ExprError(col, `unknown name '${name}'${hint}`);
}

function hex(v: bigint): string { return v < 0n ? '-0x' + (-v).toString(16) : '0x' + v.toString(16); }

function ev(e: Expr, ctx: EvalContext): V {
  switch (e.kind) {
    case 'int': return int(e.value);
    case 'str': return { k: 'str', v: e.value };
    case 'bool': return { k: 'bool', v: e.value };
    case 'name': return lookup(e.name, e.col, ctx);
    case 'signed': {
      const a = toInt(ev(e.arg, ctx), 'signed', e.col);
      return int(BigInt.asIntN(e.bits, a.v), true);
    }
    case 'mem': {
      const a = toInt(ev(e.addr, ctx), '[ ]', e.col);
      const addr = a.v;
      if (ctx.readMemory === undefined) throw new ExprError(e.col, 'memory cannot be read here');
      const m = ctx.readMemory(addr, e.size, e.physical);
      if (m === undefined) {
        throw new ExprError(e.col, `cannot read ${e.size} byte${e.size === 1 ? '' : 's'} at ${e.physical ? 'guest-physical' : 'guest-virtual'} ${hex(addr)}`);
      }
      return int(BigInt.asUintN(e.size * 8, m));
    }
    case 'unary': {
      const a = ev(e.arg, ctx);
      if (e.op === '!') return { k: 'bool', v: !truth(a, '!', e.col) };
      const x = toInt(a, e.op, e.col);
      if (e.op === '-') return int(-x.v, x.s);
      if (e.op === '~') return int(~x.v, x.s);
      return int(x.v, x.s);
    }
    case 'binary': return binary(e, ctx);
  }
}

function binary(e: Extract<Expr, { kind: 'binary' }>, ctx: EvalContext): V {
  const { op, col } = e;
  if (op === '&&' || op === '||') {
    const l = truth(ev(e.left, ctx), op, col);
    if (op === '&&' ? !l : l) return { k: 'bool', v: l };
    return { k: 'bool', v: truth(ev(e.right, ctx), op, col) };
  }
  const L = ev(e.left, ctx), R = ev(e.right, ctx);
  if (op === '==' || op === '!=') {
    let eq: boolean;
    if (L.k === 'str' || R.k === 'str') {
      if (L.k !== R.k) throw new ExprError(col, `cannot compare a string with ${L.k === 'str' ? describeKind(R) : describeKind(L)}`);
      eq = L.v === R.v;
    } else {
      eq = toInt(L, op, col).v === toInt(R, op, col).v; // same 64-bit pattern (signedness does not matter)
    }
    return { k: 'bool', v: op === '==' ? eq : !eq };
  }
  const a = toInt(L, op, col), b = toInt(R, op, col);
  const s = a.s || b.s;
  const av = s ? i64(a.v) : a.v, bv = s ? i64(b.v) : b.v;
  switch (op) {
    case '<': return { k: 'bool', v: av < bv };
    case '<=': return { k: 'bool', v: av <= bv };
    case '>': return { k: 'bool', v: av > bv };
    case '>=': return { k: 'bool', v: av >= bv };
    case '+': return int(a.v + b.v, s);
    case '-': return int(a.v - b.v, s);
    case '*': return int(a.v * b.v, s);
    case '/':
    case '%':
      if (b.v === 0n) throw new ExprError(col, op === '/' ? 'division by zero' : 'modulo by zero');
      return int(op === '/' ? av / bv : av % bv, s); // BigInt truncates toward zero as C does
    case '&': return int(a.v & b.v, s);
    case '|': return int(a.v | b.v, s);
    case '^': return int(a.v ^ b.v, s);
    case '<<': return int(b.v >= 64n ? 0n : a.v << b.v, a.s);
    case '>>':
      if (a.s) return int(i64(a.v) >> (b.v >= 64n ? 63n : b.v), true);
      return int(b.v >= 64n ? 0n : a.v >> b.v, false);
  }
}

function describeKind(v: V): string { return v.k === 'int' ? 'an integer' : v.k === 'bool' ? 'a boolean' : 'a string'; }

function outward(v: V): Value { return v.k === 'int' ? (v.s ? i64(v.v) : v.v) : v.v; }

export function evaluate(expr: Expr, ctx: EvalContext): { ok: true; value: Value } | { ok: false; error: string } {
  try {
    return { ok: true, value: outward(ev(expr, ctx)) };
  } catch (e) {
    if (e instanceof ExprError) return { ok: false, error: e.text };
    return { ok: false, error: `evaluation failed: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** Parse and evaluate in one go (watch, hover, debug console). */
export function evaluateText(src: string, ctx: EvalContext): { ok: true; value: Value } | { ok: false; error: string } {
  const p = parseExpression(src);
  return p.ok ? evaluate(p.expr, ctx) : p;
}

// ------------------------------------------------------------------------------------------------ conditions

export interface ConditionOutcome {
  /** Whether to stop: the condition's truth, or true when it could not be evaluated. */
  stop: boolean;
  /** The evaluation error, when there was one (show it with the stop). */
  error?: string;
}

export interface CompiledCondition {
  ok: true;
  /** Whether to stop (errors count as true). */
  test(ctx: EvalContext): boolean;
  /** Whether to stop, with the error text when the condition failed to evaluate. */
  check(ctx: EvalContext): ConditionOutcome;
}

/** A breakpoint or exit-filter condition; blank text means "always". Values: booleans, or integers (non-zero = true). */
export function compileCondition(src: string): CompiledCondition | { ok: false; error: string } {
  if (typeof src === 'string' && src.trim() === '') {
    return { ok: true, test: () => true, check: () => ({ stop: true }) };
  }
  const p = parseExpression(src);
  if (!p.ok) return p;
  const expr = p.expr;
  const check = (ctx: EvalContext): ConditionOutcome => {
    const r = evaluate(expr, ctx);
    if (!r.ok) return { stop: true, error: `condition '${src}' failed: ${r.error}` };
    if (typeof r.value === 'string') return { stop: true, error: `condition '${src}' is a string, not true or false` };
    return { stop: typeof r.value === 'boolean' ? r.value : r.value !== 0n };
  };
  return { ok: true, check, test: (ctx) => check(ctx).stop };
}

/**
 * A hit condition as VS Code's JavaScript debugger reads it: `[op] N` with op one of > >= < <= = == === != %,
 * a bare N meaning == N, and `% N` meaning every Nth hit. `hits` counts the current hit (1 = first time reached,
 * counted only when the condition, if any, was true).
 */
export function compileHitCondition(src: string): { ok: true; test(hits: number): boolean } | { ok: false; error: string } {
  if (typeof src !== 'string') return { ok: false, error: 'the hit condition is not text' };
  const m = /^\s*(>=|<=|===|==|!=|=|>|<|%)?\s*(0x[0-9a-f]+|[0-9]+)\s*$/i.exec(src.length > 100 ? '' : src);
  if (m === null) return { ok: false, error: `invalid hit condition '${src.slice(0, 100)}': use N, == N, >= N, > N, <= N, < N, != N or % N` };
  const n = Number(m[2]);
  if (!Number.isSafeInteger(n)) return { ok: false, error: `hit count ${m[2]} is too large` };
  switch (m[1] ?? '==') {
    case '>': return { ok: true, test: (h) => h > n };
    case '>=': return { ok: true, test: (h) => h >= n };
    case '<': return { ok: true, test: (h) => h < n };
    case '<=': return { ok: true, test: (h) => h <= n };
    case '!=': return { ok: true, test: (h) => h !== n };
    case '%':
      if (n === 0) return { ok: false, error: 'hit condition % 0: the modulus must be at least 1' };
      return { ok: true, test: (h) => h % n === 0 };
    default: return { ok: true, test: (h) => h === n };
  }
}

// ------------------------------------------------------------------------------------------------ formatting

/** Debugger display of a value: integers in hex (negative signed values as -0x..), strings quoted. */
export function formatValue(v: Value): string {
  if (typeof v === 'bigint') return hex(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return JSON.stringify(v);
}

export const MAX_LOG_TEMPLATE_LENGTH = 8192;

/**
 * A logpoint message: text with `{expr}` interpolations; `{expr:d}` shows a decimal, `{expr:x}` hex (the default);
 * strings are inserted without quotes; `{{` and `}}` are literal braces. Errors appear inline as `<error: ...>`.
 */
export function formatLogMessage(template: string, ctx: EvalContext): string {
  if (typeof template !== 'string') return '<error: the log message is not text>';
  if (template.length > MAX_LOG_TEMPLATE_LENGTH) return `<error: log message longer than ${MAX_LOG_TEMPLATE_LENGTH} characters>`;
  let out = '';
  let i = 0;
  while (i < template.length) {
    const c = template[i];
    if (c === '}') { out += '}'; i += template[i + 1] === '}' ? 2 : 1; continue; }
    if (c !== '{') { out += c; i++; continue; }
    if (template[i + 1] === '{') { out += '{'; i += 2; continue; }
    // Find the closing brace, skipping string literals inside the expression.
    let j = i + 1, inStr = false;
    for (; j < template.length; j++) {
      const d = template[j];
      if (inStr) { if (d === '\\') j++; else if (d === '"') inStr = false; }
      else if (d === '"') inStr = true;
      else if (d === '}') break;
    }
    if (j >= template.length) { out += `<error: '{' at column ${i + 1} is not closed>`; break; }
    let body = template.slice(i + 1, j), radix: 'x' | 'd' = 'x';
    const spec = /:\s*([xd])\s*$/.exec(body);
    if (spec) { radix = spec[1] as 'x' | 'd'; body = body.slice(0, spec.index); }
    const r = evaluateText(body, ctx);
    if (!r.ok) out += `<error: ${r.error}>`;
    else if (typeof r.value === 'string') out += r.value;
    else if (typeof r.value === 'bigint' && radix === 'd') out += r.value.toString(10);
    else out += formatValue(r.value);
    i = j + 1;
  }
  return out;
}

/** A context that adds exit fields (and optionally symbols) to a register/memory context. */
export function withFields(base: EvalContext, fields: Record<string, number | bigint | boolean | string>): EvalContext {
  return {
    reg: (n) => base.reg(n),
    field: (n) => (Object.prototype.hasOwnProperty.call(fields, n) ? fields[n] : base.field?.(n)),
    symbol: base.symbol ? (n) => base.symbol!(n) : undefined,
    readMemory: base.readMemory ? (a, s, p) => base.readMemory!(a, s, p) : undefined,
  };
}
