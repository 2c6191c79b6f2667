// The virtio-blk benchmark guest (test/virtio-guests/src/blkbench.c) run to its end: requests per second per run and VM exits per request.
import { Machine, parseLaunchConfig } from '../emulator/index.js';
import { buildVirtioGuest } from '../test/virtio-guests/build.js';

/**
 * `requests` reads of `bytes` each, one in flight, interrupts on, against an in-memory 16 MiB disk: WARMUP_RUNS
 * untimed runs (V8 needs tens of thousands of requests before the exit path and the translated guest code settle:
 * one short warm-up left the median mostly warm-up), then `runs` timed runs. A run is timed as fio times a job: over
 * its requests, from the guest's "blkbench: start" line to its exit, not its boot (kernel set-up, the device's
 * discovery and feature negotiation, about a tenth of a 5000-request run). Throws when the guest does not build or
 * does not end as it should.
 */
/** Untimed runs before the timed ones. */
export const WARMUP_RUNS = 3;
/** What the guest prints right before its first request, and the slice the boot runs in until then. */
const START_LINE = 'blkbench: start\n';
const BOOT_SLICE = 1000;

export function runBlkbench(requests: number, bytes: number, runs: number, warmups = WARMUP_RUNS): { perSecond: number[]; exitsPerRequest: number } {
  const image = buildVirtioGuest('blkbench', { REQUESTS: String(requests), BYTES: String(bytes) }).bytes;
  const disk = new Uint8Array(16 * 1024 * 1024);
  const config = parseLaunchConfig({ program: 'blkbench', devices: ['debugcon', 'debug-exit', 'uart', { type: 'virtio-blk', image: 'memory' }] });
  const perSecond: number[] = [];
  let exits = 0;
  for (let k = 0; k < warmups + runs; k++) {
    const m = new Machine(image, config, { openDisk: () => ({ bytes: disk }) });
    // Boot in slices of BOOT_SLICE instructions until the guest says it starts (at most that many instructions, about
    // three requests, of the request loop can go before the clock starts).
    while (!m.output().includes(START_LINE)) {
      const b = m.runSlice(BOOT_SLICE);
      if (typeof b === 'object') throw new Error(`blkbench ended before its first request: ${b.status} ${b.output}${b.message ?? ''}`);
    }
    const t0 = performance.now();
    const r = m.runToEnd();
    const ms = performance.now() - t0;
    if (r.status !== 'debug-exit' || r.exitCode !== 1) throw new Error(`blkbench ended with ${r.status} ${r.exitCode}: ${r.output}${r.message ?? ''}`);
    exits = m.hv!.log.total;
    if (k >= warmups) perSecond.push((requests / ms) * 1000);
  }
  return { perSecond, exitsPerRequest: exits / requests };
}
