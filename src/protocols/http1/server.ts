/**
 * The HTTP/1.1 server binding: an `Http1ServerConnection` core per transport connection,
 * one timer per connection (rescheduled from `nextTimeout()`), the engine-neutral
 * request/response objects (DESIGN §4) and graceful shutdown through `ConnectionTracker`.
 *
 * Hot path (STYLE §12): the handler runs inside the parser callback; responses ended
 * synchronously are flushed once per received chunk (one writev for a pipelined batch);
 * responses ended later are flushed once per microtask. No timer per request.
 */
import { diagnostics } from '../../monitoring/diagnostics.js';
import type { Logger } from '../../monitoring/logger.js';
import { noopObserver } from '../../monitoring/observer.js';
import type { Observer } from '../../monitoring/observer.js';
import type { TcpServerOptions } from '../../transport/tcp.js';
import type { TlsServerOptions } from '../../transport/tls.js';
import type { StreamConnection } from '../../transport/types.js';
import {
  attachSlotListeners,
  slotListeners,
  type SlotListener,
} from '../../transport/slot-listeners.js';
import { BodyStream } from '../http/body.js';
import { errorResponse } from '../http/error-response.js';
import { RequestAbortedError } from '../http/errors.js';
import type { HeaderList } from '../http/headers.js';
import { ServerRequest } from '../http/request.js';
import { ServerResponse } from '../http/response.js';
import { SessionServer } from '../http/session-server.js';
import type { Handler, HttpRequest, ResponseSink } from '../http/types.js';
import type { Http1Limits } from './limits.js';
import { DateCache } from './serializer.js';
import {
  DEFAULT_MAX_DISCARD_BYTES,
  Http1ConnectionState,
  Http1ServerConnection,
} from './server-connection.js';
import type {
  Http1RequestInfo,
  Http1ServerConnectionHandler,
  Http1ServerTimeouts,
} from './server-connection.js';
import type { Http1ParseError } from './errors.js';
import type { TimeoutError } from '../../errors.js';

/** TLS settings of `listenHttp1` (the TLS part of TlsServerOptions). */
export type Http1TlsOptions = Omit<TlsServerOptions, keyof TcpServerOptions>;

export interface Http1ServerOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 lets the OS choose. @default 0 */
  port?: number;
  /** Serve HTTPS with these certificates. @default undefined (plain TCP) */
  tls?: Http1TlsOptions;
  /** Parser limits (see Http1Limits). */
  limits?: Partial<Http1Limits>;
  /** Header, request and keep-alive deadlines (see Http1ServerTimeouts). */
  timeouts?: Partial<Http1ServerTimeouts>;
  /** Simultaneous connections. @default 10000 */
  maxConnections?: number;
  /** Transport write buffer above which responses see backpressure. @default 65536 */
  highWaterMark?: number;
  /** Request body bytes buffered before the socket is paused. @default 65536 */
  bodyHighWaterMark?: number;
  /** Limit of `req.bytes()/text()/json()`. @default 1048576 */
  bodyLimit?: number;
  /** Unread request body read and dropped to keep a connection. @default 65536 */
  maxDiscardBytes?: number;
  /** Listen backlog. @default 511 */
  backlog?: number;
  /**
   * Upgrade and CONNECT hook (WebSocket). It receives the request, the transport
   * connection (now owned by the hook, which also closes it on shutdown: the HTTP server
   * stops tracking it) and the bytes that followed the head. Without it,
   * Upgrade is ignored and CONNECT is answered 501.
   */
  onUpgrade?: (req: HttpRequest, conn: StreamConnection, head: Uint8Array) => void;
  /**
   * Which Upgrade/CONNECT requests go to `onUpgrade`; the others are served as ordinary
   * requests (RFC 9110 §7.8: a server may ignore Upgrade). Sees the method and headers.
   * @default every one, when onUpgrade is set
   */
  shouldUpgrade?: (method: string, headers: HeaderList) => boolean;
  /** @default noopObserver */
  observer?: Observer;
  logger?: Logger;
}

const EMPTY = new Uint8Array(0);

/** Per-request state: the request, the response and the sink bridging it to the core. */
class Exchange implements ResponseSink {
  readonly session: Session;
  readonly info: Http1RequestInfo;
  readonly req: ServerRequest;
  readonly res: ServerResponse;
  readonly body: BodyStream;
  /** performance.now() at the head, only when an observer wants durations (else 0). */
  readonly started: number;
  #drain: (() => void) | undefined = undefined;
  needDrain = false;
  done = false;

