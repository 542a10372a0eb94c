/**
 * The clock and timer functions a binding takes by injection (DESIGN §1: bindings are the
 * only code that touches timers). Production code passes `realTimers`; simulations pass
 * `clock.timers` from a `SimClock`, so the same binding runs in virtual time.
 */

/** A clock plus one-shot timers. Handles are opaque: only pass them back to `clearTimeout`. */
export interface Timers {
  /** Milliseconds on this clock (wall time for `realTimers`, virtual time in the sim). */
  now(): number;
  /** Call `fn` once after `ms` milliseconds (negative or NaN means 0). */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancel a timer from `setTimeout`. Unknown or already-fired handles are ignored. */
  clearTimeout(handle: unknown): void;
}

/** Node's own timers and `Date.now()`. */
export const realTimers: Timers = Object.freeze({
  now: () => Date.now(),
  setTimeout: (fn: () => void, ms: number): unknown => setTimeout(fn, ms),
  clearTimeout: (handle: unknown): void => {
    clearTimeout(handle as ReturnType<typeof setTimeout> | undefined);
  },
});

/**
 * The one timer a binding keeps for its sans-I/O core (DESIGN §2): `arm(core.nextDeadline())`
 * after every input; when it fires, `onFire(now)` runs (the binding calls `handleTimeout`
 * and flushes, which arms it again).
 */
export class DeadlineTimer {
  readonly #timers: Timers;
  readonly #onFire: (now: number) => void;
  #handle: unknown;

  constructor(timers: Timers, onFire: (now: number) => void) {
    this.#timers = timers;
    this.#onFire = onFire;
  }

  /** Fires at `at` (absolute, on the timers' clock); undefined disarms. */
  arm(at: number | undefined): void {
    this.cancel();
    if (at === undefined) return;
    this.#handle = this.#timers.setTimeout(
      () => {
        this.#handle = undefined;
        this.#onFire(this.#timers.now());
      },
      Math.max(0, at - this.#timers.now()),
    );
  }

  cancel(): void {
    if (this.#handle !== undefined) this.#timers.clearTimeout(this.#handle);
    this.#handle = undefined;
  }
}
