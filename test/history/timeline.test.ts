// Time travel as the user sees it: hit counts and logpoints along the timeline, the stop pending at a moment, write-through disks, reverse jobs in pieces.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Machine, parseLaunchConfig } from '../../emulator/index.js';
import { MachineDebuggee } from '../../emulator/debug/debuggee.js';
import { stateHash } from '../../emulator/history/state-hash.js';
import type { Moment } from '../../emulator/history/moment.js';
import type { StopInfo } from '../../emulator/debug/api.js';
import { buildVirtioGuest, canBuildC } from '../virtio-guests/build.js';
import { exitCode } from '../virtio-guests/expected.js';
import { ROOT } from './guests.js';

/** The memcpy bench guest: a six-instruction copy loop at 0x100015..0x100025 (8 bytes to 0x300000.. per turn). */
function memcpy(log?: (text: string) => void): { m: Machine; d: MachineDebuggee } {
  const bytes = new Uint8Array(readFileSync(join(ROOT, 'bench', 'guests', 'memcpy.bin')));
  const m = new Machine(bytes, parseLaunchConfig({ program: 'memcpy', format: 'flat', cpuMode: 'long', maxInstructions: 50_000_000 }));
  return { m, d: new MachineDebuggee(m, { log }) };
}
const state = (m: Machine, d: MachineDebuggee): string => `${stateHash(m).memory} ${JSON.stringify(d.registers(), (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v))}`;
const LOOP = [0x100015, 0x100018, 0x10001b, 0x10001f, 0x100023, 0x100025];

describe('hit counts and logpoints along the timeline', () => {
  it('reverse continue honours hit conditions and prints no logpoint; forward again repeats the first run, logpoints included', () => {
    const logs: string[] = [];
    const { m, d } = memcpy((t) => logs.push(`${m.cpu.icount}: ${t}`));
    // Every 50th reach of one loop instruction stops; every 40th reach of another logs.
    const bps = d.setInstructionBreakpoints([
      { address: LOOP[1], hitCondition: '% 50' },
      { address: LOOP[2], hitCondition: '% 40', logMessage: 'rsi={rsi}' },
    ]);
    expect(bps.every((b) => b.verified)).toBe(true);
    d.enableHistory({ interval: 3_000 });
    // The first run: six stops (each 50 turns of the loop apart) and the logpoint's lines between them.
    const stops: Array<{ icount: number; hash: string; logs: number }> = [];
    for (let k = 0; k < 6; k++) {
      const s = d.resume(10_000_000);
      expect(s?.reason).toBe('breakpoint');
      stops.push({ icount: m.cpu.icount, hash: state(m, d), logs: logs.length });
    }
    const first = logs.slice();
    const gaps = stops.slice(1).map((s, k) => s.icount - stops[k].icount);
    expect(new Set(gaps)).toEqual(new Set([50 * LOOP.length]));
    expect(first.length).toBeGreaterThan(5);

    // Back: the previous stops a forward run made (not every reach of the address), silently.
    for (const k of [4, 3, 2, 1, 0]) {
      const s = d.reverseContinue();
      expect(s.reason).toBe('breakpoint');
      expect(m.cpu.icount).toBe(stops[k].icount);
      // Memory and the architectural registers (the processor's lazy-flag internals may be held differently).
      expect(state(m, d)).toBe(stops[k].hash);
    }
    expect(d.reverseContinue().reason).toBe('entry');
    expect(logs).toEqual(first);

    // Forward again from the start: the same stops, and the logpoint prints the same lines again.
    for (let k = 0; k < 6; k++) {
      expect(d.resume(10_000_000)?.reason).toBe('breakpoint');
      expect(m.cpu.icount).toBe(stops[k].icount);
    }
    expect(logs).toEqual([...first, ...first.slice(0, stops[5].logs)]);

    // From a stop in the middle (reached by going back), forward: the next stop is the first run's.
    d.goToMoment({ icount: stops[2].icount, exits: 0, phase: 1 });
    expect(d.resume(10_000_000)?.reason).toBe('breakpoint');
    expect(m.cpu.icount).toBe(stops[3].icount);
  });

  it('a breakpoint set in the past counts from there, as one set there in a run without history', () => {
    const at = 10_000 + 3;
    // Reference: no history, run to `at`, set the breakpoint, continue.
    const ref = memcpy();
    ref.d.resume(at);
    expect(ref.m.cpu.icount).toBe(at);
    ref.d.setInstructionBreakpoints([{ address: LOOP[4], hitCondition: '== 7' }]);
    expect(ref.d.resume(1_000_000)?.reason).toBe('breakpoint');
    const want = ref.m.cpu.icount;

    const { m, d } = memcpy();
    d.enableHistory({ interval: 2_000 });
    d.resume(60_000);
    d.goToMoment({ icount: at, exits: 0, phase: 1 });
    d.setInstructionBreakpoints([{ address: LOOP[4], hitCondition: '== 7' }]);
    expect(d.resume(1_000_000)?.reason).toBe('breakpoint');
    expect(m.cpu.icount).toBe(want);
    // Reverse continue finds no earlier 7th hit; forward again stops at the same place once more.
    expect(d.reverseContinue().reason).toBe('entry');
    expect(d.resume(1_000_000)?.reason).toBe('breakpoint');
    expect(m.cpu.icount).toBe(want);
  });
});

