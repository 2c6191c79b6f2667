// Bounds-checked little-endian reader over untrusted image bytes: integers, LEB128, C strings, UTF-8.

import { LoadError } from './types.js';

const TWO_32 = 0x1_0000_0000;

/**
 * Converts a 64-bit unsigned value to an exact JS number. Values below 2^53 are returned as
 * they are; values at or above 2^64 - 2^53 (canonical upper-half addresses) become the
 * negative two's-complement number. Anything else is not representable: returns undefined.
 */
export function u64ToNumber(lo: number, hi: number): number | undefined {
  if (hi < 0x20_0000) return hi * TWO_32 + lo;
  if (hi >= 0xffe0_0000) return (hi - TWO_32) * TWO_32 + lo; // exact: |result| <= 2^53
  return undefined;
}

export function hex(n: number): string {
  return n < 0 ? '-0x' + (-n).toString(16) : '0x' + n.toString(16);
}

/** Decodes UTF-8 (invalid sequences become U+FFFD); no TextDecoder so the emulator stays host-neutral. */
export function utf8Decode(b: Uint8Array, start: number, end: number): string {
  let s = '';
  let i = start;
  while (i < end) {
    const c = b[i++];
    if (c < 0x80) {
      s += String.fromCharCode(c);
      continue;
    }
    let need = 0;
    let cp = 0;
    if (c >= 0xc2 && c <= 0xdf) { need = 1; cp = c & 0x1f; }
    else if (c >= 0xe0 && c <= 0xef) { need = 2; cp = c & 0x0f; }
    else if (c >= 0xf0 && c <= 0xf4) { need = 3; cp = c & 0x07; }
    else { s += '\ufffd'; continue; }
    let ok = i + need <= end;
    for (let k = 0; ok && k < need; k++) if ((b[i + k] & 0xc0) !== 0x80) ok = false;
    if (!ok) { s += '\ufffd'; continue; }
    for (let k = 0; k < need; k++) cp = (cp << 6) | (b[i + k] & 0x3f);
    i += need;
    if ((need === 2 && cp < 0x800) || (need === 3 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff)) {
      s += '\ufffd';
      continue;
    }
    s += String.fromCodePoint(cp);
  }
  return s;
}

export function utf8Encode(s: string): Uint8Array {
  const out: number[] = [];
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  }
  return Uint8Array.from(out);
}

/**
 * A cursor over [start, end) of a byte array. Every read checks the bound and throws
 * LoadError naming `what` (e.g. ".debug_line unit at 0x40") on overrun.
 */
export class Reader {
  pos: number;
  constructor(readonly b: Uint8Array, start: number, readonly end: number, readonly what: string) {
    this.pos = start;
  }

  get left(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.end) {
      throw new LoadError(`${this.what}: truncated at offset ${hex(this.pos)} (needs ${n} bytes, ${Math.max(0, this.end - this.pos)} left)`);
    }
  }

  u8(): number {
    this.need(1);
    return this.b[this.pos++];
  }

  s8(): number {
    return (this.u8() << 24) >> 24;
  }

  u16(): number {
    this.need(2);
    const v = this.b[this.pos] | (this.b[this.pos + 1] << 8);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const p = this.pos, b = this.b;
    this.pos += 4;
    return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
  }

  /** A 64-bit value as an exact number (see u64ToNumber); throws when not representable. */
  u64(): number {
    const lo = this.u32();
    const hi = this.u32();
    const v = u64ToNumber(lo, hi);
    if (v === undefined) {
      throw new LoadError(`${this.what}: 64-bit value 0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')} at offset ${hex(this.pos - 8)} is too large`);
    }
    return v;
  }

  /** Unsigned value of 1, 2, 4 or 8 bytes. */
  uN(n: number): number {
    switch (n) {
      case 1: return this.u8();
      case 2: return this.u16();
      case 4: return this.u32();
      case 8: return this.u64();
      default: throw new LoadError(`${this.what}: unsupported ${n}-byte value at offset ${hex(this.pos)}`);
    }
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  bytes(n: number): Uint8Array {
    this.need(n);
    const v = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** Unsigned LEB128 (DWARF 5 §7.6); values above 2^53 are refused. */
  uleb(): number {
    let result = 0;
    let mul = 1;
    for (;;) {
      const byte = this.u8();
      result += (byte & 0x7f) * mul;
      if ((byte & 0x80) === 0) break;
      mul *= 128;
      if (mul > 2 ** 56) throw new LoadError(`${this.what}: LEB128 value too long at offset ${hex(this.pos)}`);
    }
    if (result > Number.MAX_SAFE_INTEGER) throw new LoadError(`${this.what}: LEB128 value too large at offset ${hex(this.pos)}`);
    return result;
  }

  /** Signed LEB128 (DWARF 5 §7.6). */
  sleb(): number {
    let result = 0;
    let mul = 1;
    let byte: number;
    for (;;) {
      byte = this.u8();
      result += (byte & 0x7f) * mul;
      mul *= 128;
      if ((byte & 0x80) === 0) break;
      if (mul > 2 ** 56) throw new LoadError(`${this.what}: LEB128 value too long at offset ${hex(this.pos)}`);
    }
    if (byte & 0x40) result -= mul;
    if (!Number.isSafeInteger(result)) throw new LoadError(`${this.what}: LEB128 value too large at offset ${hex(this.pos)}`);
    return result;
  }

  /** NUL-terminated UTF-8 string; the NUL must lie before `end`. */
  cstr(): string {
    const start = this.pos;
    let i = start;
    while (i < this.end && this.b[i] !== 0) i++;
    if (i >= this.end) throw new LoadError(`${this.what}: unterminated string at offset ${hex(start)}`);
    this.pos = i + 1;
    return utf8Decode(this.b, start, i);
  }
}

/** The NUL-terminated string at `off` inside a string table section, or undefined when out of range/unterminated. */
export function stringAt(table: Uint8Array, off: number): string | undefined {
  if (!Number.isInteger(off) || off < 0 || off >= table.length) return undefined;
  const end = table.indexOf(0, off);
  if (end < 0) return undefined;
  return utf8Decode(table, off, end);
}
