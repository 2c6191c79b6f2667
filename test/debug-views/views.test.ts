// The debugger's inspection views on real machines: values against what the test wrote or computed independently (VMCS writes, EPT and guest page tables, the processor's own walk, guest memory), and no side effects.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Machine, parseLaunchConfig, registerDump } from '../../emulator/index.js';
import { HOST_LAYOUT } from '../../emulator/vmm/hypervisor.js';
import { VMCS_FIELDS, type VmcsFieldName } from '../../emulator/vmx/fields.js';
import { makeInterruptionInfo } from '../../emulator/vmx/controls.js';
import { EXIT_REASON } from '../../emulator/vmx/exit-reasons.js';
import { walk, ACC_READ, type WalkStep } from '../../emulator/cpu/paging.js';
import {
  eptMappings, eptTranslate, eptView, exitsView, pageWalkView, registersView, statsView, virtioView, vmcsView, ViewError,
  type VmcsFieldView,
} from '../../emulator/debug/views.js';
import { eptEntry, put64 } from './helpers.js';

const TMP = join(__dirname, '..', '.tmp', 'debug-views');
const GUEST_RAM = HOST_LAYOUT.guestRam; // guest-physical 0 is host-physical 0x200000

function nasm(name: string): Uint8Array {
  mkdirSync(TMP, { recursive: true });
  const out = join(TMP, `${name}.bin`);
  execFileSync('nasm', ['-f', 'bin', '-o', out, join(__dirname, 'guests', `${name}.asm`)]);
  return new Uint8Array(readFileSync(out));
}

function longMachine(name: string): Machine {
  return new Machine(nasm(name), parseLaunchConfig({ program: name, format: 'flat', cpuMode: 'long' }));
}

/** Run until `pred` holds, one instruction (or exit) at a time. */
function runUntil(m: Machine, pred: () => boolean, limit = 100_000, step = 1): void {
  for (let i = 0; i < limit; i += step) {
    if (pred()) return;
    const r = m.runSlice(step);
    expect(typeof r, 'the run must not end').toBe('string');
  }
  throw new Error('condition not reached');
}

/** Stopped in non-root operation (the processor holds the guest state). */
const inGuest = (m: Machine) => runUntil(m, () => m.hv!.inGuest && m.hv!.log.total > 0);
/** Stopped at a VM exit (the VMCS and the save area hold the guest state). */
const atExit = (m: Machine) => runUntil(m, () => !m.hv!.inGuest && m.hv!.log.total > 0);

/** Everything a view could disturb: memory (incl. VMCS, EPT and guest page tables), processor, devices, VMX unit, logs. */
function state(m: Machine) {
  const hv = m.hv!;
  const lazy = { lop: m.cpu.lop, flagsRaw: m.cpu.flagsRaw };
  return {
    lazy,
    snapshot: m.snapshot(),
    resident: m.mem.residentBytes,
    ept: { ...hv.vmx.ept.fault, lastPerm: hv.vmx.ept.lastPerm, eptp: hv.vmx.ept.eptp },
    region: hv.vmx.vmcs.region,
    exits: hv.log.total,
    events: m.virtioEvents.length,
    inGuest: hv.inGuest,
    output: m.output(),
  };
}

function expectNoSideEffects(m: Machine, views: () => void): void {
  const before = state(m);
  views();
  expect(state(m)).toEqual(before);
}


const field = (v: ReturnType<typeof vmcsView>, name: string): VmcsFieldView =>
  v.groups.flatMap((g) => g.fields).find((f) => f.name === name)!;
const bitNamed = (f: VmcsFieldView, name: string) => f.bits!.find((b) => b.name === name)!;

