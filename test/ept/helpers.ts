// Shared helpers of the EPT and VM-entry tests: assemble a guest from test/ept/guests with nasm, build a long-mode machine.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Machine, parseLaunchConfig } from '../../emulator/index.js';

const TMP = join(__dirname, '..', '.tmp', 'ept');

export function nasm(name: string): Uint8Array {
  mkdirSync(TMP, { recursive: true });
  const out = join(TMP, `${name}.bin`);
  execFileSync('nasm', ['-f', 'bin', '-o', out, join(__dirname, 'guests', `${name}.asm`)]);
  return new Uint8Array(readFileSync(out));
}

export function longGuest(name: string): Machine {
  return new Machine(nasm(name), parseLaunchConfig({ program: name, format: 'flat', cpuMode: 'long' }));
}
