import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GhostnetError, InvalidOptionError } from '../../src/errors.js';
import type { Drainable } from '../../src/lifecycle/drainable.js';
import type { Observer } from '../../src/monitoring/observer.js';
import { createMemoryPair } from '../../src/transport/memory.js';
import { ConnectionPool, originKey } from '../../src/transport/pool.js';
import type { Origin, PoolLease, PoolOptions } from '../../src/transport/pool.js';
import type { StreamConnection } from '../../src/transport/types.js';

const A: Origin = { scheme: 'http', host: 'a.test', port: 80 };
const B: Origin = { scheme: 'http', host: 'b.test', port: 80 };

/** Drain the microtask queue (memory pairs deliver on microtasks; timers are fake). */
async function flush(): Promise<void> {
  for (let i = 0; i < 50; i += 1) await Promise.resolve();
}

interface Harness {
  pool: ConnectionPool;
  /** Server sides of every connection made, in order. */
  servers: StreamConnection[];
  clients: StreamConnection[];
  connect: ReturnType<typeof vi.fn>;
  gauges: Map<string, number>;
  errors: string[];
  /** Make the next connect calls fail (or hang) instead of connecting. */
  plan: Array<'fail' | 'hang'>;
  signals: AbortSignal[];
}

function harness(options: PoolOptions = {}): Harness {
  const servers: StreamConnection[] = [];
  const clients: StreamConnection[] = [];
  const gauges = new Map<string, number>();
  const errors: string[] = [];
  const plan: Array<'fail' | 'hang'> = [];
  const signals: AbortSignal[] = [];
  const observer: Observer = {
    connectionOpened() {},
    connectionClosed() {},
    bytesReceived() {},
    bytesSent() {},
    requestFinished() {},
    error(_p, code) {
      errors.push(code);
    },
    gauge(name, value, labels) {
      gauges.set(labels?.state === undefined ? name : `${name}:${labels.state}`, value);
    },
  };
  const connect = vi.fn(async (_origin: Origin, signal: AbortSignal) => {
    signals.push(signal);
    const step = plan.shift();
    if (step === 'fail') throw new Error('ECONNREFUSED (simulated)');
    if (step === 'hang') return new Promise<StreamConnection>(() => {});
    const [client, server] = createMemoryPair();
    // A well-behaved server: answers a FIN with a FIN, ignores its own errors.
    server.on('end', () => server.end());
    server.on('error', () => {});
    servers.push(server);
    clients.push(client);
    return client;
  });
  const pool = new ConnectionPool({ connect, observer }, options);
  return { pool, servers, clients, connect, gauges, errors, plan, signals };
}

