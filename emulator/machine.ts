// The machine: the reference hypervisor running a guest image on the emulated VT-x processor, with the platform's devices; runs and reports.
import './cpu/index.js';
import { Cpu, type CpuStop, type UnimplementedReport } from './cpu/cpu.js';
import { applyArchState, multibootState, startState, type ArchState, type StartMode } from './cpu/setup.js';
import { restoreCpu, snapshotCpu, type CpuSnapshot } from './cpu/state.js';
import { PhysicalMemory } from './mem/physmem.js';
import { IoBus } from './devices/bus.js';
import { createPlatformDevices, type PlatformDevices } from './devices/platform.js';
import { parseLaunchConfig, type LaunchConfig } from './config.js';
import { loadImage, placeImage, writeMultibootInfo, LoadError, type LoadedImage, type LoadTarget } from './loader/image.js';
import { Hypervisor } from './vmm/hypervisor.js';
import type { GuestMemory } from './vmm/guest-memory.js';
import { createPcPlatform, type PcPlatform, type PlatformDeviceInfo } from './devices/pc.js';
import { DEVICE_TABLE, type DeviceName } from './devices/platform.js';
import {
  MemoryDisk, VirtioBlk, VirtioConsole, VirtioRng, VIRTIO_PLATFORM, dmaFromRanges, virtioMmioCmdline,
  type VirtioEvent, type VirtioMmioDevice,
} from './devices/virtio/index.js';
import type { DiskConfig } from './config.js';
import type { VmcsFieldName } from './vmx/fields.js';

export type RunStatus = 'halted' | 'debug-exit' | 'triple-fault' | 'reset' | 'budget' | 'error';

/** Exit codes of a run that did not end through the debug-exit device (which gives odd codes). */
export const EXIT_CODES = { halted: 0, error: 2, 'triple-fault': 4, budget: 6, reset: 8 } as const;

