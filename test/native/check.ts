// Compares an emulator run of a native case with the host's result under the SDM-defined mask, and formats reproducible reports.
import type { HarnessOutput } from './harness.js';
import type { NativeCase } from './gen.js';
import { COMPARED } from './flags.js';

/** The emulator side, exactly as emulator/testing/snippet.ts declares it. */
export interface SnippetState {
  gpr: bigint[];
  rflags: bigint;
}
export interface SnippetResult {
  gpr: bigint[];
  rflags: bigint;
  fault: number | null;
  scratch: Uint8Array;
}
export interface SnippetRunnerLike {
  run(code: Uint8Array, state: SnippetState, scratch?: Uint8Array): SnippetResult;
}

export const GPR_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const RSP = 4;

const h64 = (v: bigint): string => `0x${v.toString(16)}`;

/** Differences between the host (`want`) and the emulator (`got`), empty when they agree. */
export function diffCase(c: NativeCase, want: HarnessOutput, got: SnippetResult): string[] {
  const out: string[] = [];
  if (want.fault !== got.fault) out.push(`fault: want ${want.fault ?? 'none'} got ${got.fault ?? 'none'}`);
  for (let i = 0; i < 16; i++) {
    if (i === RSP || (c.undefinedRegs >> i) & 1) continue;
    const w = want.gpr[i]!;
    const g = got.gpr[i] ?? -1n;
    if (w !== g) out.push(`${GPR_NAMES[i]}: want ${h64(w)} got ${h64(g)}`);
  }
  // A faulting instruction changes nothing (SDM vol. 3A §6.5 faults), so all flags count then.
  const m = BigInt(want.fault !== null ? COMPARED : c.definedFlags);
  if ((want.rflags & m) !== (got.rflags & m)) {
    out.push(`rflags: want ${h64(want.rflags & m)} got ${h64(got.rflags & m)} (compared ${h64(m)}, diff ${h64((want.rflags ^ got.rflags) & m)})`);
  }
  if (c.scratch) {
    const n = c.scratch.length;
    const bad: string[] = [];
    for (let i = 0; i < n && bad.length < 4; i++) {
      const g = got.scratch[i];
      if (g !== want.scratch[i]) bad.push(`+${i.toString(16)}: want ${want.scratch[i]!.toString(16)} got ${g?.toString(16)}`);
    }
    if (bad.length) out.push(`scratch ${bad.join(', ')}`);
  }
  return out;
}

export function caseInputs(c: NativeCase): string {
  const regs = c.gpr.map((v, i) => (i === RSP ? null : `${GPR_NAMES[i]}=${h64(v)}`)).filter((x) => x !== null);
  return `${regs.join(' ')} rflags=${h64(c.rflags)}${c.scratch ? ` scratch[${c.scratch.length}]` : ''}`;
}

export function formatMismatch(c: NativeCase, index: number, diffs: string[]): string {
  return [
    `case #${index}: ${c.asm}   bytes ${Buffer.from(c.code).toString('hex')}`,
    `  in: ${caseInputs(c)}`,
    ...diffs.map((d) => `  ${d}`),
  ].join('\n');
}

/** Groups mismatches by instruction shape ("rcl byte [mem]" style) so a report shows the pattern first. */
export function shapeOf(asm: string): string {
  return asm
    .replace(/\[[^\]]*\]/g, '[mem]')
    .replace(/0x[0-9a-f]+/g, 'imm')
    .replace(/\b(r(8|9|1[0-5])[dwb]?|[re]?[abcd]x|[abcd][lh]|[re]?(si|di|bp)|(si|di|bp)l)\b/g, (r) => regClass(r));
}

function regClass(r: string): string {
  if (/^r\d+$/.test(r) || /^r[a-z]{2}$/.test(r)) return 'r64';
  if (/^r\d+d$/.test(r) || /^e[a-z]{2}$/.test(r)) return 'r32';
  if (/^r\d+w$/.test(r) || /^[a-z]{2}$/.test(r) && !/[lh]$/.test(r)) return 'r16';
  return 'r8';
}