describe('vmcsView', () => {
  it('shows every field with the value VMREAD returns, grouped as the SDM groups them', () => {
    const m = longMachine('loop');
    atExit(m);
    const hv = m.hv!;
    const v = vmcsView(hv);
    const all = v.groups.flatMap((g) => g.fields);
    expect(all.length).toBe(VMCS_FIELDS.length);
    for (const f of VMCS_FIELDS) {
      const shown = all.find((x) => x.name === f.name)!;
      expect(BigInt(shown.value), f.name).toBe(hv.vmread(f.name));
      expect(shown.encoding).toBe(f.encoding);
      expect(v.groups.find((g) => g.fields.includes(shown))!.name).toBe(f.group);
      expect(shown.changed).toBe(false);
    }
    // The last exit was the guest's OUT 0x80 (SDM table C-1: reason 30).
    expect(bitNamed(field(v, 'VM_EXIT_REASON'), 'basic exit reason').value).toBe('30 (IO_INSTRUCTION)');
    expect(bitNamed(field(v, 'EXIT_QUALIFICATION'), 'decoded').value).toContain('0x80');
    // 64-bit code segment (README: long mode, CS = 0x18): L = 1, D = 0, P = 1, S = 1, DPL 0, a code type.
    const cs = field(v, 'GUEST_CS_AR_BYTES');
    expect(bitNamed(cs, 'L').set).toBe(true);
    expect(bitNamed(cs, 'D/B').set).toBe(false);
    expect(bitNamed(cs, 'P').set).toBe(true);
    expect(bitNamed(cs, 'S').set).toBe(true);
    expect(bitNamed(cs, 'DPL').value).toBe('0');
    expect(bitNamed(cs, 'type').value).toMatch(/code/);
    expect(Number(BigInt(field(v, 'GUEST_CS_SELECTOR').value))).toBe(0x18);
  });

  it('decodes control words, interruption information, interruptibility and activity state written with VMWRITE', () => {
    const m = longMachine('loop');
    const hv = m.hv!;
    const rdtsc = 1 << 12; // SDM table 25-6: RDTSC exiting
    hv.vmwrite('CPU_BASED_VM_EXEC_CONTROL', Number(hv.vmread('CPU_BASED_VM_EXEC_CONTROL')) | rdtsc);
    atExit(m);
    hv.vmwrite('VM_ENTRY_INTR_INFO_FIELD', makeInterruptionInfo(14, 3, true)); // #PF, hardware exception, error code
    hv.vmwrite('GUEST_INTERRUPTIBILITY_INFO', 1); // blocking by STI
    hv.vmwrite('GUEST_ACTIVITY_STATE', 1); // HLT
    const v = vmcsView(hv);
    const proc = field(v, 'CPU_BASED_VM_EXEC_CONTROL');
    expect(bitNamed(proc, 'CPU_BASED_RDTSC_EXITING').set).toBe(true);
    expect(bitNamed(proc, 'CPU_BASED_HLT_EXITING').set).toBe(true); // a default control (vmx-api brief)
    expect(bitNamed(proc, 'CPU_BASED_MONITOR_TRAP_FLAG').set).toBe(false);
    // Every set bit of the word appears in the decoding, and nothing else is marked set.
    const word = Number(hv.vmread('CPU_BASED_VM_EXEC_CONTROL'));
    const setBits = proc.bits!.filter((b) => b.set).map((b) => b.bit).sort((a, b) => a - b);
    expect(setBits).toEqual(Array.from({ length: 32 }, (_, b) => b).filter((b) => ((word >>> b) & 1) === 1));
    expect(bitNamed(field(v, 'SECONDARY_VM_EXEC_CONTROL'), 'SECONDARY_EXEC_ENABLE_EPT').set).toBe(true);
    expect(bitNamed(field(v, 'PIN_BASED_VM_EXEC_CONTROL'), 'PIN_BASED_NMI_EXITING').set).toBe(true);
    const intr = field(v, 'VM_ENTRY_INTR_INFO_FIELD');
    expect(bitNamed(intr, 'vector').value).toBe('14 (#PF)');
    expect(bitNamed(intr, 'type').value).toBe('3 (hardware exception)');
    expect(bitNamed(intr, 'error code valid').set).toBe(true);
    expect(bitNamed(intr, 'valid').set).toBe(true);
    expect(bitNamed(field(v, 'GUEST_INTERRUPTIBILITY_INFO'), 'GUEST_INTR_STATE_STI').set).toBe(true);
    expect(bitNamed(field(v, 'GUEST_INTERRUPTIBILITY_INFO'), 'GUEST_INTR_STATE_MOV_SS').set).toBe(false);
    expect(bitNamed(field(v, 'GUEST_ACTIVITY_STATE'), 'activity state').value).toBe('1 (HLT)');
    const eptp = field(v, 'EPT_POINTER');
    expect(bitNamed(eptp, 'memory type').value).toBe('6 (WB)');
    expect(bitNamed(eptp, 'page-walk length').value).toBe('4 levels');
    expect(bitNamed(eptp, 'A/D enable').set).toBe(true);
    expect(BigInt(bitNamed(eptp, 'PML4 address').value!)).toBe(hv.vmread('EPT_POINTER') & ~0xfffn);
  });

  it('marks exactly the fields that changed since the previous snapshot', () => {
    const m = longMachine('loop');
    atExit(m);
    const hv = m.hv!;
    const first = vmcsView(hv);
    hv.vmwrite('TSC_OFFSET', 0x123456789n);
    hv.vmwrite('EXCEPTION_BITMAP', 1 << 6);
    const second = vmcsView(hv, first.snapshot);
    const changed = second.groups.flatMap((g) => g.fields).filter((f) => f.changed);
    expect(changed.map((f) => f.name).sort()).toEqual(['EXCEPTION_BITMAP', 'TSC_OFFSET']);
    expect(BigInt(field(second, 'TSC_OFFSET').previous!)).toBe(0n);
    // Run to the next exit: the guest's RIP moved on (it loops), the old snapshot says so.
    const rip = hv.vmread('GUEST_RIP');
    const n = hv.log.total;
    runUntil(m, () => !hv.inGuest && hv.log.total > n + 1);
    const third = vmcsView(hv, second.snapshot);
    expect(field(third, 'GUEST_RIP').changed).toBe(BigInt(field(third, 'GUEST_RIP').value) !== rip);
    expect(field(third, 'TSC_OFFSET').changed).toBe(false);
  });
});

