// The benchmark suite's plumbing (not its speed): committed guests match their nasm sources, the peers' loop is what the MIPS arithmetic assumes (objdump), and `--json --only=` prints a parsable last line with the issue's keys.
import { describe, expect, it, beforeAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ISSUE_KEYS, at } from '../../bench/report.js';
import { LOOP_INSTRUCTIONS } from '../../bench/peers.js';

const ROOT = join(__dirname, '..', '..');
const TMP = join(ROOT, 'test', '.tmp', 'bench');
const GUESTS = join(ROOT, 'bench', 'guests');
const BENCH = join(ROOT, 'dist', 'bench.mjs');

beforeAll(() => {
  mkdirSync(TMP, { recursive: true });
  if (!existsSync(BENCH)) execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT });
});

function bench(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const p = spawnSync(process.execPath, [BENCH, ...args], { encoding: 'utf8', timeout: 90_000, cwd: ROOT, env: { ...process.env, VMSCOPE_BENCH_RUNS: '1', ...env } });
  return { status: p.status, stdout: p.stdout, stderr: p.stderr };
}

describe('bench guests', () => {
  it.each([
    ['mb-integer.asm', 'mb-integer.elf'],
    ['sparse.asm', 'sparse.elf'],
    ['bochs-boot.asm', 'bochs-boot.bin'],
  ])('%s assembles (nasm -f bin) to the committed %s', (src, out) => {
    const built = join(TMP, out);
    execFileSync('nasm', ['-f', 'bin', '-i', `${GUESTS}/`, '-o', built, join(GUESTS, src)]);
    expect(Buffer.compare(readFileSync(built), readFileSync(join(GUESTS, out)))).toBe(0);
  });

  it('mb-integer.elf is an ELF32 i386 executable with a valid multiboot header in its first 8 KiB (readelf, Multiboot 0.6.96 §3.1)', () => {
    const h = execFileSync('readelf', ['-h', join(GUESTS, 'mb-integer.elf')], { encoding: 'utf8' });
    expect(h).toMatch(/Class:\s+ELF32/);
    expect(h).toMatch(/Machine:\s+Intel 80386/);
    const b = readFileSync(join(GUESTS, 'mb-integer.elf'));
    const off = b.indexOf(Buffer.from([0x02, 0xb0, 0xad, 0x1b]));
    expect(off).toBeGreaterThanOrEqual(0);
    expect(off % 4).toBe(0);
    expect((b.readUInt32LE(off) + b.readUInt32LE(off + 4) + b.readUInt32LE(off + 8)) % 2 ** 32).toBe(0);
  });

  it(`the loop the peers time is ${LOOP_INSTRUCTIONS} instructions and reads its count from file offset 0x60 (objdump)`, () => {
    const b = readFileSync(join(GUESTS, 'mb-integer.elf'));
    const entry = b.readUInt32LE(24) - 0x100000;
    const dis = execFileSync('objdump', ['-D', '-b', 'binary', '-m', 'i386', `--start-address=${entry}`, join(GUESTS, 'mb-integer.elf')], { encoding: 'utf8' });
    const lines = dis.split('\n').filter((l) => /^\s+[0-9a-f]+:\t/.test(l)).map((l) => {
      const [addr, , text] = l.split('\t');
      return { addr: parseInt(addr, 16), text: text.trim() };
    });
    expect(lines[0].text).toMatch(/^mov\s+0x100060,%ecx$/);
    const jnz = lines.find((l) => /^jne\s/.test(l.text));
    expect(jnz).toBeDefined();
    const target = parseInt(/^jne\s+0x([0-9a-f]+)/.exec(jnz!.text)![1], 16);
    const body = lines.filter((l) => l.addr >= target && l.addr <= jnz!.addr);
    expect(body.length).toBe(LOOP_INSTRUCTIONS);
    expect(body.map((l) => l.text.split(/\s+/)[0])).toEqual(['add', 'xor', 'rol', 'sub', 'jne']);
  });
});

describe('npm run bench -- --json --only=', () => {
  it('prints one JSON object as the last line, with the issue keys of the groups asked for and nothing else', () => {
    const r = bench(['--json', '--only=startup,memory,peers'], { VMSCOPE_BENCH_PEER_MS: '100' });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    const json = JSON.parse(lines.at(-1)!) as Record<string, unknown>;
    expect(Object.keys(json).sort()).toEqual(['memory', 'peers', 'startup']);
    for (const key of ISSUE_KEYS) {
      const group = key.split('.')[0];
      const v = at(json, key);
      if (['startup', 'memory', 'peers'].includes(group)) {
        expect(v === null || (typeof v === 'number' && v > 0), `${key} = ${String(v)}`).toBe(true);
        // A null figure comes with its reason on stderr.
        if (v === null) expect(r.stderr).toContain(`${key} is null`);
      } else {
        expect(v, key).toBeUndefined();
      }
    }
    expect(typeof at(json, 'peers.vmscope.mips')).toBe('number');
    // The human table: a header with a target column, and a mark on the rows that have a target.
    expect(lines.some((l) => /^\s+key\s+value\s+target\s+mark\s+note$/.test(l))).toBe(true);
    expect(lines.find((l) => l.trim().startsWith('startup.helloMs'))).toMatch(/<= 250\s+(pass|MISS)\s/);
    expect(lines.find((l) => l.trim().startsWith('memory.sparse4GiBMiB'))).toMatch(/<= 150\s+(pass|MISS|n\/a)\s/);
    // Progress goes to stderr, not into the table.
    expect(r.stderr).toMatch(/bench: startup done in/);
  }, 90_000);

  it('refuses an unknown group with the list of groups', () => {
    const r = bench(['--only=mips,nope']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--only takes a comma-separated list of mips, exitsPerSecond, kvm, peers, virtio, startup, dap, memory/);
    expect(r.stdout).toBe('');
  });
});
