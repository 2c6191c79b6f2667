// VM-exit condition fields: qualifications encoded per the SDM tables, the documentation table, and real exits of a guest under the emulated VT-x checked with the example conditions.
import { describe, expect, it } from 'vitest';
import { ALL_EXIT_FIELD_NAMES, EXIT_FIELD_DOCS, exitFields, type ExitFieldInput } from '../../emulator/debug/exit-fields.js';
import { compileCondition, withFields, type EvalContext } from '../../emulator/debug/expr.js';
import { EXIT_REASON as R, exitReasonByName } from '../../emulator/vmx/exit-reasons.js';
import { CPU_BASED_CR3_LOAD_EXITING } from '../../emulator/vmx/controls.js';
import { EPT_PS, EPT_R, EPT_W, EPT_X } from '../../emulator/ept/ept.js';
import { guest, idt64, setEptEntry, type SeenExit } from '../vmx-exits/harness.js';

// ---- encoders written from the SDM vol. 3C tables (independent of emulator/vmx/qualification.ts)
/** Table 28-5: size-1 in 2:0, IN in 3, string 4, REP 5, immediate 6, port 31:16. */
const ioq = (port: number, size: 1 | 2 | 4, input: boolean, str = false, rep = false, imm = false) =>
  BigInt(((size - 1) | (input ? 8 : 0) | (str ? 16 : 0) | (rep ? 32 : 0) | (imm ? 64 : 0) | (port << 16)) >>> 0);
/** Table 28-3: CR 3:0, access type 5:4, LMSW operand type 6, GPR 11:8, LMSW source data 31:16. */
const crq = (cr: number, type: number, gpr: number, lmsw = 0) => BigInt((cr | (type << 4) | (gpr << 8) | (lmsw << 16)) >>> 0);
/** Table 28-7: read 0, write 1, fetch 2, entry R/W/X 5:3, linear address valid 7, translation 8. */
const eptq = (read: boolean, write: boolean, fetch: boolean, rwx: number, laValid: boolean) =>
  BigInt((read ? 1 : 0) | (write ? 2 : 0) | (fetch ? 4 : 0) | (rwx << 3) | (laValid ? 0x180 : 0));
/** Table 25-19: vector 7:0, type 10:8, error code valid 11, valid 31. */
const intr = (vector: number, type: number, err: boolean) => (0x80000000 | vector | (type << 8) | (err ? 0x800 : 0)) >>> 0;

const base = (reason: number, over: Partial<ExitFieldInput> = {}): ExitFieldInput => ({
  reason, qualification: 0n, guestLinear: 0n, guestPhysical: 0n, intrInfo: 0, intrError: 0, instrInfo: 0,
  regs: { rax: 0n, rcx: 0n, rdx: 0n }, rip: 0x1000n, stage: 'before', ...over,
});
const cond = (src: string, ctx: EvalContext): boolean => {
  const c = compileCondition(src);
  if (!c.ok) throw new Error(`${src}: ${c.error}`);
  const o = c.check(ctx);
  if (o.error) throw new Error(o.error);
  return o.stop;
};
const ctxOf = (f: Record<string, number | bigint | boolean | string>, regs: Record<string, bigint> = {}): EvalContext =>
  withFields({ reg: (n) => regs[n] }, f);

