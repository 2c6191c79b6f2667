// vmscope against KVM: the same start state under /dev/kvm and on vmscope (bare processor, and under its hypervisor from its VM exits) must give the same port I/O, MMIO, HLT, end and final registers.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Machine, parseLaunchConfig } from '../../emulator/index.js';
import { buildGuest, canBuildAsm, canBuildC } from '../guests/build.js';
import { GUESTS } from '../guests/catalog.js';
import {
  buildKvmGuest, canRunKvm, encodeState, firstEventMismatch, kvmBackend, KvmHarnessError, kvmDeviceEvents, kvmExitEvents, runKvmState, runOnKvm,
  runOnVmscope, runOnVmscopeVmx, SEG_NAMES, type DeviceEvent, type KvmExit, type KvmRun, type KvmSegment,
} from './kvm.js';

/** KVM is compared with the processor itself: bare-metal machines (no hypervisor in between). */
const BARE = { mode: 'bare' as const };

const hasNasm = spawnSync('nasm', ['-v'], { stdio: 'ignore' }).status === 0;
const BACKEND = canRunKvm ? kvmBackend() : 'unknown';

/** RFLAGS.RF (bit 16): set in the state KVM reports after a shutdown (the fault's saved image); no architectural state survives a shutdown (SDM vol. 3A §6.15, #DF "Exception Class Abort"). */
const RF = 0x10000n;
const COMPARED_REGS = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip', 'rflags', 'cr0', 'cr2', 'cr3', 'cr4', 'efer'];

/**
 * Guest states the PVM backend (kvm_pvm, which serves /dev/kvm on nested cloud hosts without SVM/VMX) cannot
 * run although hardware KVM does; measured on this host. For these the KVM run ends early in the stated way and
 * the test checks that every device event KVM saw up to there is what vmscope did (a prefix), and nothing more.
 * On a kvm_amd/kvm_intel host the full comparison runs instead.
 */
const KNOWN_BACKEND_LIMITS: Record<string, { end: KvmRun['end']['reason']; why: string }> = {
  'hello-paged32': { end: 'shutdown', why: 'PVM shuts down on entry with CR0.PG=1 outside long mode (legacy 32-bit paging)' },
  'memcheck-paged32': { end: 'shutdown', why: 'PVM shuts down on entry with CR0.PG=1 outside long mode (legacy 32-bit paging)' },
  'exceptions-protected': { end: 'internal_error', why: 'PVM hands the 32-bit IRET of the #DE handler to KVM\'s emulator, which cannot emulate a protected-mode IRET (KVM_INTERNAL_ERROR_EMULATION)' },
  'exceptions-long': { end: 'internal_error', why: 'PVM hands the 64-bit INT3 to KVM\'s emulator, which does not emulate INT3 (KVM_INTERNAL_ERROR_EMULATION)' },
};

const STATUS_OF_KVM_END: Record<string, string> = { hlt: 'halted', 'debug-exit': 'debug-exit', shutdown: 'triple-fault' };

function regDiffs(v: { regs: Record<string, string> }, k: KvmRun): string[] {
  const shutdown = k.end.reason === 'shutdown';
  const out: string[] = [];
  for (const n of COMPARED_REGS) {
    let a = BigInt(v.regs[n]), b = BigInt(k.regs[n] as string);
    if (n === 'rflags' && shutdown) { a &= ~RF; b &= ~RF; }
    if (a !== b) out.push(`${n}: vmscope ${v.regs[n]} kvm ${k.regs[n] as string}`);
  }
  return out;
}

/** KVM runs by guest name: the bare and the hypervisor comparisons of a guest share one KVM run. */
const kvmRuns = new Map<string, KvmRun>();
function kvmRunOf(name: string, image: Uint8Array, launch: Record<string, unknown>): KvmRun {
  let k = kvmRuns.get(name);
  if (k === undefined) { k = runOnKvm(image, launch, { tag: name }); kvmRuns.set(name, k); }
  return k;
}

