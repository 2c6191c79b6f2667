// Hostile images: truncations, seeded bit flips, huge counts/offsets and bad DWARF all end in LoadError or warnings, fast.

import { beforeAll, describe, expect, it } from 'vitest';
import { parseDebugLine } from '../../emulator/loader/dwarf-line.js';
import { LineTable, LoadError, loadImage, placeImage, SymbolTable, type LoadedImage } from '../../emulator/loader/image.js';
import { PhysicalMemory } from '../../emulator/mem/physmem.js';
import { buildC, buildNasm, prng, read, run } from './fixtures.js';

interface Bin { name: string; bytes: Uint8Array; is64: boolean; debugLine: [number, number] }

/** `readelf -SW`: file offset and size of a section. */
function sectionRange(path: string, name: string): [number, number] {
  const line = run('readelf', ['-SW', path]).split('\n').find((l) => l.includes(` ${name} `))!;
  const m = /\s(?:PROGBITS|NOBITS)\s+[0-9a-f]+\s+([0-9a-f]+)\s+([0-9a-f]+)/.exec(line)!;
  return [parseInt(m[1], 16), parseInt(m[2], 16)];
}

const BINS: Bin[] = [];
beforeAll(() => {
  for (const [name, path, is64] of [
    ['gcc32-dw4', buildC('c32-dw4', ['-m32', '-g', '-gdwarf-4', '-O1', '-Wl,-Ttext=0x100000']), false],
    ['gcc64-dw5', buildC('c64-dw5', ['-g', '-gdwarf-5', '-O1']), true],
    ['nasm64', buildNasm('n64', 64), true],
  ] as const) {
    BINS.push({ name, bytes: read(path), is64, debugLine: sectionRange(path, '.debug_line') });
  }
});

/** Loads and exercises everything a debugger would touch; returns 'ok', or the LoadError. Any other throw fails the test. */
function attempt(bytes: Uint8Array, format: 'auto' | 'elf' | 'multiboot' = 'auto'): 'ok' | LoadError {
  let img: LoadedImage;
  try {
    img = loadImage(bytes, { format });
  } catch (e) {
    if (e instanceof LoadError && e.message.length > 10) return e;
    throw e;
  }
  for (const s of img.segments) {
    expect(Number.isSafeInteger(s.paddr) && Number.isSafeInteger(s.memSize) && s.data.length <= s.memSize).toBe(true);
  }
  const lines = new LineTable(img.lines);
  const syms = new SymbolTable(img.symbols);
  lines.lineFor(img.entry);
  syms.lookup(img.entry);
  if (img.lines.length > 0) lines.addressesFor(img.lines[0].file, img.lines[0].line);
  try {
    placeImage(img, new PhysicalMemory(16 << 20));
  } catch (e) {
    if (!(e instanceof LoadError)) throw e;
  }
  return 'ok';
}

function u16(b: Uint8Array, o: number): number { return b[o] | (b[o + 1] << 8); }
function u32(b: Uint8Array, o: number): number { return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0; }
function set32(b: Uint8Array, o: number, v: number): void { new DataView(b.buffer, b.byteOffset).setUint32(o, v >>> 0, true); }
function set64(b: Uint8Array, o: number, v: bigint): void { new DataView(b.buffer, b.byteOffset).setBigUint64(o, v, true); }
function set16(b: Uint8Array, o: number, v: number): void { new DataView(b.buffer, b.byteOffset).setUint16(o, v, true); }

/** gABI ELF header offsets: e_phoff, e_shoff, e_phentsize, e_phnum, e_shnum. */
function hdr(b: Bin): { phoff: number; phoffAt: number; shoffAt: number; phnumAt: number; shnumAt: number; phentsize: number; phnum: number; shoff: number } {
  const x = b.bytes;
  const phoffAt = b.is64 ? 32 : 28, shoffAt = b.is64 ? 40 : 32, phnumAt = b.is64 ? 56 : 44, shnumAt = b.is64 ? 60 : 48;
  return {
    phoff: u32(x, phoffAt), phoffAt, shoffAt, phnumAt, shnumAt, shoff: u32(x, shoffAt),
    phentsize: u16(x, phnumAt - 2), phnum: u16(x, phnumAt),
  };
}

