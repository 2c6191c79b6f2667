// DWARF .debug_line decoder (versions 2-5, DWARF 5 §6.2) into LineRows, and LineTable for address <-> line lookups.

import { hex, Reader, stringAt } from './reader.js';
import { LineRow, LoadError } from './types.js';

// Standard opcodes (DWARF 5 §6.2.5.2, table 7.25).
const DW_LNS_copy = 1, DW_LNS_advance_pc = 2, DW_LNS_advance_line = 3, DW_LNS_set_file = 4, DW_LNS_set_column = 5,
  DW_LNS_negate_stmt = 6, DW_LNS_set_basic_block = 7, DW_LNS_const_add_pc = 8, DW_LNS_fixed_advance_pc = 9,
  DW_LNS_set_prologue_end = 10, DW_LNS_set_epilogue_begin = 11, DW_LNS_set_isa = 12;
// Extended opcodes (§6.2.5.3, table 7.26).
const DW_LNE_end_sequence = 1, DW_LNE_set_address = 2, DW_LNE_define_file = 3, DW_LNE_set_discriminator = 4;
// Line number header entry formats (§6.2.4.1, table 7.27).
const DW_LNCT_path = 1, DW_LNCT_directory_index = 2;
// Attribute forms usable in entry formats (§7.5.6, table 7.6).
const DW_FORM_block2 = 0x03, DW_FORM_block4 = 0x04, DW_FORM_data2 = 0x05, DW_FORM_data4 = 0x06, DW_FORM_data8 = 0x07,
  DW_FORM_string = 0x08, DW_FORM_block = 0x09, DW_FORM_block1 = 0x0a, DW_FORM_data1 = 0x0b, DW_FORM_sdata = 0x0d,
  DW_FORM_strp = 0x0e, DW_FORM_udata = 0x0f, DW_FORM_line_strp = 0x1f, DW_FORM_strx = 0x1a, DW_FORM_data16 = 0x1e,
  DW_FORM_strx1 = 0x25, DW_FORM_strx2 = 0x26, DW_FORM_strx3 = 0x27, DW_FORM_strx4 = 0x28;

export interface DebugLineSections {
  /** .debug_line_str (DW_FORM_line_strp). */
  lineStr?: Uint8Array;
  /** .debug_str (DW_FORM_strp). */
  str?: Uint8Array;
  /** Address size of the target when a v2-4 header does not say (4 for ELF32, 8 for ELF64). */
  addressSize?: number;
}

export interface DebugLineResult {
  rows: LineRow[];
  warnings: string[];
}

/** Joins a directory and a file name the way DWARF means it: an absolute name stands alone. */
export function joinPath(dir: string | undefined, name: string): string {
  if (dir === undefined || dir === '' || name.startsWith('/') || /^[A-Za-z]:[\\/]/.test(name)) return name;
  return dir.endsWith('/') || dir.endsWith('\\') ? dir + name : dir + '/' + name;
}

interface UnitHeader {
  version: number;
  offsetSize: 4 | 8;
  minInstLength: number;
  maxOpsPerInst: number;
  defaultIsStmt: boolean;
  lineBase: number;
  lineRange: number;
  opcodeBase: number;
  stdLengths: number[];
  /** Full paths; index as the line program does (v5: 0-based, v2-4: 1-based with [0] unused). */
  files: string[];
  dirs: string[];
  programStart: number;
  unitEnd: number;
}

/**
 * Decodes every line-number program in `.debug_line`. A malformed unit is skipped with a
 * warning; if its length field is unusable, decoding stops there. Work is bounded by the
 * section size: each opcode consumes at least one byte and emits at most one row.
 */
