import { createHash, randomBytes } from 'node:crypto';
import { once as onceOrError, type EventEmitter } from 'node:events';
import { createServer as createNetServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { hasCode } from '../../src/errors.js';
import type { Observer } from '../../src/monitoring/observer.js';
import { connectTcp, listenTcp, type TcpServer } from '../../src/transport/tcp.js';
import type { StreamConnection, StreamServer } from '../../src/transport/types.js';

/** Like events.once, but an 'error' event does not reject (we assert on errors ourselves). */
function once(
  emitter: EventEmitter | StreamConnection | StreamServer,
  event: string,
): Promise<unknown[]> {
  if (event === 'error') return onceOrError(emitter as EventEmitter, event);
  return new Promise((resolve) =>
    (emitter as EventEmitter).once(event, (...args: unknown[]) => resolve(args)),
  );
}

const servers: StreamServer[] = [];
const clients: StreamConnection[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(servers.splice(0).map((s) => s.destroy()));
});

async function serve(options: Parameters<typeof listenTcp>[0] = {}): Promise<TcpServer> {
  const server = await listenTcp(options);
  servers.push(server);
  return server;
}

async function dial(
  server: StreamServer,
  extra: { host?: string } = {},
): Promise<StreamConnection> {
  const conn = await connectTcp({ host: extra.host ?? '127.0.0.1', port: server.address.port });
  clients.push(conn);
  return conn;
}

function nextConnection(server: StreamServer): Promise<StreamConnection> {
  return once(server, 'connection').then(([c]) => c as StreamConnection);
}

/** Resolve once the peer ended (FIN) or the connection closed, whichever comes first. */
function endOrClose(conn: StreamConnection): Promise<void> {
  return new Promise((resolve) => {
    conn.once('end', () => resolve());
    conn.once('close', () => resolve());
  });
}

/** Resolve with everything received until the peer ends. */
function readToEnd(conn: StreamConnection): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    conn.on('data', (c) => parts.push(Buffer.from(c)));
    conn.once('end', () => resolve(Buffer.concat(parts)));
    conn.once('close', () => reject(new Error('closed before end')));
  });
}

interface Recorded {
  observer: Observer;
  opened: string[];
  closed: string[];
  received: number;
  sent: number;
  errors: string[];
}

function recordingObserver(): Recorded {
  const r: Recorded = {
    opened: [],
    closed: [],
    received: 0,
    sent: 0,
    errors: [],
    observer: {
      connectionOpened: (p) => r.opened.push(p),
      connectionClosed: (p, d) => {
        expect(d).toBeGreaterThanOrEqual(0);
        r.closed.push(p);
      },
      bytesReceived: (_p, n) => {
        r.received += n;
      },
      bytesSent: (_p, n) => {
        r.sent += n;
      },
      requestFinished: () => {},
      error: (_p, code) => r.errors.push(code),
      gauge: () => {},
    },
  };
  return r;
}