describe('eptView, eptMappings, eptTranslate', () => {
  it('decodes the PML4 and a 2 MiB leaf the test made read-only', () => {
    const m = longMachine('loop');
    const hv = m.hv!;
    const pde = eptEntry(hv, 0x400000, 2);
    hv.host.write32(pde, (hv.host.read32(pde) & ~7) | 1); // R only
    const root = eptView(hv);
    expect(root.level).toBe(4);
    expect(BigInt(root.table)).toBe(hv.vmread('EPT_POINTER') & ~0xfffn);
    expect(root.eptp.enabled).toBe(true);
    expect(root.entries.length).toBe(512);
    for (const e of root.entries) {
      const at = Number(BigInt(root.table)) + e.index * 8;
      expect(BigInt(e.value)).toBe(BigInt(hv.host.read32(at)) | (BigInt(hv.host.read32(at + 4)) << 32n));
    }
    expect(root.entries[0].kind).toBe('table');
    expect(root.entries[0].gpaEnd).toBe('0x8000000000'); // a PML4E covers 512 GiB
    expect(root.entries.slice(1).every((e) => e.kind === 'not-present')).toBe(true);
    // The page directory holding the PDE, found by its address.
    const pdTable = pde - (pde % 4096);
    const pd = eptView(hv, pdTable);
    expect(pd.level).toBe(2);
    const e = pd.entries[(pde - pdTable) / 8];
    expect(e).toMatchObject({ kind: 'page', r: true, w: false, x: false, largePage: true, memoryType: 6, gpaStart: '0x400000', gpaEnd: '0x600000' });
    expect(BigInt(e.target)).toBe(BigInt(0x400000 + GUEST_RAM));
  });

  it('coalesces the mappings into ranges with their permissions', () => {
    const m = longMachine('loop');
    const hv = m.hv!;
    const pde = eptEntry(hv, 0x400000, 2);
    hv.host.write32(pde, (hv.host.read32(pde) & ~7) | 5); // R-X
    const ram = hv.guest.ranges[0].size;
    const view = eptMappings(hv);
    expect(view.truncated).toBe(false);
    expect(view.misconfigured).toEqual([]);
    expect(view.mappings.map((x) => [x.gpaStart, x.gpaEnd, x.hpaStart, `${x.r ? 'r' : '-'}${x.w ? 'w' : '-'}${x.x ? 'x' : '-'}`])).toEqual([
      ['0x0', '0x400000', `0x${GUEST_RAM.toString(16)}`, 'rwx'],
      ['0x400000', '0x600000', `0x${(GUEST_RAM + 0x400000).toString(16)}`, 'r-x'],
      ['0x600000', `0x${ram.toString(16)}`, `0x${(GUEST_RAM + 0x600000).toString(16)}`, 'rwx'],
    ]);
  });

  it('translates a GPA step by step, and predicts the EPT violation the processor then reports', () => {
    const m = longMachine('ept-write');
    const hv = m.hv!;
    const ok = eptTranslate(hv, 0x12345);
    expect(ok.result).toMatchObject({ kind: 'ok', hpa: `0x${(0x12345 + GUEST_RAM).toString(16)}`, pageSize: 0x200000, r: true, w: true, x: true });
    expect(ok.steps.map((s) => s.level)).toEqual([4, 3, 2]);
    expect(ok.steps.map((s) => Number(BigInt(s.entryAddress)))).toEqual([4, 3, 2].map((l) => eptEntry(hv, 0x12345, l)));
    const pde = eptEntry(hv, 0x400000, 2);
    hv.host.write32(pde, (hv.host.read32(pde) & ~7) | 1); // read-only
    const predicted = eptTranslate(hv, '0x400010', 'write');
    expect(predicted.result.kind).toBe('violation');
    if (predicted.result.kind === 'ok') return;
    expect(predicted.result.exitReason).toBe(EXIT_REASON.EPT_VIOLATION);
    expect(Number(BigInt(predicted.result.entryAddress))).toBe(pde);
    // The guest's write makes the processor exit: its qualification's access and permission bits (5:0) match.
    let q = -1n;
    const orig = hv.handlers.get(EXIT_REASON.EPT_VIOLATION)!;
    hv.handlers.set(EXIT_REASON.EPT_VIOLATION, (vcpu) => {
      q = vcpu.exit.qualification;
      hv.host.write32(pde, (hv.host.read32(pde) & ~7) | 7); // let the write through on retry
      return orig(vcpu);
    });
    atExit(m);
    runUntil(m, () => q >= 0n);
    expect(q & 0x3fn).toBe(BigInt(predicted.result.qualification!));
    // A misconfiguration: write without read (SDM §29.3.3.1).
    hv.host.write32(pde, (hv.host.read32(pde) & ~7) | 2);
    const bad = eptTranslate(hv, 0x400010);
    expect(bad.result).toMatchObject({ kind: 'misconfig', exitReason: EXIT_REASON.EPT_MISCONFIG, qualification: null });
    expect(() => eptTranslate(hv, 2 ** 45)).toThrow(ViewError);
    expect(() => eptTranslate(hv, 'nonsense')).toThrow(ViewError);
  });
});