export function parseDebugLine(data: Uint8Array, secs: DebugLineSections = {}): DebugLineResult {
  const warnings: string[] = [];
  const sequences: LineRow[][] = [];
  let off = 0;
  while (off < data.length) {
    // unit_length (§7.4: 0xffffffff escapes to 64-bit DWARF)
    let unitEnd: number;
    let offsetSize: 4 | 8 = 4;
    try {
      const r = new Reader(data, off, data.length, `.debug_line unit at ${hex(off)}`);
      let len = r.u32();
      if (len === 0xffffffff) {
        len = r.u64();
        offsetSize = 8;
      } else if (len >= 0xfffffff0) {
        throw new LoadError(`.debug_line unit at ${hex(off)}: reserved unit_length ${hex(len)}`);
      }
      unitEnd = r.pos + len;
      if (unitEnd > data.length) throw new LoadError(`.debug_line unit at ${hex(off)}: unit_length ${hex(len)} runs past the section end (${hex(data.length)})`);
    } catch (e) {
      warnings.push(errorText(e) + '; rest of .debug_line skipped');
      break;
    }
    try {
      const h = parseHeader(data, off, offsetSize, unitEnd, secs, warnings);
      runProgram(data, h, secs.addressSize ?? 4, off, sequences, warnings);
    } catch (e) {
      warnings.push(errorText(e) + '; unit skipped');
    }
    off = unitEnd;
  }
  // Sequences by start address (stable), rows by address inside each (DWARF requires non-decreasing).
  for (const s of sequences) stableSortByAddress(s);
  sequences.sort((a, b) => a[0].address - b[0].address);
  const rows: LineRow[] = [];
  for (const s of sequences) for (const row of s) rows.push(row);
  return { rows, warnings };
}

function errorText(e: unknown): string {
  if (e instanceof LoadError) return e.message;
  throw e; // a bug in this decoder, not bad input: let it surface
}

function stableSortByAddress(rows: LineRow[]): void {
  for (let i = 1; i < rows.length; i++) {
    if (rows[i].address < rows[i - 1].address) {
      const idx = rows.map((r, k) => [r, k] as const);
      idx.sort((a, b) => a[0].address - b[0].address || a[1] - b[1]);
      for (let k = 0; k < rows.length; k++) rows[k] = idx[k][0];
      return;
    }
  }
}

/** Line program header (§6.2.4). */
function parseHeader(data: Uint8Array, unitOff: number, offsetSize: 4 | 8, unitEnd: number, secs: DebugLineSections, warnings: string[]): UnitHeader {
  const what = `.debug_line unit at ${hex(unitOff)}`;
  const r = new Reader(data, unitOff + (offsetSize === 8 ? 12 : 4), unitEnd, what);
  const version = r.u16();
  if (version < 2 || version > 5) throw new LoadError(`${what}: unsupported version ${version}`);
  if (version >= 5) {
    const addressSize = r.u8();
    const segSelSize = r.u8();
    if (addressSize !== 4 && addressSize !== 8 && addressSize !== 2) throw new LoadError(`${what}: unsupported address_size ${addressSize}`);
    if (segSelSize !== 0) throw new LoadError(`${what}: segment selectors (size ${segSelSize}) are not supported`);
  }
  const headerLength = offsetSize === 8 ? r.u64() : r.u32();
  const programStart = r.pos + headerLength;
  if (programStart > unitEnd) throw new LoadError(`${what}: header_length ${hex(headerLength)} runs past the unit end`);
  const hr = new Reader(data, r.pos, programStart, what);
  const minInstLength = hr.u8();
  const maxOpsPerInst = version >= 4 ? hr.u8() : 1;
  const defaultIsStmt = hr.u8() !== 0;
  const lineBase = hr.s8();
  const lineRange = hr.u8();
  const opcodeBase = hr.u8();
  if (lineRange === 0) throw new LoadError(`${what}: line_range is 0`);
  if (maxOpsPerInst === 0) throw new LoadError(`${what}: maximum_operations_per_instruction is 0`);
  if (opcodeBase === 0) throw new LoadError(`${what}: opcode_base is 0`);
  const stdLengths: number[] = [0];
  for (let i = 1; i < opcodeBase; i++) stdLengths.push(hr.u8());

  const dirs: string[] = [];
  const files: string[] = [];
  if (version <= 4) {
    // include_directories: sequence of strings ended by an empty one; index 0 = compilation dir (not stored here).
    dirs.push('');
    for (;;) {
      const d = hr.cstr();
      if (d === '') break;
      dirs.push(d);
    }
    files.push(''); // file 0 is not used before DWARF 5
    for (;;) {
      const name = hr.cstr();
      if (name === '') break;
      const dir = hr.uleb();
      hr.uleb(); // mtime
      hr.uleb(); // length
      files.push(joinPath(dirs[dir], name));
    }
  } else {
    const dirFormats = readFormats(hr);
    const dirCount = hr.uleb();
    for (let i = 0; i < dirCount; i++) {
      if (hr.left <= 0) throw new LoadError(`${what}: directory table claims ${dirCount} entries`);
      const e = readEntry(hr, dirFormats, offsetSize, secs, what);
      dirs.push(e.path ?? '');
    }
    const fileFormats = readFormats(hr);
    const fileCount = hr.uleb();
    for (let i = 0; i < fileCount; i++) {
      if (hr.left <= 0) throw new LoadError(`${what}: file table claims ${fileCount} entries`);
      const e = readEntry(hr, fileFormats, offsetSize, secs, what);
      const dir = e.dir ?? 0;
      if (dirs[dir] === undefined && warnings.length < 1000) warnings.push(`${what}: file ${i} names directory ${dir}, which does not exist`);
      files.push(joinPath(dirs[dir], e.path ?? ''));
    }
  }
  return { version, offsetSize, minInstLength, maxOpsPerInst, defaultIsStmt, lineBase, lineRange, opcodeBase, stdLengths, files, dirs, programStart, unitEnd };
}

