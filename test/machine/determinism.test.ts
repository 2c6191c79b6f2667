// Determinism and snapshots: same image + configuration gives the same run; restoring a snapshot replays it exactly.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Machine, parseLaunchConfig } from '../../emulator/index.js';

const ROOT = join(__dirname, '..', '..');
const image = (name: string) => new Uint8Array(readFileSync(join(ROOT, 'bench', 'guests', `${name}.bin`)));

/** FNV-1a over RIP, all registers and RFLAGS at every instruction. */
function traceHash(m: Machine): () => number {
  let h = 0x811c9dc5;
  const mix = (v: number) => { h = Math.imul(h ^ (v >>> 0), 0x01000193); };
  m.cpu.onInstruction = (c) => {
    mix(c.rip); mix(c.getFlags());
    for (let r = 0; r < 16; r++) { mix(c.lo[r]); mix(c.hi[r]); }
  };
  return () => h >>> 0;
}

function memoryHash(m: Machine, from: number, len: number): number {
  let h = 0x811c9dc5;
  for (const b of m.mem.peek(from, len)) h = Math.imul(h ^ b, 0x01000193);
  return h >>> 0;
}

describe('determinism', () => {
  for (const name of ['integer', 'memcpy', 'calls']) {
    it(`${name}: two runs give the same instruction-by-instruction trace`, () => {
      const cfg = parseLaunchConfig({ program: name, format: 'flat', cpuMode: 'long', maxInstructions: 300_000 });
      const a = new Machine(image(name), cfg), b = new Machine(image(name), cfg);
      const ha = traceHash(a), hb = traceHash(b);
      const ra = a.runToEnd(10_000), rb = b.runToEnd(7_777); // different slice sizes must not matter
      expect(ra.instructions).toBe(300_000);
      expect(ha()).toBe(hb());
      expect(ra.registers).toEqual(rb.registers);
    });
  }
});

describe('snapshots', () => {
  it('restoring a mid-run snapshot and running on reproduces the run exactly', () => {
    const cfg = parseLaunchConfig({ program: 'memcpy', format: 'flat', cpuMode: 'long', maxInstructions: 400_000 });
    const m = new Machine(image('memcpy'), cfg);
    m.runSlice(123_457);
    const snap = m.snapshot();
    const h1 = traceHash(m);
    const r1 = m.runToEnd();
    const mem1 = memoryHash(m, 0x300000, 0x10000);
    const trace1 = h1();

    m.restore(snap);
    expect(m.cpu.icount).toBe(123_457);
    const h2 = traceHash(m);
    const r2 = m.runToEnd();
    expect(h2()).toBe(trace1);
    expect(r2.registers).toEqual(r1.registers);
    expect(r2.instructions).toBe(r1.instructions);
    expect(memoryHash(m, 0x300000, 0x10000)).toBe(mem1);
  });

  it('a snapshot is a copy: running on does not change it', () => {
    const cfg = parseLaunchConfig({ program: 'memcpy', format: 'flat', cpuMode: 'long', maxInstructions: 200_000 });
    const m = new Machine(image('memcpy'), cfg);
    m.runSlice(50_000);
    const snap = m.snapshot();
    const before = JSON.stringify(snap.cpu.arrays) + [...snap.memory.values()].reduce((n, p) => n + p.reduce((a, b) => a + b, 0), 0);
    m.runToEnd();
    const after = JSON.stringify(snap.cpu.arrays) + [...snap.memory.values()].reduce((n, p) => n + p.reduce((a, b) => a + b, 0), 0);
    expect(after).toBe(before);
  });
});

describe('runImage', () => {
  it('runs image bytes from a configuration that names no program, and reports a bad field as an error result', async () => {
    const { runImage } = await import('../../emulator/index.js');
    const hello = new Uint8Array(readFileSync(join(ROOT, 'samples', 'hello', 'hello.elf')));
    const ok = runImage(hello, {});
    expect(ok.status).toBe('halted');
    expect(ok.output).toBe('Hello, world!\n');
    const bad = runImage(hello, { memoryMiB: 0 });
    expect(bad.status).toBe('error');
    expect(bad.message).toMatch(/memoryMiB/);
  });
});