/** Run on both and compare events, end and registers; `limit` relaxes to the prefix check above. */
function compareOnBoth(name: string, image: Uint8Array, launch: Record<string, unknown>): void {
  const k = kvmRunOf(name, image, launch);
  const v = runOnVmscope(image, launch);
  const kv = kvmDeviceEvents(k.exits);
  const limit = BACKEND === 'pvm' ? KNOWN_BACKEND_LIMITS[name] : undefined;
  if (limit !== undefined) {
    expect(k.end.reason, `${name}: the PVM backend is expected to stop with ${limit.end} (${limit.why})`).toBe(limit.end);
    expect(firstEventMismatch(v.events.slice(0, kv.length), kv), `${name}: device events before KVM stopped`).toBeNull();
    return;
  }
  expect(k.end.reason, `${name}: KVM's run ended with ${JSON.stringify(k.exits.at(-1))}`).toMatch(/^(hlt|debug-exit|shutdown)$/);
  expect(firstEventMismatch(v.events, kv), `${name}: first differing device event (vmscope vs KVM)`).toBeNull();
  expect({ status: v.result.status, exitCode: v.result.status === 'debug-exit' ? v.result.exitCode : 0 }, `${name}: how the run ended (${v.result.message ?? ''})`)
    .toEqual({ status: STATUS_OF_KVM_END[k.end.reason], exitCode: k.end.exitCode });
  expect(regDiffs(v, k), `${name}: final registers`).toEqual([]);
}

/**
 * Where vmscope's hypervisor (not the processor: the same guests pass the bare comparison) does not yet do
 * what KVM does. Each entry states the deviation the test checks for, so the test fails once it is fixed
 * (then delete the entry and the full comparison applies).
 */
const KNOWN_HYPERVISOR_LIMITS: Record<string, { why: string; check: (v: ReturnType<typeof runOnVmscopeVmx>, kvmEvents: ReturnType<typeof kvmExitEvents>) => void }> = {};

/**
 * The same comparison with vmscope's hypervisor in between (default Machine mode 'vmx'): the events come from
 * its VM exits (runOnVmscopeVmx), HLT and shutdown included, and the registers from RunResult.registers.
 */
function compareVmxOnBoth(name: string, image: Uint8Array, launch: Record<string, unknown>): void {
  const k = kvmRunOf(name, image, launch);
  const v = runOnVmscopeVmx(image, launch);
  const ke = kvmExitEvents(k.exits);
  expect(v.problems, `${name}: exits whose handler did something else than the exit says`).toEqual([]);
  expect(v.exits.length, `${name}: every exit was collected`).toBe(v.result.vmExits.total);
  const limit = BACKEND === 'pvm' ? KNOWN_BACKEND_LIMITS[name] : undefined;
  if (limit !== undefined) {
    expect(k.end.reason, `${name}: the PVM backend is expected to stop with ${limit.end} (${limit.why})`).toBe(limit.end);
    const kDev = ke.filter((e) => e.kind === 'io' || e.kind === 'mmio');
    expect(firstEventMismatch(v.events.slice(0, kDev.length), kDev), `${name}: exit events before KVM stopped`).toBeNull();
    return;
  }
  const known = KNOWN_HYPERVISOR_LIMITS[name];
  if (known !== undefined) { known.check(v, ke); return; }
  expect(k.end.reason, `${name}: KVM's run ended with ${JSON.stringify(k.exits.at(-1))}`).toMatch(/^(hlt|debug-exit|shutdown)$/);
  expect(firstEventMismatch(v.events, ke), `${name}: first differing exit event (vmscope's hypervisor vs KVM)`).toBeNull();
  expect({ status: v.result.status, exitCode: v.result.status === 'debug-exit' ? v.result.exitCode : 0 }, `${name}: how the run ended (${v.result.message ?? ''})`)
    .toEqual({ status: STATUS_OF_KVM_END[k.end.reason], exitCode: k.end.exitCode });
  expect(regDiffs(v, k), `${name}: final registers`).toEqual([]);
}

