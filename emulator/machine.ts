// The machine: guest memory, processor, platform bus and devices built from a launch configuration; runs and reports.
import './cpu/index.js';
import { Cpu, exceptionName, type CpuStop, type UnimplementedReport } from './cpu/cpu.js';
import { setupMultiboot, setupStartMode, type StartMode } from './cpu/setup.js';
import { restoreCpu, snapshotCpu, type CpuSnapshot } from './cpu/state.js';
import { EXC_UD } from './cpu/regs.js';
import { PhysicalMemory } from './mem/physmem.js';
import { IoBus } from './devices/bus.js';
import { createPlatformDevices, type PlatformDevices } from './devices/platform.js';
import { parseLaunchConfig, type LaunchConfig } from './config.js';
import { loadImage, placeImage, writeMultibootInfo, LoadError, type LoadedImage } from './loader/image.js';

export type RunStatus = 'halted' | 'debug-exit' | 'triple-fault' | 'budget' | 'error';

/** Exit codes of a run that did not end through the debug-exit device (which gives odd codes). */
export const EXIT_CODES = { halted: 0, error: 2, 'triple-fault': 4, budget: 6 } as const;

export interface RunResult {
  status: RunStatus;
  exitCode: number;
  instructions: number;
  /** All guest console text (debugcon and UART), decoded as UTF-8. */
  output: string;
  /** One line saying why the run ended when that is not a plain halt or debug exit. */
  message?: string;
  registers: Record<string, string>;
  vmExits: { total: number; byReason: Record<string, number> };
  /** Instructions the model does not implement that the guest executed (each raised #UD). */
  unimplemented: UnimplementedReport[];
}

/** Where the Multiboot information structure is written (below the kernel, above the IVT/BDA). */
export const MULTIBOOT_INFO_ADDRESS = 0x9000;

/** Physical RAM in the machine; output is kept up to this many bytes (the rest is counted, not kept). */
const OUTPUT_LIMIT = 16 * 1024 * 1024;

export interface MachineHost {
  /** Called with each console byte as the guest writes it (the CLI streams these to stdout). */
  onConsole?: (byte: number, source: string) => void;
}

export class Machine {
  readonly config: LaunchConfig;
  readonly mem: PhysicalMemory;
  readonly bus: IoBus;
  readonly cpu: Cpu;
  readonly devices: PlatformDevices;
  readonly image: LoadedImage;
  readonly startMode: StartMode | 'multiboot';
  private outBytes = new Uint8Array(4096);
  private outLen = 0;
  private outDropped = 0;
  private exitCode: number | null = null;
  private ended: RunResult | null = null;

  constructor(imageBytes: Uint8Array, config: LaunchConfig, host: MachineHost = {}) {
    this.config = config;
    this.mem = new PhysicalMemory(config.memoryMiB * 1024 * 1024);
    this.bus = new IoBus();
    this.cpu = new Cpu(this.mem, this.bus);
    const onConsole = host.onConsole;
    this.devices = createPlatformDevices(this.bus, config.devices, {
      console: (byte, source) => { this.appendOutput(byte); if (onConsole) onConsole(byte, source); },
      control: { requestExit: (code) => { this.exitCode = code; this.cpu.requestStop(); } },
      clock: () => this.cpu.icount,
    });
    const img = loadImage(imageBytes, { format: config.format, loadAddress: config.loadAddress ?? this.defaultLoadAddress(imageBytes), entry: config.entry });
    this.image = img;
    placeImage(img, this.mem);
    if (img.format === 'multiboot' && config.cpuMode === undefined) {
      const end = Math.max(...img.segments.map((s) => s.paddr + s.memSize));
      const info = writeMultibootInfo(this.mem, MULTIBOOT_INFO_ADDRESS, { memorySize: this.mem.size, cmdline: config.args, modulesEnd: end });
      setupMultiboot(this.cpu, img.entry, info);
      this.startMode = 'multiboot';
    } else {
      const mode: StartMode = config.cpuMode ?? (img.format === 'flat' ? 'real' : img.bits === 64 ? 'long' : 'protected');
      if (mode !== 'real' && this.mem.size < 0x10000) throw new LoadError(`cpuMode ${mode} needs at least 64 KiB of memory for its tables`);
      setupStartMode(this.cpu, mode, img.entry);
      this.startMode = mode;
    }
  }

  private defaultLoadAddress(bytes: Uint8Array): number | undefined {
    if (this.config.format !== 'flat' && !(this.config.format === 'auto' && isFlat(bytes))) return undefined;
    return (this.config.cpuMode ?? 'real') === 'real' ? 0x7c00 : 0x100000;
  }

  private appendOutput(byte: number): void {
    if (this.outLen >= OUTPUT_LIMIT) { this.outDropped++; return; }
    if (this.outLen === this.outBytes.length) {
      const n = new Uint8Array(this.outBytes.length * 2);
      n.set(this.outBytes);
      this.outBytes = n;
    }
    this.outBytes[this.outLen++] = byte;
  }

  /** Console text so far. */
  output(): string {
    const text = new TextDecoder('utf-8').decode(this.outBytes.subarray(0, this.outLen));
    return this.outDropped > 0 ? `${text}\n[vmscope: ${this.outDropped} more bytes of output not kept]` : text;
  }

  /** The run's end, once it has ended. */
  get result(): RunResult | null {
    return this.ended;
  }