describe('truncated ELF files', () => {
  it('every prefix up to the end of the program headers throws LoadError; longer prefixes never throw anything else', () => {
    for (const b of BINS) {
      const h = hdr(b);
      const end = h.phoff + h.phnum * h.phentsize;
      const t0 = performance.now();
      for (let n = 0; n <= end; n++) {
        const r = attempt(b.bytes.slice(0, n), 'elf');
        expect(r, `${b.name} prefix ${n}`).toBeInstanceOf(LoadError);
      }
      for (let n = end + 1; n < b.bytes.length; n += 7) attempt(b.bytes.slice(0, n), 'elf');
      expect(performance.now() - t0).toBeLessThan(10_000);
    }
  });

  it('names what is missing', () => {
    const b = BINS[1];
    expect(() => loadImage(b.bytes.slice(0, 3), { format: 'elf' })).toThrow(/not an ELF/);
    expect(() => loadImage(b.bytes.slice(0, 40), { format: 'elf' })).toThrow(/ELF header truncated/);
    expect(() => loadImage(b.bytes.slice(0, 100), { format: 'elf' })).toThrow(/program header table/);
    expect(() => loadImage(b.bytes.slice(0, 0x1100), { format: 'elf' })).toThrow(/program header \d+: segment data .* outside the file/);
  });
});

describe('seeded random bit flips', () => {
  function fuzz(b: Bin, seed: number, count: number, region: [number, number], maxFlips: number): Record<string, number> {
    const rnd = prng(seed);
    const outcome: Record<string, number> = { ok: 0, error: 0 };
    for (let i = 0; i < count; i++) {
      const m = b.bytes.slice();
      const flips = 1 + Math.floor(rnd() * maxFlips);
      for (let k = 0; k < flips; k++) {
        const pos = region[0] + Math.floor(rnd() * region[1]);
        m[pos] ^= 1 << Math.floor(rnd() * 8);
      }
      const t0 = performance.now();
      const r = attempt(m, 'auto');
      const dt = performance.now() - t0;
      if (dt > 1000) throw new Error(`${b.name} seed ${seed} case ${i}: took ${dt.toFixed(0)} ms`);
      outcome[r === 'ok' ? 'ok' : 'error']++;
    }
    return outcome;
  }

  it('anywhere in the file (3 x 1500 images)', () => {
    for (const [i, b] of BINS.entries()) {
      const o = fuzz(b, 1000 + i, 1500, [0, b.bytes.length], 4);
      expect(o.ok + o.error).toBe(1500);
    }
  });

  it('in the ELF header and program headers (3 x 1500 images)', () => {
    for (const [i, b] of BINS.entries()) {
      const h = hdr(b);
      const o = fuzz(b, 2000 + i, 1500, [0, h.phoff + h.phnum * h.phentsize], 3);
      expect(o.error).toBeGreaterThan(100); // many flips must be caught, not silently accepted
    }
  });

  it('in .debug_line (3 x 1500 images): the image still loads, bad units become warnings', () => {
    for (const [i, b] of BINS.entries()) {
      const o = fuzz(b, 3000 + i, 1500, b.debugLine, 3);
      expect(o.ok).toBe(1500);
    }
  });

  it('straight DWARF decoding of random and mutated .debug_line bytes only warns', () => {
    const rnd = prng(77);
    const b = BINS[1];
    const dl = b.bytes.subarray(b.debugLine[0], b.debugLine[0] + b.debugLine[1]);
    for (let i = 0; i < 2000; i++) {
      const m = i < 1000 ? dl.slice() : Uint8Array.from({ length: 1 + Math.floor(rnd() * 300) }, () => Math.floor(rnd() * 256));
      if (i < 1000) for (let k = 0; k < 1 + i % 8; k++) m[Math.floor(rnd() * m.length)] = Math.floor(rnd() * 256);
      const r = parseDebugLine(m, { addressSize: 8, lineStr: m, str: m });
      new LineTable(r.rows).lineFor(0x401000);
    }
  });
});

