// Exits handled in the processor's run loop (Hypervisor's exit shortcut) give the same run as exits handled by runSlice: the same slice ends, exit log, console output and machine state, slice by slice.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Machine, parseLaunchConfig } from '../../emulator/index.js';
import { stateHash } from '../../emulator/history/state-hash.js';
import { GUESTS, ROOT, type HistoryGuest } from '../history/guests.js';
import { prng } from '../prng.js';

/** The bench's exit loops (bench/guests/cpuid.asm, io.asm) with `count` iterations. */
function exitLoop(name: 'cpuid' | 'io', count: number): HistoryGuest {
  return {
    name: `${name} exit loop`,
    make: () => {
      const bytes = new Uint8Array(readFileSync(join(ROOT, 'bench', 'guests', `${name}.bin`)));
      new DataView(bytes.buffer).setBigUint64(8, BigInt(count), true);
      return new Machine(bytes, parseLaunchConfig({ program: name, format: 'flat', cpuMode: 'long', maxInstructions: 50_000_000 }));
    },
  };
}

/** Where a machine is after a slice: what a debugger or the CLI would see of it. */
function position(m: Machine, stop: unknown): string {
  const hv = m.hv!;
  return JSON.stringify({ stop: typeof stop === 'object' ? (stop as { status: string }).status : stop, icount: m.cpu.icount, exits: hv.log.total, steps: hv.stepsSpent, inGuest: hv.inGuest, rip: m.guestRip() });
}

function exitLines(m: Machine): string[] {
  return m.hv!.log.recent().map((e) => `#${e.n} ${e.name} ${e.summary} rip=0x${e.rip.toString(16)} [${e.bytes.join(' ')}] ${e.outcome} i=${e.icount}${e.note !== undefined ? ` | ${e.note}` : ''}`);
}

const guests: HistoryGuest[] = [exitLoop('cpuid', 20_000), exitLoop('io', 20_000), ...GUESTS];

describe('the exit shortcut', () => {
  for (const g of guests) {
    it(`${g.name}: the same run with and without it, slice by slice`, () => {
      const on = g.make(() => {}), off = g.make(() => {});
      off.hv!.shortcutEnabled = false;
      const rand = prng(0x5c0ffee);
      let slices = 0;
      for (;;) {
        // Slices of one step (a debugger's instruction step), a few, and many: the budget must come out the same.
        const u = rand();
        const slice = u < 0.3 ? 1 : u < 0.6 ? 1 + Math.floor(rand() * 40) : u < 0.9 ? 1 + Math.floor(rand() * 3000) : 1 + Math.floor(rand() * 100_000);
        const a = on.runSlice(slice), b = off.runSlice(slice);
        slices++;
        expect(position(on, a), `slice ${slices} (${slice} steps)`).toBe(position(off, b));
        if (slices % 50 === 0) expect(stateHash(on).all, `state after slice ${slices}`).toBe(stateHash(off).all);
        if (typeof a === 'object') break;
        if (a === 'breakpoint') { on.cpu.resumeFromBreakpoint(); off.cpu.resumeFromBreakpoint(); }
      }
      expect(exitLines(on)).toEqual(exitLines(off));
      expect(on.output()).toBe(off.output());
      expect(stateHash(on).all).toBe(stateHash(off).all);
      // The shortcut was taken where the guest exits more than at its end, and not by the machine without it.
      if (off.hv!.log.total > 2) expect(on.hv!.shortcutExits).toBeGreaterThan(0);
      expect(off.hv!.shortcutExits).toBe(0);
    }, 120_000);
  }

  it('is not taken while a debugger watches exits', () => {
    const m = exitLoop('cpuid', 200).make(() => {});
    let seen = 0;
    m.hv!.exitBreak = () => { seen++; return false; };
    expect(typeof m.runToEnd()).toBe('object');
    expect(seen).toBe(2 * 200 + 1); // before and after each CPUID exit; before the HLT that ends the run
    expect(m.hv!.shortcutExits).toBe(0);
  });
});
