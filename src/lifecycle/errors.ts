/** Lifecycle errors. Codes are stable; match on `code` (STYLE §5). */
import { GhostnetError } from '../errors.js';

/** `withBackoff`/`retry` ran out of attempts; `cause` is the last attempt's error. */
export class RetryExhaustedError extends GhostnetError {
  /** How many times the operation was tried. */
  readonly attempts: number;

  constructor(attempts: number, options?: { cause?: unknown }) {
    super('GN_ERR_RETRY_EXHAUSTED', `Gave up after ${attempts} attempt(s)`, options);
    this.attempts = attempts;
  }
}

/**
 * `retry` wanted to try again but the shared `RetryBudget` had no retry left (retry
 * throttling, as in Finagle and gRPC); `cause` is the last attempt's error.
 */
export class RetryBudgetExhaustedError extends GhostnetError {
  /** How many times the operation was tried before the budget refused a retry. */
  readonly attempts: number;

  constructor(attempts: number, options?: { cause?: unknown }) {
    super(
      'GN_ERR_RETRY_BUDGET_EXHAUSTED',
      `Retry budget exhausted after ${attempts} attempt(s); not retrying`,
      options,
    );
    this.attempts = attempts;
  }
}

/** The circuit breaker is open (or half-open with every probe slot taken): call rejected. */
export class CircuitOpenError extends GhostnetError {
  /** Milliseconds until the breaker lets a probe call through, when known. */
  readonly retryAfterMs: number | undefined;

  constructor(name: string, retryAfterMs: number | undefined) {
    super(
      'GN_ERR_CIRCUIT_OPEN',
      retryAfterMs === undefined
        ? `Circuit '${name}' is half-open and its probe calls are taken`
        : `Circuit '${name}' is open; next probe in ${retryAfterMs} ms`,
    );
    this.retryAfterMs = retryAfterMs;
  }
}

/** `register`/`onShutdown` was called after shutdown began. */
export class ShutdownInProgressError extends GhostnetError {
  constructor(what: string) {
    super(
      'GN_ERR_SHUTDOWN_IN_PROGRESS',
      `Cannot register ${what}: shutdown already began; close it directly instead`,
    );
  }
}

/** More components or hooks than `maxRegistrations` were registered. */
export class TooManyRegistrationsError extends GhostnetError {
  constructor(limit: number) {
    super(
      'GN_ERR_TOO_MANY_REGISTRATIONS',
      `More than ${limit} components/hooks registered; raise maxRegistrations if this is intended`,
    );
  }
}