/** Settles a promise into a value we can inspect synchronously. */
function track<T>(p: Promise<T>): { done: boolean; value?: T; error?: GhostnetError } {
  const state: { done: boolean; value?: T; error?: GhostnetError } = { done: false };
  p.then(
    (value) => {
      state.done = true;
      state.value = value;
    },
    (error: GhostnetError) => {
      state.done = true;
      state.error = error;
    },
  );
  return state;
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('originKey', () => {
  it('normalizes case, brackets IPv6 and separates ALPN', () => {
    expect(originKey({ scheme: 'HTTPS', host: 'Example.COM', port: 443 })).toBe(
      'https://example.com:443',
    );
    expect(originKey({ scheme: 'https', host: '::1', port: 443 })).toBe('https://[::1]:443');
    expect(originKey({ scheme: 'https', host: '[::1]', port: 443 })).toBe('https://[::1]:443');
    expect(originKey({ scheme: 'https', host: 'h.test', port: 443, alpn: 'h2' })).not.toBe(
      originKey({ scheme: 'https', host: 'h.test', port: 443 }),
    );
  });

  it('rejects invalid origins with InvalidOptionError', () => {
    expect(() => originKey({ scheme: 'http', host: '', port: 80 })).toThrow(InvalidOptionError);
    expect(() => originKey({ scheme: 'http', host: 'a', port: 0 })).toThrow(InvalidOptionError);
    expect(() => originKey({ scheme: '1x', host: 'a', port: 80 })).toThrow(InvalidOptionError);
  });
});

describe('ConnectionPool', () => {
  it('validates options', () => {
    const connect = async (): Promise<StreamConnection> => createMemoryPair()[0];
    expect(() => new ConnectionPool({ connect }, { maxConnectionsPerOrigin: 0 })).toThrow(
      InvalidOptionError,
    );
    expect(() => new ConnectionPool({ connect }, { acquireTimeoutMs: Infinity })).toThrow(
      InvalidOptionError,
    );
  });

  it('caps connections per origin and queues waiters FIFO', async () => {
    const h = harness({ maxConnectionsPerOrigin: 2 });
    const l1 = await h.pool.acquire(A);
    const l2 = await h.pool.acquire(A);
    const w1 = track(h.pool.acquire(A));
    const w2 = track(h.pool.acquire(A));
    await flush();
    expect(h.connect).toHaveBeenCalledTimes(2);
    expect(w1.done || w2.done).toBe(false);
    expect(h.pool.stats()).toMatchObject({ size: 2, busy: 2, idle: 0, pending: 2 });
    expect(h.gauges.get('pool_pending')).toBe(2);

    l2.release();
    await flush();
    expect(w1.done).toBe(true);
    expect(w2.done).toBe(false);
    expect(w1.value?.connection).toBe(l2.connection);

    l1.release();
    await flush();
    expect(w2.value?.connection).toBe(l1.connection);
    expect(h.connect).toHaveBeenCalledTimes(2);
    expect(h.pool.stats()).toMatchObject({ size: 2, busy: 2, pending: 0 });
  });

  it('reuses idle connections LIFO', async () => {
    const h = harness();
    const leases = await Promise.all([h.pool.acquire(A), h.pool.acquire(A), h.pool.acquire(A)]);
    expect(new Set(leases.map((l) => l.connection)).size).toBe(3);
    const [l1, l2, l3] = leases as [PoolLease, PoolLease, PoolLease];
    l1.release();
    l3.release();
    l2.release();
    expect(h.pool.stats()).toMatchObject({ size: 3, idle: 3, busy: 0 });
    const n1 = await h.pool.acquire(A);
    const n2 = await h.pool.acquire(A);
    const n3 = await h.pool.acquire(A);
    expect(n1.connection).toBe(l2.connection);
    expect(n2.connection).toBe(l3.connection);
    expect(n3.connection).toBe(l1.connection);
    expect(h.connect).toHaveBeenCalledTimes(3);
  });

  it('releasing twice does not double-count', async () => {
    const h = harness();
    const lease = await h.pool.acquire(A);
    lease.release();
    lease.release();
    lease.destroy(); // after release: no-op
    expect(h.pool.stats()).toMatchObject({ size: 1, idle: 1, busy: 0 });
    const again = await h.pool.acquire(A);
    expect(again.connection).toBe(lease.connection);
    expect(again.connection.closed).toBe(false);
    expect(h.pool.stats()).toMatchObject({ size: 1, idle: 0, busy: 1 });
  });

  it('evicts idle connections after idleTimeoutMs', async () => {
    const h = harness({ idleTimeoutMs: 5000 });
    const lease = await h.pool.acquire(A);
    lease.release();
    await vi.advanceTimersByTimeAsync(4999);
    expect(h.pool.stats().idle).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.pool.stats()).toMatchObject({ size: 0, idle: 0 });
    await flush();
    expect(lease.connection.closed).toBe(true);
    const fresh = await h.pool.acquire(A);
    expect(fresh.connection).not.toBe(lease.connection);
    expect(h.connect).toHaveBeenCalledTimes(2);
  });

  it('a lease keeps its connection from idle eviction', async () => {
    const h = harness({ idleTimeoutMs: 1000 });
    const lease = await h.pool.acquire(A);
    await vi.advanceTimersByTimeAsync(5000);
    expect(lease.connection.closed).toBe(false);
    expect(h.pool.stats().busy).toBe(1);
  });

  it('rejects a waiter after acquireTimeoutMs with GN_ERR_POOL_ACQUIRE_TIMEOUT', async () => {
    const h = harness({ maxConnectionsPerOrigin: 1, acquireTimeoutMs: 1000 });
    const held = await h.pool.acquire(A);
    const waiter = track(h.pool.acquire(A));
    await vi.advanceTimersByTimeAsync(999);
    expect(waiter.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(waiter.error?.code).toBe('GN_ERR_POOL_ACQUIRE_TIMEOUT');
    expect(h.pool.stats().pending).toBe(0);
    expect(h.errors).toContain('GN_ERR_POOL_ACQUIRE_TIMEOUT');
    held.release();
    expect(h.pool.stats()).toMatchObject({ idle: 1, busy: 0 });
  });

  it('supports aborting a waiter, and rejects an already-aborted signal at once', async () => {
    const h = harness({ maxConnectionsPerOrigin: 1 });
    await h.pool.acquire(A);
    const ac = new AbortController();
    const waiter = track(h.pool.acquire(A, { signal: ac.signal }));
    await flush();
    ac.abort();
    await flush();
    expect(waiter.error?.code).toBe('GN_ERR_ABORTED');
    expect(h.pool.stats().pending).toBe(0);
    await expect(h.pool.acquire(B, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: 'GN_ERR_ABORTED',
    });
    expect(h.connect).toHaveBeenCalledTimes(1);
  });

  it('rejects at once beyond maxPending waiters', async () => {
    const h = harness({ maxConnectionsPerOrigin: 1, maxPending: 2 });
    await h.pool.acquire(A);
    const w1 = track(h.pool.acquire(A));
    const w2 = track(h.pool.acquire(A));
    await expect(h.pool.acquire(A)).rejects.toMatchObject({ code: 'GN_ERR_POOL_QUEUE_FULL' });
    expect(w1.done || w2.done).toBe(false);
    expect(h.pool.stats().pending).toBe(2);
  });

  it('evicts an idle connection that closes or errors', async () => {
    const h = harness();
    const [l1, l2] = await Promise.all([h.pool.acquire(A), h.pool.acquire(A)]);
    l1.release();
    l2.release();
    expect(h.pool.stats().idle).toBe(2);
    h.servers[0]?.destroy(); // the peer goes away
    l2.connection.emit('error', new GhostnetError('GN_ERR_TEST', 'socket error'));
    await flush();
    expect(h.pool.stats()).toMatchObject({ size: 0, idle: 0 });
    expect(h.errors).toContain('GN_ERR_TEST');
    const next = await h.pool.acquire(A);
    expect([l1.connection, l2.connection]).not.toContain(next.connection);
  });

  it('removes a leased connection from accounting when it closes; release is then a no-op', async () => {
    const h = harness({ maxConnectionsPerOrigin: 1 });
    const lease = await h.pool.acquire(A);
    const waiter = track(h.pool.acquire(A));
    h.servers[0]?.destroy();
    await flush();
    // The slot was freed, so the waiter got a brand-new connection.
    expect(waiter.value?.connection).toBeDefined();
    expect(waiter.value?.connection).not.toBe(lease.connection);
    lease.release();
    expect(h.pool.stats()).toMatchObject({ size: 1, busy: 1, idle: 0 });
  });

  it('lease.destroy() evicts the connection at once', async () => {
    const h = harness();
    const lease = await h.pool.acquire(A);
    const errors: string[] = [];
    lease.connection.on('error', (e) => errors.push((e as GhostnetError).code));
    lease.destroy(new GhostnetError('GN_ERR_PROTOCOL_TEST', 'bad response'));
    expect(h.pool.stats()).toMatchObject({ size: 0, busy: 0 });
    await flush();
    expect(lease.connection.closed).toBe(true);
    expect(errors).toEqual(['GN_ERR_PROTOCOL_TEST']);
  });

  it('does not reuse a connection whose peer ended (keep-alive closed by server)', async () => {
    const h = harness();
    const lease = await h.pool.acquire(A);
    lease.release();
    h.servers[0]?.end();
    await flush();
    expect(h.pool.stats().size).toBe(0);
    expect(lease.connection.closed).toBe(true);
    const next = await h.pool.acquire(A);
    expect(next.connection).not.toBe(lease.connection);
  });

  it('retire(): a multiplexed connection keeps its leases, takes no new ones, closes after the last', async () => {
    const h = harness({ maxStreamsPerConnection: 10 });
    const first = await h.pool.acquire(A);
    const second = await h.pool.acquire(A);
    expect(second.connection).toBe(first.connection);
    h.pool.retire(first.connection); // an HTTP/2 GOAWAY arrived on it
    const fresh = await h.pool.acquire(A);
    expect(fresh.connection).not.toBe(first.connection);
    first.release();
    await flush();
    expect(first.connection.closed).toBe(false); // one lease still open on it
    second.release();
    await flush();
    await vi.advanceTimersByTimeAsync(2000);
    expect(first.connection.closed).toBe(true);
    expect(fresh.connection.closed).toBe(false);
    fresh.release();
  });

  it('retires connections older than maxLifetimeMs on release', async () => {
    const h = harness({ maxLifetimeMs: 10_000, idleTimeoutMs: 60_000 });
    const lease = await h.pool.acquire(A);
    lease.release();
    await vi.advanceTimersByTimeAsync(5000);
    const reused = await h.pool.acquire(A);
    expect(reused.connection).toBe(lease.connection);
    await vi.advanceTimersByTimeAsync(5000);
    reused.release();
    expect(h.pool.stats().size).toBe(0);
    await flush();
    expect(lease.connection.closed).toBe(true);
    const fresh = await h.pool.acquire(A);
    expect(fresh.connection).not.toBe(lease.connection);
  });

  it('closes an idle connection found expired at acquire and connects anew', async () => {
    let clock = 0;
    const h = harness();
    const pool = new ConnectionPool(
      { connect: h.connect as never, now: () => clock },
      { maxLifetimeMs: 1000, idleTimeoutMs: 60_000 },
    );
    const lease = await pool.acquire(A);
    lease.release();
    clock = 1000;
    const next = await pool.acquire(A);
    expect(next.connection).not.toBe(lease.connection);
    await flush();
    expect(lease.connection.closed).toBe(true);
    expect(pool.stats()).toMatchObject({ size: 1, busy: 1, idle: 0 });
  });

  it('shares a connection across maxStreamsPerConnection leases', async () => {
    const h = harness({ maxStreamsPerConnection: 3, maxConnectionsPerOrigin: 1 });
    const leases = await Promise.all([h.pool.acquire(A), h.pool.acquire(A), h.pool.acquire(A)]);
    expect(h.connect).toHaveBeenCalledTimes(1);
    expect(new Set(leases.map((l) => l.connection)).size).toBe(1);
    expect(h.pool.stats()).toMatchObject({ size: 1, busy: 1, idle: 0 });
    const fourth = track(h.pool.acquire(A));
    await flush();
    expect(fourth.done).toBe(false);
    leases[1]?.release();
    await flush();
    expect(fourth.value?.connection).toBe(leases[0]?.connection);
    for (const l of [leases[0], leases[2], fourth.value]) l?.release();
    expect(h.pool.stats()).toMatchObject({ size: 1, busy: 0, idle: 1 });
  });

  it('opens one connection per maxStreamsPerConnection waiters, not one each', async () => {
    const h = harness({ maxStreamsPerConnection: 4, maxConnectionsPerOrigin: 5 });
    const leases = await Promise.all(Array.from({ length: 8 }, () => h.pool.acquire(A)));
    expect(h.connect).toHaveBeenCalledTimes(2);
    expect(new Set(leases.map((l) => l.connection)).size).toBe(2);
  });

  it('keeps at most maxIdlePerOrigin idle connections, closing the longest idle', async () => {
    const h = harness({ maxIdlePerOrigin: 1 });
    const [l1, l2, l3] = (await Promise.all([
      h.pool.acquire(A),
      h.pool.acquire(A),
      h.pool.acquire(A),
    ])) as [PoolLease, PoolLease, PoolLease];
    l1.release();
    l2.release();
    l3.release();
    expect(h.pool.stats()).toMatchObject({ size: 1, idle: 1 });
    await flush();
    expect(l1.connection.closed && l2.connection.closed).toBe(true);
    expect((await h.pool.acquire(A)).connection).toBe(l3.connection);
  });

  it('a connect failure rejects that acquire and frees the slot for the next one', async () => {
    const h = harness({ maxConnectionsPerOrigin: 1 });
    h.plan.push('fail');
    const first = track(h.pool.acquire(A));
    const second = track(h.pool.acquire(A));
    await flush();
    expect(first.error?.code).toBe('GN_ERR_CONNECT');
    expect((first.error?.cause as Error).message).toMatch(/ECONNREFUSED/);
    expect(second.value?.connection).toBeDefined();
    expect(h.connect).toHaveBeenCalledTimes(2);
    expect(h.pool.stats()).toMatchObject({ size: 1, busy: 1, pending: 0, connecting: 0 });
  });

  it('aborts a connect after connectTimeoutMs and frees its slot', async () => {
    const h = harness({ maxConnectionsPerOrigin: 1, connectTimeoutMs: 500 });
    h.plan.push('hang');
    const first = track(h.pool.acquire(A));
    await vi.advanceTimersByTimeAsync(500);
    expect(first.error?.code).toBe('GN_ERR_CONNECT_TIMEOUT');
    expect(h.signals[0]?.aborted).toBe(true);
    expect(h.pool.stats()).toMatchObject({ connecting: 0, pending: 0 });
    const second = await h.pool.acquire(A);
    expect(second.connection.closed).toBe(false);
  });

  it('keeps origins independent', async () => {
    const h = harness({ maxConnectionsPerOrigin: 1 });
    const a = await h.pool.acquire(A);
    const waitingA = track(h.pool.acquire(A));
    const b = await h.pool.acquire(B);
    const h2 = await h.pool.acquire({ ...A, alpn: 'h2' });
    expect(b.connection).not.toBe(a.connection);
    expect(h2.connection).not.toBe(a.connection);
    const stats = h.pool.stats();
    expect(stats.origins[originKey(A)]).toMatchObject({ size: 1, busy: 1, pending: 1 });
    expect(stats.origins[originKey(B)]).toMatchObject({ size: 1, busy: 1, pending: 0 });
    expect(stats).toMatchObject({ size: 3, busy: 3, pending: 1 });
    b.release();
    await flush();
    expect(waitingA.done).toBe(false);
    a.release();
    await flush();
    expect(waitingA.value?.connection).toBe(a.connection);
  });

  it('reports gauges to the observer', async () => {
    const h = harness();
    const l1 = await h.pool.acquire(A);
    await h.pool.acquire(A);
    expect(h.gauges.get('pool_connections:busy')).toBe(2);
    expect(h.gauges.get('pool_connections:idle')).toBe(0);
    l1.release();
    expect(h.gauges.get('pool_connections:busy')).toBe(1);
    expect(h.gauges.get('pool_connections:idle')).toBe(1);
  });

  it('close() rejects waiters, closes idle now, and resolves only after busy leases are released', async () => {
    const h = harness({ maxConnectionsPerOrigin: 1 });
    const busy = await h.pool.acquire(A);
    const idle = await h.pool.acquire(B);
    idle.release();
    const waiter = track(h.pool.acquire(A));
    await flush();
    const closing = track(h.pool.close());
    await flush();
    expect(waiter.error?.code).toBe('GN_ERR_POOL_CLOSED');
    expect(idle.connection.closed).toBe(true);
    expect(busy.connection.closed).toBe(false);
    expect(closing.done).toBe(false);
    await expect(h.pool.acquire(B)).rejects.toMatchObject({ code: 'GN_ERR_POOL_CLOSED' });

    busy.release();
    await flush();
    expect(busy.connection.closed).toBe(true);
    expect(closing.done).toBe(true);
    expect(h.pool.stats()).toMatchObject({ size: 0, closing: 0 });
    await h.pool.close(); // idempotent
  });

  it('destroy() tears down leased connections too and is idempotent', async () => {
    const h = harness();
    const lease = await h.pool.acquire(A);
    const closing = track(h.pool.close());
    h.pool.destroy();
    h.pool.destroy();
    await flush();
    expect(lease.connection.closed).toBe(true);
    expect(closing.done).toBe(true);
    lease.release(); // harmless after destroy
    expect(h.pool.stats()).toMatchObject({ size: 0, busy: 0, idle: 0 });
  });

  it('destroys a connection that arrives after close()', async () => {
    let resolveConnect: ((c: StreamConnection) => void) | undefined;
    const [late] = createMemoryPair();
    const pool = new ConnectionPool({
      connect: () =>
        new Promise<StreamConnection>((resolve) => {
          resolveConnect = resolve;
        }),
    });
    const pending = track(pool.acquire(A));
    await flush();
    const closed = track(pool.close());
    await flush();
    expect(pending.error?.code).toBe('GN_ERR_POOL_CLOSED');
    expect(closed.done).toBe(true);
    resolveConnect?.(late);
    await flush();
    expect(late.closed).toBe(true);
  });

  it('works as a Drainable: stopAccepting refuses work, drain waits for leases', async () => {
    const h = harness({ maxConnectionsPerOrigin: 1 });
    const drainable: Drainable = h.pool;
    expect(drainable.name).toBe('connection-pool');
    const lease = await h.pool.acquire(A);
    const waiter = track(h.pool.acquire(A));
    await drainable.stopAccepting();
    await flush();
    expect(waiter.error?.code).toBe('GN_ERR_POOL_CLOSED');
    expect(lease.connection.closed).toBe(false);
    const drained = track(drainable.drain());
    await flush();
    expect(drained.done).toBe(false);
    lease.release();
    await flush();
    expect(drained.done).toBe(true);
  });
});
