/**
 * The HTTP/2 server binding: an `Http2Connection` core per transport connection, one timer
 * per connection (from `nextDeadline()`), the engine-neutral request/response objects
 * (DESIGN §4) and graceful shutdown (GOAWAY, then drain).
 *
 * Entry points: `handleConnection(conn, initial?)` for a connection whose first bytes
 * (the client preface) may already have been read, and `upgradeFromHttp1` for h2c through
 * `Upgrade: h2c` (RFC 7540 §3.2, still how curl asks). `listenHttp2` binds h2c with prior
 * knowledge, or h2 over TLS; `listenHttp` (http-server.ts) serves HTTP/1.1 and HTTP/2 on
 * one port.
 *
 * Hot path: the handler runs inside the core's callback; output is flushed once per
 * received chunk, and once per microtask for responses written later.
 */
import { diagnostics } from '../../monitoring/diagnostics.js';
import type { Logger } from '../../monitoring/logger.js';
import { noopObserver } from '../../monitoring/observer.js';
import type { Observer } from '../../monitoring/observer.js';
import type { TcpServerOptions } from '../../transport/tcp.js';
import type { TlsServerOptions } from '../../transport/tls.js';
import type { StreamConnection } from '../../transport/types.js';
import { BodyStream } from '../http/body.js';
import { errorResponse } from '../http/error-response.js';
import { RequestAbortedError } from '../http/errors.js';
import { HeaderList } from '../http/headers.js';
import { ServerRequest } from '../http/request.js';
import { ServerResponse } from '../http/response.js';
import { SessionServer } from '../http/session-server.js';
import type { Handler, HttpRequest, ResponseSink } from '../http/types.js';
import { DateCache } from '../http1/serializer.js';
import { ErrorCode } from './codes.js';
import { Http2Connection } from './connection.js';
import type { Http2ConnectionHandler } from './connection.js';
import type { Http2ConnectionError } from './errors.js';
import type { RequestFields } from './fields.js';
import type { Http2Limits } from './limits.js';
import { resolveHttp2Limits } from './limits.js';
import type { Http2Stream } from './stream.js';
import { TunnelConnection } from './tunnel.js';

export type Http2TlsOptions = Omit<TlsServerOptions, keyof TcpServerOptions>;

export interface Http2ServerOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** @default 0 */
  port?: number;
  /** Serve h2 over TLS (ALPN "h2"). Without it, h2c with prior knowledge. */
  tls?: Http2TlsOptions;
  /** Protocol limits and the SETTINGS we advertise (see Http2Limits). */
  limits?: Partial<Http2Limits>;
  /** Simultaneous connections. @default 10000 */
  maxConnections?: number;
  /** Transport write buffer above which the server stops producing output. @default 65536 */
  highWaterMark?: number;
  /** Request body bytes buffered per stream before its window is withheld. @default 65536 */
  bodyHighWaterMark?: number;
  /** Limit of `req.bytes()/text()/json()`. @default 1048576 */
  bodyLimit?: number;
  /**
   * A connection with no open stream for this long is closed with GOAWAY(NO_ERROR).
   * @default 120000
   */
  idleTimeoutMs?: number;
  /**
   * Extended CONNECT (RFC 8441) hook: `:protocol` requests (WebSocket over HTTP/2) are
   * handed over with the stream as a byte-stream connection. Without it,
   * SETTINGS_ENABLE_CONNECT_PROTOCOL is not advertised.
   */
  onConnect?: (req: HttpRequest, tunnel: Http2Tunnel) => void;
  /** @default noopObserver */
  observer?: Observer;
  logger?: Logger;
}

/** Response fields that are connection-specific and never sent over HTTP/2 (§8.2.2). */
const DROPPED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);
const EMPTY = new Uint8Array(0);

/** Names and values of a response head: `:status` first, lowercase names (§8.2). */
function responseFields(
  status: number,
  headers: HeaderList,
  date: string | undefined,
): [string[], string[]] {
  const names = [':status'];
  const values = [String(status)];
  const n = headers.size;
  let hasDate = false;
  for (let i = 0; i < n; i++) {
    const name = headers.lowerNameAt(i);
    if (DROPPED.has(name)) continue;
    if (name === 'date') hasDate = true;
    names.push(name);
    values.push(headers.valueAt(i));
  }
  if (!hasDate && date !== undefined) {
    names.push('date');
    values.push(date);
  }
  return [names, values];
}

