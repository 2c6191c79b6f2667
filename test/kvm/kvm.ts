// KVM reference driver: serialises a vmscope Machine's start state for kvm-run.c, runs it under /dev/kvm, records the same events on vmscope (at the bus in bare mode, from the VM exits under its hypervisor), and compares.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Machine, parseLaunchConfig, type RunResult } from '../../emulator/index.js';
import type { ExitHandler, VcpuApi } from '../../emulator/vmm/api.js';
import type { ExitEntry } from '../../emulator/vmm/exit-log.js';
import { EXIT_REASON } from '../../emulator/vmx/exit-reasons.js';

/** KVM is compared with the processor itself: bare-metal machines (no hypervisor in between). */
const BARE = { mode: 'bare' as const };


const HERE = dirname(fileURLToPath(import.meta.url));
export const KVM_OUT = resolve(HERE, '..', '.tmp', 'kvm');
export const HARNESS_SRC = join(HERE, 'kvm-run.c');

/** The state file's magic (kvm-run.c documents the layout). */
const MAGIC = 'VMSKVM01';
/** The harness maps at most this much RAM (kvm-run.c MEM_MAX; the rest of 4 GiB is MMIO). */
export const KVM_MEM_MAX = 3 * 2 ** 30;
const PAGE = 4096;

function hasGcc(): boolean {
  try {
    return spawnSync('gcc', ['--version'], { stdio: 'ignore' }).status === 0;
  } catch {
    return false;
  }
}

