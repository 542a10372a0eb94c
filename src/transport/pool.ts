/**
 * A connection pool keyed by origin (DESIGN §3, STYLE §8).
 *
 * - Each origin (scheme, host, port, ALPN) has at most `maxConnectionsPerOrigin`
 *   connections, open or connecting. Each connection carries up to
 *   `maxStreamsPerConnection` concurrent leases (1 for HTTP/1.1, more for HTTP/2).
 * - Idle connections are reused LIFO: the most recently released first, so the others age
 *   out through `idleTimeoutMs` and the pool shrinks after a burst.
 * - Requests that find no free connection wait FIFO, at most `maxPending` per origin, each
 *   for at most `acquireTimeoutMs`, and can be aborted through an `AbortSignal`.
 * - A connection that emits `error` or `close` is evicted at once, leased or idle; one that
 *   emits `end` (the peer closed its side) or outlived `maxLifetimeMs` is not reused and is
 *   closed once its last lease is released.
 * - `close()` stops handing out connections, rejects waiters, closes idle connections and
 *   each busy one as it is released, and resolves when every connection has closed.
 *
 * The pool is a binding (it owns timers, through `setTimeout`), so tests drive it with
 * fake timers; `now` is injectable for connection ages.
 */
import { AbortError, GhostnetError, InvalidOptionError } from '../errors.js';
import type { Drainable } from '../lifecycle/drainable.js';
import { noopObserver } from '../monitoring/observer.js';
import type { Observer } from '../monitoring/observer.js';
import { ConnectError, ConnectionClosedError, ConnectTimeoutError } from './errors.js';
import { PoolAcquireTimeoutError, PoolClosedError, PoolQueueFullError } from './pool-errors.js';
import type { StreamConnection } from './types.js';

export { PoolAcquireTimeoutError, PoolClosedError, PoolQueueFullError } from './pool-errors.js';

/** Where connections go. Two origins share connections only if their keys are equal. */
export interface Origin {
  /** 'http', 'https', 'ws', 'wss', … (case-insensitive). */
  readonly scheme: string;
  /** Host name or IP literal (case-insensitive; IPv6 with or without brackets). */
  readonly host: string;
  readonly port: number;
  /** ALPN protocol the connection must speak ('h2', 'http/1.1'), if it matters. */
  readonly alpn?: string;
}

/** The pool's key for an origin: `scheme://host:port`, plus ` alpn` when set. */
export function originKey(origin: Origin): string {
  const { scheme, host, port, alpn } = origin;
  if (typeof scheme !== 'string' || !/^[a-z][a-z0-9+.-]*$/i.test(scheme)) {
    throw new InvalidOptionError(`origin.scheme must be a URL scheme, got ${String(scheme)}`);
  }
  if (typeof host !== 'string' || host.length === 0 || /[\s/]/.test(host)) {
    throw new InvalidOptionError(`origin.host must be a host name or IP, got ${String(host)}`);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new InvalidOptionError(`origin.port must be an integer 1–65535, got ${String(port)}`);
  }
  const lower = host.toLowerCase();
  const bracketed = lower.includes(':') && !lower.startsWith('[') ? `[${lower}]` : lower;
  const base = `${scheme.toLowerCase()}://${bracketed}:${port}`;
  if (alpn === undefined || alpn === '') return base;
  if (typeof alpn !== 'string') {
    throw new InvalidOptionError(`origin.alpn must be a string, got ${typeof alpn}`);
  }
  return `${base} ${alpn}`;
}

