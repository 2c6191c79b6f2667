// Time travel in the emulator: reverse to recorded moments gives the exact recorded state, and running forward again repeats the run.
import { describe, expect, it } from 'vitest';
import { MachineDebuggee } from '../../emulator/debug/debuggee.js';
import { stateHash } from '../../emulator/history/state-hash.js';
import { compareMoments, type Moment } from '../../emulator/history/moment.js';
import type { Machine } from '../../emulator/index.js';
import { GUESTS } from './guests.js';

/** The whole exit trace (every kept exit's entry, as views and traces show it). */
function exitTrace(m: Machine): string {
  const hv = m.hv;
  if (hv === null) return '';
  return JSON.stringify(hv.log.window(1, hv.log.total).map((e) => ({ ...e, summary: e.summary })));
}

/** Deterministic "random" order (a linear congruential generator; tests must not depend on Math.random). */
function shuffled<T>(xs: T[], seed: number): T[] {
  const out = xs.slice();
  let s = seed >>> 0;
  for (let k = out.length - 1; k > 0; k--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (k + 1);
    [out[k], out[j]] = [out[j], out[k]];
  }
  return out;
}

describe('time travel: reverse to recorded moments, forward again', () => {
  for (const g of GUESTS) {
    it(g.name, () => {
      // The run's length in budget units, to spread the stops over it (capped: long guests are cut short).
      const probe = g.make(() => undefined);
      probe.runToEnd();
      const total = Math.min(probe.budgetUsed(), 1_200_000);
      const out: number[] = [];
      const m = g.make((b) => out.push(b));
      const d = new MachineDebuggee(m);
      d.enableHistory({ interval: Math.max(100, Math.floor(total / 12)) });
      // Forward: stop at uneven budgets and at VM exits (phase 2 moments), hashing the complete state at each.
      const chunks = [17_011, 1, 3, 40_000, 9_999, 2, 77_777, 5, 25_000, 60_001].map((c) => Math.max(1, Math.round((c * total) / 1_000_000)));
      const points: Array<{ moment: Moment; hash: string; out: number }> = [];
      let ended = false;
      for (let k = 0; k < 40 && !ended; k++) {
        const s = k % 3 === 2 && m.hv !== null ? d.stepToExit(chunks[k % chunks.length]) : d.resume(chunks[k % chunks.length]);
        if (s !== null && s.reason === 'exited') { ended = true; break; }
        points.push({ moment: d.moment(), hash: stateHash(m).all, out: out.length });
      }
      // A run that ended can still be travelled in (the end is not one of the points).
      expect(points.length).toBeGreaterThan(8);
      const firstTrace = exitTrace(m);
      const firstOut = out.slice();
      const last = points[points.length - 1];
      expect(d.recorder!.snapshotCount).toBeGreaterThan(3);
      expect(new Set(points.map((p) => p.hash)).size).toBeGreaterThan(points.length / 2);

      // Back (and back and forth), in a scrambled order: the state hash is the recorded one.
      for (const p of shuffled(points, 0x5eed + points.length)) {
        const got = d.goToMoment(p.moment);
        expect(compareMoments(got, p.moment)).toBe(0);
        expect(stateHash(m).all, `at ${JSON.stringify(p.moment)}`).toBe(p.hash);
      }
      // Nothing given to the host twice.
      expect(out).toEqual(firstOut);

      // Forward again from the first point with the same stops: every hash and the whole exit trace repeat.
      d.goToMoment(points[0].moment);
      for (let k = 1; k < points.length; k++) {
        const s = k % 3 === 2 && m.hv !== null ? d.stepToExit(chunks[k % chunks.length]) : d.resume(chunks[k % chunks.length]);
        expect(s === null || s.reason !== 'exited').toBe(true);
        expect(d.moment()).toEqual(points[k].moment);
        expect(stateHash(m).all).toBe(points[k].hash);
      }
      expect(d.moment()).toEqual(last.moment);
      expect(exitTrace(m)).toBe(firstTrace);
      expect(out).toEqual(firstOut);
    }, 60_000);
  }
});
