// Guest basic blocks for the translator: decoding a run (a trace through direct JMP/CALL, matching RET and the fall-through of Jcc, whose taken side is a side exit) of 32- or 64-bit instructions from one physical page and sorting each into inline, call-out or block-ending.
import { decode } from '../decode.js';
import { DecodeFault, Insn, MAP_0F, PFX_REP } from '../insn.js';
import type { InstructionHandler } from '../cpu.js';

/** At most this many instructions per block (keeps the generated functions small). */
export const MAX_BLOCK_INSNS = 32;
/** Nesting of followed CALLs whose RET a block may inline. */
const MAX_CALL_DEPTH = 4;
/** A Jcc's taken target reached by a control transfer at least this often (of HOT_THRESHOLD) is the direction a block follows. */
const TAKEN_HINT = 4;
const TWO32 = 4294967296;

/**
 * How an instruction may sit in a block.
 * - MID: its handler touches only general registers, status flags (lazy protocol), DF and memory
 *   through the Cpu's memory methods, and never changes RIP, IF, TF, the interrupt shadow, the
 *   mode, control or segment registers, and never sets vmexitPending or halted. It may be
 *   anywhere in a block; a fault unwinds from it like from the interpreter. CLI is MID too: it only
 *   clears IF (SDM vol. 2A CLI; #GP when CPL > IOPL, a fault like any other), and with IF = 0 no
 *   check of the run loop's top can fire that could not before (external interrupts and the
 *   interrupt window need IF = 1; SDM vol. 3A §6.8.1, vol. 3C §26.7.5); STI, which opens them, stays END.
 * - END: anything else (branches, far transfers, STI/CLI/POPF/IRET, MOV Sreg/CRn, INS/OUTS,
 *   HLT, string instructions, SSE, ...): executed by its handler as the block's last instruction,
 *   with the run loop's bookkeeping (vmexitPending, RIP ← nextRip, icount).
 * - EXITS: CPUID and IN/OUT (not string): a call-out anywhere in a block, like MID, but one that may end in a VM
 *   exit (vmexitPending; the block leaves) or in one the hypervisor's exit fastpath handled and resumed from in place
 *   (Cpu.fusedSteps): then the block goes on at the next instruction, having retired one instruction fewer and spent
 *   the fastpath's steps of the budget (Cpu.stepDebt). Without VMX they are plain call-outs: CPUID changes general
 *   registers only; an I/O access that stops the run or changes code is caught by the check after every call-out.
 * Direct JMP/CALL rel (and RET after such a CALL) and Jcc are END too, but the builder may continue the
 * block at their target (a Jcc at its fall-through) when it is on the same page (see `Block.links`).
 */
export const MID = 0, END = 1, EXITS = 2;

const MID_OPCODES = new Uint8Array(0x400);
{
  const mid = (first: number, last = first): void => { for (let k = first; k <= last; k++) MID_OPCODES[k] = 1; };
  for (let op = 0; op < 8; op++) mid(op * 8, op * 8 + 5); // ALU Eb/Ev,Gb/Gv ... rAX,Iz
  mid(0x40, 0x4f); // INC/DEC r (32-bit mode; REX prefixes in 64-bit mode, never an opcode there)
  mid(0x50, 0x5f); // PUSH/POP r
  mid(0x60, 0x61); // PUSHA/POPA (32-bit mode; #UD in 64-bit mode, where they never decode into a block)
  mid(0x63); mid(0x68, 0x6b); // MOVSXD (ARPL outside 64-bit mode), PUSH Iz, IMUL, PUSH Ib
  mid(0x80, 0x8b); mid(0x8d); mid(0x8f); // Grp1, TEST, XCHG, MOV, LEA, POP Ev
  mid(0x91, 0x99); mid(0x9c); mid(0x9e, 0x9f); // XCHG rAX, CBW/CWD, PUSHF, SAHF/LAHF
  mid(0xa0, 0xa3); mid(0xa8, 0xa9); mid(0xb0, 0xbf); // MOV moffs, TEST, MOV r,imm
  mid(0xc0, 0xc1); mid(0xc6, 0xc7); mid(0xd0, 0xd3); mid(0xd7); // shifts, MOV Ev,Iz, XLAT
  mid(0xf5); mid(0xf6, 0xf8); mid(0xf9); mid(0xfc, 0xfd); mid(0xfe); // CMC, Grp3, CLC/STC, CLD/STD, Grp4
  mid(0xfa); // CLI: clears IF only (see MID)
  mid(MAP_0F + 0x18, MAP_0F + 0x1f); // hint NOPs
  mid(MAP_0F + 0x40, MAP_0F + 0x4f); mid(MAP_0F + 0x90, MAP_0F + 0x9f); // CMOVcc, SETcc
  mid(MAP_0F + 0xa3); mid(MAP_0F + 0xa4, MAP_0F + 0xa5); mid(MAP_0F + 0xab); mid(MAP_0F + 0xac, MAP_0F + 0xad); mid(MAP_0F + 0xaf);
  mid(MAP_0F + 0xb0, MAP_0F + 0xb1); mid(MAP_0F + 0xb3); mid(MAP_0F + 0xb6, MAP_0F + 0xb7); mid(MAP_0F + 0xba, MAP_0F + 0xbf);
  mid(MAP_0F + 0xc0, MAP_0F + 0xc1); mid(MAP_0F + 0xc8, MAP_0F + 0xcf);
}

