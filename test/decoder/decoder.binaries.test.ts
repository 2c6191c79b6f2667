// Decoder vs iced-x86 on real machine code: gcc -O2 (64/32-bit, and AVX-512 for VEX/EVEX lengths), nasm 16-bit, system binaries.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Code, Decoder, DecoderOptions, Instruction } from 'iced-x86';
import { Insn, DecodeFault } from '../../emulator/cpu/insn.js';
import { decode } from '../../emulator/cpu/decode.js';
import { compareWithIced } from './iced-compare.js';

const ROOT = join(__dirname, '..', '..');
const TMP = join(ROOT, 'test', '.tmp', 'decoder');
const FIX = join(__dirname, 'fixtures');

function have(tool: string): boolean {
  try { execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }); return true; } catch { return false; }
}
const tools = have('gcc') && have('objcopy') && have('nasm');

function textOf(file: string, out: string): Uint8Array {
  execFileSync('objcopy', ['-O', 'binary', '-j', '.text', file, out]);
  return new Uint8Array(readFileSync(out));
}

interface Walk { instructions: number; icedInvalid: number; unimplemented: number; failures: string[] }

/** Linear sweep: at each instruction boundary (as iced sees it) compare ours with iced. */
function walk(code: Uint8Array, mode: 16 | 32 | 64, limit = Infinity): Walk {
  const buf = new Uint8Array(code.length + 16);
  buf.set(code);
  const decoder = new Decoder(mode, buf, DecoderOptions.None);
  const ins = new Instruction();
  const ours = new Insn();
  let base = 0;
  // bytes past the end of the section read as 0 on both sides (buffer padding)
  const fetch = (i: number): number => buf[base + i];
  const result: Walk = { instructions: 0, icedInvalid: 0, unimplemented: 0, failures: [] };
  const end = Math.min(code.length, limit);
  while (base < end) {
    decoder.position = base;
    decoder.ip = 0n;
    decoder.decodeOut(ins);
    decode(ours, fetch, mode);
    result.instructions++;
    if (ins.code === Code.INVALID) result.icedInvalid++;
    if (ours.fault === DecodeFault.Unimplemented) result.unimplemented++;
    const err = compareWithIced(ours, ins);
    if (err && result.failures.length < 30) {
      const hex = Array.from(buf.subarray(base, base + 15), (b) => b.toString(16).padStart(2, '0')).join('');
      result.failures.push(`mode ${mode} offset ${base.toString(16)} bytes ${hex}: ${err}`);
    }
    base += ins.code === Code.INVALID ? 1 : ins.length;
  }
  ins.free();
  decoder.free();
  return result;
}

function check(name: string, w: Walk): void {
  console.log(`${name}: ${w.instructions} instructions, ${w.icedInvalid} invalid per iced, ${w.unimplemented} unimplemented (VEX/EVEX/...), ${w.failures.length} disagreements`);
  if (w.failures.length) console.log(w.failures.join('\n'));
  expect(w.instructions).toBeGreaterThan(50);
  expect(w.failures).toEqual([]);
}

describe.skipIf(!tools)('decoder vs iced-x86 on compiled code', () => {
  beforeAll(() => {
    mkdirSync(TMP, { recursive: true });
    const c = join(FIX, 'sample.c');
    execFileSync('gcc', ['-O2', '-c', c, '-o', join(TMP, 's64.o')]);
    execFileSync('gcc', ['-m32', '-O2', '-c', c, '-o', join(TMP, 's32.o')]);
    execFileSync('gcc', ['-O3', '-march=x86-64-v4', '-c', c, '-o', join(TMP, 'sv4.o')]);
    execFileSync('gcc', ['-m32', '-O2', '-march=pentium4', '-mfpmath=387', '-c', c, '-o', join(TMP, 's32x87.o')]);
    execFileSync('nasm', ['-f', 'bin', join(FIX, 'sample16.asm'), '-o', join(TMP, 's16.bin')]);
  });

  it('gcc -O2 x86-64', () => check('gcc -O2 64-bit', walk(textOf(join(TMP, 's64.o'), join(TMP, 's64.text')), 64)));
  it('gcc -O2 -m32', () => check('gcc -O2 -m32', walk(textOf(join(TMP, 's32.o'), join(TMP, 's32.text')), 32)));
  it('gcc -m32 x87 code', () => check('gcc -m32 x87', walk(textOf(join(TMP, 's32x87.o'), join(TMP, 's32x87.text')), 32)));
  it('gcc -O3 -march=x86-64-v4 (VEX/EVEX lengths)', () => {
    const w = walk(textOf(join(TMP, 'sv4.o'), join(TMP, 'sv4.text')), 64);
    check('gcc -O3 x86-64-v4', w);
    expect(w.unimplemented).toBeGreaterThan(0);
  });
  it('nasm 16-bit', () => check('nasm 16-bit', walk(new Uint8Array(readFileSync(join(TMP, 's16.bin'))), 16)));

  const systemBinaries = ['/bin/ls', '/lib/x86_64-linux-gnu/libc.so.6'].filter((f) => existsSync(f));
  for (const file of systemBinaries) {
    it(`system binary ${file} (first 256 KiB of .text)`, () => {
      const out = join(TMP, file.replace(/\W/g, '_') + '.text');
      check(file, walk(textOf(file, out), 64, 256 * 1024));
    });
  }
});
