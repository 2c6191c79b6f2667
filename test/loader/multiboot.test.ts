// Multiboot 1 loading (ELF, higher-half ELF, a.out kludge) checked against readelf and QEMU's own multiboot loader; boot info layout per §3.3.

import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  detectFormat, LoadError, loadImage, MULTIBOOT_BOOTLOADER_MAGIC, placeImage, writeMultibootInfo,
} from '../../emulator/loader/image.js';
import { findMultibootHeader } from '../../emulator/loader/multiboot.js';
import { PhysicalMemory } from '../../emulator/mem/physmem.js';
import { read, readelfSegments, readelfSymbols, run, source, TMP } from './fixtures.js';

/**
 * Kernel body shared by every variant. At entry (§3.2: protected mode, paging off, EAX magic,
 * EBX info) it prints over the 0xE9 debug console:
 *   M=<eax> E=<physical address of _start> A=<SUM_A> B=<SUM_B> S=<byte sum of [A,B)> L=<mem_lower> U=<mem_upper>
 * and leaves through isa-debug-exit. It is position independent (call/pop), so it also runs
 * from the physical copy of a higher-half kernel. SUM_A/SUM_B are defined by each variant.
 */
const BODY = `
_start:
  mov esp, 0x90000
  mov edi, eax
  mov ebp, ebx
  call .here
.here:
  pop esi
  sub esi, .here - _start
  mov al, 'M'
  mov ecx, edi
  call field
  mov al, 'E'
  mov ecx, esi
  call field
  mov al, 'A'
  mov ecx, SUM_A
  call field
  mov al, 'B'
  mov ecx, SUM_B
  call field
  xor ecx, ecx
  mov ebx, SUM_A
.sum:
  cmp ebx, SUM_B
  jae .sumdone
  movzx eax, byte [ebx]
  add ecx, eax
  inc ebx
  jmp .sum
.sumdone:
  mov al, 'S'
  call field
  mov al, 'L'
  mov ecx, [ebp + 4]
  call field
  mov al, 'U'
  mov ecx, [ebp + 8]
  call field
  mov dx, 0xe9
  mov al, 10
  out dx, al
  mov dx, 0xf4
  xor eax, eax
  out dx, eax
  cli
.halt:
  hlt
  jmp .halt
; prints AL '=' ECX as 8 hex digits and a space
field:
  mov dx, 0xe9
  out dx, al
  mov al, '='
  out dx, al
  mov ebx, 8
.digit:
  rol ecx, 4
  mov al, cl
  and al, 15
  add al, '0'
  cmp al, '9'
  jbe .out
  add al, 'a' - '0' - 10
.out:
  out dx, al
  dec ebx
  jnz .digit
  mov al, ' '
  out dx, al
  ret
`;

const ELF_KERNEL = `bits 32
section .multiboot
align 4
  dd 0x1BADB002, 3, -(0x1BADB002 + 3)
section .text
global _start
extern _phys_start, _phys_end
%define SUM_A _phys_start
%define SUM_B _phys_end
${BODY}
section .data
global table
table: dd 0x11223344, 0x55667788
section .bss
global scratch
scratch: resb 300
`;

function linkerScript(vbase: number): string {
  const off = '0x' + vbase.toString(16);
  return `ENTRY(_start)
SECTIONS {
  . = ${off} + 0x100000;
  _phys_start = . - ${off};
  .text : AT(ADDR(.text) - ${off}) { *(.multiboot) *(.text) }
  .data ALIGN(16) : AT(ADDR(.data) - ${off}) { *(.data) }
  .bss ALIGN(16) : AT(ADDR(.bss) - ${off}) { *(.bss) }
  _phys_end = . - ${off};
}
`;
}

/** a.out kludge (§3.1.3) as a flat file: `junk` bytes precede load_addr in the file; the header sits `gap` bytes into the loaded text. */
function kludgeKernel(junk: number, gap: number): string {
  return `bits 32
org 0x100000 - ${junk}
  times ${junk} db 0xEE
load_start:
  times ${gap} db 0x90
align 4
mb_header:
  dd 0x1BADB002, 0x10003, -(0x1BADB002 + 0x10003)
  dd mb_header, load_start, load_end, bss_end, _start
%define SUM_A load_start
%define SUM_B bss_end
${BODY}
  dd 0xCAFEBABE
load_end:
  ; what follows in the file after load_end_addr is not loaded
  times 64 db 0xDD
section .bss
  resb 4096
bss_end:
`;
}

