// ELF32/ELF64 little-endian executable parser (System V gABI ch. 4-5): headers, PT_LOAD segments, sections, .symtab.

import { parseDebugLine } from './dwarf-line.js';
import { hex, Reader, stringAt, u64ToNumber } from './reader.js';
import { ImageSymbol, LoadError, LoadedImage, LoadSegment } from './types.js';

// gABI ch. 4 "ELF Header" constants.
export const ELFCLASS32 = 1, ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const EV_CURRENT = 1;
export const ET_REL = 1, ET_EXEC = 2, ET_DYN = 3, ET_CORE = 4;
export const EM_386 = 3, EM_X86_64 = 62;
// gABI ch. 5 "Program Header".
export const PT_NULL = 0, PT_LOAD = 1;
/** e_phnum value meaning "the real count is in section 0's sh_info" (gABI "Program Header", PN_XNUM). */
const PN_XNUM = 0xffff;
// gABI ch. 4 "Sections".
export const SHT_NULL = 0, SHT_SYMTAB = 2, SHT_STRTAB = 3, SHT_NOBITS = 8;
const SHN_UNDEF = 0, SHN_LORESERVE = 0xff00, SHN_XINDEX = 0xffff;
// gABI ch. 4 "Symbol Table".
export const STT_NOTYPE = 0, STT_OBJECT = 1, STT_FUNC = 2, STT_SECTION = 3, STT_FILE = 4;

/** A guest-physical address space larger than this (MAXPHYADDR 52, SDM vol. 3A §4.1.4) cannot be loaded. */
const MAX_PHYS = 2 ** 52;

export interface ElfProgramHeader {
  index: number;
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  paddr: number;
  filesz: number;
  memsz: number;
  align: number;
}

export interface ElfSection {
  index: number;
  name: string;
  nameOffset: number;
  type: number;
  flags: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  entsize: number;
}

export interface ElfFile {
  bytes: Uint8Array;
  class: 32 | 64;
  type: number;
  machine: number;
  entry: number;
  programHeaders: ElfProgramHeader[];
  sections: ElfSection[];
  /** Damaged section headers found while parsing (sections are optional for loading). */
  warnings: string[];
}

export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

/** Reads an address-sized field: 4 bytes for ELF32, 8 for ELF64. */
function addr(r: Reader, is64: boolean): number {
  return is64 ? r.u64() : r.u32();
}

