// What a VMRESUME of held state keeps from the last one: Cpu.heldEpoch (the held state CR0, CR3, CR4, EFER, CS, SS is compared only when something wrote it since) and resumeFacts (timer, EPT, VPID, the window controls, worked out again only when the controls or the VMCS generation moved); the tests' verification (Vmx.verifyShortcuts, test/setup.ts) catches a writer or a fact that slips past them.
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
  afterEach(() => { Vmx.verifyShortcuts = true; });

  it('while nothing writes the held state, entries are the mode switch alone (no comparison, no full checks)', () => {
    Vmx.verifyShortcuts = false; // the production path
    const m = cpuidLoop(), vmx = m.hv!.vmx;
    const full = vmx.fullChecks, held = vmx.heldResumes, epoch = m.cpu.heldEpoch;
    m.runSlice(10_000);
    expect(m.cpu.heldEpoch).toBe(epoch);
    expect(vmx.fullChecks).toBe(full);
    expect(vmx.heldResumes - held).toBeGreaterThan(1500);
  });

  it('a write that moves the epoch gets one entry with the full checks, then the mode switch again', () => {
    Vmx.verifyShortcuts = false;
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
    Vmx.verifyShortcuts = false;
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

describe('the resume facts', () => {
  afterEach(() => { Vmx.verifyShortcuts = true; });

  it('a control written between entries (the monitor trap flag) takes effect at the next held resume', () => {
    Vmx.verifyShortcuts = false; // the production path: facts kept while pin, proc and the generation stay
    const m = cpuidLoop(), vmx = m.hv!.vmx;
    const MTF = BigInt(1 << 27); // CPU_BASED_MONITOR_TRAP_FLAG (SDM vol. 3C table 25-6)
    m.hv!.vmwrite('CPU_BASED_VM_EXEC_CONTROL', m.hv!.vmread('CPU_BASED_VM_EXEC_CONTROL') | MTF);
    const held = vmx.heldResumes, n0 = m.hv!.log.total;
    m.runSlice(50);
    expect(vmx.heldResumes).toBeGreaterThan(held);
    // An MTF exit after every instruction (SDM vol. 3C §26.5.2): each one instruction after the exit before it, the
    // loop's CPUID exits between them (a kept fact without the control would let the translated loop run on).
    const mtf = m.hv!.log.window(n0 + 1, n0 + 20).filter((e) => e.name === 'MONITOR_TRAP_FLAG');
    expect(mtf.length).toBeGreaterThanOrEqual(14);
    for (let k = 1; k < mtf.length; k++) expect(mtf[k].icount - mtf[k - 1].icount).toBe(1);
  });

  it('with verification on, a fact that changed while its key did not is an error at the next resume', () => {
    const m = cpuidLoop();
    // EPT switched off behind the VMCS's back (no VMWRITE, so no generation move): the bug the verification exists for.
    (m.hv!.vmx as unknown as { ctl: { proc2: number } }).ctl.proc2 ^= 2; // SECONDARY_EXEC_ENABLE_EPT
    expect(() => m.runSlice(10_000)).toThrow(/resume facts/);
  });
});
