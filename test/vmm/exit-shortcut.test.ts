// Exits handled in the processor's run loop (Hypervisor's exit shortcut) and inside the exiting instruction (its exit fastpath, which translated blocks go on after) give the same run as exits handled by runSlice: the same slice ends, exit log, console output and machine state, slice by slice.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Machine, parseLaunchConfig } from '../../emulator/index.js';
import { stateHash } from '../../emulator/history/state-hash.js';
import { GUESTS, ROOT, type HistoryGuest } from '../history/guests.js';
import { prng } from '../prng.js';
import { nasm } from './nasm.js';

/** The bench's exit loops (bench/guests/cpuid.asm, io.asm) with `count` iterations. */
function exitLoop(name: 'cpuid' | 'io', count: number): HistoryGuest {
  return {
    name: `${name} exit loop`,
    make: () => {
      const bytes = new Uint8Array(readFileSync(join(ROOT, 'bench', 'guests', `${name}.bin`)));
      new DataView(bytes.buffer).setBigUint64(8, BigInt(count), true);
      return new Machine(bytes, parseLaunchConfig({ program: name, format: 'flat', cpuMode: 'long', maxInstructions: 50_000_000 }));
    },
  };
}

/** Where a machine is after a slice: what a debugger or the CLI would see of it. */
function position(m: Machine, stop: unknown): string {
  const hv = m.hv!;
  return JSON.stringify({ stop: typeof stop === 'object' ? (stop as { status: string }).status : stop, icount: m.cpu.icount, exits: hv.log.total, steps: hv.stepsSpent, inGuest: hv.inGuest, rip: m.guestRip() });
}

function exitLines(m: Machine): string[] {
  return m.hv!.log.recent().map((e) => `#${e.n} ${e.name} ${e.summary} rip=0x${e.rip.toString(16)} [${e.bytes.join(' ')}] ${e.outcome} i=${e.icount}${e.note !== undefined ? ` | ${e.note}` : ''}`);
}

/** guests/fastpath-mix.asm: CPUID and quiet-port I/O in a translated loop, with timer interrupts in between. */
const mix: HistoryGuest = {
  name: 'fastpath mix (CPUID, quiet-port IN/OUT, PIT interrupts)',
  make: () => new Machine(nasm('fastpath-mix'), parseLaunchConfig({ program: 'fastpath-mix', format: 'flat', cpuMode: 'protected', maxInstructions: 50_000_000 })),
};

/** guests/fastpath-end.asm: the run ends through isa-debug-exit in an exit the fastpath takes. */
const end: HistoryGuest = {
  name: 'fastpath end (isa-debug-exit)',
  make: () => new Machine(nasm('fastpath-end'), parseLaunchConfig({ program: 'fastpath-end', format: 'flat', cpuMode: 'protected', maxInstructions: 1_000_000 })),
};

/** guests/fastpath-held.asm: CPUID exits right after the guest changed CR3 (held state the entry checks in full). */
const held: HistoryGuest = {
  name: 'fastpath after a held-state change (MOV to CR3 before each CPUID)',
  make: () => new Machine(nasm('fastpath-held'), parseLaunchConfig({ program: 'fastpath-held', format: 'flat', cpuMode: 'long', maxInstructions: 1_000_000 })),
};

const guests: HistoryGuest[] = [exitLoop('cpuid', 20_000), exitLoop('io', 20_000), mix, end, held, ...GUESTS];

