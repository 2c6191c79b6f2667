// What a user sees of the virtio guests' MMIO exits (exit-log entries and notes, virtio events, request records), as text lines for the golden comparison in golden.test.ts.
import { Machine, parseLaunchConfig } from '../../emulator/index.js';
import { buildVirtioGuest, type VirtioGuestName } from '../virtio-guests/build.js';
import { initialDisk } from '../virtio-guests/expected.js';

/** The guests and devices recorded (small runs: the blk guest, the rng guest, three requests of the benchmark guest). */
export const NOTE_RUNS: { name: VirtioGuestName; defines?: Record<string, string>; device: string }[] = [
  { name: 'blk', device: 'virtio-blk' },
  { name: 'rng', device: 'virtio-rng' },
  { name: 'blkbench', defines: { REQUESTS: '3', BYTES: '4096' }, device: 'virtio-blk' },
];

/**
 * One run as lines: every VM exit (number, reason, summary, RIP, instruction bytes, outcome, note), then every virtio
 * event and the device's request records. Instruction counts are left out (they measure the processor, not this).
 */
export function exitNoteLines(run: (typeof NOTE_RUNS)[number]): string[] {
  const b = buildVirtioGuest(run.name, run.defines ?? {});
  const devices = ['debugcon', 'debug-exit', 'uart', run.device === 'virtio-blk' ? { type: 'virtio-blk', image: 'memory' } : run.device];
  const disk = initialDisk(64 * 1024);
  const m = new Machine(b.bytes, parseLaunchConfig({ program: run.name, maxInstructions: 5_000_000, devices }), { openDisk: () => ({ bytes: disk.slice() }) });
  const r = m.runToEnd();
  const lines = [`# ${run.name} ${JSON.stringify(run.defines ?? {})}: ${r.status} ${r.exitCode ?? ''}`];
  for (const e of m.hv!.log.recent()) {
    lines.push(`#${e.n} ${e.name} ${e.summary} rip=0x${e.rip.toString(16)} [${e.bytes.map((x) => x.toString(16)).join(' ')}] ${e.outcome}${e.note !== undefined ? ` | ${e.note}` : ''}`);
  }
  for (const e of m.virtioEvents) lines.push(`event ${JSON.stringify(e)}`);
  const dev = m.virtio.get(run.device)!;
  for (const rec of dev.inspect().requests) lines.push(`request ${JSON.stringify(rec)}`);
  return lines;
}
