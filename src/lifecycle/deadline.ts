/**
 * Deadlines and cancellation as `AbortSignal`s.
 *
 * Every helper here maps an aborted signal to a ghostnet error with `abortReason`: a signal
 * aborted with a `GhostnetError` (a `TimeoutError` from `deadlineSignal`, say) rejects with
 * that error; any other reason becomes an `AbortError` whose `cause` is the reason.
 */
import { AbortError, GhostnetError, InvalidOptionError, TimeoutError } from '../errors.js';
import { MAX_TIMER_MS, systemClock } from './clock.js';
import type { Clock } from './clock.js';

/** A derived signal and the function that detaches it from its sources and timer. */
export interface LinkedSignal {
  readonly signal: AbortSignal;
  /** Stop the timer and detach from parent signals. Idempotent. Call it when done. */
  clear(): void;
}

/** Throw `InvalidOptionError` unless `ms` is a usable timer delay. */
export function assertDelay(ms: number, name: string): void {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > MAX_TIMER_MS) {
    throw new InvalidOptionError(`${name} must be a finite number of ms in 0..${MAX_TIMER_MS}`);
  }
}

/** The ghostnet error to reject with for an aborted signal (see the module comment). */
export function abortReason(signal: AbortSignal): GhostnetError {
  const reason: unknown = signal.reason;
  if (reason instanceof GhostnetError) return reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new TimeoutError(undefined, { cause: reason });
  }
  return new AbortError(undefined, { cause: reason });
}

/**
 * A signal that aborts with a `TimeoutError` after `ms`, or earlier with the parent's
 * reason when `parent` aborts. Call `clear()` once the guarded work is done.
 */
export function deadlineSignal(
  ms: number,
  parent?: AbortSignal,
  clock: Clock = systemClock,
): LinkedSignal {
  assertDelay(ms, 'deadline');
  const controller = new AbortController();
  if (parent?.aborted) {
    controller.abort(parent.reason);
    return { signal: controller.signal, clear: () => {} };
  }
  // `timer.handle` is filled in below; a clock that fires synchronously still finds it empty.
  const timer: { handle: unknown; active: boolean } = { handle: undefined, active: true };
  const clear = (): void => {
    if (!timer.active) return;
    timer.active = false;
    clock.clearTimeout(timer.handle);
    parent?.removeEventListener('abort', onParentAbort);
  };
  const finish = (reason: unknown): void => {
    clear();
    controller.abort(reason);
  };
  function onParentAbort(): void {
    finish(parent?.reason);
  }
  parent?.addEventListener('abort', onParentAbort, { once: true });
  timer.handle = clock.setTimeout(
    () => finish(new TimeoutError(`Deadline of ${ms} ms passed`)),
    ms,
  );
  return { signal: controller.signal, clear };
}

/**
 * A signal that aborts as soon as any of `signals` aborts, with that signal's reason.
 * `undefined` entries are skipped. Unlike `AbortSignal.any`, `clear()` detaches at once.
 */
export function anySignal(signals: Iterable<AbortSignal | undefined>): LinkedSignal {
  const controller = new AbortController();
  const sources: AbortSignal[] = [];
  for (const s of signals) {
    if (s === undefined) continue;
    if (s.aborted) {
      controller.abort(s.reason);
      return { signal: controller.signal, clear: () => {} };
    }
    sources.push(s);
  }
  let active = true;
  const clear = (): void => {
    if (!active) return;
    active = false;
    for (const s of sources) s.removeEventListener('abort', onAbort);
  };
  function onAbort(this: AbortSignal): void {
    const reason: unknown = this.reason;
    clear();
    controller.abort(reason);
  }
  for (const s of sources) s.addEventListener('abort', onAbort, { once: true });
  return { signal: controller.signal, clear };
}

/** Resolve after `ms`; reject with `abortReason(signal)` if `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal, clock: Clock = systemClock): Promise<void> {
  assertDelay(ms, 'sleep duration');
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      if (signal) reject(abortReason(signal));
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Settle like `promise`, or reject with `abortReason(signal)` as soon as `signal` aborts.
 * The underlying work is not cancelled; pass the signal to it as well where it can listen.
 */
export function raceSignal<T>(promise: PromiseLike<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err as Error);
      },
    );
  });
}
