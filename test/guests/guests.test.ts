// Runs every test guest on vmscope's machine (runImage) and checks status, exit code and console output.
import { describe, expect, it } from 'vitest';
import { EXIT_CODES, runImage } from '../../emulator/index.js';
import { buildGuest, canBuildAsm, canBuildC } from './build.js';
import { GUESTS, normaliseMemLine } from './catalog.js';

/** The largest guests (the C sort and sieve) need about 2 million instructions: 10x headroom, and a looping guest fails fast. */
const BUDGET = 20_000_000;

describe.skipIf(!canBuildAsm)('test guests on the vmscope machine', () => {
  for (const g of GUESTS) {
    it.skipIf(g.needsC === true && !canBuildC)(g.name, () => {
      const b = buildGuest(g.spec);
      const want = g.expect(b);
      const r = runImage(b.bytes, { program: b.path, maxInstructions: BUDGET, ...g.launch });
      let output = r.output;
      if (g.spec.name === 'mbkernel') {
        const n = normaliseMemLine(output, g.launch.memoryMiB ?? 64);
        expect(n.plausible, `mem_lower=${n.memLower} mem_upper=${n.memUpper} for ${g.launch.memoryMiB ?? 64} MiB`).toBe(true);
        output = n.output;
      }
      const exitCode = want.exitCode ?? EXIT_CODES[want.status as keyof typeof EXIT_CODES];
      expect({ status: r.status, exitCode: r.exitCode, output, message: r.message }).toEqual({ ...want, exitCode, message: r.message });
    });
  }
});
