// Value formatting for DAP: hex numbers, memory references ("0x…" guest-virtual, "phys:0x…" guest-physical).
import { AdapterError } from './errors.js';

export function hex(v: number | bigint, digits = 0): string {
  const b = typeof v === 'bigint' ? BigInt.asUintN(64, v) : BigInt.asUintN(64, BigInt(v));
  return `0x${b.toString(16).padStart(digits, '0')}`;
}

/** A guest address (number, maybe negative for upper-half 64-bit addresses) as a DAP memory reference. */
export function memoryReference(address: number | bigint, physical = false): string {
  return physical ? `phys:${hex(address)}` : hex(address);
}

export interface ParsedReference {
  address: number;
  physical: boolean;
}

/** Parse "0x…", a decimal number or "phys:0x…" (DAP memoryReference). Upper-half addresses become negative numbers. */
export function parseReference(ref: string): ParsedReference {
  let s = ref.trim();
  let physical = false;
  if (s.startsWith('phys:')) { physical = true; s = s.slice(5); }
  let v: bigint;
  if (/^0x[0-9a-f]{1,16}$/i.test(s)) v = BigInt(s);
  else if (/^[0-9]{1,20}$/.test(s)) v = BigInt(s);
  else throw new AdapterError(`not a memory reference: ${JSON.stringify(ref.slice(0, 40))} (expected 0x…, or phys:0x… for guest-physical)`);
  if (v >= 1n << 64n) throw new AdapterError(`memory reference ${ref} is beyond 64 bits`);
  return { address: toAddress(v), physical };
}

/** An unsigned 64-bit value as an exact number: below 2^53 as is, canonical upper half as its negative two's complement. */
export function toAddress(v: bigint): number {
  const u = BigInt.asUintN(64, v);
  if (u <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(u);
  const s = BigInt.asIntN(64, u);
  if (s >= BigInt(Number.MIN_SAFE_INTEGER)) return Number(s);
  throw new AdapterError(`address ${hex(u)} is not an address this machine can reach`);
}

/** Add an offset to an address, staying in the exact range. */
export function addAddress(a: number, off: number): number {
  return toAddress(BigInt(a) + BigInt(off));
}

export function base64(bytes: Uint8Array): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i], b = bytes[i + 1] ?? 0, c = bytes[i + 2] ?? 0;
    const n = (a << 16) | (b << 8) | c;
    out += chars[(n >> 18) & 63] + chars[(n >> 12) & 63] + (i + 1 < bytes.length ? chars[(n >> 6) & 63] : '=') + (i + 2 < bytes.length ? chars[n & 63] : '=');
  }
  return out;
}

export function fromBase64(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 === 1) throw new AdapterError('data: not valid base64');
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const body = clean.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let bits = 0, acc = 0, k = 0;
  for (const ch of body) {
    acc = (acc << 6) | chars.indexOf(ch);
    bits += 6;
    if (bits >= 8) { bits -= 8; out[k++] = (acc >> bits) & 0xff; }
  }
  return out.subarray(0, k);
}

/** Parse a user-typed number for setVariable: 0x-hex, decimal, negative decimal; bigint result (two's complement is the caller's). */
export function parseUserNumber(text: string): bigint {
  const s = text.trim().replace(/_/g, '');
  if (/^-?0x[0-9a-f]+$/i.test(s)) return s.startsWith('-') ? -BigInt(s.slice(1)) : BigInt(s);
  if (/^-?[0-9]+$/.test(s)) return BigInt(s);
  if (/^0b[01]+$/i.test(s)) return BigInt(s);
  throw new AdapterError(`not a number: ${JSON.stringify(text.slice(0, 40))} (use 0x-hex or decimal)`);
}