describe('exit fields from SDM-encoded exit information', () => {
  it('every exit: reason, number, rip, qualification, stage (exit-reason flag bits ignored)', () => {
    const f = exitFields(base(0x80000000 | R.INVALID_STATE, { qualification: 3n, rip: -16n, stage: 'after', check: 'guest CR0.PG requires PE' }));
    expect(f).toEqual({ reason: 'INVALID_STATE', number: 33, rip: 0xfffffffffffffff0n, qualification: 3n, stage: 'after', check: 'guest CR0.PG requires PE' });
    expect(exitFields(base(R.HLT))).toEqual({ reason: 'HLT', number: 12, rip: 0x1000n, qualification: 0n, stage: 'before' });
    expect(exitFields(base(R.TRIPLE_FAULT)).reason).toBe('TRIPLE_FAULT');
    expect(exitFields(base(R.PREEMPTION_TIMER)).reason).toBe('PREEMPTION_TIMER');
    expect(exitFields(base(R.INTERRUPT_WINDOW)).number).toBe(7);
    expect(exitFields(base(1000)).reason).toBe('UNKNOWN_1000');
  });

  it('IO_INSTRUCTION: every size, direction and string/rep form', () => {
    const rax = 0x1122334455667788n;
    for (const size of [1, 2, 4] as const) for (const input of [false, true]) for (const str of [false, true]) for (const rep of [false, true]) {
      const port = (size * 0x1111 + (input ? 7 : 0)) & 0xffff;
      const f = exitFields(base(R.IO_INSTRUCTION, { qualification: ioq(port, size, input, str, rep, !str), regs: { rax, rcx: 0n, rdx: BigInt(port) } }));
      expect(f.port).toBe(port);
      expect(f.size).toBe(size);
      expect([f.in, f.out, f.string, f.rep]).toEqual([input, !input, str, rep]);
      const mask = (1n << BigInt(size * 8)) - 1n;
      expect(f.value).toBe(!input && !str ? rax & mask : undefined);
    }
  });

  it('CPUID, VMCALL, MSR_READ, MSR_WRITE read the registers at the exit', () => {
    const regs = { rax: 0xdead_0000_4000_0000n, rcx: 0xffff_ffff_0000_0002n, rdx: 0x1234_5678_9abc_def0n };
    expect(exitFields(base(R.CPUID, { regs }))).toMatchObject({ leaf: 0x40000000, subleaf: 2 });
    expect(exitFields(base(R.VMCALL, { regs })).nr).toBe(regs.rax);
    const rd = exitFields(base(R.MSR_READ, { regs: { ...regs, rcx: 0xc0000080n } }));
    expect(rd.msr).toBe(0xc0000080);
    expect(rd.value).toBeUndefined();
    const wr = exitFields(base(R.MSR_WRITE, { regs: { ...regs, rcx: 0xc0000080n } }));
    expect(wr.msr).toBe(0xc0000080);
    expect(wr.value).toBe(0x9abcdef0_40000000n); // EDX:EAX (SDM vol. 4 WRMSR)
  });

  it('CR_ACCESS: every access type, register and control register', () => {
    const GPR = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
    for (const cr of [0, 3, 4, 8]) for (let gpr = 0; gpr < 16; gpr++) {
      const to = exitFields(base(R.CR_ACCESS, { qualification: crq(cr, 0, gpr) }));
      expect(to).toMatchObject({ cr, access: 'mov-to', write: true, gpr: GPR[gpr] });
      const from = exitFields(base(R.CR_ACCESS, { qualification: crq(cr, 1, gpr) }));
      expect(from).toMatchObject({ cr, access: 'mov-from', write: false, gpr: GPR[gpr] });
    }
    const clts = exitFields(base(R.CR_ACCESS, { qualification: crq(0, 2, 0) }));
    expect(clts).toMatchObject({ cr: 0, access: 'clts', write: true });
    expect(clts.gpr).toBeUndefined();
    expect(exitFields(base(R.CR_ACCESS, { qualification: crq(0, 3, 0, 0x000b) }))).toMatchObject({ cr: 0, access: 'lmsw', write: true });
  });

  it('EPT_VIOLATION and EPT_MISCONFIG: addresses, access and entry bits; gva only when valid', () => {
    for (let bits = 0; bits < 64; bits++) {
      const [read, write, fetch] = [!!(bits & 1), !!(bits & 2), !!(bits & 4)];
      const rwx = bits >> 3 === 0 ? 0 : (bits * 5) & 7, la = (bits & 8) !== 0;
      const f = exitFields(base(R.EPT_VIOLATION, { qualification: eptq(read, write, fetch, rwx, la), guestPhysical: 0xd0001000n, guestLinear: 0xffff8000d0001000n }));
      expect(f).toMatchObject({ gpa: 0xd0001000n, read, write, fetch, r: !!(rwx & 1), w: !!(rwx & 2), x: !!(rwx & 4) });
      expect(f.gva).toBe(la ? 0xffff8000d0001000n : undefined);
    }
    expect(exitFields(base(R.EPT_MISCONFIG, { guestPhysical: 0x400008n })).gpa).toBe(0x400008n);
  });

  it('EXCEPTION_NMI and EXTERNAL_INTERRUPT: vector, type, error code when delivered, #PF address', () => {
    const pf = exitFields(base(R.EXCEPTION_NMI, { intrInfo: intr(14, 3, true), intrError: 6, qualification: 0xc800020n }));
    expect(pf).toMatchObject({ vector: 14, type: 3, error: 6, address: 0xc800020n });
    const ud = exitFields(base(R.EXCEPTION_NMI, { intrInfo: intr(6, 3, false), intrError: 99 }));
    expect(ud).toMatchObject({ vector: 6, type: 3 });
    expect(ud.error).toBeUndefined();
    expect(ud.address).toBeUndefined();
    expect(exitFields(base(R.EXCEPTION_NMI, { intrInfo: intr(2, 2, false) }))).toMatchObject({ vector: 2, type: 2 });
    expect(exitFields(base(R.EXCEPTION_NMI, { intrInfo: intr(3, 6, false) }))).toMatchObject({ vector: 3, type: 6 });
    expect(exitFields(base(R.EXTERNAL_INTERRUPT, { intrInfo: intr(0x20, 0, false) })).vector).toBe(0x20);
    // Without "acknowledge interrupt on exit" the information is invalid: no vector (SDM vol. 3C §28.2.2).
    expect(exitFields(base(R.EXTERNAL_INTERRUPT, { intrInfo: 0 })).vector).toBeUndefined();
  });

  it('the documentation table and the fields agree: every documented field is produced for some exit, nothing undocumented is', () => {
    const samples: ExitFieldInput[] = [
      base(R.IO_INSTRUCTION, { qualification: ioq(0x3f8, 1, false) }), base(R.CPUID), base(R.VMCALL), base(R.MSR_READ), base(R.MSR_WRITE),
      base(R.CR_ACCESS, { qualification: crq(3, 0, 1) }), base(R.EPT_VIOLATION, { qualification: eptq(true, false, false, 0, true) }),
      base(R.EPT_MISCONFIG), base(R.EXCEPTION_NMI, { intrInfo: intr(14, 3, true) }), base(R.EXTERNAL_INTERRUPT, { intrInfo: intr(32, 0, false) }),
      base(R.HLT), base(R.TRIPLE_FAULT), base(R.INTERRUPT_WINDOW), base(R.PREEMPTION_TIMER), base(R.INVALID_STATE, { check: 'x' }),
    ];
    const seen = new Map<string, Set<string>>();
    for (const s of samples) {
      const f = exitFields(s);
      const reason = String(f.reason);
      expect(EXIT_FIELD_DOCS[reason], reason).toBeDefined();
      const documented = new Set([...EXIT_FIELD_DOCS['*'], ...EXIT_FIELD_DOCS[reason]].map((d) => d.name));
      for (const k of Object.keys(f)) expect(documented.has(k), `${reason}.${k}`).toBe(true);
      seen.set(reason, new Set(Object.keys(f)));
    }
    for (const [reason, docs] of Object.entries(EXIT_FIELD_DOCS)) {
      if (reason !== '*') expect(exitReasonByName(reason), reason).toBeDefined();
      for (const d of docs) {
        expect(d.doc.length, `${reason}.${d.name}`).toBeGreaterThan(10);
        if (reason !== '*') expect(seen.get(reason)?.has(d.name), `${reason}.${d.name} produced`).toBe(true);
      }
    }
    // The brief's list of reasons is covered.
    for (const r of ['IO_INSTRUCTION', 'CPUID', 'MSR_READ', 'MSR_WRITE', 'CR_ACCESS', 'EPT_VIOLATION', 'EPT_MISCONFIG', 'EXCEPTION_NMI',
      'EXTERNAL_INTERRUPT', 'VMCALL', 'HLT', 'TRIPLE_FAULT', 'INTERRUPT_WINDOW', 'PREEMPTION_TIMER', 'INVALID_STATE']) expect(EXIT_FIELD_DOCS[r], r).toBeDefined();
    expect(ALL_EXIT_FIELD_NAMES).toContain('port');
  });

  it("the issue's example conditions on synthetic exits", () => {
    const msr = ctxOf(exitFields(base(R.MSR_WRITE, { regs: { rax: 0x501n, rcx: 0xc0000080n, rdx: 0n } })));
    expect(cond('msr == 0xc0000080', msr)).toBe(true);
    expect(cond('msr == 0xc0000080 && (value & (1 << 8)) != 0', msr)).toBe(true); // EFER.LME being set
    const pf = ctxOf(exitFields(base(R.EXCEPTION_NMI, { intrInfo: intr(14, 3, true), intrError: 2 })));
    expect(cond('vector == 14', pf)).toBe(true);
    expect(cond('vector == 14 && (error & 2) != 0', pf)).toBe(true);
    const cr = ctxOf(exitFields(base(R.CR_ACCESS, { qualification: crq(3, 0, 0) })));
    expect(cond('cr == 3', cr)).toBe(true);
    expect(cond('cr == 3 && access == "mov-to"', cr)).toBe(true);
    expect(cond('reason == "HLT"', ctxOf(exitFields(base(R.HLT))))).toBe(true);
    expect(cond('reason == "HLT"', cr)).toBe(false);
  });
});