export interface PoolOptions {
  /**
   * Connections per origin, open or connecting. Browsers use 6 per host for HTTP/1.1 and
   * undici has no limit by default; a finite cap protects both us and the server.
   * @default 10
   */
  maxConnectionsPerOrigin?: number;
  /**
   * Concurrent leases per connection: 1 for HTTP/1.1, the peer's
   * SETTINGS_MAX_CONCURRENT_STREAMS (or less) for HTTP/2 multiplexing.
   * @default 1
   */
  maxStreamsPerConnection?: number;
  /**
   * Requests queued per origin waiting for a connection; beyond it `acquire` rejects at
   * once with `PoolQueueFullError` (`GN_ERR_POOL_QUEUE_FULL`).
   * @default 1000
   */
  maxPending?: number;
  /**
   * How long a queued request waits before rejecting with `PoolAcquireTimeoutError`
   * (`GN_ERR_POOL_ACQUIRE_TIMEOUT`).
   * @default 10000
   */
  acquireTimeoutMs?: number;
  /**
   * How long one `connect` may take before it is aborted with `ConnectTimeoutError`
   * (`GN_ERR_CONNECT_TIMEOUT`) and its slot freed, even if `connect` ignores the signal.
   * @default 10000
   */
  connectTimeoutMs?: number;
  /**
   * Idle connections (no lease) are closed after this long.
   * @default 30000
   */
  idleTimeoutMs?: number;
  /**
   * Connections older than this are not reused: they close on release (or when found idle).
   * Bounds the life of a connection so DNS changes and server rebalancing take effect.
   * @default 600000
   */
  maxLifetimeMs?: number;
  /**
   * Idle connections kept per origin; a release beyond it closes the longest-idle one.
   * 0 closes every connection on release.
   * @default maxConnectionsPerOrigin
   */
  maxIdlePerOrigin?: number;
  /**
   * Grace period passed to `connection.close()` when the pool retires a connection.
   * @default 1000
   */
  closeGraceMs?: number;
  /**
   * Name in logs and in the shutdown report (`Drainable.name`).
   * @default 'connection-pool'
   */
  name?: string;
}

export const POOL_DEFAULTS = Object.freeze({
  maxConnectionsPerOrigin: 10,
  maxStreamsPerConnection: 1,
  maxPending: 1000,
  acquireTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  idleTimeoutMs: 30_000,
  maxLifetimeMs: 600_000,
  closeGraceMs: 1000,
  name: 'connection-pool',
});

/** Collaborators the pool is given (STYLE §8). */
export interface PoolComponents {
  /** Open a connection to the origin; abort when `signal` fires. */
  connect(origin: Origin, signal: AbortSignal): Promise<StreamConnection>;
  /**
   * Receives `pool_connections{state=idle|busy|connecting}` and `pool_pending` gauges and
   * error counts under protocol 'pool'.
   */
  observer?: Observer;
  /** Clock for connection ages, in milliseconds. @default Date.now */
  now?: () => number;
}

/** A connection handed out by `acquire`. Give it back with `release` or `destroy`. */
export interface PoolLease {
  readonly connection: StreamConnection;
  readonly origin: Origin;
  /** Return the connection for reuse. A second call (or one after `destroy`) is a no-op. */
  release(): void;
  /** Destroy the connection and evict it. A no-op after `release`. */
  destroy(err?: Error): void;
}

export interface PoolOriginStats {
  /** Open connections (idle + busy); closing ones are not counted. */
  size: number;
  idle: number;
  busy: number;
  /** Requests waiting for a connection. */
  pending: number;
  /** Connect attempts in flight. */
  connecting: number;
}

export interface PoolStats extends PoolOriginStats {
  /** Connections retired or evicted that have not emitted `close` yet. */
  closing: number;
  origins: Record<string, PoolOriginStats>;
}

interface Entry {
  readonly connection: StreamConnection;
  readonly state: OriginState;
  readonly createdAt: number;
  leases: number;
  /** False once the peer ended, the connection expired, or the pool is closing. */
  reusable: boolean;
  /** Out of the origin's accounting (evicted or retired). */
  removed: boolean;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
}

interface Waiter {
  readonly state: OriginState;
  readonly resolve: (lease: PoolLease) => void;
  readonly reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  settled: boolean;
  /** A connect attempt was started on this waiter's behalf and has not finished. */
  connecting: boolean;
}

interface Attempt {
  readonly state: OriginState;
  readonly controller: AbortController;
  readonly owner: Waiter;
  timer: ReturnType<typeof setTimeout> | undefined;
  settled: boolean;
}

