/**
 * A circuit breaker: stop calling a dependency that keeps failing, and probe it again later.
 *
 * ```
 *              consecutive failures >= failureThreshold, or
 *              failure rate >= failureRateThreshold over windowMs
 *              (once minimumRequests calls are in the window)
 *   ┌────────┐ ─────────────────── trip ───────────────────▶ ┌──────┐
 *   │ closed │                                               │ open │ ◀─┐
 *   └────────┘ ◀──────────┐                                  └──────┘   │
 *                         │ probe-succeeded                      │      │ probe-failed
 *                         │ (every admitted probe succeeded)     │      │ (any probe failed)
 *                         │                   cooldown-elapsed   │      │
 *                         │                   (openMs passed)    ▼      │
 *                         └────────────────────────────── ┌───────────┐ │
 *                                                         │ half-open │─┘
 *                                                         └───────────┘
 * ```
 *
 * `reset()` returns to closed from any state. Open → half-open happens lazily, when a call
 * or a read of `state` notices `openMs` has passed, so the breaker owns no timer and needs
 * no `stop()`. A call's result only counts in the state it was admitted in: a slow call
 * admitted while closed that fails after the breaker opened changes nothing.
 *
 * Half-open admits at most `halfOpenMaxCalls` probes; give `fn` a deadline
 * (`deadlineSignal`) so a hung probe cannot hold the breaker half-open.
 */
import { EventEmitter } from 'node:events';
import { InvalidOptionError } from '../errors.js';
import { MAX_TIMER_MS, systemClock } from './clock.js';
import type { Clock } from './clock.js';
import { CircuitOpenError } from './errors.js';
import { RollingCounter } from './rolling-counter.js';

export type CircuitState = 'closed' | 'open' | 'half-open';
export type CircuitInput =
  'trip' | 'cooldown-elapsed' | 'probe-succeeded' | 'probe-failed' | 'reset';

/**
 * Every transition (STYLE §3). A pair missing here leaves the state unchanged; the breaker
 * only feeds an input in a state that lists it, except `reset`, which is a no-op when closed.
 */
export const CIRCUIT_TRANSITIONS: Readonly<
  Record<CircuitState, Readonly<Partial<Record<CircuitInput, CircuitState>>>>
> = Object.freeze({
  closed: Object.freeze({ trip: 'open' }),
  open: Object.freeze({ 'cooldown-elapsed': 'half-open', reset: 'closed' }),
  'half-open': Object.freeze({
    'probe-succeeded': 'closed',
    'probe-failed': 'open',
    reset: 'closed',
  }),
});

export interface CircuitBreakerOptions {
  /**
   * Used in `CircuitOpenError` messages and logs.
   * @default 'circuit'
   */
  name?: string;
  /**
   * Consecutive failures (while closed) that open the breaker (1..1e6).
   * @default 5
   */
  failureThreshold?: number;
  /**
   * Failure share over the window (in (0, 1]) that opens the breaker.
   * @default 0.5
   */
  failureRateThreshold?: number;
  /**
   * Calls the window must hold before the failure rate is considered (1..1e9).
   * @default 10
   */
  minimumRequests?: number;
  /**
   * The rolling window for the failure rate, in ms.
   * @default 10000
   */
  windowMs?: number;
  /**
   * Buckets the window is split into (1..1000); memory is `2 * windowBuckets` numbers.
   * @default 10
   */
  windowBuckets?: number;
  /**
   * How long the breaker stays open before admitting probes, in ms.
   * @default 30000
   */
  openMs?: number;
  /**
   * Probes admitted while half-open (1..1000); all must succeed to close the breaker.
   * @default 1
   */
  halfOpenMaxCalls?: number;
  /**
   * Which errors count as failures (others count as successes, e.g. a 404 from a healthy
   * server).
   * @default every error is a failure
   */
  isFailure?: (err: unknown) => boolean;
}

export interface CircuitBreakerComponents {
  /**
   * Time source for the window and the open period.
   * @default systemClock
   */
  clock?: Clock;
}

export interface CircuitBreakerEvents {
  /** The state changed; `input` is the table input that caused it. */
  stateChange: [to: CircuitState, from: CircuitState, input: CircuitInput];
}

/** A snapshot for metrics and health checks. */
export interface CircuitBreakerStats {
  readonly state: CircuitState;
  readonly consecutiveFailures: number;
  readonly windowRequests: number;
  readonly windowFailures: number;
}

const REQUESTS = 0;
const FAILURES = 1;

function checkInt(value: number, name: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(`${name} must be an integer in ${min}..${max}`);
  }
  return value;
}

export class CircuitBreaker extends EventEmitter<CircuitBreakerEvents> {
  readonly #clock: Clock;
  readonly #name: string;
  readonly #failureThreshold: number;
  readonly #failureRateThreshold: number;
  readonly #minimumRequests: number;
  readonly #openMs: number;
  readonly #halfOpenMaxCalls: number;
  readonly #isFailure: (err: unknown) => boolean;
  readonly #window: RollingCounter;

