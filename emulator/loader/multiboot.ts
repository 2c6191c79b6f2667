// Multiboot 1 (spec 0.6.96): header search (§3.1), kernel loading (a.out kludge or ELF), boot information (§3.3).

import type { LoadTarget } from './image.js';
import { elfDebugInfo, elfSegments, isElf, parseElf } from './elf.js';
import { hex, utf8Encode } from './reader.js';
import { LoadError, LoadedImage, PF_R, PF_W, PF_X } from './types.js';

/** §3.1.1: the header magic, and the value the loader leaves in EAX (§3.2). */
export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
/** §3.1.1: the header lies 32-bit aligned within the first 8192 bytes of the image. */
export const MULTIBOOT_SEARCH = 8192;

// Header flags (§3.1.2).
export const MB_PAGE_ALIGN = 1 << 0;
export const MB_MEMORY_INFO = 1 << 1;
export const MB_VIDEO_MODE = 1 << 2;
export const MB_AOUT_KLUDGE = 1 << 16;
/**
 * Required-feature bits (0-15) vmscope can honour: 0 (page-aligned modules: there are no
 * modules) and 1 (memory information: always given). Bit 2 (video mode table) is refused, as
 * GRUB Legacy does: vmscope has no VBE/linear framebuffer to set up, and §3.1.2 says a loader
 * that cannot satisfy a bit in 0-15 must refuse the image. Bits 3-15 are undefined and refused.
 */
const MB_SUPPORTED_REQUIRED = MB_PAGE_ALIGN | MB_MEMORY_INFO;

// Boot information flags (§3.3).
export const MBI_MEMORY = 1 << 0;
export const MBI_BOOT_DEVICE = 1 << 1;
export const MBI_CMDLINE = 1 << 2;
export const MBI_MODS = 1 << 3;
export const MBI_MMAP = 1 << 6;
export const MBI_BOOT_LOADER_NAME = 1 << 9;

export interface MultibootHeader {
  /** File offset of the magic. */
  offset: number;
  flags: number;
  /** The address fields (§3.1.3), present when flag 16 is set. */
  headerAddr?: number;
  loadAddr?: number;
  loadEndAddr?: number;
  bssEndAddr?: number;
  entryAddr?: number;
}

function u32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

