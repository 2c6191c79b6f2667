// The test-guest catalogue: how each guest is built, how it is launched, and the console output it must produce.
import type { GuestBuild, GuestSpec } from './build.js';

/** The subset of emulator/index.ts LaunchConfig the guests use (kept structural so this file has no emulator dependency). */
export interface GuestLaunch {
  format?: 'auto' | 'elf' | 'multiboot' | 'flat';
  cpuMode?: 'real' | 'protected' | 'paged32' | 'long';
  loadAddress?: number;
  entry?: number;
  memoryMiB?: number;
  args?: string;
  maxInstructions?: number;
}

export type GuestStatus = 'halted' | 'debug-exit' | 'triple-fault';

export interface GuestExpectation {
  status: GuestStatus;
  /** RunResult.exitCode: 0 for halted, (v<<1)|1 for a write of v to port 0xF4; undefined: the machine's code for the status. */
  exitCode?: number;
  output: string;
}

/** How the same image runs on QEMU, the reference machine. */
export interface QemuBoot {
  boot: 'kernel' | 'disk';
  /** The guest ends in HLT with IF=0, which QEMU never leaves: stop after this long. */
  hangs?: boolean;
  /** Known, documented QEMU deviations from the SDM applied to the expected text before comparing. */
  qemuOutput?: (expected: string) => string;
}

export interface GuestCase {
  name: string;
  spec: GuestSpec;
  launch: GuestLaunch;
  /** Needs gcc (else nasm + binutils only). */
  needsC?: boolean;
  expect: (b: GuestBuild) => GuestExpectation;
  qemu?: QemuBoot;
}

export const HELLO = 'Hello, world!\n';
export const MB_ARGS = 'console=e9 answer=42';

/** Zero-padded lowercase hex, as the guests print it. */
export function hex(v: bigint | number, digits: number): string {
  return BigInt(v).toString(16).padStart(digits, '0');
}

function sym(b: GuestBuild, name: string): bigint {
  const v = b.symbols.get(name);
  if (v === undefined) throw new Error(`guest ${b.name}: no symbol ${name}`);
  return v;
}

const halted = (output: string): GuestExpectation => ({ status: 'halted', exitCode: 0, output });
/** isa-debug-exit: a write of v gives exit code (v<<1)|1. */
const exited = (v: number, output: string): GuestExpectation => ({ status: 'debug-exit', exitCode: (v << 1) | 1, output });

const memcheckLines = (names: string[]) => names.map((n) => `PASS ${n}\n`).join('');

/**
 * Output of the C computations (compute.h). Cross-checked in reference.test.ts against the same source built
 * for the host (gcc -DHOSTED) and run natively, and against QEMU for the multiboot kernel.
 * Known values: CRC-32 of the fox sentence is 0x414FA339; there are 9592 primes below 100000, the last 99991;
 * fib(90) = 2880067194370816120.
 */
export const COMPUTE_OUTPUT =
  'crc32=414fa339\n' +
  'fnv1a=048fff90\n' +
  'sort min=0011fe1d max=ffef5165 weighted=870222e4 sorted\n' +
  'primes<100000=9592 last=99991\n' +
  'fib(90)=27f80ddaa1ba7878\n';

/**
 * The multiboot kernel's expected output. The mem_* line is what the machine reports for 64 MiB; QEMU's
 * SeaBIOS e820 map reports mem_lower=639 mem_upper=64384, a bare Multiboot loader 640/64512 (§3.3: KiB of
 * memory below 640 KiB / above 1 MiB): tests normalise that one line with normaliseMemLine.
 */
export function mbKernelOutput(cmdline: string): string {
  return (
    'multiboot kernel, long mode\n' +
    'efer.lma=1\n' +
    'mem_lower=MEM mem_upper=MEM\n' +
    `cmdline=${cmdline}\n` +
    COMPUTE_OUTPUT +
    'kernel done\n'
  );
}

