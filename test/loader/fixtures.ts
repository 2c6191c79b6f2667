// Test fixtures for the loader: builds real images with gcc/nasm/ld and parses readelf / llvm-dwarfdump output as references.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
export { prng } from '../prng.js';

export const TMP = join(dirname(fileURLToPath(import.meta.url)), '..', '.tmp', 'loader');
mkdirSync(TMP, { recursive: true });

export function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { cwd: TMP, encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function read(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}

/** Writes `text` to TMP/name (only if changed) and returns the absolute path. */
export function source(name: string, text: string): string {
  const p = join(TMP, name);
  let old = '';
  try { old = readFileSync(p, 'utf8'); } catch { /* new */ }
  if (old !== text) writeFileSync(p, text);
  return p;
}

export const C_HEADER = `static inline int twice(int v) {
  return v * 2;
}
`;

export const C_SOURCE = `#include "util.h"
int counter;
int data_var = 5;
const char message[] = "hello";
static int helper(int x) { return x * 3 + counter; }
__attribute__((noinline)) int add(int a, int b) {
  int s = a + b;
  for (int i = 0; i < b; i++)
    s += helper(i) + twice(i);
  return s;
}
void _start(void) {
  counter = add(1, 2);
  data_var = counter + message[counter & 3];
  for (;;) {}
}
`;

export const NASM_SOURCE = `section .text
global _start
_start:
  mov eax, 1
.loop:
  inc eax
  call helper
  jmp .loop
helper:
  ret
section .data
value: dd 42
section .bss
buf: resb 64
`;

/** gcc (or clang): freestanding static executable from C_SOURCE. */
export function buildC(name: string, flags: string[], cc = 'gcc'): string {
  source('util.h', C_HEADER);
  const src = source('prog.c', C_SOURCE);
  const out = join(TMP, name);
  const pie = cc === 'gcc' ? ['-fno-pie', '-no-pie'] : ['-fno-pie'];
  run(cc, ['-ffreestanding', '-nostdlib', '-static', ...pie, '-fno-asynchronous-unwind-tables', '-Wl,--build-id=none', ...flags, '-o', out, src]);
  return out;
}

/** nasm -g -F dwarf + ld. */
export function buildNasm(name: string, bits: 32 | 64, text: string = NASM_SOURCE, ldArgs: string[] = ['-Ttext=0x200000']): string {
  const src = source(`${name}.asm`, `bits ${bits}\n` + text);
  const obj = join(TMP, `${name}.o`);
  const out = join(TMP, name);
  run('nasm', ['-f', bits === 32 ? 'elf32' : 'elf64', '-g', '-F', 'dwarf', '-o', obj, src]);
  run('ld', [...(bits === 32 ? ['-m', 'elf_i386'] : []), '--build-id=none', ...ldArgs, '-o', out, obj]);
  return out;
}

export interface RefSegment { offset: number; vaddr: number; paddr: number; filesz: number; memsz: number; flags: number }

/** `readelf -lW`: entry point and LOAD program headers. */
export function readelfSegments(path: string): { entry: number; loads: RefSegment[] } {
  const text = run('readelf', ['-lW', path]);
  const entry = Number(/Entry point (0x[0-9a-f]+)/.exec(text)![1]);
  const loads: RefSegment[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s+LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(.{3})\s+0x/.exec(line);
    if (!m) continue;
    const fl = m[6];
    loads.push({
      offset: Number(m[1]), vaddr: Number(m[2]), paddr: Number(m[3]), filesz: Number(m[4]), memsz: Number(m[5]),
      flags: (fl[0] === 'R' ? 4 : 0) | (fl[1] === 'W' ? 2 : 0) | (fl[2] === 'E' ? 1 : 0),
    });
  }
  return { entry, loads };
}

export interface RefSymbol { name: string; address: number; size: number; kind: string }

/** `readelf -sW` .symtab: FUNC/OBJECT/NOTYPE symbols defined in a section or ABS, sorted like the loader sorts. */
export function readelfSymbols(path: string): RefSymbol[] {
  const text = run('readelf', ['-sW', path]);
  const part = text.split(/Symbol table '/).find((p) => p.startsWith('.symtab'));
  const out: RefSymbol[] = [];
  if (part === undefined) return out;
  for (const line of part.split('\n')) {
    const m = /^\s*(\d+):\s+([0-9a-f]+)\s+(0x[0-9a-f]+|\d+)\s+(\w+)\s+\w+\s+\w+\s+(\w+)\s*(\S*)$/.exec(line);
    if (!m || m[1] === '0') continue;
    const [, , value, size, type, ndx, name] = m;
    if (!['FUNC', 'OBJECT', 'NOTYPE'].includes(type) || ndx === 'UND' || ndx === 'COM' || name === '') continue;
    out.push({ name, address: parseInt(value, 16), size: Number(size), kind: type === 'FUNC' ? 'function' : type === 'OBJECT' ? 'object' : 'other' });
  }
  return out.sort((a, b) => a.address - b.address || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export interface RefLine { address: number; file: string; line: number; column: number; isStmt: boolean; endSequence: boolean }

/**
 * `llvm-dwarfdump --debug-line`: every unit's directory/file tables and its full row matrix.
 * Paths are joined the DWARF way (v2-4 directory 0 is the compilation directory, which the
 * line table does not hold: the bare name is used, as the loader does).
 */
export function dwarfdumpLines(path: string): RefLine[] {
  const text = run('llvm-dwarfdump-14', ['--debug-line', path]);
  const rows: RefLine[] = [];
  for (const unit of text.split(/^debug_line\[/m).slice(1)) {
    const version = Number(/version: (\d+)/.exec(unit)![1]);
    const dirs = new Map<number, string>();
    for (const m of unit.matchAll(/include_directories\[\s*(\d+)\] = "([^"]*)"/g)) dirs.set(Number(m[1]), m[2]);
    const files = new Map<number, string>();
    for (const m of unit.matchAll(/file_names\[\s*(\d+)\]:\s+name: "([^"]*)"\s+dir_index: (\d+)/g)) {
      const dir = version < 5 && m[3] === '0' ? undefined : dirs.get(Number(m[3]));
      const name = m[2];
      files.set(Number(m[1]), dir === undefined || name.startsWith('/') ? name : `${dir}/${name}`);
    }
    for (const m of unit.matchAll(/^0x([0-9a-f]{16}) +(\d+) +(\d+) +(\d+) +\d+ +\d+ *(.*)$/gm)) {
      const flags = m[5];
      rows.push({
        address: parseInt(m[1], 16), line: Number(m[2]), column: Number(m[3]), file: files.get(Number(m[4])) ?? `<file ${m[4]}>`,
        isStmt: /\bis_stmt\b/.test(flags), endSequence: /\bend_sequence\b/.test(flags),
      });
    }
  }
  return rows;
}

export interface RefDecoded { file: string; line: number | null; address: number; isStmt: boolean }

/** `readelf --debug-dump=decodedline -W` rows: base file name, line ('-' = end of sequence), address, stmt. */
export function readelfDecodedLines(path: string): RefDecoded[] {
  const text = run('readelf', ['-W', '--debug-dump=decodedline', path]);
  const out: RefDecoded[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(\d+|-)\s+(0x[0-9a-f]+)(?:\s+\d+)?(\s+x)?\s*$/.exec(line);
    if (!m) continue;
    out.push({ file: m[1], line: m[2] === '-' ? null : Number(m[2]), address: Number(m[3]), isStmt: m[4] !== undefined });
  }
  return out;
}

/** addr2line -e path (GNU or llvm): "file:line" per address ('??:0' when unknown). */
export function addr2line(path: string, addrs: number[], tool = 'addr2line'): string[] {
  const text = run(tool, ['-e', path, ...addrs.map((a) => '0x' + a.toString(16))]);
  return text.trim().split('\n').map((l) => l.replace(/ \(discriminator \d+\)$/, ''));
}

