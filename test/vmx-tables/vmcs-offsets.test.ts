// emulator/vmx/vmcs-offsets.ts against the field table: one member per field, each the field's byte offset in the region; the test writes the file when asked.
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { VMCS_FIELDS } from '../../emulator/vmx/fields.js';
import { vmcsFieldOffset } from '../../emulator/vmx/vmcs.js';
import { VmcsAccess } from '../../emulator/vmx/vmcs-access.js';
import { VmcsOffset } from '../../emulator/vmx/vmcs-offsets.js';

const FILE = new URL('../../emulator/vmx/vmcs-offsets.ts', import.meta.url);

/** The file as it follows from fields.ts and vmcs.ts's layout (VMSCOPE_WRITE_VMCS_OFFSETS=1 writes it). */
function expectedSource(): string {
  const lines = VMCS_FIELDS.map((f) => `  ${f.name} = ${vmcsFieldOffset(f)},`);
  return [
    '// Byte offsets of every VMCS field in vmscope\'s region layout (vmcs.ts) as an enum, so that bundles carry them as',
    '// numbers: written by test/vmx-tables/vmcs-offsets.test.ts from fields.ts (VMSCOPE_WRITE_VMCS_OFFSETS=1), which checks it.',
    '',
    '/**',
    ' * The exit and entry paths address the region\'s words by these (`words[VmcsOffset.VM_EXIT_REASON >>> 2]`). esbuild',
    ' * inlines enum members when bundling: an object of offsets made at load time costs V8 a load, a map check and an',
    ' * untagging at every use (about 8 host instructions each, some 250 per CPUID exit round trip).',
    ' */',
    'export enum VmcsOffset {',
    ...lines,
    '}',
    '',
  ].join('\n');
}

describe('VmcsOffset', () => {
  it('is the field table\'s layout: every field once, at 16 + 8 × slot', () => {
    const want = expectedSource();
    if (process.env.VMSCOPE_WRITE_VMCS_OFFSETS === '1') writeFileSync(FILE, want);
    expect(readFileSync(FILE, 'utf8'), 'emulator/vmx/vmcs-offsets.ts is stale: VMSCOPE_WRITE_VMCS_OFFSETS=1 npx vitest run test/vmx-tables/vmcs-offsets.test.ts').toBe(want);
    for (const f of VMCS_FIELDS) {
      expect((VmcsOffset as unknown as Record<string, number>)[f.name], f.name).toBe(VmcsAccess.offset(f.name));
    }
    const offsets = VMCS_FIELDS.map((f) => vmcsFieldOffset(f));
    expect(new Set(offsets).size).toBe(VMCS_FIELDS.length);
  });
});
