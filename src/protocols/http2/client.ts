/**
 * The HTTP/2 client binding (STYLE §8: client → pool → connection): requests to one origin
 * share a multiplexed connection leased from a `ConnectionPool` whose
 * `maxStreamsPerConnection` is the stream limit, so a second connection opens only when
 * the first is full. https origins negotiate "h2" through TLS ALPN; http origins use h2c
 * with prior knowledge (RFC 9113 §3.3).
 *
 * - Bodies stream both ways under flow control: request bodies wait for `sendData`'s
 *   backpressure; response bodies withhold WINDOW_UPDATE while the consumer lags.
 * - GOAWAY: requests the server did not process (stream id above last-stream-id, or
 *   REFUSED_STREAM) are retried on another connection, up to `maxRetries` times.
 * - Liveness: a connection with nothing received for `pingIntervalMs` is PINGed; no ACK
 *   within `pingTimeoutMs` destroys it and fails its requests.
 */
import { AbortError, GhostnetError, InvalidOptionError, TimeoutError } from '../../errors.js';
import type { Observer } from '../../monitoring/observer.js';
import { ConnectionClosedError } from '../../transport/errors.js';
import { ConnectionPool } from '../../transport/pool.js';
import type { Origin, PoolLease, PoolOptions, PoolStats } from '../../transport/pool.js';
import { connectTcp } from '../../transport/tcp.js';
import { connectTls } from '../../transport/tls.js';
import type { TlsCaInput } from '../../transport/tls.js';
import type { StreamConnection } from '../../transport/types.js';
import { BodyStream } from '../http/body.js';
import { ClientResponse } from '../http/client-response.js';
import { HeaderList } from '../http/headers.js';
import type { HeaderInit } from '../http/headers.js';
import { ErrorCode, errorCodeName } from './codes.js';
import { Http2Connection, initialSettings, settingsPayload } from './connection.js';
import type { Http2ConnectionHandler } from './connection.js';
import type { Http2ConnectionError } from './errors.js';
import type { ResponseFields } from './fields.js';
import { DEFAULT_HTTP2_LIMITS, resolveHttp2Limits } from './limits.js';
import type { Http2Limits } from './limits.js';
import type { Http2Stream } from './stream.js';

export type Http2RequestBody = Uint8Array | string | AsyncIterable<Uint8Array>;

export interface Http2RequestOptions {
  url: string | URL;
  /** @default 'GET' */
  method?: string;
  headers?: HeaderInit;
  body?: Http2RequestBody;
  /** Trailer fields sent after the body. */
  trailers?: HeaderInit;
  signal?: AbortSignal;
  /** Milliseconds from sending the request to its response head. @default client's headersTimeoutMs */
  headersTimeoutMs?: number;
}

export interface Http2ClientOptions {
  /** Protocol limits and the SETTINGS we advertise. */
  limits?: Partial<Http2Limits>;
  /** @default 10000 */
  connectTimeoutMs?: number;
  /** @default 300000 */
  headersTimeoutMs?: number;
  /** Response body bytes buffered before the stream's window is withheld. @default 65536 */
  highWaterMark?: number;
  /** Largest body `bytes()`, `text()` and `json()` collect. @default 67108864 */
  maxBodyBytes?: number;
  /** Streams per connection before another connection is opened. @default 100 */
  maxStreamsPerConnection?: number;
  /** Retries of requests the server did not process (GOAWAY, REFUSED_STREAM). @default 3 */
  maxRetries?: number;
  /** PING a connection that received nothing for this long; 0 disables. @default 30000 */
  pingIntervalMs?: number;
  /** Destroy a connection whose PING got no ACK in this long. @default 10000 */
  pingTimeoutMs?: number;
  pool?: Omit<PoolOptions, 'maxStreamsPerConnection' | 'connectTimeoutMs'>;
  tls?: { ca?: TlsCaInput; rejectUnauthorized?: boolean };
  /** Headers added to every request unless it sets them. */
  headers?: HeaderInit;
  /**
   * http:// origins: ask for h2c with an HTTP/1.1 Upgrade (RFC 7540 §3.2, as curl --http2
   * does) instead of prior knowledge. A server that does not answer 101 fails the request
   * with H2NotNegotiatedError (callers fall back to HTTP/1.1).
   * @default false
   */
  h2cUpgrade?: boolean;
}