function kvmUsable(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** /dev/kvm is there and ours to open, and gcc can build the harness. */
export const canRunKvm = existsSync('/dev/kvm') && kvmUsable() && hasGcc();

/** The harness could not run the state (malformed state, a KVM call failed): its message. */
export class KvmHarnessError extends Error {
  constructor(message: string, readonly status: number | null, readonly stateFile?: string) {
    super(message);
    this.name = 'KvmHarnessError';
  }
}

/** gcc -O2 the harness into test/.tmp/kvm/, cached by the source's hash. */
export function buildHarness(): string {
  const src = readFileSync(HARNESS_SRC);
  const key = createHash('sha256').update(src).digest('hex').slice(0, 16);
  const exe = join(KVM_OUT, `kvm-run-${key}`);
  if (!existsSync(exe)) {
    mkdirSync(KVM_OUT, { recursive: true });
    const tmp = `${exe}.tmp${process.pid}`;
    const r = spawnSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', tmp, HARNESS_SRC], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`building kvm-run.c failed:\n${r.stdout}${r.stderr}`);
    renameSync(tmp, exe); // atomic: parallel workers never run a half-written binary
  }
  return exe;
}

// ---------------------------------------------------------------- the start state

/** Segment order of the state file and of vmscope's Cpu (insn.ts: ES=0, CS=1, SS=2, DS=3, FS=4, GS=5), then LDTR, TR. */
export const SEG_NAMES = ['es', 'cs', 'ss', 'ds', 'fs', 'gs', 'ldtr', 'tr'] as const;
export const GPR_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;

export interface StateOptions {
  maxExits?: number;
  timeoutMs?: number;
}

/** A 64-bit value held as a JS number (addresses, bases) → bigint, keeping the two's complement of negatives. */
function u64(v: number): bigint {
  return BigInt.asUintN(64, BigInt(Math.trunc(v)));
}

/**
 * The machine's complete start state in kvm-run.c's format: RAM size, every GPR, RIP, RFLAGS, the six segment
 * caches plus LDTR/TR (VMCS access-rights layout), GDTR/IDTR, CR0/2/3/4, EFER, and every allocated RAM page
 * (consecutive pages merged into one region). Read straight from machine.cpu and machine.mem, so KVM starts
 * where vmscope starts.
 */
export function encodeState(m: Machine, opts: StateOptions = {}): Uint8Array {
  const c = m.cpu;
  if (m.mem.size > KVM_MEM_MAX) throw new RangeError(`guest RAM of ${m.mem.size} bytes is more than the harness maps (${KVM_MEM_MAX})`);
  const words: bigint[] = [];
  words.push(BigInt(m.mem.size), BigInt(opts.maxExits ?? 1_000_000), BigInt(opts.timeoutMs ?? 20_000));
  for (let r = 0; r < 16; r++) words.push((BigInt(c.hi[r]) << 32n) | BigInt(c.lo[r]));
  words.push(u64(c.rip), BigInt(c.getFlags() >>> 0));
  for (let s = 0; s < 6; s++) words.push(BigInt(c.sel[s]), u64(c.segBase[s]), u64(c.segLimit[s]), BigInt(c.segAr[s]));
  words.push(BigInt(c.ldtrSel), u64(c.ldtrBase), u64(c.ldtrLimit), BigInt(c.ldtrAr));
  words.push(BigInt(c.trSel), u64(c.trBase), u64(c.trLimit), BigInt(c.trAr));
  words.push(u64(c.gdtrBase), BigInt(c.gdtrLimit), u64(c.idtrBase), BigInt(c.idtrLimit));
  words.push(BigInt(c.cr0 >>> 0), u64(c.cr2), u64(c.cr3), BigInt(c.cr4 >>> 0), BigInt(c.efer >>> 0));

  // RAM: runs of allocated pages.
  const regions: { gpa: number; bytes: Uint8Array }[] = [];
  let start = -1;
  const flush = (end: number) => {
    if (start >= 0) regions.push({ gpa: start * PAGE, bytes: m.mem.peek(start * PAGE, (end - start) * PAGE) });
    start = -1;
  };
  for (let pn = 0; pn < m.mem.pageCount; pn++) {
    if (m.mem.pageOrNull(pn) !== undefined) {
      if (start < 0) start = pn;
    } else flush(pn);
  }
  flush(m.mem.pageCount);
  words.push(BigInt(regions.length));

  const size = 8 + words.length * 8 + regions.reduce((n, r) => n + 16 + ((r.bytes.length + 7) & ~7), 0);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out.set(new TextEncoder().encode(MAGIC), 0);
  let o = 8;
  for (const w of words) { dv.setBigUint64(o, w, true); o += 8; }
  for (const r of regions) {
    dv.setBigUint64(o, BigInt(r.gpa), true);
    dv.setBigUint64(o + 8, BigInt(r.bytes.length), true);
    out.set(r.bytes, o + 16);
    o += 16 + ((r.bytes.length + 7) & ~7);
  }
  return out;
}

// ---------------------------------------------------------------- running under KVM

export type KvmExit =
  | { kind: 'io'; dir: 'in' | 'out'; port: number; size: 1 | 2 | 4; count: number; data: number[] }
  | { kind: 'mmio'; addr: number; size: number; write: boolean; data: number[] }
  | { kind: 'hlt' }
  | { kind: 'shutdown' }
  | { kind: 'fail_entry'; reason: number; cpu: number }
  | { kind: 'internal_error'; suberror: number }
  | { kind: 'other'; exit_reason: number };

export type KvmEndReason = 'hlt' | 'debug-exit' | 'shutdown' | 'fail_entry' | 'internal_error' | 'other' | 'exit-limit' | 'timeout';

export interface KvmSegment { sel: number; base: string; limit: number; ar: number }

export interface KvmRegs {
  [name: string]: string | KvmSegment | { base: string; limit: number };
}

export interface KvmRun {
  exits: KvmExit[];
  end: { reason: KvmEndReason; exitCode: number; exits: number };
  regs: KvmRegs;
}

/** Run a state file's bytes under KVM. Throws KvmHarnessError when the harness refuses the state or a KVM call fails. */
export function runKvmState(state: Uint8Array, tag = 'state'): KvmRun {
  const exe = buildHarness();
  mkdirSync(KVM_OUT, { recursive: true });
  const file = join(KVM_OUT, `${tag.replace(/[^A-Za-z0-9_.-]/g, '_')}-${process.pid}.state`);
  writeFileSync(file, state);
  const r = spawnSync(exe, [file], { encoding: 'utf8', timeout: 120_000, maxBuffer: 256 * 1024 * 1024 });
  // The state file stays for a run that failed (rerun it by hand: test/.tmp/kvm/kvm-run-* FILE).
  if (r.error !== undefined) throw new KvmHarnessError(`kvm-run ${file}: ${r.error.message}`, null, file);
  if (r.status !== 0) throw new KvmHarnessError((r.stderr || `kvm-run ${file} exited with status ${r.status} (signal ${r.signal})`).trim(), r.status, file);
  const run = parseKvmOutput(r.stdout);
  rmSync(file, { force: true });
  return run;
}

export function parseKvmOutput(text: string): KvmRun {
  const exits: KvmExit[] = [];
  let end: KvmRun['end'] | undefined;
  let regs: KvmRegs | undefined;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const o = JSON.parse(line) as { kind: string };
    if (o.kind === 'end') end = o as unknown as KvmRun['end'];
    else if (o.kind === 'regs') regs = o as unknown as KvmRegs;
    else exits.push(o as KvmExit);
  }
  if (end === undefined || regs === undefined) throw new KvmHarnessError(`kvm-run output lacks its end/regs lines:\n${text.slice(-2000)}`, 0);
  return { exits, end, regs };
}

