/**
 * TCP stream transport over node:net (DESIGN §3): `listenTcp` and `connectTcp` hand out
 * `StreamConnection`s (see socket-connection.ts for their semantics).
 *
 * Sockets are opened with `allowHalfOpen` so that `end()` is a true half-close
 * (RFC 9293 §3.6: a side that sent FIN can still receive), and with Nagle disabled by
 * default (`noDelay`), as protocol stacks batch writes themselves (`writev`, cork).
 * The flip side: when the peer ends, the connection stays open for writing until the
 * application calls `end()`/`close()` (or the idle timeout fires), so handle `end`.
 */
import { EventEmitter } from 'node:events';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { AbortError, GhostnetError, InvalidOptionError } from '../errors.js';
import { noopObserver, type Observer } from '../monitoring/observer.js';
import { BindError, ConnectError, ConnectTimeoutError, TlsError } from './errors.js';
import { SocketConnection, checkMs, checkSize, toSocketAddress } from './socket-connection.js';
import type { SocketAddress, StreamConnection, StreamServer, StreamServerEvents } from './types.js';

/** Default cap on live connections per server. */
export const DEFAULT_MAX_CONNECTIONS = 10_000;
/** Default idle timeout applied to each connection a server accepts. */
export const DEFAULT_SERVER_IDLE_TIMEOUT_MS = 300_000;
/** Default listen backlog (node's own default). */
export const DEFAULT_BACKLOG = 511;
/** Default connect timeout for clients. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export interface TcpServerOptions {
  /**
   * Address to bind. Use '::' or '0.0.0.0' to listen on every interface.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * Port to bind; 0 lets the OS choose (read it back from `server.address.port`).
   * @default 0
   */
  port?: number;
  /**
   * Length of the kernel's queue of pending connections.
   * @default 511
   */
  backlog?: number;
  /**
   * Bytes buffered per connection above which `write` returns false.
   * @default 65536
   */
  highWaterMark?: number;
  /**
   * Idle timeout (ms without traffic in either direction) applied to every accepted
   * connection, so an abandoned peer cannot hold a slot forever. 0 disables it; protocol
   * layers usually tighten it with `conn.setIdleTimeout`.
   * @default 300000
   */
  idleTimeoutMs?: number;
  /**
   * Most simultaneous connections (including TLS connections still in their handshake).
   * Connections beyond it are accepted by the kernel and closed at once.
   * @default 10000
   */
  maxConnections?: number;
  /**
   * Disable Nagle's algorithm on accepted sockets.
   * @default true
   */
  noDelay?: boolean;
  /**
   * When `host` is '::', do not also accept IPv4 connections.
   * @default false
   */
  ipv6Only?: boolean;
  /**
   * Metrics sink.
   * @default noopObserver
   */
  observer?: Observer;
}

export interface TcpConnectOptions {
  /** Host name or IP literal to connect to. */
  host: string;
  /** Port to connect to (1–65535). */
  port: number;
  /**
   * Bytes buffered above which `write` returns false.
   * @default 65536
   */
  highWaterMark?: number;
  /**
   * Idle timeout in ms; 0 disables it (the application or pool owns client lifetimes).
   * @default 0
   */
  idleTimeoutMs?: number;
  /**
   * Deadline for the connection to be established (and, for TLS, for the handshake).
   * @default 10000
   */
  connectTimeoutMs?: number;
  /**
   * Disable Nagle's algorithm.
   * @default true
   */
  noDelay?: boolean;
  /**
   * Aborts the connect attempt (rejects with AbortError). It has no effect once the
   * connection is established.
   * @default undefined
   */
  signal?: AbortSignal;
  /**
   * Metrics sink.
   * @default noopObserver
   */
  observer?: Observer;
}