describe('tcp transport', () => {
  it('round-trips bytes with addresses, ids, counters and observer calls', async () => {
    const rec = recordingObserver();
    const server = await serve({ observer: rec.observer });
    expect(server.kind).toBe('tcp');
    expect(server.address.address).toBe('127.0.0.1');
    expect(server.address.port).toBeGreaterThan(0);
    const accepted = nextConnection(server);
    const client = await dial(server);
    const conn = await accepted;
    expect(server.connections.has(conn)).toBe(true);
    expect(client.kind).toBe('tcp');
    expect(client.id).not.toBe(conn.id);
    expect(client.remoteAddress).toEqual(server.address);
    expect(conn.remoteAddress).toEqual(client.localAddress);
    expect(conn.localAddress?.family).toBe('IPv4');
    expect(client.alpnProtocol).toBeUndefined();

    conn.on('data', (chunk) => {
      expect(chunk).toBeInstanceOf(Uint8Array);
      conn.write(chunk);
    });
    conn.on('end', () => conn.end());
    const serverClosed = once(conn, 'close');
    const echoed = readToEnd(client);
    client.write(Buffer.from('hello '));
    client.writev([Buffer.from('over '), Buffer.from('tcp')]);
    client.end();
    expect((await echoed).toString()).toBe('hello over tcp');
    expect(client.bytesWritten).toBe(14);
    expect(client.bytesRead).toBe(14);
    const [hadError] = await serverClosed;
    expect(hadError).toBe(false);
    expect(server.connections.has(conn)).toBe(false);
    expect(rec.opened).toEqual(['tcp']);
    expect(rec.closed).toEqual(['tcp']);
    expect(rec.received).toBe(14);
    expect(rec.sent).toBe(14);
  });

  it('applies backpressure: write returns false while the reader is paused, drain after resume', async () => {
    const server = await serve();
    const accepted = nextConnection(server);
    const client = await connectTcp({
      host: '127.0.0.1',
      port: server.address.port,
      highWaterMark: 16 * 1024,
    });
    clients.push(client);
    const conn = await accepted;
    conn.pause();

    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let written = 0;
    let ok = true;
    // Bounded: loopback kernel buffers are a few MiB; stop at 256 MiB regardless.
    for (let i = 0; ok && i < 4096; i++) {
      ok = client.write(chunk);
      written += chunk.length;
    }
    expect(ok).toBe(false);
    expect(client.bufferedAmount).toBeGreaterThan(16 * 1024);
    // Still false until drained.
    expect(client.write(chunk)).toBe(false);
    written += chunk.length;

    let resumed = false;
    const drained = new Promise<void>((resolve) =>
      client.once('drain', () => {
        expect(resumed).toBe(true);
        resolve();
      }),
    );
    let received = 0;
    conn.on('data', (c) => {
      received += c.byteLength;
    });
    const ended = once(conn, 'end');
    resumed = true;
    conn.resume();
    await drained;
    expect(client.bufferedAmount).toBe(0);
    client.end();
    await ended;
    expect(received).toBe(written);
  });

  it('transfers 64 MiB intact (sha256), honouring backpressure', async () => {
    const server = await serve();
    server.on('connection', (conn) => {
      const hash = createHash('sha256');
      let count = 0;
      conn.on('data', (c) => {
        hash.update(c);
        count += c.byteLength;
      });
      conn.on('end', () => {
        conn.write(Buffer.from(`${count} ${hash.digest('hex')}`));
        conn.end();
      });
    });
    const client = await dial(server);
    const reply = readToEnd(client);
    const sent = createHash('sha256');
    const total = 64 * 1024 * 1024;
    const chunkSize = 1024 * 1024;
    for (let off = 0; off < total; off += chunkSize) {
      const chunk = randomBytes(chunkSize);
      sent.update(chunk);
      if (!client.write(chunk)) await once(client, 'drain');
    }
    client.end();
    expect((await reply).toString()).toBe(`${total} ${sent.digest('hex')}`);
  });

  it('half-closes: the server still replies after receiving end', async () => {
    const server = await serve();
    server.on('connection', (conn) => {
      const parts: Buffer[] = [];
      conn.on('data', (c) => parts.push(Buffer.from(c)));
      conn.on('end', () => {
        expect(conn.writable).toBe(true);
        conn.write(Buffer.from(`got ${Buffer.concat(parts).toString()}`));
        conn.end();
      });
    });
    const client = await dial(server);
    const reply = readToEnd(client);
    client.write(Buffer.from('ping'));
    client.end();
    expect(client.writable).toBe(false);
    expect((await reply).toString()).toBe('got ping');
    const [hadError] = await once(client, 'close');
    expect(hadError).toBe(false);
  });

  it('fires the idle timeout on an idle accepted connection: timeout, error, close(true)', async () => {
    const server = await serve({ idleTimeoutMs: 150 });
    const accepted = nextConnection(server);
    const client = await dial(server);
    const conn = await accepted;
    const events: string[] = [];
    conn.on('timeout', () => events.push('timeout'));
    conn.on('error', (err) =>
      events.push(hasCode(err, 'GN_ERR_IDLE_TIMEOUT') ? 'idle-error' : err.message),
    );
    const [hadError] = await once(conn, 'close');
    expect(hadError).toBe(true);
    expect(events).toEqual(['timeout', 'idle-error']);
    // The client sees the teardown too (a FIN: it is half-open until it ends as well).
    if (!client.closed && !(client as { remoteEnded?: boolean }).remoteEnded) {
      await endOrClose(client);
    }
  });

  it('activity postpones the idle timeout; silence of at least the timeout fires it', async () => {
    const server = await serve({ idleTimeoutMs: 120 });
    const accepted = nextConnection(server);
    const client = await dial(server);
    const conn = await accepted;
    let lastActivity = performance.now();
    conn.on('data', () => (lastActivity = performance.now()));
    // 400 ms of traffic every 40 ms: far past the timeout, and it must not fire.
    for (let i = 0; i < 10; i++) {
      client.write(Buffer.from('x'));
      await new Promise((r) => setTimeout(r, 40));
    }
    expect(conn.closed).toBe(false);
    const [hadError] = await once(conn, 'close');
    const silence = performance.now() - lastActivity;
    expect(hadError).toBe(true);
    expect((conn as { lastError?: Error }).lastError).toMatchObject({
      code: 'GN_ERR_IDLE_TIMEOUT',
    });
    // Never before the timeout (a quarter-timeout check granularity may add up to 25 %).
    expect(silence).toBeGreaterThanOrEqual(120);
    client.destroy();
  });

  it('setIdleTimeout(0) turns the idle timeout off', async () => {
    const server = await serve({ idleTimeoutMs: 60 });
    const accepted = nextConnection(server);
    const client = await dial(server);
    const conn = await accepted;
    conn.setIdleTimeout(0);
    await new Promise((r) => setTimeout(r, 250));
    expect(conn.closed).toBe(false);
    const closed = once(conn, 'close');
    conn.destroy();
    await closed;
    client.destroy();
  });

  it('setIdleTimeout on a client connection', async () => {
    const server = await serve();
    const client = await dial(server);
    const order: string[] = [];
    client.on('timeout', () => order.push('timeout'));
    client.on('error', (e) => order.push((e as { code?: string }).code ?? 'unknown'));
    client.on('close', (hadError) => order.push(`close:${String(hadError)}`));
    client.setIdleTimeout(100);
    await once(client, 'close');
    expect(order).toEqual(['timeout', 'GN_ERR_IDLE_TIMEOUT', 'close:true']);
    expect(() => client.setIdleTimeout(-1)).toThrow(/idleTimeoutMs/);
  });

  it('rejects with GN_ERR_CONNECT when the connection is refused', async () => {
    // Bind then unbind to get a port nothing listens on.
    const probe = await listenTcp();
    const port = probe.address.port;
    await probe.destroy();
    const rec = recordingObserver();
    const err = await connectTcp({ host: '127.0.0.1', port, observer: rec.observer }).catch(
      (e: unknown) => e,
    );
    expect(hasCode(err, 'GN_ERR_CONNECT')).toBe(true);
    expect((err as Error & { cause?: { code?: string } }).cause?.code).toBe('ECONNREFUSED');
    expect(rec.errors).toEqual(['GN_ERR_CONNECT']);
  });

  it('aborts through an AbortSignal, before and during the attempt', async () => {
    const server = await serve();
    const pre = new AbortController();
    pre.abort();
    await expect(
      connectTcp({ host: '127.0.0.1', port: server.address.port, signal: pre.signal }),
    ).rejects.toMatchObject({ code: 'GN_ERR_ABORTED' });

    const during = new AbortController();
    const pending = connectTcp({
      host: '127.0.0.1',
      port: server.address.port,
      signal: during.signal,
    });
    during.abort(new Error('user gave up'));
    const err = await pending.catch((e: unknown) => e);
    expect(hasCode(err, 'GN_ERR_ABORTED')).toBe(true);
    expect((err as { cause?: Error }).cause?.message).toBe('user gave up');
  });

  it('round-trips over IPv6 on ::1', async () => {
    const probe = createNetServer();
    const hasV6 = await new Promise<boolean>((resolve) => {
      probe.once('error', () => resolve(false));
      probe.listen(0, '::1', () => probe.close(() => resolve(true)));
    });
    if (!hasV6) {
      console.warn('tcp IPv6 test: ::1 is not available on this machine; nothing to check');
      return;
    }
    const server = await serve({ host: '::1' });
    expect(server.address).toMatchObject({ address: '::1', family: 'IPv6' });
    server.on('connection', (conn) => {
      conn.on('data', (c) => conn.write(c));
      conn.on('end', () => conn.end());
    });
    const client = await dial(server, { host: '::1' });
    expect(client.remoteAddress).toMatchObject({ address: '::1', family: 'IPv6' });
    expect(client.localAddress?.family).toBe('IPv6');
    const reply = readToEnd(client);
    client.write(Buffer.from('v6'));
    client.end();
    expect((await reply).toString()).toBe('v6');
  });

  it('enforces maxConnections', async () => {
    const rec = recordingObserver();
    const server = await serve({ maxConnections: 2, observer: rec.observer });
    const accepted: StreamConnection[] = [];
    server.on('connection', (c) => {
      accepted.push(c);
      // allowHalfOpen: the server side stays open after the peer's FIN until it ends too.
      c.on('end', () => c.end());
    });
    const two = new Promise<void>((resolve) => {
      const check = (): void => {
        if (accepted.length === 2) {
          server.off('connection', check);
          resolve();
        }
      };
      server.on('connection', check);
    });
    const a = await dial(server);
    await dial(server);
    await two;

    const c = await dial(server);
    // The kernel accepted it; the server closes it at once (FIN or reset).
    await endOrClose(c);
    expect(accepted).toHaveLength(2);
    expect(server.connections.size).toBe(2);
    expect(rec.errors).toContain('GN_ERR_MAX_CONNECTIONS');

    // Freeing a slot admits a new connection.
    const serverSideA = accepted.find((s) => s.remoteAddress?.port === a.localAddress?.port);
    expect(serverSideA).toBeDefined();
    const freed = once(serverSideA as StreamConnection, 'close');
    a.destroy();
    await freed;
    const third = nextConnection(server);
    await dial(server);
    await third;
    expect(server.connections.size).toBe(2);
  });

  it('throws WriteAfterEndError, destroys idempotently and emits close exactly once', async () => {
    const server = await serve();
    const client = await dial(server);
    let closes = 0;
    client.on('close', () => {
      closes++;
    });
    client.end();
    expect(() => client.write(Buffer.from('x'))).toThrow(
      expect.objectContaining({ code: 'GN_ERR_WRITE_AFTER_END' }),
    );
    expect(() => client.writev([Buffer.from('x')])).toThrow(/write after end/);
    client.destroy();
    client.destroy();
    await once(client, 'close');
    client.destroy();
    client.close();
    await new Promise((r) => setImmediate(r));
    expect(closes).toBe(1);
    expect(client.closed).toBe(true);
    expect(client.writable).toBe(false);
  });

  it('destroy(err) surfaces the error then close(true)', async () => {
    const server = await serve();
    const client = await dial(server);
    const seen: string[] = [];
    client.on('error', (e) => seen.push(e.message));
    client.on('close', (hadError) => seen.push(`close:${String(hadError)}`));
    client.destroy(new Error('boom'));
    await once(client, 'close');
    expect(seen).toEqual(['boom', 'close:true']);
  });

  it('close(graceMs) destroys after the grace period when the peer never ends', async () => {
    const server = await serve();
    const accepted = nextConnection(server);
    const client = await dial(server);
    const conn = await accepted;
    const peerEnded = once(conn, 'end');
    client.close(100);
    await peerEnded; // the FIN went out first
    const [hadError] = await once(client, 'close');
    expect(hadError).toBe(false);
  });

  it('close() completes as soon as the peer ends too', async () => {
    const server = await serve();
    server.on('connection', (conn) => conn.on('end', () => conn.end()));
    const client = await dial(server);
    client.resume();
    client.close(60_000);
    const [hadError] = await once(client, 'close');
    expect(hadError).toBe(false);
  });

  it('stopAccepting unbinds and keeps live connections; destroy tears them down', async () => {
    const server = await serve();
    const accepted = nextConnection(server);
    const client = await dial(server);
    const conn = await accepted;
    await server.stopAccepting();
    expect(server.listening).toBe(false);
    await expect(
      connectTcp({ host: '127.0.0.1', port: server.address.port }),
    ).rejects.toMatchObject({ code: 'GN_ERR_CONNECT' });
    // The live connection still works.
    const got = once(conn, 'data');
    client.write(Buffer.from('still here'));
    expect(Buffer.from((await got)[0] as Uint8Array).toString()).toBe('still here');

    // allowHalfOpen: the client only closes once it ends its side too.
    client.on('end', () => client.end());
    const closed = once(client, 'close');
    const serverClosed = once(server, 'close');
    await server.destroy();
    await server.destroy();
    await closed;
    await serverClosed;
    expect(conn.closed).toBe(true);
    expect(server.connections.size).toBe(0);
  });

  it('validates options and reports bind failures', async () => {
    await expect(listenTcp({ port: 70000 })).rejects.toMatchObject({
      code: 'GN_ERR_INVALID_OPTION',
    });
    await expect(listenTcp({ maxConnections: 0 })).rejects.toMatchObject({
      code: 'GN_ERR_INVALID_OPTION',
    });
    await expect(connectTcp({ host: '', port: 1 })).rejects.toMatchObject({
      code: 'GN_ERR_INVALID_OPTION',
    });
    await expect(
      connectTcp({ host: '127.0.0.1', port: 1, connectTimeoutMs: Number.POSITIVE_INFINITY }),
    ).rejects.toMatchObject({ code: 'GN_ERR_INVALID_OPTION' });
    const server = await serve();
    await expect(listenTcp({ port: server.address.port })).rejects.toMatchObject({
      code: 'GN_ERR_BIND',
    });
  });
});
