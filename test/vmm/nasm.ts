// Assembles test/vmm/guests/<name>.asm as a flat binary into test/.tmp/vmm/ for the hypervisor tests.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const TMP = join(__dirname, '..', '.tmp', 'vmm');

export function nasm(name: string): Uint8Array {
  mkdirSync(TMP, { recursive: true });
  const out = join(TMP, `${name}.bin`);
  execFileSync('nasm', ['-f', 'bin', '-o', out, join(__dirname, 'guests', `${name}.asm`)]);
  return new Uint8Array(readFileSync(out));
}