function buildElfKernel(name: string, vbase: number): string {
  const asm = source(`${name}.asm`, ELF_KERNEL);
  const ld = source(`${name}.ld`, linkerScript(vbase));
  const obj = join(TMP, `${name}.o`);
  const out = join(TMP, name);
  run('nasm', ['-f', 'elf32', '-g', '-F', 'dwarf', '-o', obj, asm]);
  run('ld', ['-m', 'elf_i386', '--build-id=none', '-T', ld, '-o', out, obj]);
  return out;
}

function buildKludge(name: string, junk: number, gap: number): string {
  const asm = source(`${name}.asm`, kludgeKernel(junk, gap));
  const out = join(TMP, name);
  run('nasm', ['-f', 'bin', '-o', out, asm]);
  return out;
}

const haveQemu = existsSync('/usr/bin/qemu-system-i386');

/** Boots the kernel with QEMU's multiboot loader (-kernel) and parses the fields it printed. */
function qemuBoot(path: string, memMiB: number): Record<string, number> {
  const r = spawnSync('qemu-system-i386', [
    '-kernel', path, '-m', String(memMiB), '-display', 'none', '-nodefaults', '-debugcon', 'stdio',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=4', '-no-reboot', '-accel', 'tcg',
  ], { encoding: 'utf8', timeout: 30_000 });
  const fields: Record<string, number> = {};
  for (const m of r.stdout.matchAll(/([A-Z])=([0-9a-f]{8})/g)) fields[m[1]] = parseInt(m[2], 16);
  if (fields.S === undefined) throw new Error(`QEMU did not run the kernel: status ${r.status}, stdout ${JSON.stringify(r.stdout)}, stderr ${r.stderr}`);
  return fields;
}

function byteSum(mem: PhysicalMemory, a: number, b: number): number {
  let s = 0;
  for (const x of mem.peek(a, b - a)) s = (s + x) >>> 0;
  return s;
}

interface Variant { name: string; build: () => string; kludge: boolean }
const VARIANTS: Variant[] = [
  { name: 'ELF32 kernel at 1 MiB', build: () => buildElfKernel('mb-elf', 0), kludge: false },
  { name: 'higher-half ELF32 kernel (vaddr 0xC0100000, paddr 0x100000)', build: () => buildElfKernel('mb-hh', 0xc0000000), kludge: false },
  { name: 'a.out kludge, header 0x40 into the text', build: () => buildKludge('mb-kludge', 0, 0x40), kludge: true },
  { name: 'a.out kludge, 0x20 bytes of file before load_addr', build: () => buildKludge('mb-kludge-junk', 0x20, 0), kludge: true },
];

describe.each(VARIANTS)('multiboot: $name', ({ build, kludge }) => {
  let path = '';
  let bytes: Uint8Array;
  beforeAll(() => {
    path = build();
    bytes = read(path);
  });

  it('is detected as multiboot and loads as a 32-bit kernel', () => {
    expect(detectFormat(bytes)).toBe('multiboot');
    const img = loadImage(bytes, { format: 'auto' });
    expect(img.format).toBe('multiboot');
    expect(img.bits).toBe(32);
    expect(img.multiboot!.flags).toBe(kludge ? 0x10003 : 3);
    expect(img.warnings).toBeUndefined();
  });

  it.runIf(!kludge)('segments follow the program headers at p_paddr; the entry is translated to physical', () => {
    const img = loadImage(bytes, { format: 'multiboot' });
    const ref = readelfSegments(path);
    expect(img.segments.map((s) => [s.paddr, s.vaddr, s.data.length, s.memSize])).toEqual(ref.loads.map((l) => [l.paddr, l.vaddr, l.filesz, l.memsz]));
    const text = ref.loads.find((l) => ref.entry >= l.vaddr && ref.entry < l.vaddr + l.memsz)!;
    expect(img.entry).toBe(ref.entry - text.vaddr + text.paddr);
    expect(img.symbols).toEqual(readelfSymbols(path));
    expect(img.lines.length).toBeGreaterThan(10);
    // The header's physical address: where file offset of the magic lands.
    const h = findMultibootHeader(bytes)!;
    const seg = ref.loads.find((l) => h.offset >= l.offset && h.offset < l.offset + l.filesz)!;
    expect(img.multiboot!.headerAddress).toBe(seg.paddr + h.offset - seg.offset);
    // Forcing 'elf' loads the same file as a plain ELF with its virtual entry.
    expect(loadImage(bytes, { format: 'elf' }).entry).toBe(ref.entry);
  });

  it.runIf(kludge)('a.out kludge fields place the file and the BSS', () => {
    const img = loadImage(bytes, { format: 'multiboot' });
    const h = findMultibootHeader(bytes)!;
    expect(img.segments).toHaveLength(1);
    const s = img.segments[0];
    expect(s.paddr).toBe(h.loadAddr);
    expect(s.data.byteOffset - bytes.byteOffset).toBe(h.offset - (h.headerAddr! - h.loadAddr!));
    expect(s.data.length).toBe(h.loadEndAddr! - h.loadAddr!);
    expect(s.memSize).toBe(h.bssEndAddr! - h.loadAddr!);
    expect(img.entry).toBe(h.entryAddr);
    expect(img.multiboot!.headerAddress).toBe(h.headerAddr);
    // The byte after load_end_addr in the file (0xDD filler) is not loaded; the word before it is.
    const dv = new DataView(s.data.buffer, s.data.byteOffset, s.data.length);
    expect(dv.getUint32(s.data.length - 4, true)).toBe(0xcafebabe);
  });

  it.runIf(haveQemu)('QEMU -kernel runs it at the same entry, with the same bytes in memory and the same mem_lower', () => {
    const memMiB = 32;
    const q = qemuBoot(path, memMiB);
    const img = loadImage(bytes, { format: 'auto' });
    const mem = new PhysicalMemory(memMiB << 20);
    placeImage(img, mem);
    expect(q.M).toBe(MULTIBOOT_BOOTLOADER_MAGIC);
    expect(q.E).toBe(img.entry);
    expect(byteSum(mem, q.A, q.B)).toBe(q.S);
    const info = writeMultibootInfo(mem, 0x9000, { memorySize: memMiB << 20, cmdline: '' });
    expect(mem.read32(info + 4)).toBe(q.L);
    // mem_upper differs on purpose: SeaBIOS keeps the top 128 KiB of RAM for its tables (e820
    // reserved), vmscope has no firmware there and reports RAM up to memorySize.
    expect(mem.read32(info + 8)).toBe(q.U + 128);
  });
});