export interface RunResult {
  status: RunStatus;
  exitCode: number;
  /** Guest instructions retired. */
  instructions: number;
  /** All guest console text (debugcon, UART, hypercalls), decoded as UTF-8. */
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

/** The exit log's note of a virtio QueueNotify that took `count` requests, listed in `list`. */
function notifyText(device: string, queue: number, seq: number, count: number, list: string): string {
  return `${device} QueueNotify queue ${queue} #${seq} → request${count === 1 ? '' : 's'} ${list || 'none'}`;
}

/** The exit log's note of requests a virtio device completed, listed in `list`. */
function completeText(device: string, usedIdx: number, list: string): string {
  return `${device} completed ${list} (used idx ${usedIdx})`;
}

/** "first, first + 1, …" for `count` request numbers ('' for none), as requests.join(', ') gives them. */
function requestRun(first: number, count: number): string {
  let s = '';
  for (let k = 0; k < count; k++) s += k === 0 ? String(first) : `, ${first + k}`;
  return s;
}

/** Whether request numbers are consecutive and ascending (then a note keeps the first and the count only). */
function isRun(ids: readonly number[]): boolean {
  for (let k = 1; k < ids.length; k++) if (ids[k] !== ids[0] + k) return false;
  return ids.length === 0 || Number.isSafeInteger(ids[0]);
}

const notifyNote = (e: Extract<VirtioEvent, { kind: 'notify' }>): string => notifyText(e.device, e.queue, e.seq, e.requests.length, e.requests.join(', '));
const completeNote = (e: Extract<VirtioEvent, { kind: 'complete' }>): string => completeText(e.device, e.usedIdx, e.requests.join(', '));
const notifyRunNote = (device: string, queue: number, seq: number, first: number, count: number): string => notifyText(device, queue, seq, count, requestRun(first, count));
const completeRunNote = (device: string, usedIdx: number, first: number, count: number): string => completeText(device, usedIdx, requestRun(first, count));

/** Console output is kept up to this many bytes (the rest is counted, not kept). */
const OUTPUT_LIMIT = 16 * 1024 * 1024;

export interface MachineHost {
  /** Called with each console byte as the guest writes it (the CLI streams these to stdout). */
  onConsole?: (byte: number, source: string) => void;
  /**
   * Open the virtio-blk disk image named by the configuration (the emulator reads no files):
   * its bytes, and for write-through the functions that write and sync the file.
   */
  openDisk?: (disk: DiskConfig) => OpenedDisk;
}

export interface OpenedDisk {
  bytes: Uint8Array;
  persist?: (offset: number, data: Uint8Array) => void;
  sync?: () => void;
}

export interface MachineOptions {
  /**
   * 'vmx' (default): the guest runs under the reference hypervisor in VMX non-root operation
   * with EPT, and every sensitive instruction is a VM exit. 'bare': the processor runs the
   * guest directly with devices on its own bus (for comparisons with KVM and the host CPU).
   */
  mode?: 'vmx' | 'bare';
}

export class Machine {
  readonly config: LaunchConfig;
  readonly mode: 'vmx' | 'bare';
  /** Host-physical memory (in bare mode the guest's physical memory). */
  readonly mem: PhysicalMemory;
  readonly bus: IoBus;
  readonly cpu: Cpu;
  /** The hypervisor (vmx mode) or null. */
  readonly hv: Hypervisor | null;
  /** Guest-physical memory (vmx mode: RAM placed in host memory by the hypervisor). */
  readonly guest: GuestMemory | PhysicalMemory;
  readonly devices: PlatformDevices;
  /** The PC platform (PIC, PIT, RTC, LAPIC, I/O APIC, fw_cfg, ...) in vmx mode; null in bare mode. */
  readonly pc: PcPlatform | null;
  /** Virtio devices by name (vmx mode), mapped at VIRTIO_PLATFORM. */
  readonly virtio = new Map<string, VirtioMmioDevice>();
  /** Device events (notifications, completions, interrupts, resets), most recent last (bounded). */
  readonly virtioEvents: VirtioEvent[] = [];
  readonly image: LoadedImage;
  readonly startMode: StartMode | 'multiboot';
  private outBytes = new Uint8Array(4096);
  private outLen = 0;
  private outDropped = 0;
  /** Console bytes the guest has written in this timeline (kept or dropped); restored by restore(). */
  private outTotal = 0;
  /**
   * Console bytes already given to the host's onConsole: after going back in history the guest
   * writes them again, and they are not given again (time travel must not repeat output).
   */
  private outDelivered = 0;
  /** Virtio events logged in this timeline (the list keeps the recent ones). */
  private virtioTotal = 0;
  /** Bytes of outBytes ever filled (a restore forward in history can show them again). */
  private outHigh = 0;
  private exitCode: number | null = null;
  private ended: RunResult | null = null;

