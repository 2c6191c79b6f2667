// Guest state written by an exit handler while the processor holds the guest's context (vmx.ts writeHeld): values the entry checks reject still fail VM entry with the check named; accepted ones reach the guest.
import { describe, expect, it } from 'vitest';
import { EXIT_REASON as R } from '../../emulator/vmx/exit-reasons.js';
import { guest, type Mode } from './harness.js';

/** CPUID once (its exit is the handler's chance), then a marker in RBX and the end. */
const body = `
main:
  xor eax, eax
  cpuid
after:
  mov ebx, 0x5eed
  EXIT 0x01
`;

/** Run `body` with a CPUID handler that skips the instruction and then calls `write`; the INVALID_STATE exit, if any, and the run. */
function withWrite(mode: Mode, write: (vmwrite: (f: Parameters<ReturnType<typeof guest>['hv']['vmwrite']>[0], v: bigint | number) => void) => void) {
  const g = guest(`held-${mode}`, mode, body);
  g.on(R.CPUID, (vcpu) => {
    vcpu.advanceRip();
    write((f, v) => vcpu.vmwrite(f, v));
    return 'emulated';
  });
  const r = g.run();
  return { g, r, invalid: g.of(R.INVALID_STATE) };
}

describe('guest state written by a handler while the processor holds it', () => {
  it('a non-canonical RIP in a 64-bit guest fails VM entry (exit 33, "guest RIP canonical")', () => {
    const { g, r, invalid } = withWrite('long', (w) => w('GUEST_RIP', 0x0000800000000000n));
    expect(r.status).toBe('error');
    expect(invalid).toHaveLength(1);
    expect(g.hv.vmx.lastEntryCheck).toBe('guest RIP canonical');
  });

  it('RIP bits 63:32 set in a 32-bit guest fail VM entry ("guest RIP bits 63:32")', () => {
    const { g, r, invalid } = withWrite('protected', (w) => w('GUEST_RIP', 0x100000000n + BigInt(0x100000)));
    expect(r.status).toBe('error');
    expect(invalid).toHaveLength(1);
    expect(g.hv.vmx.lastEntryCheck).toBe('guest RIP bits 63:32');
  });

  it('RFLAGS with a reserved bit set fails VM entry ("guest RFLAGS: reserved bits")', () => {
    const { g, r, invalid } = withWrite('long', (w) => w('GUEST_RFLAGS', 0x2n | 0x8n));
    expect(r.status).toBe('error');
    expect(invalid).toHaveLength(1);
    expect(g.hv.vmx.lastEntryCheck).toBe('guest RFLAGS: reserved bits');
  });

  it('blocking by STI with RFLAGS.IF = 0 fails VM entry', () => {
    const { g, r, invalid } = withWrite('long', (w) => { w('GUEST_RFLAGS', 0x2n); w('GUEST_INTERRUPTIBILITY_INFO', 1); });
    expect(r.status).toBe('error');
    expect(invalid).toHaveLength(1);
    expect(g.hv.vmx.lastEntryCheck).toMatch(/STI/);
  });

  it('accepted values reach the guest: RIP moved past an instruction, a GPR and RSP set by the handler', () => {
    for (const mode of ['protected', 'long'] as Mode[]) {
      const g = guest(`held-ok-${mode}`, mode, `
main:
  xor eax, eax
  cpuid
  mov ebx, 0xbad            ; skipped by the handler
after:
  mov ecx, esp
  EXIT 0x01
`);
      g.on(R.CPUID, (vcpu) => {
        vcpu.vmwrite('GUEST_RIP', BigInt(g.asm.sym.after));
        vcpu.setReg('rbx', 0x1234);
        vcpu.vmwrite('GUEST_RSP', 0x7000);
        return 'emulated';
      });
      const r = g.run();
      expect(r.status, mode).toBe('debug-exit');
      expect(Number(BigInt(r.registers.rbx)), mode).toBe(0x1234);
      expect(Number(BigInt(r.registers.rcx)) >>> 0, mode).toBe(0x7000);
      expect(g.hv.vmx.lastEntryCheck, mode).toBeUndefined();
    }
  });
});