export interface Http2ClientComponents {
  /** Opens a connection (tests inject memory pipes). @default TCP, or TLS with ALPN h2 */
  connect?: (origin: Origin, signal: AbortSignal) => Promise<StreamConnection>;
  observer?: Observer;
}

/** The server reset the stream or the connection failed. */
export class Http2RequestError extends GhostnetError {
  /** The HTTP/2 error code (RST_STREAM or GOAWAY), when there was one. */
  readonly h2Code: number | undefined;
  /** The server did not process the request: retrying it is safe. */
  readonly unprocessed: boolean;

  constructor(message: string, h2Code: number | undefined, unprocessed: boolean, cause?: unknown) {
    super('GN_ERR_H2_REQUEST_FAILED', message, cause === undefined ? undefined : { cause });
    this.h2Code = h2Code;
    this.unprocessed = unprocessed;
  }
}

/** The server did not agree to speak HTTP/2 (no ALPN h2, or no 101 to an h2c Upgrade). */
export class H2NotNegotiatedError extends GhostnetError {
  constructor(detail: string) {
    super('GN_ERR_H2_NOT_NEGOTIATED', `The server did not agree to HTTP/2 (${detail})`);
  }
}

/** Longest HTTP/1.1 response head read while asking for an h2c Upgrade. */
const MAX_UPGRADE_HEAD = 16 * 1024;

/**
 * h2c through Upgrade (RFC 7540 §3.2): asks with `OPTIONS *` (no body, so nothing has to
 * be replayed), carrying our SETTINGS in HTTP2-Settings (§3.2.1). Resolves with the bytes
 * after a 101 (the start of the server's preface), the connection paused; anything else
 * is H2NotNegotiatedError and the connection is destroyed.
 */
function upgradeToH2c(
  conn: StreamConnection,
  authority: string,
  settings: Uint8Array,
  signal: AbortSignal,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    const done = (err: Error | undefined, rest?: Uint8Array): void => {
      conn.off('data', onData);
      conn.off('close', onClose);
      conn.off('end', onClose);
      signal.removeEventListener('abort', onAbort);
      if (err !== undefined) {
        conn.destroy();
        reject(err);
      } else {
        conn.pause();
        resolve(rest!);
      }
    };
    const onData = (chunk: Uint8Array): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_UPGRADE_HEAD)
          done(new H2NotNegotiatedError('response head too long'));
        return;
      }
      const text = head.subarray(0, end).toString('latin1');
      const statusLine = text.slice(0, text.indexOf('\r\n') >>> 0);
      const upgrade = /\r\nupgrade:[ \t]*h2c[ \t]*(\r\n|$)/i.test(text);
      if (/^HTTP\/1\.1 101 /.test(statusLine + ' ') && upgrade)
        done(undefined, head.subarray(end + 4));
      else done(new H2NotNegotiatedError(`h2c Upgrade answered "${statusLine}"`));
    };
    const onClose = (): void =>
      done(new H2NotNegotiatedError('connection closed during h2c Upgrade'));
    const onAbort = (): void => done(new AbortError('connect aborted', { cause: signal.reason }));
    conn.on('data', onData);
    conn.on('close', onClose);
    conn.on('end', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
    conn.write(
      Buffer.from(
        `OPTIONS * HTTP/1.1\r\nHost: ${authority}\r\nConnection: Upgrade, HTTP2-Settings\r\n` +
          `Upgrade: h2c\r\nHTTP2-Settings: ${Buffer.from(settings).toString('base64url')}\r\n\r\n`,
        'latin1',
      ),
    );
  });
}

const TEXT = new TextEncoder();
/** Connections tried for one request before giving up (each went away or filled up). */
const MAX_LEASE_ATTEMPTS = 8;
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'host',
]);

