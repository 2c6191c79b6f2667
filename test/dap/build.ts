// Builds the DAP tests' guests (nasm ELF64 with DWARF lines, linked at 0x100000) into test/.tmp/dap/ and the adapter bundle when missing.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TMP = join(ROOT, 'test', '.tmp', 'dap');
export const ADAPTER = join(ROOT, 'dist', 'adapter.js');
export const HELLO = join(ROOT, 'samples', 'hello', 'hello.elf');

/** Assemble and link test/dap/guests/<name>.asm → test/.tmp/dap/<name>.elf (with its .asm copied next to it for sources). */
export function buildGuest(name: string): string {
  mkdirSync(TMP, { recursive: true });
  const src = join(ROOT, 'test', 'dap', 'guests', `${name}.asm`);
  const obj = join(TMP, `${name}.o`), elf = join(TMP, `${name}.elf`);
  execFileSync('nasm', ['-f', 'elf64', '-g', '-F', 'dwarf', '-o', obj, src]);
  execFileSync('ld', ['--build-id=none', '-Ttext', '0x100000', '-e', '_start', '-o', elf, obj]);
  return elf;
}

/** Assemble test/dap/guests/<name>.asm as a flat binary → test/.tmp/dap/<name>.bin. */
export function buildFlat(name: string): string {
  mkdirSync(TMP, { recursive: true });
  const out = join(TMP, `${name}.bin`);
  execFileSync('nasm', ['-f', 'bin', '-o', out, join(ROOT, 'test', 'dap', 'guests', `${name}.asm`)]);
  return out;
}

/** Newest modification time of the files under the adapter's source folders. */
function newestSource(): number {
  let newest = 0;
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const d of ['debug-adapter', 'emulator', 'cli']) walk(join(ROOT, d));
  return newest;
}

/**
 * The adapter bundle to test: dist/adapter.js (`npm test` builds it first) when it is newer than the sources;
 * otherwise (a direct `vitest run test/dap` after an edit) a fresh bundle in test/.tmp/dap/, written under a
 * unique name and renamed, so parallel test files never see half a file and dist/ is left to the build.
 */
export function ensureAdapter(): string {
  if (existsSync(ADAPTER) && statSync(ADAPTER).mtimeMs >= newestSource()) return ADAPTER;
  mkdirSync(TMP, { recursive: true });
  const out = join(TMP, 'adapter.cjs');
  const tmp = join(TMP, `adapter-${process.pid}.cjs`);
  const script = `require('esbuild').buildSync({ entryPoints: ['debug-adapter/main.ts'], outfile: ${JSON.stringify(tmp)}, bundle: true, platform: 'node', target: 'node20', format: 'cjs', external: ['iced-x86'], logLevel: 'error' })`;
  execFileSync('node', ['-e', script], { cwd: ROOT });
  renameSync(tmp, out);
  return out;
}

/** `objdump -d` of an image: instruction address → its bytes as "b0 48" (the reference for disassembly). */
export function objdumpBytes(elf: string): Map<number, string> {
  const raw = execFileSync('objdump', ['-d', elf], { encoding: 'utf8' });
  const out = new Map<number, string>();
  let last = -1;
  for (const line of raw.split('\n')) {
    const m = /^\s+([0-9a-f]+):\t([0-9a-f ]+?)\s*(\t.*)?$/.exec(line);
    if (m === null) continue;
    if (m[3] === undefined && last >= 0) out.set(last, `${out.get(last)} ${m[2].trim()}`); // continuation line of a long instruction
    else { last = parseInt(m[1], 16); out.set(last, m[2].trim()); }
  }
  return out;
}

/** `addr2line` of an address: [file basename, line] (the reference for source locations). */
export function addr2line(elf: string, address: number): [string, number] {
  const out = execFileSync('addr2line', ['-e', elf, `0x${address.toString(16)}`], { encoding: 'utf8' }).trim();
  const m = /([^/]+):(\d+)/.exec(out);
  if (m === null) throw new Error(`addr2line: ${out}`);
  return [m[1], Number(m[2])];
}

/** `nm` of an image: symbol name → address. */
export function nmSymbols(elf: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of execFileSync('nm', [elf], { encoding: 'utf8' }).split('\n')) {
    const m = /^([0-9a-f]+) \w (\S+)$/.exec(line);
    if (m) out.set(m[2], parseInt(m[1], 16));
  }
  return out;
}
