/**
 * The WebSocket server binding on the HTTP/1.1 upgrade path: `createWebSocketUpgrade`
 * returns the `onUpgrade` hook for `listenHttp1`, validates the opening handshake with the
 * core (`validateUpgradeRequest`), answers `101 Switching Protocols` (or the refusal
 * status) on the raw transport and hands a `WebSocket` to the application.
 * `WebSocketServer` adds the set of clients, broadcast and shutdown.
 */
import type { Drainable } from '../../lifecycle/drainable.js';
import { noopObserver } from '../../monitoring/observer.js';
import type { Observer } from '../../monitoring/observer.js';
import type { HeaderList } from '../http/headers.js';
import type { HttpRequest } from '../http/types.js';
import type { Http1ServerOptions } from '../http1/server.js';
import type { StreamConnection } from '../../transport/types.js';
import { InvalidOptionError } from '../../errors.js';
import { broadcast } from './broadcast.js';
import type { BroadcastOptions } from './broadcast.js';
import { CloseCode } from './codes.js';
import { PerMessageDeflate } from './deflate.js';
import type { PerMessageDeflateOptions } from './deflate.js';
import { validateUpgradeRequest } from './handshake.js';
import type { WebSocketLimits } from './limits.js';
import { resolveWebSocketLimits } from './limits.js';
import { checkTextAs, WebSocket } from './socket.js';
import type { WebSocketSocketOptions } from './socket.js';