function readFormats(r: Reader): [number, number][] {
  const count = r.u8();
  const f: [number, number][] = [];
  for (let i = 0; i < count; i++) f.push([r.uleb(), r.uleb()]);
  return f;
}

/** One directory or file entry of a v5 header: reads every described field, keeps path and directory index. */
function readEntry(r: Reader, formats: [number, number][], offsetSize: 4 | 8, secs: DebugLineSections, what: string): { path?: string; dir?: number } {
  const out: { path?: string; dir?: number } = {};
  for (const [content, form] of formats) {
    let str: string | undefined;
    let num: number | undefined;
    switch (form) {
      case DW_FORM_string: str = r.cstr(); break;
      case DW_FORM_line_strp:
      case DW_FORM_strp: {
        const o = offsetSize === 8 ? r.u64() : r.u32();
        const table = form === DW_FORM_line_strp ? secs.lineStr : secs.str;
        const name = form === DW_FORM_line_strp ? '.debug_line_str' : '.debug_str';
        if (table === undefined) throw new LoadError(`${what}: string in ${name}, which is missing`);
        str = stringAt(table, o);
        if (str === undefined) throw new LoadError(`${what}: string offset ${hex(o)} outside ${name}`);
        break;
      }
      case DW_FORM_strx: case DW_FORM_strx1: case DW_FORM_strx2: case DW_FORM_strx3: case DW_FORM_strx4:
        // Needs .debug_str_offsets and the CU's str_offsets_base: not resolvable from .debug_line alone.
        if (form === DW_FORM_strx) r.uleb(); else r.skip(form === DW_FORM_strx1 ? 1 : form === DW_FORM_strx2 ? 2 : form === DW_FORM_strx3 ? 3 : 4);
        str = '?';
        break;
      case DW_FORM_udata: num = r.uleb(); break;
      case DW_FORM_sdata: num = r.sleb(); break;
      case DW_FORM_data1: num = r.u8(); break;
      case DW_FORM_data2: num = r.u16(); break;
      case DW_FORM_data4: num = r.u32(); break;
      case DW_FORM_data8: r.skip(8); num = -1; break; // only timestamps/sizes use it here
      case DW_FORM_data16: r.skip(16); break; // MD5
      case DW_FORM_block: r.skip(r.uleb()); break;
      case DW_FORM_block1: r.skip(r.u8()); break;
      case DW_FORM_block2: r.skip(r.u16()); break;
      case DW_FORM_block4: r.skip(r.u32()); break;
      default: throw new LoadError(`${what}: unsupported form ${hex(form)} in an entry format`);
    }
    if (content === DW_LNCT_path) {
      if (str === undefined) throw new LoadError(`${what}: DW_LNCT_path with non-string form ${hex(form)}`);
      out.path = str;
    } else if (content === DW_LNCT_directory_index) {
      if (num === undefined || num < 0) throw new LoadError(`${what}: DW_LNCT_directory_index with form ${hex(form)}`);
      out.dir = num;
    }
  }
  return out;
}