describe('the debugger stop pending at a moment', () => {
  it('a data breakpoint hit just before a moment (also a snapshot moment) is pending there again after going back', () => {
    const { m, d } = memcpy();
    d.enableHistory({ interval: 50 });
    expect(d.setDataBreakpoints([{ address: 0x300000, size: 4096, physical: true, access: 'write' }])[0].verified).toBe(true);
    // The first run in small pieces, as the adapter runs `continue` (a piece can end just after a watched write:
    // the hit is pending and the next piece reports it). At each moment: what is pending, what the next piece does.
    const points: Array<{ moment: Moment; pending: string; next: string }> = [];
    const budgets = [6, 5, 7, 6, 1, 6];
    for (let k = 0; k < 400; k++) {
      const here = { moment: d.moment(), pending: JSON.stringify(m.cpu.watchHit) };
      const s = d.resume(budgets[k % budgets.length]);
      points.push({ ...here, next: `${s?.reason ?? 'running'} ${m.cpu.icount}` });
    }
    const pend = points.filter((p) => p.pending !== 'null');
    expect(pend.length).toBeGreaterThan(20);
    const snaps = new Set(d.recorder!.snapshotMoments().map((s) => JSON.stringify(s)));
    expect(pend.some((p) => snaps.has(JSON.stringify(p.moment)))).toBe(true);
    // Back to each moment (newest first): the same pending stop, and the next piece does what it did in the first run.
    // (A moment a reported stop was made at has its hit consumed by that stop: those are not compared.)
    const comparable = points.filter((p, k) => k > 0 && points[k - 1].next.startsWith('running'));
    expect(comparable.filter((p) => p.pending !== 'null').length).toBeGreaterThan(20);
    for (const p of comparable.reverse()) {
      d.goToMoment(p.moment);
      expect(JSON.stringify(m.cpu.watchHit), JSON.stringify(p.moment)).toBe(p.pending);
      const s = d.resume(budgets[points.indexOf(p) % budgets.length]);
      expect(`${s?.reason ?? 'running'} ${m.cpu.icount}`, JSON.stringify(p.moment)).toBe(p.next);
    }
  });

  it('a step over a watched write reports the data breakpoint at once, forward and after stepping back', () => {
    const { m, d } = memcpy();
    d.enableHistory({ interval: 50 });
    d.setDataBreakpoints([{ address: 0x300000, size: 4096, physical: true, access: 'write' }]);
    const seen: string[] = [];
    for (let k = 0; k < 40; k++) { const s = d.stepInstruction(); seen.push(`${s.reason} ${m.cpu.icount}`); }
    // No step reports a data breakpoint without moving on (a hit left pending by the step before), and the stores report it.
    seen.forEach((x, k) => { if (k > 0 && x.startsWith('data')) expect(x.split(' ').pop()).not.toBe(seen[k - 1].split(' ').pop()); });
    expect(seen.filter((x) => x.startsWith('data breakpoint')).length).toBeGreaterThan(4);
    for (let k = 0; k < 20; k++) expect(d.stepBack('instruction').reason).toBe('step');
    const again: string[] = [];
    for (let k = 0; k < 20; k++) { const s = d.stepInstruction(); again.push(`${s.reason} ${m.cpu.icount}`); }
    expect(again).toEqual(seen.slice(20));
  });
});