/** Replace the numbers of the mem_lower/mem_upper line by MEM after checking they are plausible for `mib` MiB. */
export function normaliseMemLine(output: string, mib: number): { output: string; memLower?: number; memUpper?: number; plausible: boolean } {
  const m = /^mem_lower=(\d+) mem_upper=(\d+)$/m.exec(output);
  if (!m) return { output, plausible: false };
  const memLower = Number(m[1]), memUpper = Number(m[2]);
  // Lower memory is at most 640 KiB; upper memory at most mib*1024 - 1024 KiB, less what firmware reserves (<= 1 MiB here).
  const plausible = memLower >= 512 && memLower <= 640 && memUpper <= mib * 1024 - 1024 && memUpper >= mib * 1024 - 2048;
  return { output: output.replace(m[0], 'mem_lower=MEM mem_upper=MEM'), memLower, memUpper, plausible };
}

function exc64Output(b: GuestBuild): string {
  const z = '0000000000000000';
  const line = (v: number, err: number, cr2: string, rip: bigint, cs = 8) =>
    `vector=${hex(v, 2)} error=${hex(err, 8)} cr2=${cr2} rip=${hex(rip, 16)} cs=${hex(cs, 4)}`;
  return [
    'exceptions, long mode',
    line(0x00, 0, z, sym(b, 'fault_de')), // #DE is a fault: RIP of the DIV (SDM vol. 3A §6.15)
    line(0x06, 0, z, sym(b, 'fault_ud')),
    line(0x03, 0, z, sym(b, 'fault_bp') + 1n), // #BP is a trap: RIP after INT3
    line(0x0d, 0x48, z, sym(b, 'fault_gp')), // MOV DS, 0x4B beyond the GDT limit: error = selector index|TI (§6.13)
    line(0x0d, 0, z, sym(b, 'fault_gp0')), // non-canonical address: #GP(0)
    line(0x0d, 0x40 * 8 + 2, z, sym(b, 'fault_gpidt')), // INT 0x40 beyond the IDT limit: index 0x40, IDT bit
    line(0x0e, 0, hex(0x20000123, 16), sym(b, 'fault_pf_np')), // #PF: P=0 (§4.7, fig. 4-12)
    line(0x0e, 3, hex(0x20200abc, 16), sym(b, 'fault_pf_ro')), // P=1 W/R=1, CR0.WP=1
    line(0x0e, 5, hex(0x200010, 16), sym(b, 'fault_pf_user'), 0x1b), // P=1 U/S=1 from CPL 3
    // IST1: the CPU switches to the IST1 stack (16-aligned top) and pushes SS, RSP, RFLAGS, CS, RIP (§6.14.5)
    line(0x03, 0, hex(0x200010, 16), sym(b, 'fault_ist') + 1n) + ` on IST1 frame=${hex((sym(b, 'ist1_top') & ~15n) - 40n, 16)}`,
    'all exceptions handled',
    '',
  ].join('\n');
}

function exc32Output(b: GuestBuild): string {
  const z = '00000000';
  const line = (v: number, err: number, cr2: string, eip: bigint, cs = 8) =>
    `vector=${hex(v, 2)} error=${hex(err, 8)} cr2=${cr2} eip=${hex(eip, 8)} cs=${hex(cs, 4)}`;
  return [
    'exceptions, protected mode',
    line(0x00, 0, z, sym(b, 'fault_de')),
    line(0x06, 0, z, sym(b, 'fault_ud')),
    line(0x03, 0, z, sym(b, 'fault_bp') + 1n),
    line(0x0d, 0x48, z, sym(b, 'fault_gp')),
    line(0x0d, 0x40 * 8 + 2, z, sym(b, 'fault_gp0')), // INT 0x40 beyond the IDT limit
    line(0x0e, 0, hex(0x410123, 8), sym(b, 'fault_pf_np')),
    line(0x0e, 3, hex(0x411abc, 8), sym(b, 'fault_pf_ro')),
    line(0x0e, 5, hex(0x400010, 8), sym(b, 'fault_pf_user'), 0x1b),
    'all exceptions handled',
    '',
  ].join('\n');
}

