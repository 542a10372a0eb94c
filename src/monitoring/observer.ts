/**
 * The small interface protocol bindings, transports and nodes report through (DESIGN §1).
 *
 * Protocols never import prom-client or pino: they call an `Observer` they were given, and
 * `monitoring/metrics.ts` implements it on a prom-client registry. Every method must be
 * cheap and must never throw; the default is `noopObserver`.
 *
 * Label values are low-cardinality by contract: `protocol` is a short name ('tcp', 'tls',
 * 'http1', 'h2', 'dht', …), `code` a stable error code, `method` an HTTP method.
 */
export interface Observer {
  connectionOpened(protocol: string): void;
  connectionClosed(protocol: string, durationSeconds: number): void;
  bytesReceived(protocol: string, count: number): void;
  bytesSent(protocol: string, count: number): void;
  /** A request (HTTP, RPC) finished. `outcome` is a status code or short outcome name. */
  requestFinished(protocol: string, method: string, outcome: string, durationSeconds: number): void;
  /** An error worth counting, by stable code (`GN_ERR_*`, a wire code name). */
  error(protocol: string, code: string): void;
  /** A state gauge: pool sizes, routing table size, members by state, queue depth. */
  gauge(name: string, value: number, labels?: Readonly<Record<string, string>>): void;
}

export const noopObserver: Observer = Object.freeze({
  connectionOpened() {},
  connectionClosed() {},
  bytesReceived() {},
  bytesSent() {},
  requestFinished() {},
  error() {},
  gauge() {},
});