  #state: CircuitState = 'closed';
  /** Bumped on every transition; results of calls admitted in an older epoch are ignored. */
  #epoch = 0;
  #consecutiveFailures = 0;
  #openedAt = 0;
  #probesAdmitted = 0;
  #probesSucceeded = 0;

  constructor(components: CircuitBreakerComponents = {}, options: CircuitBreakerOptions = {}) {
    super();
    this.#clock = components.clock ?? systemClock;
    this.#name = options.name ?? 'circuit';
    this.#failureThreshold = checkInt(options.failureThreshold ?? 5, 'failureThreshold', 1, 1e6);
    const rate = options.failureRateThreshold ?? 0.5;
    if (!(rate > 0 && rate <= 1)) {
      throw new InvalidOptionError('failureRateThreshold must be a number in (0, 1]');
    }
    this.#failureRateThreshold = rate;
    this.#minimumRequests = checkInt(options.minimumRequests ?? 10, 'minimumRequests', 1, 1e9);
    const openMs = options.openMs ?? 30_000;
    if (!Number.isFinite(openMs) || openMs < 0 || openMs > MAX_TIMER_MS) {
      throw new InvalidOptionError(`openMs must be a number of ms in 0..${MAX_TIMER_MS}`);
    }
    this.#openMs = openMs;
    this.#halfOpenMaxCalls = checkInt(options.halfOpenMaxCalls ?? 1, 'halfOpenMaxCalls', 1, 1000);
    this.#isFailure = options.isFailure ?? (() => true);
    this.#window = new RollingCounter(options.windowMs ?? 10_000, options.windowBuckets ?? 10, 2);
  }

  /** The current state (moves open → half-open first if `openMs` has passed). */
  get state(): CircuitState {
    this.#refresh();
    return this.#state;
  }

  stats(): CircuitBreakerStats {
    const now = this.#clock.now();
    return {
      state: this.state,
      consecutiveFailures: this.#consecutiveFailures,
      windowRequests: this.#window.sum(now, REQUESTS),
      windowFailures: this.#window.sum(now, FAILURES),
    };
  }

  /**
   * Run `fn` through the breaker. Rejects at once with `CircuitOpenError` when open (or
   * half-open with every probe slot taken); otherwise settles like `fn`.
   */
  async execute<T>(fn: () => Promise<T> | T): Promise<T> {
    this.#refresh();
    if (this.#state === 'open') {
      const left = this.#openedAt + this.#openMs - this.#clock.now();
      throw new CircuitOpenError(this.#name, Math.max(0, Math.ceil(left)));
    }
    if (this.#state === 'half-open') {
      if (this.#probesAdmitted >= this.#halfOpenMaxCalls) {
        throw new CircuitOpenError(this.#name, undefined);
      }
      this.#probesAdmitted++;
    }
    const epoch = this.#epoch;
    let result: T;
    try {
      result = await fn();
    } catch (err) {
      this.#onResult(epoch, this.#classify(err));
      throw err;
    }
    this.#onResult(epoch, false);
    return result;
  }

  /** Close the breaker and forget the window. */
  reset(): void {
    this.#apply('reset');
  }

  #classify(err: unknown): boolean {
    try {
      return this.#isFailure(err);
    } catch {
      return true; // a throwing classifier must not hide the call's own error
    }
  }

  #refresh(): void {
    if (this.#state === 'open' && this.#clock.now() - this.#openedAt >= this.#openMs) {
      this.#apply('cooldown-elapsed');
    }
  }

  #onResult(epoch: number, failed: boolean): void {
    if (epoch !== this.#epoch) return;
    if (this.#state === 'closed') {
      const now = this.#clock.now();
      this.#window.add(now, REQUESTS);
      if (failed) {
        this.#window.add(now, FAILURES);
        this.#consecutiveFailures++;
      } else {
        this.#consecutiveFailures = 0;
      }
      if (failed && this.#shouldTrip(now)) this.#apply('trip');
    } else if (this.#state === 'half-open') {
      if (failed) {
        this.#apply('probe-failed');
      } else if (++this.#probesSucceeded >= this.#halfOpenMaxCalls) {
        this.#apply('probe-succeeded');
      }
    }
  }

  #shouldTrip(now: number): boolean {
    if (this.#consecutiveFailures >= this.#failureThreshold) return true;
    const requests = this.#window.sum(now, REQUESTS);
    if (requests < this.#minimumRequests) return false;
    return this.#window.sum(now, FAILURES) / requests >= this.#failureRateThreshold;
  }

  #apply(input: CircuitInput): void {
    const from = this.#state;
    const to = CIRCUIT_TRANSITIONS[from][input];
    if (to === undefined) return;
    this.#state = to;
    this.#epoch++;
    if (to === 'open') {
      this.#openedAt = this.#clock.now();
    } else if (to === 'half-open') {
      this.#probesAdmitted = 0;
      this.#probesSucceeded = 0;
    } else {
      this.#consecutiveFailures = 0;
      this.#window.reset();
    }
    this.emit('stateChange', to, from, input);
  }
}
