// Guest basic blocks for the translator: decoding a run of 64-bit instructions from one physical page and sorting each into inline, call-out or block-ending.
import { decode } from '../decode.js';
import { DecodeFault, Insn, MAP_0F, PFX_REP } from '../insn.js';
import type { InstructionHandler } from '../cpu.js';

/** At most this many instructions per block (keeps the generated functions small). */
export const MAX_BLOCK_INSNS = 32;

/**
 * How an instruction may sit in a block.
 * - MID: its handler touches only general registers, status flags (lazy protocol), DF and memory
 *   through the Cpu's memory methods, and never changes RIP, IF, TF, the interrupt shadow, the
 *   mode, control or segment registers, and never sets vmexitPending or halted. It may be
 *   anywhere in a block; a fault unwinds from it like from the interpreter.
 * - END: anything else (branches, far transfers, STI/CLI/POPF/IRET, MOV Sreg/CRn, I/O, CPUID,
 *   HLT, string instructions, SSE, ...): executed by its handler as the block's last instruction,
 *   with the run loop's bookkeeping (vmexitPending, RIP ← nextRip, icount).
 */
export const MID = 0, END = 1;

const MID_OPCODES = new Uint8Array(0x400);
{
  const mid = (first: number, last = first): void => { for (let k = first; k <= last; k++) MID_OPCODES[k] = 1; };
  for (let op = 0; op < 8; op++) mid(op * 8, op * 8 + 5); // ALU Eb/Ev,Gb/Gv ... rAX,Iz
  mid(0x50, 0x5f); // PUSH/POP r
  mid(0x63); mid(0x68, 0x6b); // MOVSXD, PUSH Iz, IMUL, PUSH Ib
  mid(0x80, 0x8b); mid(0x8d); mid(0x8f); // Grp1, TEST, XCHG, MOV, LEA, POP Ev
  mid(0x91, 0x99); mid(0x9c); mid(0x9e, 0x9f); // XCHG rAX, CBW/CWD, PUSHF, SAHF/LAHF
  mid(0xa0, 0xa3); mid(0xa8, 0xa9); mid(0xb0, 0xbf); // MOV moffs, TEST, MOV r,imm
  mid(0xc0, 0xc1); mid(0xc6, 0xc7); mid(0xd0, 0xd3); mid(0xd7); // shifts, MOV Ev,Iz, XLAT
  mid(0xf5); mid(0xf6, 0xf8); mid(0xf9); mid(0xfc, 0xfd); mid(0xfe); // CMC, Grp3, CLC/STC, CLD/STD, Grp4
  mid(MAP_0F + 0x18, MAP_0F + 0x1f); // hint NOPs
  mid(MAP_0F + 0x40, MAP_0F + 0x4f); mid(MAP_0F + 0x90, MAP_0F + 0x9f); // CMOVcc, SETcc
  mid(MAP_0F + 0xa3); mid(MAP_0F + 0xa4, MAP_0F + 0xa5); mid(MAP_0F + 0xab); mid(MAP_0F + 0xac, MAP_0F + 0xad); mid(MAP_0F + 0xaf);
  mid(MAP_0F + 0xb0, MAP_0F + 0xb1); mid(MAP_0F + 0xb3); mid(MAP_0F + 0xb6, MAP_0F + 0xb7); mid(MAP_0F + 0xba, MAP_0F + 0xbf);
  mid(MAP_0F + 0xc0, MAP_0F + 0xc1); mid(MAP_0F + 0xc8, MAP_0F + 0xcf);
}

/** MID or END for a decoded 64-bit-mode instruction. */
export function placement(i: Insn): number {
  const op = i.opcode;
  if (op === 0x90) return (i.prefixes & PFX_REP) !== 0 ? END : MID; // PAUSE may exit (SDM vol. 3C §26.1.3)
  if (op === 0xff) { const r = i.reg & 7; return r === 0 || r === 1 || r === 6 ? MID : END; }
  return MID_OPCODES[op] !== 0 ? MID : END;
}

/** A translated block: instructions from one physical page, entered at `rip` in 64-bit mode. */
export interface Block {
  /** The RIP it was built for (a physical page may be mapped at several linear addresses). */
  rip: number;
  /** Instructions it may retire in one pass. */
  len: number;
  insns: Insn[];
  handlers: InstructionHandler[];
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

/**
 * Decode the block starting at byte `off` of the physical page `bytes` (undefined: a page of
 * zeros), for RIP `rip`. It ends after an END instruction, before an instruction that crosses the
 * page, does not decode, or has an instruction breakpoint, and at MAX_BLOCK_INSNS. Null when not
 * even the first instruction qualifies.
 */
export function buildBlock(bytes: Uint8Array | undefined, off: number, rip: number, breakpoints: ReadonlySet<number>, handlers: InstructionHandler[]): Block | null {
  const insns: Insn[] = [];
  const hs: InstructionHandler[] = [];
  let r = rip;
  pageBytes = bytes;
  while (insns.length < MAX_BLOCK_INSNS && off < 4096) {
    if (insns.length > 0 && breakpoints.size !== 0 && breakpoints.has(r)) break;
    const i = new Insn();
    pageOff = off; crossed = false;
    decode(i, fetchFromPage, 64);
    if (crossed || i.fault !== DecodeFault.None) break;
    i.mode = 64;
    insns.push(i);
    hs.push(handlers[i.opcode]);
    off += i.length; r += i.length;
    if (placement(i) === END) break;
  }
  pageBytes = undefined;
  if (insns.length === 0) return null;
  return { rip, len: insns.length, insns, handlers: hs, fn: null };
}