interface OriginState {
  readonly key: string;
  readonly origin: Origin;
  readonly entries: Set<Entry>;
  /** Entries with a free lease slot, least recently released first (LIFO: take the last). */
  readonly available: Entry[];
  /** FIFO. Bounded by `maxPending`. */
  readonly waiters: Waiter[];
  readonly attempts: Set<Attempt>;
  busy: number;
  dispatching: boolean;
  again: boolean;
}

interface ResolvedPoolOptions {
  maxConnectionsPerOrigin: number;
  maxStreamsPerConnection: number;
  maxPending: number;
  acquireTimeoutMs: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  maxLifetimeMs: number;
  maxIdlePerOrigin: number;
  closeGraceMs: number;
  name: string;
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidOptionError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function resolvePoolOptions(options: PoolOptions): ResolvedPoolOptions {
  const d = POOL_DEFAULTS;
  const maxConnectionsPerOrigin = positiveInt(
    'maxConnectionsPerOrigin',
    options.maxConnectionsPerOrigin,
    d.maxConnectionsPerOrigin,
  );
  const maxIdlePerOrigin = options.maxIdlePerOrigin ?? maxConnectionsPerOrigin;
  if (!Number.isSafeInteger(maxIdlePerOrigin) || maxIdlePerOrigin < 0) {
    throw new InvalidOptionError(
      `maxIdlePerOrigin must be an integer >= 0, got ${String(options.maxIdlePerOrigin)}`,
    );
  }
  return {
    maxConnectionsPerOrigin,
    maxStreamsPerConnection: positiveInt(
      'maxStreamsPerConnection',
      options.maxStreamsPerConnection,
      d.maxStreamsPerConnection,
    ),
    maxPending: positiveInt('maxPending', options.maxPending, d.maxPending),
    acquireTimeoutMs: positiveInt('acquireTimeoutMs', options.acquireTimeoutMs, d.acquireTimeoutMs),
    connectTimeoutMs: positiveInt('connectTimeoutMs', options.connectTimeoutMs, d.connectTimeoutMs),
    idleTimeoutMs: positiveInt('idleTimeoutMs', options.idleTimeoutMs, d.idleTimeoutMs),
    maxLifetimeMs: positiveInt('maxLifetimeMs', options.maxLifetimeMs, d.maxLifetimeMs),
    maxIdlePerOrigin,
    closeGraceMs: positiveInt('closeGraceMs', options.closeGraceMs, d.closeGraceMs),
    name: options.name ?? d.name,
  };
}

class Lease implements PoolLease {
  readonly connection: StreamConnection;
  readonly origin: Origin;
  #done = false;
  readonly #onRelease: () => void;
  readonly #onDestroy: (err: Error | undefined) => void;

  constructor(
    connection: StreamConnection,
    origin: Origin,
    onRelease: () => void,
    onDestroy: (err: Error | undefined) => void,
  ) {
    this.connection = connection;
    this.origin = origin;
    this.#onRelease = onRelease;
    this.#onDestroy = onDestroy;
  }

  release(): void {
    if (this.#done) return;
    this.#done = true;
    this.#onRelease();
  }

  destroy(err?: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#onDestroy(err);
  }
}

export class ConnectionPool implements Drainable {
  readonly name: string;
  readonly #connect: PoolComponents['connect'];
  readonly #observer: Observer;
  readonly #now: () => number;
  readonly #options: ResolvedPoolOptions;
  readonly #origins = new Map<string, OriginState>();
  /** Every connection the pool opened that has not emitted `close`. */
  readonly #live = new Set<StreamConnection>();
  /** The entry of each open connection (for `retire`). */
  readonly #entryOf = new Map<StreamConnection, Entry>();
  #closed = false;
  #closePromise: Promise<void> | undefined;
  #resolveClose: (() => void) | undefined;
  // Running totals, so stats and gauges do not walk every origin.
  #size = 0;
  #busy = 0;
  #pending = 0;
  #connecting = 0;