/** Build the machine (vmscope's own start-state code) and run its start state under KVM. */
export function runOnKvm(image: Uint8Array, launch: Record<string, unknown>, opts: StateOptions & { tag?: string } = {}): KvmRun {
  const m = new Machine(image, parseLaunchConfig({ program: 'guest', ...launch }), {}, BARE);
  return runKvmState(encodeState(m, opts), opts.tag);
}

// ---------------------------------------------------------------- the comparable event stream

/**
 * One device access as both sides see it. Port I/O is compared per element: KVM reports a string
 * instruction (INS/OUTS, with or without REP) as one exit with `count` elements, grouped as its
 * emulator chooses (at most a page's worth, split at page boundaries), while vmscope's bus sees one
 * access per element; grouping is a KVM implementation detail, the element sequence is the architecture
 * (SDM vol. 2B, INS/OUTS: one port access per iteration). MMIO is compared per access of at most 4
 * bytes: KVM reports an 8-byte access as one exit, vmscope's bus splits it into two 4-byte accesses,
 * low dword first (emulator/devices/bus.ts); the KVM side is split the same way.
 */
export type DeviceEvent =
  | { kind: 'io'; dir: 'in' | 'out'; port: number; size: number; data: number[] }
  | { kind: 'mmio'; write: boolean; addr: number; size: number; data: number[] };

export function kvmDeviceEvents(exits: KvmExit[]): DeviceEvent[] {
  const out: DeviceEvent[] = [];
  for (const e of exits) {
    if (e.kind === 'io') {
      for (let k = 0; k < e.count; k++) out.push({ kind: 'io', dir: e.dir, port: e.port, size: e.size, data: e.data.slice(k * e.size, (k + 1) * e.size) });
    } else if (e.kind === 'mmio') {
      if (e.size === 8) {
        out.push({ kind: 'mmio', write: e.write, addr: e.addr, size: 4, data: e.data.slice(0, 4) });
        out.push({ kind: 'mmio', write: e.write, addr: e.addr + 4, size: 4, data: e.data.slice(4, 8) });
      } else out.push({ kind: 'mmio', write: e.write, addr: e.addr, size: e.size, data: e.data.slice(0, e.size) });
    }
  }
  return out;
}

function bytesLE(v: number, n: number): number[] {
  const b: number[] = [];
  for (let i = 0; i < n; i++) b.push((v >>> (8 * i)) & 0xff);
  return b;
}

