// Checks the guests' expected results against reference machines: QEMU runs the same images, the C computations run natively, iced-x86 counts OUTs.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Decoder, DecoderOptions, Mnemonic } from 'iced-x86';
import { describe, expect, it } from 'vitest';
import { buildGuest, canBuildAsm, canBuildC, GUEST_OUT, GUEST_SRC, runQemu, tools } from './build.js';
import { COMPUTE_OUTPUT, GUESTS, HELLO, normaliseMemLine } from './catalog.js';

describe.skipIf(!canBuildAsm || !tools.qemu)('expected outputs match QEMU (qemu-system-x86_64, -no-reboot)', () => {
  for (const g of GUESTS.filter((c) => c.qemu)) {
    it.skipIf(g.needsC === true && !canBuildC)(g.name, () => {
      const b = buildGuest(g.spec);
      const want = g.expect(b);
      const q = g.qemu!;
      const r = q.boot === 'kernel'
        ? runQemu({ kernel: b.path, append: g.launch.args ?? '' }, { memoryMiB: g.launch.memoryMiB ?? 64 })
        : runQemu({ disk: b.path }, { timeoutMs: q.hangs ? 2000 : 20_000 });
      let output = r.output;
      if (g.launch.format === 'multiboot') {
        // QEMU's Multiboot loader passes "<kernel path> <append>" as the command line (GRUB does the same).
        output = output.replace(`cmdline=${b.path} `, 'cmdline=');
      }
      if (g.spec.name === 'mbkernel') {
        const n = normaliseMemLine(output, g.launch.memoryMiB ?? 64);
        expect(n.plausible, `mem_lower=${n.memLower} mem_upper=${n.memUpper}`).toBe(true);
        output = n.output;
      }
      expect(output).toBe(q.qemuOutput ? q.qemuOutput(want.output) : want.output);
      if (q.hangs) {
        expect(r.timedOut).toBe(true); // HLT with IF=0 never ends on QEMU
      } else if (want.status === 'debug-exit') {
        expect(r.exitCode).toBe(want.exitCode); // isa-debug-exit: QEMU exits with (v<<1)|1
      } else if (want.status === 'triple-fault') {
        expect({ exitCode: r.exitCode, timedOut: r.timedOut }).toEqual({ exitCode: 0, timedOut: false }); // -no-reboot: shutdown
      }
    });
  }
});

describe.skipIf(!canBuildC)('C computations match the same source run natively', () => {
  for (const m of ['32', '64']) {
    it(`gcc -m${m} -DHOSTED`, () => {
      const dir = join(GUEST_OUT, 'hosted');
      mkdirSync(dir, { recursive: true });
      const exe = join(dir, `cprog${m}-${process.pid}`);
      const cc = spawnSync('gcc', [`-m${m}`, '-O2', '-DHOSTED', '-I', GUEST_SRC, '-o', exe, join(GUEST_SRC, 'cprog.c')], { encoding: 'utf8' });
      if (cc.status !== 0 && /gnu\/stubs-32|cannot find/.test(cc.stderr)) return; // no multilib: nothing to compare
      expect(cc.status, cc.stderr).toBe(0);
      const run = spawnSync(exe, [], { encoding: 'utf8' });
      expect(run.status).toBe(0);
      expect(run.stdout).toBe(`C guest, ${m === '64' ? 'long' : 'protected'} mode\n` + COMPUTE_OUTPUT + 'done\n');
    });
  }
});

describe.skipIf(!canBuildAsm)('hello images', () => {
  const flat = GUESTS.filter((g) => g.name.startsWith('hello-') && g.spec.output === 'bin');
  for (const g of flat) {
    it(`${g.name}: exactly ${HELLO.length} OUT instructions, then CLI; HLT (iced-x86)`, () => {
      const b = buildGuest(g.spec);
      const bits = g.launch.cpuMode === 'real' ? 16 : g.launch.cpuMode === 'long' ? 64 : 32;
      const d = new Decoder(bits, b.bytes, DecoderOptions.None);
      const seen: Mnemonic[] = [];
      try {
        while (d.canDecode && seen[seen.length - 1] !== Mnemonic.Hlt) {
          const i = d.decode();
          seen.push(i.mnemonic);
          i.free();
        }
      } finally {
        d.free();
      }
      expect(seen.filter((x) => x === Mnemonic.Out).length).toBe(HELLO.length);
      expect(seen.slice(-2)).toEqual([Mnemonic.Cli, Mnemonic.Hlt]);
    });
  }
});
