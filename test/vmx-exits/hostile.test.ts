// Hostile guests and hostile VMCS contents under the hypervisor: entry failures (VMfailValid 7/8, INVALID_STATE 33), random code, random field garbage, runaway exit loops.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { Machine, parseLaunchConfig, type RunResult } from '../../emulator/index.js';
import { EXIT_REASON as R } from '../../emulator/vmx/exit-reasons.js';
import { VMCS_FIELDS } from '../../emulator/vmx/fields.js';
import { guest, TMP, type Mode } from './harness.js';

/** xorshift32: deterministic, so a failure reproduces from its seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}

/** A run's message must read as an explanation, not a leaked host exception. */
function expectCleanEnd(r: RunResult, what: string): void {
  expect(['halted', 'debug-exit', 'triple-fault', 'reset', 'budget', 'error'], what).toContain(r.status);
  if (r.status === 'error') {
    expect(r.message ?? '', what).not.toBe('');
    expect(r.message ?? '', what).not.toMatch(/TypeError|RangeError|ReferenceError|is not a function|Cannot read|undefined|NaN|handler for \w+ failed/);
  }
}

describe('VM-entry failures', () => {
  const body = `
main:
  mov eax, 1
  EXIT 0x01
`;
  it('CS.L and CS.D both set in an IA-32e guest: exit 33 with bit 31, the run ends with an error and the check is named', () => {
    const g = guest('entry-csld', 'long', body);
    g.hv.vmwrite('GUEST_CS_AR_BYTES', Number(g.hv.vmread('GUEST_CS_AR_BYTES')) | (1 << 14));
    const r = g.run();
    expect(r.status).toBe('error');
    const [e] = g.exits;
    expect(e.reason).toBe(R.INVALID_STATE);
    expect(e.rawReason >>> 0).toBe((0x80000000 | 33) >>> 0);
    expect(g.hv.vmx.lastEntryCheck).toBe('CS.L and CS.D both set');
    expect(g.hv.log.recent()[0].note).toBe('failed check: CS.L and CS.D both set');
    expect(r.message).toMatch(/invalid guest state/);
    expect(r.instructions).toBe(0);
  });

  it('reserved pin-based control bits: VMfailValid 7 (invalid control field), the check named in the message', () => {
    const g = guest('entry-ctl', 'long', body);
    g.hv.vmwrite('PIN_BASED_VM_EXEC_CONTROL', 0);
    const r = g.run();
    expect(r.status).toBe('error');
    expect(g.exits).toHaveLength(0);
    expect(Number(g.hv.vmread('VM_INSTRUCTION_ERROR'))).toBe(7);
    expect(r.message).toMatch(/^VMLAUNCH failed: VM-instruction error 7 .*pin-based controls: reserved bits$/);
  });

  it('host CR0 without its fixed bits: VMfailValid 8 (invalid host-state field)', () => {
    const g = guest('entry-host', 'long', body);
    g.hv.vmwrite('HOST_CR0', 0);
    const r = g.run();
    expect(r.status).toBe('error');
    expect(Number(g.hv.vmread('VM_INSTRUCTION_ERROR'))).toBe(8);
    expect(r.message).toMatch(/VM-instruction error 8 .*host CR0: fixed bits/);
  });

  it('random garbage in 1-4 VMCS fields before launch: VMfail, exit 33 or a run, never a host exception', () => {
    const fields = VMCS_FIELDS.filter((f) => f.type !== 'exit-info');
    const next = rng(0xbadc0de);
    const outcomes: Record<string, number> = {};
    const a = guest('garbage-base', 'long', body);
    for (let n = 0; n < 400; n++) {
      const m = new Machine(a.asm.bytes, parseLaunchConfig({ program: 'g', format: 'flat', cpuMode: 'long', maxInstructions: 500, memoryMiB: 4 }));
      const writes: string[] = [];
      for (let k = 0, c = 1 + (next() & 3); k < c; k++) {
        const f = fields[next() % fields.length];
        // Mostly small perturbations of the current value (flip a bit), sometimes anything.
        const cur = m.hv!.vmx.vmread(f.encoding);
        const base = typeof cur === 'bigint' ? cur : 0n;
        const v = (next() & 1) === 0 ? base ^ (1n << BigInt(next() % 64)) : (BigInt(next()) << 32n) | BigInt(next());
        writes.push(`${f.encoding.toString(16)}=${v.toString(16)}`);
        m.hv!.vmx.vmwrite(f.encoding, BigInt.asUintN(64, v));
      }
      let r: RunResult;
      try { r = m.runToEnd(); } catch (e) { throw new Error(`garbage ${writes.join(',')} threw ${String(e)}`); }
      expectCleanEnd(r, writes.join(','));
      const key = r.status === 'error' ? (r.message!.startsWith('VMLAUNCH failed') ? 'vmfail' : /invalid guest state/.test(r.message!) ? 'invalid-state' : 'error') : r.status;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
    }
    expect(outcomes.vmfail).toBeGreaterThan(0);
    expect(outcomes['invalid-state']).toBeGreaterThan(0);
    expect(outcomes['debug-exit']).toBeGreaterThan(0);
  });
});

