// Shared vitest body of the native groups: generate cases, run them on the host, check encodings with iced-x86, compare the emulator.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { diffCase, formatMismatch, shapeOf } from './check.js';
import type { SnippetRunnerLike } from './check.js';
import { COMPARED } from './flags.js';
import { Rng } from './gen.js';
import type { NativeCase } from './gen.js';
import { nativeAvailable, runNative } from './harness.js';
import type { HarnessOutput } from './harness.js';
import { icedDisassemble } from './iced.js';

const RUNNER_SOURCE = fileURLToPath(new URL('../../emulator/testing/snippet.ts', import.meta.url));

/** Cases per group (the issue asks for at least 100 000); NATIVE_CASES overrides for quick local runs. */
export const CASES = Number(process.env.NATIVE_CASES ?? 100_000);
const ICED_SAMPLE = 4_000;
/** Diagnostic: NATIVE_UNMASKED=1 also compares SDM-undefined flags and registers (shows where the emulator differs from this host's choices). */
const UNMASKED = process.env.NATIVE_UNMASKED === '1';
const REPORT_LIMIT = 25;

/** The emulator's SnippetRunner, or null while emulator/testing/snippet.ts does not exist yet (or NATIVE_HOST_ONLY=1). */
export async function loadRunner(): Promise<SnippetRunnerLike | null> {
  if (!existsSync(RUNNER_SOURCE) || process.env.NATIVE_HOST_ONLY === '1') return null;
  const mod = (await import(/* @vite-ignore */ RUNNER_SOURCE)) as { SnippetRunner: new () => SnippetRunnerLike };
  return new mod.SnippetRunner();
}

export interface GroupSpec {
  name: string;
  /** Default seed; NATIVE_SEED overrides it to reproduce or explore. */
  seed: number;
  gen: (rng: Rng) => NativeCase;
  /** Group-specific checks of the host results that need no emulator; returns problems found in one chunk. */
  hostChecks?: (cases: readonly NativeCase[], results: readonly HarnessOutput[], firstIndex: number) => string[];
  /** Checks over the whole run once every chunk was seen (e.g. how often #DE happened). */
  hostFinal?: () => string[];
  /** Instruction shapes the generator must produce (matched against the case text), each in at least 1/2000 of the cases. */
  coverage?: RegExp[];
  /** Whether the group's cases may fault on the host (only #DE in multiply/divide); else a fault is a generator bug. */
  mayFault?: boolean;
}

/** Cases are generated, run natively and compared in chunks so the heap stays small (BigInt-heavy). */
const CHUNK = 10_000;

interface GroupOutcome {
  generated: number;
  icedBad: string[];
  coverage: number[];
  hostBad: string[];
  emuFailures: number;
  emuReports: string[];
  shapes: Map<string, number>;
}