/** MID, END or EXITS for a decoded 32- or 64-bit-mode instruction. */
export function placement(i: Insn): number {
  const op = i.opcode;
  if (op === MAP_0F + 0xa2 || (op >= 0xe4 && op <= 0xe7) || (op >= 0xec && op <= 0xef)) return EXITS; // CPUID; IN/OUT imm8 and DX
  if (op === 0x90) return (i.prefixes & PFX_REP) !== 0 ? END : MID; // PAUSE may exit (SDM vol. 3C §26.1.3)
  if (op === 0xff) { const r = i.reg & 7; return r === 0 || r === 1 || r === 6 ? MID : END; }
  return MID_OPCODES[op] !== 0 ? MID : END;
}

/** A translated block: instructions from one physical page, entered at `rip` in 32- or 64-bit mode. */
export interface Block {
  /** The RIP it was built for (a physical page may be mapped at several linear addresses). */
  rip: number;
  /** Instructions it may retire in one pass. */
  len: number;
  /** Code size it was decoded for (the run loop enters it only in that mode). */
  mode: 32 | 64;
  /** Outside 64-bit mode: the highest CS offset it fetches or branches to (entered only when CS.limit ≥ it); -1 in 64-bit mode. */
  needLimit: number;
  insns: Insn[];
  handlers: InstructionHandler[];
  /** RIP of each instruction (a trace is not contiguous). */
  rips: number[];
  /**
   * Per instruction: for a JMP/CALL rel the block continues at its target (1) or not (0); for a Jcc
   * not last, 1 (the block continues at rips[k + 1], one of its two targets; the other is a side exit);
   * for a RET, the return address the block continues at when the popped value equals it (NaN: none).
   */
  links: number[];
  /** The generated function, or null to run the block in threaded form. */
  fn: ((c: never, limit: number) => void) | null;
}

let pageBytes: Uint8Array | undefined;
let pageOff = 0;
let crossed = false;
const fetchFromPage = (off: number): number => {
  const o = pageOff + off;
  if (o >= 4096) { crossed = true; return 0; }
  return pageBytes === undefined ? 0 : pageBytes[o];
};

/** Jcc/JMP/CALL with a relative displacement. */
export function isRelBranch(i: Insn): boolean {
  const op = i.opcode;
  return (op >= 0x70 && op <= 0x7f) || (op >= MAP_0F + 0x80 && op <= MAP_0F + 0x8f) || op === 0xeb || op === 0xe9 || op === 0xe8;
}

/** Jcc rel8/rel32 whose both directions a block may know (32-bit operand size outside 64-bit mode: a 16-bit one truncates EIP). */
function isCondRel(i: Insn, mode: number): boolean {
  const op = i.opcode;
  if (!((op >= 0x70 && op <= 0x7f) || (op >= MAP_0F + 0x80 && op <= MAP_0F + 0x8f))) return false;
  return i.immSize !== 0 && (mode === 64 || i.opSize === 32);
}

/** JMP rel8/rel32 and CALL rel32 whose target the block may follow. */
function isDirect(i: Insn, mode: number): boolean {
  const op = i.opcode;
  if (op !== 0xeb && op !== 0xe9 && op !== 0xe8) return false;
  return mode === 64 ? op !== 0xe8 || i.opSize === 64 : i.opSize === 32;
}

/**
 * Decode the block starting at byte `off` of the physical page `bytes` (undefined: a page of
 * zeros), for RIP `rip` in code size `mode`. It ends after an END instruction, before an
 * instruction that crosses the page, does not decode, wraps EIP or has an instruction
 * breakpoint, and at MAX_BLOCK_INSNS. A direct JMP/CALL whose target lies on the same page (and
 * is not yet in the block) is followed; so is a RET that matches a followed CALL, and a Jcc's
 * fall-through (its taken target is a side exit; a Jcc back to `rip` ends the block), or its taken
 * target when `hits` (the page's interpreter arrivals per offset) says control went there often. Null
 * when not even the first instruction qualifies.
 */
