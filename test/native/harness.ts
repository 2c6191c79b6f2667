// Builds test/native/harness.c with gcc and runs batches of snippet cases on the host CPU (x86-64 Linux only).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const SOURCE = join(here, 'harness.c');
const OUT_DIR = join(here, '..', '.tmp', 'native');

/** One case as the harness wire format carries it (see the header comment of harness.c). */
export interface HarnessInput {
  code: Uint8Array;
  gpr: bigint[];
  rflags: bigint;
  scratch: Uint8Array | null;
}

export interface HarnessOutput {
  /** Exception vector, or null when the code ran to its end. */
  fault: number | null;
  /** True when the case wrote past its scratch window (a generator bug, not a CPU fact). */
  stray: boolean;
  gpr: bigint[];
  rflags: bigint;
  scratch: Uint8Array;
}

function hasGcc(): boolean {
  const r = spawnSync('gcc', ['--version'], { stdio: 'ignore' });
  return r.status === 0;
}

/** The suites run only where the host can execute the cases: x86-64 Linux with gcc. */
export const nativeAvailable: boolean = process.platform === 'linux' && process.arch === 'x64' && hasGcc();

let binary: string | null = null;

/** Compiles the harness once per source version (content-hashed name, atomic rename so parallel forks agree). */
export function harnessBinary(): string {
  if (binary) return binary;
  const src = readFileSync(SOURCE);
  const hash = createHash('sha256').update(src).digest('hex').slice(0, 16);
  const path = join(OUT_DIR, `harness-${hash}`);
  if (!existsSync(path)) {
    mkdirSync(OUT_DIR, { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    const r = spawnSync('gcc', ['-O2', '-Wall', '-o', tmp, SOURCE], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`gcc failed to build the native harness:\n${r.stderr}`);
    renameSync(tmp, path);
  }
  binary = path;
  return path;
}

/** Host CPUID features the suites depend on (MOVBE, POPCNT, LZCNT, TZCNT/BMI1). */
export function hostFeatures(): Record<'movbe' | 'popcnt' | 'lzcnt' | 'bmi1', boolean> {
  const r = spawnSync(harnessBinary(), ['--cpuid'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`harness --cpuid failed: ${r.stderr}`);
  const get = (k: string): boolean => new RegExp(`${k}=1`).test(r.stdout);
  return { movbe: get('movbe'), popcnt: get('popcnt'), lzcnt: get('lzcnt'), bmi1: get('bmi1') };
}

const CASE_HEADER = 8 + 17 * 8;
const RESULT_HEADER = 16 + 17 * 8;
const pad8 = (n: number): number => (n + 7) & ~7;

function encodeBatch(cases: readonly HarnessInput[]): Uint8Array {
  let total = 8;
  for (const c of cases) total += CASE_HEADER + pad8(c.code.length) + pad8(c.scratch?.length ?? 0);
  const bytes = new Uint8Array(total);
  const u32 = new Uint32Array(bytes.buffer);
  const u64 = new BigUint64Array(bytes.buffer);
  bytes.set([0x56, 0x4d, 0x53, 0x4e]); // "VMSN"
  u32[1] = cases.length;
  let p = 8;
  for (const c of cases) {
    if (c.code.length > 200) throw new Error('case code longer than 200 bytes');
    bytes[p] = c.code.length;
    u32[(p >> 2) + 1] = c.scratch?.length ?? 0;
    const q = (p >> 3) + 1;
    for (let i = 0; i < 16; i++) u64[q + i] = BigInt.asUintN(64, c.gpr[i] ?? 0n);
    u64[q + 16] = BigInt.asUintN(64, c.rflags);
    p += CASE_HEADER;
    bytes.set(c.code, p);
    p += pad8(c.code.length);
    if (c.scratch) {
      bytes.set(c.scratch, p);
      p += pad8(c.scratch.length);
    }
  }
  return bytes;
}

function decodeBatch(raw: Buffer, count: number): HarnessOutput[] {
  const out = new Uint8Array(raw.length);
  out.set(raw); // fresh ArrayBuffer: 8-byte aligned views
  const u32 = new Uint32Array(out.buffer, 0, out.length >> 2);
  const i32 = new Int32Array(out.buffer, 0, out.length >> 2);
  const u64 = new BigUint64Array(out.buffer, 0, out.length >> 3);
  if (out.length < 8 || raw.toString('latin1', 0, 4) !== 'VMSR' || u32[1] !== count) {
    throw new Error('native harness returned a malformed result stream');
  }
  const results: HarnessOutput[] = [];
  let p = 8;
  for (let n = 0; n < count; n++) {
    if (p + RESULT_HEADER > out.length) throw new Error('native harness result stream is truncated');
    const w = p >> 2;
    const fault = i32[w]!;
    const stray = u32[w + 1] !== 0;
    const len = u32[w + 2]!;
    const q = (p >> 3) + 2;
    const gpr = Array.from(u64.subarray(q, q + 16));
    const rflags = u64[q + 16]!;
    p += RESULT_HEADER;
    const scratch = out.slice(p, p + len);
    p += pad8(len);
    results.push({ fault: fault < 0 ? null : fault, stray, gpr, rflags, scratch });
  }
  return results;
}

/** Runs the cases on the host, in chunks so no single pipe transfer grows unbounded. */
export function runNative(cases: readonly HarnessInput[], chunk = 20_000): HarnessOutput[] {
  const bin = harnessBinary();
  const results: HarnessOutput[] = [];
  for (let i = 0; i < cases.length; i += chunk) {
    const part = cases.slice(i, i + chunk);
    const r = spawnSync(bin, [], { input: encodeBatch(part), maxBuffer: 1 << 30 });
    if (r.status !== 0) {
      throw new Error(`native harness exited with ${r.status ?? r.signal}: ${r.stderr.toString()}`);
    }
    for (const o of decodeBatch(r.stdout, part.length)) results.push(o);
  }
  return results;
}

/** Writes a batch to a file so a failing case can be replayed by hand: harness <file>. */
export function dumpBatch(path: string, cases: readonly HarnessInput[]): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, encodeBatch(cases));
}
