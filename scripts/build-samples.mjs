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
// The build rule itself lives in cli/exercise/guest-build.mjs (shared with `vmscope test`, which builds exercises the same way).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildGuest } from '../cli/exercise/guest-build.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const samplesDir = join(root, 'samples');

/** Build one sample into outDir; returns the image file names produced. */
function buildSample(name, outDir) {
  return buildGuest(join(samplesDir, name), name, outDir);
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