describe('multiboot header rules (§3.1)', () => {
  function image(words: number[], at = 0, size = 64): Uint8Array {
    const b = new Uint8Array(Math.max(size, at + words.length * 4));
    const dv = new DataView(b.buffer);
    words.forEach((w, i) => dv.setUint32(at + i * 4, w >>> 0, true));
    return b;
  }
  const MAGIC = 0x1badb002;

  it('needs magic + flags + checksum = 0, 4-byte alignment and the first 8192 bytes', () => {
    expect(findMultibootHeader(image([MAGIC, 0, -MAGIC], 8))?.offset).toBe(8);
    expect(findMultibootHeader(image([MAGIC, 0, -MAGIC + 1], 8))).toBeUndefined();
    expect(findMultibootHeader(image([MAGIC, 0, -MAGIC], 6))).toBeUndefined();
    expect(findMultibootHeader(image([MAGIC, 0, -MAGIC], 8184))).toBeUndefined(); // 8184+12 > 8192
    expect(findMultibootHeader(image([MAGIC, 0, -MAGIC], 8180))?.offset).toBe(8180);
    expect(detectFormat(image([MAGIC, 0, -MAGIC], 8176, 9000))).toBe('multiboot');
    expect(detectFormat(image([MAGIC, 0, -MAGIC], 8192, 9000))).toBe('flat');
  });

  it('refuses required bits it cannot honour (video mode, undefined bits 3-15)', () => {
    for (const flags of [4, 8, 0x8000, 0x10007]) {
      expect(() => loadImage(image([MAGIC, flags, -(MAGIC + flags)]), { format: 'auto' })).toThrow(LoadError);
    }
    expect(() => loadImage(image([MAGIC, 4, -(MAGIC + 4)]), { format: 'auto' })).toThrow(/bit\(s\) 2 \(video mode\)/);
    // Optional bits 16-31 other than 16 are ignored; without bit 16 the image must be ELF.
    expect(() => loadImage(image([MAGIC, 0x20000, -(MAGIC + 0x20000)]), { format: 'auto' })).toThrow(/must be ELF/);
  });

  it('rejects inconsistent a.out kludge fields with messages', () => {
    const f = 0x10000;
    const mk = (hdr: number, load: number, end: number, bss: number, entry: number): Uint8Array =>
      image([MAGIC, f, -(MAGIC + f), hdr, load, end, bss, entry], 0, 256);
    expect(() => loadImage(mk(0x100000, 0x100010, 0, 0, 0x100000), { format: 'auto' })).toThrow(/load_addr 0x100010 is above header_addr/);
    expect(() => loadImage(mk(0x100010, 0x100000, 0, 0, 0x100000), { format: 'auto' })).toThrow(/before the start of the file/);
    expect(() => loadImage(mk(0x100000, 0x100000, 0x100400, 0, 0x100000), { format: 'auto' })).toThrow(/runs past the end of the file/);
    expect(() => loadImage(mk(0x100000, 0x100000, 0x100080, 0x100040, 0x100000), { format: 'auto' })).toThrow(/bss_end_addr/);
    expect(() => loadImage(mk(0x100000, 0x100000, 0x0ff000, 0, 0x100000), { format: 'auto' })).toThrow(/load_end_addr/);
    const ok = loadImage(mk(0x100000, 0x100000, 0, 0x200000, 0x100004), { format: 'auto' });
    expect(ok.segments[0]).toMatchObject({ paddr: 0x100000, memSize: 0x100000 });
    expect(ok.segments[0].data.length).toBe(256);
    expect(() => loadImage(image([MAGIC, f, -(MAGIC + f)], 8180, 8192), { format: 'multiboot' })).toThrow(LoadError); // fields cut off
    expect(() => loadImage(new Uint8Array(100), { format: 'multiboot' })).toThrow(/no Multiboot header/);
  });
});