describe('pageWalkView', () => {
  // Guest page tables (guest-physical): PML4 0x200000, PDPT 0x201000, PD0 0x202000 (identity 2 MiB for the code),
  // PD1 0x204000 for linear 0x40000000.., PT 0x203000; PT2 at 0x500000 lies in a GPA range whose EPT leaf the test removes.
  const P = 1n, RW = 2n, US = 4n, PS = 0x80n, NX = 1n << 63n;
  function build(): Machine {
    const m = longMachine('paging');
    const hv = m.hv!;
    put64(hv, 0x200000, 0x201000n | P | RW | US);
    put64(hv, 0x201000, 0x202000n | P | RW | US);
    put64(hv, 0x201008, 0x204000n | P | RW | US);
    put64(hv, 0x202000, 0x0n | P | RW | PS);
    put64(hv, 0x204000, 0x203000n | P | RW | US);
    put64(hv, 0x204008, 0x500000n | P | RW | US);
    put64(hv, 0x204010, 0x600000n | P | RW | PS);
    put64(hv, 0x204018, 0x400000n | P | RW | PS);
    put64(hv, 0x203000 + 5 * 8, 0x300000n | P | RW | NX);
    put64(hv, 0x203000 + 6 * 8, 0n);
    put64(hv, 0x203000 + 7 * 8, 0x301000n | P | RW | (1n << 45n)); // bit 45: above MAXPHYADDR 39, reserved
    const eptPde = eptEntry(hv, 0x400000, 2);
    hv.host.write32(eptPde, hv.host.read32(eptPde) & ~7); // GPA 0x400000-0x5FFFFF not present in EPT
    inGuest(m);
    return m;
  }

  it('walks both dimensions and agrees with the tables the test built and the processor\'s own walk', () => {
    const m = build();
    const hv = m.hv!;
    const v = pageWalkView(hv, 0x40005008);
    expect(v.mode).toBe('4-level');
    expect(v.source).toBe('cpu');
    expect(v.stop).toBeNull();
    expect(v.levels.map((l) => [l.levelName, l.entryGpa])).toEqual([
      ['PML4E', '0x200000'], ['PDPTE', '0x201008'], ['PDE', '0x204000'], ['PTE', '0x203028'],
    ]);
    for (const l of v.levels) {
      expect(BigInt(l.entryHpa!)).toBe(BigInt(l.entryGpa) + BigInt(GUEST_RAM));
      expect(l.ept!.result.kind).toBe('ok');
      expect(l.ept!.steps.length).toBe(3);
    }
    // The PML4E is on the code's path too, so the processor set its accessed flag; the rest were never used (SDM vol. 3A §4.8).
    expect(v.levels.map((l) => l.decoded!.A)).toEqual([true, false, false, false]);
    expect(BigInt(v.levels[3].value!)).toBe(0x300000n | P | RW | NX);
    expect(v.levels[3].decoded).toMatchObject({ P: true, RW: true, US: false, NX: true, D: false, address: '0x300000' });
    expect(v).toMatchObject({ gpa: '0x300008', hpa: `0x${(0x300008 + GUEST_RAM).toString(16)}`, pageSize: 4096 });
    expect(v.permissions).toEqual({ writable: true, user: false, executable: false });
    // The processor's side-effect-free walk (emulator/cpu/paging.ts) sees the same entries and HPA.
    const steps: WalkStep[] = [];
    const hpa = walk(m.cpu, 0x40005008, ACC_READ, false, true, steps);
    expect(steps.map((s) => [s.entryAddress, BigInt(s.lo >>> 0) | (BigInt(s.hi >>> 0) << 32n)])).toEqual(
      v.levels.map((l) => [Number(BigInt(l.entryGpa)), BigInt(l.value!)]));
    expect(hpa).toBe(Number(BigInt(v.hpa!)));
    // A 2 MiB guest page.
    const big = pageWalkView(hv, 0x40412345);
    expect(big).toMatchObject({ gpa: '0x612345', pageSize: 0x200000, stop: null });
    expect(big.levels.length).toBe(3);
    expect(walk(m.cpu, 0x40412345, ACC_READ, false, true)).toBe(Number(BigInt(big.hpa!)));
  });

  it('says where and why a walk stops', () => {
    const m = build();
    const hv = m.hv!;
    expect(pageWalkView(hv, 0x40006000).stop).toMatchObject({ level: 1, reason: 'not-present' });
    const rsvd = pageWalkView(hv, 0x40007000);
    expect(rsvd.stop).toMatchObject({ level: 1, reason: 'reserved-bit' });
    expect(rsvd.levels[3].reserved).toContain('51:39');
    const ept = pageWalkView(hv, 0x40200000);
    expect(ept.stop).toMatchObject({ level: 1, reason: 'ept-violation', exitReason: EXIT_REASON.EPT_VIOLATION });
    expect(ept.levels[3]).toMatchObject({ entryGpa: '0x500000', entryHpa: null, value: null });
    const fin = pageWalkView(hv, 0x40600010);
    expect(fin).toMatchObject({ gpa: '0x400010', hpa: null });
    expect(fin.stop).toMatchObject({ level: 0, reason: 'ept-violation' });
    expect(pageWalkView(hv, 0x0000900000000000n).stop).toMatchObject({ reason: 'non-canonical' });
    // The processor's walk agrees that none of these reach memory.
    for (const gva of [0x40006000, 0x40007000, 0x40200000, 0x40600010]) expect(walk(m.cpu, gva, ACC_READ, false, true)).toBe(-1);
  });

  it('reads the paging state from the VMCS at a VM exit', () => {
    const m = build();
    atExit(m);
    const v = pageWalkView(m.hv!, 0x40005008);
    expect(v.source).toBe('vmcs');
    expect(BigInt(v.cr3)).toBe(0x200000n);
    expect(v.gpa).toBe('0x300008');
  });

  it('sets no accessed or dirty flag, in the guest tables or EPT, and has no other side effect', () => {
    const m = build();
    const hv = m.hv!;
    const eptLeaf = eptEntry(hv, 0x600000, 2);
    expect(hv.host.read32(eptLeaf) & 0x300).toBe(0); // EPT A/D are on (vmx-api brief); this leaf is untouched
    expectNoSideEffects(m, () => {
      for (const gva of [0x40005008, 0x40006000, 0x40007000, 0x40200000, 0x40412345, 0x40600010]) pageWalkView(hv, gva, 'write');
      eptTranslate(hv, 0x600000, 'write');
    });
    expect(hv.host.read32(eptLeaf) & 0x300).toBe(0);
  });
});

