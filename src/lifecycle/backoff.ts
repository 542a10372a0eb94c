/**
 * Exponential backoff with "full jitter" (AWS Architecture Blog, "Exponential Backoff And
 * Jitter"): the wait before retry `n` is uniformly random in
 * `[0, min(maxMs, baseMs * factor^n))`. Full jitter spreads a herd of clients that failed
 * together, where equal or decorrelated waits would keep them in step.
 */
import { InvalidOptionError } from '../errors.js';
import { MAX_TIMER_MS, systemClock } from './clock.js';
import type { Clock } from './clock.js';
import { abortReason, sleep } from './deadline.js';
import { RetryExhaustedError } from './errors.js';

/** The upper bound on `maxAttempts`: retry loops are always finite. */
export const MAX_ATTEMPTS_LIMIT = 10_000;

export interface BackoffOptions {
  /**
   * The ceiling of the first wait (attempt 0), in ms.
   * @default 100
   */
  baseMs?: number;
  /**
   * The largest ceiling a wait can have, in ms (at most 2^31 - 1).
   * @default 30000
   */
  maxMs?: number;
  /**
   * How much the ceiling grows per attempt (at least 1).
   * @default 2
   */
  factor?: number;
}

export interface WithBackoffOptions extends BackoffOptions {
  /**
   * How many times `fn` runs in total, the first call included (1..10000).
   * @default 5
   */
  maxAttempts?: number;
  /** Aborts the current attempt's signal and any wait; the call rejects with `abortReason`. */
  signal?: AbortSignal;
  /**
   * Whether an error is worth retrying. Errors it rejects are rethrown as they are.
   * @default every error is retried
   */
  shouldRetry?: (err: unknown, attempt: number) => boolean;
  /**
   * Called before each wait. Throwing from it stops the loop with that error (`retry` uses
   * this to consult its retry budget).
   * @default none
   */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /**
   * Time source for the waits.
   * @default systemClock
   */
  clock?: Clock;
  /**
   * Uniform random numbers in [0, 1).
   * @default Math.random
   */
  random?: () => number;
}

interface ResolvedBackoff {
  baseMs: number;
  maxMs: number;
  factor: number;
}

const BACKOFF_DEFAULTS: ResolvedBackoff = { baseMs: 100, maxMs: 30_000, factor: 2 };

function resolveBackoff(options: BackoffOptions): ResolvedBackoff {
  const o = { ...BACKOFF_DEFAULTS, ...stripUndefined(options) };
  if (!Number.isFinite(o.baseMs) || o.baseMs < 0) {
    throw new InvalidOptionError('baseMs must be a finite number of ms >= 0');
  }
  if (!Number.isFinite(o.maxMs) || o.maxMs < 0 || o.maxMs > MAX_TIMER_MS) {
    throw new InvalidOptionError(`maxMs must be a finite number of ms in 0..${MAX_TIMER_MS}`);
  }
  if (!Number.isFinite(o.factor) || o.factor < 1) {
    throw new InvalidOptionError('factor must be a finite number >= 1');
  }
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

/**
 * The full-jitter wait before retry number `attempt` (0-based), in whole ms:
 * `floor(random() * min(maxMs, baseMs * factor^attempt))`.
 */
export function computeBackoff(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  if (!Number.isInteger(attempt) || attempt < 0) {
    throw new InvalidOptionError('attempt must be an integer >= 0');
  }
  const { baseMs, maxMs, factor } = resolveBackoff(options);
  const exponential = baseMs * factor ** attempt; // may be Infinity; 0 * Infinity is NaN
  const ceiling = Number.isNaN(exponential) ? 0 : Math.min(maxMs, exponential);
  const r = random();
  // Clamp a misbehaving RNG so the wait stays inside [0, ceiling).
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1 - Number.EPSILON) : 0;
  return Math.floor(unit * ceiling);
}

/**
 * Run `fn` until it resolves, waiting a full-jitter backoff between failures. Rejects with
 * `RetryExhaustedError` (cause: the last error) after `maxAttempts` failures, with the
 * error itself when `shouldRetry` declines it, and with `abortReason(signal)` once
 * `signal` aborts.
 */
export async function withBackoff<T>(
  fn: (attempt: number, signal: AbortSignal) => Promise<T>,
  options: WithBackoffOptions = {},
): Promise<T> {
  const backoff = resolveBackoff(options);
  const maxAttempts = options.maxAttempts ?? 5;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > MAX_ATTEMPTS_LIMIT) {
    throw new InvalidOptionError(`maxAttempts must be an integer in 1..${MAX_ATTEMPTS_LIMIT}`);
  }
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const signal = options.signal ?? new AbortController().signal;
  let lastError: unknown;
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    if (signal.aborted) throw abortReason(signal);
    try {
      return await fn(attempt, signal);
    } catch (err) {
      if (signal.aborted) throw abortReason(signal);
      if (options.shouldRetry && !options.shouldRetry(err, attempt)) throw err;
      lastError = err;
    }
    if (attempt + 1 < maxAttempts) {
      const delayMs = computeBackoff(attempt, backoff, random);
      options.onRetry?.(lastError, attempt, delayMs);
      await sleep(delayMs, signal, clock);
    }
  }
  throw new RetryExhaustedError(maxAttempts, { cause: lastError });
}