describe('writeMultibootInfo (§3.3)', () => {
  const mem = new PhysicalMemory(64 << 20);
  const at = 0x9000;
  const ret = writeMultibootInfo(mem, at, { memorySize: 64 << 20, cmdline: 'console=e9 verbose=1', bootloaderName: 'vmscope' });
  const cstr = (a: number): string => {
    let s = '';
    for (let c = mem.read8(a); c !== 0; c = mem.read8(++a)) s += String.fromCharCode(c);
    return s;
  };

  it('returns its address and sets flags for mem, cmdline, mods, mmap and boot_loader_name', () => {
    expect(ret).toBe(at);
    const flags = mem.read32(at + 0);
    // bit 0 mem_*, bit 2 cmdline, bit 3 mods, bit 6 mmap_*, bit 9 boot_loader_name
    expect(flags).toBe((1 << 0) | (1 << 2) | (1 << 3) | (1 << 6) | (1 << 9));
  });

  it('mem_lower = 639 KiB (RAM below the EBDA, as QEMU reports), mem_upper = KiB from 1 MiB to the end of RAM', () => {
    expect(mem.read32(at + 4)).toBe(0x9fc00 / 1024);
    expect(mem.read32(at + 8)).toBe((64 << 10) - 1024);
  });

  it('cmdline and boot_loader_name point at NUL-terminated strings', () => {
    expect(cstr(mem.read32(at + 16))).toBe('console=e9 verbose=1');
    expect(cstr(mem.read32(at + 64))).toBe('vmscope');
    expect(mem.read32(at + 20)).toBe(0); // mods_count
  });

  it('the memory map lists RAM and the reserved legacy areas', () => {
    const len = mem.read32(at + 44);
    let p = mem.read32(at + 48);
    const end = p + len;
    const entries: [number, number, number][] = [];
    while (p < end) {
      const size = mem.read32(p);
      const base = mem.read32(p + 4) + mem.read32(p + 8) * 2 ** 32;
      const length = mem.read32(p + 12) + mem.read32(p + 16) * 2 ** 32;
      entries.push([base, length, mem.read32(p + 20)]);
      p += size + 4; // §3.3: size does not count itself
    }
    expect(p).toBe(end);
    expect(entries).toEqual([
      [0, 0x9fc00, 1],
      [0x9fc00, 0x400, 2],
      [0xf0000, 0x10000, 2],
      [0x100000, (64 << 20) - 0x100000, 1],
    ]);
  });

  it('writes 64-bit lengths for memory above 4 GiB and refuses blocks that do not fit', () => {
    const big = new PhysicalMemory(1 << 20);
    writeMultibootInfo(big, 0x9000, { memorySize: 6 * 2 ** 30, cmdline: '' });
    const mm = big.read32(0x9000 + 48) + 3 * 24;
    expect(big.read32(mm + 12) + big.read32(mm + 16) * 2 ** 32).toBe(6 * 2 ** 30 - 0x100000);
    expect(() => writeMultibootInfo(new PhysicalMemory(0x10000), 0xffa0, { memorySize: 1 << 20, cmdline: '' })).toThrow(LoadError);
    expect(() => writeMultibootInfo(mem, at, { memorySize: 64 << 20, cmdline: 'x'.repeat(5000) })).toThrow(/command line/);
    expect(() => writeMultibootInfo(mem, 0x100100, { memorySize: 64 << 20, cmdline: '', modulesEnd: 0x200000 })).toThrow(/overlaps/);
  });
});
