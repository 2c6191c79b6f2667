// Every test guest runs unchanged under the hypervisor: the same output, status, instruction count and registers as on bare metal.
import { describe, expect, it } from 'vitest';
import { runImage } from '../../emulator/index.js';
import { buildGuest, canBuildAsm, canBuildC } from './build.js';
import { GUESTS } from './catalog.js';

const BUDGET = 20_000_000;

describe.skipIf(!canBuildAsm)('guests: hypervisor vs bare metal', () => {
  for (const g of GUESTS) {
    it.skipIf(g.needsC === true && !canBuildC)(g.name, () => {
      const b = buildGuest(g.spec);
      const cfg = { program: b.path, maxInstructions: BUDGET, ...g.launch };
      const bare = runImage(b.bytes, cfg, undefined, { mode: 'bare' });
      const vmx = runImage(b.bytes, cfg);
      expect(vmx.output).toBe(bare.output);
      expect(vmx.status).toBe(bare.status);
      expect(vmx.exitCode).toBe(bare.exitCode);
      // Instructions the hypervisor emulated at exits count as executed, so the totals agree.
      expect(vmx.instructions).toBe(bare.instructions);
      if (bare.status !== 'triple-fault') {
        // After a triple fault nothing architectural survives; otherwise every register must agree.
        expect(vmx.registers).toEqual(bare.registers);
      }
      // The hypervisor saw the guest's port I/O as exits.
      if (bare.output.length > 0) expect(vmx.vmExits.byReason.IO_INSTRUCTION ?? 0).toBeGreaterThan(0);
    });
  }
});