  constructor(components: PoolComponents, options: PoolOptions = {}) {
    if (typeof components?.connect !== 'function') {
      throw new InvalidOptionError(
        'components.connect must be a function (origin, signal) => Promise<StreamConnection>',
      );
    }
    this.#connect = components.connect;
    this.#observer = components.observer ?? noopObserver;
    this.#now = components.now ?? Date.now;
    this.#options = resolvePoolOptions(options);
    this.name = this.#options.name;
  }

  /** True once `close`, `stopAccepting` or `destroy` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Lease a connection to `origin`: an idle one (most recently released first), a new one
   * if the origin is under its cap, or the next one released, in FIFO order.
   */
  acquire(origin: Origin, options: { signal?: AbortSignal } = {}): Promise<PoolLease> {
    if (this.#closed) return Promise.reject(new PoolClosedError());
    let key: string;
    try {
      key = originKey(origin);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const signal = options.signal;
    if (signal?.aborted) {
      return Promise.reject(new AbortError('acquire was aborted', { cause: signal.reason }));
    }
    const existing = this.#origins.get(key);
    if (existing !== undefined && existing.waiters.length === 0) {
      const entry = this.#takeAvailable(existing);
      if (entry !== undefined) {
        const lease = this.#lease(entry);
        this.#publish();
        return Promise.resolve(lease);
      }
    }
    // Looked up again: retiring expired connections above may have dropped an empty state.
    const state = this.#stateFor(key, origin);
    if (state.waiters.length >= this.#options.maxPending) {
      this.#observer.error('pool', 'GN_ERR_POOL_QUEUE_FULL');
      this.#forgetIfEmpty(state);
      return Promise.reject(new PoolQueueFullError(this.#options.maxPending, key));
    }
    return new Promise<PoolLease>((resolve, reject) => {
      const waiter: Waiter = {
        state,
        resolve,
        reject,
        timer: undefined,
        signal,
        onAbort: undefined,
        settled: false,
        connecting: false,
      };
      waiter.timer = setTimeout(() => {
        this.#observer.error('pool', 'GN_ERR_POOL_ACQUIRE_TIMEOUT');
        this.#rejectWaiter(
          waiter,
          new PoolAcquireTimeoutError(this.#options.acquireTimeoutMs, key),
        );
      }, this.#options.acquireTimeoutMs);
      if (signal !== undefined) {
        waiter.onAbort = () =>
          this.#rejectWaiter(
            waiter,
            new AbortError('acquire was aborted', { cause: signal.reason }),
          );
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      state.waiters.push(waiter);
      this.#pending += 1;
      this.#dispatch(state);
    });
  }

  stats(): PoolStats {
    const origins: Record<string, PoolOriginStats> = {};
    for (const state of this.#origins.values()) {
      origins[state.key] = {
        size: state.entries.size,
        idle: state.entries.size - state.busy,
        busy: state.busy,
        pending: state.waiters.length,
        connecting: state.attempts.size,
      };
    }
    return {
      size: this.#size,
      idle: this.#size - this.#busy,
      busy: this.#busy,
      pending: this.#pending,
      connecting: this.#connecting,
      closing: this.#live.size - this.#size,
      origins,
    };
  }

  /** Drainable phase 1: refuse new acquires and reject the queued ones. */
  stopAccepting(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const state of [...this.#origins.values()]) {
      for (const waiter of [...state.waiters]) this.#rejectWaiter(waiter, new PoolClosedError());
      for (const attempt of [...state.attempts]) {
        this.#finishAttempt(attempt, new PoolClosedError());
      }
    }
    this.#publish();
  }

  /** Drainable phase 2: same as `close()`. */
  drain(): Promise<void> {
    return this.close();
  }

  /**
   * Stop handing out connections, reject waiters, close idle connections now and busy ones
   * as they are released. Resolves once every connection emitted `close`. Idempotent.
   */
  close(): Promise<void> {
    this.stopAccepting();
    if (this.#closePromise === undefined) {
      this.#closePromise = new Promise((resolve) => {
        this.#resolveClose = resolve;
      });
    }
    for (const state of [...this.#origins.values()]) {
      for (const entry of [...state.entries]) {
        entry.reusable = false;
        if (entry.leases === 0) this.#retire(entry);
      }
    }
    this.#checkDrained();
    return this.#closePromise;
  }

  /** Destroy every connection, leased or not, now. Idempotent. */
  destroy(): void {
    void this.close();
    for (const conn of [...this.#live]) conn.destroy();
    this.#checkDrained();
  }

  // --- internals ---------------------------------------------------------------------

  #stateFor(key: string, origin: Origin): OriginState {
    let state = this.#origins.get(key);
    if (state === undefined) {
      state = {
        key,
        origin: { ...origin },
        entries: new Set(),
        available: [],
        waiters: [],
        attempts: new Set(),
        busy: 0,
        dispatching: false,
        again: false,
      };
      this.#origins.set(key, state);
    }
    return state;
  }

  #forgetIfEmpty(state: OriginState): void {
    if (
      state.entries.size === 0 &&
      state.waiters.length === 0 &&
      state.attempts.size === 0 &&
      this.#origins.get(state.key) === state
    ) {
      this.#origins.delete(state.key);
    }
  }

  #expired(entry: Entry): boolean {
    return this.#now() - entry.createdAt >= this.#options.maxLifetimeMs;
  }

  /** The most recently released usable entry with a free slot; retires expired ones met on the way. */
  #takeAvailable(state: OriginState): Entry | undefined {
    while (state.available.length > 0) {
      const entry = state.available[state.available.length - 1] as Entry;
      if (entry.reusable && !this.#expired(entry) && entry.connection.writable) return entry;
      entry.reusable = false;
      state.available.pop();
      if (entry.leases === 0) this.#retire(entry);
    }
    return undefined;
  }

  #lease(entry: Entry): PoolLease {
    entry.leases += 1;
    if (entry.leases === 1) {
      entry.state.busy += 1;
      this.#busy += 1;
      if (entry.idleTimer !== undefined) {
        clearTimeout(entry.idleTimer);
        entry.idleTimer = undefined;
      }
    }
    if (entry.leases >= this.#options.maxStreamsPerConnection) {
      removeFrom(entry.state.available, entry);
    }
    return new Lease(
      entry.connection,
      entry.state.origin,
      () => this.#release(entry),
      (err) => {
        this.#evict(entry);
        entry.connection.destroy(err);
      },
    );
  }

  #release(entry: Entry): void {
    if (entry.removed) return;
    entry.leases -= 1;
    const state = entry.state;
    if (entry.leases === 0) {
      state.busy -= 1;
      this.#busy -= 1;
    }
    if (
      this.#closed ||
      !entry.reusable ||
      this.#expired(entry) ||
      !entry.connection.writable ||
      entry.connection.closed
    ) {
      entry.reusable = false;
      removeFrom(state.available, entry);
      if (entry.leases === 0) this.#retire(entry);
    } else {
      // LIFO: the released connection goes on top.
      removeFrom(state.available, entry);
      state.available.push(entry);
      if (entry.leases === 0) {
        this.#startIdleTimer(entry);
        this.#trimIdle(state);
      }
    }
    this.#dispatch(state);
    this.#checkDrained();
  }

  #startIdleTimer(entry: Entry): void {
    if (entry.idleTimer !== undefined) clearTimeout(entry.idleTimer);
    entry.idleTimer = setTimeout(() => {
      entry.idleTimer = undefined;
      if (entry.leases === 0 && !entry.removed) {
        this.#retire(entry);
        this.#publish();
      }
    }, this.#options.idleTimeoutMs);
    entry.idleTimer.unref?.();
  }

  /** Keep at most `maxIdlePerOrigin` idle connections: close the longest idle first. */
  #trimIdle(state: OriginState): void {
    let idle = state.entries.size - state.busy;
    for (let i = 0; idle > this.#options.maxIdlePerOrigin && i < state.available.length;) {
      const entry = state.available[i] as Entry;
      if (entry.leases === 0) {
        this.#retire(entry); // removes it from `available`
        idle -= 1;
      } else {
        i += 1;
      }
    }
  }

