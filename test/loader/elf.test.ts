// ELF loader and DWARF line decoder checked against readelf, llvm-dwarfdump and addr2line on binaries built by gcc and nasm.

import { beforeAll, describe, expect, it } from 'vitest';
import { detectFormat, LineTable, loadImage, placeImage, SymbolTable } from '../../emulator/loader/image.js';
import { PhysicalMemory } from '../../emulator/mem/physmem.js';
import { join } from 'node:path';
import {
  addr2line, buildC, buildNasm, dwarfdumpLines, read, readelfDecodedLines, readelfSegments, readelfSymbols, run, source, TMP,
} from './fixtures.js';

/** relDir0: the producer names the main file relative to DW_AT_comp_dir (directory 0 before DWARF 5), which lives in .debug_info, not in the line table. */
interface Case { name: string; bits: 32 | 64; build: () => string; relDir0?: boolean }

const CASES: Case[] = [
  { name: 'gcc -m32 -gdwarf-4 -O1', bits: 32, build: () => buildC('c32-dw4', ['-m32', '-g', '-gdwarf-4', '-O1', '-Wl,-Ttext=0x100000']) },
  { name: 'gcc -m32 -gdwarf-5 -O2', bits: 32, build: () => buildC('c32-dw5', ['-m32', '-g', '-gdwarf-5', '-O2', '-Wl,-Ttext=0x100000']) },
  { name: 'gcc -m64 -gdwarf-5 -O1', bits: 64, build: () => buildC('c64-dw5', ['-g', '-gdwarf-5', '-O1']) },
  { name: 'gcc -m64 -gdwarf-4 -O0', bits: 64, build: () => buildC('c64-dw4', ['-g', '-gdwarf-4', '-O0', '-Wl,-Ttext=0x200000']) },
  { name: 'gcc -m64 -gdwarf-3 -O2', bits: 64, build: () => buildC('c64-dw3', ['-g', '-gdwarf-3', '-O2']) },
  { name: 'gcc -m32 -gdwarf-2 -O1', bits: 32, build: () => buildC('c32-dw2', ['-m32', '-g', '-gdwarf-2', '-O1']) },
  { name: 'gcc -m64 -gdwarf-5 -gdwarf64', bits: 64, build: () => buildC('c64-dwarf64', ['-g', '-gdwarf-5', '-gdwarf64', '-O1']) },
  { name: 'clang -m64 -gdwarf-5 (MD5, line_strp) + lld', bits: 64, build: () => buildC('cl64-dw5', ['-g', '-gdwarf-5', '-O1', '-fuse-ld=lld'], 'clang') },
  { name: 'clang -m32 -gdwarf-4', bits: 32, build: () => buildC('cl32-dw4', ['-m32', '-g', '-gdwarf-4', '-O0'], 'clang'), relDir0: true },
  { name: 'nasm -f elf32 -g -F dwarf', bits: 32, build: () => buildNasm('n32', 32) },
  { name: 'nasm -f elf64 -g -F dwarf', bits: 64, build: () => buildNasm('n64', 64) },
];