  constructor(imageBytes: Uint8Array, config: LaunchConfig, host: MachineHost = {}, options: MachineOptions = {}) {
    this.config = config;
    this.mode = options.mode ?? 'vmx';
    this.bus = new IoBus();
    const onConsole = host.onConsole;
    const emit = (byte: number, source: string) => {
      this.appendOutput(byte);
      if (++this.outTotal > this.outDelivered) { this.outDelivered = this.outTotal; if (onConsole) onConsole(byte, source); }
    };
    const ram = config.memoryMiB * 1024 * 1024;
    if (this.mode === 'vmx') {
      this.hv = new Hypervisor({
        guestRamBytes: ram,
        bus: this.bus,
        console: (text) => { for (const b of new TextEncoder().encode(text)) emit(b, 'hypercall'); },
      });
      this.mem = this.hv.host;
      this.cpu = this.hv.cpu;
      this.guest = this.hv.guest;
    } else {
      this.hv = null;
      this.mem = new PhysicalMemory(ram);
      this.cpu = new Cpu(this.mem, this.bus);
      this.guest = this.mem;
    }
    this.cpu.jit = config.jit ?? true;
    const clock = () => this.cpu.icount + this.cpu.idleTicks;
    if (this.hv !== null) {
      const hv = this.hv;
      const pc = createPcPlatform(this.bus, {
        clock,
        memorySize: ram,
        control: { requestReset: () => { hv.ended = { status: 'reset', message: 'the guest requested a system reset (port 0x92 or 0xCF9)' }; } },
        tscOffset: () => Number(BigInt.asIntN(64, hv.vmr('TSC_OFFSET'))),
      });
      this.pc = pc;
      // The platform's own functions (arrows over its devices): asked at every VM entry, so no wrapper call.
      hv.interrupts = {
        pending: pc.interrupts.pending,
        acknowledge: pc.interrupts.acknowledge,
        nextDeadline: () => pc.nextDeadline(),
        poll: (now) => pc.poll(now),
      };
      hv.msrPlatform = {
        read: (msr) => { const r = pc.lapic.readMsr(msr); return r === null || r.gp ? null : r.value; },
        write: (msr, v) => { const r = pc.lapic.writeMsr(msr, v); return r !== null && !r.gp; },
      };
    } else this.pc = null;
    this.devices = createPlatformDevices(this.bus, config.devices.filter((d) => !d.startsWith('virtio-')), {
      setIrq: this.pc !== null ? (irq, level) => this.pc!.setIrq(irq, level) : undefined,
      console: emit,
      control: {
        requestExit: (code) => {
          this.exitCode = code;
          if (this.hv !== null) this.hv.ended = { status: 'debug-exit', exitCode: code };
          else this.cpu.requestStop();
        },
      },
      clock,
    });
    let cmdline = config.args;
    if (this.hv !== null && this.pc !== null) cmdline = this.createVirtio(config, host, emit, cmdline);
    const img = loadImage(imageBytes, { format: config.format, loadAddress: config.loadAddress ?? this.defaultLoadAddress(imageBytes), entry: config.entry });
    this.image = img;
    const target = this.guest as unknown as LoadTarget & { write32(a: number, v: number): void };
    placeImage(img, target);
    let state: ArchState;
    if (img.format === 'multiboot' && config.cpuMode === undefined) {
      const end = Math.max(...img.segments.map((s) => s.paddr + s.memSize));
      const info = writeMultibootInfo(target, MULTIBOOT_INFO_ADDRESS, { memorySize: ram, cmdline, modulesEnd: end });
      state = multibootState(img.entry, info, target);
      this.startMode = 'multiboot';
    } else {
      const mode: StartMode = config.cpuMode ?? (img.format === 'flat' ? 'real' : img.bits === 64 ? 'long' : 'protected');
      if (mode !== 'real' && ram < 0x10000) throw new LoadError(`cpuMode ${mode} needs at least 64 KiB of memory for its tables`);
      state = startState(mode, img.entry, target);
      this.startMode = mode;
    }
    if (this.hv !== null) {
      this.hv.setGuestState(state);
      for (const [name, value] of Object.entries(config.vmcs ?? {})) this.hv.vmwrite(name as VmcsFieldName, value);
    } else applyArchState(this.cpu, state);
  }