  constructor(session: Session, info: Http1RequestInfo) {
    this.session = session;
    this.info = info;
    const s = session.server;
    // A clock read per request is measurable on the hot path: only when somebody listens.
    this.started = s.observing ? performance.now() : 0;
    this.body = info.hasBody
      ? new BodyStream({
          highWaterMark: s.bodyHighWaterMark,
          limit: s.bodyLimit,
          ...(info.contentLength >= 0 ? { expectedLength: info.contentLength } : {}),
          onPull: session.onBodyPull,
          ...(info.expectContinue ? { onFirstRead: () => session.sendContinue(info) } : {}),
        })
      : BodyStream.empty();
    const conn = session.conn;
    this.req = new ServerRequest({
      method: info.method,
      target: info.target,
      headers: info.headers,
      protocol: info.versionMinor === 0 ? 'http/1.0' : 'http/1.1',
      scheme: s.scheme,
      authority: info.host,
      remoteAddress: conn.remoteAddress,
      localAddress: conn.localAddress,
      body: this.body,
    });
    this.res = new ServerResponse(this, { request: this.req });
  }

  // ── ResponseSink ──
  get supportsTrailers(): boolean {
    return this.info.versionMinor >= 1;
  }

  get bufferedAmount(): number {
    const core = this.session.core;
    const n = core.bufferedAmount(this.info);
    return core.isActive(this.info) ? n + this.session.conn.bufferedAmount : n;
  }

  writeHead(status: number, reason: string | undefined, headers: HeaderList, end: boolean): void {
    this.session.core.writeHead(this.info, status, reason, headers, end);
    this.session.scheduleFlush();
  }

  writeBody(chunk: Uint8Array, end: boolean): boolean {
    this.session.core.writeBody(this.info, chunk, end);
    this.session.scheduleFlush();
    if (end) return true;
    if (this.bufferedAmount < this.session.server.highWaterMark) return true;
    if (!this.needDrain) {
      this.needDrain = true;
      this.session.drainList.push(this);
    }
    return false;
  }

  writeTrailers(trailers: HeaderList): void {
    this.session.core.writeTrailers(this.info, trailers);
    this.session.scheduleFlush();
  }

  writeInformational(status: number, headers: HeaderList): void {
    this.session.core.writeInformational(this.info, status, headers);
    this.session.scheduleFlush();
  }

  onDrain(listener: () => void): void {
    this.#drain = listener;
  }

  abort(): void {
    this.session.core.abort(this.info);
    this.session.scheduleFlush();
  }

  // ── binding side ──
  fireDrain(): void {
    this.needDrain = false;
    this.#drain?.();
  }

  abortSignal(reason: Error): void {
    ServerRequest.abort(this.req, reason);
  }

  /** The handler threw or rejected: answer with its status if nothing was sent, else abort. */
  fail(err: unknown): void {
    const s = this.session.server;
    if (this.info.responseEnded) return;
    if (this.info.headSent) {
      s.logger?.warn({ err, conn: this.session.conn.id }, 'http1 handler failed mid-response');
      this.res.abort(err instanceof Error ? err : undefined);
      return;
    }
    const { status, headers, body: bytes, unexpected } = errorResponse(err);
    if (unexpected) s.logger?.error({ err, conn: this.session.conn.id }, 'http1 handler failed');
    try {
      this.session.core.writeHead(this.info, status, undefined, headers, false);
      this.session.core.writeBody(this.info, bytes, true);
    } catch {
      this.session.core.abort(this.info);
    }
    this.session.scheduleFlush();
  }
}

/** The transport's slot pointing back to its Session (see CONN_LISTENERS). */
const SESSION = Symbol('ghostnet.http1Session');
type SessionConnection = StreamConnection & { [SESSION]?: Session };

/** The transport listeners, shared by every session (see transport/slot-listeners.ts). */
let CONN_LISTENERS: Readonly<Record<'data' | 'end' | 'drain' | 'close' | 'error', SlotListener>>;