describe('exitsView and statsView', () => {
  it('return the log\'s entries and per-reason statistics', () => {
    const m = longMachine('loop');
    const hv = m.hv!;
    runUntil(m, () => hv.log.total >= 20);
    const log = hv.log.recent();
    const w = exitsView(hv, 3, 5);
    expect(w.total).toBe(hv.log.total);
    expect(w.firstKept).toBe(1);
    expect(w.entries.map((e) => e.n)).toEqual([3, 4, 5, 6, 7]);
    for (const e of w.entries) {
      const ref = log.find((x) => x.n === e.n)!;
      expect(e).toMatchObject({ reason: ref.reason, name: ref.name, qualification: ref.qualification, summary: ref.summary, icount: ref.icount, outcome: ref.outcome });
      expect(BigInt(e.rip)).toBe(BigInt(ref.rip));
    }
    // OUT imm8, AL is E6 ib (SDM vol. 2B "OUT").
    expect(w.entries[0]).toMatchObject({ name: 'IO_INSTRUCTION', bytes: 'e6 80', bits: 64 });
    expect(exitsView(hv, 0, 3).entries.map((e) => e.n)).toEqual([hv.log.total - 2, hv.log.total - 1, hv.log.total]);
    const s = statsView(hv);
    expect(s.total).toBe(hv.log.total);
    expect(s.rows.reduce((a, r) => a + r.count, 0)).toBe(hv.log.total);
    expect(s.rows.reduce((a, r) => a + r.share, 0)).toBeCloseTo(1, 10);
    for (const r of s.rows) expect(r.count).toBe(hv.log.byReason.get(r.reason)!.count);
    for (let i = 1; i < s.rows.length; i++) expect(s.rows[i - 1].count).toBeGreaterThanOrEqual(s.rows[i].count);
    expect(s.rows[0].name).toBe('IO_INSTRUCTION');
  });
});

