// Translations reused across processors: a block built again from the same bytes at the same RIP takes its factory by blockKey (no source generated), and one byte changed at the same RIP gets code of its own; each against the interpreter.
import { describe, expect, it } from 'vitest';
import { blockSourcesGenerated } from '../../emulator/cpu/jit/jit.js';
import { bareLongMode, fingerprint, nasm } from './harness.js';

/** Run `code` to HLT with the translator on and off; the translated run's final state after checking both agree. */
function runPair(code: Uint8Array): ReturnType<typeof bareLongMode> {
  const a = bareLongMode(code, true), b = bareLongMode(code, false);
  expect(a.cpu.run(1_000_000)).toBe('halted');
  expect(b.cpu.run(1_000_000)).toBe('halted');
  expect(fingerprint(a.cpu, a.mem)).toEqual(fingerprint(b.cpu, b.mem));
  return a;
}

const loop = (imm: number): string => `
      mov ecx, 200
      xor eax, eax
    top:
      add eax, ${imm}
      xor edx, eax
      dec ecx
      jnz top
      hlt`;

describe('block factories shared between processors', () => {
  it('a second processor running the same code translates its blocks without generating source', () => {
    const code = nasm('factory-same', loop(3));
    const first = runPair(code);
    expect(first.cpu.jitUnit.compiled).toBeGreaterThan(0);
    const before = blockSourcesGenerated();
    const second = runPair(code);
    expect(second.cpu.jitUnit.compiled).toBe(first.cpu.jitUnit.compiled);
    expect(blockSourcesGenerated()).toBe(before);
    expect(second.cpu.lo[0]).toBe(600);
  });

  it('the same RIP with one byte changed (another immediate) gets a block of its own', () => {
    runPair(nasm('factory-a', loop(5)));
    const before = blockSourcesGenerated();
    const b = runPair(nasm('factory-b', loop(7)));
    expect(blockSourcesGenerated()).toBeGreaterThan(before);
    expect(b.cpu.lo[0]).toBe(1400);
  });
});