/** One transport connection and its core. */
class Session implements Http1ServerConnectionHandler {
  readonly server: Http1Server;
  readonly conn: StreamConnection;
  readonly core: Http1ServerConnection;
  readonly drainList: Exchange[] = [];
  #timer: NodeJS.Timeout | undefined = undefined;
  #timerAt = 0;
  #inIo = false;
  #flushScheduled = false;
  #bodyPaused = false;
  #writeBlocked = false;
  #paused = false;
  #busy = false;
  #closed = false;
  #handedOver = false;

  constructor(server: Http1Server, conn: StreamConnection, initial: Uint8Array | undefined) {
    this.server = server;
    this.conn = conn;
    this.core = new Http1ServerConnection(this, Date.now(), server.coreOptions);
    attachSlotListeners(conn, SESSION, this, CONN_LISTENERS);
    if (initial !== undefined && initial.length > 0) this.#handleData(initial);
    else this.#afterIo();
  }

  // ── transport events ──
  static {
    CONN_LISTENERS = slotListeners<Session, 'data' | 'end' | 'drain' | 'close' | 'error'>(SESSION, {
      data: (session, chunk: Uint8Array) => session.#handleData(chunk),
      end: (session) => session.#handleEnd(),
      drain: (session) => session.#handleDrain(),
      close: (session) => session.#handleClose(),
      error: (session, err: Error) => session.#handleError(err),
    });
  }

