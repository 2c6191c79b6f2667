// JavaScript source for a translated block: integer ALU ops (8/16/32/64-bit, register, memory source and read-modify-write), moves, SETcc/CMOVcc, shifts, near branches inlined with the lazy-flags protocol (mid-block Jcc as side exits), memory operands and the stack through an inline TLB fast path; every other instruction (and every slow path) calls its interpreter handler.
import type { Insn } from '../insn.js';
import { CS, FS, GS, MAP_0F, PFX_REP, RSP, SS } from '../insn.js';
import { LF_ADD, LF_DEC, LF_INC, LF_LOGIC, LF_SUB } from '../cpu.js';
import { AR_UNUSABLE } from '../regs.js';
import { EXITS, MID, isRelBranch, placement, type Block } from './block.js';

const TWO32 = 4294967296;
/** Canonical 64-bit addresses as numbers (SDM vol. 1 §3.3.7.1). */
const canonical = (v: number): boolean => v >= -140737488355328 && v < 140737488355328;
const CANON = '140737488355328';
/** Flag classes for the liveness scan of generateBlockSource. */
const FK = 0, FN = 1, FO = 2;

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
  const top = (lo: string, hi: string): string =>
    (w ? `((${hi}) | 0) < 0` : p.size === 32 ? `((${lo}) | 0) < 0` : `((${lo}) & ${p.size === 16 ? 0x8000 : 0x80}) !== 0`);
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
  // A SUB/CMP of at most 32 bits compares its (masked) operands directly: unsigned as they are, signed after sign extension.
  const sub = p.lop === LF_SUB && p.size <= 32;
  const sgn = (x: string): string => (p.size === 32 ? `(${x} | 0)` : `((${x} << ${32 - p.size}) >> ${32 - p.size})`);
  switch (cc >>> 1) {
    case 0: e = f('of'); break;
    case 1: e = f('cf'); break;
    case 2: e = f('zf'); break;
    case 3: e = sub ? `${p.a} <= ${p.b}` : `(${f('cf')} || ${f('zf')})`; break;
    case 4: e = f('sf'); break;
    case 5: e = f('pf'); break;
    case 6: e = sub ? `${sgn(p.a)} < ${sgn(p.b)}` : `(${f('sf')} !== ${f('of')})`; break;
    default: e = sub ? `${sgn(p.a)} <= ${sgn(p.b)}` : `(${f('zf')} || ${f('sf')} !== ${f('of')})`; break;
  }
  return (cc & 1) !== 0 ? `!(${e})` : e;
}

/** A little-endian load of 32 bits from page `p` at offset expression `o`. */
const rd32 = (o: string): string => `((p[${o}] | (p[${o} + 1] << 8) | (p[${o} + 2] << 16) | (p[${o} + 3] << 24)) >>> 0)`;
const wr32 = (o: string, v: string): string => `p[${o}] = ${v}; p[${o} + 1] = ${v} >>> 8; p[${o} + 2] = ${v} >>> 16; p[${o} + 3] = ${v} >>> 24;`;
/** Loads and stores of 1, 2 or 4 bytes at offset `o` of page `p` (8: the low half; the caller adds the high one). */
const rdN = (nb: number): string => (nb === 1 ? 'p[o]' : nb === 2 ? '(p[o] | (p[o + 1] << 8))' : rd32('o'));
const wrN = (nb: number, v: string): string => (nb === 1 ? `p[o] = ${v};` : nb === 2 ? `p[o] = ${v}; p[o + 1] = ${v} >>> 8;` : wr32('o', v));

/** General register r of `size` bits as a JS expression of its value (masked; SDM vol. 1 §3.4.1: AH..BH without REX). */
function regRd(r: number, size: number, rex: number): string {
  if (size === 8) return r < 4 || rex !== 0 ? `(lo[${r}] & 0xff)` : `((lo[${r - 4}] >>> 8) & 0xff)`;
  return size === 16 ? `(lo[${r}] & 0xffff)` : `lo[${r}]`;
}
const regRdHi = (r: number, size: number): string => (size === 64 ? `hi[${r}]` : '0');
/** Statements writing `v` (masked to size; `vh` the high half of 64) to register r as Cpu.setReg/setReg8 do: 8/16 keep the rest, 32 zero-extends. */
function regWr(r: number, size: number, rex: number, v: string, vh: string): string {
  if (size === 8) return r < 4 || rex !== 0 ? `lo[${r}] = (lo[${r}] & 0xffffff00) | ${v};` : `lo[${r - 4}] = (lo[${r - 4}] & 0xffff00ff) | (${v} << 8);`;
  if (size === 16) return `lo[${r}] = (lo[${r}] & 0xffff0000) | ${v};`;
  return size === 32 ? `lo[${r}] = ${v}; hi[${r}] = 0;` : `lo[${r}] = ${v}; hi[${r}] = ${vh};`;
}
/** An immediate as an operand of `size` (sign-extended from the instruction's int32). */
const immLo = (i: Insn, size: number): string => String(size === 8 ? i.imm & 0xff : size === 16 ? i.imm & 0xffff : i.imm >>> 0);
const immHi = (i: Insn, size: number): string => (size === 64 && i.imm < 0 ? '4294967295' : '0');

/**
 * Generate the factory source of block `b`; the factory takes (I, H, cond, PARITY) and returns the
 * block function (c, limit): it runs the block (looping while it branches back to its start and
 * `limit` instructions are not reached) and leaves RIP, icount, flags exactly as the interpreter.
 */