describe.skipIf(!canRunKvm)('KVM reference harness (kvm-run.c)', () => {
  it.skipIf(!hasNasm)('starts KVM in exactly the state vmscope starts in, for every start mode', () => {
    // One HLT at the entry: KVM reports the state back after executing nothing but it.
    for (const cpuMode of ['real', 'protected', 'paged32', 'long'] as const) {
      const hlt = new Uint8Array([0xf4]);
      const launch = { format: 'flat', cpuMode, loadAddress: cpuMode === 'real' ? 0x7c00 : 0x100000 } as const;
      const m = new Machine(hlt, parseLaunchConfig({ program: 'hlt', ...launch }), {}, BARE);
      const k = runKvmState(encodeState(m), `hlt-${cpuMode}`);
      if (BACKEND === 'pvm' && cpuMode === 'paged32') {
        expect(k.end.reason).toBe(KNOWN_BACKEND_LIMITS['hello-paged32'].end);
        continue;
      }
      expect(k.exits, cpuMode).toEqual([{ kind: 'hlt' }]);
      const c = m.cpu;
      const want: Record<string, KvmSegment> = {};
      const have: Record<string, KvmSegment> = {};
      SEG_NAMES.forEach((s, i) => {
        const [sel, base, limit, ar] = i < 6 ? [c.sel[i], c.segBase[i], c.segLimit[i], c.segAr[i]]
          : i === 6 ? [c.ldtrSel, c.ldtrBase, c.ldtrLimit, c.ldtrAr] : [c.trSel, c.trBase, c.trLimit, c.trAr];
        want[s] = { sel, base: '0x' + base.toString(16), limit, ar };
        have[s] = k.regs[s] as KvmSegment;
      });
      // An unusable LDTR has no meaningful attributes (SDM vol. 3C §24.4.1): compare only the unusable bit.
      if ((want.ldtr.ar & 0x10000) !== 0) {
        want.ldtr = { ...want.ldtr, ar: 0x10000 };
        have.ldtr = { ...have.ldtr, ar: have.ldtr.ar & 0x10000 };
      }
      expect(have, `${cpuMode}: segment registers`).toEqual(want);
      expect([k.regs.gdtr, k.regs.idtr], `${cpuMode}: GDTR, IDTR`).toEqual([
        { base: '0x' + c.gdtrBase.toString(16), limit: c.gdtrLimit }, { base: '0x' + c.idtrBase.toString(16), limit: c.idtrLimit }]);
      expect(BigInt(k.regs.rip as string), `${cpuMode}: RIP after the HLT`).toBe(BigInt(c.rip) + 1n);
      for (const [n, v] of [['cr0', c.cr0 >>> 0], ['cr3', c.cr3], ['cr4', c.cr4 >>> 0], ['efer', c.efer >>> 0], ['rsp', c.lo[4]], ['rdx', c.lo[2]], ['rflags', c.getFlags()]] as const) {
        expect(BigInt(k.regs[n] as string), `${cpuMode}: ${n}`).toBe(BigInt(v));
      }
    }
  });

  it('refuses malformed state files with a clear message, never running them', () => {
    const m = new Machine(new Uint8Array([0xf4]), parseLaunchConfig({ program: 'x', format: 'flat', cpuMode: 'real', memoryMiB: 1 }), {}, BARE);
    const good = encodeState(m);
    const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
    const cases: [string, Uint8Array, RegExp][] = [
      ['empty', new Uint8Array(0), /magic VMSKVM01 missing/],
      ['bad magic', Uint8Array.from(good, (b, i) => (i === 0 ? 0x58 : b)), /magic VMSKVM01 missing/],
      ['truncated', good.subarray(0, 200), /truncated/],
      ['trailing bytes', Uint8Array.from([...good, 1, 2, 3]), /trailing data/],
      ['odd memory size', (() => { const b = good.slice(); dv(b).setBigUint64(8, 4097n, true); return b; })(), /mem_size/],
      ['huge memory size', (() => { const b = good.slice(); dv(b).setBigUint64(8, 1n << 40n, true); return b; })(), /mem_size/],
      ['no exit limit', (() => { const b = good.slice(); dv(b).setBigUint64(16, 0n, true); return b; })(), /max_exits/],
      // First region's gpa: after magic, 3 options, 16 GPRs, RIP, RFLAGS, 8x4 segment words, 4 table words, 5 CRs, count.
      ['region beyond memory', (() => { const b = good.slice(); dv(b).setBigUint64(8 + 8 * (3 + 16 + 2 + 32 + 4 + 5 + 1), 0xfffff000n, true); return b; })(), /outside guest memory/],
      // CR0.PG without CR0.PE is an invalid state (SDM vol. 3A §2.5: #GP on MOV CR0): KVM_SET_SREGS refuses it.
      ['PG without PE', (() => { const b = good.slice(); dv(b).setBigUint64(8 + 8 * (3 + 16 + 2 + 32 + 4), 0x80000010n, true); return b; })(), /KVM_SET_SREGS/],
    ];
    for (const [what, bytes, msg] of cases) {
      let err: unknown;
      try { runKvmState(bytes, `bad-${what}`); } catch (e) { err = e; }
      expect(err, what).toBeInstanceOf(KvmHarnessError);
      expect((err as KvmHarnessError).message, what).toMatch(msg);
      expect((err as KvmHarnessError).status, what).toBe(2);
      rmSync((err as KvmHarnessError).stateFile!, { force: true });
    }
  });

  it.skipIf(!hasNasm)('stops a guest that never exits at the exit limit and the wall-clock limit', () => {
    const loop = new Uint8Array([0xe6, 0x80, 0xeb, 0xfc]); // out 0x80, al; jmp back
    const m = new Machine(loop, parseLaunchConfig({ program: 'x', format: 'flat', cpuMode: 'real', memoryMiB: 1 }), {}, BARE);
    const a = runKvmState(encodeState(m, { maxExits: 50 }), 'loop-exits');
    expect(a.end).toMatchObject({ reason: 'exit-limit', exits: 50 });
    expect(a.exits).toHaveLength(50);
    // Stopped right after an IN exit: the harness lets KVM complete the IN, so the registers are those after
    // it, as vmscope has them after one instruction.
    const inLoop = new Uint8Array([0xe4, 0x80, 0xeb, 0xfc]); // in al, 0x80; jmp back
    const mi = new Machine(inLoop, parseLaunchConfig({ program: 'x', format: 'flat', cpuMode: 'real', memoryMiB: 1 }), {}, BARE);
    const ki = runKvmState(encodeState(mi, { maxExits: 1 }), 'in-exits');
    expect(ki.end).toMatchObject({ reason: 'exit-limit', exits: 1 });
    mi.runSlice(1);
    expect([ki.regs.rax, ki.regs.rip]).toEqual([`0x${mi.cpu.lo[0].toString(16)}`, `0x${mi.cpu.rip.toString(16)}`]);
    expect(mi.cpu.lo[0] & 0xff).toBe(0xff);
    const spin = new Uint8Array([0xeb, 0xfe]); // jmp $: no exits at all
    const s = new Machine(spin, parseLaunchConfig({ program: 'x', format: 'flat', cpuMode: 'real', memoryMiB: 1 }), {}, BARE);
    const t0 = Date.now();
    const b = runKvmState(encodeState(s, { timeoutMs: 300 }), 'spin-timeout');
    expect(b.end.reason).toBe('timeout');
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});

describe('event normalisation', () => {
  it('expands grouped string I/O per element and splits 8-byte MMIO low dword first', () => {
    const exits: KvmExit[] = [
      { kind: 'io', dir: 'out', port: 0xe9, size: 2, count: 3, data: [1, 2, 3, 4, 5, 6] },
      { kind: 'mmio', addr: 0x5000000, size: 8, write: true, data: [1, 2, 3, 4, 5, 6, 7, 8] },
      { kind: 'hlt' },
    ];
    const want: DeviceEvent[] = [
      { kind: 'io', dir: 'out', port: 0xe9, size: 2, data: [1, 2] },
      { kind: 'io', dir: 'out', port: 0xe9, size: 2, data: [3, 4] },
      { kind: 'io', dir: 'out', port: 0xe9, size: 2, data: [5, 6] },
      { kind: 'mmio', write: true, addr: 0x5000000, size: 4, data: [1, 2, 3, 4] },
      { kind: 'mmio', write: true, addr: 0x5000004, size: 4, data: [5, 6, 7, 8] },
    ];
    expect(kvmDeviceEvents(exits)).toEqual(want);
    expect(firstEventMismatch(want, want)).toBeNull();
    expect(firstEventMismatch(want, want.slice(0, 4))).toEqual({ index: 4, vmscope: 'MMIO write 0x5000004 size 4 data [05 06 07 08]', kvm: '(none)' });
  });
});

describe.skipIf(!canRunKvm || !canBuildAsm)('test guests (test/guests/catalog.ts): vmscope = KVM', () => {
  for (const g of GUESTS) {
    it.skipIf(g.needsC === true && !canBuildC)(g.name, () => {
      const b = buildGuest(g.spec);
      compareOnBoth(g.name, b.bytes, { ...g.launch });
    });
  }
});

describe.skipIf(!canRunKvm || !canBuildAsm)('test guests under vmscope\'s hypervisor: its VM exits = KVM\'s exits', () => {
  for (const g of GUESTS) {
    it.skipIf(g.needsC === true && !canBuildC)(g.name, () => {
      const b = buildGuest(g.spec);
      compareVmxOnBoth(g.name, b.bytes, { ...g.launch });
    });
  }
});

const REAL = { format: 'flat', cpuMode: 'real', loadAddress: 0x7c00 };
const PROT = { format: 'flat', cpuMode: 'protected', loadAddress: 0x100000 };
const LONG = { format: 'flat', cpuMode: 'long', loadAddress: 0x100000 };
const OWN: [string, string, 16 | 32 | 64, Record<string, unknown>][] = [
  ['pio-real', 'pio.asm', 16, REAL],
  ['pio-protected', 'pio.asm', 32, PROT],
  ['pio-long', 'pio.asm', 64, LONG],
  ['mmio-real', 'mmio.asm', 16, { ...REAL, memoryMiB: 1 }],
  ['mmio-protected', 'mmio.asm', 32, PROT],
  ['mmio-long', 'mmio.asm', 64, LONG],
  ['mmio-edge', 'mmio-edge.asm', 32, PROT],
  ['mmio-mov-real', 'mmio-mov.asm', 16, { ...REAL, memoryMiB: 1 }],
  ['mmio-mov-protected', 'mmio-mov.asm', 32, PROT],
  ['mmio-mov-long', 'mmio-mov.asm', 64, LONG],
];

describe.skipIf(!canRunKvm || !hasNasm)('port-I/O and MMIO guests (test/kvm/guests): vmscope = KVM', () => {
  for (const [name, file, mode, launch] of OWN) {
    it(name, () => compareOnBoth(name, buildKvmGuest(file, mode), launch));
  }

  it('KVM groups REP INSB across pages and the per-element comparison still sees every byte', () => {
    const k = runOnKvm(buildKvmGuest('pio.asm', 32), PROT, { tag: 'pio-groups' });
    const grouped = k.exits.filter((e) => e.kind === 'io' && e.count > 1);
    expect(grouped.length).toBeGreaterThan(5);
    const ins = k.exits.filter((e): e is Extract<KvmExit, { kind: 'io' }> => e.kind === 'io' && e.dir === 'in' && e.port === 0x1234 && e.size === 1);
    expect(ins.reduce((n, e) => n + e.count, 0)).toBe(1 + 1 + 7 + 6000);
  });
});

describe.skipIf(!canRunKvm || !hasNasm)('port-I/O and MMIO guests under vmscope\'s hypervisor: its VM exits = KVM\'s exits', () => {
  for (const [name, file, mode, launch] of OWN) {
    it(name, () => compareVmxOnBoth(name, buildKvmGuest(file, mode), launch));
  }

  it('exits once per INS/OUTS (at most 4096 elements per exit) where KVM groups by page, and the elements agree', () => {
    const image = buildKvmGuest('pio.asm', 32);
    const v = runOnVmscopeVmx(image, PROT);
    // pio.asm reads port 0x1234 with byte INS three times: INSB, REP INSB of 7, REP INSB of 6000 (BIG).
    const insb = v.exits.filter((x) => x.entry.name === 'IO_INSTRUCTION' && (BigInt(x.entry.qualification) & 16n) !== 0n &&
      x.events.some((e) => e.kind === 'io' && e.dir === 'in' && e.port === 0x1234 && e.size === 1));
    expect(insb.map((x) => x.events.length)).toEqual([1, 7, 4096, 6000 - 4096]);
    // After 4096 elements the handler leaves RIP on the REP INSB: the guest re-executes it and exits again there.
    expect(insb[3].entry.rip).toBe(insb[2].entry.rip);
    const k = kvmRunOf('pio-protected', image, PROT);
    expect(firstEventMismatch(v.events, kvmExitEvents(k.exits))).toBeNull();
  });

  it('keeps exits past the exit log\'s initial 4096 slots (it grows) and still equals KVM', () => {
    // mov ecx, 5000; l: mov eax, ecx; out 0x80, al; loop l; cli; hlt  (long mode)
    const image = new Uint8Array([0xb9, 0x88, 0x13, 0x00, 0x00, 0x89, 0xc8, 0xe6, 0x80, 0xe2, 0xfa, 0xfa, 0xf4]);
    const v = runOnVmscopeVmx(image, LONG);
    expect(v.exits.length).toBe(5001);
    const kept = v.machine.hv!.log.recent();
    expect(kept.length).toBe(v.exits.length);
    expect(kept.map((e) => e.n)).toEqual(Array.from({ length: 5001 }, (_, i) => i + 1));
    const k = runOnKvm(image, LONG, { tag: 'out-5000' });
    const ke = kvmExitEvents(k.exits);
    expect(ke).toHaveLength(5001);
    expect(firstEventMismatch(v.events, ke)).toBeNull();
    expect(regDiffs(v, k)).toEqual([]);
  });
});

describe('KVM exit events', () => {
  it('keeps HLT and SHUTDOWN in place among the per-element device events', () => {
    const exits: KvmExit[] = [
      { kind: 'io', dir: 'in', port: 0x80, size: 1, count: 2, data: [0xff, 0xff] },
      { kind: 'hlt' },
      { kind: 'shutdown' },
    ];
    expect(kvmExitEvents(exits)).toEqual([
      { kind: 'io', dir: 'in', port: 0x80, size: 1, data: [0xff] }, { kind: 'io', dir: 'in', port: 0x80, size: 1, data: [0xff] },
      { kind: 'hlt' }, { kind: 'shutdown' },
    ]);
  });
});
