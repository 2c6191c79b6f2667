// Memory requests: readMemory, writeMemory (guest-virtual or phys:), and disassemble with iced-x86, symbols and source lines.
import type { DebugProtocol } from '@vscode/debugprotocol';
import { AdapterError, optBool, optInt, reqInt, reqString } from '../errors.js';
import { addAddress, base64, fromBase64, hex, memoryReference, parseReference } from '../format.js';
import type { SessionContext } from '../context.js';
import type { Target } from '../target.js';

/** Largest readMemory answered in one response. */
const MAX_READ = 1 << 20;
/** Largest disassemble request. */
const MAX_INSTRUCTIONS = 4096;
const PAGE = 4096;
/** The source file of an instruction, kept on the entry until the response is assembled. */
const FILE = Symbol('file');

/** Bytes of a range with a per-byte readable mask (unmapped and MMIO pages are unreadable). */
function readRange(t: Target, address: number, length: number, physical: boolean): { data: Uint8Array; ok: Uint8Array } {
  const data = new Uint8Array(length), ok = new Uint8Array(length);
  for (let k = 0; k < length;) {
    const a = addAddress(address, k);
    const n = Math.min(length - k, PAGE - Number(BigInt.asUintN(12, BigInt(a))));
    const r = t.debuggee.readMemory(a, n, physical);
    if (r.unreadable === 0) { data.set(r.data, k); ok.fill(1, k, k + n); }
    k += n;
  }
  return { data, ok };
}

export class MemoryService {
  constructor(private readonly ctx: SessionContext) {}

  readMemory(a: Record<string, unknown>): DebugProtocol.ReadMemoryResponse['body'] {
    const t = this.ctx.requireStopped();
    const ref = parseReference(reqString('readMemory', a, 'memoryReference'));
    const start = addAddress(ref.address, optInt('readMemory', a, 'offset') ?? 0);
    const count = reqInt('readMemory', a, 'count');
    if (count < 0) throw new AdapterError('readMemory: count must not be negative');
    const n = Math.min(count, MAX_READ);
    const { data, ok } = readRange(t, start, n, ref.physical);
    let good = 0;
    while (good < n && ok[good] === 1) good++;
    return { address: memoryReference(start, ref.physical), data: base64(data.subarray(0, good)), unreadableBytes: count - good };
  }

  writeMemory(a: Record<string, unknown>): DebugProtocol.WriteMemoryResponse['body'] {
    const t = this.ctx.requireStopped();
    const reference = reqString('writeMemory', a, 'memoryReference');
    const ref = parseReference(reference);
    const offset = optInt('writeMemory', a, 'offset') ?? 0;
    const start = addAddress(ref.address, offset);
    const bytes = fromBase64(reqString('writeMemory', a, 'data'));
    if (bytes.length > MAX_READ) throw new AdapterError(`writeMemory: at most ${MAX_READ} bytes at a time`);
    const allowPartial = optBool('writeMemory', a, 'allowPartial') ?? false;
    if (!allowPartial) {
      const { ok } = readRange(t, start, bytes.length, ref.physical);
      if (ok.includes(0)) throw new AdapterError(`writeMemory: ${memoryReference(start, ref.physical)}+${bytes.length} is not all guest RAM (unmapped or MMIO); nothing written`);
    }
    const written = t.debuggee.writeMemory(start, bytes, ref.physical);
    this.ctx.event('memory', { memoryReference: reference, offset, count: bytes.length });
    this.ctx.event('invalidated', { areas: ['variables'] });
    return { offset, bytesWritten: written };
  }

  disassemble(a: Record<string, unknown>): DebugProtocol.DisassembleResponse['body'] {
    const t = this.ctx.requireStopped();
    const cmd = 'disassemble';
    const ref = parseReference(reqString(cmd, a, 'memoryReference'));
    if (ref.physical) throw new AdapterError(`${cmd}: disassembly works on guest-virtual addresses`);
    const base = addAddress(ref.address, optInt(cmd, a, 'offset') ?? 0);
    const first = optInt(cmd, a, 'instructionOffset') ?? 0;
    const count = reqInt(cmd, a, 'instructionCount');
    if (count < 0 || count > MAX_INSTRUCTIONS) throw new AdapterError(`${cmd}: instructionCount must be between 0 and ${MAX_INSTRUCTIONS}`);
    if (Math.abs(first) > MAX_INSTRUCTIONS) throw new AdapterError(`${cmd}: instructionOffset is too far (at most ${MAX_INSTRUCTIONS})`);
    const resolve = optBool(cmd, a, 'resolveSymbols') ?? true;
    const bits = t.debuggee.registers().codeBits;
    const out: DebugProtocol.DisassembledInstruction[] = [];
    let before: DebugProtocol.DisassembledInstruction[] = [];
    if (first < 0) {
      before = this.backwards(t, base, -first, bits, resolve);
      out.push(...before.slice(0, Math.min(before.length, count)));
    }
    const forwardSkip = Math.max(0, first);
    const need = count - out.length;
    if (need > 0) out.push(...this.forward(t, base, forwardSkip + need, bits, resolve).slice(forwardSkip));
    // DAP: `location` on the first instruction and wherever the source changes.
    const instructions = out.slice(0, count);
    let file: string | undefined;
    for (const ins of instructions) {
      const f = (ins as { [FILE]?: string })[FILE];
      delete (ins as { [FILE]?: string })[FILE];
      if (f === undefined) { delete ins.location; continue; }
      if (f === file) delete ins.location;
      else if (ins.location === undefined) ins.location = { name: f.slice(Math.max(f.lastIndexOf('/'), f.lastIndexOf('\\')) + 1), path: f };
      file = f;
    }
    return { instructions };
  }

