// Fuzz: rings, descriptors, indirect tables and registers filled with seeded random contents (fuzz-trace.ts's workload) — never a host exception, hang or unbounded allocation; hostile inputs end in DEVICE_NEEDS_RESET, plausible ones are served.
import { describe, expect, it } from 'vitest';
import { ST } from './driver.js';
import { runFuzzWorkload } from './fuzz-trace.js';

const RAM = 1024 * 1024;
const ROUNDS = 3000;

describe('virtio fuzz', () => {
  it(`survives ${ROUNDS} rounds of random rings on console, blk and rng`, () => {
    const stats = { needsReset: 0, completed: 0, rounds: 0, clean: 0 };
    let outBytes = 0;
    const t0 = performance.now();
    const { disk, hosts } = runFuzzWorkload(ROUNDS, ({ round, dev, driver, rejected }) => {
      if (rejected) return;
      if ((driver.status() & ST.DEVICE_NEEDS_RESET) !== 0) stats.needsReset++;
      else stats.clean++;
      stats.completed += dev.inspect().requests.filter((r) => r.state === 'completed').length > 0 ? 1 : 0;
      stats.rounds++;
      if (round % 100 === 0) {
        // Snapshots of whatever state the fuzz reached round-trip through JSON.
        const s = JSON.parse(JSON.stringify(dev.saveState()));
        dev.loadState(s);
        expect(dev.saveState()).toEqual(s);
      }
    }, (b) => { outBytes += b.length; });
    const ms = performance.now() - t0;
    expect(stats.rounds).toBeGreaterThan(ROUNDS / 2);
    expect(stats.needsReset).toBeGreaterThan(stats.rounds / 10); // hostile inputs are caught
    expect(stats.completed).toBeGreaterThan(stats.rounds / 10); // and plausible ones are served
    expect(stats.clean).toBeGreaterThan(stats.rounds / 10);
    expect(disk.dirtyPages).toBeLessThanOrEqual(16); // the overlay never exceeds the disk
    for (const h of hosts) expect(h.mem.residentBytes).toBeLessThanOrEqual(RAM);
    expect(ms).toBeLessThan(60000);
    console.log(`virtio fuzz: ${stats.rounds} rounds, ${stats.needsReset} ended in NEEDS_RESET, ${stats.clean} did not, ${stats.completed} completed requests, ${outBytes} console bytes, ${ms.toFixed(0)} ms`);
  });
});