export interface VmscopeRun {
  events: DeviceEvent[];
  result: RunResult;
  /** Registers in the harness's naming and format ("0x..." lowercase, no leading zeros). */
  regs: Record<string, string>;
  machine: Machine;
}

/**
 * Run the image on vmscope, recording every port access at the bus and every MMIO access that reaches
 * no device (the unassigned path: the CPU asks the bus for a device and reads all ones when there is none;
 * the recorder stands in for "none" above RAM and answers all ones too, so behaviour is unchanged).
 */
export function runOnVmscope(image: Uint8Array, launch: Record<string, unknown>, maxInstructions = 20_000_000): VmscopeRun {
  const m = new Machine(image, parseLaunchConfig({ program: 'guest', maxInstructions, ...launch }), {}, BARE);
  const events: DeviceEvent[] = [];
  const bus = m.bus;
  const ioRead = bus.ioRead.bind(bus), ioWrite = bus.ioWrite.bind(bus), findMmio = bus.findMmio.bind(bus);
  bus.ioRead = (port, size) => {
    const v = ioRead(port, size);
    events.push({ kind: 'io', dir: 'in', port: port & 0xffff, size, data: bytesLE(v, size) });
    return v;
  };
  bus.ioWrite = (port, size, value) => {
    events.push({ kind: 'io', dir: 'out', port: port & 0xffff, size, data: bytesLE(value, size) });
    ioWrite(port, size, value);
  };
  const ones = [0, 0xff, 0xffff, 0, 0xffffffff];
  let addr = 0;
  const recorder = {
    name: 'kvm-test-unassigned-mmio',
    mmioRead: (_off: number, size: number): number => {
      const v = ones[size] ?? 0xffffffff;
      events.push({ kind: 'mmio', write: false, addr, size, data: bytesLE(v, size) });
      return v;
    },
    mmioWrite: (_off: number, size: number, value: number): void => {
      events.push({ kind: 'mmio', write: true, addr, size, data: bytesLE(value, size) });
    },
  };
  const hit = { dev: recorder, base: 0 };
  const memSize = m.mem.size;
  bus.findMmio = ((a: number) => {
    const f = findMmio(a);
    if (f !== null || a < memSize) return f;
    addr = a;
    hit.base = a;
    return hit;
  }) as typeof bus.findMmio;
  const result = m.runToEnd();
  return { events, result, regs: vmscopeRegs(m), machine: m };
}

// ---------------------------------------------------------------- vmscope's hypervisor: events from its VM exits

/**
 * What the guest did that a hypervisor sees, in KVM's user-space vocabulary: the device events above plus
 * the HLT and the shutdown (a triple fault) that end a run. Both sides are compared as lists of these.
 */
export type ExitEvent = DeviceEvent | { kind: 'hlt' } | { kind: 'shutdown' };

/** KVM's exits as ExitEvents: device events per element (kvmDeviceEvents), HLT and SHUTDOWN kept in place. */
export function kvmExitEvents(exits: KvmExit[]): ExitEvent[] {
  const out: ExitEvent[] = [];
  for (const e of exits) {
    if (e.kind === 'hlt' || e.kind === 'shutdown') out.push({ kind: e.kind });
    else out.push(...kvmDeviceEvents([e]));
  }
  return out;
}

/** One VM exit of vmscope's hypervisor (its exit-log entry) and the events it stands for. */
export interface VmxExitRecord {
  entry: ExitEntry;
  /** For IO_INSTRUCTION: one event per element; EPT_VIOLATION: the MMIO accesses; HLT/TRIPLE_FAULT: hlt/shutdown. */
  events: ExitEvent[];
}

export interface VmscopeVmxRun {
  /** Every exit, in order (collected through ExitLog.onExit, so none is lost to the log's ring capacity). */
  exits: VmxExitRecord[];
  /** The events of all exits, flattened: what is compared with kvmExitEvents. */
  events: ExitEvent[];
  /** Where an exit's own record (qualification, guest-physical address, RAX) and what its handler did disagree. */
  problems: string[];
  result: RunResult;
  regs: Record<string, string>;
  machine: Machine;
}