describe('the exit shortcut', () => {
  for (const g of guests) {
    it(`${g.name}: the same run with and without it, slice by slice`, () => {
      const on = g.make(() => {}), off = g.make(() => {});
      off.hv!.shortcutEnabled = false;
      const rand = prng(0x5c0ffee);
      let slices = 0;
      for (;;) {
        // Slices of one step (a debugger's instruction step), a few, and many: the budget must come out the same.
        const u = rand();
        const slice = u < 0.3 ? 1 : u < 0.6 ? 1 + Math.floor(rand() * 40) : u < 0.9 ? 1 + Math.floor(rand() * 3000) : 1 + Math.floor(rand() * 100_000);
        const a = on.runSlice(slice), b = off.runSlice(slice);
        slices++;
        expect(position(on, a), `slice ${slices} (${slice} steps)`).toBe(position(off, b));
        if (slices % 50 === 0) expect(stateHash(on).all, `state after slice ${slices}`).toBe(stateHash(off).all);
        if (typeof a === 'object') break;
        if (a === 'breakpoint') { on.cpu.resumeFromBreakpoint(); off.cpu.resumeFromBreakpoint(); }
      }
      expect(exitLines(on)).toEqual(exitLines(off));
      expect(on.output()).toBe(off.output());
      expect(stateHash(on).all).toBe(stateHash(off).all);
      // The shortcut was taken where the guest exits more than at its end, and not by the machine without it.
      if (off.hv!.log.total > 2) expect(on.hv!.shortcutExits).toBeGreaterThan(0);
      expect(off.hv!.shortcutExits).toBe(0);
    }, 120_000);
  }

  it('the fastpath takes CPUID and IN/OUT exits, and the others go the generic way', () => {
    const m = mix.make(() => {});
    const r = m.runToEnd();
    expect(r.status).toBe('halted');
    // One letter per 256 iterations, then the tick count ('A' + ticks): timer interrupts came in during the loop.
    expect(r.output.slice(0, 25)).toBe('abcdefghijklmnopqrstuvwxT');
    expect(r.output.charCodeAt(25) - 65).toBeGreaterThanOrEqual(5);
    const hv = m.hv!;
    const exits = hv.log.recent();
    const eligible = exits.filter((e) => e.name === 'CPUID' || e.name === 'IO_INSTRUCTION').length;
    // The OUTs that unmask IRQ 0 with a tick pending: their entries inject it (the PIC's port is not quiet).
    const unmasking = exits.filter((e) => e.name === 'IO_INSTRUCTION' && Number(BigInt(e.qualification) >> 16n) === 0x21 && e.note?.includes('injected vector 0x20'));
    expect(unmasking.length).toBeGreaterThan(50);
    // Every eligible exit but those right after an entry that was not quiet: after a generic exit, or after an OUT
    // whose entry injected.
    expect(hv.fastpathExits).toBeLessThanOrEqual(eligible);
    expect(hv.fastpathExits).toBeGreaterThanOrEqual(eligible - (exits.length - eligible) - unmasking.length);
    expect(eligible).toBeGreaterThan(29_000);
  });

  it('an exit whose device ends the run is logged as ended, from the fastpath too', () => {
    const m = end.make(() => {});
    const r = m.runToEnd();
    expect(r.status).toBe('debug-exit');
    expect(r.exitCode).toBe(7);
    expect(r.output).toBe('k');
    expect(m.hv!.fastpathExits).toBeGreaterThanOrEqual(2);
    const last = m.hv!.log.recent().at(-1)!;
    expect(last.name).toBe('IO_INSTRUCTION');
    expect(last.outcome).toBe('ended');
  });

  it('after the guest changed held state, a fastpath exit enters with the full checks', () => {
    const m = held.make(() => {});
    const r = m.runToEnd();
    expect(r.status).toBe('debug-exit');
    expect(r.exitCode).toBe(1);
    expect(r.output).toBe('h');
    const vmx = m.hv!.vmx;
    // 4000 CPUIDs, each after a MOV to CR3: the fastpath took them, and each entry after one checked in full
    // (Vmx.resumeQuiet declined: the mode switch alone would have skipped the checks of the new CR3).
    expect(m.hv!.log.byReason.get(10)?.count).toBe(4000);
    expect(m.hv!.fastpathExits).toBeGreaterThanOrEqual(3990);
    expect(vmx.fullChecks).toBeGreaterThanOrEqual(4000);
    expect(vmx.heldResumes).toBeLessThan(10);
  });

  it('a translated loop goes on in its block after the fastpath handled its CPUID', () => {
    const m = exitLoop('cpuid', 100_000).make(() => {});
    m.runSlice(20_000); // the loop is translated by now
    // The loop's head: xor eax, eax; xor ecx, ecx; cpuid (bench/guests/cpuid.asm), in the block that loops in itself.
    const image = readFileSync(join(ROOT, 'bench', 'guests', 'cpuid.bin'));
    const head = 0x100000 + image.indexOf(Buffer.from([0x31, 0xc0, 0x31, 0xc9, 0x0f, 0xa2]));
    const hpa = m.cpu.tlbPeek(head);
    const block = m.cpu.jitUnit.page(Math.floor(hpa / 4096)).blocks[hpa & 0xfff]!;
    expect(block.len).toBe(5);
    const fn = block.fn!;
    let calls = 0;
    block.fn = (c, limit) => { calls++; fn(c, limit); };
    const before = m.hv!.fastpathExits;
    m.runSlice(30_000); // 6000 iterations of 4 instructions and an exit
    expect(m.hv!.fastpathExits - before).toBeGreaterThanOrEqual(5990);
    expect(calls).toBeLessThan(10);
  });

  it('a console that fails ends the run the same way with and without it', () => {
    // The host's console output throws at the 500th byte of the OUT loop (a closed pipe, say): the handler failed.
    const bytes = new Uint8Array(readFileSync(join(ROOT, 'bench', 'guests', 'io.bin')));
    new DataView(bytes.buffer).setBigUint64(8, 2000n, true);
    const run = (fast: boolean) => {
      let n = 0;
      const m = new Machine(bytes, parseLaunchConfig({ program: 'io', format: 'flat', cpuMode: 'long' }), { onConsole: () => { if (++n === 500) throw new Error('console closed'); } });
      m.hv!.shortcutEnabled = fast;
      const r = m.runToEnd();
      return { status: r.status, message: r.message, exits: m.hv!.log.total, last: exitLines(m).at(-1), fast: m.hv!.fastpathExits };
    };
    const on = run(true), off = run(false);
    expect(on.fast).toBeGreaterThan(400);
    expect({ ...on, fast: 0 }).toEqual({ ...off, fast: 0 });
    expect(on.status).toBe('error');
    expect(on.message).toBe('handler for IO_INSTRUCTION failed: console closed');
    expect(on.exits).toBe(500);
  });

  it('is not taken while a debugger watches exits', () => {
    const m = exitLoop('cpuid', 200).make(() => {});
    let seen = 0;
    m.hv!.exitBreak = () => { seen++; return false; };
    expect(typeof m.runToEnd()).toBe('object');
    expect(seen).toBe(2 * 200 + 1); // before and after each CPUID exit; before the HLT that ends the run
    expect(m.hv!.shortcutExits).toBe(0);
    expect(m.hv!.fastpathExits).toBe(0);
  });
});