/** An HTTP/2 response (see ClientResponse). */
export class Http2ClientResponse extends ClientResponse {
  constructor(
    status: number,
    headers: HeaderList,
    url: string,
    informational: { status: number; headers: HeaderList }[],
    body: BodyStream,
    cancel: () => void,
  ) {
    super('2', status, headers, url, informational, body, cancel);
  }
}

/** One request in flight on one stream. */
class Exchange {
  readonly session: Session;
  readonly stream: Http2Stream;
  readonly url: string;
  readonly resolve: (r: Http2ClientResponse) => void;
  readonly reject: (err: Error) => void;
  readonly informational: { status: number; headers: HeaderList }[] = [];
  response: Http2ClientResponse | undefined = undefined;
  body: BodyStream | undefined = undefined;
  withheld = 0;
  writable: (() => void) | undefined = undefined;
  headersTimer: NodeJS.Timeout | undefined = undefined;
  settled = false;

  constructor(
    session: Session,
    stream: Http2Stream,
    url: string,
    resolve: (r: Http2ClientResponse) => void,
    reject: (err: Error) => void,
  ) {
    this.session = session;
    this.stream = stream;
    this.url = url;
    this.resolve = resolve;
    this.reject = reject;
  }

  fail(err: Error): void {
    this.clearTimer();
    if (this.response === undefined) {
      if (!this.settled) {
        this.settled = true;
        this.reject(err);
      }
    } else {
      this.body?.fail(err);
    }
    const w = this.writable;
    this.writable = undefined;
    w?.();
  }

  clearTimer(): void {
    if (this.headersTimer !== undefined) {
      clearTimeout(this.headersTimer);
      this.headersTimer = undefined;
    }
  }
}

/** One connection: its core, its streams, its liveness timer. */
class Session implements Http2ConnectionHandler {
  readonly client: Http2Client;
  readonly conn: StreamConnection;
  readonly core: Http2Connection;
  #flushScheduled = false;
  #inIo = false;
  #writeBlocked = false;
  #closed = false;
  #lastReceive = Date.now();
  #pingSentAt = 0;
  #pingTimer: NodeJS.Timeout | undefined = undefined;
  readonly #closeWaiters: (() => void)[] = [];

  constructor(client: Http2Client, conn: StreamConnection) {
    this.client = client;
    this.conn = conn;
    this.core = new Http2Connection('client', this, {
      ...(client.limits !== undefined ? { limits: client.limits } : {}),
      now: Date.now(),
    });
    conn.on('data', this.#onData);
    conn.on('drain', this.#onDrain);
    conn.on('close', this.#onClose);
    conn.on('end', () => conn.close());
    conn.on('error', () => {});
    const upgraded = client.upgraded.get(conn);
    if (upgraded !== undefined) {
      // h2c Upgrade: stream 1 carries the OPTIONS answer, which nobody awaits.
      client.upgraded.delete(conn);
      this.core.adoptUpgradedRequest();
      this.#onData(upgraded);
      conn.resume();
    }
    if (client.pingIntervalMs > 0) {
      this.#pingTimer = setInterval(
        this.#onPingTimer,
        Math.min(client.pingIntervalMs, client.pingTimeoutMs),
      );
      this.#pingTimer.unref();
    }
    this.flush();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Resolves when one of this connection's streams closed (or the connection did). */
  whenStreamClosed(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#closeWaiters.push(resolve));
  }

  readonly #onData = (chunk: Uint8Array): void => {
    this.#lastReceive = Date.now();
    this.#pingSentAt = 0;
    this.#inIo = true;
    try {
      this.core.receive(chunk, this.#lastReceive);
    } finally {
      this.#inIo = false;
    }
    this.flush();
  };

  readonly #onDrain = (): void => {
    this.#writeBlocked = false;
    this.flush();
  };

  readonly #onClose = (): void => {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#pingTimer !== undefined) clearInterval(this.#pingTimer);
    this.client.sessions.delete(this.conn);
    this.core.goaway(ErrorCode.CANCEL, 'The connection closed');
    for (const w of this.#closeWaiters.splice(0)) w();
  };

  readonly #onPingTimer = (): void => {
    const now = Date.now();
    const c = this.client;
    if (this.#pingSentAt > 0) {
      if (now - this.#pingSentAt >= c.pingTimeoutMs) {
        this.conn.destroy(new ConnectionClosedError(`No PING ACK within ${c.pingTimeoutMs} ms`));
      }
      return;
    }
    if (now - this.#lastReceive >= c.pingIntervalMs) {
      this.#pingSentAt = now;
      const payload = new Uint8Array(8);
      new DataView(payload.buffer).setFloat64(0, now);
      this.core.ping(payload);
      this.flush();
    }
  };

  scheduleFlush(): void {
    if (this.#inIo || this.#flushScheduled || this.#closed) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.flush();
    });
  }