describe('registersView', () => {
  const expected: Record<string, bigint> = {
    rax: 0x1111222233334444n, rbx: 0x5555666677778888n, rcx: 0x0123456789abcdefn, rdx: 0xfedcba9876543210n,
    rsi: 0xdeadbeefn, rdi: 0xcafef00dn, rbp: 0x77000n, r8: 0x0808080808080808n, r9: 0x0909090909090909n,
    r10: 0x1010101010101010n, r11: 0x1111111111111111n, r12: 0x1212121212121212n, r13: 0x1313131313131313n, r14: 0x1414141414141414n,
  };

  it('gives the guest\'s registers from the processor while it runs and from the VMCS at an exit', () => {
    for (const where of [inGuest, atExit]) {
      const m = longMachine('loop');
      runUntil(m, () => m.hv!.log.total >= 3);
      where(m);
      const r = registersView(m);
      for (const [k, v] of Object.entries(expected)) expect(r.gpr[k as keyof typeof r.gpr], k).toBe(v);
      expect(r.gpr.rsp).toBe(0x80000n); // README: long mode starts with RSP = 0x80000, the loop does not touch it
      expect(r.segments.cs.selector).toBe(0x18);
      expect(r.codeBits).toBe(64);
      expect(r.cr3).toBe(0xa000n); // README: PML4 at 0xA000
      expect(r.efer & 0x500n).toBe(0x500n); // LME | LMA
      expect(r.cr4 & (1n << 13n)).toBe(0n); // VMXE is the hypervisor's: the guest reads its shadow
      // Against the machine's own register dump (result registers).
      const dump = m.guestRegisters();
      for (const k of ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r15', 'rip', 'cr3', 'efer'] as const) {
        const mine = k in r.gpr ? r.gpr[k as keyof typeof r.gpr] : (r as unknown as Record<string, bigint>)[k];
        expect(mine, k).toBe(BigInt(dump[k]));
      }
      if (m.hv!.inGuest) expect(r.rflags).toBe(BigInt(registerDump(m.cpu).rflags));
    }
  });
});

