/**
 * Connection bookkeeping for graceful drains, shared by every protocol server.
 *
 * A protocol marks a connection busy while a request (or stream, or RPC) is in flight and
 * idle when it is done. `drain()` closes idle connections at once and each busy one as soon
 * as it becomes idle, so a keep-alive connection never holds a drain open (fastify's 72 s
 * drain, issue #7044, is the anti-example).
 *
 * Connections are structural (`TrackableConnection`): any `StreamConnection`, a
 * WebSocket or an HTTP/2 session fits without this module importing a transport.
 */
import type { Drainable } from './drainable.js';

/** What the tracker needs from a connection. */
export interface TrackableConnection {
  /** Graceful close (flush, then FIN). */
  close(): void;
  /** Immediate teardown. */
  destroy(err?: Error): void;
  /**
   * The connection is gone; the tracker forgets it. The listener is shared by every
   * connection and finds which one closed through `this`, as EventEmitter calls it.
   */
  on(event: 'close', listener: (this: never) => void): unknown;
  /** Removes that listener again (`untrack`); optional. */
  off?(event: 'close', listener: (this: never) => void): unknown;
}

/** The subset of a listening server that `serverDrainable` drives. */
export interface StoppableServer {
  stopAccepting(): Promise<void> | void;
  destroy(): Promise<void> | void;
}

export class ConnectionTracker<C extends TrackableConnection = TrackableConnection> {
  /** Each tracked connection and its count of in-flight requests. */
  readonly #inFlight = new Map<C, number>();
  #busy = 0;
  #draining = false;
  #destroyed = false;
  #drained: Promise<void> | undefined;
  #resolveDrained: (() => void) | undefined;
  readonly #onClose: (this: never) => void;

  constructor() {
    const forget = (conn: C): void => this.#forget(conn);
    this.#onClose = function (this: C): void {
      forget(this);
    } as (this: never) => void;
  }

  /** Live tracked connections. */
  get size(): number {
    return this.#inFlight.size;
  }

  /** Connections with at least one request in flight. */
  get busy(): number {
    return this.#busy;
  }

  get idle(): number {
    return this.#inFlight.size - this.#busy;
  }

  /** True once `drain()` or `destroyAll()` was called. */
  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Start tracking `conn` (idle). A connection tracked after `drain()` began is closed at
   * once, after `destroyAll()` destroyed at once. Tracking twice is a no-op.
   */
  track(conn: C): void {
    if (this.#inFlight.has(conn)) return;
    if (this.#destroyed) {
      conn.destroy();
      return;
    }
    this.#inFlight.set(conn, 0);
    // One listener for every connection (a once() wrapper and closure per connection
    // would stay on every idle one); closing twice is harmless (#forget is idempotent).
    conn.on('close', this.#onClose);
    if (this.#draining) conn.close();
  }

  /** A request started on `conn`. Returns false when `conn` is not tracked. */
  markBusy(conn: C): boolean {
    const n = this.#inFlight.get(conn);
    if (n === undefined) return false;
    if (n === 0) this.#busy++;
    this.#inFlight.set(conn, n + 1);
    return true;
  }

  /**
   * A request on `conn` finished. When its last one did and a drain is running, the
   * connection is closed now. Returns false when `conn` is not tracked or was not busy.
   */
  markIdle(conn: C): boolean {
    const n = this.#inFlight.get(conn);
    if (n === undefined || n === 0) return false;
    this.#inFlight.set(conn, n - 1);
    if (n === 1) {
      this.#busy--;
      if (this.#draining) conn.close();
    }
    return true;
  }

  /** Whether `conn` has a request in flight. */
  isBusy(conn: C): boolean {
    return (this.#inFlight.get(conn) ?? 0) > 0;
  }

  /**
   * Close idle connections now and busy ones when they become idle. Resolves once every
   * tracked connection has emitted `close` (or `destroyAll()` ran). Idempotent.
   */
  drain(): Promise<void> {
    if (this.#drained) return this.#drained;
    this.#draining = true;
    this.#drained = new Promise<void>((resolve) => {
      this.#resolveDrained = resolve;
    });
    // Snapshot: close() may emit 'close' synchronously and mutate the map.
    for (const [conn, n] of [...this.#inFlight]) {
      if (n === 0) conn.close();
    }
    this.#checkDrained();
    return this.#drained;
  }

  /** Destroy every tracked connection and forget them all; a pending `drain()` resolves. */
  destroyAll(err?: Error): void {
    this.#draining = true;
    this.#destroyed = true;
    const conns = [...this.#inFlight.keys()];
    this.#inFlight.clear();
    this.#busy = 0;
    for (const conn of conns) conn.destroy(err);
    this.#checkDrained();
  }

  /**
   * Stops tracking `conn` without closing it: its ownership moved elsewhere (an HTTP
   * Upgrade handed it to a WebSocket server, which drains it itself).
   */
  untrack(conn: C): void {
    if (!this.#inFlight.has(conn)) return;
    conn.off?.('close', this.#onClose);
    this.#forget(conn);
  }

  #forget(conn: C): void {
    const n = this.#inFlight.get(conn);
    if (n === undefined) return;
    if (n > 0) this.#busy--;
    this.#inFlight.delete(conn);
    this.#checkDrained();
  }

  #checkDrained(): void {
    if (this.#inFlight.size === 0 && this.#resolveDrained) {
      this.#resolveDrained();
      this.#resolveDrained = undefined;
    }
  }
}

/**
 * The usual `Drainable` for a protocol server: stop the listener, drain the tracker, and on
 * the deadline destroy the tracker's connections and the server.
 */
export function serverDrainable<C extends TrackableConnection>(
  name: string,
  server: StoppableServer,
  tracker: ConnectionTracker<C>,
): Drainable {
  return {
    name,
    stopAccepting: () => server.stopAccepting(),
    drain: () => tracker.drain(),
    destroy: async () => {
      tracker.destroyAll();
      await server.destroy();
    },
  };
}