function runGroup(spec: GroupSpec, seed: number, runner: SnippetRunnerLike | null): GroupOutcome {
  const out: GroupOutcome = { generated: 0, icedBad: [], coverage: (spec.coverage ?? []).map(() => 0), hostBad: [], emuFailures: 0, emuReports: [], shapes: new Map() };
  const rng = new Rng(seed);
  const icedStep = Math.max(1, Math.floor(CASES / ICED_SAMPLE));
  for (let first = 0; first < CASES; first += CHUNK) {
    const cases: NativeCase[] = [];
    for (let i = first; i < Math.min(CASES, first + CHUNK); i++) cases.push(spec.gen(rng));
    const host = runNative(cases);
    out.generated += cases.length;
    for (let k = 0; k < cases.length; k++) {
      const i = first + k;
      const c = cases[k]!;
      const h = host[k]!;
      spec.coverage?.forEach((re, n) => {
        if (re.test(c.asm)) out.coverage[n]!++;
      });
      if (i % icedStep === 0) {
        const r = icedDisassemble(c.code);
        if (r.invalid || r.text !== c.asm || r.length !== c.code.length) {
          out.icedBad.push(`#${i} ${Buffer.from(c.code).toString('hex')}: ours "${c.asm}" iced "${r.text}" (${r.length} bytes)`);
        }
      }
      if (h.stray) out.hostBad.push(`#${i} ${c.asm}: wrote outside its scratch window`);
      if (h.fault !== null && !spec.mayFault) out.hostBad.push(`#${i} ${c.asm}: unexpected host fault ${h.fault}`);
      if (!runner) continue;
      let diffs: string[];
      try {
        const got = runner.run(c.code, { gpr: [...c.gpr], rflags: c.rflags }, c.scratch ?? undefined);
        diffs = diffCase(UNMASKED ? { ...c, definedFlags: COMPARED, undefinedRegs: 0 } : c, h, got);
      } catch (e) {
        diffs = [`emulator threw: ${e instanceof Error ? e.message : String(e)}`];
      }
      if (diffs.length === 0) continue;
      out.emuFailures++;
      const shape = shapeOf(c.asm);
      out.shapes.set(shape, (out.shapes.get(shape) ?? 0) + 1);
      if (out.emuReports.length < REPORT_LIMIT) out.emuReports.push(formatMismatch(c, i, diffs));
    }
    if (spec.hostChecks) out.hostBad.push(...spec.hostChecks(cases, host, first));
  }
  if (spec.hostFinal) out.hostBad.push(...spec.hostFinal());
  return out;
}

export function nativeGroup(spec: GroupSpec, runner: SnippetRunnerLike | null): void {
  const seed = Number(process.env.NATIVE_SEED ?? spec.seed);
  describe.skipIf(!nativeAvailable)(`${spec.name} vs the host CPU (seed ${seed}, ${CASES} cases)`, () => {
    let o: GroupOutcome;
    beforeAll(() => {
      o = runGroup(spec, seed, runner);
    });

    it('encodes every sampled case as iced-x86 decodes it (text and length)', () => {
      expect(o.generated).toBe(CASES);
      expect(o.icedBad.slice(0, 10)).toEqual([]);
    });

    it('covers every instruction form of the group', () => {
      const thin = (spec.coverage ?? []).flatMap((re, n) => (o.coverage[n]! * 2000 < CASES ? [`${re}: ${o.coverage[n]} cases`] : []));
      expect(thin).toEqual([]);
    });

    it('runs every case on the host inside its scratch window, faulting only where the SDM says', () => {
      expect(o.hostBad.slice(0, 10)).toEqual([]);
    });

    it.skipIf(!runner)('emulator agrees with the host on every case (SDM-undefined flags and registers masked)', () => {
      if (o.emuFailures === 0) return;
      const byShape = [...o.shapes].sort((a, b) => b[1] - a[1]).map(([s, n]) => `  ${n}\t${s}`);
      const msg = [
        `${spec.name}: ${o.emuFailures} of ${CASES} cases differ from the host (seed ${seed}; NATIVE_SEED=${seed} reproduces)`,
        'mismatches by shape:',
        ...byShape.slice(0, 40),
        'first mismatches:',
        ...o.emuReports,
      ].join('\n');
      console.error(msg);
      expect.fail(msg);
    });
  });
}


const REG_INDEX: Record<string, number> = Object.fromEntries(
  ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'].map((n, i) => [n, i]),
);

/** Runs one hand-written snippet on the host: `hex` bytes, named register inputs, RFLAGS, scratch. */
export function hostRun(hex: string, regs: Record<string, bigint> = {}, rflags = 0x2n, scratch: Uint8Array | null = null): HarnessOutput & { reg: (name: string) => bigint } {
  const gpr = new Array<bigint>(16).fill(0n);
  for (const [k, v] of Object.entries(regs)) gpr[REG_INDEX[k]!] = v;
  const out = runNative([{ code: Uint8Array.from(Buffer.from(hex, 'hex')), gpr, rflags, scratch }])[0]!;
  return { ...out, reg: (name: string) => out.gpr[REG_INDEX[name]!]! };
}
