// Hostile guest code: random instruction streams in a start mode never throw a host exception and never run past the budget (shared by the per-mode test files).
import { expect, it } from 'vitest';
import '../../emulator/cpu/index.js';
import { Cpu } from '../../emulator/cpu/cpu.js';
import { applyArchState, startState, type StartMode } from '../../emulator/cpu/setup.js';
import { PhysicalMemory } from '../../emulator/mem/physmem.js';

/** xorshift32: deterministic, so a failure reproduces from its seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}

/** A million streams in all, a quarter per start mode (VMSCOPE_HOSTILE_STREAMS scales it). */
const STREAMS = Number(process.env.VMSCOPE_HOSTILE_STREAMS ?? 1_000_000);
const MODES: StartMode[] = ['real', 'protected', 'paged32', 'long'];
const BUDGET = 48;
const CODE = 0x100000;

export function randomStreamsTest(mode: StartMode): void {
  {
    it(`${mode} mode: ${STREAMS / MODES.length} streams, no host exception, budget honoured`, () => {
      const mem = new PhysicalMemory(4 * 1024 * 1024);
      let ioCount = 0;
      const bus = {
        ioRead: () => { ioCount++; return 0xffffffff; },
        ioWrite: () => { ioCount++; },
        findMmio: () => null,
      };
      const cpu = new Cpu(mem, bus);
      const next = rng(0x5eed + MODES.indexOf(mode));
      const entry = mode === 'real' ? 0x7c00 : CODE;
      // The start state is built once; random code may scribble over its tables, which is part of the test.
      const start = startState(mode, entry, mem);
      const bytes = new Uint8Array(32);
      const outcomes = { budget: 0, halted: 0, shutdown: 0, stop: 0, breakpoint: 0 };
      for (let n = 0; n < STREAMS / MODES.length; n++) {
        for (let k = 0; k < bytes.length; k += 4) {
          const v = next();
          bytes[k] = v; bytes[k + 1] = v >>> 8; bytes[k + 2] = v >>> 16; bytes[k + 3] = v >>> 24;
        }
        applyArchState(cpu, start);
        // A real IVT/IDT is absent on purpose: exceptions escalate to #DF and a triple fault.
        for (let r = 0; r < 16; r++) { cpu.lo[r] = next(); cpu.hi[r] = mode === 'long' ? next() & 1 : 0; }
        cpu.lo[4] = mode === 'real' ? 0x7000 : 0x80000; cpu.hi[4] = 0;
        mem.poke(entry, bytes);
        const before = cpu.icount;
        let stop: string;
        try {
          stop = cpu.run(BUDGET);
        } catch (e) {
          const hexBytes = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
          throw new Error(`stream ${n} in ${mode} mode threw ${String(e)} at rip=0x${cpu.rip.toString(16)}; bytes ${hexBytes}`);
        }
        cpu.stopRequested = false;
        outcomes[stop as keyof typeof outcomes]++;
        expect(cpu.icount - before).toBeLessThanOrEqual(BUDGET);
      }
      // The streams must exercise more than one outcome: some end early (halt or, with no usable
      // IDT, a triple fault) and some exhaust the budget.
      expect(outcomes.shutdown + outcomes.halted).toBeGreaterThan(0);
      expect(outcomes.budget).toBeGreaterThan(0);
      console.log(`${mode}: ${JSON.stringify(outcomes)}, port accesses ${ioCount}, unimplemented reports ${cpu.unimplemented.length}`);
    });
  }
}
