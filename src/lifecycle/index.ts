/** ghostnet/lifecycle: graceful shutdown, backoff, circuit breaker, retry budget, deadlines. */
export type { Drainable } from './drainable.js';
export * from './clock.js';
export * from './errors.js';
export * from './deadline.js';
export * from './backoff.js';
export * from './retry.js';
export * from './circuit-breaker.js';
export * from './connection-tracker.js';
export * from './shutdown.js';
