// emulateMmio's decode memo (never stale: self-modifying code and other instructions at the same RIP are decoded anew) and the handler API's number forms of VMREAD/VMWRITE.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Machine, parseLaunchConfig } from '../../emulator/index.js';
import { GPR_NAMES, type VcpuApi } from '../../emulator/vmm/api.js';
import { decodeInstructionCached, emulateMmio, mmioDecodeStats, type MmioBus } from '../../emulator/vmm/mmio.js';
import { decode } from '../../emulator/cpu/decode.js';
import { Insn } from '../../emulator/cpu/insn.js';
import { installUserHandlers } from '../../emulator/vmm/user-handlers.js';
import type { VmcsFieldName } from '../../emulator/vmx/fields.js';

const BASE = 0xd0000000;
interface Access { write: boolean; offset: number; size: number; value: number }

function device(readValue: number): { bus: MmioBus; log: Access[] } {
  const log: Access[] = [];
  const dev = {
    mmioRead(offset: number, size: 1 | 2 | 4) { log.push({ write: false, offset, size, value: readValue }); return readValue; },
    mmioWrite(offset: number, size: 1 | 2 | 4, value: number) { log.push({ write: true, offset, size, value }); },
  };
  return { bus: { findMmio: (a) => (a >= BASE && a < BASE + 0x1000 ? { dev, base: BASE } : null) }, log };
}

/** A vCPU with flat segments and no paging, code size `bits`, `code` at `rip`; registers as BigInts. */
function vcpu(code: Uint8Array, rip: number, bits: 16 | 32, gpr: bigint[]) {
  const self = {
    gpr: [...gpr],
    rip: BigInt(rip),
    exit: { reason: 48, name: 'EPT_VIOLATION', entryFailure: false, qualification: 0n, instructionLength: 0, guestLinear: 0n, guestPhysical: 0n },
    reg(name: string): bigint {
      if (name === 'rip') return self.rip;
      if (name === 'rflags') return 2n;
      return self.gpr[GPR_NAMES.indexOf(name as never)]!;
    },
    setReg(name: string, v: bigint | number) {
      const b = BigInt.asUintN(64, BigInt(v));
      if (name === 'rip') self.rip = b; else self.gpr[GPR_NAMES.indexOf(name as never)] = b;
    },
    gpr32: (r: number) => Number(self.gpr[r]! & 0xffffffffn),
    setGpr32: (r: number, v: number) => { self.gpr[r] = BigInt(v >>> 0); },
    vmread(field: string): bigint {
      if (field === 'GUEST_RIP') return self.rip;
      if (field === 'GUEST_CS_AR_BYTES') return bits === 32 ? 0xc09bn : 0x9bn; // D/B selects 32- or 16-bit code
      if (field === 'GUEST_CR0') return 0x11n;
      return 0n;
    },
    vmread32: (field: string) => Number(self.vmread(field) & 0xffffffffn),
    vmreadNumber: (field: string) => Number(BigInt.asIntN(64, self.vmread(field))),
    vmwriteNumber(field: string, v: number) {
      if (field !== 'GUEST_RIP') throw new Error(`unexpected VMWRITE ${field}`);
      self.rip = BigInt.asUintN(64, BigInt(v));
    },
    readGuestVirtual: (gva: number, length: number) => (gva === rip ? Uint8Array.from({ length }, (_, k) => code[k] ?? 0) : null),
    translate: (gva: number) => gva,
    isRam: () => false,
    note: () => { /* unused */ },
    spend: () => { /* unused */ },
  };
  return self as typeof self & VcpuApi;
}

const le = (v: number, n: number) => Array.from({ length: n }, (_, k) => Math.floor(v / 256 ** k) & 0xff);

