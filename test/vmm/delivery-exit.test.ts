// An EPT violation during event delivery (the access is the IDT gate's, not the instruction's): the run ends and says so, instead of emulating the instruction at RIP.
import { describe, expect, it } from 'vitest';
import { Machine, parseLaunchConfig } from '../../emulator/index.js';
import { EXIT_REASON } from '../../emulator/vmx/exit-reasons.js';
import { nasm } from './nasm.js';

describe('exits during event delivery', () => {
  it('an IDT outside RAM: INT 0x30 exits with IDT-vectoring information, and the run ends naming the event and the address', () => {
    const m = new Machine(nasm('deliver-mmio'), parseLaunchConfig({ program: 'deliver-mmio', format: 'flat', cpuMode: 'protected' }));
    let vectoring = 0n, length = 0n;
    m.hv!.exitBreak = (info, stage) => {
      if (stage === 'before' && info.reason === EXIT_REASON.EPT_VIOLATION) { vectoring = m.hv!.vmread('IDT_VECTORING_INFO_FIELD'); length = m.hv!.vmread('VM_EXIT_INSTRUCTION_LEN'); }
      return false;
    };
    const r = m.runToEnd();
    // Valid, type 4 (software interrupt), vector 0x30 (SDM vol. 3C §25.9.3); INT imm8 is 2 bytes (§28.2.4).
    expect(vectoring).toBe(0x80000430n);
    expect(length).toBe(2n);
    expect(r.status).toBe('error');
    expect(r.message).toBe('guest-physical 0xfed00180, which is not RAM, was accessed while delivering software interrupt 48 (0x30): the IDT, a descriptor table or the stack is outside RAM');
    expect(r.output).toBe(''); // the instruction after INT never ran
    expect(r.vmExits.byReason).toEqual({ EPT_VIOLATION: 1 });
  });
});