function trailerFields(trailers: HeaderList): [string[], string[]] {
  const names: string[] = [];
  const values: string[] = [];
  for (let i = 0; i < trailers.size; i++) {
    const name = trailers.lowerNameAt(i);
    if (DROPPED.has(name)) continue;
    names.push(name);
    values.push(trailers.valueAt(i));
  }
  return [names, values];
}

/** One request/response on one stream: the ResponseSink of the shared response. */
class Exchange implements ResponseSink {
  readonly session: Session;
  readonly stream: Http2Stream;
  readonly req: ServerRequest;
  readonly res: ServerResponse;
  readonly body: BodyStream;
  readonly method: string;
  readonly started: number;
  /** Window withheld while the body buffer is full (returned on pull). */
  withheld = 0;
  #drain: (() => void) | undefined = undefined;
  #noBody = false;
  status = 0;
  done = false;

  constructor(session: Session, stream: Http2Stream, head: RequestFields, endStream: boolean) {
    this.session = session;
    this.stream = stream;
    const s = session.server;
    this.started = s.observing ? performance.now() : 0;
    this.method = head.method;
    this.body = endStream
      ? BodyStream.empty()
      : new BodyStream({
          highWaterMark: s.bodyHighWaterMark,
          limit: s.bodyLimit,
          ...(head.contentLength >= 0 ? { expectedLength: head.contentLength } : {}),
          onPull: () => this.#pull(),
        });
    const conn = session.conn;
    this.req = new ServerRequest({
      method: head.method,
      target: head.path ?? head.authority ?? '',
      headers: requestHeaders(head),
      protocol: 'h2',
      scheme: head.scheme === 'https' ? 'https' : head.scheme === 'http' ? 'http' : s.scheme,
      authority: head.authority,
      remoteAddress: conn.remoteAddress,
      localAddress: conn.localAddress,
      body: this.body,
    });
    this.res = new ServerResponse(this, { request: this.req });
  }

  #pull(): void {
    if (this.withheld > 0) {
      const n = this.withheld;
      this.withheld = 0;
      this.session.core.consume(this.stream, n);
      this.session.scheduleFlush();
    }
  }

  // ── ResponseSink ──
  get supportsTrailers(): boolean {
    return true;
  }

  get bufferedAmount(): number {
    return this.session.core.bufferedAmount(this.stream);
  }

  writeHead(status: number, _reason: string | undefined, headers: HeaderList, end: boolean): void {
    this.status = status;
    // HEAD responses and 204/304 carry no content (RFC 9110 §9.3.2, §6.4.1).
    if (this.method === 'HEAD' || status === 204 || status === 304) {
      this.#noBody = true;
      end = true;
    }
    const [names, values] = responseFields(status, headers, this.session.server.date());
    this.session.core.sendHeaders(this.stream, names, values, end);
    if (end) this.#ended();
    this.session.scheduleFlush();
  }

  writeBody(chunk: Uint8Array, end: boolean): boolean {
    if (this.#noBody) return true;
    const ok = this.session.core.sendData(this.stream, chunk, end);
    if (end) this.#ended();
    this.session.scheduleFlush();
    return ok || end;
  }

  writeTrailers(trailers: HeaderList): void {
    if (this.#noBody) return;
    const [names, values] = trailerFields(trailers);
    this.session.core.sendTrailers(this.stream, names, values);
    this.#ended();
    this.session.scheduleFlush();
  }

  writeInformational(status: number, headers: HeaderList): void {
    const [names, values] = responseFields(status, headers, undefined);
    this.session.core.sendHeaders(this.stream, names, values, false);
    this.session.scheduleFlush();
  }

  onDrain(listener: () => void): void {
    this.#drain = listener;
  }

  abort(): void {
    this.session.core.resetStream(this.stream, ErrorCode.INTERNAL_ERROR);
    this.session.scheduleFlush();
  }

  /** The response is complete: an unfinished request body is not needed any more (§8.1). */
  #ended(): void {
    if (!this.body.complete) this.stream.resetWhenSent = true;
  }

  fireDrain(): void {
    this.#drain?.();
  }

  /** The handler threw or rejected: answer with its status if nothing was sent, else reset. */
  fail(err: unknown): void {
    const s = this.session.server;
    if (this.done || this.stream.state === 'closed') return;
    if (this.res.headersSent) {
      s.logger?.warn({ err, conn: this.session.conn.id }, 'h2 handler failed mid-response');
      this.abort();
      return;
    }
    const { status, headers, body: bytes, unexpected } = errorResponse(err);
    if (unexpected) s.logger?.error({ err, conn: this.session.conn.id }, 'h2 handler failed');
    this.writeHead(status, undefined, headers, false);
    this.writeBody(bytes, true);
  }
}