/** The first Multiboot 1 header (magic + valid checksum, 4-byte aligned, wholly inside the first 8192 bytes), if any. */
export function findMultibootHeader(bytes: Uint8Array): MultibootHeader | undefined {
  const limit = Math.min(bytes.length, MULTIBOOT_SEARCH);
  for (let off = 0; off + 12 <= limit; off += 4) {
    if (u32(bytes, off) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = u32(bytes, off + 4);
    const checksum = u32(bytes, off + 8);
    if (((MULTIBOOT_HEADER_MAGIC + flags + checksum) >>> 0) !== 0) continue; // §3.1.2 checksum
    const h: MultibootHeader = { offset: off, flags };
    if (flags & MB_AOUT_KLUDGE && off + 32 <= limit) {
      h.headerAddr = u32(bytes, off + 12);
      h.loadAddr = u32(bytes, off + 16);
      h.loadEndAddr = u32(bytes, off + 20);
      h.bssEndAddr = u32(bytes, off + 24);
      h.entryAddr = u32(bytes, off + 28);
    }
    return h;
  }
  return undefined;
}

/**
 * Loads a Multiboot 1 kernel. With flag 16 the address fields say where the file goes
 * (§3.1.3, the "a.out kludge", even when the file is also ELF); otherwise the image must be
 * ELF and is loaded by its program headers at p_paddr. An ELF entry point that lies in a
 * segment with p_vaddr != p_paddr (a higher-half kernel) is translated to its physical address,
 * as GRUB 2 does, because the kernel starts with paging off (§3.2).
 */
export function loadMultiboot(bytes: Uint8Array): LoadedImage {
  const h = findMultibootHeader(bytes);
  const where = h === undefined ? '' : `Multiboot header at offset ${hex(h.offset)}`;
  if (h === undefined) {
    throw new LoadError(`no Multiboot header (magic 0x1BADB002 with a valid checksum, 4-byte aligned) in the first ${MULTIBOOT_SEARCH} bytes`);
  }
  const unsupported = h.flags & 0xffff & ~MB_SUPPORTED_REQUIRED;
  if (unsupported !== 0) {
    const bits = [];
    for (let b = 0; b < 16; b++) if (unsupported & (1 << b)) bits.push(b === 2 ? '2 (video mode)' : String(b));
    throw new LoadError(`${where}: requires feature bit(s) ${bits.join(', ')} that vmscope does not support (flags ${hex(h.flags)})`);
  }
  const warnings: string[] = [];
  const info = { headerAddress: 0, headerOffset: h.offset, flags: h.flags };

  if (h.flags & MB_AOUT_KLUDGE) {
    if (h.headerAddr === undefined) throw new LoadError(`${where}: flag 16 is set but the address fields run past the first ${MULTIBOOT_SEARCH} bytes or the file end`);
    const { headerAddr, loadAddr, loadEndAddr, bssEndAddr, entryAddr } = h as Required<MultibootHeader>;
    if (loadAddr > headerAddr) throw new LoadError(`${where}: load_addr ${hex(loadAddr)} is above header_addr ${hex(headerAddr)}`);
    const fileStart = h.offset - (headerAddr - loadAddr); // §3.1.3: offset of load_addr in the file
    if (fileStart < 0) throw new LoadError(`${where}: header_addr - load_addr = ${hex(headerAddr - loadAddr)} reaches before the start of the file`);
    let loadSize: number;
    if (loadEndAddr === 0) loadSize = bytes.length - fileStart;
    else {
      if (loadEndAddr < loadAddr) throw new LoadError(`${where}: load_end_addr ${hex(loadEndAddr)} is below load_addr ${hex(loadAddr)}`);
      loadSize = loadEndAddr - loadAddr;
      if (fileStart + loadSize > bytes.length) {
        throw new LoadError(`${where}: load_addr..load_end_addr (${hex(loadSize)} bytes from file offset ${hex(fileStart)}) runs past the end of the file (${bytes.length} bytes)`);
      }
    }
    let memSize = loadSize;
    if (bssEndAddr !== 0) {
      if (bssEndAddr < loadAddr + loadSize) throw new LoadError(`${where}: bss_end_addr ${hex(bssEndAddr)} is below the end of the loaded data ${hex(loadAddr + loadSize)}`);
      memSize = bssEndAddr - loadAddr;
    }
    if (loadAddr + memSize > 2 ** 32) throw new LoadError(`${where}: image ${hex(loadAddr)}+${hex(memSize)} does not fit below 4 GiB`);
    if (entryAddr < loadAddr || entryAddr >= loadAddr + memSize) warnings.push(`${where}: entry_addr ${hex(entryAddr)} lies outside the loaded image`);
    info.headerAddress = headerAddr;
    let symbols: LoadedImage['symbols'] = [], lines: LoadedImage['lines'] = [];
    if (isElf(bytes)) {
      try {
        ({ symbols, lines } = elfDebugInfo(parseElf(bytes), warnings));
      } catch (e) {
        if (!(e instanceof LoadError)) throw e;
        warnings.push(`symbols unavailable: ${e.message}`);
      }
    }
    const img: LoadedImage = {
      format: 'multiboot', bits: 32, entry: entryAddr, symbols, lines, multiboot: info,
      segments: [{ paddr: loadAddr, vaddr: loadAddr, data: bytes.subarray(fileStart, fileStart + loadSize), memSize, flags: PF_R | PF_W | PF_X }],
    };
    if (warnings.length > 0) img.warnings = warnings;
    return img;
  }

  if (!isElf(bytes)) throw new LoadError(`${where}: flag 16 (address fields) is clear, so the image must be ELF, and it is not`);
  const elf = parseElf(bytes);
  warnings.push(...elf.warnings);
  const segments = elfSegments(elf);
  for (const s of segments) {
    if (s.paddr + s.memSize > 2 ** 32) throw new LoadError(`Multiboot ELF: segment ${hex(s.paddr)}+${hex(s.memSize)} does not fit below 4 GiB (the kernel starts in 32-bit protected mode)`);
  }
  let entry = elf.entry;
  for (const s of segments) {
    if (s.vaddr !== s.paddr && entry >= s.vaddr && entry < s.vaddr + s.memSize) {
      entry = entry - s.vaddr + s.paddr;
      break;
    }
  }
  if (entry < 0 || entry >= 2 ** 32) throw new LoadError(`Multiboot ELF: entry ${hex(entry)} is not a 32-bit physical address`);
  for (const s of segments) {
    const fileOff = s.data.byteOffset - bytes.byteOffset;
    if (h.offset >= fileOff && h.offset + 12 <= fileOff + s.data.length) info.headerAddress = s.paddr + (h.offset - fileOff);
  }
  const { symbols, lines } = elfDebugInfo(elf, warnings);
  const img: LoadedImage = { format: 'multiboot', bits: 32, entry, segments, symbols, lines, multiboot: info };
  if (warnings.length > 0) img.warnings = warnings;
  return img;
}

/** Size of the boot information structure up to and including the framebuffer fields (§3.3). */
export const MULTIBOOT_INFO_SIZE = 116;
/** Where the memory map starts inside the block written by writeMultibootInfo. */
const MMAP_OFFSET = 0x80;
const MAX_STRING = 4096;

export interface MultibootInfoOptions {
  /** Guest RAM in bytes, contiguous from 0 (minus the legacy holes below 1 MiB). */
  memorySize: number;
  cmdline: string;
  bootloaderName?: string;
  /** End of the kernel and modules loaded above 1 MiB; the info block must not overlap [1 MiB, modulesEnd). */
  modulesEnd?: number;
}

/**
 * Writes the Multiboot boot information (§3.3) at physical `at` and returns `at` (the value
 * for EBX). Layout of the block (callers typically use at = 0x9000, leaving 0x9000..0x9FFF):
 *   at+0x00  multiboot_info (116 bytes, rest of the first 0x80 zero)
 *            flags = mem | cmdline | mods (count 0) | mmap | boot_loader_name
 *   at+0x80  memory map: entries of { size=20, base_addr u64, length u64, type u32 } (§3.3 "mmap")
 *   then     the command line, NUL-terminated
 *   then     the boot loader name, NUL-terminated
 * Memory map: type 1 for 0..0x9FC00 and 0x100000..memorySize, type 2 (reserved) for
 * 0x9FC00..0xA0000 (EBDA) and 0xF0000..0x100000 (BIOS); mem_lower = 639 KiB (0..0x9FC00), mem_upper =
 * KiB from 1 MiB to the end of RAM (there is no hole above 1 MiB in vmscope's map).
 */
export function writeMultibootInfo(mem: LoadTarget, at: number, opts: MultibootInfoOptions): number {
  const { memorySize } = opts;
  if (!Number.isSafeInteger(at) || at < 0) throw new LoadError(`Multiboot info: address ${at} is not a non-negative integer`);
  if (!Number.isSafeInteger(memorySize) || memorySize <= 0) throw new LoadError(`Multiboot info: memory size ${memorySize} is not a positive integer`);
  const cmd = utf8Encode(opts.cmdline);
  const name = utf8Encode(opts.bootloaderName ?? 'vmscope');
  if (cmd.length >= MAX_STRING) throw new LoadError(`Multiboot info: command line is ${cmd.length} bytes, the limit is ${MAX_STRING - 1}`);
  if (name.length >= 256) throw new LoadError(`Multiboot info: boot loader name is ${name.length} bytes, the limit is 255`);

  type Region = [base: number, length: number, type: number];
  const lowTop = Math.min(memorySize, 0x9fc00);
  const regions: Region[] = [[0, lowTop, 1], [0x9fc00, 0x400, 2], [0xf0000, 0x10000, 2]];
  if (memorySize > 0x100000) regions.push([0x100000, memorySize - 0x100000, 1]);

  const mmapLen = regions.length * 24;
  const cmdAt = at + MMAP_OFFSET + mmapLen;
  const nameAt = cmdAt + cmd.length + 1;
  const end = nameAt + name.length + 1;
  if (end > mem.size || end > 2 ** 32) {
    throw new LoadError(`Multiboot info: block ${hex(at)}..${hex(end)} does not fit in guest memory (${mem.size} bytes) below 4 GiB`);
  }
  if (opts.modulesEnd !== undefined && at < opts.modulesEnd && end > 0x100000) {
    throw new LoadError(`Multiboot info: block ${hex(at)}..${hex(end)} overlaps the kernel/modules ending at ${hex(opts.modulesEnd)}`);
  }

  const block = new Uint8Array(end - at);
  const dv = new DataView(block.buffer);
  const w32 = (o: number, v: number): void => dv.setUint32(o, v >>> 0, true);
  const w64 = (o: number, v: number): void => {
    w32(o, v % 2 ** 32);
    w32(o + 4, Math.floor(v / 2 ** 32));
  };
  w32(0, MBI_MEMORY | MBI_CMDLINE | MBI_MODS | MBI_MMAP | MBI_BOOT_LOADER_NAME);
  w32(4, Math.floor(lowTop / 1024)); // mem_lower, KiB: RAM below the EBDA (639 KiB, as QEMU/SeaBIOS report), consistent with the map
  w32(8, Math.min(0xffffffff, Math.floor(Math.max(0, memorySize - 0x100000) / 1024))); // mem_upper, KiB
  w32(12, 0); // boot_device: not given (flag 1 clear)
  w32(16, cmdAt);
  w32(20, 0); // mods_count
  w32(24, at + MMAP_OFFSET); // mods_addr (no entries)
  w32(44, mmapLen);
  w32(48, at + MMAP_OFFSET);
  w32(64, nameAt);
  regions.forEach(([base, len, type], i) => {
    const o = MMAP_OFFSET + i * 24;
    w32(o, 20); // size of the entry, not counting this field
    w64(o + 4, base);
    w64(o + 12, len);
    w32(o + 20, type);
  });
  block.set(cmd, cmdAt - at);
  block.set(name, nameAt - at);
  mem.poke(at, block);
  return at;
}
