// Loader facade: format detection, flat images, load options, and the LineTable / SymbolTable lookup rules.

import { describe, expect, it } from 'vitest';
import {
  DEFAULT_FLAT_LOAD_ADDRESS, detectFormat, LineTable, LoadError, loadImage, placeImage, SymbolTable, type LineRow,
} from '../../emulator/loader/image.js';
import { PhysicalMemory } from '../../emulator/mem/physmem.js';
import { buildC, read } from './fixtures.js';

describe('flat images', () => {
  const bytes = Uint8Array.from([0xb0, 0x41, 0xe6, 0xe9, 0xf4]); // mov al,'A'; out 0xe9,al; hlt

  it('load as one RWX segment at loadAddress with entry = loadAddress unless given', () => {
    expect(detectFormat(bytes)).toBe('flat');
    const img = loadImage(bytes, { format: 'auto', loadAddress: 0x7c00 });
    expect(img).toMatchObject({ format: 'flat', bits: 32, entry: 0x7c00, symbols: [], lines: [] });
    expect(img.segments).toEqual([{ paddr: 0x7c00, vaddr: 0x7c00, data: bytes, memSize: 5, flags: 7 }]);
    expect(loadImage(bytes, { format: 'flat', loadAddress: 0x7c00, entry: 0x7c02 }).entry).toBe(0x7c02);
    expect(loadImage(bytes, { format: 'flat' }).segments[0].paddr).toBe(DEFAULT_FLAT_LOAD_ADDRESS);
    const mem = new PhysicalMemory(1 << 20);
    placeImage(loadImage(bytes, { format: 'flat', loadAddress: 0x7c00 }), mem);
    expect([...mem.peek(0x7c00, 6)]).toEqual([...bytes, 0]);
  });

  it('refuses empty files and bad addresses; warns about an entry outside the bytes', () => {
    expect(() => loadImage(new Uint8Array(0), { format: 'auto' })).toThrow(/empty/);
    expect(() => loadImage(bytes, { format: 'flat', loadAddress: -1 })).toThrow(LoadError);
    expect(() => loadImage(bytes, { format: 'flat', loadAddress: 0.5 })).toThrow(LoadError);
    expect(loadImage(bytes, { format: 'flat', loadAddress: 0x7c00, entry: 0 }).warnings?.[0]).toMatch(/outside the loaded bytes/);
    expect(() => placeImage(loadImage(bytes, { format: 'flat', loadAddress: 0xffffe }), new PhysicalMemory(1 << 20))).toThrow(/outside guest memory \(1 MiB\)/);
  });
});

describe('load options on ELF', () => {
  it('entry overrides, loadAddress is ignored with a warning, forcing multiboot on a plain ELF fails', () => {
    const bytes = read(buildC('c64-dw5', ['-g', '-gdwarf-5', '-O1']));
    const img = loadImage(bytes, { format: 'auto', entry: 0x401234, loadAddress: 0x1000 });
    expect(img.entry).toBe(0x401234);
    expect(img.warnings?.[0]).toMatch(/loadAddress 0x1000 ignored/);
    expect(() => loadImage(bytes, { format: 'multiboot' })).toThrow(/no Multiboot header/);
    expect(() => loadImage(bytes, { format: 'bogus' as 'elf' })).toThrow(/unknown image format/);
  });
});

describe('LineTable', () => {
  const row = (address: number, file: string, line: number, isStmt = true, endSequence = false): LineRow =>
    ({ address, file, line, column: 0, isStmt, endSequence });
  const rows = [
    row(0x1000, '/src/kernel/main.c', 10), row(0x1004, '/src/kernel/main.c', 11), row(0x1004, '/src/kernel/main.c', 12),
    row(0x1008, '/src/lib/util.h', 3), row(0x100c, '/src/kernel/main.c', 11), row(0x1010, '/src/kernel/main.c', 11, false),
    row(0x1014, '/src/kernel/main.c', 13, true, true),
    row(0x2000, '/other/main.c', 11), row(0x2004, '/other/main.c', 11, true, true),
  ];
  const t = new LineTable(rows);

  it('lineFor: the last row at an address wins; gaps and sequence ends have no line', () => {
    expect(t.lineFor(0x1005)?.line).toBe(12);
    expect(t.lineFor(0x1013)?.line).toBe(11);
    expect(t.lineFor(0x1014)).toBeUndefined();
    expect(t.lineFor(0xfff)).toBeUndefined();
    expect(t.lineFor(0x1800)).toBeUndefined();
  });

  it('addressesFor: one address per block of a line; files matched by path, then suffix, then basename', () => {
    expect(t.addressesFor('/src/kernel/main.c', 11)).toEqual([0x1004, 0x100c]);
    expect(t.addressesFor('kernel/main.c', 11)).toEqual([0x1004, 0x100c]);
    expect(t.addressesFor('C:\\work\\kernel\\main.c', 11)).toEqual([0x1004, 0x100c, 0x2000]); // basename only
    expect(t.addressesFor('main.c', 11)).toEqual([0x1004, 0x100c, 0x2000]);
    expect(t.addressesFor('util.h', 3)).toEqual([0x1008]);
    expect(t.addressesFor('main.c', 99)).toEqual([]);
  });
});

describe('SymbolTable', () => {
  const t = new SymbolTable([
    { name: 'b', address: 0x2000, size: 0x10, kind: 'function' },
    { name: 'a', address: 0x1000, size: 0x20, kind: 'function' },
    { name: 'a_alias', address: 0x1000, size: 0, kind: 'other' },
    { name: 'label', address: 0x3000, size: 0, kind: 'other' },
  ]);
  it('finds the covering symbol, prefers sized functions, and leaves gaps after sized symbols empty', () => {
    expect(t.lookup(0x1004)).toEqual({ symbol: t.byName('a'), offset: 4 });
    expect(t.lookup(0x1020)?.symbol.name).toBe('a_alias'); // past a's size: the size-0 alias still covers
    expect(t.lookup(0x2010)).toBeUndefined();
    expect(t.lookup(0x3456)).toEqual({ symbol: t.byName('label'), offset: 0x456 });
    expect(t.lookup(0xfff)).toBeUndefined();
    expect(t.byName('nope')).toBeUndefined();
  });
});