describe('virtioView', () => {
  it('shows a device, its negotiated features and its rings as guest memory holds them', async () => {
    const { buildVirtioGuest, canBuildC } = await import('../virtio-guests/build.js');
    if (!canBuildC) return;
    const b = buildVirtioGuest('console');
    const m = new Machine(b.bytes, parseLaunchConfig({ program: b.path, maxInstructions: 5_000_000, devices: ['debugcon', 'debug-exit', 'uart', 'virtio-console'] }));
    // Stop while the driver has the device running and the device has completed requests (the guest resets it at its end).
    const dev = m.virtio.get('virtio-console')!;
    runUntil(m, () => (dev.inspect().status & 4) !== 0 && dev.inspect().requests.some((x) => x.state === 'completed'), 5_000_000, 200);
    const v = virtioView(m);
    expect(v.devices.length).toBe(1);
    const d = v.devices[0];
    expect(d).toMatchObject({ name: 'virtio-console', deviceId: 3, window: { base: '0xd0000000', size: 4096 }, irq: 5 });
    const st = Object.fromEntries(d.status.bits.map((x) => [x.name, x.set]));
    expect(st).toMatchObject({ ACKNOWLEDGE: true, DRIVER: true, FEATURES_OK: true, DRIVER_OK: true, FAILED: false, DEVICE_NEEDS_RESET: false });
    expect(d.features.find((f) => f.bit === 32)).toMatchObject({ name: 'VIRTIO_F_VERSION_1', offered: true, accepted: true });
    const hv = m.hv!;
    const rd16 = (gpa: number) => hv.guest.read8(gpa) | (hv.guest.read8(gpa + 1) << 8);
    let sawRing = false, sawPreview = false;
    for (const q of d.queues.filter((x) => x.ready)) {
      expect(q.availIdxInMemory).toBe(rd16(q.availAddr + 2));
      expect(q.usedIdxInMemory).toBe(rd16(q.usedAddr + 2));
      expect(q.availRing.length).toBe(q.size);
      for (let k = 0; k < q.size; k++) {
        expect(q.availRing[k]).toBe(rd16(q.availAddr + 4 + 2 * k));
        expect(q.usedRing[k].id).toBe(hv.guest.read32(q.usedAddr + 4 + 8 * k));
        expect(q.usedRing[k].len).toBe(hv.guest.read32(q.usedAddr + 8 + 8 * k));
        // The descriptor table as guest memory holds it (virtio 1.2 §2.7.5).
        const e = q.descAddr + 16 * k, row = q.descriptorTable[k];
        expect(BigInt(row.addr)).toBe((BigInt(hv.guest.read32(e + 4)) << 32n) | BigInt(hv.guest.read32(e)));
        expect(row.len).toBe(hv.guest.read32(e + 8));
        expect(row.flags).toBe(rd16(e + 12));
        expect(row.next).toBe(rd16(e + 14));
        expect(row.flagNames.includes('NEXT')).toBe((row.flags & 1) !== 0);
      }
      // Each in-flight buffer's preview is its first bytes in guest memory.
      for (const c of q.previews) {
        for (const p of c.buffers) {
          const n = Math.min(p.len, 64);
          const want = Array.from({ length: n }, (_, i) => hv.guest.read8(Number(p.addr) + i).toString(16).padStart(2, '0')).join(' ');
          expect(p.hex).toBe(want);
          expect(p.ascii.length).toBe(n);
          sawPreview = true;
        }
      }
      // Every completed request's head is in the used ring at the slot its used index says (virtio 1.2 §2.7.8).
      for (const req of d.requests.filter((x) => x.queue === q.index && x.state === 'completed')) {
        expect(q.usedRing[(req.usedIdx! - 1) % q.size].id).toBe(req.head);
        sawRing = true;
      }
    }
    expect(sawRing).toBe(true);
    expect(sawPreview).toBe(true); // the receive queue has buffers posted
    expect(d.events.length).toBeGreaterThan(0);
    expectNoSideEffects(m, () => { virtioView(m); });
  });
});