  /**
   * Create the configured virtio-mmio devices at their documented windows, with DMA into guest
   * RAM and their interrupt lines on the platform; returns the kernel command line with Linux's
   * `virtio_mmio.device=` entries appended (virtio 1.2 §4.2; README "Virtio devices").
   */
  private createVirtio(config: LaunchConfig, host: MachineHost, emit: (b: number, s: string) => void, cmdline: string): string {
    const hv = this.hv!, pc = this.pc!;
    const dma = dmaFromRanges(hv.host, hv.guest.ranges);
    const params: string[] = [];
    for (const name of config.devices) {
      if (!name.startsWith('virtio-')) continue;
      const place = VIRTIO_PLATFORM[name as keyof typeof VIRTIO_PLATFORM];
      const vhost = {
        dma,
        setIrq: (level: boolean) => pc.setIrq(place.irq, level),
        log: (e: VirtioEvent) => this.virtioEvent(e),
      };
      let dev: VirtioMmioDevice;
      if (name === 'virtio-console') dev = new VirtioConsole(vhost, { output: (bytes) => { for (const b of bytes) emit(b, 'virtio-console'); } });
      else if (name === 'virtio-rng') dev = new VirtioRng(vhost, { seed: config.rngSeed });
      else {
        const disk = config.disk!;
        if (host.openDisk === undefined) throw new LoadError(`virtio-blk: this host cannot open the disk image ${disk.image}`);
        const opened = host.openDisk(disk);
        dev = new VirtioBlk(vhost, {
          backend: new MemoryDisk(opened.bytes, { readOnly: disk.readOnly, persist: disk.writeThrough ? opened.persist : undefined, sync: disk.writeThrough ? opened.sync : undefined }),
        });
      }
      this.bus.mapMmio(place.base, 4096, dev);
      this.virtio.set(name, dev);
      params.push(virtioMmioCmdline(place.base, place.irq));
    }
    return params.length === 0 ? cmdline : [cmdline, ...params].filter((x) => x.length > 0).join(' ');
  }

