// A stable hash of a machine's complete state (memory, processor, VMX, hypervisor, devices, console) for time-travel checks.
import type { Machine } from '../machine.js';

/** FNV-1a, two lanes with different offsets: 64 bits of hash as 16 hex digits. */
class Fnv {
  private a = 0x811c9dc5;
  private b = 0x01000193 ^ 0x5bd1e995;
  byte(x: number): void {
    this.a = Math.imul(this.a ^ (x & 0xff), 0x01000193);
    this.b = Math.imul(this.b ^ (x & 0xff), 0x01000193) ^ (this.b >>> 15);
  }
  text(s: string): void {
    for (let k = 0; k < s.length; k++) { const c = s.charCodeAt(k); this.byte(c); this.byte(c >>> 8); }
    this.byte(0);
  }
  hex(): string {
    return (this.a >>> 0).toString(16).padStart(8, '0') + (this.b >>> 0).toString(16).padStart(8, '0');
  }
}

/**
 * A value written out the same way whatever order its object keys were created in: keys sorted,
 * bigints and typed arrays spelled out, accessor properties (lazily built views such as the
 * exit log's `ring`) and functions left out.
 */
export function stableText(v: unknown, depth = 0): string {
  if (depth > 32) return '…';
  if (v === null) return 'null';
  switch (typeof v) {
    case 'undefined': return 'u';
    case 'number': return Object.is(v, -0) ? '-0' : String(v);
    case 'bigint': return `${v}n`;
    case 'boolean': return v ? 't' : 'f';
    case 'string': return JSON.stringify(v);
    case 'function': case 'symbol': return '';
  }
  if (ArrayBuffer.isView(v)) return `[${Array.from(v as unknown as ArrayLike<number>).join(',')}]`;
  if (Array.isArray(v)) return `[${v.map((x) => stableText(x, depth + 1)).join(',')}]`;
  if (v instanceof Map) return `M[${[...v.entries()].map(([k, x]) => `${stableText(k, depth + 1)}:${stableText(x, depth + 1)}`).sort().join(',')}]`;
  if (v instanceof Set) return `S[${[...v].map((x) => stableText(x, depth + 1)).sort().join(',')}]`;
  const o = v as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of Object.keys(o).sort()) {
    const d = Object.getOwnPropertyDescriptor(o, k);
    if (d === undefined || d.get !== undefined || typeof d.value === 'function') continue;
    parts.push(`${JSON.stringify(k)}:${stableText(d.value, depth + 1)}`);
  }
  return `{${parts.join(',')}}`;
}

export interface StateHash {
  /** Hash of all of memory (pages that are all zeros count as never written). */
  memory: string;
  /** Hash of the processor, VMX unit, hypervisor (exit count and statistics), devices and console position. */
  machine: string;
  /** Both. */
  all: string;
}

/**
 * The processor's lazy-flags bookkeeping (the last ALU operation and its operands, emulator/cpu/cpu.ts): not
 * architectural, and it may differ between the interpreter and translated code for the same RFLAGS, so the hash
 * takes RFLAGS as getFlags() gives it instead.
 */
const LAZY_FLAG_FIELDS = ['lop', 'lsize', 'lres', 'lresh', 'la', 'lah', 'lb', 'lbh', 'lcf'];

/**
 * Hash the machine's complete architectural state. Reads only, except that RFLAGS is computed from the lazy
 * flags (getFlags) and that the guest-state fields the processor holds after a VM exit are written to the VMCS
 * region first (syncVmcs): until then the region's copies of them are stale words whose values depend on the
 * path taken (a restored snapshot re-enters through a full load), not state. Neither changes architectural state.
 */
export function stateHash(m: Machine): StateHash {
  m.hv?.syncVmcs();
  const flags = m.cpu.getFlags();
  const mem = new Fnv();
  for (const pn of m.mem.allocatedPages()) {
    const p = m.mem.pageOrNull(pn)!;
    let zero = true;
    for (let k = 0; k < p.length; k++) if (p[k] !== 0) { zero = false; break; }
    if (zero) continue;
    mem.text(String(pn));
    for (let k = 0; k < p.length; k++) mem.byte(p[k]);
  }
  const st = new Fnv();
  const state = m.captureState();
  const scalars = state.cpu.scalars as Record<string, unknown>;
  for (const k of LAZY_FLAG_FIELDS) delete scalars[k];
  scalars.flagsRaw = flags;
  st.text(stableText(state));
  st.text(m.output());
  const all = new Fnv();
  all.text(mem.hex());
  all.text(st.hex());
  return { memory: mem.hex(), machine: st.hex(), all: all.hex() };
}
