// Loader facade: format detection, loadImage for ELF / Multiboot / flat images, placeImage into guest memory.

import type { PhysicalMemory } from '../mem/physmem.js';

/** Where images are placed: guest-physical memory (bare RAM, or the RAM a hypervisor gives its guest). */
export type LoadTarget = Pick<PhysicalMemory, 'size' | 'poke' | 'fill0'>;
import { isElf, loadElf } from './elf.js';
import { loadFlat } from './flat.js';
import { findMultibootHeader, loadMultiboot } from './multiboot.js';
import { hex } from './reader.js';
import { LoadError, LoadedImage } from './types.js';

export { LoadError, PF_R, PF_W, PF_X } from './types.js';
export type { ImageSymbol, LineRow, LoadedImage, LoadSegment, MultibootInfoRequest } from './types.js';
export { LineTable } from './dwarf-line.js';
export { SymbolTable } from './symbols.js';
export { DEFAULT_FLAT_LOAD_ADDRESS } from './flat.js';
export { MULTIBOOT_BOOTLOADER_MAGIC, writeMultibootInfo } from './multiboot.js';

export type ImageFormat = 'elf' | 'multiboot' | 'flat';

export interface LoadOptions {
  format: 'auto' | ImageFormat;
  /** Flat images only (ignored with a warning otherwise). */
  loadAddress?: number;
  /** Overrides the image's entry point. */
  entry?: number;
}

/**
 * ELF with a Multiboot 1 header in its first 8192 bytes -> 'multiboot'; other ELF -> 'elf';
 * a valid Multiboot header alone -> 'multiboot'; anything else -> 'flat'.
 */
export function detectFormat(bytes: Uint8Array): ImageFormat {
  if (findMultibootHeader(bytes) !== undefined) return 'multiboot';
  if (isElf(bytes)) return 'elf';
  return 'flat';
}

export function loadImage(bytes: Uint8Array, opts: LoadOptions): LoadedImage {
  const format = opts.format === 'auto' ? detectFormat(bytes) : opts.format;
  let img: LoadedImage;
  switch (format) {
    case 'elf': img = loadElf(bytes); break;
    case 'multiboot': img = loadMultiboot(bytes); break;
    case 'flat': return loadFlat(bytes, opts.loadAddress, opts.entry);
    default: throw new LoadError(`unknown image format ${JSON.stringify(format)}`);
  }
  if (opts.loadAddress !== undefined) {
    (img.warnings ??= []).push(`loadAddress ${hex(opts.loadAddress)} ignored: a ${format} image says where it loads`);
  }
  if (opts.entry !== undefined) {
    if (!Number.isSafeInteger(opts.entry)) throw new LoadError(`entry ${opts.entry} is not an integer`);
    img.entry = opts.entry;
  }
  return img;
}

/** Copies every segment into guest memory and zeroes its BSS tail (memSize beyond data). */
export function placeImage(img: LoadedImage, mem: LoadTarget): void {
  img.segments.forEach((s, i) => {
    if (s.paddr < 0 || s.memSize < 0 || s.data.length > s.memSize || s.paddr + s.memSize > mem.size) {
      throw new LoadError(
        `${img.format} segment ${i}: ${hex(s.paddr)}+${hex(s.memSize)} lies outside guest memory (${formatSize(mem.size)})`,
      );
    }
  });
  for (const s of img.segments) {
    mem.poke(s.paddr, s.data);
    // fill0 leaves never-written pages unallocated: they already read as zero.
    if (s.memSize > s.data.length) mem.fill0(s.paddr + s.data.length, s.memSize - s.data.length);
  }
}

function formatSize(n: number): string {
  if (n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}