describe('random code under the hypervisor', () => {
  const STREAMS = Number(process.env.VMSCOPE_VMX_HOSTILE_STREAMS ?? 1500);
  const MODES: Mode[] = ['real', 'protected', 'paged32', 'long'];
  const BUDGET = 64;
  for (const mode of MODES) {
    it(`${mode}: ${STREAMS} random streams end cleanly within the budget`, () => {
      const next = rng(0x5eed0 + MODES.indexOf(mode));
      const bytes = new Uint8Array(96);
      const statuses: Record<string, number> = {};
      let exits = 0;
      for (let n = 0; n < STREAMS; n++) {
        for (let k = 0; k < bytes.length; k += 4) {
          const v = next();
          bytes[k] = v; bytes[k + 1] = v >>> 8; bytes[k + 2] = v >>> 16; bytes[k + 3] = v >>> 24;
        }
        const m = new Machine(bytes, parseLaunchConfig({ program: 'r', format: 'flat', cpuMode: mode, maxInstructions: BUDGET, memoryMiB: 4 }));
        let r: RunResult;
        try {
          r = m.runToEnd();
        } catch (e) {
          const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
          throw new Error(`${mode} stream ${n} threw ${String(e)}; bytes ${hex}`);
        }
        expectCleanEnd(r, `${mode} stream ${n}`);
        expect(m.cpu.icount).toBeLessThanOrEqual(BUDGET);
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        exits += r.vmExits.total;
      }
      expect(exits).toBeGreaterThan(STREAMS / 4);
      expect(Object.keys(statuses).length).toBeGreaterThan(1);
      console.log(`${mode}: ${JSON.stringify(statuses)}, ${exits} VM exits`);
    });
  }
});

describe('runaway exit loops', () => {
  it('CPUID in a loop exits once per iteration and stops at the instruction budget', () => {
    const g = guest('cpuid-loop', 'long', `
main:
again:
  cpuid
  jmp again
`, { maxInstructions: 10_000 });
    const r = g.run();
    expect(r.status).toBe('budget');
    // The budget counts retired instructions and VM exits alike: each JMP retires, each CPUID is one exit.
    expect(g.m.cpu.icount + g.m.hv!.log.total).toBe(10_000);
    expect(Math.abs(g.of(R.CPUID).length - 5_000)).toBeLessThanOrEqual(1);
  });

  /** Run a guest in a child process (a hang cannot be interrupted in-process); resolves to its result or 'timeout'. */
  function runIsolated(name: string, src: string, maxInstructions: number, timeoutMs: number): string {
    const dir = join(TMP, 'isolated');
    mkdirSync(dir, { recursive: true });
    const g = guest(`${name}-asm`, 'long', src);
    const bin = join(dir, `${name}.bin`);
    writeFileSync(bin, g.asm.bytes);
    const entry = join(dir, `${name}.ts`);
    writeFileSync(entry, `import { readFileSync } from 'node:fs';
import { Machine, parseLaunchConfig } from ${JSON.stringify(join(__dirname, '..', '..', 'emulator', 'index.ts'))};
const m = new Machine(new Uint8Array(readFileSync(${JSON.stringify(bin)})), parseLaunchConfig({ program: 'x', format: 'flat', cpuMode: 'long', maxInstructions: ${maxInstructions} }));
const r = m.runToEnd();
console.log(JSON.stringify({ status: r.status, exits: r.vmExits.total }));
`);
    const out = join(dir, `${name}.mjs`);
    buildSync({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', outfile: out, logLevel: 'silent' });
    const p = spawnSync(process.execPath, [out], { timeout: timeoutMs, encoding: 'utf8' });
    if (p.error || p.status === null) return 'timeout';
    return p.stdout.trim();
  }

  // KNOWN BUG (emulator/vmm/hypervisor.ts runSlice): exits handled without a retired guest instruction are not charged
  // to the budget, so REP OUTSB with RCX = 2^64-1 (4096 elements per exit, RIP unchanged) keeps runSlice busy for
  // ~2^52 exits: the debugger never regains control. Remove `.fails` when runSlice bounds exits per slice.
  it('REP OUTSB with a huge RCX returns at the budget instead of hanging', () => {
    const res = runIsolated('rep-outs', `
main:
  mov rcx, -1
  mov dx, 0x80
  xor esi, esi
  rep outsb
  EXIT 0x01
`, 1000, 8_000);
    expect(res).not.toBe('timeout');
    expect(JSON.parse(res).status).toBe('budget');
  });
});