/** Runs the line-number state machine (§6.2.2, §6.2.5) and appends finished sequences. */
function runProgram(data: Uint8Array, h: UnitHeader, defaultAddressSize: number, unitOff: number, sequences: LineRow[][], warnings: string[]): void {
  const what = `.debug_line unit at ${hex(unitOff)}`;
  const r = new Reader(data, h.programStart, h.unitEnd, what);
  const fileName = (n: number): string => h.files[n] ?? (h.version >= 5 || n > 0 ? `<file ${n}>` : '<file 0>');
  // Registers (§6.2.2 table 6.3).
  let address = 0, opIndex = 0, file = 1, line = 1, column = 0, isStmt = h.defaultIsStmt;
  let rows: LineRow[] = [];
  let badFile = false;
  const reset = (): void => {
    address = 0; opIndex = 0; file = 1; line = 1; column = 0; isStmt = h.defaultIsStmt;
  };
  const emit = (end: boolean): void => {
    if (h.files[file] === undefined) badFile = true;
    rows.push({ address, file: fileName(file), line, column, isStmt, endSequence: end });
  };
  // Operation advance (§6.2.5.1): VLIW op_index is kept; address moves by whole instructions.
  const advance = (opAdvance: number): void => {
    if (h.maxOpsPerInst === 1) {
      address += h.minInstLength * opAdvance;
    } else {
      const t = opIndex + opAdvance;
      address += h.minInstLength * Math.floor(t / h.maxOpsPerInst);
      opIndex = t % h.maxOpsPerInst;
    }
    if (!Number.isSafeInteger(address)) throw new LoadError(`${what}: address overflow at offset ${hex(r.pos)}`);
  };
  while (r.left > 0) {
    const op = r.u8();
    if (op >= h.opcodeBase) {
      // Special opcode (§6.2.5.1).
      const adj = op - h.opcodeBase;
      advance(Math.floor(adj / h.lineRange));
      line += h.lineBase + (adj % h.lineRange);
      emit(false);
    } else if (op === 0) {
      const len = r.uleb();
      if (len === 0) continue;
      if (len > r.left) throw new LoadError(`${what}: extended opcode length ${len} at ${hex(r.pos)} runs past the unit end`);
      const next = r.pos + len;
      const sub = r.u8();
      switch (sub) {
        case DW_LNE_end_sequence:
          emit(true);
          sequences.push(rows);
          rows = [];
          reset();
          break;
        case DW_LNE_set_address: {
          const n = len - 1;
          if (n !== 8 && n !== 4 && n !== 2) throw new LoadError(`${what}: DW_LNE_set_address with a ${n}-byte operand`);
          address = r.uN(n);
          opIndex = 0;
          break;
        }
        case DW_LNE_define_file: {
          const name = r.cstr();
          const dir = r.uleb();
          h.files.push(joinPath(h.dirs[dir], name));
          break;
        }
        case DW_LNE_set_discriminator:
          break;
        default:
          break; // unknown extended opcodes are skipped by their length
      }
      r.pos = next;
    } else {
      switch (op) {
        case DW_LNS_copy: emit(false); break;
        case DW_LNS_advance_pc: advance(r.uleb()); break;
        case DW_LNS_advance_line: line += r.sleb(); break;
        case DW_LNS_set_file: file = r.uleb(); break;
        case DW_LNS_set_column: column = r.uleb(); break;
        case DW_LNS_negate_stmt: isStmt = !isStmt; break;
        case DW_LNS_set_basic_block: break;
        case DW_LNS_const_add_pc: advance(Math.floor((255 - h.opcodeBase) / h.lineRange)); break;
        case DW_LNS_fixed_advance_pc: address += r.u16(); opIndex = 0; break;
        case DW_LNS_set_prologue_end: case DW_LNS_set_epilogue_begin: break;
        case DW_LNS_set_isa: r.uleb(); break;
        default:
          // Unknown standard opcode: skip its ULEB128 operands (§6.2.5.2, standard_opcode_lengths).
          for (let k = 0; k < h.stdLengths[op]; k++) r.uleb();
      }
      if (!Number.isSafeInteger(line) || line < 0) line = 0;
    }
  }
  if (rows.length > 0) {
    warnings.push(`${what}: last sequence has no DW_LNE_end_sequence; its ${rows.length} row(s) kept`);
    sequences.push(rows);
  }
  if (badFile) warnings.push(`${what}: rows name a file index missing from the file table`);
}