/** §8.2.3: cookie crumbs are joined with "; " before an HTTP/1.1-style application sees them. */
function requestHeaders(head: RequestFields): HeaderList {
  const names = head.names;
  let cookies = 0;
  for (let i = 0; i < names.length; i++) if (names[i] === 'cookie') cookies++;
  if (cookies > 1) {
    const n: string[] = [];
    const v: string[] = [];
    const crumbs: string[] = [];
    for (let i = 0; i < names.length; i++) {
      if (names[i] === 'cookie') {
        if (crumbs.length === 0) {
          n.push('cookie');
          v.push('');
        }
        crumbs.push(head.values[i]!);
      } else {
        n.push(names[i]!);
        v.push(head.values[i]!);
      }
    }
    v[n.indexOf('cookie')] = crumbs.join('; ');
    return HeaderList.fromTrusted(n, n.slice(), v);
  }
  return HeaderList.fromTrusted(names, names.slice(), head.values);
}

/**
 * An extended-CONNECT stream (RFC 8441) as a byte stream: what the WebSocket server runs
 * on instead of a TCP connection.
 */
export interface Http2Tunnel {
  /** Sends the 2xx that accepts the tunnel (or another status that refuses it). */
  respond(status: number, headers?: Record<string, string>): void;
  readonly connection: StreamConnection;
}

/** One transport connection and its core. */
class Session implements Http2ConnectionHandler {
  readonly server: Http2Server;
  readonly conn: StreamConnection;
  readonly core: Http2Connection;
  #timer: NodeJS.Timeout | undefined = undefined;
  #timerAt = 0;
  #inIo = false;
  #flushScheduled = false;
  #writeBlocked = false;
  #paused = false;
  #busy = false;
  #closed = false;
  readonly opened = performance.now();

