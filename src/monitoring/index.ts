/** ghostnet/monitoring: Prometheus metrics behind the Observer interface, pino logs, health checks. */
export * from './observer.js';
export * from './metrics.js';
export * from './exposition.js';
export * from './logger.js';
export * from './health.js';
export * from './diagnostics.js';