  #handleData(chunk: Uint8Array): void {
    this.#inIo = true;
    try {
      this.core.receive(chunk, Date.now());
    } finally {
      this.#inIo = false;
    }
    this.#afterIo();
  }

  #handleEnd(): void {
    // As node:http does: a client that half-closes with requests in flight has gone away
    // (their signals abort); with none in flight the connection just closes.
    if (this.core.inFlight > 0) {
      this.conn.destroy();
      return;
    }
    this.core.receiveEnd(Date.now());
    this.#afterIo();
  }

  #handleDrain(): void {
    this.#writeBlocked = false;
    this.#afterIo();
  }

  #handleError(err: Error): void {
    this.server.logger?.debug({ err, conn: this.conn.id }, 'http1 connection error');
  }

  #handleClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearTimer();
    this.server.sessions.delete(this);
    if (this.#handedOver) return;
    // The requests still in the core's queue are exactly those whose onResponseDone has not
    // run (no per-request Set on the hot path).
    const live = this.core.inFlightRequests();
    if (live.length === 0) return;
    const err = new RequestAbortedError('The connection closed before the response ended');
    for (const info of live) {
      const ex = info.context as Exchange | undefined;
      if (ex === undefined || ex.done) continue;
      ex.body.fail(err);
      ex.abortSignal(err);
    }
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.core.handleTimeout(Date.now());
    this.#afterIo();
  };

  /** The microtask of `scheduleFlush`, made on first use. */
  #flush: (() => void) | undefined;

  readonly onBodyPull = (): void => {
    if (this.#bodyPaused) {
      this.#bodyPaused = false;
      this.#updatePause();
    }
  };

  sendContinue(info: Http1RequestInfo): void {
    this.core.sendContinue(info);
    this.scheduleFlush();
  }

  scheduleFlush(): void {
    if (this.#inIo || this.#flushScheduled) return;
    this.#flushScheduled = true;
    this.#flush ??= () => {
      this.#flushScheduled = false;
      this.#afterIo();
    };
    queueMicrotask(this.#flush);
  }

  shutdown(): void {
    this.core.shutdown();
    this.#afterIo();
  }

  // ── core events ──
  onRequest(info: Http1RequestInfo): void {
    const ex = new Exchange(this, info);
    info.context = ex;
    if (diagnostics.httpRequestStart.hasSubscribers) {
      diagnostics.httpRequestStart.publish({ request: ex.req });
    }
    if (!this.#busy) {
      this.#busy = true;
      this.server.tracker.markBusy(this.conn);
    }
    try {
      const r = this.server.handler(ex.req, ex.res);
      // A closure only for asynchronous handlers (STYLE §12: none per synchronous request).
      if (r !== undefined && typeof (r as Promise<void>).then === 'function') {
        (r as Promise<void>).then(undefined, (err: unknown) => ex.fail(err));
      }
    } catch (err) {
      ex.fail(err);
    }
  }

  onBody(info: Http1RequestInfo, chunk: Uint8Array): void {
    const ex = info.context as Exchange;
    if (!ex.body.push(chunk) && !this.#bodyPaused && !info.responseEnded) {
      this.#bodyPaused = true;
      this.#updatePause();
    }
  }

  onBodyEnd(info: Http1RequestInfo, trailers: HeaderList | undefined): void {
    (info.context as Exchange).body.end(trailers);
  }

  onBodyError(info: Http1RequestInfo, err: Error): void {
    (info.context as Exchange | undefined)?.body.fail(err);
  }

  onResponseDone(info: Http1RequestInfo): void {
    const ex = info.context as Exchange | undefined;
    if (ex === undefined || ex.done) return;
    ex.done = true;
    const server = this.server;
    if (diagnostics.httpRequestFinish.hasSubscribers) {
      diagnostics.httpRequestFinish.publish({
        request: ex.req,
        outcome: info.aborted ? 'aborted' : String(info.status),
      });
    }
    if (server.observing) {
      server.observer.requestFinished(
        'http1',
        info.method,
        info.aborted ? 'aborted' : String(info.status),
        (performance.now() - ex.started) / 1000,
      );
    }
    if (info.aborted) {
      const err = new RequestAbortedError('The response was abandoned');
      ex.abortSignal(err);
      ex.body.fail(err);
    }
    // The rest of an unread body is discarded by the core: keep reading.
    if (this.#bodyPaused && !info.bodyComplete) this.#bodyPaused = false;
  }

  onUpgrade(): void {
    // Handed over in #afterIo once earlier responses are written.
  }

  onProtocolError(err: Http1ParseError | TimeoutError): void {
    this.server.observer.error('http1', err.code);
    this.server.logger?.debug({ err, conn: this.conn.id }, 'http1 protocol error');
  }

  // ── the one place that talks to the transport ──
  #afterIo(): void {
    if (this.#closed || this.#handedOver) return;
    const core = this.core;
    if (core.blocked) core.resumeInput(Date.now());
    const out = core.takeOutput();
    if (out.length > 0 && this.conn.writable) {
      const ok = out.length === 1 ? this.conn.write(out[0]!) : this.conn.writev(out);
      if (!ok) this.#writeBlocked = true;
    }
    if (this.drainList.length > 0 && !this.#writeBlocked) this.#wakeDrains();
    const inFlight = core.inFlight;
    if (this.#busy && inFlight === 0) {
      this.#busy = false;
      this.server.tracker.markIdle(this.conn);
    }
    switch (core.state) {
      case Http1ConnectionState.CLOSING:
        this.#clearTimer();
        this.conn.close();
        return;
      case Http1ConnectionState.DESTROY:
        this.#clearTimer();
        this.conn.destroy();
        return;
      case Http1ConnectionState.UPGRADED:
        this.#handOver();
        return;
    }
    this.#updatePause();
    this.#schedule();
  }

  #wakeDrains(): void {
    // Called only when the transport accepted everything without asking for a drain: the
    // active response is writable again once the core holds nothing of it.
    const core = this.core;
    const list = this.drainList;
    for (let i = 0; i < list.length;) {
      const ex = list[i]!;
      if (ex.info.responseEnded || (core.isActive(ex.info) && core.bufferedAmount(ex.info) === 0)) {
        list.splice(i, 1);
        ex.fireDrain();
      } else i++;
    }
  }

  #updatePause(): void {
    const want = this.#bodyPaused || this.#writeBlocked || this.core.blocked;
    if (want === this.#paused) return;
    this.#paused = want;
    if (want) this.conn.pause();
    else this.conn.resume();
  }

  #schedule(): void {
    const t = this.core.nextTimeout();
    if (t === undefined) return; // a pending timer that fires early is harmless
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

  #handOver(): void {
    this.#clearTimer();
    const hook = this.server.onUpgrade;
    const info = this.core.upgradeRequest;
    if (hook === undefined || info === null) {
      this.conn.destroy();
      return;
    }
    this.#handedOver = true;
    this.#busy = false;
    // The connection now belongs to the upgrade hook (e.g. a WebSocket server with its own
    // drain): the HTTP server's shutdown must not close it under that protocol's feet.
    this.server.tracker.untrack(this.conn);
    const on = CONN_LISTENERS;
    this.conn.off('data', on.data);
    this.conn.off('end', on.end);
    this.conn.off('drain', on.drain);
    this.conn.off('error', on.error);
    // Let go of this session (parser, connection core, exchanges) for the rest of the
    // connection's life: nothing HTTP happens on it any more, and a long-lived WebSocket
    // would otherwise keep them all (~2 KB per connection).
    this.conn.off('close', on.close);
    (this.conn as SessionConnection)[SESSION] = undefined;
    this.#closed = true;
    this.server.sessions.delete(this);
    if (this.#paused) {
      this.#paused = false;
      this.conn.resume();
    }
    const body = BodyStream.empty();
    const req = new ServerRequest({
      method: info.method,
      target: info.target,
      headers: info.headers,
      protocol: info.versionMinor === 0 ? 'http/1.0' : 'http/1.1',
      scheme: this.server.scheme,
      authority: info.host,
      remoteAddress: this.conn.remoteAddress,
      localAddress: this.conn.localAddress,
      body,
    });
    try {
      hook(req, this.conn, this.core.upgradeRest ?? EMPTY);
    } catch (err) {
      this.server.logger?.error({ err, conn: this.conn.id }, 'http1 upgrade hook failed');
      this.conn.destroy();
    }
  }
}

