/**
 * A seeded pseudo-random number generator for the simulator (DESIGN §2: nothing
 * nondeterministic; the same seed gives the same run).
 *
 * Algorithm: xoshiro128** 1.0 (Blackman & Vigna, https://prng.di.unimi.it/), 128 bits of
 * state, period 2^128 − 1, 32-bit outputs. The state is filled from the seed with a
 * splitmix32-style mixer (murmur3's fmix32 finaliser), which also derives child streams.
 * It is fast and statistically sound for simulation; it is NOT cryptographically secure —
 * never use it for real keys, tokens or BEP 44 signatures.
 */
import { InvalidOptionError } from '../../errors.js';

/** A seed: any safe integer, or a string (hashed). */
export type RngSeed = number | string;

const TWO_POW_32 = 4_294_967_296;
const INV_2_32 = 1 / TWO_POW_32;
const INV_2_53 = 1 / 9_007_199_254_740_992;
const GOLDEN = 0x9e3779b9;

/** murmur3 fmix32: a full-avalanche 32-bit mixer. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Absorbs 32-bit words into a splitmix-like chain and squeezes out four state words. */
function deriveState(words: readonly number[]): [number, number, number, number] {
  let x = 0x243f6a88; // π's fraction bits: an arbitrary non-zero start
  for (const w of words) x = fmix32((x + GOLDEN + Math.imul(w | 0, 0x27d4eb2f)) | 0);
  const out: [number, number, number, number] = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) {
    x = (x + GOLDEN) | 0;
    out[i] = fmix32(x);
  }
  // xoshiro's all-zero state is a fixed point; fmix32 makes it practically impossible,
  // but guard anyway.
  if ((out[0] | out[1] | out[2] | out[3]) === 0) out[0] = 1;
  return out;
}

function seedWords(seed: RngSeed): number[] {
  if (typeof seed === 'string') {
    const words = [0x5eed5, seed.length];
    for (let i = 0; i < seed.length; i++) words.push(seed.charCodeAt(i));
    return words;
  }
  if (!Number.isSafeInteger(seed)) {
    throw new InvalidOptionError(
      `seed must be a safe integer or a string, got ${String(seed)}; use Math.floor() or a string`,
    );
  }
  return [0x5eed1, seed >>> 0, Math.floor(seed / TWO_POW_32) | 0];
}

/**
 * A deterministic random stream. Methods consume 32-bit words from the stream in a fixed,
 * documented way, so a run is reproducible from its seed.
 */
export class Rng {
  #s0 = 0;
  #s1 = 0;
  #s2 = 0;
  #s3 = 0;
  /** The words this stream was derived from: `child(label)` hashes them with the label. */
  #key: readonly number[];

  /**
   * `bytes` as a standalone function, for injection where a `RandomBytes`
   * (`(n) => Uint8Array`) is expected, e.g. the Kademlia core's id generator.
   */
  readonly randomBytes = (n: number): Uint8Array => this.bytes(n);

  constructor(seed: RngSeed = 1) {
    this.#key = seedWords(seed);
    this.#setState(deriveState(this.#key));
  }

  /**
   * A stream starting from raw xoshiro128** state words (not all zero), for reference
   * vectors and to resume a stream saved with `state()`. Its `child()` streams derive from
   * these words.
   */
  static fromState(state: readonly [number, number, number, number]): Rng {
    if ((state[0] | state[1] | state[2] | state[3]) === 0) {
      throw new InvalidOptionError('xoshiro128** state must not be all zero');
    }
    const rng = new Rng(0);
    rng.#key = [0x57a7e, ...state];
    rng.#setState([state[0], state[1], state[2], state[3]]);
    return rng;
  }

  /** The current four state words (unsigned); `Rng.fromState` resumes from them. */
  state(): [number, number, number, number] {
    return [this.#s0 >>> 0, this.#s1 >>> 0, this.#s2 >>> 0, this.#s3 >>> 0];
  }

  static #fromKey(key: readonly number[]): Rng {
    const rng = new Rng(0);
    rng.#key = key;
    rng.#setState(deriveState(key));
    return rng;
  }

  #setState(s: [number, number, number, number]): void {
    this.#s0 = s[0] | 0;
    this.#s1 = s[1] | 0;
    this.#s2 = s[2] | 0;
    this.#s3 = s[3] | 0;
  }

  /** The next 32-bit unsigned integer (one step of xoshiro128**). */
  nextUint32(): number {
    const s1 = this.#s1;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9);
    const t = s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= s1;
    this.#s1 = s1 ^ this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = (this.#s3 << 11) | (this.#s3 >>> 21);
    return result >>> 0;
  }

  /** A float in [0, 1) with 32 bits of resolution (one word). */
  next(): number {
    return this.nextUint32() * INV_2_32;
  }

  /** A float in [0, 1) with 53 bits of resolution (two words). */
  nextDouble(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67_108_864 + lo) * INV_2_53;
  }

  /**
   * A uniform integer in [0, n). Unbiased (rejection sampling) for n ≤ 2^32; larger n up to
   * 2^53 use `nextDouble()` and carry a bias below 2^-20.
   */
  int(n: number): number {
    if (!Number.isSafeInteger(n) || n <= 0) {
      throw new InvalidOptionError(`int(n) needs a positive safe integer, got ${String(n)}`);
    }
    if (n > TWO_POW_32) return Math.floor(this.nextDouble() * n);
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** A float in [min, max). */
  uniform(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** `n` random bytes (four per word, little-endian). Usable as a `RandomBytes`. */
  bytes(n: number): Uint8Array {
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new InvalidOptionError(`bytes(n) needs a non-negative integer, got ${String(n)}`);
    }
    const out = new Uint8Array(n);
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const w = this.nextUint32();
      out[i] = w & 0xff;
      out[i + 1] = (w >>> 8) & 0xff;
      out[i + 2] = (w >>> 16) & 0xff;
      out[i + 3] = w >>> 24;
    }
    if (i < n) {
      let w = this.nextUint32();
      for (; i < n; i++, w >>>= 8) out[i] = w & 0xff;
    }
    return out;
  }

  /** A uniformly chosen element. Throws on an empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new InvalidOptionError('pick() needs a non-empty array');
    return items[this.int(items.length)]!;
  }

  /** Shuffles `items` in place (Fisher–Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp;
    }
    return items;
  }

  /** An exponentially distributed value with the given mean (inverse CDF, one word). */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }

  /** A normally distributed value (Box–Muller, two words, no cached spare). */
  normal(mean = 0, sd = 1): number {
    const u1 = 1 - this.next(); // (0, 1]: log is finite
    const u2 = this.next();
    return mean + sd * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** A log-normal value: `median · e^(sigma·Z)` with Z standard normal. */
  logNormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal(0, 1));
  }

  /**
   * A new stream seeded from the next four words of this one (advances this stream). Use it
   * to hand out streams in a fixed order.
   */
  fork(): Rng {
    const key = [
      0xf0f0,
      this.nextUint32(),
      this.nextUint32(),
      this.nextUint32(),
      this.nextUint32(),
    ];
    return Rng.#fromKey(key);
  }

  /**
   * A stream derived from this stream's seed and `label`, independent of how much of this
   * stream was consumed and of the order children are made in: `rng.child('node-7')` is the
   * same stream whenever it is asked for.
   */
  child(label: string | number): Rng {
    const key = [...this.#key, 0xc41d, ...seedWords(label)];
    return Rng.#fromKey(key);
  }
}
