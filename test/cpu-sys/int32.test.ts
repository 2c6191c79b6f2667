// Protected-mode interrupt delivery and IRET (32-bit gates, same and outer privilege, faults with their error codes) on vmscope against QEMU, and the SDM's stack-room check QEMU does not make.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runImage } from '../../emulator/index.js';
import { runQemu, tools } from '../guests/build.js';
import { hasNasm, TMP } from './harness.js';

const SRC = join(dirname(fileURLToPath(import.meta.url)), 'src', 'int32.asm');

/** nasm -f bin of int32.asm with `defines`, cached by content under test/.tmp/cpu-sys/. */
function build(defines: Record<string, number> = {}): { path: string; bytes: Uint8Array } {
  mkdirSync(TMP, { recursive: true });
  const src = readFileSync(SRC);
  const h = createHash('sha256').update(src).update(JSON.stringify(defines)).digest('hex').slice(0, 16);
  const path = join(TMP, `int32-${h}.bin`);
  if (!existsSync(path)) execFileSync('nasm', ['-f', 'bin', ...Object.entries(defines).map(([k, v]) => `-D${k}=${v}`), '-o', path, SRC], { stdio: 'pipe' });
  return { path, bytes: new Uint8Array(readFileSync(path)) };
}

function vmscope(bytes: Uint8Array, jit: boolean): { status: string; output: string } {
  const r = runImage(bytes, { program: 'int32', format: 'multiboot', maxInstructions: 2_000_000, jit });
  return { status: r.status, output: r.output };
}

describe.skipIf(!hasNasm)('32-bit interrupt delivery and IRET', () => {
  it.skipIf(!tools.qemu)('every event prints what it prints on QEMU (qemu-system-x86_64 -accel tcg), interpreter and translator', () => {
    const b = build();
    const q = runQemu({ kernel: b.path });
    expect(q.output).toMatch(/^int32\n[^]*done\n$/);
    expect(q.output.split('\n').length).toBeGreaterThan(18);
    // One known difference: IRET to an outer level with a not-present SS. The SDM's IRET pseudo-code (and Bochs) raise
    // #SS(SS selector) there, as MOV SS does; QEMU raises #NP. vmscope follows the SDM: that line is compared as #SS.
    const npSs = 'exc v=0000000b e=00000048';
    expect(q.output.split(npSs).length).toBe(2);
    const want = q.output.replace(npSs, 'exc v=0000000c e=00000048');
    for (const jit of [false, true]) expect(vmscope(b.bytes, jit)).toEqual({ status: 'debug-exit', output: want });
  });

  it('no room on the stack for a same-privilege frame: #SS(0) for INT n, delivered with ESP as it was (SDM vol. 2A INT n)', () => {
    // QEMU does not check the stack limit when it pushes an interrupt frame, so the expected line is the SDM's:
    // INTRA-PRIVILEGE-LEVEL-INTERRUPT checks room for the whole frame first, #SS(EXT) with EXT = 0 for INT n; the
    // #SS is then delivered through a ring-0 gate (a stack switch), whose frame holds the ring-1 SS:ESP unchanged.
    const b = build({ ROOM: 1 });
    for (const jit of [false, true]) {
      const r = vmscope(b.bytes, jit);
      expect(r.status).toBe('debug-exit');
      const lines = r.output.trimEnd().split('\n');
      expect(lines.at(-1)).toBe('done');
      expect(lines.at(-2)).toMatch(/^exc v=0000000c e=00000000 eip=[0-9a-f]{8} cs=00000051 fl=[0-9a-f]{8} esp=00000008 ss=00000059$/);
    }
  });
});
