// Conformance of the instruction decoder against iced-x86 on seeded random byte strings in 16-, 32- and 64-bit modes.

import { describe, expect, it } from 'vitest';
import { Code, Decoder, DecoderOptions, Instruction } from 'iced-x86';
import { Insn } from '../../emulator/cpu/insn.js';
import { decode } from '../../emulator/cpu/decode.js';
import { compareWithIced } from './iced-compare.js';

const STRIDE = 16;
const CASES_PER_MODE = Number(process.env.DECODER_CASES ?? 350_000);
const SEED = Number(process.env.DECODER_SEED ?? 0x9e3779b9);

/** xorshift32: deterministic, so a failure reproduces from the printed seed. */
function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}

const PREFIXES = [0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65];

/** Fills `buf` with `count` 16-byte cases biased towards prefixes, REX and the 0F / 0F38 / 0F3A maps. */
function generate(buf: Uint8Array, count: number, mode: number, rnd: () => number): void {
  for (let c = 0; c < count; c++) {
    const o = c * STRIDE;
    for (let i = 0; i < STRIDE; i++) buf[o + i] = rnd() & 0xff;
    let p = o;
    const r = rnd();
    // 0..3 legacy prefixes (sometimes many, to reach the 15-byte limit)
    let np = r & 3;
    if ((r >>> 2 & 15) === 0) np = 8 + (r >>> 6 & 7);
    for (let i = 0; i < np && p < o + 14; i++) buf[p++] = PREFIXES[rnd() % PREFIXES.length];
    if (mode === 64 && (r >>> 9 & 1)) buf[p++] = 0x40 | (rnd() & 15);
    const sel = r >>> 10 & 15;
    if (sel < 4) buf[p++] = 0x0f;
    else if (sel < 6) { buf[p++] = 0x0f; buf[p++] = 0x38; }
    else if (sel < 7) { buf[p++] = 0x0f; buf[p++] = 0x3a; }
    else if (sel < 8) {
      // VEX / EVEX / XOP escapes (outside 64-bit mode VEX/EVEX need the next byte's top bits = 11)
      const esc = [0xc4, 0xc5, 0x62, 0x8f][rnd() & 3];
      buf[p++] = esc;
      if (esc !== 0x8f && (rnd() & 1)) buf[p] |= 0xc0;
    }
    // the rest stays random: opcode, ModRM, SIB, displacement, immediates
    void p;
  }
}

function runMode(mode: 16 | 32 | 64, count: number, seed: number) {
  const rnd = xorshift(seed ^ mode);
  const buf = new Uint8Array(count * STRIDE + 16);
  generate(buf, count, mode, rnd);
  const decoder = new Decoder(mode, buf, DecoderOptions.None);
  const ins = new Instruction();
  const ours = new Insn();
  let base = 0;
  const fetch = (i: number): number => buf[base + i];
  const failures: string[] = [];
  const byKind = new Map<string, [number, string]>();
  let failCount = 0, icedValid = 0;
  for (let c = 0; c < count; c++) {
    base = c * STRIDE;
    decoder.position = base;
    decoder.ip = 0n;
    decoder.decodeOut(ins);
    decode(ours, fetch, mode);
    if (ins.code !== Code.INVALID) icedValid++;
    const err = compareWithIced(ours, ins);
    if (err) {
      failCount++;
      const hex = Array.from(buf.subarray(base, base + STRIDE), (b) => b.toString(16).padStart(2, '0')).join('');
      const line = `mode ${mode} seed ${seed} case ${c} bytes ${hex}: ${err}`;
      if (failures.length < 40) failures.push(line);
      // group by opcode and kind of disagreement so one bug shows once
      const key = `${ours.opcode.toString(16)} ${err.split(':')[0]} ${Code[ins.code]}`;
      const e = byKind.get(key);
      if (e) e[0]++; else byKind.set(key, [1, line]);
    }
  }
  ins.free();
  decoder.free();
  if (process.env.DECODER_GROUPS) {
    const top = [...byKind.values()].sort((x, y) => y[0] - x[0]).slice(0, 80);
    failures.length = 0;
    for (const [n, line] of top) failures.push(`${n}x ${line}`);
  }
  return { failures, failCount, icedValid };
}

describe('decoder vs iced-x86 (random bytes)', () => {
  for (const mode of [16, 32, 64] as const) {
    it(`${mode}-bit mode: ${CASES_PER_MODE} seeded random cases agree`, () => {
      const { failures, failCount, icedValid } = runMode(mode, CASES_PER_MODE, SEED);
      console.log(`mode ${mode}: ${CASES_PER_MODE} cases, ${icedValid} valid per iced, ${failCount} disagreements`);
      if (failures.length) console.log(failures.join('\n'));
      expect(failCount).toBe(0);
    });
  }

  it('decode speed (informational, best of 10 passes over 100k cases)', () => {
    const rnd = xorshift(SEED);
    const n = 100_000;
    const buf = new Uint8Array(n * STRIDE + 16);
    generate(buf, n, 64, rnd);
    const insn = new Insn();
    let base = 0;
    const fetch = (i: number): number => buf[base + i];
    let best = 0, total = 0;
    for (let rep = 0; rep < 10; rep++) {
      const t0 = performance.now();
      for (let c = 0; c < n; c++) { base = c * STRIDE; decode(insn, fetch, 64); total += insn.length; }
      best = Math.max(best, n / ((performance.now() - t0) / 1000));
    }
    console.log(`decode: ${Math.round(best).toLocaleString('en')} decodes/s (64-bit, biased random bytes, under vitest's module transform)`);
    expect(total).toBeGreaterThan(0);
  });
});