describe('huge counts and offsets', () => {
  function patched(b: Bin, f: (x: Uint8Array, h: ReturnType<typeof hdr>) => void): Uint8Array {
    const x = b.bytes.slice();
    f(x, hdr(b));
    return x;
  }
  const fast = (fn: () => unknown): void => {
    const t0 = performance.now();
    fn();
    expect(performance.now() - t0).toBeLessThan(100);
  };

  it('e_phnum = PN_XNUM with 2^32-1 in section 0 fails cleanly', () => {
    const b = BINS[1];
    const x = patched(b, (x, h) => {
      set16(x, h.phnumAt, 0xffff);
      set32(x, h.shoff + 44, 0xffffffff); // section 0 sh_info (ELF64)
    });
    fast(() => expect(() => loadImage(x, { format: 'elf' })).toThrow(/program header table: 4294967295 entries/));
  });

  it('e_shnum = 0 with 2^32 sections in section 0 ignores the sections (with a warning) and loads', () => {
    const b = BINS[1];
    const x = patched(b, (x, h) => {
      set16(x, h.shnumAt, 0);
      set64(x, h.shoff + 32, 1n << 32n); // section 0 sh_size (ELF64)
    });
    fast(() => {
      const img = loadImage(x, { format: 'elf' });
      expect(img.symbols).toEqual([]);
      expect(img.warnings?.join()).toMatch(/section header table: 4294967296 entries/);
    });
  });

  it('a 2^63 e_phoff, p_memsz or p_offset is refused', () => {
    const b = BINS[1];
    fast(() => expect(() => loadImage(patched(b, (x, h) => set64(x, h.phoffAt, 1n << 62n)), { format: 'elf' })).toThrow(LoadError));
    const firstLoad = (x: Uint8Array, h: ReturnType<typeof hdr>): number => {
      for (let i = 0; i < h.phnum; i++) if (u32(x, h.phoff + i * h.phentsize) === 1) return h.phoff + i * h.phentsize;
      throw new Error('no PT_LOAD');
    };
    fast(() => expect(() => loadImage(patched(b, (x, h) => set64(x, firstLoad(x, h) + 40, 1n << 63n)), { format: 'elf' })).toThrow(/p_memsz is not a representable/));
    fast(() => expect(() => loadImage(patched(b, (x, h) => set64(x, firstLoad(x, h) + 8, 0x7fffffffn)), { format: 'elf' })).toThrow(/outside the file/));
    fast(() => expect(() => loadImage(patched(b, (x, h) => set64(x, firstLoad(x, h) + 40, 0n)), { format: 'elf' })).toThrow(/p_filesz .* larger than p_memsz/));
  });

  it('overlapping segments, no PT_LOAD, and a segment beyond guest memory', () => {
    const b = BINS[0]; // ELF32: p_type 0, p_paddr 12
    const loads = (x: Uint8Array, h: ReturnType<typeof hdr>): number[] =>
      Array.from({ length: h.phnum }, (_, i) => h.phoff + i * h.phentsize).filter((o) => u32(x, o) === 1);
    const overlap = patched(b, (x, h) => {
      const [a, c] = loads(x, h);
      set32(x, c + 12, u32(x, a + 12));
    });
    expect(() => loadImage(overlap, { format: 'elf' })).toThrow(/overlaps/);
    const none = patched(b, (x, h) => loads(x, h).forEach((o) => set32(x, o, 0)));
    expect(() => loadImage(none, { format: 'elf' })).toThrow(/no loadable segment/);
    const img = loadImage(b.bytes, { format: 'elf' });
    expect(() => placeImage(img, new PhysicalMemory(1 << 20))).toThrow(/segment \d+: 0x[0-9a-f]+\+0x[0-9a-f]+ lies outside guest memory \(1 MiB\)/);
  });

  it('wrong class, endianness, version, machine and type each get their own message', () => {
    const b = BINS[0];
    const at = (o: number, v: number): Uint8Array => patched(b, (x) => { x[o] = v; });
    expect(() => loadImage(at(4, 3), { format: 'elf' })).toThrow(/unsupported class 3/);
    expect(() => loadImage(at(5, 2), { format: 'elf' })).toThrow(/little-endian/);
    expect(() => loadImage(at(6, 0), { format: 'elf' })).toThrow(/EI_VERSION/);
    expect(() => loadImage(at(18, 40), { format: 'elf' })).toThrow(/unsupported machine 40/);
    expect(() => loadImage(at(16, 1), { format: 'elf' })).toThrow(/relocatable object/);
    expect(() => loadImage(patched(b, (x) => set32(x, 20, 2)), { format: 'elf' })).toThrow(/e_version 2/);
    const obj = read(buildNasm('n64', 64).replace(/n64$/, 'n64.o'));
    expect(() => loadImage(obj, { format: 'auto' })).toThrow(/ET_REL/);
  });

  it('a .debug_line unit claiming 2^50 or 2^60 bytes, or 2^40 files, becomes a warning', () => {
    const unit64 = new Uint8Array(32);
    set32(unit64, 0, 0xffffffff);
    set64(unit64, 4, 1n << 50n);
    fast(() => expect(parseDebugLine(unit64).warnings.join()).toMatch(/runs past the section end/));
    set64(unit64, 4, 1n << 60n);
    fast(() => expect(parseDebugLine(unit64).warnings.join()).toMatch(/too large/));

    // A v5 unit whose file table claims 2^40 entries: header ... directory_entry_format_count 0, count 0, file formats 1 (path,string), count 2^40.
    const body = [5, 0, 8, 0, /* header_length */ 0, 0, 0, 0, 1, 1, 1, 0xfb, 14, 13, 0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1, 0, 1, 1, 8,
      0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0x61, 0];
    const u = new Uint8Array(4 + body.length);
    u.set(body, 4);
    set32(u, 0, body.length);
    set32(u, 4 + 4, body.length - 8);
    fast(() => {
      const r = parseDebugLine(u, { addressSize: 8 });
      expect(r.rows).toEqual([]);
      expect(r.warnings.length).toBeGreaterThan(0);
    });
  });
});