/** An HTTP/1.1 server: accepts transport connections and serves `handler` on them. */
export class Http1Server extends SessionServer<Session> {
  readonly handler: Handler;
  readonly observer: Observer;
  /** An observer other than the no-op one is installed (request timing is then measured). */
  readonly observing: boolean;
  readonly logger: Logger | undefined;
  readonly highWaterMark: number;
  readonly bodyHighWaterMark: number;
  readonly bodyLimit: number;
  readonly onUpgrade: Http1ServerOptions['onUpgrade'];
  readonly coreOptions: ConstructorParameters<typeof Http1ServerConnection>[2];
  readonly options: Readonly<Http1ServerOptions>;

  constructor(handler: Handler, options: Http1ServerOptions = {}) {
    super('http1');
    this.handler = handler;
    this.options = options;
    this.observer = options.observer ?? noopObserver;
    this.observing = this.observer !== noopObserver;
    this.logger = options.logger;
    this.highWaterMark = options.highWaterMark ?? 64 * 1024;
    this.bodyHighWaterMark = options.bodyHighWaterMark ?? 64 * 1024;
    this.bodyLimit = options.bodyLimit ?? 1024 * 1024;
    this.onUpgrade = options.onUpgrade;
    this.coreOptions = {
      ...(options.limits !== undefined ? { limits: options.limits } : {}),
      ...(options.timeouts !== undefined ? { timeouts: options.timeouts } : {}),
      maxDiscardBytes: options.maxDiscardBytes ?? DEFAULT_MAX_DISCARD_BYTES,
      upgrades:
        options.onUpgrade === undefined
          ? false
          : options.shouldUpgrade === undefined
            ? true
            : (info: Http1RequestInfo) => options.shouldUpgrade!(info.method, info.headers),
      dateCache: new DateCache(),
    };
    // Validate limits and timeouts now rather than on the first connection.
    new Http1ServerConnection(NOOP_HANDLER, 0, this.coreOptions);
  }

  /**
   * Serve HTTP/1.1 on a connection from any transport (TCP, TLS, memory). `initial` are
   * bytes already read from it (by a server that sniffed for the HTTP/2 preface).
   */
  handleConnection = (conn: StreamConnection, initial?: Uint8Array): void => {
    if (this.admit(conn)) this.sessions.add(new Session(this, conn, initial));
  };

  /** Bind TCP (or TLS when `options.tls`) and start accepting. */
  async listen(): Promise<this> {
    await this.bind({
      ...this.options,
      highWaterMark: this.highWaterMark,
      observer: this.observer,
    });
    return this;
  }
}

const NOOP_HANDLER: Http1ServerConnectionHandler = {
  onRequest() {},
  onBody() {},
  onBodyEnd() {},
  onBodyError() {},
  onResponseDone() {},
  onUpgrade() {},
  onProtocolError() {},
};

/** An HTTP/1.1 server that is not listening yet (`listen()`, or feed `handleConnection`). */
export function createHttp1Server(handler: Handler, options: Http1ServerOptions = {}): Http1Server {
  return new Http1Server(handler, options);
}

/** Listen for HTTP/1.1 (HTTPS with `options.tls`); resolves once bound. */
export function listenHttp1(options: Http1ServerOptions, handler: Handler): Promise<Http1Server> {
  return new Http1Server(handler, options).listen();
}