  /** Record a virtio event and annotate the VM exit in progress (notifications arrive as MMIO writes, i.e. EPT violations). */
  private virtioEvent(e: VirtioEvent): void {
    this.virtioTotal++;
    this.virtioEvents.push(e);
    // Trim in batches: splicing one event off a 4096-entry array per event costs a copy of the whole array.
    if (this.virtioEvents.length > 4096 + 1024) this.virtioEvents.splice(0, this.virtioEvents.length - 4096);
    const hv = this.hv;
    if (hv === null) return;
    switch (e.kind) {
      // A request's two notes are made from its events when the exit log is read (not formatted per request), from
      // numbers when its requests are consecutive (the log keeps notes as long as their exits: keeping the event
      // objects made V8 promote and mark them, about a sixth of a virtio-blk request's work).
      case 'notify':
        if (isRun(e.requests)) hv.addNoteNumbers(notifyRunNote, e.device, e.queue, e.seq, e.requests.length > 0 ? e.requests[0] : 0, e.requests.length);
        else hv.addNoteDeferred(notifyNote, e);
        break;
      case 'complete':
        if (isRun(e.requests)) hv.addNoteNumbers(completeRunNote, e.device, e.usedIdx, e.requests.length > 0 ? e.requests[0] : 0, e.requests.length, 0);
        else hv.addNoteDeferred(completeNote, e);
        break;
      case 'needsReset': hv.addNote(`${e.device} DEVICE_NEEDS_RESET: ${e.reason}`); break;
      case 'featuresRejected': hv.addNote(`${e.device} FEATURES_OK rejected: ${e.reason}`); break;
      case 'notifyIgnored': hv.addNote(`${e.device} notify ignored: ${e.reason}`); break;
      default: break;
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
    if (this.outLen > this.outHigh) this.outHigh = this.outLen;
  }

  /**
   * The run's platform description: every device with its ports, MMIO window and interrupt line
   * (the PC platform, the console/exit devices and the virtio devices of this configuration).
   */
  describePlatform(): PlatformDeviceInfo[] {
    const out: PlatformDeviceInfo[] = [];
    for (const name of this.devices.all.keys()) {
      const t = DEVICE_TABLE[name as DeviceName];
      out.push({ name, description: t.description, ports: [{ first: t.firstPort, last: t.firstPort + t.portCount - 1 }], mmio: null, irq: t.irq, gsi: t.irq });
    }
    if (this.pc !== null) out.push(...this.pc.describe());
    for (const name of this.virtio.keys()) {
      const place = VIRTIO_PLATFORM[name as keyof typeof VIRTIO_PLATFORM];
      out.push({ name, description: `virtio-mmio v2 (${name.slice(7)})`, ports: [], mmio: { base: place.base, size: 4096 }, irq: place.irq, gsi: place.irq });
    }
    return out;
  }

  /**
   * Console input from the host (the CLI's stdin): to virtio-console port 0 when the run has
   * one, else to the COM1 UART's receiver. Returns whether a device took it.
   */
  pushConsoleInput(bytes: Uint8Array): boolean {
    const vc = this.virtio.get('virtio-console');
    if (vc !== undefined) { (vc as VirtioConsole).pushInput(bytes); return true; }
    const uart = this.devices.uart;
    if (uart !== undefined) { uart.pushInput(bytes); return true; }
    return false;
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
   * Run at most `slice` guest instructions (bounded by the configured budget). Returns the
   * run's result when it ended, or why it paused ('budget' for a finished slice, 'breakpoint', 'stop').
   */
  runSlice(slice: number): RunResult | CpuStop {
    if (this.ended) return this.ended;
    const left = this.config.maxInstructions - this.budgetUsed();
    if (left <= 0) return this.finish('budget', this.budgetMessage());
    if (this.hv !== null) {
      const stop = this.hv.runSlice(Math.min(slice, left));
      if (stop === 'ended') {
        const e = this.hv.ended!;
        if (e.status === 'debug-exit') return this.finish('debug-exit', e.message, e.exitCode);
        return this.finish(e.status, e.message);
      }
      if (stop === 'budget' && this.budgetUsed() >= this.config.maxInstructions) return this.finish('budget', this.budgetMessage());
      return stop;
    }
    const stop = this.cpu.run(Math.min(slice, left));
    if (this.exitCode !== null) return this.finish('debug-exit');
    if (stop === 'shutdown') return this.finish('triple-fault', `${this.cpu.shutdownReason} (rip=${hex(this.cpu.rip)})`);
    if (stop === 'halted') {
      const ifSet = (this.cpu.getFlags() & 0x200) !== 0;
      return this.finish('halted', ifSet ? 'HLT with interrupts enabled but no interrupt source on this platform: the run ends' : undefined);
    }
    if (stop === 'budget' && this.cpu.icount >= this.config.maxInstructions) return this.finish('budget', this.budgetMessage());
    return stop;
  }

  private budgetMessage(): string {
    return `instruction budget of ${this.config.maxInstructions} exhausted at rip=${hex(this.guestRip())}`;
  }

  /** The guest's RIP (from the VMCS when the processor is outside the guest). */
  guestRip(): number {
    if (this.hv !== null && !this.hv.inGuest) return Number(BigInt.asIntN(64, this.hv.vmr('GUEST_RIP')));
    return this.cpu.rip;
  }

  /** Budget spent: guest instructions retired, VM exits handled (one step each) and work handlers charged (string I/O elements). */
  budgetUsed(): number {
    return this.cpu.icount + (this.hv !== null ? this.hv.log.total + this.hv.stepsSpent : 0);
  }

  /** Guest instructions executed: retired by the processor plus those the hypervisor emulated at exits. */
  instructions(): number {
    return this.cpu.icount + (this.hv?.instructionsEmulated ?? 0);
  }

  /** Run until the guest halts, exits, triple-faults or the budget is spent. */
  runToEnd(slice = 1_000_000): RunResult {
    for (;;) {
      const r = this.runSlice(slice);
      if (typeof r === 'object') return r;
      if (r === 'breakpoint') this.cpu.resumeFromBreakpoint();
    }
  }

  private finish(status: RunStatus, message?: string, code?: number): RunResult {
    const exitCode = status === 'debug-exit' ? (code ?? this.exitCode ?? 1) : EXIT_CODES[status];
    this.ended = {
      status,
      exitCode,
      instructions: this.instructions(),
      output: this.output(),
      message,
      registers: this.guestRegisters(),
      vmExits: this.hv !== null ? { total: this.hv.log.total, byReason: this.hv.log.countsByName() } : { total: 0, byReason: {} },
      unimplemented: this.cpu.unimplemented.slice(),
    };
    return this.ended;
  }

  /** The guest's registers: from the processor (bare, or while in the guest) or the hypervisor's view at an exit. */
  guestRegisters(): Record<string, string> {
    if (this.hv === null || this.hv.inGuest) return registerDump(this.cpu);
    const hv = this.hv, v = hv.vmx;
    const names = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
    const out: Record<string, string> = {};
    for (const r of [0, 3, 1, 2, 6, 7, 5, 4, 8, 9, 10, 11, 12, 13, 14, 15]) {
      out[names[r]] = r === 4 ? `0x${hv.vmr('GUEST_RSP').toString(16)}` : hex64(v.gprLo[r], v.gprHi[r]);
    }
    out.rip = `0x${hv.vmr('GUEST_RIP').toString(16)}`;
    out.rflags = `0x${hv.vmr('GUEST_RFLAGS').toString(16)}`;
    // The guest's view of CR0/CR4: its own bits, with the bits the hypervisor owns shown from the read shadows.
    const cr0 = (hv.vmr('GUEST_CR0') & ~hv.vmr('CR0_GUEST_HOST_MASK')) | (hv.vmr('CR0_READ_SHADOW') & hv.vmr('CR0_GUEST_HOST_MASK'));
    const cr4 = (hv.vmr('GUEST_CR4') & ~hv.vmr('CR4_GUEST_HOST_MASK')) | (hv.vmr('CR4_READ_SHADOW') & hv.vmr('CR4_GUEST_HOST_MASK'));
    out.cr0 = `0x${cr0.toString(16)}`;
    out.cr2 = hex64(this.cpu.cr2 >>> 0, Math.floor(this.cpu.cr2 / 4294967296) >>> 0);
    out.cr3 = `0x${hv.vmr('GUEST_CR3').toString(16)}`;
    out.cr4 = `0x${cr4.toString(16)}`;
    out.efer = `0x${hv.vmr('GUEST_IA32_EFER').toString(16)}`;
    return out;
  }

  /** The complete machine state (memory, processor, VMX, hypervisor, devices) for restore(). */
  snapshot(): MachineSnapshot {
    // The VMCS region must hold every field before host memory is copied (the processor may still hold some).
    this.hv?.syncVmcs();
    return { memory: this.mem.snapshot(), ...this.captureState() };
  }

  restore(s: MachineSnapshot): void {
    this.mem.restore(s.memory);
    this.restoreState(s);
  }

  /**
   * Everything but memory (processor, VMX, hypervisor, devices, console position): history
   * snapshots keep memory as copy-on-write page versions (emulator/history) and this beside it.
   */
  captureState(): MachineState {
    const devices: Record<string, unknown> = {};
    for (const [name, dev] of this.devices.all) devices[name] = dev.saveState();
    if (this.pc !== null) devices.pc = this.pc.saveState();
    for (const [name, dev] of this.virtio) devices[name] = dev.saveState();
    const hv = this.hv !== null ? this.hv.saveState() : null;
    return {
      cpu: snapshotCpu(this.cpu), devices, outLen: this.outLen, outTotal: this.outTotal, outDropped: this.outDropped,
      virtioTotal: this.virtioTotal, exitCode: this.exitCode, hv,
    };
  }

  /** Put back a captureState() (memory is the caller's). */
  restoreState(s: MachineState): void {
    restoreCpu(this.cpu, s.cpu);
    if (this.hv !== null && s.hv !== null) this.hv.loadState(s.hv);
    for (const [name, dev] of this.devices.all) if (name in s.devices) dev.loadState(s.devices[name]);
    if (this.pc !== null && 'pc' in s.devices) this.pc.loadState(s.devices.pc);
    for (const [name, dev] of this.virtio) if (name in s.devices) dev.loadState(s.devices[name]);
    // Back: the later text no longer counts; forward (history): the text written before going back is still in outBytes.
    this.outLen = Math.min(s.outLen, Math.max(this.outLen, this.outHigh));
    this.outTotal = s.outTotal ?? this.outTotal;
    this.outDropped = s.outDropped ?? this.outDropped;
    if (s.virtioTotal !== undefined) {
      const drop = this.virtioTotal - s.virtioTotal;
      if (drop > 0) this.virtioEvents.splice(Math.max(0, this.virtioEvents.length - drop));
      this.virtioTotal = s.virtioTotal;
    }
    this.exitCode = s.exitCode;
    this.ended = null;
  }

  /**
   * The run diverges from its recorded future here (a debugger changed state): console output
   * written from now on is new, so it is given to the host even where earlier output was.
   */
  divergeOutput(): void {
    this.outDelivered = this.outTotal;
  }
}

/** The machine's state without memory (Machine.captureState). */
export interface MachineState {
  cpu: CpuSnapshot;
  devices: Record<string, unknown>;
  outLen: number;
  /** Console bytes written so far (absent in older snapshots). */
  outTotal?: number;
  outDropped?: number;
  virtioTotal?: number;
  exitCode: number | null;
  hv: unknown;
}

export interface MachineSnapshot extends MachineState {
  memory: Map<number, Uint8Array>;
}

function isFlat(bytes: Uint8Array): boolean {
  try {
    return loadImage(bytes, { format: 'auto' }).format === 'flat';
  } catch {
    return false;
  }
}

export function hex(v: number): string {
  return v < 0 ? `0x${BigInt.asUintN(64, BigInt(v)).toString(16)}` : `0x${v.toString(16)}`;
}

function hex64(lo: number, hi: number): string {
  return hi === 0 ? `0x${lo.toString(16)}` : `0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')}`;
}

/** Register values of the processor as hex strings (RIP and addresses as the unsigned 64-bit value). */
export function registerDump(c: Cpu): Record<string, string> {
  const names = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
  const out: Record<string, string> = {};
  const order = [0, 3, 1, 2, 6, 7, 5, 4, 8, 9, 10, 11, 12, 13, 14, 15];
  for (const r of order) out[names[r]] = hex64(c.lo[r], c.hi[r]);
  const num = (v: number) => hex64(v >>> 0, Math.floor(v / 4294967296) >>> 0);
  out.rip = num(c.rip);
  out.rflags = hex64(c.peekFlags(), 0);
  out.cr0 = hex64(c.cr0 >>> 0, 0);
  out.cr2 = num(c.cr2);
  out.cr3 = num(c.cr3);
  out.cr4 = hex64(c.cr4 >>> 0, 0);
  out.efer = hex64(c.efer >>> 0, 0);
  return out;
}

/** Build a machine from raw launch-configuration JSON (validated) and image bytes. */
export function createMachine(image: Uint8Array, rawConfig: unknown, host?: MachineHost, options?: MachineOptions): Machine {
  // The image comes as bytes here, so the configuration need not name a program.
  const cfg = parseLaunchConfig(rawConfig, { requireProgram: false });
  return new Machine(image, cfg, host, options);
}

/** Run an image to its end. Load and configuration errors become status 'error' with the message. */
export function runImage(image: Uint8Array, rawConfig: Partial<LaunchConfig> | Record<string, unknown> = {}, host?: MachineHost, options?: MachineOptions): RunResult {
  let m: Machine;
  try {
    m = createMachine(image, rawConfig, host, options);
  } catch (e) {
    return errorResult(e instanceof Error ? e.message : String(e));
  }
  return m.runToEnd();
}

export function errorResult(message: string): RunResult {
  return { status: 'error', exitCode: EXIT_CODES.error, instructions: 0, output: '', message, registers: {}, vmExits: { total: 0, byReason: {} }, unimplemented: [] };
}