function exc16Output(b: GuestBuild): string {
  const line = (v: number, ip: bigint) => `vector=${hex(v, 2)} ip=${hex(ip, 4)} cs=0000`;
  return [
    'exceptions, real mode',
    line(0x00, sym(b, 'fault_de')),
    line(0x00, sym(b, 'fault_de2')), // quotient overflow is #DE too (SDM vol. 2A, DIV)
    line(0x06, sym(b, 'fault_ud')),
    line(0x03, sym(b, 'fault_bp') + 1n),
    line(0x30, sym(b, 'fault_int') + 2n), // INT imm8 is 2 bytes
    'all exceptions handled',
    '',
  ].join('\n');
}

/**
 * QEMU 7.2 (target/i386/tcg/seg_helper.c, do_interrupt64) reports a long-mode IDT-limit #GP with error code
 * vector*16+2; the SDM (vol. 3A §6.13) puts the vector in the index field: vector*8+2. Hardware follows the SDM.
 */
const qemuLongModeIdtErrorCode = (s: string) => s.replace('error=00000202', 'error=00000402');

const mb64 = (name: string, file: string, defines?: Record<string, number>): GuestSpec => ({
  name, output: 'multiboot', sources: ['mbboot64.asm', file], defines,
});
const exc32 = (name: string, defines?: Record<string, number>): GuestSpec => ({ name, output: 'elf32', sources: ['exc32.asm'], defines });

