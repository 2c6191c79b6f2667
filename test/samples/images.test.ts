// The committed sample images are exactly what their sources build to (scripts/build-samples.mjs --check).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Decoder, DecoderOptions, Mnemonic } from 'iced-x86';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');
const has = (cmd: string, arg = '--version') => {
  try {
    return spawnSync(cmd, [arg], { stdio: 'ignore' }).status === 0;
  } catch {
    return false;
  }
};
const tools = has('nasm', '-v') && has('gcc') && has('ld') && has('objcopy');

describe.skipIf(!tools)('sample images', () => {
  it('every committed image matches a fresh reproducible build of its sources', () => {
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-samples.mjs'), '--check'], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).not.toMatch(/DIFFERS|MISSING|Error/);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/ok samples\/hello\/hello\.elf/);
  });

  it('hello.bin is 14 OUT instructions then CLI; HLT (decoded by iced-x86)', () => {
    const bytes = new Uint8Array(readFileSync(join(root, 'samples', 'hello', 'hello.bin')));
    const d = new Decoder(64, bytes, DecoderOptions.None);
    const seen: Mnemonic[] = [];
    try {
      while (d.canDecode) {
        const i = d.decode();
        seen.push(i.mnemonic);
        i.free();
      }
    } finally {
      d.free();
    }
    expect(seen.filter((m) => m === Mnemonic.Out).length).toBe(14);
    expect(seen.slice(-2)).toEqual([Mnemonic.Cli, Mnemonic.Hlt]);
  });

  it('hello.elf carries a DWARF line table for hello.asm (readelf)', () => {
    if (!has('readelf')) return;
    const r = spawnSync('readelf', ['--debug-dump=decodedline', join(root, 'samples', 'hello', 'hello.elf')], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    // One row per instruction: 28 of mov/out, cli, hlt, each in hello.asm at address 0x100000 onwards.
    const rows = r.stdout.split('\n').filter((l) => /^hello\.asm\s+\d+\s+0x10/.test(l));
    expect(rows.length).toBeGreaterThanOrEqual(30);
    expect(rows[0]).toMatch(/^hello\.asm\s+\d+\s+0x100000\b/);
  });
});