/** Parses and validates the ELF header, program header table and section header table. */
export function parseElf(bytes: Uint8Array): ElfFile {
  const size = bytes.length;
  if (!isElf(bytes)) throw new LoadError('not an ELF file (no \\x7fELF magic)');
  if (size < 16) throw new LoadError(`ELF header truncated: file is ${size} bytes, e_ident needs 16`);
  const cls = bytes[4];
  if (cls !== ELFCLASS32 && cls !== ELFCLASS64) throw new LoadError(`ELF header: unsupported class ${cls} (EI_CLASS must be 1 for ELF32 or 2 for ELF64)`);
  if (bytes[5] !== ELFDATA2LSB) throw new LoadError(`ELF header: unsupported data encoding ${bytes[5]} (EI_DATA must be 1, little-endian)`);
  if (bytes[6] !== EV_CURRENT) throw new LoadError(`ELF header: unsupported EI_VERSION ${bytes[6]} (must be 1)`);
  const is64 = cls === ELFCLASS64;
  const ehsize = is64 ? 64 : 52;
  if (size < ehsize) throw new LoadError(`ELF header truncated: file is ${size} bytes, the ELF${is64 ? 64 : 32} header needs ${ehsize}`);

  const r = new Reader(bytes, 16, size, 'ELF header');
  const type = r.u16();
  const machine = r.u16();
  const version = r.u32();
  let entry: number;
  try {
    entry = addr(r, is64);
  } catch {
    throw new LoadError('ELF header: e_entry is not a representable address');
  }
  const phoff = addr(r, is64);
  const shoff = addr(r, is64);
  r.u32(); // e_flags
  r.u16(); // e_ehsize
  const phentsize = r.u16();
  let phnum = r.u16();
  const shentsize = r.u16();
  let shnum = r.u16();
  let shstrndx = r.u16();

  if (type !== ET_EXEC && type !== ET_DYN) {
    const what = type === ET_REL ? 'a relocatable object (ET_REL); link it first' : type === ET_CORE ? 'a core dump (ET_CORE)' : `of type ${type}`;
    throw new LoadError(`ELF header: file is ${what}; only executables (ET_EXEC, ET_DYN) can be loaded`);
  }
  const wantMachine = is64 ? EM_X86_64 : EM_386;
  if (machine !== EM_386 && machine !== EM_X86_64) {
    throw new LoadError(`ELF header: unsupported machine ${machine} (e_machine must be 3 EM_386 or 62 EM_X86_64)`);
  }
  if (machine !== wantMachine && !(is64 === false && machine === EM_X86_64)) {
    // ELF64 + EM_386 is meaningless; ELF32 + EM_X86_64 is the x32 ABI and loads like ELF32.
    throw new LoadError(`ELF header: machine ${machine} does not match ELF${is64 ? 64 : 32} class`);
  }
  if (version !== EV_CURRENT) throw new LoadError(`ELF header: unsupported e_version ${version} (must be 1)`);

  // Section header table first: PN_XNUM / SHN_XINDEX keep their real values in section 0.
  // Sections only feed symbols and debug info, so a damaged table is a warning, not an error.
  const warnings: string[] = [];
  const sections: ElfSection[] = [];
  const shEnt = is64 ? 64 : 40;
  if (shoff !== 0) {
    if (shentsize < shEnt) {
      warnings.push(`ELF header: e_shentsize ${shentsize} is smaller than a section header (${shEnt}); sections ignored`);
    } else if (shoff < 0 || shoff + shentsize > size) {
      warnings.push(`ELF section header table at ${hex(shoff)} lies outside the file (${size} bytes); sections ignored`);
    } else {
      const s0 = readSection(bytes, shoff, is64, 0);
      if (shnum === 0) shnum = s0.size;
      if (shstrndx === SHN_XINDEX) shstrndx = s0.link;
      if (phnum === PN_XNUM) phnum = s0.info;
      if (shoff + shnum * shentsize > size) {
        warnings.push(`ELF section header table: ${shnum} entries of ${shentsize} bytes at ${hex(shoff)} run past the end of the file (${size} bytes); sections ignored`);
      } else {
        for (let i = 0; i < shnum; i++) {
          const s = readSection(bytes, shoff + i * shentsize, is64, i);
          if (s.type !== SHT_NOBITS && s.type !== SHT_NULL && (s.offset < 0 || s.size < 0 || s.offset > size || s.size > size - s.offset)) {
            warnings.push(`ELF section ${i}: data ${hex(s.offset)}+${hex(s.size)} lies outside the file (${size} bytes); ignored`);
            s.type = SHT_NULL;
          }
          sections.push(s);
        }
        if (shstrndx !== SHN_UNDEF && shnum > 0) {
          const strs = sections[shstrndx];
          if (strs === undefined || strs.type !== SHT_STRTAB) {
            warnings.push(`ELF header: e_shstrndx ${shstrndx} is not a string table; section names unknown`);
          } else {
            const table = bytes.subarray(strs.offset, strs.offset + strs.size);
            for (const s of sections) s.name = stringAt(table, s.nameOffset) ?? '';
          }
        }
      }
    }
  }
  if (phnum === PN_XNUM) throw new LoadError('ELF header: e_phnum is PN_XNUM but section 0 (which holds the real count) is unreadable');

  // Program header table (gABI ch. 5). Fields that do not fit a number are NaN; only PT_LOAD needs them.
  const phEnt = is64 ? 56 : 32;
  const programHeaders: ElfProgramHeader[] = [];
  if (phnum > 0) {
    if (phentsize < phEnt) throw new LoadError(`ELF header: e_phentsize ${phentsize} is smaller than a program header (${phEnt})`);
    if (phoff < 0 || phoff > size || phnum * phentsize > size - phoff) {
      throw new LoadError(`ELF program header table: ${phnum} entries of ${phentsize} bytes at ${hex(phoff)} run past the end of the file (${size} bytes)`);
    }
    for (let i = 0; i < phnum; i++) {
      const pr = new Reader(bytes, phoff + i * phentsize, size, `ELF program header ${i}`);
      const w = (): number => {
        if (!is64) return pr.u32();
        const lo = pr.u32(), hi = pr.u32();
        return u64ToNumber(lo, hi) ?? NaN;
      };
      let ph: ElfProgramHeader;
      if (is64) {
        const type = pr.u32(), flags = pr.u32();
        const offset = w(), vaddr = w(), paddr = w(), filesz = w(), memsz = w(), align = w();
        ph = { index: i, type, flags, offset, vaddr, paddr, filesz, memsz, align };
      } else {
        const type = pr.u32(), offset = w(), vaddr = w(), paddr = w(), filesz = w(), memsz = w(), flags = pr.u32(), align = w();
        ph = { index: i, type, flags, offset, vaddr, paddr, filesz, memsz, align };
      }
      programHeaders.push(ph);
    }
  }
  return { bytes, class: is64 ? 64 : 32, type, machine, entry, programHeaders, sections, warnings };
}