/** I/O instruction qualification (SDM vol. 3C §28.2.1, table 28-5). */
function ioQualification(q: bigint): { size: 1 | 2 | 4; input: boolean; string: boolean; rep: boolean; port: number } {
  const v = Number(q & 0xffffffffn);
  return { size: ((v & 7) + 1) as 1 | 2 | 4, input: (v & 8) !== 0, string: (v & 16) !== 0, rep: (v & 32) !== 0, port: v >>> 16 };
}

/**
 * Run the image under vmscope's hypervisor (the default 'vmx' Machine mode) and record its VM exits.
 * The events come from the exits: an IO_INSTRUCTION exit gives port, size and direction from its
 * qualification; the data of a single OUT is the guest's RAX at the exit, of a single IN the guest's RAX
 * after the handler completed it; string I/O (one exit per INS/OUTS, at most 4096 elements) gives one
 * event per element the handler moved. An EPT_VIOLATION exit gives the MMIO accesses its handler made
 * (recorded at the device lookup while that handler runs; addresses with no device answer all ones, as
 * the hypervisor's unassigned path does). HLT gives hlt, TRIPLE_FAULT shutdown; other exits (CPUID, MSR,
 * CR access, interrupts) have no counterpart among KVM's user-space exits and give no event. Handlers are
 * wrapped, not replaced, so the run is the hypervisor's own; the wrappers also check that what each
 * handler did agrees with its exit's qualification (`problems`).
 */