/** Validate the options shared by TCP and TLS servers. */
export function checkServerOptions(options: TcpServerOptions): void {
  if (options.host !== undefined && (typeof options.host !== 'string' || options.host === '')) {
    throw new InvalidOptionError('host must be a non-empty string');
  }
  if (
    options.port !== undefined &&
    (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535)
  ) {
    throw new InvalidOptionError(
      `port must be an integer in [0, 65535], got ${String(options.port)}`,
    );
  }
  checkSize('backlog', options.backlog, 65535);
  checkSize('highWaterMark', options.highWaterMark);
  checkSize('maxConnections', options.maxConnections, 1_000_000);
  checkMs('idleTimeoutMs', options.idleTimeoutMs);
}

/** Validate the options shared by TCP and TLS clients. */
export function checkConnectOptions(options: TcpConnectOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('connect options are required: { host, port }');
  }
  if (typeof options.host !== 'string' || options.host === '') {
    throw new InvalidOptionError('host must be a non-empty string');
  }
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
    throw new InvalidOptionError(
      `port must be an integer in [1, 65535], got ${String(options.port)}`,
    );
  }
  checkSize('highWaterMark', options.highWaterMark);
  checkMs('idleTimeoutMs', options.idleTimeoutMs);
  checkMs('connectTimeoutMs', options.connectTimeoutMs, false);
}

/** Per-server settings handed to accepted connections. */
interface ServerConnectionSettings {
  readonly kind: 'tcp' | 'tls';
  readonly highWaterMark: number | undefined;
  readonly idleTimeoutMs: number;
  readonly observer: Observer;
}

/**
 * The StreamServer over a node:net (or node:tls) server. TcpServer and TlsServer extend it;
 * use `listenTcp`/`listenTls` rather than constructing it.
 */