/** Address <-> source line lookups over LineRows, for breakpoints and stack frames. */
export class LineTable {
  /** Non-empty address ranges [start, end) each described by one row, sorted by start. */
  private readonly ranges: { start: number; end: number; row: LineRow }[] = [];
  private readonly rows: LineRow[];
  private readonly fileNames: string[];

  constructor(rows: LineRow[]) {
    this.rows = rows;
    const files = new Set<string>();
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      if (row.endSequence) continue;
      files.add(row.file);
      const next = rows[i + 1];
      if (next === undefined || next.address <= row.address) continue;
      this.ranges.push({ start: row.address, end: next.address, row });
    }
    this.ranges.sort((a, b) => a.start - b.start);
    this.fileNames = [...files];
  }

  /** The row whose address range covers `address` (the last row at that address), or undefined. */
  lineFor(address: number): LineRow | undefined {
    const rs = this.ranges;
    let lo = 0, hi = rs.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (rs[mid].start <= address) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    if (found < 0) return undefined;
    return address < rs[found].end ? rs[found].row : undefined;
  }

  /** Files known to the table whose path matches `file` (exact path, then path suffix, then basename). */
  matchFiles(file: string): string[] {
    const q = normalize(file);
    const exact = this.fileNames.filter((f) => normalize(f) === q);
    if (exact.length > 0) return exact;
    const suffix = this.fileNames.filter((f) => {
      const n = normalize(f);
      return n.endsWith('/' + q) || q.endsWith('/' + n);
    });
    if (suffix.length > 0) return suffix;
    const base = basename(q);
    return this.fileNames.filter((f) => basename(normalize(f)) === base);
  }

  /**
   * Start addresses of the statements of `line` in `file`: every is_stmt row for that line whose
   * predecessor in its sequence is a different line or file (one address per block of code).
   */
  addressesFor(file: string, line: number): number[] {
    const files = new Set(this.matchFiles(file));
    const out = new Set<number>();
    let prev: LineRow | undefined;
    for (const row of this.rows) {
      if (!row.endSequence && row.isStmt && row.line === line && files.has(row.file)) {
        if (prev === undefined || prev.endSequence || prev.line !== line || prev.file !== row.file) out.add(row.address);
      }
      prev = row;
    }
    return [...out].sort((a, b) => a - b);
  }
}

function normalize(p: string): string {
  return p.replace(/\\/g, '/').replace(/\/\.\//g, '/').replace(/^\.\//, '');
}

function basename(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? p : p.slice(i + 1);
}