export const GUESTS: GuestCase[] = [
  // hello: exactly 14 OUT 0xE9, then CLI; HLT
  {
    name: 'hello-real', spec: { name: 'hello16', output: 'bin', sources: [{ file: 'hello.asm', defines: { MODE: 16 } }] },
    launch: { format: 'flat', cpuMode: 'real', loadAddress: 0x7c00 }, expect: () => halted(HELLO), qemu: { boot: 'disk', hangs: true },
  },
  {
    name: 'hello-protected', spec: { name: 'hello32', output: 'bin', sources: [{ file: 'hello.asm', defines: { MODE: 32 } }] },
    launch: { format: 'flat', cpuMode: 'protected', loadAddress: 0x100000 }, expect: () => halted(HELLO),
  },
  {
    name: 'hello-paged32', spec: { name: 'hello32', output: 'bin', sources: [{ file: 'hello.asm', defines: { MODE: 32 } }] },
    launch: { format: 'flat', cpuMode: 'paged32', loadAddress: 0x100000 }, expect: () => halted(HELLO),
  },
  {
    name: 'hello-long', spec: { name: 'hello64', output: 'bin', sources: [{ file: 'hello.asm', defines: { MODE: 64 } }] },
    launch: { format: 'flat', cpuMode: 'long', loadAddress: 0x100000 }, expect: () => halted(HELLO),
  },
  {
    name: 'hello-elf64', spec: { name: 'hello-elf64', output: 'elf64', sources: [{ file: 'hello.asm', defines: { MODE: 64, ELF: 1 } }] },
    launch: { format: 'elf' }, expect: () => halted(HELLO),
  },
  {
    name: 'hello-elf32', spec: { name: 'hello-elf32', output: 'elf32', sources: [{ file: 'hello.asm', defines: { MODE: 32, ELF: 1 } }] },
    launch: { format: 'elf' }, expect: () => halted(HELLO),
  },

  // memory checks: exit code (failures<<1)|1
  {
    name: 'memcheck-real', spec: { name: 'memcheck16', output: 'bin', sources: [{ file: 'memcheck.asm', defines: { MODE: 16 } }] },
    launch: { format: 'flat', cpuMode: 'real', loadAddress: 0x7c00 },
    expect: () => exited(0, memcheckLines(['byte', 'word', 'dword', 'rmw', 'string', 'alias'])),
  },
  {
    name: 'memcheck-protected', spec: { name: 'memcheck32', output: 'bin', sources: [{ file: 'memcheck.asm', defines: { MODE: 32 } }] },
    launch: { format: 'flat', cpuMode: 'protected', loadAddress: 0x100000 },
    expect: () => exited(0, memcheckLines(['byte', 'word', 'dword', 'rmw', 'string'])),
    qemu: { boot: 'kernel' }, // the same bytes carry a Multiboot a.out-kludge header
  },
  {
    name: 'memcheck-paged32', spec: { name: 'memcheck32', output: 'bin', sources: [{ file: 'memcheck.asm', defines: { MODE: 32 } }] },
    launch: { format: 'flat', cpuMode: 'paged32', loadAddress: 0x100000 },
    expect: () => exited(0, memcheckLines(['byte', 'word', 'dword', 'rmw', 'string'])),
  },
  {
    name: 'memcheck-long', spec: { name: 'memcheck64', output: 'bin', sources: [{ file: 'memcheck.asm', defines: { MODE: 64 } }] },
    launch: { format: 'flat', cpuMode: 'long', loadAddress: 0x100000 },
    expect: () => exited(0, memcheckLines(['byte', 'word', 'dword', 'qword', 'rmw', 'string'])),
  },

  // freestanding C, gcc -O2
  {
    name: 'c-protected-flat', needsC: true,
    spec: { name: 'cprog32', output: 'flat32', sources: [{ file: 'crt0.asm', defines: { MODE: 32 } }, 'cprog.c'] },
    launch: { format: 'flat', cpuMode: 'protected', loadAddress: 0x100000 },
    expect: () => exited(0, 'C guest, protected mode\n' + COMPUTE_OUTPUT + 'done\n'),
  },
  {
    name: 'c-long-elf64', needsC: true,
    spec: { name: 'cprog64', output: 'elf64', sources: [{ file: 'crt0.asm', defines: { MODE: 64 } }, 'cprog.c'] },
    launch: { format: 'elf' },
    expect: () => exited(0, 'C guest, long mode\n' + COMPUTE_OUTPUT + 'done\n'),
  },

  // Multiboot 1 kernel: 32-bit entry → long mode → C
  {
    name: 'multiboot-kernel', needsC: true, spec: mb64('mbkernel', 'mbkernel.c'),
    launch: { format: 'multiboot', args: MB_ARGS, memoryMiB: 64 },
    expect: () => exited(0, mbKernelOutput(MB_ARGS)), qemu: { boot: 'kernel' },
  },

  // exceptions
  {
    name: 'exceptions-real', spec: { name: 'exc16', output: 'flat32', linkAddress: 0x7c00, sources: ['exc16.asm'] },
    launch: { format: 'flat', cpuMode: 'real', loadAddress: 0x7c00 },
    expect: (b) => exited(0, exc16Output(b)), qemu: { boot: 'disk' },
  },
  {
    name: 'exceptions-protected', spec: exc32('exc32'), launch: { format: 'multiboot' },
    expect: (b) => exited(0, exc32Output(b)), qemu: { boot: 'kernel' },
  },
  {
    name: 'exceptions-long', spec: mb64('exc64', 'exc64.asm'), launch: { format: 'multiboot' },
    expect: (b) => exited(0, exc64Output(b)), qemu: { boot: 'kernel', qemuOutput: qemuLongModeIdtErrorCode },
  },
  {
    name: 'double-fault-protected', spec: exc32('exc32-df', { DF: 1 }), launch: { format: 'multiboot' },
    expect: () => exited(8, 'exceptions, protected mode\n#GP through a not-present gate\nvector=08 error=00000000 double fault\n'),
    qemu: { boot: 'kernel' },
  },
  {
    name: 'double-fault-long', spec: mb64('exc64-df', 'exc64.asm', { DF: 1 }), launch: { format: 'multiboot' },
    expect: () => exited(8, 'exceptions, long mode\n#GP through a not-present gate\nvector=08 error=00000000 double fault\n'),
    qemu: { boot: 'kernel' },
  },
  {
    name: 'triple-fault-protected', spec: exc32('exc32-tf', { TRIPLE: 1 }), launch: { format: 'multiboot' },
    expect: () => ({ status: 'triple-fault', output: 'exceptions, protected mode\ntriple fault next\n' }),
    qemu: { boot: 'kernel' },
  },
  {
    name: 'triple-fault-long', spec: mb64('exc64-tf', 'exc64.asm', { TRIPLE: 1 }), launch: { format: 'multiboot' },
    expect: () => ({ status: 'triple-fault', output: 'exceptions, long mode\ntriple fault next\n' }),
    qemu: { boot: 'kernel' },
  },
];
