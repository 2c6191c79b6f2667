// Every CPUID feature bit vmscope advertises (leaf 1, 7, 80000001H) has a guest program here that exercises the feature.
import { describe, expect, it } from 'vitest';
import { run, hasNasm, excVector, errorCode64, LONG_RINGS, type Machine } from './harness.js';
import { LEAF1_EDX, LEAF1_ECX, LEAF7_EBX, LEAF7_ECX, EXT1_ECX, EXT1_EDX } from '../../emulator/cpu/cpuid.js';
import type { StartMode } from '../../emulator/cpu/setup.js';

interface Check { mode: StartMode; code: string; verify?: (m: Machine) => void }
/** Each check ends with r15d/edi = 1 (`ok`) only if the feature behaved; `verify` adds host-side assertions. */
const OK64 = 'mov r15d, 1\nhlt\nfail: hlt';
const OK32 = 'mov edi, 1\nhlt\nfail: hlt';
const CHECKS: Record<string, Check> = {
  PSE: { mode: 'paged32', code: `mov dword [0x9004], 0x800083\ninvlpg [0x400000]\nmov dword [0x400010], 0x1234\n${OK32}`,
    verify: (m) => expect(m.mem.read32(0x800010)).toBe(0x1234) },
  PSE36: { mode: 'paged32', code: `mov dword [0x9004], 0x83 | (1 << 13)\ninvlpg [0x400000]\nmov eax, [0x400000]\ncmp eax, -1\njne fail\nmov eax, [0x100000]\ncmp eax, -1\nje fail\n${OK32}` },
  TSC: { mode: 'long', code: `rdtsc\nmov esi, eax\nnop\nrdtsc\ncmp eax, esi\njbe fail\n${OK64}` },
  MSR: { mode: 'long', code: `mov ecx, 0xc0000081\nmov eax, 0x11\nmov edx, 0x22\nwrmsr\nxor eax, eax\nxor edx, edx\nrdmsr\ncmp eax, 0x11\njne fail\ncmp edx, 0x22\njne fail\n${OK64}` },
  PAE: { mode: 'long', code: `mov edi, 0x20000\nxor eax, eax\nmov ecx, 1024\nrep stosd\nmov dword [0x20000], 0x800003\nmov dword [0xc010], 0x20003\ninvlpg [0x400000]\nmov dword [0x400020], 0x5678\n${OK64}`,
    verify: (m) => expect(m.mem.read32(0x800020)).toBe(0x5678) },
  CX8: { mode: 'long', code: `mov dword [0x3000], 1\nmov dword [0x3004], 2\nmov eax, 1\nmov edx, 2\nmov ebx, 3\nmov ecx, 4\nlock cmpxchg8b [0x3000]\njne fail\ncmp dword [0x3004], 4\njne fail\n${OK64}` },
  SEP: { mode: 'protected', code: `mov ecx, 0x174\nmov eax, 0x08\nxor edx, edx\nwrmsr\nmov ecx, 0x175\nmov eax, 0x70000 - 0x100\nwrmsr\nmov ecx, 0x176\nmov eax, k\nwrmsr\nsysenter\nhlt\nk: cmp esp, 0x70000 - 0x100\njne fail\nmov ax, ss\ncmp ax, 0x10\njne fail\n${OK32}` },
  MTRR: { mode: 'long', code: `mov ecx, 0x200\nmov eax, 0x100006\nxor edx, edx\nwrmsr\nxor eax, eax\nrdmsr\ncmp eax, 0x100006\njne fail\nmov ecx, 0xfe\nrdmsr\ncmp eax, 0x508\njne fail\n${OK64}` },
  PGE: { mode: 'long', code: `or dword [0xc010], 0x100\nmov rax, cr4\nbts eax, 7\nmov cr4, rax\nmov rbx, cr4\nbt ebx, 7\njnc fail\nmov dword [0x400000], 1\n${OK64}` },
  CMOV: { mode: 'long', code: `xor eax, eax\nmov ebx, 7\ncmp eax, eax\ncmove eax, ebx\ncmp eax, 7\njne fail\n${OK64}` },
  PAT: { mode: 'long', code: `mov ecx, 0x277\nrdmsr\ncmp eax, 0x00070406\njne fail\nmov eax, 0x00070106\nwrmsr\nrdmsr\ncmp eax, 0x00070106\njne fail\n${OK64}` },
  CLFSH: { mode: 'long', code: `clflush [0x3000]\nmov eax, 1\ncpuid\nshr ebx, 8\ncmp bl, 8\njne fail\n${OK64}` },
  FXSR: { mode: 'long', code: `mov eax, 0x77\nmovd xmm5, eax\nfxsave [0x3000]\npxor xmm5, xmm5\nfxrstor [0x3000]\nmovd eax, xmm5\ncmp eax, 0x77\njne fail\n${OK64}` },
  SSE: { mode: 'long', code: `mov dword [0x3000], 0xf0f0f0f0\nmovaps xmm1, [0x3000]\nxorps xmm1, xmm1\nmovaps [0x3000], xmm1\ncmp dword [0x3000], 0\njne fail\n${OK64}` },
  SSE2: { mode: 'long', code: `pxor xmm0, xmm0\npxor xmm1, xmm1\npcmpeqb xmm0, xmm1\npmovmskb eax, xmm0\ncmp eax, 0xffff\njne fail\n${OK64}` },
  CX16: { mode: 'long', code: `xor eax, eax\nxor edx, edx\nmov ebx, 9\nxor ecx, ecx\nmov qword [0x3000], 0\nmov qword [0x3008], 0\ncmpxchg16b [0x3000]\njne fail\ncmp qword [0x3000], 9\njne fail\n${OK64}` },
  MOVBE: { mode: 'long', code: `mov dword [0x3000], 0x11223344\nmovbe eax, [0x3000]\ncmp eax, 0x44332211\njne fail\n${OK64}` },
  POPCNT: { mode: 'long', code: `mov eax, 0xf0f1\npopcnt ebx, eax\ncmp ebx, 9\njne fail\n${OK64}` },
  XSAVE: { mode: 'long', code: `mov rax, cr4\nbts eax, 18\nmov cr4, rax\nxor ecx, ecx\nxor edx, edx\nmov eax, 3\nxsetbv\nxgetbv\ncmp eax, 3\njne fail\nmov eax, 3\nxsave [0x4000]\ncmp dword [0x4000 + 512], 3\njne fail\n${OK64}` },
  FSGSBASE: { mode: 'long', code: `mov rax, cr4\nbts eax, 16\nmov cr4, rax\nmov rax, 0x7fff00001000\nwrfsbase rax\nmov dword [0x7fff00001000 - 0x7fff00001000 + 0x3000], 0x99\nmov rcx, -0x7fff00001000 + 0x3000\nmov eax, [fs:rcx]\ncmp eax, 0x99\njne fail\nrdfsbase rbx\ncmp rbx, [rel fsb]\njne fail\n${OK64}\nfsb: dq 0x7fff00001000` },
  UMIP: { mode: 'long', code: `start:\n${LONG_RINGS}\nmov rax, cr4\nbts eax, 11\nmov cr4, rax\nsgdt [0x3000]\npush 0x23\npush 0x90000\npush 0x2\npush 0x2b\nlea rax, [rel r3]\npush rax\niretq\nr3: sgdt [0x3000]\nhlt`,
    verify: (m) => { expect(excVector(m)).toBe(13); expect(m.mem.read32(m.cpu.lo[4] + 16)).toBe(0x2b); } },
  LAHF_LM: { mode: 'long', code: `stc\nlahf\ntest ah, 1\njz fail\n${OK64}` },
  ABM_LZCNT: { mode: 'long', code: `mov eax, 1\nlzcnt ebx, eax\ncmp ebx, 31\njne fail\n${OK64}` },
  SYSCALL: { mode: 'long', code: `mov ecx, 0xc0000082\nlea rax, [rel k]\nmov rdx, rax\nshr rdx, 32\nwrmsr\nmov ecx, 0xc0000081\nxor eax, eax\nmov edx, 0x00000018\nwrmsr\nsyscall\nr: hlt\nk: lea rax, [rel r]\ncmp rcx, rax\njne fail\n${OK64}` },
  NX: { mode: 'long', code: `or dword [0xc014], 0x80000000\ninvlpg [0x400000]\nmov byte [0x400000], 0xc3\ncall 0x400000\n${OK64}`,
    verify: (m) => { expect(excVector(m)).toBe(14); expect(errorCode64(m)).toBe(0x11); expect(m.cpu.cr2).toBe(0x400000); } },
  PAGE1GB: { mode: 'long', code: `mov dword [0xb020], 0x83\nmov rsi, 0x100100000\nmov eax, [rsi]\ncmp eax, [0x100000]\njne fail\n${OK64}` },
  RDTSCP: { mode: 'long', code: `mov ecx, 0xc0000103\nmov eax, 5\nxor edx, edx\nwrmsr\nxor ecx, ecx\nrdtscp\ncmp ecx, 5\njne fail\n${OK64}` },
  LM: { mode: 'long', code: `mov ecx, 0xc0000080\nrdmsr\nbt eax, 10\njnc fail\nmov rax, 0x123456789a\nshr rax, 32\ncmp eax, 0x12\njne fail\n${OK64}` },
};

const ADVERTISED: Array<[string, Record<string, number>]> = [
  ['CPUID.1:EDX', LEAF1_EDX], ['CPUID.1:ECX', LEAF1_ECX], ['CPUID.7:EBX', LEAF7_EBX], ['CPUID.7:ECX', LEAF7_ECX],
  ['CPUID.80000001H:ECX', EXT1_ECX], ['CPUID.80000001H:EDX', EXT1_EDX],
];

describe.skipIf(!hasNasm)('advertised CPUID features work', () => {
  for (const [where, bits] of ADVERTISED) {
    for (const name of Object.keys(bits)) {
      it(`${where}.${name}`, () => {
        const check = CHECKS[name];
        expect(check, `no guest check for advertised feature ${name}`).toBeDefined();
        const m = run(check.mode, check.code);
        expect(m.cpu.unimplemented).toEqual([]);
        if (check.verify) check.verify(m);
        else {
          expect(excVector(m)).toBe(-1);
          expect(check.mode === 'long' ? m.cpu.lo[15] : m.cpu.lo[7]).toBe(1);
        }
      });
    }
  }
});