function readSection(bytes: Uint8Array, off: number, is64: boolean, index: number): ElfSection {
  const r = new Reader(bytes, off, bytes.length, `ELF section header ${index}`);
  const nameOff = r.u32();
  const type = r.u32();
  // Sizes in ELF64 section headers may be absurd (hostile); keep them but make them unusable.
  const big = (): number => {
    if (!is64) return r.u32();
    const lo = r.u32(), hi = r.u32();
    return u64ToNumber(lo, hi) ?? Number.MAX_SAFE_INTEGER;
  };
  const flags = big();
  const addrV = big();
  const offset = big();
  const size = big();
  const link = r.u32();
  const info = r.u32();
  big(); // sh_addralign
  const entsize = big();
  return { index, name: '', nameOffset: nameOff, type, flags, addr: addrV, offset, size, link, info, entsize };
}

/** The section's bytes (empty for SHT_NOBITS). Bounds were checked by parseElf. */
export function sectionData(elf: ElfFile, s: ElfSection): Uint8Array {
  if (s.type === SHT_NOBITS || s.type === SHT_NULL) return new Uint8Array(0);
  return elf.bytes.subarray(s.offset, s.offset + s.size);
}

export function findSection(elf: ElfFile, name: string): ElfSection | undefined {
  return elf.sections.find((s) => s.name === name);
}

/**
 * PT_LOAD segments as LoadSegments (gABI ch. 5). The physical address is p_paddr, as QEMU's
 * and GRUB's loaders use; when p_paddr is 0 and p_vaddr is a plausible physical address,
 * p_vaddr is used instead (some linkers leave p_paddr zero).
 */
export function elfSegments(elf: ElfFile): LoadSegment[] {
  const size = elf.bytes.length;
  const segs: LoadSegment[] = [];
  for (const ph of elf.programHeaders) {
    if (ph.type !== PT_LOAD) continue;
    const where = `ELF program header ${ph.index}`;
    for (const [k, v] of [['p_offset', ph.offset], ['p_vaddr', ph.vaddr], ['p_paddr', ph.paddr], ['p_filesz', ph.filesz], ['p_memsz', ph.memsz]] as const) {
      if (Number.isNaN(v)) throw new LoadError(`${where}: ${k} is not a representable 64-bit value`);
    }
    if (ph.filesz < 0 || ph.memsz < 0 || ph.offset < 0) throw new LoadError(`${where}: p_offset/p_filesz/p_memsz is not a valid size`);
    if (ph.filesz > ph.memsz) throw new LoadError(`${where}: p_filesz ${hex(ph.filesz)} is larger than p_memsz ${hex(ph.memsz)}`);
    if (ph.offset > size || ph.filesz > size - ph.offset) {
      throw new LoadError(`${where}: segment data ${hex(ph.offset)}+${hex(ph.filesz)} lies outside the file (${size} bytes)`);
    }
    let paddr = ph.paddr;
    if (paddr === 0 && ph.vaddr > 0 && ph.vaddr + ph.memsz <= MAX_PHYS) paddr = ph.vaddr;
    if (paddr < 0 || paddr + ph.memsz > MAX_PHYS) {
      throw new LoadError(`${where}: segment ${hex(paddr)}+${hex(ph.memsz)} lies beyond the 2^52 physical address space`);
    }
    segs.push({ paddr, vaddr: ph.vaddr, data: elf.bytes.subarray(ph.offset, ph.offset + ph.filesz), memSize: ph.memsz, flags: ph.flags & 7 });
  }
  if (segs.length === 0) throw new LoadError('ELF: no loadable segment (no PT_LOAD program header)');
  checkOverlap(segs, 'ELF program headers');
  return segs;
}

/** Rejects segments whose physical ranges overlap (empty segments are ignored). */
export function checkOverlap(segs: LoadSegment[], what: string): void {
  const nonEmpty = segs.map((s, i) => ({ s, i })).filter((x) => x.s.memSize > 0).sort((a, b) => a.s.paddr - b.s.paddr);
  for (let k = 1; k < nonEmpty.length; k++) {
    const a = nonEmpty[k - 1], b = nonEmpty[k];
    if (a.s.paddr + a.s.memSize > b.s.paddr) {
      throw new LoadError(`${what}: segment ${hex(a.s.paddr)}+${hex(a.s.memSize)} overlaps segment ${hex(b.s.paddr)}+${hex(b.s.memSize)}`);
    }
  }
}