describe('write-through disk and time travel', () => {
  it.skipIf(!canBuildC)('re-execution leaves the image file alone; changing the past makes the file follow the new timeline', () => {
    const b = buildVirtioGuest('blk');
    const initial = new Uint8Array(64 * 1024);
    for (let k = 0; k < initial.length; k++) initial[k] = (k * 7 + 3) & 0xff;
    const file = initial.slice();
    const persisted: string[] = [];
    const m = new Machine(b.bytes, parseLaunchConfig({
      program: b.path, maxInstructions: 5_000_000,
      devices: ['debugcon', 'debug-exit', 'uart', { type: 'virtio-blk', image: 'disk.img', writeThrough: true }],
    }), {
      openDisk: () => ({
        bytes: initial.slice(),
        persist: (offset: number, data: Uint8Array) => { file.set(data, offset); persisted.push(`${offset}+${data.length}`); },
        sync: () => undefined,
      }),
    });
    const d = new MachineDebuggee(m);
    d.enableHistory({ interval: 2_000 });
    const blk = m.virtio.get('virtio-blk') as unknown as { writes: number };
    const moments: Moment[] = [];
    for (let k = 0; k < 10_000; k++) {
      const s = d.stepToExit(1_000_000);
      if (s === null || s.reason === 'exited') break;
      moments.push(d.moment());
    }
    expect(m.result?.exitCode).toBe(exitCode(0));
    const afterRun = file.slice();
    const writes = persisted.length;
    expect(writes).toBeGreaterThan(0);
    expect(Buffer.compare(afterRun, initial)).not.toBe(0);
    // The first exit comes before the guest's write.
    const early = moments.find((x) => { d.goToMoment(x); return blk.writes === 0; });
    expect(early, `writes at the first exit: ${blk.writes}; ${moments.length} exits`).toBeDefined();
    d.goToMoment(early!);
    // Going back and forward over the write: the file already holds it and is not written again.
    d.resume(10_000_000);
    expect(m.result?.exitCode).toBe(exitCode(0));
    expect(persisted.length).toBe(writes);
    expect(Buffer.compare(file, afterRun)).toBe(0);
    // Changing the past: the recorded future is gone, and the file holds the disk of this moment (the write undone).
    d.goToMoment(early!);
    d.setRegister('rbx', d.registers().gpr.rbx);
    expect(Buffer.compare(file, initial)).toBe(0);
    // The new timeline writes again.
    d.resume(10_000_000);
    expect(m.result?.exitCode).toBe(exitCode(0));
    expect(persisted.length).toBeGreaterThan(writes);
    expect(Buffer.compare(file, afterRun)).toBe(0);
  });
});

describe('reverse operations as jobs', () => {
  it('run in pieces of bounded work, and pausing one stops at a consistent moment nothing after which would have stopped', () => {
    const { m, d } = memcpy();
    d.enableHistory({ interval: 250_000 });
    d.resume(9_000_000);
    const start = d.moment();
    const hash = state(m, d);
    // No stop conditions: the scan goes through the whole history, piece by piece.
    const job = d.reverseContinueJob();
    let pieces = 0;
    let s: StopInfo | null = null;
    while ((s = job.step()) === null) pieces++;
    expect(s.reason).toBe('entry');
    expect(pieces).toBeGreaterThan(20);
    d.goToMoment(start);
    expect(state(m, d)).toBe(hash);
    // Paused after a few pieces: at the oldest moment scanned, between the start of history and where it started.
    const j2 = d.reverseContinueJob();
    for (let k = 0; k < 5; k++) expect(j2.step()).toBeNull();
    const p = j2.progress();
    expect(p.done).toBeGreaterThan(0);
    expect(p.done).toBeLessThan(p.total);
    const paused = j2.pause();
    expect(paused.reason).toBe('pause');
    expect(m.cpu.icount).toBeLessThan(start.icount);
    expect(m.cpu.icount).toBeGreaterThan(0);
    expect(d.recorder!.snapshotMoments().some((x) => x.icount === m.cpu.icount)).toBe(true);
    // Breakpoints are as they were (the job's own arming is undone): forward runs on to the end.
    expect(d.resume(50_000_000)?.reason).toBe('exited');
  });
});
