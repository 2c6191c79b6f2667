// virtio-rng / entropy device (virtio 1.2 §5.4): one request queue filled from a seeded deterministic xoshiro128** stream.
import { asRecord, DeviceStateError, intField } from '../bus.js';
import { VirtioMmioDevice } from './mmio.js';
import { scatterWritable } from './queue.js';
import type { VirtioHost } from './types.js';
import { VIRTIO_ID } from './types.js';

/** Default seed when the launch configuration gives none ("vmscope" is deterministic: same seed, same bytes). */
export const VIRTIO_RNG_DEFAULT_SEED = 0x766d7363; // "vmsc"
/** Bytes given per request at most (the device may fill less than the buffer; the used len says how much, §2.7.8). */
export const VIRTIO_RNG_MAX_PER_REQUEST = 65536;
/** A request's summary for the views (built when shown). */
const randomBytes = (n: number): string => `${n} random bytes`;

const M64 = (1n << 64n) - 1n;

/**
 * xoshiro128** 1.1 (Blackman & Vigna, https://prng.di.unimi.it/xoshiro128starstar.c), seeded from a 64-bit seed
 * with splitmix64 (https://prng.di.unimi.it/splitmix64.c): two splitmix64 outputs, low dword first, give s[0..3].
 * Not cryptographic (the guest cannot tell); deterministic. Bytes are the 32-bit outputs little-endian, as one stream
 * across requests.
 */
export class Xoshiro128 {
  private s = new Uint32Array(4);
  /** Bytes of the last output not yet handed out (little-endian order). */
  private spare = 0;
  private spareCount = 0;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`rng seed ${seed}: expected an integer in 0..2^53-1`);
    let x = BigInt(seed);
    for (let i = 0; i < 2; i++) {
      x = (x + 0x9e3779b97f4a7c15n) & M64;
      let z = x;
      z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
      z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
      z ^= z >> 31n;
      this.s[2 * i] = Number(z & 0xffffffffn);
      this.s[2 * i + 1] = Number(z >> 32n);
    }
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1; // the all-zero state is a fixed point
  }

  nextU32(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }

  fill(out: Uint8Array): void {
    for (let i = 0; i < out.length; i++) {
      if (this.spareCount === 0) {
        this.spare = this.nextU32();
        this.spareCount = 4;
      }
      out[i] = this.spare & 0xff;
      this.spare >>>= 8;
      this.spareCount--;
    }
  }

  save(): number[] {
    return [...this.s, this.spare, this.spareCount];
  }

  load(v: number[]): void {
    this.s.set(v.slice(0, 4));
    this.spare = v[4];
    this.spareCount = v[5];
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export interface VirtioRngOptions {
  name?: string;
  /** Seed of the stream (launch configuration); default VIRTIO_RNG_DEFAULT_SEED. */
  seed?: number;
}

export class VirtioRng extends VirtioMmioDevice {
  readonly deviceId = VIRTIO_ID.ENTROPY;
  protected readonly deviceFeatureBits = 0n; // §5.4.3: none
  protected readonly featureNames = {};
  readonly seed: number;
  private prng: Xoshiro128;
  bytesGenerated = 0;

  constructor(host: VirtioHost, opts: VirtioRngOptions = {}) {
    super(opts.name ?? 'virtio-rng', host, 1);
    this.seed = opts.seed ?? VIRTIO_RNG_DEFAULT_SEED;
    this.prng = new Xoshiro128(this.seed);
  }

  protected configSpace(): Uint8Array {
    return new Uint8Array(0); // §5.4.4: none
  }

  /** §5.4.6: fill the device-writable buffers (up to VIRTIO_RNG_MAX_PER_REQUEST bytes); readable ones are ignored. */
  protected processQueue(q: number): void {
    for (let req = this.take(q); req !== null; req = this.take(q)) {
      const n = Math.min(req.chain.writable, VIRTIO_RNG_MAX_PER_REQUEST);
      const bytes = new Uint8Array(n);
      this.prng.fill(bytes);
      scatterWritable(this.host.dma, req.chain, 0, bytes);
      this.bytesGenerated += n;
      this.completeFormat(q, req, n, randomBytes, n, 0, 0, 0);
    }
  }

  protected resetDevice(): void {
    // The stream continues across a device reset (a reset is not a reseed).
  }

  protected saveDevice(): unknown {
    return { prng: this.prng.save(), bytesGenerated: this.bytesGenerated };
  }

  protected loadDevice(s: unknown): void {
    const o = asRecord(this.name, s);
    const p = o.prng;
    if (!Array.isArray(p) || p.length !== 6 || !p.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff) || p[5] > 4 || (p[0] | p[1] | p[2] | p[3]) === 0) {
      throw new DeviceStateError(this.name, 'state.prng: expected [s0, s1, s2, s3, spare, spareCount] with a non-zero state');
    }
    const bytesGenerated = intField(this.name, o, 'bytesGenerated', 0, Number.MAX_SAFE_INTEGER);
    this.prng.load(p as number[]);
    this.bytesGenerated = bytesGenerated;
  }

  protected detail(): Record<string, unknown> {
    return { seed: this.seed, bytesGenerated: this.bytesGenerated };
  }
}
