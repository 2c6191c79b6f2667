// Test-guest builder: assembles/compiles/links guest sources (nasm, gcc, ld) into test/.tmp/guests/, cached by content hash.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const GUEST_SRC = resolve(dirname(fileURLToPath(import.meta.url)), 'src');
export const GUEST_OUT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '.tmp', 'guests');

function hasTool(cmd: string, args: string[] = ['--version']): boolean {
  try {
    return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
  } catch {
    return false;
  }
}

/** Which host tools are present; tests use these with describe.skipIf. */
export const tools = {
  nasm: hasTool('nasm', ['-v']),
  gcc: hasTool('gcc'),
  ld: hasTool('ld'),
  objcopy: hasTool('objcopy'),
  nm: hasTool('nm'),
  qemu: hasTool('qemu-system-x86_64'),
};
export const canBuildAsm = tools.nasm && tools.ld && tools.objcopy && tools.nm;
export const canBuildC = canBuildAsm && tools.gcc;

/** One source file (relative to test/guests/src) with its preprocessor defines. */
export interface GuestSource {
  file: string;
  defines?: Record<string, string | number>;
}

/**
 * How a guest is built.
 * - 'bin': one nasm source assembled with `-f bin` (its own `org`), no linker.
 * - 'elf64' / 'elf32': objects linked by ld into an ELF executable of that class.
 * - 'flat64' / 'flat32': as the ELF, then `objcopy -O binary` (first byte = linkAddress).
 * - 'multiboot': 64-bit objects linked with ld -m elf_x86_64, then rewrapped as ELF32
 *   (`objcopy -O elf32-i386`) because Multiboot 1 loaders (QEMU -kernel) take ELF32 only.
 */
export type GuestOutput = 'bin' | 'elf64' | 'elf32' | 'flat64' | 'flat32' | 'multiboot';

export interface GuestSpec {
  name: string;
  output: GuestOutput;
  sources: (string | GuestSource)[];
  /** Link address of the first section (ld -Ttext); default 0x100000. */
  linkAddress?: number;
  /** Entry symbol; default _start. */
  entry?: string;
  /** Extra gcc flags (after the common freestanding ones). */
  cflags?: string[];
  /** Global defines for every source. */
  defines?: Record<string, string | number>;
}

export interface GuestBuild {
  name: string;
  /** The image to hand to runImage (flat binary or ELF). */
  path: string;
  bytes: Uint8Array;
  /** The linked ELF (also for flat outputs, for symbols); undefined for 'bin'. */
  elfPath?: string;
  /** Symbol table from nm (name → address); empty for 'bin'. */
  symbols: Map<string, bigint>;
}

const COMMON_CFLAGS = [
  '-O2', '-ffreestanding', '-nostdlib', '-fno-pic', '-fno-pie', '-fno-stack-protector', '-fno-asynchronous-unwind-tables',
  '-fno-builtin', '-fno-reorder-functions', '-fno-reorder-blocks-and-partition', '-mno-red-zone', '-mno-sse', '-mno-mmx', '-mno-80387', '-fcf-protection=none', '-static', '-Wall', '-Werror',
];

let toolVersions: string | undefined;
function versions(): string {
  toolVersions ??= [['nasm', '-v'], ['gcc', '--version'], ['ld', '--version']]
    .map(([c, a]) => (hasTool(c, [a]) ? execFileSync(c, [a]).toString().split('\n')[0] : 'none'))
    .join('|');
  return toolVersions;
}

function norm(s: string | GuestSource): GuestSource {
  return typeof s === 'string' ? { file: s } : s;
}

function defineArgs(d: Record<string, string | number> | undefined, flag: string): string[] {
  return Object.entries(d ?? {}).map(([k, v]) => `${flag}${k}=${v}`);
}

function run(cmd: string, args: string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`guest build failed: ${cmd} ${args.join(' ')}\n${r.stdout ?? ''}${r.stderr ?? ''}${r.error ?? ''}`);
  }
}

/** Parse `nm` output of an ELF into a symbol map. */
export function readSymbols(elfPath: string): Map<string, bigint> {
  const out = execFileSync('nm', [elfPath]).toString();
  const m = new Map<string, bigint>();
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length === 3) m.set(f[2], BigInt('0x' + f[0]));
  }
  return m;
}

