// JavaScript source for a translated block: integer register ALU ops, moves, shifts, near branches inlined with the lazy-flags protocol; every other instruction calls its interpreter handler.
import type { Insn } from '../insn.js';
import { MAP_0F, RSP } from '../insn.js';
import { LF_ADD, LF_DEC, LF_INC, LF_LOGIC, LF_SUB } from '../cpu.js';
import { MID, placement, type Block } from './block.js';

const TWO32 = 4294967296;
/** Canonical 64-bit addresses as numbers (SDM vol. 1 §3.3.7.1). */
const canonical = (v: number): boolean => v >= -140737488355328 && v < 140737488355328;

/**
 * Status flags of the last inline flag-setting instruction, still in JS locals (not yet stored in
 * the Cpu's lazy fields). Expressions are local names or constants; `size` 32 or 64.
 */
interface Pending {
  lop: number;
  size: number;
  a: string; ah: string; b: string; bh: string; r: string; rh: string;
  /** INC/DEC: the local holding the CF they kept. */
  lcf?: string;
}

/** One flag as a JS boolean expression from pending locals. */
function flagExpr(p: Pending, flag: 'cf' | 'zf' | 'sf' | 'of' | 'pf'): string {
  const w = p.size === 64;
  // The top bit of a (lo, hi) pair over the operation size.
  const top = (lo: string, hi: string): string => (w ? `((${hi}) | 0) < 0` : `((${lo}) | 0) < 0`);
  switch (flag) {
    case 'zf': return w ? `(${p.r} | ${p.rh}) === 0` : `${p.r} === 0`;
    case 'sf': return top(p.r, p.rh);
    case 'pf': return `PARITY[${p.r} & 0xff] !== 0`;
    case 'cf':
      switch (p.lop) {
        case LF_LOGIC: return 'false';
        case LF_ADD: return w ? `(${p.rh} !== ${p.ah} ? ${p.rh} < ${p.ah} : ${p.r} < ${p.a})` : `${p.r} < ${p.a}`;
        case LF_SUB: return w ? `(${p.ah} !== ${p.bh} ? ${p.ah} < ${p.bh} : ${p.a} < ${p.b})` : `${p.a} < ${p.b}`;
        default: return `${p.lcf ?? 'c.lcf'} !== 0`; // INC/DEC keep CF
      }
    default: // of
      switch (p.lop) {
        case LF_LOGIC: return 'false';
        case LF_ADD: case LF_INC: return top(`(${p.a} ^ ${p.r}) & (${p.b} ^ ${p.r})`, `(${p.ah} ^ ${p.rh}) & (${p.bh} ^ ${p.rh})`);
        default: return top(`(${p.a} ^ ${p.b}) & (${p.a} ^ ${p.r})`, `(${p.ah} ^ ${p.bh}) & (${p.ah} ^ ${p.rh})`);
      }
  }
}

/** Condition cc (SDM vol. 1 appendix B) as a JS boolean expression. */
function condExpr(cc: number, p: Pending | null): string {
  if (p === null) return `cond(c, ${cc})`;
  const f = (x: 'cf' | 'zf' | 'sf' | 'of' | 'pf'): string => `(${flagExpr(p, x)})`;
  let e: string;
  const sub32 = p.lop === LF_SUB && p.size === 32;
  switch (cc >>> 1) {
    case 0: e = f('of'); break;
    case 1: e = f('cf'); break;
    case 2: e = f('zf'); break;
    case 3: e = sub32 ? `${p.a} <= ${p.b}` : `(${f('cf')} || ${f('zf')})`; break;
    case 4: e = f('sf'); break;
    case 5: e = f('pf'); break;
    case 6: e = sub32 ? `(${p.a} | 0) < (${p.b} | 0)` : `(${f('sf')} !== ${f('of')})`; break;
    default: e = sub32 ? `(${p.a} | 0) <= (${p.b} | 0)` : `(${f('zf')} || ${f('sf')} !== ${f('of')})`; break;
  }
  return (cc & 1) !== 0 ? `!(${e})` : e;
}

