// Reproducible build of one guest folder (nasm/C sources → NAME.elf and NAME.bin), shared by scripts/build-samples.mjs and `vmscope test`.
//
// Rule per folder (sorted, so the bytes never depend on readdir order):
//   *.asm  → nasm -f elf64|elf32 -g -F dwarf --reproducible      *.c → gcc -g -O1 freestanding, -ffile-prefix-map
//   all objects → ld --build-id=none -Ttext <linkAddress> -e _start → <name>.elf, and objcopy -O binary → <name>.bin
// An optional build.json in the folder overrides { "bits": 64|32, "linkAddress": "0x100000", "cflags": [], "bin": true }.
// Sources are compiled in a scratch copy; the scratch path never reaches the image: gcc maps it to "." with
// -ffile-prefix-map, and for nasm (which always records its working directory as DW_AT_comp_dir) the path is
// overwritten in the object by a "./././" string of the same length, so the DWARF stays well-formed (the scratch
// path always has the same length, so the images are byte-identical on every machine).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A build step failed (nasm/gcc/ld error text in the message). */
export class GuestBuildError extends Error {
  constructor(message) {
    super(message);
    this.name = 'GuestBuildError';
  }
}

function sh(cmd, args, cwd) {
  try {
    return execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new GuestBuildError(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${e.stderr ?? ''}${e.stdout ?? ''}${e.message}`);
  }
}

/** Replace every NUL-terminated occurrence of `path` (with or without its trailing '/') by "./././..." of the same length. */
function scrubPath(buf, path) {
  for (const p of [path + '/', path]) {
    const needle = Buffer.from(p + '\0');
    const repl = Buffer.from('./'.repeat(Math.ceil(p.length / 2)).slice(0, p.length).replace(/\.$/, '/') + '\0');
    for (let i = buf.indexOf(needle); i >= 0; i = buf.indexOf(needle, i + 1)) repl.copy(buf, i);
  }
  return buf;
}

/** Whether `dir` holds guest sources (*.asm, *.c) to build. */
export function hasGuestSources(dir) {
  return readdirSync(dir).some((f) => /\.(asm|c)$/.test(f));
}

/** Build the guest sources of folder `src` into outDir as `${name}.elf` (and `${name}.bin`); returns the image file names produced. */
export function buildGuest(src, name, outDir) {
  const cfgPath = join(src, 'build.json');
  const cfg = { bits: 64, linkAddress: '0x100000', cflags: [], bin: true, ...(existsSync(cfgPath) ? JSON.parse(readFileSync(cfgPath, 'utf8')) : {}) };
  const files = readdirSync(src).filter((f) => /\.(asm|c|h|inc)$/.test(f)).sort();
  const units = files.filter((f) => /\.(asm|c)$/.test(f));
  if (units.length === 0) return [];
  // Always /tmp/vmscope-s-XXXXXX: a path of fixed length, so the same-length scrub below gives the same bytes everywhere.
  const scratch = mkdtempSync('/tmp/vmscope-s-');
  try {
    for (const f of files) copyFileSync(join(src, f), join(scratch, f));
    const objs = [];
    for (const f of units) {
      const obj = f.replace(/\.(asm|c)$/, f.endsWith('.c') ? '.c.o' : '.o');
      if (f.endsWith('.asm')) {
        sh('nasm', ['-f', cfg.bits === 32 ? 'elf32' : 'elf64', '-g', '-F', 'dwarf', '--reproducible', '-o', obj, f], scratch);
      } else {
        sh('gcc', [`-m${cfg.bits}`, '-g', '-O1', '-ffreestanding', '-nostdlib', '-fno-pic', '-fno-pie', '-fno-stack-protector',
          '-fno-asynchronous-unwind-tables', '-mno-red-zone', '-fcf-protection=none', `-ffile-prefix-map=${scratch}=.`,
          `-fdebug-prefix-map=${scratch}=.`, '-frandom-seed=vmscope', ...cfg.cflags, '-c', '-o', obj, f], scratch);
      }
      writeFileSync(join(scratch, obj), scrubPath(readFileSync(join(scratch, obj)), scratch));
      objs.push(obj);
    }
    sh('ld', ['-m', cfg.bits === 32 ? 'elf_i386' : 'elf_x86_64', '-static', '-nostdlib', '--build-id=none', '-z', 'noexecstack',
      '-z', 'max-page-size=0x1000', '-e', '_start', '-Ttext', cfg.linkAddress, '-o', `${name}.elf`, ...objs], scratch);
    const out = [`${name}.elf`];
    if (cfg.bin) {
      sh('objcopy', ['-O', 'binary', `${name}.elf`, `${name}.bin`], scratch);
      out.push(`${name}.bin`);
    }
    mkdirSync(outDir, { recursive: true });
    for (const f of out) {
      const bytes = readFileSync(join(scratch, f));
      if (bytes.includes(Buffer.from(scratch))) throw new GuestBuildError(`${name}/${f}: the scratch path leaked into the image`);
      writeFileSync(join(outDir, f), bytes);
    }
    return out;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
