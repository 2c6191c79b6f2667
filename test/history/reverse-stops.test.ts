// Reverse continue in the emulator: back to the last write a data breakpoint watches, and to the previous VM exit of a filter.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Machine, parseLaunchConfig } from '../../emulator/index.js';
import { MachineDebuggee } from '../../emulator/debug/debuggee.js';
import { stateHash } from '../../emulator/history/state-hash.js';
import { GUESTS, ROOT } from './guests.js';

describe('reverse continue (debuggee)', () => {
  it('goes back to the previous write a data breakpoint watches, with the state of that stop', () => {
    const bytes = new Uint8Array(readFileSync(join(ROOT, 'bench', 'guests', 'memcpy.bin')));
    const m = new Machine(bytes, parseLaunchConfig({ program: 'memcpy', format: 'flat', cpuMode: 'long', maxInstructions: 50_000_000 }));
    const d = new MachineDebuggee(m);
    d.enableHistory({ interval: 20_000 });
    // Find a destination byte the guest writes repeatedly: watch the first page it writes.
    const dst = 0x300100;
    expect(d.setDataBreakpoints([{ address: dst, size: 8, physical: true, access: 'write' }])[0].verified).toBe(true);
    const stops: Array<{ icount: number; hash: string }> = [];
    for (let k = 0; k < 4; k++) {
      const s = d.resume(5_000_000);
      expect(s?.reason).toBe('data breakpoint');
      stops.push({ icount: m.cpu.icount, hash: stateHash(m).all });
    }
    expect(new Set(stops.map((s) => s.icount)).size).toBe(4);
    for (const k of [2, 1, 0]) {
      const s = d.reverseContinue();
      expect(s.reason).toBe('data breakpoint');
      expect(m.cpu.icount).toBe(stops[k].icount);
      expect(stateHash(m).all).toBe(stops[k].hash);
    }
    const none = d.reverseContinue();
    expect(none.reason).toBe('entry');
    expect(none.text).toMatch(/no breakpoint, data breakpoint or VM-exit filter/);
    expect(m.cpu.icount).toBe(0);
  });

  it('goes back to the previous VM exit a filter with a condition selects, at the configured stage', () => {
    const m = GUESTS[2].make(() => undefined);
    const d = new MachineDebuggee(m);
    d.enableHistory({ interval: 5_000 });
    d.setExitFilters([{ filter: 'vmexit.IO_INSTRUCTION', condition: 'out' }], 'after');
    const seen: Array<{ n: number; hash: string }> = [];
    for (let k = 0; k < 5; k++) {
      const s = d.resume(10_000_000)!;
      expect(s.exit?.stage).toBe('after');
      seen.push({ n: s.exit!.n, hash: stateHash(m).all });
    }
    for (const k of [3, 2]) {
      const s = d.reverseContinue();
      expect(s.exit).toMatchObject({ n: seen[k].n, stage: 'after', name: 'IO_INSTRUCTION' });
      expect(stateHash(m).all).toBe(seen[k].hash);
    }
    // gotoExit to one of them: before its handler, the exit log one shorter.
    const g = d.gotoExit(seen[1].n);
    expect(g.reason).toBe('goto');
    expect(g.exit).toMatchObject({ n: seen[1].n, stage: 'before' });
    expect(m.hv!.log.total).toBe(seen[1].n - 1);
  });
});