/** Generate the factory source of block `b`; the factory takes (I, H, cond, PARITY) and returns the block function. */
export function generateBlockSource(b: Block, allowSelfLoop: boolean): string {
  const out: string[] = [];
  const n = b.insns.length;
  let pending: Pending | null = null;
  const last = b.insns[n - 1];
  const lastRip = b.rip + b.insns.slice(0, n - 1).reduce((s, i) => s + i.length, 0);
  const lastNext = lastRip + last.length;
  // A block whose final branch goes back to its start loops inside the function.
  let selfLoop = false;
  if (allowSelfLoop && last.immSize !== 0 && isRelBranch(last) && relTarget(lastNext, last) === b.rip) selfLoop = true;
  const emit = (s: string): void => { out.push(s); };

  /** Store pending flags into the Cpu's lazy fields (as Cpu.lazy does). */
  const flush = (): void => {
    if (pending === null) return;
    const p = pending;
    emit(`c.lop = ${p.lop}; c.lsize = ${p.size}; c.la = ${p.a}; c.lah = ${p.ah}; c.lb = ${p.b}; c.lbh = ${p.bh}; c.lres = ${p.r}; c.lresh = ${p.rh};`);
    pending = null;
  };
  /** The run loop's state before a handler (or a memory method) runs instruction k at rip. */
  const sync = (k: number, rip: number, next: number): void => {
    flush();
    emit(`c.rip = ${rip}; c.nextRip = ${next}; c.cur = I[${k}]; c.icount = ic + ${k};`);
  };
  /** After a MID call-out: leave the block when the run loop's per-instruction checks could fire. */
  const afterCallOut = (k: number): void => {
    emit(`if (c.stopRequested || c.codeEpoch !== ep || (c.vmx !== null && c.vmx.boundaryPending)) { c.rip = c.nextRip; c.icount = ic + ${k + 1}; return; }`);
  };
  /** Leave after instruction k (the last one) with RIP = target. */
  const leave = (k: number, target: number): void => {
    if (selfLoop && target === b.rip) {
      emit(`ic += ${k + 1}; if (ic + ${n} <= limit) continue; c.rip = ${target}; c.icount = ic; return;`);
    } else emit(`c.rip = ${target}; c.icount = ic + ${k + 1}; return;`);
  };

  emit('return function block(c, limit) {');
  emit('const lo = c.lo, hi = c.hi; let ic = c.icount; const ep = c.codeEpoch;');
  if (selfLoop) emit('for (;;) {');
  let rip = b.rip;
  for (let k = 0; k < n; k++) {
    const i = b.insns[k];
    const next = rip + i.length;
    const isLast = k === n - 1;
    const g = inline(i, k, next);
    if (g !== null) {
      if (g.readsC) flush();
      if (g.killsFlags && pending !== null) pending = null; // dead: the next writer replaces every status flag
      if (g.needsNextRip) emit(`c.nextRip = ${next};`);
      emit(g.code);
      if (g.lcf !== undefined) { emit(`c.lcf = ${g.lcf};`); }
      if (g.setsC) pending = null;
      if (g.pending !== undefined) pending = g.pending;
      if (isLast) { flush(); leave(k, next); }
    } else if (isRelBranch(i) && canonical(relTarget(next, i)) && (i.opcode !== 0xe8 || i.opSize === 64)) {
      const t = relTarget(next, i);
      const op = i.opcode;
      if (op === 0xeb || op === 0xe9) { flush(); leave(k, t); }
      else if (op === 0xe8) {
        sync(k, rip, next);
        emit(`c.push(64, ${next >>> 0}, ${Math.floor(next / TWO32) >>> 0});`);
        leave(k, t);
      } else {
        const cc = op & 0xf;
        emit(`const t${k} = ${condExpr(cc, pending)};`);
        flush();
        emit(`if (t${k}) {`); leave(k, t); emit('}');
        leave(k, next);
      }
    } else if (isLast && placement(i) !== MID) {
      sync(k, rip, next);
      emit(`H[${k}](c, I[${k}]); if (c.vmexitPending) return; c.rip = c.nextRip; c.icount = ic + ${k + 1}; return;`);
    } else {
      const stackOp = stackInline(i, k);
      sync(k, rip, next);
      emit(stackOp ?? `H[${k}](c, I[${k}]);`);
      afterCallOut(k);
      if (isLast) leave(k, next);
    }
    rip = next;
  }
  if (selfLoop) emit('}');
  emit('};');
  return out.join('\n');

  /** Inline forms of register-only instructions (no memory access, no fault). */
  function inline(i: Insn, k: number, _next: number): Gen | null {
    const op = i.opcode;
    const s = i.opSize;
    const reg = i.mod === 3;
    const w = s === 64;
    if (s !== 32 && s !== 64) return null;
    // ALU Ev,Gv / Gv,Ev (00-3B odd forms), rAX,Iz, Grp1 Ev,Iz/Ib, TEST.
    if (op < 0x40 && (op & 7) === 1 && reg) return alu(i, (op >> 3) & 7, i.rm, `R`, i.reg, k);
    if (op < 0x40 && (op & 7) === 3 && reg) return alu(i, (op >> 3) & 7, i.reg, 'R', i.rm, k);
    if (op < 0x40 && (op & 7) === 5) return alu(i, (op >> 3) & 7, 0, 'I', 0, k);
    if ((op === 0x81 || op === 0x83) && reg) return alu(i, i.reg & 7, i.rm, 'I', 0, k);
    if (op === 0x85 && reg) return alu(i, 4, i.rm, 'R', i.reg, k, false);
    if (op === 0xa9) return alu(i, 4, 0, 'I', 0, k, false);
    // MOV
    if ((op === 0x89 && reg) || (op === 0x8b && reg)) {
      const d = op === 0x89 ? i.rm : i.reg, src = op === 0x89 ? i.reg : i.rm;
      return { code: w ? `lo[${d}] = lo[${src}]; hi[${d}] = hi[${src}];` : `lo[${d}] = lo[${src}]; hi[${d}] = 0;` };
    }
    if (op >= 0xb8 && op <= 0xbf) return { code: `lo[${i.reg}] = ${i.imm >>> 0}; hi[${i.reg}] = ${w ? i.immHi >>> 0 : 0};` };
    if (op === 0xc7 && reg && (i.reg & 7) === 0) return { code: `lo[${i.rm}] = ${i.imm >>> 0}; hi[${i.rm}] = ${w ? (i.imm < 0 ? 0xffffffff : 0) : 0};` };
    // INC/DEC Ev (FF /0 /1): CF is kept (read before the new lazy state).
    if (op === 0xff && reg && (i.reg & 7) <= 1) return incdec(i, (i.reg & 7) === 1, k);
    // LEA: the interpreter's own effective-address function (exact in every corner).
    if (op === 0x8d && i.mod !== 3) {
      const e = `e${k}`;
      if (w) return { code: `const ${e} = c.ea(I[${k}]); if (${e} !== ${e}) H[${k}](c, I[${k}]); else { lo[${i.reg}] = ${e} >>> 0; hi[${i.reg}] = Math.floor(${e} / ${TWO32}) >>> 0; }`, needsNextRip: i.ripRel };
      return { code: `const ${e} = c.ea(I[${k}]); lo[${i.reg}] = ${e} >>> 0; hi[${i.reg}] = 0;`, needsNextRip: i.ripRel };
    }
    // MOVSXD r64, r32; MOVZX/MOVSX from registers.
    if (op === 0x63 && reg && w) return { code: `{ const x = lo[${i.rm}]; lo[${i.reg}] = x; hi[${i.reg}] = (x | 0) < 0 ? 0xffffffff : 0; }` };
    if (op === MAP_0F + 0xb6 && reg && (i.rex !== 0 || i.rm < 4)) return { code: `lo[${i.reg}] = lo[${i.rm}] & 0xff; hi[${i.reg}] = 0;` };
    if (op === MAP_0F + 0xb7 && reg) return { code: `lo[${i.reg}] = lo[${i.rm}] & 0xffff; hi[${i.reg}] = 0;` };
    // Shifts and rotates by an immediate or 1, 32-bit register (SDM vol. 2B SAL/SAR/SHL/SHR, ROL/ROR).
    if ((op === 0xc1 || op === 0xd1) && reg && s === 32) return shift(i, k);
    return null;
  }

  function alu(i: Insn, op: number, dst: number, srcKind: 'R' | 'I', src: number, k: number, write = op !== 7): Gen | null {
    if (op === 2 || op === 3) return null; // ADC/SBB: handler
    const w = i.opSize === 64;
    const a = `a${k}`, ah = `ah${k}`, b = `b${k}`, bh = `bh${k}`, r = `r${k}`, rh = `rh${k}`;
    const code: string[] = [];
    const bExpr = srcKind === 'R' ? `lo[${src}]` : `${i.imm >>> 0}`;
    const bhExpr = srcKind === 'R' ? `hi[${src}]` : `${i.imm < 0 ? 0xffffffff : 0}`;
    // XOR/SUB of a register with itself: the result is a constant zero.
    code.push(`const ${a} = lo[${dst}], ${b} = ${bExpr};`);
    if (w) code.push(`const ${ah} = hi[${dst}], ${bh} = ${bhExpr};`);
    let lop: number;
    let lcf: string | undefined;
    switch (op) {
      case 0:
        lop = LF_ADD;
        if (w) { code.push(`const t${k} = ${a} + ${b}, ${r} = t${k} >>> 0, ${rh} = (${ah} + ${bh} + (t${k} >= ${TWO32} ? 1 : 0)) >>> 0;`); lcf = '0'; }
        else code.push(`const ${r} = (${a} + ${b}) >>> 0;`);
        break;
      case 5: case 7:
        lop = LF_SUB;
        if (w) { code.push(`const t${k} = ${a} - ${b}, ${r} = t${k} >>> 0, ${rh} = (${ah} - ${bh} - (t${k} < 0 ? 1 : 0)) >>> 0;`); lcf = '0'; }
        else code.push(`const ${r} = (${a} - ${b}) >>> 0;`);
        break;
      default: {
        lop = LF_LOGIC;
        const o = op === 1 ? '|' : op === 4 ? '&' : '^';
        code.push(`const ${r} = (${a} ${o} ${b}) >>> 0;`);
        if (w) code.push(`const ${rh} = (${ah} ${o} ${bh}) >>> 0;`);
      }
    }
    if (write) code.push(w ? `lo[${dst}] = ${r}; hi[${dst}] = ${rh};` : `lo[${dst}] = ${r}; hi[${dst}] = 0;`);
    const logic = lop === LF_LOGIC;
    const p: Pending = {
      lop, size: w ? 64 : 32,
      a: logic ? '0' : a, ah: logic || !w ? '0' : ah, b: logic ? '0' : b, bh: logic || !w ? '0' : bh, r, rh: w ? rh : '0',
    };
    return { code: code.join(' '), pending: p, killsFlags: true, lcf };
  }

  function incdec(i: Insn, dec: boolean, k: number): Gen {
    const w = i.opSize === 64, d = i.rm;
    const a = `a${k}`, ah = `ah${k}`, r = `r${k}`, rh = `rh${k}`;
    const cfv = `lcf${k}`;
    const cfE = pending === null ? 'c.cfBit()' : `(${flagExpr(pending, 'cf')} ? 1 : 0)`;
    const code: string[] = [`const ${cfv} = ${cfE};`, `const ${a} = lo[${d}];`];
    if (w) {
      code.push(`const ${ah} = hi[${d}], t${k} = ${a} ${dec ? '-' : '+'} 1, ${r} = t${k} >>> 0, ${rh} = (${ah} + ${dec ? `(t${k} < 0 ? -1 : 0)` : `(t${k} >= ${TWO32} ? 1 : 0)`}) >>> 0;`);
      code.push(`lo[${d}] = ${r}; hi[${d}] = ${rh};`);
    } else {
      code.push(`const ${r} = (${a} ${dec ? '-' : '+'} 1) >>> 0;`, `lo[${d}] = ${r}; hi[${d}] = 0;`);
    }
    return {
      code: code.join(' '), killsFlags: true, lcf: cfv,
      pending: { lop: dec ? LF_DEC : LF_INC, size: w ? 64 : 32, a, ah: w ? ah : '0', b: '1', bh: '0', r, rh: w ? rh : '0', lcf: cfv },
    };
  }

  function shift(i: Insn, k: number): Gen | null {
    const op = i.reg & 7;
    const count = (i.opcode === 0xd1 ? 1 : i.imm & 0xff) & 0x1f;
    const d = i.rm;
    if (count === 0) return { code: `hi[${d}] = 0;` }; // no flags change; the 32-bit write zero-extends
    const a = `a${k}`, r = `r${k}`;
    let body: string, cf: string, of: string;
    switch (op) {
      case 0: body = `const ${r} = ((${a} << ${count}) | (${a} >>> ${32 - count})) >>> 0;`; cf = `${r} & 1`; of = `((${r} >>> 31) ^ (${r} & 1))`; break;
      case 1: body = `const ${r} = ((${a} >>> ${count}) | (${a} << ${32 - count})) >>> 0;`; cf = `${r} >>> 31`; of = `((${r} >>> 31) ^ ((${r} >>> 30) & 1))`; break;
      case 4: case 6: body = `const ${r} = (${a} << ${count}) >>> 0;`; cf = `(${a} >>> ${32 - count}) & 1`; of = `((${r} >>> 31) ^ ((${a} >>> ${32 - count}) & 1))`; break;
      case 5: body = `const ${r} = ${a} >>> ${count};`; cf = `(${a} >>> ${count - 1}) & 1`; of = `(${a} >>> 31)`; break;
      case 7: body = `const ${r} = ((${a} | 0) >> ${count}) >>> 0;`; cf = `((${a} | 0) >> ${count - 1}) & 1`; of = '0'; break;
      default: return null; // RCL/RCR: handler
    }
    const F = `F${k}`;
    let flags: string;
    if (op <= 1) flags = `c.flagsRaw = (${F} & ~0x801) | (${cf}) | ((${of}) << 11);`;
    else flags = `c.flagsRaw = (${F} & ~0x8d5) | (${cf}) | ((${of}) << 11) | ((${r} >>> 31) << 7) | (${r} === 0 ? 0x40 : 0) | PARITY[${r} & 0xff];`;
    return {
      code: `const ${F} = c.getFlags(); const ${a} = lo[${d}]; ${body} lo[${d}] = ${r}; hi[${d}] = 0; ${flags}`,
      readsC: true, setsC: true,
    };
  }

  /** PUSH r64 / POP r64 through the Cpu's stack methods (they fault like the handler). */
  function stackInline(i: Insn, _k: number): string | null {
    const op = i.opcode;
    if (op >= 0x50 && op <= 0x57 && i.opSize === 64) return `c.push(64, lo[${i.reg}], hi[${i.reg}]);`;
    if (op >= 0x58 && op <= 0x5f && i.opSize === 64) return `{ const x = c.pop(64); lo[${i.reg}] = x; hi[${i.reg}] = c.vh; }`;
    // MOV r, m and MOV m, r (8B, 89) of 32/64 bits through the Cpu's memory methods, as readRM/writeRM do.
    if (i.mod !== 3 && (op === 0x8b || op === 0x89) && (i.opSize === 32 || i.opSize === 64)) {
      const s = i.opSize, r = i.reg;
      if (op === 0x8b) return s === 64
        ? `{ const x = c.read64(c.memLinear(I[${_k}], 64, false)); lo[${r}] = x; hi[${r}] = c.vh; }`
        : `{ const x = c.read32(c.memLinear(I[${_k}], 32, false)); lo[${r}] = x; hi[${r}] = 0; }`;
      return s === 64 ? `c.write64(c.memLinear(I[${_k}], 64, true), lo[${r}], hi[${r}]);` : `c.write32(c.memLinear(I[${_k}], 32, true), lo[${r}]);`;
    }
    void RSP;
    return null;
  }
}

interface Gen {
  code: string;
  /** Reads the Cpu's lazy flag state: pending flags are stored first. */
  readsC?: boolean;
  /** Leaves the Cpu's flag state exact (nothing pending afterwards). */
  setsC?: boolean;
  /** Replaces every status flag: pending flags before it are dead. */
  killsFlags?: boolean;
  pending?: Pending;
  /** Value the instruction stores in Cpu.lcf (emitted at once). */
  lcf?: string;
  needsNextRip?: boolean;
}

/** Jcc/JMP/CALL with a relative displacement. */
export function isRelBranch(i: Insn): boolean {
  const op = i.opcode;
  return (op >= 0x70 && op <= 0x7f) || (op >= MAP_0F + 0x80 && op <= MAP_0F + 0x8f) || op === 0xeb || op === 0xe9 || op === 0xe8;
}

function relTarget(next: number, i: Insn): number {
  return next + i.imm;
}
