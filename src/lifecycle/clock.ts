/**
 * The clock every lifecycle helper takes as an injected component (STYLE §2, §8), so
 * backoff, the circuit breaker, retry budgets and the shutdown deadline run on simulated
 * time in tests and in `p2p/sim`.
 */

/** A source of time and one-shot timers. `now()` is in milliseconds. */
export interface Clock {
  /** Milliseconds since an arbitrary epoch; only differences are meaningful. */
  now(): number;
  /** Call `fn` once after `ms` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancel a timer. Unknown or already-fired handles are ignored. */
  clearTimeout(handle: unknown): void;
}

/**
 * The real clock: `Date.now()` and the global timers. The globals are looked up on every
 * call (not captured at import), so `vi.useFakeTimers()` also drives `systemClock`.
 */
export const systemClock: Clock = Object.freeze({
  now: (): number => Date.now(),
  setTimeout: (fn: () => void, ms: number): unknown => setTimeout(fn, ms),
  clearTimeout: (handle: unknown): void => {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
});

/**
 * The largest delay a Node.js timer honours (2^31 - 1 ms, about 24.8 days). Larger values
 * make `setTimeout` fire after 1 ms with a warning, so every lifecycle delay is capped here.
 */
export const MAX_TIMER_MS = 2_147_483_647;