  /** `n` instructions decoded from `start` (unreadable or undecodable bytes become one-byte "??" entries). */
  private forward(t: Target, start: number, n: number, bits: 16 | 32 | 64, resolve: boolean): DebugProtocol.DisassembledInstruction[] {
    const out: DebugProtocol.DisassembledInstruction[] = [];
    const chunk = Math.min(n * 15 + 15, MAX_INSTRUCTIONS * 15);
    const { data, ok } = readRange(t, start, chunk, false);
    let k = 0;
    while (out.length < n) {
      if (k + 15 > data.length) {
        // Read on (rare: a very long request).
        out.push(...this.forward(t, addAddress(start, k), n - out.length, bits, resolve));
        break;
      }
      const address = addAddress(start, k);
      const ins = this.decodeAt(t, data, ok, k, address, bits);
      const entry: DebugProtocol.DisassembledInstruction = { address: hex(address), instructionBytes: ins.bytes, instruction: ins.text };
      if (ins.length > 0) this.annotate(t, entry, address, resolve);
      out.push(entry);
      k += Math.max(1, ins.length);
    }
    return out;
  }

  private decodeAt(t: Target, data: Uint8Array, ok: Uint8Array, k: number, address: number, bits: 16 | 32 | 64): { length: number; text: string; bytes: string } {
    if (ok[k] !== 1) return { length: 0, text: '??', bytes: '??' };
    let avail = 0;
    while (avail < 15 && k + avail < data.length && ok[k + avail] === 1) avail++;
    const bytes = data.subarray(k, k + avail);
    const d = this.ctx.host.disassembler;
    const syntax = this.ctx.launch?.syntax ?? 'nasm';
    const r = d === null ? null : d.decode(bytes, address, bits, syntax);
    if (r === null || r.length === 0 || r.length > avail) return { length: 1, text: `db ${hex(data[k], 2)}`, bytes: hexBytes(data.subarray(k, k + 1)) };
    let text = r.text;
    if (r.target !== undefined) {
      const s = t.symbolAt(r.target);
      if (s !== undefined) text += ` <${s.offset === 0 ? s.name : `${s.name}+${hex(s.offset)}`}>`;
    }
    return { length: r.length, text, bytes: hexBytes(data.subarray(k, k + r.length)) };
  }

  private annotate(t: Target, entry: DebugProtocol.DisassembledInstruction, address: number, resolve: boolean): void {
    if (resolve) {
      const s = t.symbolAt(address);
      if (s !== undefined) entry.symbol = s.offset === 0 ? s.name : `${s.name}+${hex(s.offset)}`;
    }
    const row = t.lineAt(address);
    if (row !== undefined) {
      entry.line = this.ctx.lineOut(row.line);
      if (row.column > 0) entry.column = this.ctx.columnOut(row.column);
      (entry as { [FILE]?: string })[FILE] = row.file;
    }
  }

  /**
   * The `n` instructions before `base`: decode forward from candidate starts (the covering symbol, then
   * base - 15n .. base - 1) and keep a start whose stream lands exactly on `base`; pad the front with "??".
   */
  private backwards(t: Target, base: number, n: number, bits: 16 | 32 | 64, resolve: boolean, depth = 0): DebugProtocol.DisassembledInstruction[] {
    const span = n * 15;
    const candidates: number[] = [];
    const sym = t.symbolAt(base);
    if (sym !== undefined && sym.offset > 0 && sym.offset <= span) candidates.push(addAddress(base, -sym.offset));
    for (let d = span; d >= 1; d--) candidates.push(addAddress(base, -d));
    for (const c of candidates.slice(0, 64)) {
      const dist = Number(BigInt(base) - BigInt(c));
      const list = this.forward(t, c, dist, bits, resolve);
      const addrs: number[] = [];
      let k = 0, landed = false;
      for (const ins of list) {
        if (k === dist) { landed = true; break; }
        if (k > dist) break;
        addrs.push(k);
        k += Math.max(1, ins.instructionBytes === '??' ? 1 : ins.instructionBytes!.split(' ').length);
      }
      if (k === dist) landed = true;
      if (!landed) continue;
      const good = list.slice(0, addrs.length);
      const tail = good.slice(Math.max(0, good.length - n));
      // The covering symbol starts fewer than n instructions back: go on backwards from its start (the code
      // before it, e.g. the previous function or its padding), a few symbols at most.
      if (tail.length < n && dist > 0 && depth < 8) return [...this.backwards(t, c, n - tail.length, bits, resolve, depth + 1), ...tail];
      const pad: DebugProtocol.DisassembledInstruction[] = [];
      for (let i = tail.length; i < n; i++) pad.push({ address: hex(addAddress(c, -(n - i))), instruction: '??', presentationHint: 'invalid' });
      return [...pad, ...tail];
    }
    return Array.from({ length: n }, (_, i) => ({ address: hex(addAddress(base, -(n - i))), instruction: '??', presentationHint: 'invalid' as const }));
  }
}

function hexBytes(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}
