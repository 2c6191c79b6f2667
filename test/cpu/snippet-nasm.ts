// Assembles a 64-bit snippet for SnippetRunner (at its code address) with nasm into test/.tmp/cpu/.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SnippetRunner } from '../../emulator/testing/snippet.js';

const TMP = join(__dirname, '..', '.tmp', 'cpu');

export function nasmSnippet(name: string, src: string): Uint8Array {
  mkdirSync(TMP, { recursive: true });
  const asm = join(TMP, `${name}.asm`), bin = join(TMP, `${name}.bin`);
  writeFileSync(asm, `bits 64\norg ${SnippetRunner.CODE_ADDR}\n${src}\n`);
  execFileSync('nasm', ['-f', 'bin', '-o', bin, asm]);
  return new Uint8Array(readFileSync(bin));
}
