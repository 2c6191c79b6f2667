// Interrupts end to end under the hypervisor: PIT and PIC drive IRQ 0, HLT idles to the next deadline, the hypervisor injects at VM entry.
import { describe, expect, it } from 'vitest';
import { Machine, parseLaunchConfig } from '../../emulator/index.js';
import { nasm } from './nasm.js';

describe('timer interrupts through the virtual PIC and PIT', () => {
  it('delivers ten 1 kHz PIT ticks to a halting real-mode guest', () => {
    const m = new Machine(nasm('pit-ticks'), parseLaunchConfig({ program: 'pit', format: 'flat', cpuMode: 'real' }));
    const r = m.runToEnd();
    expect(r.output).toBe('ten ticks\n');
    expect(r.status).toBe('debug-exit');
    expect(r.exitCode).toBe(21);
    // The guest halted between ticks: HLT exits, and the hypervisor advanced guest time by ~10 ms.
    expect(r.vmExits.byReason.HLT).toBeGreaterThanOrEqual(10);
    const t = m.cpu.icount + m.cpu.idleTicks;
    expect(t).toBeGreaterThan(8_900_000); // the first tick comes at once (mode 2 raises OUT), then nine 1 ms periods
    expect(t).toBeLessThan(9_100_000);
    // Every tick was acknowledged with an EOI: port 0x20 writes are I/O exits.
    const eois = m.hv!.log.recent().filter((e) => e.name === 'IO_INSTRUCTION' && e.summary.includes('0x20')).length;
    expect(eois).toBeGreaterThanOrEqual(10);
  });

  it('is deterministic: two runs give the same exits at the same guest times', () => {
    const run = () => {
      const m = new Machine(nasm('pit-ticks'), parseLaunchConfig({ program: 'pit', format: 'flat', cpuMode: 'real' }));
      m.runToEnd();
      return m.hv!.log.recent().map((e) => `${e.n}:${e.name}:${e.rip}:${e.icount}:${e.note ?? ''}`).join('\n');
    };
    expect(run()).toBe(run());
  });
});