  /**
   * Stops handing `connection` out — an HTTP/2 connection that received GOAWAY keeps its
   * open streams but takes no new ones. It closes once its last lease is released; new
   * requests get another connection.
   */
  retire(connection: StreamConnection): void {
    const entry = this.#entryOf.get(connection);
    if (entry !== undefined) this.#stopReusing(entry);
  }

  #stopReusing(entry: Entry): void {
    if (entry.removed || !entry.reusable) return;
    entry.reusable = false;
    removeFrom(entry.state.available, entry);
    if (entry.leases === 0) this.#retire(entry);
    this.#dispatch(entry.state);
    this.#publish();
  }

  /** Take the entry out of accounting and close it gracefully. */
  #retire(entry: Entry): void {
    this.#evict(entry);
    entry.connection.close(this.#options.closeGraceMs);
  }

  /** Take the entry out of the origin's accounting. Idempotent. */
  #evict(entry: Entry): void {
    if (entry.removed) return;
    entry.removed = true;
    entry.reusable = false;
    const state = entry.state;
    if (entry.idleTimer !== undefined) {
      clearTimeout(entry.idleTimer);
      entry.idleTimer = undefined;
    }
    state.entries.delete(entry);
    removeFrom(state.available, entry);
    this.#size -= 1;
    if (entry.leases > 0) {
      state.busy -= 1;
      this.#busy -= 1;
    }
    // A slot is free: a waiter may now get a new connection.
    this.#dispatch(state);
  }