export function runOnVmscopeVmx(image: Uint8Array, launch: Record<string, unknown>, maxInstructions = 20_000_000): VmscopeVmxRun {
  const m = new Machine(image, parseLaunchConfig({ program: 'guest', maxInstructions, ...launch }));
  const hv = m.hv;
  if (hv === null) throw new Error('runOnVmscopeVmx: the machine has no hypervisor');
  const R = EXIT_REASON;
  const exits: VmxExitRecord[] = [];
  const problems: string[] = [];
  /** Events of the exit being handled; attached to its log entry when the hypervisor logs it. */
  let current: ExitEvent[] = [];
  /** Device accesses the current exit's handler made through the handler API. */
  let accesses: DeviceEvent[] = [];
  hv.log.onExit = (entry) => {
    exits.push({ entry, events: current });
    current = [];
    accesses = [];
  };
  const wrap = (reason: number, f: (orig: ExitHandler, vcpu: VcpuApi) => ReturnType<ExitHandler>) => {
    const orig = hv.handlers.get(reason);
    if (orig === undefined) throw new Error(`the hypervisor has no handler for exit ${reason}`);
    hv.handlers.set(reason, (vcpu) => f(orig, vcpu));
  };

  wrap(R.IO_INSTRUCTION, (orig, vcpu) => {
    const q = ioQualification(vcpu.exit.qualification);
    const mask = (1n << BigInt(8 * q.size)) - 1n;
    // The handler's port accesses, seen at the handler API (a view of the API object with ioRead/ioWrite wrapped).
    const api = Object.create(vcpu) as VcpuApi;
    api.ioRead = (port, size) => {
      const v = vcpu.ioRead(port, size);
      accesses.push({ kind: 'io', dir: 'in', port, size, data: bytesLE(v, size) });
      return v;
    };
    api.ioWrite = (port, size, value) => {
      accesses.push({ kind: 'io', dir: 'out', port, size, data: bytesLE(value, size) });
      vcpu.ioWrite(port, size, value);
    };
    const at = `IO exit at rip 0x${vcpu.reg('rip').toString(16)}`;
    const raxAtExit = vcpu.reg('rax');
    const outcome = orig(api);
    for (const a of accesses) {
      if (a.kind !== 'io' || a.port !== q.port || a.size !== q.size || (a.dir === 'in') !== q.input) {
        problems.push(`${at}: qualification says ${q.input ? 'in' : 'out'} port 0x${q.port.toString(16)} size ${q.size}, handler did ${showEvent(a)}`);
      }
    }
    if (!q.string) {
      const dir = q.input ? 'in' : 'out';
      const value = q.input ? vcpu.reg('rax') & mask : raxAtExit & mask;
      const e: DeviceEvent = { kind: 'io', dir, port: q.port, size: q.size, data: bytesLE(Number(value), q.size) };
      if (accesses.length !== 1 || JSON.stringify(accesses[0]) !== JSON.stringify(e)) {
        problems.push(`${at}: exit says ${showEvent(e)}, handler did [${accesses.map(showEvent).join('; ')}]`);
      }
      current.push(e);
    } else {
      if (accesses.length > 4096) problems.push(`${at}: ${accesses.length} string elements in one exit (at most 4096)`);
      current.push(...accesses);
    }
    return outcome;
  });

  const bus = m.bus;
  wrap(R.EPT_VIOLATION, (orig, vcpu) => {
    const gpa = Number(vcpu.exit.guestPhysical);
    const write = (vcpu.exit.qualification & 2n) !== 0n; // bit 1: data write (SDM vol. 3C §28.2.1, table 28-7)
    const findMmio = bus.findMmio;
    const ones = [0, 0xff, 0xffff, 0, 0xffffffff];
    bus.findMmio = ((a: number) => {
      const f = findMmio.call(bus, a);
      const dev = f?.dev;
      const base = f?.base ?? a;
      return {
        base,
        dev: {
          mmioRead: (off: number, size: 1 | 2 | 4): number => {
            const v = dev !== undefined ? dev.mmioRead(off, size) : (ones[size] ?? 0xffffffff);
            current.push({ kind: 'mmio', write: false, addr: base + off, size, data: bytesLE(v, size) });
            return v;
          },
          mmioWrite: (off: number, size: 1 | 2 | 4, value: number): void => {
            current.push({ kind: 'mmio', write: true, addr: base + off, size, data: bytesLE(value, size) });
            dev?.mmioWrite(off, size, value);
          },
        },
      };
    }) as typeof bus.findMmio;
    const before = current.length;
    try {
      return orig(vcpu);
    } finally {
      bus.findMmio = findMmio;
      const first = current[before];
      const at = `EPT violation at gpa 0x${gpa.toString(16)} (rip 0x${vcpu.reg('rip').toString(16)})`;
      if (hv.guest.isRam(gpa)) problems.push(`${at}: a guest RAM address, which EPT maps`);
      // A read-modify-write (ADD/OR/INC ... on MMIO) exits as a write and first reads the same address, as KVM does.
      const second = current[before + 1];
      const rmw = write && first?.kind === 'mmio' && !first.write && second?.kind === 'mmio' && second.write && second.addr === gpa;
      if (first !== undefined && !rmw && (first.kind !== 'mmio' || first.addr !== gpa || first.write !== write)) {
        problems.push(`${at}, ${write ? 'write' : 'read'}: the handler's first access was ${showEvent(first as DeviceEvent)}`);
      }
    }
  });
  wrap(R.HLT, (orig, vcpu) => { current.push({ kind: 'hlt' }); return orig(vcpu); });
  wrap(R.TRIPLE_FAULT, (orig, vcpu) => { current.push({ kind: 'shutdown' }); return orig(vcpu); });

  const result = m.runToEnd();
  const regs: Record<string, string> = {};
  for (const [k, v] of Object.entries(result.registers)) regs[k] = '0x' + BigInt(v).toString(16);
  return { exits, events: exits.flatMap((x) => x.events), problems, result, regs, machine: m };
}