describe('emulateMmio decode memo', () => {
  it('never serves a stale decode: random instructions at a few RIPs, each access as the bytes at RIP say (SDM vol. 2B MOV)', () => {
    let s = 0x2468ace1;
    const rnd = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
    const gpr = Array.from({ length: 16 }, (_, r) => BigInt(0x11223300 + r)); // EBX = 0x11223303, BH = 0x33
    const before = { ...mmioDecodeStats };
    for (let k = 0; k < 4000; k++) {
      // 12 RIPs in 16 memo slots: the same RIP comes back with other bytes, other RIPs collide.
      const rip = 0x1000 + 0x11 * (rnd() % 12);
      // Few offsets and values: the same instruction comes back at its RIP (a hit) as often as one differing in a byte.
      const off = [0x50, 0x64][rnd() % 2]!;
      const imm = [0x80, 0xdeadbeef][rnd() % 2]!;
      const a = le(BASE + off, 4);
      // [bytes, expected access, register checked after a read]
      const forms: [number[], Access, number | null][] = [
        [[0xc7, 0x05, ...a, ...le(imm, 4)], { write: true, offset: off, size: 4, value: imm }, null],
        [[0xc6, 0x05, ...a, imm & 0xff], { write: true, offset: off, size: 1, value: imm & 0xff }, null],
        [[0x66, 0xc7, 0x05, ...a, ...le(imm & 0xffff, 2)], { write: true, offset: off, size: 2, value: imm & 0xffff }, null],
        [[0x89, 0x1d, ...a], { write: true, offset: off, size: 4, value: 0x11223303 }, null], // EBX
        [[0x88, 0x3d, ...a], { write: true, offset: off, size: 1, value: 0x33 }, null], // BH (register 7 without REX: EBX bits 15:8)
        [[0x8b, 0x15, ...a], { write: false, offset: off, size: 4, value: imm }, 2], // EDX
        [[0xa1, ...a], { write: false, offset: off, size: 4, value: imm }, 0], // EAX, moffs
      ];
      const [bytes, want, reg] = forms[rnd() % forms.length]!;
      const d = device(imm);
      const v = vcpu(Uint8Array.from(bytes), rip, 32, gpr);
      const r = emulateMmio(v, d.bus, BASE + off);
      expect(r.ok).toBe(true);
      expect(d.log).toEqual([want]);
      expect(v.rip).toBe(BigInt(rip + bytes.length));
      if (reg !== null) expect(v.gpr[reg]).toBe(BigInt(imm >>> 0));
    }
    // The memo was used (and missed where the bytes changed).
    expect(mmioDecodeStats.hits - before.hits).toBeGreaterThan(100);
    expect(mmioDecodeStats.decodes - before.decodes).toBeGreaterThan(100);
  });

  it('decodeInstructionCached gives what the decoder gives for the same bytes, whatever was memoised at that RIP', () => {
    let s = 0x13579bdf;
    const rnd = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
    const pool = Array.from({ length: 40 }, () => Uint8Array.from({ length: 15 }, () => [0x66, 0x67, 0x0f, 0x8b, 0x89, 0xc7, 0x05, rnd() & 0xff][rnd() % 8]!));
    const fresh = new Insn();
    const fields = (i: Insn) => [i.opcode, i.length, i.opSize, i.addrSize, i.mod, i.reg, i.rm, i.base, i.index, i.scale, i.disp, i.dispHi, i.imm, i.immHi, i.prefixes, i.seg, i.fault];
    for (let k = 0; k < 3000; k++) {
      const bytes = pool[rnd() % pool.length]!, count = 1 + (rnd() % 15), mode = ([16, 32, 64] as const)[rnd() % 3]!;
      const rip = 0x4000 + (rnd() % 20);
      let ok = true;
      try { decode(fresh, (o) => (o < count ? bytes[o]! : 0), mode); } catch { ok = false; }
      const got = decodeInstructionCached(bytes, count, rip, mode);
      expect(got !== null).toBe(ok);
      if (got !== null) expect(fields(got)).toEqual(fields(fresh));
    }
  });

  it('keys on the code size: the same bytes at the same RIP in 16-bit code are another instruction', () => {
    const code = Uint8Array.from([0xa1, 0x10, 0x00, 0x00, 0xd0]); // 32-bit: mov eax, [0xd0000010]; 16-bit: mov ax, [0x0010]
    const d32 = device(0x11223344);
    const v32 = vcpu(code, 0x2000, 32, new Array<bigint>(16).fill(0n));
    expect(emulateMmio(v32, d32.bus, BASE + 0x10).ok).toBe(true);
    expect(d32.log).toEqual([{ write: false, offset: 0x10, size: 4, value: 0x11223344 }]);
    expect(v32.rip).toBe(0x2005n);
    const d16 = device(0x3344);
    const v16 = vcpu(code, 0x2000, 16, new Array<bigint>(16).fill(0n));
    expect(emulateMmio(v16, d16.bus, BASE + 0x10).ok).toBe(true);
    expect(d16.log).toEqual([{ write: false, offset: 0x10, size: 2, value: 0x3344 }]); // moffs16, operand size 16
    expect(v16.rip).toBe(0x2003n);
  });
});

/** A 32-bit guest that writes QueueSel of the virtio-rng window from one instruction, rewriting its immediate between runs, then turns that instruction into a read of MagicValue (virtio 1.2 §4.2.2). */
const SMC_GUEST = `bits 32
org 0x100000
start:
  mov esi, 3
again:
  mov edi, back
  jmp site
back:
  inc byte [site + 6]          ; the immediate of the MOV below
  dec esi
  jnz again
  mov byte [site], 0xa1        ; MOV EAX, moffs32
  mov dword [site + 1], 0xd0002000
  mov dword [site + 5], 0x90909090
  mov byte [site + 9], 0x90
  mov edi, done
  jmp site
done:
  cmp eax, 0x74726976          ; "virt"
  jne fail
  mov al, 0
  out 0xf4, al
fail:
  mov al, 1
  out 0xf4, al
site:
  mov dword [0xd0002030], 1    ; QueueSel
  jmp edi
`;

