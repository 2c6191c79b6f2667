// Guest state written by an exit handler while the processor holds the guest's context (vmx.ts writeHeld): values the entry checks reject still fail VM entry with the check named; accepted ones reach the guest.
import { describe, expect, it } from 'vitest';
import { EXIT_REASON as R } from '../../emulator/vmx/exit-reasons.js';
import { guest, idt64, type Mode } from './harness.js';

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

  it('an event a handler injects is delivered at a VMRESUME that keeps the held context, and a bad one still fails entry', () => {
    const src = (name: string) => `
${idt64({ 0x40: 'vec40' })}
main:
  sti
  xor eax, eax
  cpuid                     ; the handler injects vector 0x40 here
  mov ebx, 0x5eed
  EXIT 0x01
vec40:
  mov ecx, 0x40             ; ${name}
  iretq
`;
    // An external interrupt with RFLAGS.IF = 1: the held entry (no full check) delivers it through the guest's IDT.
    const g = guest('held-inject', 'long', src('delivered'));
    let held = -1;
    g.on(R.CPUID, (vcpu) => { vcpu.advanceRip(); vcpu.injectInterrupt(0x40); held = g.hv.vmx.heldResumes; return 'injected'; });
    const r = g.run();
    expect(r.status).toBe('debug-exit');
    expect(Number(BigInt(r.registers.rcx))).toBe(0x40); // the handler ran, then IRET back to the code after CPUID
    expect(Number(BigInt(r.registers.rbx))).toBe(0x5eed);
    expect(g.hv.vmx.heldResumes).toBe(held + 1);
    // The same with RFLAGS.IF = 0 (an external interrupt needs IF = 1, SDM §27.3.1.5): VM entry fails, check named.
    const b = guest('held-inject-if0', 'long', src('never').replace('  sti\n', '  cli\n'));
    b.on(R.CPUID, (vcpu) => { vcpu.advanceRip(); vcpu.injectInterrupt(0x40); return 'injected'; });
    const rb = b.run();
    expect(rb.status).toBe('error');
    expect(b.of(R.INVALID_STATE)).toHaveLength(1);
    expect(b.hv.vmx.lastEntryCheck).toMatch(/IF/);
  });
});