describe('exit fields of real exits (a guest under the emulated VT-x and the reference hypervisor)', () => {
  it("the issue's conditions pick exactly the intended exits", () => {
    const g = guest('debug-expr-exits', 'long', `
${idt64({ 6: 'ud_handler' })}
main:
  mov eax, 'A'
  mov edx, 0x3f8
serial_out:
  out dx, al
  mov dx, 0x3fd
serial_in:
  in al, dx
  mov eax, 0x40000000
  xor ecx, ecx
hv_leaf:
  cpuid
  mov ecx, 0x1a0
msr_read:
  rdmsr
msr_write:
  wrmsr
  mov rax, cr3
cr3_write:
  mov cr3, rax
  mov ebx, 0x77
ept_write:
  mov [0x400100], rbx
ud:
  ud2
  EXIT 0x01
ud_handler:
  add qword [rsp], 2
  iretq
`);
    g.setBits('CPU_BASED_VM_EXEC_CONTROL', CPU_BASED_CR3_LOAD_EXITING);
    g.hv.vmwrite('EXCEPTION_BITMAP', 1 << 6);
    const WB = 6 << 3;
    setEptEntry(g.hv, 0x400000, (0x200000 + 0x400000) | EPT_R | WB | EPT_PS);
    g.on(R.EPT_VIOLATION, () => {
      setEptEntry(g.hv, 0x400000, (0x200000 + 0x400000) | EPT_R | EPT_W | EPT_X | WB | EPT_PS);
      return 'resumed';
    });
    g.on(R.CR_ACCESS, (vcpu) => { vcpu.vmwrite('GUEST_CR3', vcpu.reg('rax')); vcpu.advanceRip(); return 'emulated'; });
    const r = g.run();
    expect(r.status, r.message).toBe('debug-exit');

    const input = (e: SeenExit): ExitFieldInput => ({
      reason: e.rawReason, qualification: e.qualification, guestLinear: e.linear, guestPhysical: e.physical, intrInfo: e.intrInfo,
      intrError: e.intrError, instrInfo: e.instrInfo, regs: e.regs, rip: BigInt(e.rip), stage: 'before',
    });
    const ctxs = g.exits.map((e) => ({ e, ctx: withFields({
      reg: (n) => (e.regs as Record<string, bigint>)[n] ?? (n === 'rip' ? BigInt(e.rip) : undefined),
      symbol: (n) => g.asm.sym[n],
    }, exitFields(input(e))) }));
    /** Labels of the exits a condition selects (guarded by reason like a `vmexit.<REASON>` filter). */
    const pick = (reason: string, src: string): string[] => ctxs
      .filter(({ e }) => exitReasonByName(reason)!.number === e.reason)
      .filter(({ ctx }) => cond(src, ctx))
      .map(({ e }) => Object.entries(g.asm.sym).find(([k, v]) => v === e.rip && !k.startsWith('.'))?.[0] ?? `0x${e.rip.toString(16)}`);

    expect(pick('IO_INSTRUCTION', 'port == 0x3f8 && out')).toEqual(['serial_out']);
    expect(pick('IO_INSTRUCTION', 'out && value == 0x41 && size == 1 && !string && !rep')).toEqual(['serial_out']);
    expect(pick('IO_INSTRUCTION', 'in && port == 0x3fd')).toEqual(['serial_in']);
    expect(pick('CPUID', 'leaf == 0x40000000')).toEqual(['hv_leaf']);
    expect(pick('CPUID', 'leaf == 0x40000000 && subleaf == 0 && rip == hv_leaf')).toEqual(['hv_leaf']);
    expect(pick('MSR_READ', 'msr == 0x1a0')).toEqual(['msr_read']);
    expect(pick('MSR_WRITE', 'msr == 0x1a0 && value == (rdx << 32 | eax)')).toEqual(['msr_write']);
    expect(pick('CR_ACCESS', 'cr == 3 && write && gpr == "rax"')).toEqual(['cr3_write']);
    expect(pick('EPT_VIOLATION', 'gpa >= 0x400000 && write && r && !w && gva == 0x400100')).toEqual(['ept_write']);
    expect(pick('EXCEPTION_NMI', 'vector == 6 && type == 3')).toEqual(['ud']);
  });
});