export interface WebSocketServerOptions extends Omit<WebSocketSocketOptions, 'limits'> {
  /** Picks a subprotocol from the client's offer, or undefined for none. */
  protocols?: (offered: string[]) => string | undefined;
  /** Returns false to refuse the handshake with 403 (RFC 6455 §10.2). */
  checkOrigin?: (origin: string | undefined) => boolean;
  /**
   * permessage-deflate (RFC 7692): true for the defaults, or settings.
   * @default false
   */
  perMessageDeflate?: PerMessageDeflateOptions | boolean;
  /** Receive limits (see WebSocketLimits). */
  limits?: Partial<WebSocketLimits>;
  /**
   * Open WebSockets at once; further handshakes are answered 503.
   * @default 10000
   */
  maxConnections?: number;
  /**
   * How long a refused handshake's response may take to flush before the connection is
   * destroyed (the request head itself is bounded by the HTTP/1.1 server's timeouts).
   * @default 10000
   */
  handshakeTimeoutMs?: number;
  /**
   * The transport's idle timeout once a connection is a WebSocket (ms without a byte in
   * either direction; 0 turns it off). The HTTP server's backstop idle timeout does not
   * carry over: a WebSocket may rightly sit quiet for hours, as with ws and browsers. To
   * find dead peers, set `pingIntervalMs` (a heartbeat, with `pongTimeoutMs`) or this.
   * @default 0
   */
  idleTimeoutMs?: number;
  /** Which upgrade requests this server takes (e.g. a path check); others get 404. */
  shouldHandle?: (req: HttpRequest) => boolean;
  /** @default noopObserver */
  observer?: Observer;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  426: 'Upgrade Required',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

function writeHead(
  conn: StreamConnection,
  status: number,
  reason: string,
  headers: HeaderList | undefined,
  extra: string,
): void {
  let head = `HTTP/1.1 ${status} ${reason}\r\n`;
  if (headers !== undefined) for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
  head += extra + '\r\n';
  conn.write(Buffer.from(head, 'latin1'));
}

/** Answer an upgrade request with an error status and close the connection. */
function refuse(
  conn: StreamConnection,
  status: number,
  message: string,
  headers: HeaderList | undefined,
  graceMs: number,
): void {
  const body = Buffer.from(message + '\n', 'utf8');
  if (conn.writable) {
    writeHead(
      conn,
      status,
      REASONS[status] ?? 'Error',
      headers,
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n`,
    );
    conn.write(body);
  }
  conn.close(graceMs);
}

function deflateOptions(
  o: PerMessageDeflateOptions | boolean | undefined,
): PerMessageDeflateOptions | false {
  if (o === undefined || o === false) return false;
  return o === true ? {} : o;
}

function checkPositive(name: string, v: number | undefined): void {
  if (v !== undefined && (!Number.isSafeInteger(v) || v < 1)) {
    throw new InvalidOptionError(`unsupported ${name}: ${String(v)}, use a positive integer`);
  }
}

/** Counts open sockets across upgrade hooks (maxConnections). */
interface UpgradeState {
  open: number;
  accepting: boolean;
}

/**
 * An HTTP/2 extended-CONNECT stream (RFC 8441) as the HTTP/2 server hands it over: answer
 * with `respond`, then the WebSocket runs on `connection`.
 */
export interface ConnectTunnel {
  respond(status: number, headers?: Record<string, string>): void;
  readonly connection: StreamConnection;
}

type UpgradeHook = (req: HttpRequest, conn: StreamConnection, head: Uint8Array) => void;
type ConnectHook = (req: HttpRequest, tunnel: ConnectTunnel) => void;

function makeUpgrade(
  options: WebSocketServerOptions,
  onConnection: (ws: WebSocket, req: HttpRequest) => void,
  shouldHandle: ((req: HttpRequest) => boolean) | undefined,
  state: UpgradeState,
): { upgrade: UpgradeHook; connect: ConnectHook } {
  checkPositive('maxConnections', options.maxConnections);
  checkPositive('handshakeTimeoutMs', options.handshakeTimeoutMs);
  checkTextAs(options.textAs);
  const idleTimeoutMs = options.idleTimeoutMs ?? 0;
  if (!Number.isInteger(idleTimeoutMs) || idleTimeoutMs < 0 || idleTimeoutMs > 2_147_483_647) {
    throw new InvalidOptionError(
      `idleTimeoutMs must be an integer in [0, 2147483647], got ${String(options.idleTimeoutMs)}`,
    );
  }
  const maxConnections = options.maxConnections ?? 10_000;
  const graceMs = options.handshakeTimeoutMs ?? 10_000;
  const pmd = deflateOptions(options.perMessageDeflate);
  const observer = options.observer ?? noopObserver;
  const socketOptions: WebSocketSocketOptions = {
    // Resolved (validated, frozen) once here: every connection then shares the object.
    ...(options.limits !== undefined ? { limits: resolveWebSocketLimits(options.limits) } : {}),
    ...(options.highWaterMark !== undefined ? { highWaterMark: options.highWaterMark } : {}),
    ...(options.pingIntervalMs !== undefined ? { pingIntervalMs: options.pingIntervalMs } : {}),
    ...(options.pongTimeoutMs !== undefined ? { pongTimeoutMs: options.pongTimeoutMs } : {}),
    ...(options.closeTimeoutMs !== undefined ? { closeTimeoutMs: options.closeTimeoutMs } : {}),
    ...(options.maxOutgoingFrameSize !== undefined
      ? { maxOutgoingFrameSize: options.maxOutgoingFrameSize }
      : {}),
    ...(options.maxQueuedMessages !== undefined
      ? { maxQueuedMessages: options.maxQueuedMessages }
      : {}),
    ...(options.maxQueuedBytes !== undefined ? { maxQueuedBytes: options.maxQueuedBytes } : {}),
    ...(options.deflateSweepIntervalMs !== undefined
      ? { deflateSweepIntervalMs: options.deflateSweepIntervalMs }
      : {}),
    ...(options.textAs !== undefined ? { textAs: options.textAs } : {}),
    observer,
  };
  // One listener for every connection (a closure per connection stays on each idle one).
  const onClose = (): void => {
    state.open--;
  };
  /** Validates, then answers through `reply`; returns the socket or undefined. */
  const handshake = (
    req: HttpRequest,
    conn: StreamConnection,
    head: Uint8Array,
    tunnel: ConnectTunnel | undefined,
  ): void => {
    const deny = (status: number, message: string, headers: HeaderList | undefined): void => {
      if (tunnel === undefined) {
        refuse(conn, status, message, headers, graceMs);
        return;
      }
      const fields: Record<string, string> = {};
      if (headers !== undefined) for (const [k, v] of headers) fields[k.toLowerCase()] = v;
      tunnel.respond(status, fields);
    };
    if (shouldHandle !== undefined && !shouldHandle(req)) {
      deny(404, 'Not Found', undefined);
      return;
    }
    if (!state.accepting || state.open >= maxConnections) {
      observer.error('websocket', 'GN_ERR_WS_TOO_MANY_CONNECTIONS');
      deny(503, 'Too many WebSocket connections', undefined);
      return;
    }
    const result = validateUpgradeRequest(
      {
        method: req.method,
        httpVersion:
          req.protocol === 'h2' ? '2' : req.protocol === 'h3' ? '3' : req.protocol.slice(5),
        headers: req.headers,
        extendedConnect: tunnel !== undefined,
      },
      {
        ...(options.protocols !== undefined ? { protocols: options.protocols } : {}),
        ...(options.checkOrigin !== undefined ? { checkOrigin: options.checkOrigin } : {}),
        extensions: pmd,
      },
    );
    if (!result.ok) {
      observer.error('websocket', result.error.code);
      deny(result.status, result.message, result.headers);
      return;
    }
    if (!conn.writable) {
      conn.destroy();
      return;
    }
    const deflate =
      result.deflateParams !== undefined && pmd !== false
        ? new PerMessageDeflate('server', result.deflateParams, pmd)
        : undefined;
    // Also drops the per-connection timer the transport kept for its idle timeout.
    conn.setIdleTimeout(idleTimeoutMs);
    const ws = new WebSocket({
      ...socketOptions,
      role: 'server',
      conn,
      head,
      protocol: result.protocol ?? '',
      extensions: result.extensions ?? '',
      ...(deflate !== undefined ? { deflate } : {}),
    });
    // The socket writes nothing before the next tick, so the 101 (or 200) goes first.
    if (tunnel === undefined) {
      writeHead(conn, 101, 'Switching Protocols', result.responseHeaders, '');
    } else {
      const fields: Record<string, string> = {};
      for (const [k, v] of result.responseHeaders) fields[k.toLowerCase()] = v;
      tunnel.respond(200, fields);
    }
    state.open++;
    // An event listener rather than `closed.then`: no promise per connection.
    ws.on('close', onClose);
    onConnection(ws, req);
  };
  return {
    upgrade: (req, conn, head) => handshake(req, conn, head, undefined),
    connect: (req, tunnel) => {
      if (req.locals[':protocol'] !== 'websocket') {
        tunnel.respond(501);
        return;
      }
      handshake(req, tunnel.connection, new Uint8Array(0), tunnel);
    },
  };
}

/**
 * The `onUpgrade` hook for `listenHttp1` / `Http1ServerOptions`: accepts WebSocket
 * handshakes that pass `shouldHandle` (others are answered 404) and calls `onConnection`.
 */
export function createWebSocketUpgrade(
  options: WebSocketServerOptions,
  onConnection: (ws: WebSocket, req: HttpRequest) => void,
  shouldHandle?: (req: HttpRequest) => boolean,
): NonNullable<Http1ServerOptions['onUpgrade']> {
  return makeUpgrade(options, onConnection, shouldHandle ?? options.shouldHandle, {
    open: 0,
    accepting: true,
  }).upgrade;
}

/**
 * A WebSocket server: pass `server.upgrade` as `onUpgrade` to `listenHttp1`. Tracks its
 * clients, broadcasts, and closes them all (1001) on shutdown through `drainable`.
 */
export class WebSocketServer {
  readonly #clients = new Set<WebSocket>();
  readonly #state: UpgradeState = { open: 0, accepting: true };
  /** The upgrade hook for `listenHttp1({ onUpgrade })`. */
  readonly upgrade: NonNullable<Http1ServerOptions['onUpgrade']>;
  /** The extended CONNECT hook for HTTP/2 (`http2: { onConnect }`, RFC 8441). */
  readonly connect: ConnectHook;

  constructor(
    options: WebSocketServerOptions,
    onConnection: (ws: WebSocket, req: HttpRequest) => void,
  ) {
    // Shared by every client: EventEmitter calls it with the closing WebSocket as `this`.
    const clients = this.#clients;
    const forget = function (this: WebSocket): void {
      clients.delete(this);
    };
    const hooks = makeUpgrade(
      options,
      (ws, req) => {
        clients.add(ws);
        ws.on('close', forget);
        onConnection(ws, req);
      },
      options.shouldHandle,
      this.#state,
    );
    this.upgrade = hooks.upgrade;
    this.connect = hooks.connect;
  }

  /** Open (and closing) WebSockets. */
  get clients(): ReadonlySet<WebSocket> {
    return this.#clients;
  }

  /** Send to every open client; see `broadcast`. Returns how many got it. */
  broadcast(data: string | Uint8Array, options?: BroadcastOptions): number {
    return broadcast(this.#clients, data, options);
  }

  /**
   * Refuse new handshakes (503), close every client with `code` (1001 Going Away) and
   * resolve once all are closed (each is bounded by its close timeout).
   */
  async close(code: number = CloseCode.GOING_AWAY, reason = ''): Promise<void> {
    this.#state.accepting = false;
    const all = [...this.#clients];
    for (const ws of all) ws.close(code, reason);
    await Promise.all(all.map((ws) => ws.closed));
  }

  /** Destroy every client's transport now. */
  terminate(): void {
    this.#state.accepting = false;
    for (const ws of this.#clients) ws.terminate();
  }

  /** For the ShutdownManager: stop accepting, close with 1001, terminate at the deadline. */
  get drainable(): Drainable {
    return {
      name: 'websocket',
      stopAccepting: () => {
        this.#state.accepting = false;
      },
      drain: () => this.close(),
      destroy: () => this.terminate(),
    };
  }
}
