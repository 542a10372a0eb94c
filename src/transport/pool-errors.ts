/** Errors the connection pool rejects `acquire` with. Codes are stable; match on `code`. */
import { GhostnetError } from '../errors.js';

/** The pool was closed or destroyed; it hands out no more connections. */
export class PoolClosedError extends GhostnetError {
  constructor(message = 'The connection pool is closed') {
    super('GN_ERR_POOL_CLOSED', message);
  }
}

/** A waiter got no connection within `acquireTimeoutMs`. */
export class PoolAcquireTimeoutError extends GhostnetError {
  constructor(ms: number, origin: string) {
    super(
      'GN_ERR_POOL_ACQUIRE_TIMEOUT',
      `No connection to ${origin} became available within ${ms} ms`,
    );
  }
}

/** `maxPending` waiters are already queued for the origin; `acquire` rejected at once. */
export class PoolQueueFullError extends GhostnetError {
  constructor(limit: number, origin: string) {
    super(
      'GN_ERR_POOL_QUEUE_FULL',
      `${limit} requests are already waiting for a connection to ${origin} (maxPending)`,
    );
  }
}
