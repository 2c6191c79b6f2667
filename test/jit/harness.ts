// Shared helpers of the translator tests: a bare long-mode Cpu with the translator on or off, nasm snippets, and whole-state fingerprints to compare runs.
import { execFileSync } from 'node:child_process';
import { expect } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import '../../emulator/cpu/index.js';
import { Cpu } from '../../emulator/cpu/cpu.js';
import { applyArchState, startState, type StartMode } from '../../emulator/cpu/setup.js';
import { snapshotCpu } from '../../emulator/cpu/state.js';
import { PhysicalMemory } from '../../emulator/mem/physmem.js';

export const TMP = join(__dirname, '..', '.tmp', 'jit');
export const CODE = 0x100000;

/** Assemble 64-bit (or `bits`-bit) code at `org` with nasm. */
export function nasm(name: string, src: string, org = CODE, bits = 64): Uint8Array {
  mkdirSync(TMP, { recursive: true });
  const asm = join(TMP, `${name}.asm`), bin = join(TMP, `${name}.bin`);
  writeFileSync(asm, `bits ${bits}\norg ${org}\n${src}\n`);
  execFileSync('nasm', ['-f', 'bin', '-o', bin, asm]);
  return new Uint8Array(readFileSync(bin));
}

export interface Bare {
  cpu: Cpu;
  mem: PhysicalMemory;
  io: Array<[string, number, number]>;
}

/** A Cpu in long mode (identity-mapped, no IDT) with `code` at CODE, the translator on or off. */
export function bareLongMode(code: Uint8Array, jit: boolean, memBytes = 4 * 1024 * 1024): Bare {
  return bareMode(code, jit, 'long', memBytes);
}

/** A Cpu in a start mode of emulator/cpu/setup.ts (flat segments, identity map when paged, no IDT) with `code` at CODE. */
export function bareMode(code: Uint8Array, jit: boolean, mode: StartMode, memBytes = 4 * 1024 * 1024, at = CODE): Bare {
  const mem = new PhysicalMemory(memBytes);
  const io: Array<[string, number, number]> = [];
  const bus = {
    ioRead: (port: number, size: number) => { io.push(['in', port, size]); return 0x12345678 >>> (32 - size * 8); },
    ioWrite: (port: number, size: number, v: number) => { io.push(['out', port, v]); },
    findMmio: () => null,
  };
  const cpu = new Cpu(mem, bus);
  cpu.jit = jit;
  applyArchState(cpu, startState(mode, at, mem));
  mem.poke(at, code);
  cpu.lo[4] = 0x80000; cpu.hi[4] = 0;
  return { cpu, mem, io };
}

/**
 * Architectural state of the processor (every snapshot field) and a hash of all of memory (allocated pages). RFLAGS is
 * materialised first and the lazy-flag operands are left out: they are don't-care once the flags are
 * computed (the interpreter leaves stale high halves in them for 32-bit operations).
 */
export function fingerprint(cpu: Cpu, mem: PhysicalMemory): { cpu: unknown; memory: string } {
  cpu.getFlags();
  const s = snapshotCpu(cpu);
  for (const k of ['lop', 'lsize', 'la', 'lah', 'lb', 'lbh', 'lres', 'lresh', 'lcf']) delete s.scalars[k];
  // Allocated pages with their numbers: the same memory and the same pages backed in both runs.
  const h = createHash('sha256');
  const num = new Uint32Array(1);
  for (let pn = 0; pn < mem.pageCount; pn++) {
    const p = mem.pageOrNull(pn);
    if (p !== undefined) { num[0] = pn; h.update(num); h.update(p); }
  }
  return { cpu: JSON.parse(JSON.stringify(s, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))), memory: h.digest('hex') };
}

export interface LockstepOptions {
  mode?: StartMode;
  slice?: number;
  memBytes?: number;
  at?: number;
  /** Called on both (translator on, then off) before the run. */
  setup?: (x: Bare) => void;
  /** Called on both between slices (after the comparison), e.g. a device writing RAM. */
  between?: (x: Bare, slice: number) => void;
  /** Stop at the first exception (exceptionTrap) instead of delivering it. */
  trap?: boolean;
  /** Run blocks in threaded form (as without `new Function`). */
  threaded?: boolean;
}

/** Run `code` with the translator on (a) and off (b) in slices, comparing stop reasons, whole state and port I/O after each. */
export function lockstep(code: Uint8Array, o: LockstepOptions = {}): { a: Bare; b: Bare; stops: string[]; traps: number[] } {
  const mode = o.mode ?? 'long';
  const a = bareMode(code, true, mode, o.memBytes, o.at), b = bareMode(code, false, mode, o.memBytes, o.at);
  const traps: number[] = [];
  if (o.threaded === true) a.cpu.jitUnit.generate = false;
  for (const x of [a, b]) {
    o.setup?.(x);
    if (o.trap === true) x.cpu.exceptionTrap = (v) => { if (x === a) traps.push(v); return true; };
  }
  const stops: string[] = [];
  for (let k = 0; k < 50000; k++) {
    const sa = a.cpu.run(o.slice ?? 1000), sb = b.cpu.run(o.slice ?? 1000);
    expect(sa, `slice ${k}`).toBe(sb);
    expect(fingerprint(a.cpu, a.mem), `slice ${k}`).toEqual(fingerprint(b.cpu, b.mem));
    expect(a.io).toEqual(b.io);
    stops.push(sa);
    if (sa !== 'budget' && sa !== 'breakpoint') break;
    if (sa === 'breakpoint') { a.cpu.resumeFromBreakpoint(); b.cpu.resumeFromBreakpoint(); }
    if (o.between !== undefined) { o.between(a, k); o.between(b, k); }
  }
  expect(b.cpu.jitUnit.compiled).toBe(0);
  return { a, b, stops, traps };
}

/** 64-bit code filling a tiny IDT (IDT_DATA) whose every vector points at the label `handler` (interrupt gates, selector 0x18). */
export const IDT_SETUP = `
  lea rdi, [rel idt]
  lea rax, [rel handler]
  mov ecx, 32
.g: mov word [rdi], ax
  mov word [rdi + 2], 0x18
  mov word [rdi + 4], 0x8e00
  mov rdx, rax
  shr rdx, 16
  mov word [rdi + 6], dx
  shr rdx, 16
  mov dword [rdi + 8], edx
  mov dword [rdi + 12], 0
  add rdi, 16
  dec ecx
  jnz .g
  lidt [rel idtr]
`;
/** The IDTR and IDT IDT_SETUP fills. */
export const IDT_DATA = `
align 16
idtr: dw 32*16-1
      dq idt
align 16
idt: times 32*16 db 0
`;