export function generateBlockSource(b: Block, allowSelfLoop: boolean): string {
  const out: string[] = [];
  const n = b.insns.length;
  const mode = b.mode;
  const is64 = mode === 64;
  let pending: Pending | null = null;
  const last = b.insns[n - 1];
  const lastNext = b.rips[n - 1] + last.length;
  /** Segments whose base and fast-path limits the prologue loads (32-bit blocks). */
  const segsUsed = new Map<number, number>();
  /** Whether a 32-bit block uses the inline stack path (SS base and limits, CS.limit for RET). */
  let stackUsed = false;
  // A block whose final branch goes back to its start loops inside the function.
  let selfLoop = false;
  if (allowSelfLoop && last.immSize !== 0 && isRelBranch(last) && branchOk(last, lastNext) && relTarget(lastNext, last) === b.rip) selfLoop = true;
  const emit = (s: string): void => { out.push(s); };

  /** The Cpu's lazy fields from pending flags (as Cpu.lazy does). */
  const storePending = (): string => {
    if (pending === null) return '';
    const p = pending;
    return `c.lop = ${p.lop}; c.lsize = ${p.size}; c.la = ${p.a}; c.lah = ${p.ah}; c.lb = ${p.b}; c.lbh = ${p.bh}; c.lres = ${p.r}; c.lresh = ${p.rh};`;
  };
  /** Store pending flags into the Cpu's lazy fields; nothing is pending afterwards. */
  const flush = (): void => {
    if (pending === null) return;
    emit(storePending());
    pending = null;
  };
  /** The run loop's state before a handler (or a memory method) runs instruction k. */
  const syncState = (k: number): string => `c.rip = ${b.rips[k]}; c.nextRip = ${b.rips[k] + b.insns[k].length}; if (c.cur !== I[${k}]) c.cur = I[${k}]; c.icount = ic + ${k};`;
  const sync = (k: number): void => { flush(); emit(syncState(k)); };
  /** As sync, inside one branch of generated code: pending flags stay pending for the code after it. */
  const syncKeep = (k: number): string => storePending() + syncState(k);
  /** Leave after instruction k when the run loop's per-instruction checks could fire (after a call-out). */
  const exitCheck = (k: number, rip: number | string): string =>
    `if (c.stopRequested || c.codeEpoch !== ep || (c.vmx !== null && c.vmx.boundaryPending)) { ${storePending()} c.rip = ${rip}; c.icount = ic + ${k + 1}; return; }`;
  /** Leave after instruction k (with nothing pending) with RIP = target. */
  const leave = (k: number, target: number): void => {
    if (selfLoop && target === b.rip) {
      emit(`ic += ${k + 1}; if (ic + ${n} <= limit) continue; c.rip = ${target}; c.icount = ic; return;`);
    } else emit(`c.rip = ${target}; c.icount = ic + ${k + 1}; return;`);
  };

  // Status-flag liveness (SDM vol. 1 §3.4.3.1): whether the flags an instruction writes are replaced by a
  // later instruction of the block before anything can read or observe them (a call-out, a memory
  // access that may take the slow path, a branch, the block's end). Such flags need not be computed.
  const cls = b.insns.map((i, k) => flagClass(i, k));
  const deadAfter = (k: number): boolean => {
    for (let j = k + 1; j < n; j++) { if (cls[j] === FK) return true; if (cls[j] === FO) return false; }
    return false;
  };
  const deadAtStart = deadAfter(-1);

  emit('const lo = c.lo, hi = c.hi, tt = c.tlbTag, trd = c.tlbRd, twr = c.tlbWr; let ic = c.icount; const ep = c.codeEpoch;');
  emit('let p, L = 0, vpn = 0, kk = 0, o = 0, v = 0, vh = 0, x = 0, sl = false, lk = false;');
  const prologueAt = out.length;
  if (selfLoop) emit('for (;;) {');
  for (let k = 0; k < n; k++) {
    const i = b.insns[k];
    const rip = b.rips[k];
    const next = rip + i.length;
    const isLast = k === n - 1;
    const followed = !isLast && b.links[k] === 1;
    const g = inline(i, k);
    if (g !== null) {
      if (g.readsC) flush();
      if (g.killsFlags && pending !== null) pending = null; // dead: the next writer replaces every status flag
      if (g.needsNextRip) emit(`c.nextRip = ${next};`);
      emit(g.code);
      if (g.lcf !== undefined) { emit(`c.lcf = ${g.lcf};`); }
      if (g.setsC) pending = null;
      if (g.pending !== undefined) pending = g.pending;
      if (isLast) { flush(); leave(k, next); }
    } else if (isRelBranch(i) && branchOk(i, next)) {
      const t = relTarget(next, i);
      const op = i.opcode;
      if (op === 0xeb || op === 0xe9) { if (!followed) { flush(); leave(k, t); } }
      else if (op === 0xe8) {
        if (is64) {
          // CALL rel32 (SDM vol. 2A CALL): push the return address through the TLB, else c.push.
          emit(`L = sx(lo[4], hi[4]) - 8; ${tlbIndex()}`);
          emit(`if (${hit(8, 'twr')}) { ${wr32('o', String(next >>> 0))} ${wr32('o + 4', String(Math.floor(next / TWO32) >>> 0))} ${setRsp('L')} }`);
          emit(`else { ${syncKeep(k)} c.push(64, ${next >>> 0}, ${Math.floor(next / TWO32) >>> 0}); ${exitCheck(k, t)} }`);
        } else {
          // CALL rel32 with a 32-bit stack: the same through SS's fast-path limit (a 16-bit stack takes c.push).
          emit(push32());
          emit(`if (${hit(4, 'twr')}) { ${wr32('o', String(next >>> 0))} lo[4] = x; hi[4] = 0; }`);
          emit(`else { ${syncKeep(k)} c.push(32, ${next}, 0); ${exitCheck(k, t)} }`);
        }
        if (!followed) { flush(); leave(k, t); }
      } else {
        const cc = op & 0xf;
        emit(`const t${k} = ${condExpr(cc, pending)};`);
        if (!isLast && b.links[k] === 1) {
          // Mid-block Jcc: the block goes on in the direction it was built for; the other one is a side exit that
          // stores the pending flags (they stay pending for the code after it) and retires k + 1 instructions.
          const fall = b.rips[k + 1] === next;
          emit(`if (${fall ? '' : '!'}t${k}) { ${storePending()} c.rip = ${fall ? t : next}; c.icount = ic + ${k + 1}; return; }`);
        } else if (selfLoop && t === b.rip && deadAtStart) {
          // Looping back: the flags are replaced before anyone can see them, so they are stored only on the way out.
          const st = storePending();
          emit(`if (t${k}) { ic += ${k + 1}; if (ic + ${n} <= limit) continue; ${st} c.rip = ${t}; c.icount = ic; return; }`);
          flush();
        } else {
          flush();
          emit(`if (t${k}) {`); leave(k, t); emit('}');
        }
        if (isLast || b.links[k] !== 1) leave(k, next);
      }
    } else if (i.opcode === 0xc3 && i.opSize === mode) {
      // RET near: in a trace the block continues when the popped address is the one its CALL pushed.
      const link = !isLast && !Number.isNaN(b.links[k]) ? b.links[k] : NaN;
      if (is64) {
        emit(`L = sx(lo[4], hi[4]); ${tlbIndex()}`);
        emit(`if (${hit(8, 'trd')} && (v = ((${rd32('o + 4')} | 0) * ${TWO32} + ${rd32('o')}), ${Number.isNaN(link) ? `v >= -${CANON} && v < ${CANON}` : `v === ${link}`})) { ${setRsp('L + 8')} }`);
        emit(`else { ${syncKeep(k)} H[${k}](c, I[${k}]); v = c.nextRip; ${Number.isNaN(link) ? '' : `if (v !== ${link}) { ${storePending()} c.rip = v; c.icount = ic + ${k + 1}; return; }`} ${exitCheck(k, 'v')} }`);
      } else {
        // With a 32-bit stack: the pop through SS's fast-path limit, the target within CS.limit (SDM vol. 2B RET).
        stackUsed = true;
        emit(`x = lo[4]; lk = x <= slrS - 3; L = (sbS + x) | 0; ${tlbIndex()}`);
        emit(`if (${hit(4, 'trd')} && (v = ${rd32('o')}, ${Number.isNaN(link) ? 'v <= csl' : `v === ${link}`})) { lo[4] = (x + 4) >>> 0; hi[4] = 0; }`);
        emit(`else { ${syncKeep(k)} H[${k}](c, I[${k}]); v = c.nextRip; ${Number.isNaN(link) ? '' : `if (v !== ${link}) { ${storePending()} c.rip = v; c.icount = ic + ${k + 1}; return; }`} ${exitCheck(k, 'v')} }`);
      }
      if (Number.isNaN(link)) { flush(); emit(`c.rip = v; c.icount = ic + ${k + 1}; return;`); }
    } else if (memInline(i, k, next)) {
      if (isLast) { flush(); leave(k, next); }
    } else if (isLast && placement(i) !== MID) {
      sync(k);
      emit(`H[${k}](c, I[${k}]); if (c.vmexitPending) return; c.rip = c.nextRip; c.icount = ic + ${k + 1}; return;`);
    } else if (placement(i) === EXITS) {
      // A VM exit leaves (the run loop returns it, or takes the fastpath's steps if the guest resumes elsewhere); one
      // the fastpath resumed from at the next instruction goes on: the instruction did not retire (ic - 1), and its
      // steps come off the budget here (limit) and in the run loop (stepDebt). The preemption timer may have moved.
      sync(k);
      emit(`H[${k}](c, I[${k}]);`);
      emit(`if (c.vmexitPending) { if (c.fusedSteps === 0 || c.rip !== ${next}) return; v = c.fusedSteps; c.fusedSteps = 0; c.vmexitPending = false; c.stepDebt += v; ic -= 1; limit -= v; if (c.timerAt < limit) limit = c.timerAt; }`);
      emit(exitCheck(k, next));
    } else {
      sync(k);
      emit(`H[${k}](c, I[${k}]);`);
      emit(exitCheck(k, next));
      if (isLast) leave(k, next);
    }
  }
  if (selfLoop) emit('}');
  // Segment bases and fast-path limits (32-bit blocks): fixed while the block runs (segment loads end blocks).
  const pro: string[] = [];
  // The fast path forms linear addresses as (base + offset) mod 2^32 (SDM vol. 3A §3.4), exact for a base
  // in [0, 2^32); any other base (a 64-bit FS/GS base in compatibility mode) takes the slow path (limits -1).
  const baseOk = (s: number): string => `c.segBase[${s}] >= 0 && c.segBase[${s}] < ${TWO32}`;
  // The base as an int32 (its bit pattern: (base + offset) | 0 is the address mod 2^32). The limits are Cpu.segFastLimit
  // written out for the block's own case (it is entered only in 32-bit code: CR0.PE = 1, not 64-bit mode), since its
  // inlined copies were most of a small block's machine code: no fast path for an unusable segment, an execute-only code
  // segment or an expand-down data segment (SDM vol. 3A §3.4.5.1); the write limit is the read one for a writable data
  // segment (type & 0xa = 2), else -1.
  if (stackUsed) segsUsed.set(SS, (segsUsed.get(SS) ?? 0) | 3);
  for (const [s, rw] of segsUsed) {
    pro.push(`const ar${s} = c.segAr[${s}], sb${s} = c.segBase[${s}] | 0, slr${s} = (ar${s} & ${AR_UNUSABLE}) === 0 && (ar${s} & 0xa) !== 8 && (ar${s} & 0xc) !== 4 && ${baseOk(s)} ? c.segLimit[${s}] : -1;`);
    if ((rw & 2) !== 0) pro.push(`const slw${s} = (ar${s} & 0xa) === 2 ? slr${s} : -1;`);
  }
  // The stack: 32-bit stack pointer only (SS.B; a 16-bit stack wraps SP), limits -1 otherwise (the slow path).
  if (stackUsed) pro.push(`const sbS = sb${SS}, okS = c.stackSize === 32, slrS = okS ? slr${SS} : -1, slwS = okS ? slw${SS} : -1, csl = c.segLimit[${CS}];`);
  out.splice(prologueAt, 0, ...pro);
  return [
    '/** A 64-bit register (lo, hi) as a number when it is within ±2^32 (else NaN: the slow path). */',
    'const sx = (l, h) => h === 0 ? l : h === 4294967295 ? l - 4294967296 : NaN;',
    'return function block(c, limit) {',
    ...out,
    '};',
  ].join('\n');

  /** The flag class of instruction k: FK replaces every status flag without reading any, FN leaves them alone, FO reads or exposes them. */
  function flagClass(i: Insn, k: number): number {
    if (isRelBranch(i) && branchOk(i, b.rips[k] + i.length) && (i.opcode === 0xeb || i.opcode === 0xe9) && k < n - 1 && b.links[k] === 1) return FN;
    const saved = pending;
    pending = null;
    const g = inline(i, k, true);
    pending = saved;
    if (g === null || g.readsC === true || g.readsCf === true) return FO;
    return g.killsFlags === true ? FK : FN;
  }

  /** Whether the near branch i is inlined: its target is known and legal (canonical; within CS.limit is checked at block entry). */
  function branchOk(i: Insn, next: number): boolean {
    if (i.immSize === 0) return false;
    if (!is64) return i.opSize === 32;
    return canonical(next + i.imm) && (i.opcode !== 0xe8 || i.opSize === 64);
  }

  function relTarget(next: number, i: Insn): number {
    return is64 ? next + i.imm : (next + i.imm) >>> 0;
  }

  /** vpn, TLB slot and page offset of the linear address in L. */
  function tlbIndex(): string {
    // 32-bit blocks: L is the linear address as an int32 (its bit pattern; lk says whether the segment check passed).
    return is64 ? 'o = L & 4095; vpn = (L - o) / 4096; kk = vpn & 4095;' : 'o = L & 4095; vpn = L >>> 12; kk = vpn & 4095;';
  }

  /** The TLB fast-path test for an access of `nb` bytes at L through page array `arr` (trd or twr): p is the host page. */
  function hit(nb: number, arr: 'trd' | 'twr'): string {
    return `${is64 ? '' : 'lk && '}tt[kk] === vpn && o <= ${4096 - nb} && (p = ${arr}[kk]) !== undefined`;
  }

  /** RSP ← a 64-bit number (exact for the ±2^32 range of the fast path). */
  function setRsp(e: string): string {
    return `{ const s = ${e}; lo[${RSP}] = s >>> 0; hi[${RSP}] = Math.floor(s / ${TWO32}) >>> 0; }`;
  }

  /**
   * The linear address of i's memory operand for an access of `bytes` as a JS expression, NaN at run
   * time when the fast path does not apply; null when it never does (the handler runs instead).
   * Mirrors Cpu.ea + Cpu.segLinear (SDM vol. 1 §3.7.5, vol. 3A §5.3).
   */
  function linear(i: Insn, bytes: number, write: boolean): string | null {
    if (!i.hasModrm && i.opcode >= 0xa0 && i.opcode <= 0xa3) return moffsLinear(i, bytes, write);
    if (!i.hasModrm || i.mod === 3) return null;
    const sc = 1 << i.scale;
    if (is64) {
      if (i.seg === FS || i.seg === GS || i.ripRel) return null; // FS/GS bases, RIP-relative: linearAt
      if (i.addrSize === 64) {
        const terms: string[] = [];
        if (i.base >= 0) terms.push(`sx(lo[${i.base}], hi[${i.base}])`);
        if (i.index >= 0) terms.push(sc === 1 ? `sx(lo[${i.index}], hi[${i.index}])` : `sx(lo[${i.index}], hi[${i.index}]) * ${sc}`);
        if (terms.length === 0) return canonical(i.disp) ? String(i.disp) : null;
        return `(${terms.join(' + ')} + ${i.disp})`;
      }
      if (i.addrSize !== 32) return null;
      const terms: string[] = [String(i.disp)];
      if (i.base >= 0) terms.push(`lo[${i.base}]`);
      if (i.index >= 0) terms.push(sc === 1 ? `lo[${i.index}]` : `lo[${i.index}] * ${sc}`);
      return `((${terms.join(' + ')}) >>> 0)`;
    }
    if (i.addrSize !== 32) return null;
    const s = i.seg;
    if (s === CS) return null;
    segsUsed.set(s, (segsUsed.get(s) ?? 0) | (write ? 2 : 1));
    const terms: string[] = [String(i.disp)];
    if (i.base >= 0) terms.push(`lo[${i.base}]`);
    if (i.index >= 0) terms.push(sc === 1 ? `lo[${i.index}]` : `lo[${i.index}] * ${sc}`);
    const off = `((${terms.join(' + ')}) >>> 0)`;
    return `((v = ${off}), (lk = v <= sl${write ? 'w' : 'r'}${s} - ${bytes - 1}), (sb${s} + v) | 0)`;
  }

  /** Whether L (64-bit: possibly NaN; 32-bit: valid when lk) is an address the soft slow path may take for `bytes` within one page. */
  function softOk(bytes: number): string {
    return is64 ? `L === L && o <= ${4096 - bytes} && L >= -${CANON} && L < ${CANON}` : `lk && o <= ${4096 - bytes}`;
  }

  /** linear() of MOV AL/eAX ↔ moffs (A0-A3): the offset is the instruction's address field (SDM vol. 2B MOV). */
  function moffsLinear(i: Insn, bytes: number, write: boolean): string | null {
    if (is64) {
      if (i.seg === FS || i.seg === GS) return null;
      if (i.addrSize === 32) return String(i.disp >>> 0);
      if (i.addrSize !== 64) return null;
      const a = (i.dispHi | 0) * TWO32 + (i.disp >>> 0);
      return canonical(a) ? String(a) : null;
    }
    if (i.addrSize !== 32) return null;
    const s = i.seg;
    if (s === CS) return null;
    segsUsed.set(s, (segsUsed.get(s) ?? 0) | (write ? 2 : 1));
    return `((v = ${i.disp >>> 0}), (lk = v <= sl${write ? 'w' : 'r'}${s} - ${bytes - 1}), (sb${s} + v) | 0)`;
  }

  /** linear() with RIP-relative operands resolved against `next`. */
  function linearAt(i: Insn, bytes: number, write: boolean, next: number): string | null {
    if (is64 && i.ripRel && i.hasModrm && i.mod !== 3 && i.seg !== FS && i.seg !== GS) {
      if (i.addrSize === 64) { const a = next + i.disp; return canonical(a) ? String(a) : null; }
      if (i.addrSize === 32) return String((next + i.disp) >>> 0);
      return null;
    }
    return linear(i, bytes, write);
  }

  /**
   * Memory-operand and stack forms with an inline TLB fast path (a RAM page without code or watches
   * already in the TLB, the access within the page); otherwise a slow path: Cpu.softRead/softWrite for
   * MOV-like loads and stores (an MMIO register exits without unwinding), else the handler for the whole
   * instruction.
   */
  function memInline(i: Insn, k: number, next: number): boolean {
    const op = i.opcode;
    const s = i.opSize;
    // PUSH r64 / POP r64 (SDM vol. 2B PUSH, POP): 64-bit mode, SS base ignored.
    if (is64 && op >= 0x50 && op <= 0x57 && s === 64) {
      const r = i.reg;
      emit(`v = lo[${r}]; vh = hi[${r}]; L = sx(lo[4], hi[4]) - 8; ${tlbIndex()}`);
      emit(`if (${hit(8, 'twr')}) { ${wr32('o', 'v')} ${wr32('o + 4', 'vh')} ${setRsp('L')} }`);
      emit(`else { ${syncKeep(k)} H[${k}](c, I[${k}]); ${exitCheck(k, next)} }`);
      return true;
    }
    if (is64 && op >= 0x58 && op <= 0x5f && s === 64) {
      const r = i.reg;
      emit(`L = sx(lo[4], hi[4]); ${tlbIndex()}`);
      emit(`if (${hit(8, 'trd')}) { v = ${rd32('o')}; vh = ${rd32('o + 4')}; ${setRsp('L + 8')} lo[${r}] = v; hi[${r}] = vh; }`);
      emit(`else { ${syncKeep(k)} H[${k}](c, I[${k}]); ${exitCheck(k, next)} }`);
      return true;
    }
    // PUSH r32 / POP r32 / PUSH imm32/imm8 with a 32-bit stack (SDM vol. 2B PUSH, POP; vol. 3A §5.3 the SS limit check).
    if (!is64 && s === 32 && ((op >= 0x50 && op <= 0x5f) || op === 0x68 || op === 0x6a)) {
      stackUsed = true;
      if (op >= 0x58 && op <= 0x5f) {
        const r = i.reg;
        emit(`x = lo[4]; lk = x <= slrS - 3; L = (sbS + x) | 0; ${tlbIndex()}`);
        emit(`if (${hit(4, 'trd')}) { v = ${rd32('o')}; lo[4] = (x + 4) >>> 0; hi[4] = 0; lo[${r}] = v; hi[${r}] = 0; }`);
      } else {
        emit(`v = ${op <= 0x57 ? `lo[${i.reg}]` : String(i.imm >>> 0)}; ${push32()}`);
        emit(`if (${hit(4, 'twr')}) { ${wr32('o', 'v')} lo[4] = x; hi[4] = 0; }`);
      }
      emit(`else { ${syncKeep(k)} H[${k}](c, I[${k}]); ${exitCheck(k, next)} }`);
      return true;
    }
    if (s !== 16 && s !== 32 && s !== 64) return false;
    /**
     * A load of `nb` bytes at L: `commit` writes the value in locals v (and vh for 8 bytes) where it goes. A TLB miss
     * within the page translates through Cpu.softRead, where an EPT violation (an MMIO register) is a VM exit that
     * returns instead of unwinding; anything else runs the handler.
     */
    const load = (L: string, nb: number, commit: string): true => {
      emit(`L = ${L}; ${tlbIndex()}`);
      emit(`if (${hit(nb, 'trd')}) { v = ${rdN(Math.min(nb, 4))}; vh = ${nb === 8 ? rd32('o + 4') : '0'}; ${commit} }`);
      if (nb <= 4) emit(`else if (${softOk(nb)}) { ${syncKeep(k)} v = c.softRead(${is64 ? 'L' : 'L >>> 0'}, ${nb}); if (v < 0) return; vh = 0; ${commit} ${exitCheck(k, next)} }`);
      emit(`else { ${syncKeep(k)} H[${k}](c, I[${k}]); ${exitCheck(k, next)} }`);
      return true;
    };
    /** A store of `nb` bytes (vlo, and vhi for 8) at L; the slow paths as load's, through Cpu.softWrite. */
    const store = (L: string, nb: number, vlo: string, vhi: string): true => {
      emit(`L = ${L}; ${tlbIndex()}`);
      emit(`if (${hit(nb, 'twr')}) { ${wrN(Math.min(nb, 4), vlo)} ${nb === 8 ? wr32('o + 4', vhi) : ''} }`);
      if (nb <= 4) emit(`else if (${softOk(nb)}) { ${syncKeep(k)} if (!c.softWrite(${is64 ? 'L' : 'L >>> 0'}, ${nb}, ${vlo})) return; ${exitCheck(k, next)} }`);
      emit(`else { ${syncKeep(k)} H[${k}](c, I[${k}]); ${exitCheck(k, next)} }`);
      return true;
    };
    // MOV AL/eAX, moffs (A0/A1) and MOV moffs, AL/eAX (A2/A3): the forms assemblers give absolute addresses with eAX.
    if (op >= 0xa0 && op <= 0xa3 && !i.hasModrm) {
      const size = (op & 1) === 0 ? 8 : s, nb = size >>> 3;
      const L = linear(i, nb, op >= 0xa2);
      if (L === null) return false;
      return op <= 0xa1 ? load(L, nb, regWr(0, size, 0, 'v', 'vh')) : store(L, nb, regRd(0, size, 0), regRdHi(0, size));
    }
    if (i.mod === 3 || !i.hasModrm) return false;
    // MOV r, m (8A/8B), MOVZX/MOVSX r, m8/m16 (0F B6/B7/BE/BF), CMOVcc r, m (0F 40-4F: the operand is read whatever the
    // condition, and a 32-bit destination is zero-extended even when it is false; SDM vol. 2A CMOVcc).
    if (op === 0x8a || op === 0x8b) {
      const size = op === 0x8a ? 8 : s, nb = size >>> 3;
      const L = linearAt(i, nb, false, next);
      return L !== null && load(L, nb, regWr(i.reg, size, i.rex, 'v', 'vh'));
    }
    if (op === MAP_0F + 0xb6 || op === MAP_0F + 0xb7 || op === MAP_0F + 0xbe || op === MAP_0F + 0xbf) {
      const from = (op & 1) === 0 ? 8 : 16;
      const L = linearAt(i, from >>> 3, false, next);
      if (L === null) return false;
      let val = 'v', valh = '0';
      if (op >= MAP_0F + 0xbe) {
        const sxv = `((v << ${32 - from}) >> ${32 - from})`;
        val = s === 16 ? `(${sxv} & 0xffff)` : `(${sxv} >>> 0)`;
        valh = `(${sxv} < 0 ? 4294967295 : 0)`;
      }
      return load(L, from >>> 3, regWr(i.reg, s, i.rex, val, valh));
    }
    if (op >= MAP_0F + 0x40 && op <= MAP_0F + 0x4f) {
      const L = linearAt(i, s >>> 3, false, next);
      if (L === null) return false;
      const set = regWr(i.reg, s, i.rex, 'v', 'vh');
      return load(L, s >>> 3, `if (${condExpr(op & 0xf, pending)}) { ${set} }${s === 32 ? ` else hi[${i.reg}] = 0;` : ''}`);
    }
    // MOV m, r (88/89), MOV m, imm (C6/C7 /0), SETcc m8 (0F 90-9F).
    if (op === 0x88 || op === 0x89) {
      const size = op === 0x88 ? 8 : s, nb = size >>> 3;
      const L = linearAt(i, nb, true, next);
      return L !== null && store(L, nb, regRd(i.reg, size, i.rex), regRdHi(i.reg, size));
    }
    if ((op === 0xc6 || op === 0xc7) && (i.reg & 7) === 0) {
      const size = op === 0xc6 ? 8 : s, nb = size >>> 3;
      const L = linearAt(i, nb, true, next);
      return L !== null && store(L, nb, immLo(i, size), immHi(i, size));
    }
    if (op >= MAP_0F + 0x90 && op <= MAP_0F + 0x9f) {
      const L = linearAt(i, 1, true, next);
      return L !== null && store(L, 1, `(${condExpr(op & 0xf, pending)} ? 1 : 0)`, '0');
    }
    // ALU r, m (02/03 ... 32/33, 3A/3B), CMP m, r (38/39), TEST m, r (84/85), CMP m, imm (80/81/83 /7), TEST m, imm (F6/F7 /0):
    // a load, then the register form inline. The slow path loads through the Cpu's methods (readRM's path) and
    // leaves after the instruction when a check could fire.
    let aluOp = -1, size = s, dst = -1, src: 'R' | 'I' | 'M' = 'M', srcReg = -1, memIsA = false;
    if (op < 0x40 && ((op & 7) === 2 || (op & 7) === 3)) { aluOp = (op >> 3) & 7; dst = i.reg; size = (op & 1) === 0 ? 8 : s; }
    else if (op === 0x38 || op === 0x39 || op === 0x84 || op === 0x85) { aluOp = op <= 0x39 ? 7 : 4; memIsA = true; src = 'R'; srcReg = i.reg; size = (op & 1) === 0 ? 8 : s; }
    else if ((op === 0x80 || op === 0x81 || op === 0x83) && (i.reg & 7) === 7) { aluOp = 7; memIsA = true; src = 'I'; size = op === 0x80 ? 8 : s; }
    else if ((op === 0xf6 || op === 0xf7) && (i.reg & 7) === 0) { aluOp = 4; memIsA = true; src = 'I'; size = op === 0xf6 ? 8 : s; }
    if (aluOp === 2 || aluOp === 3) return false; // ADC/SBB: handler
    if (aluOp >= 0) {
      const nb = size >>> 3;
      const L = linearAt(i, nb, false, next);
      if (L === null) return false;
      const m = `m${k}`, mh = `mh${k}`;
      emit(`let ${m}, ${mh}; L = ${L}; ${tlbIndex()}`);
      emit(`if (${hit(nb, 'trd')}) { ${m} = ${rdN(Math.min(nb, 4))}; ${mh} = ${nb === 8 ? rd32('o + 4') : '0'}; }`);
      emit(`else { ${syncKeep(k)} ${m} = c.readSize(c.memLinear(I[${k}], ${size}, false), ${size}); ${mh} = ${size === 64 ? 'c.vh' : '0'}; sl = true; }`);
      const srcLo = src === 'R' ? regRd(srcReg, size, i.rex) : immLo(i, size), srcHi = src === 'R' ? regRdHi(srcReg, size) : immHi(i, size);
      const mHi = size === 64 ? mh : '0';
      const g = memIsA
        ? aluGen(aluOp, size, m, mHi, srcLo, srcHi, null, k)
        : aluGen(aluOp, size, regRd(dst, size, i.rex), regRdHi(dst, size), m, mHi, aluOp !== 7 ? (r, rh) => regWr(dst, size, i.rex, r, rh) : null, k);
      if (g === null) return false;
      if (pending !== null) pending = null; // every status flag is replaced
      emit(`${g.decl} ${g.code}`);
      if (g.lcf !== undefined) emit(`c.lcf = ${g.lcf};`);
      pending = g.pending;
      emit(`if (sl) { sl = false; ${exitCheck(k, next)} }`);
      return true;
    }
    // Read-modify-write: ALU m, r (00/01 ... 30/31), ALU m, imm (80/81/83 /0 /1 /4 /5 /6), INC/DEC m (FE/FF /0 /1).
    let gen: ((m: string, mh: string, wb: (r: string, rh: string) => string) => AluGen | null) | null = null;
    if (op < 0x38 && (op & 7) <= 1) {
      size = (op & 1) === 0 ? 8 : s;
      const sz = size;
      gen = (m, mh, wb) => aluGen((op >> 3) & 7, sz, m, mh, regRd(i.reg, sz, i.rex), regRdHi(i.reg, sz), wb, k);
    } else if ((op === 0x80 || op === 0x81 || op === 0x83) && (i.reg & 7) !== 7) {
      size = op === 0x80 ? 8 : s;
      const sz = size;
      gen = (m, mh, wb) => aluGen(i.reg & 7, sz, m, mh, immLo(i, sz), immHi(i, sz), wb, k);
    } else if ((op === 0xfe || op === 0xff) && (i.reg & 7) <= 1) {
      size = op === 0xfe ? 8 : s;
      const sz = size;
      gen = (m, mh, wb) => incdecGen((i.reg & 7) === 1, sz, m, mh, wb, k);
    }
    if (gen === null) return false;
    const nb = size >>> 3;
    const L = linearAt(i, nb, true, next);
    if (L === null) return false;
    const m = `m${k}`, mh = `mh${k}`;
    const g = gen(m, size === 64 ? mh : '0', (r, rh) => `${wrN(Math.min(nb, 4), r)} ${nb === 8 ? wr32('o + 4', rh) : ''}`);
    if (g === null) return false;
    emit(`let ${m}, ${mh}; ${g.decl} L = ${L}; ${tlbIndex()}`);
    emit(`if (${hit(nb, 'twr')}) { ${m} = ${rdN(Math.min(nb, 4))}; ${mh} = ${nb === 8 ? rd32('o + 4') : '0'}; ${g.code} }`);
    // The slow path: the handler does the whole instruction; the flags it left are taken back into the locals.
    const np = g.pending;
    const back = ([[np.a, 'la'], [np.ah, 'lah'], [np.b, 'lb'], [np.bh, 'lbh'], [np.r, 'lres'], [np.rh, 'lresh'], [np.lcf ?? '0', 'lcf']] as const)
      .filter(([x]) => /^[a-z]/.test(x)).map(([x, f]) => `${x} = c.${f};`).join(' ');
    emit(`else { ${syncKeep(k)} H[${k}](c, I[${k}]); ${back} sl = true; }`);
    if (pending !== null) pending = null;
    if (g.lcf !== undefined) emit(`c.lcf = ${g.lcf};`);
    pending = np;
    emit(`if (sl) { sl = false; ${exitCheck(k, next)} }`);
    return true;
  }

  /** x ← ESP - 4 and L ← its linear address in SS (NaN when the fast path does not apply), then the TLB index. */
  function push32(): string {
    stackUsed = true;
    return `x = (lo[4] - 4) >>> 0; lk = x <= slwS - 3; L = (sbS + x) | 0; ${tlbIndex()}`;
  }

  /** Inline forms of register-only instructions (no memory access, no fault). */
  function inline(i: Insn, k: number, probe = false): Gen | null {
    const op = i.opcode;
    const s = i.opSize;
    const reg = i.mod === 3;
    const w = s === 64;
    if (s !== 16 && s !== 32 && s !== 64) return null;
    // NOP (90 without REP, i.e. not PAUSE, nor XCHG r8, rAX with REX.B) and the hint NOPs 0F 18-1F (SDM vol. 2B NOP).
    if ((op === 0x90 && i.reg === 0 && (i.prefixes & PFX_REP) === 0) || (op >= MAP_0F + 0x18 && op <= MAP_0F + 0x1f)) return { code: '' };
    // ALU Eb/Ev,Gb/Gv, Gb/Gv,Eb/Ev, AL/rAX,Ib/Iz (00-3D), Grp1 Eb/Ev,Ib/Iz (80 81 83), TEST (84 85 A8 A9 F6/F7 /0).
    if (op < 0x40 && (op & 7) <= 5) {
      const aop = (op >> 3) & 7, size = (op & 1) === 0 ? 8 : s;
      if ((op & 7) >= 4) return alu(i, aop, size, 0, 'I', 0, k);
      if (!reg) return null;
      return (op & 2) === 0 ? alu(i, aop, size, i.rm, 'R', i.reg, k) : alu(i, aop, size, i.reg, 'R', i.rm, k);
    }
    if ((op === 0x80 || op === 0x81 || op === 0x83) && reg) return alu(i, i.reg & 7, op === 0x80 ? 8 : s, i.rm, 'I', 0, k);
    if ((op === 0x84 || op === 0x85) && reg) return alu(i, 4, op === 0x84 ? 8 : s, i.rm, 'R', i.reg, k, false);
    if (op === 0xa8 || op === 0xa9) return alu(i, 4, op === 0xa8 ? 8 : s, 0, 'I', 0, k, false);
    if ((op === 0xf6 || op === 0xf7) && reg && (i.reg & 7) === 0) return alu(i, 4, op === 0xf6 ? 8 : s, i.rm, 'I', 0, k, false);
    // MOV r/m, r and r, r/m (88-8B), r, imm (B0-BF), r/m, imm (C6/C7 /0).
    if (op >= 0x88 && op <= 0x8b && reg) {
      const size = (op & 1) === 0 ? 8 : s;
      const d = op <= 0x89 ? i.rm : i.reg, src = op <= 0x89 ? i.reg : i.rm;
      return { code: regWr(d, size, i.rex, regRd(src, size, i.rex), regRdHi(src, size)) };
    }
    if (op >= 0xb0 && op <= 0xb7) return { code: regWr(i.reg, 8, i.rex, String(i.imm & 0xff), '0') };
    if (op >= 0xb8 && op <= 0xbf) return { code: regWr(i.reg, s, i.rex, String(s === 16 ? i.imm & 0xffff : i.imm >>> 0), String(w ? i.immHi >>> 0 : 0)) };
    if ((op === 0xc6 || op === 0xc7) && reg && (i.reg & 7) === 0) {
      const size = op === 0xc6 ? 8 : s;
      return { code: regWr(i.rm, size, i.rex, immLo(i, size), immHi(i, size)) };
    }
    // INC/DEC Eb/Ev (FE/FF /0 /1) and, outside 64-bit mode, 40+r / 48+r: CF is kept (read before the new lazy state).
    if ((op === 0xfe || op === 0xff) && reg && (i.reg & 7) <= 1) return incdec(i, (i.reg & 7) === 1, op === 0xfe ? 8 : s, i.rm, k);
    if (!is64 && op >= 0x40 && op <= 0x4f) return incdec(i, op >= 0x48, s, op & 7, k);
    // SETcc r8 (0F 90-9F), CMOVcc r, r (0F 40-4F; a 32-bit destination is zero-extended even when the condition is false).
    if (op >= MAP_0F + 0x90 && op <= MAP_0F + 0x9f && reg) return { code: regWr(i.rm, 8, i.rex, `(${condExpr(op & 0xf, pending)} ? 1 : 0)`, '0'), readsCf: true };
    if (op >= MAP_0F + 0x40 && op <= MAP_0F + 0x4f && reg) {
      const set = regWr(i.reg, s, i.rex, regRd(i.rm, s, i.rex), regRdHi(i.rm, s));
      return { code: `if (${condExpr(op & 0xf, pending)}) { ${set} }${s === 32 ? ` else hi[${i.reg}] = 0;` : ''}`, readsCf: true };
    }
    // MOVZX/MOVSX from registers (0F B6/B7/BE/BF), MOVSXD r64, r32 (63).
    if ((op === MAP_0F + 0xb6 || op === MAP_0F + 0xb7 || op === MAP_0F + 0xbe || op === MAP_0F + 0xbf) && reg) {
      const from = (op & 1) === 0 ? 8 : 16;
      const x = regRd(i.rm, from, i.rex);
      if (op <= MAP_0F + 0xb7) return { code: regWr(i.reg, s, i.rex, x, '0') };
      const sxv = `((${x} << ${32 - from}) >> ${32 - from})`;
      return { code: `{ const x = ${sxv}; ${regWr(i.reg, s, i.rex, s === 16 ? '(x & 0xffff)' : '(x >>> 0)', '(x < 0 ? 4294967295 : 0)')} }` };
    }
    if (op === 0x63 && reg && w && is64) return { code: `{ const x = lo[${i.rm}]; lo[${i.reg}] = x; hi[${i.reg}] = (x | 0) < 0 ? 0xffffffff : 0; }` };
    if (s === 16) return null;
    // LEA: 64-bit results by the interpreter's own effective-address function (exact in every corner);
    // 32-bit results are the low 32 bits of the address sum (SDM vol. 2A LEA).
    if (op === 0x8d && i.mod !== 3) {
      const e = `e${k}`;
      if (w) return { code: `const ${e} = c.ea(I[${k}]); if (${e} !== ${e}) H[${k}](c, I[${k}]); else { lo[${i.reg}] = ${e} >>> 0; hi[${i.reg}] = Math.floor(${e} / ${TWO32}) >>> 0; }`, needsNextRip: i.ripRel };
      if (i.addrSize === 16) return null;
      const terms: string[] = [String(i.disp)];
      if (i.ripRel) terms.push(String((b.rips[k] + i.length) % TWO32));
      if (i.base >= 0) terms.push(`lo[${i.base}]`);
      if (i.index >= 0) terms.push(`lo[${i.index}] * ${1 << i.scale}`);
      return { code: `lo[${i.reg}] = (${terms.join(' + ')}) >>> 0; hi[${i.reg}] = 0;` };
    }
    // Shifts and rotates by an immediate or 1, 32-bit register (SDM vol. 2B SAL/SAR/SHL/SHR, ROL/ROR).
    if ((op === 0xc1 || op === 0xd1) && reg && s === 32) return shift(i, k, probe);
    return null;
  }

  /** ALU op of `size` on register dst and a register or the immediate; the result to dst when `write`. */
  function alu(i: Insn, op: number, size: number, dst: number, srcKind: 'R' | 'I', src: number, k: number, write = op !== 7): Gen | null {
    const bExpr = srcKind === 'R' ? regRd(src, size, i.rex) : immLo(i, size);
    const bhExpr = srcKind === 'R' ? regRdHi(src, size) : immHi(i, size);
    const g = aluGen(op, size, regRd(dst, size, i.rex), regRdHi(dst, size), bExpr, bhExpr, write ? (r, rh) => regWr(dst, size, i.rex, r, rh) : null, k);
    return g === null ? null : { code: `${g.decl} ${g.code}`, pending: g.pending, killsFlags: true, lcf: g.lcf };
  }

  /**
   * ALU op (0 ADD, 1 OR, 4 AND, 5 SUB, 6 XOR, 7 CMP) of operand expressions of `size` bits (values masked to it);
   * `wb` gives the statements storing the result (null: none). Locals a/b/r<k> are declared by `decl`, assigned by `code`.
   */
  function aluGen(op: number, size: number, aExpr: string, ahExpr: string, bExpr: string, bhExpr: string, wb: ((r: string, rh: string) => string) | null, k: number): AluGen | null {
    if (op === 2 || op === 3) return null; // ADC/SBB: handler
    const w = size === 64;
    const a = `a${k}`, ah = `ah${k}`, b = `b${k}`, bh = `bh${k}`, r = `r${k}`, rh = `rh${k}`, t = `t${k}`;
    const mask = (e: string): string => (size === 32 ? `(${e}) >>> 0` : `(${e}) & ${size === 16 ? 0xffff : 0xff}`);
    const code: string[] = [];
    code.push(`${a} = ${aExpr}; ${b} = ${bExpr};`);
    if (w) code.push(`${ah} = ${ahExpr}; ${bh} = ${bhExpr};`);
    let lop: number;
    let lcf: string | undefined;
    switch (op) {
      case 0:
        lop = LF_ADD;
        if (w) { code.push(`${t} = ${a} + ${b}; ${r} = ${t} >>> 0; ${rh} = (${ah} + ${bh} + (${t} >= ${TWO32} ? 1 : 0)) >>> 0;`); lcf = '0'; }
        else code.push(`${r} = ${mask(`${a} + ${b}`)};`);
        break;
      case 5: case 7:
        lop = LF_SUB;
        if (w) { code.push(`${t} = ${a} - ${b}; ${r} = ${t} >>> 0; ${rh} = (${ah} - ${bh} - (${t} < 0 ? 1 : 0)) >>> 0;`); lcf = '0'; }
        else code.push(`${r} = ${mask(`${a} - ${b}`)};`);
        break;
      default: {
        lop = LF_LOGIC;
        const o = op === 1 ? '|' : op === 4 ? '&' : '^';
        code.push(`${r} = (${a} ${o} ${b}) >>> 0;`);
        if (w) code.push(`${rh} = (${ah} ${o} ${bh}) >>> 0;`);
      }
    }
    if (wb !== null && op !== 7) code.push(wb(r, w ? rh : '0'));
    const logic = lop === LF_LOGIC;
    const p: Pending = {
      lop, size,
      a: logic ? '0' : a, ah: logic || !w ? '0' : ah, b: logic ? '0' : b, bh: logic || !w ? '0' : bh, r, rh: w ? rh : '0',
    };
    return { decl: `let ${a}, ${b}, ${r}${w ? `, ${ah}, ${bh}, ${rh}, ${t}` : ''};`, code: code.join(' '), pending: p, lcf };
  }

  /** INC/DEC of register d. */
  function incdec(i: Insn, dec: boolean, size: number, d: number, k: number): Gen {
    const g = incdecGen(dec, size, regRd(d, size, i.rex), regRdHi(d, size), (r, rh) => regWr(d, size, i.rex, r, rh), k);
    return { code: `${g.decl} ${g.code}`, killsFlags: true, lcf: g.lcf, readsCf: true, pending: g.pending };
  }

  /** INC/DEC (SDM vol. 2A INC/DEC: CF unchanged) of an operand expression; the CF kept comes from pending flags or the Cpu. */
  function incdecGen(dec: boolean, size: number, aExpr: string, ahExpr: string, wb: (r: string, rh: string) => string, k: number): AluGen {
    const w = size === 64;
    const a = `a${k}`, ah = `ah${k}`, r = `r${k}`, rh = `rh${k}`, t = `t${k}`;
    const cfv = `lcf${k}`;
    const cfE = pending === null ? 'c.cfBit()' : `(${flagExpr(pending, 'cf')} ? 1 : 0)`;
    const code: string[] = [`${cfv} = ${cfE};`, `${a} = ${aExpr};`];
    if (w) {
      code.push(`${ah} = ${ahExpr}; ${t} = ${a} ${dec ? '-' : '+'} 1; ${r} = ${t} >>> 0; ${rh} = (${ah} + ${dec ? `(${t} < 0 ? -1 : 0)` : `(${t} >= ${TWO32} ? 1 : 0)`}) >>> 0;`);
    } else {
      code.push(`${r} = (${a} ${dec ? '-' : '+'} 1) ${size === 32 ? '>>> 0' : `& ${size === 16 ? 0xffff : 0xff}`};`);
    }
    code.push(wb(r, w ? rh : '0'));
    return {
      decl: `let ${cfv}, ${a}, ${r}${w ? `, ${ah}, ${rh}, ${t}` : ''};`, code: code.join(' '), lcf: cfv,
      pending: { lop: dec ? LF_DEC : LF_INC, size, a, ah: w ? ah : '0', b: '1', bh: '0', r, rh: w ? rh : '0', lcf: cfv },
    };
  }

  function shift(i: Insn, k: number, probe: boolean): Gen | null {
    const op = i.reg & 7;
    const count = (i.opcode === 0xd1 ? 1 : i.imm & 0xff) & 0x1f;
    const d = i.rm;
    if (count === 0) return { code: `hi[${d}] = 0;` }; // no flags change; the 32-bit write zero-extends
    const a = `a${k}`, r = `r${k}`;
    const dead = !probe && deadAfter(k);
    let body: string, cf: string, of: string;
    switch (op) {
      case 0: body = `const ${r} = ((${a} << ${count}) | (${a} >>> ${32 - count})) >>> 0;`; cf = `${r} & 1`; of = `((${r} >>> 31) ^ (${r} & 1))`; break;
      case 1: body = `const ${r} = ((${a} >>> ${count}) | (${a} << ${32 - count})) >>> 0;`; cf = `${r} >>> 31`; of = `((${r} >>> 31) ^ ((${r} >>> 30) & 1))`; break;
      case 4: case 6: body = `const ${r} = (${a} << ${count}) >>> 0;`; cf = `(${a} >>> ${32 - count}) & 1`; of = `((${r} >>> 31) ^ ((${a} >>> ${32 - count}) & 1))`; break;
      case 5: body = `const ${r} = ${a} >>> ${count};`; cf = `(${a} >>> ${count - 1}) & 1`; of = `(${a} >>> 31)`; break;
      case 7: body = `const ${r} = ((${a} | 0) >> ${count}) >>> 0;`; cf = `((${a} | 0) >> ${count - 1}) & 1`; of = '0'; break;
      default: return null; // RCL/RCR: handler
    }
    if (dead) return { code: `const ${a} = lo[${d}]; ${body} lo[${d}] = ${r}; hi[${d}] = 0;` };
    const F = `F${k}`;
    let flags: string;
    if (op <= 1) flags = `c.flagsRaw = (${F} & ~0x801) | (${cf}) | ((${of}) << 11);`;
    else flags = `c.flagsRaw = (${F} & ~0x8d5) | (${cf}) | ((${of}) << 11) | ((${r} >>> 31) << 7) | (${r} === 0 ? 0x40 : 0) | PARITY[${r} & 0xff];`;
    return {
      code: `const ${F} = c.getFlags(); const ${a} = lo[${d}]; ${body} lo[${d}] = ${r}; hi[${d}] = 0; ${flags}`,
      readsC: true, setsC: true,
    };
  }
}

/** An ALU or INC/DEC computation: `decl` declares its locals, `code` computes (and stores) it. */
interface AluGen {
  decl: string;
  code: string;
  pending: Pending;
  lcf?: string;
}

interface Gen {
  code: string;
  /** Reads the Cpu's lazy flag state: pending flags are stored first. */
  readsC?: boolean;
  /** Leaves the Cpu's flag state exact (nothing pending afterwards). */
  setsC?: boolean;
  /** Replaces every status flag: pending flags before it are dead. */
  killsFlags?: boolean;
  /** Reads CF (INC/DEC keep it). */
  readsCf?: boolean;
  pending?: Pending;
  /** Value the instruction stores in Cpu.lcf (emitted at once). */
  lcf?: string;
  needsNextRip?: boolean;
}

export { isRelBranch };