describe('no side effects', () => {
  it('none of the views changes the machine, and the run goes on exactly as without them', () => {
    const run = (inspect: boolean) => {
      const m = longMachine('loop');
      const hv = m.hv!;
      const out: string[] = [];
      const stops = new Set<boolean>();
      for (let slice = 0; slice < 8; slice++) {
        m.runSlice(97 + slice);
        stops.add(hv.inGuest);
        if (!inspect) continue;
        expectNoSideEffects(m, () => {
          const v = vmcsView(hv);
          vmcsView(hv, v.snapshot);
          eptView(hv);
          eptMappings(hv);
          eptTranslate(hv, 0x100000, 'fetch');
          eptTranslate(hv, 0x200000, 'write');
          pageWalkView(hv, 0x100000, 'write');
          pageWalkView(hv, 0x80000 - 8, 'write');
          const json = [v, eptView(hv), eptMappings(hv), eptTranslate(hv, 0x1000), pageWalkView(hv, 0x100000), exitsView(hv, 0, 100), statsView(hv), virtioView(m)];
          // Plain JSON data: a round trip through JSON gives the same value (no bigints, Maps or class instances).
          for (const x of json) expect(JSON.parse(JSON.stringify(x))).toEqual(x);
          registersView(m);
        });
      }
      for (const e of hv.log.recent()) out.push(`${e.n} ${e.name} ${e.rip} ${e.icount}`);
      expect([...stops].sort(), 'stops both in the guest and at VM exits').toEqual([false, true]);
      return { out, regs: m.guestRegisters(), icount: m.cpu.icount };
    };
    expect(run(true)).toEqual(run(false));
  });

  it('rejects bad arguments with a ViewError', () => {
    const m = longMachine('loop');
    expect(() => eptView(m.hv!, 0x1234)).toThrow(ViewError);
    expect(() => eptView(m.hv!, 2 ** 50)).toThrow(ViewError);
    expect(() => pageWalkView(m.hv!, 'x')).toThrow(ViewError);
    expect(() => pageWalkView(m.hv!, 2 ** 64 + 1)).toThrow(ViewError);
  });
});

// Guard against a VMCS-name typo in the test's own lists.
const _names: VmcsFieldName[] = ['TSC_OFFSET', 'EXCEPTION_BITMAP'];
void _names;