  #dispatch(state: OriginState): void {
    if (state.dispatching) {
      state.again = true;
      return;
    }
    state.dispatching = true;
    try {
      do {
        state.again = false;
        this.#dispatchOnce(state);
      } while (state.again);
    } finally {
      state.dispatching = false;
    }
    this.#forgetIfEmpty(state);
    this.#publish();
  }

  #dispatchOnce(state: OriginState): void {
    if (this.#closed) return;
    const o = this.#options;
    // Each pass serves a waiter, starts a connect, or stops: bounded by the waiters.
    while (state.waiters.length > 0) {
      const entry = this.#takeAvailable(state);
      if (entry !== undefined) {
        const waiter = state.waiters[0] as Waiter;
        this.#settleWaiter(waiter);
        waiter.resolve(this.#lease(entry));
        continue;
      }
      if (state.attempts.size * o.maxStreamsPerConnection >= state.waiters.length) return;
      if (state.entries.size + state.attempts.size >= o.maxConnectionsPerOrigin) return;
      const owner = state.waiters.find((w) => !w.connecting);
      if (owner === undefined) return;
      this.#startAttempt(state, owner);
    }
  }

  #startAttempt(state: OriginState, owner: Waiter): void {
    const attempt: Attempt = {
      state,
      controller: new AbortController(),
      owner,
      timer: undefined,
      settled: false,
    };
    owner.connecting = true;
    state.attempts.add(attempt);
    this.#connecting += 1;
    const ms = this.#options.connectTimeoutMs;
    attempt.timer = setTimeout(() => {
      attempt.timer = undefined;
      this.#finishAttempt(attempt, new ConnectTimeoutError(ms));
    }, ms);
    let pending: Promise<StreamConnection>;
    try {
      pending = this.#connect(state.origin, attempt.controller.signal);
    } catch (err) {
      pending = Promise.reject(err);
    }
    Promise.resolve(pending).then(
      (conn) => this.#finishAttempt(attempt, conn),
      (err: unknown) => this.#finishAttempt(attempt, this.#connectFailure(state, err)),
    );
  }

  #connectFailure(state: OriginState, err: unknown): GhostnetError {
    if (err instanceof GhostnetError) return err;
    const message = err instanceof Error ? err.message : String(err);
    return new ConnectError(`Connecting to ${state.key} failed: ${message}`, { cause: err });
  }

  /** Settle an attempt with a connection or an error. Later results are discarded. */
  #finishAttempt(attempt: Attempt, result: StreamConnection | GhostnetError): void {
    if (attempt.settled) {
      // Too late (timed out, pool closed): do not leak the connection.
      if (!(result instanceof GhostnetError)) result.destroy();
      return;
    }
    attempt.settled = true;
    if (attempt.timer !== undefined) clearTimeout(attempt.timer);
    attempt.timer = undefined;
    const state = attempt.state;
    state.attempts.delete(attempt);
    this.#connecting -= 1;
    attempt.owner.connecting = false;

    if (result instanceof GhostnetError) {
      if (!attempt.controller.signal.aborted) attempt.controller.abort(result);
      if (!(result instanceof PoolClosedError)) {
        this.#observer.error('pool', result.code);
        // The waiter this connect was for learns why; the others keep waiting.
        this.#rejectWaiter(attempt.owner, result);
      }
      this.#dispatch(state);
      return;
    }
    const conn = result;
    if (this.#closed) {
      conn.destroy();
      return;
    }
    if (conn.closed || !conn.writable) {
      conn.destroy();
      this.#finishFailedOpen(
        attempt,
        new ConnectionClosedError('The new connection closed before use'),
      );
      return;
    }
    this.#adopt(state, conn);
  }

  #finishFailedOpen(attempt: Attempt, err: GhostnetError): void {
    this.#observer.error('pool', err.code);
    this.#rejectWaiter(attempt.owner, err);
    this.#dispatch(attempt.state);
  }

  /** A new connection joins the origin as idle; dispatch hands it to the first waiter. */
  #adopt(state: OriginState, conn: StreamConnection): void {
    const entry: Entry = {
      connection: conn,
      state,
      createdAt: this.#now(),
      leases: 0,
      reusable: true,
      removed: false,
      idleTimer: undefined,
    };
    state.entries.add(entry);
    this.#size += 1;
    this.#live.add(conn);
    const onError = (err: Error): void => {
      this.#observer.error('pool', err instanceof GhostnetError ? err.code : 'GN_ERR_CONNECTION');
      this.#evict(entry);
    };
    const onEnd = (): void => {
      // The peer closed its side (an HTTP/1.1 server ending keep-alive): never reuse.
      this.#stopReusing(entry);
    };
    this.#entryOf.set(conn, entry);
    const onClose = (): void => {
      conn.off('error', onError);
      conn.off('end', onEnd);
      this.#live.delete(conn);
      this.#entryOf.delete(conn);
      this.#evict(entry);
      this.#checkDrained();
    };
    conn.on('error', onError);
    conn.on('end', onEnd);
    conn.once('close', onClose);
    state.available.push(entry);
    this.#startIdleTimer(entry);
    this.#dispatch(state);
    if (entry.leases === 0 && !entry.removed) this.#trimIdle(state);
  }

  #settleWaiter(waiter: Waiter): void {
    if (waiter.settled) return;
    waiter.settled = true;
    if (waiter.timer !== undefined) clearTimeout(waiter.timer);
    waiter.timer = undefined;
    if (waiter.signal !== undefined && waiter.onAbort !== undefined) {
      waiter.signal.removeEventListener('abort', waiter.onAbort);
    }
    if (removeFrom(waiter.state.waiters, waiter)) this.#pending -= 1;
  }

  #rejectWaiter(waiter: Waiter, err: Error): void {
    if (waiter.settled) return;
    this.#settleWaiter(waiter);
    waiter.reject(err);
    this.#forgetIfEmpty(waiter.state);
    this.#publish();
  }

  #checkDrained(): void {
    if (this.#resolveClose !== undefined && this.#live.size === 0 && this.#connecting === 0) {
      const resolve = this.#resolveClose;
      this.#resolveClose = undefined;
      resolve();
    }
  }

  #publish(): void {
    const o = this.#observer;
    o.gauge('pool_connections', this.#size - this.#busy, { state: 'idle' });
    o.gauge('pool_connections', this.#busy, { state: 'busy' });
    o.gauge('pool_connections', this.#connecting, { state: 'connecting' });
    o.gauge('pool_pending', this.#pending);
  }
}

/** Remove one occurrence; true if it was there. Arrays here are bounded by per-origin caps. */
function removeFrom<T>(list: T[], item: T): boolean {
  const i = list.lastIndexOf(item);
  if (i === -1) return false;
  list.splice(i, 1);
  return true;
}