function assemble(name: string, source: string): Uint8Array {
  const dir = join(__dirname, '..', '.tmp', 'vmm-mmio');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.asm`), source);
  execFileSync('nasm', ['-f', 'bin', '-o', join(dir, `${name}.bin`), join(dir, `${name}.asm`)]);
  return new Uint8Array(readFileSync(join(dir, `${name}.bin`)));
}

describe('emulateMmio under self-modifying code', () => {
  it('the next access after the guest rewrites the instruction (on its own page) performs the new instruction', () => {
    const image = assemble('mmio-smc', SMC_GUEST);
    for (const jit of [false, true]) {
      const m = new Machine(image, parseLaunchConfig({ program: 'mmio-smc', format: 'flat', cpuMode: 'protected', devices: ['debug-exit', 'virtio-rng'], jit }));
      const r = m.runToEnd();
      expect(r.status, r.message).toBe('debug-exit');
      expect(r.exitCode).toBe(1); // (0 << 1) | 1: the read gave the magic value
      const notes = m.hv!.log.recent().filter((e) => e.name === 'EPT_VIOLATION').map((e) => e.note);
      expect(notes).toEqual([
        'mmio write 0xd0002030 = 0x1 (4 bytes)',
        'mmio write 0xd0002030 = 0x2 (4 bytes)',
        'mmio write 0xd0002030 = 0x3 (4 bytes)',
        'mmio read 0xd0002000 = 0x74726976 (4 bytes)',
      ]);
    }
  });
});

describe('handler API number forms', () => {
  it('vmread32 / vmreadNumber / vmwriteNumber agree with vmread / vmwrite on the live VMCS', () => {
    const image = assemble('mmio-api', 'bits 32\norg 0x100000\n  cpuid\n  cpuid\n  mov al, 0\n  out 0xf4, al\n');
    const m = new Machine(image, parseLaunchConfig({ program: 'mmio-api', format: 'flat', cpuMode: 'protected', devices: ['debug-exit'] }));
    const fields: VmcsFieldName[] = ['GUEST_RIP', 'GUEST_RSP', 'GUEST_RFLAGS', 'GUEST_CR0', 'GUEST_CR3', 'GUEST_CR4', 'GUEST_IA32_EFER', 'GUEST_CS_AR_BYTES',
      'GUEST_CS_BASE', 'GUEST_CS_SELECTOR', 'GUEST_FS_BASE', 'VM_EXIT_REASON', 'EXIT_QUALIFICATION', 'VM_EXIT_INSTRUCTION_LEN', 'EPT_POINTER', 'CPU_BASED_VM_EXEC_CONTROL'];
    const seen: string[] = [];
    let exits = 0;
    installUserHandlers(m.hv!, {
      handlers: {
        CPUID(vcpu, next) {
          exits++;
          for (const f of fields) {
            const big = vcpu.vmread(f);
            expect(vcpu.vmread32(f), f).toBe(Number(big & 0xffffffffn));
            expect(vcpu.vmreadNumber(f), f).toBe(Number(BigInt.asIntN(64, big)));
          }
          if (exits === 1) {
            // Written as numbers, read back as BigInts: the field's width cuts the value as vmwrite does.
            vcpu.vmwriteNumber('GUEST_FS_BASE', -0x1000); // natural width: two's complement
            expect(vcpu.vmread('GUEST_FS_BASE')).toBe(0xfffffffffffff000n);
            vcpu.vmwriteNumber('GUEST_FS_BASE', 0x12345678);
            expect(vcpu.vmread('GUEST_FS_BASE')).toBe(0x12345678n);
            vcpu.vmwriteNumber('GUEST_FS_SELECTOR', 0x10000 + 0x23); // 16-bit field
            expect(vcpu.vmread('GUEST_FS_SELECTOR')).toBe(0x23n);
            expect(() => vcpu.vmwriteNumber('GUEST_FS_BASE', 0.5)).toThrow(RangeError);
            vcpu.vmwriteNumber('GUEST_FS_SELECTOR', 0);
            vcpu.vmwriteNumber('GUEST_FS_BASE', 0);
          }
          // RIP written as a number is the RIP the guest resumes at (here: skipping CPUID by hand).
          const rip = vcpu.vmreadNumber('GUEST_RIP');
          const out = next();
          expect(vcpu.vmreadNumber('GUEST_RIP')).toBe(rip + 2);
          vcpu.vmwriteNumber('GUEST_RIP', rip + 2);
          seen.push(`${rip.toString(16)}`);
          return out;
        },
      },
    });
    const r = m.runToEnd();
    expect(r.status, r.message).toBe('debug-exit');
    expect(exits).toBe(2);
    expect(seen).toEqual(['100000', '100002']);
  });
});
