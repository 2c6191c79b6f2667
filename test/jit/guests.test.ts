// Every guest run with the translator on and off: identical status, exit code, output, instruction count, registers and VM-exit log.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Machine, parseLaunchConfig, runImage } from '../../emulator/index.js';
import { buildGuest, canBuildAsm, canBuildC } from '../guests/build.js';
import { GUESTS } from '../guests/catalog.js';
import { CODE, fingerprint, nasm } from './harness.js';

const BUDGET = 20_000_000;
const ROOT = join(__dirname, '..', '..');

describe.skipIf(!canBuildAsm)('test guests, translator on vs off', () => {
  for (const g of GUESTS) {
    it.skipIf(g.needsC === true && !canBuildC)(g.name, () => {
      const b = buildGuest(g.spec);
      const on = runImage(b.bytes, { program: b.path, maxInstructions: BUDGET, ...g.launch });
      const off = runImage(b.bytes, { program: b.path, maxInstructions: BUDGET, ...g.launch, jit: false });
      expect(on).toEqual(off);
    });
  }
});

describe('benchmark guests (long mode under EPT), translator on vs off', () => {
  for (const name of ['integer', 'memcpy', 'calls', 'cpuid', 'io', 'far-exit']) {
    it(name, () => {
      const bytes = new Uint8Array(readFileSync(join(ROOT, 'bench', 'guests', `${name}.bin`)));
      if (name === 'cpuid' || name === 'io') new DataView(bytes.buffer).setBigUint64(8, 2000n, true);
      const results = [true, false].map((jit) => {
        // A budget cuts the long loops mid-way: the state there must agree too.
        const m = new Machine(bytes, parseLaunchConfig({ program: name, format: 'flat', cpuMode: 'long', maxInstructions: 1_234_567, jit }));
        const r = m.runToEnd();
        return { r, exits: m.hv?.log.total, translated: m.cpu.jitUnit.compiled };
      });
      expect(results[0].r).toEqual(results[1].r);
      expect(results[0].exits).toEqual(results[1].exits);
      expect(results[1].translated).toBe(0);
      if (name === 'integer' || name === 'memcpy' || name === 'calls') expect(results[0].translated).toBeGreaterThan(0);
    });
  }
});

describe('32-bit guests under the hypervisor (VMX non-root, EPT), translator on vs off', () => {
  // Memory operands, the stack, a CALL/RET trace, a counter in memory, port output every 64 iterations.
  const code = nasm('hv32', `
      mov ecx, 3000
      mov esi, 0x200000
    loop:
      mov eax, [esi + ecx*4]
      add eax, ecx
      mov [esi + ecx*4 + 4], eax
      push eax
      call f
      pop edx
      add ebx, edx
      inc dword [0x300000]
      test ecx, 63
      jnz .n
      mov al, bl
      out 0xe9, al
    .n:
      dec ecx
      jnz loop
      hlt
    f:
      mov eax, [esp + 4]
      rol eax, 7
      ret
  `, CODE, 32);
  for (const cpuMode of ['protected', 'paged32'] as const) {
    for (const maxInstructions of [1_000_000, 23_456]) {
      it(`${cpuMode}, budget ${maxInstructions}`, () => {
        const results = [true, false].map((jit) => {
          const m = new Machine(code, parseLaunchConfig({ program: 'hv32', format: 'flat', cpuMode, maxInstructions, jit }));
          const r = m.runToEnd();
          return { r, exits: m.hv?.log.total, translated: m.cpu.jitUnit.compiled, state: fingerprint(m.cpu, m.mem) };
        });
        expect(results[0].r).toEqual(results[1].r);
        expect(results[0].exits).toEqual(results[1].exits);
        expect(results[0].state).toEqual(results[1].state);
        expect(results[0].translated).toBeGreaterThan(0);
        expect(results[1].translated).toBe(0);
      });
    }
  }

  it('the multiboot benchmark kernel (bench/guests/mb-integer.elf), cut by a budget and to its end', () => {
    const bytes = new Uint8Array(readFileSync(join(ROOT, 'bench', 'guests', 'mb-integer.elf')));
    new DataView(bytes.buffer).setUint32(0x60, 200_000, true);
    for (const maxInstructions of [345_678, 10_000_000]) {
      const [on, off] = [true, false].map((jit) => runImage(bytes, { program: 'mb-integer.elf', format: 'multiboot', maxInstructions, jit }));
      expect(on).toEqual(off);
    }
  });
});

describe('samples, translator on vs off', () => {
  const dirs = readdirSync(join(ROOT, 'samples')).filter((d) => /^\d\d-/.test(d));
  for (const d of dirs) {
    const elf = join(ROOT, 'samples', d, `${d}.elf`);
    it.skipIf(!existsSync(elf))(d, () => {
      const bytes = new Uint8Array(readFileSync(elf));
      const on = runImage(bytes, { program: elf, maxInstructions: BUDGET });
      const off = runImage(bytes, { program: elf, maxInstructions: BUDGET, jit: false });
      expect(on).toEqual(off);
    });
  }
});