/** Build (or reuse the cached build of) one guest. Throws with the tool's output when a step fails. */
export function buildGuest(spec: GuestSpec): GuestBuild {
  const sources = spec.sources.map(norm);
  // Cache key: the spec, the tool versions, every source and every shared include/header in src/.
  const h = createHash('sha256').update(JSON.stringify(spec)).update(versions());
  const shared = readdirSync(GUEST_SRC).filter((f) => /\.(inc|h)$/.test(f)).sort();
  for (const f of [...sources.map((s) => s.file), ...shared]) h.update(f).update(readFileSync(join(GUEST_SRC, f)));
  const key = h.digest('hex').slice(0, 16);
  const dir = join(GUEST_OUT, `${spec.name}-${key}`);
  const isElf = spec.output !== 'bin';
  const image = join(dir, spec.output === 'bin' || spec.output.startsWith('flat') ? `${spec.name}.bin` : `${spec.name}.elf`);
  const elf = isElf ? join(dir, `${spec.name}.linked.elf`) : undefined;

  if (!existsSync(image)) {
    // Build in a scratch folder and rename, so parallel test workers never see half-built output.
    const tmp = `${dir}.tmp${process.pid}`;
    mkdirSync(tmp, { recursive: true });
    const is64 = spec.output === 'elf64' || spec.output === 'flat64' || spec.output === 'multiboot';
    if (spec.output === 'bin') {
      if (sources.length !== 1) throw new Error(`guest ${spec.name}: 'bin' takes exactly one nasm source`);
      const s = sources[0];
      run('nasm', ['-f', 'bin', '-I', GUEST_SRC + '/', ...defineArgs({ ...spec.defines, ...s.defines }, '-D'),
        '-o', join(tmp, `${spec.name}.bin`), join(GUEST_SRC, s.file)], tmp);
    } else {
      const objs: string[] = [];
      sources.forEach((s, i) => {
        const obj = join(tmp, `${i}-${s.file.replace(/[^A-Za-z0-9_.-]/g, '_')}.o`);
        const defs = { ...spec.defines, ...s.defines };
        if (s.file.endsWith('.asm')) {
          run('nasm', ['-f', is64 ? 'elf64' : 'elf32', '-I', GUEST_SRC + '/', ...defineArgs(defs, '-D'), '-o', obj,
            join(GUEST_SRC, s.file)], tmp);
        } else {
          run('gcc', [is64 ? '-m64' : '-m32', ...COMMON_CFLAGS, ...(spec.cflags ?? []), '-I', GUEST_SRC,
            ...defineArgs(defs, '-D'), '-c', '-o', obj, join(GUEST_SRC, s.file)], tmp);
        }
        objs.push(obj);
      });
      const addr = '0x' + (spec.linkAddress ?? 0x100000).toString(16);
      run('ld', ['-m', is64 ? 'elf_x86_64' : 'elf_i386', '-static', '-nostdlib', '--build-id=none', '-z', 'noexecstack',
        '-z', 'max-page-size=0x1000', '-e', spec.entry ?? '_start', '-Ttext', addr, '-o', join(tmp, `${spec.name}.linked.elf`),
        ...objs], tmp);
      const linked = join(tmp, `${spec.name}.linked.elf`);
      if (spec.output.startsWith('flat')) {
        // A flat image starts executing at its first byte: the entry must be the link address.
        const entry = readSymbols(linked).get(spec.entry ?? '_start');
        if (entry !== BigInt(spec.linkAddress ?? 0x100000)) {
          throw new Error(`guest ${spec.name}: entry ${entry?.toString(16)} is not at the link address of a flat image`);
        }
        run('objcopy', ['-O', 'binary', linked, join(tmp, `${spec.name}.bin`)], tmp);
      } else if (spec.output === 'multiboot') {
        run('objcopy', ['-O', 'elf32-i386', linked, join(tmp, `${spec.name}.elf`)], tmp);
      } else {
        writeFileSync(join(tmp, `${spec.name}.elf`), readFileSync(linked));
      }
    }
    try {
      renameSync(tmp, dir);
    } catch {
      // Another worker finished first: its output is identical by construction.
    }
  }
  const bytes = new Uint8Array(readFileSync(image));
  return { name: spec.name, path: image, bytes, elfPath: elf, symbols: elf ? readSymbols(elf) : new Map() };
}

export interface QemuResult {
  output: string;
  exitCode: number | null;
  timedOut: boolean;
}

/**
 * Run a guest under QEMU (the reference machine) with the debug console on 0xE9 and isa-debug-exit on 0xF4.
 * `boot` is either `{ kernel, append }` (Multiboot 1 via -kernel) or `{ disk }` (a raw boot-sector image).
 */
export function runQemu(boot: { kernel: string; append?: string } | { disk: string }, opts: { memoryMiB?: number; timeoutMs?: number } = {}): QemuResult {
  const dir = join(GUEST_OUT, 'qemu');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `out-${process.pid}-${createHash('sha256').update(JSON.stringify(boot)).digest('hex').slice(0, 8)}.txt`);
  writeFileSync(out, '');
  const args = [
    '-m', String(opts.memoryMiB ?? 64), '-display', 'none', '-monitor', 'none', '-serial', 'none', '-nodefaults', '-no-reboot',
    '-accel', 'tcg', '-device', 'isa-debugcon,iobase=0xe9,chardev=c', '-chardev', `file,id=c,path=${out}`,
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=4',
  ];
  if ('kernel' in boot) {
    args.push('-kernel', boot.kernel);
    if (boot.append !== undefined) args.push('-append', boot.append);
  } else {
    args.push('-drive', `format=raw,file=${boot.disk},if=floppy`, '-boot', 'a');
  }
  const r = spawnSync('qemu-system-x86_64', args, { timeout: opts.timeoutMs ?? 20_000, encoding: 'utf8' });
  return { output: readFileSync(out, 'latin1'), exitCode: r.status, timedOut: r.error !== undefined || r.signal !== null };
}