/** STT_FUNC / STT_OBJECT / STT_NOTYPE symbols of .symtab (section and file symbols skipped), sorted by address. */
export function elfSymbols(elf: ElfFile, warnings: string[]): ImageSymbol[] {
  const out: ImageSymbol[] = [];
  const symtab = elf.sections.find((s) => s.type === SHT_SYMTAB);
  if (symtab === undefined) return out;
  const is64 = elf.class === 64;
  const ent = is64 ? 24 : 16;
  if (symtab.entsize !== 0 && symtab.entsize !== ent) {
    warnings.push(`.symtab: entry size ${symtab.entsize} is not ${ent}; symbols skipped`);
    return out;
  }
  const strSec = elf.sections[symtab.link];
  if (strSec === undefined || strSec.type !== SHT_STRTAB) {
    warnings.push(`.symtab: sh_link ${symtab.link} is not a string table; symbols skipped`);
    return out;
  }
  const strs = sectionData(elf, strSec);
  const data = sectionData(elf, symtab);
  const count = Math.floor(data.length / ent);
  const r = new Reader(data, 0, data.length, '.symtab');
  let badNames = 0, badValues = 0;
  for (let i = 0; i < count; i++) {
    r.pos = i * ent;
    let nameOff: number, value: number | undefined, size: number | undefined, info: number, shndx: number;
    if (is64) {
      nameOff = r.u32(); info = r.u8(); r.u8(); shndx = r.u16();
      const vlo = r.u32(), vhi = r.u32();
      value = u64ToNumber(vlo, vhi);
      const slo = r.u32(), shi = r.u32();
      size = u64ToNumber(slo, shi);
    } else {
      nameOff = r.u32(); value = r.u32(); size = r.u32(); info = r.u8(); r.u8(); shndx = r.u16();
    }
    const stt = info & 0xf;
    if (i === 0 || stt === STT_SECTION || stt === STT_FILE || shndx === SHN_UNDEF) continue;
    if (stt !== STT_FUNC && stt !== STT_OBJECT && stt !== STT_NOTYPE) continue;
    if (shndx >= SHN_LORESERVE && shndx !== 0xfff1 /* SHN_ABS */ && shndx !== SHN_XINDEX) continue; // SHN_COMMON etc.
    const name = stringAt(strs, nameOff);
    if (name === undefined) { badNames++; continue; }
    if (name === '') continue;
    if (value === undefined || size === undefined || size < 0) { badValues++; continue; }
    out.push({ name, address: value, size, kind: stt === STT_FUNC ? 'function' : stt === STT_OBJECT ? 'object' : 'other' });
  }
  if (badNames > 0) warnings.push(`.symtab: ${badNames} symbol(s) with a name outside the string table skipped`);
  if (badValues > 0) warnings.push(`.symtab: ${badValues} symbol(s) with an unrepresentable value or size skipped`);
  out.sort((a, b) => a.address - b.address || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return out;
}

/** Symbols and line rows of an ELF file; problems become warnings, never errors. */
export function elfDebugInfo(elf: ElfFile, warnings: string[]): Pick<LoadedImage, 'symbols' | 'lines'> {
  const symbols = elfSymbols(elf, warnings);
  const dl = findSection(elf, '.debug_line');
  let lines: LoadedImage['lines'] = [];
  if (dl !== undefined && dl.type !== SHT_NOBITS) {
    const ls = findSection(elf, '.debug_line_str');
    const st = findSection(elf, '.debug_str');
    const res = parseDebugLine(sectionData(elf, dl), {
      lineStr: ls === undefined ? undefined : sectionData(elf, ls),
      str: st === undefined ? undefined : sectionData(elf, st),
      addressSize: elf.class === 64 ? 8 : 4,
    });
    lines = res.rows;
    warnings.push(...res.warnings);
  }
  return { symbols, lines };
}

/** Loads an ELF executable: PT_LOAD segments at their physical addresses, entry, symbols, lines. */
export function loadElf(bytes: Uint8Array): LoadedImage {
  const elf = parseElf(bytes);
  const segments = elfSegments(elf);
  const warnings = [...elf.warnings];
  const { symbols, lines } = elfDebugInfo(elf, warnings);
  const img: LoadedImage = { format: 'elf', bits: elf.class, entry: elf.entry, segments, symbols, lines };
  if (warnings.length > 0) img.warnings = warnings;
  return img;
}
