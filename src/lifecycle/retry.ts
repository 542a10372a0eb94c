/**
 * Retry throttling with a shared budget, as in Finagle's `RetryBudget` and gRPC's retry
 * throttling: every request deposits `ratio` of a retry, every retry withdraws one, and a
 * reserve of `minRetriesPerSecond` keeps low-traffic clients able to retry at all. When a
 * dependency is down, retries stop at roughly `ratio` extra load instead of multiplying it
 * by `maxAttempts`.
 */
import { InvalidOptionError } from '../errors.js';
import { withBackoff } from './backoff.js';
import type { WithBackoffOptions } from './backoff.js';
import { systemClock } from './clock.js';
import type { Clock } from './clock.js';
import { RetryBudgetExhaustedError } from './errors.js';
import { RollingCounter } from './rolling-counter.js';

export interface RetryBudgetOptions {
  /**
   * Retries allowed per request over the window (0..1000): 0.1 means 10 % extra load.
   * @default 0.1
   */
  ratio?: number;
  /**
   * Retries per second that are always allowed, whatever the request count (0..1e6).
   * @default 10
   */
  minRetriesPerSecond?: number;
  /**
   * How long deposits and withdrawals count, in ms (1000..3600000).
   * @default 10000
   */
  ttlMs?: number;
  /**
   * Buckets the window is split into (1..1000); memory is `2 * buckets` numbers.
   * @default 10
   */
  buckets?: number;
}

export interface RetryBudgetComponents {
  /**
   * Time source for the sliding window.
   * @default systemClock
   */
  clock?: Clock;
}

const REQUESTS = 0;
const RETRIES = 1;
/** Guards against 0.1 * 30 - 3 landing a hair under an integer. */
const EPSILON = 1e-9;

export class RetryBudget {
  readonly #clock: Clock;
  readonly #ratio: number;
  readonly #reserve: number;
  readonly #window: RollingCounter;

  constructor(components: RetryBudgetComponents = {}, options: RetryBudgetOptions = {}) {
    const ratio = options.ratio ?? 0.1;
    const minRetriesPerSecond = options.minRetriesPerSecond ?? 10;
    const ttlMs = options.ttlMs ?? 10_000;
    if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1000) {
      throw new InvalidOptionError('ratio must be a number in 0..1000 (retries per request)');
    }
    if (
      !Number.isFinite(minRetriesPerSecond) ||
      minRetriesPerSecond < 0 ||
      minRetriesPerSecond > 1e6
    ) {
      throw new InvalidOptionError('minRetriesPerSecond must be a number in 0..1000000');
    }
    if (!Number.isFinite(ttlMs) || ttlMs < 1000 || ttlMs > 3_600_000) {
      throw new InvalidOptionError('ttlMs must be a number of ms in 1000..3600000');
    }
    this.#clock = components.clock ?? systemClock;
    this.#ratio = ratio;
    this.#reserve = (minRetriesPerSecond * ttlMs) / 1000;
    this.#window = new RollingCounter(ttlMs, options.buckets ?? 10, 2);
  }

  /** Count one logical request (call once per request, not per attempt). */
  recordRequest(): void {
    this.#window.add(this.#clock.now(), REQUESTS);
  }

  /** Take one retry from the budget; false (and nothing taken) when it is empty. */
  tryWithdraw(): boolean {
    const now = this.#clock.now();
    if (this.#balanceAt(now) + EPSILON < 1) return false;
    this.#window.add(now, RETRIES);
    return true;
  }

  /** Retries currently available (may be fractional). */
  get balance(): number {
    return Math.max(0, this.#balanceAt(this.#clock.now()));
  }

  #balanceAt(now: number): number {
    return (
      this.#reserve + this.#ratio * this.#window.sum(now, REQUESTS) - this.#window.sum(now, RETRIES)
    );
  }
}

export interface RetryOptions extends WithBackoffOptions {
  /** The budget shared by every caller of a dependency. Each retry withdraws from it. */
  budget: RetryBudget;
}

/**
 * `withBackoff` that also asks `budget` before every retry: the call counts as one request,
 * and when the budget refuses a retry it rejects with `RetryBudgetExhaustedError` (cause:
 * the last error) instead of waiting.
 */
export async function retry<T>(
  fn: (attempt: number, signal: AbortSignal) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const { budget, onRetry, ...rest } = options;
  if (!(budget instanceof RetryBudget)) {
    throw new InvalidOptionError('retry needs a budget: pass { budget: new RetryBudget() }');
  }
  budget.recordRequest();
  return withBackoff(fn, {
    ...rest,
    onRetry: (err, attempt, delayMs) => {
      if (!budget.tryWithdraw()) throw new RetryBudgetExhaustedError(attempt + 1, { cause: err });
      onRetry?.(err, attempt, delayMs);
    },
  });
}
