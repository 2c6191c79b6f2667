// The per-request work of the virtio devices and the MMIO emulator changed how it runs, not what it does: exit-log notes, events, request records and hostile-ring errors are compared with goldens recorded from the implementation before (VMSCOPE_UPDATE_GOLDEN=1 rewrites them).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canBuildC } from '../virtio-guests/build.js';
import { exitNoteLines, NOTE_RUNS } from './exit-notes.js';
import { fuzzTrace } from './fuzz-trace.js';

const GOLDEN = join(__dirname, 'golden');
const UPDATE = process.env.VMSCOPE_UPDATE_GOLDEN === '1';

/** Compares `lines` with the golden file line by line (the first difference is reported with its neighbours). */
function matchGolden(file: string, lines: string[]): void {
  const path = join(GOLDEN, file);
  if (UPDATE || !existsSync(path)) writeFileSync(path, lines.join('\n') + '\n');
  const want = readFileSync(path, 'utf8').replace(/\n$/, '').split('\n');
  const k = lines.findIndex((l, i) => l !== want[i]);
  if (k >= 0) expect(lines.slice(Math.max(0, k - 2), k + 3).join('\n'), `first difference at line ${k + 1}`).toBe(want.slice(Math.max(0, k - 2), k + 3).join('\n'));
  expect(lines.length).toBe(want.length);
}

describe('virtio behaviour against the recorded goldens', () => {
  it.skipIf(!canBuildC)('virtio guests: every exit with its note, the virtio events and the request records are as before', () => {
    const lines = NOTE_RUNS.flatMap((r) => exitNoteLines(r));
    // The recording covers what it should: QueueNotify exits annotated by the device, ISR reads, ACK writes.
    expect(lines.some((l) => / EPT_VIOLATION .*virtio-blk QueueNotify queue 0 #\d+ → request \d+; mmio write 0xd0001050 = 0x0 \(4 bytes\)/.test(l))).toBe(true);
    expect(lines.some((l) => / EPT_VIOLATION .*\| mmio read 0xd0001060 = 0x1 \(4 bytes\)/.test(l))).toBe(true);
    expect(lines.some((l) => / EPT_VIOLATION .*\| mmio write 0xd0001064 = 0x1 \(4 bytes\)/.test(l))).toBe(true);
    matchGolden('exit-notes.txt', lines);
  }, 60_000);

  it('hostile and plausible rings: same events, registers, guest RAM and DEVICE_NEEDS_RESET reasons as before', () => {
    const lines = fuzzTrace(1000);
    expect(lines.filter((l) => l.includes(' needsReset ')).length).toBeGreaterThan(200);
    matchGolden('fuzz-trace.txt', lines);
  }, 60_000);
});