  constructor(server: Http2Server, conn: StreamConnection) {
    this.server = server;
    this.conn = conn;
    this.core = new Http2Connection('server', this, {
      limits: server.limits,
      now: Date.now(),
    });
    conn.on('data', this.#onData);
    conn.on('end', this.#onEnd);
    conn.on('drain', this.#onDrain);
    conn.on('close', this.#onClose);
    conn.on('error', this.#onError);
    conn.setIdleTimeout(server.idleTimeoutMs);
    server.observer.connectionOpened('h2');
  }

  /** Starts with bytes already read (the preface sniffed by a dual-protocol server). */
  start(initial: Uint8Array | undefined): void {
    if (initial !== undefined && initial.length > 0) this.#onData(initial);
    else this.#afterIo();
  }

  /**
   * h2c Upgrade (RFC 7540 §3.2): the HTTP/1.1 request becomes stream 1, half-closed
   * (remote); our preface follows the 101.
   */
  startUpgraded(fields: RequestFields, settings: Uint8Array, rest: Uint8Array): void {
    const stream = this.core.adoptUpgradeStream(settings);
    // The response on stream 1 waits for the client's connection preface: curl (7.88)
    // fails when more than 32 KiB follow the 101 before it switched protocols.
    this.#upgraded = { stream, fields };
    this.start(rest);
  }

  /** The upgraded request, held until the client's preface arrived. */
  #upgraded: { stream: Http2Stream; fields: RequestFields } | undefined = undefined;

  onSettings(): void {
    const pending = this.#upgraded;
    if (pending === undefined) return;
    this.#upgraded = undefined;
    if (pending.stream.state !== 'closed') this.onRequest(pending.stream, pending.fields, true);
  }

  // ── transport events ──
  readonly #onData = (chunk: Uint8Array): void => {
    this.#inIo = true;
    try {
      this.core.receive(chunk, Date.now());
    } finally {
      this.#inIo = false;
    }
    this.#afterIo();
  };

  readonly #onEnd = (): void => {
    // The client finished sending: whatever is open cannot complete its request.
    this.conn.close();
  };

  readonly #onDrain = (): void => {
    this.#writeBlocked = false;
    this.#afterIo();
  };

  readonly #onError = (err: Error): void => {
    this.server.logger?.debug({ err, conn: this.conn.id }, 'h2 connection error');
  };

  readonly #onClose = (): void => {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearTimer();
    this.server.sessions.delete(this);
    this.server.observer.connectionClosed('h2', (performance.now() - this.opened) / 1000);
    // Every open stream is reset (its request signal aborts, its body fails).
    this.core.goaway(ErrorCode.CANCEL, 'The connection closed before the response ended');
  };

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.core.handleTimeout(Date.now());
    this.#afterIo();
  };

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    this.#afterIo();
  };

  scheduleFlush(): void {
    if (this.#inIo || this.#flushScheduled || this.#closed) return;
    this.#flushScheduled = true;
    queueMicrotask(this.#flush);
  }

  shutdown(): void {
    this.core.shutdown(Date.now());
    this.#afterIo();
  }

  // ── the one place that talks to the transport ──
  #afterIo(): void {
    if (this.#closed) return;
    const core = this.core;
    if (!this.#writeBlocked) {
      const out = core.takeOutput();
      if (out.length > 0 && this.conn.writable) {
        let bytes = 0;
        for (const c of out) bytes += c.length;
        this.server.observer.bytesSent('h2', bytes);
        const ok = out.length === 1 ? this.conn.write(out[0]!) : this.conn.writev(out);
        if (!ok) this.#writeBlocked = true;
      }
    }
    const streams = core.streamCount;
    if (core.dead || core.finished) {
      this.#clearTimer();
      this.conn.close(1000);
      return;
    }
    if (this.#busy !== streams > 0) {
      this.#busy = streams > 0;
      if (this.#busy) {
        this.server.tracker.markBusy(this.conn);
        this.conn.setIdleTimeout(0);
      } else {
        this.server.tracker.markIdle(this.conn);
        this.conn.setIdleTimeout(this.server.idleTimeoutMs);
      }
    }
    // Stop reading while our output is not being taken: the peer must read its answers.
    if (this.#paused !== this.#writeBlocked) {
      this.#paused = this.#writeBlocked;
      if (this.#paused) this.conn.pause();
      else this.conn.resume();
    }
    this.#schedule();
  }

  #schedule(): void {
    const t = this.core.nextDeadline();
    if (t === undefined) return;
    if (this.#timer !== undefined && this.#timerAt <= t) return;
    this.#clearTimer();
    this.#timerAt = t;
    this.#timer = setTimeout(this.#onTimer, Math.max(0, t - Date.now()) + 1);
    this.#timer.unref();
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  // ── core events ──
  onRequest(stream: Http2Stream, head: RequestFields, endStream: boolean): void {
    if (head.protocol !== undefined && this.server.onConnect !== undefined) {
      this.server.openTunnel(this, stream, head);
      return;
    }
    const ex = new Exchange(this, stream, head, endStream);
    stream.context = ex;
    if (diagnostics.httpRequestStart.hasSubscribers) {
      diagnostics.httpRequestStart.publish({ request: ex.req });
    }
    try {
      const r = this.server.handler(ex.req, ex.res);
      if (r !== undefined && typeof (r as Promise<void>).then === 'function') {
        (r as Promise<void>).then(undefined, (err: unknown) => ex.fail(err));
      }
    } catch (err) {
      ex.fail(err);
    }
  }

  onRequestTooLarge(): void {
    this.server.observer.error('h2', 'GN_ERR_H2_HEADER_LIST_TOO_LARGE');
  }

  onData(stream: Http2Stream, chunk: Uint8Array, endStream: boolean): void {
    const ctx = stream.context;
    if (ctx instanceof Exchange) {
      if (chunk.length > 0) {
        if (ctx.body.push(chunk)) this.core.consume(stream, chunk.length);
        else ctx.withheld += chunk.length;
      }
      if (endStream) ctx.body.end();
      return;
    }
    if (ctx instanceof TunnelConnection) ctx.deliver(chunk, endStream);
  }

  onTrailers(stream: Http2Stream, names: string[], values: string[]): void {
    const ctx = stream.context;
    if (ctx instanceof Exchange) ctx.body.end(HeaderList.fromTrusted(names, names.slice(), values));
    else if (ctx instanceof TunnelConnection) ctx.deliver(EMPTY, true);
  }

  onStreamReset(stream: Http2Stream, code: number, _initiator: string, err?: Error): void {
    const ctx = stream.context;
    const reason = err ?? new RequestAbortedError(`The stream was reset (code ${code})`);
    if (ctx instanceof Exchange) {
      if (!ctx.done) {
        ctx.done = true;
        ctx.body.fail(reason);
        ServerRequest.abort(ctx.req, reason);
        this.#finished(ctx, 'aborted');
      }
    } else if (ctx instanceof TunnelConnection) {
      ctx.reset(reason);
    }
  }

  onStreamClose(stream: Http2Stream): void {
    const ctx = stream.context;
    if (ctx instanceof Exchange && !ctx.done) {
      ctx.done = true;
      this.#finished(ctx, String(ctx.status));
    } else if (ctx instanceof TunnelConnection) {
      ctx.onClosed();
    }
  }

  onStreamWritable(stream: Http2Stream): void {
    const ctx = stream.context;
    if (ctx instanceof Exchange) ctx.fireDrain();
    else if (ctx instanceof TunnelConnection) ctx.onWritable();
  }

  onConnectionError(err: Http2ConnectionError): void {
    // The transport closing under us resets the open streams through a local CANCEL; that
    // is not a protocol error worth reporting.
    if (this.#closed) return;
    if (diagnostics.http2ConnectionError.hasSubscribers) {
      diagnostics.http2ConnectionError.publish({ connectionId: this.conn.id, error: err });
    }
    this.server.observer.error('h2', err.code);
    this.server.logger?.debug({ err, conn: this.conn.id }, 'h2 connection error');
  }

  #finished(ex: Exchange, outcome: string): void {
    const server = this.server;
    if (diagnostics.httpRequestFinish.hasSubscribers) {
      diagnostics.httpRequestFinish.publish({ request: ex.req, outcome });
    }
    if (server.observing) {
      server.observer.requestFinished(
        'h2',
        ex.method,
        outcome,
        (performance.now() - ex.started) / 1000,
      );
    }
  }
}

/** An HTTP/2 server: accepts transport connections and serves `handler` on them. */
export class Http2Server extends SessionServer<Session> {
  readonly handler: Handler;
  readonly observer: Observer;
  readonly observing: boolean;
  readonly logger: Logger | undefined;
  readonly limits: Http2Limits;
  readonly highWaterMark: number;
  readonly bodyHighWaterMark: number;
  readonly bodyLimit: number;
  readonly idleTimeoutMs: number;
  readonly onConnect: Http2ServerOptions['onConnect'];
  readonly options: Readonly<Http2ServerOptions>;
  readonly #dates = new DateCache();

  constructor(handler: Handler, options: Http2ServerOptions = {}) {
    super('h2');
    this.handler = handler;
    this.options = options;
    this.observer = options.observer ?? noopObserver;
    this.observing = this.observer !== noopObserver;
    this.logger = options.logger;
    this.onConnect = options.onConnect;
    this.limits = resolveHttp2Limits({
      ...options.limits,
      ...(options.onConnect !== undefined ? { enableConnectProtocol: true } : {}),
    });
    this.highWaterMark = options.highWaterMark ?? 64 * 1024;
    // After push() says "full" the peer may still send what its stream window allows;
    // BodyStream tolerates 4× its high-water mark before calling the engine broken, so the
    // mark must be at least half the window.
    this.bodyHighWaterMark = Math.max(
      options.bodyHighWaterMark ?? 64 * 1024,
      Math.ceil(this.limits.initialWindowSize / 2),
    );
    this.bodyLimit = options.bodyLimit ?? 1024 * 1024;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 120000;
  }

  /** The Date field value, cached per second. */
  date(): string {
    return this.#dates.get(Date.now());
  }

  /**
   * Serve HTTP/2 on a connection from any transport. `initial` are bytes already read
   * from it (the start of the client preface).
   */
  handleConnection = (conn: StreamConnection, initial?: Uint8Array): void => {
    if (!this.admit(conn)) return;
    const session = new Session(this, conn);
    this.sessions.add(session);
    session.start(initial);
  };

  /**
   * h2c through `Upgrade: h2c` (RFC 7540 §3.2): answers 101 on `conn`, then serves HTTP/2
   * with `req` as stream 1. The caller (the HTTP/1.1 server's upgrade hook) checked that
   * the request has no body and carries HTTP2-Settings.
   */
  upgradeFromHttp1(req: HttpRequest, conn: StreamConnection, rest: Uint8Array): void {
    if (this.closing) {
      conn.destroy();
      return;
    }
    conn.write(
      Buffer.from(
        'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n',
        'latin1',
      ),
    );
    this.tracker.track(conn);
    const session = new Session(this, conn);
    this.sessions.add(session);
    const names: string[] = [];
    const values: string[] = [];
    let contentLength = -1;
    for (const [name, value] of req.headers) {
      const lower = name.toLowerCase();
      if (lower === 'host' || lower === 'http2-settings' || DROPPED.has(lower) || lower === 'te')
        continue;
      if (lower === 'content-length') contentLength = Number(value);
      names.push(lower);
      values.push(value);
    }
    const settings = Buffer.from(req.headers.get('http2-settings') ?? '', 'base64url');
    session.startUpgraded(
      {
        method: req.method,
        scheme: this.scheme,
        authority: req.authority,
        path: req.target,
        protocol: undefined,
        names,
        values,
        contentLength,
      },
      settings,
      rest,
    );
  }

  openTunnel(session: Session, stream: Http2Stream, head: RequestFields): void {
    const tunnel = new TunnelConnection(session.core, stream, session.conn, () =>
      session.scheduleFlush(),
    );
    stream.context = tunnel;
    const req = new ServerRequest({
      method: head.method,
      target: head.path ?? '/',
      headers: requestHeaders(head),
      protocol: 'h2',
      scheme: head.scheme === 'https' ? 'https' : 'http',
      authority: head.authority,
      remoteAddress: session.conn.remoteAddress,
      localAddress: session.conn.localAddress,
      body: BodyStream.empty(),
    });
    // The pseudo-header is what the WebSocket server checks instead of Upgrade.
    req.locals[':protocol'] = head.protocol;
    try {
      this.onConnect!(req, tunnel);
    } catch (err) {
      this.logger?.error({ err }, 'h2 CONNECT hook failed');
      session.core.resetStream(stream, ErrorCode.INTERNAL_ERROR);
      session.scheduleFlush();
    }
  }

  /** Bind TCP (h2c prior knowledge) or TLS (ALPN h2). */
  async listen(): Promise<this> {
    await this.bind(
      { ...this.options, highWaterMark: this.highWaterMark, observer: this.observer },
      ['h2'],
    );
    return this;
  }

  /** Begins a graceful shutdown of live sessions without touching the listener. */
  shutdownSessions(): void {
    for (const s of [...this.sessions]) s.shutdown();
  }
}

export function createHttp2Server(handler: Handler, options: Http2ServerOptions = {}): Http2Server {
  return new Http2Server(handler, options);
}

/** Listen for h2c with prior knowledge, or h2 over TLS with `options.tls`. */
export function listenHttp2(options: Http2ServerOptions, handler: Handler): Promise<Http2Server> {
  return new Http2Server(handler, options).listen();
}