export function buildBlock(bytes: Uint8Array | undefined, off: number, rip: number, mode: 32 | 64, breakpoints: ReadonlySet<number>, handlers: InstructionHandler[], hits: Uint8Array | null = null): Block | null {
  const insns: Insn[] = [];
  const hs: InstructionHandler[] = [];
  const rips: number[] = [];
  const links: number[] = [];
  const returns: number[] = [];
  const seen = new Set<number>();
  let needLimit = -1;
  let r = rip;
  const start = off;
  pageBytes = bytes;
  while (insns.length < MAX_BLOCK_INSNS && off >= 0 && off < 4096 && !seen.has(off)) {
    if (insns.length > 0 && breakpoints.size !== 0 && breakpoints.has(r)) break;
    const i = new Insn();
    pageOff = off; crossed = false;
    decode(i, fetchFromPage, mode);
    if (crossed || i.fault !== DecodeFault.None) break;
    const next = r + i.length;
    if (mode !== 64 && next > TWO32) break; // EIP would wrap inside the instruction
    i.mode = mode;
    seen.add(off);
    insns.push(i);
    hs.push(handlers[i.opcode]);
    rips.push(r);
    links.push(NaN);
    if (mode !== 64 && next - 1 > needLimit) needLimit = next - 1;
    const k = insns.length - 1;
    if (placement(i) !== END) { off += i.length; r = next; continue; }
    if (mode !== 64 && isRelBranch(i)) { const t = i.opSize === 16 ? (next + i.imm) & 0xffff : (next + i.imm) >>> 0; if (t > needLimit) needLimit = t; }
    if (isCondRel(i, mode)) {
      // Jcc (SDM vol. 2A Jcc): the block goes on at the fall-through (the static default prediction, Intel
      // optimization reference manual §3.4.1.3: forward conditional branches not taken) and leaves at the
      // taken target (a side exit). When the interpreter has often arrived at the taken target by a control
      // transfer (the page's hit count, jit.ts), the block goes on there instead and the fall-through is
      // the side exit. A Jcc back to the block's start ends it: the generated code loops there (self-loop).
      const t = mode === 64 ? next + i.imm : (next + i.imm) >>> 0;
      if (t !== rip && (mode !== 64 || (t >= -140737488355328 && t < 140737488355328))) {
        links[k] = 1;
        const tOff = off + i.length + (t - next);
        // Only forward of the block's start: a trace that went back before it would run into its own start again (a
        // loop entered in the middle, e.g. after a budget stop), end there and be entered once per iteration, while
        // the block at the loop's head, which loops inside itself, never ran.
        if (hits !== null && tOff > start && tOff < 4096 && hits[tOff] >= TAKEN_HINT && !seen.has(tOff) && !(breakpoints.size !== 0 && breakpoints.has(t))) {
          off = tOff; r = t;
        } else { off += i.length; r = next; }
        continue;
      }
      break;
    }
    if (isDirect(i, mode)) {
      const t = mode === 64 ? next + i.imm : (next + i.imm) >>> 0;
      const tOff = off + i.length + (t - next);
      const call = i.opcode === 0xe8;
      if (tOff >= 0 && tOff < 4096 && t !== rip && !seen.has(tOff) && !(breakpoints.size !== 0 && breakpoints.has(t))
        && (!call || returns.length < MAX_CALL_DEPTH) && (mode !== 64 || (t >= -140737488355328 && t < 140737488355328))) {
        links[k] = 1;
        if (call) returns.push(next);
        off = tOff; r = t;
        continue;
      }
      links[k] = 0;
      break;
    }
    if (i.opcode === 0xc3 && returns.length > 0 && i.opSize === (mode === 64 ? 64 : 32)) {
      const ret = returns.pop()!;
      links[k] = ret;
      const tOff = off + (ret - r);
      if (tOff >= 0 && tOff < 4096 && !seen.has(tOff) && !(breakpoints.size !== 0 && breakpoints.has(ret))) { off = tOff; r = ret; continue; }
      // The return address is the block's last instruction's successor: the RET still ends it.
      links[k] = NaN;
    }
    break;
  }
  pageBytes = undefined;
  if (insns.length === 0) return null;
  return { rip, len: insns.length, mode, needLimit, insns, handlers: hs, rips, links, fn: null };
}