  /**
   * Run at most `slice` instructions (bounded by the configured budget). Returns the run's
   * result when it ended, or the CPU's stop reason ('budget' for a finished slice, 'breakpoint', 'stop').
   */
  runSlice(slice: number): RunResult | CpuStop {
    if (this.ended) return this.ended;
    const left = this.config.maxInstructions - this.cpu.icount;
    if (left <= 0) return this.finish('budget', `instruction budget of ${this.config.maxInstructions} exhausted at rip=${hex(this.cpu.rip)}`);
    const stop = this.cpu.run(Math.min(slice, left));
    if (this.exitCode !== null) return this.finish('debug-exit');
    if (stop === 'shutdown') return this.finish('triple-fault', `${this.cpu.shutdownReason} (rip=${hex(this.cpu.rip)})`);
    if (stop === 'halted') {
      const ifSet = (this.cpu.getFlags() & 0x200) !== 0;
      return this.finish('halted', ifSet ? 'HLT with interrupts enabled but no interrupt source on this platform: the run ends' : undefined);
    }
    if (stop === 'budget' && this.cpu.icount >= this.config.maxInstructions) {
      return this.finish('budget', `instruction budget of ${this.config.maxInstructions} exhausted at rip=${hex(this.cpu.rip)}`);
    }
    return stop;
  }

  /** Run until the guest halts, exits, triple-faults or the budget is spent. */
  runToEnd(slice = 1_000_000): RunResult {
    for (;;) {
      const r = this.runSlice(slice);
      if (typeof r === 'object') return r;
      if (r === 'breakpoint') this.cpu.resumeFromBreakpoint();
    }
  }

  private finish(status: RunStatus, message?: string): RunResult {
    const exitCode = status === 'debug-exit' ? this.exitCode! : EXIT_CODES[status];
    this.ended = {
      status,
      exitCode,
      instructions: this.cpu.icount,
      output: this.output(),
      message,
      registers: registerDump(this.cpu),
      vmExits: { total: 0, byReason: {} },
      unimplemented: this.cpu.unimplemented.slice(),
    };
    return this.ended;
  }

  /** The complete machine state (memory, processor, devices) for restore(). */
  snapshot(): MachineSnapshot {
    const devices: Record<string, unknown> = {};
    for (const [name, dev] of this.devices.all) devices[name] = dev.saveState();
    return { memory: this.mem.snapshot(), cpu: snapshotCpu(this.cpu), devices, outLen: this.outLen, exitCode: this.exitCode };
  }

  restore(s: MachineSnapshot): void {
    this.mem.restore(s.memory);
    restoreCpu(this.cpu, s.cpu);
    for (const [name, dev] of this.devices.all) if (name in s.devices) dev.loadState(s.devices[name]);
    this.outLen = Math.min(this.outLen, s.outLen);
    this.exitCode = s.exitCode;
    this.ended = null;
  }
}

export interface MachineSnapshot {
  memory: Map<number, Uint8Array>;
  cpu: CpuSnapshot;
  devices: Record<string, unknown>;
  outLen: number;
  exitCode: number | null;
}

function isFlat(bytes: Uint8Array): boolean {
  try {
    return loadImage(bytes, { format: 'auto' }).format === 'flat';
  } catch {
    return false;
  }
}

export function hex(v: number): string {
  return v < 0 ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
}

function hex64(lo: number, hi: number): string {
  return hi === 0 ? `0x${lo.toString(16)}` : `0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')}`;
}

/** Register values as hex strings (RIP and addresses as the unsigned 64-bit value). */
export function registerDump(c: Cpu): Record<string, string> {
  const names = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
  const out: Record<string, string> = {};
  const order = [0, 3, 1, 2, 6, 7, 5, 4, 8, 9, 10, 11, 12, 13, 14, 15];
  for (const r of order) out[names[r]] = hex64(c.lo[r], c.hi[r]);
  const num = (v: number) => hex64(v >>> 0, Math.floor(v / 4294967296) >>> 0);
  out.rip = num(c.rip);
  out.rflags = hex64(c.getFlags(), 0);
  out.cr0 = hex64(c.cr0 >>> 0, 0);
  out.cr2 = num(c.cr2);
  out.cr3 = num(c.cr3);
  out.cr4 = hex64(c.cr4 >>> 0, 0);
  out.efer = hex64(c.efer >>> 0, 0);
  return out;
}

/** Build a machine from raw launch-configuration JSON (validated) and image bytes. */
export function createMachine(image: Uint8Array, rawConfig: unknown, host?: MachineHost): Machine {
  const cfg = parseLaunchConfig({ program: '', ...(rawConfig as object) }, { requireProgram: false });
  return new Machine(image, cfg, host);
}

/** Run an image to its end. Load and configuration errors become status 'error' with the message. */
export function runImage(image: Uint8Array, rawConfig: Partial<LaunchConfig> | Record<string, unknown> = {}, host?: MachineHost): RunResult {
  let m: Machine;
  try {
    m = createMachine(image, rawConfig, host);
  } catch (e) {
    return errorResult(e instanceof Error ? e.message : String(e));
  }
  return m.runToEnd();
}

export function errorResult(message: string): RunResult {
  return { status: 'error', exitCode: EXIT_CODES.error, instructions: 0, output: '', message, registers: {}, vmExits: { total: 0, byReason: {} }, unimplemented: [] };
}

void exceptionName; void EXC_UD;