  flush(): void {
    if (this.#closed) return;
    if (!this.#writeBlocked && this.conn.writable) {
      const out = this.core.takeOutput();
      if (out.length > 0) {
        const ok = out.length === 1 ? this.conn.write(out[0]!) : this.conn.writev(out);
        if (!ok) this.#writeBlocked = true;
      }
    }
    if (this.core.dead || this.core.finished) {
      this.conn.close(1000);
    }
  }

  // ── core events ──
  onResponse(stream: Http2Stream, head: ResponseFields, endStream: boolean): void {
    const ex = stream.context as Exchange | undefined;
    if (ex === undefined) return;
    const headers = HeaderList.fromTrusted(head.names, head.names.slice(), head.values);
    if (head.status < 200) {
      ex.informational.push({ status: head.status, headers });
      return;
    }
    ex.clearTimer();
    const body = endStream
      ? BodyStream.empty()
      : new BodyStream({
          highWaterMark: this.client.highWaterMark,
          limit: this.client.maxBodyBytes,
          ...(head.contentLength >= 0 ? { expectedLength: head.contentLength } : {}),
          onPull: () => {
            if (ex.withheld > 0) {
              const n = ex.withheld;
              ex.withheld = 0;
              this.core.consume(stream, n);
              this.scheduleFlush();
            }
          },
        });
    ex.body = body;
    ex.response = new Http2ClientResponse(
      head.status,
      headers,
      ex.url,
      ex.informational,
      body,
      () => {
        this.core.resetStream(stream, ErrorCode.CANCEL);
        this.scheduleFlush();
      },
    );
    ex.settled = true;
    ex.resolve(ex.response);
  }

  onData(stream: Http2Stream, chunk: Uint8Array, endStream: boolean): void {
    const ex = stream.context as Exchange | undefined;
    if (ex?.body === undefined) {
      this.core.consume(stream, chunk.length); // nobody reads it (the h2c Upgrade's answer)
      return;
    }
    if (chunk.length > 0) {
      if (ex.body.push(chunk)) this.core.consume(stream, chunk.length);
      else ex.withheld += chunk.length;
    }
    if (endStream) ex.body.end();
  }

  onTrailers(stream: Http2Stream, names: string[], values: string[]): void {
    const ex = stream.context as Exchange | undefined;
    ex?.body?.end(HeaderList.fromTrusted(names, names.slice(), values));
  }

  onStreamReset(stream: Http2Stream, code: number, initiator: string, err?: Error): void {
    const ex = stream.context as Exchange | undefined;
    if (ex === undefined) return;
    const unprocessed =
      initiator === 'goaway' || (initiator === 'remote' && code === ErrorCode.REFUSED_STREAM);
    ex.fail(
      new Http2RequestError(
        initiator === 'remote'
          ? `The server reset the stream (${errorCodeName(code)})`
          : initiator === 'goaway'
            ? 'The server went away before processing the request'
            : `The stream failed (${errorCodeName(code)}): ${err?.message ?? ''}`,
        code,
        unprocessed,
        err,
      ),
    );
  }

  onStreamClose(stream: Http2Stream): void {
    const ex = stream.context as Exchange | undefined;
    if (ex !== undefined) {
      ex.clearTimer();
      this.client.releaseStream(this);
    }
    for (const w of this.#closeWaiters.splice(0)) w();
  }

  onStreamWritable(stream: Http2Stream): void {
    const ex = stream.context as Exchange | undefined;
    const w = ex?.writable;
    if (ex !== undefined) ex.writable = undefined;
    w?.();
  }

  onConnectionError(err: Http2ConnectionError): void {
    if (this.#closed) return; // the transport closed: streams were cancelled, no protocol error
    this.client.observer?.error('h2', err.code);
  }

  onGoaway(): void {
    // No new streams here (§6.8): new requests go to another connection.
    this.client.retire(this);
    this.scheduleFlush();
  }
}

export class Http2Client {
  readonly sessions = new Map<StreamConnection, Session>();
  /** Connections that switched by h2c Upgrade, with the bytes read after the 101. */
  readonly upgraded = new WeakMap<StreamConnection, Uint8Array>();
  readonly limits: Partial<Http2Limits> | undefined;
  readonly highWaterMark: number;
  readonly maxBodyBytes: number;
  readonly pingIntervalMs: number;
  readonly pingTimeoutMs: number;
  readonly observer: Observer | undefined;
  readonly #pool: ConnectionPool;
  readonly #headersTimeoutMs: number;
  readonly #maxRetries: number;
  readonly #defaultHeaders: HeaderList;
  /** Leases per session, released as streams close. */
  readonly #leases = new Map<Session, PoolLease[]>();

  constructor(components: Http2ClientComponents = {}, options: Http2ClientOptions = {}) {
    const int = (
      name: string,
      v: number | undefined,
      d: number,
      min: number,
      max = 2 ** 31 - 1,
    ): number => {
      if (v === undefined) return d;
      if (!Number.isSafeInteger(v) || v < min || v > max) {
        throw new InvalidOptionError(`${name} must be an integer ≥ ${min}, got ${String(v)}`);
      }
      return v;
    };
    this.limits = options.limits;
    // BodyStream tolerates 4× its mark after signalling "full"; the server may still send a
    // whole stream window then, so the mark is at least half that window.
    this.highWaterMark = Math.max(
      int('highWaterMark', options.highWaterMark, 65536, 1),
      Math.ceil((options.limits?.initialWindowSize ?? DEFAULT_HTTP2_LIMITS.initialWindowSize) / 2),
    );
    this.maxBodyBytes = int(
      'maxBodyBytes',
      options.maxBodyBytes,
      64 * 1024 * 1024,
      0,
      Number.MAX_SAFE_INTEGER,
    );
    this.pingIntervalMs = int('pingIntervalMs', options.pingIntervalMs, 30000, 0);
    this.pingTimeoutMs = int('pingTimeoutMs', options.pingTimeoutMs, 10000, 1);
    this.#headersTimeoutMs = int('headersTimeoutMs', options.headersTimeoutMs, 300000, 1);
    this.#maxRetries = int('maxRetries', options.maxRetries, 3, 0);
    this.observer = components.observer;
    this.#defaultHeaders = new HeaderList(options.headers ?? {});
    const tls = options.tls ?? {};
    const connect =
      components.connect ??
      (async (origin: Origin, signal: AbortSignal): Promise<StreamConnection> => {
        if (origin.scheme === 'https') {
          const conn = await connectTls({
            host: origin.host,
            port: origin.port,
            // http/1.1 offered too, as curl does: a server without h2 then completes the
            // handshake (instead of a no_application_protocol alert) and the caller can fall
            // back on H2NotNegotiatedError.
            alpnProtocols: ['h2', 'http/1.1'],
            signal,
            ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
            ...(tls.rejectUnauthorized !== undefined
              ? { rejectUnauthorized: tls.rejectUnauthorized }
              : {}),
          });
          if (conn.alpnProtocol !== 'h2') {
            conn.destroy();
            throw new H2NotNegotiatedError(`ALPN: ${conn.alpnProtocol ?? 'none'}`);
          }
          return conn;
        }
        const conn = await connectTcp({ host: origin.host, port: origin.port, signal });
        if (options.h2cUpgrade === true) {
          const host = origin.host.includes(':') ? `[${origin.host}]` : origin.host;
          const settings = settingsPayload(
            initialSettings(resolveHttp2Limits(options.limits), 'client'),
          );
          this.upgraded.set(
            conn,
            await upgradeToH2c(conn, `${host}:${origin.port}`, settings, signal),
          );
        }
        return conn;
      });
    this.#pool = new ConnectionPool(
      { connect, ...(components.observer !== undefined ? { observer: components.observer } : {}) },
      {
        maxConnectionsPerOrigin: 4,
        ...options.pool,
        maxStreamsPerConnection: int(
          'maxStreamsPerConnection',
          options.maxStreamsPerConnection,
          100,
          1,
        ),
        connectTimeoutMs: int('connectTimeoutMs', options.connectTimeoutMs, 10000, 1),
        name: 'h2-pool',
      },
    );
  }

  stats(): PoolStats {
    return this.#pool.stats();
  }

  /** Graceful: GOAWAY on idle connections, wait for the busy ones. */
  close(): Promise<void> {
    for (const s of this.sessions.values()) {
      s.core.shutdown(Date.now());
      s.flush();
    }
    return this.#pool.close();
  }

  destroy(): void {
    this.#pool.destroy();
  }

  retire(session: Session): void {
    this.#pool.retire(session.conn);
  }

  releaseStream(session: Session): void {
    const leases = this.#leases.get(session);
    const lease = leases?.pop();
    if (lease === undefined) return;
    if (leases!.length === 0) this.#leases.delete(session);
    // After GOAWAY the streams at or below last-stream-id still complete (§6.8): the
    // session closes the connection itself once the last one is done (flush).
    if (session.closed) lease.destroy();
    else lease.release();
  }

  async request(options: Http2RequestOptions): Promise<Http2ClientResponse> {
    const url = typeof options.url === 'string' ? new URL(options.url) : options.url;
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new InvalidOptionError(`unsupported URL scheme ${url.protocol} (http: or https:)`);
    }
    const method = (options.method ?? 'GET').toUpperCase();
    const headers = new HeaderList(options.headers ?? {});
    for (const [name, value] of this.#defaultHeaders)
      if (!headers.has(name)) headers.append(name, value);
    const body = typeof options.body === 'string' ? TEXT.encode(options.body) : options.body;
    // Only a request whose body can be sent again is retried.
    const replayable = body === undefined || body instanceof Uint8Array;
    let attempt = 0;
    for (;;) {
      try {
        return await this.#attempt(url, method, headers, body, options);
      } catch (err) {
        if (
          err instanceof Http2RequestError &&
          err.unprocessed &&
          replayable &&
          attempt < this.#maxRetries &&
          options.signal?.aborted !== true
        ) {
          attempt++;
          continue;
        }
        throw err;
      }
    }
  }

  async #attempt(
    url: URL,
    method: string,
    headers: HeaderList,
    body: Uint8Array | AsyncIterable<Uint8Array> | undefined,
    options: Http2RequestOptions,
  ): Promise<Http2ClientResponse> {
    const origin: Origin = {
      scheme: url.protocol === 'https:' ? 'https' : 'http',
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80,
      alpn: 'h2',
    };
    const signal = options.signal;
    signal?.throwIfAborted();
    let lease: PoolLease | undefined;
    let session: Session | undefined;
    for (let tries = 0; tries < MAX_LEASE_ATTEMPTS; tries++) {
      lease = await this.#pool.acquire(origin, signal !== undefined ? { signal } : {});
      session = this.sessions.get(lease.connection);
      if (session === undefined) {
        session = new Session(this, lease.connection);
        this.sessions.set(lease.connection, session);
      }
      if (session.core.canOpenStream) break;
      const s = session;
      lease.release();
      lease = undefined;
      session = undefined;
      if (s.core.goingAway || s.core.dead || s.core.streamIdsLeft === 0) {
        // GOAWAY, or stream ids used up (§5.1.1: a new connection is the only way on): the
        // pool stops handing this connection out; its open streams finish on it.
        if (s.core.streamIdsLeft === 0) s.core.goaway();
        this.#pool.retire(s.conn);
        s.flush();
      } else {
        // At the server's MAX_CONCURRENT_STREAMS (lower than maxStreamsPerConnection).
        await s.whenStreamClosed();
      }
    }
    if (lease === undefined || session === undefined) {
      throw new Http2RequestError('No connection could take another stream', undefined, true);
    }
    const list = this.#leases.get(session) ?? [];
    list.push(lease);
    this.#leases.set(session, list);
    const authority = url.port !== '' ? `${url.hostname}:${url.port}` : url.hostname;
    const names = [':method', ':scheme', ':authority', ':path'];
    const values = [method, origin.scheme, authority, `${url.pathname}${url.search}`];
    for (let i = 0; i < headers.size; i++) {
      const name = headers.lowerNameAt(i);
      if (HOP_BY_HOP.has(name)) continue;
      if (name === 'te' && headers.valueAt(i).toLowerCase() !== 'trailers') continue;
      names.push(name);
      values.push(headers.valueAt(i));
    }
    if (body instanceof Uint8Array && !headers.has('content-length')) {
      names.push('content-length');
      values.push(String(body.length));
    }
    const s = session;
    const noBody = body === undefined || (body instanceof Uint8Array && body.length === 0);
    const trailers = options.trailers !== undefined ? new HeaderList(options.trailers) : undefined;
    return new Promise<Http2ClientResponse>((resolve, reject) => {
      let stream: Http2Stream;
      try {
        stream = s.core.request(names, values, noBody && trailers === undefined);
      } catch (err) {
        this.releaseStream(s);
        reject(new Http2RequestError((err as Error).message, undefined, true, err));
        return;
      }
      const ex = new Exchange(s, stream, url.href, resolve, reject);
      stream.context = ex;
      const timeout = options.headersTimeoutMs ?? this.#headersTimeoutMs;
      ex.headersTimer = setTimeout(() => {
        ex.headersTimer = undefined;
        s.core.resetStream(stream, ErrorCode.CANCEL);
        s.scheduleFlush();
        ex.fail(new TimeoutError(`No response headers within ${timeout} ms`));
      }, timeout);
      ex.headersTimer.unref();
      if (signal !== undefined) {
        const onAbort = (): void => {
          s.core.resetStream(stream, ErrorCode.CANCEL);
          s.scheduleFlush();
          ex.fail(new AbortError('The request was aborted', { cause: signal.reason }));
        };
        signal.addEventListener('abort', onAbort, { once: true });
      }
      s.flush();
      if (!noBody || trailers !== undefined) {
        void this.#sendBody(s, ex, body, trailers).catch((err: unknown) => {
          s.core.resetStream(stream, ErrorCode.CANCEL);
          s.scheduleFlush();
          ex.fail(
            err instanceof Error ? err : new Http2RequestError(String(err), undefined, false),
          );
        });
      }
    });
  }

  async #sendBody(
    s: Session,
    ex: Exchange,
    body: Uint8Array | AsyncIterable<Uint8Array> | undefined,
    trailers: HeaderList | undefined,
  ): Promise<void> {
    const stream = ex.stream;
    const write = async (chunk: Uint8Array): Promise<void> => {
      if (stream.state === 'closed')
        throw new Http2RequestError('The stream closed', undefined, false);
      const ok = s.core.sendData(stream, chunk, false);
      s.scheduleFlush();
      if (!ok) await new Promise<void>((resolve) => (ex.writable = resolve));
    };
    if (body instanceof Uint8Array) {
      if (body.length > 0) await write(body);
    } else if (body !== undefined) {
      for await (const chunk of body) {
        if (chunk.length > 0) await write(chunk);
        if (stream.state === 'closed') return;
      }
    }
    if (stream.state === 'closed') return;
    if (trailers !== undefined && trailers.size > 0) {
      const n: string[] = [];
      const v: string[] = [];
      for (let i = 0; i < trailers.size; i++) {
        n.push(trailers.lowerNameAt(i));
        v.push(trailers.valueAt(i));
      }
      s.core.sendTrailers(stream, n, v);
    } else {
      s.core.sendData(stream, new Uint8Array(0), true);
    }
    s.scheduleFlush();
  }
}
