/**
 * What every HTTP engine's server shares around its per-connection sessions: binding TCP
 * or TLS, the connection tracker, graceful close (stop accepting, ask each session to
 * wind down, wait for the tracker to drain, then unbind), destroy, and the `Drainable` the
 * shutdown manager takes. Engines subclass it and create their sessions in
 * `handleConnection`.
 */
import { ConnectionTracker } from '../../lifecycle/connection-tracker.js';
import type { Drainable } from '../../lifecycle/drainable.js';
import type { Observer } from '../../monitoring/observer.js';
import { listenTcp } from '../../transport/tcp.js';
import type { TcpServerOptions } from '../../transport/tcp.js';
import { listenTls } from '../../transport/tls.js';
import type { TlsServerOptions } from '../../transport/tls.js';
import type { SocketAddress, StreamConnection, StreamServer } from '../../transport/types.js';

/** A session winds down on `shutdown()` (finish in-flight work, then close). */
export interface ServerSession {
  shutdown(): void;
}

export interface ListenOptions {
  host?: string;
  port?: number;
  backlog?: number;
  maxConnections?: number;
  highWaterMark?: number;
  observer?: Observer;
  /** TLS settings (the TLS part of TlsServerOptions); plain TCP without them. */
  tls?: Omit<TlsServerOptions, keyof TcpServerOptions>;
}

export abstract class SessionServer<S extends ServerSession> {
  readonly tracker = new ConnectionTracker<StreamConnection>();
  readonly sessions = new Set<S>();
  scheme: 'http' | 'https' = 'http';
  #transport: StreamServer | undefined = undefined;
  #closing: Promise<void> | undefined = undefined;
  readonly #name: string;

  constructor(name: string) {
    this.#name = name;
  }

  /** Serve a connection from any transport; `initial` are bytes already read from it. */
  abstract handleConnection: (conn: StreamConnection, initial?: Uint8Array) => void;

  /** The bound address (after `listen`). */
  get address(): SocketAddress {
    if (this.#transport === undefined) return { address: '', port: 0, family: 'IPv4' };
    return this.#transport.address;
  }

  /** Open connections. */
  get connections(): number {
    return this.sessions.size;
  }

  /** `close()` or `destroy()` was called: new connections are refused. */
  get closing(): boolean {
    return this.#closing !== undefined;
  }

  /** Tracks `conn`; false when the server is closing (the connection is destroyed). */
  protected admit(conn: StreamConnection): boolean {
    if (this.#closing !== undefined) {
      conn.destroy();
      return false;
    }
    this.tracker.track(conn);
    return !conn.closed;
  }

  /** Binds TCP, or TLS with `options.tls` (`alpnProtocols` default to `alpn`). */
  protected async bind(options: ListenOptions, alpn?: string[]): Promise<void> {
    const tcp: TcpServerOptions = {
      ...(options.host !== undefined ? { host: options.host } : {}),
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.backlog !== undefined ? { backlog: options.backlog } : {}),
      ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
      ...(options.highWaterMark !== undefined ? { highWaterMark: options.highWaterMark } : {}),
      ...(options.observer !== undefined ? { observer: options.observer } : {}),
    };
    const accept = (conn: StreamConnection): void => this.handleConnection(conn);
    if (options.tls !== undefined) {
      this.scheme = 'https';
      this.#transport = await listenTls(
        { ...tcp, ...(alpn !== undefined ? { alpnProtocols: alpn } : {}), ...options.tls },
        accept,
      );
    } else {
      this.#transport = await listenTcp(tcp, accept);
    }
  }

  /** Graceful close: stop accepting, wind every session down, resolve when all closed. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#transport?.stopAccepting();
      const drained = this.tracker.drain();
      for (const s of [...this.sessions]) s.shutdown();
      await drained;
      await this.#transport?.destroy();
    })();
    return this.#closing;
  }

  /** Tear everything down now. */
  async destroy(): Promise<void> {
    this.#closing ??= Promise.resolve();
    this.tracker.destroyAll();
    await this.#transport?.destroy();
  }

  /** For the ShutdownManager (lifecycle): stop accepting, drain, destroy on the deadline. */
  get drainable(): Drainable {
    return {
      name: this.#name,
      stopAccepting: async () => {
        await this.#transport?.stopAccepting();
      },
      drain: () => this.close(),
      destroy: () => this.destroy(),
    };
  }
}