/** vmscope's final registers in the harness's format. */
export function vmscopeRegs(m: Machine): Record<string, string> {
  const c = m.cpu;
  const h = (v: bigint) => '0x' + v.toString(16);
  const out: Record<string, string> = {};
  GPR_NAMES.forEach((n, r) => { out[n] = h((BigInt(c.hi[r]) << 32n) | BigInt(c.lo[r])); });
  out.rip = h(u64(c.rip));
  out.rflags = h(BigInt(c.getFlags() >>> 0));
  out.cr0 = h(BigInt(c.cr0 >>> 0));
  out.cr2 = h(u64(c.cr2));
  out.cr3 = h(u64(c.cr3));
  out.cr4 = h(BigInt(c.cr4 >>> 0));
  out.efer = h(BigInt(c.efer >>> 0));
  return out;
}

/** The console text a list of port events carries (debugcon byte writes and COM1 THR writes with DLAB clear). */
export function consoleText(events: DeviceEvent[]): string {
  const bytes: number[] = [];
  let lcr = 0;
  for (const e of events) {
    if (e.kind !== 'io' || e.dir !== 'out') continue;
    if (e.port === 0xe9 && e.size === 1) bytes.push(e.data[0]);
    if (e.port === 0x3fb && e.size === 1) lcr = e.data[0];
    if (e.port === 0x3f8 && e.size === 1 && (lcr & 0x80) === 0) bytes.push(e.data[0]);
  }
  return Buffer.from(bytes).toString('latin1');
}

/** A readable one-line rendering of an event for mismatch reports. */
export function showEvent(e: ExitEvent | undefined): string {
  if (e === undefined) return '(none)';
  if (e.kind === 'hlt') return 'HLT';
  if (e.kind === 'shutdown') return 'SHUTDOWN';
  const d = e.data.map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return e.kind === 'io'
    ? `${e.dir.toUpperCase()} port 0x${e.port.toString(16)} size ${e.size} data [${d}]`
    : `MMIO ${e.write ? 'write' : 'read'} 0x${e.addr.toString(16)} size ${e.size} data [${d}]`;
}

/** The first index where two event lists differ, with both events rendered; null when equal. */
export function firstEventMismatch(a: ExitEvent[], b: ExitEvent[]): { index: number; vmscope: string; kvm: string } | null {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i], y = b[i];
    if (x === undefined || y === undefined || JSON.stringify(x) !== JSON.stringify(y)) return { index: i, vmscope: showEvent(x), kvm: showEvent(y) };
  }
  return null;
}

// ---------------------------------------------------------------- this folder's guests

export const KVM_GUEST_SRC = join(HERE, 'guests');

/** nasm -f bin one of test/kvm/guests/*.asm with MODE defined, into test/.tmp/kvm/guests/ (cached by content). */
export function buildKvmGuest(file: string, mode: 16 | 32 | 64): Uint8Array {
  const src = join(KVM_GUEST_SRC, file);
  const key = createHash('sha256').update(readFileSync(src)).update(String(mode)).digest('hex').slice(0, 16);
  const dir = join(KVM_OUT, 'guests');
  const out = join(dir, `${file.replace(/\.asm$/, '')}-${mode}-${key}.bin`);
  if (!existsSync(out)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${out}.tmp${process.pid}`;
    const r = spawnSync('nasm', ['-f', 'bin', `-DMODE=${mode}`, '-o', tmp, src], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`nasm ${file} (MODE=${mode}) failed:\n${r.stdout}${r.stderr}`);
    renameSync(tmp, out);
  }
  return new Uint8Array(readFileSync(out));
}

/**
 * Which KVM implementation serves /dev/kvm. 'pvm' is the PVM backend (kvm_pvm: a software hypervisor
 * using shadow page tables and KVM's instruction emulator, found on nested cloud hosts): it cannot run
 * some guest states hardware KVM runs (see KNOWN_BACKEND_LIMITS in kvm.test.ts).
 */
export function kvmBackend(): 'pvm' | 'amd' | 'intel' | 'unknown' {
  if (existsSync('/sys/module/kvm_pvm')) return 'pvm';
  if (existsSync('/sys/module/kvm_amd')) return 'amd';
  if (existsSync('/sys/module/kvm_intel')) return 'intel';
  return 'unknown';
}