export abstract class NetStreamServer
  extends EventEmitter<StreamServerEvents>
  implements StreamServer
{
  abstract readonly kind: 'tcp' | 'tls';
  readonly #server: Server;
  readonly #settings: ServerConnectionSettings;
  readonly #connections = new Set<StreamConnection>();
  /** Every accepted socket, including TLS sockets still in their handshake. */
  readonly #sockets = new Set<Socket>();
  readonly #closed: Promise<void>;
  #address: SocketAddress = { address: '', port: 0, family: 'IPv4' };
  #destroying: Promise<void> | undefined;
  #bound = false;
  readonly #onConnectionClose: (this: StreamConnection) => void;

  protected constructor(server: Server, settings: ServerConnectionSettings) {
    super();
    this.#server = server;
    this.#settings = settings;
    this.#closed = new Promise((resolve) => server.once('close', resolve));
    // Listeners shared by every connection (`this` is the emitter): a closure per
    // connection would stay on every idle one.
    const sockets = this.#sockets;
    const onSocketClose = function (this: Socket): void {
      sockets.delete(this);
    };
    const connections = this.#connections;
    this.#onConnectionClose = function (this: StreamConnection): void {
      connections.delete(this);
    };
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', onSocketClose);
      if (this.#destroying !== undefined) socket.destroy();
    });
    server.on('drop', () => settings.observer.error(settings.kind, 'GN_ERR_MAX_CONNECTIONS'));
    server.on('error', (err: Error) => {
      settings.observer.error(settings.kind, 'GN_ERR_SERVER');
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
    server.on('close', () => this.emit('close'));
  }

  /** The underlying node server (for tls.ts). */
  protected get server(): Server {
    return this.#server;
  }

  get address(): SocketAddress {
    return this.#address;
  }

  get connections(): ReadonlySet<StreamConnection> {
    return this.#connections;
  }

  get listening(): boolean {
    return this.#server.listening;
  }

  /** Bind; resolves once listening, rejects with BindError. */
  protected listen(options: TcpServerOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        this.#server.off('listening', onListening);
        const code = (err as { code?: unknown }).code;
        reject(
          new BindError(
            `listen on ${options.host ?? '127.0.0.1'}:${options.port ?? 0} failed: ${typeof code === 'string' ? code : err.message}`,
            { cause: err },
          ),
        );
      };
      const onListening = (): void => {
        this.#server.off('error', onError);
        this.#bound = true;
        const a = this.#server.address();
        if (a !== null && typeof a === 'object') {
          this.#address = toSocketAddress(a.address, a.port, a.family) ?? this.#address;
        }
        resolve();
      };
      this.#server.once('error', onError);
      this.#server.once('listening', onListening);
      this.#server.listen({
        host: options.host ?? '127.0.0.1',
        port: options.port ?? 0,
        backlog: options.backlog ?? DEFAULT_BACKLOG,
        ipv6Only: options.ipv6Only ?? false,
      });
    });
  }

  /** Wrap an accepted (and, for TLS, handshaken) socket and hand it out. */
  protected adopt(socket: Socket, servername?: string): void {
    if (this.#destroying !== undefined) {
      socket.destroy();
      return;
    }
    let conn: SocketConnection;
    try {
      conn = new SocketConnection(socket, {
        kind: this.#settings.kind,
        highWaterMark: this.#settings.highWaterMark,
        idleTimeoutMs: this.#settings.idleTimeoutMs,
        observer: this.#settings.observer,
        ...(servername !== undefined ? { servername } : {}),
      });
    } catch (err) {
      socket.destroy();
      this.emitClientError(err, socket);
      return;
    }
    if (conn.closed) return;
    this.#connections.add(conn);
    conn.on('close', this.#onConnectionClose);
    this.emit('connection', conn);
  }

  /** Report a connection that failed before it was handed out. Never throws. */
  protected emitClientError(err: unknown, socket: Socket | undefined): void {
    const error =
      err instanceof Error
        ? err
        : new GhostnetError('GN_ERR_CLIENT', `client error: ${String(err)}`);
    const code = error instanceof GhostnetError ? error.code : 'GN_ERR_CLIENT';
    this.#settings.observer.error(this.#settings.kind, code);
    const remote =
      socket === undefined
        ? undefined
        : toSocketAddress(socket.remoteAddress, socket.remotePort, socket.remoteFamily);
    if (this.listenerCount('clientError') > 0) this.emit('clientError', error, remote);
  }

  stopAccepting(): Promise<void> {
    if (this.#server.listening) this.#server.close();
    // The listening handle is closed synchronously; let the loop settle once.
    return new Promise((resolve) => setImmediate(resolve));
  }

  destroy(): Promise<void> {
    if (this.#destroying !== undefined) return this.#destroying;
    this.#destroying = (async () => {
      await this.stopAccepting();
      for (const conn of this.#connections) conn.destroy();
      for (const socket of this.#sockets) socket.destroy();
      // node emits 'close' on the server once it is unbound and every socket is gone
      // (never, for a server that failed to bind).
      if (this.#bound) await this.#closed;
    })();
    return this.#destroying;
  }
}

/** A listening TCP server. */
export class TcpServer extends NetStreamServer {
  readonly kind = 'tcp' as const;

  /** Use `listenTcp`. */
  private constructor(server: Server, options: TcpServerOptions) {
    super(server, {
      kind: 'tcp',
      highWaterMark: options.highWaterMark,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_SERVER_IDLE_TIMEOUT_MS,
      observer: options.observer ?? noopObserver,
    });
    server.on('connection', (socket: Socket) => this.adopt(socket));
  }

  /** @internal Construct and bind; use `listenTcp`. */
  static async open(
    options: TcpServerOptions,
    onConnection?: (conn: StreamConnection) => void,
  ): Promise<TcpServer> {
    checkServerOptions(options);
    const server = createServer({
      allowHalfOpen: true,
      noDelay: options.noDelay ?? true,
      ...(options.highWaterMark !== undefined ? { highWaterMark: options.highWaterMark } : {}),
    });
    server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    const tcp = new TcpServer(server, options);
    if (onConnection !== undefined) tcp.on('connection', onConnection);
    await tcp.listen(options);
    return tcp;
  }
}

/** Listen for TCP connections; resolves once bound, rejects with BindError. */
export function listenTcp(
  options: TcpServerOptions = {},
  onConnection?: (conn: StreamConnection) => void,
): Promise<TcpServer> {
  return TcpServer.open(options, onConnection);
}

/** How `connectSocket` reaches a ready socket. */
export interface SocketDialer {
  readonly kind: 'tcp' | 'tls';
  /** Create the socket and start connecting. */
  create(): Socket;
  /** Event marking the socket ready to hand out. */
  readonly readyEvent: 'connect' | 'secureConnect';
  /** Wrap the ready socket. */
  wrap(socket: Socket): SocketConnection;
}

/**
 * Connect with a deadline and an AbortSignal, and classify failures: AbortError,
 * ConnectTimeoutError, ConnectError (TCP level) or TlsError (after TCP connected).
 */
export function connectSocket(
  options: TcpConnectOptions,
  dialer: SocketDialer,
): Promise<SocketConnection> {
  const { host, port, signal } = options;
  const observer = options.observer ?? noopObserver;
  const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  if (signal?.aborted === true) {
    return Promise.reject(new AbortError('connect aborted', { cause: signal.reason }));
  }
  return new Promise((resolve, reject) => {
    const socket = dialer.create();
    let tcpConnected = false;
    let settled = false;
    const fail = (err: GhostnetError): void => {
      if (settled) return;
      settled = true;
      cleanup();
      observer.error(dialer.kind, err.code);
      socket.destroy();
      reject(err);
    };
    const onTcpConnect = (): void => {
      tcpConnected = true;
    };
    const onError = (err: Error): void => {
      const code = (err as { code?: unknown }).code;
      const detail = typeof code === 'string' ? `${code}: ${err.message}` : err.message;
      fail(
        dialer.kind === 'tls' && tcpConnected
          ? new TlsError(`TLS handshake with ${host}:${port} failed (${detail})`, { cause: err })
          : new ConnectError(`connect to ${host}:${port} failed (${detail})`, { cause: err }),
      );
    };
    const onClose = (): void => {
      fail(
        tcpConnected && dialer.kind === 'tls'
          ? new TlsError(`${host}:${port} closed the connection during the TLS handshake`)
          : new ConnectError(`connection to ${host}:${port} closed before it was established`),
      );
    };
    const onAbort = (): void => {
      fail(new AbortError('connect aborted', { cause: signal?.reason }));
    };
    const onReady = (): void => {
      if (settled) return;
      settled = true;
      cleanup();
      try {
        resolve(dialer.wrap(socket));
      } catch (err) {
        socket.destroy();
        reject(err);
      }
    };
    const timer = setTimeout(() => fail(new ConnectTimeoutError(timeoutMs)), timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('connect', onTcpConnect);
      socket.off(dialer.readyEvent, onReady);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('connect', onTcpConnect);
    socket.once(dialer.readyEvent, onReady);
    socket.on('error', onError);
    socket.once('close', onClose);
  });
}

/**
 * Open a TCP connection. Rejects with ConnectError (`GN_ERR_CONNECT`: refused,
 * unreachable, DNS), ConnectTimeoutError or AbortError.
 */
export async function connectTcp(options: TcpConnectOptions): Promise<StreamConnection> {
  checkConnectOptions(options);
  return connectSocket(options, {
    kind: 'tcp',
    readyEvent: 'connect',
    create: () =>
      netConnect({
        host: options.host,
        port: options.port,
        allowHalfOpen: true,
        noDelay: options.noDelay ?? true,
      }),
    wrap: (socket) =>
      new SocketConnection(socket, {
        kind: 'tcp',
        highWaterMark: options.highWaterMark,
        idleTimeoutMs: options.idleTimeoutMs ?? 0,
        observer: options.observer ?? noopObserver,
      }),
  });
}
