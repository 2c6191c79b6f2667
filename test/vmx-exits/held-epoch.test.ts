// Cpu.heldEpoch: a VM entry compares the held state (CR0, CR3, CR4, EFER, CS, SS) with what the last entry checked only when something wrote it since; a writer that does not move the epoch is caught by the tests' verification (Vmx.verifyHeldEpoch, test/setup.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Machine, parseLaunchConfig } from '../../emulator/index.js';
import { Vmx } from '../../emulator/vmx/vmx.js';
import { ROOT } from '../history/guests.js';

/** The bench's CPUID loop (long mode), warmed up: its loop runs translated and every CPUID goes the fastpath. */
function cpuidLoop(): Machine {
  const bytes = new Uint8Array(readFileSync(join(ROOT, 'bench', 'guests', 'cpuid.bin')));
  new DataView(bytes.buffer).setBigUint64(8, 100_000n, true);
  const m = new Machine(bytes, parseLaunchConfig({ program: 'cpuid', format: 'flat', cpuMode: 'long' }));
  m.runSlice(20_000);
  return m;
}

describe('the held-state epoch', () => {
  afterEach(() => { Vmx.verifyHeldEpoch = true; });

  it('while nothing writes the held state, entries are the mode switch alone (no comparison, no full checks)', () => {
    Vmx.verifyHeldEpoch = false; // the production path
    const m = cpuidLoop(), vmx = m.hv!.vmx;
    const full = vmx.fullChecks, held = vmx.heldResumes, epoch = m.cpu.heldEpoch;
    m.runSlice(10_000);
    expect(m.cpu.heldEpoch).toBe(epoch);
    expect(vmx.fullChecks).toBe(full);
    expect(vmx.heldResumes - held).toBeGreaterThan(1500);
  });

  it('a write that moves the epoch gets one entry with the full checks, then the mode switch again', () => {
    Vmx.verifyHeldEpoch = false;
    const m = cpuidLoop(), vmx = m.hv!.vmx;
    // CR4.OSXMMEXCPT flipped as a debugger would poke it, moving the epoch as every writer must.
    m.cpu.cr4 = (m.cpu.cr4 ^ (1 << 10)) >>> 0;
    m.cpu.heldEpoch++;
    const full = vmx.fullChecks, held = vmx.heldResumes;
    m.runSlice(10_000);
    expect(vmx.fullChecks).toBe(full + 1);
    expect(vmx.heldResumes - held).toBeGreaterThan(1500);
    expect(m.hv!.vmr('GUEST_CR4') & (1n << 10n)).toBe(BigInt(m.cpu.cr4 & (1 << 10)));
  });

  it('the same value written again costs one comparison and no full checks', () => {
    Vmx.verifyHeldEpoch = false;
    const m = cpuidLoop(), vmx = m.hv!.vmx;
    m.cpu.heldEpoch++; // as a MOV to CR3 of the current CR3 does (writeCr3 → updateMode)
    const full = vmx.fullChecks;
    m.runSlice(10_000);
    expect(vmx.fullChecks).toBe(full);
  });

  it('with verification on, a write of held state that does not move the epoch is an error at the next entry', () => {
    const m = cpuidLoop();
    m.cpu.cr4 = (m.cpu.cr4 ^ (1 << 10)) >>> 0; // no heldEpoch++: the bug the verification exists for
    expect(() => m.runSlice(10_000)).toThrow(/heldEpoch/);
  });
});
