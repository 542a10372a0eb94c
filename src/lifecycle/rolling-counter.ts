/**
 * Counts over a sliding time window in bounded memory: the window is split into a fixed
 * number of buckets (a ring), and a bucket is reset when time moves past it. Used by the
 * circuit breaker (requests/failures) and the retry budget (requests/retries).
 *
 * Precision is one bucket: a sum covers between `windowMs - bucketMs` and `windowMs`.
 */
import { InvalidOptionError } from '../errors.js';

/** Upper bound on buckets per window; more buys no useful precision. */
export const MAX_BUCKETS = 1000;

export class RollingCounter {
  readonly #bucketMs: number;
  readonly #buckets: number;
  readonly #lanes: number;
  /** Bucket id (`floor(now / bucketMs)`) each ring slot currently holds. */
  readonly #ids: Float64Array;
  /** `#buckets * #lanes` counters, slot-major. */
  readonly #counts: Float64Array;

  constructor(windowMs: number, buckets: number, lanes: number) {
    if (!Number.isInteger(buckets) || buckets < 1 || buckets > MAX_BUCKETS) {
      throw new InvalidOptionError(`bucket count must be an integer in 1..${MAX_BUCKETS}`);
    }
    if (!Number.isFinite(windowMs) || windowMs < buckets) {
      throw new InvalidOptionError(
        `window must be a finite number of ms, at least one ms per bucket (${buckets})`,
      );
    }
    this.#bucketMs = windowMs / buckets;
    this.#buckets = buckets;
    this.#lanes = lanes;
    this.#ids = new Float64Array(buckets).fill(-Infinity);
    this.#counts = new Float64Array(buckets * lanes);
  }

  /** Add `n` to `lane` at time `now`. */
  add(now: number, lane: number, n = 1): void {
    const id = Math.floor(now / this.#bucketMs);
    const slot = ((id % this.#buckets) + this.#buckets) % this.#buckets;
    if (this.#ids[slot] !== id) {
      this.#ids[slot] = id;
      this.#counts.fill(0, slot * this.#lanes, (slot + 1) * this.#lanes);
    }
    this.#counts[slot * this.#lanes + lane] = (this.#counts[slot * this.#lanes + lane] ?? 0) + n;
  }

  /** The sum of `lane` over the window ending at `now`. */
  sum(now: number, lane: number): number {
    const current = Math.floor(now / this.#bucketMs);
    let total = 0;
    for (let slot = 0; slot < this.#buckets; slot++) {
      const id = this.#ids[slot] ?? -Infinity;
      if (id <= current && id > current - this.#buckets) {
        total += this.#counts[slot * this.#lanes + lane] ?? 0;
      }
    }
    return total;
  }

  /** Forget everything. */
  reset(): void {
    this.#ids.fill(-Infinity);
    this.#counts.fill(0);
  }
}
