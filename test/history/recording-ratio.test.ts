// Regression check on the cost of recording history, as a ratio within one run (no absolute timing): the compute loop forward with time travel on must stay within 2× of the same run without (about 1.1× normally; a translator bug once made it 10×).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Machine, parseLaunchConfig } from '../../emulator/index.js';
import { MachineDebuggee } from '../../emulator/debug/debuggee.js';

const ROOT = join(__dirname, '..', '..');

/** ms to run `units` of the integer loop forward in the debug adapter's 200 000-unit slices, history on or off. */
function forwardMs(loop: Uint8Array, history: boolean, units: number): number {
  const m = new Machine(loop, parseLaunchConfig({ program: 'loop', format: 'flat', cpuMode: 'long', maxInstructions: 1e12 }));
  const d = new MachineDebuggee(m);
  if (history) d.enableHistory();
  const t0 = performance.now();
  const end = m.budgetUsed() + units;
  while (m.budgetUsed() < end) {
    const s = d.resume(Math.min(200_000, end - m.budgetUsed()));
    if (s !== null) throw new Error(`the loop stopped: ${s.reason}`);
  }
  return performance.now() - t0;
}

describe('recording history', () => {
  it('costs less than the run itself (fastest of 3 alternating runs each)', () => {
    const loop = new Uint8Array(readFileSync(join(ROOT, 'bench', 'guests', 'integer.bin')));
    new DataView(loop.buffer, loop.byteOffset).setUint32(1, 0xffffffff, true); // mov ecx, imm32: as long as it gets
    const off: number[] = [], on: number[] = [];
    for (let k = 0; k < 4; k++) {
      const a = forwardMs(loop, false, 30_000_000), b = forwardMs(loop, true, 30_000_000);
      if (k > 0) { off.push(a); on.push(b); } // the first pair warms up
    }
    expect(Math.min(...on) / Math.min(...off)).toBeLessThan(2);
  });
});
