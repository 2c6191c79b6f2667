// Exits while an event is being delivered: an exception the exception bitmap selects names the first event (IDT-vectoring information) and the hypervisor gives the guest what a processor without a VMM would (#DF, triple fault, or the exception); an exit a handler resumes from gets the interrupted event delivered again.
import { describe, expect, it } from 'vitest';
import { Machine, parseLaunchConfig } from '../../emulator/index.js';
import { EXIT_REASON } from '../../emulator/vmx/exit-reasons.js';
import { reflection } from '../../emulator/vmm/handlers.js';
import type { VmcsFieldName } from '../../emulator/vmx/fields.js';
import { nasm } from './nasm.js';
import type { ExitHandler } from '../../emulator/vmm/api.js';

const NP = 11, GP = 13, DF = 8, PF = 14, DE = 0, UD = 6;
/** IDT-vectoring / VM-exit interruption information: valid, type, deliver-error-code, vector (SDM vol. 3C table 25-17). */
const info = (type: number, vector: number, error: boolean): number => (0x80000000 | (type << 8) | (error ? 0x800 : 0) | vector) >>> 0;

/** guests/nested-exception.asm in scenario `scenario` with the exception bitmap `bitmap`; the exception exits, as they were before the handler. */
function run(scenario: number, bitmap: number) {
  const image = nasm('nested-exception');
  image[8] = scenario;
  const m = new Machine(image, parseLaunchConfig({ program: 'nested-exception', format: 'flat', cpuMode: 'protected', vmcs: { EXCEPTION_BITMAP: bitmap }, maxInstructions: 100_000 }));
  const exits: { vectoring: number; vectoringError: number; intr: number; intrError: number; length: number }[] = [];
  m.hv!.exitBreak = (e, stage) => {
    if (stage === 'before' && e.reason === EXIT_REASON.EXCEPTION_NMI) {
      const r = (name: VmcsFieldName) => Number(m.hv!.vmread(name));
      exits.push({ vectoring: r('IDT_VECTORING_INFO_FIELD'), vectoringError: r('IDT_VECTORING_ERROR_CODE'), intr: r('VM_EXIT_INTR_INFO'), intrError: r('VM_EXIT_INTR_ERROR_CODE'), length: r('VM_EXIT_INSTRUCTION_LEN') });
    }
    return false;
  };
  return { result: m.runToEnd(), exits, notes: m.hv!.log.recent().map((e) => e.note ?? '') };
}

describe('exceptions during event delivery', () => {
  it('#NP while delivering #GP exits with the #GP as IDT-vectoring information, and the guest gets #DF', () => {
    const { result, exits, notes } = run(0, 1 << NP);
    // The bitmap decides on #NP before the processor would combine it with the #GP into a double fault (SDM vol. 3C §28.2.3).
    expect(exits).toEqual([{ vectoring: info(3, GP, true), vectoringError: 0x30, intr: info(3, NP, true), intrError: 0x19, length: 0 }]);
    expect(notes[0]).toBe('reflected #DF: vector 11 error 0x19 while delivering vector 13');
    expect(result.output).toBe('DF');
    expect(result.status).toBe('halted');
  });

  it('#NP while delivering the reflected #DF ends the run as a triple fault', () => {
    const { result, exits } = run(1, 1 << NP);
    expect(exits.map((e) => e.vectoring)).toEqual([info(3, GP, true), info(3, DF, true)]);
    expect(exits[1].vectoringError).toBe(0);
    expect(result.status).toBe('triple-fault');
    expect(result.message).toMatch(/^guest triple fault: vector 11 while delivering a double fault/);
    expect(result.output).toBe('');
  });

  it('#NP while delivering INT n is reflected as #NP (handled serially), the vectoring event with its length', () => {
    const { result, exits, notes } = run(2, 1 << NP);
    // INT 0x31 is two bytes; the #NP names the gate's selector 0x18 with EXT clear (a software interrupt).
    expect(exits).toEqual([{ vectoring: info(4, 0x31, false), vectoringError: 0, intr: info(3, NP, true), intrError: 0x18, length: 2 }]);
    expect(notes[0]).toBe('reflected vector 11 error 0x18');
    expect(result.output).toBe('NP');
  });

  it('without the bitmap the processor makes the same events itself: #DF, a triple fault, #NP', () => {
    expect(run(0, 0).result.output).toBe('DF');
    const triple = run(1, 0);
    expect(triple.result.status).toBe('triple-fault');
    expect(triple.exits).toEqual([]);
    expect(run(2, 0).result.output).toBe('NP');
  });

  it('an external interrupt whose delivery an EPT violation interrupted is delivered again after a handler resumes', () => {
    // guests/fastpath-mix.asm: a translated loop with PIT interrupts whose handler counts ticks (the output's last letter).
    const make = () => new Machine(nasm('fastpath-mix'), parseLaunchConfig({ program: 'fastpath-mix', format: 'flat', cpuMode: 'protected', maxInstructions: 50_000_000 }));
    const reference = make().runToEnd();
    const m = make(), hv = m.hv!;
    m.runSlice(20_000);
    // The stack's page made read-only: the next interrupt's first push is an EPT violation during its delivery. A user
    // handler (a lazy mapping, say) gives the page back and resumes.
    const page = Math.floor((Number(hv.vmread('GUEST_RSP')) - 4) / 4096) * 4096;
    hv.eptProtect(page, 5);
    const seen: bigint[] = [];
    const lazy: ExitHandler = (vcpu) => {
      seen.push(vcpu.vmread('IDT_VECTORING_INFO_FIELD'));
      vcpu.eptProtect(Number(vcpu.exit.guestPhysical) & ~0xfff, 7);
      return 'resumed';
    };
    hv.handlers.set(EXIT_REASON.EPT_VIOLATION, lazy);
    const r = m.runToEnd();
    expect(seen).toEqual([BigInt(info(0, 0x20, false))]);
    const exit = hv.log.recent().find((e) => e.name === 'EPT_VIOLATION')!;
    expect(exit.note).toBe('re-injected vector 0x20 (type 0), whose delivery the exit interrupted');
    // Not one tick lost (without the re-injection the PIC would wait for an EOI that never comes).
    expect(r.output).toBe(reference.output);
    expect(r.status).toBe('halted');
  });

  it('reflection follows the double-fault table (SDM vol. 3A table 6-5)', () => {
    const hw = (v: number) => info(3, v, false);
    expect(reflection(0, GP)).toBe('exception'); // not during delivery
    expect(reflection(hw(GP), NP)).toBe('double-fault'); // contributory, contributory
    expect(reflection(hw(DE), PF)).toBe('exception'); // contributory, then page fault: serial
    expect(reflection(hw(PF), PF)).toBe('double-fault');
    expect(reflection(hw(PF), GP)).toBe('double-fault');
    expect(reflection(hw(PF), UD)).toBe('exception'); // benign second
    expect(reflection(hw(UD), GP)).toBe('exception'); // benign first
    expect(reflection(hw(DF), UD)).toBe('triple-fault');
    expect(reflection(info(0, 0x20, false), GP)).toBe('exception'); // an external interrupt is benign
    expect(reflection(info(2, 2, false), PF)).toBe('exception'); // so is an NMI
  });
});
