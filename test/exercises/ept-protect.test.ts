// VcpuApi.eptProtect / eptPermissions and the handler-module installer, checked against the emulated EPT walker (emulator/ept/ept.ts) and real guest accesses.
import { describe, expect, it } from 'vitest';
import { Machine, parseLaunchConfig } from '../../emulator/index.js';
import { Ept, EPT_FETCH, EPT_READ, EPT_WRITE } from '../../emulator/ept/ept.js';
import { installUserHandlers, validateHandlerModule, HandlerModuleError } from '../../emulator/vmm/user-handlers.js';

/** A long-mode flat guest: mov byte [0x300010], 0x5a; mov byte [0x301010], 0xa5; out 0xf4, al. */
const GUEST = new Uint8Array([
  0xc6, 0x04, 0x25, 0x10, 0x00, 0x30, 0x00, 0x5a, // mov byte [0x300010], 0x5a
  0xc6, 0x04, 0x25, 0x10, 0x10, 0x30, 0x00, 0xa5, // mov byte [0x301010], 0xa5
  0x30, 0xc0, 0xe6, 0xf4, // xor al, al; out 0xf4, al
  0xf4,
]);

function machine(): Machine {
  return new Machine(GUEST, parseLaunchConfig({ program: 'x', format: 'flat', cpuMode: 'long', maxInstructions: 10000 }));
}

describe('EPT permissions through the handler API', () => {
  it('eptProtect splits the 2 MiB page and the hardware walker sees the new permissions of that 4 KiB page only', () => {
    const m = machine();
    const hv = m.hv!;
    // The VMX unit's own EPT walker (SDM vol. 3C §29.3.2), on the EPTP the hypervisor wrote to the VMCS.
    const ept = new Ept();
    ept.setEptp(Number(hv.vmread('EPT_POINTER')));
    const walk = (gpa: number, access: number) => ept.translate(hv.host, gpa, access, true);
    expect(hv.eptPermissions(0x300000)).toBe(7);
    expect(walk(0x300010, EPT_WRITE)).toBe(0x200000 + 0x300010);
    hv.eptProtect(0x300abc, 1 | 4);
    expect(hv.eptPermissions(0x300000)).toBe(5);
    expect(hv.eptPermissions(0x300fff)).toBe(5);
    expect(hv.eptPermissions(0x301000)).toBe(7);
    expect(hv.eptPermissions(0x2ff000)).toBe(7);
    expect(walk(0x300010, EPT_WRITE)).toBe(-1);
    expect(ept.fault.kind).toBe('violation');
    expect(walk(0x300010, EPT_READ)).toBe(0x200000 + 0x300010);
    expect(walk(0x300010, EPT_FETCH)).toBe(0x200000 + 0x300010);
    expect(walk(0x301010, EPT_WRITE)).toBe(0x200000 + 0x301010);
    // The rest of the split 2 MiB page still maps to the same host addresses.
    for (const g of [0x200000, 0x2ff000, 0x3ff000]) expect(walk(g, EPT_WRITE)).toBe(0x200000 + g);
    expect(() => hv.eptProtect(0x300000, 2)).toThrow(/misconfiguration/);
    expect(hv.eptPermissions(0xe0000000)).toBe(-1);
    expect(() => hv.eptProtect(0xe0000000, 7)).toThrow(/not mapped/);
  });

  it('a write to a write-protected page is an EPT violation with the write bit; restoring W lets the retry land', () => {
    const m = machine();
    const hv = m.hv!;
    const seen: Array<{ gpa: bigint; q: bigint }> = [];
    installUserHandlers(hv, validateHandlerModule({
      setup(vmm: { eptProtect(g: number, p: number): void }) { vmm.eptProtect(0x300000, 5); vmm.eptProtect(0x301000, 5); },
      handlers: {
        EPT_VIOLATION(vcpu: { exit: { guestPhysical: bigint; qualification: bigint }; eptProtect(g: number, p: number): void }) {
          seen.push({ gpa: vcpu.exit.guestPhysical, q: vcpu.exit.qualification });
          vcpu.eptProtect(Number(vcpu.exit.guestPhysical), 7);
          return 'resumed';
        },
      },
    }));
    const r = m.runToEnd();
    expect(r.status).toBe('debug-exit');
    expect(seen.map((s) => s.gpa)).toEqual([0x300010n, 0x301010n]);
    // SDM vol. 3C table 28-7: bit 1 = data write, bit 3 = the page was readable, bit 4 = writable (no), bit 5 = executable.
    for (const s of seen) {
      expect(s.q & 2n).toBe(2n);
      expect(s.q & 0x38n).toBe(0x28n);
    }
    expect(hv.guest.peek(0x300010, 1)[0]).toBe(0x5a);
    expect(hv.guest.peek(0x301010, 1)[0]).toBe(0xa5);
  });

  it('validateHandlerModule accepts CommonJS and ESM shapes and names what is wrong', () => {
    const h = { handlers: { CPUID: () => 'resumed' } };
    expect(validateHandlerModule(h).handlers?.CPUID).toBe(h.handlers.CPUID);
    expect(validateHandlerModule({ default: h }).handlers?.CPUID).toBe(h.handlers.CPUID);
    expect(() => validateHandlerModule({ handlers: { cpuid: () => 0 } })).toThrow(HandlerModuleError);
    expect(() => validateHandlerModule({ handlers: { cpuid: () => 0 } })).toThrow(/unknown exit reason "cpuid".*valid names: .*CPUID/);
    expect(() => validateHandlerModule({ handlers: { CPUID: 3 } })).toThrow(/handlers\.CPUID must be a function/);
    expect(() => validateHandlerModule({ setup: 'x' })).toThrow(/"setup" must be a function/);
    expect(() => validateHandlerModule(null)).toThrow(/must export an object/);
  });

  it('a handler returning nonsense ends the run with a clear error', () => {
    const m = machine();
    installUserHandlers(m.hv!, validateHandlerModule({ handlers: { IO_INSTRUCTION: () => 42 } }));
    const r = m.runToEnd();
    expect(r.status).toBe('error');
    expect(r.message).toMatch(/^handler for IO_INSTRUCTION returned 42; return one of/);
  });
});
