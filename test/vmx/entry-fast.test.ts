// The fast VM-entry check never accepts an entry the full SDM checks would refuse (fuzzing the per-exit fields of a live VMCS).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Machine, parseLaunchConfig } from '../../emulator/index.js';
import { checkVmEntry } from '../../emulator/vmx/entry-checks.js';
import { volatileFieldsPass } from '../../emulator/vmx/entry-fast.js';
import { VOLATILE_FIELDS, VmcsAccess } from '../../emulator/vmx/vmcs-access.js';
import { MAXPHYADDR } from '../../emulator/cpu/paging.js';

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}

/** Values that sit near the boundaries the checks care about. */
function interesting(next: () => number, field: string): [number, number] {
  const pick = next() % 8;
  const r = next();
  switch (field) {
    case 'VM_ENTRY_INTR_INFO_FIELD':
      return [pick < 2 ? 0 : (0x80000000 | (next() % 8) << 8 | (next() % 40) | (next() % 2 ? 0x800 : 0) | (pick === 7 ? 1 << 13 : 0)) >>> 0, 0];
    case 'GUEST_RFLAGS':
      return [pick < 4 ? (2 | (r & 0x3f7fd5)) >>> 0 : r >>> 0, pick === 7 ? 1 : 0];
    case 'GUEST_INTERRUPTIBILITY_INFO':
      return [pick < 5 ? r & 0xf : r >>> 0, 0];
    case 'GUEST_ACTIVITY_STATE':
      return [r % 4, 0];
    case 'GUEST_RIP':
      return [r >>> 0, pick < 3 ? 0 : pick < 5 ? 0xffff8000 : pick < 6 ? 0x00008000 : next() >>> 0];
    case 'VM_ENTRY_INSTRUCTION_LEN':
      return [r % 18, 0];
    case 'CPU_BASED_VM_EXEC_CONTROL':
    case 'PIN_BASED_VM_EXEC_CONTROL':
      return [pick < 4 ? -1 : pick < 7 ? -2 : r >>> 0, 0];
    default:
      return [r >>> 0, pick === 0 ? next() >>> 0 : 0];
  }
}

describe('fast VM-entry check', () => {
  it('accepts only entries the full checks accept (20 000 random per-exit states)', () => {
    const image = new Uint8Array(readFileSync(join(__dirname, '..', '..', 'samples', 'hello', 'hello.elf')));
    for (const mode of ['long', 'real'] as const) {
      const m = new Machine(image, parseLaunchConfig({ program: 'hello', cpuMode: mode, format: mode === 'real' ? 'flat' : 'auto', maxInstructions: 20 }));
      m.runSlice(5); // launched and exited at least once: the VMCS is live and passed the full checks
      const hv = m.hv!;
      const v = new VmcsAccess(m.mem);
      v.region = hv.vmx.current;
      const snapshot = m.mem.peek(v.region, 4096);
      const livePin = v.get32('PIN_BASED_VM_EXEC_CONTROL'), liveProc = v.get32('CPU_BASED_VM_EXEC_CONTROL');
      const next = rng(mode === 'long' ? 7 : 11);
      let accepted = 0, refusedByFull = 0;
      for (let n = 0; n < 10_000; n++) {
        m.mem.poke(v.region, snapshot);
        const count = 1 + (next() % 3);
        for (let k = 0; k < count; k++) {
          const field = VOLATILE_FIELDS[next() % 11];
          const [lo, hi] = interesting(next, field);
          const off = VmcsAccess.offset(field);
          if (field.endsWith('_CONTROL') && lo === -1) continue; // keep the live control value
          if (field.endsWith('_CONTROL') && lo === -2) {
            // flip only the bits a hypervisor flips per entry (windows, preemption timer)
            const live = field.startsWith('PIN') ? livePin : liveProc;
            const flip = field.startsWith('PIN') ? 1 << 6 : (next() % 2 ? 1 << 2 : 1 << 22);
            m.mem.write32(v.region + VmcsAccess.offset(field), (live ^ flip) >>> 0);
            continue;
          }
          m.mem.write32(v.region + off, lo >>> 0);
          m.mem.write32(v.region + off + 4, hi >>> 0);
        }
        const fast = volatileFieldsPass(v, livePin, liveProc);
        const full = checkVmEntry((name) => v.getBig(name), { launch: false, launchState: 'launched', maxPhysAddr: MAXPHYADDR, currentVmcsHpa: v.region });
        if (fast) {
          accepted++;
          expect(full, `fast check accepted a state the full check refuses (case ${n}, ${mode}): ${JSON.stringify(full)}`).toEqual({ kind: "ok" });
        } else if (full.kind !== 'ok') refusedByFull++;
      }
      m.mem.poke(v.region, snapshot);
      // The fuzzing must exercise both sides.
      expect(accepted).toBeGreaterThan(500);
      expect(refusedByFull).toBeGreaterThan(500);
    }
  });
});
