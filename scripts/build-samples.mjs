// Reproducible build of every samples/<name>/ guest image from its sources; --check rebuilds into a temp folder and reports committed images that differ.
//
// Rule per sample directory (sorted, so the bytes never depend on readdir order):
//   *.asm  → nasm -f elf64|elf32 -g -F dwarf --reproducible      *.c → gcc -g -O1 freestanding, -ffile-prefix-map
//   all objects → ld --build-id=none -Ttext <linkAddress> -e _start → <name>.elf, and objcopy -O binary → <name>.bin
// An optional build.json in the directory overrides { "bits": 64|32, "linkAddress": "0x100000", "cflags": [], "bin": true }.
// Sources are compiled in a scratch copy; the scratch path never reaches the image: gcc maps it to "." with
// -ffile-prefix-map, and for nasm (which always records its working directory as DW_AT_comp_dir) the path is
// overwritten in the object by a "./././" string of the same length, so the DWARF stays well-formed (the scratch
// path always has the same length, so the images are byte-identical on every machine).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const samplesDir = join(root, 'samples');

function sh(cmd, args, cwd) {
  try {
    return execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${e.stderr ?? ''}${e.stdout ?? ''}${e.message}`);
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

/** Build one sample into outDir; returns the image file names produced. */
function buildSample(name, outDir) {
  const src = join(samplesDir, name);
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
      if (bytes.includes(Buffer.from(scratch))) throw new Error(`${name}/${f}: the scratch path leaked into the image`);
      writeFileSync(join(outDir, f), bytes);
    }
    return out;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Sample folders, sorted; names given on the command line (e.g. `npm run samples -- 03-cpuid`) restrict the build to them. */
function samples() {
  if (!existsSync(samplesDir)) return [];
  const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const all = readdirSync(samplesDir).filter((d) => statSync(join(samplesDir, d)).isDirectory()).sort();
  for (const n of only) if (!all.includes(n)) throw new Error(`no sample folder samples/${n}`);
  return only.length ? all.filter((d) => only.includes(d)) : all;
}

const check = process.argv.includes('--check');
let stale = 0;
const tmp = check ? mkdtempSync('/tmp/vmscope-samples-check-') : undefined;
try {
  for (const name of samples()) {
    const outDir = check ? join(tmp, name) : join(samplesDir, name);
    for (const f of buildSample(name, outDir)) {
      const committed = join(samplesDir, name, f);
      if (!check) {
        console.log(`built samples/${name}/${f}`);
      } else if (!existsSync(committed)) {
        console.log(`MISSING samples/${name}/${f}`);
        stale++;
      } else if (!readFileSync(committed).equals(readFileSync(join(outDir, f)))) {
        console.log(`DIFFERS samples/${name}/${f} (run: node scripts/build-samples.mjs)`);
        stale++;
      } else {
        console.log(`ok samples/${name}/${f}`);
      }
    }
  }
} finally {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}
process.exitCode = stale ? 1 : 0;
