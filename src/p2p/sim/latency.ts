/**
 * Latency models for `SimNetwork`: a function from (sender, receiver, rng) to the one-way
 * delay of one datagram in virtual milliseconds. The network calls it once per datagram
 * that survives loss and partitions, with its own latency stream of the seeded `Rng`.
 */
import { InvalidOptionError } from '../../errors.js';
import type { SocketAddress } from '../../transport/types.js';
import type { Rng } from './rng.js';

/** What a latency model sees of a node. */
export interface LinkEnd {
  /** Dense id, in the order nodes were added (0, 1, 2, …). */
  readonly id: number;
  readonly address: SocketAddress;
}

/** One-way delay in ms; negative or NaN results count as 0. */
export type LatencyModel = (from: LinkEnd, to: LinkEnd, rng: Rng) => number;

/** Every datagram takes exactly `ms`. */
export function constantLatency(ms: number): LatencyModel {
  checkNonNegative('constantLatency(ms)', ms);
  return () => ms;
}

/** Each datagram independently uniform in [minMs, maxMs). */
export function uniformLatency(minMs: number, maxMs: number): LatencyModel {
  checkNonNegative('uniformLatency(minMs)', minMs);
  if (!(maxMs >= minMs)) {
    throw new InvalidOptionError(`uniformLatency needs maxMs ≥ minMs, got ${minMs}, ${maxMs}`);
  }
  const span = maxMs - minMs;
  return (_from, _to, rng) => minMs + span * rng.next();
}

export interface PairwiseLatencyOptions {
  /**
   * Median of the per-pair base latency (one way), in ms.
   * @default 50
   */
  medianMs?: number;
  /**
   * Spread of the base latency: the log-normal's sigma. 0.5 puts 95 % of pairs within
   * about ×/÷ 2.7 of the median (≈ 19–134 ms around 50 ms).
   * @default 0.5
   */
  sigma?: number;
  /**
   * Mean of the per-datagram jitter added on top, exponentially distributed (so datagrams
   * between one pair are sometimes reordered, as UDP is).
   * @default 5
   */
  jitterMs?: number;
  /**
   * Floor for the base latency.
   * @default 1
   */
  minMs?: number;
  /**
   * Seed of the pair hash. `SimNetwork` derives it from its own seed.
   * @default 0
   */
  seed?: number;
}

export const PAIRWISE_LATENCY_DEFAULTS = Object.freeze({
  medianMs: 50,
  sigma: 0.5,
  jitterMs: 5,
  minMs: 1,
  seed: 0,
});

function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The default model: every unordered node pair has a fixed base latency drawn from a
 * log-normal distribution around `medianMs` (symmetric: a→b equals b→a), plus
 * exponential per-datagram jitter. The base comes from a hash of the seed and the two node
 * ids, so it costs no memory for a million pairs and is the same in every run.
 */
export function pairwiseLatency(options: PairwiseLatencyOptions = {}): LatencyModel {
  const o = { ...PAIRWISE_LATENCY_DEFAULTS, ...options };
  checkNonNegative('medianMs', o.medianMs);
  checkNonNegative('sigma', o.sigma);
  checkNonNegative('jitterMs', o.jitterMs);
  checkNonNegative('minMs', o.minMs);
  const { medianMs, sigma, jitterMs, minMs } = o;
  const seed = o.seed | 0;
  const logMedian = Math.log(medianMs);
  return (from, to, rng) => {
    const lo = from.id < to.id ? from.id : to.id;
    const hi = from.id < to.id ? to.id : from.id;
    const h1 = mix((seed ^ Math.imul(lo + 1, 0x9e3779b1)) + Math.imul(hi + 1, 0x85ebca77));
    const h2 = mix(h1 ^ 0x68e31da4);
    // Box–Muller on the two hash words: a standard normal per pair.
    const u1 = (h1 + 1) / 4_294_967_297;
    const u2 = h2 / 4_294_967_296;
    const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    const base = Math.exp(logMedian + sigma * z);
    const jitter = jitterMs > 0 ? -jitterMs * Math.log(1 - rng.next()) : 0;
    return (base < minMs ? minMs : base) + jitter;
  };
}

function checkNonNegative(name: string, value: number): void {
  if (!(value >= 0) || !Number.isFinite(value)) {
    throw new InvalidOptionError(`${name} must be a finite number ≥ 0, got ${String(value)}`);
  }
}