describe.each(CASES)('$name', ({ name, bits, build, relDir0 }) => {
  let path = '';
  let bytes: Uint8Array;
  beforeAll(() => {
    path = build();
    bytes = read(path);
  });

  it('is detected as ELF and has the class of the build', () => {
    expect(detectFormat(bytes)).toBe('elf');
    const img = loadImage(bytes, { format: 'auto' });
    expect(img.format).toBe('elf');
    expect(img.bits).toBe(bits);
    expect(img.warnings).toBeUndefined();
  });

  it('segments and entry equal readelf -lW', () => {
    const img = loadImage(bytes, { format: 'elf' });
    const ref = readelfSegments(path);
    expect(img.entry).toBe(ref.entry);
    expect(img.segments.map((s) => ({ vaddr: s.vaddr, paddr: s.paddr, filesz: s.data.length, memsz: s.memSize, flags: s.flags }))).toEqual(
      ref.loads.map((l) => ({ vaddr: l.vaddr, paddr: l.paddr, filesz: l.filesz, memsz: l.memsz, flags: l.flags })),
    );
    // The data is the file's bytes at p_offset.
    img.segments.forEach((s, i) => expect(Buffer.from(s.data).equals(Buffer.from(bytes.subarray(ref.loads[i].offset, ref.loads[i].offset + ref.loads[i].filesz)))).toBe(true));
  });

  it('symbols equal readelf -sW', () => {
    const img = loadImage(bytes, { format: 'elf' });
    expect(img.symbols).toEqual(readelfSymbols(path));
    expect(img.symbols.length).toBeGreaterThan(3);
  });

  it('line rows equal llvm-dwarfdump --debug-line (address, file path, line, column, is_stmt, end_sequence)', () => {
    const img = loadImage(bytes, { format: 'elf' });
    const ref = dwarfdumpLines(path);
    expect(ref.length).toBeGreaterThan(4);
    expect(img.lines).toEqual(ref);
    // Sources were compiled by absolute path: the main file resolves to it.
    const main = img.lines.find((l) => /prog\.c$|\.asm$/.test(l.file));
    expect(main?.file.startsWith(relDir0 ? 'prog.c' : TMP)).toBe(true);
  });

  it('line rows equal readelf --debug-dump=decodedline (file name, line, address, stmt)', () => {
    const img = loadImage(bytes, { format: 'elf' });
    const ref = readelfDecodedLines(path);
    expect(img.lines.map((l) => ({
      file: l.file.slice(l.file.lastIndexOf('/') + 1), line: l.endSequence ? null : l.line, address: l.address, isStmt: l.endSequence ? false : l.isStmt,
    }))).toEqual(ref.map((r) => ({ ...r, file: r.file.slice(r.file.lastIndexOf('/') + 1), isStmt: r.line === null ? false : r.isStmt })));
  });

  // GNU addr2line 2.40 cannot read DWARF64 line tables; llvm-addr2line can.
  it.each(name.includes('dwarf64') ? ['llvm-addr2line-14'] : ['addr2line', 'llvm-addr2line-14'])('LineTable.lineFor agrees with %s for every byte of .text', (tool) => {
    const img = loadImage(bytes, { format: 'elf' });
    const table = new LineTable(img.lines);
    const text = img.segments.find((s) => s.flags & 1)!;
    const addrs = Array.from({ length: text.data.length }, (_, i) => text.vaddr + i);
    const ref = addr2line(path, addrs, tool);
    const got = addrs.map((a) => {
      const row = table.lineFor(a);
      return row === undefined ? '??:0' : `${row.file}:${row.line}`;
    });
    // addr2line prints '??' for the file of rows it cannot place and joins dir 0 with comp_dir.
    // GNU addr2line writes line 0 ("no source line", DWARF 5 §6.2.2) as '?', llvm-addr2line as 0.
    const norm = (s: string): string => s.replace(/^.*\//, '').replace(/:\?$/, ':0');
    expect(got.map(norm)).toEqual(ref.map(norm));
  });

  it('LineTable.addressesFor finds each statement line and lineFor maps back to it', () => {
    const img = loadImage(bytes, { format: 'elf' });
    const table = new LineTable(img.lines);
    const stmts = img.lines.filter((l) => l.isStmt && !l.endSequence);
    for (const row of stmts) {
      const base = row.file.slice(row.file.lastIndexOf('/') + 1);
      for (const q of [row.file, base]) {
        const addrs = table.addressesFor(q, row.line);
        expect(addrs.length).toBeGreaterThan(0);
        for (const a of addrs) {
          const back = img.lines.filter((l) => l.address === a && l.line === row.line && l.isStmt);
          expect(back.length).toBeGreaterThan(0);
        }
      }
    }
    expect(table.addressesFor('no-such-file.c', 1)).toEqual([]);
  });

  it('SymbolTable maps addresses inside sized functions to function+offset and names to symbols', () => {
    const img = loadImage(bytes, { format: 'elf' });
    const st = new SymbolTable(img.symbols);
    for (const s of img.symbols) {
      expect(st.byName(s.name)?.address).toBe(img.symbols.find((x) => x.name === s.name)!.address);
      if (s.kind === 'function' && s.size > 0) {
        for (const off of [0, s.size >> 1, s.size - 1]) {
          const hit = st.lookup(s.address + off);
          expect(hit?.symbol.address).toBe(s.address);
          expect(hit?.offset).toBe(off);
        }
      }
    }
    expect(st.lookup(0)).toBeUndefined();
  });

  it('placeImage copies every segment and zeroes BSS', () => {
    const img = loadImage(bytes, { format: 'elf' });
    const mem = new PhysicalMemory(256 << 20);
    for (const s of img.segments) if (s.memSize > s.data.length) mem.poke(s.paddr + s.data.length, new Uint8Array(Math.min(16, s.memSize - s.data.length)).fill(0xcc));
    placeImage(img, mem);
    for (const s of img.segments) {
      expect(Buffer.from(mem.peek(s.paddr, s.data.length)).equals(Buffer.from(s.data))).toBe(true);
      expect(mem.peek(s.paddr + s.data.length, s.memSize - s.data.length).every((b) => b === 0)).toBe(true);
    }
    expect(() => placeImage(img, new PhysicalMemory(1 << 20))).toThrow(/outside guest memory \(1 MiB\)/);
  });
});

describe('symbol lookup on nasm labels (size 0)', () => {
  it('a label covers the bytes up to the next label', () => {
    const path = buildNasm('n64', 64);
    const img = loadImage(read(path), { format: 'elf' });
    const st = new SymbolTable(img.symbols);
    const start = st.byName('_start')!, loop = st.byName('_start.loop')!, helper = st.byName('helper')!;
    expect(st.lookup(start.address + 1)).toEqual({ symbol: start, offset: 1 });
    expect(st.lookup(loop.address + 2)).toEqual({ symbol: loop, offset: 2 });
    expect(st.lookup(helper.address)).toEqual({ symbol: helper, offset: 0 });
  });
});

describe('higher-half ELF64 (addresses above 2^53)', () => {
  // vaddr 0xffffffff80100000 is not exact as a double; the loader gives canonical upper-half
  // addresses as negative two's-complement numbers, which stay exact.
  const signed = (hex: string): number => Number(BigInt.asIntN(64, BigInt(hex)));
  let path = '';
  beforeAll(() => {
    source('hh64.ld', `ENTRY(_start)
SECTIONS {
  . = 0xffffffff80100000;
  .text : AT(0x100000) { *(.text) }
  .data ALIGN(4096) : AT(0x101000) { *(.data) }
  .bss : AT(0x101000 + SIZEOF(.data)) { *(.bss) }
}
`);
    path = buildNasm('hh64', 64, undefined, ['-T', join(TMP, 'hh64.ld')]);
  });

  it('segments, entry, symbols and lines match readelf / llvm-dwarfdump in signed form', () => {
    const img = loadImage(read(path), { format: 'elf' });
    const text = run('readelf', ['-lW', path]);
    const loads = [...text.matchAll(/LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)/g)];
    expect(img.segments.map((s) => [s.vaddr, s.paddr, s.data.length, s.memSize])).toEqual(
      loads.map((m) => [signed(m[2]), Number(m[3]), Number(m[4]), Number(m[5])]),
    );
    expect(img.entry).toBe(signed(/Entry point (0x[0-9a-f]+)/.exec(text)![1]));
    expect(img.entry).toBe(-0x7ff00000);
    const syms = run('readelf', ['-sW', path]);
    for (const s of img.symbols) {
      const m = new RegExp(`([0-9a-f]{16})\\s+\\d+\\s+\\w+\\s+\\w+\\s+\\w+\\s+\\w+\\s+${s.name.replace('.', '\\.')}$`, 'm').exec(syms)!;
      expect(s.address).toBe(signed('0x' + m[1]));
    }
    const dd = run('llvm-dwarfdump-14', ['--debug-line', path]);
    const ref = [...dd.matchAll(/^(0x[0-9a-f]{16}) +(\d+)/gm)].map((m) => [signed(m[1]), Number(m[2])]);
    expect(img.lines.map((l) => [l.address, l.line])).toEqual(ref);
    const table = new LineTable(img.lines);
    expect(table.lineFor(img.entry)?.line).toBe(img.lines[0].line);
  });

  it('placeImage puts the physical copy at p_paddr (1 MiB)', () => {
    const img = loadImage(read(path), { format: 'elf' });
    const mem = new PhysicalMemory(4 << 20);
    placeImage(img, mem);
    expect(Buffer.from(mem.peek(0x100000, img.segments[0].data.length)).equals(Buffer.from(img.segments[0].data))).toBe(true);
  });
});
